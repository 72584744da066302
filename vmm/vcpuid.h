/* What a guest sees for CPUID: the host's answer, filtered (vcpuid_filter).
 * Arch-neutral: the caller executes CPUID on the host for (leaf, subleaf) and
 * passes the raw registers in, so the rules are testable anywhere. */
#ifndef ISTHMUS_VMM_VCPUID_H
#define ISTHMUS_VMM_VCPUID_H

#include "kernel/lib/types.h"

enum vcpuid_vendor { VCPUID_VENDOR_OTHER = 0, VCPUID_VENDOR_INTEL, VCPUID_VENDOR_AMD };

/* The host's raw CPUID answer for the leaf and subleaf asked. */
struct vcpuid_host {
    u32 eax, ebx, ecx, edx;
};

struct vcpuid_ctx {
    u32 apic_id;        /* this vCPU's (x2)APIC ID */
    u32 vcpus;          /* vCPUs of the partition (0 is taken as 1) */
    u32 max_apic_id;    /* highest APIC ID in the partition; 0: vcpus - 1 */
    u32 tsc_khz;        /* guest TSC frequency */
    u32 apic_timer_khz; /* local APIC timer input clock */
    enum vcpuid_vendor vendor;
    bool shadow;     /* shadow paging: no PCIDs, INVPCID, protection keys or 5-level paging */
    bool invpcid_ud; /* the backend makes INVPCID #UD in this guest: hide it */
};

enum { VCPUID_EAX, VCPUID_EBX, VCPUID_ECX, VCPUID_EDX };

/* Hypervisor leaves: 0x40000000 .. VCPUID_HV_MAX_LEAF. */
#define VCPUID_HV_MAX_LEAF 0x40000010u

/* Fills out[EAX..EDX] with what the guest gets for CPUID(leaf, subleaf). */
void vcpuid_filter(u32 leaf, u32 subleaf, const struct vcpuid_host *host_values, const struct vcpuid_ctx *ctx,
                   u32 out[4]);

#endif
