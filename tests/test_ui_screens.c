/*
 * test_ui_screens.c — the Chat and Review screens rendered headlessly:
 * golden frames at 100x30 and 60x16 (CJK, emoji, long titles, escapes,
 * placeholders, a streaming turn, a note), styles of placeholder cells,
 * nothing drawn outside the rectangle at any size, and the keys.
 *
 * The golden frames were generated once by this suite (run it with
 * FRONTDESK_GOLDEN_PRINT=1 to print them as C strings; such a run always
 * fails, see tests/testutil.h), checked by eye, and frozen here.
 */
#include "tests/testutil.h"
#include "tests/ui_check.h"

#include "ui/chat.h"
#include "ui/frame.h"
#include "ui/review.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Fixtures ------------------------------------------------------------------ */

static const ui_conv_row CONVS[] = {
    {1, "退款问题 — 订单 12345", "16:18", true, false},
    {2, "Delivery late 🚚 again", "15:02", false, false},
    {3, "A very long title about a customer who cannot log in after resetting the password twice",
     "Nov 23", false, true},
    {4, "", "Nov 22", false, false},
    {5, "Billing \x1b[31mred\x1b[0m", "Nov 20", true, true},
};

static const char REPLY_SLOTS[] = "I'm sorry to hear that. Please confirm your {{Order Number}} and the "
                                  "{{Email Address}} you used, and I will start the refund right away.";

static const ui_turn TURNS[] = {
    {10, UI_ROLE_SYSTEM, "You are a polite support agent for ACME.", NULL, false, 0},
    {11, UI_ROLE_CUSTOMER, "Hello, I want a refund for order 12345. 我想退款，谢谢。", NULL, false, 0},
    {12, UI_ROLE_AGENT, REPLY_SLOTS, "SmolLM2 · 41 tok/s · 1.2 s", false, 1},
    {0, UI_ROLE_NOTE, "2 earlier turns left out to fit the context", NULL, false, 0},
    {13, UI_ROLE_CUSTOMER, "Here it is: \x1b]0;pwned\x07 and \x1b[2J done", NULL, false, 0},
    {14, UI_ROLE_AGENT, "Thank you! Let me check", NULL, true, 0},
};

#define N_CONVS (sizeof CONVS / sizeof CONVS[0])
#define N_TURNS (sizeof TURNS / sizeof TURNS[0])

static void chat_fixture(chat_view *v)
{
    chat_init(v);
    v->convs = CONVS;
    v->n_convs = N_CONVS;
    v->turns = TURNS;
    v->n_turns = N_TURNS;
    v->conv_id = 1;
    v->generating = true;
    chat_clamp(v);
}

static const ui_turn THREAD[] = {
    {20, UI_ROLE_SYSTEM, "You are a polite support agent for ACME.", NULL, false, 0},
    {21, UI_ROLE_CUSTOMER, "My parcel 📦 never arrived. 我的包裹没有到。", NULL, false, 0},
    {22, UI_ROLE_AGENT, "I'm sorry about that. Could you give me the tracking number?", NULL, false, 0},
    {23, UI_ROLE_CUSTOMER, "It is \x1b[2J 1Z999 — and please hurry.", NULL, false, 0},
    {24, UI_ROLE_AGENT,
     "Thank you. I have opened a claim for parcel 1Z999; you will get an e-mail at {{Email Address}} "
     "within {{Number of Days}} days. Is there anything else I can help with?",
     NULL, false, 0},
};

static void review_fixture(review_view *v)
{
    review_init(v);
    v->context = THREAD;
    v->n_context = sizeof THREAD / sizeof THREAD[0];
    v->conv_title = "#7 Delivery late 🚚 again";
    v->model = "SmolLM2-135M · Q8_0 · sha 1a2b3c4d5e6f";
    v->sampling = "temp 0.8 · top-k 40 · top-p 0.95 · seed 42";
    v->figures = "1.2 s · first token 180 ms · 41 tok/s";
    v->my_rating = "👍 4 #polite “short”";
    v->others = NULL;
    v->pos = 2;
    v->count = 12;
    v->unrated = 9;
    v->total = 40;
    v->filters = "unrated · all models · any date";
    v->flash = "saved: score 4";
}

/* ---- Helpers --------------------------------------------------------------------- */

static char *chat_text(const chat_view *v, ui_frame *f, int w, int h)
{
    frame_init(f, w, h);
    chat_render(v, f, 0, 0, w, h);
    return frame_to_text(f);
}

static char *review_text(const review_view *v, ui_frame *f, int w, int h)
{
    frame_init(f, w, h);
    review_render(v, f, 0, 0, w, h);
    return frame_to_text(f);
}

/* ---- Golden frames: Chat -------------------------------------------------------- */

