; Interrupts and exceptions in protected mode (issue 4, point 4): every exception the
; program can raise, with its error code (pushed only where the SDM pushes one) and the
; saved EIP (the faulting instruction for faults, the next one for traps); IDT interrupt and
; trap gates (IF in the handler); INT n, INT3 and INTO against the gate's DPL; gates that are
; not present, of a bad type or beyond the IDT limit (error codes with IDT=1 and EXT);
; double faults for the contributory combinations and benign ones delivered serially;
; single-step (EFLAGS.TF) including the shadow of MOV SS and POP SS; DR0-DR3 instruction
; and data breakpoints, DR7.GD, and what DR6 reports.
%include "sys.inc"

SEL_NPDATA      equ 0x40            ; data, not present
SEL_CODE0_DPL3  equ 0x48            ; flat code, DPL 3 (non-conforming)
SEL_SS_SMALL    equ 0x50            ; data, base 0, limit 8FFFFh (byte granular), B=1
SEL_CODE0_SMALL equ 0x58            ; code, DPL 0, limit 0FFFh from image_start
SEL_SS3_DOWN    equ 0x63            ; data, DPL 3, expand-down, limit 6E000h, B=1

%macro GDT_EXTRA 0
    DESC 0, 0xFFFFF, 0x13, FL_32                    ; 40h: present bit clear
    DESC 0, 0xFFFFF, ACC_CODE3, FL_32               ; 48h
    DESC 0, 0x8FFFF, ACC_DATA0, FL_BYTE32           ; 50h
    DESC BASE, 0xFFF, ACC_CODE0, FL_BYTE32          ; 58h
    DESC 0, 0x6E000, 0xF7, FL_BYTE32                ; 60h: DPL 3, expand-down, read/write
%endmacro

