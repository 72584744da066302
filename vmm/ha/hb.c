/* See hb.h. The master keeps all of its own state on CPU 0; the only fields
 * shared with other CPUs are the ones hb_beat/hb_down write (last_beat,
 * claimed, beats, down, down_at) and the role they read. Those go through
 * __atomic loads and stores; nothing else is ever touched off CPU 0, so the
 * master needs no lock.
 *
 * Decisions the header leaves open:
 *  - A partition is "running" for hb_beat/hb_down exactly when its role is not
 *    HB_ROLE_NONE: role is the one field CPU 0 publishes to the vCPUs. It is
 *    NONE while OFF and once a failed partition has been fenced; a partition
 *    whose fence failed keeps its role (it was not stopped, and nobody was
 *    promoted in its place, so telling it PRIMARY cannot make two).
 *  - A failed standby that cannot be stopped is logged (HB_EV_FENCE_FAILED)
 *    but does not take the group DOWN: its primary still serves, so the group
 *    runs DEGRADED like for any lost standby.
 *  - A manual switchover stops the primary unless it is OFF or already fenced
 *    (FAILED with its role withdrawn): stopping a stopped partition is not
 *    asked of ops->stop.
 *  - hb_event_count() is the number of events kept (what hb_event_at walks),
 *    not nhist (events ever).
 *  - Within a group the standby is looked at before the primary in a tick, so
 *    that a standby failing in the same tick as the primary is not promoted. */
#include "vmm/ha/hb.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log_limit.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

#define NS_PER_MS   1000000ULL
#define HB_LINE_MAX 200

/* ---------------------------------------------------------------- shared fields */

static u32 role_of(const struct hb_part *p) { return __atomic_load_n(&p->role, __ATOMIC_ACQUIRE); }

static void set_role(struct hb_part *p, u32 role) { __atomic_store_n(&p->role, role, __ATOMIC_RELEASE); }

/* A vCPU's clock may run a little ahead of CPU 0's: such a beat is "just now". */
static u64 age(u64 now, u64 t) { return now > t ? now - t : 0; }

static u64 ms_ns(u32 ms) { return (u64)ms * NS_PER_MS; }

/* ---------------------------------------------------------------- names and logging */

void hb_set_name(struct hb_master *m, u32 part, const char *name)
{
    if (part < HB_MAX_PARTS)
        kstrlcpy(m->part[part].name, name, sizeof(m->part[part].name));
}

const char *hb_pstate_name(u32 s)
{
    static const char *const n[] = { "OFF", "WAITING", "ALIVE", "LATE", "FAILED" };
    return s < ARRAY_SIZE(n) ? n[s] : "?";
}

const char *hb_gstate_name(u32 s)
{
    static const char *const n[] = { "IDLE", "OK", "DEGRADED", "TAKEOVER", "DOWN" };
    return s < ARRAY_SIZE(n) ? n[s] : "?";
}

const char *hb_event_name(u32 k)
{
    static const char *const n[] = {
        "failed",  "fenced", "fence-failed", "hot",          "cold",
        "restart", "manual", "taken-over",   "standby-lost", "group-down",
    };
    return k < ARRAY_SIZE(n) ? n[k] : "?";
}

const char *hb_role_name(u32 r)
{
    switch (r) {
    case HB_ROLE_NONE: return "none";
    case HB_ROLE_PRIMARY: return "primary";
    case HB_ROLE_STANDBY: return "standby";
    default: return "?";
    }
}

/* "312 ms", or "0.250 ms" when not a whole number of milliseconds. */
static const char *fmt_ms(char *buf, size_t len, u64 ns)
{
    if (ns % NS_PER_MS == 0)
        ksnprintf(buf, len, "%llu ms", (unsigned long long)(ns / NS_PER_MS));
    else
        ksnprintf(buf, len, "%llu.%03llu ms", (unsigned long long)(ns / NS_PER_MS),
                  (unsigned long long)(ns % NS_PER_MS / 1000));
    return buf;
}

static void vsay(struct hb_master *m, u32 gi, enum log_level lvl, const char *suffix, const char *fmt, va_list ap)
{
    if (!m->ops.log)
        return;
    char line[HB_LINE_MAX];
    int n = ksnprintf(line, sizeof(line), "%s: ", m->group[gi].cfg->name);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    /* The suffix (a count of suppressed lines) must survive a long line. */
    size_t room = sizeof(line) - strlen(suffix);
    if ((size_t)n < room)
        kvsnprintf(line + n, room - (size_t)n, fmt, ap);
    kstrlcpy(line + strlen(line), suffix, sizeof(line) - strlen(line));
    m->ops.log(m->ops.ctx, lvl, line);
}

