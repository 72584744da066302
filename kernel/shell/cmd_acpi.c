/* The `acpi` shell command: the tables firmware gave, and a raw dump of them
 * (tools/acpi-capture.py turns a dump into unit-test fixtures). */
#include "kernel/lib/shell_core.h"
#include "drivers/machine.h"
#include "kernel/core/console.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/lib/printf.h"

static void hexdump(const u8 *p, u64 len)
{
    char line[2 * 32 + 2];
    static const char hex[] = "0123456789abcdef";
    for (u64 off = 0; off < len; off += 32) {
        size_t n = 0;
        for (u64 i = off; i < len && i < off + 32; i++) {
            line[n++] = hex[p[i] >> 4];
            line[n++] = hex[p[i] & 15];
        }
        line[n++] = '\n';
        con_write(line, n);
    }
}

static int dump_one(const char *sig, u64 pa, u64 len)
{
    const u8 *p = machine_acpi_mem.map(machine_acpi_mem.opaque, pa, len);
    if (!p) {
        con_printf("acpi: %s at %llx is not readable\n", sig, (unsigned long long)pa);
        return -EFAULT;
    }
    con_printf("table %s %016llx %llu\n", sig, (unsigned long long)pa, (unsigned long long)len);
    hexdump(p, len);
    return 0;
}

static void show_scopes(u32 first, u32 n)
{
    char text[128];
    for (u32 k = 0; k < n; k++) {
        iommu_scope_text(&machine.iommu, first + k, text, sizeof(text));
        con_printf("      %s\n", text);
    }
}

static void show_unit(const struct acpi_info *a, u32 i)
{
    const struct acpi_iommu_unit *u = &a->iommu.units[i];
    char fn[40] = "";
    if (u->vendor == ACPI_IOMMU_AMDVI)
        ksnprintf(fn, sizeof(fn), " (IVHD %02xh, function %02x:%02x.%u)", u->type, u->device_id >> 8,
                  (u->device_id >> 3) & 31, u->device_id & 7);
    con_printf("  iommu%u %s%s registers %016llx segment %u: %u scopes%s", i, acpi_iommu_vendor_name(u->vendor), fn,
               (unsigned long long)u->base, u->segment, u->nscopes, u->include_all ? ", all other devices" : "");
    if (u->ignored)
        con_printf(", %u of reserved types ignored", u->ignored);
    if (u->usable)
        con_printf(": ok\n");
    else
        con_printf(": NOT USED: %s\n", u->error);
    const struct iommu_hw *h = i < machine.iommu_hw.n ? &machine.iommu_hw.unit[i] : NULL;
    if (h && h->on)
        con_printf("    on: %s; %u devices attached, %u interrupt entries, %llu faults, %llu lost\n", h->info,
                   h->attached, h->irq_entries, (unsigned long long)h->faults, (unsigned long long)h->lost);
    else if (h && u->usable)
        con_printf("    OFF: %s\n", h->why);
    show_scopes(u->first_scope, u->nscopes);
}

static void show_region(const struct acpi_iommu_region *r)
{
    unsigned long long last = (unsigned long long)(r->base + r->length - 1);
    if (r->kind == ACPI_IOMMU_RMRR) {
        con_printf("  reserved memory (RMRR) %016llx-%016llx segment %u, for:\n", (unsigned long long)r->base, last,
                   r->segment);
        show_scopes(r->first_scope, r->nscopes);
    } else {
        con_printf("  reserved memory (IVMD) %016llx-%016llx for devices %02x:%02x.%u-%02x:%02x.%u\n",
                   (unsigned long long)r->base, last, r->first >> 8, (r->first >> 3) & 31, r->first & 7, r->last >> 8,
                   (r->last >> 3) & 31, r->last & 7);
    }
}

