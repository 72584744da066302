/* Second-level page tables for EPT, NPT and the DMA remapping units (VT-d
 * second-level tables, AMD-Vi I/O page tables); see slpt.h for the contract.
 *
 * Levels are numbered by what one entry maps: 3 = PML4E (512 GiB), 2 = PDPTE
 * (1 GiB), 1 = PDE (2 MiB), 0 = PTE (4 KiB). Bit 7 means "leaf" at levels 2 and 1
 * in EPT, NPT and VT-d (EPT: SDM 29.3.2 tables 29-3/29-5; NPT: APM 5.3.4 PS bit;
 * VT-d 9.8) and is reserved in a PML4E, so levels 3 and 0 need no flag. AMD-Vi
 * says it the other way: an entry pointing to a table carries that table's
 * level (Next Level), a page carries 0. */
#include "vmm/slpt.h"
#include "kernel/lib/errno.h"

#define LEVEL_SHIFT(l) PT_LEVEL_SHIFT((l) + 1)
#define LEVEL_SIZE(l)  (1ULL << LEVEL_SHIFT(l))
#define LEAF_BIT       EPT_LARGE /* == NPT_PS == VTD_SL_PS */
STATIC_ASSERT(EPT_LARGE == NPT_PS && EPT_LARGE == VTD_SL_PS, "one large-page bit");

STATIC_ASSERT(LEVEL_SHIFT(SLPT_LEVELS) == SLPT_GPA_BITS, "4 levels of 9 bits over 4 KiB");

/* Attribute bits a split copies from a large leaf to the finer ones. */
#define EPT_LEAF_ATTRS   (EPT_R | EPT_W | EPT_X | EPT_MT_MASK | EPT_IPAT | EPT_ACCESSED | EPT_DIRTY)
#define NPT_LEAF_ATTRS   (NPT_P | NPT_RW | NPT_US | NPT_PWT | NPT_PCD | NPT_ACCESSED | NPT_DIRTY | NPT_G | NPT_NX)
#define VTD_LEAF_ATTRS   (VTD_SL_R | VTD_SL_W)
#define AMDVI_LEAF_ATTRS (AMDVI_PTE_PR | AMDVI_PTE_IR | AMDVI_PTE_IW)

static u64 leaf_attrs(const struct slpt *t)
{
    switch (t->fmt) {
    case SLPT_EPT: return EPT_LEAF_ATTRS;
    case SLPT_NPT: return NPT_LEAF_ATTRS;
    case SLPT_VTD: return VTD_LEAF_ATTRS;
    default: return AMDVI_LEAF_ATTRS;
    }
}

/* What marks a leaf above level 0: the large-page bit, or for AMD-Vi nothing
 * (Next Level 0). */
static u64 large_flag(const struct slpt *t) { return t->fmt == SLPT_AMDVI ? 0 : LEAF_BIT; }

static inline unsigned ent_index(u64 gpa, int level)
{
    return (unsigned)(gpa >> LEVEL_SHIFT(level)) & (PT_ENTRIES - 1);
}

static bool ent_present(const struct slpt *t, u64 e)
{
    switch (t->fmt) {
    case SLPT_EPT: return (e & (EPT_R | EPT_W | EPT_X)) != 0;
    case SLPT_NPT: return (e & NPT_P) != 0;
    case SLPT_VTD: return (e & (VTD_SL_R | VTD_SL_W)) != 0;
    default: return (e & AMDVI_PTE_PR) != 0;
    }
}

static bool ent_leaf(const struct slpt *t, u64 e, int level)
{
    if (level == 0)
        return true;
    if (level == SLPT_LEVELS - 1)
        return false;
    if (t->fmt == SLPT_AMDVI)
        return (e & AMDVI_PTE_NL_MASK) == 0;
    return (e & LEAF_BIT) != 0;
}

static u64 leaf_addr(u64 e, int level) { return e & PTE_ADDR & ~(LEVEL_SIZE(level) - 1); }

/* A non-leaf entry at `level` grants everything: rights are the AND over all
 * levels, so the leaf alone decides. */
static u64 table_entry(const struct slpt *t, hpa_t pa, int level)
{
    switch (t->fmt) {
    case SLPT_EPT: return pa | EPT_R | EPT_W | EPT_X;
    case SLPT_NPT: return pa | NPT_P | NPT_RW | NPT_US;
    case SLPT_VTD: return pa | VTD_SL_R | VTD_SL_W;
    /* The table it points to is at level `level` in AMD-Vi's count (1 = PTs). */
    default: return pa | AMDVI_PTE_PR | AMDVI_PTE_IR | AMDVI_PTE_IW | (u64)level << AMDVI_PTE_NL_SHIFT;
    }
}

