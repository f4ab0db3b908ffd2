/*
 * test_ui_frame.c — the cell grid (frame.c) and the line editor (input.c),
 * checked headlessly against golden text grids.
 *
 * Widths come from the C library's wcwidth(), so the suite runs in the
 * C.UTF-8 locale and skips (loudly) when the system lacks it.
 */
#include "tests/testutil.h"

#include "ui/frame.h"
#include "ui/input.h"
#include "util/util.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Helpers ------------------------------------------------------------- */

/* Compare the frame with golden text, showing both when they differ. */
static void assert_frame(const ui_frame *f, const char *want)
{
    char *got = frame_to_text(f);
    if (strcmp(got, want) != 0) {
        print_error("frame differs\n--- want ---\n%s--- got ---\n%s------------\n", want, got);
        free(got);
        fail();
    }
    free(got);
}

static void assert_styles(const ui_frame *f, int y, const char *want)
{
    char *got = frame_row_styles(f, y);
    assert_string_equal(got, want);
    free(got);
}

/* Every wide cell is followed by its continuation and every continuation
 * follows a wide cell: no dangling halves anywhere. */
static void assert_wide_consistent(const ui_frame *f)
{
    for (int y = 0; y < f->h; y++)
        for (int x = 0; x < f->w; x++) {
            const ui_cell *c = &f->cells[y * f->w + x];
            if (c->width == 2) {
                assert_true(x + 1 < f->w);
                assert_int_equal(c[1].width, 0);
                assert_int_equal(c[1].ch, 0);
            } else if (c->width == 0) {
                assert_true(x > 0);
                assert_int_equal(c[-1].width, 2);
            } else {
                assert_int_equal(c->width, 1);
            }
        }
}

static const ui_cell *cell(const ui_frame *f, int x, int y) { return &f->cells[y * f->w + x]; }

/* The spans of ui_wrap as "[line]" pieces joined together. */
static char *wrap_str(const char *s, int width)
{
    ui_span *sp;
    size_t n = ui_wrap(s, strlen(s), width, &sp);
    strbuf sb = {0};
    sb_append(&sb, "", 0);
    for (size_t i = 0; i < n; i++)
        sb_printf(&sb, "[%.*s]", (int)sp[i].len, s + sp[i].off);
    free(sp);
    return sb.data;
}

static void assert_wrap(const char *s, int width, const char *want)
{
    char *got = wrap_str(s, width);
    assert_string_equal(got, want);
    free(got);
}

static ui_key K(uint32_t code, unsigned mods) { return (ui_key){code, mods}; }

static ui_input_result press(ui_input *in, uint32_t code, unsigned mods)
{
    return ui_input_key(in, K(code, mods));
}

/* Type a UTF-8 string one code point at a time ('\n' as Alt-Enter). */
static void type(ui_input *in, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        uint32_t cp;
        int n;
        if (*u < 0x80)
            cp = *u, n = 1;
        else if (*u < 0xE0)
            cp = *u & 0x1F, n = 2;
        else if (*u < 0xF0)
            cp = *u & 0x0F, n = 3;
        else
            cp = *u & 0x07, n = 4;
        for (int i = 1; i < n; i++)
            cp = (cp << 6) | (u[i] & 0x3F);
        u += n;
        if (cp == '\n')
            assert_int_equal(press(in, UI_K_ENTER, UI_MOD_ALT), UI_INPUT_CHANGED);
        else
            assert_int_equal(press(in, cp, 0), UI_INPUT_CHANGED);
    }
}

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* ---- The grid -------------------------------------------------------------- */

static void test_ascii_clip(void **state)
{
    (void)state;
    ui_frame f = {0};
    frame_init(&f, 10, 3);
    assert_int_equal(frame_str(&f, 2, 0, 7, "Hello, world", UI_S_NORMAL, 0), 7);
    assert_int_equal(frame_str(&f, 7, 1, 100, "abcdef", UI_S_TITLE, 0), 10); /* frame edge */
    assert_int_equal(frame_str(&f, -2, 2, 10, "abcdef", UI_S_NORMAL, 0), 4); /* left edge */
    assert_int_equal(frame_str(&f, 3, 5, 10, "off the frame", UI_S_NORMAL, 0), 10);
    assert_frame(&f, "  Hello\n"
                     "       abc\n"
                     "cdef\n");
    assert_styles(&f, 1, "aaaaaaaccc");
    assert_false(f.cursor_visible);

    /* Nothing to draw: returns x. */
    assert_int_equal(frame_str(&f, 4, 0, 4, "zzz", UI_S_NORMAL, 0), 4);
    assert_int_equal(frame_str(&f, 4, 0, 9, "", UI_S_NORMAL, 0), 4);

    /* Resize clears. */
    frame_init(&f, 4, 2);
    assert_int_equal(f.w, 4);
    assert_int_equal(f.h, 2);
    assert_frame(&f, "\n\n");
    frame_free(&f);
    frame_free(&f); /* a zeroed frame is fine */
}