/* One line about group gi, prefixed with its name. */
static void __printf(4, 5) say(struct hb_master *m, u32 gi, enum log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(m, gi, lvl, "", fmt, ap);
    va_end(ap);
}

/* A line the timing of partition i's beats can repeat at will (late, beats
 * again, and a standby's group going DEGRADED and OK with it): through the
 * partition's log limit (kernel/core/log_limit.h), so an agent that flaps
 * cannot fill the console; `late` and the group's history keep the count. */
static void __printf(6, 7)
    say_limited(struct hb_master *m, u32 gi, u32 i, u64 now, enum log_level lvl, const char *fmt, ...)
{
    u64 suppressed;
    if (!m->ops.log || !log_limit_pass(i, LOGR_HEARTBEAT, now, &suppressed))
        return;
    char suffix[48];
    log_limit_suffix(suppressed, suffix, sizeof(suffix));
    va_list ap;
    va_start(ap, fmt);
    vsay(m, gi, lvl, suffix, fmt, ap);
    va_end(ap);
}

/* Partition i's name (hb_set_name, else "partition N"), for the log. */
static const char *nm(const struct hb_master *m, s32 i)
{
    return i >= 0 && (u32)i < m->nparts ? m->part[i].name : "none";
}

/* What partition i is in its group now, for the log. */
static const char *part_label(const struct hb_master *m, u32 gi, u32 i)
{
    return m->group[gi].primary == (s32)i ? "primary" : "standby";
}

static struct hb_event *record(struct hb_master *m, u32 gi, u32 kind, s32 part, s32 other, const char *why, u64 now)
{
    struct hb_group *g = &m->group[gi];
    struct hb_event *e = &g->hist[g->nhist % HB_HISTORY];
    memset(e, 0, sizeof(*e));
    e->at = now;
    e->kind = kind;
    e->part = part;
    e->other = other;
    kstrlcpy(e->why, why ? why : "", sizeof(e->why));
    g->nhist++;
    return e;
}

const struct hb_event *hb_event_at(const struct hb_group *g, u32 i)
{
    u32 kept = hb_event_count(g);
    if (i >= kept)
        return NULL;
    return &g->hist[(g->nhist - kept + i) % HB_HISTORY];
}

u32 hb_event_count(const struct hb_group *g) { return MIN(g->nhist, (u32)HB_HISTORY); }

/* ---------------------------------------------------------------- group state */

static bool part_healthy(const struct hb_master *m, s32 i) { return i >= 0 && m->part[i].state == HB_ALIVE; }

/* Why the group is in state s, for the log line of a transition. */
static void gstate_reason(const struct hb_master *m, u32 gi, u32 s, char *buf, size_t len)
{
    const struct hb_group *g = &m->group[gi];
    const struct hb_part *p = &m->part[g->primary];
    switch (s) {
    case HBG_IDLE:
        if (p->state == HB_OFF || p->state == HB_FAILED)
            ksnprintf(buf, len, "primary %s is not running (%s)", nm(m, g->primary), hb_pstate_name(p->state));
        else
            ksnprintf(buf, len, "waiting for primary %s to beat as primary (%s)", nm(m, g->primary),
                      hb_pstate_name(p->state));
        break;
    case HBG_OK:
        ksnprintf(buf, len, "%s serves as primary, standby %s is ready", nm(m, g->primary), nm(m, g->standby));
        break;
    case HBG_DEGRADED:
        if (g->standby < 0)
            ksnprintf(buf, len, "%s serves as primary, no standby partition", nm(m, g->primary));
        else
            ksnprintf(buf, len,
                      "%s serves as primary, standby %s is %s: no failover "
                      "to it possible",
                      nm(m, g->primary), nm(m, g->standby), hb_pstate_name(m->part[g->standby].state));
        break;
    case HBG_TAKEOVER:
        ksnprintf(buf, len, "%s is becoming primary, waiting for it to acknowledge", nm(m, g->target));
        break;
    default: kstrlcpy(buf, g->why, len); break;
    }
}

