/* The partition's CMOS clock (vmm/dev/vrtc.c) and the calendar under it
 * (kernel/lib/calendar.c): registers in BCD and binary, the century, the
 * weekday, update-in-progress, what the guest may and may not change; and
 * the calendar against known dates and both ways over 800 years. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/dev/vrtc.h"
#include "kernel/lib/calendar.h"

#define NS 1000000000ULL

static u8 rd(struct vrtc *r, u8 reg, u64 ns)
{
    vrtc_write(r, VRTC_PORT_INDEX, reg);
    return vrtc_read(r, VRTC_PORT_DATA, ns);
}

static void test_calendar_known_dates(void **state)
{
    (void)state;
    assert_int_equal(cal_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(cal_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(cal_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(cal_days_from_civil(2038, 1, 19), 24855); /* 2^31 s is in it */
    struct cal_date d = cal_civil_from_days(19723);            /* 2024-01-01, a Monday */
    assert_int_equal(d.year, 2024);
    assert_int_equal(d.month, 1);
    assert_int_equal(d.day, 1);
    assert_int_equal(d.weekday, 1);
    d = cal_civil_from_days(cal_days_from_civil(2024, 2, 29));
    assert_int_equal(d.month, 2);
    assert_int_equal(d.day, 29);
    assert_int_equal(d.weekday, 4); /* Thursday */
    d = cal_civil_from_days(0);
    assert_int_equal(d.weekday, 4);
    d = cal_civil_from_days(-1);
    assert_int_equal(d.year, 1969);
    assert_int_equal(d.weekday, 3);
    assert_true(cal_date_valid(2000, 2, 29));
    assert_false(cal_date_valid(1900, 2, 29));
    assert_false(cal_date_valid(2023, 2, 29));
    assert_false(cal_date_valid(2023, 4, 31));
    assert_false(cal_date_valid(2023, 13, 1));
    assert_false(cal_date_valid(2023, 0, 1));
    assert_false(cal_date_valid(2023, 1, 0));
}

static void test_calendar_round_trip(void **state)
{
    (void)state;
    s64 first = cal_days_from_civil(1600, 1, 1), last = cal_days_from_civil(2400, 12, 31);
    struct cal_date prev = cal_civil_from_days(first - 1);
    for (s64 z = first; z <= last; z++) {
        struct cal_date d = cal_civil_from_days(z);
        assert_true(cal_date_valid(d.year, d.month, d.day));
        assert_int_equal(cal_days_from_civil(d.year, d.month, d.day), z);
        assert_int_equal(d.weekday, (prev.weekday + 1) % 7);
        prev = d;
    }
}

/* 2026-12-07 06:30:27.5 UTC, a Monday. */
static u64 sample(void)
{
    return ((u64)cal_days_from_civil(2026, 12, 7) * 86400 + 6 * 3600 + 30 * 60 + 27) * NS + NS / 2;
}

static void test_bcd_registers(void **state)
{
    (void)state;
    struct vrtc r;
    vrtc_init(&r);
    u64 t = sample();
    assert_int_equal(rd(&r, VRTC_SEC, t), 0x27);
    assert_int_equal(rd(&r, VRTC_MIN, t), 0x30);
    assert_int_equal(rd(&r, VRTC_HOUR, t), 0x06);
    assert_int_equal(rd(&r, VRTC_WEEKDAY, t), 0x02); /* Sunday = 1 */
    assert_int_equal(rd(&r, VRTC_DAY, t), 0x07);
    assert_int_equal(rd(&r, VRTC_MONTH, t), 0x12);
    assert_int_equal(rd(&r, VRTC_YEAR, t), 0x26);
    assert_int_equal(rd(&r, VRTC_CENTURY, t), 0x20);
    assert_int_equal(rd(&r, VRTC_REG_B, t), VRTC_B_24H);
    assert_int_equal(rd(&r, VRTC_REG_D, t), VRTC_D_VRT);
    assert_int_equal(rd(&r, VRTC_REG_C, t), 0);
    /* 24-hour: the evening is 0x23, not 12-hour with a PM bit. */
    assert_int_equal(rd(&r, VRTC_HOUR, t + 17ULL * 3600 * NS), 0x23);
    /* Alarms and NVRAM read 0; the index port is write-only. */
    assert_int_equal(rd(&r, VRTC_SEC_ALARM, t), 0);
    assert_int_equal(rd(&r, 0x40, t), 0);
    assert_int_equal(vrtc_read(&r, VRTC_PORT_INDEX, t), 0xff);
}

