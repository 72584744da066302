/* Unit tests of the AML scan (drivers/acpi/aml.c) on hand-assembled DSDT/SSDT
 * snippets, hostile encodings and mutated real tables. Run from test_acpi.c's main. */
#include "tests/unit/test_acpi_util.c"
#include "tests/unit/xorshift.h"

int run_aml_tests(void);

static struct acpi_info info;
static struct aml a;
static struct tb dsdt, ssdt;

static int setup(void **state)
{
    test_stubs_reset();
    memset(&a, 0, sizeof(a));
    return 0;
}

static void scan1(const struct aml *code)
{
    struct tb *t[1] = { &dsdt };
    aml_table(&dsdt, "DSDT", 2, code);
    scan_tables(&info, t, 1);
}

/* Scope(\_SB) { Device(PC80) { Name(_UID, 0x80) Name(_HID, EISAID("PNP0A03"))
 *                              Name(_BBN, 0x80) Name(_PXM, 1) } } */
static void emit_pxb(struct aml *x, const char *dev)
{
    aml_device(x, dev);
    aml_name_int(x, "_UID", 0x80);
    aml_name_eisaid(x, "_HID", "PNP0A03");
    aml_name_int(x, "_BBN", 0x80);
    aml_name_int(x, "_PXM", 1);
    aml_close(x);
}

static void test_pxb_root_bridge(void **state)
{
    aml_scope(&a, "\\_SB");
    emit_pxb(&a, "PC80");
    aml_close(&a);
    scan1(&a);
    assert_int_equal(info.npci_roots, 1);
    const struct acpi_pci_root *r = &info.pci_roots[0];
    assert_string_equal(r->path, "\\_SB_.PC80");
    assert_string_equal(r->hid, "PNP0A03");
    assert_false(r->pcie);
    assert_true(r->has_bbn);
    assert_int_equal(r->base_bus, 0x80);
    assert_false(r->has_seg);
    assert_int_equal(r->segment, 0);
    assert_true(r->has_pxm);
    assert_int_equal(r->pxm, 1);
    assert_true(r->has_uid);
    assert_int_equal(r->uid, 0x80);
    assert_int_equal(r->unknown, 0);
    assert_int_equal(info.aml.devices, 1);
    assert_int_equal(info.aml.tables, 1);
    assert_int_equal(info.aml.not_understood, 0);
}

static void test_child_pxm_not_attributed(void **state)
{
    aml_scope(&a, "\\_SB");
    aml_device(&a, "PCI1");
    aml_name_eisaid(&a, "_HID", "PNP0A08");
    aml_device(&a, "CHLD"); /* a child with its own _PXM and _BBN */
    aml_name_int(&a, "_ADR", 0x10000);
    aml_name_int(&a, "_PXM", 5);
    aml_name_int(&a, "_BBN", 7);
    aml_method(&a, "_SEG", 0); /* the child's method: not the bridge's */
    aml_close(&a);
    aml_close(&a);
    aml_name_int(&a, "_BBN", 0x40); /* after the child: the bridge's again */
    aml_name_int(&a, "_SEG", 2);
    aml_close(&a);
    aml_close(&a);
    scan1(&a);
    assert_int_equal(info.npci_roots, 1);
    const struct acpi_pci_root *r = find_root(&info, "\\_SB_.PCI1");
    assert_non_null(r);
    assert_true(r->pcie);
    assert_false(r->has_pxm);
    assert_int_equal(r->base_bus, 0x40);
    assert_true(r->has_seg);
    assert_int_equal(r->segment, 2);
    assert_int_equal(r->unknown, 0);
    assert_int_equal(info.aml.devices, 2);
}

static void test_pxm_method_counted(void **state)
{
    aml_scope(&a, "\\_SB");
    aml_device(&a, "PC90");
    aml_name_eisaid(&a, "_HID", "PNP0A03");
    aml_name_int(&a, "_BBN", 0x90);
    aml_method(&a, "_PXM", 0);
    aml_u8(&a, 0xa4); /* Return (One) */
    aml_u8(&a, 0x01);
    aml_close(&a);
    aml_close(&a);
    aml_close(&a);
    scan1(&a);
    const struct acpi_pci_root *r = find_root(&info, "\\_SB_.PC90");
    assert_non_null(r);
    assert_false(r->has_pxm);
    assert_true(r->unknown & ACPI_ROOT_METHOD_PXM);
    assert_int_equal(r->base_bus, 0x90);
    assert_int_equal(info.aml.method_ids, 1);
    assert_int_equal(info.aml.not_understood, 1);
}

