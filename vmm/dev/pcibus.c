/* The partition's PCI bus, as a device: a host bridge at 00:00.0, the
 * partition's assigned functions from 00:01.0 on and then its emulated ones
 * (the NIC). Configuration ports 0xCF8/0xCFC, I/O BARs of assigned devices
 * passed to the hardware (they never move off their host ports), memory BARs
 * of assigned devices mapped uncached in the second-level tables wherever the
 * guest puts them, and those of emulated functions trapped: every access to
 * them is a fault in the bus's MMIO windows, decoded and served by the
 * function. So are the pages of an assigned function's BAR that hold its
 * MSI-X table: left out of the mapping, served by vpci's shadow table. MSIs
 * and MSI-X entries are routed to the partition's vCPUs (vmm/dev/vmsi.c). */
#include "vmm/dev/pcibus.h"
#include "drivers/iommu_hw.h"
#include "vmm/dev/vmsi.h"
#include "vmm/exits.h"
#include "vmm/vdev.h"
#include "vmm/insn_decode.h"
#include "drivers/pci_access.h"
#include "arch/x86/paging.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/msi.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"
#include "kernel/core/log.h"

struct pcibus {
    struct vpci vpci;
    spinlock_t lock; /* the bus, its mappings and MSI routes */
    bool ready;      /* built for this run */
    u64 next32;      /* the next free address of the 32-bit window */
    struct vmsi_routes msi;
};

static struct pcibus buses[CONFIG_MAX_PARTITIONS];

static struct pcibus *bus_of(const struct partition *p) { return &buses[p->id]; }

/* The bus's callbacks (ctx: the struct pcibus), called with its lock held from
 * a vCPU of the partition. */
static int bar_map(void *ctx, gpa_t g, hpa_t h, u64 len)
{
    struct partition *p = ((struct pcibus *)ctx)->msi.p;
    int rc = slpt_map(&p->slpt, g, h, len, SLPT_R | SLPT_W, SLPT_UC);
    part_slpt_changed(p);
    return rc;
}

static int bar_unmap(void *ctx, gpa_t g, u64 len)
{
    struct partition *p = ((struct pcibus *)ctx)->msi.p;
    int rc = slpt_unmap(&p->slpt, g, len);
    part_slpt_changed(p);
    return rc;
}

/* The remapping unit that carries a route's interrupts, when it remaps them,
 * with the requester and the interrupt's index in the device: assigned
 * devices sit in slots 1..ndevs in the order of `devices`; route s is slot
 * s's MSI (index 0), vpci_msix_route(s, k) its MSI-X entry k (index 1 + k). */
static struct iommu_hw *irq_unit(const struct pcibus *b, u32 route, u16 *rid, u32 *index)
{
    const struct partition *p = b->msi.p;
    u32 slot = route, idx = 0;
    if (route > VPCI_MAX_DEVS) {
        slot = 1 + (route - VPCI_MAX_DEVS - 1) / VPCI_MSIX_MAX;
        idx = 1 + (route - VPCI_MAX_DEVS - 1) % VPCI_MSIX_MAX;
    }
    if (slot < 1 || slot > p->ndevs || !p->dma_unit[slot - 1] || !p->dma_unit[slot - 1]->ir)
        return NULL;
    const struct pci_dev *d = p->devs[slot - 1];
    *rid = (u16)(d->bus << 8 | d->dev << 3 | d->fn);
    *index = idx;
    return p->dma_unit[slot - 1];
}

/* The guest's message -> a host CPU and vector (vmm/dev/vmsi.c) -> with
 * interrupt remapping, an entry of the unit that only this device can use,
 * and the remappable message that names it. */
static int msi_route(void *ctx, u32 route, u64 gaddr, u32 gdata, u64 *haddr, u32 *hdata)
{
    struct pcibus *b = ctx;
    int rc = vmsi_route(&b->msi, route, gaddr, gdata, haddr, hdata);
    u16 rid;
    u32 index;
    struct iommu_hw *u = rc < 0 ? NULL : irq_unit(b, route, &rid, &index);
    if (!u)
        return rc;
    u32 apic = (u32)(*haddr >> MSI_ADDR_DEST_SHIFT) & MSI_ADDR_DEST_MASK;
    rc = u->ops->irq_set(u, rid, index, apic, (u8)(*hdata & MSI_DATA_VECTOR_MASK), haddr, hdata);
    if (rc < 0)
        vmsi_release(&b->msi, route);
    return rc;
}

