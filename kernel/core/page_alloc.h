/* NUMA-aware allocator of 4 KiB host-physical frames.
 *
 * Memory is described as ranges of frames, each on one NUMA node and tracked by
 * a bitmap whose storage the caller provides (pfa_bitmap_bytes()). The
 * allocator keeps all of its state in struct page_alloc and those bitmaps; it
 * never touches the managed frames, so host tests can manage fake addresses.
 *
 * Allocation is first fit in address order within a node's ranges, so the same
 * sequence of requests always yields the same addresses.
 *
 * No locking inside: the caller serialises every call on one page_alloc. */
#ifndef ISTHMUS_KERNEL_PAGE_ALLOC_H
#define ISTHMUS_KERNEL_PAGE_ALLOC_H

#include "kernel/lib/types.h"

#define PFA_MAX_NODES  16
#define PFA_MAX_RANGES 128
#define PFA_ALL_NODES  (-1) /* node argument of the statistics queries */

/* pfa_alloc() flags */
#define PFA_STRICT   0x1u /* only the requested node; -ENOMEM otherwise */
#define PFA_ANY_NODE 0x2u /* node is ignored: any range, in address order */

/* Frame counts and event counters. total = free + used + reserved. */
struct pfa_stats {
    u64 total;
    u64 free;
    u64 used;      /* handed out by pfa_alloc() */
    u64 reserved;  /* withheld by pfa_reserve() or for the bitmaps */
    u64 allocs;    /* successful pfa_alloc() calls served from here */
    u64 frees;     /* successful pfa_free() calls */
    u64 failures;  /* pfa_alloc() calls for this node that failed (0 per range) */
    u64 fallbacks; /* calls for this node served by another node (0 per range) */
};

struct pfa_range {
    hpa_t base;
    u64 npages;
    int node;
    u64 *used; /* bit set: frame allocated or reserved */
    u64 *resv; /* bit set: frame reserved (a subset of used) */
    u64 hint;  /* every frame below this index is in use */
    struct pfa_stats stats;
};

struct page_alloc {
    struct pfa_range ranges[PFA_MAX_RANGES]; /* sorted by base */
    int nranges;
    s8 fallback[PFA_MAX_NODES][PFA_MAX_NODES];
    u8 nfallback[PFA_MAX_NODES];
    struct pfa_stats node[PFA_MAX_NODES];
    struct pfa_stats all;
};

/* Per-range view for the shell's `mem` command. */
struct pfa_range_info {
    hpa_t base;
    u64 npages;
    int node;
    struct pfa_stats stats;
};

void pfa_init(struct page_alloc *pa);

/* Bytes of bitmap storage pfa_add_range() needs for a range of len bytes. */
size_t pfa_bitmap_bytes(u64 len);

/* Adds [base, base+len) on node. base and len must be page-aligned and non-zero,
 * bitmap 8-byte aligned with pfa_bitmap_bytes(len) bytes; it is initialised
 * here and must stay valid for the allocator's lifetime. Bitmap storage that
 * lies inside a managed range is reserved automatically (either order of adding).
 * -EINVAL bad arguments, -EEXIST overlaps an existing range, -ENOSPC table full. */
int pfa_add_range(struct page_alloc *pa, hpa_t base, u64 len, int node, void *bitmap) __must_check;

/* Withholds every managed frame touching [base, base+len) (rounded outwards to
 * pages); unmanaged parts are ignored and reserving twice is harmless.
 * -EINVAL len 0 or wraps, -EBUSY some frame is allocated (nothing changed). */
int pfa_reserve(struct page_alloc *pa, hpa_t base, u64 len) __must_check;

/* Returns reserved frames in [base, base+len) (page-aligned) to the free pool,
 * e.g. firmware memory reclaimed after boot. Frames that are free stay free.
 * -EINVAL bad arguments, -EBUSY some frame is allocated (nothing changed). */
int pfa_unreserve(struct page_alloc *pa, hpa_t base, u64 len) __must_check;

/* Nearest-first node order for allocations on node that may fall back. The
 * requested node is always tried first whether listed or not. Without a call
 * the order is the other nodes by number. -EINVAL bad node, n or duplicate. */
int pfa_set_fallback(struct page_alloc *pa, int node, const int *order, int n) __must_check;

/* Allocates npages contiguous frames whose first address is a multiple of
 * align_pages frames (a power of two), on node, on the fallback nodes, or
 * anywhere per flags. *out gets the address, *got_node (may be NULL) the node
 * it came from. -EINVAL bad arguments, -ENOMEM no fit. */
int pfa_alloc(struct page_alloc *pa, int node, u64 npages, u64 align_pages, unsigned flags, hpa_t *out,
              int *got_node) __must_check;

static inline int __must_check pfa_alloc_page(struct page_alloc *pa, int node, hpa_t *out)
{
    return pfa_alloc(pa, node, 1, 1, 0, out, NULL);
}

/* Frees npages frames at base; they may be any part of earlier allocations.
 * Detected misuse changes nothing, logs a warning and returns:
 * -EINVAL misaligned base, npages 0, or the run leaves its range;
 * -ENOENT base is not in any range; -EPERM a frame is reserved;
 * -EFAULT a frame is not allocated (double free). */
int pfa_free(struct page_alloc *pa, hpa_t base, u64 npages) __must_check;

/* Statistics. node is 0..PFA_MAX_NODES-1 or PFA_ALL_NODES; an invalid node
 * reads as empty. */
u64 pfa_free_pages(const struct page_alloc *pa, int node);
u64 pfa_total_pages(const struct page_alloc *pa, int node);
void pfa_node_stats(const struct page_alloc *pa, int node, struct pfa_stats *out);
/* Free frames of node (or PFA_ALL_NODES) that lie in free runs aligned to
 * align_pages, counted in whole aligned units: what allocations with that
 * alignment can still get. *largest (may be NULL): the biggest such run. */
u64 pfa_free_aligned(const struct page_alloc *pa, int node, u64 align_pages, u64 *largest);
int pfa_range_count(const struct page_alloc *pa);
/* -ENOENT when idx is out of bounds. Indices follow address order. */
int pfa_range_info(const struct page_alloc *pa, int idx, struct pfa_range_info *out) __must_check;
/* The node owning the frame at pa, or -ENOENT. */
int pfa_node_of(const struct page_alloc *pa, hpa_t addr);

/* Recounts every bitmap against the statistics and checks the search hints:
 * 0, or -EFAULT (with a log_err naming what disagrees). For tests and the shell. */
int pfa_check(const struct page_alloc *pa) __must_check;

#endif
