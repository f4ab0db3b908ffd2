/*
 * test_train_cli.c — `frontdesk train` end to end on a tiny shape: from
 * scratch on export-format conversations, the result loads and answers,
 * fine-tuning with --init, and an interrupted run resumes from its
 * checkpoint.  Uses the committed vocabulary models/frontdesk-vocab.gguf.
 *
 * What the user gets, checked against figures that do not come from the
 * code under test:
 *   - --init starts from the imported weights: one step at a learning rate
 *     of 1e-7 leaves every tensor within 1e-5 of the imported model's
 *     (a fresh initialisation is ~0.02 away), and the validation loss it
 *     reports is the imported model's own: the mean NLL of the held-out
 *     conversation's agent turns computed here with the inference engine
 *     (ChatML by hand, the agent's tokens found by their headers);
 *   - a run stopped by Ctrl-C at step k and run again continues at step
 *     k + 1 and ends with weights bit for bit those of an uninterrupted
 *     run of the same command (the trainer is deterministic with a fixed
 *     thread count: two uninterrupted runs are compared first).
 */
#include "testutil.h"

#include "engine/forward.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "train/dataset.h"
#include "util/util.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *data_file(void)
{
    const char *p = test_path(test_tmpdir(), "convs.jsonl");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < 12; i++)
        fprintf(f,
                "{\"messages\":[{\"role\":\"system\",\"content\":\"You are a support agent.\"},"
                "{\"role\":\"user\",\"content\":\"I want to cancel order %d\"},"
                "{\"role\":\"assistant\",\"content\":\"I can help you cancel order %d. Please confirm "
                "your {{Email Address}}.\"}],\"metadata\":{\"message_id\":%d}}\n",
                i, i, i);
    fclose(f);
    return p;
}

#define TINY "--width", "32", "--layers", "1", "--heads", "2", "--kv-heads", "2", "--ff", "64", "--ctx", "64", \
             "--tokens", "256", "--threads", "1", "--eval-every", "2", "--ckpt-every", "1", "--type", "f32"