static const char CHAT_100x30[] =
    " Conversations 5            │ System\n"
    "▸退款问题 — 订单 1… ✓ 16:18 │   You are a polite support agent for ACME.\n"
    " Delivery late 🚚 ag… 15:02 │\n"
    " A very long… closed Nov 23 │ Customer\n"
    " (new conversation)  Nov 22 │   Hello, I want a refund for order 12345. 我想退款，谢谢。\n"
    " Billing …  closed ✓ Nov 20 │\n"
    "                            │ Agent 👍\n"
    "                            │   I'm sorry to hear that. Please confirm your {{Order Number}} and\n"
    "                            │   the {{Email Address}} you used, and I will start the refund right\n"
    "                            │   away.\n"
    "                            │   SmolLM2 · 41 tok/s · 1.2 s\n"
    "                            │\n"
    "                            │ — 2 earlier turns left out to fit the context —\n"
    "                            │\n"
    "                            │ Customer\n"
    "                            │   Here it is: ^[]0;pwned^G and ^[[2J done\n"
    "                            │\n"
    "                            │ Agent\n"
    "                            │   Thank you! Let me check▌\n"
    "                            │\n"
    "                            │\n"
    "                            │\n"
    "                            │\n"
    "                            │\n"
    "                            │\n"
    "                            │\n"
    "                            │───────────────────────────────────────────────────────────────────────\n"
    "                            │ Type the customer's message — Enter sends, Alt-Enter newline\n"
    "                            │\n"
    "                            │\n";

static const char CHAT_60x16[] =
    " 退款问题 — 订单 12345\n"
    "   Number}} and the {{Email Address}} you used, and I will\n"
    "   start the refund right away.\n"
    "   SmolLM2 · 41 tok/s · 1.2 s\n"
    "\n"
    " — 2 earlier turns left out to fit the context —\n"
    "\n"
    " Customer\n"
    "   Here it is: ^[]0;pwned^G and ^[[2J done\n"
    "\n"
    " Agent\n"
    "   Thank you! Let me check▌\n"
    "────────────────────────────────────────────────────────────\n"
    " Type the customer's message — Enter sends\n"
    "\n"
    "\n";

static const char CHAT_60x16_LIST[] =
    " Conversations 5\n"
    " 退款问题 — 订单 12345                              ✓ 16:18\n"
    " Delivery late 🚚 again                               15:02\n"
    " A very long title about a customer who cann… closed Nov 23\n"
    " (new conversation)                                  Nov 22\n"
    " Billing ^[[31mred^[[0m                     closed ✓ Nov 20\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "────────────────────────────────────────────────────────────\n"
    " Type the customer's message — Enter sends\n"
    "\n"
    "\n";

static void test_chat_golden_100x30(void **state)
{
    (void)state;
    chat_view v;
    chat_fixture(&v);
    ui_frame f = {0};
    char *t = chat_text(&v, &f, 100, 30);
    test_assert_no_controls(t);
    assert_non_null(strstr(t, "^[]0;pwned^G")); /* OSC title: escaped, never raw */
    assert_non_null(strstr(t, "^[[2J"));
    test_expect_golden("CHAT_100x30", t, CHAT_100x30);
    frame_free(&f);
    chat_free(&v);
}

static void test_chat_golden_60x16(void **state)
{
    (void)state;
    chat_view v;
    chat_fixture(&v);
    ui_frame f = {0};
    char *t = chat_text(&v, &f, 60, 16);
    test_assert_no_controls(t);
    test_expect_golden("CHAT_60x16", t, CHAT_60x16);
    /* Narrow: the list replaces the transcript while it has the focus. */
    v.focus = CHAT_FOCUS_LIST;
    t = chat_text(&v, &f, 60, 16);
    test_assert_no_controls(t);
    test_expect_golden("CHAT_60x16_LIST", t, CHAT_60x16_LIST);
    frame_free(&f);
    chat_free(&v);
}

/* ---- Golden frames: Review ------------------------------------------------------ */

static const char REVIEW_100x30[] =
    "Review — 9 of 40 unrated                                             unrated · all models · any date\n"
    "#7 Delivery late 🚚 again\n"
    "System\n"
    "  You are a polite support agent for ACME.\n"
    "\n"
    "Customer\n"
    "  My parcel 📦 never arrived. 我的包裹没有到。\n"
    "\n"
    "Agent\n"
    "  I'm sorry about that. Could you give me the tracking number?\n"
    "\n"
    "Customer\n"
    "  It is ^[[2J 1Z999 — and please hurry.\n"
    "\n"
    "┌─ Reply ──────────────────────────────────────────────────────────────────────────────────────────┐\n"
    "│ Thank you. I have opened a claim for parcel 1Z999; you will get an e-mail at {{Email Address}}   │\n"
    "│ within {{Number of Days}} days. Is there anything else I can help with?                          │\n"
    "└──────────────────────────────────────────────────────────────────────────────────────────────────┘\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "model       SmolLM2-135M · Q8_0 · sha 1a2b3c4d5e6f\n"
    "sampling    temp 0.8 · top-k 40 · top-p 0.95 · seed 42\n"
    "figures     1.2 s · first token 180 ms · 41 tok/s\n"
    "your rating 👍 4 #polite “short”\n"
    "others      none\n"
    "reply 3 of 12   saved: score 4\n";

