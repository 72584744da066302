/* kstrlcpy, kparse_u64 and strerror_short, plus the hypervisor's own mem and
 * str functions: kernel/lib/string.c is compiled a second time below with its
 * freestanding half enabled and renamed, and compared against the C library. */
#include "kernel/lib/string.h"
#include "kernel/lib/errno.h"

#undef ISTHMUS_HOST
/* The renamed copies are defined without a header of their own. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#define memcpy      k_memcpy
#define memmove     k_memmove
#define memset      k_memset
#define memcmp      k_memcmp
#define strlen      k_strlen
#define strnlen     k_strnlen
#define strcmp      k_strcmp
#define strncmp     k_strncmp
#define strchr      k_strchr
#define kstrlcpy    k_kstrlcpy
#define kparse_u64  k_kparse_u64
#define kxdigit     k_kxdigit
#define kparse_rate k_kparse_rate
#include "kernel/lib/string.c"
#undef memcpy
#undef memmove
#undef memset
#undef memcmp
#undef strlen
#undef strnlen
#undef strcmp
#undef strncmp
#undef strchr
#undef kstrlcpy
#undef kparse_u64
#undef kparse_rate
#define ISTHMUS_HOST 1

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <cmocka.h>

static int sgn(int v) { return (v > 0) - (v < 0); }

static void test_mem_functions(void **state)
{
    u8 a[300], b[300], src[300];

    srand(1);
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (u8)rand();
    /* Every alignment pair and length up to 70, so both the word and byte
     * paths and their edges run. */
    for (size_t so = 0; so < 9; so++)
        for (size_t dof = 0; dof < 9; dof++)
            for (size_t n = 0; n < 70; n++) {
                memset(a, 0xAA, sizeof(a));
                memset(b, 0xAA, sizeof(b));
                assert_ptr_equal(k_memcpy(a + dof, src + so, n), a + dof);
                memcpy(b + dof, src + so, n);
                assert_memory_equal(a, b, sizeof(a));
                assert_ptr_equal(k_memset(a + dof, (int)(so * 37), n), a + dof);
                memset(b + dof, (int)(so * 37), n);
                assert_memory_equal(a, b, sizeof(a));
                assert_int_equal(sgn(k_memcmp(a + dof, src + so, n)), sgn(memcmp(a + dof, src + so, n)));
                assert_int_equal(k_memcmp(src + so, src + so, n), 0);
            }
    /* Overlapping moves in both directions. */
    for (size_t off = 0; off < 20; off++)
        for (size_t n = 0; n < 100; n++) {
            memcpy(a, src, sizeof(a));
            memcpy(b, src, sizeof(b));
            k_memmove(a + off, a + 7, n);
            memmove(b + off, b + 7, n);
            assert_memory_equal(a, b, sizeof(a));
            k_memmove(a + 7, a + off, n);
            memmove(b + 7, b + off, n);
            assert_memory_equal(a, b, sizeof(a));
        }
    /* memset takes an int but writes its low byte. */
    k_memset(a, 0x1FF, 16);
    for (int i = 0; i < 16; i++)
        assert_int_equal(a[i], 0xFF);
    u8 x[2] = { 1, 0x80 }, y[2] = { 1, 0x7F };
    assert_true(k_memcmp(x, y, 2) > 0); /* bytes compare unsigned */
}

static void test_str_functions(void **state)
{
    const char *strs[] = { "", "a", "ab", "abc", "abd", "b", "\x80", "\x7f", "hello world", "hello" };
    size_t n = sizeof(strs) / sizeof(strs[0]);

    for (size_t i = 0; i < n; i++) {
        assert_int_equal(k_strlen(strs[i]), strlen(strs[i]));
        for (size_t m = 0; m < 13; m++)
            assert_int_equal(k_strnlen(strs[i], m), strnlen(strs[i], m));
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(sgn(k_strcmp(strs[i], strs[j])), sgn(strcmp(strs[i], strs[j])));
            for (size_t m = 0; m < 13; m++)
                assert_int_equal(sgn(k_strncmp(strs[i], strs[j], m)), sgn(strncmp(strs[i], strs[j], m)));
        }
        for (int c = 0; c < 256; c++)
            assert_ptr_equal(k_strchr(strs[i], c), strchr(strs[i], c));
    }
    assert_int_equal(k_strnlen("abc", 0), 0);
}

static void test_strlcpy(void **state)
{
    char buf[8];

    memset(buf, 'Z', sizeof(buf));
    assert_int_equal(kstrlcpy(buf, "hello", sizeof(buf)), 5);
    assert_string_equal(buf, "hello");
    assert_int_equal(kstrlcpy(buf, "0123456789", sizeof(buf)), 10);
    assert_string_equal(buf, "0123456");
    assert_int_equal(kstrlcpy(buf, "01234567", sizeof(buf)), 8);
    assert_string_equal(buf, "0123456");
    assert_int_equal(kstrlcpy(buf, "", sizeof(buf)), 0);
    assert_string_equal(buf, "");
    buf[0] = 'Q';
    assert_int_equal(kstrlcpy(buf, "abc", 0), 3);
    assert_int_equal(buf[0], 'Q');
    assert_int_equal(kstrlcpy(buf, "abc", 1), 3);
    assert_int_equal(buf[0], '\0');
    /* The freestanding copy behaves the same. */
    assert_int_equal(k_kstrlcpy(buf, "0123456789", sizeof(buf)), 10);
    assert_string_equal(buf, "0123456");
}

