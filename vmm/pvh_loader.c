/* PVH ELF loader; see pvh_loader.h. Headers are copied out of the image with
 * memcpy (the image may sit at any alignment) and every offset is checked
 * against the file size with overflow-safe arithmetic before it is used. */
#include "vmm/pvh_loader.h"
#include "vmm/pvh.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

/* Larger "files" are rejected outright, which also keeps every sum of an offset
 * and a 32-bit size far from wrapping. */
#define PVH_MAX_IMAGE (1ULL << 40)

/* Class-independent views of the headers. */
struct ehdr {
    bool is64;
    u16 type, machine;
    u32 version;
    u64 entry, phoff, shoff;
    u16 phentsize, phnum, shentsize, shnum;
};

struct phdr {
    u32 type, flags;
    u64 offset, paddr, filesz, memsz, align;
};

struct shdr {
    u32 type;
    u64 offset, size, addralign;
};

/* "32 MiB", "1 GiB", "4100 KiB", "12345 bytes". */
static const char *fmt_size(u64 v, char buf[32])
{
    if (v && IS_ALIGNED(v, GiB(1)))
        ksnprintf(buf, 32, "%llu GiB", (unsigned long long)(v >> 30));
    else if (v && IS_ALIGNED(v, MiB(1)))
        ksnprintf(buf, 32, "%llu MiB", (unsigned long long)(v >> 20));
    else if (v && IS_ALIGNED(v, KiB(1)))
        ksnprintf(buf, 32, "%llu KiB", (unsigned long long)(v >> 10));
    else
        ksnprintf(buf, 32, "%llu bytes", (unsigned long long)v);
    return buf;
}

#define X(v) ((unsigned long long)(v))

/* [off, off + n * entsize) inside a file of `size` bytes (n, entsize < 2^16). */
static bool table_in_file(u64 off, u64 n, u64 entsize, u64 size)
{
    u64 len = n * entsize;
    return off <= size && len <= size - off;
}

static bool range_in_file(u64 off, u64 len, u64 size) { return off <= size && len <= size - off; }

static int read_ehdr(const u8 *img, u64 size, struct ehdr *eh, char *err, size_t errlen)
{
    if (size < ELF_NIDENT || memcmp(img, ELF_MAGIC, 4) != 0)
        return kerr_fmt(err, errlen, -ENOEXEC, "not an ELF file (no \\177ELF magic)");
    u8 cls = img[ELF_EI_CLASS];
    if (cls != ELFCLASS32 && cls != ELFCLASS64)
        return kerr_fmt(err, errlen, -ENOEXEC, "unknown ELF class %u", cls);
    if (img[ELF_EI_DATA] != ELFDATA2LSB)
        return kerr_fmt(err, errlen, -ENOEXEC, "not a little-endian ELF file (data encoding %u)", img[ELF_EI_DATA]);
    if (img[ELF_EI_VERSION] != EV_CURRENT)
        return kerr_fmt(err, errlen, -ENOEXEC, "unknown ELF version %u", img[ELF_EI_VERSION]);

    eh->is64 = cls == ELFCLASS64;
    if (eh->is64) {
        struct elf64_ehdr h;
        if (size < sizeof(h))
            return kerr_fmt(err, errlen, -ENOEXEC, "file of %llu bytes is too short for an ELF64 header", X(size));
        memcpy(&h, img, sizeof(h));
        *eh = (struct ehdr){ true,      h.e_type,      h.e_machine, h.e_version,   h.e_entry, h.e_phoff,
                             h.e_shoff, h.e_phentsize, h.e_phnum,   h.e_shentsize, h.e_shnum };
    } else {
        struct elf32_ehdr h;
        if (size < sizeof(h))
            return kerr_fmt(err, errlen, -ENOEXEC, "file of %llu bytes is too short for an ELF32 header", X(size));
        memcpy(&h, img, sizeof(h));
        *eh = (struct ehdr){ false,     h.e_type,      h.e_machine, h.e_version,   h.e_entry, h.e_phoff,
                             h.e_shoff, h.e_phentsize, h.e_phnum,   h.e_shentsize, h.e_shnum };
    }
    if (eh->version != EV_CURRENT)
        return kerr_fmt(err, errlen, -ENOEXEC, "unknown ELF e_version %u", eh->version);
    if (eh->type != ET_EXEC)
        return kerr_fmt(err, errlen, -ENOEXEC, "ELF type %u is not an executable (ET_EXEC)", eh->type);
    if (eh->machine != EM_X86_64 && eh->machine != EM_386)
        return kerr_fmt(err, errlen, -ENOEXEC, "ELF machine %u is neither x86-64 (62) nor i386 (3)", eh->machine);
    return 0;
}

