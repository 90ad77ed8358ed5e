# read_string: read_string
        .data
sep: .asciiz "|\n"
buf: .space 32
        .text
        .globl main
main:
        li $v0, 8
        la $a0, buf
        li $a1, 8
        syscall
        li   $v0, 4
        la   $a0, buf
        syscall
        li   $v0, 4
        la   $a0, sep
        syscall
        li $v0, 8
        la $a0, buf
        li $a1, 8
        syscall
        li   $v0, 4
        la   $a0, buf
        syscall
        li   $v0, 4
        la   $a0, sep
        syscall
        li $v0, 8
        la $a0, buf
        li $a1, 20
        syscall
        li   $v0, 4
        la   $a0, buf
        syscall
        li   $v0, 4
        la   $a0, sep
        syscall
        li $v0, 8
        la $a0, buf
        li $a1, 20
        syscall
        li   $v0, 4
        la   $a0, buf
        syscall
        li   $v0, 4
        la   $a0, sep
        syscall
        li $v0, 8
        la $a0, buf
        li $a1, 20
        syscall
        li   $v0, 4
        la   $a0, buf
        syscall
        li   $v0, 4
        la   $a0, sep
        syscall
        li $v0, 10
        syscall

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
