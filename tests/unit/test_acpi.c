/* Unit tests of drivers/acpi: discovery, checksums, FADT/MADT/SRAT/SLIT/MCFG/HPET on
 * crafted tables, and acpi_parse() on real QEMU+OVMF tables (fixtures/acpi/). The AML
 * scan's own tests are in test_acpi_aml.c, run from main() here. */
#include "tests/unit/test_acpi_util.c"
#include "tests/unit/xorshift.h"
#include <errno.h>

int run_aml_tests(void);

static struct acpi_info info; /* ~70 KB: kept off the stack */

static int setup(void **state)
{
    test_stubs_reset();
    memset(&info, 0, sizeof(info));
    return 0;
}

/* ---------------------------------------------------------------- builders */

static void fadt_fill(struct acpi_fadt *f, u32 len)
{
    memset(f, 0, sizeof(*f));
    f->firmware_ctrl = 0x7000;
    f->dsdt = 0x6000;
    f->sci_int = 9;
    f->smi_cmd = 0xb2;
    f->acpi_enable = 0xf1;
    f->acpi_disable = 0xf0;
    f->pm1a_evt_blk = 0xb000;
    f->pm1a_cnt_blk = 0xb004;
    f->pm_tmr_blk = 0xb008;
    f->gpe0_blk = 0xafe0;
    f->pm1_evt_len = 4;
    f->pm1_cnt_len = 2;
    f->pm_tmr_len = 4;
    f->gpe0_blk_len = 4;
    f->century = 0x32;
    f->iapc_boot_arch = 0x0003;
    f->flags = 0x80a5;
    (void)len;
}

static void fadt_table(struct tb *t, const struct acpi_fadt *f, u8 rev, u32 len)
{
    tb_start(t, "FACP", rev);
    tb_bytes(t, (const u8 *)f + sizeof(struct acpi_header), len - sizeof(struct acpi_header));
    tb_finish(t);
}

static struct tb tbuf;

/* RSDP rev 2 at 0x1000 -> XSDT at 0x2000 -> the given tables at 0x10000 + 0x1000 * i. */
static u64 machine_with(struct fake_mem *m, struct tb *const *tables, u32 n)
{
    u64 addrs[16];
    fm_init(m);
    for (u32 i = 0; i < n; i++) {
        addrs[i] = 0x10000 + 0x1000 * (u64)i;
        tb_place(m, addrs[i], tables[i]);
    }
    put_root(m, 0x2000, "XSDT", addrs, n);
    put_root(m, 0x3000, "RSDT", addrs, n);
    put_rsdp(m, 0x1000, 2, 0x3000, 0x2000);
    return 0x1000;
}

static void madt_start(struct tb *t)
{
    tb_start(t, "APIC", 4);
    tb_u32(t, 0xfee00000);
    tb_u32(t, ACPI_MADT_PCAT_COMPAT);
}
static void madt_lapic(struct tb *t, u8 uid, u8 id, u32 flags)
{
    tb_u8(t, 0);
    tb_u8(t, 8);
    tb_u8(t, uid);
    tb_u8(t, id);
    tb_u32(t, flags);
}
static void madt_x2apic(struct tb *t, u32 id, u32 uid, u32 flags)
{
    tb_u8(t, 9);
    tb_u8(t, 16);
    tb_u16(t, 0);
    tb_u32(t, id);
    tb_u32(t, flags);
    tb_u32(t, uid);
}

/* ---------------------------------------------------------------- discovery */

static void test_rsdp_rev0_rsdt(void **state)
{
    struct fake_mem m;
    struct acpi_fadt f;
    u64 e[2] = { 0x5000, 0x5800 };
    fm_init(&m);
    fadt_fill(&f, 116);
    f.dsdt = 0;
    fadt_table(&tbuf, &f, 1, 116);
    tb_place(&m, 0x5000, &tbuf);
    madt_start(&tbuf);
    madt_lapic(&tbuf, 0, 0, 1);
    tb_finish(&tbuf);
    tb_place(&m, 0x5800, &tbuf);
    put_root(&m, 0x4000, "RSDT", e, 2);
    put_rsdp(&m, 0xe0000, 0, 0x4000, 0);
    struct acpi_mem mem = fm_acpi(&m);

    assert_int_equal(acpi_parse(&mem, 0xe0000, &info), 0);
    assert_false(info.using_xsdt);
    assert_int_equal(info.rsdp_revision, 0);
    assert_string_equal(info.rsdp_oem_id, "ISTHMS");
    assert_int_equal(info.ntables, 3 + 1); /* RSDT, FACP, APIC, FACS */
    assert_string_equal(info.tables[0].signature, "RSDT");
    assert_true(info.have_fadt);
    assert_true(info.have_madt);
    assert_int_equal(info.madt.ncpus, 1);
    assert_non_null(acpi_find_table(&info, "APIC", 0));
    assert_null(acpi_find_table(&info, "APIC", 1));
    assert_null(acpi_find_table(&info, "HPET", 0));
    fm_free(&m);
}

static void test_rsdp_rev2_prefers_xsdt(void **state)
{
    struct fake_mem m;
    u64 x[2] = { 0x5000, 0x6000 }, r[1] = { 0x5000 };
    fm_init(&m);
    madt_start(&tbuf);
    madt_lapic(&tbuf, 0, 0, 1);
    tb_finish(&tbuf);
    tb_place(&m, 0x5000, &tbuf);
    tb_start(&tbuf, "HPET", 1);
    tb_u32(&tbuf, 0x8086a201);
    tb_gas(&tbuf, 0, 0, 0xfed00000);
    tb_u8(&tbuf, 0);
    tb_u16(&tbuf, 0x80);
    tb_u8(&tbuf, 0);
    tb_finish(&tbuf);
    tb_place(&m, 0x6000, &tbuf);
    put_root(&m, 0x2000, "XSDT", x, 2);
    put_root(&m, 0x3000, "RSDT", r, 1);
    put_rsdp(&m, 0x1000, 2, 0x3000, 0x2000);
    struct acpi_mem mem = fm_acpi(&m);

    assert_int_equal(acpi_parse(&mem, 0x1000, &info), 0);
    assert_true(info.using_xsdt);
    assert_int_equal(info.rsdp_revision, 2);
    assert_string_equal(info.tables[0].signature, "XSDT");
    assert_true(info.have_hpet); /* only the XSDT lists it */
    fm_free(&m);
}

static void test_rsdp_errors(void **state)
{
    struct fake_mem m;
    struct acpi_mem mem = fm_acpi(&m);
    fm_init(&m);
    assert_int_equal(acpi_parse(&mem, 0, &info), -ENOENT);
    assert_int_equal(acpi_parse(&mem, 0x1000, &info), -EFAULT);

    u8 *r = put_rsdp(&m, 0x1000, 0, 0x3000, 0);
    r[8] ^= 1; /* checksum */
    assert_int_equal(acpi_parse(&mem, 0x1000, &info), -EINVAL);
    assert_true(log_has("RSDP at 0x1000: bad checksum"));
    r[8] ^= 1;
    r[0] = 'X';
    assert_int_equal(acpi_parse(&mem, 0x1000, &info), -EINVAL);
    r[0] = 'R';
    /* valid RSDP, but its RSDT is not there */
    assert_int_equal(acpi_parse(&mem, 0x1000, &info), -EIO);
    assert_int_equal(info.ntables, 1);
    assert_int_equal(info.tables[0].status, ACPI_TABLE_UNMAPPED);
    fm_free(&m);
}

/* An empty MADT at 0x5000 listed by both an XSDT (0x2000, returned) and an
 * RSDT (0x3000), for the tests that choose between the two roots. */
