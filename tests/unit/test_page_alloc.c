/* Page-frame allocator: argument checking, NUMA policy, alignment, misuse
 * detection, and random operation sequences checked frame by frame against a
 * naive reference model. All managed addresses are fake; the allocator must
 * never touch them (ASan would notice). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/core/page_alloc.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "tests/unit/stubs.h"

#define FAKE_BASE 0x100000000ULL /* 4 GiB, nowhere near the host heap */

static struct page_alloc pa;
static void *bitmaps[PFA_MAX_RANGES + 8];
static int nbitmaps;

static int setup(void **state)
{
    pfa_init(&pa);
    test_stubs_reset();
    nbitmaps = 0;
    return 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < nbitmaps; i++)
        free(bitmaps[i]);
    nbitmaps = 0;
    return 0;
}

static void *new_bitmap(u64 len)
{
    size_t n = pfa_bitmap_bytes(len);
    /* Garbage, so a missing initialisation shows. */
    void *bm = aligned_alloc(8, ALIGN_UP(n ? n : 8, 8));
    assert_non_null(bm);
    memset(bm, 0xA5, n);
    bitmaps[nbitmaps++] = bm;
    return bm;
}

static int add(hpa_t base, u64 len, int node) { return pfa_add_range(&pa, base, len, node, new_bitmap(len)); }

static void assert_consistent(void) { assert_int_equal(pfa_check(&pa), 0); }

/* ------------------------------------------------------------------ arguments */

static void test_add_range_args(void **state)
{
    void *bm = new_bitmap(MiB(1));

    assert_int_equal(pfa_add_range(&pa, FAKE_BASE + 1, MiB(1), 0, bm), -EINVAL);
    assert_int_equal(pfa_add_range(&pa, FAKE_BASE, MiB(1) + 1, 0, bm), -EINVAL);
    assert_int_equal(pfa_add_range(&pa, FAKE_BASE, 0, 0, bm), -EINVAL);
    assert_int_equal(pfa_add_range(&pa, FAKE_BASE, MiB(1), -1, bm), -EINVAL);
    assert_int_equal(pfa_add_range(&pa, FAKE_BASE, MiB(1), PFA_MAX_NODES, bm), -EINVAL);
    assert_int_equal(pfa_add_range(&pa, FAKE_BASE, MiB(1), 0, NULL), -EINVAL);
    assert_int_equal(pfa_add_range(&pa, FAKE_BASE, MiB(1), 0, (char *)bm + 1), -EINVAL);
    assert_int_equal(pfa_add_range(&pa, 0xFFFFFFFFFFF00000ULL, MiB(2), 0, bm), -EINVAL);
    assert_int_equal(pfa_range_count(&pa), 0);

    assert_int_equal(pfa_add_range(&pa, FAKE_BASE, MiB(1), 0, bm), 0);
    /* Overlaps: same, inside, straddling either end, enclosing. */
    assert_int_equal(add(FAKE_BASE, MiB(1), 1), -EEXIST);
    assert_int_equal(add(FAKE_BASE + KiB(4), KiB(4), 1), -EEXIST);
    assert_int_equal(add(FAKE_BASE - KiB(4), KiB(8), 1), -EEXIST);
    assert_int_equal(add(FAKE_BASE + MiB(1) - KiB(4), KiB(8), 1), -EEXIST);
    assert_int_equal(add(FAKE_BASE - MiB(1), MiB(3), 1), -EEXIST);
    /* Touching is fine. */
    assert_int_equal(add(FAKE_BASE + MiB(1), MiB(1), 1), 0);
    assert_int_equal(add(FAKE_BASE - MiB(1), MiB(1), 1), 0);
    assert_int_equal(pfa_range_count(&pa), 3);
    assert_int_equal(pfa_total_pages(&pa, 0), 256);
    assert_int_equal(pfa_total_pages(&pa, 1), 512);
    assert_int_equal(pfa_free_pages(&pa, PFA_ALL_NODES), 768);
    assert_int_equal(pfa_free_pages(&pa, 99), 0);
    assert_consistent();

    /* Ranges come back in address order regardless of insertion order. */
    struct pfa_range_info ri;
    assert_int_equal(pfa_range_info(&pa, 0, &ri), 0);
    assert_int_equal(ri.base, FAKE_BASE - MiB(1));
    assert_int_equal(pfa_range_info(&pa, 1, &ri), 0);
    assert_int_equal(ri.base, FAKE_BASE);
    assert_int_equal(ri.node, 0);
    assert_int_equal(ri.npages, 256);
    assert_int_equal(pfa_range_info(&pa, 3, &ri), -ENOENT);
    assert_int_equal(pfa_range_info(&pa, -1, &ri), -ENOENT);
    assert_int_equal(pfa_node_of(&pa, FAKE_BASE + 5), 0);
    assert_int_equal(pfa_node_of(&pa, FAKE_BASE + MiB(1)), 1);
    assert_int_equal(pfa_node_of(&pa, 0), -ENOENT);
}

static void test_range_table_full(void **state)
{
    for (int i = 0; i < PFA_MAX_RANGES; i++)
        assert_int_equal(add(FAKE_BASE + (u64)i * MiB(1), KiB(64), i % PFA_MAX_NODES), 0);
    assert_int_equal(add(FAKE_BASE + GiB(1), KiB(64), 0), -ENOSPC);
    assert_int_equal(pfa_range_count(&pa), PFA_MAX_RANGES);
    assert_int_equal(pfa_total_pages(&pa, PFA_ALL_NODES), PFA_MAX_RANGES * 16);
    assert_consistent();
}

