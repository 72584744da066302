/* Model-specific registers: every MSR number Isthmus reads, writes or
 * emulates, in one enum, and the bits of those it interprets. Each names the
 * manual's meaning (SDM Vol. 4 ch. 2, APM Vol. 2 appendix A) and the CPUID
 * feature that gates it where it is not architectural in every 64-bit CPU.
 * EFER's bits are with the other control-register bits in regs.h. Definitions
 * only: rdmsr()/wrmsr() are in arch/x86/hw/cpu.h. */
#ifndef ISTHMUS_ARCH_X86_HW_MSR_H
#define ISTHMUS_ARCH_X86_HW_MSR_H

#include "kernel/lib/types.h"

enum msr {
    MSR_IA32_TSC = 0x10,             /* time-stamp counter (CPUID.1:EDX.TSC) */
    MSR_IA32_APIC_BASE = 0x1b,       /* local APIC base and mode (CPUID.1:EDX.APIC) */
    MSR_IA32_FEATURE_CONTROL = 0x3a, /* VMXON permission (CPUID.1:ECX.VMX or SMX) */
    MSR_IA32_TSC_ADJUST = 0x3b,      /* TSC offset (CPUID.7.0:EBX.TSC_ADJUST) */
    MSR_IA32_UCODE_REV = 0x8b,       /* microcode revision (Intel BIOS_SIGN_ID, AMD PATCH_LEVEL) */
    MSR_IA32_MTRRCAP = 0xfe,         /* MTRR capabilities (CPUID.1:EDX.MTRR) */
    MSR_IA32_SYSENTER_CS = 0x174,    /* SYSENTER target (CPUID.1:EDX.SEP) */
    MSR_IA32_SYSENTER_ESP = 0x175,
    MSR_IA32_SYSENTER_EIP = 0x176,
    MSR_IA32_MISC_ENABLE = 0x1a0,   /* fast strings, thermal control, ... */
    MSR_IA32_PAT = 0x277,           /* page attribute table (CPUID.1:EDX.PAT) */
    MSR_IA32_MTRR_DEF_TYPE = 0x2ff, /* MTRR enable and default type (CPUID.1:EDX.MTRR) */
    MSR_IA32_TSC_DEADLINE = 0x6e0,  /* APIC timer deadline (CPUID.1:ECX.TSC_DEADLINE) */

    /* VMX capability reporting, SDM Vol. 3C appendix A (CPUID.1:ECX.VMX). */
    MSR_IA32_VMX_BASIC = 0x480,          /* A.1: VMCS revision, TRUE_CTLS support */
    MSR_IA32_VMX_PINBASED_CTLS = 0x481,  /* A.3.1: allowed 0 (low) / 1 (high) settings */
    MSR_IA32_VMX_PROCBASED_CTLS = 0x482, /* A.3.2 */
    MSR_IA32_VMX_EXIT_CTLS = 0x483,      /* A.4 */
    MSR_IA32_VMX_ENTRY_CTLS = 0x484,     /* A.5 */
    MSR_IA32_VMX_MISC = 0x485,           /* A.6: preemption-timer rate, ... */
    MSR_IA32_VMX_CR0_FIXED0 = 0x486,     /* A.7: CR0 bits that must be 1 in VMX operation */
    MSR_IA32_VMX_CR0_FIXED1 = 0x487,     /*      CR0 bits that may be 1 */
    MSR_IA32_VMX_CR4_FIXED0 = 0x488,     /* A.8 */
    MSR_IA32_VMX_CR4_FIXED1 = 0x489,
    MSR_IA32_VMX_PROCBASED_CTLS2 = 0x48b,    /* A.3.3: only if PROCBASED_CTLS allows 1 in bit 63 */
    MSR_IA32_VMX_EPT_VPID_CAP = 0x48c,       /* A.10: only if PROCBASED_CTLS2 allows EPT or VPID */
    MSR_IA32_VMX_TRUE_PINBASED_CTLS = 0x48d, /* A.3.1: only if VMX_BASIC.TRUE_CTLS */
    MSR_IA32_VMX_TRUE_PROCBASED_CTLS = 0x48e,
    MSR_IA32_VMX_TRUE_EXIT_CTLS = 0x48f,
    MSR_IA32_VMX_TRUE_ENTRY_CTLS = 0x490,

    MSR_X2APIC_BASE = 0x800, /* x2APIC register r at 0x800 + (r >> 4) (CPUID.1:ECX.x2APIC) */
    MSR_X2APIC_LAST = 0x8ff, /* the end of the x2APIC MSR range */

    /* KVM paravirtual clock (Linux Documentation/virt/kvm/x86/msr.rst), gated
     * by KVM_FEATURE_CLOCKSOURCE2 in the KVM features leaf. */
    MSR_KVM_WALL_CLOCK_NEW = 0x4b564d00,  /* GPA of a pvclock_wall_clock to fill */
    MSR_KVM_SYSTEM_TIME_NEW = 0x4b564d01, /* GPA | enable of this vCPU's pvclock_vcpu_time_info */
    MSR_KVM_PV_EOI_EN = 0x4b564d04,       /* GPA | enable of this vCPU's PV EOI flag (KVM_FEATURE_PV_EOI) */

