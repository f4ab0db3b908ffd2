/*
 * test_ui_shell.c — the shell around the screens, rendered headlessly:
 * its tab bar and status line over the Dashboard, each overlay (help,
 * quit, prompt, picker, message), the keys that open, drive and close
 * them, screen switching, q/? while typing, and the "terminal too small"
 * notice down to 0x0.  The Dashboard itself is test_ui_dash.c's.
 *
 * The golden frames were generated once by this suite (run it with
 * FRONTDESK_GOLDEN_PRINT=1 to print them as C strings; such a run always
 * fails, see tests/testutil.h), checked by eye, and frozen here.
 */
#include "tests/testutil.h"
#include "tests/ui_check.h"

#include "ui/dash.h"
#include "ui/frame.h"
#include "ui/shell.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *shell_text(const shell_view *v, ui_frame *f, int w, int h)
{
    frame_init(f, w, h);
    shell_render(v, f);
    return frame_to_text(f);
}

/* ---- Shell: tabs, status line, screens -------------------------------------------- */

static const char SHELL_100x30[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models                               F10 help · Ctrl-Q quit\n"
    "Dashboard — window 5m (w to change)                                                 updated 16:18:05\n"
    "requests  30.0/min                      running 1                     tokens 12,345\n"
    "errors    2.0% (3 of 150)               thumbs down 12% of 25\n"
    "latency   p50 850 ms                    p95 4.1 s                     p99 5.2 s\n"
    "TTFT      p50 180 ms                    p95 420 ms                    p99 1.1 s\n"
    "tok/s     prefill 512.3                 decode 41.2\n"
    "\n"
    "Alerts (1)\n"
    "  ▲ p95 latency 4100 ms > 3000 ms\n"
    "\n"
    "Last hour, per minute\n"
    "requests/min  ▂▃▄▆▇▁▂▃▅▆▇▁▂▄▅▆█▂▃▄▅▇▁▂▃▄▆▇▁▂▄▅▆▇▁▃▄▅▆ ▂▃▄▆▇▁▂▃▅▆▇▁▂▄▅▆█▂▃       13\n"
    "p95 latency  ▁▁▂ ▂▂▂▂▂▂▂▃▃ ▃▃▃▃▃▃▃▄▄ ▄▄▄▄▄▄▄▅▅ ▅▅▅▅▅▅▆▆▆ ▆▆▆▆▆▆▇▇▇ ▇▇▇▇▇█    4.0 s\n"
    "decode tok/s ▄▄▅▅▅▆▆▆▇▇▇█▄▄▅▅▅▆▆▆▇▇▇█▄▄▅▅▅▆▆▆▇▇▇█▄▄▅▅▅▆▆▆▇▇▇█▄▄▅▅▅▆▆▆▇▇▇█     42.0\n"
    "errors                           ▄                                     █         0\n"
    "\n"
    "Models                               requests  errors  p95 latency  p95 TTFT  decode tok/s  low conf\n"
    "SmolLM2-135M-Instruct · Q8_0              120    0.8%        1.9 s    380 ms          44.0     15.0%\n"
    "Qwen2.5-0.5B-Instruct, a very long…        30    6.7%        5.1 s     1.2 s          21.5         –\n"
    "\n"
    "Latest errors\n"
    "11-23 16:17:02  SmolLM2-135M-Instruct  error    engine: the prompt does not fit the context\n"
    "11-23 16:15:40  Qwen2.5-0.5B-Instruct  timeout  remote said ^[[2J and hung up\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    " SmolLM2-135M-Instruct (Q8_0) · local · /home/agent/.local/share/frontdesk/frontdesk.db · idle\n";
static const char SHELL_60x16[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models     F10 help\n"
    "Dashboard — window 5m (w to change)         updated 16:18:05\n"
    "requests  30.0/min        running 1        tokens 12,345\n"
    "errors    2.0% (3 of 150)  thumbs down 12% of 25\n"
    "latency   p50 850 ms      p95 4.1 s        p99 5.2 s\n"
    "TTFT      p50 180 ms      p95 420 ms       p99 1.1 s\n"
    "tok/s     prefill 512.3   decode 41.2\n"
    "\n"
    "Alerts (1)\n"
    "  ▲ p95 latency 4100 ms > 3000 ms\n"
    "\n"
    "Last hour, per minute\n"
    "requests/min ▇▁▂▃▄▆▇▁▂▄▅▆▇▁▃▄▅▆ ▂▃▄▆▇▁▂▃▅▆▇▁▂▄▅▆█▂▃       13\n"
    "p95 latency  ▄ ▄▄▄▄▄▄▄▅▅ ▅▅▅▅▅▅▆▆▆ ▆▆▆▆▆▆▇▇▇ ▇▇▇▇▇█    4.0 s\n"
    "                                    ↓ 10 more lines (j/Down)\n"
    " SmolLM2-135M-Instruct (Q8_0) · local · …frontdesk.db · idle\n";

/* Row y of the text (a copy without the newline; caller frees). */
static char *line_of(const char *text, int y)
{
    const char *p = text;
    for (int i = 0; i < y && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    assert_non_null(p);
    const char *nl = strchr(p, '\n');
    return strndup(p, nl ? (size_t)(nl - p) : strlen(p));
}

static void test_shell_golden_dash(void **state)
{
    (void)state;
    shell_view v;
    tu_shell_fixture(&v);
    ui_frame f = {0};
    char *t = shell_text(&v, &f, 100, 30);
    test_assert_no_controls(t);
    /* The active tab is reversed, the others are not; the status line is
     * UI_S_STATUS from edge to edge. */
    int x = tu_col_of(&f, 0, " F3 Dashboard ");
    assert_true(x > 0);
    for (int i = 0; i < 14; i++) {
        assert_int_equal(tu_cell(&f, x + i, 0)->style, UI_S_TITLE);
        assert_true(tu_cell(&f, x + i, 0)->attr & UI_A_REVERSE);
    }
    assert_false(tu_cell(&f, tu_col_of(&f, 0, "F1 Chat"), 0)->attr & UI_A_REVERSE);
    char *st = frame_row_styles(&f, 29);
    for (int i = 0; i < 100; i++)
        assert_int_equal(st[i], 'a' + UI_S_STATUS);
    free(st);
    assert_false(f.cursor_visible);
    test_expect_golden("SHELL_100x30", t, SHELL_100x30);
    /* At the smallest size the dashboard gets 60x14. */
    test_expect_golden("SHELL_60x16", shell_text(&v, &f, 60, 16), SHELL_60x16);
    frame_free(&f);
    shell_free(&v);
}

static void test_shell_status_line(void **state)
{
    (void)state;
    shell_view v;
    tu_shell_fixture(&v);
    ui_frame f = {0};
    char *t, *l;

    v.generating = true;
    v.live_tps = 41.25;
    t = shell_text(&v, &f, 100, 30);
    l = line_of(t, 29);
    assert_string_equal(l, " SmolLM2-135M-Instruct (Q8_0) · local · /home/agent/.local/share/frontdesk/frontdesk.db · 41.2 tok/s");
    free(l);
    free(t);
    /* Generating before the first token. */
    v.live_tps = 0;
    t = shell_text(&v, &f, 100, 30);
    l = line_of(t, 29);
    assert_non_null(strstr(l, "· generating…"));
    free(l);
    free(t);

    /* Narrow: the path shrinks from its start, the rest stays. */
    v.generating = false;
    t = shell_text(&v, &f, 60, 16);
    l = line_of(t, 15);
    assert_string_equal(l, " SmolLM2-135M-Instruct (Q8_0) · local · …frontdesk.db · idle");
    free(l);
    free(t);

    /* A notice takes the right; a bad one is UI_S_BAD. */
    v.notice = "saved";
    v.notice_bad = false;
    t = shell_text(&v, &f, 100, 30);
    l = line_of(t, 29);
    assert_string_equal(l, " SmolLM2-135M-Instruct (Q8_0) · local · …/agent/.local/share/frontdesk/frontdesk.db · idle    saved");
    free(l);
    assert_int_equal(tu_cell(&f, 95, 29)->style, UI_S_STATUS);
    free(t);
    v.notice = "database is locked \x1b[31m (retrying)";
    v.notice_bad = true;
    t = shell_text(&v, &f, 60, 16);
    test_assert_no_controls(t);
    l = line_of(t, 15);
    assert_string_equal(l, " SmolLM2-135M… · idle  database is locked ^[[31m (retrying)");
    free(l);
    int x = tu_col_of(&f, 15, "database");
    for (int i = x; i < 59; i++)
        assert_int_equal(tu_cell(&f, i, 15)->style, i >= tu_col_of(&f, 15, "^[") && i < tu_col_of(&f, 15, "^[") + 2
                                                     ? UI_S_ESCAPED : UI_S_BAD);
    assert_int_equal(tu_cell(&f, x - 1, 15)->style, UI_S_BAD); /* its own margins */
    assert_int_equal(tu_cell(&f, 59, 15)->style, UI_S_BAD);
    assert_int_equal(tu_cell(&f, x - 2, 15)->style, UI_S_STATUS);
    assert_int_equal(tu_cell(&f, 0, 15)->style, UI_S_STATUS);
    free(t);
    /* The live speed is kept whole; the model name gives way. */
    v.generating = true;
    v.live_tps = 38.04;
    t = shell_text(&v, &f, 60, 16);
    l = line_of(t, 15);
    assert_string_equal(l, " SmolLM… · 38.0 tok/s  database is locked ^[[31m (retrying)");
    free(l);
    free(t);
    v.generating = false;

    /* Nothing known yet. */
    v.notice = NULL;
    v.model = v.quant = v.backend = v.db_path = NULL;
    t = shell_text(&v, &f, 60, 16);
    l = line_of(t, 15);
    assert_string_equal(l, " no model · idle");
    free(l);
    free(t);
    frame_free(&f);
    shell_free(&v);
}

/* ---- Shell: overlays ------------------------------------------------------------------ */

static const char HELP_60x16[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models     F10 help\n"
    "Da┌─ Keys — Dashboard ──────────────────────────────────┐:05\n"
    "re│ Dashboard                                           │\n"
    "er│ w                 window: 1m→5m→1h→24h→7d→30d       │\n"
    "la│ Up / Down, j / k  scroll the lower panels           │\n"
    "TT│ PgUp / PgDn       scroll the lower panels by a page │\n"
    "to│ Home / End        top / bottom of the lower panels  │\n"
    "  │                                                     │\n"
    "Al│ Everywhere                                          │\n"
    "  │ F1 / Alt-1        Chat screen                       │\n"
    "  │ F2 / Alt-2        Review screen                     │\n"
    "La│ F3 / Alt-3        Dashboard screen                  │\n"
    "re│ F4 / Alt-4        Models screen                     │ 13\n"
    "p9│ F10 / ?           this help (? when not typing)    ↓│0 s\n"
    "  └──────────────────────────── ↑↓ scroll · Esc closes ─┘wn)\n"
    " SmolLM2-135M-Instruct (Q8_0) · local · …frontdesk.db · idle\n";
static const char QUIT_60x16[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models     F10 help\n"
    "Dashboard — window 5m (w to change)         updated 16:18:05\n"
    "requests  30.0/min        running 1        tokens 12,345\n"
    "errors    2.0% (3 of 150)  thumbs down 12% of 25\n"
    "latency   p50 850 ms      p95 4.1 s        p99 5.2 s\n"
    "TTFT      p50 180 ms      p95 420 ms       p99 1.1 s\n"
    "tok/s┌─ Quit ─────────────────────────────────────────┐\n"
    "     │ A reply is being generated. Quit anyway? (y/N) │\n"
    "Alert└──────────────── y quits · any other key stays ─┘\n"
    "  ▲ p95 latency 4100 ms > 3000 ms\n"
    "\n"
    "Last hour, per minute\n"
    "requests/min ▇▁▂▃▄▆▇▁▂▄▅▆▇▁▃▄▅▆ ▂▃▄▆▇▁▂▃▅▆▇▁▂▄▅▆█▂▃       13\n"
    "p95 latency  ▄ ▄▄▄▄▄▄▄▅▅ ▅▅▅▅▅▅▆▆▆ ▆▆▆▆▆▆▇▇▇ ▇▇▇▇▇█    4.0 s\n"
    "                                    ↓ 10 more lines (j/Down)\n"
    " SmolLM2-135M-Instruct (Q8_0) · local · generating…\n";
static const char PROMPT_60x16[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models     F10 help\n"
    "Review — 0 of 0 unrated\n"
    "\n"
    "\n"
    "\n"
    "    ┌──────────────────────────────────────────────────┐\n"
    "    │ Search replies and their conversations (empty:   │\n"
    "    │ no search)                                       │\n"
    "Noth│ refund q                                         │ter\n"
    "    └────────────────────────── Enter OK · Esc cancel ─┘\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    " SmolLM2-135M-Instruct (Q8_0) · local · …frontdesk.db · idle\n";
static const char PICK_60x16[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models     F10 help\n"
    " New conversation\n"
    "\n"
    "\n"
    "          ┌──────────────────────────────────────┐\n"
    "          │ New conversation: choose a profile   │\n"
    " New conve│  default                             │age below\n"
    "          │  billing — refunds and invoices      │\n"
    "          │▸ delivery ^[[1m                      │\n"
    "          │  technical                           │\n"
    "          └── ↑↓ choose · Enter OK · Esc cancel ─┘\n"
    "────────────────────────────────────────────────────────────\n"
    " Type the customer's message — Enter sends\n"
    "\n"
    "\n"
    " SmolLM2-135M-Instruct (Q8_0) · local · …frontdesk.db · idle\n";
static const char MESSAGE_60x16[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models     F10 help\n"
    "Dashboard — window 5m (w to change)         updated 16:18:05\n"
    "requests  30.0/min        running 1        tokens 12,345\n"
    "errors    2.0% (3 of 150)  thumbs down 12% of 25\n"
    "latency   p50 850 ms      p95 4.1 s        p99 5.2 s\n"
    "TTFT      p50 180 ms      p95 420 ms       p99 1.1 s\n"
    "tok┌────────────────────────────────────────────────────┐\n"
    "   │ Copied the reply to the clipboard file             │\n"
    "Ale│ ~/.local/share/frontdesk/clip.txt (OSC 52 is off). │\n"
    "  ▲└─────────────────────────────────── any key closes ─┘\n"
    "\n"
    "Last hour, per minute\n"
    "requests/min ▇▁▂▃▄▆▇▁▂▄▅▆▇▁▃▄▅▆ ▂▃▄▆▇▁▂▃▅▆▇▁▂▄▅▆█▂▃       13\n"
    "p95 latency  ▄ ▄▄▄▄▄▄▄▅▅ ▅▅▅▅▅▅▆▆▆ ▆▆▆▆▆▆▇▇▇ ▇▇▇▇▇█    4.0 s\n"
    "                                    ↓ 10 more lines (j/Down)\n"
    " SmolLM2-135M-Instruct (Q8_0) · local · …frontdesk.db · idle\n";

static void test_help_overlay(void **state)
{
    (void)state;
    shell_view v;
    tu_shell_fixture(&v);
    ui_frame f = {0};
    assert_int_equal(shell_key(&v, K('?')), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_HELP);
    char *t = shell_text(&v, &f, 60, 16);
    assert_false(f.cursor_visible);
    test_expect_golden("HELP_60x16", t, HELP_60x16);
    /* Scrolling shows the rest; keys other than the closing ones stay. */
    assert_int_equal(shell_key(&v, K(UI_K_DOWN)), SHELL_NONE);
    assert_int_equal(shell_key(&v, K('j')), SHELL_NONE);
    assert_int_equal(shell_key(&v, K('x')), SHELL_NONE);
    assert_int_equal(shell_key(&v, F(1)), SHELL_NONE); /* the overlay takes every key */
    assert_int_equal(v.screen, UI_SCREEN_DASH);
    assert_int_equal(v.overlay, UI_OVERLAY_HELP);
    assert_int_equal(v.help_scroll, 2); /* 14 lines, 12 rows */
    t = shell_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "│ Tab               move the focus"));
    assert_null(strstr(t, "│ Dashboard "));
    assert_non_null(strstr(t, "↑│"));
    assert_null(strstr(t, "↓│"));
    free(t);
    shell_key(&v, K('k'));
    shell_key(&v, K('k'));
    assert_int_equal(v.help_scroll, 0);
    shell_key(&v, K(UI_K_END));
    assert_int_equal(v.help_scroll, 2);
    shell_key(&v, K(UI_K_HOME));
    assert_int_equal(v.help_scroll, 0);
    /* The Chat screen's keys are many more: scroll through them all. */
    v.screen = UI_SCREEN_CHAT;
    shell_key(&v, K(UI_K_END));
    int end = v.help_scroll;
    assert_true(end > 5);
    shell_key(&v, K(UI_K_DOWN));
    assert_int_equal(v.help_scroll, end);
    t = shell_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "│ Tab               move the focus"));
    assert_null(strstr(t, "↓│"));
    free(t);
    v.help_scroll = 0;
    t = shell_text(&v, &f, 60, 16);
    assert_null(strstr(t, "│ Tab               move the focus"));
    assert_non_null(strstr(t, "↓│"));
    free(t);
    v.screen = UI_SCREEN_DASH;
    /* The help lists the current screen's keys and the global ones. */
    static const uint32_t closers[] = {UI_K_ESC, UI_K_F1 + 9, '?', 'q', UI_K_ENTER};
    for (size_t i = 0; i < sizeof closers / sizeof closers[0]; i++) {
        v.overlay = UI_OVERLAY_HELP;
        assert_int_equal(shell_key(&v, K(closers[i])), SHELL_NONE);
        assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    }
    /* F10 opens it anywhere (also while typing), at the top. */
    v.screen = UI_SCREEN_CHAT;
    assert_true(chat_typing(&v.chat));
    assert_int_equal(shell_key(&v, F(10)), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_HELP);
    assert_int_equal(v.help_scroll, 0);
    t = shell_text(&v, &f, 100, 30);
    assert_non_null(strstr(t, "Keys — Chat"));
    assert_non_null(strstr(t, "send the message"));
    assert_non_null(strstr(t, "F1 / Alt-1"));
    free(t);
    v.screen = UI_SCREEN_REVIEW;
    t = shell_text(&v, &f, 100, 30);
    assert_non_null(strstr(t, "Keys — Review"));
    assert_non_null(strstr(t, "score the reply"));
    free(t);
    frame_free(&f);
    shell_free(&v);
}

static void test_quit_flow(void **state)
{
    (void)state;
    shell_view v;
    tu_shell_fixture(&v);
    ui_frame f = {0};
    /* Idle: Ctrl-Q (and q outside a text field) quit at once. */
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_QUIT);
    assert_int_equal(shell_key(&v, K('q')), SHELL_QUIT);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    /* Generating: a confirmation; n (or anything but y) keeps running. */
    v.generating = true;
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_QUIT);
    char *t = shell_text(&v, &f, 60, 16);
    assert_false(f.cursor_visible);
    test_expect_golden("QUIT_60x16", t, QUIT_60x16);
    assert_int_equal(shell_key(&v, K(UI_K_RESIZE)), SHELL_NONE); /* not an answer */
    assert_int_equal(v.overlay, UI_OVERLAY_QUIT);
    assert_int_equal(shell_key(&v, K('n')), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    assert_int_equal(shell_key(&v, K('q')), SHELL_NONE);
    assert_int_equal(shell_key(&v, K(UI_K_ESC)), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_NONE);
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_NONE); /* a second Ctrl-Q is "anything else" */
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_NONE);
    assert_int_equal(shell_key(&v, K('y')), SHELL_QUIT);
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_NONE);
    assert_int_equal(shell_key(&v, K('Y')), SHELL_QUIT);
    frame_free(&f);
    shell_free(&v);
}

