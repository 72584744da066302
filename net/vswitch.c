/* See vswitch.h. References are to IEEE 802.1Q-2018.
 *
 * Decisions the header leaves open:
 * - Tags with VID 0 (priority-tagged, 9.6) and VID 4095 (reserved, "shall not
 *   be transmitted in a tag header", table 9-2) are dropped: on an access port
 *   as VSW_DROP_TAGGED_ACCESS, on a trunk as VSW_DROP_VLAN_NOT_ALLOWED. 802.1Q
 *   would classify a priority-tagged frame to the port's VLAN, but the frame
 *   would then have to leave some trunks with its VID rewritten, which no
 *   vsw_tag_action expresses.
 * - A tagged frame carrying a trunk's native VID is accepted (the native VLAN
 *   counts as allowed) and leaves other trunks untagged on their native VLAN.
 * - An entry is live while now - seen <= age_ns; age_ns 0 means the default.
 * - sw->lock also covers port[]: a whole decision runs under it, so port_add
 *   and port_remove may race with forwarding and no address is ever learnt on
 *   a port that has left. A decision is a few hundred instructions.
 *
 * The learning table is linear probing with backward-shift deletion (no
 * tombstones), and every entry within VSW_PROBE of its home slot: guests pick
 * their MACs, so the bound, not the hash, caps how long the lock is held. */
#include "net/vswitch.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

#define VSW_PROBE    32
#define VSW_CACHE_NS 100000000ULL /* a cached decision is taken again from the table at least every 100 ms */
#define MAC_MASK     (VSW_MAC_ENTRIES - 1)
#define TCI_VID      0x0fff
#define VID_RESERVED 0x0fff

STATIC_ASSERT((VSW_MAC_ENTRIES & MAC_MASK) == 0, "VSW_MAC_ENTRIES is a power of two");
STATIC_ASSERT(VSW_PROBE < VSW_MAC_ENTRIES, "the probe bound ends deletion's scan");
STATIC_ASSERT(VSW_MAX_PORTS <= 256, "ports fit in a u8");
STATIC_ASSERT(VSW_VID_MAX + 1 < 64 * 64, "allowed[] holds every VID");

static u32 mac_home(const u8 *mac, u16 vid)
{
    u64 k = (u64)vid << 48;
    for (u32 i = 0; i < ETH_ALEN; i++)
        k |= (u64)mac[i] << (40 - 8 * i);
    /* Fibonacci hashing: the top bits of the product depend on every key bit. */
    return (u32)((k * 0x9e3779b97f4a7c15ULL) >> (64 - __builtin_ctz(VSW_MAC_ENTRIES)));
}

static bool same_key(const struct vsw_mac_entry *e, const u8 *mac, u16 vid)
{
    return e->vid == vid && memcmp(e->mac, mac, ETH_ALEN) == 0;
}

/* Clocks of different CPUs may be slightly apart: a seen in the future is live. */
static bool expired(const struct vswitch *sw, const struct vsw_mac_entry *e, u64 now)
{
    return now > e->seen && now - e->seen > sw->age_ns;
}

static bool live(const struct vswitch *sw, const struct vsw_mac_entry *e, u64 now)
{
    return e->used && !expired(sw, e, now);
}

/* Empties slot `hole`, then pulls back each later entry of the run whose home
 * is at or before the hole, so no lookup meets an empty slot before its key. */
static void unlink_slot(struct vswitch *sw, u32 hole)
{
    for (u32 j = (hole + 1) & MAC_MASK;; j = (j + 1) & MAC_MASK) {
        u32 gap = (j - hole) & MAC_MASK;
        struct vsw_mac_entry *e = &sw->mac[j];
        if (!e->used || gap >= VSW_PROBE) /* none further can reach the hole */
            break;
        if (((j - mac_home(e->mac, e->vid)) & MAC_MASK) >= gap) {
            sw->mac[hole] = *e;
            hole = j;
        }
    }
    sw->mac[hole].used = false;
    sw->gen++;
}