static void test_alloc_args(void **state)
{
    hpa_t a = 0x1234;
    assert_int_equal(add(FAKE_BASE, MiB(1), 0), 0);

    assert_int_equal(pfa_alloc(&pa, 0, 0, 1, 0, &a, NULL), -EINVAL);
    assert_int_equal(pfa_alloc(&pa, 0, 1, 0, 0, &a, NULL), -EINVAL);
    assert_int_equal(pfa_alloc(&pa, 0, 1, 3, 0, &a, NULL), -EINVAL);
    assert_int_equal(pfa_alloc(&pa, -1, 1, 1, 0, &a, NULL), -EINVAL);
    assert_int_equal(pfa_alloc(&pa, PFA_MAX_NODES, 1, 1, 0, &a, NULL), -EINVAL);
    assert_int_equal(pfa_alloc(&pa, 0, 1, 1, 0x80, &a, NULL), -EINVAL);
    assert_int_equal(pfa_alloc(&pa, 0, 1, 1, PFA_STRICT | PFA_ANY_NODE, &a, NULL), -EINVAL);
    assert_int_equal(pfa_alloc(&pa, 0, 1, 1, 0, NULL, NULL), -EINVAL);
    assert_int_equal(a, 0x1234);
    /* Node is ignored with PFA_ANY_NODE, even when invalid. */
    assert_int_equal(pfa_alloc(&pa, -5, 1, 1, PFA_ANY_NODE, &a, NULL), 0);
    assert_int_equal(a, FAKE_BASE);
    /* Huge requests fail cleanly. */
    assert_int_equal(pfa_alloc(&pa, 0, UINT64_MAX, 1, 0, &a, NULL), -ENOMEM);
    assert_int_equal(pfa_alloc(&pa, 0, 1, 1ULL << 63, 0, &a, NULL), -ENOMEM);
    assert_int_equal(pfa_alloc(&pa, 0, 2, 1ULL << 63, 0, &a, NULL), -ENOMEM);

    int order[] = { 1, 1 };
    assert_int_equal(pfa_set_fallback(&pa, 0, order, 2), -EINVAL);
    order[1] = PFA_MAX_NODES;
    assert_int_equal(pfa_set_fallback(&pa, 0, order, 2), -EINVAL);
    assert_int_equal(pfa_set_fallback(&pa, -1, order, 1), -EINVAL);
    assert_int_equal(pfa_set_fallback(&pa, 0, order, -1), -EINVAL);
    assert_int_equal(pfa_set_fallback(&pa, 0, NULL, 1), -EINVAL);
    assert_int_equal(pfa_set_fallback(&pa, 0, NULL, 0), 0);
    assert_int_equal(pfa_set_fallback(&pa, 0, order, 1), 0);
    assert_consistent();
}

/* ------------------------------------------------------------------ policy */

static void test_basic_alloc_free(void **state)
{
    hpa_t a, b, c;
    int node = -1;

    assert_int_equal(add(FAKE_BASE, MiB(1), 3), 0);
    assert_int_equal(pfa_alloc(&pa, 3, 1, 1, 0, &a, &node), 0);
    assert_int_equal(a, FAKE_BASE);
    assert_int_equal(node, 3);
    assert_int_equal(pfa_alloc_page(&pa, 3, &b), 0);
    assert_int_equal(b, FAKE_BASE + KiB(4));
    assert_int_equal(pfa_alloc(&pa, 3, 10, 1, 0, &c, NULL), 0);
    assert_int_equal(c, FAKE_BASE + KiB(8));

    struct pfa_stats s;
    pfa_node_stats(&pa, 3, &s);
    assert_int_equal(s.total, 256);
    assert_int_equal(s.used, 12);
    assert_int_equal(s.free, 244);
    assert_int_equal(s.allocs, 3);
    assert_consistent();

    /* Freed frames are reused lowest first. */
    assert_int_equal(pfa_free(&pa, a, 1), 0);
    assert_int_equal(pfa_alloc_page(&pa, 3, &a), 0);
    assert_int_equal(a, FAKE_BASE);
    /* Part of an allocation can be freed on its own. */
    assert_int_equal(pfa_free(&pa, c + KiB(4) * 5, 5), 0);
    assert_int_equal(pfa_free(&pa, c, 5), 0);
    assert_int_equal(pfa_free(&pa, b, 1), 0);
    assert_int_equal(pfa_free(&pa, a, 1), 0);
    pfa_node_stats(&pa, 3, &s);
    assert_int_equal(s.free, 256);
    assert_int_equal(s.frees, 5);
    assert_int_equal(test_log_count[LOG_WARN], 0);
    assert_consistent();
}

static void setup_three_nodes(void)
{
    /* Node 0 holds two ranges with node 1 between them in address order. */
    assert_int_equal(add(FAKE_BASE, KiB(64), 0), 0); /* 16 frames */
    assert_int_equal(add(FAKE_BASE + MiB(1), KiB(64), 1), 0);
    assert_int_equal(add(FAKE_BASE + MiB(2), KiB(32), 0), 0); /* 8 frames */
    assert_int_equal(add(FAKE_BASE + MiB(3), KiB(64), 2), 0);
}

