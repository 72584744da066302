/* 16550 UART, polled (no interrupts): the hypervisor's serial console. */
#ifndef ISTHMUS_DRIVERS_UART16550_H
#define ISTHMUS_DRIVERS_UART16550_H

#include "kernel/lib/types.h"
#include "kernel/core/console.h"

/* Programs 8N1 at baud on the UART at port; returns -ENODEV when nothing answers there. */
int uart_init(u16 port, u32 baud) __must_check;
void uart_putc(u16 port, char c);
/* Returns the next received byte, or -1 when none is waiting. */
int uart_getc(u16 port);

/* The three above as the console's port driver (con_set_port_ops). */
extern const struct con_port_ops uart16550_con_ops;

#endif
