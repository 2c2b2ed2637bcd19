/*
 * Benchmark workload: CRC-32 of a 256 KiB buffer, table-driven (loads, shifts, XOR), `rounds`
 * times (kernel command line rounds=N). The table is built bitwise; the first round is checked
 * against a known value (zlib's crc32 of the same buffer) and, on a 16 KiB prefix, against the
 * runtime's bitwise CRC-32; each later round against the first.
 */
#include "fw.h"

#define SIZE (256u * 1024u)
#define PREFIX (16u * 1024u)
#define DEFAULT_ROUNDS 32
#define EXPECTED 0x0F4CD422u /* CRC-32 of the buffer below (zlib.crc32) */

static uint8_t buffer[SIZE];
static uint32_t table[256];

static void make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        table[i] = c;
    }
}

static uint32_t crc32_table(const uint8_t *p, uint32_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    while (n--) crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

int fw_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    uint32_t rounds = fw_cmdline_uint(mbi, "rounds", DEFAULT_ROUNDS);
    /* A pseudo-random buffer: a 32-bit linear congruential generator, top byte. */
    uint32_t x = 12345;
    for (uint32_t i = 0; i < SIZE; i++) {
        x = x * 1103515245u + 12345u;
        buffer[i] = (uint8_t)(x >> 24);
    }
    make_table();
    if (crc32_table((const uint8_t *)"123456789", 9) != 0xCBF43926u) fw_fail("crc32: the check value of \"123456789\" is wrong");
    uint32_t crc = crc32_table(buffer, SIZE);
    if (crc != EXPECTED) fw_fail("crc32: 0x%08x, expected 0x%08x", crc, EXPECTED);
    uint32_t prefix = crc32_table(buffer, PREFIX), bitwise = fw_crc32(0, buffer, PREFIX);
    if (prefix != bitwise) fw_fail("crc32: table-driven 0x%08x, bitwise 0x%08x over %u bytes", prefix, bitwise, PREFIX);
    fw_round_done(1);
    for (uint32_t r = 1; r < rounds; r++) {
        uint32_t again = crc32_table(buffer, SIZE);
        if (again != crc) fw_fail("crc32: round %u gave 0x%08x, not 0x%08x", r, again, crc);
        fw_round_done(r + 1);
    }
    fw_printf("crc32: 0x%08x over %u bytes; %u rounds\n", crc, SIZE, rounds);
    return FW_EXIT_PASS;
}
