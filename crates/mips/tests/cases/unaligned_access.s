# unaligned_access: unaligned_access
        .data
data: .byte 1, 2, 3, 4, 0xf5, 0xf6, 7, 8, 9, 10, 11, 12
        .text
        .globl main
main:
        la $t0, data
        ulw $t1, 1($t0)
        move $a0, $t1
        jal  pr
        ulh $t1, 3($t0)
        move $a0, $t1
        jal  pr
        ulhu $t1, 3($t0)
        move $a0, $t1
        jal  pr
        li $t2, 0x11223344
        usw $t2, 5($t0)
        lw $t1, 4($t0)
        move $a0, $t1
        jal  pr
        lw $t1, 8($t0)
        move $a0, $t1
        jal  pr
        li $t2, -2
        ush $t2, 1($t0)
        lw $t1, 0($t0)
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
