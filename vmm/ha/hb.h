/* The heartbeat master: watches the partitions of [[failover]] groups and fails
 * a group's service over to its standby. Arch-neutral, with time passed in (ns)
 * and the actions on partitions behind struct hb_ops, so that host unit tests
 * drive it on a simulated clock. docs/failover.md describes it for users.
 *
 * Beats (hb_beat) come from the partitions' vCPUs on any CPU and only store a
 * timestamp: there is no message per beat and none per pair of partitions.
 * One management timer on CPU 0 calls hb_tick(), which reads every monitored
 * partition's last beat, counts missed intervals, declares failures and runs
 * the takeovers. Crashes (triple fault, unhandled exit) and guest shutdowns
 * are posted with hb_down() from the failing vCPU and acted on at the next
 * tick, without waiting for missed beats.
 *
 * A partition's heartbeat state:
 *   OFF      not running (never started, or stopped)
 *   WAITING  started, no beat yet: the first is due within the group's grace
 *   ALIVE    beating, the last beat less than 1.5 intervals ago
 *   LATE     one or more beats missed, fewer than `misses` (a beat is missed
 *            once it is half an interval overdue: failed after
 *            misses * interval + interval / 2 without a beat)
 *   FAILED   declared failed (missed beats, crash, shutdown); it is stopped
 *            (fenced) before anything else happens in its group
 *
 * A group's state:
 *   IDLE      its primary is not running, or has not yet acknowledged the role
 *   OK        the primary beats as primary and a healthy (ALIVE) standby runs
 *   DEGRADED  the primary beats as primary, no healthy standby
 *   TAKEOVER  a partition was made primary and has not acknowledged it yet
 *   DOWN      failed over as far as configuration and health allow; an
 *             operator must start a partition (the group then recovers)
 *
 * Takeover, when the primary is declared failed:
 *   1. fence: ops->stop(primary). If that fails the group goes DOWN and no
 *      standby is promoted (two primaries never exist).
 *   2. hot, when mode is auto or hot and the standby is ALIVE: the standby
 *      becomes primary (its next beat is answered HB_ROLE_PRIMARY), the
 *      service MAC is moved to it (ops->announce); the failed partition
 *      becomes the group's standby, to be restarted by an operator.
 *   3. cold, when mode is auto or cold and no healthy standby runs:
 *      ops->start(failed, true) boots the group's standby image on the failed
 *      partition's own resources (or restarts its own image when the group has
 *      none); it stays the primary.
 *   4. otherwise (mode hot without a healthy standby) the group goes DOWN;
 *      so does a fourth cold takeover within 60 s (HB_COLD_MAX): an image
 *      that keeps failing is not booted in a loop.
 *   The takeover ends with the new primary's first beat claiming
 *   HB_ROLE_PRIMARY (then ops->announce again). If the new primary fails first
 *   (misses its beats, crashes, or does not acknowledge within (misses + 1)
 *   intervals of its promotion, plus the grace after a cold boot), it is fenced
 *   too; a hot target is replaced by a cold boot when the mode allows, a cold
 *   target leaves the group DOWN (no restart loop).
 *
 * An operator's stop of a partition (hb_stopped) is not a failure: nothing is
 * failed over; a manual switchover (hb_switchover) moves the service first.
 * A failed standby is fenced and the group runs DEGRADED.
 *
 * Times kept per group: detection = declared - last sign of life (the last
 * beat, the start when it never beat, or the moment of a crash); takeover =
 * acknowledged - declared. */
#ifndef ISTHMUS_VMM_HB_H
#define ISTHMUS_VMM_HB_H

#include "kernel/lib/types.h"
#include "kernel/core/config.h"
#include "kernel/core/log.h"
#include "vmm/hypercall_abi.h"

#define HB_MAX_PARTS      CONFIG_MAX_PARTITIONS
#define HB_MAX_GROUPS     CONFIG_MAX_GROUPS
#define HB_HISTORY        16 /* events kept per group (a ring) */
#define HB_WHY_MAX        80
#define HB_COLD_MAX       3                       /* cold takeovers allowed within HB_COLD_WINDOW_NS; */
#define HB_COLD_WINDOW_NS (60ULL * 1000000000ULL) /* one more takes the group DOWN */

enum hb_pstate { HB_OFF, HB_WAITING, HB_ALIVE, HB_LATE, HB_FAILED };
enum hb_down { HB_DOWN_NONE, HB_DOWN_CRASH, HB_DOWN_SHUTDOWN, HB_DOWN_RESET };
enum hb_gstate { HBG_IDLE, HBG_OK, HBG_DEGRADED, HBG_TAKEOVER, HBG_DOWN };

enum hb_event_kind {
    HB_EV_FAILED,       /* part declared failed; why says how */
    HB_EV_FENCED,       /* part stopped after its failure */
    HB_EV_FENCE_FAILED, /* part could not be stopped: group DOWN */
    HB_EV_HOT,          /* other (standby) promoted in place of part */
    HB_EV_COLD,         /* part booted with the group's standby image */
    HB_EV_RESTART,      /* part restarted with its own image (no standby image) */
    HB_EV_MANUAL,       /* manual switchover from part to other */
    HB_EV_TAKEN_OVER,   /* part acknowledged being primary: detect_ns, takeover_ns set */
    HB_EV_STANDBY_LOST, /* standby part failed (fenced): group DEGRADED */
    HB_EV_GROUP_DOWN,   /* nothing left to fail over to; why says why */
};

