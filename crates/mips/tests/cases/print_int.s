# print_int: print_int
        .text
        .globl main
main:
        li $t0, 0
        move $a0, $t0
        jal  pr
        li $t0, -1
        move $a0, $t0
        jal  pr
        li $t0, 2147483647
        move $a0, $t0
        jal  pr
        li $t0, -2147483648
        move $a0, $t0
        jal  pr
        li $t0, 1000000
        move $a0, $t0
        jal  pr
        li $v0, 1
        li $a0, 7
        syscall
        li $v0, 1
        li $a0, -7
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
