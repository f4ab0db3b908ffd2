/*
 * test_openai_server.c — the server's side of the chat-completions JSON
 * (net/openai_server.h), every expected value written out by hand:
 *
 *   - requests: a minimal one; the exact bodies the official Node (npm
 *     "openai" 4.x) and Python (openai-python 1.x) clients send, kept in
 *     tests/fixtures/openai/ (README.md there says how they were made);
 *     content as text parts; null as absent; integral reals; every wrong
 *     type and out-of-range value refused with its message and param; n=2;
 *     a body that is not JSON, not an object, not UTF-8, or has \u0000;
 *   - answers: a whole completion, an error body and the model list
 *     reparsed with jansson member by member; each chunk's exact framing
 *     ("data: " + compact JSON + "\n\n") and the same chunks read back by
 *     the client's own openai_chunk_parse (net/openai.h); bytes that are
 *     not UTF-8 in a reply become U+FFFD instead of no answer;
 *   - oai_new_id's shape, and two ids differ;
 *   - feedback bodies, good and bad.
 */
#include "tests/testutil.h"

#include "net/openai.h"
#include "net/openai_server.h"
#include "util/util.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Helpers ------------------------------------------------------------------------ */

static void parse_ok(const char *body, oai_chat_request *rq)
{
    oai_error e;
    bool ok = oai_chat_request_parse(body, strlen(body), rq, &e);
    if (!ok)
        fail_msg("refused %s: %s (param \"%s\")", body, e.message, e.param);
}

/* A body that must be refused with exactly this message and param. */
static void refused(const char *body, size_t len, const char *param, const char *message)
{
    oai_chat_request rq;
    oai_error e;
    memset(&e, 0x55, sizeof e);
    if (oai_chat_request_parse(body, len, &rq, &e))
        fail_msg("accepted %s (want: %s)", body, message);
    if (strcmp(e.message, message) != 0 || strcmp(e.param, param) != 0)
        fail_msg("%s\n  got  \"%s\" param \"%s\"\n  want \"%s\" param \"%s\"", body, e.message, e.param, message,
                 param);
    assert_string_equal(e.code, "");
    /* nothing left to free: the request is zeroed */
    assert_null(rq.messages);
    assert_null(rq.model);
    assert_null(rq.stops);
    assert_int_equal(rq.n_messages, 0);
}

#define REFUSED(body, param, message) refused(body, strlen(body), param, message)

static json_t *load(const char *s, size_t n)
{
    json_error_t je;
    json_t *v = json_loadb(s, n, 0, &je);
    if (!v)
        fail_msg("not JSON (%s): %.*s", je.text, (int)n, s);
    return v;
}

static const char *str_at(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v))
        fail_msg("%s is not a string", name);
    return json_string_value(v);
}

static json_int_t int_at(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", name);
    return json_integer_value(v);
}

static void null_at(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_null(v))
        fail_msg("%s is not null (present: %d)", name, v != NULL);
}

static const oai_reply_meta META = {.id = "chatcmpl-0123456789abcdef0123456789abcdef",
                                    .created = 1718000000,
                                    .model = "frontdesk-cs@3",
                                    .fingerprint = "fd-9f86d081"};

/* ---- Requests ----------------------------------------------------------------------- */

static void test_minimal(void **state)
{
    (void)state;
    oai_chat_request rq;
    parse_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &rq);
    assert_int_equal(rq.n_messages, 1);
    assert_int_equal(rq.messages[0].role, OAI_ROLE_USER);
    assert_string_equal(rq.messages[0].content, "hi");
    assert_null(rq.model);
    assert_false(rq.stream);
    assert_false(rq.include_usage);
    assert_int_equal(rq.max_tokens, -1);
    assert_true(rq.temperature == -1);
    assert_true(rq.top_p == -1);
    assert_int_equal(rq.top_k, -1);
    assert_true(rq.min_p == -1);
    assert_true(rq.frequency_penalty == 0);
    assert_true(rq.presence_penalty == 0);
    assert_true(rq.repeat_penalty == -1);
    assert_false(rq.has_seed);
    assert_int_equal(rq.n_stops, 0);
    assert_null(rq.user);
    assert_false(rq.ignore_eos);
    oai_chat_request_free(&rq);
    oai_chat_request_free(&rq); /* zeroed after the first */

    oai_chat_request z = {0};
    oai_chat_request_free(&z);
    oai_chat_request_free(NULL);
}

static oai_chat_request fixture(const char *name)
{
    size_t len;
    char *body = test_read_file(test_path("tests/fixtures/openai", name), &len);
    oai_chat_request rq;
    oai_error e;
    if (!oai_chat_request_parse(body, len, &rq, &e))
        fail_msg("%s refused: %s (param \"%s\")", name, e.message, e.param);
    free(body);
    return rq;
}

