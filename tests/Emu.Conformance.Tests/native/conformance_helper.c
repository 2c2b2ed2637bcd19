/* Runs x86 test cases natively, in 32-bit code, and reports what they did.
 *
 * The helper is a 64-bit program (the kernel need not run 32-bit binaries): it runs the
 * cases in compatibility mode, through a flat 32-bit code segment of its own in the LDT
 * (trampoline.S), and faults come back as signals with a 64-bit context.
 *
 * Input (stdin, little-endian), produced by the C# harness:
 *   "CNF1", u32 case count, DATA_SIZE bytes: the initial image of the data segment;
 *   per case: u32 eax..edi, u32 eflags, u8 mode (MODE_*), u8 0, u16 patch count,
 *             CODE_WINDOW bytes of code, then per patch: u16 offset, u16 length, bytes.
 * Output (stdout):
 *   "RES1", u32 host CS, DS, FS, GS selectors;
 *   per case: u32 status (0 exit, 1 exception), exit id (1 fall-through, 2 taken),
 *             eax..edi, eflags, eip, trap number, error code, cs, u32 changed-byte count,
 *             then per changed byte of the data segment: u16 offset, u8 value, u8 0.
 * Patches overlay the initial image for one case only; the changed bytes are those that
 * differ from image + patches when the case ends. See layout.h for the address space. */
#define _GNU_SOURCE
#include <asm/ldt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "compat32.h"
#include "layout.h"

/* Shared with trampoline.S (which reaches them with 32-bit absolute addresses: the
 * program is linked -no-pie, below 2 GiB). */
uint32_t g_in[9];
uint32_t g_out[9];
uint32_t g_exit_id;
uint64_t g_host_rsp;
uint64_t g_host_fsbase;
uint64_t g_sel_code32 = SEL_CODE32;
uint16_t g_sel_data, g_sel_ss;
uint16_t g_flat_ds; /* the 64-bit process's SS: a flat data segment in compatibility mode too */
struct __attribute__((packed)) { uint32_t offset; uint16_t selector; } g_far_entry, g_return64;

void run_case(void);
void exit_fall(void);
void exit_taken(void);
void exit64(void);
extern uint8_t g_stack32_top[];

static sigjmp_buf g_jump;
static volatile uint32_t g_fault[14]; /* trapno, err, eip, cs, eflags, eax..edi */

static uint8_t *const data = (uint8_t *)(uintptr_t)DATA_BASE;
static uint8_t base_image[DATA_SIZE];
static uint8_t expected[DATA_SIZE];

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    /* The kernel enters the handler in 64-bit mode (CS and SS its own; DS and ES still the
     * test's, which 64-bit code ignores) but leaves FS, whose base glibc needs. */
    restore_fs(g_host_fsbase);
    /* The test may have set AC with POPF; the kernel keeps it for the handler, and glibc's
     * unaligned accesses must not raise #AC. */
    __asm__ volatile("pushq $0x202; popfq" ::: "cc", "memory");
    ucontext_t *uc = ctx;
    greg_t *g = uc->uc_mcontext.gregs;
    g_fault[0] = (uint32_t)g[REG_TRAPNO];
    g_fault[1] = (uint32_t)g[REG_ERR];
    g_fault[2] = (uint32_t)g[REG_RIP];
    g_fault[3] = (uint16_t)g[REG_CSGSFS]; /* CS in bits 0-15 */
    g_fault[4] = (uint32_t)g[REG_EFL];
    g_fault[5] = (uint32_t)g[REG_RAX];
    g_fault[6] = (uint32_t)g[REG_RCX];
    g_fault[7] = (uint32_t)g[REG_RDX];
    g_fault[8] = (uint32_t)g[REG_RBX];
    g_fault[9] = (uint32_t)g[REG_RSP];
    g_fault[10] = (uint32_t)g[REG_RBP];
    g_fault[11] = (uint32_t)g[REG_RSI];
    g_fault[12] = (uint32_t)g[REG_RDI];
    siglongjmp(g_jump, 1);
}

static void set_ldt(int entry, uint32_t base, uint32_t limit, int code, int big, int pages)
{
    struct user_desc d;
    memset(&d, 0, sizeof d);
    d.entry_number = entry;
    d.base_addr = base;
    d.limit = limit;
    d.seg_32bit = big;
    d.contents = code ? MODIFY_LDT_CONTENTS_CODE : MODIFY_LDT_CONTENTS_DATA;
    d.read_exec_only = 0;
    d.limit_in_pages = pages;
    d.seg_not_present = 0;
    d.useable = 0;
    if (syscall(SYS_modify_ldt, 0x11, &d, sizeof d) != 0) die("modify_ldt");
}

