/* The one structure the EFI boot stage (boot/) hands to the hypervisor proper
 * (kernel/init/main.c) after ExitBootServices. Everything in it is plain data in
 * host-physical memory that the hypervisor now owns. */
#ifndef ISTHMUS_KERNEL_BOOTINFO_H
#define ISTHMUS_KERNEL_BOOTINFO_H

#include "kernel/lib/types.h"

#define BOOTINFO_MAGIC  0x4953544842494e46ULL /* "ISTHBINF" */
#define BOOT_MAX_MEMMAP 512
#define BOOT_MAX_FILES  32
#define BOOT_NAME_MAX   96

/* Memory types, reduced from the UEFI memory map to what the hypervisor cares about. */
enum mem_type {
    MEM_USABLE = 1,   /* free RAM after ExitBootServices (conventional + boot services) */
    MEM_LOADER,       /* RAM holding Isthmus' own image, boot info, files, early allocations */
    MEM_ACPI_RECLAIM, /* ACPI tables: keep (we parse them and hand copies to guests) */
    MEM_ACPI_NVS,
    MEM_RUNTIME, /* UEFI runtime services code/data: never touched */
    MEM_RESERVED,
    MEM_MMIO,
    MEM_UNUSABLE,
    MEM_PERSISTENT,
};

struct boot_mem_range {
    u64 base;
    u64 length;
    u32 type;     /* enum mem_type */
    u32 efi_type; /* original EFI_MEMORY_TYPE, for diagnostics */
    u64 efi_attr;
};

struct boot_file {
    char name[BOOT_NAME_MAX]; /* path relative to the directory isthmus.efi was loaded from */
    hpa_t addr;               /* 0 when it could not be read: see error */
    u64 size;
    char error[48]; /* why it could not be read, "" when it was */
};

struct boot_info {
    u64 magic;
    hpa_t rsdp;       /* 0 when firmware gave none */
    hpa_t image_base; /* where the firmware loaded isthmus.efi */
    u64 image_size;
    hpa_t trampoline;    /* 2 pages below 1 MiB reserved for AP start-up, 0 if none */
    hpa_t early_pool;    /* loader pages for the first page tables and per-CPU data: */
    u64 early_pool_size; /*   never overlapping the firmware's live page tables */
    hpa_t boot_stack;    /* the BSP's stack from hv_main() on */
    u64 boot_stack_size;
    u64 efi_system_table; /* for diagnostics only: boot services are gone */
    /* UTC from the firmware's clock (EFI GetTime) as nanoseconds since 1970,
     * and the TSC when it was read; wall_tsc 0 when the firmware gave none. */
    u64 wall_ns;
    u64 wall_tsc;
    u32 nmem;
    u32 nfiles;
    struct boot_mem_range mem[BOOT_MAX_MEMMAP];
    struct boot_file files[BOOT_MAX_FILES];
    struct boot_file config; /* addr 0 when the configuration file was not found */
    char config_error[128];  /* why it could not be read, if it could not */
    char loader_dir[BOOT_NAME_MAX];
};

#endif
