# print_string_bad: print_string_bad
        .text
        .globl main
main:
        li $t0, 5
        move $a0, $t0
        jal  pr
        li $v0, 4
        li $a0, 0
        syscall                  # FAULT: address 0
        li $v0, 10
        syscall

# pr: print $a0 as a signed integer followed by a newline
pr:     li   $v0, 1
        syscall
        li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
