/* Helpers for the ACPI and topology tests, #included by test_acpi.c, test_acpi_aml.c
 * and test_topology.c (kept in one .c file so the tests share them without a header):
 *  - a fake physical memory implementing struct acpi_mem, each region in its own
 *    exactly-sized heap block so that ASan catches any read past a table;
 *  - builders for tables with correct lengths and checksums, and for AML;
 *  - the fixture loader: tests/unit/fixtures/acpi/<machine>/manifest.txt lists
 *    "<hex physical address> <file>" lines, the RSDP first. */
#ifndef TEST_ACPI_UTIL_C
#define TEST_ACPI_UTIL_C

/* Not every includer uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/acpi/acpi.h"
#include "drivers/acpi/tables.h"
#include "kernel/core/log.h"
#include "tests/unit/stubs.h"

/* ---------------------------------------------------------------- fake memory */

#define FM_MAX 64

struct fm_region {
    u64 pa;
    u64 len;
    u8 *data;
    char name[64];
};

struct fake_mem {
    u32 n;
    struct fm_region r[FM_MAX];
    u32 maps; /* calls to map(), for tests that count them */
};

static const void *fm_map(void *opaque, u64 pa, u64 len)
{
    struct fake_mem *m = opaque;
    m->maps++;
    for (u32 i = 0; i < m->n; i++) {
        const struct fm_region *r = &m->r[i];
        if (pa >= r->pa && pa - r->pa <= r->len && len <= r->len - (pa - r->pa))
            return r->data + (pa - r->pa);
    }
    return NULL;
}

static void fm_init(struct fake_mem *m) { memset(m, 0, sizeof(*m)); }

/* Copies len bytes to a new region at pa; returns the copy (writable, for corrupting). */
static u8 *fm_add(struct fake_mem *m, u64 pa, const void *data, u64 len)
{
    assert_true(m->n < FM_MAX);
    struct fm_region *r = &m->r[m->n++];
    r->pa = pa;
    r->len = len;
    r->data = malloc(len ? len : 1);
    assert_non_null(r->data);
    memcpy(r->data, data, len);
    return r->data;
}

static void fm_free(struct fake_mem *m)
{
    for (u32 i = 0; i < m->n; i++)
        free(m->r[i].data);
    m->n = 0;
}

static struct acpi_mem fm_acpi(struct fake_mem *m)
{
    struct acpi_mem a = { fm_map, m };
    return a;
}

/* ---------------------------------------------------------------- table builder */

struct tb {
    u32 len;
    u8 b[65536];
};

static void tb_bytes(struct tb *t, const void *p, u32 n)
{
    assert_true(t->len + n <= sizeof(t->b));
    memcpy(t->b + t->len, p, n);
    t->len += n;
}
static void tb_u8(struct tb *t, u8 v) { tb_bytes(t, &v, 1); }
static void tb_u16(struct tb *t, u16 v) { tb_bytes(t, &v, 2); }
static void tb_u32(struct tb *t, u32 v) { tb_bytes(t, &v, 4); }
static void tb_u64(struct tb *t, u64 v) { tb_bytes(t, &v, 8); }
static void tb_zero(struct tb *t, u32 n)
{
    assert_true(t->len + n <= sizeof(t->b));
    memset(t->b + t->len, 0, n);
    t->len += n;
}
static void tb_gas(struct tb *t, u8 space, u8 width, u64 addr)
{
    tb_u8(t, space);
    tb_u8(t, width);
    tb_u8(t, 0);
    tb_u8(t, 0);
    tb_u64(t, addr);
}

/* Starts a table: the 36-byte header, length and checksum filled by tb_finish(). */
static void tb_start(struct tb *t, const char *sig, u8 rev)
{
    struct acpi_header h;
    memset(t, 0, offsetof(struct tb, b));
    memset(&h, 0, sizeof(h));
    memcpy(h.signature, sig, 4);
    h.revision = rev;
    memcpy(h.oem_id, "ISTHMS", 6);
    memcpy(h.oem_table_id, "UNITTEST", 8);
    h.oem_revision = 1;
    memcpy(h.creator_id, "TEST", 4);
    h.creator_revision = 1;
    tb_bytes(t, &h, sizeof(h));
}

static void tb_fix_checksum(u8 *p, u32 len, u32 csum_off)
{
    p[csum_off] = 0;
    p[csum_off] = (u8)(0x100 - acpi_checksum(p, len));
}

static void tb_finish(struct tb *t)
{
    memcpy(t->b + 4, &t->len, 4);
    tb_fix_checksum(t->b, t->len, 9);
}

/* Adds the finished table at pa. */
static u8 *tb_place(struct fake_mem *m, u64 pa, struct tb *t) { return fm_add(m, pa, t->b, t->len); }

