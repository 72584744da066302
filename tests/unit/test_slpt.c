/* Second-level page tables (EPT and NPT) over a fake physical memory: table pages
 * come from a pool of host pages addressed by fake host-physical addresses, so a
 * stray pointer use of an hpa crashes under ASan. Exact entry bits, leaf-size
 * selection, splitting, unmapping, lookups, allocation failure, and a random
 * sequence of operations checked page by page against a reference model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/slpt.h"
#include "arch/x86/hw/pte.h"
#include "kernel/lib/errno.h"
#include "tests/unit/stubs.h"
#include "tests/unit/xorshift.h"

/* Expected entry bits, composed from the architectural names (arch/x86/hw/pte.h). */
#define EPT_RWX  (EPT_R | EPT_W | EPT_X)
#define EPT_WB   (EPT_MT_WB << EPT_MT_SHIFT) /* memory type 6; UC is type 0 */
#define NPT_PRWU (NPT_P | NPT_RW | NPT_US)
#define NPT_UC   (NPT_PWT | NPT_PCD) /* PAT index 3 */

/* ---------------------------------------------------------------- fake memory */

#define POOL_PAGES 2048
#define POOL_BASE  0x7f0000000ULL /* fake hpa of pool page 0 */

struct pool {
    u8 *mem; /* POOL_PAGES pages */
    bool used[POOL_PAGES];
    u64 allocs, frees, live;
    long fail_after; /* allocations left before -ENOMEM; < 0: never */
    bool bad_align;  /* hand out a misaligned address once */
};

static struct pool P;

static int fm_alloc(void *ctx, hpa_t *pa)
{
    struct pool *p = ctx;
    if (p->fail_after == 0)
        return -ENOMEM;
    if (p->fail_after > 0)
        p->fail_after--;
    if (p->bad_align) {
        p->bad_align = false;
        *pa = POOL_BASE + 8;
        return 0;
    }
    for (u32 i = 0; i < POOL_PAGES; i++) {
        if (!p->used[i]) {
            p->used[i] = true;
            memset(p->mem + (u64)i * PAGE_SIZE, 0, PAGE_SIZE);
            *pa = POOL_BASE + (u64)i * PAGE_SIZE;
            p->allocs++;
            p->live++;
            return 0;
        }
    }
    return -ENOMEM;
}

static u32 pool_index(hpa_t pa)
{
    assert_true(pa >= POOL_BASE);
    assert_true(IS_ALIGNED(pa, PAGE_SIZE));
    u64 i = (pa - POOL_BASE) / PAGE_SIZE;
    assert_true(i < POOL_PAGES);
    return (u32)i;
}

static void fm_free(void *ctx, hpa_t pa)
{
    struct pool *p = ctx;
    if (pa == POOL_BASE + 8) /* the bad_align page, never really allocated */
        return;
    u32 i = pool_index(pa);
    assert_true(p->used[i]); /* double free */
    p->used[i] = false;
    memset(p->mem + (u64)i * PAGE_SIZE, 0xa5, PAGE_SIZE); /* poison */
    p->frees++;
    p->live--;
}

static void *fm_map(void *ctx, hpa_t pa)
{
    struct pool *p = ctx;
    u32 i = pool_index(pa);
    assert_true(p->used[i]); /* use after free */
    return p->mem + (u64)i * PAGE_SIZE;
}

static const struct slpt_ops OPS = { fm_alloc, fm_free, fm_map, &P };

static int setup(void **state)
{
    memset(&P, 0, sizeof(P));
    P.mem = aligned_alloc(PAGE_SIZE, POOL_PAGES * PAGE_SIZE);
    assert_non_null(P.mem);
    P.fail_after = -1;
    test_stubs_reset();
    return 0;
}

static int teardown(void **state)
{
    free(P.mem);
    return 0;
}

/* Raw entry at `level` (3 = PML4E .. 0 = PTE) for gpa, walking the fake memory
 * directly rather than through the code under test. */
static u64 raw_entry(const struct slpt *t, u64 gpa, int level)
{
    hpa_t pa = t->root;
    for (int l = 3;; l--) {
        u64 *tb = fm_map(&P, pa);
        u64 e = tb[PT_INDEX(gpa, l + 1)];
        if (l == level)
            return e;
        pa = e & PTE_ADDR;
    }
}

static void init(struct slpt *t, enum slpt_format f, unsigned flags)
{
    assert_int_equal(slpt_init(t, f, &OPS, flags), 0);
    assert_int_equal(t->tables, 1);
    assert_int_equal(P.live, 1);
}

static void done(struct slpt *t)
{
    slpt_destroy(t);
    assert_int_equal(P.live, 0);
    assert_int_equal(P.allocs, P.frees);
    assert_int_equal(t->root, 0);
}

/* ---------------------------------------------------------------- tests */

