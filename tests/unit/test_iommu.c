/* DMA remapping discovery: the DMAR and IVRS parsers on the tables QEMU 7.2 gives
 * with -device intel-iommu and -device amd-iommu (tests/unit/fixtures/acpi/), on
 * crafted tables, and on malformed ones that must be reported and not used
 * without a byte read outside them (every table sits in a heap block of exactly
 * its size, and the tests run under ASan/UBSan); then which unit covers which
 * function, DMAR paths followed through a PCI list built by hand. */
#include "tests/unit/test_acpi_util.c"
#include "tests/unit/xorshift.h"
#include "drivers/iommu.h"
#include "kernel/lib/errno.h"

static struct acpi_info info;
static struct iommu_model model;

static int setup(void **state)
{
    (void)state;
    test_stubs_reset();
    memset(&info, 0, sizeof(info));
    return 0;
}

/* ---------------------------------------------------------------- PCI lists */

static struct pci_list pci;

static void pci_reset(void) { memset(&pci, 0, sizeof(pci)); }

static void pci_add(u16 seg, u8 bus, u8 dev, u8 fn, bool bridge, u8 sec, u8 sub)
{
    assert_true(pci.count < PCI_MAX_DEVICES);
    struct pci_dev *d = &pci.dev[pci.count++];
    memset(d, 0, sizeof(*d));
    d->seg = seg;
    d->bus = bus;
    d->dev = dev;
    d->fn = fn;
    d->bridge = bridge;
    d->sec_bus = sec;
    d->sub_bus = sub;
}

/* QEMU q35 as the profiles give it: host bridge, a root port to bus 1 with the
 * e1000e, the ICH9 functions; on AMD the IOMMU's own function at 00:01.0 moves
 * the root port to 00:02.0. */
static void pci_q35(bool amd)
{
    pci_reset();
    pci_add(0, 0, 0, 0, false, 0, 0);
    if (amd)
        pci_add(0, 0, 1, 0, false, 0, 0);
    pci_add(0, 0, amd ? 2 : 1, 0, true, 1, 1);
    pci_add(0, 1, 0, 0, false, 0, 0);
    pci_add(0, 0, 0x1f, 0, false, 0, 0);
    pci_add(0, 0, 0x1f, 2, false, 0, 0);
    pci_add(0, 0, 0x1f, 3, false, 0, 0);
}

static struct iommu_cover look(u16 seg, u8 bus, u8 dev, u8 fn)
{
    return iommu_lookup(&model, seg, bus, (u8)(dev << 3 | fn));
}

static void assert_cover(struct iommu_cover c, u8 how, int unit)
{
    if (c.how != how || c.unit != unit)
        fail_msg("cover: how %u unit %d, expected how %u unit %d", c.how, c.unit, how, unit);
}

static void assert_scope_text(u32 i, const char *want)
{
    char buf[128];
    iommu_scope_text(&model, i, buf, sizeof(buf));
    if (strcmp(buf, want) != 0)
        fail_msg("scope %u: \"%s\", expected \"%s\"", i, buf, want);
}

/* ---------------------------------------------------------------- real tables */

static void parse_machine(struct fake_mem *m, const char *machine)
{
    u64 rsdp = fixture_load(m, machine);
    struct acpi_mem mem = fm_acpi(m);
    assert_int_equal(acpi_parse(&mem, rsdp, &info), 0);
    assert_int_equal(test_log_count[LOG_WARN], 0);
    assert_int_equal(test_log_count[LOG_ERROR], 0);
}

static void test_qemu_intel_iommu(void **state)
{
    struct fake_mem m;
    parse_machine(&m, "q35-intel-iommu");
    const struct acpi_iommu_info *io = &info.iommu;
    assert_true(info.have_dmar);
    assert_false(info.have_ivrs);
    assert_string_equal(io->dmar_error, "");
    assert_int_equal(io->dmar_haw, 39);
    assert_true(io->dmar_intr_remap); /* intremap=on */
    assert_int_equal(io->nunits, 1);
    const struct acpi_iommu_unit *u = &io->units[0];
    assert_int_equal(u->vendor, ACPI_IOMMU_VTD);
    assert_int_equal(u->base, 0xfed90000);
    assert_int_equal(u->segment, 0);
    assert_true(u->usable);
    assert_true(u->scopes_complete);
    /* QEMU 7.2 names every function on bus 0 instead of INCLUDE_PCI_ALL. */
    assert_false(u->include_all);
    assert_int_equal(u->nscopes, 6);
    assert_int_equal(io->scopes[0].kind, ACPI_IOMMU_SCOPE_IOAPIC);
    assert_int_equal(io->scopes[0].enum_id, 0);
    assert_int_equal(io->scopes[0].start_bus, 0xff);
    assert_int_equal(io->scopes[2].kind, ACPI_IOMMU_SCOPE_BRIDGE);
    assert_int_equal(io->scopes[2].path[0], 1 << 3);
    assert_int_equal(io->nregions, 0);

    pci_q35(false);
    iommu_model_build(io, &pci, &model);
    assert_int_equal(model.nunresolved, 0);
    for (u32 i = 0; i < pci.count; i++) {
        const struct pci_dev *d = &pci.dev[i];
        assert_cover(look(d->seg, d->bus, d->dev, d->fn), IOMMU_SCOPE, 0);
    }
    assert_cover(look(0, 1, 7, 3), IOMMU_SCOPE, 0); /* anything below the root port */
    assert_cover(look(0, 0, 3, 0), IOMMU_NONE, -1); /* named by no scope */
    assert_cover(look(0, 2, 0, 0), IOMMU_NONE, -1);
    assert_cover(look(1, 0, 0, 0), IOMMU_NONE, -1); /* another segment */
    assert_scope_text(0, "I/O APIC 0, source ff:00.0");
    assert_scope_text(2, "bridge 00:01.0 = 00:01.0, buses 01-01");
    assert_scope_text(4, "endpoint 00:1f.2 = 00:1f.2");
    fm_free(&m);
}

