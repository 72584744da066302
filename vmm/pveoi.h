/* KVM's paravirtual EOI (Linux Documentation/virt/kvm/x86/msr.rst,
 * MSR_KVM_PV_EOI_EN; the guest's side is arch/x86/kernel/kvm.c,
 * kvm_guest_apic_eoi_write): the guest registers a 4-byte flag in its memory
 * per vCPU. Before an entry the hypervisor sets the flag's bit 0 when the
 * interrupt in service needs no EOI exit (vlapic_pv_eoi_ok); the guest's
 * EOI then test-and-clears the bit in one instruction instead of writing the
 * EOI register, and the hypervisor applies that EOI at the next exit. So an
 * interrupt costs no exit of its own for its EOI.
 *
 * The flag is only set for exactly one vector in service with nothing
 * requested, and taken back before any other interrupt is injected, so a
 * cleared bit always means the EOI of that one vector. Pure but for guest
 * memory, which comes in as a gmem (host unit tests run it over heap
 * blocks). Every guest-supplied value is checked: a bad MSR write is
 * refused (#GP). */
#ifndef ISTHMUS_VMM_PVEOI_H
#define ISTHMUS_VMM_PVEOI_H

#include "kernel/lib/types.h"
#include "vmm/gmem.h"
#include "vmm/hypercall.h"
#include "vmm/vlapic.h"

struct pveoi {
    u64 msr;     /* MSR_KVM_PV_EOI_EN as the guest wrote it; bit 0 clear: off */
    bool armed;  /* bit 0 of the guest's flag is set by us, not yet cleared by it */
    u64 eois;    /* EOIs the guest made by clearing the flag */
    u64 refused; /* MSR writes refused with #GP */
};

/* The check of a value written to MSR_KVM_PV_EOI_EN: 0, or -EINVAL for the
 * reserved bit 1, or -EFAULT when enabling with a flag outside the guest's
 * RAM (the RAM ranges it was given) or across a page. Disabling takes any
 * address bits, as KVM does. */
int pveoi_msr_check(const struct hc_mem_range *ram, u32 nram, u64 val) __must_check;

/* A WRMSR: checks val (on error nothing changes and refused is counted),
 * settles the flag at the old address (pveoi_sync, then clears a bit still
 * set), then takes the new value. 0, the check's error, or a gmem error. */
int pveoi_write_msr(struct pveoi *s, struct vlapic *a, const struct gmem *m, const struct hc_mem_range *ram, u32 nram,
                    u64 val) __must_check;

/* After every exit, before it is handled: if the flag was set and the guest
 * cleared it, that is an EOI, applied to the vlapic now. 0 or a gmem error
 * (the partition's memory no longer holds the flag: the caller fails it). */
int pveoi_sync(struct pveoi *s, struct vlapic *a, const struct gmem *m) __must_check;

/* Before every entry, after the interrupt to inject was chosen: sets the
 * guest's bit when vlapic_pv_eoi_ok, takes it back when not. 0 or a gmem
 * error. */
int pveoi_arm(struct pveoi *s, struct vlapic *a, const struct gmem *m) __must_check;

/* INIT: off, as after reset (the guest registers again). */
void pveoi_reset(struct pveoi *s);

#endif
