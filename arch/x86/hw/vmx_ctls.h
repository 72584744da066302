/* VMX execution controls (SDM Vol. 3C 25.6-25.8). The capability MSRs
 * (msr.h, appendix A.3-A.5) report which of these a CPU allows: feature
 * detection (arch/x86/virt.c) reads them and the VT-x backend sets them, so
 * both take the bits from here. */
#ifndef ISTHMUS_ARCH_X86_HW_VMX_CTLS_H
#define ISTHMUS_ARCH_X86_HW_VMX_CTLS_H

#include "kernel/lib/types.h"

/* Pin-based VM-execution controls (25.6.1, table 25-5). */
#define VMX_PIN_EXTINT_EXITING   BIT(0)
#define VMX_PIN_NMI_EXITING      BIT(3)
#define VMX_PIN_PREEMPTION_TIMER BIT(6)

/* Primary processor-based VM-execution controls (25.6.2, table 25-6). */
#define VMX_PROC_INTR_WINDOW       BIT(2)
#define VMX_PROC_HLT_EXITING       BIT(7)
#define VMX_PROC_INVLPG_EXITING    BIT(9)
#define VMX_PROC_MWAIT_EXITING     BIT(10)
#define VMX_PROC_CR3_LOAD_EXITING  BIT(15)
#define VMX_PROC_CR3_STORE_EXITING BIT(16)
#define VMX_PROC_USE_IO_BITMAPS    BIT(25)
#define VMX_PROC_USE_MSR_BITMAPS   BIT(28)
#define VMX_PROC_MONITOR_EXITING   BIT(29)
#define VMX_PROC_SECONDARY         BIT(31) /* activate the secondary controls */

/* Secondary processor-based VM-execution controls (25.6.2, table 25-7). */
#define VMX_PROC2_EPT          BIT(1)
#define VMX_PROC2_VPID         BIT(5)
#define VMX_PROC2_UNRESTRICTED BIT(7)  /* unrestricted guest: real mode, paging off */
#define VMX_PROC2_INVPCID      BIT(12) /* else INVPCID is #UD in the guest (SDM 26.3) */

/* Primary VM-exit controls (25.7.1, table 25-13). */
#define VMX_EXIT_CTL_HOST_64BIT BIT(9) /* host address-space size */
#define VMX_EXIT_CTL_SAVE_PAT   BIT(18)
#define VMX_EXIT_CTL_LOAD_PAT   BIT(19)
#define VMX_EXIT_CTL_SAVE_EFER  BIT(20)
#define VMX_EXIT_CTL_LOAD_EFER  BIT(21)

/* VM-entry controls (25.8.1, table 25-15). */
#define VMX_ENTRY_CTL_IA32E_GUEST BIT(9) /* IA-32e mode guest */
#define VMX_ENTRY_CTL_LOAD_PAT    BIT(14)
#define VMX_ENTRY_CTL_LOAD_EFER   BIT(15)

#endif
