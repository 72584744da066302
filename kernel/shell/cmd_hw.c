/* Shell commands about the machine: mem, pci. (numa and acpi are in cmd_topo.c.) */
#include "kernel/lib/shell_core.h"
#include "drivers/machine.h"
#include "kernel/core/console.h"
#include "kernel/lib/errno.h"
#include "kernel/core/mm.h"
#include "kernel/lib/string.h"
#include "kernel/lib/printf.h"
#include "drivers/pci_access.h"

#define PAGES_TO_MIB(p) ((unsigned long long)((p) >> 8))

static struct page_alloc snap; /* the shell runs on one CPU: no need for stack space */

static int cmd_mem(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return -EINVAL;
    mm_snapshot(&snap);
    con_printf("NODE  RANGE                                   TOTAL(MiB)  FREE(pages)  USED(pages)  RESERVED\n");
    for (int i = 0; i < pfa_range_count(&snap); i++) {
        struct pfa_range_info r;
        if (pfa_range_info(&snap, i, &r) < 0)
            break;
        con_printf("%-5d %016llx-%016llx  %-10llu  %-11llu  %-11llu  %llu\n", r.node, (unsigned long long)r.base,
                   (unsigned long long)(r.base + r.npages * PAGE_SIZE - 1), PAGES_TO_MIB(r.npages),
                   (unsigned long long)r.stats.free, (unsigned long long)r.stats.used,
                   (unsigned long long)r.stats.reserved);
    }
    for (int n = 0; n < PFA_MAX_NODES; n++) {
        struct pfa_stats s;
        pfa_node_stats(&snap, n, &s);
        if (!s.total)
            continue;
        con_printf("node %d: %llu MiB free of %llu MiB; pages free %llu, used %llu, reserved %llu; "
                   "allocations %llu, frees %llu, failures %llu, fallbacks to other nodes %llu\n",
                   n, PAGES_TO_MIB(s.free), PAGES_TO_MIB(s.total), (unsigned long long)s.free,
                   (unsigned long long)s.used, (unsigned long long)s.reserved, (unsigned long long)s.allocs,
                   (unsigned long long)s.frees, (unsigned long long)s.failures, (unsigned long long)s.fallbacks);
    }
    struct pfa_stats all;
    pfa_node_stats(&snap, PFA_ALL_NODES, &all);
    con_printf("total: %llu MiB free of %llu MiB (%llu pages free, %llu used, %llu reserved)\n", PAGES_TO_MIB(all.free),
               PAGES_TO_MIB(all.total), (unsigned long long)all.free, (unsigned long long)all.used,
               (unsigned long long)all.reserved);
    return 0;
}
SHELL_COMMAND(mem, "mem", "RAM managed per NUMA node and range: free, used, reserved", cmd_mem);

static int cmd_pci(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return -EINVAL;
    const struct pci_list *l = &machine.pci;
    con_printf("configuration access: %s\n", pci_access_method());
    con_printf("BDF           ID         NODE  OWNER        IOMMU       FAULTS  CLASS\n");
    for (u32 i = 0; i < l->count; i++) {
        const struct pci_dev *d = &l->dev[i];
        char node[8];
        if (d->node < 0)
            kstrlcpy(node, "-", sizeof(node));
        else
            ksnprintf(node, sizeof(node), "%d", d->node);
        char unit[20], faults[16] = "-";
        struct iommu_cover c = iommu_lookup(&machine.iommu, d->seg, d->bus, (u8)(d->dev << 3 | d->fn));
        iommu_cover_text(c, unit, sizeof(unit));
        bool covered = c.how == IOMMU_SCOPE || c.how == IOMMU_ALL;
        if (covered && (u32)c.unit < machine.iommu_hw.n && !machine.iommu_hw.unit[c.unit].on)
            ksnprintf(unit, sizeof(unit), "off:iommu%d", c.unit);
        else if (covered)
            ksnprintf(faults, sizeof(faults), "%llu", (unsigned long long)d->dma_faults);
        con_printf("%04x:%02x:%02x.%u  %04x:%04x  %-5s %-12s %-11s %-7s %02x.%02x.%02x %s", d->seg, d->bus, d->dev,
                   d->fn, d->vendor, d->device, node, d->owner, unit, faults, d->class, d->subclass, d->progif,
                   pci_class_name(d->class, d->subclass));
        if (d->bridge)
            con_printf(" (buses %02x-%02x)", d->sec_bus, d->sub_bus);
        con_printf("\n");
    }
    con_printf("%u functions%s\n", l->count, l->truncated ? " (list truncated)" : "");
    if (machine.acpi.iommu.nunits)
        con_printf("IOMMU: the DMA remapping unit that covers the function ('acpi' lists them; off: not used); "
                   "FAULTS: the DMA it tried that the unit blocked\n");
    return 0;
}
SHELL_COMMAND(pci, "pci",
              "list PCI functions: address, vendor:device, NUMA node, owner, DMA remapping unit and faults, class",
              cmd_pci);
