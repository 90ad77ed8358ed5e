# rotate: rotate
        .text
        .globl main
main:
        li $t0, 0x80000001
        rol $t1, $t0, 1
        move $a0, $t1
        jal  pr
        ror $t1, $t0, 1
        move $a0, $t1
        jal  pr
        rol $t1, $t0, 4
        move $a0, $t1
        jal  pr
        ror $t1, $t0, 4
        move $a0, $t1
        jal  pr
        li $t2, 8
        rol $t1, $t0, $t2
        move $a0, $t1
        jal  pr
        ror $t1, $t0, $t2
        move $a0, $t1
        jal  pr
        rol $t1, $t0, 0
        move $a0, $t1
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
