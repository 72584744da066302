/* The NIC's PCI face: configuration space, the registers in BAR0 and MSI-X
 * (virtio v1.2 4.1; PCI 3.0 6.8.2). See net/vnet.h.
 *
 * Every register access is a trapped guest access, so each value is the
 * guest's and checked: selectors index nothing past their arrays, queue
 * addresses change only while the queue is off, features only before
 * FEATURES_OK, and a driver that asks for what was not offered does not get
 * FEATURES_OK. Side effects that take other locks (a notify, a reset) run
 * after `lock` is dropped. */
#include "net/vnet.h"
#include "drivers/pci.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/core/log_limit.h"
#include "kernel/lib/string.h"

/* Capability offsets in configuration space: MSI-X first, then the virtio
 * vendor capabilities (4.1.4), each pointing into BAR0. */
#define CAP_MSIX             0x40
#define CAP_COMMON           0x4c
#define CAP_NOTIFY           0x5c
#define CAP_ISR              0x70
#define CAP_DEVICE           0x80
#define CAP_PCICFG           0x90
#define CAP_END              (CAP_PCICFG + VIRTIO_PCI_CFG_CAP_LEN)
#define PCI_CAP_VNDR         0x09
#define MSIX_CTRL_TABLE_MASK 0x7ff
#define MSIX_ENABLE          BIT(15)
#define MSIX_MASKALL         BIT(14)
#define DEVICE_CFG_LEN       0x10

STATIC_ASSERT(CAP_COMMON >= CAP_MSIX + 12 && CAP_NOTIFY >= CAP_COMMON + VIRTIO_CAP_LEN &&
                  CAP_ISR >= CAP_NOTIFY + VIRTIO_NOTIFY_CAP_LEN && CAP_DEVICE >= CAP_ISR + VIRTIO_CAP_LEN &&
                  CAP_PCICFG >= CAP_DEVICE + VIRTIO_CAP_LEN && CAP_END <= 0x100,
              "capabilities overlap");
STATIC_ASSERT(sizeof(struct virtio_net_config) <= DEVICE_CFG_LEN, "the device configuration fits its window");
STATIC_ASSERT(VNET_BAR_MSIX_TABLE + VNET_MSIX_VECTORS * MSIX_ENTRY_SIZE <= VNET_BAR_MSIX_PBA &&
                  VNET_BAR_MSIX_PBA < VNET_BAR_SIZE,
              "BAR0 layout");

enum after { AFTER_NONE, AFTER_NOTIFY_RX, AFTER_NOTIFY_TX, AFTER_RESET, AFTER_START, AFTER_DELIVER };

/* ---- configuration space ---- */

/* A virtio vendor capability's dword at rel (0, 4, 8, 12). */
static u32 vcap(u32 rel, u8 next, u8 len, u8 type, u32 offset, u32 length)
{
    switch (rel) {
    case 0: return PCI_CAP_VNDR | (u32)next << 8 | (u32)len << 16 | (u32)type << 24;
    case 4: return 0; /* bar 0, id 0, padding */
    case 8: return offset;
    case 12: return length;
    default: return 0;
    }
}

