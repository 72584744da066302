/* A virtio 1.x network driver for Isthmus' virtio-net PCI function (virtio
 * v1.2: 3.1 initialisation, 4.1 virtio over PCI, 2.7 split virtqueues, 5.1
 * the network device). Modern device only, one queue pair, no offloads:
 * every frame is a 12-byte struct virtio_net_hdr (all zero on transmit) and
 * the frame, in one descriptor.
 *
 * Rings and buffers are static (.bss, identity-mapped, so an address is its
 * guest-physical address). Receive buffer i and transmit slot i belong to
 * descriptor i of their queue for good. Notifications and interrupts use
 * EVENT_IDX when the device offers it (2.7.7, 2.7.10), the flags otherwise.
 *
 * Ordering (x86 is TSO, SDM Vol. 3A 8.2.2): stores reach the device in program
 * order, so publishing needs only a compiler barrier; a store followed by a
 * load of something the device writes (avail->idx then avail_event,
 * used_event then used->idx) needs a full fence (2.7.13.4, 2.7.7). The ring
 * memory is accessed through volatile pointers so every access happens. */
#include "guest/pci.h"
#include "guest/tg.h"
#include "guest/vnet.h"
#include "guest/x86.h"

#define QMAX              VNET_QUEUE_SIZE
#define RESET_TIMEOUT_MS  1000
#define PCI_BAR(n)        (0x10 + 4 * (n))
#define PCI_NUM_BARS      6
#define PCI_BAR_IO        0x1
#define PCI_BAR_TYPE_MASK 0x6
#define PCI_BAR_MEM64     0x4

/* MSI-X table entries, in the order net/virtio.h gives them. */
enum { MSIX_CONFIG, MSIX_RX, MSIX_TX, MSIX_USED };
static const uint8_t msix_vector[MSIX_USED] = { VEC_NET_CFG, VEC_NET, VEC_NET_TX };

#define BIT64(n) (1ull << (n))
#define WANTED_FEATURES (BIT64(VIRTIO_F_VERSION_1) | BIT64(VIRTIO_RING_F_EVENT_IDX) | \
                         BIT64(VIRTIO_NET_F_MAC) | BIT64(VIRTIO_NET_F_STATUS))

/* One queue's memory, laid out for QMAX entries. A smaller negotiated size n
 * uses the first n of each ring, with used_event at avail ring[n] and
 * avail_event after used ring[n - 1] (2.7.6, 2.7.8). */
struct vq_mem {
    struct virtq_desc desc[QMAX];
    uint16_t avail[VIRTQ_AVAIL_SIZE(QMAX) / 2];
    uint32_t used[(VIRTQ_USED_SIZE(QMAX) + 3) / 4];
} __attribute__((aligned(4096)));
_Static_assert(offsetof(struct vq_mem, desc) % VIRTQ_DESC_ALIGN == 0, "descriptor table alignment");
_Static_assert(offsetof(struct vq_mem, avail) % VIRTQ_AVAIL_ALIGN == 0, "driver area alignment");
_Static_assert(offsetof(struct vq_mem, used) % VIRTQ_USED_ALIGN == 0, "device area alignment");
_Static_assert((QMAX & (QMAX - 1)) == 0 && QMAX <= VIRTQ_MAX_SIZE, "queue size is a power of two");

struct vq {
    uint16_t index;                     /* VNET_RXQ or VNET_TXQ */
    uint16_t size, mask;
    volatile struct virtq_desc *desc;
    volatile uint16_t *avail;           /* [0] flags, [1] idx, [2 + i] ring[i], [2 + size] used_event */
    volatile uint8_t *used;             /* flags, idx, ring of {id, len}, avail_event */
    uintptr_t notify;                   /* where the queue's index is written to notify */
    bool irq;                           /* an MSI-X vector was accepted for the queue */
    uint16_t avail_idx;                 /* what avail->idx was last set to */
    uint16_t kicked;                    /* avail->idx when notifying was last decided */
    uint16_t last_used;                 /* the next used entry to look at */
    uint16_t out;                       /* chains the device holds */
    uint16_t nfree;                     /* transmit: free descriptors, in free[] */
    uint16_t free[QMAX];
    uint8_t chain_n[QMAX];              /* descriptors in the chain headed here; 0: not the device's */
    uint16_t link[QMAX];                /* our own copy of each chain's links */
};

