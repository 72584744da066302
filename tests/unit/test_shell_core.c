/* Shell core: tokenizer cases and a randomised comparison with a reference
 * tokenizer, dispatch outcomes and their one-line messages, the generated help,
 * and registration through the linker section. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/lib/shell_core.h"
#include "kernel/lib/errno.h"
#include "kernel/core/console.h"
#include "tests/unit/stubs.h"

/* The output the dispatcher is given: the stub console's buffer, after checking
 * that the context passed in comes back. */
static int out_ctx;

static void out(void *ctx, const char *s, size_t n)
{
    assert_ptr_equal(ctx, &out_ctx);
    con_write(s, n);
}

/* ------------------------------------------------------------------ tokenizer */

struct tok_case {
    const char *in;
    int rc;
    const char *argv[6];
};

static const struct tok_case tok_cases[] = {
    { "", 0, { NULL } },
    { "   \t  ", 0, { NULL } },
    { "help", 1, { "help" } },
    { "  part   start\tvm1  ", 3, { "part", "start", "vm1" } },
    { "echo \"a b\"  c", 3, { "echo", "a b", "c" } },
    { "\"\"", 1, { "" } },
    { "x \"\" y", 3, { "x", "", "y" } },
    { "a\"b c\"d e", 2, { "ab cd", "e" } },
    { "\"quoted \\\"inner\\\" and \\\\ back\"", 1, { "quoted \"inner\" and \\ back" } },
    { "\"keep \\n and \\x\"", 1, { "keep \\n and \\x" } },
    { "out\\side \\x", 2, { "out\\side", "\\x" } }, /* backslash is literal outside quotes */
    { "\\\"a b\"", 1, { "\\a b" } },
    { "\"tab\tinside\"", 1, { "tab\tinside" } },
    { "\"trailing\\\\\"", 1, { "trailing\\" } },
    { "\"", -EINVAL, { NULL } },
    { "a \"b", -EINVAL, { NULL } },
    { "\"a\\\"", -EINVAL, { NULL } }, /* the escaped quote does not close */
    { "1 2 3 4 5", 5, { "1", "2", "3", "4", "5" } },
    { "1 2 3 4 5 6", -E2BIG, { NULL } },
    { "1 2 3 4 5      ", 5, { "1", "2", "3", "4", "5" } },
};

static void test_tokenizer_cases(void **state)
{
    for (size_t i = 0; i < sizeof(tok_cases) / sizeof(tok_cases[0]); i++) {
        const struct tok_case *c = &tok_cases[i];
        char line[128];
        char *argv[6];
        const char *err = "unset";
        snprintf(line, sizeof(line), "%s", c->in);
        int rc = shell_tokenize(line, argv, 5, &err);
        if (rc != c->rc)
            fail_msg("case %zu \"%s\": rc %d want %d", i, c->in, rc, c->rc);
        if (rc < 0) {
            assert_non_null(err);
            assert_null(strchr(err, '\n'));
            continue;
        }
        assert_null(err);
        for (int k = 0; k < rc; k++)
            assert_string_equal(argv[k], c->argv[k]);
        if (rc < 5)
            assert_null(argv[rc]);
    }
}

static void test_tokenizer_messages(void **state)
{
    char line[64] = "a \"b";
    char *argv[4];
    const char *err;

    assert_int_equal(shell_tokenize(line, argv, 4, &err), -EINVAL);
    assert_string_equal(err, "unterminated quote");
    strcpy(line, "a b c d e");
    assert_int_equal(shell_tokenize(line, argv, 4, &err), -E2BIG);
    assert_string_equal(err, "too many arguments");
    /* NULL line, NULL err, zero slots. */
    assert_int_equal(shell_tokenize(NULL, argv, 4, &err), 0);
    strcpy(line, "x");
    assert_int_equal(shell_tokenize(line, argv, 4, NULL), 1);
    strcpy(line, "x");
    assert_int_equal(shell_tokenize(line, argv, 0, NULL), -E2BIG);
    strcpy(line, "   ");
    assert_int_equal(shell_tokenize(line, argv, 0, NULL), 0);
    /* Exactly max_args: no room for the NULL, which must not be written. */
    char *two[2] = { (char *)"sentinel", (char *)"sentinel" };
    strcpy(line, "p q");
    assert_int_equal(shell_tokenize(line, two, 2, NULL), 2);
    assert_string_equal(two[1], "q");
}

