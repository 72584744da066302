/* The KVM paravirtual clock (vmm/dev/pvclock.c): the CPUID leaves, mul/shift
 * for TSC frequencies from 1 MHz to 1 THz checked against exact nanoseconds,
 * the frequency a guest computes back (Linux pvclock_tsc_khz), the pages'
 * layout, and the checks of guest-physical addresses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/dev/pvclock.h"
#include "kernel/lib/errno.h"

/* Linux's pvclock_tsc_khz(): the frequency from mul and shift. */
static u64 guest_khz(u32 mul, s8 shift)
{
    u64 khz = (1000000ULL << 32) / mul;
    return shift < 0 ? khz << -shift : khz >> shift;
}

static void test_cpuid_leaves(void **state)
{
    (void)state;
    u32 o[4];
    kvm_cpuid_leaf(KVM_CPUID_BASE, o);
    char sig[13] = { 0 };
    memcpy(sig, &o[1], 4);
    memcpy(sig + 4, &o[2], 4);
    memcpy(sig + 8, &o[3], 4);
    assert_memory_equal(sig, "KVMKVMKVM\0\0\0", 12);
    assert_int_equal(o[0], KVM_CPUID_BASE + 1);
    kvm_cpuid_leaf(KVM_CPUID_BASE + 1, o);
    /* Exactly what is implemented: CLOCKSOURCE2, the stable bit, no I/O
     * delay, PV EOI. */
    assert_int_equal(o[0], (1u << 1) | (1u << 3) | (1u << 6) | (1u << 24));
    assert_int_equal(o[1] | o[2] | o[3], 0);    /* no hints */
    assert_int_equal(KVM_CPUID_BASE & 0xff, 0); /* guests scan in steps of 0x100 */
    assert_true(KVM_CPUID_BASE > 0x40000000u);  /* Isthmus' own leaves stay at the first */
}

static void test_layout(void **state)
{
    (void)state;
    assert_int_equal(sizeof(struct pvclock_vcpu_time_info), 32);
    assert_int_equal(offsetof(struct pvclock_vcpu_time_info, system_time), 16);
    assert_int_equal(offsetof(struct pvclock_vcpu_time_info, tsc_shift), 28);
    assert_int_equal(sizeof(struct pvclock_wall_clock), 12);
    struct pvclock_vcpu_time_info t;
    memset(&t, 0xaa, sizeof(t));
    pvclock_fill(&t, 4, 123456789, 0x80000000u, -1);
    assert_int_equal(t.version, 4);
    assert_int_equal(t.pad0, 0);
    assert_int_equal(t.tsc_timestamp, 123456789);
    assert_int_equal(t.system_time, 0);
    assert_int_equal(t.tsc_to_system_mul, 0x80000000u);
    assert_int_equal(t.tsc_shift, -1);
    assert_int_equal(t.flags, PVCLOCK_TSC_STABLE_BIT);
    assert_int_equal(t.pad[0] | t.pad[1], 0);
    struct pvclock_wall_clock w;
    pvclock_fill_wall(&w, 2, 1796625029ULL * 1000000000ULL + 571000123ULL);
    assert_int_equal(w.version, 2);
    assert_int_equal(w.sec, 1796625029u);
    assert_int_equal(w.nsec, 571000123u);
}

static void check_khz(u64 khz)
{
    u32 mul;
    s8 shift;
    assert_int_equal(pvclock_scale(khz, &mul, &shift), 0);
    assert_true(mul >= 0x80000000u); /* full precision */
    /* The guest's formula shifts a whole number, so it loses the low bits
     * of a frequency above 1 GHz: within 2^-shift kHz, never above. */
    u64 g = guest_khz(mul, shift), slack = shift < 0 ? 1ULL << -shift : 1;
    assert_true(g <= khz && khz - g < slack);
    /* One hour, one day and a year of ticks, and a few odd counts: the
     * guest's nanoseconds within 1 ppm + 1 ns of the exact ones. */
    const u64 secs[] = { 0, 1, 3600, 86400, 365ULL * 86400 };
    for (u32 i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
        u64 ticks = secs[i] * khz * 1000 + 12345;
        unsigned __int128 exact = (unsigned __int128)ticks * 1000000 / khz;
        u64 ns = pvclock_ticks_to_ns(ticks, mul, shift);
        u64 diff = ns > exact ? ns - (u64)exact : (u64)exact - ns;
        assert_true(diff <= (u64)(exact / 1000000) + 1);
        assert_true(ns <= (u64)exact); /* mul rounds down: never ahead */
    }
}

static void test_scale_frequencies(void **state)
{
    (void)state;
    const u64 khz[] = { 1000, 999999, 1000000, 1000001, 2445410, 3000000, 3600000, 5000000, 16777216, 1ULL << 30 };
    for (u32 i = 0; i < sizeof(khz) / sizeof(khz[0]); i++)
        check_khz(khz[i]);
    for (u64 k = 1000; k < (1ULL << 30); k = k * 3 + 7)
        check_khz(k);
    u32 mul;
    s8 shift;
    assert_int_equal(pvclock_scale(0, &mul, &shift), -EINVAL);
    assert_int_equal(pvclock_scale((1ULL << 30) + 1, &mul, &shift), -EINVAL);
    /* A 1 GHz TSC counts nanoseconds: shift 1, mul 1/2. */
    assert_int_equal(pvclock_scale(1000000, &mul, &shift), 0);
    assert_int_equal(shift, 1);
    assert_int_equal(mul, 0x80000000u);
    assert_int_equal(pvclock_ticks_to_ns(1000000000ULL, mul, shift), 1000000000ULL);
}

static void test_gpa_checks(void **state)
{
    (void)state;
    const struct hc_mem_range ram[2] = { { 0, 0xa0000 }, { 0xe0000, 0x10000000 } };
    const u32 len = sizeof(struct pvclock_vcpu_time_info);
    assert_int_equal(pvclock_gpa_check(ram, 2, 0x1000, len), 0);
    assert_int_equal(pvclock_gpa_check(ram, 2, 0x1fe0, len), 0);           /* ends at the page end */
    assert_int_equal(pvclock_gpa_check(ram, 2, 0x1ff0, len), -EINVAL);     /* straddles */
    assert_int_equal(pvclock_gpa_check(ram, 2, 0x1002, len), -EINVAL);     /* misaligned */
    assert_int_equal(pvclock_gpa_check(ram, 2, 0x1004, 12), 0);            /* 4-byte aligned is enough */
    assert_int_equal(pvclock_gpa_check(ram, 2, 0xb0000, len), -EFAULT);    /* the ROM hole */
    assert_int_equal(pvclock_gpa_check(ram, 2, 0x9ffe0, len), 0);          /* last bytes of low RAM */
    assert_int_equal(pvclock_gpa_check(ram, 2, 0x10000000, len), -EFAULT); /* past the end */
    assert_int_equal(pvclock_gpa_check(ram, 2, 0xfffffffffffff000ULL, len), -EFAULT);
    assert_int_equal(pvclock_gpa_check(ram, 2, 0xfee00000, len), -EFAULT); /* the APIC page */
    assert_int_equal(pvclock_gpa_check(ram, 2, 0x1000, 0), -EINVAL);
    assert_int_equal(pvclock_gpa_check(ram, 0, 0x1000, len), -EFAULT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpuid_leaves),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_scale_frequencies),
        cmocka_unit_test(test_gpa_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
