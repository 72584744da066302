/* The little of a C library the guest needs: memory and string functions (GCC
 * may emit calls to the mem* ones itself), a snprintf, a number parser. */
#include "guest/tg.h"

void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (dp <= sp || dp >= sp + n)
        return memcpy(d, s, n);
    while (n--)
        dp[n] = sp[n];
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] - y[i];
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

bool streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

void copy_str(char *d, const char *s, size_t n)
{
    size_t i = 0;
    if (!n)
        return;
    for (; i + 1 < n && s[i]; i++)
        d[i] = s[i];
    d[i] = 0;
}

/* Decimal, or hexadecimal after 0x, with an optional binary suffix k, m, g or t. */
bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0, base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = *s - 'A' + 10;
        else
            break;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    unsigned shift = 0;
    switch (*s) {
    case 0: break;
    case 'k': case 'K': shift = 10; s++; break;
    case 'm': case 'M': shift = 20; s++; break;
    case 'g': case 'G': shift = 30; s++; break;
    case 't': case 'T': shift = 40; s++; break;
    default: return false;
    }
    if (*s || (shift && v > (UINT64_MAX >> shift)))
        return false;
    *out = v << shift;
    return true;
}

bool parse_mac(const char *s, uint8_t mac[6])
{
    for (unsigned i = 0; i < 6; i++) {
        unsigned v = 0;
        for (unsigned k = 0; k < 2; k++, s++) {
            unsigned d;
            if (*s >= '0' && *s <= '9')
                d = *s - '0';
            else if ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
                d = (*s | 0x20) - 'a' + 10;
            else
                return false;
            v = v << 4 | d;
        }
        mac[i] = (uint8_t)v;
        if (*s != (i < 5 ? ':' : 0))
            return false;
        s += i < 5;
    }
    return true;
}

struct out {
    char *buf;
    size_t size, len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_num(struct out *o, uint64_t v, bool neg, unsigned base, bool upper,
                    unsigned width, bool zero, bool left)
{
    char tmp[24];
    unsigned n = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    unsigned len = n + neg;
    if (neg && zero)
        put(o, '-');
    if (!left)
        for (; width > len; width--)
            put(o, zero ? '0' : ' ');
    if (neg && !zero)
        put(o, '-');
    while (n)
        put(o, tmp[--n]);
    if (left)
        for (; width > len; width--)
            put(o, ' ');
}

/* %[-0][width][l|ll|z](d|i|u|x|X|p|s|c|%): enough for this guest. */
int tg_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        fmt++;
        bool zero = false, left = false;
        for (;; fmt++) {
            if (*fmt == '0')
                zero = true;
            else if (*fmt == '-')
                left = true;
            else
                break;
        }
        unsigned width = 0;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        int lng = 0;
        while (*fmt == 'l' || *fmt == 'z') {
            lng++;
            fmt++;
        }
        uint64_t u;
        int64_t s;
        switch (*fmt) {
        case 'd': case 'i':
            s = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            put_num(&o, s < 0 ? -(uint64_t)s : (uint64_t)s, s < 0, 10, false, width, zero, left);
            break;
        case 'u': case 'x': case 'X':
            u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            put_num(&o, u, false, *fmt == 'u' ? 10 : 16, *fmt == 'X', width, zero, left);
            break;
        case 'p':
            put(&o, '0');
            put(&o, 'x');
            put_num(&o, (uintptr_t)va_arg(ap, void *), false, 16, false, width, zero, left);
            break;
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            size_t n = strlen(str);
            if (!left)
                for (; width > n; width--)
                    put(&o, ' ');
            while (*str)
                put(&o, *str++);
            for (; width > n; width--)
                put(&o, ' ');
            break;
        }
        case 'c':
            put(&o, (char)va_arg(ap, int));
            break;
        case '%':
            put(&o, '%');
            break;
        case 0:
            fmt--;
            break;
        default:
            put(&o, '%');
            put(&o, *fmt);
        }
    }
    if (size)
        o.buf[o.len < size ? o.len : size - 1] = 0;
    return (int)o.len;
}

int tg_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = tg_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
