/* See shim.h. The marker is RFC 2698 section 4 (colour-blind trTCM); the
 * rest is shaping by back-pressure around it.
 *
 * Tokens are kept in bytes x SHIM_NS_PER_S so that a refill is rate (bytes/s)
 * x elapsed (ns), exactly: no remainder is ever thrown away, and the long-run
 * rate is the configured one to the byte. The products stay inside u64
 * because a refill never adds more than the room left in its bucket (the
 * elapsed time is clamped to what fills it), bursts are at most
 * SHIM_MAX_BURST (x 1e9 < 2^64) and rates at most SHIM_MAX_RATE (x 1e6 ppm
 * < 2^64). No 128-bit division: the hypervisor links without libgcc.
 *
 * Decisions the header leaves open:
 *  - cir = 0 with pir > 0: no committed guarantee; every frame up to the PIR
 *    is yellow, so such a port only ever borrows idle capacity. It needs wc
 *    (else nothing would ever pass: shim_cfg_check refuses it). cir = 0 and
 *    pir = 0: no limit at all, every frame green. cir > 0 with pir = 0: the
 *    peak bucket is unlimited, so beyond the CIR everything is yellow.
 *  - The link's pool refills at max(0, capacity - committed_active) and is
 *    SHIM_POOL_NS (10 ms) of the whole capacity deep, at least one
 *    SHIM_MIN_BURST, so a port coming back from black finds at most 10 ms
 *    worth of others' borrowing to absorb. Capacity 0 = unlimited: yellow
 *    always finds capacity and nothing is charged. Committed capacity is
 *    accounted with the configured CIR (feedback cuts do not lend it out).
 *  - A held frame's retry is the earliest time it can pass if nothing else
 *    changes: green when both buckets will hold it; yellow (wc only) when the
 *    peak bucket and the pool will. When the pool does not refill (everything
 *    committed) or the receiver is busy, when capacity comes back is unknown:
 *    SHIM_FEEDBACK_NS is used for that part.
 *  - A frame longer than a bucket (only possible beyond SHIM_MIN_BURST)
 *    conforms when that bucket is full and empties it, rather than waiting
 *    forever.
 *  - On SHIM_HOLD *colour is SHIM_RED (held), whatever the mark was. */
#include "net/shim.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

#define PPM_ONE        1000000U
#define SHIM_POOL_NS   (10ULL * 1000000ULL) /* the pool's depth in time of capacity */
#define SHIM_MAX_RATE  10000000000000ULL    /* 10 TB/s: x PPM_ONE fits a u64 */
#define SHIM_MAX_BURST (4ULL << 30)         /* 4 GiB: x SHIM_NS_PER_S fits a u64 */
#define NEVER          UINT64_MAX

#define STR_(x) #x
#define STR(x)  STR_(x)

STATIC_ASSERT(SHIM_MAX_RATE <= UINT64_MAX / PPM_ONE, "rate x ppm must fit a u64");
STATIC_ASSERT(SHIM_MAX_BURST <= UINT64_MAX / SHIM_NS_PER_S, "scaled burst must fit a u64");
STATIC_ASSERT((SHIM_MD_NUM < SHIM_MD_DEN) && (SHIM_MIN_PPM > 0) && (SHIM_MIN_PPM <= PPM_ONE), "feedback constants");

