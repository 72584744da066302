/* libFuzzer target for the bzImage loader (vmm/bzimage.c): bzimage_probe() and
 * bzimage_inspect() on arbitrary bytes, then bzimage_load() into a partition
 * layout (vmm/layout.c) of 2..128 MiB whose RAM is only bookkept, not backed.
 *
 * Input: CTRL control bytes, then the image (the end of libFuzzer's buffer, so
 * ASan sees any read past the file). The control bytes choose the partition's
 * memory, an extra reserved range, an initrd size, the command line's length
 * and a write to fail. Invariants, each a CHECK:
 *  - inspect returns 0 or a documented code, with a message exactly when it
 *    fails, the same verdict with a tiny message buffer and with none; what it
 *    accepts says what the header says (read here on its own) and lies inside
 *    the file;
 *  - load either refuses before any write, or places the kernel at a multiple
 *    of kernel_alignment at or above max(pref_address, 1 MiB) (pref_address
 *    itself when not relocatable) with [load, load + init_size) in one RAM
 *    range and clear of every reserved range, the zero page and the command
 *    line, and no lower candidate that fits (checked for the first 4096); the
 *    initrd page-aligned, in RAM above 1 MiB, below initrd_addr_max + 1,
 *    outside the kernel and the reserved ranges; writes exactly the kernel's
 *    bytes, the initrd and the command line; the zero page holds the header
 *    and the loader's fields; a failing write's error comes back.
 *
 * BZIMAGE_WRITE_SEEDS=dir ./fuzz_bzimage writes seed inputs into dir and exits. */
#include "vmm/bzimage.h"
#include "vmm/layout.h"
#include "kernel/lib/errno.h"
#include "tests/fuzz/fuzz.h"

#define CTRL       12
#define C_MEM      0 /* memory = (byte % 64 + 1) * 2 MiB */
#define C_FLAGS    1
#define F_RES      0x01 /* an extra reserved range */
#define F_FAIL     0x02 /* fail write number C_FAILAT */
#define F_INITRD   0x04
#define C_FAILAT   2
#define C_RES      3 /* le16 start, le16 length, in 64 KiB units */
#define C_INITRD   7 /* le16: initrd size in 4 KiB units, + 1 */
#define C_CMDLEN   9 /* le16: command line length */
#define CANDIDATES 4096

static u8 initrd_data[MiB(1)];
static char cmdline[4096];

static struct {
    const u8 *img;
    u64 isize;
    const struct bzimage_info *bz;
    u32 calls;
    int fail_at;
    u64 load, initrd_gpa; /* what the writes said */
} W;

static int fz_write(void *ctx, gpa_t g, const void *src, u64 len)
{
    CHECK(ctx == &W);
    /* In order: the kernel's bytes, the initrd, the command line. */
    if (W.calls == 0) {
        CHECK(src == W.img + W.bz->kernel_offset && len == W.bz->kernel_size);
        W.load = g.v;
    } else if (src == initrd_data) {
        W.initrd_gpa = g.v;
    } else {
        CHECK(src == cmdline || strcmp(src, "") == 0);
    }
    if ((int)W.calls++ == W.fail_at)
        return -EIO;
    return 0;
}

static int fz_zero(void *ctx, gpa_t g, u64 len)
{
    (void)ctx;
    (void)g;
    (void)len;
    CHECK(0); /* the loader zeroes nothing */
    return 0;
}

static bool overlaps(u64 a, u64 a_end, u64 b, u64 b_end) { return a < b_end && b < a_end; }

static bool in_ram(const struct partition_layout *l, u64 a, u64 len)
{
    for (u32 i = 0; i < l->nranges; i++) {
        const struct pvh_mem_range *r = &l->ranges[i];
        if (r->type == E820_RAM && a >= r->addr && a + len >= a && a + len <= r->addr + r->size)
            return true;
    }
    return false;
}