/* Method bodies are skipped whole: a Device encoding inside one is not seen, and the
 * names after the method are still read. */
static void test_nested_scopes_and_method_bodies(void **state)
{
    aml_scope(&a, "\\");
    aml_scope(&a, "_SB");
    aml_scope(&a, "PCI0");
    aml_method(&a, "FAKE", 1);
    emit_pxb(&a, "NOPE"); /* inside a method: never a device */
    aml_close(&a);
    aml_device(&a, "^PC91"); /* \_SB.PC91 via a parent prefix */
    aml_name_eisaid(&a, "_CID", "PNP0A03");
    aml_name_string(&a, "_HID", "QEMU0001");
    aml_name_int(&a, "_BBN", 0x91);
    aml_close(&a);
    aml_device(&a, "\\_SB.PCI2"); /* DualNamePrefix from the root */
    aml_name_string(&a, "_HID", "PNP0A08");
    aml_name_int(&a, "_BBN", 0x20);
    aml_close(&a);
    aml_close(&a);                   /* PCI0 */
    aml_close(&a);                   /* _SB */
    aml_close(&a);                   /* \ */
    aml_scope(&a, "\\_SB.PCI0.S00"); /* MultiNamePrefix */
    aml_device(&a, "PC92");
    aml_u8(&a, 0x08);
    aml_name(&a, "_CID");
    aml_u8(&a, 0x12); /* Package() { "XYZ0001", EISAID(PNP0A08) } */
    aml_open(&a);
    aml_u8(&a, 2);
    aml_string(&a, "XYZ0001");
    aml_eisaid(&a, "PNP0A08");
    aml_close(&a);
    aml_close(&a);
    aml_close(&a);
    scan1(&a);
    assert_int_equal(info.npci_roots, 3);
    assert_null(find_root(&info, "\\_SB_.PCI0.FAKE.NOPE"));
    const struct acpi_pci_root *r = find_root(&info, "\\_SB_.PC91");
    assert_non_null(r);
    assert_string_equal(r->hid, "QEMU0001");
    assert_false(r->pcie);
    assert_int_equal(r->base_bus, 0x91);
    r = find_root(&info, "\\_SB_.PCI2");
    assert_non_null(r);
    assert_true(r->pcie);
    assert_string_equal(r->hid, "PNP0A08");
    assert_int_equal(r->base_bus, 0x20);
    r = find_root(&info, "\\_SB_.PCI0.S00_.PC92");
    assert_non_null(r);
    assert_true(r->pcie);
    assert_int_equal(info.aml.bad, 0);
}

