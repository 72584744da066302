/* kvsnprintf against the host C library: a generated table of every flag,
 * width, precision, length and conversion combination plus hand-picked edge
 * cases, and truncation at every buffer size. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <cmocka.h>

#include "kernel/lib/printf.h"

static int compared;

/* Compares kernel and host output for one call at several buffer sizes. */
static void check_v(const char *fmt, ...)
{
    char k[512], h[512];
    va_list ap, aq;

    va_start(ap, fmt);
    va_copy(aq, ap);
    int rk = kvsnprintf(k, sizeof(k), fmt, ap);
    int rh = vsnprintf(h, sizeof(h), fmt, aq);
    va_end(aq);
    va_end(ap);
    if (rk != rh || strcmp(k, h) != 0)
        fail_msg("fmt \"%s\": kernel %d \"%s\" host %d \"%s\"", fmt, rk, k, rh, h);

    /* Truncated: same prefix, always terminated, same return value. */
    size_t sizes[] = { 0, 1, 2, 3, (size_t)rh, (size_t)rh + 1 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t sz = sizes[i];
        if (sz > sizeof(k))
            continue;
        memset(k, 'Z', sizeof(k));
        memset(h, 'Z', sizeof(h));
        va_start(ap, fmt);
        va_copy(aq, ap);
        rk = kvsnprintf(sz ? k : NULL, sz, fmt, ap);
        rh = vsnprintf(sz ? h : NULL, sz, fmt, aq);
        va_end(aq);
        va_end(ap);
        assert_int_equal(rk, rh);
        if (sz)
            assert_memory_equal(k, h, sz);
        assert_int_equal(k[sz], 'Z'); /* nothing written past size */
    }
    compared++;
}

static const long long svals[] = {
    0,
    1,
    -1,
    7,
    -7,
    42,
    127,
    -128,
    255,
    32767,
    -32768,
    65535,
    INT_MAX,
    INT_MIN,
    (long long)UINT_MAX,
    0x123456789LL,
    -0x123456789LL,
    INT64_MAX,
    INT64_MIN,
};

static const char *const flagsets[] = { "", "-", "0", " ", "+", "#", "-0", "+ ", "#0", "-#", "+0", "-+ #0" };
static const char *const widths[] = { "", "1", "5", "12", "25" };
static const char *const precs[] = { "", ".", ".0", ".1", ".5", ".21" };
static const char *const lens[] = { "", "hh", "h", "l", "ll", "z", "t", "j" };

static void call_one(const char *fmt, const char *len, char conv, long long v)
{
    bool sgn = conv == 'd' || conv == 'i';

    if (!strcmp(len, "")) {
        if (sgn)
            check_v(fmt, (int)v);
        else
            check_v(fmt, (unsigned)v);
    } else if (!strcmp(len, "hh") || !strcmp(len, "h")) {
        if (sgn)
            check_v(fmt, (int)v);
        else
            check_v(fmt, (unsigned)v);
    } else if (!strcmp(len, "l")) {
        if (sgn)
            check_v(fmt, (long)v);
        else
            check_v(fmt, (unsigned long)v);
    } else if (!strcmp(len, "ll")) {
        if (sgn)
            check_v(fmt, v);
        else
            check_v(fmt, (unsigned long long)v);
    } else if (!strcmp(len, "z")) {
        if (sgn)
            check_v(fmt, (ssize_t)v);
        else
            check_v(fmt, (size_t)v);
    } else if (!strcmp(len, "t")) {
        check_v(fmt, (ptrdiff_t)v);
    } else {
        if (sgn)
            check_v(fmt, (intmax_t)v);
        else
            check_v(fmt, (uintmax_t)v);
    }
}

static void test_integer_table(void **state)
{
    static const char convs[] = "diuxXo";
    int before = compared;

    for (size_t f = 0; f < sizeof(flagsets) / sizeof(flagsets[0]); f++)
        for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++)
            for (size_t p = 0; p < sizeof(precs) / sizeof(precs[0]); p++)
                for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
                    for (size_t c = 0; c < sizeof(convs) - 1; c++)
                        for (size_t v = 0; v < sizeof(svals) / sizeof(svals[0]); v++) {
                            char fmt[64];
                            snprintf(fmt, sizeof(fmt), "<%%%s%s%s%s%c>", flagsets[f], widths[w], precs[p], lens[l],
                                     convs[c]);
                            call_one(fmt, lens[l], convs[c], svals[v]);
                        }
    print_message("integer table: %d comparisons\n", compared - before);
    assert_true(compared - before > 100000);
}

