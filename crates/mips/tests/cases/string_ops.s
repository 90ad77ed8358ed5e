# string_ops: string_ops
        .data
buf: .space 64
        .text
        .globl main
main:
        li $v0, 8
        la $a0, buf
        li $a1, 64
        syscall
# strlen (without newline)
        la $t0, buf
        li $t1, 0
len: lb $t2, 0($t0)
        beqz $t2, len_done
        beq $t2, 10, len_done
        addi $t0, $t0, 1
        addi $t1, $t1, 1
        j len
len_done:
        move $a0, $t1
        jal pr
# reverse print
        la $t3, buf
rev: beq $t0, $t3, rev_done
        addi $t0, $t0, -1
        lb $a0, 0($t0)
        li $v0, 11
        syscall
        j rev
rev_done:
        li $v0, 11
        li $a0, 10
        syscall
# uppercase in place
        la $t0, buf
up: lbu $t2, 0($t0)
        beqz $t2, up_done
        blt $t2, 'a', up_next
        bgt $t2, 'z', up_next
        addi $t2, $t2, -32
        sb $t2, 0($t0)
up_next: addi $t0, $t0, 1
        j up
up_done:
        li   $v0, 4
        la   $a0, buf
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
