/* The bzImage loader (vmm/bzimage.c) and the 64-bit entry state (vmm/boot64.c):
 * a minimal synthetic bzImage accepted, every refusal, truncation at every
 * byte, placement edge cases, the zero page byte by byte at boot.rst's offsets,
 * the E820 table from the partition layout, the identity map and GDT. With
 * ISTHMUS_VMLINUZ (or build/debian/vmlinuz, from `make debian-kernel`) a real
 * kernel is inspected and loaded too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/bzimage.h"
#include "vmm/boot64.h"
#include "vmm/layout.h"
#include "vmm/pvh.h"
#include "arch/x86/hw/desc.h"
#include "arch/x86/hw/pte.h"
#include "arch/x86/hw/regs.h"
#include "kernel/lib/errno.h"

#define SETUP_SECTS 1
#define KOFF        ((SETUP_SECTS + 1) * 512)
#define KSIZE       0x1000
#define IMG_SIZE    (KOFF + KSIZE)
#define RAM         MiB(32)

static u8 img[IMG_SIZE + 64];
static u8 *ram; /* the fake guest RAM of the load tests */

static void put16(u64 off, u16 v) { memcpy(img + off, &v, 2); }
static void put32(u64 off, u32 v) { memcpy(img + off, &v, 4); }
static void put64(u64 off, u64 v) { memcpy(img + off, &v, 8); }
static u32 rd32(const void *p, u64 off)
{
    u32 v;
    memcpy(&v, (const u8 *)p + off, 4);
    return v;
}
static u64 rd64(const void *p, u64 off)
{
    u64 v;
    memcpy(&v, (const u8 *)p + off, 8);
    return v;
}

/* Debian's header, shrunk: protocol 2.15, relocatable, 2 MiB alignment. */
static void make_image(void)
{
    memset(img, 0, sizeof(img));
    img[0x1f1] = SETUP_SECTS;
    put32(0x1f4, KSIZE / 16);
    put16(0x1fe, 0xaa55);
    img[0x200] = 0xeb;
    img[0x201] = 0x6a; /* header ends at 0x26c */
    memcpy(img + 0x202, "HdrS", 4);
    put16(0x206, 0x020f);
    img[0x211] = 0x01;
    put32(0x22c, 0x7fffffff);
    put32(0x230, (u32)MiB(2));
    img[0x234] = 1;
    img[0x235] = 21;
    put16(0x236, 0x7f);
    put32(0x238, 2047);
    put64(0x258, MiB(2));
    put32(0x260, (u32)MiB(4));
    for (u32 i = 0; i < KSIZE; i++)
        img[KOFF + i] = (u8)(i * 13 + 7);
}

static int inspect(u64 size, struct bzimage_info *bz, char *err)
{
    return bzimage_inspect(img, size, bz, err, BZ_ERR_LEN);
}

static void test_minimal_accepted(void **state)
{
    struct bzimage_info bz;
    char err[BZ_ERR_LEN];
    make_image();
    assert_true(bzimage_probe(img, IMG_SIZE));
    assert_int_equal(inspect(IMG_SIZE, &bz, err), 0);
    assert_string_equal(err, "");
    assert_int_equal(bz.version, 0x020f);
    assert_int_equal(bz.setup_sects, SETUP_SECTS);
    assert_int_equal(bz.header_end, 0x26c);
    assert_int_equal(bz.kernel_offset, KOFF);
    assert_int_equal(bz.kernel_size, KSIZE);
    assert_true(bz.relocatable);
    assert_int_equal(bz.kernel_alignment, MiB(2));
    assert_int_equal(bz.pref_address, MiB(2));
    assert_int_equal(bz.init_size, MiB(4));
    assert_int_equal(bz.cmdline_size, 2047);
    assert_int_equal(bz.initrd_addr_max, 0x7fffffff);
    /* setup_sects 0 means 4. */
    static u8 big[5 * 512 + KSIZE];
    memcpy(big, img, 0x400);
    big[0x1f1] = 0;
    assert_int_equal(bzimage_inspect(big, sizeof(big), &bz, err, sizeof(err)), 0);
    assert_int_equal(bz.setup_sects, 4);
    assert_int_equal(bz.kernel_offset, 5 * 512);
}

struct refusal {
    const char *name;
    void (*corrupt)(void);
    u64 size;
    int rc;
    const char *msg;
};

