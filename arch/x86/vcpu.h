/* The vendor-neutral vCPU interface. The core (vmm/) never says "VMCS" or
 * "VMCB": a backend (arch/x86/vmx/, arch/x86/svm/) translates between this and
 * its hardware structure, and turns its exit codes into struct vcpu_exit. One
 * backend is picked at boot from what the CPU offers (arch/x86/virt.h). */
#ifndef ISTHMUS_VMM_VCPU_H
#define ISTHMUS_VMM_VCPU_H

#include "kernel/lib/types.h"
#include "kernel/lib/gpa.h"

/* General-purpose registers in x86 encoding order, so an instruction's register
 * number indexes regs.gpr directly. */
enum vcpu_gpr {
    GPR_RAX,
    GPR_RCX,
    GPR_RDX,
    GPR_RBX,
    GPR_RSP,
    GPR_RBP,
    GPR_RSI,
    GPR_RDI,
    GPR_R8,
    GPR_R9,
    GPR_R10,
    GPR_R11,
    GPR_R12,
    GPR_R13,
    GPR_R14,
    GPR_R15,
    GPR_COUNT
};

struct vcpu_regs {
    u64 gpr[GPR_COUNT];
    u64 rip;
    u64 rflags;
};

struct vcpu_segment {
    u16 selector;
    u16 attrib; /* bits: type 3:0, S 4, DPL 6:5, P 7, AVL 8, L 9, D/B 10, G 11 (the VMCB packing) */
    u32 limit;
    u64 base;
};

/* The architectural state a vCPU starts from (PVH entry, INIT/SIPI). */
struct vcpu_boot_state {
    struct vcpu_regs regs;
    u64 cr0, cr3, cr4, efer;
    struct vcpu_segment cs, ds, es, fs, gs, ss, tr, ldtr, gdtr, idtr;
};

enum vcpu_exit_reason {
    VEXIT_NONE = 0,
    VEXIT_EXTINT, /* a host interrupt arrived: nothing for the guest */
    VEXIT_HLT,
    VEXIT_IO,
    VEXIT_MSR,
    VEXIT_CPUID,
    VEXIT_HYPERCALL,    /* VMCALL / VMMCALL */
    VEXIT_SLPT_FAULT,   /* EPT violation / nested page fault */
    VEXIT_TRIPLE_FAULT, /* shutdown */
    VEXIT_INIT,
    VEXIT_SIPI,
    VEXIT_INTR_WINDOW,
    VEXIT_XSETBV,
    VEXIT_PAUSE,
    VEXIT_EXCEPTION,     /* an intercepted guest exception */
    VEXIT_INVALID_STATE, /* VM entry refused the guest state */
    VEXIT_CR_ACCESS,     /* shadow paging: the guest read or wrote CR0/CR3/CR4 */
    VEXIT_INVLPG,        /* shadow paging: INVLPG */
    VEXIT_UNHANDLED,     /* a backend exit code the core does not know: stops the partition */
    VEXIT_COUNT
};

struct vcpu_exit {
    enum vcpu_exit_reason reason;
    u64 vendor_code; /* the backend's own exit code, for logs */
    u64 insn_len;    /* length of the exiting instruction, 0 when the hardware did not say */
    union {
        struct {
            u16 port;
            u8 size;
            bool in, string, rep;
        } io;
        struct {
            u32 index;
            bool write;
        } msr;
        struct {
            gpa_t gpa;
            bool read, write, fetch, present;
        } fault;
        /* address: the linear address of a #PF */
        struct {
            u8 vector;
            bool has_error;
            u32 error;
            u64 address;
        } exception;
        /* gpr < 0: the backend does not say (the core decodes the instruction);
         * clts: CLTS rather than a MOV */
        struct {
            u8 cr;
            bool write, clts;
            s8 gpr;
        } cr;
        /* known: va holds the operand's linear address (else the core decodes) */
        struct {
            u64 va;
            bool known;
        } invlpg;
        struct {
            u8 vector;
        } sipi;
    };
};

enum vcpu_event_type { VEVENT_EXTINT, VEVENT_NMI, VEVENT_EXCEPTION };

struct vcpu_event {
    enum vcpu_event_type type;
    u8 vector;
    bool has_error;
    u32 error;
    u64 cr2; /* #PF: the faulting address the guest finds in CR2 */
};

/* Shadow paging (vmm/shadow_vcpu.c): the paging registers as the guest sees
 * them (its reads return these) and as the hardware runs (CR3 = a shadow root). */
struct vcpu_paging {
    u64 cr0, cr3, cr4, efer;
    u64 hw_cr0, hw_cr3, hw_cr4, hw_efer;
    /* The partition's guest-physical map, for a backend that runs real mode
     * (hw_cr0.PE clear) through second-level paging rather than paged real
     * mode (VT-x: EPT with unrestricted guest). 0 when there is none. */
    hpa_t slpt_root;
};

/* MSRs whose guest values live in the backend's hardware structure (or, for
 * VT-x's SYSCALL MSRs, in the physical MSRs of the vCPU's own CPU, which the
 * hypervisor never uses). The core validates values before setting them. */
enum vcpu_msr {
    VMSR_EFER,
    VMSR_PAT,
    VMSR_STAR,
    VMSR_LSTAR,
    VMSR_CSTAR,
    VMSR_SFMASK,
    VMSR_KERNEL_GS_BASE,
    VMSR_SYSENTER_CS,
    VMSR_SYSENTER_ESP,
    VMSR_SYSENTER_EIP,
    VMSR_FS_BASE,
    VMSR_GS_BASE,
    VMSR_COUNT
};

