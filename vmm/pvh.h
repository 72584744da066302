/* The PVH boot ABI (as defined by Xen's public arch-x86/hvm/start_info.h and used
 * by Linux, Firecracker and cloud-hypervisor): the guest kernel is an ELF file
 * with a XEN_ELFNOTE_PHYS32_ENTRY note; it is entered in 32-bit protected mode,
 * paging off, flat CS/DS, with EBX = guest-physical address of struct
 * hvm_start_info. Shared by the hypervisor's loader and guest/. */
#ifndef ISTHMUS_VMM_PVH_H
#define ISTHMUS_VMM_PVH_H

#include <stdint.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PVH_NOTE_NAME            "Xen"
#define HVM_START_MAGIC          0x336ec578u

struct hvm_start_info {
    uint32_t magic;   /* HVM_START_MAGIC */
    uint32_t version; /* 1: memmap fields valid */
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr; /* struct hvm_modlist_entry[nr_modules] */
    uint64_t cmdline_paddr; /* NUL-terminated ASCII */
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr; /* struct hvm_memmap_table_entry[memmap_entries] */
    uint32_t memmap_entries;
    uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info v1 is 56 bytes");

struct hvm_modlist_entry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "modlist entry is 32 bytes");

/* E820 types. */
#define HVM_MEMMAP_RAM      1
#define HVM_MEMMAP_RESERVED 2
#define HVM_MEMMAP_ACPI     3

struct hvm_memmap_table_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry is 24 bytes");

#endif
