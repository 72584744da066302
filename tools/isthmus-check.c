/* isthmus-check: validates Isthmus configuration files on the build host with the
 * parser the hypervisor runs (kernel/core/config.c, kernel/lib/toml.c).
 *
 *   isthmus-check FILE...          check each file; errors as FILE:LINE: message
 *   isthmus-check --keys           list the tables and keys the schema knows
 *   isthmus-check --dump FILE...   print the generic TOML parse as JSON lines (for tests):
 *                                  {"file":...} then {"table":[...],"array":...,"line":...}
 *                                  and {"key":...,"line":...,"value":...} in document order
 *
 * Exit status: 0 all files valid, 1 some file has errors, 2 usage or I/O error. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kernel/core/config.h"
#include "kernel/lib/toml.h"

static char text[TOML_MAX_FILE + 1]; /* one byte more, so config_parse sees an oversize file */

static void usage(FILE *f)
{
    fprintf(f, "usage: isthmus-check FILE...\n"
               "       isthmus-check --keys\n"
               "       isthmus-check --dump FILE...\n"
               "Checks Isthmus configuration files (docs/configuration.md). Exit status:\n"
               "0 all valid, 1 errors found, 2 usage or I/O error.\n");
}

/* Reads at most sizeof(text) bytes. Returns the length, or -1 after printing why. */
static long read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "isthmus-check: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = fread(text, 1, sizeof(text), f);
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) {
        fprintf(stderr, "isthmus-check: %s: %s\n", path, strerror(err));
        return -1;
    }
    return (long)n;
}

static int check(const char *path)
{
    static struct config_diag diag;
    struct isthmus_config cfg;
    char line[CONFIG_MSG_MAX + 4096];

    long n = read_file(path);
    if (n < 0)
        return 2;
    if (config_parse(text, (size_t)n, &cfg, &diag) == 0) {
        config_summary(&cfg, line, sizeof(line));
        printf("%s: ok (%s)\n", path, line);
        return 0;
    }
    for (u32 i = 0; i < diag.nerrors; i++) {
        config_format_error(&diag, i, path, line, sizeof(line));
        fprintf(stderr, "%s\n", line);
    }
    if (diag.more_errors)
        fprintf(stderr, "%s: too many errors; only the first %d are shown\n", path, CONFIG_MAX_ERRORS);
    return 1;
}

/* ------------------------------------------------------------------ --keys */

static const char *const type_names[] = {
    [CONFIG_BOOL] = "boolean",  [CONFIG_INT] = "integer",     [CONFIG_ENUM] = "string",
    [CONFIG_STRING] = "string", [CONFIG_CUSTOM] = "see help",
};

static int list_keys(void)
{
    const struct config_schema *s = &config_schema_isthmus;

    for (u32 i = 0; i < s->ntables; i++) {
        const struct config_table *t = &s->tables[i];
        if (t->array)
            printf("[[%s]]  %s (at most %u)\n", t->name, t->help, t->max_count);
        else
            printf("[%s]  %s\n", t->name, t->help);
        for (u32 k = 0; k < t->nkeys; k++)
            printf("  %-12s %-8s %s%s\n", t->keys[k].name, type_names[t->keys[k].type],
                   t->keys[k].required ? "(required) " : "", t->keys[k].help);
    }
    return 0;
}

/* ------------------------------------------------------------------ --dump */

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c == 0x7F)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void json_value(const struct toml_value *v)
{
    switch (v->type) {
    case TOML_STRING: json_string(v->s); break;
    case TOML_INT: printf("%lld", (long long)v->i); break;
    case TOML_BOOL: printf(v->b ? "true" : "false"); break;
    case TOML_ARRAY:
        putchar('[');
        for (u32 i = 0; i < v->len; i++) {
            if (i)
                putchar(',');
            json_value(&v->items[i]);
        }
        putchar(']');
        break;
    }
}

static bool dump_table(void *ctx, const char *const *path, u32 depth, bool aot, u32 line)
{
    printf("{\"table\":[");
    for (u32 i = 0; i < depth; i++) {
        if (i)
            putchar(',');
        json_string(path[i]);
    }
    printf("],\"array\":%s,\"line\":%u}\n", aot ? "true" : "false", line);
    return true;
}

static bool dump_keyval(void *ctx, const char *key, const struct toml_value *v, u32 line)
{
    printf("{\"key\":");
    json_string(key);
    printf(",\"line\":%u,\"value\":", line);
    json_value(v);
    printf("}\n");
    return true;
}

struct dump_ctx {
    const char *path;
    u32 errors;
};

static bool dump_error(void *ctx, u32 line, const char *msg)
{
    struct dump_ctx *d = ctx;
    if (line)
        fprintf(stderr, "%s:%u: %s\n", d->path, line, msg);
    else
        fprintf(stderr, "%s: %s\n", d->path, msg);
    if (++d->errors < 1000)
        return true;
    fprintf(stderr, "%s: too many errors; stopping\n", d->path);
    return false;
}

static int dump(const char *path)
{
    static struct toml_parser parser;
    struct dump_ctx d = { path, 0 };
    struct toml_handler h = {
        .ctx = &d,
        .on_table = dump_table,
        .on_keyval = dump_keyval,
        .on_error = dump_error,
    };

    long n = read_file(path);
    if (n < 0)
        return 2;
    printf("{\"file\":");
    json_string(path);
    printf("}\n");
    int rc = toml_parse(&parser, text, (size_t)n, &h);
    fflush(stdout);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    bool dump_mode = false;
    int first = 1, status = 0;

    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "--keys"))
        return list_keys();
    if (argc >= 2 && !strcmp(argv[1], "--dump")) {
        dump_mode = true;
        first = 2;
    }
    if (first >= argc) {
        usage(stderr);
        return 2;
    }
    for (int i = first; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "isthmus-check: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    for (int i = first; i < argc; i++) {
        int rc = dump_mode ? dump(argv[i]) : check(argv[i]);
        if (rc > status)
            status = rc;
    }
    return status;
}
