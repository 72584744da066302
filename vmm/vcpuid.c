/* See vcpuid.h. Bit positions from SDM Vol. 2A, CPUID, and the AMD APM Vol. 3,
 * appendix E. */
#include "vmm/vcpuid.h"
#include "vmm/hypercall_abi.h"

/* Leaf 1 ECX. */
#define L1C_PCID         BIT(17)
#define L7B_INVPCID      BIT(10)
#define L7C_PKU          BIT(3)
#define L7C_LA57         BIT(16)
#define L1C_MONITOR      BIT(3)
#define L1C_VMX          BIT(5)
#define L1C_SMX          BIT(6)
#define L1C_X2APIC       BIT(21)
#define L1C_TSC_DEADLINE BIT(24)
#define L1C_HYPERVISOR   BIT(31)
/* Leaf 1 EDX. */
#define L1D_APIC         BIT(9)
#define L1D_HTT          BIT(28)
/* Leaf 0x80000001 ECX. */
#define LX1C_SVM         BIT(2)

/* Leaf 0xB / 0x1F level types (ECX[15:8]). */
#define TOPO_SMT  1u
#define TOPO_CORE 2u

/* Bits needed to number 0..n (n + 1 values). */
static u32 id_bits(u32 n)
{
    return n ? 32u - (u32)__builtin_clz(n) : 0;
}

/* A flat topology: one package, every vCPU a core with one thread, so the
 * guest schedules them as equals (they are pinned to distinct host CPUs whose
 * real siblings are not the guest's business). The core level's shift covers
 * every APIC ID of the partition, so all vCPUs report the same package. */
static void flat_topology(u32 subleaf, const struct vcpuid_ctx *ctx, u32 vcpus, u32 out[4])
{
    u32 max_id = ctx->max_apic_id ? ctx->max_apic_id : vcpus - 1;
    if (max_id < ctx->apic_id)
        max_id = ctx->apic_id;
    out[VCPUID_EDX] = ctx->apic_id;
    switch (subleaf) {
    case 0:
        out[VCPUID_EAX] = 0;                 /* no thread bits */
        out[VCPUID_EBX] = 1;                 /* one thread per core */
        out[VCPUID_ECX] = (TOPO_SMT << 8) | subleaf;
        break;
    case 1:
        out[VCPUID_EAX] = id_bits(max_id);
        out[VCPUID_EBX] = vcpus & 0xffffu;   /* logical processors in the package */
        out[VCPUID_ECX] = (TOPO_CORE << 8) | subleaf;
        break;
    default:                                 /* invalid level ends the enumeration */
        out[VCPUID_EAX] = 0;
        out[VCPUID_EBX] = 0;
        out[VCPUID_ECX] = subleaf & 0xffu;
        break;
    }
}

void vcpuid_filter(u32 leaf, u32 subleaf, const struct vcpuid_host *h,
                   const struct vcpuid_ctx *ctx, u32 out[4])
{
    u32 vcpus = ctx->vcpus ? ctx->vcpus : 1;
    out[VCPUID_EAX] = h->eax;
    out[VCPUID_EBX] = h->ebx;
    out[VCPUID_ECX] = h->ecx;
    out[VCPUID_EDX] = h->edx;

    /* The hypervisor range belongs to us: never leak an outer hypervisor's
     * leaves when Isthmus itself runs nested. */
    if (leaf >= ISTHMUS_CPUID_LEAF && leaf <= 0x4fffffffu) {
        out[0] = out[1] = out[2] = out[3] = 0;
        if (leaf == ISTHMUS_CPUID_LEAF) {
            out[VCPUID_EAX] = VCPUID_HV_MAX_LEAF;
            out[VCPUID_EBX] = ISTHMUS_CPUID_SIG_EBX;
            out[VCPUID_ECX] = ISTHMUS_CPUID_SIG_ECX;
            out[VCPUID_EDX] = ISTHMUS_CPUID_SIG_EDX;
        } else if (leaf == ISTHMUS_CPUID_TIMING_LEAF) {
            /* Guests (Linux included) take these instead of calibrating. */
            out[VCPUID_EAX] = ctx->tsc_khz;
            out[VCPUID_EBX] = ctx->apic_timer_khz;
        }
        return;
    }

    switch (leaf) {
    case 1:
        out[VCPUID_ECX] &= ~(L1C_VMX |          /* no nested virtualisation */
                             L1C_SMX |          /* GETSEC is not emulated */
                             L1C_X2APIC |       /* the vlapic is xAPIC (MMIO) only */
                             L1C_MONITOR |      /* MONITOR/MWAIT would idle the host CPU */
                             L1C_TSC_DEADLINE); /* the vlapic timer has no TSC-deadline mode */
        /* OSXSAVE (27) passes through: it mirrors CR4.OSXSAVE, which guest and
         * host set alike for the XSAVE state the guest is given. */
        out[VCPUID_ECX] |= L1C_HYPERVISOR;      /* tells the guest to look at 0x40000000 */
        if (ctx->shadow)
            out[VCPUID_ECX] &= ~L1C_PCID;       /* shadow paging keys roots by CR3 alone */
        /* EBX[31:24] initial APIC ID, [23:16] logical processors per package:
         * the vCPU's, not the host CPU's it happens to run on. */
        out[VCPUID_EBX] = (out[VCPUID_EBX] & 0x0000ffffu) | ((ctx->apic_id & 0xffu) << 24) |
                          (MIN(vcpus, 0xffu) << 16);
        /* HTT says EBX[23:16] is meaningful; set it whenever there are siblings. */
        if (vcpus > 1)
            out[VCPUID_EDX] |= L1D_HTT;
        else
            out[VCPUID_EDX] &= ~L1D_HTT;
        out[VCPUID_EDX] |= L1D_APIC;            /* every vCPU has the emulated local APIC */
        break;
    case 7:
        if (ctx->shadow && subleaf == 0) {
            out[VCPUID_EBX] &= ~L7B_INVPCID;
            out[VCPUID_ECX] &= ~(L7C_PKU | L7C_LA57);   /* not in shadow entries */
        }
        break;
    case 6:         /* thermal and power management: the host's, not the guest's */
    case 0xa:       /* no virtual PMU: the counters are not context-switched */
        out[0] = out[1] = out[2] = out[3] = 0;
        break;
    case 0xb:
    case 0x1f:      /* host topology says nothing about the partition: flat */
        flat_topology(subleaf, ctx, vcpus, out);
        break;
    case 0x80000001u:
        out[VCPUID_ECX] &= ~LX1C_SVM;           /* no nested virtualisation */
        break;
    case 0x8000000au:   /* SVM feature leaf: meaningless with SVM hidden */
        out[0] = out[1] = out[2] = out[3] = 0;
        break;
    default:
        break;          /* everything else: the host's answer */
    }
}
