# bubble_sort: bubble_sort
        .data
arr: .word 34, -5, 12, 0, 99, 7, -100, 56, 7, 1
n:   .word 10
        .text
        .globl main
main:
        la $s0, arr
        lw $s1, n
        li $t0, 0
outer:
        addi $t9, $s1, -1
        bge $t0, $t9, done
        li $t1, 0
        sub $t8, $t9, $t0
inner:
        bge $t1, $t8, next_outer
        sll $t2, $t1, 2
        add $t2, $t2, $s0
        lw $t3, 0($t2)
        lw $t4, 4($t2)
        ble $t3, $t4, noswap
        sw $t4, 0($t2)
        sw $t3, 4($t2)
noswap:
        addi $t1, $t1, 1
        j inner
next_outer:
        addi $t0, $t0, 1
        j outer
done:
        li $t0, 0
print:
        bge $t0, $s1, end
        sll $t2, $t0, 2
        add $t2, $t2, $s0
        lw $a0, 0($t2)
        li $v0, 1
        syscall
        li $v0, 11
        li $a0, ' '
        syscall
        addi $t0, $t0, 1
        j print
end:
        li $v0, 11
        li $a0, 10
        syscall
        li $v0, 10
        syscall

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
