/* The shell loop: bytes from the UART through the line editor into the command
 * registry. While waiting for input the CPU halts until the next timer tick,
 * so an idle shell costs almost nothing (and nothing under emulation). The
 * management timer (the heartbeat master) runs on those ticks. */
#include "kernel/shell/shell.h"
#include "kernel/lib/shell_core.h"
#include "kernel/lib/line_editor.h"
#include "kernel/core/console.h"
#include "kernel/core/log.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "arch/x86/hw/cpu.h"

static struct line_editor editor;

_Static_assert(LE_REDRAW_MAX <= CON_INPUT_MAX, "the console keeps the whole redraw");

/* The editor's output for one input byte, handed to the console at once
 * together with how to redraw the line (see con_input). */
struct echo_buf {
    char b[2 * LE_REDRAW_MAX];
    size_t n;
};

static void echo(void *ctx, const char *s, size_t n)
{
    struct echo_buf *e = ctx;
    if (e->n + n > sizeof(e->b)) {
        /* Longer than any one key's echo; keep the order anyway. */
        con_write(e->b, e->n);
        e->n = 0;
        if (n > sizeof(e->b)) {
            con_write(s, n);
            return;
        }
    }
    memcpy(e->b + e->n, s, n);
    e->n += n;
}

/* Writes what the editor echoed; editing says whether a line is still being
 * edited (whose redraw the console then keeps) or a command is about to run. */
static void show(struct echo_buf *e, bool editing)
{
    static struct echo_buf r;
    r.n = 0;
    if (editing)
        le_redraw(&editor, echo, &r);
    con_input(e->b, e->n, r.b, r.n);
    e->n = 0;
}

static void to_console(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    con_write(s, n);
}

int shell_exec(char *line) { return shell_run_line(__start_shell_cmds, shell_cmds_count(), line, to_console, NULL); }

static int cmd_help(int argc, char **argv)
{
    if (argc > 2)
        return -EINVAL;
    shell_print_help(__start_shell_cmds, shell_cmds_count(), argc == 2 ? argv[1] : NULL, to_console, NULL);
    return 0;
}
SHELL_COMMAND(help, "help [COMMAND]", "list the commands, or show one command's usage", cmd_help);

static int cmd_history(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return -EINVAL;
    for (int i = le_history_count(&editor) - 1; i >= 0; i--)
        con_printf("%4d  %s\n", le_history_count(&editor) - i, le_history_get(&editor, i));
    return 0;
}
SHELL_COMMAND(history, "history", "list the lines entered at this shell, oldest first", cmd_history);

static void (*idle_hook)(void);

void shell_set_idle_hook(void (*fn)(void)) { idle_hook = fn; }

void shell_idle(void)
{
    if (idle_hook)
        idle_hook();
}

__noreturn void shell_run(void)
{
    static struct echo_buf e;
    le_init(&editor, SHELL_PROMPT);
    le_prompt(&editor, echo, &e);
    show(&e, true);
    for (;;) {
        /* Each timer tick wakes the loop: the management work runs here, on
         * CPU 0, between the bytes of a line (not while a command runs). */
        shell_idle();
        int c = con_getc();
        if (c < 0) {
            irq_enable_and_halt();
            continue;
        }
        enum le_event ev = le_feed(&editor, (u8)c, echo, &e);
        show(&e, ev == LE_NONE);
        if (ev == LE_NONE)
            continue;
        if (ev == LE_LINE) {
            char line[LE_MAX_LINE + 1];
            const char *l = le_line(&editor);
            size_t i = 0;
            for (; i < LE_MAX_LINE && l[i]; i++)
                line[i] = l[i];
            line[i] = '\0';
            shell_exec(line);
        }
        le_prompt(&editor, echo, &e);
        show(&e, true);
    }
}
