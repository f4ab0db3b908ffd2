/*
 * test_train_runs.c — the trainer (train/train.h) over whole runs:
 * bit-identical reruns, resume after a "kill" (and after SIGKILL),
 * damaged checkpoints, the learning-rate schedule, import round trips,
 * bad arguments, AdamW and
 * gradient clipping against values worked out here.  The trainer's
 * numerics against a reference are test_train.c's.
 */
#include "tests/testutil.h"
#include "tests/train_check.h"

#include "engine/forward.h"
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/model.h"
#include "engine/quant.h"
#include "train/train.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- (d) determinism and resume after a kill ---------------------------------------------------- */

/* Steps [from, to) of a run whose data come from the caller's rng. */
static void run_steps(train_model *m, train_rng *r, int from, int to, int total)
{
    const train_config *c = train_get_config(m);
    int B = (int)c->n_batch, T = (int)c->n_ctx;
    int32_t tok[64];
    uint8_t mask[64];
    char err[256];
    float loss;
    for (int s = from; s < to; s++) {
        trc_random_tokens(r, tok, (size_t)B * (T + 1), c->vocab);
        for (int i = 0; i < B * T; i++)
            mask[i] = train_rng_below(r, 4) != 0;
        assert_int_equal(train_step_grad(m, tok, mask, B, T, &loss, err, sizeof err), TRAIN_OK);
        train_apply(m, train_lr(s, total, 5, 3e-3f, 3e-4f));
    }
}

static bool same_weights(const train_model *a, const train_model *b)
{
    if (train_tensor_count(a) != train_tensor_count(b))
        return false;
    for (size_t i = 0; i < train_tensor_count(a); i++) {
        train_tensor ta = train_tensor_at(a, i), tb = train_tensor_at(b, i);
        if (memcmp(ta.data, tb.data, (size_t)ta.rows * ta.cols * sizeof(float)))
            return false;
    }
    return true;
}

static void test_rerun_is_bit_identical(void **state)
{
    (void)state;
    train_config c = trc_tiny_config();
    train_model *a = trc_new_model(&c, 5), *b = trc_new_model(&c, 5), *other = trc_new_model(&c, 6);
    assert_true(same_weights(a, b));
    assert_false(same_weights(a, other));
    train_rng ra, rb;
    train_rng_seed(&ra, 1);
    train_rng_seed(&rb, 1);
    run_steps(a, &ra, 0, 5, 20);
    run_steps(b, &rb, 0, 5, 20);
    assert_true(same_weights(a, b));
    train_free(a);
    train_free(b);
    train_free(other);
}

static void test_resume_after_kill(void **state)
{
    (void)state;
    train_config c = trc_tiny_config();
    const char *ckpt = test_path(test_tmpdir(), "run.ckpt");
    char err[256];

    train_model *whole = trc_new_model(&c, 7);
    train_rng rw;
    train_rng_seed(&rw, 70);
    run_steps(whole, &rw, 0, 20, 20);

    train_model *first = trc_new_model(&c, 7);
    train_rng r1;
    train_rng_seed(&r1, 70);
    run_steps(first, &r1, 0, 10, 20);
    char note[] = "epoch 0, offset 1234";
    train_ckpt st = {.step = 10, .rng = r1, .user = note, .user_len = sizeof note};
    assert_int_equal(train_save(first, &st, ckpt, err, sizeof err), TRAIN_OK);
    assert_int_equal(access(test_path(test_tmpdir(), "run.ckpt.tmp"), F_OK), -1);
    /* the "kill": everything in memory is lost, and a half-written
     * checkpoint of a later step is left lying around */
    train_free(first);
    FILE *junk = fopen(test_path(test_tmpdir(), "run.ckpt.tmp"), "wb");
    assert_non_null(junk);
    fputs("FDTRAIN1 half", junk);
    fclose(junk);

    train_model *resumed = NULL;
    train_ckpt got;
    assert_int_equal(train_load(&resumed, &got, ckpt, 0, err, sizeof err), TRAIN_OK);
    assert_int_equal(got.step, 10);
    assert_int_equal(train_opt_step(resumed), 10);
    assert_int_equal(got.user_len, sizeof note);
    assert_memory_equal(got.user, note, sizeof note);
    assert_memory_equal(&got.rng, &r1, sizeof r1);
    const train_config *rc = train_get_config(resumed); /* field by field: padding is not saved */
    assert_true(rc->vocab == c.vocab && rc->n_embd == c.n_embd && rc->n_layer == c.n_layer &&
                rc->n_head == c.n_head && rc->n_head_kv == c.n_head_kv && rc->n_ff == c.n_ff &&
                rc->n_ctx == c.n_ctx && rc->rope_base == c.rope_base && rc->rms_eps == c.rms_eps &&
                rc->tied == c.tied && rc->n_batch == c.n_batch && rc->n_threads == c.n_threads &&
                rc->beta1 == c.beta1 && rc->beta2 == c.beta2 && rc->adam_eps == c.adam_eps &&
                rc->weight_decay == c.weight_decay && rc->grad_clip == c.grad_clip);
    run_steps(resumed, &got.rng, (int)got.step, 20, 20);
    assert_true(same_weights(whole, resumed));
    print_message("resumed at step 10: all %zu weights equal bit for bit after step 20\n", train_n_params(whole));

    /* and the checkpoint is needed: a fresh model at step 10 differs */
    train_model *fresh = trc_new_model(&c, 7);
    train_rng rf = r1;
    run_steps(fresh, &rf, 10, 20, 20);
    assert_false(same_weights(whole, fresh));
    free(got.user);
    train_free(fresh);
    train_free(resumed);
    train_free(whole);
}

