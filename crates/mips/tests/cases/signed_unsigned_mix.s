# signed_unsigned_mix: signed_unsigned_mix
        .data
nb: .byte -8
     .align 1
negh: .half -8
        .text
        .globl main
main:
        li $t0, -8
        srl $t1, $t0, 1
        move $a0, $t1
        jal  pr
        sra $t1, $t0, 1
        move $a0, $t1
        jal  pr
        li $v0, 36   # not used; just shows value in $v0 is overwritten
        li $t2, 0xfffffff8
        sltu $t3, $t0, $t2
        move $a0, $t3
        jal  pr
        lbu $t4, nb
        move $a0, $t4
        jal  pr
        lb $t4, nb
        move $a0, $t4
        jal  pr
        lhu $t4, negh
        move $a0, $t4
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
