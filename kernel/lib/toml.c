/* The TOML-subset parser (see toml.h and docs/configuration.md).
 *
 * Two passes over the document: the first checks the encoding (UTF-8 without NUL or
 * control characters, CR only before LF), which TOML requires of the whole file; the
 * second parses statements, one per line except arrays, which may span lines.
 * Nothing recurses: an array holds scalars only, so a value is at most two levels deep.
 *
 * Structure is checked the way TOML 1.0 defines it: every table, array-of-tables element
 * and key becomes a node in a tree (p->nodes), which catches duplicate keys, tables
 * declared twice and keys that clash with tables, whatever order they come in. */
#include "kernel/lib/toml.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

/* The parser lives in its caller's frame; the hypervisor stack is 32 KiB. */
STATIC_ASSERT(sizeof(struct toml_parser) <= 5 * 1024, "toml_parser must stay small");
STATIC_ASSERT(TOML_MAX_FILE < (1u << 31), "node offsets are u32");
STATIC_ASSERT(TOML_MAX_KEY <= 255, "node name lengths are u8");
STATIC_ASSERT(TOML_MAX_NODES <= 65536, "node parents are u16");
STATIC_ASSERT(TOML_POOL_SIZE > TOML_MAX_STRING, "a lone string always fits the pool");

enum toml_node_kind {
    NODE_ROOT,
    NODE_KEY,
    NODE_TABLE_IMPLICIT, /* created as a prefix of a header: [a] in [a.b] */
    NODE_TABLE,          /* declared by its own [header] */
    NODE_AOT,            /* [[a]]: an array of tables; its children are the elements */
    NODE_AOT_ELEM,       /* one [[a]] header; unnamed, off is the header */
};

#define SHOW_MAX 40 /* bytes of a token or key quoted in a message */

const char *toml_type_name(enum toml_type t)
{
    switch (t) {
    case TOML_STRING: return "a string";
    case TOML_INT: return "an integer";
    case TOML_BOOL: return "a boolean";
    case TOML_ARRAY: return "an array";
    }
    return "an unknown type";
}

/* ------------------------------------------------------------------ reporting */

