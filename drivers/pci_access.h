/* Config-space access for the hypervisor: ECAM (memory-mapped, from MCFG) or
 * the legacy 0xCF8/0xCFC ports for segment 0 when there is no MCFG. */
#ifndef ISTHMUS_DRIVERS_PCI_ACCESS_H
#define ISTHMUS_DRIVERS_PCI_ACCESS_H

#include "drivers/pci.h"

#define PCI_MAX_ECAM 8

struct pci_ecam {
    hpa_t base;
    u16 seg;
    u8 start_bus, end_bus;
};

/* Maps the ECAM windows (uncached); with none, port I/O serves segment 0. */
int pci_access_init(const struct pci_ecam *ecam, int n) __must_check;
const struct pci_cfg_ops *pci_access_ops(void);
const char *pci_access_method(void);
/* The bus ranges to scan: the ECAM windows, or bus 0-255 of segment 0. */
int pci_access_ranges(struct pci_bus_range *out, int cap);
u32 pci_cfg_read32(u16 seg, u8 bus, u8 dev, u8 fn, u16 off);
void pci_cfg_write32(u16 seg, u8 bus, u8 dev, u8 fn, u16 off, u32 v);

#endif
