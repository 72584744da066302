/* String and memory functions. The host build uses the C library's; the
 * hypervisor's own are in kernel/string.c. */
#ifndef ISTHMUS_KERNEL_STRING_H
#define ISTHMUS_KERNEL_STRING_H

#include "kernel/lib/types.h"

#ifdef ISTHMUS_HOST
#include <string.h>
#else
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
#endif
/* The data path's small copies (frame headers, descriptors, small frames),
 * in line: 8-byte general-register moves (the hypervisor uses no SIMD), the
 * last word overlapping the one before, so no byte loop and no call. For
 * n <= KCOPY_SMALL_MAX; src and dst must not overlap. Any alignment (x86-64). */
#define KCOPY_SMALL_MAX 256
typedef u64 __attribute__((may_alias, aligned(1))) kcopy_u64;
typedef u32 __attribute__((may_alias, aligned(1))) kcopy_u32;
typedef u16 __attribute__((may_alias, aligned(1))) kcopy_u16;

static inline void kcopy_small(void *dst, const void *src, size_t n)
{
    u8 *d = dst;
    const u8 *s = src;
    if (n >= 8) {
        u64 last = *(const kcopy_u64 *)(const void *)(s + n - 8);
        for (size_t i = 0; i + 8 < n; i += 8)
            *(kcopy_u64 *)(void *)(d + i) = *(const kcopy_u64 *)(const void *)(s + i);
        *(kcopy_u64 *)(void *)(d + n - 8) = last;
    } else if (n >= 4) {
        u32 a = *(const kcopy_u32 *)(const void *)s, b = *(const kcopy_u32 *)(const void *)(s + n - 4);
        *(kcopy_u32 *)(void *)d = a;
        *(kcopy_u32 *)(void *)(d + n - 4) = b;
    } else if (n >= 2) {
        u16 a = *(const kcopy_u16 *)(const void *)s, b = *(const kcopy_u16 *)(const void *)(s + n - 2);
        *(kcopy_u16 *)(void *)d = a;
        *(kcopy_u16 *)(void *)(d + n - 2) = b;
    } else if (n) {
        *d = *s;
    }
}

/* BSD strlcpy: copies at most size-1 bytes, always terminates; returns strlen(src). */
size_t kstrlcpy(char *dst, const char *src, size_t size);
/* Value of a hexadecimal digit (either case), or -1. */
int kxdigit(int c);
/* Parses an unsigned integer: decimal, 0x hex, optional '_' separators between digits and
 * an optional K/M/G/T binary suffix when allow_suffix. Rejects empty input, trailing junk
 * and overflow with -EINVAL / -ERANGE. */
int kparse_u64(const char *s, u64 *out, bool allow_suffix) __must_check;
/* A rate in bits per second: decimal digits and an optional k, M or G suffix
 * (powers of 1000): "100M", "512k", "1500000". -EINVAL / -ERANGE. */
int kparse_rate(const char *s, u64 *bits) __must_check;

#endif
