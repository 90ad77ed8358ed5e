# gp_area: gp_area
        .text
        .globl main
main:
        li $t0, 1234
        sw $t0, 0($gp)
        sw $t0, -32768($gp)
        lw $a0, 0($gp)
        jal pr
        lw $a0, 0x10000000
        jal pr
        move $a0, $gp
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
