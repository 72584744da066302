/* VT-x backend: translates the vCPU interface (arch/x86/vcpu.h) to the VMCS and VMX
 * exit reasons back to struct vcpu_exit (that translation, a pure function of
 * the exit fields, is vmx_exit.c's). Needs EPT and unrestricted guest (the
 * PVH entry state has paging off). Controls are adjusted to what the CPU allows
 * through the (TRUE_) capability MSRs (SDM appendix A.3-A.5). */
#include "arch/x86/vcpu.h"
#include "arch/x86/vmx/vmcs.h"
#include "arch/x86/vmx/vmx_exit.h"
#include "arch/x86/hw/pte.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/msr.h"
#include "arch/x86/hw/regs.h"
#include "arch/x86/hw/vectors.h"
#include "arch/x86/hw/vmx_ctls.h"
#include "arch/x86/segments.h"
#include "arch/x86/virt.h"
#include "kernel/core/time.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/core/mm.h"
#include "kernel/core/percpu.h"
#include "kernel/lib/string.h"

/* The watchdog: a running vCPU leaves the guest at least this often, so a
 * stop request is seen even if the kick (an IPI) is lost or blocked. Under
 * Bochs a guest with interrupts off and an interrupt pending for it took no
 * external-interrupt exits at all; this bounds such cases. */
#define VMX_WATCHDOG_MS 10
#define AR_UNUSABLE     BIT(16)
#define CR0_CACHE_BITS  (CR0_CD | CR0_NW)

u32 vmcs_write_failures;
u32 vmcs_first_failed_field;

int vmx_enter(struct vcpu_regs *regs, int launched);
extern char vmx_exit_point[];

/* The SYSCALL MSRs are not in the VMCS. The hypervisor never executes SYSCALL
 * or SWAPGS and runs one vCPU per physical CPU, so the guest's values stay in
 * that CPU's MSRs; a copy here answers reads. */
static const u32 syscall_msr_index[] = {
    [VMSR_STAR] = MSR_STAR,
    [VMSR_LSTAR] = MSR_LSTAR,
    [VMSR_CSTAR] = MSR_CSTAR,
    [VMSR_SFMASK] = MSR_SFMASK,
    [VMSR_KERNEL_GS_BASE] = MSR_KERNEL_GS_BASE,
};

struct vmx_vcpu {
    u64 syscall_msr[VMSR_KERNEL_GS_BASE + 1];
    hpa_t vmcs_pa, io_pa, msr_pa;
    bool launched;
    bool window;  /* interrupt-window exiting requested */
    u32 proc;     /* current primary processor-based controls */
    u32 watchdog; /* preemption timer value for VMX_WATCHDOG_MS; 0: no timer */
    /* Shadow paging: the guest's CR3 and EFER (CR0 and CR4 are in the read
     * shadows), and a CR2 to load before the next entry (VM entries and
     * exits leave CR2 alone, so the guest's lives in the register). */
    bool shadow;
    u64 gcr3, gefer;
    bool cr2_pending;
    u64 cr2;
};

static u32 adjust(u32 msr_plain, u32 msr_true, u32 want)
{
    u64 cap = rdmsr((rdmsr(MSR_IA32_VMX_BASIC) & VMX_BASIC_TRUE_CTLS) ? msr_true : msr_plain);
    return (want | (u32)cap) & (u32)(cap >> 32);
}

static int vmx_cpu_enable(void)
{
    struct percpu *c = this_cpu();
    if (c->virt_enabled)
        return 0;
    /* The MSR is per core: each CPU's must allow VMXON (virt.c checked the boot CPU). */
    u64 fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK))
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FEATURE_CONTROL_VMX_OUTSIDE_SMX | FEATURE_CONTROL_LOCK);
    else if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX))
        return -ENODEV;
    hpa_t region;
    int err = mm_alloc(c->node, 1, 1, 0, &region, NULL);
    if (err)
        return err;
    *(u32 *)hpa_to_ptr(region) = virt.vmx_revision;
    /* CR0 and CR4 must satisfy the VMX fixed bits (appendix A.7, A.8). */
    write_cr0((read_cr0() | rdmsr(MSR_IA32_VMX_CR0_FIXED0)) & rdmsr(MSR_IA32_VMX_CR0_FIXED1));
    write_cr4((read_cr4() | CR4_VMXE | rdmsr(MSR_IA32_VMX_CR4_FIXED0)) & rdmsr(MSR_IA32_VMX_CR4_FIXED1));
    bool fail;
    __asm__ volatile("vmxon %1; setbe %0" : "=q"(fail) : "m"(region) : "cc", "memory");
    if (fail) {
        mm_release(region, 1);
        return -EIO;
    }
    c->virt_host_area = region;
    c->virt_enabled = true;
    return 0;
}

