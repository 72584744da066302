/* The emulated local APIC: registers, priorities, timer on a simulated TSC, IPIs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/vlapic.h"
#include "arch/x86/hw/msr.h"
#include "kernel/lib/errno.h"

#define TSC_KHZ   2000000u /* 2 GHz */
#define TIMER_KHZ 100000u  /* 100 MHz: 20 TSC ticks per timer tick */

static void W(struct vlapic *a, u32 off, u32 val, u64 now) { assert_int_equal(vlapic_write(a, off, val, now), 0); }

static u32 R(struct vlapic *a, u32 off)
{
    u32 v = 0xdeadbeef;
    assert_int_equal(vlapic_read(a, off, &v), 0);
    return v;
}

static void enabled(struct vlapic *a, u32 id)
{
    vlapic_init(a, id, TSC_KHZ, TIMER_KHZ);
    W(a, VLAPIC_SVR, VLAPIC_SVR_ENABLE | 0xff, 0);
}

static void test_reset_state(void **state)
{
    struct vlapic a;
    vlapic_init(&a, 3, TSC_KHZ, TIMER_KHZ);
    assert_int_equal(R(&a, VLAPIC_ID), 3u << 24);
    assert_int_equal(R(&a, VLAPIC_VERSION), 0x50014);
    assert_int_equal((R(&a, VLAPIC_VERSION) >> 16) & 0xff, 5); /* max LVT: 6 entries */
    assert_int_equal(R(&a, VLAPIC_TPR), 0);
    assert_int_equal(R(&a, VLAPIC_PPR), 0);
    assert_int_equal(R(&a, VLAPIC_LDR), 0);
    assert_int_equal(R(&a, VLAPIC_DFR), 0xffffffffu);
    assert_int_equal(R(&a, VLAPIC_SVR), 0xff);
    assert_false(vlapic_sw_enabled(&a));
    for (u32 off = VLAPIC_LVT_TIMER; off <= VLAPIC_LVT_ERROR; off += 16)
        assert_int_equal(R(&a, off), VLAPIC_LVT_MASKED);
    for (u32 i = 0; i < 8; i++) {
        assert_int_equal(R(&a, VLAPIC_ISR0 + i * 16), 0);
        assert_int_equal(R(&a, VLAPIC_TMR0 + i * 16), 0);
        assert_int_equal(R(&a, VLAPIC_IRR0 + i * 16), 0);
    }
    assert_int_equal(R(&a, VLAPIC_ESR), 0);
    assert_int_equal(R(&a, VLAPIC_ICR_LO), 0);
    assert_int_equal(R(&a, VLAPIC_ICR_HI), 0);
    assert_int_equal(R(&a, VLAPIC_TIMER_ICR), 0);
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 0);
    assert_int_equal(R(&a, VLAPIC_TIMER_DCR), 0);
    assert_int_equal(vlapic_timer_deadline(&a), 0);
    assert_int_equal(vlapic_pending(&a), -1);
}

static void test_bad_offsets(void **state)
{
    struct vlapic a;
    enabled(&a, 0);
    u32 v;
    static const u32 bad[] = { 0x000, 0x010, 0x040,  0x050,       0x060,
                               0x070, 0x290, 0x2a0,  0x2e0,       0x2f0 /* CMCI: not with 6 LVTs */,
                               0x3a0, 0x3b0, 0x3c0,  0x3d0,       0x3f0,
                               0x400, 0xff0, 0x1000, 0xffffffffu, 0x024,
                               0x081, 0x0f4, 0x302,  0x38c };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        v = 1;
        assert_int_equal(vlapic_read(&a, bad[i], &v), -EINVAL);
        assert_int_equal(v, 0);
        assert_int_equal(vlapic_write(&a, bad[i], 0xffffffffu, 0), -EINVAL);
    }
    assert_int_equal(a.stats.bad_accesses, 2 * ARRAY_SIZE(bad));
    /* Latched in ESR bit 7 at the next ESR write. */
    W(&a, VLAPIC_ESR, 0, 0);
    assert_int_equal(R(&a, VLAPIC_ESR), VLAPIC_ESR_ILLEGAL_REGISTER);
    W(&a, VLAPIC_ESR, 0, 0);
    assert_int_equal(R(&a, VLAPIC_ESR), 0);
}

static void test_read_only_registers(void **state)
{
    struct vlapic a;
    enabled(&a, 7);
    static const u32 ro[] = { VLAPIC_ID, VLAPIC_VERSION, VLAPIC_APR, VLAPIC_PPR, VLAPIC_RRD, VLAPIC_TIMER_CCR };
    u32 before[ARRAY_SIZE(ro)];
    for (size_t i = 0; i < ARRAY_SIZE(ro); i++)
        before[i] = R(&a, ro[i]);
    for (size_t i = 0; i < ARRAY_SIZE(ro); i++)
        W(&a, ro[i], 0xffffffffu, 0);
    for (u32 i = 0; i < 8; i++) {
        W(&a, VLAPIC_ISR0 + i * 16, 0xffffffffu, 0);
        W(&a, VLAPIC_TMR0 + i * 16, 0xffffffffu, 0);
        W(&a, VLAPIC_IRR0 + i * 16, 0xffffffffu, 0);
    }
    for (size_t i = 0; i < ARRAY_SIZE(ro); i++)
        assert_int_equal(R(&a, ro[i]), before[i]);
    for (u32 i = 0; i < 8; i++)
        assert_int_equal(R(&a, VLAPIC_ISR0 + i * 16) | R(&a, VLAPIC_TMR0 + i * 16) | R(&a, VLAPIC_IRR0 + i * 16), 0);
    assert_int_equal(a.stats.ro_writes, ARRAY_SIZE(ro) + 24);
    assert_int_equal(R(&a, VLAPIC_ID), 7u << 24);
    assert_int_equal(R(&a, VLAPIC_EOI), 0); /* write-only reads 0 */
}

