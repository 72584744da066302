/* The I/O APIC model: registers, masking, edge and level pins with remote IRR
 * and EOI, polarity, destinations, and malformed accesses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/dev/vioapic_model.h"
#include "arch/x86/hw/ioapic.h"
#include "kernel/lib/errno.h"

/* The fake local APICs: every message recorded; `accept` says whether one
 * takes it. */
static struct vioapic_msg sent[64];
static u32 nsent;
static bool accept = true;

static bool deliver(void *ctx, const struct vioapic_msg *m)
{
    assert_ptr_equal(ctx, &nsent);
    if (nsent < 64)
        sent[nsent++] = *m;
    return accept;
}

static void fresh(struct vioapic_model *io)
{
    nsent = 0;
    accept = true;
    vioapic_model_init(io, 2, deliver, &nsent);
}

static void W(struct vioapic_model *io, u32 reg, u32 val)
{
    assert_int_equal(vioapic_model_write(io, IOAPIC_IOREGSEL, 4, reg), 0);
    assert_int_equal(vioapic_model_write(io, IOAPIC_IOWIN, 4, val), 0);
}

static u32 R(struct vioapic_model *io, u32 reg)
{
    u32 v = 0xdeadbeef;
    assert_int_equal(vioapic_model_write(io, IOAPIC_IOREGSEL, 4, reg), 0);
    assert_int_equal(vioapic_model_read(io, IOAPIC_IOWIN, 4, &v), 0);
    return v;
}

static void rte(struct vioapic_model *io, u32 pin, u32 lo, u8 dest)
{
    W(io, IOAPIC_REG_REDTBL + 2 * pin + 1, (u32)dest << 24);
    W(io, IOAPIC_REG_REDTBL + 2 * pin, lo);
}

static void level(struct vioapic_model *io, u32 pin, bool high)
{
    assert_int_equal(vioapic_model_set_level(io, pin, high), 0);
}

static void test_reset_and_ids(void **state)
{
    struct vioapic_model io;
    fresh(&io);
    assert_int_equal(R(&io, IOAPIC_REG_ID), 2u << 24);
    assert_int_equal(R(&io, IOAPIC_REG_VER), 0x00170011u); /* 24 entries, version 0x11 */
    assert_int_equal(R(&io, IOAPIC_REG_ARB), 2u << 24);
    for (u32 pin = 0; pin < VIOAPIC_PINS; pin++) {
        assert_int_equal(R(&io, IOAPIC_REG_REDTBL + 2 * pin), IOAPIC_RTE_MASKED);
        assert_int_equal(R(&io, IOAPIC_REG_REDTBL + 2 * pin + 1), 0);
    }
    W(&io, IOAPIC_REG_ID, 0xffffffffu); /* only bits 27:24 stick */
    assert_int_equal(R(&io, IOAPIC_REG_ID), 0xfu << 24);
    assert_int_equal(R(&io, IOAPIC_REG_ARB), 0xfu << 24);
    W(&io, IOAPIC_REG_VER, 0);
    W(&io, IOAPIC_REG_ARB, 0);
    assert_int_equal(io.stats.ro_writes, 2);
    assert_int_equal(R(&io, IOAPIC_REG_VER), 0x00170011u);
    u32 sel;
    assert_int_equal(vioapic_model_read(&io, IOAPIC_IOREGSEL, 4, &sel), 0);
    assert_int_equal(sel, IOAPIC_REG_VER);
}

static void test_rte_read_only_bits(void **state)
{
    struct vioapic_model io;
    fresh(&io);
    /* Delivery status and remote IRR cannot be written; bits 55:32 are reserved. */
    W(&io, IOAPIC_REG_REDTBL + 2 * 3, 0xffffffffu);
    assert_int_equal(R(&io, IOAPIC_REG_REDTBL + 2 * 3) & (IOAPIC_RTE_DELIVS | IOAPIC_RTE_REMOTE_IRR), 0);
    W(&io, IOAPIC_REG_REDTBL + 2 * 3 + 1, 0xffffffffu);
    assert_int_equal(R(&io, IOAPIC_REG_REDTBL + 2 * 3 + 1), 0xff000000u);
    assert_int_equal(nsent, 0);
}

