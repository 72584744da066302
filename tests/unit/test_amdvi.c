/* arch/x86/hw/amdvi.h: the AMD-Vi device table entries, interrupt table
 * entries, commands and event log entries drivers/amdvi.c builds and reads,
 * against the layouts of the AMD IOMMU specification (48882 rev 3.x, 2.2.2,
 * 2.2.5, 2.4, 2.5). The whole
 * quadwords compared here are also the ones QEMU 7.2's amd-iommu model was
 * seen to execute (a DTE it translated through, the commands it completed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/hw/amdvi.h"
#include "arch/x86/hw/pte.h"

/* The DTE bits QEMU up to 7.2.18 rejects as reserved (its ILLEGAL_DEV_TABLE_ENTRY
 * check): quadword 0 bits 7:2, 53:52 and 63. */
#define QEMU72_DTE_Q0_RESERVED 0x80300000000000fcULL
/* Quadword 2 bits it rejects: up to 7.2.18 bits 59 and 55:52 (DTE bits 187 and
 * 183:180), from 7.2.19 on bits 53:52. */
#define QEMU72_DTE_Q2_RESERVED 0x08f0000000000000ULL

static void test_geometry(void **state)
{
    /* Size 1FFh: 512 pages of 128 entries, every 16-bit device ID. */
    assert_int_equal((AMDVI_DEV_TABLE_SIZE_MASK + 1) * PAGE_SIZE / sizeof(struct amdvi_dte), AMDVI_DEV_TABLE_ENTRIES);
    assert_int_equal(AMDVI_DEV_TABLE_ENTRIES, 1u << 16);
    /* The least ring, 2^8 entries of 16 bytes, is one page; its offsets fit the pointer field. */
    assert_int_equal(sizeof(struct amdvi_cmd) << AMDVI_RING_LEN_MIN, PAGE_SIZE);
    assert_int_equal(sizeof(struct amdvi_event) << AMDVI_RING_LEN_MIN, PAGE_SIZE);
    assert_int_equal(AMDVI_RING_PTR_MASK & (PAGE_SIZE - 1), PAGE_SIZE - sizeof(struct amdvi_cmd));
    assert_int_equal(AMDVI_RING_PTR_MASK, (BIT(19) - 1) & ~0xfULL);
    /* Base registers and table pointers carry bits 51:12, like x86 page tables. */
    assert_int_equal(AMDVI_ADDR_MASK, PTE_ADDR);
    assert_int_equal(AMDVI_MMIO_STATUS + 8 <= AMDVI_MMIO_SIZE, 1);
    /* Mode 4 walks 4 levels of 9 bits over 4 KiB pages. */
    assert_int_equal(AMDVI_MODE4_BITS, PT_ADDR_BITS_4LEVEL);
    assert_int_equal(AMDVI_MODE_4LEVEL, 4);
}

static void test_dte_blocked(void **state)
{
    const struct amdvi_dte d = amdvi_dte_blocked();
    assert_int_equal(d.q[0], AMDVI_DTE_V | AMDVI_DTE_TV);
    assert_int_equal(d.q[0], 0x3);
    assert_int_equal(d.q[1], 0);
    assert_int_equal(d.q[2], 0); /* the driver adds the interrupt fields: amdvi_dte_irq() */
    assert_int_equal(d.q[3], 0);
    assert_int_equal(amdvi_dte_mode(&d), AMDVI_MODE_NONE);
    assert_int_equal(amdvi_dte_domain(&d), 0);
    assert_false(amdvi_dte_translates(&d));
    /* Neither right: mode 0 lets nothing through. */
    assert_int_equal(d.q[0] & (AMDVI_DTE_IR | AMDVI_DTE_IW), 0);
}

