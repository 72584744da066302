/* The Isthmus hypercall ABI, shared by the hypervisor and guests (guest/ includes
 * this file). Documented for guest authors in docs/hypercalls.md.
 *
 * Calling convention (both vendors): the guest executes VMCALL (Intel) or
 * VMMCALL (AMD) at CPL 0 with
 *     RAX = call number, RDI, RSI, RDX, R10 = arguments 1-4;
 * the result comes back in RAX: >= 0 on success, a negative HC_E* code on
 * failure. Other registers are preserved. A call from CPL > 0 fails with
 * HC_EPERM. Guests find Isthmus with CPUID leaf 0x40000000: EBX, ECX, EDX spell
 * "IsthmusIsthm" and EAX is the highest hypervisor leaf.
 *
 * This header must stay freestanding C with fixed-width types only. */
#ifndef ISTHMUS_VMM_HYPERCALL_ABI_H
#define ISTHMUS_VMM_HYPERCALL_ABI_H

#include <stdint.h>

#define ISTHMUS_CPUID_LEAF    0x40000000u
#define ISTHMUS_CPUID_SIG_EBX 0x68747349u /* "Isth" */
#define ISTHMUS_CPUID_SIG_ECX 0x4973756du /* "musI" */
#define ISTHMUS_CPUID_SIG_EDX 0x6d687473u /* "sthm" */

#define HC_ABI_MAJOR 1
#define HC_ABI_MINOR 0

enum isthmus_hypercall {
    HC_ABI_VERSION = 0x00,    /* () -> (major << 16) | minor */
    HC_CONSOLE_WRITE = 0x01,  /* (gpa buf, u64 len <= HC_CONSOLE_MAX) -> bytes written */
    HC_PARTITION_INFO = 0x02, /* (gpa struct isthmus_partition_info *out) -> 0 */
    HC_HALT = 0x03,           /* () -> 0 once an interrupt is pending for this vCPU */
    HC_YIELD = 0x04,          /* () -> 0 (a pause hint; vCPUs are pinned, nothing is scheduled) */
    /* Ranges reserved for later ABI: calls in them return HC_ENOSYS until defined. */
    HC_NET_FIRST = 0x100, /* networking */
    HC_NET_LAST = 0x1ff,
    HC_HEARTBEAT_FIRST = 0x200, /* heartbeats and failover (docs/failover.md) */
    HC_HB_INFO = 0x200,         /* (gpa struct isthmus_hb_info *out) -> 0, or -HC_ENOENT outside a group */
    HC_HB_BEAT = 0x201,         /* (u64 role the agent acts as) -> role it must take (enum isthmus_hb_role) */
    HC_HEARTBEAT_LAST = 0x2ff,
};

#define HC_CONSOLE_MAX 4096

/* Error codes (negated in RAX). Values follow Linux errno numbers. */
#define HC_EPERM  1
#define HC_ENOENT 2
#define HC_EFAULT 14
#define HC_EINVAL 22
#define HC_E2BIG  7
#define HC_ENOSYS 38

#define ISTHMUS_NAME_MAX 32

struct isthmus_partition_info {
    uint32_t abi;                /* (major << 16) | minor */
    uint32_t partition_id;       /* 0-based index in the configuration */
    char name[ISTHMUS_NAME_MAX]; /* NUL-terminated */
    uint32_t vcpus;              /* vCPUs of this partition */
    uint32_t vcpu_index;         /* which of them made the call */
    uint64_t memory_bytes;       /* RAM in the memory map (type 1 ranges) */
    uint32_t node;               /* NUMA node the partition was placed on */
    uint32_t flags;              /* reserved, 0 */
    uint64_t tsc_khz;            /* guest TSC frequency */
    uint64_t apic_timer_khz;     /* local APIC timer input clock (before its divider) */
} __attribute__((packed));
_Static_assert(sizeof(struct isthmus_partition_info) == 80, "partition info is 80 bytes");

/* Heartbeats. An agent in a partition of a [[failover]] group calls HC_HB_BEAT
 * every interval_ms with the role it currently acts as; the answer is the role
 * it must take. A standby answered HB_ROLE_PRIMARY takes over the service
 * (answers for its MAC address) and says so in its next beat: that beat ends
 * the takeover. Outside a group HC_HB_BEAT returns HB_ROLE_NONE. */
enum isthmus_hb_role {
    HB_ROLE_NONE = 0,
    HB_ROLE_PRIMARY = 1,
    HB_ROLE_STANDBY = 2,
};

struct isthmus_hb_info {
    uint32_t interval_ms;   /* beat this often */
    uint32_t misses;        /* this many missed beats declare the partition failed */
    uint32_t grace_ms;      /* the first beat after a start is due within this */
    uint32_t role;          /* enum isthmus_hb_role, as now */
    uint8_t service_mac[6]; /* the service's MAC address (valid when has_mac) */
    uint8_t has_mac;        /* the group's partitions have NICs */
    uint8_t reserved0;
    uint8_t service_ip[4];        /* 0.0.0.0 when not configured */
    char group[ISTHMUS_NAME_MAX]; /* the failover group, NUL-terminated */
    uint32_t reserved1;
} __attribute__((packed));
_Static_assert(sizeof(struct isthmus_hb_info) == 64, "heartbeat info is 64 bytes");

/* Timing leaf, as VMware defined it and Linux reads it: EAX = TSC kHz,
 * EBX = local APIC timer input clock in kHz. */
#define ISTHMUS_CPUID_TIMING_LEAF 0x40000010u

#endif
