/* CPUID leaves and the feature bits Isthmus tests or filters (SDM Vol. 2A,
 * CPUID, tables 3-8 to 3-10; APM Vol. 3 appendix E). Named CPUID_<leaf>_<reg>_<FEATURE>.
 * Definitions only: the cpuid() intrinsic is in arch/x86/hw/cpu.h. */
#ifndef ISTHMUS_ARCH_X86_HW_CPUID_H
#define ISTHMUS_ARCH_X86_HW_CPUID_H

#include "kernel/lib/types.h"

/* Leaves. */
#define CPUID_LEAF_VENDOR       0x0u /* EAX: highest basic leaf; vendor string */
#define CPUID_LEAF_FEATURES     0x1u
#define CPUID_LEAF_THERMAL      0x6u        /* thermal and power management */
#define CPUID_LEAF_EXT_FEATURES 0x7u        /* structured extended features, subleaf 0 */
#define CPUID_LEAF_PMU          0xau        /* architectural performance monitoring */
#define CPUID_LEAF_TOPOLOGY     0xbu        /* extended topology */
#define CPUID_LEAF_XSAVE        0xdu        /* XSAVE state components, subleaf 0 */
#define CPUID_LEAF_TOPOLOGY_V2  0x1fu       /* V2 extended topology */
#define CPUID_LEAF_HV_FIRST     0x40000000u /* reserved for hypervisors ... */
#define CPUID_LEAF_HV_LAST      0x4fffffffu /* ... up to here */
#define CPUID_LEAF_EXT_MAX      0x80000000u /* EAX: highest extended leaf */
#define CPUID_LEAF_EXT_AMD      0x80000001u /* extended features */
#define CPUID_LEAF_BRAND        0x80000002u /* three leaves of processor brand string */
#define CPUID_LEAF_EXT_POWER    0x80000007u /* advanced power management: invariant TSC */
#define CPUID_LEAF_ADDR_SIZES   0x80000008u /* EAX[7:0]: physical address bits */
#define CPUID_LEAF_SVM          0x8000000au /* SVM revision, ASIDs, features */

/* Leaf 1 ECX. */
#define CPUID_1_ECX_DTES64       BIT(2) /* 64-bit debug store */
#define CPUID_1_ECX_MONITOR      BIT(3) /* MONITOR/MWAIT */
#define CPUID_1_ECX_DS_CPL       BIT(4) /* CPL-qualified debug store */
#define CPUID_1_ECX_VMX          BIT(5)
#define CPUID_1_ECX_SMX          BIT(6)
#define CPUID_1_ECX_EST          BIT(7)  /* Enhanced SpeedStep: IA32_PERF_CTL */
#define CPUID_1_ECX_TM2          BIT(8)  /* Thermal Monitor 2 */
#define CPUID_1_ECX_XTPR         BIT(14) /* xTPR update control (IA32_MISC_ENABLE) */
#define CPUID_1_ECX_PDCM         BIT(15) /* IA32_PERF_CAPABILITIES */
#define CPUID_1_ECX_PCID         BIT(17)
#define CPUID_1_ECX_X2APIC       BIT(21)
#define CPUID_1_ECX_TSC_DEADLINE BIT(24)
#define CPUID_1_ECX_XSAVE        BIT(26)
#define CPUID_1_ECX_OSXSAVE      BIT(27) /* mirrors CR4.OSXSAVE */
#define CPUID_1_ECX_HYPERVISOR   BIT(31) /* running under a hypervisor */
/* Leaf 6 EAX. */
#define CPUID_6_EAX_ARAT         BIT(2) /* the APIC timer keeps running in deep C-states */
/* Leaf 1 EDX. */
#define CPUID_1_EDX_MCE          BIT(7) /* machine-check exception: CR4.MCE */
#define CPUID_1_EDX_APIC         BIT(9)
#define CPUID_1_EDX_MCA          BIT(14) /* machine-check architecture: IA32_MCG_CAP, _STATUS, the banks */
#define CPUID_1_EDX_DS           BIT(21) /* debug store: IA32_DS_AREA */
#define CPUID_1_EDX_ACPI         BIT(22) /* thermal monitor MSRs, software clock control */
#define CPUID_1_EDX_HTT          BIT(28) /* EBX[23:16] counts logical processors */
#define CPUID_1_EDX_TM           BIT(29) /* Thermal Monitor: IA32_THERM_INTERRUPT, _STATUS */
#define CPUID_1_EDX_PBE          BIT(31) /* pending break enable (IA32_MISC_ENABLE) */

