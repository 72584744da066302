/* libFuzzer target for the ACPI tables as firmware hands them over: acpi_parse()
 * (discovery, the FADT, MADT, SRAT, SLIT, MCFG and HPET parsers, the AML scan of
 * the DSDT and SSDTs), then topology_build() on what it found.
 *
 * Input: two control bytes, then up to MAX_TABLES tables end to end, each as long
 * as its header's length field says (the last one takes the rest). Each table is
 * copied into its own heap block at a physical address of the fake memory (so
 * ASan sees any read past a table); this target lays out the RSDP and XSDT/RSDT
 * pointing at them and, as the flags say, fixes each table's length and checksum
 * (else few mutations would get past the checksum) and links the DSDT and FACS
 * from the FADT. Invariants, each a CHECK:
 *  - acpi_parse() succeeds exactly when a usable root table was laid out, uses
 *    the XSDT exactly when it is usable, and gives every table the status (ok,
 *    bad length, unreadable, bad checksum) worked out here on its own;
 *  - every table listed ok reads whole through the memory and sums to 0; every
 *    count is within its cap; every value the parsers document as checked is
 *    (SRAT ranges non-empty and not wrapping, MCFG buses in order, \_S5 values
 *    of 3 bits, FADT registers consistent); every string is terminated;
 *  - topology_build() keeps the boot CPU, places every CPU, range and bridge on
 *    an existing node, keeps RAM sorted, disjoint and merged, neither loses nor
 *    invents a byte of the boot memory map's RAM, and has a sane distance matrix;
 *    its queries agree with it.
 *
 * ACPI_WRITE_SEEDS=dir ACPI_FIXTURES=tests/unit/fixtures/acpi ./fuzz_acpi writes
 * one seed per captured machine into dir and exits. */
#include "drivers/acpi/acpi.h"
#include "drivers/acpi/tables.h"
#include "drivers/acpi/topology.h"
#include "kernel/lib/errno.h"
#include "tests/fuzz/fuzz.h"

#define MAX_TABLES  16
#define RSDP_PA     0xe0000ULL
#define XSDT_PA     0xf0000ULL
#define RSDT_PA     0xf8000ULL
#define TABLE_PA(i) (0x100000ULL * ((i) + 1) + 0x44 * (i)) /* some not 4-byte aligned */

/* control byte 0 */
#define F_XSDT 0x01 /* RSDP revision 2 with an XSDT */
#define F_RSDT 0x02 /* an RSDT too (always without F_XSDT) */
#define F_SUM  0x04 /* fix every table's checksum */
#define F_LEN  0x08 /* set every table's length to its size */
#define F_LINK 0x10 /* the DSDT and FACS only through the FADT */
#define F_BADX 0x20 /* break the XSDT's checksum: back to the RSDT */
#define F_BADR 0x40 /* break the RSDP's extended checksum: back to the RSDT */
/* control byte 1: the boot CPU's APIC ID */

struct region {
    u64 pa, len;
    u8 *data;
};

static struct region reg[MAX_TABLES + 3];
static u32 nreg;

static const void *fm_map(void *opaque, u64 pa, u64 len)
{
    CHECK(opaque == reg && len > 0 && pa + len >= pa);
    for (u32 i = 0; i < nreg; i++)
        if (pa >= reg[i].pa && pa - reg[i].pa <= reg[i].len && len <= reg[i].len - (pa - reg[i].pa))
            return reg[i].data + (pa - reg[i].pa);
    return NULL;
}

static u8 *add_region(u64 pa, const void *src, u64 len)
{
    struct region *r = &reg[nreg++];
    r->pa = pa;
    r->len = len;
    r->data = malloc(len ? len : 1);
    CHECK(r->data);
    memcpy(r->data, src, len);
    return r->data;
}

static void fix_sum(u8 *t, u64 len, u32 at)
{
    t[at] = 0;
    t[at] = (u8)(0x100 - acpi_checksum(t, len));
}

