# set_less: set_less
        .text
        .globl main
main:
        li $t0, -1
        li $t1, 1
        slt $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        sltu $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        slti $t2, $t0, 0
        move $a0, $t2
        jal  pr
        sltiu $t2, $t0, -1
        move $a0, $t2
        jal  pr
        sltiu $t2, $t1, 5
        move $a0, $t2
        jal  pr
        slt $t2, $t1, 1
        move $a0, $t2
        jal  pr
        sltu $t2, $t1, 2
        move $a0, $t2
        jal  pr
        slt $t2, $t0, 100000
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