static void msi_release(void *ctx, u32 route)
{
    struct pcibus *b = ctx;
    u16 rid;
    u32 index;
    struct iommu_hw *u = irq_unit(b, route, &rid, &index);
    if (u)
        u->ops->irq_clear(u, rid, index);
    vmsi_release(&b->msi, route);
}

/* An MSI-X table's pages in the hypervisor's own map, uncached; from attach
 * on CPU 0. Pages that were not mapped before need no other CPU's TLB
 * flushed, and a later start finds them mapped. */
static int host_map(void *ctx, hpa_t h, u64 len)
{
    (void)ctx;
    return paging_is_mapped(h, len) ? 0 : paging_map(h, len, MAP_WRITE | MAP_UC);
}

static u32 host_read32(void *ctx, hpa_t h)
{
    (void)ctx;
    return mmio_read32(h);
}

static void host_write32(void *ctx, hpa_t h, u32 v)
{
    (void)ctx;
    mmio_write32(h, v);
}

/* ---- what the guest does ---- */

static enum vdev_result cfg_pio(struct vm_vcpu *vc, void *dev, u16 port, u8 size, bool in, u32 *val)
{
    struct pcibus *b = dev;
    spin_lock(&b->lock);
    bool hit = vpci_port(&b->vpci, port, size, in, val);
    spin_unlock(&b->lock);
    return hit ? VDEV_DONE : VDEV_UNCLAIMED;
}

/* An I/O BAR of an assigned device, while its guest lets it decode. */
static enum vdev_result bar_pio(struct vm_vcpu *vc, void *dev, u16 port, u8 size, bool in, u32 *val)
{
    struct pcibus *b = dev;
    spin_lock(&b->lock);
    bool live = vpci_io_passthrough(&b->vpci, port, size);
    spin_unlock(&b->lock);
    if (!live)
        return VDEV_UNCLAIMED;
    vc->stats.pci_io++;
    if (in)
        *val = size == 4 ? inl(port) : size == 2 ? inw(port) : inb(port);
    else if (size == 4)
        outl(port, *val);
    else if (size == 2)
        outw(port, (u16)*val);
    else
        outb(port, (u8)*val);
    return VDEV_DONE;
}

/* A fault in an MMIO window: a trapped BAR of an emulated function, the
 * MSI-X table of an assigned one, or nothing the bus decodes. */
static enum vdev_result window_mmio(struct vm_vcpu *vc, void *dev, const struct vcpu_exit *e)
{
    struct pcibus *b = dev;
    u64 g = e->fault.gpa.v;
    spin_lock(&b->lock);
    enum vpci_trap hit = vpci_trapped(&b->vpci, g);
    spin_unlock(&b->lock);
    if (hit == VPCI_TRAP_NONE)
        return VDEV_UNCLAIMED;
    struct insn in;
    if (mmio_decode(vc, "a device's registers", &in) < 0)
        return VDEV_DONE;
    u64 *regs = vc->v.regs.gpr;
    u64 val = in.dir == INSN_READ ? 0 : insn_store_value(&in, regs[in.reg]);
    spin_lock(&b->lock);
    bool ok = vpci_mmio(&b->vpci, g, in.access_size, in.dir != INSN_READ, &val);
    spin_unlock(&b->lock);
    if (!ok) {
        part_fail(vc, "%u-byte access at %#llx straddles the end of a device's BAR", in.access_size,
                  (unsigned long long)g);
        return VDEV_DONE;
    }
    if (in.dir == INSN_READ)
        regs[in.reg] = insn_apply_read(&in, regs[in.reg], val);
    if (hit == VPCI_TRAP_EMU)
        vc->stats.nic_mmio++;
    vcpu_backend->advance_rip(&vc->v, in.len);
    return VDEV_DONE;
}