/* ---------------------------------------------------------------- layout */

struct layout {
    u32 n;
    u8 *t[MAX_TABLES];
    u64 len[MAX_TABLES];
    bool listed[MAX_TABLES]; /* in the root tables */
    int fadt, dsdt, facs;
    bool xsdt_ok, rsdt;
};

static void put32(u8 *p, u32 v) { memcpy(p, &v, 4); }
static void put64(u8 *p, u64 v) { memcpy(p, &v, 8); }

static void lay_out(const u8 *data, size_t size, struct layout *L)
{
    u8 flags = data[0];
    const u8 *p = data + 2;
    size_t left = size - 2;
    memset(L, 0, sizeof(*L));
    L->fadt = L->dsdt = L->facs = -1;
    while (left && L->n < MAX_TABLES) {
        u64 len = left >= 8 ? fz_rd32(p + 4) : left;
        if (len < 8 || len > left)
            len = left;
        u32 i = L->n++;
        u8 *t = L->t[i] = add_region(TABLE_PA(i), p, len);
        L->len[i] = len;
        bool facs = len >= 4 && !memcmp(t, "FACS", 4);
        if ((flags & F_LEN) && len >= 8)
            put32(t + 4, (u32)len);
        if ((flags & F_SUM) && len >= sizeof(struct acpi_header) && !facs)
            fix_sum(t, len, 9);
        if (len >= 4 && !memcmp(t, "FACP", 4) && L->fadt < 0)
            L->fadt = (int)i;
        if (len >= 4 && !memcmp(t, "DSDT", 4) && L->dsdt < 0)
            L->dsdt = (int)i;
        if (facs && L->facs < 0)
            L->facs = (int)i;
        L->listed[i] = !((flags & F_LINK) && (i == (u32)L->dsdt || i == (u32)L->facs));
        p += len;
        left -= len;
    }
    /* The FADT's pointers (32- and 64-bit) to the DSDT and FACS. */
    if ((flags & F_LINK) && L->fadt >= 0) {
        u8 *f = L->t[L->fadt];
        u64 flen = L->len[L->fadt];
        if (L->facs >= 0 && flen >= 40)
            put32(f + 36, (u32)TABLE_PA(L->facs));
        if (L->dsdt >= 0 && flen >= 44)
            put32(f + 40, (u32)TABLE_PA(L->dsdt));
        if (L->facs >= 0 && flen >= 140)
            put64(f + 132, TABLE_PA(L->facs));
        if (L->dsdt >= 0 && flen >= 148)
            put64(f + 140, TABLE_PA(L->dsdt));
        if ((flags & F_SUM) && flen >= sizeof(struct acpi_header))
            fix_sum(f, flen, 9);
    }

    /* Root tables and the RSDP. */
    u8 root[sizeof(struct acpi_header) + 8 * MAX_TABLES];
    u32 nlisted = 0;
    for (u32 i = 0; i < L->n; i++)
        nlisted += L->listed[i];
    for (u32 w = 4; w <= 8; w += 4) {
        memset(root, 0, sizeof(root));
        memcpy(root, w == 8 ? "XSDT" : "RSDT", 4);
        u32 len = (u32)sizeof(struct acpi_header) + w * nlisted, k = 0;
        put32(root + 4, len);
        root[8] = 1;
        memcpy(root + 10, "FUZZ  ", 6);
        for (u32 i = 0; i < L->n; i++)
            if (L->listed[i]) {
                u8 *e = root + sizeof(struct acpi_header) + w * k++;
                if (w == 8)
                    put64(e, TABLE_PA(i));
                else
                    put32(e, (u32)TABLE_PA(i));
            }
        fix_sum(root, len, 9);
        if (w == 8 && (flags & F_BADX))
            root[9] ^= 1;
        add_region(w == 8 ? XSDT_PA : RSDT_PA, root, len);
    }
    struct acpi_rsdp r;
    memset(&r, 0, sizeof(r));
    memcpy(r.signature, "RSD PTR ", 8);
    memcpy(r.oem_id, "FUZZ  ", 6);
    r.revision = (flags & F_XSDT) ? 2 : 0;
    L->rsdt = !(flags & F_XSDT) || (flags & F_RSDT);
    r.rsdt_address = L->rsdt ? (u32)RSDT_PA : 0;
    r.length = sizeof(r);
    r.xsdt_address = XSDT_PA;
    fix_sum((u8 *)&r, ACPI_RSDP_V1_SIZE, 8);
    fix_sum((u8 *)&r, sizeof(r), 32);
    if (flags & F_BADR)
        r.ext_checksum ^= 1;
    L->xsdt_ok = (flags & F_XSDT) && !(flags & (F_BADX | F_BADR));
    add_region(RSDP_PA, &r, sizeof(r));
}