static bool clear(const struct pvh_range *res, u32 n, const struct bzimage_config *c, u64 cmd_bytes, u64 a, u64 len)
{
    for (u32 i = 0; i < n; i++)
        if (overlaps(a, a + len, res[i].start, res[i].end))
            return false;
    return !overlaps(a, a + len, c->zero_page.v, c->zero_page.v + BP_SIZE) &&
           !overlaps(a, a + len, c->cmdline_gpa.v, c->cmdline_gpa.v + cmd_bytes);
}

static void check_accepted(const u8 *img, u64 size, const struct bzimage_info *bz)
{
    CHECK(fz_rd16(img + 0x1fe) == BP_BOOT_FLAG && memcmp(img + 0x202, "HdrS", 4) == 0);
    CHECK(bz->version == fz_rd16(img + 0x206) && bz->version >= BP_MIN_VERSION);
    CHECK(bz->header_end == 0x202u + img[0x201] && bz->header_end >= BP_HEADER_END_MIN &&
          bz->header_end <= BP_HEADER_END_MAX && bz->header_end <= size);
    CHECK(bz->xloadflags == fz_rd16(img + 0x236) && (bz->xloadflags & XLF_KERNEL_64));
    u32 sects = img[0x1f1] ? img[0x1f1] : 4;
    CHECK(bz->setup_sects == sects && bz->kernel_offset == (sects + 1) * 512ULL);
    CHECK(bz->kernel_size == fz_rd32(img + 0x1f4) * 16ULL && bz->kernel_size > 0x200);
    CHECK(bz->kernel_offset < size && bz->kernel_size <= size - bz->kernel_offset);
    CHECK(bz->init_size == fz_rd32(img + 0x260) && bz->init_size >= bz->kernel_size);
    CHECK(bz->pref_address == fz_rd64(img + 0x258) && bz->pref_address % PAGE_SIZE == 0);
    CHECK(bz->relocatable == (img[0x234] != 0) && bz->kernel_alignment == fz_rd32(img + 0x230));
    if (bz->relocatable)
        CHECK(bz->kernel_alignment >= PAGE_SIZE && bz->kernel_alignment <= GiB(1) &&
              (bz->kernel_alignment & (bz->kernel_alignment - 1)) == 0);
}

