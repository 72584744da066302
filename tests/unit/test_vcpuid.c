/* The guest's CPUID view: every filtering rule of vmm/vcpuid.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/vcpuid.h"
#include "vmm/hypercall_abi.h"
#include "arch/x86/hw/cpuid.h"

/* Leaf 1 ECX bits the filter clears. */
#define HIDDEN_1_ECX                                                                                                   \
    (CPUID_1_ECX_VMX | CPUID_1_ECX_SMX | CPUID_1_ECX_MONITOR | CPUID_1_ECX_DTES64 | CPUID_1_ECX_DS_CPL |               \
     CPUID_1_ECX_EST | CPUID_1_ECX_TM2 | CPUID_1_ECX_XTPR | CPUID_1_ECX_PDCM)
/* Leaf 1 EDX bits the filter clears: the host's thermal, debug-store and
 * machine-check MSRs. */
#define HIDDEN_1_EDX                                                                                                   \
    (CPUID_1_EDX_DS | CPUID_1_EDX_ACPI | CPUID_1_EDX_TM | CPUID_1_EDX_PBE | CPUID_1_EDX_MCE | CPUID_1_EDX_MCA)

static const struct vcpuid_host all_ones = { 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu };
static const struct vcpuid_host all_zero = { 0, 0, 0, 0 };

static struct vcpuid_ctx ctx4(u32 apic_id)
{
    return (struct vcpuid_ctx){
        .apic_id = apic_id, .vcpus = 4, .tsc_khz = 2400000, .apic_timer_khz = 100000, .vendor = VCPUID_VENDOR_INTEL
    };
}

static void test_leaf1(void **state)
{
    struct vcpuid_ctx c = ctx4(3);
    u32 o[4];
    vcpuid_filter(CPUID_LEAF_FEATURES, 0, &all_ones, &c, o);
    assert_int_equal(o[VCPUID_EAX], 0xffffffffu); /* signature passes */
    assert_int_equal(o[VCPUID_ECX] & HIDDEN_1_ECX, 0);
    assert_true(o[VCPUID_ECX] & CPUID_1_ECX_HYPERVISOR);
    assert_true(o[VCPUID_ECX] & CPUID_1_ECX_OSXSAVE); /* OSXSAVE passes */
    assert_int_equal(o[VCPUID_ECX], 0xffffffffu & ~(u32)HIDDEN_1_ECX);
    assert_int_equal(o[VCPUID_EBX] >> 24, 3);
    assert_int_equal((o[VCPUID_EBX] >> 16) & 0xff, 4);
    assert_int_equal(o[VCPUID_EBX] & 0xffff, 0xffff); /* brand, CLFLUSH pass */
    assert_int_equal(o[VCPUID_EDX], 0xffffffffu & ~(u32)HIDDEN_1_EDX);
    vcpuid_filter(CPUID_LEAF_FEATURES, 0, &all_zero, &c, o);
    /* OSXSAVE off stays off; TSC-deadline and x2APIC are the vlapic's,
     * offered anyway. */
    assert_int_equal(o[VCPUID_ECX], CPUID_1_ECX_HYPERVISOR | CPUID_1_ECX_TSC_DEADLINE | CPUID_1_ECX_X2APIC);
    assert_int_equal(o[VCPUID_EDX], CPUID_1_EDX_APIC | CPUID_1_EDX_HTT); /* HTT for 4 */
    assert_int_equal(o[VCPUID_EBX], (3u << 24) | (4u << 16));
    /* One vCPU: HTT clear. A huge count saturates EBX[23:16]. */
    c.vcpus = 1;
    vcpuid_filter(CPUID_LEAF_FEATURES, 0, &all_ones, &c, o);
    assert_int_equal(o[VCPUID_EDX] & CPUID_1_EDX_HTT, 0);
    assert_int_equal((o[VCPUID_EBX] >> 16) & 0xff, 1);
    c.vcpus = 1000;
    c.apic_id = 0x1ff;
    vcpuid_filter(1, 0, &all_zero, &c, o);
    assert_int_equal((o[VCPUID_EBX] >> 16) & 0xff, 0xff);
    assert_int_equal(o[VCPUID_EBX] >> 24, 0xff);
    c.vcpus = 0; /* taken as 1 */
    vcpuid_filter(1, 0, &all_zero, &c, o);
    assert_int_equal((o[VCPUID_EBX] >> 16) & 0xff, 1);
}

