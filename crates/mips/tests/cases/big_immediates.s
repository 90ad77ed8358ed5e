# big_immediates: big_immediates
        .text
        .globl main
main:
        li $t0, 100
        add $t1, $t0, 70000
        move $a0, $t1
        jal  pr
        sub $t1, $t0, 70000
        move $a0, $t1
        jal  pr
        and $t1, $t0, 0x12345
        move $a0, $t1
        jal  pr
        or $t1, $t0, 0x10000
        move $a0, $t1
        jal  pr
        xor $t1, $t0, 0xfffff
        move $a0, $t1
        jal  pr
        slt $t1, $t0, 70000
        move $a0, $t1
        jal  pr
        sltu $t1, $t0, -70000
        move $a0, $t1
        jal  pr
        beq $t0, 100, yes
        move $a0, $zero
        jal  pr
yes: bne $t0, 70000, yes2
        move $a0, $zero
        jal  pr
yes2: li $t2, 1
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