static void test_node_client(void **state)
{
    (void)state;
    oai_chat_request rq = fixture("node_stream.json");
    assert_string_equal(rq.model, "frontdesk-cs");
    assert_int_equal(rq.n_messages, 2);
    assert_int_equal(rq.messages[0].role, OAI_ROLE_SYSTEM); /* "developer" */
    assert_string_equal(rq.messages[0].content, "You are a helpful customer-support agent.");
    assert_int_equal(rq.messages[1].role, OAI_ROLE_USER);
    assert_string_equal(rq.messages[1].content, "I want to cancel my order");
    assert_true(rq.stream);
    assert_true(rq.include_usage);
    assert_int_equal(rq.max_tokens, 64);
    assert_true(rq.temperature == 0.7);
    assert_true(rq.top_p == 0.9);
    assert_true(rq.has_seed);
    assert_int_equal(rq.seed, 42);
    assert_int_equal(rq.n_stops, 2);
    assert_string_equal(rq.stops[0], "\n\nUser:");
    assert_string_equal(rq.stops[1], "###");
    assert_string_equal(rq.user, "agent-17");
    assert_int_equal(rq.top_k, -1);
    oai_chat_request_free(&rq);

    rq = fixture("node_parts.json");
    assert_int_equal(rq.n_messages, 4);
    assert_int_equal(rq.messages[0].role, OAI_ROLE_SYSTEM);
    assert_string_equal(rq.messages[0].content, "You answer briefly."); /* parts joined as they are */
    assert_string_equal(rq.messages[1].content, "My parcel is late");
    assert_int_equal(rq.messages[2].role, OAI_ROLE_ASSISTANT);
    assert_string_equal(rq.messages[2].content, ""); /* null content */
    assert_string_equal(rq.messages[3].content, "Any news?");
    assert_int_equal(rq.max_tokens, 32);
    assert_true(rq.frequency_penalty == 0.5);
    assert_true(rq.presence_penalty == -0.5);
    assert_false(rq.stream);
    assert_int_equal(rq.n_stops, 1);
    assert_string_equal(rq.stops[0], "END");
    oai_chat_request_free(&rq);
}

static void test_python_client(void **state)
{
    (void)state;
    oai_chat_request rq = fixture("python_stream.json");
    assert_string_equal(rq.model, "frontdesk-cs");
    assert_int_equal(rq.n_messages, 2);
    assert_int_equal(rq.messages[0].role, OAI_ROLE_SYSTEM);
    assert_string_equal(rq.messages[1].content,
                        "O\xC3\xB9 est ma commande ? Je l\xE2\x80\x99" "attends depuis 5 jours \xE2\x82\xAC");
    assert_true(rq.stream);
    assert_true(rq.include_usage);
    assert_int_equal(rq.max_tokens, 64);
    assert_true(rq.temperature == 0.7);
    assert_true(rq.top_p == 0.9);
    assert_int_equal(rq.seed, 42);
    assert_int_equal(rq.n_stops, 1);
    assert_string_equal(rq.stops[0], "\n\nUser:");
    assert_string_equal(rq.user, "agent-17");
    oai_chat_request_free(&rq);

    rq = fixture("python_parts.json");
    assert_string_equal(rq.model, "x");
    assert_int_equal(rq.n_messages, 4);
    assert_int_equal(rq.messages[0].role, OAI_ROLE_SYSTEM);
    assert_string_equal(rq.messages[0].content, "Be brief. Be kind.");
    assert_int_equal(rq.messages[1].role, OAI_ROLE_USER);
    assert_string_equal(rq.messages[1].content, "Hello");
    assert_int_equal(rq.messages[2].role, OAI_ROLE_ASSISTANT);
    assert_string_equal(rq.messages[2].content, "");
    assert_string_equal(rq.messages[3].content, "Where is my parcel?");
    assert_false(rq.stream);
    oai_chat_request_free(&rq);
}

