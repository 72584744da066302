/* libFuzzer target for the serial console's input path: the line editor
 * (kernel/lib/line_editor.c) fed one byte at a time, as the console feeds what
 * arrives on the UART, and every completed line split by shell_tokenize() and
 * run by shell_run_line() (kernel/lib/shell_core.c) over a small command table.
 *
 * Input: byte 0 picks the prompt's length (up to 47, so truncation at 32 is
 * reached) and byte 1 the tokenizer's word limit; the rest is typed. Invariants,
 * each a CHECK:
 *  - after every byte, the editor's state is sane (length, cursor, NUL, only
 *    printable text, history bounds) and its output, run through a model
 *    terminal, uses only the documented alphabet and shows exactly the prompt
 *    and the line with the cursor at the editor's cursor;
 *  - le_redraw() stays within LE_REDRAW_MAX and draws the same screen;
 *  - shell_tokenize() splits each line as a second tokenizer written here from
 *    its documented rules does (words, -E2BIG, -EINVAL), in place;
 *  - shell_run_line() hands a command exactly those words, prints at most one
 *    line, and returns what the rules say. */
#include "kernel/lib/line_editor.h"
#include "kernel/lib/shell_core.h"
#include "kernel/lib/errno.h"
#include "tests/fuzz/fuzz.h"

#define COLS 320 /* wider than the longest prompt and line */

/* ---------------------------------------------------------------- terminal */

static struct {
    char row[COLS]; /* '\0' cells are blank */
    size_t col;
    size_t hi; /* cells at and past hi are blank */
} T;

static void term_out(void *ctx, const char *s, size_t n)
{
    CHECK(ctx == &T && n > 0);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\r') {
            T.col = 0;
        } else if (c == '\n') {
            memset(T.row, 0, sizeof(T.row)); /* a fresh row */
            T.col = T.hi = 0;
        } else if (c == '\b') {
            CHECK(T.col > 0);
            T.col--;
        } else if (c == '\a') {
        } else if (c == 0x1b) {
            CHECK(i + 2 < n && s[i + 1] == '[' && s[i + 2] == 'K');
            memset(T.row + T.col, 0, COLS - T.col);
            T.hi = MIN(T.hi, T.col);
            i += 2;
        } else {
            CHECK(c >= 0x20 && c < 0x7f && T.col < COLS);
            T.row[T.col++] = c;
            T.hi = MAX(T.hi, T.col);
        }
    }
}

static struct line_editor le;

/* The row shows prompt + buffer (typed trailing spaces look like blanks), the
 * cursor at cur. */
static void check_screen(void)
{
    size_t plen = strlen(le.prompt), w = plen + le.len;
    CHECK(w < COLS && T.col == plen + le.cur);
    if (memcmp(T.row, le.prompt, plen) || memcmp(T.row + plen, le.buf, le.len)) {
        /* Cells never written stand for spaces. */
        for (size_t i = 0; i < w; i++)
            CHECK((T.row[i] ? T.row[i] : ' ') == (i < plen ? le.prompt[i] : le.buf[i - plen]));
    }
    for (size_t i = w; i < T.hi; i++)
        CHECK(T.row[i] == '\0' || T.row[i] == ' ');
}

static void check_editor(bool whole)
{
    CHECK(le.len <= LE_MAX_LINE && le.cur <= le.len && le.buf[le.len] == '\0');
    for (size_t i = 0; whole && i < le.len; i++)
        CHECK(le.buf[i] >= 0x20 && le.buf[i] < 0x7f);
    CHECK(le.esc_len < LE_MAX_ESC);
    CHECK(le.hist_count >= 0 && le.hist_count <= LE_HISTORY && le.hist_pos >= -1 && le.hist_pos < le.hist_count);
    CHECK(le_history_count(&le) == le.hist_count && le_history_get(&le, le.hist_count) == NULL);
    CHECK(fz_terminated(le.line, sizeof(le.line)));
}

static size_t redraw_len;

static void count_out(void *ctx, const char *s, size_t n)
{
    redraw_len += n;
    term_out(ctx, s, n);
}

/* ---------------------------------------------------------------- tokenizer */

struct words {
    int n;
    char w[SHELL_MAX_ARGS + 1][LE_MAX_LINE + 1];
};

static bool is_sep(char c) { return c == ' ' || c == '\t'; }

/* The documented rules, one character at a time into separate buffers. */
static int ref_tokenize(const char *s, int max, struct words *out)
{
    out->n = 0;
    for (;;) {
        while (is_sep(*s))
            s++;
        if (!*s)
            return out->n;
        if (out->n >= max)
            return -E2BIG;
        char *w = out->w[out->n++];
        bool q = false;
        for (; *s && (q || !is_sep(*s)); s++) {
            if (*s == '"')
                q = !q;
            else if (q && *s == '\\' && (s[1] == '"' || s[1] == '\\'))
                *w++ = *++s;
            else
                *w++ = *s;
        }
        *w = '\0';
        if (q)
            return -EINVAL;
    }
}

