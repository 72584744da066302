/* Partition ACPI tables: built into an exactly-sized heap buffer, then parsed
 * with the hypervisor's own acpi_parse() through an acpi_mem over that buffer
 * (ASan catches any read past the tables), checking every field, plus raw bytes
 * where the parser does not look and every rejected configuration. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/guest_acpi.h"
#include "drivers/acpi/acpi.h"
#include "drivers/acpi/tables.h"
#include "vmm/layout.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "tests/unit/stubs.h"

#define BASE 0xe0000ULL

struct fmem {
    u64 base;
    const u8 *buf;
    u64 size;
};

/* The I/O APIC entry and the interrupt source override after the CPUs. */
#define MADT_IRQ_ENTRIES (12 + 10)

static const void *fmap(void *opaque, u64 pa, u64 len)
{
    const struct fmem *m = opaque;
    if (pa < m->base || pa - m->base > m->size || len > m->size - (pa - m->base))
        return NULL;
    return m->buf + (pa - m->base);
}

static struct acpi_info info;
static char err[GUEST_ACPI_ERR_LEN];

/* Builds cfg at BASE into a buffer of exactly the layout's size and parses it. */
static u8 *build_and_parse(const struct guest_acpi_config *cfg, struct guest_acpi_layout *l)
{
    assert_int_equal(guest_acpi_layout(cfg, gpa(BASE), l, err, sizeof(err)), 0);
    u8 *buf = malloc(l->size);
    assert_non_null(buf);
    memset(buf, 0xee, l->size);
    struct guest_acpi_layout l2;
    assert_int_equal(guest_acpi_build(cfg, gpa(BASE), buf, l->size, &l2, err, sizeof(err)), 0);
    assert_memory_equal(l, &l2, sizeof(*l));
    test_stubs_reset();
    struct fmem fm = { BASE, buf, l->size };
    struct acpi_mem mem = { fmap, &fm };
    assert_int_equal(acpi_parse(&mem, l->rsdp, &info), 0);
    if (test_log_count[LOG_ERROR] || test_log_count[LOG_WARN])
        fail_msg("the parser complained:\n%s", test_log_buf);
    return buf;
}

static const struct acpi_table_desc *table(const char *sig)
{
    const struct acpi_table_desc *t = acpi_find_table(&info, sig, 0);
    assert_non_null(t);
    assert_int_equal(t->status, ACPI_TABLE_OK);
    return t;
}

static void check_header(const u8 *buf, u64 gpa_, const char *sig, u32 len, u8 rev)
{
    const struct acpi_header *h = (const struct acpi_header *)(buf + (gpa_ - BASE));
    assert_memory_equal(h->signature, sig, 4);
    assert_int_equal(h->length, len);
    assert_int_equal(h->revision, rev);
    assert_int_equal(acpi_checksum(h, len), 0);
    assert_memory_equal(h->oem_id, "ISTHMS", 6);
    assert_memory_equal(h->oem_table_id, "ISTHMUS ", 8);
    assert_memory_equal(h->creator_id, "ISTH", 4);
    assert_int_equal(h->creator_revision, 1);
    assert_int_equal(h->oem_revision, 7);
}