static void test_prompt_overlay(void **state)
{
    (void)state;
    shell_view v;
    tu_shell_fixture(&v);
    v.screen = UI_SCREEN_REVIEW;
    v.review.empty = true;
    ui_frame f = {0};
    shell_prompt(&v, "Search replies and their conversations (empty: no search)", "refund");
    assert_int_equal(v.overlay, UI_OVERLAY_PROMPT);
    /* Editor keys type, q and ? included; F-keys do not switch. */
    assert_int_equal(shell_key(&v, K(' ')), SHELL_NONE);
    assert_int_equal(shell_key(&v, K('q')), SHELL_NONE);
    assert_int_equal(shell_key(&v, K('?')), SHELL_NONE);
    assert_int_equal(shell_key(&v, F(1)), SHELL_NONE);
    assert_int_equal(shell_key(&v, K(UI_K_BACKSPACE)), SHELL_NONE);
    assert_string_equal(ui_input_text(&v.prompt), "refund q");
    char *t = shell_text(&v, &f, 60, 16);
    assert_true(f.cursor_visible);
    int y = tu_row_of(t, "refund q", NULL);
    assert_int_equal(f.cur_y, y);
    assert_int_equal(f.cur_x, tu_col_of(&f, y, "refund q") + 8);
    test_expect_golden("PROMPT_60x16", t, PROMPT_60x16);
    /* Enter: the answer stays for app/ to read. */
    assert_int_equal(shell_key(&v, K(UI_K_ENTER)), SHELL_PROMPT_OK);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    assert_string_equal(ui_input_text(&v.prompt), "refund q");
    assert_int_equal(v.screen, UI_SCREEN_REVIEW);
    ui_input_clear(&v.prompt); /* as app/ does */
    /* Esc cancels; a new prompt starts from its initial text. */
    shell_prompt(&v, "Add a tag", NULL);
    assert_string_equal(ui_input_text(&v.prompt), "");
    shell_key(&v, K('x'));
    assert_int_equal(shell_key(&v, K(UI_K_ESC)), SHELL_CANCELLED);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    shell_prompt(&v, "Rename the conversation", "Delivery late");
    assert_string_equal(ui_input_text(&v.prompt), "Delivery late");
    /* A paste with a newline stays one line. */
    shell_key(&v, K(UI_K_PASTE_BEGIN));
    shell_key(&v, K('!'));
    shell_key(&v, K(UI_K_ENTER));
    shell_key(&v, K(UI_K_PASTE_END));
    assert_int_equal(v.overlay, UI_OVERLAY_PROMPT);
    assert_null(strchr(ui_input_text(&v.prompt), '\n'));
    assert_int_equal(shell_key(&v, K(UI_K_ENTER)), SHELL_PROMPT_OK);
    assert_string_equal(ui_input_text(&v.prompt), "Delivery late! "); /* the pasted newline, a space */
    frame_free(&f);
    shell_free(&v);
}

