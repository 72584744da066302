/* The heartbeat master on a simulated clock: 1 ms ticks, one simulated agent
 * per partition (it beats every interval while alive and takes the role it is
 * told as its next claim, like the real agent), and ops that record what the
 * master did to partitions, in order. After every tick the world is checked
 * for two partitions of a group told PRIMARY while both run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/ha/hb.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log_limit.h"

#define MS 1000000ULL
#define S  1000000000ULL
#define T0 (10 * S) /* the clock does not start at 0 */

/* ---------------------------------------------------------------- the world */

struct agent {
    bool running;   /* the partition runs (its vCPUs do) */
    bool beating;   /* its agent beats (false: hung) */
    bool no_ack;    /* never takes the PRIMARY role it is told (a broken agent) */
    u32 claim;      /* the role it acts as */
    u64 next;       /* its next beat */
    u64 period;     /* 0: the group's interval */
    u32 skip;       /* beats to leave out */
    u64 ahead;      /* its clock runs this far ahead of CPU 0's */
    u64 primary_at; /* when it first beat claiming PRIMARY (0: not yet) */
};

enum call_op { CALL_STOP, CALL_START, CALL_ANNOUNCE };

struct call {
    enum call_op op;
    u32 a, b; /* stop: part; start: part, standby_image; announce: group, part */
    u64 at;
    u32 roles[HB_MAX_PARTS]; /* every partition's role when it was called */
};

static struct {
    struct hb_master m;
    struct config_failover cfg[HB_MAX_GROUPS];
    u32 ngroups, nparts;
    u64 now;
    struct agent ag[HB_MAX_PARTS];
    struct call calls[512];
    u32 ncalls;
    int stop_rc[HB_MAX_PARTS], start_rc[HB_MAX_PARTS];
    u64 stop_delay[HB_MAX_PARTS];  /* ops->stop takes this long (the clock moves on) */
    bool boot_beats[HB_MAX_PARTS]; /* an image booted by ops->start beats */
    u64 boot_delay;                /* first beat of a started partition after this */
    char log[1 << 16];
    size_t loglen;
    u32 lines[4];
} W;

static u64 interval_of(u32 part) { return (u64)W.cfg[W.m.part[part].group].interval_ms * MS; }

static void agent_boot(u32 i, bool beats)
{
    struct agent *a = &W.ag[i];
    a->running = true;
    a->beating = beats;
    a->claim = HB_ROLE_NONE;
    a->next = W.now + W.boot_delay;
    a->primary_at = 0;
    a->no_ack = false; /* a new agent: it behaves */
    a->skip = 0;
}

static void record_call(enum call_op op, u32 a, u32 b)
{
    assert_true(W.ncalls < ARRAY_SIZE(W.calls));
    struct call *c = &W.calls[W.ncalls++];
    c->op = op;
    c->a = a;
    c->b = b;
    c->at = W.now;
    for (u32 i = 0; i < HB_MAX_PARTS; i++)
        c->roles[i] = W.m.part[i].role;
}

/* The other member of part's group, or -1. */
static s32 partner(u32 part)
{
    const struct hb_group *g = &W.m.group[W.m.part[part].group];
    if (g->primary == (s32)part)
        return g->standby;
    return g->primary;
}

static void agents_ms(void);

/* Partition i's heartbeat state and the misses counted since its last beat. */
static void expect_part(u32 i, u32 state, u32 cur_misses)
{
    assert_int_equal(W.m.part[i].state, state);
    assert_int_equal(W.m.part[i].cur_misses, cur_misses);
}

static int op_stop(void *ctx, u32 part)
{
    assert_ptr_equal(ctx, &W);
    record_call(CALL_STOP, part, 0);
    /* Stopping a group's primary: nobody else may have been told PRIMARY yet. */
    const struct hb_group *g = &W.m.group[W.m.part[part].group];
    s32 o = partner(part);
    if (g->primary == (s32)part && o >= 0)
        assert_int_not_equal(W.m.part[o].role, HB_ROLE_PRIMARY);
    if (W.stop_rc[part] == 0)
        W.ag[part].running = W.ag[part].beating = false;
    /* A slow stop: the other partitions beat on meanwhile. */
    for (u64 t = 0; t < W.stop_delay[part]; t += MS)
        agents_ms();
    return W.stop_rc[part];
}

static int op_start(void *ctx, u32 part, bool standby_image)
{
    assert_ptr_equal(ctx, &W);
    record_call(CALL_START, part, standby_image);
    /* Marked WAITING and PRIMARY before it runs. */
    assert_int_equal(W.m.part[part].state, HB_WAITING);
    assert_int_equal(W.m.part[part].role, HB_ROLE_PRIMARY);
    if (W.start_rc[part] == 0)
        agent_boot(part, W.boot_beats[part]);
    return W.start_rc[part];
}

static void op_announce(void *ctx, u32 group, u32 part)
{
    assert_ptr_equal(ctx, &W);
    record_call(CALL_ANNOUNCE, group, part);
    assert_int_equal(W.m.group[group].primary, part);
    assert_int_equal(W.m.part[part].role, HB_ROLE_PRIMARY);
    s32 o = partner(part);
    if (o >= 0)
        assert_int_not_equal(W.m.part[o].role, HB_ROLE_PRIMARY);
}

static void op_log(void *ctx, enum log_level lvl, const char *msg)
{
    assert_ptr_equal(ctx, &W);
    assert_true((unsigned)lvl < 4);
    assert_non_null(strchr(msg, ':')); /* "group: ..." */
    assert_null(strchr(msg, '\n'));
    W.lines[lvl]++;
    int n = snprintf(W.log + W.loglen, sizeof(W.log) - W.loglen, "%s\n", msg);
    assert_true(n > 0 && (size_t)n < sizeof(W.log) - W.loglen);
    W.loglen += (size_t)n;
    if (getenv("TEST_VERBOSE"))
        fprintf(stderr, "  [%llu ms] %s\n", (unsigned long long)(W.now / MS), msg);
}

static bool log_has(const char *s) { return strstr(W.log, s) != NULL; }

static u32 count_log(const char *s)
{
    u32 n = 0;
    for (const char *p = W.log; (p = strstr(p, s)); p++)
        n++;
    return n;
}

static u64 op_now(void *ctx)
{
    assert_ptr_equal(ctx, &W);
    return W.now;
}

static const struct hb_ops OPS = { &W, op_stop, op_start, op_announce, op_log, NULL };

static struct config_failover group_cfg(const char *name, s32 primary, s32 standby, u8 mode)
{
    struct config_failover c;
    memset(&c, 0, sizeof(c));
    strcpy(c.name, name);
    c.primary = primary;
    c.standby = standby;
    c.mode = mode;
    c.interval_ms = 100;
    c.misses = 3;
    c.grace_ms = 5000;
    return c;
}

static void world_reset(void)
{
    memset(&W, 0, sizeof(W));
    log_limit_reset();
    W.now = T0;
    W.boot_delay = 10 * MS;
    for (u32 i = 0; i < HB_MAX_PARTS; i++)
        W.boot_beats[i] = true;
}

/* One group "web" over partitions 0 (primary) and 1 (standby) of 3; partition
 * 2 is in no group. */
static void world_init(u8 mode, s32 standby)
{
    world_reset();
    W.cfg[0] = group_cfg("web", 0, standby, mode);
    W.ngroups = 1;
    W.nparts = 3;
    assert_int_equal(hb_init(&W.m, W.cfg, W.ngroups, W.nparts, &OPS), 0);
}

/* One millisecond of the agents: the beats due (they run on other CPUs,
 * whatever the master does). */
static void agents_ms(void)
{
    W.now += MS;
    for (u32 i = 0; i < W.nparts; i++) {
        struct agent *a = &W.ag[i];
        if (!a->running || !a->beating || W.now < a->next)
            continue;
        a->next += a->period ? a->period : interval_of(i);
        if (a->skip) {
            a->skip--;
            continue;
        }
        if (a->claim == HB_ROLE_PRIMARY && !a->primary_at)
            a->primary_at = W.now;
        u32 r = hb_beat(&W.m, i, a->claim, W.now + a->ahead);
        assert_int_not_equal(r, HB_ROLE_NONE);
        if (!(a->no_ack && r == HB_ROLE_PRIMARY))
            a->claim = r;
    }
}

