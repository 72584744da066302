/* See driver.h. Section numbers are those of OASIS virtio v1.2. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bench/driver.h"
#include "drivers/pci.h"

#define RXQ_GPA              0x0000ULL
#define TXQ_GPA              0x4000ULL
#define AVAIL_OFF            0x1000ULL /* from a queue's descriptor table */
#define USED_OFF             0x2000ULL
#define BUF_GPA              MiB(1)
#define ETH_P_BENCH          0x88b5 /* IEEE 802 local experimental */
/* Each MSI-X message: a fixed interrupt to APIC 0 (only checked here). */
#define MSI_ADDR             0xfee00000u
#define MSI_DATA0            0x40         /* + the vector's index */
#define PCI_MSIX_CTRL_ENABLE 0x8000       /* message control bit 15 (PCI 3.0 6.8.2.3) */
#define EVENT_OFF            0x8000       /* a used_event this far ahead is never passed */
#define LATE_IRQ_NS          100000000ULL /* a wait this long is checked for a lost interrupt */

u32 bench_rx_buf;
u32 bench_buffers = RING;
int bench_ncpus = 1;

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "net_bench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

u64 now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (u64)t.tv_sec * 1000000000ULL + (u64)t.tv_nsec;
}

void cpu_relax(void)
{
    if (bench_ncpus < 2)
        sched_yield(); /* the other thread needs this CPU to make progress */
    else
        __builtin_ia32_pause();
}

/* ---------------------------------------------------------------- one queue, the driver's side */

static u16 vq_used_idx(const struct vq *q)
{
    /* Acquire: the entries are read after the index (the device's release in
     * virtq_publish, 2.7.8.2). */
    return __atomic_load_n((u16 *)(q->used + VIRTQ_USED_IDX), __ATOMIC_ACQUIRE);
}

static struct virtq_used_elem vq_used_elem(const struct vq *q, u16 i)
{
    struct virtq_used_elem e;
    memcpy(&e, q->used + VIRTQ_USED_RING(i & (q->size - 1)), sizeof(e));
    return e;
}

/* used_event (2.7.7.2): interrupt me once used->idx passes v. */
static void vq_set_used_event(struct vq *q, u16 v) { __atomic_store_n(&q->avail[2 + q->size], v, __ATOMIC_RELAXED); }

static void vq_free_put(struct vq *q, u16 id) { q->free[(q->free_first + q->nfree++) & (q->size - 1)] = id; }

static u16 vq_free_take(struct vq *q)
{
    q->nfree--;
    return q->free[q->free_first++ & (q->size - 1)];
}

static void vq_add(struct vq *q, u16 head)
{
    q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
    q->avail_idx++;
}

/* Makes the added entries visible; true when the device asked to be told
 * (2.7.13.3, 2.7.13.4: the index store is ordered before the avail_event load
 * by a full fence, the mirror of the device's in virtq_want_notify). */
