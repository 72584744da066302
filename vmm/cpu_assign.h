/* Which physical CPUs each configured partition gets: explicit lists are checked
 * (the CPU exists, is not the shell's, belongs to nobody else), counts are filled
 * from the lowest-numbered free CPUs. One vCPU is pinned to each. NUMA-aware
 * placement (the NUMA issue) will choose CPUs for counts by locality instead. */
#ifndef ISTHMUS_VMM_CPU_ASSIGN_H
#define ISTHMUS_VMM_CPU_ASSIGN_H

#include "kernel/config.h"

#define CPU_ASSIGN_MAX_CPUS 256

struct cpu_assignment {
    u32 ncpus[CONFIG_MAX_PARTITIONS];
    u16 cpu[CONFIG_MAX_PARTITIONS][CONFIG_MAX_PART_CPUS];   /* physical CPU indices */
    bool ok[CONFIG_MAX_PARTITIONS];                          /* false: refused, see messages */
};

/* Assigns CPUs to every partition of cfg on a machine with `ncpus` CPUs (indices
 * 0..ncpus-1, as `cpus` lists them). A partition that cannot be satisfied is
 * refused (ok = false) with one message each in msgs[i] and does not take CPUs
 * from the ones after it. Returns the number refused. */
int cpu_assign(const struct isthmus_config *cfg, u32 ncpus, struct cpu_assignment *out,
               char msgs[CONFIG_MAX_PARTITIONS][160]);

#endif
