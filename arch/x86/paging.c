/* See paging.h. 4-level paging only (no LA57); 2 MiB leaves wherever a whole,
 * aligned 2 MiB lies inside a mapped range, 4 KiB leaves elsewhere. */
#include "arch/x86/paging.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/pte.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/lib/string.h"

#define TABLE_FLAGS (PTE_P | PTE_RW) /* upper levels allow all; leaves decide */

extern char ImageBase[], _text[], _etext[], _rodata[], _erodata[], _data[], _image_end[];

static u64 *pml4;
static hpa_t pool_next, pool_end;
static u64 tables_used;

void *early_alloc_pages(u64 npages)
{
    u64 bytes = npages * PAGE_SIZE;
    if (pool_next + bytes > pool_end || pool_next + bytes < pool_next)
        return NULL;
    void *p = hpa_to_ptr(pool_next);
    pool_next += bytes;
    memset(p, 0, bytes);
    return p;
}

static u64 leaf_bits(unsigned flags)
{
    u64 b = PTE_P;
    if (flags & MAP_WRITE)
        b |= PTE_RW;
    if (!(flags & MAP_EXEC))
        b |= PTE_NX;
    if (flags & MAP_UC)
        b |= PTE_PCD | PTE_PWT;
    return b;
}

/* Returns the table the entry points to, creating it (or splitting a 2 MiB
 * leaf into 512 equivalent 4 KiB leaves) when needed. */
static u64 *next_table(u64 *entry, bool split_large)
{
    if (*entry & PTE_P) {
        if (!(*entry & PTE_PS))
            return hpa_to_ptr(*entry & PTE_ADDR);
        if (!split_large)
            return NULL;
        u64 *pt = early_alloc_pages(1);
        if (!pt)
            return NULL;
        tables_used++;
        u64 base = *entry & PTE_ADDR & ~(PAGE_SIZE_2M - 1);
        u64 attrs = (*entry & ~PTE_ADDR & ~PTE_PS) | (*entry & PTE_NX);
        for (int i = 0; i < PT_ENTRIES; i++)
            pt[i] = (base + i * PAGE_SIZE) | attrs;
        *entry = ptr_to_hpa(pt) | TABLE_FLAGS;
        return pt;
    }
    u64 *t = early_alloc_pages(1);
    if (!t)
        return NULL;
    tables_used++;
    *entry = ptr_to_hpa(t) | TABLE_FLAGS;
    return t;
}

static int map_one(hpa_t pa, u64 bits, bool large)
{
    if (pa >> 48)
        return -ERANGE;
    u64 *pdpt = next_table(&pml4[PT_INDEX(pa, 4)], false);
    if (!pdpt)
        return -ENOMEM;
    u64 *pd = next_table(&pdpt[PT_INDEX(pa, 3)], false);
    if (!pd)
        return -ENOMEM;
    u64 *pde = &pd[PT_INDEX(pa, 2)];
    if (large) {
        if ((*pde & PTE_P) && !(*pde & PTE_PS)) {
            /* Finer mappings exist below: update them all rather than lose them. */
            u64 *pt = hpa_to_ptr(*pde & PTE_ADDR);
            for (int i = 0; i < PT_ENTRIES; i++)
                pt[i] = (pa + i * PAGE_SIZE) | bits;
            return 0;
        }
        *pde = pa | bits | PTE_PS;
        return 0;
    }
    u64 *pt = next_table(pde, true);
    if (!pt)
        return -ENOMEM;
    pt[PT_INDEX(pa, 1)] = pa | bits;
    return 0;
}

int paging_map(hpa_t pa, u64 len, unsigned flags)
{
    hpa_t start = ALIGN_DOWN(pa, PAGE_SIZE);
    hpa_t end = ALIGN_UP(pa + len, PAGE_SIZE);
    if (end < start)
        return -ERANGE;
    u64 bits = leaf_bits(flags);
    for (hpa_t a = start; a < end;) {
        bool large = IS_ALIGNED(a, PAGE_SIZE_2M) && end - a >= PAGE_SIZE_2M;
        int err = map_one(a, bits, large);
        if (err)
            return err;
        a += large ? PAGE_SIZE_2M : PAGE_SIZE;
    }
    if (pml4 && read_cr3() == ptr_to_hpa(pml4))
        write_cr3(read_cr3());
    return 0;
}

