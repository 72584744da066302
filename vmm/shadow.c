/* Shadow page tables; see shadow.h for the contract.
 *
 * Levels are numbered as in struct shadow_use: 4 = PML4, 3 = PDPT, 2 = PD,
 * 1 = PT, and one entry of a level-L table maps span(L) = 4 KiB << 9 (L - 1).
 * A LONG4 shadow has levels 4..1; a MODE_NONE shadow (PAE hardware paging) has
 * levels 3..1, its root holding the 4 PDPTEs. Shadow leaves are always level-1
 * entries, so a shadow table entry above level 1 always points at a table.
 *
 * Invariants that keep every cached root correct:
 *  - every shadow leaf was derived from guest table pages that are tracked,
 *    with the leaf's root in .roots and (unless .overflow) its place in .uses;
 *  - no shadow leaf in any root maps the host frame of a tracked page writable,
 *    so the guest's every write to its tables faults and is emulated here;
 *  - every writable shadow leaf has exactly one reverse-map entry, in the
 *    bucket of the frame it maps (leaf_set() keeps this; a table page's
 *    leaves are unmapped before the page is dropped);
 *  - a dropped table page is freed only after sync_cpus() (finish()).
 * Dropping translations never has to update the tracks: a use that no longer
 * covers a translation only costs a needless drop later. */
#include "vmm/shadow.h"
#include "vmm/slpt.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "arch/x86/hw/pte.h"
#include "arch/x86/hw/regs.h"

/* A shadow entry that points at a table grants everything: rights are combined
 * over the levels, so the leaf alone decides. */
#define SHADOW_TABLE_BITS (PTE_P | PTE_RW | PTE_US | PTE_A)

#define LEVELS_LONG4 4
#define LEVELS_PAE   3
#define PAE_VA_MASK  0xffffffffULL /* paging off: 32-bit linear = physical */
#define MIN_TABLES   4             /* per vCPU: a root and the three tables above one leaf */

STATIC_ASSERT(SHADOW_ROOTS_MAX <= 32, "struct shadow_track.roots is a u32 mask");
STATIC_ASSERT(SHADOW_CPUS_MAX <= 32, "struct shadow_root.active is a u32 mask");
STATIC_ASSERT(SHADOW_TRACK_MAX < SHADOW_NONE16, "track indices are u16");
STATIC_ASSERT((SHADOW_TRACK_BUCKETS & (SHADOW_TRACK_BUCKETS - 1)) == 0, "a power of two");
STATIC_ASSERT((SHADOW_RMAP_BUCKETS & (SHADOW_RMAP_BUCKETS - 1)) == 0, "a power of two");

static inline u32 level_shift(int level) { return PAGE_SHIFT + PT_INDEX_BITS * (u32)(level - 1); }

static inline u64 span(int level) { return 1ULL << level_shift(level); }

static inline u32 ent_index(u64 va, int level) { return (u32)(va >> level_shift(level)) & (PT_ENTRIES - 1); }

/* Bits 63:47 copies of bit 47 (SDM 3.3.7.1). */
static inline u64 canon(u64 va) { return (u64)((s64)(va << (64 - PT_ADDR_BITS_4LEVEL)) >> (64 - PT_ADDR_BITS_4LEVEL)); }

static inline u64 gfn_of(u64 ga) { return ga >> PAGE_SHIFT; }

static int root_levels(const struct shadow_root *r) { return r->mode == SHADOW_MODE_LONG4 ? LEVELS_LONG4 : LEVELS_PAE; }

/* ---------------------------------------------------------------- modes */

/* The shadow mode for the guest's paging state (SDM 4.1.1, table 4-1). */
static int guest_mode(const struct shadow_regs *g, enum shadow_mode *m)
{
    if (g->cr4 & CR4_PCIDE)
        return -ENOTSUP;
    if (!(g->cr0 & CR0_PG)) {
        *m = SHADOW_MODE_NONE;
        return 0;
    }
    if (!(g->efer & EFER_LMA))
        return -ENOTSUP; /* 32-bit or PAE paging */
    if (g->cr4 & (CR4_LA57 | CR4_PKE | CR4_PKS))
        return -ENOTSUP;
    *m = SHADOW_MODE_LONG4;
    return 0;
}

/* The control bits a shadow's contents depend on (the rights of its leaves).
 * Not CR4.PSE (long mode honours PS regardless) nor CR4.PGE (the hardware
 * runs without global pages, and leaves carry no G bit). */
static u64 mode_bits_of(const struct shadow_regs *g)
{
    return (g->cr0 & CR0_WP) | (g->cr4 & (CR4_SMEP | CR4_SMAP)) | (g->efer & EFER_NXE);
}

static u64 root_key(const struct shadow_regs *g, enum shadow_mode m)
{
    return m == SHADOW_MODE_LONG4 ? g->cr3 & PTE_ADDR : 0;
}

/* ---------------------------------------------------------------- table pages */

static u64 *table_map(const struct shadow *s, hpa_t pa) { return s->ops.map(s->ops.ctx, pa); }

/* A zeroed table page within the budget (st.tables counts the pages held). */
static int table_alloc(struct shadow *s, bool below_4g, hpa_t *out, u64 **ptr)
{
    if (s->st.tables >= s->max_tables)
        return -ENOMEM;
    hpa_t pa = 0;
    if (s->ops.alloc_table(s->ops.ctx, below_4g, &pa) != 0)
        return -ENOMEM;
    bool bad = !IS_ALIGNED(pa, PAGE_SIZE) || (pa & ~PTE_ADDR) || (below_4g && pa >= GiB(4));
    u64 *p = bad ? NULL : table_map(s, pa);
    if (!p) {
        s->ops.free_table(s->ops.ctx, pa);
        return -EFAULT;
    }
    s->st.tables++;
    if (s->st.tables > s->st.tables_peak)
        s->st.tables_peak = s->st.tables;
    *out = pa;
    *ptr = p;
    return 0;
}

