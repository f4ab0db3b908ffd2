/*
 * arena.c — the arena mode of the Review screen: an arena_view drawn into
 * a frame, keys turned into arena_actions.
 *
 * Layout, top to bottom: the title with the tally on the right; the
 * customer's message (at most a third of the rows, cut with "…"); Reply A
 * and Reply B in two boxes side by side, their titles naming the versions
 * only once revealed; one footer row with the keys, or the verdict.  The
 * leaderboard page is its lines, scrolled.  Every text goes through
 * frame_text, which draws control characters escaped; rows that do not
 * fit are dropped, never drawn outside the area.
 *
 * What this file does not do: choose, hide or record anything; app/ does.
 */
#include "ui/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PAGE_LINES = 10 };

const char *const arena_help[] = {
    "1", "Reply A is better",
    "2", "Reply B is better",
    "t", "a tie",
    "x", "both are bad",
    "c", "comment on the judgement",
    "n", "next pair (once judged)",
    "L", "leaderboard (again: back)",
    "j / k, PgUp / PgDn", "scroll the replies",
    "Esc", "leave arena mode",
    NULL,
};

/* Wrapped text s in rows [y, y + rows) from line `skip`; the last row says
 * "…" when more is hidden below.  Returns the rows used. */
static int draw_wrapped(ui_frame *f, int x, int y, int w, int rows, const char *s, int skip, ui_style style)
{
    if (rows <= 0 || w <= 0 || !s)
        return 0;
    ui_span *sp;
    size_t n = ui_wrap(s, strlen(s), w, &sp);
    if (skip < 0)
        skip = 0;
    if ((size_t)skip >= n)
        skip = n ? (int)n - 1 : 0;
    int used = 0;
    for (size_t i = (size_t)skip; i < n && used < rows; i++, used++) {
        bool more = used == rows - 1 && i + 1 < n;
        if (more) {
            size_t fit = ui_fit(s + sp[i].off, sp[i].len, w - 1);
            int c = frame_text(f, x, y + used, x + w, s + sp[i].off, fit, style, 0);
            frame_str(f, c, y + used, x + w, "…", UI_S_MUTED, 0);
        } else
            frame_text(f, x, y + used, x + w, s + sp[i].off, sp[i].len, style, 0);
    }
    free(sp);
    return used;
}

static void draw_board(const arena_view *v, ui_frame *f, int x, int y, int w, int h)
{
    frame_clip(f, x + 1, y, x + w, "Arena leaderboard — L or Esc: back to the pair", UI_S_TITLE, 0);
    int top = v->scroll > 0 ? v->scroll : 0;
    if ((size_t)top >= v->n_board)
        top = v->n_board ? (int)v->n_board - 1 : 0;
    for (int r = 2; r < h && (size_t)(top + r - 2) < v->n_board; r++)
        frame_clip(f, x + 1, y + r, x + w, v->board_lines[top + r - 2], UI_S_NORMAL, 0);
}

void arena_render(const arena_view *v, ui_frame *f, int x, int y, int w, int h)
{
    if (w < 8 || h < 3)
        return;
    if (v->board) {
        draw_board(v, f, x, y, w, h);
        return;
    }
    int right = x + w;
    int c = frame_clip(f, x + 1, y, right, "Arena — blind side-by-side", UI_S_TITLE, 0);
    if (v->tally)
        frame_right(f, c + 2, right - 1, y, v->tally, UI_S_MUTED, 0);
    if (!v->customer || !v->reply[0] || !v->reply[1]) {
        draw_wrapped(f, x + 2, y + 2, w - 4, h - 3, v->status ? v->status : "preparing a pair…", 0, UI_S_MUTED);
        frame_clip(f, x + 1, y + h - 1, right, "Esc leave arena mode · L leaderboard", UI_S_MUTED, 0);
        return;
    }
    int row = y + 2, bottom = y + h - 1; /* the footer row */
    frame_printf(f, x + 1, row, right, UI_S_CUSTOMER, 0, "Customer%s%s%s", v->earlier ? " (after " : "",
                 v->earlier ? v->earlier : "", v->earlier ? ")" : "");
    row++;
    int cust_rows = (bottom - row) / 3;
    if (cust_rows < 1)
        cust_rows = 1;
    row += draw_wrapped(f, x + 3, row, w - 4, cust_rows, v->customer, 0, UI_S_NORMAL);
    row++;
    int box_h = bottom - row;
    if (box_h >= 3) {
        int half = (w - 1) / 2;
        for (int i = 0; i < 2; i++) {
            int bx = x + i * (half + 1), bw = i ? w - half - 1 : half;
            char title[200];
            if (v->revealed)
                snprintf(title, sizeof title, " Reply %c — %s ", 'A' + i, v->name[i] ? v->name[i] : "?");
            else
                snprintf(title, sizeof title, " Reply %c ", 'A' + i);
            frame_box(f, bx, row, bw, box_h, title, UI_S_BORDER);
            draw_wrapped(f, bx + 2, row + 1, bw - 4, box_h - 2, v->reply[i], v->scroll, UI_S_AGENT);
        }
    }
    if (v->verdict) {
        char foot[400];
        snprintf(foot, sizeof foot, "judged: %s%s%s%s · n next pair · c comment · L leaderboard · Esc leave",
                 v->verdict, v->comment ? " · “" : "", v->comment ? v->comment : "", v->comment ? "”" : "");
        frame_clip(f, x + 1, bottom, right, foot, UI_S_GOOD, 0);
    } else
        frame_clip(f, x + 1, bottom, right,
                   "1 A better · 2 B better · t tie · x both bad · c comment · L leaderboard · Esc leave", UI_S_MUTED,
                   0);
}

arena_action arena_key(arena_view *v, ui_key k)
{
    if (k.mods)
        return ARENA_NONE;
    switch (k.code) {
    case '1': return ARENA_A_BETTER;
    case '2': return ARENA_B_BETTER;
    case 't': return ARENA_TIE;
    case 'x': return ARENA_BOTH_BAD;
    case 'c': return ARENA_COMMENT;
    case 'n': return ARENA_NEXT;
    case 'L':
    case 'l': v->scroll = 0; return ARENA_BOARD;
    case UI_K_ESC:
        if (v->board) {
            v->scroll = 0;
            return ARENA_BOARD;
        }
        return ARENA_LEAVE;
    case 'j':
    case UI_K_DOWN: v->scroll++; return ARENA_NONE;
    case 'k':
    case UI_K_UP: v->scroll = v->scroll > 0 ? v->scroll - 1 : 0; return ARENA_NONE;
    case UI_K_PGDN:
    case UI_K_WHEEL_DOWN: v->scroll += PAGE_LINES; return ARENA_NONE;
    case UI_K_PGUP:
    case UI_K_WHEEL_UP: v->scroll = v->scroll > PAGE_LINES ? v->scroll - PAGE_LINES : 0; return ARENA_NONE;
    default: return ARENA_NONE;
    }
}
