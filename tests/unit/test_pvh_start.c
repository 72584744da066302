/* PVH start info: the structure, the sorted and merged memory map, modules and
 * command lines, read back through guest-physical addresses the way a guest
 * would; every rejection; a random memory map property test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/pvh_start.h"
#include "kernel/lib/errno.h"
#include "tests/unit/stubs.h"
#include "tests/unit/xorshift.h"

#define BASE 0x7000ULL

static u8 page[4096];
static char err[PVH_ERR_LEN_START];

/* The guest's view: a pointer for [gpa, gpa + len), which must lie in the page. */
static const void *gview(u64 gpa, u64 len)
{
    assert_true(gpa >= BASE && gpa - BASE <= sizeof(page) && len <= sizeof(page) - (gpa - BASE));
    return page + (gpa - BASE);
}

static const char *gstr(u64 gpa)
{
    const char *s = gview(gpa, 1);
    assert_non_null(memchr(s, 0, sizeof(page) - (gpa - BASE)));
    return s;
}

static const struct pvh_mem_range std_ranges[] = {
    /* deliberately out of order */
    { 0x100000, MiB(31), HVM_MEMMAP_RAM },   { 0x8000, 0x98000, HVM_MEMMAP_RAM },
    { 0, 0x7000, HVM_MEMMAP_RAM },           { 0xe0000, 0x20000, HVM_MEMMAP_ACPI },
    { 0x7000, 0x1000, HVM_MEMMAP_RESERVED }, { 0xfee00000, 0x1000, HVM_MEMMAP_RESERVED },
};

static struct pvh_start_config std_cfg(void)
{
    memset(page, 0xaa, sizeof(page));
    struct pvh_start_config c = {
        .base = gpa(BASE),
        .buf = page,
        .buf_size = sizeof(page),
        .ranges = std_ranges,
        .nranges = ARRAY_SIZE(std_ranges),
        .cmdline = "console=hvc0 root=/dev/vda ro",
        .rsdp_gpa = 0xe0000,
    };
    return c;
}

static void test_basic(void **state)
{
    static const struct pvh_module mods[] = {
        { MiB(20), 0x123456, "initrd args" },
        { MiB(24), 0x1000, NULL },
    };
    struct pvh_start_config c = std_cfg();
    c.modules = mods;
    c.nmodules = 2;
    struct pvh_start_layout l;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), 0);
    assert_string_equal(err, "");

    const struct hvm_start_info *si = gview(BASE, sizeof(*si));
    assert_int_equal(si->magic, HVM_START_MAGIC);
    assert_int_equal(si->version, 1);
    assert_int_equal(si->flags, 0);
    assert_int_equal(si->rsdp_paddr, 0xe0000);
    assert_int_equal(si->reserved, 0);
    assert_int_equal(si->memmap_paddr, BASE + 56);
    assert_int_equal(si->memmap_entries, 6);
    assert_int_equal(l.memmap_entries, 6);
    assert_int_equal(l.memmap_gpa, si->memmap_paddr);

    const struct hvm_memmap_table_entry *mm = gview(si->memmap_paddr, si->memmap_entries * sizeof(*mm));
    static const struct {
        u64 a, s;
        u32 t;
    } want[] = {
        { 0, 0x7000, 1 },        { 0x7000, 0x1000, 2 },    { 0x8000, 0x98000, 1 },
        { 0xe0000, 0x20000, 3 }, { 0x100000, MiB(31), 1 }, { 0xfee00000, 0x1000, 2 },
    };
    for (u32 i = 0; i < ARRAY_SIZE(want); i++) {
        assert_int_equal(mm[i].addr, want[i].a);
        assert_int_equal(mm[i].size, want[i].s);
        assert_int_equal(mm[i].type, want[i].t);
        assert_int_equal(mm[i].reserved, 0);
    }

    assert_int_equal(si->nr_modules, 2);
    assert_int_equal(si->modlist_paddr, l.modlist_gpa);
    assert_true(IS_ALIGNED(si->modlist_paddr, 8));
    const struct hvm_modlist_entry *ml = gview(si->modlist_paddr, 2 * sizeof(*ml));
    assert_int_equal(ml[0].paddr, MiB(20));
    assert_int_equal(ml[0].size, 0x123456);
    assert_string_equal(gstr(ml[0].cmdline_paddr), "initrd args");
    assert_int_equal(ml[1].cmdline_paddr, 0);
    assert_int_equal(ml[1].reserved, 0);

    assert_int_equal(si->cmdline_paddr, l.cmdline_gpa);
    assert_true(IS_ALIGNED(si->cmdline_paddr, 8));
    assert_string_equal(gstr(si->cmdline_paddr), "console=hvc0 root=/dev/vda ro");

    /* Everything after the used part is zero; the used part ends after the last string. */
    assert_true(ml[0].cmdline_paddr > si->cmdline_paddr);
    assert_int_equal(l.size, ml[0].cmdline_paddr - BASE + 16);
    for (u64 i = l.size; i < sizeof(page); i++)
        assert_int_equal(page[i], 0);
}

