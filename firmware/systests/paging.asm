; Paging (issue 4, point 7): 32-bit paging with 4 KiB and 4 MiB pages (CR4.PSE), U/S and R/W
; at both levels, CR0.WP, the accessed and dirty bits, #PF error codes and CR2 (data, fetch,
; page-crossing), a stale translation used until INVLPG or a CR3 load, global pages
; (CR4.PGE) surviving a CR3 load, and code written through one linear alias and executed
; through another.
%include "sys.inc"

PD          equ 0x400000
PT0         equ 0x401000            ; linear 0-4 MiB, identity, user, writable
PT2         equ 0x402000            ; linear 8-12 MiB: the test pages
PT4         equ 0x403000            ; linear 16-20 MiB: PDE supervisor, PTEs user
PT5         equ 0x404000            ; linear 20-24 MiB: PDE read-only, PTEs writable
P_P         equ 1
P_RW        equ 2
P_US        equ 4
P_A         equ 0x20
P_D         equ 0x40
P_PS        equ 0x80
P_G         equ 0x100

%define PAGE(n) (0x800000 + (n) * 0x1000)
%define PHYS(n) (0x900000 + (n) * 0x1000)
%define PTE(n) (PT2 + (n) * 4)

main:
    ; markers in the physical pages, before paging
    mov ecx, 16
.marks:
    mov eax, ecx
    shl eax, 12
    lea ebx, [eax + 0x900000]
    or eax, 0xAAAA0000
    mov [ebx], eax                      ; PHYS(n) holds AAAAn000
    loop .marks
    mov dword [PHYS(0)], 0xAAAA0000
    ; the page directory and tables
    mov edi, PD
    mov ecx, 5 * 1024
    xor eax, eax
    rep stosd
    mov edi, PT0
    mov eax, P_P | P_RW | P_US
