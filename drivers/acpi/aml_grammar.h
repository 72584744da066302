/* The AML byte grammar the scanner needs (ACPI 6.5 chapter 20): a bounded cursor,
 * PkgLength, NameString, name resolution and hashing, data objects, and skipping a
 * whole term by its operand formats. Internal to drivers/acpi/aml*.c. */
#ifndef ISTHMUS_DRIVERS_ACPI_AML_GRAMMAR_H
#define ISTHMUS_DRIVERS_ACPI_AML_GRAMMAR_H

#include "drivers/acpi/aml.h"
#include "drivers/acpi/internal.h"

enum {
    AML_ZERO = 0x00,
    AML_ONE = 0x01,
    AML_NAME = 0x08,
    AML_BYTE = 0x0a,
    AML_WORD = 0x0b,
    AML_DWORD = 0x0c,
    AML_STRING = 0x0d,
    AML_QWORD = 0x0e,
    AML_SCOPE = 0x10,
    AML_PACKAGE = 0x12,
    AML_METHOD = 0x14,
    AML_EXTERNAL = 0x15,
    AML_DUAL_PREFIX = 0x2e,
    AML_MULTI_PREFIX = 0x2f,
    AML_EXT = 0x5b,
    AML_ROOT = 0x5c,
    AML_PARENT = 0x5e,
    AML_LOCAL0 = 0x60,
    AML_ARG6 = 0x6e,
    AML_IF = 0xa0,
    AML_ELSE = 0xa1,
    AML_WHILE = 0xa2,
    AML_ONES = 0xff,
};

/* Second byte after AML_EXT. */
enum {
    AML_X_LOADTABLE = 0x1f,
    AML_X_LOAD = 0x20,
    AML_X_DEBUG = 0x31,
    AML_X_DEVICE = 0x82,
    AML_X_PROCESSOR = 0x83,
    AML_X_POWERRES = 0x84,
    AML_X_THERMALZONE = 0x85,
};

#define AML_OBJTYPE_METHOD 8

/* A cursor over table bytes: every read checks it against `end`. */
struct cur {
    const u8 *p, *end; /* p <= end always */
};

static inline size_t left(const struct cur *c) { return (size_t)(c->end - c->p); }

static inline bool take(struct cur *c, size_t n)
{
    if (left(c) < n)
        return false;
    c->p += n;
    return true;
}

static inline bool get8(struct cur *c, u8 *v)
{
    if (!left(c))
        return false;
    *v = *c->p++;
    return true;
}

/* A parsed NameString; its segments stay in the table (4 bytes each at segs). */
struct aml_name {
    bool root;
    u32 up; /* '^' prefixes */
    u32 nsegs;
    const u8 *segs;
};

static inline u32 name_seg(const struct aml_name *n, u32 i) { return acpi_rd32(n->segs + 4 * i); }

#define AML_SEG(a, b, c, d) ((u32)(a) | (u32)(b) << 8 | (u32)(c) << 16 | (u32)(d) << 24)

static inline bool lead_char(u8 ch) { return (ch >= 'A' && ch <= 'Z') || ch == '_'; }
static inline bool name_char(u8 ch) { return lead_char(ch) || (ch >= '0' && ch <= '9'); }
static inline bool name_start(u8 ch)
{
    return lead_char(ch) || ch == AML_ROOT || ch == AML_PARENT || ch == AML_DUAL_PREFIX || ch == AML_MULTI_PREFIX;
}

#define AML_HASH_BASIS 2166136261u

/* 20.2.4 PkgLength: on success *end is the package's end, never beyond c->end. */
bool aml_get_pkglen(struct cur *c, const u8 **end);
bool aml_skip_pkg(struct cur *c);
/* 20.2.2 NameString; n may be NULL to skip it. */
bool aml_get_name(struct cur *c, struct aml_name *n);
/* The absolute path of n relative to the scanner's current scope. */
bool aml_resolve(const struct aml_scanner *s, const struct aml_name *n, u32 segs[AML_MAX_DEPTH], u32 *depth);
u32 aml_hash_seg(u32 h, u32 seg);
u32 aml_path_hash(const u32 *segs, u32 depth);
void aml_render_path(const u32 *segs, u32 depth, char *out, size_t size);
/* Remembers a Method's (or External's) argument count for skipping its calls. */
void aml_method_add(struct aml_scanner *s, u32 hash, u8 argc);
/* Skips one TermObj/TermArg; false when it is malformed or unknown. */
bool aml_skip_term(struct aml_scanner *s, struct cur *c);
/* DataRefObject: a data object, or a name that is a reference (never a call). */
bool aml_skip_dataref(struct aml_scanner *s, struct cur *c);
/* An integer data object (Zero/One/Ones/Byte/Word/DWord/QWordConst). */
bool aml_parse_int(const struct aml_scanner *s, struct cur v, u64 *out);
/* A String data object, copied (truncated, non-printables as '?') into buf. */
bool aml_parse_str(struct cur v, char *buf, size_t size);

#endif