static void test_tokenizer_large_inputs(void **state)
{
    enum { BIG = 10 * 1024 };
    char *line = malloc(BIG + 1);
    char *argv[SHELL_MAX_ARGS + 1];
    const char *err;

    /* One 10 KiB word. */
    memset(line, 'w', BIG);
    line[BIG] = '\0';
    assert_int_equal(shell_tokenize(line, argv, SHELL_MAX_ARGS, &err), 1);
    assert_int_equal(strlen(argv[0]), BIG);
    /* 10 KiB of separators. */
    for (int i = 0; i < BIG; i++)
        line[i] = i % 3 ? ' ' : '\t';
    assert_int_equal(shell_tokenize(line, argv, SHELL_MAX_ARGS, &err), 0);
    /* 5 K one-letter words. */
    for (int i = 0; i < BIG; i++)
        line[i] = i % 2 ? ' ' : 'a';
    assert_int_equal(shell_tokenize(line, argv, SHELL_MAX_ARGS, &err), -E2BIG);
    /* 10 KiB inside one pair of quotes, full of escapes. */
    line[0] = '"';
    for (int i = 1; i < BIG - 1; i++)
        line[i] = (i % 2) ? '\\' : '"';
    line[BIG - 1] = '"';
    assert_int_equal(shell_tokenize(line, argv, SHELL_MAX_ARGS, &err), 1);
    assert_int_equal(strlen(argv[0]), (BIG - 2) / 2);
    /* 10 KiB of quote characters: 5 K empty pairs are one empty word. */
    memset(line, '"', BIG);
    assert_int_equal(shell_tokenize(line, argv, SHELL_MAX_ARGS, &err), 1);
    assert_string_equal(argv[0], "");
    memset(line, '"', BIG - 1); /* the last call wrote its NUL at line[0] */
    line[BIG - 1] = 'x';
    assert_int_equal(shell_tokenize(line, argv, SHELL_MAX_ARGS, &err), -EINVAL);
    free(line);
}

/* A straightforward copy-out tokenizer with the documented grammar. */
static int ref_tokenize(const char *s, char out[][256], int max)
{
    int argc = 0;
    size_t i = 0, n = strlen(s);

    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == n)
            return argc;
        if (argc == max)
            return -E2BIG;
        size_t k = 0;
        bool q = false;
        while (i < n && (q || (s[i] != ' ' && s[i] != '\t'))) {
            if (s[i] == '"') {
                q = !q;
                i++;
            } else if (q && s[i] == '\\' && i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\\')) {
                out[argc][k++] = s[i + 1];
                i += 2;
            } else {
                out[argc][k++] = s[i++];
            }
        }
        if (q)
            return -EINVAL;
        out[argc++][k] = '\0';
    }
}

static void test_tokenizer_random_vs_reference(void **state)
{
    static const char alphabet[] = "ab \t\"\\\"\\  x";
    char line[200], copy[200];
    char ref[8][256];
    char *argv[8];

    srand(4242);
    for (int iter = 0; iter < 200000; iter++) {
        int len = rand() % 40;
        for (int i = 0; i < len; i++)
            line[i] = alphabet[rand() % (sizeof(alphabet) - 1)];
        line[len] = '\0';
        memcpy(copy, line, (size_t)len + 1);
        int want = ref_tokenize(copy, ref, 7);
        int rc = shell_tokenize(line, argv, 7, NULL);
        if (rc != want)
            fail_msg("\"%s\": rc %d want %d", copy, rc, want);
        for (int k = 0; k < rc; k++) {
            assert_true(argv[k] >= line && argv[k] < line + len + 1);
            assert_string_equal(argv[k], ref[k]);
        }
    }
}

/* ------------------------------------------------------------------ dispatch */

static int last_argc;
static char last_args[4][64];

static int cmd_ok(int argc, char **argv)
{
    last_argc = argc;
    for (int i = 0; i < argc && i < 4; i++)
        snprintf(last_args[i], sizeof(last_args[i]), "%s", argv[i]);
    assert_null(argv[argc]);
    return 0;
}

static int cmd_usage(int argc, char **argv) { return -EINVAL; }
static int cmd_busy(int argc, char **argv) { return -EBUSY; }
static int cmd_weird(int argc, char **argv) { return -9999; }
static int cmd_positive(int argc, char **argv) { return 3; }

static const struct shell_cmd table[] = {
    { "part", "part start|stop NAME", "start or stop a partition", cmd_usage },
    { "mem", "mem [NODE]", "show memory", cmd_ok },
    { "busy", "busy", "always busy", cmd_busy },
    { "cpu", NULL, "no usage given", cmd_usage },
    { "weird", "weird", "odd error code", cmd_weird },
    { "pos", "pos", "positive result", cmd_positive },
    { "nofn", "nofn", "handler missing", NULL },
    { "a-very-long-command-name", "a-very-long-command-name --with many options and more words here", "long usage",
      cmd_ok },
};
#define NT (sizeof(table) / sizeof(table[0]))