static bool vq_publish(struct vq *q)
{
    __atomic_store_n(&q->avail[1], q->avail_idx, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    u16 event = __atomic_load_n((u16 *)(q->used + VIRTQ_USED_RING(q->size)), __ATOMIC_RELAXED);
    bool kick = virtq_need_event(event, q->avail_idx, q->kicked);
    q->kicked = q->avail_idx;
    return kick;
}

/* ---------------------------------------------------------------- the hypervisor's side */

static bool env_msi(void *ctx, u64 addr, u32 data)
{
    struct part *p = ctx;
    u32 v = (data & 0xff) - MSI_DATA0;
    if (addr != MSI_ADDR || v >= VNET_MSIX_VECTORS)
        return false;
    __atomic_fetch_add(&p->irqs[v], 1, __ATOMIC_RELEASE);
    return true;
}

/* As vmm/dev/vnic.c: remember the earliest retry asked for; the sender's loop is
 * the home CPU whose timer runs it (tx_timer). */
static void env_retry_at(void *ctx, u64 when)
{
    struct part *p = ctx;
    when |= 1; /* 0 means none */
    u64 cur = __atomic_load_n(&p->retry_when, __ATOMIC_ACQUIRE);
    do {
        if (cur && cur <= when)
            return;
    } while (!__atomic_compare_exchange_n(&p->retry_when, &cur, when, false, __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE));
}

__attribute__((noinline)) void hv_notify(struct part *p, u32 q) { vnet_notify(&p->nic, q); }
__attribute__((noinline)) void hv_timer(struct part *p) { vnet_tx(&p->nic); }

/* Whether the interrupt for the entries past `event` of queue `queue` is
 * lost, not late: the device has made its decision for them (its signalled
 * index, read first, passed event) and no transmit pass, the only place queue
 * interrupts are sent from, is still running, so what it sent is counted in
 * irqs by now. A time limit alone would call a descheduled vCPU a lost
 * interrupt. White-box: reads net/'s own state. */
static bool irq_lost(struct part *p, u32 queue, u32 vec, u16 event, u64 seen)
{
    u16 signalled = __atomic_load_n(&p->nic.queue[queue].q.signalled, __ATOMIC_ACQUIRE);
    if ((u16)(signalled - event - 1) >= 0x8000) /* not past event yet */
        return false;
    for (u32 i = 0; i < net.nports; i++) {
        spinlock_t *l = &net.port[i]->tx_lock;
        u16 owner = __atomic_load_n(&l->owner, __ATOMIC_ACQUIRE);
        if (__atomic_load_n(&l->next, __ATOMIC_ACQUIRE) != owner)
            return false; /* a pass runs: it may yet send it */
    }
    return __atomic_load_n(&p->irqs[vec], __ATOMIC_ACQUIRE) == seen;
}

/* ---------------------------------------------------------------- bringing the NIC up (3.1.1, 4.1.5) */

static void bar_write(struct part *p, u32 off, u8 size, u64 v) { vnet_bar_access(&p->nic, off, size, true, &v); }

static u64 bar_read(struct part *p, u32 off, u8 size)
{
    u64 v = 0;
    vnet_bar_access(&p->nic, off, size, false, &v);
    return v;
}

static u16 find_cap(struct vnet *n, u8 id)
{
    if (!((vnet_cfg_read(n, PCI_COMMAND) >> 16) & PCI_STATUS_CAPS))
        return 0;
    u16 off = vnet_cfg_read(n, PCI_CAP_PTR) & 0xfc;
    for (u32 i = 0; off && i < PCI_MAX_CAPS; i++) {
        u32 d = vnet_cfg_read(n, off);
        if ((d & 0xff) == id)
            return off;
        off = (d >> 8) & 0xfc;
    }
    return 0;
}

static void set_status(struct part *p, u8 bits)
{
    u8 s = (u8)bar_read(p, VNET_BAR_COMMON + VPC_STATUS, 1);
    bar_write(p, VNET_BAR_COMMON + VPC_STATUS, 1, s | bits);
    if ((bar_read(p, VNET_BAR_COMMON + VPC_STATUS, 1) & bits) != bits)
        die("%s: the device refused status %#x", p->name, bits);
}

static void queue_up(struct part *p, struct vq *q, u16 index, u64 gpa)
{
    const u32 c = VNET_BAR_COMMON;
    bar_write(p, c + VPC_Q_SELECT, 2, index);
    if (bar_read(p, c + VPC_Q_SIZE, 2) < RING)
        die("%s: queue %u is smaller than %u", p->name, index, RING);
    bar_write(p, c + VPC_Q_SIZE, 2, RING);
    bar_write(p, c + VPC_Q_DESC, 8, gpa);
    bar_write(p, c + VPC_Q_DRIVER, 8, gpa + AVAIL_OFF);
    bar_write(p, c + VPC_Q_DEVICE, 8, gpa + USED_OFF);
    u16 vec = index == VNET_RXQ ? VEC_RX : VEC_TX;
    bar_write(p, c + VPC_Q_MSIX_VECTOR, 2, vec);
    if (bar_read(p, c + VPC_Q_MSIX_VECTOR, 2) != vec)
        die("%s: queue %u refused its MSI-X vector", p->name, index);
    bar_write(p, c + VPC_Q_ENABLE, 2, 1);
    if (bar_read(p, c + VPC_Q_ENABLE, 2) != 1)
        die("%s: queue %u would not enable", p->name, index);

    memset(q, 0, sizeof(*q));
    q->size = RING;
    q->desc = part_host(p, gpa);
    q->avail = part_host(p, gpa + AVAIL_OFF);
    q->used = part_host(p, gpa + USED_OFF);
}

void part_alloc(struct part *p, const char *name)
{
    memset(p, 0, sizeof(*p));
    p->name = name;
    /* On huge pages where the kernel allows: the hypervisor reaches guest
     * memory through large mappings too. */
    p->ram = aligned_alloc(MiB(2), PART_RAM);
    if (!p->ram)
        die("out of memory");
    madvise(p->ram, PART_RAM, MADV_HUGEPAGE);
    memset(p->ram, 0, PART_RAM);
    if (gmem_add(&p->mem, ptr_to_hpa(p->ram), p->ram, PART_RAM, 0) < 0)
        die("gmem_add");
}

void part_attach(struct part *p, u8 mac_last_byte)
{
    struct vnet *n = &p->nic;
    const u32 c = VNET_BAR_COMMON;

    memset(p->ram, 0, BUF_GPA); /* the rings */
    memset(p->irqs, 0, sizeof(p->irqs));
    p->retry_when = 0;
    struct vnet_cfg cfg = { .mac = { 0x02, 0, 0, 0, 0, mac_last_byte }, /* locally administered */
                            .vlan = { .mode = VSW_ACCESS, .vid = 1 } };
    struct vnet_env env = { now_ns, env_msi, env_retry_at, p, NULL, NULL };
    if (net_attach(n, p->name, mac_last_byte, &cfg, &env) < 0)
        die("%s: net_attach failed", p->name);
    net_connect(n, &p->mem); /* the partition starts */

    vnet_set_command(n, PCI_CMD_MEM | PCI_CMD_MASTER); /* the bus's register (vmm/dev/vpci.c) */
    if (vnet_cfg_read(n, PCI_VENDOR_ID) != (VIRTIO_PCI_VENDOR | (u32)VIRTIO_PCI_DEVICE_NET << 16))
        die("%s: not a virtio-net function", p->name);

    bar_write(p, c + VPC_STATUS, 1, 0); /* reset */
    set_status(p, VIRTIO_STATUS_ACKNOWLEDGE);
    set_status(p, VIRTIO_STATUS_DRIVER);

    const u64 want = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_NET_F_MAC) |
                     (bench_rx_buf ? BIT(VIRTIO_NET_F_MRG_RXBUF) : 0);
    u64 offered = 0;
    for (u32 half = 0; half < 2; half++) {
        bar_write(p, c + VPC_DFSELECT, 4, half);
        offered |= bar_read(p, c + VPC_DF, 4) << (32 * half);
    }
    if ((offered & want) != want)
        die("%s: the device lacks VERSION_1, EVENT_IDX, MAC or (--rx-buf) MRG_RXBUF", p->name);
    for (u32 half = 0; half < 2; half++) {
        bar_write(p, c + VPC_GFSELECT, 4, half);
        bar_write(p, c + VPC_GF, 4, (u32)(want >> (32 * half)));
    }
    set_status(p, VIRTIO_STATUS_FEATURES_OK);

    /* MSI-X: the table lies where the capability says (BIR 0 = BAR0). */
    u16 cap = find_cap(n, PCI_CAP_MSIX);
    if (!cap)
        die("%s: no MSI-X capability", p->name);
    u32 table = vnet_cfg_read(n, cap + 4);
    if (table & 7)
        die("%s: the MSI-X table is not in BAR0", p->name);
    for (u32 v = 0; v < VNET_MSIX_VECTORS; v++) {
        u32 e = table + v * MSIX_ENTRY_SIZE;
        bar_write(p, e + MSIX_ENTRY_ADDR_LO, 4, MSI_ADDR);
        bar_write(p, e + MSIX_ENTRY_ADDR_HI, 4, 0);
        bar_write(p, e + MSIX_ENTRY_DATA, 4, MSI_DATA0 + v);
        bar_write(p, e + MSIX_ENTRY_CTRL, 4, 0); /* unmasked */
    }
    vnet_cfg_write(n, cap, 0xffff0000u, (u32)PCI_MSIX_CTRL_ENABLE << 16);
    bar_write(p, c + VPC_MSIX_CONFIG, 2, VEC_CONFIG);

    queue_up(p, &p->rx, VNET_RXQ, RXQ_GPA);
    queue_up(p, &p->tx, VNET_TXQ, TXQ_GPA);
    for (u32 i = 0; i < ETH_ALEN; i++)
        p->mac[i] = (u8)bar_read(p, VNET_BAR_DEVICE + i, 1);
}

