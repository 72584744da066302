/* AMD-Vi DMA remapping (AMD IOMMU specification 48882 rev 3.x): one device
 * table for all 65536 requesters, host page tables of mode 4, a command ring
 * for invalidations and an event log polled for faults. See iommu_hw.h for
 * the contract and arch/x86/hw/amdvi.h for the hardware's layout.
 *
 * A blocked requester has a valid entry with translation valid, mode 0 and
 * neither IR nor IW: its reads and writes are aborted (2.2.2). An entry with
 * V = 0 would instead pass its DMA through untranslated, so no entry is ever
 * left invalid.
 *
 * Interrupts are remapped per device (2.2.5), when the IVRS allows it (see
 * ioapic_named()): every entry has IV set and no Pass bit, so no device can
 * send NMI, INIT, ExtInt or LINT messages, and its fixed MSIs go through an
 * interrupt table. A blocked device's table is the unit's empty one (every
 * entry without RemapEn): its MSIs are aborted. A device gets a table of its
 * own with its first routed interrupt (not at attach: most devices assigned
 * never have one, and the table is then one more thing to free), holding at
 * index i the device's interrupt i (its MSI 0, MSI-X entry k at 1 + k); the
 * device is given address 0xFEE00000 and data i. The table goes back to the
 * empty one, and is freed, when its last entry is cleared or the device is
 * detached.
 *
 * Commands are not waited for one by one: a batch is closed by a
 * COMPLETION_WAIT that stores a sequence number, which the CPU polls. */
#include "drivers/iommu_hw.h"
#include "arch/x86/hw/amdvi.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/msi.h"
#include "arch/x86/paging.h"
#include "kernel/core/log.h"
#include "kernel/core/mm.h"
#include "kernel/core/time.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"

#define TAG          "amdvi"
#define WAIT_US      100000 /* a unit that takes longer than 100 ms to answer is broken */
#define RING_LEN     AMDVI_RING_LEN_MIN
#define RING_BYTES   ((u32)sizeof(struct amdvi_cmd) << RING_LEN) /* 256 entries: one page */
#define DT_BYTES     (AMDVI_DEV_TABLE_ENTRIES * (u32)sizeof(struct amdvi_dte))
#define DT_PAGES     (DT_BYTES / PAGE_SIZE)
#define DOMAIN_NONE  0 /* the DomainID of blocked entries; attach refuses it */
/* A device's interrupt table: IRT_ENTRIES entries, so that MSI data bits
 * 10:8, which the unit also reads as the message type, stay 000b (fixed);
 * QEMU 7.2 takes the type from them. Each table is 8 KiB of which the rest
 * stays zero: QEMU does not check IntTabLen and reads whatever lies at any
 * index MSI data bits 10:0 can name. */
#define IRT_LEN_LOG2 8u
#define IRT_ENTRIES  (1u << IRT_LEN_LOG2)
#define IRT_PAGES    ((AMDVI_IRTE_SIZE << AMDVI_INTTABLEN_MAX) / PAGE_SIZE)
/* Command buffer, event log, COMPLETION_WAIT semaphore, then the empty
 * interrupt table every blocked device points at. */
#define RING_PAGES   3
#define UNIT_PAGES   (RING_PAGES + IRT_PAGES)

STATIC_ASSERT(RING_BYTES == PAGE_SIZE, "each ring is one page");
STATIC_ASSERT(sizeof(struct amdvi_event) == sizeof(struct amdvi_cmd), "both rings have 16-byte entries");
STATIC_ASSERT(DT_BYTES == MiB(2) && DT_PAGES - 1 == AMDVI_DEV_TABLE_SIZE_MASK, "2 MiB device table, Size 1FFh");
STATIC_ASSERT(IRT_PAGES == 2 && IRT_ENTRIES * AMDVI_IRTE_SIZE <= IRT_PAGES * PAGE_SIZE, "8 KiB interrupt tables");

static u64 rd64(const struct iommu_hw *u, u32 off) { return mmio_read64(u->regs + off); }
static void wr64(const struct iommu_hw *u, u32 off, u64 v) { mmio_write64(u->regs + off, v); }

static bool wait_status(const struct iommu_hw *u, u64 mask, u64 want)
{
    for (u32 i = 0; i < WAIT_US; i++) {
        if ((rd64(u, AMDVI_MMIO_STATUS) & mask) == want)
            return true;
        time_delay_us(1);
    }
    return (rd64(u, AMDVI_MMIO_STATUS) & mask) == want;
}

