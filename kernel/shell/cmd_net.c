/* The networking shell commands: `net` (ports, VLANs, rates, colours and
 * counters), `net mac` (the learning table) and `rate` (live rate changes). */
#include "kernel/lib/shell_core.h"
#include "kernel/core/console.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "net/query.h"

typedef unsigned long long ull;

static void print_mac(const u8 *m) { con_printf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]); }

static void print_rate(const char *name, u64 bytes_per_s)
{
    if (bytes_per_s)
        con_printf(" %s=%llu", name, (ull)bytes_per_s * 8);
    else
        con_printf(" %s=unlimited", name);
}

static void print_drops(const u64 *drops)
{
    for (u32 d = 0; d < NET_INFO_DROPS; d++)
        if (drops[d])
            con_printf(" %s=%llu", net_drop_name(d), (ull)drops[d]);
}

/* The shell runs on CPU 0 only: snapshots live here, not on its stack. */
static struct net_port_info pinfo;
static struct vsw_mac_entry macs[VSW_MAC_ENTRIES];

static void show_vlan(const struct vsw_port_cfg *v)
{
    if (v->mode == VSW_ACCESS) {
        con_printf(" access vlan %u", v->vid);
    } else {
        con_printf(" trunk native %u vlans", v->vid);
        for (u32 id = 1; id <= VSW_VID_MAX; id++)
            if (v->allowed[id / 64] & BIT(id % 64))
                con_printf(" %u", id);
    }
}

static void show_rate(const struct net_port_info *n)
{
    const struct shim_stats *s = &n->shim;
    con_printf("  rate");
    print_rate("cir", n->rate.cir);
    print_rate("pir", n->rate.pir);
    con_printf(" cbs=%llu pbs=%llu wc=%s", (ull)n->rate.cbs, (ull)n->rate.pbs, n->rate.wc ? "on" : "off");
    if (n->factor_ppm < 1000000)
        con_printf(" (cut to %u.%u%% by congestion)", n->factor_ppm / 10000, n->factor_ppm / 1000 % 10);
    con_printf("\n  colours green=%llu/%llu yellow=%llu/%llu red=%llu held=%llu black=%llu cuts=%llu\n",
               (ull)s->frames[SHIM_GREEN], (ull)s->bytes[SHIM_GREEN], (ull)s->frames[SHIM_YELLOW],
               (ull)s->bytes[SHIM_YELLOW], (ull)s->frames[SHIM_RED], (ull)s->held, (ull)s->frames[SHIM_BLACK],
               (ull)s->cuts);
}

static void show_port(const struct net_port_info *n)
{
    static const char *const links[] = { [NET_LINK_OFF] = "off", [NET_LINK_DOWN] = "down", [NET_LINK_UP] = "up" };
    con_printf("port %u %s mac ", n->port, n->name);
    print_mac(n->mac);
    show_vlan(&n->vlan);
    con_printf(" link %s mtu %u%s\n", links[n->link % 3], n->mtu,
               n->stalled ? " (stalled: no receive buffers; frames to it are dropped)" : "");
    show_rate(n);
    con_printf("  tx frames=%llu bytes=%llu", (ull)n->tx.frames, (ull)n->tx.bytes);
    print_drops(n->tx.drops);
    con_printf("\n  rx frames=%llu bytes=%llu", (ull)n->rx.frames, (ull)n->rx.bytes);
    print_drops(n->rx.drops);
    con_printf("\n  errors");
    u64 ring = 0;
    for (u32 q = 0; q < NET_INFO_QUEUES; q++)
        for (u32 e = 0; e < NET_INFO_QERRS; e++) {
            u64 c = n->queue_err[q][e];
            ring += c;
            if (c)
                con_printf(" %s-%s=%llu", net_queue_name(q), net_queue_err_name(e), (ull)c);
        }
    con_printf(" ring=%llu needs-reset=%llu resets=%llu bar=%llu msi=%llu\n", (ull)ring, (ull)n->needs_reset,
               (ull)n->resets, (ull)n->bar_bad, (ull)n->msi_bad);
    u64 sw = 0;
    for (u32 d = 0; d < VSW_DROP_COUNT; d++)
        sw += n->switch_drops[d];
    con_printf("  notifies=%llu interrupts=%llu masked=%llu congestion=%llu held-for-receiver=%llu merged=%llu "
               "switch-drops=%llu",
               (ull)n->notifies, (ull)n->interrupts, (ull)n->interrupts_masked, (ull)n->congestion, (ull)n->held_full,
               (ull)n->rx_merged, (ull)sw);
    for (u32 d = 1; d < VSW_DROP_COUNT; d++)
        if (n->switch_drops[d])
            con_printf(" %s=%llu", vsw_drop_name((enum vsw_drop)d), (ull)n->switch_drops[d]);
    con_printf("\n");
}