static void read_phdr(const u8 *img, const struct ehdr *eh, u32 i, struct phdr *ph)
{
    const u8 *p = img + eh->phoff + (u64)i * eh->phentsize;
    if (eh->is64) {
        struct elf64_phdr h;
        memcpy(&h, p, sizeof(h));
        *ph = (struct phdr){ h.p_type, h.p_flags, h.p_offset, h.p_paddr, h.p_filesz, h.p_memsz, h.p_align };
    } else {
        struct elf32_phdr h;
        memcpy(&h, p, sizeof(h));
        *ph = (struct phdr){ h.p_type, h.p_flags, h.p_offset, h.p_paddr, h.p_filesz, h.p_memsz, h.p_align };
    }
}

static void read_shdr(const u8 *img, const struct ehdr *eh, u32 i, struct shdr *sh)
{
    const u8 *p = img + eh->shoff + (u64)i * eh->shentsize;
    if (eh->is64) {
        struct elf64_shdr h;
        memcpy(&h, p, sizeof(h));
        *sh = (struct shdr){ h.sh_type, h.sh_offset, h.sh_size, h.sh_addralign };
    } else {
        struct elf32_shdr h;
        memcpy(&h, p, sizeof(h));
        *sh = (struct shdr){ h.sh_type, h.sh_offset, h.sh_size, h.sh_addralign };
    }
}

/* Looks for the Xen PHYS32_ENTRY note among the notes in [p, p + len), padded to
 * `align` (4, or 8 for 8-aligned note segments). 1: found; 0: not there; < 0: a
 * malformed note, described in err. */
static int scan_notes(const u8 *p, u64 len, u64 align, const char *kind, u32 idx, u32 *entry, char *err, size_t errlen)
{
    u64 off = 0;
    while (len - off >= sizeof(struct elf_nhdr)) {
        struct elf_nhdr nh;
        memcpy(&nh, p + off, sizeof(nh));
        u64 name_off = off + sizeof(nh);
        u64 desc_off = name_off + ALIGN_UP((u64)nh.n_namesz, align);
        /* The last descriptor's padding may be missing; its bytes may not. */
        if (desc_off > len || nh.n_descsz > len - desc_off)
            return kerr_fmt(err, errlen, -EINVAL,
                            "note at offset %llu of %s %u (name %u bytes, descriptor %u bytes) "
                            "runs past its end",
                            X(off), kind, idx, nh.n_namesz, nh.n_descsz);
        if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == sizeof(PVH_NOTE_NAME) &&
            memcmp(p + name_off, PVH_NOTE_NAME, sizeof(PVH_NOTE_NAME)) == 0) {
            u64 v;
            if (nh.n_descsz == 4) {
                u32 v32;
                memcpy(&v32, p + desc_off, 4);
                v = v32;
            } else if (nh.n_descsz == 8) {
                memcpy(&v, p + desc_off, 8);
            } else {
                return kerr_fmt(err, errlen, -EINVAL,
                                "XEN_ELFNOTE_PHYS32_ENTRY note has a %u-byte value (4 or 8 expected)", nh.n_descsz);
            }
            if (v > 0xffffffffULL)
                return kerr_fmt(err, errlen, -EINVAL, "XEN_ELFNOTE_PHYS32_ENTRY 0x%llx is above 4 GiB", X(v));
            *entry = (u32)v;
            return 1;
        }
        u64 next = desc_off + ALIGN_UP((u64)nh.n_descsz, align);
        off = next < len ? next : len;
    }
    return 0;
}

/* One note-bearing region (a PT_NOTE segment or an SHT_NOTE section): checked to
 * lie inside the file, then scanned for the PVH entry note. */