/* A real kill: a child process trains, checkpointing after every step,
 * and is SIGKILLed at a random moment after step 7 (mid-step or
 * mid-save).  The parent resumes from whatever checkpoint survived. */
static void test_resume_after_sigkill(void **state)
{
    (void)state;
    train_config c = trc_tiny_config();
    const char *ckpt = test_path(test_tmpdir(), "killed.ckpt");
    int up[2], down[2];
    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        char err[256];
        train_model *m = train_new(&c, 7, err, sizeof err);
        train_rng r;
        train_rng_seed(&r, 70);
        for (int s = 0; s < 20 && m; s++) {
            run_steps(m, &r, s, s + 1, 20);
            train_ckpt st = {.step = (uint64_t)s + 1, .rng = r};
            if (train_save(m, &st, ckpt, err, sizeof err) != TRAIN_OK)
                _exit(1);
            int done = s + 1;
            char go;
            if (write(up[1], &done, sizeof done) != sizeof done || (done >= 8 && read(down[0], &go, 1) != 1))
                _exit(1);
        }
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    int done = 0;
    while (done < 8)
        assert_int_equal(read(up[0], &done, sizeof done), sizeof done);
    char go = 'g';
    assert_int_equal(write(down[1], &go, 1), 1); /* one more step, then ... */
    struct timespec nap = {0, (long)(getpid() % 2000) * 1000};
    nanosleep(&nap, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(up[0]);
    close(down[1]);

    train_model *whole = trc_new_model(&c, 7), *resumed = NULL;
    train_rng rw;
    train_rng_seed(&rw, 70);
    run_steps(whole, &rw, 0, 20, 20);
    train_ckpt st;
    char err[256];
    assert_int_equal(train_load(&resumed, &st, ckpt, 0, err, sizeof err), TRAIN_OK);
    print_message("killed %s; resuming at step %llu\n", WIFSIGNALED(status) ? "by SIGKILL" : "after it finished",
                  (unsigned long long)st.step);
    assert_true(st.step >= 8 && st.step <= 20);
    run_steps(resumed, &st.rng, (int)st.step, 20, 20);
    assert_true(same_weights(whole, resumed));
    train_free(whole);
    train_free(resumed);
}

static void test_damaged_checkpoints(void **state)
{
    (void)state;
    train_config c = trc_tiny_config();
    c.n_threads = 1;
    train_model *m = trc_new_model(&c, 9);
    const char *path = test_path(test_tmpdir(), "dmg.ckpt"), *bad = test_path(test_tmpdir(), "bad.ckpt");
    char err[256];
    train_ckpt st = {.step = 3};
    assert_int_equal(train_save(m, &st, path, err, sizeof err), TRAIN_OK);
    size_t len;
    char *bytes = test_read_file(path, &len);
    assert_int_equal(len, 148 + 3 * train_n_params(m) * sizeof(float) + 8);
    train_model *got = NULL;
    train_ckpt gst;
    /* truncation at every header offset and at some in the body */
    for (size_t cut = 0; cut < len; cut += cut < 200 ? 1 : 997) {
        FILE *f = fopen(bad, "wb");
        fwrite(bytes, 1, cut, f);
        fclose(f);
        int rc = train_load(&got, &gst, bad, 0, err, sizeof err);
        if (rc != TRAIN_EBAD)
            fail_msg("cut at %zu: status %d (%s)", cut, rc, err);
        assert_null(got);
    }
    /* a flipped byte anywhere is caught (header: by a check or the sum) */
    size_t flips[] = {0, 9, 20, 60, 147, 148, 1000, len - 9, len - 1};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        bytes[flips[i]] ^= 0x10;
        FILE *f = fopen(bad, "wb");
        fwrite(bytes, 1, len, f);
        fclose(f);
        bytes[flips[i]] ^= 0x10;
        int rc = train_load(&got, &gst, bad, 0, err, sizeof err);
        if (rc != TRAIN_EBAD)
            fail_msg("flip at %zu: status %d (%s)", flips[i], rc, err);
        if (flips[i] == 1000)
            print_message("flipped body byte: %s\n", err);
    }
    assert_int_equal(train_load(&got, &gst, test_path(test_tmpdir(), "missing.ckpt"), 0, err, sizeof err),
                     TRAIN_EIO);
    /* a directory that does not exist: nothing written, old file intact */
    assert_int_equal(train_save(m, &st, "/nonexistent-dir/x.ckpt", err, sizeof err), TRAIN_EIO);
    assert_int_equal(train_load(&got, &gst, path, 0, err, sizeof err), TRAIN_OK);
    assert_true(same_weights(m, got));
    assert_int_equal(gst.step, 3);
    assert_null(gst.user);
    free(bytes);
    train_free(got);
    train_free(m);
}

