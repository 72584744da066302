/* The AML byte grammar for the declaration-level scan: see aml_grammar.h. Every
 * function reads only through a struct cur, so a malformed or hostile stream makes
 * it return false, never read past the enclosing package. */
#include "drivers/acpi/aml_grammar.h"
#include "kernel/lib/string.h"

/* Keeps big locals out of the recursive skipper's frames (docs/acpi.md: stack use). */
#define __noinline __attribute__((noinline))

/* Operand formats (20.2.5): T TermArg, S SuperName, R Target (SuperName or NullName),
 * N NameString, D DataRefObject, b/w/d 1/2/4 raw bytes, P a PkgLength that encloses
 * everything else. "" = no operands. NULL = unknown opcode. */
static const char *const op1_args[256] = {
    [0x06] = "NN",     /* Alias */
    [0x08] = "ND",     /* Name */
    [0x10] = "P",      /* Scope */
    [0x11] = "P",      /* Buffer */
    [0x12] = "P",      /* Package */
    [0x13] = "P",      /* VarPackage */
    [0x14] = "P",      /* Method */
    [0x15] = "Nbb",    /* External */
    [0x70] = "TS",     /* Store */
    [0x71] = "S",      /* RefOf */
    [0x72] = "TTR",    /* Add */
    [0x73] = "TTR",    /* Concat */
    [0x74] = "TTR",    /* Subtract */
    [0x75] = "S",      /* Increment */
    [0x76] = "S",      /* Decrement */
    [0x77] = "TTR",    /* Multiply */
    [0x78] = "TTRR",   /* Divide */
    [0x79] = "TTR",    /* ShiftLeft */
    [0x7a] = "TTR",    /* ShiftRight */
    [0x7b] = "TTR",    /* And */
    [0x7c] = "TTR",    /* NAnd */
    [0x7d] = "TTR",    /* Or */
    [0x7e] = "TTR",    /* NOr */
    [0x7f] = "TTR",    /* XOr */
    [0x80] = "TR",     /* Not */
    [0x81] = "TR",     /* FindSetLeftBit */
    [0x82] = "TR",     /* FindSetRightBit */
    [0x83] = "T",      /* DerefOf */
    [0x84] = "TTR",    /* ConcatRes */
    [0x85] = "TTR",    /* Mod */
    [0x86] = "ST",     /* Notify */
    [0x87] = "S",      /* SizeOf */
    [0x88] = "TTR",    /* Index */
    [0x89] = "TbTbTT", /* Match */
    [0x8a] = "TTN",    /* CreateDWordField */
    [0x8b] = "TTN",    /* CreateWordField */
    [0x8c] = "TTN",    /* CreateByteField */
    [0x8d] = "TTN",    /* CreateBitField */
    [0x8e] = "S",      /* ObjectType */
    [0x8f] = "TTN",    /* CreateQWordField */
    [0x90] = "TT",     /* LAnd */
    [0x91] = "TT",     /* LOr */
    [0x92] = "T",      /* LNot (LNotEqual etc. are LNot applied to LEqual etc.) */
    [0x93] = "TT",     /* LEqual */
    [0x94] = "TT",     /* LGreater */
    [0x95] = "TT",     /* LLess */
    [0x96] = "TR",     /* ToBuffer */
    [0x97] = "TR",     /* ToDecimalString */
    [0x98] = "TR",     /* ToHexString */
    [0x99] = "TR",     /* ToInteger */
    [0x9c] = "TTR",    /* ToString */
    [0x9d] = "TS",     /* CopyObject */
    [0x9e] = "TTTR",   /* Mid */
    [0x9f] = "",       /* Continue */
    [0xa0] = "P",      /* If */
    [0xa1] = "P",      /* Else */
    [0xa2] = "P",      /* While */
    [0xa3] = "",       /* Noop */
    [0xa4] = "T",      /* Return */
    [0xa5] = "",       /* Break */
    [0xcc] = "",       /* BreakPoint */
};

static const char *const op2_args[256] = {
    [0x01] = "Nb",     /* Mutex */
    [0x02] = "N",      /* Event */
    [0x12] = "SR",     /* CondRefOf */
    [0x13] = "TTTN",   /* CreateField */
    [0x1f] = "TTTTTT", /* LoadTable */
    [0x20] = "NS",     /* Load */
    [0x21] = "T",      /* Stall */
    [0x22] = "T",      /* Sleep */
    [0x23] = "Sw",     /* Acquire */
    [0x24] = "S",      /* Signal */
    [0x25] = "ST",     /* Wait */
    [0x26] = "S",      /* Reset */
    [0x27] = "S",      /* Release */
    [0x28] = "TR",     /* FromBCD */
    [0x29] = "TR",     /* ToBCD */
    [0x2a] = "S",      /* Unload */
    [0x30] = "",       /* Revision */
    [0x31] = "",       /* Debug */
    [0x32] = "bdT",    /* Fatal */
    [0x33] = "",       /* Timer */
    [0x80] = "NbTT",   /* OperationRegion */
    [0x81] = "P",      /* Field */
    [0x82] = "P",      /* Device */
    [0x83] = "P",      /* Processor */
    [0x84] = "P",      /* PowerResource */
    [0x85] = "P",      /* ThermalZone */
    [0x86] = "P",      /* IndexField */
    [0x87] = "P",      /* BankField */
    [0x88] = "NTTT",   /* DataRegion */
};