static void set_gstate(struct hb_master *m, u32 gi, u32 s, u64 now)
{
    struct hb_group *g = &m->group[gi];
    if (g->state == s)
        return;
    u32 was = g->state;
    g->state = s;
    if (was == HBG_DOWN)
        g->why[0] = '\0';
    if (s != HBG_TAKEOVER)
        g->target = -1;
    char why[HB_WHY_MAX + 40];
    gstate_reason(m, gi, s, why, sizeof(why));
    enum log_level lvl = s == HBG_OK ? LOG_INFO : LOG_WARN;
    /* Between OK and DEGRADED only the standby's health moves the group. */
    bool flap = (s == HBG_OK && was == HBG_DEGRADED) || (s == HBG_DEGRADED && was == HBG_OK);
    if (flap && g->standby >= 0)
        say_limited(m, gi, (u32)g->standby, now, lvl, "group %s (was %s): %s", hb_gstate_name(s), hb_gstate_name(was),
                    why);
    else
        say(m, gi, lvl, "group %s (was %s): %s", hb_gstate_name(s), hb_gstate_name(was), why);
}

/* The state that follows from the partitions alone. */
static u32 settled(const struct hb_master *m, u32 gi)
{
    const struct hb_group *g = &m->group[gi];
    if (!g->acked)
        return HBG_IDLE;
    return part_healthy(m, g->standby) ? HBG_OK : HBG_DEGRADED;
}

/* TAKEOVER and DOWN end only by an acknowledgement or an operator. */
static void recompute(struct hb_master *m, u32 gi, u64 now)
{
    struct hb_group *g = &m->group[gi];
    if (g->state != HBG_TAKEOVER && g->state != HBG_DOWN)
        set_gstate(m, gi, settled(m, gi), now);
}

static void __printf(4, 5) group_down(struct hb_master *m, u32 gi, u64 now, const char *fmt, ...)
{
    struct hb_group *g = &m->group[gi];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(g->why, sizeof(g->why), fmt, ap);
    va_end(ap);
    u32 was = g->state;
    g->state = HBG_DOWN;
    g->target = -1;
    g->acked = false;
    record(m, gi, HB_EV_GROUP_DOWN, g->primary, -1, g->why, now);
    /* One line for the event and the transition: they are the same thing. */
    say(m, gi, LOG_ERROR, "group DOWN (was %s): %s; an operator must start a partition", hb_gstate_name(was), g->why);
}

/* ---------------------------------------------------------------- actions */

/* The partition is (re)started: it owes its first beat from now on. */
static void part_reset(struct hb_part *p, u64 now)
{
    p->state = HB_WAITING;
    p->since = now;
    p->cur_misses = 0;
    p->why[0] = '\0';
    __atomic_store_n(&p->claimed, HB_ROLE_NONE, __ATOMIC_RELAXED);
    __atomic_store_n(&p->down, HB_DOWN_NONE, __ATOMIC_RELAXED);
    __atomic_store_n(&p->down_at, 0, __ATOMIC_RELAXED);
}

static void part_off(struct hb_part *p, u64 now)
{
    set_role(p, HB_ROLE_NONE);
    p->state = HB_OFF;
    p->since = now;
    p->cur_misses = 0;
}

/* The time after an action that may have taken some. */
static u64 clock(struct hb_master *m, u64 before)
{
    u64 t = m->ops.now ? m->ops.now(m->ops.ctx) : before;
    return MAX(t, before);
}

static int call_stop(struct hb_master *m, u32 i) { return m->ops.stop ? m->ops.stop(m->ops.ctx, i) : -ENOSYS; }

static int call_start(struct hb_master *m, u32 i, bool standby_image)
{
    return m->ops.start ? m->ops.start(m->ops.ctx, i, standby_image) : -ENOSYS;
}

static void call_announce(struct hb_master *m, u32 gi, u32 i)
{
    if (m->ops.announce)
        m->ops.announce(m->ops.ctx, gi, i);
}

/* Stops failed partition i. True when it is stopped; its role is withdrawn
 * only then (a partition that did not stop is not told it lost its role, and
 * nothing is promoted in its place). */
