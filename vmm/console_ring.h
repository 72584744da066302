/* A partition's console output: a byte ring the virtual UART writes and the
 * shell reads (`console NAME`). Oldest bytes are overwritten; a reader that
 * fell behind is told how much it missed. One writer (the vCPU's CPU), one
 * reader (the shell); the caller serialises if there are more. */
#ifndef ISTHMUS_VMM_CONSOLE_RING_H
#define ISTHMUS_VMM_CONSOLE_RING_H

#include "kernel/lib/types.h"

#define CONSOLE_RING_SIZE 16384u /* a power of two */

struct console_ring {
    u8 buf[CONSOLE_RING_SIZE];
    volatile u64 written; /* bytes ever written */
};

void console_ring_init(struct console_ring *r);
void console_ring_put(struct console_ring *r, const u8 *p, size_t n);
/* Copies bytes from *cursor (an absolute position) into out, advances *cursor
 * and returns the count; *lost gets how many bytes were overwritten before they
 * could be read (the cursor then jumps to the oldest byte still held). */
size_t console_ring_read(const struct console_ring *r, u64 *cursor, u8 *out, size_t cap, u64 *lost);

#endif
