/* See vuart.h. Register map and interrupt rules from the PC16550D data sheet
 * (tables II-IV, "FIFO interrupt mode operation"). */
#include "vmm/dev/vuart.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

enum { RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR };

#define LCR_DLAB        0x80
#define IER_ERBFI       0x01 /* receive data available */
#define IER_ETBEI       0x02 /* transmitter holding register empty */
#define IER_MASK        0x0f
#define FCR_ENABLE      0x01
#define FCR_CLEAR_RX    0x02
#define FCR_TRIGGER     0xc0
#define IIR_NO_INT      0x01
#define IIR_THRE        0x02
#define IIR_RDA         0x04
#define IIR_TIMEOUT     0x0c
#define IIR_FIFO_ON     0xc0
#define LSR_DR          0x01
#define LSR_THRE        0x20
#define LSR_TEMT        0x40
#define MCR_OUT2        0x08
#define MCR_LOOP        0x10
#define MCR_MASK        0x1f
#define MSR_DCD_DSR_CTS 0xb0

void vuart_init(struct vuart *u, struct console_ring *out)
{
    memset(u, 0, sizeof(*u));
    u->out = out;
    u->lcr = 0x03;
    u->dll = 1;
}

bool vuart_owns(u16 port) { return port >= VUART_BASE && port < VUART_BASE + VUART_PORTS; }

static bool fifo_on(const struct vuart *u) { return u->fcr & FCR_ENABLE; }

/* The receive trigger level FCR bits 7:6 select: 1, 4, 8 or 14 bytes. */
static u8 trigger(const struct vuart *u)
{
    static const u8 levels[4] = { 1, 4, 8, 14 };
    return fifo_on(u) ? levels[(u->fcr & FCR_TRIGGER) >> 6] : 1;
}

bool vuart_rx_room(const struct vuart *u) { return u->rx_count < (fifo_on(u) ? VUART_FIFO : 1); }

int vuart_rx_put(struct vuart *u, u8 byte)
{
    if (!vuart_rx_room(u)) {
        u->overruns++;
        return -ENOSPC;
    }
    u->rx[(u->rx_head + u->rx_count) % VUART_FIFO] = byte;
    u->rx_count++;
    u->bytes_in++;
    return 0;
}

static u8 rx_take(struct vuart *u)
{
    if (!u->rx_count)
        return 0;
    u8 b = u->rx[u->rx_head];
    u->rx_head = (u8)((u->rx_head + 1) % VUART_FIFO);
    u->rx_count--;
    return b;
}

/* IIR bits 3:0 by priority (table IV). Line-status and modem-status
 * interrupts never arise: nothing is lost in reception (vuart_rx_put refuses
 * instead) and the modem lines never change. The character timeout is
 * reported as soon as bytes sit below the trigger level: the guest cannot
 * tell four character times from none. */
static u8 iir_id(const struct vuart *u)
{
    if ((u->ier & IER_ERBFI) && u->rx_count)
        return u->rx_count >= trigger(u) ? IIR_RDA : IIR_TIMEOUT;
    if ((u->ier & IER_ETBEI) && u->thre_int)
        return IIR_THRE;
    return IIR_NO_INT;
}

bool vuart_irq(const struct vuart *u)
{
    return iir_id(u) != IIR_NO_INT && (u->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2;
}

static void transmit(struct vuart *u, u8 v)
{
    /* Loopback sends the byte to the receiver instead of the line. */
    if (u->mcr & MCR_LOOP) {
        if (vuart_rx_put(u, v) < 0)
            return;
    } else {
        console_ring_put(u->out, &v, 1);
        u->bytes_out++;
    }
    /* Writing THR clears the THRE interrupt; the transmitter takes the byte
     * at once, so THR is empty again and, if enabled, it is pending again. */
    u->thre_int = u->ier & IER_ETBEI;
}

static void write_fcr(struct vuart *u, u8 v)
{
    /* Changing FCR bit 0 resets both FIFOs (FCR description). */
    if ((v ^ u->fcr) & FCR_ENABLE || (v & FCR_CLEAR_RX))
        u->rx_head = u->rx_count = 0;
    u->fcr = v & (FCR_ENABLE | FCR_TRIGGER);
}

static void write_reg(struct vuart *u, u8 reg, u8 v, bool dlab)
{
    switch (reg) {
    case RBR_THR:
        if (dlab)
            u->dll = v;
        else
            transmit(u, v);
        break;
    case IER:
        if (dlab) {
            u->dlm = v;
            break;
        }
        /* Enabling ETBEI with THR empty raises the THRE interrupt (Linux's
         * THRE test toggles it to see that it does); disabling clears it. */
        if ((v & IER_ETBEI) != (u->ier & IER_ETBEI))
            u->thre_int = v & IER_ETBEI;
        u->ier = v & IER_MASK;
        break;
    case IIR_FCR: write_fcr(u, v); break;
    case LCR: u->lcr = v; break;
    case MCR: u->mcr = v & MCR_MASK; break;
    case SCR: u->scr = v; break;
    default: break; /* LSR and MSR are read-only */
    }
}

static u8 read_iir(struct vuart *u)
{
    u8 id = iir_id(u);
    /* Reading IIR while it reports THRE clears that interrupt. */
    if (id == IIR_THRE)
        u->thre_int = false;
    return id | (fifo_on(u) ? IIR_FIFO_ON : 0);
}

/* In loopback the modem outputs feed the inputs: DTR -> DSR, RTS -> CTS,
 * OUT1 -> RI, OUT2 -> DCD (Linux's probe writes RTS|OUT2 and wants CTS|DCD). */
static u8 loop_msr(u8 mcr) { return (u8)(((mcr & 0x01) << 5) | ((mcr & 0x02) << 3) | ((mcr & 0x0c) << 4)); }

u32 vuart_access(struct vuart *u, u16 port, u8 size, bool in, u32 value)
{
    (void)size;
    u8 reg = (u8)(port - VUART_BASE) & 7;
    bool dlab = u->lcr & LCR_DLAB;
    if (!in) {
        write_reg(u, reg, (u8)value, dlab);
        return 0;
    }
    switch (reg) {
    case RBR_THR: return dlab ? u->dll : rx_take(u);
    case IER: return dlab ? u->dlm : u->ier;
    case IIR_FCR: return read_iir(u);
    case LCR: return u->lcr;
    case MCR: return u->mcr;
    case LSR: return LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0); /* never busy sending */
    case MSR: return (u->mcr & MCR_LOOP) ? loop_msr(u->mcr) : MSR_DCD_DSR_CTS;
    default: return u->scr;
    }
}