static void test_pick_overlay(void **state)
{
    (void)state;
    static const char *const items[] = {"default", "billing — refunds and invoices", "delivery \x1b[1m",
                                        "technical"};
    shell_view v;
    tu_shell_fixture(&v);
    v.screen = UI_SCREEN_CHAT;
    ui_frame f = {0};
    shell_pick(&v, "New conversation: choose a profile", items, 4);
    assert_int_equal(v.pick_sel, 0);
    assert_int_equal(shell_key(&v, K(UI_K_UP)), SHELL_NONE);
    assert_int_equal(v.pick_sel, 0);
    shell_key(&v, K(UI_K_DOWN));
    shell_key(&v, K('j'));
    assert_int_equal(v.pick_sel, 2);
    char *t = shell_text(&v, &f, 60, 16);
    test_assert_no_controls(t);
    assert_false(f.cursor_visible); /* the chat input's cursor is under the box */
    int y = tu_row_of(t, "delivery ^[[1m", NULL);
    assert_int_equal(tu_cell(&f, tu_col_of(&f, y, "delivery"), y)->style, UI_S_SELECTED);
    y = tu_row_of(t, "technical", NULL);
    assert_int_equal(tu_cell(&f, tu_col_of(&f, y, "technical"), y)->style, UI_S_NORMAL);
    test_expect_golden("PICK_60x16", t, PICK_60x16);
    shell_key(&v, K('j'));
    shell_key(&v, K('j'));
    assert_int_equal(v.pick_sel, 3);
    shell_key(&v, K('k'));
    assert_int_equal(shell_key(&v, K('q')), SHELL_NONE); /* not a quit inside the picker */
    assert_int_equal(shell_key(&v, K(UI_K_ENTER)), SHELL_PICKED);
    assert_int_equal(v.pick_sel, 2);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    shell_pick(&v, "Again", items, 4);
    assert_int_equal(v.pick_sel, 0);
    assert_int_equal(shell_key(&v, K(UI_K_ESC)), SHELL_CANCELLED);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    /* Nothing to pick: Enter cancels rather than pick a missing item. */
    shell_pick(&v, "Nothing", items, 0);
    t = shell_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "nothing to choose from"));
    free(t);
    shell_key(&v, K(UI_K_DOWN));
    assert_int_equal(v.pick_sel, 0);
    assert_int_equal(shell_key(&v, K(UI_K_ENTER)), SHELL_CANCELLED);
    /* More items than rows: the selection stays in view. */
    static const char *many[30];
    char names[30][24];
    for (int i = 0; i < 30; i++) {
        snprintf(names[i], sizeof names[i], "profile %02d", i);
        many[i] = names[i];
    }
    shell_pick(&v, "Many", many, 30);
    for (int i = 0; i < 29; i++)
        shell_key(&v, K(UI_K_DOWN));
    assert_int_equal(v.pick_sel, 29);
    t = shell_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "profile 29"));
    assert_null(strstr(t, "profile 00"));
    y = tu_row_of(t, "profile 29", NULL);
    assert_int_equal(tu_cell(&f, tu_col_of(&f, y, "profile 29"), y)->style, UI_S_SELECTED);
    free(t);
    frame_free(&f);
    shell_free(&v);
}

