/* Line editor: every key, history navigation, CR/LF pairing, length limits and
 * random input. Output is fed through a tiny terminal model that accepts only
 * the documented output alphabet and checks that what a terminal would show
 * is exactly prompt + buffer, with the cursor in the right column. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernel/lib/line_editor.h"

/* ------------------------------------------------------------------ capture + terminal model */

#define COLS 1024

struct term {
    char raw[1 << 16]; /* everything written since the last clear */
    size_t rawlen;
    char row[COLS]; /* the current screen row; '\0' cells are blank */
    size_t col;
    int newlines;
    int bells;
    bool bad; /* output outside the alphabet */
};

static struct term T;
static struct line_editor le;

static void term_clear(void) { memset(&T, 0, sizeof(T)); }

static void term_put(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\r') {
            T.col = 0;
        } else if (c == '\n') {
            /* Only ever sent as "\r\n": a fresh row. */
            memset(T.row, 0, sizeof(T.row));
            T.col = 0;
            T.newlines++;
        } else if (c == '\b') {
            if (T.col > 0)
                T.col--;
        } else if (c == '\a') {
            T.bells++;
        } else if (c == 0x1b) {
            if (i + 2 < n && s[i + 1] == '[' && s[i + 2] == 'K') {
                memset(T.row + T.col, 0, COLS - T.col);
                i += 2;
            } else {
                T.bad = true;
            }
        } else if (c >= 0x20 && c < 0x7f && T.col < COLS) {
            T.row[T.col++] = c;
        } else {
            T.bad = true;
        }
    }
}

static void out(void *ctx, const char *s, size_t n)
{
    assert_ptr_equal(ctx, &T);
    assert_true(n > 0);
    if (T.rawlen + n < sizeof(T.raw)) {
        memcpy(T.raw + T.rawlen, s, n);
        T.rawlen += n;
    } else {
        T.rawlen = 0; /* long fuzz runs: only the screen model matters */
    }
    term_put(s, n);
}

/* What the screen shows on the current row, without trailing blanks. */
static void screen_text(char *dst)
{
    size_t n = COLS;
    while (n > 0 && (T.row[n - 1] == '\0' || T.row[n - 1] == ' '))
        n--;
    for (size_t i = 0; i < n; i++)
        dst[i] = T.row[i] ? T.row[i] : ' ';
    dst[n] = '\0';
}

static void check_invariants(void)
{
    assert_true(le.len <= LE_MAX_LINE);
    assert_true(le.cur <= le.len);
    assert_int_equal(le.buf[le.len], '\0');
    assert_int_equal(strlen(le.buf), le.len);
    for (size_t i = 0; i < le.len; i++)
        assert_true(le.buf[i] >= 0x20 && le.buf[i] < 0x7f);
    assert_true(le.esc_len < LE_MAX_ESC);
    assert_true(le.hist_count >= 0 && le.hist_count <= LE_HISTORY);
    assert_true(le.hist_pos >= -1 && le.hist_pos < le.hist_count);
    assert_true(strlen(le.line) <= LE_MAX_LINE);
}

/* The screen row equals prompt + buffer and the cursor sits at cur. */
static void check_screen(void)
{
    char want[COLS + 1], got[COLS + 1];

    assert_false(T.bad);
    snprintf(want, sizeof(want), "%s%s", le.prompt, le.buf);
    /* Text the user typed may end in spaces the screen cannot tell from blanks. */
    size_t wl = strlen(want);
    while (wl > 0 && want[wl - 1] == ' ')
        want[--wl] = '\0';
    screen_text(got);
    if (strcmp(want, got) != 0)
        fail_msg("screen \"%s\" but editor has \"%s\"", got, want);
    assert_int_equal(T.col, strlen(le.prompt) + le.cur);
}

/* Feeds a string like a user would, re-prompting after each line as the
 * shell does; returns the last event. */
static enum le_event feed(const char *s)
{
    enum le_event ev = LE_NONE;
    for (; *s; s++) {
        ev = le_feed(&le, (u8)*s, out, &T);
        check_invariants();
        if (ev != LE_NONE)
            le_prompt(&le, out, &T);
        check_screen();
    }
    return ev;
}

static enum le_event feedn(const char *s, size_t n)
{
    enum le_event ev = LE_NONE;
    for (size_t i = 0; i < n; i++)
        ev = le_feed(&le, (u8)s[i], out, &T);
    return ev;
}