static void test_minimal(void **state)
{
    static const struct pvh_mem_range one[] = { { 0, MiB(64), HVM_MEMMAP_RAM } };
    struct pvh_start_config c = std_cfg();
    c.ranges = one;
    c.nranges = 1;
    c.cmdline = NULL;
    c.rsdp_gpa = 0;
    c.buf_size = 56 + 24; /* exactly enough */
    struct pvh_start_layout l;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), 0);
    const struct hvm_start_info *si = gview(BASE, sizeof(*si));
    assert_int_equal(si->cmdline_paddr, 0);
    assert_int_equal(si->modlist_paddr, 0);
    assert_int_equal(si->nr_modules, 0);
    assert_int_equal(si->rsdp_paddr, 0);
    assert_int_equal(si->memmap_entries, 1);
    assert_int_equal(l.size, 80);
    assert_int_equal(page[80], 0xaa); /* beyond buf_size: untouched */

    c.buf_size = 79;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -ENOSPC);
    c.cmdline = "";
    c.buf_size = 88;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), 0);
    assert_string_equal(gstr(si->cmdline_paddr), "");
    c.buf_size = 87;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -ENOSPC);
    assert_string_equal(err, "the start info needs 88 bytes, the buffer has 87");
}

static void test_merge(void **state)
{
    static const struct pvh_mem_range r[] = {
        { MiB(2), MiB(2), HVM_MEMMAP_RAM },      { 0, MiB(1), HVM_MEMMAP_RAM },
        { MiB(1), MiB(1), HVM_MEMMAP_RAM },                                          /* joins both neighbours */
        { MiB(4), MiB(1), HVM_MEMMAP_RESERVED },                                     /* adjacent, other type: kept */
        { MiB(5), MiB(1), HVM_MEMMAP_RESERVED }, { MiB(7), MiB(1), HVM_MEMMAP_RAM }, /* gap before: kept */
    };
    struct pvh_start_config c = std_cfg();
    c.ranges = r;
    c.nranges = ARRAY_SIZE(r);
    struct pvh_start_layout l;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), 0);
    assert_int_equal(l.memmap_entries, 3);
    const struct hvm_memmap_table_entry *mm = gview(l.memmap_gpa, 3 * sizeof(*mm));
    assert_int_equal(mm[0].addr, 0);
    assert_int_equal(mm[0].size, MiB(4));
    assert_int_equal(mm[1].addr, MiB(4));
    assert_int_equal(mm[1].size, MiB(2));
    assert_int_equal(mm[1].type, HVM_MEMMAP_RESERVED);
    assert_int_equal(mm[2].addr, MiB(7));
    /* The command line follows the merged map directly. */
    assert_int_equal(l.cmdline_gpa, l.memmap_gpa + 3 * sizeof(*mm));
}