/* Beats due now, then the master's tick; then the invariants. */
static void tick(void)
{
    agents_ms();
    hb_tick(&W.m, W.now);

    for (u32 gi = 0; gi < W.ngroups; gi++) {
        const struct hb_group *g = &W.m.group[gi];
        u32 told = 0, acting = 0;
        for (u32 i = 0; i < W.nparts; i++) {
            if (W.m.part[i].group != (s32)gi || !W.ag[i].running)
                continue;
            told += W.m.part[i].role == HB_ROLE_PRIMARY;
            acting += W.ag[i].claim == HB_ROLE_PRIMARY;
        }
        assert_true(told <= 1);
        assert_true(acting <= 1);
        assert_true(g->state <= HBG_DOWN);
        assert_true(g->state == HBG_TAKEOVER ? g->target == g->primary : g->target == -1);
    }
}

static void run_ms(u64 ms)
{
    for (u64 i = 0; i < ms; i++)
        tick();
}

/* Runs until cond() or ms have passed; returns whether cond() came true. */
static bool run_until(bool (*cond)(void), u64 ms)
{
    for (u64 i = 0; i < ms; i++) {
        if (cond())
            return true;
        tick();
    }
    return cond();
}

static void op_started(u32 i)
{
    hb_started(&W.m, i, W.now);
    agent_boot(i, true);
}

static void op_stopped(u32 i)
{
    W.ag[i].running = W.ag[i].beating = false;
    hb_stopped(&W.m, i, W.now);
}

static const struct hb_group *G(void) { return &W.m.group[0]; }

/* Both started; ready once the group is OK. */
static void start_pair(void)
{
    op_started(0);
    if (G()->standby >= 0)
        op_started(1);
    run_ms(500);
    assert_int_equal(G()->state, G()->standby >= 0 ? HBG_OK : HBG_DEGRADED);
    W.ncalls = 0;
}

static u32 count_calls(enum call_op op)
{
    u32 n = 0;
    for (u32 i = 0; i < W.ncalls; i++)
        n += W.calls[i].op == op;
    return n;
}

/* Index of the first call op with a == a from call `from`, or -1. */
static int find_call(u32 from, enum call_op op, u32 a)
{
    for (u32 i = from; i < W.ncalls; i++)
        if (W.calls[i].op == op && W.calls[i].a == a)
            return (int)i;
    return -1;
}

static const struct hb_event *last_event(u32 kind)
{
    const struct hb_event *r = NULL;
    for (u32 i = 0; i < hb_event_count(G()); i++)
        if (hb_event_at(G(), i)->kind == kind)
            r = hb_event_at(G(), i);
    return r;
}

/* The kinds of the events kept, oldest first, checked against want. */
static void expect_events(const u32 *want, u32 n)
{
    u32 have = hb_event_count(G());
    if (have != n)
        for (u32 i = 0; i < have; i++)
            print_message("event %u: %s\n", i, hb_event_name(hb_event_at(G(), i)->kind));
    assert_int_equal(have, n);
    for (u32 i = 0; i < n; i++)
        assert_string_equal(hb_event_name(hb_event_at(G(), i)->kind), hb_event_name(want[i]));
}

static bool taken_over(void) { return G()->state != HBG_TAKEOVER && G()->failovers > 0; }
static bool not_ok(void) { return G()->state != HBG_OK; }
static bool group_down(void) { return G()->state == HBG_DOWN; }
static bool in_takeover(void) { return G()->state == HBG_TAKEOVER; }
static bool standby_failed(void) { return W.m.part[1].state == HB_FAILED; }

/* ---------------------------------------------------------------- setup */

static void init_errors(void **state)
{
    world_reset();
    struct config_failover c[HB_MAX_GROUPS + 1];
    for (u32 i = 0; i < ARRAY_SIZE(c); i++)
        c[i] = group_cfg("g", 2 * (s32)i, 2 * (s32)i + 1, FAILOVER_AUTO);

    assert_int_equal(hb_init(&W.m, c, HB_MAX_GROUPS + 1, HB_MAX_PARTS, &OPS), -EINVAL);
    assert_int_equal(hb_init(&W.m, c, 1, HB_MAX_PARTS + 1, &OPS), -EINVAL);
    assert_int_equal(hb_init(&W.m, c, HB_MAX_GROUPS, HB_MAX_PARTS, &OPS), 0);

    struct config_failover b = group_cfg("g", 0, 1, FAILOVER_AUTO);
    b.primary = 4; /* out of range of 4 */
    assert_int_equal(hb_init(&W.m, &b, 1, 4, &OPS), -EINVAL);
    b.primary = -1;
    assert_int_equal(hb_init(&W.m, &b, 1, 4, &OPS), -EINVAL);
    b = group_cfg("g", 0, 4, FAILOVER_AUTO);
    assert_int_equal(hb_init(&W.m, &b, 1, 4, &OPS), -EINVAL);
    b.standby = -2;
    assert_int_equal(hb_init(&W.m, &b, 1, 4, &OPS), -EINVAL);
    b = group_cfg("g", 2, 2, FAILOVER_AUTO); /* twice in one group */
    assert_int_equal(hb_init(&W.m, &b, 1, 4, &OPS), -EINVAL);
    b = group_cfg("g", 0, 1, FAILOVER_AUTO);
    b.interval_ms = 0;
    assert_int_equal(hb_init(&W.m, &b, 1, 4, &OPS), -EINVAL);
    b = group_cfg("g", 0, 1, FAILOVER_AUTO);
    b.misses = 0;
    assert_int_equal(hb_init(&W.m, &b, 1, 4, &OPS), -EINVAL);

    struct config_failover two[2] = { group_cfg("a", 0, 1, FAILOVER_AUTO), group_cfg("b", 2, 1, FAILOVER_AUTO) };
    assert_int_equal(hb_init(&W.m, two, 2, 4, &OPS), -EINVAL); /* 1 in both */
    two[1] = group_cfg("b", 0, -1, FAILOVER_COLD);
    assert_int_equal(hb_init(&W.m, two, 2, 4, &OPS), -EINVAL); /* 0 in both */

    /* A good one: the monitored partitions, all OFF, groups IDLE. */
    two[1] = group_cfg("b", 3, -1, FAILOVER_COLD);
    assert_int_equal(hb_init(&W.m, two, 2, 5, &OPS), 0);
    for (u32 i = 0; i < 5; i++) {
        assert_int_equal(W.m.part[i].monitored, i != 2 && i != 4);
        assert_int_equal(W.m.part[i].state, HB_OFF);
        assert_int_equal(W.m.part[i].role, HB_ROLE_NONE);
    }
    assert_int_equal(W.m.part[3].group, 1);
    assert_int_equal(W.m.group[1].state, HBG_IDLE);
    assert_int_equal(W.m.group[1].standby, -1);
    assert_int_equal(hb_group_find(&W.m, "a"), 0);
    assert_int_equal(hb_group_find(&W.m, "b"), 1);
    assert_int_equal(hb_group_find(&W.m, "c"), -1);
}

static void names(void **state)
{
    assert_string_equal(hb_pstate_name(HB_LATE), "LATE");
    assert_string_equal(hb_gstate_name(HBG_DEGRADED), "DEGRADED");
    assert_string_equal(hb_event_name(HB_EV_GROUP_DOWN), "group-down");
    assert_string_equal(hb_role_name(HB_ROLE_STANDBY), "standby");
    assert_string_equal(hb_pstate_name(99), "?");
    assert_string_equal(hb_gstate_name(99), "?");
    assert_string_equal(hb_event_name(99), "?");
    assert_string_equal(hb_role_name(99), "?");
}

/* ---------------------------------------------------------------- normal operation */

