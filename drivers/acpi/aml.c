/* Declaration-level AML scan (ACPI 6.5 chapter 20 grammar) for PCI host bridges and
 * \_S5. The scanner walks TermLists of the table, Scope, Device, Processor,
 * ThermalZone and PowerResource bodies; it never executes anything. Method bodies,
 * If/Else/While blocks, Buffers, Packages and Fields are skipped whole by their
 * PkgLength; other statements and their operands are skipped by an opcode table.
 * Every read goes through a cursor bounded by the enclosing package, so hostile AML
 * can only make the scan give up on a scope, never read outside the table. */
#include "drivers/acpi/aml_grammar.h"
#include "kernel/lib/string.h"

/* Keeps big locals out of the recursive walkers' frames (docs/acpi.md: stack use). */
#define __noinline __attribute__((noinline))

enum id_class { ID_BAD = -1, ID_OTHER = 0, ID_PCI, ID_PCIE };

/* An _HID/_CID element: EISAID integer or string. */
static enum id_class classify_id(const struct aml_scanner *s, struct cur v, char out[9])
{
    char buf[9] = { 0 };
    u64 x;
    if (aml_parse_int(s, v, &x)) {
        if (x > 0xffffffffULL)
            return ID_BAD;
        acpi_eisaid_decode((u32)x, buf);
    } else if (!aml_parse_str(v, buf, sizeof(buf))) {
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
                             bool (*fn)(struct aml_scanner *s, struct cur e, u32 i, void *arg), void *arg)
{
    const u8 *end;
    u8 op, num;
    if (!get8(&v, &op) || op != AML_PACKAGE)
        return false;
    if (!aml_get_pkglen(&v, &end))
        return false;
    v.end = end;
    if (!get8(&v, &num))
        return false;
    for (u32 i = 0; i < num && left(&v); i++) {
        struct cur e = v;
        if (!aml_skip_dataref(s, &v))
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
    case AML_SEG('_', 'H', 'I', 'D'): return K_HID;
    case AML_SEG('_', 'C', 'I', 'D'): return K_CID;
    case AML_SEG('_', 'U', 'I', 'D'): return K_UID;
    case AML_SEG('_', 'B', 'B', 'N'): return K_BBN;
    case AML_SEG('_', 'S', 'E', 'G'): return K_SEG;
    case AML_SEG('_', 'P', 'X', 'M'): return K_PXM;
    case AML_SEG('_', 'S', '5', '_'): return K_S5;
    }
    return K_NONE;
}

static const char *const kind_name[] = {
    [K_NONE] = "?",   [K_HID] = "_HID", [K_CID] = "_CID", [K_UID] = "_UID",
    [K_BBN] = "_BBN", [K_SEG] = "_SEG", [K_PXM] = "_PXM", [K_S5] = "_S5_",
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
        log_warn(ACPI_TAG, "%s: %s at offset %#x: rest of this scope skipped", s->sig, what, (unsigned)(at - s->table));
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

static __noinline void device_value(struct aml_scanner *s, struct body *b, enum name_kind kind, struct cur v)
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
        if (aml_parse_int(s, v, &x)) {
            b->uid = x;
            b->has_uid = true;
        } else if (!aml_parse_str(v, b->uid_str, sizeof(b->uid_str))) {
            odd(s, "_UID");
        }
        return;
    case K_BBN:
    case K_SEG:
    case K_PXM:
        if (!aml_parse_int(s, v, &x) || x > (kind == K_BBN ? 0xffu : kind == K_SEG ? 0xffffu : 0xffffffffu)) {
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
    default: return;
    }
}

static void add_fact(struct aml_scanner *s, u32 parent, enum name_kind kind, bool is_method, u64 value)
{
    if (s->nfacts >= AML_MAX_FACTS) {
        log_debug(ACPI_TAG, "%s: more than %u names in Scope() bodies: %s ignored", s->sig, AML_MAX_FACTS,
                  kind_name[kind]);
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
static void note(struct aml_scanner *s, struct body *b, u32 parent, enum name_kind kind, const struct cur *v)
{
    if (parent == b->hash && b->kind == BODY_DEVICE) {
        if (v)
            device_value(s, b, kind, *v);
        else
            b->unknown |= method_bit(kind);
        return;
    }
    if (parent == b->hash && b->kind == BODY_OTHER)
        return; /* e.g. Processor(){ Name(_PXM) } */
    /* Declared for another object (Scope() body, or a multi-segment name): kept for
     * aml_scan_finish(), which applies it to a host bridge with that path. */
    if (kind != K_UID && kind != K_BBN && kind != K_SEG && kind != K_PXM)
        return;
    u64 x = 0;
    if (v && !aml_parse_int(s, *v, &x)) {
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
    if (!aml_parse_int(s, e, &sv->v[i]))
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
        sv.v[1] = sv.v[0]; /* one value: the same for PM1a and PM1b */
    if (sv.v[0] > 7 || sv.v[1] > 7) {
        log_warn(ACPI_TAG, "%s: \\_S5_ values %#llx/%#llx do not fit the 3-bit SLP_TYP: ignored", s->sig,
                 (unsigned long long)sv.v[0], (unsigned long long)sv.v[1]);
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
    if (!aml_get_name(c, &n) || n.nsegs == 0)
        return false;
    struct cur v = *c;
    if (!aml_skip_dataref(s, c))
        return false;
    v.end = c->p;

    enum name_kind kind = name_kind(name_seg(&n, n.nsegs - 1));
    u32 segs[AML_MAX_DEPTH], depth;
    if (kind == K_NONE || !aml_resolve(s, &n, segs, &depth))
        return true;
    if (kind == K_S5) {
        if (depth == 1)
            parse_s5(s, v);
        return true;
    }
    note(s, b, aml_path_hash(segs, depth - 1), kind, &v);
    return true;
}

/* Method(NameString, flags) { body }: remember the argument count, skip the body. */
static __noinline bool do_method(struct aml_scanner *s, struct cur *c, struct body *b)
{
    const u8 *at = c->p, *end;
    struct aml_name n;
    u8 flags;
    c->p++;
    if (!aml_get_pkglen(c, &end))
        return false;
    struct cur h = { c->p, end };
    c->p = end;
    u32 segs[AML_MAX_DEPTH], depth;
    if (!aml_get_name(&h, &n) || n.nsegs == 0 || !get8(&h, &flags) || !aml_resolve(s, &n, segs, &depth)) {
        bad(s, at, "Method with a bad name");
        return true; /* its PkgLength was fine: carry on after it */
    }
    aml_method_add(s, aml_path_hash(segs, depth), flags & 7);
    enum name_kind kind = name_kind(segs[depth - 1]);
    if (kind != K_NONE) {
        s->out->aml.method_ids++;
        log_debug(ACPI_TAG, "%s: %s is a Method: not evaluated", s->sig, kind_name[kind]);
        if (kind != K_S5)
            note(s, b, aml_path_hash(segs, depth - 1), kind, NULL);
    }
    return true;
}

static __noinline bool do_external(struct aml_scanner *s, struct cur *c)
{
    struct aml_name n;
    u8 type, argc;
    c->p++;
    if (!aml_get_name(c, &n) || !get8(c, &type) || !get8(c, &argc))
        return false;
    u32 segs[AML_MAX_DEPTH], depth;
    if (type == AML_OBJTYPE_METHOD && aml_resolve(s, &n, segs, &depth))
        aml_method_add(s, aml_path_hash(segs, depth), argc & 7);
    return true;
}

/* Walks body with the scope set to segs[0..depth); segs is swapped with the scanner's
 * path and back, so it holds the body's path again on return. */
static void enter(struct aml_scanner *s, struct cur body, u32 segs[AML_MAX_DEPTH], u32 depth, struct body *b)
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

static __noinline void record_root(struct aml_scanner *s, const struct body *b, const u32 *segs, u32 depth)
{
    struct acpi_info *o = s->out;
    if (o->npci_roots >= ACPI_MAX_PCI_ROOTS) {
        if (o->pci_roots_dropped++ == 0)
            log_warn(ACPI_TAG, "more than %u PCI host bridges: the rest ignored", ACPI_MAX_PCI_ROOTS);
        return;
    }
    struct acpi_pci_root *r = &o->pci_roots[o->npci_roots++];
    memset(r, 0, sizeof(*r));
    aml_render_path(segs, depth, r->path, sizeof(r->path));
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
static bool do_container(struct aml_scanner *s, struct cur *c, u32 len_op, u32 extra, enum body_kind kind)
{
    const u8 *at = c->p, *end;
    struct aml_name n;
    c->p += len_op;
    if (!aml_get_pkglen(c, &end))
        return false;
    struct cur body = { c->p, end };
    c->p = end;
    u32 segs[AML_MAX_DEPTH], depth;
    if (!aml_get_name(&body, &n) || !take(&body, extra)) {
        bad(s, at, "bad name");
        return true;
    }
    if (!aml_resolve(s, &n, segs, &depth)) {
        bad(s, at, "name not resolvable (too deep, or '^' above the root)");
        return true;
    }
    struct body b;
    memset(&b, 0, sizeof(b));
    b.kind = kind;
    b.hash = aml_path_hash(segs, depth);
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
        return aml_skip_pkg(c);
    case AML_EXT:
        if (left(c) < 2)
            return false;
        switch (c->p[1]) {
        case AML_X_DEVICE: return do_container(s, c, 2, 0, BODY_DEVICE);
        case AML_X_PROCESSOR: return do_container(s, c, 2, 6, BODY_OTHER);
        case AML_X_POWERRES: return do_container(s, c, 2, 3, BODY_OTHER);
        case AML_X_THERMALZONE: return do_container(s, c, 2, 0, BODY_OTHER);
        case AML_X_LOAD:
        case AML_X_LOADTABLE: s->out->aml.loads++; break;
        }
        break;
    }
    return aml_skip_term(s, c);
}

static void walk_list(struct aml_scanner *s, struct cur c, struct body *b)
{
    while (left(&c)) {
        const u8 *at = c.p;
        if (!term(s, &c, b)) {
            bad(s, at,
                at[0] == AML_EXT && at + 1 < c.end ? "unknown or malformed extended opcode"
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
        s->int64 = h->revision >= 2; /* 19.3.5: DSDT revision < 2 means 32-bit */
    s->depth = 0;
    s->nest = 0;
    s->expr = 0;
    s->out->aml.tables++;
    struct body root;
    memset(&root, 0, sizeof(root));
    root.kind = BODY_SCOPE;
    root.hash = AML_HASH_BASIS;
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