static void test_s5(void **state)
{
    aml_scope(&a, "\\_SB"); /* a non-root _S5_ is not \_S5_ */
    aml_u8(&a, 0x08);
    aml_name(&a, "_S5");
    aml_u8(&a, 0x12);
    aml_open(&a);
    aml_u8(&a, 2);
    aml_int(&a, 3);
    aml_int(&a, 3);
    aml_close(&a);
    aml_close(&a);
    aml_scope(&a, "\\");
    aml_u8(&a, 0x08);
    aml_name(&a, "_S5");
    aml_u8(&a, 0x12);
    aml_open(&a);
    aml_u8(&a, 4);
    aml_int(&a, 5); /* ByteConst */
    aml_int(&a, 1); /* One */
    aml_int(&a, 0);
    aml_int(&a, 0);
    aml_close(&a);
    aml_close(&a);
    scan1(&a);
    assert_true(info.s5.valid);
    assert_int_equal(info.s5.slp_typa, 5);
    assert_int_equal(info.s5.slp_typb, 1);

    /* Values that do not fit SLP_TYP, and _S5 as a method, are not used. */
    memset(&a, 0, sizeof(a));
    aml_u8(&a, 0x08);
    aml_name(&a, "\\_S5");
    aml_u8(&a, 0x12);
    aml_open(&a);
    aml_u8(&a, 2);
    aml_int(&a, 0x1234);
    aml_int(&a, 0);
    aml_close(&a);
    scan1(&a);
    assert_false(info.s5.valid);
    assert_true(log_has("do not fit the 3-bit SLP_TYP"));
    memset(&a, 0, sizeof(a));
    aml_method(&a, "_S5", 0);
    aml_close(&a);
    scan1(&a);
    assert_false(info.s5.valid);
    assert_int_equal(info.aml.method_ids, 1);

    /* A one-element package gives both values. */
    memset(&a, 0, sizeof(a));
    aml_u8(&a, 0x08);
    aml_name(&a, "_S5");
    aml_u8(&a, 0x12);
    aml_open(&a);
    aml_u8(&a, 1);
    aml_int(&a, 7);
    aml_close(&a);
    scan1(&a);
    assert_true(info.s5.valid);
    assert_int_equal(info.s5.slp_typa, 7);
    assert_int_equal(info.s5.slp_typb, 7);
}

static void test_conditional_and_load_counted(void **state)
{
    aml_u8(&a, 0xa0); /* If (One) { Device(\_SB.PC93) ... } */
    aml_open(&a);
    aml_u8(&a, 0x01);
    emit_pxb(&a, "\\_SB.PC93");
    aml_close(&a);
    aml_u8(&a, 0xa1); /* Else { } */
    aml_open(&a);
    aml_close(&a);
    aml_u8(&a, 0x5b); /* Load (\_SB.TBL, Local0) */
    aml_u8(&a, 0x20);
    aml_name(&a, "\\_SB.TBL");
    aml_u8(&a, 0x60);
    aml_scope(&a, "\\_SB");
    emit_pxb(&a, "PC94"); /* still found after all that */
    aml_close(&a);
    scan1(&a);
    assert_int_equal(info.npci_roots, 1);
    assert_non_null(find_root(&info, "\\_SB_.PC94"));
    assert_int_equal(info.aml.conditional, 2);
    assert_int_equal(info.aml.loads, 1);
    assert_int_equal(info.aml.not_understood, 3);
}

/* Scope(\_SB.PC95) { Name(_PXM, 2) } in an SSDT extends the DSDT's device. */
static void test_scope_adds_pxm_from_ssdt(void **state)
{
    struct aml *b = malloc(sizeof(*b));
    memset(b, 0, sizeof(*b));
    aml_device(&a, "\\_SB.PC95");
    aml_name_eisaid(&a, "_HID", "PNP0A08");
    aml_name_int(&a, "_BBN", 0x95);
    aml_close(&a);
    aml_device(&a, "\\_SB.PC96");
    aml_name_eisaid(&a, "_HID", "PNP0A08");
    aml_name_int(&a, "_PXM", 3);
    aml_close(&a);
    aml_table(&dsdt, "DSDT", 2, &a);
    aml_scope(b, "\\_SB.PC95");
    aml_name_int(b, "_PXM", 2);
    aml_name_int(b, "_SEG", 1);
    aml_close(b);
    aml_scope(b, "\\_SB.PC96");
    aml_method(b, "_PXM", 0); /* the device's own Name wins */
    aml_close(b);
    aml_close(b);
    aml_u8(b, 0x08); /* Name(\_SB.PC95._UID, 0x95) */
    aml_name(b, "\\_SB.PC95._UID");
    aml_int(b, 0x95);
    aml_table(&ssdt, "SSDT", 2, b);
    struct tb *t[2] = { &dsdt, &ssdt };
    scan_tables(&info, t, 2);
    const struct acpi_pci_root *r = find_root(&info, "\\_SB_.PC95");
    assert_non_null(r);
    assert_true(r->has_pxm);
    assert_int_equal(r->pxm, 2);
    assert_int_equal(r->segment, 1);
    assert_int_equal(r->uid, 0x95);
    r = find_root(&info, "\\_SB_.PC96");
    assert_int_equal(r->pxm, 3);
    assert_true(r->unknown & ACPI_ROOT_METHOD_PXM);
    assert_int_equal(info.aml.tables, 2);
    free(b);
}

