; Task switches (issue 4, point 5): CALL, JMP, INT (task gate in the IDT), an exception
; through a task gate (its error code on the new task's stack) and IRET out of a nested task,
; with 32- and 16-bit TSSs; busy bits, EFLAGS.NT and the back link; CR0.TS; the CR3 and LDTR
; loads; the checks on the new TSS (#GP busy, #TS limit, #NP); the I/O permission bitmap for
; IN, OUT, INS and OUTS when CPL > IOPL.
%include "sys.inc"

S_TSSB      equ 0x40
S_TSSC      equ 0x48            ; 16-bit
S_GATEB     equ 0x50            ; task gate to B
S_TSSD      equ 0x58            ; the #GP task
S_TSSSMALL  equ 0x60            ; limit 50h
S_TSSNP     equ 0x68            ; not present
S_CODEB     equ 0x70            ; 32-bit code, base BASE
S_LDTB      equ 0x78            ; task B's LDT
S_TSSF      equ 0x80            ; a TSS whose CS is a data segment
S_TSSE      equ 0x88            ; the #TS task
S_TSSG      equ 0x90            ; a task with the T (debug trap) bit
S_TSSH      equ 0x98            ; the #DB task
S_TSSR      equ 0xA0            ; the #TS task that resumes the probe
S_TSSS      equ 0xA8            ; the #SS task that resumes the probe
S_GATE3     equ 0xB0            ; a call gate to CPL 0 with one parameter
S_NPDATA    equ 0xB8
S_SMALL     equ 0xC0

PD1         equ 0x400000        ; identity
PD2         equ 0x401000        ; 8-12 MiB map to 12-16 MiB

%macro GDT_EXTRA 0
    DESC ABS(tss_b), 103, ACC_TSS32, 0              ; 40h
    DESC ABS(tss_c), 43, ACC_TSS16, 0               ; 48h
    GATE S_TSSB, 0, ACC_TASKGATE, 0                 ; 50h
    DESC ABS(tss_d), 103, ACC_TSS32, 0              ; 58h
    DESC ABS(tss_f), 0x50, ACC_TSS32, 0             ; 60h
    DESC ABS(tss_f), 103, 0x09, 0                   ; 68h: P=0
    DESC BASE, 0xFFFF, ACC_CODE0, FL_BYTE32         ; 70h
    DESC ABS(ldt_b), 7, ACC_LDT, 0                  ; 78h
    DESC ABS(tss_f), 103, ACC_TSS32, 0              ; 80h
    DESC ABS(tss_e), 103, ACC_TSS32, 0              ; 88h
    DESC ABS(tss_g), 103, ACC_TSS32, 0              ; 90h
    DESC ABS(tss_h), 103, ACC_TSS32, 0              ; 98h
    DESC ABS(tss_r), 103, ACC_TSS32, 0              ; A0h
    DESC ABS(tss_s), 103, ACC_TSS32, 0              ; A8h
    GATE SEL_CODE0, 0, ACC_CALL32 | DPL3, 1         ; B0h (never reached)
    DESC 0, 0xFFFFF, 0x13, FL_32                    ; B8h: data, not present
    DESC 0, 0xFFF, ACC_DATA0, FL_BYTE32             ; C0h: data, limit FFFh
%endmacro

; BUSY: prints the busy bit (type bit 1) of each TSS descriptor: A (28h), B, C
%macro BUSY 0
    PRINT " busy"
    HEX8 [gdt + SEL_TSS + 5]
    HEX8 [gdt + S_TSSB + 5]
    HEX8 [gdt + S_TSSC + 5]
%endmacro

main:
    ; paging, so that a task switch has a CR3 to load: PD1 identity, PD2 maps 8 MiB elsewhere
    mov dword [0x800000], 0x11111111
    mov dword [0xC00000], 0x22222222
    mov edi, PD1
    mov ecx, 2048
    xor eax, eax
    rep stosd
    mov dword [PD1 + 0], 0x000000 | 0x87
    mov dword [PD1 + 4], 0x400000 | 0x87
    mov dword [PD1 + 8], 0x800000 | 0x87
    mov dword [PD1 + 12], 0xC00000 | 0x87
    mov dword [PD2 + 0], 0x000000 | 0x87
    mov dword [PD2 + 4], 0x400000 | 0x87
    mov dword [PD2 + 8], 0xC00000 | 0x87
    mov dword [PD2 + 12], 0xC00000 | 0x87
    mov eax, PD1
    mov cr3, eax
    mov [tss0 + 28], eax                ; the CR3 task A gets back
    mov eax, cr4
    or eax, 0x10
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax

    ; task B: 32-bit TSS, CPL 0, its own CR3, LDT and stack
    mov dword [tss_b + 28], PD2
    mov dword [tss_b + 32], task_b
    mov dword [tss_b + 36], 0x2
    mov dword [tss_b + 56], 0x5F000     ; ESP
    mov dword [tss_b + 76], SEL_CODE0
    mov eax, SEL_DATA0
    mov [tss_b + 72], eax
    mov [tss_b + 80], eax
    mov [tss_b + 84], eax
    mov [tss_b + 88], eax
    mov [tss_b + 92], eax
    mov dword [tss_b + 96], S_LDTB
    mov word [tss_b + 102], 104         ; no I/O bitmap
    ; task C: 16-bit TSS; CS has base BASE so that its IP fits in 16 bits
    mov word [tss_c + 14], task_c - BASE
    mov word [tss_c + 16], 0x2
    mov word [tss_c + 26], 0xE000       ; SP
    mov word [tss_c + 34], SEL_DATA0    ; ES
    mov word [tss_c + 36], S_CODEB      ; CS
    mov word [tss_c + 38], SEL_DATA0    ; SS
    mov word [tss_c + 40], SEL_DATA0    ; DS
    ; task D: handles #GP through a task gate
    mov dword [tss_d + 28], PD1
    mov dword [tss_d + 32], task_d
    mov dword [tss_d + 36], 0x2
    mov dword [tss_d + 56], 0x5E000
    mov dword [tss_d + 76], SEL_CODE0
    mov eax, SEL_DATA0
    mov [tss_d + 72], eax
    mov [tss_d + 80], eax
    mov [tss_d + 84], eax
    mov [tss_d + 88], eax
    mov [tss_d + 92], eax
    ; task E: handles #TS through a task gate
    mov dword [tss_e + 28], PD1
    mov dword [tss_e + 32], task_e
    mov dword [tss_e + 36], 0x2
    mov dword [tss_e + 56], 0x5B000
    mov dword [tss_e + 76], SEL_CODE0
    mov eax, SEL_DATA0
    mov [tss_e + 72], eax
    mov [tss_e + 80], eax
    mov [tss_e + 84], eax
    mov [tss_e + 88], eax
    mov [tss_e + 92], eax
    ; tasks G (T bit set) and H (#DB through a task gate)
    mov ebx, tss_g
    mov eax, task_g
    mov edx, 0x5A000
    call init_tss
    mov word [tss_g + 100], 1           ; T
    mov ebx, tss_h
    mov eax, task_h
    mov edx, 0x59000
    call init_tss
    ; tasks R and S: #TS and #SS from a call gate's stack switch
    mov ebx, tss_r
    mov eax, task_r
    mov edx, 0x58000
    call init_tss
    mov ebx, tss_s
    mov eax, task_s
    mov edx, 0x57000
    call init_tss
    ; task F: CS is a data segment
    mov dword [tss_f + 28], PD1
    mov dword [tss_f + 32], task_b
    mov dword [tss_f + 36], 0x2
    mov dword [tss_f + 56], 0x5C000     ; ESP
    mov dword [tss_f + 76], SEL_DATA0   ; CS: a data segment
    mov eax, SEL_DATA0
    mov [tss_f + 72], eax
    mov [tss_f + 80], eax
    mov [tss_f + 84], eax
    mov [tss_f + 88], eax
    mov [tss_f + 92], eax

    ; ---- CALL to a TSS, IRET back ----
    PRINT "before:"
    BUSY
    NL
    TRY "call tss b"
    mov esi, 0x5151A0A0
    call S_TSSB:0
    PRINT " back in a:"
    HEX32 esi
    pushfd
    pop eax
    and eax, 0x4000
    PRINT " nt="
    HEX32 eax
    mov eax, cr0
    and eax, 8
    PRINT " ts="
    HEX32 eax
    BUSY
    str ax
    PRINT " tr="
    HEX16 ax
    ENDTRY
    PRINT "tss b saved:"
    HEX32 [tss_b + 36]                  ; EFLAGS: NT cleared by the IRET
    HEX32 [tss_b + 44]                  ; ECX
    NL
    clts

    ; ---- JMP to a TSS and back ----
    TRY "jmp tss b"
    jmp S_TSSB:0
.back:
    PRINT " back in a:"
    BUSY
    pushfd
    pop eax
    and eax, 0x4000
    PRINT " nt="
    HEX32 eax
    ENDTRY
    clts

    ; ---- task gates ----
    TRY "call task gate"
    call S_GATEB:0
    PRINT " back"
    ENDTRY
    SETGATE 0x50, 0, ACC_TASKGATE
    mov word [idt + 0x50 * 8 + 2], S_TSSB
    TRY "int 50h task gate"
    int 0x50
    PRINT " back"
    ENDTRY
    mov word [idt + 13 * 8 + 2], S_TSSD
    mov byte [idt + 13 * 8 + 5], ACC_TASKGATE
    TRY "gp through a task gate"
    mov ax, 0x1234
    mov ds, ax
    ENDTRY
    RESTORE_GATE 13
    clts

    ; ---- 16-bit TSS ----
    TRY "call tss16"
    call S_TSSC:0
    PRINT " back"
    BUSY
    ENDTRY
    PRINT "tss c saved ip/flags:"
    HEX16 [tss_c + 14]
    HEX16 [tss_c + 16]
    NL
    clts

    ; ---- checks on the new TSS ----
    TRY "call busy tss"
    call SEL_TSS:0
    ENDTRY
    TRY "jmp busy tss b"
    or byte [gdt + S_TSSB + 5], 2
    jmp S_TSSB:0
    ENDTRY
    and byte [gdt + S_TSSB + 5], ~2
    TRY "call tss limit 50h"
    call S_TSSSMALL:0
    ENDTRY
    TRY "call tss not present"
    call S_TSSNP:0
    ENDTRY
    TRY "call tss through ldt"
    call 0x0C:0
    ENDTRY
    TRY "iret to a tss not busy"
    pushfd
    or dword [esp], 0x4000              ; NT
    popfd
    mov word [tss0], S_TSSC             ; back link: C, which is not busy
    iretd
    ENDTRY
    push dword 2
    popfd

    ; ---- the T bit: a debug trap once the switch is done, before the task's first instruction ----
    mov word [idt + 1 * 8 + 2], S_TSSH
    mov byte [idt + 1 * 8 + 5], ACC_TASKGATE
    TRY "call tss with the t bit"
    call S_TSSG:0
    PRINT " back"
    ENDTRY
    RESTORE_GATE 1
    clts

    ; ---- the stack a call gate switches to is checked: #TS or #SS in the caller's context,
    ; delivered here to tasks, which send the caller on after its probe at CPL 0 ----
    mov word [idt + 10 * 8 + 2], S_TSSR
    mov byte [idt + 10 * 8 + 5], ACC_TASKGATE
    mov word [idt + 12 * 8 + 2], S_TSSS
    mov byte [idt + 12 * 8 + 5], ACC_TASKGATE
    mov word [tss0 + 8], 0
    R3TRY "call gate, ss0 null"
    push eax
    call (S_GATE3 | 3):0
    R3END
    mov word [tss0 + 8], SEL_DATA3
    R3TRY "call gate, ss0 rpl 3"
    push eax
    call (S_GATE3 | 3):0
    R3END
    mov word [tss0 + 8], S_NPDATA
    R3TRY "call gate, ss0 not present"
    push eax
    call (S_GATE3 | 3):0
    R3END
    ; (A frame that does not fit below the new stack's limit is #SS(new SS) too: QEMU ignores
    ; the limit and goes on to a triple fault, so that case is a unit test.)
    RESTORE_GATE 10
    RESTORE_GATE 12

    ; ---- the I/O permission bitmap at CPL 3, IOPL 0 ----
    R3TRY "ring 3 out e9h (allowed)"
    mov al, '.'
    out 0xE9, al
    R3END
    R3TRY "ring 3 in 80h"
    in al, 0x80
    R3END
    R3TRY "ring 3 out word e8h"
    mov ax, 0x2E2E
    out 0xE8, ax
    R3END
    R3TRY "ring 3 out word e9h"
    mov ax, 0x2E2E
    out 0xE9, ax                        ; E9h allowed, EAh not
    R3END
    R3TRY "ring 3 outsb e9h"
    mov esi, dot
    mov dx, 0xE9
    outsb
    R3END
    R3TRY "ring 3 insb 80h"
    mov edi, scratch
    mov dx, 0x80
    insb
    R3END
    mov word [tss0 + 102], 0xF000       ; the bitmap base beyond the TSS limit: no port allowed
    R3TRY "ring 3 out e9h, no bitmap"
    mov al, '.'
    out 0xE9, al
    R3END
    mov word [tss0 + 102], tss0_iomap - tss0
    pushfd
    or dword [esp], 0x3000              ; IOPL 3: no bitmap check
    popfd
    R3TRY "ring 3 in 80h, iopl 3"
    in al, 0x80
    R3END
    push dword 2
    popfd

    ; ---- last: a bad CS in the new TSS faults in the new task, before its segment registers
    ; are usable: the #TS goes to a task (Intel SDM Vol. 3, 6.15, #TS: "the handler must be a
    ; task"), which ends the program.
    mov word [idt + 10 * 8 + 2], S_TSSE
    mov byte [idt + 10 * 8 + 5], ACC_TASKGATE
    PRINT "call tss with a data cs:"
    call S_TSSF:0
    PRINTLN " not reached"
    ret

task_b:
    ; the first entry comes from CALL: nested
    call task_report
    iretd
    ; the second from JMP
    call task_report
    jmp SEL_TSS:0
    ; the third from CALL through the task gate, the fourth from INT 50h
    call task_report
    iretd
    call task_report
    iretd

; task_report: what task B sees when it starts
task_report:
    PRINT " in b:"
    str ax
    PRINT " tr="
    HEX16 ax
    PRINT " link="
    HEX16 [tss_b]
    pushfd
    pop eax
    and eax, 0x4000
    PRINT " nt="
    HEX32 eax
    mov eax, cr0
    and eax, 8
    PRINT " ts="
    HEX32 eax
    mov eax, cr3
    PRINT " cr3="
    HEX32 eax
    sldt ax
    PRINT " ldtr="
    HEX16 ax
    PRINT " [8M]="
    HEX32 [0x800000]
    BUSY
    mov ecx, 0xB0B0B0B0
    ret

; init_tss: EBX = a 32-bit TSS, EAX = EIP, EDX = ESP: CPL 0, flat, PD1, no LDT
init_tss:
    mov dword [ebx + 28], PD1
    mov [ebx + 32], eax
    mov dword [ebx + 36], 0x2
    mov [ebx + 56], edx
    mov dword [ebx + 76], SEL_CODE0
    mov eax, SEL_DATA0
    mov [ebx + 72], eax
    mov [ebx + 80], eax
    mov [ebx + 84], eax
    mov [ebx + 88], eax
    mov [ebx + 92], eax
    mov word [ebx + 102], 104
    ret

; task_r, task_s: #TS and #SS met by a CPL 3 probe: report, put the main TSS's stack back,
; and send the task that faulted on after its probe, at CPL 0.
task_r:
    PRINT " #TS task: err"
    HEX32 [0x58000 - 4]
    call resume_probe
    mov esp, 0x58000
    iretd
    jmp task_r
task_s:
    PRINT " #SS task: err"
    HEX32 [0x57000 - 4]
    call resume_probe
    mov esp, 0x57000
    iretd
    jmp task_s
resume_probe:
    PRINT " caller cs:eip"
    HEX16 [tss0 + 76]
    mov eax, [tss0 + 32]
    sub eax, [try_ip]
    HEX32 eax
    PRINT " esp"
    HEX32 [tss0 + 56]
    NL
    mov dword [tss0 + 4], STACK0_TOP
    mov dword [tss0 + 8], SEL_DATA0
    mov eax, [try_resume]
    mov [tss0 + 32], eax
    mov dword [tss0 + 36], 0x2
    mov eax, [try_esp]
    mov [tss0 + 56], eax
    mov dword [tss0 + 76], SEL_CODE0
    mov eax, SEL_DATA0
    mov [tss0 + 72], eax
    mov [tss0 + 80], eax
    mov [tss0 + 84], eax
    mov [tss0 + 88], eax
    mov [tss0 + 92], eax
    ret

task_g:
    PRINT " in g"
    iretd
    jmp task_g

task_h:                                 ; #DB through a task gate
    PRINT " in h: dr6"
    mov eax, dr6
    HEX32 eax
    PRINT " link="
    HEX16 [tss_h]
    PRINT " g's saved eip from its start"
    mov eax, [tss_g + 32]
    sub eax, task_g
    HEX32 eax
    xor eax, eax
    mov dr6, eax
    mov word [tss_g + 100], 0           ; else the IRET back to G, a task switch to G, traps again
    iretd
    jmp task_h

task_c:                                 ; runs with CS base BASE: relative jumps and calls only
    mov esp, 0x5D000                    ; the TSS set SP only
    PRINT " in c:"
    str ax
    HEX16 ax
    HEX16 [tss_c]
    iretd

task_d:                                 ; #GP through a task gate: the error code is on this stack
    PRINT " in d: err"
    HEX32 [0x5E000 - 4]
    PRINT " link="
    HEX16 [tss_d]
    mov eax, [try_resume]               ; resume task A after the probe, not at the fault
    mov [tss0 + 32], eax
    mov esp, 0x5E000                    ; for the next #GP
    NL
    iretd
    jmp task_d

task_e:                                 ; #TS through a task gate: the error code is on this stack
    PRINT " in e: err"
    HEX32 [0x5B000 - 4]
    PRINT " link="
    HEX16 [tss_e]
    PRINT " busy"
    HEX8 [gdt + S_TSSF + 5]
    NL
    PRINT "f's saved eip, from its first instruction:"
    mov eax, [tss_f + 32]
    sub eax, task_b
    HEX32 eax
    NL
    jmp exit_pass

    align 16
tss_g:  times 104 db 0
tss_r:  times 104 db 0
tss_s:  times 104 db 0
tss_h:  times 104 db 0
tss_e:  times 104 db 0
tss_b:  times 104 db 0
tss_c:  times 44 db 0
    align 16
tss_d:  times 104 db 0
tss_f:  times 104 db 0
ldt_b:  DESC 0, 0xFFFFF, ACC_DATA0, FL_32
dot:    db '.'
scratch: db 0

%include "sys_end.inc"
