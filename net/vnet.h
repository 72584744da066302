/* A partition's paravirtual NIC: a virtio-net device (virtio v1.2 5.1) on the
 * virtio-pci modern transport (4.1), sitting on the partition's virtual PCI
 * bus (vmm/dev/vpci.c) as an emulated function, and one port of the switch.
 *
 * Transport (vnet_pci.c): configuration space with an MSI-X capability and the
 * virtio vendor capabilities; BAR0 (layout in net/virtio.h) is never mapped
 * into the guest, so every access traps and lands in vnet_bar_access().
 * Features offered: VERSION_1, RING_EVENT_IDX, NET_MAC, NET_STATUS, NET_MTU.
 * Queue 0 receives, queue 1 transmits.
 *
 * Data path (vnet_data.c): a notify on the transmit queue (or a retry) takes
 * frames from the sender's ring, drops those longer than the port's MTU
 * allows, marks the rest through the port's shim, asks the switch where they
 * go, and copies each once from the sender's buffer into a receive buffer of
 * each destination, in batches; interrupts go out only when the driver asked
 * (event suppression). Frames the shim holds, and unicast frames a full live
 * receiver cannot take, stay in the sender's ring (back-pressure); a flood is
 * judged per receiver and never waits for one of them.
 *
 * Locking: `tx_lock` serialises the transmit side of a port; `lock` guards
 * the transport registers and the receive queue. While holding a port's
 * `lock` nothing else is taken but the switch's and the link's locks, which
 * are leaves (vswitch.c and shim.c call nothing that locks): a transmit pass
 * keeps a receiver's lock across a run of frames to it, deciding the next
 * frame meanwhile (vnet_data.c, struct rx_hold). Arch-neutral: guest memory is a struct gmem, time
 * and interrupts come through struct vnet_env. */
#ifndef ISTHMUS_NET_VNET_H
#define ISTHMUS_NET_VNET_H

#include "kernel/lib/types.h"
#include "kernel/lib/spinlock.h"
#include "net/virtio.h"
#include "net/virtq.h"
#include "net/shim.h"
#include "net/vswitch.h"
#include "vmm/gmem.h"

#define VNET_FEATURES                                                                                                  \
    (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |       \
     BIT(VIRTIO_NET_F_MTU) | BIT(VIRTIO_NET_F_MRG_RXBUF))
#define VNET_HDR_LEN     sizeof(struct virtio_net_hdr)
#define VNET_BATCH       64            /* frames between used-ring publications on the transmit side */
#define VNET_TX_BUDGET   1024          /* frames per pass before the port yields its CPU */
#define VNET_STALL_NS    1000000000ULL /* a receiver without buffers this long is stalled */
#define VNET_MTU_DEFAULT 1500          /* a port's MTU unless configured (Ethernet's) */
/* Receive buffers one frame may span with VIRTIO_NET_F_MRG_RXBUF: a 64 KiB
 * frame needs buffers of 520 bytes or more (Linux's are 1.5 KiB and up). */
#define VNET_MRG_MAX     128

/* Why frames were dropped (per port, both directions). */
enum vnet_drop {
    VNET_DROP_BAD_CHAIN,  /* a descriptor chain the queue refused (virtq_err counts the kind) */
    VNET_DROP_SHORT,      /* shorter than the virtio-net header plus an Ethernet header */
    VNET_DROP_OVERSIZE,   /* longer than the port's MTU allows (vnet_max_frame): tx at ingress, rx at egress */
    VNET_DROP_SWITCH,     /* the switch refused it (vsw_drop counts why) */
    VNET_DROP_LINK_DOWN,  /* to a port whose driver is not running */
    VNET_DROP_RX_FULL,    /* no receive buffer: a flood's copy, or the receiver filled up under a pass */
    VNET_DROP_RX_STALLED, /* to a receiver without buffers for VNET_STALL_NS, until it adds some */
    VNET_DROP_RX_SMALL,   /* the receiver's next buffer is too small for the frame (it keeps the buffer) */
    VNET_DROP_COUNT
};

struct vnet_dir_stats {
    u64 frames, bytes;
    u64 drops[VNET_DROP_COUNT];
};

struct vnet_stats {
    struct vnet_dir_stats tx, rx;
    u64 notifies;          /* guest kicks (trapped writes to the notify area) */
    u64 interrupts;        /* MSI-X messages sent */
    u64 interrupts_masked; /* left pending in the PBA */
    u64 msi_bad;           /* vectors the guest programmed with a bad address */
    u64 resets;            /* by the driver */
    u64 needs_reset;       /* times DEVICE_NEEDS_RESET was set (a corrupt ring) */
    u64 congestion;        /* times a sender found this port's receive queue over its threshold */
    u64 held_full;         /* times this port's transmit waited for a full receiver */
    u64 rx_merged;         /* frames received over more than one buffer (VIRTIO_NET_F_MRG_RXBUF) */
    u64 bar_bad;           /* BAR accesses to no register, or of a bad size */
};

