/* The I/O APIC model behind each partition's vIOAPIC (vmm/dev/vioapic.c):
 * registers and interrupt logic of an 82093AA (arch/x86/hw/ioapic.h), 24 pins
 * with GSIs 0-23. Arch-neutral and deterministic; the owner passes in how a
 * message reaches the local APICs (vioapic_deliver_fn), so the unit tests
 * drive it with a fake.
 *
 * A pin is asserted when its input level differs from the entry's polarity
 * bit (active high: level 1; active low: level 0). Edge-triggered entries send
 * a message when the pin becomes asserted while unmasked (an edge while
 * masked is lost, as on the part). Level-triggered entries send one while the
 * pin is asserted, unmasked and remote IRR is clear, and set remote IRR; an
 * EOI for the vector clears it and sends again if the pin is still asserted.
 *
 * Every value from the guest is untrusted: a bad access is refused with
 * -EINVAL and counted, never acted on. Not thread-safe: the owner locks. */
#ifndef ISTHMUS_VMM_VIOAPIC_MODEL_H
#define ISTHMUS_VMM_VIOAPIC_MODEL_H

#include "kernel/lib/types.h"

#define VIOAPIC_PINS 24

/* One interrupt message for the local APICs. */
struct vioapic_msg {
    u8 pin;
    u8 vector;
    u8 mode; /* IOAPIC_DELMOD_FIXED, _LOWEST (to one of the matching APICs) or _NMI */
    u8 dest; /* APIC ID (0xff: all) or logical destination */
    bool logical;
    bool level; /* level-triggered: the receiving APIC sets TMR and broadcasts its EOI */
};

/* Delivers a message; true when at least one local APIC took it. A
 * level-triggered entry whose message nobody took keeps remote IRR clear. */
typedef bool (*vioapic_deliver_fn)(void *ctx, const struct vioapic_msg *m);

struct vioapic_stats {
    u64 bad_accesses;  /* not an aligned dword at IOREGSEL or IOWIN, or no such register */
    u64 ro_writes;     /* writes to the version and arbitration registers, ignored */
    u64 delivered;     /* messages a local APIC took */
    u64 undeliverable; /* messages no local APIC of the partition took */
    u64 refused;       /* entries with a reserved or unsupported delivery mode (SMI, INIT,
                         ExtINT), or a fixed vector below 16: nothing sent */
    u64 masked_edges;  /* edges on masked pins, lost */
    u64 eois;          /* EOIs that cleared a remote IRR */
};

struct vioapic_model {
    u8 id;     /* bits 27:24 of the ID register */
    u8 regsel; /* IOREGSEL */
    u64 rte[VIOAPIC_PINS];
    u32 level;                   /* input level of each pin (bit n: pin n high) */
    u64 pin_count[VIOAPIC_PINS]; /* messages delivered per pin */
    vioapic_deliver_fn deliver;
    void *ctx;
    struct vioapic_stats stats;
};

/* Reset state (3.2.4): every entry masked, edge, active high, fixed, vector 0;
 * every input low. */
void vioapic_model_init(struct vioapic_model *io, u8 id, vioapic_deliver_fn deliver, void *ctx);

/* One access at `offset` into the register page, `size` bytes. 0, or -EINVAL
 * (counted) for anything but an aligned dword at IOREGSEL or IOWIN; a bad
 * read returns 0 in *val. */
int vioapic_model_read(struct vioapic_model *io, u32 offset, u32 size, u32 *val) __must_check;
int vioapic_model_write(struct vioapic_model *io, u32 offset, u32 size, u32 val) __must_check;

/* A device drives pin `pin` to `high`. -EINVAL for a pin beyond the table. */
int vioapic_model_set_level(struct vioapic_model *io, u32 pin, bool high) __must_check;

/* A local APIC broadcast the EOI of a level-triggered `vector`: clears remote
 * IRR of the level entries with that vector, and sends again those whose pin
 * is still asserted. */
void vioapic_model_eoi(struct vioapic_model *io, u8 vector);

/* Whether pin n is asserted now (its level against its polarity). */
bool vioapic_model_asserted(const struct vioapic_model *io, u32 pin);

#endif
