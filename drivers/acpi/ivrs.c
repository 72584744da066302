/* IVRS (AMD IOMMU specification 48882 rev 3.08, 5.2): the remapping units
 * (IVHD), the requester IDs each translates for, the I/O APICs and HPETs whose
 * interrupts pass through it, and the memory devices keep using (IVMD). */
#include "drivers/acpi/remap.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

#define IVHD_ALIGN 0x4000u /* the register block is 16 KiB, naturally aligned */

static bool is_ivhd(u8 type)
{
    return type == ACPI_IVRS_IVHD_10 || type == ACPI_IVRS_IVHD_11 || type == ACPI_IVRS_IVHD_40;
}

static bool is_ivmd(u8 type)
{
    return type == ACPI_IVRS_IVMD_ALL || type == ACPI_IVRS_IVMD_ONE || type == ACPI_IVRS_IVMD_SPAN;
}

static u32 min_length(u8 type)
{
    if (type == ACPI_IVRS_IVHD_10)
        return sizeof(struct acpi_ivhd);
    if (is_ivhd(type))
        return sizeof(struct acpi_ivhd_ext);
    if (is_ivmd(type))
        return sizeof(struct acpi_ivmd);
    return sizeof(struct acpi_ivrs_block);
}

/* Firmware may describe one unit in an IVHD of each type (5.2.2.1); the
 * highest type says the most, so it is the one used. */
struct ivhd_pick {
    u32 n;
    struct {
        u16 segment, device_id;
        u8 type;
    } unit[ACPI_MAX_IOMMUS];
};

static u8 *pick_slot(struct ivhd_pick *pk, u16 segment, u16 device_id)
{
    for (u32 i = 0; i < pk->n; i++)
        if (pk->unit[i].segment == segment && pk->unit[i].device_id == device_id)
            return &pk->unit[i].type;
    if (pk->n >= ACPI_MAX_IOMMUS)
        return NULL;
    pk->unit[pk->n].segment = segment;
    pk->unit[pk->n].device_id = device_id;
    pk->unit[pk->n].type = 0;
    return &pk->unit[pk->n++].type;
}

/* The length of the device entry at p with `room` bytes left, 0 when it cannot
 * be known or does not fit. */
static u32 entry_length(const u8 *p, u32 room)
{
    u32 n;
    if (p[0] < ACPI_IVHD_DEV_LEN8_FIRST)
        n = sizeof(struct acpi_ivhd_entry);
    else if (p[0] < ACPI_IVHD_DEV_VAR_FIRST)
        n = sizeof(struct acpi_ivhd_entry8);
    else if (p[0] == ACPI_IVHD_DEV_ACPI_HID && room >= sizeof(struct acpi_ivhd_acpi_hid))
        n = (u32)sizeof(struct acpi_ivhd_acpi_hid) + ((const struct acpi_ivhd_acpi_hid *)(const void *)p)->uid_length;
    else
        return 0; /* a variable-length type without a known length field */
    return n <= room ? n : 0;
}

struct entry_walk {
    struct acpi_info *out;
    struct acpi_iommu_unit *u;
    bool in_range; /* a start-of-range entry waits for its end */
    u16 range_first, range_alias;
    bool range_has_alias;
    u8 range_dte;
    char why[ACPI_IOMMU_ERR_MAX];
};

static int add_range(struct entry_walk *w, u8 kind, u16 first, u16 last)
{
    struct acpi_iommu_scope *s = remap_new_scope(w->out, kind, false, remap_unit_index(w->out, w->u));
    if (!s) {
        ksnprintf(w->why, sizeof(w->why), "more than %u device entries in all", ACPI_MAX_IOMMU_SCOPES);
        return -ENOSPC;
    }
    s->first = first;
    s->last = last;
    return 0;
}

