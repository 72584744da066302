/* The net-send, net-recv and net-watch scenarios: test frames through the
 * virtio-net device (virtio_net.c), counted and checked, with a progress line
 * every tick_ms. Times are milliseconds of TSC since the guest started, so a
 * test can compute a rate from any two lines. */
#include "guest/tg.h"
#include "guest/vnet.h"
#include "guest/x86.h"

#define TX_BATCH     32
#define FNV_BASIS    0x811c9dc5u
#define FNV_PRIME    0x01000193u
#define PAYLOAD_OFF  ETH_HLEN
#define SUM_OFF      (PAYLOAD_OFF + offsetof(struct net_payload, sum))
#define FILLER_OFF   (PAYLOAD_OFF + sizeof(struct net_payload))

static uint32_t fnv1a(uint32_t h, const uint8_t *p, size_t n)
{
    while (n--)
        h = (h ^ *p++) * FNV_PRIME;
    return h;
}

/* FNV-1a over the payload (frame offset 14 to the end) with sum as 0. */
static uint32_t payload_sum(const uint8_t *f, uint32_t len)
{
    static const uint8_t zero[4];
    uint32_t h = fnv1a(FNV_BASIS, f + PAYLOAD_OFF, SUM_OFF - PAYLOAD_OFF);
    h = fnv1a(h, zero, sizeof(zero));
    return fnv1a(h, f + FILLER_OFF, len - FILLER_OFF);
}

uint32_t net_test_frame(uint8_t *f, uint32_t seq, uint32_t len)
{
    memcpy(f, tg.opt.dst, ETH_ALEN);
    memcpy(f + ETH_ALEN, vnet_mac(), ETH_ALEN);
    f[12] = NET_ETH_TYPE >> 8;
    f[13] = NET_ETH_TYPE & 0xff;
    for (uint32_t i = FILLER_OFF; i < len; i++)
        f[i] = (uint8_t)(seq * 31 + i);
    struct net_payload p = { NET_MAGIC, seq, len, 0 };
    memcpy(f + PAYLOAD_OFF, &p, sizeof(p));
    p.sum = payload_sum(f, len);
    memcpy(f + PAYLOAD_OFF, &p, sizeof(p));
    return len;
}

/* True, with the sequence number, when f is an intact test frame of len bytes. */
static bool check_frame(const uint8_t *f, uint32_t len, uint32_t *seq)
{
    struct net_payload p;
    if (len < FILLER_OFF)
        return false;
    memcpy(&p, f + PAYLOAD_OFF, sizeof(p));
    if (p.magic != NET_MAGIC || p.len != len || p.sum != payload_sum(f, len))
        return false;
    for (uint32_t i = FILLER_OFF; i < len; i++)
        if (f[i] != (uint8_t)(p.seq * 31 + i))
            return false;
    *seq = p.seq;
    return true;
}

