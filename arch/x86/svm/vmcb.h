/* The AMD-V virtual machine control block (APM Vol. 2, appendix B, tables B-1
 * and B-2). Every field's offset is asserted; nothing is addressed by a
 * hand-written number elsewhere. */
#ifndef ISTHMUS_ARCH_X86_SVM_VMCB_H
#define ISTHMUS_ARCH_X86_SVM_VMCB_H

#include "kernel/lib/types.h"

#define VMCB_OFF(f, off) STATIC_ASSERT(__builtin_offsetof(struct vmcb, f) == (off), "VMCB " #f)

struct vmcb_seg {
    u16 selector;
    u16 attrib; /* descriptor bits 55:52 and 47:40, packed (APM 15.5.1) */
    u32 limit;
    u64 base;
} __packed;
STATIC_ASSERT(sizeof(struct vmcb_seg) == 16, "VMCB segment is 16 bytes");

struct vmcb {
    /* ---- control area (table B-1) ---- */
    u16 intercept_cr_read;    /* 0x000 */
    u16 intercept_cr_write;   /* 0x002 */
    u16 intercept_dr_read;    /* 0x004 */
    u16 intercept_dr_write;   /* 0x006 */
    u32 intercept_exceptions; /* 0x008 */
    u32 intercept_misc1;      /* 0x00c: VMCB_INTERCEPT1_* */
    u32 intercept_misc2;      /* 0x010: VMCB_INTERCEPT2_* */
    u32 intercept_misc3;      /* 0x014 */
    u8 reserved_018[0x03c - 0x018];
    u16 pause_filter_threshold; /* 0x03c */
    u16 pause_filter_count;     /* 0x03e */
    u64 iopm_base_pa;           /* 0x040 */
    u64 msrpm_base_pa;          /* 0x048 */
    u64 tsc_offset;             /* 0x050 */
    u32 guest_asid;             /* 0x058 */
    u8 tlb_control;             /* 0x05c: VMCB_TLB_* */
    u8 reserved_05d[3];
    u64 vintr;            /* 0x060: V_TPR 7:0, V_IRQ 8, V_INTR_PRIO 19:16, V_INTR_MASKING 24, V_INTR_VECTOR 39:32 */
    u64 interrupt_shadow; /* 0x068: bit 0 shadow, bit 1 GIF (vGIF) */
    u64 exitcode;         /* 0x070 */
    u64 exitinfo1;        /* 0x078 */
    u64 exitinfo2;        /* 0x080 */
    u64 exitintinfo;      /* 0x088 */
    u64 np_control;       /* 0x090: bit 0 NP_ENABLE */
    u64 avic_apic_bar;    /* 0x098 */
    u64 ghcb_pa;          /* 0x0a0 */
    u64 eventinj;         /* 0x0a8 */
    u64 n_cr3;            /* 0x0b0 */
    u64 virt_ext;         /* 0x0b8: LBR virtualization, VMSAVE/VMLOAD virtualization */
    u32 clean_bits;       /* 0x0c0 */
    u32 reserved_0c4;
    u64 next_rip;          /* 0x0c8: with NRIPS */
    u8 insn_len;           /* 0x0d0: with decode assists */
    u8 insn_bytes[15];     /* 0x0d1 */
    u64 avic_backing_page; /* 0x0e0 */
    u64 reserved_0e8;
    u64 avic_logical_table;  /* 0x0f0 */
    u64 avic_physical_table; /* 0x0f8 */
    u64 reserved_100;
    u64 vmsa_pa; /* 0x108 */
    u8 reserved_110[0x400 - 0x110];
    /* ---- state save area (table B-2) ---- */
    struct vmcb_seg es;   /* 0x400 */
    struct vmcb_seg cs;   /* 0x410 */
    struct vmcb_seg ss;   /* 0x420 */
    struct vmcb_seg ds;   /* 0x430 */
    struct vmcb_seg fs;   /* 0x440 */
    struct vmcb_seg gs;   /* 0x450 */
    struct vmcb_seg gdtr; /* 0x460 */
    struct vmcb_seg ldtr; /* 0x470 */
    struct vmcb_seg idtr; /* 0x480 */
    struct vmcb_seg tr;   /* 0x490 */
    u8 reserved_4a0[0x4cb - 0x4a0];
    u8 cpl; /* 0x4cb */
    u32 reserved_4cc;
    u64 efer; /* 0x4d0 */
    u8 reserved_4d8[0x548 - 0x4d8];
    u64 cr4;    /* 0x548 */
    u64 cr3;    /* 0x550 */
    u64 cr0;    /* 0x558 */
    u64 dr7;    /* 0x560 */
    u64 dr6;    /* 0x568 */
    u64 rflags; /* 0x570 */
    u64 rip;    /* 0x578 */
    u8 reserved_580[0x5d8 - 0x580];
    u64 rsp;            /* 0x5d8 */
    u64 s_cet;          /* 0x5e0 */
    u64 ssp;            /* 0x5e8 */
    u64 isst_addr;      /* 0x5f0 */
    u64 rax;            /* 0x5f8 */
    u64 star;           /* 0x600 */
    u64 lstar;          /* 0x608 */
    u64 cstar;          /* 0x610 */
    u64 sfmask;         /* 0x618 */
    u64 kernel_gs_base; /* 0x620 */
    u64 sysenter_cs;    /* 0x628 */
    u64 sysenter_esp;   /* 0x630 */
    u64 sysenter_eip;   /* 0x638 */
    u64 cr2;            /* 0x640 */
    u8 reserved_648[0x668 - 0x648];
    u64 g_pat;          /* 0x668 */
    u64 dbgctl;         /* 0x670 */
    u64 br_from;        /* 0x678 */
    u64 br_to;          /* 0x680 */
    u64 last_excp_from; /* 0x688 */
    u64 last_excp_to;   /* 0x690 */
    u8 reserved_698[0x1000 - 0x698];
} __packed;

