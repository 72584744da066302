/* The rate-limiting shim on every switch port, in the hypervisor.
 *
 * Marking is a two-rate three-colour marker (RFC 2698, colour-blind): a frame
 * of B bytes is red when the peak bucket (PIR, PBS) holds fewer than B
 * tokens, else yellow when the committed bucket (CIR, CBS) holds fewer than
 * B, else green. What happens to it:
 *  - green passes (both buckets are charged);
 *  - yellow passes only when the port is work-conserving (wc) and there is
 *    idle capacity: the link's spare capacity (what the ports with nothing to
 *    send, "black", leave unused, plus any capacity not committed to anyone)
 *    and a receiver that is not congested. It then charges the peak bucket and
 *    the link's borrowing pool; otherwise it is held like red;
 *  - red is held back: the frame stays in the sender's ring (not consumed, no
 *    tokens charged) until tokens return (shim_admit says when). Shaping by
 *    back-pressure, never a silent drop.
 *  - a port with nothing to send is black (shim_idle); while black its
 *    committed rate is not counted against the link, so others may borrow it.
 *
 * Congestion feedback: when a live receiver is short of buffers (its receive
 * ring is full or over its threshold; net/vnet_data.c does not count one
 * that is down or stalled) the senders toward it are told
 * (shim_congestion): their rates (CIR and PIR alike) are cut multiplicatively
 * (x SHIM_MD_NUM / SHIM_MD_DEN, at most once per SHIM_FEEDBACK_NS) and then
 * recovered additively (+SHIM_AI_PPM of the configured rate per
 * SHIM_FEEDBACK_NS without congestion) back up to the configured rates, so a
 * receiver is never overrun for long.
 *
 * Rates are bytes per second, bursts bytes, time ns (passed in, so the unit
 * tests drive a simulated clock). A rate of 0 means unlimited for that bucket.
 * Not thread-safe per port (the port's transmit lock serialises); the link is
 * shared by ports on many CPUs and has its own lock. Arch-neutral. */
#ifndef ISTHMUS_NET_SHIM_H
#define ISTHMUS_NET_SHIM_H

#include "kernel/lib/types.h"
#include "kernel/lib/spinlock.h"

#define SHIM_NS_PER_S    1000000000ULL
#define SHIM_FEEDBACK_NS (1000000ULL) /* 1 ms between cuts / recovery steps */
#define SHIM_MD_NUM      1            /* multiplicative decrease: x 1/2 */
#define SHIM_MD_DEN      2
#define SHIM_AI_PPM      20000 /* additive increase: +2% per step */
#define SHIM_MIN_PPM     10000 /* never cut below 1% of the configured rate */
#define SHIM_MIN_BURST   2048  /* a burst must hold at least one full frame */

enum shim_colour { SHIM_GREEN, SHIM_YELLOW, SHIM_RED, SHIM_BLACK, SHIM_COLOURS };

enum shim_verdict {
    SHIM_PASS, /* send it now; *colour says green or yellow */
    SHIM_HOLD, /* leave it in the ring; try again at *retry_ns */
};

struct shim_cfg {
    u64 cir, cbs; /* committed rate and burst */
    u64 pir, pbs; /* peak rate and burst; pir >= cir */
    bool wc;      /* work-conserving: yellow may borrow idle capacity */
};

/* The capacity the ports share: what yellow frames borrow from. */
struct shim_link {
    spinlock_t lock;
    u64 capacity;         /* bytes/s of the whole switch; 0 = unlimited */
    u64 committed_active; /* sum of the CIRs of ports that are not black */
    u64 pool;             /* spare tokens, in bytes x SHIM_NS_PER_S (scaled) */
    u64 pool_max;         /* its depth (scaled) */
    u64 last;             /* ns of the last refill */
};

struct shim_stats {
    u64 frames[SHIM_COLOURS]; /* green, yellow passed; red = times a frame was first held; black = idle periods */
    u64 bytes[SHIM_COLOURS];  /* bytes passed green / yellow; bytes held red */
    u64 held;                 /* every hold, including retries */
    u64 cuts, recoveries;     /* feedback steps */
};

struct shim {
    struct shim_cfg cfg;
    struct shim_link *link;
    u64 tc, tp;              /* tokens, in bytes x SHIM_NS_PER_S (scaled, no rounding loss) */
    u64 last;                /* ns of the last refill */
    u32 factor_ppm;          /* feedback: fraction of the configured rates in force (1e6 = all) */
    u64 last_cut, last_step; /* ns */
    bool black;              /* nothing to send */
    bool holding;            /* the frame at the head was held already (counted red once) */
    /* The green bytes the last green admit left in both buckets, for the
     * frames that follow it in the same pass (shim_take): what is left of
     * them, and what was sent on them, not yet charged nor counted. Every
     * other entry point settles first (shim_settle). */
    u64 grant;
    u64 grant_frames, grant_bytes;
    struct shim_stats stats;
};

void shim_link_init(struct shim_link *l, u64 capacity, u64 now);
/* Checks a configuration: NULL when good, else why not (for file:line errors
 * and the shell's `rate`). */
const char *shim_cfg_check(const struct shim_cfg *c);
/* Starts a port's shim with full buckets, black (idle). */
void shim_init(struct shim *s, struct shim_link *link, const struct shim_cfg *cfg, u64 now);
/* Changes rates and mode live; the buckets keep their tokens, capped to the
 * new bursts. -EINVAL when shim_cfg_check refuses. */
int shim_set(struct shim *s, const struct shim_cfg *cfg, u64 now) __must_check;
/* The frame at the head of the port's ring, `bytes` long: pass or hold.
 * rx_idle: the receiver(s) have room (for yellow). On SHIM_HOLD *retry_ns is
 * the earliest time it may pass (tokens return), never in the past. */
enum shim_verdict shim_admit(struct shim *s, u64 now, u32 bytes, bool rx_idle, enum shim_colour *colour, u64 *retry_ns);
/* shim_admit for the frames after a green one in the same pass (same now):
 * true when the tokens left then still cover `bytes` (the frame is green),
 * false when shim_admit must judge it. The same verdicts as one shim_admit
 * per frame; the buckets are charged once, when the pass settles. */
static inline bool shim_take(struct shim *s, u32 bytes)
{
    if (likely(bytes <= s->grant)) {
        s->grant -= bytes;
        s->grant_frames++;
        s->grant_bytes += bytes;
        return true;
    }
    return false;
}
/* The green bytes shim_take would still let through now: a run of frames
 * takes its own from them and then reports with shim_took. */
static inline u64 shim_grant(const struct shim *s) { return s->grant; }
/* `frames` frames of `bytes` in all went on the grant, as if each had been
 * through shim_take; bytes <= shim_grant(). */
static inline void shim_took(struct shim *s, u32 frames, u64 bytes)
{
    s->grant -= bytes;
    s->grant_frames += frames;
    s->grant_bytes += bytes;
}
/* Charges and counts what shim_take let through. Due at the end of a pass
 * (the buckets and statistics are then as if every frame had gone through
 * shim_admit); the other entry points do it first. */
void shim_settle(struct shim *s);
/* The port has nothing to send (its ring is empty): black until the next admit. */
void shim_idle(struct shim *s, u64 now);
/* A receiver this port sends to is congested: cut the rates. */
void shim_congestion(struct shim *s, u64 now);
/* The rates in force now, after feedback (bytes/s). */
u64 shim_cir_now(const struct shim *s);
u64 shim_pir_now(const struct shim *s);
const char *shim_colour_name(enum shim_colour c);

#endif