/* ---- Commands. */

/* The unit's read position. Masked to the ring: QEMU reports the offset one
 * past the last entry (1000h) instead of 0 after it executes that entry. */
static u32 cmd_head(const struct iommu_hw *u)
{
    return (u32)(rd64(u, AMDVI_MMIO_CMD_HEAD) & AMDVI_RING_PTR_MASK) & (RING_BYTES - 1);
}

/* Hands the commands written so far to the unit. The barrier keeps the
 * compiler from sinking the ring and table stores below the doorbell; x86
 * does not reorder stores, and the unit reads both coherently. */
static void cmd_kick(struct iommu_hw *u)
{
    barrier();
    wr64(u, AMDVI_MMIO_CMD_TAIL, u->amd.cmd_tail);
}

/* Appends one command; when the ring is full (one slot always stays empty),
 * rings the doorbell and waits for the unit to make room. */
static int cmd_queue(struct iommu_hw *u, struct amdvi_cmd c)
{
    u32 next = (u->amd.cmd_tail + (u32)sizeof(c)) & (RING_BYTES - 1);
    if (cmd_head(u) == next) {
        cmd_kick(u);
        u32 i = 0;
        while (cmd_head(u) == next) {
            if (++i > WAIT_US)
                return -ETIMEDOUT;
            time_delay_us(1);
        }
    }
    volatile u64 *slot = hpa_to_ptr(u->amd.cmd + u->amd.cmd_tail);
    slot[0] = c.lo;
    slot[1] = c.hi;
    u->amd.cmd_tail = next;
    return 0;
}

/* Closes the batch: COMPLETION_WAIT stores a new sequence number once every
 * command before it has completed (2.4.1); a unit that does not store it
 * within WAIT_US is not answering. */
static int cmd_sync(struct iommu_hw *u)
{
    u64 seq = ++u->amd.sem_seq;
    int rc = cmd_queue(u, amdvi_cmd_completion_wait(u->amd.sem, seq));
    if (rc < 0)
        return rc;
    cmd_kick(u);
    const volatile u64 *sem = hpa_to_ptr(u->amd.sem);
    for (u32 i = 0; i < WAIT_US; i++) {
        if (*sem == seq)
            return 0;
        time_delay_us(1);
    }
    return *sem == seq ? 0 : -ETIMEDOUT;
}

/* Empties every cache of the unit: INVALIDATE_IOMMU_ALL where the EFR offers
 * it, else what it stands for (2.4.8): every device table entry, interrupt
 * table and domain. Firmware may have used any domain ID, so all 65536 are
 * invalidated; the ring throttles the batch. */
static int invalidate_all(struct iommu_hw *u)
{
    int rc;
    if (u->amd.efr & AMDVI_EFR_IA_SUP)
        return (rc = cmd_queue(u, amdvi_cmd_inv_all())) < 0 ? rc : cmd_sync(u);
    for (u32 id = 0; id < AMDVI_DEV_TABLE_ENTRIES; id++) {
        if ((rc = cmd_queue(u, amdvi_cmd_inv_devtab((u16)id))) < 0 ||
            (rc = cmd_queue(u, amdvi_cmd_inv_intr_table((u16)id))) < 0 ||
            (rc = cmd_queue(u, amdvi_cmd_inv_domain((u16)id))) < 0)
            return rc;
    }
    return cmd_sync(u);
}

/* ---- Device table. */

static struct amdvi_dte *dte_of(const struct iommu_hw *u, u16 rid)
{
    return (struct amdvi_dte *)hpa_to_ptr(u->root) + rid;
}

/* Replaces an entry with 64-bit stores while the unit may fetch it at any
 * moment, so it must never see a mix that translates under the wrong domain.
 * Going to translating, quadword 0 (V, TV, Mode, root, IR, IW) is written
 * last: until then the unit sees a blocked entry, at worst with the new
 * DomainID. Going to blocked, it is written first: from then on the entry
 * blocks, whatever DomainID it still carries. The reverse orders would let a
 * walk cache translations under the old entry's DomainID, which invalidating
 * the new domain does not reach. */
