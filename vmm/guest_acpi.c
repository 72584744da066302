/* Partition ACPI tables; see guest_acpi.h. The layouts are the ones the ACPI
 * parser uses (drivers/acpi/tables.h, with their offset assertions), so the
 * builder and the parser agree by construction and the unit test parses what is
 * built here. */
#include "vmm/guest_acpi.h"
#include "drivers/acpi/tables.h"
#include "drivers/acpi/acpi.h"
#include "vmm/layout.h"
#include "arch/x86/hw/ioapic.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

#define X(v) ((unsigned long long)(v))

#define RSDP_REVISION 2 /* ACPI 2.0+ RSDP with XSDT (5.2.5.3) */
#define XSDT_REVISION 1
#define FADT_REVISION 6 /* ACPI 6.x, 276 bytes (5.2.9) */
#define FADT_MINOR    5 /* ACPI 6.5 */
#define DSDT_REVISION 2 /* 64-bit AML integers (5.2.11.1) */
#define MADT_REVISION 5 /* ACPI 6.3+ (online-capable flag defined) */
#define SRAT_REVISION 3
#define SLIT_REVISION 1
#define CREATOR_REV   1

/* FADT flags beyond those in tables.h (ACPI 6.5 table 5.10). */
#define FADT_F_PROC_C1    BIT(2)  /* C1 (HLT) works on every processor */
#define FADT_F_PWR_BUTTON BIT(4)  /* set: no fixed-feature power button */
#define FADT_F_SLP_BUTTON BIT(5)  /* set: no fixed-feature sleep button */
#define FADT_F_HEADLESS   BIT(12) /* no local video, keyboard or mouse */
#define GUEST_FADT_FLAGS                                                                                               \
    (ACPI_FADT_WBINVD | FADT_F_PROC_C1 | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON | FADT_F_HEADLESS |                     \
     ACPI_FADT_HW_REDUCED_ACPI | ACPI_FADT_RESET_REG_SUP)

/* IA-PC boot architecture flags (table 5.11): no VGA; bit 1 clear says there
 * is no 8042, bit 0 clear no legacy ISA devices. Bit 5 (CMOS RTC not present)
 * stays clear: the partition has one (vmm/dev/rtc.c), in the DSDT. */
#define IAPC_VGA_NOT_PRESENT BIT(2)
#define GUEST_IAPC_BOOT_ARCH IAPC_VGA_NOT_PRESENT

/* A LAPIC (type 0) entry holds 8-bit APIC ID and UID; 0xff means "all" in NMI
 * entries, so IDs and UIDs of 255 and above need an x2APIC entry (5.2.12.12). */
#define LAPIC_ENTRY_MAX_ID 254

static bool use_x2apic_entry(u32 apic_id, u32 uid) { return apic_id > LAPIC_ENTRY_MAX_ID || uid > LAPIC_ENTRY_MAX_ID; }

static u32 madt_len(const struct guest_acpi_config *cfg)
{
    u32 len = sizeof(struct acpi_madt) + sizeof(struct acpi_madt_ioapic) + sizeof(struct acpi_madt_iso);
    for (u32 i = 0; i < cfg->nvcpus; i++)
        len += use_x2apic_entry(cfg->apic_ids[i], i) ? sizeof(struct acpi_madt_x2apic) : sizeof(struct acpi_madt_lapic);
    return len;
}

static u32 srat_len(const struct guest_acpi_config *cfg)
{
    u32 len = sizeof(struct acpi_srat);
    for (u32 i = 0; i < cfg->nvcpus; i++)
        len += cfg->apic_ids[i] > LAPIC_ENTRY_MAX_ID ? sizeof(struct acpi_srat_x2apic) : sizeof(struct acpi_srat_lapic);
    return len + cfg->numa->nmem * (u32)sizeof(struct acpi_srat_memory);
}

