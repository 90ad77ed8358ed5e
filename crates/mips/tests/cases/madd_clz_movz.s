# madd_clz_movz: madd_clz_movz
        .text
        .globl main
main:
        li $t0, 3
        li $t1, 4
        mult $t0, $t1
        li $t2, 5
        madd $t2, $t2
        mflo $a0
        jal pr
        msub $t0, $t0
        mflo $a0
        jal pr
        li $t3, -1
        maddu $t3, $t3
        mfhi $a0
        jal pr
        mflo $a0
        jal pr
        msubu $t0, $t1
        mflo $a0
        jal pr
        li $t0, 0x00f00000
        clz $a0, $t0
        jal pr
        li $t0, 0xfff00000
        clo $a0, $t0
        jal pr
        clz $a0, $zero
        jal pr
        li $t0, 7
        li $t1, 8
        li $t5, 0
        movz $t0, $t1, $t5
        move $a0, $t0
        jal  pr
        li $t5, 1
        li $t1, 9
        movz $t0, $t1, $t5
        move $a0, $t0
        jal  pr
        movn $t0, $t1, $t5
        move $a0, $t0
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