static void c_flag(void) { put16(0x1fe, 0x55aa); }
static void c_hdrs(void) { memcpy(img + 0x202, "HdrZ", 4); }
static void c_old(void) { put16(0x206, 0x020b); }
static void c_end_low(void) { img[0x201] = 0x40; }
static void c_end_high(void) { img[0x201] = 0x90; }
static void c_no64(void) { put16(0x236, 0x7e); }
static void c_sects(void) { img[0x1f1] = 200; }
static void c_syssize0(void) { put32(0x1f4, 0); }
static void c_syssize_big(void) { put32(0x1f4, KSIZE / 16 + 1); }
static void c_tiny(void) { put32(0x1f4, 0x200 / 16); }
static void c_init(void) { put32(0x260, KSIZE - 16); }
static void c_align0(void) { put32(0x230, 0); }
static void c_align3(void) { put32(0x230, 0x300000); }
static void c_align_small(void) { put32(0x230, 0x800); }
static void c_align_big(void) { put32(0x230, 0x80000000u); }
static void c_pref(void) { put64(0x258, MiB(2) + 16); }
static void c_pref_wrap(void) { put64(0x258, ~0ULL - 0xfff); }
static void c_none(void) {}

static const struct refusal refusals[] = {
    { "too short", c_none, 0x205, -ENOEXEC, "too short for a bzImage setup header" },
    { "no boot flag", c_flag, IMG_SIZE, -ENOEXEC, "no boot_flag 0xAA55 at 0x1FE (found 0x55aa)" },
    { "no HdrS", c_hdrs, IMG_SIZE, -ENOEXEC, "no \"HdrS\" at 0x202" },
    { "old protocol", c_old, IMG_SIZE, -ENOEXEC, "boot protocol 2.11 is older than 2.12" },
    { "header too short", c_end_low, IMG_SIZE, -EINVAL, "the setup header ends at 0x242" },
    { "header too long", c_end_high, IMG_SIZE, -EINVAL, "the setup header ends at 0x292" },
    { "header cut", c_none, 0x250, -EINVAL, "the setup header [0x1f1, 0x26c) lies outside the 592-byte file" },
    { "no 64-bit entry", c_no64, IMG_SIZE, -ENOEXEC, "no 64-bit entry: XLF_KERNEL_64 is clear in xloadflags 0x7e" },
    { "setup_sects", c_sects, IMG_SIZE, -EINVAL, "setup_sects 200 puts the protected-mode kernel at 0x19200" },
    { "syssize 0", c_syssize0, IMG_SIZE, -EINVAL, "syssize 0x0 gives a protected-mode kernel of 0 bytes" },
    { "syssize past the file", c_syssize_big, IMG_SIZE, -EINVAL, "the file has 4 KiB there" },
    { "no entry", c_tiny, IMG_SIZE, -EINVAL, "ends before its 64-bit entry at +0x200" },
    { "kernel cut", c_none, IMG_SIZE - 1, -EINVAL, "syssize 0x100 gives a protected-mode kernel of 4 KiB" },
    { "init_size", c_init, IMG_SIZE, -EINVAL, "init_size 0xff0 is smaller than the protected-mode kernel (4 KiB)" },
    { "alignment 0", c_align0, IMG_SIZE, -EINVAL, "kernel_alignment 0x0 is not a power of two" },
    { "alignment 3 MiB", c_align3, IMG_SIZE, -EINVAL, "kernel_alignment 0x300000" },
    { "alignment 2 KiB", c_align_small, IMG_SIZE, -EINVAL, "kernel_alignment 0x800" },
    { "alignment 2 GiB", c_align_big, IMG_SIZE, -EINVAL, "kernel_alignment 0x80000000" },
    { "pref_address", c_pref, IMG_SIZE, -EINVAL, "pref_address 0x200010 is not page-aligned" },
    { "pref_address wraps", c_pref_wrap, IMG_SIZE, -EINVAL, "wraps with init_size" },
};

