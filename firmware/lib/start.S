/*
 * Entry of every firmware program: the Multiboot header, a stack, and the call to fw_main.
 * The loader starts us in flat 32-bit protected mode with EAX = magic, EBX = information
 * structure, and no stack (Multiboot Specification 3.2): set one up before any C runs.
 */
#include "multiboot.h"

    .section .multiboot, "a"
    .balign 4
    .long MULTIBOOT_HEADER_MAGIC
    .long MULTIBOOT_HEADER_FLAGS
    .long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_HEADER_FLAGS)

    .text
    .globl _start
    .type _start, @function
_start:
    movl $stack_top, %esp
    cld                     /* the C ABI expects DF = 0; Multiboot leaves it undefined */
    pushl %ebx
    pushl %eax
    call fw_main
    pushl %eax
    call fw_exit
    .size _start, . - _start

    .bss
    .balign 16
stack_bottom:
    .skip 16384
stack_top:

    /* No executable stack: the linker otherwise warns and marks the stack RWX. */
    .section .note.GNU-stack, "", @progbits