static void test_dte_translated(void **state)
{
    const struct amdvi_dte d = amdvi_dte_translated(0x500000, 5, AMDVI_MODE_4LEVEL);
    /* The entry QEMU 7.2 translated edu's DMA through. */
    assert_int_equal(d.q[0], 0x6000000000500803ULL);
    assert_int_equal(d.q[1], 5);
    assert_int_equal(d.q[2], 0);
    assert_int_equal(d.q[3], 0);
    assert_true(amdvi_dte_translates(&d));
    assert_int_equal(amdvi_dte_mode(&d), 4);
    assert_int_equal(amdvi_dte_domain(&d), 5);

    /* Only bits 51:12 of the root; the largest domain ID. */
    const struct amdvi_dte e = amdvi_dte_translated(0xfff0123456789fffULL, 0xffff, AMDVI_MODE_4LEVEL);
    assert_int_equal(e.q[0] & AMDVI_ADDR_MASK, 0x0000123456789000ULL);
    assert_int_equal(e.q[0] & ~AMDVI_ADDR_MASK, AMDVI_DTE_V | AMDVI_DTE_TV | 4ULL << 9 | AMDVI_DTE_IR | AMDVI_DTE_IW);
    assert_int_equal(e.q[1], 0xffff);
    /* A mode wider than the field cannot spill into the root. */
    const struct amdvi_dte f = amdvi_dte_translated(0x1000, 1, 0xf);
    assert_int_equal(f.q[0] & AMDVI_ADDR_MASK, 0x1000);
    assert_int_equal(amdvi_dte_mode(&f), 7);
    /* V = 1 with TV = 0 does not translate. */
    struct amdvi_dte g = d;
    g.q[0] &= ~AMDVI_DTE_TV;
    assert_false(amdvi_dte_translates(&g));

    const struct amdvi_dte b = amdvi_dte_blocked();
    assert_int_equal(d.q[0] & QEMU72_DTE_Q0_RESERVED, 0);
    assert_int_equal(e.q[0] & QEMU72_DTE_Q0_RESERVED, 0);
    assert_int_equal(b.q[0] & QEMU72_DTE_Q0_RESERVED, 0);
}

/* Page-table entries as vmm/slpt.c writes them: the ones QEMU 7.2 walked. */
static void test_pte_layout(void **state)
{
    const u64 rw = AMDVI_PTE_IR | AMDVI_PTE_IW;
    assert_int_equal(0x501000 | 3ULL << AMDVI_PTE_NL_SHIFT | rw | AMDVI_PTE_PR, 0x6000000000501601ULL);
    assert_int_equal(0x601000 | rw | AMDVI_PTE_PR, 0x6000000000601001ULL); /* a 4 KiB leaf: Next Level 0 */
    assert_int_equal(AMDVI_PTE_NL_MASK, 0xe00);
    assert_int_equal(AMDVI_PTE_NL_MASK & AMDVI_ADDR_MASK, 0);
}

/* Bit n of the 256-bit entry, as the specification numbers them. */
static bool dte_bit(const struct amdvi_dte *d, u32 n) { return (d->q[n / 64] >> (n % 64)) & 1; }

static void test_dte_interrupts(void **state)
{
    /* A device's own table: 2^8 entries at 0x123440, remapped. */
    struct amdvi_dte d = amdvi_dte_translated(0x500000, 5, AMDVI_MODE_4LEVEL);
    d.q[2] = amdvi_dte_irq(0x123440, 8);
    assert_int_equal(d.q[2], 0x2000000000123451ULL);
    assert_true(dte_bit(&d, 128));                                       /* IV */
    assert_int_equal((d.q[2] >> 1) & 0xf, 8);                            /* IntTabLen, bits 132:129 */
    assert_false(dte_bit(&d, 133));                                      /* IG: aborted interrupts are reported */
    assert_int_equal((d.q[2] >> 6) & ((1ULL << 46) - 1), 0x123440 >> 6); /* IntTableRootPtr, bits 179:134 */
    assert_int_equal((d.q[2] >> 60) & 3, AMDVI_INTCTL_REMAP);            /* IntCtl, bits 189:188: 10b */
    /* No pass-through: InitPass 184, EIntPass 185, NMIPass 186, Lint0Pass 190, Lint1Pass 191. */
    static const u32 pass[] = { 184, 185, 186, 190, 191 };
    for (size_t i = 0; i < ARRAY_SIZE(pass); i++)
        assert_false(dte_bit(&d, pass[i]));
    assert_int_equal(AMDVI_DTE_INIT_PASS | AMDVI_DTE_EINT_PASS | AMDVI_DTE_NMI_PASS | AMDVI_DTE_LINT0_PASS |
                         AMDVI_DTE_LINT1_PASS,
                     0xc700000000000000ULL);
    assert_int_equal(amdvi_dte_irq_table(&d), 0x123440);
    assert_int_equal(amdvi_dte_irq_len(&d), 8);
    /* The DMA half is untouched; QEMU 7.2 takes the entry (no reserved bit). */
    assert_true(amdvi_dte_translates(&d));
    assert_int_equal(amdvi_dte_domain(&d), 5);
    assert_int_equal(d.q[0] & QEMU72_DTE_Q0_RESERVED, 0);
    assert_int_equal(d.q[2] & QEMU72_DTE_Q2_RESERVED, 0);
    assert_int_equal(d.q[3], 0);

    /* A blocked device: the unit's empty table, 2^0 entries. */
    const u64 b = amdvi_dte_irq(0x7f000000, 0);
    assert_int_equal(b, 0x200000007f000001ULL);
    /* Only bits 51:6 of the table: an unaligned or too wide address reaches
     * neither IntTabLen, IG, the reserved bits nor the pass bits. */
    const u64 w = amdvi_dte_irq(0xfff012345678907fULL, 0);
    assert_int_equal(w & AMDVI_DTE_INTTAB_MASK, 0x0000123456789040ULL);
    assert_int_equal(w & ~AMDVI_DTE_INTTAB_MASK, AMDVI_DTE_IV | 2ULL << 60);
    assert_int_equal(AMDVI_DTE_INTTAB_MASK, 0x000fffffffffffc0ULL);
    assert_int_equal(w & QEMU72_DTE_Q2_RESERVED, 0);
    /* A length past the field's 1011b (2048 entries) is cut to it. */
    assert_int_equal((amdvi_dte_irq(0x1000, 15) >> 1) & 0xf, AMDVI_INTTABLEN_MAX);
    assert_int_equal(AMDVI_INTTABLEN_MAX, 11);
    assert_int_equal(1u << AMDVI_INTTABLEN_MAX, 0x7ffu + 1); /* every index MSI data bits 10:0 name */
}