static void test_cjk_clip(void **state)
{
    (void)state;
    ui_frame f = {0};
    frame_init(&f, 8, 2);
    /* 5 columns hold two characters; the third would straddle: a space. */
    assert_int_equal(frame_str(&f, 0, 0, 5, "你好世界", UI_S_NORMAL, 0), 5);
    assert_frame(&f, "你好\n\n");
    assert_int_equal(cell(&f, 0, 0)->width, 2);
    assert_int_equal(cell(&f, 1, 0)->width, 0);
    assert_int_equal(cell(&f, 4, 0)->ch, ' ');
    assert_int_equal(cell(&f, 4, 0)->width, 1);
    assert_int_equal(cell(&f, 5, 0)->ch, ' '); /* untouched beyond the clip */
    /* At the frame's right edge the same. */
    assert_int_equal(frame_str(&f, 1, 1, 99, "世界你好", UI_S_NORMAL, 0), 8);
    assert_frame(&f, "你好\n 世界你\n");
    assert_int_equal(ui_text_width("你好世界", strlen("你好世界")), 8);
    assert_wide_consistent(&f);
    frame_free(&f);
}

static void test_emoji(void **state)
{
    (void)state;
    ui_frame f = {0};
    frame_init(&f, 6, 1);
    const char *s = "\xF0\x9F\x98\x80x\xF0\x9F\x8E\x89"; /* 😀x🎉 */
    assert_int_equal(ui_text_width(s, strlen(s)), 5);
    assert_int_equal(frame_str(&f, 0, 0, 6, s, UI_S_AGENT, 0), 5);
    assert_frame(&f, "\xF0\x9F\x98\x80x\xF0\x9F\x8E\x89\n");
    assert_int_equal(cell(&f, 0, 0)->ch, 0x1F600);
    assert_int_equal(cell(&f, 3, 0)->ch, 0x1F389);
    assert_styles(&f, 0, "eeeeea");
    assert_wide_consistent(&f);
    frame_free(&f);
}

static void test_combining(void **state)
{
    (void)state;
    ui_frame f = {0};
    frame_init(&f, 6, 3);
    const char *e = "e\xCC\x81x"; /* e + U+0301, x */
    assert_int_equal(ui_text_width(e, strlen(e)), 2);
    assert_int_equal(frame_str(&f, 0, 0, 6, e, UI_S_NORMAL, 0), 2);
    assert_int_equal(cell(&f, 0, 0)->ch, 'e');
    assert_int_equal(cell(&f, 0, 0)->comb[0], 0x301);
    assert_int_equal(cell(&f, 0, 0)->comb[1], 0);
    assert_int_equal(cell(&f, 1, 0)->ch, 'x');
    /* A mark at the start rides on a space; a third mark is dropped. */
    const char *lead = "\xCC\x81" "a\xCC\x81\xCC\x82\xCC\x83" "b";
    assert_int_equal(ui_text_width(lead, strlen(lead)), 3);
    assert_int_equal(frame_str(&f, 0, 1, 6, lead, UI_S_NORMAL, 0), 3);
    assert_int_equal(cell(&f, 0, 1)->ch, ' ');
    assert_int_equal(cell(&f, 0, 1)->comb[0], 0x301);
    assert_int_equal(cell(&f, 1, 1)->comb[0], 0x301);
    assert_int_equal(cell(&f, 1, 1)->comb[1], 0x302);
    assert_int_equal(cell(&f, 2, 1)->ch, 'b');
    /* A mark on a wide character stays with it. */
    frame_str(&f, 0, 2, 6, "你\xCC\x81z", UI_S_NORMAL, 0);
    assert_int_equal(cell(&f, 0, 2)->comb[0], 0x301);
    assert_int_equal(cell(&f, 2, 2)->ch, 'z');
    assert_frame(&f, "e\xCC\x81x\n"
                     " \xCC\x81" "a\xCC\x81\xCC\x82" "b\n"
                     "你\xCC\x81z\n");
    frame_free(&f);
}

static void test_escapes(void **state)
{
    (void)state;
    ui_frame f = {0};
    frame_init(&f, 30, 4);
    const char *ansi = "a\x1b[31mred\x07\x7f";
    assert_int_equal(frame_str(&f, 0, 0, 30, ansi, UI_S_NORMAL, 0), 14);
    assert_int_equal(ui_text_width(ansi, strlen(ansi)), 14);
    /* C1 (U+009B, the one-byte CSI) and invalid UTF-8. */
    const char *c1 = "\xC2\x9B" "1m|\xFF\xFE|\xC0\xAF|\xED\xA0\x80|\xE4\xBD";
    frame_str(&f, 0, 1, 30, c1, UI_S_NORMAL, 0);
    frame_str(&f, 0, 2, 30, "a\nb\r\x00", UI_S_NORMAL, 0); /* frame_str stops at NUL */
    frame_text(&f, 0, 3, 30, "x\0y", 3, UI_S_NORMAL, 0);
    assert_frame(&f, "a^[[31mred^G^?\n"
                     "<9B>1m|\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD|"
                     "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD\n"
                     "a^Jb^M\n"
                     "x^@y\n");
    assert_styles(&f, 0, "a" "mm" "aaaa" "aaa" "mm" "mm" "aaaaaaaaaaaaaaaa");
    assert_styles(&f, 1, "mmmmaaaaaaaaaaaaaaaaaaaaaaaaaa");
    char *text = frame_to_text(&f);
    for (const char *p = text; *p; p++) {
        unsigned char c = (unsigned char)*p;
        assert_true(c >= 0x20 || c == '\n'); /* nothing raw reaches the terminal */
        assert_true(c != 0x7f);
    }
    assert_null(strstr(text, "\xC2\x9B"));
    free(text);
    /* An escape cut by the clip is cut, not spilled. */
    frame_clear(&f);
    assert_int_equal(frame_str(&f, 0, 0, 3, "ab\x1b", UI_S_NORMAL, 0), 3);
    assert_frame(&f, "ab^\n\n\n\n");
    /* A code point the locale gives no width (U+0378, unassigned) is
     * escaped like a control, not drawn with a width of -1. */
    frame_clear(&f);
    assert_int_equal(frame_str(&f, 0, 0, 30, "x\xCD\xB8y", UI_S_NORMAL, 0), 7);
    assert_frame(&f, "x<378>y\n\n\n\n");
    frame_free(&f);
}

