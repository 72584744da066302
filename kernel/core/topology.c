/* Queries of struct topology (see topology.h). The structure is filled once at
 * boot by a builder that reads the firmware (drivers/acpi/topology.c); nothing
 * here knows where the data came from. */
#include "kernel/core/topology.h"
#include "kernel/core/log.h"

#define TAG "topo"

/* ---------------------------------------------------------------- nodes and distances */

int topology_domain_node(const struct topology *t, u32 domain)
{
    if (!t->numa)
        return -1;
    for (u32 i = 0; i < t->nnodes; i++)
        if (t->nodes[i].domain == domain)
            return (int)i;
    return -1;
}

u8 topology_distance(const struct topology *t, u32 from, u32 to)
{
    if (from >= t->nnodes || to >= t->nnodes)
        return TOPO_UNREACHABLE;
    return t->dist[from][to];
}

int topology_nearest_nodes(const struct topology *t, u32 node, int *out_order, u32 max)
{
    u16 order[TOPO_MAX_NODES];
    if (node >= t->nnodes)
        return 0;
    for (u32 i = 0; i < t->nnodes; i++) {
        u32 k = i;
        /* Insertion sort on (distance, index): stable and deterministic. */
        while (k > 0 && t->dist[node][order[k - 1]] > t->dist[node][i]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = (u16)i;
    }
    u32 n = MIN(t->nnodes, max);
    for (u32 i = 0; i < n; i++)
        out_order[i] = order[i];
    return (int)n;
}

/* ---------------------------------------------------------------- memory */

const struct topo_mem_range *topology_next_range(const struct topology *t, u32 node, u32 kinds, u32 *cursor)
{
    for (u32 i = *cursor; i < t->nranges; i++) {
        if (t->ranges[i].node == node && (t->ranges[i].kind & kinds)) {
            *cursor = i + 1;
            return &t->ranges[i];
        }
    }
    *cursor = t->nranges;
    return NULL;
}

bool topology_next_usable(const struct topology *t, u32 node, u32 *cursor, u64 *base, u64 *len)
{
    const struct topo_mem_range *r = topology_next_range(t, node, TOPO_RAM_USABLE, cursor);
    if (!r)
        return false;
    *base = r->base;
    *len = r->length;
    return true;
}

int topology_node_of_addr(const struct topology *t, u64 addr, u64 *piece_end)
{
    /* Ranges are sorted and disjoint: binary search for the last base <= addr. */
    u32 lo = 0, hi = t->nranges;
    while (lo < hi) {
        u32 mid = lo + (hi - lo) / 2;
        if (t->ranges[mid].base <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || addr - t->ranges[lo - 1].base >= t->ranges[lo - 1].length) {
        if (lo < t->nranges)
            *piece_end = t->ranges[lo].base;
        return -1;
    }
    u32 i = lo - 1;
    u16 node = t->ranges[i].node;
    u64 end = t->ranges[i].base + t->ranges[i].length;
    while (++i < t->nranges && t->ranges[i].base == end && t->ranges[i].node == node)
        end += t->ranges[i].length;
    *piece_end = end;
    return node;
}

/* ---------------------------------------------------------------- PCI roots and CPUs */

int topology_pci_root_node(const struct topology *t, u16 seg, u8 root_bus)
{
    for (u32 i = 0; i < t->npci_roots; i++)
        if (t->pci_roots[i].segment == seg && t->pci_roots[i].bus == root_bus)
            return t->pci_roots[i].node;
    return -1;
}

int topology_cpu_node(const struct topology *t, u32 apic_id)
{
    for (u32 i = 0; i < t->ncpus; i++)
        if (t->cpus[i].apic_id == apic_id)
            return t->cpus[i].node;
    return -1;
}

/* ---------------------------------------------------------------- log */

static size_t put_u32(char *buf, size_t k, size_t size, u32 v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && k + 1 < size)
        buf[k++] = tmp[--n];
    return k;
}

void topology_log(const struct topology *t)
{
    log_info(TAG, "%u node(s)%s, %u CPU(s), distances %s", t->nnodes, t->numa ? " from SRAT" : " (no usable SRAT)",
             t->ncpus, t->dist_synthesized ? "synthesized" : "from SLIT");
    for (u32 i = 0; i < t->nnodes; i++) {
        char row[TOPO_MAX_NODES * 4 + 1];
        size_t k = 0;
        for (u32 j = 0; j < t->nnodes; j++) {
            if (j && k + 1 < sizeof(row))
                row[k++] = ' ';
            k = put_u32(row, k, sizeof(row), t->dist[i][j]);
        }
        row[k] = '\0';
        log_info(TAG,
                 "node %u (domain %u): %u CPU(s), %llu MiB RAM, %llu MiB usable; "
                 "distances %s",
                 i, t->nodes[i].domain, t->nodes[i].ncpus, (unsigned long long)(t->nodes[i].ram_bytes >> 20),
                 (unsigned long long)(t->nodes[i].usable_bytes >> 20), row);
    }
    for (u32 i = 0; i < t->npci_roots; i++) {
        const struct topo_pci_root *r = &t->pci_roots[i];
        log_info(TAG, "PCI root %s: %04x:%02x node %d", r->path, r->segment, r->bus, r->node);
    }
}
