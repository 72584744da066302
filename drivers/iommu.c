/* See iommu.h. */
#include "drivers/iommu.h"
#include "kernel/core/log.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

#define TAG "iommu"

static u16 rid(u8 bus, u8 devfn) { return (u16)(bus << 8 | devfn); }

static const struct pci_dev *find_fn(const struct pci_list *pci, u16 seg, u8 bus, u8 devfn)
{
    for (u32 i = 0; pci && i < pci->count; i++) {
        const struct pci_dev *d = &pci->dev[i];
        if (d->seg == seg && d->bus == bus && d->dev == devfn >> 3 && d->fn == (devfn & 7))
            return d;
    }
    return NULL;
}

static void add_range(struct iommu_model *m, u16 seg, u16 first, u16 last, u8 unit)
{
    /* Two per scope at most, so the array cannot fill up. */
    if (m->nranges >= IOMMU_MAX_RANGES)
        return;
    struct iommu_range *r = &m->ranges[m->nranges++];
    r->seg = seg;
    r->first = first;
    r->last = last;
    r->unit = unit;
}

/* Follows a DMAR path from its start bus through the bridges (VT-d 8.3.1.1):
 * every hop but the last must be an enumerated bridge, whose secondary bus the
 * next hop is on. Returns the bus of the last hop, or -1 with why filled. */
static int follow(const struct pci_list *pci, u16 seg, const struct acpi_iommu_scope *s, char *why, size_t len)
{
    u8 bus = s->start_bus;
    for (u32 i = 0; i + 1 < s->hops; i++) {
        const struct pci_dev *d = find_fn(pci, seg, bus, s->path[i]);
        if (!d || !d->bridge) {
            ksnprintf(why, len, "bridge %02x:%02x.%u %s", bus, s->path[i] >> 3, s->path[i] & 7,
                      d ? "is no bridge" : "absent");
            return -1;
        }
        bus = d->sec_bus;
    }
    return bus;
}

static void resolve(struct iommu_model *m, const struct pci_list *pci, u32 i)
{
    const struct acpi_iommu_scope *s = &m->fw->scopes[i];
    if (s->in_region)
        return;
    const struct acpi_iommu_unit *u = &m->fw->units[s->owner];
    if (s->kind == ACPI_IOMMU_SCOPE_RANGE) {
        add_range(m, u->segment, s->first, s->last, s->owner);
        return;
    }
    if (s->kind != ACPI_IOMMU_SCOPE_ENDPOINT && s->kind != ACPI_IOMMU_SCOPE_BRIDGE)
        return; /* I/O APICs, HPETs, ACPI devices: interrupt sources, not PCI functions */
    int bus = follow(pci, u->segment, s, m->why[i], sizeof(m->why[i]));
    if (bus < 0) {
        m->unresolved[i] = true;
        m->nunresolved++;
        log_warn(TAG, "iommu%u: a device scope from bus %02x names no function: %s", s->owner, s->start_bus, m->why[i]);
        return;
    }
    u8 devfn = s->path[s->hops - 1];
    m->rid[i] = rid((u8)bus, devfn);
    add_range(m, u->segment, m->rid[i], m->rid[i], s->owner);
    if (s->kind != ACPI_IOMMU_SCOPE_BRIDGE)
        return;
    const struct pci_dev *b = find_fn(pci, u->segment, (u8)bus, devfn);
    if (b && b->bridge && b->sec_bus > bus && b->sub_bus >= b->sec_bus) {
        m->sec[i] = b->sec_bus;
        m->sub[i] = b->sub_bus;
        add_range(m, u->segment, rid(b->sec_bus, 0), rid(b->sub_bus, 0xff), s->owner);
    } else
        /* Firmware gave it no buses (or it is absent): nothing can sit below it. */
        ksnprintf(m->why[i], sizeof(m->why[i]), "%s", b ? "no buses below it" : "absent");
}

void iommu_model_build(const struct acpi_iommu_info *fw, const struct pci_list *pci, struct iommu_model *m)
{
    memset(m, 0, sizeof(*m));
    m->fw = fw;
    for (u32 i = 0; fw && i < fw->nscopes; i++)
        resolve(m, pci, i);
}

static struct iommu_cover cover(u8 how, int unit)
{
    struct iommu_cover c = { how, unit };
    return c;
}

