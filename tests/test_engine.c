/*
 * test_engine.c — the forward pass, sampling and generation against the
 * reference implementation's outputs (../shared/ref/expected/ref.jsonl).
 *
 * Tolerances are per precision class, the class of a file's least precise
 * matrix: F32 1e-3, F16 1e-2, BF16 5e-2, quantized 0.1 (absolute, on
 * logits).  Greedy continuations are compared wherever the reference's
 * smallest top-two gap is at least twice the difference we measure for
 * that file (test_generation_records).
 */
#include "tests/testutil.h"

#include "engine/forward.h"
#include "engine/generate.h"
#include "engine/gguf_write.h"
#include "engine/model.h"
#include "engine/prompt.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"
#include "util/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static json_t *load_records(void)
{
    const char *shared = test_shared_dir();
    if (!shared)
        return NULL;
    size_t len;
    char *text = test_read_file(test_path(shared, "ref/expected/ref.jsonl"), &len);
    json_t *all = json_array();
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        json_t *r = json_loads(line, 0, &e);
        if (!r)
            fail_msg("ref.jsonl: %s", e.text);
        json_array_append_new(all, r);
    }
    free(text);
    return all;
}

static double class_tolerance(const char *model_name)
{
    if (!strcmp(model_name, "stories260K.gguf") || strstr(model_name, "-f32."))
        return 1e-3;
    if (strstr(model_name, "-f16.") || !strcmp(model_name, "llama-2-tiny-random.gguf") ||
        !strcmp(model_name, "ref-llama-gpt2bpe-tied.gguf") || !strcmp(model_name, "ref-qwen2-starcoder-bias.gguf"))
        return 1e-2;
    if (strstr(model_name, "-bf16."))
        return 5e-2;
    return 0.1;
}

static bool is_quantized(const char *model_name) { return class_tolerance(model_name) == 0.1; }

static model *load_model(const char *name)
{
    char err[512];
    model *m = NULL;
    const char *path = test_path(test_path(test_shared_dir(), "ref/models"), name);
    if (model_load(&m, path, err, sizeof err) != 0)
        fail_msg("%s", err);
    return m;
}

static int32_t *record_tokens(json_t *r, size_t *n)
{
    json_t *toks = json_object_get(r, "tokens");
    *n = json_array_size(toks);
    int32_t *ids = xmallocarray(*n, sizeof *ids);
    for (size_t i = 0; i < *n; i++)
        ids[i] = (int32_t)json_integer_value(json_array_get(toks, i));
    return ids;
}

typedef struct {
    int32_t *ids;
    int *n;
} id_list;

static void on_tok(void *u, int32_t id)
{
    id_list *ud = u;
    if (*ud->n < 64)
        ud->ids[(*ud->n)++] = id;
}

/* The logits after a record's prompt (a fresh context of 256, two
 * threads); c is left holding the prompt for a greedy run. */
static float *record_logits(json_t *r, model *m, fwd_ctx **c, int32_t **ids, size_t *n)
{
    char err[256];
    *c = fwd_new(m, 256, 2, err, sizeof err);
    assert_non_null(*c);
    *ids = record_tokens(r, n);
    float *logits = xmallocarray(m->n_vocab, sizeof *logits);
    assert_int_equal(fwd_eval(*c, *ids, (int)*n, false, logits, NULL), FWD_OK);
    return logits;
}

/* The worst difference of a record's top-10 logits from the reference. */
static double record_deviation(json_t *r, const float *logits)
{
    double worst = 0;
    size_t j;
    json_t *pair;
    json_array_foreach(json_object_get(r, "last_logits_top"), j, pair) {
        int id = (int)json_integer_value(json_array_get(pair, 0));
        worst = fmax(worst, fabs(logits[id] - json_real_value(json_array_get(pair, 1))));
    }
    return worst;
}

/* Greedy ids from the prompt c holds: how many of the reference's agree
 * (-1 when all do, same count). */