static u64 leaf_entry(const struct slpt *t, hpa_t hpa, int level, unsigned perms, enum slpt_memtype mt)
{
    u64 e = hpa | (level ? large_flag(t) : 0);
    /* A DMA remapping unit has no execute right and no memory type here: the
     * device's accesses snoop (or not) as the device and unit decide. */
    if (t->fmt == SLPT_VTD)
        return e | VTD_SL_R | ((perms & SLPT_W) ? VTD_SL_W : 0);
    if (t->fmt == SLPT_AMDVI)
        return e | AMDVI_PTE_PR | AMDVI_PTE_IR | ((perms & SLPT_W) ? AMDVI_PTE_IW : 0);
    if (t->fmt == SLPT_EPT) {
        e |= perms & (EPT_R | EPT_W | EPT_X); /* SLPT_R/W/X are the EPT bits */
        e |= (mt == SLPT_UC ? EPT_MT_UC : EPT_MT_WB) << EPT_MT_SHIFT;
    } else {
        e |= NPT_P | NPT_US;
        if (perms & SLPT_W)
            e |= NPT_RW;
        if (!(perms & SLPT_X))
            e |= NPT_NX;
        if (mt == SLPT_UC)
            e |= NPT_PCD | NPT_PWT;
    }
    return e;
}
STATIC_ASSERT(SLPT_R == EPT_R && SLPT_W == EPT_W && SLPT_X == EPT_X, "rights are EPT bits");

static unsigned leaf_perms(const struct slpt *t, u64 e)
{
    if (t->fmt == SLPT_EPT)
        return (unsigned)(e & (EPT_R | EPT_W | EPT_X));
    if (t->fmt == SLPT_VTD)
        return (unsigned)(e & (VTD_SL_R | VTD_SL_W));
    if (t->fmt == SLPT_AMDVI)
        return ((e & AMDVI_PTE_IR) ? SLPT_R : 0) | ((e & AMDVI_PTE_IW) ? SLPT_W : 0);
    return SLPT_R | ((e & NPT_RW) ? SLPT_W : 0) | ((e & NPT_NX) ? 0 : SLPT_X);
}

/* The hardware may walk the tree while we edit it: one 64-bit store per entry,
 * ordered after the stores that filled a table it links. */
static inline void set_ent(u64 *slot, u64 v) { __atomic_store_n(slot, v, __ATOMIC_RELEASE); }

static u64 *table_ptr(const struct slpt *t, hpa_t pa) { return t->ops.map(t->ops.ctx, pa); }

static void count_leaf(struct slpt *t, int level, s64 n)
{
    if (level == 0)
        t->leaves_4k += n;
    else if (level == 1)
        t->leaves_2m += n;
    else
        t->leaves_1g += n;
}

static int table_alloc(struct slpt *t, hpa_t *out, u64 **ptr)
{
    hpa_t pa = 0;
    int rc = t->ops.alloc_table(t->ops.ctx, &pa);
    if (rc < 0)
        return rc;
    if (rc > 0)
        return -ENOMEM;
    if (!IS_ALIGNED(pa, PAGE_SIZE) || (pa & ~PTE_ADDR)) {
        t->ops.free_table(t->ops.ctx, pa);
        return -EFAULT;
    }
    u64 *p = table_ptr(t, pa);
    if (!p) {
        t->ops.free_table(t->ops.ctx, pa);
        return -EFAULT;
    }
    t->tables++;
    *out = pa;
    *ptr = p;
    return 0;
}

static void table_free(struct slpt *t, hpa_t pa)
{
    t->ops.free_table(t->ops.ctx, pa);
    t->tables--;
}

/* Frees the table at pa (whose entries are at `level`) and everything below it. */
static void free_subtree(struct slpt *t, hpa_t pa, int level)
{
    u64 *tb = table_ptr(t, pa);
    if (tb) {
        for (unsigned i = 0; i < PT_ENTRIES; i++) {
            u64 e = tb[i];
            if (!ent_present(t, e))
                continue;
            if (ent_leaf(t, e, level))
                count_leaf(t, level, -1);
            else
                free_subtree(t, e & PTE_ADDR, level - 1);
        }
    }
    table_free(t, pa);
}

/* Replaces the large leaf in *slot (at level 1 or 2) by a table of 512 leaves one
 * level down that map the same range with the same attributes. */
static int split_leaf(struct slpt *t, u64 *slot, int level)
{
    u64 e = *slot;
    u64 attrs = e & leaf_attrs(t);
    u64 base = leaf_addr(e, level);
    int child = level - 1;
    hpa_t pa;
    u64 *nt;
    int rc = table_alloc(t, &pa, &nt);
    if (rc)
        return rc;
    for (unsigned i = 0; i < PT_ENTRIES; i++)
        nt[i] = (base + (u64)i * LEVEL_SIZE(child)) | attrs | (child ? large_flag(t) : 0);
    set_ent(slot, table_entry(t, pa, level));
    count_leaf(t, level, -1);
    count_leaf(t, child, PT_ENTRIES);
    return 0;
}

