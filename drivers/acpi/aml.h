/* A declaration-level AML scanner (not an interpreter): walks DSDT/SSDT byte streams
 * for Device objects, their Name(_HID/_CID/_UID/_BBN/_SEG/_PXM) values, and
 * Name(\_S5_, Package(){...}). Method bodies and conditional blocks are skipped by
 * their PkgLength. Every read is bounded by the table; see docs/acpi.md for what is
 * not understood. */
#ifndef ISTHMUS_DRIVERS_ACPI_AML_H
#define ISTHMUS_DRIVERS_ACPI_AML_H

#include "drivers/acpi/acpi.h"

#define AML_MAX_DEPTH   16  /* name segments in a path */
#define AML_MAX_NEST    16  /* nested Scope/Device/Processor/ThermalZone bodies */
#define AML_MAX_EXPR    24  /* nested expression operands */
#define AML_MAX_METHODS 256 /* remembered Method/External argument counts */
#define AML_MAX_FACTS   32  /* bridge names declared in Scope() bodies, applied at the end */

/* A _PXM/_BBN/_SEG/_UID declared outside its device's own body, e.g. in an SSDT's
 * Scope(\_SB.PC80) { Name(_PXM, 1) }. */
struct aml_fact {
    u32 parent_hash;
    u8 kind;
    bool is_method;
    u64 value;
};

struct aml_scanner {
    struct acpi_info *out;
    const u8 *table; /* the table being scanned, for offsets in messages */
    char sig[5];
    bool int64; /* DSDT revision >= 2: integers are 64-bit */
    u32 nest, expr;
    u32 depth; /* current scope: path[0..depth) */
    u32 path[AML_MAX_DEPTH];
    u32 nmethods;
    u32 method_hash[AML_MAX_METHODS];
    u8 method_argc[AML_MAX_METHODS];
    u32 nfacts;
    struct aml_fact facts[AML_MAX_FACTS];
    u32 warnings;
};

void aml_scan_init(struct aml_scanner *s, struct acpi_info *out);
/* Scans one whole DSDT or SSDT (header included; len already validated). */
void aml_scan_table(struct aml_scanner *s, const void *table, u32 len);
/* Applies Scope()-declared facts to the host bridges found and totals the counts. */
void aml_scan_finish(struct aml_scanner *s);

#endif
