/* MCFG (PCI Firmware Specification 3.2, 4.1.2): the PCIe ECAM windows. */
#include "drivers/acpi/internal.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

int acpi_parse_mcfg(const void *tbl, u32 len, struct acpi_info *out)
{
    out->nmcfg = 0;
    out->mcfg_dropped = 0;
    out->have_mcfg = false;
    if (len < sizeof(struct acpi_mcfg) || (len - sizeof(struct acpi_mcfg)) % sizeof(struct acpi_mcfg_entry)) {
        log_warn(ACPI_TAG, "MCFG: length %u is not 44 plus whole 16-byte allocations: skipped", len);
        return -EINVAL;
    }
    u32 n = (len - (u32)sizeof(struct acpi_mcfg)) / (u32)sizeof(struct acpi_mcfg_entry);
    const struct acpi_mcfg_entry *e = (const void *)((const u8 *)tbl + sizeof(struct acpi_mcfg));
    for (u32 i = 0; i < n; i++, e++) {
        if (e->end_bus < e->start_bus || e->base == 0) {
            log_warn(ACPI_TAG,
                     "MCFG: allocation %u (base %#llx, segment %u, buses %u-%u) is "
                     "invalid: skipped",
                     i, (unsigned long long)e->base, e->segment, e->start_bus, e->end_bus);
            continue;
        }
        /* The base addresses bus 0 of the segment, so it must leave room for the
         * start bus below it without wrapping. */
        if (e->base + ((u64)e->end_bus + 1) * MiB(1) < e->base) {
            log_warn(ACPI_TAG, "MCFG: allocation %u at %#llx wraps around: skipped", i, (unsigned long long)e->base);
            continue;
        }
        if (out->nmcfg >= ACPI_MAX_MCFG) {
            if (out->mcfg_dropped++ == 0)
                log_warn(ACPI_TAG, "MCFG: more than %u allocations: the rest ignored", ACPI_MAX_MCFG);
            continue;
        }
        struct acpi_mcfg_alloc *a = &out->mcfg[out->nmcfg++];
        a->base = e->base;
        a->segment = e->segment;
        a->start_bus = e->start_bus;
        a->end_bus = e->end_bus;
    }
    out->have_mcfg = true;
    return 0;
}
