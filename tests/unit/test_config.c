/* Unit tests of the configuration schema layer (kernel/core/config.c) on top of the TOML
 * subset: the Isthmus schema, the schema engine with a test schema that has what the
 * Isthmus one does not have yet (required keys, arrays of tables, strings, checks across
 * keys), and the example files in tests/unit/configs/{valid,invalid}. */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/core/config.h"
#include "kernel/lib/errno.h"

static struct config_diag diag;

/* The errors of diag as "line: msg\n" lines. */
static const char *errors(void)
{
    static char buf[CONFIG_MAX_ERRORS * (CONFIG_MSG_MAX + 16) + 64];
    size_t n = 0;

    buf[0] = '\0';
    for (u32 i = 0; i < diag.nerrors; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%u: %s\n", diag.err[i].line, diag.err[i].msg);
    if (diag.more_errors)
        snprintf(buf + n, sizeof(buf) - n, "(more)\n");
    return buf;
}

static bool is_default(const struct isthmus_config *cfg)
{
    struct isthmus_config d;
    config_defaults(&d);
    return memcmp(&d, cfg, sizeof(d)) == 0;
}

static int parse(const char *text, size_t len, struct isthmus_config *cfg)
{
    memset(cfg, 0x5A, sizeof(*cfg)); /* config_parse must set every field */
    memset(&diag, 0x5A, sizeof(diag));
    return config_parse(text, len, cfg, &diag);
}

/* Expects the document to fail with exactly these errors, and cfg left at defaults. */
#define EXPECT_ERRORS(doc, want) expect_errors(doc, sizeof(doc) - 1, want, __LINE__)

static void expect_errors(const char *doc, size_t len, const char *want, int line)
{
    struct isthmus_config cfg;
    int rc = parse(doc, len, &cfg);
    if (strcmp(errors(), want) != 0)
        print_error("test_config.c:%d:\n--- got\n%s--- want\n%s", line, errors(), want);
    assert_string_equal(errors(), want);
    assert_int_equal(rc, -EINVAL);
    assert_true(is_default(&cfg));
}

#define EXPECT_OK(doc, cfg) expect_ok(doc, sizeof(doc) - 1, cfg, __LINE__)

static void expect_ok(const char *doc, size_t len, struct isthmus_config *cfg, int line)
{
    int rc = parse(doc, len, cfg);
    if (rc != 0)
        print_error("test_config.c:%d: unexpected errors\n%s", line, errors());
    assert_int_equal(rc, 0);
    assert_int_equal(diag.nerrors, 0);
    assert_false(diag.more_errors);
}

/* ------------------------------------------------------------------ the Isthmus schema */

static void test_defaults(void **state)
{
    struct isthmus_config cfg;
    memset(&cfg, 0xFF, sizeof(cfg));
    config_defaults(&cfg);
    assert_int_equal(cfg.log_level, LOG_INFO);
    assert_string_equal(cfg.console, "com1");
    assert_int_equal(cfg.console_port, 0x3F8);
    assert_int_equal(cfg.baud, 115200);
    assert_true(cfg.banner);

    EXPECT_OK("", &cfg);
    assert_true(is_default(&cfg));
    EXPECT_OK("# nothing\n\n[hypervisor]\n", &cfg);
    assert_true(is_default(&cfg));
}

static void test_all_keys(void **state)
{
    struct isthmus_config cfg;

    EXPECT_OK("[hypervisor]\nlog_level = \"debug\"\nconsole = \"com2\"\nbaud = 9600\nbanner = false\n", &cfg);
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    assert_string_equal(cfg.console, "com2");
    assert_int_equal(cfg.console_port, 0x2F8);
    assert_int_equal(cfg.baud, 9600);
    assert_false(cfg.banner);
}

static void test_each_value(void **state)
{
    static const struct {
        const char *name;
        u16 port;
    } consoles[] = {
        { "com1", 0x3F8 }, { "com2", 0x2F8 }, { "com3", 0x3E8 }, { "com4", 0x2E8 }, { "none", 0 },
    };
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    static const u32 bauds[] = { 9600, 19200, 38400, 57600, 115200 };
    struct isthmus_config cfg;
    char doc[128];

    for (size_t i = 0; i < sizeof(consoles) / sizeof(consoles[0]); i++) {
        snprintf(doc, sizeof(doc), "[hypervisor]\nconsole = '%s'\n", consoles[i].name);
        expect_ok(doc, strlen(doc), &cfg, __LINE__);
        assert_string_equal(cfg.console, consoles[i].name);
        assert_int_equal(cfg.console_port, consoles[i].port);
    }
    for (size_t i = 0; i < 4; i++) {
        snprintf(doc, sizeof(doc), "[hypervisor]\nlog_level = \"%s\"\n", levels[i]);
        expect_ok(doc, strlen(doc), &cfg, __LINE__);
        assert_int_equal(cfg.log_level, (enum log_level)i);
    }
    for (size_t i = 0; i < 5; i++) {
        snprintf(doc, sizeof(doc), "[hypervisor]\nbaud = %u\n", bauds[i]);
        expect_ok(doc, strlen(doc), &cfg, __LINE__);
        assert_int_equal(cfg.baud, bauds[i]);
        snprintf(doc, sizeof(doc), "[hypervisor]\nbaud = 0x%x\n", bauds[i]);
        expect_ok(doc, strlen(doc), &cfg, __LINE__);
        assert_int_equal(cfg.baud, bauds[i]);
    }
    EXPECT_OK("[hypervisor]\nbanner = true\n", &cfg);
    assert_true(cfg.banner);
    EXPECT_OK("[hypervisor]\nlog_level = \"\\u0077arn\"\n", &cfg);
    assert_int_equal(cfg.log_level, LOG_WARN);
}

static void test_value_errors(void **state)
{
    EXPECT_ERRORS("[hypervisor]\nlog_level = \"verbose\"\n",
                  "2: log_level: expected one of \"error\", \"warn\", \"info\", \"debug\", got \"verbose\"\n");
    EXPECT_ERRORS("[hypervisor]\nlog_level = \"INFO\"\n",
                  "2: log_level: expected one of \"error\", \"warn\", \"info\", \"debug\", got \"INFO\"\n");
    EXPECT_ERRORS("[hypervisor]\nlog_level = 3\n",
                  "2: log_level: expected one of \"error\", \"warn\", \"info\", \"debug\", got 3 (an integer)\n");
    EXPECT_ERRORS("[hypervisor]\nlog_level = false\n",
                  "2: log_level: expected one of \"error\", \"warn\", \"info\", \"debug\", got false (a boolean)\n");
    EXPECT_ERRORS("[hypervisor]\nlog_level = [\"info\"]\n",
                  "2: log_level: expected one of \"error\", \"warn\", \"info\", \"debug\", got an array\n");
    EXPECT_ERRORS("[hypervisor]\nconsole = \"COM1\"\n",
                  "2: console: expected one of \"com1\", \"com2\", \"com3\", \"com4\", \"none\", got \"COM1\"\n");
    EXPECT_ERRORS("[hypervisor]\nconsole = \"\"\n",
                  "2: console: expected one of \"com1\", \"com2\", \"com3\", \"com4\", \"none\", got \"\"\n");
    EXPECT_ERRORS("[hypervisor]\nbaud = 115201\n",
                  "2: baud: expected one of 9600, 19200, 38400, 57600, 115200, got 115201\n");
    EXPECT_ERRORS("[hypervisor]\nbaud = -9600\n",
                  "2: baud: expected one of 9600, 19200, 38400, 57600, 115200, got -9600\n");
    EXPECT_ERRORS("[hypervisor]\nbaud = '9600'\n", "2: baud: expected an integer, got \"9600\" (a string)\n");
    EXPECT_ERRORS("[hypervisor]\nbaud = true\n", "2: baud: expected an integer, got true (a boolean)\n");
    EXPECT_ERRORS("[hypervisor]\nbaud = []\n", "2: baud: expected an integer, got an array\n");
    EXPECT_ERRORS("[hypervisor]\nbanner = \"true\"\n", "2: banner: expected true or false, got \"true\" (a string)\n");
    EXPECT_ERRORS("[hypervisor]\nbanner = 1\n", "2: banner: expected true or false, got 1 (an integer)\n");
    EXPECT_ERRORS("[hypervisor]\nbanner = [true]\n", "2: banner: expected true or false, got an array\n");
}

static void test_quoting_in_messages(void **state)
{
    /* Strings are quoted with TOML escapes and clipped to 40 bytes, never mid-character. */
    EXPECT_ERRORS("[hypervisor]\nconsole = \"a\\\"b\\\\c\\nd\\te\\u0001\"\n",
                  "2: console: expected one of \"com1\", \"com2\", \"com3\", \"com4\", \"none\", "
                  "got \"a\\\"b\\\\c\\nd\\te\\u0001\"\n");
    EXPECT_ERRORS("[hypervisor]\nconsole = \"0123456789012345678901234567890123456789\"\n",
                  "2: console: expected one of \"com1\", \"com2\", \"com3\", \"com4\", \"none\", "
                  "got \"0123456789012345678901234567890123456789\"\n");
    EXPECT_ERRORS("[hypervisor]\nconsole = \"0123456789012345678901234567890123456789x\"\n",
                  "2: console: expected one of \"com1\", \"com2\", \"com3\", \"com4\", \"none\", "
                  "got \"0123456789012345678901234567890123456789...\"\n");
    EXPECT_ERRORS("[hypervisor]\nconsole = \"012345678901234567890123456789012345678\xc3\xa9\"\n",
                  "2: console: expected one of \"com1\", \"com2\", \"com3\", \"com4\", \"none\", "
                  "got \"012345678901234567890123456789012345678...\"\n");
    EXPECT_ERRORS("[hypervisor]\nconsole = \"\xc2\x85|\xe2\x80\xa8|\xe2\x80\xa9|\xc2\xa0\"\n",
                  "2: console: expected one of \"com1\", \"com2\", \"com3\", \"com4\", \"none\", "
                  "got \"\\u0085|\\u2028|\\u2029|\xc2\xa0\"\n");
    EXPECT_ERRORS("[hypervisor]\nconsole = \"\xc3\xa9t\xc3\xa9\"\n",
                  "2: console: expected one of \"com1\", \"com2\", \"com3\", \"com4\", \"none\", "
                  "got \"\xc3\xa9t\xc3\xa9\"\n");
}

static void test_structure_errors(void **state)
{
    EXPECT_ERRORS("[hypervisor]\nloglevel = \"info\"\n",
                  "2: unknown key \"loglevel\" in [hypervisor] (did you mean \"log_level\"?)\n");
    EXPECT_ERRORS("[hypervisor]\nLog_Level = \"info\"\n",
                  "2: unknown key \"Log_Level\" in [hypervisor] (did you mean \"log_level\"?)\n");
    EXPECT_ERRORS("[hypervisor]\nbaudrate = 9600\n", "2: unknown key \"baudrate\" in [hypervisor]\n");
    EXPECT_ERRORS("[hypervisor]\nbaud_ = 9600\n",
                  "2: unknown key \"baud_\" in [hypervisor] (did you mean \"baud\"?)\n");
    EXPECT_ERRORS("[hypervisor]\nxyz = 1\n", "2: unknown key \"xyz\" in [hypervisor]\n");
    EXPECT_ERRORS("log_level = \"info\"\n",
                  "1: key \"log_level\" is outside any table: put it under a header such as [hypervisor]\n");
    EXPECT_ERRORS("[hypervsor]\nlog_level = \"x\"\n", "1: unknown table [hypervsor] (did you mean [hypervisor]?)\n");
    EXPECT_ERRORS("[storage]\nip = 1\n", "1: unknown table [storage]\n");
    EXPECT_ERRORS("[[partition]]\nname = \"a\"\n[[partition]]\n",
                  "1: [[partition]]: missing required key \"cpus\"\n"
                  "1: [[partition]]: missing required key \"memory\"\n"
                  "1: [[partition]]: missing required key \"kernel\"\n"
                  "3: [[partition]]: missing required key \"name\"\n"
                  "3: [[partition]]: missing required key \"cpus\"\n"
                  "3: [[partition]]: missing required key \"memory\"\n"
                  "3: [[partition]]: missing required key \"kernel\"\n");
    EXPECT_ERRORS("[hypervisor.serial]\n", "1: unknown table [hypervisor.serial]\n");
    EXPECT_ERRORS("[a.b.c]\n", "1: unknown table [a.b.c]\n");
    EXPECT_ERRORS("[[hypervisor]]\nbaud = 1\n",
                  "1: [[hypervisor]] must be written [hypervisor]: it is a single table\n");
    EXPECT_ERRORS("[hypervisor]\n[hypervisor]\n", "2: duplicate table [hypervisor] (already defined at line 1)\n");
    EXPECT_ERRORS("[hypervisor]\nbaud = 9600\nbaud = 9600\n", "3: duplicate key \"baud\" (first defined at line 2)\n");
    /* Keys of a rejected table are not reported one by one; the next table is checked. */
    EXPECT_ERRORS("[net]\na = 1\nb = 2\n[hypervisor]\nbaud = 1\n",
                  "1: unknown table [net]\n5: baud: expected one of 9600, 19200, 38400, 57600, 115200, got 1\n");
}

static void test_bad_file_configures_nothing(void **state)
{
    struct isthmus_config cfg;

    /* Valid keys before and after the error are not applied. */
    EXPECT_ERRORS("[hypervisor]\nlog_level = \"debug\"\nbaud = 1\nbanner = false\n",
                  "3: baud: expected one of 9600, 19200, 38400, 57600, 115200, got 1\n");
    const char *doc = "[hypervisor]\nbanner = false\nconsole = 'none'\nx = ?\n";
    assert_int_equal(parse(doc, strlen(doc), &cfg), -EINVAL);
    assert_true(is_default(&cfg));
}

static void test_several_errors(void **state)
{
    EXPECT_ERRORS("# comment\n[hypervisor]\nlog_level = \"loud\"\ncolour = \"blue\"\nbaud = 1.5\n"
                  "banner = 1\nconsole = \"com9\n\n[storage]\nip = 1\n[hypervisor]\n",
                  "3: log_level: expected one of \"error\", \"warn\", \"info\", \"debug\", got \"loud\"\n"
                  "4: unknown key \"colour\" in [hypervisor]\n"
                  "5: floating-point numbers ('1.5') are not supported by Isthmus\n"
                  "6: banner: expected true or false, got 1 (an integer)\n"
                  "7: unterminated string: missing closing \" before the end of the line\n"
                  "9: unknown table [storage]\n"
                  "11: duplicate table [hypervisor] (already defined at line 2)\n");
}

static void test_error_cap(void **state)
{
    char doc[4096];
    size_t n = (size_t)snprintf(doc, sizeof(doc), "[hypervisor]\n");
    struct isthmus_config cfg;

    for (int i = 0; i < CONFIG_MAX_ERRORS; i++)
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "k%d = 1\n", i);
    assert_int_equal(parse(doc, n, &cfg), -EINVAL);
    assert_int_equal(diag.nerrors, CONFIG_MAX_ERRORS);
    assert_false(diag.more_errors);
    assert_string_equal(diag.err[31].msg, "unknown key \"k31\" in [hypervisor]");
    assert_int_equal(diag.err[31].line, 33);

    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "k%d = 1\n", CONFIG_MAX_ERRORS);
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "bad = ?\n");
    assert_int_equal(parse(doc, n, &cfg), -EINVAL);
    assert_int_equal(diag.nerrors, CONFIG_MAX_ERRORS);
    assert_true(diag.more_errors);
    assert_int_equal(diag.err[0].line, 2);
    assert_int_equal(diag.err[31].line, 33);
    assert_true(is_default(&cfg));
}

