/*
 * openai.c — the chat-completions JSON (see openai.h for the fields and
 * what each call accepts).
 *
 * Requests are built with jansson and dumped once; replies are loaded with
 * jansson and checked member by member, each wrong type an error naming
 * the member.  What this file does not do: talk HTTP or read event
 * streams (remote.c, sse.c), or make server text safe to print (the
 * caller knows which secret to hide).
 */
#include "net/openai.h"

#include "util/util.h"

#include <jansson.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- The request ------------------------------------------------------------- */

char *openai_request_json(const char *model, const openai_request *rq, char *err, size_t errlen)
{
    json_t *root = json_object(), *msgs = json_array();
    if (model) {
        json_t *mv = json_string(model);
        if (!mv) {
            util_errf(err, errlen, "the model name is not valid UTF-8");
            json_decref(msgs);
            goto bad;
        }
        json_object_set_new(root, "model", mv);
    }
    for (size_t i = 0; i < rq->n_messages; i++) {
        const openai_msg *m = &rq->messages[i];
        json_t *role = json_string(m->role ? m->role : "");
        json_t *content = json_string(m->content ? m->content : "");
        if (!role || !content) {
            json_decref(role);
            json_decref(content);
            util_errf(err, errlen, "message %zu is not valid UTF-8", i + 1);
            json_decref(msgs);
            goto bad;
        }
        json_t *e = json_object();
        json_object_set_new(e, "role", role);
        json_object_set_new(e, "content", content);
        json_array_append_new(msgs, e);
    }
    json_object_set_new(root, "messages", msgs);
    json_object_set_new(root, "stream", json_true());
    json_t *so = json_object();
    json_object_set_new(so, "include_usage", json_true());
    json_object_set_new(root, "stream_options", so);
    json_object_set_new(root, "logprobs", json_true());

    const openai_sampling *s = &rq->sampling;
    json_object_set_new(root, "temperature", json_real(s->temp));
    json_object_set_new(root, "top_p", json_real(s->top_p));
    if (s->top_k > 0)
        json_object_set_new(root, "top_k", json_integer(s->top_k));
    if (s->min_p > 0)
        json_object_set_new(root, "min_p", json_real(s->min_p));
    if (s->repeat_penalty > 0 && s->repeat_penalty != 1.0f) {
        json_object_set_new(root, "repeat_penalty", json_real(s->repeat_penalty));
        json_object_set_new(root, "repetition_penalty", json_real(s->repeat_penalty));
        if (s->repeat_last_n > 0)
            json_object_set_new(root, "repeat_last_n", json_integer(s->repeat_last_n));
    }
    if (rq->send_seed)
        json_object_set_new(root, "seed", json_integer((json_int_t)(s->seed & (uint64_t)INT64_MAX)));
    if (rq->max_tokens > 0)
        json_object_set_new(root, "max_tokens", json_integer(rq->max_tokens));
    if (rq->n_stops > 0) {
        json_t *st = json_array();
        for (size_t i = 0; i < rq->n_stops; i++) {
            json_t *v = json_string(rq->stops[i] ? rq->stops[i] : "");
            if (!v) {
                json_decref(st);
                util_errf(err, errlen, "stop string %zu is not valid UTF-8", i + 1);
                goto bad;
            }
            json_array_append_new(st, v);
        }
        json_object_set_new(root, "stop", st);
    }
    /* Reals at float precision: 0.8f goes out as 0.8, not 0.800000011920929. */
    char *body = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(7));
    json_decref(root);
    if (!body)
        util_errf(err, errlen, "out of memory building the request");
    return body;
bad:
    json_decref(root);
    return NULL;
}

/* ---- A reply ------------------------------------------------------------------ */

/* A count that must be a non-negative int when present (null allowed). */
static bool take_count(json_t *obj, const char *name, int *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX) {
        util_errf(err, errlen, "usage.%s is not a count", name);
        return false;
    }
    *out = (int)json_integer_value(v);
    return true;
}

/* choices[0].logprobs (not null): {"content": null or [{"logprob": x, ...}]};
 * the other members ("refusal", each entry's token and top_logprobs) are
 * not read. */
static bool read_logprobs(json_t *lp, openai_chunk *c, char *err, size_t errlen)
{
    if (!json_is_object(lp)) {
        util_errf(err, errlen, "choices[0].logprobs is not an object");
        return false;
    }
    json_t *content = json_object_get(lp, "content");
    if (!content || json_is_null(content))
        return true;
    if (!json_is_array(content)) {
        util_errf(err, errlen, "choices[0].logprobs.content is not an array");
        return false;
    }
    size_t i;
    json_t *e;
    json_array_foreach(content, i, e) {
        json_t *v = json_is_object(e) ? json_object_get(e, "logprob") : NULL;
        if (!json_is_number(v)) {
            util_errf(err, errlen, "choices[0].logprobs.content[%zu].logprob is not a number", i);
            return false;
        }
        double x = json_number_value(v);
        if (c->n_logprob == 0 || x < c->logprob_min)
            c->logprob_min = x;
        c->logprob_sum += x;
        c->n_logprob++;
    }
    return true;
}

