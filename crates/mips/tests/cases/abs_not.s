# abs_not: abs_not
        .text
        .globl main
main:
        li $t0, -42
        abs $t1, $t0
        move $a0, $t1
        jal  pr
        li $t0, 42
        abs $t1, $t0
        move $a0, $t1
        jal  pr
        abs $t0, $t0
        move $a0, $t0
        jal  pr
        li $t0, 0x80000000
        abs $t1, $t0             # FAULT: SPIM's abs traps on -2^31
        move $a0, $t1
        jal  pr
        not $t1, $zero
        move $a0, $t1
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