static bool vmptrld(hpa_t pa)
{
    bool fail;
    __asm__ volatile("vmptrld %1; setbe %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
    return !fail;
}

static void vmclear(hpa_t pa) { __asm__ volatile("vmclear %0" : : "m"(pa) : "cc", "memory"); }

/* Our segment attributes use the VMCB packing; VMX keeps the descriptor's
 * bits 55:52 at 15:12 and marks absent segments unusable. */
static u32 vmx_ar(u16 attrib)
{
    if (!(attrib & SEG_ATTR_P))
        return AR_UNUSABLE;
    return (attrib & 0xff) | ((u32)(attrib & 0xf00) << 4);
}

static void write_host_state(void)
{
    struct {
        u16 limit;
        u64 base;
    } __packed gdtr, idtr;
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
    vmcs_writenat(VMCS_HOST_CR0, read_cr0());
    vmcs_writenat(VMCS_HOST_CR3, read_cr3());
    vmcs_writenat(VMCS_HOST_CR4, read_cr4());
    vmcs_write16(VMCS_HOST_CS_SEL, SEL_CODE);
    vmcs_write16(VMCS_HOST_SS_SEL, SEL_DATA);
    vmcs_write16(VMCS_HOST_DS_SEL, SEL_DATA);
    vmcs_write16(VMCS_HOST_ES_SEL, SEL_DATA);
    vmcs_write16(VMCS_HOST_FS_SEL, 0);
    vmcs_write16(VMCS_HOST_GS_SEL, 0);
    vmcs_write16(VMCS_HOST_TR_SEL, SEL_TSS);
    vmcs_writenat(VMCS_HOST_FS_BASE, rdmsr(MSR_FS_BASE));
    vmcs_writenat(VMCS_HOST_GS_BASE, rdmsr(MSR_GS_BASE));
    vmcs_writenat(VMCS_HOST_TR_BASE, (u64)(uintptr_t)&this_cpu()->tables.tss);
    vmcs_writenat(VMCS_HOST_GDTR_BASE, gdtr.base);
    vmcs_writenat(VMCS_HOST_IDTR_BASE, idtr.base);
    vmcs_write32(VMCS_HOST_SYSENTER_CS, 0);
    vmcs_writenat(VMCS_HOST_SYSENTER_ESP, 0);
    vmcs_writenat(VMCS_HOST_SYSENTER_EIP, 0);
    vmcs_write64(VMCS_HOST_EFER, rdmsr(MSR_EFER));
    vmcs_write64(VMCS_HOST_PAT, rdmsr(MSR_IA32_PAT));
    vmcs_writenat(VMCS_HOST_RIP, (u64)(uintptr_t)vmx_exit_point);
}

static int vmx_create(struct vcpu *v)
{
    int node = this_cpu()->node;
    struct vmx_vcpu *x;
    hpa_t xpa, vmcs, io, msr;
    int err = mm_alloc(node, 1, 1, 0, &xpa, NULL);
    if (err)
        return err;
    x = hpa_to_ptr(xpa);
    if ((err = mm_alloc(node, 1, 1, 0, &vmcs, NULL)) < 0)
        goto free_x;
    if ((err = mm_alloc(node, 2, 1, 0, &io, NULL)) < 0)
        goto free_vmcs;
    if ((err = mm_alloc(node, 1, 1, 0, &msr, NULL)) < 0)
        goto free_io;
    memset(hpa_to_ptr(io), 0xff, 2 * PAGE_SIZE); /* every port exits */
    memset(hpa_to_ptr(msr), 0xff, PAGE_SIZE);    /* every MSR exits */
    *(u32 *)hpa_to_ptr(vmcs) = virt.vmx_revision;
    x->vmcs_pa = vmcs;
    x->io_pa = io;
    x->msr_pa = msr;
    vmclear(vmcs);
    if (!vmptrld(vmcs)) {
        err = -EIO;
        goto free_msr;
    }
    vmcs_write_failures = 0;
    u32 pin = adjust(MSR_IA32_VMX_PINBASED_CTLS, MSR_IA32_VMX_TRUE_PINBASED_CTLS,
                     VMX_PIN_EXTINT_EXITING | VMX_PIN_NMI_EXITING | VMX_PIN_PREEMPTION_TIMER);
    vmcs_write32(VMCS_PIN_CONTROLS, pin);
    if (pin & VMX_PIN_PREEMPTION_TIMER) {
        u64 ticks = (tsc_khz * VMX_WATCHDOG_MS) >> (rdmsr(MSR_IA32_VMX_MISC) & VMX_MISC_TIMER_RATE);
        x->watchdog = (u32)MIN(MAX(ticks, (u64)1), (u64)UINT32_MAX);
    }
    x->proc = adjust(MSR_IA32_VMX_PROCBASED_CTLS, MSR_IA32_VMX_TRUE_PROCBASED_CTLS,
                     VMX_PROC_HLT_EXITING | VMX_PROC_MWAIT_EXITING | VMX_PROC_MONITOR_EXITING |
                         VMX_PROC_USE_IO_BITMAPS | VMX_PROC_USE_MSR_BITMAPS | VMX_PROC_SECONDARY);
    vmcs_write32(VMCS_PROC_CONTROLS, x->proc);
    /* INVPCID runs in the guest as on hardware (it acts on the guest's own
     * VPID-tagged translations); without the control it would be #UD, which a
     * guest shown the CPUID bit (Linux flushes global pages with it) takes
     * for a bug. A CPU without the control gets the bit hidden instead. */
    u32 proc2 = adjust(MSR_IA32_VMX_PROCBASED_CTLS2, MSR_IA32_VMX_PROCBASED_CTLS2,
                       VMX_PROC2_EPT | VMX_PROC2_UNRESTRICTED | VMX_PROC2_INVPCID |
                           (virt.vmx_vpid ? VMX_PROC2_VPID : 0));
    vmcs_write32(VMCS_PROC_CONTROLS2, proc2);
    v->invpcid_ud = !(proc2 & VMX_PROC2_INVPCID);
    vmcs_write32(VMCS_EXIT_CONTROLS, adjust(MSR_IA32_VMX_EXIT_CTLS, MSR_IA32_VMX_TRUE_EXIT_CTLS,
                                            VMX_EXIT_CTL_HOST_64BIT | VMX_EXIT_CTL_SAVE_PAT | VMX_EXIT_CTL_LOAD_PAT |
                                                VMX_EXIT_CTL_SAVE_EFER | VMX_EXIT_CTL_LOAD_EFER));
    vmcs_write32(VMCS_ENTRY_CONTROLS, adjust(MSR_IA32_VMX_ENTRY_CTLS, MSR_IA32_VMX_TRUE_ENTRY_CTLS,
                                             VMX_ENTRY_CTL_LOAD_PAT | VMX_ENTRY_CTL_LOAD_EFER));
    vmcs_write32(VMCS_EXCEPTION_BITMAP, BIT(X86_EXC_MC)); /* #MC stays with the host */
    vmcs_write64(VMCS_IO_BITMAP_A, io);
    vmcs_write64(VMCS_IO_BITMAP_B, io + PAGE_SIZE);
    vmcs_write64(VMCS_MSR_BITMAP, msr);
    vmcs_write16(VMCS_VPID, v->asid ? v->asid : 1);
    vmcs_write64(VMCS_LINK_POINTER, ~0ULL);
    vmcs_write32(VMCS_CR3_TARGET_COUNT, 0);
    vmcs_write32(VMCS_EXIT_MSR_STORE_COUNT, 0);
    vmcs_write32(VMCS_EXIT_MSR_LOAD_COUNT, 0);
    vmcs_write32(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
    vmcs_write32(VMCS_ENTRY_INTR_INFO, 0);
    /* The guest may not clear NE or see VMXE: own those bits, show its values.
     * CD and NW too: VM entries and exits leave them alone (SDM 27.3.2.1,
     * 28.5.1), so a guest's MOV to CR0 would disable the host's caches on
     * this CPU, and the guest would read whatever the host had there. */
    vmcs_writenat(VMCS_CR0_MASK, (rdmsr(MSR_IA32_VMX_CR0_FIXED0) & ~(CR0_PE | CR0_PG)) | CR0_CACHE_BITS);
    vmcs_writenat(VMCS_CR4_MASK, rdmsr(MSR_IA32_VMX_CR4_FIXED0));
    vmcs_write64(VMCS_GUEST_PAT, PAT_DEFAULT);
    vmcs_write64(VMCS_GUEST_DEBUGCTL, 0);
    write_host_state();
    if (vmcs_write_failures) {
        log_err("vmx", "VMCS set-up: %u writes failed, first field %#x", vmcs_write_failures, vmcs_first_failed_field);
        err = -EIO;
        goto free_msr;
    }
    for (u32 m = VMSR_STAR; m <= VMSR_KERNEL_GS_BASE; m++)
        wrmsr(syscall_msr_index[m], 0);
    v->hw = x;
    v->hw_pa = xpa;
    return 0;

free_msr:
    mm_release(msr, 1);
free_io:
    mm_release(io, 2);
free_vmcs:
    vmclear(vmcs);
    mm_release(vmcs, 1);
free_x:
    mm_release(xpa, 1);
    return err;
}

static void vmx_destroy(struct vcpu *v)
{
    struct vmx_vcpu *x = v->hw;
    if (!x)
        return;
    vmclear(x->vmcs_pa);
    mm_release(x->msr_pa, 1);
    mm_release(x->io_pa, 2);
    mm_release(x->vmcs_pa, 1);
    mm_release(v->hw_pa, 1);
    v->hw = NULL;
}

/* CR0 as the guest runs with it: the VMX fixed bits (but PE and PG, which
 * unrestricted guest leaves to it) and the host's caching, whatever the guest
 * asked for (CD and NW are owned: its reads see its own values). With EPT
 * the guest's memory types come from its PAT and the EPT entries. */
static u64 hw_cr0(u64 guest)
{
    u64 fixed0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0) & ~(CR0_PE | CR0_PG);
    return ((guest & ~CR0_CACHE_BITS) | fixed0) & rdmsr(MSR_IA32_VMX_CR0_FIXED1);
}

#define WRITE_SEG(name, s)                                                                                             \
    do {                                                                                                               \
        vmcs_write16(VMCS_GUEST_##name##_SEL, (s).selector);                                                           \
        vmcs_write32(VMCS_GUEST_##name##_LIMIT, (s).limit);                                                            \
        vmcs_write32(VMCS_GUEST_##name##_AR, vmx_ar((s).attrib));                                                      \
        vmcs_writenat(VMCS_GUEST_##name##_BASE, (s).base);                                                             \
    } while (0)

static void vmx_load_state(struct vcpu *v, const struct vcpu_boot_state *st)
{
    struct vmx_vcpu *x = v->hw;
    if (!vmptrld(x->vmcs_pa))
        return;
    v->regs = st->regs;
    vmcs_writenat(VMCS_GUEST_CR0, hw_cr0(st->cr0));
    vmcs_writenat(VMCS_CR0_SHADOW, st->cr0);
    vmcs_writenat(VMCS_GUEST_CR3, st->cr3);
    vmcs_writenat(VMCS_GUEST_CR4, st->cr4 | rdmsr(MSR_IA32_VMX_CR4_FIXED0));
    vmcs_writenat(VMCS_CR4_SHADOW, st->cr4);
    vmcs_write64(VMCS_GUEST_EFER, st->efer);
    WRITE_SEG(CS, st->cs);
    WRITE_SEG(DS, st->ds);
    WRITE_SEG(ES, st->es);
    WRITE_SEG(FS, st->fs);
    WRITE_SEG(GS, st->gs);
    WRITE_SEG(SS, st->ss);
    WRITE_SEG(TR, st->tr);
    WRITE_SEG(LDTR, st->ldtr);
    vmcs_write32(VMCS_GUEST_GDTR_LIMIT, st->gdtr.limit);
    vmcs_writenat(VMCS_GUEST_GDTR_BASE, st->gdtr.base);
    vmcs_write32(VMCS_GUEST_IDTR_LIMIT, st->idtr.limit);
    vmcs_writenat(VMCS_GUEST_IDTR_BASE, st->idtr.base);
    vmcs_writenat(VMCS_GUEST_DR7, DR7_INIT);
    vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY, 0);
    vmcs_write32(VMCS_GUEST_ACTIVITY, 0);
    vmcs_writenat(VMCS_GUEST_PENDING_DBG, 0);
    vmcs_write32(VMCS_GUEST_SYSENTER_CS, 0);
    vmcs_writenat(VMCS_GUEST_SYSENTER_ESP, 0);
    vmcs_writenat(VMCS_GUEST_SYSENTER_EIP, 0);
    u32 entry = (u32)vmx_vmread(VMCS_ENTRY_CONTROLS);
    entry = (st->efer & EFER_LMA) ? entry | VMX_ENTRY_CTL_IA32E_GUEST : entry & ~VMX_ENTRY_CTL_IA32E_GUEST;
    vmcs_write32(VMCS_ENTRY_CONTROLS, entry);
    vmcs_write32(VMCS_ENTRY_INTR_INFO, 0);
}

/* A new root may reuse the pages of a freed partition's tables, and a VPID the
 * tag of an earlier vCPU on this CPU: drop every cached translation first. */
static void flush_all_contexts(u64 eptp)
{
    u64 cap = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
    struct {
        u64 a, b;
    } __aligned(16) desc = { eptp, 0 };
    if (cap & EPT_CAP_INVEPT)
        __asm__ volatile("invept %0, %1"
                         :
                         : "m"(desc), "r"((u64)((cap & EPT_CAP_INVEPT_ALL) ? 2 : 1))
                         : "cc", "memory");
    if (virt.vmx_vpid && (cap & VPID_CAP_INVVPID) && (cap & VPID_CAP_INVVPID_ALL)) {
        struct {
            u64 a, b;
        } __aligned(16) vdesc = { 0, 0 };
        __asm__ volatile("invvpid %0, %1" : : "m"(vdesc), "r"(2ULL) : "cc", "memory");
    }
}

/* EPT pointer (SDM 25.6.11): the root, the memory type of the paging
 * structures and the page-walk length - 1 (4 levels); accessed and dirty
 * flags (EPTP_AD) are not enabled. */
static u64 vmx_eptp(hpa_t root) { return root | EPTP_MT_WB | (4ULL - 1) << EPTP_WALK_SHIFT; }

static void vmx_set_slpt_root(struct vcpu *v, hpa_t root)
{
    if (!vmptrld(((struct vmx_vcpu *)v->hw)->vmcs_pa))
        return;
    vmcs_write64(VMCS_EPT_POINTER, vmx_eptp(root));
    flush_all_contexts(vmx_eptp(root));
}

static bool vmx_slpt_1g_pages(void) { return virt.vmx_ept_1g; }

/* Without EPT there is no unrestricted guest either: the guest always runs
 * with CR0.PE and CR0.PG set (the fixed bits), on the core's shadow tables. */
static int vmx_enable_shadow(struct vcpu *v)
{
    struct vmx_vcpu *x = v->hw;
    if (!vmptrld(x->vmcs_pa))
        return -EIO;
    vmcs_write_failures = 0;
    x->shadow = true;
    /* No VPID either: every entry and exit then flushes the guest's TLB
     * (SDM 28.3.3.1), so a changed shadow needs no INVVPID. */
    vmcs_write32(VMCS_PROC_CONTROLS2, adjust(MSR_IA32_VMX_PROCBASED_CTLS2, MSR_IA32_VMX_PROCBASED_CTLS2, 0));
    v->invpcid_ud = true; /* the core hides it under shadow paging anyway */
    x->proc |= VMX_PROC_INVLPG_EXITING | VMX_PROC_CR3_LOAD_EXITING | VMX_PROC_CR3_STORE_EXITING;
    x->proc = adjust(MSR_IA32_VMX_PROCBASED_CTLS, MSR_IA32_VMX_TRUE_PROCBASED_CTLS, x->proc);
    vmcs_write32(VMCS_PROC_CONTROLS, x->proc);
    vmcs_write32(VMCS_EXCEPTION_BITMAP, BIT(X86_EXC_MC) | BIT(X86_EXC_PF));
    vmcs_write32(VMCS_PF_ERROR_MASK, 0); /* every #PF exits */
    vmcs_write32(VMCS_PF_ERROR_MATCH, 0);
    /* Every CR0 and CR4 bit is the hypervisor's: writes exit, reads see the shadows. */
    vmcs_writenat(VMCS_CR0_MASK, ~0ULL);
    vmcs_writenat(VMCS_CR4_MASK, ~0ULL);
    if (vmcs_write_failures) {
        log_err("vmx", "shadow paging set-up: %u VMCS writes failed, first field %#x", vmcs_write_failures,
                vmcs_first_failed_field);
        return -EIO;
    }
    if (!(x->proc & VMX_PROC_CR3_LOAD_EXITING) || !(x->proc & VMX_PROC_INVLPG_EXITING)) {
        log_err("vmx", "shadow paging needs CR3-load and INVLPG exiting, which this CPU does not allow");
        return -ENOTSUP;
    }
    return 0;
}

static void vmx_set_paging(struct vcpu *v, const struct vcpu_paging *p)
{
    struct vmx_vcpu *x = v->hw;
    if (!vmptrld(x->vmcs_pa))
        return;
    /* Real mode under shadow paging (an AP's start-up): VT-x has no paged
     * real mode, so while CR0.PE is clear the vCPU runs the guest-physical
     * map with EPT and unrestricted guest, paging off, as under nested
     * paging; CR0 stays owned, so setting PE exits and comes back here. */
    bool real = !(p->hw_cr0 & CR0_PE) && p->slpt_root && x->shadow;
    u64 fixed0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0);
    u32 proc2 = real ? VMX_PROC2_EPT | VMX_PROC2_UNRESTRICTED : 0;
    vmcs_write32(VMCS_PROC_CONTROLS2, adjust(MSR_IA32_VMX_PROCBASED_CTLS2, MSR_IA32_VMX_PROCBASED_CTLS2, proc2));
    if (real) {
        fixed0 &= ~(u64)(CR0_PE | CR0_PG); /* SDM 26.3.1.1: not fixed under unrestricted guest */
        vmcs_write64(VMCS_EPT_POINTER, vmx_eptp(p->slpt_root));
        flush_all_contexts(vmx_eptp(p->slpt_root));
    }
    u32 cs_ar = vmcs_read32(VMCS_GUEST_CS_AR);
    if (!real && x->shadow && !(cs_ar & SEG_TYPE_CODE)) {
        /* Out of real mode (MOV to CR0 set PE): until its far jump the guest
         * still runs on the real-mode CS, which unrestricted guest let be a
         * data type (the CPU loads it so); a protected-mode entry needs a
         * code type (SDM 26.3.1.2). Execute/read, accessed, as it acts. */
        vmcs_write32(VMCS_GUEST_CS_AR, (cs_ar & ~SEG_ATTR_TYPE_MASK) | SEG_TYPE_CODE_RX | SEG_TYPE_ACCESSED);
    }
    u64 hw_cr0 = real ? p->hw_cr0 & ~(u64)CR0_PG : p->hw_cr0;
    vmcs_writenat(VMCS_GUEST_CR0, (hw_cr0 | fixed0) & rdmsr(MSR_IA32_VMX_CR0_FIXED1));
    vmcs_writenat(VMCS_CR0_SHADOW, p->cr0);
    vmcs_writenat(VMCS_GUEST_CR3, p->hw_cr3);
    vmcs_writenat(VMCS_GUEST_CR4, (p->hw_cr4 | rdmsr(MSR_IA32_VMX_CR4_FIXED0)) & rdmsr(MSR_IA32_VMX_CR4_FIXED1));
    vmcs_writenat(VMCS_CR4_SHADOW, p->cr4);
    vmcs_write64(VMCS_GUEST_EFER, p->hw_efer);
    u32 entry = vmcs_read32(VMCS_ENTRY_CONTROLS);
    vmcs_write32(VMCS_ENTRY_CONTROLS,
                 (p->hw_efer & EFER_LMA) ? entry | VMX_ENTRY_CTL_IA32E_GUEST : entry & ~VMX_ENTRY_CTL_IA32E_GUEST);
    x->gcr3 = p->cr3;
    x->gefer = p->efer;
}

/* The exit fields vmx_translate_exit() reads. Those only some exits define are
 * read for those exits only, as before the translation moved to vmx_exit.c. */
static void read_exit_raw(const struct vcpu *v, struct vmx_exit_raw *raw)
{
    memset(raw, 0, sizeof(*raw));
    raw->reason = vmcs_read32(VMCS_EXIT_REASON);
    raw->qualification = vmcs_readnat(VMCS_EXIT_QUALIFICATION);
    raw->insn_len = vmcs_read32(VMCS_EXIT_INSN_LEN);
    raw->rcx = v->regs.gpr[GPR_RCX];
    if (raw->reason & VMX_EXIT_ENTRY_FAILED)
        return;
    switch (raw->reason & VMX_EXIT_BASIC_MASK) {
    case VMX_EXIT_EXCEPTION_NMI:
        raw->intr_info = vmcs_read32(VMCS_EXIT_INTR_INFO);
        raw->intr_error = vmcs_read32(VMCS_EXIT_INTR_ERROR);
        break;
    case VMX_EXIT_EPT_VIOLATION: raw->guest_phys = vmcs_read64(VMCS_GUEST_PHYSICAL_ADDRESS); break;
    default: break;
    }
}

static void set_ia32e(bool on)
{
    u32 entry = vmcs_read32(VMCS_ENTRY_CONTROLS);
    vmcs_write32(VMCS_ENTRY_CONTROLS, on ? entry | VMX_ENTRY_CTL_IA32E_GUEST : entry & ~VMX_ENTRY_CTL_IA32E_GUEST);
}

/* CR0 or CR4 as the guest reads it: the bits VT-x owns (the guest/host mask)
 * from the read shadow, the others from the register. A MOV to CR0/CR4 that
 * changes only unowned bits does not exit (SDM 26.3, 25.6.6), so the shadow
 * alone misses them: Linux sets CR4.OSXSAVE, PAE and PGE that way. Under
 * shadow paging the mask is all ones and this is the shadow. */
static u64 guest_cr_view(u64 real, u64 shadow, u64 mask) { return (real & ~mask) | (shadow & mask); }

/* MOV to CR0/CR4 exits only because VT-x owns some bits (CR0.NE, CR4.VMXE, the
 * fixed bits): a VT-x artefact the core never sees. The guest's value goes to
 * the read shadow, the real register gets the fixed bits; a CR0.PG change with
 * EFER.LME set switches long mode the way the CPU would (SDM Vol. 3A 10.8.5).
 * e is the exit as vmx_translate_exit() gave it (VMX_ROUTE_MOV_TO_CR).
 * Returns false for what the core must handle (it stops the partition). */
static int vmx_inject(struct vcpu *v, const struct vcpu_event *ev);

static bool emulate_cr_write(struct vcpu *v, const struct vcpu_exit *e)
{
    u32 cr = e->cr.cr;
    if (!e->cr.write || e->cr.clts || e->cr.gpr < 0)
        return false;
    u64 val = v->regs.gpr[e->cr.gpr];
    if (cr == 0) {
        u64 old = guest_cr_view(vmcs_readnat(VMCS_GUEST_CR0), vmcs_readnat(VMCS_CR0_SHADOW),
                                vmcs_readnat(VMCS_CR0_MASK));
        if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)) || ((val & CR0_NW) && !(val & CR0_CD))) {
            /* What the CPU does with such a value (SDM Vol. 3A 2.5): #GP(0),
             * RIP and CR0 unchanged; refused only if an event is already queued. */
            const struct vcpu_event gp = { .type = VEVENT_EXCEPTION, .vector = X86_EXC_GP, .has_error = true };
            return vmx_inject(v, &gp) == 0;
        }
        u64 efer = vmcs_read64(VMCS_GUEST_EFER);
        if ((val ^ old) & CR0_PG && (efer & EFER_LME)) {
            efer = (val & CR0_PG) ? efer | EFER_LMA : efer & ~EFER_LMA;
            vmcs_write64(VMCS_GUEST_EFER, efer);
            set_ia32e(efer & EFER_LMA);
        }
        vmcs_writenat(VMCS_GUEST_CR0, hw_cr0(val));
        vmcs_writenat(VMCS_CR0_SHADOW, val);
    } else if (cr == 4) {
        if (val & CR4_VMXE)
            return false;
        vmcs_writenat(VMCS_GUEST_CR4, (val | rdmsr(MSR_IA32_VMX_CR4_FIXED0)) & rdmsr(MSR_IA32_VMX_CR4_FIXED1));
        vmcs_writenat(VMCS_CR4_SHADOW, val);
    } else if (cr == 3) {
        vmcs_writenat(VMCS_GUEST_CR3, val);
    } else {
        return false;
    }
    /* Completed, as vmx_advance_rip() would: an STI or MOV SS shadow it ran
     * in ends with it (KVM's skip_emulated_instruction() does the same). */
    v->regs.rip += e->insn_len;
    vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY, vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) & ~3u);
    return true;
}

