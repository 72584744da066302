/* The configuration schema and the code that applies it to what kernel/lib/toml.c parses.
 * See config.h for the shape of a schema and docs/configuration.md for the keys. */
#include "kernel/core/config.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

#define SHOW_MAX 40 /* bytes of a string value quoted in a message */

/* ------------------------------------------------------------------ the Isthmus schema */

static const char *const log_level_choices[] = { "error", "warn", "info", "debug", NULL };

static void apply_log_level(void *obj, s64 num, const char *str)
{
    struct isthmus_config *cfg = obj;
    enum log_level lvl;

    if (log_level_parse(str, &lvl) == 0) /* cannot fail: str is one of the choices */
        cfg->log_level = lvl;
}

/* 16550-compatible UARTs at the legacy PC I/O ports. */
static const char *const console_choices[] = { "com1", "com2", "com3", "com4", "none", NULL };
static const u16 console_ports[] = { 0x3F8, 0x2F8, 0x3E8, 0x2E8, 0 };
STATIC_ASSERT(ARRAY_SIZE(console_ports) + 1 == ARRAY_SIZE(console_choices), "a port for each console choice");

static void apply_console(void *obj, s64 num, const char *str)
{
    struct isthmus_config *cfg = obj;

    kstrlcpy(cfg->console, str, sizeof(cfg->console));
    cfg->console_port = console_ports[num];
}

static const s64 baud_rates[] = { 9600, 19200, 38400, 57600, 115200 };

/* Order matches enum config_iommu. */
static const char *const iommu_choices[] = { "auto", "required", "optional", NULL };

#define FIELD(type, f) .offset = offsetof(type, f), .size = sizeof(((type *)0)->f)

static const struct config_key hypervisor_keys[] = {
    {
        .name = "log_level",
        .type = CONFIG_ENUM,
        FIELD(struct isthmus_config, log_level),
        .choices = log_level_choices,
        .apply = apply_log_level,
        .help = "messages printed on the console: \"error\", \"warn\", \"info\" (default) "
                "or \"debug\"",
    },
    {
        .name = "console",
        .type = CONFIG_ENUM,
        FIELD(struct isthmus_config, console),
        .choices = console_choices,
        .apply = apply_console,
        .help = "serial port of the console: \"com1\" (default, port 0x3f8), \"com2\", "
                "\"com3\", \"com4\" or \"none\"",
    },
    {
        .name = "baud",
        .type = CONFIG_INT,
        FIELD(struct isthmus_config, baud),
        .min = 9600,
        .max = 115200,
        .allowed = baud_rates,
        .nallowed = ARRAY_SIZE(baud_rates),
        .help = "console speed: 9600, 19200, 38400, 57600 or 115200 (default)",
    },
    {
        .name = "banner",
        .type = CONFIG_BOOL,
        FIELD(struct isthmus_config, banner),
        .help = "print the boot banner: true (default) or false",
    },
    {
        .name = "reserve_cpu0",
        .type = CONFIG_BOOL,
        FIELD(struct isthmus_config, reserve_cpu0),
        .help = "keep CPU 0 for the shell and management, out of every partition: true (default) or false",
    },
    {
        .name = "iommu",
        .type = CONFIG_ENUM,
        FIELD(struct isthmus_config, iommu),
        .choices = iommu_choices,
        .help = "DMA isolation of assigned PCI devices: \"required\" (a device no usable VT-d/AMD-Vi unit "
                "covers is not assigned), \"optional\" (it is, with a warning: it can DMA anywhere) or "
                "\"auto\" (default: required when the machine has a usable unit, else optional)",
    },
};

static void *hypervisor_object(void *cfg, u32 index) { return cfg; }

#include "kernel/core/config_partition.inc"
#include "kernel/core/config_failover.inc"

