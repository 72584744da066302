/* Loads the configuration file (and, once partitions exist, the images it names)
 * from the directory isthmus.efi was started from. */
#include <efi.h>

#include "kernel/core/bootinfo.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"
#include "boot/efi_stage.h"
#include "boot/efi_util.h"
#include "kernel/core/config.h"

#define CONFIG_NAME    "isthmus.toml"
#define FILE_MAX_BYTES (512ULL * 1024 * 1024)

/* The directory part of the image's file path, from the MEDIA/FILEPATH nodes of
 * its device path (UEFI 2.10, 10.3.5.4), with a trailing backslash. */
static void loader_directory(EFI_DEVICE_PATH *dp, CHAR16 *dir, size_t cap)
{
    size_t n = 0, cut = 0;
    for (int guard = 0; dp && guard < 64; guard++) {
        u16 len = (u16)(dp->Length[0] | (dp->Length[1] << 8));
        if (dp->Type == END_DEVICE_PATH_TYPE || len < 4)
            break;
        if (dp->Type == MEDIA_DEVICE_PATH && dp->SubType == MEDIA_FILEPATH_DP) {
            const CHAR16 *name = (const CHAR16 *)((const u8 *)dp + 4);
            size_t chars = (len - 4) / 2;
            if (n && dir[n - 1] != L'\\' && n + 1 < cap)
                dir[n++] = L'\\';
            for (size_t i = 0; i < chars && name[i] && n + 1 < cap; i++)
                dir[n++] = name[i] == L'/' ? L'\\' : name[i];
        }
        dp = (EFI_DEVICE_PATH *)((u8 *)dp + len);
    }
    for (size_t i = 0; i < n; i++)
        if (dir[i] == L'\\')
            cut = i + 1;
    if (cut == 0)
        dir[cut++] = L'\\';
    dir[cut] = 0;
}

/* Reads dir\name into fresh loader pages and fills f. */
static EFI_STATUS load_one(EFI_FILE_HANDLE root, const CHAR16 *dir, const char *name, struct boot_file *f)
{
    CHAR16 path[2 * BOOT_NAME_MAX];
    size_t n = 0;
    for (const CHAR16 *s = dir; *s && n + 1 < ARRAY_SIZE(path); s++)
        path[n++] = *s;
    for (const char *s = name; *s && n + 1 < ARRAY_SIZE(path); s++)
        path[n++] = *s == '/' ? L'\\' : (CHAR16)(u8)*s;
    path[n] = 0;

    EFI_FILE_HANDLE fh;
    EFI_STATUS st = root->Open(root, &fh, path, EFI_FILE_MODE_READ, 0);
    if (EFI_ERROR(st))
        return st;
    EFI_GUID info_guid = EFI_FILE_INFO_ID;
    union {
        EFI_FILE_INFO info;
        u8 raw[sizeof(EFI_FILE_INFO) + 512];
    } ib;
    UINTN isz = sizeof(ib);
    st = fh->GetInfo(fh, &info_guid, &isz, &ib);
    if (EFI_ERROR(st)) {
        fh->Close(fh);
        return st;
    }
    UINT64 size = ib.info.FileSize;
    if (size > FILE_MAX_BYTES) {
        fh->Close(fh);
        return EFI_BAD_BUFFER_SIZE;
    }
    EFI_PHYSICAL_ADDRESS a;
    /* One spare zero byte after the data lets text parsers rely on a terminator. */
    st = efi_bs->AllocatePages(AllocateAnyPages, EfiLoaderData, EFI_SIZE_TO_PAGES(size + 1), &a);
    if (EFI_ERROR(st)) {
        fh->Close(fh);
        return st;
    }
    UINTN rd = size;
    st = fh->Read(fh, &rd, (void *)(UINTN)a);
    fh->Close(fh);
    if (EFI_ERROR(st) || rd != size) {
        efi_bs->FreePages(a, EFI_SIZE_TO_PAGES(size + 1));
        return EFI_ERROR(st) ? st : EFI_DEVICE_ERROR;
    }
    ((u8 *)(UINTN)a)[size] = 0;
    f->addr = a;
    f->size = size;
    f->error[0] = '\0';
    kstrlcpy(f->name, name, sizeof(f->name));
    return EFI_SUCCESS;
}

