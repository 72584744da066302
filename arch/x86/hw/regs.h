/* Bits of the x86 control and flag registers: CR0, CR3, CR4, EFER, RFLAGS,
 * XCR0, and the architectural reset values of DR6/DR7. The one home of these
 * constants for the hypervisor and its host unit tests: definitions only, no
 * instructions (arch/x86/hw/cpu.h has those). */
#ifndef ISTHMUS_ARCH_X86_HW_REGS_H
#define ISTHMUS_ARCH_X86_HW_REGS_H

#include "kernel/lib/types.h"

/* CR0 (SDM Vol. 3A 2.5, figure 2-7). */
#define CR0_PE BIT(0)  /* protected mode */
#define CR0_MP BIT(1)  /* monitor coprocessor */
#define CR0_EM BIT(2)  /* x87 emulation */
#define CR0_TS BIT(3)  /* task switched */
#define CR0_ET BIT(4)  /* extension type, fixed 1 */
#define CR0_NE BIT(5)  /* native x87 error reporting */
#define CR0_WP BIT(16) /* supervisor writes honour read-only pages */
#define CR0_AM BIT(18) /* alignment mask (with RFLAGS.AC) */
#define CR0_NW BIT(29) /* not write-through */
#define CR0_CD BIT(30) /* cache disable */
#define CR0_PG BIT(31) /* paging */

/* CR3: the root table's address. 4-level paging: bits 51:12 (SDM 4.5.2);
 * 32-bit paging: bits 31:12 (4.3, table 4-4); PAE paging: the 32-byte
 * aligned table of four PDPTEs, bits 31:5 (4.4.1). */
#define CR3_ADDR     0x000ffffffffff000ULL
#define CR3_ADDR32   0xfffff000ULL
#define CR3_ADDR_PAE 0xffffffe0ULL
#define CR3_PWT      BIT(3) /* the root table's caching, without CR4.PCIDE */
#define CR3_PCD      BIT(4)
#define CR3_NOFLUSH  BIT(63) /* MOV to CR3 with CR4.PCIDE: keep the PCID's translations */

/* CR4 (SDM 2.5, figure 2-8); the CPUID feature that offers each bit where it
 * is not architectural in every 64-bit CPU. */
#define CR4_VME        BIT(0) /* virtual-8086 extensions (CPUID.1:EDX.VME) */
#define CR4_PVI        BIT(1)
#define CR4_TSD        BIT(2)  /* RDTSC at CPL 0 only */
#define CR4_DE         BIT(3)  /* debugging extensions */
#define CR4_PSE        BIT(4)  /* 4 MiB pages in 32-bit paging (CPUID.1:EDX.PSE) */
#define CR4_PAE        BIT(5)  /* physical address extension */
#define CR4_MCE        BIT(6)  /* machine-check enable */
#define CR4_PGE        BIT(7)  /* global pages (CPUID.1:EDX.PGE) */
#define CR4_PCE        BIT(8)  /* RDPMC at any CPL */
#define CR4_OSFXSR     BIT(9)  /* FXSAVE/FXRSTOR and SSE */
#define CR4_OSXMMEXCPT BIT(10) /* unmasked SIMD exceptions raise #XM */
#define CR4_UMIP       BIT(11) /* CPUID.7.0:ECX.UMIP */
#define CR4_LA57       BIT(12) /* 5-level paging (CPUID.7.0:ECX.LA57) */
#define CR4_VMXE       BIT(13) /* VMX enable (CPUID.1:ECX.VMX) */
#define CR4_SMXE       BIT(14) /* SMX enable (CPUID.1:ECX.SMX) */
#define CR4_FSGSBASE   BIT(16) /* RDFSBASE and friends (CPUID.7.0:EBX.FSGSBASE) */
#define CR4_PCIDE      BIT(17) /* process-context identifiers (CPUID.1:ECX.PCID) */
#define CR4_OSXSAVE    BIT(18) /* XSAVE and XCR0 (CPUID.1:ECX.XSAVE) */
#define CR4_SMEP       BIT(20) /* CPUID.7.0:EBX.SMEP */
#define CR4_SMAP       BIT(21) /* CPUID.7.0:EBX.SMAP */
#define CR4_PKE        BIT(22) /* user protection keys (CPUID.7.0:ECX.PKU) */
#define CR4_CET        BIT(23) /* control-flow enforcement (CPUID.7.0:ECX.CET_SS) */
#define CR4_PKS        BIT(24) /* supervisor protection keys (CPUID.7.0:ECX.PKS) */

/* IA32_EFER, MSR 0xc0000080 (SDM 2.2.1, table 2-1; APM Vol. 2 3.1.7). */
#define EFER_SCE  BIT(0)  /* SYSCALL/SYSRET */
#define EFER_LME  BIT(8)  /* long mode enable */
#define EFER_LMA  BIT(10) /* long mode active */
#define EFER_NXE  BIT(11) /* execute-disable bit in page tables (CPUID.80000001:EDX.NX) */
#define EFER_SVME BIT(12) /* AMD: SVM enable (CPUID.80000001:ECX.SVM) */

/* RFLAGS (SDM Vol. 1 3.4.3, Vol. 3A 2.3). */
#define RFLAGS_CF    BIT(0)
#define RFLAGS_FIXED BIT(1) /* reserved, always 1 */
#define RFLAGS_PF    BIT(2)
#define RFLAGS_AF    BIT(4)
#define RFLAGS_ZF    BIT(6)
#define RFLAGS_SF    BIT(7)
#define RFLAGS_TF    BIT(8) /* single step */
#define RFLAGS_IF    BIT(9) /* maskable interrupts enabled */
#define RFLAGS_DF    BIT(10)
#define RFLAGS_OF    BIT(11)
#define RFLAGS_IOPL  (3ULL << 12)
#define RFLAGS_NT    BIT(14)
#define RFLAGS_RF    BIT(16) /* resume: no instruction breakpoint */
#define RFLAGS_VM    BIT(17) /* virtual-8086 mode */
#define RFLAGS_AC    BIT(18) /* alignment check / SMAP override */
#define RFLAGS_VIF   BIT(19)
#define RFLAGS_VIP   BIT(20)
#define RFLAGS_ID    BIT(21) /* CPUID is available */

/* XCR0, the state components XSAVE manages (SDM Vol. 1 13.1, 13.3). */
#define XCR0_X87       BIT(0) /* always 1 */
#define XCR0_SSE       BIT(1) /* XMM registers and MXCSR */
#define XCR0_AVX       BIT(2) /* upper halves of YMM; needs SSE */
#define XCR0_BNDREGS   BIT(3) /* MPX */
#define XCR0_BNDCSR    BIT(4)
#define XCR0_OPMASK    BIT(5) /* AVX-512 k0-k7; the three AVX-512 bits go together */
#define XCR0_ZMM_HI256 BIT(6) /* upper halves of ZMM0-15 */
#define XCR0_HI16_ZMM  BIT(7) /* ZMM16-31 */
#define XCR0_PKRU      BIT(9) /* protection-key rights */

/* Debug registers after reset and after VM exits (SDM 18.2.3, 18.2.4): the
 * reserved bits that read as 1, nothing enabled. */
#define DR6_INIT 0xffff0ff0ULL
#define DR7_INIT 0x400ULL

#endif