static void test_message_overlay(void **state)
{
    (void)state;
    shell_view v;
    tu_shell_fixture(&v);
    ui_frame f = {0};
    shell_message(&v, "Copied the reply to the clipboard file ~/.local/share/frontdesk/clip.txt (OSC 52 is off).");
    char *t = shell_text(&v, &f, 60, 16);
    test_expect_golden("MESSAGE_60x16", t, MESSAGE_60x16);
    assert_int_equal(shell_key(&v, K(UI_K_RESIZE)), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_MESSAGE);
    assert_int_equal(shell_key(&v, K('z')), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    shell_message(&v, "x");
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_NONE); /* closes; does not quit */
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    frame_free(&f);
    shell_free(&v);
}

/* Every overlay at every size: inside the frame, nothing raw. */
static void test_overlay_containment(void **state)
{
    (void)state;
    static const char *const items[] = {"a", "b"};
    static const int sizes[][2] = {{60, 16}, {61, 17}, {100, 30}, {200, 60}, {60, 40}, {300, 16}};
    shell_view v;
    tu_shell_fixture(&v);
    ui_frame f = {0};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int o = UI_OVERLAY_NONE; o <= UI_OVERLAY_MESSAGE; o++)
            for (int scr = 0; scr < 4; scr++) {
                v.screen = (ui_screen)scr;
                v.overlay = (ui_overlay)o;
                v.prompt_title = "A title that is rather long and will need to be wrapped inside the box "
                                 "because it cannot fit on one line at the smallest size";
                v.pick_title = v.prompt_title;
                v.pick_items = items;
                v.n_pick = 2;
                v.message = "\x1b[2J";
                v.help_scroll = 1000;
                char *t = shell_text(&v, &f, sizes[s][0], sizes[s][1]);
                test_assert_no_controls(t);
                assert_int_equal(tu_row_of(t, "Terminal too small", NULL), -1);
                free(t);
            }
    frame_free(&f);
    shell_free(&v);
}