static u8 *madt_under_both_roots(struct fake_mem *m)
{
    u64 e[1] = { 0x5000 };
    fm_init(m);
    madt_start(&tbuf);
    tb_finish(&tbuf);
    tb_place(m, 0x5000, &tbuf);
    u8 *x = put_root(m, 0x2000, "XSDT", e, 1);
    put_root(m, 0x3000, "RSDT", e, 1);
    return x;
}

static void test_rsdp_bad_extended_checksum_uses_rsdt(void **state)
{
    struct fake_mem m;
    madt_under_both_roots(&m);
    u8 *r = put_rsdp(&m, 0x1000, 2, 0x3000, 0x2000);
    r[32] ^= 0x55;
    struct acpi_mem mem = fm_acpi(&m);
    assert_int_equal(acpi_parse(&mem, 0x1000, &info), 0);
    assert_false(info.using_xsdt);
    assert_true(log_has("RSDP extended checksum bad: ignoring XSDT, using RSDT"));
    assert_true(info.have_madt);
    fm_free(&m);
}

static void test_bad_xsdt_falls_back_to_rsdt(void **state)
{
    struct fake_mem m;
    u8 *x = madt_under_both_roots(&m);
    put_rsdp(&m, 0x1000, 2, 0x3000, 0x2000);
    x[20] ^= 0xff; /* corrupt the XSDT */
    struct acpi_mem mem = fm_acpi(&m);
    assert_int_equal(acpi_parse(&mem, 0x1000, &info), 0);
    assert_false(info.using_xsdt);
    assert_string_equal(info.tables[0].signature, "XSDT");
    assert_int_equal(info.tables[0].status, ACPI_TABLE_BAD_CHECKSUM);
    assert_string_equal(info.tables[1].signature, "RSDT");
    assert_true(log_has("XSDT at 0x2000: bad checksum"));
    assert_true(log_has("falling back to RSDT"));
    assert_true(info.have_madt);

    /* An XSDT whose length is not a whole number of entries is unusable too. */
    test_stubs_reset();
    x[4] = 36 + 4;
    recompute_checksum(x);
    assert_int_equal(acpi_parse(&mem, 0x1000, &info), 0);
    assert_false(info.using_xsdt);
    assert_int_equal(info.tables[0].status, ACPI_TABLE_BAD_LENGTH);
    assert_true(log_has("not a header plus whole 8-byte entries"));
    fm_free(&m);
}

static void test_bad_tables_are_listed_and_skipped(void **state)
{
    struct fake_mem m;
    u64 e[5] = { 0x5000, 0x6000, 0x7000, 0x8000, 0 };
    fm_init(&m);
    madt_start(&tbuf); /* 0x5000: bad checksum */
    madt_lapic(&tbuf, 0, 0, 1);
    tb_finish(&tbuf);
    tb_place(&m, 0x5000, &tbuf)[9] ^= 1;
    tb_start(&tbuf, "SRAT", 3); /* 0x6000: length < header */
    tb_finish(&tbuf);
    u8 *s = tb_place(&m, 0x6000, &tbuf);
    s[4] = 20;
    recompute_checksum(s);
    tb_start(&tbuf, "SLIT", 1); /* 0x7000: claims more than is readable */
    tb_u64(&tbuf, 1);
    tb_u8(&tbuf, 10);
    tb_finish(&tbuf);
    u8 *sl = tb_place(&m, 0x7000, &tbuf);
    sl[4] = 200;
    m.r[m.n - 1].len = tbuf.len; /* only 45 bytes exist */
    madt_start(&tbuf);           /* 0x8000: good */
    madt_lapic(&tbuf, 0, 0, 1);
    tb_finish(&tbuf);
    tb_place(&m, 0x8000, &tbuf);
    put_root(&m, 0x2000, "XSDT", e, 5);
    put_rsdp(&m, 0x1000, 2, 0, 0x2000);
    struct acpi_mem mem = fm_acpi(&m);

    assert_int_equal(acpi_parse(&mem, 0x1000, &info), 0);
    assert_int_equal(info.ntables, 5);
    assert_int_equal(info.tables[1].status, ACPI_TABLE_BAD_CHECKSUM);
    assert_int_equal(info.tables[2].status, ACPI_TABLE_BAD_LENGTH);
    assert_int_equal(info.tables[3].status, ACPI_TABLE_UNMAPPED);
    assert_int_equal(info.tables[4].status, ACPI_TABLE_OK);
    assert_true(log_has("APIC at 0x5000: bad checksum"));
    assert_true(log_has("skipped"));
    assert_true(log_has("SRAT at 0x6000: length 20 is shorter than its header"));
    assert_true(log_has("SLIT at 0x7000: 200 bytes not readable"));
    assert_true(log_has("XSDT entry 4 is a null pointer"));
    assert_false(info.have_srat);
    assert_false(info.have_slit);
    /* The good MADT is the one parsed: the first (bad) one is not "found". */
    assert_true(info.have_madt);
    assert_ptr_equal(acpi_find_table(&info, "APIC", 0), &info.tables[4]);
    assert_string_equal(acpi_table_status_name(ACPI_TABLE_BAD_CHECKSUM), "bad checksum");
    fm_free(&m);
}

static void test_find_table_instances_and_dsdt_facs(void **state)
{
    struct fake_mem m;
    struct tb *ssdt1 = malloc(sizeof(*ssdt1)), *ssdt2 = malloc(sizeof(*ssdt2));
    struct tb *fadt = malloc(sizeof(*fadt));
    struct acpi_fadt f;
    fadt_fill(&f, 244);
    f.dsdt = 0x6000;
    f.x_dsdt = 0x9000; /* X_DSDT wins */
    f.firmware_ctrl = 0x7000;
    fadt_table(fadt, &f, 3, 244);
    tb_start(ssdt1, "SSDT", 2);
    tb_finish(ssdt1);
    tb_start(ssdt2, "SSDT", 2);
    tb_u8(ssdt2, 0xa3); /* Noop */
    tb_finish(ssdt2);
    struct tb *tables[3] = { fadt, ssdt1, ssdt2 };
    u64 rsdp = machine_with(&m, tables, 3);
    tb_start(&tbuf, "DSDT", 2);
    tb_finish(&tbuf);
    tb_place(&m, 0x9000, &tbuf);
    struct acpi_facs facs;
    memset(&facs, 0, sizeof(facs));
    memcpy(facs.signature, "FACS", 4);
    facs.length = 64;
    facs.version = 2;
    fm_add(&m, 0x7000, &facs, sizeof(facs));
    struct acpi_mem mem = fm_acpi(&m);

    assert_int_equal(acpi_parse(&mem, rsdp, &info), 0);
    assert_true(info.have_dsdt);
    const struct acpi_table_desc *d = acpi_find_table(&info, "DSDT", 0);
    assert_non_null(d);
    assert_int_equal(d->pa, 0x9000);
    const struct acpi_table_desc *fc = acpi_find_table(&info, "FACS", 0);
    assert_non_null(fc);
    assert_int_equal(fc->revision, 2);
    assert_int_equal(acpi_find_table(&info, "SSDT", 0)->pa, 0x11000);
    assert_int_equal(acpi_find_table(&info, "SSDT", 1)->pa, 0x12000);
    assert_null(acpi_find_table(&info, "SSDT", 2));
    assert_int_equal(acpi_find_table(&info, "SSDT", 1)->length, 37);
    assert_int_equal(info.aml.tables, 3); /* DSDT + 2 SSDTs */
    assert_non_null(acpi_map_table(&mem, d));
    fm_free(&m);
    free(ssdt1);
    free(ssdt2);
    free(fadt);
}

