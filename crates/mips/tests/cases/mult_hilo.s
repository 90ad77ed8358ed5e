# mult_hilo: mult_hilo
        .text
        .globl main
main:
        li $t0, 123456789
        li $t1, -987654
        mult $t0, $t1
        mfhi $t2
        move $a0, $t2
        jal  pr
        mflo $t2
        move $a0, $t2
        jal  pr
        multu $t0, $t1
        mfhi $t2
        move $a0, $t2
        jal  pr
        mflo $t2
        move $a0, $t2
        jal  pr
        li $t3, 77
        mthi $t3
        mfhi $t2
        move $a0, $t2
        jal  pr
        li $t3, -78
        mtlo $t3
        mflo $t2
        move $a0, $t2
        jal  pr
        li $t0, -1
        li $t1, -1
        multu $t0, $t1
        mfhi $t2
        move $a0, $t2
        jal  pr
        mflo $t2
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