static void test_rw_registers_masks(void **state)
{
    struct vlapic a;
    enabled(&a, 0);
    W(&a, VLAPIC_TPR, 0xffffffffu, 0);
    assert_int_equal(R(&a, VLAPIC_TPR), 0xff);
    W(&a, VLAPIC_TPR, 0, 0);
    W(&a, VLAPIC_LDR, 0xffffffffu, 0);
    assert_int_equal(R(&a, VLAPIC_LDR), 0xff000000u);
    W(&a, VLAPIC_DFR, 0x0u, 0); /* cluster model */
    assert_int_equal(R(&a, VLAPIC_DFR), 0x0fffffffu);
    W(&a, VLAPIC_DFR, 0xffffffffu, 0);
    assert_int_equal(R(&a, VLAPIC_DFR), 0xffffffffu);
    W(&a, VLAPIC_SVR, 0xffffffffu, 0);
    assert_int_equal(R(&a, VLAPIC_SVR), 0x3ff);
    W(&a, VLAPIC_ICR_HI, 0xffffffffu, 0);
    assert_int_equal(R(&a, VLAPIC_ICR_HI), 0xff000000u);
    W(&a, VLAPIC_ICR_LO, 0xffffffffu, 0); /* reserved mode 7: dropped */
    assert_int_equal(R(&a, VLAPIC_ICR_LO), 0x000ccfffu);
    assert_int_equal(R(&a, VLAPIC_ICR_LO) & VLAPIC_ICR_BUSY, 0);
    W(&a, VLAPIC_TIMER_DCR, 0xffffffffu, 0);
    assert_int_equal(R(&a, VLAPIC_TIMER_DCR), 0xb);
    W(&a, VLAPIC_LVT_TIMER, 0xffffffffu, 0);
    assert_int_equal(R(&a, VLAPIC_LVT_TIMER), 0x100ffu); /* reserved mode 11b: the old mode stays */
    assert_int_equal(a.stats.timer_mode_reserved, 1);
    W(&a, VLAPIC_LVT_THERM, 0xffffffffu, 0);
    assert_int_equal(R(&a, VLAPIC_LVT_THERM), 0x107ffu);
    W(&a, VLAPIC_LVT_PERF, 0xffffffffu, 0);
    assert_int_equal(R(&a, VLAPIC_LVT_PERF), 0x107ffu);
    W(&a, VLAPIC_LVT_LINT0, 0xffffffffu, 0);
    assert_int_equal(R(&a, VLAPIC_LVT_LINT0), 0x1a7ffu); /* remote IRR, status read 0 */
    W(&a, VLAPIC_LVT_LINT1, 0xffffffffu, 0);
    assert_int_equal(R(&a, VLAPIC_LVT_LINT1), 0x1a7ffu);
    W(&a, VLAPIC_LVT_ERROR, 0xffffffffu, 0);
    assert_int_equal(R(&a, VLAPIC_LVT_ERROR), 0x100ffu);
    W(&a, VLAPIC_LVT_ERROR, 0x33, 0);
    assert_int_equal(R(&a, VLAPIC_LVT_ERROR), 0x33);
    W(&a, VLAPIC_TIMER_ICR, 0x12345678u, 0);
    assert_int_equal(R(&a, VLAPIC_TIMER_ICR), 0x12345678u);
    W(&a, VLAPIC_ESR, 0xffffffffu, 0); /* the value written is irrelevant */
    assert_int_equal(R(&a, VLAPIC_ESR), 0);
}

static void test_sw_disable_masks_lvts(void **state)
{
    struct vlapic a;
    enabled(&a, 0);
    W(&a, VLAPIC_LVT_LINT0, 0x700, 0); /* ExtINT, unmasked */
    W(&a, VLAPIC_LVT_TIMER, 0x40, 0);
    assert_int_equal(R(&a, VLAPIC_LVT_TIMER), 0x40);
    W(&a, VLAPIC_SVR, 0xff, 0); /* software disable */
    for (u32 off = VLAPIC_LVT_TIMER; off <= VLAPIC_LVT_ERROR; off += 16)
        assert_true(R(&a, off) & VLAPIC_LVT_MASKED);
    assert_int_equal(R(&a, VLAPIC_LVT_LINT0), 0x10700);
    W(&a, VLAPIC_LVT_TIMER, 0x40, 0); /* cannot unmask while disabled */
    assert_int_equal(R(&a, VLAPIC_LVT_TIMER), 0x10040);
    vlapic_set_irq(&a, 0x50); /* no fixed interrupts either */
    assert_int_equal(vlapic_pending(&a), -1);
    assert_int_equal(a.stats.irqs_dropped, 1);
    W(&a, VLAPIC_SVR, 0x1ff, 0);
    W(&a, VLAPIC_LVT_TIMER, 0x40, 0);
    assert_int_equal(R(&a, VLAPIC_LVT_TIMER), 0x40);
}

static void test_irr_isr_eoi_order(void **state)
{
    struct vlapic a;
    enabled(&a, 0);
    vlapic_set_irq(&a, 0x31);
    vlapic_set_irq(&a, 0x80);
    vlapic_set_irq(&a, 0x45);
    assert_int_equal(R(&a, VLAPIC_IRR0 + 0x10), 1u << (0x31 - 32));
    assert_int_equal(R(&a, VLAPIC_IRR0 + 0x20), 1u << (0x45 - 64));
    assert_int_equal(R(&a, VLAPIC_IRR0 + 0x40), 1u);
    assert_int_equal(vlapic_pending(&a), 0x80);
    vlapic_accept(&a, 0x80);
    assert_int_equal(R(&a, VLAPIC_ISR0 + 0x40), 1u);
    assert_int_equal(R(&a, VLAPIC_IRR0 + 0x40), 0);
    assert_int_equal(R(&a, VLAPIC_PPR), 0x80);
    assert_int_equal(vlapic_pending(&a), -1); /* 0x45 and 0x31 are below 0x80 */
    vlapic_set_irq(&a, 0x90);                 /* a higher class nests */
    assert_int_equal(vlapic_pending(&a), 0x90);
    vlapic_accept(&a, 0x90);
    assert_int_equal(R(&a, VLAPIC_PPR), 0x90);
    W(&a, VLAPIC_EOI, 0, 0); /* retires 0x90 first */
    assert_int_equal(R(&a, VLAPIC_ISR0 + 0x40), 1u);
    assert_int_equal(R(&a, VLAPIC_PPR), 0x80);
    W(&a, VLAPIC_EOI, 0, 0); /* then 0x80 */
    assert_int_equal(R(&a, VLAPIC_ISR0 + 0x40), 0);
    assert_int_equal(vlapic_pending(&a), 0x45);
    vlapic_accept(&a, 0x45);
    assert_int_equal(vlapic_pending(&a), -1); /* 0x31 is a lower class */
    W(&a, VLAPIC_EOI, 0, 0);
    assert_int_equal(vlapic_pending(&a), 0x31);
    vlapic_accept(&a, 0x31);
    W(&a, VLAPIC_EOI, 0, 0);
    W(&a, VLAPIC_EOI, 0, 0); /* spurious EOI: harmless */
    assert_int_equal(vlapic_pending(&a), -1);
    assert_int_equal(R(&a, VLAPIC_PPR), 0);
    /* Same class: 0x41 waits for 0x4f's EOI. */
    vlapic_set_irq(&a, 0x4f);
    vlapic_accept(&a, 0x4f);
    vlapic_set_irq(&a, 0x41);
    assert_int_equal(vlapic_pending(&a), -1);
    W(&a, VLAPIC_EOI, 0, 0);
    assert_int_equal(vlapic_pending(&a), 0x41);
    /* Accepting a vector not requested changes nothing. */
    vlapic_accept(&a, 0x99);
    assert_int_equal(R(&a, VLAPIC_ISR0 + 0x40), 0);
    /* A repeated request while pending is one request. */
    vlapic_set_irq(&a, 0x41);
    vlapic_accept(&a, 0x41);
    assert_int_equal(vlapic_pending(&a), -1);
}

