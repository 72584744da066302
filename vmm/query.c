/* See query.h. The one place that reads struct partition for management;
 * everything leaves here as a copy. The NIC and PCI bus types come with
 * vmm/partition.h (part_devices_text reads them until the device registry's
 * own `show` hooks take over). */
#include "vmm/query.h"
#include "vmm/partition.h"
#include "vmm/shadow_vcpu.h"
#include "drivers/pci.h"
#include "kernel/core/percpu.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

_Static_assert((int)PART_INFO_STOPPED == (int)PART_STOPPED && (int)PART_INFO_RUNNING == (int)PART_RUNNING &&
                   (int)PART_INFO_STOPPING == (int)PART_STOPPING && (int)PART_INFO_FAILED == (int)PART_FAILED &&
                   (int)PART_INFO_REFUSED == (int)PART_REFUSED,
               "enum part_info_state mirrors enum part_state");
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
            s->double_faults += p->vcpu[i]->stats.double_faults;
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
    s->floods = st->floods;
    s->budget_evictions = st->budget_evictions;
    s->subtree_evictions = st->subtree_evictions;
    s->syncs = st->syncs;
    s->protects = st->protects;
    s->rmap = st->rmap;
    s->tables_peak = st->tables_peak;
    s->max_tables = p->shadow->max_tables;
    s->memory = shadow_memory_bytes(p->shadow);
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
    out->resets = p->resets;
    out->exits = part_exits(p);
    out->slpt_name = vcpu_backend->slpt_name;
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

int part_shadow_entry(u32 id, u32 vcpu, u64 va, u64 *entry)
{
    struct partition *p = by_id(id);
    if (!p)
        return -ENOENT;
    if (!p->slpt_ready)
        return -ENOTSUP;
    return shadow_part_entry(p, vcpu, va, entry);
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

/* The highest vector set in a local APIC's 256-bit register, or -1. */
static int top_vector(const u32 set[8])
{
    for (int w = 7; w >= 0; w--) {
        u32 v = __atomic_load_n(&set[w], __ATOMIC_RELAXED);
        if (v)
            return w * 32 + 31 - __builtin_clz(v);
    }
    return -1;
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
    out->apic_eois = vc->lapic.stats.eois;
    out->apic_timer_fired = vc->lapic.stats.timer_fired;
    out->apic_tsc_deadline_writes = vc->lapic.stats.tsc_deadline_writes;
    out->apic_pv_eois = vc->pv_eoi.eois;
    out->apic_x2apic = vc->lapic.x2apic;
    out->apic_x2apic_gp = vc->lapic.stats.x2apic_gp;
    out->last_exit = vc->last_exit;
    out->rip = vc->v.regs.rip;
    out->rflags = vc->v.regs.rflags;
    out->irr_top = top_vector(vc->lapic.irr);
    out->isr_top = top_vector(vc->lapic.isr);
    out->tpr = vc->lapic.tpr;
    return 0;
}

/* Text appended to a buffer with ksnprintf's contract: n counts what the whole
 * text needs, the buffer keeps what fits. */
/* What the partition's devices show of themselves: their `show` hooks
 * (vmm/vdev.h), in attach order. */
size_t part_devices_text(u32 id, char *buf, size_t len)
{
    if (len)
        buf[0] = '\0';
    const struct partition *p = by_id(id);
    return p ? vdev_show_all(p, buf, len) : 0;
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

int part_console_write(u32 id, const void *buf, size_t len)
{
    struct partition *p = by_id(id);
    if (!p)
        return -ENOENT;
    if (p->state != PART_RUNNING)
        return -ENODEV;
    return vdev_console_input(p, buf, (u32)MIN(len, (size_t)0x7fffffff));
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