/* Statements between declarations are skipped by their operand formats; method
 * calls take the declared number of arguments. */
static void test_statements_and_calls_skipped(void **state)
{
    aml_u8(&a, 0x15); /* External(\_SB.EXTM, MethodObj, 2) */
    aml_name(&a, "\\_SB.EXTM");
    aml_u8(&a, 8);
    aml_u8(&a, 2);
    aml_scope(&a, "\\_SB");
    aml_method(&a, "FOO", 3);
    aml_close(&a);
    aml_name(&a, "FOO"); /* FOO (0x10, "x", One) */
    aml_int(&a, 0x10);
    aml_string(&a, "x");
    aml_int(&a, 1);
    aml_name(&a, "EXTM"); /* EXTM (Add (1, 2, Local0), Zero) */
    aml_u8(&a, 0x72);
    aml_int(&a, 1);
    aml_int(&a, 2);
    aml_u8(&a, 0x60);
    aml_int(&a, 0);
    aml_u8(&a, 0x5b); /* OperationRegion(GNVS, SystemMemory, */
    aml_u8(&a, 0x80); /*   0xDEAD0000, 0x100) */
    aml_name(&a, "GNVS");
    aml_u8(&a, 0);
    aml_int(&a, 0xdead0000);
    aml_int(&a, 0x100);
    aml_u8(&a, 0x5b); /* Field(GNVS, ...) { ... } */
    aml_u8(&a, 0x81);
    aml_open(&a);
    aml_name(&a, "GNVS");
    aml_u8(&a, 1);
    aml_bytes(&a, "FLD1\x20", 5);
    aml_close(&a);
    aml_u8(&a, 0x70); /* Store (Index (PKG, 1, ), Local1) */
    aml_u8(&a, 0x88);
    aml_name(&a, "PKG");
    aml_int(&a, 1);
    aml_u8(&a, 0x00);
    aml_u8(&a, 0x61);
    aml_u8(&a, 0x08); /* Name(BUF, Buffer(4) {1,2,3,4}) */
    aml_name(&a, "BUF");
    aml_u8(&a, 0x11);
    aml_open(&a);
    aml_int(&a, 4);
    aml_bytes(&a, "\x01\x02\x03\x04", 4);
    aml_close(&a);
    aml_u8(&a, 0x5b); /* Processor(CPU0, 0, 0x410, 6) { Name(_PXM, 4) } */
    aml_u8(&a, 0x83);
    aml_open(&a);
    aml_name(&a, "CPU0");
    aml_bytes(&a, "\x00\x10\x04\x00\x00\x06", 6);
    aml_name_int(&a, "_PXM", 4);
    aml_close(&a);
    aml_u8(&a, 0x5b); /* Mutex(MTX0, 0) */
    aml_u8(&a, 0x01);
    aml_name(&a, "MTX0");
    aml_u8(&a, 0);
    emit_pxb(&a, "PC97");
    aml_close(&a);
    scan1(&a);
    assert_int_equal(info.aml.bad, 0);
    assert_int_equal(info.npci_roots, 1);
    assert_non_null(find_root(&info, "\\_SB_.PC97"));
    assert_int_equal(info.aml.not_understood, 0);
}

static void test_integer_width_and_odd_values(void **state)
{
    aml_device(&a, "\\_SB.PC98");
    aml_name_eisaid(&a, "_HID", "PNP0A08");
    aml_u8(&a, 0x08); /* Name(_PXM, Ones) */
    aml_name(&a, "_PXM");
    aml_u8(&a, 0xff);
    aml_name_int(&a, "_BBN", 0x1ff); /* too big for a bus */
    aml_name_string(&a, "_UID", "ROOT98");
    aml_close(&a);
    aml_table(&dsdt, "DSDT", 1, &a); /* revision 1: 32-bit integers */
    struct tb *t[1] = { &dsdt };
    scan_tables(&info, t, 1);
    const struct acpi_pci_root *r = find_root(&info, "\\_SB_.PC98");
    assert_non_null(r);
    assert_true(r->has_pxm);
    assert_int_equal(r->pxm, 0xffffffffu);
    assert_false(r->has_bbn);
    assert_true(r->unknown & ACPI_ROOT_BAD_VALUE);
    assert_false(r->has_uid);
    assert_string_equal(r->uid_str, "ROOT98");
    assert_int_equal(info.aml.odd_values, 1);
}