static void test_strict_and_fallback(void **state)
{
    hpa_t a;
    int node;

    setup_three_nodes();
    int order0[] = { 2, 1 };
    assert_int_equal(pfa_set_fallback(&pa, 0, order0, 2), 0);

    /* Node 0 is used up through both of its ranges first. */
    for (int i = 0; i < 24; i++) {
        assert_int_equal(pfa_alloc(&pa, 0, 1, 1, 0, &a, &node), 0);
        assert_int_equal(node, 0);
        assert_int_equal(a, i < 16 ? FAKE_BASE + (u64)i * KiB(4) : FAKE_BASE + MiB(2) + (u64)(i - 16) * KiB(4));
    }
    assert_int_equal(pfa_free_pages(&pa, 0), 0);
    assert_int_equal(pfa_alloc(&pa, 0, 1, 1, PFA_STRICT, &a, &node), -ENOMEM);

    /* Then the nearest node per the fallback order: 2 before 1. */
    for (int i = 0; i < 16; i++) {
        assert_int_equal(pfa_alloc(&pa, 0, 1, 1, 0, &a, &node), 0);
        assert_int_equal(node, 2);
    }
    assert_int_equal(pfa_alloc(&pa, 0, 1, 1, 0, &a, &node), 0);
    assert_int_equal(node, 1);
    assert_int_equal(a, FAKE_BASE + MiB(1));

    struct pfa_stats s0, s1, s2, all;
    pfa_node_stats(&pa, 0, &s0);
    pfa_node_stats(&pa, 1, &s1);
    pfa_node_stats(&pa, 2, &s2);
    pfa_node_stats(&pa, PFA_ALL_NODES, &all);
    assert_int_equal(s0.allocs, 24);
    assert_int_equal(s0.fallbacks, 17);
    assert_int_equal(s0.failures, 1);
    assert_int_equal(s2.allocs, 16);
    assert_int_equal(s1.allocs, 1);
    assert_int_equal(s1.fallbacks, 0);
    assert_int_equal(all.allocs, 41);
    assert_int_equal(all.failures, 1);

    /* Without a configured order, fallback goes by node number. */
    assert_int_equal(pfa_alloc(&pa, 2, 1, 1, 0, &a, &node), 0);
    assert_int_equal(node, 1);
    /* Once everything is gone, all policies fail. */
    for (int i = 0; i < 14; i++)
        assert_int_equal(pfa_alloc(&pa, 1, 1, 1, PFA_STRICT, &a, &node), 0);
    assert_int_equal(pfa_alloc(&pa, 1, 1, 1, 0, &a, &node), -ENOMEM);
    assert_int_equal(pfa_alloc(&pa, 1, 1, 1, PFA_ANY_NODE, &a, &node), -ENOMEM);
    pfa_node_stats(&pa, PFA_ALL_NODES, &all);
    assert_int_equal(all.free, 0);
    assert_int_equal(all.failures, 3);
    assert_consistent();
}

static void test_fallback_list_without_self(void **state)
{
    hpa_t a;
    int node;

    setup_three_nodes();
    /* The list may include the node itself; it is still tried first. */
    int order[] = { 1, 0 };
    assert_int_equal(pfa_set_fallback(&pa, 0, order, 2), 0);
    assert_int_equal(pfa_alloc(&pa, 0, 10, 1, PFA_STRICT, &a, &node), 0);
    assert_int_equal(node, 0);
    /* Node 0 has runs of 6 and 8 left. */
    assert_int_equal(pfa_alloc(&pa, 0, 12, 1, 0, &a, &node), 0);
    assert_int_equal(node, 1);
    assert_int_equal(pfa_alloc(&pa, 0, 12, 1, 0, &a, &node), -ENOMEM); /* 2 is not listed */
    assert_int_equal(pfa_alloc(&pa, 0, 1, 1, 0, &a, &node), 0);
    assert_int_equal(node, 0);
}

static void test_any_node(void **state)
{
    hpa_t a;
    int node;

    setup_three_nodes();
    /* Address order: node 0, node 1, node 0, node 2. */
    assert_int_equal(pfa_alloc(&pa, 7, 16, 1, PFA_ANY_NODE, &a, &node), 0);
    assert_int_equal(node, 0);
    assert_int_equal(pfa_alloc(&pa, 7, 16, 1, PFA_ANY_NODE, &a, &node), 0);
    assert_int_equal(node, 1);
    assert_int_equal(pfa_alloc(&pa, 7, 9, 1, PFA_ANY_NODE, &a, &node), 0);
    assert_int_equal(node, 2);
    assert_int_equal(pfa_alloc(&pa, 7, 8, 1, PFA_ANY_NODE, &a, &node), 0);
    assert_int_equal(node, 0);
    assert_int_equal(a, FAKE_BASE + MiB(2));
    struct pfa_stats all;
    pfa_node_stats(&pa, PFA_ALL_NODES, &all);
    assert_int_equal(all.fallbacks, 0);
    assert_consistent();
}

/* ------------------------------------------------------------------ alignment */

