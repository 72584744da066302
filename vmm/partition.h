/* Partitions: the configured guests, their memory, vCPUs, devices and
 * lifecycle. One vCPU is pinned to each of a partition's physical CPUs and runs
 * there as that CPU's only work (vmm/vcpu_run.c); the shell on CPU 0 starts and
 * stops partitions (part_start / part_stop) and reads their state.
 *
 * States: stopped -> running (part_start) -> stopping -> stopped (part_stop);
 * running -> failed when a vCPU meets something it cannot handle (the reason and
 * guest RIP are kept); failed -> stopped (part_stop), or running again
 * (part_restart). A failed partition keeps its memory, for inspection, until it
 * is stopped or restarted. `refused` partitions could not be placed at boot. */
#ifndef ISTHMUS_VMM_PARTITION_H
#define ISTHMUS_VMM_PARTITION_H

#include "kernel/lib/types.h"
#include "kernel/core/config.h"
#include "kernel/lib/spinlock.h"
#include "arch/x86/vcpu.h"
#include "vmm/vlapic.h"
#include "vmm/pveoi.h"
#include "vmm/console_ring.h"
#include "vmm/layout.h"
#include "vmm/slpt.h"
#include "vmm/shadow.h"
#include "vmm/hypercall.h"
#include "vmm/vdev.h"
#include "vmm/gmem.h"

struct percpu;
struct partition;

enum part_state { PART_STOPPED, PART_RUNNING, PART_STOPPING, PART_FAILED, PART_REFUSED };

enum vcpu_run_state {
    VRUN_OFF,       /* no thread on its CPU */
    VRUN_WAIT_SIPI, /* a secondary vCPU before its guest starts it (INIT state) */
    VRUN_RUNNING,
    VRUN_HALTED, /* HLT or HC_HALT: until an interrupt it can take */
};

/* Counters of what the vCPU's exits did, beyond the backend's by-reason counts. */
struct vm_vcpu_stats {
    u64 io_ignored; /* port accesses to no device: reads all-ones, writes dropped */
    u64 msr_gp;     /* RDMSR/WRMSR answered with #GP */
    u64 apic_accesses;
    u64 apic_bad;     /* misaligned, not 32 bits wide, or no such register: dropped / read 0 */
    u64 ipis_foreign; /* IPIs to APIC IDs outside the partition: dropped */
    u64 irqs_injected;
    u64 hypercalls;
    u64 hypercall_errors;
    u64 msis;          /* device MSIs forwarded to it */
    u64 pci_io;        /* port accesses passed to an assigned device's I/O BAR */
    u64 nic_mmio;      /* trapped accesses to its NIC's registers */
    u64 cr3_loads;     /* shadow paging: MOV to CR3 */
    u64 cr_accesses;   /* shadow paging: other CR0/CR3/CR4 reads and writes */
    u64 pf_exits;      /* shadow paging: #PF exits */
    u64 double_faults; /* shadow paging: #DFs given for a #PF during a #PF's delivery */
};

struct vm_vcpu {
    struct vcpu v; /* backend state; v.index is the vCPU index */
    struct vlapic lapic;
    struct pveoi pv_eoi; /* KVM's paravirtual EOI flag, when the guest registered one */
    struct partition *part;
    struct percpu *cpu;     /* the physical CPU it is pinned to */
    volatile u32 run_state; /* enum vcpu_run_state */
    bool halt_any;          /* HC_HALT: wake even with RFLAGS.IF = 0 */
    /* Posted by other vCPUs (their IPIs), taken by this vCPU's CPU before entry. */
    volatile u64 inbox[4];       /* fixed vectors */
    volatile u64 inbox_level[4]; /* of those, the level-triggered ones (the vIOAPIC's) */
    volatile u32 init_pending;
    volatile u32 sipi_pending; /* 0x100 | vector */
    u32 starts;                /* SIPIs that started it */
    u32 last_exit;             /* enum vcpu_exit_reason of its last exit, for `vcpus` */
    u64 armed_deadline;        /* host timer armed for this vlapic deadline */
    u64 slpt_gen;              /* the partition's slpt_gen its TLB was flushed for */
    struct vm_vcpu_stats stats;
    struct shadow_regs paging; /* shadow paging: the guest's own CR0/CR3/CR4/EFER */
    /* Shadow paging: the last page-table write that could not be emulated
     * (its page released instead), and how often in a row it recurred. */
    u64 unemulated_rip, unemulated_gfn;
    u32 unemulated_repeats;
    /* For shadow paging's sync (shadow_vcpu.c): set while the thread is in
     * or about to enter the guest, and a count of its exits. */
    volatile u32 in_guest;
    volatile u64 exit_seq;
};

#define PART_REASON_MAX 200

/* What a partition boots: its configured image, or its failover group's
 * standby image when a cold takeover boots that on its resources. */
struct part_image {
    const char *kernel, *initrd, *cmdline;
};

