/* Running 32-bit code from the 64-bit helpers (shared by the integer and the x87 helper).
 *
 * The helpers are 64-bit programs, so they need no IA32 support in the kernel (no 32-bit
 * exec, no compat syscalls): they switch the CPU to compatibility mode themselves, through
 * a flat 32-bit code segment of their own in the LDT (SEL_CODE32, set with modify_ldt), and
 * back to 64-bit mode through the process's own CS. A fault in a case arrives as a signal
 * with a 64-bit context. What the kernel must allow is only the LDT; a hypervisor that runs
 * guest user code in 64-bit mode only (a PVM guest: the hardware never sees the guest's LDT)
 * cannot run these tests at all, and the helpers say so with exit status EXIT_NO_COMPAT. */
#ifndef CONFORMANCE_COMPAT32_H
#define CONFORMANCE_COMPAT32_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "layout.h"

#define EXIT_NO_COMPAT 3

/* FS back to glibc's thread pointer (null selector, base `base`) before anything touches
 * thread-local data: a case leaves FS on the test segment. No call, so no red zone is hurt. */
static inline void restore_fs(uint64_t base)
{
    __asm__ volatile("xorl %%eax, %%eax\n\t"
                     "movl %%eax, %%fs\n\t"
                     "movl $158, %%eax\n\t" /* SYS_arch_prctl (ARCH_SET_FS) */
                     "syscall"
                     :
                     : "D"(0x1002), "S"(base)
                     : "rax", "rcx", "r11", "memory");
}

/* The trampoline's 32-bit code and data must be reachable with 32-bit addresses. */
static inline uint32_t low32(const char *who, const void *p)
{
    if ((uintptr_t)p > 0xFFFFFFFFu) {
        fprintf(stderr, "%s: %p is above 4 GiB (link with -no-pie)\n", who, p);
        exit(2);
    }
    return (uint32_t)(uintptr_t)p;
}

/* After modify_ldt: the hardware must see SEL_CODE32 as a present 32-bit code segment at
 * CPL 3, or the far jump into it raises #GP. LAR asks the hardware, without a fault. */
static inline void require_compat_mode(const char *who)
{
    uint32_t rights = 0;
    uint8_t ok = 0;
    __asm__ volatile("larl %2, %0\n\tsetz %1" : "=r"(rights), "=q"(ok) : "r"((uint32_t)SEL_CODE32) : "cc");
    int code32 = ok && (rights & (1u << 15)) && (rights & (1u << 11)) && (rights & (1u << 22)) && !(rights & (1u << 21));
    if (!code32) {
        fprintf(stderr,
                "%s: this machine cannot run 32-bit user code: the 32-bit code segment the helper put in "
                "its LDT with modify_ldt is not in the CPU's descriptor tables (LAR %04x fails), so a far "
                "jump to it would raise #GP. The kernel or hypervisor runs user processes in 64-bit mode "
                "only (a PVM guest does; its dmesg says \"IA-32 emulation off: the host runs 64-bit user "
                "code only\"). Run the host differential tests on x86-64 Linux where user code can enter "
                "compatibility mode (bare metal or a hardware VM such as KVM; CONFIG_MODIFY_LDT_SYSCALL=y).\n",
                who, SEL_CODE32);
        exit(EXIT_NO_COMPAT);
    }
}

#endif
