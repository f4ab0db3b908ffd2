/*
 * test_ask_cli.c — every option of `frontdesk ask` and `frontdesk tokenize`
 * takes effect, each checked against a value that does not come from the
 * code under test: llama.cpp's ids and greedy runs in ../shared/ref
 * (stories260K), prompts written out by hand and counted by the tokenizer
 * (itself checked against llama.cpp's vectors in test_tokenizer), and what
 * a scripted OpenAI-compatible server on 127.0.0.1 received.
 */
#include "testutil.h"

#include "remote_server.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Fixtures ------------------------------------------------------------------ */

static const char *ref_model(const char *name)
{
    return test_path(test_path(test_shared_dir(), "ref/models"), name);
}

/* The stories260K generation records of ../shared/ref/expected/ref.jsonl. */
static json_t *stories_records(void)
{
    size_t len;
    char *text = test_read_file(test_path(test_shared_dir(), "ref/expected/ref.jsonl"), &len);
    json_t *all = json_array();
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *r = json_loads(line, 0, NULL);
        assert_non_null(r);
        if (!strcmp(json_string_value(json_object_get(r, "model")), "stories260K.gguf") &&
            json_object_get(r, "greedy"))
            json_array_append(all, r);
        json_decref(r);
    }
    free(text);
    assert_int_equal(json_array_size(all), 3);
    return all;
}

static bool have_shared(void)
{
    if (test_shared_dir())
        return true;
    printf("SKIP: ../shared not found (the reference models live there)\n");
    return false;
}

/* Ids printed on one line, separated by spaces. */
static json_t *parse_ids(const char *s)
{
    json_t *ids = json_array();
    for (char *end; *s && *s != '\n'; s = end) {
        long v = strtol(s, &end, 10);
        if (end == s)
            fail_msg("not an id list: '%s'", s);
        json_array_append_new(ids, json_integer(v));
        while (*end == ' ')
            end++;
    }
    return ids;
}

/* `frontdesk ask` on stories260K with --raw --no-db --ids and `extra`
 * options (NULL-terminated); returns the generated ids. */
static json_t *ask_ids(const char *prompt, const char *const *extra)
{
    const char *argv[32] = {test_bin(), "ask", "--model", ref_model("stories260K.gguf"), "--raw", "--no-db",
                            "--ids", "-n", "32", "--ctx", "256"};
    size_t n = 11;
    for (; extra && *extra; extra++)
        argv[n++] = *extra;
    argv[n++] = prompt;
    argv[n] = NULL;
    char *out, *err;
    int rc = test_run(argv, NULL, 0, &out, &err);
    if (rc != 0)
        fail_msg("ask exited %d: %s", rc, err);
    json_t *ids = parse_ids(out);
    free(out);
    free(err);
    return ids;
}

static void expect_ids(const char *what, json_t *got, json_t *want)
{
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);
        fail_msg("%s: ids %s, reference %s", what, g, w);
    }
}

/* ---- tokenize ------------------------------------------------------------------- */

/* --add-special gives llama.cpp's ids for each record's prompt (BOS
 * first); without it, the same ids without the BOS. */
static void test_tokenize_add_special(void **state)
{
    (void)state;
    if (!have_shared())
        skip();
    json_t *recs = stories_records();
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        const char *text = json_string_value(json_object_get(r, "text"));
        json_t *want = json_object_get(r, "tokens");
        assert_true(json_is_true(json_object_get(r, "add_special")));
        for (int special = 1; special >= 0; special--) {
            const char *argv[] = {test_bin(), "tokenize", "--model", ref_model("stories260K.gguf"),
                                  special ? "--add-special" : NULL, NULL};
            char *out, *err;
            assert_int_equal(test_run(argv, text, strlen(text), &out, &err), 0);
            json_t *got = parse_ids(out);
            if (special) {
                expect_ids("tokenize --add-special", got, want);
            } else {
                json_t *tail = json_deep_copy(want);
                json_array_remove(tail, 0); /* the BOS */
                expect_ids("tokenize", got, tail);
                json_decref(tail);
            }
            json_decref(got);
            free(out);
            free(err);
        }
    }
    json_decref(recs);
}

/* --parse-special: "<s>" and "</s>" are Llama-2's BOS (1) and EOS (2)
 * (SentencePiece's control tokens); without it, they are text. */
