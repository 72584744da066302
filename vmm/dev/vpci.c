/* See vpci.h. Config accesses are handled a dword at a time: a narrower write
 * is merged into the guest's view of its dword first, then the dword's fields
 * are applied one by one. */
#include "vmm/dev/vpci.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/core/log_limit.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"
#include "net/virtio.h" /* MSIX_ENTRY_*: the MSI-X table entry (PCI 3.0 6.8.2.6) */

#define GiB4           0x100000000ULL
#define CMD_GUEST_BITS (PCI_CMD_IO | PCI_CMD_MEM | PCI_CMD_MASTER | PCI_CMD_PARITY | PCI_CMD_SERR)
#define PM_CTRL        4    /* PMCSR; bit 15 PME_Status is RW1C */
#define PCIE_DEVCTL    8    /* device control | device status (RW1C) */
#define PCIE_LNKCTL    0x10 /* link control | link status (RW1C bits) */
#define PCIE_DEVCTL2   0x28

/* ---- host config space of an assigned function ---- */

/* For an emulated function these reach its own config space instead. */
static u32 hw_rd(const struct vpci *v, const struct vpci_dev *d, u16 off)
{
    if (d->emu)
        return d->emu->cfg_read(d->emu->ctx, off);
    const struct pci_cfg_ops *c = v->ops.cfg;
    return c->read32(c->ctx, d->hw->seg, d->hw->bus, d->hw->dev, d->hw->fn, off);
}

static void hw_wr(const struct vpci *v, const struct vpci_dev *d, u16 off, u32 val)
{
    if (d->emu) {
        if (off == PCI_COMMAND)
            d->emu->set_command(d->emu->ctx, d->cmd);
        return;
    }
    const struct pci_cfg_ops *c = v->ops.cfg;
    c->write32(c->ctx, d->hw->seg, d->hw->bus, d->hw->dev, d->hw->fn, off, val);
}

/* What the device's command register holds for the guest's: INTx is never
 * delivered, so it stays disabled in the hardware. */
static u16 hw_cmd(const struct vpci_dev *d) { return (u16)((d->cmd & CMD_GUEST_BITS) | PCI_CMD_INTX_OFF); }

static void dropped(struct vpci *v, struct vpci_dev *d, u16 off)
{
    v->stats.writes_dropped++;
    if (!d || d->warned)
        return;
    d->warned = true;
    log_limited(v->part, LOGR_PCI_WRITE, LOG_WARN, "vpci",
                "%s: write to config offset %#x of 00:%02x.0 dropped (read-only or not passed "
                "through; further ones are only counted)",
                v->name, off, d->slot);
}

/* A write to a register that the PCI specification lets a function hardwire
 * to zero, and that every enumeration writes to learn just that: an
 * unimplemented BAR or expansion ROM BAR, sized by writing all-ones (PCI
 * Local Bus 3.0, 6.2.5.1 and 6.2.5.2), and the cache line size and latency
 * timer of an emulated function, read-only zero as on PCI Express (Linux's
 * pcibios_set_master writes the latter when a driver enables bus mastering).
 * Counted with the dropped writes, but no sign of a confused driver: a stock
 * kernel's probe must not spend the function's one warning. */
static void hardwired(struct vpci *v) { v->stats.writes_dropped++; }

/* ---- BARs ---- */

static bool is_mem(const struct vpci_bar *b) { return b->kind == PCI_BAR_MEM32 || b->kind == PCI_BAR_MEM64; }

static u64 bar_addr(const struct vpci_dev *d, u32 i)
{
    const struct vpci_bar *b = &d->bar[i];
    if (b->kind == PCI_BAR_KIND_IO)
        return b->reg & ~3u;
    u64 a = b->reg & ~0xfu;
    if (b->kind == PCI_BAR_MEM64)
        a |= (u64)d->bar[i + 1].reg << 32;
    return a;
}

/* The guest wrote all-ones to find the size: the register holds its mask. */
static bool bar_sizing(const struct vpci_dev *d, u32 i)
{
    const struct vpci_bar *b = &d->bar[i];
    u64 mask = ~(b->size - 1);
    u32 flags = b->kind == PCI_BAR_KIND_IO ? 3u : 0xfu;
    if ((b->reg & ~flags) == ((u32)mask & ~flags))
        return true;
    return b->kind == PCI_BAR_MEM64 && (mask >> 32) == 0xffffffffULL && d->bar[i + 1].reg == 0xffffffffu;
}

static bool overlaps(u64 a, u64 alen, u64 b, u64 blen) { return a < b + blen && b < a + alen; }

/* Why a memory BAR may not sit at addr, or NULL when it may. */
static const char *bar_refusal(const struct vpci *v, const struct vpci_dev *d, u32 i, u64 addr)
{
    const struct vpci_bar *b = &d->bar[i];
    if (addr + b->size < addr || addr + b->size > v->phys_limit)
        return "past the partition's physical address width";
    if (b->kind == PCI_BAR_MEM32 && addr + b->size > GiB4)
        return "above 4 GiB for a 32-bit BAR";
    for (u32 k = 0; k < v->nforbidden; k++)
        if (overlaps(addr, b->size, v->forbidden[k].start, v->forbidden[k].end - v->forbidden[k].start))
            return "over the partition's RAM or reserved system range";
    for (u32 n = 0; n < v->ndev; n++) {
        const struct vpci_dev *o = &v->dev[n];
        for (u32 j = 0; j < PCI_NUM_BARS; j++) {
            const struct vpci_bar *ob = &o->bar[j];
            if ((o == d && j == i) || !is_mem(ob))
                continue;
            /* Another device's BAR counts where it is decoded; this device's
             * others wherever their registers point. */
            if (o != d && !ob->mapped)
                continue;
            u64 oa = o == d ? bar_addr(o, j) : ob->mapped_at;
            if (o == d && bar_sizing(o, j))
                continue;
            if (overlaps(addr, b->size, oa, ob->size))
                return "over another BAR of the partition";
        }
    }
    return NULL;
}

/* The parts of memory BAR i mapped straight onto the device, as (offset,
 * length) pairs: all of it, or what lies around its trapped MSI-X table
 * pages (none when those fill it). Returns how many. */
