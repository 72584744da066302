/* libFuzzer target for the virtual switch (net/vswitch.c), which reads the
 * Ethernet header of every frame a guest sends: port configurations, then a
 * sequence of frames, ageing passes and ports leaving and coming back, all from
 * the input, checked against a second switch written here from the rules in
 * vswitch.h (a plain list of learnt addresses instead of a hash table).
 *
 * Input: a byte for the ageing time, MAX_PORTS port configurations of 4 bytes
 * (present, mode, VID, allowed VLANs out of a small set that includes the
 * invalid 0 and 4095), then operations: a frame (ingress port, time step, length
 * from 0 up, destination and source out of a few addresses or the broadcast and
 * multicast ones, tagged or not, TCI), an ageing pass, a port flushed or removed,
 * a port (re)added. Each frame's header is its own heap block of the bytes the
 * switch may read. Invariants, each a CHECK:
 *  - vsw_port_add() accepts exactly the valid configurations;
 *  - every decision (drop reason, VLAN, tagged, flooded, output ports in order,
 *    tag action per port) and every drop counter equals the reference's;
 *  - the learning table stays a valid linear-probing table: no key twice, each
 *    entry within the probe bound of its home slot with no empty slot between;
 *  - vsw_mac_dump() lists the reference's live addresses, sorted. */
#include "net/vswitch.h"
#include "kernel/lib/errno.h"
#include "tests/fuzz/fuzz.h"

#define MAX_PORTS 6
#define MAX_OPS   160
#define PROBE     32 /* VSW_PROBE in vswitch.c */

static const u16 vids[8] = { 0, 1, 2, 3, 5, 100, 4094, 4095 };

/* ---------------------------------------------------------------- reference */

struct ref_entry {
    u8 mac[ETH_ALEN];
    u16 vid;
    u8 port;
    u64 seen;
};

static struct {
    u64 age;
    bool used[VSW_MAX_PORTS];
    struct vsw_port_cfg cfg[VSW_MAX_PORTS];
    u64 drops[VSW_MAX_PORTS][VSW_DROP_COUNT];
    struct ref_entry e[1024];
    u32 n;
    u64 forwarded, flooded;
} R;

static bool ref_expired(const struct ref_entry *e, u64 now) { return now > e->seen && now - e->seen > R.age; }

static bool ref_member(const struct vsw_port_cfg *c, u32 vid)
{
    if (vid < 1 || vid > VSW_VID_MAX)
        return false;
    return vid == c->vid || (c->mode == VSW_TRUNK && ((c->allowed[vid / 64] >> (vid % 64)) & 1));
}

static bool ref_valid(const struct vsw_port_cfg *c)
{
    bool any = false;
    for (u32 i = 0; i < 64; i++)
        any |= c->allowed[i] != 0;
    if (c->mode == VSW_ACCESS)
        return c->vid >= 1 && c->vid <= VSW_VID_MAX;
    return c->vid <= VSW_VID_MAX && !(c->allowed[0] & 1) && !((c->allowed[63] >> 63) & 1) && (c->vid || any);
}

static struct ref_entry *ref_find(const u8 *mac, u16 vid)
{
    for (u32 i = 0; i < R.n; i++)
        if (R.e[i].vid == vid && !memcmp(R.e[i].mac, mac, ETH_ALEN))
            return &R.e[i];
    return NULL;
}

static void ref_remove_if(bool (*match)(const struct ref_entry *e, u64 arg), u64 arg)
{
    u32 w = 0;
    for (u32 i = 0; i < R.n; i++)
        if (!match(&R.e[i], arg))
            R.e[w++] = R.e[i];
    R.n = w;
}

static bool on_port(const struct ref_entry *e, u64 port) { return e->port == port; }
static bool expired_at(const struct ref_entry *e, u64 now) { return ref_expired(e, now); }

static void ref_out(struct vsw_decision *d, u32 p)
{
    bool want = R.cfg[p].mode == VSW_TRUNK && d->vid != R.cfg[p].vid;
    d->out[d->nout] = (u8)p;
    d->action[d->nout++] = want == d->tagged ? VSW_TAG_NONE : want ? VSW_TAG_PUSH : VSW_TAG_POP;
}

