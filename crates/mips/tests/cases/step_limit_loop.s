# step_limit_loop: step_limit_loop
        .data
m: .asciiz "spinning\n"
        .text
        .globl main
main:
# STEP_LIMIT
        li $v0, 4
        la $a0, m
        syscall
        li $t0, 0
spin: addi $t0, $t0, 1  # LOOP
        blt $t0, 1000, spin
        j spin
