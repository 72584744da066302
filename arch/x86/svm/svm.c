/* AMD-V backend: translates the vCPU interface (arch/x86/vcpu.h) to the VMCB and
 * SVM exit codes back to struct vcpu_exit (that translation, a pure function
 * of the exit fields, is svm_exit.c's). Written for the subset QEMU's TCG
 * offers (no NRIPS, decode assists, FlushByASID or clean bits): instruction
 * lengths come from the exit kind, and every VMRUN flushes the guest TLB. */
#include "arch/x86/vcpu.h"
#include "arch/x86/svm/vmcb.h"
#include "arch/x86/svm/svm_exit.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/msr.h"
#include "arch/x86/hw/regs.h"
#include "arch/x86/hw/vectors.h"
#include "arch/x86/virt.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/core/mm.h"
#include "kernel/core/percpu.h"
#include "kernel/lib/string.h"

#define IOPM_PAGES        3       /* 12 KiB: one bit per port, all set = intercept every port */
#define MSRPM_PAGES       2       /* 8 KiB: two bits per MSR in three ranges, all set */
#define V_INTR_MASKING    BIT(24) /* host RFLAGS.IF, not the guest's, gates physical interrupts */
#define V_IRQ             BIT(8)
#define V_INTR_PRIO_SHIFT 16

void svm_vmrun(u64 guest_vmcb_pa, u64 host_vmcb_pa, struct vcpu_regs *regs);

struct svm_vcpu {
    struct vmcb *vmcb;
    hpa_t vmcb_pa, iopm_pa, msrpm_pa;
    /* Shadow paging: the paging registers as the guest sees them (AMD-V has
     * no read shadows; reads are intercepted and answered from these). */
    bool shadow;
    u64 gcr0, gcr3, gcr4, gefer;
};

static int svm_cpu_enable(void)
{
    struct percpu *c = this_cpu();
    if (c->virt_enabled)
        return 0;
    hpa_t area, host;
    int err = mm_alloc(c->node, 1, 1, 0, &area, NULL);
    if (err)
        return err;
    err = mm_alloc(c->node, 1, 1, 0, &host, NULL);
    if (err) {
        mm_release(area, 1);
        return err;
    }
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
    wrmsr(MSR_VM_HSAVE_PA, area);
    c->virt_host_area = area;
    c->virt_host_state = host;
    c->virt_enabled = true;
    return 0;
}

static int svm_create(struct vcpu *v)
{
    struct svm_vcpu *s = NULL;
    hpa_t spa, vmcb, iopm, msrpm;
    int node = this_cpu()->node;
    int err = mm_alloc(node, 1, 1, 0, &spa, NULL);
    if (err)
        return err;
    s = hpa_to_ptr(spa);
    if ((err = mm_alloc(node, 1, 1, 0, &vmcb, NULL)) < 0)
        goto free_s;
    if ((err = mm_alloc(node, IOPM_PAGES, 1, 0, &iopm, NULL)) < 0)
        goto free_vmcb;
    if ((err = mm_alloc(node, MSRPM_PAGES, 1, 0, &msrpm, NULL)) < 0)
        goto free_iopm;
    memset(hpa_to_ptr(iopm), 0xff, IOPM_PAGES * PAGE_SIZE);
    memset(hpa_to_ptr(msrpm), 0xff, MSRPM_PAGES * PAGE_SIZE);
    s->vmcb = hpa_to_ptr(vmcb);
    s->vmcb_pa = vmcb;
    s->iopm_pa = iopm;
    s->msrpm_pa = msrpm;

    struct vmcb *b = s->vmcb;
    b->intercept_misc1 = VMCB_INTERCEPT1_INTR | VMCB_INTERCEPT1_NMI | VMCB_INTERCEPT1_SMI | VMCB_INTERCEPT1_INIT |
                         VMCB_INTERCEPT1_CPUID | VMCB_INTERCEPT1_INVD | VMCB_INTERCEPT1_HLT |
                         VMCB_INTERCEPT1_IOIO_PROT | VMCB_INTERCEPT1_MSR_PROT | VMCB_INTERCEPT1_TASK_SWITCH |
                         VMCB_INTERCEPT1_FERR_FREEZE | VMCB_INTERCEPT1_SHUTDOWN | VMCB_INTERCEPT1_RSM;
    b->intercept_misc2 = VMCB_INTERCEPT2_VMRUN | VMCB_INTERCEPT2_VMMCALL | VMCB_INTERCEPT2_VMLOAD |
                         VMCB_INTERCEPT2_VMSAVE | VMCB_INTERCEPT2_STGI | VMCB_INTERCEPT2_CLGI | VMCB_INTERCEPT2_SKINIT |
                         VMCB_INTERCEPT2_ICEBP | VMCB_INTERCEPT2_MONITOR | VMCB_INTERCEPT2_MWAIT |
                         VMCB_INTERCEPT2_MWAIT_COND | VMCB_INTERCEPT2_XSETBV;
    /* #MC belongs to the host. */
    b->intercept_exceptions = BIT(X86_EXC_MC);
    b->iopm_base_pa = iopm;
    b->msrpm_base_pa = msrpm;
    b->guest_asid = v->asid ? v->asid : 1;
    b->tlb_control = VMCB_TLB_FLUSH_ALL;
    b->vintr = V_INTR_MASKING;
    b->np_control = VMCB_NP_ENABLE;
    b->g_pat = PAT_DEFAULT;
    v->hw = s;
    v->hw_pa = spa;
    return 0;

free_iopm:
    mm_release(iopm, IOPM_PAGES);
free_vmcb:
    mm_release(vmcb, 1);
free_s:
    mm_release(spa, 1);
    return err;
}