/* Reads one file the configuration names, unless already read or "". A file
 * that cannot be read is recorded with its error for the hypervisor to report. */
static void load_named(EFI_FILE_HANDLE root, const CHAR16 *dir, struct boot_info *bi, const char *name)
{
    bool seen = !name[0];
    for (u32 f = 0; f < bi->nfiles && !seen; f++)
        seen = !strcmp(bi->files[f].name, name);
    if (seen)
        return;
    if (bi->nfiles >= BOOT_MAX_FILES) {
        efi_say("warning: more than %d files named in the configuration; %s not read", BOOT_MAX_FILES, name);
        return;
    }
    struct boot_file *f = &bi->files[bi->nfiles++];
    EFI_STATUS st = load_one(root, dir, name, f);
    if (EFI_ERROR(st)) {
        kstrlcpy(f->name, name, sizeof(f->name));
        f->addr = 0;
        f->size = 0;
        kstrlcpy(f->error, efi_status_str(st), sizeof(f->error));
        efi_say("cannot read %s%s: %s", bi->loader_dir, name, f->error);
    } else {
        efi_say("read %s%s (%llu bytes)", bi->loader_dir, name, (unsigned long long)f->size);
    }
}

/* Every kernel and initrd the configuration names (the partitions' and the
 * failover groups' standby images), each read once. */
static void load_partition_files(EFI_FILE_HANDLE root, const CHAR16 *dir, struct boot_info *bi)
{
    static struct isthmus_config cfg; /* too big for the firmware's stack */
    static struct config_diag diag;
    if (config_parse((const char *)(UINTN)bi->config.addr, bi->config.size, &cfg, &diag) < 0)
        return; /* the hypervisor reports the errors; a bad file starts nothing */
    for (u32 i = 0; i < cfg.npartitions; i++) {
        load_named(root, dir, bi, cfg.partition[i].kernel);
        load_named(root, dir, bi, cfg.partition[i].initrd);
    }
    for (u32 i = 0; i < cfg.ngroups; i++) {
        load_named(root, dir, bi, cfg.group[i].standby_kernel);
        load_named(root, dir, bi, cfg.group[i].standby_initrd);
    }
}

void efi_load_files(void *image_handle, void *loaded_image, struct boot_info *bi)
{
    EFI_LOADED_IMAGE *li = loaded_image;
    (void)image_handle;
    CHAR16 dir[BOOT_NAME_MAX];
    loader_directory(li->FilePath, dir, ARRAY_SIZE(dir));
    size_t i = 0;
    for (; dir[i] && i + 1 < sizeof(bi->loader_dir); i++)
        bi->loader_dir[i] = dir[i] < 0x80 ? (char)dir[i] : '?';
    bi->loader_dir[i] = '\0';

    EFI_GUID fs_guid = EFI_SIMPLE_FILE_SYSTEM_PROTOCOL_GUID;
    EFI_SIMPLE_FILE_SYSTEM_PROTOCOL *fs = NULL;
    EFI_FILE_HANDLE root = NULL;
    EFI_STATUS st = efi_bs->HandleProtocol(li->DeviceHandle, &fs_guid, (void **)&fs);
    if (!EFI_ERROR(st))
        st = fs->OpenVolume(fs, &root);
    if (EFI_ERROR(st)) {
        ksnprintf(bi->config_error, sizeof(bi->config_error), "cannot open the boot volume to read %s: %s", CONFIG_NAME,
                  efi_status_str(st));
        return;
    }
    st = load_one(root, dir, CONFIG_NAME, &bi->config);
    if (EFI_ERROR(st))
        ksnprintf(bi->config_error, sizeof(bi->config_error), "cannot read %s%s: %s", bi->loader_dir, CONFIG_NAME,
                  efi_status_str(st));
    else
        efi_say("read %s%s (%llu bytes)", bi->loader_dir, CONFIG_NAME, (unsigned long long)bi->config.size);
    if (!EFI_ERROR(st))
        load_partition_files(root, dir, bi);
    root->Close(root);
}
