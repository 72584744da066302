/* VT-d's structures as the driver (drivers/vtd.c) writes them, checked bit by
 * bit against the specification's layouts (VT-d 4.1: context entry 9.3,
 * interrupt remapping entry 9.10, remappable MSI address 5.1.5.2,
 * invalidation wait descriptor 6.5.2.8, fault record 11.4.14). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "arch/x86/hw/vtd.h"
#include "arch/x86/hw/msi.h"

static void test_context_entry(void **state)
{
    (void)state;
    u64 lo = vtd_ctx_lo(0x12345000);
    assert_int_equal(lo & 1, 1);                  /* present */
    assert_int_equal((lo >> 1) & 1, 0);           /* faults reported */
    assert_int_equal((lo >> 2) & 3, 0);           /* translation type 00 */
    assert_int_equal(lo & ~0xfffULL, 0x12345000); /* the table */
    u64 hi = vtd_ctx_hi(false, 3);
    assert_int_equal(hi & 7, 1);             /* AW 001: 39 bits, 3 levels */
    assert_int_equal((hi >> 8) & 0xffff, 3); /* domain id bits 87:72 of the entry */
    assert_int_equal(vtd_ctx_hi(true, 0xffff) & 7, 2);
    assert_int_equal((vtd_ctx_hi(true, 0xffff) >> 8) & 0xffff, 0xffff);
}

static void test_irte(void **state)
{
    (void)state;
    u64 lo = vtd_irte_lo(0x41, 0x02);
    assert_int_equal(lo & 1, 1);         /* present */
    assert_int_equal((lo >> 1) & 1, 0);  /* FPD clear: faults recorded */
    assert_int_equal((lo >> 2) & 1, 0);  /* physical destination */
    assert_int_equal((lo >> 4) & 1, 0);  /* edge */
    assert_int_equal((lo >> 5) & 7, 0);  /* fixed */
    assert_int_equal((lo >> 15) & 1, 0); /* IM: remapped, not posted */
    assert_int_equal((lo >> 16) & 0xff, 0x41);
    assert_int_equal((lo >> 40) & 0xff, 0x02); /* xAPIC destination, bits 47:40 */
    u64 hi = vtd_irte_hi(0x0128);              /* 01:05.0 */
    assert_int_equal(hi & 0xffff, 0x0128);     /* SID */
    assert_int_equal((hi >> 16) & 3, 0);       /* SQ 00: all 16 bits compared */
    assert_int_equal((hi >> 18) & 3, 1);       /* SVT 01: verify the requester */
}

static void test_remappable_msi(void **state)
{
    (void)state;
    u64 a = MSI_ADDR_BASE | VTD_MSI_ADDR_IF | VTD_MSI_ADDR_HANDLE(5);
    assert_int_equal(a >> 20, 0xfee);
    assert_int_equal((a >> 4) & 1, 1); /* interrupt format: remappable */
    assert_int_equal((a >> 3) & 1, 0); /* SHV clear */
    assert_int_equal((a >> 5) & 0x7fff, 5);
    assert_int_equal((a >> 2) & 1, 0);
    a = VTD_MSI_ADDR_HANDLE(0x8001);
    assert_int_equal((a >> 5) & 0x7fff, 1);
    assert_int_equal((a >> 2) & 1, 1); /* handle bit 15 */
}

static void test_wait_descriptor(void **state)
{
    (void)state;
    u64 lo = vtd_wait_desc_lo(0xabcd1234);
    assert_int_equal(lo & 0xf, 5);          /* type: invalidation wait */
    assert_int_equal((lo >> 5) & 1, 1);     /* status write */
    assert_int_equal((lo >> 4) & 1, 0);     /* no interrupt */
    assert_int_equal(lo >> 32, 0xabcd1234); /* status data */
}

static void test_fault_record(void **state)
{
    (void)state;
    /* F, a read (T set), reason 6, source 00:05.0, page 0x40000000. */
    u64 hi = VTD_FRCD_HI_F | VTD_FRCD_HI_T | 6ULL << 32 | 0x0028;
    u64 lo = 0x40000000ULL | 0x123;
    assert_int_equal(VTD_FRCD_HI_FR(hi), VTD_FR_READ);
    assert_int_equal(VTD_FRCD_HI_SID(hi), 0x28);
    assert_int_equal(VTD_FRCD_LO_FI(lo), 0x40000000);
    /* An interrupt fault: the index in bits 63:48 of the low half. */
    assert_int_equal(VTD_FRCD_LO_IR_INDEX(0x0007000000000000ULL), 7);
}

static void test_cap_fields(void **state)
{
    (void)state;
    /* QEMU 7.2's CAP with aw-bits=39: FRO 0x220, one record, SAGAW 39, MGAW 39. */
    u64 cap = (0x22ULL << 24) | (0ULL << 40) | VTD_CAP_SAGAW_39 | (38ULL << 16) | VTD_CAP_SLLPS_2M | VTD_CAP_SLLPS_1G;
    assert_int_equal(VTD_CAP_FRO(cap), 0x220);
    assert_int_equal(VTD_CAP_NFR(cap), 1);
    assert_int_equal(VTD_CAP_MGAW(cap), 39);
    assert_int_equal(VTD_ECAP_IRO(0xf0ULL << 8), 0xf00);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_context_entry),  cmocka_unit_test(test_irte),
        cmocka_unit_test(test_remappable_msi), cmocka_unit_test(test_wait_descriptor),
        cmocka_unit_test(test_fault_record),   cmocka_unit_test(test_cap_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
