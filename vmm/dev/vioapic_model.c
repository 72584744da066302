/* See vioapic_model.h. Register behaviour from the 82093AA data sheet. */
#include "vmm/dev/vioapic_model.h"
#include "arch/x86/hw/ioapic.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

/* What a guest write can change in an entry: everything but delivery status
 * and remote IRR, and of the high dword only the destination. */
#define RTE_WRITABLE_LO (0xffffffffull & ~(IOAPIC_RTE_DELIVS | IOAPIC_RTE_REMOTE_IRR))
#define RTE_WRITABLE_HI (0xffull << IOAPIC_RTE_DEST_SHIFT)
#define APIC_MIN_VECTOR 16 /* 0-15 are exceptions: a local APIC refuses them */

void vioapic_model_init(struct vioapic_model *io, u8 id, vioapic_deliver_fn deliver, void *ctx)
{
    memset(io, 0, sizeof(*io));
    io->id = id & IOAPIC_ID_MASK;
    io->deliver = deliver;
    io->ctx = ctx;
    for (u32 i = 0; i < VIOAPIC_PINS; i++)
        io->rte[i] = IOAPIC_RTE_MASKED;
}

bool vioapic_model_asserted(const struct vioapic_model *io, u32 pin)
{
    if (pin >= VIOAPIC_PINS)
        return false;
    bool high = io->level & (1u << pin);
    return high != !!(io->rte[pin] & IOAPIC_RTE_POLARITY_LOW);
}

/* Sends pin's message; true when a local APIC took it. */
static bool send(struct vioapic_model *io, u32 pin)
{
    u64 e = io->rte[pin];
    u32 mode = (u32)((e >> IOAPIC_RTE_DELMOD_SHIFT) & IOAPIC_RTE_DELMOD_MASK);
    u8 vector = (u8)(e & IOAPIC_RTE_VECTOR_MASK);
    bool fixed = mode == IOAPIC_DELMOD_FIXED || mode == IOAPIC_DELMOD_LOWEST;
    if ((!fixed && mode != IOAPIC_DELMOD_NMI) || (fixed && vector < APIC_MIN_VECTOR)) {
        io->stats.refused++;
        return false;
    }
    struct vioapic_msg m = {
        .pin = (u8)pin,
        .vector = mode == IOAPIC_DELMOD_NMI ? 0 : vector,
        .mode = (u8)mode,
        .dest = (u8)(e >> IOAPIC_RTE_DEST_SHIFT),
        .logical = e & IOAPIC_RTE_DEST_LOGICAL,
        /* NMIs are edge-triggered whatever the entry says (3.2.4). */
        .level = (e & IOAPIC_RTE_TRIGGER_LEVEL) && mode != IOAPIC_DELMOD_NMI,
    };
    if (!io->deliver(io->ctx, &m)) {
        io->stats.undeliverable++;
        return false;
    }
    io->stats.delivered++;
    io->pin_count[pin]++;
    return true;
}

/* A level-triggered pin: send while asserted, unmasked and not awaiting EOI. */
static void service_level(struct vioapic_model *io, u32 pin)
{
    u64 e = io->rte[pin];
    if (!(e & IOAPIC_RTE_TRIGGER_LEVEL) || (e & (IOAPIC_RTE_MASKED | IOAPIC_RTE_REMOTE_IRR)) ||
        !vioapic_model_asserted(io, pin))
        return;
    if (send(io, pin))
        io->rte[pin] |= IOAPIC_RTE_REMOTE_IRR;
}

int vioapic_model_set_level(struct vioapic_model *io, u32 pin, bool high)
{
    if (pin >= VIOAPIC_PINS)
        return -EINVAL;
    bool was = vioapic_model_asserted(io, pin);
    io->level = high ? io->level | (1u << pin) : io->level & ~(1u << pin);
    bool now = vioapic_model_asserted(io, pin);
    u64 e = io->rte[pin];
    if (e & IOAPIC_RTE_TRIGGER_LEVEL) {
        service_level(io, pin);
    } else if (now && !was) {
        if (e & IOAPIC_RTE_MASKED)
            io->stats.masked_edges++;
        else
            send(io, pin);
    }
    return 0;
}

