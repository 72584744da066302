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
SHELL_COMMAND(acpi, "acpi [dump [SIGNATURE]]", "list the ACPI tables and PCI host bridges, or dump tables in hex",
              cmd_acpi);