/* ---- Shell: too small --------------------------------------------------------------- */

static const char SMALL_59x16[] =
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "                 Terminal too small: 59x16\n"
    "              frontdesk needs at least 60x16\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n";
static const char SMALL_20x5[] =
    "\n"
    "  Too small: 20x5\n"
    "    needs 60x16\n"
    "\n"
    "\n";

static void test_too_small(void **state)
{
    (void)state;
    shell_view v;
    tu_shell_fixture(&v);
    v.overlay = UI_OVERLAY_HELP; /* not drawn either */
    ui_frame f = {0};
    test_expect_golden("SMALL_59x16", shell_text(&v, &f, 59, 16), SMALL_59x16);
    char *t = shell_text(&v, &f, 60, 15);
    assert_int_equal(tu_row_of(t, "Terminal too small: 60x15", NULL), 6);
    assert_int_equal(tu_row_of(t, "frontdesk needs at least 60x16", NULL), 7);
    assert_int_equal(tu_col_of(&f, 6, "Terminal"), (60 - 25) / 2); /* centred */
    assert_int_equal(tu_col_of(&f, 7, "frontdesk"), (60 - 30) / 2);
    assert_null(strstr(t, "F1 Chat"));
    assert_false(f.cursor_visible);
    free(t);
    test_expect_golden("SMALL_20x5", shell_text(&v, &f, 20, 5), SMALL_20x5);
    t = shell_text(&v, &f, 1, 1);
    assert_string_equal(t, "T\n");
    free(t);
    t = shell_text(&v, &f, 3, 2);
    assert_string_equal(t, "Too\nnee\n"); /* the short forms, clipped */
    free(t);
    t = shell_text(&v, &f, 0, 0);
    assert_string_equal(t, "");
    free(t);
    t = shell_text(&v, &f, 0, 5);
    assert_string_equal(t, "\n\n\n\n\n");
    free(t);
    t = shell_text(&v, &f, 200, 1);
    assert_int_equal(tu_row_of(t, "Terminal too small: 200x1", NULL), 0);
    free(t);
    /* From a chat screen whose input has the cursor: hidden. */
    v.overlay = UI_OVERLAY_NONE;
    v.screen = UI_SCREEN_CHAT;
    t = shell_text(&v, &f, 59, 30);
    assert_false(f.cursor_visible);
    free(t);
    t = shell_text(&v, &f, 60, 16);
    assert_true(f.cursor_visible); /* just big enough: the chat input has it */
    free(t);
    frame_free(&f);
    shell_free(&v);
}

