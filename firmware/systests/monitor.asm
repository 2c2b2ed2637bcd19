; Monitor routines (issue 4, point 8): the CPL 0 instructions at CPL 3 (#GP(0)) and the
; unprivileged ones that read system state; CLI/STI against IOPL; POPF's rules for IF and
; IOPL; control-register checks (PG without PE, NW without CD, LMSW cannot clear PE, DR4/DR5
; and CR4.DE); SYSENTER/SYSEXIT; RDMSR/WRMSR (TSC, SYSENTER_*, MTRRs, unknown MSRs);
; CPUID; RDTSC and CR4.TSD.
%include "sys.inc"

%macro R3PRIV 2                         ; "name", instruction: expected #GP(0) at CPL 3
    R3TRY %1
    %2
    R3END
%endmacro

main:
    ; ---- CPL 0 instructions at CPL 3 ----
    R3PRIV "lgdt", {lgdt [gdt_ptr]}
    R3PRIV "lidt", {lidt [idt_ptr]}
    R3PRIV "lldt", {lldt ax}
    R3PRIV "ltr", {ltr ax}
    R3PRIV "lmsw", {lmsw ax}
    R3PRIV "clts", {clts}
    R3PRIV "mov eax, cr0", {mov eax, cr0}
    R3PRIV "mov cr3, eax", {mov cr3, eax}
    R3PRIV "mov eax, dr7", {mov eax, dr7}
    R3PRIV "mov dr0, eax", {mov dr0, eax}
    R3PRIV "invlpg", {invlpg [0]}
    R3PRIV "hlt", {hlt}
    R3PRIV "rdmsr", {rdmsr}
    R3PRIV "wrmsr", {wrmsr}
    R3PRIV "wbinvd", {wbinvd}
    R3PRIV "invd", {invd}
    R3PRIV "cli, iopl 0", {cli}
    R3PRIV "sti, iopl 0", {sti}
    R3TRY "sgdt sidt str sldt smsw"
    sgdt [scratch]
    sidt [scratch + 8]
    str eax
    sldt ebx
    smsw ecx
    PRINT " gdt limit"
    HEX16 [scratch]
    PRINT " idt limit"
    HEX16 [scratch + 8]
    HEX32 eax
    HEX32 ebx
    and ecx, 0xFFFF
    HEX32 ecx
    R3END

    ; ---- POPF and IOPL ----
    R3TRY "popf at cpl 3, iopl 0"
    push dword 0x3202 | 0x40000 | 0x200000 ; IF, IOPL 3, AC, ID
    popfd
    FLAGS 0x243202
    R3END
    push dword 2
    popfd
    pushfd
    or dword [esp], 0x3000
    popfd
    R3TRY "popf at cpl 3, iopl 3"
    push dword 0x0202 | 0x20000        ; IF, IOPL 0, VM
    popfd
    FLAGS 0x23202
    cli
    R3END
    TRY "popf at cpl 0"
    push dword 0x1202 | 0x20000 | 0x10000 ; IF, IOPL 1, VM, RF
    popfd
    FLAGS 0x33202
    ENDTRY
    push dword 2
    popfd

    ; ---- control registers ----
    ; (MOV CR0 with PG and not PE, or NW and not CD, is #GP(0): unit tests check it, as QEMU 7.2
    ; shuts down on such a write.)
    TRY "lmsw cannot clear pe"
    xor eax, eax
    lmsw ax
    mov eax, cr0
    and eax, 0xFFFF
    HEX32 eax
    ENDTRY
    TRY "dr4 is dr6"
    mov eax, 0x1
    mov dr6, eax
    mov eax, dr4
    HEX32 eax
    ENDTRY
    mov eax, cr4
    or eax, 0x8                         ; DE
    mov cr4, eax
    TRY "dr4 with cr4.de"
    mov eax, dr4
    ENDTRY
    mov eax, cr4
    and eax, ~0x8
    mov cr4, eax
    TRY "wbinvd invd at cpl 0"
    wbinvd
    invd
    ENDTRY

    ; ---- SYSENTER / SYSEXIT ----
    xor eax, eax
    xor edx, edx
    mov ecx, 0x174
    wrmsr
    R3TRY "sysenter with cs 0"
    sysenter
    R3END
    mov ecx, 0x174
    mov eax, SEL_CODE0
    xor edx, edx
    wrmsr
    mov ecx, 0x175
    mov eax, STACK0_TOP - 0x100
    wrmsr
    mov ecx, 0x176
    mov eax, sysenter_target
    wrmsr
    R3TRY "sysenter and sysexit"
    pushfd
    or dword [esp], 0x200
    popfd                               ; IF=1 at CPL 3 is ignored with IOPL 0: stays 0
    mov ebp, esp
    sysenter
sysexit_target:
    mov ax, cs
    PRINT " back at cpl 3: cs"
    HEX16 ax
    mov ax, ss
    PRINT " ss"
    HEX16 ax
    PRINT " esp"
    HEXESP
    R3END
    R3TRY "sysexit at cpl 3"
    sysexit
    R3END

    ; ---- MSRs ----
    mov ecx, 0x176
    rdmsr
    sub eax, sysenter_target
    PRINT "sysenter_eip read back:"
    HEX32 eax
    HEX32 edx
    NL
    mov ecx, 0x174
    rdmsr
    PRINT "sysenter_cs read back:"
    HEX32 eax
    NL
    mov ecx, 0xFE
    rdmsr
    PRINT "mtrrcap:"
    HEX32 edx
    HEX32 eax
    NL
    mov ecx, 0x200
    mov eax, 0x00100006
    mov edx, 0x0
    wrmsr
    mov ecx, 0x201
    mov eax, 0xFFF00800
    mov edx, 0xF
    wrmsr
    mov ecx, 0x200
    rdmsr
    PRINT "mtrr physbase0/mask0:"
    HEX32 edx
    HEX32 eax
    mov ecx, 0x201
    rdmsr
    HEX32 edx
    HEX32 eax
    NL
    mov ecx, 0x2FF
    mov eax, 0xC06
    xor edx, edx
    wrmsr
    rdmsr
    PRINT "mtrr deftype:"
    HEX32 eax
    NL
    TRY "rdmsr 12345h"
    mov ecx, 0x12345
    rdmsr
    ENDTRY
    TRY "wrmsr 12345h"
    mov ecx, 0x12345
    wrmsr
    ENDTRY
    ; the TSC: WRMSR sets it; a P6 writes the low 32 bits and clears the high ones
    mov ecx, 0x10
    mov eax, 0x1000
    mov edx, 1
    wrmsr
    rdmsr
    PRINT "tsc after writing 1:00001000, high half:"
    HEX32 edx
    NL
    rdtsc
    mov esi, eax
    mov edi, edx
    rdtsc
    sub eax, esi
    sbb edx, edi
    PRINT "rdtsc goes forward:"
    test edx, edx
    jnz .backward
    test eax, eax
    jz .backward
    PRINTLN " yes"
    jmp .tsd
.backward:
    PRINTLN " no"
.tsd:
    R3TRY "rdtsc at cpl 3, tsd 0"
    rdtsc
    R3END
    mov eax, cr4
    or eax, 0x4                         ; TSD
    mov cr4, eax
    R3TRY "rdtsc at cpl 3, tsd 1"
    rdtsc
    R3END
    TRY "rdtsc at cpl 0, tsd 1"
    rdtsc
    ENDTRY
    mov eax, cr4
    and eax, ~0x4
    mov cr4, eax

    ; ---- CPUID (what it reports is the emulator's own model; see the test) ----
    xor eax, eax
    cpuid
    PRINT "cpuid 0:"
    HEX32 eax
    mov [scratch], ebx
    mov [scratch + 4], edx
    mov [scratch + 8], ecx
    mov byte [scratch + 12], 0
    PRINT " "
    mov esi, scratch
    call puts
    NL
    mov eax, 1
    cpuid
    PRINT "cpuid 1:"
    HEX32 eax
    HEX32 edx
    NL
    ret

sysenter_target:                        ; CPL 0 through SYSENTER
    mov ax, cs
    PRINT " cs"
    HEX16 ax
    mov ax, ss
    PRINT " ss"
    HEX16 ax
    PRINT " esp"
    HEXESP
    FLAGS 0x200
    mov ecx, ebp                        ; the CPL 3 stack
    mov edx, sysexit_target
    sysexit

    align 4
scratch: times 16 db 0

%include "sys_end.inc"
