/* See vcpuid.h. Bit positions from SDM Vol. 2A, CPUID, and the AMD APM Vol. 3,
 * appendix E. */
#include "vmm/vcpuid.h"
#include "vmm/hypercall_abi.h"
#include "arch/x86/hw/cpuid.h"

/* Leaf 1 bits that name the host's thermal, power and debug-store MSRs. */
#define HOST_POWER_1_ECX                                                                                               \
    (CPUID_1_ECX_DTES64 | CPUID_1_ECX_DS_CPL | CPUID_1_ECX_EST | CPUID_1_ECX_TM2 | CPUID_1_ECX_XTPR | CPUID_1_ECX_PDCM)
#define HOST_POWER_1_EDX  (CPUID_1_EDX_DS | CPUID_1_EDX_ACPI | CPUID_1_EDX_TM | CPUID_1_EDX_PBE)
/* The machine-check architecture is the host's: its MSRs (IA32_MCG_CAP,
 * IA32_MCG_STATUS, the banks from 0x400) are #GP in a partition, and a
 * kernel shown MCE and MCA reads them unguarded: Linux with CONFIG_X86_MCE
 * (Debian's generic kernel) panics at boot ("MCA architectural violation!"). */
#define HOST_MCA_1_EDX    (CPUID_1_EDX_MCE | CPUID_1_EDX_MCA)
#define HOST_MCA_8001_EDX (CPUID_80000001_EDX_MCE | CPUID_80000001_EDX_MCA)

/* Bits needed to number 0..n (n + 1 values). */
static u32 id_bits(u32 n) { return n ? 32u - (u32)__builtin_clz(n) : 0; }

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
        out[VCPUID_EAX] = 0; /* no thread bits */
        out[VCPUID_EBX] = 1; /* one thread per core */
        out[VCPUID_ECX] = (CPUID_TOPO_SMT << CPUID_TOPO_LEVEL_SHIFT) | subleaf;
        break;
    case 1:
        out[VCPUID_EAX] = id_bits(max_id);
        out[VCPUID_EBX] = vcpus & 0xffffu; /* logical processors in the package */
        out[VCPUID_ECX] = (CPUID_TOPO_CORE << CPUID_TOPO_LEVEL_SHIFT) | subleaf;
        break;
    default: /* invalid level ends the enumeration */
        out[VCPUID_EAX] = 0;
        out[VCPUID_EBX] = 0;
        out[VCPUID_ECX] = subleaf & 0xffu;
        break;
    }
}

