# mul_pseudo: mul_pseudo
        .text
        .globl main
main:
        li $t0, -12
        li $t1, 34
        mul $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        mul $t2, $t0, 5
        move $a0, $t2
        jal  pr
        mul $t2, $t0, 100000
        move $a0, $t2
        jal  pr
        li $t3, 0x10000
        mul $t2, $t3, $t3      # low 32 bits only
        move $a0, $t2
        jal  pr
        mulo $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        mulou $t2, $t1, $t1
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
