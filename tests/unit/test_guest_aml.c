/* The partition's PCI host bridge AML (vmm/guest_aml.c): wrapped in a DSDT by
 * guest_acpi_build() and scanned by the hypervisor's own AML scanner
 * (drivers/acpi/aml.c) for the bridge and its _HID/_UID/_SEG/_BBN; the bytes are
 * also decoded here by hand (the scanner skips buffers), down to every _CRS
 * descriptor. When iasl is installed, the DSDT must disassemble and recompile
 * to the same AML without a warning. Buffers are exactly sized heap blocks, so ASan catches any
 * write past them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/guest_aml.h"
#include "vmm/guest_acpi.h"
#include "vmm/layout.h"
#include "drivers/acpi/acpi.h"
#include "drivers/acpi/tables.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "tests/unit/stubs.h"

#define BASE    0xe0000ULL
#define PNP0A03 0x030ad041u /* EisaId("PNP0A03") as a little-endian DWord */

static const struct guest_aml_pci layout_cfg = {
    .mmio32_base = LAYOUT_MMIO32_BASE,
    .mmio32_end = LAYOUT_MMIO32_END,
    .mmio64_base = LAYOUT_MMIO64_BASE,
    .mmio64_end = LAYOUT_MMIO64_BASE + GiB(64),
};

/* Builds into an exactly sized heap buffer. */
static u8 *build(const struct guest_aml_pci *cfg, u32 *len)
{
    u32 need = 0;
    assert_int_equal(guest_aml_pci_root(NULL, 0, cfg, &need), -ENOSPC);
    assert_true(need > 0 && need <= GUEST_AML_PCI_ROOT_MAX);
    u8 *buf = malloc(need);
    assert_non_null(buf);
    assert_int_equal(guest_aml_pci_root(buf, need, cfg, len), 0);
    assert_int_equal(*len, need);
    return buf;
}

/* ---------------------------------------------------------------- by hand */

struct rd {
    const u8 *p, *end;
};

static u8 rd8(struct rd *r)
{
    assert_true(r->p < r->end);
    return *r->p++;
}

static u64 rdle(struct rd *r, u32 n)
{
    u64 v = 0;
    for (u32 i = 0; i < n; i++)
        v |= (u64)rd8(r) << (8 * i);
    return v;
}

/* PkgLength (ACPI 6.5 20.2.4); returns the package's end. */
static const u8 *rd_pkg(struct rd *r)
{
    const u8 *start = r->p;
    u8 lead = rd8(r);
    u32 n = lead >> 6, v;
    if (n == 0) {
        v = lead & 0x3f;
    } else {
        assert_int_equal(lead & 0x30, 0);
        v = lead & 0xf;
        for (u32 i = 0; i < n; i++)
            v |= (u32)rd8(r) << (4 + 8 * i);
        /* the shortest encoding, as iasl would write it */
        assert_true(v > (n == 1 ? 0x3fu : (1u << (4 + 8 * (n - 1))) - 1));
    }
    assert_true(v <= (u64)(r->end - start));
    return start + v;
}

static void rd_name(struct rd *r, const char *s)
{
    size_t n = strlen(s);
    assert_true((size_t)(r->end - r->p) >= n);
    assert_memory_equal(r->p, s, n);
    r->p += n;
}

/* An integer (20.2.3), in its shortest encoding. */
static u64 rd_int(struct rd *r)
{
    u64 v;
    switch (rd8(r)) {
    case 0x00: return 0;
    case 0x01: return 1;
    case 0x0a: return rd8(r);
    case 0x0b:
        v = rdle(r, 2);
        assert_true(v > 0xff);
        return v;
    case 0x0c:
        v = rdle(r, 4);
        assert_true(v > 0xffff);
        return v;
    case 0x0e:
        v = rdle(r, 8);
        assert_true(v > 0xffffffffu);
        return v;
    }
    fail_msg("not an integer at %p", (const void *)(r->p - 1));
    return 0;
}

/* A resource descriptor, decoded; for the I/O port descriptor, type is its
 * information byte and gra its alignment. */
struct desc {
    u8 tag, type, gf, tf;
    u64 gra, min, max, tra, len;
};

