# data_alignment: data_alignment
        .data
a1: .byte 1
a2: .word 2
a3: .byte 3
a4:
    .half 4
a5: .byte 5
    .align 3
a6: .byte 6
a7: .asciiz "x"
    .space 3
a8: .align 2
    .word 7
        .text
        .globl main
main:
        la $a0, a1
        jal pr
        la $a0, a2
        jal pr
        la $a0, a3
        jal pr
        la $a0, a4
        jal pr
        la $a0, a5
        jal pr
        la $a0, a6
        jal pr
        la $a0, a7
        jal pr
        la $a0, a8
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
