/* Guest memory: the start info's memory map, the identity mapping beyond the
 * first 4 GiB that entry.S maps, and a bump allocator for page tables and
 * stacks that grows up from the end of the image. */
#include "guest/tg.h"
#include "guest/x86.h"

#define PTE_P    0x001ull       /* present */
#define PTE_RW   0x002ull       /* writable */
#define PTE_PS   0x080ull       /* 2 MiB page (in a PD entry) */
#define PTE_ADDR 0x000ffffffffff000ull
#define PAGE     4096ull
#define BIG_PAGE (2 * MiB)

extern char __image_start[], __image_end[];
extern uint64_t pml4[512];

static uint64_t alloc_next;     /* first byte not yet handed out */

uint64_t mem_own_start(void) { return (uintptr_t)__image_start; }
uint64_t mem_own_end(void) { return alloc_next; }

bool mem_is_ram(uint64_t addr, uint64_t len)
{
    for (unsigned i = 0; i < tg.memmap_n; i++) {
        const struct hvm_memmap_table_entry *e = &tg.memmap[i];
        if (e->type == HVM_MEMMAP_RAM && addr >= e->addr && addr + len <= e->addr + e->size)
            return true;
    }
    return false;
}

void *mem_alloc(uint64_t bytes)
{
    uint64_t a = ALIGN_UP(alloc_next, PAGE), n = ALIGN_UP(bytes, PAGE);
    /* The allocator stays inside the RAM range the image was loaded into (once
     * the memory map is known), and in the first 4 GiB that entry.S mapped. */
    if ((tg.memmap_n && !mem_is_ram(a, n)) || a + n > 4 * GiB) {
        say("error: out of memory allocating %lu bytes at 0x%lx", bytes, a);
        halt_forever();
    }
    alloc_next = a + n;
    return memset((void *)a, 0, n);
}

/* The next-level table under entry e, allocated if missing. */
static uint64_t *next_table(uint64_t *e)
{
    if (!(*e & PTE_P))
        *e = (uintptr_t)mem_alloc(PAGE) | PTE_P | PTE_RW;
    return (uint64_t *)(uintptr_t)(*e & PTE_ADDR);
}

void mem_map(uint64_t addr, uint64_t len)
{
    bool changed = false;
    uint64_t end = addr + (len ? len : 1);
    if (end < addr)
        end = UINT64_MAX;
    for (uint64_t a = ALIGN_DOWN(addr, BIG_PAGE); a < end && a >= ALIGN_DOWN(addr, BIG_PAGE); a += BIG_PAGE) {
        uint64_t *pdpt = next_table(&pml4[(a >> 39) & 511]);
        uint64_t *pd = next_table(&pdpt[(a >> 30) & 511]);
        uint64_t *pde = &pd[(a >> 21) & 511];
        if (!(*pde & PTE_P)) {
            *pde = a | PTE_P | PTE_RW | PTE_PS;
            changed = true;
        }
    }
    /* Only not-present entries changed, which the TLB does not hold; the
     * reload is for the paging-structure caches, to be safe. */
    if (changed)
        write_cr3(read_cr3());
}

static void copy_cmdline(uint64_t pa)
{
    tg.cmdline[0] = 0;
    if (!pa)
        return;
    mem_map(pa, TG_CMDLINE_MAX);
    const volatile char *s = (const volatile char *)pa;
    size_t i = 0;
    for (; i + 1 < TG_CMDLINE_MAX && s[i]; i++)
        tg.cmdline[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : ' ';
    tg.cmdline[i] = 0;
}

/* Copies what the guest needs out of the start info, before anything can
 * overwrite it (allocations, the trampoline page, memprobe). A line printed
 * here comes before the banner, but only if the start info is unusable. */
void mem_init(const struct hvm_start_info *si)
{
    alloc_next = ALIGN_UP((uintptr_t)__image_end, PAGE);
    if (!si || si->magic != HVM_START_MAGIC) {
        say("error: no PVH start info (EBX = 0x%lx, magic 0x%x)", (uintptr_t)si, si ? si->magic : 0);
        return;
    }
    copy_cmdline(si->cmdline_paddr);
    tg.rsdp = si->rsdp_paddr;
    if (si->version >= 1 && si->memmap_paddr && si->memmap_entries) {
        unsigned n = si->memmap_entries;
        if (n > TG_MEMMAP_MAX)
            n = TG_MEMMAP_MAX;
        mem_map(si->memmap_paddr, n * sizeof(struct hvm_memmap_table_entry));
        memcpy(tg.memmap, (const void *)(uintptr_t)si->memmap_paddr, n * sizeof(struct hvm_memmap_table_entry));
        tg.memmap_n = n;
    }
    for (unsigned i = 0; i < tg.memmap_n; i++) {
        const struct hvm_memmap_table_entry *e = &tg.memmap[i];
        if (e->type != HVM_MEMMAP_RAM || !e->size)
            continue;
        tg.ram_bytes += e->size;
        if (e->addr + e->size > tg.ram_end)
            tg.ram_end = e->addr + e->size;
    }
}

/* Maps RAM above 4 GiB. Called once the ACPI tables have been read: the page
 * tables come from the allocator, which may hand out pages the loader used. */
void mem_map_ram(void)
{
    for (unsigned i = 0; i < tg.memmap_n; i++) {
        const struct hvm_memmap_table_entry *e = &tg.memmap[i];
        if (e->type == HVM_MEMMAP_RAM && e->size && e->addr + e->size > 4 * GiB)
            mem_map(e->addr, e->size);
    }
}