static const char REVIEW_60x16[] =
    "Review — 9 of 40 unrated     unrated · all models · any date\n"
    "#7 Delivery late 🚚 again             ↑ 10 more lines (PgUp)\n"
    "Customer\n"
    "  It is ^[[2J 1Z999 — and please hurry.\n"
    "\n"
    "┌─ Reply ──────────────────────────────────────────────────┐\n"
    "│ Thank you. I have opened a claim for parcel 1Z999; you   │\n"
    "│ will get an e-mail at {{Email Address}} within {{Number  │\n"
    "│ of Days}} days. Is there anything else I can help with?  │\n"
    "└──────────────────────────────────────────────────────────┘\n"
    "model       SmolLM2-135M · Q8_0 · sha 1a2b3c4d5e6f\n"
    "sampling    temp 0.8 · top-k 40 · top-p 0.95 · seed 42\n"
    "figures     1.2 s · first token 180 ms · 41 tok/s\n"
    "your rating 👍 4 #polite “short”\n"
    "others      none\n"
    "reply 3 of 12   saved: score 4\n";

static const char REVIEW_EMPTY_60x16[] =
    "Review — 0 of 40 unrated      low-rated · all models · today\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "Nothing to review with these filters — f changes the filter\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n";

static void test_review_golden(void **state)
{
    (void)state;
    review_view v;
    review_fixture(&v);
    ui_frame f = {0};
    char *t = review_text(&v, &f, 100, 30);
    test_assert_no_controls(t);
    assert_non_null(strstr(t, "^[[2J"));
    test_expect_golden("REVIEW_100x30", t, REVIEW_100x30);
    t = review_text(&v, &f, 60, 16);
    test_assert_no_controls(t);
    test_expect_golden("REVIEW_60x16", t, REVIEW_60x16);
    review_view e;
    review_init(&e);
    e.empty = true;
    e.unrated = 0;
    e.total = 40;
    e.filters = "low-rated · all models · today";
    t = review_text(&e, &f, 60, 16);
    test_expect_golden("REVIEW_EMPTY_60x16", t, REVIEW_EMPTY_60x16);
    frame_free(&f);
}

/* ---- Styles ---------------------------------------------------------------------- */

static void test_chat_placeholder_styles(void **state)
{
    (void)state;
    chat_view v;
    chat_fixture(&v);
    ui_frame f = {0};
    char *t = chat_text(&v, &f, 100, 30);
    int y = tu_row_of(t, "{{Order Number}}", NULL);
    assert_true(y >= 0);
    int x = tu_col_of(&f, y, "{{Order Number}}");
    assert_true(x > 0);
    char *st = frame_row_styles(&f, y);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(st[x + i], 'a' + UI_S_PLACEHOLDER);
        assert_int_equal(tu_cell(&f, x + i, y)->attr, UI_A_UNDERLINE);
    }
    assert_int_equal(st[x - 1], 'a' + UI_S_AGENT); /* the space before */
    assert_int_equal(st[x + 16], 'a' + UI_S_AGENT);
    assert_int_equal(tu_cell(&f, x + 16, y)->attr, 0);
    free(st);
    /* The escapes in the customer's text are drawn UI_S_ESCAPED. */
    int ye = tu_row_of(t, "^[]0;pwned", NULL);
    assert_true(ye >= 0);
    int xe = tu_col_of(&f, ye, "^[]0;pwned");
    assert_int_equal(tu_cell(&f, xe, ye)->style, UI_S_ESCAPED);
    assert_int_equal(tu_cell(&f, xe + 4, ye)->style, UI_S_CUSTOMER); /* "0;pwned" is text */
    free(t);
    frame_free(&f);
    chat_free(&v);
}

static void test_draw_text_split_slot(void **state)
{
    (void)state;
    ui_frame f = {0};
    frame_init(&f, 12, 6);
    const char *s = "Give {{Order Number}} now";
    /* Width 10: "Give" / "{{Order" / "Number}}" / "now". */
    assert_int_equal(chat_draw_text(NULL, 0, 0, 10, 0, 0, s, UI_S_AGENT, true), 4);
    assert_int_equal(chat_draw_text(&f, 1, 1, 10, 2, 1, s, UI_S_AGENT, true), 4);
    char *t = frame_to_text(&f);
    assert_string_equal(t, "\n {{Order\n Number}}\n\n\n\n");
    free(t);
    for (int x = 1; x < 9; x++)
        assert_int_equal(tu_cell(&f, x, 2)->style, UI_S_PLACEHOLDER);
    for (int x = 1; x < 8; x++)
        assert_int_equal(tu_cell(&f, x, 1)->style, UI_S_PLACEHOLDER);
    /* Without slots: plain; "{{}}" and an unclosed "{{" are no slots. */
    frame_clear(&f);
    chat_draw_text(&f, 0, 0, 12, 6, 0, "a {{}} b {{c", UI_S_AGENT, true);
    char *st = frame_row_styles(&f, 0);
    assert_string_equal(st, "eeeeeeeeeeee");
    free(st);
    /* One brace opens nothing: "{ab}}" is plain. */
    frame_clear(&f);
    chat_draw_text(&f, 0, 0, 12, 6, 0, "x {ab}} y", UI_S_AGENT, true);
    st = frame_row_styles(&f, 0);
    assert_string_equal(st, "eeeeeeeeeaaa");
    free(st);
    frame_clear(&f);
    chat_draw_text(&f, 0, 0, 12, 6, 0, "{{{x}}}", UI_S_AGENT, true);
    st = frame_row_styles(&f, 0);
    assert_string_equal(st, "egggggeaaaaa"); /* "{" then "{{x}}" then "}" */
    free(st);
    frame_clear(&f);
    chat_draw_text(&f, 0, 0, 12, 6, 0, "{{x}}", UI_S_CUSTOMER, false);
    st = frame_row_styles(&f, 0);
    assert_string_equal(st, "dddddaaaaaaa");
    free(st);
    frame_free(&f);
}

