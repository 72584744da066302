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
 * Guest paging modes: paging off (real or protected mode; shadowed as an
 * identity map of guest-physical memory with PAE hardware paging) and 4-level
 * long mode. 32-bit and PAE guest paging are refused with -ENOTSUP. Guest
 * 2 MiB and 1 GiB pages are shadowed with 4 KiB pages.
 *
 * SMP: one struct shadow serves all of a partition's vCPUs (numbered 0 ..
 * ncpus-1, the `cpu` arguments), each with its own active root; vCPUs on the
 * same address space share its root. The caller serialises every call (one
 * lock per partition). A root a vCPU runs on is never freed or evicted; table
 * pages dropped are freed only after ops.sync_cpus() has made every other
 * vCPU leave the guest (its hardware may still walk them until then), and
 * sync_cpus() also runs after a writable translation of a newly tracked page
 * table was taken away, so that no vCPU keeps writing it through its TLB.
 * Guest TLB semantics need nothing more: the guest's own INVLPG or CR3 load
 * (and its IPIs to the other vCPUs) exits, and every VM entry of a shadowed
 * vCPU flushes its TLB.
 *
 * Lookups are hashed: tracked guest page-table pages by guest frame, and a
 * reverse map from host frame to the shadow leaves that map it writable, so
 * write-protecting a newly tracked page touches only those leaves. When the
 * reverse map is full a fault reclaims as for the table budget.
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
#include "arch/x86/hw/pte.h"     /* PT_ENTRIES of struct shadow_root */
#include "arch/x86/hw/regs.h"    /* CR0_*, CR4_*, EFER_*, RFLAGS_AC of struct shadow_regs */
#include "arch/x86/hw/vectors.h" /* PFEC_*: the error codes of shadow_guest_walk() */

#define SHADOW_ROOTS_DEFAULT  8
#define SHADOW_ROOTS_MAX      16
#define SHADOW_CPUS_MAX       32    /* vCPUs per shadowed partition (struct shadow_root.active) */
#define SHADOW_TRACK_MAX      4096  /* guest page-table pages tracked at once */
#define SHADOW_TRACK_BUCKETS  4096  /* power of two */
#define SHADOW_USES_MAX       4     /* (level, place) records per tracked page */
#define SHADOW_RMAP_MAX       65536 /* writable shadow leaves (256 MiB of guest pages) */
#define SHADOW_RMAP_BUCKETS   8192  /* power of two */
#define SHADOW_TABLES_DEFAULT 4096  /* 16 MiB of shadow table pages per partition */
#define SHADOW_PENDING_MAX    256   /* dropped table pages freed per sync_cpus() at most */
#define SHADOW_FLOOD_WRITES   8     /* emulated writes with no walk between that release a page */

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
     * SLPT_R/W/X rights (vmm/slpt.h), with SHADOW_PERM_UC added for device
     * memory (an assigned BAR: its leaves get PCD|PWT), or -ENOENT when g is
     * not memory the guest may reach directly (emulated MMIO, holes). */
    int (*gpa_to_hpa)(void *ctx, gpa_t g, hpa_t *hpa, unsigned *perms);
    /* Returns once every vCPU but `self` is out of the guest or has left it
     * since the call began (each re-enters with a flushed TLB). */
    void (*sync_cpus)(void *ctx, int self);
    void *ctx;
};

#define SHADOW_PERM_UC BIT(7) /* in gpa_to_hpa's perms: uncacheable device memory */