static void test_format_error(void **state)
{
    struct isthmus_config cfg;
    char buf[256];
    static char big[TOML_MAX_FILE + 1];

    assert_int_equal(parse("[hypervisor]\nbaud = 5\n", 22, &cfg), -EINVAL);
    config_format_error(&diag, 0, "isthmus.toml", buf, sizeof(buf));
    assert_string_equal(buf, "isthmus.toml:2: baud: expected one of 9600, 19200, 38400, 57600, 115200, got 5");
    config_format_error(&diag, 1, "isthmus.toml", buf, sizeof(buf));
    assert_string_equal(buf, "");
    config_format_error(&diag, 0, "isthmus.toml", buf, 10);
    assert_string_equal(buf, "isthmus.t");
    config_format_error(&diag, 0, "isthmus.toml", buf, 0); /* must not write */

    memset(big, '#', sizeof(big));
    assert_int_equal(parse(big, sizeof(big), &cfg), -EINVAL);
    config_format_error(&diag, 0, "big.toml", buf, sizeof(buf));
    assert_string_equal(buf, "big.toml: the file is larger than the limit of 262144 bytes (256 KiB)");
    assert_true(is_default(&cfg));
    /* Exactly at the limit is fine. */
    assert_int_equal(parse(big, TOML_MAX_FILE, &cfg), 0);
}