static void first_beats(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    op_started(0);
    op_started(1);
    assert_int_equal(W.m.part[0].state, HB_WAITING);
    assert_int_equal(W.m.part[0].role, HB_ROLE_PRIMARY);
    assert_int_equal(W.m.part[1].role, HB_ROLE_STANDBY);
    assert_int_equal(G()->state, HBG_IDLE);
    run_ms(9);
    assert_int_equal(W.m.part[0].state, HB_WAITING);
    run_ms(1); /* first beats, at 10 ms */
    assert_int_equal(W.m.part[0].state, HB_ALIVE);
    assert_int_equal(W.m.part[1].state, HB_ALIVE);
    assert_int_equal(G()->state, HBG_IDLE); /* claimed NONE so far */
    assert_int_equal(W.ncalls, 0);
    assert_true(log_has("web: partition 0 (primary) beats: first beat 10 ms after its start"));

    run_ms(100); /* claims PRIMARY now */
    assert_int_equal(G()->state, HBG_OK);
    assert_true(G()->acked);
    assert_int_equal(W.ncalls, 1);
    assert_int_equal(W.calls[0].op, CALL_ANNOUNCE);
    assert_int_equal(W.calls[0].a, 0);
    assert_int_equal(W.calls[0].b, 0);
    assert_true(log_has("group OK (was IDLE)"));
    run_ms(5000);
    assert_int_equal(W.ncalls, 1); /* once */
    assert_int_equal(W.m.part[0].beats, 52);
    assert_int_equal(W.m.part[0].misses, 0);
    assert_int_equal(W.m.part[0].late, 0);
    assert_int_equal(hb_event_count(G()), 0);
    assert_int_equal(W.lines[LOG_ERROR] + W.lines[LOG_WARN], 0);
}

static void beat_unmonitored_or_off(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    assert_int_equal(hb_beat(&W.m, 2, HB_ROLE_PRIMARY, W.now), HB_ROLE_NONE); /* in no group */
    assert_int_equal(hb_beat(&W.m, 7, HB_ROLE_PRIMARY, W.now), HB_ROLE_NONE); /* no such partition */
    assert_int_equal(hb_beat(&W.m, 99, HB_ROLE_PRIMARY, W.now), HB_ROLE_NONE);
    assert_int_equal(hb_beat(&W.m, 0, HB_ROLE_PRIMARY, W.now), HB_ROLE_NONE); /* OFF */
    hb_down(&W.m, 0, HB_DOWN_CRASH, W.now);
    hb_down(&W.m, 2, HB_DOWN_CRASH, W.now);
    hb_down(&W.m, 99, HB_DOWN_CRASH, W.now);
    for (u32 i = 0; i < 3; i++) {
        assert_int_equal(W.m.part[i].beats, 0);
        assert_int_equal(W.m.part[i].last_beat, 0);
        assert_int_equal(W.m.part[i].claimed, HB_ROLE_NONE);
        assert_int_equal(W.m.part[i].down, HB_DOWN_NONE);
    }
    hb_started(&W.m, 2, W.now); /* ignored */
    hb_stopped(&W.m, 99, W.now);
    assert_int_equal(W.m.part[2].state, HB_OFF);

    /* Several vCPUs of one partition beat: every beat counts. */
    hb_started(&W.m, 0, W.now);
    for (u32 i = 0; i < 5; i++)
        assert_int_equal(hb_beat(&W.m, 0, HB_ROLE_NONE, W.now + i), HB_ROLE_PRIMARY);
    assert_int_equal(W.m.part[0].beats, 5);
    hb_stopped(&W.m, 0, W.now);
    assert_int_equal(hb_beat(&W.m, 0, HB_ROLE_PRIMARY, W.now + 10 * MS), HB_ROLE_NONE);
    assert_int_equal(W.m.part[0].beats, 5);
    run_ms(10000);
    assert_int_equal(W.ncalls, 0);
    assert_int_equal(W.m.part[0].state, HB_OFF);
}

/* Started at time 0 (fields at 0 too): that is not a beat. */
static void start_at_time_zero(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    W.now = 0;
    hb_started(&W.m, 0, 0);
    hb_tick(&W.m, 0);
    hb_tick(&W.m, MS);
    assert_int_equal(W.m.part[0].state, HB_WAITING);
    assert_int_equal(hb_beat(&W.m, 0, HB_ROLE_NONE, 2 * MS), HB_ROLE_PRIMARY);
    hb_tick(&W.m, 2 * MS);
    assert_int_equal(W.m.part[0].state, HB_ALIVE);
}

/* A vCPU whose clock is ahead of CPU 0's: its beats are "just now". */
static void beat_ahead_of_now(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    W.ag[0].ahead = 3 * MS;
    start_pair();
    u64 beats = W.m.part[0].beats;
    while (W.m.part[0].beats == beats)
        tick();
    assert_true(W.m.part[0].last_beat > W.now); /* stamped 3 ms ahead */
    expect_part(0, HB_ALIVE, 0);
    run_ms(2000);
    assert_int_equal(W.m.part[0].misses, 0);
    assert_int_equal(W.m.part[0].late, 0);
    assert_int_equal(G()->state, HBG_OK);

    /* And a crash stamped ahead: detection 0, not a wrapped difference. */
    W.ag[0].beating = false;
    hb_down(&W.m, 0, HB_DOWN_CRASH, W.now + 2 * MS);
    tick();
    assert_int_equal(W.m.part[0].state, HB_FAILED);
    assert_true(run_until(taken_over, 1000));
    assert_int_equal(G()->detect_last, 0);
    assert_true(G()->takeover_last < 300 * MS);
}

/* ---------------------------------------------------------------- missed beats */

static void missed_beats_fail_over(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    run_ms(37);
    W.ag[0].beating = false; /* hangs */
    u64 hung = W.now, last = W.m.part[0].last_beat;
    assert_true(run_until(not_ok, 1000));
    u64 declared = W.now;
    assert_int_equal(W.m.part[0].state, HB_FAILED);
    assert_string_equal(W.m.part[0].why, "missed 3 beats, last 350 ms ago");
    assert_true(log_has("web: partition 0 (primary) missed 3 beats, last 350 ms ago: failed"));
    /* Detection from the last beat: misses * interval + interval / 2, within
     * a tick; and from the moment it hung, no more than that. */
    assert_true(declared - last >= 350 * MS && declared - last <= 350 * MS + MS);
    assert_true(declared - hung <= 350 * MS);
    assert_int_equal(W.m.part[0].misses, 3); /* exactly: 1, 2, 3 (at 150, 250, 350 ms) */
    assert_int_equal(W.m.part[0].late, 1);
    assert_true(log_has("partition 0 (primary) is late"));

    assert_int_equal(G()->state, HBG_TAKEOVER);
    assert_int_equal(G()->primary, 1);
    assert_int_equal(G()->standby, 0);
    assert_int_equal(G()->t_alive, last);
    assert_int_equal(G()->t_declared, declared);

    assert_true(run_until(taken_over, 1000));
    assert_int_equal(G()->state, HBG_DEGRADED); /* the old primary is not back */
    assert_int_equal(G()->failovers, 1);
    assert_int_equal(G()->detect_last, declared - last);
    assert_int_equal(G()->detect_max, declared - last);
    const struct hb_event *e = last_event(HB_EV_TAKEN_OVER);
    assert_non_null(e);
    assert_int_equal(e->part, 1);
    assert_int_equal(e->other, 0);
    assert_int_equal(e->detect_ns, G()->detect_last);
    assert_int_equal(e->takeover_ns, G()->takeover_last);
    const u32 want[] = { HB_EV_FAILED, HB_EV_FENCED, HB_EV_HOT, HB_EV_TAKEN_OVER };
    expect_events(want, ARRAY_SIZE(want));
    assert_int_equal(hb_event_at(G(), 2)->part, 0);
    assert_int_equal(hb_event_at(G(), 2)->other, 1);
    assert_true(log_has("partition 1 took over as primary: failure detected in 350 ms"));
    run_ms(5000);
    assert_int_equal(G()->failovers, 1);
    assert_int_equal(count_calls(CALL_STOP), 1);
}

