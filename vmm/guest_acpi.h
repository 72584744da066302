/* A partition's ACPI tables, built into a caller buffer that will be guest memory
 * at `base` (ACPI 6.5 chapter 5.2): RSDP (revision 2, no RSDT), XSDT, FADT
 * (revision 6, HW_REDUCED_ACPI: no PM timer, SCI, GPE or FACS), DSDT (header plus
 * caller AML), MADT (one local APIC or x2APIC entry per vCPU, no I/O APIC, no
 * 8259s), and optionally SRAT and SLIT. The guest finds the RSDP through the PVH
 * start info (rsdp_paddr), so there is no BIOS-area scan to satisfy; the whole
 * [base, base + size) range should be an HVM_MEMMAP_ACPI range in the memory map.
 *
 * Layout: RSDP at base (16-byte aligned), then XSDT, FADT, DSDT, MADT, SRAT, SLIT,
 * each 8-byte aligned. */
#ifndef ISTHMUS_VMM_GUEST_ACPI_H
#define ISTHMUS_VMM_GUEST_ACPI_H

#include "kernel/lib/types.h"
#include "kernel/lib/gpa.h"

#define GUEST_ACPI_OEM_ID       "ISTHMS"
#define GUEST_ACPI_OEM_TABLE_ID "ISTHMUS"
#define GUEST_ACPI_CREATOR_ID   "ISTH"
#define GUEST_ACPI_LAPIC_BASE   0xfee00000u
#define GUEST_ACPI_MAX_VCPUS    1024
#define GUEST_ACPI_MAX_DOMAINS  64
#define GUEST_ACPI_MAX_MEM      64 /* memory affinity ranges */
#define GUEST_ACPI_MAX_AML      (1u << 20)
#define GUEST_ACPI_ERR_LEN      128

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
