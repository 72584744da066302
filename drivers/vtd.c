/* Intel VT-d DMA remapping in legacy mode (root and context tables, second-
 * level page tables), with register-based invalidation and polled fault
 * records. See iommu_hw.h for the contract and arch/x86/hw/vtd.h for the
 * hardware's layout.
 *
 * Why legacy mode and register-based invalidation: a partition's DMA domain
 * is built once before it starts and torn down once after it stops, so
 * invalidations are rare, and every unit (and QEMU's model) supports both;
 * queued invalidation is needed only for interrupt remapping (a later step). */
#include "drivers/iommu_hw.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/msi.h"
#include "arch/x86/hw/pte.h"
#include "arch/x86/hw/vtd.h"
#include "arch/x86/paging.h"
#include "kernel/core/mm.h"
#include "kernel/core/time.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

#define WAIT_US 100000 /* a unit that takes longer than 100 ms to answer is broken */

static u32 rd32(const struct iommu_hw *u, u32 off) { return mmio_read32(u->regs + off); }
static u64 rd64(const struct iommu_hw *u, u32 off) { return mmio_read64(u->regs + off); }
static void wr32(const struct iommu_hw *u, u32 off, u32 v) { mmio_write32(u->regs + off, v); }
static void wr64(const struct iommu_hw *u, u32 off, u64 v) { mmio_write64(u->regs + off, v); }

/* Makes table memory the unit reads visible to it. */
static void publish(const struct iommu_hw *u, const void *p, u64 len)
{
    if (u->coherent)
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    else
        clflush_range(p, len);
}

/* Polls until (reg & mask) == want: true, or false after WAIT_US. */
static bool wait32(const struct iommu_hw *u, u32 off, u32 mask, u32 want)
{
    for (u32 i = 0; i < WAIT_US; i++) {
        if ((rd32(u, off) & mask) == want)
            return true;
        time_delay_us(1);
    }
    return (rd32(u, off) & mask) == want;
}

static bool wait64_clear(const struct iommu_hw *u, u32 off, u64 bit)
{
    for (u32 i = 0; i < WAIT_US; i++) {
        if (!(rd64(u, off) & bit))
            return true;
        time_delay_us(1);
    }
    return !(rd64(u, off) & bit);
}

/* Sets or clears one GCMD bit, keeping the others as GSTS reports them
 * (11.4.4: software writes the whole register, one-shot bits as 0). */
static int gcmd(struct iommu_hw *u, u32 bit, bool on)
{
    u32 sts = rd32(u, VTD_REG_GSTS) & ~(u32)VTD_GCMD_ONESHOT;
    wr32(u, VTD_REG_GCMD, on ? sts | bit : sts & ~bit);
    bool ok;
    if (bit == VTD_GCMD_SRTP)
        ok = wait32(u, VTD_REG_GSTS, VTD_GSTS_RTPS, VTD_GSTS_RTPS);
    else if (bit == VTD_GCMD_WBF)
        ok = wait32(u, VTD_REG_GSTS, VTD_GSTS_WBFS, 0);
    else
        ok = wait32(u, VTD_REG_GSTS, bit, on ? bit : 0);
    return ok ? 0 : -ETIMEDOUT;
}

static int alloc_page(hpa_t *pa) { return mm_alloc(0, 1, 1, 0, pa, NULL); }

/* Queues descriptors and a wait descriptor after them, then polls the wait's
 * status write: 0, or -ETIMEDOUT / -EIO (the unit reported a queue error). */
static int qi_submit(struct iommu_hw *u, const struct vtd_entry *d, u32 n)
{
    struct vtd_entry *q = hpa_to_ptr(u->vtd.iq);
    volatile u32 *status = hpa_to_ptr(u->vtd.iq_status);
    u32 seq = ++u->vtd.iq_seq;
    *status = 0;
    u32 slots = PAGE_SIZE / VTD_IQ_DESC_SIZE, t = u->vtd.iq_tail / VTD_IQ_DESC_SIZE;
    for (u32 i = 0; i <= n; i++, t = (t + 1) % slots) {
        if (i < n)
            q[t] = d[i];
        else
            q[t] = (struct vtd_entry){ vtd_wait_desc_lo(seq), u->vtd.iq_status };
        publish(u, &q[t], sizeof(q[t]));
    }
    u->vtd.iq_tail = t * VTD_IQ_DESC_SIZE;
    wr64(u, VTD_REG_IQT, u->vtd.iq_tail);
    for (u32 i = 0; i < WAIT_US; i++) {
        if (__atomic_load_n(status, __ATOMIC_ACQUIRE) == seq)
            return 0;
        if (rd32(u, VTD_REG_FSTS) & (VTD_FSTS_IQE | VTD_FSTS_ITE))
            return -EIO;
        time_delay_us(1);
    }
    return -ETIMEDOUT;
}

