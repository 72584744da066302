/* ACPI, as far as the guest needs it: RSDP -> XSDT (or RSDT) -> MADT, for the
 * list of vCPUs (their local APIC IDs). */
#include "guest/tg.h"
#include "guest/x86.h"

struct rsdp {
    char signature[8];          /* "RSD PTR " */
    uint8_t checksum;           /* over the first 20 bytes */
    char oem_id[6];
    uint8_t revision;           /* 0: ACPI 1.0 (RSDT only), 2: XSDT too */
    uint32_t rsdt;
    uint32_t length;
    uint64_t xsdt;
    uint8_t xchecksum;          /* over length bytes */
    uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct rsdp) == 36, "RSDP is 36 bytes");

struct sdt {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct sdt) == 36, "SDT header is 36 bytes");

struct madt {
    struct sdt h;
    uint32_t lapic_addr;
    uint32_t flags;
} __attribute__((packed));

#define MADT_LAPIC       0
#define MADT_IOAPIC      1
#define MADT_ISO         2
#define MADT_X2APIC      9
#define MADT_ENABLED     1u

static bool checksum_ok(const void *p, size_t n)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += ((const uint8_t *)p)[i];
    return sum == 0;
}

/* The BIOS areas where ACPI 1.0 says the RSDP lives: the first KiB of the
 * EBDA and 0xe0000-0xfffff, on 16-byte boundaries. Only off Isthmus, where
 * there is a real firmware. */
static uint64_t find_rsdp(void)
{
    uint64_t ebda = (uint64_t)*(volatile uint16_t *)phys(0x40e) << 4;
    for (int area = 0; area < 2; area++) {
        uint64_t start = area ? 0xe0000 : ebda, end = area ? 0x100000 : ebda + 1024;
        if (!area && (ebda < 0x80000 || ebda >= 0xa0000))
            continue;
        for (uint64_t a = start; a < end; a += 16)
            if (!memcmp(phys(a), "RSD PTR ", 8) && checksum_ok(phys(a), 20))
                return a;
    }
    return 0;
}

static const struct sdt *table_at(uint64_t addr)
{
    if (!addr)
        return NULL;
    mem_map(addr, sizeof(struct sdt));
    const struct sdt *t = (const struct sdt *)addr;
    if (t->length < sizeof(*t) || t->length > 1 * MiB) {
        say("acpi: table at 0x%lx has length %u", addr, t->length);
        return NULL;
    }
    mem_map(addr, t->length);
    if (!checksum_ok(t, t->length))
        say("acpi: warning: bad checksum in %c%c%c%c at 0x%lx",
            t->signature[0], t->signature[1], t->signature[2], t->signature[3], addr);
    return t;
}

static void add_cpu(uint32_t apic_id)
{
    for (unsigned i = 0; i < tg.ncpus; i++)
        if (tg.cpus[i].apic_id == apic_id) {
            say("madt: warning: APIC ID %u listed twice", apic_id);
            return;
        }
    if (tg.ncpus == TG_MAX_CPUS) {
        say("madt: warning: more than %u CPUs, ignoring APIC ID %u", TG_MAX_CPUS, apic_id);
        return;
    }
    tg.cpus[tg.ncpus++].apic_id = apic_id;
}

static void parse_madt(const struct madt *m)
{
    const uint8_t *p = (const uint8_t *)(m + 1), *end = (const uint8_t *)m + m->h.length;
    if (m->lapic_addr != APIC_BASE)
        say("madt: warning: local APIC at 0x%x, this guest uses 0x%llx", m->lapic_addr, APIC_BASE);
    while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
        if (p[0] == MADT_LAPIC && p[1] >= 8) {
            uint32_t flags;
            memcpy(&flags, p + 4, 4);
            if (flags & MADT_ENABLED)
                add_cpu(p[3]);
        } else if (p[0] == MADT_IOAPIC && p[1] >= 12 && !tg.ioapic_addr) {
            memcpy(&tg.ioapic_addr, p + 4, 4);
            memcpy(&tg.ioapic_gsi_base, p + 8, 4);
        } else if (p[0] == MADT_ISO && p[1] >= 10 && p[2] == 0 && p[3] == 4) {
            tg.com1_iso = true;
            memcpy(&tg.com1_gsi, p + 4, 4);
            memcpy(&tg.com1_flags, p + 8, 2);
        } else if (p[0] == MADT_X2APIC && p[1] >= 16) {
            uint32_t id, flags;
            memcpy(&id, p + 4, 4);
            memcpy(&flags, p + 8, 4);
            if (flags & MADT_ENABLED) {
                if (id < 0xff)
                    add_cpu(id);
                else
                    say("madt: x2APIC ID %u cannot be reached through the xAPIC, ignored", id);
            }
        }
        p += p[1];
    }
}

