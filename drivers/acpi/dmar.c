/* DMAR (Intel VT-d specification 4.1, chapter 8): the remapping units (DRHD),
 * their device scopes, and the memory devices keep using for DMA (RMRR).
 * ATSR, RHSA, ANDD and SATC structures are counted, not read. */
#include "drivers/acpi/remap.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

#define DMAR_PAGE      0x1000u
#define DMAR_SCOPE_MIN (sizeof(struct acpi_dmar_scope) + 2) /* one hop at least */

static u8 scope_kind(u8 type)
{
    switch (type) {
    case ACPI_DMAR_SCOPE_ENDPOINT: return ACPI_IOMMU_SCOPE_ENDPOINT;
    case ACPI_DMAR_SCOPE_BRIDGE: return ACPI_IOMMU_SCOPE_BRIDGE;
    case ACPI_DMAR_SCOPE_IOAPIC: return ACPI_IOMMU_SCOPE_IOAPIC;
    case ACPI_DMAR_SCOPE_HPET: return ACPI_IOMMU_SCOPE_HPET;
    case ACPI_DMAR_SCOPE_ACPI: return ACPI_IOMMU_SCOPE_ACPI;
    }
    return 0;
}

/* One scope at table offset `at`, of `room` bytes up to its structure's end.
 * Returns its length, or 0 with `why` filled when it is malformed. */
static u32 one_scope(struct acpi_info *out, const u8 *p, u32 room, u32 at, bool in_region, u32 owner, u32 *ignored,
                     char *why, size_t whylen)
{
    if (room < sizeof(struct acpi_dmar_scope)) {
        ksnprintf(why, whylen, "%u stray byte(s) at offset %u after its scopes", room, at);
        return 0;
    }
    const struct acpi_dmar_scope *sc = (const void *)p;
    if (sc->length < DMAR_SCOPE_MIN || sc->length > room || (sc->length - sizeof(*sc)) % 2) {
        ksnprintf(why, whylen, "device scope at offset %u has length %u (%u bytes left)", at, sc->length, room);
        return 0;
    }
    u8 kind = scope_kind(sc->type);
    if (!kind) {
        /* A reserved type names no device this code knows how to find. */
        log_warn(ACPI_TAG, "DMAR: device scope of reserved type %u at offset %u: ignored", sc->type, at);
        (*ignored)++;
        return sc->length;
    }
    u32 hops = (sc->length - (u32)sizeof(*sc)) / 2;
    if (hops > ACPI_MAX_IOMMU_HOPS) {
        ksnprintf(why, whylen, "device scope at offset %u crosses %u bridges (at most %u are followed)", at, hops - 1,
                  ACPI_MAX_IOMMU_HOPS - 1);
        return 0;
    }
    const u8 *path = p + sizeof(*sc);
    for (u32 i = 0; i < hops; i++) {
        if (path[2 * i] > 31 || path[2 * i + 1] > 7) {
            ksnprintf(why, whylen, "device scope at offset %u: no device %u function %u", at, path[2 * i],
                      path[2 * i + 1]);
            return 0;
        }
    }
    struct acpi_iommu_scope *s = remap_new_scope(out, kind, in_region, owner);
    if (!s) {
        ksnprintf(why, whylen, "more than %u device scopes in all", ACPI_MAX_IOMMU_SCOPES);
        return 0;
    }
    s->enum_id = sc->enum_id;
    s->start_bus = sc->start_bus;
    s->hops = (u8)hops;
    for (u32 i = 0; i < hops; i++)
        s->path[i] = (u8)(path[2 * i] << 3 | path[2 * i + 1]);
    return sc->length;
}

/* The scopes of the structure at table offset `off` of `len` bytes, whose fixed
 * part is `fixed` bytes. Returns 0, or -EINVAL with `why` filled. */
static int scopes(struct acpi_info *out, const u8 *tbl, u32 off, u32 len, u32 fixed, bool in_region, u32 owner,
                  u32 *ignored, char *why, size_t whylen)
{
    for (u32 at = fixed; at < len;) {
        u32 n = one_scope(out, tbl + off + at, len - at, off + at, in_region, owner, ignored, why, whylen);
        if (!n)
            return -EINVAL;
        at += n;
    }
    return 0;
}

