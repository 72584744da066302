/* MSI and MSI-X forwarding for assigned devices. A device's message (its MSI,
 * or an MSI-X entry) is programmed with the physical APIC ID of the CPU that
 * runs the vCPU its guest named and a host vector allocated on that CPU; the
 * host handler turns the host vector back into the guest's vector on that vCPU.
 * Each CPU runs one vCPU, so a host vector never reaches another partition. */
#ifndef ISTHMUS_VMM_VMSI_H
#define ISTHMUS_VMM_VMSI_H

#include "vmm/partition.h"
#include "vmm/dev/vpci.h"

#define VMSI_FIRST_VECTOR 0x40
#define VMSI_LAST_VECTOR  0xdf

/* The host vectors a partition's devices' MSIs and MSI-X entries are routed
 * through, by route (vpci.h, VPCI_ROUTES: a function's MSI, then each of its
 * MSI-X entries). Owned by the PCI bus device. */
struct vmsi_routes {
    struct partition *p;
    struct {
        u16 cpu;
        u8 hvec;
        bool used;
    } route[VPCI_ROUTES];
};

/* Registers the host handler on every forwarding vector (once, at boot). */
void vmsi_init(void);
/* vpci_ops.msi_route / msi_release; ctx is the partition's struct vmsi_routes. */
int vmsi_route(void *ctx, u32 route, u64 gaddr, u32 gdata, u64 *haddr, u32 *hdata);
void vmsi_release(void *ctx, u32 route);

#endif