static openai_status read_chunk(json_t *root, bool stream, openai_chunk *c, char *err, size_t errlen)
{
    if (!json_is_object(root)) {
        util_errf(err, errlen, "not a JSON object");
        return OPENAI_BAD_FIELD;
    }
    json_t *e = json_object_get(root, "error");
    if (e && !json_is_null(e)) {
        char *dump = json_dumps(root, JSON_COMPACT);
        c->error = xstrdup(dump ? dump : "");
        free(dump);
        util_errf(err, errlen, "the server reported an error");
        return OPENAI_SERVER_ERROR;
    }
    json_t *model = json_object_get(root, "model");
    if (json_is_string(model))
        c->model = xstrdup(json_string_value(model));

    json_t *usage = json_object_get(root, "usage");
    if (usage && !json_is_null(usage)) {
        if (!json_is_object(usage)) {
            util_errf(err, errlen, "usage is not an object");
            return OPENAI_BAD_FIELD;
        }
        if (!take_count(usage, "prompt_tokens", &c->prompt_tokens, err, errlen) ||
            !take_count(usage, "completion_tokens", &c->completion_tokens, err, errlen))
            return OPENAI_BAD_FIELD;
    }

    json_t *choices = json_object_get(root, "choices");
    if (!choices || json_is_null(choices))
        return OPENAI_OK;
    if (!json_is_array(choices)) {
        util_errf(err, errlen, "choices is not an array");
        return OPENAI_BAD_FIELD;
    }
    if (json_array_size(choices) == 0)
        return OPENAI_OK; /* the usage chunk */
    json_t *ch = json_array_get(choices, 0);
    if (!json_is_object(ch)) {
        util_errf(err, errlen, "choices[0] is not an object");
        return OPENAI_BAD_FIELD;
    }
    const char *part = stream ? "delta" : "message";
    json_t *d = json_object_get(ch, part);
    if (d && !json_is_null(d) && !json_is_object(d)) {
        util_errf(err, errlen, "choices[0].%s is not an object", part);
        return OPENAI_BAD_FIELD;
    }
    json_t *fr = json_object_get(ch, "finish_reason");
    if (fr && !json_is_null(fr)) {
        if (!json_is_string(fr)) {
            util_errf(err, errlen, "choices[0].finish_reason is not a string");
            return OPENAI_BAD_FIELD;
        }
        c->finish_reason = xstrdup(json_string_value(fr));
    }
    json_t *content = json_is_object(d) ? json_object_get(d, "content") : NULL;
    if (content && !json_is_null(content)) {
        if (!json_is_string(content)) {
            util_errf(err, errlen, "choices[0].%s.content is not a string", part);
            return OPENAI_BAD_FIELD;
        }
        size_t len = json_string_length(content);
        c->content = xmalloc(len + 1);
        memcpy(c->content, json_string_value(content), len);
        c->content[len] = '\0';
        c->content_len = len;
    }
    json_t *lp = json_object_get(ch, "logprobs");
    if (lp && !json_is_null(lp) && !read_logprobs(lp, c, err, errlen))
        return OPENAI_BAD_FIELD;
    return OPENAI_OK;
}

openai_status openai_chunk_parse(const char *json, size_t n, bool stream, openai_chunk *c, char *err,
                                 size_t errlen)
{
    *c = (openai_chunk){.prompt_tokens = -1, .completion_tokens = -1};
    json_error_t je;
    /* A NUL (\u0000) in the text is a byte a model may emit like any other
     * (content_len carries it); without the flag jansson refuses the chunk. */
    json_t *root = json_loadb(json, n, JSON_ALLOW_NUL, &je);
    if (!root) {
        util_errf(err, errlen, "%s (at byte %d)", je.text, je.position);
        return OPENAI_BAD_JSON;
    }
    openai_status st = read_chunk(root, stream, c, err, errlen);
    json_decref(root);
    return st;
}

void openai_chunk_free(openai_chunk *c)
{
    if (!c)
        return;
    free(c->model);
    free(c->finish_reason);
    free(c->content);
    free(c->error);
    *c = (openai_chunk){.prompt_tokens = -1, .completion_tokens = -1};
}

char *openai_error_message(const char *body, size_t n)
{
    json_t *root = n ? json_loadb(body, n, 0, NULL) : NULL;
    const char *msg = NULL;
    if (json_is_object(root)) {
        json_t *e = json_object_get(root, "error");
        if (json_is_object(e) && json_is_string(json_object_get(e, "message")))
            msg = json_string_value(json_object_get(e, "message"));
        else if (json_is_string(e))
            msg = json_string_value(e);
        else if (json_is_string(json_object_get(root, "message")))
            msg = json_string_value(json_object_get(root, "message"));
        else if (json_is_string(json_object_get(root, "detail")))
            msg = json_string_value(json_object_get(root, "detail"));
    }
    char *out = msg ? xstrdup(msg) : NULL;
    json_decref(root);
    return out;
}

/* ---- The model list ----------------------------------------------------------- */

void openai_models_free(char **names, size_t count)
{
    if (!names)
        return;
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

openai_status openai_models_parse(const char *json, size_t n, char ***names, size_t *count, char *err,
                                  size_t errlen)
{
    *names = NULL;
    *count = 0;
    json_error_t je;
    json_t *root = json_loadb(json, n, 0, &je);
    if (!root) {
        util_errf(err, errlen, "the model list is not JSON: %s (at byte %d)", je.text, je.position);
        return OPENAI_BAD_JSON;
    }
    json_t *data = json_is_object(root) ? json_object_get(root, "data") : NULL;
    if (!json_is_array(data)) {
        util_errf(err, errlen, "the model list has no \"data\" array");
        json_decref(root);
        return OPENAI_BAD_FIELD;
    }
    size_t k = json_array_size(data);
    char **out = xcalloc(k ? k : 1, sizeof *out);
    for (size_t i = 0; i < k; i++) {
        json_t *id = json_object_get(json_array_get(data, i), "id");
        if (!json_is_string(id)) {
            util_errf(err, errlen, "the model list's data[%zu].id is not a string", i);
            openai_models_free(out, i);
            json_decref(root);
            return OPENAI_BAD_FIELD;
        }
        out[i] = xstrdup(json_string_value(id));
    }
    json_decref(root);
    *names = out;
    *count = k;
    return OPENAI_OK;
}
