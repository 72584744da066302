/* Unit tests of the topology builder (drivers/acpi/topology.c) and the queries
 * (kernel/core/topology.c): nodes from SRAT, CPUs from MADT, RAM split at SRAT
 * boundaries, SLIT distances, PCI root nodes, the nearest-node order, the fallbacks
 * for bad or missing tables, and the real QEMU fixtures. */
#include "tests/unit/test_acpi_util.c"
#include "drivers/acpi/topology.h"
#include <errno.h>

static struct acpi_info acpi;
static struct topology topo;

static int setup(void **state)
{
    test_stubs_reset();
    memset(&acpi, 0, sizeof(acpi));
    memset(&topo, 0xa5, sizeof(topo)); /* topology_build must clear everything */
    return 0;
}

/* ---------------------------------------------------------------- builders */

static void add_cpu(u32 apic_id, bool enabled)
{
    struct acpi_madt_cpu *c = &acpi.madt.cpus[acpi.madt.ncpus];
    c->apic_id = apic_id;
    c->uid = acpi.madt.ncpus;
    c->enabled = enabled;
    c->x2apic = apic_id > 0xfe;
    acpi.madt.ncpus++;
    acpi.have_madt = true;
}

static void srat_cpu(u32 apic_id, u32 domain)
{
    acpi.srat.cpus[acpi.srat.ncpus].apic_id = apic_id;
    acpi.srat.cpus[acpi.srat.ncpus++].domain = domain;
    acpi.have_srat = true;
}

static void srat_mem(u64 base, u64 len, u32 domain)
{
    acpi.srat.mem[acpi.srat.nmem].base = base;
    acpi.srat.mem[acpi.srat.nmem].length = len;
    acpi.srat.mem[acpi.srat.nmem++].domain = domain;
    acpi.have_srat = true;
}

static void slit(u32 n, const u8 *m)
{
    acpi.slit.n = n;
    memcpy(acpi.slit.matrix, m, n * n);
    acpi.have_slit = true;
}

static void pci_root(const char *path, u8 bus, bool has_pxm, u32 pxm)
{
    struct acpi_pci_root *r = &acpi.pci_roots[acpi.npci_roots++];
    memset(r, 0, sizeof(*r));
    snprintf(r->path, sizeof(r->path), "%s", path);
    r->base_bus = bus;
    r->has_bbn = true;
    r->has_pxm = has_pxm;
    r->pxm = pxm;
}

struct map {
    u32 n;
    struct boot_mem_range r[BOOT_MAX_MEMMAP];
};
static struct map map;

static void map_add(u64 base, u64 len, u32 type)
{
    map.r[map.n].base = base;
    map.r[map.n].length = len;
    map.r[map.n++].type = type;
}

static void build(u32 bsp) { assert_int_equal(topology_build(&acpi, map.r, map.n, bsp, &topo), 0); }

static u64 node_usable_sum(u32 node)
{
    u32 cur = 0;
    u64 base, len, sum = 0;
    while (topology_next_usable(&topo, node, &cur, &base, &len))
        sum += len;
    return sum;
}

/* ---------------------------------------------------------------- tests */