static void test_init_destroy(void **state)
{
    struct slpt t;
    init(&t, SLPT_EPT, 0);
    assert_false(t.large_1g);
    done(&t);
    slpt_destroy(&t); /* idempotent */
    assert_int_equal(P.frees, 1);

    init(&t, SLPT_NPT, SLPT_ALLOW_1G);
    assert_true(t.large_1g);
    done(&t);

    struct slpt_ops bad = OPS;
    bad.map = NULL;
    assert_int_equal(slpt_init(&t, SLPT_EPT, &bad, 0), -EINVAL);
    assert_int_equal(slpt_init(&t, (enum slpt_format)7, &OPS, 0), -EINVAL);
    assert_int_equal(slpt_init(&t, SLPT_EPT, NULL, 0), -EINVAL);
    assert_int_equal(slpt_init(&t, SLPT_EPT, &OPS, 0x80), -EINVAL);
    P.fail_after = 0;
    assert_int_equal(slpt_init(&t, SLPT_EPT, &OPS, 0), -ENOMEM);
    P.fail_after = -1;
    P.bad_align = true;
    assert_int_equal(slpt_init(&t, SLPT_EPT, &OPS, 0), -EFAULT);
    assert_int_equal(P.live, 0);
}

static void test_ept_bits(void **state)
{
    struct slpt t;
    init(&t, SLPT_EPT, 0);
    static const struct {
        unsigned perms;
        enum slpt_memtype mt;
        u64 bits;
    } cases[] = {
        { SLPT_R, SLPT_WB, EPT_R | EPT_WB },
        { SLPT_R | SLPT_W, SLPT_WB, EPT_R | EPT_W | EPT_WB },
        { SLPT_R | SLPT_X, SLPT_WB, EPT_R | EPT_X | EPT_WB },
        { SLPT_RWX, SLPT_WB, EPT_RWX | EPT_WB },
        { SLPT_R | SLPT_W, SLPT_UC, EPT_R | EPT_W }, /* UC is type 0 */
        { SLPT_RWX, SLPT_UC, EPT_RWX },
    };
    for (u32 i = 0; i < ARRAY_SIZE(cases); i++) {
        u64 g = 0x1000 * (i + 1), h = 0xabc000000ULL + 0x5000 * (i + 1);
        assert_int_equal(slpt_map(&t, gpa(g), h, PAGE_SIZE, cases[i].perms, cases[i].mt), 0);
        assert_int_equal(raw_entry(&t, g, 0), h | cases[i].bits);
        hpa_t got;
        unsigned perms;
        u64 size;
        assert_int_equal(slpt_lookup(&t, gpa(g + 0x123), &got, &perms, &size), 0);
        assert_int_equal(got, h + 0x123);
        assert_int_equal(perms, cases[i].perms);
        assert_int_equal(size, PAGE_SIZE);
        u64 e;
        assert_int_equal(slpt_leaf_entry(&t, gpa(g), &e, &size), 0);
        assert_int_equal(e, h | cases[i].bits);
    }
    /* Non-leaf entries: table address | R | W | X, nothing else. */
    for (int l = 3; l >= 1; l--) {
        u64 e = raw_entry(&t, 0x1000, l);
        assert_int_equal(e & ~PTE_ADDR, EPT_RWX);
        assert_true((e & PTE_ADDR) >= POOL_BASE);
    }
    assert_int_equal(t.tables, 4);
    assert_int_equal(t.leaves_4k, ARRAY_SIZE(cases));

    /* Large leaves: bit 7 set, address aligned. */
    assert_int_equal(slpt_map(&t, gpa(MiB(4)), GiB(3), MiB(2), SLPT_R | SLPT_W, SLPT_WB), 0);
    assert_int_equal(raw_entry(&t, MiB(4), 1), GiB(3) | EPT_LARGE | EPT_R | EPT_W | EPT_WB);
    done(&t);

    init(&t, SLPT_EPT, SLPT_ALLOW_1G);
    assert_int_equal(slpt_map(&t, gpa(GiB(2)), GiB(5), GiB(1), SLPT_RWX, SLPT_UC), 0);
    assert_int_equal(raw_entry(&t, GiB(2), 2), GiB(5) | EPT_LARGE | EPT_RWX);
    assert_int_equal(t.leaves_1g, 1);
    done(&t);
}

static void test_npt_bits(void **state)
{
    struct slpt t;
    init(&t, SLPT_NPT, SLPT_ALLOW_1G);
    static const struct {
        unsigned perms;
        enum slpt_memtype mt;
        u64 bits;
    } cases[] = {
        { SLPT_R, SLPT_WB, NPT_NX | NPT_P | NPT_US },
        { SLPT_R | SLPT_W, SLPT_WB, NPT_NX | NPT_PRWU },
        { SLPT_R | SLPT_X, SLPT_WB, NPT_P | NPT_US },
        { SLPT_RWX, SLPT_WB, NPT_PRWU },
        { SLPT_R | SLPT_W, SLPT_UC, NPT_NX | NPT_PRWU | NPT_UC },
        { SLPT_RWX, SLPT_UC, NPT_PRWU | NPT_UC },
    };
    for (u32 i = 0; i < ARRAY_SIZE(cases); i++) {
        u64 g = GiB(7) + 0x1000 * i, h = 0x123456789000ULL + 0x1000 * i;
        assert_int_equal(slpt_map(&t, gpa(g), h, PAGE_SIZE, cases[i].perms, cases[i].mt), 0);
        assert_int_equal(raw_entry(&t, g, 0), h | cases[i].bits);
        unsigned perms;
        assert_int_equal(slpt_lookup(&t, gpa(g), NULL, &perms, NULL), 0);
        assert_int_equal(perms, cases[i].perms);
    }
    for (int l = 3; l >= 1; l--) /* no NX */
        assert_int_equal(raw_entry(&t, GiB(7), l) & ~PTE_ADDR, NPT_PRWU);

    assert_int_equal(slpt_map(&t, gpa(MiB(2)), MiB(6), MiB(2), SLPT_R, SLPT_WB), 0);
    assert_int_equal(raw_entry(&t, MiB(2), 1), MiB(6) | NPT_NX | NPT_PS | NPT_P | NPT_US);
    assert_int_equal(slpt_map(&t, gpa(GiB(1)), GiB(1), GiB(1), SLPT_RWX, SLPT_WB), 0);
    assert_int_equal(raw_entry(&t, GiB(1), 2), GiB(1) | NPT_PS | NPT_PRWU);
    done(&t);
}

