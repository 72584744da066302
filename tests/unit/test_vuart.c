/* The virtual UART and the console ring. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/dev/vuart.h"
#include "vmm/console_ring.h"
#include "kernel/lib/errno.h"

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

static u8 in8(struct vuart *u, u16 reg) { return (u8)vuart_access(u, (u16)(0x3f8 + reg), 1, true, 0); }
static void out8(struct vuart *u, u16 reg, u8 v) { vuart_access(u, (u16)(0x3f8 + reg), 1, false, v); }

static void test_receive_fifo(void **state)
{
    struct vuart u;
    console_ring_init(&ring);
    vuart_init(&u, &ring);
    /* FIFOs off (16450 mode): one byte of room. */
    assert_int_equal(vuart_rx_put(&u, 'a'), 0);
    assert_int_equal(vuart_rx_put(&u, 'b'), -ENOSPC);
    assert_int_equal(u.overruns, 1);
    assert_int_equal(in8(&u, 5) & 0x01, 0x01); /* LSR.DR */
    assert_int_equal(in8(&u, 0), 'a');
    assert_int_equal(in8(&u, 5) & 0x01, 0);
    /* FIFOs on: 16 bytes, in order. */
    out8(&u, 2, 0x07);
    for (int i = 0; i < VUART_FIFO; i++)
        assert_int_equal(vuart_rx_put(&u, (u8)('A' + i)), 0);
    assert_false(vuart_rx_room(&u));
    assert_int_equal(vuart_rx_put(&u, 'x'), -ENOSPC);
    for (int i = 0; i < VUART_FIFO; i++)
        assert_int_equal(in8(&u, 0), 'A' + i);
    assert_int_equal(in8(&u, 0), 0); /* empty: reads 0 */
    assert_int_equal(u.bytes_in, 17);
    /* FCR bit 1 clears the receive FIFO; so does switching the FIFOs off. */
    assert_int_equal(vuart_rx_put(&u, 'y'), 0);
    out8(&u, 2, 0x03);
    assert_int_equal(in8(&u, 5) & 0x01, 0);
    assert_int_equal(vuart_rx_put(&u, 'z'), 0);
    out8(&u, 2, 0x00);
    assert_int_equal(in8(&u, 5) & 0x01, 0);
}

static void test_receive_interrupts(void **state)
{
    struct vuart u;
    console_ring_init(&ring);
    vuart_init(&u, &ring);
    out8(&u, 2, 0x87);                  /* FIFOs on, trigger level 8 */
    out8(&u, 4, 0x0b);                  /* DTR, RTS, OUT2 */
    assert_int_equal(in8(&u, 2), 0xc1); /* FIFOs on, no interrupt */
    assert_int_equal(vuart_rx_put(&u, 'h'), 0);
    assert_false(vuart_irq(&u)); /* ERBFI off */
    out8(&u, 1, 0x01);
    assert_true(vuart_irq(&u));
    assert_int_equal(in8(&u, 2), 0xcc); /* below the trigger: character timeout */
    for (int i = 0; i < 7; i++)
        assert_int_equal(vuart_rx_put(&u, 'i'), 0);
    assert_int_equal(in8(&u, 2), 0xc4); /* at the trigger: data available */
    for (int i = 0; i < 8; i++)
        in8(&u, 0);
    assert_int_equal(in8(&u, 2), 0xc1);
    assert_false(vuart_irq(&u));
    /* OUT2 gates the line; loopback takes it off the bus. */
    assert_int_equal(vuart_rx_put(&u, 'j'), 0);
    assert_true(vuart_irq(&u));
    out8(&u, 4, 0x03);
    assert_false(vuart_irq(&u));
    assert_int_equal(in8(&u, 2), 0xcc); /* still pending inside the UART */
    out8(&u, 4, 0x1b);
    assert_false(vuart_irq(&u));
}

/* Linux's 8250 sends from its THRE interrupt: enabling ETBEI with THR empty
 * raises it, reading IIR clears it, writing THR raises it again (the byte is
 * gone at once), and its start-up test wants it re-raised on a toggle. */