static bool fence(struct hb_master *m, u32 gi, u32 i, u64 now)
{
    int rc = call_stop(m, i);
    char why[HB_WHY_MAX];
    if (rc < 0) {
        ksnprintf(why, sizeof(why), "could not be stopped (%s)", strerror_short(rc));
        record(m, gi, HB_EV_FENCE_FAILED, (s32)i, -1, why, now);
        say(m, gi, LOG_ERROR, "%s (%s) %s: it may still run", nm(m, i), part_label(m, gi, i), why);
        return false;
    }
    set_role(&m->part[i], HB_ROLE_NONE);
    record(m, gi, HB_EV_FENCED, (s32)i, -1, "stopped", now);
    say(m, gi, LOG_INFO, "%s (%s) stopped (fenced)", nm(m, i), part_label(m, gi, i));
    return true;
}

/* Makes standby `to` the primary in place of `from` (already stopped or off). */
static void promote(struct hb_master *m, u32 gi, u32 from, u32 to, u32 kind, u64 now)
{
    struct hb_group *g = &m->group[gi];
    g->primary = (s32)to;
    g->standby = (s32)from;
    g->target = (s32)to;
    g->target_cold = false;
    g->t_target = now;
    g->acked = false;
    set_role(&m->part[to], HB_ROLE_PRIMARY);
    char why[HB_WHY_MAX];
    ksnprintf(why, sizeof(why), "%s promoted in place of %s", nm(m, to), nm(m, from));
    record(m, gi, kind, (s32)from, (s32)to, why, now);
    say(m, gi, LOG_WARN,
        "%s: standby %s promoted to primary in place of %s, service moved "
        "to it",
        kind == HB_EV_MANUAL ? "manual switchover" : "hot takeover", nm(m, to), nm(m, from));
    set_gstate(m, gi, HBG_TAKEOVER, now);
    call_announce(m, gi, to);
}

/* Boots failed (and fenced) partition i again as the group's primary. */
static void cold_boot(struct hb_master *m, u32 gi, u32 i, u64 now)
{
    struct hb_group *g = &m->group[gi];
    struct hb_part *p = &m->part[i];
    bool image = g->cfg->standby_kernel[0] != '\0';

    /* An image that fails again and again is not booted forever. */
    u64 oldest = g->cold_at[g->ncold % HB_COLD_MAX];
    if (g->ncold >= HB_COLD_MAX && now - oldest < HB_COLD_WINDOW_NS) {
        group_down(m, gi, now, "%s failed after each of %u cold takeovers within %llu s: not booted again", nm(m, i),
                   HB_COLD_MAX, (unsigned long long)(HB_COLD_WINDOW_NS / 1000000000ULL));
        return;
    }
    g->cold_at[g->ncold++ % HB_COLD_MAX] = now;
    record(m, gi, image ? HB_EV_COLD : HB_EV_RESTART, (s32)i, -1,
           image ? "booting the standby image" : "restarting its own image", now);
    if (image)
        say(m, gi, LOG_WARN, "cold takeover: booting %s with the group's standby image", nm(m, i));
    else
        say(m, gi, LOG_WARN,
            "cold takeover: restarting %s with its own image (the group has no "
            "standby image)",
            nm(m, i));
    /* WAITING and PRIMARY before it runs: its first beat may come at once. */
    part_reset(p, now);
    set_role(p, HB_ROLE_PRIMARY);
    int rc = call_start(m, i, true);
    now = clock(m, now);
    if (rc < 0) {
        part_off(p, now);
        group_down(m, gi, now, "%s could not be booted (%s)", nm(m, i), strerror_short(rc));
        return;
    }
    g->target = (s32)i;
    g->target_cold = true;
    g->t_target = now;
    g->acked = false;
    set_gstate(m, gi, HBG_TAKEOVER, now);
}

static void lose_standby(struct hb_master *m, u32 gi, u32 i, u64 now)
{
    if (fence(m, gi, i, now)) {
        record(m, gi, HB_EV_STANDBY_LOST, (s32)i, -1, m->part[i].why, now);
        say(m, gi, LOG_WARN, "standby %s lost: no failover possible until it runs again", nm(m, i));
    }
    recompute(m, gi, now);
}

/* Partition i is declared failed: the header's Takeover section. sign is its
 * last sign of life (last beat, start, or crash). */
