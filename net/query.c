/* See query.h. */
#include "net/query.h"
#include "net/vnet.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

_Static_assert(NET_INFO_DROPS == VNET_DROP_COUNT, "a snapshot holds every drop reason");
_Static_assert(NET_INFO_QUEUES == VNET_NUM_QUEUES, "a snapshot holds every queue");
_Static_assert(NET_INFO_QERRS == VQE_COUNT, "a snapshot holds every chain error");

static struct vnet *port(u32 i) { return i < net.nports ? net.port[i] : NULL; }

void net_switch_snapshot(struct net_switch_info *out)
{
    memset(out, 0, sizeof(*out));
    out->nports = net.nports;
    out->capacity = net.link.capacity;
    out->age_ns = net.sw.age_ns;
    out->mtu = net.mtu;
    out->stats = net.sw.stats;
}

static void dir_info(const struct vnet_dir_stats *s, struct net_dir_info *out)
{
    out->frames = s->frames;
    out->bytes = s->bytes;
    for (u32 d = 0; d < VNET_DROP_COUNT; d++)
        out->drops[d] = s->drops[d];
}

static void stats_info(const struct vnet *n, struct net_port_info *out)
{
    const struct vnet_stats *st = &n->stats;
    dir_info(&st->tx, &out->tx);
    dir_info(&st->rx, &out->rx);
    out->notifies = st->notifies;
    out->interrupts = st->interrupts;
    out->interrupts_masked = st->interrupts_masked;
    out->msi_bad = st->msi_bad;
    out->resets = st->resets;
    out->needs_reset = st->needs_reset;
    out->congestion = st->congestion;
    out->held_full = st->held_full;
    out->rx_merged = st->rx_merged;
    out->bar_bad = st->bar_bad;
    for (u32 q = 0; q < VNET_NUM_QUEUES; q++)
        for (u32 e = 0; e < VQE_COUNT; e++)
            out->queue_err[q][e] = n->queue[q].q.stats.err[e];
    for (u32 d = 0; d < VSW_DROP_COUNT; d++)
        out->switch_drops[d] = net.sw.port[n->port].drops[d];
}

int net_port_snapshot(u32 i, struct net_port_info *out)
{
    const struct vnet *n = port(i);
    if (!n)
        return -ENOENT;
    memset(out, 0, sizeof(*out));
    out->port = n->port;
    kstrlcpy(out->name, n->name, sizeof(out->name));
    memcpy(out->mac, n->cfg.mac, ETH_ALEN);
    out->vlan = n->cfg.vlan;
    out->link = vnet_link_up(n) ? NET_LINK_UP : n->mem ? NET_LINK_DOWN : NET_LINK_OFF;
    out->mtu = n->cfg.mtu;
    out->stalled = __atomic_load_n(&n->stalled, __ATOMIC_RELAXED);
    out->rate = n->cfg.rate;
    out->factor_ppm = n->shim.factor_ppm;
    out->shim = n->shim.stats;
    stats_info(n, out);
    return 0;
}

int net_port_lookup(const char *name)
{
    const struct vnet *n = net_find(name);
    return n ? (int)n->port : -ENOENT;
}

const char *net_port_name(u32 i)
{
    const struct vnet *n = port(i);
    return n ? n->name : NULL;
}

u32 net_mac_snapshot(struct vsw_mac_entry *out, u32 max, u64 *now)
{
    /* The switch has no clock of its own: it learns with the ports' (each
     * port is given the hypervisor's). Without ports the table is empty. */
    *now = net.nports ? net.port[0]->env.now() : 0;
    return vsw_mac_dump(&net.sw, *now, out, max);
}

int net_port_set_rate(u32 i, const struct shim_cfg *cfg)
{
    struct vnet *n = port(i);
    if (!n)
        return -ENOENT;
    return net_set_rate(n, cfg);
}

const char *net_drop_name(u32 reason)
{
    return reason < VNET_DROP_COUNT ? vnet_drop_name((enum vnet_drop)reason) : "?";
}

const char *net_queue_name(u32 q) { return q == VNET_RXQ ? "rx" : "tx"; }

const char *net_queue_err_name(u32 e) { return e < VQE_COUNT ? virtq_err_name((enum virtq_err)e) : "?"; }