/* Single and double misses (of 3 allowed) counted exactly; never a failover. */
static void exact_miss_counting(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    W.ag[0].skip = 1;
    run_ms(400);
    assert_int_equal(W.m.part[0].misses, 1);
    assert_int_equal(W.m.part[0].late, 1);
    assert_int_equal(W.m.part[0].state, HB_ALIVE);
    assert_true(log_has("partition 0 (primary) beats again after 1 missed"));
    /* Last beat at -90, beats due at +10, +110 (both left out), +210 ms. A
     * beat is missed once half an interval overdue: the first at +60 (150 ms
     * after the last beat), the second at +160 (250 ms). */
    W.ag[0].skip = 2;
    run_ms(59);
    expect_part(0, HB_ALIVE, 0);
    run_ms(1);
    expect_part(0, HB_LATE, 1);
    run_ms(99);
    expect_part(0, HB_LATE, 1);
    run_ms(1);
    expect_part(0, HB_LATE, 2);
    run_ms(49);
    expect_part(0, HB_LATE, 2);
    run_ms(1);
    expect_part(0, HB_ALIVE, 0);
    run_ms(300);
    assert_int_equal(W.m.part[0].state, HB_ALIVE);
    assert_int_equal(W.m.part[0].misses, 3);
    assert_int_equal(W.m.part[0].late, 2);
    assert_true(log_has("partition 0 (primary) beats again after 2 missed"));
    assert_int_equal(W.ncalls, 0);
    assert_int_equal(hb_event_count(G()), 0);
    assert_int_equal(G()->state, HBG_OK);
}

/* Beats every 2 intervals (more than the 1.5 that make a beat missed, less
 * than the 2.5 that make a second one): LATE, ALIVE, LATE... but never 3
 * missed. */
static void flapping_never_fails_over(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    W.ag[0].period = 200 * MS;
    W.ag[0].next = W.m.part[0].last_beat + 200 * MS;
    u32 flips = 0, was = W.m.part[0].state;
    for (u32 k = 0; k < 15000; k++) {
        tick();
        assert_true(W.m.part[0].cur_misses <= 1);
        flips += W.m.part[0].state != was;
        was = W.m.part[0].state;
    }
    assert_int_equal(W.ncalls, 0);
    assert_int_equal(hb_event_count(G()), 0);
    assert_int_equal(G()->primary, 0);
    assert_int_equal(G()->state, HBG_OK);
    /* Last beat at -90 ms, then every 200 ms: LATE at +60, +260, ... up to
     * +14860 (75 times), ALIVE again at each beat. */
    assert_int_equal(W.m.part[0].late, 75);
    assert_int_equal(W.m.part[0].misses, W.m.part[0].late);
    assert_int_equal(flips, 2 * 75);
    assert_int_equal(W.m.part[0].state, HB_ALIVE);
    assert_int_equal(W.m.part[1].late, 0);
    /* 150 flips in 15 s, but the log has the partition's burst and one line
     * per period after it (kernel/core/log_limit.h), which says what it left
     * out; `late` above keeps the count. */
    u32 lines = count_log("partition 0 (primary) is late") + count_log("partition 0 (primary) beats again");
    assert_true(lines >= LOG_LIMIT_BURST && lines <= LOG_LIMIT_BURST + 15 * LOG_LIMIT_PER_MIN / 60 + 1);
    assert_true(log_has("similar lines suppressed)"));
    struct log_limit_info in;
    log_limit_get(0, LOGR_HEARTBEAT, &in);
    assert_int_equal(in.printed, lines);
    assert_int_equal(in.printed + in.suppressed, 2 * 75);
}

/* A standby that flaps takes its group between OK and DEGRADED with it: those
 * lines are the standby's to limit too; the history and states stay exact. */
static void flapping_standby_is_limited(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    W.ag[1].period = 200 * MS;
    W.ag[1].next = W.m.part[1].last_beat + 200 * MS;
    run_ms(15000);
    assert_int_equal(W.m.part[1].late, 75);
    assert_int_equal(W.ncalls, 0);
    u32 lines = count_log("group DEGRADED (was OK)") + count_log("group OK (was DEGRADED)") +
                count_log("partition 1 (standby) is late") + count_log("partition 1 (standby) beats again");
    assert_true(lines >= LOG_LIMIT_BURST && lines <= LOG_LIMIT_BURST + 15 * LOG_LIMIT_PER_MIN / 60 + 1);
    struct log_limit_info in;
    log_limit_get(1, LOGR_HEARTBEAT, &in);
    assert_int_equal(in.printed + in.suppressed, 4 * 75);
    /* The primary's own lines are not held by its standby's. */
    log_limit_get(0, LOGR_HEARTBEAT, &in);
    assert_int_equal(in.suppressed, 0);
}

/* ---------------------------------------------------------------- crashes */

static void down_fails_over(enum hb_down how, const char *why)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    run_ms(50);
    W.ag[0].beating = false;
    hb_down(&W.m, 0, how, W.now);
    u64 at = W.now;
    tick(); /* at once */
    assert_int_equal(W.m.part[0].state, HB_FAILED);
    assert_string_equal(W.m.part[0].why, why);
    assert_int_equal(G()->state, HBG_TAKEOVER);
    assert_int_equal(G()->t_alive, at);
    assert_int_equal(G()->t_declared, at + MS);
    assert_true(run_until(taken_over, 1000));
    assert_int_equal(G()->detect_last, MS);
    assert_true(G()->takeover_last <= 200 * MS);
    assert_string_equal(hb_event_at(G(), 0)->why, why);
}

static void crash_fails_over(void **state)
{
    down_fails_over(HB_DOWN_CRASH, "crashed (triple fault or unhandled exit)");
    assert_true(log_has("partition 0 (primary) crashed (triple fault or unhandled exit): failed"));
}

static void shutdown_fails_over(void **state)
{
    down_fails_over(HB_DOWN_SHUTDOWN, "shut down");
    assert_true(log_has("partition 0 (primary) shut down: failed"));
}

/* A guest's reboot in a group is the group's to handle, as a shutdown is. */
static void reset_fails_over(void **state)
{
    down_fails_over(HB_DOWN_RESET, "reset itself (reboot)");
    assert_true(log_has("partition 0 (primary) reset itself (reboot): failed"));
}

/* ---------------------------------------------------------------- hot takeover */

static void hot_takeover_order(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    W.ag[0].beating = false;
    assert_true(run_until(in_takeover, 1000));
    /* stop(0) first, with the standby still told STANDBY; then announce(1). */
    assert_int_equal(W.ncalls, 2);
    assert_int_equal(W.calls[0].op, CALL_STOP);
    assert_int_equal(W.calls[0].a, 0);
    assert_int_equal(W.calls[0].roles[1], HB_ROLE_STANDBY);
    assert_int_equal(W.calls[0].roles[0], HB_ROLE_PRIMARY);
    assert_int_equal(W.calls[1].op, CALL_ANNOUNCE);
    assert_int_equal(W.calls[1].b, 1);
    assert_int_equal(W.calls[1].roles[1], HB_ROLE_PRIMARY);
    assert_int_equal(W.calls[1].roles[0], HB_ROLE_NONE);
    assert_int_equal(W.m.part[0].role, HB_ROLE_NONE);
    assert_int_equal(W.m.part[0].state, HB_FAILED);
    assert_int_equal(W.m.part[1].role, HB_ROLE_PRIMARY);
    /* Taken over at the first beat claiming PRIMARY: announced again. */
    assert_true(run_until(taken_over, 1000));
    assert_int_equal(W.ncalls, 3);
    assert_int_equal(W.calls[2].op, CALL_ANNOUNCE);
    assert_int_equal(W.calls[2].b, 1);
    assert_int_equal(count_calls(CALL_START), 0);
    assert_true(log_has("hot takeover: standby partition 1 promoted to primary in place of partition 0"));
    assert_true(log_has("group TAKEOVER (was OK)"));
    assert_true(log_has("group DEGRADED (was TAKEOVER)"));
}

/* The takeover time is from the declaration to the tick that saw the new
 * primary's first beat claiming PRIMARY, however slow its agent is. */