static int setup(void **state)
{
    term_clear();
    le_init(&le, "isthmus> ");
    le_prompt(&le, out, &T);
    return 0;
}

static void fresh_output(void)
{
    T.rawlen = 0;
    T.raw[0] = '\0';
}

static void assert_raw(const char *want)
{
    T.raw[T.rawlen] = '\0';
    if (T.rawlen != strlen(want) || memcmp(T.raw, want, T.rawlen) != 0)
        fail_msg("output \"%s\" want \"%s\"", T.raw, want);
}

/* ------------------------------------------------------------------ tests */

static void test_typing_echoes_exactly(void **state)
{
    assert_raw("isthmus> ");
    fresh_output();
    assert_int_equal(feed("status --all \"x y\" 0x1f ~!@#$%^&*()_+{}|:<>?`-=[]\\;',./"), LE_NONE);
    assert_raw("status --all \"x y\" 0x1f ~!@#$%^&*()_+{}|:<>?`-=[]\\;',./");
    fresh_output();
    assert_int_equal(le_feed(&le, '\r', out, &T), LE_LINE);
    assert_raw("\r\n");
    assert_string_equal(le_line(&le), "status --all \"x y\" 0x1f ~!@#$%^&*()_+{}|:<>?`-=[]\\;',./");
    assert_int_equal(le.len, 0);
    fresh_output();
    le_prompt(&le, out, &T);
    assert_raw("isthmus> ");
}

static void test_prompt_truncated_and_null(void **state)
{
    char longp[100];
    memset(longp, 'p', sizeof(longp) - 1);
    longp[99] = '\0';
    le_init(&le, longp);
    assert_int_equal(strlen(le.prompt), LE_MAX_PROMPT);
    le_init(&le, NULL);
    assert_string_equal(le.prompt, "");
    /* No output callback: still edits. */
    le_feed(&le, 'a', NULL, NULL);
    assert_int_equal(le_feed(&le, '\n', NULL, NULL), LE_LINE);
    assert_string_equal(le_line(&le), "a");
}

static void test_backspace(void **state)
{
    feed("abc");
    fresh_output();
    feed("\x7f");
    assert_string_equal(le.buf, "ab");
    assert_raw("\b\x1b[K");
    feed("\b");
    assert_string_equal(le.buf, "a");
    feed("\x7f\x7f\x7f");
    assert_string_equal(le.buf, "");
    fresh_output();
    feed("\x7f"); /* at the start: nothing */
    assert_raw("");
    /* Mid-line. */
    feed("hello\x1b[D\x1b[D\x7f");
    assert_string_equal(le.buf, "helo");
    assert_int_equal(le.cur, 2);
    assert_int_equal(feed("\r"), LE_LINE);
    assert_string_equal(le_line(&le), "helo");
}

static void test_delete_key(void **state)
{
    feed("hello\x1b[3~");
    assert_string_equal(le.buf, "hello"); /* at the end: nothing */
    feed("\x01\x1b[3~");
    assert_string_equal(le.buf, "ello");
    assert_int_equal(le.cur, 0);
    feed("\x1b[C\x1b[C\x1b[3~");
    assert_string_equal(le.buf, "elo");
    assert_int_equal(le.cur, 2);
}

static void test_left_right_insert(void **state)
{
    feed("acd");
    fresh_output();
    feed("\x1b[D\x1bOD");
    assert_int_equal(le.cur, 1);
    assert_raw("\b\b");
    fresh_output();
    feed("b");
    assert_string_equal(le.buf, "abcd");
    assert_int_equal(le.cur, 2);
    assert_raw("bcd\b\b");
    feed("\x1b[C\x1bOC\x1b[C"); /* the third is past the end */
    assert_int_equal(le.cur, 4);
    feed("\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D");
    assert_int_equal(le.cur, 0);
    feed("_");
    assert_string_equal(le.buf, "_abcd");
    feed("\r");
    assert_string_equal(le_line(&le), "_abcd");
}

static void test_home_end_variants(void **state)
{
    static const char *const homes[] = { "\x1b[H", "\x1b[1~", "\x1b[7~", "\x1bOH", "\x01" };
    static const char *const ends[] = { "\x1b[F", "\x1b[4~", "\x1b[8~", "\x1bOF", "\x05" };

    feed("some text");
    for (size_t i = 0; i < 5; i++) {
        feed(homes[i]);
        assert_int_equal(le.cur, 0);
        fresh_output();
        feed(homes[i]);
        assert_raw(""); /* already there */
        feed(ends[i]);
        assert_int_equal(le.cur, 9);
        fresh_output();
        feed(ends[i]);
        assert_raw("");
    }
    feed("\x01X\x05Y");
    assert_string_equal(le.buf, "Xsome textY");
}