typedef bool (*entry_match)(const struct vswitch *sw, const struct vsw_mac_entry *e, u64 arg);

static bool on_port(const struct vswitch *sw, const struct vsw_mac_entry *e, u64 port) { return e->port == port; }

/* Entries that move during the pass go only into the slot being looked at or
 * later ones, or are ones already looked at (which did not match): one pass
 * sees every entry. */
static u32 remove_where(struct vswitch *sw, entry_match match, u64 arg)
{
    u32 n = 0;
    for (u32 i = 0; i < VSW_MAC_ENTRIES; i++)
        while (sw->mac[i].used && match(sw, &sw->mac[i], arg)) {
            unlink_slot(sw, i);
            n++;
        }
    return n;
}

static const struct vsw_mac_entry *mac_lookup(const struct vswitch *sw, const u8 *mac, u16 vid, u64 now)
{
    u32 h = mac_home(mac, vid);
    for (u32 i = 0; i < VSW_PROBE; i++) {
        const struct vsw_mac_entry *e = &sw->mac[(h + i) & MAC_MASK];
        if (!e->used)
            return NULL;
        if (same_key(e, mac, vid))
            return expired(sw, e, now) ? NULL : e;
    }
    return NULL;
}

/* 8.7 learning process. The whole run is scanned before an expired slot is
 * reused, so a key is never in the table twice. */
static void mac_learn(struct vswitch *sw, const u8 *mac, u16 vid, u8 port, u64 now)
{
    u32 h = mac_home(mac, vid);
    struct vsw_mac_entry *slot = NULL;
    for (u32 i = 0; i < VSW_PROBE; i++) {
        struct vsw_mac_entry *e = &sw->mac[(h + i) & MAC_MASK];
        if (!e->used) {
            if (!slot)
                slot = e;
            break;
        }
        if (same_key(e, mac, vid)) {
            if (expired(sw, e, now)) {
                sw->stats.aged++;
                sw->stats.learned++;
                e->seen = now;
                sw->gen++;
            } else {
                if (e->port != port) {
                    sw->stats.moved++;
                    sw->gen++;
                }
                e->seen = MAX(e->seen, now);
            }
            e->port = port;
            return;
        }
        if (!slot && expired(sw, e, now))
            slot = e;
    }
    if (!slot) {
        sw->stats.table_full++;
        return;
    }
    if (slot->used)
        sw->stats.aged++;
    memcpy(slot->mac, mac, ETH_ALEN);
    slot->vid = vid;
    slot->port = port;
    slot->used = true;
    slot->seen = now;
    sw->stats.learned++;
    sw->gen++;
}

static bool vid_valid(u32 vid) { return vid >= 1 && vid <= VSW_VID_MAX; }

static bool allowed_bit(const struct vsw_port_cfg *cfg, u32 vid) { return (cfg->allowed[vid / 64] >> (vid % 64)) & 1; }

bool vsw_member(const struct vsw_port_cfg *cfg, u16 vid)
{
    if (!vid_valid(vid))
        return false;
    if (cfg->mode == VSW_ACCESS)
        return vid == cfg->vid;
    return vid == cfg->vid || allowed_bit(cfg, vid);
}

void vsw_allow(struct vsw_port_cfg *cfg, u16 vid)
{
    if (vid_valid(vid))
        cfg->allowed[vid / 64] |= 1ULL << (vid % 64);
}

static bool cfg_valid(const struct vsw_port_cfg *cfg)
{
    if (cfg->mode == VSW_ACCESS)
        return vid_valid(cfg->vid);
    if (cfg->mode != VSW_TRUNK || cfg->vid > VSW_VID_MAX || allowed_bit(cfg, 0) || allowed_bit(cfg, VID_RESERVED))
        return false;
    if (cfg->vid)
        return true;
    for (u32 i = 0; i < ARRAY_SIZE(cfg->allowed); i++)
        if (cfg->allowed[i])
            return true;
    return false;
}

