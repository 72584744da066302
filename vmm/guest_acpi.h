/* A partition's ACPI tables, built into a caller buffer that will be guest memory
 * at `base` (ACPI 6.5 chapter 5.2): RSDP (revision 2, no RSDT), XSDT, FADT
 * (revision 6, HW_REDUCED_ACPI: no PM timer, SCI, GPE or FACS), DSDT (header plus
 * caller AML), MADT (one local APIC or x2APIC entry per vCPU, the I/O APIC of
 * vmm/dev/vioapic.c with its interrupt source override, no 8259s), and
 * optionally SRAT and SLIT. The guest finds the RSDP through the PVH
 * start info (rsdp_paddr), so there is no BIOS-area scan to satisfy; the whole
 * [base, base + size) range should be an HVM_MEMMAP_ACPI range in the memory map.
 *
 * Layout: RSDP at base (16-byte aligned), then XSDT, FADT, DSDT, MADT, SRAT, SLIT,
 * each 8-byte aligned. */
#ifndef ISTHMUS_VMM_GUEST_ACPI_H
#define ISTHMUS_VMM_GUEST_ACPI_H

#include "arch/x86/hw/pc.h"
#include "kernel/lib/types.h"
#include "kernel/lib/gpa.h"
#include "drivers/acpi/tables.h"

#define GUEST_ACPI_OEM_ID         "ISTHMS"
#define GUEST_ACPI_OEM_TABLE_ID   "ISTHMUS"
#define GUEST_ACPI_CREATOR_ID     "ISTH"
#define GUEST_ACPI_LAPIC_BASE     0xfee00000u
/* The partition's I/O APIC (vmm/dev/vioapic.c): ID 0 (as PC firmware gives
 * the first one), at IOAPIC_DEFAULT_BASE, GSIs 0-23. */
#define GUEST_ACPI_IOAPIC_ID      0
/* ISA IRQ 4 (COM1) is GSI 4, level-triggered and active high: its override
 * says so. Linux with a hardware-reduced FADT has no legacy PIC, so no ISA
 * IRQ is configured for it by default, and level triggering lets the I/O
 * APIC send the UART's interrupt again after an EOI while IIR still reports
 * one (an edge would be lost when a handler leaves with work pending, since
 * the emulated transmitter empties at once and the line never falls). */
#define GUEST_ACPI_COM1_IRQ       PC_COM1_IRQ
#define GUEST_ACPI_COM1_ISO_FLAGS (ACPI_MPS_TRIGGER_LEVEL | ACPI_MPS_POLARITY_HIGH)
#define GUEST_ACPI_MAX_VCPUS      1024
#define GUEST_ACPI_MAX_DOMAINS    64
#define GUEST_ACPI_MAX_MEM        64 /* memory affinity ranges */
#define GUEST_ACPI_MAX_AML        (1u << 20)
#define GUEST_ACPI_ERR_LEN        128

struct guest_acpi_mem_affinity {
    u64 base, length; /* length > 0, no wrap */
    u32 domain;       /* < ndomains */
};

/* SRAT (and SLIT) contents. */
struct guest_acpi_numa {
    u32 ndomains;          /* proximity domains 0 .. ndomains - 1 */
    const u32 *cpu_domain; /* [nvcpus]: vCPU i's domain */
    const struct guest_acpi_mem_affinity *mem;
    u32 nmem;
    /* ndomains x ndomains row-major SLIT distances, or NULL for no SLIT. The
     * diagonal must be 10, the rest 11..254 or 255 (unreachable). */
    const u8 *distances;
};

struct guest_acpi_config {
    const char *oem_id;       /* at most 6 characters; NULL: GUEST_ACPI_OEM_ID */
    const char *oem_table_id; /* at most 8; NULL: GUEST_ACPI_OEM_TABLE_ID */
    u32 oem_revision;
    u32 nvcpus;          /* 1 .. GUEST_ACPI_MAX_VCPUS */
    const u32 *apic_ids; /* [nvcpus], distinct, not 0xffffffff; ACPI
                                          * processor UID of vCPU i is i */
    /* DSDT body: AML appended after the header (the hook for devices later). */
    const u8 *dsdt_aml;
    u32 dsdt_aml_len;                   /* <= GUEST_ACPI_MAX_AML */
    const struct guest_acpi_numa *numa; /* NULL: no SRAT, no SLIT */
};

/* Guest-physical address of each table (0 when absent) and the bytes used. */
struct guest_acpi_layout {
    u64 size;
    u64 rsdp, xsdt, fadt, dsdt, madt, srat, slit;
};

/* Checks cfg and computes the layout at base without writing anything. */
int guest_acpi_layout(const struct guest_acpi_config *cfg, gpa_t base, struct guest_acpi_layout *out, char *err,
                      size_t errlen) __must_check;

/* Builds all tables into buf (buf_size >= layout size; the rest is zeroed).
 * -EINVAL: bad configuration or base not 16-byte aligned; -ENOSPC: buf too small;
 * with a message in err when err is not NULL. */
int guest_acpi_build(const struct guest_acpi_config *cfg, gpa_t base, void *buf, u64 buf_size,
                     struct guest_acpi_layout *out, char *err, size_t errlen) __must_check;

#endif
