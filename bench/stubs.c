/* See stubs.h. The hypervisor's log (kernel/core/log.c) keeps a ring for the
 * shell; here every message goes to stderr, and is counted. */
#include <stdio.h>
#include "kernel/core/log.h"
#include "kernel/core/log_limit.h"
#include "bench/stubs.h"

unsigned bench_log_count;

void log_vmsg(enum log_level lvl, const char *tag, const char *fmt, va_list ap)
{
    static const char *const names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
    __atomic_fetch_add(&bench_log_count, 1, __ATOMIC_RELAXED);
    fprintf(stderr, "%s %s: ", (unsigned)lvl < 4 ? names[lvl] : "?", tag);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void log_msg(enum log_level lvl, const char *tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lvl, tag, fmt, ap);
    va_end(ap);
}

/* No limits here: a benchmark that logs at all is reported as such. */
void log_limited(u32 key, enum log_reason why, enum log_level lvl, const char *tag, const char *fmt, ...)
{
    (void)key;
    (void)why;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lvl, tag, fmt, ap);
    va_end(ap);
}
