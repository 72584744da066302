/* See stubs.h. log_msg() appends "LEVEL tag: message\n" to test_log_buf. */
#include <stdio.h>
#include <stdarg.h>
#include <string.h>
#include <stdlib.h>
#include "kernel/core/log.h"
#include "kernel/core/console.h"
#include "kernel/core/time.h"
#include "tests/unit/stubs.h"

char test_con_buf[65536];
size_t test_con_len;
char test_log_buf[65536];
size_t test_log_len;
int test_log_count[4];
unsigned long long test_now_us;

u64 time_now_us(void) { return test_now_us; }

void test_stubs_reset(void)
{
    test_con_len = test_log_len = 0;
    test_con_buf[0] = test_log_buf[0] = '\0';
    memset(test_log_count, 0, sizeof(test_log_count));
    test_now_us = 0;
}

void con_write(const char *s, size_t n)
{
    size_t room = sizeof(test_con_buf) - 1 - test_con_len;
    if (n > room)
        n = room;
    memcpy(test_con_buf + test_con_len, s, n);
    test_con_len += n;
    test_con_buf[test_con_len] = '\0';
}

int con_printf(const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    con_write(tmp, n < (int)sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
    return n;
}

static const char *const names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void log_vmsg(enum log_level lvl, const char *tag, const char *fmt, va_list ap)
{
    if ((unsigned)lvl < 4)
        test_log_count[lvl]++;
    size_t room = sizeof(test_log_buf) - test_log_len;
    int n = snprintf(test_log_buf + test_log_len, room, "%s %s: ", (unsigned)lvl < 4 ? names[lvl] : "?", tag);
    if (n > 0 && (size_t)n < room)
        test_log_len += n;
    room = sizeof(test_log_buf) - test_log_len;
    n = vsnprintf(test_log_buf + test_log_len, room, fmt, ap);
    if (n > 0 && (size_t)n < room)
        test_log_len += n;
    if (test_log_len + 2 < sizeof(test_log_buf)) {
        test_log_buf[test_log_len++] = '\n';
        test_log_buf[test_log_len] = '\0';
    }
    if (getenv("TEST_VERBOSE"))
        fprintf(stderr, "%s", test_log_buf);
}

void log_msg(enum log_level lvl, const char *tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lvl, tag, fmt, ap);
    va_end(ap);
}