/* The root the backends load is a page-aligned table in both formats. */
static void test_root(void **state)
{
    struct slpt t;
    init(&t, SLPT_EPT, 0);
    assert_int_equal(slpt_root(&t), t.root);
    assert_int_equal(t.root & 0xfff, 0);
    done(&t);
    init(&t, SLPT_NPT, 0);
    assert_int_equal(slpt_root(&t), t.root);
    assert_int_equal(t.root & 0xfff, 0);
    done(&t);
}

static void test_size_selection(void **state)
{
    struct slpt t;
    /* 4 GiB at 0 -> 4 GiB with 1 GiB leaves: root + one PDPT. */
    init(&t, SLPT_EPT, SLPT_ALLOW_1G);
    assert_int_equal(slpt_map(&t, gpa(0), GiB(4), GiB(4), SLPT_RWX, SLPT_WB), 0);
    assert_int_equal(t.leaves_1g, 4);
    assert_int_equal(t.leaves_2m + t.leaves_4k, 0);
    assert_int_equal(t.tables, 2);
    done(&t);

    /* Same without 1 GiB: 2048 2 MiB leaves in 4 PDs. */
    init(&t, SLPT_NPT, 0);
    assert_int_equal(slpt_map(&t, gpa(0), GiB(4), GiB(4), SLPT_RWX, SLPT_WB), 0);
    assert_int_equal(t.leaves_1g, 0);
    assert_int_equal(t.leaves_2m, 2048);
    assert_int_equal(t.tables, 6);
    done(&t);

    /* gpa 1 GiB-aligned but hpa only 2 MiB-aligned: no 1 GiB leaf. */
    init(&t, SLPT_EPT, SLPT_ALLOW_1G);
    assert_int_equal(slpt_map(&t, gpa(GiB(1)), GiB(1) + MiB(2), GiB(1), SLPT_RWX, SLPT_WB), 0);
    assert_int_equal(t.leaves_1g, 0);
    assert_int_equal(t.leaves_2m, 512);
    done(&t);

    /* Unaligned start and length: 4 KiB up to the 2 MiB boundary, 2 MiB leaves,
     * then a 4 KiB tail; 1 GiB only where a whole aligned GiB is left. */
    init(&t, SLPT_EPT, SLPT_ALLOW_1G);
    u64 g = GiB(1) - MiB(4) - 0x3000, len = MiB(4) + 0x3000 + GiB(1) + MiB(2) + 0x5000;
    assert_int_equal(slpt_map(&t, gpa(g), g, len, SLPT_RWX, SLPT_WB), 0);
    assert_int_equal(t.leaves_4k, 3 + 5);
    assert_int_equal(t.leaves_2m, 2 + 1);
    assert_int_equal(t.leaves_1g, 1);
    u64 size;
    hpa_t h;
    assert_int_equal(slpt_lookup(&t, gpa(g), &h, NULL, &size), 0);
    assert_int_equal(size, PAGE_SIZE);
    assert_int_equal(slpt_lookup(&t, gpa(GiB(1) - MiB(1)), &h, NULL, &size), 0);
    assert_int_equal(size, MiB(2));
    assert_int_equal(h, GiB(1) - MiB(1));
    assert_int_equal(slpt_lookup(&t, gpa(GiB(1) + 12345), &h, NULL, &size), 0);
    assert_int_equal(size, GiB(1));
    assert_int_equal(h, GiB(1) + 12345);
    assert_int_equal(slpt_lookup(&t, gpa(GiB(2) + MiB(2) + 0x4fff), &h, NULL, &size), 0);
    assert_int_equal(size, PAGE_SIZE);
    assert_int_equal(slpt_lookup(&t, gpa(GiB(2) + MiB(2) + 0x5000), NULL, NULL, NULL), -ENOENT);
    assert_int_equal(slpt_lookup(&t, gpa(g - 1), NULL, NULL, NULL), -ENOENT);
    done(&t);

    /* A mapping crossing a 512 GiB boundary (two PML4 entries), top of the space. */
    init(&t, SLPT_NPT, 0);
    assert_int_equal(slpt_map(&t, gpa(GiB(512) - MiB(2)), 0, MiB(4), SLPT_R, SLPT_WB), 0);
    assert_int_equal(t.tables, 1 + 2 * 2);
    assert_int_equal(slpt_map(&t, gpa(BIT(48) - PAGE_SIZE), 0, PAGE_SIZE, SLPT_R, SLPT_WB), 0);
    assert_int_equal(slpt_lookup(&t, gpa(BIT(48) - 1), &h, NULL, NULL), 0);
    assert_int_equal(h, 0xfff);
    done(&t);
}

