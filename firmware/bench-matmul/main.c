/*
 * Benchmark workload: 64x64 integer matrix multiply (32-bit, wrapping), `rounds` times
 * (kernel command line rounds=N). IMUL, adds, strided loads through two-dimensional arrays.
 * The result's checksum is checked every round.
 */
#include "fw.h"

#define N 64
#define DEFAULT_ROUNDS 28
#define EXPECTED_SUM 0xD400787Fu  /* sum of C's elements, mod 2^32 */
#define EXPECTED_MIX 0x152ACD37u  /* a position-weighted mix of them (see checksum) */

static int32_t a[N][N], b[N][N], c[N][N];

static void fill(void)
{
    uint32_t x = 1;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            x = x * 1664525u + 1013904223u;
            a[i][j] = (int32_t)(x >> 16) - 32768;
            x = x * 1664525u + 1013904223u;
            b[i][j] = (int32_t)(x >> 16) - 32768;
        }
}

static void multiply(void)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            uint32_t s = 0; /* unsigned: the sum wraps, which signed overflow may not */
            for (int k = 0; k < N; k++) s += (uint32_t)a[i][k] * (uint32_t)b[k][j];
            c[i][j] = (int32_t)s;
        }
}

static void checksum(uint32_t *sum, uint32_t *mix)
{
    uint32_t s = 0, m = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            s += (uint32_t)c[i][j];
            m = (m ^ (uint32_t)c[i][j]) * 16777619u + (uint32_t)(i * N + j);
        }
    *sum = s;
    *mix = m;
}

int fw_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    uint32_t rounds = fw_cmdline_uint(mbi, "rounds", DEFAULT_ROUNDS);
    fill();
    uint32_t sum = 0, mix = 0;
    for (uint32_t r = 0; r < rounds; r++) {
        memset(c, 0, sizeof c);
        multiply();
        checksum(&sum, &mix);
        if (sum != EXPECTED_SUM || mix != EXPECTED_MIX)
            fw_fail("matmul: checksums 0x%08x 0x%08x, expected 0x%08x 0x%08x", sum, mix, EXPECTED_SUM, EXPECTED_MIX);
        fw_round_done(r + 1);
    }
    fw_printf("matmul: %ux%u, checksums 0x%08x 0x%08x; %u rounds\n", N, N, sum, mix, rounds);
    return FW_EXIT_PASS;
}
