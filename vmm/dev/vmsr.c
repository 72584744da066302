/* The guest's own MSRs, as a device: the state MSRs whose values the backend
 * keeps (EFER, PAT, SYSENTER, FS/GS base, the SYSCALL MSRs, KERNEL_GS_BASE),
 * checked here before they are set, and the few others a guest may read
 * (TSC, MTRR capabilities and default type, MISC_ENABLE, TSC_AUX, the
 * microcode revision, AMD's C1E status). Every MSR
 * exits; an MSR nobody claims is #GP (vmm/exits.c), as a CPU that lacks it
 * would do, which keeps a partition away from the host's configuration
 * (IA32_FEATURE_CONTROL, power management, ...). The value checks are pure
 * functions (vmsr.h), unit-tested. */
#include "vmm/dev/vmsr.h"
#include "vmm/exits.h"
#include "vmm/vdev.h"
#include "vmm/shadow_vcpu.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/pte.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"

#define EFER_ALLOWED (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)

/* The MTRR default type each vCPU's guest last wrote: it changes nothing (the
 * memory is write-back in the second-level tables, and the guest's PAT picks
 * its own types), but Linux turns MTRRs off and on again around every PAT
 * update (cache_disable/cache_enable) and reads back what it wrote. */
static u64 mtrr_def_type[CONFIG_MAX_PARTITIONS][CONFIG_MAX_PART_CPUS];

bool vmsr_mtrr_def_type_ok(u64 v)
{
    u64 type = v & MTRR_DEF_TYPE_MASK;
    /* No fixed-range MTRRs (MTRRCAP.FIX is 0), so FE stays clear; the rest
     * of bits 63:12 and 9:8 are reserved. */
    if (v & ~(MTRR_DEF_TYPE_MASK | MTRR_DEF_TYPE_E))
        return false;
    return type == PAT_UC || type == PAT_WC || type == PAT_WT || type == PAT_WP || type == PAT_WB;
}

/* Bits 63:47 all equal: a 4-level address sign-extended from bit 47. */
static bool canonical(u64 a)
{
    u64 top = a >> (PT_ADDR_BITS_4LEVEL - 1);
    return top == 0 || top == (~0ULL >> (PT_ADDR_BITS_4LEVEL - 1));
}

/* Each PAT entry must be a defined memory type: UC, WC, WT, WP, WB or UC-. */
static bool pat_ok(u64 v)
{
    for (int i = 0; i < 8; i++) {
        u8 t = (u8)(v >> (i * 8));
        if (t != PAT_UC && t != PAT_WC && t != PAT_WT && t != PAT_WP && t != PAT_WB && t != PAT_UC_MINUS)
            return false;
    }
    return true;
}

/* The MSRs whose values the backend keeps (vcpu.h enum vcpu_msr). */
static const struct {
    u32 index;
    enum vcpu_msr m;
} state_msrs[] = {
    { MSR_EFER, VMSR_EFER },
    { MSR_IA32_PAT, VMSR_PAT },
    { MSR_STAR, VMSR_STAR },
    { MSR_LSTAR, VMSR_LSTAR },
    { MSR_CSTAR, VMSR_CSTAR },
    { MSR_SFMASK, VMSR_SFMASK },
    { MSR_KERNEL_GS_BASE, VMSR_KERNEL_GS_BASE },
    { MSR_IA32_SYSENTER_CS, VMSR_SYSENTER_CS },
    { MSR_IA32_SYSENTER_ESP, VMSR_SYSENTER_ESP },
    { MSR_IA32_SYSENTER_EIP, VMSR_SYSENTER_EIP },
    { MSR_FS_BASE, VMSR_FS_BASE },
    { MSR_GS_BASE, VMSR_GS_BASE },
};

bool vmsr_state_index(u32 index, enum vcpu_msr *m)
{
    for (u32 i = 0; i < ARRAY_SIZE(state_msrs); i++)
        if (state_msrs[i].index == index) {
            *m = state_msrs[i].m;
            return true;
        }
    return false;
}

bool vmsr_value_ok(enum vcpu_msr m, u64 v)
{
    switch (m) {
    case VMSR_EFER: return !(v & ~EFER_ALLOWED);
    case VMSR_PAT: return pat_ok(v);
    case VMSR_SYSENTER_CS: return v <= 0xffff;
    case VMSR_STAR: return true;
    case VMSR_SFMASK: return v <= 0xffffffffULL;
    default: return canonical(v); /* addresses */
    }
}

