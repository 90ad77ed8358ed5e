# arith_add: arith_add
        .text
        .globl main
main:
        li $t0, 7
        li $t1, -3
        add $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        addu $t2, $t1, $t1
        move $a0, $t2
        jal  pr
        addi $t2, $t0, -100
        move $a0, $t2
        jal  pr
        addiu $t2, $t0, 32767
        move $a0, $t2
        jal  pr
        li $t3, 0x7fffffff
        addu $t2, $t3, $t3     # wraps, no trap
        move $a0, $t2
        jal  pr
        addiu $t2, $t3, 1      # wraps, no trap
        move $a0, $t2
        jal  pr
        add $t2, $t0, 5        # add with immediate -> addi
        move $a0, $t2
        jal  pr
        add $t2, $t0, 100000   # large immediate through $at
        move $a0, $t2
        jal  pr
        addu $t2, $t0, -8
        move $a0, $t2
        jal  pr
        addi $t0, 10           # two-operand immediate form
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
