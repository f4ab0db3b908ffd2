/*
 * eval_model.c — the built-in model's validation figures (`make eval-model`).
 *
 *   eval_model --model FILE [--data DIR] [--limit N] [--samples N]
 *              [--threads N] [--json OUT] [--reference-replies]
 *
 * Defaults: --data ../shared/data, every held-out request, 10 samples,
 * 1 thread.
 *
 * On the held-out split of train/dataset.h (ds_options_default: fraction
 * 0.05, seed 1, the split the trainer never trains on):
 *
 *   perplexity    exp(mean NLL) over the agent-turn tokens (ds_tokenize's
 *                 loss mask) of every held-out conversation, Bitext and
 *                 STAR.  A conversation longer than the model's context is
 *                 cut as the trainer cuts it: windows of n_ctx inputs, each
 *                 from an empty cache, every target scored once; so this
 *                 is the trainer's "validation loss" over all of the split
 *                 (which samples at most 64 batches of it).
 *   intent match  for each held-out Bitext request: the system prompt and
 *                 the request, rendered with the model's chat template,
 *                 a greedy reply (temperature 0, at most 128 new tokens,
 *                 ending at an end-of-generation token); the reply is
 *                 classified by 1-NN TF-IDF cosine (train/tfidf.h) against
 *                 the training split's Bitext answers, and matches when
 *                 the nearest answer's intent is the request's.
 *   ceiling       the same classifier on the held-out reference answers:
 *                 how often the true answer lands on its own intent, the
 *                 most the metric can show (always over every held-out
 *                 answer, whatever --limit says; it needs no model).
 *
 * --limit N is for a quick look: N held-out Bitext requests get replies and
 * N held-out conversations are scored, each spread evenly over its kind
 * (the k-th is number k·M/N of M); the ceiling always covers every
 * held-out answer.  The S samples are evaluated requests number k·M/S.
 * --reference-replies puts each request's reference answer in place of a
 * generated reply, a check of the metric itself: over every request the
 * intent match then equals the ceiling.
 *
 * Figures go to standard output (the format is above print_report); --json
 * writes them as one object too.  Progress goes to standard error when it
 * is a terminal.  Exit status 0, 1 on failure, 2 on bad usage.
 */
#include "train/dataset.h"
#include "train/tfidf.h"
#include "engine/chat_template.h"
#include "engine/forward.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/prompt.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"
#include "util/util.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_NEW_TOKENS 128
#define TOP_CONFUSIONS 10

typedef struct {
    const char *model, *data, *json;
    long limit, samples, threads;
    bool reference; /* --reference-replies: score the reference answers as if replies */
} eval_args;

/* One evaluated request. */
typedef struct {
    const ds_conv *c;
    int intent;      /* index into the intent table        */
    tfidf_match got; /* the reply's nearest training answer */
    char *reply;
    int gen_tokens;
    gen_stop stop;
} eval_item;

typedef struct {
    double nll;
    size_t tokens, convs;
} nll_sum;

typedef struct {
    /* setup */
    char **intents; /* sorted, unique */
    size_t n_intents;
    size_t n_valid, n_train, n_valid_src[3], n_train_answers, n_terms;
    int n_ctx;
    chat_tmpl tmpl;
    uint64_t n_params;
    /* perplexity */
    nll_sum ppl_all, ppl_src[3];
    double ppl_secs;
    /* ceiling: per intent */
    size_t ceil_ok, ceil_n, *ceil_ok_by, *ceil_n_by;
    /* intent match */
    eval_item *items;
    size_t n_items, match_ok, *ok_by, *n_by;
    size_t *confusion; /* (n_intents, n_intents + 1): [true][got]; column n_intents = none */
    double gen_secs;
    long gen_tokens;
    size_t stops[GEN_STOP_CALLBACK + 1];
} eval_report;

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "eval_model: %s\n", msg);
    fprintf(stderr, "usage: eval_model --model FILE [--data DIR] [--limit N] [--samples N] [--threads N] "
                    "[--json OUT] [--reference-replies]\n");
    return 2;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int parse(int argc, char **argv, eval_args *a)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},   {"data", required_argument, NULL, 'd'},
        {"limit", required_argument, NULL, 'l'},   {"samples", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'}, {"json", required_argument, NULL, 'j'},
        {"reference-replies", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    *a = (eval_args){.data = "../shared/data", .limit = 0, .samples = 10, .threads = 1};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:d:l:s:t:j:rh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'd': a->data = optarg; break;
        case 'j': a->json = optarg; break;
        case 'r': a->reference = true; break;
        case 'l':
            if (!parse_long(optarg, 0, 1000000, &a->limit))
                return usage("--limit needs a whole number (0 = every held-out request)");
            break;
        case 's':
            if (!parse_long(optarg, 0, 1000, &a->samples))
                return usage("--samples needs a whole number from 0 to 1000");
            break;
        case 't':
            if (!parse_long(optarg, 1, 512, &a->threads))
                return usage("--threads needs a number from 1 to 512");
            break;
        case 'h': usage(NULL); exit(0);
        case ':': return usage("an option needs a value");
        default: return usage("unknown option");
        }
    }
    if (optind < argc)
        return usage("unexpected argument");
    if (!a->model)
        return usage("--model FILE is required");
    return 0;
}