static int vmx_run(struct vcpu *v, struct vcpu_exit *e)
{
    struct vmx_vcpu *x = v->hw;
    if (!this_cpu()->virt_enabled || !vmptrld(x->vmcs_pa))
        return -ENODEV;
again:
    if (x->watchdog)
        vmcs_write32(VMCS_PREEMPTION_TIMER, x->watchdog);
    vmcs_writenat(VMCS_GUEST_RSP, v->regs.gpr[GPR_RSP]);
    vmcs_writenat(VMCS_GUEST_RIP, v->regs.rip);
    vmcs_writenat(VMCS_GUEST_RFLAGS, v->regs.rflags);
    /* Interrupts stay off from here to the exit; a pending one causes an
     * external-interrupt exit and is taken by the host once they are on again. */
    u64 flags = irq_save();
    if (x->cr2_pending) {
        write_cr2(x->cr2);
        x->cr2_pending = false;
    }
    int failed = vmx_enter(&v->regs, x->launched);
    irq_restore(flags);
    if (failed) {
        log_err("vmx", "VM entry failed: VM-instruction error %u", vmcs_read32(VMCS_INSN_ERROR));
        memset(e, 0, sizeof(*e));
        e->reason = VEXIT_INVALID_STATE;
        e->vendor_code = vmcs_read32(VMCS_INSN_ERROR);
        return 0;
    }
    x->launched = true;
    v->regs.gpr[GPR_RSP] = vmcs_readnat(VMCS_GUEST_RSP);
    v->regs.rip = vmcs_readnat(VMCS_GUEST_RIP);
    v->regs.rflags = vmcs_readnat(VMCS_GUEST_RFLAGS);
    /* An event cut short by the exit is delivered again on the next entry
     * (vmx_reinjection() says with what). */
    u32 idt = vmcs_read32(VMCS_IDT_VECTORING_INFO);
    struct vmx_entry_event re = { 0, 0, 0 };
    if (idt & VMX_INTR_VALID)
        re = vmx_reinjection(idt, (idt & VMX_INTR_ERR_VALID) ? vmcs_read32(VMCS_IDT_VECTORING_ERROR) : 0,
                             vmx_intr_type_soft(idt) ? vmcs_read32(VMCS_EXIT_INSN_LEN) : 0);
    vmcs_write32(VMCS_ENTRY_INTR_INFO, re.info);
    if (re.info & VMX_INTR_ERR_VALID)
        vmcs_write32(VMCS_ENTRY_EXCEPTION_ERROR, re.error);
    if (vmx_intr_type_soft(re.info))
        vmcs_write32(VMCS_ENTRY_INSN_LEN, re.insn_len);
    struct vmx_exit_raw raw;
    read_exit_raw(v, &raw);
    if (vmx_translate_exit(&raw, e) == VMX_ROUTE_MOV_TO_CR && !x->shadow && emulate_cr_write(v, e)) {
        v->stats.exits++;
        v->stats.cr_emulated++;
        vmcs_writenat(VMCS_GUEST_RIP, v->regs.rip);
        goto again;
    }
    v->stats.exits++;
    v->stats.by_reason[e->reason]++;
    return 0;
}

