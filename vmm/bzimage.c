/* bzImage loader; see bzimage.h. Offsets and field meanings are boot.rst's
 * ("The Real-Mode Kernel Header", "Details of Header Fields"). */
#include "vmm/bzimage.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

#define X(v)      ((unsigned long long)(v))
#define PROTO(v)  (v) >> 8, (v)&0xff
#define PARAGRAPH 16 /* syssize counts 16-byte paragraphs */

/* "32 MiB", "4100 KiB", "12345 bytes". */
static const char *fmt_size(u64 v, char buf[32])
{
    if (v && IS_ALIGNED(v, MiB(1)))
        ksnprintf(buf, 32, "%llu MiB", X(v >> 20));
    else if (v && IS_ALIGNED(v, KiB(1)))
        ksnprintf(buf, 32, "%llu KiB", X(v >> 10));
    else
        ksnprintf(buf, 32, "%llu bytes", X(v));
    return buf;
}

static bool is_pow2(u64 v) { return v && !(v & (v - 1)); }

static int check_header(const u8 *img, u64 size, const struct setup_header *h, struct bzimage_info *out, char *err,
                        size_t errlen)
{
    if (size < BP_OFF(hdr.version) + sizeof(h->version))
        return kerr_fmt(err, errlen, -ENOEXEC, "file of %llu bytes is too short for a bzImage setup header", X(size));
    if (h->boot_flag != BP_BOOT_FLAG)
        return kerr_fmt(err, errlen, -ENOEXEC, "no boot_flag 0xAA55 at 0x1FE (found 0x%04x)", h->boot_flag);
    if (h->header != BP_HDRS_MAGIC)
        return kerr_fmt(err, errlen, -ENOEXEC, "no \"HdrS\" at 0x202: a kernel before boot protocol 2.00");
    if (h->version < BP_MIN_VERSION)
        return kerr_fmt(err, errlen, -ENOEXEC,
                        "boot protocol %u.%02u is older than 2.12, the first with a 64-bit entry (xloadflags)",
                        PROTO(h->version));
    out->version = h->version;
    out->header_end = BP_HEADER_END_BASE + img[BP_JUMP_OFF + 1];
    if (out->header_end < BP_HEADER_END_MIN || out->header_end > BP_HEADER_END_MAX)
        return kerr_fmt(err, errlen, -EINVAL,
                        "the setup header ends at 0x%x (0x202 + the byte at 0x201); protocol %u.%02u needs it "
                        "to end between 0x%x and 0x%x",
                        out->header_end, PROTO(h->version), (unsigned)BP_HEADER_END_MIN, (unsigned)BP_HEADER_END_MAX);
    if (out->header_end > size)
        return kerr_fmt(err, errlen, -EINVAL, "the setup header [0x1f1, 0x%x) lies outside the %llu-byte file",
                        out->header_end, X(size));
    if (!(h->xloadflags & XLF_KERNEL_64))
        return kerr_fmt(err, errlen, -ENOEXEC, "no 64-bit entry: XLF_KERNEL_64 is clear in xloadflags 0x%x",
                        h->xloadflags);
    return 0;
}

static int check_kernel(u64 size, const struct setup_header *h, struct bzimage_info *out, char *err, size_t errlen)
{
    char sz[32], sz2[32];
    out->setup_sects = h->setup_sects ? h->setup_sects : BP_DEFAULT_SECTS;
    out->kernel_offset = ((u64)out->setup_sects + 1) * BP_SECTOR;
    if (out->kernel_offset >= size)
        return kerr_fmt(err, errlen, -EINVAL,
                        "setup_sects %u puts the protected-mode kernel at 0x%llx, past the end of the %llu-byte file",
                        h->setup_sects, X(out->kernel_offset), X(size));
    out->kernel_size = (u64)h->syssize * PARAGRAPH;
    if (out->kernel_size == 0 || out->kernel_size > size - out->kernel_offset)
        return kerr_fmt(err, errlen, -EINVAL,
                        "syssize 0x%x gives a protected-mode kernel of %s at 0x%llx; the file has %s there", h->syssize,
                        fmt_size(out->kernel_size, sz), X(out->kernel_offset),
                        fmt_size(size - out->kernel_offset, sz2));
    if (out->kernel_size <= BP_ENTRY64_OFF)
        return kerr_fmt(err, errlen, -EINVAL, "the protected-mode kernel of %s ends before its 64-bit entry at +0x200",
                        fmt_size(out->kernel_size, sz));
    out->init_size = h->init_size;
    if (h->init_size < out->kernel_size)
        return kerr_fmt(err, errlen, -EINVAL, "init_size 0x%x is smaller than the protected-mode kernel (%s)",
                        h->init_size, fmt_size(out->kernel_size, sz));
    out->relocatable = h->relocatable_kernel != 0;
    out->kernel_alignment = h->kernel_alignment;
    if (out->relocatable &&
        (!is_pow2(h->kernel_alignment) || h->kernel_alignment < PAGE_SIZE || h->kernel_alignment > BZ_MAX_ALIGN))
        return kerr_fmt(err, errlen, -EINVAL, "kernel_alignment 0x%x is not a power of two from 4 KiB to 1 GiB",
                        h->kernel_alignment);
    out->pref_address = h->pref_address;
    if (!IS_ALIGNED(h->pref_address, PAGE_SIZE) || h->pref_address > ~0ULL - h->init_size)
        return kerr_fmt(err, errlen, -EINVAL, "pref_address 0x%llx is not page-aligned or wraps with init_size",
                        X(h->pref_address));
    out->xloadflags = h->xloadflags;
    out->loadflags = h->loadflags;
    out->initrd_addr_max = h->initrd_addr_max;
    out->cmdline_size = h->cmdline_size;
    return 0;
}

