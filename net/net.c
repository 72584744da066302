/* The switch and its ports: which NIC is which port, and the life of a port
 * as its partition starts and stops. See net/vnet.h. */
#include "net/vnet.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/lib/string.h"

struct net net;

void net_init(u64 age_ns, u64 capacity, u16 mtu, u64 now)
{
    memset(&net, 0, sizeof(net));
    vsw_init(&net.sw, age_ns);
    shim_link_init(&net.link, capacity, now);
    net.mtu = mtu >= VIRTIO_NET_MTU_MIN ? mtu : VNET_MTU_DEFAULT;
}

int net_attach(struct vnet *n, const char *name, u32 part, const struct vnet_cfg *cfg, const struct vnet_env *env)
{
    if (net.nports >= NET_MAX_PORTS)
        return -ENOSPC;
    if (shim_cfg_check(&cfg->rate) || (cfg->mtu && cfg->mtu < VIRTIO_NET_MTU_MIN))
        return -EINVAL;
    int rc = vsw_port_add(&net.sw, net.nports, &cfg->vlan);
    if (rc < 0)
        return rc;
    memset(n, 0, sizeof(*n));
    n->name = name;
    n->part = part;
    n->port = net.nports;
    n->cfg = *cfg;
    if (!n->cfg.mtu)
        n->cfg.mtu = net.mtu;
    n->env = *env;
    shim_init(&n->shim, &net.link, &cfg->rate, env->now());
    vnet_power_on(n);
    n->stats.resets = 0;
    net.port[net.nports++] = n;
    return 0;
}

void net_connect(struct vnet *n, const struct gmem *mem)
{
    vnet_power_on(n);
    spin_lock(&n->tx_lock);
    spin_lock(&n->lock);
    n->mem = mem;
    n->pci_cmd = 0;
    spin_unlock(&n->lock);
    spin_unlock(&n->tx_lock);
}

void net_disconnect(struct vnet *n)
{
    vnet_power_on(n);
    /* After the reset no pass runs on this port's rings; from here on no other
     * port's pass reaches its memory either (deliver checks `running` under lock). */
    spin_lock(&n->tx_lock);
    spin_lock(&n->lock);
    n->mem = NULL;
    n->pci_cmd = 0;
    __atomic_store_n(&n->waiters, 0, __ATOMIC_SEQ_CST);
    spin_unlock(&n->lock);
    spin_unlock(&n->tx_lock);
    vsw_port_flush(&net.sw, n->port);
}

struct vnet *net_find(const char *name)
{
    for (u32 i = 0; i < net.nports; i++)
        if (!strcmp(net.port[i]->name, name))
            return net.port[i];
    return NULL;
}

int net_set_rate(struct vnet *n, const struct shim_cfg *cfg)
{
    spin_lock(&n->tx_lock);
    int rc = shim_set(&n->shim, cfg, n->env.now());
    if (!rc)
        n->cfg.rate = *cfg;
    spin_unlock(&n->tx_lock);
    if (!rc)
        vnet_tx(n); /* a higher rate may release what was held */
    return rc;
}

#define ETH_P_ARP    0x0806
#define ARP_HW_ETHER 1
#define ARP_REQUEST  1
#define ETH_MIN_LEN  60 /* without the FCS: shorter frames are padded */

u32 net_announce(struct vnet *from, const u8 mac[6], const u8 ip[4], u16 vid)
{
    u8 f[ETH_MIN_LEN + VLAN_HLEN];
    memset(f, 0, sizeof(f));
    memset(f, 0xff, ETH_ALEN);
    memcpy(f + ETH_ALEN, mac, ETH_ALEN);
    u32 at = 2 * ETH_ALEN;
    /* A trunk port sends its non-native VLANs tagged. */
    const struct vsw_port_cfg *pc = &from->cfg.vlan;
    bool tagged = pc->mode == VSW_TRUNK && pc->vid != vid;
    if (tagged) {
        f[at++] = ETH_P_8021Q >> 8;
        f[at++] = ETH_P_8021Q & 0xff;
        f[at++] = (u8)(vid >> 8);
        f[at++] = (u8)vid;
    }
    f[at++] = ETH_P_ARP >> 8;
    f[at++] = ETH_P_ARP & 0xff;
    const u8 arp[8] = { 0, ARP_HW_ETHER, 0x08, 0x00, ETH_ALEN, 4, 0, ARP_REQUEST };
    memcpy(f + at, arp, sizeof(arp));
    at += sizeof(arp);
    memcpy(f + at, mac, ETH_ALEN); /* sender hardware address */
    memcpy(f + at + 6, ip, 4);     /* sender protocol address */
    memcpy(f + at + 16, ip, 4);    /* target protocol address: the same (gratuitous) */
    /* Padded to the minimum, which a tag lengthens by its own size. */
    u32 len = MAX(at + 20, (u32)ETH_MIN_LEN + (tagged ? VLAN_HLEN : 0));
    return vnet_inject(from, f, len);
}