static void vmx_advance_rip(struct vcpu *v, u64 len)
{
    v->regs.rip += len;
    if (vmptrld(((struct vmx_vcpu *)v->hw)->vmcs_pa))
        vmcs_write32(VMCS_GUEST_INTERRUPTIBILITY, vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) & ~3u);
}

static int vmx_inject(struct vcpu *v, const struct vcpu_event *ev)
{
    if (!vmptrld(((struct vmx_vcpu *)v->hw)->vmcs_pa))
        return -EIO;
    if (vmcs_read32(VMCS_ENTRY_INTR_INFO) & VMX_INTR_VALID)
        return -EBUSY;
    u32 type = ev->type == VEVENT_NMI         ? VMX_INTR_TYPE_NMI
               : ev->type == VEVENT_EXCEPTION ? VMX_INTR_TYPE_HWEXC
                                              : VMX_INTR_TYPE_EXT;
    u32 info = ev->vector | type | VMX_INTR_VALID;
    if (ev->type == VEVENT_EXCEPTION && ev->vector == X86_EXC_PF) {
        ((struct vmx_vcpu *)v->hw)->cr2 = ev->cr2;
        ((struct vmx_vcpu *)v->hw)->cr2_pending = true;
    }
    if (ev->type == VEVENT_EXCEPTION && ev->has_error) {
        info |= VMX_INTR_ERR_VALID;
        vmcs_write32(VMCS_ENTRY_EXCEPTION_ERROR, ev->error);
    }
    vmcs_write32(VMCS_ENTRY_INTR_INFO, info);
    return 0;
}