static void test_basic(void **state)
{
    static const u32 ids[] = { 0, 2, 4, 6 };
    struct guest_acpi_config cfg = { .nvcpus = 4, .apic_ids = ids, .oem_revision = 7 };
    struct guest_acpi_layout l;
    u8 *buf = build_and_parse(&cfg, &l);

    /* Layout: RSDP at the base, everything 8-aligned, in order, inside size. */
    assert_int_equal(l.rsdp, BASE);
    assert_true(l.xsdt > l.rsdp && l.fadt > l.xsdt && l.dsdt > l.fadt && l.madt > l.dsdt);
    assert_int_equal(l.srat, 0);
    assert_int_equal(l.slit, 0);
    assert_int_equal(l.xsdt % 8 + l.fadt % 8 + l.dsdt % 8 + l.madt % 8, 0);
    assert_int_equal(l.madt + 44 + 4 * 8 + MADT_IRQ_ENTRIES, BASE + l.size);

    /* Discovery */
    assert_int_equal(info.rsdp_pa, BASE);
    assert_int_equal(info.rsdp_revision, 2);
    assert_string_equal(info.rsdp_oem_id, "ISTHMS");
    assert_true(info.using_xsdt);
    assert_int_equal(table("XSDT")->pa, l.xsdt);
    assert_int_equal(table("FACP")->pa, l.fadt);
    assert_int_equal(table("APIC")->pa, l.madt);
    assert_int_equal(table("DSDT")->pa, l.dsdt);
    assert_string_equal(table("FACP")->oem_table_id, "ISTHMUS ");
    assert_null(acpi_find_table(&info, "FACS", 0));
    assert_null(acpi_find_table(&info, "SRAT", 0));
    assert_int_equal(info.ntables, 4);
    assert_true(info.have_fadt && info.have_madt && info.have_dsdt);
    assert_false(info.have_srat || info.have_slit || info.have_mcfg || info.have_hpet);

    /* FADT */
    assert_int_equal(info.fadt.revision, 6);
    assert_int_equal(info.fadt.minor_version, 5);
    assert_int_equal(info.fadt.length, 276);
    assert_int_equal(info.fadt.dsdt, l.dsdt);
    assert_int_equal(info.fadt.facs, 0);
    assert_true(info.fadt.hw_reduced);
    /* Restart through the reset register, a byte port (the hypervisor's own
     * FADT parser reads it as Linux's acpi_reboot would). */
    assert_true(info.fadt.reset_supported);
    assert_int_equal(info.fadt.reset_reg.space, ACPI_SPACE_IO);
    assert_int_equal(info.fadt.reset_reg.bit_width, 8);
    assert_int_equal(info.fadt.reset_reg.address, LAYOUT_RESET_PORT);
    assert_int_equal(info.fadt.reset_value, LAYOUT_RESET_VALUE);
    assert_int_equal(info.fadt.sci_irq, 0);
    assert_int_equal(info.fadt.smi_cmd, 0);
    assert_int_equal(info.fadt.pm_tmr_bits, 0);
    assert_int_equal(info.fadt.pm1a_evt.address, 0);
    assert_int_equal(info.fadt.pm1a_cnt.address, 0);
    assert_int_equal(info.fadt.pm_tmr.address, 0);
    assert_int_equal(info.fadt.gpe0.address, 0);
    assert_int_equal(info.fadt.century, 0);
    assert_int_equal(info.fadt.flags, ACPI_FADT_WBINVD | BIT(2) | BIT(4) | BIT(5) | BIT(12) |
                                          ACPI_FADT_HW_REDUCED_ACPI | ACPI_FADT_RESET_REG_SUP);
    assert_int_equal(info.fadt.iapc_boot_arch, BIT(2));
    /* Power-off goes through the hardware-reduced sleep registers: byte ports. */
    const struct acpi_fadt *fadt = (const struct acpi_fadt *)(buf + (l.fadt - BASE));
    const struct acpi_gas_raw ctl = { ACPI_SPACE_IO, 8, 0, 1, LAYOUT_SLEEP_CTL_PORT };
    const struct acpi_gas_raw sts = { ACPI_SPACE_IO, 8, 0, 1, LAYOUT_SLEEP_STS_PORT };
    assert_memory_equal(&fadt->sleep_control_reg, &ctl, sizeof(ctl));
    assert_memory_equal(&fadt->sleep_status_reg, &sts, sizeof(sts));

    /* MADT */
    assert_int_equal(info.madt.lapic_base, 0xfee00000);
    assert_false(info.madt.lapic_overridden);
    assert_int_equal(info.madt.flags, 0);
    assert_int_equal(info.madt.ncpus, 4);
    for (u32 i = 0; i < 4; i++) {
        assert_int_equal(info.madt.cpus[i].apic_id, ids[i]);
        assert_int_equal(info.madt.cpus[i].uid, i);
        assert_false(info.madt.cpus[i].x2apic);
        assert_true(info.madt.cpus[i].enabled);
        assert_false(info.madt.cpus[i].online_capable);
    }
    /* The vIOAPIC, GSIs from 0, and COM1's IRQ 4 as GSI 4, level, active high. */
    assert_int_equal(info.madt.nioapics, 1);
    assert_int_equal(info.madt.ioapics[0].id, GUEST_ACPI_IOAPIC_ID);
    assert_int_equal(info.madt.ioapics[0].address, 0xfec00000u);
    assert_int_equal(info.madt.ioapics[0].gsi_base, 0);
    assert_int_equal(info.madt.nisos, 1);
    assert_int_equal(info.madt.isos[0].bus, 0);
    assert_int_equal(info.madt.isos[0].source, 4);
    assert_int_equal(info.madt.isos[0].gsi, 4);
    assert_int_equal(info.madt.isos[0].flags & ACPI_MPS_TRIGGER_MASK, ACPI_MPS_TRIGGER_LEVEL);
    assert_int_equal(info.madt.isos[0].flags & ACPI_MPS_POLARITY_MASK, ACPI_MPS_POLARITY_HIGH);
    assert_int_equal(info.madt.nlapic_nmis, 0);
    assert_int_equal(info.madt.dropped + info.madt.bad_entries, 0);

    /* AML: an empty DSDT scans cleanly. */
    assert_int_equal(info.aml.tables, 1);
    assert_int_equal(info.aml.not_understood, 0);
    assert_false(info.s5.valid);
    assert_int_equal(info.npci_roots, 0);

    /* Raw bytes the parser does not report. */
    const struct acpi_rsdp *r = (const struct acpi_rsdp *)buf;
    assert_memory_equal(r->signature, "RSD PTR ", 8);
    assert_int_equal(acpi_checksum(r, 20), 0);
    assert_int_equal(acpi_checksum(r, 36), 0);
    assert_int_equal(r->length, 36);
    assert_int_equal(r->rsdt_address, 0);
    assert_int_equal(r->xsdt_address, l.xsdt);
    check_header(buf, l.xsdt, "XSDT", 36 + 16, 1);
    u64 ent[2];
    memcpy(ent, buf + (l.xsdt - BASE) + 36, sizeof(ent));
    assert_int_equal(ent[0], l.fadt);
    assert_int_equal(ent[1], l.madt);
    check_header(buf, l.fadt, "FACP", 276, 6);
    check_header(buf, l.dsdt, "DSDT", 36, 2);
    check_header(buf, l.madt, "APIC", 44 + 32 + MADT_IRQ_ENTRIES, 5);
    const struct acpi_fadt *f = (const struct acpi_fadt *)(buf + (l.fadt - BASE));
    assert_int_equal(f->dsdt, 0);
    assert_int_equal(f->x_dsdt, l.dsdt);
    assert_int_equal(f->firmware_ctrl, 0);
    assert_int_equal(f->x_firmware_ctrl, 0);
    assert_int_equal(f->sleep_control_reg.address, LAYOUT_SLEEP_CTL_PORT);
    assert_memory_equal(&f->hypervisor_vendor_id, "Isthmus", 8);
    /* Padding between tables is zero, not left over. */
    for (u64 p = BASE + 36; p < l.xsdt; p++)
        assert_int_equal(buf[p - BASE], 0);
    free(buf);
}