/* Decodes a whole resource template (6.4) up to and including its end tag. */
static u32 rd_crs(struct rd r, struct desc *d, u32 max)
{
    u32 n = 0;
    for (;;) {
        assert_true(n < max);
        struct desc *x = &d[n++];
        memset(x, 0, sizeof(*x));
        x->tag = rd8(&r);
        if (x->tag & 0x80) {
            u32 w = x->tag == 0x88 ? 2 : x->tag == 0x87 ? 4 : x->tag == 0x8a ? 8 : 0;
            assert_int_not_equal(w, 0);
            assert_int_equal(rdle(&r, 2), 3 + 5 * w);
            x->type = rd8(&r);
            x->gf = rd8(&r);
            x->tf = rd8(&r);
            x->gra = rdle(&r, w);
            x->min = rdle(&r, w);
            x->max = rdle(&r, w);
            x->tra = rdle(&r, w);
            x->len = rdle(&r, w);
        } else if (x->tag == 0x47) { /* I/O port, 7 bytes */
            x->type = rd8(&r);
            x->min = rdle(&r, 2);
            x->max = rdle(&r, 2);
            x->gra = rd8(&r);
            x->len = rd8(&r);
        } else {
            assert_int_equal(x->tag, 0x79); /* end tag, 1 byte */
            assert_int_equal(rd8(&r), 0);   /* checksum 0: "treat as good" */
            assert_ptr_equal(r.p, r.end);
            return n;
        }
    }
}

/* Walks Scope(\_SB_) { Device(PCI0) { Name()... } } and checks every byte. */
static void check_aml(const u8 *aml, u32 len, const struct guest_aml_pci *cfg)
{
    struct rd r = { aml, aml + len };
    assert_int_equal(rd8(&r), 0x10); /* ScopeOp */
    assert_ptr_equal(rd_pkg(&r), r.end);
    rd_name(&r, "\\_SB_");
    assert_int_equal(rd8(&r), 0x5b); /* DeviceOp */
    assert_int_equal(rd8(&r), 0x82);
    assert_ptr_equal(rd_pkg(&r), r.end);
    rd_name(&r, "PCI0");

    static const char *const names[] = { "_HID", "_UID", "_SEG", "_BBN" };
    for (u32 i = 0; i < 4; i++) {
        assert_int_equal(rd8(&r), 0x08); /* NameOp */
        rd_name(&r, names[i]);
        assert_int_equal(rd_int(&r), i == 0 ? PNP0A03 : 0);
    }
    assert_int_equal(rd8(&r), 0x08);
    rd_name(&r, "_CRS");
    assert_int_equal(rd8(&r), 0x11); /* BufferOp */
    const u8 *bend = rd_pkg(&r);
    assert_ptr_equal(bend, r.end); /* _CRS is the last thing */
    u64 bsize = rd_int(&r);
    assert_int_equal(bsize, (u64)(bend - r.p));

    bool has64 = cfg->mmio64_end > cfg->mmio64_base;
    const struct desc want[] = {
        { 0x88, 2, 0x0c, 0, 0, 0, 0, 0, 1 },         /* WordBusNumber 0-0 */
        { 0x47, 1, 0, 0, 1, 0xcf8, 0xcf8, 0, 8 },    /* IO (Decode16, ...) */
        { 0x88, 1, 0x0c, 3, 0, 0, 0xcf7, 0, 0xcf8 }, /* WordIO, EntireRange */
        { 0x88, 1, 0x0c, 3, 0, 0xd00, 0xffff, 0, 0xf300 },
        { 0x87, 0, 0x0c, 1, 0, cfg->mmio32_base, cfg->mmio32_end - 1, 0, /* NonCacheable, */
          cfg->mmio32_end - cfg->mmio32_base },                          /* ReadWrite */
        { 0x8a, 0, 0x0c, 1, 0, cfg->mmio64_base, cfg->mmio64_end - 1, 0, cfg->mmio64_end - cfg->mmio64_base },
        { 0x79, 0, 0, 0, 0, 0, 0, 0, 0 },
    };
    struct desc got[16];
    u32 n = rd_crs(r, got, 16);
    assert_int_equal(n, has64 ? 7 : 6);
    for (u32 i = 0, j = 0; i < n; i++, j++) {
        if (j == 5 && !has64)
            j++;
        const struct desc *w = &want[j], *g = &got[i];
        if (w->tag != g->tag || w->type != g->type || w->gf != g->gf || w->tf != g->tf || w->gra != g->gra ||
            w->min != g->min || w->max != g->max || w->tra != g->tra || w->len != g->len)
            fail_msg("_CRS descriptor %u: tag %#x type %u gf %#x tf %#x gra %#llx min %#llx "
                     "max %#llx tra %#llx len %#llx, expected tag %#x min %#llx max %#llx "
                     "len %#llx",
                     i, g->tag, g->type, g->gf, g->tf, (unsigned long long)g->gra, (unsigned long long)g->min,
                     (unsigned long long)g->max, (unsigned long long)g->tra, (unsigned long long)g->len, w->tag,
                     (unsigned long long)w->min, (unsigned long long)w->max, (unsigned long long)w->len);
    }
}

