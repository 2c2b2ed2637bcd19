/* The firmware runtime: console output, exit, printf, and the memory functions GCC may call. */
#include "fw.h"

#define DEBUGCON_PORT 0xE9
#define DEBUG_EXIT_PORT 0xF4

void fw_putc(char c) { outb(DEBUGCON_PORT, (uint8_t)c); }

void fw_puts(const char *s)
{
    while (*s) fw_putc(*s++);
}

void fw_exit(uint32_t value)
{
    __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"((uint16_t)DEBUG_EXIT_PORT));
    for (;;) __asm__ volatile("cli; hlt");
}

void fw_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fw_puts("FAIL: ");
    fw_vprintf(fmt, ap);
    fw_putc('\n');
    va_end(ap);
    fw_exit(FW_EXIT_FAIL);
}

static void put_number(uint64_t v, unsigned base, int upper, int width, char pad, int negative)
{
    char buf[24];
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0;
    do {
        buf[n++] = digits[v % base];
        v /= base;
    } while (v);
    if (negative) buf[n++] = '-';
    while (n < width) fw_putc(pad), width--;
    while (n) fw_putc(buf[--n]);
}

void fw_vprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            fw_putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, longs = 0;
        if (*fmt == '0') pad = '0', fmt++;
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') longs++, fmt++;
        switch (*fmt) {
        case 'c': fw_putc((char)va_arg(ap, int)); break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            fw_puts(s ? s : "(null)");
            break;
        }
        case 'd': {
            int64_t v = longs >= 2 ? va_arg(ap, int64_t) : va_arg(ap, int);
            put_number(v < 0 ? (uint64_t)-v : (uint64_t)v, 10, 0, width, pad, v < 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = longs >= 2 ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            put_number(v, *fmt == 'u' ? 10 : 16, *fmt == 'X', width, pad, 0);
            break;
        }
        case '%': fw_putc('%'); break;
        case '\0': return;
        default: fw_putc('%'), fw_putc(*fmt); break;
        }
    }
}

void fw_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fw_vprintf(fmt, ap);
    va_end(ap);
}

void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--) *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--) *p++ = *q++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    if (p < q) {
        while (n--) *p++ = *q++;
    } else {
        while (n--) p[n] = q[n];
    }
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q) return *p - *q;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

uint32_t fw_cmdline_uint(const struct multiboot_info *mbi, const char *key, uint32_t fallback)
{
    if (!(mbi->flags & MULTIBOOT_INFO_CMDLINE) || !mbi->cmdline) return fallback;
    size_t keylen = strlen(key);
    const char *p = (const char *)mbi->cmdline;
    while (*p) {
        while (*p == ' ') p++;
        const char *word = p;
        while (*p && *p != ' ') p++;
        if ((size_t)(p - word) <= keylen || memcmp(word, key, keylen) != 0 || word[keylen] != '=') continue;
        uint64_t v = 0;
        const char *q = word + keylen + 1;
        if (q == p) return fallback;
        for (; q < p; q++) {
            if (*q < '0' || *q > '9') return fallback;
            v = v * 10 + (uint32_t)(*q - '0');
            if (v > 0xFFFFFFFFu) return fallback;
        }
        return (uint32_t)v;
    }
    return fallback;
}

uint32_t fw_crc32(uint32_t crc, const void *data, uint32_t n)
{
    const uint8_t *p = data;
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1u));
    }
    return ~crc;
}