static void test_every_refusal(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(refusals); i++) {
        const struct refusal *r = &refusals[i];
        struct bzimage_info bz;
        char err[BZ_ERR_LEN];
        make_image();
        r->corrupt();
        int rc = inspect(r->size, &bz, err);
        if (rc != r->rc || !strstr(err, r->msg))
            fail_msg("%s: rc %d, message \"%s\"; expected %d, \"%s\"", r->name, rc, err, r->rc, r->msg);
        /* Nothing half-filled comes back. */
        static const struct bzimage_info zero;
        assert_memory_equal(&bz, &zero, sizeof(bz));
        /* The same verdict without a message buffer. */
        assert_int_equal(bzimage_inspect(img, r->size, &bz, NULL, 0), rc);
    }
    /* A non-relocatable kernel's alignment is not checked: it runs at pref_address. */
    make_image();
    c_align3();
    img[0x234] = 0;
    struct bzimage_info bz;
    char err[BZ_ERR_LEN];
    assert_int_equal(inspect(IMG_SIZE, &bz, err), 0);
    assert_false(bz.relocatable);
}

static void test_truncated_at_every_byte(void **state)
{
    make_image();
    for (u64 n = 0; n < IMG_SIZE; n++) {
        u8 *copy = malloc(n ? n : 1); /* exactly n bytes: ASan sees a read past the end */
        memcpy(copy, img, n);
        struct bzimage_info bz;
        char err[BZ_ERR_LEN];
        int rc = bzimage_inspect(copy, n, &bz, err, sizeof(err));
        assert_true(rc == -ENOEXEC || rc == -EINVAL);
        assert_true(err[0] != '\0');
        assert_int_equal(bzimage_probe(copy, n), n >= 0x206);
        free(copy);
    }
}

static void test_elf_is_not_a_bzimage(void **state)
{
    u8 elf[0x300] = { 0x7f, 'E', 'L', 'F' };
    struct bzimage_info bz;
    char err[BZ_ERR_LEN];
    assert_false(bzimage_probe(elf, sizeof(elf)));
    assert_int_equal(bzimage_inspect(elf, sizeof(elf), &bz, err, sizeof(err)), -ENOEXEC);
    assert_non_null(strstr(err, "0xAA55"));
}

/* ---------------------------------------------------------------- loading */

static int writes, fail_at;

static int ram_write(void *ctx, gpa_t g, const void *src, u64 len)
{
    assert_ptr_equal(ctx, &writes);
    assert_true(g.v <= RAM && len <= RAM - g.v);
    if (writes++ == fail_at)
        return -EIO;
    memcpy(ram + g.v, src, len);
    return 0;
}

static int ram_zero(void *ctx, gpa_t g, u64 len)
{
    assert_true(g.v <= RAM && len <= RAM - g.v);
    memset(ram + g.v, 0, len);
    return 0;
}

static const struct pvh_load_ops ops = { ram_write, ram_zero, &writes };
static struct partition_layout lay;
static struct boot_params bp;
static u8 initrd[0x3000];

static struct bzimage_config config(u64 memory)
{
    char err[160];
    assert_int_equal(layout_plan(memory, &lay, err, sizeof(err)), 0);
    return (struct bzimage_config){
        .ranges = lay.ranges,
        .nranges = lay.nranges,
        .reserved = lay.reserved,
        .nreserved = lay.nreserved,
        .cmdline = "console=ttyS0 root=/dev/vda",
        .cmdline_gpa = gpa(LAYOUT_BOOT64_MISC + BOOT64_CMDLINE_OFF),
        .cmdline_max = BOOT64_CMDLINE_MAX,
        .zero_page = gpa(LAYOUT_START_INFO),
        .rsdp = LAYOUT_ACPI,
    };
}

static int load(const struct bzimage_config *c, struct bzimage_placement *pl, char *err)
{
    struct bzimage_info bz;
    int rc = bzimage_inspect(img, IMG_SIZE, &bz, err, BZ_ERR_LEN);
    if (rc)
        return rc;
    memset(ram, 0xa5, RAM);
    writes = 0;
    return bzimage_load(img, IMG_SIZE, &bz, c, &ops, &bp, pl, err, BZ_ERR_LEN);
}