static void test_dsdt_with_wrong_signature(void **state)
{
    struct fake_mem m;
    struct acpi_fadt f;
    fadt_fill(&f, 116);
    f.firmware_ctrl = 0;
    fadt_table(&tbuf, &f, 1, 116);
    struct tb *tables[1] = { &tbuf };
    u64 rsdp = machine_with(&m, tables, 1);
    struct tb *t = malloc(sizeof(*t));
    tb_start(t, "SSDT", 2);
    tb_finish(t);
    tb_place(&m, 0x6000, t);
    free(t);
    struct acpi_mem mem = fm_acpi(&m);
    assert_int_equal(acpi_parse(&mem, rsdp, &info), 0);
    assert_false(info.have_dsdt);
    assert_true(log_has("should be DSDT but is \"SSDT\""));
    assert_int_equal(info.tables[info.ntables - 1].status, ACPI_TABLE_BAD_SIGNATURE);
    fm_free(&m);
}

/* Found by fuzzing (tests/fuzz/fuzz_acpi.c): a DSDT pointer naming a table already
 * listed (here the XSDT) got that table back as it was, and have_dsdt was set. */
static void test_dsdt_pointer_at_listed_table(void **state)
{
    struct fake_mem m;
    struct acpi_fadt f;
    fadt_fill(&f, 244);
    f.firmware_ctrl = 0;
    f.dsdt = 0;
    f.x_dsdt = 0x2000; /* the XSDT */
    fadt_table(&tbuf, &f, 3, 244);
    struct tb *tables[1] = { &tbuf };
    u64 rsdp = machine_with(&m, tables, 1);
    struct acpi_mem mem = fm_acpi(&m);
    assert_int_equal(acpi_parse(&mem, rsdp, &info), 0);
    assert_true(info.have_fadt);
    assert_int_equal(info.fadt.dsdt, 0x2000);
    assert_false(info.have_dsdt);
    assert_true(log_has("DSDT pointer 0x2000 names the XSDT table"));
    assert_int_equal(info.aml.tables, 0);
    fm_free(&m);
}

/* Found by the invariant of tests/fuzz/fuzz_acpi.c that every table listed ok maps
 * whole: a FACS claiming more bytes than are readable was listed ok, so
 * acpi_map_table() failed on it (and `acpi dump` would map what it claimed). */
static void test_facs_length_checked(void **state)
{
    static const u32 lengths[] = { 0x10000, ACPI_MAX_TABLE_LEN + 64, 63, 64 };
    static const u8 status[] = { ACPI_TABLE_UNMAPPED, ACPI_TABLE_BAD_LENGTH, ACPI_TABLE_BAD_LENGTH, ACPI_TABLE_OK };
    for (u32 i = 0; i < ARRAY_SIZE(lengths); i++) {
        struct fake_mem m;
        struct acpi_fadt f;
        fadt_fill(&f, 116);
        f.dsdt = 0;
        fadt_table(&tbuf, &f, 1, 116);
        struct tb *tables[1] = { &tbuf };
        u64 rsdp = machine_with(&m, tables, 1);
        struct acpi_facs facs;
        memset(&facs, 0, sizeof(facs));
        memcpy(facs.signature, "FACS", 4);
        facs.length = lengths[i];
        fm_add(&m, 0x7000, &facs, sizeof(facs)); /* 64 bytes readable */
        struct acpi_mem mem = fm_acpi(&m);
        assert_int_equal(acpi_parse(&mem, rsdp, &info), 0);
        const struct acpi_table_desc *d = &info.tables[info.ntables - 1];
        assert_int_equal(d->pa, 0x7000);
        assert_int_equal(d->status, status[i]);
        if (d->status == ACPI_TABLE_OK)
            assert_non_null(acpi_map_table(&mem, d));
        else
            assert_null(acpi_find_table(&info, "FACS", 0));
        fm_free(&m);
    }
    assert_true(log_has("FACS at 0x7000: 65536 bytes not readable: skipped"));
}

static void test_table_cap(void **state)
{
    struct fake_mem m;
    u64 e[ACPI_MAX_TABLES + 4];
    fm_init(&m);
    tb_start(&tbuf, "OEM1", 1);
    tb_finish(&tbuf);
    tb_place(&m, 0x100000, &tbuf);
    for (u32 i = 0; i < ARRAY_SIZE(e); i++)
        e[i] = 0x200000 + i * 0x100; /* mostly unreadable, all distinct */
    e[0] = 0x100000;
    put_root(&m, 0x2000, "XSDT", e, ARRAY_SIZE(e));
    put_rsdp(&m, 0x1000, 2, 0, 0x2000);
    struct acpi_mem mem = fm_acpi(&m);
    assert_int_equal(acpi_parse(&mem, 0x1000, &info), 0);
    assert_int_equal(info.ntables, ACPI_MAX_TABLES);
    assert_int_equal(info.tables_dropped, 5); /* the XSDT and its 68 entries: 69 */
    assert_true(log_has("more than 64 tables"));
    fm_free(&m);
}

/* ---------------------------------------------------------------- FADT */

static void test_fadt_rev1_116_bytes(void **state)
{
    struct acpi_fadt f;
    fadt_fill(&f, 116);
    f.flags |= ACPI_FADT_RESET_REG_SUP; /* set, but a 116-byte table has no register */
    f.x_dsdt = 0xdead0000;              /* beyond the table: never read */
    fadt_table(&tbuf, &f, 1, 116);
    u8 *copy = malloc(116);
    memcpy(copy, tbuf.b, 116);

    assert_int_equal(acpi_parse_fadt(copy, 116, &info), 0);
    const struct acpi_fadt_info *fi = &info.fadt;
    assert_true(info.have_fadt);
    assert_int_equal(fi->revision, 1);
    assert_int_equal(fi->length, 116);
    assert_int_equal(fi->dsdt, 0x6000);
    assert_int_equal(fi->facs, 0x7000);
    assert_int_equal(fi->sci_irq, 9);
    assert_int_equal(fi->smi_cmd, 0xb2);
    assert_int_equal(fi->acpi_enable, 0xf1);
    assert_int_equal(fi->pm1a_evt.space, ACPI_SPACE_IO);
    assert_int_equal(fi->pm1a_evt.address, 0xb000);
    assert_int_equal(fi->pm1a_evt.bit_width, 32);
    assert_int_equal(fi->pm1a_cnt.space, ACPI_SPACE_IO);
    assert_int_equal(fi->pm1a_cnt.address, 0xb004);
    assert_int_equal(fi->pm1a_cnt.bit_width, 16);
    assert_int_equal(fi->pm1b_cnt.address, 0);
    assert_int_equal(fi->pm_tmr.address, 0xb008);
    assert_int_equal(fi->pm_tmr_bits, 24);
    assert_int_equal(fi->gpe0.address, 0xafe0);
    assert_int_equal(fi->gpe0_len, 4);
    assert_int_equal(fi->century, 0x32);
    assert_int_equal(fi->iapc_boot_arch, 0); /* reserved in ACPI 1.0 */
    assert_false(fi->hw_reduced);
    assert_false(fi->reset_supported);
    assert_true(log_has("RESET_REG_SUP set but the 116-byte table has no reset register"));
    free(copy);
}