static void test_tokenize_parse_special(void **state)
{
    (void)state;
    if (!have_shared())
        skip();
    const char *text = "<s>hi</s>";
    for (int parse = 0; parse < 2; parse++) {
        const char *argv[] = {test_bin(), "tokenize", "--model", ref_model("llama-2-tiny-random.gguf"),
                              parse ? "--parse-special" : NULL, NULL};
        char *out, *err;
        assert_int_equal(test_run(argv, text, strlen(text), &out, &err), 0);
        json_t *ids = parse_ids(out);
        size_t n = json_array_size(ids);
        long first = (long)json_integer_value(json_array_get(ids, 0)),
             last = (long)json_integer_value(json_array_get(ids, n - 1));
        if (parse && (n != 3 || first != 1 || last != 2))
            fail_msg("--parse-special: '%s' -> %s, want BOS, one piece, EOS", text, out);
        if (!parse && (n < 5 || first == 1 || last == 2))
            fail_msg("without --parse-special: '%s' -> %s, want the markers as text", text, out);
        json_decref(ids);
        free(out);
        free(err);
    }
}

/* ---- ask: sampling options --------------------------------------------------------------- */

/* --ids prints what greedy decoding generates: llama.cpp's greedy ids. */
static void test_ask_ids_greedy(void **state)
{
    (void)state;
    if (!have_shared())
        skip();
    json_t *recs = stories_records();
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r) {
        const char *extra[] = {"--temp", "0", NULL};
        json_t *got = ask_ids(json_string_value(json_object_get(r, "text")), extra);
        expect_ids("ask --temp 0 --ids", got, json_object_get(r, "greedy"));
        json_decref(got);
    }
    json_decref(recs);
}

/*
 * Each cut alone, at a temperature that makes sampling wander, leaves only
 * the most likely token and so gives llama.cpp's greedy run: --top-k 1,
 * --top-p 1e-6 (the smallest prefix holding that much mass is the top
 * token), --min-p 1 (only tokens as likely as the top one).  Without the
 * cut, the same seeds leave the greedy run (checked: the test would
 * otherwise prove nothing).
 */
static void test_ask_cuts(void **state)
{
    (void)state;
    if (!have_shared())
        skip();
    json_t *recs = stories_records();
    json_t *r = json_array_get(recs, 0);
    const char *prompt = json_string_value(json_object_get(r, "text"));
    json_t *greedy = json_object_get(r, "greedy");
    const char *seeds[] = {"1", "2", "3"};
    int wandered = 0;
    for (size_t s = 0; s < 3; s++) {
        const char *none[] = {"--temp", "1.5", "--seed", seeds[s], "--top-k", "0", "--top-p", "1", "--min-p",
                              "0", NULL};
        json_t *got = ask_ids(prompt, none);
        wandered += !json_equal(got, greedy);
        json_decref(got);
        const char *top_k[] = {"--temp", "1.5", "--seed", seeds[s], "--top-k", "1", "--top-p", "1", "--min-p",
                               "0", NULL};
        const char *top_p[] = {"--temp", "1.5", "--seed", seeds[s], "--top-k", "0", "--top-p", "1e-6",
                               "--min-p", "0", NULL};
        const char *min_p[] = {"--temp", "1.5", "--seed", seeds[s], "--top-k", "0", "--top-p", "1", "--min-p",
                               "1", NULL};
        const char *const *cuts[] = {top_k, top_p, min_p};
        const char *names[] = {"--top-k 1", "--top-p 1e-6", "--min-p 1"};
        for (int c = 0; c < 3; c++) {
            got = ask_ids(prompt, cuts[c]);
            expect_ids(names[c], got, greedy);
            json_decref(got);
        }
    }
    assert_int_equal(wandered, 3);
    json_decref(recs);
}

/* --seed: the same seed gives the same reply; other seeds other replies. */
static void test_ask_seed(void **state)
{
    (void)state;
    if (!have_shared())
        skip();
    const char *a[] = {"--temp", "1", "--seed", "42", NULL}, *b[] = {"--temp", "1", "--seed", "43", NULL};
    json_t *a1 = ask_ids("Once upon a time", a), *a2 = ask_ids("Once upon a time", a),
           *b1 = ask_ids("Once upon a time", b);
    expect_ids("the same seed twice", a2, a1);
    if (json_equal(a1, b1))
        fail_msg("seeds 42 and 43 gave the same 32 tokens at temperature 1");
    json_decref(a1);
    json_decref(a2);
    json_decref(b1);
}

/* --repeat-penalty: stories260K's greedy run repeats tokens; with a
 * large penalty no generated token is one of the 64 before it. */
