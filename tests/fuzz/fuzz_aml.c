/* libFuzzer target for the AML scan (drivers/acpi/aml.c, aml_grammar.c) on its
 * own: the DSDT and SSDT byte streams straight into aml_scan_table(), without the
 * checksums and table discovery fuzz_acpi.c goes through, so that every mutation
 * reaches the scanner.
 *
 * Input: one flags byte (bit 0: a revision-2 DSDT, 64-bit integers), then the
 * AML of a DSDT and of up to MAX_TABLES - 1 SSDTs, separated by "SSDT". Each
 * table gets a header and its own heap block (ASan sees any read past it).
 * Invariants, each a CHECK:
 *  - after each table the scanner is back at the root scope with no open
 *    nesting or expression, and its tables of methods and facts within their caps;
 *  - what it reports keeps to the documented bounds: the host bridge count and
 *    dropped count, terminated paths of name characters starting at the root,
 *    terminated _HID and _UID strings, 3-bit \_S5 values, and
 *    not_understood equal to the sum of its parts;
 *  - scanning the same tables again gives the same result.
 *
 * AML_WRITE_SEEDS=dir ACPI_FIXTURES=tests/unit/fixtures/acpi ./fuzz_aml writes
 * seeds (the captured DSDTs and a crafted bridge) into dir and exits. */
#define _GNU_SOURCE /* memmem */
#include "drivers/acpi/aml.h"
#include "drivers/acpi/tables.h"
#include "tests/fuzz/fuzz.h"

#define MAX_TABLES 8
#define SEP        "SSDT"

struct tables {
    u32 n;
    u8 *t[MAX_TABLES];
    u32 len[MAX_TABLES];
};

static void build(const u8 *data, size_t size, struct tables *T)
{
    const u8 *p = data + 1, *end = data + size;
    T->n = 0;
    while (T->n < MAX_TABLES) {
        const u8 *sep = memmem(p, (size_t)(end - p), SEP, 4);
        const u8 *stop = sep && T->n + 1 < MAX_TABLES ? sep : end;
        u32 body = (u32)(stop - p), len = (u32)sizeof(struct acpi_header) + body;
        u8 *t = malloc(len);
        CHECK(t);
        struct acpi_header h;
        memset(&h, 0, sizeof(h));
        memcpy(h.signature, T->n ? "SSDT" : "DSDT", 4);
        h.length = len;
        h.revision = T->n ? 2 : (data[0] & 1) ? 2 : 1;
        memcpy(t, &h, sizeof(h));
        memcpy(t + sizeof(h), p, body);
        T->t[T->n] = t;
        T->len[T->n++] = len;
        if (stop == end)
            break;
        p = stop + 4;
    }
}

static bool name_path(const char *s)
{
    if (s[0] != '\\')
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '.'))
            return false;
    return true;
}

static void scan(const struct tables *T, struct acpi_info *info)
{
    static struct aml_scanner s;
    memset(info, 0, sizeof(*info));
    aml_scan_init(&s, info);
    for (u32 i = 0; i < T->n; i++) {
        aml_scan_table(&s, T->t[i], T->len[i]);
        CHECK(s.depth == 0 && s.nest == 0 && s.expr == 0);
        CHECK(s.nmethods <= AML_MAX_METHODS && s.nfacts <= AML_MAX_FACTS);
    }
    aml_scan_finish(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct acpi_info info, again;
    struct tables T;
    if (size < 1)
        return 0;
    build(data, size, &T);
    scan(&T, &info);

    const struct acpi_aml_stats *st = &info.aml;
    CHECK(st->tables == T.n);
    CHECK(st->not_understood == st->method_ids + st->conditional + st->loads + st->odd_values + st->bad);
    CHECK(!info.s5.valid || (info.s5.slp_typa <= 7 && info.s5.slp_typb <= 7));
    CHECK(info.npci_roots <= ACPI_MAX_PCI_ROOTS);
    CHECK(info.pci_roots_dropped == 0 || info.npci_roots == ACPI_MAX_PCI_ROOTS);
    CHECK(st->devices >= info.npci_roots + info.pci_roots_dropped);
    for (u32 i = 0; i < info.npci_roots; i++) {
        const struct acpi_pci_root *r = &info.pci_roots[i];
        CHECK(fz_terminated(r->path, sizeof(r->path)) && name_path(r->path));
        CHECK(fz_terminated(r->hid, sizeof(r->hid)) && fz_terminated(r->uid_str, sizeof(r->uid_str)));
        CHECK((r->has_pxm || r->pxm == 0) && (r->has_bbn || r->base_bus == 0) && (r->has_seg || r->segment == 0));
        CHECK(!(r->has_uid && r->uid_str[0]));
        CHECK((r->unknown & ~0x1fu) == 0);
    }

    scan(&T, &again);
    CHECK(memcmp(&info, &again, sizeof(info)) == 0);
    for (u32 i = 0; i < T.n; i++)
        free(T.t[i]);
    return 0;
}

/* ---------------------------------------------------------------- seeds */

static u8 seed[65536];

static void write_seeds(const char *dir, const char *fixtures)
{
    static const char *const machines[] = { "pc-1node", "pc-3node", "q35-2node-pxb" };
    for (u32 m = 0; m < ARRAY_SIZE(machines); m++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s/DSDT.bin", fixtures, machines[m]);
        FILE *f = fopen(path, "rb");
        CHECK(f);
        size_t n = fread(seed, 1, sizeof(seed), f);
        CHECK(fclose(f) == 0 && n > sizeof(struct acpi_header));
        seed[sizeof(struct acpi_header) - 1] = seed[8] >= 2; /* the flags byte before the AML */
        snprintf(path, sizeof(path), "dsdt-%s", machines[m]);
        fz_write_seed(dir, path, seed + sizeof(struct acpi_header) - 1, n - sizeof(struct acpi_header) + 1);
    }
    /* Device(\_SB.PCI1) { Name(_HID, EisaId("PNP0A08")) Name(_UID, 1) }, then an
     * SSDT adding Scope(\_SB.PCI1) { Name(_PXM, 1) Method(_BBN) } and \_S5. */
    static const char crafted[] = "\x01"                                    /* flags */
                                  "\x5b\x82\x1b\\\x2e_SB_PCI1"              /* Device(\_SB.PCI1) */
                                  "\x08_HID\x0c\x41\xd0\x0a\x08"            /* Name(_HID, EisaId) */
                                  "\x08_UID\x01"                            /* Name(_UID, One) */
                                  "SSDT"                                    /* the SSDT */
                                  "\x10\x19\\\x2e_SB_PCI1"                  /* Scope(\_SB.PCI1) */
                                  "\x08_PXM\x01"                            /* Name(_PXM, One) */
                                  "\x14\x07_BBN\x00\xa3"                    /* Method(_BBN) { Noop } */
                                  "\x08\\_S5_\x12\x06\x02\x0a\x05\x0a\x05"; /* Name(\_S5_, {5, 5}) */
    fz_write_seed(dir, "crafted", crafted, sizeof(crafted) - 1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("AML_WRITE_SEEDS"), *fixtures = getenv("ACPI_FIXTURES");
    if (dir) {
        write_seeds(dir, fixtures ? fixtures : "tests/unit/fixtures/acpi");
        exit(0);
    }
    return 0;
}
