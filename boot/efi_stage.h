/* Interfaces between the pieces of the EFI boot stage. */
#ifndef ISTHMUS_BOOT_EFI_STAGE_H
#define ISTHMUS_BOOT_EFI_STAGE_H

#include "kernel/core/bootinfo.h"

/* Reads isthmus.toml and the files it names from the directory isthmus.efi was
 * loaded from into loader pages, recording them in bi. Never fails the boot:
 * problems are recorded in bi->config_error for the hypervisor to report. */
void efi_load_files(void *image_handle, void *loaded_image, struct boot_info *bi);

/* arch/x86/entry.asm: switches to the given stack and calls hv_main(bi). */
__noreturn void hv_start(struct boot_info *bi, u64 stack_top);

#endif