static void test_alignment(void **state)
{
    hpa_t a, b, c;
    /* 3 GiB starting one page past 4 GiB: only one 1 GiB-aligned frame inside. */
    assert_int_equal(add(FAKE_BASE + KiB(4), GiB(3), 0), 0);

    assert_int_equal(pfa_alloc_page(&pa, 0, &a), 0);
    assert_int_equal(a, FAKE_BASE + KiB(4));
    assert_int_equal(pfa_alloc(&pa, 0, 512, 512, 0, &b, NULL), 0);
    assert_int_equal(b, FAKE_BASE + MiB(2));
    assert_true(IS_ALIGNED(b, MiB(2)));
    assert_int_equal(pfa_alloc(&pa, 0, 1, 1, 0, &c, NULL), 0);
    assert_int_equal(c, FAKE_BASE + KiB(8)); /* the gap below the 2 MiB block */

    hpa_t g;
    assert_int_equal(pfa_alloc(&pa, 0, 262144, 262144, 0, &g, NULL), 0);
    assert_int_equal(g, FAKE_BASE + GiB(1));
    /* 5 GiB and 6 GiB fit; 7 GiB would end past the range (7 GiB + 4 KiB). */
    hpa_t g2;
    assert_int_equal(pfa_alloc(&pa, 0, 262144, 262144, 0, &g2, NULL), 0);
    assert_int_equal(g2, FAKE_BASE + GiB(2));
    assert_int_equal(pfa_alloc(&pa, 0, 262144, 262144, 0, &g2, NULL), -ENOMEM);
    /* Below 5 GiB, 510 more aligned 2 MiB blocks fit around the first. */
    for (int i = 0; i < 510; i++) {
        hpa_t x;
        assert_int_equal(pfa_alloc(&pa, 0, 512, 512, 0, &x, NULL), 0);
        assert_true(IS_ALIGNED(x, MiB(2)));
        assert_true(x < g);
    }
    assert_int_equal(pfa_alloc(&pa, 0, 512, 512, 0, &g2, NULL), -ENOMEM);
    /* The 509 frames left under the first 2 MiB block still serve unaligned requests. */
    assert_int_equal(pfa_alloc(&pa, 0, 510, 1, 0, &g2, NULL), -ENOMEM);
    assert_int_equal(pfa_alloc(&pa, 0, 509, 1, 0, &g2, NULL), 0);
    assert_int_equal(g2, FAKE_BASE + KiB(12));
    assert_int_equal(pfa_free(&pa, g2, 509), 0);
    /* Non-power-of-two sizes with alignment. */
    hpa_t y;
    assert_int_equal(pfa_alloc(&pa, 0, 3, 16, 0, &y, NULL), 0);
    assert_true(IS_ALIGNED(y, KiB(64)));
    assert_int_equal(pfa_free(&pa, g, 262144), 0);
    assert_int_equal(pfa_alloc(&pa, 0, 262144, 262144, 0, &g2, NULL), 0);
    assert_int_equal(g2, g);
    assert_consistent();
}

static void test_alignment_unaligned_range(void **state)
{
    hpa_t a;
    /* 64 frames starting at an odd frame: 32-frame alignment fits exactly once. */
    assert_int_equal(add(FAKE_BASE + KiB(4) * 31, KiB(4) * 64, 0), 0);
    assert_int_equal(pfa_alloc(&pa, 0, 32, 32, 0, &a, NULL), 0);
    assert_int_equal(a, FAKE_BASE + KiB(128));
    assert_int_equal(pfa_alloc(&pa, 0, 32, 32, 0, &a, NULL), -ENOMEM);
    assert_int_equal(pfa_alloc(&pa, 0, 31, 1, 0, &a, NULL), 0);
    assert_int_equal(a, FAKE_BASE + KiB(4) * 64);
    assert_int_equal(pfa_alloc(&pa, 0, 1, 1, 0, &a, NULL), 0);
    assert_int_equal(a, FAKE_BASE + KiB(4) * 31);
    assert_int_equal(pfa_free_pages(&pa, 0), 0);
    assert_consistent();
}

/* ------------------------------------------------------------------ exhaustion & fragmentation */

static void test_exhaustion_and_fragmentation(void **state)
{
    enum { N = 200 };
    hpa_t pages[N], a;

    assert_int_equal(add(FAKE_BASE, KiB(4) * N, 0), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(pfa_alloc_page(&pa, 0, &pages[i]), 0);
        assert_int_equal(pages[i], FAKE_BASE + (u64)i * KiB(4));
    }
    assert_int_equal(pfa_alloc_page(&pa, 0, &a), -ENOMEM);

    /* Free every other frame: lots of free memory, no two-frame run. */
    for (int i = 0; i < N; i += 2)
        assert_int_equal(pfa_free(&pa, pages[i], 1), 0);
    assert_int_equal(pfa_free_pages(&pa, 0), N / 2);
    assert_int_equal(pfa_alloc(&pa, 0, 2, 1, 0, &a, NULL), -ENOMEM);
    assert_int_equal(pfa_free(&pa, pages[101], 1), 0);
    assert_int_equal(pfa_alloc(&pa, 0, 3, 1, 0, &a, NULL), 0);
    assert_int_equal(a, pages[100]);
    assert_int_equal(pfa_alloc(&pa, 0, 2, 1, 0, &a, NULL), -ENOMEM);
    assert_int_equal(pfa_alloc_page(&pa, 0, &a), 0);
    assert_int_equal(a, pages[0]);
    assert_consistent();
}

static void test_cycles_restore_free_count(void **state)
{
    hpa_t held[8];

    assert_int_equal(add(FAKE_BASE, MiB(16), 0), 0);
    assert_int_equal(add(FAKE_BASE + GiB(1), MiB(16), 1), 0);
    assert_int_equal(pfa_reserve(&pa, FAKE_BASE + MiB(3), KiB(40)), 0);
    u64 free0 = pfa_free_pages(&pa, PFA_ALL_NODES);
    u64 n0 = pfa_free_pages(&pa, 0), n1 = pfa_free_pages(&pa, 1);
    hpa_t first[8] = { 0 };

    for (int cycle = 0; cycle < 100; cycle++) {
        for (int k = 0; k < 8; k++)
            assert_int_equal(pfa_alloc(&pa, k & 1, (u64)k * 37 + 1, 1ULL << k, 0, &held[k], NULL), 0);
        if (cycle == 0)
            memcpy(first, held, sizeof(first));
        else
            assert_memory_equal(first, held, sizeof(first)); /* deterministic */
        for (int k = 7; k >= 0; k--)
            assert_int_equal(pfa_free(&pa, held[k], (u64)k * 37 + 1), 0);
        assert_int_equal(pfa_free_pages(&pa, PFA_ALL_NODES), free0);
    }
    assert_int_equal(pfa_free_pages(&pa, 0), n0);
    assert_int_equal(pfa_free_pages(&pa, 1), n1);
    struct pfa_stats all;
    pfa_node_stats(&pa, PFA_ALL_NODES, &all);
    assert_int_equal(all.allocs, 800);
    assert_int_equal(all.frees, 800);
    assert_int_equal(all.used, 0);
    assert_consistent();
}