static const struct config_table isthmus_tables[] = {
    {
        .name = "hypervisor",
        .keys = hypervisor_keys,
        .nkeys = ARRAY_SIZE(hypervisor_keys),
        .object_size = sizeof(struct isthmus_config),
        .object = hypervisor_object,
        .help = "settings of the hypervisor itself",
    },
    {
        .name = "partition",
        .array = true,
        .max_count = CONFIG_MAX_PARTITIONS,
        .keys = partition_keys,
        .nkeys = ARRAY_SIZE(partition_keys),
        .object_size = sizeof(struct config_partition),
        .object = partition_object,
        .finish = partition_finish,
        .help = "a partition: its CPUs, memory, kernel and command line",
    },
    {
        .name = "network",
        .keys = network_keys,
        .nkeys = ARRAY_SIZE(network_keys),
        .object_size = sizeof(struct isthmus_config),
        .object = hypervisor_object,
        .help = "the switch between the partitions' NICs",
    },
    {
        .name = "failover",
        .array = true,
        .max_count = CONFIG_MAX_GROUPS,
        .keys = failover_keys,
        .nkeys = ARRAY_SIZE(failover_keys),
        .object_size = sizeof(struct config_failover),
        .object = failover_object,
        .finish = failover_finish,
        .at_line = failover_at_line,
        .help = "a service with a primary and a standby, watched by heartbeats (docs/failover.md)",
    },
};

static void defaults_isthmus(void *cfg) { config_defaults(cfg); }

const struct config_schema config_schema_isthmus = {
    .tables = isthmus_tables,
    .ntables = ARRAY_SIZE(isthmus_tables),
    .defaults = defaults_isthmus,
    .finish = failover_resolve,
};

void config_defaults(struct isthmus_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_level = LOG_INFO;
    kstrlcpy(cfg->console, "com1", sizeof(cfg->console));
    cfg->console_port = 0x3F8;
    cfg->baud = 115200;
    cfg->banner = true;
    cfg->reserve_cpu0 = true;
    cfg->iommu = CONFIG_IOMMU_AUTO;
    cfg->mac_age = 300;
    cfg->net_mtu = NIC_MTU_DEFAULT;
}

void config_summary(const struct isthmus_config *cfg, char *buf, size_t size)
{
    size_t n = (size_t)ksnprintf(buf, size, "log_level=%s console=%s baud=%u banner=%s reserve_cpu0=%s partitions=%u",
                                 log_level_name(cfg->log_level), cfg->console, cfg->baud,
                                 cfg->banner ? "true" : "false", cfg->reserve_cpu0 ? "true" : "false",
                                 cfg->npartitions);
    for (u32 i = 0; i < cfg->npartitions && n < size; i++) {
        const struct config_partition *p = &cfg->partition[i];
        n += (size_t)ksnprintf(buf + n, size - n, " [%s cpus=", p->name);
        if (!p->cpu_list) {
            n += n < size ? (size_t)ksnprintf(buf + n, size - n, "%u", p->ncpus) : 0;
        } else {
            for (u32 c = 0; c < p->ncpus && n < size; c++)
                n += (size_t)ksnprintf(buf + n, size - n, "%s%u", c ? "," : "(", p->cpus[c]);
            n += n < size ? (size_t)ksnprintf(buf + n, size - n, ")") : 0;
        }
        if (n < size)
            n += (size_t)ksnprintf(buf + n, size - n, " memory=%llu %s]", (unsigned long long)p->memory,
                                   p->start ? "running" : "stopped");
    }
}

/* ------------------------------------------------------------------ messages */

struct msgbuf {
    char *buf;
    size_t size;
    size_t used;
};

