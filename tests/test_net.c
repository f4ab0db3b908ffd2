/*
 * test_net.c — the protocol pieces of net/ on their own, without a socket
 * (tests/test_remote.c drives them through the client and a server):
 *
 *   - sse.h: one stream with every framing the standard allows (LF, CRLF,
 *     lone CR, comments, foreign fields, "data" with and without its
 *     space, several data lines, blank lines between events, an event of
 *     empty data, an unterminated event at the end) gives the same events
 *     fed whole, one byte at a time, and split at every offset into two;
 *     a callback that says stop stops at once; a line and an event past
 *     the limit are reported as such;
 *   - openai.h: a chunk and an answer read field by field (text holding
 *     a NUL included), the usage chunk, each wrong-typed field named, a
 *     server's error chunk, error bodies of every shape, the model list,
 *     and the request body's fields (only the extensions that change
 *     something).
 */
#include "tests/testutil.h"

#include "net/openai.h"
#include "net/sse.h"
#include "util/util.h"

#include <jansson.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- SSE ---------------------------------------------------------------------- */

/* The events seen, each followed by '|'; stop after stop_after of them. */
typedef struct {
    strbuf seen;
    int n, stop_after;
} events;

static bool on_event(void *ud, const char *data, size_t n)
{
    events *e = ud;
    assert_int_equal(strlen(data), n); /* NUL-terminated, no NUL inside here */
    sb_append(&e->seen, data, n);
    sb_putc(&e->seen, '|');
    e->n++;
    return e->stop_after == 0 || e->n < e->stop_after;
}

static const char STREAM[] = ": keep-alive\r\n"
                             "data: one\n"
                             "\n"
                             "event: message\r\n"
                             "id: 7\r\n"
                             "data:two\r\n"
                             "data:  three\r\n"
                             "\r\n"
                             "retry: 10\r"
                             "data\r"
                             "\r"
                             "\n\n"
                             "data: {\"a\": 1}\n"
                             "data\n"
                             "\n"
                             "data: cut off";
static const char WANT[] = "one|two\n three||{\"a\": 1}\n|";

/* Feed `parts` (offsets into STREAM) and return what the events said. */
static char *feed_split(const size_t *cuts, size_t n_cuts)
{
    sse_reader r;
    sse_init(&r, 1024);
    events e = {0};
    size_t len = strlen(STREAM), at = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t end = i < n_cuts ? cuts[i] : len;
        assert_int_equal(sse_feed(&r, STREAM + at, end - at, on_event, &e), SSE_OK);
        at = end;
    }
    sse_free(&r);
    if (!e.seen.data)
        sb_puts(&e.seen, "");
    return e.seen.data;
}

static void test_sse_framing(void **state)
{
    (void)state;
    char *whole = feed_split(NULL, 0);
    assert_string_equal(whole, WANT);
    free(whole);

    size_t len = strlen(STREAM);
    size_t *bytes = xcalloc(len, sizeof *bytes);
    for (size_t i = 0; i + 1 < len; i++)
        bytes[i] = i + 1;
    char *one_by_one = feed_split(bytes, len - 1);
    assert_string_equal(one_by_one, WANT);
    free(one_by_one);
    free(bytes);

    for (size_t cut = 0; cut <= len; cut++) {
        char *got = feed_split(&cut, 1);
        if (strcmp(got, WANT) != 0)
            fail_msg("split at %zu: got \"%s\"", cut, got);
        free(got);
    }
}