static void test_tabs(void **state)
{
    (void)state;
    ui_frame f = {0};
    frame_init(&f, 24, 2);
    /* Stops every 4 columns counted from where the text starts. */
    const char *s = "a\tb\tcdefg\th";
    assert_int_equal(frame_str(&f, 2, 0, 24, s, UI_S_NORMAL, 0), 19);
    assert_int_equal(ui_text_width(s, strlen(s)), 17);
    assert_int_equal(frame_str(&f, 0, 1, 24, "\t\tx", UI_S_NORMAL, 0), 9);
    assert_frame(&f, "  a   b   cdefg   h\n"
                     "        x\n");
    frame_free(&f);
}

static void test_overwrite_wide_half(void **state)
{
    (void)state;
    ui_frame f = {0};
    frame_init(&f, 8, 3);
    frame_str(&f, 0, 0, 8, "你好", UI_S_NORMAL, 0);
    frame_str(&f, 1, 0, 8, "x", UI_S_NORMAL, 0); /* right half of 你 */
    assert_wide_consistent(&f);
    frame_str(&f, 2, 0, 8, "y", UI_S_NORMAL, 0); /* left half of 好 */
    assert_wide_consistent(&f);

    frame_str(&f, 0, 1, 8, "你好", UI_S_NORMAL, 0);
    frame_str(&f, 1, 1, 8, "世", UI_S_NORMAL, 0); /* across both */
    assert_wide_consistent(&f);

    frame_str(&f, 0, 2, 8, "ab你好", UI_S_NORMAL, 0);
    frame_fill(&f, 3, 2, 2, 1, '-', UI_S_BORDER, 0); /* halves of both */
    assert_wide_consistent(&f);
    assert_frame(&f, " xy\n"
                     " 世\n"
                     "ab --\n");
    frame_free(&f);
}

static void test_fill_style_cursor_printf(void **state)
{
    (void)state;
    ui_frame f = {0};
    frame_init(&f, 6, 3);
    frame_fill(&f, 1, 1, 10, 10, '.', UI_S_MUTED, 0);
    frame_fill(&f, 0, 0, 2, 1, 0x1b, UI_S_NORMAL, 0); /* a control is never stored */
    frame_style(&f, -1, 2, 3, 1, UI_S_SELECTED, UI_A_REVERSE);
    assert_frame(&f, "\n .....\n .....\n");
    assert_styles(&f, 1, "abbbbb");
    assert_styles(&f, 2, "hhbbbb");
    assert_int_equal(cell(&f, 0, 2)->attr, UI_A_REVERSE);
    char *none = frame_row_styles(&f, 7);
    assert_string_equal(none, "");
    free(none);

    frame_cursor(&f, 2, 1);
    assert_true(f.cursor_visible);
    assert_int_equal(f.cur_x, 2);
    assert_int_equal(f.cur_y, 1);
    frame_cursor(&f, 6, 1); /* outside: cannot be shown */
    assert_false(f.cursor_visible);
    frame_clear(&f);
    assert_false(f.cursor_visible);

    assert_int_equal(frame_printf(&f, 0, 0, 6, UI_S_NORMAL, 0, "%d-%s", 42, "x"), 4);
    char big[400];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(frame_printf(&f, 0, 1, 6, UI_S_NORMAL, 0, "<%s>", big), 6);
    assert_int_equal(frame_printf(&f, 0, 2, 6, UI_S_NORMAL, 0, "%s", "\x1b"), 2);
    assert_frame(&f, "42-x\n<qqqqq\n^[\n");
    frame_free(&f);
}

static void test_box(void **state)
{
    (void)state;
    ui_frame f = {0};
    frame_init(&f, 12, 5);
    frame_box(&f, 0, 0, 12, 4, "Inbox", UI_S_BORDER);
    assert_frame(&f, "┌─Inbox────┐\n"
                     "│          │\n"
                     "│          │\n"
                     "└──────────┘\n"
                     "\n");
    assert_styles(&f, 0, "nnnnnnnnnnnn");
    assert_styles(&f, 1, "naaaaaaaaaan");
    for (int x = 0; x < 12; x++) /* the title is plain, like the border */
        assert_int_equal(cell(&f, x, 0)->attr, 0);
    /* Clearing also parks and hides the cursor. */
    frame_cursor(&f, 5, 2);
    assert_true(f.cursor_visible);
    frame_clear(&f);
    assert_int_equal(f.cur_x, 0);
    assert_int_equal(f.cur_y, 0);
    assert_false(f.cursor_visible);
    frame_box(&f, 1, 1, 8, 3, "A very long title", UI_S_BORDER);
    assert_frame(&f, "\n"
                     " ┌─A ver┐\n"
                     " │      │\n"
                     " └──────┘\n"
                     "\n");
    frame_clear(&f);
    frame_box(&f, 6, 2, 10, 10, "你好世界", UI_S_BORDER); /* clipped by the frame */
    assert_frame(&f, "\n\n      ┌─你好\n      │\n      │\n");
    assert_wide_consistent(&f);
    frame_free(&f);
}

