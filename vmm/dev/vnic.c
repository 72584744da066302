/* See vnic.h. */
#include "vmm/dev/vnic.h"
#include "vmm/exits.h"
#include "vmm/insn_decode.h"
#include "net/vnet.h"
#include "arch/x86/hw/cpu.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/core/log.h"
#include "drivers/machine.h"
#include "kernel/core/percpu.h"
#include "kernel/lib/string.h"
#include "kernel/core/time.h"

#define MSI_ADDR_MASK 0xfff00000u
#define MSI_DM_LOGICAL BIT(2)
#define MSI_DELIVERY_FIXED 0
#define MSI_DELIVERY_LOWEST 1

u64 vnic_now_ns(void)
{
    u64 t = rdtsc(), k = tsc_khz ? tsc_khz : 1;
    return t / k * 1000000 + t % k * 1000000 / k;
}

static u64 ns_to_tsc(u64 ns)
{
    return ns / 1000000 * tsc_khz + ns % 1000000 * tsc_khz / 1000000;
}

/* An MSI-X message from the NIC: a fixed or lowest-priority interrupt to
 * vCPUs of this partition only. */
static bool nic_msi(void *ctx, u64 addr, u32 data)
{
    struct partition *p = ctx;
    u8 vec = (u8)data;
    u32 mode = (data >> 8) & 7;
    if ((addr & ~0xfffffULL) != MSI_ADDR_BASE || vec < 16 ||
        (mode != MSI_DELIVERY_FIXED && mode != MSI_DELIVERY_LOWEST))
        return false;
    u32 dest = (u32)(addr >> 12) & 0xff;
    bool logical = addr & MSI_DM_LOGICAL, hit = false;
    spin_lock(&p->nic_irq_lock);
    for (u32 i = 0; p->nic_irq_ok && i < p->nvcpus; i++) {
        struct vm_vcpu *to = p->vcpu[i];
        if (!to || !vcpu_accepts(to, dest, logical))
            continue;
        vcpu_post_irq(to, vec);
        to->stats.msis++;
        hit = true;
        if (mode == MSI_DELIVERY_LOWEST)
            break;
    }
    spin_unlock(&p->nic_irq_lock);
    return hit;
}

/* Held frames are retried on the first vCPU: its thread arms its timer for
 * the earliest retry asked for, and is kicked when that is earlier than what
 * it armed. */
static void nic_retry_at(void *ctx, u64 when_ns)
{
    struct partition *p = ctx;
    u64 when = ns_to_tsc(when_ns) | 1, cur = __atomic_load_n(&p->nic_retry, __ATOMIC_ACQUIRE);
    do {
        if (cur && cur <= when)
            return;
    } while (!__atomic_compare_exchange_n(&p->nic_retry, &cur, when, false, __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE));
    struct vm_vcpu *home = p->vcpu[0];
    if (home && p->nic_irq_ok && home->cpu != this_cpu())
        vcpu_kick(home);
}

static u64 env_now(void) { return vnic_now_ns(); }

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

void vnic_init_all(void)
{
    net_init((u64)machine.cfg.mac_age * 1000000000ULL, machine.cfg.net_capacity, vnic_now_ns());
    for (u32 i = 0; i < npartitions; i++) {
        struct partition *p = &partitions[i];
        const struct config_nic *c = &p->cfg->nic;
        if (!c->enabled)
            continue;
        struct vnet_cfg vc = { .rate = { c->cir, c->cbs, c->pir, c->pbs, c->wc } };
        memcpy(vc.mac, c->mac, ETH_ALEN);
        vc.vlan.mode = c->vlan_mode ? VSW_TRUNK : VSW_ACCESS;
        vc.vlan.vid = c->vlan > 0 ? (u16)c->vlan : 0;
        for (u32 t = 0; t < c->ntrunk; t++)
            vsw_allow(&vc.vlan, c->trunk[t]);
        struct vnet_env env = { env_now, nic_msi, nic_retry_at, p };
        int rc = net_attach(&p->nic, p->cfg->name, &vc, &env);
        if (rc < 0) {
            log_err("net", "%s: no NIC: %s", p->cfg->name,
                    rc == -ENOSPC ? "the switch has no free port" : "its VLAN or rate settings were refused");
            continue;
        }
        p->has_nic = true;
        p->emu.cfg_read = emu_cfg_read;
        p->emu.cfg_write = emu_cfg_write;
        p->emu.set_command = emu_set_command;
        p->emu.bar_access = emu_bar;
        p->emu.ctx = &p->nic;
        log_info("net", "%s: NIC %02x:%02x:%02x:%02x:%02x:%02x on port %u, %s VLAN %u", p->cfg->name,
                 c->mac[0], c->mac[1], c->mac[2], c->mac[3], c->mac[4], c->mac[5], p->nic.port,
                 c->vlan_mode ? "trunk, native" : "access", vc.vlan.vid);
    }
}

