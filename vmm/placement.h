/* The NUMA placement planner: which physical CPUs, how much memory on which
 * nodes, and which PCI devices each configured partition gets. Arch-neutral and
 * deterministic (the same machine and requests always give the same plan), so
 * the host unit tests pin exact placements.
 *
 * Rules, in order:
 *  1. Devices: each requested device must exist and belong to one partition.
 *     A partition's devices decide its node (their _PXM); devices on several
 *     nodes need numa = spread.
 *  2. Explicit CPU lists are honoured and checked (exist, usable, free, on the
 *     pinned node, on one node unless spread) before any count is placed.
 *  3. The others are placed by priority (higher first; config order breaks ties).
 *     The wanted node is the devices' node, else the pinned node, else the node
 *     of an explicit CPU list. A pinned node (and no devices) is strict. Otherwise,
 *     when the wanted node is full, the partition falls back whole to the nearest
 *     node (SLIT distance, then node number) that can hold it, and the result says
 *     so. Without a wanted node, the lowest-numbered node that can hold it wins.
 *  4. numa = spread lets CPUs and memory come from several nodes: the wanted (or
 *     first) node first, then the nearest others.
 *  5. What cannot be satisfied is refused with the resource, the node(s) and
 *     what is left; a refused partition takes nothing. */
#ifndef ISTHMUS_VMM_PLACEMENT_H
#define ISTHMUS_VMM_PLACEMENT_H

#include "kernel/lib/types.h"

#define PLACE_MAX_NODES     16
#define PLACE_MAX_CPUS      256
#define PLACE_MAX_PARTS     16
#define PLACE_MAX_PART_CPUS 64
#define PLACE_MAX_DEVS      64 /* devices on the machine that can be assigned */
#define PLACE_MAX_PART_DEVS 8
#define PLACE_MSG_MAX       240
#define PLACE_GRAIN         (2ULL << 20) /* memory is placed in 2 MiB units */

/* PCI address as one number: segment << 16 | bus << 8 | device << 3 | function. */
static inline u32 place_bdf(u32 seg, u32 bus, u32 dev, u32 fn)
{
    return (seg << 16) | ((bus & 0xff) << 8) | ((dev & 0x1f) << 3) | (fn & 7);
}

struct place_machine {
    u32 nnodes; /* nodes 0 .. nnodes - 1 */
    u32 ncpus;
    s8 cpu_node[PLACE_MAX_CPUS];               /* node of CPU i; -1: not usable (offline) */
    bool cpu_reserved[PLACE_MAX_CPUS];         /* the hypervisor's (CPU 0 with reserve_cpu0) */
    u64 node_mem[PLACE_MAX_NODES];             /* bytes partitions may have on each node */
    u8 dist[PLACE_MAX_NODES][PLACE_MAX_NODES]; /* SLIT; 0 entries are read as 10 / 20 */
    u32 ndevs;
    struct place_dev {
        u32 bdf;
        s8 node;
    } devs[PLACE_MAX_DEVS]; /* node -1: unknown */
};

enum place_numa { PLACE_LOCAL, PLACE_SPREAD };

struct place_request {
    const char *name;
    u32 ncpus;
    bool cpu_list; /* cpus[] names the CPUs */
    u16 cpus[PLACE_MAX_PART_CPUS];
    u64 memory;   /* bytes, a multiple of PLACE_GRAIN */
    s32 node;     /* pinned node, -1: any */
    u8 numa;      /* enum place_numa */
    s32 priority; /* higher is placed first */
    u32 ndevices;
    u32 devices[PLACE_MAX_PART_DEVS]; /* place_bdf() values */
};

struct place_mem {
    s32 node;
    u64 bytes;
};

struct place_result {
    bool ok;
    char msg[PLACE_MSG_MAX]; /* refused: why; placed: how and why */
    u32 ncpus;
    u16 cpus[PLACE_MAX_PART_CPUS]; /* vCPU i runs on cpus[i] */
    u32 nmem;
    struct place_mem mem[PLACE_MAX_NODES]; /* in the order the guest's RAM uses them */
    s32 home;                              /* node of vCPU 0 */
    s32 wanted;                            /* preferred node, -1 none */
    bool fallback;                         /* placed away from the wanted node */
    u32 ndevices;
    u16 dev_index[PLACE_MAX_PART_DEVS]; /* into place_machine.devs */
};

/* Plans all n requests; returns how many were refused. */
int place_plan(const struct place_machine *m, const struct place_request *req, u32 n, struct place_result *out);

/* Distance between two nodes, with the SLIT defaults for missing entries. */
u32 place_distance(const struct place_machine *m, u32 a, u32 b);

#endif