/* ---- Intents --------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted distinct intents of every Bitext conversation. */
static void collect_intents(const dataset *d, eval_report *r)
{
    size_t cap = 0;
    for (size_t i = 0; i < ds_count(d, DS_ALL); i++) {
        const ds_conv *c = ds_get(d, DS_ALL, i);
        if (c->source != DS_SRC_BITEXT || !c->intent)
            continue;
        if (r->n_intents == cap) {
            cap = cap ? 2 * cap : 32;
            r->intents = xreallocarray(r->intents, cap, sizeof *r->intents);
        }
        r->intents[r->n_intents++] = c->intent;
    }
    qsort(r->intents, r->n_intents, sizeof *r->intents, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < r->n_intents; i++)
        if (k == 0 || strcmp(r->intents[k - 1], r->intents[i]) != 0)
            r->intents[k++] = r->intents[i];
    r->n_intents = k;
}

static int intent_index(const eval_report *r, const char *intent)
{
    if (!intent)
        return -1;
    char **p = bsearch(&intent, r->intents, r->n_intents, sizeof *r->intents, cmp_str);
    return p ? (int)(p - r->intents) : -1;
}

static const char *intent_name(const eval_report *r, int i)
{
    return i >= 0 ? r->intents[i] : "none";
}

/* A Bitext conversation to evaluate: system, request, answer. */
static bool is_request(const ds_conv *c)
{
    return c->source == DS_SRC_BITEXT && c->intent && c->n_msgs == 3 && c->msgs[1].role == DS_ROLE_USER &&
           c->msgs[2].role == DS_ROLE_ASSISTANT;
}

/* ---- Perplexity ------------------------------------------------------------------------ */

/* Add the NLL of the masked targets of t: windows of n_ctx inputs, as the
 * trainer's add_windows cuts them. */
static int score_tokens(fwd_ctx *ctx, const model *m, const ds_tokens *t, int n_ctx, float *logits,
                        nll_sum *s)
{
    size_t V = m->n_vocab;
    for (size_t start = 0; start + 1 < t->n; start += (size_t)n_ctx) {
        size_t len = t->n - 1 - start;
        if (len > (size_t)n_ctx)
            len = (size_t)n_ctx;
        bool any = false;
        for (size_t i = 0; i < len; i++)
            any |= t->mask[start + 1 + i] != 0;
        if (!any)
            continue;
        fwd_truncate(ctx, 0);
        int frc = fwd_eval(ctx, t->ids + start, (int)len, true, logits, NULL);
        if (frc != FWD_OK)
            return frc;
        for (size_t i = 0; i < len; i++) {
            if (!t->mask[start + 1 + i])
                continue;
            const float *l = logits + i * V;
            float mx = l[0];
            for (size_t j = 1; j < V; j++)
                if (l[j] > mx)
                    mx = l[j];
            double sum = 0.0; /* each term in [0, 1]: float exp, double sum */
            for (size_t j = 0; j < V; j++)
                sum += expf(l[j] - mx);
            s->nll += (double)mx + log(sum) - (double)l[t->ids[start + 1 + i]];
            s->tokens++;
        }
    }
    return FWD_OK;
}

