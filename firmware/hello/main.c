/*
 * The demo: checks what the Multiboot loader handed over, greets, computes something that
 * exercises the integer instructions (a prime sieve, a CRC-32, 64-bit arithmetic through
 * libgcc) and exits with FW_EXIT_PASS, or FW_EXIT_FAIL when a check does not hold.
 */
#include "fw.h"

#define SIEVE_LIMIT 100000u

static uint8_t composite[SIEVE_LIMIT]; /* in .bss: the loader must have zeroed it */

static uint32_t read_cr0(void)
{
    uint32_t v;
    __asm__ volatile("movl %%cr0, %0" : "=r"(v));
    return v;
}

static uint32_t read_eflags(void)
{
    uint32_t v;
    __asm__ volatile("pushfl; popl %0" : "=r"(v));
    return v;
}

static void check_entry_state(uint32_t magic, const struct multiboot_info *mbi)
{
    if (magic != MULTIBOOT_BOOTLOADER_MAGIC) fw_fail("EAX is 0x%08x, not the Multiboot magic 0x2BADB002", magic);
    uint32_t cr0 = read_cr0();
    if (!(cr0 & 1u)) fw_fail("CR0.PE is clear: not in protected mode (CR0 = 0x%08x)", cr0);
    if (cr0 & 0x80000000u) fw_fail("CR0.PG is set: paging must be off (CR0 = 0x%08x)", cr0);
    if (read_eflags() & (1u << 9)) fw_fail("EFLAGS.IF is set: interrupts must be off");
    if ((uint32_t)mbi >= 0x100000u) fw_fail("the information structure at 0x%08x is not in low memory", (uint32_t)mbi);
    uint32_t need = MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_MEM_MAP;
    if ((mbi->flags & need) != need) fw_fail("the information flags 0x%08x lack memory sizes or the memory map", mbi->flags);
    for (uint32_t i = 0; i < SIEVE_LIMIT; i++)
        if (composite[i]) fw_fail(".bss is not zeroed at offset %u", i);
}

static void show_memory(const struct multiboot_info *mbi)
{
    fw_printf("memory: lower %u KiB, upper %u KiB\n", mbi->mem_lower, mbi->mem_upper);
    uint64_t available = 0;
    uint32_t at = mbi->mmap_addr, end = mbi->mmap_addr + mbi->mmap_length;
    while (at < end) {
        const struct multiboot_mmap_entry *e = (const struct multiboot_mmap_entry *)at;
        fw_printf("  %08llx-%08llx %s\n", e->addr, e->addr + e->len - 1,
                  e->type == MULTIBOOT_MEMORY_AVAILABLE ? "available" : "reserved");
        if (e->type == MULTIBOOT_MEMORY_AVAILABLE) available += e->len;
        at += e->size + 4;
    }
    fw_printf("available: %llu KiB\n", available / 1024);
    /* The map and the two sizes must tell the same story. */
    if (available / 1024 != (uint64_t)mbi->mem_lower + mbi->mem_upper)
        fw_fail("the memory map (%llu KiB) disagrees with mem_lower + mem_upper", available / 1024);
}

static uint32_t crc32_update(uint32_t crc, const void *data, uint32_t n)
{
    const uint8_t *p = data;
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1u));
    }
    return ~crc;
}

static void primes(void)
{
    for (uint32_t i = 2; i * i < SIEVE_LIMIT; i++)
        if (!composite[i])
            for (uint32_t j = i * i; j < SIEVE_LIMIT; j += i) composite[j] = 1;
    uint32_t count = 0, last = 0, crc = 0;
    fw_puts("primes:");
    for (uint32_t i = 2; i < SIEVE_LIMIT; i++) {
        if (composite[i]) continue;
        if (count < 10) fw_printf(" %u", i);
        crc = crc32_update(crc, &i, sizeof i);
        count++;
        last = i;
    }
    fw_printf(" ...\n%u primes below %u, the largest %u, CRC-32 of them 0x%08x\n", count, SIEVE_LIMIT, last, crc);
    if (count != 9592 || last != 99991) fw_fail("the sieve found %u primes (expected 9592)", count);
}

static void fibonacci(void)
{
    uint64_t a = 0, b = 1;
    for (int i = 0; i < 90; i++) {
        uint64_t t = a + b;
        a = b;
        b = t;
    }
    /* Printing divides a 64-bit number: libgcc's __udivdi3 and __umoddi3 run here. */
    fw_printf("fib(90) = %llu\n", a);
    if (a != 2880067194370816120ull) fw_fail("fib(90) came out wrong");
}

int fw_main(uint32_t magic, const struct multiboot_info *mbi)
{
    check_entry_state(magic, mbi);
    fw_puts("Hello from emu's firmware demo!\n");
    if (mbi->flags & MULTIBOOT_INFO_LOADER_NAME) fw_printf("loader: %s\n", (const char *)mbi->boot_loader_name);
    if (mbi->flags & MULTIBOOT_INFO_CMDLINE) fw_printf("command line: \"%s\"\n", (const char *)mbi->cmdline);
    show_memory(mbi);
    primes();
    fibonacci();
    fw_puts("bye\n");
    return FW_EXIT_PASS;
}
