/* PVH ELF loader: crafted ELF64 and ELF32 images (valid ones, one truncated at
 * every byte, and every kind of malformation the loader must name), loading into
 * a fake guest RAM, module placement, and random corruption under ASan. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/pvh_loader.h"
#include "vmm/pvh.h"
#include "kernel/lib/errno.h"
#include "tests/unit/stubs.h"
#include "tests/unit/xorshift.h"

/* ---------------------------------------------------------------- ELF builder */

struct seg {
    u32 type; /* PT_LOAD, or anything else to add a plain header */
    u64 paddr, filesz, memsz;
    bool force_offset; /* use `offset` instead of laying the data out */
    u64 offset;
    u32 flags;
};

struct elfb {
    bool is64;
    u16 machine, type;
    u32 nseg;
    struct seg seg[24];
    u8 notes[512];
    u32 notes_len;
    u32 note_align;    /* p_align / sh_addralign of the notes */
    bool note_phdr;    /* notes in a PT_NOTE (first program header) */
    bool note_section; /* notes in an SHT_NOTE section */
};

static void eb_init(struct elfb *b, bool is64)
{
    memset(b, 0, sizeof(*b));
    b->is64 = is64;
    b->machine = is64 ? EM_X86_64 : EM_386;
    b->type = ET_EXEC;
    b->note_align = 4;
    b->note_phdr = true;
}

static void eb_seg(struct elfb *b, u64 paddr, u64 filesz, u64 memsz)
{
    b->seg[b->nseg++] = (struct seg){ PT_LOAD, paddr, filesz, memsz, false, 0, PF_R | PF_X };
}

static void eb_note(struct elfb *b, const char *name, u32 namesz, u32 type, const void *desc, u32 descsz)
{
    u32 a = b->note_align;
    struct elf_nhdr nh = { namesz, descsz, type };
    u8 *p = b->notes + b->notes_len;
    memcpy(p, &nh, sizeof(nh));
    memcpy(p + 12, name, strlen(name) + 1 < namesz ? strlen(name) + 1 : namesz);
    u32 off = 12 + ALIGN_UP(namesz, a);
    memcpy(p + off, desc, descsz);
    b->notes_len += off + ALIGN_UP(descsz, a);
    assert_true(b->notes_len <= sizeof(b->notes));
}

static void eb_entry(struct elfb *b, u64 entry, u32 descsz)
{
    eb_note(b, "Xen", 4, XEN_ELFNOTE_PHYS32_ENTRY, &entry, descsz);
}

static u8 pattern(u32 seg, u64 i) { return (u8)(seg * 37 + i * 7 + 1); }

/* Lays the image out: ELF header, program headers (PT_NOTE first), notes,
 * segment data, section headers. Returns a malloc'ed image of *size bytes. */