/* ------------------------------------------------------------------ misuse */

static void snapshot(struct pfa_stats *s) { pfa_node_stats(&pa, PFA_ALL_NODES, s); }

static void expect_free_error(hpa_t base, u64 n, int err)
{
    struct pfa_stats before, after;
    int warns = test_log_count[LOG_WARN];

    snapshot(&before);
    assert_int_equal(pfa_free(&pa, base, n), err);
    snapshot(&after);
    assert_memory_equal(&before, &after, sizeof(before));
    assert_int_equal(test_log_count[LOG_WARN], warns + 1);
    assert_consistent();
}

static void test_bad_frees(void **state)
{
    hpa_t a, b;

    assert_int_equal(add(FAKE_BASE, KiB(64), 0), 0);
    assert_int_equal(add(FAKE_BASE + KiB(64), KiB(64), 0), 0); /* adjacent */
    assert_int_equal(pfa_reserve(&pa, FAKE_BASE + KiB(40), KiB(4)), 0);
    assert_int_equal(pfa_alloc(&pa, 0, 4, 1, 0, &a, NULL), 0);
    /* Fill the first range up to its end and take the second's first frames. */
    assert_int_equal(pfa_alloc(&pa, 0, 5, 1, 0, &b, NULL), 0);
    assert_int_equal(b, FAKE_BASE + KiB(16));
    hpa_t c, d;
    assert_int_equal(pfa_alloc(&pa, 0, 5, 1, 0, &c, NULL), 0);
    assert_int_equal(c, FAKE_BASE + KiB(44));
    assert_int_equal(pfa_alloc(&pa, 0, 2, 1, 0, &d, NULL), 0);
    assert_int_equal(d, FAKE_BASE + KiB(64));

    expect_free_error(a + 1, 1, -EINVAL);
    expect_free_error(a, 0, -EINVAL);
    expect_free_error(0, 1, -ENOENT);
    expect_free_error(FAKE_BASE + GiB(1), 1, -ENOENT);
    expect_free_error(FAKE_BASE - KiB(4), 2, -ENOENT);
    /* Frames 11..15 of range 1 and 0..1 of range 2 are all allocated, but one
     * free may not span two ranges. */
    expect_free_error(c, 7, -EINVAL);
    expect_free_error(c, UINT64_MAX, -EINVAL);
    expect_free_error(FAKE_BASE + KiB(40), 1, -EPERM);  /* reserved */
    expect_free_error(b, 7, -EPERM);                    /* runs into the reserved one */
    expect_free_error(FAKE_BASE + KiB(36), 1, -EFAULT); /* never allocated */
    expect_free_error(b, 6, -EFAULT);                   /* runs into that free frame */
    assert_int_equal(pfa_free(&pa, a, 4), 0);
    expect_free_error(a, 4, -EFAULT);              /* double free */
    expect_free_error(a + KiB(4) * 3, 2, -EFAULT); /* half double free */
    assert_int_equal(pfa_free(&pa, b, 5), 0);
    assert_int_equal(pfa_free(&pa, c, 5), 0);
    assert_int_equal(pfa_free(&pa, d, 2), 0);
    struct pfa_stats s;
    snapshot(&s);
    assert_int_equal(s.used, 0);
    assert_int_equal(s.reserved, 1);
    assert_int_equal(s.free, 31);
}

static void test_reserve(void **state)
{
    hpa_t a;

    assert_int_equal(add(FAKE_BASE, KiB(64), 0), 0);
    assert_int_equal(add(FAKE_BASE + MiB(1), KiB(64), 1), 0);
    assert_int_equal(pfa_reserve(&pa, FAKE_BASE, 0), -EINVAL);
    assert_int_equal(pfa_reserve(&pa, UINT64_MAX - 10, 100), -EINVAL);
    /* Partial frames round outwards: bytes 0x0fff..0x1000 touch frames 0 and 1. */
    assert_int_equal(pfa_reserve(&pa, FAKE_BASE + 0xfff, 2), 0);
    struct pfa_stats s;
    pfa_node_stats(&pa, 0, &s);
    assert_int_equal(s.reserved, 2);
    assert_int_equal(s.free, 14);
    /* Idempotent; unmanaged parts ignored; can span ranges and nodes. */
    assert_int_equal(pfa_reserve(&pa, FAKE_BASE, KiB(4)), 0);
    assert_int_equal(pfa_reserve(&pa, FAKE_BASE + KiB(60), MiB(1) - KiB(56)), 0);
    pfa_node_stats(&pa, 0, &s);
    assert_int_equal(s.reserved, 3);
    pfa_node_stats(&pa, 1, &s);
    assert_int_equal(s.reserved, 1);
    assert_int_equal(pfa_reserve(&pa, 0, KiB(4)), 0);

    assert_int_equal(pfa_alloc_page(&pa, 0, &a), 0);
    assert_int_equal(a, FAKE_BASE + KiB(8));
    assert_int_equal(pfa_reserve(&pa, FAKE_BASE, KiB(12)), -EBUSY);
    pfa_node_stats(&pa, 0, &s);
    assert_int_equal(s.reserved, 3);
    assert_int_equal(s.used, 1);
    assert_int_equal(s.allocs, 1);

    /* Unreserve gives frames back; allocated ones block it. */
    assert_int_equal(pfa_unreserve(&pa, FAKE_BASE, KiB(12)), -EBUSY);
    assert_int_equal(pfa_unreserve(&pa, FAKE_BASE + 1, KiB(4)), -EINVAL);
    assert_int_equal(pfa_unreserve(&pa, FAKE_BASE, KiB(8)), 0);
    pfa_node_stats(&pa, 0, &s);
    assert_int_equal(s.reserved, 1);
    assert_int_equal(pfa_alloc_page(&pa, 0, &a), 0);
    assert_int_equal(a, FAKE_BASE);
    assert_consistent();
}