/* ---------------------------------------------------------------- through the scanner */

struct fmem {
    const u8 *buf;
    u64 size;
};

static const void *fmap(void *opaque, u64 pa, u64 len)
{
    const struct fmem *m = opaque;
    if (pa < BASE || pa - BASE > m->size || len > m->size - (pa - BASE))
        return NULL;
    return m->buf + (pa - BASE);
}

static struct acpi_info info;

/* The partition's tables with aml as the DSDT body, parsed with acpi_parse();
 * returns them (the DSDT at *dsdt, *dsdt_len bytes). */
static u8 *parse_dsdt(const u8 *aml, u32 len, const u8 **dsdt, u32 *dsdt_len)
{
    static const u32 ids[] = { 0 };
    struct guest_acpi_config acfg = { .nvcpus = 1, .apic_ids = ids, .dsdt_aml = aml, .dsdt_aml_len = len };
    struct guest_acpi_layout l;
    char err[GUEST_ACPI_ERR_LEN];
    assert_int_equal(guest_acpi_layout(&acfg, gpa(BASE), &l, err, sizeof(err)), 0);
    u8 *tables = malloc(l.size);
    assert_non_null(tables);
    assert_int_equal(guest_acpi_build(&acfg, gpa(BASE), tables, l.size, &l, err, sizeof(err)), 0);

    test_stubs_reset();
    struct fmem fm = { tables, l.size };
    struct acpi_mem mem = { fmap, &fm };
    assert_int_equal(acpi_parse(&mem, l.rsdp, &info), 0);
    if (test_log_count[LOG_ERROR] || test_log_count[LOG_WARN])
        fail_msg("the parser complained:\n%s", test_log_buf);

    const struct acpi_table_desc *t = acpi_find_table(&info, "DSDT", 0);
    assert_non_null(t);
    assert_int_equal(t->status, ACPI_TABLE_OK);
    assert_int_equal(t->length, sizeof(struct acpi_header) + len);
    *dsdt = tables + (l.dsdt - BASE);
    *dsdt_len = t->length;
    return tables;
}

static void check_scanned(void)
{
    assert_int_equal(info.aml.tables, 1);
    assert_int_equal(info.aml.devices, 1);
    assert_int_equal(info.aml.not_understood, 0);
    assert_int_equal(info.npci_roots, 1);
    const struct acpi_pci_root *r = &info.pci_roots[0];
    assert_string_equal(r->path, "\\_SB_.PCI0");
    assert_string_equal(r->hid, "PNP0A03");
    assert_int_equal(acpi_eisaid_encode("PNP0A03"), PNP0A03);
    assert_false(r->pcie);
    assert_true(r->has_bbn);
    assert_int_equal(r->base_bus, 0);
    assert_true(r->has_seg);
    assert_int_equal(r->segment, 0);
    assert_true(r->has_uid);
    assert_int_equal(r->uid, 0);
    assert_false(r->has_pxm);
    assert_int_equal(r->unknown, 0);
}

static void check_all(const struct guest_aml_pci *cfg)
{
    u32 len;
    u8 *aml = build(cfg, &len);
    check_aml(aml, len, cfg);
    const u8 *dsdt;
    u32 dsdt_len;
    u8 *tables = parse_dsdt(aml, len, &dsdt, &dsdt_len);
    check_scanned();
    assert_memory_equal(dsdt + sizeof(struct acpi_header), aml, len);
    free(tables);
    free(aml);
}

