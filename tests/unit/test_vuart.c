/* The virtual UART and the console ring. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/dev/vuart.h"
#include "vmm/console_ring.h"

static struct console_ring ring;

static void out_str(struct vuart *u, const char *s)
{
    for (; *s; s++)
        vuart_access(u, 0x3f8, 1, false, (u8)*s);
}

static void test_output_reaches_ring(void **state)
{
    struct vuart u;
    console_ring_init(&ring);
    vuart_init(&u, &ring);
    assert_int_equal(vuart_access(&u, 0x3fd, 1, true, 0) & 0x20, 0x20); /* THR empty */
    out_str(&u, "hello\n");
    u8 buf[64];
    u64 cur = 0, lost;
    assert_int_equal(console_ring_read(&ring, &cur, buf, sizeof(buf), &lost), 6);
    assert_int_equal(lost, 0);
    assert_memory_equal(buf, "hello\n", 6);
    assert_int_equal(console_ring_read(&ring, &cur, buf, sizeof(buf), &lost), 0);
    assert_int_equal(u.bytes_out, 6);
}

static void test_dlab_and_registers(void **state)
{
    struct vuart u;
    console_ring_init(&ring);
    vuart_init(&u, &ring);
    vuart_access(&u, 0x3fb, 1, false, 0x83); /* DLAB on */
    vuart_access(&u, 0x3f8, 1, false, 0x01); /* divisor low: not output */
    vuart_access(&u, 0x3f9, 1, false, 0x00);
    assert_int_equal(vuart_access(&u, 0x3f8, 1, true, 0), 0x01);
    vuart_access(&u, 0x3fb, 1, false, 0x03); /* DLAB off */
    assert_int_equal(ring.written, 0);
    vuart_access(&u, 0x3ff, 1, false, 0x5a);
    assert_int_equal(vuart_access(&u, 0x3ff, 1, true, 0), 0x5a);  /* scratch: presence test */
    assert_int_equal(vuart_access(&u, 0x3fa, 1, true, 0) & 1, 1); /* no interrupt pending */
    assert_int_equal(vuart_access(&u, 0x3f8, 1, true, 0), 0);     /* no input */
    assert_true(vuart_owns(0x3f8) && vuart_owns(0x3ff) && !vuart_owns(0x3f7) && !vuart_owns(0x400));
}

static void test_ring_overwrite_reports_loss(void **state)
{
    console_ring_init(&ring);
    u8 chunk[1000];
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (u8)i;
    for (int i = 0; i < 40; i++) /* 40,000 bytes into a 16 KiB ring */
        console_ring_put(&ring, chunk, sizeof(chunk));
    u8 buf[CONSOLE_RING_SIZE];
    u64 cur = 0, lost;
    size_t n = console_ring_read(&ring, &cur, buf, sizeof(buf), &lost);
    assert_int_equal(n, CONSOLE_RING_SIZE);
    assert_int_equal(lost, 40000 - CONSOLE_RING_SIZE);
    /* The oldest byte held is byte 40000 - 16384 of the stream. */
    assert_int_equal(buf[0], (u8)((40000 - CONSOLE_RING_SIZE) % 1000));
    assert_int_equal(cur, 40000);
}

static void test_ring_huge_put_and_future_cursor(void **state)
{
    static u8 big[3 * CONSOLE_RING_SIZE];
    console_ring_init(&ring);
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (u8)(i * 7);
    console_ring_put(&ring, big, sizeof(big));
    u8 buf[16];
    u64 cur = sizeof(big) - 4, lost;
    assert_int_equal(console_ring_read(&ring, &cur, buf, sizeof(buf), &lost), 4);
    assert_memory_equal(buf, big + sizeof(big) - 4, 4);
    cur = 1ULL << 40; /* stale cursor from a re-initialised ring */
    assert_int_equal(console_ring_read(&ring, &cur, buf, sizeof(buf), &lost), 0);
    assert_int_equal(cur, sizeof(big));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_reaches_ring),
        cmocka_unit_test(test_dlab_and_registers),
        cmocka_unit_test(test_ring_overwrite_reports_loss),
        cmocka_unit_test(test_ring_huge_put_and_future_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
