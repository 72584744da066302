/* The abuse scenario: a hostile neighbour. Every vCPU of the partition runs
 * randomised operations from one seeded PRNG stream each (xorshift64, seed=,
 * printed first so a failure can be replayed), racing the others on the one
 * NIC: bad descriptors and chains, avail-ring corruption, rings at odd
 * addresses, resets mid-flight, random BAR0 register, MSI-X table, PBA, BAR
 * and configuration-space writes, oversized frames; and random port I/O,
 * RDMSR/WRMSR, local APIC page accesses and hypercalls.
 *
 * It must hurt only what is not its own, and never itself beyond recovery:
 * - the CPU touches only RAM, the NIC's BAR0 (under bar_lock: BAR and command
 *   writes, which move or unmap it, take it exclusively and are undone before
 *   it is released) and the local APIC page; no string I/O;
 * - the device may write (receive buffers, used rings) only into the DMA arena
 *   at the top of RAM, and read frames only from the stage, which holds only
 *   this guest's own frames (its MAC as source, never ethertype 0x88b5, the
 *   test frames, never the receiver's MAC), so it cannot spoof a neighbour;
 * - an interrupt it can send itself (MSI-X, IPI, LVT) has a vector of
 *   0x51-0x53 or 0x60-0x6f, fixed or lowest priority, or is an NMI (the hook
 *   counts it); no INIT or SIPI to its own vCPUs; the APIC registers that
 *   would stop a vCPU (SVR, TPR, LVT timer, ...) are put back at once;
 * - no WRMSR of EFER or the TSC; no port of its own UART, PCI configuration
 *   (that goes through the locked configuration path) or sleep register;
 * - hypercall pointers point at the DMA arena, page 0 or outside RAM, and a
 *   console write that would succeed writes a whole line.
 * The RAM layout from the top: 64 KiB edge (0x02 bytes), DMA arena to 4 MiB,
 * stage (0x02 bytes and frames) to 6 MiB, ring arena (receive, transmit
 * halves) to 8 MiB. */
#pragma GCC optimize("Os") /* the image has a size limit (guest.mk) */
#include "guest/pci.h"
#include "guest/tg.h"
#include "guest/vnet.h"
#include "guest/x86.h"

#define MAXV     8   /* vCPUs that take part */
#define TICK_MS  10  /* each vCPU's APIC timer: bounds every sleep */
#define EDGE     0x10000ull
#define DMA_TOP  (4 * MiB)
#define STAGE    (2 * MiB)
#define RINGS    (2 * MiB)
#define ROOM     0x11000ull  /* the largest frame a device may copy, and some */
#define OWN_ETH  0x88b8      /* the ethertype of its frames */

enum kind { K_DESC, K_AVAIL, K_RING, K_RESET, K_REG, K_MSIX, K_CFG, K_BAR, K_SEND, K_BIG, K_INIT, K_PIO, K_MSR,
            K_APIC, K_HC, K_N };
static const char *const kname[K_N] = { "desc", "avail", "ring", "reset", "reg", "msix", "cfg", "bar",
                                        "send", "big", "init", "pio", "msr", "apic", "hc" };
static const uint8_t weight[K_N] = { 10, 6, 3, 3, 10, 6, 5, 2, 8, 3, 3, 10, 10, 10, 10 };
#define NIC_KINDS K_PIO /* the kinds before it need the NIC */

struct av {
    uint64_t rng, ops, n[K_N];
    uint64_t gp, hc_err, init_fail, frames, big, rx;
    bool done;
};
static struct av av[MAXV];

static struct {
    uintptr_t bar;                   /* NIC BAR0, 0: no NIC operations */
    unsigned dev, msix;              /* its device number, MSI-X capability */
    uint32_t bars[6], cmd;
    uint64_t dma, dma_len, stage, stage_len, rings, outside;
    uint16_t sleep;
    uint8_t mac[6];
} A;
static volatile uint32_t drv_lock, bar_writer, bar_readers;
static volatile uint64_t nmis;

/* ---- locks ---- */
static void take(volatile uint32_t *l)
{
    while (__atomic_exchange_n(l, 1, __ATOMIC_SEQ_CST))
        pause();
}
static void drop(volatile uint32_t *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

static bool nic_begin(void)
{
    for (;;) {
        while (__atomic_load_n(&bar_writer, __ATOMIC_SEQ_CST))
            pause();
        __atomic_add_fetch(&bar_readers, 1, __ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&bar_writer, __ATOMIC_SEQ_CST))
            break;
        __atomic_sub_fetch(&bar_readers, 1, __ATOMIC_SEQ_CST);
    }
    if (A.bar)
        return true;
    __atomic_sub_fetch(&bar_readers, 1, __ATOMIC_SEQ_CST);
    return false;
}
static void nic_end(void) { __atomic_sub_fetch(&bar_readers, 1, __ATOMIC_SEQ_CST); }
static void bar_excl(void)
{
    take(&bar_writer);
    while (__atomic_load_n(&bar_readers, __ATOMIC_SEQ_CST))
        pause();
}

/* ---- randomness ---- */
static uint64_t rnd(struct av *c)
{
    uint64_t x = c->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return c->rng = x;
}
static uint32_t below(struct av *c, uint32_t n) { return (uint32_t)(rnd(c) % n); }
static bool coin(struct av *c, unsigned pct) { return below(c, 100) < pct; }
static uint8_t safe_vec(struct av *c)
{
    unsigned r = below(c, 19);
    return (uint8_t)(r < 3 ? VEC_NET + r : VEC_ABUSE + r - 3);
}