struct vnet;

/* What the hypervisor gives a NIC. */
struct vnet_env {
    u64 (*now)(void); /* ns */
    /* Delivers an MSI-X message (address, data) to the partition; false when it
     * names none of its vCPUs. */
    bool (*msi)(void *ctx, u64 addr, u32 data);
    /* Asks the port's home CPU to run vnet_tx_retry() at or after `when` (ns). */
    void (*retry_at)(void *ctx, u64 when);
    void *ctx;
    /* Optional. The CPU time (ns) the port's guest has been given, which
     * stops while its host does not run it: the stall clock runs on it, so a
     * guest starved by its host is never called stalled. NULL: now(). */
    u64 (*ran)(void *ctx);
    /* Optional. Called (under the port's lock) while the stall clock runs:
     * the guest's time must be accounted finely even if it neither exits
     * nor wakes (vmm: part_watch_ran). */
    void (*watch)(void *ctx);
};

struct vnet_queue {
    struct virtq q;
    u16 size;   /* what the driver set (<= VNET_QUEUE_SIZE) */
    u16 vector; /* MSI-X entry, or VIRTIO_MSI_NO_VECTOR */
    bool enabled;
    u64 desc, driver, device; /* the driver's ring addresses */
};

struct vnet_msix {
    u32 addr_lo, addr_hi, data, ctrl;
};

struct vnet_cfg {
    u8 mac[ETH_ALEN];
    u16 mtu; /* VIRTIO_NET_MTU_MIN..MAX; 0 at net_attach: the switch's default */
    struct vsw_port_cfg vlan;
    struct shim_cfg rate;
};

struct vnet {
    const char *name; /* the partition's */
    u32 part;         /* the partition's id: the key of its log limits (kernel/core/log_limit.h) */
    u32 port;         /* switch port, = index in the network */
    struct vnet_cfg cfg;
    const struct gmem *mem; /* the partition's memory; NULL while it has none */
    struct vnet_env env;
    spinlock_t lock;    /* transport registers, receive queue; only leaves under it */
    spinlock_t tx_lock; /* transmit side */

    /* ---- transport (vnet_pci.c), under lock ---- */
    u16 pci_cmd; /* the command register: bus mastering gates DMA */
    u32 dfselect, gfselect;
    u64 driver_features;
    u8 status;
    u8 generation;
    u8 isr;
    u16 queue_select;
    u16 config_vector;
    struct vnet_queue queue[VNET_NUM_QUEUES];
    struct vnet_msix msix[VNET_MSIX_VECTORS];
    u16 msix_ctrl;                          /* enable, function mask */
    u8 pba;                                 /* pending bits, one per vector */
    u32 cfgcap_bar, cfgcap_off, cfgcap_len; /* VIRTIO_PCI_CAP_PCI_CFG window */

    /* ---- data path (vnet_data.c) ---- */
    bool running; /* DRIVER_OK, not NEEDS_RESET, bus mastering on */
    struct shim shim;
    volatile u32 tx_again; /* a pass was asked for while one ran */
    volatile u32 waiters;  /* bit p: port p waits for this port's receive buffers */
    /* Since when (env.ran() + 1; 0 = not) a sender has found this port
     * without receive buffers, its driver having added none since. After
     * VNET_STALL_NS of its guest's CPU time it is stalled: until its driver
     * adds some, frames to it are dropped at once and it gives no congestion
     * feedback (a dead guest is not congested). */
    volatile u64 empty_since;
    volatile u32 stalled;
    struct vsw_cache sw_cache;   /* the switch's last decision for this port's frames (under tx_lock) */
    struct virtq_chain tx_chain; /* the frame being sent (under tx_lock) */
    struct virtq_chain rx_chain; /* the buffer being filled (under lock) */
    /* A frame over several receive buffers (mergeable buffers, under lock):
     * the buffers after the first, one at a time, and what each took. */
    struct virtq_chain rx_more;
    u16 mrg_head[VNET_MRG_MAX];
    u32 mrg_len[VNET_MRG_MAX];
    /* Since when (env.ran() + 1; 0 = not) a frame to this port has found its
     * buffers too few to span it; a sender holds the frame meanwhile, for
     * at most VNET_STALL_NS of the port's CPU time (then it is dropped). */
    u64 short_since;
    u32 last_bufs; /* receive buffers the last frame delivered here took */
    struct vnet_stats stats;
};