/* ---------------------------------------------------------------- checks */

static bool printable(const char *s, size_t size)
{
    if (!fz_terminated(s, size))
        return false;
    for (; *s; s++)
        if (*s < 0x20 || *s >= 0x7f)
            return false;
    return true;
}

/* The status acpi_add_table() must give the table at `i` of the layout. */
static u8 expected_status(const struct layout *L, u32 i)
{
    const u8 *t = L->t[i];
    if (L->len[i] < sizeof(struct acpi_header))
        return ACPI_TABLE_UNMAPPED;
    u32 len = fz_rd32(t + 4);
    if (len < sizeof(struct acpi_header) || len > ACPI_MAX_TABLE_LEN)
        return ACPI_TABLE_BAD_LENGTH;
    if (len > L->len[i])
        return ACPI_TABLE_UNMAPPED;
    return acpi_checksum(t, len) ? ACPI_TABLE_BAD_CHECKSUM : ACPI_TABLE_OK;
}

static const struct acpi_table_desc *find_desc(const struct acpi_info *a, u64 pa)
{
    for (u32 i = 0; i < a->ntables; i++)
        if (a->tables[i].pa == pa)
            return &a->tables[i];
    return NULL;
}

static void check_tables(const struct layout *L, const struct acpi_info *a)
{
    const struct acpi_mem mem = { fm_map, reg };
    CHECK(a->ntables <= ACPI_MAX_TABLES && a->tables_dropped == 0);
    for (u32 i = 0; i < a->ntables; i++) {
        const struct acpi_table_desc *d = &a->tables[i];
        CHECK(find_desc(a, d->pa) == d); /* each address once */
        CHECK(printable(d->signature, 5) && printable(d->oem_id, 7) && printable(d->oem_table_id, 9));
        CHECK(d->status <= ACPI_TABLE_BAD_SIGNATURE);
        if (d->status != ACPI_TABLE_OK)
            continue;
        const u8 *t = acpi_map_table(&mem, d);
        CHECK(t);
        /* A FACS (no checksum) when the FADT points at it, else a table with a header. */
        if (strcmp(d->signature, "FACS") != 0)
            CHECK(d->length >= sizeof(struct acpi_header) && acpi_checksum(t, d->length) == 0);
        else
            CHECK(d->length >= sizeof(struct acpi_header));
    }
    for (u32 i = 0; i < L->n; i++) {
        if (!L->listed[i])
            continue;
        const struct acpi_table_desc *d = find_desc(a, TABLE_PA(i));
        CHECK(d && d->status == expected_status(L, i));
    }
}

