/* CPU assignment: lists, counts, the shell's CPU, conflicts and shortages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/cpu_assign.h"

static struct isthmus_config cfg;
static struct cpu_assignment as;
static char msgs[CONFIG_MAX_PARTITIONS][160];

static void add_count(const char *name, u32 n)
{
    struct config_partition *p = &cfg.partition[cfg.npartitions++];
    strcpy(p->name, name);
    p->ncpus = n;
    p->cpu_list = false;
}

static void add_list(const char *name, int n, const u16 *cpus)
{
    struct config_partition *p = &cfg.partition[cfg.npartitions++];
    strcpy(p->name, name);
    p->ncpus = (u32)n;
    p->cpu_list = true;
    memcpy(p->cpus, cpus, sizeof(u16) * (size_t)n);
}

static void setup_cfg(void)
{
    config_defaults(&cfg);
}

static void test_counts_fill_lowest_free_after_lists(void **state)
{
    setup_cfg();
    add_count("a", 2);
    add_list("b", 1, (const u16[]){ 1 });
    assert_int_equal(cpu_assign(&cfg, 4, &as, msgs), 0);
    /* b named CPU 1, so a gets 2 and 3; CPU 0 is the shell's. */
    assert_true(as.ok[0] && as.ok[1]);
    assert_int_equal(as.ncpus[0], 2);
    assert_int_equal(as.cpu[0][0], 2);
    assert_int_equal(as.cpu[0][1], 3);
    assert_int_equal(as.cpu[1][0], 1);
}

static void test_refusals_have_precise_messages(void **state)
{
    setup_cfg();
    add_list("big", 1, (const u16[]){ 9 });
    add_list("shell", 1, (const u16[]){ 0 });
    add_list("first", 2, (const u16[]){ 1, 2 });
    add_list("second", 1, (const u16[]){ 2 });
    add_count("greedy", 3);
    assert_int_equal(cpu_assign(&cfg, 4, &as, msgs), 4);
    assert_false(as.ok[0]);
    assert_string_equal(msgs[0], "partition \"big\": CPU 9 does not exist (this machine has CPUs 0-3)");
    assert_string_equal(msgs[1], "partition \"shell\": CPU 0 runs the hypervisor's shell (reserve_cpu0 = true)");
    assert_true(as.ok[2]);
    assert_string_equal(msgs[3], "partition \"second\": CPU 2 already belongs to \"first\"");
    assert_string_equal(msgs[4], "partition \"greedy\" asks for 3 CPUs but only 1 of the 4 is free");
}

static void test_cpu0_when_not_reserved(void **state)
{
    setup_cfg();
    cfg.reserve_cpu0 = false;
    add_count("all", 2);
    assert_int_equal(cpu_assign(&cfg, 2, &as, msgs), 0);
    assert_int_equal(as.cpu[0][0], 0);
    assert_int_equal(as.cpu[0][1], 1);
}

static void test_one_cpu_machine(void **state)
{
    setup_cfg();
    add_count("x", 1);
    assert_int_equal(cpu_assign(&cfg, 1, &as, msgs), 1);
    assert_string_equal(msgs[0], "partition \"x\" asks for 1 CPU but only 0 of the 1 are free");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_fill_lowest_free_after_lists),
        cmocka_unit_test(test_refusals_have_precise_messages),
        cmocka_unit_test(test_cpu0_when_not_reserved),
        cmocka_unit_test(test_one_cpu_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
