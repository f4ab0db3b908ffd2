/*
 * test_eval_model.c — the intent-match judge (train/tfidf.h) and the
 * evaluation tool (tools/eval_model.c).
 *
 *   - tokens: words lowercased, placeholders whole, malformed braces as
 *     separators, the placeholder length limit at its edge;
 *   - weights: idf and cosines against figures worked out by hand;
 *   - the nearest answer: ties go to the earliest, unknown text to none;
 *   - the inverted-index search against the document-by-document one on
 *     random corpora (same label, same document, bit-identical cosine),
 *     and neither ever beaten by any document's own cosine;
 *   - the tool on a tiny model it trains itself (needs ../shared, skips
 *     visibly without): the output's lines in order and consistent with
 *     its JSON, 27 intents, the classifier's ceiling over 80%, and with
 *     --reference-replies the metric scoring the true answers as high;
 *   - the tool's perplexity on the built-in model against the same figure
 *     computed here independently: the held-out conversations it scores
 *     rendered as ChatML by hand and tokenized whole, the agent turns found
 *     by their <|im_start|>assistant headers, the logits from the trainer's
 *     own forward pass (train/train.c, not the engine), the windows as the
 *     tool documents them.  The model is a trained one (perplexity ~3), so
 *     scoring another token than the target (~ln 4096 = 8.3 nats) or every
 *     token instead of the agent's moves the figure far beyond tolerance.
 */
#include "testutil.h"