static void test_load_and_zero_page(void **state)
{
    make_image();
    for (u32 i = 0; i < sizeof(initrd); i++)
        initrd[i] = (u8)(i ^ 0x5a);
    struct bzimage_config c = config(RAM);
    c.initrd = initrd;
    c.initrd_size = sizeof(initrd);
    struct bzimage_placement pl;
    char err[BZ_ERR_LEN];
    assert_int_equal(load(&c, &pl, err), 0);
    assert_string_equal(err, "");
    assert_int_equal(pl.load, MiB(2));
    assert_int_equal(pl.entry, MiB(2) + 0x200);
    assert_memory_equal(ram + pl.load, img + KOFF, KSIZE);
    /* The initrd as high as RAM goes. */
    assert_int_equal(pl.initrd, RAM - sizeof(initrd));
    assert_memory_equal(ram + pl.initrd, initrd, sizeof(initrd));
    assert_string_equal((char *)ram + c.cmdline_gpa.v, c.cmdline);
    assert_int_equal(pl.cmdline_len, strlen(c.cmdline));

    /* The zero page at boot.rst's and zero-page.rst's offsets. */
    const u8 *z = (const u8 *)&bp;
    assert_int_equal(z[0x1ef], 0); /* sentinel */
    for (u32 off = 0x1f1; off < 0x26c; off++) {
        bool loader_field = (off >= 0x210 && off < 0x211) || (off >= 0x214 && off < 0x220) ||
                            (off >= 0x228 && off < 0x22c) || (off >= 0x250 && off < 0x258);
        if (!loader_field && z[off] != img[off])
            fail_msg("zero page byte 0x%x is 0x%x, the header's 0x%x", off, z[off], img[off]);
    }
    for (u32 off = 0x26c; off < 0x2d0; off++)
        assert_int_equal(z[off], 0);
    assert_int_equal(z[0x210], 0xff);
    assert_int_equal(rd32(z, 0x214), MiB(2));
    assert_int_equal(rd32(z, 0x218), pl.initrd);
    assert_int_equal(rd32(z, 0x21c), sizeof(initrd));
    assert_int_equal(rd32(z, 0x228), c.cmdline_gpa.v);
    assert_int_equal(rd32(z, 0x0c0), 0);
    assert_int_equal(rd32(z, 0x0c4), 0);
    assert_int_equal(rd32(z, 0x0c8), 0);
    assert_int_equal(rd64(z, 0x070), LAYOUT_ACPI);
    assert_int_equal(rd64(z, 0x250), 0); /* setup_data */

    /* E820: the layout's memory map, in order. */
    assert_int_equal(z[0x1e8], 4);
    assert_int_equal(pl.e820_entries, 4);
    const u64 want[4][3] = {
        { 0, LAYOUT_LOW_RAM_END, E820_RAM },
        { LAYOUT_BOOT64, LAYOUT_START_INFO + LAYOUT_START_INFO_SZ - LAYOUT_BOOT64, E820_RESERVED },
        { LAYOUT_ACPI, LAYOUT_ACPI_SZ, E820_ACPI },
        { LAYOUT_HIGH_RAM, RAM - LAYOUT_HIGH_RAM, E820_RAM },
    };
    for (u32 i = 0; i < 4; i++) {
        assert_int_equal(rd64(z, 0x2d0 + 20 * i), want[i][0]);
        assert_int_equal(rd64(z, 0x2d0 + 20 * i + 8), want[i][1]);
        assert_int_equal(rd32(z, 0x2d0 + 20 * i + 16), want[i][2]);
    }
    assert_int_equal(rd64(z, 0x2d0 + 20 * 4), 0);
}

