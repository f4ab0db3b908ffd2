/*
 * test_alloc_faults.c — allocation failures injected on purpose.
 *
 * Allocations sized by untrusted input go through util/alloc.h's try_*,
 * whose test hook fails the N-th one.  For each scenario below, and for
 * N = 1, 2, 3, ... through every fallible allocation it makes:
 *
 *   - opening the built-in model's GGUF file (gguf_open),
 *   - loading its tokenizer (tok_load) and the vocabulary-only file's,
 *   - loading the model (model_load: GGUF reader, layers, norms, packing),
 *   - a context for it (fwd_new_multi: KV cache, activations sized by the
 *     file's widths, attention scratch, rotary tables),
 *   - encoding a text with special tokens, several words and non-ASCII
 *     (tok_encode, both the built-in BPE vocabulary and, when ../shared is
 *     there, llama's SentencePiece one),
 *   - fitting a conversation into a context as ask and serve do
 *     (prompt_fit: rendered, encoded, the oldest turns dropped, re-encoded),
 *   - a serve-style POST whose body httpd collects, over real HTTP on
 *     127.0.0.1 (httpd_start, libcurl as the client; the announced
 *     Content-Length is reserved in one allocation),
 *   - reading a server's event stream (sse_feed, a few bytes at a time),
 *   - reading a whole file or standard input (util_read_file: tokenize's
 *     text, config files, datasets; ENOMEM),
 *
 * the run must come back with a clean one-line error that says "out of
 * memory" (or strerror(ENOMEM) where errno carries it; a 503 in the OpenAI
 * shape for HTTP), and once N passes the
 * number of allocations the scenario makes, succeed with the same result
 * as a run without the hook.  Each scenario runs twice: with only the N-th
 * allocation failing, and with every allocation from the N-th on failing
 * (so the error paths' own clean-up is exercised under failure too).
 *
 * Leaks: the asan build's LeakSanitizer checks at exit that every error
 * path freed what it had allocated (a missing free on one of them fails
 * the suite there).  The suite prints, per scenario, the allocations it
 * makes and the failures injected.
 */
#include "engine/forward.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/prompt.h"
#include "engine/tokenizer.h"
#include "net/httpd.h"
#include "net/sse.h"
#include "tests/testutil.h"
#include "util/alloc.h"
#include "util/util.h"

#include <curl/curl.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL "models/frontdesk-cs.gguf"
#define VOCAB "models/frontdesk-vocab.gguf"
#define MAX_RUNS 100000 /* no scenario makes anywhere near this many */

/* One scenario: 0 and a result to compare (out, may stay empty), or
 * nonzero with a message in err. */
typedef int (*scenario_fn)(void *ud, strbuf *out, char *err, size_t errlen);

static unsigned long total_faults;

/* Run fn without the hook (its reference result), then with the N-th
 * fallible allocation failing for N = 1, 2, ... until a run sees no
 * failure injected.  Returns the failures injected. */
/* Whether the scenario's allocations may vary from run to run (a chunked
 * upload grows its buffer as the bytes happen to arrive). */
static bool counts_vary;