static void test_no_srat_is_one_node(void **state)
{
    memset(&map, 0, sizeof(map));
    add_cpu(0, true);
    add_cpu(1, true);
    add_cpu(2, false);
    pci_root("\\_SB_.PCI0", 0, false, 0);
    pci_root("\\_SB_.PC80", 0x80, true, 1);
    map_add(0, 0x9f000, MEM_USABLE);
    map_add(0x9f000, 0x61000, MEM_RESERVED);
    map_add(0x100000, 0x700000, MEM_USABLE);
    map_add(0x800000, 0x8000, MEM_ACPI_NVS);
    map_add(0x808000, 0x1000000, MEM_LOADER);
    map_add(0x1808000, 0x100000, MEM_ACPI_RECLAIM);
    map_add(0x1908000, 0x1e6f8000, MEM_USABLE);
    map_add(0xfec00000, 0x1000, MEM_MMIO);
    build(1);
    assert_int_equal(topo.nnodes, 1);
    assert_false(topo.numa);
    assert_true(log_has("no SRAT: one NUMA node 0 holds every CPU and all memory"));
    assert_int_equal(topo.ncpus, 2);
    assert_int_equal(topo.bsp_index, 1);
    assert_true(topo.cpus[1].is_bsp);
    assert_false(topo.cpus[0].is_bsp);
    assert_int_equal(topo.nodes[0].ncpus, 2);
    u64 usable = 0x9f000 + 0x700000 + 0x1e6f8000;
    assert_int_equal(topo.nodes[0].usable_bytes, usable);
    assert_int_equal(topo.nodes[0].ram_bytes, usable + 0x1000000 + 0x100000);
    assert_int_equal(node_usable_sum(0), usable);
    assert_true(topo.dist_synthesized);
    assert_int_equal(topology_distance(&topo, 0, 0), 10);
    /* Everything is on node 0, with or without _PXM. */
    assert_int_equal(topology_pci_root_node(&topo, 0, 0), 0);
    assert_int_equal(topology_pci_root_node(&topo, 0, 0x80), 0);
    assert_int_equal(topology_pci_root_node(&topo, 0, 0x40), -1);
    assert_int_equal(topology_pci_root_node(&topo, 1, 0), -1);
    assert_int_equal(topology_cpu_node(&topo, 1), 0);
    assert_int_equal(topology_cpu_node(&topo, 2), -1); /* disabled */
    assert_int_equal(test_log_count[LOG_WARN], 0);
    /* kinds are kept apart; the usable ones are the page allocator's */
    u32 cur = 0;
    const struct topo_mem_range *r;
    u32 kinds_seen = 0, n = 0;
    while ((r = topology_next_range(&topo, 0, TOPO_RAM_ANY, &cur)) != NULL) {
        kinds_seen |= r->kind;
        n++;
    }
    assert_int_equal(kinds_seen, TOPO_RAM_ANY);
    assert_int_equal(n, 5);
}

static void test_no_acpi_at_all(void **state)
{
    memset(&map, 0, sizeof(map));
    map_add(0x100000, 0x1000000, MEM_USABLE);
    assert_int_equal(topology_build(NULL, map.r, map.n, 3, &topo), 0);
    assert_int_equal(topo.nnodes, 1);
    assert_int_equal(topo.ncpus, 1);
    assert_int_equal(topo.cpus[0].apic_id, 3);
    assert_int_equal(topo.cpus[0].acpi_uid, 0xffffffffu);
    assert_true(topo.cpus[0].is_bsp);
    assert_int_equal(topo.nodes[0].usable_bytes, 0x1000000);
    assert_int_equal(test_log_count[LOG_WARN], 0);
    assert_int_equal(topology_build(NULL, NULL, 1, 0, &topo), -EINVAL);
    assert_int_equal(topology_build(NULL, NULL, 0, 0, NULL), -EINVAL);
}

/* Two nodes of 256 MiB, CPUs 0-1 on the first, 2-3 on the second, distance 20; one
 * usable range crosses the node boundary. */
static void two_nodes(void)
{
    static const u8 d[4] = { 10, 20, 20, 10 };
    memset(&map, 0, sizeof(map));
    for (u32 i = 0; i < 4; i++) {
        add_cpu(i, true);
        srat_cpu(i, i / 2);
    }
    srat_mem(0, 0xa0000, 0);
    srat_mem(0x100000, 0x10000000 - 0x100000, 0);
    srat_mem(0x10000000, 0x10000000, 1);
    slit(2, d);
    pci_root("\\_SB_.PCI0", 0, false, 0);
    pci_root("\\_SB_.PC80", 0x80, true, 1);
    map_add(0, 0x9f000, MEM_USABLE);
    map_add(0x100000, 0x1f000000 - 0x100000, MEM_USABLE); /* crosses 0x10000000 */
    map_add(0x1f000000, 0x100000, MEM_ACPI_RECLAIM);
    map_add(0x1f100000, 0x100000, MEM_LOADER);
    map_add(0x1f200000, 0xe00000, MEM_RESERVED);
}

