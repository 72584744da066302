/* See mm.h. */
#include "kernel/core/mm.h"
#include "kernel/core/bootinfo.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/lib/spinlock.h"
#include "kernel/lib/string.h"
#include "kernel/core/topology.h"
#include "arch/x86/hw/cpu.h"

static struct page_alloc pfa;
static spinlock_t mm_lock = SPINLOCK_INIT;

static int add_usable(hpa_t base, u64 len, int node)
{
    /* The range's bitmap lives in its own first frames; the allocator reserves them. */
    hpa_t b = ALIGN_UP(base, PAGE_SIZE), e = ALIGN_DOWN(base + len, PAGE_SIZE);
    /* Page 0 stays unmapped so that NULL dereferences fault. */
    if (b == 0)
        b = PAGE_SIZE;
    if (e <= b || e - b < 2 * PAGE_SIZE)
        return 0;
    int err = pfa_add_range(&pfa, b, e - b, node, hpa_to_ptr(b));
    if (err)
        log_warn("mm", "cannot manage %llx-%llx on node %d: %d", (unsigned long long)b, (unsigned long long)e, node,
                 err);
    return err;
}

int mm_init(const struct boot_info *bi, const struct topology *topo)
{
    (void)bi;
    pfa_init(&pfa);
    /* Usable RAM per node, as the topology merged it (the firmware map is often
     * fragmented into many adjacent boot-services pieces). */
    for (u32 n = 0; n < topo->nnodes; n++) {
        u32 cursor = 0;
        u64 base, len;
        while (topology_next_usable(topo, n, &cursor, &base, &len))
            (void)add_usable(base, len, (int)n);
    }
    for (u32 n = 0; n < topo->nnodes && n < PFA_MAX_NODES; n++) {
        int order[PFA_MAX_NODES];
        int cnt = topology_nearest_nodes(topo, n, order, PFA_MAX_NODES);
        if (cnt > 1 && pfa_set_fallback(&pfa, (int)n, order + 1, cnt - 1) < 0)
            log_warn("mm", "cannot set the fallback order of node %u", n);
    }
    return pfa_free_pages(&pfa, PFA_ALL_NODES) ? 0 : -ENOMEM;
}

int mm_alloc(int node, u64 npages, u64 align_pages, unsigned flags, hpa_t *out, int *got_node)
{
    u64 f = irq_save();
    spin_lock(&mm_lock);
    int err = pfa_alloc(&pfa, node, npages, align_pages, flags, out, got_node);
    spin_unlock(&mm_lock);
    irq_restore(f);
    if (!err)
        memset(hpa_to_ptr(*out), 0, npages * PAGE_SIZE);
    return err;
}

int mm_free(hpa_t base, u64 npages)
{
    u64 f = irq_save();
    spin_lock(&mm_lock);
    int err = pfa_free(&pfa, base, npages);
    spin_unlock(&mm_lock);
    irq_restore(f);
    return err;
}

void mm_snapshot(struct page_alloc *out)
{
    u64 f = irq_save();
    spin_lock(&mm_lock);
    memcpy(out, &pfa, sizeof(*out));
    spin_unlock(&mm_lock);
    irq_restore(f);
}

void mm_release(hpa_t base, u64 npages)
{
    int err = mm_free(base, npages);
    if (err)
        log_err("mm", "freeing %llu pages at %llx failed (%d)", (unsigned long long)npages, (unsigned long long)base,
                err);
}

u64 mm_free_bytes(void)
{
    u64 f = irq_save();
    spin_lock(&mm_lock);
    u64 pages = pfa_free_pages(&pfa, PFA_ALL_NODES);
    spin_unlock(&mm_lock);
    irq_restore(f);
    return pages * PAGE_SIZE;
}

u64 mm_free_aligned(int node, u64 align_pages, u64 *largest)
{
    u64 f = irq_save();
    spin_lock(&mm_lock);
    u64 n = pfa_free_aligned(&pfa, node, align_pages, largest);
    spin_unlock(&mm_lock);
    irq_restore(f);
    return n;
}
