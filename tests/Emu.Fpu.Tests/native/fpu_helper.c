/* Runs x87 and MMX test cases natively, in 32-bit code, and reports what they did, the
 * FPU state included. The integer suite's helper (Emu.Conformance.Tests/native) is the
 * model; the address space is the same (layout.h, shared with it), and so is the way it
 * runs 32-bit code from a 64-bit program (compat32.h).
 *
 * Input (stdin, little-endian), produced by the C# harness:
 *   "FPU1", u32 case count, DATA_SIZE bytes: the initial image of the data segment;
 *   per case: u32 eax..edi, u32 eflags, u8 mode (MODE_*), u8 0, u16 patch count,
 *             108 bytes: the x87 state as FRSTOR loads it (32-bit protected-mode format),
 *             CODE_WINDOW bytes of code, then per patch: u16 offset, u16 length, bytes.
 * Output (stdout):
 *   "FRS1", u32 host CS, DS, FS, GS selectors;
 *   per case: u32 status (0 exit, 1 exception), exit id (1 fall-through, 2 taken),
 *             eax..edi, eflags, eip, trap number, error code, cs,
 *             108 bytes: FNSAVE image, 512 bytes: FXSAVE image (after the case, or the
 *             state the kernel saved in the signal frame when it faulted),
 *             u32 changed-byte count, then per changed byte: u16 offset, u8 value, u8 0. */
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

/* Shared with fpu_trampoline.S (32-bit absolute addresses: linked -no-pie, below 2 GiB). */
uint32_t g_in[9];
uint32_t g_out[9];
uint32_t g_exit_id;
uint64_t g_host_rsp;
uint64_t g_host_fsbase;
uint64_t g_sel_code32 = SEL_CODE32;
uint16_t g_sel_data, g_sel_ss;
uint16_t g_flat_ds; /* the 64-bit process's SS: a flat data segment in compatibility mode too */
struct __attribute__((packed)) { uint32_t offset; uint16_t selector; } g_far_entry, g_return64;
uint8_t g_fpu_in[108];
uint8_t g_fs_out[108];
uint8_t g_fx_out[512] __attribute__((aligned(16)));

void run_case(void);
void exit_fall(void);
void exit_taken(void);
void exit64(void);
extern uint8_t g_stack32_top[];

static sigjmp_buf g_jump;
static volatile uint32_t g_fault[14]; /* trapno, err, eip, cs, eflags, eax..edi */
static uint8_t g_fault_fs[108];
static uint8_t g_fault_fx[512];

static uint8_t *const data = (uint8_t *)(uintptr_t)DATA_BASE;
static uint8_t base_image[DATA_SIZE];
static uint8_t expected[DATA_SIZE];

static void die(const char *what)
{
    perror(what);
    exit(2);
}

/* The FSAVE-format image a 32-bit signal frame carries, made from the FXSAVE image as the
 * kernel makes it (convert_from_fxsr): full tag word from the abridged one and the
 * registers, the pointer offsets from the (64-bit format) image, FCS the faulting CS with
 * FOP 0, FDS the current DS. */
static void fsave_from_fxsave(uint8_t *fs, const uint8_t *fx, uint32_t cs, uint32_t ds)
{
    uint16_t cw, sw;
    memcpy(&cw, fx + 0, 2);
    memcpy(&sw, fx + 2, 2);
    uint32_t top = (sw >> 11) & 7, abridged = fx[4], tags = 0;
    for (uint32_t i = 0; i < 8; i++) {
        uint32_t tag = 3; /* empty */
        if (abridged & (1u << i)) {
            const uint8_t *st = fx + 32 + 16 * ((i - top) & 7);
            uint64_t significand;
            uint16_t exponent;
            memcpy(&significand, st, 8);
            memcpy(&exponent, st + 8, 2);
            exponent &= 0x7FFF;
            if (exponent == 0x7FFF) tag = 2;
            else if (exponent == 0) tag = significand == 0 ? 1 : 2;
            else tag = (significand >> 63) ? 0 : 2;
        }
        tags |= tag << (2 * i);
    }
    uint32_t env[7] = { cw | 0xFFFF0000u, sw | 0xFFFF0000u, tags | 0xFFFF0000u, 0, cs & 0xFFFF, 0, ds | 0xFFFF0000u };
    memcpy(&env[3], fx + 8, 4);  /* FIP, low half of the 64-bit format's RIP */
    memcpy(&env[5], fx + 16, 4); /* FDP */
    memcpy(fs, env, 28);
    for (int i = 0; i < 8; i++) memcpy(fs + 28 + 10 * i, fx + 32 + 16 * i, 10);
}

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)si;
    uint16_t ds;
    __asm__ volatile("movw %%ds, %0" : "=r"(ds)); /* still the case's: 64-bit signal delivery keeps it */
    /* The kernel enters the handler in 64-bit mode but leaves FS on the test segment. */
    restore_fs(g_host_fsbase);
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
    /* The frame's FPU state: the FXSAVE image (64-bit format) the kernel stored; the FSAVE
     * image is derived from it as the kernel does for a 32-bit frame. */
    const uint8_t *fp = (const uint8_t *)uc->uc_mcontext.fpregs;
    memset(g_fault_fs, 0, sizeof g_fault_fs);
    memset(g_fault_fx, 0, sizeof g_fault_fx);
    if (fp != NULL) {
        memcpy(g_fault_fx, fp, 512);
        fsave_from_fxsave(g_fault_fs, g_fault_fx, g_fault[3], ds);
    }
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
    d.limit_in_pages = pages;
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
        fprintf(stderr, "fpu_helper: truncated input\n");
        exit(2);
    }
}