static void test_x2apic(void **state)
{
    static u32 ids[300];
    for (u32 i = 0; i < 300; i++)
        ids[i] = i;
    ids[3] = 1000; /* a high ID among low ones */
    struct guest_acpi_config cfg = { .nvcpus = 300, .apic_ids = ids };
    struct guest_acpi_layout l;
    u8 *buf = build_and_parse(&cfg, &l);
    assert_int_equal(info.madt.ncpus, 300);
    u32 x2 = 0;
    for (u32 i = 0; i < 300; i++) {
        const struct acpi_madt_cpu *c = &info.madt.cpus[i];
        assert_int_equal(c->apic_id, ids[i]);
        assert_int_equal(c->uid, i);
        assert_true(c->enabled);
        bool want_x2 = ids[i] > 254 || i > 254;
        assert_int_equal(c->x2apic, want_x2);
        x2 += want_x2;
    }
    assert_int_equal(x2, 46); /* vCPU 3 and vCPUs 255-299 */
    assert_int_equal(l.size, l.madt - BASE + 44 + (300 - 46) * 8 + 46 * 16 + MADT_IRQ_ENTRIES);
    assert_int_equal(info.madt.nioapics + info.madt.nisos, 2); /* after the CPUs, as in any MADT */
    free(buf);
}