/* Over n of the held-out conversations, spread evenly (n = all of them
 * unless --limit is smaller). */
static int perplexity(const dataset *d, const model *m, const tok_vocab *v, fwd_ctx *ctx, size_t n,
                      eval_report *r, char *err, size_t errlen)
{
    double t0 = util_now();
    float *logits = xmallocarray((size_t)r->n_ctx * m->n_vocab, sizeof *logits);
    ds_tokens t = {0};
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const ds_conv *c = ds_get(d, DS_VALID, k * r->n_valid / n);
        if (ds_tokenize(v, c, &t, err, errlen) != DS_OK) {
            rc = -1;
            break;
        }
        nll_sum one = {0};
        int frc = score_tokens(ctx, m, &t, r->n_ctx, logits, &one);
        if (frc != FWD_OK) {
            util_errf(err, errlen, "%s: evaluation failed (status %d)", c->id, frc);
            rc = -1;
            break;
        }
        nll_sum *s[2] = {&r->ppl_all, &r->ppl_src[c->source]};
        for (int k = 0; k < 2; k++) {
            s[k]->nll += one.nll;
            s[k]->tokens += one.tokens;
            s[k]->convs += one.tokens > 0;
        }
    }
    ds_tokens_free(&t);
    free(logits);
    r->ppl_secs = util_now() - t0;
    return rc;
}

/* ---- Replies ----------------------------------------------------------------------------- */

static bool collect_text(void *ud, const char *text, size_t len)
{
    sb_append(ud, text, len);
    return true;
}

/* A greedy reply to the conversation's request. */
static int reply(const model *m, const tok_vocab *v, fwd_ctx *ctx, sampler *s, const eval_report *r,
                 const ds_conv *c, eval_item *it, char *err, size_t errlen)
{
    chat_msg msgs[2] = {{"system", c->msgs[0].content}, {"user", c->msgs[1].content}};
    int32_t *prompt = NULL;
    size_t n_prompt = 0, dropped = 0;
    int reserve = MAX_NEW_TOKENS < r->n_ctx / 4 ? MAX_NEW_TOKENS : r->n_ctx / 4;
    if (prompt_fit(r->tmpl, v, msgs, 2, r->n_ctx, reserve, &prompt, &n_prompt, &dropped, err, errlen) != 0)
        return -1;
    strbuf text = {0};
    gen_opts go = {.n_predict = MAX_NEW_TOKENS, .on_text = collect_text, .ud = &text};
    gen_stats st = {0};
    sampler_reset(s);
    int rc = gen_run(ctx, m, v, s, prompt, (int)n_prompt, &go, &st, err, errlen);
    free(prompt);
    if (rc != 0) {
        sb_free(&text);
        return -1;
    }
    it->reply = text.data ? text.data : xstrdup("");
    it->gen_tokens = st.gen_tokens;
    it->stop = st.stop;
    return 0;
}

/* ---- Report ------------------------------------------------------------------------------ */

static double pct(size_t a, size_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

static double ppl_of(const nll_sum *s)
{
    return s->tokens ? exp(s->nll / (double)s->tokens) : NAN;
}

static double mean_nll(const nll_sum *s)
{
    return s->tokens ? s->nll / (double)s->tokens : NAN;
}

/* Text for a person: control characters escaped as \xNN; each line break
 * followed by `indent` so a multi-line reply stays in its column. */
static void print_text(const char *text, const char *indent)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\n')
            printf("\n%s", indent);
        else if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            printf("\\x%02x", *p);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* C1 control */
            printf("\\x%02x", *++p);
        else
            putchar(*p);
    }
}

/* A reply as print_text shows it, without the whitespace around it (the
 * JSON keeps it); "(empty)" when nothing else is left. */
static void print_reply(const char *text, const char *indent)
{
    while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
        text++;
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    if (n == 0) {
        printf("(empty)");
        return;
    }
    char *t = xstrndup(text, n);
    print_text(t, indent);
    free(t);
}

typedef struct {
    int truth, got;
    size_t n;
} confusion;

