/* See query.h. The one place that reads struct partition for management;
 * everything leaves here as a copy. The NIC and PCI bus types come with
 * vmm/partition.h (part_devices_text reads them until the device registry's
 * own `show` hooks take over). */
#include "vmm/query.h"
#include "vmm/partition.h"
#include "drivers/pci.h"
#include "kernel/core/percpu.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

_Static_assert((int)PART_INFO_STOPPED == (int)PART_STOPPED && (int)PART_INFO_RUNNING == (int)PART_RUNNING &&
               (int)PART_INFO_STOPPING == (int)PART_STOPPING && (int)PART_INFO_FAILED == (int)PART_FAILED &&
               (int)PART_INFO_REFUSED == (int)PART_REFUSED, "enum part_info_state mirrors enum part_state");
_Static_assert(PART_INFO_MEM_BLOCKS >= GMEM_MAX_CHUNKS, "a snapshot holds every memory block");
_Static_assert(PART_INFO_REASON_MAX >= PART_REASON_MAX, "a snapshot holds the whole reason");
_Static_assert(PART_INFO_PLACEMENT_MAX >= sizeof(((struct partition *)0)->placement),
               "a snapshot holds the whole placement text");

static struct partition *by_id(u32 id) { return id < npartitions ? &partitions[id] : NULL; }

u32 part_count(void) { return npartitions; }

int part_lookup(const char *name)
{
    const struct partition *p = part_find(name);
    return p ? (int)p->id : -ENOENT;
}

const char *part_name(u32 id)
{
    const struct partition *p = by_id(id);
    return p ? p->cfg->name : NULL;
}

static void shadow_info(const struct partition *p, struct part_shadow_info *s)
{
    const struct shadow_stats *st = &p->shadow->st;
    s->nroots = p->shadow->nroots;
    for (u32 i = 0; i < p->nvcpus; i++)
        if (p->vcpu[i]) {
            s->cr3_loads += p->vcpu[i]->stats.cr3_loads;
            s->cr_accesses += p->vcpu[i]->stats.cr_accesses;
            s->pf_exits += p->vcpu[i]->stats.pf_exits;
        }
    s->faults = st->faults;
    s->fills = st->fills;
    s->guest_faults = st->guest_faults;
    s->mmio = st->mmio;
    s->pt_writes = st->pt_writes;
    s->unprotects = st->unprotects;
    s->root_hits = st->root_hits;
    s->root_misses = st->root_misses;
    s->root_evictions = st->root_evictions;
    s->invlpg = st->invlpg;
    s->flushes = st->flushes;
    s->tracked = st->tracked;
    s->tables = st->tables;
}

static void placement_info(const struct partition *p, struct part_info *out)
{
    out->nvcpus = MIN(p->nvcpus, (u32)CONFIG_MAX_PART_CPUS);
    for (u32 i = 0; i < out->nvcpus; i++) {
        out->cpus[i] = p->cpus[i];
        out->cpu_node[i] = p->cpus[i] < ncpus && cpu_list[p->cpus[i]] ? cpu_list[p->cpus[i]]->node : -1;
    }
    out->memory = p->memory;
    out->has_memory = p->gmem.n != 0;
    out->node = p->node;
    out->mem_node = p->mem_node;
    out->nmem = MIN(p->nmem_plan, (u32)PART_INFO_MEM_BLOCKS);
    for (u32 i = 0; i < out->nmem; i++) {
        out->mem[i].node = p->mem_plan[i].node;
        out->mem[i].bytes = p->mem_plan[i].bytes;
    }
    kstrlcpy(out->placement, p->placement, sizeof(out->placement));
    out->fallback = p->fallback;
    out->requested_node = p->cfg->node;
}

