/* Trapped memory accesses: the instruction that made one is fetched at the
 * guest's CS:RIP through its own page tables and decoded, because neither
 * QEMU's SVM (no decode assists) nor VT-x (no MMIO instruction information)
 * says what moved. Used by every device with trapped registers and by shadow
 * paging's page-table write emulation. */
#include "vmm/exits.h"
#include "vmm/guest_walk.h"
#include "vmm/insn_decode.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/desc.h"
#include "kernel/lib/errno.h"

static int walk_read(void *ctx, gpa_t g, void *out, u32 len) { return guest_read(ctx, g, out, len); }

u32 guest_fetch_insn(struct vm_vcpu *vc, u8 *buf, enum insn_mode *mode)
{
    const struct vcpu_backend *be = vcpu_backend;
    struct vcpu_segment cs;
    be->get_segment(&vc->v, VSEG_CS, &cs);
    u64 cr0 = be->get_cr(&vc->v, 0), cr4 = be->get_cr(&vc->v, 4), efer = be->get_efer(&vc->v);
    bool lma = efer & EFER_LMA;
    *mode = (lma && (cs.attrib & SEG_ATTR_L))               ? INSN_MODE_64
            : ((cr0 & CR0_PE) && (cs.attrib & SEG_ATTR_DB)) ? INSN_MODE_32
                                                            : INSN_MODE_16;
    u64 linear = vc->v.regs.rip + (*mode == INSN_MODE_64 ? 0 : cs.base);
    if (*mode != INSN_MODE_64)
        linear &= 0xffffffffULL;
    struct gwalk_env w = {
        .read = walk_read,
        .ctx = vc->part,
        .mode = gwalk_mode_of(cr0, cr4, efer),
        .cr3 = be->get_cr(&vc->v, 3),
        .pse = cr4 & CR4_PSE,
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
        part_fail(vc,
                  "cannot emulate the access to %s by instruction %02x %02x %02x %02x "
                  "(opcode %s%02x)",
                  what, bytes[0], n > 1 ? bytes[1] : 0, n > 2 ? bytes[2] : 0, n > 3 ? bytes[3] : 0,
                  in->two_byte ? "0f " : "", in->opcode);
        return -EINVAL;
    }
    return 0;
}
