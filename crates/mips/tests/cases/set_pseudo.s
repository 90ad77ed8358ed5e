# set_pseudo: set_pseudo
        .text
        .globl main
main:
        li $t0, 5
        li $t1, 7
        li $t2, -7
        seq $t3, $t0, $t1
        move $a0, $t3
        jal  pr
        seq $t3, $t0, 5
        move $a0, $t3
        jal  pr
        sne $t3, $t0, $t1
        move $a0, $t3
        jal  pr
        sne $t3, $t0, 5
        move $a0, $t3
        jal  pr
        sge $t3, $t0, $t1
        move $a0, $t3
        jal  pr
        sge $t3, $t1, $t0
        move $a0, $t3
        jal  pr
        sge $t3, $t0, $t0
        move $a0, $t3
        jal  pr
        sgeu $t3, $t2, $t0
        move $a0, $t3
        jal  pr
        sgt $t3, $t1, $t0
        move $a0, $t3
        jal  pr
        sgt $t3, $t2, $t0
        move $a0, $t3
        jal  pr
        sgt $t3, $t0, 4
        move $a0, $t3
        jal  pr
        sgtu $t3, $t2, $t0
        move $a0, $t3
        jal  pr
        sle $t3, $t0, $t1
        move $a0, $t3
        jal  pr
        sle $t3, $t0, $t0
        move $a0, $t3
        jal  pr
        sle $t3, $t1, $t0
        move $a0, $t3
        jal  pr
        sleu $t3, $t2, $t0
        move $a0, $t3
        jal  pr
        sle $t3, $t0, 5
        move $a0, $t3
        jal  pr
        sgeu $t3, $t0, 6
        move $a0, $t3
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
