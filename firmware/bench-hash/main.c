/*
 * Benchmark workload: MD5 (RFC 1321) of a 128 KiB buffer, `rounds` times (kernel command line
 * rounds=N). 32-bit adds, rotates, AND/OR/XOR/NOT on four chaining registers, a little-endian
 * message schedule loaded from memory. Checked against the RFC's test vectors (the empty
 * message, "abc", and 80 digits, which spans two blocks and the padding) and the buffer's digest
 * computed with Python's hashlib; every round against that.
 */
#include "fw.h"

#define SIZE (128u * 1024u)
#define DEFAULT_ROUNDS 18
/* hashlib.md5 of the buffer below (the same generator, in Python), as four little-endian words. */
static const uint32_t expected_digest[4] = { 0x95d76c1cu, 0xb01f7340u, 0x61b4eb5au, 0x68a3e0edu }; /* 1c6cd795...ede0a368 */

static uint8_t buffer[SIZE];

struct md5 {
    uint32_t h[4];
    uint64_t length; /* bytes so far */
    uint8_t block[64];
    uint32_t used;
};

/* The per-step rotate counts. */
static const uint8_t shift[64] = {
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
    5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};
static inline uint32_t rol(uint32_t x, uint32_t n) { return (x << n) | (x >> (32 - n)); }

/* The 2^32 * |sin(i)| table (checked against Python's math.sin when written). */
static const uint32_t sines[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

static void compress(uint32_t h[4], const uint8_t *p)
{
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f, g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) & 15;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) & 15;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) & 15;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + rol(a + f + sines[i] + m[g], shift[i]);
        a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d;
}

static void md5_init(struct md5 *s)
{
    s->h[0] = 0x67452301u, s->h[1] = 0xefcdab89u, s->h[2] = 0x98badcfeu, s->h[3] = 0x10325476u;
    s->length = 0;
    s->used = 0;
}

static void md5_update(struct md5 *s, const uint8_t *p, uint32_t n)
{
    s->length += n;
    while (n) {
        if (s->used == 0 && n >= 64) {
            compress(s->h, p);
            p += 64, n -= 64;
            continue;
        }
        s->block[s->used++] = *p++, n--;
        if (s->used == 64) compress(s->h, s->block), s->used = 0;
    }
}

static void md5_final(struct md5 *s, uint32_t out[4])
{
    uint64_t bits = s->length * 8;
    uint8_t pad = 0x80;
    md5_update(s, &pad, 1);
    pad = 0;
    while (s->used != 56) md5_update(s, &pad, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (8 * i));
    md5_update(s, len, 8);
    for (int i = 0; i < 4; i++) out[i] = s->h[i];
}

static void md5(const void *p, uint32_t n, uint32_t out[4])
{
    struct md5 s;
    md5_init(&s);
    md5_update(&s, p, n);
    md5_final(&s, out);
}

/* A digest as the usual hex string's words: each word's bytes in memory order. */
static uint32_t be(uint32_t x) { return x << 24 | (x & 0xFF00) << 8 | (x >> 8 & 0xFF00) | x >> 24; }

static void check_vector(const char *text, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    uint32_t h[4];
    md5(text, strlen(text), h);
    if (be(h[0]) != a || be(h[1]) != b || be(h[2]) != c || be(h[3]) != d)
        fw_fail("hash: MD5(\"%s\") = %08x%08x%08x%08x, expected %08x%08x%08x%08x", text, be(h[0]), be(h[1]), be(h[2]), be(h[3]), a, b, c, d);
}

int fw_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    uint32_t rounds = fw_cmdline_uint(mbi, "rounds", DEFAULT_ROUNDS);
    check_vector("", 0xd41d8cd9, 0x8f00b204, 0xe9800998, 0xecf8427e);
    check_vector("abc", 0x90015098, 0x3cd24fb0, 0xd6963f7d, 0x28e17f72);
    check_vector("12345678901234567890123456789012345678901234567890123456789012345678901234567890",
        0x57edf4a2, 0x2be3c955, 0xac49da2e, 0x2107b67a);
    /* A pseudo-random buffer: a 32-bit linear congruential generator (Numerical Recipes'), top byte. */
    uint32_t x = 2024;
    for (uint32_t i = 0; i < SIZE; i++) {
        x = x * 1664525u + 1013904223u;
        buffer[i] = (uint8_t)(x >> 24);
    }
    uint32_t h[4] = { 0 };
    for (uint32_t r = 0; r < rounds; r++) {
        md5(buffer, SIZE, h);
        for (int i = 0; i < 4; i++)
            if (h[i] != expected_digest[i])
                fw_fail("hash: MD5 of the buffer %08x%08x%08x%08x, expected %08x%08x%08x%08x", be(h[0]), be(h[1]), be(h[2]), be(h[3]),
                    be(expected_digest[0]), be(expected_digest[1]), be(expected_digest[2]), be(expected_digest[3]));
        fw_round_done(r + 1);
    }
    fw_printf("hash: MD5 %08x%08x%08x%08x over %u bytes; %u rounds\n", be(h[0]), be(h[1]), be(h[2]), be(h[3]), SIZE, rounds);
    return FW_EXIT_PASS;
}