static void test_edge_pin(void **state)
{
    struct vioapic_model io;
    fresh(&io);
    rte(&io, 4, 0x31, 1); /* fixed, physical, edge, active high, unmasked */
    level(&io, 4, true);
    assert_int_equal(nsent, 1);
    assert_int_equal(sent[0].vector, 0x31);
    assert_int_equal(sent[0].dest, 1);
    assert_int_equal(sent[0].pin, 4);
    assert_int_equal(sent[0].mode, IOAPIC_DELMOD_FIXED);
    assert_false(sent[0].logical);
    assert_false(sent[0].level);
    level(&io, 4, true); /* no new edge */
    assert_int_equal(nsent, 1);
    level(&io, 4, false);
    level(&io, 4, true);
    assert_int_equal(nsent, 2);
    assert_int_equal(io.pin_count[4], 2);
    /* An EOI means nothing to an edge pin, and remote IRR stays clear. */
    vioapic_model_eoi(&io, 0x31);
    assert_int_equal(nsent, 2);
    assert_int_equal(R(&io, IOAPIC_REG_REDTBL + 8) & IOAPIC_RTE_REMOTE_IRR, 0);
}

static void test_masked_edge_is_lost(void **state)
{
    struct vioapic_model io;
    fresh(&io);
    rte(&io, 5, IOAPIC_RTE_MASKED | 0x40, 0);
    level(&io, 5, true);
    assert_int_equal(nsent, 0);
    assert_int_equal(io.stats.masked_edges, 1);
    rte(&io, 5, 0x40, 0); /* unmasking while high: an edge pin needs a new edge */
    assert_int_equal(nsent, 0);
    level(&io, 5, false);
    level(&io, 5, true);
    assert_int_equal(nsent, 1);
}

static void test_level_remote_irr_and_eoi(void **state)
{
    struct vioapic_model io;
    fresh(&io);
    rte(&io, 9, IOAPIC_RTE_TRIGGER_LEVEL | 0x55, 0);
    level(&io, 9, true);
    assert_int_equal(nsent, 1);
    assert_true(sent[0].level);
    assert_true(R(&io, IOAPIC_REG_REDTBL + 18) & IOAPIC_RTE_REMOTE_IRR);
    level(&io, 9, true); /* still asserted, awaiting EOI: nothing */
    assert_int_equal(nsent, 1);
    vioapic_model_eoi(&io, 0x54); /* another vector */
    assert_int_equal(nsent, 1);
    vioapic_model_eoi(&io, 0x55); /* still asserted: sent again */
    assert_int_equal(nsent, 2);
    assert_int_equal(io.stats.eois, 1);
    level(&io, 9, false);
    vioapic_model_eoi(&io, 0x55); /* now low: remote IRR clears, nothing sent */
    assert_int_equal(nsent, 2);
    assert_int_equal(R(&io, IOAPIC_REG_REDTBL + 18) & IOAPIC_RTE_REMOTE_IRR, 0);
    vioapic_model_eoi(&io, 0x55); /* a stray EOI changes nothing */
    assert_int_equal(io.stats.eois, 2);
}

static void test_level_masked_then_unmasked(void **state)
{
    struct vioapic_model io;
    fresh(&io);
    rte(&io, 10, IOAPIC_RTE_MASKED | IOAPIC_RTE_TRIGGER_LEVEL | 0x60, 0);
    level(&io, 10, true);
    assert_int_equal(nsent, 0);
    rte(&io, 10, IOAPIC_RTE_TRIGGER_LEVEL | 0x60, 0); /* unmasked while asserted: sent */
    assert_int_equal(nsent, 1);
}

static void test_edge_toggle_clears_remote_irr(void **state)
{
    struct vioapic_model io;
    fresh(&io);
    rte(&io, 2, IOAPIC_RTE_TRIGGER_LEVEL | 0x70, 0);
    level(&io, 2, true);
    assert_true(io.rte[2] & IOAPIC_RTE_REMOTE_IRR);
    /* Linux's eoi_ioapic_pin on version 0x11: mask, edge, then level again. */
    rte(&io, 2, IOAPIC_RTE_MASKED | 0x70, 0);
    assert_false(io.rte[2] & IOAPIC_RTE_REMOTE_IRR);
    rte(&io, 2, IOAPIC_RTE_TRIGGER_LEVEL | 0x70, 0); /* still asserted: sent again */
    assert_int_equal(nsent, 2);
    assert_true(io.rte[2] & IOAPIC_RTE_REMOTE_IRR);
}

