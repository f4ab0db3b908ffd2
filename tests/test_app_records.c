/*
 * test_app_records.c — what the application layer records and shows, field
 * by field, against values written here by hand:
 *
 *   - a local reply's confidence against log-probabilities computed here
 *     from the forward pass, and stored with the reply (app/store.c);
 *   - a reply's request figures (app/reply.c), local and remote: 1 attempt,
 *     -1 (unknown) for what a failed or refused reply never measured, a
 *     measured latency and decode time when it ran, a server's prefill
 *     figures unknown; `ask --raw` keeps special-token text as text;
 *   - the sampling JSON stored with a reply (seed included, 6 digits), the
 *     database's directories created, a reply's recording restarted clean
 *     (app/store.c);
 *   - the generation worker's live tokens/s and its dropped-turn count
 *     reset by a new submission (app/worker.c);
 *   - the config's defaults and boolean spellings, as `frontdesk config`
 *     prints them, and the built-in model found under ./models (app/config.c);
 *   - `frontdesk train`'s defaults visible in what it writes and prints
 *     (app/cmd_train.c), and `ask -n 0` refused (app/cmd_ask.c).
 */
#include "tests/testutil.h"
#include "tests/remote_server.h"

#include "app/cli.h"
#include "app/config.h"
#include "app/reply.h"
#include "app/store.h"
#include "app/worker.h"
#include "engine/chat_template.h"
#include "engine/forward.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "storage/chats.h"
#include "storage/db.h"
#include "storage/metrics.h"
#include "util/util.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODEL "models/frontdesk-cs.gguf"
#define VOCAB "models/frontdesk-vocab.gguf"

static model *mdl;
static tok_vocab *voc;

