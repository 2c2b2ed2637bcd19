/* Enter a test case and come back from it (AT&T syntax). The helper is a 64-bit program;
 * the case runs in 32-bit compatibility mode, which needs no IA32 support in the kernel.
 *
 * run_case (64-bit) saves the callee-saved registers and RSP, moves to a small stack below
 * 4 GiB and far-returns into enter32 through the LDT's flat 32-bit code segment (SEL_CODE32).
 * enter32 (compatibility mode) loads the flat data selector of the 64-bit process (its SS,
 * usable as a 32-bit data segment) in DS and ES, then as the 32-bit helper always did: the
 * case's EFLAGS, segment registers and general registers, and a far jump to the case's entry
 * (SEL_CODE32 or the LDT 16-bit code segment). The case's code ends in a jump to one of two
 * exit stubs, which jump here to exit_fall / exit_taken: they restore the flat DS first
 * (through a CS override, since DS is the test segment), save every register and EFLAGS
 * without touching the test stack, and far-jump back to 64-bit mode (g_return64), where
 * exit64 restores the host's RSP, DS, ES and FS (null selector, then the FS base glibc's
 * thread pointer lives in, with arch_prctl) and returns to C. */
        .text
        .code64
        .globl  run_case
        .type   run_case, @function
run_case:
        push    %rbp
        push    %rbx
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        mov     %rsp, g_host_rsp(%rip)
        mov     $g_stack32_top, %esp    /* a stack below 4 GiB for the far return and PUSHF */
        pushq   g_sel_code32(%rip)
        pushq   $enter32
        lretq

        .code32
enter32:
        movw    %cs:g_flat_ds, %ax      /* DS is null in a 64-bit process */
        mov     %ax, %ds
        mov     %ax, %es
        pushl   g_in+32                 /* EFLAGS: nothing below changes flags */
        popfl
        movw    g_sel_data, %ax
        mov     %ax, %es
        mov     %ax, %fs
        movw    g_sel_ss, %ax
        mov     %ax, %ss
        mov     g_in+16, %esp
        movw    g_sel_data, %ax
        mov     %ax, %ds                /* from here on the globals are reached through CS */
        mov     %cs:g_in+0, %eax
        mov     %cs:g_in+4, %ecx
        mov     %cs:g_in+8, %edx
        mov     %cs:g_in+12, %ebx
        mov     %cs:g_in+20, %ebp
        mov     %cs:g_in+24, %esi
        mov     %cs:g_in+28, %edi
        ljmp    *%cs:g_far_entry

        .globl  exit_fall
exit_fall:
        movw    %cs:g_flat_ds, %ds
        movl    $1, g_exit_id
        jmp     exit_common

        .globl  exit_taken
exit_taken:
        movw    %cs:g_flat_ds, %ds
        movl    $2, g_exit_id

exit_common:
        mov     %eax, g_out+0
        mov     %ecx, g_out+4
        mov     %edx, g_out+8
        mov     %ebx, g_out+12
        mov     %esp, g_out+16
        mov     %ebp, g_out+20
        mov     %esi, g_out+24
        mov     %edi, g_out+28
        movw    g_flat_ds, %ss
        mov     $g_stack32_top, %esp
        pushfl
        popl    g_out+32
        pushl   $0x202                  /* DF and AC clear again for C */
        popfl
        ljmp    *g_return64

        .code64
        .globl  exit64
exit64:
        mov     g_host_rsp(%rip), %rsp
        xor     %eax, %eax
        mov     %eax, %ds
        mov     %eax, %es
        call    host_fs
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbx
        pop     %rbp
        ret
        .size   run_case, .-run_case

/* Puts FS back as glibc set it up (null selector, base g_host_fsbase): the cases load FS
 * with the test segment, whose base is not the thread pointer. Clobbers RAX, RCX, RDX,
 * RSI, RDI, R11; touches neither memory through FS nor the red zone. */
        .type   host_fs, @function
host_fs:
        xor     %eax, %eax
        mov     %eax, %fs
        mov     $158, %eax              /* SYS_arch_prctl */
        mov     $0x1002, %edi           /* ARCH_SET_FS */
        mov     g_host_fsbase(%rip), %rsi
        syscall
        ret
        .size   host_fs, .-host_fs

        .bss
        .balign 16
g_stack32:
        .skip   256
        .globl  g_stack32_top
g_stack32_top:

        .section .note.GNU-stack,"",@progbits