u64 part_rx_slot(const struct part *p, u16 i) { return BUF_GPA + (u64)i * p->rx_stride + p->rx_offset; }
u64 part_tx_slot(const struct part *p, u16 i) { return BUF_GPA + (u64)RING * p->rx_stride + (u64)i * p->stride; }

/* Receive buffers big enough for the header and one frame, or of
 * bench_rx_buf bytes (mergeable), one descriptor each; transmit descriptors
 * bound to their slots for good. */
void part_buffers(struct part *p, u32 frame_size, u32 rx_offset, const u8 *dst_mac)
{
    p->frame_size = frame_size;
    p->rx_offset = rx_offset;
    p->stride = (u32)ALIGN_UP(HDR + frame_size + VLAN_HLEN + rx_offset, 64);
    p->rx_len = bench_rx_buf ? bench_rx_buf : HDR + frame_size;
    p->rx_stride = bench_rx_buf ? (u32)ALIGN_UP(bench_rx_buf + rx_offset, 64) : p->stride;
    if (BUF_GPA + (u64)RING * (p->stride + p->rx_stride) > PART_RAM)
        die("frames of %u bytes do not fit the partitions' memory", frame_size);
    for (u16 i = 0; i < bench_buffers; i++) {
        p->rx.desc[i] = (struct virtq_desc){ part_rx_slot(p, i), p->rx_len, VIRTQ_DESC_F_WRITE, 0 };
        vq_add(&p->rx, i);

        p->tx.desc[i] = (struct virtq_desc){ part_tx_slot(p, i), HDR + frame_size, 0, 0 };
        vq_free_put(&p->tx, i);
        u8 *f = part_host(p, part_tx_slot(p, i));
        memset(f, 0, HDR); /* no offloads (5.1.6.2) */
        f += HDR;
        memcpy(f, dst_mac, ETH_ALEN);
        memcpy(f + ETH_ALEN, p->mac, ETH_ALEN);
        f[12] = ETH_P_BENCH >> 8;
        f[13] = ETH_P_BENCH & 0xff;
        for (u32 k = ETH_HLEN; k < frame_size; k++)
            f[k] = (u8)(i * 7 + k);
    }
    if (vq_publish(&p->rx))
        hv_notify(p, VNET_RXQ);
}