u32 vnet_cfg_read(struct vnet *n, u16 off)
{
    switch (off) {
    case 0x00: return VIRTIO_PCI_VENDOR | (u32)VIRTIO_PCI_DEVICE_NET << 16;
    case 0x04: return (u32)PCI_STATUS_CAPS << 16;
    case 0x08: return 0x02000000u | VIRTIO_PCI_REVISION; /* Ethernet controller */
    case 0x2c: return VIRTIO_PCI_VENDOR | (u32)VIRTIO_PCI_SUBSYS_NET << 16;
    case 0x34: return CAP_MSIX;
    default: break;
    }
    if (off < CAP_MSIX || off >= CAP_END)
        return 0;
    if (off < CAP_COMMON) {
        spin_lock(&n->lock);
        u32 v = off == CAP_MSIX       ? PCI_CAP_MSIX | CAP_COMMON << 8 | (u32)n->msix_ctrl << 16
                : off == CAP_MSIX + 4 ? VNET_BAR_MSIX_TABLE
                                      : VNET_BAR_MSIX_PBA; /* BIR 0 */
        if (off == CAP_MSIX)
            v |= (u32)(VNET_MSIX_VECTORS - 1) << 16;
        spin_unlock(&n->lock);
        return v;
    }
    if (off < CAP_NOTIFY)
        return vcap(off - CAP_COMMON, CAP_NOTIFY, VIRTIO_CAP_LEN, VIRTIO_PCI_CAP_COMMON_CFG, VNET_BAR_COMMON,
                    VPC_COMMON_LEN);
    if (off < CAP_ISR)
        return off == CAP_NOTIFY + 16
                   ? VNET_NOTIFY_MULT
                   : vcap(off - CAP_NOTIFY, CAP_ISR, VIRTIO_NOTIFY_CAP_LEN, VIRTIO_PCI_CAP_NOTIFY_CFG, VNET_BAR_NOTIFY,
                          VNET_NOTIFY_MULT * VNET_NUM_QUEUES);
    if (off < CAP_DEVICE)
        return vcap(off - CAP_ISR, CAP_DEVICE, VIRTIO_CAP_LEN, VIRTIO_PCI_CAP_ISR_CFG, VNET_BAR_ISR, 4);
    if (off < CAP_PCICFG)
        return vcap(off - CAP_DEVICE, CAP_PCICFG, VIRTIO_CAP_LEN, VIRTIO_PCI_CAP_DEVICE_CFG, VNET_BAR_DEVICE,
                    DEVICE_CFG_LEN);
    /* The PCI-config access window (4.1.4.9): bar, offset, length set by the
     * driver; pci_cfg_data reaches BAR0 there. */
    u32 rel = off - CAP_PCICFG;
    if (rel == 0)
        return vcap(0, 0, VIRTIO_PCI_CFG_CAP_LEN, VIRTIO_PCI_CAP_PCI_CFG, 0, 0);
    if (rel == 4)
        return n->cfgcap_bar;
    if (rel == 8)
        return n->cfgcap_off;
    if (rel == 12)
        return n->cfgcap_len;
    u64 v = 0;
    if (n->cfgcap_bar == 0 && (n->cfgcap_len == 1 || n->cfgcap_len == 2 || n->cfgcap_len == 4))
        vnet_bar_access(n, n->cfgcap_off, (u8)n->cfgcap_len, false, &v);
    return (u32)v;
}

static void msix_deliver_pending(struct vnet *n);

void vnet_cfg_write(struct vnet *n, u16 off, u32 bmask, u32 val)
{
    if (off == CAP_MSIX && (bmask & 0xffff0000u)) {
        /* Only the bytes written change: a byte write to the table size (read
         * only) must not clear Enable and Function Mask. */
        u16 m = (u16)((bmask >> 16) & (MSIX_ENABLE | MSIX_MASKALL));
        spin_lock(&n->lock);
        n->msix_ctrl = (u16)((n->msix_ctrl & ~m) | ((val >> 16) & m));
        spin_unlock(&n->lock);
        msix_deliver_pending(n);
        return;
    }
    if (off >= CAP_PCICFG + 4 && off < CAP_END) {
        u32 rel = off - CAP_PCICFG;
        u32 *f = rel == 4 ? &n->cfgcap_bar : rel == 8 ? &n->cfgcap_off : rel == 12 ? &n->cfgcap_len : NULL;
        if (f) {
            *f = (*f & ~bmask) | (val & bmask);
            if (rel == 4)
                n->cfgcap_bar &= 0xff;
            return;
        }
        /* pci_cfg_data: the bytes the guest wrote, at the window. */
        if (n->cfgcap_bar == 0 && (n->cfgcap_len == 1 || n->cfgcap_len == 2 || n->cfgcap_len == 4)) {
            u64 v = val;
            vnet_bar_access(n, n->cfgcap_off, (u8)n->cfgcap_len, true, &v);
        }
        return;
    }
    n->stats.bar_bad++; /* read-only configuration register */
}

void vnet_set_command(struct vnet *n, u16 cmd)
{
    spin_lock(&n->lock);
    n->pci_cmd = cmd;
    bool was = n->running;
    n->running = vnet_link_up(n);
    bool start = n->running && !was;
    spin_unlock(&n->lock);
    if (start)
        vnet_tx(n);
}

/* ---- MSI-X ---- */

