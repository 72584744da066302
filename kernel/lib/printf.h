/* Freestanding formatted output (no floating point). Supports %d %i %u %x %X %o %p
 * %s %c %%, flags '-' '0' ' ' '+' '#', width and precision (also '*'), and the
 * length modifiers hh h l ll z t j. Always NUL-terminates when size > 0 and
 * returns the length the full output would have had, like C99 vsnprintf. */
#ifndef ISTHMUS_KERNEL_PRINTF_H
#define ISTHMUS_KERNEL_PRINTF_H

#include "kernel/lib/types.h"

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
/* For functions that report an error code and a message: formats the message into
 * err (when err and errlen are non-zero) and returns rc. */
int kerr_fmt(char *err, size_t errlen, int rc, const char *fmt, ...) __printf(4, 5);

#endif
