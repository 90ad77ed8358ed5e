# unaligned_lh: unaligned_lh
        .data
w: .word 0x00070000
        .text
        .globl main
main:
        la $t0, w
        lh $t1, 2($t0)
        move $a0, $t1
        jal  pr
        lhu $t1, 1($t0)          # FAULT
        li $v0, 10
        syscall

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