static u32 bar_pieces(const struct vpci_dev *d, u32 i, u64 off[2], u64 len[2])
{
    u64 size = d->bar[i].size;
    if (!d->mx.n || d->mx.bir != i) {
        off[0] = 0;
        len[0] = size;
        return 1;
    }
    u32 n = 0;
    u64 end = d->mx.trap_off + d->mx.trap_len;
    if (d->mx.trap_off) {
        off[n] = 0;
        len[n++] = d->mx.trap_off;
    }
    if (end < size) {
        off[n] = end;
        len[n++] = size - end;
    }
    return n;
}

static void bar_unmap(struct vpci *v, struct vpci_dev *d, u32 i, u64 at, u32 npieces)
{
    u64 off[2], len[2];
    u32 n = MIN(bar_pieces(d, i, off, len), npieces);
    for (u32 k = 0; k < n; k++)
        if (v->ops.unmap(v->ops.ctx, gpa(at + off[k]), len[k]) < 0)
            log_limited(v->part, LOGR_BAR_MAP, LOG_ERROR, "vpci", "%s: cannot unmap BAR %u of 00:%02x.0", v->name, i,
                        d->slot);
}

static bool bar_map(struct vpci *v, struct vpci_dev *d, u32 i, u64 addr)
{
    const struct vpci_bar *b = &d->bar[i];
    u64 off[2], len[2];
    u32 n = bar_pieces(d, i, off, len);
    for (u32 k = 0; k < n; k++) {
        if (v->ops.map(v->ops.ctx, gpa(addr + off[k]), b->host + off[k], len[k]) < 0) {
            log_limited(v->part, LOGR_BAR_MAP, LOG_ERROR, "vpci", "%s: cannot map BAR %u of 00:%02x.0 at %#llx",
                        v->name, i, d->slot, (unsigned long long)addr);
            bar_unmap(v, d, i, addr, k);
            return false;
        }
    }
    return true;
}

/* Makes BAR i's mapping match the guest's registers: mapped at its address
 * while memory decoding is on and the address is allowed, unmapped otherwise.
 * The MSI-X table's pages are never mapped: they trap wherever the BAR is. */
static void bar_sync(struct vpci *v, struct vpci_dev *d, u32 i)
{
    struct vpci_bar *b = &d->bar[i];
    if (!is_mem(b))
        return;
    u64 addr = bar_addr(d, i);
    bool want = (d->cmd & PCI_CMD_MEM) && !bar_sizing(d, i) && !bar_refusal(v, d, i, addr);
    if (d->emu) {
        /* Trapped, never mapped: "mapped" only says where it decodes. */
        b->mapped = want;
        b->mapped_at = addr;
        return;
    }
    if (b->mapped && (!want || b->mapped_at != addr)) {
        bar_unmap(v, d, i, b->mapped_at, 2);
        b->mapped = false;
    }
    if (want && !b->mapped && bar_map(v, d, i, addr)) {
        b->mapped = true;
        b->mapped_at = addr;
    }
}

static void bars_sync(struct vpci *v, struct vpci_dev *d)
{
    for (u32 i = 0; i < PCI_NUM_BARS; i++)
        bar_sync(v, d, i);
}

static void refuse_bar(struct vpci *v, const struct vpci_dev *d, u32 i, u64 addr, const char *why)
{
    v->stats.bar_refused++;
    log_limited(v->part, LOGR_BAR, LOG_WARN, "vpci", "%s: BAR %u of 00:%02x.0 (%llu KiB) at %#llx refused: %s", v->name,
                i, d->slot, (unsigned long long)(d->bar[i].size >> 10), (unsigned long long)addr, why);
}

/* A write to BAR register i (already merged with the guest's view). */
static void bar_write(struct vpci *v, struct vpci_dev *d, u32 i, u32 val)
{
    struct vpci_bar *b = &d->bar[i];
    u32 base = i;
    if (b->kind == PCI_BAR_NONE) {
        if (i == 0 || d->bar[i - 1].kind != PCI_BAR_MEM64) {
            hardwired(v);
            return;
        }
        base = i - 1; /* the upper half of a 64-bit BAR */
    }
    struct vpci_bar *bb = &d->bar[base];
    u64 mask = ~(bb->size - 1);
    u32 old = b->reg, nv;
    if (b != bb)
        nv = val & (u32)(mask >> 32);
    else if (b->kind == PCI_BAR_KIND_IO)
        nv = (val & (u32)mask & ~3u) | PCI_BAR_IO;
    else
        nv = (val & (u32)mask & ~0xfu) | (old & 0xfu);
    b->reg = nv;
    u16 on = bb->kind == PCI_BAR_KIND_IO ? PCI_CMD_IO : PCI_CMD_MEM;
    /* With decoding off any value may sit in the register: it is checked when
     * decoding is turned on. With it on, only sizing and allowed places. */
    if ((d->cmd & on) && !bar_sizing(d, base)) {
        u64 addr = bar_addr(d, base);
        const char *why = bb->kind == PCI_BAR_KIND_IO ? (addr != bb->host ? "I/O BARs stay at their host ports" : NULL)
                                                      : bar_refusal(v, d, base, addr);
        if (why) {
            b->reg = old;
            refuse_bar(v, d, base, addr, why);
            return;
        }
    }
    bar_sync(v, d, base);
}

static u32 bar_read(const struct vpci_dev *d, u32 i)
{
    const struct vpci_bar *b = &d->bar[i];
    if (b->kind != PCI_BAR_NONE || (i > 0 && d->bar[i - 1].kind == PCI_BAR_MEM64))
        return b->reg;
    return 0;
}

/* ---- command register ---- */

static void command_write(struct vpci *v, struct vpci_dev *d, u16 val)
{
    u16 want = val & CMD_GUEST_BITS;
    if ((want & PCI_CMD_MEM) && !(d->cmd & PCI_CMD_MEM)) {
        for (u32 i = 0; i < PCI_NUM_BARS; i++) {
            if (!is_mem(&d->bar[i]))
                continue;
            u64 addr = bar_addr(d, i);
            const char *why = bar_sizing(d, i) ? "the BAR holds its size mask, not an address"
                                               : bar_refusal(v, d, i, addr);
            if (why) {
                refuse_bar(v, d, i, addr, why);
                want &= (u16)~PCI_CMD_MEM;
                break;
            }
        }
    }
    if ((want & PCI_CMD_IO) && !(d->cmd & PCI_CMD_IO)) {
        for (u32 i = 0; i < PCI_NUM_BARS; i++) {
            if (d->bar[i].kind == PCI_BAR_KIND_IO && bar_addr(d, i) != d->bar[i].host) {
                refuse_bar(v, d, i, bar_addr(d, i), "I/O BARs stay at their host ports");
                want &= (u16)~PCI_CMD_IO;
                break;
            }
        }
    }
    bool off = (d->cmd & ~want) != 0;
    d->cmd = want;
    /* Decoding goes off in the device before the mapping goes, and on after. */
    if (off)
        hw_wr(v, d, PCI_COMMAND, hw_cmd(d));
    bars_sync(v, d);
    if (!off)
        hw_wr(v, d, PCI_COMMAND, hw_cmd(d));
}

