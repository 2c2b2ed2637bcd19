/*
 * Benchmark workload: x87 floating point, `rounds` times (kernel command line rounds=N). The
 * n-body simulation of the Computer Language Benchmarks Game (the Sun and the four giant
 * planets, doubles: FMUL, FADD, FSUB, FDIV, FSQRT on the register stack) for STEPS steps from
 * the same start each round, and a Mandelbrot set's escape counts over a small grid (FCOMI,
 * loops that branch on comparisons of doubles). Built with -mfpmath=387 (firmware/bench-x87/
 * cflags); firmware/bench-x87/insns makes the build check that the x87 instructions are there.
 *
 * Checks: the energy before and after 1000 steps, rounded to 1e-9, is the Benchmarks Game's
 * -0.169075164 and -0.169087605; the bits of the bodies' final positions and velocities (a sum
 * of their 64-bit patterns) and the Mandelbrot count are the values QEMU's x87 and ours computed
 * when this was written (the same on both), so every round must give them exactly.
 */
#include "fw.h"

#define DEFAULT_ROUNDS 16
#define STEPS 1000
#define EXPECTED_BITS 0x7960634421fa4f74ull
#define EXPECTED_ESCAPES 32852u

#define PI 3.141592653589793
#define SOLAR_MASS (4 * PI * PI)
#define DAYS_PER_YEAR 365.24

struct body {
    double x, y, z, vx, vy, vz, mass;
};

#define BODIES 5
static const struct body start[BODIES] = {
    { 0, 0, 0, 0, 0, 0, SOLAR_MASS },
    { 4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01, 1.66007664274403694e-03 * DAYS_PER_YEAR,
        7.69901118419740425e-03 * DAYS_PER_YEAR, -6.90460016972063023e-05 * DAYS_PER_YEAR, 9.54791938424326609e-04 * SOLAR_MASS },
    { 8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01, -2.76742510726862411e-03 * DAYS_PER_YEAR,
        4.99852801234917238e-03 * DAYS_PER_YEAR, 2.30417297573763929e-05 * DAYS_PER_YEAR, 2.85885980666130812e-04 * SOLAR_MASS },
    { 1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01, 2.96460137564761618e-03 * DAYS_PER_YEAR,
        2.37847173959480950e-03 * DAYS_PER_YEAR, -2.96589568540237556e-05 * DAYS_PER_YEAR, 4.36624404335156298e-05 * SOLAR_MASS },
    { 1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01, 2.68067772490389322e-03 * DAYS_PER_YEAR,
        1.62824170038242295e-03 * DAYS_PER_YEAR, -9.51592254519715870e-05 * DAYS_PER_YEAR, 5.15138902046611451e-05 * SOLAR_MASS },
};
static struct body bodies[BODIES];

static void offset_momentum(void)
{
    double px = 0, py = 0, pz = 0;
    for (int i = 0; i < BODIES; i++) {
        px += bodies[i].vx * bodies[i].mass;
        py += bodies[i].vy * bodies[i].mass;
        pz += bodies[i].vz * bodies[i].mass;
    }
    bodies[0].vx = -px / SOLAR_MASS;
    bodies[0].vy = -py / SOLAR_MASS;
    bodies[0].vz = -pz / SOLAR_MASS;
}

static void advance(double dt)
{
    for (int i = 0; i < BODIES; i++) {
        struct body *a = &bodies[i];
        for (int j = i + 1; j < BODIES; j++) {
            struct body *b = &bodies[j];
            double dx = a->x - b->x, dy = a->y - b->y, dz = a->z - b->z;
            double d2 = dx * dx + dy * dy + dz * dz;
            double mag = dt / (d2 * __builtin_sqrt(d2));
            a->vx -= dx * b->mass * mag;
            a->vy -= dy * b->mass * mag;
            a->vz -= dz * b->mass * mag;
            b->vx += dx * a->mass * mag;
            b->vy += dy * a->mass * mag;
            b->vz += dz * a->mass * mag;
        }
    }
    for (int i = 0; i < BODIES; i++) {
        bodies[i].x += dt * bodies[i].vx;
        bodies[i].y += dt * bodies[i].vy;
        bodies[i].z += dt * bodies[i].vz;
    }
}

static double energy(void)
{
    double e = 0;
    for (int i = 0; i < BODIES; i++) {
        const struct body *a = &bodies[i];
        e += 0.5 * a->mass * (a->vx * a->vx + a->vy * a->vy + a->vz * a->vz);
        for (int j = i + 1; j < BODIES; j++) {
            const struct body *b = &bodies[j];
            double dx = a->x - b->x, dy = a->y - b->y, dz = a->z - b->z;
            e -= a->mass * b->mass / __builtin_sqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}

/* e rounded to the nearest multiple of 1e-9, in units of 1e-9 (FISTP/FIST with a truncating control word). */
static int64_t nano(double e)
{
    double v = e * 1e9;
    return (int64_t)(v < 0 ? v - 0.5 : v + 0.5);
}

static uint64_t bits(const double *d)
{
    uint64_t b;
    memcpy(&b, d, sizeof b);
    return b;
}

/* Escape counts of c = x + iy over a 48 x 32 grid of [-2, 1] x [-1, 1], at most 64 iterations each. */
static uint32_t mandelbrot(void)
{
    uint32_t total = 0;
    for (int py = 0; py < 32; py++) {
        double ci = -1.0 + 2.0 * py / 32;
        for (int px = 0; px < 48; px++) {
            double cr = -2.0 + 3.0 * px / 48, zr = 0, zi = 0;
            int n = 0;
            while (n < 64 && zr * zr + zi * zi <= 4.0) {
                double t = zr * zr - zi * zi + cr;
                zi = 2 * zr * zi + ci;
                zr = t;
                n++;
            }
            total += (uint32_t)n;
        }
    }
    return total;
}

int fw_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    __asm__ volatile("fninit"); /* the x87 state at reset is not the one C expects (all exceptions masked, double-extended precision) */
    uint32_t rounds = fw_cmdline_uint(mbi, "rounds", DEFAULT_ROUNDS);
    int64_t before = 0, after = 0;
    uint64_t sum = 0;
    uint32_t escapes = 0;
    for (uint32_t r = 0; r < rounds; r++) {
        memcpy(bodies, start, sizeof bodies);
        offset_momentum();
        before = nano(energy());
        for (int s = 0; s < STEPS; s++) advance(0.01);
        after = nano(energy());
        sum = 0;
        for (int i = 0; i < BODIES; i++)
            for (const double *d = &bodies[i].x; d <= &bodies[i].vz; d++) sum += bits(d);
        escapes = mandelbrot();
        if (before != -169075164 || after != -169087605 || sum != EXPECTED_BITS || escapes != EXPECTED_ESCAPES)
            fw_fail("x87: energy %lld then %lld (x 1e-9), bits 0x%llx, %u escapes (expected -169075164, -169087605, 0x%llx, %u)",
                before, after, sum, escapes, EXPECTED_BITS, EXPECTED_ESCAPES);
        fw_round_done(r + 1);
    }
    fw_printf("x87: n-body energy %lld then %lld (x 1e-9) after %u steps, bits 0x%llx, Mandelbrot %u; %u rounds\n",
        before, after, STEPS, sum, escapes, rounds);
    return FW_EXIT_PASS;
}