STATIC_ASSERT(sizeof(struct vmcb) == 4096, "the VMCB is one page");
VMCB_OFF(intercept_cr_read, 0x000);
VMCB_OFF(intercept_cr_write, 0x002);
VMCB_OFF(intercept_dr_read, 0x004);
VMCB_OFF(intercept_dr_write, 0x006);
VMCB_OFF(intercept_exceptions, 0x008);
VMCB_OFF(intercept_misc1, 0x00c);
VMCB_OFF(intercept_misc2, 0x010);
VMCB_OFF(intercept_misc3, 0x014);
VMCB_OFF(pause_filter_threshold, 0x03c);
VMCB_OFF(pause_filter_count, 0x03e);
VMCB_OFF(iopm_base_pa, 0x040);
VMCB_OFF(msrpm_base_pa, 0x048);
VMCB_OFF(tsc_offset, 0x050);
VMCB_OFF(guest_asid, 0x058);
VMCB_OFF(tlb_control, 0x05c);
VMCB_OFF(vintr, 0x060);
VMCB_OFF(interrupt_shadow, 0x068);
VMCB_OFF(exitcode, 0x070);
VMCB_OFF(exitinfo1, 0x078);
VMCB_OFF(exitinfo2, 0x080);
VMCB_OFF(exitintinfo, 0x088);
VMCB_OFF(np_control, 0x090);
VMCB_OFF(avic_apic_bar, 0x098);
VMCB_OFF(ghcb_pa, 0x0a0);
VMCB_OFF(eventinj, 0x0a8);
VMCB_OFF(n_cr3, 0x0b0);
VMCB_OFF(virt_ext, 0x0b8);
VMCB_OFF(clean_bits, 0x0c0);
VMCB_OFF(next_rip, 0x0c8);
VMCB_OFF(insn_len, 0x0d0);
VMCB_OFF(insn_bytes, 0x0d1);
VMCB_OFF(avic_backing_page, 0x0e0);
VMCB_OFF(avic_logical_table, 0x0f0);
VMCB_OFF(avic_physical_table, 0x0f8);
VMCB_OFF(vmsa_pa, 0x108);
VMCB_OFF(es, 0x400);
VMCB_OFF(cs, 0x410);
VMCB_OFF(ss, 0x420);
VMCB_OFF(ds, 0x430);
VMCB_OFF(fs, 0x440);
VMCB_OFF(gs, 0x450);
VMCB_OFF(gdtr, 0x460);
VMCB_OFF(ldtr, 0x470);
VMCB_OFF(idtr, 0x480);
VMCB_OFF(tr, 0x490);
VMCB_OFF(cpl, 0x4cb);
VMCB_OFF(efer, 0x4d0);
VMCB_OFF(cr4, 0x548);
VMCB_OFF(cr3, 0x550);
VMCB_OFF(cr0, 0x558);
VMCB_OFF(dr7, 0x560);
VMCB_OFF(dr6, 0x568);
VMCB_OFF(rflags, 0x570);
VMCB_OFF(rip, 0x578);
VMCB_OFF(rsp, 0x5d8);
VMCB_OFF(s_cet, 0x5e0);
VMCB_OFF(ssp, 0x5e8);
VMCB_OFF(isst_addr, 0x5f0);
VMCB_OFF(rax, 0x5f8);
VMCB_OFF(star, 0x600);
VMCB_OFF(lstar, 0x608);
VMCB_OFF(cstar, 0x610);
VMCB_OFF(sfmask, 0x618);
VMCB_OFF(kernel_gs_base, 0x620);
VMCB_OFF(sysenter_cs, 0x628);
VMCB_OFF(sysenter_esp, 0x630);
VMCB_OFF(sysenter_eip, 0x638);
VMCB_OFF(cr2, 0x640);
VMCB_OFF(g_pat, 0x668);
VMCB_OFF(dbgctl, 0x670);
VMCB_OFF(br_from, 0x678);
VMCB_OFF(br_to, 0x680);
VMCB_OFF(last_excp_from, 0x688);
VMCB_OFF(last_excp_to, 0x690);

