# overflow_add: overflow_add
        .data
msg: .asciiz "before overflow\n"
        .text
        .globl main
main:
        li $v0, 4
        la $a0, msg
        syscall
        li $t0, 0x7fffffff
        li $t1, 1
        add $t2, $t0, $t1      # FAULT: arithmetic overflow
        move $a0, $t2
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
