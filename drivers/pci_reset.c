/* See pci_reset.h. Arch-neutral: configuration access and the delay are the
 * caller's, so the unit tests run it over a fake configuration space. */
#include "drivers/pci_reset.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"

static u32 rd(const struct pci_cfg_ops *o, const struct pci_dev *d, u16 off)
{
    return o->read32(o->ctx, d->seg, d->bus, d->dev, d->fn, off);
}

static void wr(const struct pci_cfg_ops *o, const struct pci_dev *d, u16 off, u32 v)
{
    o->write32(o->ctx, d->seg, d->bus, d->dev, d->fn, off, v);
}

bool pci_answers(const struct pci_cfg_ops *ops, const struct pci_dev *d)
{
    return (rd(ops, d, PCI_VENDOR_ID) & 0xffff) != 0xffff;
}

static const struct pci_dev *bridge_of(const struct pci_list *l, const struct pci_dev *d)
{
    for (u32 i = 0; i < l->count; i++) {
        const struct pci_dev *b = &l->dev[i];
        if (b->bridge && b->seg == d->seg && b->sec_bus == d->bus && b->sec_bus)
            return b;
    }
    return NULL;
}

static bool alone_on_bus(const struct pci_list *l, const struct pci_dev *d)
{
    for (u32 i = 0; i < l->count; i++) {
        const struct pci_dev *o = &l->dev[i];
        if (o != d && o->seg == d->seg && o->bus == d->bus)
            return false;
    }
    return true;
}

enum pci_reset_how pci_reset_method(const struct pci_cfg_ops *ops, const struct pci_list *l, const struct pci_dev *d,
                                    const struct pci_dev **bridge, char *why, size_t len)
{
    u8 exp = pci_find_cap(ops, d, PCI_CAP_PCIE);
    if (exp && (rd(ops, d, exp + PCIE_DEVCAP) & PCIE_DEVCAP_FLR))
        return PCI_RESET_FLR;
    const struct pci_dev *b = bridge_of(l, d);
    if (!b) {
        ksnprintf(why, len, "no function level reset, and on a root bus (no bridge to reset it through)");
        return PCI_RESET_NONE;
    }
    if (!alone_on_bus(l, d)) {
        ksnprintf(why, len, "no function level reset, and not alone behind bridge %02x:%02x.%u", b->bus, b->dev, b->fn);
        return PCI_RESET_NONE;
    }
    *bridge = b;
    return PCI_RESET_BUS;
}

/* What is written back: the header registers a reset clears, and the
 * capability registers the hypervisor programs. The command register last,
 * once the BARs it enables hold their addresses again. */
struct saved {
    u32 bar[PCI_NUM_BARS], rom, cacheline, intr, command;
    u8 msi, exp;
    u32 msi_regs[6];
    u32 devctl, lnkctl;
};

static void save(const struct pci_cfg_ops *o, const struct pci_dev *d, struct saved *s)
{
    for (u32 i = 0; i < PCI_NUM_BARS; i++)
        s->bar[i] = rd(o, d, (u16)(PCI_BAR0 + 4 * i));
    s->rom = rd(o, d, PCI_ROM_BAR);
    s->cacheline = rd(o, d, 0x0c);
    s->intr = rd(o, d, PCI_INTERRUPT);
    s->command = rd(o, d, PCI_COMMAND) & 0xffff;
    s->msi = pci_find_cap(o, d, PCI_CAP_MSI);
    for (u32 i = 0; s->msi && i < 6; i++)
        s->msi_regs[i] = rd(o, d, (u16)(s->msi + 4 * i));
    s->exp = pci_find_cap(o, d, PCI_CAP_PCIE);
    if (s->exp) {
        s->devctl = rd(o, d, s->exp + PCIE_DEVCTL) & 0xffff & ~(u32)PCIE_DEVCTL_FLR;
        s->lnkctl = rd(o, d, s->exp + PCIE_LNKCTL) & 0xffff;
    }
}

static void restore(const struct pci_cfg_ops *o, const struct pci_dev *d, const struct saved *s)
{
    wr(o, d, PCI_COMMAND, s->command & ~(u32)(PCI_CMD_IO | PCI_CMD_MEM | PCI_CMD_MASTER));
    for (u32 i = 0; i < PCI_NUM_BARS; i++)
        wr(o, d, (u16)(PCI_BAR0 + 4 * i), s->bar[i]);
    wr(o, d, PCI_ROM_BAR, s->rom);
    wr(o, d, 0x0c, s->cacheline);
    wr(o, d, PCI_INTERRUPT, s->intr);
    if (s->exp) {
        wr(o, d, s->exp + PCIE_DEVCTL, s->devctl);
        wr(o, d, s->exp + PCIE_LNKCTL, s->lnkctl);
    }
    /* MSI: address and data first, then the control word with enable. */
    for (u32 i = 1; s->msi && i < 6; i++)
        wr(o, d, (u16)(s->msi + 4 * i), s->msi_regs[i]);
    if (s->msi)
        wr(o, d, s->msi, s->msi_regs[0]);
    wr(o, d, PCI_COMMAND, s->command);
}

int pci_reset_function(const struct pci_cfg_ops *ops, const struct pci_list *l, struct pci_dev *d,
                       void (*delay_us)(u64 us), enum pci_reset_how *done, char *why, size_t len)
{
    const struct pci_dev *b = NULL;
    enum pci_reset_how how = pci_reset_method(ops, l, d, &b, why, len);
    *done = how;
    if (how == PCI_RESET_NONE)
        return -ENOTSUP;
    struct saved s = { 0 };
    save(ops, d, &s);
    /* Quiet first: no DMA or interrupts while it resets. */
    wr(ops, d, PCI_COMMAND, (s.command & ~(u32)PCI_CMD_MASTER) | PCI_CMD_INTX_OFF);
    if (how == PCI_RESET_FLR) {
        wr(ops, d, s.exp + PCIE_DEVCTL, s.devctl | PCIE_DEVCTL_FLR);
        delay_us(PCI_RESET_RECOVER_US);
    } else {
        u32 bc = rd(ops, b, PCI_BRIDGE_CONTROL);
        wr(ops, b, PCI_BRIDGE_CONTROL, bc | PCI_BRIDGE_CTL_SBR);
        delay_us(PCI_RESET_HOLD_US);
        wr(ops, b, PCI_BRIDGE_CONTROL, bc & ~(u32)PCI_BRIDGE_CTL_SBR);
        delay_us(PCI_RESET_RECOVER_US);
    }
    if (!pci_answers(ops, d)) {
        ksnprintf(why, len, "it does not answer after the %s", how == PCI_RESET_FLR ? "FLR" : "bus reset");
        return -EIO;
    }
    restore(ops, d, &s);
    return 0;
}