struct parse_case {
    const char *s;
    bool suffix;
    int rc;
    u64 v;
};

static const struct parse_case parse_cases[] = {
    { "0", false, 0, 0 },
    { "42", false, 0, 42 },
    { "007", false, 0, 7 },
    { "0x0", false, 0, 0 },
    { "0x1f", false, 0, 0x1f },
    { "0XABCdef", false, 0, 0xabcdef },
    { "1_000_000", false, 0, 1000000 },
    { "0xffff_ffff", false, 0, 0xffffffffULL },
    { "18446744073709551615", false, 0, UINT64_MAX },
    { "18446744073709551616", false, -ERANGE, 0 },
    { "99999999999999999999999", false, -ERANGE, 0 },
    { "0xffffffffffffffff", false, 0, UINT64_MAX },
    { "0x10000000000000000", false, -ERANGE, 0 },
    { "", false, -EINVAL, 0 },
    { "0x", false, -EINVAL, 0 },
    { "x1", false, -EINVAL, 0 },
    { "-1", false, -EINVAL, 0 },
    { "+1", false, -EINVAL, 0 },
    { " 1", false, -EINVAL, 0 },
    { "1 ", false, -EINVAL, 0 },
    { "12a", false, -EINVAL, 0 },
    { "_1", false, -EINVAL, 0 },
    { "1_", false, -EINVAL, 0 },
    { "1__0", false, -EINVAL, 0 },
    { "0x_1", false, -EINVAL, 0 },
    { "4K", false, -EINVAL, 0 },
    { "4K", true, 0, 4096 },
    { "4k", true, 0, 4096 },
    { "16M", true, 0, 16ULL << 20 },
    { "2G", true, 0, 2ULL << 30 },
    { "3T", true, 0, 3ULL << 40 },
    { "0x10M", true, 0, 16ULL << 20 },
    { "1_024K", true, 0, 1024ULL << 10 },
    { "16777215T", true, 0, 16777215ULL << 40 },
    { "16777216T", true, -ERANGE, 0 },
    { "4KB", true, -EINVAL, 0 },
    { "4X", true, -EINVAL, 0 },
    { "K", true, -EINVAL, 0 },
    { "1_K", true, -EINVAL, 0 },
    { "12", true, 0, 12 },
};

static void test_parse_u64(void **state)
{
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        u64 v = 0xDEAD;
        int rc = kparse_u64(c->s, &v, c->suffix);
        if (rc != c->rc)
            fail_msg("\"%s\": rc %d, want %d", c->s, rc, c->rc);
        if (rc == 0)
            assert_int_equal(v, c->v);
        else
            assert_int_equal(v, 0xDEAD); /* untouched on error */
        u64 w = 0xDEAD;
        assert_int_equal(k_kparse_u64(c->s, &w, c->suffix), rc);
        assert_int_equal(w, v);
    }
    u64 v;
    assert_int_equal(kparse_u64(NULL, &v, false), -EINVAL);
    assert_int_equal(kparse_u64("1", NULL, false), -EINVAL);
}

static void test_strerror(void **state)
{
    assert_string_equal(strerror_short(-EINVAL), "EINVAL");
    assert_string_equal(strerror_short(EINVAL), "EINVAL");
    assert_string_equal(strerror_short(-ENOMEM), "ENOMEM");
    assert_string_equal(strerror_short(-ETIMEDOUT), "ETIMEDOUT");
    assert_string_equal(strerror_short(0), "OK");
    assert_string_equal(strerror_short(-9999), "E?");
    assert_string_equal(strerror_short(INT32_MIN), "E?");
}

static void test_parse_rate(void **state)
{
    (void)state;
    u64 v;
    assert_int_equal(kparse_rate("100M", &v), 0);
    assert_int_equal(v, 100000000ULL);
    assert_int_equal(kparse_rate("512k", &v), 0);
    assert_int_equal(v, 512000ULL);
    assert_int_equal(kparse_rate("4G", &v), 0);
    assert_int_equal(v, 4000000000ULL);
    assert_int_equal(kparse_rate("1500000", &v), 0);
    assert_int_equal(v, 1500000ULL);
    assert_int_equal(kparse_rate("", &v), -EINVAL);
    assert_int_equal(kparse_rate("M", &v), -EINVAL);
    assert_int_equal(kparse_rate("10MB", &v), -EINVAL);
    assert_int_equal(kparse_rate("10m", &v), -EINVAL);
    assert_int_equal(kparse_rate("1.5G", &v), -EINVAL);
    assert_int_equal(kparse_rate("-1", &v), -EINVAL);
    assert_int_equal(kparse_rate("99999999999999999999", &v), -ERANGE);
    assert_int_equal(kparse_rate("99999999999999G", &v), -ERANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mem_functions), cmocka_unit_test(test_str_functions), cmocka_unit_test(test_strlcpy),
        cmocka_unit_test(test_parse_u64),     cmocka_unit_test(test_parse_rate),    cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
