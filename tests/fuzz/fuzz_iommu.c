/* libFuzzer target for the DMA remapping tables: acpi_parse_dmar() and
 * acpi_parse_ivrs(), then the unit-per-device model (drivers/iommu.c) over a
 * small PCI tree.
 *
 * Input: a flags byte, then the table's bytes (header included), copied into a
 * heap block of exactly their size so ASan sees any read past the end. The
 * parsers are given that size as the table's length (acpi_parse() has already
 * checked the header's length and checksum before they run). Invariants:
 *  - the table is refused as a whole exactly when a walk written here from the
 *    specifications says its structure is broken (fixed part short, address
 *    width out of range, a structure short for its type or past the end, stray
 *    bytes, more units than the cap); refused, it adds no unit, scope or region
 *    and says why; accepted, it adds one unit per DRHD, or per IVHD of the
 *    highest type given for its (segment, device ID), the others counted;
 *  - every count is within its cap, every scope within its unit's slice or its
 *    region, paths within the hop cap, ranges in order, strings terminated;
 *  - among usable units: register bases non-zero, aligned (4 KiB VT-d, 16 KiB
 *    AMD-Vi) and distinct, at most one "all others" unit per segment, no
 *    requester-ID range or DMAR path named by two;
 *  - a lookup names a unit that exists, and only a usable one as coverage;
 *  - parsing again gives the same result.
 *
 * IOMMU_WRITE_SEEDS=dir ACPI_FIXTURES=tests/unit/fixtures/acpi ./fuzz_iommu
 * writes seeds (QEMU's DMAR and IVRS) into dir and exits. */
#include "drivers/acpi/acpi.h"
#include "drivers/acpi/tables.h"
#include "drivers/iommu.h"
#include "kernel/lib/errno.h"
#include "tests/fuzz/fuzz.h"

#define F_IVRS     0x01 /* the bytes are an IVRS, else a DMAR */
#define F_BAD_TREE 0x02 /* a bridge whose secondary bus is its own */

static struct acpi_info info, again;
static struct pci_list pci;
static struct iommu_model model;

static void add_fn(u8 bus, u8 dev, u8 fn, bool bridge, u8 sec, u8 sub)
{
    struct pci_dev *d = &pci.dev[pci.count++];
    memset(d, 0, sizeof(*d));
    d->bus = bus;
    d->dev = dev;
    d->fn = fn;
    d->bridge = bridge;
    d->sec_bus = sec;
    d->sub_bus = sub;
}

/* QEMU's q35 bus 0 and a two-level tree under a root port. */
static void build_tree(uint8_t flags)
{
    pci.count = 0;
    add_fn(0, 0, 0, false, 0, 0);
    add_fn(0, 1, 0, true, 1, 3);
    add_fn(1, 0, 0, true, 2, 2);
    add_fn(2, 0, 0, false, 0, 0);
    add_fn(0, 0x1f, 0, false, 0, 0);
    add_fn(0, 0x1f, 2, false, 0, 0);
    if (flags & F_BAD_TREE)
        add_fn(3, 0, 0, true, 3, 3);
}

/* ---- the reference walk: is the table broken as a whole, and how many units? */

static uint32_t dmar_min(uint16_t type)
{
    return type == ACPI_DMAR_TYPE_DRHD ? 16 : type == ACPI_DMAR_TYPE_RMRR ? 24 : type == ACPI_DMAR_TYPE_ATSR ? 8 : 4;
}

/* -1 when the DMAR is to be refused, else the number of DRHDs. */
static int ref_dmar(const uint8_t *b, uint32_t len)
{
    if (len < 48 || b[36] < 11 || b[36] > 63)
        return -1;
    int units = 0;
    for (uint32_t off = 48; off < len;) {
        if (len - off < 4)
            return -1;
        uint16_t type = fz_rd16(b + off), l = fz_rd16(b + off + 2);
        if (l < dmar_min(type) || l > len - off)
            return -1;
        if (type == ACPI_DMAR_TYPE_DRHD && ++units > ACPI_MAX_IOMMUS)
            return -1;
        off += l;
    }
    return units;
}

static uint32_t ivrs_min(uint8_t type)
{
    if (type == 0x10)
        return 24;
    if (type == 0x11 || type == 0x40)
        return 40;
    if (type >= 0x20 && type <= 0x22)
        return 32;
    return 4;
}

