# li_forms: li_forms
        .text
        .globl main
main:
        li $t0, 0
        move $a0, $t0
        jal  pr
        li $t0, 5
        move $a0, $t0
        jal  pr
        li $t0, -5
        move $a0, $t0
        jal  pr
        li $t0, 0x8000
        move $a0, $t0
        jal  pr
        li $t0, 0xffff
        move $a0, $t0
        jal  pr
        li $t0, 0x10000
        move $a0, $t0
        jal  pr
        li $t0, 0x12345678
        move $a0, $t0
        jal  pr
        li $t0, -32768
        move $a0, $t0
        jal  pr
        li $t0, -32769
        move $a0, $t0
        jal  pr
        li $t0, 0xffffffff
        move $a0, $t0
        jal  pr
        li $t0, 2147483647
        move $a0, $t0
        jal  pr
        li $t0, -2147483648
        move $a0, $t0
        jal  pr
        li $t0, 'A'
        move $a0, $t0
        jal  pr
        li $t0, ' '
        move $a0, $t0
        jal  pr
        li $t0, 0xAbC
        move $a0, $t0
        jal  pr
        lui $t0, 0x1234
        move $a0, $t0
        jal  pr
        lui $t0, 0xffff
        ori $t0, $t0, 0xfffe
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