/* ---- accesses ---- */
static void outw(uint16_t p, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(p)); }
static uint16_t inw(uint16_t p)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p));
    return v;
}
static uint32_t pio(uint16_t port, unsigned w, bool wr, uint32_t v)
{
    if (wr) {
        if (w == 1)
            outb(port, (uint8_t)v);
        else if (w == 2)
            outw(port, (uint16_t)v);
        else
            outl(port, v);
        return 0;
    }
    return w == 1 ? inb(port) : w == 2 ? inw(port) : inl(port);
}
static uint32_t mmio(uintptr_t a, unsigned w, bool wr, uint32_t v)
{
    if (wr) {
        if (w == 1)
            mmio_write8(a, (uint8_t)v);
        else if (w == 2)
            mmio_write16(a, (uint16_t)v);
        else
            mmio_write32(a, v);
        return 0;
    }
    return w == 1 ? mmio_read8(a) : w == 2 ? mmio_read16(a) : mmio_read32(a);
}
static unsigned width(struct av *c) { return 1u << below(c, 3); }
static void reg(unsigned off, unsigned w, uint32_t v) { mmio(A.bar + off, w, true, v); }
static void notify(unsigned q) { mmio_write16(A.bar + VNET_BAR_NOTIFY + 4 * (q & 1), (uint16_t)q); }

/* A raw configuration access through the ports, whole or part of a dword. */
static uint32_t cfg(unsigned dev, unsigned fn, unsigned off, unsigned w, bool wr, uint32_t v)
{
    pci_lock();
    outl(0xcf8, 0x80000000u | (dev & 31) << 11 | (fn & 7) << 8 | (off & 0xfc));
    v = pio((uint16_t)(0xcfc + (off & 3)), w, wr, v);
    pci_unlock();
    return v;
}

/* ---- the NIC: buffers and rings ---- */

/* Where a descriptor points and how long: see the top of the file. */
static void dbuf(struct av *c, bool wr, uint64_t *addr, uint32_t *len)
{
    static const uint32_t lens[] = { 0, 1, 11, 12, 13, 59, 60, 1514, 1526, 2048, 9018, 65535, 65566, 65567,
                                     0x100000, 0x7fffffff, 0xffffffff };
    uint32_t l = coin(c, 20) ? (uint32_t)rnd(c) : lens[below(c, ARRAY_SIZE(lens))];
    uint64_t a, e = tg.ram_end;
    switch (below(c, 12)) {
    case 0: a = e + (rnd(c) & 0xffff); break;                         /* just past the end */
    case 1:                                                           /* across the end */
        a = e - 1 - below(c, 4096);
        if (l <= e - a)
            l = (uint32_t)(e - a) + 1 + below(c, 4096);
        break;
    case 2: a = A.outside + (rnd(c) & 0xfffff000); break;
    case 3: a = rnd(c) | 1ull << 63; break;                           /* non-canonical */
    case 4: a = ~0ull - below(c, 4096); break;                        /* wraps around */
    case 5: a = A.bar + (rnd(c) & 0x7fff); break;                     /* the NIC's own registers */
    case 6: a = 1ull << (32 + below(c, 20)); break;                   /* above 4 GiB, up to 2^51 */
    default:
        a = wr ? A.dma + rnd(c) % (A.dma_len - ROOM) : A.stage + rnd(c) % (A.stage_len - ROOM);
        break;
    }
    *addr = a;
    *len = l;
}

static void desc_at(struct av *c, volatile struct virtq_desc *d, bool wr, uint16_t flags, uint16_t next)
{
    uint64_t a;
    uint32_t l;
    dbuf(c, wr || (flags & VIRTQ_DESC_F_WRITE), &a, &l);
    d->addr = a;
    d->len = l;
    d->flags = flags;
    d->next = next;
}

/* Queue q's rings as the driver placed them (vnet_ring_mem). */
static volatile struct virtq_desc *ring_desc(unsigned q) { return vnet_ring_mem(q); }
static volatile uint16_t *ring_avail(unsigned q)
{
    return (volatile uint16_t *)((uint8_t *)vnet_ring_mem(q) + 16 * VNET_QUEUE_SIZE);
}

static void publish(unsigned q, uint16_t head)
{
    volatile uint16_t *av_ = ring_avail(q);
    uint16_t i = av_[1];
    av_[2 + (i & (VNET_QUEUE_SIZE - 1))] = head;
    barrier();
    av_[1] = (uint16_t)(i + 1);
    full_fence();
    notify(q);
}

/* Bad descriptors and chains, published and notified. */
static void op_desc(struct av *c)
{
    const unsigned Q = VNET_QUEUE_SIZE;
    unsigned q = coin(c, 60) ? VNET_TXQ : VNET_RXQ, s = below(c, Q), n = 1, kind = below(c, 6);
    bool rx = q == VNET_RXQ;
    volatile struct virtq_desc *d = ring_desc(q);
    switch (kind) {
    case 0: /* one descriptor, anything (outside RAM, huge, zero ...) */
        desc_at(c, &d[s], rx, coin(c, 20) ? (uint16_t)rnd(c) : rx ? VIRTQ_DESC_F_WRITE : 0, 0);
        break;
    case 1: /* a loop: to itself, or two at each other */
        n = 1 + below(c, 2);
        for (unsigned k = 0; k < n; k++)
            desc_at(c, &d[(s + k) % Q], rx, VIRTQ_DESC_F_NEXT | (rx ? VIRTQ_DESC_F_WRITE : 0),
                    (uint16_t)((s + (k + 1) % n) % Q));
        break;
    case 2: /* more than 64 descriptors */
        n = 65 + below(c, 20);
        for (unsigned k = 0; k < n; k++) {
            uint16_t fl = (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0) | (rx ? VIRTQ_DESC_F_WRITE : 0);
            desc_at(c, &d[(s + k) % Q], rx, fl, (uint16_t)((s + k + 1) % Q));
            d[(s + k) % Q].len = 16;
        }
        break;
    case 3: /* next out of range */
        desc_at(c, &d[s], rx, VIRTQ_DESC_F_NEXT | (rx ? VIRTQ_DESC_F_WRITE : 0), (uint16_t)(Q + below(c, 65536 - Q)));
        break;
    case 4: /* writable, then readable */
        desc_at(c, &d[s], true, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, (uint16_t)((s + 1) % Q));
        desc_at(c, &d[(s + 1) % Q], rx, 0, 0);
        break;
    default: /* indirect (not offered) */
        desc_at(c, &d[s], rx, VIRTQ_DESC_F_INDIRECT, 0);
        break;
    }
    publish(q, coin(c, 95) ? (uint16_t)s : (uint16_t)rnd(c));
}