/* The slot for gpa at `target`, creating missing tables and splitting large
 * leaves above it. */
static int walk_create(struct slpt *t, u64 gpa, int target, u64 **slot)
{
    u64 *tb = table_ptr(t, t->root);
    if (!tb)
        return -EFAULT;
    for (int level = SLPT_LEVELS - 1; level > target; level--) {
        u64 *s = &tb[ent_index(gpa, level)];
        u64 e = *s;
        if (!ent_present(t, e)) {
            hpa_t pa;
            u64 *nt;
            int rc = table_alloc(t, &pa, &nt);
            if (rc)
                return rc;
            set_ent(s, table_entry(t, pa, level));
            tb = nt;
            continue;
        }
        if (ent_leaf(t, e, level)) {
            int rc = split_leaf(t, s, level);
            if (rc)
                return rc;
            e = *s;
        }
        tb = table_ptr(t, e & PTE_ADDR);
        if (!tb)
            return -EFAULT;
    }
    *slot = &tb[ent_index(gpa, target)];
    return 0;
}

int slpt_init(struct slpt *t, enum slpt_format fmt, const struct slpt_ops *ops, unsigned flags)
{
    if (!t || !ops || !ops->alloc_table || !ops->free_table || !ops->map)
        return -EINVAL;
    if (fmt != SLPT_EPT && fmt != SLPT_NPT && fmt != SLPT_VTD && fmt != SLPT_AMDVI)
        return -EINVAL;
    if (flags & ~(SLPT_ALLOW_1G | SLPT_NO_2M))
        return -EINVAL;
    *t = (struct slpt){
        .fmt = fmt,
        .ops = *ops,
        .large_1g = (flags & SLPT_ALLOW_1G) != 0,
        .large_2m = !(flags & SLPT_NO_2M),
    };
    u64 *p;
    return table_alloc(t, &t->root, &p);
}

static bool initialised(const struct slpt *t) { return t && t->tables > 0; }

/* Common argument checks of map and unmap. */
static int check_range(u64 gpa, u64 len)
{
    if (len == 0 || !IS_ALIGNED(gpa, PAGE_SIZE) || !IS_ALIGNED(len, PAGE_SIZE))
        return -EINVAL;
    if (gpa >= BIT(SLPT_GPA_BITS) || len > BIT(SLPT_GPA_BITS) - gpa)
        return -ERANGE;
    return 0;
}

static int pick_level(const struct slpt *t, u64 g, u64 h, u64 len)
{
    if (t->large_1g && IS_ALIGNED(g | h, GiB(1)) && len >= GiB(1))
        return 2;
    if (t->large_2m && IS_ALIGNED(g | h, MiB(2)) && len >= MiB(2))
        return 1;
    return 0;
}

int slpt_map(struct slpt *t, gpa_t gpa, hpa_t hpa, u64 len, unsigned perms, enum slpt_memtype mt)
{
    if (!initialised(t))
        return -EINVAL;
    int rc = check_range(gpa.v, len);
    if (rc)
        return rc;
    if (!IS_ALIGNED(hpa, PAGE_SIZE))
        return -EINVAL;
    if (hpa >= BIT(SLPT_HPA_BITS) || len > BIT(SLPT_HPA_BITS) - hpa)
        return -ERANGE;
    if ((perms & ~SLPT_RWX) || !(perms & SLPT_R))
        return -EINVAL;
    if (mt != SLPT_WB && mt != SLPT_UC)
        return -EINVAL;

    u64 g = gpa.v, h = hpa;
    while (len) {
        int level = pick_level(t, g, h, len);
        u64 *slot;
        rc = walk_create(t, g, level, &slot);
        if (rc)
            return rc;
        u64 old = *slot;
        set_ent(slot, leaf_entry(t, h, level, perms, mt));
        count_leaf(t, level, 1);
        if (ent_present(t, old)) {
            t->need_flush = true;
            if (ent_leaf(t, old, level))
                count_leaf(t, level, -1);
            else
                free_subtree(t, old & PTE_ADDR, level - 1);
        }
        g += LEVEL_SIZE(level);
        h += LEVEL_SIZE(level);
        len -= LEVEL_SIZE(level);
    }
    return 0;
}

static bool table_empty(const struct slpt *t, const u64 *tb)
{
    for (unsigned i = 0; i < PT_ENTRIES; i++)
        if (ent_present(t, tb[i]))
            return false;
    return true;
}

