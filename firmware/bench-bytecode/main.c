/*
 * Benchmark workload: a bytecode interpreter, `rounds` times (kernel command line rounds=N).
 * A small stack machine whose dispatch is a dense switch, which GCC compiles to a jump table
 * (an indirect JMP per bytecode; firmware/bench-bytecode/insns makes the build check that
 * one is there), runs a loop-heavy program: the total number of Collatz steps of 1..LIMIT-1
 * and the number of primes below PRIMES by trial division. The same two functions written in
 * C give the expected values; every round is checked against them.
 */
#include "fw.h"

#define DEFAULT_ROUNDS 8
#define LIMIT 700
#define PRIMES 600

enum op {
    OP_PUSH,  /* push the next word */
    OP_LOAD,  /* push local[next word] */
    OP_STORE, /* local[next word] = pop */
    OP_INC,   /* local[next word] += 1 */
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_MOD,
    OP_AND,
    OP_SHR,
    OP_LT,    /* a b -> a < b (unsigned) */
    OP_EQ,
    OP_DUP,
    OP_JMP,   /* to the next word */
    OP_JZ,    /* pop; jump when zero */
    OP_JNZ,   /* pop; jump when not zero */
    OP_HALT,  /* returns the top of the stack */
};

#define MAX_CODE 256
static uint32_t code[MAX_CODE];
static uint32_t length;

static uint32_t here(void) { return length; }

static void emit(uint32_t w)
{
    if (length == MAX_CODE) fw_fail("bytecode: the program is longer than %u words", MAX_CODE);
    code[length++] = w;
}

static void emit2(enum op op, uint32_t arg) { emit(op), emit(arg); }

/* A forward jump: returns where its target goes, for patch(). */
static uint32_t jump(enum op op)
{
    emit2(op, 0);
    return length - 1;
}

static void patch(uint32_t at) { code[at] = length; }

enum { N, X, STEPS, D, PRIME, COUNT };

/* local[STEPS] = Collatz steps of 1..LIMIT-1; local[COUNT] = primes below PRIMES; the result is STEPS + COUNT. */
static void assemble(void)
{
    length = 0;
    /* steps = 0; n = 1; while (n < LIMIT) { x = n; while (x != 1) { x = x & 1 ? 3x+1 : x >> 1; steps++ } n++ } */
    emit2(OP_PUSH, 0), emit2(OP_STORE, STEPS);
    emit2(OP_PUSH, 1), emit2(OP_STORE, N);
    uint32_t outer = here();
    emit2(OP_LOAD, N), emit2(OP_PUSH, LIMIT), emit(OP_LT);
    uint32_t done = jump(OP_JZ);
    emit2(OP_LOAD, N), emit2(OP_STORE, X);
    uint32_t inner = here();
    emit2(OP_LOAD, X), emit2(OP_PUSH, 1), emit(OP_EQ);
    uint32_t next = jump(OP_JNZ);
    emit2(OP_LOAD, X), emit2(OP_PUSH, 1), emit(OP_AND);
    uint32_t even = jump(OP_JZ);
    emit2(OP_LOAD, X), emit2(OP_PUSH, 3), emit(OP_MUL), emit2(OP_PUSH, 1), emit(OP_ADD), emit2(OP_STORE, X);
    uint32_t stepped = jump(OP_JMP);
    patch(even);
    emit2(OP_LOAD, X), emit2(OP_PUSH, 1), emit(OP_SHR), emit2(OP_STORE, X);
    patch(stepped);
    emit2(OP_INC, STEPS);
    emit2(OP_JMP, inner);
    patch(next);
    emit2(OP_INC, N);
    emit2(OP_JMP, outer);
    patch(done);
    /* count = 0; n = 2; while (n < PRIMES) { prime = 1; d = 2; while (d * d <= n) { if (n % d == 0) { prime = 0; break } d++ } count += prime; n++ } */
    emit2(OP_PUSH, 0), emit2(OP_STORE, COUNT);
    emit2(OP_PUSH, 2), emit2(OP_STORE, N);
    uint32_t candidates = here();
    emit2(OP_LOAD, N), emit2(OP_PUSH, PRIMES), emit(OP_LT);
    uint32_t counted = jump(OP_JZ);
    emit2(OP_PUSH, 1), emit2(OP_STORE, PRIME);
    emit2(OP_PUSH, 2), emit2(OP_STORE, D);
    uint32_t divisors = here();
    emit2(OP_LOAD, N), emit2(OP_LOAD, D), emit(OP_DUP), emit(OP_MUL), emit(OP_LT); /* n < d*d: no divisor left */
    uint32_t tested = jump(OP_JNZ);
    emit2(OP_LOAD, N), emit2(OP_LOAD, D), emit(OP_MOD);
    uint32_t notDivisor = jump(OP_JNZ);
    emit2(OP_PUSH, 0), emit2(OP_STORE, PRIME);
    uint32_t composite = jump(OP_JMP);
    patch(notDivisor);
    emit2(OP_INC, D);
    emit2(OP_JMP, divisors);
    patch(tested);
    patch(composite);
    emit2(OP_LOAD, COUNT), emit2(OP_LOAD, PRIME), emit(OP_ADD), emit2(OP_STORE, COUNT);
    emit2(OP_INC, N);
    emit2(OP_JMP, candidates);
    patch(counted);
    emit2(OP_LOAD, STEPS), emit2(OP_LOAD, COUNT), emit(OP_ADD);
    emit(OP_HALT);
}