static void svm_destroy(struct vcpu *v)
{
    struct svm_vcpu *s = v->hw;
    if (!s)
        return;
    mm_release(s->msrpm_pa, MSRPM_PAGES);
    mm_release(s->iopm_pa, IOPM_PAGES);
    mm_release(s->vmcb_pa, 1);
    mm_release(v->hw_pa, 1);
    v->hw = NULL;
}

static void seg_to_vmcb(struct vmcb_seg *d, const struct vcpu_segment *s)
{
    d->selector = s->selector;
    d->attrib = s->attrib;
    d->limit = s->limit;
    d->base = s->base;
}

static void svm_load_state(struct vcpu *v, const struct vcpu_boot_state *st)
{
    struct vmcb *b = ((struct svm_vcpu *)v->hw)->vmcb;
    v->regs = st->regs;
    b->cr0 = st->cr0;
    b->cr3 = st->cr3;
    b->cr4 = st->cr4;
    /* VMRUN refuses a guest whose EFER.SVME is clear (APM 15.5.1); the guest
     * never sees the bit because EFER reads are intercepted. */
    b->efer = st->efer | EFER_SVME;
    seg_to_vmcb(&b->cs, &st->cs);
    seg_to_vmcb(&b->ds, &st->ds);
    seg_to_vmcb(&b->es, &st->es);
    seg_to_vmcb(&b->fs, &st->fs);
    seg_to_vmcb(&b->gs, &st->gs);
    seg_to_vmcb(&b->ss, &st->ss);
    seg_to_vmcb(&b->tr, &st->tr);
    seg_to_vmcb(&b->ldtr, &st->ldtr);
    seg_to_vmcb(&b->gdtr, &st->gdtr);
    seg_to_vmcb(&b->idtr, &st->idtr);
    b->cpl = 0;
    b->dr6 = DR6_INIT;
    b->dr7 = DR7_INIT;
    b->eventinj = 0;
    b->interrupt_shadow = 0;
}

/* N_CR3 (APM 15.25.3): the root, PWT = PCD = 0 (the PML4 is write-back).
 * Every VMRUN flushes the TLB (TLB_CONTROL), so nothing else to flush. */
static void svm_set_slpt_root(struct vcpu *v, hpa_t root) { ((struct svm_vcpu *)v->hw)->vmcb->n_cr3 = root; }

/* 1 GiB nested leaves are not used: QEMU's TCG NPT is the target, and the
 * partitions' blocks are 2 MiB-aligned. */
static bool svm_slpt_1g_pages(void) { return false; }

#define CR_BITS_SHADOWED (BIT(0) | BIT(3) | BIT(4)) /* intercept bits of CR0, CR3, CR4 */