.pt0:
    stosd
    add eax, 0x1000
    cmp edi, PT0 + 4096
    jb .pt0
    mov dword [PD + 0 * 4], PT0 | P_P | P_RW | P_US
    mov dword [PD + 1 * 4], 0x400000 | P_P | P_RW | P_PS          ; 4 MiB, supervisor: the tables
    mov dword [PD + 2 * 4], PT2 | P_P | P_RW | P_US
    mov dword [PD + 3 * 4], 0x1000000 | P_P | P_RW | P_US | P_PS  ; 4 MiB page at 16 MiB, A and D clear
    mov dword [PD + 4 * 4], PT4 | P_P | P_RW                      ; supervisor directory entry
    mov dword [PD + 5 * 4], PT5 | P_P | P_US                      ; read-only directory entry
    mov dword [PT4], PHYS(12) | P_P | P_RW | P_US
    mov dword [PT5], PHYS(13) | P_P | P_RW | P_US
    mov dword [PTE(1)], PHYS(1) | P_P | P_US                      ; read-only, user
    mov dword [PTE(2)], PHYS(2) | P_P | P_RW                      ; supervisor
    mov dword [PTE(3)], PHYS(3) | P_P | P_RW | P_US
    mov dword [PTE(4)], PHYS(4) | P_P | P_RW | P_US               ; A and D clear
    mov dword [PTE(10)], PHYS(10) | P_P | P_RW | P_US             ; 11 is not present
    mov dword [0x1000000], 0x16161616
    mov eax, PD
    mov cr3, eax
    mov eax, cr4
    or eax, 0x10                        ; PSE
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp .paged
.paged:
    PRINTLN "paging on"

    mov dword [exc_hook], show_cr2
    ; ---- #PF error codes at CPL 0 ----
    TRY "read not present"
    mov eax, [PAGE(0) + 0x10]
    ENDTRY
    TRY "write not present"
    mov dword [PAGE(0) + 0x20], 1
    ENDTRY
    TRY "read read-only"
    mov eax, [PAGE(1)]
    PRINT " value"
    HEX32 eax
    ENDTRY
    TRY "write read-only, wp 0"
    mov dword [PAGE(1) + 4], 0x1234
    ENDTRY
    mov eax, cr0
    or eax, 0x10000                     ; WP
    mov cr0, eax
    TRY "write read-only, wp 1"
    mov dword [PAGE(1) + 8], 0x1234
    ENDTRY
    TRY "write supervisor page"
    mov dword [PAGE(2) + 8], 0x1234
    ENDTRY
    TRY "rmw read-only, wp 1"
    add dword [PAGE(1) + 12], 1
    ENDTRY
    TRY "dword across into not present"
    mov eax, [PAGE(11) - 2]
    ENDTRY
    TRY "fetch not present"
    mov eax, PAGE(0) + 0x30
    PUSHED 1
    call eax
    ENDTRY
    TRY "fetch across into not present"
    mov byte [PAGE(11) - 1], 0xB8       ; MOV EAX, imm32: its immediate is in the next page
    mov eax, PAGE(11) - 1
    PUSHED 1
    call eax
    ENDTRY

    ; ---- CPL 3 ----
    R3TRY "ring 3 read user page"
    mov eax, [PAGE(3)]
    PRINT " value"
    HEX32 eax
    R3END
    R3TRY "ring 3 read supervisor page"
    mov eax, [PAGE(2)]
    R3END
    R3TRY "ring 3 write read-only page"
    mov dword [PAGE(1)], 0
    R3END
    R3TRY "ring 3 read not present"
    mov eax, [PAGE(0)]
    R3END
    R3TRY "ring 3 write not present"
    mov dword [PAGE(0)], 0
    R3END
    R3TRY "ring 3 read, pde supervisor"
    mov eax, [0x1000000]
    R3END
    R3TRY "ring 3 write, pde read-only"
    mov dword [0x1400000], 0
    R3END
    R3TRY "ring 3 read, pde read-only"
    mov eax, [0x1400000]
    PRINT " value"
    HEX32 eax
    R3END
    R3TRY "ring 3 read the tables (4 MiB supervisor)"
    mov eax, [PD]
    R3END
    R3TRY "ring 3 push into supervisor page"
    mov esp, PAGE(2) + 0x100
    push eax
    R3END
    TRY "supervisor write, pde read-only, wp 1"
    mov dword [0x1400000], 0
    ENDTRY
    TRY "supervisor read, pde supervisor"
    mov eax, [0x1000000]
    PRINT " value"
    HEX32 eax
    ENDTRY

    ; ---- accessed and dirty bits ----
    PRINT "pte4 before:"
    HEX32 [PTE(4)]
    NL
    mov eax, [PAGE(4)]
    PRINT "pte4 after a read:"
    HEX32 [PTE(4)]
    NL
    mov dword [PAGE(4)], 5
    PRINT "pte4 after a write:"
    HEX32 [PTE(4)]
    NL
    PRINT "pde2:"
    HEX32 [PD + 2 * 4]
    NL
    PRINT "pde3 (4 MiB) before:"
    HEX32 [PD + 3 * 4]
    NL
    mov eax, [0xC00000]
    PRINT "4 MiB page read:"
    HEX32 eax
    PRINT " pde3"
    HEX32 [PD + 3 * 4]
    NL
    mov dword [0xC00004], 7
    PRINT "pde3 after a write:"
    HEX32 [PD + 3 * 4]
    NL
    mov eax, [PTE(1)]
    and eax, P_D
    PRINT "read-only page dirty (written at cpl 0 with wp 0):"
    HEX32 eax
    NL

    ; ---- stale translations ----
    mov dword [PTE(5)], PHYS(5) | P_P | P_RW
    mov eax, [PAGE(5)]                  ; now cached
    mov dword [PTE(5)], PHYS(6) | P_P | P_RW
    mov eax, [PAGE(5)]
    PRINT "remapped, no invlpg:"
    HEX32 eax
    NL
    invlpg [PAGE(5)]
    mov eax, [PAGE(5)]
    PRINT "after invlpg:"
    HEX32 eax
    NL
    mov dword [PTE(5)], 0               ; not present, still cached
    TRY "unmapped, no invlpg"
    mov eax, [PAGE(5)]
    PRINT " value"
    HEX32 eax
    ENDTRY
    mov eax, cr3
    mov cr3, eax
    TRY "unmapped, after mov cr3"
    mov eax, [PAGE(5)]
    ENDTRY
    mov dword [PTE(5)], PHYS(5) | P_P   ; read-only now, writable before
    mov eax, cr3
    mov cr3, eax
    mov eax, [PAGE(5)]                  ; cached for reads only

    ; ---- global pages ----
    mov eax, cr4
    or eax, 0x80                        ; PGE
    mov cr4, eax
    mov dword [PTE(6)], PHYS(7) | P_P | P_RW | P_G
    mov dword [PTE(7)], PHYS(9) | P_P | P_RW
    mov eax, [PAGE(6)]
    mov eax, [PAGE(7)]
    mov dword [PTE(6)], PHYS(8) | P_P | P_RW | P_G
    mov dword [PTE(7)], PHYS(10) | P_P | P_RW
    mov eax, cr3
    mov cr3, eax
    PRINT "after mov cr3: global"
    HEX32 [PAGE(6)]
    PRINT " not global"
    HEX32 [PAGE(7)]
    NL
    mov eax, cr4
    and eax, ~0x80
    mov cr4, eax                        ; clearing PGE flushes everything
    PRINT "after clearing pge: global"
    HEX32 [PAGE(6)]
    NL

    ; ---- code written through one alias, run through another ----
    mov dword [PTE(8)], PHYS(11) | P_P | P_RW
    mov dword [PTE(9)], PHYS(11) | P_P | P_RW
    mov esi, smc_code
    mov edi, PAGE(8)
    mov ecx, smc_code_end - smc_code
    rep movsb
    mov ebx, PAGE(9)
    call ebx
    PRINT "alias run 1:"
    HEX32 eax
    NL
    call ebx
    mov dword [PAGE(8) + 1], 0x22222222 ; the immediate of MOV EAX, imm32
    call ebx
    PRINT "alias run 2:"
    HEX32 eax
    NL
    mov dword [PAGE(8) + 1], 0x33333333
    call ebx
    PRINT "alias run 3:"
    HEX32 eax
    NL
    ; a page of code whose translation changes: the same linear address runs other code
    mov dword [PTE(12)], PHYS(11) | P_P | P_RW
    mov ebx, PAGE(12)
    call ebx
    PRINT "remapped code 1:"
    HEX32 eax
    NL
    mov esi, smc_code
    mov edi, PAGE(10)
    mov ecx, smc_code_end - smc_code
    rep movsb
    mov dword [PAGE(10) + 1], 0x44444444
    mov dword [PTE(12)], PHYS(10) | P_P | P_RW
    invlpg [PAGE(12)]
    call ebx
    PRINT "remapped code 2:"
    HEX32 eax
    NL
    mov dword [exc_hook], 0

    mov eax, cr0
    and eax, ~0x80010000
    mov cr0, eax
    PRINTLN "paging off"
    ret

smc_code:
    mov eax, 0x11111111
    ret
smc_code_end:

show_cr2:
    PRINT " cr2="
    mov eax, cr2
    call print_hex32
    ret

%include "sys_end.inc"