static int greedy_first_difference(json_t *r, model *m, fwd_ctx *c, const int32_t *ids, size_t n)
{
    char err[256];
    tok_vocab *v;
    assert_int_equal(tok_load(&v, m->file, err, sizeof err), 0);
    sampler_params sp = sampler_defaults();
    sp.temp = 0;
    sp.repeat_penalty = 1.0f;
    sampler *s = sampler_new(&sp, (int)m->n_vocab);
    int32_t got[64];
    int n_got = 0;
    id_list ud = {got, &n_got};
    gen_opts o = {.n_predict = 32, .on_token = on_tok, .ud = &ud};
    gen_stats st;
    assert_int_equal(gen_run(c, m, v, s, ids, (int)n, &o, &st, err, sizeof err), 0);
    sampler_free(s);
    tok_free(v);
    json_t *want = json_object_get(r, "greedy");
    for (int k = 0; k < n_got && (size_t)k < json_array_size(want); k++)
        if (got[k] != json_integer_value(json_array_get(want, (size_t)k)))
            return k;
    if ((size_t)n_got == json_array_size(want))
        return -1;
    return n_got < (int)json_array_size(want) ? n_got : (int)json_array_size(want); /* one ran longer */
}

/*
 * Logits after each prompt match last_logits_top within the class
 * tolerance.  Greedy runs are compared wherever the reference was not
 * itself near a tie given how far we actually are from it: a record is
 * skipped only when its min_gap (the smallest top-two gap of the
 * reference's run) is below twice the worst logit difference we measure
 * for that file (each of the two top logits may move by that much).  Once
 * that difference was not enough: Q4_0's 85-token record (gap 2.6e-2, our
 * logits within 2.5e-2) diverged at token 19 under OpenBLAS's Sandybridge
 * kernels and agreed under the others.
 */
static void test_generation_records(void **state)
{
    (void)state;
    json_t *recs = load_records();
    if (!recs)
        skip();
    size_t i, checked_logits = 0, checked_greedy = 0, skipped_greedy = 0;
    json_t *r, *worst = json_object(); /* model -> its worst top-10 logit difference */
    json_array_foreach(recs, i, r) {
        if (!json_object_get(r, "greedy"))
            continue;
        const char *name = json_string_value(json_object_get(r, "model"));
        model *m = load_model(name);
        fwd_ctx *c;
        int32_t *ids;
        size_t n;
        float *logits = record_logits(r, m, &c, &ids, &n);
        double d = record_deviation(r, logits), tol = class_tolerance(name);
        if (d > tol)
            fail_msg("%s (prompt of %zu tokens): a top-10 logit is %.3g from the reference, tolerance %g", name, n,
                     d, tol);
        if (d > json_real_value(json_object_get(worst, name)))
            json_object_set_new(worst, name, json_real(d));
        checked_logits++;
        free(logits);
        free(ids);
        fwd_free(c);
        model_free(m);
    }
    json_array_foreach(recs, i, r) {
        if (!json_object_get(r, "greedy"))
            continue;
        const char *name = json_string_value(json_object_get(r, "model"));
        double gap = json_real_value(json_object_get(r, "min_gap")), d = json_real_value(json_object_get(worst, name));
        model *m = load_model(name);
        fwd_ctx *c;
        int32_t *ids;
        size_t n;
        free(record_logits(r, m, &c, &ids, &n));
        int k = greedy_first_difference(r, m, c, ids, n);
        if (gap >= 2 * d) {
            if (k >= 0)
                fail_msg("%s (prompt of %zu tokens): greedy token %d differs from the reference (its smallest "
                         "top-two gap %.3g, our logits within %.3g of it)",
                         name, n, k, gap, d);
            checked_greedy++;
        } else {
            /* not asserted: said, so README's claims can be checked */
            printf("  %-34s prompt of %2zu: not compared (reference gap %.2e < 2 x %.2e); ours %s", name, n, gap, d,
                   k < 0 ? "agree anyway\n" : "");
            if (k >= 0)
                printf("differ from token %d\n", k);
            skipped_greedy++;
        }
        free(ids);
        fwd_free(c);
        model_free(m);
    }
    const char *key;
    json_t *w;
    json_object_foreach(worst, key, w)
        printf("  %-34s worst top-10 logit difference from the reference %.2e (tolerance %g)\n", key,
               json_real_value(w), class_tolerance(key));
    json_decref(worst);
    printf("  logits checked for %zu prompts; greedy runs compared %zu, skipped %zu (reference gap below twice "
           "our measured difference)\n",
           checked_logits, checked_greedy, skipped_greedy);
    assert_true(checked_logits >= 45);
    assert_true(checked_greedy >= 20); /* today 22: every F32, F16, BF16 record and one Q8_0 */
    json_decref(recs);
}


static void hex_decode(const char *hex, strbuf *out)
{
    for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
        unsigned v;
        sscanf(hex + i, "%2x", &v);
        sb_putc(out, (char)v);
    }
}

