/* Bitmap frame allocator; see page_alloc.h for the contract. */
#include "kernel/core/page_alloc.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/lib/string.h"

#define TAG       "pfa"
#define WORD_BITS 64

static u64 nwords(u64 npages) { return (npages + WORD_BITS - 1) / WORD_BITS; }

/* ------------------------------------------------------------------ bitmaps */

/* Bits [lo, hi) of one word, 0 <= lo < hi <= 64. */
static u64 word_mask(u64 lo, u64 hi)
{
    u64 m = ~0ULL << lo;
    return hi >= WORD_BITS ? m : m & ((1ULL << hi) - 1);
}

/* Without -mpopcnt gcc calls libgcc for __builtin_popcountll, and the
 * hypervisor does not link libgcc. */
static u64 popcount64(u64 x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (x * 0x0101010101010101ULL) >> 56;
}

/* First index in [start, end) whose bit equals want, or end. */
static u64 find_next(const u64 *bm, u64 start, u64 end, bool want)
{
    u64 i = start;

    while (i < end) {
        u64 w = bm[i / WORD_BITS];
        u64 lo = i % WORD_BITS;
        if (!want)
            w = ~w;
        w &= ~0ULL << lo;
        if (w) {
            u64 hit = i - lo + (u64)__builtin_ctzll(w);
            return hit < end ? hit : end;
        }
        i = i - lo + WORD_BITS;
    }
    return end;
}

static void set_bits(u64 *bm, u64 start, u64 n, bool value)
{
    u64 end = start + n;

    while (start < end) {
        u64 lo = start % WORD_BITS;
        u64 hi = MIN(end - (start - lo), (u64)WORD_BITS);
        u64 m = word_mask(lo, hi);
        if (value)
            bm[start / WORD_BITS] |= m;
        else
            bm[start / WORD_BITS] &= ~m;
        start += hi - lo;
    }
}

static u64 count_bits(const u64 *bm, u64 start, u64 n)
{
    u64 end = start + n, c = 0;

    while (start < end) {
        u64 lo = start % WORD_BITS;
        u64 hi = MIN(end - (start - lo), (u64)WORD_BITS);
        c += popcount64(bm[start / WORD_BITS] & word_mask(lo, hi));
        start += hi - lo;
    }
    return c;
}

/* ------------------------------------------------------------------ helpers */

static bool node_valid(int node) { return node >= 0 && node < PFA_MAX_NODES; }

static hpa_t range_end(const struct pfa_range *r) { return r->base + (r->npages << PAGE_SHIFT); }

/* The range holding addr, or NULL. */
static struct pfa_range *range_of(const struct page_alloc *pa, hpa_t addr)
{
    for (int i = 0; i < pa->nranges; i++) {
        const struct pfa_range *r = &pa->ranges[i];
        if (addr >= r->base && addr < range_end(r))
            return (struct pfa_range *)r;
    }
    return NULL;
}

/* Moves frames between the free/used/reserved buckets of a range, its node and
 * the totals together, so the three views can never drift apart. */
static void account(struct page_alloc *pa, struct pfa_range *r, s64 dfree, s64 dused, s64 dresv)
{
    struct pfa_stats *s[3] = { &r->stats, &pa->node[r->node], &pa->all };

    for (int i = 0; i < 3; i++) {
        s[i]->free += (u64)dfree;
        s[i]->used += (u64)dused;
        s[i]->reserved += (u64)dresv;
    }
}

/* Clips [base, end) to range r as frame indices; false if they do not meet. */
static bool clip(const struct pfa_range *r, hpa_t base, hpa_t end, u64 *first, u64 *count)
{
    hpa_t lo = MAX(base, r->base), hi = MIN(end, range_end(r));

    if (lo >= hi)
        return false;
    *first = (lo - r->base) >> PAGE_SHIFT;
    *count = (hi - lo) >> PAGE_SHIFT;
    return true;
}

/* Frames in [first, first+count) of r that are allocated (used, not reserved). */
static u64 count_allocated(const struct pfa_range *r, u64 first, u64 count)
{
    return count_bits(r->used, first, count) - count_bits(r->resv, first, count);
}

static void reserve_in(struct page_alloc *pa, struct pfa_range *r, u64 first, u64 count)
{
    u64 already = count_bits(r->resv, first, count);

    set_bits(r->used, first, count, true);
    set_bits(r->resv, first, count, true);
    account(pa, r, -(s64)(count - already), 0, (s64)(count - already));
}

