/* See pveoi.h. */
#include "vmm/pveoi.h"
#include "arch/x86/hw/msr.h"
#include "kernel/lib/errno.h"

#define FLAG_BYTES 4u

static u64 flag_gpa(u64 msr) { return msr & ~(KVM_PV_EOI_ENABLE | KVM_PV_EOI_RESERVED); }

int pveoi_msr_check(const struct hc_mem_range *ram, u32 nram, u64 val)
{
    if (val & KVM_PV_EOI_RESERVED)
        return -EINVAL;
    if (!(val & KVM_PV_EOI_ENABLE))
        return 0;
    u64 g = flag_gpa(val);
    if ((g & (PAGE_SIZE - 1)) + FLAG_BYTES > PAGE_SIZE)
        return -EFAULT;
    for (u32 i = 0; i < nram; i++)
        if (g >= ram[i].start && g < ram[i].end && FLAG_BYTES <= ram[i].end - g)
            return 0;
    return -EFAULT;
}

static int read_flag(const struct pveoi *s, const struct gmem *m, u32 *w)
{
    return gmem_read(m, flag_gpa(s->msr), w, FLAG_BYTES);
}

static int write_flag(const struct pveoi *s, const struct gmem *m, u32 w)
{
    return gmem_write(m, flag_gpa(s->msr), &w, FLAG_BYTES);
}

int pveoi_sync(struct pveoi *s, struct vlapic *a, const struct gmem *m)
{
    if (!s->armed)
        return 0;
    u32 w;
    int rc = read_flag(s, m, &w);
    if (rc < 0)
        return rc;
    if (w & KVM_PV_EOI_FLAG)
        return 0; /* not yet: the bit stays the guest's to clear */
    s->armed = false;
    s->eois++;
    vlapic_eoi(a);
    return 0;
}

/* Only bit 0 is ours (msr.rst: the hypervisor modifies only that bit); the
 * guest does not run meanwhile, so read-modify-write is safe. */
static int set_bit0(struct pveoi *s, const struct gmem *m, bool on)
{
    u32 w;
    int rc = read_flag(s, m, &w);
    if (rc < 0)
        return rc;
    return write_flag(s, m, on ? w | KVM_PV_EOI_FLAG : w & ~KVM_PV_EOI_FLAG);
}

int pveoi_arm(struct pveoi *s, struct vlapic *a, const struct gmem *m)
{
    if (!(s->msr & KVM_PV_EOI_ENABLE))
        return 0;
    bool want = vlapic_pv_eoi_ok(a);
    if (want == s->armed)
        return 0;
    if (!want) {
        /* Another interrupt was injected or requested since the bit was
         * set: settle what the guest did, then take the bit back so that
         * the next EOI exits. */
        int rc = pveoi_sync(s, a, m);
        if (rc < 0 || !s->armed)
            return rc;
    }
    int rc = set_bit0(s, m, want);
    if (rc == 0)
        s->armed = want;
    return rc;
}

int pveoi_write_msr(struct pveoi *s, struct vlapic *a, const struct gmem *m, const struct hc_mem_range *ram, u32 nram,
                    u64 val)
{
    int rc = pveoi_msr_check(ram, nram, val);
    if (rc < 0) {
        s->refused++;
        return rc;
    }
    rc = pveoi_sync(s, a, m);
    if (rc == 0 && s->armed)
        rc = set_bit0(s, m, false);
    if (rc < 0)
        return rc;
    s->armed = false;
    s->msr = val;
    return 0;
}

void pveoi_reset(struct pveoi *s)
{
    s->msr = 0;
    s->armed = false;
}