struct partition {
    u32 id; /* index in the configuration */
    const struct config_partition *cfg;
    volatile u32 state;           /* enum part_state */
    char reason[PART_REASON_MAX]; /* why failed or refused */
    u32 nvcpus;
    u16 cpus[CONFIG_MAX_PART_CPUS]; /* physical CPU of vCPU i */
    int node;                       /* node of vCPU 0 */
    int mem_node;                   /* node of its first memory block */
    /* Its memory as planned: one block per node, in guest-physical order. */
    struct {
        s32 node;
        u64 bytes;
    } mem_plan[GMEM_MAX_CHUNKS];
    u32 nmem_plan;
    char placement[240]; /* how and why it was placed (vmm/placement.c) */
    bool fallback;       /* placed away from the node it wanted */
    u64 memory;          /* bytes of guest RAM */
    struct gmem gmem;    /* its host blocks while it has memory (n = 0 otherwise) */
    struct slpt slpt;
    bool slpt_ready;
    /* Its DMA domain (vmm/dma.c): the same RAM in the remapping units' format,
     * while it has memory and devices a unit covers. */
    struct slpt dma_pt;
    bool dma_ready;
    struct iommu_hw *dma_unit[CONFIG_MAX_PART_DEVS]; /* per device, NULL: not remapped */
    u64 dma_faults;                                  /* translation faults of its devices, all runs */
    /* Per device: faults in the current one-second window, and what
     * device_fault did about it (vmm/dma.c). */
    struct dma_health {
        u64 window_us;
        u32 window_faults;
        bool silent; /* configuration reads return all-ones */
        u32 actions, resets;
    } dma_health[CONFIG_MAX_PART_DEVS];
    /* Shadow paging (vmm/shadow_vcpu.c): the slpt then only maps
     * guest-physical memory for the shadow MMU; the hardware never walks it. */
    bool shadowed;
    struct shadow *shadow;  /* while it has memory */
    spinlock_t shadow_lock; /* every call into *shadow, from any of its vCPUs */
    struct partition_layout layout;
    struct hc_mem_range ram_ranges[2]; /* what the guest can reach: [0, 0xA0000), [0xE0000, size) */
    u32 nram_ranges;
    u64 entry;               /* PVH entry point, or a bzImage's 64-bit entry */
    bool entry64;            /* entry is a bzImage's: long mode, RSI = the zero page (vmm/boot64.h) */
    struct part_image image; /* what it runs (or last ran) */
    /* Assigned PCI devices, in the order of its bus's slots (the bus itself is
     * a device: vmm/dev/pcibus.c). */
    struct pci_dev *devs[CONFIG_MAX_PART_DEVS];
    u32 ndevs;
    /* What its devices claimed for this run (vmm/vdev.h). */
    struct vdev_table vdev;
    /* Bumped when a running partition's second-level tables change: each vCPU
     * flushes its TLB before its next entry. */
    volatile u64 slpt_gen;
    /* Table pages unlinked while the partition ran: kept for its own tables
     * until it stops (another CPU's paging-structure cache may still use them,
     * and a stale walk must only ever reach this partition's memory). */
    hpa_t table_cache;
    u64 cached_tables;
    struct vm_vcpu *vcpu[CONFIG_MAX_PART_CPUS];
    spinlock_t lock;             /* console, failure reason */
    struct console_ring console; /* what its console (UART, hypercall) wrote */
    volatile u32 stop_request;
    bool powered_off;          /* the guest powered off or reset itself: part_reap's to act on */
    bool reset;                /* ... and it was a reset: part_reap starts it again */
    volatile u32 vcpus_active; /* vCPU threads still on their CPUs */
    u64 starts;
    u64 resets;       /* restarts after the guest reset itself (part_reap) */
    u64 exits_before; /* exits of earlier runs, for `parts` */
    /* CPU time each vCPU was given this run (TSC ticks; vcpu_run.c): time
     * its thread ran or slept on its CPU, gaps over VCPU_PASS_CAP_MS counted
     * as that much. A host that does not schedule the CPU (an emulator under
     * load) thus does not age the guest. Here, not in the vCPU, so that other
     * CPUs may read it while the partition stops. */
    volatile u64 ran_tsc[CONFIG_MAX_PART_CPUS];
    /* Until this TSC value the vCPUs pass at least every VCPU_PASS_CAP_MS
     * (their host timer is armed for it), so ran_tsc keeps up with a guest
     * that neither exits nor wakes: part_watch_ran(). */
    volatile u64 watch_until;
};

extern struct partition partitions[CONFIG_MAX_PARTITIONS];
extern u32 npartitions;

const char *part_state_name(u32 s);
const char *vcpu_run_state_name(u32 s);
struct partition *part_find(const char *name);

/* At boot, after SMP start: places every configured partition and refuses,
 * with a logged reason, those the machine cannot hold. */
void partitions_init(void);
/* Then, once the layers above have registered (failover groups): starts the
 * partitions the configuration marks running. */
