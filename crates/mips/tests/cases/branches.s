# branches: branches
        .text
        .globl main
main:
        li $s0, 0
        li $t0, -3
loop:
        bltz $t0, isneg
        bgtz $t0, ispos
        addi $s0, $s0, 100     # zero
        j next
isneg: addi $s0, $s0, 1
        j next
ispos: addi $s0, $s0, 10
next:
        addi $t0, $t0, 1
        blez $t0, loop
        li $t1, 3
        bne $t0, $t1, loop
        move $a0, $s0
        jal  pr
        li $t2, 5
        beq $t2, $t2, eq1
        move $a0, $zero
        jal  pr
eq1:
        bgez $zero, ok1
        move $a0, $zero
        jal  pr
ok1:
        li $t3, 99
        move $a0, $t3
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