static unsigned long run_faults(const char *name, scenario_fn fn, void *ud, bool sticky)
{
    char err[512] = "";
    strbuf want = {0}, got = {0};
    alloc_test_arm(0, false);
    int rc = fn(ud, &want, err, sizeof err);
    unsigned long n_allocs = alloc_test_count();
    alloc_test_disarm();
    if (rc != 0)
        fail_msg("%s: fails without any fault injected: %s", name, err);
    assert_true(n_allocs > 0); /* the scenario does go through try_* */

    unsigned long faults = 0, runs = 0;
    for (unsigned long nth = 1;; nth++) {
        if (nth > MAX_RUNS)
            fail_msg("%s: still failing after %d runs", name, MAX_RUNS);
        err[0] = '\0';
        sb_clear(&got);
        alloc_test_arm(nth, sticky);
        rc = fn(ud, &got, err, sizeof err);
        unsigned long injected = alloc_test_failures();
        alloc_test_disarm();
        if (injected == 0) { /* past the last allocation: the whole thing works */
            if (rc != 0)
                fail_msg("%s: fails with no fault injected (run %lu): %s", name, nth, err);
            if (got.len != want.len || (want.len && memcmp(got.data, want.data, want.len) != 0))
                fail_msg("%s: a run with no fault injected gives another result", name);
            break;
        }
        faults += injected;
        runs++;
        if (rc == 0)
            fail_msg("%s: allocation %lu failed%s, yet the scenario reported success", name, nth,
                     sticky ? " (and every one after it)" : "");
        if (!strstr(err, "out of memory") && !strstr(err, strerror(ENOMEM)))
            fail_msg("%s: allocation %lu failed; the error does not say so: '%s'", name, nth, err);
        if (strchr(err, '\n'))
            fail_msg("%s: the error is not one line: '%s'", name, err);
    }
    printf("alloc faults: %-34s %-9s: %3lu fallible allocations; %3lu runs failed cleanly (%lu "
           "failures injected)\n", name, sticky ? "from N on" : "N-th only", n_allocs, runs, faults);
    if (!counts_vary)
        assert_true(runs >= n_allocs); /* every allocation of the clean run was failed once */
    total_faults += faults;
    sb_free(&want);
    sb_free(&got);
    return faults;
}

static void run_both(const char *name, scenario_fn fn, void *ud)
{
    assert_true(run_faults(name, fn, ud, false) > 0);
    assert_true(run_faults(name, fn, ud, true) > 0);
}

/* ---- GGUF, tokenizer, model ---------------------------------------------- */

/* What a loaded file says, to compare runs by. */
static void describe_file(const gguf_file *f, strbuf *out)
{
    sb_printf(out, "v%u kv=%zu tensors=%zu data@%llu", gguf_version(f), gguf_kv_count(f), gguf_tensor_count(f),
              (unsigned long long)gguf_data_offset(f));
    for (size_t i = 0; i < gguf_kv_count(f); i++) {
        const gguf_kv *kv = gguf_kv_at(f, i);
        sb_printf(out, " %.*s", (int)kv->key.len, kv->key.ptr);
    }
}

static int sc_gguf_open(void *ud, strbuf *out, char *err, size_t errlen)
{
    gguf_file *f = NULL;
    int rc = gguf_open(&f, ud, err, errlen);
    if (rc != GGUF_OK) {
        assert_null(f);
        assert_int_equal(rc, GGUF_ENOMEM);
        return rc;
    }
    describe_file(f, out);
    gguf_close(f);
    return 0;
}

static void describe_vocab(const tok_vocab *v, strbuf *out)
{
    sb_printf(out, "%s/%s n=%d bos=%d eos=%d eot=%d", tok_type_name(v), tok_pre_name(v), tok_n_vocab(v),
              tok_bos(v), tok_eos(v), tok_eot(v));
    for (int32_t id = 0; id < tok_n_vocab(v); id += 97)
        sb_printf(out, " %d:%d", id, tok_is_eog(v, id));
}

static int sc_tok_load(void *ud, strbuf *out, char *err, size_t errlen)
{
    tok_vocab *v = NULL;
    int rc = tok_load(&v, ud, err, errlen);
    if (rc != TOK_OK) {
        assert_null(v);
        assert_int_equal(rc, TOK_ENOMEM);
        return rc;
    }
    describe_vocab(v, out);
    tok_free(v);
    return 0;
}

static int sc_model_load(void *ud, strbuf *out, char *err, size_t errlen)
{
    model *m = NULL;
    if (model_load(&m, ud, err, errlen) != 0) {
        assert_null(m);
        return -1;
    }
    sb_printf(out, "%s layers=%u vocab=%u quant=%s packs=%zu", m->name, m->hp.n_layer, m->n_vocab, m->quant,
              m->n_packs);
    model_free(m);
    return 0;
}

typedef struct {
    const model *m;
} fwd_case;

static int sc_fwd_new(void *ud, strbuf *out, char *err, size_t errlen)
{
    const fwd_case *c = ud;
    fwd_ctx *f = fwd_new_multi(c->m, 2, 256, 2, err, errlen);
    if (!f)
        return -1;
    sb_printf(out, "%d %d", fwd_n_ctx(f), fwd_n_seq(f));
    fwd_free(f);
    return 0;
}