/* Sends vector v, or leaves it pending while masked. Called without lock. */
static void msix_send(struct vnet *n, u32 v)
{
    if (v >= VNET_MSIX_VECTORS)
        return;
    spin_lock(&n->lock);
    if (!(n->msix_ctrl & MSIX_ENABLE)) {
        /* No INTx on Isthmus' buses: a driver without MSI-X must poll. */
        n->isr |= 1;
        spin_unlock(&n->lock);
        return;
    }
    const struct vnet_msix *e = &n->msix[v];
    if ((n->msix_ctrl & MSIX_MASKALL) || (e->ctrl & MSIX_ENTRY_MASKED)) {
        n->pba |= (u8)BIT(v);
        n->stats.interrupts_masked++;
        spin_unlock(&n->lock);
        return;
    }
    u64 addr = (u64)e->addr_hi << 32 | e->addr_lo;
    u32 data = e->data;
    spin_unlock(&n->lock);
    if (n->env.msi(n->env.ctx, addr, data))
        __atomic_fetch_add(&n->stats.interrupts, 1, __ATOMIC_RELAXED);
    else
        __atomic_fetch_add(&n->stats.msi_bad, 1, __ATOMIC_RELAXED);
}

static void msix_deliver_pending(struct vnet *n)
{
    spin_lock(&n->lock);
    u8 ready = 0;
    if ((n->msix_ctrl & MSIX_ENABLE) && !(n->msix_ctrl & MSIX_MASKALL))
        for (u32 v = 0; v < VNET_MSIX_VECTORS; v++)
            if ((n->pba & BIT(v)) && !(n->msix[v].ctrl & MSIX_ENTRY_MASKED))
                ready |= (u8)BIT(v);
    n->pba &= (u8)~ready;
    spin_unlock(&n->lock);
    for (u32 v = 0; v < VNET_MSIX_VECTORS; v++)
        if (ready & BIT(v))
            msix_send(n, v);
}

void vnet_interrupt_queue(struct vnet *n, u32 q)
{
    spin_lock(&n->lock);
    u16 v = q < VNET_NUM_QUEUES ? n->queue[q].vector : VIRTIO_MSI_NO_VECTOR;
    n->isr |= 1;
    spin_unlock(&n->lock);
    msix_send(n, v);
}

void vnet_interrupt_config(struct vnet *n)
{
    spin_lock(&n->lock);
    u16 v = n->config_vector;
    n->isr |= 2;
    spin_unlock(&n->lock);
    msix_send(n, v);
}

void vnet_needs_reset(struct vnet *n, const char *why)
{
    spin_lock(&n->lock);
    bool first = !(n->status & VIRTIO_STATUS_NEEDS_RESET);
    if (first) {
        n->status |= VIRTIO_STATUS_NEEDS_RESET;
        n->stats.needs_reset++;
        n->running = false;
        n->generation++;
    }
    spin_unlock(&n->lock);
    if (!first)
        return;
    log_limited(n->part, LOGR_NIC_RESET, LOG_WARN, "net",
                "%s: NIC needs reset: %s (its port stops until the driver resets the device)", n->name, why);
    vnet_interrupt_config(n);
}

/* ---- BAR0 registers ---- */

bool vnet_link_up(const struct vnet *n)
{
    return n->mem && (n->status & VIRTIO_STATUS_DRIVER_OK) && !(n->status & VIRTIO_STATUS_NEEDS_RESET) &&
           (n->pci_cmd & PCI_CMD_MASTER);
}

static struct vnet_queue *selq(struct vnet *n)
{
    return n->queue_select < VNET_NUM_QUEUES ? &n->queue[n->queue_select] : NULL;
}

/* The common configuration structure as 32-bit-or-narrower fields. */
static u64 common_read(struct vnet *n, u32 off)
{
    struct vnet_queue *q = selq(n);
    switch (off) {
    case VPC_DFSELECT: return n->dfselect;
    case VPC_DF: return n->dfselect < 2 ? (u32)(VNET_FEATURES >> (32 * n->dfselect)) : 0;
    case VPC_GFSELECT: return n->gfselect;
    case VPC_GF: return n->gfselect < 2 ? (u32)(n->driver_features >> (32 * n->gfselect)) : 0;
    case VPC_MSIX_CONFIG: return n->config_vector;
    case VPC_NUM_QUEUES: return VNET_NUM_QUEUES;
    case VPC_STATUS: return n->status;
    case VPC_CFG_GENERATION: return n->generation;
    case VPC_Q_SELECT: return n->queue_select;
    case VPC_Q_SIZE: return q ? q->size : 0;
    case VPC_Q_MSIX_VECTOR: return q ? q->vector : VIRTIO_MSI_NO_VECTOR;
    case VPC_Q_ENABLE: return q ? q->enabled : 0;
    case VPC_Q_NOTIFY_OFF: return q ? n->queue_select : 0;
    case VPC_Q_DESC: return q ? (u32)q->desc : 0;
    case VPC_Q_DESC + 4: return q ? (u32)(q->desc >> 32) : 0;
    case VPC_Q_DRIVER: return q ? (u32)q->driver : 0;
    case VPC_Q_DRIVER + 4: return q ? (u32)(q->driver >> 32) : 0;
    case VPC_Q_DEVICE: return q ? (u32)q->device : 0;
    case VPC_Q_DEVICE + 4: return q ? (u32)(q->device >> 32) : 0;
    default: return 0;
    }
}

