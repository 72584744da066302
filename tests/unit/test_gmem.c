/* A partition's memory as several host blocks (vmm/gmem.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/gmem.h"
#include "kernel/lib/errno.h"

static u8 a[0x3000], b[0x1000], c[0x2000];

static void make(struct gmem *m)
{
    memset(m, 0, sizeof(*m));
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    memset(c, 0, sizeof(c));
    assert_int_equal(gmem_add(m, 0x100000, a, sizeof(a), 0), 0);
    assert_int_equal(gmem_add(m, 0x900000, b, sizeof(b), 1), 0);
    assert_int_equal(gmem_add(m, 0x500000, c, sizeof(c), 0), 0);
}

static void test_layout(void **state)
{
    (void)state;
    struct gmem m;
    make(&m);
    assert_int_equal(m.n, 3);
    assert_int_equal(m.size, 0x6000);
    assert_int_equal(m.c[1].gpa, 0x3000);
    assert_int_equal(m.c[2].gpa, 0x4000);
    assert_ptr_equal(gmem_chunk_of(&m, 0x3fff), &m.c[1]);
    assert_null(gmem_chunk_of(&m, 0x6000));
    assert_int_equal(gmem_add(&m, 0, NULL, 0x1000, 0), -EINVAL);
    assert_int_equal(gmem_add(&m, 0, a, 0, 0), -EINVAL);
    for (int i = 3; i < GMEM_MAX_CHUNKS; i++)
        assert_int_equal(gmem_add(&m, 0, a, 0x1000, 0), 0);
    assert_int_equal(gmem_add(&m, 0, a, 0x1000, 0), -ENOSPC);
}

static void test_copies_cross_blocks(void **state)
{
    (void)state;
    struct gmem m;
    make(&m);
    u8 src[0x2002], dst[0x2002];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (u8)(i * 7 + 1);
    /* From the last byte of a, through all of b, into c. */
    assert_int_equal(gmem_write(&m, 0x2fff, src, sizeof(src)), 0);
    assert_int_equal(a[0x2fff], src[0]);
    assert_memory_equal(b, src + 1, 0x1000);
    assert_memory_equal(c, src + 0x1001, 0x1001);
    assert_int_equal(gmem_read(&m, 0x2fff, dst, sizeof(dst)), 0);
    assert_memory_equal(dst, src, sizeof(src));
    assert_int_equal(gmem_zero(&m, 0x3ffe, 4), 0);
    assert_int_equal(b[0xffe], 0);
    assert_int_equal(c[1], 0);
    assert_int_equal(c[2], src[0x1001 + 2]);
}

static void test_bounds(void **state)
{
    (void)state;
    struct gmem m;
    make(&m);
    u8 x[16] = { 1 };
    assert_int_equal(gmem_write(&m, 0x5ff8, x, 8), 0);
    assert_int_equal(gmem_write(&m, 0x5ff9, x, 8), -ERANGE);
    assert_int_equal(gmem_read(&m, 0x6000, x, 1), -ERANGE);
    assert_int_equal(gmem_read(&m, ~0ULL, x, 2), -ERANGE);
    assert_int_equal(gmem_zero(&m, 8, ~0ULL), -ERANGE);
    assert_int_equal(gmem_write(&m, 0x6000, x, 0), 0);
    /* A refused copy writes nothing. */
    assert_int_equal(c[0x1ff9], 0);
    /* Pointers only within one block. */
    assert_ptr_equal(gmem_ptr(&m, 0x3000, 0x1000), b);
    assert_null(gmem_ptr(&m, 0x3000, 0x1001));
    assert_ptr_equal(gmem_ptr(&m, 0x4010, 16), c + 0x10);
    assert_null(gmem_ptr(&m, 0x7000, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_copies_cross_blocks),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