static void test_sse_stop_and_limits(void **state)
{
    (void)state;
    sse_reader r;
    sse_init(&r, 16);
    events e = {.stop_after = 1};
    assert_int_equal(sse_feed(&r, "data: a\n\ndata: b\n\n", 18, on_event, &e), SSE_STOPPED);
    assert_string_equal(e.seen.data, "a|");
    sb_free(&e.seen);

    /* A new response starts clean. */
    sse_clear(&r);
    e = (events){0};
    assert_int_equal(sse_feed(&r, "data: 0123456789abcdef", 22, on_event, &e), SSE_LINE_TOO_LONG);
    sse_clear(&r);
    assert_int_equal(sse_feed(&r, "data: 0123456789\ndata: abcdef\n", 30, on_event, &e), SSE_EVENT_TOO_LARGE);
    assert_int_equal(e.n, 0);
    sse_clear(&r);
    /* Exactly at the limit is fine: 16 bytes of data. */
    assert_int_equal(sse_feed(&r, "data:0123456789abcdef\n\n", 23, on_event, &e), SSE_OK);
    assert_string_equal(e.seen.data, "0123456789abcdef|");
    sb_free(&e.seen);
    sse_free(&r);
    sse_free(&r); /* twice is fine */
}

/* ---- Chunks ------------------------------------------------------------------- */

static openai_status parse(const char *json, bool stream, openai_chunk *c, char *err, size_t errlen)
{
    return openai_chunk_parse(json, strlen(json), stream, c, err, errlen);
}

static void test_chunk_fields(void **state)
{
    (void)state;
    openai_chunk c;
    char err[256];
    assert_int_equal(parse("{\"model\":\"m1\",\"choices\":[{\"delta\":{\"content\":\"h\\u00e9!\"},"
                           "\"finish_reason\":null}],\"usage\":null,\"x\":[1]}",
                           true, &c, err, sizeof err),
                     OPENAI_OK);
    assert_string_equal(c.model, "m1");
    assert_int_equal(c.content_len, 4);
    assert_string_equal(c.content, "h\xc3\xa9!");
    assert_null(c.finish_reason);
    assert_int_equal(c.prompt_tokens, -1);
    assert_int_equal(c.completion_tokens, -1);
    openai_chunk_free(&c);

    /* The usage chunk: no choice, the counts. */
    assert_int_equal(parse("{\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}", true, &c,
                           err, sizeof err),
                     OPENAI_OK);
    assert_int_equal(c.prompt_tokens, 12);
    assert_int_equal(c.completion_tokens, 3);
    assert_null(c.content);
    assert_null(c.model);
    openai_chunk_free(&c);

    /* A whole answer reads "message", not "delta". */
    const char *answer = "{\"choices\":[{\"message\":{\"content\":\"all\"},\"delta\":{\"content\":\"no\"},"
                         "\"finish_reason\":\"length\"}]}";
    assert_int_equal(parse(answer, false, &c, err, sizeof err), OPENAI_OK);
    assert_string_equal(c.content, "all");
    assert_string_equal(c.finish_reason, "length");
    openai_chunk_free(&c);
    assert_int_equal(parse(answer, true, &c, err, sizeof err), OPENAI_OK);
    assert_string_equal(c.content, "no");
    openai_chunk_free(&c);
    openai_chunk_free(&c); /* a freed chunk is a zeroed one */

    /* A NUL in the text (a model may emit the byte; frontdesk serve writes
     * it as \u0000) is text like any other: content_len says where it ends. */
    assert_int_equal(parse("{\"choices\":[{\"delta\":{\"content\":\"a\\u0000b\"}}]}", true, &c, err, sizeof err),
                     OPENAI_OK);
    assert_int_equal(c.content_len, 3);
    assert_memory_equal(c.content, "a\0b", 4);
    openai_chunk_free(&c);
}