/* What acpi_report() prints. */
static struct {
    uint64_t rsdp, root, madt, srat, slit, fadt;
    bool xsdt;
    uint8_t revision;
} found;

static const struct madt *find_madt(const struct rsdp *r)
{
    bool x = r->revision >= 2 && r->xsdt;
    if (x && (r->length < sizeof(*r) || !checksum_ok(r, sizeof(*r))))
        say("acpi: warning: bad extended RSDP checksum");
    found.xsdt = x;
    found.revision = r->revision;
    found.root = x ? r->xsdt : r->rsdt;
    const struct sdt *root = table_at(found.root);
    if (!root)
        return NULL;
    unsigned esize = x ? 8 : 4, n = (root->length - sizeof(*root)) / esize;
    for (unsigned i = 0; i < n; i++) {
        uint64_t a = 0;
        memcpy(&a, (const uint8_t *)(root + 1) + i * esize, esize);
        const struct sdt *t = table_at(a);
        if (t && !memcmp(t->signature, "SRAT", 4))
            found.srat = a;
        if (t && !memcmp(t->signature, "SLIT", 4))
            found.slit = a;
        if (t && !memcmp(t->signature, "APIC", 4))
            found.madt = a;
        if (t && !memcmp(t->signature, "FACP", 4))
            found.fadt = a;
    }
    return found.madt ? (const struct madt *)table_at(found.madt) : NULL;
}

/* Finds the vCPUs; prints only warnings (acpi_report() prints the results). */
void acpi_scan(void)
{
    uint64_t rsdp = tg.rsdp;
    if (!rsdp && !tg.isthmus) {
        rsdp = find_rsdp();
        if (rsdp)
            say("acpi: no RSDP in the start info, found one at 0x%lx in the BIOS area", rsdp);
    }
    found.rsdp = rsdp;
    const struct madt *madt = NULL;
    if (rsdp) {
        mem_map(rsdp, sizeof(struct rsdp));
        const struct rsdp *r = (const struct rsdp *)rsdp;
        if (memcmp(r->signature, "RSD PTR ", 8) || !checksum_ok(r, 20))
            say("acpi: no valid RSDP at 0x%lx", rsdp);
        else
            madt = find_madt(r);
    }
    if (madt)
        parse_madt(madt);
    if (!tg.ncpus) {
        say("madt: warning: %s, assuming one CPU", madt ? "no enabled local APIC" : "no MADT");
        tg.cpus[tg.ncpus++].apic_id = apic_id();
    }
    int bsp = cpu_index_of(apic_id());
    if (bsp < 0) {
        say("madt: warning: the boot vCPU's APIC ID %u is not in the MADT", apic_id());
        bsp = 0;
    }
    tg.bsp = (unsigned)bsp;
}

/* SRAT (ACPI 6.5 5.2.16): one line per enabled CPU and memory affinity entry,
 * then the SLIT's matrix, so a test can compare them with the placement. */
static void report_srat(const struct sdt *t)
{
    const uint8_t *p = (const uint8_t *)t + 48, *end = (const uint8_t *)t + t->length;
    for (; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
        uint32_t dom, flags;
        if (p[0] == 0 && p[1] >= 16) {                 /* processor local APIC affinity */
            memcpy(&flags, p + 4, 4);
            dom = p[2] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
            if (flags & 1)
                say("srat: APIC ID %u in domain %u", p[3], dom);
        } else if (p[0] == 1 && p[1] >= 40) {          /* memory affinity */
            uint64_t base, len;
            memcpy(&dom, p + 2, 4);
            memcpy(&base, p + 8, 8);
            memcpy(&len, p + 16, 8);
            memcpy(&flags, p + 28, 4);
            if (flags & 1)
                say("srat: memory 0x%016lx-0x%016lx in domain %u", base, base + len, dom);
        } else if (p[0] == 2 && p[1] >= 24) {          /* x2APIC affinity */
            uint32_t id;
            memcpy(&dom, p + 4, 4);
            memcpy(&id, p + 8, 4);
            memcpy(&flags, p + 12, 4);
            if (flags & 1)
                say("srat: x2APIC ID %u in domain %u", id, dom);
        }
    }
}