static void test_binary_mode_and_register_b(void **state)
{
    (void)state;
    struct vrtc r;
    vrtc_init(&r);
    u64 t = sample();
    vrtc_write(&r, VRTC_PORT_INDEX, VRTC_REG_B);
    /* Binary, and everything else the guest might try: interrupt enables,
     * 12-hour mode (bit 1 clear), daylight saving. */
    vrtc_write(&r, VRTC_PORT_DATA, 0x7d);
    assert_int_equal(rd(&r, VRTC_REG_B, t), VRTC_B_DM_BINARY | VRTC_B_24H);
    assert_int_equal(rd(&r, VRTC_SEC, t), 27);
    assert_int_equal(rd(&r, VRTC_MONTH, t), 12);
    assert_int_equal(rd(&r, VRTC_YEAR, t), 26);
    assert_int_equal(rd(&r, VRTC_CENTURY, t), 20);
    assert_int_equal(rd(&r, VRTC_HOUR, t), 6);
    /* SET is kept, the time stays read-only. */
    vrtc_write(&r, VRTC_PORT_INDEX, VRTC_REG_B);
    vrtc_write(&r, VRTC_PORT_DATA, VRTC_B_SET | VRTC_B_DM_BINARY);
    vrtc_write(&r, VRTC_PORT_INDEX, VRTC_SEC);
    vrtc_write(&r, VRTC_PORT_DATA, 5);
    assert_int_equal(vrtc_read(&r, VRTC_PORT_DATA, t), 27);
    assert_int_equal(rd(&r, VRTC_REG_B, t), VRTC_B_SET | VRTC_B_DM_BINARY | VRTC_B_24H);
    /* Registers A, C and D are not writable either. */
    vrtc_write(&r, VRTC_PORT_INDEX, VRTC_REG_A);
    vrtc_write(&r, VRTC_PORT_DATA, 0);
    assert_int_equal(rd(&r, VRTC_REG_A, t), VRTC_A_DIV_32K | VRTC_A_RATE_1K);
    /* Index bit 7 (NMI disable on a PC) is not part of the index. */
    vrtc_write(&r, VRTC_PORT_INDEX, 0x80 | VRTC_MIN);
    assert_int_equal(vrtc_read(&r, VRTC_PORT_DATA, t), 30);
}

static void test_update_in_progress(void **state)
{
    (void)state;
    struct vrtc r;
    vrtc_init(&r);
    u64 s = sample() - NS / 2; /* on a second boundary */
    assert_int_equal(rd(&r, VRTC_REG_A, s) & VRTC_A_UIP, 0);
    assert_int_equal(rd(&r, VRTC_REG_A, s + NS - VRTC_UIP_NS - 1) & VRTC_A_UIP, 0);
    assert_int_equal(rd(&r, VRTC_REG_A, s + NS - VRTC_UIP_NS) & VRTC_A_UIP, VRTC_A_UIP);
    assert_int_equal(rd(&r, VRTC_REG_A, s + NS - 1) & VRTC_A_UIP, VRTC_A_UIP);
    assert_int_equal(rd(&r, VRTC_REG_A, s + NS) & VRTC_A_UIP, 0);
    /* The seconds change exactly at the boundary, after UIP fell. */
    assert_int_equal(rd(&r, VRTC_SEC, s + NS - 1), 0x27);
    assert_int_equal(rd(&r, VRTC_SEC, s + NS), 0x28);
    /* A reader polling UIP like Linux's mc146818_get_time finds a window
     * without it within every second: at most 244 us of each is busy. */
    u32 busy = 0;
    for (u64 t = s; t < s + NS; t += 1000)
        busy += (rd(&r, VRTC_REG_A, t) & VRTC_A_UIP) != 0;
    assert_int_equal(busy, VRTC_UIP_NS / 1000);
}

static void test_rollovers(void **state)
{
    (void)state;
    struct vrtc r;
    vrtc_init(&r);
    /* 1999-12-31 23:59:59 -> 2000-01-01 00:00:00 */
    u64 t = ((u64)cal_days_from_civil(2000, 1, 1) * 86400 - 1) * NS;
    assert_int_equal(rd(&r, VRTC_YEAR, t), 0x99);
    assert_int_equal(rd(&r, VRTC_CENTURY, t), 0x19);
    assert_int_equal(rd(&r, VRTC_HOUR, t), 0x23);
    assert_int_equal(rd(&r, VRTC_WEEKDAY, t), 0x06); /* Friday */
    t += NS;
    assert_int_equal(rd(&r, VRTC_YEAR, t), 0x00);
    assert_int_equal(rd(&r, VRTC_CENTURY, t), 0x20);
    assert_int_equal(rd(&r, VRTC_MONTH, t), 0x01);
    assert_int_equal(rd(&r, VRTC_DAY, t), 0x01);
    assert_int_equal(rd(&r, VRTC_HOUR, t), 0x00);
    assert_int_equal(rd(&r, VRTC_WEEKDAY, t), 0x07); /* Saturday */
    /* The epoch itself: a time the hypervisor does not know reads 1970. */
    assert_int_equal(rd(&r, VRTC_YEAR, 0), 0x70);
    assert_int_equal(rd(&r, VRTC_CENTURY, 0), 0x19);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calendar_known_dates), cmocka_unit_test(test_calendar_round_trip),
        cmocka_unit_test(test_bcd_registers),        cmocka_unit_test(test_binary_mode_and_register_b),
        cmocka_unit_test(test_update_in_progress),   cmocka_unit_test(test_rollovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