static void test_chunk_errors(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        openai_status st;
        const char *err;
    } cases[] = {
        {"{\"choices\":[", OPENAI_BAD_JSON, NULL},
        {"[1]", OPENAI_BAD_FIELD, "not a JSON object"},
        {"{\"usage\":3}", OPENAI_BAD_FIELD, "usage is not an object"},
        {"{\"usage\":{\"prompt_tokens\":-1}}", OPENAI_BAD_FIELD, "usage.prompt_tokens is not a count"},
        {"{\"usage\":{\"completion_tokens\":1.5}}", OPENAI_BAD_FIELD, "usage.completion_tokens is not a count"},
        {"{\"choices\":{}}", OPENAI_BAD_FIELD, "choices is not an array"},
        {"{\"choices\":[7]}", OPENAI_BAD_FIELD, "choices[0] is not an object"},
        {"{\"choices\":[{\"delta\":\"x\"}]}", OPENAI_BAD_FIELD, "choices[0].delta is not an object"},
        {"{\"choices\":[{\"finish_reason\":1}]}", OPENAI_BAD_FIELD, "choices[0].finish_reason is not a string"},
        {"{\"choices\":[{\"delta\":{\"content\":2}}]}", OPENAI_BAD_FIELD, "choices[0].delta.content is not a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        openai_chunk c;
        char err[256] = "";
        openai_status st = parse(cases[i].json, true, &c, err, sizeof err);
        if (st != cases[i].st || (cases[i].err && strcmp(err, cases[i].err) != 0))
            fail_msg("%s: status %d, \"%s\"", cases[i].json, (int)st, err);
        openai_chunk_free(&c);
    }
    openai_chunk c;
    char err[256];
    assert_int_equal(parse("{\"choices\":[", true, &c, err, sizeof err), OPENAI_BAD_JSON);
    assert_non_null(strstr(err, "(at byte 12)"));
    openai_chunk_free(&c);

    /* What came before the bad field is kept. */
    assert_int_equal(parse("{\"model\":\"m\",\"usage\":{\"prompt_tokens\":4},\"choices\":[{\"finish_reason\":\"stop\","
                           "\"delta\":{\"content\":[]}}]}",
                           true, &c, err, sizeof err),
                     OPENAI_BAD_FIELD);
    assert_string_equal(c.model, "m");
    assert_int_equal(c.prompt_tokens, 4);
    assert_string_equal(c.finish_reason, "stop");
    assert_null(c.content);
    openai_chunk_free(&c);

    /* The server's own error, as a chunk and as a body. */
    assert_int_equal(parse("{\"error\":{\"message\":\"out of memory\"},\"model\":\"m\"}", true, &c, err, sizeof err),
                     OPENAI_SERVER_ERROR);
    char *msg = openai_error_message(c.error, strlen(c.error));
    assert_string_equal(msg, "out of memory");
    assert_null(c.model);
    free(msg);
    openai_chunk_free(&c);
    assert_int_equal(parse("{\"error\":null,\"choices\":[]}", true, &c, err, sizeof err), OPENAI_OK);
    openai_chunk_free(&c);
}

static void test_error_bodies(void **state)
{
    (void)state;
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"{\"error\":{\"message\":\"a\",\"type\":\"x\"}}", "a"},
        {"{\"error\":\"b\"}", "b"},
        {"{\"message\":\"c\"}", "c"},
        {"{\"detail\":\"d\"}", "d"},
        {"{\"error\":{\"code\":1},\"message\":\"e\"}", "e"},
        {"{\"error\":{\"code\":1}}", NULL},
        {"Bad Gateway", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *m = openai_error_message(cases[i].body, strlen(cases[i].body));
        if (cases[i].msg ? !m || strcmp(m, cases[i].msg) != 0 : m != NULL)
            fail_msg("%s: got %s", cases[i].body, m ? m : "NULL");
        free(m);
    }
}

/* ---- The model list ----------------------------------------------------------- */

