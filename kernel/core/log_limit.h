/* Rate limits for the log lines a guest can cause. A guest that repeats what
 * the hypervisor warns about (a BAR over its RAM, a corrupt ring, a port that
 * goes nowhere) must not be able to fill the serial console: on a 115200-baud
 * line a few thousand lines a minute leave the operator no room to type.
 *
 * Each (partition, reason) pair has its own token bucket: LOG_LIMIT_BURST
 * lines at once, then one more every 60 / LOG_LIMIT_PER_MIN seconds; lines
 * over that are suppressed (neither printed nor put in the log ring) and
 * counted. The next line of the pair that gets through ends in
 * "(N similar lines suppressed)", and `log limits` in the shell shows the
 * counts, so nothing is lost but the repetition. A partition's buckets and
 * counts live as long as the hypervisor: a guest that restarts (or resets
 * its device) starts with whatever it had left, never a fresh burst.
 *
 * Lines a guest cannot cause (boot, configuration, operator actions) do not
 * go through here. Arch-neutral: log_limit_pass() takes the time, so host
 * tests drive it on a simulated clock; log_limited() reads time_now_us(). */
#ifndef ISTHMUS_KERNEL_LOG_LIMIT_H
#define ISTHMUS_KERNEL_LOG_LIMIT_H

#include "kernel/lib/types.h"
#include "kernel/core/config.h"
#include "kernel/core/log.h"

#define LOG_LIMIT_BURST   5  /* lines a pair may print at once */
#define LOG_LIMIT_PER_MIN 10 /* then at most this many a minute */
/* The key of lines that name no partition; ids past the table count here. */
#define LOG_LIMIT_HOST    CONFIG_MAX_PARTITIONS
#define LOG_LIMIT_KEYS    (CONFIG_MAX_PARTITIONS + 1)

/* Why a line is printed: one bucket per partition and reason. The names are
 * what `log limits` shows (docs/architecture.md, "Logging", lists them). */
enum log_reason {
    LOGR_PORT,      /* "port": a port access nothing claims (vmm/exits.c) */
    LOGR_MSR,       /* "msr": an MSR access refused with #GP (vmm/exits.c) */
    LOGR_IPI,       /* "ipi": an IPI to an APIC ID outside the partition (vmm/ipi.c) */
    LOGR_PCI_WRITE, /* "pci-write": a config write dropped (vmm/dev/vpci.c) */
    LOGR_BAR,       /* "bar": a BAR placement or decode enable refused (vpci.c) */
    LOGR_BAR_MAP,   /* "bar-map": a BAR the second-level tables could not (un)map */
    LOGR_MSI,       /* "msi": an MSI that names no vCPU of the partition (vpci.c) */
    LOGR_NIC_RESET, /* "nic-reset": a corrupt ring set DEVICE_NEEDS_RESET (net/) */
    LOGR_NIC_STALL, /* "nic-stall": a receiver without buffers held its senders (net/) */
    LOGR_HEARTBEAT, /* "heartbeat": late / beats again, and a standby's group flapping (vmm/ha/hb.c) */
    LOGR_DMA,       /* "dma": a DMA remapping fault of a device (vmm/dma.c) */
    LOGR_COUNT
};

/* One bucket: a credit of time (ns) of which each line spends the period. */
struct log_bucket {
    u64 last;   /* ns: when the credit was last topped up */
    u64 credit; /* ns: at most burst * period */
    bool primed;
};

struct log_bucket_cfg {
    u32 burst;
    u64 period_ns; /* one line's worth of credit */
};

/* The defaults above as a bucket configuration. */
extern const struct log_bucket_cfg log_limit_default;

/* Whether a line may go at now (ns): takes one line's credit when it may.
 * The clock is read modulo 2^64 (a wrap is a short step forward); a clock
 * that steps back (another CPU's TSC a little behind) gives no credit. */
bool log_bucket_take(struct log_bucket *b, const struct log_bucket_cfg *c, u64 now);

/* What the operator sees of one (partition, reason) pair. */
struct log_limit_info {
    u64 printed;    /* lines that got through */
    u64 suppressed; /* lines suppressed in all */
    u64 pending;    /* of those, since the last printed line (its "(N ... suppressed)" is still to come) */
};

/* Decides about one line of (key, why) at now (ns): true when it may be
 * printed, with *suppressed = the lines of the pair suppressed since the last
 * printed one (then counted as reported). A key past LOG_LIMIT_HOST counts as
 * the host's. Safe from any CPU and from interrupt handlers: a bucket busy on
 * another CPU is a flood already, so the line is suppressed, never waited for. */
bool log_limit_pass(u32 key, enum log_reason why, u64 now, u64 *suppressed);
/* log_msg() through the limit of (key, why), at time_now_us(); a line that
 * follows suppressed ones ends in " (N similar lines suppressed)". */
void log_limited(u32 key, enum log_reason why, enum log_level lvl, const char *tag, const char *fmt, ...)
    __printf(5, 6);
/* The suffix log_limited() appends, for callers that print through their own
 * log function (the heartbeat master): "" when suppressed is 0. */
void log_limit_suffix(u64 suppressed, char *buf, size_t len);

/* The counts of (key, why): a snapshot read without locks. */
void log_limit_get(u32 key, enum log_reason why, struct log_limit_info *out);
const char *log_reason_name(enum log_reason why);
/* Every bucket and count back to nothing (host tests). */
void log_limit_reset(void);

#endif
