/* The virtual switch: learning, ageing, flooding, VLAN classification and tag
 * actions, the learning table's deletion, and decisions on several threads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "net/vswitch.h"
#include "kernel/lib/errno.h"

#define A        0x020000000001ULL /* locally administered unicast stations */
#define B        0x020000000002ULL
#define C        0x020000000003ULL
#define BCAST    0xffffffffffffULL
#define MCAST    0x01005e000001ULL
#define UNTAGGED (-1)
#define AGE      1000ULL

static struct vswitch sw;

static void put_mac(u8 *p, u64 mac)
{
    for (int i = 0; i < ETH_ALEN; i++)
        p[i] = (u8)(mac >> (40 - 8 * i));
}

static u64 get_mac(const u8 *p)
{
    u64 m = 0;
    for (int i = 0; i < ETH_ALEN; i++)
        m = m << 8 | p[i];
    return m;
}

/* A minimum-size frame; tagged ones carry PCP 5 so the VID must be masked out. */
static u32 mk_frame(u8 *f, u64 dst, u64 src, int tag)
{
    memset(f, 0, 64);
    put_mac(f, dst);
    put_mac(f + 6, src);
    u8 *t = f + 12;
    if (tag != UNTAGGED) {
        u16 tci = (u16)(5 << 13 | tag);
        *t++ = 0x81, *t++ = 0x00, *t++ = (u8)(tci >> 8), *t++ = (u8)tci;
    }
    *t++ = 0x08, *t = 0x00;
    return tag == UNTAGGED ? 60 : 64;
}

/* Checks what holds of every decision: no port twice, never the ingress port,
 * only used ports that are members of the VLAN, nout 0 exactly when dropped. */
static bool sane(const struct vswitch *s, u32 in, const struct vsw_decision *d)
{
    u32 seen = 0;
    if ((d->drop != VSW_DROP_NONE) != (d->nout == 0) || d->nout > VSW_MAX_PORTS)
        return false;
    for (u32 i = 0; i < d->nout; i++) {
        u32 p = d->out[i];
        if (p >= VSW_MAX_PORTS || p == in || (seen & (1u << p)) || !s->port[p].used ||
            !vsw_member(&s->port[p].cfg, d->vid) || d->action[i] > VSW_TAG_POP)
            return false;
        seen |= 1u << p;
    }
    return true;
}

static struct vsw_decision fwd(u32 in, u64 dst, u64 src, int tag, u64 now)
{
    u8 f[64];
    struct vsw_decision d;
    vsw_forward(&sw, in, f, mk_frame(f, dst, src, tag), now, &d);
    assert_true(sane(&sw, in, &d));
    return d;
}

static u32 outs(const struct vsw_decision *d)
{
    u32 m = 0;
    for (u32 i = 0; i < d->nout; i++)
        m |= 1u << d->out[i];
    return m;
}

static int action_to(const struct vsw_decision *d, u32 port)
{
    for (u32 i = 0; i < d->nout; i++)
        if (d->out[i] == port)
            return d->action[i];
    return -1;
}

static struct vsw_port_cfg access_cfg(u16 vid) { return (struct vsw_port_cfg){ .mode = VSW_ACCESS, .vid = vid }; }

/* A trunk with native VLAN `native` (0: none) carrying the VIDs listed, 0-terminated. */
static struct vsw_port_cfg trunk_cfg(u16 native, ...)
{
    struct vsw_port_cfg c = { .mode = VSW_TRUNK, .vid = native };
    va_list ap;
    va_start(ap, native);
    for (int v; (v = va_arg(ap, int));)
        vsw_allow(&c, (u16)v);
    va_end(ap);
    return c;
}

static void add(u32 port, struct vsw_port_cfg c) { assert_int_equal(vsw_port_add(&sw, port, &c), 0); }

static int setup(void **state)
{
    vsw_init(&sw, AGE);
    return 0;
}

/* ---------------------------------------------------------------- learning */

static void test_learn_and_unicast(void **state)
{
    for (u32 p = 0; p < 3; p++)
        add(p, access_cfg(10));
    struct vsw_decision d = fwd(0, B, A, UNTAGGED, 1); /* B unknown: flood */
    assert_true(d.flooded);
    assert_int_equal(outs(&d), 0x6);
    assert_int_equal(d.vid, 10);
    assert_false(d.tagged);

    d = fwd(1, A, B, UNTAGGED, 2); /* A was learnt on 0 */
    assert_false(d.flooded);
    assert_int_equal(d.drop, VSW_DROP_NONE);
    assert_int_equal(outs(&d), 0x1);
    assert_int_equal(d.action[0], VSW_TAG_NONE);
    d = fwd(0, B, A, UNTAGGED, 3);
    assert_int_equal(outs(&d), 0x2);
    assert_false(d.flooded);

    assert_int_equal(sw.stats.learned, 2);
    assert_int_equal(sw.stats.flooded, 1);
    assert_int_equal(sw.stats.forwarded, 2);
    assert_int_equal(sw.stats.moved, 0);
}

static void test_flood_group_and_unknown(void **state)
{
    for (u32 p = 0; p < 4; p++)
        add(p, access_cfg(7));
    fwd(2, BCAST, C, UNTAGGED, 1); /* C now known on 2 */
    const u64 dsts[] = { BCAST, MCAST, 0x333300000001ULL, B };
    for (u32 i = 0; i < ARRAY_SIZE(dsts); i++) {
        struct vsw_decision d = fwd(1, dsts[i], A, UNTAGGED, 2);
        assert_true(d.flooded);
        assert_int_equal(outs(&d), 0xd); /* everyone but the sender */
    }
    /* A group destination is flooded even from a port that has learnt stations. */
    struct vsw_decision d = fwd(2, MCAST, C, UNTAGGED, 3);
    assert_int_equal(outs(&d), 0xb);
    assert_int_equal(sw.stats.flooded, 6);
    assert_int_equal(sw.stats.forwarded, 0);
}