/* ---- MSI ---- */

static u32 msi_len(const struct vpci_dev *d)
{
    u32 n = (d->msi_ctrl & MSI_CTRL_64BIT) ? 0x10 : 0x0c;
    return n + ((d->msi_ctrl & MSI_CTRL_PVM) ? 8 : 0);
}

static u16 msi_data_off(const struct vpci_dev *d) { return (d->msi_ctrl & MSI_CTRL_64BIT) ? 0xc : 0x8; }

static void msi_hw_disable(struct vpci *v, struct vpci_dev *d)
{
    u32 h = hw_rd(v, d, d->msi);
    hw_wr(v, d, d->msi, (h & 0xffff) | ((h >> 16) & ~(u32)(MSI_CTRL_ENABLE | MSI_CTRL_MME_MASK)) << 16);
    if (d->msi_live)
        v->ops.msi_release(v->ops.ctx, vpci_msi_route(d->slot));
    d->msi_live = false;
}

/* Brings the device's MSI in line with the guest's registers. */
static void msi_sync(struct vpci *v, struct vpci_dev *d, bool route_changed)
{
    if (!(d->msi_ctrl & MSI_CTRL_ENABLE)) {
        if (d->msi_live)
            msi_hw_disable(v, d);
        return;
    }
    if (d->msi_live && !route_changed) {
        if (d->msi_ctrl & MSI_CTRL_PVM)
            hw_wr(v, d, (u16)(d->msi + msi_data_off(d) + 4), d->msi_mask & 1);
        return;
    }
    u64 gaddr = d->msi_addr_lo | ((d->msi_ctrl & MSI_CTRL_64BIT) ? (u64)d->msi_addr_hi << 32 : 0);
    u64 haddr;
    u32 hdata;
    if (d->msi_live)
        msi_hw_disable(v, d);
    if (v->ops.msi_route(v->ops.ctx, vpci_msi_route(d->slot), gaddr, d->msi_data, &haddr, &hdata) < 0) {
        v->stats.msi_refused++;
        log_limited(v->part, LOGR_MSI, LOG_WARN, "vpci",
                    "%s: MSI of 00:%02x.0 (address %#llx, data %#x) names no vCPU of the partition "
                    "or an unsupported delivery mode: left disabled",
                    v->name, d->slot, (unsigned long long)gaddr, d->msi_data);
        return;
    }
    u16 c = d->msi;
    hw_wr(v, d, (u16)(c + 4), (u32)haddr);
    if (d->msi_ctrl & MSI_CTRL_64BIT)
        hw_wr(v, d, (u16)(c + 8), (u32)(haddr >> 32));
    hw_wr(v, d, (u16)(c + msi_data_off(d)), hdata & 0xffff);
    if (d->msi_ctrl & MSI_CTRL_PVM)
        hw_wr(v, d, (u16)(c + msi_data_off(d) + 4), d->msi_mask & 1);
    u32 h = hw_rd(v, d, c);
    u32 ctrl = ((h >> 16) & ~(u32)MSI_CTRL_MME_MASK) | MSI_CTRL_ENABLE;
    hw_wr(v, d, c, (h & 0xffff) | ctrl << 16);
    d->msi_live = true;
    v->stats.msi_routed++;
}

static u32 msi_read(const struct vpci *v, const struct vpci_dev *d, u32 rel)
{
    u32 data = msi_data_off(d);
    if (rel == 0)
        return 0; /* header: filled in by the caller */
    if (rel == 4)
        return d->msi_addr_lo;
    if (rel == 8 && (d->msi_ctrl & MSI_CTRL_64BIT))
        return d->msi_addr_hi;
    if (rel == data)
        return d->msi_data;
    if (rel == data + 4)
        return d->msi_mask;
    if (rel == data + 8)
        return hw_rd(v, d, (u16)(d->msi + rel)) & 1; /* pending, vector 0 only */
    return 0;
}

static void msi_write(struct vpci *v, struct vpci_dev *d, u32 rel, u32 val)
{
    u32 data = msi_data_off(d);
    bool route = false;
    if (rel == 0) {
        u16 c = (u16)(val >> 16);
        route = (c & MSI_CTRL_ENABLE) != (d->msi_ctrl & MSI_CTRL_ENABLE);
        d->msi_ctrl = (u16)((d->msi_ctrl & ~MSI_CTRL_ENABLE) | (c & MSI_CTRL_ENABLE));
    } else if (rel == 4) {
        route = d->msi_addr_lo != (val & ~3u);
        d->msi_addr_lo = val & ~3u;
    } else if (rel == 8 && (d->msi_ctrl & MSI_CTRL_64BIT)) {
        route = d->msi_addr_hi != val;
        d->msi_addr_hi = val;
    } else if (rel == data) {
        route = d->msi_data != (u16)val;
        d->msi_data = (u16)val;
    } else if (rel == data + 4 && (d->msi_ctrl & MSI_CTRL_PVM)) {
        d->msi_mask = val & 1;
    } else {
        dropped(v, d, (u16)(d->msi + rel));
        return;
    }
    msi_sync(v, d, route);
}

/* ---- MSI-X ---- */

/* The device's MSI-X structures are reached through its BAR while it decodes
 * memory, which the guest may have turned off: around what must reach them
 * anyway (masking on disable and quiesce), decoding is turned on for a moment.
 * Bus mastering stays as it is. */
static bool hw_mem_on(struct vpci *v, struct vpci_dev *d)
{
    if (d->cmd & PCI_CMD_MEM)
        return false;
    hw_wr(v, d, PCI_COMMAND, hw_cmd(d) | PCI_CMD_MEM);
    return true;
}

static void hw_mem_restore(struct vpci *v, struct vpci_dev *d, bool was_off)
{
    if (was_off)
        hw_wr(v, d, PCI_COMMAND, hw_cmd(d));
}

