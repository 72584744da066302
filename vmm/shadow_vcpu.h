/* Shadow paging for a partition's vCPU: the glue between the vendor-neutral
 * exits (CR accesses, INVLPG, #PF) and the shadow MMU (vmm/shadow.h). The
 * guest's view of CR0/CR3/CR4/EFER lives here; the hardware runs with CR0.PG
 * and CR0.WP always set, PAE always on, and CR3 pointing at a shadow root. */
#ifndef ISTHMUS_VMM_SHADOW_VCPU_H
#define ISTHMUS_VMM_SHADOW_VCPU_H

#include "vmm/partition.h"

/* At partition build: decides nested or shadow paging from the configuration
 * and the CPU, and sets up the shadow MMU. 0, or a negative error with the
 * reason in err. */
int shadow_part_init(struct partition *p, char *err, size_t errlen) __must_check;
void shadow_part_free(struct partition *p);
/* The shadow leaf vCPU `vcpu` runs with for va now (0: none yet), for the
 * shell; -ENOTSUP when the partition is not shadowed, -ERANGE for no such
 * vCPU. */
int shadow_part_entry(struct partition *p, u32 vcpu, u64 va, u64 *entry) __must_check;

/* After the backend's create(): intercepts on, and, after load_state(), the
 * boot state's paging registers taken as the guest's view. */
int shadow_vcpu_enable(struct vm_vcpu *vc) __must_check;
int shadow_vcpu_start(struct vm_vcpu *vc, const struct vcpu_boot_state *s) __must_check;

void handle_cr_access(struct vm_vcpu *vc, const struct vcpu_exit *e);
void handle_invlpg(struct vm_vcpu *vc, const struct vcpu_exit *e);
/* A #PF exit of a shadowed vCPU. */
void shadow_handle_pf(struct vm_vcpu *vc, const struct vcpu_exit *e);
/* WRMSR EFER on a shadowed vCPU (value already checked): false for #GP. */
bool shadow_write_efer(struct vm_vcpu *vc, u64 val);
/* The guest-physical map changed (a BAR moved): every shadow is dropped. */
void shadow_gpa_map_changed(struct vm_vcpu *vc);

#endif