static u8 *eb_build(const struct elfb *b, u64 *size)
{
    u32 eh = b->is64 ? 64 : 52, ph = b->is64 ? 56 : 32, sh = b->is64 ? 64 : 40;
    u32 nph = b->nseg + (b->note_phdr ? 1 : 0);
    u64 cur = eh + (u64)nph * ph;
    u64 note_off = ALIGN_UP(cur, 8);
    cur = ALIGN_UP(note_off + b->notes_len, 16);
    u64 seg_off[24];
    for (u32 i = 0; i < b->nseg; i++) {
        seg_off[i] = cur;
        if (b->seg[i].type == PT_LOAD && !b->seg[i].force_offset)
            cur += b->seg[i].filesz;
    }
    u64 sh_off = ALIGN_UP(cur, 8);
    if (b->note_section)
        cur = sh_off + 2 * sh;
    u8 *img = calloc(1, cur);
    assert_non_null(img);

    memcpy(img, ELF_MAGIC, 4);
    img[ELF_EI_CLASS] = b->is64 ? ELFCLASS64 : ELFCLASS32;
    img[ELF_EI_DATA] = ELFDATA2LSB;
    img[ELF_EI_VERSION] = EV_CURRENT;
    /* The same fields in either class; only their widths differ. */
#define FILL_EHDR(ehdr_t, entry)                                                                                       \
    do {                                                                                                               \
        ehdr_t h;                                                                                                      \
        memcpy(&h, img, sizeof(h));                                                                                    \
        h.e_type = b->type;                                                                                            \
        h.e_machine = b->machine;                                                                                      \
        h.e_version = EV_CURRENT;                                                                                      \
        h.e_entry = (entry);                                                                                           \
        h.e_phoff = eh;                                                                                                \
        h.e_shoff = b->note_section ? (__typeof__(h.e_shoff))sh_off : 0;                                               \
        h.e_ehsize = (u16)eh;                                                                                          \
        h.e_phentsize = (u16)ph;                                                                                       \
        h.e_phnum = (u16)nph;                                                                                          \
        h.e_shentsize = (u16)sh;                                                                                       \
        h.e_shnum = b->note_section ? 2 : 0;                                                                           \
        memcpy(img, &h, sizeof(h));                                                                                    \
    } while (0)
    if (b->is64)
        FILL_EHDR(struct elf64_ehdr, 0xffffffff81000000ULL);
    else
        FILL_EHDR(struct elf32_ehdr, 0x100000);
#undef FILL_EHDR

    for (u32 i = 0; i < nph; i++) {
        struct seg s;
        u64 off;
        if (b->note_phdr && i == 0) {
            s = (struct seg){ PT_NOTE, 0, b->notes_len, b->notes_len, false, 0, PF_R };
            off = note_off;
        } else {
            u32 k = i - (b->note_phdr ? 1 : 0);
            s = b->seg[k];
            off = s.force_offset ? s.offset : seg_off[k];
            if (s.type == PT_LOAD && !s.force_offset)
                for (u64 j = 0; j < s.filesz; j++)
                    img[off + j] = pattern(k, j);
        }
        u8 *p = img + eh + (u64)i * ph;
        if (b->is64) {
            struct elf64_phdr h = { s.type,  s.flags,  off,     0xffffffff80000000ULL + s.paddr,
                                    s.paddr, s.filesz, s.memsz, s.type == PT_NOTE ? b->note_align : 0x1000 };
            memcpy(p, &h, sizeof(h));
        } else {
            struct elf32_phdr h = { s.type,        (u32)off,
                                    (u32)s.paddr,  (u32)s.paddr,
                                    (u32)s.filesz, (u32)s.memsz,
                                    s.flags,       s.type == PT_NOTE ? b->note_align : 0x1000 };
            memcpy(p, &h, sizeof(h));
        }
    }
    memcpy(img + note_off, b->notes, b->notes_len);
    if (b->note_section) {
        u8 *p = img + sh_off + sh; /* section 0 stays the null section */
        if (b->is64) {
            struct elf64_shdr h = { 1, SHT_NOTE, 2, 0, note_off, b->notes_len, 0, 0, b->note_align, 0 };
            memcpy(p, &h, sizeof(h));
        } else {
            struct elf32_shdr h = { 1, SHT_NOTE, 2, 0, (u32)note_off, b->notes_len, 0, 0, b->note_align, 0 };
            memcpy(p, &h, sizeof(h));
        }
    }
    *size = cur;
    return img;
}

/* A Linux-shaped image: text+rodata, data with bss, notes with other entries
 * before the PVH one. */
static void eb_linux(struct elfb *b, bool is64)
{
    eb_init(b, is64);
    eb_seg(b, MiB(16), 0x3000, 0x3000);
    eb_seg(b, MiB(16) + 0x4000, 0x180, 0x2000);
    u8 build_id[20];
    memset(build_id, 0xab, sizeof(build_id));
    eb_note(b, "GNU", 4, 3, build_id, sizeof(build_id));
    u64 guest_os = 0x78756e694c;           /* "Linux" */
    eb_note(b, "Xen", 4, 6, &guest_os, 6); /* XEN_ELFNOTE_GUEST_OS, odd size */
    eb_entry(b, MiB(16) + 0x40, is64 ? 8 : 4);
}

/* A built Linux-like image (eb_linux), for tests that do not change it. */
static u8 *linux_image(bool is64, u64 *size)
{
    struct elfb b;
    eb_linux(&b, is64);
    return eb_build(&b, size);
}

/* ---------------------------------------------------------------- fake guest RAM */

struct ram {
    u8 *mem;
    u64 size;
    u32 writes, zeroes;
    int fail_write; /* returned by write() when non-zero */
};

static int ram_write(void *ctx, gpa_t g, const void *src, u64 len)
{
    struct ram *r = ctx;
    assert_true(g.v <= r->size && len <= r->size - g.v);
    r->writes++;
    if (r->fail_write)
        return r->fail_write;
    memcpy(r->mem + g.v, src, len);
    return 0;
}

