/* Declaration-level AML scan (ACPI 6.5 chapter 20 grammar) for PCI host bridges and
 * \_S5. The scanner walks TermLists of the table, Scope, Device, Processor,
 * ThermalZone and PowerResource bodies; it never executes anything. Method bodies,
 * If/Else/While blocks, Buffers, Packages and Fields are skipped whole by their
 * PkgLength; other statements and their operands are skipped by an opcode table.
 * Every read goes through a cursor bounded by the enclosing package, so hostile AML
 * can only make the scan give up on a scope, never read outside the table. */
#include "drivers/acpi/aml.h"
#include "drivers/acpi/internal.h"
#include "kernel/string.h"

/* Keeps big locals out of the recursive walkers' frames (docs/acpi.md: stack use). */
#define __noinline __attribute__((noinline))

enum {
    AML_ZERO = 0x00, AML_ONE = 0x01, AML_NAME = 0x08,
    AML_BYTE = 0x0a, AML_WORD = 0x0b, AML_DWORD = 0x0c, AML_STRING = 0x0d, AML_QWORD = 0x0e,
    AML_SCOPE = 0x10, AML_PACKAGE = 0x12, AML_METHOD = 0x14, AML_EXTERNAL = 0x15,
    AML_DUAL_PREFIX = 0x2e, AML_MULTI_PREFIX = 0x2f,
    AML_EXT = 0x5b, AML_ROOT = 0x5c, AML_PARENT = 0x5e,
    AML_LOCAL0 = 0x60, AML_ARG6 = 0x6e,
    AML_IF = 0xa0, AML_ELSE = 0xa1, AML_WHILE = 0xa2,
    AML_ONES = 0xff,
};

/* Second byte after AML_EXT. */
enum {
    AML_X_LOADTABLE = 0x1f, AML_X_LOAD = 0x20, AML_X_DEBUG = 0x31,
    AML_X_DEVICE = 0x82, AML_X_PROCESSOR = 0x83, AML_X_POWERRES = 0x84,
    AML_X_THERMALZONE = 0x85,
};

#define AML_OBJTYPE_METHOD 8

/* Operand formats (20.2.5): T TermArg, S SuperName, R Target (SuperName or NullName),
 * N NameString, D DataRefObject, b/w/d 1/2/4 raw bytes, P a PkgLength that encloses
 * everything else. "" = no operands. NULL = unknown opcode. */
static const char *const op1_args[256] = {
    [0x06] = "NN",    /* Alias */
    [0x08] = "ND",    /* Name */
    [0x10] = "P",     /* Scope */
    [0x11] = "P",     /* Buffer */
    [0x12] = "P",     /* Package */
    [0x13] = "P",     /* VarPackage */
    [0x14] = "P",     /* Method */
    [0x15] = "Nbb",   /* External */
    [0x70] = "TS",    /* Store */
    [0x71] = "S",     /* RefOf */
    [0x72] = "TTR",   /* Add */
    [0x73] = "TTR",   /* Concat */
    [0x74] = "TTR",   /* Subtract */
    [0x75] = "S",     /* Increment */
    [0x76] = "S",     /* Decrement */
    [0x77] = "TTR",   /* Multiply */
    [0x78] = "TTRR",  /* Divide */
    [0x79] = "TTR",   /* ShiftLeft */
    [0x7a] = "TTR",   /* ShiftRight */
    [0x7b] = "TTR",   /* And */
    [0x7c] = "TTR",   /* NAnd */
    [0x7d] = "TTR",   /* Or */
    [0x7e] = "TTR",   /* NOr */
    [0x7f] = "TTR",   /* XOr */
    [0x80] = "TR",    /* Not */
    [0x81] = "TR",    /* FindSetLeftBit */
    [0x82] = "TR",    /* FindSetRightBit */
    [0x83] = "T",     /* DerefOf */
    [0x84] = "TTR",   /* ConcatRes */
    [0x85] = "TTR",   /* Mod */
    [0x86] = "ST",    /* Notify */
    [0x87] = "S",     /* SizeOf */
    [0x88] = "TTR",   /* Index */
    [0x89] = "TbTbTT", /* Match */
    [0x8a] = "TTN",   /* CreateDWordField */
    [0x8b] = "TTN",   /* CreateWordField */
    [0x8c] = "TTN",   /* CreateByteField */
    [0x8d] = "TTN",   /* CreateBitField */
    [0x8e] = "S",     /* ObjectType */
    [0x8f] = "TTN",   /* CreateQWordField */
    [0x90] = "TT",    /* LAnd */
    [0x91] = "TT",    /* LOr */
    [0x92] = "T",     /* LNot (LNotEqual etc. are LNot applied to LEqual etc.) */
    [0x93] = "TT",    /* LEqual */
    [0x94] = "TT",    /* LGreater */
    [0x95] = "TT",    /* LLess */
    [0x96] = "TR",    /* ToBuffer */
    [0x97] = "TR",    /* ToDecimalString */
    [0x98] = "TR",    /* ToHexString */
    [0x99] = "TR",    /* ToInteger */
    [0x9c] = "TTR",   /* ToString */
    [0x9d] = "TS",    /* CopyObject */
    [0x9e] = "TTTR",  /* Mid */
    [0x9f] = "",      /* Continue */
    [0xa0] = "P",     /* If */
    [0xa1] = "P",     /* Else */
    [0xa2] = "P",     /* While */
    [0xa3] = "",      /* Noop */
    [0xa4] = "T",     /* Return */
    [0xa5] = "",      /* Break */
    [0xcc] = "",      /* BreakPoint */
};