static void sync_and_free(struct shadow *s, int self)
{
    s->need_sync = false;
    if (s->ops.sync_cpus && s->ncpus > 1) {
        s->ops.sync_cpus(s->ops.ctx, self);
        s->st.syncs++;
    }
    for (u32 i = 0; i < s->npending; i++)
        s->ops.free_table(s->ops.ctx, s->pending[i]);
    s->npending = 0;
}

/* A table page no longer linked into any root: freed once the other vCPUs
 * have left the guest (finish()), as their hardware may still walk it.
 * Nothing is written into it meanwhile, for the same reason. */
static void table_drop(struct shadow *s, hpa_t pa)
{
    if (s->npending == SHADOW_PENDING_MAX)
        sync_and_free(s, s->self); /* every page listed is unlinked already */
    s->pending[s->npending++] = pa;
    s->need_sync = true;
    s->st.tables--;
}

/* Ends every public call: the other vCPUs leave the guest when something
 * they may have cached went away, then the dropped pages are freed. */
static void finish(struct shadow *s)
{
    if (s->need_sync)
        sync_and_free(s, s->self);
}

/* ---------------------------------------------------------------- reverse map */

static u32 rmap_bucket(hpa_t frame)
{
    return (u32)(((frame >> PAGE_SHIFT) * 0x9e3779b97f4a7c15ULL) >> 51) & (SHADOW_RMAP_BUCKETS - 1);
}

static void rmap_reset(struct shadow *s)
{
    for (u32 i = 0; i < SHADOW_RMAP_BUCKETS; i++)
        s->rmap_head[i] = SHADOW_NONE32;
    for (u32 i = 0; i < SHADOW_RMAP_MAX; i++)
        s->rmap[i].next = i + 1 < SHADOW_RMAP_MAX ? i + 1 : SHADOW_NONE32;
    s->rmap_free = 0;
    s->st.rmap = 0;
}

/* Records the writable leaf at slot mapping frame: false when full. */
static bool rmap_add(struct shadow *s, hpa_t frame, hpa_t slot)
{
    u32 i = s->rmap_free;
    if (i == SHADOW_NONE32)
        return false;
    s->rmap_free = s->rmap[i].next;
    u32 b = rmap_bucket(frame);
    s->rmap[i] = (struct shadow_rmap){ slot, s->rmap_head[b] };
    s->rmap_head[b] = i;
    s->st.rmap++;
    return true;
}

static void rmap_del(struct shadow *s, hpa_t frame, hpa_t slot)
{
    u32 *link = &s->rmap_head[rmap_bucket(frame)];
    while (*link != SHADOW_NONE32) {
        u32 i = *link;
        if (s->rmap[i].slot == slot) {
            *link = s->rmap[i].next;
            s->rmap[i].next = s->rmap_free;
            s->rmap_free = i;
            s->st.rmap--;
            return;
        }
        link = &s->rmap[i].next;
    }
}

static bool leaf_writable(u64 e) { return (e & (PTE_P | PTE_RW)) == (PTE_P | PTE_RW); }

/* Writes the level-1 entry idx of the table at pa, keeping the reverse map:
 * a writable leaf that gets no entry there is installed read-only. */
static void leaf_set(struct shadow *s, u64 *tb, hpa_t pa, u32 idx, u64 v)
{
    hpa_t slot = pa + idx * sizeof(u64);
    u64 old = tb[idx];
    if (leaf_writable(old))
        rmap_del(s, old & PTE_ADDR, slot);
    if (leaf_writable(v) && !rmap_add(s, v & PTE_ADDR, slot)) {
        v &= ~(u64)PTE_RW;
        s->st.rmap_full++;
    }
    tb[idx] = v;
}

/* ---------------------------------------------------------------- dropping tables */

/* Unlinks the level-`level` table at pa and every table under it, their
 * leaves out of the reverse map (our own tables: the depth is at most 4
 * whatever the guest does). */
static void free_tree(struct shadow *s, hpa_t pa, int level)
{
    u64 *tb = table_map(s, pa);
    for (u32 i = 0; tb && i < PT_ENTRIES; i++) {
        u64 e = tb[i];
        if (!(e & PTE_P))
            continue;
        if (level > 1)
            free_tree(s, e & PTE_ADDR, level - 1);
        else if (leaf_writable(e))
            rmap_del(s, e & PTE_ADDR, pa + i * sizeof(u64));
    }
    table_drop(s, pa);
}

/* Empties the level-`level` table at pa, dropping the tables under it. */
static void clear_table(struct shadow *s, hpa_t pa, int level)
{
    u64 *tb = table_map(s, pa);
    if (!tb)
        return;
    for (u32 i = 0; i < PT_ENTRIES; i++) {
        u64 e = tb[i];
        if (!(e & PTE_P))
            continue;
        if (level > 1) {
            tb[i] = 0;
            free_tree(s, e & PTE_ADDR, level - 1);
        } else {
            leaf_set(s, tb, pa, i, 0);
        }
    }
}

/* ---------------------------------------------------------------- guest walk */

struct walk {
    gpa_t gpa;      /* the translation */
    u64 leaf;       /* the guest's leaf entry as written back; 0 with paging off */
    int leaf_level; /* 1: 4 KiB, 2: 2 MiB, 3: 1 GiB; 0 with paging off */
    int ntables;    /* guest tables read, the PML4 first */
    u64 table_gfn[LEVELS_LONG4];
    bool w, u, nx; /* rights combined over the levels (nx only with EFER.NXE) */
    bool dirty;    /* the leaf's D bit (after this access) */
    u32 fault;     /* the error code when the guest refuses */
};

static u32 access_of(u32 pfec) { return pfec & (PFEC_W | PFEC_U | PFEC_I); }

/* The error code the CPU reports (SDM 4.7): I/D only where fetches are told
 * apart from reads at all, i.e. with CR4.SMEP or EFER.NXE. */