static int ram_zero(void *ctx, gpa_t g, u64 len)
{
    struct ram *r = ctx;
    assert_true(g.v <= r->size && len <= r->size - g.v);
    r->zeroes++;
    memset(r->mem + g.v, 0, len);
    return 0;
}

static struct ram *ram_new(u64 size)
{
    struct ram *r = calloc(1, sizeof(*r));
    r->mem = malloc(size);
    assert_non_null(r->mem);
    memset(r->mem, 0xcc, size);
    r->size = size;
    return r;
}

static void ram_free(struct ram *r)
{
    free(r->mem);
    free(r);
}

/* ---------------------------------------------------------------- helpers */

static char err[PVH_ERR_LEN];

static int inspect(const struct elfb *b, struct pvh_image *out)
{
    u64 size;
    u8 *img = eb_build(b, &size);
    int rc = pvh_inspect(img, size, out, err, sizeof(err));
    free(img);
    if (rc)
        assert_true(err[0] != '\0');
    return rc;
}

static void expect_err(const struct elfb *b, int rc, const char *msg)
{
    struct pvh_image out;
    int got = inspect(b, &out);
    if (got != rc || !strstr(err, msg))
        fail_msg("expected %d \"%s\", got %d \"%s\"", rc, msg, got, err);
}

/* ---------------------------------------------------------------- tests */

static void check_loaded(const struct ram *r, const struct pvh_image *img)
{
    for (u32 k = 0; k < img->nsegs; k++) {
        const struct pvh_segment *s = &img->segs[k];
        u32 seg_index = s->phdr - 1; /* the builder puts PT_NOTE first */
        for (u64 i = 0; i < s->filesz; i++)
            assert_int_equal(r->mem[s->gpa + i], pattern(seg_index, i));
        for (u64 i = s->filesz; i < s->memsz; i++)
            assert_int_equal(r->mem[s->gpa + i], 0);
    }
    /* Around the segments nothing was touched. */
    assert_int_equal(r->mem[img->start - 1], 0xcc);
    assert_int_equal(r->mem[img->end], 0xcc);
    assert_int_equal(r->mem[img->segs[0].gpa + img->segs[0].memsz], 0xcc); /* the gap */
}

static void test_valid(void **state)
{
    for (int is64 = 0; is64 < 2; is64++) {
        u64 size;
        u8 *img = linux_image(is64, &size);
        struct pvh_image pi;
        assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), 0);
        assert_string_equal(err, "");
        assert_int_equal(pi.elf64, is64);
        assert_int_equal(pi.machine, is64 ? EM_X86_64 : EM_386);
        assert_int_equal(pi.entry, MiB(16) + 0x40);
        assert_int_equal(pi.nsegs, 2);
        assert_int_equal(pi.segs[0].gpa, MiB(16));
        assert_int_equal(pi.segs[0].filesz, 0x3000);
        assert_int_equal(pi.segs[1].gpa, MiB(16) + 0x4000);
        assert_int_equal(pi.segs[1].memsz, 0x2000);
        assert_int_equal(pi.segs[1].phdr, 2);
        assert_int_equal(pi.start, MiB(16));
        assert_int_equal(pi.end, MiB(16) + 0x6000);

        struct ram *r = ram_new(MiB(32));
        struct pvh_range res[] = { { 0x7000, 0x8000, "start info" }, { 0xe0000, 0x100000, "ACPI tables" } };
        struct pvh_load_ops ops = { ram_write, ram_zero, r };
        assert_int_equal(pvh_load(img, size, &pi, MiB(32), res, 2, &ops, err, sizeof(err)), 0);
        assert_int_equal(r->writes, 2);
        assert_int_equal(r->zeroes, 1);
        check_loaded(r, &pi);
        ram_free(r);
        free(img);
    }
}