bool bzimage_probe(const void *image, u64 size)
{
    const u8 *img = image;
    u16 flag;
    u32 magic;
    if (!image || size < BP_OFF(hdr.header) + sizeof(magic))
        return false;
    memcpy(&flag, img + BP_OFF(hdr.boot_flag), sizeof(flag));
    memcpy(&magic, img + BP_OFF(hdr.header), sizeof(magic));
    return flag == BP_BOOT_FLAG && magic == BP_HDRS_MAGIC;
}

int bzimage_inspect(const void *image, u64 size, struct bzimage_info *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!image || !out)
        return kerr_fmt(err, errlen, -EINVAL, "bad arguments");
    memset(out, 0, sizeof(*out));
    /* Whatever of the header the file holds; the rest reads as zero. */
    struct setup_header h;
    memset(&h, 0, sizeof(h));
    const u8 *img = image;
    if (size > BP_SETUP_HDR_OFF)
        memcpy(&h, img + BP_SETUP_HDR_OFF, MIN(size - BP_SETUP_HDR_OFF, (u64)sizeof(h)));
    int rc = check_header(img, size, &h, out, err, errlen);
    if (rc == 0)
        rc = check_kernel(size, &h, out, err, errlen);
    if (rc)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* ---- placement ---- */

struct span {
    u64 start, end; /* [start, end) */
    const char *what;
};

static bool overlaps(u64 a, u64 a_end, u64 b, u64 b_end) { return a < b_end && b < a_end; }

/* The memory map sorted by address with adjacent ranges of one type merged:
 * the E820 table, and the RAM the loader may use. */
static int sort_ranges(const struct bzimage_config *cfg, struct boot_e820_entry *out, u32 *n, char *err, size_t errlen)
{
    if (!cfg->ranges || cfg->nranges == 0)
        return kerr_fmt(err, errlen, -EINVAL, "empty memory map");
    if (cfg->nranges > BZ_MAX_RANGES)
        return kerr_fmt(err, errlen, -E2BIG, "%u memory ranges (at most %u)", cfg->nranges, BZ_MAX_RANGES);
    struct pvh_mem_range sorted[BZ_MAX_RANGES];
    u32 m;
    int rc = pvh_memmap_normalize(cfg->ranges, cfg->nranges, sorted, &m, err, errlen);
    if (rc < 0)
        return rc;
    for (u32 i = 0; i < m; i++)
        out[i] = (struct boot_e820_entry){ sorted[i].addr, sorted[i].size, sorted[i].type };
    *n = m;
    return 0;
}

/* The RAM range holding [a, a + len), or NULL. */
static const struct boot_e820_entry *ram_holding(const struct boot_e820_entry *mm, u32 n, u64 a, u64 len)
{
    for (u32 i = 0; i < n; i++)
        if (mm[i].type == E820_RAM && a >= mm[i].addr && a - mm[i].addr < mm[i].size &&
            len <= mm[i].size - (a - mm[i].addr))
            return &mm[i];
    return NULL;
}

/* The first blocker overlapping [a, a + len), or NULL. */
static const struct span *blocker(const struct span *b, u32 nb, u64 a, u64 len)
{
    for (u32 i = 0; i < nb; i++)
        if (overlaps(a, a + len, b[i].start, b[i].end))
            return &b[i];
    return NULL;
}

