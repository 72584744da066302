/* The virtual 16550A every partition has at I/O ports 0x3F8-0x3FF (PC16550D
 * data sheet). Output goes into the partition's console ring at once (the
 * transmitter is never busy). Input comes from the console (`console NAME`)
 * through vuart_rx_put() into a 16-byte receive FIFO. Its interrupt output
 * (vuart_irq) follows IIR: receive data (at the FIFO trigger level, and the
 * character timeout below it, which the model reports at once), transmitter
 * empty (when IER.ETBEI is set, until IIR is read or THR written), gated by
 * MCR.OUT2 as on a PC; the owner drives IRQ 4 of the I/O APIC with it.
 *
 * Not thread-safe: the owner locks. Every value from the guest is untrusted;
 * no access can make the model misbehave. */
#ifndef ISTHMUS_VMM_VUART_H
#define ISTHMUS_VMM_VUART_H

#include "arch/x86/hw/pc.h"
#include "kernel/lib/types.h"
#include "vmm/console_ring.h"

#define VUART_BASE  PC_COM1_PORT
#define VUART_PORTS PC_UART_PORTS
#define VUART_FIFO  16

struct vuart {
    u8 ier, lcr, mcr, scr, dll, dlm, fcr;
    bool thre_int; /* the transmitter-empty interrupt is pending */
    u8 rx[VUART_FIFO];
    u8 rx_head, rx_count; /* oldest byte, bytes held */
    struct console_ring *out;
    u64 bytes_out, bytes_in;
    u64 overruns; /* bytes that found the receive FIFO full (loopback: lost) */
};

void vuart_init(struct vuart *u, struct console_ring *out);
bool vuart_owns(u16 port);
/* Emulates one access; size other than 1 uses the low byte (as a 16550 on an
 * 8-bit bus would). Returns the value for reads. */
u32 vuart_access(struct vuart *u, u16 port, u8 size, bool in, u32 value);
/* A received byte into the FIFO: 0, or -ENOSPC (counted in overruns) when
 * the FIFO (one byte with the FIFOs off, as on a 16450) is full; the caller
 * keeps the byte. */
int vuart_rx_put(struct vuart *u, u8 byte) __must_check;
bool vuart_rx_room(const struct vuart *u);
/* The interrupt output: an interrupt is pending (IIR bit 0 clear) and OUT2,
 * which gates it onto the PC's IRQ line, is set. */
bool vuart_irq(const struct vuart *u);

#endif
