# unaligned_sw: unaligned_sw
        .data
w: .word 5, 6
        .text
        .globl main
main:
        la $t0, w
        sw $zero, 1($t0)         # FAULT
        li $v0, 10
        syscall

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
