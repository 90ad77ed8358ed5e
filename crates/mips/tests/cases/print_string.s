# print_string: print_string
        .data
s1: .asciiz "Hello, world\n"
s2: .asciiz "tab\there, quote \" backslash \\ done\n"
s3: .ascii "no terminator, "
    .ascii "continues "
    .asciiz "until here\n"
s4: .asciiz "multi", " strings\n"
empty: .asciiz ""
s5: .asciiz "octal \101\102 and \x43 chars\n"
        .text
        .globl main
main:
        li   $v0, 4
        la   $a0, s1
        syscall
        li   $v0, 4
        la   $a0, s2
        syscall
        li   $v0, 4
        la   $a0, s3
        syscall
        li   $v0, 4
        la   $a0, s4
        syscall
        la $a0, s1
        addi $a0, $a0, 3
        li $v0, 4
        syscall
        li   $v0, 4
        la   $a0, empty
        syscall
        li   $v0, 4
        la   $a0, s5
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
