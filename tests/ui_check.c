/* ui_check.c — see ui_check.h. */
#include "tests/ui_check.h"

#include "tests/testutil.h"

#include <string.h>

int tu_row_of(const char *text, const char *needle, int *col_bytes)
{
    int row = 0;
    for (const char *line = text; *line; row++) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *hit = memmem(line, len, needle, strlen(needle));
        if (hit) {
            if (col_bytes)
                *col_bytes = (int)(hit - line);
            return row;
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    return -1;
}

int tu_col_of(const ui_frame *f, int y, const char *needle)
{
    int n = (int)strlen(needle);
    for (int x = 0; x + n <= f->w; x++) {
        int i = 0;
        while (i < n && f->cells[y * f->w + x + i].ch == (uint32_t)(unsigned char)needle[i])
            i++;
        if (i == n)
            return x;
    }
    return -1;
}

const ui_cell *tu_cell(const ui_frame *f, int x, int y)
{
    return &f->cells[y * f->w + x];
}

void tu_assert_text_style(const ui_frame *f, const char *text, const char *needle, ui_style style)
{
    int y = tu_row_of(text, needle, NULL);
    if (y < 0)
        fail_msg("\"%s\" not in the frame", needle);
    int x = tu_col_of(f, y, needle);
    assert_true(x >= 0);
    for (int i = 0; i < (int)strlen(needle); i++)
        if (tu_cell(f, x + i, y)->style != style)
            fail_msg("\"%s\": column %d has style %d, not %d", needle, x + i, tu_cell(f, x + i, y)->style, style);
}

void tu_assert_outside_blank(const ui_frame *f, int x, int y, int w, int h)
{
    for (int r = 0; r < f->h; r++)
        for (int c = 0; c < f->w; c++) {
            if (c >= x && c < x + w && r >= y && r < y + h)
                continue;
            const ui_cell *k = tu_cell(f, c, r);
            if (k->ch != ' ' || k->style != UI_S_NORMAL || k->attr || k->width != 1)
                fail_msg("drawn outside (%d,%d %dx%d) at column %d row %d", x, y, w, h, c, r);
        }
}

/* ---- Fixtures --------------------------------------------------------------------- */

#define NS 60
static double S_REQ[NS], S_LAT[NS], S_DEC[NS], S_ERR[NS];

static void make_series(void)
{
    for (int i = 0; i < NS; i++) {
        S_REQ[i] = (double)((i * 7) % 40);           /* a saw: 0 .. 39 */
        S_LAT[i] = i % 10 == 3 ? 0 : 500 + 60.0 * i; /* gaps: minutes without requests */
        S_DEC[i] = 20 + 2.0 * (i % 12);
        S_ERR[i] = i == 20 || i == 58 ? (i == 58 ? 2 : 1) : 0;
    }
}

static const dash_model_row MODELS[] = {
    {"SmolLM2-135M-Instruct · Q8_0", 120, 1.0 / 120, {true, 700, 1500, 1900, 3200},
     {true, 150, 300, 380, 900}, 44.0, 40, 6},
    {"Qwen2.5-0.5B-Instruct, a very long display name that cannot fit · Q4_K_M", 30, 2.0 / 30,
     {true, 2100, 4500, 5100, 6900}, {true, 400, 900, 1200, 2500}, 21.5, 0, 0},
};

static const dash_error_row ERRORS[] = {
    {"11-23 16:17:02", "SmolLM2-135M-Instruct", "error", "engine: the prompt does not fit the context"},
    {"11-23 16:15:40", "Qwen2.5-0.5B-Instruct", "timeout", "remote said \x1b[2J and hung up"},
};

static const char *const ALERTS[] = {"p95 latency 4100 ms > 3000 ms"};

void tu_dash_fixture(dash_view *v)
{
    make_series();
    dash_init(v);
    v->window = "5m";
    v->loading = false;
    v->requests = 150;
    v->errors = 3;
    v->running = 1;
    v->error_rate = 0.02;
    v->requests_per_min = 30.0;
    v->latency_ms = (dash_pcts){true, 850, 2600, 4100, 5200};
    v->ttft_ms = (dash_pcts){true, 180, 350, 420, 1100};
    v->prefill_tps = 512.34;
    v->decode_tps = 41.2;
    v->tokens_generated = 12345;
    v->thumbs_down_rate = 0.12;
    v->thumbs_n = 25;
    v->s_requests = S_REQ;
    v->s_latency_p95 = S_LAT;
    v->s_decode_tps = S_DEC;
    v->s_errors = S_ERR;
    v->n_series = NS;
    v->models = MODELS;
    v->n_models = 2;
    v->errors_list = ERRORS;
    v->n_errors = 2;
    v->alerts = ALERTS;
    v->n_alerts = 1;
    v->bad = DASH_BAD_LATENCY;
    v->updated = "updated 16:18:05";
}

void tu_shell_fixture(shell_view *v)
{
    shell_init(v);
    v->model = "SmolLM2-135M-Instruct";
    v->quant = "Q8_0";
    v->backend = "local";
    v->db_path = "/home/agent/.local/share/frontdesk/frontdesk.db";
    tu_dash_fixture(&v->dash);
    v->screen = UI_SCREEN_DASH;
}