static void test_every_field(void **state)
{
    (void)state;
    oai_chat_request rq;
    parse_ok("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
             "{\"role\":\"user\",\"content\":[]},{\"role\":\"assistant\",\"content\":\"a\",\"name\":\"bot\"},"
             "{\"role\":\"assistant\"}],"
             "\"stream\":true,\"stream_options\":{\"include_usage\":false},\"max_tokens\":7,"
             "\"max_completion_tokens\":16.0,\"temperature\":0,\"top_p\":1,\"top_k\":0,\"min_p\":1,"
             "\"frequency_penalty\":-2,\"presence_penalty\":2,\"repeat_penalty\":1.1,\"seed\":-5.0,"
             "\"stop\":\"x\",\"n\":1,\"user\":\"u\",\"ignore_eos\":true,\"logit_bias\":{\"1\":2},"
             "\"tools\":[{\"type\":\"function\"}],\"tool_choice\":\"auto\",\"logprobs\":true,\"unknown\":[1]}",
             &rq);
    assert_int_equal(rq.n_messages, 4);
    assert_string_equal(rq.messages[1].content, ""); /* no parts */
    assert_string_equal(rq.messages[3].content, ""); /* assistant without content */
    assert_true(rq.stream);
    assert_false(rq.include_usage);
    assert_int_equal(rq.max_tokens, 16); /* max_completion_tokens wins, 16.0 read as 16 */
    assert_true(rq.temperature == 0);
    assert_true(rq.top_p == 1);
    assert_int_equal(rq.top_k, 0);
    assert_true(rq.min_p == 1);
    assert_true(rq.frequency_penalty == -2);
    assert_true(rq.presence_penalty == 2);
    assert_true(rq.repeat_penalty == 1.1);
    assert_true(rq.has_seed);
    assert_int_equal(rq.seed, -5);
    assert_int_equal(rq.n_stops, 1);
    assert_string_equal(rq.stops[0], "x");
    assert_string_equal(rq.user, "u");
    assert_true(rq.ignore_eos);
    assert_true(rq.logprobs);
    assert_int_equal(rq.top_logprobs, 0);
    oai_chat_request_free(&rq);

    /* logprobs and top_logprobs are read, not ignored: 20 is the most */
    parse_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"logprobs\":true,\"top_logprobs\":20}",
             &rq);
    assert_true(rq.logprobs);
    assert_int_equal(rq.top_logprobs, 20);
    oai_chat_request_free(&rq);
    parse_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"logprobs\":false,\"top_logprobs\":3.0}",
             &rq);
    assert_false(rq.logprobs);
    assert_int_equal(rq.top_logprobs, 3);
    oai_chat_request_free(&rq);

    /* null for every optional member is the same as absent */
    parse_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"model\":null,\"stream\":null,"
             "\"stream_options\":null,\"max_tokens\":null,\"max_completion_tokens\":null,\"temperature\":null,"
             "\"top_p\":null,\"top_k\":null,\"min_p\":null,\"frequency_penalty\":null,\"presence_penalty\":null,"
             "\"repeat_penalty\":null,\"seed\":null,\"stop\":null,\"n\":null,\"user\":null,\"ignore_eos\":null,"
             "\"logprobs\":null,\"top_logprobs\":null}",
             &rq);
    assert_null(rq.model);
    assert_false(rq.stream);
    assert_int_equal(rq.max_tokens, -1);
    assert_true(rq.temperature == -1);
    assert_true(rq.top_p == -1);
    assert_int_equal(rq.top_k, -1);
    assert_false(rq.has_seed);
    assert_int_equal(rq.n_stops, 0);
    assert_null(rq.user);
    assert_false(rq.logprobs);
    assert_int_equal(rq.top_logprobs, 0);
    oai_chat_request_free(&rq);

    /* only max_tokens; stop: empty array, empty strings dropped, 4 strings;
     * a huge max_tokens read as INT_MAX; the largest int64 seed */
    parse_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"max_tokens\":9,\"stop\":[]}", &rq);
    assert_int_equal(rq.max_tokens, 9);
    assert_int_equal(rq.n_stops, 0);
    oai_chat_request_free(&rq);
    parse_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"stop\":[\"a\",\"\",\"b\",\"c\"],"
             "\"max_tokens\":99999999999,\"seed\":9223372036854775807}",
             &rq);
    assert_int_equal(rq.n_stops, 3);
    assert_string_equal(rq.stops[0], "a");
    assert_string_equal(rq.stops[1], "b");
    assert_string_equal(rq.stops[2], "c");
    assert_int_equal(rq.max_tokens, 2147483647);
    assert_true(rq.seed == INT64_MAX);
    oai_chat_request_free(&rq);
    parse_ok("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"stop\":\"\"}", &rq);
    assert_int_equal(rq.n_stops, 0);
    oai_chat_request_free(&rq);
}

#define USER "\"messages\":[{\"role\":\"user\",\"content\":\"q\"}]"

