/* Hypercall argument checks: every register value a guest can pass. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/hypercall.h"

#define RAM_SIZE 0x200000u      /* 2 MiB of "guest memory" with a hole */
#define HALF     (RAM_SIZE / 2) /* in two host blocks, as if on two nodes */
static u8 *chunk[2];
static struct gmem gm;
#define G(g) (chunk[(g) >= HALF] + ((g) % HALF))
static const struct hc_mem_range ram[] = { { 0, 0xa0000 }, { 0xe0000, RAM_SIZE } };
static u8 written[8192];
static u32 nwritten;

static void console(void *ctx, const u8 *p, u32 n)
{
    (void)ctx;
    memcpy(written + nwritten, p, n);
    nwritten += n;
}

static struct hc_env env(u32 cpl)
{
    struct hc_env e = { ram, 2, &gm, cpl, { 0 }, console, NULL, NULL, NULL };
    e.info.abi = 0x10000;
    e.info.partition_id = 3;
    strcpy(e.info.name, "alpha");
    e.info.vcpus = 2;
    e.info.vcpu_index = 1;
    e.info.memory_bytes = RAM_SIZE - 0x40000;
    return e;
}

static s64 call(const struct hc_env *e, u64 nr, u64 a0, u64 a1, enum hc_action *act)
{
    const u64 args[4] = { a0, a1, 0xdead, 0xbeef };
    return hypercall_dispatch(e, nr, args, act);
}

static int setup(void **state)
{
    (void)state;
    chunk[0] = calloc(1, HALF);
    chunk[1] = calloc(1, HALF);
    memset(&gm, 0, sizeof(gm));
    nwritten = 0;
    if (!chunk[0] || !chunk[1])
        return -1;
    return gmem_add(&gm, 0x100000, chunk[0], HALF, 0) | gmem_add(&gm, 0x900000, chunk[1], HALF, 1);
}

static int teardown(void **state)
{
    (void)state;
    free(chunk[0]);
    free(chunk[1]);
    return 0;
}