static void test_ageing(void **state)
{
    add(0, access_cfg(10));
    add(1, access_cfg(10));
    add(2, access_cfg(10));
    fwd(0, BCAST, A, UNTAGGED, 100);
    fwd(1, BCAST, B, UNTAGGED, 100);
    struct vsw_decision d = fwd(2, A, C, UNTAGGED, 100 + AGE); /* exactly AGE old: live */
    assert_int_equal(outs(&d), 0x1);
    d = fwd(2, A, C, UNTAGGED, 101 + AGE); /* older: absent */
    assert_true(d.flooded);
    assert_int_equal(outs(&d), 0x3);

    /* Traffic refreshes: B speaks at 600 and lives to 1600. */
    fwd(1, BCAST, B, UNTAGGED, 600);
    d = fwd(2, B, C, UNTAGGED, 1600);
    assert_int_equal(outs(&d), 0x2);

    struct vsw_mac_entry dump[4];
    assert_int_equal(vsw_mac_dump(&sw, 1600, dump, 4), 2); /* B and C, not A */
    assert_int_equal(get_mac(dump[0].mac), B);
    assert_int_equal(get_mac(dump[1].mac), C);

    assert_int_equal(vsw_age(&sw, 1600), 1); /* A reclaimed */
    assert_int_equal(sw.stats.aged, 1);
    assert_int_equal(vsw_age(&sw, 1600), 0);
    assert_int_equal(vsw_age(&sw, 1601 + AGE), 2);
    assert_int_equal(sw.stats.aged, 3);
    assert_int_equal(vsw_mac_dump(&sw, 1601 + AGE, NULL, 0), 0);

    u64 learned = sw.stats.learned;
    fwd(0, BCAST, A, UNTAGGED, 5000); /* relearnt */
    assert_int_equal(sw.stats.learned, learned + 1);
    d = fwd(1, A, B, UNTAGGED, 5001);
    assert_int_equal(outs(&d), 0x1);

    /* An expired entry relearnt in place (no vsw_age in between) is counted as aged. */
    u64 aged = sw.stats.aged;
    fwd(2, BCAST, A, UNTAGGED, 5001 + 2 * AGE);
    assert_int_equal(sw.stats.aged, aged + 1);
    assert_int_equal(sw.stats.moved, 0); /* not a move: it was gone */
    d = fwd(1, A, B, UNTAGGED, 5002 + 2 * AGE);
    assert_int_equal(outs(&d), 0x4);
}

static void test_age_default_and_clock_skew(void **state)
{
    vsw_init(&sw, 0);
    assert_int_equal(sw.age_ns, VSW_AGE_DEFAULT_NS);
    add(0, access_cfg(1));
    add(1, access_cfg(1));
    fwd(0, BCAST, A, UNTAGGED, 1000);
    /* Another CPU's clock a little behind: the entry is live, and not pulled back. */
    struct vsw_decision d = fwd(1, A, B, UNTAGGED, 900);
    assert_int_equal(outs(&d), 0x1);
    fwd(0, BCAST, A, UNTAGGED, 500);
    d = fwd(1, A, B, UNTAGGED, 1000 + VSW_AGE_DEFAULT_NS);
    assert_int_equal(outs(&d), 0x1);
}

static void test_station_move(void **state)
{
    for (u32 p = 0; p < 3; p++)
        add(p, access_cfg(10));
    fwd(0, BCAST, A, UNTAGGED, 1);
    fwd(1, BCAST, A, UNTAGGED, 2); /* A moved to port 1 */
    assert_int_equal(sw.stats.moved, 1);
    assert_int_equal(sw.stats.learned, 1);
    struct vsw_decision d = fwd(2, A, C, UNTAGGED, 3);
    assert_int_equal(outs(&d), 0x2);
    struct vsw_mac_entry e;
    assert_int_equal(vsw_mac_dump(&sw, 3, &e, 1), 2);
    assert_int_equal(get_mac(e.mac), A);
    assert_int_equal(e.port, 1);
    assert_int_equal(e.seen, 2);
}

static void test_table_full(void **state)
{
    add(0, trunk_cfg(0, 1, 2, 0));
    add(1, trunk_cfg(0, 1, 2, 0));
    const u32 n = 2 * VSW_MAC_ENTRIES;
    for (u32 i = 0; i < n; i++)
        fwd(0, BCAST, 0x020000100000ULL + i, 1, 10);
    u64 learned = sw.stats.learned, full = sw.stats.table_full;
    assert_true(full >= VSW_MAC_ENTRIES);
    assert_true(learned <= VSW_MAC_ENTRIES && learned > VSW_MAC_ENTRIES / 2);
    assert_int_equal(learned + full, n);
    assert_int_equal(vsw_mac_dump(&sw, 10, NULL, 0), learned);

    /* Those learnt are reached; those not are flooded (which here is port 0). */
    u32 hit = 0;
    for (u32 i = 0; i < n; i++) {
        struct vsw_decision d = fwd(1, 0x020000100000ULL + i, B, 1, 11);
        if (d.flooded) {
            assert_int_equal(outs(&d), 0x1);
        } else {
            assert_int_equal(d.drop, VSW_DROP_NONE);
            hit++;
        }
    }
    assert_int_equal(hit, learned);

    /* In a full table the stations it holds still move; the others still miss. */
    full = sw.stats.table_full;
    for (u32 i = 0; i < n; i++)
        fwd(1, BCAST, 0x020000100000ULL + i, 1, 12);
    assert_int_equal(sw.stats.moved, learned);
    assert_int_equal(sw.stats.table_full - full, n - learned);

    /* Once the table has expired, new stations take the expired slots: no vsw_age. */
    u64 aged = sw.stats.aged;
    learned = sw.stats.learned;
    full = sw.stats.table_full;
    for (u32 i = 0; i < 64; i++)
        fwd(0, BCAST, 0x020000200000ULL + i, 1, 100 + AGE);
    assert_int_equal(sw.stats.learned, learned + 64);
    assert_true(sw.stats.aged > aged);
    assert_int_equal(sw.stats.table_full, full);
    assert_int_equal(vsw_mac_dump(&sw, 100 + AGE, NULL, 0), 64);
}

