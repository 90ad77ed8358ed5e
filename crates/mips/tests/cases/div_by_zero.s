# div_by_zero: div_by_zero
        .text
        .globl main
main:
        li $t0, 42
        li $t1, 0
        div $t2, $t0, $t1      # FAULT: division by zero (SPIM: break)
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
