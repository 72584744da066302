/* See pci.h. */
#include "drivers/pci.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/lib/string.h"

static void add_function(const struct pci_cfg_ops *ops, struct pci_list *out, u16 seg, u8 bus, u8 dev, u8 fn, u32 id)
{
    if (out->count >= PCI_MAX_DEVICES) {
        out->truncated = true;
        return;
    }
    struct pci_dev *d = &out->dev[out->count++];
    memset(d, 0, sizeof(*d));
    d->seg = seg;
    d->bus = bus;
    d->dev = dev;
    d->fn = fn;
    d->vendor = (u16)id;
    d->device = (u16)(id >> 16);
    u32 cr = ops->read32(ops->ctx, seg, bus, dev, fn, PCI_CLASS_REV);
    d->rev = (u8)cr;
    d->progif = (u8)(cr >> 8);
    d->subclass = (u8)(cr >> 16);
    d->class = (u8)(cr >> 24);
    d->header_type = (u8)(ops->read32(ops->ctx, seg, bus, dev, fn, PCI_HEADER_TYPE & ~3u) >> 16);
    d->bridge = (d->header_type & 0x7f) == PCI_HEADER_TYPE_BRIDGE;
    if (d->bridge) {
        u32 b = ops->read32(ops->ctx, seg, bus, dev, fn, PCI_BUS_NUMBERS);
        d->sec_bus = (u8)(b >> 8);
        d->sub_bus = (u8)(b >> 16);
    }
    d->node = -1;
    kstrlcpy(d->owner, "hypervisor", sizeof(d->owner));
}

/* The root bus of `bus`: climb through the bridges whose secondary bus it is.
 * Bounded, because a misprogrammed bridge could point a bus at itself. */
static u8 root_of(const struct pci_list *l, u16 seg, u8 bus)
{
    for (int depth = 0; depth < 256; depth++) {
        const struct pci_dev *parent = NULL;
        for (u32 i = 0; i < l->count; i++) {
            const struct pci_dev *d = &l->dev[i];
            if (d->bridge && d->seg == seg && d->sec_bus == bus && d->sec_bus != d->bus) {
                parent = d;
                break;
            }
        }
        if (!parent)
            return bus;
        bus = parent->bus;
    }
    return bus;
}

int pci_enumerate(const struct pci_cfg_ops *ops, const struct pci_bus_range *ranges, int nranges, struct pci_list *out)
{
    if (!ops || !ops->read32 || !out || nranges < 0)
        return -EINVAL;
    out->count = 0;
    out->truncated = false;
    for (int r = 0; r < nranges; r++) {
        for (u32 bus = ranges[r].start; bus <= ranges[r].end; bus++) {
            for (u8 dev = 0; dev < 32; dev++) {
                u32 id = ops->read32(ops->ctx, ranges[r].seg, (u8)bus, dev, 0, PCI_VENDOR_ID);
                if ((u16)id == 0xffff || (u16)id == 0)
                    continue;
                add_function(ops, out, ranges[r].seg, (u8)bus, dev, 0, id);
                u8 ht = (u8)(ops->read32(ops->ctx, ranges[r].seg, (u8)bus, dev, 0, PCI_HEADER_TYPE & ~3u) >> 16);
                if (!(ht & PCI_HEADER_MULTIFUNCTION))
                    continue;
                for (u8 fn = 1; fn < 8; fn++) {
                    id = ops->read32(ops->ctx, ranges[r].seg, (u8)bus, dev, fn, PCI_VENDOR_ID);
                    if ((u16)id != 0xffff && (u16)id != 0)
                        add_function(ops, out, ranges[r].seg, (u8)bus, dev, fn, id);
                }
            }
        }
    }
    for (u32 i = 0; i < out->count; i++)
        out->dev[i].root_bus = root_of(out, out->dev[i].seg, out->dev[i].bus);
    if (out->truncated)
        log_warn("pci", "more than %d PCI functions: the rest are not listed", PCI_MAX_DEVICES);
    return 0;
}

