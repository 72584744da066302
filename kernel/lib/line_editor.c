/* Serial line editor; see line_editor.h for the keys and the output alphabet. */
#include "kernel/lib/line_editor.h"
#include "kernel/lib/string.h"

#define BEL     '\a'
#define ESC     0x1B
#define CTRL(c) ((c)&0x1F)

#define ERASE_EOL "\x1b[K"

enum { ST_NORMAL, ST_ESC, ST_CSI, ST_SS3 };

struct sink {
    le_out_fn fn;
    void *ctx;
};

static void emit(const struct sink *o, const char *s, size_t n)
{
    if (o->fn && n)
        o->fn(o->ctx, s, n);
}

static void emit_str(const struct sink *o, const char *s) { emit(o, s, strlen(s)); }

static void emit_backs(const struct sink *o, size_t n)
{
    static const char bs[16] = "\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b";

    while (n) {
        size_t k = MIN(n, sizeof(bs));
        emit(o, bs, k);
        n -= k;
    }
}

/* Rewrites the text from the cursor on, clears what may be left of a longer
 * old line, and puts the cursor back. */
static void redraw_tail(struct line_editor *le, const struct sink *o)
{
    emit(o, le->buf + le->cur, le->len - le->cur);
    emit_str(o, ERASE_EOL);
    emit_backs(o, le->len - le->cur);
}

static void redraw_all(struct line_editor *le, const struct sink *o)
{
    emit_str(o, "\r");
    emit_str(o, le->prompt);
    emit(o, le->buf, le->cur);
    redraw_tail(le, o);
}

static void set_text(struct line_editor *le, const char *s)
{
    le->len = kstrlcpy(le->buf, s, sizeof(le->buf));
    if (le->len > LE_MAX_LINE)
        le->len = LE_MAX_LINE;
    le->cur = le->len;
}

static void reset_line(struct line_editor *le)
{
    le->buf[0] = '\0';
    le->len = le->cur = 0;
    le->hist_pos = -1;
    le->esc_state = ST_NORMAL;
    le->esc_len = 0;
}

void le_init(struct line_editor *le, const char *prompt)
{
    memset(le, 0, sizeof(*le));
    kstrlcpy(le->prompt, prompt ? prompt : "", sizeof(le->prompt));
    reset_line(le);
}

void le_prompt(struct line_editor *le, le_out_fn out, void *ctx)
{
    const struct sink o = { out, ctx };

    /* last_eol survives: the LF of a CR LF may arrive after the prompt. */
    reset_line(le);
    emit_str(&o, le->prompt);
}

void le_redraw(const struct line_editor *le, le_out_fn out, void *ctx)
{
    const struct sink o = { out, ctx };

    emit_str(&o, le->prompt);
    emit(&o, le->buf, le->len);
    emit_backs(&o, le->len - le->cur);
}

const char *le_line(const struct line_editor *le) { return le->line; }

int le_history_count(const struct line_editor *le) { return le->hist_count; }

const char *le_history_get(const struct line_editor *le, int idx)
{
    if (idx < 0 || idx >= le->hist_count)
        return NULL;
    return le->hist[(le->hist_newest - idx + LE_HISTORY) % LE_HISTORY];
}

/* ------------------------------------------------------------------ editing */

static void insert(struct line_editor *le, const struct sink *o, char c)
{
    if (le->len >= LE_MAX_LINE) {
        emit(o, "\a", 1);
        return;
    }
    memmove(le->buf + le->cur + 1, le->buf + le->cur, le->len - le->cur + 1);
    le->buf[le->cur] = c;
    le->len++;
    le->cur++;
    emit(o, &c, 1);
    if (le->cur < le->len) {
        emit(o, le->buf + le->cur, le->len - le->cur);
        emit_backs(o, le->len - le->cur);
    }
}

/* Removes the character at the cursor. */
static void delete_at_cursor(struct line_editor *le, const struct sink *o)
{
    memmove(le->buf + le->cur, le->buf + le->cur + 1, le->len - le->cur);
    le->len--;
    redraw_tail(le, o);
}

static void backspace(struct line_editor *le, const struct sink *o)
{
    if (le->cur == 0)
        return;
    le->cur--;
    emit(o, "\b", 1);
    delete_at_cursor(le, o);
}

static void del(struct line_editor *le, const struct sink *o)
{
    if (le->cur < le->len)
        delete_at_cursor(le, o);
}

static void left(struct line_editor *le, const struct sink *o)
{
    if (le->cur > 0) {
        le->cur--;
        emit(o, "\b", 1);
    }
}

static void right(struct line_editor *le, const struct sink *o)
{
    /* Reprinting the character under the cursor moves right on any terminal. */
    if (le->cur < le->len) {
        emit(o, le->buf + le->cur, 1);
        le->cur++;
    }
}

static void home(struct line_editor *le, const struct sink *o)
{
    if (le->cur > 0) {
        le->cur = 0;
        emit_str(o, "\r");
        emit_str(o, le->prompt);
    }
}

static void end(struct line_editor *le, const struct sink *o)
{
    emit(o, le->buf + le->cur, le->len - le->cur);
    le->cur = le->len;
}

static void kill_line(struct line_editor *le, const struct sink *o)
{
    if (le->len == 0)
        return;
    le->buf[0] = '\0';
    le->len = le->cur = 0;
    redraw_all(le, o);
}

static void kill_to_end(struct line_editor *le, const struct sink *o)
{
    if (le->cur == le->len)
        return;
    le->buf[le->cur] = '\0';
    le->len = le->cur;
    emit_str(o, ERASE_EOL);
}