static void dte_set(struct amdvi_dte *d, const struct amdvi_dte *v)
{
    volatile u64 *q = (volatile u64 *)d;
    bool translates = amdvi_dte_translates(v);
    if (!translates)
        q[0] = v->q[0];
    barrier();
    for (int i = 3; i >= 1; i--)
        q[i] = v->q[i];
    barrier();
    if (translates)
        q[0] = v->q[0];
}

/* Installs `want` for rid and flushes what the unit may hold of the old entry
 * (returned in *old), of both domains (2.2.2: a changed entry is invalidated,
 * and the IOTLB is tagged by DomainID, not by device) and of the device's
 * interrupt table, which `want` may replace. */
static int dte_switch(struct iommu_hw *u, u16 rid, const struct amdvi_dte *want, u16 domain, struct amdvi_dte *old)
{
    struct amdvi_dte *d = dte_of(u, rid);
    *old = *d;
    bool was = amdvi_dte_translates(old);
    dte_set(d, want);
    int rc = cmd_queue(u, amdvi_cmd_inv_devtab(rid));
    if (rc == 0 && domain != DOMAIN_NONE)
        rc = cmd_queue(u, amdvi_cmd_inv_domain(domain));
    if (rc == 0 && was && amdvi_dte_domain(old) != domain)
        rc = cmd_queue(u, amdvi_cmd_inv_domain(amdvi_dte_domain(old)));
    if (rc == 0 && u->ir)
        rc = cmd_queue(u, amdvi_cmd_inv_intr_table(rid));
    return rc < 0 ? rc : cmd_sync(u);
}

/* ---- Interrupt tables. */

/* The empty table of blocked devices, after the rings. */
static hpa_t irt_none(const struct iommu_hw *u) { return u->amd.cmd + RING_PAGES * PAGE_SIZE; }

/* Quadword 2 of a blocked device: the empty table, 2^0 entries (an index
 * past it is aborted as well), or no remapping at all when the unit does
 * not remap. */
static u64 irq_blocked(const struct iommu_hw *u) { return u->ir ? amdvi_dte_irq(irt_none(u), 0) : 0; }

static struct amdvi_dte dte_blocked(const struct iommu_hw *u)
{
    struct amdvi_dte d = amdvi_dte_blocked();
    d.q[2] = irq_blocked(u);
    return d;
}

static volatile u32 *irte_of(hpa_t table, u32 index) { return (volatile u32 *)hpa_to_ptr(table) + index; }

/* The table of its own a device's entry names, or 0. */
static hpa_t irt_own(const struct iommu_hw *u, const struct amdvi_dte *d)
{
    hpa_t t = amdvi_dte_irq_table(d);
    return u->ir && (d->q[2] & AMDVI_DTE_IV) && t != irt_none(u) ? t : 0;
}

static u32 irt_used(hpa_t table)
{
    u32 n = 0;
    for (u32 i = 0; i < IRT_ENTRIES; i++)
        n += (*irte_of(table, i) & AMDVI_IRTE_REMAP_EN) != 0;
    return n;
}

/* The unit's copies of rid's table entries, and of its DTE when quadword 2
 * changed (2.4.2, 2.4.5), invalidated and waited for. */
static int irq_flush(struct iommu_hw *u, u16 rid, bool dte_changed)
{
    int rc = dte_changed ? cmd_queue(u, amdvi_cmd_inv_devtab(rid)) : 0;
    if (rc == 0)
        rc = cmd_queue(u, amdvi_cmd_inv_intr_table(rid));
    return rc < 0 ? rc : cmd_sync(u);
}

/* A unit that does not confirm an invalidation may still deliver through
 * entries we no longer own: it is not trusted any more (iommu_hw.h). */
static void distrust(struct iommu_hw *u, const char *what, u16 rid)
{
    u->on = false;
    ksnprintf(u->why, sizeof(u->why), "the invalidation of %s for %02x:%02x.%u did not complete", what, rid >> 8,
              (rid >> 3) & 0x1f, rid & 7);
    log_err(TAG, "iommu%u: %s", u->index, u->why);
}

/* After the device's entry stopped naming `table` and the unit confirmed it:
 * the entries it still had are no longer in use, and its pages are free. */
static void irt_free(struct iommu_hw *u, hpa_t table)
{
    u32 n = irt_used(table);
    u->irq_entries -= MIN(n, u->irq_entries);
    mm_release(table, IRT_PAGES);
}