static void test_split(void **state)
{
    struct slpt t;
    init(&t, SLPT_EPT, SLPT_ALLOW_1G);
    assert_int_equal(slpt_map(&t, gpa(GiB(1)), GiB(9), GiB(1), SLPT_RWX, SLPT_WB), 0);
    assert_false(t.need_flush);
    /* A 4 KiB UC read-only page inside: 1G -> 512 x 2M -> one of them -> 512 x 4K. */
    u64 g = GiB(1) + MiB(6) + 0x3000;
    assert_int_equal(slpt_map(&t, gpa(g), 0xfee00000, PAGE_SIZE, SLPT_R, SLPT_UC), 0);
    assert_true(t.need_flush);
    assert_int_equal(t.leaves_1g, 0);
    assert_int_equal(t.leaves_2m, 511);
    assert_int_equal(t.leaves_4k, 512);
    assert_int_equal(t.tables, 4); /* root, PDPT, PD, PT */
    assert_int_equal(raw_entry(&t, g, 0), 0xfee00000 | EPT_R);
    /* The split preserved every other translation with its attributes. */
    assert_int_equal(raw_entry(&t, g - PAGE_SIZE, 0), (GiB(9) + MiB(6) + 0x2000) | EPT_RWX | EPT_WB);
    assert_int_equal(raw_entry(&t, g + PAGE_SIZE, 0), (GiB(9) + MiB(6) + 0x4000) | EPT_RWX | EPT_WB);
    assert_int_equal(raw_entry(&t, GiB(1) + MiB(8), 1), (GiB(9) + MiB(8)) | EPT_LARGE | EPT_RWX | EPT_WB);
    assert_int_equal(raw_entry(&t, GiB(2) - MiB(2), 1), (GiB(10) - MiB(2)) | EPT_LARGE | EPT_RWX | EPT_WB);
    for (u64 off = 0; off < GiB(1); off += MiB(1) + 0x1000) {
        hpa_t h;
        unsigned perms;
        assert_int_equal(slpt_lookup(&t, gpa(GiB(1) + off), &h, &perms, NULL), 0);
        if (GiB(1) + off == g)
            continue;
        assert_int_equal(h, GiB(9) + off);
        assert_int_equal(perms, SLPT_RWX);
    }

    /* Remapping the whole GiB as one leaf frees the two finer tables. */
    assert_int_equal(slpt_map(&t, gpa(GiB(1)), GiB(9), GiB(1), SLPT_RWX, SLPT_WB), 0);
    assert_int_equal(t.tables, 2);
    assert_int_equal(t.leaves_1g, 1);
    assert_int_equal(t.leaves_2m + t.leaves_4k, 0);
    assert_int_equal(P.live, 2);
    done(&t);

    /* NPT split keeps NX/PCD/PWT/US and moves no attribute into the address. */
    init(&t, SLPT_NPT, 0);
    assert_int_equal(slpt_map(&t, gpa(MiB(2)), MiB(8), MiB(2), SLPT_R, SLPT_UC), 0);
    assert_int_equal(slpt_map(&t, gpa(MiB(3)), MiB(100), PAGE_SIZE, SLPT_RWX, SLPT_WB), 0);
    assert_int_equal(raw_entry(&t, MiB(3) + PAGE_SIZE, 0), (MiB(9) + PAGE_SIZE) | NPT_NX | NPT_P | NPT_US | NPT_UC);
    assert_int_equal(raw_entry(&t, MiB(3), 0), MiB(100) | NPT_PRWU);
    done(&t);
}