static u32 fault_code(const struct shadow_regs *g, u32 pfec, u32 extra)
{
    u32 code = access_of(pfec) | extra;
    if (!(g->cr4 & CR4_SMEP) && !(g->efer & EFER_NXE))
        code &= ~(u32)PFEC_I;
    return code;
}

/* Reserved bits of a present 4-level entry (SDM 4.5, tables 4-15 .. 4-20).
 * Bits 51:MAXPHYADDR are not checked: the guest's MAXPHYADDR is not known
 * here, and an address past guest RAM fails the table read (-EFAULT) or the
 * guest-physical lookup (SHADOW_MMIO) instead. */
static bool reserved(u64 e, int level, bool nxe)
{
    if ((e & PTE_NX) && !nxe)
        return true;
    if (level == 4)
        return (e & PTE_PS) != 0;
    if (level == 1 || !(e & PTE_PS))
        return false;
    /* A large page's address bits below its size, bit 12 (PAT) excepted. */
    u64 low = (span(level) - 1) & ~(PAGE_SIZE - 1) & ~PTE_PAT_LARGE;
    return (e & low) != 0;
}

/* Whether the combined rights allow the access (SDM 4.6.1). */
static bool access_allowed(const struct shadow_regs *g, const struct walk *w, u32 pfec)
{
    bool write = pfec & PFEC_W, fetch = pfec & PFEC_I;
    if (pfec & PFEC_U) {
        if (!w->u || (write && !w->w) || (fetch && w->nx))
            return false;
        return true;
    }
    if (fetch) {
        if (w->u && (g->cr4 & CR4_SMEP))
            return false;
        return !w->nx;
    }
    /* SMAP: explicit supervisor data accesses to user pages need RFLAGS.AC. */
    if (w->u && (g->cr4 & CR4_SMAP) && !(g->rflags & RFLAGS_AC))
        return false;
    if (write && !w->w && (g->cr0 & CR0_WP))
        return false;
    return true;
}

static int read_entry(struct shadow *s, u64 ga, u64 *e)
{
    *e = 0;
    return s->ops.gread(s->ops.ctx, gpa(ga), e, sizeof(*e)) < 0 ? -EFAULT : 0;
}

/* Sets A in every entry of the walk and D in the leaf for a write, writing
 * back only what changes (SDM 4.8). */
static int set_accessed(struct shadow *s, const u64 *addr, u64 *ent, int n, bool write)
{
    for (int k = 0; k < n; k++) {
        u64 v = ent[k] | PTE_A | (write && k == n - 1 ? PTE_D : 0);
        if (v == ent[k])
            continue;
        if (s->ops.gwrite(s->ops.ctx, gpa(addr[k]), &v, sizeof(v)) < 0)
            return -EFAULT;
        ent[k] = v;
    }
    return 0;
}

/* The walk of SDM 4.5 with the checks of 4.6: 0, 1 when the guest refuses
 * (w->fault), or a negative error. Every entry read is untrusted: it only
 * ever yields the address of the next guest read. */
static int walk(struct shadow *s, const struct shadow_regs *g, u64 va, u32 pfec, struct walk *w)
{
    memset(w, 0, sizeof(*w));
    enum shadow_mode m;
    int rc = guest_mode(g, &m);
    if (rc)
        return rc;
    if (m == SHADOW_MODE_NONE) {
        w->gpa = gpa(va & PAE_VA_MASK);
        w->w = w->u = w->dirty = true;
        return 0;
    }
    if (canon(va) != va)
        return -EINVAL; /* the CPU raises #GP, not #PF */

    bool nxe = g->efer & EFER_NXE;
    u64 addr[LEVELS_LONG4], ent[LEVELS_LONG4];
    u64 table = g->cr3 & PTE_ADDR;
    int level = LEVELS_LONG4, k = 0;
    w->w = w->u = true;
    for (;; level--, k++) {
        addr[k] = table + ent_index(va, level) * sizeof(u64);
        if (read_entry(s, addr[k], &ent[k]) < 0)
            return -EFAULT;
        w->table_gfn[k] = gfn_of(table);
        w->ntables = k + 1;
        u64 e = ent[k];
        if (!(e & PTE_P)) {
            w->fault = fault_code(g, pfec, 0);
            return 1;
        }
        if (reserved(e, level, nxe)) {
            w->fault = fault_code(g, pfec, PFEC_P | PFEC_RSVD);
            return 1;
        }
        w->w = w->w && (e & PTE_RW);
        w->u = w->u && (e & PTE_US);
        w->nx = w->nx || (nxe && (e & PTE_NX));
        if (level == 1 || (e & PTE_PS))
            break;
        table = e & PTE_ADDR;
    }
    u64 size = span(level);
    w->leaf_level = level;
    w->gpa = gpa((ent[k] & PTE_ADDR & ~(size - 1)) | (va & (size - 1)));
    if (!access_allowed(g, w, pfec)) {
        w->fault = fault_code(g, pfec, PFEC_P);
        return 1;
    }
    if (set_accessed(s, addr, ent, w->ntables, pfec & PFEC_W) < 0)
        return -EFAULT;
    w->leaf = ent[k];
    w->dirty = (w->leaf & PTE_D) != 0;
    return 0;
}

int shadow_guest_walk(struct shadow *s, const struct shadow_regs *g, u64 va, u32 pfec, gpa_t *gpa_out, u32 *rights,
                      u32 *fault_pfec)
{
    struct walk w;
    int rc = walk(s, g, va, pfec, &w);
    if (rc < 0)
        return rc;
    if (rc > 0) {
        if (fault_pfec)
            *fault_pfec = w.fault;
        return 1;
    }
    if (gpa_out)
        *gpa_out = w.gpa;
    if (rights)
        *rights = (w.w ? SH_RIGHT_W : 0) | (w.u ? SH_RIGHT_U : 0) | (w.nx ? SH_RIGHT_NX : 0) |
                  (w.dirty ? SH_RIGHT_DIRTY : 0);
    return 0;
}