static void __printf(2, 3) put(struct msgbuf *m, const char *fmt, ...)
{
    va_list ap;

    if (m->used >= m->size)
        return;
    va_start(ap, fmt);
    int n = kvsnprintf(m->buf + m->used, m->size - m->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        m->used += (size_t)n;
}

/* A string in quotes, escaped like TOML (also what would break a line of output), at
 * most SHOW_MAX bytes of it. */
static void put_quoted(struct msgbuf *m, const char *s, size_t len)
{
    size_t shown = 0;

    put(m, "\"");
    for (size_t i = 0; i < len;) {
        u8 c = (u8)s[i];
        size_t n = MIN(c < 0x80 ? 1u : c >= 0xF0 ? 4u : c >= 0xE0 ? 3u : 2u, len - i);
        if (shown + n > SHOW_MAX) {
            put(m, "...");
            break;
        }
        if (c == '"' || c == '\\')
            put(m, "\\%c", c);
        else if (c == '\n')
            put(m, "\\n");
        else if (c == '\t')
            put(m, "\\t");
        else if (c < 0x20 || c == 0x7F)
            put(m, "\\u%04x", c);
        else if (n == 2 && c == 0xC2 && (u8)s[i + 1] < 0xA0) /* C1 controls */
            put(m, "\\u%04x", (u8)s[i + 1]);
        else if (n == 3 && c == 0xE2 && (u8)s[i + 1] == 0x80 &&
                 ((u8)s[i + 2] == 0xA8 || (u8)s[i + 2] == 0xA9)) /* line/paragraph separator */
            put(m, "\\u%04x", 0x2000 | ((u8)s[i + 2] & 0x3F));
        else
            put(m, "%.*s", (int)n, s + i);
        shown += n;
        i += n;
    }
    put(m, "\"");
}

static void put_value(struct msgbuf *m, const struct toml_value *v)
{
    switch (v->type) {
    case TOML_STRING: put_quoted(m, v->s, v->len); break;
    case TOML_INT: put(m, "%lld", (long long)v->i); break;
    case TOML_BOOL: put(m, "%s", v->b ? "true" : "false"); break;
    case TOML_ARRAY: put(m, "an array"); break;
    }
}

static void put_table_name(struct msgbuf *m, const struct config_table *t)
{
    put(m, t->array ? "[[%s]]" : "[%s]", t->name);
}

/* Edit distance (insertions, deletions, substitutions) capped at 3, for "did you mean". */
static u32 distance(const char *a, const char *b)
{
    u8 prev[TOML_MAX_KEY + 2], cur[TOML_MAX_KEY + 2];
    size_t la = strlen(a), lb = strlen(b);

    if (la > TOML_MAX_KEY || lb > TOML_MAX_KEY)
        return 3;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (u8)MIN(j, 3u);
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (u8)MIN(i, 3u);
        for (size_t j = 1; j <= lb; j++) {
            u32 sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            u32 best = MIN(sub, (u32)MIN(prev[j], cur[j - 1]) + 1);
            cur[j] = (u8)MIN(best, 3u);
        }
        memcpy(prev, cur, lb + 1);
    }
    return prev[lb];
}

static bool similar(const char *typed, const char *known)
{
    size_t n = strlen(known);
    return distance(typed, known) <= (n > 4 ? 2u : 1u);
}

/* ------------------------------------------------------------------ applying the schema */

struct cparse {
    const struct config_schema *s;
    void *cfg;
    struct config_diag *diag;
    const struct config_table *table; /* NULL at the root or after a rejected header */
    bool in_table;                    /* false only before the first header */
    void *obj;
    u32 table_line;
    u64 seen;                     /* keys of the current table seen so far */
    u32 count[CONFIG_MAX_TABLES]; /* elements of each array table */
};

STATIC_ASSERT(sizeof(u64) * 8 >= CONFIG_MAX_KEYS, "seen is a u64 mask");

static bool add_error(struct cparse *c, u32 line, const char *msg)
{
    struct config_diag *d = c->diag;

    if (d->nerrors == CONFIG_MAX_ERRORS) {
        d->more_errors = true;
        return false; /* nothing more would be shown */
    }
    d->err[d->nerrors].line = line;
    kstrlcpy(d->err[d->nerrors].msg, msg, sizeof(d->err[0].msg));
    d->nerrors++;
    return true;
}

static bool on_error(void *ctx, u32 line, const char *msg) { return add_error(ctx, line, msg); }

/* The end of a table: required keys and cross-key checks. */
static bool finish_table(struct cparse *c)
{
    const struct config_table *t = c->table;
    char msg[CONFIG_MSG_MAX];
    struct msgbuf m = { msg, sizeof(msg), 0 };

    if (!t)
        return true;
    c->table = NULL;
    for (u32 i = 0; i < t->nkeys; i++) {
        if (t->keys[i].required && !(c->seen & BIT(i))) {
            m.used = 0;
            put_table_name(&m, t);
            put(&m, ": missing required key \"%s\"", t->keys[i].name);
            if (!add_error(c, c->table_line, msg))
                return false;
        }
    }
    if (t->finish && t->finish(c->cfg, c->obj, msg, sizeof(msg)) < 0)
        return add_error(c, c->table_line, msg);
    return true;
}