/* Deletion must keep every probe chain whole: against a model, with many
 * collisions (the table ~60% full), flushes, removals and ageing. */
static void test_deletion_keeps_chains(void **state)
{
    enum { KEYS = 621, PORTS = 6, VIDS = 3 }; /* KEYS a multiple of VIDS */
    static struct {
        u8 port;
        bool in;
        u64 seen;
    } model[KEYS];
    memset(model, 0, sizeof(model));
    for (u32 p = 0; p < PORTS; p++)
        add(p, trunk_cfg(0, 1, 2, 3, 0));
    u64 rng = 12345, now = 1;
#define RND()      (rng = rng * 6364136223846793005ULL + 1442695040888963407ULL, (u32)(rng >> 33))
#define KEY_MAC(k) (0x020000000000ULL + (k) / VIDS * 0x10001ULL)
#define KEY_VID(k) ((int)((k) % VIDS + 1))
    for (u32 step = 0; step < 60000; step++) {
        now += RND() % 4;
        u32 r = RND() % 1000;
        if (r == 0) {
            u32 p = RND() % PORTS;
            vsw_port_flush(&sw, p);
            for (u32 k = 0; k < KEYS; k++)
                if (model[k].port == p)
                    model[k].in = false;
        } else if (r == 1) {
            u32 p = RND() % PORTS;
            vsw_port_remove(&sw, p);
            add(p, trunk_cfg(0, 1, 2, 3, 0));
            for (u32 k = 0; k < KEYS; k++)
                if (model[k].port == p)
                    model[k].in = false;
        } else if (r < 5) {
            u32 gone = 0;
            for (u32 k = 0; k < KEYS; k++)
                if (model[k].in && now - model[k].seen > AGE) {
                    model[k].in = false;
                    gone++;
                }
            /* Fewer when expired slots were taken over by other stations. */
            assert_true(vsw_age(&sw, now) <= gone);
        } else {
            u32 s = RND() % KEYS, t = RND() % KEYS, in = RND() % PORTS;
            int vid = KEY_VID(s);
            t = t - t % VIDS + (s % VIDS); /* same VLAN */
            bool known = model[t].in && now - model[t].seen <= AGE && t != s;
            u32 to = model[t].port;
            struct vsw_decision d = fwd(in, KEY_MAC(t), KEY_MAC(s), vid, now);
            if (t == s || (known && to == in)) {
                assert_int_equal(d.drop, VSW_DROP_NO_PORT);
            } else if (known) {
                assert_false(d.flooded);
                assert_int_equal(outs(&d), 1u << to);
            } else {
                assert_true(d.flooded);
                assert_int_equal(outs(&d), ((1u << PORTS) - 1) & ~(1u << in));
            }
            model[s].in = true;
            model[s].port = (u8)in;
            model[s].seen = now;
        }
    }
    assert_int_equal(sw.stats.table_full, 0);
    u32 live = 0;
    for (u32 k = 0; k < KEYS; k++)
        live += model[k].in && now - model[k].seen <= AGE;
    assert_int_equal(vsw_mac_dump(&sw, now, NULL, 0), live);
#undef RND
#undef KEY_MAC
#undef KEY_VID
}

static void test_flush_and_remove(void **state)
{
    for (u32 p = 0; p < 3; p++)
        add(p, access_cfg(10));
    fwd(0, BCAST, A, UNTAGGED, 1);
    fwd(1, BCAST, B, UNTAGGED, 1);
    vsw_port_flush(&sw, 0);
    struct vsw_decision d = fwd(2, A, C, UNTAGGED, 2);
    assert_true(d.flooded);
    d = fwd(2, B, C, UNTAGGED, 2); /* others kept */
    assert_int_equal(outs(&d), 0x2);

    fwd(0, BCAST, A, UNTAGGED, 3);
    vsw_port_remove(&sw, 0);
    assert_false(sw.port[0].used);
    d = fwd(2, A, C, UNTAGGED, 4); /* forgotten, and 0 gets no flood */
    assert_true(d.flooded);
    assert_int_equal(outs(&d), 0x2);
    d = fwd(0, BCAST, A, UNTAGGED, 4); /* from a port that left */
    assert_int_equal(d.drop, VSW_DROP_NO_PORT);
    assert_int_equal(sw.port[0].drops[VSW_DROP_NO_PORT], 0);
    d = fwd(2, A, C, UNTAGGED, 4);
    assert_true(d.flooded); /* and it learnt nothing */

    vsw_port_remove(&sw, 0); /* twice, and out of range */
    vsw_port_remove(&sw, VSW_MAX_PORTS);
    vsw_port_flush(&sw, VSW_MAX_PORTS);
    d = fwd(VSW_MAX_PORTS, BCAST, A, UNTAGGED, 4);
    assert_int_equal(d.drop, VSW_DROP_NO_PORT);
    add(0, access_cfg(20)); /* back, elsewhere */
    d = fwd(2, BCAST, C, UNTAGGED, 5);
    assert_int_equal(outs(&d), 0x2);
}

/* ---------------------------------------------------------------- VLANs */