/* ---- Shell: keys ----------------------------------------------------------------------- */

static void test_switching(void **state)
{
    (void)state;
    shell_view v;
    shell_init(&v);
    assert_int_equal(v.screen, UI_SCREEN_CHAT);
    assert_int_equal(shell_key(&v, F(2)), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_REVIEW);
    assert_int_equal(shell_key(&v, F(3)), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_DASH);
    assert_int_equal(shell_key(&v, F(3)), SHELL_NONE); /* already there */
    assert_int_equal(shell_key(&v, F(1)), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_CHAT);
    assert_int_equal(shell_key(&v, ALT('3')), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_DASH);
    assert_int_equal(shell_key(&v, ALT('2')), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_REVIEW);
    assert_int_equal(shell_key(&v, ALT('1')), SHELL_SWITCHED);
    assert_int_equal(shell_key(&v, ALT('1')), SHELL_NONE);
    assert_int_equal(v.screen, UI_SCREEN_CHAT);
    assert_int_equal(shell_key(&v, F(4)), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_MODELS);
    assert_int_equal(shell_key(&v, ALT('1')), SHELL_SWITCHED);
    assert_int_equal(shell_key(&v, ALT('4')), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_MODELS);
    assert_int_equal(shell_key(&v, F(1)), SHELL_SWITCHED);
    /* Not switches: plain digits (text), Ctrl-digits, F5, Alt-5. */
    assert_int_equal(shell_key(&v, K('2')), SHELL_PASS);
    assert_int_equal(shell_key(&v, CTRL('2')), SHELL_PASS);
    assert_int_equal(shell_key(&v, F(5)), SHELL_PASS);
    assert_int_equal(shell_key(&v, ALT('5')), SHELL_PASS);
    assert_int_equal(shell_key(&v, (ui_key){UI_K_F1 + 1, UI_MOD_ALT}), SHELL_PASS);
    assert_int_equal(v.screen, UI_SCREEN_CHAT);
    /* Resizes are the shell's; everything else goes to the screen. */
    assert_int_equal(shell_key(&v, K(UI_K_RESIZE)), SHELL_NONE);
    assert_int_equal(shell_key(&v, K(UI_K_TAB)), SHELL_PASS);
    assert_int_equal(shell_key(&v, K(UI_K_ENTER)), SHELL_PASS);
    assert_int_equal(shell_key(&v, K(UI_K_ESC)), SHELL_PASS);
    assert_int_equal(shell_key(&v, K('w')), SHELL_PASS);
    assert_int_equal(shell_key(&v, ALT('q')), SHELL_PASS);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    shell_free(&v);
}