static void test_qemu_amd_iommu(void **state)
{
    struct fake_mem m;
    parse_machine(&m, "q35-amd-iommu");
    const struct acpi_iommu_info *io = &info.iommu;
    assert_true(info.have_ivrs);
    assert_false(info.have_dmar);
    assert_int_equal(io->ivinfo, 0x2800);
    assert_int_equal(io->nunits, 1);
    const struct acpi_iommu_unit *u = &io->units[0];
    assert_int_equal(u->vendor, ACPI_IOMMU_AMDVI);
    assert_int_equal(u->type, ACPI_IVRS_IVHD_10);
    assert_int_equal(u->base, 0xfed80000);
    assert_int_equal(u->device_id, 0x0008); /* 00:01.0 */
    assert_int_equal(u->cap_offset, 0x40);
    assert_true(u->usable);
    assert_false(u->include_all);
    assert_int_equal(u->nscopes, 8);
    assert_int_equal(io->scopes[3].kind, ACPI_IOMMU_SCOPE_RANGE);
    assert_int_equal(io->scopes[3].first, 0x0100);
    assert_int_equal(io->scopes[3].last, 0x01ff);
    assert_int_equal(io->scopes[7].kind, ACPI_IOMMU_SCOPE_IOAPIC);
    assert_int_equal(io->scopes[7].first, 0x00a0); /* 00:14.0, QEMU's I/O APIC source */

    pci_q35(true);
    iommu_model_build(io, &pci, &model);
    for (u32 i = 0; i < pci.count; i++) {
        const struct pci_dev *d = &pci.dev[i];
        assert_cover(look(d->seg, d->bus, d->dev, d->fn), IOMMU_SCOPE, 0);
    }
    assert_cover(look(0, 1, 31, 7), IOMMU_SCOPE, 0);
    assert_cover(look(0, 0, 3, 0), IOMMU_NONE, -1);
    assert_cover(look(0, 2, 0, 0), IOMMU_NONE, -1);
    assert_scope_text(3, "devices 01:00.0-01:1f.7");
    assert_scope_text(7, "I/O APIC 0, source 00:14.0");
    fm_free(&m);
}

/* ---------------------------------------------------------------- DMAR builder */

static struct tb t;

static void dmar_start(void)
{
    tb_start(&t, "DMAR", 1);
    tb_u8(&t, 38); /* 39-bit */
    tb_u8(&t, 1);
    tb_zero(&t, 10);
}

/* Starts a DRHD; dmar_end_struct() fills its length. Returns its offset. */
static u32 drhd_start(u8 flags, u16 seg, u64 base)
{
    u32 at = t.len;
    tb_u16(&t, ACPI_DMAR_TYPE_DRHD);
    tb_u16(&t, 0);
    tb_u8(&t, flags);
    tb_u8(&t, 0);
    tb_u16(&t, seg);
    tb_u64(&t, base);
    return at;
}

static u32 rmrr_start(u16 seg, u64 base, u64 limit)
{
    u32 at = t.len;
    tb_u16(&t, ACPI_DMAR_TYPE_RMRR);
    tb_u16(&t, 0);
    tb_u16(&t, 0);
    tb_u16(&t, seg);
    tb_u64(&t, base);
    tb_u64(&t, limit);
    return at;
}

static void struct_end(u32 at)
{
    u16 len = (u16)(t.len - at);
    memcpy(t.b + at + 2, &len, 2);
}

/* A scope of `type` from start_bus through n (dev, fn) hops. */
static void scope(u8 type, u8 enum_id, u8 start_bus, u32 n, const u8 *hops)
{
    tb_u8(&t, type);
    tb_u8(&t, (u8)(6 + 2 * n));
    tb_u16(&t, 0);
    tb_u8(&t, enum_id);
    tb_u8(&t, start_bus);
    tb_bytes(&t, hops, 2 * n);
}

static int parse_dmar(void)
{
    tb_finish(&t);
    /* An exactly sized copy, so that ASan sees a read past the end. */
    u8 *copy = malloc(t.len);
    memcpy(copy, t.b, t.len);
    int rc = acpi_parse_dmar(copy, t.len, &info);
    free(copy);
    return rc;
}

/* Segment 0: iommu0 names a device two bridges down and an I/O APIC; iommu1 is
 * INCLUDE_PCI_ALL. Segment 1: iommu2 names one endpoint. An RMRR for a USB
 * controller. Bus 0 -> root port 00:1c.0 (buses 2-3) -> switch port 02:00.0
 * (bus 3) -> 03:00.0. */
static void build_two_segment_dmar(void)
{
    static const u8 deep[] = { 0x1c, 0, 0, 0, 0, 0 };
    static const u8 ioapic[] = { 0x1e, 1 };
    static const u8 usb[] = { 0x1d, 0 };
    static const u8 absent[] = { 0x05, 0, 0, 0 };
    dmar_start();
    u32 a = drhd_start(0, 0, 0xfed90000);
    scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 3, deep);
    scope(ACPI_DMAR_SCOPE_IOAPIC, 2, 0xf0, 1, ioapic);
    scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 2, absent);
    struct_end(a);
    u32 b = drhd_start(ACPI_DRHD_INCLUDE_PCI_ALL, 0, 0xfed91000);
    struct_end(b);
    u32 c = drhd_start(0, 1, 0xfed92000);
    scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 1, usb);
    struct_end(c);
    u32 r = rmrr_start(0, 0x7e000000, 0x7e01ffff);
    scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 1, usb);
    struct_end(r);
    /* An ATSR and a reserved type: counted, not read. */
    tb_u16(&t, ACPI_DMAR_TYPE_ATSR);
    tb_u16(&t, 8);
    tb_u32(&t, 0);
    tb_u16(&t, 9);
    tb_u16(&t, 4);
}

