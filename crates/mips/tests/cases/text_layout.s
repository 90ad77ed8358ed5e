# text_layout: text_layout
        .text
        .globl main
main:
        jal here
here:
        move $a0, $ra
        jal  pr
        li $t0, 0x12345678      # 2 words
        li $t1, 5               # 1 word
        blt $t0, $t1, there     # 2 words
        bge $t0, 100000, there  # 4 words
there:
        jal f
        move $a0, $ra
        jal  pr
        la $t0, there
        move $a0, $t0
        jal  pr
        la $t0, f
        move $a0, $t0
        jal  pr
        li $v0, 10
        syscall
f:
        move $t9, $ra
        jal g
        jr $t9
g:
        jr $ra

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