static void history_show(struct line_editor *le, const struct sink *o, const char *text)
{
    set_text(le, text);
    redraw_all(le, o);
}

static void history_up(struct line_editor *le, const struct sink *o)
{
    if (le->hist_pos + 1 >= le->hist_count)
        return;
    if (le->hist_pos < 0)
        memcpy(le->saved, le->buf, le->len + 1);
    le->hist_pos++;
    history_show(le, o, le_history_get(le, le->hist_pos));
}

static void history_down(struct line_editor *le, const struct sink *o)
{
    if (le->hist_pos < 0)
        return;
    le->hist_pos--;
    history_show(le, o, le->hist_pos < 0 ? le->saved : le_history_get(le, le->hist_pos));
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return false;
    return true;
}

static void history_add(struct line_editor *le, const char *s)
{
    if (blank(s) || (le->hist_count && strcmp(le_history_get(le, 0), s) == 0))
        return;
    le->hist_newest = (le->hist_newest + 1) % LE_HISTORY;
    kstrlcpy(le->hist[le->hist_newest], s, sizeof(le->hist[0]));
    if (le->hist_count < LE_HISTORY)
        le->hist_count++;
}

static enum le_event finish_line(struct line_editor *le, const struct sink *o)
{
    memcpy(le->line, le->buf, le->len + 1);
    history_add(le, le->line);
    emit_str(o, "\r\n");
    reset_line(le);
    return LE_LINE;
}

/* ------------------------------------------------------------------ escapes */

/* ESC [ <params> <final>: only the parameterless cursor keys and the
 * "<n>~" editing keys mean anything here. */
static void csi(struct line_editor *le, const struct sink *o, char final)
{
    const char *p = le->esc;
    size_t n = le->esc_len;

    if (n == 0) {
        switch (final) {
        case 'A': history_up(le, o); return;
        case 'B': history_down(le, o); return;
        case 'C': right(le, o); return;
        case 'D': left(le, o); return;
        case 'H': home(le, o); return;
        case 'F': end(le, o); return;
        default: return;
        }
    }
    if (final != '~' || n != 1)
        return;
    switch (p[0]) {
    case '1':
    case '7': home(le, o); break;
    case '4':
    case '8': end(le, o); break;
    case '3': del(le, o); break;
    default: break;
    }
}

static void ss3(struct line_editor *le, const struct sink *o, char final)
{
    switch (final) {
    case 'A': history_up(le, o); break;
    case 'B': history_down(le, o); break;
    case 'C': right(le, o); break;
    case 'D': left(le, o); break;
    case 'H': home(le, o); break;
    case 'F': end(le, o); break;
    default: break;
    }
}

/* Returns true if the byte was consumed by the escape parser. A control byte
 * in the middle of a sequence aborts it and is then handled normally, so Enter
 * and Ctrl-C work even after line noise. */
static bool escape_byte(struct line_editor *le, const struct sink *o, u8 b)
{
    switch (le->esc_state) {
    case ST_NORMAL: return false;
    case ST_ESC:
        if (b == '[') {
            le->esc_state = ST_CSI;
            le->esc_len = 0;
            return true;
        }
        if (b == 'O') {
            le->esc_state = ST_SS3;
            return true;
        }
        break;
    case ST_SS3:
        if (b >= 0x20 && b < 0x7F) {
            le->esc_state = ST_NORMAL;
            ss3(le, o, (char)b);
            return true;
        }
        break;
    case ST_CSI:
        if (b >= 0x20 && b <= 0x3F) { /* parameter and intermediate bytes */
            if (le->esc_len + 2 >= LE_MAX_ESC) {
                /* Too long to be a key: drop it, back to plain input. */
                le->esc_state = ST_NORMAL;
                return true;
            }
            le->esc[le->esc_len++] = (char)b;
            return true;
        }
        if (b >= 0x40 && b <= 0x7E) {
            le->esc_state = ST_NORMAL;
            csi(le, o, (char)b);
            return true;
        }
        break;
    default: break;
    }
    le->esc_state = ST_NORMAL;
    /* Printable bytes after a bare ESC (Alt+key) are dropped with it. */
    return b >= 0x20 && b < 0x7F;
}

/* ------------------------------------------------------------------ input */

enum le_event le_feed(struct line_editor *le, u8 b, le_out_fn out, void *ctx)
{
    const struct sink o = { out, ctx };

    if (b == '\r' || b == '\n') {
        char prev = le->last_eol;
        le->esc_state = ST_NORMAL;
        if ((prev == '\r' && b == '\n') || (prev == '\n' && b == '\r')) {
            le->last_eol = 0;
            return LE_NONE;
        }
        le->last_eol = (char)b;
        return finish_line(le, &o);
    }
    le->last_eol = 0;

    if (escape_byte(le, &o, b))
        return LE_NONE;

    if (b >= 0x20 && b < 0x7F) {
        insert(le, &o, (char)b);
        return LE_NONE;
    }
    switch (b) {
    case ESC: le->esc_state = ST_ESC; break;
    case 0x7F:
    case '\b': backspace(le, &o); break;
    case CTRL('A'): home(le, &o); break;
    case CTRL('E'): end(le, &o); break;
    case CTRL('U'): kill_line(le, &o); break;
    case CTRL('K'): kill_to_end(le, &o); break;
    case CTRL('L'): redraw_all(le, &o); break;
    case CTRL('C'):
        emit_str(&o, "^C\r\n");
        reset_line(le);
        return LE_CANCEL;
    default: break;
    }
    return LE_NONE;
}