static void fail(struct hb_master *m, u32 i, const char *why, u64 sign, u64 now)
{
    struct hb_part *p = &m->part[i];
    u32 gi = (u32)p->group;
    struct hb_group *g = &m->group[gi];
    bool primary = g->primary == (s32)i;
    bool target = primary && g->state == HBG_TAKEOVER && g->target == (s32)i;
    p->state = HB_FAILED;
    p->since = now;
    kstrlcpy(p->why, why, sizeof(p->why));
    record(m, gi, HB_EV_FAILED, (s32)i, -1, why, now);
    say(m, gi, LOG_ERROR, "%s (%s%s) %s: failed", nm(m, i), target ? "taking over as " : "", part_label(m, gi, i), why);

    if (!primary) {
        lose_standby(m, gi, i, now);
        return;
    }
    /* A failing takeover target continues the outage that began with the
     * first failure: its times stay. */
    if (!target) {
        g->t_alive = MIN(sign, now);
        g->t_declared = now;
    }
    bool fenced = fence(m, gi, i, now);
    now = clock(m, now);
    if (!fenced) {
        group_down(m, gi, now, "primary %s could not be stopped: no standby promoted", nm(m, i));
        return;
    }
    u32 mode = g->cfg->mode;
    if (target && g->target_cold) {
        group_down(m, gi, now, "%s failed after its cold boot: not booted again", nm(m, i));
    } else if (target) {
        if (mode == FAILOVER_AUTO) {
            cold_boot(m, gi, i, now);
        } else {
            group_down(m, gi, now, "%s failed while taking over; mode hot allows no cold boot", nm(m, i));
        }
    } else if (mode != FAILOVER_COLD && part_healthy(m, g->standby)) {
        promote(m, gi, i, (u32)g->standby, HB_EV_HOT, now);
    } else if (mode != FAILOVER_HOT) {
        cold_boot(m, gi, i, now);
    } else {
        if (g->standby < 0)
            group_down(m, gi, now, "no standby partition to take over from %s", nm(m, i));
        else
            group_down(m, gi, now, "standby %s is %s, not healthy: mode hot allows no cold boot", nm(m, g->standby),
                       hb_pstate_name(m->part[g->standby].state));
    }
}

/* ---------------------------------------------------------------- the tick */

static bool running(const struct hb_part *p)
{
    return p->state == HB_WAITING || p->state == HB_ALIVE || p->state == HB_LATE;
}

static const char *down_why(u32 down)
{
    switch (down) {
    case HB_DOWN_CRASH: return "crashed (triple fault or unhandled exit)";
    case HB_DOWN_RESET: return "reset itself (reboot)";
    default: return "shut down";
    }
}

static void tick_part(struct hb_master *m, u32 gi, s32 idx, u64 now)
{
    if (idx < 0)
        return;
    u32 i = (u32)idx;
    struct hb_part *p = &m->part[i];
    const struct config_failover *c = m->group[gi].cfg;
    char why[HB_WHY_MAX], t[24];

    if (!running(p))
        return;
    u32 down = __atomic_load_n(&p->down, __ATOMIC_ACQUIRE);
    if (down != HB_DOWN_NONE) {
        u64 at = __atomic_load_n(&p->down_at, __ATOMIC_RELAXED);
        fail(m, i, down_why(down), at, now);
        return;
    }

    u64 last = __atomic_load_n(&p->last_beat, __ATOMIC_ACQUIRE);
    if (p->state == HB_WAITING) {
        /* A last_beat of 0 with no beat ever counted is the initial value,
         * not a beat at time 0. */
        if (last < p->since || __atomic_load_n(&p->beats, __ATOMIC_RELAXED) == 0) {
            if (age(now, p->since) >= ms_ns(c->grace_ms)) {
                ksnprintf(why, sizeof(why), "sent no beat within the %u ms grace after its start", c->grace_ms);
                fail(m, i, why, p->since, now);
            }
            return;
        }
        say(m, gi, LOG_INFO, "%s (%s) beats: first beat %s after its start", nm(m, i), part_label(m, gi, i),
            fmt_ms(t, sizeof(t), last - p->since));
        p->state = HB_ALIVE;
        p->since = now;
        p->cur_misses = 0;
        /* and on to count what it may have missed since */
    }

    /* A beat is missed once it is half an interval overdue: an agent that
     * wakes a little late for its beat is not late. */
    u64 interval = ms_ns(c->interval_ms), slack = interval / 2, a = age(now, last);
    u64 cur64 = a < slack ? 0 : (a - slack) / interval;
    u32 cur = cur64 > UINT32_MAX ? UINT32_MAX : (u32)cur64;
    u32 prev = p->cur_misses;
    /* Fewer than before: a beat came in between, what is counted now is new. */
    p->misses += cur >= prev ? cur - prev : cur;
    p->cur_misses = cur;

    if (cur >= c->misses) {
        ksnprintf(why, sizeof(why), "missed %u beats, last %s ago", cur, fmt_ms(t, sizeof(t), age(now, last)));
        fail(m, i, why, last, now);
    } else if (p->state == HB_ALIVE && cur >= 1) {
        p->state = HB_LATE;
        p->since = now;
        p->late++;
        say_limited(m, gi, i, now, LOG_WARN, "%s (%s) is late: no beat for %s (%u missed, failed at %u)", nm(m, i),
                    part_label(m, gi, i), fmt_ms(t, sizeof(t), age(now, last)), cur, c->misses);
    } else if (p->state == HB_LATE && cur == 0) {
        p->state = HB_ALIVE;
        p->since = now;
        say_limited(m, gi, i, now, LOG_INFO, "%s (%s) beats again after %u missed", nm(m, i), part_label(m, gi, i),
                    prev);
    }
}

