/* See layout.h. */
#include "vmm/layout.h"
#include "vmm/pvh.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

int layout_plan(u64 memory, struct partition_layout *l, char *err, size_t errlen)
{
    memset(l, 0, sizeof(*l));
    if (memory < LAYOUT_MIN_MEMORY || !IS_ALIGNED(memory, MiB(2)))
        return kerr_fmt(err, errlen, -ERANGE,
                        "a partition needs a multiple of 2 MiB of memory, "
                        "at least 2 MiB (got %llu bytes)",
                        (unsigned long long)memory);
    if (memory > LAYOUT_MAX_MEMORY)
        return kerr_fmt(err, errlen, -ERANGE,
                        "%llu MiB is more than a partition can have yet "
                        "(%llu MiB: RAM above the 4 GiB MMIO hole is not supported)",
                        (unsigned long long)(memory >> 20), (unsigned long long)(LAYOUT_MAX_MEMORY >> 20));
    l->memory = memory;
    l->ranges[0] = (struct pvh_mem_range){ 0, LAYOUT_LOW_RAM_END, HVM_MEMMAP_RAM };
    /* One reserved range: the boot area and the start info page are adjacent. */
    l->ranges[1] = (struct pvh_mem_range){ LAYOUT_BOOT64, LAYOUT_START_INFO + LAYOUT_START_INFO_SZ - LAYOUT_BOOT64,
                                           HVM_MEMMAP_RESERVED };
    l->ranges[2] = (struct pvh_mem_range){ LAYOUT_ACPI, LAYOUT_ACPI_SZ, HVM_MEMMAP_ACPI };
    l->ranges[3] = (struct pvh_mem_range){ LAYOUT_HIGH_RAM, memory - LAYOUT_HIGH_RAM, HVM_MEMMAP_RAM };
    l->nranges = 4;
    l->reserved[0] = (struct pvh_range){ LAYOUT_START_INFO, LAYOUT_START_INFO + LAYOUT_START_INFO_SZ,
                                         "the start info" };
    l->reserved[3] = (struct pvh_range){ LAYOUT_BOOT64, LAYOUT_BOOT64 + LAYOUT_BOOT64_SZ, "the boot page tables" };
    l->reserved[1] = (struct pvh_range){ LAYOUT_START_INFO + LAYOUT_START_INFO_SZ, LAYOUT_ACPI,
                                         "the legacy VGA/ROM hole" };
    l->reserved[2] = (struct pvh_range){ LAYOUT_ACPI, LAYOUT_ACPI + LAYOUT_ACPI_SZ, "the ACPI tables" };
    l->nreserved = 4;
    return 0;
}