static void test_placement_edges(void **state)
{
    struct bzimage_placement pl;
    char err[BZ_ERR_LEN];
    struct bzimage_config c;

    /* pref_address below 1 MiB: the first aligned address above it. */
    make_image();
    put64(0x258, 0);
    c = config(RAM);
    assert_int_equal(load(&c, &pl, err), 0);
    assert_int_equal(pl.load, MiB(2));

    /* An odd pref_address of a relocatable kernel is rounded up to the alignment. */
    make_image();
    put64(0x258, MiB(3));
    c = config(RAM);
    assert_int_equal(load(&c, &pl, err), 0);
    assert_int_equal(pl.load, MiB(4));

    /* A reserved range in the way: the next aligned address past it. */
    make_image();
    c = config(RAM);
    struct pvh_range res[5];
    memcpy(res, lay.reserved, sizeof(lay.reserved));
    res[4] = (struct pvh_range){ MiB(5), MiB(5) + 1, "a test hole" };
    c.reserved = res;
    c.nreserved = 5;
    assert_int_equal(load(&c, &pl, err), 0);
    assert_int_equal(pl.load, MiB(6));

    /* The kernel's area must fit entirely: 4 MiB from 30 MiB does not in 32. */
    make_image();
    put64(0x258, MiB(30));
    c = config(RAM);
    assert_int_equal(load(&c, &pl, err), -ERANGE);
    assert_non_null(strstr(err, "no room for the kernel: it needs 4 MiB (init_size)"));
    assert_non_null(strstr(err, "at least 34 MiB of memory"));
    assert_int_equal(writes, 0);
    /* ... and it does at 28 MiB exactly. */
    put64(0x258, MiB(28));
    assert_int_equal(load(&c, &pl, err), 0);
    assert_int_equal(pl.load, MiB(28));

    /* Not relocatable: pref_address or nothing. */
    make_image();
    img[0x234] = 0;
    put64(0x258, MiB(5));
    c = config(RAM);
    c.reserved = res;
    c.nreserved = 5;
    assert_int_equal(load(&c, &pl, err), -ERANGE);
    assert_non_null(strstr(err, "not relocatable"));
    assert_non_null(strstr(err, "overlaps a test hole"));
    c.nreserved = 4;
    assert_int_equal(load(&c, &pl, err), 0);
    assert_int_equal(pl.load, MiB(5));
    put64(0x258, 0x90000); /* below 1 MiB: refused */
    assert_int_equal(load(&c, &pl, err), -ERANGE);

    /* The initrd below initrd_addr_max, outside the kernel's area [2 MiB, 6 MiB). */
    make_image();
    put32(0x22c, (u32)MiB(8) + 0x17ff); /* the highest byte it may occupy */
    c = config(RAM);
    c.initrd = initrd;
    c.initrd_size = sizeof(initrd);
    assert_int_equal(load(&c, &pl, err), 0);
    assert_int_equal(pl.initrd, MiB(8) - 0x2000); /* page-aligned, ends at or below the limit */
    put32(0x22c, (u32)MiB(6) + 0x1fff);           /* it would straddle the kernel: below it then */
    assert_int_equal(load(&c, &pl, err), 0);
    assert_int_equal(pl.initrd, MiB(2) - sizeof(initrd));
    put32(0x22c, (u32)MiB(1) + 0x1fff); /* no room from 1 MiB to 1 MiB + 8 KiB */
    assert_int_equal(load(&c, &pl, err), -ENOSPC);
    assert_non_null(strstr(err, "no room for the initrd of 12 KiB"));
    assert_int_equal(writes, 0);
    put32(0x22c, 0x7fffffff); /* a partition smaller than initrd_addr_max: the top of RAM */
    assert_int_equal(load(&c, &pl, err), 0);
    assert_int_equal(pl.initrd, RAM - sizeof(initrd));

    /* The command line against cmdline_size and the room for it. */
    make_image();
    put32(0x238, 8);
    c = config(RAM);
    assert_int_equal(load(&c, &pl, err), -E2BIG);
    assert_non_null(strstr(err, "longer than the 8 bytes the kernel takes (cmdline_size)"));
    c.cmdline = "12345678";
    assert_int_equal(load(&c, &pl, err), 0);
    c.cmdline = NULL; /* none: an empty one */
    assert_int_equal(load(&c, &pl, err), 0);
    assert_int_equal(ram[c.cmdline_gpa.v], 0);
    make_image();
    c = config(RAM);
    c.cmdline_max = 4;
    assert_int_equal(load(&c, &pl, err), -E2BIG);
    assert_non_null(strstr(err, "longer than 3 bytes"));

    /* A failing write is reported, and stops there. */
    make_image();
    c = config(RAM);
    fail_at = 1;
    c.initrd = initrd;
    c.initrd_size = sizeof(initrd);
    assert_int_equal(load(&c, &pl, err), -EIO);
    assert_non_null(strstr(err, "writing the initrd"));
    assert_int_equal(writes, 2);
    fail_at = -1;
}

