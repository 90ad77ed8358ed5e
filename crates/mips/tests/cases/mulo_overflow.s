# mulo_overflow: mulo_overflow
        .text
        .globl main
main:
        li $t0, 0x10000
        mulo $t2, $t0, 3
        move $a0, $t2
        jal  pr
        mulo $t2, $t0, $t0     # FAULT: overflow detected by mulo
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
