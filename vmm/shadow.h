/* Shadow page tables: the MMU for partitions that run without EPT/NPT
 * (paging = "shadow", or a CPU without second-level paging).
 *
 * The hardware walks tables the hypervisor builds ("shadows") that map the
 * guest's virtual addresses straight to host-physical ones. They are filled
 * lazily, one 4 KiB page per hardware #PF: the guest's own tables are walked
 * (permissions checked and accessed/dirty bits set as the CPU would), the
 * guest-physical page is looked up in the partition's guest-physical map (its
 * second-level table, kept but not enabled), and the translation is installed
 * with the guest's rights (combined over the levels) intersected with the
 * host's. So a shadow is a software-filled TLB of one address space.
 *
 * Root cache: every (guest CR3, paging mode) gets its own root, and up to
 * `nroots` roots are kept (least recently used evicted), so an address-space
 * switch to a CR3 seen before costs no rebuild. They stay correct because
 * every guest page-table page a shadow entry was derived from is tracked and
 * write-protected in all shadows: a guest write to it faults, is emulated
 * (shadow_pt_write) and drops exactly the translations that went through the
 * changed entry, in every root that used it.
 *
 * Guest paging modes: paging off (protected mode; shadowed as an identity map
 * of guest-physical memory with PAE hardware paging) and 4-level long mode.
 * 32-bit and PAE guest paging are refused with -ENOTSUP. Guest 2 MiB and
 * 1 GiB pages are shadowed with 4 KiB pages. One vCPU per shadowed partition:
 * nothing here is locked and no other vCPU's TLB is shot down.
 *
 * The hardware runs the shadows with CR0.WP=1 (so that the guest kernel's
 * writes to tracked tables fault too), EFER.NXE=1 (NX marks what the host or
 * the guest does not let run) and CR4.PAE=1; CR4.PGE, SMEP and SMAP are the
 * guest's in long mode, SMEP and SMAP clear with guest paging off. The caller
 * flushes the vCPU's TLB after calls that drop translations (shadow_pt_write,
 * shadow_unprotect, shadow_invlpg, flushes). The guest-physical map must not
 * give two guest pages one host frame: protection is per guest page.
 *
 * Arch-neutral: table pages and guest memory come through callbacks, so the
 * host unit tests (tests/unit/test_shadow.c) run it over fake memories. */
#ifndef ISTHMUS_VMM_SHADOW_H
#define ISTHMUS_VMM_SHADOW_H

#include "kernel/lib/types.h"
#include "kernel/lib/gpa.h"
#include "arch/x86/hw/regs.h"    /* CR0_*, CR4_*, EFER_*, RFLAGS_AC of struct shadow_regs */
#include "arch/x86/hw/vectors.h" /* PFEC_*: the error codes of shadow_guest_walk() */

#define SHADOW_ROOTS_DEFAULT 8
#define SHADOW_ROOTS_MAX     16
#define SHADOW_TRACK_MAX     1024 /* guest page-table pages tracked at once */
#define SHADOW_USES_MAX      4    /* (root, place) records per tracked page */

/* The guest's own view of its paging state (not what the hardware runs with). */
struct shadow_regs {
    u64 cr0, cr3, cr4, efer;
    u64 rflags; /* AC, for SMAP */
};

enum shadow_mode {
    SHADOW_MODE_NONE,  /* guest paging off: hardware runs PAE over an identity shadow */
    SHADOW_MODE_LONG4, /* guest 4-level paging: hardware runs 4-level paging */
};

