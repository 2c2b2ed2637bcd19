; Control transfer across privilege (issue 4, point 3): far JMP, CALL and RET to code
; segments (conforming and not) and through call gates (32- and 16-bit, with the stack switch
; from the TSS and the parameter copy), far RET to an outer level (SS:ESP from the stack, data
; segment registers the new CPL may not use are nulled), IRET at the same level and to an
; outer level (the EFLAGS bits each CPL may change), and their faults. IRET to virtual-8086
; mode is in v86.asm, IRET out of a nested task in tasks.asm.
%include "sys.inc"

S_CONF0     equ 0x40            ; conforming code, DPL 0
S_NPCODE    equ 0x48            ; code, not present
S_GATE3     equ 0x50            ; 32-bit call gate, DPL 3, to gate_params, 2 parameters
S_GATE0     equ 0x58            ; 32-bit call gate, DPL 0, to gate_dump
S_GATE16    equ 0x60            ; 16-bit call gate, DPL 3, to gate_dump, 2 parameters
S_GATECONF  equ 0x68            ; 32-bit call gate, DPL 3, to conforming code (no stack switch)
S_GATENP    equ 0x70            ; call gate, not present
S_GATEDATA  equ 0x78            ; call gate to a data segment
S_DATA1     equ 0x80            ; data, DPL 1
S_SMALLCODE equ 0x88            ; code, DPL 0, base 0, limit FFFFFh bytes: below the image
S_GATESMALL equ 0x90            ; call gate, DPL 3, to S_SMALLCODE beyond its limit
S_GATEJMP3  equ 0x98            ; call gate, DPL 3, to CPL 3 code (same level)
S_CODEB     equ 0xA0            ; 32-bit code, DPL 0, base BASE (a 16-bit gate reaches gate_dump through it)

%macro GDT_EXTRA 0
    DESC 0, 0xFFFFF, 0x9F, FL_32                            ; 40h
    DESC 0, 0xFFFFF, 0x1B, FL_32                            ; 48h
    GATE SEL_CODE0, ABS(gate_params), ACC_CALL32 | DPL3, 2  ; 50h
    GATE SEL_CODE0, ABS(gate_dump), ACC_CALL32, 0           ; 58h
    GATE S_CODEB, ABS(gate_dump) - BASE, ACC_CALL16 | DPL3, 2 ; 60h: offset from S_CODEB's base
    GATE S_CONF0, ABS(conf_target), ACC_CALL32 | DPL3, 0    ; 68h
    GATE SEL_CODE0, ABS(gate_dump), 0x0C | DPL3, 0          ; 70h: P=0
    GATE SEL_DATA0, ABS(gate_dump), ACC_CALL32 | DPL3, 0    ; 78h
    DESC 0, 0xFFFFF, 0xB3, FL_32                            ; 80h: DPL 1
    DESC 0, 0xFFFFF, ACC_CODE0, FL_BYTE32                   ; 88h
    GATE S_SMALLCODE, ABS(gate_dump), ACC_CALL32 | DPL3, 0  ; 90h
    GATE SEL_CODE3, ABS(jmp3_target), ACC_CALL32 | DPL3, 0  ; 98h
    DESC BASE, 0xFFFF, ACC_CODE0, FL_BYTE32                 ; A0h
%endmacro

main:
    ; ---- direct far transfers at CPL 0 ----
    TRY "jmp far same level"
    jmp SEL_CODE0:.j1
    ud2
.j1:
    ENDTRY
    TRY "call far and retf"
    mov ebx, esp
    call SEL_CODE0:far_proc
    PRINT " esp back:"
    sub ebx, esp
    HEX32 ebx
    ENDTRY
    TRY "call far and retf 8"
    push dword 0x1111
    push dword 0x2222
    mov ebx, esp
    call SEL_CODE0:far_proc8
    PRINT " released:"
    sub ebx, esp
    neg ebx
    HEX32 ebx
    ENDTRY
    TRY "jmp far to dpl 3 code"
    jmp SEL_CODE3:.j2
.j2:
    ENDTRY
    TRY "jmp far rpl 1"
    jmp (SEL_CODE0 | 1):.j3
.j3:
    ENDTRY
    TRY "jmp far conforming"
    jmp S_CONF0:.j4
.j4:
    mov ax, cs
    PRINT " cs="
    HEX16 ax
    jmp SEL_CODE0:.j4b