static const char *const op2_args[256] = {
    [0x01] = "Nb",    /* Mutex */
    [0x02] = "N",     /* Event */
    [0x12] = "SR",    /* CondRefOf */
    [0x13] = "TTTN",  /* CreateField */
    [0x1f] = "TTTTTT", /* LoadTable */
    [0x20] = "NS",    /* Load */
    [0x21] = "T",     /* Stall */
    [0x22] = "T",     /* Sleep */
    [0x23] = "Sw",    /* Acquire */
    [0x24] = "S",     /* Signal */
    [0x25] = "ST",    /* Wait */
    [0x26] = "S",     /* Reset */
    [0x27] = "S",     /* Release */
    [0x28] = "TR",    /* FromBCD */
    [0x29] = "TR",    /* ToBCD */
    [0x2a] = "S",     /* Unload */
    [0x30] = "",      /* Revision */
    [0x31] = "",      /* Debug */
    [0x32] = "bdT",   /* Fatal */
    [0x33] = "",      /* Timer */
    [0x80] = "NbTT",  /* OperationRegion */
    [0x81] = "P",     /* Field */
    [0x82] = "P",     /* Device */
    [0x83] = "P",     /* Processor */
    [0x84] = "P",     /* PowerResource */
    [0x85] = "P",     /* ThermalZone */
    [0x86] = "P",     /* IndexField */
    [0x87] = "P",     /* BankField */
    [0x88] = "NTTT",  /* DataRegion */
};

/* ---------------------------------------------------------------- cursor */

struct cur {
    const u8 *p, *end;          /* p <= end always */
};

static inline size_t left(const struct cur *c) { return (size_t)(c->end - c->p); }

static bool take(struct cur *c, size_t n)
{
    if (left(c) < n)
        return false;
    c->p += n;
    return true;
}

static bool get8(struct cur *c, u8 *v)
{
    if (!left(c))
        return false;
    *v = *c->p++;
    return true;
}

/* 20.2.4 PkgLength: counts its own bytes but not the opcode. On success *end is the
 * package's end, never beyond c->end. */
static bool get_pkglen(struct cur *c, const u8 **end)
{
    const u8 *start = c->p;
    u8 lead;
    if (!get8(c, &lead))
        return false;
    u32 extra = lead >> 6;
    u32 len = extra ? (lead & 0x0fu) : (lead & 0x3fu);
    for (u32 i = 0; i < extra; i++) {
        u8 b;
        if (!get8(c, &b))
            return false;
        len |= (u32)b << (4 + 8 * i);
    }
    if (len < extra + 1 || len > (size_t)(c->end - start))
        return false;
    *end = start + len;
    return true;
}

static bool skip_pkg(struct cur *c)
{
    const u8 *end;
    if (!get_pkglen(c, &end))
        return false;
    c->p = end;
    return true;
}

/* ---------------------------------------------------------------- names */

/* A parsed NameString; its segments stay in the table (4 bytes each at segs). */
struct aml_name {
    bool root;
    u32 up;                     /* '^' prefixes */
    u32 nsegs;
    const u8 *segs;
};

static inline u32 name_seg(const struct aml_name *n, u32 i) { return acpi_rd32(n->segs + 4 * i); }

#define SEG(a, b, c, d) ((u32)(a) | (u32)(b) << 8 | (u32)(c) << 16 | (u32)(d) << 24)

static bool lead_char(u8 ch) { return (ch >= 'A' && ch <= 'Z') || ch == '_'; }
static bool name_char(u8 ch) { return lead_char(ch) || (ch >= '0' && ch <= '9'); }
static bool name_start(u8 ch)
{
    return lead_char(ch) || ch == AML_ROOT || ch == AML_PARENT || ch == AML_DUAL_PREFIX ||
           ch == AML_MULTI_PREFIX;
}