static void test_two_nodes_four_cpus(void **state)
{
    two_nodes();
    build(0);
    assert_true(topo.numa);
    assert_int_equal(topo.nnodes, 2);
    assert_int_equal(topo.nodes[0].domain, 0);
    assert_int_equal(topo.nodes[1].domain, 1);
    assert_int_equal(topo.ncpus, 4);
    for (u32 i = 0; i < 4; i++) {
        assert_int_equal(topo.cpus[i].apic_id, i);
        assert_int_equal(topo.cpus[i].node, i / 2);
        assert_int_equal(topo.cpus[i].is_bsp, i == 0);
    }
    assert_int_equal(topo.nodes[0].ncpus, 2);
    assert_int_equal(topo.nodes[1].ncpus, 2);
    assert_false(topo.dist_synthesized);
    assert_int_equal(topology_distance(&topo, 0, 1), 20);
    assert_int_equal(topology_distance(&topo, 1, 1), 10);
    assert_int_equal(topology_distance(&topo, 1, 2), TOPO_UNREACHABLE);
    /* The range crossing 256 MiB is split there. */
    assert_int_equal(topo.nodes[0].usable_bytes, 0x9f000 + 0x10000000 - 0x100000);
    assert_int_equal(topo.nodes[0].ram_bytes, topo.nodes[0].usable_bytes);
    assert_int_equal(topo.nodes[1].usable_bytes, 0x1f000000 - 0x10000000);
    assert_int_equal(topo.nodes[1].ram_bytes, 0x1f200000 - 0x10000000);
    u32 cur = 0;
    u64 base, len;
    assert_true(topology_next_usable(&topo, 1, &cur, &base, &len));
    assert_int_equal(base, 0x10000000);
    assert_int_equal(len, 0x0f000000);
    assert_false(topology_next_usable(&topo, 1, &cur, &base, &len));
    cur = 0;
    assert_true(topology_next_usable(&topo, 0, &cur, &base, &len));
    assert_int_equal(base, 0);
    assert_true(topology_next_usable(&topo, 0, &cur, &base, &len));
    assert_int_equal(base, 0x100000);
    assert_int_equal(base + len, 0x10000000);
    assert_int_equal(topo.unassigned_bytes, 0);
    /* node_of_addr: where each node's RAM is contiguous */
    u64 end = 0;
    assert_int_equal(topology_node_of_addr(&topo, 0x100000, &end), 0);
    assert_int_equal(end, 0x10000000);
    assert_int_equal(topology_node_of_addr(&topo, 0x10000000, &end), 1);
    assert_int_equal(end, 0x1f200000);
    end = 0;
    assert_int_equal(topology_node_of_addr(&topo, 0xa0000, &end), -1);
    assert_int_equal(end, 0x100000);
    end = 7;
    assert_int_equal(topology_node_of_addr(&topo, 0x40000000, &end), -1);
    assert_int_equal(end, 7);
    /* PCI roots: the expander's _PXM 1 is node 1; no _PXM on a NUMA machine: unknown */
    assert_int_equal(topology_pci_root_node(&topo, 0, 0x80), 1);
    assert_int_equal(topology_pci_root_node(&topo, 0, 0), -1);
    assert_int_equal(test_log_count[LOG_WARN], 0);
    topology_log(&topo);
    assert_true(log_has("node 1 (domain 1): 2 CPU(s), 242 MiB RAM, 240 MiB usable; "
                        "distances 20 10"));
}

static void test_three_nodes_unequal_memory(void **state)
{
    memset(&map, 0, sizeof(map));
    for (u32 i = 0; i < 3; i++) {
        add_cpu(i, true);
        srat_cpu(i, i);
    }
    srat_mem(0, 0xa0000, 0);
    srat_mem(0x100000, 0x8000000 - 0x100000, 0);
    srat_mem(0x8000000, 0x10000000, 1);
    srat_mem(0x18000000, 0x18000000, 2);
    map_add(0, 0xa0000, MEM_USABLE);
    map_add(0x100000, 0x30000000 - 0x100000, MEM_USABLE); /* spans all three */
    build(2);
    assert_int_equal(topo.nnodes, 3);
    assert_int_equal(topo.nodes[0].ram_bytes, 0x8000000 - 0x60000); /* 128M less the hole */
    assert_int_equal(topo.nodes[1].ram_bytes, 0x10000000);          /* 256M */
    assert_int_equal(topo.nodes[2].ram_bytes, 0x18000000);          /* 384M */
    assert_int_equal(topo.cpus[2].node, 2);
    assert_true(topo.cpus[2].is_bsp);
    assert_int_equal(topo.bsp_index, 2);
    assert_true(topo.dist_synthesized);
    assert_true(log_has("no SLIT: node distances synthesized (10 local, 20 remote)"));
    int order[TOPO_MAX_NODES];
    assert_int_equal(topology_nearest_nodes(&topo, 1, order, TOPO_MAX_NODES), 3);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 0);
    assert_int_equal(order[2], 2);
    assert_int_equal(topology_nearest_nodes(&topo, 3, order, TOPO_MAX_NODES), 0);
    assert_int_equal(topology_nearest_nodes(&topo, 2, order, 2), 2);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 0);
}