static void takeover_time_is_time_to_ack(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    W.cfg[0].misses = 5;
    start_pair();
    W.ag[1].no_ack = true;
    W.ag[0].beating = false;
    assert_true(run_until(in_takeover, 1000));
    u64 declared = G()->t_declared;
    run_ms(230); /* it is told PRIMARY and does not take it yet */
    assert_int_equal(G()->state, HBG_TAKEOVER);
    assert_int_equal(W.m.part[1].claimed, HB_ROLE_STANDBY);
    W.ag[1].no_ack = false; /* takes it at its next beat, claims at the one after */
    assert_true(run_until(taken_over, 1000));
    assert_true(W.ag[1].primary_at > declared + 230 * MS);
    assert_int_equal(G()->takeover_last, W.ag[1].primary_at - declared);
    assert_int_equal(G()->takeover_max, G()->takeover_last);
    assert_int_equal(last_event(HB_EV_TAKEN_OVER)->takeover_ns, G()->takeover_last);
}

static void fence_failure_down(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    W.stop_rc[0] = -EIO;
    W.ag[0].beating = false;
    assert_true(run_until(not_ok, 1000));
    assert_int_equal(G()->state, HBG_DOWN);
    assert_int_equal(W.ncalls, 1);
    assert_int_equal(W.calls[0].op, CALL_STOP);
    assert_int_equal(G()->primary, 0);
    assert_int_equal(W.m.part[1].role, HB_ROLE_STANDBY);
    assert_int_equal(W.m.part[0].role, HB_ROLE_PRIMARY); /* not stopped: nobody replaces it */
    assert_int_equal(W.m.part[0].state, HB_FAILED);
    assert_non_null(strstr(G()->why, "could not be stopped"));
    const u32 want[] = { HB_EV_FAILED, HB_EV_FENCE_FAILED, HB_EV_GROUP_DOWN };
    expect_events(want, ARRAY_SIZE(want));
    assert_string_equal(hb_event_at(G(), 1)->why, "could not be stopped (EIO)");
    assert_true(log_has("group DOWN (was OK)"));
    run_ms(10000);
    assert_int_equal(W.ncalls, 1);
    assert_int_equal(count_calls(CALL_ANNOUNCE), 0);
    assert_int_equal(G()->state, HBG_DOWN);
}

/* The promoted standby crashes before it acknowledges: AUTO boots it cold. */
static void standby_dies_in_takeover_auto(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    W.ag[1].no_ack = true;
    W.ag[0].beating = false;
    assert_true(run_until(in_takeover, 1000));
    u64 alive = G()->t_alive, declared = G()->t_declared;
    run_ms(50);
    W.ag[1].beating = false;
    hb_down(&W.m, 1, HB_DOWN_CRASH, W.now);
    W.ncalls = 0;
    tick();
    assert_int_equal(W.ncalls, 2);
    assert_int_equal(W.calls[0].op, CALL_STOP);
    assert_int_equal(W.calls[0].a, 1);
    assert_int_equal(W.calls[1].op, CALL_START);
    assert_int_equal(W.calls[1].a, 1);
    assert_int_equal(W.calls[1].b, true);
    assert_int_equal(G()->state, HBG_TAKEOVER);
    assert_true(G()->target_cold);
    assert_int_equal(G()->primary, 1);
    assert_int_equal(G()->t_alive, alive); /* the outage began with 0's failure */
    assert_int_equal(G()->t_declared, declared);
    assert_true(log_has("partition 1 (taking over as primary) crashed"));
    assert_true(run_until(taken_over, 1000));
    assert_int_equal(G()->failovers, 1);
    assert_int_equal(G()->detect_last, declared - alive);
    assert_true(G()->takeover_last > W.now - declared - MS && G()->takeover_last <= W.now - declared);
    const u32 want[] = { HB_EV_FAILED, HB_EV_FENCED,  HB_EV_HOT,       HB_EV_FAILED,
                         HB_EV_FENCED, HB_EV_RESTART, HB_EV_TAKEN_OVER };
    expect_events(want, ARRAY_SIZE(want));
    assert_int_equal(last_event(HB_EV_TAKEN_OVER)->other, -1);
}

static void standby_dies_in_takeover_hot(void **state)
{
    world_init(FAILOVER_HOT, 1);
    start_pair();
    W.ag[1].no_ack = true;
    W.ag[0].beating = false;
    assert_true(run_until(in_takeover, 1000));
    W.ag[1].beating = false;
    hb_down(&W.m, 1, HB_DOWN_SHUTDOWN, W.now);
    tick();
    assert_int_equal(G()->state, HBG_DOWN);
    assert_int_equal(count_calls(CALL_START), 0);
    assert_int_equal(count_calls(CALL_STOP), 2);
    assert_int_equal(W.m.part[0].role, HB_ROLE_NONE);
    assert_int_equal(W.m.part[1].role, HB_ROLE_NONE);
    assert_non_null(strstr(G()->why, "mode hot"));
    assert_int_equal(last_event(HB_EV_GROUP_DOWN)->kind, HB_EV_GROUP_DOWN);
    run_ms(10000);
    assert_int_equal(count_calls(CALL_START), 0);
    assert_int_equal(G()->failovers, 0);
}

/* A promoted standby whose agent never takes the role: failed at
 * (misses + 1) * interval after its promotion, then booted cold (AUTO). */
static void hot_target_does_not_ack(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    W.ag[1].no_ack = true;
    W.ag[0].beating = false;
    assert_true(run_until(in_takeover, 1000));
    u64 promoted = G()->t_target;
    W.ncalls = 0;
    assert_true(run_until(not_ok, 1000) || G()->target_cold);
    while (!G()->target_cold)
        tick();
    assert_int_equal(W.now - promoted, 400 * MS);
    assert_int_equal(W.m.part[1].state, HB_WAITING);
    assert_true(log_has("partition 1 (taking over as primary) did not take over within 400 ms of its promotion"));
    assert_int_equal(W.calls[0].op, CALL_STOP);
    assert_int_equal(W.calls[0].a, 1);
    assert_int_equal(W.calls[1].op, CALL_START);
    assert_true(run_until(taken_over, 1000)); /* the fresh image's agent is fine */
    assert_int_equal(G()->primary, 1);
}

/* ---------------------------------------------------------------- cold takeover */

static void cold_mode(void **state)
{
    world_init(FAILOVER_COLD, -1);
    strcpy(W.cfg[0].standby_kernel, "standby.elf");
    start_pair();
    assert_int_equal(G()->state, HBG_DEGRADED);
    W.ag[0].beating = false;
    assert_true(run_until(in_takeover, 1000));
    assert_int_equal(W.ncalls, 2);
    assert_int_equal(W.calls[0].op, CALL_STOP);
    assert_int_equal(W.calls[1].op, CALL_START);
    assert_int_equal(W.calls[1].a, 0);
    assert_int_equal(W.calls[1].b, true);
    assert_int_equal(G()->primary, 0);
    assert_true(G()->target_cold);
    assert_true(log_has("cold takeover: booting partition 0 with the group's standby image"));
    assert_true(run_until(taken_over, 1000));
    assert_int_equal(G()->state, HBG_DEGRADED);
    assert_int_equal(W.calls[W.ncalls - 1].op, CALL_ANNOUNCE);
    assert_int_equal(W.calls[W.ncalls - 1].b, 0);
    const u32 want[] = { HB_EV_FAILED, HB_EV_FENCED, HB_EV_COLD, HB_EV_TAKEN_OVER };
    expect_events(want, ARRAY_SIZE(want));
}

/* AUTO with a standby that is not healthy (LATE) and no standby image. */
static void auto_restart_without_image(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    W.ag[1].skip = 2;
    run_ms(150);
    assert_int_equal(W.m.part[1].state, HB_LATE);
    assert_int_equal(G()->state, HBG_DEGRADED);
    hb_down(&W.m, 0, HB_DOWN_CRASH, W.now);
    W.ag[0].beating = false;
    tick();
    assert_int_equal(G()->state, HBG_TAKEOVER);
    assert_int_equal(G()->primary, 0);
    assert_int_equal(find_call(0, CALL_START, 0), 1);
    const u32 want[] = { HB_EV_FAILED, HB_EV_FENCED, HB_EV_RESTART };
    expect_events(want, ARRAY_SIZE(want));
    assert_true(log_has("restarting partition 0 with its own image (the group has no standby image)"));
    assert_true(run_until(taken_over, 1000));
    run_ms(300);
    assert_int_equal(G()->state, HBG_OK); /* the standby beats again */
}