static void test_models(void **state)
{
    (void)state;
    char **names;
    size_t n;
    char err[256];
    const char *ok = "{\"object\":\"list\",\"data\":[{\"id\":\"a\"},{\"id\":\"b/\\u00fc\",\"owned_by\":\"me\"}]}";
    assert_int_equal(openai_models_parse(ok, strlen(ok), &names, &n, err, sizeof err), OPENAI_OK);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "b/\xc3\xbc");
    openai_models_free(names, n);

    assert_int_equal(openai_models_parse("{\"data\":[]}", 11, &names, &n, err, sizeof err), OPENAI_OK);
    assert_int_equal(n, 0);
    openai_models_free(names, n);

    assert_int_equal(openai_models_parse("{\"data\":{}}", 11, &names, &n, err, sizeof err), OPENAI_BAD_FIELD);
    assert_string_equal(err, "the model list has no \"data\" array");
    assert_null(names);
    assert_int_equal(n, 0);
    const char *bad = "{\"data\":[{\"id\":\"a\"},{\"name\":\"b\"}]}";
    assert_int_equal(openai_models_parse(bad, strlen(bad), &names, &n, err, sizeof err), OPENAI_BAD_FIELD);
    assert_string_equal(err, "the model list's data[1].id is not a string");
    assert_null(names);
    assert_int_equal(openai_models_parse("nope", 4, &names, &n, err, sizeof err), OPENAI_BAD_JSON);
    assert_true(strncmp(err, "the model list is not JSON: ", 28) == 0);
    openai_models_free(NULL, 0);
}

/* ---- The request -------------------------------------------------------------- */

static void test_request_json(void **state)
{
    (void)state;
    const openai_msg msgs[] = {{"system", "Be brief."}, {"user", NULL}};
    const char *stops[] = {"</s>"};
    openai_request rq = {.messages = msgs,
                         .n_messages = 2,
                         .sampling = {.temp = 0.8f, .top_k = 0, .top_p = 0.95f, .min_p = 0.05f,
                                      .repeat_penalty = 1.0f, .repeat_last_n = 64, .seed = 9},
                         .max_tokens = 0,
                         .stops = stops,
                         .n_stops = 1};
    char err[256];
    char *body = openai_request_json("m", &rq, err, sizeof err);
    assert_non_null(body);
    assert_non_null(strstr(body, "\"temperature\":0.8,")); /* float precision */
    json_t *b = json_loads(body, 0, NULL);
    assert_non_null(b);
    assert_string_equal(json_string_value(json_object_get(b, "model")), "m");
    assert_true(json_is_true(json_object_get(b, "stream")));
    json_t *m = json_object_get(b, "messages");
    assert_int_equal(json_array_size(m), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "role")), "user");
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 1), "content")), "");
    assert_null(json_object_get(b, "top_k"));
    assert_true(fabs(json_number_value(json_object_get(b, "min_p")) - 0.05) < 1e-6);
    assert_null(json_object_get(b, "repeat_penalty"));
    assert_null(json_object_get(b, "repeat_last_n"));
    assert_null(json_object_get(b, "seed"));
    assert_null(json_object_get(b, "max_tokens"));
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "stop"), 0)), "</s>");
    json_decref(b);
    free(body);

    rq.sampling.seed = UINT64_MAX; /* goes out as a non-negative JSON integer */
    rq.send_seed = true;
    body = openai_request_json(NULL, &rq, err, sizeof err);
    b = json_loads(body, 0, NULL);
    assert_null(json_object_get(b, "model"));
    assert_true(json_integer_value(json_object_get(b, "seed")) == INT64_MAX);
    json_decref(b);
    free(body);

    const char *bad_stops[] = {"ok", "\xc0\x80"};
    rq.stops = bad_stops;
    rq.n_stops = 2;
    assert_null(openai_request_json(NULL, &rq, err, sizeof err));
    assert_string_equal(err, "stop string 2 is not valid UTF-8");
    assert_null(openai_request_json("\xff", &rq, err, sizeof err));
    assert_string_equal(err, "the model name is not valid UTF-8");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_framing),
        cmocka_unit_test(test_sse_stop_and_limits),
        cmocka_unit_test(test_chunk_fields),
        cmocka_unit_test(test_chunk_errors),
        cmocka_unit_test(test_error_bodies),
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_request_json),
    };
    return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
