/* The serial console: one lock so lines from different CPUs do not interleave.
 * While the shell edits a line, lines printed by others (the log, from any
 * CPU) go above it: the row is erased, the line printed, and the prompt and
 * the text typed so far are drawn again below, so neither the person typing
 * nor a test harness reading the echo sees a log line cut into the middle. */
#include "kernel/core/console.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/spinlock.h"
#include "kernel/lib/string.h"
#include "arch/x86/hw/cpu.h"

static spinlock_t con_lock = SPINLOCK_INIT;
static const struct con_port_ops *ops;
static u16 port = 0x3f8; /* until the configuration says otherwise */
static volatile bool con_bypass_lock;

void con_set_port_ops(const struct con_port_ops *o) { ops = o; }

void con_init(u16 p, u32 baud)
{
    if (p && (!ops || ops->init(p, baud) < 0))
        p = 0;
    port = p;
}

u16 con_port(void) { return port; }

static char last_out; /* under con_lock */
/* What redraws the shell's line being edited from column 0; empty while no
 * line is being edited (a command runs). Under con_lock. */
static char input_redraw[CON_INPUT_MAX];
static size_t input_len;

/* Serial terminals need CR LF; a '\n' that already follows '\r' gets none added. */
static void put_raw(const char *s, size_t n)
{
    if (!port || !ops)
        return;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n' && last_out != '\r')
            ops->putc(port, '\r');
        ops->putc(port, s[i]);
        last_out = s[i];
    }
}

void con_write(const char *s, size_t n)
{
    if (con_bypass_lock) {
        put_raw(s, n);
        return;
    }
    u64 f = irq_save();
    spin_lock(&con_lock);
    put_raw(s, n);
    spin_unlock(&con_lock);
    irq_restore(f);
}

void con_input(const char *echo, size_t n, const char *redraw, size_t rn)
{
    u64 f = irq_save();
    spin_lock(&con_lock);
    put_raw(echo, n);
    input_len = redraw && rn <= sizeof(input_redraw) ? rn : 0;
    if (input_len)
        memcpy(input_redraw, redraw, input_len);
    spin_unlock(&con_lock);
    irq_restore(f);
}

void con_write_above(const char *s, size_t n)
{
    if (con_bypass_lock) {
        put_raw(s, n);
        return;
    }
    u64 f = irq_save();
    spin_lock(&con_lock);
    if (input_len) {
        put_raw("\r\x1b[K", 4);
        put_raw(s, n);
        put_raw(input_redraw, input_len);
    } else {
        put_raw(s, n);
    }
    spin_unlock(&con_lock);
    irq_restore(f);
}

int con_printf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return n;
    con_write(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    return n;
}

int con_getc(void) { return port && ops ? ops->getc(port) : -1; }

void con_emergency_begin(void)
{
    irq_disable();
    for (u32 i = 0; i < 10000000; i++) {
        if (spin_trylock(&con_lock)) {
            spin_unlock(&con_lock);
            return;
        }
        cpu_relax();
    }
    /* Whoever holds it is stuck (possibly this CPU, mid-print when it faulted). */
    con_bypass_lock = true;
}

void con_emergency_end(void) {}
