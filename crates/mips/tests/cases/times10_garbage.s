# times10_garbage: times10_garbage
        .data
prompt: .asciiz "Please, type a number: "
result: .asciiz "The result is "
nl:     .asciiz "\n"
        .text
        .globl main
main:
# print_string("Please, type a number: ")
        li $v0, 4
        la $a0, prompt
        syscall
        li $v0, 5
        syscall
        move $t0, $v0
        mul $t1, $t0, 10
        li $v0, 4
        la $a0, result
        syscall
        li $v0, 1
        move $a0, $t1
        syscall
        li $v0, 4
        la $a0, nl
        syscall
        li $v0, 10
        syscall
