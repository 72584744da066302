/* The hypervisor side of a partition's NIC (vmm/dev/vnic.c; net/vnet.h is the
 * device): what the layers above it may ask. */
#ifndef ISTHMUS_VMM_VNIC_H
#define ISTHMUS_VMM_VNIC_H

#include "vmm/partition.h"
#include "net/vnet.h"

/* The partition's switch port, or NULL when it has no NIC. */
struct vnet *vnic_port(const struct partition *p);
u64 vnic_now_ns(void);

#endif