static void test_summary(void **state)
{
    struct isthmus_config cfg;
    char buf[256];

    config_defaults(&cfg);
    config_summary(&cfg, buf, sizeof(buf));
    assert_string_equal(buf, "log_level=info console=com1 baud=115200 banner=true reserve_cpu0=true partitions=0");
    EXPECT_OK("[hypervisor]\nlog_level='error'\nconsole='none'\nbaud=19200\nbanner=false", &cfg);
    config_summary(&cfg, buf, sizeof(buf));
    assert_string_equal(buf, "log_level=error console=none baud=19200 banner=false reserve_cpu0=true partitions=0");
    EXPECT_OK("[[partition]]\nname='a'\ncpus=[1,3]\nmemory='4M'\nkernel='k'\nstate='stopped'\n"
              "[[partition]]\nname='b'\ncpus=2\nmemory=2097152\nkernel='k'\n",
              &cfg);
    config_summary(&cfg, buf, sizeof(buf));
    assert_string_equal(buf, "log_level=info console=com1 baud=115200 banner=true reserve_cpu0=true partitions=2"
                             " [a cpus=(1,3) memory=4194304 stopped] [b cpus=2 memory=2097152 running]");
}

static void test_log_level_names(void **state)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    enum log_level l;

    for (int i = 0; i < 4; i++) {
        assert_string_equal(log_level_name((enum log_level)i), names[i]);
        assert_int_equal(log_level_parse(names[i], &l), 0);
        assert_int_equal(l, i);
    }
    assert_string_equal(log_level_name((enum log_level)4), "?");
    assert_int_equal(log_level_parse("Info", &l), -EINVAL);
    assert_int_equal(log_level_parse("", &l), -EINVAL);
    assert_int_equal(log_level_parse(NULL, &l), -EINVAL);
    assert_int_equal(log_level_parse("info", NULL), -EINVAL);
}

static void test_encoding_and_layout(void **state)
{
    struct isthmus_config cfg;

    EXPECT_OK("[hypervisor]\r\nlog_level = \"warn\"\r\nbaud = 57600\r\n", &cfg);
    assert_int_equal(cfg.log_level, LOG_WARN);
    assert_int_equal(cfg.baud, 57600);
    EXPECT_OK("[hypervisor]\nbaud = 57600", &cfg);
    assert_int_equal(cfg.baud, 57600);
    EXPECT_ERRORS("[hypervisor]\nbaud = 9600\x00\n", "2: NUL byte (0x00): is this a binary file?\n");
    EXPECT_ERRORS("[hypervisor]\n# caf\xe9\n", "2: invalid UTF-8 (byte 0xe9)\n");
    EXPECT_ERRORS("\xef\xbb\xbf[hypervisor]\n",
                  "1: the file starts with a byte order mark (BOM), which TOML does not allow: save it "
                  "as UTF-8 without BOM\n");
}

static void test_long_lines(void **state)
{
    static char doc[300000];
    struct isthmus_config cfg;
    size_t n = 0;

    n += (size_t)snprintf(doc, sizeof(doc), "[hypervisor]\n#");
    memset(doc + n, 'x', 200000);
    n += 200000;
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "\nbaud = 9600\n");
    expect_ok(doc, n, &cfg, __LINE__);
    assert_int_equal(cfg.baud, 9600);

    n = (size_t)snprintf(doc, sizeof(doc), "[hypervisor]\nconsole = \"");
    memset(doc + n, 'c', 100000);
    n += 100000;
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "\"\n");
    expect_errors(doc, n, "2: string is too long (the limit is 255 bytes)\n", __LINE__);
}

static void test_garbage(void **state)
{
    static char doc[8192];
    struct isthmus_config cfg;
    uint64_t seed = 42;

    for (int round = 0; round < 500; round++) {
        size_t n = (size_t)(seed >> 40) % sizeof(doc);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            doc[i] = (char)(seed >> 56);
        }
        int rc = parse(doc, n, &cfg);
        assert_true(rc == 0 || rc == -EINVAL);
        if (rc) {
            assert_true(diag.nerrors > 0 && diag.nerrors <= CONFIG_MAX_ERRORS);
            assert_true(is_default(&cfg));
            for (u32 i = 0; i < diag.nerrors; i++) {
                assert_true(strlen(diag.err[i].msg) < CONFIG_MSG_MAX);
                assert_true(diag.err[i].line >= 1);
                if (i)
                    assert_true(diag.err[i - 1].line <= diag.err[i].line);
            }
        }
    }
}

