/* The ha and ha-client scenarios: a heartbeat agent (the protocol of
 * docs/failover.md) serving a request/reply test flow on the service's MAC
 * while it is primary, and a client that sends numbered requests to services
 * and measures the gaps in the replies.
 *
 * ha: beats every interval with the role it acts as; the answer is the role
 * to take. As primary it answers requests to the service MAC (from that
 * MAC); as standby it ignores them. fail=stop|hang|crash|shutdown makes it fail
 * fail_ms after it became primary: stop beating (it keeps serving), hang with
 * interrupts off, triple-fault, or power off (ACPI S5).
 *
 * ha-client: one request every period_us to each svc= MAC; each reply names
 * the partition that served it. A reply after a gap says how many requests
 * went unanswered and for how long, and who serves now. */
#include "guest/tg.h"
#include "guest/vnet.h"
#include "guest/x86.h"
#include "vmm/hypercall_abi.h"

#define HA_ETH_TYPE  0x88b7          /* IEEE 802 local experimental ethertype */
#define HA_REQ_MAGIC 0x51414849u     /* "IHAQ" */
#define HA_REP_MAGIC 0x52414849u     /* "IHAR" */
#define HA_FRAME     64

struct ha_msg {
    uint32_t magic;
    uint32_t seq;
    uint64_t tsc;                    /* the client's, echoed */
    char server[16];                 /* reply: the partition that served it */
} __attribute__((packed));

static const char *role_name(int64_t r)
{
    return r == HB_ROLE_PRIMARY ? "primary" : r == HB_ROLE_STANDBY ? "standby" : "none";
}

/* ---- ha ---- */

static struct {
    struct isthmus_hb_info info __attribute__((aligned(8)));
    uint32_t role;                   /* what it acts as */
    uint64_t next_beat;              /* TSC */
    uint64_t primary_since;          /* TSC, 0 while not primary */
    bool beating;
    uint64_t served;
} ha;

/* One beat; acts on the answer. */
static void beat(void)
{
    int64_t r = hypercall(HC_HB_BEAT, ha.role, 0, 0, 0);
    if (r < 0) {
        say("ha: beat refused (%ld)", r);
        return;
    }
    if ((uint32_t)r == ha.role)
        return;
    say("ha: %s: role %s -> %s", tg.info.name, role_name(ha.role), role_name(r));
    ha.role = (uint32_t)r;
    ha.primary_since = r == HB_ROLE_PRIMARY ? rdtsc() : 0;
    /* Say at once that it acts in the new role: that beat ends a takeover. */
    (void)hypercall(HC_HB_BEAT, ha.role, 0, 0, 0);
}

static uint32_t fill_reply(void *c, unsigned k, uint8_t *f)
{
    (void)k;
    const uint8_t *req = c;
    memset(f, 0, HA_FRAME);
    memcpy(f, req + ETH_ALEN, ETH_ALEN);            /* back to the client */
    memcpy(f + ETH_ALEN, ha.info.service_mac, ETH_ALEN);
    f[12] = HA_ETH_TYPE >> 8;
    f[13] = HA_ETH_TYPE & 0xff;
    struct ha_msg m;
    memcpy(&m, req + ETH_HLEN, sizeof(m));
    m.magic = HA_REP_MAGIC;
    copy_str(m.server, tg.info.name, sizeof(m.server));
    memcpy(f + ETH_HLEN, &m, sizeof(m));
    return HA_FRAME;
}

static void on_request(void *c, const uint8_t *f, uint32_t len, bool ok)
{
    (void)c;
    struct ha_msg m;
    if (!ok || len < ETH_HLEN + sizeof(m) || (f[12] << 8 | f[13]) != HA_ETH_TYPE)
        return;
    memcpy(&m, f + ETH_HLEN, sizeof(m));
    /* Only the primary serves; a standby sees requests only when they are flooded. */
    if (m.magic != HA_REQ_MAGIC || ha.role != HB_ROLE_PRIMARY || memcmp(f, ha.info.service_mac, ETH_ALEN))
        return;
    if (vnet_send(1, fill_reply, (void *)f) == 1)
        ha.served++;
}

/* Returns only for fail=stop: the agent is stopped, the service goes on. */
static void fail_now(void)
{
    if (streq(tg.opt.fail, "stop")) {
        say("ha: %s: failure: agent stopped (the service goes on)", tg.info.name);
        ha.beating = false;
        return;
    }
    if (streq(tg.opt.fail, "shutdown")) {
        say("ha: %s: failure: power off", tg.info.name);
        acpi_poweroff();
        halt_forever();
    }
    if (streq(tg.opt.fail, "hang")) {
        say("ha: %s: failure: hang, interrupts off", tg.info.name);
        cli();
        for (;;)
            __asm__ volatile("" ::: "memory");
    }
    say("ha: %s: failure: triple fault", tg.info.name);
    triple_fault();
    say("ha: FAIL: survived a triple fault");
    halt_forever();
}