/* -1 when the IVRS is to be refused, else the units used; *superseded gets the rest. */
static int ref_ivrs(const uint8_t *b, uint32_t len, uint32_t *superseded)
{
    struct {
        uint32_t key;
        uint8_t type;
    } seen[ACPI_MAX_IOMMUS];
    uint32_t nseen = 0, blocks = 0;
    if (len < 48)
        return -1;
    for (uint32_t off = 48; off < len;) {
        if (len - off < 4)
            return -1;
        uint8_t type = b[off];
        uint16_t l = fz_rd16(b + off + 2);
        if (l < ivrs_min(type) || l > len - off)
            return -1;
        if (type == 0x10 || type == 0x11 || type == 0x40) {
            uint32_t key = (uint32_t)fz_rd16(b + off + 16) << 16 | fz_rd16(b + off + 4), k;
            for (k = 0; k < nseen && seen[k].key != key; k++)
                ;
            if (k == nseen) {
                if (nseen == ACPI_MAX_IOMMUS)
                    return -1;
                seen[nseen].key = key;
                seen[nseen++].type = 0;
            }
            if (type > seen[k].type)
                seen[k].type = type;
            blocks++;
        }
        off += l;
    }
    /* Blocks of a unit's highest type are each a unit. */
    uint32_t used = 0;
    for (uint32_t off = 48; off < len;) {
        uint8_t type = b[off];
        if (type == 0x10 || type == 0x11 || type == 0x40) {
            uint32_t key = (uint32_t)fz_rd16(b + off + 16) << 16 | fz_rd16(b + off + 4);
            for (uint32_t k = 0; k < nseen; k++)
                if (seen[k].key == key && seen[k].type == type)
                    used++;
        }
        off += fz_rd16(b + off + 2);
    }
    *superseded = blocks - used;
    return (int)used;
}

/* ---- invariants */

static bool ranges_meet(const struct acpi_iommu_scope *a, const struct acpi_iommu_scope *b)
{
    if (a->kind == ACPI_IOMMU_SCOPE_RANGE && b->kind == ACPI_IOMMU_SCOPE_RANGE)
        return a->first <= b->last && b->first <= a->last;
    bool pa = a->kind == ACPI_IOMMU_SCOPE_ENDPOINT || a->kind == ACPI_IOMMU_SCOPE_BRIDGE;
    bool pb = b->kind == ACPI_IOMMU_SCOPE_ENDPOINT || b->kind == ACPI_IOMMU_SCOPE_BRIDGE;
    return pa && pb && a->start_bus == b->start_bus && a->hops == b->hops && !memcmp(a->path, b->path, a->hops);
}

static void check_info(const struct acpi_info *in)
{
    const struct acpi_iommu_info *io = &in->iommu;
    CHECK(io->nunits <= ACPI_MAX_IOMMUS && io->nscopes <= ACPI_MAX_IOMMU_SCOPES);
    CHECK(io->nregions <= ACPI_MAX_IOMMU_REGIONS);
    CHECK(fz_terminated(io->dmar_error, sizeof(io->dmar_error)));
    CHECK(fz_terminated(io->ivrs_error, sizeof(io->ivrs_error)));
    uint32_t next = 0;
    for (uint32_t i = 0; i < io->nunits; i++) {
        const struct acpi_iommu_unit *u = &io->units[i];
        CHECK(fz_terminated(u->error, sizeof(u->error)));
        CHECK(u->usable == (u->error[0] == 0));
        CHECK(u->first_scope >= next && u->first_scope + u->nscopes <= io->nscopes);
        next = u->first_scope + u->nscopes;
        for (uint32_t k = 0; k < u->nscopes; k++) {
            const struct acpi_iommu_scope *s = &io->scopes[u->first_scope + k];
            CHECK(!s->in_region && s->owner == i);
        }
        if (!u->usable)
            continue;
        uint64_t align = u->vendor == ACPI_IOMMU_VTD ? 0x1000 : 0x4000;
        CHECK(u->base != 0 && (u->base & (align - 1)) == 0);
        CHECK(u->scopes_complete);
        for (uint32_t j = 0; j < i; j++) {
            const struct acpi_iommu_unit *o = &io->units[j];
            CHECK(o->base != u->base);
            if (!o->usable || o->segment != u->segment)
                continue;
            CHECK(!(o->include_all && u->include_all));
            for (uint32_t a = 0; a < o->nscopes; a++)
                for (uint32_t c = 0; c < u->nscopes; c++)
                    CHECK(!ranges_meet(&io->scopes[o->first_scope + a], &io->scopes[u->first_scope + c]));
        }
    }
    for (uint32_t i = 0; i < io->nscopes; i++) {
        const struct acpi_iommu_scope *s = &io->scopes[i];
        CHECK(s->kind >= ACPI_IOMMU_SCOPE_ENDPOINT && s->kind <= ACPI_IOMMU_SCOPE_ACPI);
        CHECK(s->hops <= ACPI_MAX_IOMMU_HOPS && s->first <= s->last);
        CHECK(s->in_region ? s->owner < io->nregions : s->owner < io->nunits);
    }
    for (uint32_t i = 0; i < io->nregions; i++) {
        const struct acpi_iommu_region *r = &io->regions[i];
        CHECK(r->length > 0 && r->base + r->length - 1 >= r->base && r->first <= r->last);
        CHECK(r->first_scope + r->nscopes <= io->nscopes);
    }
}

