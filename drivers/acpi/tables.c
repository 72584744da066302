/* Table discovery: RSDP (ACPI 6.5 5.2.5), XSDT/RSDT (5.2.7, 5.2.8), and the
 * checks every table goes through before anything reads its body. */
#include "drivers/acpi/internal.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

const void *acpi_mem_map(const struct acpi_mem *mem, u64 pa, u64 len)
{
    if (!mem || !mem->map || len == 0 || pa + len < pa)
        return NULL;
    return mem->map(mem->opaque, pa, len);
}

u8 acpi_checksum(const void *p, u64 len)
{
    const u8 *b = p;
    u8 sum = 0;
    for (u64 i = 0; i < len; i++)
        sum = (u8)(sum + b[i]);
    return sum;
}

void acpi_copy_id(char *dst, const void *src, size_t n)
{
    const u8 *s = src;
    size_t i;
    for (i = 0; i < n && s[i]; i++)
        dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
    dst[i] = '\0';
}

u32 acpi_walk_subtables(const char *sig, const void *tbl, u32 len, u32 start,
                        void (*fn)(const struct acpi_subtable *h, void *arg), void *arg)
{
    const u8 *base = tbl;
    u32 off = start;
    while (off < len) {
        if (len - off < sizeof(struct acpi_subtable)) {
            log_warn(ACPI_TAG, "%s: %u stray byte(s) at offset %u after the last entry: ignored", sig, len - off, off);
            return 1;
        }
        const struct acpi_subtable *h = (const void *)(base + off);
        if (h->length < sizeof(*h)) {
            log_warn(ACPI_TAG,
                     "%s: entry of type %u at offset %u has length %u: "
                     "rest of the table ignored",
                     sig, h->type, off, h->length);
            return 1;
        }
        if (h->length > len - off) {
            log_warn(ACPI_TAG,
                     "%s: entry of type %u at offset %u (length %u) runs past the "
                     "table's end (%u): rest of the table ignored",
                     sig, h->type, off, h->length, len);
            return 1;
        }
        fn(h, arg);
        off += h->length;
    }
    return 0;
}

const char *acpi_table_status_name(u8 status)
{
    switch (status) {
    case ACPI_TABLE_OK: return "ok";
    case ACPI_TABLE_UNMAPPED: return "unreadable";
    case ACPI_TABLE_BAD_LENGTH: return "bad length";
    case ACPI_TABLE_BAD_CHECKSUM: return "bad checksum";
    case ACPI_TABLE_BAD_SIGNATURE: return "bad signature";
    }
    return "?";
}

static struct acpi_table_desc *new_desc(struct acpi_info *out, u64 pa, bool *existed)
{
    *existed = false;
    for (u32 i = 0; i < out->ntables; i++) {
        if (out->tables[i].pa == pa) {
            *existed = true;
            return &out->tables[i];
        }
    }
    if (out->ntables >= ACPI_MAX_TABLES) {
        if (out->tables_dropped++ == 0)
            log_warn(ACPI_TAG, "more than %u tables: table at %#llx and later ones ignored", ACPI_MAX_TABLES,
                     (unsigned long long)pa);
        return NULL;
    }
    struct acpi_table_desc *d = &out->tables[out->ntables++];
    memset(d, 0, sizeof(*d));
    d->pa = pa;
    memcpy(d->signature, "????", 5);
    return d;
}