static void test_ask_repeat_penalty(void **state)
{
    (void)state;
    if (!have_shared())
        skip();
    json_t *recs = stories_records();
    json_t *r = json_array_get(recs, 0);
    const char *prompt = json_string_value(json_object_get(r, "text"));
    json_t *greedy = json_object_get(r, "greedy"), *toks = json_object_get(r, "tokens");
    /* the whole sequence: prompt (with BOS) then the generated ids */
    json_t *seq = json_deep_copy(toks);
    json_array_extend(seq, greedy);
    size_t repeats = 0, n0 = json_array_size(toks);
    for (size_t i = n0; i < json_array_size(seq); i++)
        for (size_t j = i > 64 ? i - 64 : 0; j < i; j++)
            repeats += json_equal(json_array_get(seq, i), json_array_get(seq, j));
    assert_true(repeats > 0); /* without the penalty */
    json_decref(seq);

    const char *pen[] = {"--temp", "0", "--repeat-penalty", "100", NULL};
    json_t *got = ask_ids(prompt, pen);
    seq = json_deep_copy(toks);
    json_array_extend(seq, got);
    for (size_t i = n0; i < json_array_size(seq); i++)
        for (size_t j = i > 64 ? i - 64 : 0; j < i; j++)
            if (json_equal(json_array_get(seq, i), json_array_get(seq, j)))
                fail_msg("with --repeat-penalty 100, generated token %zu (id %lld) repeats position %zu", i - n0,
                         (long long)json_integer_value(json_array_get(seq, i)), j);
    json_decref(seq);
    json_decref(got);
    json_decref(recs);
}

/* --stop TEXT: the reply is llama.cpp's greedy text cut just before TEXT. */
static void test_ask_stop(void **state)
{
    (void)state;
    if (!have_shared())
        skip();
    json_t *recs = stories_records();
    json_t *r = json_array_get(recs, 0);
    const char *hex = json_string_value(json_object_get(r, "greedy_text_hex"));
    char text[512] = "";
    for (size_t i = 0; hex[i] && hex[i + 1] && i / 2 < sizeof text - 1; i += 2) {
        unsigned v;
        sscanf(hex + i, "%2x", &v);
        text[i / 2] = (char)v;
        text[i / 2 + 1] = '\0';
    }
    /* a word from the middle of the greedy text */
    size_t len = strlen(text);
    assert_true(len > 40);
    const char *mid = strchr(text + len / 2, ' ');
    assert_non_null(mid);
    char stop[16];
    snprintf(stop, sizeof stop, "%.6s", mid);
    const char *first = strstr(text, stop);
    const char *argv[] = {test_bin(), "ask", "--model", ref_model("stories260K.gguf"), "--raw", "--no-db", "--temp",
                          "0", "-n", "32", "--ctx", "256", "--stop", stop,
                          json_string_value(json_object_get(r, "text")), NULL};
    char *out, *err;
    assert_int_equal(test_run(argv, NULL, 0, &out, &err), 0);
    char want[512];
    snprintf(want, sizeof want, "%.*s\n", (int)(first - text), text);
    assert_string_equal(out, want);
    free(out);
    free(err);
    json_decref(recs);
}

/* ---- ask: the prompt ------------------------------------------------------------------------ */

/* prompt_tokens= of `ask --stats` on the ChatML model with these options. */
static long prompt_tokens(const char *const *extra, const char *question)
{
    const char *argv[32] = {test_bin(), "ask", "--model", ref_model("ref-qwen2-starcoder-bias.gguf"), "--no-db",
                            "--stats", "-n", "1", "--temp", "0"};
    size_t n = 10;
    for (; extra && *extra; extra++)
        argv[n++] = *extra;
    argv[n++] = question;
    argv[n] = NULL;
    char *out, *err;
    int rc = test_run(argv, NULL, 0, &out, &err);
    if (rc != 0)
        fail_msg("ask exited %d: %s", rc, err);
    const char *p = strstr(err, "prompt_tokens=");
    if (!p)
        fail_msg("no prompt_tokens= in: %s", err);
    long v = strtol(p + strlen("prompt_tokens="), NULL, 10);
    free(out);
    free(err);
    return v;
}

/* How many tokens `text` is, special markers parsed. */
static long count_tokens(const char *text)
{
    const char *argv[] = {test_bin(), "tokenize", "--model", ref_model("ref-qwen2-starcoder-bias.gguf"),
                          "--parse-special", "--add-special", NULL};
    char *out, *err;
    assert_int_equal(test_run(argv, text, strlen(text), &out, &err), 0);
    json_t *ids = parse_ids(out);
    long n = (long)json_array_size(ids);
    json_decref(ids);
    free(out);
    free(err);
    return n;
}

