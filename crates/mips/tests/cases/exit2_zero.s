# exit2_zero: exit2_zero
        .text
        .globl main
main:
        li $v0, 17
        li $a0, 0
        syscall