/* ---- (e) learning-rate schedule ---------------------------------------------------------------- */

static void test_lr_schedule(void **state)
{
    (void)state;
    const float mx = 1e-3f, mn = 1e-4f;
    assert_float_equal(train_lr(0, 100, 10, mx, mn), 1e-4f, 1e-9f);
    assert_float_equal(train_lr(4, 100, 10, mx, mn), 5e-4f, 1e-9f);
    assert_float_equal(train_lr(9, 100, 10, mx, mn), mx, 1e-9f);
    assert_float_equal(train_lr(10, 100, 10, mx, mn), mx, 1e-9f);
    assert_float_equal(train_lr(55, 100, 10, mx, mn), 0.5f * (mx + mn), 1e-9f);
    /* a quarter of the way: lr_min + (max-min)·(1 + cos(π/4))/2 */
    assert_float_equal(train_lr(32, 100, 10, mx, mn) - 0.0f,
                       mn + (mx - mn) * 0.5f * (1.0f + cosf((float)M_PI * 22.0f / 90.0f)), 1e-8f);
    assert_float_equal(train_lr(100, 100, 10, mx, mn), mn, 1e-9f);
    assert_float_equal(train_lr(1000, 100, 10, mx, mn), mn, 1e-9f);
    assert_float_equal(train_lr(0, 100, 0, mx, mn), mx, 1e-9f);
    float prev = mx;
    for (long s = 10; s <= 100; s++) {
        float lr = train_lr(s, 100, 10, mx, mn);
        assert_true(lr <= prev && lr >= mn);
        prev = lr;
    }
}

/* ---- Import, arguments, the optimiser ---------------------------------------------------- */

