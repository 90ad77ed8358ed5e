# div_pseudo: div_pseudo
        .text
        .globl main
main:
        li $t0, 100
        li $t1, -7
        div $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        rem $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        divu $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        remu $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        div $t2, $t0, 9
        move $a0, $t2
        jal  pr
        rem $t2, $t0, 9
        move $a0, $t2
        jal  pr
        divu $t2, $t1, 16
        move $a0, $t2
        jal  pr
        remu $t2, $t1, 16
        move $a0, $t2
        jal  pr
        div $t2, $t0, 100000
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