void vioapic_model_eoi(struct vioapic_model *io, u8 vector)
{
    for (u32 pin = 0; pin < VIOAPIC_PINS; pin++) {
        u64 e = io->rte[pin];
        if ((e & IOAPIC_RTE_VECTOR_MASK) != vector || !(e & IOAPIC_RTE_TRIGGER_LEVEL) || !(e & IOAPIC_RTE_REMOTE_IRR))
            continue;
        io->rte[pin] &= ~IOAPIC_RTE_REMOTE_IRR;
        io->stats.eois++;
        service_level(io, pin);
    }
}

static int bad(struct vioapic_model *io)
{
    io->stats.bad_accesses++;
    return -EINVAL;
}

/* The register IOREGSEL selects; false when there is none. */
static bool read_reg(const struct vioapic_model *io, u32 *val)
{
    u32 r = io->regsel;
    switch (r) {
    case IOAPIC_REG_ID:
    case IOAPIC_REG_ARB: /* the arbitration ID follows the ID (3.2.3) */
        *val = (u32)io->id << IOAPIC_ID_SHIFT;
        return true;
    case IOAPIC_REG_VER:
        *val = (u32)(VIOAPIC_PINS - 1) << IOAPIC_VER_MAXREDIR_SHIFT | IOAPIC_VERSION_82093AA;
        return true;
    default: break;
    }
    if (r < IOAPIC_REG_REDTBL || r >= IOAPIC_REG_REDTBL + 2 * VIOAPIC_PINS)
        return false;
    u64 e = io->rte[(r - IOAPIC_REG_REDTBL) / 2];
    *val = (r & 1) ? (u32)(e >> 32) : (u32)e;
    return true;
}

static void write_rte(struct vioapic_model *io, u32 pin, bool high_dword, u32 val)
{
    u64 old = io->rte[pin], e;
    if (high_dword)
        e = (old & ~RTE_WRITABLE_HI) | (((u64)val << 32) & RTE_WRITABLE_HI);
    else
        e = (old & ~RTE_WRITABLE_LO) | (val & RTE_WRITABLE_LO);
    /* Remote IRR means nothing for an edge entry; Linux clears a stuck one
     * on pre-0x20 parts by switching the entry to edge and back
     * (eoi_ioapic_pin), which works because the part clears it. */
    if (!(e & IOAPIC_RTE_TRIGGER_LEVEL))
        e &= ~IOAPIC_RTE_REMOTE_IRR;
    io->rte[pin] = e;
    /* Unmasked (or made level) while asserted: a level pin is sent now. An
     * edge pin needs a new edge. */
    service_level(io, pin);
}

static int write_reg(struct vioapic_model *io, u32 val)
{
    u32 r = io->regsel;
    if (r == IOAPIC_REG_ID) {
        io->id = (u8)((val >> IOAPIC_ID_SHIFT) & IOAPIC_ID_MASK);
        return 0;
    }
    if (r == IOAPIC_REG_VER || r == IOAPIC_REG_ARB) {
        io->stats.ro_writes++;
        return 0;
    }
    if (r < IOAPIC_REG_REDTBL || r >= IOAPIC_REG_REDTBL + 2 * VIOAPIC_PINS)
        return bad(io);
    write_rte(io, (r - IOAPIC_REG_REDTBL) / 2, r & 1, val);
    return 0;
}

int vioapic_model_read(struct vioapic_model *io, u32 offset, u32 size, u32 *val)
{
    *val = 0;
    if (size != 4)
        return bad(io);
    if (offset == IOAPIC_IOREGSEL) {
        *val = io->regsel;
        return 0;
    }
    if (offset != IOAPIC_IOWIN || !read_reg(io, val)) {
        *val = 0;
        return bad(io);
    }
    return 0;
}

int vioapic_model_write(struct vioapic_model *io, u32 offset, u32 size, u32 val)
{
    if (size != 4)
        return bad(io);
    if (offset == IOAPIC_IOREGSEL) {
        io->regsel = (u8)val;
        return 0;
    }
    return offset == IOAPIC_IOWIN ? write_reg(io, val) : bad(io);
}