static void test_schema_check_isthmus(void **state)
{
    char msg[160];
    assert_int_equal(config_schema_check(&config_schema_isthmus, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "");
}

/* ------------------------------------------------------------------ a test schema */

struct item {
    char name[8];
    bool flag;
    u8 small;
    u16 mid;
    s64 big;
    u32 color;
    u8 odd;
};

struct tcfg {
    u32 level;
    char label[16];
    u32 nitems;
    struct item item[3];
};

static const char *const colors[] = { "red", "green", "blue", NULL };
static const s64 odd[] = { 1, 3, 5 };

static const struct config_key main_keys[] = {
    { .name = "level",
      .type = CONFIG_INT,
      .required = true,
      .offset = offsetof(struct tcfg, level),
      .size = 4,
      .min = 0,
      .max = 3,
      .help = "a level" },
    { .name = "label", .type = CONFIG_STRING, .offset = offsetof(struct tcfg, label), .size = 16, .help = "a label" },
};

static const struct config_key item_keys[] = {
    { .name = "name",
      .type = CONFIG_STRING,
      .required = true,
      .offset = offsetof(struct item, name),
      .size = 8,
      .help = "its name" },
    { .name = "flag", .type = CONFIG_BOOL, .offset = offsetof(struct item, flag), .size = 1, .help = "a flag" },
    { .name = "small",
      .type = CONFIG_INT,
      .offset = offsetof(struct item, small),
      .size = 1,
      .min = 0,
      .max = 255,
      .help = "a byte" },
    { .name = "mid",
      .type = CONFIG_INT,
      .offset = offsetof(struct item, mid),
      .size = 2,
      .min = 0,
      .max = 65535,
      .allowed = NULL,
      .help = "a u16" },
    { .name = "big",
      .type = CONFIG_INT,
      .offset = offsetof(struct item, big),
      .size = 8,
      .min = INT64_MIN,
      .max = INT64_MAX,
      .help = "an s64" },
    { .name = "color",
      .type = CONFIG_ENUM,
      .offset = offsetof(struct item, color),
      .size = 4,
      .choices = colors,
      .help = "a color" },
    { .name = "odd",
      .type = CONFIG_INT,
      .offset = offsetof(struct item, odd),
      .size = 1,
      .min = 0,
      .max = 4,
      .allowed = odd,
      .nallowed = 3,
      .help = "odd, and at most 4" },
};

static void *main_object(void *cfg, u32 index) { return cfg; }

static void *item_object(void *cfg, u32 index)
{
    struct tcfg *c = cfg;
    c->nitems = index + 1;
    return &c->item[index];
}

static int item_finish(void *cfg, void *obj, char *msg, size_t size)
{
    struct item *it = obj;
    if (it->small && !it->flag) {
        snprintf(msg, size, "[[item]] %s: small needs flag = true", it->name);
        return -EINVAL;
    }
    return 0;
}

static const struct config_table test_tables[] = {
    { .name = "main",
      .keys = main_keys,
      .nkeys = 2,
      .object_size = sizeof(struct tcfg),
      .object = main_object,
      .help = "main" },
    { .name = "item",
      .array = true,
      .max_count = 3,
      .keys = item_keys,
      .nkeys = 7,
      .object_size = sizeof(struct item),
      .object = item_object,
      .finish = item_finish,
      .help = "items" },
};

static void test_defaults_fn(void *cfg)
{
    struct tcfg *c = cfg;
    memset(c, 0, sizeof(*c));
    c->level = 1;
    strcpy(c->label, "default");
}

static const struct config_schema test_schema = {
    .tables = test_tables,
    .ntables = 2,
    .defaults = test_defaults_fn,
};

static struct tcfg tcfg;

#define TPARSE(doc) config_parse_schema(&test_schema, doc, sizeof(doc) - 1, &tcfg, &diag)

static void test_schema_engine_values(void **state)
{
    char msg[160];
    assert_int_equal(config_schema_check(&test_schema, msg, sizeof(msg)), 0);

    assert_int_equal(TPARSE("[main]\nlevel = 3\nlabel = \"fifteen chars..\"\n"
                            "[[item]]\nname = \"first\"\nflag = true\nsmall = 255\nmid = 65535\n"
                            "big = -9223372036854775808\ncolor = \"blue\"\n"
                            "[[item]]\nname = 'second'\nbig = 9223372036854775807\ncolor = 'red'\nodd = 3\n"
                            "[[item]]\nname = \"7 chars\"\n"),
                     0);
    assert_int_equal(tcfg.level, 3);
    assert_string_equal(tcfg.label, "fifteen chars..");
    assert_int_equal(tcfg.nitems, 3);
    assert_string_equal(tcfg.item[0].name, "first");
    assert_true(tcfg.item[0].flag);
    assert_int_equal(tcfg.item[0].small, 255);
    assert_int_equal(tcfg.item[0].mid, 65535);
    assert_true(tcfg.item[0].big == INT64_MIN);
    assert_int_equal(tcfg.item[0].color, 2);
    assert_string_equal(tcfg.item[1].name, "second");
    assert_true(tcfg.item[1].big == INT64_MAX);
    assert_int_equal(tcfg.item[1].color, 0);
    assert_int_equal(tcfg.item[1].odd, 3);
    assert_string_equal(tcfg.item[2].name, "7 chars");

    /* Nothing but what is required. */
    assert_int_equal(TPARSE("[main]\nlevel = 0\n"), 0);
    assert_int_equal(tcfg.nitems, 0);
    assert_string_equal(tcfg.label, "default");
}

static void test_schema_engine_errors(void **state)
{
    assert_int_equal(TPARSE("[main]\nlevel = 4\nlabel = \"sixteen chars...\"\n"), -EINVAL);
    assert_string_equal(errors(), "2: level: expected an integer from 0 to 3, got 4\n"
                                  "3: label: too long (16 bytes; the limit is 15)\n");
    assert_int_equal(tcfg.level, 1); /* defaults again */
    assert_string_equal(tcfg.label, "default");

    assert_int_equal(TPARSE("[main]\nlevel = -1\nlabel = 5\n"), -EINVAL);
    assert_string_equal(errors(), "2: level: expected an integer from 0 to 3, got -1\n"
                                  "3: label: expected a string, got 5 (an integer)\n");

    /* Missing required keys are reported at the header, before the errors of its keys. */
    assert_int_equal(TPARSE("[main]\nlabel = 1\n[[item]]\nflag = 2\n[[item]]\nname = 'x'\n"), -EINVAL);
    assert_string_equal(errors(), "1: [main]: missing required key \"level\"\n"
                                  "2: label: expected a string, got 1 (an integer)\n"
                                  "3: [[item]]: missing required key \"name\"\n"
                                  "4: flag: expected true or false, got 2 (an integer)\n");
    /* ...also at the end of the file. */
    assert_int_equal(TPARSE("[main]\nlevel = 1\n[[item]]\n"), -EINVAL);
    assert_string_equal(errors(), "3: [[item]]: missing required key \"name\"\n");
    /* A key with a wrong value still counts as present. */
    assert_int_equal(TPARSE("[main]\nlevel = 9\n"), -EINVAL);
    assert_string_equal(errors(), "2: level: expected an integer from 0 to 3, got 9\n");

    assert_int_equal(TPARSE("[main]\nlevel = 1\n[[item]]\nname='a'\n[[item]]\nname='b'\n[[item]]\n"
                            "name='c'\n[[item]]\nname='d'\n"),
                     -EINVAL);
    assert_string_equal(errors(), "9: too many [[item]] tables (the limit is 3)\n");

    assert_int_equal(TPARSE("[main]\nlevel = 1\n[[item]]\nname = 'n'\nsmall = 1\n"), -EINVAL);
    assert_string_equal(errors(), "3: [[item]] n: small needs flag = true\n");

    assert_int_equal(TPARSE("[item]\nname = 'x'\n[[main]]\n"), -EINVAL);
    assert_string_equal(errors(), "1: [item] must be written [[item]]: it is an array of tables\n"
                                  "3: [[main]] must be written [main]: it is a single table\n");

    assert_int_equal(TPARSE("[main]\nlevel = 1\n[[item]]\nname = 'n'\ncolor = 'pink'\nodd = 2\nodd = 9\n"), -EINVAL);
    assert_string_equal(errors(), "5: color: expected one of \"red\", \"green\", \"blue\", got \"pink\"\n"
                                  "6: odd: expected one of 1, 3, 5, got 2\n"
                                  "7: duplicate key \"odd\" (first defined at line 6)\n");
    assert_int_equal(TPARSE("[main]\nlevel = 1\n[[item]]\nname = 'n'\nodd = 5\nmid = 65536\n"), -EINVAL);
    assert_string_equal(errors(), "5: odd: expected an integer from 0 to 4, got 5\n"
                                  "6: mid: expected an integer from 0 to 65535, got 65536\n");
    assert_int_equal(TPARSE("[main]\nlevel = 1\nlevl = 2\n[item]\n"), -EINVAL);
    assert_string_equal(errors(), "3: unknown key \"levl\" in [main] (did you mean \"level\"?)\n"
                                  "4: [item] must be written [[item]]: it is an array of tables\n");
    assert_int_equal(TPARSE("[[iten]]\n"), -EINVAL);
    assert_string_equal(errors(), "1: unknown array of tables [[iten]] (did you mean [[item]]?)\n");
    assert_int_equal(TPARSE("x = 1\n"), -EINVAL);
    assert_string_equal(errors(), "1: key \"x\" is outside any table: put it under a header such as [main]\n");
}

static void test_schema_check_errors(void **state)
{
    struct config_key k;
    struct config_table t;
    struct config_schema s = { .tables = &t, .ntables = 1, .defaults = test_defaults_fn };
    char msg[160];

#define RESET()                                                                                                        \
    do {                                                                                                               \
        k = (struct config_key){ .name = "k", .type = CONFIG_INT, .size = 4, .max = 1, .help = "h" };                  \
        t = (struct config_table){                                                                                     \
            .name = "t", .keys = &k, .nkeys = 1, .object_size = 8, .object = main_object, .help = "h"                  \
        };                                                                                                             \
    } while (0)
#define BAD(want)                                                                                                      \
    do {                                                                                                               \
        assert_int_equal(config_schema_check(&s, msg, sizeof(msg)), -EINVAL);                                          \
        assert_string_equal(msg, want);                                                                                \
        RESET();                                                                                                       \
    } while (0)

    RESET();
    assert_int_equal(config_schema_check(&s, msg, sizeof(msg)), 0);
    k.name = "a.b";
    BAD("[t]: key name \"a.b\" is not a bare key");
    k.name = NULL;
    BAD("[t]: key name \"(null)\" is not a bare key");
    k.help = "";
    BAD("[t] k: no help text");
    k.offset = 6;
    BAD("[t] k: field outside the object");
    k.size = 3;
    BAD("[t] k: an integer field must be 1, 2, 4 or 8 bytes");
    k.min = 2;
    BAD("[t] k: min > max");
    k.nallowed = 2;
    BAD("[t] k: nallowed without allowed");
    k.type = CONFIG_ENUM;
    BAD("[t] k: an enum needs choices");
    k.type = CONFIG_BOOL;
    BAD("[t] k: a bool field must be a bool");
    k.type = CONFIG_STRING;
    k.size = 1;
    BAD("[t] k: a string field needs room");
    t.name = "";
    BAD("table 0 (): bad name, object, help, key count or max_count");
    t.array = true;
    BAD("table 0 (t): bad name, object, help, key count or max_count");
    t.object = NULL;
    BAD("table 0 (t): bad name, object, help, key count or max_count");
    t.nkeys = CONFIG_MAX_KEYS + 1;
    BAD("table 0 (t): bad name, object, help, key count or max_count");
    s.ntables = 0;
    BAD("a schema needs defaults and 1 to 16 tables");
    s.ntables = 1;

    struct config_key two[2] = { k, k };
    t.keys = two;
    t.nkeys = 2;
    BAD("[t]: key k defined twice");
    struct config_table tt[2] = { t, t };
    s.tables = tt;
    s.ntables = 2;
    BAD("table [t] defined twice");
    s.ntables = CONFIG_MAX_TABLES + 1;
    assert_int_equal(config_parse_schema(&s, "", 0, &tcfg, &diag), -EINVAL);
    assert_string_equal(errors(), "0: internal error: the schema has too many tables\n");
#undef BAD
#undef RESET
}

static void test_reentrant(void **state)
{
    /* No state survives a call: the same input always gives the same output. */
    struct isthmus_config a, b;
    struct config_diag d1, d2;
    const char *doc = "[hypervisor]\nbaud = 9600\nx = 1\n";

    assert_int_equal(config_parse(doc, strlen(doc), &a, &d1), -EINVAL);
    assert_int_equal(config_parse("[hypervisor]\nbaud = 19200\n", 26, &b, &d2), 0);
    assert_int_equal(config_parse(doc, strlen(doc), &a, &d2), -EINVAL);
    assert_int_equal(d1.nerrors, d2.nerrors);
    assert_string_equal(d1.err[0].msg, d2.err[0].msg);
    assert_int_equal(b.baud, 19200);
}

/* ------------------------------------------------------------------ example files */

static size_t read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, size, f);
    assert_false(ferror(f));
    fclose(f);
    assert_true(n < size);
    return n;
}