/* Notes only in a section, 8-byte aligned notes, and a 4-byte value in ELF64. */
static void test_note_variants(void **state)
{
    struct pvh_image pi;
    struct elfb b;
    eb_linux(&b, true);
    b.note_phdr = false;
    b.note_section = true;
    assert_int_equal(inspect(&b, &pi), 0);
    assert_int_equal(pi.entry, MiB(16) + 0x40);

    eb_init(&b, true);
    b.note_align = 8;
    eb_seg(&b, MiB(1), 0x1000, 0x1000);
    u8 prop[12] = { 0 };
    eb_note(&b, "GNU", 4, 5, prop, sizeof(prop)); /* 12 bytes: padding to 16 */
    eb_entry(&b, MiB(1) + 0x10, 4);
    assert_int_equal(inspect(&b, &pi), 0);
    assert_int_equal(pi.entry, MiB(1) + 0x10);

    /* Notes in both places. */
    eb_linux(&b, false);
    b.note_section = true;
    assert_int_equal(inspect(&b, &pi), 0);

    /* The last note's descriptor padding may be cut by the segment size. */
    eb_init(&b, false);
    b.note_align = 8;
    eb_seg(&b, MiB(1), 0x100, 0x100);
    eb_entry(&b, MiB(1) + 4, 4); /* 12 + 8 + 8 bytes, desc 4 */
    b.notes_len -= 4;            /* drop the descriptor's padding */
    assert_int_equal(inspect(&b, &pi), 0);
    assert_int_equal(pi.entry, MiB(1) + 4);
    b.notes_len -= 1; /* but not a descriptor byte */
    expect_err(&b, -EINVAL, "runs past its end");
}

/* Cutting the file anywhere must fail cleanly: every byte is needed (the image
 * ends with segment data). */
static void test_truncated(void **state)
{
    for (int is64 = 0; is64 < 2; is64++) {
        u64 size;
        u8 *img = linux_image(is64, &size);
        for (u64 len = 0; len < size; len++) {
            u8 *cut = malloc(len ? len : 1);
            memcpy(cut, img, len);
            struct pvh_image pi;
            int rc = pvh_inspect(cut, len, &pi, err, sizeof(err));
            if (rc == 0)
                fail_msg("ELF%d cut to %llu of %llu bytes was accepted", is64 ? 64 : 32, (unsigned long long)len,
                         (unsigned long long)size);
            assert_true(rc == -ENOEXEC || rc == -EINVAL);
            assert_true(err[0] != '\0');
            free(cut);
        }
        free(img);
    }
}

static void test_header_errors(void **state)
{
    struct elfb b;
    eb_linux(&b, true);
    b.machine = 40; /* ARM */
    expect_err(&b, -ENOEXEC, "ELF machine 40 is neither x86-64 (62) nor i386 (3)");
    eb_linux(&b, true);
    b.type = 3; /* ET_DYN */
    expect_err(&b, -ENOEXEC, "ELF type 3 is not an executable");

    u64 size;
    eb_linux(&b, true);
    u8 *img = eb_build(&b, &size);
    struct pvh_image pi;
    img[1] = 'e';
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -ENOEXEC);
    assert_string_equal(err, "not an ELF file (no \\177ELF magic)");
    img[1] = 'E';
    img[ELF_EI_CLASS] = 3;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -ENOEXEC);
    assert_string_equal(err, "unknown ELF class 3");
    img[ELF_EI_CLASS] = ELFCLASS64;
    img[ELF_EI_DATA] = 2;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -ENOEXEC);
    assert_non_null(strstr(err, "little-endian"));
    img[ELF_EI_DATA] = 1;
    img[ELF_EI_VERSION] = 0;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -ENOEXEC);
    img[ELF_EI_VERSION] = 1;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), 0);

    /* Program header table problems. */
    struct elf64_ehdr *h = (struct elf64_ehdr *)img;
    h->e_phnum = 0;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -ENOEXEC);
    assert_string_equal(err, "no program headers");
    h->e_phnum = PN_XNUM;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -E2BIG);
    h->e_phnum = 65;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -E2BIG);
    assert_string_equal(err, "65 program headers (at most 64 supported)");
    h->e_phnum = 64; /* runs past the file */
    h->e_phoff = size - 56;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "lie outside the"));
    h->e_phnum = 3;
    h->e_phoff = 0xffffffffffffff00ULL;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -EINVAL);
    h->e_phoff = 64;
    h->e_phentsize = 32;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "program header size 32 is smaller than 56");
    h->e_phentsize = 56;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), 0);
    assert_int_equal(pvh_inspect(NULL, size, &pi, err, sizeof(err)), -EINVAL);
    assert_int_equal(pvh_inspect(img, 1ULL << 41, &pi, err, sizeof(err)), -E2BIG);
    /* A NULL or tiny message buffer is fine. */
    h->e_phnum = 0;
    assert_int_equal(pvh_inspect(img, size, &pi, NULL, 0), -ENOEXEC);
    char tiny[4];
    assert_int_equal(pvh_inspect(img, size, &pi, tiny, sizeof(tiny)), -ENOEXEC);
    assert_string_equal(tiny, "no ");
    free(img);
}

