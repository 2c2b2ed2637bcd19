; Segmentation (issue 4, point 2): loads of DS/ES/FS/GS/SS by MOV, POP, LDS/LES/LFS/LGS/LSS
; with the checks of Intel SDM Vol. 3, 5.5-5.7 and their exact faults and error codes; the
; accessed bit; the LDT; null selectors; limit and type checks on accesses, expand-down
; segments (16- and 32-bit); conforming code; CPL/DPL/RPL; ARPL, LAR, LSL, VERR, VERW.
%include "sys.inc"

S_RODATA    equ 0x40
S_XCODE     equ 0x48            ; execute-only code
S_RCODE     equ 0x50            ; execute/read code
S_CONF      equ 0x58            ; conforming execute/read code, DPL 0
S_NPDATA    equ 0x60
S_DATA3     equ 0x68            ; DPL 3 data
S_DOWN16    equ 0x70            ; expand-down, B=0, limit 0FFFh
S_DOWN32    equ 0x78            ; expand-down, B=1, limit 0FFFh
S_LDT       equ 0x80
S_CALLGATE  equ 0x88
S_TASKGATE  equ 0x90
S_TSS16     equ 0x98
S_PAGEGRAN  equ 0xA0            ; limit 0Fh with G=1
S_FRESH     equ 0xA8            ; data, accessed bit clear
S_XCONF     equ 0xB0            ; conforming execute-only code
S_INTGATE   equ 0xB8            ; an interrupt gate in the GDT
S_SMALL     equ 0xC0            ; data, base 0, limit 0FFFh, B=1
S_CONF3     equ 0xC8            ; conforming execute/read code, DPL 3

L_DATA      equ 0x04            ; LDT entry 0: data, DPL 0
L_DATA3     equ 0x0F            ; LDT entry 1: data, DPL 3, RPL 3
L_NP        equ 0x14            ; LDT entry 2: not present

%macro GDT_EXTRA 0
    DESC 0, 0xFFFFF, 0x91, FL_32                ; 40h
    DESC 0, 0xFFFFF, 0x99, FL_32                ; 48h
    DESC 0, 0xFFFFF, 0x9B, FL_32                ; 50h
    DESC 0, 0xFFFFF, 0x9F, FL_32                ; 58h
    DESC 0, 0xFFFFF, 0x13, FL_32                ; 60h
    DESC 0, 0xFFFFF, ACC_DATA3, FL_32           ; 68h
    DESC 0, 0xFFF, 0x97, FL_16                  ; 70h
    DESC 0, 0xFFF, 0x97, FL_BYTE32              ; 78h
    DESC ABS(ldt), ldt_end - ldt - 1, ACC_LDT, 0 ; 80h
    GATE SEL_CODE0, 0x1234, ACC_CALL32 | DPL3, 2 ; 88h
    GATE SEL_TSS, 0, ACC_TASKGATE, 0            ; 90h
    DESC 0x9000, 0x2B, ACC_TSS16, 0             ; 98h
    DESC 0, 0x0000F, 0x93, 0x80                 ; A0h: G=1
    DESC 0, 0xFFFFF, 0x92, FL_32                ; A8h
    DESC 0, 0xFFFFF, 0x9D, FL_32                ; B0h
    GATE SEL_CODE0, 0x1234, ACC_INT32, 0        ; B8h
    DESC 0, 0xFFF, ACC_DATA0, FL_BYTE32         ; C0h
    DESC 0, 0xFFFFF, 0xFF, FL_32                ; C8h
%endmacro

; LOADSEG "name", sreg, selector: a probe that loads the segment register with MOV
%macro LOADSEG 3
    TRY %1
    mov ax, %3
    mov %2, ax
    ENDTRY
%endmacro

; INSPECT "name", instruction (ECX destination, AX source), selector: prints ZF and ECX
%macro INSPECT 3
    mov ecx, 0xDEADBEEF
    mov ax, %3
    %2
    PRINT %1
    FLAGS 0x40
    HEX32 ecx
    NL