static bool on_table(void *ctx, const char *const *path, u32 depth, bool aot, u32 line)
{
    struct cparse *c = ctx;
    const struct config_table *t = NULL;
    char msg[CONFIG_MSG_MAX];
    struct msgbuf m = { msg, sizeof(msg), 0 };

    if (!finish_table(c))
        return false;
    c->in_table = true;
    for (u32 i = 0; depth == 1 && i < c->s->ntables; i++)
        if (strcmp(path[0], c->s->tables[i].name) == 0)
            t = &c->s->tables[i];
    if (!t) {
        put(&m, "unknown %s%s", aot ? "array of tables [[" : "table [", path[0]);
        for (u32 i = 1; i < depth; i++)
            put(&m, ".%s", path[i]);
        put(&m, "%s", aot ? "]]" : "]");
        for (u32 i = 0; depth == 1 && i < c->s->ntables; i++)
            if (similar(path[0], c->s->tables[i].name)) {
                put(&m, " (did you mean ");
                put_table_name(&m, &c->s->tables[i]);
                put(&m, "?)");
                break;
            }
        return add_error(c, line, msg);
    }
    if (t->array != aot) {
        put(&m, "%s%s%s must be written ", aot ? "[[" : "[", t->name, aot ? "]]" : "]");
        put_table_name(&m, t);
        put(&m, t->array ? ": it is an array of tables" : ": it is a single table");
        return add_error(c, line, msg);
    }
    u32 idx = (u32)(t - c->s->tables);
    u32 index = 0;
    if (t->array) {
        if (c->count[idx] >= t->max_count) {
            put(&m, "too many ");
            put_table_name(&m, t);
            put(&m, " tables (the limit is %u)", t->max_count);
            return add_error(c, line, msg);
        }
        index = c->count[idx]++;
    }
    c->table = t;
    c->obj = t->object(c->cfg, index);
    c->table_line = line;
    c->seen = 0;
    if (t->at_line && c->obj)
        t->at_line(c->obj, line);
    return true;
}

/* The range checks made sure v fits; memcpy keeps clear of aliasing rules for enum fields. */
static void store_int(void *field, u32 size, s64 v)
{
    u8 b = (u8)v;
    u16 h = (u16)v;
    u32 w = (u32)v;
    u64 q = (u64)v;

    switch (size) {
    case 1: memcpy(field, &b, 1); break;
    case 2: memcpy(field, &h, 2); break;
    case 4: memcpy(field, &w, 4); break;
    case 8: memcpy(field, &q, 8); break;
    }
}

/* Checks v against k; on success stores it and returns true, else writes why into m. */
static bool check_value(const struct config_key *k, const struct toml_value *v, void *obj, struct msgbuf *m)
{
    u8 *field = (u8 *)obj + k->offset;
    s64 num = 0;
    const char *str = NULL;

    put(m, "%s: ", k->name);
    switch (k->type) {
    case CONFIG_BOOL:
        if (v->type != TOML_BOOL) {
            put(m, "expected true or false, got ");
            goto wrong_type;
        }
        num = v->b;
        if (!k->apply)
            memcpy(field, &v->b, sizeof(bool));
        break;
    case CONFIG_INT:
        if (v->type != TOML_INT) {
            put(m, "expected an integer, got ");
            goto wrong_type;
        }
        num = v->i;
        if (k->allowed) {
            bool ok = false;
            for (u32 i = 0; i < k->nallowed; i++)
                ok |= k->allowed[i] == num;
            if (!ok) {
                put(m, "expected one of ");
                for (u32 i = 0; i < k->nallowed; i++)
                    put(m, "%s%lld", i ? ", " : "", (long long)k->allowed[i]);
                put(m, ", got %lld", (long long)num);
                return false;
            }
        }
        if (num < k->min || num > k->max) {
            put(m, "expected an integer from %lld to %lld, got %lld", (long long)k->min, (long long)k->max,
                (long long)num);
            return false;
        }
        if (!k->apply)
            store_int(field, k->size, num);
        break;
    case CONFIG_ENUM:
        if (v->type == TOML_STRING)
            for (u32 i = 0; k->choices[i]; i++)
                if (strcmp(v->s, k->choices[i]) == 0) {
                    num = i;
                    str = k->choices[i];
                }
        if (!str) {
            put(m, "expected one of ");
            for (u32 i = 0; k->choices[i]; i++)
                put(m, "%s\"%s\"", i ? ", " : "", k->choices[i]);
            put(m, ", got ");
            if (v->type == TOML_STRING) {
                put_value(m, v);
                return false;
            }
            goto wrong_type;
        }
        if (!k->apply)
            store_int(field, k->size, num);
        break;
    case CONFIG_CUSTOM: {
        char why[CONFIG_MSG_MAX];
        why[0] = '\0';
        if (k->parse(obj, v, why, sizeof(why)) < 0) {
            put(m, "%s", why[0] ? why : "invalid value");
            return false;
        }
        return true;
    }
    case CONFIG_STRING:
        if (v->type != TOML_STRING) {
            put(m, "expected a string, got ");
            goto wrong_type;
        }
        if (v->len + 1 > k->size) {
            put(m, "too long (%u bytes; the limit is %u)", v->len, k->size - 1u);
            return false;
        }
        str = v->s;
        if (!k->apply) {
            memcpy(field, v->s, v->len);
            field[v->len] = '\0';
        }
        break;
    }
    if (k->apply)
        k->apply(obj, num, str);
    return true;

wrong_type:
    put_value(m, v);
    if (v->type != TOML_ARRAY)
        put(m, " (%s)", toml_type_name(v->type));
    return false;
}

