/* ELF loader for PVH kernels (vmm/pvh.h has the boot ABI). The image is untrusted:
 * pvh_inspect() checks every header, offset and size against the file before
 * using it, pvh_load() checks the placement against the partition before writing
 * a byte. Every failure returns a negative code and, when err is not NULL, a
 * message for the operator in err (see docs/vmm-formats.md for the list):
 *   -ENOEXEC  not an ELF file, not x86, not ET_EXEC, or no PVH entry note
 *   -EINVAL   malformed: something outside the file, overlapping segments,
 *             filesz > memsz, a bad note, an entry outside the loaded code
 *   -E2BIG    more program headers or segments than the caps below
 *   -ERANGE   a segment outside guest RAM or over a reserved range
 *   -ENOSPC   (pvh_place_module) no room for a module below the limit
 * plus whatever the write/zero callbacks return. Segment numbers in messages are
 * program header indexes, in file order (as `readelf -l` lists them). */
#ifndef ISTHMUS_VMM_PVH_LOADER_H
#define ISTHMUS_VMM_PVH_LOADER_H

#include "kernel/lib/types.h"
#include "kernel/lib/gpa.h"

#define PVH_MAX_PHDRS    64  /* program headers; Linux has about 5 */
#define PVH_MAX_SEGMENTS 16  /* PT_LOAD segments with a non-zero memsz */
#define PVH_ERR_LEN      160 /* enough for any message */

struct pvh_segment {
    u64 gpa;    /* p_paddr: where the segment goes in the guest */
    u64 offset; /* p_offset of its file data */
    u64 filesz; /* bytes copied from the file */
    u64 memsz;  /* bytes in the guest; memsz - filesz are zeroed */
    u32 flags;  /* PF_R / PF_W / PF_X */
    u16 phdr;   /* program header index, for messages */
};

struct pvh_image {
    bool elf64;
    u16 machine;   /* 62 (x86-64) or 3 (i386) */
    u32 entry;     /* XEN_ELFNOTE_PHYS32_ENTRY: 32-bit protected-mode entry */
    u64 elf_entry; /* e_entry, informational */
    u32 nsegs;
    struct pvh_segment segs[PVH_MAX_SEGMENTS]; /* sorted by gpa, non-overlapping */
    u64 start, end;                            /* [lowest gpa, highest gpa + memsz) */
};

/* A guest-physical range the kernel must not be loaded over (start info, ACPI
 * tables, MMIO, ...). `what` names it in messages ("the ACPI tables"). */
struct pvh_range {
    u64 start, end; /* [start, end) */
    const char *what;
};

struct pvh_load_ops {
    /* Copy len bytes to guest memory at gpa / zero len bytes there; 0 or -errno. */
    int (*write)(void *ctx, gpa_t gpa, const void *src, u64 len);
    int (*zero)(void *ctx, gpa_t gpa, u64 len);
    void *ctx;
};

/* Parses and checks the ELF image in [image, image + size) and fills *out. */
int pvh_inspect(const void *image, u64 size, struct pvh_image *out, char *err, size_t errlen) __must_check;

/* Checks that every segment lies inside guest RAM [0, ram_size) and outside every
 * reserved range (each must have start <= end). */
int pvh_check_placement(const struct pvh_image *img, u64 ram_size, const struct pvh_range *reserved, u32 nreserved,
                        char *err, size_t errlen) __must_check;

/* pvh_check_placement(), then copies each segment's file bytes and zeroes the rest
 * of its memory through ops. `image`/`size` must be what pvh_inspect() saw (the
 * file ranges are checked again anyway). On a callback error the guest memory is
 * partly written. */
int pvh_load(const void *image, u64 size, const struct pvh_image *img, u64 ram_size, const struct pvh_range *reserved,
             u32 nreserved, const struct pvh_load_ops *ops, char *err, size_t errlen) __must_check;

/* Finds a page-aligned place for a module (initrd) of `size` bytes at or above
 * `after` (e.g. img->end, or the previous module's end), skipping the reserved
 * ranges, that ends at or below `limit`. The lowest such address goes to *gpa. */