static void test_chat_list_styles(void **state)
{
    (void)state;
    chat_view v;
    chat_fixture(&v);
    v.conv_sel = 1;
    ui_frame f = {0};
    char *t = chat_text(&v, &f, 100, 30);
    int y = tu_row_of(t, "Delivery late", NULL);
    assert_int_equal(y, 2);
    /* Not focused: bold with a marker, no reverse. */
    assert_int_equal(tu_cell(&f, 0, y)->ch, 0x25B8);
    assert_int_equal(tu_cell(&f, 1, y)->attr, UI_A_BOLD);
    assert_int_not_equal(tu_cell(&f, 1, y)->style, UI_S_SELECTED);
    free(t);
    v.focus = CHAT_FOCUS_LIST;
    t = chat_text(&v, &f, 100, 30);
    char *st = frame_row_styles(&f, y);
    for (int x = 0; x < 28; x++)
        assert_int_equal(st[x], 'a' + UI_S_SELECTED);
    assert_int_equal(st[28], 'a' + UI_S_BORDER);
    free(st);
    free(t);
    frame_free(&f);
    chat_free(&v);
}

/* ---- Containment: nothing outside the rectangle, at any size ------------------------- */

static const char CHAT_20x5[] =
    "   Thank you! Let\n"
    "   me check▌\n"
    "────────────────────\n"
    " Customer's message\n"
    "\n";

static const char REVIEW_20x5[] =
    "Review — 9 of 40 unr\n"
    "#7 Delivery late 🚚\n"
    "┌─ Reply ──────────┐\n"
    "│ Thank you. I     │\n"
    "│ have opened a    │\n";

static void test_containment(void **state)
{
    (void)state;
    static const int sizes[][2] = {{100, 30}, {60, 16}, {20, 5}, {69, 9}, {70, 9}, {5, 3}, {1, 1},
                                   {3, 2},    {0, 0},   {2, 40}, {18, 4}};
    chat_view v;
    chat_fixture(&v);
    review_view r;
    review_fixture(&r);
    ui_frame f = {0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int w = sizes[i][0], h = sizes[i][1];
        for (int focus = 0; focus < 3; focus++) {
            frame_init(&f, w + 10, h + 6);
            v.focus = (chat_focus)focus;
            v.filtering = focus == 2;
            chat_render(&v, &f, 4, 3, w, h);
            tu_assert_outside_blank(&f, 4, 3, w, h);
            char *t = frame_to_text(&f);
            test_assert_no_controls(t);
            free(t);
        }
        for (int empty = 0; empty < 2; empty++) {
            frame_init(&f, w + 10, h + 6);
            r.empty = empty;
            r.scroll = empty ? 0 : 3;
            review_render(&r, &f, 4, 3, w, h);
            tu_assert_outside_blank(&f, 4, 3, w, h);
        }
    }
    /* The tiny 20x5 keeps the newest text and the input. */
    v.focus = CHAT_FOCUS_INPUT;
    v.filtering = false;
    test_expect_golden("CHAT_20x5", chat_text(&v, &f, 20, 5), CHAT_20x5);
    r.empty = false;
    r.scroll = 0;
    test_expect_golden("REVIEW_20x5", review_text(&r, &f, 20, 5), REVIEW_20x5);
    frame_free(&f);
    chat_free(&v);
}

/* ---- Chat: transcript states ---------------------------------------------------- */

static void test_chat_empty_and_banner(void **state)
{
    (void)state;
    chat_view v;
    chat_init(&v);
    ui_frame f = {0};
    char *t = chat_text(&v, &f, 100, 30);
    int col;
    int y = tu_row_of(t, "New conversation — type the customer's first message below", &col);
    assert_true(y > 5 && y < 20); /* about the middle of the transcript */
    assert_non_null(strstr(t, "No conversations yet"));
    free(t);
    v.editing = "message 42";
    t = chat_text(&v, &f, 100, 30);
    assert_non_null(strstr(t, "Editing message 42 — Enter resends, Esc cancels"));
    free(t);
    frame_free(&f);
    chat_free(&v);
}