static int by_count(const void *a, const void *b)
{
    const confusion *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    if (x->truth != y->truth)
        return x->truth - y->truth;
    return x->got - y->got;
}

/* The mistakes, most frequent first; returns how many kinds. */
static size_t confusions(const eval_report *r, confusion **out)
{
    size_t n = 0, cols = r->n_intents + 1;
    confusion *c = xmallocarray(r->n_intents * cols + 1, sizeof *c);
    for (size_t i = 0; i < r->n_intents; i++)
        for (size_t j = 0; j < cols; j++)
            if (j != i && r->confusion[i * cols + j])
                c[n++] = (confusion){(int)i, j == r->n_intents ? -1 : (int)j, r->confusion[i * cols + j]};
    qsort(c, n, sizeof *c, by_count);
    *out = c;
    return n;
}

/* The index of sample k of S among the n evaluated requests. */
static size_t sample_index(size_t k, size_t S, size_t n)
{
    return k * n / S;
}

/*
 * The format (two-space indents, one figure per line):
 *
 *   model        PATH: N parameters, context N, chat template NAME
 *   data         DIR: N held-out conversations (N Bitext, N STAR), N training
 *   perplexity   P on held-out agent turns (mean NLL X nats over N tokens, N conversations, S s)
 *     bitext     ppl P  nll X  tokens N
 *     star       ppl P  nll X  tokens N
 *   intent match K/M = R% of held-out Bitext requests (greedy replies, 1-NN TF-IDF cosine over N training
 *                answers)   ("reference answers" in place of "greedy replies" with --reference-replies)
 *   ceiling      K/M = R% of held-out reference answers classified to their own intent
 *   replies      M in S s: MS ms per reply, T tokens per reply (TPS tokens/s); stops: N eog, N length, N context
 *                (with --reference-replies: "M held-out reference answers in place of the model's ...")
 *   per intent   matched/total, then the ceiling's ok/total
 *     INTENT  K/M  K/M
 *   confusions   true intent -> intent of the reply (none: no shared word), most frequent first
 *     INTENT -> INTENT  N
 *   samples      S of the M evaluated requests, one in every K
 *     [k] ID  INTENT -> INTENT (cosine C, match|no match)
 *       request: TEXT
 *       reply:   TEXT (trimmed; continuation lines indented to the text; "(empty)")
 */
