# syntax_forms: syntax_forms
        .data
val: .word 1,2 , 3
        .text
        .globl main
main:
LABEL1:   li $t0 5          # operands separated by spaces
LABEL2:
LABEL3:
	addu	$t1,$t0,$t0	# tabs
        li $t2,'a'
        addi $t3 , $t2 , -1
        move $a0, $t1
        jal  pr
        move $a0, $t2
        jal  pr
        move $a0, $t3
        jal  pr
        la $t4, LABEL2
        la $t5, LABEL3
        sub $a0, $t4, $t5
        jal pr
        li $t6, -0x10
        move $a0, $t6
        jal  pr
        lw $t7, val + 4
        move $a0, $t7
        jal  pr
        move $8, $9              # numeric register names
        move $a0, $8
        jal  pr
        move $a0, $fp
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