static void test_polarity(void **state)
{
    struct vioapic_model io;
    fresh(&io);
    /* Active low, level: asserted while the input is low. */
    rte(&io, 11, IOAPIC_RTE_POLARITY_LOW | IOAPIC_RTE_TRIGGER_LEVEL | 0x41, 0);
    assert_int_equal(nsent, 1); /* the input is low from reset: asserted */
    assert_true(vioapic_model_asserted(&io, 11));
    level(&io, 11, true);
    assert_false(vioapic_model_asserted(&io, 11));
    vioapic_model_eoi(&io, 0x41);
    assert_int_equal(nsent, 1);
    /* Active low, edge: the falling input is the edge. */
    rte(&io, 12, IOAPIC_RTE_POLARITY_LOW | 0x42, 0);
    level(&io, 12, true);
    assert_int_equal(nsent, 1);
    level(&io, 12, false);
    assert_int_equal(nsent, 2);
    assert_int_equal(sent[1].vector, 0x42);
}

static void test_destinations_and_modes(void **state)
{
    struct vioapic_model io;
    fresh(&io);
    rte(&io, 1, IOAPIC_RTE_DEST_LOGICAL | (IOAPIC_DELMOD_LOWEST << 8) | 0x33, 0x03);
    level(&io, 1, true);
    assert_int_equal(sent[0].mode, IOAPIC_DELMOD_LOWEST);
    assert_true(sent[0].logical);
    assert_int_equal(sent[0].dest, 0x03);
    /* NMI: vector ignored, edge whatever the trigger bit says. */
    rte(&io, 3, IOAPIC_RTE_TRIGGER_LEVEL | (IOAPIC_DELMOD_NMI << 8) | 0x12, 0xff);
    level(&io, 3, true);
    assert_int_equal(nsent, 2);
    assert_int_equal(sent[1].mode, IOAPIC_DELMOD_NMI);
    assert_int_equal(sent[1].vector, 0);
    assert_false(sent[1].level);
    assert_int_equal(sent[1].dest, 0xff);
    /* SMI, INIT, ExtINT, reserved modes and vectors below 16 are refused. */
    u32 modes[] = { IOAPIC_DELMOD_SMI, 3, IOAPIC_DELMOD_INIT, 6, IOAPIC_DELMOD_EXTINT };
    for (u32 i = 0; i < 5; i++) {
        rte(&io, 6, (modes[i] << 8) | 0x80, 0);
        level(&io, 6, true);
        level(&io, 6, false);
    }
    rte(&io, 6, 0x0f, 0);
    level(&io, 6, true);
    assert_int_equal(nsent, 2);
    assert_int_equal(io.stats.refused, 6);
}

static void test_undeliverable_level_keeps_irr_clear(void **state)
{
    struct vioapic_model io;
    fresh(&io);
    accept = false;
    rte(&io, 7, IOAPIC_RTE_TRIGGER_LEVEL | 0x50, 0x7f);
    level(&io, 7, true);
    assert_int_equal(nsent, 1);
    assert_int_equal(io.stats.undeliverable, 1);
    assert_false(io.rte[7] & IOAPIC_RTE_REMOTE_IRR);
    assert_int_equal(io.stats.delivered, 0);
}

