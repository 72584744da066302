/* The local APIC page of a partition's vCPUs. It is never mapped, so every
 * access is a second-level fault; without decode assists (QEMU's SVM) or MMIO
 * instruction information (VT-x gives none) the instruction is fetched from the
 * guest's RIP through its own page tables and decoded (vmm/insn_decode.c).
 * IPIs written to the ICR reach only the partition's own vCPUs. */
#include "vmm/exits.h"
#include "vmm/guest_walk.h"
#include "vmm/insn_decode.h"
#include "arch/x86/hw/cpu.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/lib/string.h"

#define CS_ATTR_L  BIT(9)
#define CS_ATTR_DB BIT(10)

static int walk_read(void *ctx, gpa_t g, void *out, u32 len)
{
    return guest_read(ctx, g, out, len);
}

u32 guest_fetch_insn(struct vm_vcpu *vc, u8 *buf, enum insn_mode *mode)
{
    const struct vcpu_backend *be = vcpu_backend;
    struct vcpu_segment cs;
    be->get_segment(&vc->v, VSEG_CS, &cs);
    u64 cr0 = be->get_cr(&vc->v, 0), cr4 = be->get_cr(&vc->v, 4), efer = be->get_efer(&vc->v);
    bool lma = efer & EFER_LMA;
    *mode = (lma && (cs.attrib & CS_ATTR_L)) ? INSN_MODE_64 :
            ((cr0 & CR0_PE) && (cs.attrib & CS_ATTR_DB)) ? INSN_MODE_32 : INSN_MODE_16;
    u64 linear = vc->v.regs.rip + (*mode == INSN_MODE_64 ? 0 : cs.base);
    if (*mode != INSN_MODE_64)
        linear &= 0xffffffffULL;
    struct gwalk_env w = {
        .read = walk_read, .ctx = vc->part, .mode = gwalk_mode_of(cr0, cr4, efer),
        .cr3 = be->get_cr(&vc->v, 3), .pse = cr4 & BIT(4),
    };
    /* The instruction may end before a page the guest has not mapped. */
    u32 n = INSN_MAX_LEN;
    if (gwalk_read(&w, linear, buf, n) == 0)
        return n;
    n = (u32)(PAGE_SIZE - (linear & (PAGE_SIZE - 1)));
    if (n < INSN_MAX_LEN && gwalk_read(&w, linear, buf, n) == 0)
        return n;
    return 0;
}

int mmio_decode(struct vm_vcpu *vc, const char *what, struct insn *in)
{
    u8 bytes[INSN_MAX_LEN];
    enum insn_mode mode;
    u32 n = guest_fetch_insn(vc, bytes, &mode);
    if (!n) {
        part_fail(vc, "cannot read the instruction that touched %s", what);
        return -EFAULT;
    }
    int err = insn_decode(bytes, n, mode, in);
    if (err < 0 || !in->is_mem) {
        part_fail(vc, "cannot emulate the access to %s by instruction %02x %02x %02x %02x "
                  "(opcode %s%02x)", what, bytes[0], n > 1 ? bytes[1] : 0, n > 2 ? bytes[2] : 0,
                  n > 3 ? bytes[3] : 0, in->two_byte ? "0f " : "", in->opcode);
        return -EINVAL;
    }
    return 0;
}

void handle_apic_access(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    struct insn in;
    if (mmio_decode(vc, "the local APIC", &in) < 0)
        return;
    vc->stats.apic_accesses++;
    u32 offset = (u32)(e->fault.gpa.v - LAYOUT_APIC_PAGE);
    u64 now = rdtsc();
    u64 *regs = vc->v.regs.gpr;
    if (in.dir == INSN_READ) {
        u32 val = 0;
        vlapic_tick(&vc->lapic, now);
        /* Only aligned 32-bit accesses reach registers; others read 0 (and are
         * counted by the vlapic), as on parts that ignore them. */
        if (in.access_size != 4 || vlapic_read(&vc->lapic, offset, &val) < 0) {
            val = 0;
            vc->stats.apic_bad++;
        }
        regs[in.reg] = insn_apply_read(&in, regs[in.reg], val);
    } else {
        u32 val = (u32)insn_store_value(&in, regs[in.reg]);
        /* A bad offset is latched in the vlapic's ESR and counted there; the
         * write is dropped, as the hardware does. */
        if (in.access_size != 4 || vlapic_write(&vc->lapic, offset, val, now) < 0)
            vc->stats.apic_bad++;
        route_ipi(vc);
    }
    vcpu_backend->advance_rip(&vc->v, in.len);
}

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

static bool targeted(const struct vm_vcpu *from, const struct vm_vcpu *to, const struct vlapic_ipi *ipi)
{
    switch (ipi->shorthand) {
    case VLAPIC_SH_SELF:     return to == from;
    case VLAPIC_SH_ALL_INCL: return true;
    case VLAPIC_SH_ALL_EXCL: return to != from;
    default:                 return vcpu_accepts(to, ipi->dest, ipi->logical);
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
        default:               /* NMI: not delivered to guests yet */
            vc->lapic.stats.ipis_dropped++;
            break;
        }
    }
    if (!hits) {
        if (!vc->stats.ipis_foreign)
            log_info("part", "%s: vCPU %u: IPI to APIC ID %#x, which is not in the partition: dropped "
                     "(further ones are only counted)", p->cfg->name, vc->v.index, ipi.dest);
        vc->stats.ipis_foreign++;
    }
}