static gguf_file *open_or_fail(const char *path)
{
    gguf_file *f = NULL;
    char err[512];
    if (gguf_open(&f, path, err, sizeof err) != GGUF_OK)
        fail_msg("%s", err);
    return f;
}

static void test_gguf_open(void **state)
{
    (void)state;
    run_both("gguf_open " MODEL, sc_gguf_open, MODEL);
    run_both("gguf_open " VOCAB, sc_gguf_open, VOCAB);
}

static void test_tok_load(void **state)
{
    (void)state;
    gguf_file *f = open_or_fail(MODEL);
    run_both("tok_load " MODEL, sc_tok_load, f);
    gguf_close(f);
    f = open_or_fail(VOCAB);
    run_both("tok_load " VOCAB, sc_tok_load, f);
    gguf_close(f);
}

static void test_model_load(void **state)
{
    (void)state;
    run_both("model_load " MODEL, sc_model_load, MODEL);
    model *m = NULL;
    char err[512];
    if (model_load(&m, MODEL, err, sizeof err) != 0)
        fail_msg("%s", err);
    fwd_case c = {m};
    run_both("fwd_new_multi (2 x 256 positions)", sc_fwd_new, &c);
    model_free(m);
}

/* The error names the file and what did not fit. */
static void test_messages(void **state)
{
    (void)state;
    char err[512] = "";
    gguf_file *f = NULL;
    alloc_test_arm(1, false);
    assert_int_equal(gguf_open(&f, MODEL, err, sizeof err), GGUF_ENOMEM);
    alloc_test_disarm();
    assert_non_null(strstr(err, MODEL ": out of memory"));

    /* the arena block of the tokens array: after the file struct and the
     * metadata tables, the first array of strings in the built-in file */
    for (unsigned long nth = 2;; nth++) {
        assert_true(nth < 64);
        alloc_test_arm(nth, false);
        int rc = gguf_open(&f, MODEL, err, sizeof err);
        alloc_test_disarm();
        assert_int_equal(rc, GGUF_ENOMEM);
        if (strstr(err, "tokenizer.ggml.tokens")) {
            assert_non_null(strstr(err, MODEL ": key 'tokenizer.ggml.tokens': out of memory for an array of "));
            break;
        }
    }

    f = open_or_fail(MODEL);
    tok_vocab *v = NULL;
    alloc_test_arm(1, false);
    assert_int_equal(tok_load(&v, f, err, sizeof err), TOK_ENOMEM);
    alloc_test_disarm();
    assert_null(v);
    /* the count, read from the file independently of the tokenizer */
    const gguf_array *toks = gguf_get_arr(f, "tokenizer.ggml.tokens");
    assert_non_null(toks);
    char want[128];
    snprintf(want, sizeof want, "tokenizer.ggml.tokens: out of memory for %llu vocabulary entries",
             (unsigned long long)toks->n);
    assert_non_null(strstr(err, want));
    gguf_close(f);
}

/* ---- Encoding ---------------------------------------------------------------- */

typedef struct {
    const tok_vocab *v;
    const char *text;
} enc_case;