static int svm_enable_shadow(struct vcpu *v)
{
    struct svm_vcpu *s = v->hw;
    struct vmcb *b = s->vmcb;
    s->shadow = true;
    b->np_control &= ~(u64)VMCB_NP_ENABLE;
    b->n_cr3 = 0;
    b->intercept_cr_read = CR_BITS_SHADOWED;
    b->intercept_cr_write = CR_BITS_SHADOWED;
    b->intercept_misc1 |= VMCB_INTERCEPT1_INVLPG;
    b->intercept_exceptions |= BIT(X86_EXC_PF);
    return 0;
}

/* Every VMRUN flushes this vCPU's TLB already (TLB_CONTROL, set at create):
 * a new shadow root or a changed shadow entry needs nothing more. */
static void svm_set_paging(struct vcpu *v, const struct vcpu_paging *p)
{
    struct svm_vcpu *s = v->hw;
    struct vmcb *b = s->vmcb;
    s->gcr0 = p->cr0;
    s->gcr3 = p->cr3;
    s->gcr4 = p->cr4;
    s->gefer = p->efer;
    b->cr0 = p->hw_cr0;
    b->cr3 = p->hw_cr3;
    b->cr4 = p->hw_cr4;
    b->efer = p->hw_efer | EFER_SVME;
}

/* The exit fields svm_translate_exit() reads. */
static void read_exit_raw(const struct vcpu *v, const struct vmcb *b, struct svm_exit_raw *raw)
{
    *raw = (struct svm_exit_raw){
        .exitcode = b->exitcode,
        .exitinfo1 = b->exitinfo1,
        .exitinfo2 = b->exitinfo2,
        .rip = b->rip,
        .next_rip = b->next_rip,
        .rcx = v->regs.gpr[GPR_RCX],
        .nrips = virt.svm_nrips,
        .decode_assists = virt.svm_decode_assists,
    };
}

static int svm_run(struct vcpu *v, struct vcpu_exit *e)
{
    struct svm_vcpu *s = v->hw;
    struct vmcb *b = s->vmcb;
    struct percpu *c = this_cpu();
    if (!c->virt_enabled)
        return -ENODEV;
    b->rax = v->regs.gpr[GPR_RAX];
    b->rsp = v->regs.gpr[GPR_RSP];
    b->rip = v->regs.rip;
    b->rflags = v->regs.rflags;
    /* GIF = 0 holds every interrupt off between here and VMRUN, while host
     * RFLAGS.IF = 1 lets a physical interrupt end the guest's run (with
     * V_INTR_MASKING the host's IF, as of VMRUN, gates them, APM 15.21.1).
     * The caller may have interrupts disabled: they stay pending until it
     * enables them again. */
    u64 flags = irq_save();
    __asm__ volatile("clgi; sti" ::: "memory");
    svm_vmrun(s->vmcb_pa, c->virt_host_state, &v->regs);
    __asm__ volatile("cli; stgi" ::: "memory");
    irq_restore(flags);
    v->regs.gpr[GPR_RAX] = b->rax;
    v->regs.gpr[GPR_RSP] = b->rsp;
    v->regs.rip = b->rip;
    v->regs.rflags = b->rflags;
    /* An event that could not be delivered comes back in EXITINTINFO: re-inject
     * it. Not one an instruction raised (INT n, INT3, INTO): RIP is still at
     * that instruction, and EVENTINJ would push RIP itself as the return
     * address where the guest's handler expects the next instruction's
     * (Linux's INT3 self-test fails on that). Executed again, the instruction
     * raises it again, as KVM does too. */
    b->eventinj = 0;
    if (b->exitintinfo & VMCB_EVENT_VALID) {
        u64 type = b->exitintinfo & VMCB_EVENT_TYPE_MASK, vec = b->exitintinfo & VMCB_EVENT_VECTOR_MASK;
        bool soft = type == VMCB_EVENT_TYPE_SOFT ||
                    (type == VMCB_EVENT_TYPE_EXC && (vec == X86_EXC_BP || vec == X86_EXC_OF));
        if (!soft)
            b->eventinj = b->exitintinfo;
    }
    struct svm_exit_raw raw;
    read_exit_raw(v, b, &raw);
    svm_translate_exit(&raw, e);
    v->stats.exits++;
    v->stats.by_reason[e->reason]++;
    return 0;
}

