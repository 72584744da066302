/* DMA remapping units as the hypervisor drives them: Intel VT-d (drivers/vtd.c)
 * and AMD-Vi (drivers/amdvi.c) behind one interface, as VMX and SVM are behind
 * struct vcpu_backend.
 *
 * The model (drivers/iommu.h) says which unit covers which function; this part
 * programs the units. Every usable unit is switched on at boot with every
 * device blocked (no context entry / a DTE with no rights), so DMA from a
 * function no partition owns, and DMA into the hypervisor's memory, faults.
 * A partition's devices are then attached to a DMA domain whose tables map
 * exactly its RAM, guest-physical -> host-physical (vmm/dma.c builds them with
 * the second-level table builder, vmm/slpt.c, in the unit's format), and
 * detached after they are quiesced. Translation faults are read by polling
 * (iommu_poll), from the management tick.
 *
 * Everything here runs on CPU 0 (boot, partition start/stop, the management
 * tick), so the units need no lock. */
#ifndef ISTHMUS_DRIVERS_IOMMU_HW_H
#define ISTHMUS_DRIVERS_IOMMU_HW_H

#include "drivers/acpi/acpi.h"

#define IOMMU_HW_WHY_MAX 128

/* One translation fault, or an error the unit reported, as read from it. */
struct iommu_fault {
    u16 seg;
    u16 rid;          /* requester: bus << 8 | devfn */
    u64 addr;         /* the address the device used (VT-d: its page) */
    bool write;       /* else a read */
    bool is_dma;      /* a translation fault */
    bool is_irq;      /* an interrupt the unit refused (addr: its index) */
    u8 code;          /* the vendor's fault reason / event code */
    const char *what; /* the vendor's name for code */
};

struct iommu_hw;

struct iommu_hw_ops {
    const char *vendor;
    /* Maps the registers, checks the capabilities this driver needs, builds
     * the empty root structures (every requester blocked), turns translation
     * on and clears stale faults. 0, or a negative error code with err filled:
     * the unit is then not used (and its devices are covered by no unit). */
    int (*enable)(struct iommu_hw *u, char *err, size_t errlen);
    /* Translates rid's DMA through the tables at `root` (a 4-level tree of the
     * unit's format, vmm/slpt.c; the driver may start its walk one level down
     * when the unit walks 3 levels and the domain lies below 512 GiB) under
     * domain id `domain`. The caller has made the tables visible to the unit
     * (coherent, or flushed). -EINVAL/-ERANGE/-ENOMEM with err filled. */
    int (*attach)(struct iommu_hw *u, u16 rid, hpa_t root, u16 domain, u64 limit, char *err, size_t errlen);
    /* Blocks rid again and invalidates every cached translation of it and of
     * its domain: once this returns, the domain's tables may be freed. */
    void (*detach)(struct iommu_hw *u, u16 rid, u16 domain);
    /* Reads (and clears) up to max pending faults into f; returns the count.
     * *lost grows by the faults the unit could not record (overflow). */
    u32 (*faults)(struct iommu_hw *u, struct iommu_fault *f, u32 max, u64 *lost);
    /* Interrupt remapping, when u->ir: interrupt `index` of requester rid (a
     * device's MSI, or one MSI-X vector) delivers `vector`, fixed and edge,
     * to the CPU with physical APIC ID apic_id; *addr and *data are what the
     * device's message must hold. Only rid can raise it (the unit checks the
     * requester). -ENOSPC when the unit's table is full. */
    int (*irq_set)(struct iommu_hw *u, u16 rid, u32 index, u32 apic_id, u8 vector, u64 *addr, u32 *data);
    /* Removes it: the device's message then faults instead of interrupting. */
    void (*irq_clear)(struct iommu_hw *u, u16 rid, u32 index);
};

#define IOMMU_IRT_ENTRIES 256 /* interrupt remapping entries per VT-d unit */

/* A unit the hypervisor drives: one per firmware unit, at the same index. */
struct iommu_hw {
    const struct acpi_iommu_unit *fw;
    const struct acpi_iommu_info *fw_all; /* every firmware unit and scope (fw is one of them) */
    const struct iommu_hw_ops *ops;
    u32 index;
    bool on;                     /* translating: every requester blocked or attached */
    bool ir;                     /* remapping interrupts too: compatibility-format MSIs blocked */
    bool coherent;               /* its table walks snoop the CPU caches */
    u8 levels;                   /* page-table levels it walks for attached domains: 3 or 4 */
    bool pages_2m, pages_1g;     /* large leaves it takes in a domain's tables */
    char why[IOMMU_HW_WHY_MAX];  /* why it is not on */
    char info[IOMMU_HW_WHY_MAX]; /* what `acpi`/`iommu` shows about it: version, caps */
    hpa_t regs;                  /* register base, mapped uncached */
    hpa_t root;                  /* VT-d root table; AMD-Vi device table */
    u32 attached;                /* requesters attached now */
    u32 irq_entries;             /* interrupt remapping entries in use */
    u64 faults, lost;            /* faults read, and lost to overflow, since boot */
    /* Per vendor. */
    union {
        struct {
            u64 cap, ecap;
            hpa_t ctx[256];  /* context table per bus, 0 when none */
            hpa_t iq;        /* invalidation queue (one page), 0: register-based invalidation */
            u32 iq_tail;     /* next descriptor, bytes */
            hpa_t iq_status; /* where wait descriptors write */
            u32 iq_seq;
            hpa_t irt;                         /* interrupt remapping table */
            u32 irte_owner[IOMMU_IRT_ENTRIES]; /* rid << 16 | (index + 1); 0: free */
        } vtd;
        struct {
            u64 efr;
            hpa_t cmd, evt; /* command buffer, event log */
            u32 cmd_tail;   /* next free slot, bytes */
            u32 evt_head;   /* next entry to read, bytes */
            hpa_t sem;      /* COMPLETION_WAIT store target */
            u64 sem_seq;
        } amd;
    };
};

extern const struct iommu_hw_ops vtd_ops, amdvi_ops;

/* Every unit the model trusts, switched on at boot (units[i] for firmware
 * unit i; those not on say why). */
struct iommu_units {
    struct iommu_hw unit[ACPI_MAX_IOMMUS];
    u32 n;   /* firmware units */
    u32 non; /* of them on */
};

struct iommu_model;
/* Switches on every usable unit of the model; logs each. */
void iommu_hw_init(const struct iommu_model *m, struct iommu_units *out);
/* The unit translating DMA from seg:bus:devfn, when it is on; else NULL with
 * *why saying why there is none ("no unit covers it", "iommu0 is not used: ..."). */
struct iommu_hw *iommu_hw_for(const struct iommu_model *m, struct iommu_units *us, u16 seg, u8 bus, u8 devfn, char *why,
                              size_t len);
/* The table format a unit's domains use (enum slpt_format: SLPT_VTD or SLPT_AMDVI). */
int iommu_hw_format(const struct iommu_hw *u);

#endif
