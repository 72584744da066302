/* The hypervisor side of the hypercall ABI (vmm/hypercall_abi.h): argument
 * checks and the calls themselves, arch-neutral so that host unit tests drive
 * every check. The exit handler fills a struct hc_env from the partition and
 * the vCPU and acts on the result. */
#ifndef ISTHMUS_VMM_HYPERCALL_H
#define ISTHMUS_VMM_HYPERCALL_H

#include "kernel/lib/types.h"
#include "kernel/lib/gpa.h"
#include "vmm/hypercall_abi.h"
#include "vmm/gmem.h"

struct hc_env {
    /* Guest memory the guest may name: a range is accepted only if it lies
     * wholly inside one of these (the partition's RAM as mapped). */
    const struct hc_mem_range {
        u64 start, end;
    } * ram;
    u32 nram;
    /* The partition's memory (one or more host blocks). */
    const struct gmem *mem;
    u32 cpl;
    struct isthmus_partition_info info; /* filled by the caller, vcpu_index included */
    /* Console output of HC_CONSOLE_WRITE. */
    void (*console)(void *ctx, const u8 *p, u32 n);
    void *ctx;
    /* Heartbeats: the partition's failover group, filled only when it is in
     * one (NULL otherwise). hb_beat records a beat claiming a role (already
     * checked) and returns the role to take. */
    const struct isthmus_hb_info *hb_info;
    u32 (*hb_beat)(void *ctx, u32 claimed);
};

enum hc_action { HC_ACT_NONE, HC_ACT_HALT };

/* Runs call `nr` with args[0..3] (RDI, RSI, RDX, R10). Returns what goes to
 * the guest's RAX (>= 0, or -HC_E*); *act tells the caller to halt the vCPU
 * until an interrupt (HC_HALT). */
s64 hypercall_dispatch(const struct hc_env *e, u64 nr, const u64 args[4], enum hc_action *act);

/* Whether [gpa, gpa + len) lies inside one RAM range of e (len 0 is not). */
bool hc_range_ok(const struct hc_env *e, u64 gpa, u64 len);

#endif
