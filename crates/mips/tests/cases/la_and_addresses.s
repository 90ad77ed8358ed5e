# la_and_addresses: la_and_addresses
        .data
first:  .word 1
second: .byte 2
arr:    .word 10, 20, 30
        .text
        .globl main
main:
        la $t0, first
        move $a0, $t0
        jal  pr
        la $t0, second
        move $a0, $t0
        jal  pr
        la $t0, first+4
        move $a0, $t0
        jal  pr
        la $t1, arr
        la $t0, 8($t1)
        move $a0, $t0
        jal  pr
        la $t0, main
        move $a0, $t0
        jal  pr
        la $t0, pr
        move $a0, $t0
        jal  pr
        la $t0, later
        move $a0, $t0
        jal  pr
        la $t0, 0x10010000
        move $a0, $t0
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
        .data
later:  .asciiz "x"