/* Flushes the write buffer, the context cache and the IOTLB, all globally. */
static int invalidate_all(struct iommu_hw *u)
{
    if ((u->vtd.cap & VTD_CAP_RWBF) && gcmd(u, VTD_GCMD_WBF, true) < 0)
        return -ETIMEDOUT;
    if (u->vtd.iq) {
        const struct vtd_entry d[2] = {
            { VTD_DESC_CC | VTD_DESC_GLOBAL, 0 },
            { VTD_DESC_IOTLB | VTD_DESC_GLOBAL | VTD_DESC_IOTLB_DR | VTD_DESC_IOTLB_DW, 0 },
        };
        return qi_submit(u, d, 2);
    }
    wr64(u, VTD_REG_CCMD, VTD_CCMD_ICC | VTD_CCMD_GLOBAL);
    if (!wait64_clear(u, VTD_REG_CCMD, VTD_CCMD_ICC))
        return -ETIMEDOUT;
    u32 iotlb = VTD_ECAP_IRO(u->vtd.ecap) + VTD_IOTLB_REG;
    wr64(u, iotlb, VTD_IOTLB_IVT | VTD_IOTLB_GLOBAL | VTD_IOTLB_DR | VTD_IOTLB_DW);
    return wait64_clear(u, iotlb, VTD_IOTLB_IVT) ? 0 : -ETIMEDOUT;
}

/* Queued invalidation on: needed for interrupt remapping (its entry cache
 * is invalidated only through the queue, 6.5.2.7), and then used for
 * everything (register-based invalidation is not allowed beside it). */
static int qi_enable(struct iommu_hw *u)
{
    int rc;
    if (!u->vtd.iq && (rc = alloc_page(&u->vtd.iq)) < 0)
        return rc;
    if (!u->vtd.iq_status && (rc = alloc_page(&u->vtd.iq_status)) < 0)
        return rc;
    u->vtd.iq_tail = 0;
    wr64(u, VTD_REG_IQT, 0);
    wr64(u, VTD_REG_IQA, u->vtd.iq); /* QS 0: one page, 256 descriptors */
    return gcmd(u, VTD_GCMD_QIE, true);
}

/* Interrupt remapping on: an empty table (every remappable interrupt
 * faults), its cache invalidated, compatibility-format interrupts blocked
 * (CFI stays 0), so no device can name a CPU and vector by itself. */
static int ir_enable(struct iommu_hw *u)
{
    int rc;
    if (!u->vtd.irt && (rc = alloc_page(&u->vtd.irt)) < 0)
        return rc;
    STATIC_ASSERT(IOMMU_IRT_ENTRIES * sizeof(struct vtd_entry) == PAGE_SIZE, "the table is one page");
    publish(u, hpa_to_ptr(u->vtd.irt), PAGE_SIZE);
    wr64(u, VTD_REG_IRTA, u->vtd.irt | 7); /* S = 7: 2^(7+1) = 256 entries, xAPIC destinations */
    if ((rc = gcmd(u, VTD_GCMD_SIRTP, true)) < 0)
        return rc;
    const struct vtd_entry iec = { VTD_DESC_IEC, 0 }; /* global */
    if ((rc = qi_submit(u, &iec, 1)) < 0)
        return rc;
    if (rd32(u, VTD_REG_GSTS) & VTD_GSTS_CFIS)
        (void)gcmd(u, VTD_GCMD_CFI, false);
    return gcmd(u, VTD_GCMD_IRE, true);
}

static void clear_faults(struct iommu_hw *u)
{
    u32 fro = VTD_CAP_FRO(u->vtd.cap);
    for (u32 i = 0; i < VTD_CAP_NFR(u->vtd.cap); i++)
        wr32(u, fro + 16 * i + 12, (u32)(VTD_FRCD_HI_F >> 32));
    wr32(u, VTD_REG_FSTS, VTD_FSTS_W1C);
}

