/* The NUMA placement planner over synthetic machines: 1, 2, 4 and 8 nodes,
 * unequal memory, SLIT distances, priorities, devices, impossible requests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/placement.h"

#define MIB(x) ((u64)(x) << 20)

static struct place_machine m;
static struct place_request rq[PLACE_MAX_PARTS];
static struct place_result rs[PLACE_MAX_PARTS];

/* nodes x cpus_per_node CPUs (CPU 0 reserved), mem MiB per node, distance 10 + 10 * |a - b|. */
static void machine(u32 nodes, u32 cpus_per_node, u32 mem_mib)
{
    memset(&m, 0, sizeof(m));
    memset(rq, 0, sizeof(rq));
    memset(rs, 0, sizeof(rs));
    m.nnodes = nodes;
    m.ncpus = nodes * cpus_per_node;
    for (u32 c = 0; c < m.ncpus; c++)
        m.cpu_node[c] = (s8)(c / cpus_per_node);
    m.cpu_reserved[0] = true;
    for (u32 i = 0; i < nodes; i++) {
        m.node_mem[i] = MIB(mem_mib);
        for (u32 j = 0; j < nodes; j++)
            m.dist[i][j] = (u8)(10 + 10 * (i > j ? i - j : j - i));
    }
}

static struct place_request *req(u32 i, const char *name, u32 ncpus, u32 mem_mib)
{
    struct place_request *q = &rq[i];
    q->name = name;
    q->ncpus = ncpus;
    q->memory = MIB(mem_mib);
    q->node = -1;
    return q;
}

/* Adds PCI function seg:bus:dev.fn to a request's devices. */
static void own(struct place_request *q, u32 bus, u32 dev, u32 fn)
{
    q->devices[q->ndevices++] = place_bdf(0, bus, dev, fn);
}

static void assert_cpus(const struct place_result *r, u32 n, const u16 *want)
{
    assert_true(r->ok);
    assert_int_equal(r->ncpus, n);
    for (u32 i = 0; i < n; i++)
        assert_int_equal(r->cpus[i], want[i]);
}

static void test_one_node(void **state)
{
    (void)state;
    machine(1, 4, 1024);
    req(0, "a", 2, 256);
    req(1, "b", 1, 256);
    assert_int_equal(place_plan(&m, rq, 2, rs), 0);
    assert_cpus(&rs[0], 2, (const u16[]){ 1, 2 });
    assert_cpus(&rs[1], 1, (const u16[]){ 3 });
    assert_int_equal(rs[0].nmem, 1);
    assert_int_equal(rs[0].mem[0].node, 0);
    assert_int_equal(rs[0].mem[0].bytes, MIB(256));
    assert_false(rs[0].fallback);
    assert_string_equal(rs[0].msg, "node 0: the first node with room");
    /* One CPU too many: refused with what is left, and it takes nothing. */
    req(2, "c", 1, 256);
    assert_int_equal(place_plan(&m, rq, 3, rs), 1);
    assert_false(rs[2].ok);
    assert_string_equal(rs[2].msg,
                        "partition \"c\" needs 1 CPU and 256 MiB on one node; free: node 0: 0 CPUs, 512 MiB");
    assert_int_equal(rs[2].ncpus, 0);
}

static void test_two_nodes_first_fit_and_determinism(void **state)
{
    (void)state;
    machine(2, 4, 512);
    req(0, "a", 3, 256); /* node 0 has CPUs 1-3 */
    req(1, "b", 2, 256); /* node 0 is out of CPUs: node 1 */
    req(2, "c", 2, 512); /* node 1 has 2 CPUs but only 256 MiB left: nowhere */
    assert_int_equal(place_plan(&m, rq, 3, rs), 1);
    assert_cpus(&rs[0], 3, (const u16[]){ 1, 2, 3 });
    assert_cpus(&rs[1], 2, (const u16[]){ 4, 5 });
    assert_int_equal(rs[1].home, 1);
    assert_false(rs[2].ok);
    assert_string_equal(rs[2].msg, "partition \"c\" needs 2 CPUs and 512 MiB on one node; free: node 0: 0 CPUs, "
                                   "256 MiB; node 1: 2 CPUs, 256 MiB (numa = \"spread\" allows several nodes)");
    /* The same input gives the same plan. */
    struct place_result again[3];
    assert_int_equal(place_plan(&m, rq, 3, again), 1);
    assert_memory_equal(again, rs, sizeof(again));
}

static void test_spread(void **state)
{
    (void)state;
    machine(2, 4, 512);
    req(0, "a", 3, 256);
    struct place_request *c = req(1, "c", 3, 512);
    c->numa = PLACE_SPREAD;
    assert_int_equal(place_plan(&m, rq, 2, rs), 0);
    assert_cpus(&rs[1], 3, (const u16[]){ 4, 5, 6 });
    /* Memory from its first node (1), then the nearest with room (0). */
    assert_int_equal(rs[1].nmem, 2);
    assert_int_equal(rs[1].mem[0].node, 0);
    assert_int_equal(rs[1].mem[0].bytes, MIB(256));
    assert_int_equal(rs[1].mem[1].node, 1);
    assert_int_equal(rs[1].mem[1].bytes, MIB(256));
}