static void test_segment_errors(void **state)
{
    struct elfb b;
    /* Overlap, reported with program header indexes in file order. */
    eb_linux(&b, true);
    eb_seg(&b, MiB(16) + 0x2000, 0x100, 0x100);
    expect_err(&b, -EINVAL, "segments 1 [0x1000000, 0x1003000) and 3 [0x1002000, 0x1002100) overlap");
    eb_linux(&b, false);
    b.seg[1].paddr = MiB(16) + 0x2fff;
    expect_err(&b, -EINVAL, "overlap");
    /* Touching is fine. */
    eb_linux(&b, true);
    b.seg[1].paddr = MiB(16) + 0x3000;
    struct pvh_image pi;
    assert_int_equal(inspect(&b, &pi), 0);

    eb_linux(&b, true);
    b.seg[1].filesz = 0x2001;
    expect_err(&b, -EINVAL, "segment 2: file size 0x2001 exceeds its memory size 0x2000");

    /* Offsets and sizes that run past the file or wrap. */
    eb_linux(&b, true);
    b.seg[0].force_offset = true;
    b.seg[0].offset = 0xffffffffffff0000ULL;
    expect_err(&b, -EINVAL, "segment 1: file data [0xffffffffffff0000, +0x3000) lies outside");
    eb_linux(&b, true);
    b.seg[1].force_offset = true; /* no data laid out */
    b.seg[1].offset = 0x100;
    b.seg[1].filesz = 0xffffffffffffff00ULL;
    b.seg[1].memsz = 0xffffffffffffff00ULL;
    expect_err(&b, -EINVAL, "segment 2: file data [0x100, +0xffffffffffffff00) lies outside");
    eb_linux(&b, true);
    b.seg[1].memsz = 0xfffffffffff00000ULL; /* paddr + memsz wraps */
    expect_err(&b, -EINVAL, "segment 2: [0x1004000, +0xfffffffffff00000) wraps around");
    eb_linux(&b, false);
    b.seg[0].force_offset = true;
    b.seg[0].offset = 0xfffff000;
    expect_err(&b, -EINVAL, "lies outside");

    /* No loadable segment; memsz 0 ones are ignored. */
    eb_init(&b, true);
    b.seg[b.nseg++] = (struct seg){ PT_LOAD, MiB(1), 0, 0, false, 0, 0 };
    eb_entry(&b, MiB(1), 8);
    expect_err(&b, -ENOEXEC, "no loadable segments");

    /* Too many segments. */
    eb_init(&b, true);
    for (u32 i = 0; i < PVH_MAX_SEGMENTS + 1; i++)
        eb_seg(&b, MiB(1) + i * 0x1000, 0x10, 0x1000);
    eb_entry(&b, MiB(1), 8);
    expect_err(&b, -E2BIG, "more than 16 loadable segments");
    b.nseg--;
    assert_int_equal(inspect(&b, &pi), 0);

    /* Out-of-order segments are sorted. */
    eb_init(&b, false);
    eb_seg(&b, MiB(3), 0x10, 0x1000);
    eb_seg(&b, MiB(1), 0x10, 0x1000);
    eb_seg(&b, MiB(2), 0x10, 0x1000);
    eb_entry(&b, MiB(2), 4);
    assert_int_equal(inspect(&b, &pi), 0);
    assert_int_equal(pi.segs[0].gpa, MiB(1));
    assert_int_equal(pi.segs[0].phdr, 2);
    assert_int_equal(pi.segs[2].gpa, MiB(3));
    assert_int_equal(pi.start, MiB(1));
    assert_int_equal(pi.end, MiB(3) + 0x1000);
}

