/* See pci_access.h. PCI Express Base 5.0 7.2.2 (ECAM) and PCI 3.0 3.2.2.3.2 (CAM). */
#include "drivers/pci_access.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/paging.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/lib/spinlock.h"

static struct pci_ecam windows[PCI_MAX_ECAM];
static int nwindows;
static spinlock_t cf8_lock = SPINLOCK_INIT;

static const struct pci_ecam *window_for(u16 seg, u8 bus)
{
    for (int i = 0; i < nwindows; i++)
        if (windows[i].seg == seg && bus >= windows[i].start_bus && bus <= windows[i].end_bus)
            return &windows[i];
    return NULL;
}

static hpa_t ecam_addr(const struct pci_ecam *w, u8 bus, u8 dev, u8 fn, u16 off)
{
    return w->base + ((u64)(bus - w->start_bus) << 20) + ((u64)(dev & 31) << 15) + ((u64)(fn & 7) << 12) +
           (off & 0xffc);
}

u32 pci_cfg_read32(u16 seg, u8 bus, u8 dev, u8 fn, u16 off)
{
    if (dev > 31 || fn > 7 || off > 0xffc)
        return 0xffffffff;
    const struct pci_ecam *w = window_for(seg, bus);
    if (w)
        return mmio_read32(ecam_addr(w, bus, dev, fn, off));
    if (seg != 0 || nwindows || off > 0xfc)
        return 0xffffffff;
    u64 f = irq_save();
    spin_lock(&cf8_lock);
    outl(0xcf8, 0x80000000u | ((u32)bus << 16) | ((u32)dev << 11) | ((u32)fn << 8) | (off & 0xfc));
    u32 v = inl(0xcfc);
    spin_unlock(&cf8_lock);
    irq_restore(f);
    return v;
}

void pci_cfg_write32(u16 seg, u8 bus, u8 dev, u8 fn, u16 off, u32 v)
{
    if (dev > 31 || fn > 7 || off > 0xffc)
        return;
    const struct pci_ecam *w = window_for(seg, bus);
    if (w) {
        mmio_write32(ecam_addr(w, bus, dev, fn, off), v);
        return;
    }
    if (seg != 0 || nwindows || off > 0xfc)
        return;
    u64 f = irq_save();
    spin_lock(&cf8_lock);
    outl(0xcf8, 0x80000000u | ((u32)bus << 16) | ((u32)dev << 11) | ((u32)fn << 8) | (off & 0xfc));
    outl(0xcfc, v);
    spin_unlock(&cf8_lock);
    irq_restore(f);
}

static u32 ops_read(void *ctx, u16 seg, u8 bus, u8 dev, u8 fn, u16 off)
{
    (void)ctx;
    return pci_cfg_read32(seg, bus, dev, fn, off);
}

static void ops_write(void *ctx, u16 seg, u8 bus, u8 dev, u8 fn, u16 off, u32 v)
{
    (void)ctx;
    pci_cfg_write32(seg, bus, dev, fn, off, v);
}

static const struct pci_cfg_ops hv_ops = { ops_read, NULL, ops_write };

const struct pci_cfg_ops *pci_access_ops(void) { return &hv_ops; }

const char *pci_access_method(void) { return nwindows ? "ECAM" : "port I/O (0xCF8)"; }

int pci_access_init(const struct pci_ecam *ecam, int n)
{
    nwindows = 0;
    for (int i = 0; i < n && nwindows < PCI_MAX_ECAM; i++) {
        if (ecam[i].end_bus < ecam[i].start_bus || !IS_ALIGNED(ecam[i].base, MiB(1))) {
            log_warn("pci", "ignoring malformed ECAM window %d (base %llx, buses %u-%u)", i,
                     (unsigned long long)ecam[i].base, ecam[i].start_bus, ecam[i].end_bus);
            continue;
        }
        u64 len = (u64)(ecam[i].end_bus - ecam[i].start_bus + 1) << 20;
        int err = paging_map(ecam[i].base, len, MAP_WRITE | MAP_UC);
        if (err)
            return err;
        windows[nwindows++] = ecam[i];
    }
    return 0;
}

int pci_access_ranges(struct pci_bus_range *out, int cap)
{
    if (!nwindows) {
        if (cap < 1)
            return -ENOSPC;
        out[0] = (struct pci_bus_range){ 0, 0, 255 };
        return 1;
    }
    int n = 0;
    for (int i = 0; i < nwindows && n < cap; i++)
        out[n++] = (struct pci_bus_range){ windows[i].seg, windows[i].start_bus, windows[i].end_bus };
    return n;
}