static bool vmx_take_pending(struct vcpu *v, struct vcpu_event *ev)
{
    if (!vmptrld(((struct vmx_vcpu *)v->hw)->vmcs_pa))
        return false;
    u32 info = vmcs_read32(VMCS_ENTRY_INTR_INFO);
    if (!(info & VMX_INTR_VALID))
        return false;
    vmcs_write32(VMCS_ENTRY_INTR_INFO, 0);
    u32 type = info & VMX_INTR_TYPE_MASK;
    *ev = (struct vcpu_event){
        .type = type == VMX_INTR_TYPE_EXT   ? VEVENT_EXTINT
                : type == VMX_INTR_TYPE_NMI ? VEVENT_NMI
                                            : VEVENT_EXCEPTION,
        .vector = (u8)info,
        .has_error = (info & VMX_INTR_ERR_VALID) != 0,
        .error = (info & VMX_INTR_ERR_VALID) ? vmcs_read32(VMCS_ENTRY_EXCEPTION_ERROR) : 0,
    };
    return true;
}

static bool vmx_interruptible(struct vcpu *v)
{
    if (!vmptrld(((struct vmx_vcpu *)v->hw)->vmcs_pa))
        return false;
    return (v->regs.rflags & RFLAGS_IF) && !(vmcs_read32(VMCS_GUEST_INTERRUPTIBILITY) & 3) &&
           !(vmcs_read32(VMCS_ENTRY_INTR_INFO) & VMX_INTR_VALID);
}