static void test_fadt_full_forms(void **state)
{
    struct acpi_fadt f;
    u32 lens[2] = { 244, 276 };
    for (u32 i = 0; i < 2; i++) {
        test_stubs_reset();
        fadt_fill(&f, lens[i]);
        f.x_dsdt = 0x123456789000ULL;
        f.x_firmware_ctrl = 0x88000;
        f.flags |= ACPI_FADT_RESET_REG_SUP | ACPI_FADT_TMR_VAL_EXT;
        f.reset_reg = (struct acpi_gas_raw){ ACPI_SPACE_IO, 8, 0, 1, 0xcf9 };
        f.reset_value = 0x06;
        f.x_pm1a_cnt_blk = (struct acpi_gas_raw){ ACPI_SPACE_MEMORY, 16, 0, 2, 0xfe000404 };
        f.x_pm_tmr_blk = (struct acpi_gas_raw){ ACPI_SPACE_IO, 32, 0, 3, 0xb008 };
        f.minor_version = 1;
        f.sleep_control_reg = (struct acpi_gas_raw){ ACPI_SPACE_IO, 8, 0, 1, 0x1234 };
        fadt_table(&tbuf, &f, i ? 6 : 3, lens[i]);
        u8 *copy = malloc(lens[i]);
        memcpy(copy, tbuf.b, lens[i]);
        assert_int_equal(acpi_parse_fadt(copy, lens[i], &info), 0);
        const struct acpi_fadt_info *fi = &info.fadt;
        assert_int_equal(fi->length, lens[i]);
        assert_int_equal(fi->dsdt, 0x123456789000ULL);
        assert_int_equal(fi->facs, 0x88000);
        assert_int_equal(fi->pm1a_cnt.space, ACPI_SPACE_MEMORY);
        assert_int_equal(fi->pm1a_cnt.address, 0xfe000404);
        assert_int_equal(fi->pm1a_cnt.access_size, 2);
        assert_int_equal(fi->pm1a_evt.address, 0xb000); /* X_ empty: legacy port */
        assert_int_equal(fi->pm_tmr.address, 0xb008);
        assert_int_equal(fi->pm_tmr_bits, 32);
        assert_true(fi->reset_supported);
        assert_int_equal(fi->reset_reg.space, ACPI_SPACE_IO);
        assert_int_equal(fi->reset_reg.address, 0xcf9);
        assert_int_equal(fi->reset_value, 6);
        assert_int_equal(fi->iapc_boot_arch, 3);
        assert_int_equal(fi->minor_version, 1);
        free(copy);
    }
}

static void test_fadt_hw_reduced_and_short(void **state)
{
    struct acpi_fadt f;
    fadt_fill(&f, 276);
    f.flags = ACPI_FADT_HW_REDUCED_ACPI | ACPI_FADT_RESET_REG_SUP;
    f.reset_reg = (struct acpi_gas_raw){ ACPI_SPACE_MEMORY, 8, 0, 1, 0 }; /* unusable */
    fadt_table(&tbuf, &f, 6, 276);
    assert_int_equal(acpi_parse_fadt(tbuf.b, 276, &info), 0);
    assert_true(info.fadt.hw_reduced);
    assert_int_equal(info.fadt.pm1a_cnt.address, 0);
    assert_int_equal(info.fadt.pm_tmr.address, 0);
    assert_int_equal(info.fadt.pm_tmr_bits, 0);
    assert_false(info.fadt.reset_supported);
    assert_true(log_has("reset register (space 0, address 0) is unusable"));

    /* Shorter than the DSDT pointer: rejected. Between 44 and 116: partial. */
    memset(&info, 0, sizeof(info));
    fadt_fill(&f, 60);
    fadt_table(&tbuf, &f, 1, 43);
    assert_int_equal(acpi_parse_fadt(tbuf.b, 43, &info), -EINVAL);
    assert_false(info.have_fadt);
    fadt_table(&tbuf, &f, 1, 60);
    u8 *copy = malloc(60);
    memcpy(copy, tbuf.b, 60);
    assert_int_equal(acpi_parse_fadt(copy, 60, &info), 0);
    assert_int_equal(info.fadt.pm1a_evt.address, 0xb000);
    assert_int_equal(info.fadt.pm1a_evt.bit_width, 0); /* its length field is beyond 60 */
    assert_int_equal(info.fadt.pm1a_cnt.address, 0);   /* beyond 60 */
    assert_int_equal(info.fadt.century, 0);
    assert_true(log_has("shorter than the ACPI 1.0 table"));
    free(copy);
}

/* ---------------------------------------------------------------- MADT */

static void test_madt_all_entry_types(void **state)
{
    madt_start(&tbuf);
    madt_lapic(&tbuf, 0, 0, ACPI_MADT_ENABLED);
    madt_lapic(&tbuf, 1, 2, 0);                        /* disabled */
    madt_lapic(&tbuf, 2, 4, ACPI_MADT_ONLINE_CAPABLE); /* hot-pluggable */
    tb_u8(&tbuf, 1);
    tb_u8(&tbuf, 12);
    tb_u8(&tbuf, 8);
    tb_u8(&tbuf, 0);
    tb_u32(&tbuf, 0xfec00000);
    tb_u32(&tbuf, 0); /* IOAPIC */
    tb_u8(&tbuf, 1);
    tb_u8(&tbuf, 12);
    tb_u8(&tbuf, 9);
    tb_u8(&tbuf, 0);
    tb_u32(&tbuf, 0xfec01000);
    tb_u32(&tbuf, 24);
    tb_u8(&tbuf, 2);
    tb_u8(&tbuf, 10);
    tb_u8(&tbuf, 0);
    tb_u8(&tbuf, 0);
    tb_u32(&tbuf, 2);
    tb_u16(&tbuf, 0); /* ISO IRQ0 -> GSI2 */
    tb_u8(&tbuf, 2);
    tb_u8(&tbuf, 10);
    tb_u8(&tbuf, 0);
    tb_u8(&tbuf, 9);
    tb_u32(&tbuf, 9);
    tb_u16(&tbuf, 0xd); /* SCI level high */
    tb_u8(&tbuf, 3);
    tb_u8(&tbuf, 8);
    tb_u16(&tbuf, 5);
    tb_u32(&tbuf, 30); /* NMI source */
    tb_u8(&tbuf, 4);
    tb_u8(&tbuf, 6);
    tb_u8(&tbuf, 0xff);
    tb_u16(&tbuf, 0);
    tb_u8(&tbuf, 1);
    tb_u8(&tbuf, 5);
    tb_u8(&tbuf, 12);
    tb_u16(&tbuf, 0);
    tb_u64(&tbuf, 0xfee10000ULL);
    madt_x2apic(&tbuf, 0x100, 7, ACPI_MADT_ENABLED);
    tb_u8(&tbuf, 10);
    tb_u8(&tbuf, 12);
    tb_u16(&tbuf, 0);
    tb_u32(&tbuf, 0xffffffff);
    tb_u8(&tbuf, 1);
    tb_zero(&tbuf, 3); /* x2APIC NMI */
    tb_u8(&tbuf, 0x7f);
    tb_u8(&tbuf, 4);
    tb_u16(&tbuf, 0); /* unknown type: ignored */
    tb_finish(&tbuf);

    assert_int_equal(acpi_parse_madt(tbuf.b, tbuf.len, &info), 0);
    const struct acpi_madt_info *m = &info.madt;
    assert_true(info.have_madt);
    assert_int_equal(m->lapic_base, 0xfee10000ULL);
    assert_true(m->lapic_overridden);
    assert_int_equal(m->flags, ACPI_MADT_PCAT_COMPAT);
    assert_int_equal(m->ncpus, 4);
    assert_true(m->cpus[0].enabled);
    assert_false(m->cpus[1].enabled);
    assert_false(m->cpus[1].online_capable);
    assert_false(m->cpus[2].enabled);
    assert_true(m->cpus[2].online_capable);
    assert_int_equal(m->cpus[2].apic_id, 4);
    assert_int_equal(m->cpus[2].uid, 2);
    assert_true(m->cpus[3].x2apic);
    assert_int_equal(m->cpus[3].apic_id, 0x100);
    assert_int_equal(m->cpus[3].uid, 7);
    assert_int_equal(m->nioapics, 2);
    assert_int_equal(m->ioapics[1].id, 9);
    assert_int_equal(m->ioapics[1].address, 0xfec01000);
    assert_int_equal(m->ioapics[1].gsi_base, 24);
    assert_int_equal(m->nisos, 2);
    assert_int_equal(m->isos[0].gsi, 2);
    assert_int_equal(m->isos[1].source, 9);
    assert_int_equal(m->isos[1].flags, 0xd);
    assert_int_equal(m->nnmi_sources, 1);
    assert_int_equal(m->nmi_sources[0].gsi, 30);
    assert_int_equal(m->nmi_sources[0].flags, 5);
    assert_int_equal(m->nlapic_nmis, 2);
    assert_int_equal(m->lapic_nmis[0].uid, 0xff);
    assert_int_equal(m->lapic_nmis[0].lint, 1);
    assert_false(m->lapic_nmis[0].x2apic);
    assert_int_equal(m->lapic_nmis[1].uid, 0xffffffff);
    assert_true(m->lapic_nmis[1].x2apic);
    assert_int_equal(m->bad_entries, 0);
}

