/* The address-space layout shared by the native helper and the C# harness (Layout.cs).
 * Keep the two in step: the emulator builds descriptor caches with exactly these values. */
#ifndef CONFORMANCE_LAYOUT_H
#define CONFORMANCE_LAYOUT_H

/* Flat 32-bit test code lives below 64 KiB so that 16-bit operand-size branches in 32-bit
 * code (whose targets are truncated to 16 bits) still land on our trampolines. */
#define CODE32_BASE     0x00008000u  /* mapped RWX, CODE32_SIZE bytes */
#define CODE32_SIZE     0x00004000u
#define CODE32_ENTRY    0x00009000u
#define CODE32_EXIT_FALL  0x0000A000u
#define CODE32_EXIT_TAKEN 0x0000A010u

/* The data segment (LDT): base DATA_BASE, limit DATA_SIZE-1, loaded in DS, ES, FS and SS. */
#define DATA_BASE       0x00020000u
#define DATA_SIZE       0x00010000u

/* The 16-bit code segment (LDT): base CODE16_BASE, limit 0xFFFF. Offsets below. */
#define CODE16_BASE     0x00030000u
#define CODE16_SIZE     0x00010000u
#define CODE16_ENTRY    0x1000u
#define CODE16_EXIT_FALL  0x2000u
#define CODE16_EXIT_TAKEN 0x2010u

#define CODE_WINDOW     64u          /* bytes of code per case, padded with HLT (F4) */

/* LDT entries: 0 = data (B=1), 1 = data (B=0, a 16-bit stack), 2 = 16-bit code,
 * 3 = flat 32-bit code (the helper is a 64-bit process; the cases run in compatibility mode
 * through this segment, since the GDT's 32-bit user code segment may be absent). */
#define SEL_DATA32      ((0u << 3) | 4u | 3u)
#define SEL_DATA16      ((1u << 3) | 4u | 3u)
#define SEL_CODE16      ((2u << 3) | 4u | 3u)
#define SEL_CODE32      ((3u << 3) | 4u | 3u)

#define MODE_CODE16     1u
#define MODE_STACK16    2u

#endif