/* ---- Measuring and wrapping ------------------------------------------------ */

static void test_wrap(void **state)
{
    (void)state;
    assert_wrap("the quick brown fox jumps over the lazy dog", 10,
                "[the quick][brown fox][jumps over][the lazy][dog]");
    assert_wrap("a supercalifragilistic word", 8, "[a][supercal][ifragili][stic][word]");
    assert_wrap("你好世界你好", 5, "[你好][世界][你好]");
    assert_wrap("ab 你好世界", 5, "[ab][你好][世界]");
    assert_wrap("one\n\ntwo\n", 10, "[one][][two][]");
    assert_wrap("", 10, "[]");
    assert_wrap("\n", 10, "[][]");
    assert_wrap("ab", 0, "[a][b]");
    assert_wrap("ab", -5, "[a][b]");
    assert_wrap("aaa    bbb", 4, "[aaa][bbb]");  /* spaces at a soft break go */
    assert_wrap("aaaa bbbb", 4, "[aaaa][bbbb]"); /* the space that does not fit */
    assert_wrap("  indented text", 10, "[  indented][text]");
    assert_wrap("      xxxxxx", 4, "[    ][xxxx][xx]"); /* no empty line for indentation */
    assert_wrap("trailing   ", 20, "[trailing   ]");   /* hard end keeps spaces */
    assert_wrap("e\xCC\x81" "e\xCC\x81" "e\xCC\x81", 2, "[e\xCC\x81" "e\xCC\x81][e\xCC\x81]");
    assert_wrap("你", 1, "[你]"); /* wider than the line: alone on it */
    assert_wrap("a\x1b[1mb", 3, "[a\x1b][[1m][b]");  /* escapes count their width */
    assert_wrap("x\ty z", 6, "[x\ty][z]");
}

/* Properties on random text: every line fits (or holds one glyph), lines
 * are in order and cover all non-space text, frame_text agrees with
 * ui_text_width, and ui_fit never splits a character or its marks. */
static void test_wrap_fit_random(void **state)
{
    (void)state;
    static const char *const pieces[] = {"a", "b", " ", " ", "  ", "\n", "你", "\xF0\x9F\x98\x80",
                                         "\xCC\x81", "\t", "\x1b", "\xFF", "\xC2\x9B", "é",
                                         "word", "\xE4\xBD"};
    const size_t np = sizeof pieces / sizeof pieces[0];
    uint64_t seed = 7;
    ui_frame f = {0};
    frame_init(&f, 64, 1);
    for (int iter = 0; iter < 2000; iter++) {
        strbuf sb = {0};
        sb_append(&sb, "", 0);
        int n = (int)(rng_next(&seed) % 30);
        for (int i = 0; i < n; i++)
            sb_puts(&sb, pieces[rng_next(&seed) % np]);
        int width = 1 + (int)(rng_next(&seed) % 12);
        ui_span *sp;
        size_t lines = ui_wrap(sb.data, sb.len, width, &sp);
        assert_true(lines >= 1);
        size_t prev_end = 0, nonspace = 0;
        for (size_t i = 0; i < lines; i++) {
            const char *l = sb.data + sp[i].off;
            assert_true(sp[i].off >= prev_end);
            assert_true(sp[i].off + sp[i].len <= sb.len);
            assert_null(memchr(l, '\n', sp[i].len));
            int w = ui_text_width(l, sp[i].len);
            if (w > width) /* only a single glyph may overflow */
                assert_true(ui_fit(l, sp[i].len, w - 1) == 0);
            for (size_t k = 0; k < sp[i].len; k++)
                nonspace += l[k] != ' ' && l[k] != '\n';
            prev_end = sp[i].off + sp[i].len;
            frame_clear(&f);
            assert_int_equal(frame_text(&f, 0, 0, 64, l, sp[i].len, UI_S_NORMAL, 0), w < 64 ? w : 64);
        }
        size_t total = 0;
        for (size_t k = 0; k < sb.len; k++)
            total += sb.data[k] != ' ' && sb.data[k] != '\n';
        assert_int_equal(nonspace, total);
        free(sp);

        bool tabs = memchr(sb.data, '\t', sb.len) != NULL;
        int whole = ui_text_width(sb.data, sb.len);
        for (int cols = 0; cols < 10; cols++) {
            size_t fit = ui_fit(sb.data, sb.len, cols);
            assert_true(ui_text_width(sb.data, fit) <= cols);
            if (fit == sb.len)
                continue;
            /* Maximal: the next glyph would not fit. */
            const char *rest = sb.data + fit;
            size_t g = 0;
            for (int k = 1; k <= 8 && !g; k++)
                g = ui_fit(rest, sb.len - fit, k);
            assert_true(g > 0);
            assert_true(ui_text_width(sb.data, fit + g) > cols);
            /* Not inside a character or before its marks: cutting there
             * changes no width (tab stops aside). */
            if (!tabs)
                assert_int_equal(ui_text_width(sb.data, fit) + ui_text_width(rest, sb.len - fit), whole);
        }
        sb_free(&sb);
    }
    frame_free(&f);
}

