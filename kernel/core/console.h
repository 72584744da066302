/* Console output used by the shell and by log_msg(). In the hypervisor it goes to
 * a serial port through struct con_port_ops; unit tests link a stub that
 * captures it. */
#ifndef ISTHMUS_KERNEL_CONSOLE_H
#define ISTHMUS_KERNEL_CONSOLE_H

#include "kernel/lib/types.h"

void con_write(const char *s, size_t n);
int con_printf(const char *fmt, ...) __printf(1, 2);

/* For the shell's line editor: writes echo (n bytes) and, in the same breath,
 * records redraw (rn bytes: the prompt and the text typed so far, drawn from
 * column 0), or that no line is being edited (rn 0). Longer than
 * CON_INPUT_MAX bytes counts as none. */
#define CON_INPUT_MAX 640
void con_input(const char *echo, size_t n, const char *redraw, size_t rn);
/* Writes whole lines (ending in '\n') above the line being edited, which is
 * then drawn again; the log's console output goes this way. */
void con_write_above(const char *s, size_t n);

/* The serial port under the console, provided by a driver (drivers/uart16550.c)
 * and installed by the boot sequence, so the core names no driver. A port is
 * what the configuration calls console_port (an I/O port for a 16550). */
struct con_port_ops {
    /* Programs the port for baud, 8N1; negative when nothing answers there. */
    int (*init)(u16 port, u32 baud);
    /* Sends one byte; must not wait unboundedly on a wedged port. */
    void (*putc)(u16 port, char c);
    /* Returns the next received byte, or -1 when none is waiting. */
    int (*getc)(u16 port);
};

/* Installs the port driver. Until then the console is silent; until con_init()
 * it writes to port 0x3f8 as the firmware left it programmed. */
void con_set_port_ops(const struct con_port_ops *ops);
/* Selects the port (0 = no console) once the configuration is known. */
void con_init(u16 port, u32 baud);
u16 con_port(void);
/* Returns the next input byte or -1. */
int con_getc(void);
/* For exception handlers: take the console lock if it frees up soon, else
 * print anyway (a garbled line beats a silent hang). */
void con_emergency_begin(void);
void con_emergency_end(void);
#endif
