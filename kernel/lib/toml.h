/* A streaming parser for the subset of TOML 1.0 that Isthmus configuration files use
 * (docs/configuration.md). Every document it accepts is accepted by any TOML 1.0 parser
 * with the same meaning; what TOML has beyond the subset (dotted and quoted keys, inline
 * tables, floats, dates, multi-line strings, nested arrays) is rejected with a message
 * saying Isthmus does not support it.
 *
 * The parser allocates nothing and keeps no global state: all of it is in the
 * struct toml_parser the caller provides (about 4.5 KiB, see the static assertion in
 * toml.c). It reports what it finds through callbacks, in document order. Strings
 * handed to a callback (table path, key, string values) live in the parser and are
 * valid only during that callback.
 *
 * Errors do not stop the parse: after a syntax error it resumes at the next line
 * (after the end of the array when the error was inside a multi-line array), so a
 * file with several mistakes gets all of them reported. Keys after a table header
 * that had an error are checked for syntax but not delivered. */
#ifndef ISTHMUS_KERNEL_TOML_H
#define ISTHMUS_KERNEL_TOML_H

#include "kernel/lib/types.h"

/* Limits. Exceeding any of them is reported as an error, never truncated. */
#define TOML_MAX_FILE   (256u * 1024) /* bytes in a document */
#define TOML_MAX_KEY    64            /* bytes in a bare key, table path segments too */
#define TOML_MAX_DEPTH  4             /* segments in a table header path [a.b.c.d] */
#define TOML_MAX_STRING 255           /* bytes in one string value, after escapes */
#define TOML_MAX_ARRAY  64            /* elements in one array */
#define TOML_POOL_SIZE  1024          /* bytes of all strings of one value, with a NUL each */
#define TOML_MAX_NODES  256           /* tables, array-of-table elements and keys, + 1 root */
#define TOML_MSG_MAX    160           /* an error message, with its NUL */

enum toml_type { TOML_STRING, TOML_INT, TOML_BOOL, TOML_ARRAY };

/* A value. TOML_ARRAY elements are scalars (never arrays); TOML 1.0 allows mixed
 * element types, so the consumer checks them. */
struct toml_value {
    enum toml_type type;
    u32 len; /* TOML_STRING: bytes; TOML_ARRAY: elements */
    union {
        const char *s; /* UTF-8, NUL-terminated, never contains NUL */
        s64 i;
        bool b;
        const struct toml_value *items;
    };
};

/* Each callback returns true to go on, false to stop the parse. Any may be NULL. */
struct toml_handler {
    void *ctx;
    /* A [table] or [[array.of.tables]] header: path[0..depth) are its segments. */
    bool (*on_table)(void *ctx, const char *const *path, u32 depth, bool array_of_tables, u32 line);
    /* key = value, in the table of the last header (or the root before any header). */
    bool (*on_keyval)(void *ctx, const char *key, const struct toml_value *v, u32 line);
    /* A syntax or structure error. Line 0 means the whole document (e.g. its size). */
    bool (*on_error)(void *ctx, u32 line, const char *msg);
};

/* Records every table and key seen so far, to detect duplicates and conflicts
 * between keys and tables as TOML requires. Names are offsets into the document. */
struct toml_node {
    u32 off;    /* name (or header, for an array element) in the document */
    u16 parent; /* index of the parent node; 0 is the root */
    u8 len;     /* name length */
    u8 kind;    /* enum toml_node_kind in toml.c */
};

struct toml_parser {
    const struct toml_handler *h;
    /* Document and cursor. */
    const char *text;
    size_t len;
    size_t pos;
    u32 line;
    /* Outcome. */
    u32 nerrors;
    bool stopped; /* a callback asked to stop, or a limit made going on pointless */
    /* The array being parsed, for error recovery. */
    bool in_array;
    size_t array_pos; /* just after its '[' */
    u32 array_line;
    /* Current table: node index, or -1 after a bad header (keys are then not delivered). */
    s32 table;
    /* Scratch for the statement being parsed. */
    char key[TOML_MAX_KEY + 1];
    u32 key_off;
    u8 key_len;
    u8 depth;
    char path[TOML_MAX_DEPTH][TOML_MAX_KEY + 1];
    u32 path_off[TOML_MAX_DEPTH];
    u8 path_len[TOML_MAX_DEPTH];
    struct toml_value value;
    struct toml_value items[TOML_MAX_ARRAY];
    char pool[TOML_POOL_SIZE];
    u32 pool_used;
    u32 nnodes;
    struct toml_node nodes[TOML_MAX_NODES];
};

/* Parses text[0..len) (need not be NUL-terminated). Returns 0 if no error was reported
 * (p->stopped tells whether a callback cut the parse short), -EINVAL otherwise. */
int toml_parse(struct toml_parser *p, const char *text, size_t len, const struct toml_handler *h) __must_check;

/* "a string", "an integer", "a boolean", "an array". */
const char *toml_type_name(enum toml_type t);

#endif
