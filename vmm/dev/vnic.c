/* The partition's NIC as a device (net/vnet.h is the virtio-net device and
 * its switch port): a port on the switch for good, from boot; on each start a
 * virtio-net function on the partition's PCI bus whose BAR is trapped, MSI-X
 * messages delivered to the partition's own vCPUs, and held frames retried on
 * its first vCPU, whose host timer is armed for the next retry. */
#include "vmm/dev/vnic.h"
#include "vmm/dev/pcibus.h"
#include "vmm/vdev.h"
#include "vmm/exits.h"
#include "vmm/insn_decode.h"
#include "net/vnet.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/msi.h"
#include "arch/x86/hw/vectors.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/core/log.h"
#include "drivers/machine.h"
#include "kernel/core/percpu.h"
#include "kernel/lib/string.h"
#include "kernel/core/time.h"

u64 vnic_now_ns(void)
{
    u64 t = rdtsc(), k = tsc_khz ? tsc_khz : 1;
    return t / k * 1000000 + t % k * 1000000 / k;
}

static u64 ns_to_tsc(u64 ns) { return ns / 1000000 * tsc_khz + ns % 1000000 * tsc_khz / 1000000; }

struct nic {
    bool has; /* configured and given a port at boot */
    struct vnet vnet;
    struct vpci_emu emu;
    spinlock_t irq_lock; /* irq_ok against interrupts from other CPUs */
    bool irq_ok;         /* its vCPUs exist: the NIC may interrupt them */
    volatile u64 retry;  /* TSC when held frames are due for a retry; 0 = none */
};

static struct nic nics[CONFIG_MAX_PARTITIONS];

static struct nic *nic_of(const struct partition *p) { return &nics[p->id]; }

struct vnet *vnic_port(const struct partition *p) { return nic_of(p)->has ? &nic_of(p)->vnet : NULL; }

/* An MSI-X message from the NIC: a fixed or lowest-priority interrupt to
 * vCPUs of this partition only. */
static bool nic_msi(void *ctx, u64 addr, u32 data)
{
    struct partition *p = ctx;
    u8 vec = (u8)(data & MSI_DATA_VECTOR_MASK);
    u32 mode = (data >> MSI_DATA_DELIVERY_SHIFT) & MSI_DATA_DELIVERY_MASK;
    if ((addr >> MSI_ADDR_BASE_SHIFT) != (MSI_ADDR_BASE >> MSI_ADDR_BASE_SHIFT) || vec < APIC_MIN_VECTOR ||
        (mode != MSI_DELIVERY_FIXED && mode != MSI_DELIVERY_LOWEST))
        return false;
    u32 dest = (u32)(addr >> MSI_ADDR_DEST_SHIFT) & MSI_ADDR_DEST_MASK;
    bool logical = addr & MSI_ADDR_DM_LOGICAL, hit = false;
    struct nic *n = nic_of(p);
    spin_lock(&n->irq_lock);
    for (u32 i = 0; n->irq_ok && i < p->nvcpus; i++) {
        struct vm_vcpu *to = p->vcpu[i];
        if (!to || !vcpu_accepts(to, dest, logical))
            continue;
        vcpu_post_irq(to, vec);
        to->stats.msis++;
        hit = true;
        if (mode == MSI_DELIVERY_LOWEST)
            break;
    }
    spin_unlock(&n->irq_lock);
    return hit;
}

/* Held frames are retried on the first vCPU: its thread arms its timer for
 * the earliest retry asked for, and is kicked when that is earlier than what
 * it armed. */
static void nic_retry_at(void *ctx, u64 when_ns)
{
    struct partition *p = ctx;
    struct nic *n = nic_of(p);
    u64 when = ns_to_tsc(when_ns) | 1, cur = __atomic_load_n(&n->retry, __ATOMIC_ACQUIRE);
    do {
        if (cur && cur <= when)
            return;
    } while (!__atomic_compare_exchange_n(&n->retry, &cur, when, false, __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE));
    struct vm_vcpu *home = p->vcpu[0];
    if (home && n->irq_ok && home->cpu != this_cpu())
        vcpu_kick(home);
}

static u64 env_now(void) { return vnic_now_ns(); }
static u64 env_ran(void *ctx) { return part_ran_ns(ctx); }
static void env_watch(void *ctx) { part_watch_ran(ctx); }

/* ---- the emulated PCI function ---- */

static u32 emu_cfg_read(void *ctx, u16 off) { return vnet_cfg_read(ctx, off); }
static void emu_cfg_write(void *ctx, u16 off, u32 bmask, u32 val) { vnet_cfg_write(ctx, off, bmask, val); }
static void emu_set_command(void *ctx, u16 cmd) { vnet_set_command(ctx, cmd); }
static void emu_bar(void *ctx, u32 bar, u64 off, u8 size, bool write, u64 *val)
{
    if (bar != 0) {
        *val = 0;
        return;
    }
    vnet_bar_access(ctx, (u32)off, size, write, val);
}

static void vnic_boot(void)
{
    net_init((u64)machine.cfg.mac_age * 1000000000ULL, machine.cfg.net_capacity, (u16)machine.cfg.net_mtu,
             vnic_now_ns());
}