static void test_tpr_masking(void **state)
{
    struct vlapic a;
    enabled(&a, 0);
    vlapic_set_irq(&a, 0x55);
    W(&a, VLAPIC_TPR, 0x50, 0);
    assert_int_equal(R(&a, VLAPIC_PPR), 0x50);
    assert_int_equal(vlapic_pending(&a), -1); /* same class as TPR: blocked */
    W(&a, VLAPIC_TPR, 0x4f, 0);
    assert_int_equal(vlapic_pending(&a), 0x55);
    W(&a, VLAPIC_TPR, 0xff, 0);
    assert_int_equal(vlapic_pending(&a), -1);
    vlapic_set_irq(&a, 0xff);
    assert_int_equal(vlapic_pending(&a), -1); /* TPR 0xf_ blocks everything */
    W(&a, VLAPIC_TPR, 0, 0);
    assert_int_equal(vlapic_pending(&a), 0xff);
    /* PPR takes the higher of TPR and the in-service class. */
    vlapic_accept(&a, 0xff);
    W(&a, VLAPIC_TPR, 0x23, 0);
    assert_int_equal(R(&a, VLAPIC_PPR), 0xf0);
    W(&a, VLAPIC_EOI, 0, 0);
    assert_int_equal(R(&a, VLAPIC_PPR), 0x23);
    assert_int_equal(vlapic_pending(&a), 0x55);
}

static void test_illegal_vectors(void **state)
{
    struct vlapic a;
    enabled(&a, 0);
    for (u32 v = 0; v < 16; v++)
        vlapic_set_irq(&a, (u8)v);
    assert_int_equal(R(&a, VLAPIC_IRR0), 0);
    assert_int_equal(vlapic_pending(&a), -1);
    W(&a, VLAPIC_ESR, 0, 0);
    assert_int_equal(R(&a, VLAPIC_ESR), VLAPIC_ESR_RECV_ILLEGAL_VECTOR);
    /* With the error LVT unmasked, errors interrupt. */
    W(&a, VLAPIC_LVT_ERROR, 0xfe, 0);
    vlapic_set_irq(&a, 3);
    assert_int_equal(vlapic_pending(&a), 0xfe);
    /* Sending one: "send illegal vector", no IPI. */
    W(&a, VLAPIC_ESR, 0, 0);
    W(&a, VLAPIC_ICR_LO, 0x4000 | 0x0f, 0);
    struct vlapic_ipi ipi;
    assert_false(vlapic_take_ipi(&a, &ipi));
    W(&a, VLAPIC_ESR, 0, 0);
    assert_int_equal(R(&a, VLAPIC_ESR), VLAPIC_ESR_SEND_ILLEGAL_VECTOR);
    /* An illegal error vector is not re-reported (no recursion). */
    W(&a, VLAPIC_LVT_ERROR, 0x05, 0);
    vlapic_set_irq(&a, 1);
    W(&a, VLAPIC_ESR, 0, 0);
    assert_int_equal(R(&a, VLAPIC_ESR), VLAPIC_ESR_RECV_ILLEGAL_VECTOR);
    /* The timer with an illegal vector. */
    W(&a, VLAPIC_LVT_ERROR, VLAPIC_LVT_MASKED, 0);
    W(&a, VLAPIC_LVT_TIMER, 0x08, 0);
    W(&a, VLAPIC_TIMER_DCR, 0xb, 0);
    W(&a, VLAPIC_TIMER_ICR, 10, 0);
    assert_true(vlapic_tick(&a, 200));
    assert_int_equal(R(&a, VLAPIC_IRR0), 0);
    W(&a, VLAPIC_ESR, 0, 0);
    assert_int_equal(R(&a, VLAPIC_ESR), VLAPIC_ESR_RECV_ILLEGAL_VECTOR);
}

/* ------------------------------------------------------------------ timer */

static void test_divider_values(void **state)
{
    static const struct {
        u32 dcr, div;
    } t[] = {
        { 0x0, 2 },  { 0x1, 4 },   { 0x2, 8 }, { 0x3, 16 }, { 0x8, 32 },
        { 0x9, 64 }, { 0xa, 128 }, { 0xb, 1 }, { 0xf4, 2 }, { 0x7, 16 }, /* bit 2 and high bits ignored */
    };
    for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
        struct vlapic a;
        enabled(&a, 0);
        W(&a, VLAPIC_TIMER_DCR, t[i].dcr, 0);
        assert_int_equal(vlapic_timer_divisor(&a), t[i].div);
        W(&a, VLAPIC_LVT_TIMER, 0x40, 0);
        W(&a, VLAPIC_TIMER_ICR, 1000, 5000);
        /* 1000 counts * div timer ticks, 20 TSC ticks each. */
        u64 period = 1000ull * t[i].div * 20;
        assert_int_equal(vlapic_timer_deadline(&a), 5000 + period);
        assert_false(vlapic_tick(&a, 5000 + period - 1));
        assert_int_equal(vlapic_pending(&a), -1);
        assert_true(vlapic_tick(&a, 5000 + period));
        assert_int_equal(vlapic_pending(&a), 0x40);
    }
}

static void test_oneshot_and_current_count(void **state)
{
    struct vlapic a;
    enabled(&a, 0);
    W(&a, VLAPIC_TIMER_DCR, 0x1, 0); /* divide by 4: 80 TSC per count */
    W(&a, VLAPIC_LVT_TIMER, 0x41, 0);
    W(&a, VLAPIC_TIMER_ICR, 100, 1000);
    assert_int_equal(vlapic_timer_deadline(&a), 1000 + 8000);
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 100);
    assert_false(vlapic_tick(&a, 1000 + 80));
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 99);
    assert_false(vlapic_tick(&a, 1000 + 81));
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 99); /* rounds up: partly counted */
    assert_false(vlapic_tick(&a, 1000 + 4000));
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 50);
    assert_false(vlapic_tick(&a, 1000 + 7999));
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 1);
    assert_true(vlapic_tick(&a, 1000 + 8000 + 3));
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 0);
    assert_int_equal(vlapic_timer_deadline(&a), 0);
    assert_int_equal(R(&a, VLAPIC_TIMER_ICR), 100); /* initial count stays */
    assert_int_equal(vlapic_pending(&a), 0x41);
    assert_false(vlapic_tick(&a, 1000000)); /* one-shot: once */
    assert_int_equal(a.stats.timer_fired, 1);
    /* Rewriting the initial count restarts; zero stops. */
    W(&a, VLAPIC_TIMER_ICR, 10, 2000000);
    assert_int_equal(vlapic_timer_deadline(&a), 2000000 + 800);
    W(&a, VLAPIC_TIMER_ICR, 0, 2000100);
    assert_int_equal(vlapic_timer_deadline(&a), 0);
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 0);
    assert_false(vlapic_tick(&a, 3000000));
    /* An expired one-shot not yet ticked reads 0. */
    W(&a, VLAPIC_TIMER_ICR, 10, 4000000);
    assert_int_equal(vlapic_write(&a, VLAPIC_TPR, 0, 4000000 + 900), 0);
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 0);
}