static void test_train_and_fine_tune(void **state)
{
    (void)state;
    if (access("models/frontdesk-vocab.gguf", R_OK) != 0)
        fail_msg("models/frontdesk-vocab.gguf is missing");
    const char *data = data_file();
    const char *out = test_path(test_tmpdir(), "tiny.gguf");
    const char *argv[] = {test_bin(), "train", "--vocab", "models/frontdesk-vocab.gguf", "--data", data,
                          "--out", out, "--steps", "4", TINY, NULL};
    char *o, *e;
    int rc = test_run(argv, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("train exited %d: %s", rc, e);
    assert_non_null(strstr(e, "step 4/4"));
    assert_non_null(strstr(e, "wrote"));
    /* twelve conversations: one held out (5%, rounded), its loss a number
     * by step 2 (--eval-every 2) and at the end */
    assert_non_null(strstr(e, "1 validation sequences"));
    assert_non_null(strstr(e, "(validation loss "));
    const char *from2 = strstr(e, "step 2/4");
    assert_non_null(from2);
    if (strstr(from2, "nan"))
        fail_msg("a validation loss of nan from step 2 on:\n%s", e);
    assert_null(strstr(e, "no validation split"));
    free(o);
    free(e);
    const char *info[] = {test_bin(), "info", "--model", out, NULL};
    assert_int_equal(test_run(info, NULL, 0, &o, &e), 0);
    assert_non_null(strstr(o, "chat template:   chatml"));
    free(o);
    free(e);
    const char *ask[] = {test_bin(), "ask", "--model", out, "--no-db", "-n", "4", "cancel my order", NULL};
    assert_int_equal(test_run(ask, NULL, 0, &o, &e), 0);
    free(o);
    free(e);
    /* fine-tune it further on the same (export-format) data */
    const char *out2 = test_path(test_tmpdir(), "tiny2.gguf");
    const char *ft[] = {test_bin(), "train", "--init", out, "--data", data, "--out", out2, "--steps", "2", TINY, NULL};
    rc = test_run(ft, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("fine-tuning exited %d: %s", rc, e);
    free(o);
    free(e);
    assert_int_equal(access(out2, R_OK), 0);
}

/* One exported reply is too little to hold one out (5% of one conversation
 * rounds to none): the trainer says so rather than printing "val nan". */
static void test_no_validation_split(void **state)
{
    (void)state;
    const char *data = test_path(test_tmpdir(), "one.jsonl");
    FILE *f = fopen(data, "w");
    assert_non_null(f);
    fputs("{\"messages\":[{\"role\":\"user\",\"content\":\"Where is my refund?\"},"
          "{\"role\":\"assistant\",\"content\":\"Refunds take five business days.\"}]}\n",
          f);
    assert_int_equal(fclose(f), 0);
    const char *out = test_path(test_tmpdir(), "one.gguf");
    const char *argv[] = {test_bin(), "train", "--vocab", "models/frontdesk-vocab.gguf", "--data", data,
                          "--out", out, "--steps", "2", TINY, NULL};
    char *o, *e;
    int rc = test_run(argv, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("train exited %d: %s", rc, e);
    assert_non_null(strstr(e, "0 validation sequences"));
    assert_non_null(strstr(e, "step 2/2  loss "));
    assert_non_null(strstr(e, "no validation split  lr "));
    assert_non_null(strstr(e, "(no validation split: too few conversations to hold one out)"));
    if (strstr(e, "nan"))
        fail_msg("\"nan\" in the trainer's output:\n%s", e);
    free(o);
    free(e);
    assert_int_equal(access(out, R_OK), 0);
}

static void test_interrupt_and_resume(void **state)
{
    (void)state;
    const char *data = data_file();
    const char *out = test_path(test_tmpdir(), "resume.gguf");
    /* bad input: a missing data file is a clear error */
    const char *bad[] = {test_bin(), "train", "--vocab", "models/frontdesk-vocab.gguf", "--data",
                         "/nonexistent.jsonl", "--out", out, TINY, NULL};
    char *o, *e;
    assert_int_equal(test_run(bad, NULL, 0, &o, &e), 1);
    assert_non_null(strstr(e, "/nonexistent.jsonl"));
    free(o);
    free(e);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        execl(test_bin(), test_bin(), "train", "--vocab", "models/frontdesk-vocab.gguf", "--data", data, "--out",
              out, "--steps", "100000", TINY, (char *)NULL);
        _exit(127);
    }
    /* wait for a checkpoint, then interrupt */
    char ckpt[512];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    for (int i = 0; i < 300 && access(ckpt, F_OK) != 0; i++)
        usleep(20000);
    assert_int_equal(access(ckpt, F_OK), 0);
    kill(pid, SIGINT);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 130);
    const char *again[] = {test_bin(), "train", "--vocab", "models/frontdesk-vocab.gguf", "--data", data, "--out",
                           out, "--steps", "1", TINY, NULL};
    /* resumed past --steps: it exports at once */
    assert_int_equal(test_run(again, NULL, 0, &o, &e), 0);
    assert_non_null(strstr(e, "resuming"));
    free(o);
    free(e);
    assert_int_equal(access(out, R_OK), 0);
}

/* ---- What the weights and the figures say ---------------------------------------- */

/* Run train with argv; fail unless it exits 0.  Its standard error with
 * the progress line's carriage returns turned into newlines. */
static char *train_ok(const char *const *argv)
{
    char *o, *e;
    int rc = test_run(argv, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("train exited %d: %s", rc, e);
    free(o);
    for (char *p = e; *p; p++)
        if (*p == '\r')
            *p = '\n';
    return e;
}

/* The validation loss in "train: wrote PATH (validation loss V, ...". */
static double written_val_loss(const char *err)
{
    const char *p = strstr(err, "(validation loss ");
    if (!p)
        fail_msg("no final validation loss in: %s", err);
    return strtod(p + strlen("(validation loss "), NULL);
}

/* The largest |a - b| over every tensor of two F32 models of one shape
 * (bit-identical files give 0; fails on a different shape or type). */
static double max_weight_diff(const char *a_path, const char *b_path)
{
    gguf_file *a, *b;
    char err[256];
    if (gguf_open(&a, a_path, err, sizeof err) != GGUF_OK || gguf_open(&b, b_path, err, sizeof err) != GGUF_OK)
        fail_msg("%s", err);
    assert_int_equal(gguf_tensor_count(a), gguf_tensor_count(b));
    assert_true(gguf_tensor_count(a) > 0);
    double worst = 0;
    for (size_t i = 0; i < gguf_tensor_count(a); i++) {
        const gguf_tensor *ta = gguf_tensor_at(a, i);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)ta->name.len, ta->name.ptr);
        const gguf_tensor *tb = gguf_find_tensor(b, name);
        if (!tb)
            fail_msg("%s: no tensor %s", b_path, name);
        assert_int_equal(ta->type, GGML_TYPE_F32);
        assert_int_equal(tb->type, GGML_TYPE_F32);
        assert_int_equal(ta->n_elems, tb->n_elems);
        const float *x = ta->data, *y = tb->data;
        for (uint64_t k = 0; k < ta->n_elems; k++) {
            double d = fabs((double)x[k] - (double)y[k]);
            if (!(d <= worst)) /* NaN too */
                worst = isnan(d) ? INFINITY : d;
        }
    }
    gguf_close(a);
    gguf_close(b);
    return worst;
}

