/*
 * Benchmark workload: strings and block copies, `rounds` times (kernel command line
 * rounds=N). Byte loops in C (the runtime's memcpy, memcmp, strlen) next to the string
 * instructions a C library uses (REP MOVSD/MOVSB, REP STOSD, REPE CMPSB, REPNE SCASB), at
 * every alignment. A checksum of the results is checked every round.
 */
#include "fw.h"

#define SIZE 16384u
#define DEFAULT_ROUNDS 32
#define EXPECTED 0xCB15E924u

static uint8_t src[SIZE + 64], dst[SIZE + 64];

static void rep_movs(void *d, const void *s, uint32_t n)
{
    /* What a C library's memcpy does: doublewords, then the bytes left over. */
    uint32_t dwords = n >> 2, bytes = n & 3;
    __asm__ volatile("rep movsl\n\tmovl %3, %%ecx\n\trep movsb"
                     : "+D"(d), "+S"(s), "+c"(dwords)
                     : "r"(bytes)
                     : "memory");
}

static void rep_stos(void *d, uint8_t v, uint32_t n)
{
    uint32_t word = v * 0x01010101u;
    uint32_t dwords = n >> 2;
    __asm__ volatile("rep stosl" : "+D"(d), "+c"(dwords) : "a"(word) : "memory");
}

static int repe_cmps(const void *a, const void *b, uint32_t n)
{
    /* Returns the number of bytes left when the first difference was found (0: equal). */
    uint32_t left = n;
    __asm__ volatile("test %%ecx, %%ecx\n\tjz 1f\n\trepe cmpsb\n\tjz 1f\n\tincl %%ecx\n1:"
                     : "+S"(a), "+D"(b), "+c"(left)
                     :
                     : "memory", "cc");
    return (int)left;
}

static uint32_t repne_scas_len(const char *s)
{
    uint32_t n = 0xFFFFFFFFu;
    __asm__ volatile("repne scasb" : "+D"(s), "+c"(n) : "a"(0) : "memory", "cc");
    return 0xFFFFFFFEu - n;
}

static uint32_t round_(uint32_t seed)
{
    uint32_t h = seed;
    uint32_t x = seed;
    for (uint32_t i = 0; i < SIZE + 64; i++) {
        x = x * 1103515245u + 12345u;
        src[i] = (uint8_t)((x >> 16) % 255 + 1); /* never 0, so strlen runs to the terminator below */
    }
    for (uint32_t align = 0; align < 8; align++) {
        uint32_t n = SIZE - 8 * align;
        rep_stos(dst, 0, SIZE + 64);
        rep_movs(dst + align, src + 7 - align, n);
        if (repe_cmps(dst + align, src + 7 - align, n) != 0) fw_fail("strings: REP MOVS copy differs at alignment %u", align);
        dst[align + n / 2] ^= 0x55;
        h = h * 31 + (uint32_t)repe_cmps(dst + align, src + 7 - align, n);
        memcpy(dst + 1, src + align, n);
        h = h * 31 + (uint32_t)memcmp(dst + 1, src + align, n);
        dst[1 + n - 3] = 0;
        h = h * 31 + (uint32_t)strlen((const char *)dst + 1);
        h = h * 31 + repne_scas_len((const char *)dst + 1);
        h = h * 31 + fw_crc32(0, dst + 1, 256);
    }
    return h;
}

int fw_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    uint32_t rounds = fw_cmdline_uint(mbi, "rounds", DEFAULT_ROUNDS);
    uint32_t h = 0;
    for (uint32_t r = 0; r < rounds; r++) {
        h = round_(2024);
        if (h != EXPECTED) fw_fail("strings: checksum 0x%08x, expected 0x%08x", h, EXPECTED);
        fw_round_done(r + 1);
    }
    fw_printf("strings: checksum 0x%08x over %u bytes at 8 alignments; %u rounds\n", h, SIZE, rounds);
    return FW_EXIT_PASS;
}
