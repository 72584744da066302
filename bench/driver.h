/* The guest side of the NIC benchmark (bench/net_bench.c): a partition's
 * memory, faked with a heap block; its NIC, the hypervisor's own struct vnet
 * on the switch; and a virtio-net driver for it (virtio v1.2 2.7, 4.1, 5.1),
 * which reaches the NIC only the ways a guest does in Isthmus: register
 * accesses (what vmm/dev/vnic.c passes on from a trapped access: vnet_cfg_read,
 * vnet_cfg_write, vnet_set_command, vnet_bar_access) and notify writes
 * (vnet_notify). As the partition's home CPU it also runs the retries the
 * data path asks for (vnet_tx), and it stands in for the hypervisor's
 * struct vnet_env (time, MSI delivery, retry requests).
 *
 * Guest-physical layout (one chunk of PART_RAM):
 *   0x0000  receive queue: descriptors, +0x1000 avail ring, +0x2000 used ring
 *   0x4000  transmit queue, the same way
 *   1 MiB   RING receive buffer slots of `rx_stride` bytes, then RING
 *           transmit buffer slots of `stride` bytes: the 12-byte virtio-net
 *           header, then the frame.
 * Receive buffers may start rx_offset bytes into their slots, to give the
 * copy a source and destination of different alignment. With bench_rx_buf
 * set, the driver negotiates VIRTIO_NET_F_MRG_RXBUF and its receive buffers
 * are that many bytes, a frame spanning as many as it takes (as Linux's
 * virtio_net and DPDK's virtio PMD post 1.5-4 KiB buffers); else each is
 * exactly one frame's. */
#ifndef ISTHMUS_BENCH_DRIVER_H
#define ISTHMUS_BENCH_DRIVER_H

#include "net/vnet.h"

#define PART_RAM   MiB(64)
#define RING       VNET_QUEUE_SIZE /* entries of each queue */
#define HDR        ((u32)VNET_HDR_LEN)
#define VEC_CONFIG 0 /* MSI-X vectors the driver programs */
#define VEC_RX     1
#define VEC_TX     2

/* A driver's view of one split virtqueue. */
struct vq {
    u16 size;
    struct virtq_desc *desc;
    u16 *avail;    /* flags, idx, ring[size], used_event */
    u8 *used;      /* flags, idx, ring[size] of {id, len}, avail_event */
    u16 avail_idx; /* what avail->idx becomes at the next publish */
    u16 kicked;    /* avail->idx when the device's wish was last checked */
    u16 last_used; /* next used entry to read */
    /* Descriptors not in the device's hands, oldest first: taken in turn, so
     * the sender cycles through every buffer slot as the copy baseline does. */
    u16 free[RING];
    u16 free_first, nfree;
};

struct part {
    const char *name;
    u8 *ram;
    struct gmem mem;
    struct vnet nic;
    u8 mac[ETH_ALEN]; /* as the driver read it from the device */
    struct vq rx, tx;
    u32 frame_size; /* bytes of every frame (Ethernet, no FCS, no virtio-net header) */
    u32 stride;     /* bytes per transmit buffer slot */
    u32 rx_stride;  /* bytes per receive buffer slot */
    u32 rx_len;     /* bytes of each receive buffer (its descriptor's length) */
    u32 rx_offset;
    /* What the "hypervisor" did for it, written by whichever thread ran the
     * data path: atomics, each on its own cache line. */
    u64 irqs[VNET_MSIX_VECTORS] __aligned(64);
    u64 retry_when __aligned(64); /* earliest retry asked for (ns), 0 = none */
};

/* The sending driver's counts; only its own thread writes them. */
struct tx_stats {
    u64 posted, kicks, timer_runs, sleeps, lost_irqs;
};

/* The receiving driver's; frames and bytes are stored atomically, since the
 * main thread reads them during a run. */
struct rx_stats {
    u64 frames, bytes;
    u64 kicks, bad, sleeps, lost_irqs;
    u64 sink; /* what was read of each frame, so that the reads happen */
};

extern int bench_ncpus;  /* the process's CPUs; with one, waiting loops yield */
extern u32 bench_rx_buf; /* receive buffers of this many bytes, mergeable (0: one per frame) */
/* Buffers in use on each side (1..RING, default RING): the transmit slots the
 * sender cycles through and the receive buffers the receiver keeps posted.
 * Fewer keep the frames' memory in the caches, as DPDK's mempool cache does by
 * handing back the mbufs just freed (bench-peer's warm case: 128); RING is the
 * cold case. Under half the ring the sender waits for refills after a batch. */
extern u32 bench_buffers;

void die(const char *fmt, ...) __printf(1, 2) __noreturn;
u64 now_ns(void);
void cpu_relax(void);

/* Guest memory: PART_RAM, 2 MiB aligned, zeroed. */
void part_alloc(struct part *p, const char *name);
/* A new port on the switch (net_init first) on access VLAN 1 with no rate
 * limits, given the partition's memory, and its driver brought up to
 * FEATURES_OK with MSI-X and both queues set up. */
void part_attach(struct part *p, u8 mac_last_byte);
/* Buffers for frames of frame_size bytes: bench_buffers receive buffers given
 * to the device, as many transmit slots holding a frame to dst_mac. */
void part_buffers(struct part *p, u32 frame_size, u32 rx_offset, const u8 *dst_mac);
/* DRIVER_OK: the port runs. */
void part_start(struct part *p);

u64 part_rx_slot(const struct part *p, u16 i);
u64 part_tx_slot(const struct part *p, u16 i);
static inline void *part_host(const struct part *p, u64 gpa) { return p->ram + gpa; }

/* Sending: take back what the device completed (transmit interrupts stay
 * off); post up to max frames, kicking when the device asked; run a retry the
 * data path asked for once it is due; with the ring full, wait for a
 * transmit interrupt (running the timer meanwhile). */
u32 tx_reclaim(struct part *p);
u32 tx_send(struct part *p, u32 max, struct tx_stats *st);
void tx_timer(struct part *p, struct tx_stats *st);
void tx_wait(struct part *p, struct tx_stats *st, const volatile int *stop);

/* Receiving, NAPI style: take up to budget frames (reading each one's first
 * cache line), give their buffers back, kick when asked; rx_arm asks for an
 * interrupt at the next frame and says whether one came meanwhile; rx_wait
 * arms and waits for that interrupt. */
u32 rx_poll(struct part *p, u32 budget, struct rx_stats *st);
bool rx_arm(struct part *p);
void rx_wait(struct part *p, struct rx_stats *st, const volatile int *stop);

/* The only ways into the hypervisor's data path once the NICs run, so that
 * callgrind can count exactly that (bench/callgrind.sh): the guest wrote the
 * notify register of queue q; the home CPU's retry timer fired. */
void hv_notify(struct part *p, u32 q);
void hv_timer(struct part *p);

#endif