/* An RSDP of revision rev (0: 20 bytes, >= 2: 36 bytes) at pa. */
static u8 *put_rsdp(struct fake_mem *m, u64 pa, u8 rev, u32 rsdt, u64 xsdt)
{
    struct acpi_rsdp r;
    memset(&r, 0, sizeof(r));
    memcpy(r.signature, "RSD PTR ", 8);
    memcpy(r.oem_id, "ISTHMS", 6);
    r.revision = rev;
    r.rsdt_address = rsdt;
    r.length = sizeof(r);
    r.xsdt_address = xsdt;
    tb_fix_checksum((u8 *)&r, ACPI_RSDP_V1_SIZE, offsetof(struct acpi_rsdp, checksum));
    tb_fix_checksum((u8 *)&r, sizeof(r), offsetof(struct acpi_rsdp, ext_checksum));
    return fm_add(m, pa, &r, rev >= 2 ? sizeof(r) : ACPI_RSDP_V1_SIZE);
}

/* An XSDT (entry 8) or RSDT (entry 4) listing n tables at pa. */
static u8 *put_root(struct fake_mem *m, u64 pa, const char *sig, const u64 *entries, u32 n)
{
    struct tb *t = malloc(sizeof(*t));
    bool x = memcmp(sig, "XSDT", 4) == 0;
    tb_start(t, sig, 1);
    for (u32 i = 0; i < n; i++) {
        if (x)
            tb_u64(t, entries[i]);
        else
            tb_u32(t, (u32)entries[i]);
    }
    tb_finish(t);
    u8 *p = tb_place(m, pa, t);
    free(t);
    return p;
}

/* After a test corrupts a placed table on purpose, makes its checksum right again. */
static void recompute_checksum(u8 *table)
{
    u32 len;
    memcpy(&len, table + 4, 4);
    tb_fix_checksum(table, len, 9);
}

/* ---------------------------------------------------------------- AML builder */

struct aml {
    u32 n;
    u32 depth;
    u32 open[64]; /* positions where a PkgLength goes */
    u8 b[16384];
};

static void aml_bytes(struct aml *a, const void *p, u32 n)
{
    assert_true(a->n + n <= sizeof(a->b));
    memcpy(a->b + a->n, p, n);
    a->n += n;
}
static void aml_u8(struct aml *a, u8 v) { aml_bytes(a, &v, 1); }

/* A NameString from "\\_SB.PC80", "^PC90", "FOO" ... segments padded with '_'. */
static void aml_name(struct aml *a, const char *path)
{
    char segs[16][4];
    u32 n = 0;
    if (*path == '\\') {
        aml_u8(a, 0x5c);
        path++;
    }
    while (*path == '^') {
        aml_u8(a, 0x5e);
        path++;
    }
    while (*path) {
        assert_true(n < 16);
        memset(segs[n], '_', 4);
        for (u32 i = 0; *path && *path != '.'; i++, path++) {
            assert_true(i < 4);
            segs[n][i] = *path;
        }
        n++;
        if (*path == '.')
            path++;
    }
    if (n == 0) {
        aml_u8(a, 0x00);
    } else if (n == 2) {
        aml_u8(a, 0x2e);
    } else if (n > 2) {
        aml_u8(a, 0x2f);
        aml_u8(a, (u8)n);
    }
    for (u32 i = 0; i < n; i++)
        aml_bytes(a, segs[i], 4);
}

/* Opens a PkgLength-delimited construct after its opcode byte(s). */
static void aml_open(struct aml *a)
{
    assert_true(a->depth < 64);
    a->open[a->depth++] = a->n;
}

/* Closes the innermost construct: inserts the smallest PkgLength encoding. */
static void aml_close(struct aml *a)
{
    assert_true(a->depth > 0);
    u32 pos = a->open[--a->depth];
    u32 body = a->n - pos;
    u32 extra = body + 1 <= 0x3f ? 0 : body + 2 <= 0xfff ? 1 : body + 3 <= 0xfffff ? 2 : 3;
    u32 len = body + 1 + extra;
    u8 enc[4];
    if (extra == 0) {
        enc[0] = (u8)len;
    } else {
        enc[0] = (u8)(extra << 6 | (len & 0xf));
        for (u32 i = 0; i < extra; i++)
            enc[1 + i] = (u8)(len >> (4 + 8 * i));
    }
    assert_true(a->n + 1 + extra <= sizeof(a->b));
    memmove(a->b + pos + 1 + extra, a->b + pos, body);
    memcpy(a->b + pos, enc, 1 + extra);
    a->n += 1 + extra;
}