static void svm_advance_rip(struct vcpu *v, u64 len)
{
    v->regs.rip += len;
    /* Completing an instruction ends any STI/MOV SS interrupt shadow. */
    ((struct svm_vcpu *)v->hw)->vmcb->interrupt_shadow &= ~1ULL;
}

static int svm_inject(struct vcpu *v, const struct vcpu_event *ev)
{
    struct vmcb *b = ((struct svm_vcpu *)v->hw)->vmcb;
    if (b->eventinj & VMCB_EVENT_VALID)
        return -EBUSY;
    u64 type = ev->type == VEVENT_NMI         ? VMCB_EVENT_TYPE_NMI
               : ev->type == VEVENT_EXCEPTION ? VMCB_EVENT_TYPE_EXC
                                              : VMCB_EVENT_TYPE_INTR;
    u64 inj = ev->vector | type | VMCB_EVENT_VALID;
    if (ev->type == VEVENT_EXCEPTION && ev->has_error)
        inj |= VMCB_EVENT_ERR_VALID | ((u64)ev->error << 32);
    if (ev->type == VEVENT_EXCEPTION && ev->vector == X86_EXC_PF)
        b->cr2 = ev->cr2;
    b->eventinj = inj;
    return 0;
}

static bool svm_take_pending(struct vcpu *v, struct vcpu_event *ev)
{
    struct vmcb *b = ((struct svm_vcpu *)v->hw)->vmcb;
    u64 inj = b->eventinj;
    if (!(inj & VMCB_EVENT_VALID))
        return false;
    b->eventinj = 0;
    u64 type = inj & VMCB_EVENT_TYPE_MASK;
    *ev = (struct vcpu_event){
        .type = type == VMCB_EVENT_TYPE_INTR  ? VEVENT_EXTINT
                : type == VMCB_EVENT_TYPE_NMI ? VEVENT_NMI
                                              : VEVENT_EXCEPTION,
        .vector = (u8)(inj & VMCB_EVENT_VECTOR_MASK),
        .has_error = (inj & VMCB_EVENT_ERR_VALID) != 0,
        .error = (u32)(inj >> 32),
    };
    return true;
}

static bool svm_interruptible(struct vcpu *v)
{
    struct vmcb *b = ((struct svm_vcpu *)v->hw)->vmcb;
    return (v->regs.rflags & RFLAGS_IF) && !(b->interrupt_shadow & 1) && !(b->eventinj & VMCB_EVENT_VALID);
}

static void svm_want_interrupt_window(struct vcpu *v, bool on)
{
    struct vmcb *b = ((struct svm_vcpu *)v->hw)->vmcb;
    /* A virtual interrupt request with VINTR intercepted exits as soon as the
     * guest could take it (APM 15.21.4). */
    if (on) {
        b->vintr |= V_IRQ | (0xfULL << V_INTR_PRIO_SHIFT);
        b->intercept_misc1 |= VMCB_INTERCEPT1_VINTR;
    } else {
        b->vintr &= ~(V_IRQ | (0xfULL << V_INTR_PRIO_SHIFT));
        b->intercept_misc1 &= ~VMCB_INTERCEPT1_VINTR;
    }
}

static u64 svm_get_cr(struct vcpu *v, int cr)
{
    struct svm_vcpu *s = v->hw;
    struct vmcb *b = s->vmcb;
    if (s->shadow && cr != 2)
        return cr == 0 ? s->gcr0 : cr == 3 ? s->gcr3 : cr == 4 ? s->gcr4 : 0;
    switch (cr) {
    case 0: return b->cr0;
    case 2: return b->cr2;
    case 3: return b->cr3;
    case 4: return b->cr4;
    default: return 0;
    }
}

static u64 svm_get_efer(struct vcpu *v)
{
    if (((struct svm_vcpu *)v->hw)->shadow)
        return ((struct svm_vcpu *)v->hw)->gefer;
    return ((struct svm_vcpu *)v->hw)->vmcb->efer & ~EFER_SVME;
}

static u8 svm_get_cpl(struct vcpu *v) { return ((struct svm_vcpu *)v->hw)->vmcb->cpl; }

