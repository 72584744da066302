/* A partition's guest-physical layout, the same for every partition of a given
 * size, modelled on a PC so that stock kernels find things where they look:
 *
 *   [0, 0x98000)          RAM (the test guest puts its AP trampoline at 0x8000)
 *   [0x98000, 0x9F000)    reserved: a bzImage's 64-bit entry state: identity-map
 *                         page tables, GDT, TSS, stack, command line
 *   [0x9F000, 0xA0000)    reserved: hvm_start_info, memory map, command line (PVH),
 *                         or struct boot_params, the zero page (bzImage)
 *   [0xA0000, 0xE0000)    legacy VGA/ROM range, not in the memory map: reads
 *                         zeros, writes dropped (vmm/dev/lowmem.c)
 *   [0xE0000, 0x100000)   reserved: the partition's ACPI tables, and in its
 *                         last 16 bytes the reset vector (vmm/dev/power.c)
 *   [0x100000, size)      RAM: the kernel is loaded here, then modules
 *   [0xC0000000, 0xFEC00000)  MMIO window for assigned devices' 32-bit BARs
 *                         (starts above RAM when RAM reaches past 3 GiB)
 *   [0xFEC00000, 4 GiB)   system range: no BAR may go there
 *   0xFEE00000            the local APIC page, never RAM (emulated)
 *   64 GiB and up         64-bit BARs that do not fit below 4 GiB
 *
 * Guest RAM is backed by one contiguous host block of `size` bytes mapped at
 * GPA 0, so the holes are host memory the guest cannot reach (not mapped). */
#ifndef ISTHMUS_VMM_LAYOUT_H
#define ISTHMUS_VMM_LAYOUT_H

#include "kernel/lib/types.h"
#include "arch/x86/hw/pc.h"
#include "vmm/pvh_loader.h"
#include "vmm/pvh_start.h"

#define LAYOUT_LOW_RAM_END 0x98000ULL
/* The 64-bit entry's boot area (vmm/boot64.h): a PML4, a PDPT and four page
 * directories identity-mapping the first 4 GiB with 2 MiB pages, then one page
 * holding the GDT, a TSS, a small stack and the command line. */
#define LAYOUT_BOOT64      0x98000ULL
#define LAYOUT_BOOT64_PML4 LAYOUT_BOOT64
#define LAYOUT_BOOT64_PDPT (LAYOUT_BOOT64 + 0x1000)
#define LAYOUT_BOOT64_PD   (LAYOUT_BOOT64 + 0x2000) /* four, one per GiB */
#define LAYOUT_BOOT64_MISC (LAYOUT_BOOT64 + 0x6000)
#define LAYOUT_BOOT64_SZ   0x7000ULL
#define LAYOUT_START_INFO  0x9f000ULL
STATIC_ASSERT(LAYOUT_LOW_RAM_END == LAYOUT_BOOT64 && LAYOUT_BOOT64 + LAYOUT_BOOT64_SZ == LAYOUT_START_INFO,
              "RAM, then the boot area, then the start info page");
#define LAYOUT_START_INFO_SZ  0x1000ULL
/* The legacy VGA window and option-ROM area: the partition's own memory,
 * zeroed and read-only (vmm/dev/lowmem.c), because Linux reads it before it
 * prints anything (the iBFT finder, probe_roms(), the MP-table scan). */
#define LAYOUT_LEGACY         0xa0000ULL
#define LAYOUT_ACPI           0xe0000ULL
#define LAYOUT_ACPI_SZ        0x20000ULL
#define LAYOUT_HIGH_RAM       0x100000ULL
#define LAYOUT_APIC_PAGE      0xfee00000ULL
#define LAYOUT_MMIO32_BASE    0xc0000000ULL
#define LAYOUT_MMIO32_END     0xfec00000ULL
#define LAYOUT_MMIO64_BASE    GiB(64)
#define LAYOUT_MIN_MEMORY     MiB(2)
/* The FADT's sleep control and status registers (hardware-reduced ACPI,
 * ACPI 6.5 section 4.8.3.7): byte ports below 0x1000, where no PCI I/O BAR
 * goes (Linux allocates those from 0x1000 up). A write of SLP_EN with the
 * \_S5 sleep type powers the partition off. */
#define LAYOUT_SLEEP_CTL_PORT 0x600
#define LAYOUT_SLEEP_STS_PORT 0x601
/* The heartbeat port for agents in user space (vmm/dev/hbport.c), also below
 * 0x1000 and outside every legacy device's ports. */
#define LAYOUT_HB_PORT        0x610
#define LAYOUT_HB_PORT_COUNT  8
#define LAYOUT_SLP_TYP_S5     5 /* the \_S5 package's values */
/* The FADT's reset register (ACPI 6.5 4.8.3.6), next to the sleep registers:
 * a byte write of LAYOUT_RESET_VALUE restarts the partition. */
#define LAYOUT_RESET_PORT     0x602
#define LAYOUT_RESET_VALUE    0x01
/* The ACPI tables end below the reset vector, which a PC's firmware has at the
 * top of this area: there the partition has code that writes the reset
 * register (vmm/dev/power.c). */
#define LAYOUT_ACPI_TABLES_SZ (PC_RESET_VECTOR - LAYOUT_ACPI)
STATIC_ASSERT(LAYOUT_ACPI + LAYOUT_ACPI_SZ == PC_RESET_VECTOR + PC_RESET_VECTOR_SZ,
              "the reset vector is the last 16 bytes of the ACPI area");
/* Guest RAM stops below the APIC page: a partition above ~4 GiB - 18 MiB would
 * need RAM split around the MMIO hole, which is not supported yet. */
#define LAYOUT_MAX_MEMORY (LAYOUT_APIC_PAGE - MiB(16))

struct partition_layout {
    u64 memory;                     /* bytes of guest RAM, mapped at GPA 0 */
    struct pvh_mem_range ranges[4]; /* for the start info's memory map */
    u32 nranges;
    struct pvh_range reserved[4]; /* where the loader must not put segments */
    u32 nreserved;
};

/* Fills l for a partition of `memory` bytes (a multiple of 2 MiB); -ERANGE with a
 * message when it is too small or too large. */
int layout_plan(u64 memory, struct partition_layout *l, char *err, size_t errlen) __must_check;

#endif