/* Legacy (GAEn = 0) interrupt table entries, as QEMU 7.2 reads them: RemapEn
 * bit 0, SupIOPF 1, IntType 4:2, RqEoi 5, DM 6, GuestMode 7, destination
 * 15:8, vector 23:16. */
static void test_irte(void **state)
{
    u32 e = amdvi_irte(0x41, 3);
    assert_int_equal(e, 0x00410301);
    assert_int_equal(e & AMDVI_IRTE_REMAP_EN, 1);
    assert_int_equal(e & AMDVI_IRTE_SUP_IOPF, 0);              /* an aborted interrupt is reported */
    assert_int_equal((e >> AMDVI_IRTE_INT_TYPE_SHIFT) & 7, 0); /* fixed */
    assert_int_equal(e & AMDVI_IRTE_RQ_EOI, 0);
    assert_int_equal(e & AMDVI_IRTE_DM_LOGICAL, 0); /* physical destination */
    assert_int_equal(e & AMDVI_IRTE_GUEST_MODE, 0);
    assert_int_equal((e >> 8) & 0xff, 3);
    assert_int_equal((e >> 16) & 0xff, 0x41);
    assert_int_equal(e >> 24, 0);
    /* The widest: APIC ID 255, vector 255; nothing spills into bits 31:24. */
    e = amdvi_irte(0xff, 0xff);
    assert_int_equal(e, 0x00ffff01);
    assert_int_equal(AMDVI_IRTE_SIZE, 4);
    assert_int_equal(AMDVI_IRTE_SUP_IOPF | AMDVI_IRTE_RQ_EOI | AMDVI_IRTE_DM_LOGICAL | AMDVI_IRTE_GUEST_MODE, 0xe2);
}

static u32 opcode(const struct amdvi_cmd *c) { return (u32)(c->lo >> 60); }