/* ---------------------------------------------------------------- tests */

static void test_layout_windows(void **state) { check_all(&layout_cfg); }

static void test_no_mmio64(void **state)
{
    struct guest_aml_pci c = layout_cfg;
    c.mmio64_end = c.mmio64_base; /* empty */
    check_all(&c);
    c.mmio64_base = c.mmio64_end = 0;
    check_all(&c);
    c.mmio64_end = 1; /* end <= base: none */
    c.mmio64_base = GiB(64);
    check_all(&c);
}

/* The widest windows each descriptor can carry, and the narrowest. */
static void test_edges(void **state)
{
    struct guest_aml_pci c = {
        .mmio32_base = 1,
        .mmio32_end = GiB(4), /* _MAX 0xffffffff, _LEN 0xffffffff */
        .mmio64_base = GiB(4),
        .mmio64_end = ~0ULL,
    };
    check_all(&c);
    c.mmio32_base = 0;
    c.mmio32_end = 1;
    c.mmio64_base = GiB(4);
    c.mmio64_end = GiB(4) + 1;
    check_all(&c);
}

static void test_enospc(void **state)
{
    u32 need, len;
    u8 *ref = build(&layout_cfg, &need);
    for (u32 size = 0; size < need; size++) {
        u8 *b = size ? malloc(size) : NULL;
        assert_true(size == 0 || b);
        if (b)
            memset(b, 0xa5, size);
        len = 12345;
        assert_int_equal(guest_aml_pci_root(b, size, &layout_cfg, &len), -ENOSPC);
        assert_int_equal(len, need);
        free(b);
    }
    /* A bigger buffer: the same bytes, nothing written after them. */
    u8 big[GUEST_AML_PCI_ROOT_MAX + 16];
    memset(big, 0xa5, sizeof(big));
    assert_int_equal(guest_aml_pci_root(big, sizeof(big), &layout_cfg, &len), 0);
    assert_int_equal(len, need);
    assert_memory_equal(big, ref, need);
    for (u32 i = need; i < sizeof(big); i++)
        assert_int_equal(big[i], 0xa5);
    free(ref);
}

static void test_einval(void **state)
{
    u8 buf[GUEST_AML_PCI_ROOT_MAX];
    u32 len = 7;
    assert_int_equal(guest_aml_pci_root(buf, sizeof(buf), NULL, &len), -EINVAL);
    assert_int_equal(guest_aml_pci_root(buf, sizeof(buf), &layout_cfg, NULL), -EINVAL);
    assert_int_equal(guest_aml_pci_root(NULL, 1, &layout_cfg, &len), -EINVAL);

    static const struct guest_aml_pci bad[] = {
        { .mmio32_base = 0xc0000000, .mmio32_end = 0xc0000000 }, /* empty */
        { .mmio32_base = 0xd0000000, .mmio32_end = 0xc0000000 }, /* reversed */
        { .mmio32_base = 0xc0000000, .mmio32_end = GiB(4) + 1 }, /* past 4 GiB */
        { .mmio32_base = 0, .mmio32_end = GiB(4) },              /* _LEN needs 33 bits */
        { .mmio32_base = 0xc0000000,
          .mmio32_end = 0xfec00000, /* 64-bit window */
          .mmio64_base = GiB(4) - 1,
          .mmio64_end = GiB(8) }, /* below 4 GiB */
        { .mmio32_base = 0xc0000000, .mmio32_end = 0xfec00000, .mmio64_base = 0, .mmio64_end = 1 },
    };
    for (u32 i = 0; i < ARRAY_SIZE(bad); i++) {
        len = 7;
        assert_int_equal(guest_aml_pci_root(buf, sizeof(buf), &bad[i], &len), -EINVAL);
        assert_int_equal(len, 0);
    }
}

/* ---------------------------------------------------------------- iasl */

static int run(const char *dir, const char *cmd)
{
    char line[1024];
    snprintf(line, sizeof(line), "cd '%s' && %s >>iasl.log 2>&1", dir, cmd);
    return system(line);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *s = malloc(65536);
    assert_non_null(s);
    *n = fread(s, 1, 65535, f);
    s[*n] = '\0';
    fclose(f);
    return s;
}

