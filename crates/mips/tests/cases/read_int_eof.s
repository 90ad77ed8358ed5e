# read_int_eof: read_int_eof
        .text
        .globl main
main:
        li $v0, 5
        syscall
        move $a0, $v0
        jal pr
        li $v0, 5
        syscall
        move $a0, $v0
        jal pr
        li $v0, 10
        syscall

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