/* ---- lifecycle ---- */

static void pcibus_boot(void) { vmsi_init(); }

/* Every BAR gets a guest address in the MMIO window above the partition's RAM
 * (32-bit BARs below 4 GiB, 64-bit ones there too when they fit, else from
 * 64 GiB up). */
static int pcibus_attach(struct partition *p, char *err, size_t errlen)
{
    struct pcibus *b = bus_of(p);
    const struct vpci_ops ops = {
        .cfg = pci_access_ops(),
        .map = bar_map,
        .unmap = bar_unmap,
        .msi_route = msi_route,
        .msi_release = msi_release,
        .host_map = host_map,
        .mmio_read32 = host_read32,
        .mmio_write32 = host_write32,
        .ctx = b,
    };
    spin_lock(&b->lock);
    vpci_init(&b->vpci, &ops, p->cfg->name, p->id, part_phys_limit());
    memset(&b->msi, 0, sizeof(b->msi));
    b->msi.p = p;
    spin_unlock(&b->lock);
    int rc = vpci_forbid(&b->vpci, 0, p->memory);
    if (!rc)
        rc = vpci_forbid(&b->vpci, LAYOUT_MMIO32_END, GiB(4));
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "cannot set up the virtual PCI bus");
    b->next32 = part_mmio32_base(p);
    u64 next64 = LAYOUT_MMIO64_BASE;
    bool high = false; /* an MSI-X table in a 64-bit BAR: it may trap above 4 GiB */
    for (u32 i = 0; i < p->ndevs; i++) {
        const struct pci_dev *d = p->devs[i];
        char why[160];
        rc = vpci_add(&b->vpci, p->devs[i], &b->next32, LAYOUT_MMIO32_END, &next64, why, sizeof(why));
        if (rc < 0)
            return kerr_fmt(err, errlen, rc, "PCI device %04x:%02x:%02x.%u: %s", d->seg, d->bus, d->dev, d->fn, why);
        for (u32 k = 0; k < PCI_NUM_BARS; k++) {
            const struct vpci_bar *bar = &b->vpci.dev[b->vpci.ndev - 1].bar[k];
            if (bar->kind == PCI_BAR_KIND_IO &&
                (rc = vdev_claim_pio(p, (u16)bar->host, (u16)bar->size, bar_pio, b, "pci")) < 0)
                return kerr_fmt(err, errlen, rc, "PCI device %04x:%02x:%02x.%u: I/O BAR at %#llx", d->seg, d->bus,
                                d->dev, d->fn, (unsigned long long)bar->host);
        }
        const struct vpci_dev *v = &b->vpci.dev[b->vpci.ndev - 1];
        high |= v->mx.n && v->bar[v->mx.bir].kind == PCI_BAR_MEM64;
    }
    /* The guest may move a BAR of an emulated function, or one holding an
     * MSI-X table, anywhere above its RAM in the 32-bit window, and a 64-bit
     * one anywhere from 4 GiB to its physical limit (vpci refuses the rest):
     * the whole of both is claimed, so the trap follows the BAR. */
    rc = vdev_claim_pio(p, VPCI_PORT_ADDR, VPCI_PORT_DATA + sizeof(u32) - VPCI_PORT_ADDR, cfg_pio, b, "pci");
    if (!rc && p->memory < LAYOUT_MMIO32_END)
        rc = vdev_claim_mmio(p, gpa(p->memory), LAYOUT_MMIO32_END - p->memory, window_mmio, b, "pci");
    if (!rc && high && part_phys_limit() > GiB(4))
        rc = vdev_claim_mmio(p, gpa(GiB(4)), part_phys_limit() - GiB(4), window_mmio, b, "pci");
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "cannot claim the PCI configuration ports and window");
    b->ready = true;
    return 0;
}

int pcibus_add_emu(struct partition *p, const struct vpci_emu *emu, const u64 bars[PCI_NUM_BARS], const char *what,
                   char *err, size_t errlen)
{
    struct pcibus *b = bus_of(p);
    char why[120];
    int rc = vpci_add_emu(&b->vpci, emu, bars, &b->next32, LAYOUT_MMIO32_END, why, sizeof(why));
    return rc < 0 ? kerr_fmt(err, errlen, rc, "%s: %s", what, why) : 0;
}

