/* VMCS field encodings (SDM Vol. 3D appendix B) and width-checked accessors:
 * an encoding's bits 14:13 give its width, and vmcs_read16/32/64/nat() refuse,
 * at compile time, a field of another width. */
#ifndef ISTHMUS_ARCH_X86_VMX_VMCS_H
#define ISTHMUS_ARCH_X86_VMX_VMCS_H

#include "kernel/lib/types.h"

enum vmcs_field {
    /* 16-bit */
    VMCS_VPID = 0x0000,
    VMCS_GUEST_ES_SEL = 0x0800,
    VMCS_GUEST_CS_SEL = 0x0802,
    VMCS_GUEST_SS_SEL = 0x0804,
    VMCS_GUEST_DS_SEL = 0x0806,
    VMCS_GUEST_FS_SEL = 0x0808,
    VMCS_GUEST_GS_SEL = 0x080a,
    VMCS_GUEST_LDTR_SEL = 0x080c,
    VMCS_GUEST_TR_SEL = 0x080e,
    VMCS_HOST_ES_SEL = 0x0c00,
    VMCS_HOST_CS_SEL = 0x0c02,
    VMCS_HOST_SS_SEL = 0x0c04,
    VMCS_HOST_DS_SEL = 0x0c06,
    VMCS_HOST_FS_SEL = 0x0c08,
    VMCS_HOST_GS_SEL = 0x0c0a,
    VMCS_HOST_TR_SEL = 0x0c0c,
    /* 64-bit */
    VMCS_IO_BITMAP_A = 0x2000,
    VMCS_IO_BITMAP_B = 0x2002,
    VMCS_MSR_BITMAP = 0x2004,
    VMCS_TSC_OFFSET = 0x2010,
    VMCS_EPT_POINTER = 0x201a,
    VMCS_GUEST_PHYSICAL_ADDRESS = 0x2400,
    VMCS_LINK_POINTER = 0x2800,
    VMCS_GUEST_DEBUGCTL = 0x2802,
    VMCS_GUEST_PAT = 0x2804,
    VMCS_GUEST_EFER = 0x2806,
    VMCS_HOST_PAT = 0x2c00,
    VMCS_HOST_EFER = 0x2c02,
    /* 32-bit */
    VMCS_PIN_CONTROLS = 0x4000,
    VMCS_PROC_CONTROLS = 0x4002,
    VMCS_EXCEPTION_BITMAP = 0x4004,
    VMCS_PF_ERROR_MASK = 0x4006,
    VMCS_PF_ERROR_MATCH = 0x4008,
    VMCS_CR3_TARGET_COUNT = 0x400a,
    VMCS_EXIT_CONTROLS = 0x400c,
    VMCS_EXIT_MSR_STORE_COUNT = 0x400e,
    VMCS_EXIT_MSR_LOAD_COUNT = 0x4010,
    VMCS_ENTRY_CONTROLS = 0x4012,
    VMCS_ENTRY_MSR_LOAD_COUNT = 0x4014,
    VMCS_ENTRY_INTR_INFO = 0x4016,
    VMCS_ENTRY_EXCEPTION_ERROR = 0x4018,
    VMCS_ENTRY_INSN_LEN = 0x401a,
    VMCS_PROC_CONTROLS2 = 0x401e,
    VMCS_INSN_ERROR = 0x4400,
    VMCS_EXIT_REASON = 0x4402,
    VMCS_EXIT_INTR_INFO = 0x4404,
    VMCS_EXIT_INTR_ERROR = 0x4406,
    VMCS_IDT_VECTORING_INFO = 0x4408,
    VMCS_IDT_VECTORING_ERROR = 0x440a,
    VMCS_EXIT_INSN_LEN = 0x440c,
    VMCS_EXIT_INSN_INFO = 0x440e,
    VMCS_GUEST_ES_LIMIT = 0x4800,
    VMCS_GUEST_CS_LIMIT = 0x4802,
    VMCS_GUEST_SS_LIMIT = 0x4804,
    VMCS_GUEST_DS_LIMIT = 0x4806,
    VMCS_GUEST_FS_LIMIT = 0x4808,
    VMCS_GUEST_GS_LIMIT = 0x480a,
    VMCS_GUEST_LDTR_LIMIT = 0x480c,
    VMCS_GUEST_TR_LIMIT = 0x480e,
    VMCS_GUEST_GDTR_LIMIT = 0x4810,
    VMCS_GUEST_IDTR_LIMIT = 0x4812,
    VMCS_GUEST_ES_AR = 0x4814,
    VMCS_GUEST_CS_AR = 0x4816,
    VMCS_GUEST_SS_AR = 0x4818,
    VMCS_GUEST_DS_AR = 0x481a,
    VMCS_GUEST_FS_AR = 0x481c,
    VMCS_GUEST_GS_AR = 0x481e,
    VMCS_GUEST_LDTR_AR = 0x4820,
    VMCS_GUEST_TR_AR = 0x4822,
    VMCS_GUEST_INTERRUPTIBILITY = 0x4824,
    VMCS_GUEST_ACTIVITY = 0x4826,
    VMCS_GUEST_SYSENTER_CS = 0x482a,
    VMCS_PREEMPTION_TIMER = 0x482e,
    VMCS_HOST_SYSENTER_CS = 0x4c00,
    /* natural width */
    VMCS_CR0_MASK = 0x6000,
    VMCS_CR4_MASK = 0x6002,
    VMCS_CR0_SHADOW = 0x6004,
    VMCS_CR4_SHADOW = 0x6006,
    VMCS_EXIT_QUALIFICATION = 0x6400,
    VMCS_GUEST_LINEAR_ADDRESS = 0x640a,
    VMCS_GUEST_CR0 = 0x6800,
    VMCS_GUEST_CR3 = 0x6802,
    VMCS_GUEST_CR4 = 0x6804,
    VMCS_GUEST_ES_BASE = 0x6806,
    VMCS_GUEST_CS_BASE = 0x6808,
    VMCS_GUEST_SS_BASE = 0x680a,
    VMCS_GUEST_DS_BASE = 0x680c,
    VMCS_GUEST_FS_BASE = 0x680e,
    VMCS_GUEST_GS_BASE = 0x6810,
    VMCS_GUEST_LDTR_BASE = 0x6812,
    VMCS_GUEST_TR_BASE = 0x6814,
    VMCS_GUEST_GDTR_BASE = 0x6816,
    VMCS_GUEST_IDTR_BASE = 0x6818,
    VMCS_GUEST_DR7 = 0x681a,
    VMCS_GUEST_RSP = 0x681c,
    VMCS_GUEST_RIP = 0x681e,
    VMCS_GUEST_RFLAGS = 0x6820,
    VMCS_GUEST_PENDING_DBG = 0x6822,
    VMCS_GUEST_SYSENTER_ESP = 0x6824,
    VMCS_GUEST_SYSENTER_EIP = 0x6826,
    VMCS_HOST_CR0 = 0x6c00,
    VMCS_HOST_CR3 = 0x6c02,
    VMCS_HOST_CR4 = 0x6c04,
    VMCS_HOST_FS_BASE = 0x6c06,
    VMCS_HOST_GS_BASE = 0x6c08,
    VMCS_HOST_TR_BASE = 0x6c0a,
    VMCS_HOST_GDTR_BASE = 0x6c0c,
    VMCS_HOST_IDTR_BASE = 0x6c0e,
    VMCS_HOST_SYSENTER_ESP = 0x6c10,
    VMCS_HOST_SYSENTER_EIP = 0x6c12,
    VMCS_HOST_RSP = 0x6c14,
    VMCS_HOST_RIP = 0x6c16,
};