/* Firmware says interrupt remapping may be used by naming the I/O APICs'
 * requester IDs (IVHD special entries, IVRS 5.2.2.5), whose messages pass
 * through a unit too; Linux does not remap without them either. QEMU 7.2
 * leaves them out when its model does not remap (intremap=off, the default
 * beside KVM's in-kernel irqchip), and then drops every message of a device
 * whose entry has IV set. The firmware's units are found from this one:
 * iommu_hw_init() gives unit i the firmware's units[i]. */
static bool ioapic_named(const struct iommu_hw *u)
{
    const struct acpi_iommu_info *fw = u->fw_all;
    if (!fw)
        return false;
    for (u32 i = 0; i < fw->nscopes && i < ACPI_MAX_IOMMU_SCOPES; i++) {
        const struct acpi_iommu_scope *s = &fw->scopes[i];
        if (s->kind == ACPI_IOMMU_SCOPE_IOAPIC && !s->in_region && s->owner < fw->nunits &&
            fw->units[s->owner].vendor == ACPI_IOMMU_AMDVI && fw->units[s->owner].usable)
            return true;
    }
    return false;
}

/* ---- enable. */

/* Firmware may hand over a unit that is on (pre-boot DMA protection, or a
 * kernel before us). It is switched off before its rings and tables are
 * replaced, as the base registers may not change under a running unit; DMA
 * is untranslated for that moment, while no partition runs yet. */
static int stop_firmware_unit(struct iommu_hw *u, u64 ctl, char *err, size_t errlen)
{
    log_warn(TAG, "iommu%u: firmware left it on (control %#llx): taking it over", u->index, (unsigned long long)ctl);
    wr64(u, AMDVI_MMIO_CONTROL, 0);
    if (!wait_status(u, AMDVI_STS_CMD_BUF_RUN | AMDVI_STS_EVT_LOG_RUN, 0))
        return kerr_fmt(err, errlen, -EBUSY, "left on by firmware, its command buffer or event log does not stop");
    return 0;
}

static int alloc_tables(struct iommu_hw *u, char *err, size_t errlen)
{
    int rc;
    /* Aligned to its size, which every implementation accepts (the base
     * register only needs 4 KiB). */
    if (!u->root && (rc = mm_alloc(0, DT_PAGES, DT_PAGES, 0, &u->root, NULL)) < 0)
        return kerr_fmt(err, errlen, rc, "no memory for its 2 MiB device table");
    if (!u->amd.cmd) {
        hpa_t pa;
        if ((rc = mm_alloc(0, UNIT_PAGES, 1, 0, &pa, NULL)) < 0)
            return kerr_fmt(err, errlen, rc, "no memory for its command buffer, event log and empty interrupt table");
        u->amd.cmd = pa;
        u->amd.evt = pa + PAGE_SIZE;
        u->amd.sem = pa + 2 * PAGE_SIZE;
    }
    /* Every requester blocked: a zeroed entry (V = 0) would pass DMA through. */
    const struct amdvi_dte blocked = dte_blocked(u);
    struct amdvi_dte *dt = hpa_to_ptr(u->root);
    for (u32 id = 0; id < AMDVI_DEV_TABLE_ENTRIES; id++)
        dt[id] = blocked;
    return 0;
}

/* Points the unit at our tables, the rings empty, the exclusion range off
 * (it would let DMA into a range through untranslated). A unit whose
 * registers do not take the values is locked by firmware: SEV-SNP locks them
 * (2.12) and keeps the unit to itself. */
static int program(struct iommu_hw *u, char *err, size_t errlen)
{
    const u64 dt = u->root | AMDVI_DEV_TABLE_SIZE_MASK;
    const u64 cmd = u->amd.cmd | (u64)RING_LEN << AMDVI_RING_LEN_SHIFT;
    const u64 evt = u->amd.evt | (u64)RING_LEN << AMDVI_RING_LEN_SHIFT;
    wr64(u, AMDVI_MMIO_DEV_TABLE, dt);
    wr64(u, AMDVI_MMIO_CMD_BASE, cmd);
    wr64(u, AMDVI_MMIO_EVT_BASE, evt);
    wr64(u, AMDVI_MMIO_CMD_HEAD, 0);
    wr64(u, AMDVI_MMIO_CMD_TAIL, 0);
    wr64(u, AMDVI_MMIO_EVT_HEAD, 0);
    wr64(u, AMDVI_MMIO_EVT_TAIL, 0);
    wr64(u, AMDVI_MMIO_EXCL_BASE, 0);
    wr64(u, AMDVI_MMIO_EXCL_LIMIT, 0);
    wr64(u, AMDVI_MMIO_STATUS, AMDVI_STS_W1C);
    u->amd.cmd_tail = 0;
    u->amd.evt_head = 0;
    if (rd64(u, AMDVI_MMIO_DEV_TABLE) != dt || rd64(u, AMDVI_MMIO_CMD_BASE) != cmd ||
        rd64(u, AMDVI_MMIO_EVT_BASE) != evt)
        return kerr_fmt(err, errlen, -EPERM, "its registers do not take our tables: locked by firmware (SEV-SNP?)");
    if (rd64(u, AMDVI_MMIO_EXCL_BASE) & AMDVI_EXCL_EN)
        return kerr_fmt(err, errlen, -EPERM, "its exclusion range does not turn off");
    return 0;
}