static int list_toml(const char *dir, char names[][512], int max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        fail_msg("cannot open %s: run the tests from tests/unit", dir);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".toml") == 0) {
            assert_true(n < max);
            snprintf(names[n++], 512, "%s/%.256s", dir, e->d_name);
        }
    }
    closedir(d);
    return n;
}

static char file_buf[TOML_MAX_FILE + 2];
static char names[256][512];

static void test_valid_files(void **state)
{
    struct isthmus_config cfg;
    int n = list_toml("configs/valid", names, 256);

    assert_true(n >= 10);
    for (int i = 0; i < n; i++) {
        size_t len = read_file(names[i], file_buf, sizeof(file_buf));
        if (parse(file_buf, len, &cfg) != 0)
            fail_msg("%s: %s", names[i], errors());
    }
    /* The configuration shipped on the ESP is valid too. */
    size_t len = read_file("../../configs/isthmus.toml", file_buf, sizeof(file_buf));
    assert_int_equal(parse(file_buf, len, &cfg), 0);
    assert_true(is_default(&cfg));
}

/* "# expect: LINE: TEXT" lines at the top of an invalid file, after a BOM if any. */
static void test_invalid_files(void **state)
{
    struct isthmus_config cfg;
    int n = list_toml("configs/invalid", names, 256);

    assert_true(n >= 30);
    for (int i = 0; i < n; i++) {
        size_t len = read_file(names[i], file_buf, sizeof(file_buf));
        file_buf[len] = '\0';
        assert_int_equal(parse(file_buf, len, &cfg), -EINVAL);
        assert_true(is_default(&cfg));

        const char *p = file_buf;
        if (!strncmp(p, "\xef\xbb\xbf", 3))
            p += 3;
        u32 nexpect = 0;
        while (!strncmp(p, "# expect: ", 10)) {
            char text[256];
            unsigned line;
            int used = 0;
            p += 10;
            if (sscanf(p, "%u: %n", &line, &used) != 1 || used == 0)
                fail_msg("%s: bad expect line", names[i]);
            const char *eol = strchr(p, '\n');
            assert_non_null(eol);
            snprintf(text, sizeof(text), "%.*s", (int)(eol - p - used), p + used);
            if (nexpect >= diag.nerrors)
                fail_msg("%s: expected an error at line %u (%s), got only:\n%s", names[i], line, text, errors());
            if (diag.err[nexpect].line != line || !strstr(diag.err[nexpect].msg, text))
                fail_msg("%s: expected %u: ...%s..., got:\n%s", names[i], line, text, errors());
            nexpect++;
            p = eol + 1;
        }
        if (nexpect == 0)
            fail_msg("%s: no '# expect:' line at the top", names[i]);
        if (nexpect != diag.nerrors)
            fail_msg("%s: %u errors expected, got:\n%s", names[i], nexpect, errors());
    }
}