static int scan_note_region(const u8 *img, u64 size, u64 offset, u64 len, u64 align, const char *kind, u32 i,
                            u32 *entry, char *err, size_t errlen)
{
    if (!range_in_file(offset, len, size))
        return kerr_fmt(err, errlen, -EINVAL, "note %s %u [0x%llx, +0x%llx) lies outside the %llu-byte file", kind, i,
                        X(offset), X(len), X(size));
    return scan_notes(img + offset, len, align == 8 ? 8 : 4, kind, i, entry, err, errlen);
}

static int find_entry_note(const u8 *img, u64 size, const struct ehdr *eh, u32 *entry, char *err, size_t errlen)
{
    for (u32 i = 0; i < eh->phnum; i++) {
        struct phdr ph;
        read_phdr(img, eh, i, &ph);
        if (ph.type != PT_NOTE)
            continue;
        int rc = scan_note_region(img, size, ph.offset, ph.filesz, ph.align, "segment", i, entry, err, errlen);
        if (rc)
            return rc;
    }
    /* Not in a PT_NOTE: some linkers leave notes only in SHT_NOTE sections. */
    if (eh->shoff == 0 || eh->shnum == 0)
        return 0;
    if (eh->shentsize < (eh->is64 ? sizeof(struct elf64_shdr) : sizeof(struct elf32_shdr)))
        return kerr_fmt(err, errlen, -EINVAL, "section header size %u is too small", eh->shentsize);
    if (!table_in_file(eh->shoff, eh->shnum, eh->shentsize, size))
        return kerr_fmt(err, errlen, -EINVAL, "%u section headers at 0x%llx lie outside the %llu-byte file", eh->shnum,
                        X(eh->shoff), X(size));
    for (u32 i = 0; i < eh->shnum; i++) {
        struct shdr sh;
        read_shdr(img, eh, i, &sh);
        if (sh.type != SHT_NOTE)
            continue;
        int rc = scan_note_region(img, size, sh.offset, sh.size, sh.addralign, "section", i, entry, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

int pvh_inspect(const void *image, u64 size, struct pvh_image *out, char *err, size_t errlen)
{
    const u8 *img = image;
    struct ehdr eh = { 0 };
    char sz[32];
    int rc;

    memset(out, 0, sizeof(*out));
    if (err && errlen)
        err[0] = '\0';
    if (!image)
        return kerr_fmt(err, errlen, -EINVAL, "no kernel image");
    if (size > PVH_MAX_IMAGE)
        return kerr_fmt(err, errlen, -E2BIG, "kernel image of %s is too large", fmt_size(size, sz));
    rc = read_ehdr(img, size, &eh, err, errlen);
    if (rc)
        return rc;
    out->elf64 = eh.is64;
    out->machine = eh.machine;
    out->elf_entry = eh.entry;

    /* Program header table. */
    if (eh.phnum == 0)
        return kerr_fmt(err, errlen, -ENOEXEC, "no program headers");
    if (eh.phnum == PN_XNUM || eh.phnum > PVH_MAX_PHDRS)
        return kerr_fmt(err, errlen, -E2BIG, "%u program headers (at most %u supported)", eh.phnum, PVH_MAX_PHDRS);
    u32 need = eh.is64 ? sizeof(struct elf64_phdr) : sizeof(struct elf32_phdr);
    if (eh.phentsize < need)
        return kerr_fmt(err, errlen, -EINVAL, "program header size %u is smaller than %u", eh.phentsize, need);
    if (!table_in_file(eh.phoff, eh.phnum, eh.phentsize, size))
        return kerr_fmt(err, errlen, -EINVAL, "%u program headers at 0x%llx lie outside the %llu-byte file", eh.phnum,
                        X(eh.phoff), X(size));

    /* Loadable segments, kept sorted by guest address. */
    for (u32 i = 0; i < eh.phnum; i++) {
        struct phdr ph;
        read_phdr(img, &eh, i, &ph);
        if (ph.type != PT_LOAD || ph.memsz == 0)
            continue;
        if (ph.filesz > ph.memsz)
            return kerr_fmt(err, errlen, -EINVAL, "segment %u: file size 0x%llx exceeds its memory size 0x%llx", i,
                            X(ph.filesz), X(ph.memsz));
        if (!range_in_file(ph.offset, ph.filesz, size))
            return kerr_fmt(err, errlen, -EINVAL,
                            "segment %u: file data [0x%llx, +0x%llx) lies outside the %llu-byte file", i, X(ph.offset),
                            X(ph.filesz), X(size));
        if (ph.memsz > ~0ULL - ph.paddr)
            return kerr_fmt(err, errlen, -EINVAL, "segment %u: [0x%llx, +0x%llx) wraps around the address space", i,
                            X(ph.paddr), X(ph.memsz));
        if (out->nsegs == PVH_MAX_SEGMENTS)
            return kerr_fmt(err, errlen, -E2BIG, "more than %u loadable segments", PVH_MAX_SEGMENTS);
        struct pvh_segment s = { ph.paddr, ph.offset, ph.filesz, ph.memsz, ph.flags, (u16)i };
        u32 k = out->nsegs++;
        while (k > 0 && out->segs[k - 1].gpa > s.gpa) {
            out->segs[k] = out->segs[k - 1];
            k--;
        }
        out->segs[k] = s;
    }
    if (out->nsegs == 0)
        return kerr_fmt(err, errlen, -ENOEXEC, "no loadable segments");
    for (u32 k = 1; k < out->nsegs; k++) {
        const struct pvh_segment *a = &out->segs[k - 1], *b = &out->segs[k];
        if (a->gpa + a->memsz > b->gpa) {
            const struct pvh_segment *lo = a->phdr < b->phdr ? a : b, *hi = a->phdr < b->phdr ? b : a;
            return kerr_fmt(err, errlen, -EINVAL, "segments %u [0x%llx, 0x%llx) and %u [0x%llx, 0x%llx) overlap",
                            lo->phdr, X(lo->gpa), X(lo->gpa + lo->memsz), hi->phdr, X(hi->gpa), X(hi->gpa + hi->memsz));
        }
    }
    out->start = out->segs[0].gpa;
    out->end = out->segs[out->nsegs - 1].gpa + out->segs[out->nsegs - 1].memsz;

    /* The PVH entry point. */
    rc = find_entry_note(img, size, &eh, &out->entry, err, errlen);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return kerr_fmt(err, errlen, -ENOEXEC, "not a PVH kernel: no XEN_ELFNOTE_PHYS32_ENTRY note");
    for (u32 k = 0; k < out->nsegs; k++) {
        const struct pvh_segment *s = &out->segs[k];
        if (out->entry >= s->gpa && out->entry - s->gpa < s->filesz)
            return 0;
    }
    return kerr_fmt(err, errlen, -EINVAL, "PVH entry 0x%x is not inside the file data of any loadable segment",
                    out->entry);
}

static const char *range_name(const struct pvh_range *r) { return r->what ? r->what : "reserved range"; }

int pvh_check_placement(const struct pvh_image *img, u64 ram_size, const struct pvh_range *reserved, u32 nreserved,
                        char *err, size_t errlen)
{
    char sz[32];
    if (err && errlen)
        err[0] = '\0';
    if (!img || img->nsegs == 0 || img->nsegs > PVH_MAX_SEGMENTS || (nreserved && !reserved))
        return kerr_fmt(err, errlen, -EINVAL, "bad arguments");
    for (u32 r = 0; r < nreserved; r++)
        if (reserved[r].start > reserved[r].end)
            return kerr_fmt(err, errlen, -EINVAL, "%s [0x%llx, 0x%llx) is not a range", range_name(&reserved[r]),
                            X(reserved[r].start), X(reserved[r].end));
    for (u32 k = 0; k < img->nsegs; k++) {
        const struct pvh_segment *s = &img->segs[k];
        if (s->memsz > ~0ULL - s->gpa)
            return kerr_fmt(err, errlen, -EINVAL, "segment %u wraps around", s->phdr);
        u64 end = s->gpa + s->memsz;
        if (end > ram_size)
            return kerr_fmt(err, errlen, -ERANGE, "segment %u [0x%llx, 0x%llx) ends past the partition's %s of RAM",
                            s->phdr, X(s->gpa), X(end), fmt_size(ram_size, sz));
        for (u32 r = 0; r < nreserved; r++) {
            const struct pvh_range *rr = &reserved[r];
            if (rr->start < rr->end && s->gpa < rr->end && rr->start < end)
                return kerr_fmt(err, errlen, -ERANGE, "segment %u [0x%llx, 0x%llx) overlaps the %s [0x%llx, 0x%llx)",
                                s->phdr, X(s->gpa), X(end), range_name(rr), X(rr->start), X(rr->end));
        }
    }
    return 0;
}

int pvh_load(const void *image, u64 size, const struct pvh_image *img, u64 ram_size, const struct pvh_range *reserved,
             u32 nreserved, const struct pvh_load_ops *ops, char *err, size_t errlen)
{
    int rc = pvh_check_placement(img, ram_size, reserved, nreserved, err, errlen);
    if (rc)
        return rc;
    if (!image || !ops || !ops->write || !ops->zero)
        return kerr_fmt(err, errlen, -EINVAL, "bad arguments");
    const u8 *p = image;
    for (u32 k = 0; k < img->nsegs; k++) {
        const struct pvh_segment *s = &img->segs[k];
        if (s->filesz > s->memsz || !range_in_file(s->offset, s->filesz, size))
            return kerr_fmt(err, errlen, -EINVAL, "segment %u: file data outside the file", s->phdr);
        if (s->filesz) {
            rc = ops->write(ops->ctx, gpa(s->gpa), p + s->offset, s->filesz);
            if (rc)
                return kerr_fmt(err, errlen, rc < 0 ? rc : -EIO, "writing segment %u to [0x%llx, +0x%llx) failed: %s",
                                s->phdr, X(s->gpa), X(s->filesz), strerror_short(rc));
        }
        if (s->memsz > s->filesz) {
            rc = ops->zero(ops->ctx, gpa(s->gpa + s->filesz), s->memsz - s->filesz);
            if (rc)
                return kerr_fmt(err, errlen, rc < 0 ? rc : -EIO, "zeroing segment %u at [0x%llx, +0x%llx) failed: %s",
                                s->phdr, X(s->gpa + s->filesz), X(s->memsz - s->filesz), strerror_short(rc));
        }
    }
    return 0;
}

int pvh_place_module(u64 after, u64 size, u64 limit, const struct pvh_range *reserved, u32 nreserved, u64 *out,
                     char *err, size_t errlen)
{
    char sz[32];
    if (err && errlen)
        err[0] = '\0';
    if (!out || size == 0 || (nreserved && !reserved))
        return kerr_fmt(err, errlen, -EINVAL, "bad arguments (module size %llu)", X(size));
    if (after > ~0ULL - (PAGE_SIZE - 1))
        return kerr_fmt(err, errlen, -ENOSPC, "no room for a module above 0x%llx", X(after));
    u64 at = ALIGN_UP(after, PAGE_SIZE);
    /* Each reserved range can push `at` past itself at most once: it only grows. */
    for (u32 pass = 0; pass <= nreserved; pass++) {
        if (size > limit || at > limit - size)
            return kerr_fmt(err, errlen, -ENOSPC, "a module of %s does not fit between 0x%llx and the limit 0x%llx",
                            fmt_size(size, sz), X(ALIGN_UP(after, PAGE_SIZE)), X(limit));
        u64 end = at + size;
        bool moved = false;
        for (u32 r = 0; r < nreserved; r++) {
            const struct pvh_range *rr = &reserved[r];
            if (rr->start < rr->end && at < rr->end && rr->start < end) {
                if (rr->end > ~0ULL - (PAGE_SIZE - 1))
                    return kerr_fmt(err, errlen, -ENOSPC, "no room for a module above the %s", range_name(rr));
                at = ALIGN_UP(rr->end, PAGE_SIZE);
                moved = true;
                break;
            }
        }
        if (!moved) {
            *out = at;
            return 0;
        }
    }
    return kerr_fmt(err, errlen, -ENOSPC, "no room for a module of %s below 0x%llx", fmt_size(size, sz), X(limit));
}