static void test_abi_version_and_unknown_numbers(void **state)
{
    (void)state;
    struct hc_env e = env(0);
    enum hc_action act;
    assert_int_equal(call(&e, HC_ABI_VERSION, 0, 0, &act), (HC_ABI_MAJOR << 16) | HC_ABI_MINOR);
    assert_int_equal(act, HC_ACT_NONE);
    const u64 bad[] = { 5,     0xff,   HC_NET_FIRST, HC_NET_LAST, HC_HB_BEAT + 1, HC_HEARTBEAT_LAST,
                        0x300, 0xdead, ~0ULL,        1ULL << 63 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(call(&e, bad[i], 0, 0, &act), -HC_ENOSYS);
}

static void test_user_mode_refused(void **state)
{
    (void)state;
    enum hc_action act;
    for (u32 cpl = 1; cpl <= 3; cpl++) {
        struct hc_env e = env(cpl);
        assert_int_equal(call(&e, HC_ABI_VERSION, 0, 0, &act), -HC_EPERM);
        assert_int_equal(call(&e, HC_CONSOLE_WRITE, 0x1000, 4, &act), -HC_EPERM);
        assert_int_equal(call(&e, HC_HALT, 0, 0, &act), -HC_EPERM);
        assert_int_equal(act, HC_ACT_NONE);
    }
    assert_int_equal(nwritten, 0);
}

static void test_console_write_bounds(void **state)
{
    (void)state;
    struct hc_env e = env(0);
    enum hc_action act;
    memcpy(G(0x1000), "hello", 5);
    assert_int_equal(call(&e, HC_CONSOLE_WRITE, 0x1000, 5, &act), 5);
    assert_int_equal(nwritten, 5);
    assert_memory_equal(written, "hello", 5);
    assert_int_equal(call(&e, HC_CONSOLE_WRITE, 0x1000, 0, &act), 0);
    /* Exactly the limit passes; one more is E2BIG before any address check. */
    assert_int_equal(call(&e, HC_CONSOLE_WRITE, 0x2000, HC_CONSOLE_MAX, &act), HC_CONSOLE_MAX);
    assert_int_equal(call(&e, HC_CONSOLE_WRITE, 0x2000, HC_CONSOLE_MAX + 1, &act), -HC_E2BIG);
    assert_int_equal(call(&e, HC_CONSOLE_WRITE, ~0ULL, ~0ULL, &act), -HC_E2BIG);
    /* Outside RAM, in the hole, across the hole, past the end, wrapping. */
    assert_int_equal(call(&e, HC_CONSOLE_WRITE, RAM_SIZE, 1, &act), -HC_EFAULT);
    assert_int_equal(call(&e, HC_CONSOLE_WRITE, 0xb0000, 16, &act), -HC_EFAULT);
    assert_int_equal(call(&e, HC_CONSOLE_WRITE, 0x9fff0, 32, &act), -HC_EFAULT);
    assert_int_equal(call(&e, HC_CONSOLE_WRITE, RAM_SIZE - 33, 64, &act), -HC_EFAULT);
    assert_int_equal(call(&e, HC_CONSOLE_WRITE, ~0ULL - 10, 64, &act), -HC_EFAULT);
    assert_int_equal(call(&e, HC_CONSOLE_WRITE, 0x80000000ULL, 64, &act), -HC_EFAULT);
    /* The last byte of RAM is fine. */
    assert_int_equal(call(&e, HC_CONSOLE_WRITE, RAM_SIZE - 1, 1, &act), 1);
    assert_int_equal(nwritten, 5 + HC_CONSOLE_MAX + 1);
    /* A buffer across the two host blocks arrives whole, in order. */
    nwritten = 0;
    memcpy(G(HALF - 3), "abc", 3);
    memcpy(G(HALF), "def", 3);
    assert_int_equal(call(&e, HC_CONSOLE_WRITE, HALF - 3, 6, &act), 6);
    assert_int_equal(nwritten, 6);
    assert_memory_equal(written, "abcdef", 6);
}

static void test_partition_info(void **state)
{
    (void)state;
    struct hc_env e = env(0);
    enum hc_action act;
    assert_int_equal(call(&e, HC_PARTITION_INFO, 0x3000, 0, &act), 0);
    struct isthmus_partition_info got;
    memcpy(&got, G(0x3000), sizeof(got));
    assert_int_equal(got.partition_id, 3);
    assert_string_equal(got.name, "alpha");
    assert_int_equal(got.vcpu_index, 1);
    assert_int_equal(call(&e, HC_PARTITION_INFO, 0x3004, 0, &act), -HC_EINVAL);
    assert_int_equal(call(&e, HC_PARTITION_INFO, 0x80000000ULL, 0, &act), -HC_EFAULT);
    assert_int_equal(call(&e, HC_PARTITION_INFO, RAM_SIZE - 40, 0, &act), -HC_EFAULT);
    assert_int_equal(*G(RAM_SIZE - 40), 0); /* a refused call writes nothing */
    assert_int_equal(call(&e, HC_PARTITION_INFO, RAM_SIZE - 80, 0, &act), 0);
    assert_int_equal(call(&e, HC_PARTITION_INFO, 0xa0000 - 40, 0, &act), -HC_EFAULT);
    assert_int_equal(call(&e, HC_PARTITION_INFO, ~0ULL & ~7ULL, 0, &act), -HC_EFAULT);
    assert_int_equal(*G(0xa0000 - 40), 0);
}

static void test_halt_and_yield(void **state)
{
    (void)state;
    struct hc_env e = env(0);
    enum hc_action act;
    assert_int_equal(call(&e, HC_HALT, 0, 0, &act), 0);
    assert_int_equal(act, HC_ACT_HALT);
    assert_int_equal(call(&e, HC_YIELD, 0, 0, &act), 0);
    assert_int_equal(act, HC_ACT_NONE);
}

static u32 beats, last_claim;

static u32 beat(void *ctx, u32 claimed)
{
    (void)ctx;
    beats++;
    last_claim = claimed;
    return HB_ROLE_PRIMARY;
}

static void test_heartbeat(void **state)
{
    (void)state;
    struct hc_env e = env(0);
    enum hc_action act;
    /* Outside a group: no info, and beats are answered "no role". */
    assert_int_equal(call(&e, HC_HB_INFO, 0x3000, 0, &act), -HC_ENOENT);
    assert_int_equal(call(&e, HC_HB_BEAT, HB_ROLE_STANDBY, 0, &act), HB_ROLE_NONE);
    struct isthmus_hb_info info = { .interval_ms = 100, .misses = 3, .role = HB_ROLE_STANDBY, .has_mac = 1 };
    strcpy(info.group, "web");
    e.hb_info = &info;
    e.hb_beat = beat;
    assert_int_equal(call(&e, HC_HB_INFO, 0x3000, 0, &act), 0);
    struct isthmus_hb_info got;
    memcpy(&got, G(0x3000), sizeof(got));
    assert_memory_equal(&got, &info, sizeof(got));
    assert_int_equal(call(&e, HC_HB_INFO, 0x3004, 0, &act), -HC_EINVAL);
    assert_int_equal(call(&e, HC_HB_INFO, RAM_SIZE - 32, 0, &act), -HC_EFAULT);
    assert_int_equal(call(&e, HC_HB_INFO, 0xa0000 - 32, 0, &act), -HC_EFAULT);
    assert_int_equal(call(&e, HC_HB_INFO, ~0ULL & ~7ULL, 0, &act), -HC_EFAULT);
    assert_int_equal(*G(RAM_SIZE - 32), 0);
    assert_int_equal(call(&e, HC_HB_BEAT, HB_ROLE_STANDBY, 0, &act), HB_ROLE_PRIMARY);
    assert_int_equal(beats, 1);
    assert_int_equal(last_claim, HB_ROLE_STANDBY);
    /* A claim that is no role is refused before it reaches the master. */
    const u64 bad[] = { 3, 0x100, 1ULL << 32, ~0ULL };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(call(&e, HC_HB_BEAT, bad[i], 0, &act), -HC_EINVAL);
    assert_int_equal(beats, 1);
    e.cpl = 3;
    assert_int_equal(call(&e, HC_HB_BEAT, HB_ROLE_PRIMARY, 0, &act), -HC_EPERM);
    assert_int_equal(beats, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_abi_version_and_unknown_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_mode_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_write_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_halt_and_yield, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