static int sc_encode(void *ud, strbuf *out, char *err, size_t errlen)
{
    const enc_case *c = ud;
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    int rc = tok_encode(c->v, c->text, strlen(c->text), true, true, &ids, &n, &cap, err, errlen);
    if (rc != TOK_OK) {
        assert_int_equal(rc, TOK_ENOMEM);
        assert_int_equal(n, 0); /* *n restored */
        free(ids);
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        sb_printf(out, "%d ", ids[i]);
    free(ids);
    return 0;
}

/* Long enough that the buffers grow past their first size (64). */
static char *sample_text(void)
{
    strbuf sb = {0};
    sb_puts(&sb, "<|im_start|>user\n");
    for (int i = 0; i < 40; i++)
        sb_printf(&sb, "Order %d: the parcel to Zürich — délai 3 jours? ", 1000 + i * 37);
    sb_puts(&sb, "<|im_end|>\n<|im_start|>assistant\n");
    return sb.data;
}

static void test_encode(void **state)
{
    (void)state;
    char *text = sample_text();
    char err[512];
    gguf_file *f = open_or_fail(MODEL);
    tok_vocab *v = NULL;
    if (tok_load(&v, f, err, sizeof err) != TOK_OK)
        fail_msg("%s", err);
    enc_case c = {v, text};
    run_both("tok_encode (built-in vocabulary)", sc_encode, &c);
    tok_free(v);
    gguf_close(f);

    const char *shared = test_shared_dir();
    if (shared) {
        const char *spm = test_path(shared, "ref/tokenizer/ggml-vocab-llama-spm.gguf");
        f = open_or_fail(spm);
        if (tok_load(&v, f, err, sizeof err) != TOK_OK)
            fail_msg("%s", err);
        assert_string_equal(tok_type_name(v), "llama");
        c.v = v;
        run_both("tok_encode (llama SentencePiece)", sc_encode, &c);
        run_both("tok_load llama SentencePiece", sc_tok_load, f);
        tok_free(v);
        gguf_close(f);
    }
    free(text);
}

/* ---- A conversation fitted into a context (ask, serve) ------------------------------ */

typedef struct {
    const tok_vocab *v;
    const chat_msg *msgs;
    size_t n;
} fit_case;

static int sc_prompt_fit(void *ud, strbuf *out, char *err, size_t errlen)
{
    const fit_case *c = ud;
    int32_t *ids = NULL;
    size_t n = 0, dropped = 0;
    int rc = prompt_fit(CHAT_TMPL_CHATML, c->v, c->msgs, c->n, 160, 32, &ids, &n, &dropped, err, errlen);
    if (rc != 0) {
        assert_null(ids); /* freed by prompt_fit */
        return rc;
    }
    sb_printf(out, "dropped %zu:", dropped);
    for (size_t i = 0; i < n; i++)
        sb_printf(out, " %d", ids[i]);
    free(ids);
    return 0;
}

static void test_prompt_fit(void **state)
{
    (void)state;
    char err[512];
    gguf_file *f = open_or_fail(MODEL);
    tok_vocab *v = NULL;
    if (tok_load(&v, f, err, sizeof err) != TOK_OK)
        fail_msg("%s", err);
    const chat_msg msgs[] = {
        {"system", "You answer customers of a parcel service, briefly and politely."},
        {"user", "Where is my parcel 4711? It was due on Monday and the tracking page says nothing."},
        {"assistant", "It left the Zürich depot this morning and should reach you tomorrow."},
        {"user", "Can I collect it from the depot instead, today, before six?"},
        {"assistant", "Yes: bring the notice and an ID to the counter; it is open until 18:00."},
        {"user", "And if I cannot make it before six, can a neighbour take it for me?"},
    };
    fit_case c = {v, msgs, sizeof msgs / sizeof msgs[0]};
    /* the context is small enough that turns are dropped: several renders */
    strbuf want = {0};
    assert_int_equal(sc_prompt_fit(&c, &want, err, sizeof err), 0);
    assert_true(strncmp(want.data, "dropped 0:", 10) != 0);
    sb_free(&want);
    run_both("prompt_fit (turns dropped to fit)", sc_prompt_fit, &c);
    tok_free(v);
    gguf_close(f);
}

/* ---- An HTTP request body --------------------------------------------------------- */

#define BODY_BYTES 200000

/* Answers with the body's length and a checksum of it. */
static void echo_handler(void *ud, httpd_req *r)
{
    (void)ud;
    size_t len;
    const char *b = httpd_body(r, &len);
    unsigned long sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = sum * 31 + (unsigned char)b[i];
    char out[64];
    int n = snprintf(out, sizeof out, "%zu %lu", len, sum);
    httpd_respond(r, 200, "text/plain", out, (size_t)n, NULL);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    sb_append(ud, p, size * n);
    return size * n;
}

typedef struct {
    int port;
    char *body;
    bool chunked; /* no Content-Length: the body grows as it arrives */
} http_case;

static int sc_http(void *ud, strbuf *out, char *err, size_t errlen)
{
    http_case *h = ud;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", h->port);
    strbuf resp = {0};
    CURL *c = curl_easy_init();
    assert_non_null(c);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (h->chunked)
        hdr = curl_slist_append(hdr, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)BODY_BYTES);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    if (cc != CURLE_OK)
        fail_msg("curl: %s", curl_easy_strerror(cc));
    const char *body = resp.data ? resp.data : "";
    int rc = 0;
    if (status == 200) {
        sb_puts(out, body);
    } else {
        /* the error in the OpenAI shape, its message as the run's error */
        assert_int_equal(status, 503);
        assert_non_null(strstr(body, "\"code\":\"out_of_memory\""));
        const char *m = strstr(body, "\"message\":\"");
        assert_non_null(m);
        m += 11;
        const char *e = strchr(m, '"');
        assert_non_null(e);
        util_errf(err, errlen, "%.*s", (int)(e - m), m);
        rc = -1;
    }
    sb_free(&resp);
    return rc;
}

