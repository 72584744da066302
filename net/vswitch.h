/* The virtual switch inside the hypervisor: one port per partition NIC.
 *
 * - MAC learning per VLAN (IEEE 802.1Q independent VLAN learning): each frame's
 *   source address is learnt on (its VLAN, its ingress port) with a timestamp;
 *   entries older than the ageing time are ignored and reclaimed; a station
 *   that moves is re-learnt on its new port.
 * - Forwarding: a known unicast destination on the frame's VLAN goes to that
 *   one port; broadcast, multicast and unknown unicast are flooded to every
 *   other port that is a member of the VLAN. Never back out of the ingress port.
 * - VLANs per port: access (untagged frames belong to the port's VLAN; tagged
 *   ones are dropped; frames leave untagged) or trunk (tagged frames pass when
 *   their VLAN is allowed; untagged frames belong to the native VLAN when one is
 *   set, else are dropped; frames leave tagged, except on the native VLAN).
 *   Ports on different VLANs never see each other's frames.
 *
 * The switch only decides: the caller copies the frame once into each output
 * port's receive buffer, applying the tag action the decision gives for it.
 * Thread-safe: the learning table has its own lock; decisions may run on
 * several CPUs at once. Arch-neutral, with time passed in (ns). */
#ifndef ISTHMUS_NET_VSWITCH_H
#define ISTHMUS_NET_VSWITCH_H

#include "kernel/lib/types.h"
#include "kernel/lib/spinlock.h"
#include "net/virtio.h"

#define VSW_MAX_PORTS      16
#define VSW_MAC_ENTRIES    1024 /* learning table size (open addressing) */
#define VSW_VID_MAX        4094
#define VSW_AGE_DEFAULT_NS (300ULL * 1000000000ULL) /* 802.1D default: 300 s */

enum vsw_vlan_mode { VSW_ACCESS, VSW_TRUNK };

struct vsw_port_cfg {
    enum vsw_vlan_mode mode;
    u16 vid;         /* access: the port's VLAN (1..4094); trunk: the native VLAN, 0 = none */
    u64 allowed[64]; /* trunk: bit v set when VLAN v may pass (v in 1..4094) */
};

enum vsw_drop {
    VSW_DROP_NONE,
    VSW_DROP_RUNT,             /* shorter than an Ethernet header (or tag) */
    VSW_DROP_SRC_MCAST,        /* a group address as source */
    VSW_DROP_TAGGED_ACCESS,    /* a tagged frame on an access port */
    VSW_DROP_UNTAGGED_TRUNK,   /* untagged on a trunk without a native VLAN */
    VSW_DROP_VLAN_NOT_ALLOWED, /* tagged with a VLAN the trunk does not carry */
    VSW_DROP_NO_PORT,          /* no other member port of the VLAN (or the destination is the ingress port) */
    VSW_DROP_COUNT
};

enum vsw_tag_action {
    VSW_TAG_NONE, /* the frame leaves as it came */
    VSW_TAG_PUSH, /* insert an 802.1Q tag with the decision's vid after the MACs */
    VSW_TAG_POP,  /* remove the 802.1Q tag */
};

struct vsw_decision {
    u16 vid;     /* the frame's VLAN */
    bool tagged; /* it arrived with an 802.1Q tag */
    bool flooded;
    enum vsw_drop drop; /* why nout == 0 */
    u32 nout;
    u8 out[VSW_MAX_PORTS];    /* output ports */
    u8 action[VSW_MAX_PORTS]; /* enum vsw_tag_action for out[i] */
};

struct vsw_mac_entry {
    u8 mac[ETH_ALEN];
    u16 vid;
    u8 port;
    bool used;
    u64 seen; /* ns of the last frame from it */
};

struct vsw_port {
    bool used;
    struct vsw_port_cfg cfg;
    u64 drops[VSW_DROP_COUNT]; /* ingress frames dropped, by reason */
};

struct vsw_stats {
    u64 learned, moved, aged, table_full, flooded, forwarded;
};

/* A port's last unicast decision, kept by the port's sender (one CPU at a
 * time: the caller serialises) so that a run of frames to one destination
 * is decided once. It holds while the switch's generation is unchanged
 * (nothing was learnt anew, moved, aged out or removed and no port came or
 * went), neither the destination's nor the source's entry can have aged out
 * (`until`), and the frame's
 * key (its MACs, whether it is tagged, its VID) is the same. Frames decided
 * by it are counted, and their source's entry refreshed, at vsw_cache_flush. */