static void test_range_split_at_srat_boundaries_and_holes(void **state)
{
    memset(&map, 0, sizeof(map));
    add_cpu(0, true);
    srat_cpu(0, 4);
    srat_mem(0x2000000, 0x1000000, 9);        /* listed out of order */
    srat_mem(0x1000000, 0x800000, 4);         /* gap [0x1800000, 0x2000000) */
    map_add(0x800000, 0x2000000, MEM_USABLE); /* [8M, 40M) */
    build(0);
    assert_int_equal(topo.nnodes, 2);
    assert_int_equal(topo.nodes[0].domain, 4);
    assert_int_equal(topo.nodes[1].domain, 9);
    /* [8M,16M) uncovered -> node 0, [16M,24M) dom 4 -> node 0, [24M,32M) uncovered ->
     * node 0, [32M,40M) dom 9 -> node 1. */
    assert_int_equal(topo.nranges, 2); /* node-0 pieces merged */
    assert_int_equal(topo.ranges[0].base, 0x800000);
    assert_int_equal(topo.ranges[0].length, 0x1800000);
    assert_int_equal(topo.ranges[0].node, 0);
    assert_int_equal(topo.ranges[1].base, 0x2000000);
    assert_int_equal(topo.ranges[1].length, 0x800000);
    assert_int_equal(topo.ranges[1].node, 1);
    assert_int_equal(topo.unassigned_bytes, 0x1000000);
    assert_true(log_has("16384 KiB of RAM (the first at 0x800000) is outside every SRAT "
                        "memory range: given to node 0"));
}

static void test_cpu_missing_from_srat(void **state)
{
    memset(&map, 0, sizeof(map));
    add_cpu(0, true);
    add_cpu(1, true);
    add_cpu(6, true);
    srat_cpu(0, 0);
    srat_cpu(1, 1);
    srat_mem(0, 0x1000000, 0);
    srat_mem(0x1000000, 0x1000000, 1);
    map_add(0, 0x2000000, MEM_USABLE);
    build(0);
    assert_int_equal(topo.ncpus, 3);
    assert_int_equal(topo.cpus[1].node, 1);
    assert_int_equal(topo.cpus[2].node, 0);
    assert_true(log_has("CPU with APIC ID 0x6 is not in the SRAT: placed on node 0"));
    assert_int_equal(topo.nodes[0].ncpus, 2);
}

static void test_nearest_nodes_ties(void **state)
{
    static const u8 d[16] = {
        10, 15, 20, 15, 15, 10, 15, 20, 20, 15, 10, 15, 15, 20, 15, 10,
    };
    memset(&map, 0, sizeof(map));
    add_cpu(0, true);
    for (u32 i = 0; i < 4; i++)
        srat_mem((u64)i << 24, 1 << 24, i);
    srat_cpu(0, 0);
    slit(4, d);
    map_add(0, 4 << 24, MEM_USABLE);
    build(0);
    int order[TOPO_MAX_NODES];
    assert_int_equal(topology_nearest_nodes(&topo, 2, order, TOPO_MAX_NODES), 4);
    assert_int_equal(order[0], 2);
    assert_int_equal(order[1], 1); /* 15, lower index first */
    assert_int_equal(order[2], 3); /* 15 */
    assert_int_equal(order[3], 0); /* 20 */
    assert_int_equal(topology_nearest_nodes(&topo, 0, order, TOPO_MAX_NODES), 4);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 3);
    assert_int_equal(order[3], 2);
    for (u32 i = 0; i < 4; i++)
        assert_int_equal(topo.nodes[i].ram_bytes, 1 << 24);
}