/* The partition beat claiming PRIMARY, at t or later. */
static bool claims_primary_since(const struct hb_part *p, u64 t)
{
    /* hb_beat stores claimed before last_beat: a last_beat seen here comes
     * with its own claim or a later one. */
    u64 last = __atomic_load_n(&p->last_beat, __ATOMIC_ACQUIRE);
    u32 claimed = __atomic_load_n(&p->claimed, __ATOMIC_RELAXED);
    return (p->state == HB_ALIVE || p->state == HB_LATE) && claimed == HB_ROLE_PRIMARY && last >= t;
}

static void taken_over(struct hb_master *m, u32 gi, u64 now)
{
    struct hb_group *g = &m->group[gi];
    u32 i = (u32)g->target;
    u64 detect = age(g->t_declared, g->t_alive);
    u64 took = age(now, g->t_declared);
    char a[24], b[24];

    g->failovers++;
    g->detect_last = detect;
    g->takeover_last = took;
    g->detect_max = MAX(g->detect_max, detect);
    g->takeover_max = MAX(g->takeover_max, took);
    g->acked = true;
    struct hb_event *e = record(m, gi, HB_EV_TAKEN_OVER, (s32)i, g->target_cold ? -1 : g->standby,
                                "acknowledged the primary role", now);
    e->detect_ns = detect;
    e->takeover_ns = took;
    say(m, gi, LOG_INFO,
        "%s took over as primary: failure detected in %s, taken over in %s "
        "(failover %u)",
        nm(m, i), fmt_ms(a, sizeof(a), detect), fmt_ms(b, sizeof(b), took), g->failovers);
    set_gstate(m, gi, settled(m, gi), now);
    call_announce(m, gi, i);
}

static void tick_takeover(struct hb_master *m, u32 gi, u64 now)
{
    struct hb_group *g = &m->group[gi];
    u32 i = (u32)g->target;
    struct hb_part *p = &m->part[i];
    const struct config_failover *c = g->cfg;
    char why[HB_WHY_MAX], t[24];

    if (claims_primary_since(p, g->t_target)) {
        taken_over(m, gi, now);
        return;
    }
    if (!running(p))
        return;
    /* The agent hears of its role at its next beat and says it acts on it
     * in the one after (at once, in the reference agent): misses + 1 intervals. */
    u64 limit = (u64)(c->misses + 1) * ms_ns(c->interval_ms) + (g->target_cold ? ms_ns(c->grace_ms) : 0);
    if (age(now, g->t_target) < limit)
        return;
    ksnprintf(why, sizeof(why), "did not take over within %s of its %s", fmt_ms(t, sizeof(t), limit),
              g->target_cold ? "boot" : "promotion");
    fail(m, i, why, p->state == HB_WAITING ? p->since : __atomic_load_n(&p->last_beat, __ATOMIC_ACQUIRE), now);
}

static void tick_ack(struct hb_master *m, u32 gi)
{
    struct hb_group *g = &m->group[gi];
    if (g->acked || g->state == HBG_DOWN)
        return;
    /* hb_started reset its claim: any PRIMARY claim is from this run. */
    if (!claims_primary_since(&m->part[g->primary], 0))
        return;
    g->acked = true;
    say(m, gi, LOG_INFO, "%s beats as primary: service announced on it", nm(m, g->primary));
    call_announce(m, gi, (u32)g->primary);
}