static void test_vlan_isolation(void **state)
{
    /* 0,1: access 10; 2,3: access 20; 4: trunk 10+20; 5: trunk native 20 + 10;
     * 6: trunk 10 only; 7: trunk 30 only. */
    add(0, access_cfg(10));
    add(1, access_cfg(10));
    add(2, access_cfg(20));
    add(3, access_cfg(20));
    add(4, trunk_cfg(0, 10, 20, 0));
    add(5, trunk_cfg(20, 10, 0));
    add(6, trunk_cfg(0, 10, 0));
    add(7, trunk_cfg(0, 30, 0));
    const u32 members10 = 0x73, members20 = 0x3c;

    /* Every way into VLAN 10 and 20, broadcast and unknown unicast. */
    const struct {
        u32 in;
        int tag;
        u16 vid;
    } ways[] = {
        { 0, UNTAGGED, 10 }, { 1, UNTAGGED, 10 }, { 4, 10, 10 }, { 5, 10, 10 },       { 6, 10, 10 },
        { 2, UNTAGGED, 20 }, { 3, UNTAGGED, 20 }, { 4, 20, 20 }, { 5, UNTAGGED, 20 }, { 5, 20, 20 },
    };
    for (u32 i = 0; i < ARRAY_SIZE(ways); i++) {
        u32 members = ways[i].vid == 10 ? members10 : members20;
        for (u32 k = 0; k < 2; k++) {
            struct vsw_decision d = fwd(ways[i].in, k ? BCAST : C, 0x020000001000ULL + i, ways[i].tag, 1);
            assert_int_equal(d.vid, ways[i].vid);
            assert_int_equal(outs(&d), members & ~(1u << ways[i].in));
        }
    }

    /* Independent learning: the same MAC in both VLANs on different ports. */
    fwd(0, BCAST, B, UNTAGGED, 2);
    fwd(2, BCAST, B, UNTAGGED, 2);
    assert_int_equal(sw.stats.moved, 0);
    struct vsw_decision d = fwd(1, B, C, UNTAGGED, 3);
    assert_int_equal(outs(&d), 0x1);
    d = fwd(3, B, C, UNTAGGED, 3);
    assert_int_equal(outs(&d), 0x4);
    d = fwd(4, B, C, 20, 3);
    assert_int_equal(outs(&d), 0x4);
    assert_int_equal(action_to(&d, 2), VSW_TAG_POP);

    /* Known only in VLAN 10: unknown (flooded within 20) from VLAN 20. */
    fwd(1, BCAST, 0x020000000099ULL, UNTAGGED, 4);
    d = fwd(3, 0x020000000099ULL, C, UNTAGGED, 4);
    assert_true(d.flooded);
    assert_int_equal(outs(&d), members20 & ~0x8u);

    /* VLAN 30 reaches only port 7, and has nowhere to go. */
    d = fwd(7, BCAST, A, 30, 5);
    assert_int_equal(d.drop, VSW_DROP_NO_PORT);
    assert_int_equal(sw.port[7].drops[VSW_DROP_NO_PORT], 1);
}

static void test_access_tags(void **state)
{
    add(0, access_cfg(10));
    add(1, access_cfg(10));
    struct vsw_decision d = fwd(0, BCAST, A, 10, 1);
    assert_int_equal(d.drop, VSW_DROP_TAGGED_ACCESS);
    assert_true(d.tagged);
    d = fwd(0, BCAST, A, 20, 1);
    assert_int_equal(d.drop, VSW_DROP_TAGGED_ACCESS);
    d = fwd(0, BCAST, A, 0, 1); /* priority-tagged: dropped too */
    assert_int_equal(d.drop, VSW_DROP_TAGGED_ACCESS);
    assert_int_equal(sw.port[0].drops[VSW_DROP_TAGGED_ACCESS], 3);
    assert_int_equal(sw.stats.learned, 0); /* dropped frames teach nothing */

    /* An S-tag (0x88a8) is not an 802.1Q C-tag: the frame is untagged payload. */
    u8 f[64];
    mk_frame(f, BCAST, A, UNTAGGED);
    f[12] = 0x88, f[13] = 0xa8;
    vsw_forward(&sw, 0, f, 60, 1, &d);
    assert_int_equal(d.drop, VSW_DROP_NONE);
    assert_false(d.tagged);
}

static void test_trunk_classification(void **state)
{
    add(0, trunk_cfg(0, 10, 20, 0)); /* no native */
    add(1, trunk_cfg(30, 10, 0));    /* native 30 */
    add(2, trunk_cfg(0, 10, 20, 30, 4094, 0));
    struct vsw_decision d = fwd(0, BCAST, A, 10, 1);
    assert_int_equal(d.drop, VSW_DROP_NONE);
    assert_int_equal(d.vid, 10);
    assert_true(d.tagged);
    d = fwd(0, BCAST, A, 30, 1);
    assert_int_equal(d.drop, VSW_DROP_VLAN_NOT_ALLOWED);
    assert_int_equal(d.vid, 30);
    d = fwd(0, BCAST, A, UNTAGGED, 1);
    assert_int_equal(d.drop, VSW_DROP_UNTAGGED_TRUNK);
    d = fwd(0, BCAST, A, 0, 1); /* priority tag */
    assert_int_equal(d.drop, VSW_DROP_VLAN_NOT_ALLOWED);
    d = fwd(0, BCAST, A, 4095, 1); /* reserved VID */
    assert_int_equal(d.drop, VSW_DROP_VLAN_NOT_ALLOWED);
    assert_int_equal(sw.port[0].drops[VSW_DROP_VLAN_NOT_ALLOWED], 3);
    assert_int_equal(sw.port[0].drops[VSW_DROP_UNTAGGED_TRUNK], 1);

    d = fwd(1, BCAST, B, UNTAGGED, 1); /* native */
    assert_int_equal(d.drop, VSW_DROP_NONE);
    assert_int_equal(d.vid, 30);
    assert_false(d.tagged);
    assert_int_equal(outs(&d), 0x4);
    d = fwd(1, BCAST, B, 30, 1); /* tagged with the native VID */
    assert_int_equal(d.drop, VSW_DROP_NONE);
    assert_int_equal(outs(&d), 0x4);
    d = fwd(1, BCAST, B, 20, 1);
    assert_int_equal(d.drop, VSW_DROP_VLAN_NOT_ALLOWED);
    d = fwd(1, BCAST, B, 0, 1);
    assert_int_equal(d.drop, VSW_DROP_VLAN_NOT_ALLOWED);
    d = fwd(2, BCAST, C, 4094, 1);
    assert_int_equal(d.drop, VSW_DROP_NO_PORT); /* allowed, but alone */
    assert_int_equal(d.vid, 4094);
}