/* ---- vnet_pci.c: the PCI function ---- */
/* Config space dword at off (0x00..0xFF) / a write with byte mask. The
 * command register and BARs are the bus's (vpci); these get the rest. */
u32 vnet_cfg_read(struct vnet *n, u16 off);
void vnet_cfg_write(struct vnet *n, u16 off, u32 bmask, u32 val);
/* The bus's command register changed (bus mastering gates DMA). */
void vnet_set_command(struct vnet *n, u16 cmd);
/* An access of size 1, 2, 4 or 8 bytes at offset off of BAR0. Reads of no
 * register give 0, writes there are dropped; both are counted. */
void vnet_bar_access(struct vnet *n, u32 off, u8 size, bool write, u64 *val);
/* Device reset (the driver's, or the partition stopping): queues and
 * transport back to their initial state. The port's learnt addresses stay. */
void vnet_reset(struct vnet *n);
/* Power-on: vnet_reset, plus the PCI function's own state (MSI-X table and
 * enable, command register), which a virtio reset leaves alone. */
void vnet_power_on(struct vnet *n);
/* Whether the driver has DRIVER_OK and the device is usable. */
bool vnet_link_up(const struct vnet *n);

/* Interrupts for queue q / config changes (vnet_pci.c). */
void vnet_interrupt_queue(struct vnet *n, u32 q);
void vnet_interrupt_config(struct vnet *n);
/* A corrupt ring: DEVICE_NEEDS_RESET, the port stops, the driver is told. */
void vnet_needs_reset(struct vnet *n, const char *why);

/* ---- vnet_data.c: the data path ---- */
/* The guest notified queue q. */
void vnet_notify(struct vnet *n, u32 q);
/* Transmit pass (a notify, a retry when tokens return, or a receiver that
 * made room). Safe to call from any CPU. */
void vnet_tx(struct vnet *n);
/* A frame the hypervisor built, switched as if it came in at port `from` (the
 * switch learns its source there) and copied to the receivers: how many got it. */
u32 vnet_inject(struct vnet *from, const u8 *frame, u32 len);
const char *vnet_drop_name(enum vnet_drop d);
/* The longest frame (without the virtio-net header) a port with this
 * configuration takes in or gives out: its MTU plus the Ethernet header, plus
 * an 802.1Q tag when the frame carries one on a trunk port. The MTU counts
 * the payload (IEEE 802.3, RFC 894; virtio's "mtu plus low level ethernet
 * header length", 5.1.4.1). Tags are carried on trunks only: on an access
 * port a tagged frame gets no allowance (the switch drops it). In line: the
 * data path asks twice per frame. */
static inline u32 vnet_max_frame(const struct vnet_cfg *c, bool tagged)
{
    return (u32)c->mtu + ETH_HLEN + (tagged && c->vlan.mode == VSW_TRUNK ? VLAN_HLEN : 0);
}

/* ---- net.c: the switch and its ports ---- */
#define NET_MAX_PORTS VSW_MAX_PORTS
struct net {
    struct vswitch sw;
    struct shim_link link;
    u16 mtu; /* the ports' default */
    struct vnet *port[NET_MAX_PORTS];
    u32 nports;
};
extern struct net net;

/* Sets up the switch (ageing in ns, link capacity in bytes/s, 0 = unlimited;
 * the ports' default MTU, 0 = VNET_MTU_DEFAULT). */
void net_init(u64 age_ns, u64 capacity, u16 mtu, u64 now);
/* Adds a NIC as the next port: -ENOSPC when full, -EINVAL for a bad VLAN,
 * MTU or rate. */
int net_attach(struct vnet *n, const char *name, u32 part, const struct vnet_cfg *cfg,
               const struct vnet_env *env) __must_check;
/* The partition got / lost its memory (start, stop). Stopping resets the
 * device and forgets the port's learnt addresses. */
void net_connect(struct vnet *n, const struct gmem *mem);
void net_disconnect(struct vnet *n);
struct vnet *net_find(const char *name);
/* Moves a MAC address to a port and tells its VLAN: a gratuitous ARP from
 * mac (an ARP request with sender = target = ip) broadcast on VLAN vid, as if
 * sent by `from`. Returns how many ports received it. */
u32 net_announce(struct vnet *from, const u8 mac[6], const u8 ip[4], u16 vid);
/* Live rate change (the shell's `rate`). */
int net_set_rate(struct vnet *n, const struct shim_cfg *cfg) __must_check;

#endif