static void test_commands(void **state)
{
    /* COMPLETION_WAIT with S, the store address in bits 51:3, the data in 127:64. */
    struct amdvi_cmd c = amdvi_cmd_completion_wait(0x402000, 5);
    assert_int_equal(c.lo, 0x1000000000402001ULL);
    assert_int_equal(c.hi, 5);
    assert_int_equal(opcode(&c), AMDVI_CMD_COMPLETION_WAIT);
    assert_int_equal(c.lo & (AMDVI_CW_I | AMDVI_CW_F), 0);
    /* An unaligned or too wide address cannot reach the flags, the reserved bits or the opcode. */
    c = amdvi_cmd_completion_wait(0xfff0000000402007ULL, ~0ULL);
    assert_int_equal(c.lo, 0x1000000000402001ULL);
    assert_int_equal(c.hi, ~0ULL);
    assert_int_equal((c.lo >> 52) & 0xff, 0); /* bits 59:52 reserved */

    c = amdvi_cmd_inv_devtab(0x0028);
    assert_int_equal(c.lo, 0x2000000000000028ULL);
    assert_int_equal(c.hi, 0);

    /* The whole domain: S, PDE and address 7FFF_FFFF_FFFF_F000h. */
    c = amdvi_cmd_inv_domain(5);
    assert_int_equal(c.lo, 0x3000000500000000ULL);
    assert_int_equal(c.hi, 0x7ffffffffffff003ULL);
    c = amdvi_cmd_inv_domain(0xffff);
    assert_int_equal((c.lo >> AMDVI_INV_DOMAIN_SHIFT) & 0xffff, 0xffff);
    assert_int_equal(c.lo & 0x0fff0000fff00000ULL, 0); /* bits 59:48 and 31:20 reserved; PASID 19:0 is 0 */
    assert_int_equal(c.hi & 0xff8, 0);                 /* bits 11:3 reserved */
    assert_int_equal(c.hi & BIT(2), 0);                /* GN: a host (not guest) address */

    c = amdvi_cmd_inv_intr_table(0xbeef);
    assert_int_equal(c.lo, 0x500000000000beefULL);
    assert_int_equal(c.hi, 0);

    c = amdvi_cmd_inv_all();
    assert_int_equal(c.lo, 0x8000000000000000ULL);
    assert_int_equal(c.hi, 0);
}

static struct amdvi_event event(u32 code, u16 flags, u16 domain, u16 devid, u64 addr)
{
    struct amdvi_event e = { (u64)code << 60 | (u64)flags << 48 | (u64)domain << 32 | devid, addr };
    return e;
}

static void test_io_page_fault(void **state)
{
    /* A write that found no page: devid 00:05.0, domain 1. */
    struct amdvi_event e = event(AMDVI_EVT_IO_PAGE_FAULT, AMDVI_EVF_RW, 1, 0x0028, 0x12345678);
    struct amdvi_event_info i = amdvi_event_decode(&e);
    assert_int_equal(i.code, AMDVI_EVT_IO_PAGE_FAULT);
    assert_true(i.has_dev);
    assert_int_equal(i.devid, 0x0028);
    assert_int_equal(i.domain, 1);
    assert_int_equal(i.addr, 0x12345678);
    assert_true(i.write);
    assert_string_equal(amdvi_event_name(i.code), "IO_PAGE_FAULT");

    /* A read the rights refused: PR and PE, not RW. */
    e = event(AMDVI_EVT_IO_PAGE_FAULT, AMDVI_EVF_PR | AMDVI_EVF_PE, 2, 0xff07, 0xfffff000);
    i = amdvi_event_decode(&e);
    assert_false(i.write);
    assert_int_equal(i.flags, AMDVI_EVF_PR | AMDVI_EVF_PE);
    assert_int_equal(i.devid, 0xff07);

    /* The flag positions: bit n of the field is bit 48 + n of the entry (RW is bit 53). */
    e = event(AMDVI_EVT_IO_PAGE_FAULT, 0, 0, 0, 0);
    e.lo |= BIT(53);
    assert_true(amdvi_event_decode(&e).write);
    e.lo = (e.lo & ~BIT(53)) | BIT(59); /* the field's last bit, reserved */
    assert_int_equal(amdvi_event_decode(&e).flags, 0x800);
    assert_false(amdvi_event_decode(&e).write);

    /* QEMU's model (once its event log works: the fix of August 2025) writes a write
     * fault's direction as AMDVI_PERM_WRITE into flag bit 1 (NX) and sets I:
     * decoded by the specification it is an instruction-fetch interrupt
     * request that reads. */
    e = event(AMDVI_EVT_IO_PAGE_FAULT, AMDVI_EVF_I | AMDVI_EVF_NX, 0, 0x28, 0x1000);
    i = amdvi_event_decode(&e);
    assert_false(i.write);
    assert_int_equal(i.flags, AMDVI_EVF_I | AMDVI_EVF_NX);
    assert_true(i.irq);

    /* An interrupt the unit aborted (its entry without RemapEn): I set. A
     * memory access has I clear; I on another event means nothing. */
    e = event(AMDVI_EVT_IO_PAGE_FAULT, AMDVI_EVF_I, 0, 0x0100, 0xfee00000);
    i = amdvi_event_decode(&e);
    assert_true(i.irq);
    assert_int_equal(i.devid, 0x0100);
    e = event(AMDVI_EVT_IO_PAGE_FAULT, AMDVI_EVF_RW, 1, 0x0100, 0x1000);
    assert_false(amdvi_event_decode(&e).irq);
    e = event(AMDVI_EVT_ILLEGAL_DTE, AMDVI_EVF_I, 0, 0x0100, 0);
    assert_false(amdvi_event_decode(&e).irq);
}