static void test_fit(void **state)
{
    (void)state;
    const char *s = "a\xC3\xA9你e\xCC\x81\xCC\x82z"; /* a é 你 e+2 marks z */
    size_t len = strlen(s);
    assert_int_equal(ui_fit(s, len, 0), 0);
    assert_int_equal(ui_fit(s, len, 1), 1);
    assert_int_equal(ui_fit(s, len, 2), 3);
    assert_int_equal(ui_fit(s, len, 3), 3); /* 你 does not fit in one column */
    assert_int_equal(ui_fit(s, len, 4), 6);
    assert_int_equal(ui_fit(s, len, 5), 11); /* e with both marks */
    assert_int_equal(ui_fit(s, len, 6), len);
    assert_int_equal(ui_fit(s, len, 100), len);
    assert_int_equal(ui_fit(s, len, -3), 0);
    assert_int_equal(ui_fit("\x1b", 1, 1), 0); /* "^[" is two columns */
    assert_int_equal(ui_fit("\x1b", 1, 2), 1);
    assert_int_equal(ui_fit("\xE4\xBD", 2, 1), 1); /* a truncated sequence: one U+FFFD per byte */
    /* Every cut of a UTF-8 text lands on a character boundary. */
    const char *t = "héllo 你好 \xF0\x9F\x98\x80 e\xCC\x81!";
    for (int c = 0; c < 30; c++) {
        size_t n = ui_fit(t, strlen(t), c);
        assert_true(n == strlen(t) || ((unsigned char)t[n] & 0xC0) != 0x80);
        assert_false(n < strlen(t) && (unsigned char)t[n] == 0xCC); /* not before a mark */
    }
}

/* ---- The editor ------------------------------------------------------------- */

static void test_input_typing(void **state)
{
    (void)state;
    ui_input in;
    ui_input_init(&in, true);
    assert_string_equal(ui_input_text(&in), "");
    type(&in, "héllo 你好");
    assert_string_equal(ui_input_text(&in), "héllo 你好");
    assert_int_equal(in.cursor, strlen("héllo 你好"));
    /* Insert in the middle. */
    assert_int_equal(press(&in, UI_K_LEFT, 0), UI_INPUT_CHANGED);
    type(&in, "\xF0\x9F\x98\x80");
    assert_string_equal(ui_input_text(&in), "héllo 你\xF0\x9F\x98\x80好");
    assert_int_equal(press(&in, UI_K_BACKSPACE, 0), UI_INPUT_CHANGED);
    assert_int_equal(press(&in, UI_K_DELETE, 0), UI_INPUT_CHANGED);
    assert_string_equal(ui_input_text(&in), "héllo 你");
    assert_int_equal(press(&in, UI_K_DELETE, 0), UI_INPUT_IGNORED); /* at the end */
    /* Not text: left for the screen. */
    assert_int_equal(press(&in, 'x', UI_MOD_ALT), UI_INPUT_IGNORED);
    assert_int_equal(press(&in, UI_K_TAB, 0), UI_INPUT_IGNORED);
    assert_int_equal(press(&in, UI_K_F1, 0), UI_INPUT_IGNORED);
    assert_int_equal(press(&in, 0xD800, 0), UI_INPUT_IGNORED); /* a lone surrogate */
    assert_string_equal(ui_input_text(&in), "héllo 你");
    ui_input_set(&in, "set");
    assert_int_equal(in.cursor, 3);
    ui_input_clear(&in);
    assert_string_equal(ui_input_text(&in), "");
    assert_int_equal(press(&in, UI_K_BACKSPACE, 0), UI_INPUT_IGNORED);
    ui_input_free(&in);
    ui_input_free(&in);
}

static void test_input_left_right(void **state)
{
    (void)state;
    ui_input in;
    ui_input_init(&in, true);
    ui_input_set(&in, "a你e\xCC\x81\xCC\x82" "b\x1b\xCC\x81");
    /* stops: 0 a 1 你 4 e+marks 9 b 10 ESC 11 orphan mark 13 */
    static const size_t stops[] = {0, 1, 4, 9, 10, 11, 13};
    for (int i = 6; i > 0; i--) {
        assert_int_equal(in.cursor, stops[i]);
        assert_int_equal(press(&in, UI_K_LEFT, 0), UI_INPUT_CHANGED);
    }
    assert_int_equal(in.cursor, 0);
    assert_int_equal(press(&in, UI_K_LEFT, 0), UI_INPUT_IGNORED);
    for (int i = 1; i <= 6; i++) {
        assert_int_equal(press(&in, UI_K_RIGHT, 0), UI_INPUT_CHANGED);
        assert_int_equal(in.cursor, stops[i]);
    }
    assert_int_equal(press(&in, UI_K_RIGHT, 0), UI_INPUT_IGNORED);
    /* Backspace takes a character with its marks. */
    in.cursor = 9;
    assert_int_equal(press(&in, UI_K_BACKSPACE, 0), UI_INPUT_CHANGED);
    assert_string_equal(ui_input_text(&in), "a你b\x1b\xCC\x81");
    assert_int_equal(in.cursor, 4);
    /* Invalid bytes are single steps. */
    ui_input_set(&in, "x\xE4\xBDy");
    press(&in, UI_K_LEFT, 0);
    assert_int_equal(in.cursor, 3);
    press(&in, UI_K_LEFT, 0);
    assert_int_equal(in.cursor, 2);
    press(&in, UI_K_LEFT, 0);
    assert_int_equal(in.cursor, 1);
    ui_input_free(&in);
}