static u8 common_width(u32 off)
{
    switch (off) {
    case VPC_STATUS:
    case VPC_CFG_GENERATION: return 1;
    case VPC_MSIX_CONFIG:
    case VPC_NUM_QUEUES:
    case VPC_Q_SELECT:
    case VPC_Q_SIZE:
    case VPC_Q_MSIX_VECTOR:
    case VPC_Q_ENABLE:
    case VPC_Q_NOTIFY_OFF: return 2;
    default: return 4;
    }
}

static u16 valid_vector(u32 v) { return v < VNET_MSIX_VECTORS ? (u16)v : VIRTIO_MSI_NO_VECTOR; }

static u32 set_half(u64 *f, u32 hi, u32 v)
{
    *f = hi ? (*f & 0xffffffffULL) | (u64)v << 32 : (*f & ~0xffffffffULL) | v;
    return 0;
}

/* A write of a whole field; returns what to do once the lock is dropped. */
static enum after common_write(struct vnet *n, u32 off, u32 v)
{
    struct vnet_queue *q = selq(n);
    bool q_off = q && !q->enabled;
    switch (off) {
    case VPC_DFSELECT: n->dfselect = v; break;
    case VPC_GFSELECT: n->gfselect = v; break;
    case VPC_GF:
        /* Features are fixed once FEATURES_OK was set (3.1.1). */
        if (n->gfselect < 2 && !(n->status & VIRTIO_STATUS_FEATURES_OK))
            set_half(&n->driver_features, n->gfselect, v);
        break;
    case VPC_MSIX_CONFIG: n->config_vector = valid_vector(v); break;
    case VPC_STATUS:
        if (!(u8)v)
            return AFTER_RESET;
        if ((v & VIRTIO_STATUS_FEATURES_OK) && !(n->status & VIRTIO_STATUS_FEATURES_OK)) {
            /* Only what was offered, and VERSION_1: this is not a legacy device (6.1). */
            if ((n->driver_features & ~VNET_FEATURES) || !(n->driver_features & BIT(VIRTIO_F_VERSION_1)))
                v &= ~(u32)VIRTIO_STATUS_FEATURES_OK;
        }
        if ((v & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK))
            v &= ~(u32)VIRTIO_STATUS_DRIVER_OK;
        /* The driver never clears bits but by reset; NEEDS_RESET is the device's. */
        n->status = (u8)(n->status | (v & ~(u32)VIRTIO_STATUS_NEEDS_RESET));
        if (!n->running && vnet_link_up(n)) {
            n->running = true;
            return AFTER_START;
        }
        break;
    case VPC_Q_SELECT: n->queue_select = (u16)v; break;
    case VPC_Q_SIZE:
        if (q_off && v && v <= VNET_QUEUE_SIZE && !(v & (v - 1)))
            q->size = (u16)v;
        else
            n->stats.bar_bad++;
        break;
    case VPC_Q_MSIX_VECTOR:
        if (q)
            q->vector = valid_vector(v);
        break;
    case VPC_Q_ENABLE:
        if (q_off && v == 1) {
            bool ev = n->driver_features & BIT(VIRTIO_RING_F_EVENT_IDX);
            if (!n->mem || virtq_enable(&q->q, n->mem, q->size, q->desc, q->driver, q->device, ev,
                                        (u32)(VNET_HDR_LEN + VNET_MAX_FRAME)) < 0) {
                spin_unlock(&n->lock);
                vnet_needs_reset(n, "a queue's rings are misaligned or outside the partition's memory");
                spin_lock(&n->lock);
                break;
            }
            q->enabled = true;
        }
        break;
    case VPC_Q_DESC:
    case VPC_Q_DESC + 4:
        if (q_off)
            set_half(&q->desc, off != VPC_Q_DESC, v);
        break;
    case VPC_Q_DRIVER:
    case VPC_Q_DRIVER + 4:
        if (q_off)
            set_half(&q->driver, off != VPC_Q_DRIVER, v);
        break;
    case VPC_Q_DEVICE:
    case VPC_Q_DEVICE + 4:
        if (q_off)
            set_half(&q->device, off != VPC_Q_DEVICE, v);
        break;
    default:
        n->stats.bar_bad++; /* read-only */
        break;
    }
    return AFTER_NONE;
}