static void test_bitmap_inside_range_is_reserved(void **state)
{
    /* Manage the real page holding the bitmap (the allocator never touches
     * managed frames, so this is safe) and check it is withheld. */
    void *bm = new_bitmap(KiB(256));
    hpa_t page = ALIGN_DOWN(ptr_to_hpa(bm), PAGE_SIZE);
    hpa_t last = ALIGN_DOWN(ptr_to_hpa(bm) + pfa_bitmap_bytes(KiB(256)) - 1, PAGE_SIZE);
    u64 frames = (last - page) / PAGE_SIZE + 1;
    hpa_t base = page - KiB(4) * 8;

    assert_int_equal(pfa_add_range(&pa, base, KiB(256), 0, bm), 0);
    struct pfa_stats s;
    pfa_node_stats(&pa, 0, &s);
    assert_int_equal(s.reserved, frames);
    for (int i = 0; i < 64; i++) {
        hpa_t a;
        if (pfa_alloc_page(&pa, 0, &a) != 0)
            break;
        assert_true(a < page || a > last);
    }
    /* An older range's bitmap is found when a later range covers it. */
    void *bm2 = new_bitmap(KiB(64));
    hpa_t p2 = ALIGN_DOWN(ptr_to_hpa(bm2), PAGE_SIZE);
    if (p2 < base - MiB(1) || p2 >= base + MiB(1)) {
        assert_int_equal(pfa_add_range(&pa, FAKE_BASE, KiB(64), 1, bm2), 0);
        assert_int_equal(pfa_add_range(&pa, p2, KiB(4), 2, new_bitmap(KiB(4))), 0);
        pfa_node_stats(&pa, 2, &s);
        assert_int_equal(s.reserved, 1);
        assert_int_equal(s.free, 0);
    }
    assert_consistent();
}

/* ------------------------------------------------------------------ model */

enum { M_FREE, M_USED, M_RESV };

struct model_range {
    hpa_t base;
    u64 n;
    int node;
    u8 *st;
};

struct model {
    struct model_range r[8];
    int nr;
    int order[PFA_MAX_NODES][PFA_MAX_NODES];
    int norder[PFA_MAX_NODES];
};

static bool model_fit(struct model_range *r, u64 n, u64 align, u64 *idx)
{
    for (u64 i = 0; i + n <= r->n; i++) {
        if (((r->base >> PAGE_SHIFT) + i) % align)
            continue;
        u64 k = 0;
        while (k < n && r->st[i + k] == M_FREE)
            k++;
        if (k == n) {
            *idx = i;
            return true;
        }
    }
    return false;
}

static bool model_alloc_node(struct model *m, int node, u64 n, u64 align, hpa_t *out, int *got)
{
    for (int i = 0; i < m->nr; i++) {
        u64 idx;
        if (node >= 0 && m->r[i].node != node)
            continue;
        if (model_fit(&m->r[i], n, align, &idx)) {
            memset(m->r[i].st + idx, M_USED, n);
            *out = m->r[i].base + idx * PAGE_SIZE;
            *got = m->r[i].node;
            return true;
        }
    }
    return false;
}

static int model_alloc(struct model *m, int node, u64 n, u64 align, unsigned flags, hpa_t *out, int *got)
{
    if (flags & PFA_ANY_NODE)
        return model_alloc_node(m, -1, n, align, out, got) ? 0 : -ENOMEM;
    if (model_alloc_node(m, node, n, align, out, got))
        return 0;
    if (flags & PFA_STRICT)
        return -ENOMEM;
    for (int k = 0; k < m->norder[node]; k++)
        if (m->order[node][k] != node && model_alloc_node(m, m->order[node][k], n, align, out, got))
            return 0;
    return -ENOMEM;
}

static struct model_range *model_range_of(struct model *m, hpa_t a)
{
    for (int i = 0; i < m->nr; i++)
        if (a >= m->r[i].base && a < m->r[i].base + m->r[i].n * PAGE_SIZE)
            return &m->r[i];
    return NULL;
}

static int model_free(struct model *m, hpa_t a, u64 n)
{
    struct model_range *r = model_range_of(m, a);
    if (!r)
        return -ENOENT;
    u64 idx = (a - r->base) / PAGE_SIZE;
    if (n > r->n - idx)
        return -EINVAL;
    for (u64 k = 0; k < n; k++)
        if (r->st[idx + k] == M_RESV)
            return -EPERM;
    for (u64 k = 0; k < n; k++)
        if (r->st[idx + k] != M_USED)
            return -EFAULT;
    memset(r->st + idx, M_FREE, n);
    return 0;
}