/* Page-rounded-outwards extent of [base, base+len); false if it wraps. */
static bool outward(hpa_t base, u64 len, hpa_t *lo, hpa_t *hi)
{
    hpa_t end = base + len;

    if (len == 0 || end < base || end > UINT64_MAX - PAGE_SIZE + 1)
        return false;
    *lo = ALIGN_DOWN(base, PAGE_SIZE);
    *hi = ALIGN_UP(end, PAGE_SIZE);
    return true;
}

/* ------------------------------------------------------------------ setup */

void pfa_init(struct page_alloc *pa)
{
    memset(pa, 0, sizeof(*pa));
    for (int n = 0; n < PFA_MAX_NODES; n++) {
        int k = 0;
        for (int m = 0; m < PFA_MAX_NODES; m++)
            if (m != n)
                pa->fallback[n][k++] = (s8)m;
        pa->nfallback[n] = (u8)k;
    }
}

size_t pfa_bitmap_bytes(u64 len)
{
    /* Two bitmaps: in-use, and reserved so that a free of reserved frames can
     * be told apart from a free of allocated ones. */
    return (size_t)(2 * nwords(ALIGN_UP(len, PAGE_SIZE) >> PAGE_SHIFT) * sizeof(u64));
}

int pfa_add_range(struct page_alloc *pa, hpa_t base, u64 len, int node, void *bitmap)
{
    if (!pa || !bitmap || !node_valid(node) || len == 0 || !IS_ALIGNED(base, PAGE_SIZE) ||
        !IS_ALIGNED(len, PAGE_SIZE) || base + len < base || !IS_ALIGNED((uintptr_t)bitmap, 8)) {
        log_warn(TAG, "add_range %#llx+%#llx node %d: bad arguments", (unsigned long long)base, (unsigned long long)len,
                 node);
        return -EINVAL;
    }
    if (pa->nranges >= PFA_MAX_RANGES) {
        log_warn(TAG, "add_range %#llx: table full (%d ranges)", (unsigned long long)base, PFA_MAX_RANGES);
        return -ENOSPC;
    }
    int pos = 0;
    for (int i = 0; i < pa->nranges; i++) {
        const struct pfa_range *r = &pa->ranges[i];
        if (base < range_end(r) && r->base < base + len) {
            log_warn(TAG, "add_range %#llx+%#llx overlaps %#llx+%#llx", (unsigned long long)base,
                     (unsigned long long)len, (unsigned long long)r->base,
                     (unsigned long long)(r->npages << PAGE_SHIFT));
            return -EEXIST;
        }
        if (r->base < base)
            pos = i + 1;
    }

    /* The new bitmap may sit in an existing range; it must not be in memory
     * someone already owns. */
    size_t bm_bytes = pfa_bitmap_bytes(len);
    hpa_t bm_lo, bm_hi;
    if (!outward(ptr_to_hpa(bitmap), bm_bytes, &bm_lo, &bm_hi))
        return -EINVAL;
    for (int i = 0; i < pa->nranges; i++) {
        u64 first, count;
        if (clip(&pa->ranges[i], bm_lo, bm_hi, &first, &count) && count_allocated(&pa->ranges[i], first, count)) {
            log_warn(TAG, "add_range %#llx: bitmap at %p is in allocated memory", (unsigned long long)base, bitmap);
            return -EBUSY;
        }
    }

    u64 npages = len >> PAGE_SHIFT;
    u64 nw = nwords(npages);
    memmove(&pa->ranges[pos + 1], &pa->ranges[pos], (size_t)(pa->nranges - pos) * sizeof(pa->ranges[0]));
    pa->nranges++;
    struct pfa_range *r = &pa->ranges[pos];
    memset(r, 0, sizeof(*r));
    r->base = base;
    r->npages = npages;
    r->node = node;
    r->used = bitmap;
    r->resv = r->used + nw;
    memset(bitmap, 0, bm_bytes);
    r->stats.total = r->stats.free = npages;
    pa->node[node].total += npages;
    pa->node[node].free += npages;
    pa->all.total += npages;
    pa->all.free += npages;

    /* Reserve bitmaps that live in managed memory: this range's wherever it
     * is, and older ranges' if they fall inside this one. */
    for (int i = 0; i < pa->nranges; i++) {
        struct pfa_range *q = &pa->ranges[i];
        u64 first, count;
        if (clip(q, bm_lo, bm_hi, &first, &count))
            reserve_in(pa, q, first, count);
        if (q == r)
            continue;
        hpa_t qlo, qhi;
        if (outward(ptr_to_hpa(q->used), pfa_bitmap_bytes(q->npages << PAGE_SHIFT), &qlo, &qhi) &&
            clip(r, qlo, qhi, &first, &count))
            reserve_in(pa, r, first, count);
    }
    return 0;
}

