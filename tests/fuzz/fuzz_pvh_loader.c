/* libFuzzer target for the PVH ELF loader (vmm/pvh_loader.c): pvh_inspect() on
 * arbitrary bytes, then pvh_load() into a fake guest RAM, then pvh_place_module().
 *
 * Input: CTRL control bytes, then the image (the end of libFuzzer's buffer, so
 * ASan sees any read past the file). The control bytes choose the guest RAM size
 * (4 KiB .. 512 KiB), up to two reserved ranges, a load callback to fail, and a
 * module's size, lower bound and limit. Invariants, each a CHECK:
 *  - pvh_inspect() returns 0 or a documented code, with a message exactly when it
 *    fails (also cut short in a small buffer); what it accepts has 1..16
 *    non-overlapping segments sorted by address, each the copy of one PT_LOAD
 *    header with a non-zero memsz (as many as the image has, read here on their
 *    own), file data inside the file, and the entry in one segment's file data;
 *  - pvh_load() refuses exactly the images whose segments leave RAM or touch a
 *    reserved range (worked out here independently), with a message; otherwise it
 *    writes each segment's file bytes and zeroes the rest of it through the
 *    callbacks, which check that no call leaves guest RAM, touches a reserved
 *    range or reads outside the image, and afterwards guest RAM is byte for byte
 *    what a reference load gives (nothing else touched); a failing callback's
 *    error comes back, with a message;
 *  - pvh_place_module() returns the lowest page-aligned place that fits, or
 *    -ENOSPC only when none does (every page below the limit is tried).
 *
 * PVH_WRITE_SEEDS=dir ./fuzz_pvh_loader writes seed inputs into dir and exits. */
#include "vmm/pvh_loader.h"
#include "vmm/pvh.h"
#include "kernel/lib/errno.h"
#include "tests/fuzz/fuzz.h"

#define CTRL     16
#define RAM_MAX  0x80000 /* 512 KiB */
#define PATTERN  0xa5
#define MAX_CALL (2 * PVH_MAX_SEGMENTS)

/* control bytes */
#define C_PAGES  0 /* le16: RAM pages - 1 (mod 128) */
#define C_FLAGS  2
#define F_NRES   0x03 /* reserved ranges: 0, 1 or 2 */
#define F_FAIL   0x04 /* fail callback number C_FAILAT */
#define F_POS    0x08 /* ... with a positive value (the loader must turn it into -EIO) */
#define F_HIGH   0x10 /* module lower bound near the top of the address space */
#define F_HUGE   0x20 /* module limit near 2^64 (no exhaustive check then) */
#define F_BACK   0x40 /* the first reserved range is backwards (end < start) */
#define C_FAILAT 3
#define C_RES    4  /* 2 x (le16 start, le16 length), in 64-byte units */
#define C_MODSZ  12 /* le16: module size in 16-byte units */
#define C_AFTER  14 /* le16: added to the lower bound, in 64-byte units */

static u8 ram[RAM_MAX], expect[RAM_MAX];

/* What the load callbacks may do, and what they did. */
static struct {
    const u8 *img;
    u64 size, ram_size;
    const struct pvh_image *pi;
    const struct pvh_range *res;
    u32 nres;
    u32 calls;
    int fail_at; /* -1: none */
    int fail_rc;
} L;

static bool overlaps(u64 a, u64 a_end, u64 b, u64 b_end) { return a < b_end && b < a_end; }

static void check_call(gpa_t g, u64 len)
{
    CHECK(len > 0 && g.v <= L.ram_size && len <= L.ram_size - g.v);
    for (u32 r = 0; r < L.nres; r++)
        CHECK(L.res[r].start >= L.res[r].end || !overlaps(g.v, g.v + len, L.res[r].start, L.res[r].end));
}

static int load_write(void *ctx, gpa_t g, const void *src, u64 len)
{
    CHECK(ctx == &L);
    check_call(g, len);
    const u8 *s = src;
    CHECK(s >= L.img && s <= L.img + L.size && len <= (u64)(L.img + L.size - s));
    /* It is the file data of a segment. */
    bool found = false;
    for (u32 k = 0; k < L.pi->nsegs && !found; k++) {
        const struct pvh_segment *seg = &L.pi->segs[k];
        found = seg->gpa == g.v && seg->filesz == len && s == L.img + seg->offset;
    }
    CHECK(found);
    if ((int)L.calls++ == L.fail_at)
        return L.fail_rc;
    memcpy(ram + g.v, src, len);
    return 0;
}