static struct words ref;
static int calls, call_argc;
static char call_words[SHELL_MAX_ARGS][LE_MAX_LINE + 1];

static int cmd_record(int argc, char **argv)
{
    calls++;
    call_argc = argc;
    CHECK(argc >= 1 && argc <= SHELL_MAX_ARGS && argv[argc] == NULL);
    for (int i = 0; i < argc; i++)
        memcpy(call_words[i], argv[i], strlen(argv[i]) + 1);
    return argc == 2 ? -EINVAL : argc == 3 ? -EIO : 0;
}

static const struct shell_cmd cmds[] = {
    { "help", "help [COMMAND]", "list commands", cmd_record },
    { "part", "part start|stop NAME", "partitions", cmd_record },
    { "x", "x", "no handler", NULL },
};

static int printed_lines;

static void shell_out(void *ctx, const char *s, size_t n)
{
    CHECK(ctx == &printed_lines && n > 0 && s[n - 1] == '\n' && memchr(s, '\n', n) == s + n - 1);
    printed_lines++;
}

static void check_line(const char *line, int max)
{
    char copy[LE_MAX_LINE + 1], *argv[SHELL_MAX_ARGS + 1];
    const char *err = NULL;
    size_t len = strlen(line);
    CHECK(len <= LE_MAX_LINE);

    memcpy(copy, line, len + 1);
    int want = ref_tokenize(line, max, &ref);
    int rc = shell_tokenize(copy, argv, max, &err);
    CHECK(rc == want && (rc < 0) == (err != NULL));
    if (rc >= 0) {
        for (int i = 0; i < rc; i++)
            CHECK(argv[i] >= copy && argv[i] <= copy + len && strcmp(argv[i], ref.w[i]) == 0);
        CHECK(rc == max || argv[rc] == NULL);
    }

    /* Dispatch: words of at most SHELL_MAX_ARGS. */
    memcpy(copy, line, len + 1);
    want = ref_tokenize(line, SHELL_MAX_ARGS, &ref);
    calls = printed_lines = 0;
    rc = shell_run_line(cmds, ARRAY_SIZE(cmds), copy, shell_out, &printed_lines);
    CHECK(printed_lines <= 1);
    if (want <= 0) {
        CHECK(rc == want && calls == 0 && printed_lines == (want < 0));
        return;
    }
    const struct shell_cmd *c = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
        if (!strcmp(ref.w[0], cmds[i].name))
            c = &cmds[i];
    if (!c) {
        CHECK(rc == -ENOENT && calls == 0 && printed_lines == 1);
    } else if (!c->fn) {
        CHECK(rc == -ENOSYS && calls == 0 && printed_lines == 1);
    } else {
        CHECK(calls == 1 && call_argc == want);
        for (int i = 0; i < want; i++)
            CHECK(strcmp(call_words[i], ref.w[i]) == 0);
        CHECK(rc == (want == 2 ? -EINVAL : want == 3 ? -EIO : 0) && printed_lines == (rc != 0));
    }
}

/* ---------------------------------------------------------------- entry */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char prompt_chars[] = "isthmus> [partition-alpha:vcpu3] $ abcdefghijklm";
    char prompt[64];
    if (size < 2)
        return 0;
    size_t plen = data[0] % 48;
    memcpy(prompt, prompt_chars, plen);
    prompt[plen] = '\0';
    int max = 1 + data[1] % SHELL_MAX_ARGS;

    memset(&T, 0, sizeof(T));
    le_init(&le, prompt);
    CHECK(strlen(le.prompt) == MIN(plen, (size_t)LE_MAX_PROMPT));
    le_prompt(&le, term_out, &T);
    check_screen();
    for (size_t i = 2; i < size; i++) {
        enum le_event ev = le_feed(&le, data[i], term_out, &T);
        CHECK(ev == LE_NONE || ev == LE_LINE || ev == LE_CANCEL);
        check_editor(ev != LE_NONE || (i & 15) == 0 || i + 1 == size);
        if (ev == LE_LINE) {
            CHECK(T.col == 0 && !T.row[0]); /* "\r\n" was echoed */
            check_line(le_line(&le), max);
        }
        if (ev != LE_NONE)
            le_prompt(&le, term_out, &T);
        check_screen();
        if (data[i] == 0x0c || i + 1 == size) {
            /* As after a log line: from an empty row, the same screen again. */
            memset(&T, 0, sizeof(T));
            redraw_len = 0;
            le_redraw(&le, count_out, &T);
            CHECK(redraw_len <= LE_REDRAW_MAX);
            check_screen();
        }
    }
    for (int i = 0; i < le_history_count(&le); i++) {
        const char *h = le_history_get(&le, i);
        CHECK(h && strlen(h) >= 1 && strlen(h) <= LE_MAX_LINE);
    }
    return 0;
}