/* A dword at offset off of the table's BAR, in the device. */
static u32 tab_rd(const struct vpci *v, const struct vpci_dev *d, u64 off)
{
    return v->ops.mmio_read32(v->ops.ctx, d->bar[d->mx.bir].host + off);
}

static void tab_wr(const struct vpci *v, const struct vpci_dev *d, u64 off, u32 val)
{
    v->ops.mmio_write32(v->ops.ctx, d->bar[d->mx.bir].host + off, val);
}

static u64 entry_off(const struct vpci_dev *d, u32 k) { return d->mx.table + (u64)k * MSIX_ENTRY_SIZE; }

/* Sets or clears the mask bit of the device's entry k (the reserved bits of
 * its vector control are kept, PCI 3.0 6.8.2.9). */
static void entry_hw_mask(struct vpci *v, struct vpci_dev *d, u32 k, bool masked)
{
    u64 at = entry_off(d, k) + MSIX_ENTRY_CTRL;
    u32 c = tab_rd(v, d, at);
    tab_wr(v, d, at, masked ? c | MSIX_ENTRY_MASKED : c & ~MSIX_ENTRY_MASKED);
}

/* The device's message control: enable and function mask as given. */
static void msix_hw_ctrl(struct vpci *v, struct vpci_dev *d, u16 bits)
{
    u32 h = hw_rd(v, d, d->msix);
    u32 ctrl = ((h >> 16) & ~(u32)(MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL)) | bits;
    hw_wr(v, d, d->msix, (h & 0xffff) | ctrl << 16);
}

/* Whether the guest lets entry k send: unmasked, in an enabled function that
 * is not masked as a whole (PCI 3.0 6.8.2.9). */
static bool msix_wanted(const struct vpci_dev *d, u32 k)
{
    const struct vpci_msix *m = &d->mx;
    return (m->ctrl & MSIX_CTRL_ENABLE) && !(m->ctrl & MSIX_CTRL_MASKALL) && !(m->e[k].ctrl & MSIX_ENTRY_MASKED);
}

/* Entry k stops: masked in the device, its route given back. A message the
 * device had already sent arrives as a stray one (vmsi.c counts those). */
static void msix_stop(struct vpci *v, struct vpci_dev *d, u32 k)
{
    struct vpci_msix *m = &d->mx;
    if (!(m->live & BIT(k)))
        return;
    entry_hw_mask(v, d, k, true);
    v->ops.msi_release(v->ops.ctx, vpci_msix_route(d->slot, k));
    m->live &= ~(u32)BIT(k);
}

/* Brings the device's entry k in line with the guest's: routed, programmed
 * with the host message and unmasked while the guest lets it send; masked
 * otherwise. changed: its address or data changed. An entry refused stays
 * masked, and is tried again only when it changes or is masked and unmasked. */
static void msix_sync(struct vpci *v, struct vpci_dev *d, u32 k, bool changed)
{
    struct vpci_msix *m = &d->mx;
    u32 bit = (u32)BIT(k);
    if (changed || !msix_wanted(d, k))
        m->refused &= ~bit;
    if (!msix_wanted(d, k)) {
        msix_stop(v, d, k);
        return;
    }
    if (((m->live & bit) && !changed) || (m->refused & bit))
        return;
    msix_stop(v, d, k);
    const struct vpci_msix_entry *e = &m->e[k];
    u64 gaddr = e->addr_lo | (u64)e->addr_hi << 32, haddr;
    u32 hdata;
    if (v->ops.msi_route(v->ops.ctx, vpci_msix_route(d->slot, k), gaddr, e->data, &haddr, &hdata) < 0) {
        m->refused |= bit;
        v->stats.msix_refused++;
        log_limited(v->part, LOGR_MSI, LOG_WARN, "vpci",
                    "%s: MSI-X entry %u of 00:%02x.0 (address %#llx, data %#x) names no vCPU of the partition "
                    "or an unsupported delivery mode: left masked",
                    v->name, k, d->slot, (unsigned long long)gaddr, e->data);
        return;
    }
    u64 at = entry_off(d, k);
    tab_wr(v, d, at + MSIX_ENTRY_ADDR_LO, (u32)haddr);
    tab_wr(v, d, at + MSIX_ENTRY_ADDR_HI, (u32)(haddr >> 32));
    tab_wr(v, d, at + MSIX_ENTRY_DATA, hdata);
    entry_hw_mask(v, d, k, false);
    m->live |= bit;
    v->stats.msix_routed++;
}

/* MSI-X off in the device, its live entries masked and their routes
 * released; with all, every entry of its table masked (what a previous owner
 * or the firmware left unmasked included). */
static void msix_hw_disable(struct vpci *v, struct vpci_dev *d, bool all)
{
    msix_hw_ctrl(v, d, MSIX_CTRL_MASKALL);
    bool was_off = hw_mem_on(v, d);
    for (u32 k = 0; k < d->mx.usable; k++)
        msix_stop(v, d, k);
    for (u32 k = 0; all && k < d->mx.n; k++)
        entry_hw_mask(v, d, k, true);
    hw_mem_restore(v, d, was_off);
}

/* The guest wrote message control: its enable and function mask. The device
 * gets its entries before it is enabled, and is disabled before they go. */