/* ---------------------------------------------------------------- tracking */

static u32 track_bucket(u64 gfn) { return (u32)((gfn * 0x9e3779b97f4a7c15ULL) >> 52) & (SHADOW_TRACK_BUCKETS - 1); }

static void track_reset(struct shadow *s)
{
    for (u32 i = 0; i < SHADOW_TRACK_BUCKETS; i++)
        s->track_head[i] = SHADOW_NONE16;
    s->ntrack = 0;
    s->st.tracked = 0;
}

static struct shadow_track *track_find(struct shadow *s, u64 gfn)
{
    for (u16 i = s->track_head[track_bucket(gfn)]; i != SHADOW_NONE16; i = s->track[i].next)
        if (s->track[i].gfn == gfn)
            return &s->track[i];
    return NULL;
}

/* The link that points at track i (its bucket's head or its predecessor's next). */
static u16 *track_link(struct shadow *s, u32 i)
{
    u16 *link = &s->track_head[track_bucket(s->track[i].gfn)];
    while (*link != i)
        link = &s->track[*link].next;
    return link;
}

static void track_remove(struct shadow *s, u32 i)
{
    *track_link(s, i) = s->track[i].next;
    u32 last = --s->ntrack;
    if (i != last) {
        /* The last track moves into slot i. */
        *track_link(s, last) = (u16)i;
        s->track[i] = s->track[last];
    }
    s->st.tracked = s->ntrack;
}

/* A guest page became tracked: leaves installed before, in any root, may map
 * it writable. The reverse map names exactly those. */
static void write_protect_gfn(struct shadow *s, u64 gfn)
{
    hpa_t frame;
    unsigned perms;
    if (s->ops.gpa_to_hpa(s->ops.ctx, gpa(gfn << PAGE_SHIFT), &frame, &perms) < 0)
        return; /* not RAM: no leaf maps it */
    frame &= PTE_ADDR;
    u32 *link = &s->rmap_head[rmap_bucket(frame)];
    while (*link != SHADOW_NONE32) {
        u32 i = *link;
        hpa_t slot = s->rmap[i].slot;
        u64 *e = table_map(s, slot & ~(hpa_t)(PAGE_SIZE - 1));
        u64 *leaf = e ? &e[(slot & (PAGE_SIZE - 1)) / sizeof(u64)] : NULL;
        if (!leaf || (*leaf & PTE_ADDR) != frame) {
            link = &s->rmap[i].next;
            continue;
        }
        *leaf &= ~(u64)PTE_RW;
        *link = s->rmap[i].next;
        s->rmap[i].next = s->rmap_free;
        s->rmap_free = i;
        s->st.rmap--;
        s->st.protects++;
        s->need_sync = true; /* another vCPU's TLB may still hold it writable */
    }
}

/* Records that root r's entries derive from the level-`level` guest table at
 * gfn whose entry 0 translates va_base. -ENOSPC when full. */
static int track_use(struct shadow *s, int r, u64 gfn, int level, u64 va_base)
{
    struct shadow_track *t = track_find(s, gfn);
    if (!t) {
        if (s->ntrack >= SHADOW_TRACK_MAX)
            return -ENOSPC;
        u32 i = s->ntrack++;
        t = &s->track[i];
        memset(t, 0, sizeof(*t));
        t->gfn = gfn;
        u32 b = track_bucket(gfn);
        t->next = s->track_head[b];
        s->track_head[b] = (u16)i;
        s->st.tracked = s->ntrack;
        write_protect_gfn(s, gfn);
    }
    t->roots |= (u32)BIT(r);
    t->flood = 0;
    for (u32 i = 0; i < t->nuses; i++) {
        struct shadow_use *u = &t->uses[i];
        if (u->level == level && u->va_base == va_base) {
            u->roots |= (u32)BIT(r);
            return 0;
        }
    }
    if (t->nuses < SHADOW_USES_MAX)
        t->uses[t->nuses++] = (struct shadow_use){ (u8)level, (u32)BIT(r), va_base };
    else
        t->overflow = true;
    return 0;
}

/* Tracks every guest table the walk read. */
static int track_walk(struct shadow *s, int r, u64 va, const struct walk *w)
{
    for (int k = 0; k < w->ntables; k++) {
        int level = LEVELS_LONG4 - k;
        u64 va_base = k == 0 ? 0 : va & ~(span(level + 1) - 1);
        int rc = track_use(s, r, w->table_gfn[k], level, va_base);
        if (rc)
            return rc;
    }
    return 0;
}

/* Forgets root r in every track; pages no root uses any more are untracked. */
static void untrack_root(struct shadow *s, int r)
{
    for (u32 i = 0; i < s->ntrack;) {
        struct shadow_track *t = &s->track[i];
        if (t->roots & BIT(r)) {
            t->roots &= ~(u32)BIT(r);
            u8 n = 0;
            for (u32 j = 0; j < t->nuses; j++) {
                t->uses[j].roots &= ~(u32)BIT(r);
                if (t->uses[j].roots)
                    t->uses[n++] = t->uses[j];
            }
            t->nuses = n;
            if (!t->roots) {
                track_remove(s, i);
                continue; /* slot i now holds the last track */
            }
        }
        i++;
    }
}

/* ---------------------------------------------------------------- dropping */

/* Clears root r's level-`level` entry for va (all it maps, span(level)),
 * dropping the tables under it. */
static void drop_range(struct shadow *s, int r, u64 va, int level)
{
    struct shadow_root *root = &s->roots[r];
    if (!root->valid)
        return;
    hpa_t pa = root->hw;
    u64 *tb = table_map(s, pa);
    for (int l = root_levels(root); tb && l >= level; l--) {
        u32 idx = ent_index(va, l);
        u64 e = tb[idx];
        if (!(e & PTE_P))
            return;
        if (l == level) {
            if (l > 1) {
                tb[idx] = 0;
                free_tree(s, e & PTE_ADDR, l - 1);
            } else {
                leaf_set(s, tb, pa, idx, 0);
            }
            return;
        }
        pa = e & PTE_ADDR;
        tb = table_map(s, pa);
    }
}