static int check_config(const struct guest_acpi_config *cfg, char *err, size_t errlen)
{
    if (!cfg)
        return kerr_fmt(err, errlen, -EINVAL, "no configuration");
    if (cfg->oem_id && strnlen(cfg->oem_id, 7) > 6)
        return kerr_fmt(err, errlen, -EINVAL, "OEM ID is longer than 6 characters");
    if (cfg->oem_table_id && strnlen(cfg->oem_table_id, 9) > 8)
        return kerr_fmt(err, errlen, -EINVAL, "OEM table ID is longer than 8 characters");
    if (cfg->nvcpus == 0 || cfg->nvcpus > GUEST_ACPI_MAX_VCPUS || !cfg->apic_ids)
        return kerr_fmt(err, errlen, -EINVAL, "%u vCPUs (1 to %u supported)", cfg->nvcpus, GUEST_ACPI_MAX_VCPUS);
    for (u32 i = 0; i < cfg->nvcpus; i++) {
        if (cfg->apic_ids[i] == 0xffffffffu)
            return kerr_fmt(err, errlen, -EINVAL, "vCPU %u has APIC ID 0xffffffff", i);
        for (u32 j = 0; j < i; j++)
            if (cfg->apic_ids[j] == cfg->apic_ids[i])
                return kerr_fmt(err, errlen, -EINVAL, "vCPUs %u and %u share APIC ID %u", j, i, cfg->apic_ids[i]);
    }
    if (cfg->dsdt_aml_len > GUEST_ACPI_MAX_AML || (cfg->dsdt_aml_len && !cfg->dsdt_aml))
        return kerr_fmt(err, errlen, -EINVAL, "DSDT AML of %u bytes (at most %u)", cfg->dsdt_aml_len,
                        GUEST_ACPI_MAX_AML);

    const struct guest_acpi_numa *nu = cfg->numa;
    if (!nu)
        return 0;
    if (nu->ndomains == 0 || nu->ndomains > GUEST_ACPI_MAX_DOMAINS || !nu->cpu_domain)
        return kerr_fmt(err, errlen, -EINVAL, "%u NUMA domains (1 to %u supported)", nu->ndomains,
                        GUEST_ACPI_MAX_DOMAINS);
    if (nu->nmem > GUEST_ACPI_MAX_MEM || (nu->nmem && !nu->mem))
        return kerr_fmt(err, errlen, -EINVAL, "%u memory affinity ranges (at most %u)", nu->nmem, GUEST_ACPI_MAX_MEM);
    for (u32 i = 0; i < cfg->nvcpus; i++)
        if (nu->cpu_domain[i] >= nu->ndomains)
            return kerr_fmt(err, errlen, -EINVAL, "vCPU %u is in domain %u of %u", i, nu->cpu_domain[i], nu->ndomains);
    for (u32 i = 0; i < nu->nmem; i++) {
        const struct guest_acpi_mem_affinity *m = &nu->mem[i];
        if (m->length == 0 || m->length > ~0ULL - m->base || m->domain >= nu->ndomains)
            return kerr_fmt(err, errlen, -EINVAL, "memory affinity %u [0x%llx, +0x%llx) in domain %u is invalid", i,
                            X(m->base), X(m->length), m->domain);
    }
    if (nu->distances) {
        for (u32 i = 0; i < nu->ndomains; i++) {
            for (u32 j = 0; j < nu->ndomains; j++) {
                u8 d = nu->distances[i * nu->ndomains + j];
                if (i == j ? d != 10 : d <= 10)
                    return kerr_fmt(err, errlen, -EINVAL, "distance %u from domain %u to %u is invalid (%s)", d, i, j,
                                    i == j ? "must be 10" : "must be above 10");
            }
        }
    }
    return 0;
}