static void test_sparse_domains_and_pxm_mapping(void **state)
{
    u8 d[64];
    memset(&map, 0, sizeof(map));
    for (u32 i = 0; i < 8; i++)
        for (u32 j = 0; j < 8; j++)
            d[i * 8 + j] = i == j ? 10 : (u8)(20 + i + j);
    add_cpu(0, true);
    add_cpu(1, true);
    srat_cpu(0, 7);
    srat_cpu(1, 3);
    srat_mem(0x1000000, 0x1000000, 7);
    srat_mem(0, 0x1000000, 3);
    slit(8, d);
    pci_root("\\_SB_.PCI0", 0, true, 7);
    pci_root("\\_SB_.PC40", 0x40, true, 5); /* not an SRAT domain */
    pci_root("\\_SB_.PC80", 0x80, false, 0);
    map_add(0, 0x2000000, MEM_USABLE);
    build(0);
    assert_int_equal(topo.nnodes, 2);
    assert_int_equal(topo.nodes[0].domain, 3);
    assert_int_equal(topo.nodes[1].domain, 7);
    assert_int_equal(topology_domain_node(&topo, 7), 1);
    assert_int_equal(topology_domain_node(&topo, 5), -1);
    assert_int_equal(topo.cpus[0].node, 1);
    assert_int_equal(topology_distance(&topo, 0, 1), 30); /* SLIT[3][7] */
    assert_int_equal(topology_pci_root_node(&topo, 0, 0), 1);
    assert_int_equal(topology_pci_root_node(&topo, 0, 0x40), -1);
    assert_int_equal(topology_pci_root_node(&topo, 0, 0x80), -1);
    assert_true(log_has("PCI host bridge \\_SB_.PC40 has _PXM 5, which is not an SRAT proximity "
                        "domain: node unknown"));
}

static void test_bad_slit_synthesized(void **state)
{
    static const u8 diag[4] = { 11, 20, 20, 10 };
    static const u8 off[4] = { 10, 10, 20, 10 };
    static const u8 small[1] = { 10 };
    static const struct {
        const u8 *m;
        u32 n;
        const char *msg;
    } cases[] = {
        { diag, 2, "SLIT entry [0][0] = 11 is invalid" },
        { off, 2, "SLIT entry [0][1] = 10 is invalid" },
        { small, 1, "SLIT has 1 localities but proximity domain 1 exists" },
    };
    for (u32 k = 0; k < ARRAY_SIZE(cases); k++) {
        setup(state);
        memset(&map, 0, sizeof(map));
        add_cpu(0, true);
        srat_cpu(0, 0);
        srat_mem(0, 0x1000000, 0);
        srat_mem(0x1000000, 0x1000000, 1);
        slit(cases[k].n, cases[k].m);
        map_add(0, 0x2000000, MEM_USABLE);
        build(0);
        assert_true(topo.dist_synthesized);
        assert_int_equal(topology_distance(&topo, 0, 1), 20);
        assert_int_equal(topology_distance(&topo, 1, 1), 10);
        assert_true(log_has(cases[k].msg));
        assert_true(log_has("node distances synthesized"));
    }
    /* 255 (unreachable) is a valid distance */
    static const u8 unreach[4] = { 10, 255, 255, 10 };
    setup(state);
    add_cpu(0, true);
    srat_cpu(0, 0);
    srat_mem(0, 0x1000000, 0);
    srat_mem(0x1000000, 0x1000000, 1);
    slit(2, unreach);
    build(0);
    assert_false(topo.dist_synthesized);
    assert_int_equal(topology_distance(&topo, 0, 1), 255);
}

static void test_unusable_srat_falls_back(void **state)
{
    /* overlapping ranges of different domains */
    memset(&map, 0, sizeof(map));
    add_cpu(0, true);
    srat_cpu(0, 0);
    srat_mem(0, 0x2000000, 0);
    srat_mem(0x1000000, 0x2000000, 1);
    map_add(0, 0x3000000, MEM_USABLE);
    build(0);
    assert_false(topo.numa);
    assert_int_equal(topo.nnodes, 1);
    assert_int_equal(topo.nodes[0].usable_bytes, 0x3000000);
    assert_true(log_has("SRAT memory ranges of different domains overlap: one NUMA node 0"));

    /* more domains than supported */
    setup(state);
    add_cpu(0, true);
    for (u32 i = 0; i < TOPO_MAX_NODES + 1; i++)
        srat_mem((u64)i << 20, 1 << 20, i * 2);
    build(0);
    assert_int_equal(topo.nnodes, 1);
    assert_true(log_has("more proximity domains than the 32 supported"));

    /* CPU affinities only */
    setup(state);
    add_cpu(0, true);
    srat_cpu(0, 1);
    build(0);
    assert_int_equal(topo.nnodes, 1);
    assert_true(log_has("SRAT has no enabled memory ranges"));
    assert_int_equal(topology_domain_node(&topo, 0), -1);
}

