# overflow_neg: overflow_neg
        .text
        .globl main
main:
        li $t0, -5
        neg $t1, $t0
        move $a0, $t1
        jal  pr
        li $t0, 0x80000000
        neg $t1, $t0           # FAULT: -(-2^31) overflows
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