struct shadow_stats {
    u64 faults;       /* hardware #PFs handed to shadow_page_fault() */
    u64 fills;        /* ... that installed a translation */
    u64 guest_faults; /* ... that the guest's own tables refuse (reflected) */
    u64 mmio;         /* ... at guest-physical addresses that are not RAM */
    u64 pt_writes;    /* emulated guest writes to its page-table pages */
    u64 floods;       /* pages released after SHADOW_FLOOD_WRITES writes with no walk between */
    u64 unprotects;   /* page-table pages released instead (shadow_unprotect) */
    u64 root_hits, root_misses, root_evictions;
    u64 invlpg;
    u64 flushes;           /* every root emptied: the guest-physical map changed, or
                            * the budget ran out with nothing else to drop */
    u64 budget_evictions;  /* idle roots evicted for the table budget or track slots */
    u64 subtree_evictions; /* ... or, with no root idle, a running root's least
                            * recently filled top-level entry dropped */
    u64 syncs;             /* sync_cpus() calls */
    u64 protects;          /* writable leaves made read-only as their page became tracked */
    u64 rmap;              /* reverse-map entries in use now */
    u64 rmap_full;         /* leaves installed read-only for want of one */
    u64 tracked;           /* guest page-table pages tracked now */
    u64 tables;            /* shadow table pages held now */
    u64 tables_peak;       /* the most ever held */
};

struct shadow_root {
    bool valid;
    enum shadow_mode mode;
    u64 cr3;  /* the guest's CR3 page (flag bits dropped); 0 for MODE_NONE */
    u64 bits; /* the control bits its rights were computed under (WP, SMEP, SMAP, NXE) */
    hpa_t hw; /* what the hardware's CR3 gets */
    u64 last_use;
    u32 active; /* bit c: vCPU c runs on it */
    /* s->clock when each top-level entry last had a translation installed
     * under it: the budget drops the least recently filled subtree of a
     * root that is running. */
    u64 top_use[PT_ENTRIES];
};

struct shadow_use {
    u8 level;    /* 4 = PML4 ... 1 = PT: the table's level in those walks */
    u32 roots;   /* bit i: roots[i] has entries derived through it there */
    u64 va_base; /* the virtual address its entry 0 translates */
};

#define SHADOW_NONE16 0xffffu
#define SHADOW_NONE32 0xffffffffu

struct shadow_track {
    u64 gfn;   /* guest-physical page number of a guest table page */
    u32 roots; /* bit i: roots[i] has entries derived from it */
    u16 next;  /* hash chain (SHADOW_NONE16: the end) */
    u8 nuses;
    bool overflow; /* more places than uses[] holds: writes drop whole roots */
    u8 flood;      /* emulated writes since a walk last read it */
    struct shadow_use uses[SHADOW_USES_MAX];
};

struct shadow_rmap {
    hpa_t slot; /* host-physical address of a writable shadow leaf */
    u32 next;   /* hash chain or free list (SHADOW_NONE32: the end) */
};

struct shadow {
    struct shadow_ops ops;
    u32 nroots;     /* cache size, 1..SHADOW_ROOTS_MAX (1: no cache beyond the vCPUs' own) */
    u32 max_tables; /* table pages held at most */
    u32 ncpus;
    struct shadow_root roots[SHADOW_ROOTS_MAX];
    int cur[SHADOW_CPUS_MAX]; /* each vCPU's active root, -1 before shadow_activate() */
    u64 clock;                /* LRU stamp */
    struct shadow_track track[SHADOW_TRACK_MAX];
    u32 ntrack;
    u16 track_head[SHADOW_TRACK_BUCKETS];
    struct shadow_rmap rmap[SHADOW_RMAP_MAX];
    u32 rmap_head[SHADOW_RMAP_BUCKETS];
    u32 rmap_free;
    hpa_t pending[SHADOW_PENDING_MAX]; /* dropped table pages waiting for sync_cpus() */
    u32 npending;
    bool need_sync; /* sync_cpus() before the call returns */
    int self;       /* the vCPU whose call is running */
    struct shadow_stats st;
};

/* nroots: 1..SHADOW_ROOTS_MAX (0 means SHADOW_ROOTS_DEFAULT), at least ncpus
 * (every vCPU may run on its own root); max_tables: 0 means
 * SHADOW_TABLES_DEFAULT, else at least 4 per vCPU (a root and the three
 * tables above one leaf); ncpus 1..SHADOW_CPUS_MAX. -EINVAL for other
 * values or a missing callback. */