static int show_macs(void)
{
    struct net_switch_info sw;
    net_switch_snapshot(&sw);
    u64 now;
    u32 n = net_mac_snapshot(macs, VSW_MAC_ENTRIES, &now);
    con_printf("%u learnt (ageing %llu s)\nVLAN  MAC                PORT  NAME              AGE\n", n,
               (ull)(sw.age_ns / 1000000000ULL));
    for (u32 i = 0; i < n && i < VSW_MAC_ENTRIES; i++) {
        const struct vsw_mac_entry *e = &macs[i];
        con_printf("%4u  ", e->vid);
        print_mac(e->mac);
        const char *name = net_port_name(e->port);
        con_printf("  %4u  %-16s  %llu.%03llu s\n", e->port, name ? name : "?", (ull)((now - e->seen) / 1000000000ULL),
                   (ull)((now - e->seen) / 1000000 % 1000));
    }
    return 0;
}

static int cmd_net(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "mac"))
        return show_macs();
    if (argc != 1)
        return -EINVAL;
    struct net_switch_info sw;
    net_switch_snapshot(&sw);
    if (!sw.nports) {
        con_printf("no NICs (give a partition nic = true)\n");
        return 0;
    }
    con_printf("switch: %u port(s), capacity ", sw.nports);
    if (sw.capacity)
        con_printf("%llu bit/s", (ull)sw.capacity * 8);
    else
        con_printf("unlimited");
    con_printf(", default MTU %u, MAC ageing %llu s; learnt=%llu moved=%llu aged=%llu flooded=%llu forwarded=%llu\n",
               sw.mtu, (ull)(sw.age_ns / 1000000000ULL), (ull)sw.stats.learned, (ull)sw.stats.moved, (ull)sw.stats.aged,
               (ull)sw.stats.flooded, (ull)sw.stats.forwarded);
    for (u32 i = 0; i < sw.nports; i++)
        if (net_port_snapshot(i, &pinfo) == 0)
            show_port(&pinfo);
    return 0;
}
SHELL_COMMAND(net, "net [mac]", "the switch: ports, VLANs, rates, colours and counters; mac: learnt addresses",
              cmd_net);

/* rate PORT cir=RATE pir=RATE [cbs=BYTES] [pbs=BYTES] [wc=on|off]; PORT is a
 * partition name or a port number. Unnamed settings keep their values. */
static int cmd_rate(int argc, char **argv)
{
    if (argc < 3)
        return -EINVAL;
    struct net_switch_info sw;
    net_switch_snapshot(&sw);
    int port = net_port_lookup(argv[1]);
    u64 num;
    if (port < 0 && kparse_u64(argv[1], &num, false) == 0 && num < sw.nports)
        port = (int)num;
    if (port < 0 || net_port_snapshot((u32)port, &pinfo) < 0) {
        con_printf("rate: no port \"%s\" (see `net`)\n", argv[1]);
        return -ENOENT;
    }
    struct shim_cfg c = pinfo.rate;
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            con_printf("rate: \"%s\" is not KEY=VALUE\n", argv[i]);
            return -EINVAL;
        }
        *eq = 0;
        const char *k = argv[i], *v = eq + 1;
        u64 x;
        int rc = 0;
        if (!strcmp(k, "cir") || !strcmp(k, "pir")) {
            rc = kparse_rate(v, &x);
            if (!rc && x && x < 8000)
                rc = -ERANGE;
            if (!rc)
                *(k[0] == 'c' ? &c.cir : &c.pir) = x / 8;
        } else if (!strcmp(k, "cbs") || !strcmp(k, "pbs")) {
            rc = kparse_u64(v, &x, true);
            if (!rc)
                *(k[0] == 'c' ? &c.cbs : &c.pbs) = x;
        } else if (!strcmp(k, "wc")) {
            rc = !strcmp(v, "on") ? (c.wc = true, 0) : !strcmp(v, "off") ? (c.wc = false, 0) : -EINVAL;
        } else {
            con_printf("rate: unknown setting \"%s\" (cir, pir, cbs, pbs, wc)\n", k);
            return -EINVAL;
        }
        if (rc < 0) {
            con_printf("rate: bad value \"%s\" for %s (rates in bit/s such as 100M; bursts in bytes such as 64K; "
                       "wc on or off)\n",
                       v, k);
            return -EINVAL;
        }
    }
    const char *why = shim_cfg_check(&c);
    if (why || net_port_set_rate((u32)port, &c) < 0) {
        con_printf("rate: refused: %s\n", why ? why : "invalid");
        return -EINVAL;
    }
    con_printf("%s:", pinfo.name);
    print_rate("cir", c.cir);
    print_rate("pir", c.pir);
    con_printf(" cbs=%llu pbs=%llu wc=%s\n", (ull)c.cbs, (ull)c.pbs, c.wc ? "on" : "off");
    return 0;
}
SHELL_COMMAND(rate, "rate PORT cir=RATE pir=RATE [cbs=BYTES] [pbs=BYTES] [wc=on|off]",
              "change a port's rates live (bits/s such as 100M; PORT: partition name or number)", cmd_rate);