static void check_fixed(const struct acpi_info *a)
{
    const struct acpi_madt_info *m = &a->madt;
    CHECK(m->ncpus <= ACPI_MAX_MADT_CPUS && m->nioapics <= ACPI_MAX_IOAPICS && m->nisos <= ACPI_MAX_ISOS);
    CHECK(m->nlapic_nmis <= ACPI_MAX_LAPIC_NMIS && m->nnmi_sources <= ACPI_MAX_NMI_SOURCES);
    for (u32 i = 0; i < m->ncpus; i++)
        CHECK(!(m->cpus[i].enabled && m->cpus[i].online_capable));

    const struct acpi_srat_info *s = &a->srat;
    CHECK(s->ncpus <= ACPI_MAX_SRAT_CPUS && s->nmem <= ACPI_MAX_SRAT_MEM);
    for (u32 i = 0; i < s->nmem; i++)
        CHECK(s->mem[i].length > 0 && s->mem[i].base + s->mem[i].length > s->mem[i].base);
    if (s->revision < 2)
        for (u32 i = 0; i < s->nmem; i++)
            CHECK(s->mem[i].domain <= 0xff);

    CHECK(a->slit.n <= ACPI_MAX_LOCALITIES && (!a->have_slit || a->slit.n >= 1));
    CHECK(a->nmcfg <= ACPI_MAX_MCFG);
    for (u32 i = 0; i < a->nmcfg; i++) {
        const struct acpi_mcfg_alloc *c = &a->mcfg[i];
        CHECK(c->base != 0 && c->end_bus >= c->start_bus && c->base + ((u64)c->end_bus + 1) * MiB(1) > c->base);
    }
    if (a->have_hpet)
        CHECK(a->hpet.base != 0 && a->hpet.comparators >= 1 && a->hpet.comparators <= 32);

    const struct acpi_fadt_info *f = &a->fadt;
    if (a->have_fadt) {
        CHECK(f->pm_tmr_bits == 0 || f->pm_tmr_bits == 24 || f->pm_tmr_bits == 32);
        CHECK((f->pm_tmr_bits == 0) == (f->pm_tmr.address == 0));
        CHECK(!f->reset_supported || (f->reset_reg.address != 0 && f->reset_reg.space <= ACPI_SPACE_PCI_CONFIG));
        CHECK(f->hw_reduced == ((f->flags & ACPI_FADT_HW_REDUCED_ACPI) != 0));
        if (f->hw_reduced)
            CHECK(!f->pm1a_evt.address && !f->pm1a_cnt.address && !f->pm_tmr.address && !f->gpe0.address);
    }
    if (a->have_dsdt) {
        const struct acpi_table_desc *d = find_desc(a, f->dsdt);
        CHECK(a->have_fadt && d && d->status == ACPI_TABLE_OK && !strcmp(d->signature, "DSDT"));
    }
}

static void check_aml(const struct acpi_info *a)
{
    const struct acpi_aml_stats *st = &a->aml;
    CHECK(st->not_understood == st->method_ids + st->conditional + st->loads + st->odd_values + st->bad);
    CHECK(!a->s5.valid || (a->s5.slp_typa <= 7 && a->s5.slp_typb <= 7));
    CHECK(a->npci_roots <= ACPI_MAX_PCI_ROOTS && (a->pci_roots_dropped == 0 || a->npci_roots == ACPI_MAX_PCI_ROOTS));
    CHECK(st->devices >= a->npci_roots + a->pci_roots_dropped);
    for (u32 i = 0; i < a->npci_roots; i++) {
        const struct acpi_pci_root *r = &a->pci_roots[i];
        CHECK(fz_terminated(r->path, sizeof(r->path)) && r->path[0] == '\\');
        CHECK(fz_terminated(r->hid, sizeof(r->hid)) && printable(r->uid_str, sizeof(r->uid_str)));
        CHECK(r->has_pxm || r->pxm == 0);
    }
}

/* ---------------------------------------------------------------- topology */

static const struct boot_mem_range boot_map[] = {
    { 0x0, 0x9f000, MEM_USABLE, 7, 0 },
    { 0x9f000, 0x1000, MEM_RESERVED, 0, 0 },
    { 0x100000, 0x3ff00000, MEM_USABLE, 7, 0 },
    { 0x40000000, 0x200000, MEM_LOADER, 2, 0 },
    { 0x40200000, 0x3fd00000, MEM_USABLE, 7, 0 },
    { 0x7ff00000, 0x100000, MEM_ACPI_RECLAIM, 9, 0 },
    { 0xfec00000, 0x1000, MEM_MMIO, 11, 0 },
    { 0x100000000ULL, 0x80000000ULL, MEM_USABLE, 7, 0 },
    { 0x180000000ULL, 0x40000000ULL, MEM_USABLE, 7, 0 },
};