main:
    ; ---- faults and traps without an error code ----
    TRY "div by zero"
    xor ecx, ecx
    mov eax, 1
    xor edx, edx
    div ecx
    ENDTRY

    TRY "idiv overflow"
    mov eax, 0x80000000
    mov edx, 0xFFFFFFFF
    mov ecx, -1
    idiv ecx
    ENDTRY

    TRY "int3"
    int3
    ENDTRY

    TRY "int 3 (CD 03)"
    int 3
    ENDTRY

    TRY "into OF=1"
    mov al, 0x7F
    add al, 1
    into
    ENDTRY

    TRY "into OF=0"
    xor eax, eax
    into
    ENDTRY

    TRY "bound out of range"
    mov eax, 11
    bound eax, [bound_pair]
    ENDTRY

    TRY "bound in range"
    mov eax, 10
    bound eax, [bound_pair]
    ENDTRY

    TRY "ud2"
    ud2
    ENDTRY

    TRY "lock nop"
    db 0xF0, 0x90
    ENDTRY

    TRY "mov cs, ax"
    db 0x8E, 0xC8
    ENDTRY

    TRY "wait with MP TS"
    mov eax, cr0
    or eax, 0xA                         ; MP, TS
    mov cr0, eax
    wait
    ENDTRY
    clts
    TRY "wait with TS only"
    mov eax, cr0
    and eax, ~0x2
    or eax, 0x8
    mov cr0, eax
    wait
    ENDTRY
    clts

    TRY "icebp (F1)"
    db 0xF1
    ENDTRY

    ; ---- faults with an error code ----
    TRY "mov ds, not present"
    mov ax, SEL_NPDATA
    mov ds, ax
    ENDTRY

    TRY "mov ds, beyond gdt"
    mov ax, 0x0FF3
    mov ds, ax
    ENDTRY

    TRY "ss limit"
    mov ax, SEL_SS_SMALL
    mov ss, ax
    mov eax, [ss:0x90000]
    ENDTRY

    R3TRY "push below expand-down ss"
    mov ax, SEL_SS3_DOWN
    mov ss, ax
    mov esp, 0x6E002
    push eax
    R3END

    TRY "ds limit"
    mov ax, SEL_DATA16
    mov ds, ax
    mov eax, [0xFFFD]
    ENDTRY

    TRY "jmp past cs limit"
    jmp SEL_CODE0_SMALL:0x1000
    ENDTRY

    TRY "write to code"
    mov [cs:bound_pair], eax
    ENDTRY

    TRY "mov cr1"
    db 0x0F, 0x22, 0xC8                 ; mov cr1, eax
    ENDTRY

    ; (A reserved CR4 bit is #GP(0): a unit test checks it, as QEMU 7.2 loops on such a write.)

    ; ---- gates ----
    SETGATE 0x40, show_if, ACC_INT32 | DPL3
    SETGATE 0x41, show_if, ACC_TRAP32 | DPL3
    SETGATE 0x42, show_if, ACC_INT32
    TRY "int 40h interrupt gate"
    sti
    int 0x40
    cli
    ENDTRY
    TRY "int 41h trap gate"
    sti
    int 0x41
    cli
    ENDTRY

    R3TRY "ring 3 int 40h (DPL 3)"
    int 0x40
    R3END
    R3TRY "ring 3 int 42h (DPL 0)"
    int 0x42
    R3END
    R3TRY "ring 3 int3 (DPL 0)"
    int3
    R3END
    R3TRY "ring 3 into (DPL 0)"
    mov al, 0x7F
    add al, 1
    into
    R3END
    R3TRY "ring 3 icebp (DPL 0)"
    db 0xF1
    R3END
    R3TRY "ring 3 ud2 (DPL 0 gate)"
    ud2
    R3END
    SETGATE 0x03, exc_stubs + 3 * exc_stub_size, ACC_INT32 | DPL3
    R3TRY "ring 3 int3 (DPL 3)"
    int3
    R3END
    RESTORE_GATE 0x03

    ; a gate that is not present, and the serial delivery of the #NP it raises
    mov byte [idt + 0x43 * 8 + 5], 0x0E                 ; interrupt gate, P=0
    TRY "int 43h not present"
    int 0x43
    ENDTRY
    mov byte [idt + 0x43 * 8 + 5], 0x85                 ; a task gate in the IDT, for TSS 0
    mov word [idt + 0x43 * 8 + 2], 0
    TRY "int 43h task gate null"
    int 0x43
    ENDTRY
    mov byte [idt + 0x43 * 8 + 5], 0x8C                 ; a call gate: not allowed in the IDT
    TRY "int 43h call gate"
    int 0x43
    ENDTRY
    RESTORE_GATE 0x43
    mov word [idt + 0x44 * 8 + 2], SEL_CODE0_DPL3       ; the handler's code is DPL 3 > CPL 0
    TRY "int 44h to DPL 3 code"
    int 0x44
    ENDTRY
    RESTORE_GATE 0x44
    mov word [idt + 0x44 * 8 + 2], 0                    ; null code selector
    TRY "int 44h null code"
    int 0x44
    ENDTRY
    RESTORE_GATE 0x44
    mov word [idt_small], 0x44 * 8 + 6                  ; the limit ends inside gate 44h
    mov eax, [idt_ptr + 2]
    mov [idt_small + 2], eax
    lidt [idt_small]
    TRY "int 44h beyond idt limit"
    int 0x44
    ENDTRY
    TRY "int 43h inside idt limit"
    int 0x43
    ENDTRY
    lidt [idt_ptr]

    ; exceptions met while delivering another (Intel SDM Vol. 3, Table 6-5)
    mov byte [idt + 6 * 8 + 5], 0x0E                    ; #UD's gate not present
    TRY "ud2, ud gate not present"
    ud2
    ENDTRY
    RESTORE_GATE 6
    mov byte [idt + 13 * 8 + 5], 0x0E                   ; #GP's gate not present
    TRY "gp, gp gate not present"
    mov ax, 0x1234
    mov ds, ax
    ENDTRY
    RESTORE_GATE 13
    mov byte [idt + 11 * 8 + 5], 0x0E                   ; #NP's gate not present
    TRY "np, np gate not present"
    mov ax, SEL_NPDATA
    mov ds, ax
    ENDTRY
    RESTORE_GATE 11
    mov byte [idt + 0 * 8 + 5], 0x0E                    ; #DE's gate not present
    TRY "de, de gate not present"
    xor ecx, ecx
    div ecx
    ENDTRY
    RESTORE_GATE 0
    mov word [idt + 0 * 8 + 2], SEL_NPDATA              ; #DE's handler code is not code
    TRY "de, de gate to data"
    xor ecx, ecx
    div ecx
    ENDTRY
    RESTORE_GATE 0
    ; the double fault's own gate not present: shutdown is left to triple.asm

    ; ---- single-step ----
    mov dword [exc_hook], show_dr6
    TRY "tf after popf"
    pushfd
    or dword [esp], 0x100
    popfd
    nop
    nop
    ENDTRY
    TRY "tf then mov ss"
    pushfd
    or dword [esp], 0x100
    mov ax, ss
    popfd
    mov ss, ax                          ; the trap waits until after the next instruction
    nop
    nop
    ENDTRY
    TRY "tf then pop ss"
    push ss
    pushfd
    or dword [esp], 0x100
    popfd
    pop ss
    nop
    nop
    ENDTRY
    TRY "tf then int 40h"
    pushfd
    or dword [esp], 0x100
    popfd
    int 0x40                            ; the handler runs with TF clear; the trap comes after IRET's return
    nop
    nop
    ENDTRY
    TRY "tf then rep stosb"
    mov edi, watched
    mov ecx, 3
    pushfd
    or dword [esp], 0x100
    popfd
    rep stosb                           ; a trap after each iteration
    ENDTRY
    PRINT "ecx after the first step:"
    HEX32 [exc_gpr + 8]
    NL
    TRY "tf then div by zero"
    xor ecx, ecx
    pushfd
    or dword [esp], 0x100
    popfd
    div ecx                             ; a fault: no single-step trap for the instruction
    ENDTRY

    ; ---- debug registers ----
    TRY "dr0 execute"
    mov eax, bp_target
    mov dr0, eax
    mov eax, 0x00000001                 ; L0, R/W0 = 00 (execute), LEN0 = 00
    mov dr7, eax
    nop
bp_target:
    nop
    ENDTRY
    call clear_dr
    TRY "dr1 write, len 4"
    mov eax, watched + 4
    mov dr1, eax
    mov eax, 0x00D00004                 ; L1, R/W1 = 01 (write), LEN1 = 11 (4 bytes)
    mov dr7, eax
    mov eax, [watched + 4]              ; a read: no hit
    mov byte [watched + 6], 1           ; a write into the range
    nop
    ENDTRY
    call clear_dr
    TRY "dr2 read/write, len 2"
    mov eax, watched + 2
    mov dr2, eax
    mov eax, 0x07000010                 ; L2, R/W2 = 11 (read/write), LEN2 = 01 (2 bytes)
    mov dr7, eax
    mov byte [watched + 1], 2           ; next to the range: no hit
    mov eax, [watched]                  ; a read that covers it
    nop
    ENDTRY
    call clear_dr
    TRY "dr3 write, rep stosd"
    mov eax, watched + 8
    mov dr3, eax
    mov eax, 0x10000040                 ; L3, R/W3 = 01 (write), LEN3 = 00 (1 byte)
    mov dr7, eax
    mov edi, watched
    mov ecx, 4
    xor eax, eax
    rep stosd                           ; the trap comes after the iteration that wrote it
    nop
    ENDTRY
    PRINT "ecx after the rep stosd hit:"
    HEX32 [exc_gpr + 8]
    NL
    call clear_dr
    TRY "dr7.gd"
    mov eax, 0x2000                     ; GD
    mov dr7, eax
    mov eax, dr0                        ; any access to a debug register: a fault
    ENDTRY
    call clear_dr
    mov dword [exc_hook], 0
    ret

; show_dr6: the exception hook for #DB, prints DR6 (reserved bits included) and DR7, and clears DR6.
show_dr6:
    PRINT " dr6="
    mov eax, dr6
    call print_hex32
    PRINT " dr7="
    mov eax, dr7
    call print_hex32
    xor eax, eax
    mov dr6, eax
    ret

clear_dr:
    xor eax, eax
    mov dr7, eax
    mov dr6, eax
    ret

; show_if: an interrupt handler that prints IF as it finds it, then returns.
show_if:
    push eax
    pushfd
    pop eax
    shr eax, 9
    and eax, 1
    PRINT " IF="
    call print_hex8
    pop eax
    iretd

    align 8
bound_pair:     dd 0, 10
watched:        dd 0, 0, 0, 0
idt_small:      dw 0
                dd 0

%include "sys_end.inc"
