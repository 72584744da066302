/* The networking shell commands: `net` (ports, VLANs, rates, colours and
 * counters), `net mac` (the learning table) and `rate` (live rate changes). */
#include "kernel/lib/shell_core.h"
#include "kernel/core/console.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "net/vnet.h"
#include "vmm/dev/vnic.h"

typedef unsigned long long ull;

static void print_mac(const u8 *m)
{
    con_printf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void print_rate(const char *name, u64 bytes_per_s)
{
    if (bytes_per_s)
        con_printf(" %s=%llu", name, (ull)bytes_per_s * 8);
    else
        con_printf(" %s=unlimited", name);
}

static void print_drops(const u64 *drops)
{
    for (u32 d = 0; d < VNET_DROP_COUNT; d++)
        if (drops[d])
            con_printf(" %s=%llu", vnet_drop_name((enum vnet_drop)d), (ull)drops[d]);
}

static void show_port(struct vnet *n)
{
    const struct vsw_port_cfg *v = &n->cfg.vlan;
    con_printf("port %u %s mac ", n->port, n->name);
    print_mac(n->cfg.mac);
    if (v->mode == VSW_ACCESS) {
        con_printf(" access vlan %u", v->vid);
    } else {
        con_printf(" trunk native %u vlans", v->vid);
        for (u32 id = 1; id <= VSW_VID_MAX; id++)
            if (v->allowed[id / 64] & BIT(id % 64))
                con_printf(" %u", id);
    }
    con_printf(" link %s\n", vnet_link_up(n) ? "up" : n->mem ? "down" : "off");
    const struct shim *s = &n->shim;
    con_printf("  rate");
    print_rate("cir", n->cfg.rate.cir);
    print_rate("pir", n->cfg.rate.pir);
    con_printf(" cbs=%llu pbs=%llu wc=%s", (ull)n->cfg.rate.cbs, (ull)n->cfg.rate.pbs, n->cfg.rate.wc ? "on" : "off");
    if (s->factor_ppm < 1000000)
        con_printf(" (cut to %u.%u%% by congestion)", s->factor_ppm / 10000, s->factor_ppm / 1000 % 10);
    con_printf("\n  colours green=%llu/%llu yellow=%llu/%llu red=%llu held=%llu black=%llu cuts=%llu\n",
               (ull)s->stats.frames[SHIM_GREEN], (ull)s->stats.bytes[SHIM_GREEN], (ull)s->stats.frames[SHIM_YELLOW],
               (ull)s->stats.bytes[SHIM_YELLOW], (ull)s->stats.frames[SHIM_RED], (ull)s->stats.held,
               (ull)s->stats.frames[SHIM_BLACK], (ull)s->stats.cuts);
    const struct vnet_stats *st = &n->stats;
    con_printf("  tx frames=%llu bytes=%llu", (ull)st->tx.frames, (ull)st->tx.bytes);
    print_drops(st->tx.drops);
    con_printf("\n  rx frames=%llu bytes=%llu", (ull)st->rx.frames, (ull)st->rx.bytes);
    print_drops(st->rx.drops);
    con_printf("\n  errors");
    u64 ring = 0;
    for (u32 q = 0; q < VNET_NUM_QUEUES; q++)
        for (u32 e = 0; e < VQE_COUNT; e++) {
            u64 c = n->queue[q].q.stats.err[e];
            ring += c;
            if (c)
                con_printf(" %s-%s=%llu", q == VNET_RXQ ? "rx" : "tx", virtq_err_name((enum virtq_err)e), (ull)c);
        }
    con_printf(" ring=%llu needs-reset=%llu resets=%llu bar=%llu msi=%llu\n", (ull)ring, (ull)st->needs_reset,
               (ull)st->resets, (ull)st->bar_bad, (ull)st->msi_bad);
    const struct vsw_port *sp = &net.sw.port[n->port];
    u64 sw = 0;
    for (u32 d = 0; d < VSW_DROP_COUNT; d++)
        sw += sp->drops[d];
    con_printf("  notifies=%llu interrupts=%llu masked=%llu congestion=%llu held-for-receiver=%llu switch-drops=%llu",
               (ull)st->notifies, (ull)st->interrupts, (ull)st->interrupts_masked, (ull)st->congestion,
               (ull)st->held_full, (ull)sw);
    for (u32 d = 1; d < VSW_DROP_COUNT; d++)
        if (sp->drops[d])
            con_printf(" %s=%llu", vsw_drop_name((enum vsw_drop)d), (ull)sp->drops[d]);
    con_printf("\n");
}

static int show_macs(void)
{
    static struct vsw_mac_entry e[VSW_MAC_ENTRIES];
    u64 now = vnic_now_ns();
    u32 n = vsw_mac_dump(&net.sw, now, e, VSW_MAC_ENTRIES);
    con_printf("%u learnt (ageing %llu s)\nVLAN  MAC                PORT  NAME              AGE\n", n,
               (ull)(net.sw.age_ns / 1000000000ULL));
    for (u32 i = 0; i < n && i < VSW_MAC_ENTRIES; i++) {
        con_printf("%4u  ", e[i].vid);
        print_mac(e[i].mac);
        const struct vnet *p = e[i].port < net.nports ? net.port[e[i].port] : NULL;
        con_printf("  %4u  %-16s  %llu.%03llu s\n", e[i].port, p ? p->name : "?",
                   (ull)((now - e[i].seen) / 1000000000ULL), (ull)((now - e[i].seen) / 1000000 % 1000));
    }
    return 0;
}

static int cmd_net(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "mac"))
        return show_macs();
    if (argc != 1)
        return -EINVAL;
    if (!net.nports) {
        con_printf("no NICs (give a partition nic = true)\n");
        return 0;
    }
    con_printf("switch: %u port(s), capacity ", net.nports);
    if (net.link.capacity)
        con_printf("%llu bit/s", (ull)net.link.capacity * 8);
    else
        con_printf("unlimited");
    con_printf(", MAC ageing %llu s; learnt=%llu moved=%llu aged=%llu flooded=%llu forwarded=%llu\n",
               (ull)(net.sw.age_ns / 1000000000ULL), (ull)net.sw.stats.learned, (ull)net.sw.stats.moved,
               (ull)net.sw.stats.aged, (ull)net.sw.stats.flooded, (ull)net.sw.stats.forwarded);
    for (u32 i = 0; i < net.nports; i++)
        show_port(net.port[i]);
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
    struct vnet *n = net_find(argv[1]);
    u64 num;
    if (!n && kparse_u64(argv[1], &num, false) == 0 && num < net.nports)
        n = net.port[num];
    if (!n) {
        con_printf("rate: no port \"%s\" (see `net`)\n", argv[1]);
        return -ENOENT;
    }
    struct shim_cfg c = n->cfg.rate;
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
                       "wc on or off)\n", v, k);
            return -EINVAL;
        }
    }
    const char *why = shim_cfg_check(&c);
    if (why || net_set_rate(n, &c) < 0) {
        con_printf("rate: refused: %s\n", why ? why : "invalid");
        return -EINVAL;
    }
    con_printf("%s:", n->name);
    print_rate("cir", c.cir);
    print_rate("pir", c.pir);
    con_printf(" cbs=%llu pbs=%llu wc=%s\n", (ull)c.cbs, (ull)c.pbs, c.wc ? "on" : "off");
    return 0;
}
SHELL_COMMAND(rate, "rate PORT cir=RATE pir=RATE [cbs=BYTES] [pbs=BYTES] [wc=on|off]",
              "change a port's rates live (bits/s such as 100M; PORT: partition name or number)", cmd_rate);