static void test_input_kill(void **state)
{
    (void)state;
    ui_input in;
    ui_input_init(&in, true);
    ui_input_set(&in, "hello big  wörld  ");
    assert_int_equal(press(&in, 'w', UI_MOD_CTRL), UI_INPUT_CHANGED);
    assert_string_equal(ui_input_text(&in), "hello big  ");
    assert_int_equal(press(&in, 'w', UI_MOD_CTRL), UI_INPUT_CHANGED);
    assert_string_equal(ui_input_text(&in), "hello ");
    /* From the middle of a word: only the part before the cursor. */
    ui_input_set(&in, "one twothree");
    in.cursor = 7;
    press(&in, 'w', UI_MOD_CTRL);
    assert_string_equal(ui_input_text(&in), "one three");
    assert_int_equal(in.cursor, 4);
    press(&in, 'w', UI_MOD_CTRL);
    press(&in, 'w', UI_MOD_CTRL);
    assert_string_equal(ui_input_text(&in), "three");
    assert_int_equal(press(&in, 'w', UI_MOD_CTRL), UI_INPUT_IGNORED);

    /* Only spaces before the cursor: they go, back to the start. */
    ui_input_set(&in, "   ");
    assert_int_equal(press(&in, 'w', UI_MOD_CTRL), UI_INPUT_CHANGED);
    assert_string_equal(ui_input_text(&in), "");

    ui_input_set(&in, "abc\ndef ghi");
    in.cursor = 9; /* after "de" ... "def g" */
    assert_int_equal(press(&in, 'u', UI_MOD_CTRL), UI_INPUT_CHANGED);
    assert_string_equal(ui_input_text(&in), "abc\nhi");
    assert_int_equal(in.cursor, 4);
    assert_int_equal(press(&in, 'u', UI_MOD_CTRL), UI_INPUT_IGNORED);
    ui_input_free(&in);
}

static void test_input_home_end_updown(void **state)
{
    (void)state;
    ui_input in;
    ui_input_init(&in, true);
    ui_input_set(&in, "abcdef\nxy\n你好世界\n");
    /* offsets: line 0 [0,6) \n line 1 [7,9) \n line 2 [10,22) \n line 3 [23,23) */
    in.cursor = 4;
    assert_int_equal(press(&in, UI_K_END, 0), UI_INPUT_CHANGED);
    assert_int_equal(in.cursor, 6);
    assert_int_equal(press(&in, UI_K_END, 0), UI_INPUT_IGNORED);
    assert_int_equal(press(&in, UI_K_HOME, 0), UI_INPUT_CHANGED);
    assert_int_equal(in.cursor, 0);
    press(&in, 'e', UI_MOD_CTRL);
    assert_int_equal(in.cursor, 6);
    press(&in, 'a', UI_MOD_CTRL);
    assert_int_equal(in.cursor, 0);

    in.cursor = 5;                                    /* column 5 */
    assert_int_equal(press(&in, UI_K_DOWN, 0), UI_INPUT_CHANGED);
    assert_int_equal(in.cursor, 9);                   /* end of "xy" */
    press(&in, UI_K_DOWN, 0);                         /* column 2 of 你好世界 */
    assert_int_equal(in.cursor, 13);
    press(&in, UI_K_RIGHT, 0);                        /* column 4 */
    press(&in, UI_K_UP, 0);
    assert_int_equal(in.cursor, 9);
    in.cursor = 13;
    press(&in, UI_K_END, 0);
    press(&in, UI_K_DOWN, 0);                         /* the empty last line */
    assert_int_equal(in.cursor, 23);
    assert_int_equal(press(&in, UI_K_DOWN, 0), UI_INPUT_IGNORED); /* no history */
    press(&in, UI_K_UP, 0);
    assert_int_equal(in.cursor, 10);
    /* Column 3 lands before the wide character that covers it. */
    ui_input_set(&in, "abc\n你好");
    in.cursor = 3;
    press(&in, UI_K_DOWN, 0);
    assert_int_equal(in.cursor, 7);
    in.cursor = 0;
    assert_int_equal(press(&in, UI_K_UP, 0), UI_INPUT_IGNORED);
    ui_input_free(&in);
}

static void test_input_history(void **state)
{
    (void)state;
    ui_input in;
    ui_input_init(&in, true);
    type(&in, "first");
    ui_input_commit(&in);
    ui_input_commit(&in); /* empty: not remembered */
    type(&in, "l1\nl2");
    ui_input_commit(&in);
    assert_int_equal(in.n_history, 2);
    assert_int_equal(in.hist_pos, 2);
    assert_string_equal(ui_input_text(&in), "");

    type(&in, "draft");
    assert_int_equal(press(&in, UI_K_UP, 0), UI_INPUT_CHANGED);
    assert_string_equal(ui_input_text(&in), "l1\nl2");
    assert_int_equal(in.cursor, 5);
    assert_int_equal(in.hist_pos, 1);
    press(&in, UI_K_UP, 0); /* within the entry first */
    assert_string_equal(ui_input_text(&in), "l1\nl2");
    assert_int_equal(in.cursor, 2);
    press(&in, UI_K_UP, 0);
    assert_string_equal(ui_input_text(&in), "first");
    assert_int_equal(press(&in, UI_K_UP, 0), UI_INPUT_IGNORED); /* oldest */
    assert_string_equal(ui_input_text(&in), "first");
    press(&in, UI_K_DOWN, 0);
    assert_string_equal(ui_input_text(&in), "l1\nl2");
    press(&in, UI_K_DOWN, 0);
    assert_string_equal(ui_input_text(&in), "draft"); /* the draft comes back */
    assert_int_equal(in.hist_pos, 2);
    /* Text set from outside (an edit, a restored draft) ends browsing:
     * Down then keeps it instead of bringing back the old draft. */
    press(&in, UI_K_UP, 0);
    assert_string_equal(ui_input_text(&in), "l1\nl2");
    ui_input_set(&in, "set");
    assert_int_equal(press(&in, UI_K_DOWN, 0), UI_INPUT_IGNORED);
    assert_string_equal(ui_input_text(&in), "set");
    ui_input_set(&in, "draft");
    assert_null(in.draft);
    assert_int_equal(press(&in, UI_K_DOWN, 0), UI_INPUT_IGNORED);

    /* Submitting an edited entry adds it; the history itself is untouched. */
    press(&in, UI_K_UP, 0);
    press(&in, UI_K_UP, 0);
    press(&in, UI_K_UP, 0);
    type(&in, "!");
    ui_input_commit(&in);
    assert_int_equal(in.n_history, 3);
    assert_string_equal(in.history[0], "first");
    assert_string_equal(in.history[2], "first!");
    assert_null(in.draft);
    ui_input_free(&in);
}