/* ---------------------------------------------------------------- cursor */

/* 20.2.4 PkgLength: counts its own bytes but not the opcode. On success *end is the
 * package's end, never beyond c->end. */
bool aml_get_pkglen(struct cur *c, const u8 **end)
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

bool aml_skip_pkg(struct cur *c)
{
    const u8 *end;
    if (!aml_get_pkglen(c, &end))
        return false;
    c->p = end;
    return true;
}

/* ---------------------------------------------------------------- names */

/* 20.2.2 NameString. n may be NULL to skip the name. */
bool aml_get_name(struct cur *c, struct aml_name *n)
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
    if (*c->p == 0) { /* NullName */
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
        if (left(c) < 4 || !lead_char(c->p[0]) || !name_char(c->p[1]) || !name_char(c->p[2]) || !name_char(c->p[3]))
            return false;
        c->p += 4;
    }
    return true;
}

/* The absolute path of n declared in the current scope (20.2.2: prefixes apply to
 * the current scope; declarations never search upwards). */
bool aml_resolve(const struct aml_scanner *s, const struct aml_name *n, u32 segs[AML_MAX_DEPTH], u32 *depth)
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

u32 aml_hash_seg(u32 h, u32 seg)
{
    for (u32 i = 0; i < 4; i++) {
        h ^= (seg >> (8 * i)) & 0xff;
        h *= 16777619u;
    }
    return h;
}

u32 aml_path_hash(const u32 *segs, u32 depth)
{
    u32 h = AML_HASH_BASIS;
    for (u32 i = 0; i < depth; i++)
        h = aml_hash_seg(h, segs[i]);
    return h;
}

void aml_render_path(const u32 *segs, u32 depth, char *out, size_t size)
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

void aml_method_add(struct aml_scanner *s, u32 hash, u8 argc)
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
        prefix[0] = AML_HASH_BASIS;
        for (u32 i = 0; i < s->depth; i++)
            prefix[i + 1] = aml_hash_seg(prefix[i], s->path[i]);
        for (u32 k = s->depth + 1; k-- > 0 && argc < 0;)
            argc = method_find(s, aml_hash_seg(prefix[k], name_seg(n, 0)));
    } else {
        u32 segs[AML_MAX_DEPTH], depth;
        if (aml_resolve(s, n, segs, &depth))
            argc = method_find(s, aml_path_hash(segs, depth));
    }
    return argc < 0 ? 0 : (u32)argc;
}

/* ---------------------------------------------------------------- skipping */

static bool skip_string(struct cur *c)
{
    c->p++; /* StringPrefix */
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
        return aml_get_name(c, NULL);
    if (op >= AML_LOCAL0 && op <= AML_ARG6)
        return take(c, 1);
    if (op == AML_EXT && left(c) >= 2 && c->p[1] == AML_X_DEBUG)
        return take(c, 2);
    return aml_skip_term(s, c);
}

/* DataRefObject: a data object, or a name that is a reference (never a call). */
bool aml_skip_dataref(struct aml_scanner *s, struct cur *c)
{
    if (left(c) && name_start(*c->p))
        return aml_get_name(c, NULL);
    return aml_skip_term(s, c);
}

static bool skip_args(struct aml_scanner *s, struct cur *c, const char *fmt)
{
    for (; *fmt; fmt++) {
        bool ok = false;
        switch (*fmt) {
        case 'P': return aml_skip_pkg(c);
        case 'T': ok = aml_skip_term(s, c); break;
        case 'S': ok = skip_supername(s, c); break;
        case 'R':
            if (left(c) && *c->p == 0)
                ok = take(c, 1);
            else
                ok = skip_supername(s, c);
            break;
        case 'N': ok = aml_get_name(c, NULL); break;
        case 'D': ok = aml_skip_dataref(s, c); break;
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
        if (!aml_get_name(c, &n))
            return false;
        u32 argc = call_argc(s, &n);
        for (u32 i = 0; i < argc; i++)
            if (!aml_skip_term(s, c))
                return false;
        return true;
    }
    switch (op) {
    case AML_ZERO:
    case AML_ONE:
    case AML_ONES: return take(c, 1);
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
bool aml_skip_term(struct aml_scanner *s, struct cur *c)
{
    if (!left(c) || s->expr >= AML_MAX_EXPR)
        return false;
    s->expr++;
    bool ok = skip_term_inner(s, c);
    s->expr--;
    return ok;
}

/* ---------------------------------------------------------------- values */

bool aml_parse_int(const struct aml_scanner *s, struct cur v, u64 *out)
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

bool aml_parse_str(struct cur v, char *buf, size_t size)
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
    u32 vendor = ((u32)(id[0] - '@') & 0x1f) << 10 | ((u32)(id[1] - '@') & 0x1f) << 5 | ((u32)(id[2] - '@') & 0x1f);
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
