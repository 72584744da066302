/* Freestanding vsnprintf. Semantics follow C99 (and glibc where C99 leaves a
 * choice: NULL %s is "(null)", NULL %p is "(nil)") so the host tests can
 * compare against the C library byte for byte. %n is deliberately absent: a
 * format string should never be able to write memory. */
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

/* Widths and precisions beyond this are clamped: nothing legitimate needs
 * more, and it bounds the time spent padding for a hostile '*' argument. */
#define FMT_MAX_WIDTH 4096

#define F_LEFT  0x01
#define F_ZERO  0x02
#define F_SPACE 0x04
#define F_PLUS  0x08
#define F_ALT   0x10

enum len_mod { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_T, LEN_J };

struct outbuf {
    char *buf;
    size_t size;
    size_t pos; /* bytes the full output has so far, may exceed size */
};

static void out_c(struct outbuf *o, char c)
{
    if (o->size && o->pos < o->size - 1)
        o->buf[o->pos] = c;
    o->pos++;
}

static void out_rep(struct outbuf *o, char c, int n)
{
    while (n-- > 0)
        out_c(o, c);
}

static void out_s(struct outbuf *o, const char *s, size_t n)
{
    while (n--)
        out_c(o, *s++);
}

static void emit_number(struct outbuf *o, u64 mag, bool neg, unsigned base, bool upper, unsigned flags, int width,
                        int prec, bool is_signed, bool is_ptr)
{
    const char *digs = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24]; /* 22 octal digits cover 64 bits */
    int nd = 0;
    char sign = 0;
    const char *prefix = "";
    int npre = 0;
    bool have_prec = prec >= 0;

    if (!(prec == 0 && mag == 0)) {
        u64 v = mag;
        do {
            tmp[nd++] = digs[v % base];
            v /= base;
        } while (v);
    }
    if (is_signed) {
        if (neg)
            sign = '-';
        else if (flags & F_PLUS)
            sign = '+';
        else if (flags & F_SPACE)
            sign = ' ';
    }
    if (flags & F_ALT) {
        if (base == 16 && (mag != 0 || is_ptr)) {
            prefix = upper ? "0X" : "0x";
            npre = 2;
        } else if (base == 8 && (nd == 0 || tmp[nd - 1] != '0')) {
            /* '#' for octal raises the precision just enough for a leading 0. */
            if (prec < nd + 1)
                prec = nd + 1;
        }
    }

    int zeros = prec > nd ? prec - nd : 0;
    int body = (sign ? 1 : 0) + npre + zeros + nd;
    /* '0' pads with zeros after sign and prefix, unless a precision was given. */
    if ((flags & F_ZERO) && !(flags & F_LEFT) && !have_prec && width > body) {
        zeros += width - body;
        body = width;
    }
    if (!(flags & F_LEFT))
        out_rep(o, ' ', width - body);
    if (sign)
        out_c(o, sign);
    out_s(o, prefix, (size_t)npre);
    out_rep(o, '0', zeros);
    while (nd)
        out_c(o, tmp[--nd]);
    if (flags & F_LEFT)
        out_rep(o, ' ', width - body);
}