static void pci_two_segments(void)
{
    pci_reset();
    pci_add(0, 0, 0, 0, false, 0, 0);
    pci_add(0, 0, 0x1c, 0, true, 2, 3);
    pci_add(0, 2, 0, 0, true, 3, 3);
    pci_add(0, 3, 0, 0, false, 0, 0);
    pci_add(0, 0, 0x1d, 0, false, 0, 0);
    pci_add(1, 0, 0x1d, 0, false, 0, 0);
    pci_add(1, 0, 0x02, 0, false, 0, 0);
}

static void test_dmar_paths_through_bridges(void **state)
{
    build_two_segment_dmar();
    assert_int_equal(parse_dmar(), 0);
    const struct acpi_iommu_info *io = &info.iommu;
    assert_true(info.have_dmar);
    assert_int_equal(io->nunits, 3);
    assert_int_equal(io->dmar_atsr, 1);
    assert_int_equal(io->dmar_other, 1);
    assert_true(io->units[1].include_all);
    for (u32 i = 0; i < 3; i++)
        assert_true(io->units[i].usable);
    assert_int_equal(io->nregions, 1);
    assert_int_equal(io->regions[0].kind, ACPI_IOMMU_RMRR);
    assert_int_equal(io->regions[0].base, 0x7e000000);
    assert_int_equal(io->regions[0].length, 0x20000);
    assert_int_equal(io->regions[0].nscopes, 1);
    assert_true(io->scopes[io->regions[0].first_scope].in_region);

    pci_two_segments();
    test_stubs_reset();
    iommu_model_build(io, &pci, &model);
    /* 00:05.0 is no bridge in this list: said so, once. */
    assert_int_equal(model.nunresolved, 1);
    assert_int_equal(test_log_count[LOG_WARN], 1);
    assert_scope_text(0, "endpoint 00:1c.0/00.0/00.0 = 03:00.0");
    assert_scope_text(1, "I/O APIC 2, source f0:1e.1");
    assert_scope_text(2, "endpoint 00:05.0/00.0: bridge 00:05.0 absent");
    assert_cover(look(0, 3, 0, 0), IOMMU_SCOPE, 0);
    /* The bridges on the way are not the endpoint: the include-all unit's. */
    assert_cover(look(0, 0, 0x1c, 0), IOMMU_ALL, 1);
    assert_cover(look(0, 2, 0, 0), IOMMU_ALL, 1);
    assert_cover(look(0, 0, 0, 0), IOMMU_ALL, 1);
    assert_cover(look(1, 0, 0x1d, 0), IOMMU_SCOPE, 2);
    assert_cover(look(1, 0, 0x02, 0), IOMMU_NONE, -1); /* segment 1 has no include-all unit */
    assert_cover(look(2, 0, 0, 0), IOMMU_NONE, -1);
    char buf[16];
    iommu_cover_text(look(0, 3, 0, 0), buf, sizeof(buf));
    assert_string_equal(buf, "iommu0");
    iommu_cover_text(look(1, 0, 2, 0), buf, sizeof(buf));
    assert_string_equal(buf, "none");
}

/* A bridge scope covers the bridge and every bus below it. */
static void test_dmar_bridge_scope(void **state)
{
    static const u8 rp[] = { 0x1c, 0 };
    dmar_start();
    u32 a = drhd_start(0, 0, 0xfed90000);
    scope(ACPI_DMAR_SCOPE_BRIDGE, 0, 0, 1, rp);
    struct_end(a);
    assert_int_equal(parse_dmar(), 0);
    pci_two_segments();
    iommu_model_build(&info.iommu, &pci, &model);
    assert_cover(look(0, 0, 0x1c, 0), IOMMU_SCOPE, 0);
    assert_cover(look(0, 2, 0, 0), IOMMU_SCOPE, 0);
    assert_cover(look(0, 3, 0, 0), IOMMU_SCOPE, 0);
    assert_cover(look(0, 4, 0, 0), IOMMU_NONE, -1);
    assert_cover(look(0, 1, 0, 0), IOMMU_NONE, -1);
    assert_scope_text(0, "bridge 00:1c.0 = 00:1c.0, buses 02-03");
    /* Without the bridge in the list, nothing can be below it. */
    pci_reset();
    iommu_model_build(&info.iommu, &pci, &model);
    assert_cover(look(0, 0, 0x1c, 0), IOMMU_SCOPE, 0);
    assert_cover(look(0, 2, 0, 0), IOMMU_NONE, -1);
    assert_scope_text(0, "bridge 00:1c.0 = 00:1c.0: absent");
}

/* ---------------------------------------------------------------- malformed DMARs */

static void assert_dmar_rejected(const char *why)
{
    assert_int_equal(parse_dmar(), -EINVAL);
    assert_false(info.have_dmar);
    assert_int_equal(info.iommu.nunits, 0);
    assert_int_equal(info.iommu.nscopes, 0);
    assert_int_equal(info.iommu.nregions, 0);
    if (!strstr(info.iommu.dmar_error, why))
        fail_msg("error \"%s\" lacks \"%s\"", info.iommu.dmar_error, why);
    assert_true(test_log_count[LOG_WARN] >= 1);
}