static void test_kill_and_redraw(void **state)
{
    feed("first second");
    feed("\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D");
    fresh_output();
    feed("\x0b"); /* Ctrl-K */
    assert_string_equal(le.buf, "first ");
    assert_raw("\x1b[K");
    fresh_output();
    feed("\x0c"); /* Ctrl-L */
    assert_raw("\risthmus> first \x1b[K");
    feed("\x01\x1b[C");
    fresh_output();
    feed("\x0c");
    assert_raw("\risthmus> f"
               "irst \x1b[K\b\b\b\b\b");
    feed("\x15"); /* Ctrl-U: the whole line, whatever the cursor */
    assert_string_equal(le.buf, "");
    assert_int_equal(le.cur, 0);
    fresh_output();
    feed("\x15\x0b");
    assert_raw("");
    assert_int_equal(feed("\r"), LE_LINE);
    assert_string_equal(le_line(&le), "");
}

/* What the console does when a log line arrives mid-edit: erase the row, print
 * the line, and redraw the editor's state on the fresh row below. */
static void log_line_arrives(void)
{
    static const char line[] = "\r\x1b[K[ 1.0] INFO a log line\r\n";
    term_put(line, sizeof(line) - 1);
    fresh_output();
    le_redraw(&le, out, &T);
    assert_true(T.rawlen <= LE_REDRAW_MAX);
}

static void test_redraw_after_interruption(void **state)
{
    int rows = T.newlines;
    log_line_arrives();
    assert_raw("isthmus> ");
    check_screen();
    feed("fail");
    log_line_arrives();
    assert_raw("isthmus> fail");
    check_screen();
    assert_int_equal(T.newlines, rows + 2);
    /* Cursor inside the line: it comes back to where it was. */
    feed("over\x1b[D\x1b[D");
    log_line_arrives();
    assert_raw("isthmus> failover\b\b");
    check_screen();
    /* Editing goes on from there, and the line is whole. */
    feed("X");
    assert_int_equal(feed("\r"), LE_LINE);
    assert_string_equal(le_line(&le), "failovXer");
    /* The longest line with the cursor at its start fits LE_REDRAW_MAX. */
    for (int i = 0; i < LE_MAX_LINE; i++)
        feed("y");
    feed("\x01");
    log_line_arrives();
    check_screen();
}

static void test_ctrl_c(void **state)
{
    feed("doomed");
    fresh_output();
    assert_int_equal(feed("\x03"), LE_CANCEL);
    assert_raw("^C\r\nisthmus> ");
    assert_int_equal(le.len, 0);
    assert_int_equal(le_history_count(&le), 0);
    /* Ctrl-C in the middle of an escape sequence still cancels. */
    feed("x\x1b[");
    assert_int_equal(le_feed(&le, 3, out, &T), LE_CANCEL);
    assert_int_equal(le.esc_state, 0);
}

static void test_crlf(void **state)
{
    int lines = 0;
    const char *in = "one\r\ntwo\n\rthree\r\rfour\n\nfive\r\n\r\n";
    for (const char *p = in; *p; p++)
        if (le_feed(&le, (u8)*p, out, &T) == LE_LINE) {
            lines++;
            le_prompt(&le, out, &T);
        }
    /* one, two, three, "", four, "", five, "" */
    assert_int_equal(lines, 8);

    /* The LF of a CR LF can arrive after the shell printed the next prompt. */
    feed("cmd");
    assert_int_equal(le_feed(&le, '\r', out, &T), LE_LINE);
    le_prompt(&le, out, &T);
    assert_int_equal(le_feed(&le, '\n', out, &T), LE_NONE);
    assert_int_equal(le_feed(&le, '\n', out, &T), LE_LINE); /* a second one is real */
    assert_string_equal(le_line(&le), "");
    /* ...and an LF followed by CR is a pair as well. */
    assert_int_equal(le_feed(&le, '\r', out, &T), LE_NONE);
    /* Anything between CR and LF breaks the pair. */
    le_feed(&le, 'y', out, &T);
    assert_int_equal(le_feed(&le, '\r', out, &T), LE_LINE);
    assert_string_equal(le_line(&le), "y");
    le_feed(&le, 'x', out, &T);
    assert_int_equal(le_feed(&le, '\n', out, &T), LE_LINE);
    assert_string_equal(le_line(&le), "x");
}

