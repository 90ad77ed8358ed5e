# jump_outside_text: jump_outside_text
        .text
        .globl main
main:
        li $t0, 7
        move $a0, $t0
        jal  pr
        li $t1, 0
        jr $t1                   # FAULT: jump to address 0
        li $v0, 10
        syscall

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
