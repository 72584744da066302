/* The local APIC page of a partition's vCPUs, as a device: the page at
 * LAYOUT_APIC_PAGE is never mapped, so every access is a second-level fault
 * that comes here through the device registry, and is decoded (vmm/mmio.c)
 * and applied to the vCPU's vlapic (vmm/vlapic.c); IPIs it writes go to
 * route_ipi() (vmm/ipi.c), the EOIs of level-triggered interrupts to the
 * partition's I/O APIC (vmm/dev/vioapic.h). Also the x2APIC MSRs (0x800 to
 * 0x8ff), the same registers as MSRs once the guest turned x2APIC mode on
 * (offered in CPUID.1:ECX[21]): an EOI or IPI is then one WRMSR exit with
 * no instruction to fetch and decode. IA32_APIC_BASE: the APIC stays enabled
 * at its default address; the guest may switch it from xAPIC to x2APIC mode,
 * and only back by a reset (SDM Vol. 3A 11.12.5). IA32_TSC_DEADLINE,
 * the timer's TSC-deadline mode (offered in CPUID.1:ECX[24], vmm/vcpuid.c);
 * and MSR_KVM_PV_EOI_EN, KVM's paravirtual EOI (vmm/pveoi.h). */
#include "vmm/exits.h"
#include "vmm/vdev.h"
#include "vmm/dev/vioapic.h"
#include "vmm/insn_decode.h"
#include "arch/x86/hw/cpu.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"

/* After a register write: the IPI it sent, and the EOI of a level-triggered
 * interrupt, which goes on to the I/O APIC. */
static void apic_written(struct vm_vcpu *vc)
{
    route_ipi(vc);
    u8 vector;
    while (vlapic_take_eoi(&vc->lapic, &vector))
        vioapic_eoi(vc->part, vector);
}

static enum vdev_result apic_mmio(struct vm_vcpu *vc, void *dev, const struct vcpu_exit *e)
{
    (void)dev;

    struct insn in;
    if (mmio_decode(vc, "the local APIC", &in) < 0)
        return VDEV_DONE;
    vc->stats.apic_accesses++;
    u32 offset = (u32)(e->fault.gpa.v - LAYOUT_APIC_PAGE);
    u64 now = rdtsc();
    u64 *regs = vc->v.regs.gpr;
    /* In x2APIC mode the page is no longer the APIC's: reads give 0 and
     * writes are dropped, counted. */
    bool page_off = vc->lapic.x2apic;
    if (in.dir == INSN_READ) {
        u32 val = 0;
        vlapic_tick(&vc->lapic, now);
        /* Only aligned 32-bit accesses reach registers; others read 0 (and are
         * counted by the vlapic), as on parts that ignore them. */
        if (page_off || in.access_size != 4 || vlapic_read(&vc->lapic, offset, &val) < 0) {
            val = 0;
            vc->stats.apic_bad++;
        }
        regs[in.reg] = insn_apply_read(&in, regs[in.reg], val);
    } else {
        u32 val = (u32)insn_store_value(&in, regs[in.reg]);
        /* A bad offset is latched in the vlapic's ESR and counted there; the
         * write is dropped, as the hardware does. */
        if (page_off || in.access_size != 4 || vlapic_write(&vc->lapic, offset, val, now) < 0)
            vc->stats.apic_bad++;
        apic_written(vc);
    }
    vcpu_backend->advance_rip(&vc->v, in.len);
    return VDEV_DONE;
}

static enum vdev_result apic_base_msr(struct vm_vcpu *vc, void *dev, u32 index, bool write, u64 *val)
{
    (void)dev;
    (void)index;
    u64 fixed = LAYOUT_APIC_PAGE | APIC_BASE_ENABLE | (vc->v.index == 0 ? APIC_BASE_BSP : 0);
    u64 now = fixed | (vc->lapic.x2apic ? APIC_BASE_X2APIC : 0);
    if (!write) {
        *val = now;
        return VDEV_DONE;
    }
    if (*val == now)
        return VDEV_DONE;
    /* xAPIC to x2APIC is the one change allowed; x2APIC back to xAPIC is an
     * invalid transition, and the APIC is never disabled or moved here. */
    if (*val == (fixed | APIC_BASE_X2APIC)) {
        vlapic_enable_x2apic(&vc->lapic);
        return VDEV_DONE;
    }
    return VDEV_GP;
}

static enum vdev_result x2apic_msr(struct vm_vcpu *vc, void *dev, u32 index, bool write, u64 *val)
{
    (void)dev;
    u64 now = rdtsc();
    if (!write) {
        vlapic_tick(&vc->lapic, now);
        return vlapic_x2apic_read(&vc->lapic, index, val) < 0 ? VDEV_GP : VDEV_DONE;
    }
    vc->stats.apic_accesses++;
    if (vlapic_x2apic_write(&vc->lapic, index, *val, now) < 0)
        return VDEV_GP;
    apic_written(vc);
    return VDEV_DONE;
}

/* The guest's TSC is the host's (no offset), so its deadline is the vlapic's
 * time base as it is; the vCPU loop arms the host timer for it before the
 * next entry. */
static enum vdev_result tsc_deadline_msr(struct vm_vcpu *vc, void *dev, u32 index, bool write, u64 *val)
{
    (void)dev;
    (void)index;
    if (write)
        vlapic_write_tsc_deadline(&vc->lapic, *val, rdtsc());
    else
        *val = vlapic_read_tsc_deadline(&vc->lapic);
    return VDEV_DONE;
}

/* KVM's paravirtual EOI (vmm/pveoi.h), offered in the KVM features leaf. */
static enum vdev_result pv_eoi_msr(struct vm_vcpu *vc, void *dev, u32 index, bool write, u64 *val)
{
    (void)dev;
    (void)index;
    struct partition *p = vc->part;
    if (!write) {
        *val = vc->pv_eoi.msr;
        return VDEV_DONE;
    }
    int rc = pveoi_write_msr(&vc->pv_eoi, &vc->lapic, &p->gmem, p->ram_ranges, p->nram_ranges, *val);
    if (rc == -EINVAL || rc == -EFAULT)
        return VDEV_GP;
    if (rc < 0)
        part_fail(vc, "cannot reach the PV EOI flag (%d)", rc);
    return VDEV_DONE;
}

static int apic_attach(struct partition *p, char *err, size_t errlen)
{
    int rc = vdev_claim_mmio(p, gpa(LAYOUT_APIC_PAGE), PAGE_SIZE, apic_mmio, NULL, "local APIC");
    if (!rc)
        rc = vdev_claim_msr(p, MSR_IA32_APIC_BASE, MSR_IA32_APIC_BASE, apic_base_msr, NULL, "local APIC");
    if (!rc)
        rc = vdev_claim_msr(p, MSR_X2APIC_BASE, MSR_X2APIC_LAST, x2apic_msr, NULL, "local APIC");
    if (!rc)
        rc = vdev_claim_msr(p, MSR_IA32_TSC_DEADLINE, MSR_IA32_TSC_DEADLINE, tsc_deadline_msr, NULL, "local APIC");
    if (!rc)
        rc = vdev_claim_msr(p, MSR_KVM_PV_EOI_EN, MSR_KVM_PV_EOI_EN, pv_eoi_msr, NULL, "local APIC");
    return rc < 0 ? kerr_fmt(err, errlen, rc, "local APIC: cannot claim its page") : 0;
}

VDEV_REGISTER(apic, .name = "local APIC", .order = 0, .attach = apic_attach);