const char *pci_class_name(u8 class, u8 subclass)
{
    switch (class) {
    case 0x00: return "unclassified";
    case 0x01:
        return subclass == 0x06   ? "SATA controller"
               : subclass == 0x08 ? "NVMe controller"
               : subclass == 0x01 ? "IDE controller"
                                  : "storage";
    case 0x02: return subclass == 0x00 ? "Ethernet controller" : "network";
    case 0x03: return "display";
    case 0x04: return "multimedia";
    case 0x05: return "memory controller";
    case 0x06:
        switch (subclass) {
        case 0x00: return "host bridge";
        case 0x01: return "ISA bridge";
        case 0x04: return "PCI bridge";
        case 0x80: return "bridge";
        default: return "bridge";
        }
    case 0x07: return "communication";
    case 0x08: return "system peripheral";
    case 0x0c: return subclass == 0x03 ? "USB controller" : subclass == 0x05 ? "SMBus" : "serial bus";
    default: return "other";
    }
}

static u32 rd(const struct pci_cfg_ops *ops, const struct pci_dev *d, u16 off)
{
    return ops->read32(ops->ctx, d->seg, d->bus, d->dev, d->fn, off);
}

static void wr(const struct pci_cfg_ops *ops, const struct pci_dev *d, u16 off, u32 v)
{
    ops->write32(ops->ctx, d->seg, d->bus, d->dev, d->fn, off, v);
}

int pci_probe_bars(const struct pci_cfg_ops *ops, struct pci_dev *d)
{
    if (!ops || !ops->write32 || !d || (d->header_type & 0x7f) != 0)
        return -EINVAL;
    memset(d->bar, 0, sizeof(d->bar));
    u32 cmd = rd(ops, d, PCI_COMMAND);
    /* Decoding off: a BAR holding all-ones must not claim addresses meanwhile. */
    wr(ops, d, PCI_COMMAND, (cmd & 0xffff) & ~(u32)(PCI_CMD_IO | PCI_CMD_MEM));
    for (u32 i = 0; i < PCI_NUM_BARS; i++) {
        u16 off = (u16)(PCI_BAR0 + 4 * i);
        u32 orig = rd(ops, d, off);
        wr(ops, d, off, 0xffffffff);
        u32 probe = rd(ops, d, off);
        wr(ops, d, off, orig);
        struct pci_bar *b = &d->bar[i];
        if (orig & PCI_BAR_IO) {
            u32 mask = probe & ~3u & 0xffff;
            if (mask) {
                b->kind = PCI_BAR_KIND_IO;
                b->base = orig & ~3u;
                b->size = (u64)((~mask & 0xffff) + 1);
            }
            continue;
        }
        u64 mask = probe & ~0xfu;
        u64 base = orig & ~0xfu;
        u8 kind = PCI_BAR_MEM32;
        if ((orig & 6) == PCI_BAR_MEM_64 && i + 1 < PCI_NUM_BARS) {
            u16 hi = (u16)(off + 4);
            u32 orig_hi = rd(ops, d, hi);
            wr(ops, d, hi, 0xffffffff);
            u32 probe_hi = rd(ops, d, hi);
            wr(ops, d, hi, orig_hi);
            mask |= (u64)probe_hi << 32;
            base |= (u64)orig_hi << 32;
            kind = PCI_BAR_MEM64;
            i++;
        }
        if (!mask)
            continue;
        b->kind = kind;
        b->prefetch = orig & PCI_BAR_PREFETCH;
        b->base = base;
        b->size = kind == PCI_BAR_MEM64 ? ~mask + 1 : (u64)(u32)(~(u32)mask + 1);
    }
    wr(ops, d, PCI_COMMAND, cmd & 0xffff);
    d->bars_probed = true;
    return 0;
}

u8 pci_find_cap(const struct pci_cfg_ops *ops, const struct pci_dev *d, u8 id)
{
    if (!(rd(ops, d, PCI_COMMAND) & ((u32)PCI_STATUS_CAPS << 16)))
        return 0;
    u8 at = (u8)rd(ops, d, PCI_CAP_PTR) & 0xfc;
    for (int n = 0; at >= 0x40 && n < PCI_MAX_CAPS; n++) {
        u32 h = rd(ops, d, at);
        if ((u8)h == id)
            return at;
        at = (u8)(h >> 8) & 0xfc;
    }
    return 0;
}