static void test_dmar_table_errors(void **state)
{
    /* Shorter than its fixed part. */
    tb_start(&t, "DMAR", 1);
    tb_u8(&t, 38);
    assert_dmar_rejected("shorter than its fixed part");

    /* Address width out of range. */
    dmar_start();
    t.b[36] = 5;
    assert_dmar_rejected("host address width 6 bits");

    /* A structure of length 0, which would loop forever, after a good unit:
     * the good unit goes too. */
    build_two_segment_dmar();
    tb_u16(&t, ACPI_DMAR_TYPE_DRHD);
    tb_u16(&t, 0);
    tb_zero(&t, 12);
    assert_dmar_rejected("has length 0");

    /* A DRHD shorter than its 16 fixed bytes. */
    dmar_start();
    tb_u16(&t, ACPI_DMAR_TYPE_DRHD);
    tb_u16(&t, 12);
    tb_zero(&t, 8);
    assert_dmar_rejected("less than 16");

    /* A structure running past the table's end. */
    dmar_start();
    u32 a = drhd_start(0, 0, 0xfed90000);
    struct_end(a);
    t.b[a + 2] = 40;
    assert_dmar_rejected("runs past the table's end");

    /* Stray bytes after the last structure. */
    dmar_start();
    a = drhd_start(ACPI_DRHD_INCLUDE_PCI_ALL, 0, 0xfed90000);
    struct_end(a);
    tb_u16(&t, 0);
    assert_dmar_rejected("stray byte");

    /* More units than the cap: reported, none used. */
    dmar_start();
    for (u32 i = 0; i <= ACPI_MAX_IOMMUS; i++)
        struct_end(drhd_start(0, (u16)i, 0xfed90000 + 0x1000ull * i));
    assert_dmar_rejected("more than 16 remapping units");
}

static void assert_unit_bad(u32 unit, bool scopes_complete, const char *why)
{
    const struct acpi_iommu_unit *u = &info.iommu.units[unit];
    assert_true(info.have_dmar || info.have_ivrs);
    assert_false(u->usable);
    assert_int_equal(u->scopes_complete, scopes_complete);
    if (!strstr(u->error, why))
        fail_msg("unit %u: error \"%s\" lacks \"%s\"", unit, u->error, why);
}

/* A scope that cannot be read makes its unit unusable, and then the segment's
 * include-all unit cannot say which devices are its own. */
static void dmar_bad_scope(const u8 *raw, u32 n, const char *why)
{
    static const u8 ok[] = { 0x1d, 0 };
    test_stubs_reset();
    memset(&info, 0, sizeof(info));
    dmar_start();
    u32 a = drhd_start(0, 0, 0xfed90000);
    scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 1, ok);
    tb_bytes(&t, raw, n);
    struct_end(a);
    u32 b = drhd_start(ACPI_DRHD_INCLUDE_PCI_ALL, 0, 0xfed91000);
    struct_end(b);
    assert_int_equal(parse_dmar(), 0);
    assert_int_equal(info.iommu.nunits, 2);
    assert_unit_bad(0, false, why);
    assert_true(info.iommu.units[1].usable);
    pci_reset();
    iommu_model_build(&info.iommu, &pci, &model);
    assert_cover(look(0, 0, 0x1d, 0), IOMMU_BAD_UNIT, 0);
    assert_cover(look(0, 0, 0x02, 0), IOMMU_UNKNOWN, 1);
    char buf[16];
    iommu_cover_text(look(0, 0, 0x1d, 0), buf, sizeof(buf));
    assert_string_equal(buf, "bad:iommu0");
}

static void test_dmar_scope_errors(void **state)
{
    static const u8 zero_len[] = { 1, 0, 0, 0, 0, 0, 0, 0 };
    static const u8 odd_len[] = { 1, 9, 0, 0, 0, 0, 0x1e, 0, 0 };
    static const u8 no_hop[] = { 1, 6, 0, 0, 0, 0 };
    static const u8 past_end[] = { 1, 10, 0, 0, 0, 0, 0x1e, 0 };
    static const u8 stray[] = { 1, 8, 0, 0 };
    static const u8 bad_dev[] = { 1, 8, 0, 0, 0, 0, 32, 0 };
    static const u8 bad_fn[] = { 2, 8, 0, 0, 0, 0, 1, 8 };
    u8 long_path[6 + 2 * (ACPI_MAX_IOMMU_HOPS + 1)] = { 1, sizeof(long_path) };
    dmar_bad_scope(zero_len, sizeof(zero_len), "has length 0");
    dmar_bad_scope(odd_len, sizeof(odd_len), "has length 9");
    dmar_bad_scope(no_hop, sizeof(no_hop), "has length 6");
    dmar_bad_scope(past_end, sizeof(past_end), "has length 10 (8 bytes left)");
    dmar_bad_scope(stray, sizeof(stray), "stray byte");
    dmar_bad_scope(bad_dev, sizeof(bad_dev), "no device 32 function 0");
    dmar_bad_scope(bad_fn, sizeof(bad_fn), "no device 1 function 8");
    dmar_bad_scope(long_path, sizeof(long_path), "crosses 8 bridges");
}

static void test_dmar_unit_conflicts(void **state)
{
    static const u8 ep[] = { 0x1d, 0 };
    static const u8 reserved[] = { 0x1e, 0 };
    /* Register base 0 or not 4 KiB aligned: the scopes were read, the unit is
     * not used, and what it names is covered by nothing. */
    dmar_start();
    u32 a = drhd_start(0, 0, 0xfed90800);
    scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 1, ep);
    struct_end(a);
    struct_end(drhd_start(ACPI_DRHD_INCLUDE_PCI_ALL, 0, 0));
    assert_int_equal(parse_dmar(), 0);
    assert_unit_bad(0, true, "register base 0xfed90800");
    assert_unit_bad(1, true, "register base 0");
    pci_reset();
    iommu_model_build(&info.iommu, &pci, &model);
    assert_cover(look(0, 0, 0x1d, 0), IOMMU_BAD_UNIT, 0);
    assert_cover(look(0, 0, 0x02, 0), IOMMU_BAD_UNIT, 1);

    /* Two units naming one device, two include-all units on a segment, a shared
     * register base: the later unit is not used. */
    memset(&info, 0, sizeof(info));
    dmar_start();
    a = drhd_start(0, 0, 0xfed90000);
    scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 1, ep);
    struct_end(a);
    a = drhd_start(0, 0, 0xfed91000);
    scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 1, ep);
    struct_end(a);
    struct_end(drhd_start(ACPI_DRHD_INCLUDE_PCI_ALL, 0, 0xfed92000));
    struct_end(drhd_start(ACPI_DRHD_INCLUDE_PCI_ALL, 0, 0xfed93000));
    struct_end(drhd_start(0, 1, 0xfed90000));
    /* A scope of a reserved type is skipped, the unit still used. */
    a = drhd_start(0, 2, 0xfed94000);
    scope(7, 0, 0, 1, reserved);
    struct_end(a);
    assert_int_equal(parse_dmar(), 0);
    assert_true(info.iommu.units[0].usable);
    assert_unit_bad(1, true, "also belongs to iommu0");
    assert_true(info.iommu.units[2].usable);
    assert_unit_bad(3, true, "a second unit for all devices of segment 0");
    assert_unit_bad(4, true, "same register base as iommu0");
    assert_true(info.iommu.units[5].usable);
    assert_int_equal(info.iommu.units[5].ignored, 1);
    iommu_model_build(&info.iommu, &pci, &model);
    assert_cover(look(0, 0, 0x1d, 0), IOMMU_BAD_UNIT, 1);
    assert_cover(look(0, 0, 0x03, 0), IOMMU_ALL, 2);
}

