/* The VMM core's query API: what management (kernel/shell/) may know of
 * partitions and do to them. Partitions are named by id (their index in the
 * configuration, 0 .. part_count() - 1); what they hold is copied out as
 * snapshots by value, so that the shell never sees struct partition and the
 * core may change its internals freely (ACRN's modularity rule: management
 * sits on top and reads the core through queries; the core never calls up).
 *
 * Call from CPU 0 (the shell). A snapshot of a running partition is a
 * moment's view: counters other CPUs bump are read without their locks, as
 * the shell always did. */
#ifndef ISTHMUS_VMM_QUERY_H
#define ISTHMUS_VMM_QUERY_H

#include "kernel/lib/types.h"
#include "kernel/core/config.h"
#include "arch/x86/vcpu.h"

/* Mirrors the core's partition states (asserted equal in vmm/query.c). */
enum part_info_state {
    PART_INFO_STOPPED,
    PART_INFO_RUNNING,
    PART_INFO_STOPPING,
    PART_INFO_FAILED,
    PART_INFO_REFUSED,
};

enum part_paging {
    PART_PAGING_OFF,    /* no second-level tables: not running */
    PART_PAGING_NESTED, /* EPT or NPT (slpt_name says which) */
    PART_PAGING_SHADOW, /* shadow paging (docs/paging.md) */
};

#define PART_INFO_REASON_MAX    200
#define PART_INFO_PLACEMENT_MAX 240
#define PART_INFO_MEM_BLOCKS    8 /* at least the core's blocks per partition */

/* What the shadow MMU did, with the vCPUs' paging exits summed. */
struct part_shadow_info {
    u32 nroots; /* roots cached at most */
    u64 cr3_loads, cr_accesses, pf_exits;
    u64 double_faults; /* #DF given for a #PF during a #PF's delivery */
    u64 faults, fills, guest_faults, mmio;
    u64 pt_writes, unprotects;
    u64 root_hits, root_misses, root_evictions;
    u64 invlpg, flushes;
    u64 tracked, tables; /* now */
    u64 floods, budget_evictions, subtree_evictions, syncs, protects;
    u64 rmap;        /* reverse-map entries in use now */
    u64 tables_peak; /* the most table pages held */
    u64 max_tables;  /* its limit (shadow_memory) */
    u64 memory;      /* bytes held now: table pages and the MMU's own state */
};

struct part_info {
    u32 id;
    char name[CONFIG_NAME_MAX];
    u32 state; /* enum part_info_state */
    const char *state_name;
    char reason[PART_INFO_REASON_MAX]; /* why failed or refused; "" when none */
    u32 nvcpus;
    u16 cpus[CONFIG_MAX_PART_CPUS];     /* physical CPU of vCPU i */
    s32 cpu_node[CONFIG_MAX_PART_CPUS]; /* NUMA node of that CPU */
    u64 memory;                         /* bytes of guest RAM */
    bool has_memory;                    /* it holds its host blocks now (running or failed) */
    int node;                           /* node of vCPU 0 */
    int mem_node;                       /* node of its first memory block */
    /* Its memory as planned: one block per node, in guest-physical order. */
    struct {
        s32 node;
        u64 bytes;
    } mem[PART_INFO_MEM_BLOCKS];
    u32 nmem;
    char placement[PART_INFO_PLACEMENT_MAX]; /* how and why it was placed; "" when not */
    bool fallback;                           /* placed away from the node it wanted */
    s32 requested_node;                      /* the configuration's node, < 0 when none */
    /* What it runs (or last ran). standby_image: its failover group's image,
     * booted by a cold takeover, rather than its own. */
    char kernel[CONFIG_PATH_MAX];
    char cmdline[CONFIG_CMDLINE_MAX];
    bool standby_image;
    u64 starts;
    u64 resets;                     /* starts that followed the guest's own reset (reboot) */
    u64 exits;                      /* of all its vCPUs, this run and earlier ones */
    u32 paging;                     /* enum part_paging */
    const char *slpt_name;          /* "EPT" or "NPT" */
    struct part_shadow_info shadow; /* paging == PART_PAGING_SHADOW */
};

