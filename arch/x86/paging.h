/* The hypervisor's own page tables: an identity map of RAM (write-back, no
 * execute), its image mapped text RX / rodata R / data RW+NX, device MMIO mapped
 * uncached on demand, page 0 left unmapped to catch NULL dereferences. No
 * mapping is ever both writable and executable; paging_verify() proves it. */
#ifndef ISTHMUS_ARCH_X86_PAGING_H
#define ISTHMUS_ARCH_X86_PAGING_H

#include "kernel/lib/types.h"
#include "kernel/core/bootinfo.h"

/* Mapping requests. */
#define MAP_READ  0
#define MAP_WRITE BIT(0)
#define MAP_EXEC  BIT(1)
#define MAP_UC    BIT(2)

/* Builds the tables from the boot memory map and switches CR3 to them. */
int paging_init(const struct boot_info *bi) __must_check;
/* Identity-maps [pa, pa+len) with the given MAP_* flags (page-rounded). Before
 * the APs start, or the caller handles other CPUs' TLBs. */
int paging_map(hpa_t pa, u64 len, unsigned flags) __must_check;
bool paging_is_mapped(hpa_t pa, u64 len);
/* Walks every leaf; returns the number of writable+executable leaves (must be 0). */
struct paging_stats {
    u64 leaves_4k, leaves_2m, wx_violations, exec_pages, tables;
};
void paging_verify(struct paging_stats *st);
u64 paging_root(void); /* CR3 value for the APs */
/* Bump allocator over the early pool (zeroed pages), for what must exist
 * before the page allocator does. */
void *early_alloc_pages(u64 npages);

#endif
