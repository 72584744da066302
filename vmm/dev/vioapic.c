/* The partition's I/O APIC (vmm/dev/vioapic_model.c is the 82093AA model):
 * its register page at IOAPIC_DEFAULT_BASE, and delivery of its messages to
 * the partition's own vCPUs. See vioapic.h for who calls it from where. */
#include "vmm/dev/vioapic.h"
#include "vmm/dev/vioapic_model.h"
#include "vmm/exits.h"
#include "vmm/vdev.h"
#include "vmm/guest_acpi.h"
#include "arch/x86/hw/ioapic.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"

struct vioapic {
    spinlock_t lock;
    struct vioapic_model m;
    struct partition *p;
    bool attached;   /* it has state of this (or the last failed) run */
    bool live;       /* its vCPUs run: messages may be delivered */
    u32 next_lowest; /* where the next lowest-priority message starts looking */
    u64 nmis;        /* NMI messages: not delivered to guests yet */
};

static struct vioapic ioapics[CONFIG_MAX_PARTITIONS];

static struct vioapic *of(const struct partition *p) { return &ioapics[p->id]; }

/* Under io->lock. Fixed messages go to every vCPU the destination names,
 * lowest-priority ones to one of them (in turn: all have the same priority
 * class as far as the model knows), always through the vCPUs' inboxes. */
static bool deliver(void *ctx, const struct vioapic_msg *msg)
{
    struct vioapic *io = ctx;
    struct partition *p = io->p;
    if (!io->live || !p->nvcpus)
        return false;
    if (msg->mode == IOAPIC_DELMOD_NMI) {
        io->nmis++;
        return false;
    }
    bool lowest = msg->mode == IOAPIC_DELMOD_LOWEST;
    u32 hits = 0, first = lowest ? io->next_lowest % p->nvcpus : 0;
    for (u32 k = 0; k < p->nvcpus; k++) {
        u32 i = (first + k) % p->nvcpus;
        struct vm_vcpu *to = p->vcpu[i];
        if (!to || !vcpu_accepts(to, msg->dest, msg->logical))
            continue;
        if (msg->level)
            vcpu_post_irq_level(to, msg->vector);
        else
            vcpu_post_irq(to, msg->vector);
        hits++;
        if (lowest) {
            io->next_lowest = i + 1;
            break;
        }
    }
    return hits > 0;
}

int vioapic_set_irq(struct partition *p, u32 pin, bool high)
{
    struct vioapic *io = of(p);
    spin_lock(&io->lock);
    int rc = vioapic_model_set_level(&io->m, pin, high);
    spin_unlock(&io->lock);
    return rc;
}

void vioapic_eoi(struct partition *p, u8 vector)
{
    struct vioapic *io = of(p);
    spin_lock(&io->lock);
    vioapic_model_eoi(&io->m, vector);
    spin_unlock(&io->lock);
}

static enum vdev_result ioapic_mmio(struct vm_vcpu *vc, void *dev, const struct vcpu_exit *e)
{
    struct vioapic *io = dev;
    struct insn in;
    if (mmio_decode(vc, "the I/O APIC", &in) < 0)
        return VDEV_DONE;
    u32 offset = (u32)(e->fault.gpa.v - IOAPIC_DEFAULT_BASE);
    u64 *regs = vc->v.regs.gpr;
    u32 val = in.dir == INSN_READ ? 0 : (u32)insn_store_value(&in, regs[in.reg]);
    spin_lock(&io->lock);
    int rc = in.dir == INSN_READ ? vioapic_model_read(&io->m, offset, in.access_size, &val)
                                 : vioapic_model_write(&io->m, offset, in.access_size, val);
    spin_unlock(&io->lock);
    /* A malformed access (not an aligned dword at IOREGSEL or IOWIN: the
     * part's behaviour is undefined) reads 0 and writes nothing; the model
     * counts it. A guest gains nothing from it, so it is not fatal. */
    if (in.dir == INSN_READ)
        regs[in.reg] = insn_apply_read(&in, regs[in.reg], rc < 0 ? 0 : val);
    vcpu_backend->advance_rip(&vc->v, in.len);
    return VDEV_DONE;
}

