/* See dma.h. */
#include "vmm/dma.h"
#include "vmm/partition.h"
#include "drivers/iommu_hw.h"
#include "drivers/machine.h"
#include "drivers/pci_access.h"
#include "drivers/pci_reset.h"
#include "kernel/core/time.h"
#include "arch/x86/hw/cpu.h"
#include "kernel/core/log.h"
#include "kernel/core/log_limit.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

#define TAG             "iommu"
#define FAULTS_PER_POLL 16      /* per unit and tick: a storm is read over several ticks */
#define WINDOW_US       1000000 /* device_fault_limit counts faults in one second */
#define HEALTH_US       1000000 /* assigned devices' configuration read this often */

static u16 rid_of(const struct pci_dev *d) { return (u16)(d->bus << 8 | d->dev << 3 | d->fn); }

/* Domain ids: 0 is reserved on VT-d (CAP.CM units tag invalid entries with it). */
static u16 domain_of(const struct partition *p) { return (u16)(p->id + 1); }

struct iommu_hw *dma_unit_of(const struct pci_dev *d, char *why, size_t len)
{
    return iommu_hw_for(&machine.iommu, &machine.iommu_hw, d->seg, d->bus, (u8)(d->dev << 3 | d->fn), why, len);
}

static void flush_table(void *ctx, hpa_t pa)
{
    (void)ctx;
    clflush_range(hpa_to_ptr(pa), PAGE_SIZE);
}

int dma_attach(struct partition *p, char *err, size_t errlen)
{
    for (u32 i = 0; i < p->ndevs; i++) {
        p->dma_health[i].window_faults = 0;
        p->dma_health[i].silent = false;
    }
    struct iommu_hw *first = NULL;
    bool coherent = true, no_2m = false, g1 = true;
    for (u32 i = 0; i < p->ndevs; i++) {
        char why[IOMMU_HW_WHY_MAX];
        p->dma_unit[i] = dma_unit_of(p->devs[i], why, sizeof(why));
        struct iommu_hw *u = p->dma_unit[i];
        if (!u)
            continue;
        if (!first)
            first = u;
        coherent &= u->coherent;
        no_2m |= !u->pages_2m;
        g1 &= u->pages_1g;
    }
    if (!first)
        return 0;
    struct slpt_ops ops;
    part_table_ops(p, &ops);
    unsigned flags = (no_2m ? SLPT_NO_2M : 0) | (g1 && !no_2m ? SLPT_ALLOW_1G : 0);
    int rc = slpt_init(&p->dma_pt, (enum slpt_format)iommu_hw_format(first), &ops, flags);
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "no memory for DMA remapping tables");
    p->dma_ready = true;
    /* Devices read and write its RAM, never execute; nothing else of the host
     * (not even its MMIO window: no peer-to-peer DMA) is in the domain. */
    if ((rc = part_map_ram(p, &p->dma_pt, SLPT_R | SLPT_W)) < 0)
        return kerr_fmt(err, errlen, rc, "cannot map its memory for DMA");
    if (!coherent)
        slpt_for_each_table(&p->dma_pt, flush_table, NULL);
    for (u32 i = 0; i < p->ndevs; i++) {
        struct iommu_hw *u = p->dma_unit[i];
        const struct pci_dev *d = p->devs[i];
        if (!u)
            continue;
        char why[IOMMU_HW_WHY_MAX];
        if ((rc = u->ops->attach(u, rid_of(d), slpt_root(&p->dma_pt), domain_of(p), p->memory, why, sizeof(why))) < 0) {
            p->dma_unit[i] = NULL; /* not attached: nothing to detach */
            return kerr_fmt(err, errlen, rc, "PCI %04x:%02x:%02x.%u: iommu%u refused its DMA domain: %s", d->seg,
                            d->bus, d->dev, d->fn, u->index, why);
        }
    }
    return 0;
}

void dma_detach(struct partition *p)
{
    for (u32 i = 0; i < p->ndevs; i++) {
        struct iommu_hw *u = p->dma_unit[i];
        if (u)
            u->ops->detach(u, rid_of(p->devs[i]), domain_of(p));
        p->dma_unit[i] = NULL;
    }
    if (p->dma_ready) {
        slpt_destroy(&p->dma_pt);
        p->dma_ready = false;
    }
}

static struct pci_dev *dev_by_rid(u16 seg, u16 rid)
{
    for (u32 i = 0; i < machine.pci.count; i++) {
        struct pci_dev *d = &machine.pci.dev[i];
        if (d->seg == seg && rid_of(d) == rid)
            return d;
    }
    return NULL;
}

static const char *const action_names[] = { "log", "reset", "fail" };

static void bdf_text(const struct pci_dev *d, char *buf, size_t len)
{
    ksnprintf(buf, len, "%04x:%02x:%02x.%u", d->seg, d->bus, d->dev, d->fn);
}

/* device_fault for device i of p: what `why` (its repeated faults, its
 * silence) brings. */
