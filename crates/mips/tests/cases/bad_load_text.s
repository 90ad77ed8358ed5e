# bad_load_text: bad_load_text
        .data
m: .asciiz "loading...\n"
        .text
        .globl main
main:
        li $v0, 4
        la $a0, m
        syscall
        lw $t0, 0x0000fff0        # FAULT: not mapped
        li $v0, 10
        syscall

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