void hb_tick(struct hb_master *m, u64 now)
{
    for (u32 gi = 0; gi < m->ngroups; gi++) {
        struct hb_group *g = &m->group[gi];
        /* An earlier group's takeover may have taken a while. */
        now = clock(m, now);
        tick_part(m, gi, g->standby, now);
        now = clock(m, now);
        tick_part(m, gi, g->primary, now);
        /* A failure just handled may have stopped a partition for a while. */
        now = clock(m, now);
        if (g->state == HBG_TAKEOVER)
            tick_takeover(m, gi, now);
        else
            tick_ack(m, gi);
        recompute(m, gi, now);
    }
}

/* ---------------------------------------------------------------- from the partitions */

u32 hb_beat(struct hb_master *m, u32 part, u32 claimed, u64 now)
{
    if (part >= m->nparts || !m->part[part].monitored)
        return HB_ROLE_NONE;
    struct hb_part *p = &m->part[part];
    u32 role = role_of(p);
    if (role == HB_ROLE_NONE)
        return HB_ROLE_NONE;
    __atomic_store_n(&p->claimed, claimed, __ATOMIC_RELAXED);
    __atomic_store_n(&p->last_beat, now, __ATOMIC_RELEASE);
    __atomic_add_fetch(&p->beats, 1, __ATOMIC_RELAXED);
    return role;
}

void hb_down(struct hb_master *m, u32 part, enum hb_down how, u64 now)
{
    if (part >= m->nparts || !m->part[part].monitored || how == HB_DOWN_NONE)
        return;
    struct hb_part *p = &m->part[part];
    if (role_of(p) == HB_ROLE_NONE)
        return;
    __atomic_store_n(&p->down_at, now, __ATOMIC_RELAXED);
    __atomic_store_n(&p->down, (u32)how, __ATOMIC_RELEASE);
}

/* ---------------------------------------------------------------- from the operator */

/* Partition part when it is watched, else NULL; with its group's index and
 * whether it is that group's primary now. */
static struct hb_part *watched(struct hb_master *m, u32 part, u32 *gi, bool *primary)
{
    if (part >= m->nparts || !m->part[part].monitored)
        return NULL;
    *gi = (u32)m->part[part].group;
    *primary = m->group[*gi].primary == (s32)part;
    return &m->part[part];
}

void hb_started(struct hb_master *m, u32 part, u64 now)
{
    u32 gi;
    bool primary;
    struct hb_part *p = watched(m, part, &gi, &primary);
    if (!p)
        return;
    struct hb_group *g = &m->group[gi];

    part_reset(p, now);
    set_role(p, primary ? HB_ROLE_PRIMARY : HB_ROLE_STANDBY);
    say(m, gi, LOG_INFO, "%s (%s) started: first beat due within %u ms", nm(m, part), part_label(m, gi, part),
        g->cfg->grace_ms);
    if (primary) {
        g->acked = false;
        /* An operator's start is the way out of DOWN (and ends a takeover
         * that was under way on this partition). */
        if (g->state == HBG_DOWN || g->state == HBG_TAKEOVER)
            set_gstate(m, gi, HBG_IDLE, now);
    }
    recompute(m, gi, now);
}

void hb_stopped(struct hb_master *m, u32 part, u64 now)
{
    u32 gi;
    bool primary;
    struct hb_part *p = watched(m, part, &gi, &primary);
    if (!p)
        return;
    struct hb_group *g = &m->group[gi];

    part_off(p, now);
    say(m, gi, LOG_INFO, "%s (%s) stopped by an operator%s", nm(m, part), part_label(m, gi, part),
        primary ? ": not a failure, nothing fails over" : "");
    if (primary) {
        if (g->state == HBG_TAKEOVER && g->target == (s32)part)
            say(m, gi, LOG_WARN, "takeover by %s abandoned: it was stopped", nm(m, part));
        g->acked = false;
        set_gstate(m, gi, HBG_IDLE, now);
    }
    recompute(m, gi, now);
}

