# loads: loads
        .data
bytes:  .byte -1, 127, 'z', -128
halves: .half -2, 0x7fff
words:  .word -100000, 0x7fffffff, 42
        .text
        .globl main
main:
        la $t0, bytes
        lb $t1, 0($t0)
        move $a0, $t1
        jal  pr
        lbu $t1, 0($t0)
        move $a0, $t1
        jal  pr
        lb $t1, 1($t0)
        move $a0, $t1
        jal  pr
        lb $t1, 3($t0)
        move $a0, $t1
        jal  pr
        la $t0, halves
        lh $t1, 0($t0)
        move $a0, $t1
        jal  pr
        lhu $t1, 0($t0)
        move $a0, $t1
        jal  pr
        lh $t1, 2($t0)
        move $a0, $t1
        jal  pr
        la $t0, words
        lw $t1, 0($t0)
        move $a0, $t1
        jal  pr
        lw $t1, 4($t0)
        move $a0, $t1
        jal  pr
        lw $t1, words+8
        move $a0, $t1
        jal  pr
        li $t2, 4
        lw $t1, words($t2)
        move $a0, $t1
        jal  pr
        lb $t1, bytes+2
        move $a0, $t1
        jal  pr
        lhu $t1, halves+2
        move $a0, $t1
        jal  pr
        addi $t0, $t0, 8
        lw $t1, -4($t0)
        move $a0, $t1
        jal  pr
        lw $t1, ($t0)
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
