/* Second-level page tables: one builder for Intel EPT (SDM Vol. 3C 29.3), AMD
 * nested page tables (APM Vol. 2 15.25) and the DMA remapping units' tables
 * (VT-d second-level tables, AMD-Vi I/O page tables: arch/x86/hw/pte.h). Both are 4-level radix trees over a 48-bit
 * guest-physical space with 4 KiB, 2 MiB and 1 GiB leaves; only the entry bits
 * differ. Table pages come from caller callbacks, so the same code runs in the
 * hypervisor and in host unit tests over a fake physical memory.
 *
 * Not thread-safe: the caller serialises every call on one tree. Entries are
 * written with single 64-bit stores and a new table is filled before it is linked,
 * so a walk by the hardware never sees a half-built table. The caller must still
 * invalidate (INVEPT single-context / a fresh ASID or TLB_CONTROL flush) after
 * any call that changed or removed a present entry: `need_flush` says when.
 * Tables unlinked by slpt_map()/slpt_unmap() are handed to free_table() at once;
 * while vCPUs may still run on this tree, free_table() should queue them and only
 * reuse them after that flush (the paging-structure caches may still hold them). */
#ifndef ISTHMUS_VMM_SLPT_H
#define ISTHMUS_VMM_SLPT_H

#include "kernel/lib/types.h"
#include "kernel/lib/gpa.h"
#include "arch/x86/vcpu.h"
#include "arch/x86/hw/pte.h" /* the EPT_* and NPT_* entry bits */

/* Access rights of a mapping. SLPT_R is required (a present NPT entry is always
 * readable, and EPT write-without-read is a misconfiguration, SDM 29.3.3.1). */
#define SLPT_R   1u
#define SLPT_W   2u
#define SLPT_X   4u
#define SLPT_RWX (SLPT_R | SLPT_W | SLPT_X)

/* Memory type of a mapping. WB: EPT type 6 with IPAT clear, so the guest's PAT
 * still applies (SDM 29.3.7.2 combines the two like MTRR and PAT); NPT PAT index 0.
 * UC: EPT type 0 (a guest PAT WC still gives WC); NPT PCD|PWT = PAT index 3. The NPT encodings assume the host
 * PAT MSR keeps its power-on entries 0 (WB) and 3 (UC). */
enum slpt_memtype { SLPT_WB, SLPT_UC };

#define SLPT_GPA_BITS PT_ADDR_BITS_4LEVEL /* guest-physical bits 4 levels translate */
#define SLPT_HPA_BITS PA_BITS_MAX         /* architectural MAXPHYADDR limit */
#define SLPT_LEVELS   4

struct slpt_ops {
    /* A zeroed, 4 KiB-aligned 4 KiB page; 0 or a negative error code. */
    int (*alloc_table)(void *ctx, hpa_t *pa);
    void (*free_table)(void *ctx, hpa_t pa);
    /* A pointer through which the table page at pa can be read and written
     * (hpa_to_ptr() in the hypervisor). NULL is treated as -EFAULT. */
    void *(*map)(void *ctx, hpa_t pa);
    void *ctx;
};

/* slpt_init() flags. SLPT_ALLOW_1G == 1 so that `true` works as "allow 1 GiB".
 * SLPT_ALLOW_1G: use 1 GiB leaves (EPT: IA32_VMX_EPT_VPID_CAP bit 17; NPT:
 * CPUID 8000_0001h EDX bit 26 Page1GB; VT-d: CAP.SLLPS bit 1).
 * SLPT_NO_2M: 4 KiB leaves only (a VT-d unit without CAP.SLLPS bit 0). */
#define SLPT_ALLOW_1G BIT(0)
#define SLPT_NO_2M    BIT(1)

struct slpt {
    enum slpt_format fmt;
    hpa_t root; /* PML4 table */
    struct slpt_ops ops;
    bool large_1g, large_2m;
    bool need_flush; /* a present entry changed since the caller last cleared it */
    u64 tables;      /* table pages held, root included */
    u64 leaves_4k, leaves_2m, leaves_1g;
};

/* Allocates the root. -EINVAL for a bad format or missing callback; the
 * allocator's error (-ENOMEM) otherwise. */
int slpt_init(struct slpt *t, enum slpt_format fmt, const struct slpt_ops *ops, unsigned flags) __must_check;

/* Maps [gpa, gpa + len) to [hpa, hpa + len), replacing whatever was mapped there.
 * gpa, hpa and len must be 4 KiB aligned and len > 0. Uses 1 GiB (if allowed) and
 * 2 MiB leaves wherever gpa, hpa and the remaining length allow; a large leaf only
 * partly covered by the new range is split first, and finer tables wholly covered
 * by a new large leaf are freed.
 * -EINVAL: misaligned, len 0, bad perms or memory type; -ERANGE: the guest range
 * passes 2^48 or the host range 2^52; -ENOMEM/-EFAULT from the callbacks, in which
 * case a prefix of the range may already be mapped (unmap or destroy to undo). */
int slpt_map(struct slpt *t, gpa_t gpa, hpa_t hpa, u64 len, unsigned perms, enum slpt_memtype mt) __must_check;

/* Removes every mapping in [gpa, gpa + len) (same alignment rules), splitting large
 * leaves that straddle the edges and freeing tables left empty. Unmapped holes are
 * fine. -ENOMEM only when a split needs a table. */
int slpt_unmap(struct slpt *t, gpa_t gpa, u64 len) __must_check;

/* Translates one guest-physical address: host address (page offset included),
 * SLPT_* rights and the size of the leaf. -ENOENT when unmapped, -ERANGE past 2^48.
 * Any out pointer may be NULL. */
int slpt_lookup(const struct slpt *t, gpa_t gpa, hpa_t *hpa, unsigned *perms, u64 *page_size) __must_check;

/* The raw leaf entry mapping gpa and the size it maps, for tests and debug dumps;
 * errors as slpt_lookup(). */
int slpt_leaf_entry(const struct slpt *t, gpa_t gpa, u64 *entry, u64 *page_size) __must_check;

/* Calls fn with every table page of the tree, root included (to write them
 * back for a device that does not snoop the CPU caches). */
void slpt_for_each_table(const struct slpt *t, void (*fn)(void *ctx, hpa_t pa), void *ctx);

/* Frees every table, root included; the tree is empty (root 0) afterwards. */
void slpt_destroy(struct slpt *t);

/* The root table, which the backend loads (set_slpt_root builds the EPTP or
 * nCR3 from it). */
static inline hpa_t slpt_root(const struct slpt *t) { return t->root; }

#endif