struct iommu_cover iommu_lookup(const struct iommu_model *m, u16 seg, u8 bus, u8 devfn)
{
    if (!m || !m->fw)
        return cover(IOMMU_NONE, -1);
    const struct acpi_iommu_info *fw = m->fw;
    u16 id = rid(bus, devfn);
    int found = -1;
    bool ambiguous = false;
    for (u32 i = 0; i < m->nranges; i++) {
        const struct iommu_range *r = &m->ranges[i];
        if (r->seg != seg || id < r->first || id > r->last)
            continue;
        /* A unit that is not used translates nothing: never report the device
         * as covered because another, usable unit names it too. */
        if (!fw->units[r->unit].usable)
            return cover(IOMMU_BAD_UNIT, r->unit);
        if (found >= 0 && found != r->unit)
            ambiguous = true;
        found = r->unit;
    }
    if (ambiguous)
        return cover(IOMMU_AMBIGUOUS, -1);
    if (found >= 0)
        return cover(IOMMU_SCOPE, found);
    int all = -1;
    bool incomplete = false;
    for (u32 i = 0; i < fw->nunits; i++) {
        const struct acpi_iommu_unit *u = &fw->units[i];
        if (u->segment != seg)
            continue;
        if (u->include_all && all < 0)
            all = (int)i;
        if (!u->scopes_complete)
            incomplete = true;
    }
    if (all < 0)
        return cover(IOMMU_NONE, -1);
    if (!fw->units[all].usable)
        return cover(IOMMU_BAD_UNIT, all);
    /* A unit whose scopes could not all be read may be the one that really
     * translates for this device. */
    if (incomplete)
        return cover(IOMMU_UNKNOWN, all);
    return cover(IOMMU_ALL, all);
}

void iommu_cover_text(struct iommu_cover c, char *buf, size_t len)
{
    switch (c.how) {
    case IOMMU_SCOPE:
    case IOMMU_ALL: ksnprintf(buf, len, "iommu%d", c.unit); return;
    case IOMMU_BAD_UNIT: ksnprintf(buf, len, "bad:iommu%d", c.unit); return;
    case IOMMU_AMBIGUOUS: ksnprintf(buf, len, "ambiguous"); return;
    case IOMMU_UNKNOWN: ksnprintf(buf, len, "unknown"); return;
    }
    ksnprintf(buf, len, "none");
}

static const char *kind_name(u8 kind)
{
    switch (kind) {
    case ACPI_IOMMU_SCOPE_ENDPOINT: return "endpoint";
    case ACPI_IOMMU_SCOPE_BRIDGE: return "bridge";
    case ACPI_IOMMU_SCOPE_RANGE: return "devices";
    case ACPI_IOMMU_SCOPE_IOAPIC: return "I/O APIC";
    case ACPI_IOMMU_SCOPE_HPET: return "HPET";
    case ACPI_IOMMU_SCOPE_ACPI: return "ACPI device";
    }
    return "?";
}

/* "00:1c.0/00.0": the start bus, then each hop's device.function. */
static size_t path_text(const struct acpi_iommu_scope *s, char *buf, size_t len)
{
    size_t n = (size_t)ksnprintf(buf, len, "%02x:", s->start_bus);
    for (u32 i = 0; i < s->hops && n < len; i++)
        n += (size_t)ksnprintf(buf + n, len - n, "%s%02x.%u", i ? "/" : "", s->path[i] >> 3, s->path[i] & 7);
    return n < len ? n : len;
}

static void rid_text(u16 id, char *buf, size_t len)
{
    ksnprintf(buf, len, "%02x:%02x.%u", id >> 8, (id >> 3) & 31, id & 7);
}

void iommu_scope_text(const struct iommu_model *m, u32 i, char *buf, size_t len)
{
    if (!m || !m->fw || i >= m->fw->nscopes || len == 0) {
        if (len)
            buf[0] = '\0';
        return;
    }
    const struct acpi_iommu_scope *s = &m->fw->scopes[i];
    char a[24], b[24];
    size_t n = (size_t)ksnprintf(buf, len, "%s ", kind_name(s->kind));
    if (n >= len)
        return;
    bool special = s->kind == ACPI_IOMMU_SCOPE_IOAPIC || s->kind == ACPI_IOMMU_SCOPE_HPET;
    /* An IVRS ACPI device has no number, only the ID its requests carry. */
    if (special || (s->kind == ACPI_IOMMU_SCOPE_ACPI && s->hops))
        n += (size_t)ksnprintf(buf + n, len - n, "%u, source ", s->enum_id);
    else if (s->kind == ACPI_IOMMU_SCOPE_ACPI)
        n += (size_t)ksnprintf(buf + n, len - n, "source ");
    if (n >= len)
        return;
    if (s->hops) {
        n += path_text(s, buf + n, len - n);
        bool resolved = !special && s->kind != ACPI_IOMMU_SCOPE_ACPI && !s->in_region && !m->unresolved[i];
        if (resolved && n < len) {
            rid_text(m->rid[i], a, sizeof(a));
            n += (size_t)ksnprintf(buf + n, len - n, " = %s", a);
        }
        if (resolved && m->sec[i] && n < len)
            n += (size_t)ksnprintf(buf + n, len - n, ", buses %02x-%02x", m->sec[i], m->sub[i]);
    } else {
        rid_text(s->first, a, sizeof(a));
        rid_text(s->last, b, sizeof(b));
        n += (size_t)ksnprintf(buf + n, len - n, s->first == s->last ? "%s" : "%s-%s", a, b);
        if (s->has_alias && n < len) {
            rid_text(s->alias, a, sizeof(a));
            n += (size_t)ksnprintf(buf + n, len - n, " as %s", a);
        }
    }
    if (n < len && n > 0 && !s->in_region && m->why[i][0])
        ksnprintf(buf + n, len - n, ": %s", m->why[i]);
}
