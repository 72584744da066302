/* The partition's COM1 (vmm/dev/vuart.c is the 16550 model): at 0x3F8, its
 * output into the partition's console ring, which `console` reads. */
#include "vmm/partition.h"
#include "vmm/vdev.h"
#include "vmm/dev/vuart.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"

static struct vuart uarts[CONFIG_MAX_PARTITIONS];

static enum vdev_result uart_pio(struct vm_vcpu *vc, void *dev, u16 port, u8 size, bool in, u32 *val)
{
    struct partition *p = vc->part;
    spin_lock(&p->lock);
    u32 v = vuart_access(dev, port, size, in, *val);
    spin_unlock(&p->lock);
    if (in)
        *val = v;
    return VDEV_DONE;
}

static int uart_attach(struct partition *p, char *err, size_t errlen)
{
    struct vuart *u = &uarts[p->id];
    spin_lock(&p->lock);
    vuart_init(u, &p->console);
    spin_unlock(&p->lock);
    int rc = vdev_claim_pio(p, VUART_BASE, VUART_PORTS, uart_pio, u, "uart");
    return rc < 0
               ? kerr_fmt(err, errlen, rc, "UART: cannot claim ports %#x-%#x", VUART_BASE, VUART_BASE + VUART_PORTS - 1)
               : 0;
}

VDEV_REGISTER(uart, .name = "uart", .order = 0, .attach = uart_attach);
