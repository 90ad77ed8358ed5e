# jumps_calls: jumps_calls
        .text
        .globl main
main:
        li $a0, 10
        jal fact
        move $a0, $v0
        jal pr
        la $t0, fact
        li $a0, 5
        jalr $t0
        move $a0, $v0
        jal pr
        la $t0, twice
        li $a0, 21
        jalr $s1, $t0
ret1b:
        move $a0, $v0
        jal pr
        la $t1, ret1b
        sub $a0, $s1, $t1
        jal pr
        j end
        li $a0, 999
        jal pr
end:
        li $v0, 10
        syscall
fact:   addi $sp, $sp, -8
        sw   $ra, 4($sp)
        sw   $a0, 0($sp)
        li   $v0, 1
        blez $a0, fact_done
        addi $a0, $a0, -1
        jal  fact
        lw   $a0, 0($sp)
        mul  $v0, $v0, $a0
fact_done:
        lw   $ra, 4($sp)
        addi $sp, $sp, 8
        jr   $ra
twice:  add  $v0, $a0, $a0
        jr   $s1
ret1:   nop

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