static struct {
    unsigned dev;                       /* device number on bus 0 */
    uintptr_t common, isr, devcfg, notify_base;
    uint32_t notify_mult, notify_len, devcfg_len;
    unsigned msix_cap;
    uint16_t msix_size;
    uint8_t status;                     /* what the driver last wrote to device_status */
    bool event_idx;
    uint64_t features;
    uint8_t mac[ETH_ALEN];
    uint16_t link;
    bool warned_rx, warned_tx;
    struct vq rx, tx;
} vn;

static uint64_t kicks;                  /* kept across re-initialisations */
bool vnet_quiet;

/* The driver's lines, unless vnet_quiet (the abuse scenario re-initialises
 * the device against its own interference, thousands of times). */
static void __attribute__((format(printf, 1, 2))) nsay(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!vnet_quiet)
        vsay(fmt, ap);
    va_end(ap);
}

static struct vq_mem rx_mem, tx_mem;
static uint8_t rx_buf[QMAX][VNET_BUF_SIZE] __attribute__((aligned(4096)));
static uint8_t tx_buf[QMAX][VNET_BUF_SIZE] __attribute__((aligned(4096)));

/* ---- common configuration: each field accessed exactly as wide as it is (4.1.3.1) ---- */
static uint8_t cc_read8(unsigned off) { return mmio_read8(vn.common + off); }
static uint16_t cc_read16(unsigned off) { return mmio_read16(vn.common + off); }
static uint32_t cc_read32(unsigned off) { return mmio_read32(vn.common + off); }
static void cc_write8(unsigned off, uint8_t v) { mmio_write8(vn.common + off, v); }
static void cc_write16(unsigned off, uint16_t v) { mmio_write16(vn.common + off, v); }
static void cc_write32(unsigned off, uint32_t v) { mmio_write32(vn.common + off, v); }
/* 64-bit fields as two 32-bit writes, low half first (4.1.3.1). */
static void cc_write64(unsigned off, uint64_t v)
{
    cc_write32(off, (uint32_t)v);
    cc_write32(off + 4, (uint32_t)(v >> 32));
}

static void set_status(uint8_t bit)
{
    vn.status |= bit;
    cc_write8(VPC_STATUS, vn.status);
}

static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    tg_vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    nsay("net: error: %s", why);
    if (vn.status)
        set_status(VIRTIO_STATUS_FAILED);   /* 3.1.1: give up visibly */
    return -1;
}

void *vnet_ring_mem(unsigned q) { return q == VNET_RXQ ? (void *)&rx_mem : (void *)&tx_mem; }
uint8_t vnet_status(void) { return vn.common ? cc_read8(VPC_STATUS) : 0; }
const uint8_t *vnet_mac(void) { return vn.mac; }
uint16_t vnet_link(void) { return vn.link; }
uint64_t vnet_kicks(void) { return kicks; }
uint64_t vnet_interrupts(void) { return net_rx_irqs + net_tx_irqs + net_cfg_irqs; }

static bool reset_device(void)
{
    cc_write8(VPC_STATUS, 0);
    vn.status = 0;
    uint64_t until = tsc_after_ms(RESET_TIMEOUT_MS);
    while (cc_read8(VPC_STATUS) != 0) {
        if (tsc_passed(until))
            return false;
        pause();
    }
    return true;
}

void vnet_reset(void)
{
    if (vn.common && !reset_device())
        nsay("net: warning: device_status did not read 0 within %u ms of the reset", RESET_TIMEOUT_MS);
}