static void msix_ctrl_write(struct vpci *v, struct vpci_dev *d, u16 c)
{
    struct vpci_msix *m = &d->mx;
    u16 old = m->ctrl;
    m->ctrl = c & (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
    if (m->ctrl == old)
        return;
    if (!(m->ctrl & MSIX_CTRL_ENABLE)) {
        msix_hw_disable(v, d, false);
        return;
    }
    bool was_off = hw_mem_on(v, d);
    for (u32 k = 0; k < m->usable; k++)
        msix_sync(v, d, k, false);
    msix_hw_ctrl(v, d, m->ctrl);
    hw_mem_restore(v, d, was_off);
}

/* Dword `field` of the guest's entry k; entries past the usable ones read
 * masked and empty. */
static u32 entry_read(const struct vpci_dev *d, u32 k, u32 field)
{
    if (k >= d->mx.usable)
        return field == MSIX_ENTRY_CTRL ? MSIX_ENTRY_MASKED : 0;
    const struct vpci_msix_entry *e = &d->mx.e[k];
    switch (field) {
    case MSIX_ENTRY_ADDR_LO: return e->addr_lo;
    case MSIX_ENTRY_ADDR_HI: return e->addr_hi;
    case MSIX_ENTRY_DATA: return e->data;
    default: return e->ctrl;
    }
}

/* The guest writes dword `field` of its entry k; true when that changed the
 * message (address or data). */
static bool entry_write(struct vpci_dev *d, u32 k, u32 field, u32 val)
{
    struct vpci_msix_entry *e = &d->mx.e[k];
    u32 *r = field == MSIX_ENTRY_ADDR_LO   ? &e->addr_lo
             : field == MSIX_ENTRY_ADDR_HI ? &e->addr_hi
             : field == MSIX_ENTRY_DATA    ? &e->data
                                           : &e->ctrl;
    if (field == MSIX_ENTRY_ADDR_LO)
        val &= ~3u; /* dword aligned (6.8.2.6) */
    else if (field == MSIX_ENTRY_CTRL)
        val &= MSIX_ENTRY_MASKED; /* the rest is reserved */
    bool changed = *r != val && field != MSIX_ENTRY_CTRL;
    *r = val;
    return changed;
}

/* An aligned access of 4 or 8 bytes at offset rel of the table. */
static void table_access(struct vpci *v, struct vpci_dev *d, u64 rel, u8 size, bool write, u64 *val)
{
    u32 k = (u32)(rel / MSIX_ENTRY_SIZE), field = (u32)(rel % MSIX_ENTRY_SIZE);
    if (!write) {
        *val = entry_read(d, k, field);
        if (size == 8)
            *val |= (u64)entry_read(d, k, field + 4) << 32;
        return;
    }
    if (k >= d->mx.usable) {
        v->stats.writes_dropped++; /* an entry past the usable ones stays masked */
        return;
    }
    bool changed = entry_write(d, k, field, (u32)*val);
    if (size == 8)
        changed |= entry_write(d, k, field + 4, (u32)(*val >> 32));
    msix_sync(v, d, k, changed);
}

static void msix_bad(struct vpci *v, const struct vpci_dev *d, u64 off, u8 size, bool write, const char *what)
{
    v->stats.msix_bad++;
    log_limited(v->part, LOGR_PCI_WRITE, LOG_WARN, "vpci",
                "%s: %u-byte %s at offset %#llx of BAR %u of 00:%02x.0 (its MSI-X table page) dropped: %s", v->name,
                size, write ? "write" : "read", (unsigned long long)off, d->mx.bir, d->slot, what);
}

/* A trapped access at offset off of the table's BAR, inside its trapped
 * pages: the table, the PBA when it shares them (read from the device), or
 * whatever else the device has there (passed through, as the mapping would). */
static void msix_mmio(struct vpci *v, struct vpci_dev *d, u64 off, u8 size, bool write, u64 *val)
{
    const struct vpci_msix *m = &d->mx;
    if ((size != 4 && size != 8) || (off & (size - 1u))) {
        msix_bad(v, d, off, size, write, "only aligned 4- and 8-byte accesses are served");
        if (!write)
            *val = size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
        return;
    }
    if (off >= m->table && off < m->table + (u64)m->n * MSIX_ENTRY_SIZE) {
        table_access(v, d, off - m->table, size, write, val);
        return;
    }
    bool pba = m->pba_bir == m->bir && off >= m->pba && off < m->pba + ALIGN_UP((u64)m->n, 64) / 8;
    if (pba && write) {
        msix_bad(v, d, off, size, write, "the pending-bit array is read-only");
        return;
    }
    if (!write) {
        *val = tab_rd(v, d, off);
        if (size == 8)
            *val |= (u64)tab_rd(v, d, off + 4) << 32;
        return;
    }
    tab_wr(v, d, off, (u32)*val);
    if (size == 8)
        tab_wr(v, d, off + 4, (u32)(*val >> 32));
}

/* The guest-physical offset of g in the trapped table pages of d's BAR, while
 * that BAR decodes. */
static bool msix_trap_at(const struct vpci_dev *d, u64 g, u64 *off)
{
    if (d->emu || !d->mx.n)
        return false;
    const struct vpci_bar *b = &d->bar[d->mx.bir];
    u64 start = b->mapped_at + d->mx.trap_off;
    if (!b->mapped || g < start || g - start >= d->mx.trap_len)
        return false;
    *off = g - b->mapped_at;
    return true;
}

/* Why the MSI-X capability at d->msix cannot be trapped, or NULL when it can:
 * fills in d->mx (but n, which says it is shown). */
static const char *msix_probe(struct vpci *v, struct vpci_dev *d, u32 n)
{
    struct vpci_msix *m = &d->mx;
    u32 t = hw_rd(v, d, (u16)(d->msix + MSIX_TABLE)), p = hw_rd(v, d, (u16)(d->msix + MSIX_PBA));
    m->bir = (u8)(t & MSIX_BIR_MASK);
    m->table = t & ~MSIX_BIR_MASK;
    m->pba_bir = (u8)(p & MSIX_BIR_MASK);
    m->pba = p & ~MSIX_BIR_MASK;
    u64 tend = m->table + (u64)n * MSIX_ENTRY_SIZE;
    if (m->bir >= PCI_NUM_BARS || !is_mem(&d->bar[m->bir]) || tend > d->bar[m->bir].size)
        return "its table is not inside one of its memory BARs";
    if (m->pba_bir >= PCI_NUM_BARS || !is_mem(&d->bar[m->pba_bir]) ||
        m->pba + ALIGN_UP((u64)n, 64) / 8 > d->bar[m->pba_bir].size)
        return "its pending-bit array is not inside one of its memory BARs";
    m->trap_off = ALIGN_DOWN((u64)m->table, PAGE_SIZE);
    m->trap_len = ALIGN_UP(tend, PAGE_SIZE) - m->trap_off;
    if (v->ops.host_map(v->ops.ctx, d->bar[m->bir].host + m->trap_off, m->trap_len) < 0)
        return "its table cannot be mapped in the hypervisor";
    return NULL;
}

/* Shows the function's MSI-X to its guest, or hides it (off the capability
 * list, the warning says why); either way MSI-X is off in the device and,
 * when shown, every entry masked. */
static void msix_setup(struct vpci *v, struct vpci_dev *d)
{
    struct vpci_msix *m = &d->mx;
    u32 n = ((hw_rd(v, d, d->msix) >> 16) & MSIX_CTRL_SIZE_MASK) + 1;
    const char *why = msix_probe(v, d, n);
    if (why) {
        for (u32 k = 0; k < d->ncaps; k++) {
            if (d->caps[k] == d->msix) {
                memmove(&d->caps[k], &d->caps[k + 1], d->ncaps - k - 1);
                d->ncaps--;
                break;
            }
        }
        log_warn("vpci", "%s: 00:%02x.0 has MSI-X, but %s: hidden from the guest and kept disabled%s", v->name, d->slot,
                 why, d->msi ? "" : "; it has no MSI, so its guest gets no interrupts from it");
        msix_hw_ctrl(v, d, MSIX_CTRL_MASKALL);
        return;
    }
    m->n = (u16)n;
    m->usable = (u16)MIN(n, (u32)VPCI_MSIX_MAX);
    for (u32 k = 0; k < m->usable; k++)
        m->e[k].ctrl = MSIX_ENTRY_MASKED;
    if (n > VPCI_MSIX_MAX)
        log_warn("vpci", "%s: 00:%02x.0 has %u MSI-X entries; its guest can use the first %u, the others stay masked",
                 v->name, d->slot, n, VPCI_MSIX_MAX);
    msix_hw_disable(v, d, true);
}

/* ---- configuration dwords of an assigned device ---- */

static u32 cap_header(const struct vpci *v, const struct vpci_dev *d, u32 k)
{
    u32 h = hw_rd(v, d, d->caps[k]);
    u32 next = k + 1 < d->ncaps ? d->caps[k + 1] : 0;
    if (d->caps[k] == d->msi)
        h = (u32)PCI_CAP_MSI | (u32)(d->msi_ctrl & (MSI_CTRL_ENABLE | MSI_CTRL_64BIT | MSI_CTRL_PVM)) << 16;
    else if (d->caps[k] == d->msix) /* the table size is the device's */
        h = (h & ~((u32)(MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) << 16)) | (u32)d->mx.ctrl << 16;
    return (h & 0xffff00ffu) | next << 8;
}

static u32 dev_read(const struct vpci *v, const struct vpci_dev *d, u16 off)
{
    switch (off) {
    case PCI_VENDOR_ID:
    case PCI_CLASS_REV:
    case PCI_SUBSYSTEM: return hw_rd(v, d, off);
    case PCI_COMMAND: {
        u32 status = (hw_rd(v, d, off) >> 16) & ~(u32)PCI_STATUS_CAPS;
        if (d->ncaps || (d->emu && (hw_rd(v, d, off) & ((u32)PCI_STATUS_CAPS << 16))))
            status |= PCI_STATUS_CAPS;
        return d->cmd | status << 16;
    }
    case PCI_HEADER_TYPE & ~3u: return hw_rd(v, d, off) & 0xffff; /* type 0, single function, no BIST */
    case PCI_CAP_PTR:
        if (d->emu)
            return hw_rd(v, d, off) & 0xff;
        return d->ncaps ? d->caps[0] : 0;
    case PCI_INTERRUPT: return (hw_rd(v, d, off) & 0xffff0000u) | d->int_line; /* pin 0: no INTx */
    default: break;
    }
    if (off >= PCI_BAR0 && off < PCI_BAR0 + 4 * PCI_NUM_BARS)
        return bar_read(d, (u32)(off - PCI_BAR0) / 4);
    if (off < 0x40)
        return 0; /* CardBus CIS, expansion ROM, reserved */
    if (d->emu)
        return hw_rd(v, d, off);
    for (u32 k = 0; k < d->ncaps; k++)
        if (off == d->caps[k])
            return cap_header(v, d, k);
    if (d->msi && off > d->msi && off < d->msi + msi_len(d))
        return msi_read(v, d, (u32)(off - d->msi));
    return hw_rd(v, d, off);
}

/* Capability control registers written through, with the RW1C status bits
 * sharing their dword left alone unless the guest wrote them. */
static bool passthrough_write(struct vpci *v, struct vpci_dev *d, u16 off, u32 bmask, u32 val)
{
    u32 rw1c;
    if (d->pm && off == d->pm + PM_CTRL)
        rw1c = 0x8000;
    else if (d->pcie && (off == d->pcie + PCIE_DEVCTL || off == d->pcie + PCIE_LNKCTL || off == d->pcie + PCIE_DEVCTL2))
        rw1c = 0xffff0000u;
    else
        return false;
    u32 cur = hw_rd(v, d, off) & ~rw1c;
    hw_wr(v, d, off, (cur & ~bmask) | (val & bmask));
    return true;
}

static void dev_write(struct vpci *v, struct vpci_dev *d, u16 off, u32 bmask, u32 val)
{
    u32 nv = (dev_read(v, d, off) & ~bmask) | (val & bmask);
    if (off == PCI_COMMAND) {
        if (bmask & 0xffff)
            command_write(v, d, (u16)nv);
        if (bmask & 0xffff0000u) /* status: write-one-to-clear bits pass through */
            hw_wr(v, d, PCI_COMMAND, hw_cmd(d) | (val & bmask & 0xffff0000u));
        return;
    }
    if (off >= PCI_BAR0 && off < PCI_BAR0 + 4 * PCI_NUM_BARS) {
        bar_write(v, d, (u32)(off - PCI_BAR0) / 4, nv);
        return;
    }
    if (off == PCI_INTERRUPT) {
        d->int_line = (u8)nv;
        return;
    }
    if (off == PCI_ROM_BAR || (d->emu && off == (PCI_HEADER_TYPE & ~3u))) {
        hardwired(v);
        return;
    }
    if (d->emu) {
        if (off >= 0x40)
            d->emu->cfg_write(d->emu->ctx, off, bmask, val);
        else
            dropped(v, d, off);
        return;
    }
    if (off == (PCI_HEADER_TYPE & ~3u) && !(bmask & 0xffff0000u)) {
        /* Cache line size and latency timer: harmless, kept by the device. */
        u32 cur = hw_rd(v, d, off) & 0x0000ffffu;
        hw_wr(v, d, off, (cur & ~bmask) | (val & bmask));
        return;
    }
    if (d->msi && off >= d->msi && off < d->msi + msi_len(d)) {
        msi_write(v, d, (u32)(off - d->msi), nv);
        return;
    }
    if (d->mx.n && off == d->msix && (bmask & 0xffff0000u)) {
        msix_ctrl_write(v, d, (u16)(nv >> 16));
        return;
    }
    if (off >= 0x40 && passthrough_write(v, d, off, bmask, val))
        return;
    dropped(v, d, off);
}

/* ---- the host bridge at 00:00.0 ---- */

static u32 bridge_read(u16 off)
{
    switch (off) {
    case PCI_VENDOR_ID: return VPCI_HOSTBRIDGE_VENDOR | (u32)VPCI_HOSTBRIDGE_DEVICE << 16;
    case PCI_CLASS_REV: return 0x06000000u; /* host bridge, revision 0 */
    default: return 0;
    }
}

/* ---- the bus ---- */

void vpci_init(struct vpci *v, const struct vpci_ops *ops, const char *name, u32 part, u64 phys_limit)
{
    memset(v, 0, sizeof(*v));
    v->ops = *ops;
    v->name = name;
    v->part = part;
    v->phys_limit = phys_limit;
}

int vpci_forbid(struct vpci *v, u64 start, u64 end)
{
    if (v->nforbidden >= VPCI_MAX_FORBIDDEN || end <= start)
        return -EINVAL;
    v->forbidden[v->nforbidden].start = start;
    v->forbidden[v->nforbidden++].end = end;
    return 0;
}

static void find_caps(struct vpci *v, struct vpci_dev *d)
{
    const struct pci_cfg_ops *c = v->ops.cfg;
    struct pci_dev *hw = d->hw;
    if (!(c->read32(c->ctx, hw->seg, hw->bus, hw->dev, hw->fn, PCI_COMMAND) & ((u32)PCI_STATUS_CAPS << 16)))
        return;
    u8 at = (u8)hw_rd(v, d, PCI_CAP_PTR) & 0xfc;
    for (u32 n = 0; at >= 0x40 && n < PCI_MAX_CAPS; n++) {
        u32 h = hw_rd(v, d, at);
        u8 id = (u8)h;
        bool seen = false;
        for (u32 k = 0; k < d->ncaps; k++)
            seen |= d->caps[k] == at;
        if (seen)
            break; /* a loop */
        if (id == PCI_CAP_MSI && !d->msi) {
            d->msi = at;
            d->msi_ctrl = (u16)((h >> 16) & (MSI_CTRL_64BIT | MSI_CTRL_PVM));
        }
        if (id == PCI_CAP_MSIX && !d->msix)
            d->msix = at;
        if (id == PCI_CAP_PM && !d->pm)
            d->pm = at;
        if (id == PCI_CAP_PCIE && !d->pcie)
            d->pcie = at;
        d->caps[d->ncaps++] = at;
        at = (u8)(h >> 8) & 0xfc;
    }
}

static int place_bar(struct vpci_dev *d, u32 i, u64 *next32, u64 limit32, u64 *next64, u64 phys_limit, char *err,
                     size_t errlen)
{
    struct vpci_bar *b = &d->bar[i];
    u64 a = ALIGN_UP(*next32, b->size);
    if (a + b->size <= limit32 && a >= *next32) {
        *next32 = a + b->size;
    } else if (b->kind == PCI_BAR_MEM64) {
        a = ALIGN_UP(*next64, b->size);
        if (a < *next64 || a + b->size > phys_limit)
            return kerr_fmt(err, errlen, -ENOSPC,
                            "BAR %u (%llu MiB) does not fit below the partition's "
                            "physical address limit",
                            i, (unsigned long long)(b->size >> 20));
        *next64 = a + b->size;
    } else {
        return kerr_fmt(err, errlen, -ENOSPC,
                        "32-bit BAR %u (%llu KiB) does not fit in the partition's "
                        "MMIO window below 4 GiB (make its memory smaller)",
                        i, (unsigned long long)(b->size >> 10));
    }
    b->reg = (u32)a | (b->kind == PCI_BAR_MEM64 ? PCI_BAR_MEM_64 : 0) | (b->prefetch ? PCI_BAR_PREFETCH : 0);
    if (b->kind == PCI_BAR_MEM64)
        d->bar[i + 1].reg = (u32)(a >> 32);
    return 0;
}

/* The next slot on the bus, cleared (it counts once the caller is done with
 * it: v->ndev++), or NULL when the bus is full. */
static struct vpci_dev *new_slot(struct vpci *v)
{
    if (v->ndev >= VPCI_MAX_DEVS)
        return NULL;
    struct vpci_dev *d = &v->dev[v->ndev];
    memset(d, 0, sizeof(*d));
    d->slot = v->ndev + 1;
    d->int_line = 0xff;
    return d;
}

static int bus_full(char *err, size_t errlen)
{
    return kerr_fmt(err, errlen, -ENOSPC, "more than %d devices", VPCI_MAX_DEVS);
}

int vpci_add(struct vpci *v, struct pci_dev *hw, u64 *next32, u64 limit32, u64 *next64, char *err, size_t errlen)
{
    if ((hw->header_type & 0x7f) != 0)
        return kerr_fmt(err, errlen, -EINVAL,
                        "only ordinary functions (header type 0) can be assigned, "
                        "not bridges");
    if (!hw->bars_probed) {
        int rc = pci_probe_bars(v->ops.cfg, hw);
        if (rc < 0)
            return kerr_fmt(err, errlen, rc, "cannot size its BARs");
    }
    struct vpci_dev *d = new_slot(v);
    if (!d)
        return bus_full(err, errlen);
    d->hw = hw;
    for (u32 i = 0; i < PCI_NUM_BARS; i++) {
        const struct pci_bar *h = &hw->bar[i];
        struct vpci_bar *b = &d->bar[i];
        b->kind = h->kind;
        b->prefetch = h->prefetch;
        b->size = h->size;
        b->host = h->base;
        if (h->kind == PCI_BAR_NONE)
            continue;
        /* Address 0: firmware gave it no place; mapping it would hand out host page 0. */
        if (!h->base)
            return kerr_fmt(err, errlen, -EINVAL, "BAR %u has no address (firmware did not assign it)", i);
        if (h->kind == PCI_BAR_KIND_IO) {
            b->reg = (u32)h->base | PCI_BAR_IO;
            continue;
        }
        /* A BAR smaller than a page shares its page with whatever follows it,
         * possibly another device's registers: it cannot be given away alone. */
        if (h->size < 0x1000 || (h->base & 0xfff))
            return kerr_fmt(err, errlen, -EINVAL,
                            "BAR %u is %llu bytes: a BAR smaller than a page cannot be "
                            "isolated from its neighbours",
                            i, (unsigned long long)h->size);
        int rc = place_bar(d, i, next32, limit32, next64, v->phys_limit, err, errlen);
        if (rc < 0)
            return rc;
    }
    find_caps(v, d);
    /* Quiesced until its guest turns it on: no decoding, no DMA, no interrupts. */
    hw_wr(v, d, PCI_COMMAND, PCI_CMD_INTX_OFF);
    if (d->msi)
        msi_hw_disable(v, d);
    if (d->msix)
        msix_setup(v, d);
    v->ndev++;
    return 0;
}

int vpci_add_emu(struct vpci *v, const struct vpci_emu *emu, const u64 bar_size[PCI_NUM_BARS], u64 *next32, u64 limit32,
                 char *err, size_t errlen)
{
    struct vpci_dev *d = new_slot(v);
    if (!d)
        return bus_full(err, errlen);
    d->emu = emu;
    for (u32 i = 0; i < PCI_NUM_BARS; i++) {
        if (!bar_size[i])
            continue;
        if (bar_size[i] < PAGE_SIZE || (bar_size[i] & (bar_size[i] - 1)))
            return kerr_fmt(err, errlen, -EINVAL, "BAR %u of %llu bytes", i, (unsigned long long)bar_size[i]);
        d->bar[i].kind = PCI_BAR_MEM32;
        d->bar[i].size = bar_size[i];
        u64 none = 0;
        int rc = place_bar(d, i, next32, limit32, &none, v->phys_limit, err, errlen);
        if (rc < 0)
            return rc;
    }
    v->ndev++;
    return 0;
}

enum vpci_trap vpci_trapped(const struct vpci *v, u64 g)
{
    for (u32 n = 0; n < v->ndev; n++) {
        const struct vpci_dev *d = &v->dev[n];
        u64 off;
        if (msix_trap_at(d, g, &off))
            return VPCI_TRAP_MSIX;
        for (u32 i = 0; d->emu && i < PCI_NUM_BARS; i++) {
            const struct vpci_bar *b = &d->bar[i];
            if (b->mapped && g >= b->mapped_at && g - b->mapped_at < b->size)
                return VPCI_TRAP_EMU;
        }
    }
    return VPCI_TRAP_NONE;
}

bool vpci_mmio(struct vpci *v, u64 g, u8 size, bool write, u64 *val)
{
    for (u32 n = 0; n < v->ndev; n++) {
        struct vpci_dev *d = &v->dev[n];
        u64 off;
        if (msix_trap_at(d, g, &off)) {
            msix_mmio(v, d, off, size, write, val);
            return true;
        }
        if (!d->emu)
            continue;
        for (u32 i = 0; i < PCI_NUM_BARS; i++) {
            const struct vpci_bar *b = &d->bar[i];
            if (b->mapped && g >= b->mapped_at && g - b->mapped_at + size <= b->size) {
                d->emu->bar_access(d->emu->ctx, i, g - b->mapped_at, size, write, val);
                return true;
            }
        }
    }
    return false;
}

static struct vpci_dev *target(struct vpci *v, bool *bridge)
{
    u32 a = v->cf8;
    *bridge = false;
    if (!(a & VPCI_CF8_ENABLE) || ((a >> 16) & 0xff) || ((a >> 8) & 7) || ((a >> 24) & 0xf))
        return NULL; /* other buses and functions, and AMD's extended registers: nothing */
    u32 dev = (a >> 11) & 0x1f;
    if (dev == 0) {
        *bridge = true;
        return NULL;
    }
    return dev <= v->ndev ? &v->dev[dev - 1] : NULL;
}

bool vpci_port(struct vpci *v, u16 port, u8 size, bool in, u32 *val)
{
    if (port >= VPCI_PORT_ADDR && port < VPCI_PORT_DATA && port != VPCI_PORT_RESET) {
        /* Only a dword at 0xCF8 is CONFIG_ADDRESS (PCI Local Bus 3.0,
         * 3.2.2.3.2); narrower accesses reach other chipset registers or
         * nothing. Linux's type-1 probe (pci_check_type1) writes a byte to
         * 0xCFB before it tries the dword: ignored, as by a bridge without
         * such registers, rather than logged as a stray port. 0xCF9 is the
         * PC's reset control register, not the bus's. */
        if (port == VPCI_PORT_ADDR && size == 4) {
            if (in)
                *val = v->cf8;
            else
                v->cf8 = *val & 0x8ffffffcu;
        } else if (in) {
            *val = size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
        }
        return true;
    }
    if (port < VPCI_PORT_DATA || port > VPCI_PORT_DATA + 3)
        return false;
    u32 at = port - VPCI_PORT_DATA;
    u32 mask = size == 4 ? 0xffffffffu : size == 2 ? 0xffffu : 0xffu;
    bool bridge;
    struct vpci_dev *d = target(v, &bridge);
    u16 off = (u16)(v->cf8 & 0xfc);
    if (at + size > 4 || (size != 1 && size != 2 && size != 4)) {
        d = NULL;
        bridge = false;
    }
    if (in) {
        u32 dw = bridge ? bridge_read(off) : d ? dev_read(v, d, off) : 0xffffffffu;
        v->stats.cfg_reads++;
        *val = (dw >> (8 * at)) & mask;
        return true;
    }
    v->stats.cfg_writes++;
    if (d)
        dev_write(v, d, off, mask << (8 * at), (*val & mask) << (8 * at));
    else if (bridge)
        dropped(v, NULL, off);
    return true;
}

bool vpci_io_passthrough(const struct vpci *v, u16 port, u8 size)
{
    for (u32 n = 0; n < v->ndev; n++) {
        const struct vpci_dev *d = &v->dev[n];
        if (!(d->cmd & PCI_CMD_IO))
            continue;
        for (u32 i = 0; i < PCI_NUM_BARS; i++) {
            const struct vpci_bar *b = &d->bar[i];
            if (b->kind == PCI_BAR_KIND_IO && port >= b->host && (u64)port + size <= b->host + b->size)
                return true;
        }
    }
    return false;
}

void vpci_quiesce(struct vpci *v)
{
    for (u32 n = 0; n < v->ndev; n++) {
        struct vpci_dev *d = &v->dev[n];
        d->cmd = 0;
        hw_wr(v, d, PCI_COMMAND, PCI_CMD_INTX_OFF);
        if (d->msi) {
            d->msi_ctrl &= (u16)~MSI_CTRL_ENABLE;
            msi_hw_disable(v, d);
        }
        if (d->mx.n) {
            d->mx.ctrl &= (u16)~MSIX_CTRL_ENABLE;
            msix_hw_disable(v, d, false);
        }
        bars_sync(v, d);
    }
}