/* Runs program with its locals in local[8]; returns what it halts with. */
__attribute__((noinline)) static uint32_t run(const uint32_t *program, uint32_t *local)
{
    uint32_t stack[16];
    uint32_t sp = 0, pc = 0;
    for (;;) {
        uint32_t op = program[pc++];
        switch (op) {
        case OP_PUSH: stack[sp++] = program[pc++]; break;
        case OP_LOAD: stack[sp++] = local[program[pc++] & 7]; break;
        case OP_STORE: local[program[pc++] & 7] = stack[--sp]; break;
        case OP_INC: local[program[pc++] & 7]++; break;
        case OP_ADD: sp--, stack[sp - 1] += stack[sp]; break;
        case OP_SUB: sp--, stack[sp - 1] -= stack[sp]; break;
        case OP_MUL: sp--, stack[sp - 1] *= stack[sp]; break;
        case OP_MOD: sp--, stack[sp - 1] = stack[sp] ? stack[sp - 1] % stack[sp] : 0; break;
        case OP_AND: sp--, stack[sp - 1] &= stack[sp]; break;
        case OP_SHR: sp--, stack[sp - 1] >>= stack[sp] & 31; break;
        case OP_LT: sp--, stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case OP_EQ: sp--, stack[sp - 1] = stack[sp - 1] == stack[sp]; break;
        case OP_DUP: stack[sp] = stack[sp - 1], sp++; break;
        case OP_JMP: pc = program[pc]; break;
        case OP_JZ: pc = stack[--sp] == 0 ? program[pc] : pc + 1; break;
        case OP_JNZ: pc = stack[--sp] != 0 ? program[pc] : pc + 1; break;
        case OP_HALT: return stack[sp - 1];
        default: fw_fail("bytecode: bad opcode %u at %u", op, pc - 1);
        }
        sp &= 15;
    }
}

/* The same computations in C. */
static void expected(uint32_t *steps_, uint32_t *count_)
{
    uint32_t steps = 0, count = 0;
    for (uint32_t n = 1; n < LIMIT; n++)
        for (uint32_t x = n; x != 1; steps++) x = x & 1 ? 3 * x + 1 : x >> 1;
    for (uint32_t n = 2; n < PRIMES; n++) {
        uint32_t prime = 1;
        for (uint32_t d = 2; d * d <= n; d++)
            if (n % d == 0) {
                prime = 0;
                break;
            }
        count += prime;
    }
    *steps_ = steps;
    *count_ = count;
}

int fw_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    uint32_t rounds = fw_cmdline_uint(mbi, "rounds", DEFAULT_ROUNDS);
    uint32_t steps, count, local[8] = { 0 };
    expected(&steps, &count);
    assemble();
    for (uint32_t r = 0; r < rounds; r++) {
        memset(local, 0, sizeof local);
        uint32_t sum = run(code, local);
        if (local[STEPS] != steps || local[COUNT] != count || sum != steps + count)
            fw_fail("bytecode: %u Collatz steps and %u primes (sum %u), expected %u and %u", local[STEPS], local[COUNT], sum, steps, count);
        fw_round_done(r + 1);
    }
    fw_printf("bytecode: %u Collatz steps below %u, %u primes below %u (%u words of bytecode); %u rounds\n",
        local[STEPS], LIMIT, local[COUNT], PRIMES, length, rounds);
    return FW_EXIT_PASS;
}