static void test_periodic_no_drift(void **state)
{
    struct vlapic a;
    enabled(&a, 0);
    W(&a, VLAPIC_TIMER_DCR, 0x3, 0); /* divide by 16 */
    W(&a, VLAPIC_LVT_TIMER, VLAPIC_LVT_PERIODIC | 0x30, 0);
    const u64 start = 123456789;
    const u64 period = 12345ull * 16 * 20;
    W(&a, VLAPIC_TIMER_ICR, 12345, start);
    /* Ticks come late by a varying amount (less than a period): every
     * deadline must still lie on the grid start + N * period. */
    u64 seed = 1;
    for (u64 n = 1; n <= 10000; n++) {
        u64 d = vlapic_timer_deadline(&a);
        assert_int_equal(d, start + n * period);
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        u64 late = (seed >> 33) % period;
        assert_false(vlapic_tick(&a, d - 1));
        assert_true(vlapic_tick(&a, d + late));
        assert_int_equal(vlapic_pending(&a), 0x30);
        vlapic_accept(&a, 0x30);
        W(&a, VLAPIC_EOI, 0, d + late);
        /* The current count reflects the phase in the new period. */
        u32 ccr = R(&a, VLAPIC_TIMER_CCR);
        assert_true(ccr <= 12345 && ccr >= 12345 - (late / (16 * 20)) - 1);
    }
    assert_int_equal(vlapic_timer_deadline(&a), start + 10001 * period);
    assert_int_equal(a.stats.timer_fired, 10000);
    assert_int_equal(a.stats.timer_missed, 0);
}

static void test_periodic_missed_periods(void **state)
{
    struct vlapic a;
    enabled(&a, 0);
    W(&a, VLAPIC_TIMER_DCR, 0xb, 0); /* divide by 1: 20 TSC per count */
    W(&a, VLAPIC_LVT_TIMER, VLAPIC_LVT_PERIODIC | 0x30, 0);
    W(&a, VLAPIC_TIMER_ICR, 50, 0);     /* period 1000 */
    assert_true(vlapic_tick(&a, 5500)); /* deadlines 1000..5000 passed */
    assert_int_equal(a.stats.timer_fired, 1);
    assert_int_equal(a.stats.timer_missed, 4);
    assert_int_equal(vlapic_timer_deadline(&a), 6000);
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 25);
    /* Exactly on a deadline: no miss counted for it. */
    assert_true(vlapic_tick(&a, 7000));
    assert_int_equal(a.stats.timer_missed, 5);
    assert_int_equal(vlapic_timer_deadline(&a), 8000);
    /* The interrupt coalesces in IRR (one bit). */
    assert_int_equal(vlapic_pending(&a), 0x30);
    /* Periodic current count keeps wrapping even without ticks. */
    assert_int_equal(vlapic_write(&a, VLAPIC_TPR, 0, 8000 + 3 * 1000 + 400), 0);
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 30);
}

static void test_masked_timer(void **state)
{
    struct vlapic a;
    enabled(&a, 0);
    W(&a, VLAPIC_TIMER_DCR, 0xb, 0);
    W(&a, VLAPIC_LVT_TIMER, VLAPIC_LVT_MASKED | VLAPIC_LVT_PERIODIC | 0x30, 0);
    W(&a, VLAPIC_TIMER_ICR, 50, 0);
    assert_true(vlapic_tick(&a, 1000)); /* still counts and rearms */
    assert_int_equal(vlapic_pending(&a), -1);
    assert_int_equal(R(&a, VLAPIC_IRR0 + 0x10), 0);
    assert_int_equal(vlapic_timer_deadline(&a), 2000);
    W(&a, VLAPIC_LVT_TIMER, VLAPIC_LVT_PERIODIC | 0x30, 1500); /* unmask mid-period */
    assert_int_equal(vlapic_timer_deadline(&a), 2000);
    assert_true(vlapic_tick(&a, 2000));
    assert_int_equal(vlapic_pending(&a), 0x30);
    /* Switching to one-shot: this period ends it. */
    W(&a, VLAPIC_LVT_TIMER, 0x30, 2100);
    assert_true(vlapic_tick(&a, 3000));
    assert_int_equal(vlapic_timer_deadline(&a), 0);
    /* The reserved mode 11b is refused: one-shot remains. */
    W(&a, VLAPIC_LVT_TIMER, VLAPIC_LVT_TIMER_MODE | 0x30, 3000);
    assert_int_equal(R(&a, VLAPIC_LVT_TIMER), 0x30);
    assert_int_equal(a.stats.timer_mode_reserved, 1);
}

/* TSC-deadline mode (SDM Vol. 3A 11.5.4.1): IA32_TSC_DEADLINE arms, 0 disarms,
 * one interrupt per deadline, the count registers are out of play, and a mode
 * change either way disarms. */