static void test_placement_keys(void **state)
{
    (void)state;
    struct isthmus_config cfg;
    EXPECT_OK(
        "[[partition]]\nname = \"a\"\ncpus = 2\nmemory = \"64M\"\nkernel = \"k\"\n"
        "[[partition]]\nname = \"b\"\ncpus = 1\nmemory = \"64M\"\nkernel = \"k\"\n"
        "node = 1\nnuma = \"spread\"\npriority = 7\ndevices = [\"0000:80:00.0\", \"81:1f.7\", \"ffff:ff:1f.7\"]\n",
        &cfg);
    assert_int_equal(cfg.partition[0].node, -1);
    assert_int_equal(cfg.partition[0].numa, 0);
    assert_int_equal(cfg.partition[0].priority, 0);
    assert_int_equal(cfg.partition[0].ndevices, 0);
    assert_int_equal(cfg.partition[1].node, 1);
    assert_int_equal(cfg.partition[1].numa, 1);
    assert_int_equal(cfg.partition[1].priority, 7);
    assert_int_equal(cfg.partition[1].ndevices, 3);
    assert_int_equal(cfg.partition[1].devices[0], 0x8000);
    assert_int_equal(cfg.partition[1].devices[1], (0x81 << 8) | (0x1f << 3) | 7);
    assert_int_equal(cfg.partition[1].devices[2], 0xffffffffu);
    EXPECT_ERRORS("[[partition]]\nname = \"a\"\ncpus = 2\nmemory = \"64M\"\nkernel = \"k\"\n"
                  "node = 32\nnuma = \"wide\"\npriority = -1\ndevices = [\"80:20.0\", \"80:00\", 5]\n",
                  "6: node: expected an integer from 0 to 31, got 32\n"
                  "7: numa: expected one of \"local\", \"spread\", got \"wide\"\n"
                  "8: priority: expected an integer from 0 to 1000, got -1\n"
                  "9: devices: entry 1: expected a PCI address such as \"0000:80:00.0\" or \"80:00.0\"\n");
    EXPECT_ERRORS("[[partition]]\nname = \"a\"\ncpus = 2\nmemory = \"64M\"\nkernel = \"k\"\n"
                  "devices = [\"80:00.0\", \"0000:80:00.0\"]\n",
                  "6: devices: device 0000:80:00.0 is listed twice\n");
}

/* [[failover]]: defaults, names resolved across the file, every group error. */
#define P(name, extra) "[[partition]]\nname = \"" name "\"\ncpus = 1\nmemory = \"64M\"\nkernel = \"k\"\n" extra
#define NIC(mac, vlan) "nic = true\nmac = \"" mac "\"\nvlan = " vlan "\n"

static void test_paging_keys(void **state)
{
    (void)state;
    struct isthmus_config cfg;
    EXPECT_OK(P("a", "") P("b", "paging = \"shadow\"\nshadow_roots = 1\n") P("c", "paging = \"nested\"\n"), &cfg);
    assert_int_equal(cfg.partition[0].paging, PAGING_AUTO);
    assert_int_equal(cfg.partition[0].shadow_roots, 8);
    assert_int_equal(cfg.partition[1].paging, PAGING_SHADOW);
    assert_int_equal(cfg.partition[1].shadow_roots, 1);
    assert_int_equal(cfg.partition[2].paging, PAGING_NESTED);
    EXPECT_ERRORS(P("a", "paging = \"ept\"\n"),
                  "6: paging: expected one of \"auto\", \"nested\", \"shadow\", got \"ept\"\n");
    EXPECT_ERRORS(P("a", "shadow_roots = 0\n"), "6: shadow_roots: expected an integer from 1 to 16, got 0\n");
    EXPECT_ERRORS(P("a", "shadow_roots = 17\n"), "6: shadow_roots: expected an integer from 1 to 16, got 17\n");
    /* Several vCPUs and assigned devices run under shadow paging; the root
     * cache must hold a root per vCPU. */
    EXPECT_OK("[[partition]]\nname = \"a\"\ncpus = 2\nmemory = \"64M\"\nkernel = \"k\"\npaging = \"shadow\"\n"
              "devices = [\"0000:00:03.0\"]\nshadow_memory = \"4M\"\n",
              &cfg);
    assert_int_equal(cfg.partition[0].shadow_tables, 1024);
    EXPECT_ERRORS("[[partition]]\nname = \"a\"\ncpus = 2\nmemory = \"64M\"\nkernel = \"k\"\npaging = \"shadow\"\n"
                  "shadow_roots = 1\n",
                  "1: shadow_roots = 1 is fewer than the 2 CPUs of \"a\" (each runs on a root)\n");
    EXPECT_ERRORS(P("a", "shadow_memory = \"512K\"\n"), "6: shadow_memory: must be from 1M to 1G, got 524288 bytes\n");
    EXPECT_ERRORS(P("a", "shadow_memory = true\n"), "6: shadow_memory: expected a size such as \"16M\"\n");
}

