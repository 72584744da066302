/* The `numa` shell command: nodes, what each holds, and the distances between them. */
#include "kernel/lib/shell_core.h"
#include "drivers/machine.h"
#include "kernel/core/console.h"
#include "kernel/lib/errno.h"
#include "vmm/query.h"

static void list_pci(int node)
{
    for (u32 i = 0; i < machine.pci.count; i++) {
        const struct pci_dev *d = &machine.pci.dev[i];
        if (d->node != node)
            continue;
        con_printf("  pci %04x:%02x:%02x.%u %04x:%04x %s, owner %s\n", d->seg, d->bus, d->dev, d->fn, d->vendor,
                   d->device, pci_class_name(d->class, d->subclass), d->owner);
    }
}

static struct part_info info; /* the shell runs on CPU 0 only */

/* Which partitions hold this node's CPUs and memory (as placed at boot). */
static void list_partitions(int node)
{
    const struct part_info *p = &info;
    for (u32 i = 0; i < part_count(); i++) {
        if (part_snapshot(i, &info) < 0 || p->state == PART_INFO_REFUSED)
            continue;
        u32 cpus = 0;
        for (u32 j = 0; j < p->nvcpus; j++)
            cpus += p->cpu_node[j] == node;
        u64 mem = 0;
        for (u32 j = 0; j < p->nmem; j++)
            mem += p->mem[j].node == node ? p->mem[j].bytes : 0;
        if (!cpus && !mem)
            continue;
        con_printf("  partition %s (%s): %u of its CPUs", p->name, p->state_name, cpus);
        for (u32 j = 0; j < p->nvcpus; j++)
            if (p->cpu_node[j] == node)
                con_printf(" %u", p->cpus[j]);
        if (mem)
            con_printf(", %s%llu MiB of memory%s", mem == p->memory ? "its " : "", (unsigned long long)(mem >> 20),
                       p->has_memory ? "" : " (when running)");
        con_printf("\n");
    }
}

static int cmd_numa(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return -EINVAL;
    const struct topology *t = &machine.topo;
    if (t->numa)
        con_printf("%u NUMA nodes from the SRAT; distances %s\n", t->nnodes,
                   t->dist_synthesized ? "synthesized (no usable SLIT)" : "from the SLIT");
    else
        con_printf("one node: no SRAT (or an unusable one), everything is node 0\n");
    for (u32 n = 0; n < t->nnodes; n++) {
        const struct topo_node *nd = &t->nodes[n];
        con_printf("node %u: domain %u, %llu MiB RAM (%llu MiB usable), CPUs (APIC ID):", n, nd->domain,
                   (unsigned long long)(nd->ram_bytes >> 20), (unsigned long long)(nd->usable_bytes >> 20));
        for (u32 c = 0; c < t->ncpus; c++)
            if (t->cpus[c].node == n)
                con_printf(" %u", t->cpus[c].apic_id);
        con_printf("\n");
        u32 cursor = 0;
        const struct topo_mem_range *r;
        while ((r = topology_next_range(t, n, TOPO_RAM_ANY, &cursor)) != NULL)
            con_printf("  ram %016llx-%016llx %s\n", (unsigned long long)r->base,
                       (unsigned long long)(r->base + r->length - 1),
                       r->kind == TOPO_RAM_USABLE   ? "usable"
                       : r->kind == TOPO_RAM_LOADER ? "isthmus"
                                                    : "ACPI");
        for (u32 i = 0; i < t->npci_roots; i++)
            if (t->pci_roots[i].node == (s16)n)
                con_printf("  host bridge %s (segment %u, bus %02x)\n", t->pci_roots[i].path, t->pci_roots[i].segment,
                           t->pci_roots[i].bus);
        list_pci((int)n);
        list_partitions((int)n);
    }
    bool header = false;
    for (u32 i = 0; i < machine.pci.count; i++) {
        if (machine.pci.dev[i].node >= 0)
            continue;
        if (!header)
            con_printf("no known node (host bridge without _PXM):\n");
        header = true;
        const struct pci_dev *d = &machine.pci.dev[i];
        con_printf("  pci %04x:%02x:%02x.%u %04x:%04x %s\n", d->seg, d->bus, d->dev, d->fn, d->vendor, d->device,
                   pci_class_name(d->class, d->subclass));
    }
    con_printf("distances\n");
    for (u32 i = 0; i < t->nnodes; i++) {
        con_printf("  %u:", i);
        for (u32 j = 0; j < t->nnodes; j++)
            con_printf(" %u", topology_distance(t, i, j));
        con_printf("\n");
    }
    return 0;
}
SHELL_COMMAND(numa, "numa", "NUMA nodes: their CPUs, memory and PCI devices, and distances", cmd_numa);