static void test_madt_zero_length_entry_stops(void **state)
{
    madt_start(&tbuf);
    madt_lapic(&tbuf, 0, 0, 1);
    tb_u8(&tbuf, 0);
    tb_u8(&tbuf, 0); /* length 0: would loop forever */
    madt_lapic(&tbuf, 1, 1, 1);
    tb_finish(&tbuf);
    u8 *copy = malloc(tbuf.len);
    memcpy(copy, tbuf.b, tbuf.len);
    assert_int_equal(acpi_parse_madt(copy, tbuf.len, &info), 0);
    assert_int_equal(info.madt.ncpus, 1);
    assert_int_equal(info.madt.bad_entries, 1);
    assert_true(log_has("APIC: entry of type 0 at offset 52 has length 0"));

    /* length 1 is as bad */
    copy[53] = 1;
    test_stubs_reset();
    assert_int_equal(acpi_parse_madt(copy, tbuf.len, &info), 0);
    assert_int_equal(info.madt.ncpus, 1);
    assert_true(log_has("has length 1"));
    free(copy);
}

static void test_madt_entry_past_end_and_short_entries(void **state)
{
    madt_start(&tbuf);
    tb_u8(&tbuf, 0);
    tb_u8(&tbuf, 4);
    tb_u16(&tbuf, 0); /* LAPIC of 4 bytes: skipped */
    madt_lapic(&tbuf, 1, 1, 1);
    tb_u8(&tbuf, 9);
    tb_u8(&tbuf, 16);
    tb_u16(&tbuf, 0); /* x2APIC cut by the end */
    tb_finish(&tbuf);
    u8 *copy = malloc(tbuf.len);
    memcpy(copy, tbuf.b, tbuf.len);
    assert_int_equal(acpi_parse_madt(copy, tbuf.len, &info), 0);
    assert_int_equal(info.madt.ncpus, 1);
    assert_int_equal(info.madt.cpus[0].apic_id, 1);
    assert_int_equal(info.madt.bad_entries, 2);
    assert_true(log_has("type 0 entry of 4 bytes is shorter than 8: skipped"));
    assert_true(log_has("runs past the table's end"));

    /* A lone stray byte after the last entry. */
    test_stubs_reset();
    madt_start(&tbuf);
    madt_lapic(&tbuf, 1, 1, 1);
    tb_u8(&tbuf, 0);
    tb_finish(&tbuf);
    memcpy(copy, tbuf.b, tbuf.len);
    assert_int_equal(acpi_parse_madt(copy, tbuf.len, &info), 0);
    assert_int_equal(info.madt.ncpus, 1);
    assert_true(log_has("stray byte"));

    /* Shorter than the fixed part. */
    assert_int_equal(acpi_parse_madt(copy, 40, &info), -EINVAL);
    assert_false(info.have_madt);
    free(copy);
}

static void test_madt_caps(void **state)
{
    madt_start(&tbuf);
    for (u32 i = 0; i < ACPI_MAX_MADT_CPUS + 3; i++)
        madt_x2apic(&tbuf, i, i, 1);
    tb_finish(&tbuf);
    assert_int_equal(acpi_parse_madt(tbuf.b, tbuf.len, &info), 0);
    assert_int_equal(info.madt.ncpus, ACPI_MAX_MADT_CPUS);
    assert_int_equal(info.madt.dropped, 3);
    assert_true(log_has("more than 512 processor entries"));
}

/* ---------------------------------------------------------------- SRAT / SLIT */

static void srat_lapic(struct tb *t, u32 domain, u8 apic, u32 flags)
{
    tb_u8(t, 0);
    tb_u8(t, 16);
    tb_u8(t, (u8)domain);
    tb_u8(t, apic);
    tb_u32(t, flags);
    tb_u8(t, 0);
    tb_u8(t, (u8)(domain >> 8));
    tb_u8(t, (u8)(domain >> 16));
    tb_u8(t, (u8)(domain >> 24));
    tb_u32(t, 0);
}
static void srat_mem(struct tb *t, u32 domain, u64 base, u64 len, u32 flags)
{
    tb_u8(t, 1);
    tb_u8(t, 40);
    tb_u32(t, domain);
    tb_u16(t, 0);
    tb_u32(t, (u32)base);
    tb_u32(t, (u32)(base >> 32));
    tb_u32(t, (u32)len);
    tb_u32(t, (u32)(len >> 32));
    tb_u32(t, 0);
    tb_u32(t, flags);
    tb_u64(t, 0);
}
static void srat_x2apic(struct tb *t, u32 domain, u32 id, u32 flags)
{
    tb_u8(t, 2);
    tb_u8(t, 24);
    tb_u16(t, 0);
    tb_u32(t, domain);
    tb_u32(t, id);
    tb_u32(t, flags);
    tb_u32(t, 0);
    tb_u32(t, 0);
}
static void srat_start(struct tb *t, u8 rev)
{
    tb_start(t, "SRAT", rev);
    tb_u32(t, 1);
    tb_u64(t, 0);
}

static void test_srat_all_types(void **state)
{
    srat_start(&tbuf, 3);
    srat_lapic(&tbuf, 0x000102, 0, ACPI_SRAT_ENABLED); /* 24 high bits used */
    srat_lapic(&tbuf, 1, 1, 0);                        /* disabled */
    srat_x2apic(&tbuf, 7, 0x200, ACPI_SRAT_ENABLED);
    srat_x2apic(&tbuf, 8, 0x201, 0); /* disabled */
    srat_mem(&tbuf, 0x102, 0, 0xa0000, ACPI_SRAT_ENABLED);
    srat_mem(&tbuf, 7, 0x100000000ULL, 0x80000000ULL, ACPI_SRAT_ENABLED | ACPI_SRAT_HOTPLUG | ACPI_SRAT_NONVOLATILE);
    srat_mem(&tbuf, 9, 0, 0, 0);                                          /* disabled (QEMU pads so) */
    srat_mem(&tbuf, 9, 0x1000, 0, ACPI_SRAT_ENABLED);                     /* empty: ignored */
    srat_mem(&tbuf, 9, 0xfffffffffffff000ULL, 0x2000, ACPI_SRAT_ENABLED); /* wraps */
    tb_u8(&tbuf, 3);
    tb_u8(&tbuf, 18);
    tb_zero(&tbuf, 16); /* GICC: ignored */
    tb_finish(&tbuf);
    assert_int_equal(acpi_parse_srat(tbuf.b, tbuf.len, &info), 0);
    const struct acpi_srat_info *s = &info.srat;
    assert_true(info.have_srat);
    assert_int_equal(s->revision, 3);
    assert_int_equal(s->ncpus, 2);
    assert_int_equal(s->cpus[0].domain, 0x102);
    assert_int_equal(s->cpus[0].apic_id, 0);
    assert_false(s->cpus[0].x2apic);
    assert_int_equal(s->cpus[1].domain, 7);
    assert_int_equal(s->cpus[1].apic_id, 0x200);
    assert_true(s->cpus[1].x2apic);
    assert_int_equal(s->nmem, 2);
    assert_int_equal(s->mem[0].domain, 0x102);
    assert_int_equal(s->mem[0].length, 0xa0000);
    assert_false(s->mem[0].hotplug);
    assert_int_equal(s->mem[1].base, 0x100000000ULL);
    assert_int_equal(s->mem[1].length, 0x80000000ULL);
    assert_true(s->mem[1].hotplug);
    assert_true(s->mem[1].nonvolatile);
    assert_int_equal(s->disabled, 3);
    assert_int_equal(s->bad_entries, 1);
    assert_true(log_has("wraps around"));
}