static void check_model(void)
{
    const struct acpi_iommu_info *io = &info.iommu;
    iommu_model_build(io, &pci, &model);
    CHECK(model.nranges <= IOMMU_MAX_RANGES);
    char buf[128];
    for (uint32_t i = 0; i < io->nscopes; i++) {
        iommu_scope_text(&model, i, buf, sizeof(buf));
        CHECK(fz_terminated(buf, sizeof(buf)));
        iommu_scope_text(&model, i, buf, 7); /* a short buffer is cut, not overrun */
        CHECK(fz_terminated(buf, 7));
    }
    for (uint32_t bus = 0; bus < 5; bus++) {
        for (uint32_t devfn = 0; devfn < 256; devfn += 3) {
            struct iommu_cover c = iommu_lookup(&model, 0, (u8)bus, (u8)devfn);
            CHECK(c.unit >= -1 && c.unit < (int)io->nunits);
            if (c.how == IOMMU_SCOPE || c.how == IOMMU_ALL)
                CHECK(c.unit >= 0 && io->units[c.unit].usable);
            if (c.how == IOMMU_BAD_UNIT)
                CHECK(c.unit >= 0 && !io->units[c.unit].usable);
            iommu_cover_text(c, buf, sizeof(buf));
            CHECK(fz_terminated(buf, sizeof(buf)));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    uint8_t flags = data[0];
    uint32_t len = (uint32_t)(size - 1);
    uint8_t *tbl = malloc(len ? len : 1);
    memcpy(tbl, data + 1, len);
    bool ivrs = flags & F_IVRS;
    build_tree(flags);

    memset(&info, 0, sizeof(info));
    int rc = ivrs ? acpi_parse_ivrs(tbl, len, &info) : acpi_parse_dmar(tbl, len, &info);
    uint32_t superseded = 0;
    int want = ivrs ? ref_ivrs(tbl, len, &superseded) : ref_dmar(tbl, len);
    const struct acpi_iommu_info *io = &info.iommu;
    const char *err = ivrs ? io->ivrs_error : io->dmar_error;
    if (want < 0) {
        CHECK(rc == -EINVAL && !info.have_dmar && !info.have_ivrs);
        CHECK(io->nunits == 0 && io->nscopes == 0 && io->nregions == 0 && err[0]);
    } else {
        CHECK(rc == 0 && (ivrs ? info.have_ivrs : info.have_dmar) && err[0] == 0);
        CHECK(io->nunits == (uint32_t)want);
        if (ivrs)
            CHECK(io->ivhd_superseded == superseded);
    }
    check_info(&info);
    check_model();

    memset(&again, 0, sizeof(again));
    int rc2 = ivrs ? acpi_parse_ivrs(tbl, len, &again) : acpi_parse_dmar(tbl, len, &again);
    CHECK(rc2 == rc && memcmp(&again.iommu, &info.iommu, sizeof(info.iommu)) == 0);
    free(tbl);
    return 0;
}

static void seed_file(const char *dir, const char *fixtures, const char *machine, const char *file, uint8_t flags)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/%s", fixtures, machine, file);
    FILE *f = fopen(path, "rb");
    CHECK(f);
    static uint8_t buf[65536];
    buf[0] = flags;
    size_t n = fread(buf + 1, 1, sizeof(buf) - 1, f);
    fclose(f);
    CHECK(n > 0);
    fz_write_seed(dir, file, buf, n + 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("IOMMU_WRITE_SEEDS"), *fixtures = getenv("ACPI_FIXTURES");
    if (!dir)
        return 0;
    CHECK(fixtures);
    seed_file(dir, fixtures, "q35-intel-iommu", "DMAR.bin", 0);
    seed_file(dir, fixtures, "q35-amd-iommu", "IVRS.bin", F_IVRS);
    exit(0);
}