/* general.training.KEY of a written model. */
static uint64_t training_figure(const char *path, const char *key)
{
    gguf_file *f;
    char err[256], k[64];
    if (gguf_open(&f, path, err, sizeof err) != GGUF_OK)
        fail_msg("%s", err);
    snprintf(k, sizeof k, "general.training.%s", key);
    uint64_t v = 0;
    if (!gguf_get_u64(f, k, &v))
        fail_msg("%s: no %s", path, k);
    gguf_close(f);
    return v;
}

/* The mean NLL of the agent turns of the validation conversations of an
 * export file (the split train makes: ds_options_default's fraction and
 * seed) under the model at path, by the inference engine: each
 * conversation as ChatML by hand, tokenized whole, its learnt agent
 * messages' content and closing <|im_end|> scored. */
static double heldout_nll_by_engine(const char *path, const char *data, size_t *n_scored)
{
    char err[512];
    dataset d = {0};
    if (ds_read_jsonl(&d, data, true, err, sizeof err) != DS_OK)
        fail_msg("%s", err);
    ds_options o;
    ds_options_default(&o);
    ds_assign_split(&d, o.valid_fraction, o.seed);
    assert_true(ds_count(&d, DS_VALID) > 0);
    model *m;
    tok_vocab *v;
    fwd_ctx *c;
    if (model_load(&m, path, err, sizeof err) != 0 || tok_load(&v, m->file, err, sizeof err) != 0 ||
        !(c = fwd_new(m, (int)m->hp.n_ctx_train, 1, err, sizeof err)))
        fail_msg("%s: %s", path, err);
    size_t V = m->n_vocab;
    float *logits = malloc((size_t)m->hp.n_ctx_train * V * sizeof *logits);
    int32_t special[2], *hdr = NULL;
    size_t n_hdr = 0, hcap = 0;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(tok_encode(v, k ? "<|im_end|>" : "<|im_start|>", k ? 10 : 12, false, true, &hdr, &n_hdr,
                                    &hcap, err, sizeof err),
                         0);
        assert_int_equal(n_hdr, 1);
        special[k] = hdr[0];
        n_hdr = 0;
    }
    assert_int_equal(tok_encode(v, "assistant\n", 10, false, false, &hdr, &n_hdr, &hcap, err, sizeof err), 0);
    double nll = 0;
    *n_scored = 0;
    for (size_t i = 0; i < ds_count(&d, DS_VALID); i++) {
        const ds_conv *cv = ds_get(&d, DS_VALID, i);
        strbuf text = {0};
        for (size_t j = 0; j < cv->n_msgs; j++)
            sb_printf(&text, "<|im_start|>%s\n%s<|im_end|>\n", ds_role_name(cv->msgs[j].role), cv->msgs[j].content);
        int32_t *ids = NULL;
        size_t n = 0, cap = 0;
        assert_int_equal(tok_encode(v, text.data, text.len, false, true, &ids, &n, &cap, err, sizeof err), 0);
        sb_free(&text);
        assert_true(n <= m->hp.n_ctx_train + 1); /* one window, as the trainer cuts it */
        fwd_truncate(c, 0);
        assert_int_equal(fwd_eval(c, ids, (int)n - 1, true, logits, NULL), FWD_OK);
        size_t msg = 0;
        for (size_t p = 0; p < n; p++) {
            if (ids[p] != special[0])
                continue;
            if (cv->msgs[msg].role == DS_ROLE_ASSISTANT && msg >= cv->learn_from) {
                assert_memory_equal(ids + p + 1, hdr, n_hdr * sizeof *hdr);
                for (size_t q = p + 1 + n_hdr; q < n; q++) { /* content, then <|im_end|> */
                    const float *l = logits + (q - 1) * V;
                    double mx = l[0], sum = 0;
                    for (size_t k = 1; k < V; k++)
                        mx = l[k] > mx ? l[k] : mx;
                    for (size_t k = 0; k < V; k++)
                        sum += exp((double)l[k] - mx);
                    nll += mx + log(sum) - l[ids[q]];
                    (*n_scored)++;
                    if (ids[q] == special[1])
                        break;
                }
            }
            msg++;
        }
        free(ids);
    }
    free(hdr);
    free(logits);
    fwd_free(c);
    tok_free(v);
    model_free(m);
    ds_free(&d);
    assert_true(*n_scored > 0);
    return nll / (double)*n_scored;
}