static int unmap_page(hpa_t pa)
{
    u64 *e = &pml4[PT_INDEX(pa, 4)];
    if (!(*e & PTE_P))
        return 0;
    u64 *pdpt = hpa_to_ptr(*e & PTE_ADDR);
    e = &pdpt[PT_INDEX(pa, 3)];
    if (!(*e & PTE_P))
        return 0;
    u64 *pd = hpa_to_ptr(*e & PTE_ADDR);
    e = &pd[PT_INDEX(pa, 2)];
    if (!(*e & PTE_P))
        return 0;
    u64 *pt = next_table(e, true);
    if (!pt)
        return -ENOMEM;
    pt[PT_INDEX(pa, 1)] = 0;
    return 0;
}

/* Returns the leaf entry mapping pa, or 0. */
static u64 lookup(hpa_t pa)
{
    if (!pml4 || (pa >> 48))
        return 0;
    u64 e = pml4[PT_INDEX(pa, 4)];
    if (!(e & PTE_P))
        return 0;
    e = ((u64 *)hpa_to_ptr(e & PTE_ADDR))[PT_INDEX(pa, 3)];
    if (!(e & PTE_P))
        return 0;
    e = ((u64 *)hpa_to_ptr(e & PTE_ADDR))[PT_INDEX(pa, 2)];
    if (!(e & PTE_P) || (e & PTE_PS))
        return e;
    return ((u64 *)hpa_to_ptr(e & PTE_ADDR))[PT_INDEX(pa, 1)];
}

bool paging_is_mapped(hpa_t pa, u64 len)
{
    for (hpa_t a = ALIGN_DOWN(pa, PAGE_SIZE); a < pa + len; a += PAGE_SIZE)
        if (!(lookup(a) & PTE_P))
            return false;
    return true;
}

static void walk(u64 *table, int level, struct paging_stats *st)
{
    for (int i = 0; i < PT_ENTRIES; i++) {
        u64 e = table[i];
        if (!(e & PTE_P))
            continue;
        bool leaf = level == 1 || (level == 2 && (e & PTE_PS));
        if (!leaf) {
            st->tables++;
            walk(hpa_to_ptr(e & PTE_ADDR), level - 1, st);
            continue;
        }
        if (level == 2)
            st->leaves_2m++;
        else
            st->leaves_4k++;
        if (!(e & PTE_NX)) {
            st->exec_pages += level == 2 ? PT_ENTRIES : 1;
            if (e & PTE_RW)
                st->wx_violations++;
        }
    }
}

void paging_verify(struct paging_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->tables = 1;
    walk(pml4, 4, st);
}

u64 paging_root(void) { return ptr_to_hpa(pml4); }

int paging_init(const struct boot_info *bi)
{
    pool_next = bi->early_pool;
    pool_end = bi->early_pool + bi->early_pool_size;
    pml4 = early_alloc_pages(1);
    if (!pml4)
        return -ENOMEM;

    /* RAM the hypervisor may touch: write-back, read/write, never executable.
     * Firmware-reserved and MMIO ranges are mapped only when a driver asks. */
    for (u32 i = 0; i < bi->nmem; i++) {
        const struct boot_mem_range *r = &bi->mem[i];
        if (r->type != MEM_USABLE && r->type != MEM_LOADER && r->type != MEM_ACPI_RECLAIM && r->type != MEM_ACPI_NVS)
            continue;
        int err = paging_map(r->base, r->length, MAP_WRITE);
        if (err)
            return err;
    }

    /* The image: the firmware loaded it as one block; give each part its rights. */
    hpa_t img = ptr_to_hpa(ImageBase), img_end = ptr_to_hpa(_image_end);
    int err = paging_map(img, img_end - img, MAP_READ);
    if (!err)
        err = paging_map(ptr_to_hpa(_text), ptr_to_hpa(_etext) - ptr_to_hpa(_text), MAP_EXEC);
    if (!err)
        err = paging_map(ptr_to_hpa(_data), img_end - ptr_to_hpa(_data), MAP_WRITE);
    /* The AP trampoline runs from its first page; its second page is data. */
    if (!err && bi->trampoline) {
        err = paging_map(bi->trampoline, PAGE_SIZE, MAP_EXEC);
        if (!err)
            err = paging_map(bi->trampoline + PAGE_SIZE, PAGE_SIZE, MAP_WRITE);
    }
    if (!err)
        err = unmap_page(0);
    if (err)
        return err;

    /* NX bits need EFER.NXE, and CR0.WP makes read-only apply to ring 0 too. */
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    write_cr0(read_cr0() | CR0_WP);
    write_cr3(ptr_to_hpa(pml4));
    return 0;
}
