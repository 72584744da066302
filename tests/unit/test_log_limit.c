/* The log limiter (kernel/core/log_limit.c) on a simulated clock: the burst,
 * the steady rate, the counts of suppressed lines and the line that reports
 * them, keys that do not share a budget, and a clock that wraps or steps back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "kernel/core/log_limit.h"
#include "tests/unit/stubs.h"

#define SEC    1000000000ULL
#define PERIOD (60 * SEC / LOG_LIMIT_PER_MIN)

static int setup(void **state)
{
    (void)state;
    log_limit_reset();
    test_stubs_reset();
    return 0;
}

/* Lines of (key, why) that pass among n offered at now. */
static unsigned offer(u32 key, enum log_reason why, u64 now, unsigned n)
{
    unsigned passed = 0;
    for (unsigned i = 0; i < n; i++) {
        u64 sup;
        passed += log_limit_pass(key, why, now, &sup);
    }
    return passed;
}

static void test_defaults_are_sane(void **state)
{
    (void)state;
    /* A few lines at once, then a trickle an operator can read around. */
    assert_true(LOG_LIMIT_BURST >= 3 && LOG_LIMIT_BURST <= 10);
    assert_true(LOG_LIMIT_PER_MIN >= 1 && LOG_LIMIT_PER_MIN <= 60);
    assert_int_equal(log_limit_default.burst, LOG_LIMIT_BURST);
    assert_int_equal(log_limit_default.period_ns, PERIOD);
    for (int r = 0; r < LOGR_COUNT; r++)
        assert_string_not_equal(log_reason_name((enum log_reason)r), "?");
    assert_string_equal(log_reason_name(LOGR_BAR), "bar");
    assert_string_equal(log_reason_name(LOGR_NIC_RESET), "nic-reset");
    assert_string_equal(log_reason_name(LOGR_COUNT), "?");
}

static void test_burst_then_suppressed(void **state)
{
    (void)state;
    assert_int_equal(offer(3, LOGR_BAR, 100 * SEC, 1000), LOG_LIMIT_BURST);
    struct log_limit_info in;
    log_limit_get(3, LOGR_BAR, &in);
    assert_int_equal(in.printed, LOG_LIMIT_BURST);
    assert_int_equal(in.suppressed, 1000 - LOG_LIMIT_BURST);
    assert_int_equal(in.pending, 1000 - LOG_LIMIT_BURST);
    /* A moment before the next period: still nothing. */
    assert_int_equal(offer(3, LOGR_BAR, 100 * SEC + PERIOD - 1, 10), 0);
}

static void test_steady_rate(void **state)
{
    (void)state;
    /* A guest that tries every 10 ms for ten minutes: the burst, then one line
     * per period, whatever it does. */
    u64 t0 = 5 * SEC, passed = 0;
    for (u64 t = t0; t < t0 + 600 * SEC; t += 10000000ULL)
        passed += offer(0, LOGR_NIC_RESET, t, 1);
    assert_int_equal(passed, LOG_LIMIT_BURST + 600 * SEC / PERIOD - 1);
    /* Quiet for long enough, the full burst is back, and no more. */
    assert_int_equal(offer(0, LOGR_NIC_RESET, t0 + 3600 * SEC, 100), LOG_LIMIT_BURST);
}

static void test_credit_is_capped_after_a_quiet_spell(void **state)
{
    (void)state;
    struct log_bucket b = { 0 };
    const struct log_bucket_cfg c = { 2, 1000 };
    assert_true(log_bucket_take(&b, &c, 0));
    assert_true(log_bucket_take(&b, &c, 0));
    assert_false(log_bucket_take(&b, &c, 999));
    assert_true(log_bucket_take(&b, &c, 1000));
    /* A day of silence buys the burst, not a day's worth of lines. */
    u64 day = 86400 * SEC;
    assert_true(log_bucket_take(&b, &c, day));
    assert_true(log_bucket_take(&b, &c, day));
    assert_false(log_bucket_take(&b, &c, day));
}

static void test_next_line_reports_the_suppressed(void **state)
{
    (void)state;
    u64 sup = 99;
    for (int i = 0; i < LOG_LIMIT_BURST; i++) {
        assert_true(log_limit_pass(1, LOGR_MSR, 0, &sup));
        assert_int_equal(sup, 0);
    }
    assert_int_equal(offer(1, LOGR_MSR, 0, 37), 0);
    assert_true(log_limit_pass(1, LOGR_MSR, PERIOD, &sup));
    assert_int_equal(sup, 37);
    struct log_limit_info in;
    log_limit_get(1, LOGR_MSR, &in);
    assert_int_equal(in.printed, LOG_LIMIT_BURST + 1);
    assert_int_equal(in.suppressed, 37);
    assert_int_equal(in.pending, 0); /* reported */
    /* Reported once: the line after says nothing more. */
    assert_true(log_limit_pass(1, LOGR_MSR, 2 * PERIOD, &sup));
    assert_int_equal(sup, 0);
}

