/* 16550 register interface (PC16550D data sheet). */
#include "drivers/uart16550.h"
#include "arch/x86/hw/cpu.h"
#include "kernel/lib/errno.h"

enum {
    UART_RBR_THR = 0, /* DLAB=0: receive buffer / transmit holding */
    UART_IER = 1,
    UART_DLL = 0, /* DLAB=1: divisor latch */
    UART_DLM = 1,
    UART_FCR = 2,
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_SCR = 7,
};
#define LCR_8N1             0x03
#define LCR_DLAB            0x80
#define FCR_ENABLE_CLEAR_14 0xc7 /* FIFOs on, both cleared, RX trigger at 14 bytes */
#define MCR_DTR_RTS_OUT2    0x0b
#define LSR_DATA_READY      0x01
#define LSR_THR_EMPTY       0x20
#define UART_CLOCK_DIV      115200 /* 1.8432 MHz / 16 */

int uart_init(u16 port, u32 baud)
{
    if (baud == 0 || baud > UART_CLOCK_DIV || UART_CLOCK_DIV % baud)
        return -EINVAL;
    /* A missing UART reads back 0xff; the scratch register tells for sure. */
    outb(port + UART_SCR, 0x5a);
    if (inb(port + UART_SCR) != 0x5a)
        return -ENODEV;
    u16 div = (u16)(UART_CLOCK_DIV / baud);
    outb(port + UART_IER, 0);
    outb(port + UART_LCR, LCR_DLAB);
    outb(port + UART_DLL, div & 0xff);
    outb(port + UART_DLM, div >> 8);
    outb(port + UART_LCR, LCR_8N1);
    outb(port + UART_FCR, FCR_ENABLE_CLEAR_14);
    outb(port + UART_MCR, MCR_DTR_RTS_OUT2);
    return 0;
}

void uart_putc(u16 port, char c)
{
    /* Bounded wait: a wedged or absent UART must not hang the hypervisor. At
     * 9600 baud one character takes ~1 ms; this allows for far more. */
    for (u32 spin = 0; spin < 1000000; spin++) {
        if (inb(port + UART_LSR) & LSR_THR_EMPTY)
            break;
        cpu_relax();
    }
    outb(port + UART_RBR_THR, (u8)c);
}

int uart_getc(u16 port)
{
    if (!(inb(port + UART_LSR) & LSR_DATA_READY))
        return -1;
    return inb(port + UART_RBR_THR);
}

const struct con_port_ops uart16550_con_ops = {
    .init = uart_init,
    .putc = uart_putc,
    .getc = uart_getc,
};