/* The next start at or above a (aligned) where [start, start + len) may be RAM:
 * a itself when a RAM range holds it, else the next RAM range's start. */
static bool next_ram(const struct boot_e820_entry *mm, u32 n, u64 a, u64 len, u64 align, u64 *next)
{
    for (u32 i = 0; i < n; i++) {
        if (mm[i].type != E820_RAM || mm[i].addr + mm[i].size <= a)
            continue;
        u64 s = ALIGN_UP(MAX(a, mm[i].addr), align);
        if (s < a || s < mm[i].addr) /* wrapped */
            return false;
        if (s - mm[i].addr < mm[i].size && len <= mm[i].size - (s - mm[i].addr)) {
            *next = s;
            return true;
        }
    }
    return false;
}

/* The kernel's load address: for a relocatable kernel the lowest multiple of
 * kernel_alignment at or above max(pref_address, 1 MiB) where [load, load +
 * init_size) is RAM and clear of every blocker; else pref_address or nothing.
 * Loading lower than pref_address would gain nothing: the 64-bit entry of a
 * relocatable kernel decompresses to max(load, LOAD_PHYSICAL_ADDR), which is
 * pref_address (arch/x86/boot/compressed/head_64.S). */
static int place_kernel(const struct bzimage_info *bz, const struct boot_e820_entry *mm, u32 n, const struct span *b,
                        u32 nb, u64 *load, char *err, size_t errlen)
{
    char sz[32], al[32];
    const u64 len = bz->init_size, start = MAX(bz->pref_address, BZ_LOW_LIMIT);
    if (!bz->relocatable) {
        const struct span *s = blocker(b, nb, bz->pref_address, len);
        if (bz->pref_address >= BZ_LOW_LIMIT && ram_holding(mm, n, bz->pref_address, len) && !s) {
            *load = bz->pref_address;
            return 0;
        }
        return kerr_fmt(err, errlen, -ERANGE,
                        "the kernel is not relocatable and its %s (init_size) at 0x%llx (pref_address) %s%s",
                        fmt_size(len, sz), X(bz->pref_address), s ? "overlaps " : "is not all RAM of the partition",
                        s ? s->what : "");
    }
    const u64 align = bz->kernel_alignment;
    u64 a = start;
    while (next_ram(mm, n, a, len, align, &a)) {
        const struct span *s = blocker(b, nb, a, len);
        if (!s) {
            *load = a;
            return 0;
        }
        a = s->end; /* past it: blockers end below 2^64 - len, checked by the caller */
    }
    u64 need = ALIGN_UP(start, align) + len;
    return kerr_fmt(err, errlen, -ERANGE,
                    "no room for the kernel: it needs %s (init_size) of RAM at a multiple of %s from 0x%llx "
                    "(pref_address), so the partition needs at least %llu MiB of memory",
                    fmt_size(len, sz), fmt_size(align, al), X(start), X(ALIGN_UP(need, MiB(2)) >> 20));
}

/* The highest page-aligned place for the initrd that ends at or below limit,
 * inside one RAM range above 1 MiB (below it, the decompressor may put its
 * paging trampoline and Linux its real-mode code), clear of every blocker. */
static bool place_initrd(u64 size, u64 limit, const struct boot_e820_entry *mm, u32 n, const struct span *b, u32 nb,
                         u64 *at)
{
    for (u32 i = n; i-- > 0;) {
        if (mm[i].type != E820_RAM)
            continue;
        const u64 lo = MAX(mm[i].addr, BZ_LOW_LIMIT), hi = MIN(mm[i].addr + mm[i].size, limit);
        if (hi < lo || hi - lo < size)
            continue;
        u64 a = ALIGN_DOWN(hi - size, PAGE_SIZE);
        while (a >= lo) {
            const struct span *s = blocker(b, nb, a, size);
            if (!s) {
                *at = a;
                return true;
            }
            if (s->start < lo + size)
                break;
            a = ALIGN_DOWN(s->start - size, PAGE_SIZE);
        }
    }
    return false;
}

