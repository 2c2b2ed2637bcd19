/*
 * Benchmark workload: the sieve of Eratosthenes below 500,000, `rounds` times (kernel
 * command line rounds=N; the default takes about a second on the interpreter). Byte stores
 * in strided inner loops, a counting loop of loads and data-dependent branches.
 * Checks the count (41538 primes, the largest 499979) every round.
 */
#include "fw.h"

#define LIMIT 500000u
#define DEFAULT_ROUNDS 8

static uint8_t composite[LIMIT];

static uint32_t sieve(uint32_t *largest)
{
    memset(composite, 0, sizeof composite);
    for (uint32_t i = 2; i * i < LIMIT; i++)
        if (!composite[i])
            for (uint32_t j = i * i; j < LIMIT; j += i) composite[j] = 1;
    uint32_t count = 0;
    for (uint32_t i = 2; i < LIMIT; i++)
        if (!composite[i]) {
            count++;
            *largest = i;
        }
    return count;
}

int fw_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    uint32_t rounds = fw_cmdline_uint(mbi, "rounds", DEFAULT_ROUNDS);
    uint32_t count = 0, largest = 0;
    for (uint32_t r = 0; r < rounds; r++) {
        count = sieve(&largest);
        if (count != 41538 || largest != 499979)
            fw_fail("sieve: %u primes below %u, the largest %u (expected 41538, 499979)", count, LIMIT, largest);
        fw_round_done(r + 1);
    }
    fw_printf("sieve: %u primes below %u, the largest %u; %u rounds\n", count, LIMIT, largest, rounds);
    return FW_EXIT_PASS;
}
