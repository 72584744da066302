/* Shell command registry and dispatcher. Commands live in their own files and
 * register with SHELL_COMMAND(); the table is the linker section "shell_cmds",
 * so `help` is generated from it and never goes stale. The dispatcher takes the
 * table as (start, count) and its output as a function, so it depends on no
 * console and tests can pass an ordinary array and a buffer. */
#ifndef ISTHMUS_KERNEL_SHELL_CORE_H
#define ISTHMUS_KERNEL_SHELL_CORE_H

#include "kernel/lib/types.h"

#define SHELL_MAX_ARGS 32

/* Where the dispatcher and the help listing print: each call gets n bytes of
 * text (whole lines) and the ctx given along with it. */
typedef void (*shell_out_fn)(void *ctx, const char *s, size_t n);

struct shell_cmd {
    const char *name;
    const char *usage; /* e.g. "part start|stop NAME" */
    const char *help;  /* one line */
    /* Returns 0, -EINVAL for a usage error (the dispatcher prints the usage),
     * or another negative code (printed as "<name>: error: <code>"). */
    int (*fn)(int argc, char **argv);
};

#define SHELL_CONCAT2(a, b) a##b
#define SHELL_CONCAT(a, b)  SHELL_CONCAT2(a, b)

/* Registers a command; name is a bare word, stringified:
 * SHELL_COMMAND(mem, "mem [NODE]", "show memory", cmd_mem); */
#define SHELL_COMMAND(name_, usage_, help_, fn_)                                                                       \
    static const struct shell_cmd SHELL_CONCAT(shell_cmd_##name_##_, __LINE__)                                         \
        __attribute__((used, section("shell_cmds"),                                                                    \
                       aligned(8))) = { .name = #name_, .usage = (usage_), .help = (help_), .fn = (fn_) }

/* Bounds of the section, from the linker script. Hidden so that -fpic code
 * addresses them PC-relative instead of through the GOT. */
extern const struct shell_cmd __start_shell_cmds[] __attribute__((visibility("hidden")));
extern const struct shell_cmd __stop_shell_cmds[] __attribute__((visibility("hidden")));

/* The commands in the section. The linker places the bounds around one array;
 * to a C checker they are two objects. */
static inline size_t shell_cmds_count(void)
{
    // cppcheck-suppress comparePointers
    return (size_t)(__stop_shell_cmds - __start_shell_cmds);
}

/* Splits line in place into at most max_args words at spaces and tabs. Double
 * quotes group words (and may abut text: a"b c" is one word, "" an empty one);
 * inside them \" and \\ stand for " and \, any other backslash is literal.
 * Sets argv[argc] = NULL when argc < max_args. Returns argc (0 for a blank or
 * NULL line), -E2BIG for too many words or -EINVAL for an unterminated quote,
 * with *err (if err) a one-line message; line is clobbered either way. */
int shell_tokenize(char *line, char **argv, int max_args, const char **err);

/* The command named exactly name, or NULL. */
const struct shell_cmd *shell_find(const struct shell_cmd *cmds, size_t ncmds, const char *name);

/* Tokenizes and runs line. Blank: returns 0 silently. Otherwise prints at most
 * one line of its own through out (none when out is NULL): the tokenizer error, "unknown command: X (try 'help')",
 * "usage: ..." for -EINVAL, or "<name>: error: ECODE" for other errors.
 * Returns the handler's result, -ENOENT for an unknown command, or the
 * tokenizer's error. */
int shell_run_line(const struct shell_cmd *cmds, size_t ncmds, char *line, shell_out_fn out, void *ctx);

/* Without topic (NULL or ""): every command sorted by name, usage and help in
 * aligned columns. With topic: that command's usage and help, or an error line.
 * Prints through out like shell_run_line(). */
void shell_print_help(const struct shell_cmd *cmds, size_t ncmds, const char *topic, shell_out_fn out, void *ctx);

#endif