int pfa_reserve(struct page_alloc *pa, hpa_t base, u64 len)
{
    hpa_t lo, hi;

    if (!pa || !outward(base, len, &lo, &hi))
        return -EINVAL;
    for (int i = 0; i < pa->nranges; i++) {
        u64 first, count;
        if (clip(&pa->ranges[i], lo, hi, &first, &count) && count_allocated(&pa->ranges[i], first, count)) {
            log_warn(TAG, "reserve %#llx+%#llx: frames are allocated", (unsigned long long)base,
                     (unsigned long long)len);
            return -EBUSY;
        }
    }
    for (int i = 0; i < pa->nranges; i++) {
        u64 first, count;
        if (clip(&pa->ranges[i], lo, hi, &first, &count))
            reserve_in(pa, &pa->ranges[i], first, count);
    }
    return 0;
}

int pfa_unreserve(struct page_alloc *pa, hpa_t base, u64 len)
{
    if (!pa || len == 0 || !IS_ALIGNED(base, PAGE_SIZE) || !IS_ALIGNED(len, PAGE_SIZE) || base + len < base)
        return -EINVAL;
    hpa_t end = base + len;
    for (int i = 0; i < pa->nranges; i++) {
        u64 first, count;
        if (clip(&pa->ranges[i], base, end, &first, &count) && count_allocated(&pa->ranges[i], first, count)) {
            log_warn(TAG, "unreserve %#llx+%#llx: frames are allocated", (unsigned long long)base,
                     (unsigned long long)len);
            return -EBUSY;
        }
    }
    for (int i = 0; i < pa->nranges; i++) {
        struct pfa_range *r = &pa->ranges[i];
        u64 first, count;
        if (!clip(r, base, end, &first, &count))
            continue;
        u64 n = count_bits(r->resv, first, count);
        /* Reserved frames are exactly the used ones here (none allocated). */
        set_bits(r->used, first, count, false);
        set_bits(r->resv, first, count, false);
        account(pa, r, (s64)n, 0, -(s64)n);
        if (n && first < r->hint)
            r->hint = first;
    }
    return 0;
}

int pfa_set_fallback(struct page_alloc *pa, int node, const int *order, int n)
{
    bool seen[PFA_MAX_NODES] = { false };
    int k = 0;

    if (!pa || !node_valid(node) || n < 0 || n > PFA_MAX_NODES || (n && !order))
        return -EINVAL;
    for (int i = 0; i < n; i++)
        if (!node_valid(order[i]) || seen[order[i]])
            return -EINVAL;
        else
            seen[order[i]] = true;
    for (int i = 0; i < n; i++)
        if (order[i] != node)
            pa->fallback[node][k++] = (s8)order[i];
    pa->nfallback[node] = (u8)k;
    return 0;
}

/* ------------------------------------------------------------------ alloc/free */

/* First fit of npages frames aligned to align in r; advances the hint past
 * the used prefix it walks over. */
static bool range_fit(struct pfa_range *r, u64 npages, u64 align, u64 *idx)
{
    u64 pfn0 = r->base >> PAGE_SHIFT;
    u64 i;

    if (npages > r->npages)
        return false;
    u64 last = r->npages - npages;
    i = find_next(r->used, r->hint, r->npages, false);
    r->hint = i;
    while (i <= last) {
        u64 rem = (pfn0 + i) & (align - 1);
        if (rem) {
            u64 step = align - rem;
            if (step > last - i)
                return false;
            i += step;
        }
        u64 u = find_next(r->used, i, i + npages, true);
        if (u == i + npages) {
            *idx = i;
            return true;
        }
        i = find_next(r->used, u + 1, r->npages, false);
    }
    return false;
}