static void test_chat_selection_and_scroll(void **state)
{
    (void)state;
    chat_view v;
    chat_fixture(&v);
    ui_frame f = {0};
    /* Following: the newest text at the bottom, no marker. */
    char *t = chat_text(&v, &f, 60, 16);
    assert_null(strstr(t, "▶"));
    assert_non_null(strstr(t, "Let me check▌"));
    free(t);
    /* Transcript focus marks the selected (last) turn. */
    assert_int_equal(chat_key(&v, K(UI_K_TAB)), CHAT_NONE);
    assert_int_equal(v.focus, CHAT_FOCUS_TRANSCRIPT);
    t = chat_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "▶ Agent"));
    free(t);
    /* Up to the first turn: its header comes into view, at the top. */
    for (int i = 0; i < 10; i++)
        chat_key(&v, K('k'));
    assert_int_equal(v.turn_sel, 0);
    assert_false(v.turn_follow);
    t = chat_text(&v, &f, 60, 16);
    assert_int_equal(tu_row_of(t, "▶ System", NULL), 1); /* under the title row */
    assert_null(strstr(t, "Let me check"));
    assert_non_null(strstr(t, "↓ "));
    free(t);
    /* With a turn selected, scrolling moves from where it is in view
     * (no jump back to the bottom): the agent reply's header at row 1,
     * then three rows lower after a wheel step up. */
    chat_key(&v, K('j'));
    chat_key(&v, K('j'));
    assert_int_equal(v.turn_sel, 2);
    t = chat_text(&v, &f, 60, 16);
    assert_int_equal(tu_row_of(t, "▶ Agent", NULL), 1);
    free(t);
    chat_key(&v, K(UI_K_WHEEL_UP));
    assert_int_equal(v.scroll, 3);
    t = chat_text(&v, &f, 60, 16);
    assert_int_equal(tu_row_of(t, "▶ Agent", NULL), 4);
    free(t);
    chat_key(&v, K(UI_K_PGDN));
    assert_int_equal(v.scroll, -7); /* below the selection, towards the newest */
    t = chat_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "Let me check▌"));
    free(t);
    /* Down to the last turn: following again. */
    for (int i = 0; i < 10; i++)
        chat_key(&v, K(UI_K_DOWN));
    assert_int_equal(v.turn_sel, N_TURNS - 1);
    assert_true(v.turn_follow);
    /* PgUp scrolls up from the bottom; PgDn comes back; never below 0. */
    chat_key(&v, K(UI_K_PGUP));
    assert_int_equal(v.scroll, 10);
    t = chat_text(&v, &f, 60, 16);
    assert_null(strstr(t, "Let me check"));
    assert_non_null(strstr(t, "more lines"));
    free(t);
    chat_key(&v, K(UI_K_WHEEL_DOWN));
    assert_int_equal(v.scroll, 7);
    chat_key(&v, K(UI_K_PGDN));
    assert_int_equal(v.scroll, 0);
    chat_key(&v, K(UI_K_PGDN));
    assert_int_equal(v.scroll, 0);
    /* Scrolling up is bounded by the transcript. */
    for (int i = 0; i < 100; i++)
        chat_key(&v, K(UI_K_PGUP));
    assert_true(v.scroll > 10 && v.scroll < 60);
    t = chat_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "System")); /* the top is shown */
    free(t);
    frame_free(&f);
    chat_free(&v);
}

/* ---- Chat: keys ---------------------------------------------------------------------- */

static void type(chat_view *v, const char *s)
{
    for (; *s; s++)
        assert_int_equal(chat_key(v, K((unsigned char)*s)), CHAT_NONE);
}

static void test_chat_keys_input(void **state)
{
    (void)state;
    chat_view v;
    chat_fixture(&v);
    v.generating = false;
    assert_true(chat_typing(&v));
    /* q, ? and command letters are text in the input. */
    type(&v, "q?nr+-/x");
    assert_string_equal(ui_input_text(&v.input), "q?nr+-/x");
    assert_false(v.filtering);
    ui_input_clear(&v.input);
    /* Enter with nothing (or blanks) sends nothing. */
    assert_int_equal(chat_key(&v, K(UI_K_ENTER)), CHAT_NONE);
    type(&v, "  ");
    assert_int_equal(chat_key(&v, K(UI_K_ENTER)), CHAT_NONE);
    ui_input_clear(&v.input);
    type(&v, "Where is it?");
    v.turn_follow = false;
    v.scroll = 5;
    assert_int_equal(chat_key(&v, K(UI_K_ENTER)), CHAT_SEND);
    assert_string_equal(ui_input_text(&v.input), "Where is it?"); /* app/ commits */
    assert_true(v.turn_follow);
    assert_int_equal(v.scroll, 0);
    /* Alt-Enter is a newline, not a send. */
    assert_int_equal(chat_key(&v, ALT(UI_K_ENTER)), CHAT_NONE);
    assert_string_equal(ui_input_text(&v.input), "Where is it?\n");
    ui_input_clear(&v.input);
    /* Alt shortcuts work from the input. */
    assert_int_equal(chat_key(&v, ALT('n')), CHAT_NEW);
    assert_int_equal(chat_key(&v, ALT('r')), CHAT_REGENERATE);
    assert_int_equal(chat_key(&v, ALT('+')), CHAT_THUMB_UP);
    assert_int_equal(chat_key(&v, ALT('-')), CHAT_THUMB_DOWN);
    assert_int_equal(chat_key(&v, ALT('R')), CHAT_RENAME);
    assert_int_equal(chat_key(&v, ALT('x')), CHAT_TOGGLE_CLOSED);
    assert_int_equal(chat_key(&v, ALT('y')), CHAT_COPY);
    /* Alt-e while following edits the newest customer message. */
    assert_int_equal(chat_key(&v, ALT('e')), CHAT_EDIT);
    assert_int_equal(v.turn_sel, 4);
    assert_int_equal(v.turns[v.turn_sel].role, UI_ROLE_CUSTOMER);
    assert_false(v.turn_follow);
    assert_string_equal(ui_input_text(&v.input), "");
    /* Ctrl keys edit: Ctrl-W deletes a word. */
    type(&v, "one two");
    assert_int_equal(chat_key(&v, CTRL('w')), CHAT_NONE);
    assert_string_equal(ui_input_text(&v.input), "one ");
    chat_free(&v);
}