/* A memory map with RAM split and out of order still becomes a sorted E820 table. */
static void test_e820_sorted_and_merged(void **state)
{
    make_image();
    struct bzimage_config c = config(RAM);
    const struct pvh_mem_range r[] = {
        { MiB(16), MiB(16), HVM_MEMMAP_RAM },
        { 0, 0x9f000, HVM_MEMMAP_RAM },
        { MiB(1), MiB(15), HVM_MEMMAP_RAM },
        { 0x9f000, 0x1000, HVM_MEMMAP_RESERVED },
    };
    c.ranges = r;
    c.nranges = 4;
    c.reserved = NULL;
    c.nreserved = 0;
    c.cmdline_gpa = gpa(0x9f800);
    c.cmdline_max = 0x800;
    c.zero_page = gpa(0x9e000);
    struct bzimage_placement pl;
    char err[BZ_ERR_LEN];
    assert_int_equal(load(&c, &pl, err), 0);
    assert_int_equal(pl.e820_entries, 3);
    assert_int_equal(bp.e820_table[2].addr, MiB(1));
    assert_int_equal(bp.e820_table[2].size, MiB(31));
    /* Overlapping ranges are refused. */
    const struct pvh_mem_range bad[] = { { 0, MiB(2), 1 }, { MiB(1), MiB(2), 2 } };
    c.ranges = bad;
    c.nranges = 2;
    assert_int_equal(load(&c, &pl, err), -EINVAL);
    assert_non_null(strstr(err, "overlap"));
}

/* ---------------------------------------------------------------- boot64 */

static void test_boot64_tables_and_state(void **state)
{
    static u8 buf[BOOT64_SIZE];
    const gpa_t base = gpa(LAYOUT_BOOT64);
    assert_int_equal(boot64_build(buf, sizeof(buf) - 1, base), -EINVAL);
    assert_int_equal(boot64_build(buf, sizeof(buf), gpa(LAYOUT_BOOT64 + 8)), -EINVAL);
    memset(buf, 0xcc, sizeof(buf));
    assert_int_equal(boot64_build(buf, sizeof(buf), base), 0);
    const u64 *pml4 = (const u64 *)buf, *pdpt = (const u64 *)(buf + 0x1000);
    assert_int_equal(pml4[0], (LAYOUT_BOOT64 + 0x1000) | PTE_P | PTE_RW | PTE_A);
    for (u32 i = 1; i < 512; i++)
        assert_int_equal(pml4[i], 0);
    for (u32 g = 0; g < 512; g++) {
        if (g >= 4) {
            assert_int_equal(pdpt[g], 0);
            continue;
        }
        assert_int_equal(pdpt[g], (LAYOUT_BOOT64 + 0x2000 + g * 0x1000) | PTE_P | PTE_RW | PTE_A);
        const u64 *pd = (const u64 *)(buf + 0x2000 + g * 0x1000);
        for (u32 i = 0; i < 512; i++)
            assert_int_equal(pd[i], (GiB(g) + MiB(2) * i) | PTE_P | PTE_RW | PTE_A | PTE_D | PTE_PS);
    }
    /* The GDT: the same descriptors Linux's own boot GDT has for 0x10 and 0x18
     * (accessed bits set), and a busy TSS at 0x20. */
    const u64 *gdt = (const u64 *)(buf + BOOT64_TABLES_SZ);
    assert_int_equal(gdt[0], 0);
    assert_int_equal(gdt[1], 0);
    assert_int_equal(gdt[2], 0x00af9b000000ffffULL);
    assert_int_equal(gdt[3], 0x00cf93000000ffffULL);
    const u64 tss = LAYOUT_BOOT64_MISC + BOOT64_TSS_OFF;
    assert_int_equal(gdt[4], 0x67 | (tss & 0xffffff) << 16 | 0x8bULL << 40 | (tss >> 24) << 56);
    assert_int_equal(gdt[5], 0);
    /* The command line's half of the page is left zeroed for the loader. */
    for (u32 i = 0; i < BOOT64_CMDLINE_MAX; i++)
        assert_int_equal(buf[BOOT64_TABLES_SZ + BOOT64_CMDLINE_OFF + i], 0);

    struct vcpu_boot_state s;
    boot64_state(&s, base, MiB(16) + 0x200, gpa(LAYOUT_START_INFO));
    assert_int_equal(s.regs.rip, MiB(16) + 0x200);
    assert_int_equal(s.regs.gpr[GPR_RSI], LAYOUT_START_INFO);
    assert_int_equal(s.regs.rflags, RFLAGS_FIXED); /* interrupts off */
    assert_int_equal(s.regs.gpr[GPR_RSP], LAYOUT_BOOT64_MISC + BOOT64_STACK_TOP_OFF);
    assert_true((s.cr0 & (CR0_PE | CR0_PG)) == (CR0_PE | CR0_PG));
    assert_true(s.cr4 & CR4_PAE);
    assert_int_equal(s.efer, EFER_LME | EFER_LMA);
    assert_int_equal(s.cr3, LAYOUT_BOOT64_PML4);
    assert_int_equal(s.cs.selector, 0x10);
    assert_true((s.cs.attrib & SEG_ATTR_L) && !(s.cs.attrib & SEG_ATTR_DB));
    assert_int_equal(s.ds.selector, 0x18);
    assert_int_equal(s.es.selector, 0x18);
    assert_int_equal(s.ss.selector, 0x18);
    assert_int_equal(s.tr.attrib & SEG_ATTR_TYPE_MASK, SEG_TYPE_TSS_BUSY);
    assert_int_equal(s.gdtr.base, LAYOUT_BOOT64_MISC);
    assert_int_equal(s.gdtr.limit, 6 * 8 - 1);
}