.j4b:
    ENDTRY
    TRY "call far not present"
    call S_NPCODE:0
    ENDTRY
    TRY "jmp far data"
    jmp SEL_DATA0:0
    ENDTRY
    TRY "jmp far null"
    jmp 0:0
    ENDTRY
    TRY "jmp far beyond limit"
    jmp S_SMALLCODE:0x100000
    ENDTRY
    TRY "jmp far tss busy"
    jmp SEL_TSS:0
    ENDTRY

    ; ---- 16-bit far CALL, RETF and IRET (code below 64 KiB in S_CODEB) ----
    TRY "16-bit call far, retf, iret"
    jmp S_CODEB:(.c16 - BASE)
.c16:
    mov ebx, esp
    call word S_CODEB:(far16 - BASE)    ; pushes CS and IP, a word each
    sub ebx, esp
    PRINT " esp back:"
    HEX32 ebx
    mov ebx, esp
    pushfw
    o16 push cs
    push word .i16 - BASE
    iretw
.i16:
    PRINT " after iretw:"
    sub ebx, esp
    HEX32 ebx
    mov ax, cs
    HEX16 ax
    jmp SEL_CODE0:.c32
.c32:
    ENDTRY

    ; ---- call gates ----
    R3TRY "ring 3 call gate, 2 parameters"
    push dword 0xAAAA0001
    push dword 0xBBBB0002
    call (S_GATE3 | 3):0xFFFF           ; the offset is ignored
    ; back at CPL 3 from gate_params' RETF 8
    PRINT "  back at cpl 3:"
    mov ax, cs
    HEX16 ax
    mov ax, ss
    HEX16 ax
    HEXESP
    mov ax, es
    PRINT " es="
    HEX16 ax
    mov ax, fs
    PRINT " fs="
    HEX16 ax
    mov ax, gs
    PRINT " gs="
    HEX16 ax
    NL
    R3END

    R3TRY "ring 3 call gate dpl 0"
    call (S_GATE0 | 3):0
    R3END
    TRY "call gate rpl 3 > dpl 0"
    call (S_GATE0 | 3):0
    ENDTRY
    TRY "call gate dpl 0 at cpl 0"
    mov dword [dump_words], 2
    call S_GATE0:0
    ENDTRY
    R3TRY "ring 3 jmp gate to cpl 0"
    jmp (S_GATE3 | 3):0
    R3END
    R3TRY "ring 3 jmp gate to cpl 3"
    jmp (S_GATEJMP3 | 3):0
    R3END
    R3TRY "ring 3 call gate not present"
    call (S_GATENP | 3):0
    R3END
    R3TRY "ring 3 call gate to data"
    call (S_GATEDATA | 3):0
    R3END
    R3TRY "ring 3 call gate beyond limit"
    call (S_GATESMALL | 3):0
    R3END
    R3TRY "ring 3 call gate conforming"
    call (S_GATECONF | 3):0
    R3END
    R3TRY "ring 3 call gate 16-bit"
    mov dword [dump_words], -1          ; 16-bit words up to ESP0
    push dword 0xCCCC0003
    push dword 0xDDDD0004
    call (S_GATE16 | 3):0
    R3END
    mov dword [dump_words], 0

    ; ---- far RET to an outer level, and its faults ----
    TRY "retf to cpl 3, nulling"
    mov ax, SEL_DATA0
    mov es, ax
    mov ax, S_DATA1
    mov fs, ax
    mov ax, SEL_DATA3
    mov gs, ax
    mov ax, S_CONF0
    mov ds, ax                          ; conforming code stays
    push dword SEL_DATA3
    push dword STACK3_TOP - 16
    push dword SEL_CODE3
    push dword .r3
    retf
.r3:
    PRINT " cpl 3:"
    mov ax, ds
    HEX16 ax
    mov ax, es
    HEX16 ax
    mov ax, fs
    HEX16 ax
    mov ax, gs
    HEX16 ax
    HEXESP
    mov ax, SEL_DATA3
    mov ds, ax
    mov es, ax
    NL
    int 0x7F                            ; back to CPL 0 through the probe's exit
    ENDTRY
    TRY "retf to cpl 3, ss rpl 0"
    push dword SEL_DATA0
    push dword STACK3_TOP
    push dword SEL_CODE3
    push dword 0
    PUSHED 4
    retf
    ENDTRY
    TRY "retf to cpl 3, ss dpl 0"
    push dword SEL_DATA0 | 3
    push dword STACK3_TOP
    push dword SEL_CODE3
    push dword 0
    PUSHED 4
    retf
    ENDTRY
    TRY "retf to cpl 3, null ss"
    push dword 3
    push dword STACK3_TOP
    push dword SEL_CODE3
    push dword 0
    PUSHED 4
    retf
    ENDTRY
    R3TRY "ring 3 retf to cpl 0"
    push dword SEL_CODE0
    push dword 0
    retf
    R3END
    R3TRY "ring 3 retf cs rpl 3 dpl 0"
    push dword SEL_CODE0 | 3
    push dword 0
    retf
    R3END

    ; ---- IRET ----
    TRY "iret same level"
    pushfd
    push dword SEL_CODE0
    push dword .i1
    iretd
