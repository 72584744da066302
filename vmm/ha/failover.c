/* The heartbeat master's place in the hypervisor; see vmm/failover.h. */
#include "vmm/ha/failover.h"
#include "vmm/partition.h"
#include "vmm/dev/vnic.h"
#include "drivers/machine.h"
#include "kernel/lib/string.h"
#include "kernel/core/time.h"
#include "kernel/core/log.h"

struct hb_master hb;
/* Set while the master runs: its own starts and stops are not reported back. */
static bool in_master;

static u64 now_ns(void) { return time_now_us() * 1000; }

static const struct part_observer failover_observer;

const struct config_failover *failover_group_of(const struct partition *p)
{
    if (p->id >= hb.nparts || !hb.part[p->id].monitored)
        return NULL;
    return hb.group[hb.part[p->id].group].cfg;
}

static int op_stop(void *ctx, u32 i)
{
    (void)ctx;
    char err[PART_REASON_MAX];
    int rc = part_stop(&partitions[i], err, sizeof(err));
    if (rc < 0)
        log_err("failover", "cannot stop %s: %s", partitions[i].cfg->name, err);
    return rc;
}

static int op_start(void *ctx, u32 i, bool standby_image)
{
    (void)ctx;
    struct partition *p = &partitions[i];
    const struct config_failover *g = failover_group_of(p);
    struct part_image img = { p->cfg->kernel, p->cfg->initrd, p->cfg->cmdline };
    if (standby_image && g && g->standby_kernel[0])
        img = (struct part_image){ g->standby_kernel, g->standby_initrd, g->standby_cmdline };
    char err[PART_REASON_MAX];
    int rc = part_start_image(p, &img, err, sizeof(err));
    if (rc < 0)
        log_err("failover", "cannot start %s: %s", p->cfg->name, err);
    return rc;
}

static void op_announce(void *ctx, u32 gi, u32 i)
{
    (void)ctx;
    const struct config_failover *g = hb.group[gi].cfg;
    struct partition *p = &partitions[i];
    struct vnet *port = vnic_port(p);
    if (!port)
        return;
    static const u8 none[4];
    u32 n = net_announce(port, g->mac, g->ip_set ? g->ip : none, (u16)g->vlan);
    log_info("failover", "%s: service MAC %02x:%02x:%02x:%02x:%02x:%02x moved to %s's port, announced to %u port(s)",
             g->name, g->mac[0], g->mac[1], g->mac[2], g->mac[3], g->mac[4], g->mac[5], p->cfg->name, n);
}

static void op_log(void *ctx, enum log_level lvl, const char *msg)
{
    (void)ctx;
    log_msg(lvl, "failover", "%s", msg);
}

static u64 op_now(void *ctx)
{
    (void)ctx;
    return now_ns();
}

void failover_init(void)
{
    const struct isthmus_config *c = &machine.cfg;
    const struct hb_ops ops = { NULL, op_stop, op_start, op_announce, op_log, op_now };
    if (hb_init(&hb, c->group, c->ngroups, npartitions, &ops) < 0) {
        /* The parser checked the groups; this is a bug, and nothing is watched. */
        log_err("failover", "the failover groups are inconsistent: heartbeats are not watched");
        memset(&hb, 0, sizeof(hb));
        return;
    }
    for (u32 i = 0; i < npartitions; i++)
        hb_set_name(&hb, i, partitions[i].cfg->name);
    if (part_observe(&failover_observer) < 0)
        log_err("failover", "another observer of the partitions is registered: heartbeats are not watched");
    for (u32 i = 0; i < hb.ngroups; i++) {
        const struct config_failover *g = hb.group[i].cfg;
        static const char *const modes[] = { "auto", "hot", "cold" };
        log_info("failover", "%s: primary %s, standby %s, mode %s, beats every %u ms, failed after %u missed", g->name,
                 partitions[g->primary].cfg->name,
                 g->standby >= 0        ? partitions[g->standby].cfg->name
                 : g->standby_kernel[0] ? g->standby_kernel
                                        : "(restart)",
                 modes[g->mode % 3], g->interval_ms, g->misses);
    }
}

void failover_tick(void)
{
    if (!hb.ngroups)
        return;
    in_master = true;
    hb_tick(&hb, now_ns());
    in_master = false;
}

int failover_switchover(u32 group, char *err, size_t errlen)
{
    in_master = true;
    int rc = hb_switchover(&hb, group, now_ns(), err, errlen);
    in_master = false;
    return rc;
}

static void failover_starting(struct partition *p)
{
    if (!in_master && p->id < hb.nparts)
        hb_started(&hb, p->id, now_ns());
}

static void failover_stopped(struct partition *p)
{
    if (!in_master && p->id < hb.nparts)
        hb_stopped(&hb, p->id, now_ns());
}

/* A member that powers off or resets itself fails over like one that crashes:
 * the group's configuration, not the guest, decides what runs next. */
static void failover_down(struct partition *p, enum part_down how)
{
    static const enum hb_down as_hb[] = {
        [PART_DOWN_CRASH] = HB_DOWN_CRASH,
        [PART_DOWN_SHUTDOWN] = HB_DOWN_SHUTDOWN,
        [PART_DOWN_RESET] = HB_DOWN_RESET,
    };
    if (p->id < hb.nparts && (u32)how < ARRAY_SIZE(as_hb))
        hb_down(&hb, p->id, as_hb[how], now_ns());
}

static u32 beat(void *ctx, u32 claimed)
{
    struct partition *p = ctx;
    return hb_beat(&hb, p->id, claimed, now_ns());
}

static void failover_hc_env(struct partition *p, struct hc_env *env, struct isthmus_hb_info *buf)
{
    const struct config_failover *g = failover_group_of(p);
    if (!g)
        return;
    memset(buf, 0, sizeof(*buf));
    buf->interval_ms = g->interval_ms;
    buf->misses = g->misses;
    buf->grace_ms = g->grace_ms;
    buf->role = __atomic_load_n(&hb.part[p->id].role, __ATOMIC_ACQUIRE);
    buf->has_mac = vnic_port(p) != NULL;
    if (buf->has_mac)
        memcpy(buf->service_mac, g->mac, 6);
    if (g->ip_set)
        memcpy(buf->service_ip, g->ip, 4);
    kstrlcpy(buf->group, g->name, sizeof(buf->group));
    env->hb_info = buf;
    env->hb_beat = beat;
}

static bool failover_keeps(const struct partition *p) { return failover_group_of(p) != NULL; }

/* How the master learns of the partitions' lifecycle and answers their
 * heartbeat hypercalls. */
static const struct part_observer failover_observer = {
    .starting = failover_starting,
    .stopped = failover_stopped,
    .down = failover_down,
    .keeps = failover_keeps,
    .hc_env = failover_hc_env,
};