void vsw_init(struct vswitch *sw, u64 age_ns)
{
    memset(sw, 0, sizeof(*sw));
    sw->lock = (spinlock_t)SPINLOCK_INIT;
    sw->age_ns = age_ns ? age_ns : VSW_AGE_DEFAULT_NS;
}

int vsw_port_add(struct vswitch *sw, u32 port, const struct vsw_port_cfg *cfg)
{
    if (port >= VSW_MAX_PORTS || !cfg || !cfg_valid(cfg))
        return -EINVAL;
    int ret = -EBUSY;
    spin_lock(&sw->lock);
    struct vsw_port *p = &sw->port[port];
    if (!p->used) {
        p->cfg = *cfg;
        memset(p->drops, 0, sizeof(p->drops));
        p->used = true;
        sw->gen++;
        ret = 0;
    }
    spin_unlock(&sw->lock);
    return ret;
}

void vsw_port_flush(struct vswitch *sw, u32 port)
{
    spin_lock(&sw->lock);
    remove_where(sw, on_port, port);
    spin_unlock(&sw->lock);
}

void vsw_port_remove(struct vswitch *sw, u32 port)
{
    if (port >= VSW_MAX_PORTS)
        return;
    spin_lock(&sw->lock);
    sw->port[port].used = false;
    sw->gen++;
    remove_where(sw, on_port, port);
    spin_unlock(&sw->lock);
}

u32 vsw_age(struct vswitch *sw, u64 now)
{
    spin_lock(&sw->lock);
    u32 n = remove_where(sw, expired, now);
    sw->stats.aged += n;
    spin_unlock(&sw->lock);
    return n;
}

/* Egress (8.8.2 untagged set): a frame leaves tagged only on a trunk and off
 * that trunk's native VLAN. */
static enum vsw_tag_action tag_action(const struct vsw_port_cfg *out, u16 vid, bool tagged)
{
    bool want = out->mode == VSW_TRUNK && vid != out->vid;
    if (want == tagged)
        return VSW_TAG_NONE;
    return want ? VSW_TAG_PUSH : VSW_TAG_POP;
}

static void add_out(struct vswitch *sw, struct vsw_decision *d, u32 port)
{
    d->out[d->nout] = (u8)port;
    d->action[d->nout] = tag_action(&sw->port[port].cfg, d->vid, d->tagged);
    d->nout++;
}

/* Ingress classification (6.9) and filtering (8.6.2), then forwarding (8.6:
 * never back out of the reception port). Returns the drop reason; fills d
 * otherwise. Called with the lock held. */
static enum vsw_drop decide(struct vswitch *sw, u32 in, const u8 *h, u32 len, u64 now, struct vsw_decision *d,
                            u64 *until)
{
    const struct vsw_port_cfg *cfg = &sw->port[in].cfg;
    const u8 *dst = h, *src = h + ETH_ALEN;

    if (len < ETH_HLEN)
        return VSW_DROP_RUNT;
    d->tagged = ((h[12] << 8) | h[13]) == ETH_P_8021Q;
    if (d->tagged && len < ETH_HLEN + VLAN_HLEN)
        return VSW_DROP_RUNT;
    if (src[0] & 1) /* I/G bit: a group address */
        return VSW_DROP_SRC_MCAST;

    if (!d->tagged) {
        if (!cfg->vid)
            return VSW_DROP_UNTAGGED_TRUNK; /* access ports always have a VID */
        d->vid = cfg->vid;
    } else if (cfg->mode == VSW_ACCESS) {
        return VSW_DROP_TAGGED_ACCESS;
    } else {
        d->vid = ((h[14] << 8) | h[15]) & TCI_VID;
        if (!vsw_member(cfg, d->vid)) /* also VID 0 and 4095 */
            return VSW_DROP_VLAN_NOT_ALLOWED;
    }

    mac_learn(sw, src, d->vid, (u8)in, now);

    if (!(dst[0] & 1)) {
        const struct vsw_mac_entry *e = mac_lookup(sw, dst, d->vid, now);
        if (e && e->port == in)
            return VSW_DROP_NO_PORT;
        /* A stale entry for a port gone from the VLAN: flood as unknown. */
        if (e && sw->port[e->port].used && vsw_member(&sw->port[e->port].cfg, d->vid)) {
            /* Live while now - seen <= age_ns: past seen + age_ns the
             * destination may have aged out. The source was just seen at now
             * and is refreshed only at the cache's flush: past now + age_ns
             * it may have too, and then its next frame learns it anew. */
            *until = MIN(e->seen, now) + sw->age_ns;
            add_out(sw, d, e->port);
            sw->stats.forwarded++;
            return VSW_DROP_NONE;
        }
    }

    d->flooded = true;
    for (u32 p = 0; p < VSW_MAX_PORTS; p++)
        if (p != in && sw->port[p].used && vsw_member(&sw->port[p].cfg, d->vid))
            add_out(sw, d, p);
    if (!d->nout)
        return VSW_DROP_NO_PORT;
    sw->stats.flooded++;
    return VSW_DROP_NONE;
}