/* The blockers: the reserved ranges, the zero page and the command line. */
static int gather_blockers(const struct bzimage_config *cfg, u64 cmd_bytes, struct span *b, u32 *nb, char *err,
                           size_t errlen)
{
    if (cfg->nreserved > BZ_MAX_RESERVED || (cfg->nreserved && !cfg->reserved))
        return kerr_fmt(err, errlen, -EINVAL, "bad reserved ranges");
    u32 k = 0;
    for (u32 i = 0; i < cfg->nreserved; i++) {
        const struct pvh_range *r = &cfg->reserved[i];
        if (r->start > r->end)
            return kerr_fmt(err, errlen, -EINVAL, "reserved range %u [0x%llx, 0x%llx) is backwards", i, X(r->start),
                            X(r->end));
        b[k++] = (struct span){ r->start, r->end, r->what ? r->what : "a reserved range" };
    }
    const u64 zp = cfg->zero_page.v, cl = cfg->cmdline_gpa.v;
    if (zp > ~0ULL - BP_SIZE || cl > ~0ULL - cmd_bytes)
        return kerr_fmt(err, errlen, -EINVAL, "the zero page or command line wraps");
    if (overlaps(zp, zp + BP_SIZE, cl, cl + cmd_bytes))
        return kerr_fmt(err, errlen, -EINVAL, "the zero page and the command line overlap");
    b[k++] = (struct span){ zp, zp + BP_SIZE, "the zero page" };
    b[k++] = (struct span){ cl, cl + cmd_bytes, "the command line" };
    /* Every blocker ends below 2^64 - 2^32, so a blocker's end plus a 32-bit
     * length (init_size) or an aligned step never wraps. */
    for (u32 i = 0; i < k; i++)
        if (b[i].end > ~0ULL - GiB(4) - BZ_MAX_ALIGN)
            return kerr_fmt(err, errlen, -EINVAL, "%s ends too high (0x%llx)", b[i].what, X(b[i].end));
    *nb = k;
    return 0;
}

static int place_all(const struct bzimage_info *bz, const struct bzimage_config *cfg, struct boot_e820_entry *mm,
                     u32 *nmm, struct bzimage_placement *pl, char *err, size_t errlen)
{
    char sz[32];
    const char *cmd = cfg->cmdline ? cfg->cmdline : "";
    const u64 len = strnlen(cmd, (u64)cfg->cmdline_max + 1);
    if (len > bz->cmdline_size)
        return kerr_fmt(err, errlen, -E2BIG,
                        "the command line is longer than the %u bytes the kernel takes (cmdline_size)",
                        bz->cmdline_size);
    if (len + 1 > cfg->cmdline_max)
        return kerr_fmt(err, errlen, -E2BIG, "the command line is longer than %u bytes",
                        cfg->cmdline_max ? cfg->cmdline_max - 1 : 0);
    pl->cmdline_len = (u32)len;
    int rc = sort_ranges(cfg, mm, nmm, err, errlen);
    if (rc)
        return rc;
    struct span b[BZ_MAX_RESERVED + 3];
    u32 nb = 0;
    if ((rc = gather_blockers(cfg, len + 1, b, &nb, err, errlen)))
        return rc;
    if ((rc = place_kernel(bz, mm, *nmm, b, nb, &pl->load, err, errlen)))
        return rc;
    pl->entry = pl->load + BP_ENTRY64_OFF;
    /* Everything the 32-bit header fields point at must be below 4 GiB unless
     * the kernel says otherwise; the partition layout keeps it so anyway. */
    const bool above_4g = bz->xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G;
    if (!above_4g && (pl->load + bz->init_size > GiB(4) || cfg->zero_page.v + BP_SIZE > GiB(4) ||
                      cfg->cmdline_gpa.v + len + 1 > GiB(4)))
        return kerr_fmt(err, errlen, -ERANGE,
                        "the kernel, zero page or command line lies above 4 GiB, "
                        "and XLF_CAN_BE_LOADED_ABOVE_4G is clear");
    if (!cfg->initrd_size)
        return 0;
    if (!cfg->initrd)
        return kerr_fmt(err, errlen, -EINVAL, "bad arguments");
    b[nb++] = (struct span){ pl->load, pl->load + bz->init_size, "the kernel" };
    /* initrd_addr_max is the highest address the initrd may occupy. It is
     * honoured even with XLF_CAN_BE_LOADED_ABOVE_4G: lower is always safe. */
    const u64 limit = (u64)bz->initrd_addr_max + 1;
    if (!place_initrd(cfg->initrd_size, limit, mm, *nmm, b, nb, &pl->initrd))
        return kerr_fmt(err, errlen, -ENOSPC,
                        "no room for the initrd of %s in RAM from 1 MiB to 0x%llx (initrd_addr_max + 1) outside the "
                        "kernel's [0x%llx, 0x%llx)",
                        fmt_size(cfg->initrd_size, sz), X(limit), X(pl->load), X(pl->load + bz->init_size));
    pl->initrd_size = cfg->initrd_size;
    return 0;
}