static int load_zero(void *ctx, gpa_t g, u64 len)
{
    CHECK(ctx == &L);
    check_call(g, len);
    bool found = false;
    for (u32 k = 0; k < L.pi->nsegs && !found; k++) {
        const struct pvh_segment *seg = &L.pi->segs[k];
        found = seg->gpa + seg->filesz == g.v && seg->memsz - seg->filesz == len;
    }
    CHECK(found);
    if ((int)L.calls++ == L.fail_at)
        return L.fail_rc;
    memset(ram + g.v, 0, len);
    return 0;
}

/* ---------------------------------------------------------------- inspect */

struct raw_phdr {
    u32 type;
    u64 offset, paddr, filesz, memsz;
};

/* The image's own program headers, read here without the loader (only called on
 * an image pvh_inspect() accepted, so the table lies inside the file). */
static u32 raw_phdrs(const u8 *img, struct raw_phdr *out)
{
    bool is64 = img[ELF_EI_CLASS] == ELFCLASS64;
    u64 phoff = is64 ? fz_rd64(img + 32) : fz_rd32(img + 28);
    u32 entsize = fz_rd16(img + (is64 ? 54 : 42)), n = fz_rd16(img + (is64 ? 56 : 44));
    for (u32 i = 0; i < n; i++) {
        const u8 *p = img + phoff + (u64)i * entsize;
        if (is64)
            out[i] = (struct raw_phdr){ fz_rd32(p), fz_rd64(p + 8), fz_rd64(p + 24), fz_rd64(p + 32), fz_rd64(p + 40) };
        else
            out[i] = (struct raw_phdr){ fz_rd32(p), fz_rd32(p + 4), fz_rd32(p + 12), fz_rd32(p + 16), fz_rd32(p + 20) };
    }
    return n;
}

static void check_accepted(const u8 *img, u64 size, const struct pvh_image *pi)
{
    static struct raw_phdr ph[PVH_MAX_PHDRS];
    u32 n = raw_phdrs(img, ph);
    CHECK(n >= 1 && n <= PVH_MAX_PHDRS);
    CHECK(pi->elf64 == (img[ELF_EI_CLASS] == ELFCLASS64));
    CHECK(pi->machine == fz_rd16(img + 18) && (pi->machine == EM_X86_64 || pi->machine == EM_386));

    u32 loads = 0;
    for (u32 i = 0; i < n; i++)
        loads += ph[i].type == PT_LOAD && ph[i].memsz != 0;
    CHECK(pi->nsegs >= 1 && pi->nsegs <= PVH_MAX_SEGMENTS && pi->nsegs == loads);

    bool entry_ok = false;
    for (u32 k = 0; k < pi->nsegs; k++) {
        const struct pvh_segment *s = &pi->segs[k];
        CHECK(s->phdr < n);
        const struct raw_phdr *r = &ph[s->phdr];
        CHECK(r->type == PT_LOAD && r->offset == s->offset && r->paddr == s->gpa && r->filesz == s->filesz &&
              r->memsz == s->memsz);
        CHECK(s->memsz > 0 && s->filesz <= s->memsz && s->memsz <= ~0ULL - s->gpa);
        CHECK(s->offset <= size && s->filesz <= size - s->offset);
        for (u32 j = 0; j < k; j++)
            CHECK(pi->segs[j].phdr != s->phdr);
        if (k > 0)
            CHECK(pi->segs[k - 1].gpa + pi->segs[k - 1].memsz <= s->gpa); /* sorted, disjoint */
        entry_ok |= pi->entry >= s->gpa && pi->entry - s->gpa < s->filesz;
    }
    CHECK(entry_ok);
    CHECK(pi->start == pi->segs[0].gpa);
    CHECK(pi->end == pi->segs[pi->nsegs - 1].gpa + pi->segs[pi->nsegs - 1].memsz);
}

/* ---------------------------------------------------------------- load */