#define VMCS_W16      0
#define VMCS_W64      1
#define VMCS_W32      2
#define VMCS_WNAT     3
#define VMCS_WIDTH(f) (((f) >> 13) & 3)

static inline u64 vmx_vmread(u64 field)
{
    u64 v;
    __asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(field) : "cc");
    return v;
}

/* Returns false when VMWRITE failed (CF or ZF set): a bad field or value. */
static inline bool vmx_vmwrite(u64 field, u64 value)
{
    bool fail;
    __asm__ volatile("vmwrite %2, %1; setbe %0" : "=q"(fail) : "r"(field), "r"(value) : "cc", "memory");
    return !fail;
}

#define VMCS_CHECK(f, w) _Static_assert(VMCS_WIDTH(f) == (w), #f " accessed with the wrong width")
#define vmcs_read16(f)                                                                                                 \
    ({                                                                                                                 \
        VMCS_CHECK(f, VMCS_W16);                                                                                       \
        (u16) vmx_vmread(f);                                                                                           \
    })
#define vmcs_read32(f)                                                                                                 \
    ({                                                                                                                 \
        VMCS_CHECK(f, VMCS_W32);                                                                                       \
        (u32) vmx_vmread(f);                                                                                           \
    })
#define vmcs_read64(f)                                                                                                 \
    ({                                                                                                                 \
        VMCS_CHECK(f, VMCS_W64);                                                                                       \
        vmx_vmread(f);                                                                                                 \
    })
#define vmcs_readnat(f)                                                                                                \
    ({                                                                                                                 \
        VMCS_CHECK(f, VMCS_WNAT);                                                                                      \
        vmx_vmread(f);                                                                                                 \
    })
#define vmcs_write16(f, v)                                                                                             \
    ({                                                                                                                 \
        VMCS_CHECK(f, VMCS_W16);                                                                                       \
        vmcs_write_checked(f, (u16)(v));                                                                               \
    })
#define vmcs_write32(f, v)                                                                                             \
    ({                                                                                                                 \
        VMCS_CHECK(f, VMCS_W32);                                                                                       \
        vmcs_write_checked(f, (u32)(v));                                                                               \
    })
#define vmcs_write64(f, v)                                                                                             \
    ({                                                                                                                 \
        VMCS_CHECK(f, VMCS_W64);                                                                                       \
        vmcs_write_checked(f, (u64)(v));                                                                               \
    })