const struct acpi_table_desc *acpi_add_table(const struct acpi_mem *mem, struct acpi_info *out, u64 pa,
                                             const char *expect)
{
    bool existed;
    struct acpi_table_desc *d = new_desc(out, pa, &existed);
    if (!d || existed)
        return d;

    const struct acpi_header *h = acpi_mem_map(mem, pa, sizeof(*h));
    if (!h) {
        d->status = ACPI_TABLE_UNMAPPED;
        log_warn(ACPI_TAG, "%s table at %#llx: header not readable: skipped", expect ? expect : "a",
                 (unsigned long long)pa);
        return d;
    }
    acpi_copy_id(d->signature, h->signature, 4);
    acpi_copy_id(d->oem_id, h->oem_id, 6);
    acpi_copy_id(d->oem_table_id, h->oem_table_id, 8);
    d->revision = h->revision;
    d->length = h->length;

    if (expect && memcmp(h->signature, expect, 4) != 0) {
        d->status = ACPI_TABLE_BAD_SIGNATURE;
        log_warn(ACPI_TAG, "table at %#llx should be %s but is \"%s\": skipped", (unsigned long long)pa, expect,
                 d->signature);
        return d;
    }
    if (d->length < sizeof(*h) || d->length > ACPI_MAX_TABLE_LEN) {
        d->status = ACPI_TABLE_BAD_LENGTH;
        log_warn(ACPI_TAG, "%s at %#llx: length %u is %s: skipped", d->signature, (unsigned long long)pa, d->length,
                 d->length < sizeof(*h) ? "shorter than its header" : "implausibly large");
        return d;
    }
    const void *body = acpi_mem_map(mem, pa, d->length);
    if (!body) {
        d->status = ACPI_TABLE_UNMAPPED;
        log_warn(ACPI_TAG, "%s at %#llx: %u bytes not readable: skipped", d->signature, (unsigned long long)pa,
                 d->length);
        return d;
    }
    u8 sum = acpi_checksum(body, d->length);
    if (sum != 0) {
        d->status = ACPI_TABLE_BAD_CHECKSUM;
        log_warn(ACPI_TAG, "%s at %#llx: bad checksum (bytes sum to %#x, not 0): skipped", d->signature,
                 (unsigned long long)pa, sum);
        return d;
    }
    d->status = ACPI_TABLE_OK;
    return d;
}

const struct acpi_table_desc *acpi_add_facs(const struct acpi_mem *mem, struct acpi_info *out, u64 pa)
{
    bool existed;
    struct acpi_table_desc *d = new_desc(out, pa, &existed);
    if (!d || existed)
        return d;
    const struct acpi_facs *f = acpi_mem_map(mem, pa, sizeof(*f));
    if (!f) {
        d->status = ACPI_TABLE_UNMAPPED;
        log_warn(ACPI_TAG, "FACS at %#llx not readable: skipped", (unsigned long long)pa);
        return d;
    }
    acpi_copy_id(d->signature, f->signature, 4);
    d->length = f->length;
    d->revision = f->version;
    if (memcmp(f->signature, "FACS", 4) != 0) {
        d->status = ACPI_TABLE_BAD_SIGNATURE;
        log_warn(ACPI_TAG, "FACS at %#llx has signature \"%s\": skipped", (unsigned long long)pa, d->signature);
    } else if (f->length < sizeof(*f) || f->length > ACPI_MAX_TABLE_LEN) {
        d->status = ACPI_TABLE_BAD_LENGTH;
        log_warn(ACPI_TAG, "FACS at %#llx: length %u is %s: skipped", (unsigned long long)pa, f->length,
                 f->length < sizeof(*f) ? "below 64" : "implausibly large");
    } else if (!acpi_mem_map(mem, pa, f->length)) {
        /* Listed ok, it must map whole (acpi_map_table(), `acpi dump`). */
        d->status = ACPI_TABLE_UNMAPPED;
        log_warn(ACPI_TAG, "FACS at %#llx: %u bytes not readable: skipped", (unsigned long long)pa, f->length);
    } else {
        d->status = ACPI_TABLE_OK;
    }
    return d;
}

const struct acpi_table_desc *acpi_find_table(const struct acpi_info *info, const char *sig, u32 instance)
{
    for (u32 i = 0; i < info->ntables; i++) {
        const struct acpi_table_desc *t = &info->tables[i];
        if (t->status == ACPI_TABLE_OK && memcmp(t->signature, sig, 4) == 0 && instance-- == 0)
            return t;
    }
    return NULL;
}

const void *acpi_map_table(const struct acpi_mem *mem, const struct acpi_table_desc *t)
{
    if (!t || t->status != ACPI_TABLE_OK)
        return NULL;
    return acpi_mem_map(mem, t->pa, t->length);
}

