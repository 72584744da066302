/* A self-test of virtualization on this machine (the shell's `vmtest`). */
#ifndef ISTHMUS_VMM_SELFTEST_H
#define ISTHMUS_VMM_SELFTEST_H

#include "kernel/lib/types.h"

/* Runs a 26-byte guest through the vCPU backend on this CPU and checks its
 * five exits, printing one line per exit and a PASS / FAIL summary. 0 when
 * every exit was as expected; -EIO when one was not; -ENODEV without a
 * backend, -ENOTSUP without nested paging, or the error that stopped it (each
 * already printed). */
int vmtest_run(void);

#endif