/* One vCPU while its partition has it. */
struct part_vcpu_info {
    u32 index;
    u32 cpu; /* the physical CPU it is pinned to */
    const char *run_state_name;
    u64 exits;
    u64 by_reason[VEXIT_COUNT];
    u64 timer_deadline; /* its APIC timer's next expiry (TSC), 0 when unarmed */
    u32 starts;         /* SIPIs that started it */
    u64 io_ignored, msr_gp, apic_accesses, apic_bad, ipis_foreign, irqs_injected;
    u64 hypercalls, hypercall_errors;
    u64 msis, pci_io, nic_mmio;
    u64 cr3_loads, cr_accesses, pf_exits;
    /* Its local APIC: EOI writes, timer expiries, IA32_TSC_DEADLINE writes. */
    u64 apic_eois, apic_timer_fired, apic_tsc_deadline_writes;
    u64 apic_pv_eois;   /* of the EOIs, those made through the PV EOI flag (no exit) */
    bool apic_x2apic;   /* x2APIC mode (the MSRs) rather than xAPIC (the page) */
    u64 apic_x2apic_gp; /* x2APIC MSR accesses refused with #GP */
    /* Where it was at its last exit, and its local APIC's state now (read
     * without stopping it: a diagnostic, e.g. of a guest that hangs). */
    u32 last_exit; /* enum vcpu_exit_reason */
    u64 rip, rflags;
    int irr_top, isr_top; /* the highest vector requested / in service, -1 for none */
    u32 tpr;
};

u32 part_count(void);
/* The id of the partition called name, or -ENOENT. */
int part_lookup(const char *name);
/* Its configured name (lives as long as the hypervisor), NULL for no such id. */
const char *part_name(u32 id);
/* 0, or -ENOENT for no such id. */
int part_snapshot(u32 id, struct part_info *out) __must_check;
/* 0; -ENOENT for no such partition or vCPU index; -ENODEV while the vCPU
 * does not exist (its partition is stopped). */
int part_vcpu_snapshot(u32 id, u32 vcpu, struct part_vcpu_info *out) __must_check;
/* Shadow paging: the leaf vCPU `vcpu` of partition id runs with for virtual
 * address va (0 when it has none now). -ENOENT: no such partition;
 * -ENOTSUP: not shadowed (or not running); -ERANGE: no such vCPU. */
int part_shadow_entry(u32 id, u32 vcpu, u64 va, u64 *entry) __must_check;

/* What the partition's devices show of themselves (each device's `show`
 * hook, vmm/vdev.h): each assigned device, its BARs as the guest placed them
 * and its MSI route, its NIC, the bus's counters; "" when it has none. Lines
 * are indented two spaces and end in '\n'. Returns the bytes written (cut
 * short at len - 1, NUL-terminated). */
size_t part_devices_text(u32 id, char *buf, size_t len);

/* Its console output ring. A cursor is an absolute byte position:
 * part_console_oldest gives the oldest byte still held (0 for no such id);
 * part_console_read copies from *cursor like console_ring_read (advancing
 * it, *lost = bytes overwritten before they were read) and returns the count. */
u64 part_console_oldest(u32 id);
size_t part_console_read(u32 id, u64 *cursor, void *buf, size_t len, u64 *lost);
/* Typed input for its console (its UART's receiver): the bytes taken, which
 * may be fewer than len when its input buffer is full (the rest are dropped
 * and counted, `parts -v`); -ENOENT for no such id, -ENODEV when it is not
 * running. */
int part_console_write(u32 id, const void *buf, size_t len) __must_check;

/* Actions: 0, or a negative error with a message in err (-ENOENT for no such
 * id). Restart is a stop, then a start when the stop succeeded. */
int part_start_id(u32 id, char *err, size_t errlen) __must_check;
int part_stop_id(u32 id, char *err, size_t errlen) __must_check;
int part_restart_id(u32 id, char *err, size_t errlen) __must_check;

#endif