struct shadow_ops {
    /* A zeroed, 4 KiB-aligned table page; with below_4g its address is under
     * 4 GiB (a PAE root is loaded through a 32-bit CR3). 0 or -ENOMEM. */
    int (*alloc_table)(void *ctx, bool below_4g, hpa_t *pa);
    void (*free_table)(void *ctx, hpa_t pa);
    /* A pointer to the table page at pa (hpa_to_ptr() in the hypervisor). */
    void *(*map)(void *ctx, hpa_t pa);
    /* Guest-physical memory: 0 or a negative error (outside guest RAM). */
    int (*gread)(void *ctx, gpa_t g, void *out, u32 len);
    int (*gwrite)(void *ctx, gpa_t g, const void *in, u32 len);
    /* The guest-physical map: the host frame of the 4 KiB page at g and its
     * SLPT_R/W/X rights (vmm/slpt.h), or -ENOENT when g is not RAM the guest
     * may reach directly (emulated MMIO, holes). */
    int (*gpa_to_hpa)(void *ctx, gpa_t g, hpa_t *hpa, unsigned *perms);
    void *ctx;
};

struct shadow_stats {
    u64 faults;       /* hardware #PFs handed to shadow_page_fault() */
    u64 fills;        /* ... that installed a translation */
    u64 guest_faults; /* ... that the guest's own tables refuse (reflected) */
    u64 mmio;         /* ... at guest-physical addresses that are not RAM */
    u64 pt_writes;    /* emulated guest writes to its page-table pages */
    u64 unprotects;   /* page-table pages released instead (shadow_unprotect) */
    u64 root_hits, root_misses, root_evictions;
    u64 invlpg;
    u64 flushes; /* everything dropped: mode-bit changes, table budget */
    u64 tracked; /* guest page-table pages tracked now */
    u64 tables;  /* shadow table pages held now */
};

struct shadow_root {
    bool valid;
    enum shadow_mode mode;
    u64 cr3;  /* the guest's CR3 page (flag bits dropped); 0 for MODE_NONE */
    hpa_t hw; /* what the hardware's CR3 gets */
    u64 last_use;
};

struct shadow_use {
    u8 root;     /* index in roots[] */
    u8 level;    /* 4 = PML4 ... 1 = PT: the table's level in that walk */
    u64 va_base; /* the virtual address its entry 0 translates */
};

struct shadow_track {
    u64 gfn;   /* guest-physical page number of a guest table page */
    u32 roots; /* bit i: roots[i] has entries derived from it */
    u8 nuses;
    bool overflow; /* more places than uses[] holds: writes drop whole roots */
    struct shadow_use uses[SHADOW_USES_MAX];
};

struct shadow {
    struct shadow_ops ops;
    u32 nroots;     /* cache size, 1..SHADOW_ROOTS_MAX (1: no cache) */
    u32 max_tables; /* table pages before everything is dropped */
    struct shadow_root roots[SHADOW_ROOTS_MAX];
    int cur;       /* index of the active root, -1 before shadow_activate() */
    u64 clock;     /* LRU stamp */
    u64 mode_bits; /* CR0.WP, CR4.PSE/PGE/SMEP/SMAP, EFER.NXE the roots were built
                           * under; ~0 before the first shadow_activate() */
    struct shadow_track track[SHADOW_TRACK_MAX];
    u32 ntrack;
    struct shadow_stats st;
};

/* nroots: 1..SHADOW_ROOTS_MAX (0 means SHADOW_ROOTS_DEFAULT); max_tables: 0
 * means 2048 (8 MiB), else at least 4 (a root and the three tables above one
 * leaf). -EINVAL for other values or a missing callback. */
int shadow_init(struct shadow *s, const struct shadow_ops *ops, u32 nroots, u32 max_tables) __must_check;
/* Frees every table page. */
void shadow_destroy(struct shadow *s);

/* The guest loaded CR3, or changed CR0/CR4/EFER: makes the root for its
 * current (CR3, mode) active, from the cache or new, and returns the address
 * the hardware CR3 must hold in *hw (below 4 GiB for MODE_NONE) and the mode
 * in *mode. A change of the mode bits drops every root first. -ENOTSUP for
 * 32-bit or PAE guest paging, or CR4.PCIDE, LA57, PKE or PKS (paging features
 * the walker does not implement); nothing changes then. -ENOMEM when no root
 * page is left even after dropping every root (-EFAULT for a table page the
 * allocator got wrong); no root is active then. */