static void test_tsc_deadline(void **state)
{
    struct vlapic a;
    enabled(&a, 0);
    /* Outside the mode, the MSR is ignored and reads 0. */
    vlapic_write_tsc_deadline(&a, 5000, 0);
    assert_int_equal(vlapic_read_tsc_deadline(&a), 0);
    assert_int_equal(vlapic_timer_deadline(&a), 0);
    assert_int_equal(a.stats.tsc_deadline_ignored, 1);
    /* A running one-shot count is disarmed by entering the mode. */
    W(&a, VLAPIC_TIMER_DCR, 0xb, 0);
    W(&a, VLAPIC_LVT_TIMER, 0x30, 0);
    W(&a, VLAPIC_TIMER_ICR, 100, 0);
    assert_int_not_equal(vlapic_timer_deadline(&a), 0);
    W(&a, VLAPIC_LVT_TIMER, VLAPIC_LVT_TSC_DEADLINE | 0x30, 10);
    assert_int_equal(R(&a, VLAPIC_LVT_TIMER), VLAPIC_LVT_TSC_DEADLINE | 0x30);
    assert_int_equal(vlapic_timer_deadline(&a), 0);
    /* Initial count ignored, current count 0. */
    W(&a, VLAPIC_TIMER_ICR, 100, 20);
    assert_int_equal(vlapic_timer_deadline(&a), 0);
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 0);
    /* Arm; nothing before the deadline, one interrupt at it, then disarmed. */
    vlapic_write_tsc_deadline(&a, 5000, 100);
    assert_int_equal(vlapic_read_tsc_deadline(&a), 5000);
    assert_int_equal(vlapic_timer_deadline(&a), 5000);
    W(&a, VLAPIC_TIMER_DCR, 0x0, 200); /* a divider change moves nothing */
    assert_int_equal(vlapic_timer_deadline(&a), 5000);
    assert_false(vlapic_tick(&a, 4999));
    assert_true(vlapic_tick(&a, 5001));
    assert_int_equal(vlapic_pending(&a), 0x30);
    assert_int_equal(vlapic_read_tsc_deadline(&a), 0);
    assert_int_equal(vlapic_timer_deadline(&a), 0);
    assert_false(vlapic_tick(&a, 99999));
    vlapic_accept(&a, 0x30);
    W(&a, VLAPIC_EOI, 0, 6000);
    /* A deadline already past fires at the next tick. */
    vlapic_write_tsc_deadline(&a, 10, 7000);
    assert_true(vlapic_tick(&a, 7000));
    assert_int_equal(vlapic_pending(&a), 0x30);
    vlapic_accept(&a, 0x30);
    W(&a, VLAPIC_EOI, 0, 7000);
    /* 0 disarms. */
    vlapic_write_tsc_deadline(&a, 9000, 7000);
    vlapic_write_tsc_deadline(&a, 0, 7100);
    assert_int_equal(vlapic_timer_deadline(&a), 0);
    assert_false(vlapic_tick(&a, 9500));
    /* Masked: expires without an interrupt. */
    W(&a, VLAPIC_LVT_TIMER, VLAPIC_LVT_MASKED | VLAPIC_LVT_TSC_DEADLINE | 0x30, 9600);
    vlapic_write_tsc_deadline(&a, 9700, 9600);
    assert_true(vlapic_tick(&a, 9800));
    assert_int_equal(vlapic_pending(&a), -1);
    /* Leaving the mode disarms and the MSR reads 0 again. */
    W(&a, VLAPIC_LVT_TIMER, VLAPIC_LVT_TSC_DEADLINE | 0x30, 9900);
    vlapic_write_tsc_deadline(&a, 20000, 9900);
    W(&a, VLAPIC_LVT_TIMER, VLAPIC_LVT_PERIODIC | 0x30, 10000);
    assert_int_equal(vlapic_timer_deadline(&a), 0);
    assert_int_equal(vlapic_read_tsc_deadline(&a), 0);
    assert_false(vlapic_tick(&a, 30000));
}

static void test_divider_change_while_running(void **state)
{
    struct vlapic a;
    enabled(&a, 0);
    W(&a, VLAPIC_TIMER_DCR, 0xb, 0);
    W(&a, VLAPIC_LVT_TIMER, VLAPIC_LVT_PERIODIC | 0x30, 0);
    W(&a, VLAPIC_TIMER_ICR, 100, 0);    /* 2000 TSC per period */
    W(&a, VLAPIC_TIMER_DCR, 0x0, 1000); /* half-way: 50 counts left, now /2 */
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 50);
    assert_int_equal(vlapic_timer_deadline(&a), 1000 + 50 * 40);
    assert_true(vlapic_tick(&a, 3000));
    assert_int_equal(vlapic_timer_deadline(&a), 3000 + 100 * 40);
    /* Divider change on a stopped timer only sets the register. */
    W(&a, VLAPIC_TIMER_ICR, 0, 3100);
    W(&a, VLAPIC_TIMER_DCR, 0xa, 3200);
    assert_int_equal(vlapic_timer_deadline(&a), 0);
    assert_int_equal(vlapic_timer_divisor(&a), 128);
}

static void test_timer_extremes(void **state)
{
    struct vlapic a;
    /* Largest count, largest divider, slow timer clock, fast TSC: no overflow. */
    vlapic_init(&a, 0, 0xffffffffu, 1);
    W(&a, VLAPIC_SVR, 0x1ff, 0);
    assert_int_equal(a.tsc_khz, 1u << 24);
    W(&a, VLAPIC_TIMER_DCR, 0xa, 0);
    W(&a, VLAPIC_LVT_TIMER, VLAPIC_LVT_PERIODIC | 0x30, 0);
    W(&a, VLAPIC_TIMER_ICR, 0xffffffffu, 0);
    u64 period = 0xffffffffull * 128 * (1ull << 24);
    assert_int_equal(vlapic_timer_deadline(&a), period);
    assert_int_equal(R(&a, VLAPIC_TIMER_CCR), 0xffffffffu);
    assert_false(vlapic_tick(&a, period / 2));
    u32 c = R(&a, VLAPIC_TIMER_CCR);
    assert_true(c >= 0x7fffffffu && c <= 0x80000000u);
    /* Zero frequencies are taken as 1 kHz; a timer faster than the TSC still
     * gets periods of at least one TSC tick. */
    vlapic_init(&a, 0, 0, 0);
    assert_int_equal(a.tsc_khz, 1);
    vlapic_init(&a, 0, 1000, 1u << 24);
    W(&a, VLAPIC_SVR, 0x1ff, 0);
    W(&a, VLAPIC_TIMER_DCR, 0xb, 0);
    W(&a, VLAPIC_LVT_TIMER, VLAPIC_LVT_PERIODIC | 0x30, 0);
    W(&a, VLAPIC_TIMER_ICR, 1, 10);
    assert_int_equal(vlapic_timer_deadline(&a), 11);
    assert_true(vlapic_tick(&a, 11));
    assert_int_equal(vlapic_timer_deadline(&a), 12);
}

/* ------------------------------------------------------------------ IPIs */