/* ACPICA's disassembler reads the DSDT, and its compiler turns the result back
 * into the same AML without errors or warnings. */
/* \_S5 after the host bridge, as a partition's DSDT has it: the scan finds
 * both, and the sleep type. */
static void test_s5(void **state)
{
    (void)state;
    u8 buf[GUEST_AML_PCI_ROOT_MAX + GUEST_AML_S5_LEN];
    u32 len = 0, s5 = 0;
    assert_int_equal(guest_aml_pci_root(buf, sizeof(buf), &layout_cfg, &len), 0);
    assert_int_equal(guest_aml_s5(NULL, 0, 5, &s5), -ENOSPC);
    assert_int_equal(s5, GUEST_AML_S5_LEN);
    assert_int_equal(guest_aml_s5(buf + len, GUEST_AML_S5_LEN - 1, 5, &s5), -ENOSPC);
    assert_int_equal(guest_aml_s5(NULL, 4, 5, &s5), -EINVAL);
    assert_int_equal(guest_aml_s5(buf + len, GUEST_AML_S5_LEN, 5, NULL), -EINVAL);
    assert_int_equal(guest_aml_s5(buf + len, GUEST_AML_S5_LEN, 5, &s5), 0);
    static const u8 want[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 5, 0x0a, 5, 0, 0 };
    assert_memory_equal(buf + len, want, sizeof(want));
    const u8 *dsdt;
    u32 dsdt_len;
    u8 *tables = parse_dsdt(buf, len + s5, &dsdt, &dsdt_len);
    check_scanned();
    assert_true(info.s5.valid);
    assert_int_equal(info.s5.slp_typa, 5);
    assert_int_equal(info.s5.slp_typb, 5);
    free(tables);
}

/* COM1 for Linux's 8250_pnp: the bytes iasl makes of
 * Device (COM1) { Name (_HID, EisaId ("PNP0501")) Name (_UID, 1)
 *   Name (_CRS, ResourceTemplate () { IO (Decode16, 0x3F8, 0x3F8, 1, 8)
 *                                     IRQ (Level, ActiveHigh, Exclusive) {4} }) } */
static void test_com1(void **state)
{
    (void)state;
    static const u8 want[] = {
        0x10, 0x34, '\\', '_',  'S',  'B',  '_',                    /* Scope (\_SB) */
        0x5b, 0x82, 0x2c, 'C',  'O',  'M',  '1',                    /* Device (COM1) */
        0x08, '_',  'H',  'I',  'D',  0x0c, 0x41, 0xd0, 0x05, 0x01, /* _HID PNP0501 */
        0x08, '_',  'U',  'I',  'D',  0x01,                         /* _UID 1 */
        0x08, '_',  'C',  'R',  'S',  0x11, 0x11, 0x0a, 0x0e,       /* _CRS, 14 bytes */
        0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,             /* IO 0x3F8, 8 ports */
        0x23, 0x10, 0x00, 0x00,                                     /* IRQ 4, level, high */
        0x79, 0x00,                                                 /* end tag */
    };
    u8 buf[GUEST_AML_COM1_MAX];
    u32 len = 0;
    assert_int_equal(guest_aml_com1(buf, sizeof(buf), 0x3f8, 4, true, &len), 0);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    /* Edge: only the information byte differs. */
    assert_int_equal(guest_aml_com1(buf, sizeof(buf), 0x3f8, 4, false, &len), 0);
    assert_int_equal(buf[sizeof(want) - 3], 0x01);
    assert_int_equal(guest_aml_com1(NULL, 0, 0x3f8, 4, true, &len), -ENOSPC);
    assert_int_equal(len, sizeof(want));
    assert_int_equal(guest_aml_com1(buf, (u32)sizeof(want) - 1, 0x3f8, 4, true, &len), -ENOSPC);
    assert_int_equal(guest_aml_com1(buf, sizeof(buf), 0x3f8, 16, true, &len), -EINVAL);
    assert_int_equal(guest_aml_com1(buf, sizeof(buf), 0xfffa, 4, true, &len), -EINVAL);
    assert_int_equal(guest_aml_com1(NULL, 4, 0x3f8, 4, true, &len), -EINVAL);
    assert_int_equal(guest_aml_com1(buf, sizeof(buf), 0x3f8, 4, true, NULL), -EINVAL);
}

