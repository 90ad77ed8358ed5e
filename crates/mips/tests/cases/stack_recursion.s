# stack_recursion: stack_recursion
        .text
        .globl main
main:
        li $a0, 20
        jal fib
        move $a0, $v0
        jal pr
        move $t0, $sp
        addi $sp, $sp, -400
        li $t1, 0
push: sll $t2, $t1, 2
        add $t2, $t2, $sp
        sw $t1, 0($t2)
        addi $t1, $t1, 1
        blt $t1, 100, push
        lw $a0, 396($sp)
        jal pr
        addi $sp, $sp, 400
        sub $a0, $t0, $sp
        jal pr
        li $v0, 10
        syscall
fib:    blt  $a0, 2, fib_base
        addi $sp, $sp, -12
        sw   $ra, 8($sp)
        sw   $a0, 4($sp)
        addi $a0, $a0, -1
        jal  fib
        sw   $v0, 0($sp)
        lw   $a0, 4($sp)
        addi $a0, $a0, -2
        jal  fib
        lw   $t0, 0($sp)
        add  $v0, $v0, $t0
        lw   $ra, 8($sp)
        addi $sp, $sp, 12
        jr   $ra
fib_base:
        move $v0, $a0
        jr   $ra

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