/* ---------------------------------------------------------------- hostile AML */

static void scan_raw(const u8 *body, u32 n)
{
    memset(&a, 0, sizeof(a));
    aml_bytes(&a, body, n);
    scan1(&a);
}

static void test_hostile_pkglengths(void **state)
{
    /* Scope whose PkgLength runs far past the table. */
    static const u8 past[] = { 0x10, 0xcf, 0xff, 0xff, 0xff, '_', 'S', 'B', '_' };
    scan_raw(past, sizeof(past));
    assert_int_equal(info.aml.bad, 1);
    assert_true(log_has("DSDT: unknown or malformed opcode at offset 0x24"));
    /* PkgLength bytes themselves cut by the end. */
    static const u8 cut[] = { 0x5b, 0x82, 0xc0 };
    scan_raw(cut, sizeof(cut));
    assert_int_equal(info.aml.bad, 1);
    /* Zero PkgLength (shorter than its own encoding). */
    static const u8 zero[] = { 0x10, 0x00, 0x10, 0x00 };
    scan_raw(zero, sizeof(zero));
    assert_int_equal(info.aml.bad, 1);
    /* Device whose name runs past its package. */
    static const u8 name[] = { 0x5b, 0x82, 0x03, 'P', 'C' };
    scan_raw(name, sizeof(name));
    assert_int_equal(info.aml.bad, 1);
    assert_int_equal(info.aml.devices, 0);
    /* MultiNamePrefix with a huge segment count, and a bad name character. */
    static const u8 multi[] = { 0x10, 0x08, 0x2f, 0xff, '_', 'S', 'B', '_', 0x00 };
    scan_raw(multi, sizeof(multi));
    assert_int_equal(info.aml.bad, 1);
    static const u8 badc[] = { 0x08, 'a', 'b', 'c', 'd', 0x00 };
    scan_raw(badc, sizeof(badc));
    assert_int_equal(info.aml.bad, 1);
    /* ^ above the root. */
    static const u8 up[] = { 0x10, 0x06, 0x5e, 'A', 'B', 'C', 'D' };
    scan_raw(up, sizeof(up));
    assert_int_equal(info.aml.bad, 1);
    /* An unterminated string operand. */
    static const u8 str[] = { 0x08, 'N', 'A', 'M', 'E', 0x0d, 'a', 'b' };
    scan_raw(str, sizeof(str));
    assert_int_equal(info.aml.bad, 1);
    /* A byte constant cut by the end. */
    static const u8 byte[] = { 0x08, '_', 'P', 'X', 'M', 0x0c, 1 };
    scan_raw(byte, sizeof(byte));
    assert_int_equal(info.aml.bad, 1);
}

static void test_deep_nesting_is_bounded(void **state)
{
    /* 40 nested Scope(\) and 40 nested Add() operands: both stop at the caps. */
    for (u32 i = 0; i < 40; i++) {
        aml_scope(&a, "\\");
    }
    emit_pxb(&a, "\\_SB.PC99");
    for (u32 i = 0; i < 40; i++)
        aml_close(&a);
    scan1(&a);
    assert_int_equal(info.aml.bad, 1);
    assert_true(log_has("scopes nested too deeply"));
    assert_int_equal(info.npci_roots, 0);

    memset(&a, 0, sizeof(a));
    aml_u8(&a, 0x70);
    for (u32 i = 0; i < 40; i++)
        aml_u8(&a, 0x72); /* Add(Add(Add(... */
    aml_int(&a, 1);
    for (u32 i = 0; i < 40; i++) {
        aml_int(&a, 1);
        aml_u8(&a, 0);
    }
    aml_u8(&a, 0x60);
    scan1(&a);
    assert_int_equal(info.aml.bad, 1);
}