enum vcpu_seg_reg { VSEG_ES, VSEG_CS, VSEG_SS, VSEG_DS, VSEG_FS, VSEG_GS };

struct vcpu_stats {
    u64 exits;
    u64 cr_emulated; /* VT-x CR0/CR4 writes completed inside the backend */
    u64 by_reason[VEXIT_COUNT];
};

struct vcpu;

/* What differs between the vendors, as properties of the backend, so that the
 * core never asks which one it runs on. */
enum vcpu_vendor { VCPU_VENDOR_INTEL, VCPU_VENDOR_AMD };
/* The second-level page-table format the backend walks; the last two are
 * the DMA remapping units' (drivers/iommu_hw.h), built by the same code. */
enum slpt_format { SLPT_EPT, SLPT_NPT, SLPT_VTD, SLPT_AMDVI };

struct vcpu_backend {
    const char *name;        /* "svm", "vmx" */
    enum vcpu_vendor vendor; /* the CPUID vendor a guest is shown */
    enum slpt_format slpt_format;
    const char *slpt_name; /* "EPT", "NPT" */
    /* Shadow paging can run real mode (CR0.PE = 0) with paging on: AMD-V's
     * paged real mode. VT-x cannot; it runs real mode with EPT and
     * unrestricted guest instead where the CPU has them (set_paging() with
     * hw_cr0.PE clear and a slpt_root). */
    bool shadow_real_mode;
    const char *slpt_fault_name; /* "EPT violation", "NPT violation" */
    /* Whether second-level tables may use 1 GiB leaves on this CPU. */
    bool (*slpt_1g_pages)(void);
    /* On each physical CPU before it runs a vCPU (EFER.SVME and the host save
     * area; or VMXON). Idempotent. */
    int (*cpu_enable)(void) __must_check;
    int (*create)(struct vcpu *v) __must_check;
    void (*destroy)(struct vcpu *v);
    void (*load_state)(struct vcpu *v, const struct vcpu_boot_state *s);
    /* Loads the second-level page-table root (the backend builds the EPTP or
     * nCR3 from it) and flushes what was cached under the previous one. */
    void (*set_slpt_root)(struct vcpu *v, hpa_t root);
    /* Shadow paging instead: second-level paging off, CR0/CR3/CR4 accesses,
     * INVLPG and #PF intercepted (VEXIT_CR_ACCESS, VEXIT_INVLPG, VEXIT_EXCEPTION),
     * and get_cr()/get_efer()/get_msr(VMSR_EFER) answer with the guest's view.
     * After create(), before load_state(). */
    int (*enable_shadow)(struct vcpu *v) __must_check;
    /* Loads both views of the paging registers and flushes the vCPU's TLB. */
    void (*set_paging)(struct vcpu *v, const struct vcpu_paging *p);
    /* Enters the guest with v->regs until the next exit, which it describes in e. */
    int (*run)(struct vcpu *v, struct vcpu_exit *e) __must_check;
    void (*advance_rip)(struct vcpu *v, u64 len);
    /* Queues an event for the next entry; -EBUSY when one is already pending. */
    int (*inject)(struct vcpu *v, const struct vcpu_event *ev) __must_check;
    /* Takes back the event queued for the next entry (one inject() queued, or
     * one an exit cut short): true and *ev, or false when none is. Software
     * interrupts and exceptions (INT n, INT3, INTO, INT1) come back as
     * exceptions of their vector; RIP is still at their instruction. */
    bool (*take_pending)(struct vcpu *v, struct vcpu_event *ev);
    /* Whether an external interrupt can be delivered now (IF=1, no shadow). */
    bool (*interruptible)(struct vcpu *v);
    /* Ask for an exit as soon as the guest can take an external interrupt. */
    void (*want_interrupt_window)(struct vcpu *v, bool on);
    /* Guest control state the core needs to read guest memory by virtual address. */
    u64 (*get_cr)(struct vcpu *v, int cr);
    u64 (*get_efer)(struct vcpu *v);
    u8 (*get_cpl)(struct vcpu *v);
    /* A segment register as the guest has it now (attributes in vcpu_segment packing). */
    void (*get_segment)(struct vcpu *v, enum vcpu_seg_reg which, struct vcpu_segment *out);
    u64 (*get_msr)(struct vcpu *v, enum vcpu_msr m);
    /* EFER.LMA is the CPU's: set_msr(VMSR_EFER) keeps the current LMA. */
    void (*set_msr)(struct vcpu *v, enum vcpu_msr m, u64 value);
};

struct vcpu {
    u32 index;   /* within its partition */
    u32 apic_id; /* the guest's view */
    struct vcpu_regs regs;
    struct vcpu_stats stats;
    u32 asid; /* SVM ASID / VMX VPID */
    /* Set by the backend when INVPCID would raise #UD in this guest (VT-x
     * without the "enable INVPCID" control): CPUID then hides it. */
    bool invpcid_ud;
    void *hw; /* the backend's VMCB or VMCS bookkeeping */
    hpa_t hw_pa;
};

extern const struct vcpu_backend *vcpu_backend;
extern const struct vcpu_backend svm_backend;
extern const struct vcpu_backend vmx_backend;

/* Picks the backend from virt_detect()'s result; -ENODEV with a reason logged
 * when the CPU has neither (or lacks EPT/NPT). */
int vcpu_backend_select(void) __must_check;
const char *vcpu_exit_name(enum vcpu_exit_reason r);

#endif
