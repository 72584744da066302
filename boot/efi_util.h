/* Minimal helpers over raw UEFI services for the EFI stage. Isthmus links no
 * GNU-EFI library code except the self-relocator (libgnuefi's _relocate). */
#ifndef ISTHMUS_BOOT_EFI_UTIL_H
#define ISTHMUS_BOOT_EFI_UTIL_H

#include <efi.h>
#include "kernel/lib/types.h"

extern EFI_SYSTEM_TABLE *efi_st;
extern EFI_BOOT_SERVICES *efi_bs;
extern EFI_HANDLE efi_image;

/* Prints "isthmus: <formatted text>\r\n" on the firmware console (ASCII only). */
void efi_say(const char *fmt, ...) __printf(1, 2);
const char *efi_status_str(EFI_STATUS st);
bool efi_guid_eq(const EFI_GUID *a, const EFI_GUID *b);

#endif