static void test_srat_revision1_domains_are_8_bits(void **state)
{
    srat_start(&tbuf, 1);
    srat_lapic(&tbuf, 0x0301, 3, ACPI_SRAT_ENABLED);
    srat_mem(&tbuf, 0x0302, 0, 0x1000, ACPI_SRAT_ENABLED);
    tb_finish(&tbuf);
    assert_int_equal(acpi_parse_srat(tbuf.b, tbuf.len, &info), 0);
    assert_int_equal(info.srat.cpus[0].domain, 1);
    assert_int_equal(info.srat.mem[0].domain, 2);
    /* too short */
    assert_int_equal(acpi_parse_srat(tbuf.b, 47, &info), -EINVAL);
    assert_false(info.have_srat);
}

static void test_slit_sizes(void **state)
{
    static const u8 m2[4] = { 10, 20, 20, 10 };
    tb_start(&tbuf, "SLIT", 1);
    tb_u64(&tbuf, 2);
    tb_bytes(&tbuf, m2, 4);
    tb_finish(&tbuf);
    assert_int_equal(acpi_parse_slit(tbuf.b, tbuf.len, &info), 0);
    assert_true(info.have_slit);
    assert_int_equal(info.slit.n, 2);
    assert_memory_equal(info.slit.matrix, m2, 4);

    /* one byte short, one byte long */
    memset(&info, 0, sizeof(info));
    assert_int_equal(acpi_parse_slit(tbuf.b, tbuf.len - 1, &info), -EINVAL);
    assert_false(info.have_slit);
    assert_true(log_has("SLIT: length 47 but 2 localities need 48 bytes"));
    tb_u8(&tbuf, 0);
    assert_int_equal(acpi_parse_slit(tbuf.b, tbuf.len, &info), -EINVAL);
    /* zero localities, huge counts (n * n would overflow 32 bits) */
    u64 n = 0;
    memcpy(tbuf.b + 36, &n, 8);
    assert_int_equal(acpi_parse_slit(tbuf.b, 44, &info), -EINVAL);
    n = 0x100000001ULL;
    memcpy(tbuf.b + 36, &n, 8);
    assert_int_equal(acpi_parse_slit(tbuf.b, 48, &info), -EINVAL);
    n = ACPI_MAX_LOCALITIES + 1;
    memcpy(tbuf.b + 36, &n, 8);
    assert_int_equal(acpi_parse_slit(tbuf.b, 48, &info), -EINVAL);
    assert_true(log_has("localities (supported: 1..32)"));
    assert_int_equal(acpi_parse_slit(tbuf.b, 40, &info), -EINVAL);
    assert_false(info.have_slit);
}

/* ---------------------------------------------------------------- MCFG / HPET */

static void mcfg_entry(struct tb *t, u64 base, u16 seg, u8 start, u8 end)
{
    tb_u64(t, base);
    tb_u16(t, seg);
    tb_u8(t, start);
    tb_u8(t, end);
    tb_u32(t, 0);
}

static void test_mcfg(void **state)
{
    tb_start(&tbuf, "MCFG", 1);
    tb_u64(&tbuf, 0);
    mcfg_entry(&tbuf, 0xb0000000, 0, 0, 255);
    mcfg_entry(&tbuf, 0xc0000000, 1, 0x80, 0x8f);
    mcfg_entry(&tbuf, 0xd0000000, 2, 9, 3); /* end < start */
    mcfg_entry(&tbuf, 0, 3, 0, 3);          /* no base */
    tb_finish(&tbuf);
    assert_int_equal(acpi_parse_mcfg(tbuf.b, tbuf.len, &info), 0);
    assert_true(info.have_mcfg);
    assert_int_equal(info.nmcfg, 2);
    assert_int_equal(info.mcfg[0].base, 0xb0000000);
    assert_int_equal(info.mcfg[0].end_bus, 255);
    assert_int_equal(info.mcfg[1].segment, 1);
    assert_int_equal(info.mcfg[1].start_bus, 0x80);
    assert_int_equal(info.mcfg[1].end_bus, 0x8f);
    assert_true(log_has("MCFG: allocation 2 (base 0xd0000000, segment 2, buses 9-3) is invalid"));

    memset(&info, 0, sizeof(info));
    assert_int_equal(acpi_parse_mcfg(tbuf.b, tbuf.len - 4, &info), -EINVAL);
    assert_false(info.have_mcfg);
    assert_true(log_has("not 44 plus whole 16-byte allocations"));
}

static void test_hpet(void **state)
{
    tb_start(&tbuf, "HPET", 1);
    tb_u32(&tbuf, 0x8086a201);
    tb_gas(&tbuf, ACPI_SPACE_MEMORY, 64, 0xfed00000);
    tb_u8(&tbuf, 0);
    tb_u16(&tbuf, 0x80);
    tb_u8(&tbuf, 0);
    tb_finish(&tbuf);
    assert_int_equal(acpi_parse_hpet(tbuf.b, tbuf.len, &info), 0);
    assert_true(info.have_hpet);
    assert_int_equal(info.hpet.base, 0xfed00000);
    assert_int_equal(info.hpet.comparators, 3);
    assert_int_equal(info.hpet.vendor_id, 0x8086);
    assert_true(info.hpet.counter_64bit);
    assert_true(info.hpet.legacy_replacement);
    assert_int_equal(info.hpet.min_tick, 0x80);

    tbuf.b[40] = ACPI_SPACE_IO;
    memset(&info, 0, sizeof(info));
    assert_int_equal(acpi_parse_hpet(tbuf.b, tbuf.len, &info), -EINVAL);
    assert_false(info.have_hpet);
    assert_true(log_has("HPET: base register is in address space 1"));
    assert_int_equal(acpi_parse_hpet(tbuf.b, 55, &info), -EINVAL);
}

static void test_second_table_of_a_kind_ignored(void **state)
{
    struct fake_mem m;
    struct tb *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    madt_start(a);
    madt_lapic(a, 0, 0, 1);
    tb_finish(a);
    madt_start(b);
    madt_lapic(b, 0, 5, 1);
    madt_lapic(b, 1, 6, 1);
    tb_finish(b);
    struct tb *tables[2] = { a, b };
    u64 rsdp = machine_with(&m, tables, 2);
    struct acpi_mem mem = fm_acpi(&m);
    assert_int_equal(acpi_parse(&mem, rsdp, &info), 0);
    assert_int_equal(info.madt.ncpus, 1);
    assert_true(log_has("second APIC table at 0x11000 ignored"));
    assert_true(log_has("no usable FACP"));
    fm_free(&m);
    free(a);
    free(b);
}

