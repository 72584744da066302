/* See vuart.h. Register map from the PC16550D data sheet. */
#include "vmm/dev/vuart.h"
#include "kernel/lib/string.h"

#define LCR_DLAB        0x80
#define LSR_THRE        0x20
#define LSR_TEMT        0x40
#define IIR_NO_INT      0x01
#define IIR_FIFO_ON     0xc0
#define MSR_DCD_DSR_CTS 0xb0

void vuart_init(struct vuart *u, struct console_ring *out)
{
    memset(u, 0, sizeof(*u));
    u->out = out;
    u->lcr = 0x03;
    u->dll = 1;
}

bool vuart_owns(u16 port) { return port >= VUART_BASE && port < VUART_BASE + VUART_PORTS; }

u32 vuart_access(struct vuart *u, u16 port, u8 size, bool in, u32 value)
{
    u8 reg = (u8)(port - VUART_BASE), v = (u8)value;
    bool dlab = u->lcr & LCR_DLAB;
    if (!in) {
        switch (reg) {
        case 0:
            if (dlab) {
                u->dll = v;
            } else {
                console_ring_put(u->out, &v, 1);
                u->bytes_out++;
            }
            break;
        case 1:
            if (dlab)
                u->dlm = v;
            else
                u->ier = v & 0x0f;
            break;
        case 2: u->fcr = v; break;
        case 3: u->lcr = v; break;
        case 4: u->mcr = v & 0x1f; break;
        case 7: u->scr = v; break;
        default: break; /* LSR and MSR are read-only */
        }
        return 0;
    }
    switch (reg) {
    case 0: return dlab ? u->dll : 0;
    case 1: return dlab ? u->dlm : u->ier;
    case 2: return IIR_NO_INT | ((u->fcr & 1) ? IIR_FIFO_ON : 0);
    case 3: return u->lcr;
    case 4: return u->mcr;
    case 5: return LSR_THRE | LSR_TEMT; /* always ready to send, never data to read */
    case 6: return (u->mcr & 0x10) ? ((u->mcr & 0x0f) << 4) : MSR_DCD_DSR_CTS; /* loopback mirrors MCR */
    case 7: return u->scr;
    default: return 0xff;
    }
}
