# forward_refs: forward_refs
        .text
        .globl main
main:
        j start
back: li $v0, 4
        la $a0, msg2
        syscall
        li $v0, 10
        syscall
start:
        la $a0, msg1
        li $v0, 4
        syscall
        lw $a0, num
        jal pr
        b back

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
        .data
msg1:   .asciiz "forward label\n"
msg2:   .asciiz "and back\n"
num:    .word 321