#define vmcs_writenat(f, v)                                                                                            \
    ({                                                                                                                 \
        VMCS_CHECK(f, VMCS_WNAT);                                                                                      \
        vmcs_write_checked(f, (u64)(v));                                                                               \
    })

/* Counts failed writes so that set-up can report the first failing field. */
extern u32 vmcs_write_failures;
extern u32 vmcs_first_failed_field;
static inline void vmcs_write_checked(u32 field, u64 value)
{
    if (!vmx_vmwrite(field, value) && !vmcs_write_failures++)
        vmcs_first_failed_field = field;
}

/* Basic exit reasons (SDM Vol. 3D appendix C). */
enum vmx_exit_reason {
    VMX_EXIT_EXCEPTION_NMI = 0,
    VMX_EXIT_EXTINT = 1,
    VMX_EXIT_TRIPLE_FAULT = 2,
    VMX_EXIT_INIT = 3,
    VMX_EXIT_SIPI = 4,
    VMX_EXIT_INTR_WINDOW = 7,
    VMX_EXIT_NMI_WINDOW = 8,
    VMX_EXIT_TASK_SWITCH = 9,
    VMX_EXIT_CPUID = 10,
    VMX_EXIT_GETSEC = 11,
    VMX_EXIT_HLT = 12,
    VMX_EXIT_INVD = 13,
    VMX_EXIT_INVLPG = 14,
    VMX_EXIT_RDPMC = 15,
    VMX_EXIT_RDTSC = 16,
    VMX_EXIT_RSM = 17,
    VMX_EXIT_VMCALL = 18,
    VMX_EXIT_VMCLEAR = 19,
    VMX_EXIT_VMLAUNCH = 20,
    VMX_EXIT_VMPTRLD = 21,
    VMX_EXIT_VMPTRST = 22,
    VMX_EXIT_VMREAD = 23,
    VMX_EXIT_VMRESUME = 24,
    VMX_EXIT_VMWRITE = 25,
    VMX_EXIT_VMXOFF = 26,
    VMX_EXIT_VMXON = 27,
    VMX_EXIT_CR_ACCESS = 28,
    VMX_EXIT_DR_ACCESS = 29,
    VMX_EXIT_IO = 30,
    VMX_EXIT_RDMSR = 31,
    VMX_EXIT_WRMSR = 32,
    VMX_EXIT_INVALID_STATE = 33,
    VMX_EXIT_MSR_LOADING = 34,
    VMX_EXIT_MWAIT = 36,
    VMX_EXIT_MONITOR = 39,
    VMX_EXIT_PAUSE = 40,
    VMX_EXIT_MACHINE_CHECK = 41,
    VMX_EXIT_EPT_VIOLATION = 48,
    VMX_EXIT_EPT_MISCONFIG = 49,
    VMX_EXIT_PREEMPTION_TIMER = 52,
    VMX_EXIT_XSETBV = 55,
};
#define VMX_EXIT_BASIC_MASK   0xffffu /* bits 15:0 of the exit reason: the basic reason */
#define VMX_EXIT_ENTRY_FAILED BIT(31)

/* Exit qualification of control-register accesses (SDM table 28-3): CR
 * number 3:0, access type 5:4, general register 11:8. */
#define VMX_CR_Q_CR(q)   ((u32)(q)&0xf)
#define VMX_CR_Q_TYPE(q) (((u32)(q) >> 4) & 3)
#define VMX_CR_Q_GPR(q)  (((u32)(q) >> 8) & 0xf)
#define VMX_CR_MOV_TO    0
#define VMX_CR_MOV_FROM  1
#define VMX_CR_CLTS      2
#define VMX_CR_LMSW      3

/* Exit qualification of I/O exits (SDM table 28-5). */
#define VMX_IO_SIZE_MASK     0x7
#define VMX_IO_IN            BIT(3)
#define VMX_IO_STRING        BIT(4)
#define VMX_IO_REP           BIT(5)
#define VMX_IO_PORT_SHIFT    16
/* Exit qualification of EPT violations (SDM table 28-7). */
#define VMX_EPT_READ         BIT(0)
#define VMX_EPT_WRITE        BIT(1)
#define VMX_EPT_FETCH        BIT(2)
#define VMX_EPT_PRESENT_MASK (BIT(3) | BIT(4) | BIT(5))

/* VM-entry interruption information (SDM 24.8.3); the VM-exit interruption
 * information (24.9.2) has the same layout. */
#define VMX_INTR_VALID      BIT(31)
#define VMX_INTR_ERR_VALID  BIT(11)
#define VMX_INTR_TYPE_MASK  (7u << 8)
#define VMX_INTR_TYPE_EXT   (0u << 8)
#define VMX_INTR_TYPE_NMI   (2u << 8)
#define VMX_INTR_TYPE_HWEXC (3u << 8)
#define VMX_INTR_TYPE_SWINT (4u << 8) /* INT n */
#define VMX_INTR_TYPE_PRIV  (5u << 8) /* privileged software exception: INT1 (ICEBP) */
#define VMX_INTR_TYPE_SWEXC (6u << 8) /* software exception: INT3, INTO */

#endif
