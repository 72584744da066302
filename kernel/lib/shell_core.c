/* Shell tokenizer, dispatcher and help listing; see shell_core.h. */
#include "kernel/lib/shell_core.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

/* Longest command name echoed back in an error, so that a pasted megabyte
 * still gives one short line. */
#define ECHO_MAX      64
/* Usage column width cap: a very long usage does not push every help text
 * off the screen. */
#define USAGE_COL_MAX 36

/* Copies at most ECHO_MAX characters of untrusted text for an error message,
 * with control and non-ASCII bytes shown as '?' so the message stays one line
 * and cannot drive the terminal. */
static const char *printable(char dst[ECHO_MAX + 4], const char *s)
{
    size_t i = 0;

    for (; i < ECHO_MAX && s[i]; i++)
        dst[i] = (s[i] >= 0x20 && s[i] < 0x7F) ? s[i] : '?';
    if (s[i]) {
        memcpy(dst + i, "...", 3);
        i += 3;
    }
    dst[i] = '\0';
    return dst;
}

/* Formats one message and hands it to out in one call. The buffer is as long
 * as the console's: a longer line is cut there, not split. */
static void __printf(3, 4) say(shell_out_fn out, void *ctx, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (!out)
        return;
    va_start(ap, fmt);
    int n = kvsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        out(ctx, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static bool is_sep(char c) { return c == ' ' || c == '\t'; }

static void set_err(const char **err, const char *msg)
{
    if (err)
        *err = msg;
}

int shell_tokenize(char *line, char **argv, int max_args, const char **err)
{
    char *r = line;
    int argc = 0;

    set_err(err, NULL);
    if (!line)
        return 0;
    for (;;) {
        while (is_sep(*r))
            r++;
        if (!*r)
            break;
        if (argc >= max_args || !argv) {
            set_err(err, "too many arguments");
            return -E2BIG;
        }
        /* The write pointer never passes the read pointer: quotes and escapes
         * only shrink a word. */
        char *w = r;
        bool quoted = false;
        argv[argc++] = w;
        while (*r) {
            char c = *r;
            if (quoted) {
                if (c == '"') {
                    quoted = false;
                    r++;
                } else if (c == '\\' && (r[1] == '"' || r[1] == '\\')) {
                    *w++ = r[1];
                    r += 2;
                } else {
                    *w++ = c;
                    r++;
                }
            } else if (is_sep(c)) {
                break;
            } else if (c == '"') {
                quoted = true;
                r++;
            } else {
                *w++ = c;
                r++;
            }
        }
        if (quoted) {
            set_err(err, "unterminated quote");
            return -EINVAL;
        }
        bool more = *r != '\0';
        *w = '\0';
        if (!more)
            break;
        r++;
    }
    if (argv && argc < max_args)
        argv[argc] = NULL;
    return argc;
}

const struct shell_cmd *shell_find(const struct shell_cmd *cmds, size_t ncmds, const char *name)
{
    if (!cmds || !name)
        return NULL;
    for (size_t i = 0; i < ncmds; i++)
        if (cmds[i].name && strcmp(cmds[i].name, name) == 0)
            return &cmds[i];
    return NULL;
}

static const char *usage_of(const struct shell_cmd *c) { return c->usage && c->usage[0] ? c->usage : c->name; }

int shell_run_line(const struct shell_cmd *cmds, size_t ncmds, char *line, shell_out_fn out, void *ctx)
{
    char *argv[SHELL_MAX_ARGS + 1];
    const char *err;
    int argc = shell_tokenize(line, argv, SHELL_MAX_ARGS, &err);

    if (argc < 0) {
        say(out, ctx, "error: %s\n", err);
        return argc;
    }
    if (argc == 0)
        return 0;
    argv[argc] = NULL;

    const struct shell_cmd *c = shell_find(cmds, ncmds, argv[0]);
    if (!c) {
        char tmp[ECHO_MAX + 4];
        say(out, ctx, "unknown command: %s (try 'help')\n", printable(tmp, argv[0]));
        return -ENOENT;
    }
    int rc = c->fn ? c->fn(argc, argv) : -ENOSYS;
    if (rc == -EINVAL)
        say(out, ctx, "usage: %s\n", usage_of(c));
    else if (rc < 0)
        say(out, ctx, "%s: error: %s\n", c->name, strerror_short(rc));
    return rc;
}

/* Orders by name, then by table position so equal names stay distinct. */
static bool before(const struct shell_cmd *cmds, size_t a, size_t b)
{
    int d = strcmp(cmds[a].name, cmds[b].name);
    return d < 0 || (d == 0 && a < b);
}

void shell_print_help(const struct shell_cmd *cmds, size_t ncmds, const char *topic, shell_out_fn out, void *ctx)
{
    if (!cmds)
        ncmds = 0;
    if (topic && topic[0]) {
        const struct shell_cmd *c = shell_find(cmds, ncmds, topic);
        if (!c) {
            char tmp[ECHO_MAX + 4];
            say(out, ctx, "help: no such command: %s\n", printable(tmp, topic));
            return;
        }
        say(out, ctx, "usage: %s\n  %s\n", usage_of(c), c->help ? c->help : "");
        return;
    }

    int width = 0;
    for (size_t i = 0; i < ncmds; i++) {
        if (!cmds[i].name)
            continue;
        int w = (int)strnlen(usage_of(&cmds[i]), USAGE_COL_MAX);
        if (w > width)
            width = w;
    }
    /* Selection by repeated scan: no allocation, and the table is small. */
    size_t prev = ncmds;
    for (size_t printed = 0; printed < ncmds; printed++) {
        size_t next = ncmds;
        for (size_t i = 0; i < ncmds; i++) {
            if (!cmds[i].name)
                continue;
            if (prev != ncmds && !before(cmds, prev, i))
                continue;
            if (next == ncmds || before(cmds, i, next))
                next = i;
        }
        if (next == ncmds)
            break;
        say(out, ctx, "  %-*s  %s\n", width, usage_of(&cmds[next]), cmds[next].help ? cmds[next].help : "");
        prev = next;
    }
}