static bool on_keyval(void *ctx, const char *key, const struct toml_value *v, u32 line)
{
    struct cparse *c = ctx;
    const struct config_table *t = c->table;
    char msg[CONFIG_MSG_MAX];
    struct msgbuf m = { msg, sizeof(msg), 0 };

    if (!t) {
        if (c->in_table)
            return true; /* the header was rejected: its keys would only add noise */
        put(&m, "key \"%s\" is outside any table: put it under a header such as ", key);
        put_table_name(&m, &c->s->tables[0]);
        return add_error(c, line, msg);
    }
    for (u32 i = 0; i < t->nkeys; i++) {
        if (strcmp(key, t->keys[i].name) != 0)
            continue;
        c->seen |= BIT(i);
        if (check_value(&t->keys[i], v, c->obj, &m))
            return true;
        return add_error(c, line, msg);
    }
    put(&m, "unknown key \"%s\" in ", key);
    put_table_name(&m, t);
    for (u32 i = 0; i < t->nkeys; i++)
        if (similar(key, t->keys[i].name)) {
            put(&m, " (did you mean \"%s\"?)", t->keys[i].name);
            break;
        }
    return add_error(c, line, msg);
}

/* Errors come from two layers and missing keys are found at the end of a table:
 * show them in line order (stable, so a line's errors keep their order). */
static void sort_errors(struct config_diag *d)
{
    for (u32 i = 1; i < d->nerrors; i++) {
        struct config_error e = d->err[i];
        u32 j = i;
        for (; j > 0 && d->err[j - 1].line > e.line; j--)
            d->err[j] = d->err[j - 1];
        d->err[j] = e;
    }
}

int config_parse_schema(const struct config_schema *schema, const char *text, size_t len, void *cfg,
                        struct config_diag *diag)
{
    struct toml_parser parser;
    struct cparse c = { .s = schema, .cfg = cfg, .diag = diag };
    const struct toml_handler h = {
        .ctx = &c,
        .on_table = on_table,
        .on_keyval = on_keyval,
        .on_error = on_error,
    };

    diag->nerrors = 0;
    diag->more_errors = false;
    schema->defaults(cfg);
    if (schema->ntables > CONFIG_MAX_TABLES) { /* a bug, caught by config_schema_check */
        add_error(&c, 0, "internal error: the schema has too many tables");
        return -EINVAL;
    }
    int rc = toml_parse(&parser, text, len, &h);
    if (!parser.stopped)
        (void)finish_table(&c);
    /* Cross-table checks only on a file whose tables were each fine: names
     * that point nowhere would otherwise pile up after the real errors. */
    if (rc == 0 && diag->nerrors == 0 && schema->finish)
        schema->finish(cfg, on_error, &c);
    if (rc == 0 && diag->nerrors == 0)
        return 0;
    sort_errors(diag);
    schema->defaults(cfg);
    return -EINVAL;
}