static int clamp_dim(long v) { return v > FMT_MAX_WIDTH ? FMT_MAX_WIDTH : (int)v; }

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap_in)
{
    struct outbuf o = { buf, size, 0 };
    va_list ap;

    va_copy(ap, ap_in);
    while (*fmt) {
        if (*fmt != '%') {
            out_c(&o, *fmt++);
            continue;
        }
        const char *spec = fmt++;
        unsigned flags = 0;
        int width = 0, prec = -1;
        enum len_mod len = LEN_NONE;

        for (;; fmt++) {
            if (*fmt == '-')
                flags |= F_LEFT;
            else if (*fmt == '0')
                flags |= F_ZERO;
            else if (*fmt == ' ')
                flags |= F_SPACE;
            else if (*fmt == '+')
                flags |= F_PLUS;
            else if (*fmt == '#')
                flags |= F_ALT;
            else
                break;
        }
        if (*fmt == '*') {
            int w = va_arg(ap, int);
            fmt++;
            if (w < 0) {
                flags |= F_LEFT;
                /* -INT_MIN does not exist; it is clamped anyway. */
                w = w == INT32_MIN ? FMT_MAX_WIDTH : -w;
            }
            width = clamp_dim(w);
        } else {
            long w = 0;
            while (*fmt >= '0' && *fmt <= '9') {
                if (w <= FMT_MAX_WIDTH)
                    w = w * 10 + (*fmt - '0');
                fmt++;
            }
            width = clamp_dim(w);
        }
        if (*fmt == '.') {
            fmt++;
            if (*fmt == '*') {
                int p = va_arg(ap, int);
                fmt++;
                prec = p < 0 ? -1 : clamp_dim(p);
            } else {
                long p = 0;
                while (*fmt >= '0' && *fmt <= '9') {
                    if (p <= FMT_MAX_WIDTH)
                        p = p * 10 + (*fmt - '0');
                    fmt++;
                }
                prec = clamp_dim(p);
            }
        }
        switch (*fmt) {
        case 'h':
            fmt++;
            len = LEN_H;
            if (*fmt == 'h') {
                fmt++;
                len = LEN_HH;
            }
            break;
        case 'l':
            fmt++;
            len = LEN_L;
            if (*fmt == 'l') {
                fmt++;
                len = LEN_LL;
            }
            break;
        case 'z':
            fmt++;
            len = LEN_Z;
            break;
        case 't':
            fmt++;
            len = LEN_T;
            break;
        case 'j':
            fmt++;
            len = LEN_J;
            break;
        default: break;
        }

        char conv = *fmt;
        if (conv)
            fmt++;
        switch (conv) {
        case 'd':
        case 'i': {
            s64 v;
            switch (len) {
            case LEN_HH: v = (signed char)va_arg(ap, int); break;
            case LEN_H: v = (short)va_arg(ap, int); break;
            case LEN_L: v = va_arg(ap, long); break;
            case LEN_LL: v = va_arg(ap, long long); break;
            case LEN_Z: v = va_arg(ap, long); break; /* signed size_t on LP64 */
            case LEN_T: v = va_arg(ap, ptrdiff_t); break;
            case LEN_J: v = va_arg(ap, intmax_t); break;
            default: v = va_arg(ap, int); break;
            }
            /* Negate in unsigned arithmetic so INT64_MIN has a magnitude. */
            u64 mag = v < 0 ? (u64)0 - (u64)v : (u64)v;
            emit_number(&o, mag, v < 0, 10, false, flags, width, prec, true, false);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            u64 v;
            switch (len) {
            case LEN_HH: v = (unsigned char)va_arg(ap, unsigned); break;
            case LEN_H: v = (unsigned short)va_arg(ap, unsigned); break;
            case LEN_L: v = va_arg(ap, unsigned long); break;
            case LEN_LL: v = va_arg(ap, unsigned long long); break;
            case LEN_Z: v = va_arg(ap, size_t); break;
            case LEN_T: v = (u64)va_arg(ap, ptrdiff_t); break;
            case LEN_J: v = va_arg(ap, uintmax_t); break;
            default: v = va_arg(ap, unsigned); break;
            }
            unsigned base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
            emit_number(&o, v, false, base, conv == 'X', flags, width, prec, false, false);
            break;
        }
        case 'p': {
            void *p = va_arg(ap, void *);
            if (!p) {
                int pad = width - 5;
                if (!(flags & F_LEFT))
                    out_rep(&o, ' ', pad);
                out_s(&o, "(nil)", 5);
                if (flags & F_LEFT)
                    out_rep(&o, ' ', pad);
            } else {
                emit_number(&o, (u64)(uintptr_t)p, false, 16, false, (flags & (F_LEFT | F_ZERO)) | F_ALT, width, prec,
                            false, true);
            }
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            size_t n = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
            int pad = width > (int)MIN(n, (size_t)FMT_MAX_WIDTH) ? width - (int)n : 0;
            if (!(flags & F_LEFT))
                out_rep(&o, ' ', pad);
            out_s(&o, s, n);
            if (flags & F_LEFT)
                out_rep(&o, ' ', pad);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            if (!(flags & F_LEFT))
                out_rep(&o, ' ', width - 1);
            out_c(&o, c);
            if (flags & F_LEFT)
                out_rep(&o, ' ', width - 1);
            break;
        }
        case '%': out_c(&o, '%'); break;
        default:
            /* Unknown or truncated conversion: print it literally so the
             * mistake is visible, and consume no argument. */
            out_s(&o, spec, (size_t)(fmt - spec));
            break;
        }
    }
    va_end(ap);

    if (size)
        buf[o.pos < size ? o.pos : size - 1] = '\0';
    return o.pos > (size_t)INT32_MAX ? INT32_MAX : (int)o.pos;
}

int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int kerr_fmt(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        kvsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}
