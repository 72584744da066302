/* The NUMA topology from ACPI: fills the core's struct topology
 * (kernel/core/topology.h) from the parsed SRAT, SLIT, MADT and PCI host
 * bridges, and the boot memory map. */
#ifndef ISTHMUS_DRIVERS_ACPI_TOPOLOGY_H
#define ISTHMUS_DRIVERS_ACPI_TOPOLOGY_H

#include "kernel/lib/types.h"
#include "kernel/core/bootinfo.h"
#include "kernel/core/topology.h"
#include "drivers/acpi/acpi.h"

/* Builds *out. acpi may be NULL (no ACPI: one node, the boot CPU, all RAM). map holds
 * nmap boot memory ranges. Never fails on bad firmware data (that is warned about
 * and replaced by a safe default); returns -EINVAL only for a NULL out or a NULL map
 * with nmap > 0. */
int topology_build(const struct acpi_info *acpi, const struct boot_mem_range *map, u32 nmap, u32 bsp_apic_id,
                   struct topology *out) __must_check;

#endif