/* intercept_misc1 (vector 3 of table B-1). */
#define VMCB_INTERCEPT1_INTR        BIT(0)
#define VMCB_INTERCEPT1_NMI         BIT(1)
#define VMCB_INTERCEPT1_SMI         BIT(2)
#define VMCB_INTERCEPT1_INIT        BIT(3)
#define VMCB_INTERCEPT1_VINTR       BIT(4)
#define VMCB_INTERCEPT1_RDTSC       BIT(14)
#define VMCB_INTERCEPT1_RDPMC       BIT(15)
#define VMCB_INTERCEPT1_CPUID       BIT(18)
#define VMCB_INTERCEPT1_RSM         BIT(19)
#define VMCB_INTERCEPT1_IRET        BIT(20)
#define VMCB_INTERCEPT1_INTN        BIT(21)
#define VMCB_INTERCEPT1_INVD        BIT(22)
#define VMCB_INTERCEPT1_PAUSE       BIT(23)
#define VMCB_INTERCEPT1_HLT         BIT(24)
#define VMCB_INTERCEPT1_INVLPG      BIT(25)
#define VMCB_INTERCEPT1_INVLPGA     BIT(26)
#define VMCB_INTERCEPT1_IOIO_PROT   BIT(27)
#define VMCB_INTERCEPT1_MSR_PROT    BIT(28)
#define VMCB_INTERCEPT1_TASK_SWITCH BIT(29)
#define VMCB_INTERCEPT1_FERR_FREEZE BIT(30)
#define VMCB_INTERCEPT1_SHUTDOWN    BIT(31)
/* intercept_misc2 (vector 4). VMRUN must always be intercepted (APM 15.5.1). */
#define VMCB_INTERCEPT2_VMRUN       BIT(0)
#define VMCB_INTERCEPT2_VMMCALL     BIT(1)
#define VMCB_INTERCEPT2_VMLOAD      BIT(2)
#define VMCB_INTERCEPT2_VMSAVE      BIT(3)
#define VMCB_INTERCEPT2_STGI        BIT(4)
#define VMCB_INTERCEPT2_CLGI        BIT(5)
#define VMCB_INTERCEPT2_SKINIT      BIT(6)
#define VMCB_INTERCEPT2_RDTSCP      BIT(7)
#define VMCB_INTERCEPT2_ICEBP       BIT(8)
#define VMCB_INTERCEPT2_WBINVD      BIT(9)
#define VMCB_INTERCEPT2_MONITOR     BIT(10)
#define VMCB_INTERCEPT2_MWAIT       BIT(11)
#define VMCB_INTERCEPT2_MWAIT_COND  BIT(12)
#define VMCB_INTERCEPT2_XSETBV      BIT(13)

