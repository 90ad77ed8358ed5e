# logic: logic
        .text
        .globl main
main:
        li $t0, 0x0ff0f00f
        li $t1, 0x00ffff00
        and $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        or $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        xor $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        nor $t2, $t0, $t1
        move $a0, $t2
        jal  pr
        andi $t2, $t0, 0xffff
        move $a0, $t2
        jal  pr
        ori $t2, $t0, 0x1234
        move $a0, $t2
        jal  pr
        xori $t2, $t0, 0xffff
        move $a0, $t2
        jal  pr
        not $t2, $t0
        move $a0, $t2
        jal  pr
        and $t2, $t0, 0xff
        move $a0, $t2
        jal  pr
        or $t2, $t0, 0x10000
        move $a0, $t2
        jal  pr
        xor $t2, $t0, -1
        move $a0, $t2
        jal  pr
        nor $t2, $t0, 5
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