/* What pvh_check_placement() must say, worked out on its own. */
static int expected_placement(const struct pvh_image *pi, u64 ram_size, const struct pvh_range *res, u32 nres)
{
    for (u32 r = 0; r < nres; r++)
        if (res[r].start > res[r].end)
            return -EINVAL;
    for (u32 k = 0; k < pi->nsegs; k++) {
        const struct pvh_segment *s = &pi->segs[k];
        if (s->gpa + s->memsz > ram_size || s->gpa + s->memsz < s->gpa)
            return -ERANGE;
        for (u32 r = 0; r < nres; r++)
            if (res[r].start < res[r].end && overlaps(s->gpa, s->gpa + s->memsz, res[r].start, res[r].end))
                return -ERANGE;
    }
    return 0;
}

static void check_load(const u8 *img, u64 size, const struct pvh_image *pi, u64 ram_size, const struct pvh_range *res,
                       u32 nres, const u8 *ctrl)
{
    char err[PVH_ERR_LEN];
    u32 ncalls = 0;
    for (u32 k = 0; k < pi->nsegs; k++)
        ncalls += (pi->segs[k].filesz > 0) + (pi->segs[k].memsz > pi->segs[k].filesz);

    memset(ram, PATTERN, ram_size);
    L.img = img;
    L.size = size;
    L.ram_size = ram_size;
    L.pi = pi;
    L.res = res;
    L.nres = nres;
    L.calls = 0;
    L.fail_at = (ctrl[C_FLAGS] & F_FAIL) ? ctrl[C_FAILAT] % (MAX_CALL + 1) : -1;
    L.fail_rc = (ctrl[C_FLAGS] & F_POS) ? 5 : -ENOMEM;
    const struct pvh_load_ops ops = { load_write, load_zero, &L };

    int want = expected_placement(pi, ram_size, res, nres);
    CHECK(pvh_check_placement(pi, ram_size, res, nres, err, sizeof(err)) == want);
    CHECK(want == 0 ? err[0] == '\0' : err[0] != '\0');
    bool injected = want == 0 && L.fail_at >= 0 && (u32)L.fail_at < ncalls;
    if (injected)
        want = L.fail_rc < 0 ? L.fail_rc : -EIO;

    int rc = pvh_load(img, size, pi, ram_size, res, nres, &ops, err, sizeof(err));
    CHECK(rc == want);
    CHECK(fz_terminated(err, sizeof(err)));
    if (rc) {
        CHECK(err[0] != '\0');
        if (injected) {
            CHECK(L.calls == (u32)L.fail_at + 1); /* stopped at the failure */
            return;
        }
        CHECK(L.calls == 0); /* refused before writing a byte */
        return;
    }
    CHECK(L.calls == ncalls);
    /* The reference load. */
    memset(expect, PATTERN, ram_size);
    for (u32 k = 0; k < pi->nsegs; k++) {
        const struct pvh_segment *s = &pi->segs[k];
        memcpy(expect + s->gpa, img + s->offset, s->filesz);
        memset(expect + s->gpa + s->filesz, 0, s->memsz - s->filesz);
    }
    CHECK(memcmp(ram, expect, ram_size) == 0);
}

/* ---------------------------------------------------------------- modules */

static bool module_fits(u64 at, u64 size, u64 limit, const struct pvh_range *res, u32 nres)
{
    if (size > limit || at > limit - size)
        return false;
    for (u32 r = 0; r < nres; r++)
        if (res[r].start < res[r].end && overlaps(at, at + size, res[r].start, res[r].end))
            return false;
    return true;
}

static void check_module(u64 after, u64 size, u64 limit, const struct pvh_range *res, u32 nres)
{
    char err[PVH_ERR_LEN];
    u64 at = 0x1234;
    int rc = pvh_place_module(after, size, limit, res, nres, &at, err, sizeof(err));
    CHECK(fz_terminated(err, sizeof(err)));
    if (size == 0) {
        CHECK(rc == -EINVAL && at == 0x1234 && err[0]);
        return;
    }
    CHECK(rc == 0 || rc == -ENOSPC);
    if (rc == 0) {
        CHECK(err[0] == '\0' && IS_ALIGNED(at, PAGE_SIZE) && at >= after);
        CHECK(module_fits(at, size, limit, res, nres));
    } else {
        CHECK(err[0] != '\0' && at == 0x1234);
    }
    /* Exhaustively, when the limit is small enough: no lower page fits (and when
     * there was no room, none at all). */
    if (limit > RAM_MAX || after > limit)
        return;
    u64 stop = rc == 0 ? at : limit;
    for (u64 a = ALIGN_UP(after, PAGE_SIZE); a < stop; a += PAGE_SIZE)
        CHECK(!module_fits(a, size, limit, res, nres));
}