/* ---- the ring fields ---- */
static uint16_t used_idx(const struct vq *q) { return *(volatile uint16_t *)(q->used + VIRTQ_USED_IDX); }
static uint16_t used_flags(const struct vq *q) { return *(volatile uint16_t *)(q->used + VIRTQ_USED_FLAGS); }
static uint16_t avail_event(const struct vq *q)
{
    return *(volatile uint16_t *)(q->used + VIRTQ_USED_RING(q->size));
}
static volatile struct virtq_used_elem *used_elem(const struct vq *q, uint16_t i)
{
    return (volatile struct virtq_used_elem *)(q->used + VIRTQ_USED_RING(i & q->mask));
}
static void set_avail_ring(struct vq *q, uint16_t i, uint16_t id) { q->avail[2 + (i & q->mask)] = id; }

static void set_desc(struct vq *q, uint16_t id, const void *buf, uint32_t len, uint16_t flags)
{
    q->desc[id].addr = (uintptr_t)buf;
    q->desc[id].len = len;
    q->desc[id].flags = flags;
    q->desc[id].next = 0;
}

static void notify(struct vq *q)
{
    mmio_write16(q->notify, q->index);   /* 4.1.4.4.1: the 16-bit queue index */
    kicks++;
}

/* Notifies if the device asked to hear about avail->idx moving from where it
 * was when we last decided (2.7.13.4). */
static void kick_if_needed(struct vq *q)
{
    full_fence();   /* 2.7.13.4: avail->idx visible before avail_event / flags are read */
    bool need = vn.event_idx ? virtq_need_event(avail_event(q), q->avail_idx, q->kicked)
                             : !(used_flags(q) & VIRTQ_USED_F_NO_NOTIFY);
    q->kicked = q->avail_idx;
    if (need)
        notify(q);
}

/* Makes n more ring entries (already written) available. */
static void publish(struct vq *q, uint16_t n)
{
    barrier();  /* descriptors and ring entries before the index (2.7.13.3.1) */
    q->avail_idx += n;
    q->avail[1] = q->avail_idx;
}

/* Asks for an interrupt once the device has used `after` more entries than
 * we have seen (used_event, 2.7.7), then makes sure the request is visible
 * before the caller looks at used->idx again. */
static void irq_on(struct vq *q, uint16_t after)
{
    if (vn.event_idx)
        q->avail[2 + q->size] = (uint16_t)(q->last_used + after - 1);
    else
        q->avail[0] = 0;
    full_fence();
}

/* No interrupt wanted: used_event just behind what the device has passed, so
 * only a wrap of the 16-bit index would reach it; without EVENT_IDX, the flag. */