/* Overlap only the bus numbers show: iommu0 names a root port as a bridge,
 * iommu1 names the function below it. */
static void test_dmar_overlap_after_resolution(void **state)
{
    static const u8 rp[] = { 0x1c, 0 };
    static const u8 below[] = { 0x1c, 0, 0, 0 };
    dmar_start();
    u32 a = drhd_start(0, 0, 0xfed90000);
    scope(ACPI_DMAR_SCOPE_BRIDGE, 0, 0, 1, rp);
    struct_end(a);
    a = drhd_start(0, 0, 0xfed91000);
    scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 2, below);
    struct_end(a);
    assert_int_equal(parse_dmar(), 0);
    pci_two_segments();
    iommu_model_build(&info.iommu, &pci, &model);
    assert_cover(look(0, 2, 0, 0), IOMMU_AMBIGUOUS, -1);
    assert_cover(look(0, 3, 0, 0), IOMMU_SCOPE, 0);
}

static void test_dmar_rmrr_errors(void **state)
{
    static const u8 ep[] = { 0x1d, 0 };
    static const u8 bad[] = { 1, 0, 0, 0 };
    dmar_start();
    struct_end(rmrr_start(0, 0x1000, 0x17ff));               /* not whole pages */
    struct_end(rmrr_start(0, 0x2000, 0x0fff));               /* ends before it starts */
    struct_end(rmrr_start(0, 0xfffffffffffff000ull, ~0ull)); /* wraps */
    u32 r = rmrr_start(0, 0x3000, 0x3fff);
    scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 1, ep);
    tb_bytes(&t, bad, sizeof(bad)); /* a broken scope */
    struct_end(r);
    r = rmrr_start(0, 0x4000, 0x4fff);
    scope(ACPI_DMAR_SCOPE_ENDPOINT, 0, 0, 1, ep);
    struct_end(r);
    assert_int_equal(parse_dmar(), 0);
    assert_int_equal(info.iommu.bad_regions, 4);
    assert_int_equal(info.iommu.nregions, 1);
    assert_int_equal(info.iommu.regions[0].base, 0x4000);
    assert_int_equal(info.iommu.nscopes, 1); /* the broken RMRR's scopes taken back */
    assert_int_equal(info.iommu.regions[0].first_scope, 0);
}

/* ---------------------------------------------------------------- IVRS builder */

static void ivrs_start(void)
{
    tb_start(&t, "IVRS", 2);
    tb_u32(&t, 0x2800);
    tb_u64(&t, 0);
}

static u32 ivhd_start(u8 type, u16 devid, u64 base, u16 seg)
{
    u32 at = t.len;
    tb_u8(&t, type);
    tb_u8(&t, 0xd1);
    tb_u16(&t, 0);
    tb_u16(&t, devid);
    tb_u16(&t, 0x40);
    tb_u64(&t, base);
    tb_u16(&t, seg);
    tb_u16(&t, 0);
    tb_u32(&t, 0);
    if (type != ACPI_IVRS_IVHD_10)
        tb_zero(&t, 16);
    return at;
}

static void e4(u8 type, u16 id)
{
    tb_u8(&t, type);
    tb_u16(&t, id);
    tb_u8(&t, 0);
}

static void e8(u8 type, u16 id, u8 handle, u16 source, u8 variety)
{
    e4(type, id);
    tb_u8(&t, handle);
    tb_u16(&t, source);
    tb_u8(&t, variety);
}

static void ivmd(u8 type, u16 first, u16 aux, u64 start, u64 length)
{
    tb_u8(&t, type);
    tb_u8(&t, 0);
    tb_u16(&t, 32);
    tb_u16(&t, first);
    tb_u16(&t, aux);
    tb_u64(&t, 0);
    tb_u64(&t, start);
    tb_u64(&t, length);
}

static int parse_ivrs(void)
{
    tb_finish(&t);
    u8 *copy = malloc(t.len);
    memcpy(copy, t.b, t.len);
    int rc = acpi_parse_ivrs(copy, t.len, &info);
    free(copy);
    return rc;
}

