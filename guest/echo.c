/* The echo scenario: COM1 by interrupt, as a serial driver uses it. Its IRQ 4
 * is routed through the I/O APIC the MADT lists (with ISA IRQ 4's interrupt
 * source override, if any, for its GSI, trigger mode and polarity); the
 * receiver interrupts at the FIFO trigger level and on the character timeout;
 * each line (ended by CR or LF) is sent back in upper case from the
 * transmitter-empty interrupt, as Linux's 8250 driver sends. Only the
 * interrupt handler touches the receiver: nothing polls it. */
#include "guest/tg.h"
#include "guest/x86.h"

#define COM1      0x3f8
#define UART_DATA 0  /* RBR / THR */
#define UART_IER  1
#define UART_IIR  2  /* read: IIR; write: FCR */
#define UART_LCR  3
#define UART_MCR  4
#define UART_LSR  5
#define UART_MSR  6
#define IER_RX    0x01
#define IER_TX    0x02
#define FCR_ON_TRIGGER_8 0x87 /* FIFOs on, both cleared, receive trigger 8 bytes (Linux's) */
#define MCR_DTR_RTS_OUT2 0x0b /* OUT2 gates the interrupt onto IRQ 4 */
#define IIR_NONE  0x01
#define IIR_ID    0x0e
#define IIR_THRE  0x02
#define IIR_RDA   0x04
#define IIR_TIMEOUT 0x0c
#define LSR_DR    0x01

/* I/O APIC (82093AA): index and window; redirection entry n at 0x10 + 2n. */
#define IOREGSEL  0x00
#define IOWIN     0x10
#define RTE_LEVEL 0x8000u
#define RTE_LOW   0x2000u
#define INTI_POLARITY_LOW  0x3u /* MPS INTI flags */
#define INTI_TRIGGER_LEVEL 0xcu

#define LINE_MAX 120
#define TX_SIZE  256u

static char line[LINE_MAX];
static unsigned line_len;
static char done[LINE_MAX];
static volatile unsigned done_len;
static volatile bool done_ready;
static char tx[TX_SIZE];
static volatile unsigned tx_head, tx_tail;
static volatile uint64_t rx_irqs, tx_irqs, lines_lost;

static void took(uint8_t c)
{
    if (c == '\r' || c == '\n') {
        if (!line_len)
            return;            /* the LF of a CR LF, or an empty line */
        if (done_ready) {
            lines_lost++;
        } else {
            memcpy(done, line, line_len);
            done_len = line_len;
            done_ready = true;
        }
        line_len = 0;
    } else if (c >= 0x20 && c < 0x7f && line_len < LINE_MAX - 1) {
        line[line_len++] = (char)c;
    }
}

/* Up to a FIFO's worth from the transmit ring; ETBEI off once it is empty. */
static void send_some(void)
{
    for (unsigned n = 0; n < 16; n++) {
        if (tx_tail == tx_head) {
            outb(COM1 + UART_IER, IER_RX);
            return;
        }
        outb(COM1 + UART_DATA, (uint8_t)tx[tx_tail % TX_SIZE]);
        tx_tail++;
    }
}

void echo_irq(void)
{
    /* Until IIR says nothing is pending (bounded: a UART gone mad must not
     * keep the vCPU here). */
    for (unsigned guard = 0; guard < 64; guard++) {
        uint8_t iir = inb(COM1 + UART_IIR);
        if (iir & IIR_NONE)
            return;
        switch (iir & IIR_ID) {
        case IIR_RDA:
        case IIR_TIMEOUT:
            rx_irqs++;
            while (inb(COM1 + UART_LSR) & LSR_DR)
                took(inb(COM1 + UART_DATA));
            break;
        case IIR_THRE:
            tx_irqs++;
            send_some();
            break;
        default:                /* line or modem status: read to clear */
            (void)inb(COM1 + UART_LSR);
            (void)inb(COM1 + UART_MSR);
            break;
        }
    }
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
    mmio_write32(tg.ioapic_addr + IOREGSEL, reg);
    mmio_write32(tg.ioapic_addr + IOWIN, v);
}