.i1:
    ENDTRY
    R3TRY "ring 3 iret, if and iopl"
    pushfd
    or dword [esp], 0x3200              ; IF, IOPL 3
    push dword SEL_CODE3
    push dword .i2
    iretd
.i2:
    FLAGS 0x3200
    R3END
    TRY "iret to cpl 3, iopl 3 and if"
    mov ax, SEL_DATA0
    mov es, ax
    mov ax, SEL_DATA3
    mov ds, ax
    push dword SEL_DATA3
    push dword STACK3_TOP
    push dword 0x3202                   ; IOPL 3, IF
    push dword SEL_CODE3
    push dword .i3
    iretd
.i3:
    FLAGS 0x3200
    mov ax, es
    PRINT " es="
    HEX16 ax
    cli                                 ; IOPL 3: allowed at CPL 3
    int 0x7F
    ENDTRY
    push dword 0x2                      ; IOPL 0 again
    popfd
    TRY "iret to cpl 3, ss rpl 0"
    push dword SEL_DATA0
    push dword STACK3_TOP
    push dword 0x2
    push dword SEL_CODE3
    push dword 0
    PUSHED 5
    iretd
    ENDTRY
    TRY "iret to cpl 3, cs not present"
    push dword SEL_DATA3
    push dword STACK3_TOP
    push dword 0x2
    push dword S_NPCODE | 3
    push dword 0
    PUSHED 5
    iretd
    ENDTRY
    R3TRY "ring 3 iret to cpl 0"
    pushfd
    push dword SEL_CODE0
    push dword 0
    iretd
    R3END
    ret

; far_proc: prints what CALL FAR pushed and returns.
far_proc:
    mov ebp, esp
    PRINT " pushed:"
    HEX32 [ebp]
    HEX32 [ebp + 4]
    retf
far_proc8:
    retf 8
far16:                                  ; reached by a 16-bit far CALL (CS = S_CODEB)
    mov ebp, esp
    PRINT " pushed:"
    HEX16 [ebp]
    HEX16 [ebp + 2]
    o16 retf

; gate_params: a CPL 0 procedure behind a call gate with two parameters: prints the stack,
; loads ES with DPL 0 data, FS with DPL 1 data and GS with DPL 3 data, and returns.
gate_params:
    mov ax, cs
    PRINT " cs="
    HEX16 ax
    mov ax, ss
    PRINT " ss="
    HEX16 ax
    PRINT " esp="
    HEXESP
    mov ebp, esp
    PRINT " frame:"
    HEX32 [ebp]
    HEX32 [ebp + 4]
    HEX32 [ebp + 8]
    HEX32 [ebp + 12]
    HEX32 [ebp + 16]
    HEX32 [ebp + 20]
    NL
    mov ax, SEL_DATA0
    mov es, ax
    mov ax, S_DATA1
    mov fs, ax
    mov ax, SEL_DATA3
    mov gs, ax
    retf 8

; gate_dump: prints the stack it was entered with (dump_words dwords, or with -1 the 16-bit
; words up to ESP0) and CS, then ends the probe.
gate_dump:
    mov ebp, esp
    mov ax, SEL_DATA0
    mov ds, ax
    mov ax, cs
    PRINT " cs="
    HEX16 ax
    PRINT " stack:"
    mov ecx, [dump_words]
    cmp ecx, -1
    je .words
    jecxz .done
.dword:
    HEX32 [ebp]
    add ebp, 4
    loop .dword
    jmp .done
.words:
    HEX16 [ebp]
    add ebp, 2
    cmp ebp, STACK0_TOP
    jb .words
.done:
    jmp SEL_CODE0:try_ok                ; (CS may be S_CODEB)

conf_target:                            ; reached through a gate to conforming code
    mov ax, cs
    PRINT " cs="
    HEX16 ax
    PRINT " esp="
    HEXESP
    jmp r3_exit

jmp3_target:
    mov ax, cs
    PRINT " cs="
    HEX16 ax
r3_exit:
    int 0x7F

    align 4
dump_words:     dd 0

%include "sys_end.inc"