static void test_typing_keeps_q(void **state)
{
    (void)state;
    shell_view v;
    tu_shell_fixture(&v);
    v.screen = UI_SCREEN_CHAT;
    ui_frame f = {0};
    /* The chat input has the focus: q and ? are text for the screen. */
    assert_true(chat_typing(&v.chat));
    assert_int_equal(shell_key(&v, K('q')), SHELL_PASS);
    assert_int_equal(shell_key(&v, K('?')), SHELL_PASS);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_QUIT); /* Ctrl-Q still quits */
    /* So are they in the list filter. */
    v.chat.focus = CHAT_FOCUS_LIST;
    v.chat.filtering = true;
    assert_int_equal(shell_key(&v, K('q')), SHELL_PASS);
    /* Focus on the list: they are commands. */
    v.chat.filtering = false;
    assert_false(chat_typing(&v.chat));
    assert_int_equal(shell_key(&v, K('q')), SHELL_QUIT);
    assert_int_equal(shell_key(&v, K('?')), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_HELP);
    shell_key(&v, K(UI_K_ESC));
    /* The chat screen inside the shell: tabs, screen, status. */
    v.chat.focus = CHAT_FOCUS_INPUT;
    char *t = shell_text(&v, &f, 100, 30);
    assert_int_equal(tu_row_of(t, "F1 Chat", NULL), 0);
    assert_true(tu_cell(&f, tu_col_of(&f, 0, "F1 Chat"), 0)->attr & UI_A_REVERSE);
    assert_false(tu_cell(&f, tu_col_of(&f, 0, "F3 Dashboard"), 0)->attr & UI_A_REVERSE);
    assert_non_null(strstr(t, "Type the customer's message"));
    assert_int_equal(tu_row_of(t, "SmolLM2-135M-Instruct (Q8_0)", NULL), 29);
    assert_true(f.cursor_visible);
    assert_true(f.cur_y > 0 && f.cur_y < 29);
    free(t);
    /* And the review screen. */
    v.screen = UI_SCREEN_REVIEW;
    v.review.empty = true;
    t = shell_text(&v, &f, 100, 30);
    assert_int_equal(tu_row_of(t, "Review — 0 of 0 unrated", NULL), 1);
    assert_non_null(strstr(t, "Nothing to review"));
    assert_true(tu_cell(&f, tu_col_of(&f, 0, "F2 Review"), 0)->attr & UI_A_REVERSE);
    free(t);
    frame_free(&f);
    shell_free(&v);
}

