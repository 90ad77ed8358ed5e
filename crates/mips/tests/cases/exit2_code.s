# exit2_code: exit2_code
        .data
m: .asciiz "exit with 42"
        .text
        .globl main
main:
        li $v0, 4
        la $a0, m
        syscall
        li $v0, 17
        li $a0, 42
        syscall
        li $v0, 4
        syscall