static void test_transmit_interrupt(void **state)
{
    struct vuart u;
    console_ring_init(&ring);
    vuart_init(&u, &ring);
    out8(&u, 2, 0x07);
    out8(&u, 4, 0x08);
    assert_false(vuart_irq(&u));
    out8(&u, 1, 0x02);
    assert_true(vuart_irq(&u));
    assert_int_equal(in8(&u, 2), 0xc2); /* iir1: THRE */
    assert_int_equal(in8(&u, 2), 0xc1); /* cleared by that read */
    assert_false(vuart_irq(&u));
    out8(&u, 1, 0x00);
    out8(&u, 1, 0x02);
    assert_int_equal(in8(&u, 2), 0xc2); /* re-asserted: no UART_BUG_THRE */
    out8(&u, 0, 'x');
    assert_true(vuart_irq(&u)); /* sent at once, THR empty again */
    assert_int_equal(in8(&u, 2), 0xc2);
    out8(&u, 1, 0x03); /* ETBEI stays on: no new THRE interrupt from IER */
    assert_int_equal(in8(&u, 2), 0xc1);
    /* Receive data outranks THRE. */
    out8(&u, 0, 'y');
    assert_int_equal(vuart_rx_put(&u, 'r'), 0);
    assert_int_equal(in8(&u, 2), 0xc4); /* trigger level 1: data available */
    assert_int_equal(in8(&u, 0), 'r');
    assert_int_equal(in8(&u, 2), 0xc2);
    out8(&u, 1, 0x01); /* ETBEI off clears it */
    out8(&u, 0, 'z');
    assert_int_equal(in8(&u, 2), 0xc1);
    u8 buf[8];
    u64 cur = 0, lost;
    assert_int_equal(console_ring_read(&ring, &cur, buf, sizeof(buf), &lost), 3);
    assert_memory_equal(buf, "xyz", 3);
}

static void test_loopback(void **state)
{
    struct vuart u;
    console_ring_init(&ring);
    vuart_init(&u, &ring);
    out8(&u, 2, 0x01);
    out8(&u, 4, 0x1a);                         /* loopback, RTS, OUT2: Linux's probe */
    assert_int_equal(in8(&u, 6) & 0xf0, 0x90); /* CTS, DCD */
    out8(&u, 4, 0x15);                         /* loopback, DTR, OUT1 */
    assert_int_equal(in8(&u, 6) & 0xf0, 0x60); /* DSR, RI */
    out8(&u, 0, 'L');                          /* to the receiver, not the console */
    assert_int_equal(ring.written, 0);
    assert_int_equal(in8(&u, 0), 'L');
    for (int i = 0; i < VUART_FIFO + 3; i++)
        out8(&u, 0, 'M');
    assert_int_equal(u.overruns, 3);
}

/* Random traffic keeps the FIFO's invariants (ASan/UBSan watch the rest). */
static void test_random_access(void **state)
{
    struct vuart u;
    console_ring_init(&ring);
    vuart_init(&u, &ring);
    u64 x = 0x243f6a8885a308d3ull;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if ((x & 7) == 0) {
            int rc = vuart_rx_put(&u, (u8)(x >> 8));
            assert_true(rc == 0 || rc == -ENOSPC);
            continue;
        }
        u16 port = (u16)(0x3f8 + ((x >> 3) & 7));
        vuart_access(&u, port, (u8)(1u << ((x >> 6) & 2)), (x >> 9) & 1, (u32)(x >> 16));
        assert_true(u.rx_count <= VUART_FIFO && u.rx_head < VUART_FIFO);
        u8 iir = (u8)(vuart_access(&u, 0x3fa, 1, true, 0) & 0x0f);
        assert_true(iir == 0x01 || iir == 0x02 || iir == 0x04 || iir == 0x0c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_reaches_ring),
        cmocka_unit_test(test_dlab_and_registers),
        cmocka_unit_test(test_ring_overwrite_reports_loss),
        cmocka_unit_test(test_ring_huge_put_and_future_cursor),
        cmocka_unit_test(test_receive_fifo),
        cmocka_unit_test(test_receive_interrupts),
        cmocka_unit_test(test_transmit_interrupt),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_random_access),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
