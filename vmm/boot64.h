/* The state a Linux bzImage's 64-bit entry expects (Documentation/arch/x86/
 * boot.rst, "64-bit Boot Protocol"): long mode with paging on, an identity map
 * covering the kernel and its init_size, the zero page and the command line; a
 * GDT whose 0x10 is flat 64-bit code and 0x18 flat data, CS = 0x10 and DS = ES
 * = SS = 0x18; interrupts off; RSI = the zero page.
 *
 * The boot area (LAYOUT_BOOT64 in vmm/layout.h, reserved in the memory map)
 * holds it: page tables identity-mapping the first 4 GiB with 2 MiB pages
 * (every partition's RAM, its boot area, start info and ACPI tables lie
 * there), then one page with the GDT, a TSS (VM entry in long mode needs a
 * busy 64-bit TSS in TR), a small stack (Linux sets its own before it calls
 * anything, but a valid RSP costs nothing), and the command line. The kernel
 * replaces all of it within its first instructions. */
#ifndef ISTHMUS_VMM_BOOT64_H
#define ISTHMUS_VMM_BOOT64_H

#include "kernel/lib/types.h"
#include "kernel/lib/gpa.h"
#include "arch/x86/vcpu.h"

#define BOOT64_SEL_CS        0x10 /* __BOOT_CS */
#define BOOT64_SEL_DS        0x18 /* __BOOT_DS */
#define BOOT64_SEL_TR        0x20
#define BOOT64_GDT_ENTRIES   6 /* null, unused, code, data, TSS (two slots) */
#define BOOT64_MAPPED        GiB(4)
#define BOOT64_PD_COUNT      (BOOT64_MAPPED / GiB(1))
#define BOOT64_TABLES_SZ     ((2 + BOOT64_PD_COUNT) * PAGE_SIZE) /* PML4, PDPT, PDs */
/* Within the page after the tables. */
#define BOOT64_GDT_OFF       0x000
#define BOOT64_TSS_OFF       0x100
#define BOOT64_STACK_TOP_OFF 0x800 /* grows down towards the TSS */
#define BOOT64_CMDLINE_OFF   0x800
#define BOOT64_CMDLINE_MAX   0x800 /* bytes, NUL included: Linux's COMMAND_LINE_SIZE */
#define BOOT64_SIZE          (BOOT64_TABLES_SZ + PAGE_SIZE)

/* Writes the page tables, GDT and TSS into buf, which becomes guest memory at
 * base (page-aligned, with base + BOOT64_SIZE below 4 GiB); the command-line
 * part is left zeroed for the caller. -EINVAL on a bad base or a buffer
 * smaller than BOOT64_SIZE. */
int boot64_build(void *buf, u64 size, gpa_t base) __must_check;

/* The vCPU state for the 64-bit entry at `entry` with the zero page at
 * `zero_page`, on the tables boot64_build() wrote at base. */
void boot64_state(struct vcpu_boot_state *s, gpa_t base, u64 entry, gpa_t zero_page);

#endif