/* One device entry at table offset `at`. Returns 0, or -EINVAL with w->why. */
static int one_entry(struct entry_walk *w, const u8 *p, u32 at)
{
    const struct acpi_ivhd_entry *e = (const void *)p;
    const struct acpi_ivhd_entry8 *e8 = (const void *)p;
    struct acpi_iommu_info *io = &w->out->iommu;

    if (w->in_range && e->type != ACPI_IVHD_DEV_RANGE_END) {
        ksnprintf(w->why, sizeof(w->why), "range from %04x is not ended before offset %u", w->range_first, at);
        return -EINVAL;
    }
    switch (e->type) {
    case ACPI_IVHD_DEV_PAD: return 0;
    case ACPI_IVHD_DEV_ALL: w->u->include_all = true; return 0;
    case ACPI_IVHD_DEV_SELECT:
    case ACPI_IVHD_DEV_EXT:
        if (add_range(w, ACPI_IOMMU_SCOPE_RANGE, e->device_id, e->device_id))
            return -EINVAL;
        io->scopes[io->nscopes - 1].dte = e->dte;
        return 0;
    case ACPI_IVHD_DEV_ALIAS:
        if (add_range(w, ACPI_IOMMU_SCOPE_RANGE, e->device_id, e->device_id))
            return -EINVAL;
        io->scopes[io->nscopes - 1].has_alias = true;
        io->scopes[io->nscopes - 1].alias = e8->source_id;
        io->scopes[io->nscopes - 1].dte = e->dte;
        return 0;
    case ACPI_IVHD_DEV_RANGE_START:
    case ACPI_IVHD_DEV_ALIAS_RANGE:
    case ACPI_IVHD_DEV_EXT_RANGE:
        w->in_range = true;
        w->range_first = e->device_id;
        w->range_dte = e->dte;
        w->range_has_alias = e->type == ACPI_IVHD_DEV_ALIAS_RANGE;
        w->range_alias = w->range_has_alias ? e8->source_id : 0;
        return 0;
    case ACPI_IVHD_DEV_RANGE_END:
        if (!w->in_range) {
            ksnprintf(w->why, sizeof(w->why), "range end at offset %u has no start", at);
            return -EINVAL;
        }
        if (e->device_id < w->range_first) {
            ksnprintf(w->why, sizeof(w->why), "range %04x-%04x at offset %u ends before it starts", w->range_first,
                      e->device_id, at);
            return -EINVAL;
        }
        w->in_range = false;
        if (add_range(w, ACPI_IOMMU_SCOPE_RANGE, w->range_first, e->device_id))
            return -EINVAL;
        io->scopes[io->nscopes - 1].has_alias = w->range_has_alias;
        io->scopes[io->nscopes - 1].alias = w->range_alias;
        io->scopes[io->nscopes - 1].dte = w->range_dte;
        return 0;
    case ACPI_IVHD_DEV_SPECIAL: {
        u8 kind = e8->variety == ACPI_IVHD_SPECIAL_IOAPIC ? ACPI_IOMMU_SCOPE_IOAPIC
                  : e8->variety == ACPI_IVHD_SPECIAL_HPET ? ACPI_IOMMU_SCOPE_HPET
                                                          : 0;
        if (!kind)
            break;
        if (add_range(w, kind, e8->source_id, e8->source_id))
            return -EINVAL;
        io->scopes[io->nscopes - 1].enum_id = e8->handle;
        return 0;
    }
    case ACPI_IVHD_DEV_ACPI_HID:
        if (add_range(w, ACPI_IOMMU_SCOPE_ACPI, e->device_id, e->device_id))
            return -EINVAL;
        return 0;
    }
    log_warn(ACPI_TAG, "IVRS: device entry of reserved type %#x at offset %u: ignored", e->type, at);
    w->u->ignored++;
    return 0;
}

static int ivhd(struct remap_tx *tx, const u8 *tbl, u32 off, u32 len)
{
    struct acpi_info *out = tx->out;
    const struct acpi_ivhd *h = (const void *)(tbl + off);
    struct acpi_iommu_unit *u = remap_new_unit(out, ACPI_IOMMU_AMDVI, off);
    if (!u)
        return remap_abort(tx, "more than %u remapping units", ACPI_MAX_IOMMUS);
    u->type = h->h.type;
    u->flags = h->h.flags;
    u->segment = h->segment;
    u->base = h->base;
    u->device_id = h->device_id;
    u->cap_offset = h->cap_offset;

    struct entry_walk w = { .out = out, .u = u };
    int rc = 0;
    for (u32 at = min_length(h->h.type); at < len && !rc;) {
        u32 n = entry_length(tbl + off + at, len - at);
        if (!n) {
            ksnprintf(w.why, sizeof(w.why), "device entry of type %#x at offset %u runs past the block's end",
                      tbl[off + at], off + at);
            rc = -EINVAL;
            break;
        }
        rc = one_entry(&w, tbl + off + at, off + at);
        at += n;
    }
    if (!rc && w.in_range) {
        ksnprintf(w.why, sizeof(w.why), "range from %04x is not ended", w.range_first);
        rc = -EINVAL;
    }
    u->nscopes = out->iommu.nscopes - u->first_scope;
    if (rc)
        remap_unit_bad(out, u, true, "%s", w.why);
    if (u->base == 0 || (u->base & (IVHD_ALIGN - 1)))
        remap_unit_bad(out, u, false, "register base %#llx is not a 16 KiB-aligned address",
                       (unsigned long long)u->base);
    return 0;
}

