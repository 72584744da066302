/* Loader for Linux bzImages (the vmlinuz every distribution ships) through the
 * 64-bit boot protocol (Documentation/arch/x86/boot.rst): boot protocol 2.12 or
 * later with XLF_KERNEL_64. The image is untrusted: bzimage_inspect() checks
 * every header field it uses against the file and the protocol before use;
 * bzimage_load() places the kernel, initrd, command line and zero page and
 * checks all of it against the partition before writing a byte. Every
 * failure returns a negative code and, when err is not NULL, a message for the
 * operator (docs/vmm-formats.md lists them):
 *   -ENOEXEC  not a bzImage, a protocol older than 2.12, no 64-bit entry
 *   -EINVAL   a header field that contradicts the file or the protocol
 *   -ERANGE   the kernel's area (init_size) does not fit in the partition
 *   -ENOSPC   no room for the initrd below initrd_addr_max
 *   -E2BIG    the command line is longer than the kernel takes
 * plus whatever the write callback returns. */
#ifndef ISTHMUS_VMM_BZIMAGE_H
#define ISTHMUS_VMM_BZIMAGE_H

#include "kernel/lib/types.h"
#include "kernel/lib/gpa.h"
#include "vmm/bootparams.h"
#include "vmm/pvh_loader.h"
#include "vmm/pvh_start.h"

#define BZ_ERR_LEN      200 /* enough for any message */
#define BZ_MAX_ALIGN    GiB(1)
#define BZ_LOW_LIMIT    MiB(1) /* nothing of the kernel below 1 MiB */
#define BZ_MAX_RANGES   BP_E820_MAX
#define BZ_MAX_RESERVED 8

struct bzimage_info {
    u16 version; /* 0x020f for 2.15 */
    u16 xloadflags;
    u8 loadflags;
    bool relocatable;
    u32 setup_sects;   /* as used: 0 in the file means 4 */
    u32 header_end;    /* 0x202 + the byte at 0x201: the setup header is [0x1f1, header_end) */
    u64 kernel_offset; /* file offset of the protected-mode kernel: (setup_sects + 1) * 512 */
    u64 kernel_size;   /* its bytes: syssize * 16 */
    u32 kernel_alignment;
    u64 pref_address;
    u32 init_size; /* bytes from the load address the kernel needs to decompress and start */
    u32 initrd_addr_max;
    u32 cmdline_size; /* longest command line, NUL not counted */
};

/* Whether the image looks like a bzImage (boot_flag 0xAA55 at 0x1FE and "HdrS"
 * at 0x202), to pick the loader; bzimage_inspect() checks the rest. */
bool bzimage_probe(const void *image, u64 size);

/* Parses and checks the image in [image, image + size); fills *out. */
int bzimage_inspect(const void *image, u64 size, struct bzimage_info *out, char *err, size_t errlen) __must_check;

struct bzimage_config {
    /* The memory map, in any order, non-overlapping: its RAM ranges are where
     * the kernel and initrd may go; it becomes the zero page's E820 table. */
    const struct pvh_mem_range *ranges;
    u32 nranges;
    /* Never loaded over: the boot area, start info, ACPI tables, holes. */
    const struct pvh_range *reserved;
    u32 nreserved;
    const void *initrd; /* NULL/0: none */
    u64 initrd_size;
    const char *cmdline; /* NULL: an empty one */
    gpa_t cmdline_gpa;
    u32 cmdline_max; /* bytes at cmdline_gpa, NUL included */
    gpa_t zero_page; /* where bp (below) is in the guest */
    u64 rsdp;        /* 0: none */
};

struct bzimage_placement {
    u64 load;  /* the protected-mode kernel, aligned to kernel_alignment */
    u64 entry; /* load + 0x200 */
    u64 initrd, initrd_size;
    u32 cmdline_len;
    u32 e820_entries;
};

/* Places everything (nothing is written unless every check passes), then
 * writes the kernel, initrd and command line through ops and builds the zero
 * page in bp, the caller's view of the guest page at cfg->zero_page. `image`
 * and `size` must be what bzimage_inspect() saw. */
int bzimage_load(const void *image, u64 size, const struct bzimage_info *bz, const struct bzimage_config *cfg,
                 const struct pvh_load_ops *ops, struct boot_params *bp, struct bzimage_placement *out, char *err,
                 size_t errlen) __must_check;

#endif