/* device_fault: one action for all devices or one per device; its limit;
 * [hypervisor] iommu. */
static void test_device_fault_keys(void **state)
{
    (void)state;
    struct isthmus_config cfg;
    EXPECT_OK(P("a", "devices = [\"00:05.0\"]\n") P("b", "devices = [\"00:05.0\", \"02:00.0\"]\n"
                                                         "device_fault = \"reset\"\ndevice_fault_limit = 3\n")
                  P("c", "devices = [\"00:06.0\", \"02:01.0\"]\ndevice_fault = [\"fail\", \"log\"]\n"),
              &cfg);
    assert_int_equal(cfg.iommu, CONFIG_IOMMU_AUTO);
    assert_int_equal(cfg.partition[0].device_fault[0], DEV_FAULT_LOG);
    assert_int_equal(cfg.partition[0].device_fault_limit, 10);
    assert_int_equal(cfg.partition[1].device_fault[0], DEV_FAULT_RESET);
    assert_int_equal(cfg.partition[1].device_fault[1], DEV_FAULT_RESET);
    assert_int_equal(cfg.partition[1].device_fault_limit, 3);
    assert_int_equal(cfg.partition[2].device_fault[0], DEV_FAULT_FAIL);
    assert_int_equal(cfg.partition[2].device_fault[1], DEV_FAULT_LOG);
    EXPECT_OK("[hypervisor]\niommu = \"required\"\n", &cfg);
    assert_int_equal(cfg.iommu, CONFIG_IOMMU_REQUIRED);
    EXPECT_OK("[hypervisor]\niommu = \"optional\"\n", &cfg);
    assert_int_equal(cfg.iommu, CONFIG_IOMMU_OPTIONAL);
    EXPECT_ERRORS("[hypervisor]\niommu = \"off\"\n",
                  "2: iommu: expected one of \"auto\", \"required\", \"optional\", got \"off\"\n");
    EXPECT_ERRORS(P("a", "devices = [\"00:05.0\"]\ndevice_fault = \"panic\"\n"),
                  "7: device_fault: expected \"log\", \"reset\" or \"fail\", or a list of them, one per entry "
                  "of devices\n");
    EXPECT_ERRORS(P("a", "devices = [\"00:05.0\"]\ndevice_fault = [\"log\", 3]\n"),
                  "7: device_fault: entry 2: expected \"log\", \"reset\" or \"fail\"\n");
    EXPECT_ERRORS(P("a", "devices = [\"00:05.0\"]\ndevice_fault = [\"log\", \"fail\"]\n"),
                  "1: device_fault lists 2 actions for 1 devices (\"a\"): give one for each, or one string for "
                  "all\n");
    EXPECT_ERRORS(P("a", "device_fault_limit = 0\n"),
                  "6: device_fault_limit: expected an integer from 1 to 100000, got 0\n");
}

/* The MTU: [network] mtu for every port, a NIC's own mtu over it; 68 to
 * 65535 (what virtio-net may offer), errors at the key's line. */
static void test_mtu_keys(void **state)
{
    (void)state;
    struct isthmus_config cfg;
    EXPECT_OK(P("a", NIC("02:00:00:00:00:01", "10")), &cfg);
    assert_int_equal(cfg.net_mtu, 1500);
    assert_int_equal(cfg.partition[0].nic.mtu, 0); /* the switch's */
    EXPECT_OK("[network]\nmtu = 9000\n" P("a", NIC("02:00:00:00:00:01", "10"))
                  P("b", NIC("02:00:00:00:00:02", "10") "mtu = 1500\n")
                      P("c", NIC("02:00:00:00:00:03", "10") "mtu = 65535\n"),
              &cfg);
    assert_int_equal(cfg.net_mtu, 9000);
    assert_int_equal(cfg.partition[0].nic.mtu, 0);
    assert_int_equal(cfg.partition[1].nic.mtu, 1500);
    assert_int_equal(cfg.partition[2].nic.mtu, 65535);
    EXPECT_OK(P("a", NIC("02:00:00:00:00:01", "10") "mtu = 68\n") "[network]\nmtu = 68\n", &cfg);
    assert_int_equal(cfg.net_mtu, 68);
    assert_int_equal(cfg.partition[0].nic.mtu, 68);

    EXPECT_ERRORS("[network]\nmtu = 67\n", "2: mtu: expected an integer from 68 to 65535, got 67\n");
    EXPECT_ERRORS("[network]\nmtu = 65536\n", "2: mtu: expected an integer from 68 to 65535, got 65536\n");
    EXPECT_ERRORS("[network]\nmtu = \"9000\"\n", "2: mtu: expected an integer, got \"9000\" (a string)\n");
    EXPECT_ERRORS(P("a", NIC("02:00:00:00:00:01", "10") "mtu = 0\n"),
                  "9: mtu: expected an integer from 68 to 65535, got 0\n");
    EXPECT_ERRORS(P("a", NIC("02:00:00:00:00:01", "10") "mtu = 100000\n"),
                  "9: mtu: expected an integer from 68 to 65535, got 100000\n");
    EXPECT_ERRORS(P("a", "mtu = 9000\n"), "1: NIC settings (mac, vlan, rates, mtu) given without nic = true\n");
}