int hb_switchover(struct hb_master *m, u32 gi, u64 now, char *err, size_t errlen)
{
    if (gi >= m->ngroups)
        return kerr_fmt(err, errlen, -ENOENT, "no failover group %u", gi);
    struct hb_group *g = &m->group[gi];
    const char *name = g->cfg->name;
    if (g->cfg->mode == FAILOVER_COLD)
        return kerr_fmt(err, errlen, -EINVAL, "%s: mode cold has no hot standby to switch over to", name);
    if (g->state == HBG_TAKEOVER)
        return kerr_fmt(err, errlen, -EBUSY, "%s: a takeover by %s is under way", name, nm(m, g->target));
    if (g->standby < 0)
        return kerr_fmt(err, errlen, -EAGAIN, "%s: has no standby partition", name);
    if (!part_healthy(m, g->standby))
        return kerr_fmt(err, errlen, -EAGAIN, "%s: standby %s is not running and beating (%s)", name, nm(m, g->standby),
                        hb_pstate_name(m->part[g->standby].state));

    u32 from = (u32)g->primary, to = (u32)g->standby;
    struct hb_part *p = &m->part[from];
    say(m, gi, LOG_INFO, "manual switchover from %s to %s requested", nm(m, from), nm(m, to));
    /* The old primary goes first: two primaries never exist. A fenced one is
     * stopped already. */
    if (p->state != HB_OFF && !(p->state == HB_FAILED && role_of(p) == HB_ROLE_NONE)) {
        int rc = call_stop(m, from);
        if (rc < 0) {
            say(m, gi, LOG_ERROR,
                "manual switchover: primary %s could not be stopped (%s): nothing "
                "promoted",
                nm(m, from), strerror_short(rc));
            return kerr_fmt(err, errlen, -EIO,
                            "%s: primary %s could not be stopped (%s): nothing "
                            "promoted",
                            name, nm(m, from), strerror_short(rc));
        }
        part_off(p, now);
        say(m, gi, LOG_INFO, "%s (primary) stopped for the switchover", nm(m, from));
    }
    g->t_alive = g->t_declared = now;
    promote(m, gi, from, to, HB_EV_MANUAL, clock(m, now));
    return 0;
}

/* ---------------------------------------------------------------- setup */

int hb_group_find(const struct hb_master *m, const char *name)
{
    for (u32 gi = 0; gi < m->ngroups; gi++)
        if (strcmp(m->group[gi].cfg->name, name) == 0)
            return (int)gi;
    return -1;
}

static bool index_ok(s32 i, u32 nparts) { return i >= 0 && (u32)i < nparts; }

static int check(const struct config_failover *groups, u32 ngroups, u32 nparts)
{
    s32 owner[HB_MAX_PARTS];

    if (ngroups > HB_MAX_GROUPS || nparts > HB_MAX_PARTS || (ngroups && !groups))
        return -EINVAL;
    for (u32 i = 0; i < HB_MAX_PARTS; i++)
        owner[i] = -1;
    for (u32 gi = 0; gi < ngroups; gi++) {
        const struct config_failover *c = &groups[gi];
        if (!c->interval_ms || !c->misses || c->mode > FAILOVER_COLD)
            return -EINVAL;
        if (!index_ok(c->primary, nparts) || (c->standby != -1 && !index_ok(c->standby, nparts)))
            return -EINVAL;
        if (c->standby == c->primary)
            return -EINVAL;
        if (owner[c->primary] >= 0 || (c->standby >= 0 && owner[c->standby] >= 0))
            return -EINVAL;
        owner[c->primary] = (s32)gi;
        if (c->standby >= 0)
            owner[c->standby] = (s32)gi;
    }
    return 0;
}

int hb_init(struct hb_master *m, const struct config_failover *groups, u32 ngroups, u32 nparts,
            const struct hb_ops *ops)
{
    int rc = check(groups, ngroups, nparts);
    if (rc < 0)
        return rc;
    memset(m, 0, sizeof(*m));
    m->nparts = nparts;
    m->ngroups = ngroups;
    if (ops)
        m->ops = *ops;
    for (u32 i = 0; i < HB_MAX_PARTS; i++) {
        m->part[i].group = -1;
        ksnprintf(m->part[i].name, sizeof(m->part[i].name), "partition %u", i);
    }
    for (u32 gi = 0; gi < ngroups; gi++) {
        const struct config_failover *c = &groups[gi];
        struct hb_group *g = &m->group[gi];
        g->cfg = c;
        g->primary = c->primary;
        g->standby = c->standby;
        g->state = HBG_IDLE;
        g->target = -1;
        m->part[c->primary].monitored = true;
        m->part[c->primary].group = (s32)gi;
        if (c->standby >= 0) {
            m->part[c->standby].monitored = true;
            m->part[c->standby].group = (s32)gi;
        }
    }
    return 0;
}
