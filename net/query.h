/* The network's query API: what management (the shell's `net`, `net mac` and
 * `rate`) may know of the switch and its ports, copied out by value, and the
 * one change it makes, a port's rates. Ports are named by number (0 ..
 * nports - 1) or by name (the partition's). The shell never sees struct vnet.
 *
 * Call from CPU 0 (the shell). Counters that other CPUs bump are read without
 * their locks: a snapshot is a moment's view, as the shell always had. */
#ifndef ISTHMUS_NET_QUERY_H
#define ISTHMUS_NET_QUERY_H

#include "kernel/lib/types.h"
#include "net/shim.h"
#include "net/vswitch.h"

#define NET_INFO_NAME_MAX 32
#define NET_INFO_DROPS    8 /* reasons a port drops frames (asserted in net/query.c) */
#define NET_INFO_QUEUES   2 /* receive, transmit */
#define NET_INFO_QERRS    8 /* kinds of bad descriptor chains (asserted) */

enum net_link {
    NET_LINK_OFF,  /* its partition has no memory */
    NET_LINK_DOWN, /* no driver running it */
    NET_LINK_UP,
};

struct net_switch_info {
    u32 nports;
    u64 capacity; /* bytes/s the ports share; 0 = unlimited */
    u64 age_ns;   /* MAC ageing */
    u32 mtu;      /* the ports' default MTU */
    struct vsw_stats stats;
};

struct net_dir_info {
    u64 frames, bytes;
    u64 drops[NET_INFO_DROPS]; /* by reason: net_drop_name() */
};

struct net_port_info {
    u32 port;
    char name[NET_INFO_NAME_MAX];
    u8 mac[ETH_ALEN];
    struct vsw_port_cfg vlan;
    u32 link;             /* enum net_link */
    u32 mtu;              /* bytes of payload; frames over it are dropped as "oversize" */
    bool stalled;         /* no receive buffers for VNET_STALL_NS: frames to it are dropped */
    struct shim_cfg rate; /* as configured (or last set) */
    u32 factor_ppm;       /* share of those rates in force after congestion cuts (1e6 = all) */
    struct shim_stats shim;
    struct net_dir_info tx, rx;
    u64 notifies, interrupts, interrupts_masked, msi_bad;
    u64 resets, needs_reset, congestion, held_full, bar_bad;
    u64 rx_merged;                                  /* frames received over more than one buffer */
    u64 queue_err[NET_INFO_QUEUES][NET_INFO_QERRS]; /* net_queue_name(q), net_queue_err_name(e) */
    u64 switch_drops[VSW_DROP_COUNT];               /* ingress drops by the switch: vsw_drop_name() */
};

void net_switch_snapshot(struct net_switch_info *out);
/* 0, or -ENOENT for no such port. */
int net_port_snapshot(u32 port, struct net_port_info *out) __must_check;
/* The port called name, or -ENOENT. */
int net_port_lookup(const char *name);
/* Its name, NULL for no such port. */
const char *net_port_name(u32 port);
/* Copies up to max live entries of the learning table (sorted by VLAN, then
 * MAC) and returns how many there are in all; *now gets the switch's clock
 * (ns) they were aged against, for their age. */
u32 net_mac_snapshot(struct vsw_mac_entry *out, u32 max, u64 *now);
/* Changes a port's rates live: 0, -ENOENT for no such port, -EINVAL when
 * shim_cfg_check refuses them. */
int net_port_set_rate(u32 port, const struct shim_cfg *cfg) __must_check;

const char *net_drop_name(u32 reason);
const char *net_queue_name(u32 q);
const char *net_queue_err_name(u32 e);

#endif
