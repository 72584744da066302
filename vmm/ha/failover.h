/* The heartbeat master (vmm/ha/hb.h) in the hypervisor: its configuration, the
 * management timer on CPU 0, the partitions' hooks, the hypercalls, and what
 * its actions do to partitions and the switch. docs/failover.md. */
#ifndef ISTHMUS_VMM_FAILOVER_H
#define ISTHMUS_VMM_FAILOVER_H

#include "vmm/ha/hb.h"
#include "vmm/hypercall.h"

struct partition;

extern struct hb_master hb;

/* At boot, after partitions_init() and before partitions_autostart(): the
 * groups of the configuration. */
void failover_init(void);
/* The management timer: CPU 0, from the shell's idle loop. */
void failover_tick(void);
/* Manual switchover (the shell's `failover NAME`). */
int failover_switchover(u32 group, char *err, size_t errlen) __must_check;
/* The group a partition is in, or NULL. */
const struct config_failover *failover_group_of(const struct partition *p);

/* failover_init() registers the master as the partitions' observer
 * (struct part_observer, vmm/partition.h): it learns of starts, stops and
 * failures (not of its own starts and stops) and fills the heartbeat part of
 * hypercall environments. */

#endif