static void test_input_newline_submit_paste(void **state)
{
    (void)state;
    ui_input in;
    ui_input_init(&in, true);
    type(&in, "a");
    assert_int_equal(press(&in, UI_K_ENTER, UI_MOD_ALT), UI_INPUT_CHANGED);
    assert_int_equal(press(&in, 'j', UI_MOD_CTRL), UI_INPUT_CHANGED);
    type(&in, "b");
    assert_string_equal(ui_input_text(&in), "a\n\nb");
    assert_int_equal(press(&in, UI_K_ENTER, 0), UI_INPUT_SUBMIT);
    assert_string_equal(ui_input_text(&in), "a\n\nb"); /* the screen takes it */
    ui_input_clear(&in);

    press(&in, UI_K_PASTE_BEGIN, 0);
    assert_true(in.pasting);
    type(&in, "x");
    assert_int_equal(press(&in, UI_K_ENTER, 0), UI_INPUT_CHANGED);
    assert_int_equal(press(&in, UI_K_TAB, 0), UI_INPUT_CHANGED);
    type(&in, "y");
    press(&in, UI_K_PASTE_END, 0);
    assert_false(in.pasting);
    assert_string_equal(ui_input_text(&in), "x\n\ty");
    assert_int_equal(press(&in, UI_K_ENTER, 0), UI_INPUT_SUBMIT);
    ui_input_free(&in);

    /* One-line prompts refuse newlines; a pasted one becomes a space. */
    ui_input_init(&in, false);
    type(&in, "tag");
    assert_int_equal(press(&in, UI_K_ENTER, UI_MOD_ALT), UI_INPUT_IGNORED);
    assert_int_equal(press(&in, 'j', UI_MOD_CTRL), UI_INPUT_IGNORED);
    press(&in, UI_K_PASTE_BEGIN, 0);
    press(&in, UI_K_ENTER, 0);
    type(&in, "two");
    press(&in, UI_K_PASTE_END, 0);
    assert_string_equal(ui_input_text(&in), "tag two");
    assert_int_equal(press(&in, UI_K_ENTER, 0), UI_INPUT_SUBMIT);
    ui_input_free(&in);
}

/* Render an editor into a fresh frame and compare with golden text and
 * the cursor position. */
static void assert_render(const ui_input *in, int fw, int fh, int x, int y, int w, int h,
                          const char *want, int cx, int cy)
{
    ui_frame f = {0};
    frame_init(&f, fw, fh);
    frame_fill(&f, 0, 0, fw, fh, '#', UI_S_NORMAL, 0);
    ui_input_render(in, &f, x, y, w, h, true, "Type a message");
    assert_frame(&f, want);
    assert_true(f.cursor_visible);
    assert_int_equal(f.cur_x, cx);
    assert_int_equal(f.cur_y, cy);
    frame_free(&f);
}

