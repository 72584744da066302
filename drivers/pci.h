/* PCI enumeration: every function on every bus of every segment, each tagged
 * with the host bridge (root bus) above it, so the NUMA node of its bridge's
 * _PXM can be given to it. Config-space access is passed in (ECAM or port I/O
 * in the hypervisor, a fake in the unit tests). */
#ifndef ISTHMUS_DRIVERS_PCI_H
#define ISTHMUS_DRIVERS_PCI_H

#include "kernel/types.h"

#define PCI_MAX_DEVICES 256
#define PCI_OWNER_MAX   16

/* Config-space registers (PCI Local Bus 3.0, 6.1). */
#define PCI_VENDOR_ID     0x00
#define PCI_CLASS_REV     0x08
#define PCI_HEADER_TYPE   0x0e
#define PCI_BUS_NUMBERS   0x18   /* type 1: primary, secondary, subordinate */
#define PCI_HEADER_MULTIFUNCTION 0x80
#define PCI_HEADER_TYPE_BRIDGE   0x01

struct pci_cfg_ops {
    /* Reads the aligned dword at off of seg:bus:dev.fn; 0xffffffff when absent. */
    u32 (*read32)(void *ctx, u16 seg, u8 bus, u8 dev, u8 fn, u16 off);
    void *ctx;
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
    u8 sec_bus, sub_bus;        /* bridges only */
    u8 root_bus;                /* the bus of the host bridge this device is under */
    int node;                   /* NUMA node, -1 when unknown */
    char owner[PCI_OWNER_MAX];  /* "hypervisor" until a partition owns it */
};

struct pci_list {
    u32 count;
    bool truncated;             /* more functions than PCI_MAX_DEVICES */
    struct pci_dev dev[PCI_MAX_DEVICES];
};

/* Scans every bus in the given ranges and works out each function's root bus
 * from the bridges' secondary/subordinate numbers. */
int pci_enumerate(const struct pci_cfg_ops *ops, const struct pci_bus_range *ranges, int nranges,
                  struct pci_list *out) __must_check;
const char *pci_class_name(u8 class, u8 subclass);

#endif
