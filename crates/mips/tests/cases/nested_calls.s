# nested_calls: nested_calls
        .text
        .globl main
main:
        li $a0, 3
        li $a1, 4
        jal hyp2
        move $a0, $v0
        jal pr
        li $a0, 12
        jal sumsq
        move $a0, $v0
        jal pr
        li $v0, 10
        syscall
# sum of squares 1..n using square()
sumsq:  addi $sp, $sp, -12
        sw   $ra, 0($sp)
        sw   $s0, 4($sp)
        sw   $s1, 8($sp)
        move $s0, $a0
        li   $s1, 0
ss_loop: beqz $s0, ss_done
        move $a0, $s0
        jal  square
        add  $s1, $s1, $v0
        addi $s0, $s0, -1
        j    ss_loop
ss_done: move $v0, $s1
        lw   $ra, 0($sp)
        lw   $s0, 4($sp)
        lw   $s1, 8($sp)
        addi $sp, $sp, 12
        jr   $ra
square: mul  $v0, $a0, $a0
        jr   $ra
hyp2:   addi $sp, $sp, -8
        sw   $ra, 0($sp)
        sw   $a1, 4($sp)
        jal  square
        move $t0, $v0
        lw   $a0, 4($sp)
        sw   $t0, 4($sp)
        jal  square
        lw   $t0, 4($sp)
        add  $v0, $v0, $t0
        lw   $ra, 0($sp)
        addi $sp, $sp, 8
        jr   $ra

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