static void test_unmap(void **state)
{
    struct slpt t;
    init(&t, SLPT_NPT, SLPT_ALLOW_1G);
    assert_int_equal(slpt_map(&t, gpa(0), 0, GiB(2), SLPT_RWX, SLPT_WB), 0);
    assert_int_equal(t.tables, 2);
    /* A 4 KiB hole in a 1 GiB leaf: split twice. */
    assert_int_equal(slpt_unmap(&t, gpa(GiB(1) + MiB(2)), PAGE_SIZE), 0);
    assert_true(t.need_flush);
    assert_int_equal(t.leaves_1g, 1);
    assert_int_equal(t.leaves_2m, 511);
    assert_int_equal(t.leaves_4k, 511);
    assert_int_equal(slpt_lookup(&t, gpa(GiB(1) + MiB(2) + 5), NULL, NULL, NULL), -ENOENT);
    assert_int_equal(slpt_lookup(&t, gpa(GiB(1) + MiB(2) + PAGE_SIZE), NULL, NULL, NULL), 0);
    /* Unmapping holes and already unmapped ranges is fine. */
    assert_int_equal(slpt_unmap(&t, gpa(GiB(5)), GiB(100)), 0);
    assert_int_equal(slpt_unmap(&t, gpa(GiB(1) + MiB(2)), PAGE_SIZE), 0);
    /* Removing the rest of that 2 MiB frees its page table. */
    assert_int_equal(slpt_unmap(&t, gpa(GiB(1) + MiB(2)), MiB(2)), 0);
    assert_int_equal(t.leaves_4k, 0);
    assert_int_equal(t.tables, 3);
    /* And the rest of that GiB frees its page directory. */
    assert_int_equal(slpt_unmap(&t, gpa(GiB(1)), GiB(1)), 0);
    assert_int_equal(t.tables, 2);
    assert_int_equal(t.leaves_2m, 0);
    assert_int_equal(t.leaves_1g, 1);
    /* Everything: back to the root alone. */
    assert_int_equal(slpt_unmap(&t, gpa(0), BIT(48)), 0);
    assert_int_equal(t.tables, 1);
    assert_int_equal(t.leaves_1g, 0);
    assert_int_equal(P.live, 1);
    assert_int_equal(slpt_lookup(&t, gpa(0), NULL, NULL, NULL), -ENOENT);
    done(&t);

    /* Tables emptied page by page are freed up the whole chain. */
    init(&t, SLPT_NPT, 0);
    assert_int_equal(slpt_map(&t, gpa(GiB(600) + 0x1000), 0x1000, PAGE_SIZE, SLPT_R, SLPT_WB), 0);
    assert_int_equal(slpt_map(&t, gpa(GiB(600) + 0x3000), 0x3000, PAGE_SIZE, SLPT_R, SLPT_WB), 0);
    assert_int_equal(t.tables, 4);
    assert_int_equal(slpt_unmap(&t, gpa(GiB(600) + 0x1000), PAGE_SIZE), 0);
    assert_int_equal(t.tables, 4);
    assert_int_equal(slpt_unmap(&t, gpa(GiB(600) + 0x3000), PAGE_SIZE), 0);
    assert_int_equal(t.tables, 1);
    assert_int_equal(P.live, 1);
    assert_int_equal(raw_entry(&t, GiB(600), 3), 0);
    done(&t);

    /* Unmap of a range that straddles two 4K-mapped tables and a 2M leaf. */
    init(&t, SLPT_EPT, 0);
    assert_int_equal(slpt_map(&t, gpa(0x1000), 0x1000, MiB(6) - 0x2000, SLPT_R, SLPT_WB), 0);
    assert_int_equal(t.leaves_4k, 511 * 2);
    assert_int_equal(t.leaves_2m, 1);
    assert_int_equal(slpt_unmap(&t, gpa(MiB(2) - 0x1000), MiB(2) + 0x2000), 0);
    assert_int_equal(t.leaves_2m, 0);
    assert_int_equal(t.leaves_4k, 510 * 2);
    assert_int_equal(slpt_lookup(&t, gpa(MiB(2) - 0x2000), NULL, NULL, NULL), 0);
    assert_int_equal(slpt_lookup(&t, gpa(MiB(2) - 0x1000), NULL, NULL, NULL), -ENOENT);
    assert_int_equal(slpt_lookup(&t, gpa(MiB(4)), NULL, NULL, NULL), -ENOENT);
    assert_int_equal(slpt_lookup(&t, gpa(MiB(4) + 0x1000), NULL, NULL, NULL), 0);
    done(&t);
}

static void test_errors(void **state)
{
    struct slpt t;
    memset(&t, 0, sizeof(t));
    assert_int_equal(slpt_map(&t, gpa(0), 0, PAGE_SIZE, SLPT_R, SLPT_WB), -EINVAL);
    assert_int_equal(slpt_unmap(&t, gpa(0), PAGE_SIZE), -EINVAL);
    assert_int_equal(slpt_lookup(&t, gpa(0), NULL, NULL, NULL), -EINVAL);
    slpt_destroy(&t);

    init(&t, SLPT_EPT, 0);
    assert_int_equal(slpt_map(&t, gpa(0x800), 0, PAGE_SIZE, SLPT_R, SLPT_WB), -EINVAL);
    assert_int_equal(slpt_map(&t, gpa(0), 0x800, PAGE_SIZE, SLPT_R, SLPT_WB), -EINVAL);
    assert_int_equal(slpt_map(&t, gpa(0), 0, 0x800, SLPT_R, SLPT_WB), -EINVAL);
    assert_int_equal(slpt_map(&t, gpa(0), 0, 0, SLPT_R, SLPT_WB), -EINVAL);
    assert_int_equal(slpt_map(&t, gpa(0), 0, PAGE_SIZE, 0, SLPT_WB), -EINVAL);
    assert_int_equal(slpt_map(&t, gpa(0), 0, PAGE_SIZE, SLPT_W, SLPT_WB), -EINVAL);
    assert_int_equal(slpt_map(&t, gpa(0), 0, PAGE_SIZE, SLPT_X, SLPT_WB), -EINVAL);
    assert_int_equal(slpt_map(&t, gpa(0), 0, PAGE_SIZE, SLPT_R | 8, SLPT_WB), -EINVAL);
    assert_int_equal(slpt_map(&t, gpa(0), 0, PAGE_SIZE, SLPT_R, (enum slpt_memtype)5), -EINVAL);
    assert_int_equal(slpt_map(&t, gpa(BIT(48)), 0, PAGE_SIZE, SLPT_R, SLPT_WB), -ERANGE);
    assert_int_equal(slpt_map(&t, gpa(BIT(48) - PAGE_SIZE), 0, 2 * PAGE_SIZE, SLPT_R, SLPT_WB), -ERANGE);
    assert_int_equal(slpt_map(&t, gpa(0xfffffffffffff000ULL), 0, PAGE_SIZE, SLPT_R, SLPT_WB), -ERANGE);
    assert_int_equal(slpt_map(&t, gpa(PAGE_SIZE), 0, 0xfffffffffffff000ULL, SLPT_R, SLPT_WB), -ERANGE);
    assert_int_equal(slpt_map(&t, gpa(0), BIT(52) - PAGE_SIZE, 2 * PAGE_SIZE, SLPT_R, SLPT_WB), -ERANGE);
    assert_int_equal(slpt_map(&t, gpa(0), 0xfffffffffffff000ULL, PAGE_SIZE, SLPT_R, SLPT_WB), -ERANGE);
    assert_int_equal(slpt_unmap(&t, gpa(0x10), PAGE_SIZE), -EINVAL);
    assert_int_equal(slpt_unmap(&t, gpa(0), 0), -EINVAL);
    assert_int_equal(slpt_unmap(&t, gpa(BIT(48)), PAGE_SIZE), -ERANGE);
    assert_int_equal(slpt_lookup(&t, gpa(BIT(48)), NULL, NULL, NULL), -ERANGE);
    assert_int_equal(slpt_lookup(&t, gpa(~0ULL), NULL, NULL, NULL), -ERANGE);
    /* Nothing was built by the failures. */
    assert_int_equal(t.tables, 1);
    assert_int_equal(P.live, 1);
    done(&t);
}

