/* Tagged, levelled logging with TSC timestamps into a ring the shell can show.
 * log_msg() is safe from any CPU; messages at or below the console level are
 * also printed on the serial console. */
#ifndef ISTHMUS_KERNEL_LOG_H
#define ISTHMUS_KERNEL_LOG_H

#include "kernel/lib/types.h"

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_msg(enum log_level lvl, const char *tag, const char *fmt, ...) __printf(3, 4);
void log_vmsg(enum log_level lvl, const char *tag, const char *fmt, va_list ap);
const char *log_level_name(enum log_level lvl);
/* Parses "error", "warn", "info" or "debug"; returns -EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *out) __must_check;

void log_set_console_level(enum log_level lvl);
enum log_level log_get_console_level(void);
/* Prints the ring, oldest first: records up to max_level, only the last `last` if non-zero. */
void log_dump(enum log_level max_level, u32 last);
u64 log_records_written(void);

#define log_err(tag, ...)   log_msg(LOG_ERROR, tag, __VA_ARGS__)
#define log_warn(tag, ...)  log_msg(LOG_WARN, tag, __VA_ARGS__)
#define log_info(tag, ...)  log_msg(LOG_INFO, tag, __VA_ARGS__)
#define log_debug(tag, ...) log_msg(LOG_DEBUG, tag, __VA_ARGS__)

#endif