struct hb_part {
    char name[CONFIG_NAME_MAX]; /* for the log: hb_set_name, else "partition N" */
    bool monitored;             /* in a group */
    s32 group;
    /* Written by the partition's vCPUs (hb_beat, hb_down), read by hb_tick. */
    volatile u64 last_beat; /* ns */
    volatile u32 claimed;   /* role its last beat claimed */
    volatile u64 beats;
    volatile u32 down; /* enum hb_down, posted */
    volatile u64 down_at;
    /* Written by hb_tick (CPU 0), read by hb_beat. */
    volatile u32 role; /* enum isthmus_hb_role it is told */
    /* The master's own (CPU 0). */
    u32 state;            /* enum hb_pstate */
    u64 since;            /* ns: started (WAITING) or entered its state */
    u32 cur_misses;       /* intervals missed since the last beat */
    u64 misses;           /* intervals missed in all */
    u64 late;             /* times it went LATE (and maybe recovered): flapping shows here */
    char why[HB_WHY_MAX]; /* why FAILED */
};

struct hb_event {
    u64 at;                     /* ns */
    u32 kind;                   /* enum hb_event_kind */
    s32 part, other;            /* partition indices, -1 when none */
    u64 detect_ns, takeover_ns; /* HB_EV_TAKEN_OVER */
    char why[HB_WHY_MAX];
};

struct hb_group {
    const struct config_failover *cfg;
    s32 primary, standby;                                     /* now (they swap on a hot takeover); standby -1: none */
    u32 state;                                                /* enum hb_gstate */
    bool acked;                                               /* the primary beat as primary since it became primary */
    s32 target;                                               /* TAKEOVER: the partition becoming primary */
    bool target_cold;                                         /* TAKEOVER: it was (re)booted, not promoted */
    u64 t_alive;                                              /* the failed primary's last sign of life */
    u64 t_declared;                                           /* when its failure was declared */
    u64 t_target;                                             /* when the target was promoted or booted */
    u32 failovers;                                            /* takeovers completed */
    u64 detect_last, detect_max, takeover_last, takeover_max; /* ns */
    char why[HB_WHY_MAX];                                     /* DOWN: why */
    u64 cold_at[HB_COLD_MAX];                                 /* the last cold takeovers' times (a ring) */
    u32 ncold;
    struct hb_event hist[HB_HISTORY];
    u32 nhist; /* events ever; the last min(nhist, HB_HISTORY) are kept */
};

/* What the master does to partitions. Called only from hb_tick() and
 * hb_switchover(), on the management CPU; they do not call back into the
 * master (the master updates its own state around them). */
struct hb_ops {
    void *ctx;
    /* Stop the partition and reclaim its resources: 0, or < 0 when it could
     * not be stopped (its CPUs did not answer). */
    int (*stop)(void *ctx, u32 part);
    /* Boot the partition again on its own resources: with its group's
     * standby image when standby_image (and the group has one), else with its
     * own configured image. 0 or < 0. */
    int (*start)(void *ctx, u32 part, bool standby_image);
    /* Move the group's service MAC to the partition's port and announce it. */
    void (*announce)(void *ctx, u32 group, u32 part);
    /* One line, already formatted, for the log (the log adds the time). */
    void (*log)(void *ctx, enum log_level lvl, const char *msg);
    /* The clock (ns), read again after stop and start, which take time (a
     * stop may wait 2 s for a CPU). NULL: the time given to the call stands. */
    u64 (*now)(void *ctx);
};

struct hb_master {
    u32 nparts, ngroups;
    struct hb_part part[HB_MAX_PARTS];
    struct hb_group group[HB_MAX_GROUPS];
    struct hb_ops ops;
};

/* Groups from the configuration (indices already resolved and checked by the
 * configuration parser); nparts partitions in all. -EINVAL for more than the
 * limits or a bad index. All partitions start OFF. */
int hb_init(struct hb_master *m, const struct config_failover *groups, u32 ngroups, u32 nparts,
            const struct hb_ops *ops) __must_check;

/* The partition's name in log lines (copied). */
void hb_set_name(struct hb_master *m, u32 part, const char *name);

/* A beat from partition `part` that acts as role `claimed`; returns the role
 * it must take (HB_ROLE_NONE when it is not monitored or not running).
 * Any CPU. */
u32 hb_beat(struct hb_master *m, u32 part, u32 claimed, u64 now);

/* The partition is being started, or was stopped, by an operator (or at
 * boot): CPU 0. hb_started comes before its vCPUs start (its first beat may
 * follow at once); when the start then fails the caller says hb_stopped.
 * Not called for the master's own ops->start / ops->stop: the master marks
 * the partition WAITING before it calls ops->start, and back when that fails. */
void hb_started(struct hb_master *m, u32 part, u64 now);
void hb_stopped(struct hb_master *m, u32 part, u64 now);
/* The partition crashed or shut down (posted from its vCPU, any CPU). */
void hb_down(struct hb_master *m, u32 part, enum hb_down how, u64 now);

/* The management timer: state of every monitored partition, failures,
 * takeovers. CPU 0, about every millisecond. */
void hb_tick(struct hb_master *m, u64 now);

/* Manual switchover of group g: its standby must be ALIVE and no takeover
 * under way. The primary is stopped first, then the standby promoted (hot).
 * 0, or a negative error with why in err. CPU 0. */
int hb_switchover(struct hb_master *m, u32 g, u64 now, char *err, size_t errlen) __must_check;

/* Group by name, or -1. */
int hb_group_find(const struct hb_master *m, const char *name);
/* Event i of group g, 0 = oldest kept; NULL past the end. */
const struct hb_event *hb_event_at(const struct hb_group *g, u32 i);
u32 hb_event_count(const struct hb_group *g);

const char *hb_pstate_name(u32 s);
const char *hb_gstate_name(u32 s);
const char *hb_event_name(u32 k);
const char *hb_role_name(u32 r);

#endif