/* Every allocation a map or unmap makes can fail; each time the tree stays
 * consistent (counters match, destroy frees everything). */
static void test_enomem(void **state)
{
    for (int fmt = 0; fmt < 2; fmt++) {
        for (long n = 0; n < 8; n++) {
            struct slpt t;
            init(&t, (enum slpt_format)fmt, SLPT_ALLOW_1G);
            assert_int_equal(slpt_map(&t, gpa(GiB(1)), 0, GiB(1), SLPT_RWX, SLPT_WB), 0);
            P.fail_after = n;
            /* Needs: PD split (1), PT split (1) at 1G+2M, and new PDPT/PD/PT at 512G. */
            int rc = slpt_map(&t, gpa(GiB(1) + MiB(2)), MiB(64), PAGE_SIZE, SLPT_R, SLPT_UC);
            if (rc == 0)
                rc = slpt_map(&t, gpa(GiB(512) + 0x1000), 0, PAGE_SIZE, SLPT_R, SLPT_WB);
            if (rc == 0)
                rc = slpt_unmap(&t, gpa(GiB(1) + MiB(100)), PAGE_SIZE);
            assert_true(rc == 0 || rc == -ENOMEM);
            if (n >= 6)
                assert_int_equal(rc, 0);
            else
                assert_int_equal(rc, -ENOMEM);
            assert_int_equal(t.tables, P.live);
            /* Whatever is mapped still translates as it should. */
            hpa_t h;
            assert_int_equal(slpt_lookup(&t, gpa(GiB(1) + MiB(200)), &h, NULL, NULL), 0);
            assert_int_equal(h, MiB(200));
            P.fail_after = -1;
            done(&t);
            P.allocs = P.frees = 0;
        }
    }
}

/* ---------------------------------------------------------------- model test */

#define WIN_PAGES (GiB(2) / PAGE_SIZE) /* the model covers guest [0, 2 GiB) */

struct model_page {
    u64 hpa; /* 0: unmapped (we never map hpa 0 here) */
    u8 perms, mt;
};

static u64 rnd_state = 0x1234567887654321ULL;
static u64 rnd(void) { return xorshift64(&rnd_state); }