static void test_chat_keys_focus_and_esc(void **state)
{
    (void)state;
    chat_view v;
    chat_fixture(&v);
    /* Tab cycles input → transcript → list → input; Shift-Tab back. */
    chat_key(&v, K(UI_K_TAB));
    assert_int_equal(v.focus, CHAT_FOCUS_TRANSCRIPT);
    assert_false(chat_typing(&v));
    chat_key(&v, K(UI_K_TAB));
    assert_int_equal(v.focus, CHAT_FOCUS_LIST);
    chat_key(&v, K(UI_K_TAB));
    assert_int_equal(v.focus, CHAT_FOCUS_INPUT);
    chat_key(&v, K(UI_K_BTAB));
    assert_int_equal(v.focus, CHAT_FOCUS_LIST);
    chat_key(&v, K(UI_K_BTAB));
    assert_int_equal(v.focus, CHAT_FOCUS_TRANSCRIPT);
    /* Plain letters act outside the input. */
    assert_int_equal(chat_key(&v, K('n')), CHAT_NEW);
    assert_int_equal(chat_key(&v, K('r')), CHAT_REGENERATE);
    assert_int_equal(chat_key(&v, K('+')), CHAT_THUMB_UP);
    assert_int_equal(chat_key(&v, K('-')), CHAT_THUMB_DOWN);
    assert_int_equal(chat_key(&v, K('y')), CHAT_COPY);
    assert_int_equal(chat_key(&v, K('x')), CHAT_TOGGLE_CLOSED);
    assert_int_equal(chat_key(&v, K('R')), CHAT_RENAME);
    assert_int_equal(chat_key(&v, K('q')), CHAT_NONE); /* the shell's */
    assert_string_equal(ui_input_text(&v.input), "");
    /* Esc: cancel the reply first, then the edit, then back to the input. */
    assert_int_equal(chat_key(&v, K(UI_K_ESC)), CHAT_CANCEL);
    v.generating = false;
    v.editing = "message 13";
    assert_int_equal(chat_key(&v, K(UI_K_ESC)), CHAT_CANCEL_EDIT);
    v.editing = NULL;
    assert_int_equal(chat_key(&v, K(UI_K_ESC)), CHAT_NONE);
    assert_int_equal(v.focus, CHAT_FOCUS_INPUT);
    /* Esc while generating cancels from the input too. */
    v.generating = true;
    assert_int_equal(chat_key(&v, K(UI_K_ESC)), CHAT_CANCEL);
    chat_free(&v);
}

static void test_chat_keys_list(void **state)
{
    (void)state;
    chat_view v;
    chat_fixture(&v);
    v.focus = CHAT_FOCUS_LIST;
    assert_int_equal(chat_key(&v, K(UI_K_DOWN)), CHAT_OPEN);
    assert_int_equal(v.conv_sel, 1);
    assert_int_equal(chat_key(&v, K('j')), CHAT_OPEN);
    assert_int_equal(v.conv_sel, 2);
    assert_int_equal(chat_key(&v, K('k')), CHAT_OPEN);
    assert_int_equal(v.conv_sel, 1);
    assert_int_equal(chat_key(&v, K(UI_K_UP)), CHAT_OPEN);
    assert_int_equal(chat_key(&v, K(UI_K_UP)), CHAT_NONE); /* already the first */
    assert_int_equal(v.conv_sel, 0);
    assert_int_equal(chat_key(&v, K(UI_K_END)), CHAT_OPEN);
    assert_int_equal(v.conv_sel, N_CONVS - 1);
    assert_int_equal(chat_key(&v, K(UI_K_DOWN)), CHAT_NONE);
    /* Enter: to the input (opening the selection when it is not open). */
    assert_int_equal(chat_key(&v, K(UI_K_ENTER)), CHAT_OPEN);
    assert_int_equal(v.focus, CHAT_FOCUS_INPUT);
    v.focus = CHAT_FOCUS_LIST;
    v.conv_sel = 0;
    assert_int_equal(chat_key(&v, K(UI_K_ENTER)), CHAT_NONE);
    assert_int_equal(v.focus, CHAT_FOCUS_INPUT);
    chat_free(&v);
}