static void test_input_render(void **state)
{
    (void)state;
    ui_input in;
    ui_input_init(&in, true);

    /* Empty: the hint, muted, cursor at the start. */
    assert_render(&in, 10, 3, 1, 1, 8, 1, "##########\n#Type a m#\n##########\n", 1, 1);
    ui_frame f = {0};
    frame_init(&f, 10, 1);
    ui_input_render(&in, &f, 0, 0, 10, 1, false, "hint");
    assert_false(f.cursor_visible);
    assert_styles(&f, 0, "bbbbaaaaaa");
    frame_free(&f);

    /* Wrapped at spaces inside the rectangle, cursor after the text. */
    ui_input_set(&in, "hello world\nsecond");
    assert_render(&in, 10, 5, 1, 1, 8, 3,
                  "##########\n#hello   #\n#world   #\n#second  #\n##########\n", 7, 3);
    in.cursor = 5; /* before the dropped space: end of "hello" */
    assert_render(&in, 10, 5, 1, 1, 8, 3,
                  "##########\n#hello   #\n#world   #\n#second  #\n##########\n", 6, 1);
    in.cursor = 6; /* start of "world" */
    assert_render(&in, 10, 5, 1, 1, 8, 3,
                  "##########\n#hello   #\n#world   #\n#second  #\n##########\n", 1, 2);

    /* A line that exactly fills the width: the cursor goes below it. */
    ui_input_set(&in, "abcd");
    assert_render(&in, 4, 2, 0, 0, 4, 2, "abcd\n\n", 0, 1);
    /* ... and between two halves of a broken word, at the second. */
    ui_input_set(&in, "abcdefgh");
    in.cursor = 4;
    assert_render(&in, 4, 2, 0, 0, 4, 2, "abcd\nefgh\n", 0, 1);
    /* After a trailing newline: on the empty last line. */
    ui_input_set(&in, "ab\n");
    assert_render(&in, 4, 2, 0, 0, 4, 2, "ab\n\n", 0, 1);
    /* Wide characters and marks count columns, not bytes. */
    ui_input_set(&in, "你e\xCC\x81x");
    in.cursor = 6;
    assert_render(&in, 6, 1, 0, 0, 6, 1, "你e\xCC\x81x\n", 3, 0);

    /* More lines than fit: a count on top, the last lines below it. */
    ui_input_set(&in, "l1\nl2\nl3\nl4\nl5\nl6");
    assert_render(&in, 20, 3, 0, 0, 20, 3, "\xE2\x80\xA6 4 lines above\nl5\nl6\n", 2, 2);
    /* The cursor scrolled up: its line shows at the top. */
    for (int i = 0; i < 4; i++)
        press(&in, UI_K_UP, 0);
    assert_int_equal(in.cursor, 5); /* end of l2 */
    assert_render(&in, 30, 3, 0, 0, 30, 3, "\xE2\x80\xA6 1 lines above, 3 below\nl2\nl3\n", 2, 1);
    /* On the first line: nothing above, the count says what is below. */
    press(&in, UI_K_UP, 0);
    assert_render(&in, 30, 3, 0, 0, 30, 3, "\xE2\x80\xA6 4 lines below\nl1\nl2\n", 2, 1);
    /* Two rows still spend one on the count. */
    assert_render(&in, 30, 2, 0, 0, 30, 2, "\xE2\x80\xA6 5 lines below\nl1\n", 2, 1);
    press(&in, UI_K_DOWN, 0);
    assert_int_equal(in.cursor, 5);
    /* One row: no count, just the cursor's line. */
    assert_render(&in, 6, 1, 0, 0, 6, 1, "l2\n", 2, 0);

    /* Control characters in the text are drawn escaped. */
    ui_input_set(&in, "a\x1b[0m");
    assert_render(&in, 8, 1, 0, 0, 8, 1, "a^[[0m\n", 6, 0);
    ui_input_free(&in);
}

static void test_input_big_paste(void **state)
{
    (void)state;
    ui_input in;
    ui_input_init(&in, true);
    double t0 = util_now();
    press(&in, UI_K_PASTE_BEGIN, 0);
    static const char *const words[] = {"lorem ", "ipsum ", "café ", "你好 ", "dolor ", "sit "};
    size_t bytes = 0, i = 0;
    uint64_t seed = 3;
    while (bytes < (1u << 20)) {
        const char *w = words[rng_next(&seed) % 6];
        type(&in, w);
        bytes += strlen(w);
        if (++i % 23 == 0) {
            press(&in, UI_K_ENTER, 0);
            bytes++;
        }
    }
    press(&in, UI_K_PASTE_END, 0);
    type(&in, "END");
    assert_int_equal(in.text.len, bytes + 3);
    ui_frame f = {0};
    frame_init(&f, 80, 5);
    ui_input_render(&in, &f, 0, 0, 80, 5, true, NULL);
    double dt = util_now() - t0;
    char *text = frame_to_text(&f);
    assert_non_null(strstr(text, "lines above"));
    assert_non_null(strstr(text, "END\n"));
    assert_int_equal(f.cur_y, 4);
    free(text);
    /* Moving to the start and rendering again stays linear. */
    size_t ups = 0;
    while (press(&in, UI_K_UP, 0) == UI_INPUT_CHANGED)
        ups++;
    assert_true(ups > 1000);
    assert_true(in.cursor < 80); /* on the first line */
    assert_int_equal(press(&in, UI_K_HOME, 0), UI_INPUT_CHANGED);
    assert_int_equal(in.cursor, 0);
    ui_input_render(&in, &f, 0, 0, 80, 5, true, NULL);
    assert_int_equal(f.cur_y, 1);
    assert_int_equal(f.cur_x, 0);
    dt = util_now() - t0;
    printf("1 MiB paste + renders: %.3f s\n", dt);
    assert_true(dt < 1.0); /* a sanity bound (0.1 s under ASan here), not a benchmark */
    frame_free(&f);
    ui_input_free(&in);
}

int main(void)
{
    if (!setlocale(LC_ALL, "C.UTF-8"))
        return test_skip_suite("test_ui_frame: the C.UTF-8 locale is not available (make deps provides it)");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_clip),
        cmocka_unit_test(test_cjk_clip),
        cmocka_unit_test(test_emoji),
        cmocka_unit_test(test_combining),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_tabs),
        cmocka_unit_test(test_overwrite_wide_half),
        cmocka_unit_test(test_fill_style_cursor_printf),
        cmocka_unit_test(test_box),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_wrap_fit_random),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_input_typing),
        cmocka_unit_test(test_input_left_right),
        cmocka_unit_test(test_input_kill),
        cmocka_unit_test(test_input_home_end_updown),
        cmocka_unit_test(test_input_history),
        cmocka_unit_test(test_input_newline_submit_paste),
        cmocka_unit_test(test_input_render),
        cmocka_unit_test(test_input_big_paste),
    };
    return test_exit(cmocka_run_group_tests_name("ui_frame", tests, NULL, NULL));
}
