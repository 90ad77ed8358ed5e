# lwl_lwr: lwl_lwr
        .data
d: .word 0x04030201, 0x08070605, 0, 0
        .text
        .globl main
main:
        la $t0, d
        li $t1, 0
        lwl $t1, 5($t0)
        move $a0, $t1
        jal  pr
        li $t1, -1
        lwr $t1, 5($t0)
        move $a0, $t1
        jal  pr
        li $t1, 0
        lwl $t1, 3($t0)
        move $a0, $t1
        jal  pr
        lwr $t1, 0($t0)
        move $a0, $t1
        jal  pr
        li $t2, 0xaabbccdd
        swl $t2, 9($t0)
        swr $t2, 14($t0)
        lw $t1, 8($t0)
        move $a0, $t1
        jal  pr
        lw $t1, 12($t0)
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