static int vtd_enable(struct iommu_hw *u, char *err, size_t errlen)
{
    int rc = paging_map(u->fw->base, VTD_REG_SIZE, MAP_WRITE | MAP_UC);
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "cannot map its registers");
    u->regs = u->fw->base;
    u32 ver = rd32(u, VTD_REG_VER);
    u->vtd.cap = rd64(u, VTD_REG_CAP);
    u->vtd.ecap = rd64(u, VTD_REG_ECAP);
    if (u->vtd.cap == ~0ULL || u->vtd.ecap == ~0ULL)
        return kerr_fmt(err, errlen, -ENODEV, "its registers read all-ones");
    u64 cap = u->vtd.cap, ecap = u->vtd.ecap;
    u32 fro = VTD_CAP_FRO(cap), nfr = VTD_CAP_NFR(cap), iro = VTD_ECAP_IRO(ecap);
    if (fro + 16 * nfr > VTD_REG_SIZE || iro + 16 > VTD_REG_SIZE)
        return kerr_fmt(err, errlen, -ERANGE, "fault records (%#x) or IOTLB registers (%#x) past its first page", fro,
                        iro);
    if (cap & VTD_CAP_SAGAW_48)
        u->levels = 4;
    else if (cap & VTD_CAP_SAGAW_39)
        u->levels = 3;
    else
        return kerr_fmt(err, errlen, -ENOTSUP, "walks neither 3- nor 4-level tables (SAGAW %#llx)",
                        (unsigned long long)((cap >> VTD_CAP_SAGAW_SHIFT) & 0x1f));
    u->coherent = (ecap & VTD_ECAP_C) != 0;
    u->pages_2m = (cap & VTD_CAP_SLLPS_2M) != 0;
    u->pages_1g = u->pages_2m && (cap & VTD_CAP_SLLPS_1G);
    ksnprintf(u->info, sizeof(u->info), "VT-d %u.%u, %u-level tables, MGAW %u, %u fault records%s%s%s", ver >> 4 & 0xf,
              ver & 0xf, u->levels, VTD_CAP_MGAW(cap), nfr, u->coherent ? "" : ", not coherent",
              (ecap & VTD_ECAP_QI) ? ", queued invalidation" : "",
              (ecap & VTD_ECAP_IR) && (ecap & VTD_ECAP_QI) ? ", interrupt remapping" : ", NO interrupt remapping");

    /* Whatever firmware left on is turned off first: queued invalidation
     * (restarted below from an empty queue) and interrupt remapping (its table
     * is not ours). */
    u32 sts = rd32(u, VTD_REG_GSTS);
    if ((sts & VTD_GSTS_IRES) && gcmd(u, VTD_GCMD_IRE, false) < 0)
        return kerr_fmt(err, errlen, -ETIMEDOUT, "interrupt remapping left on by firmware does not turn off");
    if ((sts & VTD_GSTS_QIES) && gcmd(u, VTD_GCMD_QIE, false) < 0)
        return kerr_fmt(err, errlen, -ETIMEDOUT, "queued invalidation left on by firmware does not turn off");
    if ((ecap & VTD_ECAP_QI) && (rc = qi_enable(u)) < 0)
        return kerr_fmt(err, errlen, rc, "queued invalidation does not turn on");
    if (!u->root && (rc = alloc_page(&u->root)) < 0)
        return kerr_fmt(err, errlen, rc, "no memory for its root table");
    publish(u, hpa_to_ptr(u->root), PAGE_SIZE);
    wr64(u, VTD_REG_RTADDR, u->root); /* legacy mode: TTM 00 */
    if (gcmd(u, VTD_GCMD_SRTP, true) < 0)
        return kerr_fmt(err, errlen, -ETIMEDOUT, "does not take its root table");
    if ((rc = invalidate_all(u)) < 0)
        return kerr_fmt(err, errlen, rc, "does not complete an invalidation");
    /* Faults are polled from the management tick: no interrupt. */
    wr32(u, VTD_REG_FECTL, VTD_FECTL_IM);
    clear_faults(u);
    if (gcmd(u, VTD_GCMD_TE, true) < 0)
        return kerr_fmt(err, errlen, -ETIMEDOUT, "does not turn translation on");
    u->on = true;
    if ((ecap & VTD_ECAP_IR) && u->vtd.iq) {
        if ((rc = ir_enable(u)) < 0)
            return kerr_fmt(err, errlen, rc, "interrupt remapping does not turn on");
        u->ir = true;
    }
    return 0;
}

static struct vtd_entry *table(hpa_t pa) { return hpa_to_ptr(pa); }