/* ---------------------------------------------------------------- a real kernel */

static void test_real_vmlinuz(void **state)
{
    const char *path = getenv("ISTHMUS_VMLINUZ");
    static const char *const tries[] = { "../../build/debian/vmlinuz", "/tmp/deb/x/boot/vmlinuz-6.1.0-57-cloud-amd64" };
    FILE *f = path ? fopen(path, "rb") : NULL;
    for (size_t i = 0; !f && !path && i < ARRAY_SIZE(tries); i++)
        f = fopen(tries[i], "rb");
    if (!f) {
        print_message("no Debian vmlinuz (set ISTHMUS_VMLINUZ or run make debian-kernel): skipped\n");
        skip();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    u8 *k = malloc((size_t)n);
    assert_int_equal(fread(k, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    struct bzimage_info bz;
    char err[BZ_ERR_LEN];
    assert_true(bzimage_probe(k, (u64)n));
    assert_int_equal(bzimage_inspect(k, (u64)n, &bz, err, sizeof(err)), 0);
    /* Debian 12's cloud kernel, as LINUX-GUESTS.md records it. */
    assert_true(bz.version >= 0x020c);
    assert_true(bz.xloadflags & XLF_KERNEL_64);
    assert_true(bz.relocatable);
    assert_int_equal(bz.kernel_alignment, MiB(2));
    assert_int_equal(bz.pref_address, MiB(16));
    assert_true(bz.kernel_offset + bz.kernel_size <= (u64)n);
    /* 32 MiB is too little for its init_size; 128 MiB is enough. */
    free(ram);
    ram = calloc(1, MiB(128));
    struct bzimage_config c = config(MiB(32));
    struct bzimage_placement pl;
    writes = 0;
    assert_int_equal(bzimage_load(k, (u64)n, &bz, &c, &ops, &bp, &pl, err, sizeof(err)), -ERANGE);
    assert_non_null(strstr(err, "no room for the kernel"));
    c = config(MiB(128));
    assert_int_equal(bzimage_load(k, (u64)n, &bz, &c, &ops, &bp, &pl, err, sizeof(err)), 0);
    assert_int_equal(pl.load, MiB(16));
    assert_memory_equal(ram + MiB(16), k + bz.kernel_offset, 0x400);
    assert_int_equal(bp.hdr.version, bz.version);
    assert_int_equal(bp.hdr.init_size, bz.init_size);
    free(k);
    free(ram);
    ram = calloc(1, RAM);
}

static int setup(void **state)
{
    ram = calloc(1, RAM);
    fail_at = -1;
    return ram ? 0 : -1;
}

static int teardown(void **state)
{
    free(ram);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_accepted),
        cmocka_unit_test(test_every_refusal),
        cmocka_unit_test(test_truncated_at_every_byte),
        cmocka_unit_test(test_elf_is_not_a_bzimage),
        cmocka_unit_test(test_load_and_zero_page),
        cmocka_unit_test(test_placement_edges),
        cmocka_unit_test(test_e820_sorted_and_merged),
        cmocka_unit_test(test_boot64_tables_and_state),
        cmocka_unit_test(test_real_vmlinuz),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