static void test_history(void **state)
{
    fresh_output();
    feed("\x1b[A\x1b[B"); /* empty history: nothing happens */
    assert_raw("");
    feed("one\r");
    feed("two\r");
    feed("two\r"); /* duplicate of the newest: not added */
    feed("   \r"); /* blank: not added */
    feed("\r");
    feed("one\r"); /* not the newest: added again */
    assert_int_equal(le_history_count(&le), 3);
    assert_string_equal(le_history_get(&le, 0), "one");
    assert_string_equal(le_history_get(&le, 1), "two");
    assert_string_equal(le_history_get(&le, 2), "one");
    assert_null(le_history_get(&le, 3));
    assert_null(le_history_get(&le, -1));

    feed("draft");
    feed("\x1b[A");
    assert_string_equal(le.buf, "one");
    feed("\x1bOA");
    assert_string_equal(le.buf, "two");
    feed("\x1b[A");
    assert_string_equal(le.buf, "one");
    fresh_output();
    feed("\x1b[A"); /* oldest: stays */
    assert_string_equal(le.buf, "one");
    assert_raw("");
    feed("\x1b[B\x1bOB");
    assert_string_equal(le.buf, "one");
    feed("\x1b[B"); /* back to the line being edited */
    assert_string_equal(le.buf, "draft");
    assert_int_equal(le.cur, 5);
    fresh_output();
    feed("\x1b[B");
    assert_raw("");

    /* Edit a recalled entry and run it: it becomes the newest. */
    feed("\x1b[A\x1b[A\x7f\x7fxx\r");
    assert_string_equal(le_line(&le), "txx");
    assert_string_equal(le_history_get(&le, 0), "txx");
    assert_string_equal(le_history_get(&le, 2), "two"); /* the original is untouched */
    assert_int_equal(le.hist_pos, -1);
    /* A long recalled line shrinking to a short one leaves no debris (ESC[K). */
    feed("a much longer command line\r");
    feed("x\x1b[A\x1b[A\x1b[B\x1b[B");
    assert_string_equal(le.buf, "x");
}

static void test_history_limit(void **state)
{
    char cmd[32];
    for (int i = 0; i < 40; i++) {
        snprintf(cmd, sizeof(cmd), "cmd%d\r", i);
        feed(cmd);
    }
    assert_int_equal(le_history_count(&le), LE_HISTORY);
    assert_string_equal(le_history_get(&le, 0), "cmd39");
    assert_string_equal(le_history_get(&le, LE_HISTORY - 1), "cmd8");
    for (int i = 0; i < 50; i++)
        feed("\x1b[A");
    assert_string_equal(le.buf, "cmd8");
    for (int i = 0; i < 50; i++)
        feed("\x1b[B");
    assert_string_equal(le.buf, "");
}

static void test_max_length(void **state)
{
    char big[400];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    feed(big);
    assert_int_equal(le.len, LE_MAX_LINE);
    assert_int_equal(T.bells, (int)(sizeof(big) - 1 - LE_MAX_LINE));
    /* Full: inserting mid-line is refused too, and the buffer is unchanged. */
    feed("\x01");
    T.bells = 0;
    feed("b");
    assert_int_equal(T.bells, 1);
    assert_int_equal(le.buf[0], 'a');
    /* Deleting one frees one slot. */
    feed("\x1b[3~b");
    assert_int_equal(le.buf[0], 'b');
    assert_int_equal(le.len, LE_MAX_LINE);
    assert_int_equal(feed("\r"), LE_LINE);
    assert_int_equal(strlen(le_line(&le)), LE_MAX_LINE);
    /* A max-length line round-trips through the history. */
    feed("\x1b[A");
    assert_int_equal(le.len, LE_MAX_LINE);
}