static int model_reserve(struct model *m, hpa_t a, u64 len)
{
    hpa_t lo = ALIGN_DOWN(a, PAGE_SIZE), hi = ALIGN_UP(a + len, PAGE_SIZE);
    for (hpa_t p = lo; p < hi; p += PAGE_SIZE) {
        struct model_range *r = model_range_of(m, p);
        if (r && r->st[(p - r->base) / PAGE_SIZE] == M_USED)
            return -EBUSY;
    }
    for (hpa_t p = lo; p < hi; p += PAGE_SIZE) {
        struct model_range *r = model_range_of(m, p);
        if (r)
            r->st[(p - r->base) / PAGE_SIZE] = M_RESV;
    }
    return 0;
}

static void model_compare_stats(struct model *m)
{
    for (int node = 0; node < 4; node++) {
        struct pfa_stats s;
        u64 c[3] = { 0 };
        pfa_node_stats(&pa, node, &s);
        for (int i = 0; i < m->nr; i++)
            if (m->r[i].node == node)
                for (u64 k = 0; k < m->r[i].n; k++)
                    c[m->r[i].st[k]]++;
        assert_int_equal(s.free, c[M_FREE]);
        assert_int_equal(s.used, c[M_USED]);
        assert_int_equal(s.reserved, c[M_RESV]);
        assert_int_equal(s.total, c[0] + c[1] + c[2]);
    }
}

struct held {
    hpa_t a;
    u64 n;
};

static void run_model(unsigned seed, int ops)
{
    static struct model m;
    static struct held held[4096];
    int nheld = 0;
    /* Ranges: sizes chosen to be word-unaligned, nodes interleaved in address order. */
    static const struct {
        u64 off, pages;
        int node;
    } layout[] = {
        { 0, 130, 0 }, { MiB(1), 67, 1 }, { MiB(2), 300, 0 }, { MiB(4), 64, 2 }, { MiB(5), 1, 3 }, { MiB(6), 513, 2 },
    };

    memset(&m, 0, sizeof(m));
    pfa_init(&pa);
    srand(seed);
    for (size_t i = 0; i < ARRAY_SIZE(layout); i++) {
        hpa_t base = FAKE_BASE + layout[i].off + KiB(4) * (seed % 7);
        assert_int_equal(add(base, layout[i].pages * PAGE_SIZE, layout[i].node), 0);
        m.r[m.nr].base = base;
        m.r[m.nr].n = layout[i].pages;
        m.r[m.nr].node = layout[i].node;
        m.r[m.nr].st = calloc(layout[i].pages, 1);
        m.nr++;
    }
    for (int n = 0; n < PFA_MAX_NODES; n++) {
        m.norder[n] = 0;
        for (int k = 0; k < PFA_MAX_NODES; k++)
            if (k != n)
                m.order[n][m.norder[n]++] = k;
    }
    int o0[] = { 3, 2, 1 }, o2[] = { 2, 0 };
    assert_int_equal(pfa_set_fallback(&pa, 0, o0, 3), 0);
    memcpy(m.order[0], o0, sizeof(o0));
    m.norder[0] = 3;
    assert_int_equal(pfa_set_fallback(&pa, 2, o2, 2), 0);
    m.order[2][0] = 0;
    m.norder[2] = 1;

    for (int op = 0; op < ops; op++) {
        int r = rand() % 100;
        if (r < 50) {
            u64 n = rand() % 4 ? (u64)(rand() % 8 + 1) : (u64)(rand() % 200 + 1);
            u64 align = 1ULL << (rand() % 4 ? 0 : rand() % 8);
            unsigned flags = (unsigned[]){ 0, 0, PFA_STRICT, PFA_ANY_NODE }[rand() % 4];
            int node = rand() % 4;
            hpa_t a = 0, ma = 0;
            int got = -1, mgot = -1;
            int rc = pfa_alloc(&pa, node, n, align, flags, &a, &got);
            int mrc = model_alloc(&m, node, n, align, flags, &ma, &mgot);
            assert_int_equal(rc, mrc);
            if (rc == 0) {
                assert_int_equal(a, ma);
                assert_int_equal(got, mgot);
                if (nheld < (int)ARRAY_SIZE(held))
                    held[nheld++] = (struct held){ a, n };
                else
                    assert_int_equal(pfa_free(&pa, a, n), model_free(&m, a, n));
            }
        } else if (r < 85 && nheld) {
            int i = rand() % nheld;
            struct held h = held[i];
            /* Sometimes free only a piece, keeping the rest held. */
            if (h.n > 1 && rand() % 3 == 0) {
                u64 cut = (u64)(rand() % (int)(h.n - 1)) + 1;
                assert_int_equal(pfa_free(&pa, h.a, cut), 0);
                assert_int_equal(model_free(&m, h.a, cut), 0);
                held[i].a += cut * PAGE_SIZE;
                held[i].n -= cut;
            } else {
                assert_int_equal(pfa_free(&pa, h.a, h.n), 0);
                assert_int_equal(model_free(&m, h.a, h.n), 0);
                held[i] = held[--nheld];
            }
        } else if (r < 95) {
            /* Random frees, mostly bogus: both sides must agree on the error. */
            hpa_t a = FAKE_BASE + (u64)(rand() % 2000) * PAGE_SIZE + (rand() % 50 == 0 ? 8 : 0);
            u64 n = (u64)(rand() % 4);
            struct model_range *mr = model_range_of(&m, a);
            int want = (!IS_ALIGNED(a, PAGE_SIZE) || n == 0) ? -EINVAL : model_free(&m, a, n);
            (void)mr;
            int rc = pfa_free(&pa, a, n);
            assert_int_equal(rc, want);
            if (rc == 0) /* a lucky hit on a held block: drop it from held */
                for (int i = 0; i < nheld; i++)
                    if (a < held[i].a + held[i].n * PAGE_SIZE && a + n * PAGE_SIZE > held[i].a) {
                        /* Return the rest of that block and forget it. */
                        for (u64 k = 0; k < held[i].n; k++) {
                            hpa_t p = held[i].a + k * PAGE_SIZE;
                            if (p >= a && p < a + n * PAGE_SIZE)
                                continue;
                            assert_int_equal(pfa_free(&pa, p, 1), 0);
                            assert_int_equal(model_free(&m, p, 1), 0);
                        }
                        held[i--] = held[--nheld];
                    }
        } else {
            hpa_t a = FAKE_BASE + (u64)(rand() % 2000) * 1000;
            u64 len = (u64)(rand() % 20000) + 1;
            assert_int_equal(pfa_reserve(&pa, a, len), model_reserve(&m, a, len));
        }
        if (op % 64 == 0) {
            assert_consistent();
            model_compare_stats(&m);
        }
    }
    assert_consistent();
    model_compare_stats(&m);
    struct pfa_stats all;
    pfa_node_stats(&pa, PFA_ALL_NODES, &all);
    assert_int_equal(all.total, all.free + all.used + all.reserved);
    if (seed == 1)
        print_message("model seed 1: %llu allocs, %llu frees, %llu failures, %llu reserved\n",
                      (unsigned long long)all.allocs, (unsigned long long)all.frees, (unsigned long long)all.failures,
                      (unsigned long long)all.reserved);
    for (int i = 0; i < m.nr; i++)
        free(m.r[i].st);
    teardown(NULL);
}