/* Unmaps [start, end) inside the table at pa, whose entries are at `level` and
 * whose first entry maps `base`. */
static int unmap_in(struct slpt *t, hpa_t pa, int level, u64 base, u64 start, u64 end)
{
    u64 *tb = table_ptr(t, pa);
    if (!tb)
        return -EFAULT;
    u64 sz = LEVEL_SIZE(level);
    for (unsigned i = ent_index(start, level); i <= ent_index(end - 1, level); i++) {
        u64 es = base + (u64)i * sz, ee = es + sz;
        u64 e = tb[i];
        if (!ent_present(t, e))
            continue;
        u64 s = MAX(start, es), en = MIN(end, ee);
        if (s == es && en == ee) {
            set_ent(&tb[i], 0);
            t->need_flush = true;
            if (ent_leaf(t, e, level))
                count_leaf(t, level, -1);
            else
                free_subtree(t, e & PTE_ADDR, level - 1);
            continue;
        }
        /* Partly covered: only possible above level 0, the range being page-aligned. */
        if (ent_leaf(t, e, level)) {
            int rc = split_leaf(t, &tb[i], level);
            if (rc)
                return rc;
            e = tb[i];
        }
        hpa_t child = e & PTE_ADDR;
        int rc = unmap_in(t, child, level - 1, es, s, en);
        if (rc)
            return rc;
        const u64 *ct = table_ptr(t, child);
        if (ct && table_empty(t, ct)) {
            set_ent(&tb[i], 0);
            t->need_flush = true;
            table_free(t, child);
        }
    }
    return 0;
}

int slpt_unmap(struct slpt *t, gpa_t gpa, u64 len)
{
    if (!initialised(t))
        return -EINVAL;
    int rc = check_range(gpa.v, len);
    if (rc)
        return rc;
    return unmap_in(t, t->root, SLPT_LEVELS - 1, 0, gpa.v, gpa.v + len);
}

/* Raw leaf entry and its level for gpa. */
static int find_leaf(const struct slpt *t, u64 gpa, u64 *entry, int *level_out)
{
    if (!initialised(t))
        return -EINVAL;
    if (gpa >= BIT(SLPT_GPA_BITS))
        return -ERANGE;
    hpa_t pa = t->root;
    for (int level = SLPT_LEVELS - 1; level >= 0; level--) {
        const u64 *tb = table_ptr(t, pa);
        if (!tb)
            return -EFAULT;
        u64 e = tb[ent_index(gpa, level)];
        if (!ent_present(t, e))
            return -ENOENT;
        if (ent_leaf(t, e, level)) {
            *entry = e;
            *level_out = level;
            return 0;
        }
        pa = e & PTE_ADDR;
    }
    return -ENOENT; /* not reached: level 0 entries are leaves */
}

int slpt_lookup(const struct slpt *t, gpa_t gpa, hpa_t *hpa, unsigned *perms, u64 *page_size)
{
    u64 e;
    int level;
    int rc = find_leaf(t, gpa.v, &e, &level);
    if (rc)
        return rc;
    if (hpa)
        *hpa = leaf_addr(e, level) | (gpa.v & (LEVEL_SIZE(level) - 1));
    if (perms)
        *perms = leaf_perms(t, e);
    if (page_size)
        *page_size = LEVEL_SIZE(level);
    return 0;
}

int slpt_leaf_entry(const struct slpt *t, gpa_t gpa, u64 *entry, u64 *page_size)
{
    u64 e;
    int level;
    int rc = find_leaf(t, gpa.v, &e, &level);
    if (rc)
        return rc;
    if (entry)
        *entry = e;
    if (page_size)
        *page_size = LEVEL_SIZE(level);
    return 0;
}

void slpt_destroy(struct slpt *t)
{
    if (!initialised(t))
        return;
    free_subtree(t, t->root, SLPT_LEVELS - 1);
    t->root = 0;
    t->tables = 0;
    t->leaves_4k = t->leaves_2m = t->leaves_1g = 0;
    t->need_flush = true;
}

static void each_table(const struct slpt *t, hpa_t pa, int level, void (*fn)(void *ctx, hpa_t pa), void *ctx)
{
    const u64 *tb = table_ptr(t, pa);
    if (tb && level > 0)
        for (unsigned i = 0; i < PT_ENTRIES; i++)
            if (ent_present(t, tb[i]) && !ent_leaf(t, tb[i], level))
                each_table(t, tb[i] & PTE_ADDR, level - 1, fn, ctx);
    fn(ctx, pa);
}

void slpt_for_each_table(const struct slpt *t, void (*fn)(void *ctx, hpa_t pa), void *ctx)
{
    if (initialised(t))
        each_table(t, t->root, SLPT_LEVELS - 1, fn, ctx);
}