/* stories260K through the CLI: exactly the reference bytes and a newline. */
static void test_stories_greedy_text(void **state)
{
    (void)state;
    json_t *recs = load_records();
    if (!recs)
        skip();
    const char *path = test_path(test_path(test_shared_dir(), "ref/models"), "stories260K.gguf");
    size_t i, checked = 0;
    json_t *r;
    json_array_foreach(recs, i, r) {
        if (strcmp(json_string_value(json_object_get(r, "model")), "stories260K.gguf") ||
            !json_object_get(r, "greedy"))
            continue;
        const char *argv[] = {test_bin(), "ask", "--model", path, "--raw", "--temp", "0", "-n", "32",
                              "--ctx", "256", "--no-db", json_string_value(json_object_get(r, "text")), NULL};
        char *out, *err;
        int rc = test_run(argv, NULL, 0, &out, &err);
        if (rc != 0)
            fail_msg("ask exited %d: %s", rc, err);
        strbuf want = {0};
        hex_decode(json_string_value(json_object_get(r, "greedy_text_hex")), &want);
        sb_putc(&want, '\n');
        if (strlen(out) != want.len || memcmp(out, want.data, want.len) != 0)
            fail_msg("ask wrote\n[%s]\nreference\n[%s]", out, want.data);
        sb_free(&want);
        free(out);
        free(err);
        checked++;
    }
    assert_int_equal(checked, 3);
    json_decref(recs);
}

/* Perplexity through the CLI, within 0.5% of the reference, same count. */
static void test_perplexity(void **state)
{
    (void)state;
    json_t *recs = load_records();
    if (!recs)
        skip();
    const char *shared = test_shared_dir();
    const char *text = test_path(shared, "ref/expected/prompts/ppl.txt");
    size_t i, checked = 0;
    json_t *r;
    json_array_foreach(recs, i, r) {
        if (!json_object_get(r, "ppl"))
            continue;
        const char *name = json_string_value(json_object_get(r, "model"));
        const char *argv[] = {test_bin(), "perplexity", "--model", test_path(test_path(shared, "ref/models"), name),
                              "--file", text, "--ctx", "64", NULL};
        char *out, *err;
        int rc = test_run(argv, NULL, 0, &out, &err);
        if (rc != 0)
            fail_msg("perplexity on %s exited %d: %s", name, rc, err);
        double ppl;
        long scored;
        if (sscanf(out, "ppl %lf tokens %ld", &ppl, &scored) != 2)
            fail_msg("perplexity printed '%s'", out);
        double want = json_real_value(json_object_get(r, "ppl"));
        long want_scored = (long)json_integer_value(json_object_get(r, "scored"));
        double rel = fabs(ppl - want) / want;
        printf("  %-34s ppl %12.4f reference %12.4f (%.3f%%) scored %ld\n", name, ppl, want, rel * 100, scored);
        assert_int_equal(scored, want_scored);
        /* the issue asks this of the quantized files; the others must be at
         * least as close */
        if (rel > 0.005)
            fail_msg("%s: perplexity %.4f differs from the reference %.4f by %.3f%% (%s)", name, ppl, want,
                     rel * 100, is_quantized(name) ? "quantized" : "unquantized");
        free(out);
        free(err);
        checked++;
    }
    assert_int_equal(checked, 15);
    json_decref(recs);
}

/* A prompt batch below 64 tokens takes decoding's arithmetic (its
 * attention, and each product as decoding's dot product: forward.c), so
 * its logits are one-by-one decoding's bit for bit, for every weight type
 * and on every kernel path (make test runs this suite under each).  Any
 * other order of summation ends 1e-3 (F32) to 6e-2 (Q4_1, Q5_1) away: the
 * half-precision and 8-bit roundings magnify it. */