static void map_fixed(uint32_t address, uint32_t size, int prot)
{
    void *p = mmap((void *)(uintptr_t)address, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != (void *)(uintptr_t)address) die("mmap");
}

static void read_exact(void *buffer, size_t size)
{
    if (size != 0 && fread(buffer, 1, size, stdin) != size) {
        fprintf(stderr, "conformance_helper: truncated input\n");
        exit(2);
    }
}

static void write_u32(uint32_t v) { fwrite(&v, 4, 1, stdout); }

/* Writes a jump from a stub at `at` (in the flat 32-bit CS) to `target`. */
static void jmp32(uint32_t at, void (*target)(void))
{
    uint8_t *p = (uint8_t *)(uintptr_t)at;
    int32_t rel = (int32_t)(low32("conformance_helper", (void *)target) - (at + 5));
    p[0] = 0xE9;
    memcpy(p + 1, &rel, 4);
}

/* Writes a far jump (66 EA ptr16:32) from 16-bit code at CODE16_BASE + offset into the flat CS. */
static void jmpfar16(uint32_t offset, void (*target)(void), uint16_t cs)
{
    uint8_t *p = (uint8_t *)(uintptr_t)(CODE16_BASE + offset);
    uint32_t t = low32("conformance_helper", (void *)target);
    p[0] = 0x66;
    p[1] = 0xEA;
    memcpy(p + 2, &t, 4);
    memcpy(p + 6, &cs, 2);
}