int guest_acpi_layout(const struct guest_acpi_config *cfg, gpa_t base, struct guest_acpi_layout *out, char *err,
                      size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return kerr_fmt(err, errlen, -EINVAL, "bad arguments");
    memset(out, 0, sizeof(*out));
    int rc = check_config(cfg, err, errlen);
    if (rc)
        return rc;
    if (!IS_ALIGNED(base.v, 16))
        return kerr_fmt(err, errlen, -EINVAL, "ACPI tables at 0x%llx: not 16-byte aligned", X(base.v));

    bool numa = cfg->numa != NULL, slit = numa && cfg->numa->distances;
    u32 ntables = 2 + (numa ? 1 : 0) + (slit ? 1 : 0); /* XSDT: FADT, MADT, SRAT, SLIT */
    /* All sizes are bounded by the caps above (well below 2^32). */
    u64 off = sizeof(struct acpi_rsdp), o_xsdt, o_fadt, o_dsdt, o_madt, o_srat = 0, o_slit = 0;
    o_xsdt = ALIGN_UP(off, 8);
    off = o_xsdt + sizeof(struct acpi_header) + 8ULL * ntables;
    o_fadt = ALIGN_UP(off, 8);
    off = o_fadt + sizeof(struct acpi_fadt);
    o_dsdt = ALIGN_UP(off, 8);
    off = o_dsdt + sizeof(struct acpi_header) + cfg->dsdt_aml_len;
    o_madt = ALIGN_UP(off, 8);
    off = o_madt + madt_len(cfg);
    if (numa) {
        o_srat = ALIGN_UP(off, 8);
        off = o_srat + srat_len(cfg);
    }
    if (slit) {
        o_slit = ALIGN_UP(off, 8);
        off = o_slit + sizeof(struct acpi_slit) + (u64)cfg->numa->ndomains * cfg->numa->ndomains;
    }
    if (off > ~0ULL - base.v)
        return kerr_fmt(err, errlen, -EINVAL, "ACPI tables at 0x%llx wrap around", X(base.v));
    out->size = off;
    out->rsdp = base.v;
    out->xsdt = base.v + o_xsdt;
    out->fadt = base.v + o_fadt;
    out->dsdt = base.v + o_dsdt;
    out->madt = base.v + o_madt;
    out->srat = numa ? base.v + o_srat : 0;
    out->slit = slit ? base.v + o_slit : 0;
    return 0;
}

static u8 sum8(const u8 *p, u64 len)
{
    u8 s = 0;
    for (u64 i = 0; i < len; i++)
        s = (u8)(s + p[i]);
    return s;
}

/* A fixed-width ACPI string field: the text, padded with spaces. */
static void put_id(char *dst, const char *src, size_t width)
{
    size_t n = strnlen(src, width);
    memcpy(dst, src, n);
    memset(dst + n, ' ', width - n);
}

static void header(struct acpi_header *h, const char *sig, u32 len, u8 rev, const struct guest_acpi_config *cfg)
{
    memcpy(h->signature, sig, 4);
    h->length = len;
    h->revision = rev;
    h->checksum = 0;
    put_id(h->oem_id, cfg->oem_id ? cfg->oem_id : GUEST_ACPI_OEM_ID, sizeof(h->oem_id));
    put_id(h->oem_table_id, cfg->oem_table_id ? cfg->oem_table_id : GUEST_ACPI_OEM_TABLE_ID, sizeof(h->oem_table_id));
    h->oem_revision = cfg->oem_revision;
    memcpy(h->creator_id, GUEST_ACPI_CREATOR_ID, 4);
    h->creator_revision = CREATOR_REV;
}

static void finish(void *table)
{
    struct acpi_header *h = table;
    h->checksum = (u8)(0 - sum8(table, h->length));
}

static void build_fadt(u8 *p, const struct guest_acpi_layout *l, const struct guest_acpi_config *cfg)
{
    struct acpi_fadt *f = (struct acpi_fadt *)p;
    header(&f->hdr, "FACP", sizeof(*f), FADT_REVISION, cfg);
    f->minor_version = FADT_MINOR;
    /* X_DSDT only: "if X_DSDT is non-zero, DSDT must be zero" (table 5.9). No FACS
     * (allowed with HW_REDUCED_ACPI), no SCI, no PM1/PM timer/GPE blocks; the
     * sleep registers of hardware-reduced ACPI instead of PM1 control. */
    f->x_dsdt = l->dsdt;
    /* Power-off: SLP_EN with \_S5's type to the sleep control register. */
    f->sleep_control_reg = (struct acpi_gas_raw){ ACPI_SPACE_IO, 8, 0, 1, LAYOUT_SLEEP_CTL_PORT };
    f->sleep_status_reg = (struct acpi_gas_raw){ ACPI_SPACE_IO, 8, 0, 1, LAYOUT_SLEEP_STS_PORT };
    /* Restart: the reset register, which Linux's reboot=acpi (and Windows)
     * write first; its default on this platform reaches it through the reset
     * vector instead (vmm/dev/power.c). */
    f->reset_reg = (struct acpi_gas_raw){ ACPI_SPACE_IO, 8, 0, 1, LAYOUT_RESET_PORT };
    f->reset_value = LAYOUT_RESET_VALUE;
    f->flags = GUEST_FADT_FLAGS;
    f->iapc_boot_arch = GUEST_IAPC_BOOT_ARCH;
    memcpy(&f->hypervisor_vendor_id, "Isthmus", 8);
    finish(f);
}