int part_snapshot(u32 id, struct part_info *out)
{
    const struct partition *p = by_id(id);
    if (!p)
        return -ENOENT;
    memset(out, 0, sizeof(*out));
    out->id = id;
    kstrlcpy(out->name, p->cfg->name, sizeof(out->name));
    out->state = p->state;
    out->state_name = part_state_name(out->state);
    kstrlcpy(out->reason, p->reason, sizeof(out->reason));
    placement_info(p, out);
    kstrlcpy(out->kernel, p->image.kernel ? p->image.kernel : "", sizeof(out->kernel));
    kstrlcpy(out->cmdline, p->image.cmdline ? p->image.cmdline : "", sizeof(out->cmdline));
    out->standby_image = p->image.kernel && p->image.kernel != p->cfg->kernel;
    out->starts = p->starts;
    out->exits = part_exits(p);
    out->slpt_name = vcpu_backend == &vmx_backend ? "EPT" : "NPT";
    if (!p->slpt_ready)
        out->paging = PART_PAGING_OFF;
    else if (!p->shadowed || !p->shadow)
        out->paging = PART_PAGING_NESTED;
    else
        out->paging = PART_PAGING_SHADOW;
    if (out->paging == PART_PAGING_SHADOW)
        shadow_info(p, &out->shadow);
    return 0;
}

static void vcpu_stats(const struct vm_vcpu_stats *s, struct part_vcpu_info *out)
{
    out->io_ignored = s->io_ignored;
    out->msr_gp = s->msr_gp;
    out->apic_accesses = s->apic_accesses;
    out->apic_bad = s->apic_bad;
    out->ipis_foreign = s->ipis_foreign;
    out->irqs_injected = s->irqs_injected;
    out->hypercalls = s->hypercalls;
    out->hypercall_errors = s->hypercall_errors;
    out->msis = s->msis;
    out->pci_io = s->pci_io;
    out->nic_mmio = s->nic_mmio;
    out->cr3_loads = s->cr3_loads;
    out->cr_accesses = s->cr_accesses;
    out->pf_exits = s->pf_exits;
}

int part_vcpu_snapshot(u32 id, u32 vcpu, struct part_vcpu_info *out)
{
    const struct partition *p = by_id(id);
    if (!p || vcpu >= p->nvcpus)
        return -ENOENT;
    const struct vm_vcpu *vc = p->vcpu[vcpu];
    if (!vc)
        return -ENODEV;
    memset(out, 0, sizeof(*out));
    out->index = vcpu;
    out->cpu = p->cpus[vcpu];
    out->run_state_name = vcpu_run_state_name(vc->run_state);
    out->exits = vc->v.stats.exits;
    for (u32 r = 0; r < VEXIT_COUNT; r++)
        out->by_reason[r] = vc->v.stats.by_reason[r];
    out->timer_deadline = vlapic_timer_deadline(&vc->lapic);
    out->starts = vc->starts;
    vcpu_stats(&vc->stats, out);
    return 0;
}

/* Text appended to a buffer with ksnprintf's contract: n counts what the whole
 * text needs, the buffer keeps what fits. */
struct text {
    char *buf;
    size_t len, n;
};

static void __printf(2, 3) put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t at = MIN(t->n, t->len ? t->len - 1 : 0);
    int k = kvsnprintf(t->buf + at, t->len - at, fmt, ap);
    va_end(ap);
    if (k > 0)
        t->n += (size_t)k;
}

static void bar_text(struct text *t, u32 b, const struct vpci_bar *bar)
{
    if (bar->kind == PCI_BAR_KIND_IO)
        put(t, "    BAR%u: I/O ports %#llx, %llu bytes\n", b, (unsigned long long)bar->host,
            (unsigned long long)bar->size);
    else if (bar->mapped)
        put(t, "    BAR%u: guest %#llx -> host %#llx, %llu KiB\n", b, (unsigned long long)bar->mapped_at,
            (unsigned long long)bar->host, (unsigned long long)(bar->size >> 10));
    else
        put(t, "    BAR%u: host %#llx, %llu KiB, not mapped (decoding off)\n", b, (unsigned long long)bar->host,
            (unsigned long long)(bar->size >> 10));
}

/* An assigned device: where it sits on the partition's bus, its BARs as the
 * guest placed them, its MSI route. */