static void aml_scope(struct aml *a, const char *name)
{
    aml_u8(a, 0x10);
    aml_open(a);
    aml_name(a, name);
}
static void aml_device(struct aml *a, const char *name)
{
    aml_u8(a, 0x5b);
    aml_u8(a, 0x82);
    aml_open(a);
    aml_name(a, name);
}
static void aml_method(struct aml *a, const char *name, u8 argc)
{
    aml_u8(a, 0x14);
    aml_open(a);
    aml_name(a, name);
    aml_u8(a, argc & 7);
}
/* Integer data objects, using the smallest encoding. */
static void aml_int(struct aml *a, u64 v)
{
    if (v == 0) {
        aml_u8(a, 0x00);
    } else if (v == 1) {
        aml_u8(a, 0x01);
    } else if (v <= 0xff) {
        aml_u8(a, 0x0a);
        aml_u8(a, (u8)v);
    } else if (v <= 0xffff) {
        aml_u8(a, 0x0b);
        aml_bytes(a, &v, 2);
    } else if (v <= 0xffffffff) {
        aml_u8(a, 0x0c);
        aml_bytes(a, &v, 4);
    } else {
        aml_u8(a, 0x0e);
        aml_bytes(a, &v, 8);
    }
}
static void aml_string(struct aml *a, const char *s)
{
    aml_u8(a, 0x0d);
    aml_bytes(a, s, (u32)strlen(s) + 1);
}
static void aml_eisaid(struct aml *a, const char *id)
{
    u32 v = acpi_eisaid_encode(id);
    aml_u8(a, 0x0c);
    aml_bytes(a, &v, 4);
}
static void aml_name_int(struct aml *a, const char *name, u64 v)
{
    aml_u8(a, 0x08);
    aml_name(a, name);
    aml_int(a, v);
}
static void aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
    aml_u8(a, 0x08);
    aml_name(a, name);
    aml_eisaid(a, id);
}
static void aml_name_string(struct aml *a, const char *name, const char *s)
{
    aml_u8(a, 0x08);
    aml_name(a, name);
    aml_string(a, s);
}

/* Wraps AML in a DSDT/SSDT (revision 2 unless told) in t. */
static void aml_table(struct tb *t, const char *sig, u8 rev, const struct aml *a)
{
    assert_int_equal(a->depth, 0);
    tb_start(t, sig, rev);
    tb_bytes(t, a->b, a->n);
    tb_finish(t);
}

/* Runs the scan over one exactly-sized heap copy of the table. */
#include "drivers/acpi/aml.h"
static void scan_tables(struct acpi_info *info, struct tb *const *tables, u32 n)
{
    struct aml_scanner s;
    memset(info, 0, sizeof(*info));
    aml_scan_init(&s, info);
    for (u32 i = 0; i < n; i++) {
        u8 *copy = malloc(tables[i]->len);
        memcpy(copy, tables[i]->b, tables[i]->len);
        aml_scan_table(&s, copy, tables[i]->len);
        free(copy);
    }
    aml_scan_finish(&s);
}

static const struct acpi_pci_root *find_root(const struct acpi_info *info, const char *path)
{
    for (u32 i = 0; i < info->npci_roots; i++)
        if (strcmp(info->pci_roots[i].path, path) == 0)
            return &info->pci_roots[i];
    return NULL;
}

/* ---------------------------------------------------------------- fixtures */

/* Loads fixtures/acpi/<machine> (from tests/unit or the repository root) into m.
 * On failure fails the test, saying the fixture is missing. */
static u64 fixture_load(struct fake_mem *m, const char *machine)
{
    static const char *const roots[] = { "fixtures/acpi", "tests/unit/fixtures/acpi" };
    char dir[256], path[512], line[512];
    FILE *man = NULL;
    for (u32 i = 0; i < 2 && !man; i++) {
        snprintf(dir, sizeof(dir), "%s/%s", roots[i], machine);
        snprintf(path, sizeof(path), "%s/manifest.txt", dir);
        man = fopen(path, "r");
    }
    if (!man)
        fail_msg("fixture missing: tests/unit/fixtures/acpi/%s/manifest.txt "
                 "(capture it with tools/acpi-capture.py %s)",
                 machine, machine);
    fm_init(m);
    u64 rsdp = 0;
    while (fgets(line, sizeof(line), man)) {
        unsigned long long pa;
        char file[256];
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%llx %255s", &pa, file) != 2)
            fail_msg("%s: bad manifest line: %s", path, line);
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        FILE *f = fopen(path, "rb");
        if (!f)
            fail_msg("fixture file missing: %s", path);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        u8 *buf = malloc(size > 0 ? (size_t)size : 1);
        if (size <= 0 || fread(buf, 1, (size_t)size, f) != (size_t)size)
            fail_msg("cannot read %s", path);
        fclose(f);
        fm_add(m, pa, buf, (u64)size);
        strncpy(m->r[m->n - 1].name, file, sizeof(m->r[0].name) - 1);
        free(buf);
        if (!rsdp)
            rsdp = pa;
    }
    fclose(man);
    if (!rsdp)
        fail_msg("fixture %s: empty manifest", machine);
    return rsdp;
}

static bool log_has(const char *needle) { return strstr(test_log_buf, needle) != NULL; }

#endif
