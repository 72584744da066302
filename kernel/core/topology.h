/* The machine's NUMA topology: dense node indices, CPUs, RAM ranges per node, node
 * distances and the node of each PCI host bridge, and the queries on it. Built once
 * at boot from the firmware's tables and the boot memory map by
 * drivers/acpi/topology.c; this data model depends on no firmware interface.
 * Arch-neutral and host-unit-tested. */
#ifndef ISTHMUS_KERNEL_TOPOLOGY_H
#define ISTHMUS_KERNEL_TOPOLOGY_H

#include "kernel/lib/types.h"
#include "kernel/core/bootinfo.h"

#define TOPO_MAX_NODES       32  /* distinct SRAT proximity domains; more = SRAT unusable */
#define TOPO_MAX_CPUS        256 /* enabled processors kept (the boot CPU always is) */
#define TOPO_MAX_SRAT_RANGES 64  /* firmware memory-affinity ranges RAM can be split at */
#define TOPO_MAX_RANGES      (BOOT_MAX_MEMMAP + 2 * TOPO_MAX_SRAT_RANGES)
#define TOPO_MAX_PCI_ROOTS   32
#define TOPO_PATH_MAX        128 /* firmware path of a PCI host bridge, NUL included */

#define TOPO_LOCAL_DISTANCE  10
#define TOPO_REMOTE_DISTANCE 20 /* what a synthesized matrix uses between nodes */
#define TOPO_UNREACHABLE     255

/* Kinds of RAM (bit flags, so iterators can ask for several). */
enum topo_ram_kind {
    TOPO_RAM_USABLE = BIT(0), /* MEM_USABLE: free for the page allocator */
    TOPO_RAM_LOADER = BIT(1), /* MEM_LOADER: Isthmus' image, boot info, early allocations */
    TOPO_RAM_ACPI = BIT(2),   /* MEM_ACPI_RECLAIM: ACPI tables, kept */
};
#define TOPO_RAM_ANY (TOPO_RAM_USABLE | TOPO_RAM_LOADER | TOPO_RAM_ACPI)

struct topo_mem_range {
    u64 base, length;
    u16 node;
    u8 kind; /* one enum topo_ram_kind bit */
};

struct topo_node {
    u32 domain; /* SRAT proximity domain (0 when synthesized) */
    u32 ncpus;
    u64 ram_bytes;    /* all kinds */
    u64 usable_bytes; /* TOPO_RAM_USABLE only */
};

struct topo_cpu {
    u32 apic_id;
    u32 acpi_uid; /* 0xFFFFFFFF for a boot CPU missing from the MADT */
    u16 node;
    bool is_bsp;
    bool x2apic; /* described by an x2APIC MADT entry */
};

struct topo_pci_root {
    u16 segment;
    u8 bus;
    s16 node; /* -1: unknown (no _PXM, or a domain not in SRAT) */
    bool has_pxm;
    u32 pxm;
    char path[TOPO_PATH_MAX];
};

struct topology {
    u32 nnodes;
    bool numa;                              /* from a usable SRAT; false: one synthesized node 0 */
    struct topo_node nodes[TOPO_MAX_NODES]; /* sorted by domain */

    u32 ncpus;
    struct topo_cpu cpus[TOPO_MAX_CPUS]; /* enabled MADT processors, MADT order */
    s32 bsp_index;
    u32 cpus_dropped; /* beyond TOPO_MAX_CPUS */

    u32 nranges;
    struct topo_mem_range ranges[TOPO_MAX_RANGES]; /* sorted by base, adjacent alike merged */
    u32 ranges_dropped;
    u64 unassigned_bytes; /* RAM outside every SRAT range, given to node 0 */

    u8 dist[TOPO_MAX_NODES][TOPO_MAX_NODES];
    bool dist_synthesized; /* no usable SLIT: 10 local, 20 remote */

    u32 npci_roots;
    struct topo_pci_root pci_roots[TOPO_MAX_PCI_ROOTS];
};

/* Node index of an SRAT proximity domain, or -1. */
int topology_domain_node(const struct topology *t, u32 domain);
/* Node of the CPU with this APIC ID, or -1 when there is no such CPU. */
int topology_cpu_node(const struct topology *t, u32 apic_id);
/* Node of the PCI host bridge whose base bus is root_bus in segment seg, or -1 when
 * unknown (no such bridge, no _PXM on a NUMA machine, or _PXM not in SRAT). */
int topology_pci_root_node(const struct topology *t, u16 seg, u8 root_bus);
/* SLIT (or synthesized) distance between two nodes; TOPO_UNREACHABLE if out of range. */
u8 topology_distance(const struct topology *t, u32 from, u32 to);
/* Fills out_order with the nodes sorted by distance from `node`, ties by index (so
 * `node` itself comes first), at most max of them. Returns how many were written, 0
 * when node is out of range. */
int topology_nearest_nodes(const struct topology *t, u32 node, int *out_order, u32 max);
/* Node of the RAM range holding addr, or -1 when addr is in no RAM range. *piece_end
 * is set to where that node's RAM stops being contiguous from addr (for -1: where
 * the next RAM range starts, or unchanged if none follows). */
int topology_node_of_addr(const struct topology *t, u64 addr, u64 *piece_end);

/* Iterates the RAM ranges of `node` whose kind is in `kinds`: start with *cursor = 0;
 * returns the next range or NULL at the end. */
const struct topo_mem_range *topology_next_range(const struct topology *t, u32 node, u32 kinds, u32 *cursor);
/* Same for TOPO_RAM_USABLE only, for feeding the page allocator. */
bool topology_next_usable(const struct topology *t, u32 node, u32 *cursor, u64 *base, u64 *len);

/* Logs a summary (nodes, CPUs, RAM, distances, PCI roots) at info level. */
void topology_log(const struct topology *t);

#endif