void part_start(struct part *p) { set_status(p, VIRTIO_STATUS_DRIVER_OK); }

/* ---------------------------------------------------------------- sending */

u32 tx_reclaim(struct part *p)
{
    struct vq *q = &p->tx;
    u16 end = vq_used_idx(q);
    u32 n = 0;
    while (q->last_used != end) {
        struct virtq_used_elem e = vq_used_elem(q, q->last_used++);
        if (e.id >= q->size || q->nfree >= q->size)
            die("%s: the device completed transmit descriptor %u, which it did not have", p->name, e.id);
        vq_free_put(q, (u16)e.id);
        n++;
    }
    if (n)
        vq_set_used_event(q, (u16)(q->last_used + EVENT_OFF));
    return n;
}

u32 tx_send(struct part *p, u32 max, struct tx_stats *st)
{
    struct vq *q = &p->tx;
    u32 n = MIN(max, (u32)q->nfree);
    if (!n)
        return 0;
    for (u32 i = 0; i < n; i++)
        vq_add(q, vq_free_take(q));
    if (vq_publish(q)) {
        st->kicks++;
        hv_notify(p, VNET_TXQ);
    }
    st->posted += n;
    return n;
}

void tx_timer(struct part *p, struct tx_stats *st)
{
    u64 when = __atomic_load_n(&p->retry_when, __ATOMIC_ACQUIRE);
    if (!when || now_ns() < when)
        return;
    if (!__atomic_compare_exchange_n(&p->retry_when, &when, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        return; /* an earlier one was asked for meanwhile: next time */
    st->timer_runs++;
    hv_timer(p);
}

/* The interrupt is asked for once three quarters of what is outstanding is
 * done, as Linux's virtqueue_enable_cb_delayed does. */
void tx_wait(struct part *p, struct tx_stats *st, const volatile int *stop)
{
    struct vq *q = &p->tx;
    u64 seen = __atomic_load_n(&p->irqs[VEC_TX], __ATOMIC_ACQUIRE);
    u16 wait_for = (u16)(q->avail_idx - q->last_used) * 3 / 4;
    vq_set_used_event(q, (u16)(q->last_used + wait_for));
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* before used->idx is read again (2.7.7) */
    if (vq_used_idx(q) != q->last_used)
        return;
    st->sleeps++;
    u64 since = now_ns();
    u16 event = (u16)(q->last_used + wait_for);
    for (u32 spin = 1; __atomic_load_n(&p->irqs[VEC_TX], __ATOMIC_ACQUIRE) == seen && !*stop; spin++) {
        tx_timer(p, st);
        cpu_relax();
        if (!(spin & 0x3ff) && now_ns() - since > LATE_IRQ_NS && irq_lost(p, VNET_TXQ, VEC_TX, event, seen)) {
            st->lost_irqs++;
            return;
        }
    }
}

/* ---------------------------------------------------------------- receiving */

u32 rx_poll(struct part *p, u32 budget, struct rx_stats *st)
{
    struct vq *q = &p->rx;
    u16 end = vq_used_idx(q);
    u32 n = 0;
    while (q->last_used != end && n < budget) {
        struct virtq_used_elem e = vq_used_elem(q, q->last_used);
        if (e.id >= q->size)
            die("%s: the device used receive descriptor %u, which does not exist", p->name, e.id);
        /* The frame's first cache line, as a stack reads the headers. */
        const u8 *b = (const u8 *)part_host(p, part_rx_slot(p, (u16)e.id));
        const u8 *f = b + HDR;
        u64 w;
        memcpy(&w, f, sizeof(w));
        st->sink += w;
        u16 nb = 1;
        if (bench_rx_buf) {
            /* Mergeable: num_buffers (5.1.6.4.2) entries make the frame, all
             * published together. */
            memcpy(&nb, b + 10, sizeof(nb));
            if (!nb || nb > (u16)(end - q->last_used))
                die("%s: a frame over %u receive buffers, %u of them used", p->name, nb, (u16)(end - q->last_used));
        }
        u32 got = 0;
        for (u16 k = 0; k < nb; k++) {
            struct virtq_used_elem x = vq_used_elem(q, q->last_used++);
            if (x.id >= q->size)
                die("%s: the device used receive descriptor %u, which does not exist", p->name, x.id);
            got += x.len;
            vq_add(q, (u16)x.id);
        }
        if (got != HDR + p->frame_size || memcmp(f, p->mac, ETH_ALEN))
            st->bad++;
        n++;
    }
    if (!n)
        return 0;
    __atomic_store_n(&st->frames, st->frames + n, __ATOMIC_RELAXED);
    __atomic_store_n(&st->bytes, st->bytes + (u64)n * p->frame_size, __ATOMIC_RELAXED);
    if (vq_publish(q)) {
        st->kicks++;
        hv_notify(p, VNET_RXQ);
    }
    return n;
}

bool rx_arm(struct part *p)
{
    struct vq *q = &p->rx;
    vq_set_used_event(q, q->last_used);
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* before used->idx is read again (2.7.7) */
    return vq_used_idx(q) != q->last_used;
}

void rx_wait(struct part *p, struct rx_stats *st, const volatile int *stop)
{
    u64 seen = __atomic_load_n(&p->irqs[VEC_RX], __ATOMIC_ACQUIRE);
    if (rx_arm(p))
        return;
    st->sleeps++;
    u64 since = now_ns();
    u16 event = p->rx.last_used;
    for (u32 spin = 1; __atomic_load_n(&p->irqs[VEC_RX], __ATOMIC_ACQUIRE) == seen && !*stop; spin++) {
        cpu_relax();
        if (!(spin & 0x3ff) && now_ns() - since > LATE_IRQ_NS && irq_lost(p, VNET_RXQ, VEC_RX, event, seen)) {
            st->lost_irqs++;
            return;
        }
    }
}
