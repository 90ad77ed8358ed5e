# fall_off_end: fall_off_end
        .data
m: .asciiz "no exit here\n"
        .text
        .globl main
main:
        li $v0, 4
        la $a0, m
        syscall
        li $t0, 1                # FAULT