/* Leaf 7 subleaf 0. */
#define CPUID_7_EBX_TSC_ADJUST BIT(1) /* IA32_TSC_ADJUST */
#define CPUID_7_EBX_INVPCID    BIT(10)
#define CPUID_7_ECX_PKU        BIT(3)
#define CPUID_7_ECX_WAITPKG    BIT(5) /* UMONITOR/UMWAIT/TPAUSE */
#define CPUID_7_ECX_LA57       BIT(16)
#define CPUID_7_ECX_RDPID      BIT(22) /* RDPID reads IA32_TSC_AUX */

/* Leaf 0xd subleaf 1 (EBX: size of XCR0 | IA32_XSS state; ECX:EDX: IA32_XSS bits). */
#define CPUID_D_1_EAX_XSAVES BIT(3) /* XSAVES/XRSTORS and IA32_XSS */

/* Leaves 0xb and 0x1f: level type in ECX[15:8]. */
#define CPUID_TOPO_LEVEL_SHIFT 8
#define CPUID_TOPO_SMT         1u
#define CPUID_TOPO_CORE        2u

/* Leaf 0x80000001. */
#define CPUID_80000001_ECX_SVM    BIT(2)
#define CPUID_80000001_EDX_MCE    BIT(7) /* AMD's copies of leaf 1's MCE and MCA */
#define CPUID_80000001_EDX_MCA    BIT(14)
#define CPUID_80000001_EDX_RDTSCP BIT(27) /* RDTSCP reads IA32_TSC_AUX */

/* Leaf 0x80000007 EDX. */
#define CPUID_80000007_EDX_INVARIANT_TSC BIT(8) /* constant rate, runs in every C-state */

/* The KVM paravirtual interface (Linux Documentation/virt/kvm/x86/cpuid.rst):
 * a signature leaf at a base 0x40000x00 with EBX:ECX:EDX "KVMKVMKVM\0\0\0",
 * features in base + 1 EAX. Guests scan the bases in steps of 0x100. */
#define CPUID_KVM_SIG_EBX                    0x4b4d564bu /* "KVMK" */
#define CPUID_KVM_SIG_ECX                    0x564b4d56u /* "VMKV" */
#define CPUID_KVM_SIG_EDX                    0x0000004du /* "M\0\0\0" */
#define CPUID_KVM_FEATURES                   1u          /* offset of the features leaf from the base */
#define CPUID_KVM_FEATURE_NOP_IO_DELAY       BIT(1)      /* port 0x80 needs no delay */
#define CPUID_KVM_FEATURE_CLOCKSOURCE2       BIT(3)      /* MSRs 0x4b564d00 / 0x4b564d01 */
#define CPUID_KVM_FEATURE_PV_EOI             BIT(6)      /* MSR 0x4b564d04: EOI by a flag in memory */
#define CPUID_KVM_FEATURE_CLOCKSOURCE_STABLE BIT(24)     /* PVCLOCK_TSC_STABLE_BIT is meaningful */

/* Leaf 0x8000000a EDX: SVM features (APM Vol. 3 E.4.10). */
#define CPUID_SVM_EDX_NP             BIT(0) /* nested paging */
#define CPUID_SVM_EDX_NRIPS          BIT(3) /* next RIP saved on exits */
#define CPUID_SVM_EDX_VMCB_CLEAN     BIT(5)
#define CPUID_SVM_EDX_FLUSH_BY_ASID  BIT(6)
#define CPUID_SVM_EDX_DECODE_ASSISTS BIT(7)
#define CPUID_SVM_EDX_VGIF           BIT(16)

#endif