static void test_rtc(void **state)
{
    (void)state;
    static const u8 want[] = {
        0x10, 0x2a, '\\', '_',  'S',  'B',  '_',                    /* Scope (\_SB) */
        0x5b, 0x82, 0x22, 'R',  'T',  'C',  '_',                    /* Device (RTC_) */
        0x08, '_',  'H',  'I',  'D',  0x0c, 0x41, 0xd0, 0x0b, 0x00, /* _HID PNP0B00 */
        0x08, '_',  'C',  'R',  'S',  0x11, 0x0d, 0x0a, 0x0a,       /* _CRS, 10 bytes */
        0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02,             /* IO 0x70, 2 ports */
        0x79, 0x00,                                                 /* end tag: no IRQ */
    };
    u8 buf[GUEST_AML_RTC_MAX];
    u32 len = 0;
    assert_int_equal(guest_aml_rtc(buf, sizeof(buf), 0x70, &len), 0);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(guest_aml_rtc(NULL, 0, 0x70, &len), -ENOSPC);
    assert_int_equal(len, sizeof(want));
    assert_int_equal(guest_aml_rtc(buf, (u32)sizeof(want) - 1, 0x70, &len), -ENOSPC);
    assert_int_equal(guest_aml_rtc(buf, sizeof(buf), 0xffff, &len), -EINVAL);
    assert_int_equal(guest_aml_rtc(NULL, 4, 0x70, &len), -EINVAL);
    assert_int_equal(guest_aml_rtc(buf, sizeof(buf), 0x70, NULL), -EINVAL);
}

static void test_iasl(void **state)
{
    if (system("command -v iasl >/dev/null 2>&1") != 0)
        skip(); /* Debian: acpica-tools */
    u32 len, dsdt_len;
    const u8 *dsdt;
    u8 *aml = build(&layout_cfg, &len);
    u8 *tables = parse_dsdt(aml, len, &dsdt, &dsdt_len);

    char dir[] = "/tmp/test_guest_aml.XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/dsdt.dat", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(dsdt, 1, dsdt_len, f), dsdt_len);
    fclose(f);

    size_t n;
    snprintf(path, sizeof(path), "%s/iasl.log", dir);
    if (run(dir, "iasl -d dsdt.dat") != 0)
        fail_msg("iasl -d failed:\n%s", slurp(path, &n));
    /* -on: keep "\_SB_" as written (iasl would shorten it to "_SB_" at the top). */
    if (run(dir, "iasl -on -we -p re dsdt.dsl") != 0)
        fail_msg("iasl could not recompile the disassembly:\n%s", slurp(path, &n));

    snprintf(path, sizeof(path), "%s/dsdt.dsl", dir);
    char *dsl = slurp(path, &n);
    static const char *const want[] = {
        "Device (PCI0)",
        "EisaId (\"PNP0A03\")",
        "WordBusNumber (ResourceProducer",
        "IO (Decode16,",
        "0x0CF8,",
        "WordIO (ResourceProducer",
        "0x0CF7,",
        "0x0D00,",
        "DWordMemory (ResourceProducer",
        "NonCacheable, ReadWrite",
        "0xFEBFFFFF,",
        "QWordMemory (ResourceProducer",
        "0x0000001FFFFFFFFF,",
    };
    for (u32 i = 0; i < ARRAY_SIZE(want); i++)
        if (!strstr(dsl, want[i]))
            fail_msg("\"%s\" not in the disassembly:\n%s", want[i], dsl);
    free(dsl);

    snprintf(path, sizeof(path), "%s/re.aml", dir);
    char *re = slurp(path, &n);
    assert_int_equal(n, dsdt_len);
    assert_memory_equal(re + sizeof(struct acpi_header), aml, len);
    free(re);

    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
    free(tables);
    free(aml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_windows), cmocka_unit_test(test_no_mmio64), cmocka_unit_test(test_edges),
        cmocka_unit_test(test_enospc),         cmocka_unit_test(test_einval),    cmocka_unit_test(test_s5),
        cmocka_unit_test(test_com1),           cmocka_unit_test(test_rtc),       cmocka_unit_test(test_iasl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
