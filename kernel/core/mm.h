/* The hypervisor's page-frame allocator: one struct page_alloc behind a lock,
 * fed at boot with the free RAM of every NUMA node. */
#ifndef ISTHMUS_KERNEL_MM_H
#define ISTHMUS_KERNEL_MM_H

#include "kernel/lib/types.h"
#include "kernel/core/page_alloc.h"

struct boot_info;
struct topology;

int mm_init(const struct boot_info *bi, const struct topology *topo) __must_check;
/* npages contiguous zeroed frames aligned to align_pages, preferably on node
 * (nearest other nodes after it unless PFA_STRICT); *got_node may be NULL. */
int mm_alloc(int node, u64 npages, u64 align_pages, unsigned flags, hpa_t *out, int *got_node) __must_check;
int mm_free(hpa_t base, u64 npages) __must_check;
/* mm_free() for unwind paths: a failure (a bug) is logged, not returned. */
void mm_release(hpa_t base, u64 npages);
/* Free bytes on all nodes. */
u64 mm_free_bytes(void);
/* Free pages of a node in runs aligned to align_pages (see pfa_free_aligned). */
u64 mm_free_aligned(int node, u64 align_pages, u64 *largest);
/* Read access for the shell: takes the lock, copies, releases. */
void mm_snapshot(struct page_alloc *out);

#endif
