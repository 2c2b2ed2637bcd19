; Real mode (issue 4, point 1): leaving protected mode through 16-bit protected mode as the
; SDM describes (9.9.2), real mode with 32-bit operand and address prefixes, the interrupt
; vector table (INT n, INT3, INTO and exceptions: FLAGS, CS, IP pushed, never an error code;
; IF and TF cleared), the 64 KiB limit, "unreal" mode (a segment register reloaded in real
; mode keeps the limit it was given in protected mode), and the way back to protected mode.
%include "sys.inc"
%include "rm.inc"

RM_STACK    equ 0x7000              ; SS = 0

; RTRY "name" ... RENDTRY: a probe in real mode; an exception through the vector table prints
; what was pushed and resumes after RENDTRY.
%macro RTRY 1
    %push rtry
    RPRINT {%1, ":"}
    mov word [cs:rm_resume], %$resume
    mov [cs:rm_sp], sp
    mov word [cs:rm_ip], %$ip
%$ip:
%endmacro
%macro RENDTRY 0
    RPRINTLN " ok"
%$resume:
    %pop
%endmacro

; IVT vector, handler: points a real-mode vector at a handler in section rm
%macro IVT 2
    mov word [(%1) * 4], %2
    mov word [(%1) * 4 + 2], RM_SEG
%endmacro

main:
    IVT 0, rm_exc0
    IVT 1, rm_exc1
    IVT 3, rm_exc3
    IVT 4, rm_exc4
    IVT 6, rm_exc6
    IVT 13, rm_exc13
    IVT 0x60, rm_int60
    mov [pm_esp], esp
    lidt [rm_idt]
    jmp SEL_CODE16:pm16

back_in_pm:                             ; from real mode, through JMP 08h:back_in_pm
    mov ax, SEL_DATA0
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, [pm_esp]
    lidt [idt_ptr]
    PRINT "back in protected mode: cr0"
    mov eax, cr0
    and eax, 0x7FFFFFFF
    HEX32 eax
    NL
    TRY "protected mode exception again"
    ud2
    ENDTRY
    ret

    align 4
pm_esp:     dd 0
rm_idt:     dw 0x3FF
            dd 0

    section rm
    bits 16
; 16-bit protected mode, CS = SEL_CODE16 (base RM_BASE)
pm16:
    RPRINTLN "16-bit protected mode"
    mov ax, SEL_DATA0
    mov fs, ax                          ; 4 GiB: kept by real mode
    mov ax, SEL_DATA16
    mov ds, ax                          ; 64 KiB, as the SDM asks before leaving protected mode
    mov es, ax
    mov gs, ax
    mov ss, ax
    mov eax, cr0
    and eax, ~1
    mov cr0, eax
    jmp RM_SEG:real

real:
    mov ax, cs
    mov ds, ax
    xor ax, ax
    mov ss, ax
    mov sp, RM_STACK
    RPRINT "real mode: cs"
    mov ax, cs
    call rm_hex16
    RPRINT " cr0"
    mov eax, cr0
    call rm_hex16
    RPRINT " sp"
    mov ax, sp
    call rm_hex16
    RPRINTLN ""

    RTRY "32-bit operands"
    mov eax, 0x89ABCDEF
    add eax, 0x11111111
    mov edx, eax
    shr edx, 16
    RHEX dx
    RHEX ax
    RENDTRY
    RTRY "32-bit addressing"
    mov ebx, 0x0100
    mov ecx, 2
    mov word [ebx + ecx * 4 + rm_scratch - 0x100], 0x7777
    RHEX [rm_scratch + 8]
    RENDTRY
    RTRY "int 60h"
    sti
    int 0x60
    cli
    RENDTRY
    RTRY "div by zero"
    xor cx, cx
    div cx
    RENDTRY
    RTRY "int3"
    int3
    RENDTRY
    RTRY "into"
    mov al, 0x7F
    add al, 1
    into
    RENDTRY
    RTRY "ud2"
    ud2
    RENDTRY
    RTRY "word at ffffh"
    mov ax, [0xFFFF]
    RENDTRY
    RTRY "32-bit address beyond 64 KiB"
    mov ebx, 0x10000
    mov al, [ebx]
    RENDTRY
    RTRY "tf in real mode"
    pushf
    pop ax
    or ax, 0x100
    push ax
    popf
    nop
    nop
    RENDTRY
    RTRY "unreal fs"
    xor ax, ax
    mov fs, ax                          ; a real-mode load: base 0, the 4 GiB limit stays
    mov eax, [fs:dword BASE]            ; the Multiboot magic at 1 MiB
    mov edx, eax
    shr edx, 16
    RHEX dx
    RHEX ax
    RENDTRY
    RTRY "gs keeps 64 KiB"
    xor ax, ax
    mov gs, ax
    mov eax, [gs:dword BASE]
    RENDTRY

    ; back to protected mode
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp dword SEL_CODE0:back_in_pm

rm_int60:                               ; INT 60h: prints the pushed frame and IF
    push bp
    mov bp, sp
    RPRINT " frame ip/cs/flags"
    mov ax, [bp + 2]
    sub ax, [cs:rm_ip]
    call rm_hex16
    RHEX [bp + 4]
    RHEX [bp + 6]
    pushf
    pop ax
    RPRINT " flags in handler"
    call rm_hex16
    pop bp
    iret

rm_exc0:
    push word 0
    jmp rm_exc
rm_exc1:
    push word 1
    jmp rm_exc
rm_exc3:
    push word 3
    jmp rm_exc
rm_exc4:
    push word 4
    jmp rm_exc
rm_exc6:
    push word 6
    jmp rm_exc
rm_exc13:
    push word 13
    jmp rm_exc
; rm_exc: [SP] = vector, then what the CPU pushed: prints the vector, the frame size in bytes,
; IP relative to the probe, CS and FLAGS, then resumes after the probe.
rm_exc:
    mov bp, sp
    mov ax, cs
    mov ds, ax
    RPRINT " #"
    mov ax, [bp]
    call rm_hex16
    RPRINT " frame bytes"
    mov ax, [cs:rm_sp]
    sub ax, bp
    sub ax, 2
    call rm_hex16
    RPRINT " ip"
    mov ax, [bp + 2]
    sub ax, [cs:rm_ip]
    call rm_hex16
    RPRINT " cs"
    mov ax, [bp + 4]
    call rm_hex16
    RPRINT " flags"
    mov ax, [bp + 6]
    call rm_hex16
    RPRINTLN ""
    xor ax, ax
    mov gs, ax
    mov fs, ax
    mov sp, [cs:rm_sp]
    jmp [cs:rm_resume]

rm_sp:      dw 0
rm_ip:      dw 0
rm_resume:  dw 0
rm_scratch: times 16 db 0
    section .text
    bits 32

%include "sys_end.inc"