int main(void)
{
    uint16_t cs, ds, fs, gs, ss;
    __asm__ volatile("movw %%cs, %0; movw %%ds, %1; movw %%fs, %2; movw %%gs, %3; movw %%ss, %4"
                     : "=r"(cs), "=r"(ds), "=r"(fs), "=r"(gs), "=r"(ss));
    (void)cs;
    (void)ds;
    g_flat_ds = ss;
    if (syscall(SYS_arch_prctl, 0x1001 /* ARCH_GET_FS */, &g_host_fsbase) != 0) die("arch_prctl");
    g_return64.offset = low32("conformance_helper", (void *)exit64);
    g_return64.selector = cs;
    low32("conformance_helper", g_in);
    low32("conformance_helper", g_stack32_top);

    map_fixed(CODE32_BASE, CODE32_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC);
    map_fixed(DATA_BASE, DATA_SIZE, PROT_READ | PROT_WRITE);
    map_fixed(CODE16_BASE, CODE16_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC);
    memset((void *)(uintptr_t)CODE32_BASE, 0xF4, CODE32_SIZE);
    memset((void *)(uintptr_t)CODE16_BASE, 0xF4, CODE16_SIZE);
    set_ldt(0, DATA_BASE, DATA_SIZE - 1, 0, 1, 0);
    set_ldt(1, DATA_BASE, DATA_SIZE - 1, 0, 0, 0);
    set_ldt(2, CODE16_BASE, CODE16_SIZE - 1, 1, 0, 0);
    set_ldt(3, 0, 0xFFFFF, 1, 1, 1);
    require_compat_mode("conformance_helper");
    jmp32(CODE32_EXIT_FALL, exit_fall);
    jmp32(CODE32_EXIT_TAKEN, exit_taken);
    jmpfar16(CODE16_EXIT_FALL, exit_fall, SEL_CODE32);
    jmpfar16(CODE16_EXIT_TAKEN, exit_taken, SEL_CODE32);

    /* Faults arrive with SS:ESP pointing into the test's segment: handle them on our own stack. */
    static uint8_t alt[1 << 16];
    stack_t st = { .ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0 };
    if (sigaltstack(&st, NULL) != 0) die("sigaltstack");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    int signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP };
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++)
        if (sigaction(signals[i], &sa, NULL) != 0) die("sigaction");

    static char outbuf[1 << 20];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    fwrite("RES1", 1, 4, stdout);
    write_u32(SEL_CODE32); /* the CS the 32-bit cases run in */
    write_u32(ds);
    write_u32(fs);
    write_u32(gs);

    char magic[4];
    uint32_t count;
    read_exact(magic, 4);
    if (memcmp(magic, "CNF1", 4) != 0) {
        fprintf(stderr, "conformance_helper: bad input magic\n");
        return 2;
    }
    read_exact(&count, 4);
    read_exact(base_image, DATA_SIZE);
    memcpy(data, base_image, DATA_SIZE);
    memcpy(expected, base_image, DATA_SIZE);

    static uint16_t patch_off[4096], patch_len[4096];
    for (uint32_t n = 0; n < count; n++) {
        uint8_t head[40];
        read_exact(head, sizeof head);
        memcpy(g_in, head, 36);
        uint8_t mode = head[36];
        volatile uint16_t patches;
        patches = (uint16_t)(head[38] | (head[39] << 8));
        if (patches > 4096) {
            fprintf(stderr, "conformance_helper: too many patches\n");
            return 2;
        }
        uint8_t code[CODE_WINDOW];
        read_exact(code, CODE_WINDOW);
        for (uint16_t p = 0; p < patches; p++) {
            uint16_t hdr[2];
            read_exact(hdr, 4);
            if ((uint32_t)hdr[0] + hdr[1] > DATA_SIZE) {
                fprintf(stderr, "conformance_helper: patch outside the data segment\n");
                return 2;
            }
            read_exact(expected + hdr[0], hdr[1]);
            memcpy(data + hdr[0], expected + hdr[0], hdr[1]);
            patch_off[p] = hdr[0];
            patch_len[p] = hdr[1];
        }

        volatile uint32_t entry;
        if (mode & MODE_CODE16) {
            entry = CODE16_BASE + CODE16_ENTRY;
            g_far_entry.offset = CODE16_ENTRY;
            g_far_entry.selector = SEL_CODE16;
        } else {
            entry = CODE32_ENTRY;
            g_far_entry.offset = CODE32_ENTRY;
            g_far_entry.selector = SEL_CODE32;
        }
        memcpy((void *)(uintptr_t)entry, code, CODE_WINDOW);
        g_sel_data = SEL_DATA32;
        g_sel_ss = (mode & MODE_STACK16) ? SEL_DATA16 : SEL_DATA32;
        /* Only the arithmetic flags and DF come from the case; IF is always set at CPL 3. */
        g_in[8] = (g_in[8] & 0xCD5u) | 0x202u;

        uint32_t r[14];
        uint32_t status;
        if (sigsetjmp(g_jump, 1) == 0) {
            g_exit_id = 0;
            run_case();
            status = 0;
            r[0] = 0;
            r[1] = 0;
            r[2] = 0; /* EIP: the exit taken says where it went */
            r[3] = 0;
            r[4] = g_out[8];
            for (int i = 0; i < 8; i++) r[5 + i] = g_out[i];
        } else {
            status = 1;
            for (int i = 0; i < 13; i++) r[i] = g_fault[i];
        }
        write_u32(status);
        write_u32(status == 0 ? g_exit_id : 0);
        for (int i = 0; i < 8; i++) write_u32(r[5 + i]);
        write_u32(r[4]);
        write_u32(r[2]);
        write_u32(r[0]);
        write_u32(r[1]);
        write_u32(r[3]);

        /* Changed bytes, then back to the initial image for the next case. */
        uint32_t changed = 0;
        static uint32_t changes[DATA_SIZE];
        if (memcmp(data, expected, DATA_SIZE) != 0) {
            for (uint32_t o = 0; o < DATA_SIZE; o += 64) {
                if (memcmp(data + o, expected + o, 64) == 0) continue;
                for (uint32_t b = o; b < o + 64; b++)
                    if (data[b] != expected[b]) changes[changed++] = b | ((uint32_t)data[b] << 16);
            }
        }
        write_u32(changed);
        fwrite(changes, 4, changed, stdout);
        for (uint32_t c = 0; c < changed; c++) data[changes[c] & 0xFFFF] = base_image[changes[c] & 0xFFFF];
        for (uint16_t p = 0; p < patches; p++) {
            memcpy(data + patch_off[p], base_image + patch_off[p], patch_len[p]);
            memcpy(expected + patch_off[p], base_image + patch_off[p], patch_len[p]);
        }
        memset((void *)(uintptr_t)entry, 0xF4, CODE_WINDOW);
    }
    fflush(stdout);
    return 0;
}
