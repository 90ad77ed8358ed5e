# shifts: shifts
        .text
        .globl main
main:
        li $t0, 0x80000011
        sll $t1, $t0, 4
        move $a0, $t1
        jal  pr
        srl $t1, $t0, 4
        move $a0, $t1
        jal  pr
        sra $t1, $t0, 4
        move $a0, $t1
        jal  pr
        sll $t1, $t0, 0
        move $a0, $t1
        jal  pr
        sra $t1, $t0, 31
        move $a0, $t1
        jal  pr
        li $t2, 36               # shift amounts use the low 5 bits
        sllv $t1, $t0, $t2
        move $a0, $t1
        jal  pr
        srlv $t1, $t0, $t2
        move $a0, $t1
        jal  pr
        srav $t1, $t0, $t2
        move $a0, $t1
        jal  pr
        li $t2, 3
        sll $t1, $t0, $t2        # register shift amount -> sllv
        move $a0, $t1
        jal  pr
        srl $t1, $t0, $t2
        move $a0, $t1
        jal  pr
        sra $t1, $t0, $t2
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
