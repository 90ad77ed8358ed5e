# branch_pseudo: branch_pseudo
        .text
        .globl main
main:
        li $s0, 0
        li $t0, 5
        li $t1, 7
        li $t2, -1
        b l1
        addi $s0, $s0, 1000
l1: beqz $zero, l2
        addi $s0, $s0, 1000
l2: bnez $t0, l3
        addi $s0, $s0, 1000
l3: blt $t0, $t1, l4
        addi $s0, $s0, 1000
l4: blt $t0, 6, l5
        addi $s0, $s0, 1000
l5: ble $t0, $t0, l6
        addi $s0, $s0, 1000
l6: ble $t0, 5, l7
        addi $s0, $s0, 1000
l7: bgt $t1, $t0, l8
        addi $s0, $s0, 1000
l8: bgt $t1, 6, l9
        addi $s0, $s0, 1000
l9: bge $t0, $t0, l10
        addi $s0, $s0, 1000
l10: bge $t0, 5, l11
        addi $s0, $s0, 1000
l11: bltu $t0, $t2, l12
        addi $s0, $s0, 1000
l12: bleu $t0, $t2, l13
        addi $s0, $s0, 1000
l13: bgtu $t2, $t0, l14
        addi $s0, $s0, 1000
l14: bgeu $t2, $t2, l15
        addi $s0, $s0, 1000
l15: beq $t0, 5, l16
        addi $s0, $s0, 1000
l16: bne $t0, 100000, l17
        addi $s0, $s0, 1000
l17: blt $t0, 100000, l18
        addi $s0, $s0, 1000
l18:
# not taken ones
        blt $t1, $t0, bad
        bgt $t0, $t1, bad
        ble $t1, $t0, bad
        bge $t0, $t1, bad
        bltu $t2, $t0, bad
        bgtu $t0, $t2, bad
        beq $t0, 4, bad
        bne $t0, 5, bad
        bge $t0, 6, bad
        bgt $t0, 5, bad
        move $a0, $s0
        jal  pr
        li $v0, 10
        syscall
bad:
        li $a0, 666
        jal pr
        li $v0, 10
        syscall

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