static int vtd_attach(struct iommu_hw *u, u16 rid, hpa_t root, u16 domain, u64 limit, char *err, size_t errlen)
{
    u8 bus = (u8)(rid >> 8), devfn = (u8)rid;
    u32 ndomains = 1u << (4 + 2 * (u32)(u->vtd.cap & VTD_CAP_ND_MASK));
    if (domain == 0 || domain >= ndomains)
        return kerr_fmt(err, errlen, -ERANGE, "domain id %u past the unit's %u", domain, ndomains);
    u32 width = u->levels == 4 ? 48 : 39;
    if (VTD_CAP_MGAW(u->vtd.cap) < width)
        width = VTD_CAP_MGAW(u->vtd.cap);
    if (limit > BIT(width))
        return kerr_fmt(err, errlen, -ERANGE, "memory up to %#llx is past the unit's %u-bit guest addresses",
                        (unsigned long long)limit, width);
    hpa_t slpt = root;
    if (u->levels == 3) {
        /* Below 512 GiB a 4-level tree's first PML4 entry is the whole space:
         * the unit starts its walk at the table that entry names. */
        const u64 *pml4 = hpa_to_ptr(root);
        if (!(pml4[0] & (VTD_SL_R | VTD_SL_W)))
            return kerr_fmt(err, errlen, -EINVAL, "empty DMA domain");
        slpt = pml4[0] & VTD_ADDR_MASK;
    }
    int rc;
    if (!u->vtd.ctx[bus]) {
        hpa_t pa;
        if ((rc = alloc_page(&pa)) < 0)
            return kerr_fmt(err, errlen, rc, "no memory for a context table");
        publish(u, hpa_to_ptr(pa), PAGE_SIZE);
        u->vtd.ctx[bus] = pa;
        struct vtd_entry *re = &table(u->root)[bus];
        re->hi = 0;
        __atomic_store_n(&re->lo, pa | VTD_ROOT_P, __ATOMIC_RELEASE);
        publish(u, re, sizeof(*re));
    }
    struct vtd_entry *ce = &table(u->vtd.ctx[bus])[devfn];
    /* The high half first: the unit reads an entry only once P is set. */
    ce->hi = vtd_ctx_hi(u->levels == 4, domain);
    __atomic_store_n(&ce->lo, vtd_ctx_lo(slpt), __ATOMIC_RELEASE);
    publish(u, ce, sizeof(*ce));
    if ((rc = invalidate_all(u)) < 0)
        return kerr_fmt(err, errlen, rc, "does not complete an invalidation");
    u->attached++;
    return 0;
}

static void vtd_detach(struct iommu_hw *u, u16 rid, u16 domain)
{
    (void)domain;
    u8 bus = (u8)(rid >> 8), devfn = (u8)rid;
    if (!u->vtd.ctx[bus])
        return;
    struct vtd_entry *ce = &table(u->vtd.ctx[bus])[devfn];
    if (!(ce->lo & VTD_CTX_P))
        return;
    __atomic_store_n(&ce->lo, 0, __ATOMIC_RELEASE);
    ce->hi = 0;
    publish(u, ce, sizeof(*ce));
    /* A unit that does not finish the flush may still hold the domain's
     * translations: say so loudly; the caller frees nothing less for it,
     * but the unit is no longer trusted. */
    if (invalidate_all(u) < 0) {
        u->on = false;
        ksnprintf(u->why, sizeof(u->why), "an invalidation did not complete");
    }
    u->attached--;
}

static int vtd_irq_set(struct iommu_hw *u, u16 rid, u32 index, u32 apic_id, u8 vector, u64 *addr, u32 *data)
{
    if (!u->ir)
        return -ENOTSUP;
    if (apic_id > 0xff || index >= 0xffff)
        return -ERANGE; /* xAPIC destinations only: the host runs its APICs in xAPIC mode */
    u32 key = (u32)rid << 16 | (index + 1), h = IOMMU_IRT_ENTRIES, free = IOMMU_IRT_ENTRIES;
    for (u32 i = 0; i < IOMMU_IRT_ENTRIES && h == IOMMU_IRT_ENTRIES; i++) {
        if (u->vtd.irte_owner[i] == key)
            h = i;
        else if (!u->vtd.irte_owner[i] && free == IOMMU_IRT_ENTRIES)
            free = i;
    }
    if (h == IOMMU_IRT_ENTRIES)
        h = free;
    if (h == IOMMU_IRT_ENTRIES)
        return -ENOSPC;
    struct vtd_entry *e = &table(u->vtd.irt)[h];
    /* Not present while it changes; the requester check in the high half. */
    __atomic_store_n(&e->lo, 0, __ATOMIC_RELEASE);
    e->hi = vtd_irte_hi(rid);
    __atomic_store_n(&e->lo, vtd_irte_lo(vector, (u8)apic_id), __ATOMIC_RELEASE);
    publish(u, e, sizeof(*e));
    if (!u->vtd.irte_owner[h])
        u->irq_entries++;
    u->vtd.irte_owner[h] = key;
    const struct vtd_entry iec = { VTD_DESC_IEC, 0 };
    int rc = qi_submit(u, &iec, 1);
    if (rc < 0)
        return rc;
    *addr = MSI_ADDR_BASE | VTD_MSI_ADDR_IF | VTD_MSI_ADDR_HANDLE(h);
    *data = 0;
    return 0;
}