/* A cold-booted image that never beats: failed after the grace, DOWN, and
 * not booted again. */
static void cold_target_never_beats(void **state)
{
    world_init(FAILOVER_COLD, -1);
    start_pair();
    W.boot_beats[0] = false;
    W.ag[0].beating = false;
    assert_true(run_until(in_takeover, 1000));
    u64 booted = W.now;
    assert_true(run_until(group_down, 10000));
    assert_int_equal(W.now - booted, 5000 * MS);
    assert_string_equal(W.m.part[0].why, "sent no beat within the 5000 ms grace after its start");
    run_ms(20000);
    assert_int_equal(count_calls(CALL_START), 1);
    assert_int_equal(count_calls(CALL_STOP), 2);
    assert_int_equal(W.m.part[0].state, HB_FAILED);
    assert_int_equal(W.m.part[0].role, HB_ROLE_NONE);
    assert_non_null(strstr(G()->why, "failed after its cold boot"));
    assert_int_equal(G()->failovers, 0);

    /* An operator starts it: the group recovers. */
    W.boot_delay = 10 * MS;
    op_started(0);
    assert_int_equal(G()->state, HBG_IDLE);
    assert_int_equal(G()->why[0], '\0');
    run_ms(300);
    assert_int_equal(G()->state, HBG_DEGRADED);
}

/* A cold boot that beats but never claims PRIMARY: DOWN at grace + (misses + 1) * interval. */
static void cold_target_does_not_ack(void **state)
{
    world_init(FAILOVER_COLD, -1);
    W.cfg[0].grace_ms = 1000;
    start_pair();
    W.ag[0].beating = false;
    assert_true(run_until(in_takeover, 1000));
    u64 booted = W.now;
    W.ag[0].no_ack = true;
    assert_true(run_until(group_down, 10000));
    assert_int_equal(W.now - booted, 1400 * MS);
    assert_true(log_has("did not take over within 1400 ms of its boot"));
    assert_int_equal(count_calls(CALL_START), 1);
}

static void cold_start_fails(void **state)
{
    world_init(FAILOVER_COLD, -1);
    start_pair();
    W.start_rc[0] = -ENOMEM;
    W.ag[0].beating = false;
    assert_true(run_until(group_down, 1000));
    assert_int_equal(W.m.part[0].state, HB_OFF);
    assert_int_equal(W.m.part[0].role, HB_ROLE_NONE);
    assert_string_equal(G()->why, "partition 0 could not be booted (ENOMEM)");
    run_ms(10000);
    assert_int_equal(count_calls(CALL_START), 1);
}

/* Mode hot without a healthy standby: DOWN. */
static void hot_mode_no_standby(void **state)
{
    world_init(FAILOVER_HOT, 1);
    start_pair();
    op_stopped(1);
    assert_int_equal(G()->state, HBG_DEGRADED);
    W.ag[0].beating = false;
    assert_true(run_until(group_down, 1000));
    assert_int_equal(count_calls(CALL_START), 0);
    assert_int_equal(count_calls(CALL_ANNOUNCE), 0);
    assert_string_equal(G()->why, "standby partition 1 is OFF, not healthy: mode hot allows no cold boot");
}

/* ---------------------------------------------------------------- standby and operator */

static void standby_failure_degraded(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    W.ag[1].beating = false;
    assert_true(run_until(standby_failed, 1000));
    assert_int_equal(G()->state, HBG_DEGRADED);
    assert_int_equal(W.ncalls, 1);
    assert_int_equal(W.calls[0].op, CALL_STOP);
    assert_int_equal(W.calls[0].a, 1);
    assert_int_equal(W.m.part[1].state, HB_FAILED);
    assert_int_equal(W.m.part[1].role, HB_ROLE_NONE);
    assert_int_equal(W.m.part[0].role, HB_ROLE_PRIMARY);
    const u32 want[] = { HB_EV_FAILED, HB_EV_FENCED, HB_EV_STANDBY_LOST };
    expect_events(want, ARRAY_SIZE(want));
    assert_true(log_has("group DEGRADED (was OK)"));
    /* The primary fails next: no healthy standby, so cold (AUTO). */
    W.ag[0].beating = false;
    assert_true(run_until(in_takeover, 1000));
    assert_true(G()->target_cold);
    assert_int_equal(G()->primary, 0);
    assert_true(run_until(taken_over, 1000));
    assert_int_equal(G()->state, HBG_DEGRADED);
}

/* A standby that cannot be stopped: logged, the group keeps serving DEGRADED. */
static void standby_fence_failure(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    W.stop_rc[1] = -EIO;
    W.ag[1].beating = false;
    assert_true(run_until(standby_failed, 1000));
    assert_int_equal(G()->state, HBG_DEGRADED);
    const u32 want[] = { HB_EV_FAILED, HB_EV_FENCE_FAILED };
    expect_events(want, ARRAY_SIZE(want));
    run_ms(1000);
    assert_int_equal(G()->state, HBG_DEGRADED);
    assert_int_equal(W.ncalls, 1);
}

static void operator_stop_primary(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    op_stopped(0);
    assert_int_equal(G()->state, HBG_IDLE);
    assert_false(G()->acked);
    assert_int_equal(W.m.part[0].state, HB_OFF);
    assert_int_equal(W.m.part[0].role, HB_ROLE_NONE);
    assert_true(log_has("partition 0 (primary) stopped by an operator: not a failure"));
    run_ms(20000);
    assert_int_equal(W.ncalls, 0);
    assert_int_equal(hb_event_count(G()), 0);
    assert_int_equal(G()->primary, 0);
    assert_int_equal(W.m.part[1].role, HB_ROLE_STANDBY);
    assert_int_equal(G()->state, HBG_IDLE);
    op_started(0);
    run_ms(200);
    assert_int_equal(G()->state, HBG_OK);
    assert_int_equal(count_calls(CALL_ANNOUNCE), 1);
    /* The standby stopped: DEGRADED, no fencing. */
    op_stopped(1);
    assert_int_equal(G()->state, HBG_DEGRADED);
    run_ms(1000);
    assert_int_equal(count_calls(CALL_STOP), 0);
}

/* After a hot takeover the old primary, started again, is the standby. */
static void operator_restarts_old_primary(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    W.ag[0].beating = false;
    assert_true(run_until(taken_over, 2000));
    assert_int_equal(G()->state, HBG_DEGRADED);
    op_started(0);
    assert_int_equal(W.m.part[0].role, HB_ROLE_STANDBY);
    assert_true(log_has("partition 0 (standby) started"));
    run_ms(200);
    assert_int_equal(G()->state, HBG_OK);
    assert_int_equal(W.ag[0].claim, HB_ROLE_STANDBY);
    /* And back: partition 1 fails, 0 takes over. */
    W.ag[1].beating = false;
    run_ms(1000);
    assert_int_equal(G()->failovers, 2);
    assert_int_equal(G()->primary, 0);
    assert_int_equal(G()->standby, 1);
    assert_int_equal(W.m.part[0].role, HB_ROLE_PRIMARY);
}

/* An operator stops a partition during its takeover: abandoned, IDLE. */
static void operator_stops_target(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    W.ag[1].no_ack = true;
    W.ag[0].beating = false;
    assert_true(run_until(in_takeover, 1000));
    op_stopped(1);
    assert_int_equal(G()->state, HBG_IDLE);
    assert_int_equal(G()->target, -1);
    assert_true(log_has("takeover by partition 1 abandoned"));
    u32 calls = W.ncalls;
    run_ms(5000);
    assert_int_equal(W.ncalls, calls);
}

