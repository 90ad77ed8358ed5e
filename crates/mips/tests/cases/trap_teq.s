# trap_teq: trap_teq
        .text
        .globl main
main:
        li $t0, 3
        li $t1, 4
        teq $t0, $t1
        tne $t0, $t0
        tlt $t1, $t0
        tge $t0, $t1
        tltu $t1, $t0
        tgeu $t0, $t1
        move $a0, $t0
        jal  pr
        tlt $t0, $t1             # FAULT
        li $v0, 10
        syscall

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