static void test_failover_keys(void **state)
{
    (void)state;
    struct isthmus_config cfg;
    /* A group may come before its partitions. */
    EXPECT_OK("[[failover]]\nname = \"web\"\nprimary = \"a\"\nstandby = \"b\"\n" P("a", NIC("02:00:00:00:00:01", "10"))
                  P("b", NIC("02:00:00:00:00:02", "10")),
              &cfg);
    assert_int_equal(cfg.ngroups, 1);
    const struct config_failover *g = &cfg.group[0];
    assert_string_equal(g->name, "web");
    assert_int_equal(g->primary, 0);
    assert_int_equal(g->standby, 1);
    assert_int_equal(g->mode, FAILOVER_AUTO);
    assert_int_equal(g->interval_ms, 100);
    assert_int_equal(g->misses, 3);
    assert_int_equal(g->grace_ms, 5000);
    assert_int_equal(g->vlan, 10);
    assert_int_equal(g->line, 1);
    const u8 def_mac[6] = { 0x02, 0x15, 0x7e, 0xff, 0x00, 0x01 };
    assert_memory_equal(g->mac, def_mac, 6);
    assert_false(g->ip_set);

    EXPECT_OK(P("a", "") "[[failover]]\nname = \"db\"\nprimary = \"a\"\nmode = \"cold\"\n"
                         "interval_ms = 50\nmisses = 5\ngrace_ms = 2000\nstandby_kernel = \"s.elf\"\n"
                         "standby_initrd = \"s.img\"\nstandby_cmdline = \"standby\"\n",
              &cfg);
    g = &cfg.group[0];
    assert_int_equal(g->primary, 0);
    assert_int_equal(g->standby, -1);
    assert_int_equal(g->mode, FAILOVER_COLD);
    assert_int_equal(g->interval_ms, 50);
    assert_int_equal(g->misses, 5);
    assert_int_equal(g->grace_ms, 2000);
    assert_string_equal(g->standby_kernel, "s.elf");
    assert_string_equal(g->standby_cmdline, "standby");
    assert_int_equal(g->vlan, -1);

    EXPECT_OK(
        P("a", NIC("02:00:00:00:00:01", "1") "vlan_mode = \"trunk\"\ntrunk_vlans = [7]\n")
            P("b",
              NIC("02:00:00:00:00:02",
                  "7")) "[[failover]]\nname = \"web\"\nprimary = \"a\"\nstandby = \"b\"\nmac = \"02:aa:00:00:00:01\"\n"
                        "ip = \"10.0.0.1\"\nvlan = 7\nmode = \"hot\"\n",
        &cfg);
    g = &cfg.group[0];
    const u8 ip[4] = { 10, 0, 0, 1 }, mac[6] = { 0x02, 0xaa, 0, 0, 0, 1 };
    assert_memory_equal(g->ip, ip, 4);
    assert_memory_equal(g->mac, mac, 6);
    assert_int_equal(g->vlan, 7);
    assert_int_equal(g->mode, FAILOVER_HOT);

    /* Within a table. */
    EXPECT_ERRORS(P("a", "") P("b", "") "[[failover]]\nname = \"x\"\nprimary = \"a\"\nmode = \"hot\"\n",
                  "11: mode = \"hot\" needs a standby partition\n");
    EXPECT_ERRORS(P("a", "") P("b", "") "[[failover]]\nname = \"x\"\nprimary = \"a\"\nstandby = \"b\"\n"
                                        "mode = \"cold\"\n",
                  "11: mode = \"cold\" boots on the primary's own resources: drop standby "
                  "(standby_kernel gives the image)\n");
    EXPECT_ERRORS(P("a", "") "[[failover]]\nname = \"x\"\nprimary = \"a\"\nstandby_cmdline = \"s\"\n",
                  "6: standby_initrd and standby_cmdline go with standby_kernel\n");
    EXPECT_ERRORS(P("a", "") "[[failover]]\nname = \"x\"\nprimary = \"a\"\nstandby = \"a\"\n",
                  "6: \"a\" cannot be its own standby\n");
    EXPECT_ERRORS(P("a", "") P("b", "") "[[failover]]\nname = \"x\"\nprimary = \"a\"\n"
                                        "[[failover]]\nname = \"x\"\nprimary = \"b\"\n",
                  "14: failover group \"x\" is defined twice\n");
    EXPECT_ERRORS(P("a", "") P("b", "") "[[failover]]\nname = \"x\"\nprimary = \"a\"\nmac = \"02:00:00:00:00:09\"\n"
                                        "[[failover]]\nname = \"y\"\nprimary = \"b\"\nmac = \"02:00:00:00:00:09\"\n",
                  "15: the service MAC is also group \"x\"'s\n");
    EXPECT_ERRORS("[[failover]]\nname = \"x y\"\nprimary = \"a\"\ninterval_ms = 5\nmisses = 0\n"
                  "mode = \"warm\"\nip = \"10.0.0.256\"\nmac = \"01:00:00:00:00:01\"\n[[failover]]\nname = \"z\"\n",
                  "2: name: may hold only letters, digits, '-' and '_'\n"
                  "4: interval_ms: expected an integer from 10 to 60000, got 5\n"
                  "5: misses: expected an integer from 1 to 100, got 0\n"
                  "6: mode: expected one of \"auto\", \"hot\", \"cold\", got \"warm\"\n"
                  "7: ip: expected an IPv4 address such as \"10.0.0.1\"\n"
                  "8: mac: a station needs a unicast address (the low bit of the first byte clear)\n"
                  "9: [[failover]]: missing required key \"primary\"\n");
    /* Across the file. */
    EXPECT_ERRORS("[[failover]]\nname = \"x\"\nprimary = \"nope\"\n" P("a", ""),
                  "1: group \"x\": no partition named \"nope\"\n");
    EXPECT_ERRORS(P("a", "") "[[failover]]\nname = \"x\"\nprimary = \"a\"\nstandby = \"nope\"\n",
                  "6: group \"x\": no partition named \"nope\"\n");
    EXPECT_ERRORS(P("a", "") P("b", "") P("c", "") "[[failover]]\nname = \"x\"\nprimary = \"a\"\nstandby = \"b\"\n"
                                                   "[[failover]]\nname = \"y\"\nprimary = \"c\"\nstandby = \"a\"\n",
                  "20: partition \"a\" is in groups \"x\" and \"y\"\n");
    EXPECT_ERRORS(P("a", NIC("02:00:00:00:00:01", "1"))
                      P("b", "") "[[failover]]\nname = \"x\"\nprimary = \"a\"\nstandby = \"b\"\n",
                  "14: group \"x\": \"a\" has a NIC and \"b\" has none: both or neither\n");
    EXPECT_ERRORS(P("a", "") "[[failover]]\nname = \"x\"\nprimary = \"a\"\nvlan = 3\n",
                  "6: group \"x\": mac, ip and vlan need NICs on its partitions\n");
    EXPECT_ERRORS(
        P("a", NIC("02:00:00:00:00:01",
                   "1") "vlan_mode = \"trunk\"\ntrunk_vlans = [7]\n") "[[failover]]\nname = \"x\"\nprimary = \"a\"\n",
        "11: group \"x\": \"a\" is a trunk port: give the service's vlan\n");
    EXPECT_ERRORS(
        P("a", NIC("02:00:00:00:00:01", "1"))
            P("b", NIC("02:00:00:00:00:02", "2")) "[[failover]]\nname = \"x\"\nprimary = \"a\"\nstandby = \"b\"\n",
        "17: group \"x\": \"b\"'s port does not carry VLAN 1\n");
    EXPECT_ERRORS(P("a", NIC("02:00:00:00:00:01",
                             "1")) "[[failover]]\nname = \"x\"\nprimary = \"a\"\nmac = \"02:00:00:00:00:01\"\n",
                  "9: group \"x\": the service MAC is also \"a\"'s NIC's; give the service its own\n");
}
#undef P
#undef NIC

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_all_keys),
        cmocka_unit_test(test_each_value),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_quoting_in_messages),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_bad_file_configures_nothing),
        cmocka_unit_test(test_several_errors),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_format_error),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_log_level_names),
        cmocka_unit_test(test_encoding_and_layout),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_schema_check_isthmus),
        cmocka_unit_test(test_schema_engine_values),
        cmocka_unit_test(test_schema_engine_errors),
        cmocka_unit_test(test_schema_check_errors),
        cmocka_unit_test(test_reentrant),
        cmocka_unit_test(test_valid_files),
        cmocka_unit_test(test_placement_keys),
        cmocka_unit_test(test_invalid_files),
        cmocka_unit_test(test_paging_keys),
        cmocka_unit_test(test_device_fault_keys),
        cmocka_unit_test(test_failover_keys),
        cmocka_unit_test(test_mtu_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
