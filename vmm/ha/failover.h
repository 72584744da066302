/* The heartbeat master (vmm/ha/hb.h) in the hypervisor: its configuration, the
 * management timer on CPU 0, the partitions' hooks, the hypercalls, and what
 * its actions do to partitions and the switch. docs/failover.md. */
#ifndef ISTHMUS_VMM_FAILOVER_H
#define ISTHMUS_VMM_FAILOVER_H

#include "vmm/ha/hb.h"
#include "vmm/hypercall.h"

struct partition;

extern struct hb_master hb;

/* At boot, before partitions start: the groups of the configuration. */
void failover_init(void);
/* The management timer: CPU 0, from the shell's idle loop. */
void failover_tick(void);
/* Manual switchover (the shell's `failover NAME`). */
int failover_switchover(u32 group, char *err, size_t errlen) __must_check;
/* The group a partition is in, or NULL. */
const struct config_failover *failover_group_of(const struct partition *p);

/* Hooks of the partition lifecycle (vmm/partition.c). starting: its vCPUs
 * are about to run; stopped: it is stopped; down: it failed (any CPU). Starts
 * and stops made by the master itself are not reported back to it. */
void failover_starting(struct partition *p);
void failover_stopped(struct partition *p);
void failover_down(struct partition *p, enum hb_down how);

/* Fills the heartbeat part of a hypercall environment (info into *buf). */
void failover_hc_env(struct partition *p, struct hc_env *env, struct isthmus_hb_info *buf);

#endif
