# div_machine: div_machine
        .text
        .globl main
main:
        li $t0, -17
        li $t1, 5
        div $t0, $t1
        mflo $t2
        move $a0, $t2
        jal  pr
        mfhi $t2
        move $a0, $t2
        jal  pr
        li $t1, -5
        div $t0, $t1
        mflo $t2
        move $a0, $t2
        jal  pr
        mfhi $t2
        move $a0, $t2
        jal  pr
        divu $t0, $t1
        mflo $t2
        move $a0, $t2
        jal  pr
        mfhi $t2
        move $a0, $t2
        jal  pr
        li $t3, 0
        li $t4, 99
        mtlo $t4
        div $t0, $t3           # machine div by zero: no trap, hi/lo unchanged
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