/* The driver area: the index jumping, heads out of range, flags, used_event;
 * sometimes the device's own used ring. */
static void op_avail(struct av *c)
{
    unsigned q = below(c, 2);
    volatile uint16_t *a = ring_avail(q);
    switch (below(c, 6)) {
    case 0: a[1] = (uint16_t)(a[1] + 1 + below(c, 3 * VNET_QUEUE_SIZE)); break;
    case 1: a[1] = (uint16_t)rnd(c); break;
    case 2: a[2 + below(c, VNET_QUEUE_SIZE)] = (uint16_t)rnd(c); break;
    case 3: a[0] = (uint16_t)rnd(c); break;
    case 4: a[2 + VNET_QUEUE_SIZE] = (uint16_t)rnd(c); break;
    default: /* the used ring's flags, index, first entry */
        ((volatile uint16_t *)((uintptr_t)a + ALIGN_UP(VIRTQ_AVAIL_SIZE(VNET_QUEUE_SIZE), 4)))[below(c, 4)] =
            (uint16_t)rnd(c);
        break;
    }
    full_fence();
    if (coin(c, 80))
        notify(q);
}

/* Where a ring may go: its half of the ring arena (often misaligned; the
 * even half holds only receive descriptors, the odd one only transmit ones),
 * or outside RAM, across its end, the NIC's registers, non-canonical, and a
 * receive ring page 0 (a transmit ring there could send what it received). */
static uint64_t ring_at(struct av *c, unsigned q)
{
    switch (below(c, 10)) {
    case 0: return A.outside;
    case 1: return tg.ram_end - 16 - below(c, 1024);
    case 2: return q & 1 ? A.outside + 0x1000 : below(c, 64) * 16;
    case 3: return A.bar + 0x1000 * below(c, 8);
    case 4: return rnd(c) | 1ull << 63;
    default:
        return A.rings + (q & 1) * (RINGS / 2) + (rnd(c) % (RINGS / 2 - 0x4000) & (coin(c, 50) ? ~0xfull : ~0ull));
    }
}