static void print_report(const eval_args *a, const eval_report *r)
{
    printf("model        %s: %llu parameters, context %d, chat template %s\n", a->model,
           (unsigned long long)r->n_params, r->n_ctx, chat_tmpl_name(r->tmpl));
    printf("data         %s: %zu held-out conversations (%zu Bitext, %zu STAR), %zu training\n", a->data,
           r->n_valid, r->n_valid_src[DS_SRC_BITEXT], r->n_valid_src[DS_SRC_STAR], r->n_train);
    printf("perplexity   %.3f on held-out agent turns (mean NLL %.4f nats over %zu tokens, %zu conversations, "
           "%.1f s)\n",
           ppl_of(&r->ppl_all), mean_nll(&r->ppl_all), r->ppl_all.tokens, r->ppl_all.convs, r->ppl_secs);
    static const char *const src[2] = {"bitext", "star"};
    for (int s = 0; s < 2; s++)
        printf("  %-10s ppl %.3f  nll %.4f  tokens %zu\n", src[s], ppl_of(&r->ppl_src[s]), mean_nll(&r->ppl_src[s]),
               r->ppl_src[s].tokens);
    printf("intent match %zu/%zu = %.1f%% of held-out Bitext requests (%s, 1-NN TF-IDF cosine over "
           "%zu training answers)\n",
           r->match_ok, r->n_items, pct(r->match_ok, r->n_items), a->reference ? "reference answers" : "greedy replies",
           r->n_train_answers);
    printf("ceiling      %zu/%zu = %.1f%% of held-out reference answers classified to their own intent\n",
           r->ceil_ok, r->ceil_n, pct(r->ceil_ok, r->ceil_n));
    double per = r->n_items ? r->gen_secs * 1000.0 / (double)r->n_items : 0.0;
    if (a->reference)
        printf("replies      %zu held-out reference answers in place of the model's (--reference-replies)\n",
               r->n_items);
    else
        printf("replies      %zu in %.1f s: %.0f ms per reply, %.1f tokens per reply (%.0f tokens/s); stops: %zu eog, "
           "%zu length, %zu context\n",
           r->n_items, r->gen_secs, per, r->n_items ? (double)r->gen_tokens / (double)r->n_items : 0.0,
           r->gen_secs > 0 ? (double)r->gen_tokens / r->gen_secs : 0.0, r->stops[GEN_STOP_EOG],
           r->stops[GEN_STOP_LENGTH], r->stops[GEN_STOP_CONTEXT]);
    printf("per intent   matched/total, then the ceiling's ok/total\n");
    for (size_t i = 0; i < r->n_intents; i++) {
        char got[48];
        snprintf(got, sizeof got, "%zu/%zu", r->ok_by[i], r->n_by[i]);
        printf("  %-26s %-9s %zu/%zu\n", r->intents[i], got, r->ceil_ok_by[i], r->ceil_n_by[i]);
    }
    confusion *c;
    size_t nc = confusions(r, &c);
    printf("confusions   true intent -> intent of the reply (none: no shared word), most frequent first\n");
    for (size_t i = 0; i < nc && i < TOP_CONFUSIONS; i++)
        printf("  %s -> %s  %zu\n", intent_name(r, c[i].truth), intent_name(r, c[i].got), c[i].n);
    free(c);
    size_t S = (size_t)a->samples < r->n_items ? (size_t)a->samples : r->n_items;
    if (S) {
        printf("samples      %zu of the %zu evaluated requests, one in every %zu\n", S, r->n_items, r->n_items / S);
        for (size_t k = 0; k < S; k++) {
            const eval_item *it = &r->items[sample_index(k, S, r->n_items)];
            printf("  [%zu] %s  %s -> %s (cosine %.2f, %s)\n", k + 1, it->c->id, intent_name(r, it->intent),
                   intent_name(r, it->got.label), it->got.sim,
                   it->got.label == it->intent ? "match" : "no match");
            printf("    request: ");
            print_text(it->c->msgs[1].content, "             ");
            printf("\n    reply:   ");
            print_reply(it->reply, "             ");
            printf("\n");
        }
    }
}

/* A number, or null when it is not finite (JSON has no NaN). */
static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *nll_json(const nll_sum *s)
{
    return json_pack("{s:o, s:o, s:I, s:I}", "perplexity", num(ppl_of(s)), "mean_nll", num(mean_nll(s)), "tokens",
                     (json_int_t)s->tokens, "conversations", (json_int_t)s->convs);
}

