/*
 * The host's x87 as an oracle for the arithmetic core, built as an ordinary 64-bit program
 * (the x87 is the same in long mode), for hosts that cannot run the 32-bit helper. Reads
 * records {u8 op; u16 cw; u8 a[10]; u8 b[10]} from stdin and writes {u8 res[10]; u16 sw}
 * for each: op 0-3 a+b, a-b, a*b, a/b; 4 sqrt(a); 5 FSTP m64; 6 FSTP m32; 7-9 FISTP
 * m64/m32/m16; 10 FCOMIP a, b (res[0] = CF | ZF << 1 | PF << 2). The control word must
 * mask every exception (nothing here handles #MF).
 */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#pragma pack(push,1)
struct in { uint8_t op; uint16_t cw; uint8_t a[10]; uint8_t b[10]; };
struct out { uint8_t res[10]; uint16_t sw; };
#pragma pack(pop)
int main(void) {
    struct in r; struct out o;
    while (fread(&r, sizeof r, 1, stdin) == 1) {
        memset(&o, 0, sizeof o);
        uint16_t sw = 0;
        switch (r.op) {
        case 0: __asm__ volatile("fninit; fldcw %2; fldt %4; fldt %3; fadd %%st(1), %%st; fnstsw %1; fstpt %0; fstp %%st(0)" : "=m"(o.res), "=m"(sw) : "m"(r.cw), "m"(r.a), "m"(r.b)); break;
        case 1: __asm__ volatile("fninit; fldcw %2; fldt %4; fldt %3; fsub %%st(1), %%st; fnstsw %1; fstpt %0; fstp %%st(0)" : "=m"(o.res), "=m"(sw) : "m"(r.cw), "m"(r.a), "m"(r.b)); break;
        case 2: __asm__ volatile("fninit; fldcw %2; fldt %4; fldt %3; fmul %%st(1), %%st; fnstsw %1; fstpt %0; fstp %%st(0)" : "=m"(o.res), "=m"(sw) : "m"(r.cw), "m"(r.a), "m"(r.b)); break;
        case 3: __asm__ volatile("fninit; fldcw %2; fldt %4; fldt %3; fdiv %%st(1), %%st; fnstsw %1; fstpt %0; fstp %%st(0)" : "=m"(o.res), "=m"(sw) : "m"(r.cw), "m"(r.a), "m"(r.b)); break;
        case 4: __asm__ volatile("fninit; fldcw %2; fldt %3; fsqrt; fnstsw %1; fstpt %0" : "=m"(o.res), "=m"(sw) : "m"(r.cw), "m"(r.a)); break;
        case 5: __asm__ volatile("fninit; fldcw %2; fldt %3; fstpl %0; fnstsw %1" : "=m"(*(double*)o.res), "=m"(sw) : "m"(r.cw), "m"(r.a)); break;
        case 6: __asm__ volatile("fninit; fldcw %2; fldt %3; fstps %0; fnstsw %1" : "=m"(*(float*)o.res), "=m"(sw) : "m"(r.cw), "m"(r.a)); break;
        case 7: __asm__ volatile("fninit; fldcw %2; fldt %3; fistpll %0; fnstsw %1" : "=m"(*(long long*)o.res), "=m"(sw) : "m"(r.cw), "m"(r.a)); break;
        case 8: __asm__ volatile("fninit; fldcw %2; fldt %3; fistpl %0; fnstsw %1" : "=m"(*(int*)o.res), "=m"(sw) : "m"(r.cw), "m"(r.a)); break;
        case 9: __asm__ volatile("fninit; fldcw %2; fldt %3; fistps %0; fnstsw %1" : "=m"(*(short*)o.res), "=m"(sw) : "m"(r.cw), "m"(r.a)); break;
        case 10: { uint8_t f; __asm__ volatile("fninit; fldcw %2; fldt %4; fldt %3; fcomip %%st(1), %%st; setc %0; fnstsw %1; fstp %%st(0)" : "=m"(f), "=m"(sw) : "m"(r.cw), "m"(r.a), "m"(r.b) : "cc"); 
                   uint8_t z, p; __asm__ volatile("fninit; fldt %3; fldt %2; fcomip %%st(1), %%st; setz %0; setp %1; fstp %%st(0)" : "=m"(z), "=m"(p) : "m"(r.a), "m"(r.b) : "cc"); o.res[0] = f | (z << 1) | (p << 2); break; }
        }
        o.sw = sw;
        fwrite(&o, sizeof o, 1, stdout);
    }
    return 0;
}