/* 20.2.2 NameString. n may be NULL to skip the name. */
static bool get_name(struct cur *c, struct aml_name *n)
{
    bool root = false;
    u32 up = 0, count;

    if (!left(c))
        return false;
    if (*c->p == AML_ROOT) {
        root = true;
        c->p++;
    } else {
        while (left(c) && *c->p == AML_PARENT) {
            up++;
            c->p++;
        }
    }
    if (!left(c))
        return false;
    if (*c->p == 0) {                       /* NullName */
        c->p++;
        count = 0;
    } else if (*c->p == AML_DUAL_PREFIX) {
        c->p++;
        count = 2;
    } else if (*c->p == AML_MULTI_PREFIX) {
        u8 k;
        c->p++;
        if (!get8(c, &k) || k == 0)
            return false;
        count = k;
    } else {
        count = 1;
    }
    if (n) {
        n->root = root;
        n->up = up;
        n->nsegs = count;
        n->segs = c->p;
    }
    for (u32 i = 0; i < count; i++) {
        if (left(c) < 4 || !lead_char(c->p[0]) || !name_char(c->p[1]) ||
            !name_char(c->p[2]) || !name_char(c->p[3]))
            return false;
        c->p += 4;
    }
    return true;
}

/* The absolute path of n declared in the current scope (20.2.2: prefixes apply to
 * the current scope; declarations never search upwards). */
static bool resolve(const struct aml_scanner *s, const struct aml_name *n, u32 segs[AML_MAX_DEPTH],
                    u32 *depth)
{
    u32 base;
    if (n->root) {
        base = 0;
    } else {
        if (n->up > s->depth)
            return false;
        base = s->depth - n->up;
    }
    if (base + n->nsegs > AML_MAX_DEPTH)
        return false;
    for (u32 i = 0; i < base; i++)
        segs[i] = s->path[i];
    for (u32 i = 0; i < n->nsegs; i++)
        segs[base + i] = name_seg(n, i);
    *depth = base + n->nsegs;
    return true;
}

#define HASH_BASIS 2166136261u

static u32 hash_seg(u32 h, u32 seg)
{
    for (u32 i = 0; i < 4; i++) {
        h ^= (seg >> (8 * i)) & 0xff;
        h *= 16777619u;
    }
    return h;
}

static u32 path_hash(const u32 *segs, u32 depth)
{
    u32 h = HASH_BASIS;
    for (u32 i = 0; i < depth; i++)
        h = hash_seg(h, segs[i]);
    return h;
}

static void render_path(const u32 *segs, u32 depth, char *out, size_t size)
{
    size_t k = 0;
    if (size < 2)
        return;
    out[k++] = '\\';
    for (u32 i = 0; i < depth && k + 6 <= size; i++) {
        if (i)
            out[k++] = '.';
        for (u32 j = 0; j < 4; j++)
            out[k++] = (char)((segs[i] >> (8 * j)) & 0xff);
    }
    out[k] = '\0';
}

/* ---------------------------------------------------------------- methods */

static void method_add(struct aml_scanner *s, u32 hash, u8 argc)
{
    for (u32 i = 0; i < s->nmethods; i++) {
        if (s->method_hash[i] == hash) {
            s->method_argc[i] = argc;
            return;
        }
    }
    if (s->nmethods < AML_MAX_METHODS) {
        s->method_hash[s->nmethods] = hash;
        s->method_argc[s->nmethods++] = argc;
    }
}

static int method_find(const struct aml_scanner *s, u32 hash)
{
    for (u32 i = 0; i < s->nmethods; i++)
        if (s->method_hash[i] == hash)
            return s->method_argc[i];
    return -1;
}

/* How many operands follow a name used as a TermArg: a method invocation takes its
 * declared argument count (5.3 search rules for single-segment names). Names of
 * methods never declared so far are taken as plain object references. */
static __noinline u32 call_argc(const struct aml_scanner *s, const struct aml_name *n)
{
    int argc = -1;
    if (!n->root && n->up == 0 && n->nsegs == 1) {
        u32 prefix[AML_MAX_DEPTH + 1];
        prefix[0] = HASH_BASIS;
        for (u32 i = 0; i < s->depth; i++)
            prefix[i + 1] = hash_seg(prefix[i], s->path[i]);
        for (u32 k = s->depth + 1; k-- > 0 && argc < 0;)
            argc = method_find(s, hash_seg(prefix[k], name_seg(n, 0)));
    } else {
        u32 segs[AML_MAX_DEPTH], depth;
        if (resolve(s, n, segs, &depth))
            argc = method_find(s, path_hash(segs, depth));
    }
    return argc < 0 ? 0 : (u32)argc;
}

/* ---------------------------------------------------------------- skipping */

static bool skip_term(struct aml_scanner *s, struct cur *c);

static bool skip_string(struct cur *c)
{
    c->p++;                                 /* StringPrefix */
    while (left(c) && *c->p)
        c->p++;
    return take(c, 1);
}

static bool skip_supername(struct aml_scanner *s, struct cur *c)
{
    if (!left(c))
        return false;
    u8 op = *c->p;
    if (name_start(op))
        return get_name(c, NULL);
    if (op >= AML_LOCAL0 && op <= AML_ARG6)
        return take(c, 1);
    if (op == AML_EXT && left(c) >= 2 && c->p[1] == AML_X_DEBUG)
        return take(c, 2);
    return skip_term(s, c);
}

