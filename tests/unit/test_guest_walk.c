/* The guest page-table walker over synthetic guest memory: every paging mode,
 * large pages, non-present entries, tables outside guest memory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/guest_walk.h"
#include "arch/x86/hw/pte.h"
#include "arch/x86/hw/regs.h"
#include "kernel/lib/errno.h"

#define MEM_SIZE 0x400000u
#define TABLE    (PTE_P | PTE_RW)          /* an entry linking the next table */
#define LARGE    (PTE_P | PTE_RW | PTE_PS) /* a 4 MiB, 2 MiB or 1 GiB leaf */
static u8 *mem;

static int rd(void *ctx, gpa_t g, void *out, u32 len)
{
    (void)ctx;
    if (g.v >= MEM_SIZE || len > MEM_SIZE - g.v)
        return -EFAULT;
    memcpy(out, mem + g.v, len);
    return 0;
}

static void put64(u64 at, u64 v) { memcpy(mem + at, &v, 8); }
static void put32(u64 at, u32 v) { memcpy(mem + at, &v, 4); }

static int setup(void **state)
{
    (void)state;
    mem = calloc(1, MEM_SIZE);
    return mem ? 0 : -1;
}
static int teardown(void **state)
{
    (void)state;
    free(mem);
    return 0;
}

static struct gwalk_env env(enum gwalk_mode m, u64 cr3) { return (struct gwalk_env){ rd, NULL, m, cr3, true }; }

static void test_mode_of(void **state)
{
    (void)state;
    const u64 pe = CR0_PE | CR0_ET, pg = CR0_PG | CR0_PE | CR0_ET;
    assert_int_equal(gwalk_mode_of(pe, 0, 0), GWALK_NONE);
    assert_int_equal(gwalk_mode_of(pg, 0, 0), GWALK_32);
    assert_int_equal(gwalk_mode_of(pg, CR4_PAE, 0), GWALK_PAE);
    assert_int_equal(gwalk_mode_of(pg, CR4_PAE, EFER_LME | EFER_LMA), GWALK_LONG4);
}

static void test_long_mode(void **state)
{
    (void)state;
    /* PML4 at 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000. */
    put64(0x1000, 0x2000 | TABLE);
    put64(0x2000, 0x3000 | TABLE);
    put64(0x3000 + 8 * 1, 0x4000 | TABLE);        /* 2 MiB - 4 MiB through a PT */
    put64(0x4000 + 8 * 5, 0x123000 | TABLE);      /* va 0x205000 -> 0x123000 */
    put64(0x3000 + 8 * 0, 0x200000 | LARGE);      /* va 0-2 MiB -> 2 MiB page at 0x200000 */
    put64(0x2000 + 8 * 1, 0x40000000ULL | LARGE); /* va 1 GiB -> 1 GiB page at 1 GiB */
    struct gwalk_env e = env(GWALK_LONG4, 0x1000);
    gpa_t g;
    assert_int_equal(gwalk_translate(&e, 0x205abc, &g), 0);
    assert_int_equal(g.v, 0x123abc);
    assert_int_equal(gwalk_translate(&e, 0x1234, &g), 0);
    assert_int_equal(g.v, 0x201234);
    assert_int_equal(gwalk_translate(&e, 0x40001234, &g), 0);
    assert_int_equal(g.v, 0x40001234);
    assert_int_equal(gwalk_translate(&e, 0x206000, &g), -ENOENT);              /* PTE not present */
    assert_int_equal(gwalk_translate(&e, 0x8000000000ULL, &g), -ENOENT);       /* PML4E 1 absent */
    assert_int_equal(gwalk_translate(&e, 0x0000800000000000ULL, &g), -EINVAL); /* non-canonical */
    /* A table pointer outside guest memory fails cleanly. */
    put64(0x3000 + 8 * 2, 0x7fff000000ULL | TABLE);
    assert_int_equal(gwalk_translate(&e, 0x400000, &g), -EFAULT);
    /* PS in a PML4E is reserved. */
    put64(0x1000 + 8 * 2, 0x2000 | LARGE);
    assert_int_equal(gwalk_translate(&e, 0x10000000000ULL, &g), -EINVAL);
}

static void test_read_across_pages(void **state)
{
    (void)state;
    put64(0x1000, 0x2000 | TABLE);
    put64(0x2000, 0x3000 | TABLE);
    put64(0x3000, 0x4000 | TABLE);
    put64(0x4000 + 8 * 0x10, 0x50000 | TABLE); /* va 0x10000 -> 0x50000 */
    put64(0x4000 + 8 * 0x11, 0x90000 | TABLE); /* va 0x11000 -> 0x90000 */
    memcpy(mem + 0x50ffe, "ab", 2);
    memcpy(mem + 0x90000, "cd", 2);
    struct gwalk_env e = env(GWALK_LONG4, 0x1000);
    char buf[5] = { 0 };
    assert_int_equal(gwalk_read(&e, 0x10ffe, buf, 4), 0);
    assert_string_equal(buf, "abcd");
    assert_int_equal(gwalk_read(&e, 0x11ffe, buf, 4), -ENOENT);
}

static void test_pae_and_32bit(void **state)
{
    (void)state;
    /* PAE: PDPTEs at 0x1020 (32-byte aligned), PD 0x2000, PT 0x3000. */
    put64(0x1020 + 8 * 3, 0x2000 | PDPTE_P);   /* 3-4 GiB */
    put64(0x2000 + 8 * 0x1f7, 0x3000 | TABLE); /* 0xfee00000 */
    put64(0x3000 + 8 * 0, 0x7000 | TABLE);
    put64(0x2000 + 8 * 0, 0x200000 | LARGE); /* 0xc0000000 -> 2 MiB page */
    struct gwalk_env e = env(GWALK_PAE, 0x1020);
    gpa_t g;
    assert_int_equal(gwalk_translate(&e, 0xfee00010, &g), 0);
    assert_int_equal(g.v, 0x7010);
    assert_int_equal(gwalk_translate(&e, 0xc0012345, &g), 0);
    assert_int_equal(g.v, 0x212345);
    assert_int_equal(gwalk_translate(&e, 0x00001000, &g), -ENOENT);
    /* 32-bit: PD at 0x5000; a 4 MiB page (PSE) and a 4 KiB one. */
    put32(0x5000 + 4 * 1, 0x00800000 | LARGE); /* 4-8 MiB -> 8 MiB */
    put32(0x5000 + 4 * 0, 0x6000 | TABLE);
    put32(0x6000 + 4 * 2, 0x9000 | TABLE);
    e = env(GWALK_32, 0x5000);
    assert_int_equal(gwalk_translate(&e, 0x00401234, &g), 0);
    assert_int_equal(g.v, 0x00801234);
    assert_int_equal(gwalk_translate(&e, 0x2abc, &g), 0);
    assert_int_equal(g.v, 0x9abc);
    e.pse = false; /* without CR4.PSE the PS bit is ignored: 0x800000 is a page table */
    assert_int_equal(gwalk_translate(&e, 0x00401234, &g), -EFAULT);
    /* Paging off: linear is physical, truncated to 32 bits. */
    e = env(GWALK_NONE, 0);
    assert_int_equal(gwalk_translate(&e, 0x1fee00000ULL, &g), 0);
    assert_int_equal(g.v, 0xfee00000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_of),
        cmocka_unit_test_setup_teardown(test_long_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_across_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pae_and_32bit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
