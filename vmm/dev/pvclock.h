/* The KVM paravirtual clock as a guest sees it (Linux Documentation/virt/kvm/
 * x86/msr.rst, arch/x86/include/asm/pvclock-abi.h): the CPUID leaves that
 * announce it, the two structures the hypervisor writes into guest memory,
 * the guest's scaling of TSC ticks to nanoseconds, and the checks of the
 * guest-physical addresses it names. Pure, for unit tests; the device that
 * uses them is vmm/dev/kvmclock.c. */
#ifndef ISTHMUS_VMM_DEV_PVCLOCK_H
#define ISTHMUS_VMM_DEV_PVCLOCK_H

#include "kernel/lib/types.h"
#include "vmm/hypercall.h"
#include "arch/x86/hw/cpuid.h"

/* The KVM leaves sit one step above Isthmus' own (0x40000000, the test
 * guest's ABI): guests look for the KVM signature at every 0x100 step. */
#define KVM_CPUID_BASE 0x40000100u
#define KVM_CPUID_LAST (KVM_CPUID_BASE + CPUID_KVM_FEATURES)
/* What this hypervisor implements, and nothing more: the clock MSRs, with the
 * stable bit (one TSC for all vCPUs), no I/O delay needed on port 0x80, and
 * the PV EOI flag (the local APIC's, vmm/pveoi.h). */
#define KVM_FEATURES_OFFERED                                                                                           \
    (CPUID_KVM_FEATURE_NOP_IO_DELAY | CPUID_KVM_FEATURE_CLOCKSOURCE2 | CPUID_KVM_FEATURE_CLOCKSOURCE_STABLE |          \
     CPUID_KVM_FEATURE_PV_EOI)

/* pvclock_vcpu_time_info: per vCPU, at the GPA written to
 * MSR_KVM_SYSTEM_TIME_NEW. time = system_time + scale(tsc - tsc_timestamp). */
struct pvclock_vcpu_time_info {
    u32 version; /* odd while the hypervisor writes */
    u32 pad0;
    u64 tsc_timestamp;
    u64 system_time; /* ns */
    u32 tsc_to_system_mul;
    s8 tsc_shift;
    u8 flags; /* PVCLOCK_* */
    u8 pad[2];
} __packed;
STATIC_ASSERT(sizeof(struct pvclock_vcpu_time_info) == 32, "pvclock_vcpu_time_info is 32 bytes");
STATIC_ASSERT(__builtin_offsetof(struct pvclock_vcpu_time_info, tsc_timestamp) == 8, "tsc_timestamp at 8");
STATIC_ASSERT(__builtin_offsetof(struct pvclock_vcpu_time_info, system_time) == 16, "system_time at 16");
STATIC_ASSERT(__builtin_offsetof(struct pvclock_vcpu_time_info, tsc_to_system_mul) == 24, "mul at 24");
STATIC_ASSERT(__builtin_offsetof(struct pvclock_vcpu_time_info, tsc_shift) == 28, "shift at 28");
STATIC_ASSERT(__builtin_offsetof(struct pvclock_vcpu_time_info, flags) == 29, "flags at 29");

#define PVCLOCK_TSC_STABLE_BIT BIT(0) /* every vCPU reads one clock: no cross-CPU fix-ups */

/* pvclock_wall_clock: at the GPA written to MSR_KVM_WALL_CLOCK_NEW, the UTC
 * time at which system_time was 0. */
struct pvclock_wall_clock {
    u32 version;
    u32 sec;
    u32 nsec;
} __packed;
STATIC_ASSERT(sizeof(struct pvclock_wall_clock) == 12, "pvclock_wall_clock is 12 bytes");

#define MSR_KVM_SYSTEM_TIME_ENABLE BIT(0)

/* The KVM leaves for `leaf` in KVM_CPUID_BASE..KVM_CPUID_LAST (others: zeros). */
void kvm_cpuid_leaf(u32 leaf, u32 out[4]);

/* mul and shift for a TSC of tsc_khz (1 .. 2^30): the largest mul below 2^32
 * with ns = ((ticks << shift, or >> -shift) * mul) >> 32, rounded down so that
 * the guest's clock never runs ahead, and a guest computing the frequency
 * back (Linux pvclock_tsc_khz) gets tsc_khz less its last -shift bits (for
 * 2.4 GHz, within 2 kHz). -EINVAL for a frequency out of range. */
int pvclock_scale(u64 tsc_khz, u32 *mul, s8 *shift) __must_check;
/* Nanoseconds for `ticks`, exactly as the guest computes them. */
u64 pvclock_ticks_to_ns(u64 ticks, u32 mul, s8 shift);

/* Whether the guest may have [gpa, gpa + len) written by the hypervisor: in
 * its RAM, 4-byte aligned (msr.rst), and within one page. -EINVAL when
 * misaligned or straddling pages, -EFAULT outside RAM. */
int pvclock_gpa_check(const struct hc_mem_range *ram, u32 nram, u64 gpa, u32 len) __must_check;

/* The time info of a clock that started (system_time 0) at TSC start_tsc:
 * its timestamp is the start itself, so every vCPU's page describes the
 * same line and the vCPUs' clocks agree exactly. */
void pvclock_fill(struct pvclock_vcpu_time_info *t, u32 version, u64 start_tsc, u32 mul, s8 shift);
/* The wall clock for a boot time of boot_ns (UTC ns since 1970). */
void pvclock_fill_wall(struct pvclock_wall_clock *w, u32 version, u64 boot_ns);

#endif
