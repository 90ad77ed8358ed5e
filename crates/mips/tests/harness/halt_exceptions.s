# Exception file used to generate the expected outputs of tests/cases with SPIM:
#   spim -quiet -exception_file halt_exceptions.s -file NAME.s < NAME.in
# On any exception it prints a marker "\001EXC:<code>:<epc>\n" and exits, so the
# generator can split SPIM's stdout into "output before the fault" and the fault facts.
        .kdata
__mk:   .asciiz "\001EXC:"
__col:  .asciiz ":"
        .ktext 0x80000180
        mfc0 $k0 $13
        mfc0 $k1 $14
        li $v0 4
        la $a0 __mk
        syscall
        srl $a0 $k0 2
        andi $a0 $a0 0x1f
        li $v0 1
        syscall
        li $v0 4
        la $a0 __col
        syscall
        move $a0 $k1
        li $v0 1
        syscall
        li $v0 11
        li $a0 10
        syscall
        li $v0 10
        syscall

        .text
        .globl __start
__start:
        lw $a0 0($sp)
        addiu $a1 $sp 4
        addiu $a2 $a1 4
        sll $v0 $a0 2
        addu $a2 $a2 $v0
        jal main
        nop
        li $v0 10
        syscall
        .globl __eoth
__eoth:
