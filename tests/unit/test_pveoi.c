/* KVM's paravirtual EOI (vmm/pveoi.c): the MSR's checks, when the flag is
 * set and taken back, and that a guest clearing it retires exactly the one
 * vector in service, against the vlapic (vmm/vlapic.c) and guest memory in a
 * heap block (vmm/gmem.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/pveoi.h"
#include "arch/x86/hw/msr.h"
#include "kernel/lib/errno.h"

#define RAM   0x4000u
#define FLAG  0x1f00u /* the guest's flag */
#define TSC   1000000u
#define TIMER 0xecu
#define NIC   0x41u

static u8 mem[RAM];
static const struct hc_mem_range ram[] = { { 0, 0x2000 }, { 0x3000, RAM } }; /* a hole at 0x2000 */

struct fixture {
    struct gmem m;
    struct vlapic a;
    struct pveoi s;
};

static u32 flag(void)
{
    u32 w;
    memcpy(&w, mem + FLAG, 4);
    return w;
}

static void set_flag(u32 w) { memcpy(mem + FLAG, &w, 4); }

static void setup(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    memset(mem, 0, sizeof(mem));
    assert_int_equal(gmem_add(&f->m, 0x100000, mem, sizeof(mem), 0), 0);
    vlapic_init(&f->a, 0, TSC, TSC);
    assert_int_equal(vlapic_write(&f->a, VLAPIC_SVR, VLAPIC_SVR_ENABLE | 0xff, 0), 0);
    assert_int_equal(pveoi_write_msr(&f->s, &f->a, &f->m, ram, 2, FLAG | KVM_PV_EOI_ENABLE), 0);
}

/* What the vCPU loop does to inject: the vector moves from IRR to ISR. */
static void inject(struct fixture *f, u8 v)
{
    vlapic_set_irq(&f->a, v);
    assert_int_equal(vlapic_pending(&f->a), v);
    vlapic_accept(&f->a, v);
}

static bool in_service(struct vlapic *a, u8 v) { return a->isr[v / 32] & (1u << (v % 32)); }

static void test_msr_checks(void **state)
{
    (void)state;
    assert_int_equal(pveoi_msr_check(ram, 2, 0), 0);
    assert_int_equal(pveoi_msr_check(ram, 2, 0x1234560), 0); /* off: the address does not matter */
    assert_int_equal(pveoi_msr_check(ram, 2, FLAG | 1), 0);
    assert_int_equal(pveoi_msr_check(ram, 2, 0x3ffc | 1), 0);     /* the last 4 bytes of RAM */
    assert_int_equal(pveoi_msr_check(ram, 2, FLAG | 2), -EINVAL); /* reserved bit 1 */
    assert_int_equal(pveoi_msr_check(ram, 2, FLAG | 3), -EINVAL);
    assert_int_equal(pveoi_msr_check(ram, 2, 0x2000 | 1), -EFAULT); /* in the hole */
    assert_int_equal(pveoi_msr_check(ram, 2, 0x1ffc | 1), 0);       /* just below it */
    assert_int_equal(pveoi_msr_check(ram, 2, RAM | 1), -EFAULT);    /* past the end */
    assert_int_equal(pveoi_msr_check(ram, 2, 0xfffffffffffffffdULL), -EFAULT);
    assert_int_equal(pveoi_msr_check(ram, 2, (1ULL << 63) | FLAG | 1), -EFAULT);
    assert_int_equal(pveoi_msr_check(ram, 0, FLAG | 1), -EFAULT); /* no RAM at all */

    struct fixture f;
    setup(&f);
    u64 before = f.s.msr;
    assert_int_equal(pveoi_write_msr(&f.s, &f.a, &f.m, ram, 2, 0x2000 | 1), -EFAULT);
    assert_int_equal(pveoi_write_msr(&f.s, &f.a, &f.m, ram, 2, FLAG | 2), -EINVAL);
    assert_int_equal(f.s.msr, before); /* refused writes change nothing */
    assert_int_equal(f.s.refused, 2);
}

static void test_eoi_by_flag(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    inject(&f, TIMER);
    assert_true(vlapic_pv_eoi_ok(&f.a));
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    assert_int_equal(flag(), KVM_PV_EOI_FLAG);
    /* An exit before the guest's handler ran: nothing happens. */
    assert_int_equal(pveoi_sync(&f.s, &f.a, &f.m), 0);
    assert_true(in_service(&f.a, TIMER));
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    assert_int_equal(flag(), KVM_PV_EOI_FLAG);
    /* The guest's EOI: a test-and-clear of bit 0. The next exit applies it. */
    set_flag(0);
    assert_int_equal(pveoi_sync(&f.s, &f.a, &f.m), 0);
    assert_false(in_service(&f.a, TIMER));
    assert_int_equal(f.s.eois, 1);
    assert_int_equal(f.a.stats.eois, 1);
    assert_false(f.s.armed);
    /* Nothing in service: the flag stays clear. */
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    assert_int_equal(flag(), 0);
}

static void test_not_with_another_waiting(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    inject(&f, NIC);
    vlapic_set_irq(&f.a, TIMER - 0x80); /* lower class than NIC's: waits for its EOI */
    assert_false(vlapic_pv_eoi_ok(&f.a));
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    assert_int_equal(flag(), 0); /* its EOI must exit, to deliver the other */
}

static void test_taken_back_when_another_is_injected(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    inject(&f, NIC);
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    assert_int_equal(flag(), KVM_PV_EOI_FLAG);
    /* An exit; a higher vector arrives and is injected over the first. */
    assert_int_equal(pveoi_sync(&f.s, &f.a, &f.m), 0);
    inject(&f, TIMER);
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    assert_int_equal(flag(), 0); /* both EOIs now exit */
    assert_false(f.s.armed);
    assert_int_equal(vlapic_write(&f.a, VLAPIC_EOI, 0, 0), 0);
    assert_false(in_service(&f.a, TIMER));
    assert_true(in_service(&f.a, NIC));
    /* One left in service, nothing waiting: the flag again, for NIC. */
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    assert_int_equal(flag(), KVM_PV_EOI_FLAG);
    set_flag(0);
    assert_int_equal(pveoi_sync(&f.s, &f.a, &f.m), 0);
    assert_false(in_service(&f.a, NIC));
}

static void test_guest_cleared_before_take_back(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    inject(&f, NIC);
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    set_flag(0);
    vlapic_set_irq(&f.a, TIMER);
    /* Without a sync in between (the loop always syncs, but arm must not
     * lose the EOI either): arm settles first. */
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    assert_false(in_service(&f.a, NIC));
    assert_int_equal(f.s.eois, 1);
    assert_int_equal(flag(), 0);
}

static void test_level_triggered_exits(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    vlapic_set_irq_trig(&f.a, 0x30, true);
    vlapic_accept(&f.a, 0x30);
    assert_false(vlapic_pv_eoi_ok(&f.a));
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    assert_int_equal(flag(), 0);
}

static void test_other_bits_are_the_guests(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    set_flag(0xabcd0000u);
    inject(&f, TIMER);
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    assert_int_equal(flag(), 0xabcd0001u);
    set_flag(0xabcd0000u);
    assert_int_equal(pveoi_sync(&f.s, &f.a, &f.m), 0);
    assert_int_equal(flag(), 0xabcd0000u);
}

static void test_disable_and_move(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    inject(&f, TIMER);
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    /* Off while armed and not cleared: the bit is taken back, the vector
     * stays in service until a real EOI. */
    assert_int_equal(pveoi_write_msr(&f.s, &f.a, &f.m, ram, 2, 0), 0);
    assert_int_equal(flag(), 0);
    assert_true(in_service(&f.a, TIMER));
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    assert_int_equal(flag(), 0);
    /* On at another address while the guest had cleared the old one. */
    assert_int_equal(pveoi_write_msr(&f.s, &f.a, &f.m, ram, 2, FLAG | KVM_PV_EOI_ENABLE), 0);
    assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
    set_flag(0);
    assert_int_equal(pveoi_write_msr(&f.s, &f.a, &f.m, ram, 2, 0x3000 | KVM_PV_EOI_ENABLE), 0);
    assert_false(in_service(&f.a, TIMER));
    pveoi_reset(&f.s);
    assert_int_equal(f.s.msr, 0);
}

/* Random injections, guest EOIs (by flag when it is set, else by the
 * register) and exits: the ISR always empties as the guest's EOIs say. */
static void test_random_against_count(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    srand(7);
    u32 in_guest = 0; /* vectors the guest has in service, by its own count */
    for (int i = 0; i < 20000; i++) {
        int r = rand() % 4;
        assert_int_equal(pveoi_sync(&f.s, &f.a, &f.m), 0); /* an exit */
        if (r == 0) {
            vlapic_set_irq(&f.a, (u8)(0x20 + rand() % 0xd0));
        } else if (r == 1 && in_guest) {
            /* The guest's EOI: the flag's bit if set, else the register. */
            u32 w = flag();
            if (w & 1)
                set_flag(w & ~1u);
            else
                assert_int_equal(vlapic_write(&f.a, VLAPIC_EOI, 0, 0), 0);
            in_guest--;
            assert_int_equal(pveoi_sync(&f.s, &f.a, &f.m), 0);
        }
        int v = vlapic_pending(&f.a);
        if (v >= 0) {
            vlapic_accept(&f.a, (u8)v);
            in_guest++;
        }
        assert_int_equal(pveoi_arm(&f.s, &f.a, &f.m), 0);
        u32 isr = 0;
        for (int w = 0; w < 8; w++)
            for (u32 b = f.a.isr[w]; b; b &= b - 1)
                isr++;
        /* A vector re-requested while in service is one ISR bit for two
         * guest handlers, so the ISR never holds more than the guest. */
        assert_true(isr <= in_guest);
        assert_true((flag() & 1) == f.s.armed);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msr_checks),
        cmocka_unit_test(test_eoi_by_flag),
        cmocka_unit_test(test_not_with_another_waiting),
        cmocka_unit_test(test_taken_back_when_another_is_injected),
        cmocka_unit_test(test_guest_cleared_before_take_back),
        cmocka_unit_test(test_level_triggered_exits),
        cmocka_unit_test(test_other_bits_are_the_guests),
        cmocka_unit_test(test_disable_and_move),
        cmocka_unit_test(test_random_against_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