static void vtd_irq_clear(struct iommu_hw *u, u16 rid, u32 index)
{
    u32 key = (u32)rid << 16 | (index + 1);
    for (u32 i = 0; u->ir && i < IOMMU_IRT_ENTRIES; i++) {
        if (u->vtd.irte_owner[i] != key)
            continue;
        struct vtd_entry *e = &table(u->vtd.irt)[i];
        __atomic_store_n(&e->lo, 0, __ATOMIC_RELEASE);
        e->hi = 0;
        publish(u, e, sizeof(*e));
        u->vtd.irte_owner[i] = 0;
        u->irq_entries--;
        const struct vtd_entry iec = { VTD_DESC_IEC, 0 };
        if (qi_submit(u, &iec, 1) < 0) {
            u->on = false;
            ksnprintf(u->why, sizeof(u->why), "an interrupt entry invalidation did not complete");
        }
    }
}

static const char *reason_name(u8 fr)
{
    switch (fr) {
    case VTD_FR_IR_INDEX: return "interrupt index past the table";
    case VTD_FR_IR_NP: return "interrupt entry not present";
    case VTD_FR_IR_COMPAT: return "compatibility-format interrupt blocked";
    case VTD_FR_IR_SID: return "interrupt from a requester its entry does not name";
    case VTD_FR_ROOT_NP: return "no root entry";
    case VTD_FR_CTX_NP: return "no context entry";
    case VTD_FR_CTX_BAD: return "invalid context entry";
    case VTD_FR_ADDR_GAW: return "address past the domain";
    case VTD_FR_WRITE: return "write not permitted";
    case VTD_FR_READ: return "read not permitted";
    case VTD_FR_PTE_NP: return "paging entry unreadable";
    default: return "other fault";
    }
}

static u32 vtd_faults(struct iommu_hw *u, struct iommu_fault *f, u32 max, u64 *lost)
{
    u32 fro = VTD_CAP_FRO(u->vtd.cap), n = 0;
    for (u32 i = 0; i < VTD_CAP_NFR(u->vtd.cap) && n < max; i++) {
        u64 hi = rd64(u, fro + 16 * i + 8);
        if (!(hi & VTD_FRCD_HI_F))
            continue;
        u64 lo = rd64(u, fro + 16 * i);
        u8 fr = VTD_FRCD_HI_FR(hi);
        bool irq = fr >= VTD_FR_IR_FIRST;
        f[n++] = (struct iommu_fault){
            .seg = u->fw->segment,
            .rid = VTD_FRCD_HI_SID(hi),
            .addr = irq ? VTD_FRCD_LO_IR_INDEX(lo) : VTD_FRCD_LO_FI(lo),
            .write = !irq && !(hi & VTD_FRCD_HI_T),
            .is_dma = !irq,
            .is_irq = irq,
            .code = fr,
            .what = reason_name(fr),
        };
        wr32(u, fro + 16 * i + 12, (u32)(VTD_FRCD_HI_F >> 32));
    }
    u32 fsts = rd32(u, VTD_REG_FSTS);
    if (fsts & VTD_FSTS_PFO) {
        (*lost)++; /* at least one: the unit does not say how many */
        wr32(u, VTD_REG_FSTS, VTD_FSTS_PFO);
    }
    return n;
}

const struct iommu_hw_ops vtd_ops = {
    .vendor = "VT-d",
    .enable = vtd_enable,
    .attach = vtd_attach,
    .detach = vtd_detach,
    .faults = vtd_faults,
    .irq_set = vtd_irq_set,
    .irq_clear = vtd_irq_clear,
};
