/* Builds struct topology (kernel/core/topology.h) from struct acpi_info and the
 * boot memory map. Firmware data is trusted only as far as it is consistent: an
 * SRAT that cannot describe the machine (no memory ranges, too many domains,
 * overlapping ranges of different domains) gives way to a single node, a bad
 * SLIT to a synthesized matrix, and each such decision is logged. */
#include "drivers/acpi/topology.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/lib/string.h"

#define TAG                "topo"
#define MAX_NAMED_WARNINGS 4 /* per kind, then a summary line */

/* The topology's bounds hold everything the ACPI parsers can return. */
STATIC_ASSERT(ACPI_MAX_SRAT_MEM <= TOPO_MAX_SRAT_RANGES, "every SRAT memory range can split RAM");
STATIC_ASSERT(ACPI_MAX_PCI_ROOTS <= TOPO_MAX_PCI_ROOTS, "every PCI host bridge is kept");
STATIC_ASSERT(ACPI_PATH_MAX == TOPO_PATH_MAX, "PCI root paths are copied whole");

/* ---------------------------------------------------------------- nodes */

/* Why the SRAT cannot be used, or NULL when it can; fills the sorted domain list. */
static const char *srat_problem(const struct acpi_info *acpi, u32 *domains, u32 *n)
{
    *n = 0;
    if (!acpi || !acpi->have_srat)
        return "no SRAT";
    const struct acpi_srat_info *s = &acpi->srat;
    if (s->nmem == 0)
        return "SRAT has no enabled memory ranges";

    for (u32 i = 0; i < s->ncpus + s->nmem; i++) {
        u32 d = i < s->ncpus ? s->cpus[i].domain : s->mem[i - s->ncpus].domain;
        u32 k = 0;
        while (k < *n && domains[k] < d)
            k++;
        if (k < *n && domains[k] == d)
            continue;
        if (*n == TOPO_MAX_NODES)
            return "SRAT has more proximity domains than the 32 supported";
        memmove(&domains[k + 1], &domains[k], (*n - k) * sizeof(*domains));
        domains[k] = d;
        (*n)++;
    }
    for (u32 i = 0; i < s->nmem; i++) {
        for (u32 j = i + 1; j < s->nmem; j++) {
            const struct acpi_srat_mem *a = &s->mem[i], *b = &s->mem[j];
            if (a->domain != b->domain && a->base < b->base + b->length && b->base < a->base + a->length) {
                log_warn(TAG,
                         "SRAT memory [%#llx, %#llx) of domain %u overlaps "
                         "[%#llx, %#llx) of domain %u",
                         (unsigned long long)a->base, (unsigned long long)(a->base + a->length), a->domain,
                         (unsigned long long)b->base, (unsigned long long)(b->base + b->length), b->domain);
                return "SRAT memory ranges of different domains overlap";
            }
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- distances */

static void synthesize_distances(struct topology *t)
{
    for (u32 i = 0; i < TOPO_MAX_NODES; i++)
        for (u32 j = 0; j < TOPO_MAX_NODES; j++)
            t->dist[i][j] = i == j ? TOPO_LOCAL_DISTANCE : TOPO_REMOTE_DISTANCE;
    t->dist_synthesized = true;
}

static void build_distances(struct topology *t, const struct acpi_info *acpi)
{
    synthesize_distances(t);
    if (!t->numa)
        return;
    if (!acpi->have_slit) {
        log_info(TAG, "no SLIT: node distances synthesized (10 local, 20 remote)");
        return;
    }
    const struct acpi_slit_info *sl = &acpi->slit;
    u32 n = sl->n;
    /* 5.2.17: the diagonal is 10; other entries are relative to it, 255 = unreachable.
     * Like Linux, an off-diagonal entry of 10 or less is taken as a broken table. */
    for (u32 i = 0; i < n; i++) {
        for (u32 j = 0; j < n; j++) {
            u8 v = sl->matrix[i * n + j];
            if ((i == j && v != TOPO_LOCAL_DISTANCE) || (i != j && v <= TOPO_LOCAL_DISTANCE)) {
                log_warn(TAG,
                         "SLIT entry [%u][%u] = %u is invalid (diagonal must be 10, "
                         "others above 10): node distances synthesized (10 local, 20 remote)",
                         i, j, v);
                return;
            }
        }
    }
    for (u32 a = 0; a < t->nnodes; a++) {
        if (t->nodes[a].domain >= n) {
            log_warn(TAG,
                     "SLIT has %u localities but proximity domain %u exists: node "
                     "distances synthesized (10 local, 20 remote)",
                     n, t->nodes[a].domain);
            return;
        }
    }
    for (u32 a = 0; a < t->nnodes; a++)
        for (u32 b = 0; b < t->nnodes; b++)
            t->dist[a][b] = sl->matrix[t->nodes[a].domain * n + t->nodes[b].domain];
    t->dist_synthesized = false;
}

/* ---------------------------------------------------------------- CPUs */

static u16 srat_cpu_node(const struct topology *t, const struct acpi_info *acpi, u32 apic_id, u32 *missing)
{
    if (!t->numa)
        return 0;
    for (u32 i = 0; i < acpi->srat.ncpus; i++) {
        if (acpi->srat.cpus[i].apic_id == apic_id) {
            int node = topology_domain_node(t, acpi->srat.cpus[i].domain);
            return node < 0 ? 0 : (u16)node;
        }
    }
    if ((*missing)++ < MAX_NAMED_WARNINGS)
        log_warn(TAG, "CPU with APIC ID %#x is not in the SRAT: placed on node 0", apic_id);
    return 0;
}

static void build_cpus(struct topology *t, const struct acpi_info *acpi, u32 bsp_apic_id)
{
    u32 missing = 0, duplicates = 0;
    bool bsp_dropped = false;
    struct acpi_madt_cpu bsp_entry = { .apic_id = bsp_apic_id, .uid = 0xffffffffu };

    t->bsp_index = -1;
    for (u32 i = 0; acpi && acpi->have_madt && i < acpi->madt.ncpus; i++) {
        const struct acpi_madt_cpu *c = &acpi->madt.cpus[i];
        if (!c->enabled)
            continue;
        bool dup = false;
        for (u32 k = 0; k < t->ncpus && !dup; k++)
            dup = t->cpus[k].apic_id == c->apic_id;
        if (dup) {
            if (duplicates++ < MAX_NAMED_WARNINGS)
                log_warn(TAG, "MADT lists APIC ID %#x twice: second entry ignored", c->apic_id);
            continue;
        }
        if (t->ncpus >= TOPO_MAX_CPUS) {
            t->cpus_dropped++;
            if (c->apic_id == bsp_apic_id) {
                bsp_dropped = true;
                bsp_entry = *c;
            }
            continue;
        }
        struct topo_cpu *tc = &t->cpus[t->ncpus];
        tc->apic_id = c->apic_id;
        tc->acpi_uid = c->uid;
        tc->x2apic = c->x2apic;
        tc->node = srat_cpu_node(t, acpi, c->apic_id, &missing);
        if (c->apic_id == bsp_apic_id) {
            tc->is_bsp = true;
            t->bsp_index = (s32)t->ncpus;
        }
        t->ncpus++;
    }
    if (t->bsp_index < 0) {
        u32 slot;
        if (bsp_dropped)
            t->cpus_dropped--; /* kept after all ... */
        else if (!acpi || !acpi->have_madt)
            log_info(TAG, "no MADT: the boot CPU (APIC ID %#x) is the only CPU", bsp_apic_id);
        else
            log_warn(TAG, "boot CPU (APIC ID %#x) is not an enabled MADT processor: added", bsp_apic_id);
        if (t->ncpus < TOPO_MAX_CPUS) {
            slot = t->ncpus++;
        } else {
            slot = TOPO_MAX_CPUS - 1; /* ... in place of the last one kept */
            t->cpus_dropped++;
        }
        struct topo_cpu *tc = &t->cpus[slot];
        tc->apic_id = bsp_apic_id;
        tc->acpi_uid = bsp_entry.uid;
        tc->x2apic = bsp_entry.x2apic;
        tc->node = srat_cpu_node(t, acpi, bsp_apic_id, &missing);
        tc->is_bsp = true;
        t->bsp_index = (s32)slot;
    }
    if (missing > MAX_NAMED_WARNINGS)
        log_warn(TAG, "%u CPUs in all are missing from the SRAT (placed on node 0)", missing);
    if (t->cpus_dropped)
        log_warn(TAG, "more than %u enabled CPUs: %u ignored", TOPO_MAX_CPUS, t->cpus_dropped);
    for (u32 i = 0; i < t->ncpus; i++)
        t->nodes[t->cpus[i].node].ncpus++;
}

/* ---------------------------------------------------------------- memory */

static u8 ram_kind(u32 type)
{
    switch (type) {
    case MEM_USABLE: return TOPO_RAM_USABLE;
    case MEM_LOADER: return TOPO_RAM_LOADER;
    case MEM_ACPI_RECLAIM: return TOPO_RAM_ACPI;
    }
    return 0;
}

static void add_piece(struct topology *t, u64 base, u64 end, u16 node, u8 kind)
{
    if (end <= base)
        return;
    if (t->nranges >= TOPO_MAX_RANGES) {
        if (t->ranges_dropped++ == 0)
            log_warn(TAG, "more than %u RAM ranges: [%#llx, %#llx) and later ones ignored", TOPO_MAX_RANGES,
                     (unsigned long long)base, (unsigned long long)end);
        return;
    }
    struct topo_mem_range *r = &t->ranges[t->nranges++];
    r->base = base;
    r->length = end - base;
    r->node = node;
    r->kind = kind;
}

/* Splits [base, end) at the SRAT memory ranges (sorted in order[]). */
static void split_range(struct topology *t, const struct acpi_info *acpi, const u8 *order, u64 base, u64 end, u8 kind,
                        u64 *first_unassigned)
{
    u64 cur = base;
    for (u32 i = 0; i < acpi->srat.nmem && cur < end; i++) {
        const struct acpi_srat_mem *m = &acpi->srat.mem[order[i]];
        u64 m_end = m->base + m->length;
        if (m_end <= cur)
            continue;
        if (m->base >= end)
            break;
        if (m->base > cur) {
            if (!t->unassigned_bytes)
                *first_unassigned = cur;
            t->unassigned_bytes += m->base - cur;
            add_piece(t, cur, m->base, 0, kind);
            cur = m->base;
        }
        u64 piece_end = MIN(end, m_end);
        int node = topology_domain_node(t, m->domain);
        add_piece(t, cur, piece_end, node < 0 ? 0 : (u16)node, kind);
        cur = piece_end;
    }
    if (cur < end) {
        if (!t->unassigned_bytes)
            *first_unassigned = cur;
        t->unassigned_bytes += end - cur;
        add_piece(t, cur, end, 0, kind);
    }
}

static void sort_ranges(struct topology *t)
{
    for (u32 i = 1; i < t->nranges; i++) {
        struct topo_mem_range r = t->ranges[i];
        u32 k = i;
        while (k > 0 && t->ranges[k - 1].base > r.base) {
            t->ranges[k] = t->ranges[k - 1];
            k--;
        }
        t->ranges[k] = r;
    }
}

/* Drops what overlaps an earlier range and merges touching ranges of the same kind
 * and node. */
static void tidy_ranges(struct topology *t)
{
    u32 w = 0;
    bool warned = false;
    for (u32 i = 0; i < t->nranges; i++) {
        struct topo_mem_range r = t->ranges[i];
        if (w > 0) {
            struct topo_mem_range *p = &t->ranges[w - 1];
            u64 p_end = p->base + p->length;
            if (r.base < p_end) {
                if (!warned) {
                    log_warn(TAG, "memory map ranges overlap at %#llx: overlap ignored", (unsigned long long)r.base);
                    warned = true;
                }
                u64 r_end = r.base + r.length;
                if (r_end <= p_end)
                    continue;
                r.length = r_end - p_end;
                r.base = p_end;
            }
            if (r.base == p_end && r.node == p->node && r.kind == p->kind) {
                p->length += r.length;
                continue;
            }
        }
        t->ranges[w++] = r;
    }
    t->nranges = w;
}

static void build_memory(struct topology *t, const struct acpi_info *acpi, const struct boot_mem_range *map, u32 nmap)
{
    u8 order[ACPI_MAX_SRAT_MEM];
    u32 nsrat = t->numa ? acpi->srat.nmem : 0;
    u64 first_unassigned = 0;

    for (u32 i = 0; i < nsrat; i++) {
        u32 k = i;
        while (k > 0 && acpi->srat.mem[order[k - 1]].base > acpi->srat.mem[i].base) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = (u8)i;
    }
    for (u32 i = 0; i < nmap; i++) {
        u8 kind = ram_kind(map[i].type);
        if (!kind || map[i].length == 0)
            continue;
        u64 base = map[i].base, end = base + map[i].length;
        if (end < base) {
            log_warn(TAG, "memory map range at %#llx wraps around: cut at the top", (unsigned long long)base);
            end = ~0ULL;
        }
        if (t->numa)
            split_range(t, acpi, order, base, end, kind, &first_unassigned);
        else
            add_piece(t, base, end, 0, kind);
    }
    sort_ranges(t);
    tidy_ranges(t);
    if (t->unassigned_bytes)
        log_warn(TAG,
                 "%llu KiB of RAM (the first at %#llx) is outside every SRAT memory "
                 "range: given to node 0",
                 (unsigned long long)(t->unassigned_bytes >> 10), (unsigned long long)first_unassigned);
    for (u32 i = 0; i < t->nranges; i++) {
        const struct topo_mem_range *r = &t->ranges[i];
        t->nodes[r->node].ram_bytes += r->length;
        if (r->kind == TOPO_RAM_USABLE)
            t->nodes[r->node].usable_bytes += r->length;
    }
}

/* ---------------------------------------------------------------- PCI roots */

static void build_pci_roots(struct topology *t, const struct acpi_info *acpi)
{
    for (u32 i = 0; acpi && i < acpi->npci_roots && t->npci_roots < TOPO_MAX_PCI_ROOTS; i++) {
        const struct acpi_pci_root *a = &acpi->pci_roots[i];
        struct topo_pci_root *r = &t->pci_roots[t->npci_roots++];
        r->segment = a->segment;
        r->bus = a->base_bus;
        r->has_pxm = a->has_pxm;
        r->pxm = a->pxm;
        memcpy(r->path, a->path, sizeof(r->path));
        if (!t->numa) {
            r->node = 0; /* one node holds everything */
        } else if (!a->has_pxm) {
            r->node = -1;
        } else {
            int node = topology_domain_node(t, a->pxm);
            if (node < 0)
                log_warn(TAG,
                         "PCI host bridge %s has _PXM %u, which is not an SRAT proximity "
                         "domain: node unknown",
                         a->path, a->pxm);
            r->node = (s16)node;
        }
        for (u32 k = 0; k + 1 < t->npci_roots; k++) {
            if (t->pci_roots[k].segment == r->segment && t->pci_roots[k].bus == r->bus) {
                log_warn(TAG, "PCI host bridges %s and %s both claim segment %u bus %#x", t->pci_roots[k].path, r->path,
                         r->segment, r->bus);
                break;
            }
        }
    }
}

/* ---------------------------------------------------------------- build */

int topology_build(const struct acpi_info *acpi, const struct boot_mem_range *map, u32 nmap, u32 bsp_apic_id,
                   struct topology *t)
{
    u32 domains[TOPO_MAX_NODES];
    u32 ndomains;

    if (!t || (!map && nmap))
        return -EINVAL;
    memset(t, 0, sizeof(*t));

    const char *why = srat_problem(acpi, domains, &ndomains);
    if (why) {
        t->nnodes = 1;
        t->nodes[0].domain = 0;
        log_info(TAG, "%s: one NUMA node 0 holds every CPU and all memory", why);
    } else {
        t->numa = true;
        t->nnodes = ndomains;
        for (u32 i = 0; i < ndomains; i++)
            t->nodes[i].domain = domains[i];
    }
    build_distances(t, acpi);
    build_cpus(t, acpi, bsp_apic_id);
    build_memory(t, acpi, map, nmap);
    build_pci_roots(t, acpi);
    return 0;
}