/* At boot, for every partition: a switch port when it has nic = true. */
static void vnic_setup(struct partition *p)
{
    const struct config_nic *c = &p->cfg->nic;
    struct nic *n = nic_of(p);
    if (!c->enabled)
        return;
    struct vnet_cfg vc = { .mtu = (u16)c->mtu, .rate = { c->cir, c->cbs, c->pir, c->pbs, c->wc } };
    memcpy(vc.mac, c->mac, ETH_ALEN);
    vc.vlan.mode = c->vlan_mode ? VSW_TRUNK : VSW_ACCESS;
    vc.vlan.vid = c->vlan > 0 ? (u16)c->vlan : 0;
    for (u32 t = 0; t < c->ntrunk; t++)
        vsw_allow(&vc.vlan, c->trunk[t]);
    struct vnet_env env = { env_now, nic_msi, nic_retry_at, p, env_ran, env_watch };
    int rc = net_attach(&n->vnet, p->cfg->name, p->id, &vc, &env);
    if (rc < 0) {
        log_err("net", "%s: no NIC: %s", p->cfg->name,
                rc == -ENOSPC ? "the switch has no free port" : "its VLAN, MTU or rate settings were refused");
        return;
    }
    n->has = true;
    n->emu.cfg_read = emu_cfg_read;
    n->emu.cfg_write = emu_cfg_write;
    n->emu.set_command = emu_set_command;
    n->emu.bar_access = emu_bar;
    n->emu.ctx = &n->vnet;
    log_info("net", "%s: NIC %02x:%02x:%02x:%02x:%02x:%02x on port %u, %s VLAN %u, MTU %u", p->cfg->name, c->mac[0],
             c->mac[1], c->mac[2], c->mac[3], c->mac[4], c->mac[5], n->vnet.port,
             c->vlan_mode ? "trunk, native" : "access", vc.vlan.vid, n->vnet.cfg.mtu);
}

/* On the partition's bus, after its assigned devices. */
static int vnic_attach(struct partition *p, char *err, size_t errlen)
{
    if (!nic_of(p)->has)
        return 0;
    const u64 bars[PCI_NUM_BARS] = { VNET_BAR_SIZE };
    return pcibus_add_emu(p, &nic_of(p)->emu, bars, "NIC", err, errlen);
}

/* The vCPUs are about to run: the port goes up with a reset device. */
static void vnic_start(struct partition *p)
{
    struct nic *n = nic_of(p);
    if (!n->has)
        return;
    n->retry = 0;
    net_connect(&n->vnet, &p->gmem);
    spin_lock(&n->irq_lock);
    n->irq_ok = true;
    spin_unlock(&n->irq_lock);
}

/* Failed, stopping or losing its memory: the port is reset and cut off. */
static void vnic_stop(struct partition *p)
{
    struct nic *n = nic_of(p);
    if (!n->has)
        return;
    net_disconnect(&n->vnet);
    /* No interrupt is being sent to its vCPUs once this returns. */
    spin_lock(&n->irq_lock);
    n->irq_ok = false;
    spin_unlock(&n->irq_lock);
}

/* On the first vCPU: the TSC deadline of the next retry (0 = none), and the
 * retry itself when due. */
static u64 vnic_deadline(struct vm_vcpu *vc)
{
    struct nic *n = nic_of(vc->part);
    return n->has && vc->v.index == 0 ? __atomic_load_n(&n->retry, __ATOMIC_ACQUIRE) : 0;
}

static void vnic_poll(struct vm_vcpu *vc)
{
    struct nic *n = nic_of(vc->part);
    u64 r = vnic_deadline(vc);
    if (!r || rdtsc() < r)
        return;
    if (__atomic_compare_exchange_n(&n->retry, &r, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        vnet_tx(&n->vnet);
}

static size_t vnic_show(const struct partition *p, char *buf, size_t len)
{
    const struct nic *nc = nic_of(p);
    if (!nc->has || !len)
        return 0;
    const struct vnet *n = &nc->vnet;
    size_t k = (size_t)ksnprintf(buf, len, "  nic: port %u, mac %02x:%02x:%02x:%02x:%02x:%02x", n->port, n->cfg.mac[0],
                                 n->cfg.mac[1], n->cfg.mac[2], n->cfg.mac[3], n->cfg.mac[4], n->cfg.mac[5]);
    u64 at;
    u32 reg;
    u32 slot = p->ndevs + 1;
    int on = pcibus_bar_at(p, slot, 0, &at, &reg);
    if (k < len && on >= 0) {
        k += (size_t)ksnprintf(buf + k, len - k, ", virtio-net as 00:%02x.0, BAR0 %s %#llx (trapped)", slot,
                               on ? "at" : "off, register", (unsigned long long)(on ? at : reg));
    }
    if (k < len)
        k += (size_t)ksnprintf(buf + k, len - k, ", link %s (see `net`)\n", vnet_link_up(n) ? "up" : "down");
    return MIN(k, len - 1);
}

VDEV_REGISTER(vnic, .name = "nic", .order = PCIBUS_ORDER + 1, .boot = vnic_boot, .setup = vnic_setup,
              .attach = vnic_attach, .start = vnic_start, .quiesce = vnic_stop, .detach = vnic_stop,
              .deadline = vnic_deadline, .poll = vnic_poll, .show = vnic_show);
