/*
 * eval.c — sets, scoring one item, the figures of a run and the
 * deployment gate (see eval.h).  The command itself is cmd_eval.c.
 */
#include "app/eval.h"

#include "engine/generate.h"
#include "engine/sampler.h"
#include "storage/chats.h"
#include "storage/evals.h"
#include "train/dataset.h"
#include "util/hash.h"
#include "util/rank.h"
#include "util/stats.h"
#include "util/textsim.h"
#include "util/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Sets ------------------------------------------------------------------------ */

static void item_free(eval_item *it)
{
    for (size_t i = 0; i < it->n_context; i++) {
        free((char *)it->context[i].role);
        free((char *)it->context[i].content);
    }
    free(it->context);
    free(it->reference);
}

/* A message's text as the trainer reads it, so that a reply cut
 * mid-sentence and ending in blank lines is scored on the words a
 * fine-tune learned. */
static char *trainer_text(const json_t *content)
{
    const char *t = json_string_value(content);
    return ds_normalise_text(t, strlen(t));
}

/* One line's conversation into it.  0, or -1 with err (without the
 * file:line prefix). */
static int parse_line(const char *text, size_t len, eval_item *it, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root) {
        util_errf(err, errlen, "invalid JSON: %s (column %d)", je.text, je.column);
        return -1;
    }
    int rc = -1;
    json_t *msgs = json_object_get(root, "messages");
    if (!json_is_array(msgs)) {
        util_errf(err, errlen, "no \"messages\" array");
        goto out;
    }
    size_t n = json_array_size(msgs), last = n;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!json_is_string(json_object_get(m, "content")) || !role) {
            util_errf(err, errlen, "message %zu needs a \"role\" and a \"content\" string", i + 1);
            goto out;
        }
        if (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant")) {
            util_errf(err, errlen, "message %zu: role is system, user or assistant, not '%s'", i + 1, role);
            goto out;
        }
        if (!strcmp(role, "assistant"))
            last = i;
    }
    if (last == n) {
        util_errf(err, errlen, "no assistant message (its last one is the reference)");
        goto out;
    }
    it->reference = trainer_text(json_object_get(json_array_get(msgs, last), "content"));
    if (!*it->reference) {
        util_errf(err, errlen, "the reference (the last assistant message) is empty");
        goto out;
    }
    it->n_context = last;
    it->context = xcalloc(last + 1, sizeof *it->context);
    for (size_t i = 0; i < last; i++) {
        json_t *m = json_array_get(msgs, i);
        it->context[i].role = xstrdup(json_string_value(json_object_get(m, "role")));
        it->context[i].content = trainer_text(json_object_get(m, "content"));
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int eval_set_load(const char *path, eval_set *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    char *text;
    size_t len;
    if (util_read_file(path, &text, &len) != 0) {
        util_errf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (util_sha256_file(path, s->sha256, err, errlen) != 0) {
        free(text);
        return -1;
    }
    int line = 0, rc = 0;
    for (size_t at = 0; at < len && rc == 0;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        line++;
        size_t b = at, e = end;
        while (b < e && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r'))
            b++;
        if (b < e) {
            eval_item it = {.line = line};
            char why[400];
            if (parse_line(text + b, e - b, &it, why, sizeof why) != 0) {
                util_errf(err, errlen, "%s:%d: %s", path, line, why);
                item_free(&it);
                rc = -1;
            } else {
                s->items = xreallocarray(s->items, s->n + 1, sizeof *s->items);
                s->items[s->n++] = it;
            }
        }
        at = end + 1;
    }
    free(text);
    if (rc == 0 && s->n == 0) {
        util_errf(err, errlen, "%s: no conversations", path);
        rc = -1;
    }
    if (rc != 0)
        eval_set_free(s);
    return rc;
}

void eval_set_free(eval_set *s)
{
    for (size_t i = 0; s && i < s->n; i++)
        item_free(&s->items[i]);
    if (s) {
        free(s->items);
        memset(s, 0, sizeof *s);
    }
}

/* ---- Scoring one item ------------------------------------------------------------ */

int eval_engine_init(eval_engine *e, const model *m, const tok_vocab *v, int n_ctx, int n_threads, char *err,
                     size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->m = m;
    e->v = v;
    e->n_ctx = n_ctx;
    gguf_str s = {"", 0};
    bool known;
    gguf_get_str(m->file, "tokenizer.chat_template", &s);
    e->tmpl = chat_tmpl_detect(s.ptr, (size_t)s.len, &known);
    e->ctx = fwd_new(m, n_ctx, n_threads, err, errlen);
    return e->ctx ? 0 : -1;
}

void eval_engine_free(eval_engine *e)
{
    if (e) {
        fwd_free(e->ctx);
        memset(e, 0, sizeof *e);
    }
}

int eval_item_tokens(const eval_engine *e, const eval_item *it, int32_t **prompt, size_t *n_prompt,
                     int32_t **ref, size_t *n_ref, char *err, size_t errlen)
{
    strbuf text = {0};
    size_t cap = 0, rcap = 0;
    *prompt = *ref = NULL;
    *n_prompt = *n_ref = 0;
    sb_puts(&text, "");
    chat_tmpl_apply(e->tmpl, it->context, it->n_context, true, &text);
    int rc = tok_encode(e->v, text.data, text.len, true, true, prompt, n_prompt, &cap, err, errlen);
    if (rc == 0)
        rc = tok_encode(e->v, it->reference, strlen(it->reference), false, false, ref, n_ref, &rcap, err, errlen);
    sb_free(&text);
    if (rc == 0 && *n_ref == 0) {
        util_errf(err, errlen, "the reference has no tokens");
        rc = -1;
    } else if (rc == 0 && *n_prompt + *n_ref > (size_t)e->n_ctx) {
        util_errf(err, errlen, "the conversation is %zu tokens (%zu of them the reference), longer than the context of %d",
                  *n_prompt + *n_ref, *n_ref, e->n_ctx);
        rc = -1;
    }
    if (rc != 0) {
        free(*prompt);
        free(*ref);
        *prompt = *ref = NULL;
        return -1;
    }
    return 0;
}

/* -log softmax(row)[id] */
static double nll_of(const float *row, int n_vocab, int32_t id)
{
    return -gen_logprob(row, n_vocab, id);
}

/* The reference's mean negative log-likelihood after the prompt: the
 * prompt's last logits score ref[0], the reference's own logits (all but
 * the last token's) score the rest.  0, 1 cancelled, -1 error. */
static int score_reference(eval_engine *e, const int32_t *prompt, size_t np, const int32_t *ref, size_t nr,
                           const atomic_bool *cancel, double *out, char *err, size_t errlen)
{
    int V = (int)e->m->n_vocab;
    float *logits = xmallocarray(nr, (size_t)V * sizeof *logits);
    fwd_truncate(e->ctx, 0);
    int frc = fwd_eval(e->ctx, prompt, (int)np, false, logits, cancel);
    double nll = 0;
    if (frc == FWD_OK) {
        nll += nll_of(logits, V, ref[0]);
        if (nr > 1)
            frc = fwd_eval(e->ctx, ref, (int)nr - 1, true, logits, cancel);
        for (size_t i = 1; frc == FWD_OK && i < nr; i++)
            nll += nll_of(logits + (i - 1) * (size_t)V, V, ref[i]);
    }
    free(logits);
    if (frc == FWD_ECANCELLED)
        return 1;
    if (frc != FWD_OK) {
        util_errf(err, errlen, "evaluating the reference failed (status %d)", frc);
        return -1;
    }
    *out = nll / (double)nr;
    return 0;
}

static bool collect(void *ud, const char *text, size_t len)
{
    sb_append(ud, text, len);
    return true;
}

int eval_score_item(eval_engine *e, const eval_item *it, int max_tokens, const atomic_bool *cancel,
                    eval_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int32_t *prompt, *ref;
    size_t np, nr;
    if (eval_item_tokens(e, it, &prompt, &np, &ref, &nr, err, errlen) != 0)
        return -1;
    out->ref_tokens = (int)nr;
    int rc = score_reference(e, prompt, np, ref, nr, cancel, &out->log_ppl, err, errlen);
    if (rc == 0) {
        sampler_params sp = sampler_defaults();
        sp.temp = 0;
        sp.repeat_penalty = 1.0f;
        sampler *s = sampler_new(&sp, (int)e->m->n_vocab);
        strbuf reply = {0};
        sb_puts(&reply, "");
        gen_opts go = {.n_predict = max_tokens, .cancel = cancel, .on_text = collect, .ud = &reply};
        gen_stats st = {0};
        double t0 = util_now();
        rc = gen_run(e->ctx, e->m, e->v, s, prompt, (int)np, &go, &st, err, errlen);
        out->latency_ms = (util_now() - t0) * 1000.0;
        sampler_free(s);
        if (rc == 0 && st.stop == GEN_STOP_CANCELLED)
            rc = 1;
        out->reply = reply.data;
        out->length = st.gen_tokens - (st.stop == GEN_STOP_EOG ? 1 : 0);
        out->prompt_tokens = st.prompt_tokens;
        out->gen_tokens = st.gen_tokens;
        out->ttft_ms = st.ttft_ms;
        out->prefill_ms = st.prefill_ms;
        out->decode_ms = st.decode_ms;
        out->prefill_tps = st.prefill_tps;
        out->decode_tps = st.decode_tps;
        out->chrf = textsim_chrf(out->reply, it->reference);
        out->rouge_l = textsim_rouge_l(out->reply, it->reference);
    }
    free(prompt);
    free(ref);
    return rc;
}

void eval_result_clear(eval_result *r)
{
    if (r) {
        free(r->reply);
        memset(r, 0, sizeof *r);
    }
}

/* ---- Figures ----------------------------------------------------------------------- */

/* splitmix64: the bootstrap's draws (seeded, the same on every machine). */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), unbiased (rejection below 2^64 mod n). */
static size_t draw(uint64_t *s, size_t n)
{
    uint64_t lim = -(uint64_t)n % n, r;
    do
        r = next_u64(s);
    while (r < lim);
    return (size_t)(r % n);
}

void eval_bootstrap_mean(const double *x, size_t n, uint64_t seed, double *mean, double *lo, double *hi)
{
    *mean = *lo = *hi = NAN;
    if (!n)
        return;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    *mean = sum / (double)n;
    double *means = xmallocarray(EVAL_BOOT, sizeof *means);
    uint64_t s = seed;
    for (int b = 0; b < EVAL_BOOT; b++) {
        double t = 0;
        for (size_t i = 0; i < n; i++)
            t += x[draw(&s, n)];
        means[b] = t / (double)n;
    }
    *lo = stats_quantile(means, EVAL_BOOT, 0.025);
    *hi = stats_quantile(means, EVAL_BOOT, 0.975);
    free(means);
}

static json_t *num_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *figure(const double *x, size_t n, uint64_t seed, bool exp_scale, const char *key)
{
    double m, lo, hi;
    eval_bootstrap_mean(x, n, seed, &m, &lo, &hi);
    if (exp_scale) {
        m = exp(m);
        lo = exp(lo);
        hi = exp(hi);
    }
    json_t *j = json_object();
    json_object_set_new(j, key, num_or_null(m));
    json_object_set_new(j, "lo", num_or_null(lo));
    json_object_set_new(j, "hi", num_or_null(hi));
    return j;
}

json_t *eval_aggregates_json(const double *chrf, const double *rouge_l, const double *log_ppl,
                             const double *length, const double *latency_ms, size_t n)
{
    json_t *j = json_object();
    json_object_set_new(j, "items", json_integer((json_int_t)n));
    json_object_set_new(j, "chrf", figure(chrf, n, EVAL_SEED, false, "mean"));
    json_object_set_new(j, "rouge_l", figure(rouge_l, n, EVAL_SEED + 1, false, "mean"));
    json_object_set_new(j, "perplexity", figure(log_ppl, n, EVAL_SEED + 2, true, "value"));
    json_object_set_new(j, "length", figure(length, n, EVAL_SEED + 3, false, "mean"));
    json_object_set_new(j, "latency_ms", figure(latency_ms, n, EVAL_SEED + 4, false, "mean"));
    return j;
}

/* The verdict on differences d = B − A; higher_better: whether a
 * positive difference favours B. */
static json_t *paired_test(const double *d, size_t n, int min_items, bool higher_better)
{
    json_t *j = json_object();
    if ((long long)n < min_items) {
        json_object_set_new(j, "p", json_null());
        json_object_set_new(j, "verdict", json_string("not enough data"));
        return j;
    }
    rank_wilcoxon w = rank_wilcoxon_test(d, n);
    const char *v = "no evidence";
    if (w.p < EVAL_ALPHA && w.w_plus != w.w_minus)
        v = (w.w_plus > w.w_minus) == higher_better ? "better" : "worse";
    json_object_set_new(j, "p", num_or_null(w.p));
    json_object_set_new(j, "n_nonzero", json_integer((json_int_t)w.n));
    json_object_set_new(j, "verdict", json_string(v));
    return j;
}

json_t *eval_verdicts_json(const double *chrf_a, const double *chrf_b, const double *log_ppl_a,
                           const double *log_ppl_b, size_t n, int min_items)
{
    double *d = xmallocarray(n + 1, sizeof *d);
    long long wins = 0, ties = 0, losses = 0;
    for (size_t i = 0; i < n; i++) {
        d[i] = chrf_b[i] - chrf_a[i];
        if (fabs(d[i]) <= EVAL_TIE) {
            d[i] = 0; /* a tie is no difference for the signed-rank test either */
            ties++;
        } else if (d[i] > 0)
            wins++;
        else
            losses++;
    }
    json_t *j = json_object();
    json_object_set_new(j, "items", json_integer((json_int_t)n));
    json_object_set_new(j, "min_items", json_integer(min_items));
    json_object_set_new(j, "alpha", json_real(EVAL_ALPHA));
    json_t *c = paired_test(d, n, min_items, true);
    json_object_set_new(c, "wins", json_integer(wins));
    json_object_set_new(c, "ties", json_integer(ties));
    json_object_set_new(c, "losses", json_integer(losses));
    json_object_set_new(j, "chrf", c);
    for (size_t i = 0; i < n; i++)
        d[i] = log_ppl_b[i] - log_ppl_a[i];
    json_object_set_new(j, "perplexity", paired_test(d, n, min_items, false));
    free(d);
    return j;
}

/* ---- The deployment gate ------------------------------------------------------------ */

/* "better"/"worse" of B against A, seen from the candidate's side. */
static bool candidate_worse(const char *verdict, bool candidate_is_b)
{
    if (!verdict)
        return false;
    return candidate_is_b ? !strcmp(verdict, "worse") : !strcmp(verdict, "better");
}

static const char *verdict_of(const json_t *v, const char *measure)
{
    return json_string_value(json_object_get(json_object_get(v, measure), "verdict"));
}

static double p_of(const json_t *v, const char *measure)
{
    json_t *p = json_object_get(json_object_get(v, measure), "p");
    return json_is_number(p) ? json_number_value(p) : NAN;
}

int eval_gate_check(db *d, const config *cfg, int64_t stable_id, int64_t candidate_id, char *why, size_t len)
{
    if (!cfg->deploy_require_eval)
        return 0;
    char sha[65];
    if (util_sha256_file(cfg->deploy_require_eval, sha, why, len) != 0)
        return -1;
    db_eval_run *runs;
    size_t n;
    if (db_eval_list(d, 0, &runs, &n) != DB_OK) {
        util_errf(why, len, "%s", db_errmsg(d));
        return -1;
    }
    int rc = 1;
    const db_eval_run *r = NULL;
    for (size_t i = 0; i < n && !r; i++) {
        const db_eval_run *c = &runs[i];
        bool pair = (c->model_a == stable_id && c->model_b == candidate_id) ||
                    (c->model_a == candidate_id && c->model_b == stable_id);
        if (pair && !strcmp(c->status, "complete") && !strcmp(c->set_sha256, sha) &&
            c->items_done >= cfg->deploy_min_eval_items)
            r = c;
    }
    if (!r) {
        util_errf(why, len,
                  "no complete eval run on %s (SHA-256 %.12s) with at least %d items comparing the candidate with "
                  "stable ([deploy] require_eval): run frontdesk eval --model STABLE --model CANDIDATE --set %s, "
                  "or pass --force",
                  cfg->deploy_require_eval, sha, cfg->deploy_min_eval_items, cfg->deploy_require_eval);
        goto out;
    }
    json_t *v = r->verdicts ? json_loads(r->verdicts, 0, NULL) : NULL;
    bool cand_b = r->model_b == candidate_id;
    bool chrf_worse = candidate_worse(verdict_of(v, "chrf"), cand_b);
    bool ppl_worse = candidate_worse(verdict_of(v, "perplexity"), cand_b);
    if (chrf_worse || ppl_worse) {
        char a[96] = "", b[96] = "";
        if (chrf_worse)
            snprintf(a, sizeof a, "chrF (p = %.3g)", p_of(v, "chrf"));
        if (ppl_worse)
            snprintf(b, sizeof b, "%sperplexity (p = %.3g)", chrf_worse ? " and " : "", p_of(v, "perplexity"));
        util_errf(why, len, "eval run %lld on %s: the candidate is significantly worse than stable on %s%s",
                  (long long)r->id, cfg->deploy_require_eval, a, b);
    } else if (!v) {
        util_errf(why, len, "eval run %lld has no verdicts", (long long)r->id);
    } else {
        util_errf(why, len, "eval run %lld: not worse on chrF or perplexity", (long long)r->id);
        rc = 0;
    }
    json_decref(v);
out:
    db_eval_runs_free(runs, n);
    return rc;
}