static void test_numa(void **state)
{
    static const u32 ids[] = { 0, 1, 0x100, 0x101 };
    static const u32 dom[] = { 0, 0, 1, 1 };
    static const struct guest_acpi_mem_affinity mem[] = {
        { 0, GiB(2), 0 },
        { GiB(4), GiB(2) + MiB(2), 1 },
    };
    static const u8 dist[] = { 10, 21, 21, 10 };
    struct guest_acpi_numa numa = { 2, dom, mem, 2, dist };
    struct guest_acpi_config cfg = { .nvcpus = 4, .apic_ids = ids, .numa = &numa };
    struct guest_acpi_layout l;
    u8 *buf = build_and_parse(&cfg, &l);
    assert_true(l.srat > l.madt && l.slit > l.srat);
    assert_int_equal(table("SRAT")->pa, l.srat);
    assert_int_equal(table("SLIT")->pa, l.slit);
    assert_true(info.have_srat && info.have_slit);
    assert_int_equal(info.srat.revision, 3);
    assert_int_equal(info.srat.ncpus, 4);
    for (u32 i = 0; i < 4; i++) {
        assert_int_equal(info.srat.cpus[i].apic_id, ids[i]);
        assert_int_equal(info.srat.cpus[i].domain, dom[i]);
        assert_int_equal(info.srat.cpus[i].x2apic, ids[i] > 254);
    }
    assert_int_equal(info.srat.nmem, 2);
    for (u32 i = 0; i < 2; i++) {
        assert_int_equal(info.srat.mem[i].base, mem[i].base);
        assert_int_equal(info.srat.mem[i].length, mem[i].length);
        assert_int_equal(info.srat.mem[i].domain, mem[i].domain);
        assert_false(info.srat.mem[i].hotplug);
    }
    assert_int_equal(info.srat.disabled + info.srat.dropped + info.srat.bad_entries, 0);
    assert_int_equal(info.slit.n, 2);
    assert_memory_equal(info.slit.matrix, dist, 4);
    const struct acpi_srat *s = (const struct acpi_srat *)(buf + (l.srat - BASE));
    assert_int_equal(s->reserved1, 1);
    assert_int_equal(l.size, l.slit - BASE + 44 + 4);
    free(buf);

    /* More domains than the cap; then SRAT without a SLIT, domains up to the cap. */
    static u32 dom2[4] = { 0, 300, 5, 0 };
    static const struct guest_acpi_mem_affinity mem2[] = { { 0, MiB(64), 300 } };
    struct guest_acpi_numa numa2 = { GUEST_ACPI_MAX_DOMAINS, dom2, mem2, 1, NULL };
    numa2.ndomains = 301; /* above the cap: rejected */
    cfg.numa = &numa2;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    numa2.ndomains = GUEST_ACPI_MAX_DOMAINS;
    dom2[1] = 63;
    static const struct guest_acpi_mem_affinity mem3[] = { { 0, MiB(64), 63 } };
    numa2.mem = mem3;
    buf = build_and_parse(&cfg, &l);
    assert_int_equal(l.slit, 0);
    assert_null(acpi_find_table(&info, "SLIT", 0));
    assert_int_equal(info.srat.cpus[1].domain, 63);
    assert_int_equal(info.srat.mem[0].domain, 63);
    free(buf);
}