static void check_topology(const struct acpi_info *a, u32 bsp)
{
    static struct topology t;
    CHECK(topology_build(a, boot_map, ARRAY_SIZE(boot_map), bsp, &t) == 0);

    CHECK(t.nnodes >= 1 && t.nnodes <= TOPO_MAX_NODES && (t.numa || t.nnodes == 1));
    for (u32 i = 1; i < t.nnodes; i++)
        CHECK(t.nodes[i - 1].domain < t.nodes[i].domain);

    CHECK(t.ncpus >= 1 && t.ncpus <= TOPO_MAX_CPUS);
    CHECK(t.bsp_index >= 0 && (u32)t.bsp_index < t.ncpus);
    CHECK(t.cpus[t.bsp_index].is_bsp && t.cpus[t.bsp_index].apic_id == bsp);
    u32 per_node = 0;
    for (u32 i = 0; i < t.nnodes; i++)
        per_node += t.nodes[i].ncpus;
    CHECK(per_node == t.ncpus);
    for (u32 i = 0; i < t.ncpus; i++) {
        CHECK(t.cpus[i].node < t.nnodes && (t.cpus[i].is_bsp == ((s32)i == t.bsp_index)));
        for (u32 j = 0; j < i; j++)
            CHECK(t.cpus[j].apic_id != t.cpus[i].apic_id);
        CHECK(topology_cpu_node(&t, t.cpus[i].apic_id) == t.cpus[i].node);
    }

    u64 want = 0, have = 0, node_ram = 0, node_usable = 0, usable = 0;
    for (u32 i = 0; i < ARRAY_SIZE(boot_map); i++)
        if (boot_map[i].type == MEM_USABLE || boot_map[i].type == MEM_LOADER || boot_map[i].type == MEM_ACPI_RECLAIM)
            want += boot_map[i].length;
    CHECK(t.ranges_dropped == 0);
    for (u32 i = 0; i < t.nranges; i++) {
        const struct topo_mem_range *r = &t.ranges[i];
        CHECK(r->length > 0 && r->node < t.nnodes);
        CHECK(r->kind == TOPO_RAM_USABLE || r->kind == TOPO_RAM_LOADER || r->kind == TOPO_RAM_ACPI);
        if (i + 1 < t.nranges) {
            const struct topo_mem_range *n = &t.ranges[i + 1];
            CHECK(r->base + r->length <= n->base);
            CHECK(r->base + r->length < n->base || r->node != n->node || r->kind != n->kind); /* merged */
        }
        u64 end = 0;
        CHECK(topology_node_of_addr(&t, r->base, &end) == r->node && end > r->base);
        have += r->length;
        usable += r->kind == TOPO_RAM_USABLE ? r->length : 0;
    }
    for (u32 i = 0; i < t.nnodes; i++) {
        node_ram += t.nodes[i].ram_bytes;
        node_usable += t.nodes[i].usable_bytes;
    }
    CHECK(have == want && node_ram == want && node_usable == usable);

    for (u32 i = 0; i < t.nnodes; i++)
        for (u32 j = 0; j < t.nnodes; j++)
            CHECK(i == j ? t.dist[i][j] == TOPO_LOCAL_DISTANCE : t.dist[i][j] > TOPO_LOCAL_DISTANCE);
    int order[TOPO_MAX_NODES];
    CHECK(topology_nearest_nodes(&t, 0, order, TOPO_MAX_NODES) == (int)t.nnodes && order[0] == 0);
    u32 seen = 0;
    for (u32 i = 0; i < t.nnodes; i++) {
        CHECK(order[i] >= 0 && (u32)order[i] < t.nnodes && !(seen & (1u << order[i])));
        seen |= 1u << order[i];
        CHECK(i == 0 || topology_distance(&t, 0, (u32)order[i - 1]) <= topology_distance(&t, 0, (u32)order[i]));
    }

    CHECK(t.npci_roots == (a ? MIN(a->npci_roots, (u32)TOPO_MAX_PCI_ROOTS) : 0));
    for (u32 i = 0; i < t.npci_roots; i++) {
        const struct topo_pci_root *r = &t.pci_roots[i];
        CHECK(r->node >= -1 && r->node < (s16)t.nnodes && fz_terminated(r->path, sizeof(r->path)));
        CHECK(t.numa || r->node == 0);
    }
}