static void test_icr_decode(void **state)
{
    struct vlapic a;
    enabled(&a, 1);
    struct vlapic_ipi ipi;
    assert_false(vlapic_take_ipi(&a, &ipi));

    /* Fixed, physical, to APIC ID 2 (the guest's apic_send_ipi pattern). */
    W(&a, VLAPIC_ICR_HI, 2u << 24, 0);
    W(&a, VLAPIC_ICR_LO, 0x4000 | 0x40, 0);
    assert_true(vlapic_take_ipi(&a, &ipi));
    assert_int_equal(ipi.mode, VLAPIC_IPI_FIXED);
    assert_int_equal(ipi.vector, 0x40);
    assert_int_equal(ipi.dest, 2);
    assert_int_equal(ipi.shorthand, VLAPIC_SH_NONE);
    assert_false(ipi.logical);
    assert_false(vlapic_take_ipi(&a, &ipi)); /* taken once */
    assert_int_equal(R(&a, VLAPIC_ICR_LO) & VLAPIC_ICR_BUSY, 0);

    /* Lowest priority, logical: reported as fixed. */
    W(&a, VLAPIC_ICR_HI, 0x0fu << 24, 0);
    W(&a, VLAPIC_ICR_LO, 0x4000 | 0x800 | 0x100 | 0x41, 0);
    assert_true(vlapic_take_ipi(&a, &ipi));
    assert_int_equal(ipi.mode, VLAPIC_IPI_FIXED);
    assert_int_equal(ipi.vector, 0x41);
    assert_int_equal(ipi.dest, 0x0f);
    assert_true(ipi.logical);

    /* NMI */
    W(&a, VLAPIC_ICR_HI, 3u << 24, 0);
    W(&a, VLAPIC_ICR_LO, 0x4000 | 0x400 | 0x77, 0);
    assert_true(vlapic_take_ipi(&a, &ipi));
    assert_int_equal(ipi.mode, VLAPIC_IPI_NMI);
    assert_int_equal(ipi.vector, 0);
    assert_int_equal(ipi.dest, 3);

    /* INIT assert (level), INIT de-assert dropped. */
    W(&a, VLAPIC_ICR_LO, 0x8000 | 0x4000 | 0x500, 0);
    assert_true(vlapic_take_ipi(&a, &ipi));
    assert_int_equal(ipi.mode, VLAPIC_IPI_INIT);
    W(&a, VLAPIC_ICR_LO, 0x4000 | 0x500, 0); /* edge INIT */
    assert_true(vlapic_take_ipi(&a, &ipi));
    assert_int_equal(ipi.mode, VLAPIC_IPI_INIT);
    u64 dropped = a.stats.ipis_dropped;
    W(&a, VLAPIC_ICR_LO, 0x8000 | 0x500, 0); /* de-assert */
    assert_false(vlapic_take_ipi(&a, &ipi));
    assert_int_equal(a.stats.ipis_dropped, dropped + 1);

    /* SIPI: vector is the start page, any value (even < 16). */
    W(&a, VLAPIC_ICR_LO, 0x4000 | 0x600 | 0x08, 0);
    assert_true(vlapic_take_ipi(&a, &ipi));
    assert_int_equal(ipi.mode, VLAPIC_IPI_SIPI);
    assert_int_equal(ipi.vector, 0x08);
    assert_int_equal(ipi.dest, 3);

    /* SMI and the reserved modes are dropped. */
    static const u32 bad_modes[] = { 2, 3, 7 };
    for (size_t i = 0; i < ARRAY_SIZE(bad_modes); i++) {
        W(&a, VLAPIC_ICR_LO, 0x4000 | (bad_modes[i] << 8) | 0x40, 0);
        assert_false(vlapic_take_ipi(&a, &ipi));
    }
    assert_int_equal(a.stats.ipis_dropped, dropped + 4);

    /* Shorthands. */
    static const u32 sh[] = { VLAPIC_SH_NONE, VLAPIC_SH_SELF, VLAPIC_SH_ALL_INCL, VLAPIC_SH_ALL_EXCL };
    for (size_t i = 0; i < ARRAY_SIZE(sh); i++) {
        W(&a, VLAPIC_ICR_LO, (sh[i] << 18) | 0x4000 | 0x50, 0);
        assert_true(vlapic_take_ipi(&a, &ipi));
        assert_int_equal(ipi.shorthand, sh[i]);
        assert_int_equal(ipi.mode, VLAPIC_IPI_FIXED);
        assert_int_equal(ipi.vector, 0x50);
    }
    /* Self is only valid with fixed delivery. */
    W(&a, VLAPIC_ICR_LO, (1u << 18) | 0x4000 | 0x400, 0);
    assert_false(vlapic_take_ipi(&a, &ipi));
    /* INIT and SIPI to all excluding self (the classic AP start-up). */
    W(&a, VLAPIC_ICR_LO, (3u << 18) | 0x4000 | 0x500, 0);
    assert_true(vlapic_take_ipi(&a, &ipi));
    assert_int_equal(ipi.mode, VLAPIC_IPI_INIT);
    assert_int_equal(ipi.shorthand, VLAPIC_SH_ALL_EXCL);
    W(&a, VLAPIC_ICR_LO, (3u << 18) | 0x4000 | 0x600 | 0x9a, 0);
    assert_true(vlapic_take_ipi(&a, &ipi));
    assert_int_equal(ipi.mode, VLAPIC_IPI_SIPI);
    assert_int_equal(ipi.vector, 0x9a);

    /* A second send before the first was taken replaces it, counted. */
    W(&a, VLAPIC_ICR_LO, 0x4000 | 0x60, 0);
    W(&a, VLAPIC_ICR_LO, 0x4000 | 0x61, 0);
    assert_int_equal(a.stats.ipis_overwritten, 1);
    assert_true(vlapic_take_ipi(&a, &ipi));
    assert_int_equal(ipi.vector, 0x61);
    /* Writing ICR high alone sends nothing. */
    W(&a, VLAPIC_ICR_HI, 5u << 24, 0);
    assert_false(vlapic_take_ipi(&a, &ipi));
}

/* ------------------------------------------------------------------ fuzz */

static u64 rng;
static u32 rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (u32)rng;
}

static void check_invariants(struct vlapic *a)
{
    u32 v;
    assert_int_equal(a->irr[0] & 0xffff, 0);
    assert_int_equal(a->isr[0] & 0xffff, 0);
    int p = vlapic_pending(a);
    assert_true(p == -1 || (p >= 16 && p <= 255));
    if (p >= 0)
        assert_true(((u32)p & 0xf0) > (vlapic_ppr(a) & 0xf0));
    assert_int_equal(vlapic_read(a, VLAPIC_DFR, &v), 0);
    assert_int_equal(v & 0x0fffffff, 0x0fffffff);
    assert_int_equal(vlapic_read(a, VLAPIC_ICR_LO, &v), 0);
    assert_int_equal(v & VLAPIC_ICR_BUSY, 0);
    assert_int_equal(vlapic_read(a, VLAPIC_TIMER_CCR, &v), 0);
    assert_true(v <= a->timer_initial);
    bool deadline_mode = (a->lvt[VLAPIC_LVT_TIMER_IDX] & VLAPIC_LVT_TIMER_MODE) == VLAPIC_LVT_TSC_DEADLINE;
    if (deadline_mode) {
        assert_int_equal(v, 0);
        assert_int_equal(vlapic_timer_deadline(a), vlapic_read_tsc_deadline(a));
    } else {
        assert_int_equal(vlapic_read_tsc_deadline(a), 0);
        if (!a->timer_initial)
            assert_int_equal(vlapic_timer_deadline(a), 0);
    }
    assert_int_equal(vlapic_read(a, VLAPIC_VERSION, &v), 0);
    assert_int_equal(v, 0x50014);
    if (!vlapic_sw_enabled(a))
        for (int i = 0; i < VLAPIC_NR_LVT; i++)
            assert_true(a->lvt[i] & VLAPIC_LVT_MASKED);
    assert_int_not_equal(a->lvt[VLAPIC_LVT_TIMER_IDX] & VLAPIC_LVT_TIMER_MODE, VLAPIC_LVT_TIMER_MODE);
}