static void vmx_want_interrupt_window(struct vcpu *v, bool on)
{
    struct vmx_vcpu *x = v->hw;
    if (!vmptrld(x->vmcs_pa))
        return;
    x->proc = on ? x->proc | VMX_PROC_INTR_WINDOW : x->proc & ~VMX_PROC_INTR_WINDOW;
    vmcs_write32(VMCS_PROC_CONTROLS, x->proc);
}

static u64 vmx_get_cr(struct vcpu *v, int cr)
{
    if (!vmptrld(((struct vmx_vcpu *)v->hw)->vmcs_pa))
        return 0;
    switch (cr) {
    case 0:
        return guest_cr_view(vmcs_readnat(VMCS_GUEST_CR0), vmcs_readnat(VMCS_CR0_SHADOW), vmcs_readnat(VMCS_CR0_MASK));
    case 3: return ((struct vmx_vcpu *)v->hw)->shadow ? ((struct vmx_vcpu *)v->hw)->gcr3 : vmcs_readnat(VMCS_GUEST_CR3);
    case 4:
        return guest_cr_view(vmcs_readnat(VMCS_GUEST_CR4), vmcs_readnat(VMCS_CR4_SHADOW), vmcs_readnat(VMCS_CR4_MASK));
    default: return 0;
    }
}