static void test_bsp_and_cpu_caps(void **state)
{
    /* BSP missing from the MADT */
    memset(&map, 0, sizeof(map));
    add_cpu(0, true);
    add_cpu(1, true);
    add_cpu(1, true);  /* duplicate */
    add_cpu(2, false); /* disabled */
    build(9);
    assert_int_equal(topo.ncpus, 3);
    assert_int_equal(topo.cpus[2].apic_id, 9);
    assert_true(topo.cpus[2].is_bsp);
    assert_true(log_has("boot CPU (APIC ID 0x9) is not an enabled MADT processor: added"));
    assert_true(log_has("MADT lists APIC ID 0x1 twice"));

    /* 300 CPUs, the BSP last: capped at 256 with the BSP kept */
    setup(state);
    for (u32 i = 0; i < 300; i++)
        add_cpu(i, true);
    build(299);
    assert_int_equal(topo.ncpus, TOPO_MAX_CPUS);
    assert_int_equal(topo.cpus_dropped, 300 - TOPO_MAX_CPUS);
    assert_int_equal(topo.bsp_index, TOPO_MAX_CPUS - 1);
    assert_int_equal(topo.cpus[TOPO_MAX_CPUS - 1].apic_id, 299);
    assert_int_equal(topo.cpus[TOPO_MAX_CPUS - 1].acpi_uid, 299);
    assert_true(topo.cpus[TOPO_MAX_CPUS - 1].x2apic);
    assert_int_equal(topo.nodes[0].ncpus, TOPO_MAX_CPUS);
    assert_true(log_has("more than 256 enabled CPUs: 44 ignored"));
}

static void test_memory_map_oddities(void **state)
{
    memset(&map, 0, sizeof(map));
    add_cpu(0, true);
    map_add(0x200000, 0x200000, MEM_USABLE);
    map_add(0x100000, 0x200000, MEM_USABLE);              /* overlaps, and out of order */
    map_add(0x300000, 0x80000, MEM_LOADER);               /* inside an earlier range */
    map_add(0x1000000, 0, MEM_USABLE);                    /* empty */
    map_add(0xfffffffffff00000ULL, 0x200000, MEM_USABLE); /* wraps */
    build(0);
    assert_true(log_has("memory map ranges overlap at 0x200000"));
    assert_true(log_has("wraps around"));
    assert_int_equal(topo.ranges[0].base, 0x100000);
    assert_int_equal(topo.ranges[0].length, 0x300000);
    assert_int_equal(topo.ranges[1].base, 0xfffffffffff00000ULL);
    assert_int_equal(topo.ranges[1].length, 0xfffff);
    assert_int_equal(topo.nranges, 2);
}

/* ---------------------------------------------------------------- real fixtures */

/* An OVMF-like memory map for `mib` MiB of RAM (the fixtures hold no memory map). */
static void ovmf_like_map(u64 mib)
{
    u64 top = mib << 20;
    memset(&map, 0, sizeof(map));
    map_add(0, 0xa0000, MEM_USABLE);
    map_add(0x100000, 0x700000, MEM_USABLE);
    map_add(0x800000, 0x8000, MEM_ACPI_NVS);
    map_add(0x808000, 0x8000, MEM_USABLE);
    map_add(0x810000, 0xf0000, MEM_ACPI_NVS);
    map_add(0x900000, 0x6000000, MEM_USABLE);
    map_add(0x6900000, 0x400000, MEM_LOADER);
    map_add(0x6d00000, top - 0x900000 - 0x6d00000, MEM_USABLE);
    map_add(top - 0x900000, 0x80000, MEM_ACPI_RECLAIM);
    map_add(top - 0x880000, 0x880000, MEM_RESERVED);
}

static void fixture_acpi(struct fake_mem *m, const char *machine)
{
    u64 rsdp = fixture_load(m, machine);
    struct acpi_mem mem = fm_acpi(m);
    assert_int_equal(acpi_parse(&mem, rsdp, &acpi), 0);
    test_stubs_reset();
}