static void test_http_body(void **state)
{
    (void)state;
    httpd_opts o = {.host = "127.0.0.1", .port = 0, .max_body = 1 << 20};
    char err[256] = "";
    httpd *s = httpd_start(&o, echo_handler, NULL, err, sizeof err);
    if (!s)
        fail_msg("httpd_start: %s", err);
    http_case h = {httpd_port(s), malloc(BODY_BYTES + 1), false};
    assert_non_null(h.body);
    for (size_t i = 0; i < BODY_BYTES; i++)
        h.body[i] = (char)('a' + (i * 7 + i / 13) % 26);
    h.body[BODY_BYTES] = '\0';
    /* the reference answer, computed here and not by the server */
    unsigned long sum = 0;
    for (size_t i = 0; i < BODY_BYTES; i++)
        sum = sum * 31 + (unsigned char)h.body[i];
    char want[64];
    snprintf(want, sizeof want, "%d %lu", BODY_BYTES, sum);
    strbuf got = {0};
    assert_int_equal(sc_http(&h, &got, err, sizeof err), 0);
    assert_string_equal(got.data, want);
    sb_free(&got);

    run_both("HTTP request body (200 kB)", sc_http, &h);
    h.chunked = true;
    assert_int_equal(sc_http(&h, &got, err, sizeof err), 0);
    assert_string_equal(got.data, want);
    sb_free(&got);
    counts_vary = true;
    run_both("HTTP request body (200 kB, chunked)", sc_http, &h);
    counts_vary = false;
    httpd_stop(s);
    free(h.body);
}

/* ---- A server's event stream -------------------------------------------------------- */

static bool on_event(void *ud, const char *data, size_t n)
{
    sb_append(ud, data, n);
    sb_putc(ud, '|');
    return true;
}

static int sc_sse(void *ud, strbuf *out, char *err, size_t errlen)
{
    const char *stream = ud;
    sse_reader r;
    sse_init(&r, 1 << 20);
    size_t len = strlen(stream);
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += 7) {
        size_t k = len - off < 7 ? len - off : 7;
        sse_status st = sse_feed(&r, stream + off, k, on_event, out);
        if (st == SSE_NO_MEMORY) {
            util_errf(err, errlen, "out of memory reading the stream at byte %zu", off);
            rc = -1;
        } else {
            assert_int_equal(st, SSE_OK);
        }
    }
    sse_free(&r);
    return rc;
}

static void test_sse(void **state)
{
    (void)state;
    strbuf s = {0};
    for (int i = 0; i < 30; i++) {
        sb_puts(&s, "data: {\"choices\":[{\"delta\":{\"content\":\"");
        for (int k = 0; k < 10 + i * 9; k++)
            sb_putc(&s, (char)('a' + (i + k) % 26));
        sb_puts(&s, "\"}}]}\n");
        sb_puts(&s, i % 3 ? "data: more\r\n\r\n" : "\n");
    }
    sb_puts(&s, "data: [DONE]\n\n");
    run_both("sse_feed (30 events, 7-byte reads)", sc_sse, s.data);
    sb_free(&s);
}

/* ---- A whole file ---------------------------------------------------------------------- */