struct vsw_cache {
    bool valid;
    u64 key[2]; /* bytes 0..11 of the frame; the tag's VID and the tagged bit */
    u32 gen;
    u64 until; /* ns: an entry it depends on may age out, or VSW_CACHE_NS passed */
    u16 vid;
    bool tagged;
    u8 out, action;
    u32 hits; /* frames decided by it since the last flush */
    u64 last; /* ns of the last of them */
};

struct vswitch {
    spinlock_t lock; /* mac[] and stats */
    u32 gen;         /* bumped (under lock) by every change a cached decision depends on */
    u64 age_ns;
    struct vsw_port port[VSW_MAX_PORTS];
    struct vsw_mac_entry mac[VSW_MAC_ENTRIES];
    struct vsw_stats stats;
};

void vsw_init(struct vswitch *sw, u64 age_ns);
/* -EINVAL (with nothing changed) for a bad VLAN configuration; -EBUSY for a
 * port in use. Ports are numbered by the caller (0 .. VSW_MAX_PORTS - 1). */
int vsw_port_add(struct vswitch *sw, u32 port, const struct vsw_port_cfg *cfg) __must_check;
/* The port leaves: its learnt addresses are forgotten. */
void vsw_port_remove(struct vswitch *sw, u32 port);
/* Forgets the addresses learnt on a port (its partition restarted). */
void vsw_port_flush(struct vswitch *sw, u32 port);
/* Decides where a frame from port `in` goes. frame/len: the Ethernet frame (at
 * least its first ETH_HLEN + VLAN_HLEN bytes when it has that many; len is the
 * whole frame's length). Learns the source. */
void vsw_forward(struct vswitch *sw, u32 in, const u8 *frame, u32 len, u64 now, struct vsw_decision *d);
/* vsw_forward through the sender's cache: a frame with the key of the last
 * unicast decision, while that decision holds, is decided without the lock,
 * the table or the learning. */
void vsw_forward_cached(struct vswitch *sw, struct vsw_cache *c, u32 in, const u8 *frame, u32 len, u64 now,
                        struct vsw_decision *d);
/* The cache's key of a frame whose first 16 bytes the caller read, once, as
 * two little-endian words (w0: bytes 0..7, w1: 8..15) of its own: bytes
 * 0..11 (the MACs), whether bytes 12..13 are an 802.1Q TPID, and then the
 * tag's VID. x86-64 is little-endian. */
static inline void vsw_cache_key(u64 w0, u64 w1, u64 key[2])
{
    const u16 tpid_le = (u16)((ETH_P_8021Q >> 8) | (ETH_P_8021Q & 0xff) << 8);
    bool tagged = (u16)(w1 >> 32) == tpid_le;
    u64 vid = tagged ? ((w1 >> 40 & 0xff00) | w1 >> 56) & 0x0fff : 0;
    key[0] = w0;
    key[1] = (u64)(u32)w1 | vid << 32 | (u64)tagged << 48;
}
/* Whether c holds a decision that has not expired at now (the part of a hit
 * that does not depend on the frame: a run of frames in one pass asks once). */
static inline bool vsw_cache_live(const struct vsw_cache *c, u64 now) { return c->valid && now < c->until; }
/* Whether a live cache decides the frame with this key: the same key, and
 * nothing changed in the switch since the decision (read per frame). A hit
 * is counted with vsw_cache_count. */
static inline bool vsw_cache_match(struct vswitch *sw, const struct vsw_cache *c, const u64 key[2])
{
    return key[0] == c->key[0] && key[1] == c->key[1] && c->gen == __atomic_load_n(&sw->gen, __ATOMIC_ACQUIRE);
}
/* Counts `frames` hits at now, as vsw_forward_cached counts one. */
static inline void vsw_cache_count(struct vsw_cache *c, u32 frames, u64 now)
{
    c->hits += frames;
    c->last = MAX(c->last, now);
}
/* Counts the frames the cache decided and refreshes their source's entry, as
 * vsw_forward would have for each: once per batch, one lock. */
void vsw_cache_flush(struct vswitch *sw, struct vsw_cache *c, u32 in);
/* Reclaims entries older than the ageing time; returns how many. */
u32 vsw_age(struct vswitch *sw, u64 now);
/* Copies up to max live entries (sorted by VLAN, then MAC) for the shell;
 * returns how many there are in all. */
u32 vsw_mac_dump(struct vswitch *sw, u64 now, struct vsw_mac_entry *out, u32 max);
/* Membership of a port in a VLAN. */
bool vsw_member(const struct vsw_port_cfg *cfg, u16 vid);
/* Allow / test a VLAN in a trunk's allowed set. */
void vsw_allow(struct vsw_port_cfg *cfg, u16 vid);
const char *vsw_drop_name(enum vsw_drop d);

#endif