static u64 sat_mul(u64 a, u64 b)
{
    u64 r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static u64 sat_add(u64 a, u64 b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

static u64 scaled(u64 bytes) { return sat_mul(bytes, SHIM_NS_PER_S); }

static u64 ceil_div(u64 a, u64 b) { return a / b + (a % b != 0); }

/* Tokens after dt ns at rate bytes/s, capped to max: dt is clamped to what
 * fills the bucket, so rate x dt never exceeds the room left. */
static u64 fill(u64 tokens, u64 max, u64 rate, u64 dt)
{
    if (tokens >= max)
        return max;
    u64 room = max - tokens;
    if (rate == 0 || dt == 0)
        return tokens;
    if (dt > room / rate)
        return max;
    return tokens + rate * dt;
}

/* When a bucket refilling at rate will hold need (scaled) tokens, from now. */
static u64 when(u64 tokens, u64 need, u64 rate, u64 now)
{
    if (tokens >= need)
        return now;
    if (rate == 0)
        return NEVER;
    return sat_add(now, ceil_div(need - tokens, rate));
}

static u64 rate_now(u64 cfg_rate, u32 ppm)
{
    if (cfg_rate == 0)
        return 0;
    u64 r = cfg_rate <= UINT64_MAX / PPM_ONE ? cfg_rate * ppm / PPM_ONE : cfg_rate / PPM_ONE * ppm;
    return r ? r : 1; /* a set rate never becomes 0 (= unlimited) */
}

u64 shim_cir_now(const struct shim *s) { return rate_now(s->cfg.cir, s->factor_ppm); }
u64 shim_pir_now(const struct shim *s) { return rate_now(s->cfg.pir, s->factor_ppm); }

/* ---------------------------------------------------------------- the link */

static u64 pool_rate(const struct shim_link *l)
{
    return l->capacity > l->committed_active ? l->capacity - l->committed_active : 0;
}

/* Under l->lock. Times from other CPUs may lag l->last a little: no refill then. */
static void pool_refill(struct shim_link *l, u64 now)
{
    if (now <= l->last)
        return;
    if (l->capacity)
        l->pool = fill(l->pool, l->pool_max, pool_rate(l), now - l->last);
    l->last = now;
}

void shim_link_init(struct shim_link *l, u64 capacity, u64 now)
{
    memset(l, 0, sizeof(*l));
    l->lock = (spinlock_t)SPINLOCK_INIT;
    l->capacity = capacity;
    if (capacity)
        l->pool_max = MAX(sat_mul(capacity, SHIM_POOL_NS), scaled(SHIM_MIN_BURST));
    l->pool = l->pool_max;
    l->last = now;
}

/* The port's committed rate starts (delta > 0) or stops counting against the link. */
static void link_commit(struct shim_link *l, u64 now, u64 add, u64 sub)
{
    if (!l || add == sub)
        return;
    spin_lock(&l->lock);
    pool_refill(l, now); /* the time so far at the old spare rate */
    l->committed_active = sat_add(l->committed_active, add);
    l->committed_active = l->committed_active > sub ? l->committed_active - sub : 0;
    spin_unlock(&l->lock);
}

/* ---------------------------------------------------------------- configuration */

const char *shim_cfg_check(const struct shim_cfg *c)
{
    if (c->cir > SHIM_MAX_RATE || c->pir > SHIM_MAX_RATE)
        return "rate above 10 TB/s";
    if (c->cir && c->pir && c->pir < c->cir)
        return "peak rate below the committed rate";
    if (c->cir && c->cbs < SHIM_MIN_BURST)
        return "committed burst below " STR(SHIM_MIN_BURST) " bytes";
    if (c->pir && c->pbs < SHIM_MIN_BURST)
        return "peak burst below " STR(SHIM_MIN_BURST) " bytes";
    if ((c->cir && c->cbs > SHIM_MAX_BURST) || (c->pir && c->pbs > SHIM_MAX_BURST))
        return "burst above 4 GiB";
    if (!c->cir && c->pir && !c->wc)
        return "a peak rate without a committed rate needs wc (nothing would pass)";
    return NULL;
}

/* The committed bucket: unlimited (no rate at all), none (cir 0 under a peak
 * rate: everything yellow) or a real bucket. */
static bool c_unlimited(const struct shim_cfg *c) { return !c->cir && !c->pir; }
static bool c_none(const struct shim_cfg *c) { return !c->cir && c->pir; }

/* Refills both buckets up to t at the rates in force. */
static void refill_to(struct shim *s, u64 t)
{
    if (t <= s->last)
        return;
    u64 dt = t - s->last;
    if (s->cfg.cir)
        s->tc = fill(s->tc, scaled(s->cfg.cbs), shim_cir_now(s), dt);
    if (s->cfg.pir)
        s->tp = fill(s->tp, scaled(s->cfg.pbs), shim_pir_now(s), dt);
    s->last = t;
}

/* Applies the additive recovery steps due by steps_until, refilling the
 * buckets at the rate in force during each step, then refills up to now. */
static void update_until(struct shim *s, u64 now, u64 steps_until)
{
    /* At most (PPM_ONE - SHIM_MIN_PPM) / SHIM_AI_PPM + 1 steps. */
    while (s->factor_ppm < PPM_ONE && steps_until > s->last_step && steps_until - s->last_step >= SHIM_FEEDBACK_NS) {
        u64 t = s->last_step + SHIM_FEEDBACK_NS;
        refill_to(s, t);
        s->factor_ppm = MIN(s->factor_ppm + SHIM_AI_PPM, PPM_ONE);
        s->last_step = t;
        s->stats.recoveries++;
    }
    refill_to(s, now);
}

static void update(struct shim *s, u64 now) { update_until(s, now, now); }

void shim_init(struct shim *s, struct shim_link *link, const struct shim_cfg *cfg, u64 now)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->link = link;
    s->tc = s->cfg.cir ? scaled(s->cfg.cbs) : 0;
    s->tp = s->cfg.pir ? scaled(s->cfg.pbs) : 0;
    s->last = s->last_cut = s->last_step = now;
    s->factor_ppm = PPM_ONE;
    s->black = true;
}

int shim_set(struct shim *s, const struct shim_cfg *cfg, u64 now)
{
    if (shim_cfg_check(cfg))
        return -EINVAL;
    shim_settle(s);
    update(s, now); /* the time so far at the old rates */
    if (!s->black)
        link_commit(s->link, now, cfg->cir, s->cfg.cir);
    /* An unlimited bucket held every token: it starts full under a limit. */
    u64 tc = s->cfg.cir ? s->tc : UINT64_MAX;
    u64 tp = s->cfg.pir ? s->tp : UINT64_MAX;
    s->cfg = *cfg;
    s->tc = cfg->cir ? MIN(tc, scaled(cfg->cbs)) : 0;
    s->tp = cfg->pir ? MIN(tp, scaled(cfg->pbs)) : 0;
    return 0;
}

/* ---------------------------------------------------------------- the data path */

static enum shim_verdict hold(struct shim *s, u32 bytes, u64 retry, u64 now, enum shim_colour *colour, u64 *retry_ns)
{
    if (!s->holding) {
        s->holding = true;
        s->stats.frames[SHIM_RED]++;
        s->stats.bytes[SHIM_RED] += bytes;
    }
    s->stats.held++;
    *colour = SHIM_RED;
    *retry_ns = MAX(retry, now + 1); /* never now: the caller would spin */
    return SHIM_HOLD;
}

void shim_settle(struct shim *s)
{
    if (!s->grant_frames) {
        s->grant = 0;
        return;
    }
    /* The grant never covered more than both limited buckets held
     * (grant_open), so neither goes below zero; each frame was no longer than
     * a burst, so it is charged in full (need_c = need_p = need). */
    u64 used = scaled(s->grant_bytes);
    if (s->cfg.cir)
        s->tc -= used;
    if (s->cfg.pir)
        s->tp -= used;
    s->stats.frames[SHIM_GREEN] += s->grant_frames;
    s->stats.bytes[SHIM_GREEN] += s->grant_bytes;
    s->grant = s->grant_frames = s->grant_bytes = 0;
}

/* After a green pass: how many more bytes pass green at this instant, the
 * tokens of both buckets, charged when the pass settles. One division per
 * grant. No committed bucket under a peak rate (c_none): nothing is green. */
static void grant_open(struct shim *s)
{
    const struct shim_cfg *c = &s->cfg;
    if (c_unlimited(c))
        s->grant = UINT64_MAX;
    else if (!c_none(c))
        s->grant = (c->pir ? MIN(s->tc, s->tp) : s->tc) / SHIM_NS_PER_S;
}

static enum shim_verdict pass(struct shim *s, u32 bytes, enum shim_colour c, enum shim_colour *colour)
{
    s->holding = false;
    s->stats.frames[c]++;
    s->stats.bytes[c] += bytes;
    *colour = c;
    return SHIM_PASS;
}

enum shim_verdict shim_admit(struct shim *s, u64 now, u32 bytes, bool rx_idle, enum shim_colour *colour, u64 *retry_ns)
{
    const struct shim_cfg *c = &s->cfg;

    shim_settle(s);
    if (s->black) {
        s->black = false;
        link_commit(s->link, now, c->cir, 0);
    }
    update(s, now);

    u64 need = scaled(bytes);
    u64 need_c = c->cir ? MIN(need, scaled(c->cbs)) : 0;
    u64 need_p = c->pir ? MIN(need, scaled(c->pbs)) : 0;
    bool peak_ok = !c->pir || s->tp >= need_p;
    bool green_ok = c_unlimited(c) || (c->cir && s->tc >= need_c);

    if (peak_ok && green_ok) {
        if (c->cir)
            s->tc -= need_c;
        if (c->pir)
            s->tp -= need_p;
        grant_open(s);
        return pass(s, bytes, SHIM_GREEN, colour);
    }

    /* When it could pass green, and when yellow. */
    u64 t_p = c->pir ? when(s->tp, need_p, shim_pir_now(s), now) : now;
    u64 t_green = c_none(c) ? NEVER : MAX(t_p, when(s->tc, need_c, shim_cir_now(s), now));
    u64 t_yellow = NEVER;

    if (c->wc) {
        struct shim_link *l = s->link;
        u64 t_pool = NEVER;
        if (l) {
            spin_lock(&l->lock);
            pool_refill(l, now);
            u64 need_l = MIN(need, l->pool_max);
            if (peak_ok && rx_idle && (!l->capacity || l->pool >= need_l)) {
                if (l->capacity)
                    l->pool -= need_l;
                spin_unlock(&l->lock);
                if (c->pir)
                    s->tp -= need_p;
                return pass(s, bytes, SHIM_YELLOW, colour);
            }
            t_pool = !l->capacity ? now : when(l->pool, need_l, pool_rate(l), now);
            spin_unlock(&l->lock);
        }
        if (t_pool == NEVER || !rx_idle) /* capacity or room comes back at an unknown time */
            t_pool = MAX(t_pool == NEVER ? now : t_pool, now + SHIM_FEEDBACK_NS);
        t_yellow = MAX(t_p, t_pool);
    }

    u64 retry = MIN(t_green, t_yellow);
    if (retry == NEVER) /* only a configuration shim_cfg_check refuses */
        retry = now + SHIM_FEEDBACK_NS;
    return hold(s, bytes, retry, now, colour, retry_ns);
}

void shim_idle(struct shim *s, u64 now)
{
    shim_settle(s);
    s->holding = false;
    if (s->black)
        return;
    update(s, now);
    s->black = true;
    s->stats.frames[SHIM_BLACK]++;
    link_commit(s->link, now, 0, s->cfg.cir);
}

void shim_congestion(struct shim *s, u64 now)
{
    shim_settle(s); /* the cut applies to tokens to come, not to those taken */
    /* The time so far at the rates before the cut; a recovery step due right
     * now is not one: this instant was not free of congestion. */
    update_until(s, now, now ? now - 1 : 0);
    /* Full rates mean no cut within the last SHIM_FEEDBACK_NS (recovery from
     * any cut takes longer than that). */
    if (s->factor_ppm == PPM_ONE || (now >= s->last_cut && now - s->last_cut >= SHIM_FEEDBACK_NS)) {
        u64 f = MAX((u64)s->factor_ppm * SHIM_MD_NUM / SHIM_MD_DEN, (u64)SHIM_MIN_PPM);
        s->last_cut = now;
        if (f < s->factor_ppm) { /* at the floor already: nothing to cut */
            s->factor_ppm = (u32)f;
            s->stats.cuts++;
        }
    }
    s->last_step = now; /* recovery needs SHIM_FEEDBACK_NS without congestion */
}

const char *shim_colour_name(enum shim_colour c)
{
    static const char *const names[SHIM_COLOURS] = {
        [SHIM_GREEN] = "green",
        [SHIM_YELLOW] = "yellow",
        [SHIM_RED] = "red",
        [SHIM_BLACK] = "black",
    };
    return (unsigned)c < SHIM_COLOURS ? names[c] : "?";
}
