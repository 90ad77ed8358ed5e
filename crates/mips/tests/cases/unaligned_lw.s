# unaligned_lw: unaligned_lw
        .data
w: .word 5, 6
        .text
        .globl main
main:
        la $t0, w
        lw $t1, 0($t0)
        move $a0, $t1
        jal  pr
        lw $t1, 2($t0)           # FAULT: unaligned word load
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
