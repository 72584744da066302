/* The hypervisor side of a partition's NIC (net/vnet.h): where it sits on the
 * partition's PCI bus, how its trapped BAR accesses and interrupts reach the
 * guest, and the retries of held frames on the partition's first vCPU. */
#ifndef ISTHMUS_VMM_VNIC_H
#define ISTHMUS_VMM_VNIC_H

#include "vmm/partition.h"

/* At boot: the switch, then a port for each partition with nic = true. */
void vnic_init_all(void);
/* On the partition's bus (from build_pci). */
int vnic_add_to_bus(struct partition *p, u64 *next32, char *err, size_t errlen) __must_check;
/* The partition got its memory / is about to lose it (or failed): the port
 * goes up with a reset device / is reset and cut off. */
void vnic_connect(struct partition *p);
void vnic_disconnect(struct partition *p);
/* A second-level fault: true when it was an access to the NIC's BAR, emulated. */
bool vnic_mmio(struct vm_vcpu *vc, const struct vcpu_exit *e);
/* On the first vCPU: the TSC deadline of the next retry (0 = none), and the
 * retry itself when due. */
u64 vnic_deadline(struct vm_vcpu *vc);
void vnic_poll(struct vm_vcpu *vc);
u64 vnic_now_ns(void);

#endif
