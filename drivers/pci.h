/* PCI enumeration: every function on every bus of every segment, each tagged
 * with the host bridge (root bus) above it, so the NUMA node of its bridge's
 * _PXM can be given to it. Config-space access is passed in (ECAM or port I/O
 * in the hypervisor, a fake in the unit tests). */
#ifndef ISTHMUS_DRIVERS_PCI_H
#define ISTHMUS_DRIVERS_PCI_H

#include "kernel/lib/types.h"

#define PCI_MAX_DEVICES 256
#define PCI_OWNER_MAX   16

/* Config-space registers (PCI Local Bus 3.0, 6.1). */
#define PCI_VENDOR_ID            0x00
#define PCI_CLASS_REV            0x08
#define PCI_HEADER_TYPE          0x0e
#define PCI_BUS_NUMBERS          0x18 /* type 1: primary, secondary, subordinate */
#define PCI_HEADER_MULTIFUNCTION 0x80
#define PCI_HEADER_TYPE_BRIDGE   0x01
#define PCI_COMMAND              0x04 /* command (15:0) and status (31:16) */
#define PCI_CMD_IO               BIT(0)
#define PCI_CMD_MEM              BIT(1)
#define PCI_CMD_MASTER           BIT(2)
#define PCI_CMD_PARITY           BIT(6)
#define PCI_CMD_SERR             BIT(8)
#define PCI_CMD_INTX_OFF         BIT(10)
#define PCI_STATUS_CAPS          BIT(4) /* in the status half: a capability list exists */
#define PCI_BAR0                 0x10
#define PCI_NUM_BARS             6
#define PCI_SUBSYSTEM            0x2c
#define PCI_ROM_BAR              0x30
#define PCI_CAP_PTR              0x34
#define PCI_INTERRUPT            0x3c /* line (7:0), pin (15:8) */
#define PCI_BAR_IO               BIT(0)
#define PCI_BAR_MEM_64           0x4 /* type bits 2:1 = 10b */
#define PCI_BAR_PREFETCH         BIT(3)

/* Capability IDs (PCI 3.0 appendix H). */
#define PCI_CAP_PM     0x01
#define PCI_CAP_MSI    0x05
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_PCIE   0x10
#define PCI_CAP_MSIX   0x11
#define PCI_MAX_CAPS   48 /* a list longer than this is treated as looping */

struct pci_cfg_ops {
    /* Reads the aligned dword at off of seg:bus:dev.fn; 0xffffffff when absent. */
    u32 (*read32)(void *ctx, u16 seg, u8 bus, u8 dev, u8 fn, u16 off);
    void *ctx;
    /* Writes the aligned dword (only pci_probe_bars and device assignment write). */
    void (*write32)(void *ctx, u16 seg, u8 bus, u8 dev, u8 fn, u16 off, u32 v);
};

enum pci_bar_kind { PCI_BAR_NONE, PCI_BAR_KIND_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

/* A base address register as firmware left it. A 64-bit BAR takes two slots;
 * the upper one is PCI_BAR_NONE. */
struct pci_bar {
    u64 base; /* host physical address, or I/O port */
    u64 size; /* 0: not implemented */
    u8 kind;  /* enum pci_bar_kind */
    bool prefetch;
};

struct pci_bus_range {
    u16 seg;
    u8 start, end;
};

struct pci_dev {
    u16 seg;
    u8 bus, dev, fn;
    u16 vendor, device;
    u8 class, subclass, progif, rev;
    u8 header_type;
    bool bridge;
    u8 sec_bus, sub_bus;       /* bridges only */
    u8 root_bus;               /* the bus of the host bridge this device is under */
    int node;                  /* NUMA node, -1 when unknown */
    char owner[PCI_OWNER_MAX]; /* "hypervisor" until a partition owns it */
    bool bars_probed;
    struct pci_bar bar[PCI_NUM_BARS];
    u64 dma_faults; /* DMA remapping faults it caused (vmm/dma.c) */
};

struct pci_list {
    u32 count;
    bool truncated; /* more functions than PCI_MAX_DEVICES */
    struct pci_dev dev[PCI_MAX_DEVICES];
};

/* Scans every bus in the given ranges and works out each function's root bus
 * from the bridges' secondary/subordinate numbers. */
int pci_enumerate(const struct pci_cfg_ops *ops, const struct pci_bus_range *ranges, int nranges,
                  struct pci_list *out) __must_check;
const char *pci_class_name(u8 class, u8 subclass);

/* Sizes the BARs of a type-0 function (decoding off while the registers hold
 * all-ones, then everything restored). -EINVAL for bridges and without write32. */
int pci_probe_bars(const struct pci_cfg_ops *ops, struct pci_dev *d) __must_check;
/* Config offset of the first capability with this ID, 0 when there is none;
 * stops at PCI_MAX_CAPS entries so a looping list cannot hang the caller. */
u8 pci_find_cap(const struct pci_cfg_ops *ops, const struct pci_dev *d, u8 id);

#endif