static uint32_t ioapic_read(uint32_t reg)
{
    mmio_write32(tg.ioapic_addr + IOREGSEL, reg);
    return mmio_read32(tg.ioapic_addr + IOWIN);
}

/* Queues "tg: echo: <LINE IN UPPER CASE> (...)\n" and lets the transmitter
 * interrupt send it; returns once it is all out. */
static void reply(const char *text, unsigned len)
{
    char buf[LINE_MAX + 80];
    unsigned n = (unsigned)tg_snprintf(buf, sizeof(buf), "tg: echo: ");
    for (unsigned i = 0; i < len && n < sizeof(buf) - 1; i++)
        buf[n++] = (text[i] >= 'a' && text[i] <= 'z') ? (char)(text[i] - 32) : text[i];
    n += (unsigned)tg_snprintf(buf + n, sizeof(buf) - n, " (rx irqs %lu, tx irqs %lu, lines lost %lu)\n",
                               rx_irqs, tx_irqs, lines_lost);
    if (n > sizeof(buf) - 1)
        n = sizeof(buf) - 1;
    cli();
    for (unsigned i = 0; i < n && tx_head - tx_tail < TX_SIZE; i++)
        tx[tx_head++ % TX_SIZE] = buf[i];
    outb(COM1 + UART_IER, IER_RX | IER_TX); /* THR is empty: the interrupt comes at once */
    while (tx_head != tx_tail) {
        sti_hlt();
        cli();
    }
    sti();
}

void scenario_echo(void)
{
    if (!tg.ioapic_addr) {
        say("echo: no I/O APIC in the MADT, nothing to route IRQ 4 through");
        for (;;)
            sti_hlt();
    }
    uint32_t gsi = tg.com1_iso ? tg.com1_gsi : 4;
    bool level = tg.com1_iso && (tg.com1_flags & INTI_TRIGGER_LEVEL) == INTI_TRIGGER_LEVEL;
    bool low = tg.com1_iso && (tg.com1_flags & INTI_POLARITY_LOW) == INTI_POLARITY_LOW;
    uint32_t pin = gsi - tg.ioapic_gsi_base;
    uint32_t entries = ((ioapic_read(1) >> 16) & 0xff) + 1;
    if (gsi < tg.ioapic_gsi_base || pin >= entries) {
        say("echo: GSI %u is not on the I/O APIC at 0x%x (GSIs %u-%u)", gsi, tg.ioapic_addr, tg.ioapic_gsi_base,
            tg.ioapic_gsi_base + entries - 1);
        for (;;)
            sti_hlt();
    }
    /* The UART first, quiet: 8N1, FIFOs on, OUT2, then nothing pending. */
    outb(COM1 + UART_IER, 0);
    outb(COM1 + UART_LCR, 0x03);
    outb(COM1 + UART_IIR, FCR_ON_TRIGGER_8);
    outb(COM1 + UART_MCR, MCR_DTR_RTS_OUT2);
    while (inb(COM1 + UART_LSR) & LSR_DR)
        (void)inb(COM1 + UART_DATA);
    (void)inb(COM1 + UART_IIR);
    ioapic_write(0x10 + 2 * pin + 1, apic_id() << 24);
    ioapic_write(0x10 + 2 * pin, VEC_UART | (level ? RTE_LEVEL : 0) | (low ? RTE_LOW : 0));
    say("echo: COM1 IRQ 4 is GSI %u (%s, active %s) on the I/O APIC at 0x%x, pin %u, vector 0x%x; type a line",
        gsi, level ? "level" : "edge", low ? "low" : "high", tg.ioapic_addr, pin, VEC_UART);
    outb(COM1 + UART_IER, IER_RX);
    for (;;) {
        cli();
        if (!done_ready) {
            sti_hlt();
            continue;
        }
        char text[LINE_MAX];
        unsigned len = done_len;
        memcpy(text, done, len);
        done_ready = false;
        sti();
        reply(text, len);
    }
}