/* The Control bits the IVHD flags give values for, then ours. Coherent is
 * set whatever the flags say, as Linux does: the device table is then read
 * with snooping, and I/O page-table walks are coherent on every AMD-Vi unit
 * (the specification has no capability for a non-coherent walk, unlike
 * VT-d's ECAP.C). IommuEn goes with CmdBufEn: QEMU executes no command
 * while IommuEn is 0, and the device table is complete by now. */
static u64 control_value(const struct iommu_hw *u)
{
    u8 f = u->fw->flags;
    u64 ctl = AMDVI_CTL_IOMMU_EN | AMDVI_CTL_CMD_BUF_EN | AMDVI_CTL_EVT_LOG_EN | AMDVI_CTL_COHERENT;
    ctl |= (f & AMDVI_IVHD_HT_TUN_EN) ? AMDVI_CTL_HT_TUN_EN : 0;
    ctl |= (f & AMDVI_IVHD_PASS_PW) ? AMDVI_CTL_PASS_PW : 0;
    ctl |= (f & AMDVI_IVHD_RES_PASS_PW) ? AMDVI_CTL_RES_PASS_PW : 0;
    ctl |= (f & AMDVI_IVHD_ISOC) ? AMDVI_CTL_ISOC : 0;
    return ctl;
}

static int amdvi_enable(struct iommu_hw *u, char *err, size_t errlen)
{
    if (!IS_ALIGNED(u->fw->base, AMDVI_MMIO_SIZE))
        return kerr_fmt(err, errlen, -EINVAL, "register base %#llx is not 16 KiB aligned",
                        (unsigned long long)u->fw->base);
    int rc = paging_map(u->fw->base, AMDVI_MMIO_SIZE, MAP_WRITE | MAP_UC);
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "cannot map its registers");
    u->regs = u->fw->base;
    u64 ctl = rd64(u, AMDVI_MMIO_CONTROL);
    u->amd.efr = rd64(u, AMDVI_MMIO_EFR);
    if (ctl == ~0ULL || u->amd.efr == ~0ULL)
        return kerr_fmt(err, errlen, -ENODEV, "its registers read all-ones");
    if (ctl & (AMDVI_CTL_IOMMU_EN | AMDVI_CTL_CMD_BUF_EN | AMDVI_CTL_EVT_LOG_EN | AMDVI_CTL_PPR_LOG_EN)) {
        if ((rc = stop_firmware_unit(u, ctl, err, errlen)) < 0)
            return rc;
    }
    /* Decided before the device table is built: its entries carry it. GAEn
     * and XTEn stay 0: 32-bit table entries with xAPIC destinations, as the
     * host runs its APICs in xAPIC mode. */
    u->ir = ioapic_named(u);
    if ((rc = alloc_tables(u, err, errlen)) < 0 || (rc = program(u, err, errlen)) < 0)
        return rc;
    wr64(u, AMDVI_MMIO_CONTROL, control_value(u));
    if ((rc = invalidate_all(u)) < 0) {
        /* A unit not used is left off, as the model reports it. */
        wr64(u, AMDVI_MMIO_CONTROL, 0);
        return kerr_fmt(err, errlen, rc, "does not complete its first invalidation (COMPLETION_WAIT)");
    }
    u->levels = 4;
    u->pages_2m = u->pages_1g = true; /* Next Level 0 at levels 2 and 3: every unit takes them */
    u->coherent = true;               /* see control_value() */
    u->attached = 0;
    ksnprintf(u->info, sizeof(u->info), "AMD-Vi, EFR %#llx, 2 MiB device table%s, %s", (unsigned long long)u->amd.efr,
              (u->amd.efr & AMDVI_EFR_IA_SUP) ? "" : ", no INVALIDATE_IOMMU_ALL",
              u->ir ? "interrupt remapping (a table per device, xAPIC)"
                    : "NO interrupt remapping (the IVRS names no I/O APIC)");
    u->on = true;
    return 0;
}

