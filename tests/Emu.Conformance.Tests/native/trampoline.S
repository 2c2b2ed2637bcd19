/* Enter a test case and come back from it (32-bit, AT&T syntax).
 *
 * run_case loads the case's segment registers, EFLAGS and general registers and far-jumps
 * to the case's entry (the flat CS for 32-bit code, the LDT 16-bit code segment
 * otherwise). The case's code ends in a jump to one of two exit stubs, which jump here to
 * exit_fall / exit_taken: they restore the host's DS first (through a CS override, since
 * DS is the test segment), then save every register and EFLAGS without touching the test
 * stack, restore the host segments and stack and return to C. */
        .text

        .globl  run_case
        .type   run_case, @function
run_case:
        push    %ebp
        push    %ebx
        push    %esi
        push    %edi
        mov     %esp, g_host_esp
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
        movw    g_host_ss, %ss
        mov     g_host_esp, %esp
        pushfl
        popl    g_out+32
        movw    g_host_ds, %es
        movw    g_host_fs, %fs
        pushl   $0x202                  /* DF and AC clear again for C */
        popfl
        pop     %edi
        pop     %esi
        pop     %ebx
        pop     %ebp
        ret
        .size   run_case, .-run_case

        .section .note.GNU-stack,"",@progbits