static enum vdev_result state_access(struct vm_vcpu *vc, void *dev, u32 index, bool write, u64 *val)
{
    (void)dev;
    enum vcpu_msr m;
    if (!vmsr_state_index(index, &m))
        return VDEV_UNCLAIMED;
    if (!write) {
        *val = vcpu_backend->get_msr(&vc->v, m);
        return VDEV_DONE;
    }
    if (!vmsr_value_ok(m, *val))
        return VDEV_GP;
    if (m == VMSR_EFER && vc->part->shadowed)
        return shadow_write_efer(vc, *val) ? VDEV_DONE : VDEV_GP;
    vcpu_backend->set_msr(&vc->v, m, *val);
    return VDEV_DONE;
}

static enum vdev_result mtrr_def_access(struct vm_vcpu *vc, bool write, u64 *val)
{
    u64 *slot = &mtrr_def_type[vc->part->id][vc->v.index];
    if (!write) {
        *val = *slot;
        return VDEV_DONE;
    }
    if (!vmsr_mtrr_def_type_ok(*val))
        return VDEV_GP;
    *slot = *val;
    return VDEV_DONE;
}

/* The read-mostly ones: fixed values, and writes only of the value they hold. */
static enum vdev_result other_access(struct vm_vcpu *vc, void *dev, u32 index, bool write, u64 *val)
{
    (void)dev;
    u64 v;
    switch (index) {
    case MSR_IA32_TSC:
        if (write)
            return VDEV_GP;
        *val = rdtsc();
        return VDEV_DONE;
    case MSR_IA32_MTRRCAP: /* no variable or fixed MTRRs, no WC: memory types come from PAT */
        if (write)
            return VDEV_GP;
        *val = 0;
        return VDEV_DONE;
    case MSR_TSC_AUX:
        if (write)
            return VDEV_GP;
        *val = 0;
        return VDEV_DONE;
    case MSR_IA32_MTRR_DEF_TYPE: return mtrr_def_access(vc, write, val);
    /* No microcode to report; Intel's protocol writes 0 before CPUID (SDM
     * Vol. 3A 10.11.7.1), which is the value it holds. */
    case MSR_IA32_UCODE_REV: v = 0; break;
    /* Linux reads it unguarded on CPUs that report AMD family 0Fh/10h (as
     * QEMU's TCG does) to see whether C1E is on: it is not. */
    case MSR_K8_INT_PENDING_MSG: v = 0; break;
    case MSR_IA32_MISC_ENABLE: /* fast strings only */ v = MISC_ENABLE_FAST_STRINGS; break;
    default: return VDEV_UNCLAIMED;
    }
    if (write)
        return *val == v ? VDEV_DONE : VDEV_GP;
    *val = v;
    return VDEV_DONE;
}

static int vmsr_attach(struct partition *p, char *err, size_t errlen)
{
    static const u32 others[] = { MSR_IA32_TSC, MSR_IA32_MTRRCAP,   MSR_IA32_MISC_ENABLE,  MSR_IA32_MTRR_DEF_TYPE,
                                  MSR_TSC_AUX,  MSR_IA32_UCODE_REV, MSR_K8_INT_PENDING_MSG };
    int rc = 0;
    /* MTRRs enabled, default type write-back and no ranges: what the
     * second-level tables make of the memory anyway. Linux 6.1 keeps PAT only
     * when MTRRs are enabled (arch/x86/kernel/cpu/mtrr/mtrr.c, mtrr_bp_init). */
    for (u32 i = 0; i < CONFIG_MAX_PART_CPUS; i++)
        mtrr_def_type[p->id][i] = MTRR_DEF_TYPE_E | MTRR_TYPE_WB;
    for (u32 i = 0; i < ARRAY_SIZE(state_msrs) && !rc; i++)
        rc = vdev_claim_msr(p, state_msrs[i].index, state_msrs[i].index, state_access, NULL, "state MSRs");
    for (u32 i = 0; i < ARRAY_SIZE(others) && !rc; i++)
        rc = vdev_claim_msr(p, others[i], others[i], other_access, NULL, "state MSRs");
    return rc < 0 ? kerr_fmt(err, errlen, rc, "cannot claim the state MSRs") : 0;
}

VDEV_REGISTER(vmsr, .name = "state MSRs", .order = 0, .attach = vmsr_attach);