/* xorshift: deterministic. */
static u64 rng_state = 0x12345678;
static u32 rnd(void) { return (u32)xorshift64(&rng_state); }

/* Random mutations of a real DSDT and random bytes: must never read outside the
 * table (ASan) nor hang. */
static void test_mutated_real_dsdt(void **state)
{
    struct fake_mem m;
    fixture_load(&m, "q35-2node-pxb");
    const struct fm_region *d = NULL;
    for (u32 i = 0; i < m.n; i++)
        if (strcmp(m.r[i].name, "DSDT.bin") == 0)
            d = &m.r[i];
    assert_non_null(d);
    u32 len = (u32)d->len;
    u8 *copy = malloc(len);
    for (u32 iter = 0; iter < 300; iter++) {
        memcpy(copy, d->data, len);
        u32 flips = 1 + rnd() % 16;
        for (u32 k = 0; k < flips; k++)
            copy[36 + rnd() % (len - 36)] = (u8)rnd();
        u32 cut = 36 + rnd() % (len - 36);
        u8 *t = malloc(cut);
        memcpy(t, copy, cut);
        struct aml_scanner s;
        memset(&info, 0, sizeof(info));
        aml_scan_init(&s, &info);
        aml_scan_table(&s, t, cut);
        aml_scan_finish(&s);
        free(t);
        assert_true(info.npci_roots <= ACPI_MAX_PCI_ROOTS);
    }
    for (u32 iter = 0; iter < 300; iter++) {
        u32 n = 36 + rnd() % 600;
        u8 *t = malloc(n);
        for (u32 i = 0; i < n; i++)
            t[i] = (u8)rnd();
        /* bias towards opcodes the scanner descends into */
        for (u32 i = 36; i + 1 < n; i += 1 + rnd() % 8)
            t[i] = (u8[]){ 0x10, 0x5b, 0x08, 0x14, 0x12, 0x5c, 0x2f }[rnd() % 7];
        struct aml_scanner s;
        memset(&info, 0, sizeof(info));
        aml_scan_init(&s, &info);
        aml_scan_table(&s, t, n);
        aml_scan_finish(&s);
        free(t);
    }
    free(copy);
    fm_free(&m);
}

/* The real q35 DSDT: the scanner understands all of it. */
static void test_real_q35_dsdt(void **state)
{
    struct fake_mem m;
    fixture_load(&m, "q35-2node-pxb");
    for (u32 i = 0; i < m.n; i++) {
        if (strcmp(m.r[i].name, "DSDT.bin") != 0)
            continue;
        struct aml_scanner s;
        memset(&info, 0, sizeof(info));
        aml_scan_init(&s, &info);
        aml_scan_table(&s, m.r[i].data, (u32)m.r[i].len);
        aml_scan_finish(&s);
    }
    assert_int_equal(info.aml.tables, 1);
    assert_int_equal(info.aml.bad, 0);
    assert_int_equal(info.npci_roots, 2);
    assert_true(info.aml.devices > 20);
    assert_non_null(find_root(&info, "\\_SB_.PC80"));
    fm_free(&m);
}

int run_aml_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_pxb_root_bridge, setup),
        cmocka_unit_test_setup(test_child_pxm_not_attributed, setup),
        cmocka_unit_test_setup(test_pxm_method_counted, setup),
        cmocka_unit_test_setup(test_nested_scopes_and_method_bodies, setup),
        cmocka_unit_test_setup(test_s5, setup),
        cmocka_unit_test_setup(test_conditional_and_load_counted, setup),
        cmocka_unit_test_setup(test_scope_adds_pxm_from_ssdt, setup),
        cmocka_unit_test_setup(test_statements_and_calls_skipped, setup),
        cmocka_unit_test_setup(test_integer_width_and_odd_values, setup),
        cmocka_unit_test_setup(test_hostile_pkglengths, setup),
        cmocka_unit_test_setup(test_deep_nesting_is_bounded, setup),
        cmocka_unit_test_setup(test_mutated_real_dsdt, setup),
        cmocka_unit_test_setup(test_real_q35_dsdt, setup),
    };
    return cmocka_run_group_tests_name("acpi aml", tests, NULL, NULL);
}
