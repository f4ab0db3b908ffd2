/*
 * fuzz_serve_request.c — libFuzzer harness: what `frontdesk serve` does
 * with the bytes of a request before any model or store sees them
 * (net/openai_server.h), and the answers it builds from them.
 *
 * The input is a request body.  It goes through oai_chat_request_parse
 * (POST /v1/chat/completions) and oai_feedback_parse (POST /v1/feedback);
 * a refused body's error through oai_error_json, the 400 answer's body.  A
 * read request's strings go into the answers serve writes (a streamed
 * chunk and a whole chat.completion), and so does the raw input as reply
 * text (a model may emit any bytes).
 *
 * Checked beyond crashes, leaks and UB:
 *   - a read request keeps openai_server.h's promises: at least one
 *     message, every content a string, at most 4 stops and none empty,
 *     each number absent (-1) or in its range, top_logprobs 0..20; a read
 *     feedback has an id and one of thumbs, score or comment;
 *   - a refusal has a message, and the error body is JSON whose message
 *     the client's reader (openai_error_message) gets back unchanged when
 *     it is UTF-8;
 *   - every answer is JSON the client's reader (net/openai.h) reads, and
 *     text that is UTF-8 (NUL included) comes back byte for byte.
 *
 * The same bytes are also read as a request line, "METHOD PATH" (split at
 * the first space), for serve's routing (serve_route_of, app/serve.h):
 * /health answers any method; /v1/chat/completions and /v1/feedback are
 * POST, /v1/models and /metrics GET (405 otherwise); anything else is 404.
 *
 * Not covered here: the HTTP framing, URL decoding and headers
 * (libmicrohttpd's), the API key check, and everything past the parse
 * (the store, the scheduler: tests/test_serve*.c drive those over HTTP).
 */
#include "tests/fuzz/fuzz.h"

#include "app/serve.h"
#include "net/openai.h"
#include "net/openai_server.h"
#include "util/util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_serve_request: %s\n", what);
        abort();
    }
}

/* s[0..n) is UTF-8 (holding no NUL unless nul_ok). */
static bool utf8(const char *s, size_t n, bool nul_ok)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = util_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if ((cp == 0xFFFD && k == 1) || (cp == 0 && !nul_ok))
            return false;
        i += k;
    }
    return true;
}

static const oai_reply_meta META = {.id = "chatcmpl-0123456789abcdef0123456789abcdef",
                                    .created = 1700000000,
                                    .model = "fuzz",
                                    .fingerprint = "fd-000000000000"};

/* A refused body: the 400 answer serve sends. */
static void check_refusal(const oai_error *e)
{
    check(e->message[0] != '\0', "a refusal without a message");
    char *body = oai_error_json(e->message, "invalid_request_error", e->param, e->code);
    char *msg = openai_error_message(body, strlen(body));
    check(msg != NULL, "the error body is not read back");
    if (utf8(e->message, strlen(e->message), false))
        check(!strcmp(msg, e->message), "the error message changed on the way");
    free(msg);
    free(body);
}

/* One streamed event of text (len bytes), read as the client would. */
static void check_chunk_text(const char *text, size_t len)
{
    char *ev = oai_chunk_text(&META, text, len);
    size_t n = strlen(ev);
    check(n >= 8 && !memcmp(ev, "data: ", 6) && !memcmp(ev + n - 2, "\n\n", 2), "an event not framed as SSE");
    openai_chunk c;
    char err[256];
    openai_status st = openai_chunk_parse(ev + 6, n - 8, true, &c, err, sizeof err);
    check(st == OPENAI_OK && c.content != NULL, "a text chunk the client cannot read");
    if (utf8(text, len, true))
        check(c.content_len == len && !memcmp(c.content, text, len), "chunk text changed on the way");
    openai_chunk_free(&c);
    free(ev);
}

/* A whole answer of text, read as the client would. */
static void check_completion(const char *text, size_t len, const char *model)
{
    oai_reply_meta m = META;
    m.model = model;
    char *body = oai_completion_json(&m, text, len, "stop", 3, 4);
    openai_chunk c;
    char err[256];
    openai_status st = openai_chunk_parse(body, strlen(body), false, &c, err, sizeof err);
    check(st == OPENAI_OK && c.content != NULL, "an answer the client cannot read");
    check(c.prompt_tokens == 3 && c.completion_tokens == 4 && c.finish_reason && !strcmp(c.finish_reason, "stop"),
          "the answer's usage or finish reason changed");
    if (utf8(text, len, true))
        check(c.content_len == len && !memcmp(c.content, text, len), "answer text changed on the way");
    if (model && utf8(model, strlen(model), false))
        check(c.model && !strcmp(c.model, model), "the model name changed on the way");
    openai_chunk_free(&c);
    free(body);
}

