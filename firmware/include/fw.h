/*
 * The runtime every firmware program links with (firmware/lib): the debug console at port
 * 0xE9, the debug-exit port at 0xF4, a small printf, and what the C compiler may call.
 *
 * A program defines fw_main; lib/start.S calls it with what the Multiboot loader handed over
 * and passes its return value to fw_exit.
 */
#ifndef FW_H
#define FW_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "multiboot.h"

/* Exit values by convention: the emulator (and QEMU's isa-debug-exit) exits with (v << 1) | 1. */
#define FW_EXIT_PASS 0x10 /* process exit status 33 */
#define FW_EXIT_FAIL 0x11 /* process exit status 35 */

int fw_main(uint32_t magic, const struct multiboot_info *mbi);

static inline void outb(uint16_t port, uint8_t value) { __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void fw_putc(char c);
void fw_puts(const char *s);
/* %c %s %d %u %x %X, %llu %llx, with optional '0' flag and width; nothing more. */
void fw_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fw_vprintf(const char *fmt, va_list ap);

/*
 * The benchmark round mark: a workload writes the number of the round it has just finished
 * (1, 2, ...) here, after checking it. `emu bench` times rounds by these marks (it warms the
 * translator up over the first rounds and times the later ones); elsewhere no device claims the
 * port and the write is ignored (QEMU ignores it too).
 */
#define FW_ROUND_PORT 0xEA
static inline void fw_round_done(uint32_t round)
{
    __asm__ volatile("outl %0, %1" : : "a"(round), "Nd"((uint16_t)FW_ROUND_PORT));
}

/* Ends the run through the debug-exit port; halts forever if no such port exists. */
__attribute__((noreturn)) void fw_exit(uint32_t value);

/* Prints a failure and exits with FW_EXIT_FAIL. */
__attribute__((noreturn)) void fw_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The value of KEY=NUMBER in the kernel command line (words separated by spaces; decimal),
 * or `fallback` when the command line has no such word or its number is malformed.
 */
uint32_t fw_cmdline_uint(const struct multiboot_info *mbi, const char *key, uint32_t fallback);

/* The CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of n bytes, continuing from crc (0 to start). */
uint32_t fw_crc32(uint32_t crc, const void *data, uint32_t n);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
