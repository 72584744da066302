/* Helpers shared by the ACPI parsers; not for use outside drivers/acpi/. */
#ifndef ISTHMUS_DRIVERS_ACPI_INTERNAL_H
#define ISTHMUS_DRIVERS_ACPI_INTERNAL_H

#include "drivers/acpi/acpi.h"
#include "drivers/acpi/tables.h"
#include "kernel/core/log.h"

#define ACPI_TAG "acpi"

/* mem->map() with the range checked for wrap-around and zero length. */
const void *acpi_mem_map(const struct acpi_mem *mem, u64 pa, u64 len);

/* Copies a fixed-width, possibly unterminated firmware string of n bytes into
 * dst[n + 1], stopping at a NUL and replacing non-printable bytes with '?'. */
void acpi_copy_id(char *dst, const void *src, size_t n);

/* Walks RSDP -> XSDT (or RSDT) and lists every table in out->tables. */
int acpi_discover(const struct acpi_mem *mem, u64 rsdp_pa, struct acpi_info *out) __must_check;

/* Lists the table at pa (checking header, length, checksum and, when expect is not
 * NULL, its signature); returns its entry, or NULL when the list is full. A table
 * already listed at the same address is returned as is. */
const struct acpi_table_desc *acpi_add_table(const struct acpi_mem *mem, struct acpi_info *out, u64 pa,
                                             const char *expect);
/* Same for the FACS, which has neither a standard header nor a checksum. */
const struct acpi_table_desc *acpi_add_facs(const struct acpi_mem *mem, struct acpi_info *out, u64 pa);

/* Walks the type/length subtables of a MADT or SRAT from offset `start` to `len`,
 * calling fn for each one that lies wholly inside the table. A subtable of length
 * < 2 (which would loop forever) or one running past the end stops the walk with a
 * warning naming `sig` and the offset. Returns the number of such problems (0/1). */
u32 acpi_walk_subtables(const char *sig, const void *tbl, u32 len, u32 start,
                        void (*fn)(const struct acpi_subtable *h, void *arg), void *arg);

/* Unaligned little-endian reads from table bytes. */
static inline u16 acpi_rd16(const u8 *p) { return (u16)(p[0] | (p[1] << 8)); }
static inline u32 acpi_rd32(const u8 *p)
{
    return (u32)p[0] | ((u32)p[1] << 8) | ((u32)p[2] << 16) | ((u32)p[3] << 24);
}
static inline u64 acpi_rd64(const u8 *p) { return acpi_rd32(p) | ((u64)acpi_rd32(p + 4) << 32); }

#endif