static void test_eisaid(void **state)
{
    char s[8];
    assert_int_equal(acpi_eisaid_encode("PNP0A03"), 0x030AD041u);
    assert_int_equal(acpi_eisaid_encode("PNP0A08"), 0x080AD041u);
    acpi_eisaid_decode(0x030AD041u, s);
    assert_string_equal(s, "PNP0A03");
    acpi_eisaid_decode(acpi_eisaid_encode("QEM0002"), s);
    assert_string_equal(s, "QEM0002");
}

/* ---------------------------------------------------------------- real fixtures */

static void parse_fixture(struct fake_mem *m, const char *machine)
{
    u64 rsdp = fixture_load(m, machine);
    struct acpi_mem mem = fm_acpi(m);
    assert_int_equal(acpi_parse(&mem, rsdp, &info), 0);
    /* Every table QEMU+OVMF hand over is well formed: nothing bad logged. */
    for (u32 i = 0; i < info.ntables; i++)
        assert_int_equal(info.tables[i].status, ACPI_TABLE_OK);
    assert_int_equal(test_log_count[LOG_WARN], 0);
    assert_int_equal(test_log_count[LOG_ERROR], 0);
    assert_true(info.using_xsdt);
    assert_int_equal(info.rsdp_revision, 2);
    assert_true(info.have_fadt);
    assert_true(info.have_madt);
    assert_true(info.have_dsdt);
    assert_true(info.have_hpet);
    assert_int_equal(info.hpet.base, 0xfed00000);
    assert_int_equal(info.madt.lapic_base, 0xfee00000);
    assert_int_equal(info.madt.nioapics, 1);
    assert_int_equal(info.madt.ioapics[0].address, 0xfec00000);
    assert_int_equal(info.madt.ioapics[0].gsi_base, 0);
    assert_int_equal(info.madt.nisos, 5);
    assert_int_equal(info.madt.isos[0].source, 0);
    assert_int_equal(info.madt.isos[0].gsi, 2);
    assert_int_equal(info.madt.nlapic_nmis, 1);
    assert_int_equal(info.madt.lapic_nmis[0].uid, 0xff);
    assert_int_equal(info.madt.lapic_nmis[0].lint, 1);
    assert_int_equal(info.fadt.sci_irq, 9);
    assert_true(info.s5.valid);
    assert_int_equal(info.s5.slp_typa, 0); /* QEMU: Package { Zero, Zero, Zero, Zero } */
    assert_int_equal(info.s5.slp_typb, 0);
    assert_int_equal(info.aml.not_understood, 0); /* QEMU's AML is all understood */
}

static void assert_cpus(const u32 *apic_ids, u32 n)
{
    assert_int_equal(info.madt.ncpus, n);
    for (u32 i = 0; i < n; i++) {
        assert_int_equal(info.madt.cpus[i].apic_id, apic_ids[i]);
        assert_int_equal(info.madt.cpus[i].uid, i);
        assert_true(info.madt.cpus[i].enabled);
        assert_false(info.madt.cpus[i].x2apic);
    }
}

static void test_fixture_pc_1node(void **state)
{
    struct fake_mem m;
    static const u32 ids[] = { 0 };
    parse_fixture(&m, "pc-1node");
    assert_int_equal(info.fadt.revision, 1);
    assert_int_equal(info.fadt.length, 116);
    assert_int_equal(info.fadt.pm1a_cnt.space, ACPI_SPACE_IO);
    assert_int_equal(info.fadt.pm1a_cnt.address, 0xb004);
    assert_int_equal(info.fadt.pm1a_cnt.bit_width, 16);
    assert_int_equal(info.fadt.pm1b_cnt.address, 0);
    assert_int_equal(info.fadt.pm_tmr.address, 0xb008);
    assert_int_equal(info.fadt.pm_tmr_bits, 24);
    assert_false(info.fadt.reset_supported);
    assert_false(info.fadt.hw_reduced);
    assert_int_equal(info.fadt.century, 0x32);
    assert_cpus(ids, 1);
    assert_false(info.have_srat);
    assert_false(info.have_slit);
    assert_false(info.have_mcfg);
    assert_int_equal(info.npci_roots, 1);
    const struct acpi_pci_root *r = find_root(&info, "\\_SB_.PCI0");
    assert_non_null(r);
    assert_string_equal(r->hid, "PNP0A03");
    assert_false(r->pcie);
    assert_int_equal(r->segment, 0);
    assert_int_equal(r->base_bus, 0);
    assert_false(r->has_pxm);
    fm_free(&m);
}

static void test_fixture_q35_2node_pxb(void **state)
{
    struct fake_mem m;
    static const u32 ids[] = { 0, 1, 2, 3 };
    parse_fixture(&m, "q35-2node-pxb");
    assert_int_equal(info.fadt.revision, 3);
    assert_int_equal(info.fadt.length, 244);
    assert_int_equal(info.fadt.pm1a_cnt.address, 0x604);
    assert_int_equal(info.fadt.pm_tmr.address, 0x608);
    assert_true(info.fadt.reset_supported);
    assert_int_equal(info.fadt.reset_reg.space, ACPI_SPACE_IO);
    assert_int_equal(info.fadt.reset_reg.address, 0xcf9);
    assert_int_equal(info.fadt.reset_value, 0x0f);
    assert_cpus(ids, 4);
    assert_true(info.have_mcfg);
    assert_int_equal(info.nmcfg, 1);
    assert_int_equal(info.mcfg[0].base, 0xb0000000);
    assert_int_equal(info.mcfg[0].segment, 0);
    assert_int_equal(info.mcfg[0].start_bus, 0);
    assert_int_equal(info.mcfg[0].end_bus, 255);
    assert_int_equal(info.hpet.comparators, 3);
    /* SRAT: CPUs 0-1 on domain 0, 2-3 on domain 1; 256 MiB each. */
    assert_true(info.have_srat);
    assert_int_equal(info.srat.ncpus, 4);
    for (u32 i = 0; i < 4; i++) {
        assert_int_equal(info.srat.cpus[i].apic_id, i);
        assert_int_equal(info.srat.cpus[i].domain, i / 2);
    }
    assert_int_equal(info.srat.nmem, 3);
    assert_int_equal(info.srat.mem[0].base, 0);
    assert_int_equal(info.srat.mem[0].length, 0xa0000);
    assert_int_equal(info.srat.mem[0].domain, 0);
    assert_int_equal(info.srat.mem[1].base, 0x100000);
    assert_int_equal(info.srat.mem[1].length, 0x10000000 - 0x100000);
    assert_int_equal(info.srat.mem[1].domain, 0);
    assert_int_equal(info.srat.mem[2].base, 0x10000000);
    assert_int_equal(info.srat.mem[2].length, 0x10000000);
    assert_int_equal(info.srat.mem[2].domain, 1);
    assert_true(info.have_slit);
    assert_int_equal(info.slit.n, 2);
    static const u8 dist[4] = { 10, 20, 20, 10 };
    assert_memory_equal(info.slit.matrix, dist, 4);
    /* The main root bridge and the pxb-pcie expander on bus 0x80, _PXM 1. */
    assert_int_equal(info.npci_roots, 2);
    const struct acpi_pci_root *r = find_root(&info, "\\_SB_.PCI0");
    assert_non_null(r);
    assert_string_equal(r->hid, "PNP0A08");
    assert_true(r->pcie);
    assert_int_equal(r->base_bus, 0);
    assert_false(r->has_pxm);
    r = find_root(&info, "\\_SB_.PC80");
    assert_non_null(r);
    assert_string_equal(r->hid, "PNP0A08");
    assert_true(r->pcie);
    assert_true(r->has_bbn);
    assert_int_equal(r->base_bus, 0x80);
    assert_int_equal(r->segment, 0);
    assert_true(r->has_pxm);
    assert_int_equal(r->pxm, 1);
    assert_true(r->has_uid);
    assert_int_equal(r->uid, 0x80);
    fm_free(&m);
}