static void write_u32(uint32_t v) { fwrite(&v, 4, 1, stdout); }

static void jmp32(uint32_t at, void (*target)(void))
{
    uint8_t *p = (uint8_t *)(uintptr_t)at;
    int32_t rel = (int32_t)(low32("fpu_helper", (void *)target) - (at + 5));
    p[0] = 0xE9;
    memcpy(p + 1, &rel, 4);
}

static void jmpfar16(uint32_t offset, void (*target)(void), uint16_t cs)
{
    uint8_t *p = (uint8_t *)(uintptr_t)(CODE16_BASE + offset);
    uint32_t t = low32("fpu_helper", (void *)target);
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
    g_flat_ds = ss;
    if (syscall(SYS_arch_prctl, 0x1001 /* ARCH_GET_FS */, &g_host_fsbase) != 0) die("arch_prctl");
    g_return64.offset = low32("fpu_helper", (void *)exit64);
    g_return64.selector = cs;
    low32("fpu_helper", g_in);
    low32("fpu_helper", g_stack32_top);

    map_fixed(CODE32_BASE, CODE32_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC);
    map_fixed(DATA_BASE, DATA_SIZE, PROT_READ | PROT_WRITE);
    map_fixed(CODE16_BASE, CODE16_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC);
    memset((void *)(uintptr_t)CODE32_BASE, 0xF4, CODE32_SIZE);
    memset((void *)(uintptr_t)CODE16_BASE, 0xF4, CODE16_SIZE);
    set_ldt(0, DATA_BASE, DATA_SIZE - 1, 0, 1, 0);
    set_ldt(1, DATA_BASE, DATA_SIZE - 1, 0, 0, 0);
    set_ldt(2, CODE16_BASE, CODE16_SIZE - 1, 1, 0, 0);
    set_ldt(3, 0, 0xFFFFF, 1, 1, 1);
    require_compat_mode("fpu_helper");
    jmp32(CODE32_EXIT_FALL, exit_fall);
    jmp32(CODE32_EXIT_TAKEN, exit_taken);
    jmpfar16(CODE16_EXIT_FALL, exit_fall, SEL_CODE32);
    jmpfar16(CODE16_EXIT_TAKEN, exit_taken, SEL_CODE32);

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
    fwrite("FRS1", 1, 4, stdout);
    write_u32(SEL_CODE32); /* the CS the 32-bit cases run in */
    write_u32(ds);
    write_u32(fs);
    write_u32(gs);

    char magic[4];
    uint32_t count;
    read_exact(magic, 4);
    if (memcmp(magic, "FPU1", 4) != 0) {
        fprintf(stderr, "fpu_helper: bad input magic\n");
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
            fprintf(stderr, "fpu_helper: too many patches\n");
            return 2;
        }
        read_exact(g_fpu_in, sizeof g_fpu_in);
        uint8_t code[CODE_WINDOW];
        read_exact(code, CODE_WINDOW);
        for (uint16_t p = 0; p < patches; p++) {
            uint16_t hdr[2];
            read_exact(hdr, 4);
            if ((uint32_t)hdr[0] + hdr[1] > DATA_SIZE) {
                fprintf(stderr, "fpu_helper: patch outside the data segment\n");
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
        g_in[8] = (g_in[8] & 0xCD5u) | 0x202u;

        uint32_t r[14];
        uint32_t status;
        const uint8_t *fs_img, *fx_img;
        if (sigsetjmp(g_jump, 1) == 0) {
            g_exit_id = 0;
            run_case();
            status = 0;
            r[0] = r[1] = r[2] = r[3] = 0;
            r[4] = g_out[8];
            for (int i = 0; i < 8; i++) r[5 + i] = g_out[i];
            fs_img = g_fs_out;
            fx_img = g_fx_out;
        } else {
            status = 1;
            for (int i = 0; i < 13; i++) r[i] = g_fault[i];
            fs_img = g_fault_fs;
            fx_img = g_fault_fx;
            __asm__ volatile("fninit");
        }
        write_u32(status);
        write_u32(status == 0 ? g_exit_id : 0);
        for (int i = 0; i < 8; i++) write_u32(r[5 + i]);
        write_u32(r[4]);
        write_u32(r[2]);
        write_u32(r[0]);
        write_u32(r[1]);
        write_u32(r[3]);
        fwrite(fs_img, 1, 108, stdout);
        fwrite(fx_img, 1, 512, stdout);

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