/* Tries the ranges of one node (or all when node < 0) in address order. */
static bool alloc_from(struct page_alloc *pa, int node, u64 npages, u64 align, hpa_t *out, int *got)
{
    for (int i = 0; i < pa->nranges; i++) {
        struct pfa_range *r = &pa->ranges[i];
        u64 idx;
        if (node >= 0 && r->node != node)
            continue;
        if (r->stats.free < npages || !range_fit(r, npages, align, &idx))
            continue;
        set_bits(r->used, idx, npages, true);
        if (idx == r->hint)
            r->hint = idx + npages;
        account(pa, r, -(s64)npages, (s64)npages, 0);
        r->stats.allocs++;
        pa->node[r->node].allocs++;
        pa->all.allocs++;
        *out = r->base + (idx << PAGE_SHIFT);
        *got = r->node;
        return true;
    }
    return false;
}

int pfa_alloc(struct page_alloc *pa, int node, u64 npages, u64 align_pages, unsigned flags, hpa_t *out, int *got_node)
{
    int got = -1;
    hpa_t addr = 0;
    bool ok;

    if (!pa || !out || npages == 0 || align_pages == 0 || (align_pages & (align_pages - 1)) ||
        (flags & ~(PFA_STRICT | PFA_ANY_NODE)) || (flags == (PFA_STRICT | PFA_ANY_NODE)) ||
        (!(flags & PFA_ANY_NODE) && !node_valid(node)))
        return -EINVAL;

    if (flags & PFA_ANY_NODE) {
        ok = alloc_from(pa, -1, npages, align_pages, &addr, &got);
    } else {
        ok = alloc_from(pa, node, npages, align_pages, &addr, &got);
        for (int k = 0; !ok && !(flags & PFA_STRICT) && k < pa->nfallback[node]; k++)
            ok = alloc_from(pa, pa->fallback[node][k], npages, align_pages, &addr, &got);
        if (ok && got != node)
            pa->node[node].fallbacks++;
    }
    if (!ok) {
        pa->all.failures++;
        if (!(flags & PFA_ANY_NODE))
            pa->node[node].failures++;
        return -ENOMEM;
    }
    *out = addr;
    if (got_node)
        *got_node = got;
    return 0;
}

int pfa_free(struct page_alloc *pa, hpa_t base, u64 npages)
{
    if (!pa)
        return -EINVAL;
    if (!IS_ALIGNED(base, PAGE_SIZE) || npages == 0) {
        log_warn(TAG, "free %#llx x%llu: bad arguments", (unsigned long long)base, (unsigned long long)npages);
        return -EINVAL;
    }
    struct pfa_range *r = range_of(pa, base);
    if (!r) {
        log_warn(TAG, "free %#llx: not managed memory", (unsigned long long)base);
        return -ENOENT;
    }
    u64 idx = (base - r->base) >> PAGE_SHIFT;
    if (npages > r->npages - idx) {
        log_warn(TAG, "free %#llx x%llu: runs past the end of its range", (unsigned long long)base,
                 (unsigned long long)npages);
        return -EINVAL;
    }
    u64 rf = find_next(r->resv, idx, idx + npages, true);
    if (rf != idx + npages) {
        log_warn(TAG, "free %#llx x%llu: frame %#llx is reserved", (unsigned long long)base, (unsigned long long)npages,
                 (unsigned long long)(r->base + (rf << PAGE_SHIFT)));
        return -EPERM;
    }
    u64 ff = find_next(r->used, idx, idx + npages, false);
    if (ff != idx + npages) {
        log_warn(TAG, "free %#llx x%llu: frame %#llx is not allocated (double free?)", (unsigned long long)base,
                 (unsigned long long)npages, (unsigned long long)(r->base + (ff << PAGE_SHIFT)));
        return -EFAULT;
    }
    set_bits(r->used, idx, npages, false);
    if (idx < r->hint)
        r->hint = idx;
    account(pa, r, (s64)npages, -(s64)npages, 0);
    r->stats.frees++;
    pa->node[r->node].frees++;
    pa->all.frees++;
    return 0;
}

/* ------------------------------------------------------------------ queries */

static const struct pfa_stats *stats_of(const struct page_alloc *pa, int node)
{
    static const struct pfa_stats empty;

    if (!pa)
        return &empty;
    if (node == PFA_ALL_NODES)
        return &pa->all;
    return node_valid(node) ? &pa->node[node] : &empty;
}

u64 pfa_free_pages(const struct page_alloc *pa, int node) { return stats_of(pa, node)->free; }

u64 pfa_total_pages(const struct page_alloc *pa, int node) { return stats_of(pa, node)->total; }

void pfa_node_stats(const struct page_alloc *pa, int node, struct pfa_stats *out) { *out = *stats_of(pa, node); }