static void test_random_access_fuzz(void **state)
{
    struct vlapic a;
    rng = 0x9e3779b97f4a7c15ull;
    vlapic_init(&a, 2, TSC_KHZ, TIMER_KHZ);
    u64 now = 1000, fired = 0, accepted = 0, ipis = 0;
    for (int i = 0; i < 300000; i++) {
        u32 r = rnd(), v;
        int rc;
        /* Mostly real register offsets, sometimes anything. */
        u32 off = (r & 1) ? (rnd() & 0x3f0) : (r & 2) ? (rnd() & 0xfff) : rnd();
        if ((r & 0x70) == 0)
            off = VLAPIC_SVR;
        u32 val = rnd();
        /* Bias towards states that do something: short timers, an enabled APIC. */
        if (off == VLAPIC_TIMER_ICR && (r >> 4) % 8)
            val &= 0xfff;
        if (off == VLAPIC_SVR && (r >> 4) % 8)
            val |= VLAPIC_SVR_ENABLE;
        now += rnd() % 5000;
        switch ((r >> 8) % 8) {
        case 0:
        case 1:
        case 2:
            rc = vlapic_write(&a, off, val, now);
            assert_true(rc == 0 || rc == -EINVAL);
            if ((off & 0xf) || off > 0x3f0)
                assert_int_equal(rc, -EINVAL);
            break;
        case 3:
        case 4:
            rc = vlapic_read(&a, off, &v);
            assert_true(rc == 0 || (rc == -EINVAL && v == 0));
            break;
        case 5:
            if (r & 0x80000)
                vlapic_write_tsc_deadline(&a, (r & 0x100000) ? 0 : now + (rnd() % 20000) - 5000, now);
            fired += vlapic_tick(&a, now);
            break;
        case 6: {
            int p = vlapic_pending(&a);
            if (p >= 0) {
                vlapic_accept(&a, (u8)p);
                accepted++;
            } else
                vlapic_set_irq(&a, (u8)rnd());
            break;
        }
        default: {
            struct vlapic_ipi ipi;
            if (vlapic_take_ipi(&a, &ipi)) {
                ipis++;
                assert_true(ipi.mode <= VLAPIC_IPI_SIPI && ipi.shorthand <= 3);
                if (ipi.mode == VLAPIC_IPI_FIXED)
                    assert_true(ipi.vector >= 16);
            }
            if ((r & 0xff000000) == 0)
                vlapic_init(&a, 2, TSC_KHZ, TIMER_KHZ);
            break;
        }
        }
        check_invariants(&a);
    }
    /* The run reached the interesting paths. */
    print_message("fuzz: %llu timer expiries, %llu interrupts accepted, %llu IPIs\n", (unsigned long long)fired,
                  (unsigned long long)accepted, (unsigned long long)ipis);
    assert_true(fired > 100 && accepted > 1000 && ipis > 100);
}

/* A level-triggered interrupt (an I/O APIC's level entry) sets TMR; its EOI
 * is kept for the I/O APIC, an edge one's is not (SDM 11.8.4, 11.8.5). */
static void test_level_eoi_broadcast(void **state)
{
    struct vlapic a;
    enabled(&a, 0);
    u8 v = 0;
    vlapic_set_irq_trig(&a, 0x41, true);
    vlapic_set_irq(&a, 0x51);
    assert_int_equal(R(&a, VLAPIC_TMR0 + 2 * 16), 1u << 1); /* 0x41: word 2, bit 1 */
    assert_int_equal(vlapic_pending(&a), 0x51);
    vlapic_accept(&a, 0x51);
    W(&a, VLAPIC_EOI, 0, 0);
    assert_false(vlapic_take_eoi(&a, &v)); /* edge: nothing to broadcast */
    assert_int_equal(vlapic_pending(&a), 0x41);
    vlapic_accept(&a, 0x41);
    W(&a, VLAPIC_EOI, 0, 0);
    assert_true(vlapic_take_eoi(&a, &v));
    assert_int_equal(v, 0x41);
    assert_false(vlapic_take_eoi(&a, &v));
    assert_int_equal(R(&a, VLAPIC_TMR0 + 2 * 16), 0);
    /* Illegal vectors set no TMR bit; a disabled APIC takes nothing. */
    vlapic_set_irq_trig(&a, 0x05, true);
    assert_int_equal(R(&a, VLAPIC_TMR0), 0);
    W(&a, VLAPIC_SVR, 0xff, 0);
    vlapic_set_irq_trig(&a, 0x42, true);
    assert_int_equal(R(&a, VLAPIC_TMR0 + 2 * 16), 0);
    W(&a, VLAPIC_EOI, 0, 0); /* nothing in service */
    assert_false(vlapic_take_eoi(&a, &v));
}

/* ------------------------------------------------------------------ x2APIC */

#define XMSR(off) (MSR_X2APIC_BASE + ((off) >> 4))

static u64 XR(struct vlapic *a, u32 off)
{
    u64 v = 0xdeadbeef;
    assert_int_equal(vlapic_x2apic_read(a, XMSR(off), &v), 0);
    return v;
}

static void XW(struct vlapic *a, u32 off, u64 val) { assert_int_equal(vlapic_x2apic_write(a, XMSR(off), val, 0), 0); }

static void XGP(struct vlapic *a, u32 off, bool write, u64 val)
{
    u64 v = val;
    int rc = write ? vlapic_x2apic_write(a, XMSR(off), val, 0) : vlapic_x2apic_read(a, XMSR(off), &v);
    assert_int_equal(rc, -EINVAL);
}

static void test_x2apic_only_when_enabled(void **state)
{
    (void)state;
    struct vlapic a;
    enabled(&a, 0x23);
    XGP(&a, VLAPIC_ID, false, 0); /* xAPIC mode: every x2APIC MSR is #GP */
    XGP(&a, VLAPIC_TPR, true, 0);
    assert_int_equal(a.stats.x2apic_gp, 2);
    vlapic_enable_x2apic(&a);
    assert_int_equal(XR(&a, VLAPIC_ID), 0x23);                      /* the whole ID */
    assert_int_equal(XR(&a, VLAPIC_LDR), (0x2u << 16) | (1u << 3)); /* cluster 2, member 3 */
    assert_int_equal(vlapic_x2apic_ldr(0x23), (0x2u << 16) | (1u << 3));
    assert_int_equal(XR(&a, VLAPIC_VERSION), VLAPIC_VERSION_VALUE);
    assert_int_equal(XR(&a, VLAPIC_SVR), VLAPIC_SVR_ENABLE | 0xff); /* kept from xAPIC mode */
    XW(&a, VLAPIC_TPR, 0x20);
    assert_int_equal(XR(&a, VLAPIC_TPR), 0x20);
    assert_int_equal(R(&a, VLAPIC_TPR), 0x20); /* one register file */
}