static void check_load(const u8 *img, u64 size, const struct bzimage_info *bz, const u8 *ctrl)
{
    static struct partition_layout l;
    static struct boot_params bp;
    char err[BZ_ERR_LEN];
    u64 memory = ((u64)(ctrl[C_MEM] % 64) + 1) * MiB(2);
    CHECK(layout_plan(memory, &l, err, sizeof(err)) == 0);
    struct pvh_range res[5];
    memcpy(res, l.reserved, sizeof(l.reserved));
    u32 nres = l.nreserved;
    if (ctrl[C_FLAGS] & F_RES) {
        u64 s = (u64)fz_rd16(ctrl + C_RES) << 16, n = (u64)fz_rd16(ctrl + C_RES + 2) << 16;
        res[nres++] = (struct pvh_range){ s, s + n, "a fuzzed range" };
    }
    u32 cmdlen = fz_rd16(ctrl + C_CMDLEN) % sizeof(cmdline);
    memset(cmdline, 'a', cmdlen);
    cmdline[cmdlen] = '\0';
    struct bzimage_config c = {
        .ranges = l.ranges,
        .nranges = l.nranges,
        .reserved = res,
        .nreserved = nres,
        .cmdline = cmdline,
        .cmdline_gpa = gpa(LAYOUT_BOOT64_MISC + 0x800),
        .cmdline_max = 0x800,
        .zero_page = gpa(LAYOUT_START_INFO),
        .rsdp = LAYOUT_ACPI,
    };
    if (ctrl[C_FLAGS] & F_INITRD) {
        c.initrd = initrd_data;
        c.initrd_size = ((u64)fz_rd16(ctrl + C_INITRD) % (sizeof(initrd_data) / PAGE_SIZE) + 1) * PAGE_SIZE;
    }
    memset(&W, 0, sizeof(W));
    W.img = img;
    W.isize = size;
    W.bz = bz;
    W.fail_at = (ctrl[C_FLAGS] & F_FAIL) ? ctrl[C_FAILAT] % 4 : -1;
    const struct pvh_load_ops ops = { fz_write, fz_zero, &W };
    struct bzimage_placement pl;
    int rc = bzimage_load(img, size, bz, &c, &ops, &bp, &pl, err, sizeof(err));
    CHECK(fz_terminated(err, sizeof(err)) && (rc == 0) == (err[0] == '\0'));
    if (rc) {
        CHECK(rc == -ERANGE || rc == -ENOSPC || rc == -E2BIG || rc == -EIO);
        if (rc == -EIO)
            CHECK(W.calls == (u32)W.fail_at + 1);
        else
            CHECK(W.calls == 0);
        return;
    }
    const u64 cmd_bytes = cmdlen + 1ULL, init = bz->init_size;
    CHECK(cmdlen <= bz->cmdline_size && pl.cmdline_len == cmdlen);
    CHECK(W.calls == 2 + (c.initrd_size != 0) && W.load == pl.load && pl.entry == pl.load + 0x200);
    /* The kernel. */
    const u64 start = bz->pref_address > MiB(1) ? bz->pref_address : MiB(1);
    CHECK(in_ram(&l, pl.load, init) && clear(res, nres, &c, cmd_bytes, pl.load, init));
    if (bz->relocatable) {
        const u64 al = bz->kernel_alignment;
        CHECK(pl.load % al == 0 && pl.load >= start);
        u64 first = (start + al - 1) / al * al;
        for (u64 a = first, k = 0; a < pl.load && k < CANDIDATES; a += al, k++)
            CHECK(!in_ram(&l, a, init) || !clear(res, nres, &c, cmd_bytes, a, init));
    } else {
        CHECK(pl.load == bz->pref_address);
    }
    /* The initrd. */
    if (c.initrd_size) {
        CHECK(W.initrd_gpa == pl.initrd && pl.initrd_size == c.initrd_size);
        CHECK(pl.initrd % PAGE_SIZE == 0 && pl.initrd >= MiB(1) && in_ram(&l, pl.initrd, pl.initrd_size));
        CHECK(pl.initrd + pl.initrd_size <= (u64)bz->initrd_addr_max + 1);
        CHECK(clear(res, nres, &c, cmd_bytes, pl.initrd, pl.initrd_size));
        CHECK(!overlaps(pl.initrd, pl.initrd + pl.initrd_size, pl.load, pl.load + init));
    }
    /* The zero page. */
    const u8 *z = (const u8 *)&bp;
    CHECK(z[0x1ef] == 0 && z[0x1f1] == img[0x1f1] && memcmp(z + 0x1fe, img + 0x1fe, 0x12) == 0);
    CHECK(memcmp(z + 0x22c, img + 0x22c, 0x250 - 0x22c) == 0);
    CHECK(z[0x210] == 0xff && fz_rd32(z + 0x228) == c.cmdline_gpa.v && fz_rd32(z + 0x218) == pl.initrd);
    CHECK(fz_rd32(z + 0x21c) == pl.initrd_size && fz_rd64(z + 0x70) == LAYOUT_ACPI);
    CHECK(z[0x1e8] == l.nranges && fz_rd64(z + 0x2d0 + 20 * 3 + 8) == memory - LAYOUT_HIGH_RAM);
    for (u32 off = bz->header_end; off < 0x2d0; off++)
        CHECK(z[off] == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct bzimage_info bz, bz2;
    char err[BZ_ERR_LEN], small[7];
    if (size < CTRL)
        return 0;
    const u8 *ctrl = data, *img = data + CTRL;
    const u64 isize = size - CTRL;
    bool probe = bzimage_probe(img, isize);
    int rc = bzimage_inspect(img, isize, &bz, err, sizeof(err));
    CHECK(rc == 0 || rc == -ENOEXEC || rc == -EINVAL);
    CHECK(fz_terminated(err, sizeof(err)) && (rc == 0) == (err[0] == '\0'));
    CHECK(rc != 0 || probe);
    CHECK(bzimage_inspect(img, isize, &bz2, small, sizeof(small)) == rc);
    CHECK(fz_terminated(small, sizeof(small)) && strncmp(small, err, sizeof(small) - 1) == 0);
    CHECK(bzimage_inspect(img, isize, &bz2, NULL, 0) == rc && memcmp(&bz, &bz2, sizeof(bz)) == 0);
    if (rc == 0) {
        check_accepted(img, isize, &bz);
        check_load(img, isize, &bz, ctrl);
    }
    return 0;
}

/* ---------------------------------------------------------------- seeds */

static u8 seed[CTRL + 0x2000];

static void sput16(u64 off, u16 v) { memcpy(seed + CTRL + off, &v, 2); }
static void sput32(u64 off, u32 v) { memcpy(seed + CTRL + off, &v, 4); }
static void sput64(u64 off, u64 v) { memcpy(seed + CTRL + off, &v, 8); }

/* Debian's header shrunk: 2.15, relocatable, 2 MiB alignment, a 4 KiB kernel. */
static size_t seed_image(u8 sects, u32 init, u64 pref, u8 reloc)
{
    memset(seed + CTRL, 0, sizeof(seed) - CTRL);
    u32 sec = sects ? sects : 4;
    seed[CTRL + 0x1f1] = sects;
    sput32(0x1f4, 0x1000 / 16);
    sput16(0x1fe, 0xaa55);
    seed[CTRL + 0x200] = 0xeb;
    seed[CTRL + 0x201] = 0x6a;
    memcpy(seed + CTRL + 0x202, "HdrS", 4);
    sput16(0x206, 0x020f);
    seed[CTRL + 0x211] = 1;
    sput32(0x22c, 0x7fffffff);
    sput32(0x230, 0x200000);
    seed[CTRL + 0x234] = reloc;
    sput16(0x236, 0x7f);
    sput32(0x238, 2047);
    sput64(0x258, pref);
    sput32(0x260, init);
    return CTRL + (sec + 1) * 512 + 0x1000;
}

static void s_ctrl(u8 mem, u8 flags, u8 failat, u16 rstart, u16 rlen, u16 initrd, u16 cmdlen)
{
    memset(seed, 0, CTRL);
    seed[C_MEM] = mem;
    seed[C_FLAGS] = flags;
    seed[C_FAILAT] = failat;
    memcpy(seed + C_RES, &rstart, 2);
    memcpy(seed + C_RES + 2, &rlen, 2);
    memcpy(seed + C_INITRD, &initrd, 2);
    memcpy(seed + C_CMDLEN, &cmdlen, 2);
}

static void write_seeds(const char *dir)
{
    size_t n = seed_image(1, 0x400000, 0x1000000, 1);
    s_ctrl(31, F_INITRD, 0, 0, 0, 3, 40); /* 64 MiB, an initrd, a command line */
    fz_write_seed(dir, "debian-like", seed, n);
    s_ctrl(31, F_INITRD | F_RES, 0, 0x100, 0x10, 200, 0); /* a hole at 16 MiB */
    fz_write_seed(dir, "hole-at-pref", seed, n);
    s_ctrl(31, F_INITRD | F_FAIL, 1, 0, 0, 0, 3);
    fz_write_seed(dir, "initrd-write-fails", seed, n);
    n = seed_image(0, 0x200000, 0x300000, 0);
    s_ctrl(7, 0, 0, 0, 0, 0, 2100);
    fz_write_seed(dir, "fixed-long-cmdline", seed, n);
    n = seed_image(2, 0x7000000, 0x1000000, 1);
    s_ctrl(63, F_INITRD, 0, 0, 0, 255, 10);
    fz_write_seed(dir, "big-init-size", seed, n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("BZIMAGE_WRITE_SEEDS");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}
