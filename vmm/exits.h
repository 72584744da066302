/* Vendor-neutral exit handling for partition vCPUs: what each struct vcpu_exit
 * means for the guest (vmm/exits.c, through the device registry vmm/vdev.h),
 * the decoding of trapped accesses (vmm/mmio.c) and IPIs confined to the
 * partition (vmm/ipi.c). Anything not handled stops the partition with
 * part_fail(); never the hypervisor. */
#ifndef ISTHMUS_VMM_EXITS_H
#define ISTHMUS_VMM_EXITS_H

#include "vmm/partition.h"
#include "vmm/insn_decode.h"

void handle_exit(struct vm_vcpu *vc, const struct vcpu_exit *e);
/* Fetches up to INSN_MAX_LEN bytes at the guest's CS:RIP through its own page
 * tables; returns how many it got (0: none) and the mode they run in. */
u32 guest_fetch_insn(struct vm_vcpu *vc, u8 *buf, enum insn_mode *mode);
/* Fetches and decodes the instruction at the guest's RIP that made a trapped
 * memory access (to `what`, for the failure message). 0, or the partition
 * is failed with the reason and a negative error returned. */
int mmio_decode(struct vm_vcpu *vc, const char *what, struct insn *in) __must_check;
/* Delivers the IPI the vlapic produced, if any, to the partition's vCPUs only. */
void route_ipi(struct vm_vcpu *vc);
/* Whether the vCPU's local APIC accepts an interrupt for this destination
 * (physical APIC ID or broadcast, or a logical flat/cluster address). */
bool vcpu_accepts(const struct vm_vcpu *to, u32 dest, bool logical);
/* Reads guest-physical memory the partition can reach; -EFAULT otherwise. */
int guest_read(struct partition *p, gpa_t g, void *out, u32 len);
/* Queues #GP(0) / #UD for the next entry. */
void inject_gp(struct vm_vcpu *vc);
void inject_ud(struct vm_vcpu *vc);

#endif
