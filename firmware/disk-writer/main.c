/*
 * The guest of the disk kill test (issue 12): writes records to the primary master through
 * ATA PIO and flushes them, forever, saying on the debug console what it has done:
 *
 *   disk N            the disk has N sectors (IDENTIFY DEVICE)
 *   w R S C           round R wrote sectors S..S+C-1 (WRITE SECTORS completed without error)
 *   f R               FLUSH CACHE completed: rounds 1..R are on the host's disk
 *
 * A record fills one sector: its magic, the run, the round and the sector number, filler
 * derived from them, and a CRC-32 of the rest, so the test can tell a whole record from
 * anything else. The command line gives run=N (a number the test chooses per run, so records
 * of earlier runs are told apart), seed=N (which sectors are written), flush=N (flush after
 * every N rounds; 1 by default) and rounds=N (exit with FW_EXIT_PASS after N rounds and a final
 * flush; 0, the default, is forever). Interrupts stay off (nIEN): the program polls the status.
 * Any device error ends the run with FW_EXIT_FAIL.
 */
#include "fw.h"

#define ATA_DATA 0x1F0
#define ATA_ERROR 0x1F1
#define ATA_COUNT 0x1F2
#define ATA_LBA0 0x1F3
#define ATA_LBA1 0x1F4
#define ATA_LBA2 0x1F5
#define ATA_DEVICE 0x1F6
#define ATA_STATUS 0x1F7 /* read: status; write: command */
#define ATA_CONTROL 0x3F6

#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_DF 0x20
#define ST_BSY 0x80

#define RECORD_MAGIC 0x4C4C494Bu /* "KILL" */
#define MAX_RUN 8                /* sectors per round, at most */

static inline void outw(uint16_t port, uint16_t value) { __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port)); }
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static uint8_t wait_not_busy(const char *what)
{
    for (uint32_t spins = 0;; spins++)
    {
        uint8_t st = inb(ATA_STATUS);
        if (!(st & ST_BSY)) return st;
        if (spins == 100000000u) fw_fail("%s: the disk stayed busy (status 0x%02x)", what, st);
    }
}

static void check(uint8_t st, const char *what)
{
    if (st & (ST_ERR | ST_DF)) fw_fail("%s: status 0x%02x, error 0x%02x", what, st, inb(ATA_ERROR));
}

static void command(uint32_t lba, uint8_t count, uint8_t cmd)
{
    wait_not_busy("select");
    outb(ATA_DEVICE, (uint8_t)(0xE0 | ((lba >> 24) & 0x0F))); /* LBA mode, master */
    wait_not_busy("select");
    outb(ATA_COUNT, count);
    outb(ATA_LBA0, (uint8_t)lba);
    outb(ATA_LBA1, (uint8_t)(lba >> 8));
    outb(ATA_LBA2, (uint8_t)(lba >> 16));
    outb(ATA_STATUS, cmd);
}

static uint32_t identify(void)
{
    static uint16_t id[256];
    command(0, 0, 0xEC); /* IDENTIFY DEVICE */
    uint8_t st = wait_not_busy("IDENTIFY");
    check(st, "IDENTIFY");
    if (!(st & ST_DRQ)) fw_fail("IDENTIFY: no data (status 0x%02x)", st);
    for (int i = 0; i < 256; i++) id[i] = inw(ATA_DATA);
    return id[60] | ((uint32_t)id[61] << 16); /* total user-addressable sectors (28-bit) */
}

static uint32_t rng_state;

static uint32_t next_random(void)
{
    /* xorshift32 */
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

/* The record for (run, round, sector), as the test rebuilds it. */
static void make_record(uint32_t *r, uint32_t run, uint32_t round, uint32_t sector)
{
    r[0] = RECORD_MAGIC;
    r[1] = run;
    r[2] = round;
    r[3] = sector;
    uint32_t x = (run * 0x9E3779B9u) ^ (round * 0x85EBCA6Bu) ^ (sector * 0xC2B2AE35u) ^ 1u;
    for (int i = 4; i < 127; i++)
    {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        r[i] = x;
    }
    r[127] = fw_crc32(0, r, 508);
}

static void write_sectors(uint32_t run, uint32_t round, uint32_t lba, uint32_t count)
{
    static uint32_t record[128];
    command(lba, (uint8_t)count, 0x30); /* WRITE SECTORS */
    for (uint32_t i = 0; i < count; i++)
    {
        uint8_t st = wait_not_busy("WRITE SECTORS");
        check(st, "WRITE SECTORS");
        if (!(st & ST_DRQ)) fw_fail("WRITE SECTORS: the disk asks for no data at sector %u (status 0x%02x)", lba + i, st);
        make_record(record, run, round, lba + i);
        const uint16_t *w = (const uint16_t *)record;
        for (int k = 0; k < 256; k++) outw(ATA_DATA, w[k]);
    }
    check(wait_not_busy("WRITE SECTORS"), "WRITE SECTORS");
}

int fw_main(uint32_t magic, const struct multiboot_info *mbi)
{
    (void)magic;
    uint32_t run = fw_cmdline_uint(mbi, "run", 1);
    rng_state = fw_cmdline_uint(mbi, "seed", 1) | 1u;
    uint32_t every = fw_cmdline_uint(mbi, "flush", 1);
    if (every == 0) every = 1;
    uint32_t rounds = fw_cmdline_uint(mbi, "rounds", 0);

    outb(ATA_CONTROL, 0x02); /* nIEN: no interrupts, the program polls */
    uint32_t sectors = identify();
    if (sectors < MAX_RUN) fw_fail("the disk has only %u sectors", sectors);
    fw_printf("disk %u\n", sectors);

    for (uint32_t round = 1; rounds == 0 || round <= rounds; round++)
    {
        uint32_t count = 1 + next_random() % MAX_RUN;
        uint32_t lba = next_random() % (sectors - count + 1);
        write_sectors(run, round, lba, count);
        fw_printf("w %u %u %u\n", round, lba, count);
        if (round % every == 0)
        {
            command(0, 0, 0xE7); /* FLUSH CACHE */
            check(wait_not_busy("FLUSH CACHE"), "FLUSH CACHE");
            fw_printf("f %u\n", round);
        }
    }
    command(0, 0, 0xE7);
    check(wait_not_busy("FLUSH CACHE"), "FLUSH CACHE");
    fw_printf("f %u\n", rounds);
    return FW_EXIT_PASS;
}
