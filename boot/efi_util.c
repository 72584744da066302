/* See efi_util.h. */
#include "boot/efi_util.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

EFI_SYSTEM_TABLE *efi_st;
EFI_BOOT_SERVICES *efi_bs;
EFI_HANDLE efi_image;

void efi_say(const char *fmt, ...)
{
    char buf[256];
    CHAR16 wide[300];
    va_list ap;
    va_start(ap, fmt);
    int n = kvsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t w = 0;
    for (const char *p = "isthmus: "; *p; p++)
        wide[w++] = (CHAR16)*p;
    for (size_t i = 0; buf[i] && w + 3 < ARRAY_SIZE(wide); i++)
        wide[w++] = (CHAR16)(u8)buf[i];
    wide[w++] = L'\r';
    wide[w++] = L'\n';
    wide[w] = 0;
    efi_st->ConOut->OutputString(efi_st->ConOut, wide);
}

const char *efi_status_str(EFI_STATUS st)
{
    switch (st) {
    case EFI_SUCCESS: return "success";
    case EFI_LOAD_ERROR: return "load error";
    case EFI_INVALID_PARAMETER: return "invalid parameter";
    case EFI_UNSUPPORTED: return "unsupported";
    case EFI_BAD_BUFFER_SIZE: return "too large";
    case EFI_BUFFER_TOO_SMALL: return "buffer too small";
    case EFI_DEVICE_ERROR: return "device error";
    case EFI_OUT_OF_RESOURCES: return "out of resources";
    case EFI_NOT_FOUND: return "not found";
    case EFI_ACCESS_DENIED: return "access denied";
    default: return "error";
    }
}

bool efi_guid_eq(const EFI_GUID *a, const EFI_GUID *b) { return memcmp(a, b, sizeof(*a)) == 0; }