void scenario_ha(void)
{
    if (!tg.isthmus) {
        say("ha: not running on Isthmus");
        halt_forever();
    }
    int64_t r = hypercall(HC_HB_INFO, (uintptr_t)&ha.info, 0, 0, 0);
    if (r < 0) {
        say("ha: %s is in no failover group (%ld)", tg.info.name, r);
        halt_forever();
    }
    const uint8_t *s = ha.info.service_mac;
    say("ha: %s in group %s, beats every %u ms, service %02x:%02x:%02x:%02x:%02x:%02x, told %s", tg.info.name,
        ha.info.group, ha.info.interval_ms, s[0], s[1], s[2], s[3], s[4], s[5], role_name(ha.info.role));
    bool net = ha.info.has_mac && net_up();
    bool fail = streq(tg.opt.fail, "stop") || streq(tg.opt.fail, "hang") || streq(tg.opt.fail, "crash") ||
                streq(tg.opt.fail, "shutdown");
    if (tg.opt.fail[0] && !fail)
        say("ha: option fail: '%s' is not stop, hang, crash or shutdown", tg.opt.fail);
    ha.beating = true;
    ha.role = HB_ROLE_NONE;
    ha.next_beat = rdtsc();
    /* The tick wakes the loop to beat on time when no frame does. */
    uint64_t tick = ha.info.interval_ms / 4 ? ha.info.interval_ms / 4 : 1;
    apic_timer_periodic(tick, VEC_TIMER);
    uint64_t said = 0;
    for (;;) {
        if (ha.beating && tsc_passed(ha.next_beat)) {
            beat();
            ha.next_beat += ha.info.interval_ms * tg.tsc_khz;
            if (tsc_passed(ha.next_beat))   /* it was held up: beat on the interval from now */
                ha.next_beat = tsc_after_ms(ha.info.interval_ms);
        }
        if (fail && ha.beating && ha.primary_since &&
            tsc_passed(ha.primary_since + tg.opt.fail_ms * tg.tsc_khz)) {
            fail = false;
            fail_now();
        }
        if (ha.served / 1000 != said) {
            said = ha.served / 1000;
            say("ha: %s served %lu requests", tg.info.name, ha.served);
        }
        if (!net) {
            sti_hlt();
            continue;
        }
        if (!vnet_poll(on_request, NULL))
            vnet_wait_rx();
    }
}

/* ---- ha-client ---- */

struct svc_state {
    uint32_t seq;                    /* the next request's */
    uint32_t last;                   /* the last answered request's seq + 1; 0 = none yet */
    uint64_t last_tsc;               /* when it was answered */
    uint64_t replies;
    char server[16];
};

static struct svc_state svc[4];
static unsigned svc_k;

static uint32_t fill_request(void *c, unsigned k, uint8_t *f)
{
    (void)c;
    (void)k;
    struct svc_state *s = &svc[svc_k];
    memset(f, 0, HA_FRAME);
    memcpy(f, tg.opt.svc[svc_k], ETH_ALEN);
    memcpy(f + ETH_ALEN, vnet_mac(), ETH_ALEN);
    f[12] = HA_ETH_TYPE >> 8;
    f[13] = HA_ETH_TYPE & 0xff;
    struct ha_msg m = { HA_REQ_MAGIC, s->seq++, rdtsc(), { 0 } };
    memcpy(f + ETH_HLEN, &m, sizeof(m));
    return HA_FRAME;
}

static void on_reply(void *c, const uint8_t *f, uint32_t len, bool ok)
{
    (void)c;
    struct ha_msg m;
    if (!ok || len < ETH_HLEN + sizeof(m) || (f[12] << 8 | f[13]) != HA_ETH_TYPE)
        return;
    memcpy(&m, f + ETH_HLEN, sizeof(m));
    m.server[sizeof(m.server) - 1] = 0;
    unsigned k = 0;
    while (k < tg.opt.nsvc && memcmp(f + ETH_ALEN, tg.opt.svc[k], ETH_ALEN))
        k++;
    if (m.magic != HA_REP_MAGIC || k == tg.opt.nsvc)
        return;
    struct svc_state *s = &svc[k];
    if (m.seq + 1 <= s->last)
        return;   /* late or repeated */
    uint64_t now = rdtsc();
    if (!s->last) {
        say("client: svc %u first reply seq %u from %s", k, m.seq, m.server);
    } else if (m.seq > s->last || !streq(m.server, s->server)) {
        uint64_t us = (now - s->last_tsc) * 1000 / tg.tsc_khz;
        say("client: svc %u outage %lu.%03lu ms, %u requests unanswered (seq %u..%u), served by %s (was %s)", k,
            us / 1000, us % 1000, m.seq - s->last, s->last, m.seq, m.server, s->server);
    }
    s->last = m.seq + 1;
    s->last_tsc = now;
    s->replies++;
    copy_str(s->server, m.server, sizeof(s->server));
}

void scenario_ha_client(void)
{
    if (!tg.opt.nsvc) {
        say("ha-client: no svc= MAC addresses given");
        halt_forever();
    }
    if (!net_up())
        net_idle();
    uint64_t period = tg.opt.period_us * tg.tsc_khz / 1000, next = rdtsc();
    uint64_t seen = timer_ticks;
    apic_timer_periodic(1, VEC_TIMER);
    say("ha-client: %u service(s), one request each every %lu us", tg.opt.nsvc, tg.opt.period_us);
    for (;;) {
        if (tsc_passed(next)) {
            for (svc_k = 0; svc_k < tg.opt.nsvc; svc_k++)
                (void)vnet_send(1, fill_request, NULL);
            next += period;
            if (tsc_passed(next))
                next = rdtsc() + period;
        }
        (void)vnet_tx_flush(0);
        vnet_poll(on_reply, NULL);
        if (timer_ticks / tg.opt.tick_ms != seen / tg.opt.tick_ms) {
            for (unsigned k = 0; k < tg.opt.nsvc; k++)
                say("client: svc %u requests %u replies %lu from %s", k, svc[k].seq, svc[k].replies,
                    svc[k].server[0] ? svc[k].server : "-");
        }
        seen = timer_ticks;
        vnet_wait_rx();
    }
}
