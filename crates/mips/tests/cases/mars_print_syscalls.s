# mars_print_syscalls: MARS's syscalls 34 (hex), 35 (binary), 36 (unsigned).
# HAND_WRITTEN: SPIM 8.0 does not implement these syscalls ("Unknown system call");
# the expected output follows MARS 4.5 (lowercase hex padded to 8 digits, 32 binary digits).
        .text
        .globl main
main:
        li   $v0, 34
        li   $a0, 42
        syscall
        jal  nl
        li   $v0, 34
        li   $a0, -1
        syscall
        jal  nl
        li   $v0, 35
        li   $a0, 5
        syscall
        jal  nl
        li   $v0, 35
        li   $a0, -2
        syscall
        jal  nl
        li   $v0, 36
        li   $a0, -1
        syscall
        jal  nl
        li   $v0, 36
        li   $a0, 123
        syscall
        jal  nl
        li   $v0, 10
        syscall
nl:     li   $v0, 11
        li   $a0, 10
        syscall
        jr   $ra