/* The model a --init run starts from: an F32 model trained from scratch
 * far enough that its loss is well below a fresh model's ln 4096 = 8.3. */
static const char *trained_base(double *val_loss)
{
    static const char *path;
    static double val;
    if (!path) {
        const char *p = test_path(test_tmpdir(), "base.gguf");
        const char *argv[] = {test_bin(), "train", TINY, "--vocab", "models/frontdesk-vocab.gguf", "--data", data_file(),
                              "--out", p, "--steps", "40", "--lr", "1e-2", "--warmup", "0", "--ckpt-every", "1000",
                              NULL};
        char *e = train_ok(argv);
        val = written_val_loss(e);
        free(e);
        path = p;
    }
    *val_loss = val;
    return path;
}

static void test_init_starts_from_the_imported_weights(void **state)
{
    (void)state;
    double base_val;
    const char *base = trained_base(&base_val);
    printf("  base model: validation loss %.4f after 40 steps\n", base_val);
    assert_true(base_val < 7.0); /* it learnt something: a fresh model scores ~8.3 */

    /* one step at a learning rate of 1e-7: Adam moves a weight by about
     * the learning rate, decay by lr·0.1·|w| */
    const char *out = test_path(test_tmpdir(), "init1.gguf");
    const char *argv[] = {test_bin(), "train", TINY, "--init", base, "--data", data_file(), "--out", out, "--steps", "1",
                          "--lr", "1e-7", "--warmup", "0", "--ckpt-every", "1000", NULL};
    char *e = train_ok(argv);
    double diff = max_weight_diff(base, out), val = written_val_loss(e);
    printf("  --init, one step at lr 1e-7: weights within %.2e of the imported ones, validation loss %.4f\n", diff,
           val);
    if (!(diff < 1e-5))
        fail_msg("after one step at lr 1e-7 from --init %s a weight is %g away from the imported model's: the "
                 "run did not start from the imported weights",
                 base, diff);
    size_t n_scored;
    double by_engine = heldout_nll_by_engine(base, data_file(), &n_scored);
    printf("  the imported model on the held-out agent turns (%zu tokens), by the engine: %.4f\n", n_scored,
           by_engine);
    if (!(fabs(val - by_engine) < 2e-3))
        fail_msg("the validation loss after one step at lr 1e-7 is %.4f; the imported model's, computed by the "
                 "engine, %.4f",
                 val, by_engine);
    if (!(fabs(val - base_val) < 1e-3))
        fail_msg("the validation loss after one step at lr 1e-7 is %.4f, the imported model's %.4f", val, base_val);
    assert_int_equal(training_figure(out, "steps"), 1);
    free(e);

    /* the comparison can tell: a model trained from scratch for that one
     * step is far from the imported one */
    const char *fresh = test_path(test_tmpdir(), "fresh1.gguf");
    const char *scratch[] = {test_bin(), "train", TINY, "--vocab", "models/frontdesk-vocab.gguf", "--data", data_file(),
                             "--out", fresh, "--steps", "1", "--lr", "1e-7", "--warmup", "0", "--ckpt-every",
                             "1000", NULL};
    e = train_ok(scratch);
    assert_true(max_weight_diff(base, fresh) > 1e-2);
    assert_true(written_val_loss(e) > base_val + 1.0);
    free(e);
}