static void test_ivrs_entries(void **state)
{
    ivrs_start();
    /* One unit in a 10h and a 40h block: the 40h one is used. */
    u32 a = ivhd_start(ACPI_IVRS_IVHD_10, 0x0002, 0xfeb80000, 0);
    e4(ACPI_IVHD_DEV_SELECT, 0x0010);
    struct_end(a);
    a = ivhd_start(ACPI_IVRS_IVHD_40, 0x0002, 0xfeb80000, 0);
    e4(ACPI_IVHD_DEV_PAD, 0);
    e4(ACPI_IVHD_DEV_SELECT, 0x0010);
    e4(ACPI_IVHD_DEV_RANGE_START, 0x0100);
    e4(ACPI_IVHD_DEV_RANGE_END, 0x02ff);
    e8(ACPI_IVHD_DEV_ALIAS, 0x0300, 0, 0x0018, 0);
    e8(ACPI_IVHD_DEV_ALIAS_RANGE, 0x0400, 0, 0x0020, 0);
    e4(ACPI_IVHD_DEV_RANGE_END, 0x04ff);
    e8(ACPI_IVHD_DEV_EXT, 0x0028, 0, 0, 0);
    e8(ACPI_IVHD_DEV_EXT_RANGE, 0x0500, 0, 0, 0);
    e4(ACPI_IVHD_DEV_RANGE_END, 0x0507);
    e8(ACPI_IVHD_DEV_SPECIAL, 0, 0x21, 0x00a0, ACPI_IVHD_SPECIAL_IOAPIC);
    e8(ACPI_IVHD_DEV_SPECIAL, 0, 0x00, 0x00a5, ACPI_IVHD_SPECIAL_HPET);
    e8(ACPI_IVHD_DEV_SPECIAL, 0, 0x00, 0x00a6, 9); /* a reserved variety: ignored */
    e4(0x05, 0);                                   /* a reserved 4-byte type: ignored */
    /* An ACPI_HID device with a 3-byte UID. */
    e4(ACPI_IVHD_DEV_ACPI_HID, 0x00a7);
    tb_bytes(&t, "AMDI0020", 8);
    tb_zero(&t, 8);
    tb_u8(&t, 2);
    tb_u8(&t, 3);
    tb_bytes(&t, "ID0", 3);
    struct_end(a);
    /* A second unit, with the "all" entry, on segment 1. */
    a = ivhd_start(ACPI_IVRS_IVHD_11, 0x0002, 0xfeb84000, 1);
    e4(ACPI_IVHD_DEV_ALL, 0);
    struct_end(a);
    ivmd(ACPI_IVRS_IVMD_ALL, 0, 0, 0x7f000000, 0x1000);
    ivmd(ACPI_IVRS_IVMD_SPAN, 0x0100, 0x01ff, 0x7f100000, 0x2000);
    ivmd(ACPI_IVRS_IVMD_ONE, 0x0010, 0, 0x7f200000, 0);            /* length 0 */
    ivmd(ACPI_IVRS_IVMD_SPAN, 0x0200, 0x0100, 0x7f300000, 0x1000); /* backwards */
    tb_u8(&t, 0x30);                                               /* a reserved block type */
    tb_u8(&t, 0);
    tb_u16(&t, 8);
    tb_u32(&t, 0);
    assert_int_equal(parse_ivrs(), 0);
    const struct acpi_iommu_info *io = &info.iommu;
    assert_true(info.have_ivrs);
    assert_int_equal(io->ivhd_superseded, 1);
    assert_int_equal(io->ivrs_other, 1);
    assert_int_equal(io->nunits, 2);
    const struct acpi_iommu_unit *u = &io->units[0];
    assert_int_equal(u->type, ACPI_IVRS_IVHD_40);
    assert_true(u->usable);
    assert_int_equal(u->ignored, 2);
    assert_int_equal(u->nscopes, 9);
    assert_true(io->units[1].include_all);
    assert_true(io->units[1].usable);
    assert_int_equal(io->nregions, 2);
    assert_int_equal(io->bad_regions, 2);
    assert_int_equal(io->regions[0].kind, ACPI_IOMMU_IVMD_ALL);
    assert_int_equal(io->regions[0].last, 0xffff);
    assert_int_equal(io->regions[1].first, 0x0100);
    assert_int_equal(io->regions[1].last, 0x01ff);

    pci_reset();
    iommu_model_build(io, &pci, &model);
    assert_cover(look(0, 0, 2, 0), IOMMU_SCOPE, 0);
    assert_cover(look(0, 2, 31, 7), IOMMU_SCOPE, 0);
    assert_cover(look(0, 3, 0, 0), IOMMU_SCOPE, 0);
    assert_cover(look(0, 3, 0, 1), IOMMU_NONE, -1);
    assert_cover(look(0, 4, 9, 1), IOMMU_SCOPE, 0);
    assert_cover(look(0, 5, 0, 7), IOMMU_SCOPE, 0);
    assert_cover(look(0, 5, 1, 0), IOMMU_NONE, -1);
    assert_cover(look(0, 0, 0x14, 0), IOMMU_NONE, -1); /* the I/O APIC's ID is no PCI function */
    assert_cover(look(1, 0x42, 0, 0), IOMMU_ALL, 1);
    assert_scope_text(u->first_scope + 2, "devices 03:00.0 as 00:03.0");
    assert_scope_text(u->first_scope + 3, "devices 04:00.0-04:1f.7 as 00:04.0");
    assert_scope_text(u->first_scope + 8, "ACPI device source 00:14.7");
    assert_scope_text(u->first_scope + 6, "I/O APIC 33, source 00:14.0");
    assert_scope_text(u->first_scope + 7, "HPET 0, source 00:14.5");
}

static void assert_ivrs_rejected(const char *why)
{
    assert_int_equal(parse_ivrs(), -EINVAL);
    assert_false(info.have_ivrs);
    assert_int_equal(info.iommu.nunits, 0);
    assert_int_equal(info.iommu.nscopes, 0);
    if (!strstr(info.iommu.ivrs_error, why))
        fail_msg("error \"%s\" lacks \"%s\"", info.iommu.ivrs_error, why);
}