/* Every ingress form against every egress form (8.8.2: the untagged set). */
static void test_tag_actions(void **state)
{
    add(0, access_cfg(10));
    add(1, trunk_cfg(10, 20, 0)); /* 10 is native */
    add(2, trunk_cfg(0, 10, 0));  /* 10 tagged, no native */
    add(3, trunk_cfg(30, 10, 0)); /* 10 tagged, another native */
    const int want_untagged_in[4] = { VSW_TAG_NONE, VSW_TAG_NONE, VSW_TAG_PUSH, VSW_TAG_PUSH };
    const int want_tagged_in[4] = { VSW_TAG_POP, VSW_TAG_POP, VSW_TAG_NONE, VSW_TAG_NONE };
    const struct {
        u32 in;
        int tag;
    } ways[] = {
        { 0, UNTAGGED }, { 1, UNTAGGED }, { 1, 10 }, { 2, 10 }, { 3, 10 },
    };
    for (u32 i = 0; i < ARRAY_SIZE(ways); i++) {
        for (u32 k = 0; k < 2; k++) { /* flooded, then unicast */
            u64 dst = k ? 0x020000000100ULL : BCAST;
            struct vsw_decision d = fwd(ways[i].in, dst, A + i, ways[i].tag, 1);
            assert_int_equal(d.vid, 10);
            assert_int_equal(d.tagged, ways[i].tag != UNTAGGED);
            const int *want = d.tagged ? want_tagged_in : want_untagged_in;
            for (u32 p = 0; p < 4; p++)
                assert_int_equal(action_to(&d, p), p == ways[i].in ? -1 : want[p]);
        }
    }
    /* Unicast to each port from the access port: one output, same action. */
    for (u32 p = 1; p < 4; p++) {
        fwd(p, BCAST, 0x020000000200ULL + p, 10, 2);
        struct vsw_decision d = fwd(0, 0x020000000200ULL + p, A, UNTAGGED, 3);
        assert_int_equal(d.nout, 1);
        assert_int_equal(d.out[0], p);
        assert_int_equal(d.action[0], want_untagged_in[p]);
    }
    /* VLAN 20 on the trunk whose native is 10: tagged both ways, so nothing changes. */
    add(4, trunk_cfg(0, 20, 0));
    struct vsw_decision d = fwd(1, BCAST, B, 20, 4);
    assert_int_equal(outs(&d), 0x10);
    assert_int_equal(d.action[0], VSW_TAG_NONE);
}

/* ---------------------------------------------------------------- malformed */

static void test_runts(void **state)
{
    add(0, trunk_cfg(5, 7, 0));
    add(1, trunk_cfg(5, 7, 0));
    u8 f[64];
    struct vsw_decision d;
    mk_frame(f, BCAST, A, UNTAGGED);
    const u32 lens[] = { 0, 1, 12, 13 };
    for (u32 i = 0; i < ARRAY_SIZE(lens); i++) {
        vsw_forward(&sw, 0, lens[i] ? f : NULL, lens[i], 1, &d);
        assert_int_equal(d.drop, VSW_DROP_RUNT);
        assert_int_equal(d.nout, 0);
    }
    vsw_forward(&sw, 0, f, ETH_HLEN, 1, &d); /* a bare header is a frame */
    assert_int_equal(d.drop, VSW_DROP_NONE);
    assert_int_equal(d.vid, 5);

    mk_frame(f, BCAST, A, 7);
    for (u32 len = ETH_HLEN; len < ETH_HLEN + VLAN_HLEN; len++) {
        vsw_forward(&sw, 0, f, len, 1, &d);
        assert_int_equal(d.drop, VSW_DROP_RUNT);
    }
    vsw_forward(&sw, 0, f, ETH_HLEN + VLAN_HLEN, 1, &d);
    assert_int_equal(d.drop, VSW_DROP_NONE);
    assert_int_equal(d.vid, 7);
    assert_int_equal(sw.port[0].drops[VSW_DROP_RUNT], 8);
    assert_int_equal(sw.stats.learned, 2); /* A in 5 and in 7 */
}

static void test_source_multicast(void **state)
{
    add(0, access_cfg(10));
    add(1, access_cfg(10));
    const u64 srcs[] = { BCAST, MCAST, 0x030000000001ULL };
    for (u32 i = 0; i < ARRAY_SIZE(srcs); i++) {
        struct vsw_decision d = fwd(0, B, srcs[i], UNTAGGED, 1);
        assert_int_equal(d.drop, VSW_DROP_SRC_MCAST);
    }
    assert_int_equal(sw.port[0].drops[VSW_DROP_SRC_MCAST], 3);
    assert_int_equal(sw.stats.learned, 0);
    assert_int_equal(vsw_mac_dump(&sw, 1, NULL, 0), 0);
}

