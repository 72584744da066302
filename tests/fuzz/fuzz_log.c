/* log_msg() for the fuzz targets: every message is formatted with the
 * hypervisor's own printf (so a bad argument for a format is caught there, under
 * ASan and UBSan, as it would misbehave at boot) and then dropped. */
#include "kernel/core/log.h"
#include "kernel/lib/printf.h"
#include "tests/fuzz/fuzz.h"

void log_vmsg(enum log_level lvl, const char *tag, const char *fmt, va_list ap)
{
    char line[256];
    CHECK((unsigned)lvl <= LOG_DEBUG && tag && tag[0]);
    int n = kvsnprintf(line, sizeof(line), fmt, ap);
    CHECK(n >= 0 && fz_terminated(line, sizeof(line)));
}

void log_msg(enum log_level lvl, const char *tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lvl, tag, fmt, ap);
    va_end(ap);
}
