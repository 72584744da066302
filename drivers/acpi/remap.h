/* Helpers the DMAR and IVRS parsers share; not for use outside drivers/acpi/. */
#ifndef ISTHMUS_DRIVERS_ACPI_REMAP_H
#define ISTHMUS_DRIVERS_ACPI_REMAP_H

#include "drivers/acpi/internal.h"

#include <stdarg.h>

/* What one table added, so that a table found malformed part-way can take it
 * all back. */
struct remap_tx {
    struct acpi_info *out;
    const char *sig;
    char *error; /* the table's error string in out->iommu */
    u32 units0, scopes0, regions0;
};

void remap_begin(struct remap_tx *tx, struct acpi_info *out, const char *sig, char *error);
/* Drops every unit, scope and region the table added, keeps the reason and logs
 * it. Returns -EINVAL, for the parser to return. */
int remap_abort(struct remap_tx *tx, const char *fmt, ...) __printf(2, 3) __must_check;

/* A new unit (usable until remap_unit_bad), or NULL when ACPI_MAX_IOMMUS are in use. */
struct acpi_iommu_unit *remap_new_unit(struct acpi_info *out, u8 vendor, u32 table_off) __must_check;
u32 remap_unit_index(const struct acpi_info *out, const struct acpi_iommu_unit *u);
/* Marks the unit as not used (the first reason is kept and logged);
 * scopes_lost says some of its scopes could not be read. */
void remap_unit_bad(struct acpi_info *out, struct acpi_iommu_unit *u, bool scopes_lost, const char *fmt, ...)
    __printf(4, 5);
/* A new zeroed scope, or NULL when ACPI_MAX_IOMMU_SCOPES are in use. */
struct acpi_iommu_scope *remap_new_scope(struct acpi_info *out, u8 kind, bool in_region, u32 owner) __must_check;
/* A new region, or NULL (counted and warned once) when the cap is reached. */
struct acpi_iommu_region *remap_new_region(struct acpi_info *out, u8 kind) __must_check;

/* Units from index `first` on against every earlier one: a shared register base,
 * two "all devices" units on a segment, or a device named by two units make the
 * later unit not used. */
void remap_check_units(struct acpi_info *out, u32 first);

#endif