/* Resets the device and brings one queue up by hand, at odd places. */
static void op_ring(struct av *c)
{
    static const uint16_t sizes[] = { 256, 128, 64, 1, 3, 0, 512, 0xffff };
    reg(VPC_STATUS, 1, 0);
    for (int i = 0; i < 100 && mmio_read8(A.bar + VPC_STATUS); i++)
        pause();
    reg(VPC_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    reg(VPC_GFSELECT, 4, 1);
    reg(VPC_GF, 4, coin(c, 80) ? 1 : (uint32_t)rnd(c));
    reg(VPC_GFSELECT, 4, 0);
    reg(VPC_GF, 4, coin(c, 70) ? 1u << VIRTIO_RING_F_EVENT_IDX | 1u << VIRTIO_NET_F_MAC : (uint32_t)rnd(c));
    reg(VPC_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    unsigned q = coin(c, 90) ? below(c, 2) : (uint16_t)rnd(c);
    reg(VPC_Q_SELECT, 2, q);
    if (coin(c, 30))
        reg(VPC_Q_SIZE, 2, sizes[below(c, ARRAY_SIZE(sizes))]);
    unsigned n = mmio_read16(A.bar + VPC_Q_SIZE);
    n = n && n <= VNET_QUEUE_SIZE ? n : VNET_QUEUE_SIZE;
    uint64_t at[3];
    for (unsigned k = 0; k < 3; k++) {
        at[k] = ring_at(c, q);
        /* What lies in the ring arena is made safe: descriptors of this
         * queue's kind, an index and heads that make the device look. */
        if (at[k] >= A.rings && at[k] < A.rings + RINGS) {
            if (k == 0)
                for (unsigned i = 0; i < n; i++)
                    desc_at(c, (volatile struct virtq_desc *)(uintptr_t)at[k] + i, !(q & 1),
                            coin(c, 80) ? (q & 1 ? 0 : VIRTQ_DESC_F_WRITE) : (uint16_t)rnd(c),
                            (uint16_t)below(c, n + 2));
            else if (k == 1)
                for (unsigned i = 0; i < n + 3; i++)
                    ((volatile uint16_t *)(uintptr_t)at[k])[i] = (uint16_t)(i == 1 ? below(c, 2 * n) : below(c, n + 2));
        }
        reg(VPC_Q_DESC + 8 * k, 4, (uint32_t)at[k]);
        reg(VPC_Q_DESC + 8 * k + 4, 4, (uint32_t)(at[k] >> 32));
    }
    reg(VPC_Q_MSIX_VECTOR, 2, below(c, 4));
    reg(VPC_Q_ENABLE, 2, coin(c, 90) ? 1 : (uint16_t)rnd(c));
    reg(VPC_STATUS, 1, 0xf);
    notify(q);
}

static void op_reset(struct av *c)
{
    static const uint8_t st[] = { 0, 0, 0, VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_NEEDS_RESET, VIRTIO_STATUS_FAILED };
    reg(VPC_STATUS, 1, coin(c, 70) ? st[below(c, ARRAY_SIZE(st))] : (uint8_t)rnd(c));
    if (coin(c, 50))
        notify(below(c, 2));
}

/* An MSI-X message that cannot hurt its own vCPUs, whatever address it ends
 * up with: fixed or lowest priority only with a safe vector; NMI, SMI,
 * ExtINT or reserved with anything; never INIT (5) or 6. */
static uint32_t msi_data(struct av *c)
{
    static const uint8_t modes[] = { 0, 0, 0, 1, 1, 2, 3, 4, 7 };
    uint32_t m = modes[below(c, ARRAY_SIZE(modes))];
    uint32_t v = m <= 1 ? safe_vec(c) : (uint8_t)rnd(c);
    return ((uint32_t)rnd(c) & 0xffff0000u) | (uint32_t)(rnd(c) & 0xc000) | m << 8 | v;
}

static uint32_t msi_addr(struct av *c)
{
    uint32_t dest = coin(c, 40) ? tg.cpus[below(c, tg.ncpus)].apic_id : (uint8_t)rnd(c);
    uint32_t a = 0xfee00000u | dest << 12 | ((uint32_t)rnd(c) & 0xc);   /* redirection hint, logical */
    return coin(c, 85) ? a : (uint32_t)rnd(c);
}

static void op_msix(struct av *c)
{
    unsigned e = below(c, 4), f = below(c, 5);
    uintptr_t t = A.bar + VNET_BAR_MSIX_TABLE + e * MSIX_ENTRY_SIZE;
    switch (f) {
    case 0: mmio_write32(t + MSIX_ENTRY_ADDR_LO, msi_addr(c)); break;
    case 1: mmio_write32(t + MSIX_ENTRY_ADDR_HI, coin(c, 80) ? 0 : (uint32_t)rnd(c)); break;
    case 2: mmio_write32(t + MSIX_ENTRY_DATA, msi_data(c)); break;
    case 3: mmio_write32(t + MSIX_ENTRY_CTRL, (uint32_t)rnd(c)); break;
    default: reg(VNET_BAR_MSIX_PBA + below(c, 16), 1, (uint32_t)rnd(c)); break;
    }
    if (coin(c, 30))
        notify(below(c, 2));
}

/* Any register of BAR0 at any width, aligned or not; the MSI-X table only
 * read (op_msix writes it, safely). */
static void op_reg(struct av *c)
{
    static const uint16_t base[] = { VNET_BAR_COMMON, VNET_BAR_COMMON, VNET_BAR_ISR, VNET_BAR_DEVICE,
                                     VNET_BAR_NOTIFY, VNET_BAR_NOTIFY, VNET_BAR_MSIX_PBA, 0 };
    unsigned k = below(c, ARRAY_SIZE(base)), w = width(c);
    unsigned off = k + 1 < ARRAY_SIZE(base) ? base[k] + below(c, k < 2 ? VPC_COMMON_LEN + 8 : 24)
                                             : below(c, VNET_BAR_SIZE - 4);
    if (coin(c, 80))
        off &= ~(w - 1);
    bool wr = coin(c, 70) && !(off + w > VNET_BAR_MSIX_TABLE && off < VNET_BAR_MSIX_TABLE + 64);
    uint32_t v = coin(c, 20) ? (coin(c, 50) ? 0 : ~0u) : (uint32_t)rnd(c);
    mmio(A.bar + off, w, wr, v);
}

/* ---- configuration space and BARs: under bar_lock, undone before it is released ---- */

static void nic_restore(void)
{
    for (unsigned b = 0; b < 6; b++)
        pci_cfg_write(A.dev, 0x10 + 4 * b, A.bars[b]);
    pci_cfg_write(A.dev, 4, A.cmd);
    if (A.msix)
        pci_cfg_write16(A.dev, A.msix + 2, (uint16_t)((pci_cfg_read(A.dev, A.msix) >> 16 | 0x8000) & ~0x4000));
    uint32_t b0 = pci_cfg_read(A.dev, 0x10), cmd = pci_cfg_read(A.dev, 4) & 0xffff;
    if (b0 != A.bars[0] || cmd != A.cmd) {
        say("abuse: warning: BAR0 0x%x command 0x%x after putting back 0x%x 0x%x: no more NIC operations", b0, cmd,
            A.bars[0], A.cmd);
        A.bar = 0;
    }
}

static void op_cfg(struct av *c)
{
    unsigned dev = coin(c, 60) ? A.dev : coin(c, 50) ? 0 : below(c, 32), fn = coin(c, 90) ? 0 : below(c, 8);
    unsigned w = width(c), off = below(c, 256) & (coin(c, 85) ? ~(w - 1) : ~0u);
    uint32_t v = (uint32_t)rnd(c);
    bar_excl();
    switch (below(c, 5)) {
    case 0: /* the address port itself: disabled, reserved bits, narrow */
        pci_lock();
        pio((uint16_t)(0xcf8 + below(c, 4)), w, true, v);
        pio((uint16_t)(0xcfc + below(c, 4)), w, coin(c, 50), (uint32_t)rnd(c));
        pci_unlock();
        break;
    case 1: /* the PCI-config window capability (virtio 4.1.4.9) into BAR0, not the MSI-X table */
        if (dev == A.dev && fn == 0) {
            unsigned o = below(c, VNET_BAR_SIZE);
            if (o >= VNET_BAR_MSIX_TABLE - 4 && o < VNET_BAR_MSIX_TABLE + 64)
                o = VPC_STATUS;
            cfg(dev, 0, 0x94, 4, true, coin(c, 80) ? 0 : (uint32_t)rnd(c));
            cfg(dev, 0, 0x98, 4, true, o);
            cfg(dev, 0, 0x9c, 4, true, coin(c, 80) ? w : (uint32_t)rnd(c));
            cfg(dev, 0, 0xa0, w, coin(c, 60), v);
            break;
        }
        __attribute__((fallthrough));
    default: cfg(dev, fn, off, w, coin(c, 70), v); break;
    }
    nic_restore();
    drop(&bar_writer);
}

static void op_bar(struct av *c)
{
    unsigned b = coin(c, 70) ? 0 : below(c, 7);
    unsigned off = b == 6 ? 0x30 : 0x10 + 4 * b;
    uint32_t old = A.bars[b < 6 ? b : 0];
    const uint32_t vals[] = { ~0u, 0, 0x200000, (uint32_t)tg.ram_end - 0x4000, old + 0x8000 * (1 + below(c, 64)),
                              0xfee00000, 0xfec00000, old | 1, (uint32_t)rnd(c) };
    uint32_t v = vals[below(c, ARRAY_SIZE(vals))];
    bar_excl();
    if (coin(c, 20))
        pci_cfg_write(A.dev, 4, A.cmd & ~(coin(c, 50) ? PCI_CMD_MEM : PCI_CMD_MASTER));
    pci_cfg_write(A.dev, off, v);
    /* A move the bus took (BAR0 reads what was written, decoding on) is
     * somewhere in its window: the device must answer there. */
    uint32_t now = pci_cfg_read(A.dev, 0x10);
    if (b == 0 && now == (v & ~0xfu) && now != old && v != ~0u && (pci_cfg_read(A.dev, 4) & PCI_CMD_MEM))
        (void)mmio_read16(now + VPC_NUM_QUEUES);
    nic_restore();
    drop(&bar_writer);
}

/* ---- the driver (one vCPU at a time): good frames, oversized frames, re-initialisation ---- */

static void on_rx(void *ctx, const uint8_t *f, uint32_t len, bool ok)
{
    (void)f, (void)len, (void)ok;
    ((struct av *)ctx)->rx++;
}

static void put_dst(struct av *c, uint8_t *f, bool may_unicast)
{
    static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
    switch (below(c, may_unicast ? 5 : 4)) {
    case 0: memset(f, 0xff, 6); break;
    case 1: memcpy(f, mcast, 6); break;
    case 2: memcpy(f, A.mac, 6); break;   /* itself: never comes back */
    case 3:                               /* an unknown unicast address: flooded */
        for (int i = 0; i < 6; i++)
            f[i] = (uint8_t)rnd(c);
        f[0] = (uint8_t)((f[0] & 0xfc) | 2);
        break;
    default: memcpy(f, tg.opt.dst, 6); break;
    }
}

static uint32_t fill_junk(void *ctx, unsigned k, uint8_t *f)
{
    static const uint16_t types[] = { OWN_ETH, 0x0800, 0x0806, 0x86dd, 0x8100, 0x88a8, 0x88b6, 0x0000, 0xffff };
    struct av *c = ctx;
    (void)k;
    uint32_t len = coin(c, 70) ? 60 + below(c, 1455) : 14 + below(c, VNET_TX_MAX - 13);
    memset(f + 12, 0x02, len - 12);
    put_dst(c, f, true);
    memcpy(f + 6, A.mac, 6);
    uint16_t t = types[below(c, ARRAY_SIZE(types))];
    f[12] = (uint8_t)(t >> 8);
    f[13] = (uint8_t)t;
    c->frames++;
    return len;
}

static void op_send(struct av *c)
{
    vnet_poll(on_rx, c);
    vnet_send(1 + below(c, 16), fill_junk, c);
}

/* An oversized frame (1515 to 70000 bytes: jumbo, up to 64 KiB, past the
 * device's limit) from the stage, in one to four descriptors. */
static void op_big(struct av *c)
{
    static const uint32_t lo[] = { 1515, 9000, 1515, 65530, 65555 }, span[] = { 534, 19, 64021, 25, 4446 };
    unsigned r = below(c, ARRAY_SIZE(lo)), n = 1 + below(c, 4);
    uint32_t len = lo[r] + below(c, span[r]), tot = (uint32_t)VNET_HDR_LEN + len;
    uint8_t *p = phys(A.stage + (rnd(c) % (A.stage_len - 2 * ROOM) & ~0xfull));
    memset(p, 0, VNET_HDR_LEN);
    uint8_t *f = p + VNET_HDR_LEN;
    put_dst(c, f, false);
    memcpy(f + 6, A.mac, 6);
    f[12] = OWN_ETH >> 8;
    f[13] = OWN_ETH & 0xff;
    struct vnet_raw raw;
    if (!vnet_raw_take(&raw, n))
        return;
    for (unsigned k = 0, at = 0; k < n; k++) {
        uint32_t l = k + 1 < n ? tot / n : tot - at;
        raw.d[k]->addr = (uintptr_t)p + at;
        raw.d[k]->len = l;
        raw.d[k]->flags = k + 1 < n ? VIRTQ_DESC_F_NEXT : 0;
        raw.d[k]->next = k + 1 < n ? raw.id[k + 1] : 0;
        at += l;
    }
    vnet_raw_post(&raw);
    c->big++;
}

static void op_init(struct av *c)
{
    vnet_reset();
    c->init_fail += vnet_init() < 0;
}

/* ---- ports, MSRs, the local APIC, hypercalls ---- */

static bool port_mine(uint16_t p, unsigned w)
{
    uint32_t a = p, b = p + w;
    return (a < 0x400 && b > 0x3f8) || (a < 0xd00 && b > 0xcf8) || (A.sleep && a < A.sleep + 2u && b > A.sleep);
}

static void op_pio(struct av *c)
{
    static const uint16_t ports[] = { 0x20, 0x21, 0x40, 0x43, 0x60, 0x61, 0x64, 0x70, 0x71, 0x80, 0x92, 0xa0,
                                      0xa1, 0xcf9, 0x2f8, 0x3e8, 0x402, 0x4d0, 0x510, 0x511, 0x600, 0x604,
                                      0x608, 0xb000, 0xb004, 0xafe0, 0x5658, 0xc000, 0xfff8 };
    unsigned w = width(c);
    uint16_t p = coin(c, 50) ? ports[below(c, ARRAY_SIZE(ports))] : (uint16_t)rnd(c);
    if (port_mine(p, w))
        return;
    pio(p, w, coin(c, 50), p == 0x5658 ? 0x564d5868 : (uint32_t)rnd(c));
}

/* RDMSR/WRMSR; a #GP (or #UD) on one is skipped by hook() with RSI set. */
static bool msr(uint32_t m, bool wr, uint64_t *v)
{
    uint64_t fault = 0;
    uint32_t lo = (uint32_t)*v, hi = (uint32_t)(*v >> 32);
    if (wr)
        __asm__ volatile("wrmsr" : "+S"(fault) : "a"(lo), "d"(hi), "c"(m) : "memory");
    else
        __asm__ volatile("rdmsr" : "+a"(lo), "+d"(hi), "+S"(fault) : "c"(m) : "memory");
    *v = (uint64_t)hi << 32 | lo;
    return !fault;
}

static void op_msr(struct av *c)
{
    static const uint32_t msrs[] = { 0x10, 0x1b, 0x3a, 0x48, 0x49, 0x79, 0x8b, 0xc1, 0xe7, 0xe8, 0xfe, 0x10a,
                                     0x174, 0x176, 0x179, 0x17a, 0x186, 0x199, 0x1a0, 0x1d9, 0x277, 0x2ff,
                                     0x480, 0x48d, 0x491, 0x830, 0xc0000080, 0xc0000081, 0xc0000082, 0xc0000100,
                                     0xc0000101, 0xc0000102, 0xc0000103, 0xc0010004, 0xc0010015, 0xc0010114,
                                     0xc0010117, 0xc0011029, 0x40000000, 0x40000001, 0x4b564d00, 0x4b564d01 };
    static const uint32_t bases[] = { 0, 0xc0000000, 0xc0010000, 0x40000000 };
    uint32_t m = coin(c, 40) ? msrs[below(c, ARRAY_SIZE(msrs))]
                 : coin(c, 85) ? bases[below(c, 4)] + below(c, 0x2000) : (uint32_t)rnd(c);
    uint64_t v = 0, old = 0;
    bool had = msr(m, false, &old);
    if (!had)
        c->gp++;
    /* Never: EFER, the TSC and its adjust and deadline, the x2APIC's. */
    if (coin(c, 50) || m == 0xc0000080 || m == 0x10 || m == 0x3b || m == 0x6e0 || (m >> 8) == 8)
        return;
    bool synthetic = (m >> 8) == 0x400000 || (m >> 8) == 0x4b564d;   /* may make the hypervisor write RAM */
    switch (below(c, 5)) {
    case 0: v = 0; break;
    case 1: v = ~0ull; break;
    case 2: v = old ^ 1ull << below(c, 64); break;
    case 3: v = A.dma + (rnd(c) & 0xff0); break;
    default: v = rnd(c); break;
    }
    if (synthetic)
        v = A.dma + (rnd(c) & 0xff0) + 1;
    if (!msr(m, true, &v))
        c->gp++;
    else if (had && (m == 0x277 || m == 0x1b))   /* PAT, APIC base: put back */
        msr(m, true, &old);
}

#define APIC_REG(r) (APIC_BASE + (r))
static bool is_own(uint32_t id) { return cpu_index_of(id) >= 0; }

/* An IPI that cannot stop its own vCPUs: only NMIs and fixed/lowest with a
 * safe vector reach them; INIT and SIPI only a foreign physical APIC ID. */
static void ipi(struct av *c)
{
    uint32_t dest = coin(c, 30) ? tg.cpus[below(c, tg.ncpus)].apic_id : coin(c, 20) ? 0xff : (uint8_t)rnd(c);
    uint32_t lo = (uint32_t)rnd(c) & 0x000ccfffu, mode = (lo >> 8) & 7;
    bool own = (lo & 0x000c0800u) || dest == 0xff || is_own(dest);
    if (own && mode != 2 && mode != 4 && mode != 3 && mode != 7)
        lo = (lo & ~0x7ffu) | safe_vec(c);   /* fixed */
    mmio_write32(APIC_REG(0x310), dest << 24);
    mmio_write32(APIC_REG(0x300), lo);
}

static void op_apic(struct av *c, const uint32_t orig[3])
{
    unsigned w = coin(c, 85) ? 4 : width(c), off = coin(c, 80) ? below(c, 64) << 4 : below(c, 0x1000) & ~(w - 1);
    if (off + w > 0x1000)
        off = 0x1000 - w;
    uint32_t r = off & ~0xfu, v = (uint32_t)rnd(c);
    bool risky = r == 0x20 || r == 0x80 || r == 0xd0 || r == 0xe0 || r == 0xf0 || r == 0x300 || r == 0x2f0 ||
                 (r >= 0x320 && r <= 0x3e0);
    cli();
    if (coin(c, 40) || (risky && (w != 4 || off != r))) {
        (void)mmio(APIC_REG(off), w, false, 0);
    } else if (r == 0x300) {
        ipi(c);
    } else {
        if (r == 0x2f0 || (r >= 0x320 && r <= 0x370))   /* an LVT: fixed, safe vector */
            v = (v & 0x30000u) | safe_vec(c);
        mmio(APIC_REG(off), w, true, v);
        /* Put back what would stop this vCPU or its timer (a disabled APIC
         * masks every LVT). */
        if (r == 0x20 || r == 0xd0 || r == 0xe0)
            mmio_write32(APIC_REG(r), orig[r == 0x20 ? 0 : r == 0xd0 ? 1 : 2]);
        if (r == 0x80 || r == 0xf0)
            apic_enable();
        if (r == 0x2f0 || (r > 0x320 && r <= 0x370))
            mmio_write32(APIC_REG(r), 0x10000u | VEC_ABUSE);   /* another LVT: masked */
        if (r == 0x320 || r == 0x380 || r == 0x3e0 || r == 0xf0)
            apic_timer_periodic(TICK_MS, VEC_TIMER);
    }
    sti();
}

/* Hypercall arguments: pointers the hypervisor may write through (the DMA
 * arena, page 0) or must refuse (outside RAM, across its end, unaligned,
 * wrapping), lengths, anything that is not one of its own pages. */
static uint64_t hc_arg(struct av *c)
{
    uint64_t x;
    switch (below(c, 9)) {
    case 0: return A.dma + (rnd(c) & 0xfff8);
    case 1: return A.dma + (rnd(c) & 0xffff) + 1 + below(c, 7);
    case 2: return A.outside + (rnd(c) & 0xfff);
    case 3: return tg.ram_end - 1 - below(c, 100);
    case 4: return below(c, 4096);
    case 5: return ~0ull - below(c, 100);
    case 6: return below(c, 10000);
    default: /* anything, but not a page of its own */
        x = rnd(c) >> below(c, 64);
        return (mem_is_ram(x, 1) || mem_is_ram(x + 4095, 1)) && (x < A.dma || x >= tg.ram_end) && x >= 4096
                   ? A.dma + (x & 0xff8)
                   : x;
    }
}

static void op_hc(struct av *c)
{
    static const char line[] = "tg: abuse: console write by hypercall\n";
    static const uint64_t odd[] = { ~0ull, 1ull << 32 | HC_PARTITION_INFO, 1ull << 32 | HC_CONSOLE_WRITE,
                                    0x80000000u | HC_HALT, ~0ull << 32, HC_HEARTBEAT_LAST + 1 };
    uint64_t nr;
    switch (below(c, 10)) {
    case 0: case 1: case 2: case 3: nr = below(c, 9); break;
    case 4: nr = HC_NET_FIRST + below(c, 0x200); break;
    case 5: nr = HC_HB_INFO + below(c, 2); break;
    case 6: case 7: nr = rnd(c); break;
    default: nr = odd[below(c, ARRAY_SIZE(odd))]; break;
    }
    uint64_t a[4] = { hc_arg(c), hc_arg(c), hc_arg(c), hc_arg(c) };
    int64_t r;
    if ((nr & 0xff) == HC_CONSOLE_WRITE && a[1] && a[1] <= HC_CONSOLE_MAX && mem_is_ram(a[0], a[1])) {
        console_lock();   /* a write that would succeed: a whole line of its own */
        r = hypercall(nr, (uintptr_t)line, sizeof(line) - 1, a[2], a[3]);
        console_unlock();
    } else {
        r = hypercall(nr, a[0], a[1], a[2], a[3]);
    }
    c->hc_err += r < 0;
}

/* ---- the loop ---- */

static bool hook(struct trap_frame *f)
{
    const volatile uint8_t *p = phys(f->rip);
    if (f->vector == 2) {
        nmis++;
        return true;
    }
    if ((f->vector == 13 || f->vector == 6) && p[0] == 0x0f && (p[1] == 0x30 || p[1] == 0x32)) {
        f->rsi = 1;
        f->rip += 2;
        return true;
    }
    return false;
}

static uint64_t total(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < tg.ncpus && i < MAXV; i++)
        n += av[i].ops;
    return n;
}

static void summary(const char *what)
{
    struct av s = { 0 };
    for (unsigned i = 0; i < tg.ncpus && i < MAXV; i++) {
        for (unsigned k = 0; k < K_N; k++)
            s.n[k] += av[i].n[k];
        s.gp += av[i].gp, s.hc_err += av[i].hc_err, s.init_fail += av[i].init_fail;
        s.frames += av[i].frames, s.big += av[i].big, s.rx += av[i].rx;
    }
    char b[400];
    int n = tg_snprintf(b, sizeof(b), "abuse: %s %lu ops:", what, total());
    for (unsigned k = 0; k < K_N; k++)
        n += tg_snprintf(b + n, sizeof(b) - (size_t)n, " %s=%lu", kname[k], s.n[k]);
    say("%s msr-gp=%lu hc-errors=%lu init-failed=%lu frames=%lu oversized=%lu received=%lu nmis=%lu irqs=%lu", b,
        s.gp, s.hc_err, s.init_fail, s.frames, s.big, s.rx, nmis, abuse_irqs);
}

static void progress(void)
{
    char b[200];
    int n = 0;
    for (unsigned i = 0; i < tg.ncpus && i < MAXV; i++)
        n += tg_snprintf(b + n, sizeof(b) - (size_t)n, " vcpu%u=%lu", i, av[i].ops);
    say("abuse: %lu ops (%s ) ms=%lu", total(), b + 1, ms_since_boot());
}

static void run(unsigned i)
{
    struct av *c = &av[i];
    uint64_t z = tg.opt.seed + 0x9e3779b97f4a7c15ull * (i + 1);   /* splitmix64: one stream per vCPU */
    z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ z >> 27) * 0x94d049bb133111ebull;
    c->rng = (z ^ z >> 31) | 1;
    const uint32_t orig[3] = { mmio_read32(APIC_REG(0x20)), mmio_read32(APIC_REG(0xd0)), mmio_read32(APIC_REG(0xe0)) };
    apic_timer_periodic(TICK_MS, VEC_TIMER);
    sti();
    unsigned sum = 0;
    for (unsigned k = 0; k < K_N; k++)
        sum += weight[k];
    uint64_t next = tsc_after_ms(tg.opt.tick_ms), lines = 0;
    while (!tg.opt.ops || total() < tg.opt.ops) {
        unsigned k = 0;
        for (unsigned r = below(c, sum); r >= weight[k]; k++)
            r -= weight[k];
        if (tg.opt.trace)
            say("abuse: vcpu %u op %lu %s", i, c->ops, kname[k]);
        if (k >= NIC_KINDS) {
            if (k == K_PIO)
                op_pio(c);
            else if (k == K_MSR)
                op_msr(c);
            else if (k == K_APIC)
                op_apic(c, orig);
            else
                op_hc(c);
        } else if (k == K_CFG || k == K_BAR) {
            if (A.bar)
                k == K_CFG ? op_cfg(c) : op_bar(c);
        } else if (nic_begin()) {
            if (k >= K_SEND) {
                take(&drv_lock);
                k == K_SEND ? op_send(c) : k == K_BIG ? op_big(c) : op_init(c);
                drop(&drv_lock);
            } else {
                static void (*const racy[])(struct av *) = { op_desc, op_avail, op_ring, op_reset, op_reg, op_msix };
                racy[k](c);
            }
            nic_end();
        }
        c->n[k]++;
        c->ops++;
        if (i == tg.bsp && tsc_passed(next)) {
            progress();
            if (++lines % 10 == 0)
                summary("summary");
            next = tsc_after_ms(tg.opt.tick_ms);
        }
    }
    c->done = true;
}