static void test_chat_keys_filter(void **state)
{
    (void)state;
    chat_view v;
    chat_fixture(&v);
    v.generating = false;
    v.focus = CHAT_FOCUS_TRANSCRIPT;
    assert_int_equal(chat_key(&v, K('/')), CHAT_NONE);
    assert_true(v.filtering);
    assert_true(chat_typing(&v));
    assert_int_equal(chat_key(&v, K('r')), CHAT_FILTER);
    assert_int_equal(chat_key(&v, K('e')), CHAT_FILTER);
    assert_int_equal(chat_key(&v, K(UI_K_LEFT)), CHAT_NONE); /* no change in the text */
    assert_int_equal(chat_key(&v, K(UI_K_BACKSPACE)), CHAT_FILTER);
    assert_string_equal(ui_input_text(&v.filter), "e");
    assert_string_equal(ui_input_text(&v.input), "");
    /* The filter line shows in the list. */
    ui_frame f = {0};
    char *t = chat_text(&v, &f, 100, 30);
    assert_int_equal(tu_row_of(t, "/ e", NULL), 1);
    free(t);
    /* Enter keeps the text and goes to the list. */
    assert_int_equal(chat_key(&v, K(UI_K_ENTER)), CHAT_NONE);
    assert_false(v.filtering);
    assert_int_equal(v.focus, CHAT_FOCUS_LIST);
    assert_string_equal(ui_input_text(&v.filter), "e");
    t = chat_text(&v, &f, 100, 30);
    assert_int_equal(tu_row_of(t, "/ e", NULL), 1);
    free(t);
    /* Ctrl-F from the input; Esc clears and leaves. */
    v.focus = CHAT_FOCUS_INPUT;
    assert_int_equal(chat_key(&v, CTRL('f')), CHAT_NONE);
    assert_true(v.filtering);
    assert_int_equal(chat_key(&v, K(UI_K_ESC)), CHAT_FILTER);
    assert_false(v.filtering);
    assert_string_equal(ui_input_text(&v.filter), "");
    assert_int_equal(v.focus, CHAT_FOCUS_INPUT);
    t = chat_text(&v, &f, 100, 30);
    assert_int_equal(tu_row_of(t, "/ ", NULL), -1);
    free(t);
    /* An empty filter left with Esc changes nothing. */
    chat_key(&v, CTRL('f'));
    assert_int_equal(chat_key(&v, K(UI_K_ESC)), CHAT_NONE);
    frame_free(&f);
    chat_free(&v);
}

static void test_chat_clamp(void **state)
{
    (void)state;
    chat_view v;
    chat_fixture(&v);
    v.conv_sel = 4;
    v.turn_sel = 2;
    v.turn_follow = false;
    v.n_convs = 2;
    v.n_turns = 2;
    chat_clamp(&v);
    assert_int_equal(v.conv_sel, 1);
    assert_int_equal(v.turn_sel, 1);
    assert_true(v.turn_follow);
    v.n_turns = 0;
    v.n_convs = 0;
    chat_clamp(&v);
    assert_int_equal(v.conv_sel, 0);
    assert_int_equal(v.turn_sel, 0);
    chat_free(&v);
}

/* ---- Review ------------------------------------------------------------------------ */

static void test_review_keys(void **state)
{
    (void)state;
    review_view v;
    review_fixture(&v);
    int arg = -1;
    for (int s = 1; s <= 5; s++) {
        assert_int_equal(review_key(&v, K('0' + (uint32_t)s), &arg), REVIEW_SCORE);
        assert_int_equal(arg, s);
    }
    assert_int_equal(review_key(&v, K('0'), &arg), REVIEW_NONE);
    assert_int_equal(review_key(&v, K('6'), &arg), REVIEW_NONE);
    assert_int_equal(review_key(&v, K('+'), &arg), REVIEW_THUMB_UP);
    assert_int_equal(review_key(&v, K('-'), &arg), REVIEW_THUMB_DOWN);
    assert_int_equal(review_key(&v, K('t'), &arg), REVIEW_TAG);
    assert_int_equal(review_key(&v, K('c'), &arg), REVIEW_COMMENT);
    assert_int_equal(review_key(&v, K('j'), &arg), REVIEW_NEXT);
    assert_int_equal(review_key(&v, K(UI_K_DOWN), &arg), REVIEW_NEXT);
    assert_int_equal(review_key(&v, K('k'), &arg), REVIEW_PREV);
    assert_int_equal(review_key(&v, K(UI_K_UP), &arg), REVIEW_PREV);
    assert_int_equal(review_key(&v, K('u'), &arg), REVIEW_UNDO);
    assert_int_equal(review_key(&v, K('f'), &arg), REVIEW_FILTER);
    assert_int_equal(review_key(&v, K('m'), &arg), REVIEW_MODEL);
    assert_int_equal(review_key(&v, K('d'), &arg), REVIEW_DATE);
    assert_int_equal(review_key(&v, K('/'), &arg), REVIEW_SEARCH);
    assert_int_equal(review_key(&v, K('g'), &arg), REVIEW_TAG_FILTER);
    assert_int_equal(review_key(&v, ALT('1'), &arg), REVIEW_NONE); /* the shell's */
    assert_int_equal(review_key(&v, CTRL('u'), &arg), REVIEW_NONE);
    /* Scrolling: up through the context, bounded, back down. */
    assert_int_equal(review_key(&v, K(UI_K_PGUP), &arg), REVIEW_NONE);
    assert_int_equal(v.scroll, 10);
    for (int i = 0; i < 50; i++)
        review_key(&v, K(UI_K_PGUP), NULL);
    assert_true(v.scroll > 10 && v.scroll < 40);
    review_key(&v, K(UI_K_END), NULL);
    assert_int_equal(v.scroll, 0);
    review_key(&v, K(UI_K_WHEEL_UP), NULL);
    assert_int_equal(v.scroll, 3);
    review_key(&v, K(UI_K_WHEEL_DOWN), NULL);
    assert_int_equal(v.scroll, 0);
    v.empty = true;
    review_key(&v, K(UI_K_PGUP), NULL);
    assert_int_equal(v.scroll, 0);
}