#include "engine/gguf.h"
#include "engine/tokenizer.h"
#include "train/dataset.h"
#include "train/tfidf.h"
#include "train/train.h"
#include "util/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* |a - b| <= eps, saying both when not. */
#define assert_near(a, b, eps)                                                                              \
    do {                                                                                                    \
        double a_ = (a), b_ = (b);                                                                          \
        if (!(fabs(a_ - b_) <= (eps)))                                                                      \
            fail_msg("%s = %.17g, expected %.17g (within %g)", #a, a_, b_, (double)(eps));                  \
    } while (0)

/* ---- Tokens ------------------------------------------------------------------------ */

static void join(void *ud, const char *tok, size_t len)
{
    strbuf *sb = ud;
    assert_int_equal(strlen(tok), len);
    if (sb->len)
        sb_putc(sb, '|');
    sb_append(sb, tok, len);
}

static char *tokens_of(const char *text, size_t *n)
{
    strbuf sb = {0};
    sb_puts(&sb, "");
    *n = tfidf_tokenize(text, join, &sb);
    return sb.data;
}

static void test_tokenize(void **state)
{
    (void)state;
    size_t n;
    char *t = tokens_of("It's {{Order Number}}, ORDER-42{{bad {{}} {{a\nb}} x{{Web Site}}y", &n);
    assert_string_equal(t, "it|s|{{order number}}|order|42|bad|a|b|x|{{web site}}|y");
    assert_int_equal(n, 11);
    free(t);
    t = tokens_of("  ...  ", &n);
    assert_string_equal(t, "");
    assert_int_equal(n, 0);
    free(t);
    /* non-ASCII bytes separate words: "café" is "caf" */
    t = tokens_of("caf\xc3\xa9 ok", &n);
    assert_string_equal(t, "caf|ok");
    free(t);
    /* a name of exactly the limit is a placeholder, one byte more is not */
    char name[TFIDF_MAX_PLACEHOLDER + 2];
    for (int extra = 0; extra < 2; extra++) {
        size_t len = TFIDF_MAX_PLACEHOLDER + (size_t)extra;
        memset(name, 'A', len);
        name[len] = '\0';
        strbuf in = {0};
        sb_printf(&in, "{{%s}}", name);
        t = tokens_of(in.data, &n);
        assert_int_equal(n, 1);
        assert_int_equal(strlen(t), extra ? len : len + 4);
        assert_true(extra ? t[0] == 'a' : strncmp(t, "{{aaa", 5) == 0);
        free(t);
        sb_free(&in);
    }
}

/* ---- Weights and the nearest answer --------------------------------------------------- */

static void test_weights_by_hand(void **state)
{
    (void)state;
    tfidf *t = tfidf_new();
    tfidf_add(t, "refund my order", 0);
    tfidf_add(t, "Track my ORDER", 1);
    tfidf_add(t, "Refund, refund!", 2);
    tfidf_build(t);
    assert_int_equal(tfidf_n_docs(t), 3);
    assert_int_equal(tfidf_n_terms(t), 4);
    /* n = 3: df 2 for refund, my, order; df 1 for track */
    double i2 = log(4.0 / 3.0) + 1.0, i1 = log(4.0 / 2.0) + 1.0;

    tfidf_match m = tfidf_nearest(t, "how do I track it");
    assert_int_equal(m.label, 1);
    assert_int_equal(m.doc, 1);
    assert_near(m.sim, i1 / sqrt(i1 * i1 + 2 * i2 * i2), 1e-12);

    /* "refund" alone: document 2 is all refund (cosine 1), beating 0 */
    m = tfidf_nearest(t, "REFUND");
    assert_int_equal(m.label, 2);
    assert_near(m.sim, 1.0, 1e-12);

    /* counts matter: "refund order order" = (1, 2)·i2 over refund, order */
    double q = sqrt(5.0) * i2, d0 = sqrt(3.0) * i2;
    assert_near(tfidf_cosine(t, "refund order order", "refund my order"), (i2 * i2 + 2 * i2 * i2) / (q * d0),
                        1e-12);
    m = tfidf_nearest(t, "refund order order");
    assert_int_equal(m.label, 0);
    assert_near(m.sim, 3.0 / sqrt(15.0), 1e-12);

    /* nothing in common */
    m = tfidf_nearest(t, "hello there");
    assert_int_equal(m.label, -1);
    assert_true(m.sim == 0.0);
    m = tfidf_nearest_naive(t, "");
    assert_int_equal(m.label, -1);
    assert_true(tfidf_cosine(t, "hello", "refund") == 0.0);
    tfidf_free(t);

    /* a tie goes to the earliest document */
    t = tfidf_new();
    tfidf_add(t, "cancel the order", 7);
    tfidf_add(t, "Cancel the order.", 5);
    tfidf_add(t, "something else", 9);
    tfidf_build(t);
    m = tfidf_nearest(t, "cancel");
    assert_int_equal(m.doc, 0);
    assert_int_equal(m.label, 7);
    assert_int_equal(tfidf_doc_label(t, 1), 5);
    tfidf_free(t);
    tfidf_free(NULL);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A random text over words w0..w(V-1), skewed to the low ones, sometimes
 * with a placeholder or a word no document has. */
static void random_text(uint64_t *s, strbuf *out, int V)
{
    sb_clear(out);
    int n = 1 + (int)(rng_next(s) % 12);
    for (int i = 0; i < n; i++) {
        uint64_t r = rng_next(s);
        int w = (int)((r % (uint64_t)V) * ((r >> 32) % (uint64_t)V) / (uint64_t)V);
        switch ((r >> 20) % 10) {
        case 0: sb_printf(out, "{{Slot %d}} ", w % 5); break;
        case 1: sb_printf(out, "Unseen%d, ", w); break;
        default: sb_printf(out, "W%d ", w); break;
        }
    }
}

static void test_fast_matches_naive(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    strbuf text = {0};
    for (int round = 0; round < 4; round++) {
        int V = 20 + 60 * round, n_docs = 50 + 100 * round;
        tfidf *t = tfidf_new();
        char **docs = xcalloc((size_t)n_docs, sizeof *docs);
        for (int d = 0; d < n_docs; d++) {
            random_text(&seed, &text, V);
            /* some duplicates (with other labels): exact ties */
            docs[d] = xstrdup(d % 17 == 3 ? docs[d - 1] : text.data);
            tfidf_add(t, docs[d], (int)(rng_next(&seed) % 27));
        }
        tfidf_build(t);
        size_t none = 0;
        for (int k = 0; k < 300; k++) {
            random_text(&seed, &text, V + 10);
            tfidf_match a = tfidf_nearest(t, text.data), b = tfidf_nearest_naive(t, text.data);
            assert_int_equal(a.label, b.label);
            assert_true(a.sim == b.sim); /* the same sums in the same order */
            if (a.label < 0) {
                none++;
                continue;
            }
            assert_int_equal(a.doc, b.doc);
            assert_int_equal(a.label, tfidf_doc_label(t, a.doc));
            assert_true(a.sim > 0.0 && a.sim <= 1.0 + 1e-12);
            /* no document is closer, no earlier one as close (tfidf_cosine
             * adds the same products in the same order: exact compares) */
            for (int d = 0; d < n_docs; d++) {
                double c = tfidf_cosine(t, text.data, docs[d]);
                assert_true(c <= a.sim);
                if ((size_t)d < a.doc)
                    assert_true(c < a.sim);
            }
            assert_true(tfidf_cosine(t, text.data, docs[a.doc]) == a.sim);
        }
        assert_true(none < 100); /* the check above ran on most queries */
        for (int d = 0; d < n_docs; d++)
            free(docs[d]);
        free(docs);
        tfidf_free(t);
    }
    sb_free(&text);
}

/* ---- The tool ----------------------------------------------------------------------------- */

static const char *eval_bin(void)
{
    const char *b = getenv("FRONTDESK_BUILD");
    return test_path(b && *b ? b : "build", "tools/eval_model");
}

/* The line of out starting with prefix, or fail. */
static const char *line_of(const char *out, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, n) == 0)
            return p;
    fail_msg("no line starting '%s' in:\n%s", prefix, out);
    return NULL;
}

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fail_msg("%s: %s", path, je.text);
    return j;
}