static enum vsw_drop ref_decide(u32 in, const u8 *h, u32 len, u64 now, struct vsw_decision *d)
{
    const struct vsw_port_cfg *c = &R.cfg[in];
    if (len < ETH_HLEN)
        return VSW_DROP_RUNT;
    d->tagged = h[12] == 0x81 && h[13] == 0x00;
    if (d->tagged && len < ETH_HLEN + VLAN_HLEN)
        return VSW_DROP_RUNT;
    if (h[6] & 1)
        return VSW_DROP_SRC_MCAST;
    if (!d->tagged) {
        if (!c->vid)
            return VSW_DROP_UNTAGGED_TRUNK;
        d->vid = c->vid;
    } else if (c->mode == VSW_ACCESS) {
        return VSW_DROP_TAGGED_ACCESS;
    } else {
        d->vid = (u16)(((h[14] & 0x0f) << 8) | h[15]);
        if (!ref_member(c, d->vid))
            return VSW_DROP_VLAN_NOT_ALLOWED;
    }
    /* Learn the source. */
    struct ref_entry *e = ref_find(h + ETH_ALEN, d->vid);
    if (!e) {
        e = &R.e[R.n++];
        memcpy(e->mac, h + ETH_ALEN, ETH_ALEN);
        e->vid = d->vid;
        e->seen = now;
    } else {
        e->seen = ref_expired(e, now) ? now : MAX(e->seen, now);
    }
    e->port = (u8)in;
    /* A live, known unicast destination on a port of the VLAN; else flood. */
    if (!(h[0] & 1)) {
        const struct ref_entry *t = ref_find(h, d->vid);
        if (t && !ref_expired(t, now)) {
            if (t->port == in)
                return VSW_DROP_NO_PORT;
            if (R.used[t->port] && ref_member(&R.cfg[t->port], d->vid)) {
                ref_out(d, t->port);
                R.forwarded++;
                return VSW_DROP_NONE;
            }
        }
    }
    d->flooded = true;
    for (u32 p = 0; p < VSW_MAX_PORTS; p++)
        if (p != in && R.used[p] && ref_member(&R.cfg[p], d->vid))
            ref_out(d, p);
    if (!d->nout)
        return VSW_DROP_NO_PORT;
    R.flooded++;
    return VSW_DROP_NONE;
}

/* ---------------------------------------------------------------- checks */

/* mac_home() in vswitch.c: the table's own hash, to check where entries sit. */
static u32 home(const u8 *mac, u16 vid)
{
    u64 k = (u64)vid << 48;
    for (u32 i = 0; i < ETH_ALEN; i++)
        k |= (u64)mac[i] << (40 - 8 * i);
    return (u32)((k * 0x9e3779b97f4a7c15ULL) >> (64 - 10));
}

static void check_table(const struct vswitch *sw)
{
    STATIC_ASSERT(VSW_MAC_ENTRIES == 1024, "home() takes 10 bits");
    for (u32 i = 0; i < VSW_MAC_ENTRIES; i++) {
        const struct vsw_mac_entry *e = &sw->mac[i];
        if (!e->used)
            continue;
        CHECK(e->port < VSW_MAX_PORTS && e->vid >= 1 && e->vid <= VSW_VID_MAX);
        u32 h = home(e->mac, e->vid), dist = (i - h) & (VSW_MAC_ENTRIES - 1);
        CHECK(dist < PROBE);
        for (u32 k = 0; k < dist; k++) {
            const struct vsw_mac_entry *o = &sw->mac[(h + k) & (VSW_MAC_ENTRIES - 1)];
            CHECK(o->used && !(o->vid == e->vid && !memcmp(o->mac, e->mac, ETH_ALEN)));
        }
    }
}

static void check_dump(struct vswitch *sw, u64 now)
{
    static struct vsw_mac_entry dump[1024];
    u32 live = 0;
    for (u32 i = 0; i < R.n; i++)
        live += !ref_expired(&R.e[i], now);
    u32 n = vsw_mac_dump(sw, now, dump, 1024);
    CHECK(n == live);
    for (u32 i = 0; i < n; i++) {
        const struct ref_entry *r = ref_find(dump[i].mac, dump[i].vid);
        CHECK(r && !ref_expired(r, now) && r->port == dump[i].port && r->seen == dump[i].seen);
        if (i)
            CHECK(dump[i - 1].vid < dump[i].vid ||
                  (dump[i - 1].vid == dump[i].vid && memcmp(dump[i - 1].mac, dump[i].mac, ETH_ALEN) < 0));
    }
}

/* ---------------------------------------------------------------- input */

struct in {
    const u8 *p, *end;
};

static u8 take(struct in *in) { return in->p < in->end ? *in->p++ : 0; }

static void read_cfg(struct in *in, struct vsw_port_cfg *c, bool *present)
{
    u8 a = take(in), b = take(in), allowed = take(in), hi = take(in);
    memset(c, 0, sizeof(*c));
    *present = !(a & 1);
    c->mode = (a & 2) ? VSW_TRUNK : VSW_ACCESS;
    c->vid = (a & 4) ? (u16)(((hi & 0x0f) << 8) | b) : vids[b & 7];
    for (u32 i = 0; i < 8; i++)
        if (allowed & (1u << i))
            c->allowed[vids[i] / 64] |= 1ULL << (vids[i] % 64);
}

static void add_port(struct vswitch *sw, u32 p, const struct vsw_port_cfg *c)
{
    int want = !ref_valid(c) ? -EINVAL : R.used[p] ? -EBUSY : 0;
    CHECK(vsw_port_add(sw, p, c) == want);
    if (want == 0) {
        R.used[p] = true;
        R.cfg[p] = *c;
        memset(R.drops[p], 0, sizeof(R.drops[p]));
    }
}