/* ---------------------------------------------------------------- entry */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pvh_image pi, pi2;
    char err[PVH_ERR_LEN], small[7];
    if (size < CTRL)
        return 0;
    const u8 *ctrl = data, *img = data + CTRL;
    u64 isize = size - CTRL;

    int rc = pvh_inspect(img, isize, &pi, err, sizeof(err));
    CHECK(rc == 0 || rc == -ENOEXEC || rc == -EINVAL || rc == -E2BIG);
    CHECK(fz_terminated(err, sizeof(err)) && (rc == 0) == (err[0] == '\0'));
    /* The same verdict with a message buffer too small for it, and with none. */
    CHECK(pvh_inspect(img, isize, &pi2, small, sizeof(small)) == rc);
    CHECK(fz_terminated(small, sizeof(small)) && strncmp(small, err, sizeof(small) - 1) == 0);
    CHECK(pvh_inspect(img, isize, &pi2, NULL, 0) == rc);
    CHECK(memcmp(&pi, &pi2, sizeof(pi)) == 0);

    struct pvh_range res[2];
    u32 nres = MIN(ctrl[C_FLAGS] & F_NRES, 2u);
    for (u32 r = 0; r < 2; r++) {
        u64 start = (u64)fz_rd16(ctrl + C_RES + 4 * r) * 64, len = (u64)fz_rd16(ctrl + C_RES + 4 * r + 2) * 64;
        res[r] = (struct pvh_range){ start, start + len, r ? NULL : "the start info" };
    }
    if (ctrl[C_FLAGS] & F_BACK)
        res[0] = (struct pvh_range){ res[0].end + 1, res[0].start, NULL };
    u64 ram_size = ((u64)(fz_rd16(ctrl + C_PAGES) % (RAM_MAX / PAGE_SIZE)) + 1) * PAGE_SIZE;

    if (rc == 0) {
        check_accepted(img, isize, &pi);
        check_load(img, isize, &pi, ram_size, res, nres, ctrl);
    }

    /* A module after the kernel (or anywhere, when there is none). */
    u64 msize = (u64)fz_rd16(ctrl + C_MODSZ) * 16, off = (u64)fz_rd16(ctrl + C_AFTER) * 64;
    u64 after = (ctrl[C_FLAGS] & F_HIGH) ? ~0ULL - off : (rc == 0 ? pi.end : 0) + off;
    u64 limit = (ctrl[C_FLAGS] & F_HUGE) ? ~0ULL - off / 64 : ram_size;
    check_module(after, msize, limit, res, nres);
    return 0;
}

/* ---------------------------------------------------------------- seeds */

static u8 seed[CTRL + 0x800];

static void s_ctrl(u16 pages, u8 flags, u16 r0, u16 r0len, u16 modsz)
{
    memset(seed, 0, sizeof(seed));
    memcpy(seed + C_PAGES, &pages, 2);
    seed[C_FLAGS] = flags;
    memcpy(seed + C_RES, &r0, 2);
    memcpy(seed + C_RES + 2, &r0len, 2);
    memcpy(seed + C_MODSZ, &modsz, 2);
}

static void s_put(u64 off, const void *v, size_t n) { memcpy(seed + CTRL + off, v, n); }

/* A PVH entry note at off; returns its size. */
static u32 s_note(u64 off, u32 type, const char *name, u64 value, u32 descsz, u32 align)
{
    struct elf_nhdr nh = { (u32)strlen(name) + 1, descsz, type };
    s_put(off, &nh, sizeof(nh));
    s_put(off + sizeof(nh), name, nh.n_namesz);
    u32 desc = (u32)(sizeof(nh) + ALIGN_UP(nh.n_namesz, align));
    s_put(off + desc, &value, descsz);
    return desc + ALIGN_UP(descsz, align);
}

static void s_data(u64 off, u64 len)
{
    for (u64 i = 0; i < len; i++)
        seed[CTRL + off + i] = (u8)(i * 7 + 1);
}

static void s_ident(u8 cls)
{
    s_put(0, ELF_MAGIC, 4);
    seed[CTRL + ELF_EI_CLASS] = cls;
    seed[CTRL + ELF_EI_DATA] = ELFDATA2LSB;
    seed[CTRL + ELF_EI_VERSION] = EV_CURRENT;
}