static void test_range_errors(void **state)
{
    struct pvh_start_layout l;
    struct pvh_start_config c = std_cfg();
    struct pvh_mem_range r[3] = {
        { 0, MiB(2), HVM_MEMMAP_RAM },
        { MiB(4), MiB(1), HVM_MEMMAP_RAM },
        { MiB(2) - 0x1000, 0x2000, HVM_MEMMAP_RESERVED },
    };
    c.ranges = r;
    c.nranges = 3;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "memory ranges [0x0, 0x200000) and [0x1ff000, 0x201000) overlap");
    for (u64 i = 0; i < sizeof(page); i++)
        assert_int_equal(page[i], 0);                                /* nothing half-built is left */
    r[2] = (struct pvh_mem_range){ MiB(4), MiB(1), HVM_MEMMAP_RAM }; /* duplicate */
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    r[2] = (struct pvh_mem_range){ MiB(8), 0, HVM_MEMMAP_RAM };
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "memory range 2 at 0x800000 has size 0x0");
    r[2] = (struct pvh_mem_range){ 0xfffffffffffff000ULL, 0x2000, HVM_MEMMAP_RAM };
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    r[2] = (struct pvh_mem_range){ 0xfffffffffffff000ULL, 0x1000, HVM_MEMMAP_RAM }; /* end 2^64 */
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    r[2] = (struct pvh_mem_range){ 0xffffffffffffe000ULL, 0x1000, HVM_MEMMAP_RAM };
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), 0);

    c.nranges = 0;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "empty memory map");
    c.nranges = PVH_MAX_MEMMAP + 1;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -E2BIG);

    c = std_cfg();
    c.base = gpa(BASE + 4);
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    c.base = gpa(0xfffffffffffff008ULL);
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    c = std_cfg();
    c.buf = NULL;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    assert_int_equal(pvh_start_build(NULL, &l, err, sizeof(err)), -EINVAL);
    c = std_cfg();
    c.buf_size = 56 + 24 * 5; /* the map itself does not fit */
    assert_int_equal(pvh_start_build(&c, &l, NULL, 0), -ENOSPC);
}

static void test_cmdline_limits(void **state)
{
    struct pvh_start_layout l;
    struct pvh_start_config c = std_cfg();
    char s[PVH_CMDLINE_MAX + 1];
    memset(s, 'x', sizeof(s));
    s[PVH_CMDLINE_MAX - 1] = '\0'; /* 2047 characters: the limit */
    c.cmdline = s;
    c.buf_size = sizeof(page);
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), 0);
    assert_int_equal(strlen(gstr(l.cmdline_gpa)), PVH_CMDLINE_MAX - 1);
    s[PVH_CMDLINE_MAX - 1] = 'x';
    s[PVH_CMDLINE_MAX] = '\0';
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -E2BIG);
    assert_string_equal(err, "the command line is longer than 2047 bytes");

    c.cmdline_max = 16;
    c.cmdline = "0123456789abcde"; /* 15 + NUL */
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), 0);
    c.cmdline = "0123456789abcdef";
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -E2BIG);

    /* An unterminated string is never read past the limit (ASan checks). */
    char *heap = malloc(16);
    memset(heap, 'y', 16);
    c.cmdline = heap;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -E2BIG);
    struct pvh_module m = { MiB(20), 1, heap };
    c.cmdline = "ok";
    c.modules = &m;
    c.nmodules = 1;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -E2BIG);
    assert_string_equal(err, "module 0's command line is longer than 15 bytes");
    free(heap);
}

