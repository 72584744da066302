/* The Linux/x86 boot protocol's structures, as a bzImage carries them and as
 * its 64-bit entry expects them (Documentation/arch/x86/boot.rst, "The Real-Mode
 * Kernel Header" and "64-bit Boot Protocol"; zero-page.rst for struct
 * boot_params). Only what vmm/bzimage.c reads or writes is named; the rest is
 * padding at the documented offsets, each checked below. */
#ifndef ISTHMUS_VMM_BOOTPARAMS_H
#define ISTHMUS_VMM_BOOTPARAMS_H

#include "kernel/lib/types.h"

#define BP_SETUP_HDR_OFF    0x1f1       /* the setup header, in the file and in boot_params */
#define BP_JUMP_OFF         0x200       /* a short jump whose 8-bit offset gives the header's end */
#define BP_HEADER_END_BASE  0x202       /* header end = this + the byte at 0x201 */
#define BP_BOOT_FLAG        0xaa55      /* boot_flag at 0x1fe */
#define BP_HDRS_MAGIC       0x53726448u /* "HdrS" at 0x202, little-endian */
#define BP_MIN_VERSION      0x020c      /* 2.12: xloadflags, and with it XLF_KERNEL_64 */
#define BP_SECTOR           512
#define BP_DEFAULT_SECTS    4     /* setup_sects 0 means 4 (boot.rst) */
#define BP_ENTRY64_OFF      0x200 /* the 64-bit entry, from the protected-mode kernel's start */
#define BP_LOADER_UNDEFINED 0xff  /* type_of_loader: a boot loader with no assigned ID */
#define BP_E820_MAX         128   /* E820_MAX_ENTRIES_ZEROPAGE */
#define BP_SIZE             4096  /* struct boot_params, "the zero page" */

/* loadflags (0x211) */
#define LOADED_HIGH                BIT(0) /* the protected-mode code is at 0x100000 */
/* xloadflags (0x236) */
#define XLF_KERNEL_64              BIT(0) /* the 64-bit entry at +0x200 exists */
#define XLF_CAN_BE_LOADED_ABOVE_4G BIT(1) /* kernel, boot_params, cmdline, initrd may lie above 4 GiB */

/* E820 types (ACPI 6.5 table 15.6): the same numbers as the PVH memory map's. */
#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3

struct setup_header {
    u8 setup_sects;
    u16 root_flags;
    u32 syssize;
    u16 ram_size, vid_mode, root_dev;
    u16 boot_flag;
    u16 jump;
    u32 header;
    u16 version;
    u32 realmode_swtch;
    u16 start_sys_seg, kernel_version;
    u8 type_of_loader, loadflags;
    u16 setup_move_size;
    u32 code32_start;
    u32 ramdisk_image, ramdisk_size;
    u32 bootsect_kludge;
    u16 heap_end_ptr;
    u8 ext_loader_ver, ext_loader_type;
    u32 cmd_line_ptr;
    u32 initrd_addr_max;
    u32 kernel_alignment;
    u8 relocatable_kernel, min_alignment;
    u16 xloadflags;
    u32 cmdline_size;
    u32 hardware_subarch;
    u64 hardware_subarch_data;
    u32 payload_offset, payload_length;
    u64 setup_data;
    u64 pref_address;
    u32 init_size;
    u32 handover_offset;
    u32 kernel_info_offset;
} __packed;

struct boot_e820_entry {
    u64 addr, size;
    u32 type;
} __packed;
STATIC_ASSERT(sizeof(struct boot_e820_entry) == 20, "struct boot_e820_entry");

struct boot_params {
    u8 screen_info[0x40];
    u8 apm_bios_info[0x14];
    u8 _pad2[4];
    u64 tboot_addr;
    u8 ist_info[0x10];
    u64 acpi_rsdp_addr;
    u8 _pad3[8];
    u8 hd0_info[0x10], hd1_info[0x10];
    u8 sys_desc_table[0x10];
    u8 olpc_ofw_header[0x10];
    u32 ext_ramdisk_image, ext_ramdisk_size;
    u32 ext_cmd_line_ptr;
    u8 _pad4[0x70];
    u32 cc_blob_address;
    u8 edid_info[0x80];
    u8 efi_info[0x20];
    u32 alt_mem_k;
    u32 scratch;
    u8 e820_entries;
    u8 eddbuf_entries;
    u8 edd_mbr_sig_buf_entries;
    u8 kbd_status;
    u8 secure_boot;
    u8 _pad5[2];
    u8 sentinel; /* non-zero: a loader copied the header without clearing the rest */
    u8 _pad6[1];
    struct setup_header hdr;
    u8 _pad7[0x290 - 0x1f1 - sizeof(struct setup_header)];
    u32 edd_mbr_sig_buffer[16];
    struct boot_e820_entry e820_table[BP_E820_MAX];
    u8 _pad8[0x30];
    u8 eddbuf[0x1ec];
    u8 _pad9[0x114];
} __packed;

