/* Enter an x87/MMX test case and come back from it (32-bit, AT&T syntax).
 *
 * As the integer suite's trampoline, plus the FPU: run_case first loads the case's x87
 * state with FNINIT; FRSTOR (g_fpu_in, the 108-byte 32-bit protected-mode image), then the
 * segment registers, EFLAGS and general registers, and far-jumps to the case. The exits
 * save the general registers, then the FPU with FXSAVE (g_fx_out) and FNSAVE (g_fs_out),
 * which do not wait, so a pending unmasked exception is captured rather than raised. */
        .text

        .globl  run_case
        .type   run_case, @function
run_case:
        push    %ebp
        push    %ebx
        push    %esi
        push    %edi
        mov     %esp, g_host_esp
        fninit
        frstor  g_fpu_in
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
        movw    %cs:g_host_ds, %ds
        movl    $1, g_exit_id
        jmp     exit_common

        .globl  exit_taken
exit_taken:
        movw    %cs:g_host_ds, %ds
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
        fxsave  g_fx_out
        fnsave  g_fs_out
        movw    g_host_ss, %ss
        mov     g_host_esp, %esp
        pushfl
        popl    g_out+32
        movw    g_host_ds, %es
        movw    g_host_fs, %fs
        pushl   $0x202                  /* DF and AC clear again for C */
        popfl
        fninit
        pop     %edi
        pop     %esi
        pop     %ebx
        pop     %ebp
        ret
        .size   run_case, .-run_case

        .section .note.GNU-stack,"",@progbits
