/* Host stand-ins for the hypervisor services that arch-neutral code calls
 * (console and log). Tests read what was written through these buffers. */
#ifndef ISTHMUS_TESTS_STUBS_H
#define ISTHMUS_TESTS_STUBS_H

#include <stddef.h>

extern char test_con_buf[65536];
extern size_t test_con_len;
extern char test_log_buf[65536];
extern size_t test_log_len;
extern int test_log_count[4]; /* messages per enum log_level */
/* What time_now_us() returns: tests move it (test_stubs_reset sets 0). */
extern unsigned long long test_now_us;

void test_stubs_reset(void);

#endif