/* Addresses: a few unicast ones, one multicast, the broadcast. */
static void mac_of(u8 sel, u8 *mac)
{
    static const u8 base[ETH_ALEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x00 };
    memcpy(mac, base, ETH_ALEN);
    mac[5] = sel & 7;
    if (sel & 8)
        mac[0] |= 1;
    if (sel & 16)
        memset(mac, 0xff, ETH_ALEN);
}

/* Each port's sender cache (vsw_forward_cached), flushed as the data path
 * flushes it at the end of a transmit pass: here a pass is a run of frames
 * from one port, ended by any other operation. */
#define NO_PASS (MAX_PORTS + 1)
static struct vsw_cache cache[MAX_PORTS + 1];
static u32 pass_port;

static void end_pass(struct vswitch *sw)
{
    if (pass_port != NO_PASS)
        vsw_cache_flush(sw, &cache[pass_port], pass_port);
    pass_port = NO_PASS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vswitch sw;
    struct in in = { data, data + size };
    u64 now = 1000;

    memset(&R, 0, sizeof(R));
    memset(cache, 0, sizeof(cache));
    pass_port = NO_PASS;
    R.age = 100 * ((u64)take(&in) + 1);
    vsw_init(&sw, R.age);
    for (u32 p = 0; p < MAX_PORTS; p++) {
        struct vsw_port_cfg c;
        bool present;
        read_cfg(&in, &c, &present);
        if (present)
            add_port(&sw, p, &c);
    }
    for (u32 op = 0; op < MAX_OPS && in.p < in.end; op++) {
        u8 code = take(&in);
        u32 port = (code >> 4) % (MAX_PORTS + 1); /* MAX_PORTS: only ever added here */
        /* Mostly frames: ageing and port changes scan the whole table. */
        if ((code & 15) >= 12 || port != pass_port)
            end_pass(&sw);
        switch (code & 15) {
        case 12:
        case 13:
            now += 50 * (u64)take(&in);
            vsw_age(&sw, now);
            ref_remove_if(expired_at, now);
            break;
        case 14:
            if (take(&in) & 1) {
                vsw_port_flush(&sw, port);
            } else {
                vsw_port_remove(&sw, port);
                R.used[port] = false;
            }
            ref_remove_if(on_port, port);
            break;
        case 15: {
            struct vsw_port_cfg c;
            bool present;
            read_cfg(&in, &c, &present);
            add_port(&sw, port, &c);
            break;
        }
        default: {
            u8 h[ETH_HLEN + VLAN_HLEN];
            now += 20 * (u64)take(&in);
            u8 lb = take(&in);
            u32 len = lb == 0xff ? 1514 : lb % 24;
            mac_of(take(&in), h);
            mac_of(take(&in), h + ETH_ALEN);
            u8 et = take(&in);
            h[12] = (et & 1) ? 0x81 : 0x08;
            h[13] = (et & 2) ? 0x06 : 0x00;
            h[14] = take(&in);
            h[15] = take(&in);
            h[16] = 0x08;
            h[17] = 0x00;
            /* The bytes the switch may read, in a block of their own. */
            u32 n = MIN(len, (u32)sizeof(h));
            u8 *frame = malloc(n ? n : 1);
            CHECK(frame);
            memcpy(frame, h, n);
            struct vsw_decision d, want;
            pass_port = port;
            vsw_forward_cached(&sw, &cache[port], port, frame, len, now, &d);
            free(frame);
            if (sw.stats.table_full)
                return 0; /* a probe run full (keys chosen to collide): the reference has no such limit */
            memset(&want, 0, sizeof(want));
            if (!R.used[port]) {
                want.drop = VSW_DROP_NO_PORT;
            } else {
                want.drop = ref_decide(port, h, len, now, &want);
                if (want.drop) {
                    want.nout = 0;
                    R.drops[port][want.drop]++;
                }
            }
            CHECK(d.drop == want.drop && d.nout == want.nout);
            if (!d.drop)
                CHECK(d.vid == want.vid && d.tagged == want.tagged && d.flooded == want.flooded);
            for (u32 i = 0; i < d.nout; i++)
                CHECK(d.out[i] == want.out[i] && d.action[i] == want.action[i]);
            break;
        }
        }
        if ((op & 63) == 63) {
            end_pass(&sw);
            check_table(&sw);
        }
    }
    end_pass(&sw);
    check_table(&sw);
    for (u32 p = 0; p <= MAX_PORTS; p++)
        if (R.used[p])
            CHECK(memcmp(sw.port[p].drops, R.drops[p], sizeof(R.drops[p])) == 0);
    CHECK(sw.stats.forwarded == R.forwarded && sw.stats.flooded == R.flooded);
    check_dump(&sw, now);
    return 0;
}
