/* The console: a 16550 UART at 0x3f8. Every line is built whole in a buffer
 * as "tg: <text>\n" and written under one lock, so lines from different vCPUs
 * never interleave and tests can pick them out by the prefix. Input is polled
 * (console_read_line, for the dma and canary scenarios); the echo scenario
 * has its own interrupt-driven receiver. */
#include "guest/tg.h"
#include "guest/x86.h"

#define UART_THR 0x3f8
#define UART_RBR 0x3f8
#define UART_IER 0x3f9
#define UART_FCR 0x3fa
#define UART_LSR 0x3fd
#define LSR_DR   0x01          /* receive data ready */
#define LSR_THRE 0x20          /* transmit holding register empty */
#define FCR_ON_CLEAR 0x07      /* FIFOs on, both cleared */
#define INPUT_POLL_MS 10
#define LINE_MAX 512

static volatile uint32_t line_lock;

static void uart_putc(char c)
{
    /* Bounded: a UART that never reports THRE must not hang the guest. */
    for (unsigned i = 0; i < 100000 && !(inb(UART_LSR) & LSR_THRE); i++)
        pause();
    outb(UART_THR, (uint8_t)c);
}

/* spins is how long to wait before taking the lock anyway: a trap may have
 * interrupted the holder on this very vCPU. */
static void lock(unsigned long spins)
{
    while (__atomic_exchange_n(&line_lock, 1, __ATOMIC_ACQUIRE)) {
        if (spins && !--spins)
            return;
        pause();
    }
}

static void unlock(void)
{
    __atomic_store_n(&line_lock, 0, __ATOMIC_RELEASE);
}

static void emit(unsigned long spins, const char *fmt, va_list ap)
{
    char line[LINE_MAX];
    memcpy(line, "tg: ", 4);
    int n = tg_vsnprintf(line + 4, sizeof(line) - 5, fmt, ap);
    size_t len = 4 + ((size_t)n < sizeof(line) - 5 ? (size_t)n : sizeof(line) - 6);
    line[len++] = '\n';
    lock(spins);
    for (size_t i = 0; i < len; i++)
        uart_putc(line[i]);
    unlock();
}

void vsay(const char *fmt, va_list ap) { emit(0, fmt, ap); }

/* For a whole line written by other means (the abuse scenario's hypercall
 * console writes): it must not land inside one of say()'s. */
void console_lock(void) { lock(0); }
void console_unlock(void) { unlock(); }

void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(0, fmt, ap);
    va_end(ap);
}

void say_from_trap(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(10000000, fmt, ap);
    va_end(ap);
}

/* Polled input: the UART's interrupts off, its FIFOs on (16 bytes can wait
 * between two looks), and the APIC timer waking the vCPU from HLT every
 * INPUT_POLL_MS to look. While the FIFO is full, QEMU's serial backend holds
 * the next byte back and Isthmus's console keeps up to 256 more (vmm/dev/
 * uart.c), so a command line is slowed, not lost. */
void console_input_init(void)
{
    outb(UART_IER, 0);
    outb(UART_FCR, FCR_ON_CLEAR);
    apic_timer_periodic(INPUT_POLL_MS, VEC_TIMER);
}

size_t console_read_line(char *buf, size_t size)
{
    size_t n = 0;
    for (;;) {
        while (inb(UART_LSR) & LSR_DR) {
            char c = (char)inb(UART_RBR);
            if (c == '\r' || c == '\n') {
                if (n) {
                    buf[n] = 0;
                    return n;
                }
            } else if (c >= 0x20 && c < 0x7f && n + 1 < size) {
                buf[n++] = c;
            }
        }
        sti_hlt();
    }
}