static void test_ivrs_table_errors(void **state)
{
    tb_start(&t, "IVRS", 2);
    tb_u32(&t, 0);
    assert_ivrs_rejected("shorter than its fixed part");

    ivrs_start();
    u32 a = ivhd_start(ACPI_IVRS_IVHD_10, 2, 0xfeb80000, 0);
    e4(ACPI_IVHD_DEV_SELECT, 0x10);
    struct_end(a);
    tb_u8(&t, ACPI_IVRS_IVMD_ALL); /* a zero-length block after a good unit */
    tb_u8(&t, 0);
    tb_u16(&t, 0);
    assert_ivrs_rejected("has length 0");

    ivrs_start();
    a = ivhd_start(ACPI_IVRS_IVHD_11, 2, 0xfeb80000, 0);
    struct_end(a);
    t.b[a + 2] = 24; /* an 11h block needs 40 */
    assert_ivrs_rejected("less than 40");

    ivrs_start();
    a = ivhd_start(ACPI_IVRS_IVHD_10, 2, 0xfeb80000, 0);
    struct_end(a);
    t.b[a + 2] = 200;
    assert_ivrs_rejected("runs past the table's end");

    ivrs_start();
    a = ivhd_start(ACPI_IVRS_IVHD_10, 2, 0xfeb80000, 0);
    struct_end(a);
    tb_u8(&t, 0x10);
    assert_ivrs_rejected("stray byte");

    ivrs_start();
    for (u32 i = 0; i <= ACPI_MAX_IOMMUS; i++)
        struct_end(ivhd_start(ACPI_IVRS_IVHD_10, (u16)(i + 1), 0xfeb80000 + 0x4000ull * i, 0));
    assert_ivrs_rejected("more than 16 remapping units");
}

/* A unit whose entries cannot be read is not used; the other unit is. */
static void ivrs_bad_entries(void (*entries)(void), const char *why)
{
    test_stubs_reset();
    memset(&info, 0, sizeof(info));
    ivrs_start();
    u32 a = ivhd_start(ACPI_IVRS_IVHD_10, 2, 0xfeb80000, 0);
    e4(ACPI_IVHD_DEV_SELECT, 0x0010);
    entries();
    struct_end(a);
    a = ivhd_start(ACPI_IVRS_IVHD_10, 0x0a, 0xfeb84000, 0);
    e4(ACPI_IVHD_DEV_SELECT, 0x0020);
    struct_end(a);
    assert_int_equal(parse_ivrs(), 0);
    assert_int_equal(info.iommu.nunits, 2);
    assert_unit_bad(0, false, why);
    assert_true(info.iommu.units[1].usable);
    pci_reset();
    iommu_model_build(&info.iommu, &pci, &model);
    assert_cover(look(0, 0, 2, 0), IOMMU_BAD_UNIT, 0);
    assert_cover(look(0, 0, 4, 0), IOMMU_SCOPE, 1);
}

static void start_no_end(void) { e4(ACPI_IVHD_DEV_RANGE_START, 0x100); }
static void start_then_select(void)
{
    e4(ACPI_IVHD_DEV_RANGE_START, 0x100);
    e4(ACPI_IVHD_DEV_SELECT, 0x200);
}
static void end_no_start(void) { e4(ACPI_IVHD_DEV_RANGE_END, 0x100); }
static void backwards(void)
{
    e4(ACPI_IVHD_DEV_RANGE_START, 0x200);
    e4(ACPI_IVHD_DEV_RANGE_END, 0x100);
}
static void cut_8byte(void) { e4(ACPI_IVHD_DEV_ALIAS, 0x100); } /* 4 of its 8 bytes */
static void unknown_variable(void) { e4(0x81, 0x100); }
static void hid_uid_past_end(void)
{
    e4(ACPI_IVHD_DEV_ACPI_HID, 0x00a7);
    tb_zero(&t, 16);
    tb_u8(&t, 2);
    tb_u8(&t, 200);
}
static void hid_cut(void) { e4(ACPI_IVHD_DEV_ACPI_HID, 0x00a7); }

static void test_ivrs_entry_errors(void **state)
{
    ivrs_bad_entries(start_no_end, "range from 0100 is not ended");
    ivrs_bad_entries(start_then_select, "range from 0100 is not ended before offset");
    ivrs_bad_entries(end_no_start, "range end at offset 76 has no start");
    ivrs_bad_entries(backwards, "range 0200-0100");
    ivrs_bad_entries(cut_8byte, "device entry of type 0x42 at offset 76 runs past");
    ivrs_bad_entries(unknown_variable, "device entry of type 0x81");
    ivrs_bad_entries(hid_uid_past_end, "device entry of type 0xf0");
    ivrs_bad_entries(hid_cut, "device entry of type 0xf0");
}

static void test_ivrs_unit_conflicts(void **state)
{
    ivrs_start();
    u32 a = ivhd_start(ACPI_IVRS_IVHD_10, 2, 0xfeb80000, 0);
    e4(ACPI_IVHD_DEV_RANGE_START, 0x0100);
    e4(ACPI_IVHD_DEV_RANGE_END, 0x01ff);
    struct_end(a);
    a = ivhd_start(ACPI_IVRS_IVHD_10, 0x0a, 0xfeb84000, 0);
    e4(ACPI_IVHD_DEV_SELECT, 0x0180); /* inside the first unit's range */
    struct_end(a);
    struct_end(ivhd_start(ACPI_IVRS_IVHD_10, 0x12, 0xfeb82000, 0)); /* 8 KiB aligned only */
    assert_int_equal(parse_ivrs(), 0);
    assert_true(info.iommu.units[0].usable);
    assert_unit_bad(1, true, "requester IDs 0180-0180 also belong to iommu0");
    assert_unit_bad(2, true, "not a 16 KiB-aligned address");
    pci_reset();
    iommu_model_build(&info.iommu, &pci, &model);
    assert_cover(look(0, 1, 0x10, 0), IOMMU_BAD_UNIT, 1);
    assert_cover(look(0, 1, 0x11, 0), IOMMU_SCOPE, 0);
}

/* ---------------------------------------------------------------- hostile bytes */

static u8 *load_file(const char *machine, const char *file, u32 *len)
{
    static const char *const roots[] = { "fixtures/acpi", "tests/unit/fixtures/acpi" };
    char path[512];
    FILE *f = NULL;
    for (u32 i = 0; i < 2 && !f; i++) {
        snprintf(path, sizeof(path), "%s/%s/%s", roots[i], machine, file);
        f = fopen(path, "rb");
    }
    if (!f)
        fail_msg("fixture missing: tests/unit/fixtures/acpi/%s/%s", machine, file);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    u8 *b = malloc((size_t)n);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (u32)n;
    return b;
}