static void test_ext_leaves(void **state)
{
    struct vcpuid_ctx c = ctx4(0);
    c.vendor = VCPUID_VENDOR_AMD;
    u32 o[4];
    vcpuid_filter(CPUID_LEAF_EXT_AMD, 0, &all_ones, &c, o);
    assert_int_equal(o[VCPUID_ECX], ~(u32)CPUID_80000001_ECX_SVM);
    /* TSC_AUX is not switched; the machine-check MSRs are the host's. */
    assert_int_equal(o[VCPUID_EDX],
                     ~(u32)(CPUID_80000001_EDX_RDTSCP | CPUID_80000001_EDX_MCE | CPUID_80000001_EDX_MCA));
    assert_int_equal(o[VCPUID_EAX] & o[VCPUID_EBX], 0xffffffffu);
    vcpuid_filter(CPUID_LEAF_SVM, 0, &all_ones, &c, o);
    assert_int_equal(o[0] | o[1] | o[2] | o[3], 0);
    /* Invariant TSC, whatever the host says, and nothing else of its power management. */
    vcpuid_filter(CPUID_LEAF_EXT_POWER, 0, &all_ones, &c, o);
    assert_int_equal(o[0] | o[1] | o[2], 0);
    assert_int_equal(o[VCPUID_EDX], CPUID_80000007_EDX_INVARIANT_TSC);
    vcpuid_filter(CPUID_LEAF_EXT_POWER, 0, &all_zero, &c, o);
    assert_int_equal(o[VCPUID_EDX], CPUID_80000007_EDX_INVARIANT_TSC);
}

/* What Linux's timekeeping reads: ARAT alone in leaf 6; no TSC_ADJUST, RDPID,
 * LA57 or WAITPKG (TPAUSE delays) in leaf 7 with or without shadow paging. */
static void test_time_leaves(void **state)
{
    struct vcpuid_ctx c = ctx4(0);
    u32 o[4];
    vcpuid_filter(CPUID_LEAF_THERMAL, 0, &all_ones, &c, o);
    assert_int_equal(o[VCPUID_EAX], CPUID_6_EAX_ARAT);
    assert_int_equal(o[VCPUID_EBX] | o[VCPUID_ECX] | o[VCPUID_EDX], 0);
    vcpuid_filter(CPUID_LEAF_EXT_FEATURES, 0, &all_ones, &c, o);
    assert_int_equal(o[VCPUID_EBX], ~(u32)CPUID_7_EBX_TSC_ADJUST);
    assert_int_equal(o[VCPUID_ECX], ~(u32)(CPUID_7_ECX_RDPID | CPUID_7_ECX_LA57 | CPUID_7_ECX_WAITPKG));
    vcpuid_filter(CPUID_LEAF_EXT_FEATURES, 1, &all_ones, &c, o); /* other subleaves pass */
    assert_int_equal(o[VCPUID_EBX] & o[VCPUID_ECX], 0xffffffffu);
}

static void test_zeroed_leaves(void **state)
{
    struct vcpuid_ctx c = ctx4(0);
    u32 o[4];
    static const u32 zero[] = { 0xa, 0x40000001u, 0x40000005u, 0x4000000fu, 0x40000011u, 0x40000100u, 0x4fffffffu };
    for (size_t i = 0; i < ARRAY_SIZE(zero); i++) {
        vcpuid_filter(zero[i], 0, &all_ones, &c, o);
        assert_int_equal(o[0] | o[1] | o[2] | o[3], 0);
    }
}

static void test_hypervisor_leaves(void **state)
{
    struct vcpuid_ctx c = ctx4(1);
    u32 o[4];
    vcpuid_filter(0x40000000u, 0, &all_ones, &c, o);
    assert_int_equal(o[VCPUID_EAX], 0x40000010u);
    char sig[13];
    memcpy(sig, &o[VCPUID_EBX], 4);
    memcpy(sig + 4, &o[VCPUID_ECX], 4);
    memcpy(sig + 8, &o[VCPUID_EDX], 4);
    sig[12] = 0;
    assert_string_equal(sig, "IsthmusIsthm");
    vcpuid_filter(0x40000010u, 0, &all_ones, &c, o);
    assert_int_equal(o[VCPUID_EAX], 2400000);
    assert_int_equal(o[VCPUID_EBX], 100000);
    assert_int_equal(o[VCPUID_ECX] | o[VCPUID_EDX], 0);
}

