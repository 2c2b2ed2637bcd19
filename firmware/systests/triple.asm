; Double faults and the triple fault (issue 4, point 4): contributory-then-contributory and
; page-fault-then-page-fault combinations reach a #DF task (through a task gate, as the
; handler needs a stack of its own), which reports its error code (0) and the CR2 of the
; second fault; then, with the #DF gate not present, the processor shuts down: the run ends
; without the program's exit (QEMU -no-reboot exits with status 0, the emulator with 14).
%include "sys.inc"

S_TSSDF     equ 0x40
S_SMALLSS   equ 0x48            ; data, base 0, limit FFFh, B=1
PD          equ 0x400000

%macro GDT_EXTRA 0
    DESC ABS(tss_df), 103, ACC_TSS32, 0             ; 40h
    DESC 0, 0xFFF, ACC_DATA0, FL_BYTE32             ; 48h
%endmacro

main:
    ; the #DF task
    mov dword [tss_df + 28], PD
    mov dword [tss_df + 32], df_task
    mov dword [tss_df + 36], 0x2
    mov dword [tss_df + 56], 0x5E000
    mov dword [tss_df + 76], SEL_CODE0
    mov eax, SEL_DATA0
    mov [tss_df + 72], eax
    mov [tss_df + 80], eax
    mov [tss_df + 84], eax
    mov [tss_df + 88], eax
    mov [tss_df + 92], eax
    mov word [idt + 8 * 8 + 2], S_TSSDF
    mov byte [idt + 8 * 8 + 5], ACC_TASKGATE
    ; paging: 0-8 MiB identity in two 4 MiB pages, nothing above
    mov edi, PD
    mov ecx, 1024
    xor eax, eax
    rep stosd
    mov dword [PD + 0], 0x000000 | 0x83
    mov dword [PD + 4], 0x400000 | 0x83
    mov eax, PD
    mov cr3, eax
    mov [tss0 + 28], eax
    mov eax, cr4
    or eax, 0x10
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax

    xor eax, eax
    mov cr2, eax
    TRY "gp, then ss while pushing its frame"
    mov ax, S_SMALLSS
    mov ss, ax
    mov esp, 8
    mov ax, 0x1234
    mov ds, ax
    ENDTRY
    xor eax, eax
    mov cr2, eax
    TRY "pf, then pf while pushing its frame"
    mov esp, 0x900100                   ; not mapped
    mov eax, [0xA00000]                 ; not mapped
    ENDTRY
    xor eax, eax
    mov cr2, eax
    TRY "ud, then pf while pushing its frame"
    mov esp, 0x900200
    ud2
    ENDTRY
    xor eax, eax
    mov cr2, eax
    TRY "int 40h, then pf while pushing its frame"
    mov esp, 0x900300
    int 0x40
    ENDTRY
    xor eax, eax
    mov cr2, eax
    TRY "gp, then gp from its gate"
    mov word [idt + 13 * 8 + 2], 0      ; #GP's gate has a null selector
    mov ax, 0x1234
    mov ds, ax
    ENDTRY
    RESTORE_GATE 13

    PRINTLN "now a triple fault"
    mov byte [idt + 8 * 8 + 5], 0x05    ; the #DF gate not present
    mov ax, S_SMALLSS
    mov ss, ax
    mov esp, 8
    mov ax, 0x1234
    mov ds, ax
    PRINTLN "not reached"
    ret

; df_task: a #DF through a task gate. Reports, then sends the faulting task on after its probe.
df_task:
    PRINT " #DF task: err"
    HEX32 [0x5E000 - 4]
    PRINT " link="
    HEX16 [tss_df]
    mov eax, cr2
    PRINT " cr2="
    HEX32 eax
    PRINT " faulting eip +"
    mov eax, [tss0 + 32]
    sub eax, [try_ip]
    HEX32 eax
    NL
    mov eax, [try_resume]               ; the task that faulted resumes after its probe
    mov [tss0 + 32], eax
    mov eax, [try_esp]
    mov [tss0 + 56], eax
    mov dword [tss0 + 80], SEL_DATA0    ; SS
    mov dword [tss0 + 84], SEL_DATA0    ; DS
    mov esp, 0x5E000
    iretd
    jmp df_task

    align 16
tss_df: times 104 db 0

%include "sys_end.inc"