/* DataRefObject: a data object, or a name that is a reference (never a call). */
static bool skip_dataref(struct aml_scanner *s, struct cur *c)
{
    if (left(c) && name_start(*c->p))
        return get_name(c, NULL);
    return skip_term(s, c);
}

static bool skip_args(struct aml_scanner *s, struct cur *c, const char *fmt)
{
    for (; *fmt; fmt++) {
        bool ok = false;
        switch (*fmt) {
        case 'P': return skip_pkg(c);
        case 'T': ok = skip_term(s, c); break;
        case 'S': ok = skip_supername(s, c); break;
        case 'R':
            if (left(c) && *c->p == 0)
                ok = take(c, 1);
            else
                ok = skip_supername(s, c);
            break;
        case 'N': ok = get_name(c, NULL); break;
        case 'D': ok = skip_dataref(s, c); break;
        case 'b': ok = take(c, 1); break;
        case 'w': ok = take(c, 2); break;
        case 'd': ok = take(c, 4); break;
        }
        if (!ok)
            return false;
    }
    return true;
}

static bool skip_term_inner(struct aml_scanner *s, struct cur *c)
{
    u8 op = *c->p;
    const char *fmt;

    if (name_start(op)) {
        struct aml_name n;
        if (!get_name(c, &n))
            return false;
        u32 argc = call_argc(s, &n);
        for (u32 i = 0; i < argc; i++)
            if (!skip_term(s, c))
                return false;
        return true;
    }
    switch (op) {
    case AML_ZERO: case AML_ONE: case AML_ONES: return take(c, 1);
    case AML_BYTE: return take(c, 2);
    case AML_WORD: return take(c, 3);
    case AML_DWORD: return take(c, 5);
    case AML_QWORD: return take(c, 9);
    case AML_STRING: return skip_string(c);
    }
    if (op >= AML_LOCAL0 && op <= AML_ARG6)
        return take(c, 1);
    if (op == AML_EXT) {
        if (left(c) < 2 || !(fmt = op2_args[c->p[1]]))
            return false;
        c->p += 2;
    } else {
        if (!(fmt = op1_args[op]))
            return false;
        c->p += 1;
    }
    return skip_args(s, c, fmt);
}

/* Skips one TermObj/TermArg; false when it is malformed or unknown. */
static bool skip_term(struct aml_scanner *s, struct cur *c)
{
    if (!left(c) || s->expr >= AML_MAX_EXPR)
        return false;
    s->expr++;
    bool ok = skip_term_inner(s, c);
    s->expr--;
    return ok;
}

/* ---------------------------------------------------------------- values */

static bool parse_int(const struct aml_scanner *s, struct cur v, u64 *out)
{
    u8 op;
    u64 x = 0;
    size_t n = 0;
    if (!get8(&v, &op))
        return false;
    switch (op) {
    case AML_ZERO: x = 0; break;
    case AML_ONE: x = 1; break;
    case AML_ONES: x = ~0ULL; break;
    case AML_BYTE: n = 1; break;
    case AML_WORD: n = 2; break;
    case AML_DWORD: n = 4; break;
    case AML_QWORD: n = 8; break;
    default: return false;
    }
    if (left(&v) < n)
        return false;
    for (size_t i = 0; i < n; i++)
        x |= (u64)v.p[i] << (8 * i);
    if (!s->int64)
        x &= 0xffffffffULL;
    *out = x;
    return true;
}

static bool parse_str(struct cur v, char *buf, size_t size)
{
    u8 op;
    size_t k = 0;
    if (!get8(&v, &op) || op != AML_STRING)
        return false;
    while (left(&v) && *v.p) {
        if (k + 1 < size)
            buf[k++] = (char)(*v.p >= 0x20 && *v.p < 0x7f ? *v.p : '?');
        v.p++;
    }
    buf[k] = '\0';
    return true;
}

enum id_class { ID_BAD = -1, ID_OTHER = 0, ID_PCI, ID_PCIE };

/* An _HID/_CID element: EISAID integer or string. */
static enum id_class classify_id(const struct aml_scanner *s, struct cur v, char out[9])
{
    char buf[9] = { 0 };
    u64 x;
    if (parse_int(s, v, &x)) {
        if (x > 0xffffffffULL)
            return ID_BAD;
        acpi_eisaid_decode((u32)x, buf);
    } else if (!parse_str(v, buf, sizeof(buf))) {
        return ID_BAD;
    }
    if (out)
        memcpy(out, buf, sizeof(buf));
    if (memcmp(buf, "PNP0A03", 8) == 0)
        return ID_PCI;
    if (memcmp(buf, "PNP0A08", 8) == 0)
        return ID_PCIE;
    return ID_OTHER;
}

