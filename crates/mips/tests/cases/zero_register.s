# zero_register: zero_register
        .data
w: .word 9
        .text
        .globl main
main:
        li $zero, 5
        addi $0, $0, 7
        move $a0, $zero
        jal  pr
        add $t0, $zero, $zero
        move $a0, $t0
        jal  pr
        lw $zero, w
        move $a0, $zero
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