static void test_four_nodes_device_locality_and_fallback(void **state)
{
    (void)state;
    machine(4, 2, 512); /* CPUs 0-1 node 0, 2-3 node 1, 4-5 node 2, 6-7 node 3 */
    m.ndevs = 2;
    m.devs[0] = (struct place_dev){ place_bdf(0, 0x80, 0, 0), 2 };
    m.devs[1] = (struct place_dev){ place_bdf(0, 0x81, 0, 0), 2 };
    struct place_request *nic = req(0, "nic", 2, 256);
    own(nic, 0x80, 0, 0);
    struct place_request *nic2 = req(1, "nic2", 2, 256);
    own(nic2, 0x81, 0, 0);
    assert_int_equal(place_plan(&m, rq, 2, rs), 0);
    assert_cpus(&rs[0], 2, (const u16[]){ 4, 5 });
    assert_int_equal(rs[0].home, 2);
    assert_false(rs[0].fallback);
    assert_string_equal(rs[0].msg, "node 2: its PCI devices' node");
    assert_int_equal(rs[0].ndevices, 1);
    assert_int_equal(rs[0].dev_index[0], 0);
    /* Node 2 is full: nic2 falls back whole to the nearest node (1 and 3 are both
     * at distance 20; the lower number wins). */
    assert_cpus(&rs[1], 2, (const u16[]){ 2, 3 });
    assert_true(rs[1].fallback);
    assert_int_equal(rs[1].wanted, 2);
    assert_string_equal(rs[1].msg, "wanted node 2 (its PCI devices' node), which is short of room; placed on "
                                   "node 1 (distance 20)");
}

static void test_priority_decides_who_is_local(void **state)
{
    (void)state;
    machine(2, 4, 1024);
    m.ndevs = 1;
    m.devs[0] = (struct place_dev){ place_bdf(0, 0x80, 0, 0), 1 };
    /* Both want node 1 (pinned vs. device); only one fits there. */
    struct place_request *a = req(0, "batch", 3, 256);
    a->priority = 1;
    struct place_request *b = req(1, "web", 3, 256);
    b->priority = 10;
    own(b, 0x80, 0, 0);
    struct place_request *c = req(2, "db", 2, 256);
    c->priority = 5;
    c->ndevices = 0;
    /* web (10) takes node 1 first; db (5) goes to node 0 (first fit); batch (1)
     * finds node 0 with 1 CPU left and node 1 with 1: refused. */
    assert_int_equal(place_plan(&m, rq, 3, rs), 1);
    assert_cpus(&rs[1], 3, (const u16[]){ 4, 5, 6 });
    assert_cpus(&rs[2], 2, (const u16[]){ 1, 2 });
    assert_false(rs[0].ok);
    /* With batch first by priority, it would have had node 0. */
    a->priority = 20;
    assert_int_equal(place_plan(&m, rq, 3, rs), 1);
    assert_cpus(&rs[0], 3, (const u16[]){ 1, 2, 3 });
    assert_cpus(&rs[1], 3, (const u16[]){ 4, 5, 6 });
    assert_false(rs[2].ok);
}

static void test_pins_and_lists_checked(void **state)
{
    (void)state;
    machine(2, 4, 512);
    struct place_request *p = req(0, "pinned", 2, 256);
    p->node = 1;
    struct place_request *l = req(1, "listed", 2, 128);
    l->cpu_list = true;
    l->cpus[0] = 4;
    l->cpus[1] = 5;
    assert_int_equal(place_plan(&m, rq, 2, rs), 0);
    /* Explicit lists go first; the pin takes what is left on node 1. */
    assert_cpus(&rs[1], 2, (const u16[]){ 4, 5 });
    assert_cpus(&rs[0], 2, (const u16[]){ 6, 7 });
    assert_string_equal(rs[0].msg, "node 1: the node it is pinned to");
    assert_int_equal(rs[1].mem[0].node, 1);
    /* A pin is strict: with node 1 full it is refused, not moved. */
    p->ncpus = 3;
    assert_int_equal(place_plan(&m, rq, 2, rs), 1);
    assert_string_equal(rs[0].msg, "partition \"pinned\" is pinned to node 1, which has 2 free CPUs and 512 MiB "
                                   "free; it needs 3 and 256 MiB");
    /* Lists across nodes need spread; CPUs off the pinned node, reserved, missing, taken. */
    p->ncpus = 1;
    l->cpus[1] = 2;
    assert_int_equal(place_plan(&m, rq, 2, rs), 1);
    assert_string_equal(rs[1].msg, "partition \"listed\": CPUs 4 and 2 are on different nodes (1 and 0); set "
                                   "numa = \"spread\" to allow that");
    l->numa = PLACE_SPREAD;
    assert_int_equal(place_plan(&m, rq, 2, rs), 0);
    l->numa = PLACE_LOCAL;
    l->cpus[1] = 5;
    l->node = 0;
    assert_int_equal(place_plan(&m, rq, 2, rs), 1);
    assert_string_equal(rs[1].msg, "partition \"listed\": CPU 4 is on node 1, not on node 0 that it is pinned to");
    l->node = -1;
    l->cpus[0] = 0;
    assert_int_equal(place_plan(&m, rq, 2, rs), 1);
    assert_string_equal(rs[1].msg, "partition \"listed\": CPU 0 runs the hypervisor's shell (reserve_cpu0 = true)");
    l->cpus[0] = 9;
    assert_int_equal(place_plan(&m, rq, 2, rs), 1);
    assert_string_equal(rs[1].msg, "partition \"listed\": CPU 9 does not exist (this machine has CPUs 0-7)");
    p->node = 5;
    l->cpus[0] = 4;
    assert_int_equal(place_plan(&m, rq, 2, rs), 1);
    assert_string_equal(rs[0].msg, "partition \"pinned\": node 5 does not exist (this machine has nodes 0-1)");
}

