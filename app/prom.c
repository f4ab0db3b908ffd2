/*
 * prom.c — the Prometheus text exposition format (see prom.h): a family's
 * # lines, samples with escaped labels, histograms made cumulative, and
 * the request families shared by `stats --prometheus` and serve's /metrics.
 */
#include "app/prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void prom_family(strbuf *sb, const char *name, const char *type, const char *help)
{
    sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_escape(strbuf *sb, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            sb_puts(sb, "\\\\");
        else if (*p == '"')
            sb_puts(sb, "\\\"");
        else if (*p == '\n')
            sb_puts(sb, "\\n");
        else
            sb_putc(sb, *p);
    }
}

void prom_number(strbuf *sb, double v)
{
    if (isnan(v)) {
        sb_puts(sb, "NaN");
        return;
    }
    if (isinf(v)) {
        sb_puts(sb, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) { /* 2^53: every whole number exact */
        sb_printf(sb, "%.0f", v);
        return;
    }
    char buf[32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    sb_puts(sb, buf);
}

/* name{a="x",b="y"} or name{a="x",...,le="b"}: the label block, extra (may
 * be NULL) last. */
static void series(strbuf *sb, const char *name, const char *suffix, const prom_label *labels, size_t n,
                   const prom_label *extra)
{
    sb_puts(sb, name);
    sb_puts(sb, suffix);
    if (n == 0 && !extra)
        return;
    sb_putc(sb, '{');
    for (size_t i = 0; i <= n; i++) {
        const prom_label *l = i < n ? &labels[i] : extra;
        if (!l)
            break;
        sb_printf(sb, "%s%s=\"", i ? "," : "", l->name);
        prom_escape(sb, l->value);
        sb_putc(sb, '"');
    }
    sb_putc(sb, '}');
}

void prom_sample(strbuf *sb, const char *name, const prom_label *labels, size_t n_labels, double value)
{
    series(sb, name, "", labels, n_labels, NULL);
    sb_putc(sb, ' ');
    prom_number(sb, value);
    sb_putc(sb, '\n');
}

size_t prom_bucket(const double *bounds, size_t n_bounds, double v)
{
    size_t i = 0;
    while (i < n_bounds && !(v <= bounds[i]))
        i++;
    return i;
}

void prom_histogram(strbuf *sb, const char *name, const prom_label *labels, size_t n_labels, const double *bounds,
                    size_t n_bounds, const int64_t *per_bucket, double sum)
{
    int64_t cum = 0;
    for (size_t i = 0; i <= n_bounds; i++) {
        cum += per_bucket[i];
        strbuf le = {0};
        if (i < n_bounds)
            prom_number(&le, bounds[i]);
        else
            sb_puts(&le, "+Inf");
        prom_label l = {"le", le.data};
        series(sb, name, "_bucket", labels, n_labels, &l);
        sb_printf(sb, " %lld\n", (long long)cum);
        sb_free(&le);
    }
    series(sb, name, "_sum", labels, n_labels, NULL);
    sb_putc(sb, ' ');
    prom_number(sb, sum);
    sb_putc(sb, '\n');
    series(sb, name, "_count", labels, n_labels, NULL);
    sb_printf(sb, " %lld\n", (long long)cum);
}

/* ---- The request families --------------------------------------------------------------- */

enum { F_REQUESTS, F_PROMPT, F_GENERATED, F_LATENCY, F_TTFT, F_TOKENS, N_FAMILIES };

static const struct {
    const char *name, *type, *help;
} FAMILIES[N_FAMILIES] = {
    [F_REQUESTS] = {"frontdesk_requests_total", "counter",
                    "Requests finished, by model version and outcome (errors: error, timeout, interrupted)."},
    [F_PROMPT] = {"frontdesk_prompt_tokens_total", "counter", "Prompt tokens evaluated."},
    [F_GENERATED] = {"frontdesk_generated_tokens_total", "counter", "Tokens generated."},
    [F_LATENCY] = {"frontdesk_request_duration_seconds", "histogram",
                   "Time from a request's arrival to its last token."},
    [F_TTFT] = {"frontdesk_time_to_first_token_seconds", "histogram",
                "Time from a request's arrival (queue included) to its first token."},
    [F_TOKENS] = {"frontdesk_request_generated_tokens", "histogram", "Tokens generated per request."},
};

void prom_requests(strbuf *sb, const prom_row *rows, size_t n)
{
    for (int f = 0; f < N_FAMILIES; f++) {
        const char *name = FAMILIES[f].name;
        prom_family(sb, name, FAMILIES[f].type, FAMILIES[f].help);
        for (size_t i = 0; i < n; i++) {
            const db_rollup_total *t = rows[i].t;
            prom_label l[] = {{"model", rows[i].model}, {"sha256", rows[i].sha256}, {"outcome", t->outcome}};
            size_t nl = sizeof l / sizeof l[0];
            switch (f) {
            case F_REQUESTS: prom_sample(sb, name, l, nl, (double)t->requests); break;
            case F_PROMPT: prom_sample(sb, name, l, nl, (double)t->prompt_tokens); break;
            case F_GENERATED: prom_sample(sb, name, l, nl, (double)t->gen_tokens); break;
            case F_LATENCY:
                prom_histogram(sb, name, l, nl, rollup_le_seconds, ROLLUP_N_LE_SECONDS, t->latency_le,
                               t->latency_sum_s);
                break;
            case F_TTFT:
                prom_histogram(sb, name, l, nl, rollup_le_seconds, ROLLUP_N_LE_SECONDS, t->ttft_le, t->ttft_sum_s);
                break;
            case F_TOKENS:
                prom_histogram(sb, name, l, nl, rollup_le_tokens, ROLLUP_N_LE_TOKENS, t->tokens_le,
                               (double)t->gen_tokens);
                break;
            }
        }
    }
}
