/* Memory and string primitives for the freestanding build, plus the helpers
 * both builds share (kstrlcpy, kparse_u64). */
#include "kernel/lib/string.h"
#include "kernel/lib/errno.h"

#ifndef ISTHMUS_HOST
/* gcc recognises these loops as memset/memcpy and would emit calls to the very
 * function being defined, recursing forever; keep the loops as loops. */
#define NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))

/* Word-sized accesses into memory of any type, without strict-aliasing UB;
 * x86-64 allows them at any alignment. */
typedef u64 __attribute__((may_alias)) u64_alias;
typedef u64 __attribute__((may_alias, aligned(1))) u64_unaligned;

NO_LIBCALL void *memcpy(void *dst, const void *src, size_t n)
{
    /* Long copies (guest images, network frames) go to the CPU's string
     * engine: fast with ERMS, correct on every x86-64, whatever the two
     * alignments. */
    if (n >= 512) {
        void *d = dst;
        const void *s = src;
        __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
        return dst;
    }
    u8 *d = dst;
    const u8 *s = src;
    for (; n >= 8; n -= 8, d += 8, s += 8)
        *(u64_unaligned *)(void *)d = *(const u64_unaligned *)(const void *)s;
    while (n--)
        *d++ = *s++;
    return dst;
}

NO_LIBCALL void *memmove(void *dst, const void *src, size_t n)
{
    u8 *d = dst;
    const u8 *s = src;

    if (d == s || n == 0)
        return dst;
    /* A forward copy is safe unless dst starts inside src. */
    if ((uintptr_t)d - (uintptr_t)s >= n)
        return memcpy(dst, src, n);
    while (n--)
        d[n] = s[n];
    return dst;
}

NO_LIBCALL void *memset(void *dst, int c, size_t n)
{
    u8 *d = dst;
    u64 pat = (u8)c * 0x0101010101010101ULL;

    while (n && ((uintptr_t)d & 7)) {
        *d++ = (u8)c;
        n--;
    }
    for (; n >= 8; n -= 8, d += 8)
        *(u64_alias *)(void *)d = pat;
    while (n--)
        *d++ = (u8)c;
    return dst;
}

NO_LIBCALL int memcmp(const void *a, const void *b, size_t n)
{
    const u8 *x = a, *y = b;

    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

NO_LIBCALL size_t strlen(const char *s)
{
    const char *p = s;

    while (*p)
        p++;
    return (size_t)(p - s);
}

NO_LIBCALL size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;

    while (n < max && s[n])
        n++;
    return n;
}

NO_LIBCALL int strcmp(const char *a, const char *b)
{
    const u8 *x = (const u8 *)a, *y = (const u8 *)b;

    while (*x && *x == *y) {
        x++;
        y++;
    }
    return (*x > *y) - (*x < *y);
}

NO_LIBCALL int strncmp(const char *a, const char *b, size_t n)
{
    const u8 *x = (const u8 *)a, *y = (const u8 *)b;

    for (; n; n--, x++, y++) {
        if (*x != *y)
            return *x < *y ? -1 : 1;
        if (!*x)
            break;
    }
    return 0;
}

NO_LIBCALL char *strchr(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (!*s)
            return NULL;
    }
}
#endif /* !ISTHMUS_HOST */

size_t kstrlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);

    if (size) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

int kxdigit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int suffix_shift(char c)
{
    switch (c) {
    case 'K':
    case 'k': return 10;
    case 'M':
    case 'm': return 20;
    case 'G':
    case 'g': return 30;
    case 'T':
    case 't': return 40;
    default: return -1;
    }
}

int kparse_u64(const char *s, u64 *out, bool allow_suffix)
{
    unsigned base = 10;
    u64 v = 0;
    bool have_digit = false, last_sep = false;

    if (!s || !out)
        return -EINVAL;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    for (; *s; s++) {
        if (*s == '_') {
            /* Separators only between digits: "_1", "1__0" and "1_" are typos. */
            if (!have_digit || last_sep)
                return -EINVAL;
            last_sep = true;
            continue;
        }
        int d = kxdigit(*s);
        if (d < 0 || (unsigned)d >= base)
            break;
        if (v > (UINT64_MAX - (u64)d) / base)
            return -ERANGE;
        v = v * base + (u64)d;
        have_digit = true;
        last_sep = false;
    }
    if (!have_digit || last_sep)
        return -EINVAL;
    if (*s && allow_suffix) {
        int sh = suffix_shift(*s);
        if (sh < 0)
            return -EINVAL;
        if (v > (UINT64_MAX >> sh))
            return -ERANGE;
        v <<= sh;
        s++;
    }
    if (*s)
        return -EINVAL;
    *out = v;
    return 0;
}

int kparse_rate(const char *s, u64 *bits)
{
    u64 v = 0;
    const char *p = s;
    if (!s || !bits)
        return -EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -ERANGE;
        v = v * 10 + (u64)(*p - '0');
    }
    u64 mul = *p == 'k' ? 1000 : *p == 'M' ? 1000000 : *p == 'G' ? 1000000000 : 1;
    if (p == s || (mul > 1 ? p[1] != 0 : *p != 0))
        return -EINVAL;
    if (v > UINT64_MAX / mul)
        return -ERANGE;
    *bits = v * mul;
    return 0;
}
