/* What the hypervisor learned at boot, in one place, for the shell and for the
 * subsystems that come later (partitions, placement). Written once on the boot
 * CPU before the shell starts; read-only afterwards unless noted. */
#ifndef ISTHMUS_KERNEL_MACHINE_H
#define ISTHMUS_KERNEL_MACHINE_H

#include "kernel/core/bootinfo.h"
#include "kernel/core/config.h"
#include "drivers/acpi/acpi.h"
#include "kernel/core/topology.h"
#include "drivers/pci.h"
#include "drivers/iommu.h"
#include "drivers/iommu_hw.h"

struct machine {
    struct boot_info *bi;
    struct isthmus_config cfg;
    struct config_diag cfg_diag;
    bool cfg_ok;          /* file present and valid: partitions may start */
    char cfg_status[160]; /* one line for the shell's `config` command */
    struct acpi_info acpi;
    bool acpi_ok;
    struct topology topo;
    struct pci_list pci;
    struct iommu_model iommu;    /* which DMA remapping unit covers which function */
    struct iommu_units iommu_hw; /* the units, switched on (drivers/iommu_hw.h) */
    char cpu_vendor[13];
    char cpu_brand[49];
};

extern struct machine machine;
/* Physical-memory access for the ACPI code: identity map, read-only on demand. */
extern const struct acpi_mem machine_acpi_mem;

#endif