static void ivmd(struct acpi_info *out, const u8 *tbl, u32 off)
{
    const struct acpi_ivmd *m = (const void *)(tbl + off);
    struct acpi_iommu_info *io = &out->iommu;
    u8 kind = m->h.type == ACPI_IVRS_IVMD_ALL   ? ACPI_IOMMU_IVMD_ALL
              : m->h.type == ACPI_IVRS_IVMD_ONE ? ACPI_IOMMU_IVMD_ONE
                                                : ACPI_IOMMU_IVMD_RANGE;
    u16 last = kind == ACPI_IOMMU_IVMD_RANGE ? m->aux : m->device_id;
    if (m->length == 0 || m->start + m->length - 1 < m->start || last < m->device_id) {
        io->bad_regions++;
        log_warn(ACPI_TAG, "IVRS: IVMD at offset %u (%#llx, %#llx bytes, devices %04x-%04x) is invalid: skipped", off,
                 (unsigned long long)m->start, (unsigned long long)m->length, m->device_id, last);
        return;
    }
    struct acpi_iommu_region *r = remap_new_region(out, kind);
    if (!r)
        return;
    r->flags = m->h.flags;
    r->base = m->start;
    r->length = m->length;
    r->first = kind == ACPI_IOMMU_IVMD_ALL ? 0 : m->device_id;
    r->last = kind == ACPI_IOMMU_IVMD_ALL ? 0xffff : last;
}

/* First pass: every block lies in the table, and the highest IVHD type of each unit. */
static int survey(struct remap_tx *tx, const u8 *b, u32 len, struct ivhd_pick *pk)
{
    for (u32 off = sizeof(struct acpi_ivrs); off < len;) {
        if (len - off < sizeof(struct acpi_ivrs_block))
            return remap_abort(tx, "%u stray byte(s) at offset %u", len - off, off);
        const struct acpi_ivrs_block *h = (const void *)(b + off);
        if (h->length < min_length(h->type))
            return remap_abort(tx, "block of type %#x at offset %u has length %u, less than %u", h->type, off,
                               h->length, min_length(h->type));
        if (h->length > len - off)
            return remap_abort(tx, "block of type %#x at offset %u (length %u) runs past the table's end (%u)", h->type,
                               off, h->length, len);
        if (is_ivhd(h->type)) {
            const struct acpi_ivhd *d = (const void *)h;
            u8 *best = pick_slot(pk, d->segment, d->device_id);
            if (!best)
                return remap_abort(tx, "more than %u remapping units", ACPI_MAX_IOMMUS);
            if (h->type > *best)
                *best = h->type;
        }
        off += h->length;
    }
    return 0;
}

int acpi_parse_ivrs(const void *tbl, u32 len, struct acpi_info *out)
{
    const struct acpi_ivrs *t = tbl;
    struct acpi_iommu_info *io = &out->iommu;
    struct remap_tx tx;
    struct ivhd_pick pk = { .n = 0 };

    out->have_ivrs = false;
    remap_begin(&tx, out, "IVRS", io->ivrs_error);
    if (len < sizeof(*t))
        return remap_abort(&tx, "length %u is shorter than its fixed part (48)", len);
    io->ivinfo = t->ivinfo;
    if (survey(&tx, tbl, len, &pk))
        return -EINVAL;
    u32 first_unit = io->nunits;
    const u8 *b = tbl;
    for (u32 off = sizeof(*t); off < len;) {
        const struct acpi_ivrs_block *h = (const void *)(b + off);
        if (is_ivhd(h->type)) {
            const struct acpi_ivhd *d = (const void *)h;
            const u8 *best = pick_slot(&pk, d->segment, d->device_id); /* found by survey() */
            if (best && h->type < *best)
                io->ivhd_superseded++;
            else if (ivhd(&tx, b, off, h->length))
                return -EINVAL;
        } else if (is_ivmd(h->type)) {
            ivmd(out, b, off);
        } else {
            io->ivrs_other++;
        }
        off += h->length;
    }
    remap_check_units(out, first_unit);
    out->have_ivrs = true;
    return 0;
}