static void test_batch_matches_sequential(void **state)
{
    (void)state;
    if (!test_shared_dir())
        skip();
    static const char *const files[] = {
        "stories260K.gguf", "llama-2-tiny-random.gguf", "ref-llama-gpt2bpe-tied.gguf",
        "ref-qwen2-starcoder-bias.gguf", "ref-llama-spm512-256-f32.gguf", "ref-llama-spm512-256-f16.gguf",
        "ref-llama-spm512-256-bf16.gguf", "ref-llama-spm512-256-q8_0.gguf", "ref-llama-spm512-256-q4_0.gguf",
        "ref-llama-spm512-256-q4_1.gguf", "ref-llama-spm512-256-q5_0.gguf", "ref-llama-spm512-256-q5_1.gguf",
        "ref-llama-spm512-256-q4_k_m.gguf", "ref-llama-spm512-256-q5_k_m.gguf", "ref-llama-spm512-256-q6_k.gguf"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        model *m = load_model(files[f]);
        char err[256];
        int32_t toks[40];
        for (int i = 0; i < 40; i++)
            toks[i] = (int32_t)((i * 7919 + 13) % m->n_vocab);
        float *la = xmallocarray(m->n_vocab, sizeof(float)), *lb = xmallocarray(m->n_vocab, sizeof(float));
        for (int n = 12; n <= 40; n += 28) {
            fwd_ctx *a = fwd_new(m, 64, 2, err, sizeof err), *b = fwd_new(m, 64, 1, err, sizeof err);
            assert_int_equal(fwd_eval(a, toks, n, false, la, NULL), FWD_OK);
            for (int i = 0; i < n; i++)
                assert_int_equal(fwd_eval(b, &toks[i], 1, false, lb, NULL), FWD_OK);
            double worst = 0;
            for (uint32_t i = 0; i < m->n_vocab; i++)
                worst = fmax(worst, fabs(la[i] - lb[i]));
            if (memcmp(la, lb, m->n_vocab * sizeof(float)) != 0)
                fail_msg("%s: a batch of %d tokens is not one-by-one decoding bit for bit (worst logit "
                         "difference %.3g)", files[f], n, worst);
            fwd_free(a);
            fwd_free(b);
        }
        printf("  %-34s batches of 12 and 40 tokens: bit for bit one-by-one decoding\n", files[f]);
        free(la);
        free(lb);
        model_free(m);
    }
}

static int32_t argmax(const float *x, uint32_t n)
{
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return (int32_t)best;
}

/*
 * Several sequences in one context, decoded together (fwd_decode_seqs):
 * each sequence's logits are bit for bit those of the same tokens
 * evaluated alone in a context of its own, one at a time, whichever other
 * sequences share its steps — for float and quantized weights, on every
 * kernel path (make test runs this suite under each).  Prompts of 1 to 70
 * tokens (70 takes the large-batch path) at different positions.
 */
static void test_decode_seqs_match_alone(void **state)
{
    (void)state;
    if (!test_shared_dir())
        skip();
    static const char *const files[] = {"stories260K.gguf", "ref-llama-spm512-256-f16.gguf",
                                        "ref-llama-spm512-256-q8_0.gguf", "ref-llama-spm512-256-q4_k_m.gguf",
                                        "ref-qwen2-starcoder-bias.gguf", "ref-llama-spm512-256-bf16.gguf"};
    enum { S = 10, STEPS = 12, CTX = 96 }; /* up to 10 together: a tile of eight tokens and the rest */
    static const int prompt_len[S] = {5, 12, 30, 70, 3, 9, 17, 1, 44, 8};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        model *m = load_model(files[f]);
        uint32_t V = m->n_vocab;
        char err[256];
        fwd_ctx *multi = fwd_new_multi(m, S, CTX, 2, err, sizeof err), *alone[S];
        assert_non_null(multi);
        float *lm = xmallocarray((size_t)S * V, sizeof(float)), *la = xmallocarray((size_t)S * V, sizeof(float));
        int32_t next[S];
        for (int q = 0; q < S; q++) {
            alone[q] = fwd_new(m, CTX, 2, err, sizeof err); /* the large-batch prompt path splits by threads */
            int32_t toks[70];
            for (int i = 0; i < prompt_len[q]; i++)
                toks[i] = (int32_t)((i * 7919 + 13 * (q + 1)) % V);
            assert_int_equal(fwd_eval_seq(multi, q, toks, prompt_len[q], false, lm + (size_t)q * V, NULL), FWD_OK);
            assert_int_equal(fwd_eval(alone[q], toks, prompt_len[q], false, la + (size_t)q * V, NULL), FWD_OK);
            assert_memory_equal(lm + (size_t)q * V, la + (size_t)q * V, V * sizeof(float));
            next[q] = argmax(la + (size_t)q * V, V);
        }
        for (int step = 0; step < STEPS; step++) {
            int seqs[S], n = 0;
            int32_t toks[S];
            for (int q = S - 1; q >= 0; q--) /* a changing subset, in another order than the cache's */
                if ((step + q) % 3 != 0 || step == 0) {
                    seqs[n] = q;
                    toks[n++] = next[q];
                }
            assert_int_equal(fwd_decode_seqs(multi, n, seqs, toks, lm), FWD_OK);
            for (int i = 0; i < n; i++) {
                int q = seqs[i];
                assert_int_equal(fwd_eval(alone[q], &toks[i], 1, false, la, NULL), FWD_OK);
                if (memcmp(lm + (size_t)i * V, la, V * sizeof(float)) != 0)
                    fail_msg("%s: sequence %d at step %d (%d together) differs from decoding it alone", files[f], q,
                             step, n);
                assert_int_equal(fwd_seq_past(multi, q), fwd_n_past(alone[q]));
                next[q] = argmax(la, V);
            }
        }
        /* a sequence named twice, or out of range: refused, nothing moves */
        int dup[2] = {1, 1}, bad[1] = {S};
        int32_t t2[2] = {next[1], next[1]};
        int past = fwd_seq_past(multi, 1);
        assert_int_equal(fwd_decode_seqs(multi, 2, dup, t2, lm), FWD_ESEQ);
        assert_int_equal(fwd_decode_seqs(multi, 1, bad, t2, lm), FWD_ESEQ);
        assert_int_equal(fwd_seq_past(multi, 1), past);
        printf("  %-34s %d sequences decoded together: bit for bit each alone\n", files[f], S);
        for (int q = 0; q < S; q++)
            fwd_free(alone[q]);
        fwd_free(multi);
        free(lm);
        free(la);
        model_free(m);
    }
}