#define BP_OFF(f) __builtin_offsetof(struct boot_params, f)
STATIC_ASSERT(sizeof(struct boot_params) == BP_SIZE, "boot_params is one page");
STATIC_ASSERT(BP_OFF(acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr");
STATIC_ASSERT(BP_OFF(ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
STATIC_ASSERT(BP_OFF(ext_ramdisk_size) == 0x0c4, "ext_ramdisk_size");
STATIC_ASSERT(BP_OFF(ext_cmd_line_ptr) == 0x0c8, "ext_cmd_line_ptr");
STATIC_ASSERT(BP_OFF(cc_blob_address) == 0x13c, "cc_blob_address");
STATIC_ASSERT(BP_OFF(e820_entries) == 0x1e8, "e820_entries");
STATIC_ASSERT(BP_OFF(sentinel) == 0x1ef, "sentinel");
STATIC_ASSERT(BP_OFF(hdr) == BP_SETUP_HDR_OFF, "setup header");
STATIC_ASSERT(BP_OFF(hdr.boot_flag) == 0x1fe, "boot_flag");
STATIC_ASSERT(BP_OFF(hdr.jump) == BP_JUMP_OFF, "jump");
STATIC_ASSERT(BP_OFF(hdr.header) == 0x202, "header");
STATIC_ASSERT(BP_OFF(hdr.version) == 0x206, "version");
STATIC_ASSERT(BP_OFF(hdr.type_of_loader) == 0x210, "type_of_loader");
STATIC_ASSERT(BP_OFF(hdr.loadflags) == 0x211, "loadflags");
STATIC_ASSERT(BP_OFF(hdr.code32_start) == 0x214, "code32_start");
STATIC_ASSERT(BP_OFF(hdr.ramdisk_image) == 0x218, "ramdisk_image");
STATIC_ASSERT(BP_OFF(hdr.ramdisk_size) == 0x21c, "ramdisk_size");
STATIC_ASSERT(BP_OFF(hdr.cmd_line_ptr) == 0x228, "cmd_line_ptr");
STATIC_ASSERT(BP_OFF(hdr.initrd_addr_max) == 0x22c, "initrd_addr_max");
STATIC_ASSERT(BP_OFF(hdr.kernel_alignment) == 0x230, "kernel_alignment");
STATIC_ASSERT(BP_OFF(hdr.relocatable_kernel) == 0x234, "relocatable_kernel");
STATIC_ASSERT(BP_OFF(hdr.xloadflags) == 0x236, "xloadflags");
STATIC_ASSERT(BP_OFF(hdr.cmdline_size) == 0x238, "cmdline_size");
STATIC_ASSERT(BP_OFF(hdr.hardware_subarch) == 0x23c, "hardware_subarch");
STATIC_ASSERT(BP_OFF(hdr.setup_data) == 0x250, "setup_data");
STATIC_ASSERT(BP_OFF(hdr.pref_address) == 0x258, "pref_address");
STATIC_ASSERT(BP_OFF(hdr.init_size) == 0x260, "init_size");
STATIC_ASSERT(BP_OFF(hdr.kernel_info_offset) == 0x268, "kernel_info_offset");
STATIC_ASSERT(BP_OFF(edd_mbr_sig_buffer) == 0x290, "edd_mbr_sig_buffer");
STATIC_ASSERT(BP_OFF(e820_table) == 0x2d0, "e820_table");
STATIC_ASSERT(BP_OFF(eddbuf) == 0xd00, "eddbuf");

/* The setup header a 2.12 kernel must have: through init_size. */
#define BP_HEADER_END_MIN (BP_OFF(hdr.init_size) + 4)
/* The most boot_params has room for. */
#define BP_HEADER_END_MAX BP_OFF(edd_mbr_sig_buffer)

#endif