static void test_no_hairpin(void **state)
{
    add(0, access_cfg(10));
    add(1, access_cfg(10));
    fwd(0, BCAST, A, UNTAGGED, 1);
    fwd(0, BCAST, B, UNTAGGED, 1); /* A and B behind port 0 */
    struct vsw_decision d = fwd(0, B, A, UNTAGGED, 2);
    assert_int_equal(d.drop, VSW_DROP_NO_PORT);
    assert_int_equal(d.nout, 0);
    assert_false(d.flooded);
    d = fwd(0, A, A, UNTAGGED, 2); /* to itself */
    assert_int_equal(d.drop, VSW_DROP_NO_PORT);
    assert_int_equal(sw.port[0].drops[VSW_DROP_NO_PORT], 2);
    d = fwd(1, B, C, UNTAGGED, 3);
    assert_int_equal(outs(&d), 0x1);
    vsw_port_remove(&sw, 1);
    u64 flooded = sw.stats.flooded;
    d = fwd(0, BCAST, A, UNTAGGED, 4); /* a VLAN of one port */
    assert_int_equal(d.drop, VSW_DROP_NO_PORT);
    assert_true(d.flooded);
    assert_int_equal(sw.stats.flooded, flooded); /* went nowhere */
}

/* ---------------------------------------------------------------- dump, config */

static void test_mac_dump_order(void **state)
{
    add(0, trunk_cfg(0, 10, 20, 30, 0));
    add(1, trunk_cfg(0, 10, 20, 30, 0));
    const struct {
        u64 mac;
        int vid;
    } st[] = {
        { 0x0a0000000005ULL, 30 }, { 0x020000000009ULL, 10 }, { 0x0e0000000001ULL, 20 }, { 0x020000000001ULL, 30 },
        { 0x0a0000000002ULL, 10 }, { 0x020000000003ULL, 20 }, { 0x02ff00000000ULL, 10 }, { 0x020000000002ULL, 20 },
    };
    for (u32 i = 0; i < ARRAY_SIZE(st); i++)
        fwd(i % 2, BCAST, st[i].mac, st[i].vid, 2000 + i);
    fwd(0, BCAST, 0x020000000000ULL, 10, 999); /* the smallest, but expired */

    struct vsw_mac_entry all[16];
    u32 n = vsw_mac_dump(&sw, 2000 + AGE, all, 16);
    assert_int_equal(n, ARRAY_SIZE(st));
    for (u32 i = 1; i < n; i++)
        assert_true(all[i - 1].vid < all[i].vid ||
                    (all[i - 1].vid == all[i].vid && get_mac(all[i - 1].mac) < get_mac(all[i].mac)));
    assert_int_equal(all[0].vid, 10);
    assert_int_equal(get_mac(all[0].mac), 0x020000000009ULL);
    assert_int_equal(get_mac(all[7].mac), 0x0a0000000005ULL);
    for (u32 i = 0; i < n; i++)
        for (u32 k = 0; k < ARRAY_SIZE(st); k++)
            if (get_mac(all[i].mac) == st[k].mac && all[i].vid == st[k].vid) {
                assert_int_equal(all[i].port, k % 2);
                assert_int_equal(all[i].seen, 2000 + k);
                assert_true(all[i].used);
            }

    /* Fewer slots than entries: the smallest ones, still sorted. */
    for (u32 max = 0; max <= ARRAY_SIZE(st); max++) {
        struct vsw_mac_entry some[8];
        memset(some, 0xee, sizeof(some));
        assert_int_equal(vsw_mac_dump(&sw, 2000 + AGE, some, max), ARRAY_SIZE(st));
        for (u32 i = 0; i < max; i++) {
            assert_int_equal(get_mac(some[i].mac), get_mac(all[i].mac));
            assert_int_equal(some[i].vid, all[i].vid);
            assert_int_equal(some[i].port, all[i].port);
            assert_int_equal(some[i].seen, all[i].seen);
        }
        if (max < ARRAY_SIZE(some))
            assert_int_equal(some[max].vid, 0xeeee); /* nothing past max */
    }
}

static void test_port_config(void **state)
{
    struct vsw_port_cfg c = access_cfg(10);
    assert_int_equal(vsw_port_add(&sw, VSW_MAX_PORTS, &c), -EINVAL);
    assert_int_equal(vsw_port_add(&sw, 0, NULL), -EINVAL);
    const struct vsw_port_cfg bad[] = {
        access_cfg(0),
        access_cfg(4095),
        access_cfg(0xffff),
        trunk_cfg(0, 0), /* carries nothing */
        trunk_cfg(4095, 10, 0),
        { .mode = VSW_TRUNK, .allowed[0] = 1 },                     /* VID 0 "allowed" */
        { .mode = VSW_TRUNK, .vid = 1, .allowed[63] = 1ULL << 63 }, /* VID 4095 */
        { .mode = (enum vsw_vlan_mode)7, .vid = 10 },
    };
    for (u32 i = 0; i < ARRAY_SIZE(bad); i++)
        assert_int_equal(vsw_port_add(&sw, 0, &bad[i]), -EINVAL);
    assert_false(sw.port[0].used);

    add(0, access_cfg(4094));
    add(1, access_cfg(1));
    add(2, trunk_cfg(0, 4094, 0)); /* no native, one VLAN */
    add(3, trunk_cfg(4094, 0));    /* only a native VLAN */
    add(VSW_MAX_PORTS - 1, trunk_cfg(1, 2, 0));
    c = trunk_cfg(0, 10, 0);
    assert_int_equal(vsw_port_add(&sw, 0, &c), -EBUSY);
    assert_int_equal(sw.port[0].cfg.mode, VSW_ACCESS); /* unchanged */
    assert_int_equal(sw.port[0].cfg.vid, 4094);
    assert_int_equal(vsw_port_add(&sw, 0, &bad[0]), -EINVAL);

    /* A re-added port starts with fresh counters. */
    fwd(0, BCAST, A, 5, 1);
    assert_int_equal(sw.port[0].drops[VSW_DROP_TAGGED_ACCESS], 1);
    vsw_port_remove(&sw, 0);
    assert_int_equal(sw.port[0].drops[VSW_DROP_TAGGED_ACCESS], 1); /* kept to read */
    add(0, access_cfg(4094));
    assert_int_equal(sw.port[0].drops[VSW_DROP_TAGGED_ACCESS], 0);
}

