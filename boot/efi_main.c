/* The EFI stage: everything Isthmus needs from the firmware, gathered while boot
 * services still exist, then ExitBootServices and a jump into the hypervisor
 * proper (kernel/init/main.c) with one struct boot_info. Nothing here runs again. */
#include <efi.h>

#include "kernel/core/bootinfo.h"
#include "boot/efi_stage.h"
#include "boot/efi_util.h"
#include "kernel/lib/string.h"
#include "kernel/lib/calendar.h"
#include "arch/x86/hw/cpu.h"

#define EARLY_POOL_PAGES 1024 /* 4 MiB: page tables, per-CPU areas, allocator bitmaps */
#define BOOT_STACK_PAGES 16   /* 64 KiB */
#define WALL_EDGE_POLLS  1200 /* 1 ms apart: the firmware clock's second ends within them */

static EFI_GUID acpi20_guid = ACPI_20_TABLE_GUID;
static EFI_GUID acpi10_guid = ACPI_TABLE_GUID;

static __noreturn void fail(const char *what, EFI_STATUS st)
{
    efi_say("fatal: %s: %s", what, efi_status_str(st));
    efi_say("cannot start; returning to the firmware in 10 s");
    efi_bs->Stall(10 * 1000 * 1000);
    efi_bs->Exit(efi_image, st, 0, NULL);
    for (;;)
        __asm__ volatile("cli; hlt");
}

static EFI_STATUS alloc_pages(EFI_ALLOCATE_TYPE type, UINTN pages, EFI_PHYSICAL_ADDRESS *addr)
{
    return efi_bs->AllocatePages(type, EfiLoaderData, pages, addr);
}

static u32 reduce_type(UINT32 efi_type)
{
    switch (efi_type) {
    case EfiLoaderCode:
    case EfiLoaderData: return MEM_LOADER;
    case EfiBootServicesCode:
    case EfiBootServicesData:
    case EfiConventionalMemory: return MEM_USABLE;
    case EfiRuntimeServicesCode:
    case EfiRuntimeServicesData: return MEM_RUNTIME;
    case EfiUnusableMemory: return MEM_UNUSABLE;
    case EfiACPIReclaimMemory: return MEM_ACPI_RECLAIM;
    case EfiACPIMemoryNVS: return MEM_ACPI_NVS;
    case EfiMemoryMappedIO:
    case EfiMemoryMappedIOPortSpace: return MEM_MMIO;
    case 14: /* EfiPersistentMemory (UEFI 2.5), absent from older headers */ return MEM_PERSISTENT;
    default: return MEM_RESERVED;
    }
}

static void *find_rsdp(void)
{
    void *v1 = NULL;
    for (UINTN i = 0; i < efi_st->NumberOfTableEntries; i++) {
        EFI_CONFIGURATION_TABLE *t = &efi_st->ConfigurationTable[i];
        if (efi_guid_eq(&t->VendorGuid, &acpi20_guid))
            return t->VendorTable;
        if (efi_guid_eq(&t->VendorGuid, &acpi10_guid))
            v1 = t->VendorTable;
    }
    return v1;
}

/* Converts the memory map into boot_info and exits boot services. GetMemoryMap
 * must be the last boot service called before ExitBootServices, and the buffer
 * must already exist, so both live in pages allocated beforehand. */
static void exit_boot_services(EFI_HANDLE image, struct boot_info *bi, void *mapbuf, UINTN mapcap)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        UINTN size = mapcap, key = 0, dsize = 0;
        UINT32 dver = 0;
        EFI_STATUS st = efi_bs->GetMemoryMap(&size, mapbuf, &key, &dsize, &dver);
        if (EFI_ERROR(st))
            fail("GetMemoryMap", st);
        UINTN n = size / dsize;
        bi->nmem = 0;
        for (UINTN i = 0; i < n && bi->nmem < BOOT_MAX_MEMMAP; i++) {
            EFI_MEMORY_DESCRIPTOR *d = (EFI_MEMORY_DESCRIPTOR *)((u8 *)mapbuf + i * dsize);
            struct boot_mem_range *r = &bi->mem[bi->nmem];
            u32 type = reduce_type(d->Type);
            /* Merge with the previous entry when contiguous and of the same kind. */
            if (bi->nmem && r[-1].type == type && r[-1].efi_type == d->Type &&
                r[-1].base + r[-1].length == d->PhysicalStart && r[-1].efi_attr == d->Attribute) {
                r[-1].length += d->NumberOfPages * 4096;
                continue;
            }
            r->base = d->PhysicalStart;
            r->length = d->NumberOfPages * 4096;
            r->type = type;
            r->efi_type = d->Type;
            r->efi_attr = d->Attribute;
            bi->nmem++;
        }
        st = efi_bs->ExitBootServices(image, key);
        if (!EFI_ERROR(st))
            return;
        /* The map changed between the two calls (an event allocated memory): retry. */
    }
    fail("ExitBootServices", EFI_ABORTED);
}

static bool efi_time_valid(const EFI_TIME *t)
{
    return cal_date_valid(t->Year, t->Month, t->Day) && t->Hour < 24 && t->Minute < 60 && t->Second < 60 &&
           t->Nanosecond < CAL_NS_PER_SEC;
}

