/* Resetting one PCI function that misbehaves (issue 19: a device that keeps
 * faulting or stops answering), without touching its neighbours: a Function
 * Level Reset when the function offers one (PCIe Base 4.0, 6.6.2), else a
 * secondary bus reset of the bridge above it when it is the only function
 * there (7.5.1.3.13, bridge control bit 6). Its configuration (BARs, command,
 * MSI, PCIe device and link control) is saved before and written back after,
 * so the hypervisor's programming of it (the real BARs, the host MSI route)
 * holds; what the device kept inside (rings, queues) is gone, as after any
 * reset, and its driver must notice. */
#ifndef ISTHMUS_DRIVERS_PCI_RESET_H
#define ISTHMUS_DRIVERS_PCI_RESET_H

#include "drivers/pci.h"

/* PCI Express capability registers (PCIe Base 4.0, 7.5.3). */
#define PCIE_DEVCAP        0x04
#define PCIE_DEVCAP_FLR    BIT(28)
#define PCIE_DEVCTL        0x08 /* control (15:0), status (31:16) */
#define PCIE_DEVCTL_FLR    BIT(15)
#define PCIE_LNKCTL        0x10
#define PCI_BRIDGE_CONTROL 0x3c /* type 1: bits 31:16 of the interrupt dword */
#define PCI_BRIDGE_CTL_SBR BIT(6 + 16)

/* Time a function may take to come back: 100 ms after an FLR or the end of a
 * bus reset (PCIe Base 4.0, 6.6.1/6.6.2); the reset itself is held 2 ms. */
#define PCI_RESET_RECOVER_US 100000
#define PCI_RESET_HOLD_US    2000

enum pci_reset_how { PCI_RESET_NONE, PCI_RESET_FLR, PCI_RESET_BUS };

/* Which reset d can have: FLR, the bus of its bridge `*bridge` (set), or
 * none (why says why). l is the enumeration d belongs to. */
enum pci_reset_how pci_reset_method(const struct pci_cfg_ops *ops, const struct pci_list *l, const struct pci_dev *d,
                                    const struct pci_dev **bridge, char *why, size_t len);
/* Resets d by pci_reset_method's choice, its configuration kept. 0, or
 * -ENOTSUP with why filled. delay_us waits (the hypervisor's time_delay_us;
 * a fake clock in tests). */
int pci_reset_function(const struct pci_cfg_ops *ops, const struct pci_list *l, struct pci_dev *d,
                       void (*delay_us)(u64 us), enum pci_reset_how *done, char *why, size_t len) __must_check;
/* Whether the function answers configuration reads (its vendor ID is not all-ones). */
bool pci_answers(const struct pci_cfg_ops *ops, const struct pci_dev *d);

#endif