static void test_fixture_pc_3node(void **state)
{
    struct fake_mem m;
    static const u32 ids[] = { 0, 1, 2 };
    parse_fixture(&m, "pc-3node");
    assert_int_equal(info.fadt.length, 116);
    assert_cpus(ids, 3);
    assert_true(info.have_srat);
    assert_false(info.have_slit);
    assert_int_equal(info.srat.ncpus, 3);
    for (u32 i = 0; i < 3; i++) {
        assert_int_equal(info.srat.cpus[i].apic_id, i);
        assert_int_equal(info.srat.cpus[i].domain, i);
    }
    /* 128 MiB (less the legacy hole), 256 MiB and 384 MiB. */
    assert_int_equal(info.srat.nmem, 4);
    assert_int_equal(info.srat.mem[0].base, 0);
    assert_int_equal(info.srat.mem[0].length, 0xa0000);
    assert_int_equal(info.srat.mem[1].base, 0x100000);
    assert_int_equal(info.srat.mem[1].length, 0x8000000 - 0x100000);
    assert_int_equal(info.srat.mem[1].domain, 0);
    assert_int_equal(info.srat.mem[2].base, 0x8000000);
    assert_int_equal(info.srat.mem[2].length, 0x10000000);
    assert_int_equal(info.srat.mem[2].domain, 1);
    assert_int_equal(info.srat.mem[3].base, 0x18000000);
    assert_int_equal(info.srat.mem[3].length, 0x18000000);
    assert_int_equal(info.srat.mem[3].domain, 2);
    assert_int_equal(info.npci_roots, 1);
    assert_non_null(find_root(&info, "\\_SB_.PCI0"));
    fm_free(&m);
}

/* The fixture loader's own contract: exact-size regions, nothing between them. */
static void test_fixture_loader_bounds(void **state)
{
    struct fake_mem m;
    u64 rsdp = fixture_load(&m, "pc-1node");
    struct acpi_mem mem = fm_acpi(&m);
    assert_non_null(mem.map(mem.opaque, rsdp, 36));
    assert_null(mem.map(mem.opaque, rsdp, 37));
    assert_null(mem.map(mem.opaque, rsdp - 1, 2));
    assert_null(mem.map(mem.opaque, 0, 16));
    fm_free(&m);
}

/* Random corruption of real tables, with checksums made right again so the parsers
 * (not just the checksum test) see the damage: nothing may be read out of bounds
 * (ASan) and acpi_parse() must still return. */
static u64 rng = 0x9e3779b9;
static u32 rnd(void) { return (u32)xorshift64(&rng); }

static void test_mutated_fixture_tables(void **state)
{
    static const char *const machines[] = { "pc-1node", "q35-2node-pxb", "pc-3node", "q35-intel-iommu",
                                            "q35-amd-iommu" };
    for (u32 k = 0; k < ARRAY_SIZE(machines); k++) {
        struct fake_mem m;
        u64 rsdp = fixture_load(&m, machines[k]);
        struct acpi_mem mem = fm_acpi(&m);
        for (u32 iter = 0; iter < 400; iter++) {
            /* Any table but the RSDP, the root tables (their fallbacks are tested above,
             * and a captured fixture may hold no RSDT to fall back to) and the FACS. */
            struct fm_region *r = &m.r[1 + rnd() % (m.n - 1)];
            if (r->len < 40 || memcmp(r->data, "FACS", 4) == 0 || memcmp(r->data, "XSDT", 4) == 0 ||
                memcmp(r->data, "RSDT", 4) == 0)
                continue;
            u8 *saved = malloc(r->len);
            memcpy(saved, r->data, r->len);
            u32 flips = 1 + rnd() % 8;
            for (u32 f = 0; f < flips; f++) {
                u32 at = rnd() % (u32)r->len;
                if (at == 4 && rnd() % 2 == 0)
                    continue; /* mostly keep the length sane */
                r->data[at] = (u8)rnd();
            }
            u32 claimed;
            memcpy(&claimed, r->data + 4, 4);
            if (claimed >= 10 && claimed <= r->len)
                tb_fix_checksum(r->data, claimed, 9);
            test_stubs_reset();
            assert_int_equal(acpi_parse(&mem, rsdp, &info), 0);
            assert_true(info.ntables <= ACPI_MAX_TABLES);
            assert_true(info.madt.ncpus <= ACPI_MAX_MADT_CPUS);
            assert_true(info.npci_roots <= ACPI_MAX_PCI_ROOTS);
            memcpy(r->data, saved, r->len);
            free(saved);
        }
        fm_free(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_rsdp_rev0_rsdt, setup),
        cmocka_unit_test_setup(test_rsdp_rev2_prefers_xsdt, setup),
        cmocka_unit_test_setup(test_rsdp_errors, setup),
        cmocka_unit_test_setup(test_rsdp_bad_extended_checksum_uses_rsdt, setup),
        cmocka_unit_test_setup(test_bad_xsdt_falls_back_to_rsdt, setup),
        cmocka_unit_test_setup(test_bad_tables_are_listed_and_skipped, setup),
        cmocka_unit_test_setup(test_find_table_instances_and_dsdt_facs, setup),
        cmocka_unit_test_setup(test_dsdt_with_wrong_signature, setup),
        cmocka_unit_test_setup(test_dsdt_pointer_at_listed_table, setup),
        cmocka_unit_test_setup(test_facs_length_checked, setup),
        cmocka_unit_test_setup(test_table_cap, setup),
        cmocka_unit_test_setup(test_fadt_rev1_116_bytes, setup),
        cmocka_unit_test_setup(test_fadt_full_forms, setup),
        cmocka_unit_test_setup(test_fadt_hw_reduced_and_short, setup),
        cmocka_unit_test_setup(test_madt_all_entry_types, setup),
        cmocka_unit_test_setup(test_madt_zero_length_entry_stops, setup),
        cmocka_unit_test_setup(test_madt_entry_past_end_and_short_entries, setup),
        cmocka_unit_test_setup(test_madt_caps, setup),
        cmocka_unit_test_setup(test_srat_all_types, setup),
        cmocka_unit_test_setup(test_srat_revision1_domains_are_8_bits, setup),
        cmocka_unit_test_setup(test_slit_sizes, setup),
        cmocka_unit_test_setup(test_mcfg, setup),
        cmocka_unit_test_setup(test_hpet, setup),
        cmocka_unit_test_setup(test_second_table_of_a_kind_ignored, setup),
        cmocka_unit_test_setup(test_eisaid, setup),
        cmocka_unit_test_setup(test_fixture_loader_bounds, setup),
        cmocka_unit_test_setup(test_fixture_pc_1node, setup),
        cmocka_unit_test_setup(test_fixture_q35_2node_pxb, setup),
        cmocka_unit_test_setup(test_fixture_pc_3node, setup),
        cmocka_unit_test_setup(test_mutated_fixture_tables, setup),
    };
    int failed = cmocka_run_group_tests_name("acpi tables", tests, NULL, NULL);
    failed += run_aml_tests();
    return failed ? 1 : 0;
}
