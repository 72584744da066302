/* Names of the log levels, shared by the log, the shell and the configuration parser.
 * Arch-neutral so the host tools and tests link the same code. */
#include "kernel/core/log.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

static const char *const level_names[] = {
    [LOG_ERROR] = "error",
    [LOG_WARN] = "warn",
    [LOG_INFO] = "info",
    [LOG_DEBUG] = "debug",
};

const char *log_level_name(enum log_level lvl)
{
    return (unsigned)lvl < ARRAY_SIZE(level_names) ? level_names[lvl] : "?";
}

int log_level_parse(const char *s, enum log_level *out)
{
    if (!s || !out)
        return -EINVAL;
    for (unsigned i = 0; i < ARRAY_SIZE(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}
