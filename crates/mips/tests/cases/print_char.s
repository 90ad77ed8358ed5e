# print_char: print_char
        .text
        .globl main
main:
        li $v0, 11
        li $a0, 'H'
        syscall
        li $a0, 'i'
        syscall
        li $a0, 0x121          # only the low byte is printed
        syscall
        li $a0, 10
        syscall
        li $a0, 9
        syscall
        li $a0, '*'
        syscall
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