int pfa_range_count(const struct page_alloc *pa) { return pa ? pa->nranges : 0; }

int pfa_range_info(const struct page_alloc *pa, int idx, struct pfa_range_info *out)
{
    if (!pa || idx < 0 || idx >= pa->nranges)
        return -ENOENT;
    const struct pfa_range *r = &pa->ranges[idx];
    out->base = r->base;
    out->npages = r->npages;
    out->node = r->node;
    out->stats = r->stats;
    return 0;
}

int pfa_node_of(const struct page_alloc *pa, hpa_t addr)
{
    const struct pfa_range *r = pa ? range_of(pa, addr) : NULL;

    return r ? r->node : -ENOENT;
}

static bool stats_match(const char *what, int idx, const struct pfa_stats *a, const struct pfa_stats *b)
{
    if (a->total == b->total && a->free == b->free && a->used == b->used && a->reserved == b->reserved)
        return true;
    log_err(TAG,
            "check: %s %d: counted total %llu free %llu used %llu reserved %llu, "
            "recorded %llu/%llu/%llu/%llu",
            what, idx, (unsigned long long)a->total, (unsigned long long)a->free, (unsigned long long)a->used,
            (unsigned long long)a->reserved, (unsigned long long)b->total, (unsigned long long)b->free,
            (unsigned long long)b->used, (unsigned long long)b->reserved);
    return false;
}

int pfa_check(const struct page_alloc *pa)
{
    struct pfa_stats node[PFA_MAX_NODES], all;
    bool ok = true;

    memset(node, 0, sizeof(node));
    memset(&all, 0, sizeof(all));
    for (int i = 0; i < pa->nranges; i++) {
        const struct pfa_range *r = &pa->ranges[i];
        struct pfa_stats c = { 0 };
        c.total = r->npages;
        u64 inuse = count_bits(r->used, 0, r->npages);
        c.reserved = count_bits(r->resv, 0, r->npages);
        c.used = inuse - c.reserved;
        c.free = c.total - inuse;
        /* Reserved must be a subset of in-use. */
        for (u64 w = 0; w < nwords(r->npages); w++)
            if (r->resv[w] & ~r->used[w]) {
                log_err(TAG, "check: range %d: reserved frame not marked in use", i);
                ok = false;
                break;
            }
        if (r->hint > r->npages || count_bits(r->used, 0, r->hint) != r->hint) {
            log_err(TAG, "check: range %d: hint %llu passes a free frame", i, (unsigned long long)r->hint);
            ok = false;
        }
        if (i > 0 && pa->ranges[i - 1].base >= r->base) {
            log_err(TAG, "check: range %d out of order", i);
            ok = false;
        }
        ok &= stats_match("range", i, &c, &r->stats);
        struct pfa_stats *s[2] = { &node[r->node], &all };
        for (int k = 0; k < 2; k++) {
            s[k]->total += c.total;
            s[k]->free += c.free;
            s[k]->used += c.used;
            s[k]->reserved += c.reserved;
        }
    }
    for (int n = 0; n < PFA_MAX_NODES; n++)
        ok &= stats_match("node", n, &node[n], &pa->node[n]);
    ok &= stats_match("all", -1, &all, &pa->all);
    return ok ? 0 : -EFAULT;
}

u64 pfa_free_aligned(const struct page_alloc *pa, int node, u64 align_pages, u64 *largest)
{
    u64 total = 0, big = 0;
    if (!align_pages || (align_pages & (align_pages - 1)))
        align_pages = 1;
    u64 align = align_pages * PAGE_SIZE;
    for (int i = 0; i < pa->nranges; i++) {
        const struct pfa_range *r = &pa->ranges[i];
        if (node != PFA_ALL_NODES && r->node != node)
            continue;
        u64 at = 0;
        while (at < r->npages) {
            u64 s = find_next(r->used, at, r->npages, false);
            if (s >= r->npages)
                break;
            u64 e = find_next(r->used, s, r->npages, true);
            hpa_t lo = ALIGN_UP(r->base + s * PAGE_SIZE, align), hi = ALIGN_DOWN(r->base + e * PAGE_SIZE, align);
            if (hi > lo) {
                total += (hi - lo) / PAGE_SIZE;
                big = MAX(big, (hi - lo) / PAGE_SIZE);
            }
            at = e;
        }
    }
    if (largest)
        *largest = big;
    return total;
}