static void test_import_round_trip(void **state)
{
    (void)state;
    train_config c = trc_tiny_config();
    c.n_embd = 32, c.n_ff = 64, c.n_ctx = 16;
    train_model *m = trc_new_model(&c, 61);
    trc_spread_weights(m, 62, 0.1f);
    char err[512];
    const char *path = test_path(test_tmpdir(), "rt.gguf");
    assert_int_equal(train_export_gguf(m, path, GGML_TYPE_F32, NULL, err, sizeof err), TRAIN_OK);
    train_config opts;
    train_config_default(&opts);
    opts.n_ctx = 0, opts.n_batch = 2, opts.n_threads = 1;
    train_model *back = NULL;
    if (train_import_gguf(&back, path, &opts, err, sizeof err) != TRAIN_OK)
        fail_msg("%s", err);
    const train_config *bc = train_get_config(back);
    assert_true(bc->vocab == c.vocab && bc->n_embd == c.n_embd && bc->n_layer == c.n_layer &&
                bc->n_head == c.n_head && bc->n_head_kv == c.n_head_kv && bc->n_ff == c.n_ff &&
                bc->n_ctx == c.n_ctx && bc->tied == c.tied && bc->rope_base == c.rope_base &&
                bc->rms_eps == c.rms_eps);
    assert_true(same_weights(m, back));
    train_free(back);

    /* Q8_0: every weight within half a quantization step d = amax/127 of
     * its block, plus d's own rounding to half precision (127·d·2^-11) */
    assert_int_equal(train_export_gguf(m, path, GGML_TYPE_Q8_0, NULL, err, sizeof err), TRAIN_OK);
    assert_int_equal(train_import_gguf(&back, path, &opts, err, sizeof err), TRAIN_OK);
    for (size_t i = 0; i < train_tensor_count(m); i++) {
        train_tensor a = train_tensor_at(m, i), b = train_tensor_at(back, i);
        size_t n = (size_t)a.rows * a.cols;
        for (size_t k0 = 0; k0 < n; k0 += 32) {
            float amax = 0.0f;
            for (size_t k = k0; k < k0 + 32 && k < n; k++)
                amax = fmaxf(amax, fabsf(a.data[k]));
            for (size_t k = k0; k < k0 + 32 && k < n; k++)
                assert_true(fabsf(a.data[k] - b.data[k]) <= amax / 127.0f * 0.57f + 1e-7f);
        }
    }
    train_free(back);

    /* not llama: refused, with the reason */
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "qwen2");
    const char *other = test_path(test_tmpdir(), "qwen.gguf");
    assert_int_equal(gguf_writer_write_file(w, other, err, sizeof err), GGUF_OK);
    gguf_writer_free(w);
    assert_int_equal(train_import_gguf(&back, other, &opts, err, sizeof err), TRAIN_EBAD);
    assert_non_null(strstr(err, "qwen2"));
    assert_int_equal(train_import_gguf(&back, test_path(test_tmpdir(), "none.gguf"), &opts, err, sizeof err),
                     TRAIN_EIO);
    assert_null(back);
    train_free(m);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    char err[256];
    train_config c = trc_tiny_config();
    c.n_head_kv = 3;
    assert_null(train_new(&c, 1, err, sizeof err));
    assert_non_null(strstr(err, "n_head_kv"));
    c = trc_tiny_config();
    c.n_embd = 18; /* not a multiple of 4 heads */
    assert_null(train_new(&c, 1, err, sizeof err));
    c = trc_tiny_config();
    train_model *m = trc_new_model(&c, 1);
    int32_t tok[27] = {0};
    float loss = -1.0f;
    assert_int_equal(train_step_grad(m, tok, NULL, 3, 8, &loss, err, sizeof err), TRAIN_EINVAL);
    assert_int_equal(train_step_grad(m, tok, NULL, 1, 9, &loss, err, sizeof err), TRAIN_EINVAL);
    tok[5] = 32;
    assert_int_equal(train_step_grad(m, tok, NULL, 2, 8, &loss, err, sizeof err), TRAIN_EINVAL);
    assert_non_null(strstr(err, "token 32"));
    tok[5] = -1;
    assert_int_equal(train_eval_loss(m, tok, NULL, 2, 8, &loss, err, sizeof err), TRAIN_EINVAL);
    tok[5] = 3;
    /* nothing counted: loss 0, no gradient */
    uint8_t none[16] = {0};
    assert_int_equal(train_step_grad(m, tok, none, 2, 8, &loss, err, sizeof err), TRAIN_OK);
    assert_float_equal(loss, 0.0f, 0.0f);
    assert_float_equal(train_grad_norm(m), 0.0f, 0.0f);
    train_free(m);
    train_free(NULL);
}

/* AdamW by hand for one element of a decayed and an undecayed tensor, and
 * clipping of the global norm. */
static void test_adamw_and_clipping(void **state)
{
    (void)state;
    train_config c = trc_tiny_config();
    c.weight_decay = 0.5f, c.grad_clip = 1.0f;
    train_model *m = trc_new_model(&c, 2);
    train_tensor wq, norm;
    trc_find_tensor(m, "blk.0.attn_q.weight", &wq);
    trc_find_tensor(m, "blk.0.attn_norm.weight", &norm);
    assert_true(wq.decay);
    assert_false(norm.decay);
    train_tensor emb, out;
    assert_false(trc_find_tensor(m, "token_embd.weight", &emb)->decay); /* untied: a look-up table */
    assert_true(trc_find_tensor(m, "output.weight", &out)->decay);
    train_zero_grad(m);
    wq.grad[0] = 3.0f, norm.grad[0] = 4.0f; /* norm 5: clipped to 1 */
    float w0 = wq.data[0], n0 = norm.data[0], lr = 0.01f;
    assert_float_equal(train_apply(m, lr), 5.0f, 1e-6f);
    /* step 1: m̂ = g', v̂ = g'², update = lr·g'/(|g'| + eps) = lr·sign */
    assert_float_equal(wq.data[0], w0 * (1.0f - lr * 0.5f) - lr, 1e-6f);
    assert_float_equal(norm.data[0], n0 - lr, 1e-6f);
    assert_float_equal(train_grad_norm(m), 0.0f, 0.0f);
    train_tensor other;
    trc_find_tensor(m, "blk.1.attn_q.weight", &other);
    float before = other.data[0];
    train_apply(m, lr); /* zero gradient: only decay moves decayed weights */
    assert_float_equal(other.data[0], before * (1.0f - lr * 0.5f), 1e-7f);
    train_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rerun_is_bit_identical),
        cmocka_unit_test(test_resume_after_kill),
        cmocka_unit_test(test_resume_after_sigkill),
        cmocka_unit_test(test_damaged_checkpoints),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_import_round_trip),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_adamw_and_clipping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