static int sc_read_file(void *ud, strbuf *out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    if (util_read_file(ud, &text, &len) != 0) {
        assert_int_equal(errno, ENOMEM);
        assert_null(text);
        util_errf(err, errlen, "%s: %s", (const char *)ud, strerror(errno));
        return -1;
    }
    sb_append(out, text, len);
    free(text);
    return 0;
}

static void test_whole_file(void **state)
{
    (void)state;
    const char *path = test_path(test_tmpdir(), "text.txt");
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 20000; i++)
        fprintf(fp, "line %d of a long text\n", i);
    assert_int_equal(fclose(fp), 0);
    run_both("util_read_file (a 500 kB file)", sc_read_file, (void *)path);
}

/* ---- The allocator itself ---------------------------------------------------------- */

static void test_allocator(void **state)
{
    (void)state;
    /* overflow is a failure, not a short allocation */
    assert_null(try_calloc(SIZE_MAX / 2, 4));
    assert_null(try_mallocarray(SIZE_MAX / 8 + 1, 8));
    void *p = try_malloc(0);
    assert_non_null(p);
    assert_null(try_reallocarray(p, SIZE_MAX, 2)); /* p still ours */
    free(p);

    /* the hook: the 3rd fails once (transient), or the 3rd and after (sticky) */
    alloc_test_arm(3, false);
    void *a[5];
    for (int i = 0; i < 5; i++)
        a[i] = try_malloc(16);
    assert_int_equal(alloc_test_count(), 5);
    assert_int_equal(alloc_test_failures(), 1);
    alloc_test_disarm();
    assert_non_null(a[0]);
    assert_non_null(a[1]);
    assert_null(a[2]);
    assert_non_null(a[3]);
    assert_non_null(a[4]);
    for (int i = 0; i < 5; i++)
        free(a[i]);
    alloc_test_arm(3, true);
    for (int i = 0; i < 5; i++)
        a[i] = try_malloc(16);
    assert_int_equal(alloc_test_failures(), 3);
    alloc_test_disarm();
    assert_non_null(a[1]);
    assert_null(a[2]);
    assert_null(a[4]);
    free(a[0]);
    free(a[1]);
    /* disarmed: nothing counted, nothing failed */
    p = try_malloc(8);
    assert_non_null(p);
    free(p);
    assert_int_equal(alloc_test_failures(), 3);

    /* try_sb_append leaves the buffer as it was on failure */
    strbuf sb = {0};
    assert_true(try_sb_append(&sb, "abc", 3));
    alloc_test_arm(1, false);
    char big[200];
    memset(big, 'x', sizeof big);
    assert_false(try_sb_append(&sb, big, sizeof big));
    alloc_test_disarm();
    assert_int_equal(sb.len, 3);
    assert_string_equal(sb.data, "abc");
    assert_true(try_sb_append(&sb, big, sizeof big));
    assert_int_equal(sb.len, 203);
    sb_free(&sb);

    /* try_sb_reserve: one allocation, then appends up to it allocate nothing */
    alloc_test_arm(0, false);
    assert_true(try_sb_reserve(&sb, 1000));
    assert_string_equal(sb.data, "");
    for (int i = 0; i < 10; i++)
        assert_true(try_sb_append(&sb, big, 100));
    assert_int_equal(alloc_test_count(), 1);
    assert_true(try_sb_append(&sb, "y", 1)); /* past the reservation: grows */
    assert_int_equal(alloc_test_count(), 2);
    alloc_test_disarm();
    assert_int_equal(sb.len, 1001);
    sb_free(&sb);
    alloc_test_arm(1, false);
    assert_false(try_sb_reserve(&sb, 10));
    alloc_test_disarm();
    assert_null(sb.data);
}

static void test_summary(void **state)
{
    (void)state;
    printf("alloc faults: %lu failures injected in all, every one a clean error\n", total_faults);
    assert_true(total_faults > 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocator),
        cmocka_unit_test(test_gguf_open),
        cmocka_unit_test(test_tok_load),
        cmocka_unit_test(test_model_load),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_prompt_fit),
        cmocka_unit_test(test_http_body),
        cmocka_unit_test(test_sse),
        cmocka_unit_test(test_whole_file),
        cmocka_unit_test(test_summary),
    };
    int failures = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return test_exit(failures);
}