static void test_note_errors(void **state)
{
    struct elfb b;
    eb_init(&b, true);
    eb_seg(&b, MiB(16), 0x1000, 0x1000);
    expect_err(&b, -ENOEXEC, "not a PVH kernel: no XEN_ELFNOTE_PHYS32_ENTRY note");
    u64 v = 1;
    eb_note(&b, "Xen", 4, 1, &v, 8);  /* XEN_ELFNOTE_ENTRY: not ours */
    eb_note(&b, "Xe", 3, 18, &v, 8);  /* wrong name */
    eb_note(&b, "Xen", 3, 18, &v, 8); /* name without its NUL */
    expect_err(&b, -ENOEXEC, "not a PVH kernel");

    eb_init(&b, true);
    eb_seg(&b, MiB(16), 0x1000, 0x1000);
    u16 two = 0x10;
    eb_note(&b, "Xen", 4, 18, &two, 2);
    expect_err(&b, -EINVAL, "XEN_ELFNOTE_PHYS32_ENTRY note has a 2-byte value (4 or 8 expected)");

    eb_init(&b, true);
    eb_seg(&b, MiB(16), 0x1000, 0x1000);
    eb_entry(&b, 0x100000000ULL, 8);
    expect_err(&b, -EINVAL, "XEN_ELFNOTE_PHYS32_ENTRY 0x100000000 is above 4 GiB");

    /* Sizes running past the note segment, including ones that would wrap. */
    static const u32 bad[][2] = { { 0xffffffff, 4 }, { 4, 0xffffffff }, { 0xfffffffd, 0 }, { 200, 4 }, { 4, 200 } };
    for (u32 i = 0; i < ARRAY_SIZE(bad); i++) {
        eb_init(&b, i % 2);
        eb_seg(&b, MiB(16), 0x1000, 0x1000);
        eb_entry(&b, MiB(16), 8);
        struct elf_nhdr nh = { bad[i][0], bad[i][1], 18 };
        memcpy(b.notes, &nh, sizeof(nh));
        expect_err(&b, -EINVAL, "runs past its end");
    }

    /* Note segment itself outside the file. */
    eb_init(&b, true);
    eb_seg(&b, MiB(16), 0x1000, 0x1000);
    eb_entry(&b, MiB(16), 8);
    u64 size;
    u8 *img = eb_build(&b, &size);
    struct elf64_phdr ph;
    memcpy(&ph, img + 64, sizeof(ph));
    ph.p_filesz = size;
    memcpy(img + 64, &ph, sizeof(ph));
    struct pvh_image pi;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "note segment 0"));
    free(img);

    /* Section headers outside the file (only looked at without a PT_NOTE). */
    eb_linux(&b, true);
    b.note_phdr = false;
    b.note_section = true;
    img = eb_build(&b, &size);
    struct elf64_ehdr *h = (struct elf64_ehdr *)img;
    h->e_shnum = 200;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "section headers"));
    h->e_shnum = 2;
    h->e_shentsize = 10;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -EINVAL);
    h->e_shentsize = 64;
    struct elf64_shdr sh;
    memcpy(&sh, img + h->e_shoff + 64, sizeof(sh));
    sh.sh_size = 0xffffffffffffULL;
    memcpy(img + h->e_shoff + 64, &sh, sizeof(sh));
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "note section 1"));
    free(img);
}

static void test_entry_errors(void **state)
{
    struct elfb b;
    eb_linux(&b, true);
    b.notes_len = 0;
    eb_entry(&b, MiB(15), 8);
    expect_err(&b, -EINVAL, "PVH entry 0xf00000 is not inside the file data of any loadable segment");
    /* In the gap between the segments, and in the zero-filled tail. */
    eb_linux(&b, true);
    b.notes_len = 0;
    eb_entry(&b, MiB(16) + 0x3000, 8);
    expect_err(&b, -EINVAL, "not inside");
    eb_linux(&b, false);
    b.notes_len = 0;
    eb_entry(&b, MiB(16) + 0x4180, 4);
    expect_err(&b, -EINVAL, "not inside");
    eb_linux(&b, false);
    b.notes_len = 0;
    eb_entry(&b, MiB(16) + 0x417f, 4);
    struct pvh_image pi;
    assert_int_equal(inspect(&b, &pi), 0);
}