/* ELF64: PT_NOTE, text and data+bss; the note 4- or 8-aligned, after a GNU one. */
static size_t seed_elf64(u32 note_align, u32 descsz)
{
    s_ident(ELFCLASS64);
    struct elf64_ehdr eh;
    memcpy(&eh, seed + CTRL, sizeof(eh));
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_entry = 0xffffffff81010000ULL;
    eh.e_phoff = 64;
    eh.e_ehsize = 64;
    eh.e_phentsize = sizeof(struct elf64_phdr);
    eh.e_phnum = 3;
    s_put(0, &eh, sizeof(eh));
    u32 nlen = s_note(0x100, 3, "GNU", 0x1122334455667788ULL, 8, note_align);
    nlen += s_note(0x100 + nlen, XEN_ELFNOTE_PHYS32_ENTRY, PVH_NOTE_NAME, 0x10010, descsz, note_align);
    struct elf64_phdr ph[3] = {
        { PT_NOTE, PF_R, 0x100, 0, 0, nlen, nlen, note_align },
        { PT_LOAD, PF_R | PF_X, 0x200, 0xffffffff81010000ULL, 0x10000, 0x200, 0x200, 0x1000 },
        { PT_LOAD, PF_R | PF_W, 0x400, 0xffffffff81020000ULL, 0x20000, 0x80, 0x3000, 0x1000 },
    };
    s_put(64, ph, sizeof(ph));
    s_data(0x200, 0x280);
    return CTRL + 0x480;
}

/* ELF32: the data segment's header first, the note only in an SHT_NOTE section. */
static size_t seed_elf32(void)
{
    s_ident(ELFCLASS32);
    struct elf32_ehdr eh;
    memcpy(&eh, seed + CTRL, sizeof(eh));
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_386;
    eh.e_version = EV_CURRENT;
    eh.e_entry = 0x100000;
    eh.e_phoff = 52;
    eh.e_shoff = 0x600;
    eh.e_ehsize = 52;
    eh.e_phentsize = sizeof(struct elf32_phdr);
    eh.e_phnum = 2;
    eh.e_shentsize = sizeof(struct elf32_shdr);
    eh.e_shnum = 2;
    s_put(0, &eh, sizeof(eh));
    struct elf32_phdr ph[2] = {
        { PT_LOAD, 0x400, 0x30000, 0x30000, 0x100, 0x2000, PF_R | PF_W, 0x1000 },
        { PT_LOAD, 0x200, 0x8000, 0x8000, 0x200, 0x200, PF_R | PF_X, 0x1000 },
    };
    s_put(52, ph, sizeof(ph));
    u32 nlen = s_note(0x100, XEN_ELFNOTE_PHYS32_ENTRY, PVH_NOTE_NAME, 0x8000, 4, 4);
    struct elf32_shdr sh[2] = { { 0 }, { 0, SHT_NOTE, 0, 0, 0x100, nlen, 0, 0, 4, 0 } };
    s_put(0x600, sh, sizeof(sh));
    s_data(0x200, 0x300);
    return CTRL + 0x600 + sizeof(sh);
}

static void write_seeds(const char *dir)
{
    /* 192 KiB of RAM, the start info page below the kernel, a 9 KiB module. */
    s_ctrl(0x2f, 1, 0x8000 / 64, 0x1000 / 64, 0x900);
    fz_write_seed(dir, "elf64", seed, seed_elf64(4, 4));
    /* Two reserved ranges, one between the segments; a failing zero callback. */
    s_ctrl(0x3f, 2 | F_FAIL, 0x8000 / 64, 0x1000 / 64, 0x40);
    memcpy(seed + C_RES + 4, &(u16[]){ 0x14000 / 64, 0x1000 / 64 }, 4);
    seed[C_FAILAT] = 1;
    fz_write_seed(dir, "elf64-8-aligned", seed, seed_elf64(8, 8));
    s_ctrl(0x3f, 1, 0x20000 / 64, 0x100 / 64, 0x100);
    fz_write_seed(dir, "elf32-section-note", seed, seed_elf32());
    /* RAM too small for the data segment. */
    s_ctrl(0x1f, 0, 0, 0, 0x1000);
    fz_write_seed(dir, "elf64-no-room", seed, seed_elf64(4, 4));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("PVH_WRITE_SEEDS");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}