static void test_other_events(void **state)
{
    /* Command errors name no device: the bits below are the command's, not a requester's. */
    struct amdvi_event e = event(AMDVI_EVT_ILLEGAL_CMD, 0, 0, 0x1234, 0x400010);
    struct amdvi_event_info i = amdvi_event_decode(&e);
    assert_false(i.has_dev);
    assert_int_equal(i.devid, 0);
    assert_int_equal(i.addr, 0x400010);
    assert_string_equal(amdvi_event_name(i.code), "ILLEGAL_COMMAND_ERROR");
    e = event(AMDVI_EVT_CMD_HW, 0, 0, 0x1234, 0);
    assert_false(amdvi_event_decode(&e).has_dev);

    e = event(AMDVI_EVT_ILLEGAL_DTE, 0, 0, 0x00a0, 0x2000);
    i = amdvi_event_decode(&e);
    assert_true(i.has_dev);
    assert_int_equal(i.devid, 0x00a0);
    assert_string_equal(amdvi_event_name(i.code), "ILLEGAL_DEV_TABLE_ENTRY");

    /* Every code has its own name; codes without one say so. */
    static const u32 codes[] = { AMDVI_EVT_ILLEGAL_DTE,  AMDVI_EVT_IO_PAGE_FAULT, AMDVI_EVT_DEV_TAB_HW,
                                 AMDVI_EVT_PAGE_TAB_HW,  AMDVI_EVT_ILLEGAL_CMD,   AMDVI_EVT_CMD_HW,
                                 AMDVI_EVT_IOTLB_INV_TO, AMDVI_EVT_INVALID_DEV,   AMDVI_EVT_INVALID_PPR,
                                 AMDVI_EVT_RMP_FAULT,    AMDVI_EVT_RMP_HW };
    for (size_t a = 0; a < ARRAY_SIZE(codes); a++) {
        assert_string_not_equal(amdvi_event_name(codes[a]), "unknown event");
        for (size_t b = a + 1; b < ARRAY_SIZE(codes); b++)
            assert_string_not_equal(amdvi_event_name(codes[a]), amdvi_event_name(codes[b]));
    }
    assert_string_equal(amdvi_event_name(0xc), "unknown event");
    /* An all-zero entry (not yet written) decodes to code 0, no device. */
    e = event(0, 0, 0, 0x28, 0);
    assert_int_equal(amdvi_event_decode(&e).code, 0);
    assert_false(amdvi_event_decode(&e).has_dev);
}

static void test_registers(void **state)
{
    /* Control: the enables the driver sets sit where QEMU's model reads them. */
    assert_int_equal(AMDVI_CTL_IOMMU_EN | AMDVI_CTL_EVT_LOG_EN | AMDVI_CTL_CMD_BUF_EN, 0x1005);
    /* Status: QEMU's reset value with both rings running. */
    assert_int_equal(AMDVI_STS_EVT_LOG_RUN | AMDVI_STS_CMD_BUF_RUN, 0x18);
    assert_int_equal(AMDVI_STS_W1C & (AMDVI_STS_EVT_LOG_RUN | AMDVI_STS_CMD_BUF_RUN), 0);
    /* EFR: QEMU 7.2's 0x29d3 offers INVALIDATE_IOMMU_ALL and 6-level host tables. */
    assert_true(0x29d3 & AMDVI_EFR_IA_SUP);
    assert_int_equal(AMDVI_EFR_HATS(0x29d3ULL), 2);
    assert_int_equal(AMDVI_EFR_HATS(~0ULL), 3);
    /* IVHD flags name the Control bits of the same meaning. */
    assert_int_equal(AMDVI_IVHD_COHERENT, BIT(5));
    assert_int_equal(AMDVI_CTL_COHERENT, BIT(10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometry),       cmocka_unit_test(test_dte_blocked),
        cmocka_unit_test(test_dte_translated), cmocka_unit_test(test_dte_interrupts),
        cmocka_unit_test(test_irte),           cmocka_unit_test(test_pte_layout),
        cmocka_unit_test(test_commands),       cmocka_unit_test(test_io_page_fault),
        cmocka_unit_test(test_other_events),   cmocka_unit_test(test_registers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
