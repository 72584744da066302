/* The memprobe scenario: every RAM page the memory map gives us must hold
 * what we write (two passes, so that two addresses backed by the same host
 * page show up), and a write outside it must never complete. */
#include "guest/tg.h"
#include "guest/x86.h"

#define PAGE 4096ull
#define PATTERN 0x5a5aa5a55a5aa5a5ul    /* xor'ed with each word's own address */

static bool is_own(uint64_t page)
{
    return page + PAGE > mem_own_start() && page < mem_own_end();
}

/* Pass 0 writes, pass 1 verifies; returns the first bad address or 0. */
static uint64_t sweep(int pass, uint64_t *pages, uint64_t *own, uint64_t *got)
{
    for (unsigned i = 0; i < tg.memmap_n; i++) {
        const struct hvm_memmap_table_entry *e = &tg.memmap[i];
        if (e->type != HVM_MEMMAP_RAM)
            continue;
        for (uint64_t p = ALIGN_UP(e->addr, PAGE); p + PAGE <= e->addr + e->size; p += PAGE) {
            volatile uint64_t *w = (volatile uint64_t *)(uintptr_t)p;
            if (is_own(p)) {
                (void)*w;                           /* readable; left alone */
                (*own)++;
                continue;
            }
            if (pass == 0) {
                for (unsigned k = 0; k < PAGE / 8; k++)
                    w[k] = (p + 8 * k) ^ PATTERN;
            } else {
                for (unsigned k = 0; k < PAGE / 8; k++)
                    if (w[k] != ((p + 8 * k) ^ PATTERN)) {
                        *got = w[k];
                        return p + 8 * k;
                    }
            }
            (*pages)++;
        }
    }
    return 0;
}

void scenario_memprobe(void)
{
    uint32_t a, b, c, d;
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    unsigned maxphys = 36;
    if (a >= 0x80000008) {
        cpuid(0x80000008, 0, &a, &b, &c, &d);
        maxphys = a & 0xff;
    }
    uint64_t probe = tg.opt.probe_set ? tg.opt.probe : ALIGN_UP(tg.ram_end, GiB) + GiB;
    probe = ALIGN_DOWN(probe, 8);
    if (probe >> maxphys)
        say("memprobe: warning: 0x%lx is beyond the %u-bit physical address width", probe, maxphys);
    if (mem_is_ram(probe, 8))
        say("memprobe: warning: 0x%lx is inside my RAM", probe);
    mem_map(probe, 8);            /* before the sweep: its page tables are mine */

    say("memprobe: writing every RAM page except mine (0x%lx-0x%lx, read only)", mem_own_start(), mem_own_end());
    uint64_t pages = 0, own = 0, got = 0;
    sweep(0, &pages, &own, &got);
    pages = own = 0;
    uint64_t bad = sweep(1, &pages, &own, &got);
    if (bad)
        say("memprobe: FAIL: 0x%lx reads 0x%lx, expected 0x%lx", bad, got, bad ^ PATTERN);
    else
        say("memprobe: %lu pages ok", pages);
    say("memprobe: %lu pages of my own read, not written", own);

    say("memprobe: touching 0x%lx outside my memory", probe);
    *(volatile uint64_t *)(uintptr_t)probe = 0x6f6f6f6f6f6f6f6ful;
    say("memprobe: FAIL: the write outside my memory succeeded");
    halt_forever();
}