    MSR_EFER = 0xc0000080,   /* extended features: bits in regs.h */
    MSR_STAR = 0xc0000081,   /* SYSCALL segment selectors (CPUID.80000001:EDX.SYSCALL) */
    MSR_LSTAR = 0xc0000082,  /* SYSCALL target in 64-bit mode */
    MSR_CSTAR = 0xc0000083,  /* SYSCALL target in compatibility mode (AMD) */
    MSR_SFMASK = 0xc0000084, /* RFLAGS bits SYSCALL clears */
    MSR_FS_BASE = 0xc0000100,
    MSR_GS_BASE = 0xc0000101,
    MSR_KERNEL_GS_BASE = 0xc0000102,     /* exchanged with GS base by SWAPGS */
    MSR_TSC_AUX = 0xc0000103,            /* RDTSCP's ECX (CPUID.80000001:EDX.RDTSCP) */
    MSR_K8_INT_PENDING_MSG = 0xc0010055, /* AMD K8/family 10h: C1E state (erratum 400) */

    /* AMD SVM, APM Vol. 2 15.30 (CPUID.80000001:ECX.SVM). */
    MSR_VM_CR = 0xc0010114,       /* SVM lock and disable */
    MSR_VM_HSAVE_PA = 0xc0010117, /* host save area for VMRUN */
};

/* IA32_APIC_BASE (SDM Vol. 3A 10.4.4). */
#define APIC_BASE_BSP    BIT(8)         /* this is the boot processor */
#define APIC_BASE_X2APIC BIT(10)        /* x2APIC mode (EXTD) */
#define APIC_BASE_ENABLE BIT(11)        /* APIC global enable */
#define APIC_BASE_ADDR   0xffffff000ULL /* bits 35:12: the xAPIC page */

/* MSR_KVM_PV_EOI_EN (Linux Documentation/virt/kvm/x86/msr.rst): bit 0
 * enables, bit 1 is reserved, bits 63:2 are the 4-byte aligned GPA of a
 * 4-byte flag whose bit 0 the hypervisor sets when the guest may skip EOI. */
#define KVM_PV_EOI_ENABLE   BIT(0)
#define KVM_PV_EOI_RESERVED BIT(1)
#define KVM_PV_EOI_FLAG     BIT(0) /* in the guest's flag word */

/* IA32_FEATURE_CONTROL (SDM Vol. 3C 23.7). Once locked, writes #GP until reset. */
#define FEATURE_CONTROL_LOCK            BIT(0)
#define FEATURE_CONTROL_VMX_INSIDE_SMX  BIT(1)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX BIT(2)

/* IA32_MISC_ENABLE (SDM Vol. 4 table 2-2). */
#define MISC_ENABLE_FAST_STRINGS BIT(0)

/* IA32_VMX_BASIC (SDM A.1). */
#define VMX_BASIC_REVISION  0x7fffffffULL /* bits 30:0: VMCS revision identifier */
#define VMX_BASIC_TRUE_CTLS BIT(55)       /* the TRUE_*_CTLS MSRs exist */

/* IA32_VMX_MISC (SDM A.6). */
#define VMX_MISC_TIMER_RATE 0x1fULL /* the preemption timer counts TSC >> this */

/* IA32_VMX_EPT_VPID_CAP (SDM A.10). */
#define EPT_CAP_WALK4         BIT(6)  /* page-walk length 4 */
#define EPT_CAP_WB            BIT(14) /* write-back paging structures */
#define EPT_CAP_2M            BIT(16) /* 2 MiB leaves */
#define EPT_CAP_1G            BIT(17) /* 1 GiB leaves */
#define EPT_CAP_INVEPT        BIT(20)
#define EPT_CAP_AD            BIT(21) /* accessed and dirty flags */
#define EPT_CAP_INVEPT_SINGLE BIT(25) /* single-context INVEPT */
#define EPT_CAP_INVEPT_ALL    BIT(26) /* all-context INVEPT */
#define VPID_CAP_INVVPID      BIT(32)
#define VPID_CAP_INVVPID_ALL  BIT(42) /* all-context INVVPID */

/* VM_CR (APM Vol. 2 15.30.1). */
#define VM_CR_SVMDIS BIT(4) /* the firmware disabled SVM */

/* IA32_MTRR_DEF_TYPE (SDM Vol. 3A 11.11.2.1): type in bits 7:0, then enables. */
#define MTRR_DEF_TYPE_MASK 0xffULL
#define MTRR_DEF_TYPE_FE   BIT(10) /* fixed-range MTRRs enabled */
#define MTRR_DEF_TYPE_E    BIT(11) /* MTRRs enabled */
#define MTRR_TYPE_WB       0x06    /* write-back, as PAT_WB */

/* IA32_PAT (SDM Vol. 3A 11.12.2): eight one-byte entries of these types. */
#define PAT_UC       0x00
#define PAT_WC       0x01
#define PAT_WT       0x04
#define PAT_WP       0x05
#define PAT_WB       0x06
#define PAT_UC_MINUS 0x07
/* The power-on value: entries 0-3 WB, WT, UC-, UC and again for 4-7. */
#define PAT_DEFAULT  0x0007040600070406ULL
STATIC_ASSERT(PAT_DEFAULT ==
                  ((u64)PAT_WB | (u64)PAT_WT << 8 | (u64)PAT_UC_MINUS << 16 | (u64)PAT_UC << 24) * 0x100000001ULL,
              "power-on PAT is WB WT UC- UC, twice");

#endif