int pcibus_bar_at(const struct partition *p, u32 slot, u32 bar, u64 *at, u32 *reg)
{
    const struct pcibus *b = bus_of(p);
    if (!b->ready || !slot || slot > b->vpci.ndev || bar >= PCI_NUM_BARS)
        return -ENOENT;
    const struct vpci_bar *r = &b->vpci.dev[slot - 1].bar[bar];
    *at = r->mapped_at;
    *reg = r->reg;
    return r->mapped;
}

/* Devices stop decoding, DMA and interrupts; used on failure (memory kept for
 * inspection) and before the memory goes. */
static void pcibus_quiesce(struct partition *p)
{
    struct pcibus *b = bus_of(p);
    spin_lock(&b->lock);
    if (b->ready)
        vpci_quiesce(&b->vpci);
    spin_unlock(&b->lock);
}

/* After pcibus_quiesce (the core quiesces every device before detaching). */
static void pcibus_detach(struct partition *p)
{
    struct pcibus *b = bus_of(p);
    spin_lock(&b->lock);
    b->ready = false;
    spin_unlock(&b->lock);
}

/* A device's MSI-X: where its table is, trapped where, and each live entry's
 * route. */
static void pcibus_show_msix(const struct pcibus *b, const struct vpci_dev *v, char *buf, size_t len, size_t *np)
{
    size_t n = *np;
#define OUT(...) (n += n < len ? (size_t)ksnprintf(buf + n, len - n, __VA_ARGS__) : 0)
    const struct vpci_msix *x = &v->mx;
    if (!x->n) {
        OUT("    MSI-X: %s\n", v->msix ? "hidden" : "none");
        *np = n;
        return;
    }
    const struct vpci_bar *bar = &v->bar[x->bir];
    OUT("    MSI-X: %u entries (%u usable), table BAR%u+%#x, PBA BAR%u+%#x, %s%s", x->n, x->usable, x->bir, x->table,
        x->pba_bir, x->pba, (x->ctrl & MSIX_CTRL_ENABLE) ? "enabled" : "off",
        (x->ctrl & MSIX_CTRL_MASKALL) ? ", masked" : "");
    if (bar->mapped)
        OUT(", trapped at guest %#llx, %llu KiB\n", (unsigned long long)(bar->mapped_at + x->trap_off),
            (unsigned long long)(x->trap_len >> 10));
    else
        OUT("\n");
    for (u32 k = 0; k < x->usable; k++) {
        const __typeof__(b->msi.route[0]) *m = &b->msi.route[vpci_msix_route(v->slot, k)];
        if ((x->live & BIT(k)) && m->used)
            OUT("    MSI-X %u: guest vector %#x -> CPU %u vector %#x\n", k, x->e[k].data & MSI_DATA_VECTOR_MASK, m->cpu,
                m->hvec);
        else if (x->refused & BIT(k))
            OUT("    MSI-X %u: refused (address %#x, data %#x)\n", k, x->e[k].addr_lo, x->e[k].data);
    }
#undef OUT
    *np = n;
}

/* Each assigned device: where it sits on the partition's bus, its BARs as the
 * guest placed them, its MSI-X and MSI routes; then the bus's counters. */