static void build_madt(u8 *p, const struct guest_acpi_config *cfg)
{
    struct acpi_madt *m = (struct acpi_madt *)p;
    u32 len = madt_len(cfg);
    header(&m->hdr, "APIC", len, MADT_REVISION, cfg);
    m->lapic_address = GUEST_ACPI_LAPIC_BASE;
    m->flags = 0; /* no PC-AT 8259 pair to mask */
    u8 *e = p + sizeof(*m);
    for (u32 i = 0; i < cfg->nvcpus; i++) {
        u32 id = cfg->apic_ids[i];
        if (use_x2apic_entry(id, i)) {
            struct acpi_madt_x2apic *x = (struct acpi_madt_x2apic *)e;
            x->h = (struct acpi_subtable){ ACPI_MADT_X2APIC, sizeof(*x) };
            x->reserved = 0;
            x->x2apic_id = id;
            x->flags = ACPI_MADT_ENABLED;
            x->processor_uid = i;
            e += sizeof(*x);
        } else {
            struct acpi_madt_lapic *a = (struct acpi_madt_lapic *)e;
            a->h = (struct acpi_subtable){ ACPI_MADT_LAPIC, sizeof(*a) };
            a->processor_uid = (u8)i;
            a->apic_id = (u8)id;
            a->flags = ACPI_MADT_ENABLED;
            e += sizeof(*a);
        }
    }
    struct acpi_madt_ioapic *io = (struct acpi_madt_ioapic *)e;
    *io = (struct acpi_madt_ioapic){
        { ACPI_MADT_IOAPIC, sizeof(*io) }, GUEST_ACPI_IOAPIC_ID, 0, IOAPIC_DEFAULT_BASE, 0
    };
    e += sizeof(*io);
    struct acpi_madt_iso *iso = (struct acpi_madt_iso *)e;
    *iso = (struct acpi_madt_iso){
        { ACPI_MADT_ISO, sizeof(*iso) }, 0, GUEST_ACPI_COM1_IRQ, GUEST_ACPI_COM1_IRQ, GUEST_ACPI_COM1_ISO_FLAGS
    };
    finish(m);
}

static void build_srat(u8 *p, const struct guest_acpi_config *cfg)
{
    const struct guest_acpi_numa *nu = cfg->numa;
    struct acpi_srat *s = (struct acpi_srat *)p;
    header(&s->hdr, "SRAT", srat_len(cfg), SRAT_REVISION, cfg);
    s->reserved1 = 1; /* "must be 1" for backward compatibility */
    s->reserved2 = 0;
    u8 *e = p + sizeof(*s);
    for (u32 i = 0; i < cfg->nvcpus; i++) {
        u32 id = cfg->apic_ids[i], dom = nu->cpu_domain[i];
        if (id > LAPIC_ENTRY_MAX_ID) {
            struct acpi_srat_x2apic *x = (struct acpi_srat_x2apic *)e;
            x->h = (struct acpi_subtable){ ACPI_SRAT_X2APIC, sizeof(*x) };
            x->domain = dom;
            x->x2apic_id = id;
            x->flags = ACPI_SRAT_ENABLED;
            e += sizeof(*x);
        } else {
            struct acpi_srat_lapic *a = (struct acpi_srat_lapic *)e;
            a->h = (struct acpi_subtable){ ACPI_SRAT_LAPIC, sizeof(*a) };
            a->domain_lo = (u8)dom;
            a->apic_id = (u8)id;
            a->flags = ACPI_SRAT_ENABLED;
            a->domain_hi[0] = (u8)(dom >> 8);
            a->domain_hi[1] = (u8)(dom >> 16);
            a->domain_hi[2] = (u8)(dom >> 24);
            e += sizeof(*a);
        }
    }
    for (u32 i = 0; i < nu->nmem; i++) {
        struct acpi_srat_memory *m = (struct acpi_srat_memory *)e;
        m->h = (struct acpi_subtable){ ACPI_SRAT_MEMORY, sizeof(*m) };
        m->domain = nu->mem[i].domain;
        m->base_lo = (u32)nu->mem[i].base;
        m->base_hi = (u32)(nu->mem[i].base >> 32);
        m->length_lo = (u32)nu->mem[i].length;
        m->length_hi = (u32)(nu->mem[i].length >> 32);
        m->flags = ACPI_SRAT_ENABLED;
        e += sizeof(*m);
    }
    finish(s);
}

