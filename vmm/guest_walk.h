/* Translates a guest-virtual address to guest-physical by walking the guest's
 * own page tables (SDM Vol. 3A 4.3-4.5), for the few things the hypervisor
 * must read at a guest RIP: the instruction bytes of an emulated MMIO access
 * on CPUs without decode assists. Arch-neutral; guest memory is read through a
 * callback, and every table entry is untrusted (a walk that leaves guest RAM
 * simply fails). */
#ifndef ISTHMUS_VMM_GUEST_WALK_H
#define ISTHMUS_VMM_GUEST_WALK_H

#include "kernel/lib/types.h"
#include "kernel/lib/gpa.h"

enum gwalk_mode {
    GWALK_NONE,  /* CR0.PG = 0: linear = physical */
    GWALK_32,    /* 2-level, 4-byte entries (4 MiB pages with CR4.PSE) */
    GWALK_PAE,   /* 3-level, CR3 points at 4 PDPTEs */
    GWALK_LONG4, /* 4-level (IA-32e) */
};

struct gwalk_env {
    /* Reads `len` bytes of guest-physical memory; 0 or a negative error. */
    int (*read)(void *ctx, gpa_t gpa, void *out, u32 len);
    void *ctx;
    enum gwalk_mode mode;
    u64 cr3;
    bool pse; /* CR4.PSE, for GWALK_32 */
};

/* The paging mode for the given control registers (CR0.PG, CR4.PAE, EFER.LMA). */
enum gwalk_mode gwalk_mode_of(u64 cr0, u64 cr4, u64 efer);

/* 0 and *out, or -EFAULT when a table is unreadable, -ENOENT when an entry on
 * the way is not present, -EINVAL for a non-canonical address or reserved bits. */
int gwalk_translate(const struct gwalk_env *e, u64 va, gpa_t *out) __must_check;

/* Copies `len` bytes at guest-virtual `va` (which may cross pages). */
int gwalk_read(const struct gwalk_env *e, u64 va, void *out, u32 len) __must_check;

#endif