/* Drops every translation derived from the whole guest table of use u, in
 * the roots it names. */
static void drop_table_use(struct shadow *s, const struct shadow_use *u)
{
    for (u32 r = 0; r < s->nroots; r++) {
        struct shadow_root *root = &s->roots[r];
        if (!(u->roots & BIT(r)) || !root->valid)
            continue;
        if (u->level >= root_levels(root))
            clear_table(s, root->hw, root_levels(root));
        else
            drop_range(s, (int)r, u->va_base, u->level + 1);
    }
}

/* Empties the roots in mask (they stay valid and allocated). */
static void drop_roots(struct shadow *s, u32 mask)
{
    for (u32 r = 0; r < s->nroots; r++) {
        if (!(mask & BIT(r)) || !s->roots[r].valid)
            continue;
        clear_table(s, s->roots[r].hw, root_levels(&s->roots[r]));
        untrack_root(s, (int)r);
    }
}

/* Frees root r (it runs on no vCPU). */
static void evict(struct shadow *s, int r)
{
    struct shadow_root *root = &s->roots[r];
    free_tree(s, root->hw, root_levels(root));
    root->valid = false;
    untrack_root(s, r);
}

/* Empties every root and forgets every track: false when no table page was
 * dropped (tracks alone are not worth another try). */
static bool empty_all(struct shadow *s)
{
    u64 before = s->st.tables;
    for (u32 r = 0; r < s->nroots; r++) {
        struct shadow_root *root = &s->roots[r];
        if (root->valid)
            clear_table(s, root->hw, root_levels(root));
    }
    track_reset(s);
    bool any = s->st.tables != before;
    if (any)
        s->st.flushes++;
    return any;
}

/* The least recently used root no vCPU runs on, or -1. */
static int lru_idle(const struct shadow *s)
{
    int lru = -1;
    for (u32 r = 0; r < s->nroots; r++) {
        const struct shadow_root *root = &s->roots[r];
        if (root->valid && !root->active && (lru < 0 || root->last_use < s->roots[lru].last_use))
            lru = (int)r;
    }
    return lru;
}

/* The first virtual address under top-level entry idx of root r. */
static u64 top_va(const struct shadow_root *root, u32 idx)
{
    u64 va = (u64)idx << level_shift(root_levels(root));
    return root->mode == SHADOW_MODE_LONG4 ? canon(va) : va;
}

/* Forgets, in every track, root r's uses by tables below its top level whose
 * entries translate [lo, hi] (the range of one top-level entry just dropped);
 * pages no root uses any more are untracked. */
static void untrack_range(struct shadow *s, int r, u64 lo, u64 hi)
{
    int top = root_levels(&s->roots[r]);
    for (u32 i = 0; i < s->ntrack;) {
        struct shadow_track *t = &s->track[i];
        if (t->roots & BIT(r)) {
            u32 roots = 0;
            u8 n = 0;
            for (u32 j = 0; j < t->nuses; j++) {
                struct shadow_use u = t->uses[j];
                if ((u.roots & BIT(r)) && u.level < top && u.va_base >= lo && u.va_base <= hi)
                    u.roots &= ~(u32)BIT(r);
                if (u.roots) {
                    t->uses[n++] = u;
                    roots |= u.roots;
                }
            }
            t->nuses = n;
            /* With uses lost to overflow, t->roots is all that is known. */
            if (!t->overflow) {
                t->roots = roots;
                if (!roots) {
                    track_remove(s, i);
                    continue; /* slot i now holds the last track */
                }
            }
        }
        i++;
    }
}

/* The least recently filled present top-level entry of a running root,
 * other than the one the caller is filling (keep_r, keep_va; keep_r < 0:
 * none): false when there is none. */
static bool lru_subtree(struct shadow *s, int keep_r, u64 keep_va, int *out_r, u32 *out_idx)
{
    bool found = false;
    u64 oldest = 0;
    for (u32 r = 0; r < s->nroots; r++) {
        const struct shadow_root *root = &s->roots[r];
        if (!root->valid || !root->active)
            continue;
        int top = root_levels(root);
        const u64 *tb = table_map(s, root->hw);
        u32 n = top == LEVELS_LONG4 ? PT_ENTRIES : PAE_PDPTES;
        for (u32 i = 0; tb && i < n; i++) {
            if (!(tb[i] & PTE_P) || ((int)r == keep_r && i == ent_index(keep_va, top)))
                continue;
            if (!found || root->top_use[i] < oldest) {
                found = true;
                oldest = root->top_use[i];
                *out_r = (int)r;
                *out_idx = i;
            }
        }
    }
    return found;
}

/* Out of table pages or track slots: evicts the least recently used idle
 * root; with none idle, the least recently filled subtree of a running
 * root (keep_r/keep_va name the translation being filled, which is kept);
 * with none of those either, empties every root. false when nothing was
 * left to drop. */
static bool reclaim(struct shadow *s, int keep_r, u64 keep_va)
{
    int r = lru_idle(s);
    if (r >= 0) {
        evict(s, r);
        s->st.budget_evictions++;
        return true;
    }
    u32 idx;
    if (lru_subtree(s, keep_r, keep_va, &r, &idx)) {
        const struct shadow_root *root = &s->roots[r];
        u64 lo = top_va(root, idx);
        drop_range(s, r, lo, root_levels(root));
        untrack_range(s, r, lo, lo + (span(root_levels(root)) - 1));
        s->st.subtree_evictions++;
        return true;
    }
    return empty_all(s);
}