static void report_numa(void)
{
    const struct sdt *srat = found.srat ? table_at(found.srat) : NULL;
    if (!srat) {
        say("srat: none");
        return;
    }
    report_srat(srat);
    const struct sdt *slit = found.slit ? table_at(found.slit) : NULL;
    if (!slit || slit->length < sizeof(*slit) + 8) {
        say("slit: none");
        return;
    }
    uint64_t n;
    memcpy(&n, slit + 1, 8);
    const uint8_t *d = (const uint8_t *)(slit + 1) + 8;
    if (n > 16 || sizeof(*slit) + 8 + n * n > slit->length) {
        say("slit: warning: %lu localities do not fit the table", n);
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        char row[16 * 4 + 1];
        size_t len = 0;
        for (uint64_t j = 0; j < n; j++)
            len += tg_snprintf(row + len, sizeof(row) - len, "%s%u", j ? " " : "", d[i * n + j]);
        say("slit: domain %lu: %s", i, row);
    }
}

void acpi_report(void)
{
    say("rsdp 0x%lx", found.rsdp);
    if (found.root)
        say("acpi: revision %u, %s at 0x%lx, MADT at 0x%lx", found.revision, found.xsdt ? "XSDT" : "RSDT",
            found.root, found.madt);
    char ids[4 * TG_MAX_CPUS + 1];
    size_t len = 0;
    for (unsigned i = 0; i < tg.ncpus && len + 5 < sizeof(ids); i++)
        len += tg_snprintf(ids + len, sizeof(ids) - len, "%s%u", i ? " " : "", tg.cpus[i].apic_id);
    say("madt: %u CPUs, APIC IDs %s, boot vCPU %u", tg.ncpus, ids, tg.bsp);
    report_numa();
}

/* Hardware-reduced ACPI power-off (ACPI 6.5 7.4.3, 4.8.3.7): SLP_EN with the
 * \_S5 package's first value as SLP_TYP, to the FADT's sleep control
 * register. The DSDT is searched for the \_S5 name as a plain byte string,
 * which is how small firmware-less guests find it. */
#define FADT_X_DSDT      140
#define FADT_SLEEP_CTL   244            /* a 12-byte generic address */
#define SLP_EN           (1u << 5)

static const uint8_t *fadt_bytes(void)
{
    const struct sdt *f = found.fadt ? table_at(found.fadt) : NULL;
    return f && f->length >= FADT_SLEEP_CTL + 12 ? (const uint8_t *)f : NULL;
}

uint16_t acpi_sleep_port(void)
{
    const uint8_t *fb = fadt_bytes();
    uint64_t port = 0;
    if (fb)
        memcpy(&port, fb + FADT_SLEEP_CTL + 4, 8);
    return fb && fb[FADT_SLEEP_CTL] == 1 && port <= 0xffff ? (uint16_t)port : 0;
}

void acpi_poweroff(void)
{
    const uint8_t *fb = fadt_bytes();
    if (!fb) {
        say("acpi: no FADT with a sleep control register: cannot power off");
        return;
    }
    uint64_t port = acpi_sleep_port(), dsdt = 0;
    memcpy(&dsdt, fb + FADT_X_DSDT, 8);
    if (!port) {
        say("acpi: the sleep control register is not an I/O port: cannot power off");
        return;
    }
    const struct sdt *d = dsdt ? table_at(dsdt) : NULL;
    int typ = -1;
    for (uint32_t i = sizeof(*d); d && typ < 0 && i + 10 <= d->length; i++) {
        const uint8_t *a = (const uint8_t *)d + i;
        /* _S5_ PackageOp PkgLength NumElements BytePrefix value */
        if (!memcmp(a, "_S5_", 4) && a[4] == 0x12 && a[7] == 0x0a)
            typ = a[8];
    }
    if (typ < 0) {
        say("acpi: no \\_S5 in the DSDT: cannot power off");
        return;
    }
    say("acpi: powering off: SLP_TYP %d to port 0x%lx", typ, port);
    outb((uint16_t)port, (uint8_t)(((unsigned)typ << 2 & 0x1c) | SLP_EN));
    say("acpi: FAIL: still running after the power-off write");
}
