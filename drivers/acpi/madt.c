/* MADT (ACPI 6.5 5.2.12): local APIC base, processors (LAPIC and x2APIC), I/O APICs,
 * interrupt source overrides and NMI wiring. */
#include "drivers/acpi/internal.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

static const u8 madt_min_len[] = {
    [ACPI_MADT_LAPIC] = sizeof(struct acpi_madt_lapic),
    [ACPI_MADT_IOAPIC] = sizeof(struct acpi_madt_ioapic),
    [ACPI_MADT_ISO] = sizeof(struct acpi_madt_iso),
    [ACPI_MADT_NMI_SOURCE] = sizeof(struct acpi_madt_nmi_source),
    [ACPI_MADT_LAPIC_NMI] = sizeof(struct acpi_madt_lapic_nmi),
    [ACPI_MADT_LAPIC_OVERRIDE] = sizeof(struct acpi_madt_lapic_override),
    [ACPI_MADT_X2APIC] = sizeof(struct acpi_madt_x2apic),
    [ACPI_MADT_X2APIC_NMI] = sizeof(struct acpi_madt_x2apic_nmi),
};

static bool room(u32 n, u32 cap, struct acpi_madt_info *m, const char *what)
{
    if (n < cap)
        return true;
    if (m->dropped++ == 0)
        log_warn(ACPI_TAG, "APIC: more than %u %s entries: the rest are ignored", cap, what);
    return false;
}

static void add_cpu(struct acpi_madt_info *m, u32 apic_id, u32 uid, u32 flags, bool x2apic)
{
    if (!room(m->ncpus, ACPI_MAX_MADT_CPUS, m, "processor"))
        return;
    struct acpi_madt_cpu *c = &m->cpus[m->ncpus++];
    c->apic_id = apic_id;
    c->uid = uid;
    c->x2apic = x2apic;
    c->enabled = (flags & ACPI_MADT_ENABLED) != 0;
    c->online_capable = !c->enabled && (flags & ACPI_MADT_ONLINE_CAPABLE) != 0;
}

static void madt_entry(const struct acpi_subtable *h, void *arg)
{
    struct acpi_madt_info *m = arg;

    if (h->type >= ARRAY_SIZE(madt_min_len) || madt_min_len[h->type] == 0) {
        log_debug(ACPI_TAG, "APIC: entry type %u ignored", h->type);
        return;
    }
    if (h->length < madt_min_len[h->type]) {
        m->bad_entries++;
        log_warn(ACPI_TAG, "APIC: type %u entry of %u bytes is shorter than %u: skipped", h->type, h->length,
                 madt_min_len[h->type]);
        return;
    }
    switch (h->type) {
    case ACPI_MADT_LAPIC: {
        const struct acpi_madt_lapic *e = (const void *)h;
        add_cpu(m, e->apic_id, e->processor_uid, e->flags, false);
        break;
    }
    case ACPI_MADT_X2APIC: {
        const struct acpi_madt_x2apic *e = (const void *)h;
        add_cpu(m, e->x2apic_id, e->processor_uid, e->flags, true);
        break;
    }
    case ACPI_MADT_IOAPIC: {
        const struct acpi_madt_ioapic *e = (const void *)h;
        if (!room(m->nioapics, ACPI_MAX_IOAPICS, m, "I/O APIC"))
            break;
        struct acpi_ioapic *io = &m->ioapics[m->nioapics++];
        io->id = e->ioapic_id;
        io->address = e->address;
        io->gsi_base = e->gsi_base;
        break;
    }
    case ACPI_MADT_ISO: {
        const struct acpi_madt_iso *e = (const void *)h;
        if (!room(m->nisos, ACPI_MAX_ISOS, m, "interrupt source override"))
            break;
        struct acpi_iso *iso = &m->isos[m->nisos++];
        iso->bus = e->bus;
        iso->source = e->source;
        iso->gsi = e->gsi;
        iso->flags = e->flags;
        break;
    }
    case ACPI_MADT_NMI_SOURCE: {
        const struct acpi_madt_nmi_source *e = (const void *)h;
        if (!room(m->nnmi_sources, ACPI_MAX_NMI_SOURCES, m, "NMI source"))
            break;
        m->nmi_sources[m->nnmi_sources].gsi = e->gsi;
        m->nmi_sources[m->nnmi_sources++].flags = e->flags;
        break;
    }
    case ACPI_MADT_LAPIC_NMI: {
        const struct acpi_madt_lapic_nmi *e = (const void *)h;
        if (!room(m->nlapic_nmis, ACPI_MAX_LAPIC_NMIS, m, "local APIC NMI"))
            break;
        struct acpi_lapic_nmi *n = &m->lapic_nmis[m->nlapic_nmis++];
        n->uid = e->processor_uid;
        n->flags = e->flags;
        n->lint = e->lint;
        n->x2apic = false;
        break;
    }
    case ACPI_MADT_X2APIC_NMI: {
        const struct acpi_madt_x2apic_nmi *e = (const void *)h;
        if (!room(m->nlapic_nmis, ACPI_MAX_LAPIC_NMIS, m, "local APIC NMI"))
            break;
        struct acpi_lapic_nmi *n = &m->lapic_nmis[m->nlapic_nmis++];
        n->uid = e->processor_uid;
        n->flags = e->flags;
        n->lint = e->lint;
        n->x2apic = true;
        break;
    }
    case ACPI_MADT_LAPIC_OVERRIDE: {
        const struct acpi_madt_lapic_override *e = (const void *)h;
        if (m->lapic_overridden) {
            log_warn(ACPI_TAG, "APIC: second local APIC address override ignored");
            break;
        }
        m->lapic_base = e->address;
        m->lapic_overridden = true;
        break;
    }
    }
}

int acpi_parse_madt(const void *tbl, u32 len, struct acpi_info *out)
{
    const struct acpi_madt *t = tbl;
    struct acpi_madt_info *m = &out->madt;

    memset(m, 0, sizeof(*m));
    out->have_madt = false;
    if (len < sizeof(*t)) {
        log_warn(ACPI_TAG, "APIC: length %u is shorter than its fixed part (44): skipped", len);
        return -EINVAL;
    }
    m->lapic_base = t->lapic_address;
    m->flags = t->flags;
    m->bad_entries += acpi_walk_subtables("APIC", tbl, len, sizeof(*t), madt_entry, m);
    if (m->lapic_overridden)
        log_info(ACPI_TAG, "APIC: local APIC base overridden to %#llx", (unsigned long long)m->lapic_base);
    out->have_madt = true;
    return 0;
}