void shadow_flush_all(struct shadow *s, int cpu)
{
    s->self = cpu;
    (void)empty_all(s);
    finish(s);
}

/* ---------------------------------------------------------------- init, roots */

int shadow_init(struct shadow *s, const struct shadow_ops *ops, u32 nroots, u32 max_tables, u32 ncpus)
{
    if (!s || !ops || !ops->alloc_table || !ops->free_table || !ops->map || !ops->gread || !ops->gwrite ||
        !ops->gpa_to_hpa)
        return -EINVAL;
    if (nroots == 0)
        nroots = SHADOW_ROOTS_DEFAULT;
    if (max_tables == 0)
        max_tables = SHADOW_TABLES_DEFAULT;
    if (ncpus == 0 || ncpus > SHADOW_CPUS_MAX || nroots > SHADOW_ROOTS_MAX || nroots < ncpus ||
        max_tables < MIN_TABLES * ncpus)
        return -EINVAL;
    memset(s, 0, sizeof(*s));
    s->ops = *ops;
    s->nroots = nroots;
    s->max_tables = max_tables;
    s->ncpus = ncpus;
    for (u32 c = 0; c < SHADOW_CPUS_MAX; c++)
        s->cur[c] = -1;
    track_reset(s);
    rmap_reset(s);
    return 0;
}

void shadow_destroy(struct shadow *s)
{
    for (u32 r = 0; r < s->nroots; r++) {
        struct shadow_root *root = &s->roots[r];
        if (root->valid)
            free_tree(s, root->hw, root_levels(root));
        root->valid = false;
        root->active = 0;
    }
    track_reset(s);
    for (u32 c = 0; c < SHADOW_CPUS_MAX; c++)
        s->cur[c] = -1;
    s->self = -1;
    finish(s); /* no vCPU runs any more: sync_cpus() has nothing to wait for */
}

u64 shadow_memory_bytes(const struct shadow *s) { return s->st.tables * PAGE_SIZE + sizeof(*s); }

static int find_root(const struct shadow *s, enum shadow_mode m, u64 key, u64 bits)
{
    for (u32 r = 0; r < s->nroots; r++) {
        const struct shadow_root *root = &s->roots[r];
        if (root->valid && root->mode == m && root->cr3 == key && root->bits == bits)
            return (int)r;
    }
    return -1;
}

/* A free slot, else the least recently used idle root (evicted), else -1. */
static int pick_slot(struct shadow *s)
{
    for (u32 r = 0; r < s->nroots; r++)
        if (!s->roots[r].valid)
            return (int)r;
    int r = lru_idle(s);
    if (r >= 0) {
        evict(s, r);
        s->st.root_evictions++;
    }
    return r;
}

/* A new, empty root in slot r. A PAE root is loaded through a 32-bit CR3. */
static int new_root(struct shadow *s, int r, enum shadow_mode m, u64 key, u64 bits)
{
    hpa_t pa;
    u64 *p;
    bool below_4g = m == SHADOW_MODE_NONE;
    int rc;
    for (u32 tries = 0;; tries++) {
        rc = table_alloc(s, below_4g, &pa, &p);
        if (rc != -ENOMEM || tries > s->nroots + PT_ENTRIES || !reclaim(s, -1, 0))
            break; /* reclaim(): over budget */
    }
    if (rc)
        return rc;
    s->roots[r] = (struct shadow_root){ .valid = true, .mode = m, .cr3 = key, .bits = bits, .hw = pa };
    return 0;
}

static bool cpu_ok(const struct shadow *s, int cpu) { return cpu >= 0 && (u32)cpu < s->ncpus; }

/* vCPU cpu runs on no root. */
static void leave_root(struct shadow *s, int cpu)
{
    int r = s->cur[cpu];
    if (r >= 0)
        s->roots[r].active &= ~(u32)BIT(cpu);
    s->cur[cpu] = -1;
}

int shadow_activate(struct shadow *s, int cpu, const struct shadow_regs *g, hpa_t *hw, enum shadow_mode *mode)
{
    if (!cpu_ok(s, cpu))
        return -EINVAL;
    enum shadow_mode m;
    int rc = guest_mode(g, &m);
    if (rc)
        return rc;
    s->self = cpu;
    u64 bits = mode_bits_of(g), key = root_key(g, m);
    int r = find_root(s, m, key, bits);
    leave_root(s, cpu);
    if (r >= 0) {
        s->st.root_hits++;
    } else {
        s->st.root_misses++;
        r = pick_slot(s);
        /* nroots >= ncpus, and this vCPU left its root: one is idle or free. */
        rc = r < 0 ? -ENOMEM : new_root(s, r, m, key, bits);
        if (rc) {
            finish(s);
            return rc;
        }
    }
    s->roots[r].last_use = ++s->clock;
    s->roots[r].active |= (u32)BIT(cpu);
    s->cur[cpu] = r;
    *hw = s->roots[r].hw;
    *mode = m;
    finish(s);
    return 0;
}

/* ---------------------------------------------------------------- filling */

/* The shadow leaf for a walk that allowed the access `pfec`: the guest's
 * rights combined over its levels, intersected with the host's. */