static void test_ignored_bytes(void **state)
{
    feed("ab\x1b[D");
    fresh_output();
    for (int b = 0; b < 256; b++) {
        if (b == '\r' || b == '\n' || b == 0x1b || b == 0x7f || b == '\b' || b == 1 || b == 3 || b == 5 || b == 0x0b ||
            b == 0x0c || b == 0x15 || (b >= 0x20 && b < 0x7f))
            continue;
        assert_int_equal(le_feed(&le, (u8)b, out, &T), LE_NONE);
    }
    assert_raw("");
    assert_string_equal(le.buf, "ab");
    assert_int_equal(le.cur, 1);
}

static void test_unknown_escapes(void **state)
{
    feed("ab");
    fresh_output();
    /* Unknown CSI finals, parameters on cursor keys, function keys, Alt+key,
     * SS3 unknowns, an ESC ESC. */
    feed("\x1b[Z\x1b[99~\x1b[1;5C\x1b[2~\x1b[5~\x1b[11~\x1bx\x1bOP\x1bOq\x1b\x1b[Q\x1b[?25h");
    assert_raw("");
    assert_string_equal(le.buf, "ab");
    /* Over-long sequence: dropped, then input is plain again. */
    feed("\x1b[");
    for (int i = 0; i < 20; i++)
        feed("1");
    assert_int_equal(le.esc_state, 0);
    feed("x");
    assert_string_equal(le.buf, "ab11111x"); /* 14 kept + 1 overflow eaten, 5 typed */
    /* A byte >= 0x80 aborts a sequence and is itself ignored. */
    feed("\x1b[\x80"
         "A");
    assert_string_equal(le.buf, "ab11111xA");
}

static void run_fuzz(unsigned seed, size_t n, bool biased)
{
    static const u8 interesting[] = { 0x1b, '[', 'O', 'A',  'B',  'C',  'D',  'H',  'F',  '~',
                                      '1',  '3', '4', '7',  '8',  ';',  '\r', '\n', 0x7f, '\b',
                                      1,    3,   5,   0x0b, 0x0c, 0x15, 'x',  ' ',  0x80, 0xff };
    int lines = 0;

    srand(seed);
    for (size_t i = 0; i < n; i++) {
        u8 b;
        if (biased)
            b = rand() % 8 ? interesting[rand() % sizeof(interesting)] : (u8)rand();
        else
            b = (u8)rand();
        enum le_event ev = le_feed(&le, b, out, &T);
        assert_true(ev == LE_NONE || ev == LE_LINE || ev == LE_CANCEL);
        if (ev != LE_NONE) {
            lines++;
            le_prompt(&le, out, &T);
        }
        assert_true(le.len <= LE_MAX_LINE && le.cur <= le.len && le.buf[le.len] == '\0');
        assert_true(le.esc_len < LE_MAX_ESC);
        if (i % 16 == 0) {
            check_invariants();
            check_screen();
        }
    }
    check_invariants();
    check_screen();
    /* History entries stay printable and terminated. */
    for (int i = 0; i < le_history_count(&le); i++) {
        const char *h = le_history_get(&le, i);
        assert_true(strlen(h) > 0 && strlen(h) <= LE_MAX_LINE);
    }
    assert_true(lines > 0);
}

static void test_fuzz_random_bytes(void **state) { run_fuzz(12345, 1000000, false); }

static void test_fuzz_biased_bytes(void **state) { run_fuzz(777, 1000000, true); }

static void test_long_typing_run(void **state)
{
    /* 10 000 lines of typical typing, each echoed exactly. */
    char line[64];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(line, sizeof(line), "part start guest-%d --cpus %d", i, i % 7);
        fresh_output();
        feedn(line, (size_t)n);
        assert_raw(line);
        assert_int_equal(le_feed(&le, '\r', out, &T), LE_LINE);
        assert_string_equal(le_line(&le), line);
        le_prompt(&le, out, &T);
    }
    assert_int_equal(le_history_count(&le), LE_HISTORY);
}

#define TC(fn) cmocka_unit_test_setup(fn, setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TC(test_typing_echoes_exactly),
        TC(test_prompt_truncated_and_null),
        TC(test_backspace),
        TC(test_delete_key),
        TC(test_left_right_insert),
        TC(test_home_end_variants),
        TC(test_kill_and_redraw),
        TC(test_redraw_after_interruption),
        TC(test_ctrl_c),
        TC(test_crlf),
        TC(test_history),
        TC(test_history_limit),
        TC(test_max_length),
        TC(test_ignored_bytes),
        TC(test_unknown_escapes),
        TC(test_fuzz_random_bytes),
        TC(test_fuzz_biased_bytes),
        TC(test_long_typing_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
