/* DMA isolation for a partition's PCI devices: one DMA domain per partition,
 * whose tables map exactly its RAM (guest-physical -> host-physical, so guest
 * addresses work as bus addresses as its drivers expect), built before it
 * starts and torn down after its devices are quiesced. The units are driven
 * by drivers/vtd.c and drivers/amdvi.c (drivers/iommu_hw.h). docs/configuration.md,
 * "PCI devices", says what is isolated and what is not. */
#ifndef ISTHMUS_VMM_DMA_H
#define ISTHMUS_VMM_DMA_H

#include "kernel/lib/types.h"
#include "drivers/pci.h"

struct partition;
struct iommu_hw;

/* Whether `d` can be isolated: its unit, or NULL with why (how the partition's
 * refusal or warning words it). */
struct iommu_hw *dma_unit_of(const struct pci_dev *d, char *why, size_t len);
/* Builds p's domain over its RAM and attaches its remapped devices (those
 * with a unit); devices without one are left as they are (assignment without
 * an IOMMU was allowed at boot). 0, or a negative error with err filled. */
int dma_attach(struct partition *p, char *err, size_t errlen) __must_check;
/* Blocks p's devices again, flushes the units and frees the domain's tables.
 * After vdev_quiesce_all(): the devices no longer master. */
void dma_detach(struct partition *p);
/* Reads every unit's fault records and logs each (rate-limited per
 * partition), counting it on the device and on its owner. The management
 * tick calls it. */
void dma_poll(void);

#endif
