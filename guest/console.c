/* The console: a 16550 UART at 0x3f8, output only. Every line is built whole
 * in a buffer as "tg: <text>\n" and written under one lock, so lines from
 * different vCPUs never interleave and tests can pick them out by the prefix. */
#include "guest/tg.h"
#include "guest/x86.h"

#define UART_THR 0x3f8
#define UART_LSR 0x3fd
#define LSR_THRE 0x20          /* transmit holding register empty */
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