static void test_module_errors(void **state)
{
    struct pvh_start_layout l;
    struct pvh_start_config c = std_cfg();
    struct pvh_module m = { MiB(31), MiB(1), NULL };
    c.modules = &m;
    c.nmodules = 1;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), 0); /* ends at 32 MiB */
    m.size++;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "module 0 [0x1f00000, 0x2000001) is not inside guest RAM or overlaps "
                             "the start info");
    m = (struct pvh_module){ 0xe0000, 0x100, NULL }; /* in the ACPI range */
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    m = (struct pvh_module){ 0x90000, 0x20000, NULL }; /* across RAM's end */
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    m = (struct pvh_module){ MiB(20), 0, NULL };
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    m = (struct pvh_module){ ~0ULL - 10, 20, NULL };
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);

    /* A module over the start info itself (here the buffer sits in RAM). */
    static const struct pvh_mem_range ram[] = { { 0, MiB(64), HVM_MEMMAP_RAM } };
    c.ranges = ram;
    c.nranges = 1;
    m = (struct pvh_module){ BASE + 0x40, 0x10, NULL };
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
    m = (struct pvh_module){ BASE + 0x1000, 0x10, NULL }; /* after the used part */
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), 0);

    c.nmodules = PVH_MAX_MODULES + 1;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -E2BIG);
    c.modules = NULL;
    c.nmodules = 1;
    assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), -EINVAL);
}

static u64 rs = 0xb7e151628aed2a6bULL;
static u64 rnd(void) { return xorshift64(&rs); }

/* Random non-overlapping maps, shuffled: the output is sorted, never has two
 * adjacent entries of one type, and covers exactly the input, type by type. */
static void test_random_maps(void **state)
{
    for (int it = 0; it < 2000; it++) {
        struct pvh_mem_range r[PVH_MAX_MEMMAP];
        u32 n = 1 + (u32)(rnd() % 100);
        u64 at = rnd() % 3 ? 0 : rnd() % GiB(1);
        for (u32 i = 0; i < n; i++) {
            at += (rnd() % 2) ? 0 : 0x1000 * (rnd() % 16);
            r[i] = (struct pvh_mem_range){ at, 0x1000 * (1 + rnd() % 64), 1 + (u32)(rnd() % 3) };
            at += r[i].size;
        }
        for (u32 i = n - 1; i > 0; i--) {
            u32 j = (u32)(rnd() % (i + 1));
            struct pvh_mem_range t = r[i];
            r[i] = r[j];
            r[j] = t;
        }
        struct pvh_start_config c = std_cfg();
        c.ranges = r;
        c.nranges = n;
        struct pvh_start_layout l;
        assert_int_equal(pvh_start_build(&c, &l, err, sizeof(err)), 0);
        const struct hvm_memmap_table_entry *mm = gview(l.memmap_gpa, l.memmap_entries * 24);
        u64 bytes_in[4] = { 0 }, bytes_out[4] = { 0 };
        for (u32 i = 0; i < n; i++)
            bytes_in[r[i].type] += r[i].size;
        for (u32 i = 0; i < l.memmap_entries; i++) {
            bytes_out[mm[i].type] += mm[i].size;
            if (i) {
                assert_true(mm[i - 1].addr + mm[i - 1].size <= mm[i].addr);
                assert_false(mm[i - 1].addr + mm[i - 1].size == mm[i].addr && mm[i - 1].type == mm[i].type);
            }
            /* Every output byte range is covered by input ranges of its type. */
            u64 covered = 0;
            for (u32 k = 0; k < n; k++)
                if (r[k].type == mm[i].type && r[k].addr >= mm[i].addr &&
                    r[k].addr + r[k].size <= mm[i].addr + mm[i].size)
                    covered += r[k].size;
            assert_int_equal(covered, mm[i].size);
        }
        assert_memory_equal(bytes_in, bytes_out, sizeof(bytes_in));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),          cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_merge),          cmocka_unit_test(test_range_errors),
        cmocka_unit_test(test_cmdline_limits), cmocka_unit_test(test_module_errors),
        cmocka_unit_test(test_random_maps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