static void test_wrong_types(void **state)
{
    (void)state;
    static const struct {
        const char *body, *param, *message;
    } cases[] = {
        {"{}", "messages", "messages is required"},
        {"{\"messages\":null}", "messages", "messages is required"},
        {"{\"messages\":{}}", "messages", "messages must be an array"},
        {"{\"messages\":[]}", "messages", "messages must not be empty"},
        {"{\"messages\":[\"hi\"]}", "messages[0]", "messages[0] must be an object"},
        {"{\"messages\":[{\"content\":\"q\"}]}", "messages[0].role", "messages[0].role is required"},
        {"{\"messages\":[{\"role\":1,\"content\":\"q\"}]}", "messages[0].role", "messages[0].role must be a string"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"tool\",\"content\":\"r\"}]}",
         "messages[1].role", "messages[1].role \"tool\" is not supported: this server has no tools"},
        {"{\"messages\":[{\"role\":\"function\",\"content\":\"r\"}]}", "messages[0].role",
         "messages[0].role \"function\" is not supported: this server has no tools"},
        {"{\"messages\":[{\"role\":\"robot\",\"content\":\"r\"}]}", "messages[0].role",
         "messages[0].role must be system, developer, user or assistant, not \"robot\""},
        {"{\"messages\":[{\"role\":\"User\",\"content\":\"r\"}]}", "messages[0].role",
         "messages[0].role must be system, developer, user or assistant, not \"User\""},
        {"{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content", "messages[0].content is required"},
        {"{\"messages\":[{\"role\":\"system\",\"content\":null}]}", "messages[0].content",
         "messages[0].content is required"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages[0].content",
         "messages[0].content must be a string or an array of text parts"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":{\"type\":\"text\",\"text\":\"q\"}}]}", "messages[0].content",
         "messages[0].content must be a string or an array of text parts"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[\"q\"]}]}", "messages[0].content[0]",
         "messages[0].content[0] must be an object"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"q\"}]}]}", "messages[0].content[0].type",
         "messages[0].content[0].type must be a string"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
         "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://x/y.png\"}}]}]}",
         "messages[0].content[1].type",
         "messages[0].content[1].type \"image_url\" is not supported (only \"text\" parts)"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}", "messages[0].content[0].text",
         "messages[0].content[0].text must be a string"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":[\"a\"]}]}]}",
         "messages[0].content[0].text", "messages[0].content[0].text must be a string"},
        {"{" USER ",\"model\":7}", "model", "model must be a string"},
        {"{" USER ",\"stream\":\"true\"}", "stream", "stream must be a boolean"},
        {"{" USER ",\"stream\":1}", "stream", "stream must be a boolean"},
        {"{" USER ",\"stream_options\":true}", "stream_options", "stream_options must be an object"},
        {"{" USER ",\"stream_options\":{\"include_usage\":\"yes\"}}", "stream_options.include_usage",
         "stream_options.include_usage must be a boolean"},
        {"{" USER ",\"max_tokens\":\"16\"}", "max_tokens", "max_tokens must be an integer"},
        {"{" USER ",\"max_tokens\":16.5}", "max_tokens", "max_tokens must be an integer"},
        {"{" USER ",\"max_tokens\":0}", "max_tokens", "max_tokens must be at least 1"},
        {"{" USER ",\"max_tokens\":-3}", "max_tokens", "max_tokens must be at least 1"},
        {"{" USER ",\"max_tokens\":true}", "max_tokens", "max_tokens must be an integer"},
        {"{" USER ",\"max_completion_tokens\":0}", "max_completion_tokens", "max_completion_tokens must be at least 1"},
        {"{" USER ",\"max_completion_tokens\":8,\"max_tokens\":0}", "max_tokens", "max_tokens must be at least 1"},
        {"{" USER ",\"max_completion_tokens\":[8]}", "max_completion_tokens",
         "max_completion_tokens must be an integer"},
        {"{" USER ",\"temperature\":\"0.7\"}", "temperature", "temperature must be a number"},
        {"{" USER ",\"temperature\":2.01}", "temperature", "temperature must be between 0 and 2"},
        {"{" USER ",\"temperature\":-0.1}", "temperature", "temperature must be between 0 and 2"},
        {"{" USER ",\"top_p\":0}", "top_p", "top_p must be greater than 0 and at most 1"},
        {"{" USER ",\"top_p\":1.5}", "top_p", "top_p must be greater than 0 and at most 1"},
        {"{" USER ",\"top_p\":false}", "top_p", "top_p must be a number"},
        {"{" USER ",\"logprobs\":1}", "logprobs", "logprobs must be a boolean"},
        {"{" USER ",\"logprobs\":\"true\"}", "logprobs", "logprobs must be a boolean"},
        {"{" USER ",\"top_logprobs\":21}", "top_logprobs", "top_logprobs must be between 0 and 20"},
        {"{" USER ",\"top_logprobs\":-1}", "top_logprobs", "top_logprobs must be between 0 and 20"},
        {"{" USER ",\"top_logprobs\":2.5}", "top_logprobs", "top_logprobs must be an integer"},
        {"{" USER ",\"top_logprobs\":\"3\"}", "top_logprobs", "top_logprobs must be an integer"},
        {"{" USER ",\"top_k\":-1}", "top_k", "top_k must be at least 0"},
        {"{" USER ",\"top_k\":2.5}", "top_k", "top_k must be an integer"},
        {"{" USER ",\"min_p\":1.5}", "min_p", "min_p must be between 0 and 1"},
        {"{" USER ",\"min_p\":-0.5}", "min_p", "min_p must be between 0 and 1"},
        {"{" USER ",\"min_p\":\"0\"}", "min_p", "min_p must be a number"},
        {"{" USER ",\"frequency_penalty\":2.5}", "frequency_penalty", "frequency_penalty must be between -2 and 2"},
        {"{" USER ",\"frequency_penalty\":{}}", "frequency_penalty", "frequency_penalty must be a number"},
        {"{" USER ",\"presence_penalty\":-3}", "presence_penalty", "presence_penalty must be between -2 and 2"},
        {"{" USER ",\"repeat_penalty\":0}", "repeat_penalty", "repeat_penalty must be greater than 0"},
        {"{" USER ",\"repeat_penalty\":-1}", "repeat_penalty", "repeat_penalty must be greater than 0"},
        {"{" USER ",\"repeat_penalty\":\"1\"}", "repeat_penalty", "repeat_penalty must be a number"},
        {"{" USER ",\"seed\":\"42\"}", "seed", "seed must be an integer"},
        {"{" USER ",\"seed\":4.2}", "seed", "seed must be an integer"},
        {"{" USER ",\"seed\":1e300}", "seed", "seed must be an integer"},
        {"{" USER ",\"stop\":5}", "stop", "stop must be a string or an array of strings"},
        {"{" USER ",\"stop\":{\"a\":1}}", "stop", "stop must be a string or an array of strings"},
        {"{" USER ",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop", "stop may hold at most 4 strings, not 5"},
        {"{" USER ",\"stop\":[\"a\",7]}", "stop[1]", "stop[1] must be a string"},
        {"{" USER ",\"stop\":[null]}", "stop[0]", "stop[0] must be a string"},
        {"{" USER ",\"n\":2}", "n", "only n = 1 is supported"},
        {"{" USER ",\"n\":0}", "n", "only n = 1 is supported"},
        {"{" USER ",\"n\":\"1\"}", "n", "n must be an integer"},
        {"{" USER ",\"user\":42}", "user", "user must be a string"},
        {"{" USER ",\"ignore_eos\":\"no\"}", "ignore_eos", "ignore_eos must be a boolean"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        REFUSED(cases[i].body, cases[i].param, cases[i].message);

    /* n=1 given as 1.0 is still 1 */
    oai_chat_request rq;
    parse_ok("{" USER ",\"n\":1.0}", &rq);
    oai_chat_request_free(&rq);
}

static void test_not_json(void **state)
{
    (void)state;
    /* jansson's words (2.14, Debian 12's) and its offset */
    REFUSED("", "", "the request body is not valid JSON: unexpected token near end of file (at byte 0)");
    REFUSED("{\"messages\": [", "", "the request body is not valid JSON: ']' expected near end of file (at byte 14)");
    REFUSED("[1,2]", "", "the request body must be a JSON object");
    REFUSED("\"hello\"", "", "the request body must be a JSON object");
    REFUSED("42", "", "the request body must be a JSON object");
    REFUSED("null", "", "the request body must be a JSON object");
    refused(NULL, 0, "", "the request body is not valid JSON: unexpected token near end of file (at byte 0)");

    /* invalid UTF-8 inside a string (a lone continuation byte, an overlong
     * slash), a \u0000 escape, an unpaired surrogate: jansson refuses all */
    oai_chat_request rq;
    oai_error e;
    static const char *const broken[] = {
        "{\"messages\":[{\"role\":\"user\",\"content\":\"a\x80z\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\xC0\xAF\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"user\":\"\xFF\"}",
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        assert_false(oai_chat_request_parse(broken[i], strlen(broken[i]), &rq, &e));
        assert_string_equal(e.param, "");
        if (strncmp(e.message, "the request body is not valid JSON: ", 36) != 0 || !strstr(e.message, " (at byte "))
            fail_msg("case %zu: %s", i, e.message);
        assert_null(rq.messages);
    }
    /* the offset is the bad byte's: {"messages":[{"role":"user","content":"a is 40 bytes */
    assert_false(oai_chat_request_parse(broken[0], strlen(broken[0]), &rq, &e));
    assert_string_equal(e.message,
                        "the request body is not valid JSON: unable to decode byte 0x80 near '\"a' (at byte 40)");

    /* len counts, not the NUL: the same bytes cut short are not JSON */
    const char *whole = "{" USER "}";
    assert_false(oai_chat_request_parse(whole, strlen(whole) - 1, &rq, &e));
    assert_true(oai_chat_request_parse(whole, strlen(whole), &rq, &e));
    oai_chat_request_free(&rq);
}

/* ---- Answers ----------------------------------------------------------------------- */

static void test_completion(void **state)
{
    (void)state;
    const char *text = "Your order \"A-17\" ships\ntoday \xE2\x9C\x93";
    char *s = oai_completion_json(&META, text, strlen(text), "stop", 12, 8);
    assert_non_null(s);
    assert_null(strchr(s, '\n')); /* compact */
    json_t *root = load(s, strlen(s));
    assert_int_equal(json_object_size(root), 7);
    assert_string_equal(str_at(root, "id"), "chatcmpl-0123456789abcdef0123456789abcdef");
    assert_string_equal(str_at(root, "object"), "chat.completion");
    assert_int_equal(int_at(root, "created"), 1718000000);
    assert_string_equal(str_at(root, "model"), "frontdesk-cs@3");
    assert_string_equal(str_at(root, "system_fingerprint"), "fd-9f86d081");
    json_t *choices = json_object_get(root, "choices");
    assert_true(json_is_array(choices));
    assert_int_equal(json_array_size(choices), 1);
    json_t *ch = json_array_get(choices, 0);
    assert_int_equal(int_at(ch, "index"), 0);
    null_at(ch, "logprobs");
    assert_string_equal(str_at(ch, "finish_reason"), "stop");
    json_t *msg = json_object_get(ch, "message");
    assert_string_equal(str_at(msg, "role"), "assistant");
    assert_string_equal(str_at(msg, "content"), text);
    null_at(msg, "refusal");
    json_t *usage = json_object_get(root, "usage");
    assert_int_equal(json_object_size(usage), 3);
    assert_int_equal(int_at(usage, "prompt_tokens"), 12);
    assert_int_equal(int_at(usage, "completion_tokens"), 8);
    assert_int_equal(int_at(usage, "total_tokens"), 20);
    json_decref(root);

    /* our own client reads it */
    openai_chunk c;
    char err[256];
    assert_int_equal(openai_chunk_parse(s, strlen(s), false, &c, err, sizeof err), OPENAI_OK);
    assert_string_equal(c.model, "frontdesk-cs@3");
    assert_string_equal(c.content, text);
    assert_int_equal(c.content_len, strlen(text));
    assert_string_equal(c.finish_reason, "stop");
    assert_int_equal(c.prompt_tokens, 12);
    assert_int_equal(c.completion_tokens, 8);
    openai_chunk_free(&c);
    free(s);

    /* len is what counts (a NUL inside goes out escaped); no finish_reason is null */
    s = oai_completion_json(&META, "ab\0cd", 5, NULL, 0, 0);
    assert_non_null(strstr(s, "\"content\":\"ab\\u0000cd\""));
    assert_non_null(strstr(s, "\"finish_reason\":null"));
    free(s);
    s = oai_completion_json(&META, "abcdef", 3, "length", 1, 3);
    root = load(s, strlen(s));
    ch = json_array_get(json_object_get(root, "choices"), 0);
    assert_string_equal(str_at(json_object_get(ch, "message"), "content"), "abc");
    assert_string_equal(str_at(ch, "finish_reason"), "length");
    json_decref(root);
    free(s);
}

static void test_not_utf8_reply(void **state)
{
    (void)state;
    /* a byte that is not UTF-8 (a token cut inside a character) becomes
     * U+FFFD rather than no answer at all; valid neighbours are kept */
    const char bytes[] = "ok \xE2\x82 \xFF\xC3\xA9";
    char *s = oai_completion_json(&META, bytes, sizeof bytes - 1, "stop", 1, 1);
    assert_non_null(s);
    json_t *root = load(s, strlen(s));
    json_t *msg = json_object_get(json_array_get(json_object_get(root, "choices"), 0), "message");
    assert_string_equal(str_at(msg, "content"), "ok \xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD\xC3\xA9");
    json_decref(root);
    free(s);

    char *ev = oai_chunk_text(&META, "\xC3", 1);
    assert_non_null(strstr(ev, "\"delta\":{\"content\":\"\xEF\xBF\xBD\"}"));
    free(ev);

    oai_reply_meta odd = META;
    odd.model = "bad\xFFname";
    odd.fingerprint = NULL;
    ev = oai_chunk_finish(&odd, "stop");
    assert_non_null(strstr(ev, "\"model\":\"bad\xEF\xBF\xBDname\""));
    assert_non_null(strstr(ev, "\"system_fingerprint\":null"));
    free(ev);
}

/* The JSON of one event, after checking its framing. */
static json_t *event_json(const char *ev)
{
    size_t n = strlen(ev);
    assert_true(n > 8);
    assert_memory_equal(ev, "data: {", 7);
    assert_memory_equal(ev + n - 3, "}\n\n", 3);
    assert_null(memchr(ev, '\n', n - 2)); /* one line */
    assert_null(strchr(ev, '\r'));
    return load(ev + 6, n - 8);
}

/* The event read by our own client's chunk reader. */
static void client_reads(const char *ev, openai_chunk *c)
{
    char err[256];
    size_t n = strlen(ev);
    openai_status st = openai_chunk_parse(ev + 6, n - 8, true, c, err, sizeof err);
    if (st != OPENAI_OK)
        fail_msg("client refused %s: %s", ev, err);
}

static void check_head(json_t *root)
{
    assert_string_equal(str_at(root, "id"), META.id);
    assert_string_equal(str_at(root, "object"), "chat.completion.chunk");
    assert_int_equal(int_at(root, "created"), 1718000000);
    assert_string_equal(str_at(root, "model"), "frontdesk-cs@3");
    assert_string_equal(str_at(root, "system_fingerprint"), "fd-9f86d081");
}

static void test_chunks(void **state)
{
    (void)state;
    openai_chunk c;

    /* the exact bytes of a text chunk */
    char *ev = oai_chunk_text(&META, "Hi \"you\"\n", 9);
    assert_string_equal(ev, "data: {\"id\":\"chatcmpl-0123456789abcdef0123456789abcdef\","
                            "\"object\":\"chat.completion.chunk\",\"created\":1718000000,"
                            "\"model\":\"frontdesk-cs@3\",\"system_fingerprint\":\"fd-9f86d081\","
                            "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi \\\"you\\\"\\n\"},"
                            "\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    json_t *root = event_json(ev);
    check_head(root);
    json_t *ch = json_array_get(json_object_get(root, "choices"), 0);
    null_at(ch, "finish_reason");
    null_at(ch, "logprobs");
    assert_string_equal(str_at(json_object_get(ch, "delta"), "content"), "Hi \"you\"\n");
    json_decref(root);
    client_reads(ev, &c);
    assert_string_equal(c.content, "Hi \"you\"\n");
    assert_null(c.finish_reason);
    assert_string_equal(c.model, "frontdesk-cs@3");
    assert_int_equal(c.prompt_tokens, -1);
    openai_chunk_free(&c);
    free(ev);

    /* the role chunk */
    ev = oai_chunk_role(&META);
    root = event_json(ev);
    check_head(root);
    ch = json_array_get(json_object_get(root, "choices"), 0);
    json_t *d = json_object_get(ch, "delta");
    assert_int_equal(json_object_size(d), 2);
    assert_string_equal(str_at(d, "role"), "assistant");
    assert_string_equal(str_at(d, "content"), "");
    null_at(ch, "finish_reason");
    json_decref(root);
    client_reads(ev, &c);
    assert_string_equal(c.content, "");
    openai_chunk_free(&c);
    free(ev);

    /* the finish chunk: empty delta */
    ev = oai_chunk_finish(&META, "length");
    root = event_json(ev);
    ch = json_array_get(json_object_get(root, "choices"), 0);
    assert_int_equal(int_at(ch, "index"), 0);
    assert_true(json_is_object(json_object_get(ch, "delta")));
    assert_int_equal(json_object_size(json_object_get(ch, "delta")), 0);
    assert_string_equal(str_at(ch, "finish_reason"), "length");
    json_decref(root);
    client_reads(ev, &c);
    assert_string_equal(c.finish_reason, "length");
    assert_null(c.content);
    openai_chunk_free(&c);
    free(ev);

    /* the usage chunk: choices [] */
    ev = oai_chunk_usage(&META, 30, 5);
    root = event_json(ev);
    check_head(root);
    assert_true(json_is_array(json_object_get(root, "choices")));
    assert_int_equal(json_array_size(json_object_get(root, "choices")), 0);
    json_t *u = json_object_get(root, "usage");
    assert_int_equal(int_at(u, "prompt_tokens"), 30);
    assert_int_equal(int_at(u, "completion_tokens"), 5);
    assert_int_equal(int_at(u, "total_tokens"), 35);
    json_decref(root);
    client_reads(ev, &c);
    assert_int_equal(c.prompt_tokens, 30);
    assert_int_equal(c.completion_tokens, 5);
    assert_null(c.finish_reason);
    assert_null(c.content);
    openai_chunk_free(&c);
    free(ev);

    assert_string_equal(OAI_DONE, "data: [DONE]\n\n");
}

static void test_error_and_models(void **state)
{
    (void)state;
    char *s = oai_error_json("temperature must be between 0 and 2", "invalid_request_error", "temperature", "");
    assert_string_equal(s, "{\"error\":{\"message\":\"temperature must be between 0 and 2\","
                           "\"type\":\"invalid_request_error\",\"param\":\"temperature\",\"code\":null}}");
    /* our client finds the message */
    char *msg = openai_error_message(s, strlen(s));
    assert_string_equal(msg, "temperature must be between 0 and 2");
    free(msg);
    free(s);

    s = oai_error_json("busy \"now\"", "server_error", "", "server_busy");
    json_t *root = load(s, strlen(s));
    assert_int_equal(json_object_size(root), 1);
    json_t *e = json_object_get(root, "error");
    assert_int_equal(json_object_size(e), 4);
    assert_string_equal(str_at(e, "message"), "busy \"now\"");
    assert_string_equal(str_at(e, "type"), "server_error");
    null_at(e, "param");
    assert_string_equal(str_at(e, "code"), "server_busy");
    json_decref(root);
    free(s);
    s = oai_error_json("x", "server_error", NULL, NULL);
    assert_string_equal(s, "{\"error\":{\"message\":\"x\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
    free(s);

    s = oai_models_json("frontdesk-cs@3", 1718000000, "9f86d081884c7d65");
    root = load(s, strlen(s));
    assert_string_equal(str_at(root, "object"), "list");
    json_t *data = json_object_get(root, "data");
    assert_int_equal(json_array_size(data), 1);
    json_t *m = json_array_get(data, 0);
    assert_int_equal(json_object_size(m), 5);
    assert_string_equal(str_at(m, "id"), "frontdesk-cs@3");
    assert_string_equal(str_at(m, "object"), "model");
    assert_int_equal(int_at(m, "created"), 1718000000);
    assert_string_equal(str_at(m, "owned_by"), "frontdesk");
    assert_string_equal(str_at(m, "sha256"), "9f86d081884c7d65");
    json_decref(root);
    /* our client reads the list */
    char **names;
    size_t count;
    char err[256];
    assert_int_equal(openai_models_parse(s, strlen(s), &names, &count, err, sizeof err), OPENAI_OK);
    assert_int_equal(count, 1);
    assert_string_equal(names[0], "frontdesk-cs@3");
    openai_models_free(names, count);
    free(s);
}

static void test_new_id(void **state)
{
    (void)state;
    char a[42], b[64];
    assert_true(oai_new_id(a, sizeof a));
    assert_true(oai_new_id(b, sizeof b));
    assert_int_equal(strlen(a), 41);
    assert_memory_equal(a, "chatcmpl-", 9);
    for (size_t i = 9; i < 41; i++)
        if (!((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f')))
            fail_msg("not lowercase hex at %zu: %s", i, a);
    assert_string_not_equal(a, b);
    /* too small a buffer: refused, nothing written */
    char small[41];
    memset(small, 'x', sizeof small);
    assert_false(oai_new_id(small, sizeof small));
    assert_int_equal(small[0], 'x');
    /* over many ids every hex digit turns up in every position: random, not a counter */
    unsigned seen[32] = {0};
    for (int k = 0; k < 400; k++) {
        assert_true(oai_new_id(a, sizeof a));
        for (int i = 0; i < 32; i++) {
            char h = a[9 + i];
            seen[i] |= 1u << (h <= '9' ? h - '0' : h - 'a' + 10);
        }
    }
    for (int i = 0; i < 32; i++)
        assert_int_equal(seen[i], 0xFFFF);
}

/* ---- Feedback ------------------------------------------------------------------------ */

static void feedback_refused(const char *body, const char *param, const char *message)
{
    oai_feedback f;
    oai_error e;
    if (oai_feedback_parse(body, strlen(body), &f, &e))
        fail_msg("accepted %s", body);
    if (strcmp(e.message, message) != 0 || strcmp(e.param, param) != 0)
        fail_msg("%s\n  got  \"%s\" param \"%s\"\n  want \"%s\" param \"%s\"", body, e.message, e.param, message,
                 param);
    assert_null(f.id);
    assert_null(f.comment);
    assert_null(f.rater);
}

static void test_feedback(void **state)
{
    (void)state;
    oai_feedback f;
    oai_error e;
    const char *all = "{\"id\":\"chatcmpl-abc\",\"thumbs\":\"down\",\"score\":2,\"comment\":\"too curt\","
                      "\"rater\":\"qa-team\",\"extra\":1}";
    assert_true(oai_feedback_parse(all, strlen(all), &f, &e));
    assert_string_equal(f.id, "chatcmpl-abc");
    assert_int_equal(f.thumbs, -1);
    assert_int_equal(f.score, 2);
    assert_string_equal(f.comment, "too curt");
    assert_string_equal(f.rater, "qa-team");
    oai_feedback_free(&f);
    oai_feedback_free(&f);
    oai_feedback_free(NULL);

    const char *up = "{\"id\":\"chatcmpl-1\",\"thumbs\":\"up\",\"score\":null,\"comment\":null}";
    assert_true(oai_feedback_parse(up, strlen(up), &f, &e));
    assert_int_equal(f.thumbs, 1);
    assert_int_equal(f.score, 0);
    assert_null(f.comment);
    assert_null(f.rater);
    oai_feedback_free(&f);

    const char *score = "{\"id\":\"x\",\"score\":5.0}";
    assert_true(oai_feedback_parse(score, strlen(score), &f, &e));
    assert_int_equal(f.thumbs, 0);
    assert_int_equal(f.score, 5);
    oai_feedback_free(&f);

    const char *comment = "{\"id\":\"x\",\"comment\":\"\"}";
    assert_true(oai_feedback_parse(comment, strlen(comment), &f, &e));
    assert_string_equal(f.comment, "");
    oai_feedback_free(&f);

    feedback_refused("nope", "", "the request body is not valid JSON: invalid token near 'nope' (at byte 4)");
    feedback_refused("[]", "", "the request body must be a JSON object");
    feedback_refused("{\"thumbs\":\"up\"}", "id", "id is required (the completion's \"chatcmpl-...\" id)");
    feedback_refused("{\"id\":12,\"thumbs\":\"up\"}", "id", "id must be a string");
    feedback_refused("{\"id\":\"\",\"thumbs\":\"up\"}", "id", "id must not be empty");
    feedback_refused("{\"id\":\"x\"}", "", "feedback needs thumbs, score or comment");
    feedback_refused("{\"id\":\"x\",\"rater\":\"r\",\"thumbs\":null}", "", "feedback needs thumbs, score or comment");
    feedback_refused("{\"id\":\"x\",\"thumbs\":\"sideways\"}", "thumbs", "thumbs must be \"up\" or \"down\"");
    feedback_refused("{\"id\":\"x\",\"thumbs\":1}", "thumbs", "thumbs must be \"up\" or \"down\"");
    feedback_refused("{\"id\":\"x\",\"thumbs\":true}", "thumbs", "thumbs must be \"up\" or \"down\"");
    feedback_refused("{\"id\":\"x\",\"score\":0}", "score", "score must be between 1 and 5");
    feedback_refused("{\"id\":\"x\",\"score\":6}", "score", "score must be between 1 and 5");
    feedback_refused("{\"id\":\"x\",\"score\":4.5}", "score", "score must be an integer");
    feedback_refused("{\"id\":\"x\",\"score\":\"4\"}", "score", "score must be an integer");
    feedback_refused("{\"id\":\"x\",\"comment\":5}", "comment", "comment must be a string");
    feedback_refused("{\"id\":\"x\",\"score\":3,\"rater\":[]}", "rater", "rater must be a string");
    feedback_refused("{\"id\":\"x\",\"score\":3,\"rater\":\"\"}", "rater", "rater must not be empty");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_node_client),
        cmocka_unit_test(test_python_client),
        cmocka_unit_test(test_every_field),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_completion),
        cmocka_unit_test(test_not_utf8_reply),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_error_and_models),
        cmocka_unit_test(test_new_id),
        cmocka_unit_test(test_feedback),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
