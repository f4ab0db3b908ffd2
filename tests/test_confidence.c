/*
 * test_confidence.c — each reply's confidence: the sampled tokens'
 * log-probabilities that gen_run (engine/generate.h) and the batching
 * scheduler (engine/batch.h) report in gen_stats.
 *
 * The expected figures are computed here, not by the engine's own
 * gen_logprob: the prompt and then the generated ids are evaluated one
 * by one on a plain context (fwd_eval), and each id's log-softmax is
 * taken from those logits in long double, two passes (the largest logit,
 * then the sum).  The model is the built-in one (models/frontdesk-cs.gguf),
 * always in the repository.
 */
#include "testutil.h"

#include "engine/batch.h"
#include "engine/forward.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"
#include "util/util.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUILTIN "models/frontdesk-cs.gguf"
enum { CTX = 256, N_GEN = 16, MAX_IDS = 64 };
#define TOL 1e-4

static const char PROMPT[] =
    "<|im_start|>user\nMy order has not arrived yet, can you help?<|im_end|>\n<|im_start|>assistant\n";

static model *mdl;
static tok_vocab *voc;
static int32_t *prompt;
static int n_prompt;

static int setup(void **state)
{
    (void)state;
    char err[512];
    if (model_load(&mdl, BUILTIN, err, sizeof err) != 0 || tok_load(&voc, mdl->file, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", BUILTIN, err);
        return -1;
    }
    size_t n = 0, cap = 0;
    if (tok_encode(voc, PROMPT, strlen(PROMPT), true, false, &prompt, &n, &cap, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    n_prompt = (int)n;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(prompt);
    tok_free(voc);
    model_free(mdl);
    return 0;
}

/* log softmax(x)[id], the plain way. */
static double naive_logprob(const float *x, int n, int id)
{
    long double max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max)
            max = x[i];
    long double sum = 0;
    for (int i = 0; i < n; i++)
        sum += expl((long double)x[i] - max);
    return (double)(((long double)x[id] - max) - logl(sum));
}

typedef struct {
    double sum, min;
    int n;
} figures;

/* The log-probabilities of ids[0..n) after the prompt, from logits of a
 * context of our own. */
static figures reference(const int32_t *ids, int n)
{
    char err[256];
    fwd_ctx *c = fwd_new(mdl, CTX, 1, err, sizeof err);
    assert_non_null(c);
    float *logits = xmallocarray(mdl->n_vocab, sizeof *logits);
    assert_int_equal(fwd_eval(c, prompt, n_prompt, false, logits, NULL), FWD_OK);
    figures f = {0, 0, 0};
    for (int k = 0; k < n; k++) {
        double lp = naive_logprob(logits, (int)mdl->n_vocab, ids[k]);
        f.sum += lp;
        f.min = k == 0 || lp < f.min ? lp : f.min;
        f.n++;
        if (k + 1 < n)
            assert_int_equal(fwd_eval(c, &ids[k], 1, false, logits, NULL), FWD_OK);
    }
    free(logits);
    fwd_free(c);
    return f;
}

static void expect_figures(const gen_stats *st, figures want, const char *what)
{
    assert_int_equal(st->n_logprob, want.n);
    assert_int_equal(st->n_logprob, st->gen_tokens);
    if (fabs(st->logprob_sum - want.sum) > TOL || fabs(st->logprob_min - want.min) > TOL)
        fail_msg("%s: log-probabilities sum %.6f min %.6f, the reference %.6f and %.6f", what, st->logprob_sum,
                 st->logprob_min, want.sum, want.min);
}

/* ---- gen_run ---------------------------------------------------------------------- */

typedef struct {
    int32_t ids[MAX_IDS];
    int n;
} tokens;

static void on_token(void *ud, int32_t id)
{
    tokens *t = ud;
    if (t->n < MAX_IDS)
        t->ids[t->n++] = id;
}

static gen_stats run(sampler_params p, int n_predict, tokens *t)
{
    char err[256];
    fwd_ctx *c = fwd_new(mdl, CTX, 1, err, sizeof err);
    assert_non_null(c);
    sampler *s = sampler_new(&p, (int)mdl->n_vocab);
    gen_opts o = {.n_predict = n_predict, .on_token = on_token, .ud = t};
    gen_stats st;
    assert_int_equal(gen_run(c, mdl, voc, s, prompt, n_prompt, &o, &st, err, sizeof err), 0);
    sampler_free(s);
    fwd_free(c);
    return st;
}

static void test_gen_run_greedy(void **state)
{
    (void)state;
    sampler_params p = sampler_defaults();
    p.temp = 0;
    tokens t = {.n = 0};
    gen_stats st = run(p, N_GEN, &t);
    assert_true(t.n >= 2);
    expect_figures(&st, reference(t.ids, t.n), "gen_run, greedy");
    /* a probability is at most 1, and greedy picks likely tokens */
    assert_true(st.logprob_min <= 0 && st.logprob_sum <= 0);
    assert_true(st.logprob_min <= st.logprob_sum / st.n_logprob);
}

/* Sampled with a penalty and a low temperature: the figures are still the
 * raw distribution's (temperature 1, no penalty), not the sampler's. */
static void test_gen_run_sampled_is_raw(void **state)
{
    (void)state;
    sampler_params p = sampler_defaults();
    p.temp = 0.3f;
    p.repeat_penalty = 1.5f;
    p.seed = 42;
    tokens t = {.n = 0};
    gen_stats st = run(p, N_GEN, &t);
    assert_true(t.n >= 2);
    expect_figures(&st, reference(t.ids, t.n), "gen_run, sampled at temperature 0.3 with a penalty");
}

static void test_no_token_no_figures(void **state)
{
    (void)state;
    sampler_params p = sampler_defaults();
    tokens t = {.n = 0};
    gen_stats st = run(p, 0, &t);
    assert_int_equal(t.n, 0);
    assert_int_equal(st.n_logprob, 0);
    assert_true(st.logprob_sum == 0 && st.logprob_min == 0);
}

/* ---- The scheduler ------------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tokens t;
    bool done;
    batch_result res;
} watch;

static void w_token(void *ud, int32_t id)
{
    watch *w = ud;
    pthread_mutex_lock(&w->mu);
    on_token(&w->t, id);
    pthread_mutex_unlock(&w->mu);
}

static void w_done(void *ud, const batch_result *r)
{
    watch *w = ud;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    w->res = *r;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Two jobs at once (so decode steps run batched), the first greedy. */
static void test_batch_matches(void **state)
{
    (void)state;
    char err[256];
    batch_opts bo = {.n_parallel = 2, .n_ctx = CTX, .n_threads = 1, .max_queue = 4};
    batch *b = batch_new(mdl, voc, &bo, err, sizeof err);
    assert_non_null(b);
    watch w[2];
    batch_job *j[2];
    for (int k = 0; k < 2; k++) {
        memset(&w[k], 0, sizeof w[k]);
        pthread_mutex_init(&w[k].mu, NULL);
        pthread_cond_init(&w[k].cv, NULL);
        batch_req rq = {.prompt = prompt, .n_prompt = n_prompt, .n_predict = N_GEN, .sampling = sampler_defaults(),
                        .on_token = w_token, .on_done = w_done, .ud = &w[k]};
        rq.sampling.temp = k == 0 ? 0.0f : 0.3f;
        rq.sampling.repeat_penalty = k == 0 ? 1.0f : 1.5f;
        rq.sampling.seed = 7;
        assert_int_equal(batch_submit(b, &rq, &j[k]), BATCH_OK);
    }
    for (int k = 0; k < 2; k++) {
        pthread_mutex_lock(&w[k].mu);
        while (!w[k].done)
            pthread_cond_wait(&w[k].cv, &w[k].mu);
        pthread_mutex_unlock(&w[k].mu);
        assert_int_equal(w[k].res.rc, 0);
        assert_true(w[k].t.n >= 2);
        expect_figures(&w[k].res.st, reference(w[k].t.ids, w[k].t.n), k ? "batch, sampled" : "batch, greedy");
    }
    /* greedy: the same tokens and the same sum as gen_run's */
    sampler_params p = sampler_defaults();
    p.temp = 0;
    tokens t = {.n = 0};
    gen_stats st = run(p, N_GEN, &t);
    assert_int_equal(t.n, w[0].t.n);
    assert_memory_equal(t.ids, w[0].t.ids, (size_t)t.n * sizeof *t.ids);
    assert_true(fabs(st.logprob_sum - w[0].res.st.logprob_sum) <= TOL);
    for (int k = 0; k < 2; k++) {
        batch_release(j[k]);
        pthread_mutex_destroy(&w[k].mu);
        pthread_cond_destroy(&w[k].cv);
    }
    batch_free(b);
}

/* ---- gen_logprob beside the naive version ----------------------------------------------- */

static void test_logprob_random_rows(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    enum { N = 1000 };
    float x[N];
    for (int round = 0; round < 50; round++) {
        /* spread and offset grow: at offset 1e4 exp without the largest
         * subtracted would overflow */
        double spread = 0.1 * (round + 1), offset = round % 5 == 4 ? 1e4 : -3.0 * round;
        for (int i = 0; i < N; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (float)(offset + spread * ((double)(rng >> 11) / 9007199254740992.0 - 0.5) * 20);
        }
        if (round % 3 == 0)
            x[round] = -INFINITY; /* a masked logit */
        int id = (int)((rng >> 20) % N);
        if (x[id] == -INFINITY)
            id = (id + 1) % N;
        double got = gen_logprob(x, N, id), want = naive_logprob(x, N, id);
        if (fabs(got - want) > 1e-9 * (1 + fabs(want)))
            fail_msg("round %d: %.12f, the naive %.12f", round, got, want);
    }
    /* one certain token, and a uniform row */
    float one[3] = {0, -INFINITY, -INFINITY};
    assert_true(gen_logprob(one, 3, 0) == 0.0);
    assert_true(gen_logprob(one, 3, 1) == -INFINITY);
    float flat[4] = {2, 2, 2, 2};
    assert_true(fabs(gen_logprob(flat, 4, 3) - log(0.25)) < 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logprob_random_rows),
        cmocka_unit_test(test_no_token_no_figures),
        cmocka_unit_test(test_gen_run_greedy),
        cmocka_unit_test(test_gen_run_sampled_is_raw),
        cmocka_unit_test(test_batch_matches),
    };
    return test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
