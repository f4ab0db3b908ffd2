/*
 * frame.h — a grid of terminal cells that every screen draws into.
 *
 * Screens never talk to the terminal: they render a view-model into a
 * ui_frame, and term.c (the one file that calls ncurses) copies the frame
 * to the screen.  Tests render the same frames headlessly and compare
 * frame_to_text() with golden text.
 *
 * Text is UTF-8 and measured in terminal columns (wcwidth: CJK and most
 * emoji take 2, combining marks 0 and ride on the cell before them).  A
 * double-width character occupies its cell (width 2) and the next one
 * (width 0, a continuation); one that would straddle the clip edge is
 * drawn as a space instead.  Nothing from outside is ever drawn raw:
 * C0 controls and DEL are shown in caret notation (ESC as "^["), C1
 * controls as "<9B>", bytes that are not valid UTF-8 as U+FFFD, tabs as
 * spaces to the next multiple of 4 columns.
 *
 * Width computations use the C library's wcwidth(), so the process must
 * run in a UTF-8 locale (main() calls setlocale; tests use C.UTF-8).
 */
#ifndef FRONTDESK_UI_FRAME_H
#define FRONTDESK_UI_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a cell means; term.c maps each style to colours (or, without
 * colour / with NO_COLOR, to bold/dim/reverse). */
typedef enum {
    UI_S_NORMAL,
    UI_S_MUTED,       /* secondary text: times, metadata                   */
    UI_S_TITLE,       /* headings, the active tab                          */
    UI_S_CUSTOMER,    /* customer turns                                    */
    UI_S_AGENT,       /* agent (model) turns                               */
    UI_S_SYSTEM,      /* system prompt, notes                              */
    UI_S_PLACEHOLDER, /* {{Placeholder}} slots the agent must fill         */
    UI_S_SELECTED,    /* the selected row of a list                        */
    UI_S_STATUS,      /* the status line                                   */
    UI_S_GOOD,        /* within thresholds, thumbs up                      */
    UI_S_BAD,         /* errors, breached thresholds, thumbs down          */
    UI_S_WARN,        /* attention, not yet an error                       */
    UI_S_ESCAPED,     /* an escaped control character                      */
    UI_S_BORDER,
    UI_S_COUNT
} ui_style;

enum { UI_A_BOLD = 1, UI_A_REVERSE = 2, UI_A_UNDERLINE = 4 };

typedef struct {
    uint32_t ch;      /* code point; 0 in the continuation of a wide char */
    uint32_t comb[2]; /* combining marks drawn with it (0 = none)         */
    uint8_t width;    /* 1, 2, or 0 for a continuation                    */
    uint8_t style;    /* ui_style                                         */
    uint8_t attr;     /* UI_A_*                                           */
} ui_cell;

typedef struct {
    int w, h;
    ui_cell *cells;       /* (h, w), row-major                            */
    int cur_x, cur_y;     /* where the cursor should be                   */
    bool cursor_visible;
} ui_frame;

/* Size (or resize) and clear the frame.  w, h >= 0. */
void frame_init(ui_frame *f, int w, int h);
void frame_free(ui_frame *f); /* accepts a zeroed frame */
/* Every cell a space of UI_S_NORMAL; cursor hidden. */
void frame_clear(ui_frame *f);

/* Draw UTF-8 text s[0..len) from column x of row y, clipped to columns
 * [x, max_x) and to the frame.  Returns the column after the last drawn
 * cell.  Newlines are drawn escaped ("^J"): wrap first (ui_wrap). */
int frame_text(ui_frame *f, int x, int y, int max_x, const char *s, size_t len, ui_style style,
               unsigned attr);
/* frame_text of a NUL-terminated string. */
int frame_str(ui_frame *f, int x, int y, int max_x, const char *s, ui_style style, unsigned attr);
/* printf into the frame (the result is drawn like frame_str). */
int frame_printf(ui_frame *f, int x, int y, int max_x, ui_style style, unsigned attr, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* The display width of s (0 for NULL). */
int frame_str_width(const char *s);
/* s clipped to [x, max_x), cut with "…" when it does not fit; returns the
 * column after it. */
int frame_clip(ui_frame *f, int x, int y, int max_x, const char *s, ui_style style, unsigned attr);
/* s right-aligned to end at `right`, never left of `left` (cut with "…"). */
void frame_right(ui_frame *f, int left, int right, int y, const char *s, ui_style style, unsigned attr);
/* A scrolled column of `total` lines in rows [y, y + page): line(ud, row,
 * i) draws line i at row; *scroll (the first line shown) is kept in
 * range.  When lines are hidden below, the last row says "↓ N more lines
 * (DOWN)"; when hidden above, row sep_y (>= 0: the blank row above the
 * column) says "↑ N more lines (UP)" — DOWN and UP name the keys. */
void frame_scrolled(ui_frame *f, int x, int y, int w, int page, int sep_y, size_t total, int scroll,
                    const char *down, const char *up, void (*line)(void *ud, int row, size_t i), void *ud);
/* Fill a rectangle with code point ch (width 1). */
void frame_fill(ui_frame *f, int x, int y, int w, int h, uint32_t ch, ui_style style, unsigned attr);
/* Restyle a rectangle's existing cells. */
void frame_style(ui_frame *f, int x, int y, int w, int h, ui_style style, unsigned attr);
/* A box-drawing border (─│┌┐└┘) with an optional title in the top edge. */
void frame_box(ui_frame *f, int x, int y, int w, int h, const char *title, ui_style style);
void frame_cursor(ui_frame *f, int x, int y); /* show the cursor there */

/* ---- Measuring and wrapping ------------------------------------------------ */

/* Columns that frame_text would use for s[0..len) (escapes included,
 * tabs counted from column 0). */
int ui_text_width(const char *s, size_t len);

/* Byte length of the longest prefix of s[0..len) that fits in `cols`
 * columns, never splitting a character or its combining marks. */
size_t ui_fit(const char *s, size_t len, int cols);

typedef struct {
    size_t off, len; /* a line: s[off .. off+len), without the newline */
} ui_span;

/* Wrap s[0..len) into lines of at most `width` columns: break at '\n',
 * else after the last space that fits, else (a word longer than the
 * line) between characters.  Spaces at a soft break are dropped.  An
 * empty text is one empty line.  Returns the number of lines; *out is
 * malloc'ed (caller frees). */
size_t ui_wrap(const char *s, size_t len, int width, ui_span **out);

/* ---- Headless ------------------------------------------------------------------- */

/* The frame as UTF-8 text: one line per row ending in '\n', trailing
 * spaces removed (caller frees). */
char *frame_to_text(const ui_frame *f);
/* One row's styles as letters (for golden tests of colouring): the
 * character 'a' + style per column (caller frees). */
char *frame_row_styles(const ui_frame *f, int y);

#endif