static void test_member_and_allow(void **state)
{
    struct vsw_port_cfg t = { .mode = VSW_TRUNK, .vid = 100 };
    vsw_allow(&t, 0);
    vsw_allow(&t, 4095);
    vsw_allow(&t, 0xffff);
    for (u32 i = 0; i < 64; i++)
        assert_int_equal(t.allowed[i], 0);
    vsw_allow(&t, 1);
    vsw_allow(&t, 64);
    vsw_allow(&t, 4094);
    assert_true(vsw_member(&t, 1) && vsw_member(&t, 64) && vsw_member(&t, 4094));
    assert_true(vsw_member(&t, 100)); /* native */
    assert_false(vsw_member(&t, 2) || vsw_member(&t, 63) || vsw_member(&t, 0) || vsw_member(&t, 4095));
    struct vsw_port_cfg a = access_cfg(64);
    vsw_allow(&a, 65); /* ignored on access ports */
    assert_true(vsw_member(&a, 64));
    assert_false(vsw_member(&a, 65) || vsw_member(&a, 0));

    for (int i = 0; i < VSW_DROP_COUNT; i++) {
        assert_non_null(vsw_drop_name(i));
        for (int k = 0; k < i; k++)
            assert_string_not_equal(vsw_drop_name(i), vsw_drop_name(k));
    }
    assert_string_equal(vsw_drop_name(VSW_DROP_COUNT), "?");
}

/* ---------------------------------------------------------------- threads */

/* As many deciding threads as CPUs (2..4): more would convoy on the ticket lock
 * as soon as the waiter next in line is preempted (in the hypervisor each CPU
 * runs one thing). Runs until every thread has decided T_FRAMES times, or for
 * T_SECONDS on a machine too slow or busy for that. */
#define T_FRAMES  20000
#define T_SECONDS 20
#define TPORTS    8 /* ports 0..7 send; port 8 comes and goes */
static u64 t_clock;
static u64 t_frames[4];
static u32 t_bad; /* wrong results (cmocka asserts are not thread-safe) */
static bool t_stop;

static void t_control(u64 now)
{
    static const struct vsw_port_cfg c = { .mode = VSW_TRUNK, .vid = 1, .allowed[0] = 1u << 2 };
    struct vsw_mac_entry dump[64];
    vsw_age(&sw, now);
    u32 n = vsw_mac_dump(&sw, now, dump, 64);
    for (u32 i = 1; i < MIN(n, 64u); i++)
        if (dump[i - 1].vid > dump[i].vid ||
            (dump[i - 1].vid == dump[i].vid && get_mac(dump[i - 1].mac) >= get_mac(dump[i].mac)))
            __atomic_add_fetch(&t_bad, 1, __ATOMIC_RELAXED);
    vsw_port_flush(&sw, now % TPORTS);
    if (vsw_port_add(&sw, 8, &c) != 0)
        vsw_port_remove(&sw, 8);
}

static void *t_sender(void *arg)
{
    u32 id = (u32)(uintptr_t)arg;
    u64 rng = 0x9e3779b97f4a7c15ULL * (id + 1);
    u8 f[64];
    struct vsw_decision d;
    while (!__atomic_load_n(&t_stop, __ATOMIC_RELAXED)) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        u32 r = (u32)(rng >> 32);
        u32 in = r % TPORTS;
        u64 src = 0x020000000000ULL + (r >> 4) % 300, dst = 0x020000000000ULL + (r >> 12) % 320;
        if ((r >> 24) % 16 == 0)
            dst = BCAST;
        u64 now = __atomic_add_fetch(&t_clock, 1, __ATOMIC_RELAXED);
        u32 len = mk_frame(f, dst, src, in < 4 ? UNTAGGED : 1 + (int)((r >> 28) % 2));
        if ((r >> 20) % 64 == 0)
            len = 10;
        vsw_forward(&sw, in, f, len, now, &d);
        /* Ports 0..7 never change during the test; port 8 may. */
        u32 m = 0;
        bool ok = (d.drop != VSW_DROP_NONE) == (d.nout == 0);
        for (u32 k = 0; k < d.nout; k++) {
            u32 p = d.out[k];
            ok = ok && p != in && p <= TPORTS && !(m & (1u << p)) &&
                 (p == TPORTS || vsw_member(&sw.port[p].cfg, d.vid));
            m |= 1u << p;
        }
        if (!ok)
            __atomic_add_fetch(&t_bad, 1, __ATOMIC_RELAXED);
        u64 n = __atomic_add_fetch(&t_frames[id], 1, __ATOMIC_RELAXED);
        if (id == 0 && n % 512 == 0)
            t_control(now);
    }
    return NULL;
}

static void test_threads(void **state)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    u32 nthreads = (u32)MAX(2, MIN(cpus, 4));
    vsw_init(&sw, 500); /* ~ 300 sources: some age out */
    for (u32 p = 0; p < 4; p++)
        add(p, access_cfg(1 + p % 2));
    for (u32 p = 4; p < TPORTS; p++)
        add(p, trunk_cfg(p == 4 ? 1 : 0, 1, 2, 0));
    pthread_t th[4];
    t_clock = 0;
    t_bad = 0;
    t_stop = false;
    memset(t_frames, 0, sizeof(t_frames));
    for (u32 i = 0; i < nthreads; i++)
        assert_int_equal(pthread_create(&th[i], NULL, t_sender, (void *)(uintptr_t)i), 0);
    for (u32 ms = 0, done = 0; !done && ms < T_SECONDS * 1000; ms += 10) {
        usleep(10 * 1000);
        done = 1;
        for (u32 i = 0; i < nthreads; i++)
            done &= __atomic_load_n(&t_frames[i], __ATOMIC_RELAXED) >= T_FRAMES;
    }
    __atomic_store_n(&t_stop, true, __ATOMIC_RELAXED);
    for (u32 i = 0; i < nthreads; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);

    assert_int_equal(t_bad, 0);
    /* Every frame was counted exactly once: forwarded, flooded or dropped. */
    u64 frames = 0, counted = sw.stats.forwarded + sw.stats.flooded;
    for (u32 i = 0; i < nthreads; i++) {
        assert_true(t_frames[i] > 0);
        frames += t_frames[i];
    }
    for (u32 p = 0; p < TPORTS; p++)
        for (u32 r = 0; r < VSW_DROP_COUNT; r++)
            counted += sw.port[p].drops[r];
    assert_int_equal(counted, frames);
    assert_true(sw.stats.learned && sw.stats.moved && sw.stats.aged && sw.stats.forwarded);
    assert_true(sw.port[0].drops[VSW_DROP_RUNT] && sw.port[0].drops[VSW_DROP_NO_PORT]);
}