static void test_fixture_pc_1node(void **state)
{
    struct fake_mem m;
    fixture_acpi(&m, "pc-1node");
    ovmf_like_map(512);
    build(0);
    assert_int_equal(topo.nnodes, 1);
    assert_false(topo.numa);
    assert_int_equal(topo.ncpus, 1);
    assert_true(topo.cpus[0].is_bsp);
    assert_true(topo.dist_synthesized);
    assert_int_equal(topo.nodes[0].ram_bytes, (512ULL << 20) - 0x60000 - 0xf8000 - 0x880000);
    assert_int_equal(topology_pci_root_node(&topo, 0, 0), 0);
    assert_int_equal(test_log_count[LOG_WARN], 0);
    fm_free(&m);
}

static void test_fixture_q35_2node_pxb(void **state)
{
    struct fake_mem m;
    fixture_acpi(&m, "q35-2node-pxb");
    ovmf_like_map(512);
    build(0);
    assert_true(topo.numa);
    assert_int_equal(topo.nnodes, 2);
    assert_int_equal(topo.ncpus, 4);
    for (u32 i = 0; i < 4; i++)
        assert_int_equal(topo.cpus[i].node, i / 2);
    assert_false(topo.dist_synthesized);
    assert_int_equal(topology_distance(&topo, 0, 1), 20);
    assert_int_equal(topology_distance(&topo, 1, 0), 20);
    assert_int_equal(topo.nodes[0].ram_bytes, (256ULL << 20) - 0x60000 - 0xf8000);
    assert_int_equal(topo.nodes[1].ram_bytes, (256ULL << 20) - 0x880000);
    assert_int_equal(topo.unassigned_bytes, 0);
    assert_int_equal(topology_pci_root_node(&topo, 0, 0x80), 1);
    assert_int_equal(topology_pci_root_node(&topo, 0, 0), -1);
    int order[TOPO_MAX_NODES];
    assert_int_equal(topology_nearest_nodes(&topo, 1, order, TOPO_MAX_NODES), 2);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 0);
    assert_int_equal(test_log_count[LOG_WARN], 0);
    fm_free(&m);
}

static void test_fixture_pc_3node(void **state)
{
    struct fake_mem m;
    fixture_acpi(&m, "pc-3node");
    ovmf_like_map(768);
    build(0);
    assert_true(topo.numa);
    assert_int_equal(topo.nnodes, 3);
    assert_int_equal(topo.ncpus, 3);
    for (u32 i = 0; i < 3; i++) {
        assert_int_equal(topo.cpus[i].node, i);
        assert_int_equal(topo.nodes[i].ncpus, 1);
    }
    assert_true(topo.dist_synthesized);
    assert_int_equal(topo.nodes[0].ram_bytes, (128ULL << 20) - 0x60000 - 0xf8000);
    assert_int_equal(topo.nodes[1].ram_bytes, 256ULL << 20);
    assert_int_equal(topo.nodes[2].ram_bytes, (384ULL << 20) - 0x880000);
    assert_int_equal(topology_pci_root_node(&topo, 0, 0), -1);
    int order[TOPO_MAX_NODES];
    assert_int_equal(topology_nearest_nodes(&topo, 0, order, TOPO_MAX_NODES), 3);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
    assert_int_equal(test_log_count[LOG_WARN], 0);
    fm_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_no_srat_is_one_node, setup),
        cmocka_unit_test_setup(test_no_acpi_at_all, setup),
        cmocka_unit_test_setup(test_two_nodes_four_cpus, setup),
        cmocka_unit_test_setup(test_three_nodes_unequal_memory, setup),
        cmocka_unit_test_setup(test_range_split_at_srat_boundaries_and_holes, setup),
        cmocka_unit_test_setup(test_cpu_missing_from_srat, setup),
        cmocka_unit_test_setup(test_nearest_nodes_ties, setup),
        cmocka_unit_test_setup(test_sparse_domains_and_pxm_mapping, setup),
        cmocka_unit_test_setup(test_bad_slit_synthesized, setup),
        cmocka_unit_test_setup(test_unusable_srat_falls_back, setup),
        cmocka_unit_test_setup(test_bsp_and_cpu_caps, setup),
        cmocka_unit_test_setup(test_memory_map_oddities, setup),
        cmocka_unit_test_setup(test_fixture_pc_1node, setup),
        cmocka_unit_test_setup(test_fixture_q35_2node_pxb, setup),
        cmocka_unit_test_setup(test_fixture_pc_3node, setup),
    };
    return cmocka_run_group_tests_name("topology", tests, NULL, NULL);
}
