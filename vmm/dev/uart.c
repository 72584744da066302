/* The partition's COM1 (vmm/dev/vuart.c is the 16550 model): at 0x3F8, its
 * output into the partition's console ring, which `console` reads; what is
 * typed at `console NAME` into its receiver; its interrupt output on IRQ 4
 * of the partition's I/O APIC (vmm/dev/vioapic.h).
 *
 * Typed bytes the receive FIFO cannot take wait in a 256-byte input buffer
 * and move into the FIFO as the guest reads it; only when that buffer is full
 * too are bytes dropped (counted). The UART's state, the buffer and the level
 * it last drove IRQ 4 to are under the partition's lock, which is held while
 * the level is passed on, so that the I/O APIC sees the line change in the
 * order the UART did (the shell's CPU and the vCPU's may both change it). */
#include "vmm/partition.h"
#include "vmm/vdev.h"
#include "vmm/dev/vuart.h"
#include "vmm/dev/vioapic.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"

#define UART_INBUF 256

struct uart {
    struct vuart u;
    struct partition *p;
    bool attached;
    bool line; /* the level IRQ 4 was last driven to */
    u8 in[UART_INBUF];
    u32 in_head, in_count;
    u64 held;    /* typed bytes that waited in the input buffer (FIFO full) */
    u64 dropped; /* typed bytes lost: the input buffer was full too */
};

static struct uart uarts[CONFIG_MAX_PARTITIONS];

/* Under p->lock: input buffer -> FIFO, then IRQ 4 follows the UART. */
static void sync(struct uart *d)
{
    while (d->in_count && vuart_rx_room(&d->u) && vuart_rx_put(&d->u, d->in[d->in_head]) == 0) {
        d->in_head = (d->in_head + 1) % UART_INBUF;
        d->in_count--;
    }
    bool level = vuart_irq(&d->u);
    if (level != d->line && vioapic_set_irq(d->p, VIOAPIC_IRQ_COM1, level) == 0)
        d->line = level;
}

static enum vdev_result uart_pio(struct vm_vcpu *vc, void *dev, u16 port, u8 size, bool in, u32 *val)
{
    struct partition *p = vc->part;
    struct uart *d = dev;
    spin_lock(&p->lock);
    u32 v = vuart_access(&d->u, port, size, in, *val);
    sync(d);
    spin_unlock(&p->lock);
    if (in)
        *val = v;
    return VDEV_DONE;
}

static u32 uart_input(struct partition *p, const u8 *buf, u32 n)
{
    struct uart *d = &uarts[p->id];
    u32 kept = 0;
    spin_lock(&p->lock);
    if (d->attached) {
        for (u32 i = 0; i < n; i++) {
            /* Straight into the FIFO when nothing waits before it. */
            if (!d->in_count && vuart_rx_room(&d->u) && vuart_rx_put(&d->u, buf[i]) == 0) {
                kept++;
                continue;
            }
            if (d->in_count == UART_INBUF) {
                d->dropped++;
                continue;
            }
            d->in[(d->in_head + d->in_count) % UART_INBUF] = buf[i];
            d->in_count++;
            d->held++;
            kept++;
        }
        sync(d);
    }
    spin_unlock(&p->lock);
    return kept;
}

static int uart_attach(struct partition *p, char *err, size_t errlen)
{
    struct uart *d = &uarts[p->id];
    spin_lock(&p->lock);
    vuart_init(&d->u, &p->console);
    d->p = p;
    d->attached = true;
    d->line = false; /* the I/O APIC's pins start low too */
    d->in_head = d->in_count = 0;
    d->held = d->dropped = 0;
    spin_unlock(&p->lock);
    int rc = vdev_claim_pio(p, VUART_BASE, VUART_PORTS, uart_pio, d, "uart");
    return rc < 0
               ? kerr_fmt(err, errlen, rc, "UART: cannot claim ports %#x-%#x", VUART_BASE, VUART_BASE + VUART_PORTS - 1)
               : 0;
}

static void uart_detach(struct partition *p)
{
    spin_lock(&p->lock);
    uarts[p->id].attached = false;
    spin_unlock(&p->lock);
}

static size_t uart_show(const struct partition *p, char *buf, size_t len)
{
    const struct uart *d = &uarts[p->id];
    size_t n = 0;
    /* Counters read without the lock, as every `parts -v` snapshot is. */
    if (d->attached)
        n = (size_t)ksnprintf(buf, len,
                              "  uart: %llu bytes out, %llu in (%llu waited for the FIFO, %llu dropped: input "
                              "buffer full, %u waiting now), %llu overruns, IER %#x, IRQ 4 %s\n",
                              (unsigned long long)d->u.bytes_out, (unsigned long long)d->u.bytes_in,
                              (unsigned long long)d->held, (unsigned long long)d->dropped, d->in_count,
                              (unsigned long long)d->u.overruns, d->u.ier, d->line ? "high" : "low");
    return MIN(n, len ? len - 1 : 0);
}

VDEV_REGISTER(uart, .name = "uart", .order = 0, .attach = uart_attach, .detach = uart_detach, .show = uart_show,
              .input = uart_input);
