# word_labels_table: word_labels_table
        .data
table: .word fa, fb, fc
        .text
        .globl main
main:
        li $s0, 0
loop:
        sll $t0, $s0, 2
        lw $t1, table($t0)
        jalr $t1
        addi $s0, $s0, 1
        blt $s0, 3, loop
        li $v0, 10
        syscall
fa: li $a0, 11
    j pr
fb: li $a0, 22
    j pr
fc: li $a0, 33
    j pr

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