static void check_bounded(void)
{
    const struct acpi_iommu_info *io = &info.iommu;
    assert_true(io->nunits <= ACPI_MAX_IOMMUS);
    assert_true(io->nscopes <= ACPI_MAX_IOMMU_SCOPES);
    assert_true(io->nregions <= ACPI_MAX_IOMMU_REGIONS);
    for (u32 i = 0; i < io->nunits; i++) {
        assert_true(io->units[i].first_scope + io->units[i].nscopes <= io->nscopes);
        assert_non_null(memchr(io->units[i].error, 0, sizeof(io->units[i].error)));
    }
    for (u32 i = 0; i < io->nscopes; i++) {
        assert_true(io->scopes[i].hops <= ACPI_MAX_IOMMU_HOPS);
        assert_true(io->scopes[i].first <= io->scopes[i].last);
        assert_true(io->scopes[i].in_region ? io->scopes[i].owner < io->nregions : io->scopes[i].owner < io->nunits);
    }
    iommu_model_build(io, &pci, &model);
    char buf[96];
    for (u32 i = 0; i < io->nscopes; i++)
        iommu_scope_text(&model, i, buf, sizeof(buf));
    for (u32 i = 0; i < pci.count; i++)
        (void)look(pci.dev[i].seg, pci.dev[i].bus, pci.dev[i].dev, pci.dev[i].fn);
}

typedef int (*parser)(const void *tbl, u32 len, struct acpi_info *out);

/* Every prefix of the real tables, in a block of exactly that size: the parser
 * must never read past the length it is given. */
static void truncations(const char *machine, const char *file, parser parse, bool amd)
{
    u32 len;
    u8 *full = load_file(machine, file, &len);
    pci_q35(amd);
    for (u32 n = 0; n <= len; n++) {
        u8 *cut = malloc(n ? n : 1);
        memcpy(cut, full, n);
        memset(&info, 0, sizeof(info));
        int rc = parse(cut, n, &info);
        assert_true(rc == 0 || rc == -EINVAL);
        check_bounded();
        free(cut);
    }
    free(full);
}

static u64 rng = 0x5eed1234;
static u32 rnd(void) { return (u32)xorshift64(&rng); }

/* Random damage to the real tables: bounded results, no out-of-bounds read. */
static void mutations(const char *machine, const char *file, parser parse, bool amd)
{
    u32 len;
    u8 *full = load_file(machine, file, &len);
    pci_q35(amd);
    for (u32 iter = 0; iter < 3000; iter++) {
        u8 *b = malloc(len);
        memcpy(b, full, len);
        u32 flips = 1 + rnd() % 6;
        for (u32 f = 0; f < flips; f++)
            b[rnd() % len] = (u8)rnd();
        u32 n = rnd() % 4 ? len : rnd() % (len + 1);
        memset(&info, 0, sizeof(info));
        int rc = parse(b, n, &info);
        assert_true(rc == 0 || rc == -EINVAL);
        check_bounded();
        free(b);
    }
    free(full);
}

static void test_truncated_and_mutated_tables(void **state)
{
    truncations("q35-intel-iommu", "DMAR.bin", acpi_parse_dmar, false);
    truncations("q35-amd-iommu", "IVRS.bin", acpi_parse_ivrs, true);
    mutations("q35-intel-iommu", "DMAR.bin", acpi_parse_dmar, false);
    mutations("q35-amd-iommu", "IVRS.bin", acpi_parse_ivrs, true);
}

/* acpi_parse() on a machine whose DMAR is damaged: listed ok (the checksum was
 * made right), reported, not used; the rest of the machine unaffected. */
static void test_damaged_dmar_in_acpi_parse(void **state)
{
    struct fake_mem m;
    u64 rsdp = fixture_load(&m, "q35-intel-iommu");
    u8 *dmar = NULL;
    for (u32 i = 0; i < m.n; i++)
        if (memcmp(m.r[i].data, "DMAR", 4) == 0)
            dmar = m.r[i].data;
    assert_non_null(dmar);
    dmar[0x32] = 0x80; /* the DRHD's length: past the table's end */
    recompute_checksum(dmar);
    struct acpi_mem mem = fm_acpi(&m);
    assert_int_equal(acpi_parse(&mem, rsdp, &info), 0);
    assert_non_null(acpi_find_table(&info, "DMAR", 0));
    assert_false(info.have_dmar);
    assert_int_equal(info.iommu.nunits, 0);
    assert_non_null(strstr(info.iommu.dmar_error, "runs past the table's end"));
    assert_true(info.have_madt && info.have_mcfg);
    pci_q35(false);
    iommu_model_build(&info.iommu, &pci, &model);
    assert_cover(look(0, 1, 0, 0), IOMMU_NONE, -1);
    fm_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_qemu_intel_iommu, setup),
        cmocka_unit_test_setup(test_qemu_amd_iommu, setup),
        cmocka_unit_test_setup(test_dmar_paths_through_bridges, setup),
        cmocka_unit_test_setup(test_dmar_bridge_scope, setup),
        cmocka_unit_test_setup(test_dmar_table_errors, setup),
        cmocka_unit_test_setup(test_dmar_scope_errors, setup),
        cmocka_unit_test_setup(test_dmar_unit_conflicts, setup),
        cmocka_unit_test_setup(test_dmar_overlap_after_resolution, setup),
        cmocka_unit_test_setup(test_dmar_rmrr_errors, setup),
        cmocka_unit_test_setup(test_ivrs_entries, setup),
        cmocka_unit_test_setup(test_ivrs_table_errors, setup),
        cmocka_unit_test_setup(test_ivrs_entry_errors, setup),
        cmocka_unit_test_setup(test_ivrs_unit_conflicts, setup),
        cmocka_unit_test_setup(test_truncated_and_mutated_tables, setup),
        cmocka_unit_test_setup(test_damaged_dmar_in_acpi_parse, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
