# sbrk: sbrk
        .text
        .globl main
main:
        li $v0, 9
        li $a0, 0
        syscall
        move $s0, $v0
        move $a0, $s0
        jal  pr
        li $v0, 9
        li $a0, 5
        syscall
        move $a0, $v0
        jal  pr
        li $v0, 9
        li $a0, 1
        syscall
        move $a0, $v0
        jal  pr
        li $v0, 9
        li $a0, 0
        syscall
        move $a0, $v0
        jal  pr
        li $v0, 9
        li $a0, 4000
        syscall
        move $s1, $v0
        li $t0, 0
        li $t1, 1000
fill: sll $t2, $t0, 2
        add $t2, $t2, $s1
        sw $t0, 0($t2)
        addi $t0, $t0, 1
        blt $t0, $t1, fill
        lw $a0, 3996($s1)
        jal pr
        li $v0, 9
        li $a0, 0
        syscall
        sub $a0, $v0, $s0
        jal pr
        li $v0, 10
        syscall

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
