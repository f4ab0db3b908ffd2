/*
 * ui_check.h — what the headless UI suites (test_ui_screens, test_ui_dash,
 * test_ui_shell) share: keys, where a text sits in a rendered frame, a
 * cell, the checks that a text has one style and that nothing is drawn
 * outside a rectangle, and the Dashboard's and the shell's fixture views.
 */
#ifndef FRONTDESK_TESTS_UI_CHECK_H
#define FRONTDESK_TESTS_UI_CHECK_H

#include "ui/dash.h"
#include "ui/frame.h"
#include "ui/key.h"
#include "ui/shell.h"

static inline ui_key K(uint32_t code) { return (ui_key){code, 0}; }
static inline ui_key ALT(uint32_t code) { return (ui_key){code, UI_MOD_ALT}; }
static inline ui_key CTRL(uint32_t code) { return (ui_key){code, UI_MOD_CTRL}; }
#define F(n) K(UI_K_F1 + (n) - 1)

/* The row of the frame text whose line contains `needle`, or -1; with
 * col_bytes, the byte offset of the hit in its line. */
int tu_row_of(const char *text, const char *needle, int *col_bytes);
/* The column where frame row y shows the ASCII text `needle`, or -1. */
int tu_col_of(const ui_frame *f, int y, const char *needle);
const ui_cell *tu_cell(const ui_frame *f, int x, int y);
/* Every cell of the ASCII `needle` found in the frame (text: its
 * frame_to_text) has `style`; fails the test otherwise. */
void tu_assert_text_style(const ui_frame *f, const char *text, const char *needle, ui_style style);
/* Every cell outside the rectangle is a blank, unstyled space. */
void tu_assert_outside_blank(const ui_frame *f, int x, int y, int w, int h);

/* A Dashboard with everything on it: series with gaps, two models (one
 * name too long for any width), an error message carrying an escape
 * sequence, an alert, a breached threshold. */
void tu_dash_fixture(dash_view *v);
/* The shell around that Dashboard, on a local model. */
void tu_shell_fixture(shell_view *v);

#endif