static u64 shadow_leaf(const struct shadow_regs *g, const struct walk *w, hpa_t frame, unsigned perms, u32 pfec,
                       bool tracked)
{
    bool rw = w->w, us = w->u, nx = w->nx;
    if ((pfec & PFEC_W) && !rw) {
        /* Only a supervisor write under CR0.WP=0 gets here (the walk refuses
         * every other write to a read-only page). The hardware runs with
         * WP=1 so that tracked pages stay protected from the guest kernel, so
         * the leaf is made writable but supervisor-only: a later user access
         * faults again and is walked again (then the leaf becomes user and
         * read-only). A supervisor-only leaf escapes the hardware's SMEP and
         * SMAP checks: NX keeps SMEP's refusal of fetches; SMAP's refusal of
         * AC=0 data accesses is lost for that page until the next fill (a
         * guest running WP=0 with SMAP is not worth a slower path). */
        rw = true;
        us = false;
        nx = nx || (w->u && (g->cr4 & CR4_SMEP));
    }
    /* Read-only when the host says so, when the page is a tracked guest table
     * (its writes must be emulated), and while the guest leaf is clean: the
     * first write must fault so that the walk sets D. */
    rw = rw && (perms & SLPT_W) && !tracked && w->dirty;
    nx = nx || !(perms & SLPT_X);

    u64 e = (frame & PTE_ADDR) | PTE_P | PTE_A;
    e |= rw ? PTE_RW | PTE_D : 0;
    e |= us ? PTE_US : 0;
    e |= nx ? PTE_NX : 0;
    if (perms & SHADOW_PERM_UC) {
        /* Device memory (an assigned BAR): uncacheable whatever the guest
         * asked for, as its EPT/NPT memory type would make it under nested
         * paging. PAT entry 3 (PCD|PWT, PAT clear) is UC both at reset and
         * in Linux's layout. */
        e |= PTE_PCD | PTE_PWT;
    } else {
        e |= w->leaf & (PTE_PWT | PTE_PCD);
        if (w->leaf_level == 1)
            e |= w->leaf & PTE_PAT;
        else if (w->leaf & PTE_PAT_LARGE)
            e |= PTE_PAT;
    }
    /* No G: the hardware runs without CR4.PGE, every entry flushing anyway. */
    return e;
}

/* Installs `leaf` for va in root r, creating missing tables. A new PAE PDPTE
 * reaches the CPU's PDPTE registers at the next VM entry, which reloads them
 * from the CR3 page when EPT/NPT is off. */
static int install(struct shadow *s, int r, u64 va, u64 leaf)
{
    struct shadow_root *root = &s->roots[r];
    int top = root_levels(root);
    hpa_t pa = root->hw;
    u64 *tb = table_map(s, pa);
    for (int l = top; tb && l > 1; l--) {
        u64 *slot = &tb[ent_index(va, l)];
        if (!(*slot & PTE_P)) {
            hpa_t npa;
            u64 *nt;
            int rc = table_alloc(s, false, &npa, &nt);
            if (rc)
                return rc;
            bool pdpte = root->mode == SHADOW_MODE_NONE && l == top;
            *slot = npa | (pdpte ? PDPTE_P : SHADOW_TABLE_BITS);
        }
        pa = *slot & PTE_ADDR;
        tb = table_map(s, pa);
    }
    if (!tb)
        return -EFAULT;
    u32 idx = ent_index(va, 1);
    /* A writable leaf needs a reverse-map entry: out of them, the caller
     * reclaims (a read-only leaf would fault on the same write for ever). */
    if (leaf_writable(leaf) && !leaf_writable(tb[idx]) && s->rmap_free == SHADOW_NONE32)
        return -ENOSPC;
    leaf_set(s, tb, pa, idx, leaf);
    root->top_use[ent_index(va, top)] = ++s->clock;
    return 0;
}

/* The host refuses the access (it goes to the MMIO emulator instead). */
static bool host_refuses(unsigned perms, u32 pfec)
{
    if (!(perms & SLPT_R))
        return true;
    if ((pfec & PFEC_W) && !(perms & SLPT_W))
        return true;
    return (pfec & PFEC_I) && !(perms & SLPT_X);
}

/* One attempt at handling the fault in root r: 0 and out->result, -ENOSPC
 * when the track table or the reverse map is full, -ENOMEM past the table
 * budget, other errors. */
static int fill(struct shadow *s, int r, const struct shadow_regs *g, u64 va, u32 pfec, struct shadow_fault *out)
{
    struct walk w;
    int rc = walk(s, g, va, pfec, &w);
    if (rc < 0)
        return rc;
    if (rc > 0) {
        out->result = SHADOW_GUEST_FAULT;
        out->pfec = w.fault;
        return 0;
    }
    hpa_t frame = 0;
    unsigned perms = 0;
    rc = s->ops.gpa_to_hpa(s->ops.ctx, gpa(ALIGN_DOWN(w.gpa.v, PAGE_SIZE)), &frame, &perms);
    if (rc == -ENOENT || (rc == 0 && host_refuses(perms, pfec))) {
        out->result = SHADOW_MMIO;
        out->gpa = w.gpa;
        return 0;
    }
    if (rc < 0)
        return rc;
    /* Track first: the page written may be one of this walk's own tables. */
    rc = track_walk(s, r, va, &w);
    if (rc)
        return rc;
    bool tracked = track_find(s, gfn_of(w.gpa.v)) != NULL;
    if (tracked && (pfec & PFEC_W)) {
        out->result = SHADOW_PT_WRITE;
        out->gpa = w.gpa;
        return 0;
    }
    rc = install(s, r, va, shadow_leaf(g, &w, frame, perms, pfec, tracked));
    if (rc)
        return rc;
    out->result = SHADOW_FIXED;
    return 0;
}

/* vCPU cpu's active root must be g's: faults are handled against the regs
 * the root was built for. Returns the root and va as the shadow indexes it. */
static int check_active(const struct shadow *s, int cpu, const struct shadow_regs *g, u64 *va)
{
    enum shadow_mode m;
    if (!cpu_ok(s, cpu) || s->cur[cpu] < 0 || !s->roots[s->cur[cpu]].valid)
        return -EINVAL;
    int rc = guest_mode(g, &m);
    if (rc)
        return rc;
    const struct shadow_root *root = &s->roots[s->cur[cpu]];
    if (m != root->mode || root_key(g, m) != root->cr3 || mode_bits_of(g) != root->bits)
        return -EINVAL;
    if (m == SHADOW_MODE_NONE)
        *va &= PAE_VA_MASK;
    else if (canon(*va) != *va)
        return -EINVAL;
    return s->cur[cpu];
}