/* Never beating after its start: failed at the grace. */
static void grace_failure(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    op_started(1);
    hb_started(&W.m, 0, W.now); /* its agent never comes up */
    W.ag[0].running = true;
    u64 started = W.now;
    assert_true(run_until(in_takeover, 10000));
    assert_int_equal(W.now - started, 5000 * MS);
    assert_string_equal(W.m.part[0].why, "sent no beat within the 5000 ms grace after its start");
    assert_int_equal(G()->t_alive, started);
    assert_int_equal(G()->primary, 1);
    assert_true(run_until(taken_over, 1000));
    assert_int_equal(G()->detect_last, 5000 * MS);
}

/* ---------------------------------------------------------------- manual switchover */

static void switchover(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    char err[128] = "";
    assert_int_equal(hb_switchover(&W.m, 0, W.now, err, sizeof(err)), 0);
    assert_int_equal(W.ncalls, 2);
    assert_int_equal(W.calls[0].op, CALL_STOP);
    assert_int_equal(W.calls[0].a, 0);
    assert_int_equal(W.calls[0].roles[1], HB_ROLE_STANDBY);
    assert_int_equal(W.calls[1].op, CALL_ANNOUNCE);
    assert_int_equal(W.calls[1].b, 1);
    assert_int_equal(W.m.part[0].state, HB_OFF);
    assert_int_equal(G()->state, HBG_TAKEOVER);
    assert_int_equal(G()->t_alive, W.now);
    assert_int_equal(G()->t_declared, W.now);
    assert_true(run_until(taken_over, 1000));
    assert_int_equal(G()->detect_last, 0);
    assert_true(G()->takeover_last > 0 && G()->takeover_last <= 200 * MS);
    assert_int_equal(G()->state, HBG_DEGRADED);
    const u32 want[] = { HB_EV_MANUAL, HB_EV_TAKEN_OVER };
    expect_events(want, ARRAY_SIZE(want));
    assert_int_equal(hb_event_at(G(), 0)->part, 0);
    assert_int_equal(hb_event_at(G(), 0)->other, 1);
    op_started(0);
    run_ms(200);
    assert_int_equal(G()->state, HBG_OK);
    assert_int_equal(W.m.part[0].role, HB_ROLE_STANDBY);
}

static void switchover_errors(void **state)
{
    world_reset();
    W.cfg[0] = group_cfg("web", 0, 1, FAILOVER_AUTO);
    W.cfg[1] = group_cfg("db", 2, -1, FAILOVER_AUTO);
    W.cfg[2] = group_cfg("batch", 3, 4, FAILOVER_COLD);
    W.ngroups = 3;
    W.nparts = 5;
    assert_int_equal(hb_init(&W.m, W.cfg, W.ngroups, W.nparts, &OPS), 0);
    for (u32 i = 0; i < 5; i++)
        op_started(i);
    run_ms(500);
    assert_int_equal(G()->state, HBG_OK);
    W.ncalls = 0;

    char err[128];
    assert_int_equal(hb_switchover(&W.m, 3, W.now, err, sizeof(err)), -ENOENT);
    assert_int_equal(hb_switchover(&W.m, 1, W.now, err, sizeof(err)), -EAGAIN);
    assert_string_equal(err, "db: has no standby partition");
    assert_int_equal(hb_switchover(&W.m, 2, W.now, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "mode cold"));

    /* A standby that is not beating properly. */
    W.ag[1].skip = 2;
    run_ms(150);
    assert_int_equal(W.m.part[1].state, HB_LATE);
    assert_int_equal(hb_switchover(&W.m, 0, W.now, err, sizeof(err)), -EAGAIN);
    assert_string_equal(err, "web: standby partition 1 is not running and beating (LATE)");
    run_ms(300);
    assert_int_equal(W.m.part[1].state, HB_ALIVE);

    /* The primary cannot be stopped: nothing promoted. */
    W.stop_rc[0] = -EIO;
    assert_int_equal(hb_switchover(&W.m, 0, W.now, err, sizeof(err)), -EIO);
    assert_non_null(strstr(err, "could not be stopped (EIO)"));
    assert_int_equal(W.ncalls, 1);
    assert_int_equal(W.calls[0].op, CALL_STOP);
    assert_int_equal(G()->primary, 0);
    assert_int_equal(W.m.part[0].role, HB_ROLE_PRIMARY);
    assert_int_equal(W.m.part[1].role, HB_ROLE_STANDBY);
    assert_int_equal(W.m.part[0].state, HB_ALIVE);
    assert_int_equal(G()->state, HBG_OK);
    assert_true(log_has("manual switchover: primary partition 0 could not be stopped (EIO): nothing promoted"));
    run_ms(1000);
    assert_int_equal(G()->state, HBG_OK);
    assert_int_equal(hb_event_count(G()), 0);

    /* During a takeover: busy. No error buffer is fine too. */
    W.stop_rc[0] = 0;
    assert_int_equal(hb_switchover(&W.m, 0, W.now, NULL, 0), 0);
    assert_int_equal(hb_switchover(&W.m, 0, W.now, err, sizeof(err)), -EBUSY);
    assert_string_equal(err, "web: a takeover by partition 1 is under way");
    assert_true(run_until(taken_over, 1000));
    /* The other groups were not touched. */
    assert_int_equal(W.m.group[1].state, HBG_DEGRADED);
    assert_int_equal(W.m.group[2].state, HBG_OK);
    assert_int_equal(hb_event_count(&W.m.group[1]) + hb_event_count(&W.m.group[2]), 0);
}

/* A switchover in a DOWN group whose primary was fenced: no second stop. */
static void switchover_from_down(void **state)
{
    world_init(FAILOVER_HOT, 1);
    start_pair();
    W.ag[1].skip = 2;
    run_ms(150);
    hb_down(&W.m, 0, HB_DOWN_CRASH, W.now);
    W.ag[0].beating = false;
    tick();
    assert_int_equal(G()->state, HBG_DOWN);
    run_ms(300);
    assert_int_equal(W.m.part[1].state, HB_ALIVE);
    assert_int_equal(G()->state, HBG_DOWN);
    char err[128];
    assert_int_equal(hb_switchover(&W.m, 0, W.now, err, sizeof(err)), 0);
    assert_int_equal(count_calls(CALL_STOP), 1);
    assert_true(run_until(taken_over, 1000));
    assert_int_equal(G()->state, HBG_DEGRADED);
    assert_int_equal(G()->why[0], '\0');
}

/* ---------------------------------------------------------------- history */

static void history_wraps(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    start_pair();
    char err[128];
    for (u32 k = 0; k < 10; k++) {
        u32 from = (u32)G()->primary;
        assert_int_equal(hb_switchover(&W.m, 0, W.now, err, sizeof(err)), 0);
        assert_true(run_until(taken_over, 1000));
        op_started(from);
        run_ms(200);
        assert_int_equal(G()->state, HBG_OK);
    }
    assert_int_equal(G()->failovers, 10);
    assert_int_equal(G()->nhist, 20);
    assert_int_equal(hb_event_count(G()), HB_HISTORY);
    assert_null(hb_event_at(G(), HB_HISTORY));
    assert_null(hb_event_at(G(), 1000));
    /* The oldest kept is event 4 (a MANUAL), in time order, alternating. */
    u64 at = 0;
    for (u32 i = 0; i < HB_HISTORY; i++) {
        const struct hb_event *e = hb_event_at(G(), i);
        assert_non_null(e);
        assert_true(e->at >= at);
        at = e->at;
        assert_int_equal(e->kind, i % 2 ? HB_EV_TAKEN_OVER : HB_EV_MANUAL);
        if (e->kind == HB_EV_MANUAL)
            assert_int_equal(e->part, (i / 2) % 2); /* 0 -> 1, 1 -> 0, ... from event 4 on */
    }
    assert_int_equal(hb_event_at(G(), HB_HISTORY - 1)->at, G()->hist[(G()->nhist - 1) % HB_HISTORY].at);
}

/* ---------------------------------------------------------------- names */

