/*
 * Benchmark workload: function calls. Recursive Fibonacci (two calls per level), Takeuchi's
 * function (four, the outer one a tail call that GCC turns into a jump), and calls through a
 * table of function pointers, `rounds` times (kernel command line rounds=N). CALL, RET,
 * pushes and pops, frame setup and stack arguments. noipa keeps GCC from folding the calls
 * into constants.
 */
#include "fw.h"

#define DEFAULT_ROUNDS 14

#define NOIPA __attribute__((noinline, noipa))

NOIPA static uint32_t fib(uint32_t n)
{
    if (n < 2) return n;
    uint32_t a = fib(n - 1), b = fib(n - 2);
    __asm__("" : "+r"(b)); /* keeps the second call out of tail position: GCC would make it a loop */
    return a + b;
}

NOIPA static int32_t tak(int32_t x, int32_t y, int32_t z)
{
    if (y >= x) return z;
    return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y));
}

NOIPA static uint32_t op_add(uint32_t a, uint32_t b) { return a + b; }
NOIPA static uint32_t op_xor(uint32_t a, uint32_t b) { return a ^ b; }
NOIPA static uint32_t op_rot(uint32_t a, uint32_t b) { return (a << (b & 31)) | (a >> ((32 - (b & 31)) & 31)); }
NOIPA static uint32_t op_mul(uint32_t a, uint32_t b) { return a * (b | 1); }

static uint32_t (*const ops[4])(uint32_t, uint32_t) = { op_add, op_xor, op_rot, op_mul };

NOIPA static uint32_t dispatch(uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++) h = ops[(h >> 7) & 3](h, i) + 1;
    return h;
}

int fw_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    uint32_t rounds = fw_cmdline_uint(mbi, "rounds", DEFAULT_ROUNDS);
    uint32_t f = 0, h = 0;
    int32_t t = 0;
    for (uint32_t r = 0; r < rounds; r++) {
        f = fib(24);
        t = tak(18, 12, 6);
        h = dispatch(100000);
        if (f != 46368 || t != 7 || h != 0x5AD6F0E0u)
            fw_fail("calls: fib(24) = %u, tak(18, 12, 6) = %d, dispatch = 0x%08x (expected 46368, 7, 0x5ad6f0e0)", f, t, h);
        fw_round_done(r + 1);
    }
    fw_printf("calls: fib(24) = %u, tak(18, 12, 6) = %d, dispatch 0x%08x; %u rounds\n", f, t, h, rounds);
    return FW_EXIT_PASS;
}