void vcpuid_filter(u32 leaf, u32 subleaf, const struct vcpuid_host *h, const struct vcpuid_ctx *ctx, u32 out[4])
{
    u32 vcpus = ctx->vcpus ? ctx->vcpus : 1;
    out[VCPUID_EAX] = h->eax;
    out[VCPUID_EBX] = h->ebx;
    out[VCPUID_ECX] = h->ecx;
    out[VCPUID_EDX] = h->edx;

    /* The hypervisor range belongs to us: never leak an outer hypervisor's
     * leaves when Isthmus itself runs nested. */
    if (leaf >= ISTHMUS_CPUID_LEAF && leaf <= CPUID_LEAF_HV_LAST) {
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
    case CPUID_LEAF_FEATURES:
        out[VCPUID_ECX] &= ~(CPUID_1_ECX_VMX |     /* no nested virtualisation */
                             CPUID_1_ECX_SMX |     /* GETSEC is not emulated */
                             CPUID_1_ECX_MONITOR | /* MONITOR/MWAIT would idle the host CPU */
                             HOST_POWER_1_ECX);
        /* Thermal monitoring, clock control and the debug store are the host's,
         * as leaf 6 and the PMU leaf say: their MSRs are not the guest's (Linux
         * reads IA32_THERM_INTERRUPT whenever ACPI and TM are both shown). */
        out[VCPUID_EDX] &= ~(HOST_POWER_1_EDX | HOST_MCA_1_EDX);
        /* The vlapic has x2APIC mode whatever the host's APIC has: its
         * registers as MSRs, so Linux's EOIs and IPIs are single WRMSR exits
         * rather than decoded page accesses. Without interrupt remapping
         * Linux takes it only in physical mode and because the KVM
         * signature says a hypervisor routes the interrupts. */
        out[VCPUID_ECX] |= CPUID_1_ECX_X2APIC;
        /* The vlapic's timer has TSC-deadline mode (IA32_TSC_DEADLINE is the
         * local APIC device's), whatever the host's APIC has: Linux then
         * needs no calibration of the APIC timer at all. */
        out[VCPUID_ECX] |= CPUID_1_ECX_TSC_DEADLINE;
        /* OSXSAVE passes through: it mirrors CR4.OSXSAVE, which guest and
         * host set alike for the XSAVE state the guest is given. */
        out[VCPUID_ECX] |= CPUID_1_ECX_HYPERVISOR; /* tells the guest to look at 0x40000000 */
        if (ctx->shadow)
            out[VCPUID_ECX] &= ~CPUID_1_ECX_PCID; /* shadow paging keys roots by CR3 alone */
        /* EBX[31:24] initial APIC ID, [23:16] logical processors per package:
         * the vCPU's, not the host CPU's it happens to run on. */
        out[VCPUID_EBX] = (out[VCPUID_EBX] & 0x0000ffffu) | ((ctx->apic_id & 0xffu) << 24) | (MIN(vcpus, 0xffu) << 16);
        /* HTT says EBX[23:16] is meaningful; set it whenever there are siblings. */
        if (vcpus > 1)
            out[VCPUID_EDX] |= CPUID_1_EDX_HTT;
        else
            out[VCPUID_EDX] &= ~CPUID_1_EDX_HTT;
        out[VCPUID_EDX] |= CPUID_1_EDX_APIC; /* every vCPU has the emulated local APIC */
        break;
    case CPUID_LEAF_EXT_FEATURES:
        if (subleaf != 0)
            break;
        /* No IA32_TSC_ADJUST (the guest's TSC is the host's, unadjustable);
         * no RDPID, which reads IA32_TSC_AUX (see RDTSCP below); no 5-level
         * paging: guests enter with 4-level tables, and a bzImage's
         * decompressor would otherwise look for a trampoline to switch. */
        out[VCPUID_EBX] &= ~CPUID_7_EBX_TSC_ADJUST;
        out[VCPUID_ECX] &= ~(CPUID_7_ECX_RDPID | CPUID_7_ECX_LA57);
        /* No WAITPKG: VT-x makes UMONITOR/UMWAIT/TPAUSE #UD unless "enable
         * user wait and pause" is set, which it is not; Linux would use
         * TPAUSE for every udelay() on a host CPU that has it. */
        out[VCPUID_ECX] &= ~CPUID_7_ECX_WAITPKG;
        if (ctx->shadow || ctx->invpcid_ud)
            out[VCPUID_EBX] &= ~CPUID_7_EBX_INVPCID;
        if (ctx->shadow)
            out[VCPUID_ECX] &= ~CPUID_7_ECX_PKU; /* not in shadow entries */
        break;
    case CPUID_LEAF_XSAVE:
        /* XSAVES/XRSTORS and the supervisor state components they manage need
         * IA32_XSS, which neither backend switches (and VT-x makes XSAVES #UD
         * unless a control allows it): hidden, so the guest keeps its state
         * with XSAVE/XSAVEOPT and never writes IA32_XSS. */
        if (subleaf == 1) {
            out[VCPUID_EAX] &= ~CPUID_D_1_EAX_XSAVES;
            out[VCPUID_ECX] = 0;
            out[VCPUID_EDX] = 0;
        }
        break;
    case CPUID_LEAF_THERMAL:
        /* Thermal and power management are the host's; only ARAT, which the
         * vlapic's timer has: it counts in TSC time whatever the vCPU does. */
        out[0] = out[1] = out[2] = out[3] = 0;
        out[VCPUID_EAX] = CPUID_6_EAX_ARAT;
        break;
    case CPUID_LEAF_PMU: /* no virtual PMU: the counters are not context-switched */
        out[0] = out[1] = out[2] = out[3] = 0;
        break;
    case CPUID_LEAF_TOPOLOGY:
    case CPUID_LEAF_TOPOLOGY_V2: /* host topology says nothing about the partition: flat */
        flat_topology(subleaf, ctx, vcpus, out);
        break;
    case CPUID_LEAF_EXT_AMD:
        out[VCPUID_ECX] &= ~CPUID_80000001_ECX_SVM; /* no nested virtualisation */
        /* RDTSCP would read the host CPU's IA32_TSC_AUX, which neither
         * backend switches: hidden, so the guest never writes TSC_AUX. */
        out[VCPUID_EDX] &= ~(CPUID_80000001_EDX_RDTSCP | HOST_MCA_8001_EDX);
        break;
    case CPUID_LEAF_EXT_POWER:
        /* The guest's TSC is the host's, which the hypervisor's own clock
         * (kernel/core/time.c) already takes to run at one rate in every
         * state; the host's power-management bits are not the guest's. */
        out[0] = out[1] = out[2] = out[3] = 0;
        out[VCPUID_EDX] = CPUID_80000007_EDX_INVARIANT_TSC;
        break;
    case CPUID_LEAF_SVM: /* SVM feature leaf: meaningless with SVM hidden */
        out[0] = out[1] = out[2] = out[3] = 0;
        break;
    default: break; /* everything else: the host's answer */
    }
}