static void check_page(const struct slpt *t, const struct model_page *m, u64 pg)
{
    hpa_t h;
    unsigned perms;
    u64 size;
    int rc = slpt_lookup(t, gpa(pg * PAGE_SIZE + 0x7), &h, &perms, &size);
    if (!m[pg].hpa) {
        assert_int_equal(rc, -ENOENT);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(h, m[pg].hpa + 0x7);
    u64 e;
    assert_int_equal(slpt_leaf_entry(t, gpa(pg * PAGE_SIZE), &e, NULL), 0);
    if (t->fmt == SLPT_VTD || t->fmt == SLPT_AMDVI) {
        /* A DMA domain has no execute right and no memory type. */
        assert_int_equal(perms, m[pg].perms & (SLPT_R | SLPT_W));
        assert_int_equal(e & (t->fmt == SLPT_VTD ? 0x7cULL : 0x1feULL), 0);
        return;
    }
    assert_int_equal(perms, m[pg].perms);
    if (t->fmt == SLPT_EPT)
        assert_int_equal((e >> 3) & 7, m[pg].mt == SLPT_UC ? 0 : 6);
    else
        assert_int_equal((e & (NPT_PCD | NPT_PWT)) != 0, m[pg].mt == SLPT_UC);
}

static void test_random_model(void **state)
{
    struct model_page *m = calloc(WIN_PAGES, sizeof(*m));
    assert_non_null(m);
    for (int fmt = SLPT_EPT; fmt <= SLPT_AMDVI; fmt++) {
        struct slpt t;
        /* EPT and AMD-Vi with 1 GiB leaves, NPT with 2 MiB at most, VT-d with 4 KiB only. */
        unsigned flags = fmt == SLPT_EPT || fmt == SLPT_AMDVI ? SLPT_ALLOW_1G : fmt == SLPT_VTD ? SLPT_NO_2M : 0;
        init(&t, (enum slpt_format)fmt, flags);
        memset(m, 0, WIN_PAGES * sizeof(*m));
        u64 mapped = 0;
        for (int it = 0; it < 600; it++) {
            /* Ranges biased towards large-page alignment and sizes. */
            u64 align_pages = (rnd() % 3 == 0) ? 1 : (rnd() % 2 ? 512 : 262144);
            u64 start = (rnd() % WIN_PAGES) / align_pages * align_pages;
            u64 npages = 1 + rnd() % (rnd() % 4 == 0 ? 262144 * 2 : 1100);
            if (start + npages > WIN_PAGES)
                npages = WIN_PAGES - start;
            if (rnd() % 3) {
                u64 hbase = (GiB(64) + (rnd() % 64) * GiB(1)) / PAGE_SIZE;
                if (rnd() % 2) /* keep the same 1 GiB / 2 MiB phase as the gpa */
                    hbase += start;
                else
                    hbase += rnd() % 1024;
                unsigned perms = SLPT_R | (rnd() % 2 ? SLPT_W : 0) | (rnd() % 2 ? SLPT_X : 0);
                enum slpt_memtype mt = rnd() % 4 ? SLPT_WB : SLPT_UC;
                assert_int_equal(slpt_map(&t, gpa(start * PAGE_SIZE), hbase * PAGE_SIZE, npages * PAGE_SIZE, perms, mt),
                                 0);
                for (u64 i = 0; i < npages; i++) {
                    mapped += !m[start + i].hpa;
                    m[start + i] = (struct model_page){ (hbase + i) * PAGE_SIZE, (u8)perms, (u8)mt };
                }
            } else {
                assert_int_equal(slpt_unmap(&t, gpa(start * PAGE_SIZE), npages * PAGE_SIZE), 0);
                for (u64 i = 0; i < npages; i++) {
                    mapped -= !!m[start + i].hpa;
                    m[start + i].hpa = 0;
                }
            }
            /* Leaf counters account for exactly the mapped pages. */
            assert_int_equal(t.leaves_4k + 512 * t.leaves_2m + 262144 * t.leaves_1g, mapped);
            if (fmt == SLPT_VTD)
                assert_int_equal(t.leaves_2m + t.leaves_1g, 0);
            assert_int_equal(t.tables, P.live);
            check_page(&t, m, start);
            check_page(&t, m, start + npages - 1);
            if (start)
                check_page(&t, m, start - 1);
            if (start + npages < WIN_PAGES)
                check_page(&t, m, start + npages);
            for (int k = 0; k < 64; k++)
                check_page(&t, m, rnd() % WIN_PAGES);
        }
        for (u64 pg = 0; pg < WIN_PAGES; pg += 7)
            check_page(&t, m, pg);
        assert_int_equal(slpt_lookup(&t, gpa(GiB(2)), NULL, NULL, NULL), -ENOENT);
        done(&t);
    }
    free(m);
}

/* VT-d second-level entries: R and W, the large-page bit above level 0, no
 * execute or memory-type bits; tables grant R and W. */
static void test_vtd_bits(void **state)
{
    struct slpt t;
    init(&t, SLPT_VTD, SLPT_ALLOW_1G);
    assert_int_equal(slpt_map(&t, gpa(0x5000), 0xabc000, PAGE_SIZE, SLPT_R, SLPT_UC), 0);
    assert_int_equal(raw_entry(&t, 0x5000, 0), 0xabc000 | VTD_SL_R);
    assert_int_equal(slpt_map(&t, gpa(0x6000), 0xabd000, PAGE_SIZE, SLPT_RWX, SLPT_WB), 0);
    assert_int_equal(raw_entry(&t, 0x6000, 0), 0xabd000 | VTD_SL_R | VTD_SL_W);
    for (int l = 3; l >= 1; l--)
        assert_int_equal(raw_entry(&t, 0x5000, l) & ~PTE_ADDR, VTD_SL_R | VTD_SL_W);
    assert_int_equal(slpt_map(&t, gpa(MiB(2)), MiB(6), MiB(2), SLPT_R | SLPT_W, SLPT_WB), 0);
    assert_int_equal(raw_entry(&t, MiB(2), 1), MiB(6) | VTD_SL_PS | VTD_SL_R | VTD_SL_W);
    assert_int_equal(slpt_map(&t, gpa(GiB(1)), GiB(3), GiB(1), SLPT_R | SLPT_W, SLPT_WB), 0);
    assert_int_equal(raw_entry(&t, GiB(1), 2), GiB(3) | VTD_SL_PS | VTD_SL_R | VTD_SL_W);
    unsigned perms;
    assert_int_equal(slpt_lookup(&t, gpa(0x6000), NULL, &perms, NULL), 0);
    assert_int_equal(perms, SLPT_R | SLPT_W);
    /* A split keeps R/W and the large-page bit where it still applies. */
    assert_int_equal(slpt_map(&t, gpa(GiB(1) + MiB(4)), 0x7000, PAGE_SIZE, SLPT_R, SLPT_WB), 0);
    assert_int_equal(raw_entry(&t, GiB(1) + MiB(2), 1), (GiB(3) + MiB(2)) | VTD_SL_PS | VTD_SL_R | VTD_SL_W);
    assert_int_equal(raw_entry(&t, GiB(1) + MiB(4) + PAGE_SIZE, 0),
                     (GiB(3) + MiB(4) + PAGE_SIZE) | VTD_SL_R | VTD_SL_W);
    done(&t);

    /* A unit without 2 MiB pages: 4 KiB leaves only. */
    init(&t, SLPT_VTD, SLPT_NO_2M);
    assert_int_equal(slpt_map(&t, gpa(0), 0, MiB(4), SLPT_R | SLPT_W, SLPT_WB), 0);
    assert_int_equal(t.leaves_4k, 1024);
    assert_int_equal(t.leaves_2m + t.leaves_1g, 0);
    done(&t);
}

/* AMD-Vi I/O page-table entries: a table entry carries the level of the table
 * it points to (Next Level), a page Next Level 0 whatever its size; IR/IW. */
static void test_amdvi_bits(void **state)
{
    struct slpt t;
    init(&t, SLPT_AMDVI, SLPT_ALLOW_1G);
    const u64 rw = AMDVI_PTE_PR | AMDVI_PTE_IR | AMDVI_PTE_IW;
    assert_int_equal(slpt_map(&t, gpa(0x5000), 0xabc000, PAGE_SIZE, SLPT_R, SLPT_WB), 0);
    assert_int_equal(raw_entry(&t, 0x5000, 0), 0xabc000 | AMDVI_PTE_PR | AMDVI_PTE_IR);
    assert_int_equal(raw_entry(&t, 0x5000, 3) & ~PTE_ADDR, rw | 3ULL << AMDVI_PTE_NL_SHIFT);
    assert_int_equal(raw_entry(&t, 0x5000, 2) & ~PTE_ADDR, rw | 2ULL << AMDVI_PTE_NL_SHIFT);
    assert_int_equal(raw_entry(&t, 0x5000, 1) & ~PTE_ADDR, rw | 1ULL << AMDVI_PTE_NL_SHIFT);
    assert_int_equal(slpt_map(&t, gpa(MiB(2)), MiB(6), MiB(2), SLPT_RWX, SLPT_UC), 0);
    assert_int_equal(raw_entry(&t, MiB(2), 1), MiB(6) | rw);
    assert_int_equal(slpt_map(&t, gpa(GiB(1)), GiB(3), GiB(1), SLPT_R | SLPT_W, SLPT_WB), 0);
    assert_int_equal(raw_entry(&t, GiB(1), 2), GiB(3) | rw);
    hpa_t h;
    unsigned perms;
    u64 size;
    assert_int_equal(slpt_lookup(&t, gpa(GiB(1) + 0x12345), &h, &perms, &size), 0);
    assert_int_equal(h, GiB(3) + 0x12345);
    assert_int_equal(perms, SLPT_R | SLPT_W);
    assert_int_equal(size, GiB(1));
    assert_int_equal(slpt_lookup(&t, gpa(MiB(3)), &h, NULL, &size), 0);
    assert_int_equal(size, MiB(2));
    /* Splitting the 2 MiB page: a table entry with Next Level 1, pages below. */
    assert_int_equal(slpt_map(&t, gpa(MiB(3)), 0x9000, PAGE_SIZE, SLPT_R, SLPT_WB), 0);
    assert_int_equal(raw_entry(&t, MiB(2), 1) & ~PTE_ADDR, rw | 1ULL << AMDVI_PTE_NL_SHIFT);
    assert_int_equal(raw_entry(&t, MiB(2), 0), MiB(6) | rw);
    assert_int_equal(raw_entry(&t, MiB(3), 0), 0x9000 | AMDVI_PTE_PR | AMDVI_PTE_IR);
    assert_int_equal(slpt_unmap(&t, gpa(0), GiB(2)), 0);
    assert_int_equal(t.tables, 1);
    done(&t);
}

static u64 walked;
static void count_table(void *ctx, hpa_t pa)
{
    (void)ctx;
    assert_int_equal(pa & 0xfff, 0);
    walked++;
}

static void test_for_each_table(void **state)
{
    struct slpt t;
    init(&t, SLPT_VTD, 0);
    assert_int_equal(slpt_map(&t, gpa(0), 0x40000000, MiB(2) + PAGE_SIZE, SLPT_R | SLPT_W, SLPT_WB), 0);
    assert_int_equal(slpt_map(&t, gpa(GiB(600)), 0x1000, PAGE_SIZE, SLPT_R, SLPT_WB), 0);
    walked = 0;
    slpt_for_each_table(&t, count_table, NULL);
    assert_int_equal(walked, t.tables);
    assert_int_equal(t.tables, 1 + 3 + 3);
    done(&t);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_init_destroy), T(test_ept_bits),   T(test_npt_bits),       T(test_root),   T(test_size_selection),
        T(test_split),        T(test_unmap),      T(test_errors),         T(test_enomem), T(test_random_model),
        T(test_vtd_bits),     T(test_amdvi_bits), T(test_for_each_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