static void irq_off(struct vq *q)
{
    if (vn.event_idx)
        q->avail[2 + q->size] = (uint16_t)(q->last_used - 1);
    else
        q->avail[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
}

/* ---- discovery ---- */
static bool find_device(void)
{
    for (unsigned dev = 0; dev < 32; dev++) {
        uint32_t id = pci_cfg_read(dev, 0);
        if ((id & 0xffff) == VIRTIO_PCI_VENDOR && id >> 16 == VIRTIO_PCI_DEVICE_NET) {
            vn.dev = dev;
            return true;
        }
    }
    return false;
}

/* Where [off, off + len) of memory BAR n is, mapped; 0 when BAR n is not a
 * memory BAR with an address. The BARs are read, never sized or moved: the
 * hypervisor has placed them. */
static uintptr_t bar_map(unsigned n, uint32_t off, uint32_t len)
{
    if (n >= PCI_NUM_BARS)
        return 0;
    uint32_t lo = pci_cfg_read(vn.dev, PCI_BAR(n));
    if (lo & PCI_BAR_IO)
        return 0;
    uint64_t a = lo & ~0xfull;
    if ((lo & PCI_BAR_TYPE_MASK) == PCI_BAR_MEM64 && n + 1 < PCI_NUM_BARS)
        a |= (uint64_t)pci_cfg_read(vn.dev, PCI_BAR(n + 1)) << 32;
    if (!a)
        return 0;
    mem_map(a + off, len);
    return (uintptr_t)(a + off);
}

/* The virtio structures through their vendor capabilities (4.1.4): the first
 * of each type we can use, ignoring reserved types and BAR numbers; and the
 * MSI-X capability. Isthmus puts them all in BAR0 where net/virtio.h says
 * (anything else gets a warning, and the capabilities win). */
static int read_caps(void)
{
    struct { bool found; uint8_t bar; uint32_t off, len; } cap[VIRTIO_PCI_CAP_PCI_CFG + 1] = { 0 };
    static const uint32_t expect[VIRTIO_PCI_CAP_DEVICE_CFG + 1] = {
        [VIRTIO_PCI_CAP_COMMON_CFG] = VNET_BAR_COMMON, [VIRTIO_PCI_CAP_NOTIFY_CFG] = VNET_BAR_NOTIFY,
        [VIRTIO_PCI_CAP_ISR_CFG] = VNET_BAR_ISR, [VIRTIO_PCI_CAP_DEVICE_CFG] = VNET_BAR_DEVICE,
    };
    unsigned at = pci_cap_first(vn.dev);
    for (unsigned k = 0; at && k < PCI_MAX_CAPS; k++, at = pci_cap_next(vn.dev, at)) {
        uint32_t h = pci_cfg_read(vn.dev, at);
        uint8_t id = h & 0xff, len = (h >> 16) & 0xff, type = (uint8_t)(h >> 24);
        if (id == PCI_CAP_MSIX && !vn.msix_cap)
            vn.msix_cap = at;
        uint8_t bar = pci_cfg_read(vn.dev, at + 4) & 0xff;
        if (id != PCI_CAP_VENDOR || len < VIRTIO_CAP_LEN || type < VIRTIO_PCI_CAP_COMMON_CFG ||
            type > VIRTIO_PCI_CAP_PCI_CFG || cap[type].found || bar >= PCI_NUM_BARS)
            continue;
        if (type == VIRTIO_PCI_CAP_NOTIFY_CFG) {
            if (len < VIRTIO_NOTIFY_CAP_LEN)
                continue;
            vn.notify_mult = pci_cfg_read(vn.dev, at + 16);
        }
        cap[type].found = true;
        cap[type].bar = bar;
        cap[type].off = pci_cfg_read(vn.dev, at + 8);
        cap[type].len = pci_cfg_read(vn.dev, at + 12);
    }
    uintptr_t where[VIRTIO_PCI_CAP_DEVICE_CFG + 1] = { 0 };
    for (unsigned t = VIRTIO_PCI_CAP_COMMON_CFG; t <= VIRTIO_PCI_CAP_DEVICE_CFG; t++) {
        if (!cap[t].found)
            return fail("no virtio capability of type %u", t);
        where[t] = bar_map(cap[t].bar, cap[t].off, cap[t].len);
        if (!where[t])
            return fail("virtio structure %u: BAR%u is not a placed memory BAR", t, cap[t].bar);
        if (cap[t].bar != 0 || cap[t].off != expect[t])
            nsay("net: warning: virtio structure %u at BAR%u + 0x%x, net/virtio.h says BAR0 + 0x%x", t, cap[t].bar,
                cap[t].off, expect[t]);
    }
    if (cap[VIRTIO_PCI_CAP_COMMON_CFG].len < VPC_COMMON_LEN)
        return fail("common configuration of %u bytes, too short", cap[VIRTIO_PCI_CAP_COMMON_CFG].len);
    if (vn.notify_mult != VNET_NOTIFY_MULT)
        nsay("net: warning: notify_off_multiplier %u, net/virtio.h says %u", vn.notify_mult, VNET_NOTIFY_MULT);
    vn.common = where[VIRTIO_PCI_CAP_COMMON_CFG];
    vn.notify_base = where[VIRTIO_PCI_CAP_NOTIFY_CFG];
    vn.notify_len = cap[VIRTIO_PCI_CAP_NOTIFY_CFG].len;
    vn.isr = where[VIRTIO_PCI_CAP_ISR_CFG];   /* unused: with MSI-X the ISR is not read */
    vn.devcfg = where[VIRTIO_PCI_CAP_DEVICE_CFG];
    vn.devcfg_len = cap[VIRTIO_PCI_CAP_DEVICE_CFG].len;
    return 0;
}

/* MSI-X (PCI 3.0 6.8.2): entries 0-2 to this vCPU's APIC ID with our vectors,
 * unmasked, then the function enabled. Without it the queues are polled. */
static void msix_setup(void)
{
    vn.msix_size = 0;
    if (!vn.msix_cap) {
        nsay("net: warning: no MSI-X capability, polling");
        return;
    }
    uint16_t ctrl = (uint16_t)(pci_cfg_read(vn.dev, vn.msix_cap) >> 16);
    uint32_t table = pci_cfg_read(vn.dev, vn.msix_cap + 4);
    uint32_t pba = pci_cfg_read(vn.dev, vn.msix_cap + 8);
    uint16_t size = (ctrl & MSIX_TSIZE_MASK) + 1;
    uintptr_t t = bar_map(table & MSIX_BIR_MASK, table & ~MSIX_BIR_MASK, size * MSIX_ENTRY_SIZE);
    if (!t) {
        nsay("net: warning: MSI-X table (0x%x) not in a placed memory BAR, polling", table);
        return;
    }
    if (table != VNET_BAR_MSIX_TABLE || pba != VNET_BAR_MSIX_PBA || size != VNET_MSIX_VECTORS)
        nsay("net: warning: MSI-X table 0x%x PBA 0x%x size %u, net/virtio.h says 0x%x 0x%x %u (offset | BAR)",
            table, pba, size, VNET_BAR_MSIX_TABLE, VNET_BAR_MSIX_PBA, VNET_MSIX_VECTORS);
    for (unsigned e = 0; e < MSIX_USED && e < size; e++) {
        uintptr_t ent = t + e * MSIX_ENTRY_SIZE;
        mmio_write32(ent + MSIX_ENTRY_ADDR_LO, MSI_ADDR(apic_id()));
        mmio_write32(ent + MSIX_ENTRY_ADDR_HI, 0);
        mmio_write32(ent + MSIX_ENTRY_DATA, msix_vector[e]);   /* fixed, edge */
        mmio_write32(ent + MSIX_ENTRY_CTRL, mmio_read32(ent + MSIX_ENTRY_CTRL) & ~MSIX_ENTRY_MASKED);
    }
    pci_cfg_write16(vn.dev, vn.msix_cap + 2, (uint16_t)((ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_MASKALL));
    vn.msix_size = size;
}

/* Writes an MSI-X entry number to config_msix_vector or (for the selected
 * queue) queue_msix_vector and reads it back: NO_VECTOR means refused (4.1.5.1.2). */
static bool set_vector(unsigned reg, uint16_t entry, const char *what)
{
    uint16_t v = entry < vn.msix_size ? entry : VIRTIO_MSI_NO_VECTOR;
    cc_write16(reg, v);
    uint16_t got = cc_read16(reg);
    if (v != VIRTIO_MSI_NO_VECTOR && got != v)
        nsay("net: warning: %s MSI-X vector %u refused (reads 0x%x), polling", what, v, got);
    return v != VIRTIO_MSI_NO_VECTOR && got == v;
}

/* 4.1.5.1.3: select, size, vector, the three areas, enable. */
static int setup_queue(struct vq *q, uint16_t index, struct vq_mem *m, uint16_t entry)
{
    cc_write16(VPC_Q_SELECT, index);
    uint16_t max = cc_read16(VPC_Q_SIZE);
    if (!max)
        return fail("queue %u not available (queue_size 0)", index);
    if (cc_read16(VPC_Q_ENABLE))
        return fail("queue %u enabled after a reset", index);
    uint16_t n = QMAX;
    while (n > max)
        n >>= 1;
    if (n != max)
        cc_write16(VPC_Q_SIZE, n);

    memset(m, 0, sizeof(*m));
    memset(q, 0, sizeof(*q));
    q->index = index;
    q->size = n;
    q->mask = n - 1;
    q->desc = m->desc;
    q->avail = m->avail;
    q->used = (volatile uint8_t *)m->used;
    q->irq = set_vector(VPC_Q_MSIX_VECTOR, entry, index == VNET_RXQ ? "receive queue" : "transmit queue");

    uint64_t off = (uint64_t)cc_read16(VPC_Q_NOTIFY_OFF) * vn.notify_mult;
    if (off + 2 > vn.notify_len)
        return fail("queue %u: notify offset 0x%lx outside the notify structure", index, off);
    q->notify = vn.notify_base + off;
    cc_write64(VPC_Q_DESC, (uintptr_t)m->desc);
    cc_write64(VPC_Q_DRIVER, (uintptr_t)m->avail);
    cc_write64(VPC_Q_DEVICE, (uintptr_t)m->used);
    cc_write16(VPC_Q_ENABLE, 1);
    return 0;
}

/* Every receive buffer made available; the notification waits for DRIVER_OK
 * (3.1.1: none before it). */
static void post_rx(void)
{
    struct vq *q = &vn.rx;
    for (uint16_t i = 0; i < q->size; i++) {
        set_desc(q, i, rx_buf[i], VNET_BUF_SIZE, VIRTQ_DESC_F_WRITE);
        q->chain_n[i] = 1;
        set_avail_ring(q, i, i);
    }
    q->out = q->size;
    publish(q, q->size);
}

static void init_tx(void)
{
    struct vq *q = &vn.tx;
    for (uint16_t i = 0; i < q->size; i++)
        q->free[q->nfree++] = (uint16_t)(q->size - 1 - i);
    irq_off(q);
}

/* The MAC and link status, consistently (config_generation, 2.5.1 / 4.1.4.3.2). */
static void read_config(void)
{
    uint8_t gen;
    do {
        gen = cc_read8(VPC_CFG_GENERATION);
        for (unsigned i = 0; i < ETH_ALEN; i++)
            vn.mac[i] = mmio_read8(vn.devcfg + offsetof(struct virtio_net_config, mac) + i);
        vn.link = VIRTIO_NET_S_LINK_UP;   /* 5.1.4: assume up without VIRTIO_NET_F_STATUS */
        if ((vn.features & BIT64(VIRTIO_NET_F_STATUS)) &&
            vn.devcfg_len >= offsetof(struct virtio_net_config, status) + sizeof(uint16_t))
            vn.link = mmio_read16(vn.devcfg + offsetof(struct virtio_net_config, status));
    } while (gen != cc_read8(VPC_CFG_GENERATION));
}

int vnet_init(void)
{
    memset(&vn, 0, sizeof(vn));
    if (!find_device())
        return fail("no virtio-net device (%04x:%04x) on bus 0", VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_NET);
    uint16_t cmd = (uint16_t)pci_cfg_read(vn.dev, 4);
    pci_cfg_write(vn.dev, 4, cmd | PCI_CMD_MEM | PCI_CMD_MASTER);   /* status half 0: clears nothing */
    if (read_caps() < 0)
        return -1;

    /* 3.1.1 steps 1-6 */
    if (!reset_device())
        return fail("device_status did not read 0 within %u ms of the reset", RESET_TIMEOUT_MS);
    set_status(VIRTIO_STATUS_ACKNOWLEDGE);
    set_status(VIRTIO_STATUS_DRIVER);
    cc_write32(VPC_DFSELECT, 0);
    uint64_t offered = cc_read32(VPC_DF);
    cc_write32(VPC_DFSELECT, 1);
    offered |= (uint64_t)cc_read32(VPC_DF) << 32;
    if (!(offered & BIT64(VIRTIO_F_VERSION_1)))
        return fail("VIRTIO_F_VERSION_1 not offered (features 0x%lx)", offered);
    vn.features = offered & WANTED_FEATURES;
    vn.event_idx = vn.features & BIT64(VIRTIO_RING_F_EVENT_IDX);
    cc_write32(VPC_GFSELECT, 0);
    cc_write32(VPC_GF, (uint32_t)vn.features);
    cc_write32(VPC_GFSELECT, 1);
    cc_write32(VPC_GF, (uint32_t)(vn.features >> 32));
    set_status(VIRTIO_STATUS_FEATURES_OK);
    if (!(cc_read8(VPC_STATUS) & VIRTIO_STATUS_FEATURES_OK))
        return fail("the device refused FEATURES_OK (features 0x%lx)", vn.features);

    /* step 7: interrupts, queues, configuration */
    msix_setup();
    set_vector(VPC_MSIX_CONFIG, MSIX_CONFIG, "config");
    if (cc_read16(VPC_NUM_QUEUES) < VNET_NUM_QUEUES)
        return fail("num_queues %u, need %u", cc_read16(VPC_NUM_QUEUES), VNET_NUM_QUEUES);
    if (setup_queue(&vn.rx, VNET_RXQ, &rx_mem, MSIX_RX) < 0 || setup_queue(&vn.tx, VNET_TXQ, &tx_mem, MSIX_TX) < 0)
        return -1;
    post_rx();
    init_tx();
    if ((vn.features & BIT64(VIRTIO_NET_F_MAC)) && vn.devcfg_len >= ETH_ALEN) {
        read_config();
    } else {
        static const uint8_t made_up[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x01 };   /* locally administered */
        memcpy(vn.mac, made_up, ETH_ALEN);
        vn.link = VIRTIO_NET_S_LINK_UP;
        nsay("net: warning: the device offers no MAC, using 02:00:00:00:00:01");
    }

    /* step 8, then the receive buffers' notification */
    set_status(VIRTIO_STATUS_DRIVER_OK);
    kick_if_needed(&vn.rx);
    uint8_t st = cc_read8(VPC_STATUS);
    if (st & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED))
        return fail("device_status 0x%x after DRIVER_OK", st);
    return 0;
}

/* ---- transmit ---- */

/* Takes back every chain the device has returned. */
static void tx_reclaim(void)
{
    struct vq *q = &vn.tx;
    uint16_t end = used_idx(q);
    barrier();  /* the index before the entries it covers (2.7.14) */
    for (; q->last_used != end; q->last_used++) {
        uint32_t id = used_elem(q, q->last_used)->id;
        if (id >= q->size || !q->chain_n[id]) {
            if (!vn.warned_tx)
                nsay("net: warning: the device returned transmit descriptor %u, which it does not hold", id);
            vn.warned_tx = true;
            continue;
        }
        uint16_t d = (uint16_t)id;
        for (unsigned k = 0; k < q->chain_n[id]; k++, d = q->link[d])
            q->free[q->nfree++] = d;
        q->chain_n[id] = 0;
        q->out--;
    }
}

void vnet_tx_wait(unsigned want)
{
    struct vq *q = &vn.tx;
    if (want > q->out)
        want = q->out;
    if (!want)
        return;
    if (!q->irq) {
        delay_us(10);
        return;
    }
    cli();
    irq_on(q, (uint16_t)want);
    if ((uint16_t)(used_idx(q) - q->last_used) < want)
        sti_hlt();   /* the completion interrupt, or any other */
    else
        sti();
    irq_off(q);
}

unsigned vnet_send(unsigned n, vnet_fill_fn *fill, void *ctx)
{
    struct vq *q = &vn.tx;
    tx_reclaim();
    if (!q->nfree) {
        vnet_tx_wait(n);
        tx_reclaim();
    }
    if (n > q->nfree)
        n = q->nfree;
    for (unsigned k = 0; k < n; k++) {
        uint16_t id = q->free[--q->nfree];
        uint8_t *buf = tx_buf[id];
        memset(buf, 0, VNET_HDR_LEN);
        uint32_t len = fill(ctx, k, buf + VNET_HDR_LEN);
        set_desc(q, id, buf, (uint32_t)VNET_HDR_LEN + len, 0);
        q->chain_n[id] = 1;
        q->out++;
        set_avail_ring(q, (uint16_t)(q->avail_idx + k), id);
    }
    if (n) {
        publish(q, (uint16_t)n);
        kick_if_needed(q);
    }
    return n;
}

bool vnet_tx_flush(uint64_t timeout_ms)
{
    uint64_t until = tsc_after_ms(timeout_ms);
    for (;;) {
        tx_reclaim();
        if (!vn.tx.out)
            return true;
        if (tsc_passed(until))
            return false;
        vnet_tx_wait(vn.tx.out);
    }
}

/* ---- receive ---- */

unsigned vnet_poll(vnet_rx_fn *rx, void *ctx)
{
    struct vq *q = &vn.rx;
    uint16_t done[VNET_RX_BUDGET];
    unsigned got = 0, repost = 0;
    uint16_t end = used_idx(q);
    barrier();  /* the index before the entries and buffers it covers (2.7.14) */
    for (; q->last_used != end && got < VNET_RX_BUDGET; q->last_used++, got++) {
        volatile struct virtq_used_elem *e = used_elem(q, q->last_used);
        uint32_t id = e->id, len = e->len;
        if (id >= q->size || !q->chain_n[id]) {
            if (!vn.warned_rx)
                nsay("net: warning: the device returned receive descriptor %u, which it does not hold", id);
            vn.warned_rx = true;
            rx(ctx, NULL, 0, false);
            continue;
        }
        q->chain_n[id] = 0;
        done[repost++] = (uint16_t)id;
        const struct virtio_net_hdr *h = (const void *)rx_buf[id];
        /* 5.1.6.4.1: without MRG_RXBUF the device sets num_buffers to 1. */
        bool ok = len >= VNET_HDR_LEN && len <= VNET_BUF_SIZE && h->num_buffers == 1;
        if (!ok && !vn.warned_rx)
            nsay("net: warning: malformed receive entry: length %u, num_buffers %u (counted bad)", len,
                len >= VNET_HDR_LEN ? h->num_buffers : 0);
        vn.warned_rx |= !ok;
        rx(ctx, rx_buf[id] + VNET_HDR_LEN, ok ? len - (uint32_t)VNET_HDR_LEN : 0, ok);
    }
    /* The buffers go back as one batch, with one notification if the device asked. */
    for (unsigned k = 0; k < repost; k++) {
        set_desc(q, done[k], rx_buf[done[k]], VNET_BUF_SIZE, VIRTQ_DESC_F_WRITE);
        q->chain_n[done[k]] = 1;
        set_avail_ring(q, (uint16_t)(q->avail_idx + k), done[k]);
    }
    if (repost) {
        publish(q, (uint16_t)repost);
        kick_if_needed(q);
    }
    return got;
}

void vnet_wait_rx(void)
{
    struct vq *q = &vn.rx;
    if (!q->irq) {
        delay_us(10);
        return;
    }
    cli();
    irq_on(q, 1);
    if (used_idx(q) == q->last_used)
        sti_hlt();   /* the receive interrupt, or any other (the tick) */
    else
        sti();
    irq_off(q);      /* no more while we are busy taking frames */
}

/* ---- hand-made chains (net-corrupt) ---- */

bool vnet_raw_take(struct vnet_raw *r, unsigned n)
{
    struct vq *q = &vn.tx;
    if (!n || n > VNET_RAW_MAX || n > q->size)
        return false;
    uint64_t until = tsc_after_ms(1000);
    for (tx_reclaim(); q->nfree < n; tx_reclaim()) {
        if (tsc_passed(until))
            return false;
        vnet_tx_wait(1);
    }
    r->n = n;
    for (unsigned k = 0; k < n; k++) {
        r->id[k] = q->free[--q->nfree];
        r->d[k] = &q->desc[r->id[k]];
        memset(tx_buf[r->id[k]], 0, 64);
        set_desc(q, r->id[k], tx_buf[r->id[k]], 64, 0);
        if (k)
            q->link[r->id[k - 1]] = r->id[k];
    }
    q->chain_n[r->id[0]] = (uint8_t)n;
    q->out++;
    return true;
}

void vnet_raw_post(const struct vnet_raw *r)
{
    struct vq *q = &vn.tx;
    set_avail_ring(q, q->avail_idx, r->id[0]);
    publish(q, 1);
    full_fence();
    q->kicked = q->avail_idx;
    notify(q);   /* always: the point is to make the device look at it */
}

bool vnet_raw_returned(const struct vnet_raw *r)
{
    tx_reclaim();
    return !vn.tx.chain_n[r->id[0]];
}

uint16_t vnet_raw_avail_jump(uint16_t beyond)
{
    struct vq *q = &vn.tx;
    uint16_t idx = (uint16_t)(q->avail_idx + q->size + beyond);
    barrier();
    q->avail[1] = idx;
    full_fence();
    notify(q);
    return idx;
}