static void test_placement(void **state)
{
    struct elfb b;
    eb_init(&b, true);
    eb_seg(&b, MiB(1), 0x1000, 0x1000);
    eb_seg(&b, MiB(16), 0x1000, MiB(32));
    eb_entry(&b, MiB(1), 8);
    u64 size;
    u8 *img = eb_build(&b, &size);
    struct pvh_image pi;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), 0);

    assert_int_equal(pvh_check_placement(&pi, MiB(32), NULL, 0, err, sizeof(err)), -ERANGE);
    assert_string_equal(err, "segment 2 [0x1000000, 0x3000000) ends past the partition's 32 MiB of RAM");
    assert_int_equal(pvh_check_placement(&pi, MiB(48) - 1, NULL, 0, err, sizeof(err)), -ERANGE);
    assert_non_null(strstr(err, "50331647 bytes of RAM"));
    assert_int_equal(pvh_check_placement(&pi, MiB(48), NULL, 0, err, sizeof(err)), 0);

    struct pvh_range res[] = { { 0, 0x1000, "real-mode IVT" }, { MiB(1) + 0xfff, MiB(1) + 0x2000, "start info" } };
    assert_int_equal(pvh_check_placement(&pi, GiB(1), res, 2, err, sizeof(err)), -ERANGE);
    assert_string_equal(err, "segment 1 [0x100000, 0x101000) overlaps the start info [0x100fff, 0x102000)");
    res[1].start = MiB(1) + 0x1000; /* touching: fine */
    assert_int_equal(pvh_check_placement(&pi, GiB(1), res, 2, err, sizeof(err)), 0);
    res[1].what = NULL;
    res[1].start = MiB(40);
    res[1].end = MiB(41);
    assert_int_equal(pvh_check_placement(&pi, GiB(1), res, 2, err, sizeof(err)), -ERANGE);
    assert_non_null(strstr(err, "overlaps the reserved range"));
    res[1].start = MiB(42); /* start > end */
    assert_int_equal(pvh_check_placement(&pi, GiB(1), res, 2, err, sizeof(err)), -EINVAL);
    res[1].start = res[1].end = MiB(41); /* empty: overlaps nothing */
    assert_int_equal(pvh_check_placement(&pi, GiB(1), res, 2, err, sizeof(err)), 0);

    /* pvh_load refuses before writing anything. */
    struct ram *r = ram_new(MiB(32));
    struct pvh_load_ops ops = { ram_write, ram_zero, r };
    assert_int_equal(pvh_load(img, size, &pi, MiB(32), NULL, 0, &ops, err, sizeof(err)), -ERANGE);
    assert_int_equal(r->writes + r->zeroes, 0);
    /* A huge memsz passes inspect (it does not wrap) but not placement. */
    pi.segs[1].memsz = 1ULL << 60;
    assert_int_equal(pvh_load(img, size, &pi, MiB(32), NULL, 0, &ops, err, sizeof(err)), -ERANGE);
    ram_free(r);

    /* Callback failures come back with a message. */
    r = ram_new(MiB(64));
    ops.ctx = r;
    r->fail_write = -EIO;
    assert_int_equal(pvh_inspect(img, size, &pi, err, sizeof(err)), 0);
    assert_int_equal(pvh_load(img, size, &pi, MiB(64), NULL, 0, &ops, err, sizeof(err)), -EIO);
    assert_non_null(strstr(err, "writing segment 1 to [0x100000, +0x1000) failed: EIO"));
    r->fail_write = 0;
    assert_int_equal(pvh_load(img, size - 1, &pi, MiB(64), NULL, 0, &ops, err, sizeof(err)), -EINVAL);
    struct pvh_load_ops noops = { NULL, ram_zero, r };
    assert_int_equal(pvh_load(img, size, &pi, MiB(64), NULL, 0, &noops, err, sizeof(err)), -EINVAL);
    assert_int_equal(pvh_load(img, size, &pi, MiB(64), NULL, 0, &ops, err, sizeof(err)), 0);
    ram_free(r);
    free(img);
}

