# return_from_main: return_from_main
        .data
m: .asciiz "returning from main\n"
        .text
        .globl main
main:
        li $v0, 4
        la $a0, m
        syscall
        jr $ra