static int run(const char *s)
{
    char line[256];
    snprintf(line, sizeof(line), "%s", s);
    test_stubs_reset();
    return shell_run_line(table, NT, line, out, &out_ctx);
}

static int lines_of_output(void)
{
    int n = 0;
    for (size_t i = 0; i < test_con_len; i++)
        n += test_con_buf[i] == '\n';
    return n;
}

static void test_dispatch(void **state)
{
    assert_int_equal(run(""), 0);
    assert_int_equal(test_con_len, 0);
    assert_int_equal(run("   \t "), 0);
    assert_int_equal(test_con_len, 0);

    assert_int_equal(run("mem 0 \"x y\""), 0);
    assert_int_equal(test_con_len, 0);
    assert_int_equal(last_argc, 3);
    assert_string_equal(last_args[0], "mem");
    assert_string_equal(last_args[2], "x y");

    assert_int_equal(run("memory"), -ENOENT);
    assert_string_equal(test_con_buf, "unknown command: memory (try 'help')\n");
    assert_int_equal(run("me"), -ENOENT); /* no prefix matching */
    assert_int_equal(run("MEM"), -ENOENT);

    assert_int_equal(run("part bogus"), -EINVAL);
    assert_string_equal(test_con_buf, "usage: part start|stop NAME\n");
    assert_int_equal(run("cpu"), -EINVAL);
    assert_string_equal(test_con_buf, "usage: cpu\n");

    assert_int_equal(run("busy"), -EBUSY);
    assert_string_equal(test_con_buf, "busy: error: EBUSY\n");
    assert_int_equal(run("weird"), -9999);
    assert_int_equal(lines_of_output(), 1);
    assert_true(strncmp(test_con_buf, "weird: error: ", 14) == 0);
    assert_int_equal(run("pos"), 3);
    assert_int_equal(test_con_len, 0);
    assert_int_equal(run("nofn"), -ENOSYS);
    assert_string_equal(test_con_buf, "nofn: error: ENOSYS\n");

    assert_int_equal(run("mem \"oops"), -EINVAL);
    assert_string_equal(test_con_buf, "error: unterminated quote\n");
    assert_int_equal(run("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33"),
                     -E2BIG);
    assert_string_equal(test_con_buf, "error: too many arguments\n");
    assert_int_equal(run("mem 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32"),
                     0);
    assert_int_equal(last_argc, 32);
}

static void test_dispatch_hostile(void **state)
{
    /* A 10 KiB unknown word gives one short line. */
    char *line = malloc(10241);
    memset(line, 'z', 10240);
    line[10240] = '\0';
    test_stubs_reset();
    assert_int_equal(shell_run_line(table, NT, line, out, &out_ctx), -ENOENT);
    assert_int_equal(lines_of_output(), 1);
    assert_true(test_con_len < 200);
    free(line);

    /* Empty table, NULL table, NULL line. */
    char l2[] = "mem";
    test_stubs_reset();
    assert_int_equal(shell_run_line(NULL, 0, l2, out, &out_ctx), -ENOENT);
    assert_int_equal(shell_run_line(table, 0, l2, out, &out_ctx), -ENOENT);
    assert_int_equal(shell_run_line(table, NT, NULL, out, &out_ctx), 0);
    /* No output function: the same results, nothing printed. */
    char l3[] = "nope";
    test_stubs_reset();
    assert_int_equal(shell_run_line(table, NT, l3, NULL, NULL), -ENOENT);
    shell_print_help(table, NT, NULL, NULL, NULL);
    assert_int_equal(test_con_len, 0);

    /* Random lines never crash and never print more than one line. */
    srand(99);
    for (int i = 0; i < 20000; i++) {
        char buf[64];
        int n = rand() % 63;
        for (int k = 0; k < n; k++)
            buf[k] = (char)(rand() % 255 + 1);
        buf[n] = '\0';
        test_stubs_reset();
        shell_run_line(table, NT, buf, out, &out_ctx);
        assert_true(lines_of_output() <= 1);
    }
}

/* ------------------------------------------------------------------ help */

