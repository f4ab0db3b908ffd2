/*
 * test_batch.c — the continuous-batching scheduler (engine/batch.h).
 *
 * The expected tokens come from a plain single-sequence context
 * (fwd_new, tested against llama.cpp in test_engine): the prompt in the
 * scheduler's chunks, then greedy decoding one token at a time with the
 * argmax taken here.  A job's tokens must equal them whether it runs
 * alone or beside others.  The built-in model (models/frontdesk-cs.gguf)
 * is always there; the F32 and F16 reference models of ../shared too when
 * it is.
 */
#include "testutil.h"

#include "engine/batch.h"
#include "engine/forward.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "util/util.h"

#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUILTIN "models/frontdesk-cs.gguf"
enum { CHUNK = 16, N_GEN = 24, CTX = 256 };

typedef struct {
    model *m;
    tok_vocab *v;
} loaded;

static loaded load(const char *path)
{
    loaded l = {0};
    char err[512];
    if (model_load(&l.m, path, err, sizeof err) != 0 || tok_load(&l.v, l.m->file, err, sizeof err) != 0)
        fail_msg("%s: %s", path, err);
    return l;
}

static void unload(loaded *l)
{
    tok_free(l->v);
    model_free(l->m);
}

static int32_t *encode(const loaded *l, const char *text, int *n)
{
    int32_t *ids = NULL;
    size_t n_ids = 0, cap = 0;
    char err[256];
    if (tok_encode(l->v, text, strlen(text), true, false, &ids, &n_ids, &cap, err, sizeof err) != 0)
        fail_msg("%s", err);
    *n = (int)n_ids;
    return ids;
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* Greedy tokens of prompt on a context of its own: chunks of CHUNK, then
 * one token at a time; stops after an end-of-generation id (included). */
static int reference(const loaded *l, const int32_t *prompt, int n_prompt, int n_gen, int32_t *out)
{
    char err[256];
    fwd_ctx *c = fwd_new(l->m, CTX, 1, err, sizeof err);
    assert_non_null(c);
    float *logits = xmallocarray(l->m->n_vocab, sizeof *logits);
    for (int i = 0; i < n_prompt; i += CHUNK) {
        int n = n_prompt - i < CHUNK ? n_prompt - i : CHUNK;
        assert_int_equal(fwd_eval(c, prompt + i, n, false, logits, NULL), FWD_OK);
    }
    int k = 0;
    while (k < n_gen) {
        int32_t id = argmax(logits, (int)l->m->n_vocab);
        out[k++] = id;
        if (tok_is_eog(l->v, id))
            break;
        assert_int_equal(fwd_eval(c, &id, 1, false, logits, NULL), FWD_OK);
    }
    free(logits);
    fwd_free(c);
    return k;
}

/* ---- A job's observer ------------------------------------------------------------ */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int32_t ids[1024];
    int n_ids;
    strbuf text;
    bool done;
    batch_result res;
    int texts_after_done; /* callbacks after on_done: must stay 0 */
    int stop_after_text;  /* on_text returns false once this many calls happened (0: never) */
    int n_text_calls;
} watch;

