/* The heartbeat port: the failover protocol of docs/failover.md for agents in
 * user space. A stock Linux kernel has no driver for Isthmus's hypercalls and
 * its user space may not issue them (they need CPL 0), but a root process
 * may be given I/O ports (ioperm), so an agent shipped as a plain static
 * program beats through these registers instead; the guest kernel's own
 * privilege rules decide who may. It is the same beat as HC_HB_BEAT's.
 *
 *   HBPORT_BEAT (dword)      write: a beat, claiming the role written
 *                            (enum isthmus_hb_role); read: the role the last
 *                            beat of this vCPU was told to take (before any
 *                            beat: the partition's role now).
 *   HBPORT_INTERVAL (dword)  read: the group's interval_ms, 0 outside a group.
 *
 * Other accesses in the range read all-ones and write nothing; they and
 * invalid roles are counted (`parts -v`). Outside a failover group a beat
 * answers HB_ROLE_NONE, as the hypercall does. */
#include "vmm/partition.h"
#include "vmm/vdev.h"
#include "vmm/layout.h"
#include "vmm/hypercall.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

#define HBPORT_BEAT     (LAYOUT_HB_PORT + 0)
#define HBPORT_INTERVAL (LAYOUT_HB_PORT + 4)
#define HBPORT_SIZE     4 /* every register is a dword */

struct hbport {
    u32 answer[CONFIG_MAX_PART_CPUS]; /* per vCPU: what its last beat was told */
    bool beaten[CONFIG_MAX_PART_CPUS];
    u64 beats, bad;
};

static struct hbport ports[CONFIG_MAX_PARTITIONS];

static enum vdev_result hb_pio(struct vm_vcpu *vc, void *dev, u16 port, u8 size, bool in, u32 *val)
{
    struct hbport *h = dev;
    struct partition *p = vc->part;
    u32 cpu = vc->v.index < CONFIG_MAX_PART_CPUS ? vc->v.index : 0;
    if (size != HBPORT_SIZE || (port != HBPORT_BEAT && port != HBPORT_INTERVAL) || (!in && port == HBPORT_INTERVAL)) {
        __atomic_fetch_add(&h->bad, 1, __ATOMIC_RELAXED);
        if (in)
            *val = 0xffffffffu;
        return VDEV_DONE;
    }
    struct hc_env env = { 0 };
    struct isthmus_hb_info info;
    part_hc_env(p, &env, &info);
    if (in) {
        if (port == HBPORT_INTERVAL)
            *val = env.hb_info ? env.hb_info->interval_ms : 0;
        else
            *val = h->beaten[cpu] ? h->answer[cpu] : env.hb_info ? env.hb_info->role : HB_ROLE_NONE;
        return VDEV_DONE;
    }
    if (*val > HB_ROLE_STANDBY) {
        __atomic_fetch_add(&h->bad, 1, __ATOMIC_RELAXED);
        return VDEV_DONE; /* as the hypercall: an invalid claim is not a beat */
    }
    h->answer[cpu] = env.hb_beat ? env.hb_beat(p, *val) : HB_ROLE_NONE;
    h->beaten[cpu] = true;
    __atomic_fetch_add(&h->beats, 1, __ATOMIC_RELAXED);
    return VDEV_DONE;
}

static int hbport_attach(struct partition *p, char *err, size_t errlen)
{
    struct hbport *h = &ports[p->id];
    memset(h, 0, sizeof(*h));
    int rc = vdev_claim_pio(p, LAYOUT_HB_PORT, LAYOUT_HB_PORT_COUNT, hb_pio, h, "heartbeat port");
    return rc < 0 ? kerr_fmt(err, errlen, rc, "cannot claim the heartbeat port") : 0;
}

static size_t hbport_show(const struct partition *p, char *buf, size_t len)
{
    const struct hbport *h = &ports[p->id];
    if (!h->beats && !h->bad)
        return 0;
    int n = ksnprintf(buf, len, "  heartbeat port: %llu beats, %llu bad accesses\n", (unsigned long long)h->beats,
                      (unsigned long long)h->bad);
    return n < 0 ? 0 : MIN((size_t)n, len);
}

VDEV_REGISTER(hbport, .name = "heartbeat port", .order = 0, .attach = hbport_attach, .show = hbport_show);