/* Partitions named with hb_set_name appear by name in the log. */
static void partition_names(void **state)
{
    world_init(FAILOVER_AUTO, 1);
    hb_set_name(&W.m, 0, "web-a");
    hb_set_name(&W.m, 1, "web-b");
    hb_set_name(&W.m, HB_MAX_PARTS, "nobody"); /* no such partition: ignored */
    assert_string_equal(W.m.part[2].name, "partition 2");
    start_pair();
    assert_true(log_has("web: web-a (primary) beats: first beat 10 ms after its start"));
    assert_true(log_has("web: group OK (was IDLE): web-a serves as primary, standby web-b is ready"));
    W.ag[0].beating = false;
    assert_true(run_until(taken_over, 1000));
    assert_true(log_has("web: web-a (primary) missed 3 beats, last 350 ms ago: failed"));
    assert_true(log_has("web: hot takeover: standby web-b promoted to primary in place of web-a"));
    assert_true(log_has("web: web-b took over as primary"));
    assert_string_equal(hb_event_at(G(), 2)->why, "web-b promoted in place of web-a");
    assert_false(log_has("partition 0"));
    assert_false(log_has("partition 1"));
}

/* ---------------------------------------------------------------- two groups */

static void groups_independent(void **state)
{
    world_reset();
    W.cfg[0] = group_cfg("web", 0, 1, FAILOVER_AUTO);
    W.cfg[1] = group_cfg("db", 2, 3, FAILOVER_AUTO);
    W.cfg[1].interval_ms = 20;
    W.cfg[1].misses = 5;
    W.ngroups = 2;
    W.nparts = 4;
    assert_int_equal(hb_init(&W.m, W.cfg, W.ngroups, W.nparts, &OPS), 0);
    for (u32 i = 0; i < 4; i++)
        op_started(i);
    run_ms(500);
    assert_int_equal(W.m.group[1].state, HBG_OK);
    W.ag[2].beating = false;
    u64 hung = W.now;
    while (W.m.group[1].state == HBG_OK)
        tick();
    /* 5 * 20 + 10 ms after the last beat, within a tick. */
    assert_true(W.now - hung <= 110 * MS);
    assert_true(W.m.group[1].t_declared - W.m.group[1].t_alive >= 110 * MS);
    assert_true(W.m.group[1].t_declared - W.m.group[1].t_alive <= 110 * MS + MS);
    run_ms(500);
    assert_int_equal(W.m.group[1].primary, 3);
    assert_int_equal(W.m.group[1].failovers, 1);
    assert_int_equal(W.m.group[0].state, HBG_OK);
    assert_int_equal(W.m.group[0].primary, 0);
    assert_int_equal(hb_event_count(&W.m.group[0]), 0);
    assert_true(log_has("db: partition 2 (primary) missed 5 beats, last 110 ms ago: failed"));
}

/* A stop that takes 2 s (a CPU slow to answer) in one group must not age
 * another group's takeover started in the same tick: the master reads the
 * clock again after it. */
static void slow_stop_keeps_time(void **state)
{
    (void)state;
    world_reset();
    W.cfg[0] = group_cfg("web", 0, 1, FAILOVER_AUTO);
    W.cfg[1] = group_cfg("db", 2, 3, FAILOVER_AUTO);
    W.ngroups = 2;
    W.nparts = 4;
    struct hb_ops ops = OPS;
    ops.now = op_now;
    assert_int_equal(hb_init(&W.m, W.cfg, W.ngroups, W.nparts, &ops), 0);
    for (u32 i = 0; i < 4; i++)
        op_started(i);
    run_ms(500);
    assert_int_equal(W.m.group[0].state, HBG_OK);
    assert_int_equal(W.m.group[1].state, HBG_OK);
    W.stop_delay[0] = 2000 * MS;
    hb_down(&W.m, 0, HB_DOWN_CRASH, W.now);
    hb_down(&W.m, 2, HB_DOWN_CRASH, W.now);
    u64 t0 = W.now;
    tick();
    /* db's standby was promoted after web's slow stop, at the time it was. */
    assert_int_equal(W.m.group[1].state, HBG_TAKEOVER);
    assert_true(W.m.group[1].t_target >= t0 + 2000 * MS);
    assert_true(W.m.group[0].t_target >= t0 + 2000 * MS);
    run_ms(500);
    for (u32 g = 0; g < 2; g++) {
        assert_int_equal(W.m.group[g].failovers, 1);
        assert_int_equal(W.m.group[g].primary, 2 * g + 1);
        assert_true(W.m.group[g].takeover_last <= 2000 * MS + 2 * 100 * MS);
    }
    assert_false(log_has("did not take over"));
    /* Events are in time order, each at the time it happened. */
    for (u32 g = 0; g < 2; g++)
        for (u32 k = 1; k < hb_event_count(&W.m.group[g]); k++)
            assert_true(hb_event_at(&W.m.group[g], k)->at >= hb_event_at(&W.m.group[g], k - 1)->at);
    /* Without a clock the old behaviour stands: the time given is used. */
    assert_null(OPS.now);
}

/* An image that fails after every cold boot is booted HB_COLD_MAX times
 * within the window, then the group goes DOWN. */
static void cold_loop_stops(void **state)
{
    (void)state;
    world_init(FAILOVER_AUTO, -1);
    op_started(0);
    run_ms(300);
    assert_int_equal(G()->state, HBG_DEGRADED);
    u32 starts = 0;
    for (u32 round = 0; round < HB_COLD_MAX + 1; round++) {
        hb_down(&W.m, 0, HB_DOWN_CRASH, W.now);
        tick();
        if (G()->state == HBG_DOWN)
            break;
        starts++;
        run_ms(300); /* it boots, beats, acknowledges */
        assert_int_equal(G()->state, HBG_DEGRADED);
    }
    assert_int_equal(starts, HB_COLD_MAX);
    assert_int_equal(G()->state, HBG_DOWN);
    assert_true(log_has("partition 0 failed after each of 3 cold takeovers within 60 s: not booted again"));
    /* Out of the window, a failure is taken over cold again. */
    op_started(0);
    run_ms(61000);
    assert_int_equal(G()->state, HBG_DEGRADED);
    hb_down(&W.m, 0, HB_DOWN_CRASH, W.now);
    tick();
    assert_int_equal(G()->state, HBG_TAKEOVER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_errors),
        cmocka_unit_test(names),
        cmocka_unit_test(first_beats),
        cmocka_unit_test(beat_unmonitored_or_off),
        cmocka_unit_test(start_at_time_zero),
        cmocka_unit_test(beat_ahead_of_now),
        cmocka_unit_test(missed_beats_fail_over),
        cmocka_unit_test(exact_miss_counting),
        cmocka_unit_test(flapping_never_fails_over),
        cmocka_unit_test(flapping_standby_is_limited),
        cmocka_unit_test(crash_fails_over),
        cmocka_unit_test(shutdown_fails_over),
        cmocka_unit_test(reset_fails_over),
        cmocka_unit_test(hot_takeover_order),
        cmocka_unit_test(takeover_time_is_time_to_ack),
        cmocka_unit_test(fence_failure_down),
        cmocka_unit_test(standby_dies_in_takeover_auto),
        cmocka_unit_test(standby_dies_in_takeover_hot),
        cmocka_unit_test(hot_target_does_not_ack),
        cmocka_unit_test(cold_mode),
        cmocka_unit_test(auto_restart_without_image),
        cmocka_unit_test(cold_target_never_beats),
        cmocka_unit_test(cold_target_does_not_ack),
        cmocka_unit_test(cold_start_fails),
        cmocka_unit_test(hot_mode_no_standby),
        cmocka_unit_test(standby_failure_degraded),
        cmocka_unit_test(standby_fence_failure),
        cmocka_unit_test(operator_stop_primary),
        cmocka_unit_test(operator_restarts_old_primary),
        cmocka_unit_test(operator_stops_target),
        cmocka_unit_test(grace_failure),
        cmocka_unit_test(switchover),
        cmocka_unit_test(switchover_errors),
        cmocka_unit_test(switchover_from_down),
        cmocka_unit_test(history_wraps),
        cmocka_unit_test(partition_names),
        cmocka_unit_test(groups_independent),
        cmocka_unit_test(slow_stop_keeps_time),
        cmocka_unit_test(cold_loop_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