static void device_text(struct text *t, const struct partition *p, u32 i)
{
    const struct pci_dev *d = p->devs[i];
    put(t, "  device %04x:%02x:%02x.%u (%04x:%04x, node %d) as 00:%02x.0", d->seg, d->bus, d->dev, d->fn,
        d->vendor, d->device, d->node, i + 1);
    if (!p->vpci_ready) {
        put(t, " (not running)\n");
        return;
    }
    const struct vpci_dev *v = &p->vpci.dev[i];
    put(t, ", command %#x\n", v->cmd);
    for (u32 b = 0; b < PCI_NUM_BARS; b++)
        if (v->bar[b].kind != PCI_BAR_NONE)
            bar_text(t, b, &v->bar[b]);
    const __typeof__(p->msi[0]) *m = &p->msi[i + 1];
    if (v->msi_live && m->used)
        put(t, "    MSI: guest vector %#x -> CPU %u vector %#x\n", v->msi_data & 0xff, m->cpu, m->hvec);
    else
        put(t, "    MSI: %s\n", v->msi ? "off" : "none");
}

/* The partition's NIC: its switch port, and where it sits on the bus. */
static void nic_text(struct text *t, const struct partition *p)
{
    const struct vnet *n = &p->nic;
    put(t, "  nic: port %u, mac %02x:%02x:%02x:%02x:%02x:%02x", n->port, n->cfg.mac[0], n->cfg.mac[1],
        n->cfg.mac[2], n->cfg.mac[3], n->cfg.mac[4], n->cfg.mac[5]);
    if (p->vpci_ready && p->ndevs < p->vpci.ndev) {
        const struct vpci_bar *b = &p->vpci.dev[p->ndevs].bar[0];
        put(t, ", virtio-net as 00:%02x.0, BAR0 %s %#llx (trapped)", p->ndevs + 1,
            b->mapped ? "at" : "off, register", (unsigned long long)(b->mapped ? b->mapped_at : b->reg));
    }
    put(t, ", link %s (see `net`)\n", vnet_link_up(n) ? "up" : "down");
}

/* To be replaced by the `show` hooks of the device registry: one
 * self-contained function until then. */
size_t part_devices_text(u32 id, char *buf, size_t len)
{
    struct text t = { buf, len, 0 };
    if (len)
        buf[0] = '\0';
    const struct partition *p = by_id(id);
    if (!p)
        return 0;
    for (u32 i = 0; i < p->ndevs; i++)
        device_text(&t, p, i);
    if (p->has_nic)
        nic_text(&t, p);
    if (p->ndevs && p->vpci_ready) {
        const struct vpci_stats *st = &p->vpci.stats;
        put(&t, "  pci bus: %llu config reads, %llu writes (%llu dropped), %llu BAR placements refused, "
            "%llu MSI routes (%llu refused)\n", (unsigned long long)st->cfg_reads,
            (unsigned long long)st->cfg_writes, (unsigned long long)st->writes_dropped,
            (unsigned long long)st->bar_refused, (unsigned long long)st->msi_routed,
            (unsigned long long)st->msi_refused);
    }
    return t.n;
}

u64 part_console_oldest(u32 id)
{
    const struct partition *p = by_id(id);
    if (!p)
        return 0;
    u64 written = __atomic_load_n(&p->console.written, __ATOMIC_ACQUIRE);
    return written > CONSOLE_RING_SIZE ? written - CONSOLE_RING_SIZE : 0;
}

size_t part_console_read(u32 id, u64 *cursor, void *buf, size_t len, u64 *lost)
{
    const struct partition *p = by_id(id);
    *lost = 0;
    return p ? console_ring_read(&p->console, cursor, buf, len, lost) : 0;
}

int part_start_id(u32 id, char *err, size_t errlen)
{
    struct partition *p = by_id(id);
    if (!p)
        return kerr_fmt(err, errlen, -ENOENT, "no partition %u", id);
    return part_start(p, err, errlen);
}

int part_stop_id(u32 id, char *err, size_t errlen)
{
    struct partition *p = by_id(id);
    if (!p)
        return kerr_fmt(err, errlen, -ENOENT, "no partition %u", id);
    return part_stop(p, err, errlen);
}

int part_restart_id(u32 id, char *err, size_t errlen)
{
    int rc = part_stop_id(id, err, errlen);
    return rc < 0 ? rc : part_start_id(id, err, errlen);
}
