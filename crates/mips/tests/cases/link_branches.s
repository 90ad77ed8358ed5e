# link_branches: link_branches
        .text
        .globl main
main:
        la $t0, after1
        move $a0, $t0
        jal  pr
        li $t1, -1
        bltzal $t1, sub1
after1:
        move $a0, $v1
        jal  pr
        bgezal $zero, sub1
        move $a0, $v1
        jal  pr
        li $t1, 1
        bltzal $t1, sub1        # not taken, but $ra is still written
        la $t2, here
here:
        sub $a0, $ra, $t2
        jal pr
        li $v0, 10
        syscall
sub1:
        move $v1, $ra
        jr $ra

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