static void build_slit(u8 *p, const struct guest_acpi_config *cfg)
{
    const struct guest_acpi_numa *nu = cfg->numa;
    struct acpi_slit *s = (struct acpi_slit *)p;
    u32 n = nu->ndomains;
    header(&s->hdr, "SLIT", (u32)sizeof(*s) + n * n, SLIT_REVISION, cfg);
    s->locality_count = n;
    memcpy(p + sizeof(*s), nu->distances, (size_t)n * n);
    finish(s);
}

int guest_acpi_build(const struct guest_acpi_config *cfg, gpa_t base, void *buf, u64 buf_size,
                     struct guest_acpi_layout *out, char *err, size_t errlen)
{
    struct guest_acpi_layout l;
    int rc = guest_acpi_layout(cfg, base, &l, err, errlen);
    if (rc)
        return rc;
    if (!buf)
        return kerr_fmt(err, errlen, -EINVAL, "bad arguments");
    if (l.size > buf_size)
        return kerr_fmt(err, errlen, -ENOSPC, "the ACPI tables need %llu bytes, the buffer has %llu", X(l.size),
                        X(buf_size));
    u8 *b = buf;
    memset(b, 0, buf_size);
#define AT(gpa_) (b + ((gpa_)-base.v))

    /* XSDT: 64-bit pointers right after the header, not naturally aligned. */
    u64 entries[4];
    u32 n = 0;
    entries[n++] = l.fadt;
    entries[n++] = l.madt;
    if (l.srat)
        entries[n++] = l.srat;
    if (l.slit)
        entries[n++] = l.slit;
    struct acpi_header *x = (struct acpi_header *)AT(l.xsdt);
    header(x, "XSDT", (u32)sizeof(*x) + 8 * n, XSDT_REVISION, cfg);
    memcpy(AT(l.xsdt) + sizeof(*x), entries, 8 * n);
    finish(x);

    build_fadt(AT(l.fadt), &l, cfg);

    struct acpi_header *d = (struct acpi_header *)AT(l.dsdt);
    header(d, "DSDT", (u32)sizeof(*d) + cfg->dsdt_aml_len, DSDT_REVISION, cfg);
    if (cfg->dsdt_aml_len)
        memcpy(AT(l.dsdt) + sizeof(*d), cfg->dsdt_aml, cfg->dsdt_aml_len);
    finish(d);

    build_madt(AT(l.madt), cfg);
    if (l.srat)
        build_srat(AT(l.srat), cfg);
    if (l.slit)
        build_slit(AT(l.slit), cfg);

    /* RSDP last: it points at the finished XSDT. */
    struct acpi_rsdp *r = (struct acpi_rsdp *)AT(l.rsdp);
    memcpy(r->signature, "RSD PTR ", 8);
    put_id(r->oem_id, cfg->oem_id ? cfg->oem_id : GUEST_ACPI_OEM_ID, sizeof(r->oem_id));
    r->revision = RSDP_REVISION;
    r->rsdt_address = 0;
    r->length = sizeof(*r);
    r->xsdt_address = l.xsdt;
    r->checksum = (u8)(0 - sum8((const u8 *)r, ACPI_RSDP_V1_SIZE));
    r->ext_checksum = (u8)(0 - sum8((const u8 *)r, sizeof(*r)));
#undef AT
    if (out)
        *out = l;
    return 0;
}
