/* Line editor for the serial shell: a pure state machine fed one byte at a time,
 * writing its echo and redraws through a callback. It does no I/O of its own,
 * so host tests can drive it with arbitrary bytes.
 *
 * Keys: printable ASCII inserts at the cursor; Backspace (0x7F, 0x08) and
 * Delete (ESC[3~); Left/Right (ESC[D/C, ESC O D/C); Home/End (ESC[H/F,
 * ESC[1~/4~, ESC[7~/8~, ESC O H/F, Ctrl-A/Ctrl-E); Up/Down (ESC[A/B, ESC O A/B)
 * walk the history; Ctrl-U kills the line, Ctrl-K to its end, Ctrl-L redraws;
 * CR or LF ends the line (a CR LF or LF CR pair counts once); Ctrl-C cancels.
 * Everything else (other control bytes, bytes >= 0x80, unknown or over-long
 * escape sequences) is ignored silently. A full line refuses input with BEL.
 *
 * Output uses only the prompt, the text, '\r', '\b', BEL, "^C\r\n", "\r\n" and
 * ESC[K, so what a terminal shows is predictable to a test harness. */
#ifndef ISTHMUS_KERNEL_LINE_EDITOR_H
#define ISTHMUS_KERNEL_LINE_EDITOR_H

#include "kernel/lib/types.h"

#define LE_MAX_LINE   255 /* characters, excluding the NUL */
#define LE_HISTORY    32  /* lines remembered */
#define LE_MAX_PROMPT 32  /* longer prompts are truncated */
#define LE_MAX_ESC    16  /* bytes of one escape sequence before it is dropped */

enum le_event {
    LE_NONE,   /* keep feeding */
    LE_LINE,   /* a line is complete: le_line() has it; "\r\n" was echoed */
    LE_CANCEL, /* Ctrl-C: the line was discarded and "^C\r\n" echoed */
};

typedef void (*le_out_fn)(void *ctx, const char *s, size_t n);

struct line_editor {
    char prompt[LE_MAX_PROMPT + 1];
    char buf[LE_MAX_LINE + 1];  /* the line being edited, NUL-terminated */
    size_t len, cur;            /* cur: cursor index, 0..len */
    char line[LE_MAX_LINE + 1]; /* the last completed line */

    u8 esc_state; /* private: escape parser */
    u8 esc_len;
    char esc[LE_MAX_ESC];
    char last_eol; /* private: previous byte if it was CR or LF */

    char hist[LE_HISTORY][LE_MAX_LINE + 1];
    int hist_count;              /* entries stored, <= LE_HISTORY */
    int hist_newest;             /* slot of the newest entry */
    int hist_pos;                /* -1: editing a new line; k: k-th newest entry */
    char saved[LE_MAX_LINE + 1]; /* the new line, kept while browsing history */
};

void le_init(struct line_editor *le, const char *prompt);

/* Prints the prompt and starts a new, empty line. out may be NULL. */
void le_prompt(struct line_editor *le, le_out_fn out, void *ctx);

/* Processes one input byte. out may be NULL (nothing is echoed). */
enum le_event le_feed(struct line_editor *le, u8 byte, le_out_fn out, void *ctx);

/* Writes the prompt and the line being edited, with the cursor where it was,
 * from the start of an empty terminal line: what the console prints again after
 * a log line interrupted the editing (kernel/core/console.h con_input). At most
 * LE_REDRAW_MAX bytes. */
#define LE_REDRAW_MAX (LE_MAX_PROMPT + 2 * LE_MAX_LINE)
void le_redraw(const struct line_editor *le, le_out_fn out, void *ctx);

/* The line completed by the last LE_LINE, NUL-terminated; it was added to the
 * history if non-blank and different from the newest entry. */
const char *le_line(const struct line_editor *le);

/* History access for a `history` command: idx 0 is the newest; NULL past the end. */
int le_history_count(const struct line_editor *le);
const char *le_history_get(const struct line_editor *le, int idx);

#endif