static void test_malformed_accesses(void **state)
{
    struct vioapic_model io;
    fresh(&io);
    u32 v = 1;
    assert_int_equal(vioapic_model_read(&io, IOAPIC_IOWIN, 1, &v), -EINVAL);
    assert_int_equal(v, 0);
    assert_int_equal(vioapic_model_read(&io, IOAPIC_IOWIN, 8, &v), -EINVAL);
    assert_int_equal(vioapic_model_read(&io, 0x04, 4, &v), -EINVAL);
    assert_int_equal(vioapic_model_read(&io, 0x20, 4, &v), -EINVAL);
    assert_int_equal(vioapic_model_read(&io, 0xffc, 4, &v), -EINVAL);
    assert_int_equal(vioapic_model_write(&io, IOAPIC_IOREGSEL, 2, 0x10), -EINVAL);
    assert_int_equal(vioapic_model_write(&io, 0x14, 4, 0), -EINVAL);
    assert_int_equal(vioapic_model_write(&io, 0x40, 4, 0), -EINVAL); /* no EOI register before 0x20 */
    /* Registers that do not exist: 3-0xf and past the last entry. */
    assert_int_equal(vioapic_model_write(&io, IOAPIC_IOREGSEL, 4, 0x03), 0);
    assert_int_equal(vioapic_model_read(&io, IOAPIC_IOWIN, 4, &v), -EINVAL);
    assert_int_equal(vioapic_model_write(&io, IOAPIC_IOWIN, 4, 0), -EINVAL);
    assert_int_equal(vioapic_model_write(&io, IOAPIC_IOREGSEL, 4, IOAPIC_REG_REDTBL + 2 * VIOAPIC_PINS), 0);
    assert_int_equal(vioapic_model_read(&io, IOAPIC_IOWIN, 4, &v), -EINVAL);
    assert_int_equal(vioapic_model_write(&io, IOAPIC_IOWIN, 4, 0), -EINVAL);
    assert_int_equal(vioapic_model_write(&io, IOAPIC_IOREGSEL, 4, 0xffffffffu), 0); /* 8 bits kept */
    assert_int_equal(vioapic_model_read(&io, IOAPIC_IOREGSEL, 4, &v), 0);
    assert_int_equal(v, 0xff);
    assert_int_equal(vioapic_model_read(&io, IOAPIC_IOWIN, 4, &v), -EINVAL);
    assert_int_equal(io.stats.bad_accesses, 13);
    assert_int_equal(vioapic_model_set_level(&io, VIOAPIC_PINS, true), -EINVAL);
    assert_int_equal(vioapic_model_set_level(&io, 0xffffffffu, true), -EINVAL);
    assert_false(vioapic_model_asserted(&io, VIOAPIC_PINS));
    for (u32 pin = 0; pin < VIOAPIC_PINS; pin++) /* nothing changed */
        assert_int_equal(io.rte[pin], IOAPIC_RTE_MASKED);
    assert_int_equal(nsent, 0);
}

/* Random register traffic and line changes never send a message for a
 * masked pin, never leave remote IRR on an edge pin, and never touch memory
 * outside the model (ASan). */
static void test_random_traffic(void **state)
{
    struct vioapic_model io;
    fresh(&io);
    u64 x = 0x9e3779b97f4a7c15ull;
    for (u32 i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        u32 v = (u32)(x >> 32), off = (u32)x & 0xfff, size = 1u << ((x >> 12) & 3);
        u32 before = nsent;
        int rc = 0;
        switch ((x >> 20) & 7) {
        case 0: rc = vioapic_model_read(&io, off, size, &v); break;
        case 1: rc = vioapic_model_write(&io, IOAPIC_IOREGSEL, 4, v & 0x3f); break;
        case 2: rc = vioapic_model_write(&io, IOAPIC_IOWIN, 4, v); break;
        case 3: rc = vioapic_model_write(&io, off, size, v); break;
        case 4: vioapic_model_eoi(&io, (u8)v); break;
        default: rc = vioapic_model_set_level(&io, v % 26, x & 1); break;
        }
        assert_true(rc == 0 || rc == -EINVAL);
        for (u32 n = before; n < nsent && n < 64; n++)
            assert_true(sent[n].pin < VIOAPIC_PINS);
        if (nsent > 32)
            nsent = 0;
        for (u32 pin = 0; pin < VIOAPIC_PINS; pin++)
            if (!(io.rte[pin] & IOAPIC_RTE_TRIGGER_LEVEL))
                assert_false(io.rte[pin] & IOAPIC_RTE_REMOTE_IRR);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_and_ids),
        cmocka_unit_test(test_rte_read_only_bits),
        cmocka_unit_test(test_edge_pin),
        cmocka_unit_test(test_masked_edge_is_lost),
        cmocka_unit_test(test_level_remote_irr_and_eoi),
        cmocka_unit_test(test_level_masked_then_unmasked),
        cmocka_unit_test(test_edge_toggle_clears_remote_irr),
        cmocka_unit_test(test_polarity),
        cmocka_unit_test(test_destinations_and_modes),
        cmocka_unit_test(test_undeliverable_level_keeps_irr_clear),
        cmocka_unit_test(test_malformed_accesses),
        cmocka_unit_test(test_random_traffic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
