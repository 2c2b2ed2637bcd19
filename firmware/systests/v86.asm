; Virtual-8086 mode (issue 4, point 6): entry by IRETD with VM=1 at CPL 0, exit by
; interrupts and exceptions to the protected-mode handler (the frame with ES, DS, FS, GS and
; the data registers nulled), the IOPL-sensitive instructions (CLI, STI, PUSHF, POPF, INT n,
; IRET: #GP(0) with IOPL < 3), INT3 and INTO against the gate's DPL, I/O through the
; permission bitmap whatever the IOPL, segment arithmetic and the 64 KiB limit, and the
; return from the handler to virtual-8086 mode by IRETD.
%include "sys.inc"
%include "rm.inc"

V86_SP      equ 0xF000
EFL_VM      equ 0x20000
IOPL3       equ 0x3000

; V86TRY "name", eflags, label: a probe that runs the 16-bit code at label (section rm) in
; virtual-8086 mode with CS = DS = ES = FS = GS = SS = RM_SEG, SP = V86_SP. It ends with
; INT3 (the #BP gate is DPL 3 to r3_done: " ok") or an event the handler reports.
%macro V86TRY 3
    %push try
[section .data]
%$name: db %1, 0
__SECT__
    mov dword [try_name], %$name
    call try_begin
    mov dword [try_resume], %$resume
    mov dword [try_mode], 1
    mov dword [try_extra], 0
    mov [try_esp], esp
    mov dword [try_ip], %3
    push dword RM_SEG + 3               ; GS
    push dword RM_SEG + 2               ; FS
    push dword RM_SEG + 1               ; DS
    push dword RM_SEG                   ; ES
    push dword RM_SEG                   ; SS
    push dword V86_SP
    push dword EFL_VM | 0x2 | (%2)
    push dword RM_SEG                   ; CS
    push dword %3
    iretd
%$resume:
    %pop
%endmacro

main:
    SETGATE 3, r3_done, ACC_INT32 | DPL3            ; INT3 ends a probe
    SETGATE 0x40, v86_int40, ACC_INT32 | DPL3       ; a protected-mode service that returns to virtual-8086 mode
    SETGATE 0x41, exc_stubs + 0x41 * exc_stub_size, ACC_TRAP32 | DPL3

    V86TRY "enter", 0, v_enter
    V86TRY "cli, iopl 0", 0, v_cli
    V86TRY "sti, iopl 0", 0, v_sti
    V86TRY "pushf, iopl 0", 0, v_pushf
    V86TRY "popf, iopl 0", 0, v_popf
    V86TRY "int 40h, iopl 0", 0, v_int40
    V86TRY "iret, iopl 0", 0, v_iret
    V86TRY "cli sti pushf popf, iopl 3", IOPL3, v_flags3
    V86TRY "popf cannot change iopl", IOPL3, v_popf_iopl
    V86TRY "int 41h to the handler, iopl 3", IOPL3, v_int41
    V86TRY "int 40h and back, iopl 3", IOPL3, v_int40_back
    V86TRY "iret, iopl 3", IOPL3, v_iret3
    RESTORE_GATE 3
    V86TRY "int3, gate dpl 0", 0, v_int3
    V86TRY "into, gate dpl 0", 0, v_into
    SETGATE 3, exc_stubs + 3 * exc_stub_size, ACC_INT32 | DPL3
    V86TRY "int3, gate dpl 3", 0, v_int3
    SETGATE 3, r3_done, ACC_INT32 | DPL3
    V86TRY "out 80h, iopl 3", IOPL3, v_out80
    V86TRY "in e9h", 0, v_ine9
    V86TRY "div by zero", 0, v_div
    V86TRY "ud2", 0, v_ud2
    V86TRY "word at ffffh", 0, v_wrap
    V86TRY "32-bit address beyond 64 KiB", 0, v_addr32
    V86TRY "lidt", 0, v_lidt
    V86TRY "mov cr0", 0, v_movcr0
    V86TRY "hlt", 0, v_hlt
    V86TRY "lar", 0, v_lar
    V86TRY "mov ds, and segment arithmetic", 0, v_segs
    V86TRY "push and pop ss:sp", 0, v_stack
    RESTORE_GATE 3
    ret

; v86_int40: INT 40h from virtual-8086 mode: prints what the handler sees, then returns with IRETD.
v86_int40:
    push ebp
    mov ebp, esp
    mov dx, ds
    mov ax, SEL_DATA0
    mov ds, ax
    PRINT " handler ds/es/fs/gs:"
    HEX16 dx
    mov ax, es
    HEX16 ax
    mov ax, fs
    HEX16 ax
    mov ax, gs
    HEX16 ax
    PRINT " frame:"
    mov ecx, 9
    lea ebx, [ebp + 4]
.w:
    HEX32 [ebx]
    add ebx, 4
    loop .w
    or dword [ebp + 12], 0x1            ; set CF in the returned EFLAGS
    pop ebp
    iretd

; ---- the virtual-8086 code ----
    section rm
    bits 16
v_enter:
    RPRINT " in v86: cs ss ds es fs gs sp"
    mov ax, cs
    call rm_hex16
    mov ax, ss
    call rm_hex16
    mov ax, ds
    call rm_hex16
    mov ax, es
    call rm_hex16
    mov ax, fs
    call rm_hex16
    mov ax, gs
    call rm_hex16
    mov ax, sp
    call rm_hex16
    int3
v_cli:
    cli
    int3
v_sti:
    sti
    int3
v_pushf:
    pushf
    int3
v_popf:
    push word 0
    popf
    int3
v_int40:
    int 0x40
    int3
v_iret:
    iret
v_flags3:
    cli
    pushf
    pop ax
    RPRINT " after cli"
    call rm_hex16
    sti
    pushfd
    pop ax
    pop dx
    RPRINT " pushfd"
    xchg ax, dx
    call rm_hex16
    mov ax, dx
    call rm_hex16
    push word 0x0202
    popf
    pushf
    pop ax
    RPRINT " after popf"
    call rm_hex16
    cli
    int3
v_popf_iopl:
    push dword 0x00000202               ; IOPL 0 in the image
    popfd
    pushfd
    pop ax
    pop dx
    RPRINT " iopl kept:"
    call rm_hex16
    int3
v_int41:
    mov ax, 0x4141
    int 0x41
    int3
v_int40_back:
    clc
    int 0x40
    setc bl
    RPRINT " back, cf"
    mov al, bl
    mov ah, 0
    call rm_hex16
    int3
v_iret3:
    pushf
    push cs
    push word .after
    iret
.after:
    RPRINT " after iret"
    int3
v_int3:
    int3
    int3
v_into:
    mov al, 0x7F
    add al, 1
    into
    int3
v_out80:
    out 0x80, al
    int3
v_ine9:
    in al, 0xE9
    mov ah, 0
    call rm_hex16
    int3
v_div:
    xor cx, cx
    div cx
    int3
v_ud2:
    ud2
v_wrap:
    mov ax, [0xFFFF]
    int3
v_addr32:
    mov ebx, 0x10000
    mov al, [ebx]
    int3
v_lidt:
    lidt [0]
    int3
v_movcr0:
    mov eax, cr0
    int3
v_hlt:
    hlt
    int3
v_lar:
    lar ax, ax
    int3
v_segs:
    mov ax, 0x1000
    mov ds, ax
    mov word [0], 0x5A5A                ; linear 10000h
    mov ax, 0x0FFF
    mov es, ax
    mov ax, [es:0x10]                   ; linear 10000h again
    call rm_hex16
    mov ax, ds
    call rm_hex16
    int3
v_stack:
    push word 0x1234
    pop bx
    mov ax, sp
    call rm_hex16
    mov ax, bx
    call rm_hex16
    int3
    section .text
    bits 32

%include "sys_end.inc"