static void watch_init(watch *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static void watch_free(watch *w)
{
    sb_free(&w->text);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

static bool w_text(void *ud, const char *t, size_t n)
{
    watch *w = ud;
    pthread_mutex_lock(&w->mu);
    w->texts_after_done += w->done;
    sb_append(&w->text, t, n);
    w->n_text_calls++;
    bool go_on = !w->stop_after_text || w->n_text_calls < w->stop_after_text;
    pthread_mutex_unlock(&w->mu);
    return go_on;
}

static void w_token(void *ud, int32_t id)
{
    watch *w = ud;
    pthread_mutex_lock(&w->mu);
    if (w->n_ids < 1024)
        w->ids[w->n_ids++] = id;
    pthread_mutex_unlock(&w->mu);
}

static void w_done(void *ud, const batch_result *r)
{
    watch *w = ud;
    pthread_mutex_lock(&w->mu);
    assert_false(w->done);
    w->done = true;
    w->res = *r;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void wait_done(watch *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

/* Wait until the job has produced n tokens (or ended). */
static void wait_tokens(watch *w, int n)
{
    for (;;) {
        pthread_mutex_lock(&w->mu);
        bool ok = w->n_ids >= n || w->done;
        pthread_mutex_unlock(&w->mu);
        if (ok)
            return;
        usleep(1000);
    }
}

static batch_req greedy_req(const int32_t *prompt, int n, int n_gen, watch *w)
{
    batch_req rq = {.prompt = prompt, .n_prompt = n, .n_predict = n_gen};
    rq.sampling = sampler_defaults();
    rq.sampling.temp = 0.0f;
    rq.on_text = w_text;
    rq.on_token = w_token;
    rq.on_done = w_done;
    rq.ud = w;
    return rq;
}

static batch *start(const loaded *l, int parallel, int max_queue)
{
    char err[256];
    batch_opts o = {.n_parallel = parallel, .n_ctx = CTX, .n_threads = 2, .max_queue = max_queue,
                    .prefill_chunk = CHUNK};
    batch *b = batch_new(l->m, l->v, &o, err, sizeof err);
    if (!b)
        fail_msg("%s", err);
    return b;
}

/* ---- Tests ---------------------------------------------------------------------------- */

static const char *const PROMPTS[] = {
    "<|im_start|>user\nMy order has not arrived yet, can you help?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nI want a refund<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are a polite support agent of a shoe shop. Answer in one or two sentences and "
    "never promise what you cannot keep.<|im_end|>\n<|im_start|>user\nHow do I change the delivery address "
    "of order 12345?<|im_end|>\n<|im_start|>assistant\n",
    "Hello",
};
#define N_PROMPTS 4

/* Alone, then four at once with different lengths: the same tokens as the
 * single-sequence reference. */
static void identity_on(const char *path)
{
    loaded l = load(path);
    int32_t *prompt[N_PROMPTS], want[N_PROMPTS][N_GEN];
    int n_prompt[N_PROMPTS], n_want[N_PROMPTS];
    for (int k = 0; k < N_PROMPTS; k++) {
        prompt[k] = encode(&l, PROMPTS[k], &n_prompt[k]);
        n_want[k] = reference(&l, prompt[k], n_prompt[k], N_GEN, want[k]);
    }
    assert_true(n_prompt[2] > 2 * CHUNK); /* several chunks */
    for (int round = 0; round < 2; round++) {
        batch *b = start(&l, 4, 8);
        watch w[N_PROMPTS];
        batch_job *j[N_PROMPTS];
        int first = round == 0 ? 2 : 0, last = round == 0 ? 3 : N_PROMPTS; /* alone, then all */
        for (int k = first; k < last; k++) {
            watch_init(&w[k]);
            batch_req rq = greedy_req(prompt[k], n_prompt[k], N_GEN, &w[k]);
            assert_int_equal(batch_submit(b, &rq, &j[k]), BATCH_OK);
        }
        for (int k = first; k < last; k++) {
            wait_done(&w[k]);
            assert_int_equal(w[k].res.rc, 0);
            if (w[k].n_ids != n_want[k] || memcmp(w[k].ids, want[k], (size_t)n_want[k] * sizeof(int32_t)))
                fail_msg("%s, prompt %d (%s): tokens differ from the single-sequence run", path, k,
                         round ? "beside three others" : "alone");
            assert_int_equal(w[k].res.st.gen_tokens, n_want[k]);
            assert_int_equal(w[k].res.st.prompt_tokens, n_prompt[k]);
            assert_int_equal(w[k].res.st.stop, tok_is_eog(l.v, want[k][n_want[k] - 1]) ? GEN_STOP_EOG
                                                                                          : GEN_STOP_LENGTH);
            assert_true(w[k].res.st.ttft_ms >= w[k].res.queue_ms);
            assert_int_equal(w[k].texts_after_done, 0);
            batch_release(j[k]);
            watch_free(&w[k]);
        }
        batch_free(b);
    }
    for (int k = 0; k < N_PROMPTS; k++)
        free(prompt[k]);
    unload(&l);
}

static void test_identity_builtin(void **state)
{
    (void)state;
    identity_on(BUILTIN);
}

static void test_identity_reference_models(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        test_skip("../shared not found: the F32/F16 reference models live there");
    identity_on(test_path(shared, "ref/models/ref-llama-spm512-256-f32.gguf"));
    identity_on(test_path(shared, "ref/models/ref-llama-spm512-256-f16.gguf"));
}

/* One slot, a queue of one: the third job is refused, whatever the timing. */
static void test_queue_full(void **state)
{
    (void)state;
    loaded l = load(BUILTIN);
    int n;
    int32_t *p = encode(&l, PROMPTS[1], &n);
    batch *b = start(&l, 1, 1);
    watch w[3];
    batch_job *j[3];
    for (int k = 0; k < 3; k++)
        watch_init(&w[k]);
    batch_req rq = greedy_req(p, n, 100000, &w[0]);
    rq.ignore_eos = true; /* holds the slot until cancelled */
    assert_int_equal(batch_submit(b, &rq, &j[0]), BATCH_OK);
    batch_req rq1 = greedy_req(p, n, 4, &w[1]);
    assert_int_equal(batch_submit(b, &rq1, &j[1]), BATCH_OK);
    batch_req rq2 = greedy_req(p, n, 4, &w[2]);
    assert_int_equal(batch_submit(b, &rq2, &j[2]), BATCH_EQUEUE);
    assert_null(j[2]);
    batch_load ld;
    batch_get_load(b, &ld);
    assert_int_equal(ld.running + ld.queued, 2);
    assert_int_equal(ld.n_parallel, 1);
    assert_int_equal(ld.kv_size, CTX);
    /* the first generates past end-of-generation ids until cancelled */
    wait_tokens(&w[0], 40);
    batch_cancel(j[0]);
    wait_done(&w[0]);
    assert_int_equal(w[0].res.st.stop, GEN_STOP_CANCELLED);
    assert_true(w[0].res.st.gen_tokens >= 40);
    for (int i = 0; i < w[0].n_ids; i++)
        assert_false(tok_is_eog(l.v, w[0].ids[i]));
    /* then the queued one gets the slot and finishes */
    wait_done(&w[1]);
    assert_int_equal(w[1].res.rc, 0);
    assert_true(w[1].res.st.gen_tokens >= 1 && w[1].res.st.gen_tokens <= 4);
    assert_true(w[1].res.queue_ms > 0);
    for (int k = 0; k < 2; k++)
        batch_release(j[k]);
    for (int k = 0; k < 3; k++)
        watch_free(&w[k]);
    /* too long, empty */
    int32_t big[CTX];
    for (int i = 0; i < CTX; i++)
        big[i] = p[1 % n];
    batch_job *none;
    watch wz;
    watch_init(&wz);
    batch_req r3 = greedy_req(big, CTX, 4, &wz);
    assert_int_equal(batch_submit(b, &r3, &none), BATCH_ETOOLONG);
    r3.n_prompt = 0;
    assert_int_equal(batch_submit(b, &r3, &none), BATCH_EEMPTY);
    watch_free(&wz);
    batch_free(b);
    free(p);
    unload(&l);
}

/* Stop strings cut the text; on_text returning false stops the job. */
static void test_stop_string_and_callback(void **state)
{
    (void)state;
    loaded l = load(BUILTIN);
    int n;
    int32_t *p = encode(&l, PROMPTS[0], &n);
    batch *b = start(&l, 2, 4);
    /* the reference text, then a stop string taken from its middle */
    watch w0;
    watch_init(&w0);
    batch_job *j;
    batch_req rq = greedy_req(p, n, 40, &w0);
    rq.ignore_eos = true;
    assert_int_equal(batch_submit(b, &rq, &j), BATCH_OK);
    wait_done(&w0);
    batch_release(j);
    assert_true(w0.text.len > 12);
    char stop[5] = {0};
    memcpy(stop, w0.text.data + w0.text.len / 2, 4);
    const char *cut = strstr(w0.text.data, stop); /* its first occurrence */
    size_t want_len = (size_t)(cut - w0.text.data);

    watch w1;
    watch_init(&w1);
    const char *stops[] = {stop};
    rq = greedy_req(p, n, 40, &w1);
    rq.ignore_eos = true;
    rq.stops = stops;
    rq.n_stops = 1;
    assert_int_equal(batch_submit(b, &rq, &j), BATCH_OK);
    stop[0] = '\0'; /* the job holds its own copy */
    wait_done(&w1);
    batch_release(j);
    assert_int_equal(w1.res.st.stop, GEN_STOP_STRING);
    assert_int_equal(w1.text.len, want_len);
    assert_memory_equal(w1.text.data ? w1.text.data : "", w0.text.data, want_len);

    watch w2;
    watch_init(&w2);
    w2.stop_after_text = 2;
    rq = greedy_req(p, n, 40, &w2);
    rq.ignore_eos = true;
    assert_int_equal(batch_submit(b, &rq, &j), BATCH_OK);
    wait_done(&w2);
    batch_release(j);
    assert_int_equal(w2.res.st.stop, GEN_STOP_CALLBACK);
    assert_int_equal(w2.n_text_calls, 2);
    watch_free(&w0);
    watch_free(&w1);
    watch_free(&w2);
    batch_free(b);
    free(p);
    unload(&l);
}

/* Stopping: queued jobs are cancelled unstarted, running ones get the
 * grace period and are then cancelled; every job hears on_done once. */
static void test_stop(void **state)
{
    (void)state;
    loaded l = load(BUILTIN);
    int n;
    int32_t *p = encode(&l, PROMPTS[1], &n);
    batch *b = start(&l, 2, 4);
    watch w[4];
    batch_job *j[4];
    for (int k = 0; k < 4; k++) {
        watch_init(&w[k]);
        batch_req rq = greedy_req(p, n, 1000000, &w[k]);
        rq.ignore_eos = true;
        assert_int_equal(batch_submit(b, &rq, &j[k]), BATCH_OK);
    }
    wait_tokens(&w[0], 2);
    wait_tokens(&w[1], 2);
    batch_stop(b, 0.05);
    for (int k = 0; k < 4; k++) {
        assert_true(w[k].done);
        assert_int_equal(w[k].res.st.stop, GEN_STOP_CANCELLED);
    }
    assert_true(w[0].res.st.gen_tokens >= 2);
    assert_int_equal(w[2].res.st.gen_tokens, 0); /* never had a slot */
    assert_int_equal(w[3].res.st.gen_tokens, 0);
    batch_job *late;
    batch_req rq = greedy_req(p, n, 4, &w[0]);
    assert_int_equal(batch_submit(b, &rq, &late), BATCH_ESTOPPED);
    for (int k = 0; k < 4; k++) {
        batch_release(j[k]);
        watch_free(&w[k]);
    }
    batch_free(b);
    free(p);
    unload(&l);
}

/* A long prompt arriving while another job generates is read one chunk
 * per step: the generating job gets a token between every two chunks. */
typedef struct {
    pthread_mutex_t mu;
    watch *a, *b;
    int a_tokens_at_b_first; /* a's count when b's first token came; -1 before */
} interleave;

static interleave *IL;

static void il_token_b(void *ud, int32_t id)
{
    pthread_mutex_lock(&IL->mu);
    if (IL->a_tokens_at_b_first < 0) {
        pthread_mutex_lock(&IL->a->mu);
        IL->a_tokens_at_b_first = IL->a->n_ids;
        pthread_mutex_unlock(&IL->a->mu);
    }
    pthread_mutex_unlock(&IL->mu);
    w_token(ud, id);
}

static void test_long_prompt_interleaves(void **state)
{
    (void)state;
    loaded l = load(BUILTIN);
    int n_short, n_long;
    int32_t *shortp = encode(&l, PROMPTS[1], &n_short);
    /* a long prompt: the system prompt's text repeated */
    strbuf text = {0};
    for (int i = 0; i < 2; i++)
        sb_puts(&text, PROMPTS[2]);
    int32_t *longp = encode(&l, text.data, &n_long);
    sb_free(&text);
    if (!(n_long > 6 * CHUNK && n_long < CTX - 8))
        fail_msg("the long prompt has %d tokens", n_long);
    int chunks = (n_long + CHUNK - 1) / CHUNK;
    batch *b = start(&l, 2, 4);
    watch wa, wb;
    watch_init(&wa);
    watch_init(&wb);
    interleave il = {.a = &wa, .b = &wb, .a_tokens_at_b_first = -1};
    pthread_mutex_init(&il.mu, NULL);
    IL = &il;
    batch_job *ja, *jb;
    batch_req ra = greedy_req(shortp, n_short, CTX - n_short - 1, &wa);
    ra.ignore_eos = true;
    assert_int_equal(batch_submit(b, &ra, &ja), BATCH_OK);
    wait_tokens(&wa, 3); /* a is generating */
    int a_before;
    pthread_mutex_lock(&wa.mu);
    a_before = wa.n_ids;
    pthread_mutex_unlock(&wa.mu);
    batch_req rb = greedy_req(longp, n_long, 2, &wb);
    rb.on_token = il_token_b;
    assert_int_equal(batch_submit(b, &rb, &jb), BATCH_OK);
    wait_done(&wb);
    /* every chunk of b's prompt but the last was followed by a decode step of a */
    assert_true(il.a_tokens_at_b_first - a_before >= chunks - 1);
    batch_cancel(ja);
    wait_done(&wa);
    batch_release(ja);
    batch_release(jb);
    watch_free(&wa);
    watch_free(&wb);
    pthread_mutex_destroy(&il.mu);
    batch_free(b);
    free(shortp);
    free(longp);
    unload(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_builtin),
        cmocka_unit_test(test_identity_reference_models),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_stop_string_and_callback),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_long_prompt_interleaves),
    };
    return test_exit(cmocka_run_group_tests_name("batch", tests, NULL, NULL));
}
