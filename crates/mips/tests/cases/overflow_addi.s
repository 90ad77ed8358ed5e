# overflow_addi: overflow_addi
        .text
        .globl main
main:
        li $t0, 0x7ffffff0
        addi $t1, $t0, 15
        move $a0, $t1
        jal  pr
        addi $t1, $t0, 16      # FAULT: arithmetic overflow
        move $a0, $t1
        jal  pr
        li $v0, 10
        syscall

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
