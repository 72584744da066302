/* acpi_parse(): discovery, then each table's parser, then the AML scan. */
#include "drivers/acpi/aml.h"
#include "drivers/acpi/internal.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

typedef int (*table_parser)(const void *tbl, u32 len, struct acpi_info *out);

static const struct {
    char sig[5];
    table_parser parse;
} parsers[] = {
    { "FACP", acpi_parse_fadt }, { "APIC", acpi_parse_madt }, { "SRAT", acpi_parse_srat }, { "SLIT", acpi_parse_slit },
    { "MCFG", acpi_parse_mcfg }, { "HPET", acpi_parse_hpet }, { "DMAR", acpi_parse_dmar }, { "IVRS", acpi_parse_ivrs },
};

static void parse_tables(const struct acpi_mem *mem, struct acpi_info *out)
{
    bool done[ARRAY_SIZE(parsers)] = { false };

    for (u32 i = 0; i < out->ntables; i++) {
        const struct acpi_table_desc *t = &out->tables[i];
        for (u32 k = 0; k < ARRAY_SIZE(parsers); k++) {
            if (t->status != ACPI_TABLE_OK || memcmp(t->signature, parsers[k].sig, 4) != 0)
                continue;
            if (done[k]) {
                log_warn(ACPI_TAG, "second %s table at %#llx ignored", t->signature, (unsigned long long)t->pa);
                continue;
            }
            const void *p = acpi_map_table(mem, t);
            if (!p)
                continue;
            done[k] = true;
            /* A table that is malformed as a whole was logged by its parser. */
            (void)parsers[k].parse(p, t->length, out);
        }
    }
}

static void scan_aml(const struct acpi_mem *mem, struct acpi_info *out)
{
    struct aml_scanner scanner;
    const struct acpi_table_desc *t;

    aml_scan_init(&scanner, out);
    if ((t = acpi_find_table(out, "DSDT", 0)) != NULL) {
        const void *p = acpi_map_table(mem, t);
        if (p)
            aml_scan_table(&scanner, p, t->length);
    }
    for (u32 i = 0; (t = acpi_find_table(out, "SSDT", i)) != NULL; i++) {
        const void *p = acpi_map_table(mem, t);
        if (p)
            aml_scan_table(&scanner, p, t->length);
    }
    aml_scan_finish(&scanner);
}

static void log_summary(const struct acpi_info *out)
{
    log_info(ACPI_TAG, "RSDP rev %u (%s) at %#llx, %u tables via %s", out->rsdp_revision, out->rsdp_oem_id,
             (unsigned long long)out->rsdp_pa, out->ntables, out->using_xsdt ? "XSDT" : "RSDT");
    if (out->have_madt)
        log_info(ACPI_TAG, "MADT: %u processor entries, %u I/O APICs, local APIC at %#llx", out->madt.ncpus,
                 out->madt.nioapics, (unsigned long long)out->madt.lapic_base);
    if (out->have_srat)
        log_info(ACPI_TAG, "SRAT: %u processor and %u memory affinities (%u disabled)", out->srat.ncpus, out->srat.nmem,
                 out->srat.disabled);
    if (out->have_slit)
        log_info(ACPI_TAG, "SLIT: %u localities", out->slit.n);
    const struct acpi_iommu_info *io = &out->iommu;
    if (out->have_dmar)
        log_info(ACPI_TAG, "DMAR: DMA address width %u, interrupt remapping %s, %u reserved regions", io->dmar_haw,
                 io->dmar_intr_remap ? "yes" : "no", io->nregions);
    for (u32 i = 0; i < io->nunits; i++) {
        const struct acpi_iommu_unit *u = &io->units[i];
        log_info(ACPI_TAG, "iommu%u: %s registers %#llx segment %u, %u scopes%s%s", i,
                 acpi_iommu_vendor_name(u->vendor), (unsigned long long)u->base, u->segment, u->nscopes,
                 u->include_all ? ", all other devices" : "", u->usable ? "" : ": not used");
    }
    const struct acpi_aml_stats *a = &out->aml;
    log_info(ACPI_TAG,
             "AML: %u tables, %u devices, %u PCI host bridges, \\_S5 %s, "
             "%u constructs not understood (%u methods, %u conditionals, %u loads, "
             "%u odd values, %u malformed)",
             a->tables, a->devices, out->npci_roots, out->s5.valid ? "found" : "missing", a->not_understood,
             a->method_ids, a->conditional, a->loads, a->odd_values, a->bad);
    for (u32 i = 0; i < out->npci_roots; i++) {
        const struct acpi_pci_root *r = &out->pci_roots[i];
        if (r->has_pxm)
            log_info(ACPI_TAG, "PCI host bridge %s: segment %u bus %#x _PXM %u", r->path, r->segment, r->base_bus,
                     r->pxm);
        else
            log_info(ACPI_TAG, "PCI host bridge %s: segment %u bus %#x _PXM none", r->path, r->segment, r->base_bus);
    }
}

int acpi_parse(const struct acpi_mem *mem, u64 rsdp_pa, struct acpi_info *out)
{
    memset(out, 0, sizeof(*out));
    int rc = acpi_discover(mem, rsdp_pa, out);
    if (rc)
        return rc;

    parse_tables(mem, out);
    if (out->have_fadt) {
        if (out->fadt.dsdt) {
            const struct acpi_table_desc *d = acpi_add_table(mem, out, out->fadt.dsdt, "DSDT");
            /* A table listed already is returned as it is, whatever its signature. */
            out->have_dsdt = d && d->status == ACPI_TABLE_OK && memcmp(d->signature, "DSDT", 4) == 0;
            if (d && d->status == ACPI_TABLE_OK && !out->have_dsdt)
                log_warn(ACPI_TAG, "FACP's DSDT pointer %#llx names the %s table: no DSDT",
                         (unsigned long long)out->fadt.dsdt, d->signature);
        } else {
            log_warn(ACPI_TAG, "FACP has no DSDT pointer");
        }
        if (out->fadt.facs)
            (void)acpi_add_facs(mem, out, out->fadt.facs);
    } else {
        log_warn(ACPI_TAG, "no usable FACP: no DSDT, PM registers or reset register");
    }
    scan_aml(mem, out);
    log_summary(out);
    return 0;
}