static void test_strings_and_chars(void **state)
{
    const char *strs[] = { "", "a", "hello", "a longer string of text" };
    for (size_t f = 0; f < sizeof(flagsets) / sizeof(flagsets[0]); f++)
        for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++)
            for (size_t p = 0; p < sizeof(precs) / sizeof(precs[0]); p++) {
                char fmt[64];
                if (strchr(flagsets[f], '0') || strchr(flagsets[f], '#') || strchr(flagsets[f], '+') ||
                    strchr(flagsets[f], ' '))
                    continue; /* undefined for %s/%c */
                snprintf(fmt, sizeof(fmt), "[%%%s%s%ss]", flagsets[f], widths[w], precs[p]);
                for (size_t s = 0; s < sizeof(strs) / sizeof(strs[0]); s++)
                    check_v(fmt, strs[s]);
                if (!precs[p][0]) {
                    snprintf(fmt, sizeof(fmt), "[%%%s%sc]", flagsets[f], widths[w]);
                    check_v(fmt, 'x');
                    check_v(fmt, 0x41);
                }
            }
    check_v("%s", (char *)NULL);
    check_v("%10s|%-10s|", (char *)NULL, (char *)NULL);
    check_v("%c%c%c", 'a', 'b', 'c');
    check_v("%.*s", 3, "abcdef");
    check_v("%.*s", -1, "abcdef");
    check_v("%*s|%*s", 6, "ab", -6, "ab");
}

static void test_pointers(void **state)
{
    int x;
    check_v("%p", (void *)&x);
    check_v("%p", (void *)0x1);
    check_v("%p", (void *)UINTPTR_MAX);
    check_v("%20p|%-20p|", (void *)0xdeadbeef, (void *)0xdeadbeef);
    check_v("%p", (void *)NULL);
    check_v("%10p|%-10p|", (void *)NULL, (void *)NULL);
}

static void test_misc(void **state)
{
    check_v("plain text");
    check_v("");
    check_v("100%%");
    check_v("%%%d%%", 5);
    check_v("%*d|%-*d|%*d", 8, 42, 8, 42, -8, 42);
    check_v("%.*d|%.*d", 6, 42, -3, 42);
    check_v("%0*.*x", 10, 4, 0xab);
    check_v("%d %s %c %x %lu %lld", -5, "mid", 'q', 255u, 12345678901ul, -1ll);
    check_v("%#x %#o %#X %#.0o %#.0x", 0u, 0u, 0u, 0u, 0u);
    check_v("%#o %#5o %#.3o", 8u, 8u, 8u);
    check_v("%hhd %hhu %hd %hu", 300, 300u, 70000, 70000u);
    check_v("%lld %llx", (long long)INT64_MIN, (unsigned long long)INT64_MIN);
    check_v("%020lld|%-+25lld|% lld", (long long)INT64_MIN, (long long)INT64_MIN, (long long)INT64_MAX);
    check_v("%zu %zd %td %ju %jd", (size_t)SIZE_MAX, (ssize_t)-3, (ptrdiff_t)-9, (uintmax_t)UINTMAX_MAX,
            (intmax_t)INTMAX_MIN);
}

/* No format attribute: these calls are malformed on purpose. */
static int kraw(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = kvsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return r;
}

static void test_kernel_specific(void **state)
{
    char buf[64];

    /* Unknown conversions are printed literally and consume no argument. */
    assert_int_equal(kraw(buf, sizeof(buf), "%y %d", 5), 4);
    assert_string_equal(buf, "%y 5");
    assert_int_equal(kraw(buf, sizeof(buf), "abc%"), 4);
    assert_string_equal(buf, "abc%");
    assert_int_equal(kraw(buf, sizeof(buf), "%-08lq"), 6);
    assert_string_equal(buf, "%-08lq");
    /* %n is refused rather than writing through the argument. */
    int n = 1234;
    kraw(buf, sizeof(buf), "ab%n", &n);
    assert_int_equal(n, 1234);

    /* Huge widths are clamped, not trusted. */
    int r = kraw(buf, sizeof(buf), "%*d", INT_MAX, 1);
    assert_true(r > 0 && r <= 4096);
    r = kraw(buf, sizeof(buf), "%*d", INT_MIN, 1);
    assert_true(r > 0 && r <= 4096);
    r = kraw(buf, sizeof(buf), "%99999999999999999999d|", 1);
    assert_true(r > 0 && r <= 4097);
    assert_int_equal(strlen(buf), sizeof(buf) - 1);
    r = kraw(buf, sizeof(buf), "%.99999999999999999999d", 1);
    assert_true(r > 0 && r <= 4096);

    /* size 0 with a NULL buffer only measures. */
    assert_int_equal(kraw(NULL, 0, "%d-%s", 1234, "xy"), 7);
    /* size 1 gives an empty string. */
    buf[0] = 'Q';
    assert_int_equal(kraw(buf, 1, "hello"), 5);
    assert_int_equal(buf[0], '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer_table), cmocka_unit_test(test_strings_and_chars), cmocka_unit_test(test_pointers),
        cmocka_unit_test(test_misc),          cmocka_unit_test(test_kernel_specific),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