static void test_place_module(void **state)
{
    u64 at;
    assert_int_equal(pvh_place_module(MiB(16) + 0x6001, 0x5000, MiB(64), NULL, 0, &at, err, sizeof(err)), 0);
    assert_int_equal(at, MiB(16) + 0x7000);
    struct pvh_range res[] = { { MiB(20), MiB(21), "ACPI tables" },
                               { MiB(21) + 0x800, MiB(22) + 1, "start info" },
                               { MiB(30), MiB(31), "MMIO" } };
    /* Fits before the first range. */
    assert_int_equal(pvh_place_module(MiB(16), MiB(4), MiB(64), res, 3, &at, err, sizeof(err)), 0);
    assert_int_equal(at, MiB(16));
    /* Pushed past two ranges to a page boundary. */
    assert_int_equal(pvh_place_module(MiB(16), MiB(4) + 1, MiB(64), res, 3, &at, err, sizeof(err)), 0);
    assert_int_equal(at, MiB(22) + 0x1000);
    /* And past the third. */
    assert_int_equal(pvh_place_module(MiB(16), MiB(9), MiB(64), res, 3, &at, err, sizeof(err)), 0);
    assert_int_equal(at, MiB(31));
    /* Ends exactly at the limit; one byte more does not fit. */
    assert_int_equal(pvh_place_module(MiB(31), MiB(33), MiB(64), res, 3, &at, err, sizeof(err)), 0);
    assert_int_equal(pvh_place_module(MiB(31), MiB(33) + 1, MiB(64), res, 3, &at, err, sizeof(err)), -ENOSPC);
    assert_string_equal(err, "a module of 34603009 bytes does not fit between 0x1f00000 and the limit 0x4000000");
    assert_int_equal(pvh_place_module(MiB(16), 0, MiB(64), NULL, 0, &at, err, sizeof(err)), -EINVAL);
    assert_int_equal(pvh_place_module(~0ULL - 5, 1, ~0ULL, NULL, 0, &at, err, sizeof(err)), -ENOSPC);
    assert_int_equal(pvh_place_module(0, ~0ULL, ~0ULL, NULL, 0, &at, err, sizeof(err)), 0);
    assert_int_equal(pvh_place_module(0, 10, ~0ULL - 3, NULL, 0, &at, err, sizeof(err)), 0);
    struct pvh_range top[] = { { 0, ~0ULL, "everything" } };
    assert_int_equal(pvh_place_module(0, 10, ~0ULL, top, 1, &at, err, sizeof(err)), -ENOSPC);
}

static u64 rs = 0x243f6a8885a308d3ULL;
static u64 rnd(void) { return xorshift64(&rs); }

/* Random corruption of the headers and notes. Whatever inspect accepts must be
 * self-consistent and load without the callbacks seeing a bad range. */
static void test_fuzz(void **state)
{
    struct ram *r = ram_new(MiB(32));
    struct pvh_load_ops ops = { ram_write, ram_zero, r };
    u32 accepted = 0;
    for (int is64 = 0; is64 < 2; is64++) {
        struct elfb b;
        eb_linux(&b, is64);
        b.note_section = true;
        u64 size;
        u8 *orig = eb_build(&b, &size);
        u64 hdr_end = ALIGN_UP((u64)(is64 ? 64 + 3 * 56 : 52 + 3 * 32), 8) + b.notes_len;
        for (int it = 0; it < 30000; it++) {
            u8 *img = malloc(size);
            memcpy(img, orig, size);
            int flips = 1 + (int)(rnd() % 4);
            for (int f = 0; f < flips; f++) {
                u64 at = rnd() % 4 ? rnd() % hdr_end : rnd() % size;
                img[at] = (rnd() % 2) ? (u8)rnd() : (u8)(img[at] ^ (1u << (rnd() % 8)));
            }
            u64 len = rnd() % 8 ? size : rnd() % (size + 1);
            struct pvh_image pi;
            int rc = pvh_inspect(img, len, &pi, err, sizeof(err));
            if (rc == 0) {
                accepted++;
                assert_true(pi.nsegs >= 1 && pi.nsegs <= PVH_MAX_SEGMENTS);
                bool entry_ok = false;
                for (u32 k = 0; k < pi.nsegs; k++) {
                    const struct pvh_segment *s = &pi.segs[k];
                    assert_true(s->filesz <= s->memsz);
                    assert_true(s->offset <= len && s->filesz <= len - s->offset);
                    if (k)
                        assert_true(pi.segs[k - 1].gpa + pi.segs[k - 1].memsz <= s->gpa);
                    entry_ok |= pi.entry >= s->gpa && pi.entry - s->gpa < s->filesz;
                }
                assert_true(entry_ok);
                rc = pvh_load(img, len, &pi, MiB(32), NULL, 0, &ops, err, sizeof(err));
                assert_true(rc == 0 || rc == -ERANGE);
            } else {
                assert_true(rc == -ENOEXEC || rc == -EINVAL || rc == -E2BIG);
                assert_true(err[0] != '\0');
            }
            free(img);
        }
        free(orig);
    }
    assert_true(accepted > 100);
    ram_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),          cmocka_unit_test(test_note_variants),
        cmocka_unit_test(test_truncated),      cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_segment_errors), cmocka_unit_test(test_note_errors),
        cmocka_unit_test(test_entry_errors),   cmocka_unit_test(test_placement),
        cmocka_unit_test(test_place_module),   cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