/* The DSDT hook: caller AML after the header, seen by the AML scan. */
static void test_dsdt_aml(void **state)
{
    /* Name (_S5, Package (4) { 5, 5, 0, 0 }) */
    static const u8 aml[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
    static const u32 ids[] = { 0 };
    struct guest_acpi_config cfg = { .nvcpus = 1,
                                     .apic_ids = ids,
                                     .dsdt_aml = aml,
                                     .dsdt_aml_len = sizeof(aml),
                                     .oem_id = "AB",
                                     .oem_table_id = "12345678" };
    struct guest_acpi_layout l;
    u8 *buf = build_and_parse(&cfg, &l);
    assert_true(info.s5.valid);
    assert_int_equal(info.s5.slp_typa, 5);
    assert_int_equal(info.s5.slp_typb, 5);
    assert_int_equal(table("DSDT")->length, 36 + sizeof(aml));
    assert_memory_equal(buf + (l.dsdt - BASE) + 36, aml, sizeof(aml));
    assert_string_equal(info.rsdp_oem_id, "AB    ");
    assert_string_equal(table("APIC")->oem_id, "AB    ");
    assert_string_equal(table("APIC")->oem_table_id, "12345678");
    assert_true(IS_ALIGNED(l.madt, 8));
    free(buf);
}

static void test_errors(void **state)
{
    u32 ids[4] = { 0, 1, 2, 3 };
    struct guest_acpi_config cfg = { .nvcpus = 4, .apic_ids = ids };
    struct guest_acpi_layout l;
    u8 buf[4096];

    assert_int_equal(guest_acpi_layout(NULL, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), NULL, err, sizeof(err)), -EINVAL);
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE + 8), &l, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "ACPI tables at 0xe0008: not 16-byte aligned");
    assert_int_equal(guest_acpi_layout(&cfg, gpa(0xfffffffffffffff0ULL), &l, err, sizeof(err)), -EINVAL);
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), 0);

    assert_int_equal(guest_acpi_build(&cfg, gpa(BASE), buf, l.size - 1, &l, err, sizeof(err)), -ENOSPC);
    assert_int_equal(guest_acpi_build(&cfg, gpa(BASE), NULL, 4096, &l, err, sizeof(err)), -EINVAL);
    memset(buf, 0x55, sizeof(buf));
    assert_int_equal(guest_acpi_build(&cfg, gpa(BASE), buf, sizeof(buf), &l, err, sizeof(err)), 0);
    for (u64 i = l.size; i < sizeof(buf); i++) /* the rest of the buffer is zeroed */
        assert_int_equal(buf[i], 0);

    cfg.nvcpus = 0;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "0 vCPUs (1 to 1024 supported)");
    cfg.nvcpus = GUEST_ACPI_MAX_VCPUS + 1;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    cfg.nvcpus = 4;
    ids[2] = 1;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "vCPUs 1 and 2 share APIC ID 1");
    ids[2] = 0xffffffff;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    ids[2] = 2;
    cfg.apic_ids = NULL;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    cfg.apic_ids = ids;
    cfg.oem_id = "TOOLONG";
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    cfg.oem_id = NULL;
    cfg.oem_table_id = "123456789";
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    cfg.oem_table_id = NULL;
    cfg.dsdt_aml_len = 4;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    cfg.dsdt_aml = buf;
    cfg.dsdt_aml_len = GUEST_ACPI_MAX_AML + 1;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    cfg.dsdt_aml_len = 0;

    u32 dom[4] = { 0, 0, 1, 1 };
    struct guest_acpi_mem_affinity mem[1] = { { 0, MiB(1), 0 } };
    u8 dist[4] = { 10, 20, 20, 10 };
    struct guest_acpi_numa numa = { 2, dom, mem, 1, dist };
    cfg.numa = &numa;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), 0);
    dom[3] = 2;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "vCPU 3 is in domain 2 of 2");
    dom[3] = 1;
    mem[0].length = 0;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    mem[0] = (struct guest_acpi_mem_affinity){ ~0ULL - 10, 11, 0 }; /* wraps */
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    mem[0] = (struct guest_acpi_mem_affinity){ 0, MiB(1), 2 };
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    mem[0].domain = 1;
    dist[0] = 11;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "distance 11 from domain 0 to 0 is invalid (must be 10)");
    dist[0] = 10;
    dist[1] = 10;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    dist[1] = 255;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), 0);
    numa.ndomains = 0;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    numa.ndomains = 2;
    numa.nmem = GUEST_ACPI_MAX_MEM + 1;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
    numa.nmem = 1;
    numa.cpu_domain = NULL;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), -EINVAL);
}