/* Calls fn on each element of a Package value (at most its NumElements). */
static bool for_each_element(struct aml_scanner *s, struct cur v,
                             bool (*fn)(struct aml_scanner *s, struct cur e, u32 i, void *arg),
                             void *arg)
{
    const u8 *end;
    u8 op, num;
    if (!get8(&v, &op) || op != AML_PACKAGE)
        return false;
    if (!get_pkglen(&v, &end))
        return false;
    v.end = end;
    if (!get8(&v, &num))
        return false;
    for (u32 i = 0; i < num && left(&v); i++) {
        struct cur e = v;
        if (!skip_dataref(s, &v))
            return false;
        e.end = v.p;
        if (!fn(s, e, i, arg))
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------- bodies */

enum name_kind { K_NONE, K_HID, K_CID, K_UID, K_BBN, K_SEG, K_PXM, K_S5 };

static enum name_kind name_kind(u32 seg)
{
    switch (seg) {
    case SEG('_', 'H', 'I', 'D'): return K_HID;
    case SEG('_', 'C', 'I', 'D'): return K_CID;
    case SEG('_', 'U', 'I', 'D'): return K_UID;
    case SEG('_', 'B', 'B', 'N'): return K_BBN;
    case SEG('_', 'S', 'E', 'G'): return K_SEG;
    case SEG('_', 'P', 'X', 'M'): return K_PXM;
    case SEG('_', 'S', '5', '_'): return K_S5;
    }
    return K_NONE;
}

static const char *const kind_name[] = {
    [K_NONE] = "?", [K_HID] = "_HID", [K_CID] = "_CID", [K_UID] = "_UID", [K_BBN] = "_BBN",
    [K_SEG] = "_SEG", [K_PXM] = "_PXM", [K_S5] = "_S5_",
};

enum body_kind { BODY_SCOPE, BODY_DEVICE, BODY_OTHER };

/* The object whose body is being walked; for a Device, what its body declared. */
struct body {
    enum body_kind kind;
    u32 hash;
    bool bridge, pcie;
    bool has_seg, has_bbn, has_pxm, has_uid;
    u8 unknown;
    u8 bbn;
    u16 seg;
    u32 pxm;
    u64 uid;
    char hid[9];
    char uid_str[16];
};

static void walk_list(struct aml_scanner *s, struct cur c, struct body *b);

static void bad(struct aml_scanner *s, const u8 *at, const char *what)
{
    s->out->aml.bad++;
    if (s->warnings++ < 8)
        log_warn(ACPI_TAG, "%s: %s at offset %#x: rest of this scope skipped", s->sig, what,
                 (unsigned)(at - s->table));
    else
        log_debug(ACPI_TAG, "%s: %s at offset %#x", s->sig, what, (unsigned)(at - s->table));
}

static void odd(struct aml_scanner *s, const char *what)
{
    s->out->aml.odd_values++;
    log_debug(ACPI_TAG, "%s: %s has a value of a type not understood: ignored", s->sig, what);
}

static bool cid_element(struct aml_scanner *s, struct cur e, u32 i, void *arg)
{
    struct body *b = arg;
    enum id_class k = classify_id(s, e, NULL);
    if (k == ID_PCI || k == ID_PCIE) {
        b->bridge = true;
        b->pcie |= k == ID_PCIE;
    }
    return true;
}

static __noinline void device_value(struct aml_scanner *s, struct body *b, enum name_kind kind,
                         struct cur v)
{
    u64 x;
    enum id_class k;

    switch (kind) {
    case K_HID:
    case K_CID:
        if (left(&v) && *v.p == AML_PACKAGE && kind == K_CID) {
            if (!for_each_element(s, v, cid_element, b))
                odd(s, "_CID package");
            return;
        }
        k = classify_id(s, v, kind == K_HID && !b->hid[0] ? b->hid : NULL);
        if (k == ID_BAD) {
            odd(s, kind_name[kind]);
        } else if (k != ID_OTHER) {
            b->bridge = true;
            b->pcie |= k == ID_PCIE;
        }
        return;
    case K_UID:
        if (b->has_uid || b->uid_str[0])
            return;
        if (parse_int(s, v, &x)) {
            b->uid = x;
            b->has_uid = true;
        } else if (!parse_str(v, b->uid_str, sizeof(b->uid_str))) {
            odd(s, "_UID");
        }
        return;
    case K_BBN:
    case K_SEG:
    case K_PXM:
        if (!parse_int(s, v, &x) ||
            x > (kind == K_BBN ? 0xffu : kind == K_SEG ? 0xffffu : 0xffffffffu)) {
            b->unknown |= ACPI_ROOT_BAD_VALUE;
            odd(s, kind_name[kind]);
            return;
        }
        if (kind == K_BBN && !b->has_bbn) {
            b->bbn = (u8)x;
            b->has_bbn = true;
        } else if (kind == K_SEG && !b->has_seg) {
            b->seg = (u16)x;
            b->has_seg = true;
        } else if (kind == K_PXM && !b->has_pxm) {
            b->pxm = (u32)x;
            b->has_pxm = true;
        }
        return;
    default:
        return;
    }
}

static void add_fact(struct aml_scanner *s, u32 parent, enum name_kind kind, bool is_method,
                     u64 value)
{
    if (s->nfacts >= AML_MAX_FACTS) {
        log_debug(ACPI_TAG, "%s: more than %u names in Scope() bodies: %s ignored", s->sig,
                  AML_MAX_FACTS, kind_name[kind]);
        return;
    }
    struct aml_fact *f = &s->facts[s->nfacts++];
    f->parent_hash = parent;
    f->kind = (u8)kind;
    f->is_method = is_method;
    f->value = value;
}

static u8 method_bit(enum name_kind kind)
{
    switch (kind) {
    case K_SEG: return ACPI_ROOT_METHOD_SEG;
    case K_BBN: return ACPI_ROOT_METHOD_BBN;
    case K_PXM: return ACPI_ROOT_METHOD_PXM;
    case K_UID: return ACPI_ROOT_METHOD_UID;
    default: return 0;
    }
}

/* A _HID/_CID/_UID/_BBN/_SEG/_PXM (value v, or a Method when v is NULL) whose parent
 * object has path hash `parent`, declared in body b. */
static void note(struct aml_scanner *s, struct body *b, u32 parent, enum name_kind kind,
                 const struct cur *v)
{
    if (parent == b->hash && b->kind == BODY_DEVICE) {
        if (v)
            device_value(s, b, kind, *v);
        else
            b->unknown |= method_bit(kind);
        return;
    }
    if (parent == b->hash && b->kind == BODY_OTHER)
        return;                             /* e.g. Processor(){ Name(_PXM) } */
    /* Declared for another object (Scope() body, or a multi-segment name): kept for
     * aml_scan_finish(), which applies it to a host bridge with that path. */
    if (kind != K_UID && kind != K_BBN && kind != K_SEG && kind != K_PXM)
        return;
    u64 x = 0;
    if (v && !parse_int(s, *v, &x)) {
        odd(s, kind_name[kind]);
        return;
    }
    add_fact(s, parent, kind, v == NULL, x);
}

struct s5_vals {
    u32 n;
    u64 v[2];
};

static bool s5_element(struct aml_scanner *s, struct cur e, u32 i, void *arg)
{
    struct s5_vals *sv = arg;
    if (i >= 2)
        return true;
    if (!parse_int(s, e, &sv->v[i]))
        return false;
    sv->n = i + 1;
    return true;
}

static __noinline void parse_s5(struct aml_scanner *s, struct cur v)
{
    struct s5_vals sv = { 0 };
    if (s->out->s5.valid)
        return;
    if (!for_each_element(s, v, s5_element, &sv) || sv.n == 0) {
        odd(s, "\\_S5_");
        return;
    }
    if (sv.n == 1)
        sv.v[1] = sv.v[0];                  /* one value: the same for PM1a and PM1b */
    if (sv.v[0] > 7 || sv.v[1] > 7) {
        log_warn(ACPI_TAG, "%s: \\_S5_ values %#llx/%#llx do not fit the 3-bit SLP_TYP: ignored",
                 s->sig, (unsigned long long)sv.v[0], (unsigned long long)sv.v[1]);
        s->out->aml.odd_values++;
        return;
    }
    s->out->s5.valid = true;
    s->out->s5.slp_typa = (u8)sv.v[0];
    s->out->s5.slp_typb = (u8)sv.v[1];
}

/* Name(NameString, DataRefObject) */
static __noinline bool do_name(struct aml_scanner *s, struct cur *c, struct body *b)
{
    struct aml_name n;
    c->p++;
    if (!get_name(c, &n) || n.nsegs == 0)
        return false;
    struct cur v = *c;
    if (!skip_dataref(s, c))
        return false;
    v.end = c->p;

    enum name_kind kind = name_kind(name_seg(&n, n.nsegs - 1));
    u32 segs[AML_MAX_DEPTH], depth;
    if (kind == K_NONE || !resolve(s, &n, segs, &depth))
        return true;
    if (kind == K_S5) {
        if (depth == 1)
            parse_s5(s, v);
        return true;
    }
    note(s, b, path_hash(segs, depth - 1), kind, &v);
    return true;
}

/* Method(NameString, flags) { body }: remember the argument count, skip the body. */
static __noinline bool do_method(struct aml_scanner *s, struct cur *c, struct body *b)
{
    const u8 *at = c->p, *end;
    struct aml_name n;
    u8 flags;
    c->p++;
    if (!get_pkglen(c, &end))
        return false;
    struct cur h = { c->p, end };
    c->p = end;
    u32 segs[AML_MAX_DEPTH], depth;
    if (!get_name(&h, &n) || n.nsegs == 0 || !get8(&h, &flags) || !resolve(s, &n, segs, &depth)) {
        bad(s, at, "Method with a bad name");
        return true;                        /* its PkgLength was fine: carry on after it */
    }
    method_add(s, path_hash(segs, depth), flags & 7);
    enum name_kind kind = name_kind(segs[depth - 1]);
    if (kind != K_NONE) {
        s->out->aml.method_ids++;
        log_debug(ACPI_TAG, "%s: %s is a Method: not evaluated", s->sig, kind_name[kind]);
        if (kind != K_S5)
            note(s, b, path_hash(segs, depth - 1), kind, NULL);
    }
    return true;
}

static __noinline bool do_external(struct aml_scanner *s, struct cur *c)
{
    struct aml_name n;
    u8 type, argc;
    c->p++;
    if (!get_name(c, &n) || !get8(c, &type) || !get8(c, &argc))
        return false;
    u32 segs[AML_MAX_DEPTH], depth;
    if (type == AML_OBJTYPE_METHOD && resolve(s, &n, segs, &depth))
        method_add(s, path_hash(segs, depth), argc & 7);
    return true;
}

/* Walks body with the scope set to segs[0..depth); segs is swapped with the scanner's
 * path and back, so it holds the body's path again on return. */
static void enter(struct aml_scanner *s, struct cur body, u32 segs[AML_MAX_DEPTH], u32 depth,
                  struct body *b)
{
    if (s->nest >= AML_MAX_NEST) {
        bad(s, body.p, "scopes nested too deeply");
        return;
    }
    u32 saved_depth = s->depth;
    for (u32 i = 0; i < AML_MAX_DEPTH; i++) {
        u32 t = s->path[i];
        s->path[i] = segs[i];
        segs[i] = t;
    }
    s->depth = depth;
    s->nest++;
    walk_list(s, body, b);
    s->nest--;
    for (u32 i = 0; i < AML_MAX_DEPTH; i++) {
        u32 t = s->path[i];
        s->path[i] = segs[i];
        segs[i] = t;
    }
    s->depth = saved_depth;
}

static __noinline void record_root(struct aml_scanner *s, const struct body *b, const u32 *segs,
                                   u32 depth)
{
    struct acpi_info *o = s->out;
    if (o->npci_roots >= ACPI_MAX_PCI_ROOTS) {
        if (o->pci_roots_dropped++ == 0)
            log_warn(ACPI_TAG, "more than %u PCI host bridges: the rest ignored",
                     ACPI_MAX_PCI_ROOTS);
        return;
    }
    struct acpi_pci_root *r = &o->pci_roots[o->npci_roots++];
    memset(r, 0, sizeof(*r));
    render_path(segs, depth, r->path, sizeof(r->path));
    memcpy(r->hid, b->hid, sizeof(r->hid));
    memcpy(r->uid_str, b->uid_str, sizeof(r->uid_str));
    r->pcie = b->pcie;
    r->has_seg = b->has_seg;
    r->has_bbn = b->has_bbn;
    r->has_pxm = b->has_pxm;
    r->has_uid = b->has_uid;
    r->segment = b->seg;
    r->base_bus = b->bbn;
    r->pxm = b->pxm;
    r->uid = b->uid;
    r->unknown = b->unknown;
    r->path_hash = b->hash;
}

/* Scope / Device / Processor / ThermalZone / PowerResource: opcode (len_op bytes),
 * PkgLength, NameString, `extra` fixed bytes, then a TermList. */
static bool do_container(struct aml_scanner *s, struct cur *c, u32 len_op, u32 extra,
                         enum body_kind kind)
{
    const u8 *at = c->p, *end;
    struct aml_name n;
    c->p += len_op;
    if (!get_pkglen(c, &end))
        return false;
    struct cur body = { c->p, end };
    c->p = end;
    u32 segs[AML_MAX_DEPTH], depth;
    if (!get_name(&body, &n) || !take(&body, extra)) {
        bad(s, at, "bad name");
        return true;
    }
    if (!resolve(s, &n, segs, &depth)) {
        bad(s, at, "name not resolvable (too deep, or '^' above the root)");
        return true;
    }
    struct body b;
    memset(&b, 0, sizeof(b));
    b.kind = kind;
    b.hash = path_hash(segs, depth);
    if (kind == BODY_DEVICE)
        s->out->aml.devices++;
    enter(s, body, segs, depth, &b);
    if (kind == BODY_DEVICE && b.bridge)
        record_root(s, &b, segs, depth);
    return true;
}

static bool term(struct aml_scanner *s, struct cur *c, struct body *b)
{
    switch (*c->p) {
    case AML_SCOPE: return do_container(s, c, 1, 0, BODY_SCOPE);
    case AML_NAME: return do_name(s, c, b);
    case AML_METHOD: return do_method(s, c, b);
    case AML_EXTERNAL: return do_external(s, c);
    case AML_IF:
    case AML_ELSE:
    case AML_WHILE:
        s->out->aml.conditional++;
        c->p++;
        return skip_pkg(c);
    case AML_EXT:
        if (left(c) < 2)
            return false;
        switch (c->p[1]) {
        case AML_X_DEVICE: return do_container(s, c, 2, 0, BODY_DEVICE);
        case AML_X_PROCESSOR: return do_container(s, c, 2, 6, BODY_OTHER);
        case AML_X_POWERRES: return do_container(s, c, 2, 3, BODY_OTHER);
        case AML_X_THERMALZONE: return do_container(s, c, 2, 0, BODY_OTHER);
        case AML_X_LOAD:
        case AML_X_LOADTABLE:
            s->out->aml.loads++;
            break;
        }
        break;
    }
    return skip_term(s, c);
}

static void walk_list(struct aml_scanner *s, struct cur c, struct body *b)
{
    while (left(&c)) {
        const u8 *at = c.p;
        if (!term(s, &c, b)) {
            bad(s, at, at[0] == AML_EXT && at + 1 < c.end ? "unknown or malformed extended opcode"
                                                          : "unknown or malformed opcode");
            return;
        }
    }
}

/* ---------------------------------------------------------------- API */

void aml_scan_init(struct aml_scanner *s, struct acpi_info *out)
{
    memset(s, 0, sizeof(*s));
    s->out = out;
    s->int64 = true;
}

void aml_scan_table(struct aml_scanner *s, const void *table, u32 len)
{
    const struct acpi_header *h = table;
    if (len < sizeof(*h))
        return;
    s->table = table;
    acpi_copy_id(s->sig, h->signature, 4);
    if (memcmp(h->signature, "DSDT", 4) == 0)
        s->int64 = h->revision >= 2;        /* 19.3.5: DSDT revision < 2 means 32-bit */
    s->depth = 0;
    s->nest = 0;
    s->expr = 0;
    s->out->aml.tables++;
    struct body root;
    memset(&root, 0, sizeof(root));
    root.kind = BODY_SCOPE;
    root.hash = HASH_BASIS;
    struct cur c = { (const u8 *)table + sizeof(*h), (const u8 *)table + len };
    walk_list(s, c, &root);
}

void aml_scan_finish(struct aml_scanner *s)
{
    struct acpi_info *o = s->out;
    for (u32 i = 0; i < s->nfacts; i++) {
        const struct aml_fact *f = &s->facts[i];
        for (u32 j = 0; j < o->npci_roots; j++) {
            struct acpi_pci_root *r = &o->pci_roots[j];
            if (r->path_hash != f->parent_hash)
                continue;
            if (f->is_method) {
                r->unknown |= method_bit(f->kind);
                continue;
            }
            switch (f->kind) {
            case K_PXM:
                if (!r->has_pxm && f->value <= 0xffffffffu) {
                    r->pxm = (u32)f->value;
                    r->has_pxm = true;
                }
                break;
            case K_BBN:
                if (!r->has_bbn && f->value <= 0xff) {
                    r->base_bus = (u8)f->value;
                    r->has_bbn = true;
                }
                break;
            case K_SEG:
                if (!r->has_seg && f->value <= 0xffff) {
                    r->segment = (u16)f->value;
                    r->has_seg = true;
                }
                break;
            case K_UID:
                if (!r->has_uid && !r->uid_str[0]) {
                    r->uid = f->value;
                    r->has_uid = true;
                }
                break;
            }
        }
    }
    struct acpi_aml_stats *st = &o->aml;
    st->not_understood = st->method_ids + st->conditional + st->loads + st->odd_values + st->bad;
}

/* ---------------------------------------------------------------- EISA IDs */

static u32 hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return (u32)(ch - '0');
    if (ch >= 'A' && ch <= 'F')
        return (u32)(ch - 'A' + 10);
    if (ch >= 'a' && ch <= 'f')
        return (u32)(ch - 'a' + 10);
    return 0;
}

/* 6.1.5: three letters compressed to 5 bits each (A = 1) and four hex digits,
 * stored big-endian in the DWord's bytes. */
u32 acpi_eisaid_encode(const char *id)
{
    u32 vendor = ((u32)(id[0] - '@') & 0x1f) << 10 | ((u32)(id[1] - '@') & 0x1f) << 5 |
                 ((u32)(id[2] - '@') & 0x1f);
    u32 product = hexval(id[3]) << 12 | hexval(id[4]) << 8 | hexval(id[5]) << 4 | hexval(id[6]);
    return (vendor >> 8) | (vendor & 0xff) << 8 | (product >> 8) << 16 | (product & 0xff) << 24;
}

void acpi_eisaid_decode(u32 v, char out[8])
{
    static const char hex[] = "0123456789ABCDEF";
    u32 vendor = (v & 0xff) << 8 | ((v >> 8) & 0xff);
    u32 product = ((v >> 16) & 0xff) << 8 | (v >> 24);
    out[0] = (char)('@' + ((vendor >> 10) & 0x1f));
    out[1] = (char)('@' + ((vendor >> 5) & 0x1f));
    out[2] = (char)('@' + (vendor & 0x1f));
    for (u32 i = 0; i < 4; i++)
        out[3 + i] = hex[(product >> (12 - 4 * i)) & 0xf];
    out[7] = '\0';
}