static void test_help_listing(void **state)
{
    test_stubs_reset();
    shell_print_help(table, NT, NULL, out, &out_ctx);
    const char *order[] = { "a-very-long-command-name", "busy", "cpu", "mem", "nofn", "part", "pos", "weird" };

    assert_int_equal(lines_of_output(), (int)NT);
    const char *p = test_con_buf;
    int help_col = -1;
    for (size_t i = 0; i < NT; i++) {
        const char *eol = strchr(p, '\n');
        assert_non_null(eol);
        assert_true(strncmp(p, "  ", 2) == 0);
        assert_true(strncmp(p + 2, order[i], strlen(order[i])) == 0);
        const struct shell_cmd *c = shell_find(table, NT, order[i]);
        const char *h = strstr(p, c->help);
        assert_non_null(h);
        assert_true(h < eol);
        assert_int_equal(eol - h, (long)strlen(c->help)); /* help ends the line */
        /* Every help text starts in the same column, except after a usage longer
         * than the column cap. */
        if (strlen(c->usage ? c->usage : c->name) <= 36) {
            if (help_col < 0)
                help_col = (int)(h - p);
            assert_int_equal(h - p, help_col);
        }
        p = eol + 1;
    }
    assert_int_equal(help_col, 2 + 36 + 2);

    test_stubs_reset();
    shell_print_help(table, NT, "", out, &out_ctx);
    assert_int_equal(lines_of_output(), (int)NT);
}

static void test_help_short_table_alignment(void **state)
{
    static const struct shell_cmd small[] = {
        { "zeta", "zeta", "last", cmd_ok },
        { "alpha", "alpha X Y", "first", cmd_ok },
        { "mid", "mid", "middle", cmd_ok },
    };
    test_stubs_reset();
    shell_print_help(small, 3, NULL, out, &out_ctx);
    assert_string_equal(test_con_buf, "  alpha X Y  first\n"
                                      "  mid        middle\n"
                                      "  zeta       last\n");
}

static void test_help_topic(void **state)
{
    test_stubs_reset();
    shell_print_help(table, NT, "part", out, &out_ctx);
    assert_string_equal(test_con_buf, "usage: part start|stop NAME\n  start or stop a partition\n");
    test_stubs_reset();
    shell_print_help(table, NT, "cpu", out, &out_ctx);
    assert_string_equal(test_con_buf, "usage: cpu\n  no usage given\n");
    test_stubs_reset();
    shell_print_help(table, NT, "nope", out, &out_ctx);
    assert_string_equal(test_con_buf, "help: no such command: nope\n");
    test_stubs_reset();
    shell_print_help(NULL, 5, NULL, out, &out_ctx);
    assert_int_equal(test_con_len, 0);
}

static void test_help_duplicates_and_nulls(void **state)
{
    static const struct shell_cmd dup[] = {
        { "b", "b", "second b", cmd_ok },
        { NULL, NULL, NULL, NULL },
        { "a", "a", "an a", cmd_ok },
        { "b", "b", "first b?", cmd_ok },
    };
    test_stubs_reset();
    shell_print_help(dup, 4, NULL, out, &out_ctx);
    assert_string_equal(test_con_buf, "  a  an a\n  b  second b\n  b  first b?\n");
}

/* ------------------------------------------------------------------ registration */

static int cmd_reg_one(int argc, char **argv) { return 0; }
static int cmd_reg_two(int argc, char **argv) { return -EBUSY; }

SHELL_COMMAND(regone, "regone", "registered through the section", cmd_reg_one);
SHELL_COMMAND(regtwo, "regtwo ARG", "also registered", cmd_reg_two);

static void test_section_registration(void **state)
{
    size_t n = shell_cmds_count();

    assert_int_equal(n, 2);
    assert_non_null(shell_find(__start_shell_cmds, n, "regone"));
    assert_non_null(shell_find(__start_shell_cmds, n, "regtwo"));
    char line[] = "regtwo x";
    test_stubs_reset();
    assert_int_equal(shell_run_line(__start_shell_cmds, n, line, out, &out_ctx), -EBUSY);
    assert_string_equal(test_con_buf, "regtwo: error: EBUSY\n");
    test_stubs_reset();
    shell_print_help(__start_shell_cmds, n, NULL, out, &out_ctx);
    assert_string_equal(test_con_buf, "  regone      registered through the section\n"
                                      "  regtwo ARG  also registered\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenizer_cases),
        cmocka_unit_test(test_tokenizer_messages),
        cmocka_unit_test(test_tokenizer_large_inputs),
        cmocka_unit_test(test_tokenizer_random_vs_reference),
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_dispatch_hostile),
        cmocka_unit_test(test_help_listing),
        cmocka_unit_test(test_help_short_table_alignment),
        cmocka_unit_test(test_help_topic),
        cmocka_unit_test(test_help_duplicates_and_nulls),
        cmocka_unit_test(test_section_registration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
