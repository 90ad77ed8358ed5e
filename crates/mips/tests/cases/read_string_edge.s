# read_string_edge: read_string_edge
        .data
buf: .space 16
        .text
        .globl main
main:
        la $t0, buf
        li $t1, 0x58585858
        sw $t1, 0($t0)
        sw $t1, 4($t0)
        li $v0, 8
        la $a0, buf
        li $a1, 1               # size 1: only the terminator is written
        syscall
        lbu $a0, 0($t0)
        jal pr
        lbu $a0, 1($t0)
        jal pr
        sw $t1, 0($t0)
        li $v0, 8
        la $a0, buf
        li $a1, 2               # size 2: one character
        syscall
        lbu $a0, 0($t0)
        jal pr
        lbu $a0, 1($t0)
        jal pr
        lbu $a0, 2($t0)
        jal pr
        li $v0, 8
        la $a0, buf
        li $a1, 0               # size 0: nothing
        syscall
        lbu $a0, 0($t0)
        jal pr
        li $v0, 5
        syscall
        move $a0, $v0
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