/* The largest configuration still parses: 1024 vCPUs with x2APIC IDs (the
 * parser keeps the first 512 and counts the rest), 64 domains, full SLIT. */
static void test_largest(void **state)
{
    static u32 ids[GUEST_ACPI_MAX_VCPUS], dom[GUEST_ACPI_MAX_VCPUS];
    static struct guest_acpi_mem_affinity mem[GUEST_ACPI_MAX_MEM];
    static u8 dist[GUEST_ACPI_MAX_DOMAINS * GUEST_ACPI_MAX_DOMAINS];
    for (u32 i = 0; i < GUEST_ACPI_MAX_VCPUS; i++) {
        ids[i] = i * 2;
        dom[i] = i % GUEST_ACPI_MAX_DOMAINS;
    }
    for (u32 i = 0; i < GUEST_ACPI_MAX_MEM; i++)
        mem[i] = (struct guest_acpi_mem_affinity){ GiB(i), GiB(1), i % GUEST_ACPI_MAX_DOMAINS };
    for (u32 i = 0; i < GUEST_ACPI_MAX_DOMAINS; i++)
        for (u32 j = 0; j < GUEST_ACPI_MAX_DOMAINS; j++)
            dist[i * GUEST_ACPI_MAX_DOMAINS + j] = i == j ? 10 : (u8)(20 + (i + j) % 200);
    struct guest_acpi_numa numa = { GUEST_ACPI_MAX_DOMAINS, dom, mem, GUEST_ACPI_MAX_MEM, dist };
    struct guest_acpi_config cfg = { .nvcpus = GUEST_ACPI_MAX_VCPUS, .apic_ids = ids, .numa = &numa };
    struct guest_acpi_layout l;
    assert_int_equal(guest_acpi_layout(&cfg, gpa(BASE), &l, err, sizeof(err)), 0);
    u8 *buf = malloc(l.size);
    assert_int_equal(guest_acpi_build(&cfg, gpa(BASE), buf, l.size, &l, err, sizeof(err)), 0);
    test_stubs_reset();
    struct fmem fm = { BASE, buf, l.size };
    struct acpi_mem am = { fmap, &fm };
    assert_int_equal(acpi_parse(&am, l.rsdp, &info), 0);
    assert_true(info.have_madt && info.have_srat && info.have_fadt);
    assert_int_equal(info.madt.ncpus, ACPI_MAX_MADT_CPUS);
    assert_int_equal(info.madt.dropped, GUEST_ACPI_MAX_VCPUS - ACPI_MAX_MADT_CPUS);
    assert_int_equal(info.madt.bad_entries, 0);
    assert_int_equal(info.madt.cpus[511].apic_id, 1022);
    assert_true(info.madt.cpus[200].x2apic);  /* ID 400 */
    assert_false(info.madt.cpus[127].x2apic); /* ID 254 */
    assert_true(info.madt.cpus[128].x2apic);  /* ID 256 */
    /* The SLIT is larger than the parser's 32 x 32: it says so, the SRAT is intact. */
    assert_false(info.have_slit);
    assert_int_equal(info.srat.nmem, GUEST_ACPI_MAX_MEM);
    assert_int_equal(table("SLIT")->length, 44 + 64 * 64);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),    cmocka_unit_test(test_x2apic), cmocka_unit_test(test_numa),
        cmocka_unit_test(test_dsdt_aml), cmocka_unit_test(test_errors), cmocka_unit_test(test_largest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
