/* Rate limits for guest-caused log lines: see log_limit.h. A token bucket
 * kept as time credit (GCRA): a line costs one period, the credit grows with
 * the time that passes and is capped at burst periods, so a pair may print
 * `burst` lines at once and then one per period. */
#include "kernel/core/log_limit.h"
#include "kernel/core/time.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/spinlock.h"
#include "kernel/lib/string.h"

#define NS_PER_MIN (60ULL * 1000 * 1000 * 1000)

const struct log_bucket_cfg log_limit_default = { LOG_LIMIT_BURST, NS_PER_MIN / LOG_LIMIT_PER_MIN };

struct log_pair {
    spinlock_t lock; /* the bucket; taken with trylock only */
    struct log_bucket bucket;
    /* Atomics: a busy bucket counts without its lock. */
    u64 printed, suppressed, pending;
};

static struct log_pair pairs[LOG_LIMIT_KEYS][LOGR_COUNT];

static const char *const reason_names[LOGR_COUNT] = {
    [LOGR_PORT] = "port",
    [LOGR_MSR] = "msr",
    [LOGR_IPI] = "ipi",
    [LOGR_PCI_WRITE] = "pci-write",
    [LOGR_BAR] = "bar",
    [LOGR_BAR_MAP] = "bar-map",
    [LOGR_MSI] = "msi",
    [LOGR_DMA] = "dma",
    [LOGR_NIC_RESET] = "nic-reset",
    [LOGR_NIC_STALL] = "nic-stall",
    [LOGR_HEARTBEAT] = "heartbeat",
};

bool log_bucket_take(struct log_bucket *b, const struct log_bucket_cfg *c, u64 now)
{
    u64 cap = (u64)c->burst * c->period_ns;
    if (!b->primed) {
        b->primed = true;
        b->last = now;
        b->credit = cap;
    }
    /* Modulo 2^64: across a wrap the difference is still the time passed; a
     * "negative" one is a clock behind the last reading, which gives nothing
     * and must not move `last` back (the same time would be credited twice). */
    u64 dt = now - b->last;
    if ((s64)dt > 0) {
        b->last = now;
        b->credit = cap - b->credit <= dt ? cap : b->credit + dt;
    }
    if (b->credit < c->period_ns)
        return false;
    b->credit -= c->period_ns;
    return true;
}

static struct log_pair *pair_of(u32 key, enum log_reason why)
{
    if (key >= LOG_LIMIT_KEYS)
        key = LOG_LIMIT_HOST;
    if ((u32)why >= LOGR_COUNT)
        why = (enum log_reason)0;
    return &pairs[key][why];
}

bool log_limit_pass(u32 key, enum log_reason why, u64 now, u64 *suppressed)
{
    struct log_pair *pr = pair_of(key, why);
    bool pass = false;
    if (spin_trylock(&pr->lock)) {
        pass = log_bucket_take(&pr->bucket, &log_limit_default, now);
        spin_unlock(&pr->lock);
    }
    if (!pass) {
        __atomic_fetch_add(&pr->suppressed, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&pr->pending, 1, __ATOMIC_RELAXED);
        return false;
    }
    __atomic_fetch_add(&pr->printed, 1, __ATOMIC_RELAXED);
    *suppressed = __atomic_exchange_n(&pr->pending, 0, __ATOMIC_RELAXED);
    return true;
}

void log_limit_suffix(u64 suppressed, char *buf, size_t len)
{
    if (!len)
        return;
    buf[0] = '\0';
    if (suppressed)
        ksnprintf(buf, len, " (%llu similar line%s suppressed)", (unsigned long long)suppressed,
                  suppressed == 1 ? "" : "s");
}

/* As long as the log keeps a record's text (kernel/core/log.c). */
#define LIMITED_LINE_MAX 256

void log_limited(u32 key, enum log_reason why, enum log_level lvl, const char *tag, const char *fmt, ...)
{
    u64 suppressed;
    if (!log_limit_pass(key, why, time_now_us() * 1000, &suppressed))
        return;
    char suffix[48], line[LIMITED_LINE_MAX];
    log_limit_suffix(suppressed, suffix, sizeof(suffix));
    /* The count must survive a long message: the message gives way. */
    size_t room = sizeof(line) - strlen(suffix);
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(line, room, fmt, ap);
    va_end(ap);
    if (n >= (int)room)
        kstrlcpy(line + room - 4, "...", 4);
    log_msg(lvl, tag, "%s%s", line, suffix);
}

void log_limit_get(u32 key, enum log_reason why, struct log_limit_info *out)
{
    const struct log_pair *pr = pair_of(key, why);
    out->printed = __atomic_load_n(&pr->printed, __ATOMIC_RELAXED);
    out->suppressed = __atomic_load_n(&pr->suppressed, __ATOMIC_RELAXED);
    out->pending = __atomic_load_n(&pr->pending, __ATOMIC_RELAXED);
}

const char *log_reason_name(enum log_reason why)
{
    return (u32)why < LOGR_COUNT && reason_names[why] ? reason_names[why] : "?";
}

void log_limit_reset(void) { memset(pairs, 0, sizeof(pairs)); }