static int write_json(const eval_args *a, const eval_report *r, char *err, size_t errlen)
{
    json_t *per = json_array(), *conf = json_array(), *samples = json_array();
    for (size_t i = 0; i < r->n_intents; i++)
        json_array_append_new(per, json_pack("{s:s, s:I, s:I, s:I, s:I}", "intent", r->intents[i], "matched",
                                             (json_int_t)r->ok_by[i], "total", (json_int_t)r->n_by[i],
                                             "ceiling_matched", (json_int_t)r->ceil_ok_by[i], "ceiling_total",
                                             (json_int_t)r->ceil_n_by[i]));
    confusion *c;
    size_t nc = confusions(r, &c);
    for (size_t i = 0; i < nc; i++)
        json_array_append_new(conf, json_pack("{s:s, s:s, s:I}", "intent", intent_name(r, c[i].truth), "reply_intent",
                                              intent_name(r, c[i].got), "count", (json_int_t)c[i].n));
    free(c);
    size_t S = (size_t)a->samples < r->n_items ? (size_t)a->samples : r->n_items;
    for (size_t k = 0; k < S; k++) {
        const eval_item *it = &r->items[sample_index(k, S, r->n_items)];
        json_array_append_new(samples, json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:b}", "id", it->c->id, "intent",
                                                 intent_name(r, it->intent), "request", it->c->msgs[1].content,
                                                 "reply", it->reply, "reply_intent", intent_name(r, it->got.label),
                                                 "cosine", it->got.sim, "match", it->got.label == it->intent));
    }
    json_t *by_src = json_pack("{s:o, s:o}", "bitext", nll_json(&r->ppl_src[DS_SRC_BITEXT]), "star",
                               nll_json(&r->ppl_src[DS_SRC_STAR]));
    json_t *root = json_pack(
        "{s:s, s:s, s:I, s:i, s:s, s:b, s:o, s:o, s:{s:I, s:I, s:f}, s:{s:I, s:I, s:f}, s:{s:I, s:f, s:f, s:I}, "
        "s:o, s:o, s:o}",
        "model", a->model, "data", a->data, "parameters", (json_int_t)r->n_params, "context", r->n_ctx,
        "chat_template", chat_tmpl_name(r->tmpl), "reference_replies", a->reference, "heldout",
        nll_json(&r->ppl_all), "heldout_by_source", by_src,
        "intent_match", "matched", (json_int_t)r->match_ok, "total", (json_int_t)r->n_items, "rate",
        pct(r->match_ok, r->n_items) / 100.0, "ceiling", "matched", (json_int_t)r->ceil_ok, "total",
        (json_int_t)r->ceil_n, "rate", pct(r->ceil_ok, r->ceil_n) / 100.0, "replies", "count",
        (json_int_t)r->n_items, "seconds", r->gen_secs, "ms_per_reply",
        r->n_items ? r->gen_secs * 1000.0 / (double)r->n_items : 0.0, "tokens", (json_int_t)r->gen_tokens,
        "per_intent", per, "confusions", conf, "samples", samples);
    if (!root) {
        util_errf(err, errlen, "%s: could not build the JSON object", a->json);
        return -1;
    }
    strbuf tmp = {0};
    sb_printf(&tmp, "%s.tmp", a->json);
    int rc = json_dump_file(root, tmp.data, JSON_INDENT(2) | JSON_REAL_PRECISION(8));
    if (rc == 0 && rename(tmp.data, a->json) != 0)
        rc = -1;
    if (rc != 0) {
        util_errf(err, errlen, "%s: cannot write: %s", a->json, strerror(errno));
        unlink(tmp.data);
    }
    sb_free(&tmp);
    json_decref(root);
    return rc;
}

