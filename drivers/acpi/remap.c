/* What the DMAR and IVRS parsers share: adding units, scopes and regions within
 * the caps, marking a unit or a whole table as not used (with the reason kept
 * for the shell), and the checks between units that only the whole table shows. */
#include "drivers/acpi/remap.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

const char *acpi_iommu_vendor_name(u8 vendor)
{
    switch (vendor) {
    case ACPI_IOMMU_VTD: return "VT-d";
    case ACPI_IOMMU_AMDVI: return "AMD-Vi";
    }
    return "?";
}

void remap_begin(struct remap_tx *tx, struct acpi_info *out, const char *sig, char *error)
{
    tx->out = out;
    tx->sig = sig;
    tx->error = error;
    tx->units0 = out->iommu.nunits;
    tx->scopes0 = out->iommu.nscopes;
    tx->regions0 = out->iommu.nregions;
    error[0] = '\0';
}

int remap_abort(struct remap_tx *tx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(tx->error, ACPI_IOMMU_ERR_MAX, fmt, ap);
    va_end(ap);
    /* A table that is wrong as a whole says nothing reliable about any unit:
     * drop what it added, so no device is taken as covered because of it. */
    struct acpi_iommu_info *io = &tx->out->iommu;
    io->nunits = tx->units0;
    io->nscopes = tx->scopes0;
    io->nregions = tx->regions0;
    log_warn(ACPI_TAG, "%s: %s: no remapping unit of it is used", tx->sig, tx->error);
    return -EINVAL;
}

struct acpi_iommu_unit *remap_new_unit(struct acpi_info *out, u8 vendor, u32 table_off)
{
    struct acpi_iommu_info *io = &out->iommu;
    if (io->nunits >= ACPI_MAX_IOMMUS)
        return NULL;
    struct acpi_iommu_unit *u = &io->units[io->nunits++];
    memset(u, 0, sizeof(*u));
    u->vendor = vendor;
    u->usable = true;
    u->scopes_complete = true;
    u->table_off = table_off;
    u->first_scope = io->nscopes;
    return u;
}

u32 remap_unit_index(const struct acpi_info *out, const struct acpi_iommu_unit *u)
{
    return (u32)(u - out->iommu.units);
}

void remap_unit_bad(struct acpi_info *out, struct acpi_iommu_unit *u, bool scopes_lost, const char *fmt, ...)
{
    if (scopes_lost)
        u->scopes_complete = false;
    if (!u->usable)
        return; /* the first reason is the one shown */
    u->usable = false;
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(u->error, sizeof(u->error), fmt, ap);
    va_end(ap);
    log_warn(ACPI_TAG, "%s unit iommu%u (registers %#llx, segment %u): %s: not used", acpi_iommu_vendor_name(u->vendor),
             remap_unit_index(out, u), (unsigned long long)u->base, u->segment, u->error);
}

struct acpi_iommu_scope *remap_new_scope(struct acpi_info *out, u8 kind, bool in_region, u32 owner)
{
    struct acpi_iommu_info *io = &out->iommu;
    if (io->nscopes >= ACPI_MAX_IOMMU_SCOPES)
        return NULL;
    struct acpi_iommu_scope *s = &io->scopes[io->nscopes++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->in_region = in_region;
    s->owner = (u8)owner;
    return s;
}

struct acpi_iommu_region *remap_new_region(struct acpi_info *out, u8 kind)
{
    struct acpi_iommu_info *io = &out->iommu;
    if (io->nregions >= ACPI_MAX_IOMMU_REGIONS) {
        if (io->regions_dropped++ == 0)
            log_warn(ACPI_TAG, "more than %u reserved DMA regions: the rest are not recorded", ACPI_MAX_IOMMU_REGIONS);
        return NULL;
    }
    struct acpi_iommu_region *r = &io->regions[io->nregions++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->first_scope = io->nscopes;
    return r;
}

/* Two DMAR scopes name the same function or bridge when their paths are equal.
 * (A bridge named by one unit and a function below it named by another only
 * shows once the bus numbers are known: drivers/iommu.c finds those.) */
static bool same_path(const struct acpi_iommu_scope *a, const struct acpi_iommu_scope *b)
{
    return a->start_bus == b->start_bus && a->hops == b->hops && memcmp(a->path, b->path, a->hops) == 0;
}

static bool pci_scope(const struct acpi_iommu_scope *s)
{
    return s->kind == ACPI_IOMMU_SCOPE_ENDPOINT || s->kind == ACPI_IOMMU_SCOPE_BRIDGE ||
           s->kind == ACPI_IOMMU_SCOPE_RANGE;
}

static bool scopes_overlap(const struct acpi_iommu_scope *a, const struct acpi_iommu_scope *b)
{
    if (!pci_scope(a) || !pci_scope(b))
        return false;
    if (a->kind == ACPI_IOMMU_SCOPE_RANGE || b->kind == ACPI_IOMMU_SCOPE_RANGE)
        return a->kind == b->kind && a->first <= b->last && b->first <= a->last;
    return same_path(a, b);
}

/* The first scope of unit a that overlaps one of unit b's, or NULL. */
static const struct acpi_iommu_scope *overlap(const struct acpi_iommu_info *io, const struct acpi_iommu_unit *a,
                                              const struct acpi_iommu_unit *b)
{
    for (u32 i = 0; i < a->nscopes; i++)
        for (u32 k = 0; k < b->nscopes; k++)
            if (scopes_overlap(&io->scopes[a->first_scope + i], &io->scopes[b->first_scope + k]))
                return &io->scopes[b->first_scope + k];
    return NULL;
}

void remap_check_units(struct acpi_info *out, u32 first)
{
    struct acpi_iommu_info *io = &out->iommu;
    for (u32 j = first; j < io->nunits; j++) {
        struct acpi_iommu_unit *u = &io->units[j];
        for (u32 i = 0; i < j; i++) {
            const struct acpi_iommu_unit *o = &io->units[i];
            if (o->base == u->base) {
                remap_unit_bad(out, u, false, "same register base as iommu%u", i);
                continue;
            }
            if (o->segment != u->segment)
                continue;
            if (o->include_all && u->include_all)
                remap_unit_bad(out, u, false, "a second unit for all devices of segment %u (iommu%u is one)",
                               u->segment, i);
            const struct acpi_iommu_scope *s = overlap(io, o, u);
            if (s && s->kind == ACPI_IOMMU_SCOPE_RANGE)
                remap_unit_bad(out, u, false, "requester IDs %04x-%04x also belong to iommu%u", s->first, s->last, i);
            else if (s)
                remap_unit_bad(out, u, false, "a scope at bus %02x also belongs to iommu%u", s->start_bus, i);
        }
    }
}