static void chat_request(const char *body, size_t len)
{
    oai_chat_request rq;
    oai_error e;
    if (!oai_chat_request_parse(body, len, &rq, &e)) {
        check(rq.messages == NULL && rq.n_messages == 0 && rq.stops == NULL && rq.model == NULL && rq.user == NULL,
              "a refused request left something to free");
        check_refusal(&e);
        return;
    }
    check(rq.n_messages >= 1, "a request without messages");
    for (size_t i = 0; i < rq.n_messages; i++) {
        const oai_msg *m = &rq.messages[i];
        check(m->content != NULL, "a message without content");
        check(m->role == OAI_ROLE_SYSTEM || m->role == OAI_ROLE_USER || m->role == OAI_ROLE_ASSISTANT, "a bad role");
        check(utf8(m->content, strlen(m->content), false), "content that is not UTF-8");
    }
    check(rq.n_stops <= 4, "more than 4 stops");
    for (size_t i = 0; i < rq.n_stops; i++)
        check(rq.stops[i] && *rq.stops[i], "an empty stop");
    check(rq.max_tokens == -1 || rq.max_tokens >= 1, "max_tokens out of range");
    check(rq.temperature == -1 || (rq.temperature >= 0 && rq.temperature <= 2), "temperature out of range");
    check(rq.top_p == -1 || (rq.top_p > 0 && rq.top_p <= 1), "top_p out of range");
    check(rq.top_k >= -1, "top_k out of range");
    check(rq.min_p == -1 || (rq.min_p >= 0 && rq.min_p <= 1), "min_p out of range");
    check(rq.frequency_penalty >= -2 && rq.frequency_penalty <= 2 && rq.presence_penalty >= -2 &&
              rq.presence_penalty <= 2,
          "a penalty out of range");
    check(rq.repeat_penalty == -1 || rq.repeat_penalty > 0, "repeat_penalty out of range");
    check(rq.top_logprobs >= 0 && rq.top_logprobs <= 20, "top_logprobs out of range");

    /* What serve writes back with them. */
    const oai_msg *last = &rq.messages[rq.n_messages - 1];
    check_chunk_text(last->content, strlen(last->content));
    check_completion(last->content, strlen(last->content), rq.model);
    oai_chat_request_free(&rq);
}

static void feedback(const char *body, size_t len)
{
    oai_feedback f;
    oai_error e;
    if (!oai_feedback_parse(body, len, &f, &e)) {
        check(!f.id && !f.comment && !f.rater, "a refused feedback left something to free");
        check_refusal(&e);
        return;
    }
    check(f.id && *f.id, "feedback without an id");
    check(f.thumbs >= -1 && f.thumbs <= 1 && f.score >= 0 && f.score <= 5, "thumbs or score out of range");
    check(f.thumbs || f.score || f.comment, "feedback with nothing in it");
    check(!f.rater || *f.rater, "an empty rater");
    oai_feedback_free(&f);
}

/* body as "METHOD PATH" through the routing. */
static void request_line(const char *body)
{
    const char *sp = strchr(body, ' ');
    char *method = xstrndup(body, sp ? (size_t)(sp - body) : strlen(body));
    const char *path = sp ? sp + 1 : "";
    static const struct {
        const char *path, *method;
        serve_route route, wrong_method;
    } endpoints[] = {
        {"/v1/chat/completions", "POST", SERVE_ROUTE_CHAT, SERVE_ROUTE_NEEDS_POST},
        {"/v1/feedback", "POST", SERVE_ROUTE_FEEDBACK, SERVE_ROUTE_NEEDS_POST},
        {"/v1/models", "GET", SERVE_ROUTE_MODELS, SERVE_ROUTE_NEEDS_GET},
        {"/metrics", "GET", SERVE_ROUTE_METRICS, SERVE_ROUTE_NEEDS_GET},
    };
    serve_route want = SERVE_ROUTE_NOT_FOUND;
    if (!strcmp(path, "/health"))
        want = SERVE_ROUTE_HEALTH;
    for (size_t i = 0; i < sizeof endpoints / sizeof *endpoints; i++)
        if (!strcmp(path, endpoints[i].path))
            want = !strcmp(method, endpoints[i].method) ? endpoints[i].route : endpoints[i].wrong_method;
    check(serve_route_of(method, path) == want, "a request line routed to the wrong endpoint");
    free(method);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* httpd hands the handler a NUL-terminated copy of the body */
    char *body = xmalloc(size + 1);
    if (size) /* the replay passes NULL for an empty file */
        memcpy(body, data, size);
    body[size] = '\0';
    chat_request(body, size);
    feedback(body, size);
    check_chunk_text(body, size); /* the bytes as a model's reply */
    check_completion(body, size, NULL);
    request_line(body);
    free(body);
    return 0;
}
