/* The partition layout, checked against the start-info builder and the loader. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/layout.h"
#include "vmm/pvh.h"
#include "kernel/lib/errno.h"

static void test_sizes(void **state)
{
    struct partition_layout l;
    char err[160];
    assert_int_equal(layout_plan(MiB(1), &l, err, sizeof(err)), -ERANGE);
    assert_non_null(strstr(err, "at least 2 MiB"));
    assert_int_equal(layout_plan(MiB(3), &l, err, sizeof(err)), -ERANGE);
    assert_int_equal(layout_plan(GiB(4), &l, err, sizeof(err)), -ERANGE);
    assert_non_null(strstr(err, "MMIO hole"));
    assert_int_equal(layout_plan(MiB(2), &l, err, sizeof(err)), 0);
    assert_int_equal(layout_plan(LAYOUT_MAX_MEMORY, &l, err, sizeof(err)), 0);
}

static void test_ranges_cover_memory_without_overlap(void **state)
{
    struct partition_layout l;
    char err[160];
    assert_int_equal(layout_plan(MiB(64), &l, err, sizeof(err)), 0);
    u64 ram = 0, prev_end = 0;
    for (u32 i = 0; i < l.nranges; i++) {
        assert_true(l.ranges[i].addr >= prev_end); /* sorted, disjoint */
        prev_end = l.ranges[i].addr + l.ranges[i].size;
        assert_true(prev_end <= MiB(64));
        if (l.ranges[i].type == HVM_MEMMAP_RAM)
            ram += l.ranges[i].size;
    }
    /* RAM is the memory less the start info page, the hole and the ACPI area. */
    assert_int_equal(ram, MiB(64) - (LAYOUT_HIGH_RAM - LAYOUT_LOW_RAM_END));
    /* The test guest's AP trampoline page and the kernel's 1 MiB are RAM. */
    assert_true(0x8000 + 0x1000 <= l.ranges[0].size);
    assert_int_equal(l.ranges[3].addr, LAYOUT_HIGH_RAM);
    /* Nothing the loader may use overlaps a reserved range. */
    for (u32 i = 0; i < l.nreserved; i++) {
        assert_true(l.reserved[i].end <= LAYOUT_HIGH_RAM);
        assert_true(l.reserved[i].start >= LAYOUT_LOW_RAM_END);
    }
}

/* The boot area of a bzImage's 64-bit entry and the start info page are one
 * reserved range of the memory map, and the loaders never write over either. */
static void test_boot_area_reserved(void **state)
{
    struct partition_layout l;
    char err[160];
    assert_int_equal(layout_plan(MiB(16), &l, err, sizeof(err)), 0);
    assert_int_equal(l.ranges[1].addr, LAYOUT_BOOT64);
    assert_int_equal(l.ranges[1].addr + l.ranges[1].size, LAYOUT_START_INFO + LAYOUT_START_INFO_SZ);
    assert_int_equal(l.ranges[1].type, HVM_MEMMAP_RESERVED);
    bool boot = false, start = false;
    for (u32 i = 0; i < l.nreserved; i++) {
        boot |= l.reserved[i].start == LAYOUT_BOOT64 && l.reserved[i].end == LAYOUT_BOOT64 + LAYOUT_BOOT64_SZ;
        start |= l.reserved[i].start == LAYOUT_START_INFO && l.reserved[i].end == LAYOUT_START_INFO + 0x1000;
    }
    assert_true(boot && start);
    /* The ROM area a bzImage guest reads lies inside the hole, not over RAM. */
    assert_true(LAYOUT_LEGACY == LAYOUT_START_INFO + LAYOUT_START_INFO_SZ && LAYOUT_LEGACY < LAYOUT_ACPI);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_ranges_cover_memory_without_overlap),
        cmocka_unit_test(test_boot_area_reserved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