static void test_review_scroll_and_styles(void **state)
{
    (void)state;
    review_view v;
    review_fixture(&v);
    ui_frame f = {0};
    /* 60x16: the reply box is whole, the context cut from the top. */
    char *t = review_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "┌─ Reply "));
    assert_non_null(strstr(t, "└──"));
    assert_null(strstr(t, "polite support agent"));
    assert_non_null(strstr(t, "more lines (PgUp)"));
    free(t);
    /* Scrolled up, the system prompt comes into view. */
    for (int i = 0; i < 5; i++)
        review_key(&v, K(UI_K_PGUP), NULL);
    t = review_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "polite support agent"));
    assert_null(strstr(t, "more lines (PgUp)"));
    free(t);
    /* Placeholders in the reply are highlighted. */
    v.scroll = 0;
    t = review_text(&v, &f, 100, 30);
    int y = tu_row_of(t, "{{Email Address}}", NULL);
    assert_true(y > 0);
    int x = tu_col_of(&f, y, "{{Email Address}}");
    for (int i = 0; i < 17; i++) {
        assert_int_equal(tu_cell(&f, x + i, y)->style, UI_S_PLACEHOLDER);
        assert_int_equal(tu_cell(&f, x + i, y)->attr, UI_A_UNDERLINE);
    }
    assert_int_equal(tu_cell(&f, x - 1, y)->style, UI_S_AGENT);
    assert_int_equal(tu_cell(&f, 0, y)->style, UI_S_BORDER);
    /* Each context turn is headed by its role, bold, in the role's colour. */
    static const struct {
        const char *label;
        ui_style style;
    } heads[] = {{"System", UI_S_SYSTEM}, {"Customer", UI_S_CUSTOMER}, {"Agent", UI_S_AGENT}};
    for (size_t k = 0; k < 3; k++) {
        int hy = -1;
        for (int r = 0; r < f.h && hy < 0; r++)
            if (tu_col_of(&f, r, heads[k].label) == 0)
                hy = r;
        assert_true(hy >= 0);
        for (int i = 0; i < (int)strlen(heads[k].label); i++) {
            assert_int_equal(tu_cell(&f, i, hy)->style, heads[k].style);
            assert_int_equal(tu_cell(&f, i, hy)->attr, UI_A_BOLD);
        }
    }
    free(t);
    /* A reply taller than the window shows from its top; negative
     * scroll reads on down. */
    static char long_reply[4000];
    long_reply[0] = 0;
    for (int i = 1; i <= 30; i++) {
        char line[40];
        snprintf(line, sizeof line, "Line %d of the reply.\n", i);
        strcat(long_reply, line);
    }
    ui_turn th[2] = {{1, UI_ROLE_CUSTOMER, "Question?", NULL, false, 0},
                     {2, UI_ROLE_AGENT, long_reply, NULL, false, 0}};
    v.context = th;
    v.n_context = 2;
    t = review_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "Line 1 of"));
    assert_null(strstr(t, "Line 30 of"));
    free(t);
    for (int i = 0; i < 5; i++)
        review_key(&v, K(UI_K_PGDN), NULL);
    assert_true(v.scroll < 0);
    t = review_text(&v, &f, 60, 16);
    assert_null(strstr(t, "Line 1 of"));
    assert_non_null(strstr(t, "Line 30 of"));
    assert_non_null(strstr(t, "└──"));
    free(t);
    frame_free(&f);
}

static void test_help_tables(void **state)
{
    (void)state;
    const char *const *tabs[] = {chat_help, review_help};
    for (int i = 0; i < 2; i++) {
        size_t n = 0;
        while (tabs[i][n])
            n++;
        assert_true(n >= 10);
        assert_int_equal(n % 2, 0); /* key, description pairs */
    }
}

int main(void)
{
    if (!setlocale(LC_ALL, "C.UTF-8") && !setlocale(LC_ALL, "en_US.UTF-8"))
        return test_skip_suite("test_ui_screens: no UTF-8 locale (C.UTF-8; make deps provides it) to measure text in");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_golden_100x30),
        cmocka_unit_test(test_chat_golden_60x16),
        cmocka_unit_test(test_review_golden),
        cmocka_unit_test(test_chat_placeholder_styles),
        cmocka_unit_test(test_draw_text_split_slot),
        cmocka_unit_test(test_chat_list_styles),
        cmocka_unit_test(test_containment),
        cmocka_unit_test(test_chat_empty_and_banner),
        cmocka_unit_test(test_chat_selection_and_scroll),
        cmocka_unit_test(test_chat_keys_input),
        cmocka_unit_test(test_chat_keys_focus_and_esc),
        cmocka_unit_test(test_chat_keys_list),
        cmocka_unit_test(test_chat_keys_filter),
        cmocka_unit_test(test_chat_clamp),
        cmocka_unit_test(test_review_keys),
        cmocka_unit_test(test_review_scroll_and_styles),
        cmocka_unit_test(test_help_tables),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