int pvh_place_module(u64 after, u64 size, u64 limit, const struct pvh_range *reserved, u32 nreserved, u64 *gpa,
                     char *err, size_t errlen) __must_check;

/* ---- ELF constants and layouts (System V gABI, 4.1 / ELF-64 Object File Format 1.5). */
#define ELF_MAGIC      "\177ELF"
#define ELF_EI_CLASS   4
#define ELF_EI_DATA    5
#define ELF_EI_VERSION 6
#define ELF_NIDENT     16
#define ELFCLASS32     1
#define ELFCLASS64     2
#define ELFDATA2LSB    1
#define EV_CURRENT     1
#define ET_EXEC        2
#define EM_386         3
#define EM_X86_64      62
#define PT_LOAD        1
#define PT_NOTE        4
#define SHT_NOTE       7
#define PN_XNUM        0xffff
#define PF_X           1
#define PF_W           2
#define PF_R           4

struct elf64_ehdr {
    u8 e_ident[ELF_NIDENT];
    u16 e_type, e_machine;
    u32 e_version;
    u64 e_entry, e_phoff, e_shoff;
    u32 e_flags;
    u16 e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
} __packed;
STATIC_ASSERT(sizeof(struct elf64_ehdr) == 64, "Elf64_Ehdr");
STATIC_ASSERT(__builtin_offsetof(struct elf64_ehdr, e_phoff) == 32, "Elf64_Ehdr.e_phoff");
STATIC_ASSERT(__builtin_offsetof(struct elf64_ehdr, e_phnum) == 56, "Elf64_Ehdr.e_phnum");

struct elf32_ehdr {
    u8 e_ident[ELF_NIDENT];
    u16 e_type, e_machine;
    u32 e_version;
    u32 e_entry, e_phoff, e_shoff;
    u32 e_flags;
    u16 e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
} __packed;
STATIC_ASSERT(sizeof(struct elf32_ehdr) == 52, "Elf32_Ehdr");
STATIC_ASSERT(__builtin_offsetof(struct elf32_ehdr, e_phoff) == 28, "Elf32_Ehdr.e_phoff");
STATIC_ASSERT(__builtin_offsetof(struct elf32_ehdr, e_phnum) == 44, "Elf32_Ehdr.e_phnum");

struct elf64_phdr {
    u32 p_type, p_flags;
    u64 p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
} __packed;
STATIC_ASSERT(sizeof(struct elf64_phdr) == 56, "Elf64_Phdr");
STATIC_ASSERT(__builtin_offsetof(struct elf64_phdr, p_paddr) == 24, "Elf64_Phdr.p_paddr");

struct elf32_phdr {
    u32 p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align;
} __packed;
STATIC_ASSERT(sizeof(struct elf32_phdr) == 32, "Elf32_Phdr");
STATIC_ASSERT(__builtin_offsetof(struct elf32_phdr, p_flags) == 24, "Elf32_Phdr.p_flags");

struct elf64_shdr {
    u32 sh_name, sh_type;
    u64 sh_flags, sh_addr, sh_offset, sh_size;
    u32 sh_link, sh_info;
    u64 sh_addralign, sh_entsize;
} __packed;
STATIC_ASSERT(sizeof(struct elf64_shdr) == 64, "Elf64_Shdr");
STATIC_ASSERT(__builtin_offsetof(struct elf64_shdr, sh_offset) == 24, "Elf64_Shdr.sh_offset");

struct elf32_shdr {
    u32 sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, sh_addralign, sh_entsize;
} __packed;
STATIC_ASSERT(sizeof(struct elf32_shdr) == 40, "Elf32_Shdr");

/* Note header (same in both classes); name and descriptor follow, each padded. */
struct elf_nhdr {
    u32 n_namesz, n_descsz, n_type;
} __packed;
STATIC_ASSERT(sizeof(struct elf_nhdr) == 12, "Elf_Nhdr");

#endif