int config_parse(const char *text, size_t len, struct isthmus_config *cfg, struct config_diag *diag)
{
    return config_parse_schema(&config_schema_isthmus, text, len, cfg, diag);
}

void config_format_error(const struct config_diag *d, u32 i, const char *file, char *buf, size_t size)
{
    if (!size)
        return;
    if (i >= d->nerrors)
        buf[0] = '\0';
    else if (d->err[i].line)
        ksnprintf(buf, size, "%s:%u: %s", file, d->err[i].line, d->err[i].msg);
    else
        ksnprintf(buf, size, "%s: %s", file, d->err[i].msg);
}

/* ------------------------------------------------------------------ schema checks */

static bool bare_name(const char *s)
{
    if (!s || !*s || strlen(s) > TOML_MAX_KEY)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return false;
    return true;
}

static int check_key(const struct config_table *t, const struct config_key *k, struct msgbuf *m)
{
    bool int_size = k->size == 1 || k->size == 2 || k->size == 4 || k->size == 8;

    if (!bare_name(k->name))
        put(m, "[%s]: key name \"%s\" is not a bare key", t->name, k->name ? k->name : "(null)");
    else if (!k->help || !*k->help)
        put(m, "[%s] %s: no help text", t->name, k->name);
    else if ((size_t)k->offset + k->size > t->object_size)
        put(m, "[%s] %s: field outside the object", t->name, k->name);
    else if (k->type == CONFIG_BOOL && k->size != sizeof(bool) && !k->apply)
        put(m, "[%s] %s: a bool field must be a bool", t->name, k->name);
    else if ((k->type == CONFIG_INT || k->type == CONFIG_ENUM) && !int_size && !k->apply)
        put(m, "[%s] %s: an integer field must be 1, 2, 4 or 8 bytes", t->name, k->name);
    else if (k->type == CONFIG_INT && k->min > k->max)
        put(m, "[%s] %s: min > max", t->name, k->name);
    else if (k->type == CONFIG_INT && k->nallowed && !k->allowed)
        put(m, "[%s] %s: nallowed without allowed", t->name, k->name);
    else if (k->type == CONFIG_ENUM && (!k->choices || !k->choices[0]))
        put(m, "[%s] %s: an enum needs choices", t->name, k->name);
    else if (k->type == CONFIG_STRING && k->size < 2 && !k->apply)
        put(m, "[%s] %s: a string field needs room", t->name, k->name);
    else if (k->type == CONFIG_CUSTOM && !k->parse)
        put(m, "[%s] %s: a custom key needs parse()", t->name, k->name);
    else
        return 0;
    return -EINVAL;
}

int config_schema_check(const struct config_schema *schema, char *msg, size_t size)
{
    struct msgbuf m = { msg, size, 0 };

    if (size)
        msg[0] = '\0';
    if (!schema->defaults || !schema->ntables || schema->ntables > CONFIG_MAX_TABLES) {
        put(&m, "a schema needs defaults and 1 to %d tables", CONFIG_MAX_TABLES);
        return -EINVAL;
    }
    for (u32 i = 0; i < schema->ntables; i++) {
        const struct config_table *t = &schema->tables[i];
        if (!bare_name(t->name) || !t->object || t->nkeys > CONFIG_MAX_KEYS || (t->array && !t->max_count) ||
            !t->help) {
            put(&m, "table %u (%s): bad name, object, help, key count or max_count", i, t->name ? t->name : "(null)");
            return -EINVAL;
        }
        for (u32 j = 0; j < i; j++)
            if (strcmp(t->name, schema->tables[j].name) == 0) {
                put(&m, "table [%s] defined twice", t->name);
                return -EINVAL;
            }
        for (u32 k = 0; k < t->nkeys; k++) {
            if (check_key(t, &t->keys[k], &m) < 0)
                return -EINVAL;
            for (u32 j = 0; j < k; j++)
                if (strcmp(t->keys[k].name, t->keys[j].name) == 0) {
                    put(&m, "[%s]: key %s defined twice", t->name, t->keys[k].name);
                    return -EINVAL;
                }
        }
    }
    return 0;
}
