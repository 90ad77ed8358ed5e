# bad_store: bad_store
        .text
        .globl main
main:
        li $t0, 42
        move $a0, $t0
        jal  pr
        li $t1, 16
        sw $t0, 0($t1)           # FAULT: address 0x10 is not mapped
        li $v0, 10
        syscall

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