static void ap_run(unsigned i)
{
    if (i < MAXV)
        run(i);
}

void scenario_abuse(void)
{
    if (!tg.opt.seed_set)
        tg.opt.seed = rdtsc() % 1000000007u;
    say("abuse: seed %lu", tg.opt.seed);
    uint64_t top = ALIGN_DOWN(tg.ram_end, 4096);
    A.rings = top - DMA_TOP - STAGE - RINGS;
    if (top < DMA_TOP + STAGE + RINGS || A.rings < mem_own_end() + MiB || !mem_is_ram(A.rings, top - A.rings)) {
        say("abuse: error: needs 8 MiB of RAM above 0x%lx, below 0x%lx", mem_own_end() + MiB, top);
        halt_forever();
    }
    A.stage = A.rings + RINGS;
    A.stage_len = STAGE;
    A.dma = A.stage + STAGE;
    A.dma_len = DMA_TOP - EDGE;
    A.outside = ALIGN_UP(tg.ram_end, GiB) + GiB;
    A.sleep = acpi_sleep_port();
    memset(phys(A.rings), 0, RINGS);
    memset(phys(A.stage), 0x02, STAGE);
    memset(phys(A.dma), 0, A.dma_len);
    memset(phys(top - EDGE), 0x02, EDGE);
    if (net_up()) {
        memcpy(A.mac, vnet_mac(), 6);
        for (unsigned d = 0; d < 32 && !A.bar; d++) {
            if (pci_cfg_read(d, 0) != (VIRTIO_PCI_VENDOR | (uint32_t)VIRTIO_PCI_DEVICE_NET << 16))
                continue;
            A.dev = d;
            for (unsigned b = 0; b < 6; b++)
                A.bars[b] = pci_cfg_read(d, 0x10 + 4 * b);
            A.cmd = pci_cfg_read(d, 4) & 0xffff;
            for (unsigned at = pci_cap_first(d), k = 0; at && k < PCI_MAX_CAPS; at = pci_cap_next(d, at), k++)
                if ((pci_cfg_read(d, at) & 0xff) == PCI_CAP_MSIX)
                    A.msix = at;
            A.bar = A.bars[0] & ~0xfu;
            if ((A.bars[0] & 6) == 4)
                A.bar |= (uint64_t)A.bars[1] << 32;
        }
    }
    say("abuse: NIC %s BAR0 0x%lx; rings 0x%lx, stage 0x%lx, DMA 0x%lx-0x%lx, sleep port 0x%x",
        A.bar ? "at" : "missing:", (uint64_t)A.bar, A.rings, A.stage, A.dma, A.dma + A.dma_len, A.sleep);
    vnet_quiet = true;
    exception_hook = hook;
    ap_work = ap_run;
    unsigned n = smp_start();
    say("abuse: %u vCPU(s) racing, ops=%lu, progress every %lu ms", n, tg.opt.ops, tg.opt.tick_ms);
    run(tg.bsp);
    uint64_t until = tsc_after_ms(5000);
    for (unsigned i = 0; i < tg.ncpus && i < MAXV; i++)
        while (i != tg.bsp && tg.cpus[i].online && !av[i].done && !tsc_passed(until))
            pause();
    if (nic_begin()) {
        take(&drv_lock);
        op_init(&av[tg.bsp]);
        drop(&drv_lock);
        nic_end();
    }
    summary("done");
    net_idle();
}