/* ---------------------------------------------------------------- entry */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct acpi_info info;
    static struct layout L;
    if (size < 2)
        return 0;
    nreg = 0;
    lay_out(data, size, &L);

    const struct acpi_mem mem = { fm_map, reg };
    int rc = acpi_parse(&mem, RSDP_PA, &info);
    CHECK(rc == (L.xsdt_ok || L.rsdt ? 0 : -EIO));
    if (rc == 0) {
        CHECK(info.using_xsdt == L.xsdt_ok && info.rsdp_revision == ((data[0] & F_XSDT) ? 2 : 0));
        CHECK(!strcmp(info.rsdp_oem_id, "FUZZ  "));
        check_tables(&L, &info);
        check_fixed(&info);
        check_aml(&info);
    }
    check_topology(rc == 0 ? &info : NULL, data[1]);

    for (u32 i = 0; i < nreg; i++)
        free(reg[i].data);
    return 0;
}

/* ---------------------------------------------------------------- seeds */

static void write_seeds(const char *dir, const char *fixtures)
{
    static const char *const machines[] = { "pc-1node", "pc-3node", "q35-2node-pxb", "q35-intel-iommu",
                                            "q35-amd-iommu" };
    static u8 seed[65536];
    for (u32 m = 0; m < ARRAY_SIZE(machines); m++) {
        char path[512], line[128];
        snprintf(path, sizeof(path), "%s/%s/manifest.txt", fixtures, machines[m]);
        FILE *f = fopen(path, "r");
        CHECK(f);
        size_t n = 2;
        seed[0] = F_XSDT | F_RSDT | F_SUM | F_LEN | F_LINK;
        seed[1] = 0;
        while (fgets(line, sizeof(line), f)) {
            char file[64];
            unsigned long long pa;
            if (sscanf(line, "%llx %63s", &pa, file) != 2 || !strncmp(file, "RSDP", 4) || !strncmp(file, "XSDT", 4) ||
                !strncmp(file, "RSDT", 4))
                continue;
            snprintf(path, sizeof(path), "%s/%s/%s", fixtures, machines[m], file);
            FILE *t = fopen(path, "rb");
            CHECK(t);
            n += fread(seed + n, 1, sizeof(seed) - n, t);
            CHECK(n < sizeof(seed) && fclose(t) == 0);
        }
        CHECK(fclose(f) == 0);
        fz_write_seed(dir, machines[m], seed, n);
        /* The same through a revision-0 RSDP, the DSDT listed in the RSDT; and with
         * the lengths as the tables give them. */
        seed[0] = F_SUM | F_LEN;
        snprintf(path, sizeof(path), "%s-rsdt", machines[m]);
        fz_write_seed(dir, path, seed, n);
        seed[0] = F_XSDT | F_SUM | F_LINK;
        snprintf(path, sizeof(path), "%s-lengths", machines[m]);
        fz_write_seed(dir, path, seed, n);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("ACPI_WRITE_SEEDS"), *fixtures = getenv("ACPI_FIXTURES");
    if (dir) {
        write_seeds(dir, fixtures ? fixtures : "tests/unit/fixtures/acpi");
        exit(0);
    }
    return 0;
}