/*
 * --system and --chat-template shape the prompt: the prompt ask feeds the
 * model has as many tokens as the conversation written out by hand in the
 * template's format (ChatML is the model's own; llama2 chosen by name).
 */
static void test_ask_system_and_template(void **state)
{
    (void)state;
    if (!have_shared())
        skip();
    const char *q = "Where is my parcel?";
    const char *sys[] = {"--system", "You are terse.", NULL};
    assert_int_equal(prompt_tokens(sys, q),
                     count_tokens("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\n"
                                  "Where is my parcel?<|im_end|>\n<|im_start|>assistant\n"));
    const char *sys2[] = {"--system", "You are a patient agent who explains every step in detail.", NULL};
    assert_int_equal(prompt_tokens(sys2, q),
                     count_tokens("<|im_start|>system\nYou are a patient agent who explains every step in "
                                  "detail.<|im_end|>\n<|im_start|>user\nWhere is my parcel?<|im_end|>\n"
                                  "<|im_start|>assistant\n"));
    const char *raw[] = {"--raw", NULL};
    assert_int_equal(prompt_tokens(raw, q), count_tokens(q));
    /* llama.cpp's llama2 formats: the system text merged into the first
     * turn, or inside <<SYS>> markers (BOS: added by the tokenizer, as
     * tokenize --add-special adds it) */
    const char *l2[] = {"--chat-template", "llama2", "--system", "You are terse.", NULL};
    long llama2 = prompt_tokens(l2, q);
    assert_int_equal(llama2, count_tokens("[INST] You are terse.\nWhere is my parcel? [/INST]"));
    const char *l2s[] = {"--chat-template", "llama2-sys", "--system", "You are terse.", NULL};
    assert_int_equal(prompt_tokens(l2s, q),
                     count_tokens("[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nWhere is my parcel? [/INST]"));
    assert_true(llama2 != prompt_tokens(sys, q));
}

/* ---- ask --backend: options reach the server ------------------------------------------------ */

/* --remote-model, --system, --temp, --top-p, --seed, --stop and -n are
 * what the server receives, in the OpenAI request's fields. */
static void test_ask_remote_options(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = "On its way."};
    char err[256];
    rs_server *s = rs_start(&st, 1, err, sizeof err);
    if (!s)
        fail_msg("test server: %s", err);
    const char *argv[] = {test_bin(), "ask", "--backend", rs_url(s), "--no-db", "--remote-model", "desk-7b",
                          "--system", "Be brief.", "--temp", "0.25", "--top-p", "0.5", "--seed", "77", "--stop",
                          "END", "-n", "9", "Where is my parcel?", NULL};
    char *out, *errs;
    int rc = test_run(argv, NULL, 0, &out, &errs);
    if (rc != 0)
        fail_msg("ask exited %d: %s", rc, errs);
    assert_string_equal(out, "On its way.\n");
    assert_int_equal(rs_count(s), 1);
    json_t *body = json_loads(rs_get(s, 0)->body, 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "model")), "desk-7b");
    json_t *msgs = json_object_get(body, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")), "system");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "content")), "Be brief.");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "Where is my parcel?");
    assert_true(fabs(json_number_value(json_object_get(body, "temperature")) - 0.25) < 1e-9);
    assert_true(fabs(json_number_value(json_object_get(body, "top_p")) - 0.5) < 1e-9);
    assert_int_equal(json_integer_value(json_object_get(body, "seed")), 77);
    json_t *stop = json_object_get(body, "stop");
    const char *stop0 = json_is_array(stop) ? json_string_value(json_array_get(stop, 0)) : json_string_value(stop);
    assert_non_null(stop0);
    assert_string_equal(stop0, "END");
    json_t *max = json_object_get(body, "max_tokens");
    if (!max)
        max = json_object_get(body, "max_completion_tokens");
    assert_int_equal(json_integer_value(max), 9);
    json_decref(body);
    free(out);
    free(errs);
    rs_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize_add_special),
        cmocka_unit_test(test_tokenize_parse_special),
        cmocka_unit_test(test_ask_ids_greedy),
        cmocka_unit_test(test_ask_cuts),
        cmocka_unit_test(test_ask_seed),
        cmocka_unit_test(test_ask_repeat_penalty),
        cmocka_unit_test(test_ask_stop),
        cmocka_unit_test(test_ask_system_and_template),
        cmocka_unit_test(test_ask_remote_options),
    };
    return cmocka_run_group_tests_name("ask_cli", tests, NULL, NULL);
}
