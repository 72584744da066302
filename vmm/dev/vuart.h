/* The virtual 16550 every partition has at I/O ports 0x3F8-0x3FF. Output goes
 * into the partition's console ring; there is no input yet (reads of the
 * receive buffer give 0 and LSR never reports data). Registers behave enough
 * like a 16550 that Linux's 8250 driver and simple polling guests work. */
#ifndef ISTHMUS_VMM_VUART_H
#define ISTHMUS_VMM_VUART_H

#include "kernel/lib/types.h"
#include "vmm/console_ring.h"

#define VUART_BASE  0x3f8
#define VUART_PORTS 8

struct vuart {
    u8 ier, lcr, mcr, scr, dll, dlm, fcr;
    struct console_ring *out;
    u64 bytes_out;
};

void vuart_init(struct vuart *u, struct console_ring *out);
bool vuart_owns(u16 port);
/* Emulates one access; size other than 1 uses the low byte (as a 16550 on an
 * 8-bit bus would). Returns the value for reads. */
u32 vuart_access(struct vuart *u, u16 port, u8 size, bool in, u32 value);

#endif