int shadow_init(struct shadow *s, const struct shadow_ops *ops, u32 nroots, u32 max_tables, u32 ncpus) __must_check;
/* Frees every table page. */
void shadow_destroy(struct shadow *s);

/* vCPU `cpu` loaded CR3, or changed CR0/CR4/EFER: makes the root for its
 * current (CR3, mode, control bits) its active one, from the cache or new,
 * and returns the address the hardware CR3 must hold in *hw (below 4 GiB for
 * MODE_NONE) and the mode in *mode. Roots built under other control bits
 * (CR0.WP, CR4.SMEP/SMAP, EFER.NXE) are other roots. -ENOTSUP for 32-bit or
 * PAE guest paging, or CR4.PCIDE, LA57, PKE or PKS (paging features the
 * walker does not implement); nothing changes then. -ENOMEM when no root
 * page is left even after evicting every idle root (-EFAULT for a table page
 * the allocator got wrong); the vCPU has no active root then. */
int shadow_activate(struct shadow *s, int cpu, const struct shadow_regs *g, hpa_t *hw,
                    enum shadow_mode *mode) __must_check;

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

/* A hardware #PF at va with the hardware's error code, on vCPU cpu's active
 * root. 0 and *out, or a negative error: -EFAULT when a guest table lies
 * outside guest RAM (the caller stops the partition with the reason),
 * -ENOMEM when no table page is left even after emptying every root,
 * -EINVAL when the vCPU has no active root, g is not what it was activated
 * with (mode, CR3, control bits), or va is not canonical (the CPU raises #GP
 * for that, not #PF). Out of table pages (max_tables or the allocator) or
 * track slots, the least recently used idle root is evicted, or with none
 * left every root emptied (roots stay where the hardware CR3s point), and
 * the fault tried again. */
int shadow_page_fault(struct shadow *s, int cpu, const struct shadow_regs *g, u64 va, u32 pfec,
                      struct shadow_fault *out) __must_check;

/* INVLPG va on vCPU cpu: drops va's translation from its active root. */
void shadow_invlpg(struct shadow *s, int cpu, u64 va);

/* Performs the guest's write of len (1..8, not crossing a page) bytes at gpa
 * in a tracked page-table page, then drops the translations derived from the
 * entries it changed, in every root (the whole roots when the page's uses
 * overflowed). A page written SHADOW_FLOOD_WRITES times with no walk reading
 * it in between is released as by shadow_unprotect() (a page table being
 * torn down, or a freed one reused as data: no more exits for it until a
 * walk uses it again). -EFAULT when gpa is outside guest RAM, -EINVAL for a
 * bad len. */
int shadow_pt_write(struct shadow *s, int cpu, gpa_t gpa, const void *data, u32 len) __must_check;

/* Stops tracking the page-table page at gpa: drops every translation derived
 * from it; the guest then writes it directly until a walk uses it again. For
 * writes the caller cannot emulate. Leaves mapping the page stay read-only
 * until the next write fault refills them writable. */
void shadow_unprotect(struct shadow *s, int cpu, gpa_t gpa);

/* Whether the guest page at gpa is tracked (its writes fault). */
bool shadow_tracked(struct shadow *s, gpa_t gpa);

/* Empties every root and forgets every tracked page (the guest-physical map
 * changed): the roots stay, and so do the vCPUs' hardware CR3s. */
void shadow_flush_all(struct shadow *s, int cpu);

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

/* The hardware entry vCPU cpu's active root holds for va (the last level), or 0. */
u64 shadow_entry(const struct shadow *s, int cpu, u64 va);

/* Bytes of host memory the shadow MMU holds now: its table pages and this
 * structure. */
u64 shadow_memory_bytes(const struct shadow *s);

#endif