static u64 msix_read(struct vnet *n, u32 rel)
{
    const struct vnet_msix *e = &n->msix[rel / MSIX_ENTRY_SIZE];
    switch (rel % MSIX_ENTRY_SIZE) {
    case MSIX_ENTRY_ADDR_LO: return e->addr_lo;
    case MSIX_ENTRY_ADDR_HI: return e->addr_hi;
    case MSIX_ENTRY_DATA: return e->data;
    default: return e->ctrl;
    }
}

static enum after msix_write(struct vnet *n, u32 rel, u32 v)
{
    struct vnet_msix *e = &n->msix[rel / MSIX_ENTRY_SIZE];
    switch (rel % MSIX_ENTRY_SIZE) {
    case MSIX_ENTRY_ADDR_LO: e->addr_lo = v & ~3u; break;
    case MSIX_ENTRY_ADDR_HI: e->addr_hi = v; break;
    case MSIX_ENTRY_DATA: e->data = v; break;
    default: e->ctrl = v & MSIX_ENTRY_MASKED; return AFTER_DELIVER; /* unmasking sends what is pending */
    }
    return AFTER_NONE;
}

/* Registers are at most 4 bytes wide; an 8-byte access is two 4-byte ones. A
 * narrower access to part of a field reads or merges into the field. */
static enum after reg_access(struct vnet *n, u32 off, u8 size, bool write, u32 *val)
{
    u32 base, width;
    if (off < VNET_BAR_COMMON + VPC_COMMON_LEN) {
        base = off >= VPC_Q_DESC ? ALIGN_DOWN(off, 4) : off;
        /* find the field holding off */
        static const u8 starts[] = { 0x00, 0x04, 0x08, 0x0c, 0x10, 0x12, 0x14, 0x15, 0x16, 0x18, 0x1a, 0x1c, 0x1e };
        for (u32 i = 0; i < ARRAY_SIZE(starts); i++)
            if (off >= starts[i] && off < starts[i] + common_width(starts[i]))
                base = starts[i];
        width = off >= VPC_Q_DESC ? 4 : common_width(base);
    } else if (off >= VNET_BAR_MSIX_TABLE && off < VNET_BAR_MSIX_TABLE + VNET_MSIX_VECTORS * MSIX_ENTRY_SIZE) {
        base = ALIGN_DOWN(off, 4);
        width = 4;
    } else if (off >= VNET_BAR_MSIX_PBA && off < VNET_BAR_MSIX_PBA + 8) {
        if (!write)
            *val = off == VNET_BAR_MSIX_PBA ? n->pba : 0;
        return AFTER_NONE;
    } else if (off == VNET_BAR_ISR && !write) {
        *val = n->isr; /* reading clears it (4.1.4.5), at any width up to the 4 advertised */
        n->isr = 0;
        return AFTER_NONE;
    } else if (off >= VNET_BAR_DEVICE && off < VNET_BAR_DEVICE + DEVICE_CFG_LEN) {
        struct virtio_net_config c = { .status = VIRTIO_NET_S_LINK_UP, .max_virtqueue_pairs = 1, .mtu = n->cfg.mtu };
        memcpy(c.mac, n->cfg.mac, ETH_ALEN);
        u8 bytes[DEVICE_CFG_LEN] = { 0 };
        memcpy(bytes, &c, sizeof(c));
        u32 rel = off - VNET_BAR_DEVICE;
        if (write || rel + size > DEVICE_CFG_LEN) {
            n->stats.bar_bad++; /* read-only (5.1.4) */
            if (!write)
                *val = 0;
            return AFTER_NONE;
        }
        u32 v = 0;
        memcpy(&v, bytes + rel, size);
        *val = v;
        return AFTER_NONE;
    } else if (off >= VNET_BAR_NOTIFY && off < VNET_BAR_NOTIFY + VNET_NOTIFY_MULT * VNET_NUM_QUEUES && write &&
               (size == 2 || size == 4)) {
        u32 q = (off - VNET_BAR_NOTIFY) / VNET_NOTIFY_MULT;
        return q == VNET_RXQ ? AFTER_NOTIFY_RX : AFTER_NOTIFY_TX;
    } else {
        n->stats.bar_bad++;
        if (!write)
            *val = 0;
        return AFTER_NONE;
    }
    u32 shift = 8 * (off - base);
    if (off - base + size > width) {
        n->stats.bar_bad++; /* straddles two registers */
        if (!write)
            *val = 0;
        return AFTER_NONE;
    }
    bool msix = base >= VNET_BAR_MSIX_TABLE;
    u32 cur = (u32)(msix ? msix_read(n, base - VNET_BAR_MSIX_TABLE) : common_read(n, base));
    u32 mask = size >= 4 ? 0xffffffffu : ((1u << (8 * size)) - 1);
    if (!write) {
        *val = (cur >> shift) & mask;
        return AFTER_NONE;
    }
    u32 nv = (cur & ~(mask << shift)) | ((*val & mask) << shift);
    return msix ? msix_write(n, base - VNET_BAR_MSIX_TABLE, nv) : common_write(n, base, nv);
}