static int drhd(struct remap_tx *tx, const u8 *tbl, u32 off, u32 len)
{
    struct acpi_info *out = tx->out;
    const struct acpi_dmar_drhd *d = (const void *)(tbl + off);
    struct acpi_iommu_unit *u = remap_new_unit(out, ACPI_IOMMU_VTD, off);
    if (!u)
        return remap_abort(tx, "more than %u remapping units", ACPI_MAX_IOMMUS);
    u->flags = d->flags;
    u->include_all = (d->flags & ACPI_DRHD_INCLUDE_PCI_ALL) != 0;
    u->segment = d->segment;
    u->base = d->base;
    char why[ACPI_IOMMU_ERR_MAX];
    int rc = scopes(out, tbl, off, len, sizeof(*d), false, remap_unit_index(out, u), &u->ignored, why, sizeof(why));
    u->nscopes = out->iommu.nscopes - u->first_scope;
    if (rc)
        remap_unit_bad(out, u, true, "%s", why);
    if (u->base == 0 || (u->base & (DMAR_PAGE - 1)))
        remap_unit_bad(out, u, false, "register base %#llx is not a 4 KiB-aligned address",
                       (unsigned long long)u->base);
    return 0;
}

static void rmrr(struct acpi_info *out, const u8 *tbl, u32 off, u32 len)
{
    const struct acpi_dmar_rmrr *m = (const void *)(tbl + off);
    struct acpi_iommu_info *io = &out->iommu;
    /* limit is the last byte: the region is whole pages and does not wrap. */
    if ((m->base & (DMAR_PAGE - 1)) || ((m->limit + 1) & (DMAR_PAGE - 1)) || m->limit < m->base || m->limit == ~0ull) {
        io->bad_regions++;
        log_warn(ACPI_TAG, "DMAR: RMRR at offset %u (%#llx-%#llx) is not whole pages: skipped", off,
                 (unsigned long long)m->base, (unsigned long long)m->limit);
        return;
    }
    struct acpi_iommu_region *r = remap_new_region(out, ACPI_IOMMU_RMRR);
    if (!r)
        return;
    r->segment = m->segment;
    r->base = m->base;
    r->length = m->limit - m->base + 1;
    char why[ACPI_IOMMU_ERR_MAX];
    u32 ignored = 0;
    if (scopes(out, tbl, off, len, sizeof(*m), true, io->nregions - 1, &ignored, why, sizeof(why))) {
        io->nscopes = r->first_scope;
        io->nregions--;
        io->bad_regions++;
        log_warn(ACPI_TAG, "DMAR: RMRR at offset %u: %s: skipped", off, why);
        return;
    }
    r->nscopes = io->nscopes - r->first_scope;
}

static u32 min_length(u16 type)
{
    switch (type) {
    case ACPI_DMAR_TYPE_DRHD: return sizeof(struct acpi_dmar_drhd);
    case ACPI_DMAR_TYPE_RMRR: return sizeof(struct acpi_dmar_rmrr);
    case ACPI_DMAR_TYPE_ATSR: return sizeof(struct acpi_dmar_atsr);
    }
    return sizeof(struct acpi_dmar_struct);
}

int acpi_parse_dmar(const void *tbl, u32 len, struct acpi_info *out)
{
    const struct acpi_dmar *t = tbl;
    struct acpi_iommu_info *io = &out->iommu;
    struct remap_tx tx;

    out->have_dmar = false;
    remap_begin(&tx, out, "DMAR", io->dmar_error);
    if (len < sizeof(*t))
        return remap_abort(&tx, "length %u is shorter than its fixed part (48)", len);
    /* 8.1: the field holds the width minus one; below a page or above 64 bits
     * no address could be translated. */
    if (t->host_addr_width < 11 || t->host_addr_width > 63)
        return remap_abort(&tx, "host address width %u bits is not 12-64", t->host_addr_width + 1u);
    io->dmar_haw = (u8)(t->host_addr_width + 1);
    io->dmar_flags = t->flags;
    io->dmar_intr_remap = (t->flags & ACPI_DMAR_INTR_REMAP) != 0;
    u32 first_unit = io->nunits;
    const u8 *b = tbl;
    for (u32 off = sizeof(*t); off < len;) {
        if (len - off < sizeof(struct acpi_dmar_struct))
            return remap_abort(&tx, "%u stray byte(s) at offset %u", len - off, off);
        const struct acpi_dmar_struct *h = (const void *)(b + off);
        if (h->length < min_length(h->type))
            return remap_abort(&tx, "structure of type %u at offset %u has length %u, less than %u", h->type, off,
                               h->length, min_length(h->type));
        if (h->length > len - off)
            return remap_abort(&tx, "structure of type %u at offset %u (length %u) runs past the table's end (%u)",
                               h->type, off, h->length, len);
        switch (h->type) {
        case ACPI_DMAR_TYPE_DRHD:
            if (drhd(&tx, b, off, h->length))
                return -EINVAL;
            break;
        case ACPI_DMAR_TYPE_RMRR: rmrr(out, b, off, h->length); break;
        case ACPI_DMAR_TYPE_ATSR: io->dmar_atsr++; break;
        default: io->dmar_other++; break;
        }
        off += h->length;
    }
    remap_check_units(out, first_unit);
    out->have_dmar = true;
    return 0;
}