static void test_devices_checked(void **state)
{
    (void)state;
    machine(2, 4, 512);
    m.ndevs = 2;
    m.devs[0] = (struct place_dev){ place_bdf(0, 0x80, 0, 0), 1 };
    m.devs[1] = (struct place_dev){ place_bdf(0, 0x00, 3, 0), 0 };
    struct place_request *a = req(0, "a", 1, 64);
    own(a, 0x80, 0, 0);
    struct place_request *b = req(1, "b", 1, 64);
    own(b, 0x80, 0, 0);
    struct place_request *c = req(2, "c", 1, 64);
    own(c, 0x00, 3, 0);
    own(c, 0x42, 0, 1);
    struct place_request *d = req(3, "d", 1, 64);
    own(d, 0x00, 3, 0);
    d->node = 1;
    assert_int_equal(place_plan(&m, rq, 4, rs), 3);
    assert_true(rs[0].ok);
    assert_string_equal(rs[1].msg, "partition \"b\": PCI device 0000:80:00.0 already belongs to \"a\"");
    assert_string_equal(rs[2].msg, "partition \"c\": PCI device 0000:42:00.1 does not exist");
    /* c was refused, so its first device is free again for d, whose pin disagrees. */
    assert_string_equal(rs[3].msg, "partition \"d\" is pinned to node 1 but its PCI devices are on node 0");
    /* Devices on two nodes need spread. */
    c->devices[1] = place_bdf(0, 0x80, 0, 0);
    a->ndevices = 0;
    b->ndevices = 0;
    assert_int_equal(place_plan(&m, rq, 3, rs), 1);
    assert_string_equal(rs[2].msg, "partition \"c\": its PCI devices are on nodes 0 and 1; set numa = \"spread\" "
                                   "to allow a partition on several nodes");
}

static void test_eight_nodes_unequal_memory(void **state)
{
    (void)state;
    machine(8, 2, 256);
    m.node_mem[3] = MIB(2048);
    m.node_mem[7] = MIB(1024);
    m.ndevs = 1;
    m.devs[0] = (struct place_dev){ place_bdf(0, 0x90, 0, 0), 5 };
    /* 1 GiB fits only on nodes 3 and 7; first fit by number: node 3. */
    req(0, "big", 2, 1024);
    /* Node 0 has one CPU (CPU 0 is the shell's): node 1. */
    req(1, "small", 2, 128);
    /* Its device is on node 5, which has 256 MiB. Nodes 4 and 6 (distance 20)
     * are as small; node 3 (distance 30) has memory but no CPUs left; node 7
     * (distance 30, after 3 by number) has both. */
    struct place_request *near = req(2, "near5", 2, 512);
    own(near, 0x90, 0, 0);
    assert_int_equal(place_plan(&m, rq, 3, rs), 0);
    assert_int_equal(rs[0].home, 3);
    assert_cpus(&rs[0], 2, (const u16[]){ 6, 7 });
    assert_int_equal(rs[1].home, 1);
    assert_cpus(&rs[1], 2, (const u16[]){ 2, 3 });
    assert_cpus(&rs[2], 2, (const u16[]){ 14, 15 });
    assert_true(rs[2].fallback);
    assert_string_equal(rs[2].msg, "wanted node 5 (its PCI devices' node), which is short of room; placed on "
                                   "node 7 (distance 30)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_node),
        cmocka_unit_test(test_two_nodes_first_fit_and_determinism),
        cmocka_unit_test(test_spread),
        cmocka_unit_test(test_four_nodes_device_locality_and_fallback),
        cmocka_unit_test(test_priority_decides_who_is_local),
        cmocka_unit_test(test_pins_and_lists_checked),
        cmocka_unit_test(test_devices_checked),
        cmocka_unit_test(test_eight_nodes_unequal_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