void vnet_bar_access(struct vnet *n, u32 off, u8 size, bool write, u64 *val)
{
    if (size != 1 && size != 2 && size != 4 && size != 8) {
        n->stats.bar_bad++;
        if (!write)
            *val = 0;
        return;
    }
    enum after todo[2] = { AFTER_NONE, AFTER_NONE };
    spin_lock(&n->lock);
    if (size == 8) {
        u32 lo = (u32)*val, hi = (u32)(*val >> 32);
        todo[0] = reg_access(n, off, 4, write, &lo);
        todo[1] = reg_access(n, off + 4, 4, write, &hi);
        if (!write)
            *val = (u64)hi << 32 | lo;
    } else {
        u32 v = (u32)*val;
        todo[0] = reg_access(n, off, size, write, &v);
        if (!write)
            *val = v;
    }
    spin_unlock(&n->lock);
    for (u32 i = 0; i < 2; i++) {
        switch (todo[i]) {
        case AFTER_RESET:
            vnet_reset(n);
            n->stats.resets++;
            break;
        case AFTER_NOTIFY_RX: vnet_notify(n, VNET_RXQ); break;
        case AFTER_NOTIFY_TX: vnet_notify(n, VNET_TXQ); break;
        case AFTER_START: vnet_tx(n); break;
        case AFTER_DELIVER: msix_deliver_pending(n); break;
        default: break;
        }
    }
}

void vnet_power_on(struct vnet *n)
{
    vnet_reset(n);
    spin_lock(&n->lock);
    for (u32 v = 0; v < VNET_MSIX_VECTORS; v++)
        n->msix[v] = (struct vnet_msix){ 0, 0, 0, MSIX_ENTRY_MASKED };
    n->msix_ctrl = 0;
    n->cfgcap_bar = n->cfgcap_off = n->cfgcap_len = 0;
    n->pci_cmd = 0;
    spin_unlock(&n->lock);
}

void vnet_reset(struct vnet *n)
{
    /* The transmit side first: no pass may run on rings being forgotten. */
    spin_lock(&n->tx_lock);
    spin_lock(&n->lock);
    n->dfselect = n->gfselect = 0;
    n->driver_features = 0;
    n->status = 0;
    n->isr = 0;
    n->queue_select = 0;
    n->config_vector = VIRTIO_MSI_NO_VECTOR;
    for (u32 i = 0; i < VNET_NUM_QUEUES; i++) {
        struct vnet_queue *q = &n->queue[i];
        virtq_reset(&q->q);
        q->size = VNET_QUEUE_SIZE;
        q->vector = VIRTIO_MSI_NO_VECTOR;
        q->enabled = false;
        q->desc = q->driver = q->device = 0;
    }
    /* A virtio reset is not a PCI function reset: the MSI-X table and its
     * enable stay as the PCI layer of the guest programmed them (Linux sets
     * them up once per probe), only pending messages go. */
    n->pba = 0;
    n->running = false;
    n->empty_since = 0;
    n->stalled = 0;
    n->short_since = 0;
    n->generation++;
    spin_unlock(&n->lock);
    spin_unlock(&n->tx_lock);
}
