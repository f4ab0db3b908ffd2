/*
 * test_local_reply.c — what a local reply is generated from, through the
 * two ways a user gets one: `frontdesk ask` (new and continued
 * conversations) and the TUI's generation thread (app/worker.c: send,
 * send again, regenerate, edit), on the built-in model
 * models/frontdesk-cs.gguf.
 *
 * The expected prompt is written out here by hand in ChatML (the model's
 * template) from the conversation as the user typed it — system prompt,
 * every earlier turn, the customer's newest message — and tokenized; the
 * request's recorded prompt_tokens must equal its length, and the reply
 * must be, byte for byte, the greedy continuation of exactly those tokens
 * computed here with the engine directly (gen_run, bypassing prompt.c,
 * reply.c, worker.c and cmd_ask.c).  A reply generated without the newest
 * message, or with a turn twice, or with a turn of another thread, has
 * another length and other text.
 */
#include "tests/testutil.h"

#include "app/config.h"
#include "app/store.h"
#include "app/worker.h"
#include "engine/forward.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"
#include "storage/chats.h"
#include "storage/db.h"
#include "storage/metrics.h"
#include "train/dataset.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODEL "models/frontdesk-cs.gguf"
#define MAX_TOKENS 32

static model *mdl;
static tok_vocab *voc;
static fwd_ctx *ctx;