void partitions_autostart(void);

/* What the layers above the core learn of a partition's lifecycle (failover).
 * starting: its vCPUs are about to run; stopped: it is stopped; down: it
 * failed or powered off (from any CPU). keeps: a powered-off partition is the
 * observer's to stop, not part_reap's. hc_env: adds to a hypercall's
 * environment (the heartbeat calls). Every hook is optional. */
enum part_down { PART_DOWN_CRASH, PART_DOWN_SHUTDOWN, PART_DOWN_RESET };
struct part_observer {
    void (*starting)(struct partition *p);
    void (*stopped)(struct partition *p);
    void (*down)(struct partition *p, enum part_down how);
    bool (*keeps)(const struct partition *p);
    void (*hc_env)(struct partition *p, struct hc_env *env, struct isthmus_hb_info *buf);
};
/* At boot, before partitions_autostart(); one observer (-EBUSY for a second). */
int part_observe(const struct part_observer *o) __must_check;
/* The observer's part of a hypercall environment (nothing without one). */
void part_hc_env(struct partition *p, struct hc_env *env, struct isthmus_hb_info *buf);

/* From CPU 0 (the shell). 0, or a negative error with a message in err. */
int part_start(struct partition *p, char *err, size_t errlen) __must_check;
int part_stop(struct partition *p, char *err, size_t errlen) __must_check;
/* part_start with another image on the same resources (cold standby). */
int part_start_image(struct partition *p, const struct part_image *img, char *err, size_t errlen) __must_check;

/* From a vCPU: stops the partition with a reason (the first one is kept) and the
 * guest RIP, logs it, and asks all its vCPUs to leave their CPUs. */
void part_fail(struct vm_vcpu *vc, const char *fmt, ...) __printf(2, 3);
/* The same from the management tick, for what the hypervisor sees from
 * outside the guest (a device that keeps faulting, vmm/dma.c). */
void part_fail_host(struct partition *p, const char *why);

/* From a vCPU: the guest powered off. Its vCPUs leave as on a failure; CPU 0
 * then stops it (part_reap) unless its failover group's master does. */
void part_poweroff(struct vm_vcpu *vc);
/* From a vCPU: the guest reset itself (its reset register). It goes down as on
 * a power-off; CPU 0 then starts it again with the same image (part_reap),
 * unless its failover group's master handles it as a failure. */
void part_reset(struct vm_vcpu *vc);
/* CPU 0, on the management tick: stops powered-off partitions and restarts
 * those that reset themselves. */
void part_reap(void);

/* Bytes of RAM in the partition's memory map (its memory less the start info,
 * the legacy hole and the ACPI tables): what HC_PARTITION_INFO reports. */
u64 part_ram_bytes(const struct partition *p);
/* Exits of all vCPUs, this run and earlier ones. */
u64 part_exits(const struct partition *p);
/* The guest's physical address width as a limit, and the start of its 32-bit
 * MMIO window (above its RAM). */
u64 part_phys_limit(void);
/* The callbacks that give p's second-level and DMA tables their pages. */
void part_table_ops(struct partition *p, struct slpt_ops *ops);
/* Maps p's RAM ranges (p->ram_ranges over its host blocks) into t. */
int part_map_ram(struct partition *p, struct slpt *t, unsigned perms) __must_check;
u64 part_mmio32_base(const struct partition *p);
/* From a vCPU, after a change to the partition's second-level tables (a BAR
 * moved): every vCPU flushes before its next entry. */
void part_slpt_changed(struct partition *p);

/* The longest gap between two passes of a vCPU thread that counts in full
 * toward ran_tsc. */
#define VCPU_PASS_CAP_MS 10
/* The CPU time (ns) its least-served vCPU was given this run: how long the
 * guest had to do something, as opposed to how long the clock ran. Readable
 * from any CPU at any time. */
u64 part_ran_ns(const struct partition *p);
/* Someone waits for the guest to act (a NIC's stall clock): for the next
 * 2 s its vCPUs account their time at least every VCPU_PASS_CAP_MS. */
void part_watch_ran(struct partition *p);

/* The vCPU thread (vcpu_run.c), run on its CPU through cpu_run_on(). */
void vcpu_thread(void *arg);
/* Sends a fixed interrupt / INIT / SIPI from one vCPU to another of its partition. */
void vcpu_post_irq(struct vm_vcpu *to, u8 vector);
/* The same for a level-triggered interrupt (an I/O APIC's level entry), whose
 * EOI the vCPU's local APIC then broadcasts. From any CPU. */
void vcpu_post_irq_level(struct vm_vcpu *to, u8 vector);
void vcpu_post_init(struct vm_vcpu *to);
void vcpu_post_sipi(struct vm_vcpu *to, u8 vector);
/* Makes the vCPU's CPU leave the guest and look at its inbox and stop flag. */
void vcpu_kick(struct vm_vcpu *vc);

#endif