/* ---------------------------------------------------------------- the sender's cache */

static struct vsw_decision cfwd(struct vsw_cache *c, u32 in, u64 dst, u64 src, int tag, u64 now)
{
    u8 f[64];
    struct vsw_decision d;
    vsw_forward_cached(&sw, c, in, f, mk_frame(f, dst, src, tag), now, &d);
    assert_true(sane(&sw, in, &d));
    return d;
}

/* A cached decision is the one the table would give: it follows a station
 * that moves, ages out with the destination's entry, stops at a port that
 * leaves and never serves a frame of another key; the frames it decided are
 * counted, and their source kept alive, at the flush. */
static void test_cached_decisions(void **state)
{
    struct vsw_cache c = { 0 };
    for (u32 p = 0; p < 3; p++)
        add(p, access_cfg(10));
    add(3, trunk_cfg(0, 10, 20, 0));
    fwd(0, BCAST, A, UNTAGGED, 1); /* A on 0 */
    fwd(1, A, B, UNTAGGED, 1);     /* B on 1 */
    struct vsw_decision d = cfwd(&c, 0, B, A, UNTAGGED, 2);
    assert_int_equal(outs(&d), 0x2);
    assert_true(c.valid); /* A was known and stayed put: the decision is cached */
    u64 fwd0 = sw.stats.forwarded;
    for (u64 t = 3; t < 10; t++) {
        d = cfwd(&c, 0, B, A, UNTAGGED, t);
        assert_int_equal(outs(&d), 0x2);
        assert_false(d.flooded);
    }
    assert_int_equal(c.hits, 7);
    assert_int_equal(sw.stats.forwarded, fwd0); /* not yet counted */
    vsw_cache_flush(&sw, &c, 0);
    assert_int_equal(c.hits, 0);
    assert_int_equal(sw.stats.forwarded, fwd0 + 7);

    /* The flush refreshed A (last seen at 9): alive until 9 + AGE. */
    d = fwd(1, A, B, UNTAGGED, 9 + AGE);
    assert_int_equal(outs(&d), 0x1);

    /* From here on, time goes on after that refresh. */
    const u64 T0 = 10 + AGE;
    /* Another key (another destination) is decided anew. */
    d = cfwd(&c, 0, C, A, UNTAGGED, T0 + 20);
    assert_true(d.flooded);
    d = cfwd(&c, 0, B, A, UNTAGGED, T0 + 21);
    assert_int_equal(outs(&d), 0x2);

    /* B moves to 2. */
    fwd(2, A, B, UNTAGGED, T0 + 22);
    d = cfwd(&c, 0, B, A, UNTAGGED, T0 + 23);
    assert_int_equal(outs(&d), 0x4);
    d = cfwd(&c, 0, B, A, UNTAGGED, T0 + 30); /* cached later than B was last seen */
    assert_int_equal(outs(&d), 0x4);

    /* B's entry ages out (last seen at T0 + 22): flooded like an unknown station. */
    d = cfwd(&c, 0, B, A, UNTAGGED, T0 + 22 + AGE + 1);
    assert_true(d.flooded);
    assert_int_equal(outs(&d), 0xe);

    /* B back on 2, then port 2 leaves. */
    fwd(2, A, B, UNTAGGED, T0 + 2000);
    d = cfwd(&c, 0, B, A, UNTAGGED, T0 + 2001);
    assert_int_equal(outs(&d), 0x4);
    vsw_port_remove(&sw, 2);
    d = cfwd(&c, 0, B, A, UNTAGGED, T0 + 2002);
    assert_true(d.flooded);
    assert_int_equal(outs(&d), 0xa);

    /* A frame tagged on the trunk with VLAN 20 never matches one on VLAN 10. */
    fwd(1, A, B, UNTAGGED, T0 + 2003);
    d = cfwd(&c, 3, B, A, 10, T0 + 2004);
    assert_int_equal(outs(&d), 0x2);
    d = cfwd(&c, 3, B, A, 20, T0 + 2005);
    assert_int_equal(d.drop, VSW_DROP_NO_PORT); /* nobody else on VLAN 20 */
    vsw_cache_flush(&sw, &c, 3);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
    const struct CMUnitTest tests[] = {
        T(test_learn_and_unicast),
        T(test_flood_group_and_unknown),
        T(test_ageing),
        T(test_age_default_and_clock_skew),
        T(test_station_move),
        T(test_table_full),
        T(test_deletion_keeps_chains),
        T(test_flush_and_remove),
        T(test_vlan_isolation),
        T(test_access_tags),
        T(test_trunk_classification),
        T(test_tag_actions),
        T(test_runts),
        T(test_source_multicast),
        T(test_no_hairpin),
        T(test_mac_dump_order),
        T(test_port_config),
        T(test_member_and_allow),
        T(test_threads),
        T(test_cached_decisions),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