static struct vmcb_seg *seg_of(struct vmcb *b, enum vcpu_seg_reg which)
{
    switch (which) {
    case VSEG_ES: return &b->es;
    case VSEG_CS: return &b->cs;
    case VSEG_SS: return &b->ss;
    case VSEG_DS: return &b->ds;
    case VSEG_FS: return &b->fs;
    default: return &b->gs;
    }
}

static void svm_get_segment(struct vcpu *v, enum vcpu_seg_reg which, struct vcpu_segment *out)
{
    const struct vmcb_seg *s = seg_of(((struct svm_vcpu *)v->hw)->vmcb, which);
    out->selector = s->selector;
    out->attrib = s->attrib;
    out->limit = s->limit;
    out->base = s->base;
}

/* Every state MSR the core knows is a VMCB field on AMD-V; all are 8-byte
 * aligned (asserted in vmcb.h), so they are reached through their offsets. */
#define VMCB_FIELD(f) ((u32) __builtin_offsetof(struct vmcb, f))
static u32 msr_offset(enum vcpu_msr m)
{
    switch (m) {
    case VMSR_EFER: return VMCB_FIELD(efer);
    case VMSR_PAT: return VMCB_FIELD(g_pat);
    case VMSR_STAR: return VMCB_FIELD(star);
    case VMSR_LSTAR: return VMCB_FIELD(lstar);
    case VMSR_CSTAR: return VMCB_FIELD(cstar);
    case VMSR_SFMASK: return VMCB_FIELD(sfmask);
    case VMSR_KERNEL_GS_BASE: return VMCB_FIELD(kernel_gs_base);
    case VMSR_SYSENTER_CS: return VMCB_FIELD(sysenter_cs);
    case VMSR_SYSENTER_ESP: return VMCB_FIELD(sysenter_esp);
    case VMSR_SYSENTER_EIP: return VMCB_FIELD(sysenter_eip);
    case VMSR_FS_BASE: return VMCB_FIELD(fs.base);
    case VMSR_GS_BASE: return VMCB_FIELD(gs.base);
    default: return 0;
    }
}

static u64 svm_get_msr(struct vcpu *v, enum vcpu_msr m)
{
    u32 off = msr_offset(m);
    if (!off)
        return 0;
    if (m == VMSR_EFER && ((struct svm_vcpu *)v->hw)->shadow)
        return ((struct svm_vcpu *)v->hw)->gefer;
    u64 val = *(u64 *)((u8 *)((struct svm_vcpu *)v->hw)->vmcb + off);
    return m == VMSR_EFER ? val & ~EFER_SVME : val;
}

static void svm_set_msr(struct vcpu *v, enum vcpu_msr m, u64 value)
{
    struct vmcb *b = ((struct svm_vcpu *)v->hw)->vmcb;
    u32 off = msr_offset(m);
    if (!off)
        return;
    if (m == VMSR_EFER && ((struct svm_vcpu *)v->hw)->shadow)
        return; /* the core's shadow paging sets both views */
    if (m == VMSR_EFER)
        value = (value & ~EFER_LMA) | (b->efer & EFER_LMA) | EFER_SVME;
    *(u64 *)((u8 *)b + off) = value;
}

const struct vcpu_backend svm_backend = {
    .name = "svm",
    .vendor = VCPU_VENDOR_AMD,
    .slpt_format = SLPT_NPT,
    .slpt_name = "NPT",
    .slpt_fault_name = "NPT violation",
    .shadow_real_mode = true,
    .slpt_1g_pages = svm_slpt_1g_pages,
    .cpu_enable = svm_cpu_enable,
    .create = svm_create,
    .destroy = svm_destroy,
    .load_state = svm_load_state,
    .set_slpt_root = svm_set_slpt_root,
    .enable_shadow = svm_enable_shadow,
    .set_paging = svm_set_paging,
    .run = svm_run,
    .advance_rip = svm_advance_rip,
    .inject = svm_inject,
    .take_pending = svm_take_pending,
    .interruptible = svm_interruptible,
    .want_interrupt_window = svm_want_interrupt_window,
    .get_cr = svm_get_cr,
    .get_efer = svm_get_efer,
    .get_cpl = svm_get_cpl,
    .get_segment = svm_get_segment,
    .get_msr = svm_get_msr,
    .set_msr = svm_set_msr,
};