static void test_log_limited_prints_the_count(void **state)
{
    (void)state;
    test_now_us = 1000000;
    for (int i = 0; i < 20; i++)
        log_limited(2, LOGR_BAR, LOG_WARN, "vpci", "p: BAR %d refused", i);
    assert_int_equal(test_log_count[LOG_WARN], LOG_LIMIT_BURST);
    assert_non_null(strstr(test_log_buf, "WARN vpci: p: BAR 0 refused\n"));
    assert_null(strstr(test_log_buf, "BAR 5 refused"));
    assert_null(strstr(test_log_buf, "suppressed"));
    test_now_us += PERIOD / 1000;
    log_limited(2, LOGR_BAR, LOG_WARN, "vpci", "p: BAR %d refused", 20);
    assert_non_null(strstr(test_log_buf, "p: BAR 20 refused (15 similar lines suppressed)\n"));
    /* One suppressed: singular. */
    char s[48];
    log_limit_suffix(1, s, sizeof(s));
    assert_string_equal(s, " (1 similar line suppressed)");
    log_limit_suffix(0, s, sizeof(s));
    assert_string_equal(s, "");
}

static void test_long_line_keeps_its_count(void **state)
{
    (void)state;
    char big[400];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < LOG_LIMIT_BURST + 3; i++)
        log_limited(0, LOGR_PORT, LOG_WARN, "part", "%s", big);
    test_stubs_reset();
    test_now_us = PERIOD / 1000;
    log_limited(0, LOGR_PORT, LOG_WARN, "part", "%s", big);
    assert_non_null(strstr(test_log_buf, "x... (3 similar lines suppressed)\n"));
    assert_true(strlen(test_log_buf) < 300);
}

static void test_keys_are_independent(void **state)
{
    (void)state;
    /* One partition's flood leaves another's lines, its other reasons and
     * the host's alone. */
    assert_int_equal(offer(4, LOGR_BAR, 0, 500), LOG_LIMIT_BURST);
    assert_int_equal(offer(5, LOGR_BAR, 0, 3), 3);
    assert_int_equal(offer(4, LOGR_MSI, 0, 3), 3);
    assert_int_equal(offer(LOG_LIMIT_HOST, LOGR_MSI, 0, 2), 2);
    struct log_limit_info in;
    log_limit_get(5, LOGR_BAR, &in);
    assert_int_equal(in.suppressed, 0);
    log_limit_get(4, LOGR_MSI, &in);
    assert_int_equal(in.printed, 3);
    /* An id past the table counts as the host's, not as memory past it. */
    assert_int_equal(offer(1000, LOGR_MSI, 0, 10), LOG_LIMIT_BURST - 2);
    log_limit_get(LOG_LIMIT_HOST, LOGR_MSI, &in);
    assert_int_equal(in.printed, LOG_LIMIT_BURST);
    assert_int_equal(in.suppressed, 10 - (LOG_LIMIT_BURST - 2));
    /* A reason past the table counts as the first, not as memory past it. */
    assert_int_equal(offer(8, (enum log_reason)(LOGR_COUNT + 3), 0, 1), 1);
    log_limit_get(8, (enum log_reason)0, &in);
    assert_int_equal(in.printed, 1);
}

static void test_clock_wraps(void **state)
{
    (void)state;
    /* Spent just before the clock wraps; a period later (past zero) there is
     * one line's credit again, not 2^64 ns of it and not none. */
    u64 t = UINT64_MAX - PERIOD / 2;
    assert_int_equal(offer(6, LOGR_PORT, t, 100), LOG_LIMIT_BURST);
    u64 after = t + PERIOD; /* wraps */
    assert_true(after < t);
    assert_int_equal(offer(6, LOGR_PORT, after, 100), 1);
    assert_int_equal(offer(6, LOGR_PORT, after + 3 * PERIOD, 100), 3);
}

static void test_clock_behind_gives_nothing(void **state)
{
    (void)state;
    struct log_bucket b = { 0 };
    const struct log_bucket_cfg c = { 1, 1000 };
    assert_true(log_bucket_take(&b, &c, 10000));
    /* Another CPU's clock a little behind: no credit, and `last` stays, so
     * the time between is not credited twice. */
    assert_false(log_bucket_take(&b, &c, 9000));
    assert_false(log_bucket_take(&b, &c, 10999));
    assert_true(log_bucket_take(&b, &c, 11000));
    assert_false(log_bucket_take(&b, &c, 11000));
}

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        u64 sup;
        (void)log_limit_pass(7, LOGR_NIC_STALL, 0, &sup);
    }
    return NULL;
}

static void test_cpus_at_once(void **state)
{
    (void)state;
    /* Four CPUs flooding one pair: never more than the burst, and every line
     * is either printed or counted, busy bucket or not. */
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct log_limit_info in;
    log_limit_get(7, LOGR_NIC_STALL, &in);
    assert_true(in.printed >= 1 && in.printed <= LOG_LIMIT_BURST);
    assert_int_equal(in.printed + in.suppressed, 4 * 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults_are_sane, setup),
        cmocka_unit_test_setup(test_burst_then_suppressed, setup),
        cmocka_unit_test_setup(test_steady_rate, setup),
        cmocka_unit_test_setup(test_credit_is_capped_after_a_quiet_spell, setup),
        cmocka_unit_test_setup(test_next_line_reports_the_suppressed, setup),
        cmocka_unit_test_setup(test_log_limited_prints_the_count, setup),
        cmocka_unit_test_setup(test_long_line_keeps_its_count, setup),
        cmocka_unit_test_setup(test_keys_are_independent, setup),
        cmocka_unit_test_setup(test_clock_wraps, setup),
        cmocka_unit_test_setup(test_clock_behind_gives_nothing, setup),
        cmocka_unit_test_setup(test_cpus_at_once, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
