# data_directives: data_directives
        .data
words: .word 1, -2, 0x7fffffff
rep:   .word 9:4
ptr:   .word words, rep
hs:    .half 1, -300
bs:    .byte 'a', -5, 0x1ff
sp0:   .space 10
after: .word 3
        .text
        .globl main
main:
        la $t0, words
        lw $a0, 0($t0)
        jal pr
        lw $a0, 4($t0)
        jal pr
        lw $a0, 8($t0)
        jal pr
        lw $a0, rep+8
        jal pr
        lw $t1, ptr
        lw $a0, 0($t1)
        jal pr
        lw $t1, ptr+4
        lw $a0, 0($t1)
        jal pr
        lh $a0, hs+2
        jal pr
        lb $a0, bs+1
        jal pr
        lb $a0, bs+2
        jal pr
        lw $a0, sp0              # FAULT: .space does not align, sp0 is at an odd address
        jal pr
        la $t0, after
        la $t1, sp0
        sub $a0, $t0, $t1
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