%endmacro

main:
    ; ---- MOV Sreg at CPL 0 ----
    LOADSEG "ds null", ds, 0
    LOADSEG "ds null rpl 3", ds, 3
    LOADSEG "ss null", ss, 0
    LOADSEG "ds read-only data", ds, S_RODATA
    LOADSEG "ds execute-only code", ds, S_XCODE
    LOADSEG "ds readable code", ds, S_RCODE
    LOADSEG "ds conforming code", ds, S_CONF
    LOADSEG "ds conforming execute-only", ds, S_XCONF
    LOADSEG "ds not present", ds, S_NPDATA
    LOADSEG "ds ldt descriptor", ds, S_LDT
    LOADSEG "ds call gate", ds, S_CALLGATE
    LOADSEG "ds beyond gdt", ds, 0x1000
    xor eax, eax
    lldt ax                             ; a null LDTR: every LDT reference faults
    LOADSEG "ds ldt while ldtr null", ds, L_DATA
    LOADSEG "ds dpl 3 rpl 3", ds, S_DATA3 | 3
    LOADSEG "ss read-only data", ss, S_RODATA
    LOADSEG "ss code", ss, S_RCODE
    LOADSEG "ss dpl 3", ss, S_DATA3
    LOADSEG "ss rpl 3", ss, SEL_DATA0 | 3
    LOADSEG "ss not present", ss, S_NPDATA
    LOADSEG "ss expand-down", ss, S_DOWN32
    LOADSEG "es rpl 1 on dpl 0", es, SEL_DATA0 | 1
    LOADSEG "fs rpl 3 on conforming", fs, S_CONF | 3
    LOADSEG "gs tss", gs, SEL_TSS

    ; the accessed bit is set by the load
    PRINT "access byte before:"
    HEX8 [gdt + S_FRESH + 5]
    NL
    LOADSEG "gs fresh", gs, S_FRESH
    PRINT "access byte after:"
    HEX8 [gdt + S_FRESH + 5]
    NL

    ; ---- the LDT ----
    TRY "lldt"
    mov ax, S_LDT
    lldt ax
    ENDTRY
    LOADSEG "ds ldt entry", ds, L_DATA
    LOADSEG "ds ldt dpl 3", ds, L_DATA3
    LOADSEG "ds ldt not present", ds, L_NP
    LOADSEG "ds beyond ldt", ds, 0x1C
    TRY "lldt with a data selector"
    mov ax, S_RODATA
    lldt ax
    ENDTRY
    TRY "lldt from the ldt"
    mov ax, L_DATA
    lldt ax
    ENDTRY
    PRINT "sldt:"
    mov ecx, 0xFFFFFFFF
    sldt ecx
    HEX32 ecx
    NL

    ; ---- other loads: POP, LDS..LSS; nothing changes on a fault ----
    push dword S_NPDATA
    TRY "pop ds not present"
    pop ds
    ENDTRY
    add esp, 4
    TRY "les not present"
    mov esi, 0x11111111
    les esi, [farptr_np]
    ENDTRY
    PRINT "esi after the failed les:"
    HEX32 esi
    NL
    TRY "lfs ok"
    lfs esi, [farptr_ok]
    mov cx, fs
    PRINT " fs="
    HEX16 cx
    HEX32 esi
    ENDTRY
    TRY "lss rpl 3"
    lss esp, [farptr_rpl3]
    ENDTRY

    ; ---- accesses: null, limits, types, expand-down ----
    TRY "read through null ds"
    xor eax, eax
    mov ds, ax
    mov eax, [0]
    ENDTRY
    TRY "read through null fs"
    xor eax, eax
    mov fs, ax
    mov eax, [fs:0]
    ENDTRY
    TRY "write read-only data"
    mov ax, S_RODATA
    mov es, ax
    mov dword [es:scratch], 1
    ENDTRY
    TRY "read read-only data"
    mov ax, S_RODATA
    mov es, ax
    mov eax, [es:scratch]
    ENDTRY
    TRY "read readable code"
    mov ax, S_RCODE
    mov es, ax
    mov eax, [es:scratch]
    ENDTRY
    TRY "read code via cs"
    mov eax, [cs:scratch]
    ENDTRY
    TRY "small limit last byte"
    mov ax, S_SMALL
    mov es, ax
    mov al, [es:0xFFF]
    ENDTRY
    TRY "small limit dword at ffe"
    mov ax, S_SMALL
    mov es, ax
    mov eax, [es:0xFFE]
    ENDTRY
    TRY "page granular limit"
    mov ax, S_PAGEGRAN
    mov es, ax
    mov eax, [es:0xFFFC]
    mov eax, [es:0xFFFD]
    ENDTRY
    TRY "down16 at limit"
    mov ax, S_DOWN16
    mov es, ax
    mov al, [es:0xFFF]
    ENDTRY
    TRY "down16 above limit"
    mov ax, S_DOWN16
    mov es, ax
    mov al, [es:0x1000]
    mov ax, [es:0xFFFE]
    ENDTRY
    TRY "down16 word at ffff"
    mov ax, S_DOWN16
    mov es, ax
    mov ax, [es:0xFFFF]
    ENDTRY
    TRY "down32 high"
    mov ax, S_DOWN32
    mov es, ax
    mov ebx, 0x10000
    mov eax, [es:ebx]
    mov ebx, 0xFFFFFFFC
    mov eax, [es:ebx]
    ENDTRY
    TRY "down32 at limit"
    mov ax, S_DOWN32
    mov es, ax
    mov eax, [es:0xFFE]
    ENDTRY

    ; ---- CPL 3 ----
    R3TRY "ring 3 ds dpl 0"
    mov ax, SEL_DATA0
    mov ds, ax
    R3END
    R3TRY "ring 3 ds dpl 3 rpl 0"
    mov ax, S_DATA3
    mov ds, ax
    R3END
    R3TRY "ring 3 ds conforming dpl 0"
    mov ax, S_CONF | 3
    mov ds, ax
    R3END
    R3TRY "ring 3 ds readable code dpl 0"
    mov ax, S_RCODE | 3
    mov ds, ax
    R3END
    R3TRY "ring 3 ss dpl 3 rpl 3"
    mov ax, S_DATA3 | 3
    mov ss, ax
    R3END
    R3TRY "ring 3 ss dpl 0"
    mov ax, SEL_DATA0 | 3
    mov ss, ax
    R3END
    R3TRY "ring 3 ds ldt dpl 3"
    mov ax, L_DATA3
    mov ds, ax
    R3END
    R3TRY "ring 3 lldt"
    mov ax, S_LDT
    lldt ax
    R3END

    ; ---- LAR, LSL, VERR, VERW, ARPL at CPL 0 ----
    INSPECT "lar code:", {lar ecx, ax}, SEL_CODE0
    INSPECT "lar data dpl 3:", {lar ecx, ax}, S_DATA3
    INSPECT "lar conforming:", {lar ecx, ax}, S_CONF
    INSPECT "lar busy tss:", {lar ecx, ax}, SEL_TSS
    INSPECT "lar tss16:", {lar ecx, ax}, S_TSS16
    INSPECT "lar ldt:", {lar ecx, ax}, S_LDT
    INSPECT "lar call gate:", {lar ecx, ax}, S_CALLGATE
    INSPECT "lar task gate:", {lar ecx, ax}, S_TASKGATE
    INSPECT "lar interrupt gate:", {lar ecx, ax}, S_INTGATE
    INSPECT "lar null:", {lar ecx, ax}, 0
    INSPECT "lar beyond gdt:", {lar ecx, ax}, 0x1000
    INSPECT "lar ldt entry:", {lar ecx, ax}, L_DATA
    INSPECT "lar not present:", {lar ecx, ax}, S_NPDATA
    INSPECT "lar 16-bit:", {lar cx, ax}, SEL_CODE0
    INSPECT "lsl flat:", {lsl ecx, ax}, SEL_DATA0
    INSPECT "lsl byte granular:", {lsl ecx, ax}, S_SMALL
    INSPECT "lsl page granular:", {lsl ecx, ax}, S_PAGEGRAN
    INSPECT "lsl tss:", {lsl ecx, ax}, SEL_TSS
    INSPECT "lsl ldt:", {lsl ecx, ax}, S_LDT
    INSPECT "lsl call gate:", {lsl ecx, ax}, S_CALLGATE
    INSPECT "lsl 16-bit:", {lsl cx, ax}, SEL_DATA0
    INSPECT "verr data:", {verr ax}, SEL_DATA0
    INSPECT "verw data:", {verw ax}, SEL_DATA0
    INSPECT "verr read-only:", {verr ax}, S_RODATA
    INSPECT "verw read-only:", {verw ax}, S_RODATA
    INSPECT "verr execute-only:", {verr ax}, S_XCODE
    INSPECT "verr readable code:", {verr ax}, S_RCODE
    INSPECT "verw code:", {verw ax}, S_RCODE
    INSPECT "verr tss:", {verr ax}, SEL_TSS
    INSPECT "verr null:", {verr ax}, 0
    INSPECT "verr not present:", {verr ax}, S_NPDATA
    mov bx, 0x10
    mov ax, 3
    arpl bx, ax                         ; RPL 0 < 3: raised, ZF=1
    PRINT "arpl raise:"
    FLAGS 0x40
    HEX16 bx
    NL
    mov bx, 0x12
    mov ax, 1
    arpl bx, ax                         ; RPL 2 >= 1: kept, ZF=0
    PRINT "arpl keep:"
    FLAGS 0x40
    HEX16 bx
    NL
    mov word [scratch], 0x0010
    mov ax, 2
    arpl [scratch], ax
    PRINT "arpl memory:"
    FLAGS 0x40
    HEX16 [scratch]
    NL

    ; ---- the same at CPL 3 (printing through the I/O bitmap) ----
    R3TRY "ring 3 inspect"
    NL
    INSPECT "  r3 lar dpl 0 data:", {lar ecx, ax}, SEL_DATA0
    INSPECT "  r3 lar dpl 0 rpl 3 conforming:", {lar ecx, ax}, S_CONF | 3
    INSPECT "  r3 lar dpl 3 data rpl 3:", {lar ecx, ax}, S_DATA3 | 3
    INSPECT "  r3 lar call gate dpl 3:", {lar ecx, ax}, S_CALLGATE | 3
    INSPECT "  r3 lsl dpl 0:", {lsl ecx, ax}, SEL_DATA0 | 3
    INSPECT "  r3 verr dpl 0:", {verr ax}, SEL_DATA0 | 3
    INSPECT "  r3 verr conforming dpl 0:", {verr ax}, S_CONF | 3
    INSPECT "  r3 verr conforming dpl 3:", {verr ax}, S_CONF3 | 3
    INSPECT "  r3 verw dpl 3:", {verw ax}, S_DATA3 | 3
    INSPECT "  r3 verw dpl 3 rpl 0:", {verw ax}, S_DATA3
    R3END
    ret

    align 8
scratch:        dd 0, 0
farptr_np:      dd 0x22222222
                dw S_NPDATA
farptr_ok:      dd 0x33333333
                dw SEL_DATA3
farptr_rpl3:    dd STACK_TOP
                dw SEL_DATA0 | 3

    align 8
ldt:
    DESC 0, 0xFFFFF, ACC_DATA0, FL_32
    DESC 0, 0xFFFFF, ACC_DATA3, FL_32
    DESC 0, 0xFFFFF, 0x13, FL_32
ldt_end:

%include "sys_end.inc"