/* ---- attach, detach. */

static int amdvi_attach(struct iommu_hw *u, u16 rid, hpa_t root, u16 domain, u64 limit, char *err, size_t errlen)
{
    if (!u->on)
        return kerr_fmt(err, errlen, -EINVAL, "the unit is not on");
    if (domain == DOMAIN_NONE)
        return kerr_fmt(err, errlen, -ERANGE, "domain id 0 is the blocked entries'");
    if (limit > BIT(AMDVI_MODE4_BITS))
        return kerr_fmt(err, errlen, -ERANGE, "memory up to %#llx is past mode 4's %u-bit addresses",
                        (unsigned long long)limit, AMDVI_MODE4_BITS);
    if (!root || (root & ~AMDVI_ADDR_MASK))
        return kerr_fmt(err, errlen, -EINVAL, "table root %#llx is not a page below 4 PiB", (unsigned long long)root);
    /* Its interrupts stay as they are: attach changes only its DMA. */
    struct amdvi_dte want = amdvi_dte_translated(root, domain, AMDVI_MODE_4LEVEL);
    want.q[2] = dte_of(u, rid)->q[2];
    struct amdvi_dte old;
    int rc = dte_switch(u, rid, &want, domain, &old);
    if (rc < 0) {
        struct amdvi_dte blocked = dte_blocked(u);
        blocked.q[2] = want.q[2];
        dte_set(dte_of(u, rid), &blocked);
        return kerr_fmt(err, errlen, rc, "does not complete the invalidation for %02x:%02x.%u", rid >> 8,
                        (rid >> 3) & 0x1f, rid & 7);
    }
    if (!amdvi_dte_translates(&old))
        u->attached++;
    return 0;
}

/* Its DMA and its interrupts blocked: a table of its own it still has is
 * freed once the unit has confirmed it no longer uses it. */
static void amdvi_detach(struct iommu_hw *u, u16 rid, u16 domain)
{
    if (!u->on)
        return;
    const struct amdvi_dte blocked = dte_blocked(u);
    struct amdvi_dte old;
    int rc = dte_switch(u, rid, &blocked, domain, &old);
    if (amdvi_dte_translates(&old) && u->attached)
        u->attached--;
    if (rc < 0) {
        log_err(TAG,
                "iommu%u: %02x:%02x.%u blocked, but the unit does not confirm the invalidation: domain %u may "
                "still be cached",
                u->index, rid >> 8, (rid >> 3) & 0x1f, rid & 7, domain);
        return; /* its interrupt table, if any, is kept: the unit may still read it */
    }
    hpa_t own = irt_own(u, &old);
    if (own)
        irt_free(u, own);
}

/* ---- Interrupt remapping. */

static int amdvi_irq_set(struct iommu_hw *u, u16 rid, u32 index, u32 apic_id, u8 vector, u64 *addr, u32 *data)
{
    if (!u->on || !u->ir)
        return -ENOTSUP;
    if (apic_id > 0xff || index >= IRT_ENTRIES)
        return -ERANGE; /* xAPIC destinations only; indices that keep the message type fixed */
    struct amdvi_dte *d = dte_of(u, rid);
    hpa_t table = irt_own(u, d);
    bool fresh = !table;
    int rc;
    if (fresh && (rc = mm_alloc(0, IRT_PAGES, 1, 0, &table, NULL)) < 0)
        return rc;
    volatile u32 *e = irte_of(table, index);
    bool was = (*e & AMDVI_IRTE_REMAP_EN) != 0;
    /* One 32-bit store: the unit never sees half an entry. A new table is
     * complete before the DTE's quadword 2 names it, in one 64-bit store. */
    *e = amdvi_irte(vector, (u8)apic_id);
    if (fresh) {
        barrier();
        ((volatile u64 *)d)[2] = amdvi_dte_irq(table, IRT_LEN_LOG2);
    }
    if (!was)
        u->irq_entries++;
    if ((rc = irq_flush(u, rid, fresh)) < 0) {
        distrust(u, "an interrupt table entry", rid);
        return rc;
    }
    *addr = MSI_ADDR_BASE; /* destination and mode come from the entry */
    *data = index;
    return 0;
}