/* Decides under the lock; *until: how long a unicast decision holds (0: it
 * is not one to cache). */
static void forward(struct vswitch *sw, u32 in, const u8 *frame, u32 len, u64 now, struct vsw_decision *d, u64 *until)
{
    /* The frame may be in guest memory: read its header exactly once. */
    u8 h[ETH_HLEN + VLAN_HLEN] = { 0 };
    if (len)
        memcpy(h, frame, MIN(len, (u32)sizeof(h)));

    memset(d, 0, sizeof(*d));
    *until = 0;
    spin_lock(&sw->lock);
    if (in >= VSW_MAX_PORTS || !sw->port[in].used) {
        d->drop = VSW_DROP_NO_PORT; /* nowhere to count it */
    } else {
        d->drop = decide(sw, in, h, len, now, d, until);
        if (d->drop) {
            d->nout = 0;
            sw->port[in].drops[d->drop]++;
        }
    }
    spin_unlock(&sw->lock);
}

void vsw_forward(struct vswitch *sw, u32 in, const u8 *frame, u32 len, u64 now, struct vsw_decision *d)
{
    u64 until;
    forward(sw, in, frame, len, now, d, &until);
}

/* A cached decision depends on the frame's MACs, and whether it is tagged
 * and with which VID (an untagged frame's VLAN is the port's): its key,
 * taken from this function's own copy of the header, read once. */
void vsw_forward_cached(struct vswitch *sw, struct vsw_cache *c, u32 in, const u8 *frame, u32 len, u64 now,
                        struct vsw_decision *d)
{
    u8 h[ETH_HLEN + VLAN_HLEN];
    u64 key[2];

    if (len >= sizeof(h)) {
        kcopy_small(h, frame, sizeof(h)); /* read once */
        vsw_cache_key(*(const kcopy_u64 *)(const void *)h, *(const kcopy_u64 *)(const void *)(h + 8), key);
        if (vsw_cache_live(c, now) && vsw_cache_match(sw, c, key)) {
            d->vid = c->vid;
            d->tagged = c->tagged;
            d->flooded = false;
            d->drop = VSW_DROP_NONE;
            d->nout = 1;
            d->out[0] = c->out;
            d->action[0] = c->action;
            vsw_cache_count(c, 1, now);
            return;
        }
        frame = h;
    }
    /* A frame shorter than a tagged header is never cached (runts are
     * judged by length in decide()). */
    vsw_cache_flush(sw, c, in);
    u64 until;
    u32 gen = __atomic_load_n(&sw->gen, __ATOMIC_ACQUIRE);
    forward(sw, in, frame, len, now, d, &until);
    c->valid = false;
    /* Only when nothing changed between the generation read and the
     * decision: one taken on an older table is not cached. */
    if (until && len >= sizeof(h) && d->nout == 1 && gen == __atomic_load_n(&sw->gen, __ATOMIC_ACQUIRE)) {
        c->key[0] = key[0];
        c->key[1] = key[1];
        c->gen = gen;
        c->until = MIN(until, now + VSW_CACHE_NS);
        c->vid = d->vid;
        c->tagged = d->tagged;
        c->out = d->out[0];
        c->action = d->action[0];
        c->valid = true;
    }
}