static void test_topology(void **state)
{
    static const u32 leaves[] = { 0xb, 0x1f };
    for (size_t l = 0; l < ARRAY_SIZE(leaves); l++) {
        struct vcpuid_ctx c = ctx4(2);
        u32 o[4];
        vcpuid_filter(leaves[l], 0, &all_ones, &c, o);
        assert_int_equal(o[VCPUID_EAX], 0);
        assert_int_equal(o[VCPUID_EBX], 1);
        assert_int_equal(o[VCPUID_ECX], 0x100);
        assert_int_equal(o[VCPUID_EDX], 2);
        vcpuid_filter(leaves[l], 1, &all_ones, &c, o);
        assert_int_equal(o[VCPUID_EAX], 2); /* IDs 0-3: 2 bits */
        assert_int_equal(o[VCPUID_EBX], 4);
        assert_int_equal(o[VCPUID_ECX], 0x201);
        assert_int_equal(o[VCPUID_EDX], 2);
        for (u32 sub = 2; sub < 300; sub += 37) {
            vcpuid_filter(leaves[l], sub, &all_ones, &c, o);
            assert_int_equal(o[VCPUID_EAX] | o[VCPUID_EBX], 0);
            assert_int_equal(o[VCPUID_ECX], sub & 0xff);
            assert_int_equal(o[VCPUID_EDX], 2);
        }
        /* Sparse APIC IDs: the shift covers the highest. */
        c.vcpus = 2;
        c.apic_id = 6;
        c.max_apic_id = 6;
        vcpuid_filter(leaves[l], 1, &all_zero, &c, o);
        assert_int_equal(o[VCPUID_EAX], 3);
        assert_int_equal(o[VCPUID_EDX], 6);
        /* One vCPU, ID 0: no bits. */
        c.vcpus = 1;
        c.apic_id = 0;
        c.max_apic_id = 0;
        vcpuid_filter(leaves[l], 1, &all_zero, &c, o);
        assert_int_equal(o[VCPUID_EAX], 0);
        assert_int_equal(o[VCPUID_EBX], 1);
        /* An x2APIC ID beyond 8 bits is reported whole. */
        c.apic_id = 0x12345;
        vcpuid_filter(leaves[l], 1, &all_zero, &c, o);
        assert_int_equal(o[VCPUID_EDX], 0x12345);
        assert_int_equal(o[VCPUID_EAX], 17);
    }
}

/* INVPCID is hidden where it would be #UD (VT-x without its control) or under
 * shadow paging; XSAVES and the IA32_XSS components always. */
static void test_instruction_leaves(void **state)
{
    struct vcpuid_ctx c = ctx4(0);
    u32 o[4];
    vcpuid_filter(CPUID_LEAF_EXT_FEATURES, 0, &all_ones, &c, o);
    assert_true(o[VCPUID_EBX] & CPUID_7_EBX_INVPCID);
    c.invpcid_ud = true;
    vcpuid_filter(CPUID_LEAF_EXT_FEATURES, 0, &all_ones, &c, o);
    assert_int_equal(o[VCPUID_EBX], ~(u32)(CPUID_7_EBX_TSC_ADJUST | CPUID_7_EBX_INVPCID));
    assert_true(o[VCPUID_ECX] & CPUID_7_ECX_PKU);
    c = ctx4(0);
    c.shadow = true;
    vcpuid_filter(CPUID_LEAF_EXT_FEATURES, 0, &all_ones, &c, o);
    assert_false(o[VCPUID_EBX] & CPUID_7_EBX_INVPCID);
    c = ctx4(0);
    vcpuid_filter(CPUID_LEAF_XSAVE, 1, &all_ones, &c, o);
    assert_int_equal(o[VCPUID_EAX], ~(u32)CPUID_D_1_EAX_XSAVES);
    assert_int_equal(o[VCPUID_EBX], 0xffffffffu);
    assert_int_equal(o[VCPUID_ECX] | o[VCPUID_EDX], 0);
    for (u32 sub = 0; sub < 64; sub += sub == 0 ? 2 : 1) { /* the components' own subleaves pass */
        vcpuid_filter(CPUID_LEAF_XSAVE, sub, &all_ones, &c, o);
        assert_int_equal(o[0] & o[1] & o[2] & o[3], 0xffffffffu);
    }
}

static void test_passthrough(void **state)
{
    struct vcpuid_ctx c = ctx4(0);
    const struct vcpuid_host h = { 0x11111111u, 0x22222222u, 0x33333333u, 0x44444444u };
    static const u32 leaves[] = { 0, 2, 4, 7, 0x80000000u, 0x80000008u, 0x3fffffffu, 0x50000000u, 0xffffffffu };
    for (size_t i = 0; i < ARRAY_SIZE(leaves); i++) {
        u32 o[4];
        vcpuid_filter(leaves[i], 1, &h, &c, o);
        assert_int_equal(o[0], h.eax);
        assert_int_equal(o[1], h.ebx);
        assert_int_equal(o[2], h.ecx);
        assert_int_equal(o[3], h.edx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaf1),
        cmocka_unit_test(test_ext_leaves),
        cmocka_unit_test(test_time_leaves),
        cmocka_unit_test(test_zeroed_leaves),
        cmocka_unit_test(test_hypervisor_leaves),
        cmocka_unit_test(test_topology),
        cmocka_unit_test(test_instruction_leaves),
        cmocka_unit_test(test_passthrough),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
