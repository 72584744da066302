/* Guest RDMSR/WRMSR. Every MSR exits; only the ones below have a meaning for a
 * guest, everything else is #GP (as a CPU that lacks the MSR would do), which
 * is what keeps a partition from touching the host's configuration
 * (IA32_FEATURE_CONTROL, SYSENTER of another guest, power management...). */
#include "vmm/exits.h"
#include "vmm/shadow_vcpu.h"
#include "arch/x86/hw/cpu.h"
#include "kernel/core/log.h"

#define MSR_TSC            0x10u
#define MSR_APIC_BASE      0x1bu
#define MSR_MTRRCAP        0xfeu
#define MSR_SYSENTER_CS    0x174u
#define MSR_SYSENTER_ESP   0x175u
#define MSR_SYSENTER_EIP   0x176u
#define MSR_MISC_ENABLE    0x1a0u
#define MSR_PAT            0x277u
#define MSR_MTRR_DEF_TYPE  0x2ffu
#define MSR_STAR           0xc0000081u
#define MSR_LSTAR          0xc0000082u
#define MSR_CSTAR          0xc0000083u
#define MSR_SFMASK         0xc0000084u
#define MSR_TSC_AUX        0xc0000103u

#define APIC_BASE_BSP      BIT(8)
#define APIC_BASE_ENABLE   BIT(11)
#define EFER_ALLOWED       (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)

static bool canonical(u64 a)
{
    u64 top = a >> 47;
    return top == 0 || top == 0x1ffff;
}

/* Each PAT entry must be a defined memory type: 0, 1, 4, 5, 6 or 7. */
static bool pat_ok(u64 v)
{
    for (int i = 0; i < 8; i++) {
        u8 t = (u8)(v >> (i * 8));
        if (t > 7 || t == 2 || t == 3)
            return false;
    }
    return true;
}

/* The MSRs whose values the backend keeps (vcpu.h enum vcpu_msr). */
static const struct { u32 index; enum vcpu_msr m; } state_msrs[] = {
    { MSR_EFER, VMSR_EFER }, { MSR_PAT, VMSR_PAT }, { MSR_STAR, VMSR_STAR }, { MSR_LSTAR, VMSR_LSTAR },
    { MSR_CSTAR, VMSR_CSTAR }, { MSR_SFMASK, VMSR_SFMASK }, { MSR_KERNEL_GS_BASE, VMSR_KERNEL_GS_BASE },
    { MSR_SYSENTER_CS, VMSR_SYSENTER_CS }, { MSR_SYSENTER_ESP, VMSR_SYSENTER_ESP },
    { MSR_SYSENTER_EIP, VMSR_SYSENTER_EIP }, { MSR_FS_BASE, VMSR_FS_BASE }, { MSR_GS_BASE, VMSR_GS_BASE },
};

static bool state_msr(u32 index, enum vcpu_msr *m)
{
    for (u32 i = 0; i < ARRAY_SIZE(state_msrs); i++)
        if (state_msrs[i].index == index) {
            *m = state_msrs[i].m;
            return true;
        }
    return false;
}

static bool value_ok(enum vcpu_msr m, u64 v)
{
    switch (m) {
    case VMSR_EFER:       return !(v & ~EFER_ALLOWED);
    case VMSR_PAT:        return pat_ok(v);
    case VMSR_SYSENTER_CS: return v <= 0xffff;
    case VMSR_STAR:       return true;
    case VMSR_SFMASK:     return v <= 0xffffffffULL;
    default:              return canonical(v);   /* addresses */
    }
}

/* 0 and *val, or false for #GP. */
static bool do_read(struct vm_vcpu *vc, u32 index, u64 *val)
{
    enum vcpu_msr m;
    if (state_msr(index, &m)) {
        *val = vcpu_backend->get_msr(&vc->v, m);
        return true;
    }
    switch (index) {
    case MSR_TSC:
        *val = rdtsc();
        return true;
    case MSR_APIC_BASE:
        *val = LAYOUT_APIC_PAGE | APIC_BASE_ENABLE | (vc->v.index == 0 ? APIC_BASE_BSP : 0);
        return true;
    case MSR_MTRRCAP:          /* no variable or fixed MTRRs, no WC: memory types come from PAT */
    case MSR_MTRR_DEF_TYPE:    /* MTRRs disabled */
    case MSR_TSC_AUX:
        *val = 0;
        return true;
    case MSR_MISC_ENABLE:      /* fast strings only */
        *val = BIT(0);
        return true;
    default:
        return false;
    }
}

static bool do_write(struct vm_vcpu *vc, u32 index, u64 val)
{
    enum vcpu_msr m;
    if (state_msr(index, &m)) {
        if (!value_ok(m, val))
            return false;
        if (m == VMSR_EFER && vc->part->shadowed)
            return shadow_write_efer(vc, val);
        vcpu_backend->set_msr(&vc->v, m, val);
        return true;
    }
    switch (index) {
    case MSR_APIC_BASE: {
        /* The APIC stays enabled at its default address, in xAPIC mode. */
        u64 want = LAYOUT_APIC_PAGE | APIC_BASE_ENABLE | (vc->v.index == 0 ? APIC_BASE_BSP : 0);
        return val == want;
    }
    case MSR_MTRR_DEF_TYPE:
        return val == 0;
    case MSR_MISC_ENABLE:
        return val == BIT(0);
    default:
        return false;
    }
}

void handle_msr(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    u64 *r = vc->v.regs.gpr;
    u32 index = e->msr.index;
    bool ok;
    if (e->msr.write) {
        ok = do_write(vc, index, (r[GPR_RDX] << 32) | (u32)r[GPR_RAX]);
    } else {
        u64 val = 0;
        ok = do_read(vc, index, &val);
        if (ok) {
            r[GPR_RAX] = (u32)val;
            r[GPR_RDX] = val >> 32;
        }
    }
    if (!ok) {
        if (vc->stats.msr_gp++ < 4)
            log_info("part", "%s: vCPU %u: %s of MSR %#x refused with #GP", vc->part->cfg->name,
                     vc->v.index, e->msr.write ? "write" : "read", index);
        inject_gp(vc);
        return;
    }
    vcpu_backend->advance_rip(&vc->v, e->insn_len ? e->insn_len : 2);
}