/* ---- the zero page ---- */

static void build_zero_page(const u8 *img, const struct bzimage_info *bz, const struct bzimage_config *cfg,
                            const struct boot_e820_entry *mm, u32 nmm, const struct bzimage_placement *pl,
                            struct boot_params *bp)
{
    memset(bp, 0, sizeof(*bp));
    /* The header as the kernel wrote it (boot.rst, 64-bit boot protocol), then
     * the loader's fields. */
    memcpy((u8 *)bp + BP_SETUP_HDR_OFF, img + BP_SETUP_HDR_OFF, bz->header_end - BP_SETUP_HDR_OFF);
    struct setup_header *h = &bp->hdr;
    h->type_of_loader = BP_LOADER_UNDEFINED;
    h->code32_start = (u32)pl->load;
    h->cmd_line_ptr = (u32)cfg->cmdline_gpa.v;
    bp->ext_cmd_line_ptr = (u32)(cfg->cmdline_gpa.v >> 32);
    h->ramdisk_image = (u32)pl->initrd;
    bp->ext_ramdisk_image = (u32)(pl->initrd >> 32);
    h->ramdisk_size = (u32)pl->initrd_size;
    bp->ext_ramdisk_size = (u32)(pl->initrd_size >> 32);
    /* No setup_data list: whatever the file held there means nothing here. */
    h->setup_data = 0;
    bp->acpi_rsdp_addr = cfg->rsdp;
    bp->e820_entries = (u8)nmm;
    for (u32 i = 0; i < nmm; i++)
        bp->e820_table[i] = mm[i];
}

int bzimage_load(const void *image, u64 size, const struct bzimage_info *bz, const struct bzimage_config *cfg,
                 const struct pvh_load_ops *ops, struct boot_params *bp, struct bzimage_placement *out, char *err,
                 size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!image || !bz || !cfg || !ops || !ops->write || !bp || !out)
        return kerr_fmt(err, errlen, -EINVAL, "bad arguments");
    memset(out, 0, sizeof(*out));
    /* What inspect checked, checked again: bz may not come from this image. */
    if (bz->kernel_offset > size || bz->kernel_size > size - bz->kernel_offset || bz->kernel_size > bz->init_size ||
        bz->header_end < BP_HEADER_END_MIN || bz->header_end > BP_HEADER_END_MAX || bz->header_end > size ||
        (bz->relocatable && (!is_pow2(bz->kernel_alignment) || bz->kernel_alignment > BZ_MAX_ALIGN)))
        return kerr_fmt(err, errlen, -EINVAL, "the kernel description does not match the image");
    /* Too big for a small stack; loads run one at a time (CPU 0 starts partitions). */
    static struct boot_e820_entry mm[BZ_MAX_RANGES];
    u32 nmm = 0;
    struct bzimage_placement pl;
    memset(&pl, 0, sizeof(pl));
    int rc = place_all(bz, cfg, mm, &nmm, &pl, err, errlen);
    if (rc)
        return rc;
    const u8 *img = image;
    rc = ops->write(ops->ctx, gpa(pl.load), img + bz->kernel_offset, bz->kernel_size);
    if (rc)
        return kerr_fmt(err, errlen, rc < 0 ? rc : -EIO, "writing the kernel to [0x%llx, +0x%llx) failed: %s",
                        X(pl.load), X(bz->kernel_size), strerror_short(rc));
    if (pl.initrd_size && (rc = ops->write(ops->ctx, gpa(pl.initrd), cfg->initrd, pl.initrd_size)))
        return kerr_fmt(err, errlen, rc < 0 ? rc : -EIO, "writing the initrd to [0x%llx, +0x%llx) failed: %s",
                        X(pl.initrd), X(pl.initrd_size), strerror_short(rc));
    const char *cmd = cfg->cmdline ? cfg->cmdline : "";
    if ((rc = ops->write(ops->ctx, cfg->cmdline_gpa, cmd, (u64)pl.cmdline_len + 1)))
        return kerr_fmt(err, errlen, rc < 0 ? rc : -EIO, "writing the command line failed: %s", strerror_short(rc));
    build_zero_page(img, bz, cfg, mm, nmm, &pl, bp);
    pl.e820_entries = nmm;
    *out = pl;
    return 0;
}