/* ---- The run ------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    eval_args a;
    int rc = parse(argc, argv, &a);
    if (rc != 0)
        return rc;
    char err[600];
    dataset d = {0};
    model *m = NULL;
    tok_vocab *v = NULL;
    fwd_ctx *ctx = NULL;
    sampler *s = NULL;
    tfidf *tf = NULL;
    eval_report r = {0};
    size_t *req = NULL;
    bool progress = isatty(2);
    rc = 1;

    ds_options o;
    ds_options_default(&o);
    o.data_dir = a.data;
    if (ds_load(&d, &o, err, sizeof err) != DS_OK || model_load(&m, a.model, err, sizeof err) != 0 ||
        tok_load(&v, m->file, err, sizeof err) != 0)
        goto fail;
    r.n_params = m->hp.n_params;
    r.n_ctx = m->hp.n_ctx_train ? (int)m->hp.n_ctx_train : 512;
    gguf_str ts = {"", 0};
    bool known;
    gguf_get_str(m->file, "tokenizer.chat_template", &ts);
    r.tmpl = chat_tmpl_detect(ts.ptr, (size_t)ts.len, &known);
    if (!(ctx = fwd_new(m, r.n_ctx, (int)a.threads, err, sizeof err)))
        goto fail;

    /* the intents and the classifier: every training Bitext answer */
    collect_intents(&d, &r);
    if (r.n_intents == 0) {
        util_errf(err, sizeof err, "%s: no Bitext conversations with an intent", a.data);
        goto fail;
    }
    size_t ni = r.n_intents;
    r.ok_by = xcalloc(ni, sizeof *r.ok_by);
    r.n_by = xcalloc(ni, sizeof *r.n_by);
    r.ceil_ok_by = xcalloc(ni, sizeof *r.ceil_ok_by);
    r.ceil_n_by = xcalloc(ni, sizeof *r.ceil_n_by);
    r.confusion = xcalloc(ni * (ni + 1), sizeof *r.confusion);
    tf = tfidf_new();
    r.n_train = ds_count(&d, DS_TRAIN);
    for (size_t i = 0; i < r.n_train; i++) {
        const ds_conv *c = ds_get(&d, DS_TRAIN, i);
        if (is_request(c)) {
            tfidf_add(tf, c->msgs[2].content, intent_index(&r, c->intent));
            r.n_train_answers++;
        }
    }
    tfidf_build(tf);

    /* the held-out requests, and the ceiling on their reference answers */
    r.n_valid = ds_count(&d, DS_VALID);
    size_t n_req = 0;
    req = xmallocarray(r.n_valid ? r.n_valid : 1, sizeof *req);
    for (size_t i = 0; i < r.n_valid; i++) {
        const ds_conv *c = ds_get(&d, DS_VALID, i);
        r.n_valid_src[c->source]++;
        if (!is_request(c))
            continue;
        req[n_req++] = i;
        int truth = intent_index(&r, c->intent);
        tfidf_match mt = tfidf_nearest(tf, c->msgs[2].content);
        r.ceil_n++;
        r.ceil_n_by[truth]++;
        r.ceil_ok += mt.label == truth;
        r.ceil_ok_by[truth] += mt.label == truth;
    }
    if (n_req == 0) {
        util_errf(err, sizeof err, "%s: no held-out Bitext requests", a.data);
        goto fail;
    }

    size_t n_ppl = a.limit > 0 && (size_t)a.limit < r.n_valid ? (size_t)a.limit : r.n_valid;
    if (progress)
        fprintf(stderr, "eval_model: perplexity over %zu held-out conversations...\n", n_ppl);
    if (perplexity(&d, m, v, ctx, n_ppl, &r, err, sizeof err) != 0)
        goto fail;

    /* the greedy replies */
    r.n_items = a.limit > 0 && (size_t)a.limit < n_req ? (size_t)a.limit : n_req;
    r.items = xcalloc(r.n_items, sizeof *r.items);
    sampler_params sp = sampler_defaults();
    sp.temp = 0.0f;
    s = sampler_new(&sp, (int)m->n_vocab);
    double t0 = util_now();
    for (size_t k = 0; k < r.n_items; k++) {
        eval_item *it = &r.items[k];
        it->c = ds_get(&d, DS_VALID, req[k * n_req / r.n_items]);
        it->intent = intent_index(&r, it->c->intent);
        if (a.reference) {
            it->reply = xstrdup(it->c->msgs[2].content);
            it->stop = GEN_STOP_EOG;
        } else if (reply(m, v, ctx, s, &r, it->c, it, err, sizeof err) != 0) {
            fprintf(stderr, "eval_model: %s: %s\n", it->c->id, err);
            r.n_items = k; /* the items filled so far are freed below */
            goto out;
        }
        it->got = tfidf_nearest(tf, it->reply);
        r.gen_tokens += it->gen_tokens;
        r.stops[it->stop]++;
        r.n_by[it->intent]++;
        bool ok = it->got.label == it->intent;
        r.match_ok += ok;
        r.ok_by[it->intent] += ok;
        r.confusion[(size_t)it->intent * (ni + 1) + (it->got.label >= 0 ? (size_t)it->got.label : ni)]++;
        if (progress)
            fprintf(stderr, "\reval_model: reply %zu/%zu, %zu matched", k + 1, r.n_items, r.match_ok);
    }
    r.gen_secs = util_now() - t0;
    if (progress)
        fputc('\n', stderr);

    print_report(&a, &r);
    fflush(stdout);
    if (a.json && write_json(&a, &r, err, sizeof err) != 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "eval_model: %s\n", err);
out:
    for (size_t k = 0; k < r.n_items; k++)
        free(r.items[k].reply);
    free(r.items);
    free(r.intents);
    free(r.ok_by);
    free(r.n_by);
    free(r.ceil_ok_by);
    free(r.ceil_n_by);
    free(r.confusion);
    free(req);
    tfidf_free(tf);
    sampler_free(s);
    fwd_free(ctx);
    tok_free(v);
    model_free(m);
    ds_free(&d);
    return rc;
}