static long jint(json_t *root, const char *obj, const char *key)
{
    json_t *o = json_object_get(root, obj);
    assert_non_null(o);
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return (long)json_integer_value(v);
}

static void test_tool_on_tiny_model(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared) {
        skip();
        return;
    }
    if (access(eval_bin(), X_OK) != 0)
        fail_msg("%s is missing (make builds it)", eval_bin());
    const char *data_dir = test_path(shared, "data");

    /* a tiny model: a few steps on a dozen conversations */
    const char *convs = test_path(test_tmpdir(), "convs.jsonl");
    FILE *f = fopen(convs, "w");
    assert_non_null(f);
    for (int i = 0; i < 12; i++)
        fprintf(f, "{\"messages\":[{\"role\":\"system\",\"content\":\"You are a support agent.\"},"
                   "{\"role\":\"user\",\"content\":\"I want to cancel order %d\"},"
                   "{\"role\":\"assistant\",\"content\":\"I can help you cancel order %d.\"}]}\n",
                i, i);
    fclose(f);
    const char *model = test_path(test_tmpdir(), "tiny.gguf");
    const char *train[] = {test_bin(), "train", "--vocab", "models/frontdesk-vocab.gguf", "--data", convs, "--out",
                           model, "--steps", "2", "--width", "32", "--layers", "1", "--heads", "2", "--kv-heads",
                           "2", "--ff", "64", "--ctx", "128", "--tokens", "256", "--threads", "1", "--type", "f32",
                           NULL};
    char *o, *e;
    int rc = test_run(train, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("train exited %d: %s", rc, e);
    free(o);
    free(e);

    /* five requests, three samples */
    const char *json = test_path(test_tmpdir(), "eval.json");
    const char *run[] = {eval_bin(), "--model", model, "--data", data_dir, "--limit", "5", "--samples", "3",
                         "--threads", "1", "--json", json, NULL};
    double t0 = util_now();
    rc = test_run(run, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("eval_model exited %d: %s", rc, e);
    printf("    eval_model --limit 5 on a tiny model: %.2f s\n", util_now() - t0);

    /* the lines, in order */
    static const char *const order[] = {"model        ", "data         ", "perplexity   ", "  bitext     ppl ",
                                        "  star       ppl ", "intent match ", "ceiling      ", "replies      ",
                                        "per intent   ", "confusions   ", "samples      "};
    const char *prev = o;
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        const char *l = line_of(o, order[i]);
        assert_true(l >= prev);
        prev = l;
    }
    double ppl, nll, rate;
    unsigned long tokens, convs_n, ok, total, c_ok, c_total;
    assert_int_equal(sscanf(line_of(o, "perplexity   "),
                            "perplexity %lf on held-out agent turns (mean NLL %lf nats over %lu tokens, %lu",
                            &ppl, &nll, &tokens, &convs_n),
                     4);
    assert_true(tokens > 0 && convs_n == 5);
    assert_near(ppl, exp(nll), ppl * 1e-3);
    assert_true(nll > 1.0 && nll < 12.0); /* an untrained 4096-token model: about ln 4096 = 8.3 */
    assert_int_equal(sscanf(line_of(o, "intent match "), "intent match %lu/%lu = %lf%%", &ok, &total, &rate), 3);
    assert_int_equal(total, 5);
    assert_true(ok <= total);
    assert_int_equal(sscanf(line_of(o, "ceiling      "), "ceiling %lu/%lu = %lf%%", &c_ok, &c_total, &rate), 3);
    assert_true(c_total >= 150);                    /* every held-out Bitext answer, whatever --limit */
    assert_true((double)c_ok > 0.8 * (double)c_total); /* the metric can show a good model */
    printf("    classifier ceiling: %lu/%lu = %.1f%%\n", c_ok, c_total, rate);

    /* 27 intents, their totals adding up to the requests and the ceiling */
    const char *p = strchr(line_of(o, "per intent   "), '\n') + 1;
    unsigned long sum = 0, csum = 0;
    int intents = 0;
    while (strncmp(p, "confusions", 10) != 0) {
        char name[64];
        unsigned long a, b, c, d;
        assert_int_equal(sscanf(p, " %63s %lu/%lu %lu/%lu", name, &a, &b, &c, &d), 5);
        assert_true(a <= b && c <= d);
        sum += b;
        csum += d;
        intents++;
        p = strchr(p, '\n') + 1;
    }
    assert_int_equal(intents, 27);
    assert_int_equal(sum, 5);
    assert_int_equal(csum, c_total);
    assert_non_null(strstr(o, "samples      3 of the 5 evaluated requests"));
    assert_non_null(strstr(o, "\n  [1] bitext:"));
    assert_non_null(strstr(o, "\n  [3] bitext:"));
    assert_null(strstr(o, "\n  [4] "));
    size_t requests = 0, replies = 0;
    for (const char *q = o; (q = strstr(q, "\n    request: ")); q++)
        requests++;
    for (const char *q = o; (q = strstr(q, "\n    reply:   ")); q++)
        replies++;
    assert_int_equal(requests, 3);
    assert_int_equal(replies, 3);

    /* the JSON says the same */
    json_t *j = load_json(json);
    assert_int_equal(jint(j, "intent_match", "matched"), (long)ok);
    assert_int_equal(jint(j, "intent_match", "total"), 5);
    assert_int_equal(jint(j, "ceiling", "matched"), (long)c_ok);
    assert_int_equal(jint(j, "heldout", "tokens"), (long)tokens);
    assert_int_equal(json_array_size(json_object_get(j, "per_intent")), 27);
    assert_int_equal(json_array_size(json_object_get(j, "samples")), 3);
    json_t *s0 = json_array_get(json_object_get(j, "samples"), 0);
    assert_true(json_is_string(json_object_get(s0, "request")) && json_is_string(json_object_get(s0, "reply")));
    json_decref(j);
    free(o);
    free(e);

    /* the metric itself: the true answers, scored as replies, match about as
     * often as the ceiling says (40 of them, spread over the intents) */
    const char *ref[] = {eval_bin(), "--model", model, "--data", data_dir, "--limit", "40", "--samples", "0",
                         "--reference-replies", NULL};
    rc = test_run(ref, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("eval_model --reference-replies exited %d: %s", rc, e);
    assert_int_equal(sscanf(line_of(o, "intent match "), "intent match %lu/%lu", &ok, &total), 2);
    assert_int_equal(total, 40);
    assert_true(ok >= 32);
    assert_null(strstr(o, "samples      "));
    free(o);
    free(e);

    /* bad usage and a missing model are errors that say so */
    const char *bad[] = {eval_bin(), "--limit", "x", NULL};
    assert_int_equal(test_run(bad, NULL, 0, &o, &e), 2);
    assert_non_null(strstr(e, "--limit"));
    free(o);
    free(e);
    const char *missing[] = {eval_bin(), "--model", "/nonexistent.gguf", "--data", data_dir, NULL};
    assert_int_equal(test_run(missing, NULL, 0, &o, &e), 1);
    assert_non_null(strstr(e, "/nonexistent.gguf"));
    free(o);
    free(e);
}

/* ---- The tool's perplexity, computed another way -------------------------------------- */

static double jreal(json_t *root, const char *obj, const char *key)
{
    json_t *o = json_object_get(root, obj);
    assert_non_null(o);
    json_t *v = json_object_get(o, key);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

/* The NLL of conversation c's agent turns under the trainer's forward pass
 * of model tm: added to *nll, the scored targets to *n. */
static size_t nll_by_trainer(train_model *tm, const tok_vocab *v, const ds_conv *c, int n_ctx, float *logits,
                             double *nll, size_t *n)
{
    /* the conversation as ChatML, by hand, tokenized whole */
    strbuf text = {0};
    for (size_t i = 0; i < c->n_msgs; i++)
        sb_printf(&text, "<|im_start|>%s\n%s<|im_end|>\n", ds_role_name(c->msgs[i].role), c->msgs[i].content);
    int32_t *ids = NULL;
    size_t n_ids = 0, cap = 0;
    char err[256];
    if (tok_encode(v, text.data, text.len, false, true, &ids, &n_ids, &cap, err, sizeof err) != 0)
        fail_msg("%s: %s", c->id, err);
    sb_free(&text);
    /* the targets to score: each learnt agent message's content and the
     * <|im_end|> closing it — from the token after its header
     * "<|im_start|>assistant\n" up to and including the next <|im_end|> */
    int32_t im_start = -1, im_end = -1, *hdr = NULL;
    size_t n_hdr = 0, hcap = 0;
    assert_int_equal(tok_encode(v, "<|im_start|>", 12, false, true, &hdr, &n_hdr, &hcap, err, sizeof err), 0);
    assert_int_equal(n_hdr, 1);
    im_start = hdr[0];
    n_hdr = 0;
    assert_int_equal(tok_encode(v, "<|im_end|>", 10, false, true, &hdr, &n_hdr, &hcap, err, sizeof err), 0);
    assert_int_equal(n_hdr, 1);
    im_end = hdr[0];
    n_hdr = 0;
    assert_int_equal(tok_encode(v, "assistant\n", 10, false, false, &hdr, &n_hdr, &hcap, err, sizeof err), 0);
    uint8_t *score = calloc(n_ids, 1);
    size_t msg = 0, agent_tokens = 0;
    for (size_t i = 0; i < n_ids; i++) {
        if (ids[i] != im_start)
            continue;
        assert_true(msg < c->n_msgs);
        if (c->msgs[msg].role == DS_ROLE_ASSISTANT && msg >= c->learn_from) {
            assert_true(i + 1 + n_hdr < n_ids);
            assert_memory_equal(ids + i + 1, hdr, n_hdr * sizeof *hdr);
            size_t j = i + 1 + n_hdr;
            for (; j < n_ids && ids[j] != im_end; j++)
                score[j] = 1;
            assert_true(j < n_ids);
            score[j] = 1;
            agent_tokens += j - (i + n_hdr); /* content + <|im_end|> */
        }
        msg++;
    }
    assert_int_equal(msg, c->n_msgs);
    assert_true(agent_tokens > 0);
    /* windows of n_ctx inputs from position 0, each from an empty cache,
     * every target once */
    for (size_t start = 0; start + 1 < n_ids; start += (size_t)n_ctx) {
        size_t len = n_ids - 1 - start < (size_t)n_ctx ? n_ids - 1 - start : (size_t)n_ctx;
        if (train_logits(tm, ids + start, (int)len, logits, err, sizeof err) != TRAIN_OK)
            fail_msg("%s: %s", c->id, err);
        for (size_t i = 0; i < len; i++) {
            if (!score[start + 1 + i])
                continue;
            const float *l = logits + i * 4096;
            double mx = l[0], sum = 0;
            for (int k = 1; k < 4096; k++)
                mx = l[k] > mx ? l[k] : mx;
            for (int k = 0; k < 4096; k++)
                sum += exp((double)l[k] - mx);
            *nll += mx + log(sum) - l[ids[start + 1 + i]];
            (*n)++;
        }
    }
    free(score);
    free(hdr);
    free(ids);
    return n_ids;
}

/* The tool on the built-in model, run once for the tests below: --limit 9
 * (9: one of the scored conversations, held-out number 438 of 681 tokens,
 * is longer than the context, so the windows are checked too), every
 * evaluated request a sample.  And the data it reads. */
enum { N_EVAL = 9 };
static json_t *builtin_json;
static dataset builtin_data;

static json_t *builtin_eval(const char *data_dir)
{
    if (builtin_json)
        return builtin_json;
    if (access(eval_bin(), X_OK) != 0)
        fail_msg("%s is missing (make builds it)", eval_bin());
    const char *json = test_path(test_tmpdir(), "eval-builtin.json");
    const char *run[] = {eval_bin(), "--model", "models/frontdesk-cs.gguf", "--data", data_dir, "--limit", "9",
                         "--samples", "9", "--json", json, NULL};
    char *o, *e;
    int rc = test_run(run, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("eval_model exited %d: %s", rc, e);
    free(o);
    free(e);
    builtin_json = load_json(json);
    ds_options opt;
    ds_options_default(&opt);
    opt.data_dir = data_dir;
    char err[512];
    if (ds_load(&builtin_data, &opt, err, sizeof err) != DS_OK)
        fail_msg("%s", err);
    return builtin_json;
}

static int free_builtin_eval(void **state)
{
    (void)state;
    json_decref(builtin_json);
    builtin_json = NULL;
    ds_free(&builtin_data);
    return 0;
}

static void test_tool_perplexity_by_the_trainer(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared) {
        skip();
        return;
    }
    const char *data_dir = test_path(shared, "data"), *model = "models/frontdesk-cs.gguf";
    enum { N = N_EVAL };
    json_t *j = builtin_eval(data_dir);
    double tool_nll = jreal(j, "heldout", "mean_nll");
    long tool_tokens = jint(j, "heldout", "tokens"), tool_convs = jint(j, "heldout", "conversations");
    dataset *dp = &builtin_data;
    char err[512];

    /* the same conversations: number k·M/N of the M held out (--limit N) */
    gguf_file *f;
    tok_vocab *v;
    assert_int_equal(gguf_open(&f, model, err, sizeof err), GGUF_OK);
    assert_int_equal(tok_load(&v, f, err, sizeof err), 0);
    gguf_close(f);
    assert_int_equal(tok_n_vocab(v), 4096);
    train_config tc;
    train_config_default(&tc);
    tc.n_ctx = 0; /* the file's: 512 */
    tc.n_batch = 1;
    tc.n_threads = 1;
    train_model *tm;
    if (train_import_gguf(&tm, model, &tc, err, sizeof err) != TRAIN_OK)
        fail_msg("%s", err);
    int n_ctx = (int)train_get_config(tm)->n_ctx;
    assert_int_equal(n_ctx, 512);
    float *logits = malloc((size_t)n_ctx * 4096 * sizeof *logits);
    double nll = 0;
    size_t tokens = 0, M = ds_count(dp, DS_VALID), longest = 0;
    assert_true(M > 400);
    for (size_t k = 0; k < N; k++) {
        size_t len = nll_by_trainer(tm, v, ds_get(dp, DS_VALID, k * M / N), n_ctx, logits, &nll, &tokens);
        longest = len > longest ? len : longest;
    }
    if (longest <= (size_t)n_ctx)
        fail_msg("no conversation of these is longer than the context (%zu tokens at most): the windows go "
                 "unchecked; pick another N",
                 longest);
    double mean = nll / (double)tokens;
    printf("    held-out agent turns of %d conversations (the longest %zu tokens): the tool %.5f nats over %ld "
           "tokens, the trainer's forward pass %.5f over %zu\n",
           N, longest, tool_nll, tool_tokens, mean, tokens);
    assert_int_equal(tool_convs, N);
    if ((size_t)tool_tokens != tokens)
        fail_msg("the tool scored %ld tokens; the agent turns of those conversations are %zu", tool_tokens, tokens);
    /* the engine (Q8_0 activations, a half-precision KV cache) and the
     * trainer (F32 throughout) differ by up to ~1e-2 in a logit; the means
     * agreed to 3.3e-4 when this was written (2.2e-4 on the portable path).
     * Scoring another token moves the mean by ~10 nats, the mask one token
     * off by 0.2, windows overlapping by one token by 3e-3. */
    if (!(fabs(tool_nll - mean) < 2e-3))
        fail_msg("the tool's mean NLL %.5f is not the trainer's %.5f", tool_nll, mean);
    assert_true(mean > 0.3 && mean < 2.5); /* a trained model: far below ln 4096 */
    free(logits);
    train_free(tm);
    tok_free(v);
}

/* A Bitext request the tool evaluates: system, request, answer. */
static bool is_request(const ds_conv *c)
{
    return c->source == DS_SRC_BITEXT && c->intent && c->n_msgs == 3 && c->msgs[1].role == DS_ROLE_USER &&
           c->msgs[2].role == DS_ROLE_ASSISTANT;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("no string '%s' in a sample", key);
    return json_string_value(v);
}

/* The tool's intent figures on the built-in model, each redone here: the
 * evaluated requests are the held-out Bitext requests number k·R/9; each
 * reply is the greedy reply `frontdesk ask` gives to the same system
 * prompt and request; the judge is built here from the training split's
 * answers; a match is the judge's intent being the request's; and the
 * ceiling is the judge on every held-out reference answer. */
static void test_tool_intent_match_by_hand(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared) {
        skip();
        return;
    }
    const char *cfg = test_path(test_tmpdir(), "config-home"); /* no user config for ask */
    mkdir(cfg, 0700);
    setenv("XDG_CONFIG_HOME", cfg, 1);
    json_t *j = builtin_eval(test_path(shared, "data"));
    const dataset *d = &builtin_data;

    /* the judge: 1-NN TF-IDF over the training answers, labelled by intent */
    const char *names[64];
    int n_names = 0;
    tfidf *t = tfidf_new();
    for (size_t i = 0; i < ds_count(d, DS_TRAIN); i++) {
        const ds_conv *c = ds_get(d, DS_TRAIN, i);
        if (!is_request(c))
            continue;
        int k = 0;
        while (k < n_names && strcmp(names[k], c->intent) != 0)
            k++;
        if (k == n_names) {
            assert_true(n_names < 64);
            names[n_names++] = c->intent;
        }
        tfidf_add(t, c->msgs[2].content, k);
    }
    tfidf_build(t);
    assert_int_equal(n_names, 27);

    /* the ceiling: every held-out reference answer */
    size_t R = 0, ceil_ok = 0, req[1024];
    for (size_t i = 0; i < ds_count(d, DS_VALID); i++) {
        const ds_conv *c = ds_get(d, DS_VALID, i);
        if (!is_request(c))
            continue;
        assert_true(R < 1024);
        req[R++] = i;
        tfidf_match m = tfidf_nearest(t, c->msgs[2].content);
        ceil_ok += m.label >= 0 && strcmp(names[m.label], c->intent) == 0;
    }
    assert_int_equal(jint(j, "ceiling", "total"), (long)R);
    assert_int_equal(jint(j, "ceiling", "matched"), (long)ceil_ok);

    /* the replies and their matches */
    json_t *samples = json_object_get(j, "samples");
    assert_int_equal(json_array_size(samples), N_EVAL);
    assert_int_equal(jint(j, "intent_match", "total"), N_EVAL);
    size_t ok = 0;
    for (size_t k = 0; k < N_EVAL; k++) {
        const ds_conv *c = ds_get(d, DS_VALID, req[k * R / N_EVAL]);
        json_t *s = json_array_get(samples, k);
        assert_string_equal(jstr(s, "id"), c->id);
        assert_string_equal(jstr(s, "request"), c->msgs[1].content);
        assert_string_equal(jstr(s, "intent"), c->intent);
        const char *ask[] = {test_bin(), "ask", "--model", "models/frontdesk-cs.gguf", "--temp", "0", "-n", "128",
                             "--threads", "1", "--no-db", "--system", c->msgs[0].content, c->msgs[1].content, NULL};
        char *reply, *e;
        if (test_run(ask, NULL, 0, &reply, &e) != 0)
            fail_msg("frontdesk ask: %s", e);
        size_t len = strlen(reply);
        assert_true(len > 0 && reply[len - 1] == '\n');
        reply[len - 1] = '\0';
        if (strcmp(jstr(s, "reply"), reply) != 0)
            fail_msg("%s: the tool's reply\n  %s\nis not the greedy reply to the request\n  %s", c->id,
                     jstr(s, "reply"), reply);
        tfidf_match m = tfidf_nearest(t, reply);
        const char *got = m.label >= 0 ? names[m.label] : "none";
        if (strcmp(jstr(s, "reply_intent"), got) != 0)
            fail_msg("%s: the tool judged the reply %s, the judge built here %s", c->id, jstr(s, "reply_intent"),
                     got);
        bool match = strcmp(got, c->intent) == 0;
        assert_true(json_is_true(json_object_get(s, "match")) == match);
        ok += match;
        free(reply);
        free(e);
    }
    printf("    intent match %zu/%d of the evaluated requests, ceiling %zu/%zu: as the tool says\n", ok, N_EVAL,
           ceil_ok, R);
    assert_int_equal(jint(j, "intent_match", "matched"), (long)ok);
    assert_true(ok >= 5); /* the model card: 86% of held-out requests */
    tfidf_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize),
        cmocka_unit_test(test_weights_by_hand),
        cmocka_unit_test(test_fast_matches_naive),
        cmocka_unit_test(test_tool_on_tiny_model),
        cmocka_unit_test(test_tool_perplexity_by_the_trainer),
        cmocka_unit_test(test_tool_intent_match_by_hand),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, free_builtin_eval));
}