#define VMCB_TLB_NOTHING   0
#define VMCB_TLB_FLUSH_ALL 1 /* the only choice without FlushByASID (QEMU TCG) */
#define VMCB_NP_ENABLE     BIT(0)

/* EVENTINJ / EXITINTINFO (APM 15.20). */
#define VMCB_EVENT_VALID       BIT(31)
#define VMCB_EVENT_ERR_VALID   BIT(11)
#define VMCB_EVENT_TYPE_INTR   (0u << 8)
#define VMCB_EVENT_TYPE_NMI    (2u << 8)
#define VMCB_EVENT_TYPE_EXC    (3u << 8)
#define VMCB_EVENT_TYPE_SOFT   (4u << 8)
#define VMCB_EVENT_TYPE_MASK   (7u << 8)
#define VMCB_EVENT_VECTOR_MASK 0xffu

/* Exit codes (APM appendix C). QEMU 7.2 TCG writes VMEXIT_INVALID as
 * 0x00000000ffffffff: compare exit codes on their low 32 bits. */
enum svm_exit_code {
    SVM_EXIT_CR0_READ = 0x000,
    SVM_EXIT_CR0_WRITE = 0x010,
    SVM_EXIT_EXCP_BASE = 0x040,
    SVM_EXIT_INTR = 0x060,
    SVM_EXIT_NMI = 0x061,
    SVM_EXIT_SMI = 0x062,
    SVM_EXIT_INIT = 0x063,
    SVM_EXIT_VINTR = 0x064,
    SVM_EXIT_CPUID = 0x072,
    SVM_EXIT_RSM = 0x073,
    SVM_EXIT_INVD = 0x076,
    SVM_EXIT_PAUSE = 0x077,
    SVM_EXIT_HLT = 0x078,
    SVM_EXIT_INVLPG = 0x079,
    SVM_EXIT_IOIO = 0x07b,
    SVM_EXIT_MSR = 0x07c,
    SVM_EXIT_TASK_SWITCH = 0x07d,
    SVM_EXIT_SHUTDOWN = 0x07f,
    SVM_EXIT_VMRUN = 0x080,
    SVM_EXIT_VMMCALL = 0x081,
    SVM_EXIT_VMLOAD = 0x082,
    SVM_EXIT_VMSAVE = 0x083,
    SVM_EXIT_STGI = 0x084,
    SVM_EXIT_CLGI = 0x085,
    SVM_EXIT_SKINIT = 0x086,
    SVM_EXIT_RDTSCP = 0x087,
    SVM_EXIT_WBINVD = 0x089,
    SVM_EXIT_MONITOR = 0x08a,
    SVM_EXIT_MWAIT = 0x08b,
    SVM_EXIT_XSETBV = 0x08d,
    SVM_EXIT_NPF = 0x400,
    SVM_EXIT_INVALID = 0xffffffffu,
};

/* EXITINFO1 for IOIO intercepts (APM 15.10.2). */
#define SVM_IOIO_IN         BIT(0)
#define SVM_IOIO_STR        BIT(2)
#define SVM_IOIO_REP        BIT(3)
#define SVM_IOIO_SZ8        BIT(4)
#define SVM_IOIO_SZ16       BIT(5)
#define SVM_IOIO_SZ32       BIT(6)
#define SVM_IOIO_PORT_SHIFT 16

/* EXITINFO1 for MSR intercepts (APM 15.11): 0 RDMSR, 1 WRMSR. */
#define SVM_MSR_WRITE BIT(0)

/* EXITINFO1 for CR access intercepts with decode assists (APM 15.33.1): bit 63
 * set for a MOV CR, whose general register is in bits 3:0. */
#define SVM_CR_MOV      BIT(63)
#define SVM_CR_GPR_MASK 0xf

/* EXITINFO1 for nested page faults (APM 15.25.6): a #PF-style error code. */
#define SVM_NPF_PRESENT BIT(0)
#define SVM_NPF_WRITE   BIT(1)
#define SVM_NPF_USER    BIT(2)
#define SVM_NPF_FETCH   BIT(4)

#endif
