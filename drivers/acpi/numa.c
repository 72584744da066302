/* SRAT (ACPI 6.5 5.2.16) and SLIT (5.2.17): which proximity domain each processor
 * and memory range belongs to, and the relative distances between domains. This
 * file checks structure only; drivers/acpi/topology.c judges the values (SLIT diagonal,
 * overlapping ranges) because it is where a bad table is replaced by a default. */
#include "drivers/acpi/internal.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

static bool srat_room(struct acpi_srat_info *s, u32 n, u32 cap, const char *what)
{
    if (n < cap)
        return true;
    if (s->dropped++ == 0)
        log_warn(ACPI_TAG, "SRAT: more than %u enabled %s affinity entries: the rest ignored", cap, what);
    return false;
}

static void add_srat_cpu(struct acpi_srat_info *s, u32 apic_id, u32 domain, bool x2apic)
{
    if (!srat_room(s, s->ncpus, ACPI_MAX_SRAT_CPUS, "processor"))
        return;
    s->cpus[s->ncpus].apic_id = apic_id;
    s->cpus[s->ncpus].domain = domain;
    s->cpus[s->ncpus++].x2apic = x2apic;
}

static void srat_entry(const struct acpi_subtable *h, void *arg)
{
    struct acpi_srat_info *s = arg;
    static const u8 min_len[] = {
        [ACPI_SRAT_LAPIC] = sizeof(struct acpi_srat_lapic),
        [ACPI_SRAT_MEMORY] = sizeof(struct acpi_srat_memory),
        [ACPI_SRAT_X2APIC] = sizeof(struct acpi_srat_x2apic),
    };

    if (h->type >= ARRAY_SIZE(min_len)) {
        log_debug(ACPI_TAG, "SRAT: entry type %u ignored", h->type);
        return;
    }
    if (h->length < min_len[h->type]) {
        s->bad_entries++;
        log_warn(ACPI_TAG, "SRAT: type %u entry of %u bytes is shorter than %u: skipped", h->type, h->length,
                 min_len[h->type]);
        return;
    }
    switch (h->type) {
    case ACPI_SRAT_LAPIC: {
        const struct acpi_srat_lapic *e = (const void *)h;
        if (!(e->flags & ACPI_SRAT_ENABLED)) {
            s->disabled++;
            return;
        }
        u32 domain = e->domain_lo;
        /* Bits 31:8 exist from SRAT revision 2 (ACPI 3.0); before, they were reserved. */
        if (s->revision >= 2)
            domain |= (u32)e->domain_hi[0] << 8 | (u32)e->domain_hi[1] << 16 | (u32)e->domain_hi[2] << 24;
        add_srat_cpu(s, e->apic_id, domain, false);
        break;
    }
    case ACPI_SRAT_X2APIC: {
        const struct acpi_srat_x2apic *e = (const void *)h;
        if (!(e->flags & ACPI_SRAT_ENABLED)) {
            s->disabled++;
            return;
        }
        add_srat_cpu(s, e->x2apic_id, e->domain, true);
        break;
    }
    case ACPI_SRAT_MEMORY: {
        const struct acpi_srat_memory *e = (const void *)h;
        if (!(e->flags & ACPI_SRAT_ENABLED)) {
            s->disabled++;
            return;
        }
        u64 base = (u64)e->base_hi << 32 | e->base_lo;
        u64 length = (u64)e->length_hi << 32 | e->length_lo;
        u32 domain = e->domain;
        if (s->revision < 2)
            domain &= 0xff;
        if (length == 0) {
            log_debug(ACPI_TAG, "SRAT: enabled memory entry of length 0 ignored");
            return;
        }
        if (base + length < base) {
            s->bad_entries++;
            log_warn(ACPI_TAG, "SRAT: memory entry %#llx + %#llx wraps around: skipped", (unsigned long long)base,
                     (unsigned long long)length);
            return;
        }
        if (!srat_room(s, s->nmem, ACPI_MAX_SRAT_MEM, "memory"))
            return;
        struct acpi_srat_mem *m = &s->mem[s->nmem++];
        m->base = base;
        m->length = length;
        m->domain = domain;
        m->hotplug = (e->flags & ACPI_SRAT_HOTPLUG) != 0;
        m->nonvolatile = (e->flags & ACPI_SRAT_NONVOLATILE) != 0;
        break;
    }
    }
}

int acpi_parse_srat(const void *tbl, u32 len, struct acpi_info *out)
{
    const struct acpi_srat *t = tbl;
    struct acpi_srat_info *s = &out->srat;

    memset(s, 0, sizeof(*s));
    out->have_srat = false;
    if (len < sizeof(*t)) {
        log_warn(ACPI_TAG, "SRAT: length %u is shorter than its fixed part (48): skipped", len);
        return -EINVAL;
    }
    s->revision = t->hdr.revision;
    s->bad_entries += acpi_walk_subtables("SRAT", tbl, len, sizeof(*t), srat_entry, s);
    out->have_srat = true;
    return 0;
}

int acpi_parse_slit(const void *tbl, u32 len, struct acpi_info *out)
{
    const struct acpi_slit *t = tbl;
    struct acpi_slit_info *sl = &out->slit;

    memset(sl, 0, sizeof(*sl));
    out->have_slit = false;
    if (len < sizeof(*t)) {
        log_warn(ACPI_TAG, "SLIT: length %u is shorter than its fixed part (44): skipped", len);
        return -EINVAL;
    }
    u64 n = t->locality_count;
    if (n == 0 || n > ACPI_MAX_LOCALITIES) {
        log_warn(ACPI_TAG, "SLIT: %llu localities (supported: 1..%u): skipped", (unsigned long long)n,
                 ACPI_MAX_LOCALITIES);
        return -EINVAL;
    }
    if (len != sizeof(*t) + n * n) {
        log_warn(ACPI_TAG, "SLIT: length %u but %llu localities need %llu bytes: skipped", len, (unsigned long long)n,
                 (unsigned long long)(sizeof(*t) + n * n));
        return -EINVAL;
    }
    sl->n = (u32)n;
    memcpy(sl->matrix, (const u8 *)tbl + sizeof(*t), (size_t)(n * n));
    out->have_slit = true;
    return 0;
}