static u64 vmx_get_efer(struct vcpu *v)
{
    if (((struct vmx_vcpu *)v->hw)->shadow)
        return ((struct vmx_vcpu *)v->hw)->gefer;
    return vmptrld(((struct vmx_vcpu *)v->hw)->vmcs_pa) ? vmcs_read64(VMCS_GUEST_EFER) : 0;
}

static u8 vmx_get_cpl(struct vcpu *v)
{
    return vmptrld(((struct vmx_vcpu *)v->hw)->vmcs_pa) ? (vmcs_read32(VMCS_GUEST_SS_AR) >> 5) & 3 : 0;
}

#define SEG_CASE(name, out)                                                                                            \
    do {                                                                                                               \
        (out)->selector = vmcs_read16(VMCS_GUEST_##name##_SEL);                                                        \
        ar = vmcs_read32(VMCS_GUEST_##name##_AR);                                                                      \
        (out)->limit = vmcs_read32(VMCS_GUEST_##name##_LIMIT);                                                         \
        (out)->base = vmcs_readnat(VMCS_GUEST_##name##_BASE);                                                          \
    } while (0)

static void vmx_get_segment(struct vcpu *v, enum vcpu_seg_reg which, struct vcpu_segment *out)
{
    memset(out, 0, sizeof(*out));
    if (!vmptrld(((struct vmx_vcpu *)v->hw)->vmcs_pa))
        return;
    u32 ar;
    switch (which) {
    case VSEG_ES: SEG_CASE(ES, out); break;
    case VSEG_CS: SEG_CASE(CS, out); break;
    case VSEG_SS: SEG_CASE(SS, out); break;
    case VSEG_DS: SEG_CASE(DS, out); break;
    case VSEG_FS: SEG_CASE(FS, out); break;
    default: SEG_CASE(GS, out); break;
    }
    /* Back to the VMCB packing: bits 15:12 to 11:8; unusable reads as not present. */
    out->attrib = (ar & AR_UNUSABLE) ? 0 : (u16)((ar & 0xff) | ((ar >> 4) & 0xf00));
}

static u64 vmx_get_msr(struct vcpu *v, enum vcpu_msr m)
{
    struct vmx_vcpu *x = v->hw;
    /* The guest's SWAPGS exchanges GS.base and IA32_KERNEL_GS_BASE in the
     * hardware without an exit, so the value written last may be stale: the
     * MSR itself holds the guest's (the host never uses it, and this runs
     * on the vCPU's own CPU, from its exit handler). */
    if (m == VMSR_KERNEL_GS_BASE)
        return x->syscall_msr[m] = rdmsr(MSR_KERNEL_GS_BASE);
    if (m >= VMSR_STAR && m <= VMSR_KERNEL_GS_BASE)
        return x->syscall_msr[m];
    if (!vmptrld(x->vmcs_pa))
        return 0;
    switch (m) {
    case VMSR_EFER: return x->shadow ? x->gefer : vmcs_read64(VMCS_GUEST_EFER);
    case VMSR_PAT: return vmcs_read64(VMCS_GUEST_PAT);
    case VMSR_SYSENTER_CS: return vmcs_read32(VMCS_GUEST_SYSENTER_CS);
    case VMSR_SYSENTER_ESP: return vmcs_readnat(VMCS_GUEST_SYSENTER_ESP);
    case VMSR_SYSENTER_EIP: return vmcs_readnat(VMCS_GUEST_SYSENTER_EIP);
    case VMSR_FS_BASE: return vmcs_readnat(VMCS_GUEST_FS_BASE);
    case VMSR_GS_BASE: return vmcs_readnat(VMCS_GUEST_GS_BASE);
    default: return 0;
    }
}

static void vmx_set_msr(struct vcpu *v, enum vcpu_msr m, u64 value)
{
    struct vmx_vcpu *x = v->hw;
    if (m >= VMSR_STAR && m <= VMSR_KERNEL_GS_BASE) {
        x->syscall_msr[m] = value;
        wrmsr(syscall_msr_index[m], value);
        return;
    }
    if (!vmptrld(x->vmcs_pa))
        return;
    switch (m) {
    case VMSR_EFER: {
        if (x->shadow) /* the core's shadow paging sets both views */
            break;
        u64 lma = vmcs_read64(VMCS_GUEST_EFER) & EFER_LMA;
        vmcs_write64(VMCS_GUEST_EFER, (value & ~EFER_LMA) | lma);
        break;
    }
    case VMSR_PAT: vmcs_write64(VMCS_GUEST_PAT, value); break;
    case VMSR_SYSENTER_CS: vmcs_write32(VMCS_GUEST_SYSENTER_CS, value); break;
    case VMSR_SYSENTER_ESP: vmcs_writenat(VMCS_GUEST_SYSENTER_ESP, value); break;
    case VMSR_SYSENTER_EIP: vmcs_writenat(VMCS_GUEST_SYSENTER_EIP, value); break;
    case VMSR_FS_BASE: vmcs_writenat(VMCS_GUEST_FS_BASE, value); break;
    case VMSR_GS_BASE: vmcs_writenat(VMCS_GUEST_GS_BASE, value); break;
    default: break;
    }
}

const struct vcpu_backend vmx_backend = {
    .name = "vmx",
    .vendor = VCPU_VENDOR_INTEL,
    .slpt_format = SLPT_EPT,
    .slpt_name = "EPT",
    .slpt_fault_name = "EPT violation",
    .shadow_real_mode = false,
    .slpt_1g_pages = vmx_slpt_1g_pages,
    .cpu_enable = vmx_cpu_enable,
    .create = vmx_create,
    .destroy = vmx_destroy,
    .load_state = vmx_load_state,
    .set_slpt_root = vmx_set_slpt_root,
    .enable_shadow = vmx_enable_shadow,
    .set_paging = vmx_set_paging,
    .run = vmx_run,
    .advance_rip = vmx_advance_rip,
    .inject = vmx_inject,
    .take_pending = vmx_take_pending,
    .interruptible = vmx_interruptible,
    .want_interrupt_window = vmx_want_interrupt_window,
    .get_cr = vmx_get_cr,
    .get_efer = vmx_get_efer,
    .get_cpl = vmx_get_cpl,
    .get_segment = vmx_get_segment,
    .get_msr = vmx_get_msr,
    .set_msr = vmx_set_msr,
};