/* UTC now, for the partitions' clocks (kernel/core/time.c advances it by the
 * TSC). PC firmware clocks count whole seconds (OVMF's Nanosecond is 0), so
 * unless the firmware gives the fraction, wait for the second to turn over
 * and take the TSC right then: the time is exact to the polling interval
 * (about 1 ms) instead of up to a second late. The time zone is ignored, as
 * Linux's EFI RTC driver does: the clock is taken to keep UTC. */
static void read_wall_clock(struct boot_info *bi)
{
    EFI_RUNTIME_SERVICES *rt = efi_st->RuntimeServices;
    EFI_TIME t0, t;
    EFI_STATUS st = rt->GetTime(&t0, NULL);
    u64 tsc = rdtsc();
    if (EFI_ERROR(st) || !efi_time_valid(&t0)) {
        efi_say("warning: the firmware clock is unreadable (%s); partitions' clocks start at 1970",
                EFI_ERROR(st) ? efi_status_str(st) : "invalid date");
        return;
    }
    t = t0;
    for (int i = 0; i < WALL_EDGE_POLLS && !t0.Nanosecond && t.Second == t0.Second; i++) {
        efi_bs->Stall(1000);
        st = rt->GetTime(&t, NULL);
        tsc = rdtsc();
        if (EFI_ERROR(st) || !efi_time_valid(&t)) {
            t = t0; /* keep the first reading: late by under a second */
            break;
        }
    }
    s64 days = cal_days_from_civil(t.Year, t.Month, t.Day);
    if (days < 0)
        return;
    u64 secs = (u64)days * CAL_SECS_PER_DAY + t.Hour * 3600ULL + t.Minute * 60ULL + t.Second;
    bi->wall_ns = secs * CAL_NS_PER_SEC + t.Nanosecond;
    bi->wall_tsc = tsc ? tsc : 1;
}

/* The firmware's entry point (GNU-EFI's crt0 calls it), declared here: no
 * other file calls it. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab);

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    efi_image = image;
    efi_st = systab;
    efi_bs = systab->BootServices;
    /* The firmware watchdog would reset the machine 5 minutes after boot. */
    efi_bs->SetWatchdogTimer(0, 0, 0, NULL);
    efi_say("EFI stage of Isthmus %s starting", ISTHMUS_VERSION);

    EFI_PHYSICAL_ADDRESS a;
    EFI_STATUS st = alloc_pages(AllocateAnyPages, EFI_SIZE_TO_PAGES(sizeof(struct boot_info)), &a);
    if (EFI_ERROR(st))
        fail("allocating boot info", st);
    struct boot_info *bi = (struct boot_info *)(UINTN)a;
    memset(bi, 0, sizeof(*bi));
    bi->magic = BOOTINFO_MAGIC;
    bi->efi_system_table = (u64)(UINTN)systab;

    EFI_LOADED_IMAGE *li = NULL;
    EFI_GUID li_guid = EFI_LOADED_IMAGE_PROTOCOL_GUID;
    st = efi_bs->HandleProtocol(image, &li_guid, (void **)&li);
    if (EFI_ERROR(st))
        fail("LoadedImage protocol", st);
    bi->image_base = (u64)(UINTN)li->ImageBase;
    bi->image_size = li->ImageSize;

    bi->rsdp = (u64)(UINTN)find_rsdp();
    if (!bi->rsdp)
        efi_say("warning: the firmware provides no ACPI RSDP");

    /* AP start-up code must sit below 1 MiB, page aligned (SIPI vector = page number). */
    a = 0x9ffff;
    st = alloc_pages(AllocateMaxAddress, 2, &a);
    if (EFI_ERROR(st) || a < 0x1000)
        efi_say("warning: no memory below 1 MiB for the AP trampoline; only the boot CPU will run");
    else
        bi->trampoline = a;

    /* Page tables are loaded into CR3 by 32-bit trampoline code: keep them below 4 GiB. */
    a = 0xffffffff;
    st = alloc_pages(AllocateMaxAddress, EARLY_POOL_PAGES, &a);
    if (EFI_ERROR(st))
        fail("allocating the early pool", st);
    bi->early_pool = a;
    bi->early_pool_size = EARLY_POOL_PAGES * 4096ULL;

    st = alloc_pages(AllocateAnyPages, BOOT_STACK_PAGES, &a);
    if (EFI_ERROR(st))
        fail("allocating the boot stack", st);
    bi->boot_stack = a;
    bi->boot_stack_size = BOOT_STACK_PAGES * 4096ULL;

    efi_load_files(image, li, bi);
    read_wall_clock(bi);

    UINTN mapcap = 64 * 1024;
    st = alloc_pages(AllocateAnyPages, EFI_SIZE_TO_PAGES(mapcap), &a);
    if (EFI_ERROR(st))
        fail("allocating the memory map buffer", st);
    efi_say("leaving the firmware: exiting boot services");
    exit_boot_services(image, bi, (void *)(UINTN)a, mapcap);

    /* From here on no firmware service may be called. */
    hv_start(bi, bi->boot_stack + bi->boot_stack_size);
}