static int setup(void **state)
{
    (void)state;
    char err[512];
    if (model_load(&mdl, MODEL, err, sizeof err) != 0 || tok_load(&voc, mdl->file, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", MODEL, err);
        return -1;
    }
    const char *cfg = test_path(test_tmpdir(), "config-home");
    mkdir(cfg, 0700);
    setenv("XDG_CONFIG_HOME", cfg, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tok_free(voc);
    model_free(mdl);
    return 0;
}

/* ---- app/reply.c: local ------------------------------------------------------------ */

static chat_tmpl model_tmpl(void)
{
    gguf_str s = {"", 0};
    bool known;
    gguf_get_str(mdl->file, "tokenizer.chat_template", &s);
    return chat_tmpl_detect(s.ptr, (size_t)s.len, &known);
}

static reply_opts greedy(int max_tokens)
{
    reply_opts o = {.max_tokens = max_tokens};
    o.sampling = sampler_defaults();
    o.sampling.temp = 0;
    return o;
}

/* A local reply that ran: one attempt, its latency and decode time measured
 * (>= 0, not the -1 of "unknown"). */
static void test_local_reply_measured(void **state)
{
    (void)state;
    char err[256];
    fwd_ctx *ctx = fwd_new(mdl, 256, 1, err, sizeof err);
    assert_non_null(ctx);
    reply_backend b = {.m = mdl, .v = voc, .ctx = ctx, .n_ctx = 256, .tmpl = model_tmpl()};
    chat_msg msgs[] = {{.role = "system", .content = "You help customers."},
                       {.role = "user", .content = "Where is my parcel?"}};
    reply_opts o = greedy(6);
    reply_result res;
    assert_int_equal(reply_run(&b, msgs, 2, &o, &res), 0);
    assert_int_equal(res.r.outcome, DB_OUTCOME_OK);
    assert_null(res.r.error);
    assert_int_equal(res.r.attempts, 1);
    assert_true(res.r.prompt_tokens > 5);
    if (res.r.gen_tokens < 2)
        fail_msg("the greedy reply stopped after %d token(s); the test needs two", res.r.gen_tokens);
    if (!(res.r.decode_ms >= 0))
        fail_msg("a reply of %d tokens recorded decode_ms %g (unknown)", res.r.gen_tokens, res.r.decode_ms);
    if (!(res.r.latency_ms >= 0))
        fail_msg("a reply recorded latency_ms %g (unknown)", res.r.latency_ms);
    if (!(res.r.ttft_ms >= 0))
        fail_msg("a reply recorded ttft_ms %g (unknown)", res.r.ttft_ms);
    fwd_free(ctx);
}

/* The engine refuses the prompt (its context, 8 tokens, is smaller than the
 * backend's n_ctx says): an error whose timings are unknown, -1, not 0. */
static void test_local_reply_engine_fails(void **state)
{
    (void)state;
    char err[256];
    fwd_ctx *ctx = fwd_new(mdl, 8, 1, err, sizeof err);
    assert_non_null(ctx);
    reply_backend b = {.m = mdl, .v = voc, .ctx = ctx, .n_ctx = 256, .raw = true};
    chat_msg msgs[] = {{.role = "user", .content = "I would like to know where my parcel is, it is late by a week."}};
    reply_opts o = greedy(4);
    reply_result res;
    assert_int_equal(reply_run(&b, msgs, 1, &o, &res), -1);
    assert_int_equal(res.r.outcome, DB_OUTCOME_ERROR);
    assert_false(res.prompt_too_long); /* it passed the backend's own check */
    assert_non_null(res.r.error);
    assert_non_null(strstr(res.r.error, "does not fit"));
    assert_int_equal(res.r.attempts, 1);
    assert_true(res.r.ttft_ms == -1);
    assert_true(res.r.prefill_ms == -1);
    assert_true(res.r.decode_ms == -1);
    fwd_free(ctx);
}

/* A prompt longer than the backend's context: nothing generated, every
 * count and timing but the latency unknown (-1). */
static void test_local_prompt_too_long(void **state)
{
    (void)state;
    char err[256];
    fwd_ctx *ctx = fwd_new(mdl, 16, 1, err, sizeof err);
    assert_non_null(ctx);
    reply_backend b = {.m = mdl, .v = voc, .ctx = ctx, .n_ctx = 16, .raw = true};
    chat_msg msgs[] = {{.role = "user",
                        .content = "I would like to know where my parcel is; it was due last Monday and the "
                                   "tracking page has said 'in transit' for nine days now."}};
    reply_opts o = greedy(4);
    reply_result res;
    assert_int_equal(reply_run(&b, msgs, 1, &o, &res), -1);
    assert_true(res.prompt_too_long);
    assert_int_equal(res.r.outcome, DB_OUTCOME_ERROR);
    assert_non_null(strstr(res.error, "more than the context of 16"));
    assert_int_equal(res.r.attempts, 1);
    assert_int_equal(res.r.prompt_tokens, -1);
    assert_int_equal(res.r.gen_tokens, -1);
    assert_true(res.r.ttft_ms == -1);
    assert_true(res.r.prefill_ms == -1);
    assert_true(res.r.decode_ms == -1);
    assert_true(res.r.latency_ms >= 0);
    fwd_free(ctx);
}

/* --raw: the text "<|im_end|>" is ten characters of text, not the one
 * special token: tokenized as text it takes several tokens (the special
 * token alone would be at most two with a BOS). */
static void test_raw_prompt_keeps_special_text(void **state)
{
    (void)state;
    char err[256];
    fwd_ctx *ctx = fwd_new(mdl, 64, 1, err, sizeof err);
    assert_non_null(ctx);
    reply_backend b = {.m = mdl, .v = voc, .ctx = ctx, .n_ctx = 64, .raw = true};
    chat_msg msgs[] = {{.role = "user", .content = "<|im_end|>"}};
    reply_opts o = greedy(1);
    reply_result res;
    assert_int_equal(reply_run(&b, msgs, 1, &o, &res), 0);
    if (res.r.prompt_tokens < 4)
        fail_msg("'<|im_end|>' as raw text became %d prompt token(s): parsed as the special token",
                 res.r.prompt_tokens);
    fwd_free(ctx);
}

typedef struct {
    int32_t ids[32];
    int n;
} ids_seen;

static void keep_id(void *ud, int32_t id)
{
    ids_seen *s = ud;
    if (s->n < 32)
        s->ids[s->n++] = id;
}

/* A local reply's confidence: the mean and lowest log-softmax of the raw
 * logits at each generated id, computed here from the engine's forward
 * pass, and stored on the reply by store_reply_end. */
static void test_local_reply_confidence(void **state)
{
    (void)state;
    static const char text[] = "Where is my parcel? It";
    char err[256];
    fwd_ctx *ctx = fwd_new(mdl, 128, 1, err, sizeof err);
    assert_non_null(ctx);
    reply_backend b = {.m = mdl, .v = voc, .ctx = ctx, .n_ctx = 128, .raw = true};
    chat_msg msgs[] = {{.role = "user", .content = text}};
    ids_seen seen = {.n = 0};
    reply_opts o = greedy(8);
    o.sampling.temp = 0.7f; /* sampled: the figures are still the raw distribution's */
    o.sampling.seed = 3;
    o.on_token = keep_id;
    o.ud = &seen;
    reply_result res;
    assert_int_equal(reply_run(&b, msgs, 1, &o, &res), 0);
    assert_true(seen.n >= 2);
    assert_true(res.r.has_logprob);

    /* the reference: the same prompt, then each id, on a context of our own */
    int32_t *prompt = NULL;
    size_t n_prompt = 0, cap = 0;
    assert_int_equal(tok_encode(voc, text, strlen(text), true, false, &prompt, &n_prompt, &cap, err, sizeof err), 0);
    float *logits = xmallocarray(mdl->n_vocab, sizeof *logits);
    fwd_truncate(ctx, 0);
    assert_int_equal(fwd_eval(ctx, prompt, (int)n_prompt, false, logits, NULL), FWD_OK);
    double sum = 0, min = 0;
    for (int k = 0; k < seen.n; k++) {
        double max = logits[0], z = 0;
        for (uint32_t i = 1; i < mdl->n_vocab; i++)
            max = logits[i] > max ? logits[i] : max;
        for (uint32_t i = 0; i < mdl->n_vocab; i++)
            z += exp(logits[i] - max);
        double lp = logits[seen.ids[k]] - max - log(z);
        sum += lp;
        min = k == 0 || lp < min ? lp : min;
        if (k + 1 < seen.n)
            assert_int_equal(fwd_eval(ctx, &seen.ids[k], 1, false, logits, NULL), FWD_OK);
    }
    free(logits);
    free(prompt);
    fwd_free(ctx);
    if (fabs(res.r.logprob_mean - sum / seen.n) > 1e-4 || fabs(res.r.logprob_min - min) > 1e-4)
        fail_msg("confidence mean %.6f min %.6f, the reference %.6f and %.6f", res.r.logprob_mean, res.r.logprob_min,
                 sum / seen.n, min);
}

/* ---- app/reply.c: remote ------------------------------------------------------------ */

/* A streamed reply: one attempt, the server's counts, a decode time
 * measured, prefill unknown (a server does not tell). */
static void test_remote_reply_figures(void **state)
{
    (void)state;
    rs_step step = {.kind = RS_STREAM, .reply = "Your parcel left our warehouse today.", .delta_chars = 3,
                    .chunk = 16, .pause_us = 200, .usage = true, .prompt_tokens = 21, .completion_tokens = 9};
    char err[256];
    rs_server *srv = rs_start(&step, 1, err, sizeof err);
    if (!srv)
        fail_msg("%s", err);
    remote_opts ro = remote_defaults();
    ro.base_url = rs_url(srv);
    ro.retries = 0;
    reply_backend b = {.remote = &ro};
    chat_msg msgs[] = {{.role = "user", .content = "Where is my parcel?"}};
    reply_opts o = greedy(32);
    reply_result res;
    assert_int_equal(reply_run(&b, msgs, 1, &o, &res), 0);
    assert_int_equal(res.r.outcome, DB_OUTCOME_OK);
    assert_int_equal(res.r.attempts, 1);
    assert_int_equal(res.r.prompt_tokens, 21);
    assert_int_equal(res.r.gen_tokens, 9);
    assert_true(res.r.prefill_ms == -1);
    assert_true(res.r.prefill_tps == -1);
    if (!(res.r.decode_ms >= 0))
        fail_msg("a streamed remote reply recorded decode_ms %g (unknown)", res.r.decode_ms);
    assert_true(res.r.ttft_ms >= 0);
    rs_stop(srv);
}

/* A backend refused before any HTTP attempt (no URL): still one attempt
 * on record (a request row says >= 1), an error, nothing measured. */
static void test_remote_refused_counts_one_attempt(void **state)
{
    (void)state;
    remote_opts ro = remote_defaults();
    ro.base_url = "";
    reply_backend b = {.remote = &ro};
    chat_msg msgs[] = {{.role = "user", .content = "Hello?"}};
    reply_opts o = greedy(8);
    reply_result res;
    assert_int_equal(reply_run(&b, msgs, 1, &o, &res), -1);
    assert_int_equal(res.r.outcome, DB_OUTCOME_ERROR);
    assert_int_equal(res.r.attempts, 1);
    assert_true(res.r.decode_ms == -1);
    assert_true(res.r.prefill_tps == -1);
}

/* ---- app/store.c ----------------------------------------------------------------------- */

static void test_sampling_json(void **state)
{
    (void)state;
    sampler_params sp = {.temp = 0.123456789f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
                         .repeat_penalty = 1.1f, .repeat_last_n = 64, .seed = 987654321};
    char *s = store_sampling_json(&sp, 100, 512);
    /* six significant digits: 0.123457 */
    assert_string_equal(s, "{\"temperature\":0.123457,\"top_k\":40,\"top_p\":0.95,\"min_p\":0.05,"
                           "\"repeat_penalty\":1.1,\"repeat_last_n\":64,\"seed\":987654321,"
                           "\"max_tokens\":100,\"n_ctx\":512}");
    free(s);
}

/* store_open with stderr captured into *msg (caller frees). */
static int open_capturing(const char *path, db **d, char **msg)
{
    const char *cap = test_path(test_tmpdir(), "stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    int fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    int rc = store_open(path, d);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    *msg = test_read_file(cap, NULL);
    return rc;
}

/* The database's directory is made, several levels deep; under a regular
 * file it cannot be, and the message says so. */
static void test_store_open_directories(void **state)
{
    (void)state;
    const char *path = test_path(test_tmpdir(), "one/two/three/frontdesk.db");
    db *d = NULL;
    char *msg;
    assert_int_equal(open_capturing(path, &d, &msg), EXIT_OK);
    assert_non_null(d);
    db_close(d);
    assert_int_equal(access(path, F_OK), 0);
    free(msg);

    const char *file = test_path(test_tmpdir(), "plain-file");
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    const char *under = test_path(test_tmpdir(), "plain-file/sub/frontdesk.db");
    assert_int_equal(open_capturing(under, &d, &msg), EXIT_FAIL);
    assert_null(d);
    if (!strstr(msg, "cannot create the directory for the database"))
        fail_msg("stderr: %s", msg);
    free(msg);
}

/* Without --db, $FRONTDESK_DB or an absolute $XDG_DATA_HOME the database
 * is under $HOME/.local/share. */
static void test_store_path_home(void **state)
{
    (void)state;
    char *db_env = getenv("FRONTDESK_DB") ? xstrdup(getenv("FRONTDESK_DB")) : NULL;
    char *xdg = getenv("XDG_DATA_HOME") ? xstrdup(getenv("XDG_DATA_HOME")) : NULL;
    char *home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
    unsetenv("FRONTDESK_DB");
    setenv("XDG_DATA_HOME", "relative/not/used", 1);
    setenv("HOME", "/home/ana", 1);
    char *p = store_path(NULL);
    assert_string_equal(p, "/home/ana/.local/share/frontdesk/frontdesk.db");
    free(p);
    if (db_env)
        setenv("FRONTDESK_DB", db_env, 1);
    if (xdg)
        setenv("XDG_DATA_HOME", xdg, 1);
    else
        unsetenv("XDG_DATA_HOME");
    if (home)
        setenv("HOME", home, 1);
    free(db_env);
    free(xdg);
    free(home);
}

/* A store_reply reused (or on a dirty stack) starts clean: the stored reply
 * is the new text only, and a clean end leaves no error message. */
static void test_store_reply_starts_clean(void **state)
{
    (void)state;
    const char *path = test_path(test_tmpdir(), "reply.db");
    unlink(path);
    db *d;
    char err[512];
    if (db_open(&d, path, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    int64_t conv, cust;
    assert_int_equal(db_conv_create(d, "default", "You help.", &conv), DB_OK);
    assert_int_equal(db_msg_add(d, conv, DB_ROLE_CUSTOMER, "Hi", &cust), DB_OK);
    store_reply rec;
    memset(&rec, 0, sizeof rec);
    sb_puts(&rec.text, "stale text ");
    rec.failed = true;
    snprintf(rec.err, sizeof rec.err, "stale error");
    char *stale = rec.text.data; /* begin starts afresh: the stale buffer is the test's to free */
    assert_int_equal(store_reply_begin(&rec, d, conv, 0, "local", NULL, 0, 0), DB_OK);
    assert_true(rec.text.data != stale);
    free(stale);
    assert_false(rec.failed);
    store_reply_text(&rec, "Hello!", 6);
    db_request_result r = {.outcome = DB_OUTCOME_OK, .prompt_tokens = 3, .gen_tokens = 2, .ttft_ms = 1,
                           .prefill_ms = 1, .decode_ms = 1, .latency_ms = 2, .attempts = 1};
    assert_int_equal(store_reply_end(&rec, &r), DB_OK);
    assert_string_equal(rec.err, "");
    db_msg m;
    assert_int_equal(db_msg_get(d, rec.message, &m), DB_OK);
    assert_string_equal(m.text, "Hello!");
    db_msg_clear(&m);
    db_close(d);
}

/* store_reply_end puts a known confidence on the reply, leaves an unknown
 * one NULL, and an empty reply (removed) is no error. */
static void test_store_reply_confidence(void **state)
{
    (void)state;
    const char *path = test_path(test_tmpdir(), "confidence.db");
    unlink(path);
    db *d;
    char err[512];
    if (db_open(&d, path, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    int64_t conv, cust;
    assert_int_equal(db_conv_create(d, "default", "You help.", &conv), DB_OK);
    assert_int_equal(db_msg_add(d, conv, DB_ROLE_CUSTOMER, "Hi", &cust), DB_OK);
    int64_t ids[3];
    for (int k = 0; k < 3; k++) {
        store_reply rec;
        assert_int_equal(store_reply_begin(&rec, d, conv, 0, "local", NULL, 0, 0), DB_OK);
        if (k < 2)
            store_reply_text(&rec, "Hello!", 6);
        db_request_result r = {.outcome = DB_OUTCOME_OK, .prompt_tokens = 3, .gen_tokens = 2, .attempts = 1,
                               .has_logprob = k != 1, .logprob_mean = -0.75, .logprob_min = -3.5};
        assert_int_equal(store_reply_end(&rec, &r), DB_OK);
        assert_string_equal(rec.err, "");
        ids[k] = rec.message;
    }
    db_msg m;
    assert_int_equal(db_msg_get(d, ids[0], &m), DB_OK);
    assert_true(m.has_logprob);
    assert_true(m.logprob_mean == -0.75 && m.logprob_min == -3.5);
    db_msg_clear(&m);
    assert_int_equal(db_msg_get(d, ids[1], &m), DB_OK);
    assert_false(m.has_logprob);
    db_msg_clear(&m);
    assert_int_equal(db_msg_get(d, ids[2], &m), DB_NOTFOUND); /* the empty one is gone */
    db_close(d);
}

/* ---- app/worker.c ---------------------------------------------------------------------- */

typedef struct {
    const char *db_path;
    db *d;
    int64_t model_id;
    config cfg;
    worker *w;
} rig;

static void rig_open(rig *r, const char *name, const char *config_text)
{
    memset(r, 0, sizeof *r);
    char err[600];
    r->db_path = test_path(test_tmpdir(), name);
    unlink(r->db_path);
    if (db_open(&r->d, r->db_path, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    if (store_model_local(r->d, MODEL, mdl, &r->model_id, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    const char *cfg = test_path(test_tmpdir(), "worker-config");
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs(config_text, f);
    fclose(f);
    config_load(&r->cfg, cfg);
    if (r->cfg.n_warnings)
        fail_msg("config: %s", r->cfg.warnings[0]);
    r->w = worker_start(r->db_path, mdl, voc, r->model_id, NULL, 0, false, false, &r->cfg, err, sizeof err);
    if (!r->w)
        fail_msg("%s", err);
}

static void rig_close(rig *r)
{
    worker_stop(r->w);
    db_close(r->d);
    config_free(&r->cfg);
}

static int64_t conversation(rig *r, const char *const *turns, size_t n)
{
    int64_t conv, id;
    assert_int_equal(db_conv_create(r->d, "default", "You help customers.", &conv), DB_OK);
    for (size_t i = 0; i < n; i++) {
        if (i % 2 == 0)
            assert_int_equal(db_msg_add(r->d, conv, DB_ROLE_CUSTOMER, turns[i], &id), DB_OK);
        else {
            assert_int_equal(db_reply_begin(r->d, conv, r->model_id, NULL, 0, &id), DB_OK);
            assert_int_equal(db_reply_end(r->d, id, turns[i], r->model_id), DB_OK);
        }
    }
    return conv;
}

/* Wait for the reply to end; the last poll's state in *s (text freed).
 * Before each poll s->live_tps is set to -7, a value the worker never
 * reports. */
static void wait_finished(rig *r, worker_state *s)
{
    double t0 = util_now();
    for (;;) {
        s->live_tps = -7;
        worker_poll(r->w, s);
        free(s->text);
        s->text = NULL;
        if (s->finished)
            return;
        if (util_now() - t0 > 120)
            fail_msg("no reply within 120 s");
        usleep(2000);
    }
}

/* Live decode speed: 0 after a single token (no interval to measure yet),
 * positive after several. */
static void test_worker_live_tps(void **state)
{
    (void)state;
    static const char *const turns[] = {"Where is my parcel?"};
    rig r;
    rig_open(&r, "tps1.db", "[sampling]\ntemperature = 0\nmax_tokens = 1\n");
    worker_state s = {0};
    assert_true(worker_submit(r.w, conversation(&r, turns, 1), 0));
    wait_finished(&r, &s);
    assert_int_equal(s.outcome, DB_OUTCOME_OK);
    if (s.live_tps != 0)
        fail_msg("one token: live tokens/s %g, want 0", s.live_tps);
    rig_close(&r);

    rig_open(&r, "tps8.db", "[sampling]\ntemperature = 0\nmax_tokens = 8\n");
    assert_true(worker_submit(r.w, conversation(&r, turns, 1), 0));
    wait_finished(&r, &s);
    assert_int_equal(s.outcome, DB_OUTCOME_OK);
    db_request *rq;
    size_t n;
    assert_int_equal(db_requests_for_message(r.d, s.message, &rq, &n), DB_OK);
    assert_int_equal(n, 1);
    int gen = rq[0].gen_tokens;
    db_requests_free(rq, n);
    if (gen < 2)
        fail_msg("the greedy reply has %d token(s); the test needs two", gen);
    if (!(s.live_tps > 0))
        fail_msg("%d tokens: live tokens/s %g, want > 0", gen, s.live_tps);
    rig_close(&r);
}

/* A reply that dropped turns, then a submission that fails before any
 * generation (no such conversation): the dropped count shown is the new
 * submission's, 0, not the earlier reply's. */
static void test_worker_dropped_reset(void **state)
{
    (void)state;
    static const char *const turns[] = {
        "I ordered a blue jacket three weeks ago and it still has not arrived at my address.",
        "I am sorry to hear that. Could you give me your order number so I can check the shipment?",
        "The order number is 12345 and I paid for express delivery, which should take two days.",
        "Thank you. I can see the parcel was delayed at the depot; it should reach you this week.",
        "Where is my parcel?"};
    rig r;
    rig_open(&r, "dropped.db", "[model]\ncontext = 64\n[sampling]\ntemperature = 0\nmax_tokens = 2\n");
    worker_state s = {0};
    assert_true(worker_submit(r.w, conversation(&r, turns, 5), 0));
    wait_finished(&r, &s);
    assert_int_equal(s.outcome, DB_OUTCOME_OK);
    if (s.dropped < 1)
        fail_msg("a 5-turn conversation in 64 tokens dropped %d turns", s.dropped);
    assert_true(worker_submit(r.w, 987654, 0));
    wait_finished(&r, &s);
    assert_int_equal(s.outcome, DB_OUTCOME_ERROR);
    assert_int_equal(s.dropped, 0);
    rig_close(&r);
}

/* ---- app/config.c, through `frontdesk config` ------------------------------------------- */

static const char *write_config(const char *name, const char *text)
{
    const char *p = test_path(test_tmpdir(), name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static int run_config(const char *text, char **out, char **err)
{
    const char *p = write_config("cli-config", text);
    const char *argv[] = {test_bin(), "config", "--config", p, NULL};
    return test_run(argv, "", 0, out, err);
}

static void expect_line(const char *out, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = out; (p = strstr(p, line)); p++)
        if ((p == out || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
            return;
    fail_msg("no line '%s' in:\n%s", line, out);
}

static void test_config_defaults_and_spellings(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_config("", &out, &err), 0);
    expect_line(out, "ttft_p95_ms = 2000");
    expect_line(out, "decode_tps_min = 0");
    expect_line(out, "latency_p95_ms = 5000");
    free(out);
    free(err);
    /* every spelling of true */
    const char *trues[] = {"1", "on", "yes", "true"};
    for (size_t i = 0; i < 4; i++) {
        char text[64];
        snprintf(text, sizeof text, "[privacy]\nredact = %s\n", trues[i]);
        int rc = run_config(text, &out, &err);
        if (rc != 0 || *err)
            fail_msg("redact = %s: exit %d, stderr %s", trues[i], rc, err);
        expect_line(out, "redact = true");
        free(out);
        free(err);
    }
    /* a [remote] timeout is a known key, taken as given */
    assert_int_equal(run_config("[remote]\nconnect_timeout_ms = 1234\nidle_timeout_ms = 0\n", &out, &err), 0);
    assert_string_equal(err, "");
    expect_line(out, "connect_timeout_ms = 1234");
    expect_line(out, "idle_timeout_ms = 0");
    free(out);
    free(err);
}

/* This test binary is not beside a models/ folder (build-x/tests/..): the
 * built-in model is then the working directory's models/. */
static void test_builtin_model_in_cwd(void **state)
{
    (void)state;
    const char *p = config_builtin_model();
    assert_non_null(p);
    assert_string_equal(p, "models/frontdesk-cs.gguf");
}

/* ---- app/cmd_ask.c ----------------------------------------------------------------------- */

static void test_ask_n_zero_refused(void **state)
{
    (void)state;
    char *out, *err;
    const char *argv[] = {test_bin(), "ask", "--model", MODEL, "-n", "0", "hello", NULL};
    assert_int_equal(test_run(argv, "", 0, &out, &err), 2);
    assert_non_null(strstr(err, "-n"));
    assert_string_equal(out, "");
    free(out);
    free(err);
}

/* ---- app/cmd_train.c ---------------------------------------------------------------------- */

static const char *train_data(void)
{
    const char *p = test_path(test_tmpdir(), "convs.jsonl");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < 16; i++)
        fprintf(f,
                "{\"messages\":[{\"role\":\"user\",\"content\":\"Cancel order %d\"},"
                "{\"role\":\"assistant\",\"content\":\"Order %d is cancelled.\"}],\"metadata\":{\"message_id\":%d}}\n",
                i, i, i);
    fclose(f);
    return p;
}

/* The text of stderr's progress segment (between '\r's) for "step N/M". */
static const char *progress_at(const char *err, const char *step, char *buf, size_t size)
{
    const char *p = strstr(err, step);
    if (!p)
        return NULL;
    const char *e = p;
    while (*e && *e != '\r' && *e != '\n')
        e++;
    snprintf(buf, size, "%.*s", (int)(e - p), p);
    return buf;
}

/* Without --width the model is 256 wide (general embedding length in the
 * written file); the progress line ends with a newline before the summary;
 * the written file carries the tokenizer of --vocab. */
static void test_train_default_width(void **state)
{
    (void)state;
    const char *out = test_path(test_tmpdir(), "w256.gguf");
    const char *argv[] = {test_bin(), "train", "--vocab", VOCAB, "--data", train_data(), "--out", out,
                          "--steps", "1", "--layers", "1", "--heads", "2", "--kv-heads", "2", "--ff", "32",
                          "--ctx", "32", "--tokens", "64", "--threads", "1", "--type", "f32", NULL};
    char *o, *e;
    int rc = test_run(argv, "", 0, &o, &e);
    if (rc != 0)
        fail_msg("train: exit %d: %s", rc, e);
    const char *w = strstr(e, "train: wrote");
    assert_non_null(w);
    if (w == e || w[-1] != '\n')
        fail_msg("the summary does not start a line: %s", e);
    gguf_file *g;
    char err[256];
    if (gguf_open(&g, out, err, sizeof err) != 0)
        fail_msg("%s", err);
    gguf_str arch = {"", 0};
    assert_true(gguf_get_str(g, "general.architecture", &arch));
    char key[96];
    snprintf(key, sizeof key, "%.*s.embedding_length", (int)arch.len, arch.ptr);
    uint32_t width = 0;
    assert_true(gguf_get_u32(g, key, &width));
    assert_int_equal(width, 256);
    gguf_str tm = {"", 0};
    assert_true(gguf_get_str(g, "tokenizer.ggml.model", &tm));
    gguf_close(g);
    free(o);
    free(e);
}

#define TRAIN_TINY "--width", "16", "--layers", "1", "--heads", "2", "--kv-heads", "2", "--ff", "32", "--ctx", \
                   "32", "--tokens", "64", "--threads", "1", "--type", "f32"

/* Without --eval-every the validation loss is first computed at step 100:
 * the progress line of step 100 shows it, step 99's does not. */
static void test_train_default_eval_every(void **state)
{
    (void)state;
    const char *out = test_path(test_tmpdir(), "eval.gguf");
    const char *argv[] = {test_bin(), "train", "--vocab", VOCAB, "--data", train_data(), "--out", out,
                          "--steps", "110", TRAIN_TINY, NULL};
    char *o, *e;
    int rc = test_run(argv, "", 0, &o, &e);
    if (rc != 0)
        fail_msg("train: exit %d: %s", rc, e);
    char buf[256];
    const char *s99 = progress_at(e, "step 99/110 ", buf, sizeof buf);
    assert_non_null(s99);
    if (!strstr(s99, "val nan"))
        fail_msg("step 99 already has a validation loss: %s", s99);
    const char *s100 = progress_at(e, "step 100/110 ", buf, sizeof buf);
    assert_non_null(s100);
    if (strstr(s100, "val nan") || !strstr(s100, "val "))
        fail_msg("step 100 has no validation loss: %s", s100);
    free(o);
    free(e);
}

/* Without --ckpt-every the first checkpoint is written at step 50: with a
 * checkpoint path that cannot be written, training stops right there. */
static void test_train_default_ckpt_every(void **state)
{
    (void)state;
    const char *out = test_path(test_tmpdir(), "ckpt.gguf");
    const char *ckpt = test_path(test_tmpdir(), "no-such-dir/run.ckpt");
    const char *argv[] = {test_bin(), "train", "--vocab", VOCAB, "--data", train_data(), "--out", out,
                          "--steps", "60", "--ckpt", ckpt, TRAIN_TINY, NULL};
    char *o, *e;
    assert_int_equal(test_run(argv, "", 0, &o, &e), 1);
    assert_non_null(strstr(e, "saving the checkpoint"));
    assert_non_null(strstr(e, "step 50/60 "));
    if (strstr(e, "step 51/60 "))
        fail_msg("training went past step 50 before saving its first checkpoint: %s", e);
    free(o);
    free(e);
}

/* The loss printed at step 1 (the first progress line's "loss X"). */
static double first_loss(const char *err)
{
    const char *p = strstr(err, "step 1/");
    if (!p || !(p = strstr(p, "loss ")))
        fail_msg("no step 1 loss in: %s", err);
    return strtod(p + 5, NULL);
}

/* A batch holds its sequences each in its own row: on a data set of one
 * conversation repeated, a batch of two rows is two copies of the same
 * row, so its mean loss at step 1 is the loss of one row alone. */
static void test_train_batch_rows(void **state)
{
    (void)state;
    const char *data = test_path(test_tmpdir(), "same.jsonl");
    FILE *f = fopen(data, "w");
    assert_non_null(f);
    for (int i = 0; i < 16; i++)
        fprintf(f,
                "{\"messages\":[{\"role\":\"user\",\"content\":\"Cancel my order\"},"
                "{\"role\":\"assistant\",\"content\":\"Your order is cancelled.\"}],"
                "\"metadata\":{\"message_id\":%d}}\n",
                i);
    fclose(f);
    double loss[2];
    const char *tokens[2] = {"32", "64"}; /* one row per batch, then two */
    for (int k = 0; k < 2; k++) {
        const char *out = test_path(test_tmpdir(), k ? "rows2.gguf" : "rows1.gguf");
        const char *argv[] = {test_bin(), "train", "--vocab", VOCAB, "--data", data, "--out", out, "--steps", "1",
                              "--width", "16", "--layers", "1", "--heads", "2", "--kv-heads", "2", "--ff", "32",
                              "--ctx", "32", "--tokens", tokens[k], "--threads", "1", "--type", "f32", NULL};
        char *o, *e;
        int rc = test_run(argv, "", 0, &o, &e);
        if (rc != 0)
            fail_msg("train: exit %d: %s", rc, e);
        loss[k] = first_loss(e);
        free(o);
        free(e);
    }
    if (fabs(loss[0] - loss[1]) > 0.0015)
        fail_msg("step 1 loss %.3f with one row per batch, %.3f with two copies of it", loss[0], loss[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_reply_measured),
        cmocka_unit_test(test_local_reply_engine_fails),
        cmocka_unit_test(test_local_prompt_too_long),
        cmocka_unit_test(test_raw_prompt_keeps_special_text),
        cmocka_unit_test(test_local_reply_confidence),
        cmocka_unit_test(test_remote_reply_figures),
        cmocka_unit_test(test_remote_refused_counts_one_attempt),
        cmocka_unit_test(test_sampling_json),
        cmocka_unit_test(test_store_path_home),
        cmocka_unit_test(test_store_open_directories),
        cmocka_unit_test(test_store_reply_starts_clean),
        cmocka_unit_test(test_store_reply_confidence),
        cmocka_unit_test(test_worker_live_tps),
        cmocka_unit_test(test_worker_dropped_reset),
        cmocka_unit_test(test_config_defaults_and_spellings),
        cmocka_unit_test(test_builtin_model_in_cwd),
        cmocka_unit_test(test_ask_n_zero_refused),
        cmocka_unit_test(test_train_default_width),
        cmocka_unit_test(test_train_default_eval_every),
        cmocka_unit_test(test_train_default_ckpt_every),
        cmocka_unit_test(test_train_batch_rows),
    };
    return test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