static int setup(void **state)
{
    (void)state;
    char err[512];
    if (model_load(&mdl, MODEL, err, sizeof err) != 0 || tok_load(&voc, mdl->file, err, sizeof err) != 0 ||
        !(ctx = fwd_new(mdl, 512, 1, err, sizeof err))) {
        fprintf(stderr, "%s: %s\n", MODEL, err);
        return -1;
    }
    /* no user configuration may change what the commands do */
    const char *cfg = test_path(test_tmpdir(), "config-home");
    mkdir(cfg, 0700);
    setenv("XDG_CONFIG_HOME", cfg, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fwd_free(ctx);
    tok_free(voc);
    model_free(mdl);
    return 0;
}

typedef struct {
    const char *role, *text;
} turn;

/* The prompt by hand: "<|im_start|>ROLE\nTEXT<|im_end|>\n" per turn, then
 * the open assistant turn; tokenized with special tokens parsed. */
static void hand_prompt(const turn *t, size_t n, int32_t **ids, size_t *n_ids)
{
    strbuf sb = {0};
    for (size_t i = 0; i < n; i++)
        sb_printf(&sb, "<|im_start|>%s\n%s<|im_end|>\n", t[i].role, t[i].text);
    sb_puts(&sb, "<|im_start|>assistant\n");
    char err[256];
    size_t cap = 0;
    *ids = NULL;
    *n_ids = 0;
    if (tok_encode(voc, sb.data, sb.len, true, true, ids, n_ids, &cap, err, sizeof err) != 0)
        fail_msg("tokenizing the hand-built prompt: %s", err);
    sb_free(&sb);
}

static bool collect(void *ud, const char *text, size_t len)
{
    sb_append(ud, text, len);
    return true;
}

/* The greedy reply to exactly these turns, from the engine itself; its
 * prompt length in *n_prompt.  Caller frees. */
static char *expected_reply(const turn *t, size_t n, size_t *n_prompt)
{
    int32_t *ids;
    hand_prompt(t, n, &ids, n_prompt);
    sampler_params sp = sampler_defaults();
    sp.temp = 0.0f;
    sampler *s = sampler_new(&sp, (int)mdl->n_vocab);
    strbuf text = {0};
    sb_puts(&text, "");
    gen_opts go = {.n_predict = MAX_TOKENS, .on_text = collect, .ud = &text};
    gen_stats st;
    char err[256];
    if (gen_run(ctx, mdl, voc, s, ids, (int)*n_prompt, &go, &st, err, sizeof err) != 0)
        fail_msg("gen_run: %s", err);
    assert_int_equal(st.prompt_tokens, (int)*n_prompt);
    sampler_free(s);
    free(ids);
    return text.data;
}

/* ---- frontdesk ask ------------------------------------------------------------------- */

/* `key=N` in the --stats line, or fail. */
static long stat_of(const char *err, const char *key)
{
    const char *p = strstr(err, key);
    if (!p)
        fail_msg("no %s in: %s", key, err);
    return strtol(p + strlen(key), NULL, 10);
}

/* Run ask; its reply (stdout without the final newline) is returned, its
 * standard error in *err. */
static char *ask(const char *const *extra, size_t n_extra, const char *question, char **err)
{
    const char *argv[32] = {test_bin(), "ask", "--model", MODEL, "--temp", "0", "-n", "32", "--threads", "1",
                            "--stats"};
    size_t n = 11;
    for (size_t i = 0; i < n_extra; i++)
        argv[n++] = extra[i];
    argv[n++] = question;
    argv[n] = NULL;
    char *out;
    int rc = test_run(argv, NULL, 0, &out, err);
    if (rc != 0)
        fail_msg("frontdesk ask exited %d: %s", rc, *err);
    size_t len = strlen(out);
    assert_true(len > 0 && out[len - 1] == '\n');
    out[len - 1] = '\0';
    return out;
}

static void expect_reply(const char *what, const char *got, int got_prompt, const turn *t, size_t n)
{
    size_t n_prompt;
    char *want = expected_reply(t, n, &n_prompt);
    if ((size_t)got_prompt != n_prompt)
        fail_msg("%s: the prompt was %d tokens; the conversation with the customer's newest message is %zu",
                 what, got_prompt, n_prompt);
    if (strcmp(got, want) != 0)
        fail_msg("%s: the reply\n  %s\nis not the greedy reply to the whole conversation\n  %s", what, got, want);
    int line = (int)strcspn(got, "\n");
    printf("  %s: %zu prompt tokens, \"%.*s...\"\n", what, n_prompt, line < 50 ? line : 50, got);
    free(want);
}

static void test_ask_replies_to_the_whole_conversation(void **state)
{
    (void)state;
    const char *db_path = test_path(test_tmpdir(), "ask.db");
    const char *q1 = "I want to cancel my order", *q2 = "How long will the refund take?";
    const char *sys = ds_default_system;

    /* a new conversation: the system prompt and the question */
    const char *first[] = {"--db", db_path, "--system", sys};
    char *err, *r1 = ask(first, 4, q1, &err);
    turn t[4] = {{"system", sys}, {"user", q1}};
    expect_reply("ask, new conversation", r1, (int)stat_of(err, "prompt_tokens="), t, 2);
    assert_int_equal(stat_of(err, "conversation="), 1);
    free(err);

    /* continued: the history, then the new question */
    const char *cont[] = {"--db", db_path, "--conversation", "1"};
    char *r2 = ask(cont, 4, q2, &err);
    t[2] = (turn){"assistant", r1};
    t[3] = (turn){"user", q2};
    long p2 = stat_of(err, "prompt_tokens=");
    expect_reply("ask --conversation", r2, (int)p2, t, 4);
    free(err);

    /* what show records for it is the same figure */
    const char *show[] = {test_bin(), "show", "1", "--db", db_path, NULL};
    char *out;
    assert_int_equal(test_run(show, NULL, 0, &out, &err), 0);
    char rec[64];
    snprintf(rec, sizeof rec, "request 2: ok, %ld+", p2);
    if (!strstr(out, rec))
        fail_msg("show does not record %ld prompt tokens for the second reply:\n%s", p2, out);
    free(out);
    free(err);
    free(r1);
    free(r2);
}

/* Without --system, ask answers under the system prompt the built-in model
 * was trained with (train/dataset.c's ds_default_system), and records it. */
static void test_ask_default_system_prompt(void **state)
{
    (void)state;
    const char *db_path = test_path(test_tmpdir(), "ask-default.db");
    const char *q = "I want to delete my account";
    const char *opts[] = {"--db", db_path};
    char *err, *r = ask(opts, 2, q, &err);
    turn t[2] = {{"system", ds_default_system}, {"user", q}};
    expect_reply("ask without --system", r, (int)stat_of(err, "prompt_tokens="), t, 2);
    free(err);
    db *d;
    char e[256];
    assert_int_equal(db_open(&d, db_path, e, sizeof e), DB_OK);
    db_msg *rows;
    size_t n;
    assert_int_equal(db_msgs_list(d, 1, false, &rows, &n), DB_OK);
    assert_int_equal(n, 3);
    assert_int_equal(rows[0].role, DB_ROLE_SYSTEM);
    assert_string_equal(rows[0].text, ds_default_system);
    assert_string_equal(rows[1].text, q);
    assert_string_equal(rows[2].text, r);
    db_msgs_free(rows, n);
    db_close(d);
    free(r);
}

/* A continued conversation that no longer fits: the oldest turns go, the
 * newest message stays. */
static void test_ask_drops_oldest_keeps_newest(void **state)
{
    (void)state;
    const char *db_path = test_path(test_tmpdir(), "ask-ctx.db");
    const char *q1 = "I want to cancel my order", *q2 = "Where can I find my invoice?";
    const char *sys = "Be brief.";
    const char *first[] = {"--db", db_path, "--system", sys};
    char *err, *r1 = ask(first, 4, q1, &err);
    free(err);
    turn mid[3] = {{"system", sys}, {"assistant", r1}, {"user", q2}};
    turn kept[2] = {{"system", sys}, {"user", q2}};
    int32_t *ids;
    size_t n_mid, n_kept;
    hand_prompt(mid, 3, &ids, &n_mid);
    free(ids);
    hand_prompt(kept, 2, &ids, &n_kept);
    free(ids);
    /* the smallest context whose prompt budget (context - min(32,
     * context / 4)) holds the system prompt and the newest message; the
     * agent's reply between them does not fit too */
    int c = 16;
    while (c - (c / 4 < MAX_TOKENS ? c / 4 : MAX_TOKENS) < (int)n_kept)
        c++;
    assert_true((size_t)(c - (c / 4 < MAX_TOKENS ? c / 4 : MAX_TOKENS)) < n_mid);
    char cs[16];
    snprintf(cs, sizeof cs, "%d", c);
    const char *cont[] = {"--db", db_path, "--conversation", "1", "--ctx", cs};
    char *r2 = ask(cont, 6, q2, &err);
    assert_int_equal(stat_of(err, "prompt_tokens="), (long)n_kept);
    assert_non_null(strstr(err, "the 2 oldest message(s) did not fit"));
    free(err);
    free(r1);
    free(r2);
}

/* The greedy ids of a reply with repeat penalty r over the last 64 tokens
 * (prompt included), worked out here step by step from the model's logits:
 * each distinct recent token's logit divided by r when positive, multiplied
 * when not, then the highest (lowest id on a tie). */
static size_t greedy_by_hand(const int32_t *prompt, size_t n_prompt, float r, bool prompt_counts, int n_predict,
                             int32_t *out)
{
    int32_t hist[1024];
    size_t n_hist = prompt_counts ? n_prompt : 0, n_out = 0;
    memcpy(hist, prompt, n_hist * sizeof *hist);
    size_t V = mdl->n_vocab;
    float *logits = malloc(V * sizeof *logits);
    fwd_truncate(ctx, 0);
    assert_int_equal(fwd_eval(ctx, prompt, (int)n_prompt, false, logits, NULL), FWD_OK);
    for (int step = 0; step < n_predict; step++) {
        size_t from = n_hist > 64 ? n_hist - 64 : 0;
        for (size_t i = from; i < n_hist; i++) {
            bool seen = false;
            for (size_t j = from; j < i && !seen; j++)
                seen = hist[j] == hist[i];
            if (!seen)
                logits[hist[i]] = logits[hist[i]] > 0 ? logits[hist[i]] / r : logits[hist[i]] * r;
        }
        int32_t best = 0;
        for (size_t k = 1; k < V; k++)
            if (logits[k] > logits[best])
                best = (int32_t)k;
        out[n_out++] = best;
        if (tok_is_eog(voc, best))
            break;
        hist[n_hist++] = best;
        assert_int_equal(fwd_eval(ctx, &best, 1, false, logits, NULL), FWD_OK);
    }
    free(logits);
    return n_out;
}

/* --repeat-penalty reaches the reply and covers the prompt: `ask --ids`
 * prints the ids worked out by hand, which differ from the unpenalised
 * greedy ones. */
static void test_ask_repeat_penalty_by_hand(void **state)
{
    (void)state;
    const char *q = "I want to cancel my order";
    turn t[2] = {{"system", ds_default_system}, {"user", q}};
    int32_t *prompt;
    size_t n_prompt;
    hand_prompt(t, 2, &prompt, &n_prompt);
    int32_t plain[MAX_TOKENS], pen[MAX_TOKENS];
    int32_t reply_only[MAX_TOKENS];
    size_t n_plain = greedy_by_hand(prompt, n_prompt, 1.0f, true, MAX_TOKENS, plain);
    size_t n_pen = greedy_by_hand(prompt, n_prompt, 1.5f, true, MAX_TOKENS, pen);
    size_t n_reply_only = greedy_by_hand(prompt, n_prompt, 1.5f, false, MAX_TOKENS, reply_only);
    /* the penalty changes the reply, and counting the prompt's tokens in it
     * changes it again: the check can tell both */
    size_t d1 = 0, d2 = 0;
    while (d1 < n_pen && d1 < n_plain && pen[d1] == plain[d1])
        d1++;
    while (d2 < n_pen && d2 < n_reply_only && pen[d2] == reply_only[d2])
        d2++;
    printf("  repeat penalty 1.5: the reply departs from the unpenalised one at token %zu, from one penalising "
           "the reply's own tokens only at token %zu\n",
           d1, d2);
    assert_true(d1 < n_pen && d1 < n_plain);
    assert_true(d2 < n_pen && d2 < n_reply_only);
    for (int k = 0; k < 2; k++) {
        const char *argv[] = {test_bin(), "ask", "--model", MODEL, "--temp", "0", "-n", "32", "--threads", "1",
                              "--no-db", "--ids", "--repeat-penalty", k ? "1.5" : "1", q, NULL};
        char *out, *err;
        if (test_run(argv, NULL, 0, &out, &err) != 0)
            fail_msg("frontdesk ask --ids: %s", err);
        strbuf want = {0};
        const int32_t *ids = k ? pen : plain;
        size_t n = k ? n_pen : n_plain;
        for (size_t i = 0; i < n; i++)
            sb_printf(&want, i ? " %d" : "%d", ids[i]);
        sb_putc(&want, '\n');
        if (strcmp(out, want.data) != 0)
            fail_msg("ask --ids --repeat-penalty %s printed\n  %s  expected (worked out step by step)\n  %s",
                     k ? "1.5" : "1", out, want.data);
        sb_free(&want);
        free(out);
        free(err);
    }
    free(prompt);
}

/* ---- The TUI's generation thread ---------------------------------------------------------- */

typedef struct {
    db *d;
    worker *w;
    config cfg;
    int64_t conv, model_id;
} tui_sim;

/* Submit and wait for the reply; returns its message id, its text in
 * *text and the request's prompt tokens in *prompt. */
static int64_t worker_reply(tui_sim *t, int64_t replaces, char **text, int *prompt)
{
    assert_true(worker_submit(t->w, t->conv, replaces));
    worker_state s = {0};
    /* a guard against a hang, not a timing check: 2 minutes */
    for (int i = 0; i < 12000; i++) {
        free(s.text);
        worker_poll(t->w, &s);
        if (s.finished && !s.busy)
            break;
        usleep(10000);
    }
    if (!s.finished)
        fail_msg("the worker did not finish a reply in 2 minutes");
    if (s.outcome != DB_OUTCOME_OK)
        fail_msg("the reply failed: %s", s.error);
    free(s.text);
    db_msg m;
    assert_int_equal(db_msg_get(t->d, s.message, &m), DB_OK);
    *text = xstrdup(m.text);
    db_msg_clear(&m);
    db_request *rq;
    size_t n;
    assert_int_equal(db_requests_for_message(t->d, s.message, &rq, &n), DB_OK);
    assert_int_equal(n, 1);
    *prompt = rq[0].prompt_tokens;
    db_requests_free(rq, n);
    return s.message;
}

static void test_tui_worker_replies_to_the_whole_conversation(void **state)
{
    (void)state;
    tui_sim t = {0};
    char err[512];
    const char *db_path = test_path(test_tmpdir(), "tui.db");
    assert_int_equal(db_open(&t.d, db_path, err, sizeof err), DB_OK);
    assert_int_equal(store_model_local(t.d, MODEL, mdl, &t.model_id, err, sizeof err), DB_OK);
    const char *cfg_path = test_path(test_tmpdir(), "tui.config");
    FILE *f = fopen(cfg_path, "w");
    assert_non_null(f);
    fputs("[model]\nthreads = 1\ncontext = 512\n[sampling]\ntemperature = 0\nmax_tokens = 32\n", f);
    fclose(f);
    config_load(&t.cfg, cfg_path);
    assert_int_equal(t.cfg.n_warnings, 0);
    t.w = worker_start(db_path, mdl, voc, t.model_id, NULL, 0, false, false, &t.cfg, err, sizeof err);
    assert_non_null(t.w);

    /* what the TUI does on Enter: a conversation with the profile's system
     * prompt, the customer's message, a reply */
    const char *sys = t.cfg.profiles[0].system;
    const char *q1 = "I want to cancel my order", *q2 = "How long will the refund take?",
               *q2e = "Can I change the delivery address instead?";
    int64_t msg, edited;
    assert_int_equal(db_conv_create(t.d, "default", sys, &t.conv), DB_OK);
    assert_int_equal(db_msg_add(t.d, t.conv, DB_ROLE_CUSTOMER, q1, &msg), DB_OK);
    char *r1, *r2, *r2b, *r3;
    int p;
    worker_reply(&t, 0, &r1, &p);
    turn tr[4] = {{"system", sys}, {"user", q1}};
    expect_reply("TUI, first message", r1, p, tr, 2);

    /* the next message: the whole conversation so far */
    assert_int_equal(db_msg_add(t.d, t.conv, DB_ROLE_CUSTOMER, q2, &msg), DB_OK);
    int64_t id2 = worker_reply(&t, 0, &r2, &p);
    tr[2] = (turn){"assistant", r1};
    tr[3] = (turn){"user", q2};
    expect_reply("TUI, second message", r2, p, tr, 4);

    /* r: regenerate that reply, from the same conversation (without the
     * reply it replaces) */
    worker_reply(&t, id2, &r2b, &p);
    expect_reply("TUI, regenerated reply", r2b, p, tr, 4);

    /* e: edit the newest customer message; the reply follows the edit */
    assert_int_equal(db_msg_edit(t.d, msg, q2e, &edited), DB_OK);
    worker_reply(&t, 0, &r3, &p);
    tr[3] = (turn){"user", q2e};
    expect_reply("TUI, edited message", r3, p, tr, 4);

    free(r1);
    free(r2);
    free(r2b);
    free(r3);
    worker_stop(t.w);
    config_free(&t.cfg);
    db_close(t.d);
}

int main(void)
{
    if (access(MODEL, R_OK) != 0) {
        fprintf(stderr, "%s is missing (run from the repository root)\n", MODEL);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ask_replies_to_the_whole_conversation),
        cmocka_unit_test(test_ask_default_system_prompt),
        cmocka_unit_test(test_ask_drops_oldest_keeps_newest),
        cmocka_unit_test(test_ask_repeat_penalty_by_hand),
        cmocka_unit_test(test_tui_worker_replies_to_the_whole_conversation),
    };
    return test_exit(cmocka_run_group_tests_name("local_reply", tests, setup, teardown));
}