static void __printf(3, 4) report(struct toml_parser *p, u32 line, const char *fmt, ...)
{
    char msg[TOML_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    kvsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->nerrors++;
    if (p->h->on_error && !p->h->on_error(p->h->ctx, line, msg))
        p->stopped = true;
}

#define ERR(p, ...) report((p), (p)->line, __VA_ARGS__)

/* Line of a byte offset, for "first defined at line N" (error paths only). */
static u32 line_of(const struct toml_parser *p, size_t off)
{
    u32 line = 1;
    for (size_t i = 0; i < off && i < p->len; i++)
        line += p->text[i] == '\n';
    return line;
}

/* ------------------------------------------------------------------ cursor */

static int peek_at(const struct toml_parser *p, size_t k) { return p->pos + k < p->len ? (u8)p->text[p->pos + k] : -1; }

static int peek(const struct toml_parser *p) { return peek_at(p, 0); }

/* The encoding pass guarantees that every CR is followed by LF. */
static bool is_eol(int c) { return c == '\n' || c == '\r' || c < 0; }

static bool is_bare(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static void skip_ws(struct toml_parser *p)
{
    while (peek(p) == ' ' || peek(p) == '\t')
        p->pos++;
}

/* Leaves pos on the line's '\r' or '\n', or at the end. */
static void skip_to_eol(struct toml_parser *p)
{
    while (!is_eol(peek(p)))
        p->pos++;
}

static void consume_newline(struct toml_parser *p)
{
    if (peek(p) == '\r')
        p->pos++;
    if (peek(p) == '\n') {
        p->pos++;
        p->line++;
    }
}

/* Length of a valid UTF-8 sequence at s (Unicode 15, table 3-7), 0 if invalid. */
static size_t utf8_len(const u8 *s, size_t avail)
{
    u8 lo = 0x80, hi = 0xBF;
    size_t n;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        if (s[0] == 0xE0)
            lo = 0xA0; /* overlong */
        if (s[0] == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        if (s[0] == 0xF0)
            lo = 0x90; /* overlong */
        if (s[0] == 0xF4)
            hi = 0x8F; /* beyond U+10FFFF */
    } else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

/* "'x'", "end of line", "U+00A0"... for "found ..." in messages. Characters beyond ASCII
 * are named by code point: an invisible one (a no-break space pasted from a web page)
 * would otherwise look like nothing at all. */
static const char *describe(const struct toml_parser *p, char buf[12])
{
    const u8 *s = (const u8 *)p->text + p->pos;
    int c = peek(p);

    if (c < 0)
        return "end of file";
    if (c == '\n' || c == '\r')
        return "end of line";
    if (c == ' ' || c == '\t')
        return "whitespace";
    if (c == '#')
        return "a comment";
    if (c < 0x80) {
        ksnprintf(buf, 12, "'%c'", c);
        return buf;
    }
    /* The encoding pass made sure this is a whole, valid sequence. */
    size_t n = utf8_len(s, p->len - p->pos);
    u32 cp = n == 2   ? (u32)(s[0] & 0x1F) << 6 | (s[1] & 0x3F)
             : n == 3 ? (u32)(s[0] & 0x0F) << 12 | (u32)(s[1] & 0x3F) << 6 | (s[2] & 0x3F)
             : n == 4 ? (u32)(s[0] & 0x07) << 18 | (u32)(s[1] & 0x3F) << 12 | (u32)(s[2] & 0x3F) << 6 | (s[3] & 0x3F)
                      : s[0];
    ksnprintf(buf, 12, "U+%04X", cp);
    return buf;
}

/* ------------------------------------------------------------------ encoding pass */

static void encoding_error(struct toml_parser *p, u32 line, u32 *last, const char *msg, unsigned byte)
{
    if (*last == line)
        return; /* one per line is enough */
    *last = line;
    report(p, line, msg, byte);
}

static bool check_encoding(struct toml_parser *p)
{
    const u8 *t = (const u8 *)p->text;
    u32 line = 1, last = 0;
    size_t i = 0;

    if (p->len >= 3 && t[0] == 0xEF && t[1] == 0xBB && t[2] == 0xBF) {
        report(p, 1,
               "the file starts with a byte order mark (BOM), which TOML does not "
               "allow: save it as UTF-8 without BOM");
        last = 1;
        i = 3;
    }
    while (i < p->len && !p->stopped) {
        u8 c = t[i];
        if (c == '\n') {
            line++;
            i++;
        } else if (c == '\t' || (c >= 0x20 && c < 0x7F)) {
            i++;
        } else if (c == '\r') {
            if (i + 1 >= p->len || t[i + 1] != '\n')
                encoding_error(p, line, &last, "carriage return (0x%02x) not followed by a line feed", c);
            i++;
        } else if (c == 0) {
            encoding_error(p, line, &last, "NUL byte (0x%02x): is this a binary file?", c);
            i++;
        } else if (c < 0x80) {
            encoding_error(p, line, &last, "control character 0x%02x is not allowed", c);
            i++;
        } else {
            size_t n = utf8_len(t + i, p->len - i);
            if (n == 0) {
                encoding_error(p, line, &last, "invalid UTF-8 (byte 0x%02x)", c);
                n = 1;
            }
            i += n;
        }
    }
    return p->nerrors == 0;
}

/* ------------------------------------------------------------------ node tree */

static s32 find_child(const struct toml_parser *p, u32 parent, u32 off, u32 len)
{
    for (u32 i = 1; i < p->nnodes; i++) {
        const struct toml_node *n = &p->nodes[i];
        if (n->parent == parent && n->kind != NODE_AOT_ELEM && n->len == len &&
            memcmp(p->text + n->off, p->text + off, len) == 0)
            return (s32)i;
    }
    return -1;
}

static u32 last_elem(const struct toml_parser *p, u32 aot)
{
    for (u32 i = p->nnodes; i-- > 1;)
        if (p->nodes[i].parent == aot && p->nodes[i].kind == NODE_AOT_ELEM)
            return i;
    return aot; /* unreachable: an array of tables is created with its first element */
}

static s32 add_node(struct toml_parser *p, u32 parent, u32 off, u32 len, enum toml_node_kind kind, u32 line)
{
    if (p->nnodes >= TOML_MAX_NODES) {
        report(p, line, "too many tables and keys in one file (the limit is %d)", TOML_MAX_NODES);
        p->stopped = true; /* everything after would be unchecked */
        return -1;
    }
    struct toml_node *n = &p->nodes[p->nnodes];
    n->off = off;
    n->len = (u8)len;
    n->parent = (u16)parent;
    n->kind = (u8)kind;
    return (s32)p->nnodes++;
}

/* "a.b.c" from the first n segments of the current header. */
static void path_str(const struct toml_parser *p, u32 n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (u32 i = 0; i < n && used < size; i++)
        used += (size_t)ksnprintf(buf + used, size - used, "%s%s", i ? "." : "", p->path[i]);
}

/* Makes the header just parsed the current table, as TOML 1.0 "Table" and
 * "Array of Tables" define it. Returns the node, or -1 after reporting why not. */
static s32 open_table(struct toml_parser *p, bool aot, u32 line)
{
    char name[TOML_MAX_DEPTH * (TOML_MAX_KEY + 1)];
    u32 cur = 0;

    path_str(p, p->depth, name, sizeof(name));
    for (u32 i = 0; i < p->depth; i++) {
        bool last = i + 1 == p->depth;
        s32 n = find_child(p, cur, p->path_off[i], p->path_len[i]);
        struct toml_node *node = n >= 0 ? &p->nodes[n] : NULL;

        if (node && node->kind == NODE_KEY) {
            char prefix[sizeof(name)];
            path_str(p, i + 1, prefix, sizeof(prefix));
            report(p, line, "cannot define %s%s%s: \"%s\" is already a value (line %u)", aot ? "[[" : "[", name,
                   aot ? "]]" : "]", prefix, line_of(p, node->off));
            return -1;
        }
        if (!last) {
            if (!node)
                n = add_node(p, cur, p->path_off[i], p->path_len[i], NODE_TABLE_IMPLICIT, line);
            else if (node->kind == NODE_AOT)
                n = (s32)last_elem(p, (u32)n); /* [a.b] after [[a]] extends its last element */
            if (n < 0)
                return -1;
            cur = (u32)n;
            continue;
        }
        if (!aot) {
            if (!node)
                return add_node(p, cur, p->path_off[i], p->path_len[i], NODE_TABLE, line);
            if (node->kind == NODE_TABLE_IMPLICIT) {
                node->kind = NODE_TABLE;
                node->off = p->path_off[i];
                return n;
            }
            if (node->kind == NODE_TABLE)
                report(p, line, "duplicate table [%s] (already defined at line %u)", name, line_of(p, node->off));
            else
                report(p, line, "[%s] is an array of tables (line %u): write [[%s]]", name, line_of(p, node->off),
                       name);
            return -1;
        }
        if (node && node->kind != NODE_AOT) {
            report(p, line,
                   "cannot define array of tables [[%s]]: [%s] is already a table "
                   "(line %u)",
                   name, name, line_of(p, node->off));
            return -1;
        }
        if (!node)
            n = add_node(p, cur, p->path_off[i], p->path_len[i], NODE_AOT, line);
        if (n < 0)
            return -1;
        /* The element's "name" is its header, so line_of() finds it. */
        return add_node(p, (u32)n, p->path_off[0], 0, NODE_AOT_ELEM, line);
    }
    return -1; /* unreachable: depth >= 1 */
}

/* ------------------------------------------------------------------ keys */

/* A bare key at pos: A-Za-z0-9_- (TOML 1.0 "Keys"). */
static int parse_bare_key(struct toml_parser *p, const char *what, u32 *off, u8 *len)
{
    char b[12];
    int c = peek(p);

    if (c == '"' || c == '\'') {
        ERR(p, "quoted keys are not supported by Isthmus: use a bare key (letters, digits, "
               "'_' and '-')");
        return -1;
    }
    size_t start = p->pos;
    while (is_bare(peek(p)))
        p->pos++;
    size_t n = p->pos - start;
    if (n == 0) {
        ERR(p, "expected %s, found %s", what, describe(p, b));
        return -1;
    }
    if (n > TOML_MAX_KEY) {
        ERR(p, "key \"%.20s...\" is too long (%zu bytes; the limit is %d)", p->text + start, n, TOML_MAX_KEY);
        return -1;
    }
    *off = (u32)start;
    *len = (u8)n;
    return 0;
}

/* ------------------------------------------------------------------ values */

/* Appends n bytes to the string being built at p->pool + start. */
static int str_put(struct toml_parser *p, u32 start, const void *bytes, u32 n)
{
    if (p->pool_used - start + n > TOML_MAX_STRING) {
        ERR(p, "string is too long (the limit is %d bytes)", TOML_MAX_STRING);
        return -1;
    }
    if (p->pool_used + n + 1 > TOML_POOL_SIZE) {
        ERR(p, "the strings of this array are too long together (the limit is %d bytes)", TOML_POOL_SIZE);
        return -1;
    }
    memcpy(p->pool + p->pool_used, bytes, n);
    p->pool_used += n;
    return 0;
}

/* \uXXXX or \UXXXXXXXX at pos (on the backslash). */
static int parse_unicode_escape(struct toml_parser *p, u32 start)
{
    u32 ndig = peek_at(p, 1) == 'u' ? 4 : 8, cp = 0;
    u8 out[4];
    u32 n;

    for (u32 i = 0; i < ndig; i++) {
        int d = kxdigit(peek_at(p, 2 + i));
        if (d < 0) {
            ERR(p, "invalid escape \\%c: expected %u hexadecimal digits", peek_at(p, 1), ndig);
            return -1;
        }
        cp = cp << 4 | (u32)d;
    }
    if (cp == 0) {
        ERR(p, "the escape \\%c%.*s (NUL) is not supported by Isthmus", peek_at(p, 1), (int)ndig, p->text + p->pos + 2);
        return -1;
    }
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
        ERR(p, "escape \\%c%.*s is not a Unicode scalar value", peek_at(p, 1), (int)ndig, p->text + p->pos + 2);
        return -1;
    }
    if (cp < 0x80) {
        out[0] = (u8)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (u8)(0xC0 | cp >> 6);
        out[1] = (u8)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (u8)(0xE0 | cp >> 12);
        out[1] = (u8)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (u8)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        out[0] = (u8)(0xF0 | cp >> 18);
        out[1] = (u8)(0x80 | (cp >> 12 & 0x3F));
        out[2] = (u8)(0x80 | (cp >> 6 & 0x3F));
        out[3] = (u8)(0x80 | (cp & 0x3F));
        n = 4;
    }
    if (str_put(p, start, out, n) < 0)
        return -1;
    p->pos += 2 + ndig;
    return 0;
}

/* "..." (TOML 1.0 "Basic strings") or '...' ("Literal strings"), on one line. */
static int parse_string(struct toml_parser *p, struct toml_value *v)
{
    char quote = (char)peek(p);
    u32 start = p->pool_used;

    if (peek_at(p, 1) == quote && peek_at(p, 2) == quote) {
        ERR(p, "multi-line strings (%c%c%c) are not supported by Isthmus", quote, quote, quote);
        return -1;
    }
    p->pos++;
    for (;;) {
        int c = peek(p);
        if (is_eol(c)) {
            ERR(p, "unterminated string: missing closing %c before the end of the line", quote);
            return -1;
        }
        if (c == quote) {
            p->pos++;
            break;
        }
        if (c == '\\' && quote == '"') {
            int e = peek_at(p, 1);
            char ch;
            switch (e) {
            case 'b': ch = '\b'; break;
            case 't': ch = '\t'; break;
            case 'n': ch = '\n'; break;
            case 'f': ch = '\f'; break;
            case 'r': ch = '\r'; break;
            case '"': ch = '"'; break;
            case '\\': ch = '\\'; break;
            case 'u':
            case 'U':
                if (parse_unicode_escape(p, start) < 0)
                    return -1;
                continue;
            default:
                if (e > 0x20 && e < 0x7F)
                    ERR(p,
                        "invalid escape \\%c in a string (valid: \\b \\t \\n \\f \\r \\\" "
                        "\\\\ \\uXXXX \\UXXXXXXXX)",
                        e);
                else
                    ERR(p, "backslash at the end of a string or before a non-printable "
                           "character: write \\\\ for a backslash");
                return -1;
            }
            if (str_put(p, start, &ch, 1) < 0)
                return -1;
            p->pos += 2;
            continue;
        }
        if (str_put(p, start, &p->text[p->pos], 1) < 0)
            return -1;
        p->pos++;
    }
    p->pool[p->pool_used++] = '\0'; /* str_put left room */
    v->type = TOML_STRING;
    v->len = p->pool_used - 1 - start;
    v->s = p->pool + start;
    return 0;
}

static bool token_is(const char *t, size_t n, const char *word) { return strlen(word) == n && memcmp(t, word, n) == 0; }

static bool token_has(const char *t, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (t[i] == c)
            return true;
    return false;
}

/* Digits of base with '_' only between two of them (TOML 1.0 "Integer"). */
static int parse_digits(struct toml_parser *p, const char *t, size_t n, const char *show, u32 base, u64 limit, u64 *out)
{
    u64 v = 0;
    bool prev_digit = false;

    if (n == 0) {
        ERR(p, "invalid integer %s: no digits", show);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '_') {
            if (!prev_digit || i + 1 == n) {
                ERR(p, "invalid integer %s: '_' must be between two digits", show);
                return -1;
            }
            prev_digit = false;
            continue;
        }
        int d = kxdigit(t[i]);
        if (d < 0 || (u32)d >= base) {
            ERR(p, "invalid integer %s", show);
            return -1;
        }
        if (v > (limit - (u64)d) / base) {
            ERR(p, "integer %s does not fit in 64 bits (signed)", show);
            return -1;
        }
        v = v * base + (u64)d;
        prev_digit = true;
    }
    *out = v;
    return 0;
}

/* An unquoted value: a boolean or an integer, or something Isthmus does not support. */
static int parse_token(struct toml_parser *p, struct toml_value *v)
{
    const char *t = p->text + p->pos;
    size_t n = 0;
    char show[SHOW_MAX + 8];
    char b[12];

    while (p->pos + n < p->len && (is_bare(t[n]) || t[n] == '+' || t[n] == '.' || t[n] == ':'))
        n++;
    if (n == 0) {
        ERR(p, "expected a value, found %s", describe(p, b));
        return -1;
    }
    if (n > SHOW_MAX)
        ksnprintf(show, sizeof(show), "'%.*s...'", SHOW_MAX, t);
    else
        ksnprintf(show, sizeof(show), "'%.*s'", (int)n, t);

    if (token_is(t, n, "true") || token_is(t, n, "false")) {
        v->type = TOML_BOOL;
        v->b = t[0] == 't';
        v->len = 0;
        p->pos += n;
        return 0;
    }
    if (token_is(t, n, "inf") || token_is(t, n, "+inf") || token_is(t, n, "-inf") || token_is(t, n, "nan") ||
        token_is(t, n, "+nan") || token_is(t, n, "-nan")) {
        ERR(p, "floating-point numbers (%s) are not supported by Isthmus", show);
        return -1;
    }
    size_t i = (t[0] == '+' || t[0] == '-') ? 1 : 0;
    if (i >= n || !is_digit(t[i])) {
        if (token_is(t, n, "True") || token_is(t, n, "False") || token_is(t, n, "TRUE") || token_is(t, n, "FALSE"))
            ERR(p, "invalid value %s: booleans are written true and false", show);
        else
            ERR(p, "invalid value %s: put strings in quotes; booleans are true or false", show);
        return -1;
    }
    if (token_has(t, n, ':') ||
        (n >= 5 && is_digit(t[0]) && is_digit(t[1]) && is_digit(t[2]) && is_digit(t[3]) && t[4] == '-')) {
        ERR(p, "dates and times (%s) are not supported by Isthmus", show);
        return -1;
    }

    u64 mag;
    if (t[i] == '0' && i + 1 < n && (t[i + 1] == 'x' || t[i + 1] == 'o' || t[i + 1] == 'b')) {
        if (i) {
            ERR(p, "invalid integer %s: hexadecimal, octal and binary integers take no sign", show);
            return -1;
        }
        u32 base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : 2;
        if (parse_digits(p, t + 2, n - 2, show, base, (u64)INT64_MAX, &mag) < 0)
            return -1;
        v->i = (s64)mag;
    } else {
        bool is_float = token_has(t, n, '.') || token_has(t, n, 'e') || token_has(t, n, 'E');
        if (is_float) {
            ERR(p, "floating-point numbers (%s) are not supported by Isthmus", show);
            return -1;
        }
        if (t[i] == '0' && i + 1 < n) {
            if (t[i + 1] == 'X' || t[i + 1] == 'O' || t[i + 1] == 'B')
                ERR(p, "invalid integer %s: the prefixes are 0x, 0o and 0b, in lower case", show);
            else
                ERR(p, "invalid integer %s: leading zeros are not allowed", show);
            return -1;
        }
        bool neg = t[0] == '-';
        if (parse_digits(p, t + i, n - i, show, 10, neg ? (u64)INT64_MAX + 1 : (u64)INT64_MAX, &mag) < 0)
            return -1;
        v->i = neg ? (s64)(0 - mag) : (s64)mag; /* 0 - 2^63 wraps to INT64_MIN */
    }
    v->type = TOML_INT;
    v->len = 0;
    p->pos += n;
    return 0;
}

/* Whitespace, newlines and comments between array elements. */
static void skip_array_space(struct toml_parser *p)
{
    for (;;) {
        int c = peek(p);
        if (c == ' ' || c == '\t')
            p->pos++;
        else if (c == '\r' || c == '\n')
            consume_newline(p);
        else if (c == '#')
            skip_to_eol(p);
        else
            return;
    }
}

static int parse_scalar(struct toml_parser *p, struct toml_value *v, bool in_array)
{
    char b[12];
    int c = peek(p);

    if (c == '"' || c == '\'')
        return parse_string(p, v);
    if (c == '[') {
        ERR(p, "nested arrays are not supported by Isthmus");
        return -1;
    }
    if (c == '{') {
        ERR(p, "inline tables ({...}) are not supported by Isthmus: use a [table] header");
        return -1;
    }
    if (!in_array && (is_eol(c) || c == '#')) {
        ERR(p, "expected a value after '=', found %s", describe(p, b));
        return -1;
    }
    return parse_token(p, v);
}

static int parse_array(struct toml_parser *p, struct toml_value *v)
{
    char b[12];
    u32 count = 0;

    p->in_array = true;
    p->array_line = p->line;
    p->pos++;
    p->array_pos = p->pos;
    for (;;) {
        skip_array_space(p);
        if (peek(p) == ']')
            break;
        if (peek(p) < 0)
            goto unclosed;
        if (count == TOML_MAX_ARRAY) {
            ERR(p, "array has more than %d elements", TOML_MAX_ARRAY);
            return -1;
        }
        if (parse_scalar(p, &p->items[count], true) < 0)
            return -1;
        count++;
        skip_array_space(p);
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        if (peek(p) == ']')
            break;
        if (peek(p) < 0)
            goto unclosed;
        ERR(p, "expected ',' or ']' after an array element, found %s", describe(p, b));
        return -1;
    }
    p->pos++;
    p->in_array = false;
    v->type = TOML_ARRAY;
    v->len = count;
    v->items = p->items;
    return 0;
unclosed:
    report(p, p->array_line, "unclosed array: missing ']'");
    return -1;
}

/* ------------------------------------------------------------------ statements */

static int expect_eol(struct toml_parser *p, const char *after)
{
    char b[12];

    skip_ws(p);
    if (peek(p) == '#')
        skip_to_eol(p);
    if (is_eol(peek(p)))
        return 0;
    ERR(p, "expected the end of the line after %s, found %s", after, describe(p, b));
    return -1;
}

static int parse_header(struct toml_parser *p, bool *aot)
{
    char b[12];

    *aot = peek_at(p, 1) == '[';
    p->pos += *aot ? 2 : 1;
    p->depth = 0;
    for (;;) {
        skip_ws(p);
        if (p->depth == TOML_MAX_DEPTH) {
            ERR(p, "table name has too many parts (the limit is %d)", TOML_MAX_DEPTH);
            return -1;
        }
        u32 off;
        u8 len;
        if (parse_bare_key(p, "a table name", &off, &len) < 0)
            return -1;
        p->path_off[p->depth] = off;
        p->path_len[p->depth] = len;
        memcpy(p->path[p->depth], p->text + off, len);
        p->path[p->depth][len] = '\0';
        p->depth++;
        skip_ws(p);
        if (peek(p) != '.')
            break;
        p->pos++;
    }
    if (*aot) {
        if (peek(p) == ']' && peek_at(p, 1) == ']') {
            p->pos += 2;
            return 0;
        }
        ERR(p, "expected ']]' to close the array-of-tables header, found %s", describe(p, b));
        return -1;
    }
    if (peek(p) == ']') {
        p->pos++;
        return 0;
    }
    ERR(p, "expected ']' to close the table header, found %s", describe(p, b));
    return -1;
}

static int parse_keyval(struct toml_parser *p)
{
    char b[12];

    if (parse_bare_key(p, "a key or a [table] header", &p->key_off, &p->key_len) < 0)
        return -1;
    memcpy(p->key, p->text + p->key_off, p->key_len);
    p->key[p->key_len] = '\0';
    skip_ws(p);
    if (peek(p) == '.') {
        ERR(p,
            "dotted keys are not supported by Isthmus: put the key under a [table] header "
            "(such as [%s])",
            p->key);
        return -1;
    }
    if (peek(p) != '=') {
        ERR(p, "expected '=' after the key \"%s\", found %s", p->key, describe(p, b));
        return -1;
    }
    p->pos++;
    skip_ws(p);
    if (peek(p) == '[')
        return parse_array(p, &p->value);
    return parse_scalar(p, &p->value, false);
}

static int define_key(struct toml_parser *p, u32 line)
{
    if (p->table < 0)
        return 0; /* the header had an error: check syntax only */
    s32 n = find_child(p, (u32)p->table, p->key_off, p->key_len);
    if (n >= 0) {
        const struct toml_node *node = &p->nodes[n];
        if (node->kind == NODE_KEY)
            report(p, line, "duplicate key \"%s\" (first defined at line %u)", p->key, line_of(p, node->off));
        else
            report(p, line, "key \"%s\" clashes with the table of the same name (line %u)", p->key,
                   line_of(p, node->off));
        return -1;
    }
    if (add_node(p, (u32)p->table, p->key_off, p->key_len, NODE_KEY, line) < 0)
        return -1;
    if (p->h->on_keyval && !p->h->on_keyval(p->h->ctx, p->key, &p->value, line))
        p->stopped = true;
    return 0;
}

/* For the line scanners: whether the character at *i is part of a string (or
 * opens or closes one), tracking the open quote in *quote and stepping over an
 * escaped character in basic strings. Such characters must not be interpreted. */
static bool in_string(const struct toml_parser *p, size_t *i, char *quote)
{
    char c = p->text[*i];
    if (*quote) {
        if (c == '\\' && *quote == '"' && *i + 1 < p->len && p->text[*i + 1] != '\n')
            (*i)++;
        else if (c == *quote)
            *quote = 0;
        return true;
    }
    if (c == '"' || c == '\'') {
        *quote = c;
        return true;
    }
    return false;
}

static bool line_looks_like_statement(const struct toml_parser *p, size_t i)
{
    while (i < p->len && (p->text[i] == ' ' || p->text[i] == '\t'))
        i++;
    if (i >= p->len)
        return false;
    bool header = p->text[i] == '[';
    if (!header && !is_bare((u8)p->text[i]))
        return false;
    char quote = 0;
    for (; i < p->len && p->text[i] != '\n'; i++) {
        char c = p->text[i];
        if (in_string(p, &i, &quote)) {
            continue;
        } else if (c == '#') {
            break;
        } else if (c == ',' && header) {
            return false; /* [1, 2], an array element */
        } else if (c == '=' && !header) {
            return true;
        }
    }
    return header;
}

/* After an error inside an array: resume after its ']' when it can be found, else at
 * the next line that looks like a statement, so the elements that follow are not
 * reported as broken statements of their own. */
static void recover_array(struct toml_parser *p)
{
    size_t i = p->pos;
    int depth = 0;

    while (i > p->array_pos && p->text[i - 1] != '\n')
        i--;
    for (;;) {
        char quote = 0;
        for (; i < p->len && p->text[i] != '\n'; i++) {
            char c = p->text[i];
            if (in_string(p, &i, &quote)) {
                continue;
            } else if (c == '#') {
                while (i < p->len && p->text[i] != '\n')
                    i++;
                break;
            } else if (c == '[') {
                depth++;
            } else if (c == ']' && depth-- == 0) {
                p->pos = i;
                skip_to_eol(p);
                return;
            }
        }
        /* i is on '\n' or at the end. */
        p->pos = i;
        if (i >= p->len || line_looks_like_statement(p, i + 1))
            break;
        consume_newline(p);
        i = p->pos;
    }
    if (p->pos > 0 && p->text[p->pos - 1] == '\r' && peek(p) == '\n')
        p->pos--; /* leave the whole CRLF to the main loop */
}

static void recover(struct toml_parser *p)
{
    if (p->in_array)
        recover_array(p);
    else
        skip_to_eol(p);
    p->in_array = false;
}

int toml_parse(struct toml_parser *p, const char *text, size_t len, const struct toml_handler *h)
{
    p->h = h;
    p->text = text;
    p->len = len;
    p->pos = 0;
    p->line = 1;
    p->nerrors = 0;
    p->stopped = false;
    p->in_array = false;
    p->table = 0;
    p->nnodes = 1;
    p->nodes[0] = (struct toml_node){ .kind = NODE_ROOT };

    if (len > TOML_MAX_FILE) {
        report(p, 0, "the file is larger than the limit of %u bytes (%u KiB)", TOML_MAX_FILE, TOML_MAX_FILE / 1024);
        return -EINVAL;
    }
    if (!check_encoding(p))
        return -EINVAL; /* the statements of such a file would only add noise */

    while (p->pos < p->len && !p->stopped) {
        skip_ws(p);
        int c = peek(p);
        u32 line = p->line;
        p->pool_used = 0;
        if (c == '#') {
            skip_to_eol(p);
        } else if (c == '[') {
            bool aot;
            s32 t = -1;
            if (parse_header(p, &aot) == 0 && expect_eol(p, "the table header") == 0)
                t = open_table(p, aot, line);
            else
                recover(p);
            p->table = t;
            if (t >= 0 && h->on_table) {
                const char *segs[TOML_MAX_DEPTH];
                for (u32 i = 0; i < p->depth; i++)
                    segs[i] = p->path[i];
                if (!h->on_table(h->ctx, segs, p->depth, aot, line))
                    p->stopped = true;
            }
        } else if (!is_eol(c)) {
            if (parse_keyval(p) == 0 && expect_eol(p, "the value") == 0)
                (void)define_key(p, line);
            else
                recover(p);
        }
        consume_newline(p);
    }
    return p->nerrors ? -EINVAL : 0;
}