/* FRONTDESK_SIMD through the binary: a path this CPU runs is taken and
 * named by --version; an unknown one is refused with one line naming the
 * paths it runs, exit 2, for every command. */
static void test_simd_env(void **state)
{
    (void)state;
    const char *argv[] = {"/usr/bin/env", "FRONTDESK_SIMD=portable", test_bin(), "--version", NULL};
    char *out, *err;
    assert_int_equal(test_run(argv, NULL, 0, &out, &err), 0);
    if (!strstr(out, "kernel path: portable"))
        fail_msg("--version under FRONTDESK_SIMD=portable printed: %s", out);
    free(out);
    free(err);
    const char *bad[][6] = {{"/usr/bin/env", "FRONTDESK_SIMD=avx3", test_bin(), "--version", NULL},
                            {"/usr/bin/env", "FRONTDESK_SIMD=fast", test_bin(), "config", NULL},
                            {"/usr/bin/env", "FRONTDESK_SIMD=AVX2", test_bin(), "info", "--help", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(test_run(bad[i], NULL, 0, &out, &err), 2);
        assert_string_equal(out, "");
        char *nl = strchr(err, '\n');
        if (!strstr(err, "no such kernel path; this CPU runs portable") || !nl || nl[1] != '\0')
            fail_msg("%s refused with: [%s]", bad[i][1], err);
        free(out);
        free(err);
    }
}

/* Decoding splits each product's rows into chunks that threads share out
 * and take from each other as they finish; whoever computes a row, its
 * value is the same: 1, 2 and 3 threads (3 on two cores makes the threads
 * take from each other often) give bit-identical logits token after token. */
static void test_decode_same_for_any_threads(void **state)
{
    (void)state;
    if (!test_shared_dir())
        skip();
    static const char *const files[] = {"ref-llama-spm512-256-q8_0.gguf", "ref-llama-spm512-256-f16.gguf",
                                        "ref-qwen2-starcoder-bias.gguf"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        model *m = load_model(files[f]);
        char err[256];
        fwd_ctx *c[3];
        float *l[3];
        for (int t = 0; t < 3; t++) {
            c[t] = fwd_new(m, 64, t + 1, err, sizeof err);
            assert_non_null(c[t]);
            l[t] = xmallocarray(m->n_vocab, sizeof(float));
        }
        for (int i = 0; i < 24; i++) {
            int32_t tok = (int32_t)((i * 7919 + 13) % m->n_vocab);
            for (int t = 0; t < 3; t++)
                assert_int_equal(fwd_eval(c[t], &tok, 1, false, l[t], NULL), FWD_OK);
            assert_memory_equal(l[0], l[1], m->n_vocab * sizeof(float));
            assert_memory_equal(l[0], l[2], m->n_vocab * sizeof(float));
        }
        for (int t = 0; t < 3; t++) {
            fwd_free(c[t]);
            free(l[t]);
        }
        model_free(m);
    }
}

/* A conversation too long for the context loses its oldest turns, never
 * the system prompt or the newest message. */
static void test_prompt_drops_oldest_turns(void **state)
{
    (void)state;
    if (!test_shared_dir())
        skip();
    model *m = load_model("stories260K.gguf");
    tok_vocab *v;
    char err[256];
    assert_int_equal(tok_load(&v, m->file, err, sizeof err), 0);
    chat_msg msgs[21];
    msgs[0] = (chat_msg){"system", "SYSTEMPROMPT"};
    for (int i = 1; i < 21; i++)
        msgs[i] = (chat_msg){i % 2 ? "user" : "assistant", i == 20 ? "the newest question" : "a fairly long turn of the conversation"};
    int32_t *ids;
    size_t n, dropped;
    assert_int_equal(prompt_fit(CHAT_TMPL_CHATML, v, msgs, 21, 1024, 64, &ids, &n, &dropped, err, sizeof err), 0);
    assert_int_equal(dropped, 0);
    size_t full = n;
    free(ids);
    assert_int_equal(prompt_fit(CHAT_TMPL_CHATML, v, msgs, 21, (int)full / 2 + 64, 64, &ids, &n, &dropped, err,
                                sizeof err), 0);
    assert_true(dropped > 0 && n <= full / 2);
    /* the kept text still starts with the system prompt and ends with the
     * newest message */
    strbuf text = {0};
    tok_stream ts;
    tok_stream_init(&ts, v);
    for (size_t i = 0; i < n; i++)
        tok_stream_push(&ts, ids[i], &text);
    tok_stream_flush(&ts, &text);
    assert_non_null(strstr(text.data, "SYSTEMPROMPT"));
    assert_non_null(strstr(text.data, "the newest question"));
    sb_free(&text);
    free(ids);
    /* nothing left to drop: a clear error, not a truncated prompt */
    assert_int_equal(prompt_fit(CHAT_TMPL_CHATML, v, msgs, 21, 40, 16, &ids, &n, &dropped, err, sizeof err), -1);
    assert_non_null(strstr(err, "too long"));
    tok_free(v);
    model_free(m);
}

/* Hyper-parameters alone do not size the load's memory: a file of a few
 * hundred bytes claiming 4096 layers of width 65536 (fuzz_gguf found one)
 * fails on its embedding's shape, in a child whose data segment may grow by
 * at most 256 MiB (the loader once asked for 5.4 GB of norms first). */
static void test_load_claims_no_memory(void **state)
{
    (void)state;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u32(w, "llama.block_count", 4096);
    gguf_writer_set_u32(w, "llama.embedding_length", 65536);
    gguf_writer_set_u32(w, "llama.feed_forward_length", 64);
    gguf_writer_set_u32(w, "llama.attention.head_count", 128);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", 128);
    gguf_writer_set_u32(w, "llama.rope.dimension_count", 16);
    float emb[32 * 16] = {0};
    uint64_t ne[2] = {32, 16};
    gguf_writer_add_tensor(w, "token_embd.weight", GGML_TYPE_F32, 2, ne, emb, sizeof emb);
    const char *path = test_path(test_tmpdir(), "claims.gguf");
    char err[300];
    assert_int_equal(gguf_writer_write_file(w, path, err, sizeof err), GGUF_OK);
    gguf_writer_free(w);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* VmData now (huge under ASan: its shadow) + 256 MiB. */
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        unsigned long kb = 0;
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "VmData: %lu kB", &kb) == 1)
                break;
        if (f)
            fclose(f);
        struct rlimit lim = {.rlim_cur = (kb + 256 * 1024) * 1024, .rlim_max = RLIM_INFINITY};
        if (!kb || setrlimit(RLIMIT_DATA, &lim) != 0)
            _exit(3);
        model *m = NULL;
        int rc = model_load(&m, path, err, sizeof err);
        fprintf(stderr, "  model_load: %s\n", rc ? err : "loaded");
        _exit(rc != 0 && strstr(err, "'token_embd.weight' has shape [32, 16], expected [65536, 16]") ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generation_records),
        cmocka_unit_test(test_stories_greedy_text),
        cmocka_unit_test(test_perplexity),
        cmocka_unit_test(test_batch_matches_sequential),
        cmocka_unit_test(test_simd_env),
        cmocka_unit_test(test_decode_seqs_match_alone),
        cmocka_unit_test(test_decode_same_for_any_threads),
        cmocka_unit_test(test_prompt_drops_oldest_turns),
        cmocka_unit_test(test_load_claims_no_memory),
    };
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
