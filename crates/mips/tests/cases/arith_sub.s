# arith_sub: arith_sub
        .text
        .globl main
main:
        li $t0, 10
        li $t1, 25
        sub $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        subu $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        sub $t2, $t1, 5
        move $a0, $t2
        jal  pr
        subu $t2, $t1, 100000
        move $a0, $t2
        jal  pr
        neg $t3, $t1
        move $a0, $t3
        jal  pr
        negu $t3, $t0
        move $a0, $t3
        jal  pr
        li $t4, 0x80000000
        subu $t2, $t4, 1       # wraps
        move $a0, $t2
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