int vnic_add_to_bus(struct partition *p, u64 *next32, char *err, size_t errlen)
{
    if (!p->has_nic)
        return 0;
    const u64 bars[PCI_NUM_BARS] = { VNET_BAR_SIZE };
    char why[120];
    int rc = vpci_add_emu(&p->vpci, &p->emu, bars, next32, LAYOUT_MMIO32_END, why, sizeof(why));
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "NIC: %s", why);
    return 0;
}

void vnic_connect(struct partition *p)
{
    if (!p->has_nic)
        return;
    p->nic_retry = 0;
    net_connect(&p->nic, &p->gmem);
    spin_lock(&p->nic_irq_lock);
    p->nic_irq_ok = true;
    spin_unlock(&p->nic_irq_lock);
}

void vnic_disconnect(struct partition *p)
{
    if (!p->has_nic)
        return;
    net_disconnect(&p->nic);
    /* No interrupt is being sent to its vCPUs once this returns. */
    spin_lock(&p->nic_irq_lock);
    p->nic_irq_ok = false;
    spin_unlock(&p->nic_irq_lock);
}

bool vnic_mmio(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    struct partition *p = vc->part;
    if (!p->has_nic || !p->vpci_ready)
        return false;
    /* Is it in a decoding BAR of an emulated function? Probe with no access. */
    u64 g = e->fault.gpa.v;
    bool hit = false;
    spin_lock(&p->pci_lock);
    for (u32 n = 0; n < p->vpci.ndev && !hit; n++) {
        const struct vpci_dev *d = &p->vpci.dev[n];
        for (u32 i = 0; d->emu && i < PCI_NUM_BARS; i++)
            hit |= d->bar[i].mapped && g >= d->bar[i].mapped_at && g < d->bar[i].mapped_at + d->bar[i].size;
    }
    spin_unlock(&p->pci_lock);
    if (!hit)
        return false;
    struct insn in;
    if (mmio_decode(vc, "the NIC's registers", &in) < 0)
        return true;
    u64 *regs = vc->v.regs.gpr;
    u64 val = in.dir == INSN_READ ? 0 : insn_store_value(&in, regs[in.reg]);
    spin_lock(&p->pci_lock);
    bool ok = vpci_mmio(&p->vpci, g, in.access_size, in.dir != INSN_READ, &val);
    spin_unlock(&p->pci_lock);
    if (!ok) {
        part_fail(vc, "%u-byte access at %#llx straddles the end of the NIC's BAR", in.access_size,
                  (unsigned long long)g);
        return true;
    }
    if (in.dir == INSN_READ)
        regs[in.reg] = insn_apply_read(&in, regs[in.reg], val);
    vc->stats.nic_mmio++;
    vcpu_backend->advance_rip(&vc->v, in.len);
    return true;
}

u64 vnic_deadline(struct vm_vcpu *vc)
{
    struct partition *p = vc->part;
    return p->has_nic && vc->v.index == 0 ? __atomic_load_n(&p->nic_retry, __ATOMIC_ACQUIRE) : 0;
}

void vnic_poll(struct vm_vcpu *vc)
{
    struct partition *p = vc->part;
    u64 r = vnic_deadline(vc);
    if (!r || rdtsc() < r)
        return;
    if (__atomic_compare_exchange_n(&p->nic_retry, &r, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        vnet_tx(&p->nic);
}