bool net_up(void)
{
    if (vnet_init() < 0)
        return false;
    const uint8_t *m = vnet_mac();
    say("net: up mac=%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    if (!(vnet_link() & VIRTIO_NET_S_LINK_UP))
        say("net: warning: link down (status 0x%x)", vnet_link());
    sti();
    return true;
}

void net_idle(void)
{
    for (;;)
        sti_hlt();
}

/* ---- net-send ---- */

struct tx_ctx {
    uint32_t seq, size;
};

static uint32_t fill_test(void *c, unsigned k, uint8_t *frame)
{
    const struct tx_ctx *t = c;
    return net_test_frame(frame, t->seq + k, t->size);
}

void scenario_net_send(void)
{
    if (!net_up())
        net_idle();
    struct tx_ctx t = { 0, (uint32_t)tg.opt.size };
    uint64_t sent = 0, seen = timer_ticks;
    apic_timer_periodic(tg.opt.tick_ms, VEC_TIMER);
    for (;;) {
        if (sent < tg.opt.count) {
            unsigned n = tg.opt.count - sent < TX_BATCH ? (unsigned)(tg.opt.count - sent) : TX_BATCH;
            n = vnet_send(n, fill_test, &t);
            sent += n;
            t.seq += n;
        } else if (vnet_tx_flush(0)) {
            break;
        } else {
            vnet_tx_wait(TX_BATCH);
        }
        if (timer_ticks != seen) {
            seen = timer_ticks;
            say("net: tx frames=%lu bytes=%lu ms=%lu", sent, sent * t.size, ms_since_boot());
        }
    }
    say("net: tx done frames=%lu bytes=%lu ms=%lu kicks=%lu interrupts=%lu", sent, sent * t.size,
        ms_since_boot(), vnet_kicks(), vnet_interrupts());
    apic_timer_stop();
    net_idle();
}

/* ---- net-recv, net-watch ---- */

struct rx_stats {
    uint64_t frames, bytes, lost, bad, reordered, other;
    uint32_t expect;                   /* the next sequence number in order */
};

static void on_frame(void *c, const uint8_t *f, uint32_t len, bool ok)
{
    struct rx_stats *s = c;
    uint32_t seq;
    if (!ok || len < ETH_HLEN) {
        s->bad++;
    } else if ((f[12] << 8 | f[13]) != NET_ETH_TYPE) {
        s->other++;
    } else if (!check_frame(f, len, &seq)) {
        s->bad++;
    } else if (seq < s->expect) {
        s->reordered++;              /* late or a duplicate */
    } else {
        s->lost += seq - s->expect;  /* the gap, if any */
        s->expect = seq + 1;
        s->frames++;
        s->bytes += len;
    }
}

/* One broadcast frame (ethertype NET_ETH_ANNOUNCE) so the switch learns this
 * station, as a real host's first ARP would: frames to it are then forwarded
 * to its port alone instead of flooded. */
static uint32_t fill_announce(void *c, unsigned k, uint8_t *frame)
{
    (void)c;
    (void)k;
    memset(frame, 0, 60);
    memset(frame, 0xff, 6);
    memcpy(frame + 6, vnet_mac(), 6);
    frame[12] = NET_ETH_ANNOUNCE >> 8;
    frame[13] = NET_ETH_ANNOUNCE & 0xff;
    return 60;
}

/* The dead receiver (stall_ms=): its buffers stay with the device, full,
 * and are never given back; the vCPU halts (stall=halt, the default) or spins
 * with interrupts on, taking them but doing nothing (stall=spin). */
static void __attribute__((noreturn)) stall(const struct rx_stats *s)
{
    bool spin = streq(tg.opt.stall, "spin");
    say("net: rx stalling frames=%lu bytes=%lu lost=%lu bad=%lu reordered=%lu other=%lu ms=%lu: no more "
        "buffers, %s", s->frames, s->bytes, s->lost, s->bad, s->reordered, s->other, ms_since_boot(),
        spin ? "spinning" : "halted");
    apic_timer_stop();
    if (!spin)
        halt_forever();
    sti();
    for (;;)
        pause();
}

static void __attribute__((noreturn)) receive(bool expect_done)
{
    if (!net_up())
        net_idle();
    if (vnet_send(1, fill_announce, NULL) != 1)
        say("net: warning: cannot send the announcement");
    struct rx_stats s = { 0 };
    bool done = !expect_done;
    uint64_t seen = timer_ticks, stall_at = 0;
    apic_timer_periodic(tg.opt.tick_ms, VEC_TIMER);
    for (;;) {
        if (tg.opt.stall_ms && !stall_at && s.frames)
            stall_at = tsc_after_ms(tg.opt.stall_ms);
        if (stall_at && tsc_passed(stall_at))
            stall(&s);
        unsigned n = vnet_poll(on_frame, &s);
        if (!done && s.frames >= tg.opt.count) {
            done = true;
            say("net: rx done frames=%lu bytes=%lu lost=%lu bad=%lu reordered=%lu other=%lu ms=%lu kicks=%lu "
                "interrupts=%lu", s.frames, s.bytes, s.lost, s.bad, s.reordered, s.other, ms_since_boot(),
                vnet_kicks(), vnet_interrupts());
        }
        if (timer_ticks != seen) {
            seen = timer_ticks;
            say("net: rx frames=%lu bytes=%lu lost=%lu bad=%lu reordered=%lu other=%lu ms=%lu", s.frames, s.bytes,
                s.lost, s.bad, s.reordered, s.other, ms_since_boot());
        }
        if (!n)
            vnet_wait_rx();
    }
}

void scenario_net_recv(void) { receive(true); }
void scenario_net_watch(void) { receive(false); }
