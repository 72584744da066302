/* Shadow page tables (vmm/shadow.c) over fake memories: a 64 MiB guest RAM
 * holding synthetic guest page tables, a guest-physical map with a hole, a
 * read-only and a no-execute region, and a pool of shadow table pages with
 * fake host-physical addresses (so using an hpa as a pointer crashes).
 *
 * Covered: every combination of RW/US/NX over the four levels against every
 * access under every CR0.WP/EFER.NXE/CR4.SMEP/SMAP/RFLAGS.AC setting (checked
 * against a reference predicate written here), A/D bits, large pages, reserved
 * bits, paging off (PAE identity shadow), the root cache, write protection of
 * guest tables and the exact invalidation of emulated writes, the table budget
 * and allocator failures, and a random run of faults and table edits whose
 * every shadow entry is checked against a reference walk after each step. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/shadow.h"
#include "vmm/slpt.h"
#include "arch/x86/hw/pte.h"
#include "arch/x86/hw/regs.h"
#include "arch/x86/hw/vectors.h"
#include "kernel/lib/errno.h"
#include "tests/unit/xorshift.h"

/* Entry and register bits from the architectural headers (arch/x86/hw/), not
 * from the code under test. */
#define UPPER (PTE_P | PTE_RW | PTE_US)

/* ---------------------------------------------------------------- fake guest memory */

#define RAM_SIZE  MiB(64)
#define MAP_LIMIT GiB(8)        /* the guest-physical map ends here */
#define HOLE_BASE 0xc0000000ULL /* [3 GiB, 4 GiB): not RAM (MMIO) */
#define HOLE_END  GiB(4)
#define NOX_BASE  MiB(14) /* [14, 15) MiB: SLPT_R | SLPT_W */
#define ROM_BASE  MiB(15) /* [15, 16) MiB: SLPT_R | SLPT_X */
#define ROM_END   MiB(16)
#define GT_BASE   MiB(32)                /* guest tables of the directed tests */
#define DATA_BASE MiB(20)                /* guest data pages of the directed tests */
#define HPA_OF(g) (0x100000000ULL + (g)) /* fake host frame of guest page g */

static u8 *ram;
static u64 gwrites; /* successful gwrite() calls */
static u64 gt_next; /* bump allocator of guest table pages */

static int g_read(void *ctx, gpa_t g, void *out, u32 len)
{
    if (g.v >= RAM_SIZE || len > RAM_SIZE - g.v)
        return -EFAULT;
    memcpy(out, ram + g.v, len);
    return 0;
}

static int g_write(void *ctx, gpa_t g, const void *in, u32 len)
{
    if (g.v >= RAM_SIZE || len > RAM_SIZE - g.v)
        return -EFAULT;
    memcpy(ram + g.v, in, len);
    gwrites++;
    return 0;
}

static int g_to_hpa(void *ctx, gpa_t g, hpa_t *hpa, unsigned *perms)
{
    assert_true(IS_ALIGNED(g.v, PAGE_SIZE));
    if (g.v >= MAP_LIMIT || (g.v >= HOLE_BASE && g.v < HOLE_END))
        return -ENOENT;
    *hpa = HPA_OF(g.v);
    if (g.v >= ROM_BASE && g.v < ROM_END)
        *perms = SLPT_R | SLPT_X;
    else if (g.v >= NOX_BASE && g.v < ROM_BASE)
        *perms = SLPT_R | SLPT_W;
    else
        *perms = SLPT_RWX;
    return 0;
}

static u64 gget(u64 a)
{
    u64 v;
    assert_true(a + 8 <= RAM_SIZE);
    memcpy(&v, ram + a, 8);
    return v;
}

static void gput(u64 a, u64 v)
{
    assert_true(a + 8 <= RAM_SIZE);
    memcpy(ram + a, &v, 8);
}

static u64 gtable(void)
{
    u64 p = gt_next;
    gt_next += PAGE_SIZE;
    assert_true(gt_next <= RAM_SIZE);
    memset(ram + p, 0, PAGE_SIZE);
    return p;
}

static u32 gidx(u64 va, int level) { return (u32)PT_INDEX(va, level); }

/* The canonical va of the given table indexes. */
static u64 mkva(u32 i4, u32 i3, u32 i2, u32 i1)
{
    u64 v = ((u64)i4 << 39) | ((u64)i3 << 30) | ((u64)i2 << 21) | ((u64)i1 << 12);
    return (v & BIT(47)) ? v | 0xffff000000000000ULL : v;
}

/* Address of va's entry at `level` in the guest tree at cr3, creating the
 * tables above it with rights UPPER. */
static u64 gslot(u64 cr3, u64 va, int level)
{
    u64 table = cr3 & PTE_ADDR;
    for (int l = 4;; l--) {
        u64 a = table + gidx(va, l) * 8;
        if (l == level)
            return a;
        u64 e = gget(a);
        if (!(e & PTE_P)) {
            e = gtable() | UPPER;
            gput(a, e);
        }
        table = e & PTE_ADDR;
    }
}

static void map4k(u64 cr3, u64 va, u64 g, u64 flags) { gput(gslot(cr3, va, 1), g | flags); }
static void map2m(u64 cr3, u64 va, u64 g, u64 flags) { gput(gslot(cr3, va, 2), g | PTE_PS | flags); }
static void map1g(u64 cr3, u64 va, u64 g, u64 flags) { gput(gslot(cr3, va, 3), g | PTE_PS | flags); }

/* ---------------------------------------------------------------- fake table pool */

#define POOL_PAGES 4800
#define LOW_PAGES  64
#define LOW_BASE   0x40000000ULL  /* fake hpa of pool page 0 (below 4 GiB) */
#define HIGH_BASE  0x7f0000000ULL /* fake hpa of pool page LOW_PAGES */

struct pool {
    u8 *mem;
    bool used[POOL_PAGES];
    u64 allocs, frees, live;
    u64 below_4g_reqs;
    bool last_below_4g;
    bool ignore_below_4g; /* hand out high pages for below_4g requests */
    long fail_after;      /* allocations before failing; < 0: never */
    long fail_count;      /* failures then (< 0: for ever) */
};

static struct pool P;

static hpa_t pool_hpa(u32 i)
{
    return i < LOW_PAGES ? LOW_BASE + (u64)i * PAGE_SIZE : HIGH_BASE + (u64)(i - LOW_PAGES) * PAGE_SIZE;
}

static u32 pool_index(hpa_t pa)
{
    assert_true(IS_ALIGNED(pa, PAGE_SIZE));
    if (pa >= LOW_BASE && pa < LOW_BASE + LOW_PAGES * PAGE_SIZE)
        return (u32)((pa - LOW_BASE) / PAGE_SIZE);
    assert_true(pa >= HIGH_BASE && pa < HIGH_BASE + (POOL_PAGES - LOW_PAGES) * PAGE_SIZE);
    return (u32)((pa - HIGH_BASE) / PAGE_SIZE) + LOW_PAGES;
}

static bool pool_take(struct pool *p, u32 from, u32 to, hpa_t *pa)
{
    for (u32 i = from; i < to; i++) {
        if (!p->used[i]) {
            p->used[i] = true;
            memset(p->mem + (u64)i * PAGE_SIZE, 0, PAGE_SIZE);
            *pa = pool_hpa(i);
            return true;
        }
    }
    return false;
}

static int fm_alloc(void *ctx, bool below_4g, hpa_t *pa)
{
    struct pool *p = ctx;
    p->last_below_4g = below_4g;
    p->below_4g_reqs += below_4g;
    if (p->fail_after == 0 && p->fail_count != 0) {
        if (p->fail_count > 0 && --p->fail_count == 0)
            p->fail_after = -1;
        return -ENOMEM;
    }
    if (p->fail_after > 0)
        p->fail_after--;
    bool ok = below_4g && !p->ignore_below_4g
                  ? pool_take(p, 0, LOW_PAGES, pa)
                  : pool_take(p, LOW_PAGES, POOL_PAGES, pa) || pool_take(p, 0, LOW_PAGES, pa);
    if (!ok)
        return -ENOMEM;
    p->allocs++;
    p->live++;
    return 0;
}

/* With more than one vCPU, a dropped table page may be freed only after the
 * other vCPUs were synced (they may still walk it until then). */
static bool smp_mode, synced;

