/* Console output used by the shell and by log_msg(). In the hypervisor it goes to
 * the serial UART; unit tests link a stub that captures it. */
#ifndef ISTHMUS_KERNEL_CONSOLE_H
#define ISTHMUS_KERNEL_CONSOLE_H

#include "kernel/types.h"

void con_write(const char *s, size_t n);
int con_printf(const char *fmt, ...) __printf(1, 2);

#endif