/* Spawn argv with its standard error on a pipe of one page (so it can run
 * at most ~60 progress lines ahead of the reader); SIGINT it once its
 * progress shows `signal_at`; return its exit status, its standard error
 * (carriage returns as newlines) in *err. */
static int run_and_interrupt(const char *const *argv, const char *signal_at, char **err)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    if (fcntl(p[0], F_SETPIPE_SZ, 4096) < 0)
        fail_msg("F_SETPIPE_SZ: cannot make the pipe small");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    strbuf sb = {0};
    sb_puts(&sb, "");
    bool sent = false;
    char buf[4096];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) != 0) {
        if (n < 0)
            continue; /* EINTR */
        sb_append(&sb, buf, (size_t)n);
        if (!sent && strstr(sb.data, signal_at)) {
            kill(pid, SIGINT);
            sent = true;
        }
    }
    close(p[0]);
    int status;
    waitpid(pid, &status, 0);
    for (char *c = sb.data; *c; c++)
        if (*c == '\r')
            *c = '\n';
    *err = sb.data;
    assert_true(sent);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_resume_continues_where_it_stopped(void **state)
{
    (void)state;
    const char *data = data_file();
    const char *full = test_path(test_tmpdir(), "full.gguf"), *again = test_path(test_tmpdir(), "again.gguf"),
               *cut = test_path(test_tmpdir(), "cut.gguf");
#define RUN(out) \
    {test_bin(), "train", TINY, "--vocab", "models/frontdesk-vocab.gguf", "--data", data, "--out", out, "--steps", "200", \
     "--lr", "3e-3", "--warmup", "5", "--ckpt-every", "1000", NULL}
    const char *a1[] = RUN(full), *a2[] = RUN(again), *b[] = RUN(cut);
#undef RUN
    /* the trainer is deterministic: the same command twice, the same weights */
    free(train_ok(a1));
    free(train_ok(a2));
    assert_true(max_weight_diff(full, again) == 0.0);

    /* stopped early (step 3 plus at most two pipes' worth of lines, ~120) */
    char *e;
    int rc = run_and_interrupt(b, "step 3/200", &e);
    if (rc != 130)
        fail_msg("the interrupted run exited %d: %s", rc, e);
    const char *p = strstr(e, "train: stopped at step ");
    if (!p)
        fail_msg("no 'stopped at step' in: %s", e);
    long k = strtol(p + strlen("train: stopped at step "), NULL, 10);
    free(e);
    assert_true(k >= 3 && k < 200);

    /* run again: resumes at k, the next step is k + 1, the last 200 */
    e = train_ok(b);
    char want[256];
    snprintf(want, sizeof want, "train: resuming %s.ckpt at step %ld\n", cut, k);
    if (!strstr(e, want))
        fail_msg("expected '%s' in: %s", want, e);
    const char *first = strstr(e, "\nstep ");
    assert_non_null(first);
    snprintf(want, sizeof want, "\nstep %ld/200 ", k + 1);
    if (strncmp(first, want, strlen(want)) != 0)
        fail_msg("the resumed run's first step is not %ld: %.40s", k + 1, first + 1);
    assert_non_null(strstr(e, "\nstep 200/200 "));
    free(e);
    printf("  stopped at step %ld of 200, resumed at %ld\n", k, k + 1);

    /* and ends where the uninterrupted run ended, bit for bit */
    double d = max_weight_diff(full, cut);
    if (d != 0.0)
        fail_msg("the resumed run's weights differ from the uninterrupted run's by up to %g", d);
    /* what the file says of its training counts every sitting */
    assert_int_equal(training_figure(cut, "steps"), 200);
    uint64_t t_full = training_figure(full, "tokens"), t_cut = training_figure(cut, "tokens");
    if (t_cut != t_full)
        fail_msg("the resumed model records %llu training tokens, the uninterrupted one %llu",
                 (unsigned long long)t_cut, (unsigned long long)t_full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_and_fine_tune),
        cmocka_unit_test(test_no_validation_split),
        cmocka_unit_test(test_interrupt_and_resume),
        cmocka_unit_test(test_init_starts_from_the_imported_weights),
        cmocka_unit_test(test_resume_continues_where_it_stopped),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
