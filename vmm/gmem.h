/* A partition's guest RAM as the hypervisor reaches it: guest-physical
 * [0, size) made of one or more host blocks ("chunks"), each on one NUMA node,
 * laid end to end in guest-physical space. A partition whose memory is spread
 * over nodes (numa = "spread") has one chunk per node, in the planner's order.
 *
 * Every access is bounds-checked against the whole map and may cross chunk
 * boundaries; arch-neutral, so the host unit tests run it over heap blocks. */
#ifndef ISTHMUS_VMM_GMEM_H
#define ISTHMUS_VMM_GMEM_H

#include "kernel/lib/types.h"

#define GMEM_MAX_CHUNKS 8

struct gmem_chunk {
    u64 gpa; /* where it starts in the guest */
    u64 size;
    hpa_t hpa; /* host block */
    u8 *hva;   /* the hypervisor's pointer to it */
    s32 node;
};

struct gmem {
    struct gmem_chunk c[GMEM_MAX_CHUNKS];
    u32 n;
    u64 size; /* sum of the chunks */
};

/* Appends a chunk at guest-physical `size` so far. -ENOSPC when full,
 * -EINVAL for an empty one. */
int gmem_add(struct gmem *m, hpa_t hpa, u8 *hva, u64 size, s32 node) __must_check;
/* Copies between guest-physical [g, g + len) and the hypervisor: -ERANGE, and
 * nothing copied, when any of it lies outside [0, size). */
int gmem_read(const struct gmem *m, u64 g, void *dst, u64 len) __must_check;
int gmem_write(const struct gmem *m, u64 g, const void *src, u64 len) __must_check;
int gmem_zero(const struct gmem *m, u64 g, u64 len) __must_check;
/* A pointer to [g, g + len) when it lies inside one chunk, else NULL. */
void *gmem_ptr(const struct gmem *m, u64 g, u64 len);
/* gmem_ptr with the first chunk tried in line: the data path translates
 * several addresses per frame, and most partitions have one chunk. */
static inline void *gmem_ptr_fast(const struct gmem *m, u64 g, u64 len)
{
    const struct gmem_chunk *c = &m->c[0];
    u64 in = g - c->gpa;
    if (likely(m->n && g >= c->gpa && in < c->size && len <= c->size - in))
        return c->hva + in;
    return gmem_ptr(m, g, len);
}
/* The chunk holding g, or NULL. */
const struct gmem_chunk *gmem_chunk_of(const struct gmem *m, u64 g);

#endif
