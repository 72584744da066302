/* PCI configuration access on bus 0 through configuration mechanism #1
 * (ports 0xCF8/0xCFC, PCI 3.0 3.2.2.3.2), for the pci and net scenarios. Every
 * access is a whole aligned dword; narrower writes read, merge and write it. */
#ifndef TG_PCI_H
#define TG_PCI_H

#include <stddef.h>
#include <stdint.h>

#define PCI_CMD_IO      0x1
#define PCI_CMD_MEM     0x2
#define PCI_CMD_MASTER  0x4
#define PCI_CAP_MSI     0x05
#define PCI_CAP_VENDOR  0x09
#define PCI_CAP_MSIX    0x11
#define PCI_MAX_CAPS    48          /* (256 - 64) / 4: a longer list is a loop */
/* MSI-X message control and table/PBA registers (PCI 3.0 6.8.2.3-5); the
 * table entry is MSIX_ENTRY_* in net/virtio.h. */
#define MSIX_CTRL_ENABLE  0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_TSIZE_MASK   0x7ff
#define MSIX_BIR_MASK     0x7
#define MSI_ADDR(apic)    (0xfee00000u | (uint32_t)(apic) << 12)   /* SDM Vol. 3A 11.11.1 */

void pci_lock(void);        /* around raw 0xCF8/0xCFC accesses */
void pci_unlock(void);
uint32_t pci_cfg_read(unsigned dev, unsigned off);
void pci_cfg_write(unsigned dev, unsigned off, uint32_t v);
void pci_cfg_write16(unsigned dev, unsigned off, uint16_t v);
/* Any bus and function (the dma scenario's search, which follows bridges). */
uint32_t pci_cfg_read_bdf(unsigned bus, unsigned dev, unsigned fn, unsigned off);
void pci_cfg_write_bdf(unsigned bus, unsigned dev, unsigned fn, unsigned off, uint32_t v);
/* The capability list: the first entry's offset, then the one after `at`;
 * 0 at the end (or when the function has no list). */
unsigned pci_cap_first(unsigned dev);
unsigned pci_cap_next(unsigned dev, unsigned at);

#endif