int shadow_activate(struct shadow *s, const struct shadow_regs *g, hpa_t *hw, enum shadow_mode *mode) __must_check;

enum shadow_result {
    SHADOW_FIXED,       /* a translation was installed (or already was): resume the guest */
    SHADOW_GUEST_FAULT, /* the guest's tables refuse: inject #PF(pfec), CR2 = va */
    SHADOW_MMIO,        /* gpa is not RAM: emulate the access there */
    SHADOW_PT_WRITE,    /* a write to a tracked guest page-table page at gpa:
                          * emulate it with shadow_pt_write(), or shadow_unprotect() */
};

struct shadow_fault {
    enum shadow_result result;
    u32 pfec;  /* SHADOW_GUEST_FAULT: the error code for the guest */
    gpa_t gpa; /* SHADOW_MMIO, SHADOW_PT_WRITE: the guest-physical address */
};

/* A hardware #PF at va with the hardware's error code, on the active root.
 * 0 and *out, or a negative error: -EFAULT when a guest table lies outside
 * guest RAM (the caller stops the partition with the reason), -ENOMEM when
 * no table page is left even after dropping everything, -EINVAL when no root
 * is active, g is not what it was activated with (mode, CR3, mode bits), or
 * va is not canonical (the CPU raises #GP for that, not #PF). Out of table
 * pages (max_tables or the allocator) or track slots, every root but the
 * active one is dropped and the active one emptied, and the fault is tried
 * once more: the hardware CR3 stays valid. */
int shadow_page_fault(struct shadow *s, const struct shadow_regs *g, u64 va, u32 pfec,
                      struct shadow_fault *out) __must_check;

/* INVLPG va: drops va's translation from the active root. */
void shadow_invlpg(struct shadow *s, u64 va);

/* Performs the guest's write of len (1..8, not crossing a page) bytes at gpa
 * in a tracked page-table page, then drops the translations derived from the
 * entries it changed, in every root (the whole roots when the page's uses
 * overflowed). -EFAULT when gpa is outside guest RAM, -EINVAL for a bad len. */
int shadow_pt_write(struct shadow *s, gpa_t gpa, const void *data, u32 len) __must_check;

/* Stops tracking the page-table page at gpa: drops every translation derived
 * from it; the guest then writes it directly until a walk uses it again. For
 * writes the caller cannot emulate. Leaves mapping the page stay read-only
 * until the next write fault refills them writable. */
void shadow_unprotect(struct shadow *s, gpa_t gpa);

/* Drops every root and tracked page, the active root included: the hardware
 * CR3 then points at a freed page, and shadow_activate() must be called before
 * the guest runs again. */
void shadow_flush_all(struct shadow *s);

/* ---- For tests and debug dumps. */

/* The guest's translation of va, as the CPU checks it for an access with the
 * error-code bits `pfec` (W, U, I) under g, setting accessed bits (and dirty
 * for writes) in the guest's entries as the CPU does. 0 with *gpa and *rights
 * (SH_RIGHT_*: the rights of every level combined; with paging off the
 * identity and W|U|DIRTY); 1 when the guest's tables refuse the access, with
 * the error code the CPU would give in *fault_pfec; -EFAULT when a table lies
 * outside guest RAM, -EINVAL for a non-canonical va, -ENOTSUP as
 * shadow_activate(). Out pointers may be NULL. */
#define SH_RIGHT_W     BIT(1)
#define SH_RIGHT_U     BIT(2)
#define SH_RIGHT_NX    BIT(4)
#define SH_RIGHT_DIRTY BIT(6) /* the leaf's D bit is set */
int shadow_guest_walk(struct shadow *s, const struct shadow_regs *g, u64 va, u32 pfec, gpa_t *gpa, u32 *rights,
                      u32 *fault_pfec);

/* The hardware entry the active root holds for va (the last level), or 0. */
u64 shadow_entry(const struct shadow *s, u64 va);

#endif