static void act(struct partition *p, u32 i, const char *why)
{
    struct pci_dev *d = p->devs[i];
    struct dma_health *h = &p->dma_health[i];
    u8 action = p->cfg->device_fault[i];
    char bdf[16], msg[PART_REASON_MAX];
    bdf_text(d, bdf, sizeof(bdf));
    h->actions++;
    if (action == DEV_FAULT_LOG) {
        log_limited(p->id, LOGR_DMA, LOG_WARN, TAG, "%s: PCI %s %s (device_fault = \"log\": nothing done)",
                    p->cfg->name, bdf, why);
        return;
    }
    if (action == DEV_FAULT_RESET) {
        enum pci_reset_how how;
        char err[96];
        int rc = pci_reset_function(pci_access_ops(), &machine.pci, d, time_delay_us, &how, err, sizeof(err));
        if (rc == 0) {
            h->resets++;
            h->window_faults = 0;
            log_warn(TAG, "%s: PCI %s %s: reset by %s (reset %u), the partition goes on", p->cfg->name, bdf, why,
                     how == PCI_RESET_FLR ? "function level reset" : "secondary bus reset", h->resets);
            return;
        }
        ksnprintf(msg, sizeof(msg), "PCI %s %s and cannot be reset (%s)", bdf, why, err);
    } else {
        ksnprintf(msg, sizeof(msg), "PCI %s %s (device_fault = \"%s\")", bdf, why, action_names[action]);
    }
    part_fail_host(p, msg);
}

static void count_fault(struct partition *p, const struct pci_dev *d)
{
    if (p->state != PART_RUNNING)
        return;
    for (u32 i = 0; i < p->ndevs; i++) {
        if (p->devs[i] != d)
            continue;
        struct dma_health *h = &p->dma_health[i];
        u64 now = time_now_us();
        if (now - h->window_us >= WINDOW_US) {
            h->window_us = now;
            h->window_faults = 0;
        }
        if (++h->window_faults == p->cfg->device_fault_limit + 1) {
            char why[64];
            ksnprintf(why, sizeof(why), "made %u DMA faults within 1 s (device_fault_limit %u)", h->window_faults,
                      p->cfg->device_fault_limit);
            act(p, i, why);
        }
    }
}

/* A device that no longer answers its configuration reads (surprise removal,
 * a hung link, a function stuck in reset) is acted on once, until it answers
 * again. */
static void check_health(void)
{
    static u64 last;
    u64 now = time_now_us();
    if (now - last < HEALTH_US)
        return;
    last = now;
    for (u32 k = 0; k < npartitions; k++) {
        struct partition *p = &partitions[k];
        if (p->state != PART_RUNNING)
            continue;
        for (u32 i = 0; i < p->ndevs; i++) {
            struct dma_health *h = &p->dma_health[i];
            bool answers = pci_answers(pci_access_ops(), p->devs[i]);
            if (!answers && !h->silent) {
                h->silent = true;
                act(p, i, "stopped answering (its configuration space reads all-ones)");
            } else if (answers && h->silent) {
                char bdf[16];
                bdf_text(p->devs[i], bdf, sizeof(bdf));
                h->silent = false;
                log_info(TAG, "%s: PCI %s answers again", p->cfg->name, bdf);
            }
        }
    }
}

static void report(struct iommu_hw *u, const struct iommu_fault *f)
{
    struct pci_dev *d = dev_by_rid(f->seg, f->rid);
    struct partition *p = d ? part_find(d->owner) : NULL;
    u32 key = p ? p->id : LOG_LIMIT_HOST;
    if (d)
        d->dma_faults++;
    if (p)
        p->dma_faults++;
    char who[48];
    if (p)
        ksnprintf(who, sizeof(who), "%s", p->cfg->name);
    else
        ksnprintf(who, sizeof(who), "%s", d ? "owned by no partition" : "unknown requester");
    if (f->is_dma)
        log_limited(key, LOGR_DMA, LOG_WARN, TAG,
                    "iommu%u: DMA %s at %#llx from PCI %04x:%02x:%02x.%u (%s) blocked: %s (reason %#x)", u->index,
                    f->write ? "write" : "read", (unsigned long long)f->addr, f->seg, f->rid >> 8, (f->rid >> 3) & 0x1f,
                    f->rid & 7, who, f->what, f->code);
    else
        log_limited(key, LOGR_DMA, LOG_WARN, TAG, "iommu%u: %s (event %#x) for PCI %04x:%02x:%02x.%u (%s)", u->index,
                    f->what, f->code, f->seg, f->rid >> 8, (f->rid >> 3) & 0x1f, f->rid & 7, who);
    if (p && f->is_dma)
        count_fault(p, d);
}

void dma_poll(void)
{
    check_health();
    struct iommu_units *us = &machine.iommu_hw;
    for (u32 i = 0; i < us->n; i++) {
        struct iommu_hw *u = &us->unit[i];
        if (!u->on)
            continue;
        struct iommu_fault f[FAULTS_PER_POLL];
        u64 lost = u->lost;
        u32 n = u->ops->faults(u, f, FAULTS_PER_POLL, &u->lost);
        u->faults += n;
        for (u32 k = 0; k < n; k++)
            report(u, &f[k]);
        if (u->lost != lost)
            log_limited(LOG_LIMIT_HOST, LOGR_DMA, LOG_WARN, TAG,
                        "iommu%u: fault records overflowed (%llu times in all)", u->index, (unsigned long long)u->lost);
    }
}