static void test_random_vs_model(void **state)
{
    for (unsigned seed = 1; seed <= 20; seed++)
        run_model(seed, 5000);
}

/* ------------------------------------------------------------------ scale */

static void test_large_range_speed(void **state)
{
    /* 64 GiB: 16 M frames. Single-frame allocations must not rescan the bitmap. */
    assert_int_equal(add(FAKE_BASE, GiB(64), 0), 0);
    for (int i = 0; i < 200000; i++) {
        hpa_t a;
        assert_int_equal(pfa_alloc_page(&pa, 0, &a), 0);
        assert_int_equal(a, FAKE_BASE + (u64)i * PAGE_SIZE);
    }
    for (int i = 0; i < 1000; i++) {
        hpa_t a;
        assert_int_equal(pfa_alloc(&pa, 0, 512, 512, 0, &a, NULL), 0);
        assert_true(IS_ALIGNED(a, MiB(2)));
    }
    for (int i = 0; i < 60; i++) {
        hpa_t a;
        assert_int_equal(pfa_alloc(&pa, 0, 262144, 262144, 0, &a, NULL), 0);
    }
    assert_consistent();
}

/* What 2 MiB-aligned allocations can still get: whole aligned units of the
 * free runs, per node, and the biggest run. */
static void test_free_aligned(void **state)
{
    (void)state;
    const u64 g = MiB(2) / PAGE_SIZE;
    /* Node 0: [4G + 1M, 4G + 9M): aligned part [4G + 2M, 4G + 8M) = 3 units. */
    assert_int_equal(add(FAKE_BASE + MiB(1), MiB(8), 0), 0);
    /* Node 1: [4G + 16M, 4G + 32M) = 8 units. */
    assert_int_equal(add(FAKE_BASE + MiB(16), MiB(16), 1), 0);
    u64 big = 0;
    assert_int_equal(pfa_free_aligned(&pa, 0, g, &big), 3 * g);
    assert_int_equal(big, 3 * g);
    assert_int_equal(pfa_free_aligned(&pa, 1, g, &big), 8 * g);
    assert_int_equal(big, 8 * g);
    assert_int_equal(pfa_free_aligned(&pa, PFA_ALL_NODES, g, &big), 11 * g);
    /* One page taken in the middle of node 1 splits it into 4 + 3 units. */
    assert_int_equal(pfa_reserve(&pa, FAKE_BASE + MiB(24) + PAGE_SIZE, PAGE_SIZE), 0);
    assert_int_equal(pfa_free_aligned(&pa, 1, g, &big), 7 * g);
    assert_int_equal(big, 4 * g);
    /* Page granularity counts every free page. */
    assert_int_equal(pfa_free_aligned(&pa, 1, 1, NULL), MiB(16) / PAGE_SIZE - 1);
    /* An allocation of the biggest run succeeds, one more unit on that node does not. */
    hpa_t at;
    assert_int_equal(pfa_alloc(&pa, 1, 4 * g, g, PFA_STRICT, &at, NULL), 0);
    assert_int_equal(pfa_free_aligned(&pa, 1, g, &big), 3 * g);
    assert_true(pfa_alloc(&pa, 1, 4 * g, g, PFA_STRICT, &at, NULL) < 0);
    assert_int_equal(pfa_free_aligned(&pa, 5, g, &big), 0);
    assert_int_equal(big, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_add_range_args),
        T(test_free_aligned),
        T(test_range_table_full),
        T(test_alloc_args),
        T(test_basic_alloc_free),
        T(test_strict_and_fallback),
        T(test_fallback_list_without_self),
        T(test_any_node),
        T(test_alignment),
        T(test_alignment_unaligned_range),
        T(test_exhaustion_and_fragmentation),
        T(test_cycles_restore_free_count),
        T(test_bad_frees),
        T(test_reserve),
        T(test_bitmap_inside_range_is_reserved),
        T(test_random_vs_model),
        T(test_large_range_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