/* Lists the root table and every table it points to; entry_size is 8 (XSDT) or 4. */
static int walk_root(const struct acpi_mem *mem, struct acpi_info *out, u64 pa, const char *sig, u32 entry_size)
{
    const struct acpi_table_desc *root = acpi_add_table(mem, out, pa, sig);
    if (!root || root->status != ACPI_TABLE_OK)
        return -EIO;
    u32 n = (root->length - (u32)sizeof(struct acpi_header)) / entry_size;
    if ((root->length - sizeof(struct acpi_header)) % entry_size) {
        log_warn(ACPI_TAG,
                 "%s at %#llx: length %u is not a header plus whole %u-byte entries: "
                 "skipped",
                 sig, (unsigned long long)pa, root->length, entry_size);
        out->tables[root - out->tables].status = ACPI_TABLE_BAD_LENGTH;
        return -EIO;
    }
    const u8 *t = acpi_map_table(mem, root);
    if (!t)
        return -EIO;
    for (u32 i = 0; i < n; i++) {
        const u8 *e = t + sizeof(struct acpi_header) + (size_t)i * entry_size;
        u64 entry = entry_size == 8 ? acpi_rd64(e) : acpi_rd32(e);
        if (entry == 0) {
            log_warn(ACPI_TAG, "%s entry %u is a null pointer: skipped", sig, i);
            continue;
        }
        (void)acpi_add_table(mem, out, entry, NULL);
    }
    return 0;
}

int acpi_discover(const struct acpi_mem *mem, u64 rsdp_pa, struct acpi_info *out)
{
    out->rsdp_pa = rsdp_pa;
    if (rsdp_pa == 0) {
        log_warn(ACPI_TAG, "firmware gave no RSDP: no ACPI tables");
        return -ENOENT;
    }
    const struct acpi_rsdp *r = acpi_mem_map(mem, rsdp_pa, ACPI_RSDP_V1_SIZE);
    if (!r) {
        log_warn(ACPI_TAG, "RSDP at %#llx not readable", (unsigned long long)rsdp_pa);
        return -EFAULT;
    }
    if (memcmp(r->signature, "RSD PTR ", 8) != 0) {
        log_warn(ACPI_TAG, "RSDP at %#llx: no \"RSD PTR \" signature", (unsigned long long)rsdp_pa);
        return -EINVAL;
    }
    if (acpi_checksum(r, ACPI_RSDP_V1_SIZE) != 0) {
        log_warn(ACPI_TAG, "RSDP at %#llx: bad checksum", (unsigned long long)rsdp_pa);
        return -EINVAL;
    }
    out->rsdp_revision = r->revision;
    acpi_copy_id(out->rsdp_oem_id, r->oem_id, 6);
    u64 rsdt = r->rsdt_address;
    u64 xsdt = 0;

    if (r->revision >= 2) {
        const struct acpi_rsdp *r2 = acpi_mem_map(mem, rsdp_pa, sizeof(*r2));
        if (!r2) {
            log_warn(ACPI_TAG, "RSDP revision %u but its 36 bytes are not readable: using RSDT", r->revision);
        } else if (r2->length < sizeof(*r2) || r2->length > 4096) {
            log_warn(ACPI_TAG, "RSDP length %u is invalid: ignoring XSDT, using RSDT", r2->length);
        } else {
            const void *full = acpi_mem_map(mem, rsdp_pa, r2->length);
            if (!full)
                log_warn(ACPI_TAG, "RSDP: %u bytes not readable: using RSDT", r2->length);
            else if (acpi_checksum(full, r2->length) != 0)
                log_warn(ACPI_TAG, "RSDP extended checksum bad: ignoring XSDT, using RSDT");
            else
                xsdt = r2->xsdt_address;
        }
    }

    if (xsdt) {
        if (walk_root(mem, out, xsdt, "XSDT", 8) == 0) {
            out->using_xsdt = true;
            return 0;
        }
        log_warn(ACPI_TAG, "XSDT at %#llx unusable: falling back to RSDT", (unsigned long long)xsdt);
        /* Keep only the XSDT's own entry (with its bad status) in the list. */
        for (u32 i = 0; i < out->ntables; i++) {
            if (out->tables[i].pa == xsdt) {
                out->tables[0] = out->tables[i];
                out->ntables = 1;
                break;
            }
        }
    }
    if (!rsdt) {
        log_err(ACPI_TAG, "no usable XSDT and no RSDT: no ACPI tables");
        return -EIO;
    }
    if (walk_root(mem, out, rsdt, "RSDT", 4) != 0) {
        log_err(ACPI_TAG, "RSDT at %#llx unusable: no ACPI tables", (unsigned long long)rsdt);
        return -EIO;
    }
    return 0;
}