int shadow_page_fault(struct shadow *s, int cpu, const struct shadow_regs *g, u64 va, u32 pfec,
                      struct shadow_fault *out)
{
    s->st.faults++;
    memset(out, 0, sizeof(*out));
    int r = check_active(s, cpu, g, &va);
    if (r < 0)
        return r;
    s->self = cpu;
    int rc = fill(s, r, g, va, pfec, out);
    /* Out of table pages or track slots: evict idle roots one by one, then
     * empty them all (the active roots stay where the hardware points). */
    for (u32 tries = 0; (rc == -ENOMEM || rc == -ENOSPC) && tries <= s->nroots + PT_ENTRIES; tries++) {
        if (!reclaim(s, r, va))
            break;
        memset(out, 0, sizeof(*out));
        rc = fill(s, r, g, va, pfec, out);
    }
    if (rc == -ENOSPC)
        rc = -ENOMEM; /* not reached: one walk tracks 4 pages and adds one leaf at most */
    finish(s);
    if (rc)
        return rc;
    switch (out->result) {
    case SHADOW_FIXED: s->st.fills++; break;
    case SHADOW_GUEST_FAULT: s->st.guest_faults++; break;
    case SHADOW_MMIO: s->st.mmio++; break;
    case SHADOW_PT_WRITE: break;
    }
    return 0;
}

/* ---------------------------------------------------------------- guest writes */

static void release(struct shadow *s, struct shadow_track *t);

/* Drops, in every root using the tracked page, the translations that went
 * through its entry idx. */
static void drop_entry_uses(struct shadow *s, const struct shadow_track *t, u32 idx)
{
    for (u32 i = 0; i < t->nuses; i++) {
        const struct shadow_use *u = &t->uses[i];
        for (u32 r = 0; r < s->nroots; r++)
            if (u->roots & BIT(r))
                drop_range(s, (int)r, canon(u->va_base + idx * span(u->level)), u->level);
    }
}

int shadow_pt_write(struct shadow *s, int cpu, gpa_t at, const void *data, u32 len)
{
    if (!data || len == 0 || len > sizeof(u64) || (at.v & (PAGE_SIZE - 1)) + len > PAGE_SIZE)
        return -EINVAL;
    s->self = cpu;
    /* The (one or two) 8-byte entries the write touches, before and after. */
    u64 first = ALIGN_DOWN(at.v, sizeof(u64));
    u32 n = ALIGN_DOWN(at.v + len - 1, sizeof(u64)) == first ? 1 : 2;
    u64 old[2], cur[2];
    for (u32 i = 0; i < n; i++)
        if (read_entry(s, first + i * sizeof(u64), &old[i]) < 0)
            return -EFAULT;
    if (s->ops.gwrite(s->ops.ctx, at, data, len) < 0)
        return -EFAULT;
    for (u32 i = 0; i < n; i++)
        if (read_entry(s, first + i * sizeof(u64), &cur[i]) < 0)
            return -EFAULT;
    s->st.pt_writes++;

    struct shadow_track *t = track_find(s, gfn_of(at.v));
    if (!t)
        return 0;
    u32 idx0 = (u32)((first & (PAGE_SIZE - 1)) / sizeof(u64));
    for (u32 i = 0; i < n; i++) {
        if (old[i] == cur[i])
            continue;
        if (t->overflow) {
            drop_roots(s, t->roots); /* may remove t itself */
            break;
        }
        drop_entry_uses(s, t, idx0 + i);
    }
    t = track_find(s, gfn_of(at.v));
    if (t && ++t->flood >= SHADOW_FLOOD_WRITES) {
        s->st.floods++;
        release(s, t);
    }
    finish(s);
    return 0;
}

bool shadow_tracked(struct shadow *s, gpa_t at) { return track_find(s, gfn_of(at.v)) != NULL; }

void shadow_unprotect(struct shadow *s, int cpu, gpa_t at)
{
    struct shadow_track *t = track_find(s, gfn_of(at.v));
    if (!t)
        return;
    s->self = cpu;
    s->st.unprotects++;
    release(s, t);
    finish(s);
}

/* Stops tracking t's page, dropping every translation derived from it. */
static void release(struct shadow *s, struct shadow_track *t)
{
    struct shadow_track copy = *t; /* drop_roots() may move or remove *t */
    if (copy.overflow) {
        drop_roots(s, copy.roots);
    } else {
        for (u32 i = 0; i < copy.nuses; i++)
            drop_table_use(s, &copy.uses[i]);
    }
    t = track_find(s, copy.gfn);
    if (t)
        track_remove(s, (u32)(t - s->track));
}

/* ---------------------------------------------------------------- lookups */

/* vCPU cpu's active root and va as its tables index it, or -1. */
static int active_va(const struct shadow *s, int cpu, u64 *va)
{
    if (!cpu_ok(s, cpu) || s->cur[cpu] < 0 || !s->roots[s->cur[cpu]].valid)
        return -1;
    int r = s->cur[cpu];
    if (s->roots[r].mode == SHADOW_MODE_NONE) {
        *va &= PAE_VA_MASK;
        return r;
    }
    return canon(*va) == *va ? r : -1;
}

void shadow_invlpg(struct shadow *s, int cpu, u64 va)
{
    s->st.invlpg++;
    int r = active_va(s, cpu, &va);
    if (r < 0)
        return;
    s->self = cpu;
    drop_range(s, r, va, 1);
    finish(s);
}

u64 shadow_entry(const struct shadow *s, int cpu, u64 va)
{
    int r = active_va(s, cpu, &va);
    if (r < 0)
        return 0;
    const struct shadow_root *root = &s->roots[r];
    const u64 *tb = table_map(s, root->hw);
    for (int l = root_levels(root); tb; l--) {
        u64 e = tb[ent_index(va, l)];
        if (l == 1 || !(e & PTE_P))
            return l == 1 ? e : 0;
        tb = table_map(s, e & PTE_ADDR);
    }
    return 0;
}