static size_t pcibus_show(const struct partition *p, char *buf, size_t len)
{
    const struct pcibus *b = bus_of(p);
    size_t n = 0;
#define OUT(...) (n += n < len ? (size_t)ksnprintf(buf + n, len - n, __VA_ARGS__) : 0)
    for (u32 i = 0; i < p->ndevs; i++) {
        const struct pci_dev *d = p->devs[i];
        OUT("  device %04x:%02x:%02x.%u (%04x:%04x, node %d) as 00:%02x.0", d->seg, d->bus, d->dev, d->fn, d->vendor,
            d->device, d->node, i + 1);
        if (!b->ready) {
            OUT(" (not running)\n");
            continue;
        }
        const struct vpci_dev *v = &b->vpci.dev[i];
        OUT(", command %#x\n", v->cmd);
        for (u32 k = 0; k < PCI_NUM_BARS; k++) {
            const struct vpci_bar *bar = &v->bar[k];
            if (bar->kind == PCI_BAR_NONE)
                continue;
            if (bar->kind == PCI_BAR_KIND_IO)
                OUT("    BAR%u: I/O ports %#llx, %llu bytes\n", k, (unsigned long long)bar->host,
                    (unsigned long long)bar->size);
            else if (bar->mapped)
                OUT("    BAR%u: guest %#llx -> host %#llx, %llu KiB\n", k, (unsigned long long)bar->mapped_at,
                    (unsigned long long)bar->host, (unsigned long long)(bar->size >> 10));
            else
                OUT("    BAR%u: host %#llx, %llu KiB, not mapped (decoding off)\n", k, (unsigned long long)bar->host,
                    (unsigned long long)(bar->size >> 10));
        }
        pcibus_show_msix(b, v, buf, len, &n);
        const __typeof__(b->msi.route[0]) *m = &b->msi.route[vpci_msi_route(i + 1)];
        if (v->msi_live && m->used)
            OUT("    MSI: guest vector %#x -> CPU %u vector %#x\n", v->msi_data & MSI_DATA_VECTOR_MASK, m->cpu,
                m->hvec);
        else
            OUT("    MSI: %s\n", v->msi ? "off" : "none");
        static const char *const fault_action[] = { "log", "reset", "fail" };
        const struct dma_health *hl = &p->dma_health[i];
        if (p->dma_unit[i])
            OUT("    DMA: remapped by iommu%u, domain %u, %llu faults", p->dma_unit[i]->index, p->id + 1,
                (unsigned long long)d->dma_faults);
        else
            OUT("    DMA: NOT remapped: it can reach all host memory");
        OUT("; device_fault = \"%s\": acted %u times, %u resets%s\n", fault_action[p->cfg->device_fault[i] % 3],
            hl->actions, hl->resets, hl->silent ? ", NOT ANSWERING" : "");
    }
#undef OUT
    return MIN(n, len ? len - 1 : 0);
}

/* The bus's counters, after what sits on it (the NIC) has shown itself. */
static size_t pcibus_show_stats(const struct partition *p, char *buf, size_t len)
{
    const struct pcibus *b = bus_of(p);
    size_t n = 0;
#define OUT(...) (n += n < len ? (size_t)ksnprintf(buf + n, len - n, __VA_ARGS__) : 0)
    if (p->ndevs && b->ready) {
        const struct vpci_stats *st = &b->vpci.stats;
        OUT("  pci bus: %llu config reads, %llu writes (%llu dropped), %llu BAR placements refused, "
            "%llu MSI routes (%llu refused), %llu MSI-X routes (%llu refused, %llu table accesses dropped)\n",
            (unsigned long long)st->cfg_reads, (unsigned long long)st->cfg_writes,
            (unsigned long long)st->writes_dropped, (unsigned long long)st->bar_refused,
            (unsigned long long)st->msi_routed, (unsigned long long)st->msi_refused,
            (unsigned long long)st->msix_routed, (unsigned long long)st->msix_refused,
            (unsigned long long)st->msix_bad);
    }
    if (p->ndevs)
        OUT("  DMA faults: %llu (all runs)%s\n", (unsigned long long)p->dma_faults,
            p->dma_ready ? "" : (b->ready ? ", devices not remapped" : ""));
#undef OUT
    return MIN(n, len ? len - 1 : 0);
}

VDEV_REGISTER(pcibus, .name = "pci", .order = PCIBUS_ORDER, .boot = pcibus_boot, .attach = pcibus_attach,
              .quiesce = pcibus_quiesce, .detach = pcibus_detach, .show = pcibus_show);
/* Its counters are shown last, as `parts -v` always showed them. */
VDEV_REGISTER(pcibus_stats, .name = "pci counters", .order = PCIBUS_ORDER + 90, .show = pcibus_show_stats);
