/* Interrupts between the vCPUs of one partition: which vCPU a destination
 * names, and IPIs from a vCPU's local APIC, delivered only to the partition's
 * own vCPUs (physical, broadcast, logical flat/cluster, shorthands; xAPIC
 * and x2APIC destinations). */
#include "vmm/exits.h"
#include "kernel/core/log.h"
#include "kernel/core/log_limit.h"

bool vcpu_accepts(const struct vm_vcpu *to, u32 dest, bool logical)
{
    if (!logical)
        return dest == 0xff || dest == to->v.apic_id;
    /* Logical: flat model (DFR 0xF...) matches LDR bits; cluster model matches
     * the cluster in bits 7:4 and a member bit in 3:0. */
    u32 ldr = to->lapic.ldr >> 24, mda = dest & 0xff;
    if (((to->lapic.dfr >> 28) & 0xf) == 0xf)
        return ldr & mda;
    return mda == 0xff || ((ldr >> 4) == (mda >> 4) && (ldr & mda & 0xf));
}

/* x2APIC destinations (SDM Vol. 3A 11.12.9, 11.12.10): 32-bit IDs, all ones
 * for broadcast; logical ones name a cluster (31:16) and members (15:0) of
 * it, matched against the target's LDR, which the ID alone fixes. */
static bool x2apic_accepts(const struct vm_vcpu *to, u32 dest, bool logical)
{
    if (dest == 0xffffffffu)
        return true;
    if (!logical)
        return dest == to->v.apic_id;
    u32 ldr = vlapic_x2apic_ldr(to->v.apic_id);
    return (dest >> 16) == (ldr >> 16) && (dest & ldr & 0xffffu);
}

static bool targeted(const struct vm_vcpu *from, const struct vm_vcpu *to, const struct vlapic_ipi *ipi)
{
    switch (ipi->shorthand) {
    case VLAPIC_SH_SELF: return to == from;
    case VLAPIC_SH_ALL_INCL: return true;
    case VLAPIC_SH_ALL_EXCL: return to != from;
    default:
        return ipi->x2apic ? x2apic_accepts(to, ipi->dest, ipi->logical) : vcpu_accepts(to, ipi->dest, ipi->logical);
    }
}

void route_ipi(struct vm_vcpu *vc)
{
    struct vlapic_ipi ipi;
    if (!vlapic_take_ipi(&vc->lapic, &ipi))
        return;
    struct partition *p = vc->part;
    u32 hits = 0;
    for (u32 i = 0; i < p->nvcpus; i++) {
        struct vm_vcpu *to = p->vcpu[i];
        if (!to || !targeted(vc, to, &ipi))
            continue;
        hits++;
        switch (ipi.mode) {
        case VLAPIC_IPI_FIXED:
            if (to == vc)
                vlapic_set_irq(&vc->lapic, ipi.vector);
            else
                vcpu_post_irq(to, ipi.vector);
            break;
        case VLAPIC_IPI_INIT:
            if (to == vc) {
                /* INIT to oneself: back to wait-for-SIPI, as on hardware. */
                vc->init_pending = 1;
            } else {
                vcpu_post_init(to);
            }
            break;
        case VLAPIC_IPI_SIPI:
            if (to != vc)
                vcpu_post_sipi(to, ipi.vector);
            break;
        default: /* NMI: not delivered to guests yet */ vc->lapic.stats.ipis_dropped++; break;
        }
    }
    if (!hits) {
        if (!vc->stats.ipis_foreign)
            log_limited(p->id, LOGR_IPI, LOG_INFO, "part",
                        "%s: vCPU %u: IPI to APIC ID %#x, which is not in the partition: dropped "
                        "(further ones are only counted)",
                        p->cfg->name, vc->v.index, ipi.dest);
        vc->stats.ipis_foreign++;
    }
}