static void amdvi_irq_clear(struct iommu_hw *u, u16 rid, u32 index)
{
    if (!u->on || !u->ir || index >= IRT_ENTRIES)
        return;
    struct amdvi_dte *d = dte_of(u, rid);
    hpa_t table = irt_own(u, d);
    if (!table || !(*irte_of(table, index) & AMDVI_IRTE_REMAP_EN))
        return;
    *irte_of(table, index) = 0;
    u->irq_entries--;
    bool last = irt_used(table) == 0;
    if (last)
        ((volatile u64 *)d)[2] = irq_blocked(u);
    if (irq_flush(u, rid, last) < 0) {
        distrust(u, "an interrupt table entry", rid);
        return; /* the table is kept: the unit may still read it */
    }
    if (last)
        mm_release(table, IRT_PAGES);
}

/* ---- faults. */

/* After an overflow the unit logs nothing until software restarts the log
 * (2.5.1): logging off, EventOverflow cleared, logging on. The entries still
 * in the log stay valid. */
static void restart_event_log(struct iommu_hw *u)
{
    u64 ctl = rd64(u, AMDVI_MMIO_CONTROL);
    wr64(u, AMDVI_MMIO_CONTROL, ctl & ~AMDVI_CTL_EVT_LOG_EN);
    if (!wait_status(u, AMDVI_STS_EVT_LOG_RUN, 0))
        log_err(TAG, "iommu%u: the event log does not stop to restart", u->index);
    wr64(u, AMDVI_MMIO_STATUS, AMDVI_STS_EVT_OVERFLOW);
    wr64(u, AMDVI_MMIO_CONTROL, ctl | AMDVI_CTL_EVT_LOG_EN);
}

static void to_fault(const struct iommu_hw *u, const struct amdvi_event_info *e, struct iommu_fault *f)
{
    f->seg = u->fw->segment;
    f->rid = e->devid;
    f->addr = e->addr;
    f->write = e->write;
    /* A page fault is the device's request, blocked or not translated: a
     * memory access, or with I an interrupt (its entry without RemapEn, its
     * index past the table); everything else the unit logs is an error
     * report. */
    f->is_irq = e->irq;
    f->is_dma = e->code == AMDVI_EVT_IO_PAGE_FAULT && !e->irq;
    f->code = e->code;
    f->what = e->irq ? "interrupt aborted (IO_PAGE_FAULT, I)" : amdvi_event_name(e->code);
}

static u32 amdvi_faults(struct iommu_hw *u, struct iommu_fault *f, u32 max, u64 *lost)
{
    if (!u->on)
        return 0;
    u32 n = 0, head = u->amd.evt_head;
    u32 tail = (u32)(rd64(u, AMDVI_MMIO_EVT_TAIL) & AMDVI_RING_PTR_MASK) & (RING_BYTES - 1);
    while (head != tail && n < max) {
        volatile u64 *slot = hpa_to_ptr(u->amd.evt + head);
        struct amdvi_event e = { slot[0], slot[1] };
        /* The tail moved before the entry reached memory: read it next time. */
        if (!(e.lo >> AMDVI_EVT_CODE_SHIFT))
            break;
        const struct amdvi_event_info info = amdvi_event_decode(&e);
        to_fault(u, &info, &f[n++]);
        /* Consumed entries are zeroed, so the check above holds after the ring wraps. */
        slot[0] = 0;
        slot[1] = 0;
        head = (head + (u32)sizeof(e)) & (RING_BYTES - 1);
    }
    if (head != u->amd.evt_head) {
        u->amd.evt_head = head;
        wr64(u, AMDVI_MMIO_EVT_HEAD, head);
    }
    /* One overflow counts once: how many events it cost is not known. */
    if (rd64(u, AMDVI_MMIO_STATUS) & AMDVI_STS_EVT_OVERFLOW) {
        restart_event_log(u);
        (*lost)++;
    }
    return n;
}

const struct iommu_hw_ops amdvi_ops = {
    .vendor = "AMD-Vi",
    .enable = amdvi_enable,
    .attach = amdvi_attach,
    .detach = amdvi_detach,
    .faults = amdvi_faults,
    .irq_set = amdvi_irq_set,
    .irq_clear = amdvi_irq_clear,
};