static void test_help_tables(void **state)
{
    (void)state;
    size_t n = 0;
    while (dash_help[n])
        n++;
    assert_true(n >= 4);
    assert_int_equal(n % 2, 0); /* key, description pairs */
    /* A zeroed shell frees; free after init too. */
    shell_view v;
    memset(&v, 0, sizeof v);
    shell_free(&v);
    shell_init(&v);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    assert_true(v.dash.loading);
    assert_string_equal(v.dash.window, "5m");
    assert_false(v.prompt.multiline);
    shell_free(&v);
}

int main(void)
{
    if (!setlocale(LC_ALL, "C.UTF-8") && !setlocale(LC_ALL, "en_US.UTF-8"))
        return test_skip_suite("test_ui_shell: no UTF-8 locale (C.UTF-8; make deps provides it) to measure text in");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shell_golden_dash),
        cmocka_unit_test(test_shell_status_line),
        cmocka_unit_test(test_help_overlay),
        cmocka_unit_test(test_quit_flow),
        cmocka_unit_test(test_prompt_overlay),
        cmocka_unit_test(test_pick_overlay),
        cmocka_unit_test(test_message_overlay),
        cmocka_unit_test(test_overlay_containment),
        cmocka_unit_test(test_too_small),
        cmocka_unit_test(test_switching),
        cmocka_unit_test(test_typing_keeps_q),
        cmocka_unit_test(test_help_tables),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
