/* libFuzzer target for the configuration parser: config_parse() on arbitrary bytes, then
 * the generic TOML layer with a handler that checks what it is handed. Any invariant
 * broken traps; ASan/UBSan catch the rest. `make fuzz-config` runs it. */
#include <stdint.h>
#include <string.h>

#include "kernel/core/config.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/toml.h"

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            __builtin_trap();                                                                                          \
    } while (0)

static bool in_set(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(s, *set))
            return true;
    return false;
}

static void check_config(const uint8_t *data, size_t size)
{
    static const char *const consoles[] = { "com1", "com2", "com3", "com4", "none", NULL };
    struct config_diag diag;
    struct isthmus_config cfg, def;
    char line[512];

    config_defaults(&def);
    int rc = config_parse((const char *)data, size, &cfg, &diag);
    CHECK(rc == 0 || rc == -EINVAL);
    CHECK(diag.nerrors <= CONFIG_MAX_ERRORS);
    CHECK(!diag.more_errors || diag.nerrors == CONFIG_MAX_ERRORS);
    if (rc == 0) {
        CHECK(diag.nerrors == 0);
        CHECK(cfg.log_level <= LOG_DEBUG);
        CHECK(in_set(cfg.console, consoles));
        CHECK(cfg.baud == 9600 || cfg.baud == 19200 || cfg.baud == 38400 || cfg.baud == 57600 || cfg.baud == 115200);
        CHECK((cfg.console_port == 0) == !strcmp(cfg.console, "none"));
        config_summary(&cfg, line, sizeof(line));
        return;
    }
    CHECK(diag.nerrors > 0);
    CHECK(memcmp(&cfg, &def, sizeof(cfg)) == 0); /* a bad file configures nothing */
    for (u32 i = 0; i < diag.nerrors; i++) {
        CHECK(strnlen(diag.err[i].msg, CONFIG_MSG_MAX) < CONFIG_MSG_MAX);
        CHECK(diag.err[i].msg[0] != '\0');
        CHECK(i == 0 || diag.err[i - 1].line <= diag.err[i].line);
        config_format_error(&diag, i, "fuzz.toml", line, sizeof(line));
    }
}

struct seen {
    u32 last_line;
    u32 errors;
};

static void check_value(const struct toml_value *v, bool in_array)
{
    switch (v->type) {
    case TOML_STRING: CHECK(v->len <= TOML_MAX_STRING && strlen(v->s) == v->len); break;
    case TOML_INT:
    case TOML_BOOL: break;
    case TOML_ARRAY:
        CHECK(!in_array && v->len <= TOML_MAX_ARRAY);
        for (u32 i = 0; i < v->len; i++)
            check_value(&v->items[i], true);
        break;
    default: CHECK(0);
    }
}

static bool on_table(void *ctx, const char *const *path, u32 depth, bool aot, u32 line)
{
    struct seen *s = ctx;
    CHECK(depth >= 1 && depth <= TOML_MAX_DEPTH);
    for (u32 i = 0; i < depth; i++)
        CHECK(strlen(path[i]) >= 1 && strlen(path[i]) <= TOML_MAX_KEY);
    CHECK(line >= s->last_line);
    s->last_line = line;
    return true;
}

static bool on_keyval(void *ctx, const char *key, const struct toml_value *v, u32 line)
{
    struct seen *s = ctx;
    CHECK(strlen(key) >= 1 && strlen(key) <= TOML_MAX_KEY);
    CHECK(line >= s->last_line);
    s->last_line = line;
    check_value(v, false);
    return true;
}

static bool on_error(void *ctx, u32 line, const char *msg)
{
    struct seen *s = ctx;
    CHECK(strlen(msg) < TOML_MSG_MAX && msg[0]);
    s->errors++;
    return s->errors < 1000;
}

/* libFuzzer's entry points, which it declares itself. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct toml_parser parser;
    struct seen s = { 0 };
    struct toml_handler h = { &s, on_table, on_keyval, on_error };

    check_config(data, size);
    int rc = toml_parse(&parser, (const char *)data, size, &h);
    CHECK(rc == 0 ? s.errors == 0 : rc == -EINVAL && s.errors > 0);
    return 0;
}