void vsw_cache_flush(struct vswitch *sw, struct vsw_cache *c, u32 in)
{
    if (!c->hits)
        return;
    spin_lock(&sw->lock);
    sw->stats.forwarded += c->hits;
    /* The source's entry, refreshed as each frame's learning would have. A
     * port that left learns nothing. */
    if (in < VSW_MAX_PORTS && sw->port[in].used)
        mac_learn(sw, (const u8 *)&c->key[0] + ETH_ALEN, c->vid, (u8)in, c->last);
    spin_unlock(&sw->lock);
    c->hits = 0;
}

/* Sorting for vsw_mac_dump: a bounded max-heap in the caller's buffer keeps
 * the smallest `max` entries without scratch memory, then heapsort orders them. */
static bool entry_less(const struct vsw_mac_entry *a, const struct vsw_mac_entry *b)
{
    if (a->vid != b->vid)
        return a->vid < b->vid;
    return memcmp(a->mac, b->mac, ETH_ALEN) < 0;
}

static void swap_entries(struct vsw_mac_entry *a, struct vsw_mac_entry *b)
{
    struct vsw_mac_entry t = *a;
    *a = *b;
    *b = t;
}

static void sift_down(struct vsw_mac_entry *h, u32 n, u32 i)
{
    for (;;) {
        u32 big = i, l = 2 * i + 1, r = l + 1;
        if (l < n && entry_less(&h[big], &h[l]))
            big = l;
        if (r < n && entry_less(&h[big], &h[r]))
            big = r;
        if (big == i)
            return;
        swap_entries(&h[i], &h[big]);
        i = big;
    }
}

static void sift_up(struct vsw_mac_entry *h, u32 i)
{
    while (i && entry_less(&h[(i - 1) / 2], &h[i])) {
        swap_entries(&h[(i - 1) / 2], &h[i]);
        i = (i - 1) / 2;
    }
}

u32 vsw_mac_dump(struct vswitch *sw, u64 now, struct vsw_mac_entry *out, u32 max)
{
    u32 total = 0, n = 0;
    spin_lock(&sw->lock);
    for (u32 i = 0; i < VSW_MAC_ENTRIES; i++) {
        const struct vsw_mac_entry *e = &sw->mac[i];
        if (!live(sw, e, now))
            continue;
        total++;
        if (n < max) {
            out[n] = *e;
            sift_up(out, n++);
        } else if (max && entry_less(e, &out[0])) {
            out[0] = *e;
            sift_down(out, n, 0);
        }
    }
    spin_unlock(&sw->lock);
    for (u32 k = n; k > 1; k--) {
        swap_entries(&out[0], &out[k - 1]);
        sift_down(out, k - 1, 0);
    }
    return total;
}

const char *vsw_drop_name(enum vsw_drop d)
{
    static const char *const names[VSW_DROP_COUNT] = {
        [VSW_DROP_NONE] = "none",
        [VSW_DROP_RUNT] = "runt",
        [VSW_DROP_SRC_MCAST] = "src-multicast",
        [VSW_DROP_TAGGED_ACCESS] = "tagged-on-access",
        [VSW_DROP_UNTAGGED_TRUNK] = "untagged-on-trunk",
        [VSW_DROP_VLAN_NOT_ALLOWED] = "vlan-not-allowed",
        [VSW_DROP_NO_PORT] = "no-port",
    };
    return (unsigned)d < VSW_DROP_COUNT ? names[d] : "?";
}