static int ioapic_attach(struct partition *p, char *err, size_t errlen)
{
    struct vioapic *io = of(p);
    spin_lock(&io->lock);
    io->p = p;
    io->attached = true;
    io->live = false;
    io->next_lowest = 0;
    io->nmis = 0;
    vioapic_model_init(&io->m, GUEST_ACPI_IOAPIC_ID, deliver, io); /* what the MADT says */
    spin_unlock(&io->lock);
    int rc = vdev_claim_mmio(p, gpa(IOAPIC_DEFAULT_BASE), IOAPIC_MMIO_SIZE, ioapic_mmio, io, "I/O APIC");
    return rc < 0 ? kerr_fmt(err, errlen, rc, "I/O APIC: cannot claim its page at %#x", IOAPIC_DEFAULT_BASE) : 0;
}

static void set_live(struct partition *p, bool live)
{
    struct vioapic *io = of(p);
    spin_lock(&io->lock);
    io->live = live;
    spin_unlock(&io->lock);
}

static void ioapic_start(struct partition *p) { set_live(p, true); }
static void ioapic_quiesce(struct partition *p) { set_live(p, false); }

static void ioapic_detach(struct partition *p)
{
    struct vioapic *io = of(p);
    spin_lock(&io->lock);
    io->live = false;
    io->attached = false;
    spin_unlock(&io->lock);
}

static const char *mode_name(u64 e)
{
    switch ((e >> IOAPIC_RTE_DELMOD_SHIFT) & IOAPIC_RTE_DELMOD_MASK) {
    case IOAPIC_DELMOD_FIXED: return "fixed";
    case IOAPIC_DELMOD_LOWEST: return "lowest-priority";
    case IOAPIC_DELMOD_NMI: return "NMI";
    default: return "refused mode";
    }
}

/* The unmasked pins and the counters, for `parts -v`. */
static size_t ioapic_show(const struct partition *p, char *buf, size_t len)
{
    struct vioapic *io = of(p);
    size_t n = 0;
#define OUT(...) (n += n < len ? (size_t)ksnprintf(buf + n, len - n, __VA_ARGS__) : 0)
    spin_lock(&io->lock);
    if (!io->attached) {
        spin_unlock(&io->lock);
        return 0;
    }
    const struct vioapic_model *m = &io->m;
    for (u32 pin = 0; pin < VIOAPIC_PINS; pin++) {
        u64 e = m->rte[pin];
        if (e & IOAPIC_RTE_MASKED)
            continue;
        OUT("  ioapic: pin %u -> vector %#llx %s, %s dest %#llx, %s, active %s%s, %llu interrupts\n", pin,
            (unsigned long long)(e & IOAPIC_RTE_VECTOR_MASK), mode_name(e),
            (e & IOAPIC_RTE_DEST_LOGICAL) ? "logical" : "physical", (unsigned long long)(e >> IOAPIC_RTE_DEST_SHIFT),
            (e & IOAPIC_RTE_TRIGGER_LEVEL) ? "level" : "edge", (e & IOAPIC_RTE_POLARITY_LOW) ? "low" : "high",
            (e & IOAPIC_RTE_REMOTE_IRR) ? ", awaiting EOI" : "", (unsigned long long)m->pin_count[pin]);
    }
    const struct vioapic_stats *st = &m->stats;
    OUT("  ioapic: %llu interrupts delivered, %llu undeliverable, %llu refused, %llu NMIs dropped, "
        "%llu edges lost while masked, %llu EOIs, %llu bad accesses\n",
        (unsigned long long)st->delivered, (unsigned long long)st->undeliverable, (unsigned long long)st->refused,
        (unsigned long long)io->nmis, (unsigned long long)st->masked_edges, (unsigned long long)st->eois,
        (unsigned long long)st->bad_accesses);
    spin_unlock(&io->lock);
#undef OUT
    return MIN(n, len ? len - 1 : 0);
}

VDEV_REGISTER(vioapic, .name = "I/O APIC", .order = 0, .attach = ioapic_attach, .start = ioapic_start,
              .quiesce = ioapic_quiesce, .detach = ioapic_detach, .show = ioapic_show);
