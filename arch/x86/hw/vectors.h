/* Exception vectors and the page-fault error code (SDM Vol. 3A 6.3.1, table
 * 6-1, and 4.7; APM Vol. 2 8.2). Vectors 0-31 are the architecture's; the
 * hypervisor's own interrupt vectors are in arch/x86/interrupts.h. Definitions
 * only; host unit tests include it. */
#ifndef ISTHMUS_ARCH_X86_HW_VECTORS_H
#define ISTHMUS_ARCH_X86_HW_VECTORS_H

#include "kernel/lib/types.h"

enum x86_exception {
    X86_EXC_DE = 0,  /* divide error */
    X86_EXC_DB = 1,  /* debug */
    X86_EXC_NMI = 2, /* non-maskable interrupt */
    X86_EXC_BP = 3,  /* breakpoint (INT3) */
    X86_EXC_OF = 4,  /* overflow (INTO) */
    X86_EXC_BR = 5,  /* BOUND range exceeded */
    X86_EXC_UD = 6,  /* invalid opcode */
    X86_EXC_NM = 7,  /* device not available */
    X86_EXC_DF = 8,  /* double fault (error code 0) */
    X86_EXC_CSO = 9, /* coprocessor segment overrun (not raised since the 486) */
    X86_EXC_TS = 10, /* invalid TSS (error code) */
    X86_EXC_NP = 11, /* segment not present (error code) */
    X86_EXC_SS = 12, /* stack-segment fault (error code) */
    X86_EXC_GP = 13, /* general protection (error code) */
    X86_EXC_PF = 14, /* page fault (error code, CR2) */
    X86_EXC_MF = 16, /* x87 floating-point error */
    X86_EXC_AC = 17, /* alignment check (error code 0) */
    X86_EXC_MC = 18, /* machine check */
    X86_EXC_XM = 19, /* SIMD floating-point exception */
    X86_EXC_VE = 20, /* virtualization exception (EPT) */
    X86_EXC_CP = 21, /* control protection (error code) */
    X86_EXC_HV = 28, /* AMD: hypervisor injection */
    X86_EXC_VC = 29, /* AMD: VMM communication (error code) */
    X86_EXC_SX = 30, /* AMD: security exception (error code) */
};

/* Vectors below this are exceptions (or reserved for them); external
 * interrupts use the rest. */
#define X86_NR_EXCEPTIONS 32
/* The local APIC takes vectors 0-15 as illegal and reports them in its ESR
 * instead of delivering them (SDM Vol. 3A 11.5.2, "Valid Interrupt Vectors"). */
#define APIC_MIN_VECTOR   16

/* The exceptions that push an error code (SDM table 6-1; APM table 8-1).
 * arch/x86/entry.asm, which cannot include this, keeps the same list. */
#define X86_EXC_HAS_ERROR_CODE                                                                                         \
    (BIT(X86_EXC_DF) | BIT(X86_EXC_TS) | BIT(X86_EXC_NP) | BIT(X86_EXC_SS) | BIT(X86_EXC_GP) | BIT(X86_EXC_PF) |       \
     BIT(X86_EXC_AC) | BIT(X86_EXC_CP) | BIT(X86_EXC_VC) | BIT(X86_EXC_SX))

/* Page-fault error code (SDM 4.7, figure 4-12). */
#define PFEC_P    BIT(0) /* the page was present (a protection fault) */
#define PFEC_W    BIT(1) /* a write */
#define PFEC_U    BIT(2) /* at CPL 3 */
#define PFEC_RSVD BIT(3) /* a reserved bit was set in an entry */
#define PFEC_I    BIT(4) /* an instruction fetch */
#define PFEC_PK   BIT(5) /* a protection-key violation */
#define PFEC_SS   BIT(6) /* a shadow-stack access */

#endif
