/*
 * Benchmark workload: deep and branching recursion, `rounds` times (kernel command line
 * rounds=N). Ackermann's function A(2, n) and A(3, n) (deep and narrow: a few hundred frames,
 * within the runtime's 16 KiB stack), N-queens by backtracking (a recursive search with bit masks), and a recursive quicksort of
 * a pseudo-random array (two calls per level, the smaller side first). Each result is checked
 * against known values: A(3, n) = 2^(n+3) - 3, 352 solutions for 9 queens, and the array
 * sorted with its sum unchanged.
 */
#include "fw.h"

#define DEFAULT_ROUNDS 28
#define NOIPA __attribute__((noinline, noipa))
#define QUEENS 9
#define QUEENS_SOLUTIONS 352
#define ELEMENTS 6000

NOIPA static uint32_t ackermann(uint32_t m, uint32_t n)
{
    if (m == 0) return n + 1;
    if (n == 0) return ackermann(m - 1, 1);
    uint32_t inner = ackermann(m, n - 1);
    __asm__("" : "+r"(inner)); /* keeps the outer call a real call (GCC would turn the tail call into a loop) */
    return ackermann(m - 1, inner);
}

/* Solutions with `row` queens placed; the masks hold the columns and diagonals under attack. */
NOIPA static uint32_t queens(uint32_t row, uint32_t columns, uint32_t left, uint32_t right)
{
    if (row == QUEENS) return 1;
    uint32_t count = 0, free = ~(columns | left | right) & ((1u << QUEENS) - 1);
    while (free) {
        uint32_t bit = free & -free;
        free -= bit;
        count += queens(row + 1, columns | bit, (left | bit) << 1, (right | bit) >> 1);
    }
    return count;
}

static int32_t elements[ELEMENTS];

NOIPA static void quicksort(int32_t *a, int32_t lo, int32_t hi)
{
    if (lo >= hi) return;
    int32_t pivot = a[lo + (hi - lo) / 2], i = lo, j = hi;
    while (i <= j) {
        while (a[i] < pivot) i++;
        while (a[j] > pivot) j--;
        if (i <= j) {
            int32_t t = a[i];
            a[i] = a[j], a[j] = t;
            i++, j--;
        }
    }
    quicksort(a, lo, j);
    quicksort(a, i, hi);
}

static void fill(int64_t *sum)
{
    uint32_t x = 7;
    *sum = 0;
    for (int32_t i = 0; i < ELEMENTS; i++) {
        x = x * 1103515245u + 12345u;
        elements[i] = (int32_t)x >> 4;
        *sum += elements[i];
    }
}

int fw_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    uint32_t rounds = fw_cmdline_uint(mbi, "rounds", DEFAULT_ROUNDS);
    uint32_t a2 = 0, a3 = 0, q = 0;
    for (uint32_t r = 0; r < rounds; r++) {
        a2 = ackermann(2, 100);
        a3 = ackermann(3, 5);
        if (a2 != 2 * 100 + 3 || a3 != (1u << (5 + 3)) - 3) fw_fail("recursion: A(2, 100) = %u, A(3, 5) = %u (expected 203, 253)", a2, a3);
        q = queens(0, 0, 0, 0);
        if (q != QUEENS_SOLUTIONS) fw_fail("recursion: %u solutions for %u queens, expected %u", q, QUEENS, QUEENS_SOLUTIONS);
        int64_t before, after = 0;
        fill(&before);
        quicksort(elements, 0, ELEMENTS - 1);
        for (int32_t i = 0; i < ELEMENTS; i++) {
            if (i > 0 && elements[i - 1] > elements[i]) fw_fail("recursion: quicksort left %d before %d at %d", elements[i - 1], elements[i], i);
            after += elements[i];
        }
        if (after != before) fw_fail("recursion: quicksort changed the sum of the elements");
        fw_round_done(r + 1);
    }
    fw_printf("recursion: A(2, 100) = %u, A(3, 5) = %u, %u solutions for %u queens, %u elements sorted; %u rounds\n",
        a2, a3, q, QUEENS, ELEMENTS, rounds);
    return FW_EXIT_PASS;
}