/* The DMA remapping tables: what each unit covers, or why it is not used. */
static void show_iommus(const struct acpi_info *a)
{
    const struct acpi_iommu_info *io = &a->iommu;
    if (acpi_find_table(a, "DMAR", 0)) {
        if (a->have_dmar)
            con_printf("DMAR: DMA address width %u bits, interrupt remapping %s, %u ATSR, %u other structures\n",
                       io->dmar_haw, io->dmar_intr_remap ? "supported" : "not supported", io->dmar_atsr,
                       io->dmar_other);
        else
            con_printf("DMAR: NOT USED: %s\n", io->dmar_error);
    }
    if (acpi_find_table(a, "IVRS", 0)) {
        if (a->have_ivrs)
            con_printf("IVRS: IVinfo %08x, %u IVHD superseded by a higher type, %u other blocks\n", io->ivinfo,
                       io->ivhd_superseded, io->ivrs_other);
        else
            con_printf("IVRS: NOT USED: %s\n", io->ivrs_error);
    }
    for (u32 i = 0; i < io->nunits; i++)
        show_unit(a, i);
    for (u32 i = 0; i < io->nregions; i++)
        show_region(&io->regions[i]);
    if (io->bad_regions || io->regions_dropped)
        con_printf("  %u reserved regions malformed, %u beyond the cap (see 'log warn')\n", io->bad_regions,
                   io->regions_dropped);
    if (io->nunits)
        con_printf("DMA remapping: %u of %u units on; a device no partition owns is blocked, a partition's devices "
                   "reach only its memory\n",
                   machine.iommu_hw.non, io->nunits);
}

static int cmd_acpi(int argc, char **argv)
{
    const struct acpi_info *a = &machine.acpi;
    if (!machine.acpi_ok) {
        con_printf("acpi: no usable ACPI tables (see 'log warn')\n");
        return 0;
    }
    if (argc == 1) {
        con_printf("RSDP at %016llx, revision %u, OEM '%s', root table %s\n", (unsigned long long)a->rsdp_pa,
                   a->rsdp_revision, a->rsdp_oem_id, a->using_xsdt ? "XSDT" : "RSDT");
        con_printf("SIG   ADDRESS           LENGTH  REV  OEM     OEM TABLE  STATUS\n");
        for (u32 i = 0; i < a->ntables; i++) {
            const struct acpi_table_desc *t = &a->tables[i];
            con_printf("%-5s %016llx  %-6u  %-3u  %-6s  %-9s  %s\n", t->signature, (unsigned long long)t->pa, t->length,
                       t->revision, t->oem_id, t->oem_table_id, acpi_table_status_name(t->status));
        }
        con_printf("AML: %u tables, %u devices, %u PCI host bridges, %u constructs not understood; "
                   "\\_S5 %s\n",
                   a->aml.tables, a->aml.devices, a->npci_roots, a->aml.not_understood,
                   a->s5.valid ? "found" : "missing");
        for (u32 i = 0; i < a->npci_roots; i++) {
            const struct acpi_pci_root *r = &a->pci_roots[i];
            char pxm[16];
            if (r->has_pxm)
                ksnprintf(pxm, sizeof(pxm), "%u", r->pxm);
            else
                kstrlcpy(pxm, "none", sizeof(pxm));
            con_printf("  host bridge %s %s segment %u bus %02x _PXM %s\n", r->path, r->hid, r->segment, r->base_bus,
                       pxm);
        }
        show_iommus(a);
        return 0;
    }
    if (strcmp(argv[1], "dump") || argc > 3)
        return -EINVAL;
    const char *only = argc == 3 ? argv[2] : NULL;
    con_printf("acpi-dump begin\n");
    if (!only || !strcmp(only, "RSDP"))
        dump_one("RSDP", a->rsdp_pa, a->rsdp_revision >= 2 ? 36 : 20);
    for (u32 i = 0; i < a->ntables; i++) {
        const struct acpi_table_desc *t = &a->tables[i];
        if (only && strcmp(only, t->signature))
            continue;
        if (t->status == ACPI_TABLE_UNMAPPED || !t->length)
            continue;
        dump_one(t->signature, t->pa, t->length);
    }
    con_printf("acpi-dump end\n");
    return 0;
}
SHELL_COMMAND(acpi, "acpi [dump [SIGNATURE]]",
              "list the ACPI tables, PCI host bridges and DMA remapping units, or dump tables in hex", cmd_acpi);
