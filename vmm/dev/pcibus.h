/* The partition's PCI bus as a device (vmm/dev/pcibus.c; the bus model is
 * vmm/dev/vpci.c): what a device on the bus may call. */
#ifndef ISTHMUS_VMM_DEV_PCIBUS_H
#define ISTHMUS_VMM_DEV_PCIBUS_H

#include "vmm/partition.h"
#include "vmm/dev/vpci.h"

/* From an attach() ordered after the bus's (PCIBUS_ORDER): puts an emulated
 * function on the partition's bus, its BARs in the 32-bit MMIO window. Its
 * trapped BAR accesses reach emu->bar_access through the bus's MMIO claim. */
#define PCIBUS_ORDER 10
int pcibus_add_emu(struct partition *p, const struct vpci_emu *emu, const u64 bars[PCI_NUM_BARS], const char *what,
                   char *err, size_t errlen) __must_check;
/* Where the guest placed BAR `bar` of the function in virtual slot `slot`
 * (1-based, as the guest sees it): 1 and *at when it decodes, 0 when it does
 * not (*reg holds what the guest wrote), -ENOENT when the bus is not built. */
int pcibus_bar_at(const struct partition *p, u32 slot, u32 bar, u64 *at, u32 *reg);

#endif