static void fm_free(void *ctx, hpa_t pa)
{
    struct pool *p = ctx;
    u32 i = pool_index(pa);
    assert_true(!smp_mode || synced);
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

static u64 *pool_table(hpa_t pa) { return fm_map(&P, pa); }

/* The other vCPUs are simulated: a sync only counts, and records how many
 * pages were dropped at the time (none may be freed before their sync). */
static u32 syncs;
static void fm_sync(void *ctx, int self)
{
    (void)ctx;
    (void)self;
    syncs++;
    synced = true;
}

static const struct shadow_ops OPS = { fm_alloc, fm_free, fm_map, g_read, g_write, g_to_hpa, fm_sync, &P };

/* ---------------------------------------------------------------- fixture */

static struct shadow *S;

static int setup(void **state)
{
    memset(&P, 0, sizeof(P));
    P.mem = aligned_alloc(PAGE_SIZE, POOL_PAGES * PAGE_SIZE);
    P.fail_after = -1;
    ram = calloc(1, RAM_SIZE);
    S = calloc(1, sizeof(*S));
    gt_next = GT_BASE;
    gwrites = 0;
    smp_mode = synced = false;
    syncs = 0;
    return P.mem && ram && S ? 0 : -1;
}

static int teardown(void **state)
{
    if (S->max_tables) { /* initialised */
        shadow_destroy(S);
        assert_int_equal(S->st.tables, 0);
        assert_int_equal(S->st.tracked, 0);
        assert_int_equal(P.live, 0);
        assert_int_equal(P.allocs, P.frees);
    }
    free(S);
    free(ram);
    free(P.mem);
    return 0;
}

static void sh_init(u32 nroots, u32 max_tables) { assert_int_equal(shadow_init(S, &OPS, nroots, max_tables, 1), 0); }

static struct shadow_regs long_regs(u64 cr3)
{
    return (struct shadow_regs){
        .cr0 = CR0_PE | CR0_PG | CR0_WP,
        .cr3 = cr3,
        .cr4 = CR4_PAE | CR4_PGE,
        .efer = EFER_LME | EFER_LMA | EFER_NXE,
        .rflags = RFLAGS_FIXED,
    };
}

/* Paging off with the same mode bits as long_regs(), so both kinds of root
 * live in the cache together. */
static struct shadow_regs none_regs(void)
{
    return (struct shadow_regs){
        .cr0 = CR0_PE | CR0_WP,
        .cr4 = CR4_PGE,
        .efer = EFER_NXE,
        .rflags = RFLAGS_FIXED,
    };
}

static hpa_t act(const struct shadow_regs *g)
{
    hpa_t hw = 0;
    enum shadow_mode m;
    assert_int_equal(shadow_activate(S, 0, g, &hw, &m), 0);
    assert_int_equal(m, (g->cr0 & CR0_PG) ? SHADOW_MODE_LONG4 : SHADOW_MODE_NONE);
    assert_int_equal(hw, S->roots[S->cur[0]].hw);
    return hw;
}

static struct shadow_fault fault(const struct shadow_regs *g, u64 va, u32 pfec)
{
    struct shadow_fault f;
    assert_int_equal(shadow_page_fault(S, 0, g, va, pfec, &f), 0);
    return f;
}

static void expect_fixed(const struct shadow_regs *g, u64 va, u32 pfec)
{
    struct shadow_fault f = fault(g, va, pfec);
    assert_int_equal(f.result, SHADOW_FIXED);
}

static const struct shadow_track *tracked(const struct shadow *s, u64 gfn)
{
    for (u32 i = 0; i < s->ntrack; i++)
        if (s->track[i].gfn == gfn)
            return &s->track[i];
    return NULL;
}

static int root_of(const struct shadow *s, enum shadow_mode m, u64 cr3)
{
    for (u32 r = 0; r < s->nroots; r++)
        if (s->roots[r].valid && s->roots[r].mode == m && s->roots[r].cr3 == cr3)
            return (int)r;
    return -1;
}

/* Root r's level-1 entry for va, read straight from the pool. */
static u64 root_leaf(const struct shadow *s, int r, u64 va)
{
    const struct shadow_root *root = &s->roots[r];
    assert_true(root->valid);
    int top = root->mode == SHADOW_MODE_LONG4 ? 4 : 3;
    const u64 *tb = pool_table(root->hw);
    for (int l = top;; l--) {
        u64 e = tb[gidx(va, l)];
        if (l == 1)
            return e;
        if (!(e & PTE_P))
            return 0;
        tb = pool_table(e & PTE_ADDR);
    }
}

/* Tables held by root r, root included. */
static u64 root_tables(const struct shadow *s, hpa_t pa, int level)
{
    const u64 *tb = pool_table(pa);
    u64 n = 1;
    for (u32 i = 0; level > 1 && i < PT_ENTRIES; i++)
        if (tb[i] & PTE_P)
            n += root_tables(s, tb[i] & PTE_ADDR, level - 1);
    return n;
}

/* ---------------------------------------------------------------- reference model */

/* The access rules of SDM 4.6.1, written independently of shadow.c. */
struct ref_cfg {
    bool wp, nxe, smep, smap, ac;
};

static struct ref_cfg cfg_of(const struct shadow_regs *g)
{
    return (struct ref_cfg){
        .wp = g->cr0 & CR0_WP,
        .nxe = g->efer & EFER_NXE,
        .smep = g->cr4 & CR4_SMEP,
        .smap = g->cr4 & CR4_SMAP,
        .ac = g->rflags & RFLAGS_AC,
    };
}

static bool ref_allowed(struct ref_cfg c, bool w, bool u, bool nx, u32 pfec)
{
    bool user = pfec & PFEC_U, write = pfec & PFEC_W, fetch = pfec & PFEC_I;
    if (user)
        return u && (!write || w) && (!fetch || !nx);
    if (fetch)
        return !nx && !(c.smep && u);
    if (u && c.smap && !c.ac)
        return false;
    return !write || w || !c.wp;
}

/* The error code for a refused access: `kind` is 0 (not present), PFEC_P
 * (protection) or PFEC_P | PFEC_RSVD. */
static u32 ref_pfec(struct ref_cfg c, u32 pfec, u32 kind)
{
    u32 code = kind | (pfec & (PFEC_W | PFEC_U));
    if ((pfec & PFEC_I) && (c.nxe || c.smep))
        code |= PFEC_I;
    return code;
}

enum { REF_OK, REF_NOT_PRESENT, REF_RSVD, REF_EFAULT };

struct ref {
    int st;
    u64 gpa;
    bool w, u, nx, dirty, accessed;
    int ntables;
    u64 table[4]; /* guest tables read, PML4 first */
};

/* A pure walk of the guest's 4-level tables (no A/D updates). */
static struct ref ref_walk(const struct shadow_regs *g, u64 va)
{
    struct ref r = { .st = REF_OK, .w = true, .u = true, .accessed = true };
    bool nxe = g->efer & EFER_NXE;
    u64 table = g->cr3 & PTE_ADDR;
    for (int l = 4; l >= 1; l--) {
        u64 a = table + gidx(va, l) * 8;
        if (a + 8 > RAM_SIZE) {
            r.st = REF_EFAULT;
            return r;
        }
        r.table[r.ntables++] = table;
        u64 e = gget(a);
        if (!(e & PTE_P)) {
            r.st = REF_NOT_PRESENT;
            return r;
        }
        bool large = (l == 2 || l == 3) && (e & PTE_PS);
        u64 size = 1ULL << (12 + 9 * (l - 1));
        if ((!nxe && (e & PTE_NX)) || (l == 4 && (e & PTE_PS)) || (large && (e & (size - 1) & ~0x1fffULL))) {
            r.st = REF_RSVD;
            return r;
        }
        r.w &= !!(e & PTE_RW);
        r.u &= !!(e & PTE_US);
        r.nx |= nxe && (e & PTE_NX);
        r.accessed &= !!(e & PTE_A);
        if (l == 1 || large) {
            r.gpa = (e & PTE_ADDR & ~(size - 1)) | (va & (size - 1));
            r.dirty = e & PTE_D;
            return r;
        }
        table = e & PTE_ADDR;
    }
    return r;
}

/* The leaf shadow.c must install for an allowed access: guest rights
 * (all levels) with host rights, read-only while the guest leaf is clean or
 * the page is a tracked table, and the CR0.WP=0 supervisor-write case as
 * writable supervisor-only. */
struct leaf_bits {
    bool rw, us, nx;
};

static struct leaf_bits ref_leaf(struct ref_cfg c, bool w, bool u, bool nx, bool dirty_after, u32 pfec, unsigned host,
                                 bool is_tracked)
{
    struct leaf_bits b = { w, u, nx };
    if ((pfec & PFEC_W) && !w) {
        b.rw = true;
        b.us = false;
        b.nx = nx || (u && c.smep);
    }
    b.rw = b.rw && dirty_after && (host & SLPT_W) && !is_tracked;
    b.nx = b.nx || !(host & SLPT_X);
    return b;
}

static void check_leaf_bits(u64 e, struct leaf_bits b)
{
    assert_true(e & PTE_P);
    assert_true(e & PTE_A);
    assert_int_equal(!!(e & PTE_RW), b.rw);
    assert_int_equal(!!(e & PTE_D), b.rw);
    assert_int_equal(!!(e & PTE_US), b.us);
    assert_int_equal(!!(e & PTE_NX), b.nx);
}

static const u32 ACCESSES[6] = { 0, PFEC_W, PFEC_I, PFEC_U, PFEC_U | PFEC_W, PFEC_U | PFEC_I };

/* ---------------------------------------------------------------- init, walker */

static void test_init_errors(void **state)
{
    struct shadow_ops bad = OPS;
    bad.gpa_to_hpa = NULL;
    assert_int_equal(shadow_init(S, &bad, 0, 0, 1), -EINVAL);
    bad = OPS;
    bad.gread = NULL;
    assert_int_equal(shadow_init(S, &bad, 0, 0, 1), -EINVAL);
    assert_int_equal(shadow_init(S, NULL, 0, 0, 1), -EINVAL);
    assert_int_equal(shadow_init(S, &OPS, SHADOW_ROOTS_MAX + 1, 0, 1), -EINVAL);
    assert_int_equal(shadow_init(S, &OPS, 1, 3, 1), -EINVAL);
    assert_int_equal(shadow_init(S, &OPS, 2, 0, 3), -EINVAL);  /* fewer roots than vCPUs */
    assert_int_equal(shadow_init(S, &OPS, 4, 11, 3), -EINVAL); /* under 4 tables a vCPU */
    assert_int_equal(shadow_init(S, &OPS, 0, 0, 0), -EINVAL);
    assert_int_equal(shadow_init(S, &OPS, 0, 0, SHADOW_CPUS_MAX + 1), -EINVAL);
    sh_init(0, 0);
    assert_int_equal(S->nroots, SHADOW_ROOTS_DEFAULT);
    assert_int_equal(S->max_tables, SHADOW_TABLES_DEFAULT);
    assert_int_equal(S->cur[0], -1);
    assert_int_equal(S->st.tables, 0);
    assert_int_equal(P.allocs, 0);
    /* No active root yet. */
    struct shadow_regs g = long_regs(gtable());
    struct shadow_fault f;
    assert_int_equal(shadow_page_fault(S, 0, &g, 0x1000, 0, &f), -EINVAL);
    assert_int_equal(shadow_entry(S, 0, 0x1000), 0);
    shadow_invlpg(S, 0, 0x1000);
    sh_init(SHADOW_ROOTS_MAX, 4);
}

static void test_guest_walk(void **state)
{
    sh_init(0, 0);
    u64 cr3 = gtable();
    struct shadow_regs g = long_regs(cr3);
    map4k(cr3, 0x7000, DATA_BASE, PTE_P | PTE_RW | PTE_NX);
    map4k(cr3, 0xffff800000003000ULL, DATA_BASE + 0x5000, PTE_P | PTE_US | PTE_D);
    gpa_t ga;
    u32 rights, pf;
    assert_int_equal(shadow_guest_walk(S, &g, 0x7abc, 0, &ga, &rights, &pf), 0);
    assert_int_equal(ga.v, DATA_BASE + 0xabc);
    assert_int_equal(rights, SH_RIGHT_W | SH_RIGHT_NX); /* clean: no DIRTY */
    assert_int_equal(shadow_guest_walk(S, &g, 0x7abc, PFEC_W, &ga, &rights, &pf), 0);
    assert_int_equal(rights, SH_RIGHT_W | SH_RIGHT_NX | SH_RIGHT_DIRTY);
    assert_int_equal(shadow_guest_walk(S, &g, 0x7000, PFEC_U, &ga, &rights, &pf), 1);
    assert_int_equal(pf, PFEC_P | PFEC_U);
    assert_int_equal(shadow_guest_walk(S, &g, 0xffff800000003010ULL, PFEC_U, &ga, &rights, &pf), 0);
    assert_int_equal(ga.v, DATA_BASE + 0x5010);
    assert_int_equal(rights, SH_RIGHT_U | SH_RIGHT_DIRTY);
    /* Without EFER.NXE no NX right (and the walker would refuse bit 63). */
    g.efer &= ~EFER_NXE;
    assert_int_equal(shadow_guest_walk(S, &g, 0x7abc, 0, &ga, &rights, &pf), 1);
    assert_int_equal(pf, PFEC_P | PFEC_RSVD);
    g.efer |= EFER_NXE;
    /* Not present, non-canonical, tables outside guest RAM, unsupported modes. */
    assert_int_equal(shadow_guest_walk(S, &g, 0x9000, PFEC_W, &ga, &rights, &pf), 1);
    assert_int_equal(pf, PFEC_W);
    assert_int_equal(shadow_guest_walk(S, &g, 0x0000800000000000ULL, 0, &ga, &rights, &pf), -EINVAL);
    gput(gslot(cr3, 0x40000000, 3), 0x7fff000000ULL | UPPER);
    assert_int_equal(shadow_guest_walk(S, &g, 0x40000000, 0, &ga, &rights, &pf), -EFAULT);
    struct shadow_regs bad = long_regs(RAM_SIZE + 0x1000);
    assert_int_equal(shadow_guest_walk(S, &bad, 0x1000, 0, &ga, &rights, &pf), -EFAULT);
    bad = g;
    bad.efer &= ~EFER_LMA;
    assert_int_equal(shadow_guest_walk(S, &bad, 0x7000, 0, &ga, &rights, &pf), -ENOTSUP);
    /* Paging off: identity over the low 32 bits, everything allowed. */
    struct shadow_regs n = none_regs();
    assert_int_equal(shadow_guest_walk(S, &n, 0x1234567890ULL, PFEC_U | PFEC_W, &ga, &rights, &pf), 0);
    assert_int_equal(ga.v, 0x34567890);
    assert_int_equal(rights, SH_RIGHT_W | SH_RIGHT_U | SH_RIGHT_DIRTY);
}

/* ---------------------------------------------------------------- permission matrix */

/* Flags of combination i (0..7) at one level: bit 0 RW, bit 1 US, bit 2 NX. */
static u64 combo_flags(u32 i) { return ((i & 1) ? PTE_RW : 0) | ((i & 2) ? PTE_US : 0) | ((i & 4) ? PTE_NX : 0); }

/* All 8^4 combinations of RW/US/NX over PML4E, PDPTE, PDE and PTE live in one
 * address space built from four shared tables: va (i4, i3, i2, i1) goes
 * through entry i4 of the PML4, i3 of the PDPT, i2 of the PD and i1 of the PT.
 * Each is tried with the six accesses under the 32 settings of CR0.WP,
 * EFER.NXE, CR4.SMEP, CR4.SMAP and RFLAGS.AC. */
static void test_permission_matrix(void **state)
{
    sh_init(1, 0);
    u64 t4 = gtable(), t3 = gtable(), t2 = gtable(), t1 = gtable();
    for (u32 i = 0; i < 8; i++) {
        u64 f = combo_flags(i) | PTE_P;
        gput(t4 + 8 * i, t3 | f);
        gput(t3 + 8 * i, t2 | f);
        gput(t2 + 8 * i, t1 | f);
        gput(t1 + 8 * i, (DATA_BASE + i * PAGE_SIZE) | f);
    }
    u64 checked = 0, allowed = 0;
    for (u32 cfg = 0; cfg < 32; cfg++) {
        struct shadow_regs g = long_regs(t4);
        if (!(cfg & 1))
            g.cr0 &= ~CR0_WP;
        if (!(cfg & 2))
            g.efer &= ~EFER_NXE;
        g.cr4 |= ((cfg & 4) ? CR4_SMEP : 0) | ((cfg & 8) ? CR4_SMAP : 0);
        g.rflags |= (cfg & 16) ? RFLAGS_AC : 0;
        struct ref_cfg c = cfg_of(&g);
        /* Clean A/D bits for every setting; the guest tables change behind the
         * shadow's back, so start from nothing. */
        for (u32 i = 0; i < 8; i++)
            for (u64 t = t4; t <= t1; t += PAGE_SIZE)
                gput(t + 8 * i, gget(t + 8 * i) & ~(PTE_A | PTE_D));
        shadow_flush_all(S, 0);
        act(&g);
        for (u32 combo = 0; combo < 4096; combo++) {
            u32 lv[4] = { combo >> 9, (combo >> 6) & 7, (combo >> 3) & 7, combo & 7 }; /* L4..L1 */
            u64 va = ((u64)lv[0] << 39) | ((u64)lv[1] << 30) | ((u64)lv[2] << 21) | ((u64)lv[3] << 12);
            bool w = true, u = true, nx = false, rsvd = false;
            for (int k = 0; k < 4; k++) {
                w = w && (lv[k] & 1);
                u = u && (lv[k] & 2);
                nx = nx || (lv[k] & 4);
                rsvd = rsvd || ((lv[k] & 4) && !c.nxe);
            }
            nx = nx && c.nxe;
            for (u32 a = 0; a < ARRAY_SIZE(ACCESSES); a++) {
                u32 pfec = ACCESSES[a];
                u64 pte = t1 + 8 * lv[3];
                bool dirty_before = gget(pte) & PTE_D;
                struct shadow_fault f = fault(&g, va | 0x123, pfec);
                checked++;
                if (rsvd) {
                    assert_int_equal(f.result, SHADOW_GUEST_FAULT);
                    assert_int_equal(f.pfec, ref_pfec(c, pfec, PFEC_P | PFEC_RSVD));
                    continue;
                }
                if (!ref_allowed(c, w, u, nx, pfec)) {
                    assert_int_equal(f.result, SHADOW_GUEST_FAULT);
                    assert_int_equal(f.pfec, ref_pfec(c, pfec, PFEC_P));
                    continue;
                }
                allowed++;
                assert_int_equal(f.result, SHADOW_FIXED);
                bool dirty_after = dirty_before || (pfec & PFEC_W);
                assert_int_equal(!!(gget(pte) & PTE_D), dirty_after);
                assert_true(gget(pte) & PTE_A);
                assert_true(gget(t4 + 8 * lv[0]) & PTE_A);
                u64 e = shadow_entry(S, 0, va);
                assert_int_equal(e & PTE_ADDR, HPA_OF(DATA_BASE + lv[3] * PAGE_SIZE));
                check_leaf_bits(e, ref_leaf(c, w, u, nx, dirty_after, pfec, SLPT_RWX, false));
            }
        }
    }
    assert_int_equal(checked, 32 * 4096 * 6);
    assert_true(allowed > 0);
    /* Four tables tracked (all shared, so their uses overflow). */
    assert_int_equal(S->st.tracked, 4);
    assert_true(tracked(S, t1 >> PAGE_SHIFT)->overflow);
}

/* The CR0.WP=0 supervisor write to a read-only page, then user accesses. */
static void test_wp0_supervisor_write(void **state)
{
    sh_init(0, 0);
    u64 cr3 = gtable();
    struct shadow_regs g = long_regs(cr3);
    g.cr0 &= ~CR0_WP;
    g.cr4 |= CR4_SMEP;
    act(&g);
    map4k(cr3, 0x5000, DATA_BASE, PTE_P | PTE_US); /* user, read-only */
    expect_fixed(&g, 0x5000, PFEC_W);
    u64 e = shadow_entry(S, 0, 0x5000);
    assert_true((e & PTE_RW) && !(e & PTE_US) && (e & PTE_NX)); /* NX keeps SMEP's refusal */
    assert_true(gget(gslot(cr3, 0x5000, 1)) & PTE_D);
    /* A user read faults on the supervisor-only leaf and gets user, read-only. */
    expect_fixed(&g, 0x5000, PFEC_U | PFEC_P);
    e = shadow_entry(S, 0, 0x5000);
    assert_true(!(e & PTE_RW) && (e & PTE_US) && !(e & PTE_NX));
    /* A user write is the guest's own fault; a supervisor fetch too (SMEP). */
    assert_int_equal(fault(&g, 0x5000, PFEC_U | PFEC_W | PFEC_P).pfec, PFEC_P | PFEC_U | PFEC_W);
    assert_int_equal(fault(&g, 0x5000, PFEC_I).pfec, PFEC_P | PFEC_I);
    /* The supervisor write again flips it back. */
    expect_fixed(&g, 0x5000, PFEC_W | PFEC_P);
    assert_int_equal(shadow_entry(S, 0, 0x5000) & (PTE_RW | PTE_US), PTE_RW);
}

/* ---------------------------------------------------------------- A/D, large pages, reserved */

static void test_accessed_dirty(void **state)
{
    sh_init(0, 0);
    u64 cr3 = gtable();
    struct shadow_regs g = long_regs(cr3);
    act(&g);
    map4k(cr3, 0x3000, DATA_BASE, PTE_P | PTE_RW | PTE_US);
    map4k(cr3, 0x4000, DATA_BASE + 0x1000, PTE_P | PTE_RW | PTE_US);
    u64 slots[4];
    for (int l = 4; l >= 1; l--)
        slots[4 - l] = gslot(cr3, 0x3000, l);

    /* A refused access (SMAP, AC=0) sets no A bit. */
    struct shadow_regs smap = g;
    smap.cr4 |= CR4_SMAP;
    act(&smap);
    gwrites = 0;
    assert_int_equal(fault(&smap, 0x3000, 0).result, SHADOW_GUEST_FAULT);
    assert_int_equal(gwrites, 0);
    assert_int_equal(gget(slots[3]) & PTE_A, 0);
    act(&g);

    /* A read sets A at every level, not D; the leaf stays read-only although
     * the guest allows writes, so the first write faults. */
    gwrites = 0;
    expect_fixed(&g, 0x3000, 0);
    assert_int_equal(gwrites, 4);
    for (int k = 0; k < 4; k++)
        assert_true(gget(slots[k]) & PTE_A);
    assert_false(gget(slots[3]) & PTE_D);
    u64 e = shadow_entry(S, 0, 0x3000);
    assert_int_equal(e & ~PTE_ADDR, PTE_P | PTE_US | PTE_A);
    /* Nothing changes on a second read: no write-back at all. */
    expect_fixed(&g, 0x3000, 0);
    assert_int_equal(gwrites, 4);
    /* The write sets D (one write-back) and gets a writable, dirty leaf. */
    expect_fixed(&g, 0x3000, PFEC_W | PFEC_P);
    assert_int_equal(gwrites, 5);
    assert_true(gget(slots[3]) & PTE_D);
    assert_int_equal(shadow_entry(S, 0, 0x3000) & ~PTE_ADDR, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
    /* A read of a page already dirty gets it writable at once. */
    shadow_invlpg(S, 0, 0x3000);
    expect_fixed(&g, 0x3000, 0);
    assert_true(shadow_entry(S, 0, 0x3000) & PTE_RW);
    /* A first access that writes sets A and D in the same write-back. */
    gwrites = 0;
    expect_fixed(&g, 0x4000, PFEC_W);
    assert_int_equal(gwrites, 1);
    assert_int_equal(gget(gslot(cr3, 0x4000, 1)) & (PTE_A | PTE_D), PTE_A | PTE_D);
}

static void test_large_pages(void **state)
{
    sh_init(0, 0);
    u64 cr3 = gtable();
    struct shadow_regs g = long_regs(cr3);
    act(&g);
    /* 2 MiB page, PAT (bit 12), PWT, PCD and G: the 4 KiB shadow leaves take
     * PAT in bit 7, and no G (the hardware runs without global pages). */
    u64 va2 = 0x40000000;
    map2m(cr3, va2, MiB(6), PTE_P | PTE_RW | PTE_US | PTE_PWT | PTE_PCD | PTE_G | PTE_PAT_LARGE | PTE_D);
    expect_fixed(&g, va2 + 0x1234, PFEC_W);
    u64 e = shadow_entry(S, 0, va2 + 0x1000);
    assert_int_equal(e & PTE_ADDR, HPA_OF(MiB(6) + 0x1000));
    assert_int_equal(e & ~PTE_ADDR, PTE_P | PTE_RW | PTE_US | PTE_PWT | PTE_PCD | PTE_PAT | PTE_A | PTE_D);
    expect_fixed(&g, va2 + 0x1ff000, 0);
    assert_int_equal(shadow_entry(S, 0, va2 + 0x1ff000) & PTE_ADDR, HPA_OF(MiB(6) + 0x1ff000));
    assert_int_equal(shadow_entry(S, 0, va2 + 0x2000), 0); /* only what faulted */
    assert_true(gget(gslot(cr3, va2, 2)) & PTE_A);

    /* 1 GiB page above guest RAM (still in the guest-physical map), no PAT. */
    u64 va1 = 0x8000000000ULL;
    map1g(cr3, va1, GiB(1), PTE_P | PTE_RW);
    expect_fixed(&g, va1 + 0x12345678, 0);
    e = shadow_entry(S, 0, va1 + 0x12345000);
    assert_int_equal(e & PTE_ADDR, HPA_OF(GiB(1) + 0x12345000));
    assert_int_equal(e & ~PTE_ADDR, PTE_P | PTE_A); /* clean: read-only; supervisor */
    assert_int_equal(gget(gslot(cr3, va1, 3)) & (PTE_A | PTE_D), PTE_A);
    /* Bit 12 of a 1 GiB entry is PAT, not address. */
    u64 va3 = 0x8040000000ULL;
    map1g(cr3, va3, GiB(2), PTE_P | PTE_PAT_LARGE | PTE_D | PTE_RW);
    expect_fixed(&g, va3 + 0x3000, PFEC_W);
    e = shadow_entry(S, 0, va3 + 0x3000);
    assert_int_equal(e & PTE_ADDR, HPA_OF(GiB(2) + 0x3000));
    assert_true(e & PTE_PAT);

    /* No G with CR4.PGE clear either. */
    struct shadow_regs ng = g;
    ng.cr4 &= ~CR4_PGE;
    act(&ng);
    expect_fixed(&ng, va2, 0);
    assert_false(shadow_entry(S, 0, va2) & PTE_G);
    /* A 4 KiB leaf keeps its own PAT bit 7. */
    map4k(cr3, 0x9000, DATA_BASE, PTE_P | PTE_PAT | PTE_PCD);
    expect_fixed(&ng, 0x9000, 0);
    assert_int_equal(shadow_entry(S, 0, 0x9000) & ~PTE_ADDR, PTE_P | PTE_PAT | PTE_PCD | PTE_A);
}

static void test_reserved_and_not_present(void **state)
{
    sh_init(0, 0);
    u64 cr3 = gtable();
    struct shadow_regs g = long_regs(cr3);
    act(&g);
    struct {
        u64 va;
        int level;
        u64 entry;
    } rsvd[] = {
        { 0x0000008000000000ULL, 4, PTE_PS | UPPER },                    /* PS in a PML4E */
        { 0x0000010040000000ULL, 3, GiB(1) | BIT(20) | PTE_PS | UPPER }, /* 1 GiB, bit 20 */
        { 0x0000010080000000ULL, 3, GiB(1) | BIT(13) | PTE_PS | UPPER }, /* 1 GiB, bit 13 */
        { 0x0000018000200000ULL, 2, MiB(2) | BIT(13) | PTE_PS | UPPER }, /* 2 MiB, bit 13 */
        { 0x0000018000400000ULL, 2, MiB(2) | BIT(20) | PTE_PS | UPPER }, /* 2 MiB, bit 20 */
    };
    for (u32 i = 0; i < ARRAY_SIZE(rsvd); i++) {
        gput(gslot(cr3, rsvd[i].va, rsvd[i].level), rsvd[i].entry);
        for (u32 a = 0; a < ARRAY_SIZE(ACCESSES); a++) {
            struct shadow_fault f = fault(&g, rsvd[i].va, ACCESSES[a]);
            assert_int_equal(f.result, SHADOW_GUEST_FAULT);
            assert_int_equal(f.pfec, PFEC_P | PFEC_RSVD | ACCESSES[a]);
        }
        assert_int_equal(shadow_entry(S, 0, rsvd[i].va), 0);
    }
    /* A large page that is aligned is fine, PAT bit included. */
    gput(gslot(cr3, 0x0000018000600000ULL, 2), MiB(2) | PTE_PAT_LARGE | PTE_PS | UPPER);
    expect_fixed(&g, 0x0000018000600000ULL, 0);

    /* NX without EFER.NXE is reserved at any level; I is then reported only
     * with SMEP. */
    struct shadow_regs nn = g;
    nn.efer &= ~EFER_NXE;
    act(&nn);
    for (int l = 4; l >= 1; l--) {
        u64 va = 0x0000020000000000ULL + ((u64)l << 21);
        map4k(cr3, va, DATA_BASE, UPPER);
        u64 slot = gslot(cr3, va, l);
        gput(slot, gget(slot) | PTE_NX);
        assert_int_equal(fault(&nn, va, PFEC_I).pfec, PFEC_P | PFEC_RSVD);
        gput(slot, gget(slot) & ~PTE_NX);
    }
    nn.cr4 |= CR4_SMEP;
    act(&nn);
    u64 slot = gslot(cr3, 0x0000020000000000ULL + (1ULL << 21), 1);
    gput(slot, gget(slot) | PTE_NX);
    assert_int_equal(fault(&nn, 0x0000020000000000ULL + (1ULL << 21), PFEC_I | PFEC_U).pfec,
                     PFEC_P | PFEC_RSVD | PFEC_I | PFEC_U);

    /* Not present at each level: P clear in the error code. */
    act(&g);
    u64 base = 0x0000028000000000ULL;
    map4k(cr3, base, DATA_BASE, UPPER);
    for (int l = 1; l <= 4; l++) {
        u64 sl = gslot(cr3, base, l);
        u64 old = gget(sl);
        gput(sl, old & ~PTE_P);
        for (u32 a = 0; a < ARRAY_SIZE(ACCESSES); a++)
            assert_int_equal(fault(&g, base + 0x10, ACCESSES[a]).pfec, ACCESSES[a]);
        gput(sl, old);
    }
    expect_fixed(&g, base, PFEC_U);
    /* Protection and reserved faults count as guest faults. */
    assert_true(S->st.guest_faults >= ARRAY_SIZE(rsvd) * 6 + 4 * 6);
    /* Non-canonical: not a #PF at all. */
    struct shadow_fault f;
    assert_int_equal(shadow_page_fault(S, 0, &g, 0x0000800000000000ULL, 0, &f), -EINVAL);
    assert_int_equal(shadow_page_fault(S, 0, &g, 0xfff0000000000000ULL, 0, &f), -EINVAL);
    /* A table outside guest RAM stops the partition. */
    gput(gslot(cr3, 0x0000030000000000ULL, 4), (RAM_SIZE + MiB(1)) | UPPER);
    assert_int_equal(shadow_page_fault(S, 0, &g, 0x0000030000000000ULL, 0, &f), -EFAULT);
}

/* ---------------------------------------------------------------- paging off */

static void test_mode_none(void **state)
{
    sh_init(0, 0);
    struct shadow_regs g = none_regs();
    P.below_4g_reqs = 0;
    hpa_t hw = act(&g);
    assert_true(P.last_below_4g);
    assert_int_equal(P.below_4g_reqs, 1);
    assert_true(hw < GiB(4));
    assert_int_equal(S->roots[S->cur[0]].cr3, 0);
    assert_int_equal(S->roots[S->cur[0]].mode, SHADOW_MODE_NONE);

    /* Identity; everything the host allows, dirty at once (no guest D). */
    expect_fixed(&g, 0x123456, 0);
    u64 e = shadow_entry(S, 0, 0x123456);
    assert_int_equal(e, HPA_OF(0x123000) | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
    assert_false(P.last_below_4g); /* PD and PT need not be */
    /* The root holds PAE PDPTEs: P and the address only (RW, US, A... are
     * reserved there); tables below are ordinary 64-bit entries. */
    const u64 *root = pool_table(hw);
    assert_int_equal(root[0] & ~PTE_ADDR, PTE_P);
    for (u32 i = 1; i < PT_ENTRIES; i++)
        assert_int_equal(root[i], 0);
    assert_int_equal(pool_table(root[0] & PTE_ADDR)[0] & ~PTE_ADDR, PTE_P | PTE_RW | PTE_US | PTE_A);
    expect_fixed(&g, 0xbffff000, PFEC_W | PFEC_U);
    assert_int_equal(root[2] & ~PTE_ADDR, PTE_P);
    assert_int_equal(root[1], 0);
    assert_int_equal(shadow_entry(S, 0, 0xbffff000) & PTE_ADDR, HPA_OF(0xbffff000));

    /* Only the low 32 bits of va count. */
    expect_fixed(&g, 0x500002000ULL, 0);
    assert_int_equal(shadow_entry(S, 0, 0x2000) & PTE_ADDR, HPA_OF(0x2000));
    assert_int_equal(shadow_entry(S, 0, 0x500002000ULL), shadow_entry(S, 0, 0x2000));

    /* Host rights: ROM is read-only and executable, the NOX region writable
     * and NX; the hole is MMIO. */
    expect_fixed(&g, ROM_BASE + 0x10, PFEC_I);
    assert_int_equal(shadow_entry(S, 0, ROM_BASE) & ~PTE_ADDR, PTE_P | PTE_US | PTE_A);
    struct shadow_fault f = fault(&g, ROM_BASE + 0x18, PFEC_W);
    assert_int_equal(f.result, SHADOW_MMIO);
    assert_int_equal(f.gpa.v, ROM_BASE + 0x18);
    expect_fixed(&g, NOX_BASE, PFEC_W);
    assert_int_equal(shadow_entry(S, 0, NOX_BASE) & ~PTE_ADDR, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | PTE_NX);
    f = fault(&g, NOX_BASE + 0x44, PFEC_I);
    assert_int_equal(f.result, SHADOW_MMIO);
    assert_int_equal(f.gpa.v, NOX_BASE + 0x44);
    f = fault(&g, 0xfee00030ULL, 0);
    assert_int_equal(f.result, SHADOW_MMIO);
    assert_int_equal(f.gpa.v, 0xfee00030ULL);
    assert_int_equal(S->st.mmio, 3);
    /* No guest tables, nothing tracked. */
    assert_int_equal(S->st.tracked, 0);
    assert_int_equal(S->st.tables, 1 + 2 + 3); /* root, PDs 0 and 2, three PTs */
    assert_int_equal(S->st.tables, root_tables(S, hw, 3));
}

/* ---------------------------------------------------------------- root cache */

static void test_activate_unsupported(void **state)
{
    sh_init(0, 0);
    hpa_t hw;
    enum shadow_mode m;
    struct shadow_regs g = long_regs(gtable());
    struct shadow_regs pae = g;
    pae.efer &= ~EFER_LMA; /* PAE paging */
    assert_int_equal(shadow_activate(S, 0, &pae, &hw, &m), -ENOTSUP);
    pae.cr4 &= ~CR4_PAE; /* 32-bit paging */
    assert_int_equal(shadow_activate(S, 0, &pae, &hw, &m), -ENOTSUP);
    struct shadow_regs pcid = g;
    pcid.cr4 |= CR4_PCIDE;
    assert_int_equal(shadow_activate(S, 0, &pcid, &hw, &m), -ENOTSUP);
    struct shadow_regs la57 = g;
    la57.cr4 |= CR4_LA57;
    assert_int_equal(shadow_activate(S, 0, &la57, &hw, &m), -ENOTSUP);
    assert_int_equal(P.allocs, 0);
    assert_int_equal(S->cur[0], -1);
    /* A fault with regs that are not the active root's is refused. */
    act(&g);
    struct shadow_fault f;
    assert_int_equal(shadow_page_fault(S, 0, &pae, 0x1000, 0, &f), -ENOTSUP);
    struct shadow_regs other = long_regs(gtable());
    assert_int_equal(shadow_page_fault(S, 0, &other, 0x1000, 0, &f), -EINVAL);
    struct shadow_regs wp0 = g;
    wp0.cr0 &= ~CR0_WP;
    assert_int_equal(shadow_page_fault(S, 0, &wp0, 0x1000, 0, &f), -EINVAL);
    struct shadow_regs none = none_regs();
    assert_int_equal(shadow_page_fault(S, 0, &none, 0x1000, 0, &f), -EINVAL);
    /* Flag bits of CR3 are not part of the key. */
    struct shadow_regs flags = g;
    flags.cr3 |= CR3_PWT | CR3_PCD;
    act(&flags);
    assert_int_equal(S->st.root_hits, 1);
}

/* Address spaces that map va 0x1000 to their own data page, with their own
 * tables. */
static u64 make_space(u32 n)
{
    u64 cr3 = gtable();
    map4k(cr3, 0x1000, DATA_BASE + n * PAGE_SIZE, PTE_P | PTE_RW | PTE_US | PTE_D);
    return cr3;
}

static void test_root_cache_lru(void **state)
{
    sh_init(3, 0);
    u64 cr3[4];
    struct shadow_regs g[4];
    hpa_t hw[4];
    for (u32 i = 0; i < 4; i++) {
        cr3[i] = make_space(i);
        g[i] = long_regs(cr3[i]);
    }
    for (u32 i = 0; i < 3; i++) { /* A, B, C: misses */
        hw[i] = act(&g[i]);
        assert_false(P.last_below_4g);
        expect_fixed(&g[i], 0x1000, 0);
    }
    assert_int_equal(S->st.root_misses, 3);
    assert_int_equal(S->st.tracked, 12);
    assert_int_equal(act(&g[0]), hw[0]); /* A: hit, translation kept */
    assert_int_equal(S->st.root_hits, 1);
    assert_int_equal(shadow_entry(S, 0, 0x1000) & PTE_ADDR, HPA_OF(DATA_BASE));
    /* D evicts the least recently used: B. */
    act(&g[3]);
    assert_int_equal(S->st.root_evictions, 1);
    assert_int_equal(root_of(S, SHADOW_MODE_LONG4, cr3[1]), -1);
    assert_true(root_of(S, SHADOW_MODE_LONG4, cr3[0]) >= 0);
    assert_true(root_of(S, SHADOW_MODE_LONG4, cr3[2]) >= 0);
    /* B's tables are no longer tracked (no other root used them). */
    assert_int_equal(S->st.tracked, 8);
    for (int l = 4; l >= 1; l--)
        assert_null(tracked(S, gslot(cr3[1], 0x1000, l) >> PAGE_SHIFT));
    assert_int_equal(shadow_entry(S, 0, 0x1000), 0);
    expect_fixed(&g[3], 0x1000, 0);
    assert_int_equal(S->st.tracked, 12);
    /* C hits; then B misses and evicts A (A 4, D 5, C 6). */
    act(&g[2]);
    assert_int_equal(shadow_entry(S, 0, 0x1000) & PTE_ADDR, HPA_OF(DATA_BASE + 2 * PAGE_SIZE));
    act(&g[1]);
    assert_int_equal(root_of(S, SHADOW_MODE_LONG4, cr3[0]), -1);
    assert_int_equal(S->st.root_hits, 2);
    assert_int_equal(S->st.root_misses, 5);
    assert_int_equal(S->st.root_evictions, 2);
    assert_int_equal(S->st.flushes, 0);
    /* A MODE_NONE root lives next to them. */
    struct shadow_regs n = none_regs();
    act(&n);
    assert_int_equal(S->st.root_evictions, 3);
    act(&n);
    assert_int_equal(S->st.root_hits, 3);
    assert_int_equal(S->st.tables, P.live);
}

static void test_root_cache_single(void **state)
{
    sh_init(1, 0);
    u64 a = make_space(0), b = make_space(1);
    struct shadow_regs ga = long_regs(a), gb = long_regs(b);
    act(&ga);
    expect_fixed(&ga, 0x1000, 0);
    act(&ga); /* same key: a hit, kept */
    assert_int_equal(S->st.root_hits, 1);
    assert_true(shadow_entry(S, 0, 0x1000) & PTE_P);
    act(&gb); /* rebuilt */
    assert_int_equal(S->st.root_evictions, 1);
    assert_int_equal(shadow_entry(S, 0, 0x1000), 0);
    assert_int_equal(S->st.tables, 1);
    assert_int_equal(S->st.tracked, 0);
    expect_fixed(&gb, 0x1000, 0);
    assert_int_equal(shadow_entry(S, 0, 0x1000) & PTE_ADDR, HPA_OF(DATA_BASE + PAGE_SIZE));
    act(&ga);
    assert_int_equal(S->st.root_misses, 3);
    assert_int_equal(S->st.root_evictions, 2);
    assert_int_equal(shadow_entry(S, 0, 0x1000), 0);
}

static void test_mode_bits_key_roots(void **state)
{
    sh_init(4, 0);
    u64 a = make_space(0), b = make_space(1);
    struct shadow_regs ga = long_regs(a), gb = long_regs(b);
    act(&ga);
    expect_fixed(&ga, 0x1000, 0);
    act(&gb);
    expect_fixed(&gb, 0x1000, 0);
    /* RFLAGS.AC, CR3 flag bits, CR4.PSE and CR4.PGE change no leaf: same root. */
    u64 hits = S->st.root_hits;
    ga.rflags |= RFLAGS_AC;
    ga.cr4 ^= CR4_PGE | CR4_PSE;
    act(&ga);
    assert_int_equal(S->st.root_hits, hits + 1);
    assert_true(shadow_entry(S, 0, 0x1000) & PTE_P);
    /* Each of WP, SMEP, SMAP, NXE is another root, built afresh; the old one
     * stays cached and nothing is flushed. */
    struct {
        u64 *reg;
        u64 bit;
    } bits[] = { { &ga.cr0, CR0_WP }, { &ga.cr4, CR4_SMEP }, { &ga.cr4, CR4_SMAP }, { &ga.efer, EFER_NXE } };
    for (u32 i = 0; i < ARRAY_SIZE(bits); i++) {
        struct shadow_regs alt = ga;
        *(u64 *)((u8 *)&alt + ((u8 *)bits[i].reg - (u8 *)&ga)) ^= bits[i].bit;
        u64 misses = S->st.root_misses;
        act(&alt);
        assert_int_equal(S->st.root_misses, misses + 1);
        assert_int_equal(shadow_entry(S, 0, 0x1000), 0);
        act(&ga); /* back: its translations are still there */
        assert_true(shadow_entry(S, 0, 0x1000) & PTE_P);
    }
    assert_int_equal(S->st.flushes, 0);
    /* shadow_flush_all() empties every root but keeps them, and the vCPU's. */
    u64 tables = S->st.tables;
    assert_true(tables > 4);
    shadow_flush_all(S, 0);
    assert_int_equal(S->st.flushes, 1);
    assert_true(S->cur[0] >= 0);
    assert_int_equal(shadow_entry(S, 0, 0x1000), 0);
    assert_int_equal(S->st.tracked, 0);
    assert_int_equal(S->st.rmap, 0);
    expect_fixed(&ga, 0x1000, 0);
    assert_true(shadow_entry(S, 0, 0x1000) & PTE_P);
}

/* ---------------------------------------------------------------- write protection */

/* Writes a guest table entry as the guest would: through the emulation when
 * the page is tracked (its shadow leaves are read-only), directly otherwise. */
static void guest_store(u64 a, u64 v)
{
    if (tracked(S, a >> PAGE_SHIFT))
        assert_int_equal(shadow_pt_write(S, 0, gpa(a), &v, 8), 0);
    else
        gput(a, v);
}

static void test_tracked_page_protection(void **state)
{
    sh_init(0, 0);
    u64 cr3 = gtable();
    struct shadow_regs g = long_regs(cr3);
    act(&g);
    u64 p = gtable(); /* a data page, later a PT */
    map4k(cr3, 0x200000, p, PTE_P | PTE_RW | PTE_D);
    expect_fixed(&g, 0x200000, PFEC_W);
    assert_true(shadow_entry(S, 0, 0x200000) & PTE_RW);
    assert_int_equal(S->st.tracked, 4);

    /* The guest makes p the PT of va 0x40000000 (the PDPT is tracked: its
     * new entry goes through the emulation), and the first walk through it
     * write-protects the old leaf. */
    u64 pd = gtable();
    guest_store(gslot(cr3, 0x40000000, 3), pd | UPPER);
    gput(pd, p | UPPER);
    gput(p + 0 * 8, (DATA_BASE + 0x0000) | UPPER | PTE_D);
    gput(p + 1 * 8, (DATA_BASE + 0x1000) | UPPER | PTE_D);
    gput(p + 2 * 8, (DATA_BASE + 0x2000) | UPPER | PTE_D);
    expect_fixed(&g, 0x40000000, PFEC_W | PFEC_U);
    expect_fixed(&g, 0x40002000, PFEC_U);
    assert_non_null(tracked(S, p >> PAGE_SHIFT));
    assert_int_equal(S->st.tracked, 6);
    assert_int_equal(shadow_entry(S, 0, 0x200000) & (PTE_P | PTE_RW), PTE_P);
    assert_true(shadow_entry(S, 0, 0x40000000) & PTE_RW);

    /* A write to it is now an emulated page-table write at the exact address. */
    struct shadow_fault f = fault(&g, 0x200008, PFEC_W | PFEC_P);
    assert_int_equal(f.result, SHADOW_PT_WRITE);
    assert_int_equal(f.gpa.v, p + 8);
    /* A read refills it read-only. */
    shadow_invlpg(S, 0, 0x200000);
    expect_fixed(&g, 0x200000, 0);
    assert_int_equal(shadow_entry(S, 0, 0x200000) & (PTE_P | PTE_RW), PTE_P);

    /* Emulating a write to entry 1 (not used by any translation yet) keeps the
     * others; changing entry 0 drops exactly va 0x40000000. */
    u64 v = (DATA_BASE + 0x5000) | UPPER;
    assert_int_equal(shadow_pt_write(S, 0, gpa(p + 8), &v, 8), 0);
    assert_true(shadow_entry(S, 0, 0x40000000) & PTE_P);
    assert_true(shadow_entry(S, 0, 0x40002000) & PTE_P);
    assert_int_equal(shadow_pt_write(S, 0, gpa(p), &v, 8), 0);
    assert_int_equal(shadow_entry(S, 0, 0x40000000), 0);
    assert_true(shadow_entry(S, 0, 0x40002000) & PTE_P);
    assert_true(shadow_entry(S, 0, 0x200000) & PTE_P);
    assert_int_equal(S->st.pt_writes, 3);
    expect_fixed(&g, 0x40000000, PFEC_U);
    assert_int_equal(shadow_entry(S, 0, 0x40000000) & PTE_ADDR, HPA_OF(DATA_BASE + 0x5000));

    /* A recursive PML4 entry: the PML4 is its own PDPT, PD and PT, so va
     * (300, 300, 300, 300) maps the PML4 page itself, read-only although the
     * guest allows writes; a write through it is emulated. */
    guest_store(cr3 + 8 * 300, cr3 | UPPER | PTE_D);
    u64 rva = mkva(300, 300, 300, 300);
    expect_fixed(&g, rva + 0x28, PFEC_U);
    assert_int_equal(shadow_entry(S, 0, rva) & (PTE_ADDR | PTE_RW | PTE_US), HPA_OF(cr3) | PTE_US);
    const struct shadow_track *t = tracked(S, cr3 >> PAGE_SHIFT);
    assert_int_equal(t->nuses, 4); /* one per level */
    assert_false(t->overflow);
    f = fault(&g, rva + 0x28, PFEC_U | PFEC_W | PFEC_P);
    assert_int_equal(f.result, SHADOW_PT_WRITE);
    assert_int_equal(f.gpa.v, cr3 + 0x28);
    /* It writes PML4 entry 5: the recursive translation does not use it. */
    v = gt_next | UPPER;
    assert_int_equal(shadow_pt_write(S, 0, f.gpa, &v, 8), 0);
    assert_int_equal(gget(cr3 + 0x28), v);
    assert_true(shadow_entry(S, 0, rva) & PTE_P);
    assert_true(shadow_entry(S, 0, 0x40002000) & PTE_P);
    /* Entry 300 changes: its translation goes, the others stay. */
    v = cr3 | PTE_P | PTE_US | PTE_D;
    assert_int_equal(shadow_pt_write(S, 0, gpa(cr3 + 8 * 300), &v, 8), 0);
    assert_int_equal(shadow_entry(S, 0, rva), 0);
    assert_true(shadow_entry(S, 0, 0x40002000) & PTE_P);
    assert_true(shadow_entry(S, 0, 0x200000) & PTE_P);
}

/* Two address spaces share a PDPT (at different PML4 slots): an emulated
 * write drops the translations through the changed entry in both roots, and
 * only those. */
static void test_pt_write_shared(void **state)
{
    sh_init(0, 0);
    u64 a = gtable(), b = gtable(), pdpt = gtable(), pd = gtable(), pt = gtable();
    struct shadow_regs ga = long_regs(a), gb = long_regs(b);
    gput(a + 8 * 0, pdpt | UPPER);
    gput(b + 8 * 1, pdpt | UPPER);
    gput(pdpt, pd | UPPER);
    gput(pd, pt | UPPER);
    for (u32 i = 1; i <= 3; i++)
        gput(pt + 8 * i, (DATA_BASE + i * PAGE_SIZE) | UPPER | PTE_D);
    const u64 vb = 0x8000000000ULL; /* b's view: PML4 slot 1 */
    act(&ga);
    for (u32 i = 1; i <= 3; i++)
        expect_fixed(&ga, i * PAGE_SIZE, 0);
    act(&gb);
    for (u32 i = 1; i <= 3; i++)
        expect_fixed(&gb, vb + i * PAGE_SIZE, PFEC_U);
    int ra = root_of(S, SHADOW_MODE_LONG4, a), rb = root_of(S, SHADOW_MODE_LONG4, b);
    const struct shadow_track *t = tracked(S, pt >> PAGE_SHIFT);
    assert_int_equal(t->roots, BIT(ra) | BIT(rb));
    assert_int_equal(t->nuses, 2);
    assert_int_equal(t->uses[0].roots, BIT(ra));
    assert_int_equal(t->uses[0].level, 1);
    assert_int_equal(t->uses[0].va_base, 0);
    assert_int_equal(t->uses[1].va_base, vb);
    assert_int_equal(tracked(S, pdpt >> PAGE_SHIFT)->uses[1].level, 3);

    /* PT entry 1. */
    u64 tables = S->st.tables;
    guest_store(pt + 8, (DATA_BASE + 0x9000) | UPPER | PTE_D);
    assert_int_equal(root_leaf(S, ra, 0x1000), 0);
    assert_int_equal(root_leaf(S, rb, vb + 0x1000), 0);
    for (u32 i = 2; i <= 3; i++) {
        assert_true(root_leaf(S, ra, i * PAGE_SIZE) & PTE_P);
        assert_true(root_leaf(S, rb, vb + i * PAGE_SIZE) & PTE_P);
    }
    assert_int_equal(S->st.tables, tables);
    expect_fixed(&gb, vb + 0x1000, 0);
    assert_int_equal(shadow_entry(S, 0, vb + 0x1000) & PTE_ADDR, HPA_OF(DATA_BASE + 0x9000));

    /* PD entry 0: the 2 MiB under it in both roots, shadow PTs freed. */
    guest_store(pd, pt | UPPER | PTE_A | PTE_PWT);
    for (u32 i = 1; i <= 3; i++) {
        assert_int_equal(root_leaf(S, ra, i * PAGE_SIZE), 0);
        assert_int_equal(root_leaf(S, rb, vb + i * PAGE_SIZE), 0);
    }
    assert_int_equal(S->st.tables, tables - 2);
    assert_int_equal(S->st.tables, P.live);

    /* PDPT entry 1 maps nothing in use: nothing is lost. */
    expect_fixed(&gb, vb + 0x2000, 0);
    act(&ga);
    expect_fixed(&ga, 0x2000, 0);
    guest_store(pdpt + 8, pd | UPPER);
    assert_true(root_leaf(S, ra, 0x2000) & PTE_P);
    assert_true(root_leaf(S, rb, vb + 0x2000) & PTE_P);

    /* a's own PML4 entry 0: a loses it, b keeps its view. */
    guest_store(a, pdpt | UPPER | PTE_PCD);
    assert_int_equal(root_leaf(S, ra, 0x2000), 0);
    assert_true(root_leaf(S, rb, vb + 0x2000) & PTE_P);
    assert_int_equal(S->st.pt_writes, 4);
}

/* Writes of 1..8 bytes, straddling two entries, changing nothing; errors. */
static void test_pt_write_partial(void **state)
{
    sh_init(0, 0);
    u64 cr3 = gtable();
    struct shadow_regs g = long_regs(cr3);
    act(&g);
    for (u32 i = 1; i <= 4; i++) {
        map4k(cr3, i * PAGE_SIZE, DATA_BASE + i * PAGE_SIZE, UPPER | PTE_D);
        expect_fixed(&g, i * PAGE_SIZE, 0);
    }
    u64 pt = gslot(cr3, 0, 1);
    assert_non_null(tracked(S, pt >> PAGE_SHIFT));

    /* 8 bytes at entry 1 + 4: the high half of entry 1, the low of entry 2. */
    u64 e1 = gget(pt + 8) | PTE_NX, e2 = gget(pt + 16) ^ PTE_PWT;
    u64 bytes = (e1 >> 32) | (e2 << 32);
    assert_int_equal(shadow_pt_write(S, 0, gpa(pt + 12), &bytes, 8), 0);
    assert_int_equal(gget(pt + 8), e1);
    assert_int_equal(gget(pt + 16), e2);
    assert_int_equal(shadow_entry(S, 0, 0x1000), 0);
    assert_int_equal(shadow_entry(S, 0, 0x2000), 0);
    assert_true(shadow_entry(S, 0, 0x3000) & PTE_P);
    assert_true(shadow_entry(S, 0, 0x4000) & PTE_P);

    /* A byte that does not change drops nothing (the write still counts). */
    u8 same = ram[pt + 24];
    assert_int_equal(shadow_pt_write(S, 0, gpa(pt + 24), &same, 1), 0);
    assert_true(shadow_entry(S, 0, 0x3000) & PTE_P);
    assert_int_equal(S->st.pt_writes, 2);
    /* One flag byte of entry 3: only that translation. */
    u8 b = same ^ (u8)PTE_PCD;
    assert_int_equal(shadow_pt_write(S, 0, gpa(pt + 24), &b, 1), 0);
    assert_int_equal(ram[pt + 24], b);
    assert_int_equal(shadow_entry(S, 0, 0x3000), 0);
    assert_true(shadow_entry(S, 0, 0x4000) & PTE_P);
    /* Two bytes of the address of entry 4. */
    u16 hi = (u16)((gget(pt + 32) >> 16) + 1);
    assert_int_equal(shadow_pt_write(S, 0, gpa(pt + 34), &hi, 2), 0);
    assert_int_equal(shadow_entry(S, 0, 0x4000), 0);
    expect_fixed(&g, 0x4000, 0);
    assert_int_equal(shadow_entry(S, 0, 0x4000) & PTE_ADDR, HPA_OF(DATA_BASE + 0x4000 + 0x10000));

    /* Errors, and nothing written. */
    u64 v = 0x1111111111111111ULL;
    u64 before = gget(pt + 4088);
    assert_int_equal(shadow_pt_write(S, 0, gpa(pt), &v, 0), -EINVAL);
    assert_int_equal(shadow_pt_write(S, 0, gpa(pt), &v, 9), -EINVAL);
    assert_int_equal(shadow_pt_write(S, 0, gpa(pt + 4092), &v, 8), -EINVAL); /* crosses the page */
    assert_int_equal(shadow_pt_write(S, 0, gpa(pt), NULL, 8), -EINVAL);
    assert_int_equal(shadow_pt_write(S, 0, gpa(RAM_SIZE), &v, 8), -EFAULT);
    assert_int_equal(gget(pt + 4088), before);
    assert_int_equal(S->st.pt_writes, 4);
    /* A page that is not tracked is simply written. */
    assert_int_equal(shadow_pt_write(S, 0, gpa(DATA_BASE + 0x100), &v, 8), 0);
    assert_int_equal(gget(DATA_BASE + 0x100), v);
    assert_int_equal(S->st.pt_writes, 5);
    assert_true(shadow_entry(S, 0, 0x4000) & PTE_P);
}

/* A PT used in more places than SHADOW_USES_MAX: a write drops the whole of
 * every root that used it (roots stay valid), and nothing in other roots. */
static void test_overflow(void **state)
{
    sh_init(0, 0);
    u64 a = gtable(), b = gtable(), c = make_space(7);
    u64 pt = gtable();
    gput(pt, DATA_BASE | UPPER | PTE_D);
    gput(pt + 8, (DATA_BASE + 0x1000) | UPPER | PTE_D);
    for (u32 i = 0; i < SHADOW_USES_MAX + 1; i++)
        gput(gslot(a, i * MiB(2), 2), pt | UPPER);
    map4k(a, 0x40000000, DATA_BASE + 0x2000, UPPER | PTE_D); /* through another PT */
    gput(gslot(b, 0, 2), pt | UPPER);
    struct shadow_regs ga = long_regs(a), gb = long_regs(b), gc = long_regs(c);

    hpa_t hwa = act(&ga);
    for (u32 i = 0; i < SHADOW_USES_MAX + 1; i++)
        expect_fixed(&ga, i * MiB(2), 0);
    expect_fixed(&ga, 0x40000000, 0);
    hpa_t hwb = act(&gb);
    expect_fixed(&gb, 0x1000, 0);
    act(&gc);
    expect_fixed(&gc, 0x1000, 0);
    int ra = root_of(S, SHADOW_MODE_LONG4, a), rb = root_of(S, SHADOW_MODE_LONG4, b);
    int rc = root_of(S, SHADOW_MODE_LONG4, c);
    const struct shadow_track *t = tracked(S, pt >> PAGE_SHIFT);
    assert_true(t->overflow);
    assert_int_equal(t->nuses, SHADOW_USES_MAX);
    assert_int_equal(t->roots, BIT(ra) | BIT(rb));

    /* An unchanged write drops nothing. */
    u64 same = gget(pt + 8);
    assert_int_equal(shadow_pt_write(S, 0, gpa(pt + 8), &same, 8), 0);
    assert_true(root_leaf(S, ra, 0x40000000) & PTE_P);

    u64 v = (DATA_BASE + 0x5000) | UPPER | PTE_D;
    assert_int_equal(shadow_pt_write(S, 0, gpa(pt + 8), &v, 8), 0);
    assert_int_equal(root_leaf(S, ra, 0x40000000), 0); /* unrelated, gone too */
    assert_int_equal(root_leaf(S, ra, 0), 0);
    assert_int_equal(root_leaf(S, rb, 0x1000), 0);
    assert_true(root_leaf(S, rc, 0x1000) & PTE_P);
    assert_true(S->roots[ra].valid && S->roots[rb].valid);
    assert_int_equal(S->roots[ra].hw, hwa);
    assert_int_equal(S->roots[rb].hw, hwb);
    assert_int_equal(root_tables(S, hwa, 4), 1);
    assert_int_equal(root_tables(S, hwb, 4), 1);
    /* Only c's four tables are still tracked. */
    assert_int_equal(S->st.tracked, 4);
    assert_null(tracked(S, pt >> PAGE_SHIFT));
    for (u32 i = 0; i < S->ntrack; i++)
        assert_int_equal(S->track[i].roots, BIT(rc));
    assert_int_equal(S->st.tables, P.live);
    /* The roots are still cached and refill. */
    u64 hits = S->st.root_hits;
    assert_int_equal(act(&ga), hwa);
    assert_int_equal(S->st.root_hits, hits + 1);
    expect_fixed(&ga, 0x1000, 0);
    assert_int_equal(shadow_entry(S, 0, 0x1000) & PTE_ADDR, HPA_OF(DATA_BASE + 0x5000));
}

static void test_unprotect(void **state)
{
    sh_init(0, 0);
    u64 cr3 = gtable();
    struct shadow_regs g = long_regs(cr3);
    act(&g);
    u64 p = gtable();
    map4k(cr3, 0x200000, p, PTE_P | PTE_RW | PTE_D); /* p as data */
    map4k(cr3, 0x3000, DATA_BASE, UPPER | PTE_D);    /* an unrelated PT */
    gput(gslot(cr3, 0x40000000, 2), p | UPPER);      /* p as a PT */
    gput(p, DATA_BASE | UPPER | PTE_D);
    gput(p + 8, (DATA_BASE + 0x1000) | UPPER | PTE_D);
    expect_fixed(&g, 0x200000, PFEC_W);
    expect_fixed(&g, 0x3000, 0);
    expect_fixed(&g, 0x40000000, 0);
    expect_fixed(&g, 0x40001000, 0);
    assert_false(shadow_entry(S, 0, 0x200000) & PTE_RW);
    u64 ntracked = S->st.tracked;

    shadow_unprotect(S, 0, gpa(p + 0x123));
    assert_int_equal(S->st.unprotects, 1);
    assert_null(tracked(S, p >> PAGE_SHIFT));
    assert_int_equal(S->st.tracked, ntracked - 1);
    assert_int_equal(shadow_entry(S, 0, 0x40000000), 0);
    assert_int_equal(shadow_entry(S, 0, 0x40001000), 0);
    assert_true(shadow_entry(S, 0, 0x3000) & PTE_P);
    assert_int_equal(shadow_entry(S, 0, 0x200000) & (PTE_P | PTE_RW), PTE_P); /* read-only until refilled */
    /* The write fault now finds it untracked and maps it writable. */
    expect_fixed(&g, 0x200000, PFEC_W | PFEC_P);
    assert_true(shadow_entry(S, 0, 0x200000) & PTE_RW);
    /* The next walk through it tracks and protects it again. */
    expect_fixed(&g, 0x40000000, 0);
    assert_non_null(tracked(S, p >> PAGE_SHIFT));
    assert_false(shadow_entry(S, 0, 0x200000) & PTE_RW);

    /* An untracked page: nothing happens. */
    shadow_unprotect(S, 0, gpa(DATA_BASE));
    assert_int_equal(S->st.unprotects, 1);

    /* The PML4 (a level-4 use): the root is emptied, but stays. */
    hpa_t hw = S->roots[S->cur[0]].hw;
    shadow_unprotect(S, 0, gpa(cr3));
    assert_int_equal(S->st.unprotects, 2);
    assert_int_equal(root_tables(S, hw, 4), 1);
    assert_int_equal(shadow_entry(S, 0, 0x3000), 0);
    assert_null(tracked(S, cr3 >> PAGE_SHIFT));
    expect_fixed(&g, 0x3000, 0);

    /* An overflowed page drops whole roots. */
    for (u32 i = 0; i < SHADOW_USES_MAX + 1; i++) {
        gput(gslot(cr3, 0x80000000 + i * MiB(2), 2), p | UPPER);
        expect_fixed(&g, 0x80000000 + i * MiB(2), 0);
    }
    assert_true(tracked(S, p >> PAGE_SHIFT)->overflow);
    shadow_unprotect(S, 0, gpa(p));
    assert_int_equal(root_tables(S, hw, 4), 1);
    assert_int_equal(S->st.tracked, 0);
    assert_int_equal(S->st.tables, P.live);
}

/* ---------------------------------------------------------------- results, INVLPG */

static void test_mmio_results(void **state)
{
    sh_init(0, 0);
    u64 cr3 = gtable();
    struct shadow_regs g = long_regs(cr3);
    act(&g);
    map4k(cr3, 0x1000, HOLE_BASE + 0x5000, UPPER);
    map4k(cr3, 0x2000, ROM_BASE, UPPER | PTE_D);
    map4k(cr3, 0x3000, NOX_BASE, UPPER | PTE_D);
    map2m(cr3, 0x200000, MAP_LIMIT, UPPER);
    struct shadow_fault f = fault(&g, 0x1234, 0);
    assert_int_equal(f.result, SHADOW_MMIO);
    assert_int_equal(f.gpa.v, HOLE_BASE + 0x5234);
    assert_int_equal(shadow_entry(S, 0, 0x1000), 0);
    /* The CPU's walk set A (and D for a write) all the same. */
    f = fault(&g, 0x1238, PFEC_W);
    assert_int_equal(f.result, SHADOW_MMIO);
    assert_int_equal(gget(gslot(cr3, 0x1000, 1)) & (PTE_A | PTE_D), PTE_A | PTE_D);
    /* ROM: writes are emulated, reads and fetches mapped read-only. */
    f = fault(&g, 0x2010, PFEC_W | PFEC_U);
    assert_int_equal(f.result, SHADOW_MMIO);
    assert_int_equal(f.gpa.v, ROM_BASE + 0x10);
    expect_fixed(&g, 0x2010, PFEC_I);
    assert_int_equal(shadow_entry(S, 0, 0x2000) & ~PTE_ADDR, PTE_P | PTE_US | PTE_A);
    /* No-execute region: fetches are emulated, data mapped NX. */
    f = fault(&g, 0x3008, PFEC_I | PFEC_U);
    assert_int_equal(f.result, SHADOW_MMIO);
    assert_int_equal(f.gpa.v, NOX_BASE + 8);
    expect_fixed(&g, 0x3008, PFEC_W);
    assert_int_equal(shadow_entry(S, 0, 0x3000) & ~PTE_ADDR, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | PTE_NX);
    /* Past the guest-physical map. */
    f = fault(&g, 0x201000, 0);
    assert_int_equal(f.result, SHADOW_MMIO);
    assert_int_equal(f.gpa.v, MAP_LIMIT + 0x1000);
    /* A guest fault wins over MMIO. */
    assert_int_equal(fault(&g, 0x201000, PFEC_W | PFEC_U).result, SHADOW_MMIO);
    map2m(cr3, 0x400000, MAP_LIMIT, PTE_P | PTE_US);
    assert_int_equal(fault(&g, 0x400000, PFEC_W | PFEC_U).result, SHADOW_GUEST_FAULT);
    assert_int_equal(S->st.mmio, 6);
    assert_int_equal(S->st.fills, 2);
    assert_int_equal(S->st.guest_faults, 1);
    assert_int_equal(S->st.faults, 9);
}

static void test_invlpg(void **state)
{
    sh_init(0, 0);
    u64 cr3 = gtable();
    struct shadow_regs g = long_regs(cr3);
    act(&g);
    map4k(cr3, 0x1000, DATA_BASE, UPPER);
    map4k(cr3, 0x2000, DATA_BASE + 0x1000, UPPER);
    map4k(cr3, 0xffffffffffe00000ULL, DATA_BASE + 0x2000, UPPER);
    expect_fixed(&g, 0x1000, 0);
    expect_fixed(&g, 0x2000, 0);
    expect_fixed(&g, 0xffffffffffe00000ULL, 0);
    u64 tables = S->st.tables;
    shadow_invlpg(S, 0, 0x1abc);
    assert_int_equal(shadow_entry(S, 0, 0x1000), 0);
    assert_true(shadow_entry(S, 0, 0x2000) & PTE_P);
    assert_true(shadow_entry(S, 0, 0xffffffffffe00000ULL) & PTE_P);
    shadow_invlpg(S, 0, 0xffffffffffe00000ULL);
    assert_int_equal(shadow_entry(S, 0, 0xffffffffffe00000ULL), 0);
    shadow_invlpg(S, 0, 0x0000900000000000ULL); /* non-canonical: nothing */
    shadow_invlpg(S, 0, 0x7000000);             /* not mapped */
    assert_int_equal(S->st.invlpg, 4);
    assert_int_equal(S->st.tables, tables);
    assert_int_equal(shadow_entry(S, 0, 0x0000800000001000ULL), 0);
    /* Paging off: the low 32 bits. */
    struct shadow_regs n = none_regs();
    act(&n);
    expect_fixed(&n, 0x1000, 0);
    shadow_invlpg(S, 0, 0x300001000ULL);
    assert_int_equal(shadow_entry(S, 0, 0x1000), 0);
}

/* ---------------------------------------------------------------- table budget */

static void test_budget(void **state)
{
    sh_init(2, 8);
    u64 a = gtable(), b = gtable();
    for (u32 i = 0; i < 3; i++)
        map4k(a, mkva(i, 0, 0, 1), DATA_BASE, UPPER);
    map4k(b, mkva(0, 0, 0, 1), DATA_BASE, UPPER);
    struct shadow_regs ga = long_regs(a), gb = long_regs(b);
    act(&gb);
    expect_fixed(&gb, mkva(0, 0, 0, 1), 0);
    hpa_t hwa = act(&ga);
    expect_fixed(&ga, mkva(0, 0, 0, 1), 0);
    assert_int_equal(S->st.tables, 8);
    assert_int_equal(S->st.flushes, 0);
    /* Three more tables do not fit: the idle root, b, is evicted first. */
    expect_fixed(&ga, mkva(1, 0, 0, 1), 0);
    assert_int_equal(S->st.budget_evictions, 1);
    assert_int_equal(S->st.flushes, 0);
    assert_int_equal(S->st.tables, 7);
    assert_int_equal(root_of(S, SHADOW_MODE_LONG4, b), -1);
    assert_true(shadow_entry(S, 0, mkva(0, 0, 0, 1)) & PTE_P);
    assert_true(shadow_entry(S, 0, mkva(1, 0, 0, 1)) & PTE_P);
    /* Three more again: no idle root is left, so the least recently filled
     * subtree of the running root, entry 0's, makes room; entry 1 stays. */
    expect_fixed(&ga, mkva(2, 0, 0, 1), 0);
    assert_int_equal(S->st.subtree_evictions, 1);
    assert_int_equal(S->st.flushes, 0);
    assert_int_equal(S->st.tables, 7);
    assert_int_equal(shadow_entry(S, 0, mkva(0, 0, 0, 1)), 0);
    assert_true(shadow_entry(S, 0, mkva(1, 0, 0, 1)) & PTE_P);
    assert_true(shadow_entry(S, 0, mkva(2, 0, 0, 1)) & PTE_P);
    /* Entry 0's guest tables are no longer tracked (a's PML4 and entries 1
     * and 2's three each are). */
    assert_int_equal(S->st.tracked, 7);
    /* Entry 1 filled again is now the most recent: entry 2 goes next. */
    map4k(a, mkva(1, 0, 0, 2), DATA_BASE, UPPER);
    for (u32 i = 0; i < 3; i++)
        map4k(a, mkva(3, i, 0, 1), DATA_BASE, UPPER);
    map4k(a, mkva(3, 0, 0, 2), DATA_BASE, UPPER);
    map4k(a, mkva(3, 1, 1, 1), DATA_BASE, UPPER);
    expect_fixed(&ga, mkva(1, 0, 0, 2), 0);
    expect_fixed(&ga, mkva(3, 0, 0, 1), 0);
    assert_int_equal(S->st.subtree_evictions, 2);
    assert_int_equal(shadow_entry(S, 0, mkva(2, 0, 0, 1)), 0);
    assert_true(shadow_entry(S, 0, mkva(1, 0, 0, 2)) & PTE_P);
    /* Two translations under entry 3 needing more than the budget leaves
     * once every other subtree is gone: a is emptied, its root page staying
     * where the hardware CR3 points. */
    expect_fixed(&ga, mkva(3, 1, 0, 1), 0);
    assert_int_equal(S->st.subtree_evictions, 3);
    assert_int_equal(S->st.flushes, 0);
    assert_int_equal(S->st.tables, 6);
    expect_fixed(&ga, mkva(3, 1, 1, 1), 0);
    assert_int_equal(S->st.tables, 7);
    expect_fixed(&ga, mkva(3, 0, 0, 2), 0);
    assert_int_equal(S->st.tables, 7);
    expect_fixed(&ga, mkva(3, 2, 0, 1), 0); /* 9 tables: entry 3 alone is too many */
    assert_int_equal(S->st.flushes, 1);
    assert_int_equal(S->st.tables, 4);
    assert_int_equal(S->roots[S->cur[0]].hw, hwa);
    assert_int_equal(shadow_entry(S, 0, mkva(3, 1, 0, 1)), 0);
    assert_true(shadow_entry(S, 0, mkva(3, 2, 0, 1)) & PTE_P);
    assert_int_equal(S->st.tracked, 4);
    assert_int_equal(S->st.tables, P.live);
    assert_int_equal(S->st.tables_peak, 8);
}

/* A new root when the budget is used up: the least recently used idle root
 * makes room. */
static void test_budget_activate(void **state)
{
    sh_init(3, 8);
    u64 a = make_space(0), b = make_space(1), c = make_space(2);
    struct shadow_regs ga = long_regs(a), gb = long_regs(b), gc = long_regs(c);
    act(&ga);
    expect_fixed(&ga, 0x1000, 0);
    act(&gb);
    expect_fixed(&gb, 0x1000, 0);
    assert_int_equal(S->st.tables, 8);
    act(&gc);
    assert_int_equal(S->st.flushes, 0);
    assert_int_equal(S->st.budget_evictions, 1);
    assert_int_equal(S->st.tables, 5);
    assert_int_equal(root_of(S, SHADOW_MODE_LONG4, a), -1);
    assert_true(root_of(S, SHADOW_MODE_LONG4, b) >= 0);
    expect_fixed(&gc, 0x1000, 0);
    assert_int_equal(S->st.tables, P.live);
}

static void test_alloc_failure(void **state)
{
    sh_init(2, 0);
    u64 a = make_space(0), b = make_space(1);
    map4k(a, 0x8000000000ULL, DATA_BASE, UPPER);
    struct shadow_regs ga = long_regs(a), gb = long_regs(b);
    hpa_t hwa = act(&ga);
    /* One failure: everything is dropped and the second try works. */
    P.fail_after = 1;
    P.fail_count = 1;
    expect_fixed(&ga, 0x1000, 0);
    assert_int_equal(S->st.flushes, 1);
    assert_true(shadow_entry(S, 0, 0x1000) & PTE_P);
    assert_int_equal(S->st.tables, 4);
    /* For ever: -ENOMEM, the active root still valid and consistent. */
    P.fail_after = 0;
    P.fail_count = -1;
    struct shadow_fault f;
    assert_int_equal(shadow_page_fault(S, 0, &ga, 0x8000000000ULL, 0, &f), -ENOMEM);
    assert_int_equal(S->st.subtree_evictions, 1); /* 0x1000's, then nothing left to drop */
    assert_int_equal(S->st.flushes, 1);
    assert_true(S->roots[S->cur[0]].valid);
    assert_int_equal(S->roots[S->cur[0]].hw, hwa);
    assert_int_equal(S->st.tables, P.live);
    /* No root page: -ENOMEM and no active root. */
    hpa_t hw;
    enum shadow_mode m;
    assert_int_equal(shadow_activate(S, 0, &gb, &hw, &m), -ENOMEM);
    assert_int_equal(S->cur[0], -1);
    assert_int_equal(shadow_page_fault(S, 0, &gb, 0x1000, 0, &f), -EINVAL);
    assert_int_equal(S->st.tables, P.live);
    P.fail_after = -1;
    act(&gb);
    expect_fixed(&gb, 0x1000, 0);
}

/* Root pages that cannot be below 4 GiB. */
static void test_alloc_below_4g(void **state)
{
    sh_init(0, 0);
    struct shadow_regs n = none_regs();
    hpa_t hw;
    enum shadow_mode m;
    /* None left: -ENOMEM. */
    for (u32 i = 0; i < LOW_PAGES; i++)
        P.used[i] = true;
    assert_int_equal(shadow_activate(S, 0, &n, &hw, &m), -ENOMEM);
    for (u32 i = 0; i < LOW_PAGES; i++)
        P.used[i] = false;
    /* An allocator that ignores the request is caught, not trusted. */
    P.ignore_below_4g = true;
    assert_int_equal(shadow_activate(S, 0, &n, &hw, &m), -EFAULT);
    assert_int_equal(S->cur[0], -1);
    assert_int_equal(P.live, 0);
    P.ignore_below_4g = false;
    act(&n);
    assert_true(S->roots[S->cur[0]].hw < GiB(4));
}

/* More guest tables than the track table holds: one flush, then on. */
static void test_track_full(void **state)
{
    sh_init(1, 4600);
    u64 cr3 = gtable();
    const u32 n = SHADOW_TRACK_MAX + 100;
    for (u32 i = 0; i < n; i++)
        map4k(cr3, (u64)i * MiB(2), DATA_BASE, UPPER); /* a PT each */
    struct shadow_regs g = long_regs(cr3);
    act(&g);
    for (u32 i = 0; i < n; i++)
        expect_fixed(&g, (u64)i * MiB(2), 0);
    /* Full after some 4,080 PTs (the PML4, PDPT and PDs are tracked too). */
    assert_int_equal(S->st.flushes, 1);
    assert_int_equal(S->st.fills, n);
    assert_true(S->st.tracked > 100 && S->st.tracked < 200);
    assert_int_equal(shadow_entry(S, 0, 0), 0);
    assert_true(shadow_entry(S, 0, (u64)(n - 1) * MiB(2)) & PTE_P);
    assert_int_equal(S->st.tables, P.live);
    /* Every tracked page is found through the hash. */
    for (u32 i = 0; i < S->ntrack; i++)
        assert_ptr_equal(tracked(S, S->track[i].gfn), &S->track[i]);
}

/* A page table written SHADOW_FLOOD_WRITES times with no walk in between is
 * released; a walk in between keeps it tracked. */
static void test_flood_release(void **state)
{
    sh_init(0, 0);
    u64 cr3 = gtable();
    map4k(cr3, 0x1000, DATA_BASE, UPPER | PTE_D);
    struct shadow_regs g = long_regs(cr3);
    act(&g);
    expect_fixed(&g, 0x1000, 0);
    u64 pt = gslot(cr3, 0x1000, 1) & ~(u64)(PAGE_SIZE - 1);
    assert_true(shadow_tracked(S, gpa(pt)));
    for (u32 i = 0; i < SHADOW_FLOOD_WRITES - 1; i++) {
        u64 v = (DATA_BASE + PAGE_SIZE) | UPPER;
        assert_int_equal(shadow_pt_write(S, 0, gpa(pt + 8 * (10 + i)), &v, 8), 0);
    }
    expect_fixed(&g, 0x1000, 0); /* dropped by nothing: no walk needed */
    expect_fixed(&g, 0xa000, 0); /* a walk through it: the count starts over */
    for (u32 i = 0; i < SHADOW_FLOOD_WRITES - 1; i++) {
        u64 v = 0;
        assert_int_equal(shadow_pt_write(S, 0, gpa(pt + 8 * (20 + i)), &v, 8), 0);
    }
    assert_true(shadow_tracked(S, gpa(pt)));
    assert_int_equal(S->st.floods, 0);
    u64 v = 0;
    assert_int_equal(shadow_pt_write(S, 0, gpa(pt + 8 * 40), &v, 8), 0);
    assert_false(shadow_tracked(S, gpa(pt)));
    assert_int_equal(S->st.floods, 1);
    assert_int_equal(shadow_entry(S, 0, 0x1000), 0); /* derived from it: dropped */
    assert_int_equal(shadow_entry(S, 0, 0xa000), 0);
    /* Written directly now, tracked again by the next walk. */
    expect_fixed(&g, 0x1000, 0);
    assert_true(shadow_tracked(S, gpa(pt)));
}

/* ---------------------------------------------------------------- SMP */

static hpa_t act_on(int cpu, const struct shadow_regs *g)
{
    hpa_t hw = 0;
    enum shadow_mode m;
    assert_int_equal(shadow_activate(S, cpu, g, &hw, &m), 0);
    assert_int_equal(hw, S->roots[S->cur[cpu]].hw);
    return hw;
}

static void expect_fixed_on(int cpu, const struct shadow_regs *g, u64 va, u32 pfec)
{
    struct shadow_fault f;
    assert_int_equal(shadow_page_fault(S, cpu, g, va, pfec, &f), 0);
    assert_int_equal(f.result, SHADOW_FIXED);
}

/* Two vCPUs on one address space share its root; a root a vCPU runs on is
 * never evicted, whatever the other does. */
static void test_smp_shared_roots(void **state)
{
    assert_int_equal(shadow_init(S, &OPS, 2, 0, 2), 0);
    smp_mode = true;
    u64 a = make_space(0), b = make_space(1), c = make_space(2);
    struct shadow_regs ga = long_regs(a), gb = long_regs(b), gc = long_regs(c);
    hpa_t h0 = act_on(0, &ga), h1 = act_on(1, &ga);
    assert_int_equal(h0, h1);
    int ra = S->cur[0];
    assert_int_equal(S->roots[ra].active, BIT(0) | BIT(1));
    expect_fixed_on(1, &ga, 0x1000, 0);
    assert_true(shadow_entry(S, 0, 0x1000) & PTE_P); /* filled by vCPU 1, seen by 0 */
    /* vCPU 0 moves to b, then c: with two roots, b is evicted, a never. */
    act_on(0, &gb);
    expect_fixed_on(0, &gb, 0x1000, 0);
    assert_int_equal(S->roots[ra].active, BIT(1));
    act_on(0, &gc);
    assert_int_equal(root_of(S, SHADOW_MODE_LONG4, b), -1);
    assert_int_equal(root_of(S, SHADOW_MODE_LONG4, a), ra);
    assert_true(shadow_entry(S, 1, 0x1000) & PTE_P);
    /* Both on c: a is idle and may go. */
    act_on(1, &gc);
    synced = false;
    act_on(0, &gb);
    assert_int_equal(root_of(S, SHADOW_MODE_LONG4, a), -1);
    assert_true(syncs > 0);
}

/* A guest page-table write on one vCPU drops the translation in the root the
 * other runs on; the table pages it drops are freed only after a sync. */
static void test_smp_drop_and_sync(void **state)
{
    assert_int_equal(shadow_init(S, &OPS, 2, 0, 2), 0);
    smp_mode = true;
    u64 cr3 = gtable();
    map4k(cr3, mkva(0, 0, 1, 1), DATA_BASE, UPPER | PTE_D);
    map4k(cr3, mkva(0, 0, 2, 1), DATA_BASE + PAGE_SIZE, UPPER | PTE_D);
    struct shadow_regs g = long_regs(cr3);
    act_on(0, &g);
    act_on(1, &g);
    expect_fixed_on(1, &g, mkva(0, 0, 1, 1), 0);
    expect_fixed_on(1, &g, mkva(0, 0, 2, 1), 0);
    u64 frees = P.frees;
    /* vCPU 0 clears the PD entry of the second PT: the shadow PT under it goes. */
    synced = false;
    u64 zero = 0;
    assert_int_equal(shadow_pt_write(S, 0, gpa(gslot(cr3, mkva(0, 0, 2, 1), 2)), &zero, 8), 0);
    assert_int_equal(shadow_entry(S, 1, mkva(0, 0, 2, 1)), 0);
    assert_true(shadow_entry(S, 1, mkva(0, 0, 1, 1)) & PTE_P);
    assert_true(synced);
    assert_int_equal(P.frees, frees + 1);
    assert_int_equal(S->st.tables, P.live);
    /* A write that changes no translation of a dropped table: no sync. */
    u32 before = syncs;
    u64 same = gget(gslot(cr3, mkva(0, 0, 1, 1), 1));
    assert_int_equal(shadow_pt_write(S, 0, gpa(gslot(cr3, mkva(0, 0, 1, 1), 1)), &same, 8), 0);
    assert_int_equal(syncs, before);
}

/* A data page another vCPU maps writable becomes a page table: the reverse
 * map finds that leaf, it turns read-only, and the other vCPU is synced. */
static void test_rmap_write_protect(void **state)
{
    assert_int_equal(shadow_init(S, &OPS, 2, 0, 2), 0);
    smp_mode = true;
    u64 cr3 = gtable();
    u64 newpt = DATA_BASE + 5 * PAGE_SIZE;
    map4k(cr3, 0x1000, newpt, UPPER | PTE_D); /* the page, writable and dirty */
    struct shadow_regs g = long_regs(cr3);
    act_on(0, &g);
    act_on(1, &g);
    expect_fixed_on(1, &g, 0x1000, PFEC_W | PFEC_U);
    assert_true(shadow_entry(S, 1, 0x1000) & PTE_RW);
    assert_int_equal(S->st.rmap, 1);
    /* The guest makes it the PT for 2 MiB..4 MiB (a write to the PD, emulated). */
    u64 pde = newpt | UPPER;
    assert_int_equal(shadow_pt_write(S, 0, gpa(gslot(cr3, 0x1000, 2) + 8), &pde, 8), 0);
    gput(newpt + 8, (DATA_BASE + 6 * PAGE_SIZE) | UPPER | PTE_D);
    synced = false;
    expect_fixed_on(0, &g, MiB(2) + PAGE_SIZE, 0);
    assert_false(shadow_entry(S, 1, 0x1000) & PTE_RW);
    assert_true(shadow_entry(S, 1, 0x1000) & PTE_P);
    assert_int_equal(S->st.protects, 1);
    assert_int_equal(S->st.rmap, 1); /* the leaf just filled, for DATA_BASE + 6 pages */
    assert_true(synced);
    /* vCPU 1's next write to it is an emulated page-table write. */
    struct shadow_fault f;
    assert_int_equal(shadow_page_fault(S, 1, &g, 0x1008, PFEC_W | PFEC_U | PFEC_P, &f), 0);
    assert_int_equal(f.result, SHADOW_PT_WRITE);
}

/* More writable leaves than the reverse map holds: the fault that finds it
 * full reclaims (here, with one root, empties it) and goes on; write
 * protection still finds every writable leaf. */
static void test_rmap_full(void **state)
{
    assert_int_equal(shadow_init(S, &OPS, 1, 0, 1), 0);
    u64 cr3 = gtable();
    const u32 n = SHADOW_RMAP_MAX + 64;
    u64 frame = DATA_BASE + 9 * PAGE_SIZE;
    for (u32 i = 0; i < n; i++)
        map4k(cr3, MiB(4) + (u64)i * PAGE_SIZE, frame, UPPER | PTE_D);
    struct shadow_regs g = long_regs(cr3);
    act(&g);
    for (u32 i = 0; i < n; i++) {
        expect_fixed(&g, MiB(4) + (u64)i * PAGE_SIZE, PFEC_W);
        assert_true(shadow_entry(S, 0, MiB(4) + (u64)i * PAGE_SIZE) & PTE_RW);
    }
    assert_int_equal(S->st.flushes, 1);
    assert_int_equal(S->st.rmap, 64);
    assert_int_equal(S->st.rmap_full, 0);
    assert_int_equal(shadow_entry(S, 0, MiB(4)), 0);
    /* The frame becomes a page table: no writable leaf is left. */
    map4k(cr3, 0x1000, DATA_BASE, UPPER);
    gput(frame, (DATA_BASE + PAGE_SIZE) | UPPER);
    gput(gslot(cr3, 0x1000, 2) + 8, frame | UPPER);
    expect_fixed(&g, MiB(2), 0);
    for (u32 i = n - 64; i < n; i++)
        assert_false(shadow_entry(S, 0, MiB(4) + (u64)i * PAGE_SIZE) & PTE_RW);
    assert_int_equal(S->st.rmap, 0); /* the new leaf is not dirty: read-only */
    assert_int_equal(S->st.protects, 64);
}

/* ---------------------------------------------------------------- random run */

/* A pool of guest tables whose entries point at each other (shared tables,
 * loops, recursive entries), at data pages of every kind (RAM, the pool's own
 * tables, ROM, no-execute, hole, unmapped) and at large pages (some with
 * reserved bits); three address spaces and paging off. Faults are compared
 * with the reference walk; emulated writes and direct writes to untracked
 * tables edit the pool; and after every step every leaf of every root must
 * be what the current guest tables allow, derived from tracked tables. */

#define RT_TABLES 24
#define RT_BASE   0x2000ULL /* pool table t at RT_BASE + t pages */
#define RT_DATA   MiB(40)
#define RT_SPACES 3 /* tables 0..2 are the CR3s */
#define RT_STEPS  20000

static u64 rs;
static u64 rt_leaves; /* leaves checked by rt_check_leaf() */

static u64 rnd(void) { return xorshift64(&rs); }

static u64 rt_table(u32 t) { return RT_BASE + t * PAGE_SIZE; }

/* The level each pool table mostly serves at. */
static int rt_level_of(u32 t) { return t < 3 ? 4 : t < 9 ? 3 : t < 15 ? 2 : 1; }

static u32 rt_pick(int level)
{
    switch (level) {
    case 4: return (u32)(rnd() % 3);
    case 3: return 3 + (u32)(rnd() % 6);
    case 2: return 9 + (u32)(rnd() % 6);
    default: return 15 + (u32)(rnd() % 9);
    }
}

/* The entry indexes the sample addresses use at each level. */
static u32 rt_index(int level)
{
    static const u32 i4[] = { 0, 1, 511 };
    if (level == 4)
        return i4[rnd() % 3];
    if (level == 1)
        return (u32)(rnd() % 8);
    return (u32)(rnd() % 3);
}

static u64 rt_va(void) { return mkva(rt_index(4), rt_index(3), rt_index(2), rt_index(1)) | (rnd() & 0xff8); }

static u64 rt_data(void)
{
    switch (rnd() % 12) {
    case 6:
    case 7: return rt_table((u32)(rnd() % RT_TABLES));
    case 8: return ROM_BASE + (rnd() % 4) * PAGE_SIZE;
    case 9: return NOX_BASE + (rnd() % 4) * PAGE_SIZE;
    case 10: return HOLE_BASE + (rnd() % 4) * PAGE_SIZE;
    case 11: return rnd() % 2 ? GiB(1) + (rnd() % 4) * PAGE_SIZE : GiB(9);
    default: return RT_DATA + (rnd() % 32) * PAGE_SIZE;
    }
}

static u64 rt_large(int level)
{
    static const u64 b2[] = { 0, MiB(14), MiB(40), HOLE_BASE, GiB(1), GiB(8) };
    static const u64 b1[] = { 0, GiB(1), GiB(3), GiB(8) };
    u64 e = PTE_PS | (level == 2 ? b2[rnd() % 6] : b1[rnd() % 4]);
    if (rnd() % 8 == 0) /* reserved */
        e |= BIT(13 + rnd() % (level == 2 ? 8 : 17));
    if (rnd() % 4 == 0)
        e |= PTE_PAT_LARGE;
    return e;
}

static u64 rt_entry(int level)
{
    if (rnd() % 10 == 0)
        return rnd() & ~PTE_P;
    u64 e = PTE_P;
    e |= rnd() % 5 ? PTE_RW : 0;
    e |= rnd() % 5 ? PTE_US : 0;
    e |= rnd() % 6 == 0 ? PTE_NX : 0;
    e |= rnd() % 2 ? PTE_A : 0;
    e |= rnd() % 2 ? PTE_D : 0;
    e |= rnd() % 8 == 0 ? PTE_PWT | PTE_PCD : 0;
    e |= rnd() % 4 == 0 ? PTE_G : 0;
    if (level == 1)
        return e | (rnd() % 4 == 0 ? PTE_PAT : 0) | rt_data();
    if ((level == 2 || level == 3) && rnd() % 5 == 0)
        return e | rt_large(level);
    if (level == 4 && rnd() % 40 == 0)
        e |= PTE_PS; /* reserved */
    if (rnd() % 60 == 0)
        return e | GiB(2); /* a table outside guest RAM */
    return e | rt_table(rnd() % 8 ? rt_pick(level - 1) : (u32)(rnd() % RT_TABLES));
}

struct rt_counts {
    u64 fixed, guest, mmio, ptw, efault, edits, emulated;
};

/* Paging off sees the same mode bits as the long-mode regs. */
static struct shadow_regs rt_none(const struct shadow_regs *lg)
{
    struct shadow_regs n = *lg;
    n.cr0 &= ~CR0_PG;
    n.efer &= ~(EFER_LMA | EFER_LME);
    n.cr3 = 0;
    return n;
}

static u64 rt_none_va(void)
{
    static const u64 bases[] = { RT_BASE, RT_DATA, ROM_BASE, NOX_BASE, HOLE_BASE, 0x5000 };
    return bases[rnd() % 6] + (rnd() % 8) * PAGE_SIZE + (rnd() & 0xff8);
}

/* Checks one leaf e of root r at va against the guest tables now. */
static void rt_check_leaf(const struct shadow_regs *lg, int r, u64 va, u64 e)
{
    const struct shadow_root *root = &S->roots[r];
    struct ref_cfg c = cfg_of(lg);
    rt_leaves++;
    struct ref ref = { .st = REF_OK, .w = true, .u = true, .dirty = true, .accessed = true };
    if (root->mode == SHADOW_MODE_NONE) {
        ref.gpa = va;
    } else {
        struct shadow_regs g = *lg;
        g.cr3 = root->cr3;
        ref = ref_walk(&g, va);
        assert_int_equal(ref.st, REF_OK);
        assert_true(ref.accessed);
        /* Derived from tracked tables, recorded for this root. */
        for (int k = 0; k < ref.ntables; k++) {
            const struct shadow_track *t = tracked(S, ref.table[k] >> PAGE_SHIFT);
            assert_non_null(t);
            assert_true(t->roots & BIT(r));
            if (t->overflow)
                continue;
            int level = 4 - k;
            u64 base = k == 0 ? 0 : va & ~((1ULL << (12 + 9 * level)) - 1);
            bool found = false;
            for (u32 i = 0; i < t->nuses; i++)
                found = found ||
                        ((t->uses[i].roots & BIT(r)) && t->uses[i].level == level && t->uses[i].va_base == base);
            assert_true(found);
        }
    }
    hpa_t hpa;
    unsigned perms;
    assert_int_equal(g_to_hpa(NULL, gpa(ALIGN_DOWN(ref.gpa, PAGE_SIZE)), &hpa, &perms), 0);
    assert_int_equal(e & PTE_ADDR, hpa);
    assert_true(e & PTE_A);
    if (e & PTE_US)
        assert_true(ref.u);
    if (e & PTE_RW) {
        assert_true(e & PTE_D);
        assert_true(ref.dirty);
        assert_true(perms & SLPT_W);
        assert_null(tracked(S, ref.gpa >> PAGE_SHIFT));
        assert_true(ref.w || (!c.wp && !(e & PTE_US)));
    }
    if (!(e & PTE_NX)) {
        assert_false(ref.nx);
        assert_true(perms & SLPT_X);
        assert_false(c.smep && ref.u && !(e & PTE_US));
    }
    if (root->mode == SHADOW_MODE_NONE) {
        assert_true(e & PTE_US);
        assert_int_equal(!!(e & PTE_NX), !(perms & SLPT_X));
    }
}

static void rt_check_tree(const struct shadow_regs *lg, int r, hpa_t pa, int level, u64 va)
{
    const u64 *tb = pool_table(pa);
    for (u32 i = 0; i < PT_ENTRIES; i++) {
        u64 e = tb[i];
        if (!(e & PTE_P))
            continue;
        u64 v = va | ((u64)i << (12 + 9 * (level - 1)));
        if (level > 1)
            rt_check_tree(lg, r, e & PTE_ADDR, level - 1, v);
        else
            rt_check_leaf(lg, r, (v & BIT(47)) ? v | 0xffff000000000000ULL : v, e);
    }
}

static void rt_check_all(const struct shadow_regs *lg)
{
    assert_int_equal(S->st.tables, P.live);
    assert_int_equal(S->st.tracked, S->ntrack);
    u64 tables = 0;
    for (u32 r = 0; r < S->nroots; r++) {
        const struct shadow_root *root = &S->roots[r];
        if (!root->valid)
            continue;
        int top = root->mode == SHADOW_MODE_LONG4 ? 4 : 3;
        tables += root_tables(S, root->hw, top);
        rt_check_tree(lg, (int)r, root->hw, top, 0);
    }
    assert_int_equal(tables, S->st.tables);
    for (u32 i = 0; i < S->ntrack; i++) {
        const struct shadow_track *t = &S->track[i];
        assert_true(t->roots != 0);
        assert_true(t->nuses <= SHADOW_USES_MAX);
        for (u32 r = 0; r < S->nroots; r++)
            if (t->roots & BIT(r))
                assert_true(S->roots[r].valid);
        for (u32 j = 0; j < t->nuses; j++)
            assert_true(t->uses[j].roots && (t->uses[j].roots & ~t->roots) == 0);
        for (u32 j = i + 1; j < S->ntrack; j++)
            assert_true(S->track[j].gfn != t->gfn);
    }
}

/* A guest write of len bytes of v at a, through the emulation if tracked. */
static void rt_store(u64 a, u64 v, u32 len, struct rt_counts *n)
{
    if (tracked(S, a >> PAGE_SHIFT)) {
        assert_int_equal(shadow_pt_write(S, 0, gpa(a), &v, len), 0);
        n->emulated++;
    } else {
        memcpy(ram + a, &v, len);
    }
}

static void rt_edit(struct rt_counts *n)
{
    u32 t = (u32)(rnd() % RT_TABLES);
    int level = rt_level_of(t);
    u32 idx = rnd() % 10 ? rt_index(level) : (u32)(rnd() % 511);
    u64 a = rt_table(t) + idx * 8;
    u64 v = rt_entry(rnd() % 4 ? level : 1 + (int)(rnd() % 4));
    n->edits++;
    switch (idx < 511 ? rnd() % 4 : 3) {
    case 0: /* two halves */
        rt_store(a, v & 0xffffffff, 4, n);
        rt_store(a + 4, v >> 32, 4, n);
        break;
    case 1: { /* one byte */
        u32 k = (u32)(rnd() % 8);
        rt_store(a + k, (v >> (8 * k)) & 0xff, 1, n);
        break;
    }
    case 2: { /* straddling idx and idx + 1 */
        u64 w = rt_entry(level);
        rt_store(a + 4, (v >> 32) | (w << 32), 8, n);
        break;
    }
    default: rt_store(a, v, 8, n);
    }
}

/* One fault at a sample address of the active space, checked against the
 * reference; a page-table write is then emulated with random bytes. */
static void rt_fault(const struct shadow_regs *g, bool paging, struct rt_counts *n)
{
    struct ref_cfg c = cfg_of(g);
    u64 va = paging ? rt_va() : rt_none_va();
    u32 pfec = ACCESSES[rnd() % ARRAY_SIZE(ACCESSES)];
    struct shadow_fault f;
    int rc = shadow_page_fault(S, 0, g, va, pfec, &f);
    struct ref ref = { .st = REF_OK, .gpa = va, .w = true, .u = true, .dirty = true };
    if (paging)
        ref = ref_walk(g, va); /* after: D as the fault left it */
    if (ref.st == REF_EFAULT) {
        assert_int_equal(rc, -EFAULT);
        n->efault++;
        return;
    }
    assert_int_equal(rc, 0);
    /* Paging off checks nothing (SMEP and SMAP need paging). */
    if (paging && (ref.st != REF_OK || !ref_allowed(c, ref.w, ref.u, ref.nx, pfec))) {
        u32 kind = ref.st == REF_NOT_PRESENT ? 0 : ref.st == REF_RSVD ? PFEC_P | PFEC_RSVD : PFEC_P;
        assert_int_equal(f.result, SHADOW_GUEST_FAULT);
        assert_int_equal(f.pfec, ref_pfec(c, pfec, kind));
        n->guest++;
        return;
    }
    bool write = pfec & PFEC_W;
    assert_true(ref.dirty || !write);
    hpa_t hpa;
    unsigned perms = 0;
    int hrc = g_to_hpa(NULL, gpa(ALIGN_DOWN(ref.gpa, PAGE_SIZE)), &hpa, &perms);
    if (hrc || (write && !(perms & SLPT_W)) || ((pfec & PFEC_I) && !(perms & SLPT_X))) {
        assert_int_equal(f.result, SHADOW_MMIO);
        assert_int_equal(f.gpa.v, ref.gpa);
        n->mmio++;
        return;
    }
    bool trk = tracked(S, ref.gpa >> PAGE_SHIFT) != NULL;
    if (write && trk) {
        assert_int_equal(f.result, SHADOW_PT_WRITE);
        assert_int_equal(f.gpa.v, ref.gpa);
        n->ptw++;
        u32 room = (u32)(PAGE_SIZE - (ref.gpa & (PAGE_SIZE - 1)));
        u32 len = MIN((u32)(rnd() % 8) + 1, room);
        u64 v = rt_entry(1 + (int)(rnd() % 4));
        assert_int_equal(shadow_pt_write(S, 0, f.gpa, &v, len), 0);
        return;
    }
    assert_int_equal(f.result, SHADOW_FIXED);
    n->fixed++;
    u64 e = shadow_entry(S, 0, va);
    assert_int_equal(e & PTE_ADDR, hpa);
    check_leaf_bits(e, ref_leaf(c, ref.w, ref.u, ref.nx, ref.dirty, pfec, perms, trk));
}

static void rt_run(u64 seed, struct shadow_regs lg, u32 nroots, u32 max_tables)
{
    rs = seed;
    rt_leaves = 0;
    sh_init(nroots, max_tables);
    for (u32 t = 0; t < RT_TABLES; t++) {
        int level = rt_level_of(t);
        memset(ram + rt_table(t), 0, PAGE_SIZE);
        for (u32 k = 0; k < 10; k++)
            gput(rt_table(t) + rt_index(level) * 8, rt_entry(level));
    }
    struct shadow_regs regs[RT_SPACES + 1];
    for (u32 i = 0; i < RT_SPACES; i++) {
        regs[i] = lg;
        regs[i].cr3 = rt_table(i);
    }
    regs[RT_SPACES] = rt_none(&lg);
    u32 cur = 0;
    act(&regs[cur]);
    struct rt_counts n = { 0 };
    for (u32 step = 0; step < RT_STEPS; step++) {
        u32 op = (u32)(rnd() % 100);
        if (op < 68) {
            rt_fault(&regs[cur], cur < RT_SPACES, &n);
        } else if (op < 78) {
            rt_edit(&n);
        } else if (op < 86) {
            cur = (u32)(rnd() % (RT_SPACES + 1));
            act(&regs[cur]);
        } else if (op < 90) {
            if (S->ntrack)
                shadow_unprotect(S, 0, gpa((S->track[rnd() % S->ntrack].gfn << 12) | (rnd() & 0xfff)));
        } else if (op < 95) {
            shadow_invlpg(S, 0, cur < RT_SPACES ? rt_va() : rt_none_va());
        } else if (op < 99) {
            for (u32 i = 0; i <= RT_SPACES; i++) /* not a mode bit */
                regs[i].rflags ^= RFLAGS_AC;
        } else {
            shadow_flush_all(S, 0);
            act(&regs[cur]);
        }
        rt_check_all(&regs[cur]);
    }
    /* Every kind of outcome happened. */
    assert_true(rt_leaves > 100000);
    assert_true(n.fixed > 1000);
    assert_true(n.guest > 1000);
    assert_true(n.mmio > 100);
    assert_true(n.ptw > 50);
    assert_true(n.efault > 100);
    assert_true(n.emulated > 200);
    assert_true(S->st.unprotects > 100);
    assert_true(S->st.root_hits > 100);
}

static void test_random_wp1(void **state)
{
    /* Three roots for four spaces: evictions. */
    rt_run(0x9e3779b97f4a7c15ULL, long_regs(0), 3, 0);
    assert_true(S->st.root_evictions > 100);
}

static void test_random_wp0_smep_smap(void **state)
{
    /* WP=0, SMEP and SMAP, and a table budget small enough to run out. */
    struct shadow_regs g = long_regs(0);
    g.cr0 &= ~CR0_WP;
    g.cr4 |= CR4_SMEP | CR4_SMAP;
    rt_run(0x2545f4914f6cdd1dULL, g, 4, 24);
    assert_true(S->st.flushes > 20);
}

/* ---------------------------------------------------------------- main */

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_init_errors),
        T(test_guest_walk),
        T(test_permission_matrix),
        T(test_wp0_supervisor_write),
        T(test_accessed_dirty),
        T(test_large_pages),
        T(test_reserved_and_not_present),
        T(test_mode_none),
        T(test_activate_unsupported),
        T(test_root_cache_lru),
        T(test_root_cache_single),
        T(test_mode_bits_key_roots),
        T(test_flood_release),
        T(test_smp_shared_roots),
        T(test_smp_drop_and_sync),
        T(test_rmap_write_protect),
        T(test_rmap_full),
        T(test_tracked_page_protection),
        T(test_pt_write_shared),
        T(test_pt_write_partial),
        T(test_overflow),
        T(test_unprotect),
        T(test_mmio_results),
        T(test_invlpg),
        T(test_budget),
        T(test_budget_activate),
        T(test_alloc_failure),
        T(test_alloc_below_4g),
        T(test_track_full),
        T(test_random_wp1),
        T(test_random_wp0_smep_smap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