static void test_x2apic_gp_rules(void **state)
{
    (void)state;
    struct vlapic a;
    enabled(&a, 1);
    vlapic_enable_x2apic(&a);
    /* No such registers in x2APIC mode. */
    XGP(&a, VLAPIC_DFR, false, 0);
    XGP(&a, VLAPIC_ICR_HI, false, 0);
    XGP(&a, VLAPIC_APR, false, 0);
    XGP(&a, 0x3f0 + 0x10, false, 0); /* past self IPI */
    u64 v;
    assert_int_equal(vlapic_x2apic_read(&a, MSR_X2APIC_LAST, &v), -EINVAL);
    assert_int_equal(vlapic_x2apic_read(&a, MSR_X2APIC_BASE - 1, &v), -EINVAL);
    /* Write-only and read-only registers. */
    XGP(&a, VLAPIC_EOI, false, 0);
    XGP(&a, VLAPIC_SELF_IPI, false, 0);
    XGP(&a, VLAPIC_ID, true, 5);
    XGP(&a, VLAPIC_LDR, true, 0);
    XGP(&a, VLAPIC_PPR, true, 0);
    XGP(&a, VLAPIC_ISR0, true, 0);
    XGP(&a, VLAPIC_IRR0 + 0x70, true, 0);
    XGP(&a, VLAPIC_TIMER_CCR, true, 0);
    /* Reserved bits: a 32-bit register's upper half, a non-zero EOI or ESR,
     * a self IPI beyond 8 bits, ICR's reserved low bits. */
    XGP(&a, VLAPIC_TPR, true, 1ull << 32);
    XGP(&a, VLAPIC_EOI, true, 1);
    XGP(&a, VLAPIC_ESR, true, 1);
    XGP(&a, VLAPIC_SELF_IPI, true, 0x100);
    XGP(&a, VLAPIC_ICR_LO, true, 1ull << 20);
    assert_int_equal(a.stats.x2apic_gp, 19);
    assert_false(a.ipi_pending);
    /* The page is not consulted here: xAPIC-only offsets still read through
     * vlapic_read for the caller, which refuses the page in x2APIC mode. */
    XW(&a, VLAPIC_ESR, 0);
    XW(&a, VLAPIC_EOI, 0);
}

static void test_x2apic_icr_and_self_ipi(void **state)
{
    (void)state;
    struct vlapic a;
    struct vlapic_ipi ipi;
    enabled(&a, 0);
    vlapic_enable_x2apic(&a);
    /* One 64-bit write sends, the destination a 32-bit x2APIC ID. */
    XW(&a, VLAPIC_ICR_LO, (0x12345ull << 32) | 0x4041); /* fixed, vector 0x41, assert */
    assert_true(vlapic_take_ipi(&a, &ipi));
    assert_true(ipi.x2apic);
    assert_int_equal(ipi.dest, 0x12345);
    assert_int_equal(ipi.vector, 0x41);
    assert_int_equal(ipi.mode, VLAPIC_IPI_FIXED);
    assert_false(ipi.logical);
    assert_int_equal(XR(&a, VLAPIC_ICR_LO), (0x12345ull << 32) | 0x4041);
    /* Logical, broadcast. */
    XW(&a, VLAPIC_ICR_LO, (0xffffffffull << 32) | 0x4841);
    assert_true(vlapic_take_ipi(&a, &ipi));
    assert_true(ipi.logical);
    assert_int_equal(ipi.dest, 0xffffffffu);
    /* INIT and SIPI go out as in xAPIC mode. */
    XW(&a, VLAPIC_ICR_LO, (3ull << 32) | 0x4500);
    assert_true(vlapic_take_ipi(&a, &ipi));
    assert_int_equal(ipi.mode, VLAPIC_IPI_INIT);
    assert_int_equal(ipi.dest, 3);
    /* Self IPI: straight into IRR, no routing; an illegal vector is an ESR error. */
    XW(&a, VLAPIC_SELF_IPI, 0x55);
    assert_false(vlapic_take_ipi(&a, &ipi));
    assert_int_equal(vlapic_pending(&a), 0x55);
    vlapic_accept(&a, 0x55);
    XW(&a, VLAPIC_EOI, 0);
    assert_int_equal(vlapic_pending(&a), -1);
    XW(&a, VLAPIC_SELF_IPI, 0x05);
    XW(&a, VLAPIC_ESR, 0);
    assert_true(XR(&a, VLAPIC_ESR) & VLAPIC_ESR_SEND_ILLEGAL_VECTOR);
    /* xAPIC-mode IPIs keep the 8-bit destination and say so. */
    struct vlapic b;
    enabled(&b, 0);
    W(&b, VLAPIC_ICR_HI, 0x07000000u, 0);
    W(&b, VLAPIC_ICR_LO, 0x4041, 0);
    assert_true(vlapic_take_ipi(&b, &ipi));
    assert_false(ipi.x2apic);
    assert_int_equal(ipi.dest, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_eoi_broadcast),
        cmocka_unit_test(test_reset_state),
        cmocka_unit_test(test_bad_offsets),
        cmocka_unit_test(test_read_only_registers),
        cmocka_unit_test(test_rw_registers_masks),
        cmocka_unit_test(test_sw_disable_masks_lvts),
        cmocka_unit_test(test_irr_isr_eoi_order),
        cmocka_unit_test(test_tpr_masking),
        cmocka_unit_test(test_illegal_vectors),
        cmocka_unit_test(test_divider_values),
        cmocka_unit_test(test_oneshot_and_current_count),
        cmocka_unit_test(test_periodic_no_drift),
        cmocka_unit_test(test_periodic_missed_periods),
        cmocka_unit_test(test_masked_timer),
        cmocka_unit_test(test_divider_change_while_running),
        cmocka_unit_test(test_timer_extremes),
        cmocka_unit_test(test_icr_decode),
        cmocka_unit_test(test_x2apic_only_when_enabled),
        cmocka_unit_test(test_x2apic_gp_rules),
        cmocka_unit_test(test_x2apic_icr_and_self_ipi),
        cmocka_unit_test(test_random_access_fuzz),
        cmocka_unit_test(test_tsc_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
