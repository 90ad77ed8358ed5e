# stores_endian: stores_endian
        .data
buf: .word 0, 0, 0, 0
     .word 0
        .text
        .globl main
main:
        la $t0, buf
        li $t1, 0x41424344
        sw $t1, 0($t0)
        li $v0, 4
        move $a0, $t0
        syscall                  # little-endian: prints DCBA
        li $v0, 11
        li $a0, 10
        syscall
        lbu $t2, 0($t0)
        move $a0, $t2
        jal  pr
        lbu $t2, 3($t0)
        move $a0, $t2
        jal  pr
        li $t1, 0x5a5b
        sh $t1, 4($t0)
        lhu $t2, 4($t0)
        move $a0, $t2
        jal  pr
        lb $t2, 5($t0)
        move $a0, $t2
        jal  pr
        li $t1, 0x163
        sb $t1, 6($t0)
        lbu $t2, 6($t0)
        move $a0, $t2
        jal  pr
        lw $t2, 4($t0)
        move $a0, $t2
        jal  pr
        sw $t1, buf+8
        lw $t2, buf+8
        move $a0, $t2
        jal  pr
        li $t3, 12
        sb $t1, buf($t3)
        lw $t2, buf+12
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
