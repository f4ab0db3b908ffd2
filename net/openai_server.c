/*
 * openai_server.c — the server's side of the chat-completions JSON (see
 * openai_server.h for the members and what each call accepts).
 *
 * A body is loaded once with jansson and read member by member: each
 * reader below takes one member, treats null as absent, and on a wrong
 * type or value fills the oai_error with a sentence and the member's path
 * ("messages[1].content[0].type").  Answers are built as jansson trees and
 * dumped compact.  What this file does not do: HTTP (httpd.c), deciding
 * what a status code is (the caller), or anything of the engine.
 */
#include "net/openai_server.h"

#include "util/util.h"

#include <jansson.h>

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Errors --------------------------------------------------------------------- */

/* Fill e (message from fmt, param, no code); returns false for `return bad(...)`. */
static bool bad(oai_error *e, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool bad(oai_error *e, const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    snprintf(e->param, sizeof e->param, "%s", param);
    e->code[0] = '\0';
    return false;
}

/* A string or null when s is NULL or "". */
static json_t *str_or_null(const char *s)
{
    json_t *v = s && *s ? json_string(s) : NULL;
    return v ? v : json_null();
}

/* len bytes as a JSON string.  Bytes that are not UTF-8 become U+FFFD each
 * (so an answer is always produced; see the header). */
static json_t *text_json(const char *s, size_t len)
{
    json_t *v = json_stringn(s, len);
    if (v)
        return v;
    strbuf sb = {0};
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = util_utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (cp == 0xFFFD && n == 1)
            sb_append(&sb, "\xEF\xBF\xBD", 3);
        else
            sb_append(&sb, s + i, n);
        i += n;
    }
    v = json_stringn(sb.data ? sb.data : "", sb.len);
    sb_free(&sb);
    if (!v) /* only out of memory is left */
        abort();
    return v;
}

/* A NUL-terminated string that may be NULL or not UTF-8 (names from config). */
static json_t *name_json(const char *s)
{
    return s ? text_json(s, strlen(s)) : json_null();
}

/* Dump compact; out-of-memory aborts like xmalloc. */
static char *dump(json_t *root)
{
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!s) {
        fprintf(stderr, "frontdesk: out of memory writing JSON\n");
        abort();
    }
    return s;
}

char *oai_error_json(const char *message, const char *type, const char *param, const char *code)
{
    json_t *err = json_object();
    json_object_set_new(err, "message", name_json(message ? message : ""));
    json_object_set_new(err, "type", type ? name_json(type) : json_null());
    json_object_set_new(err, "param", str_or_null(param));
    json_object_set_new(err, "code", str_or_null(code));
    json_t *root = json_object();
    json_object_set_new(root, "error", err);
    return dump(root);
}

/* ---- Reading members ------------------------------------------------------------ */

/* The member, or NULL when absent or null. */
static json_t *member(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    return json_is_null(v) ? NULL : v;
}

/* Load a body that must be a JSON object; NULL with e filled otherwise. */
static json_t *load_object(const char *body, size_t len, oai_error *e)
{
    json_error_t je;
    json_t *root = json_loadb(body ? body : "", body ? len : 0, JSON_DECODE_ANY, &je);
    if (!root) {
        bad(e, "", "the request body is not valid JSON: %s (at byte %d)", je.text, je.position);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        bad(e, "", "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

static bool take_bool(json_t *obj, const char *name, bool *out, oai_error *e)
{
    json_t *v = member(obj, name);
    if (!v)
        return true;
    if (!json_is_boolean(v))
        return bad(e, name, "%s must be a boolean", name);
    *out = json_is_true(v);
    return true;
}

/* A string member copied into *out (left alone when absent). */
static bool take_string(json_t *obj, const char *name, char **out, oai_error *e)
{
    json_t *v = member(obj, name);
    if (!v)
        return true;
    if (!json_is_string(v))
        return bad(e, name, "%s must be a string", name);
    *out = xstrdup(json_string_value(v));
    return true;
}

/* The value of an integer member, or of a real with an integral value
 * (16.0) that fits in int64; *has false when absent. */
static bool take_integer(json_t *obj, const char *name, bool *has, int64_t *out, oai_error *e)
{
    json_t *v = member(obj, name);
    *has = v != NULL;
    if (!v)
        return true;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    /* -2^63 <= d < 2^63: both bounds exact in a double */
    double d = json_is_real(v) ? json_real_value(v) : 0.5;
    if (d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return bad(e, name, "%s must be an integer", name);
    *out = (int64_t)d;
    return true;
}

/* An integer member >= min into an int (values past INT_MAX read as
 * INT_MAX: a limit that large is no limit); *out left alone when absent. */
static bool take_int_min(json_t *obj, const char *name, int64_t min, int *out, oai_error *e)
{
    bool has;
    int64_t v;
    if (!take_integer(obj, name, &has, &v, e))
        return false;
    if (!has)
        return true;
    if (v < min)
        return bad(e, name, "%s must be at least %lld", name, (long long)min);
    *out = v > INT_MAX ? INT_MAX : (int)v;
    return true;
}

/* A number member in [lo, hi], or (lo, hi] when lo_open; hi = INFINITY for
 * no upper bound.  *out left alone when absent. */
static bool take_number(json_t *obj, const char *name, double lo, bool lo_open, double hi, double *out,
                        oai_error *e)
{
    json_t *v = member(obj, name);
    if (!v)
        return true;
    if (!json_is_number(v))
        return bad(e, name, "%s must be a number", name);
    double d = json_number_value(v);
    bool ok = (lo_open ? d > lo : d >= lo) && d <= hi;
    if (!ok) {
        if (isinf(hi))
            return bad(e, name, "%s must be greater than %g", name, lo);
        if (lo_open)
            return bad(e, name, "%s must be greater than %g and at most %g", name, lo, hi);
        return bad(e, name, "%s must be between %g and %g", name, lo, hi);
    }
    *out = d;
    return true;
}

/* ---- A chat-completions request --------------------------------------------------- */

/* messages[i].content: a string, an array of text parts, or (assistant
 * only) null / absent. */
static bool read_content(json_t *msg, size_t i, oai_role role, char **out, oai_error *e)
{
    char path[128];
    snprintf(path, sizeof path, "messages[%zu].content", i);
    json_t *c = member(msg, "content");
    if (!c) {
        if (role != OAI_ROLE_ASSISTANT)
            return bad(e, path, "%s is required", path);
        *out = xstrdup("");
        return true;
    }
    if (json_is_string(c)) {
        *out = xstrdup(json_string_value(c)); /* no NUL inside: jansson refuses \u0000 */
        return true;
    }
    if (!json_is_array(c))
        return bad(e, path, "%s must be a string or an array of text parts", path);
    strbuf sb = {0};
    sb_puts(&sb, "");
    for (size_t j = 0; j < json_array_size(c); j++) {
        json_t *part = json_array_get(c, j);
        char ppath[160];
        snprintf(ppath, sizeof ppath, "%s[%zu]", path, j);
        char tpath[176];
        if (!json_is_object(part)) {
            sb_free(&sb);
            return bad(e, ppath, "%s must be an object", ppath);
        }
        json_t *type = member(part, "type");
        snprintf(tpath, sizeof tpath, "%s.type", ppath);
        if (!json_is_string(type)) {
            sb_free(&sb);
            return bad(e, tpath, "%s must be a string", tpath);
        }
        if (strcmp(json_string_value(type), "text") != 0) {
            sb_free(&sb);
            return bad(e, tpath, "%s \"%.40s\" is not supported (only \"text\" parts)", tpath,
                       json_string_value(type));
        }
        json_t *text = member(part, "text");
        snprintf(tpath, sizeof tpath, "%s.text", ppath);
        if (!json_is_string(text)) {
            sb_free(&sb);
            return bad(e, tpath, "%s must be a string", tpath);
        }
        sb_append(&sb, json_string_value(text), json_string_length(text));
    }
    *out = sb.data;
    return true;
}

static bool read_messages(json_t *root, oai_chat_request *rq, oai_error *e)
{
    json_t *msgs = member(root, "messages");
    if (!msgs)
        return bad(e, "messages", "messages is required");
    if (!json_is_array(msgs))
        return bad(e, "messages", "messages must be an array");
    size_t n = json_array_size(msgs);
    if (n == 0)
        return bad(e, "messages", "messages must not be empty");
    rq->messages = xcalloc(n, sizeof *rq->messages);
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        char path[128];
        snprintf(path, sizeof path, "messages[%zu]", i);
        if (!json_is_object(m))
            return bad(e, path, "%s must be an object", path);
        snprintf(path, sizeof path, "messages[%zu].role", i);
        json_t *role = member(m, "role");
        if (!role)
            return bad(e, path, "%s is required", path);
        if (!json_is_string(role))
            return bad(e, path, "%s must be a string", path);
        const char *r = json_string_value(role);
        oai_role ro;
        if (!strcmp(r, "system") || !strcmp(r, "developer"))
            ro = OAI_ROLE_SYSTEM;
        else if (!strcmp(r, "user"))
            ro = OAI_ROLE_USER;
        else if (!strcmp(r, "assistant"))
            ro = OAI_ROLE_ASSISTANT;
        else if (!strcmp(r, "tool") || !strcmp(r, "function"))
            return bad(e, path, "%s \"%s\" is not supported: this server has no tools", path, r);
        else
            return bad(e, path, "%s must be system, developer, user or assistant, not \"%.40s\"", path, r);
        if (!read_content(m, i, ro, &rq->messages[i].content, e))
            return false;
        rq->messages[i].role = ro;
        rq->n_messages = i + 1;
    }
    return true;
}

/* "stop": a string, or an array of at most 4 strings; empty strings are
 * dropped (they would stop before the first token). */
static bool read_stops(json_t *root, oai_chat_request *rq, oai_error *e)
{
    json_t *st = member(root, "stop");
    if (!st)
        return true;
    if (json_is_string(st)) {
        if (json_string_length(st) > 0) {
            rq->stops = xcalloc(1, sizeof *rq->stops);
            rq->stops[rq->n_stops++] = xstrdup(json_string_value(st));
        }
        return true;
    }
    if (!json_is_array(st))
        return bad(e, "stop", "stop must be a string or an array of strings");
    size_t n = json_array_size(st);
    if (n > 4)
        return bad(e, "stop", "stop may hold at most 4 strings, not %zu", n);
    rq->stops = xcalloc(n ? n : 1, sizeof *rq->stops);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(st, i);
        if (!json_is_string(s)) {
            char path[32];
            snprintf(path, sizeof path, "stop[%zu]", i);
            return bad(e, path, "%s must be a string", path);
        }
        if (json_string_length(s) > 0)
            rq->stops[rq->n_stops++] = xstrdup(json_string_value(s));
    }
    return true;
}

static bool read_request(json_t *root, oai_chat_request *rq, oai_error *e)
{
    if (!read_messages(root, rq, e) || !take_string(root, "model", &rq->model, e) ||
        !take_bool(root, "stream", &rq->stream, e))
        return false;
    json_t *so = member(root, "stream_options");
    if (so && !json_is_object(so))
        return bad(e, "stream_options", "stream_options must be an object");
    if (so && !take_bool(so, "include_usage", &rq->include_usage, e)) {
        snprintf(e->param, sizeof e->param, "stream_options.include_usage");
        snprintf(e->message, sizeof e->message, "stream_options.include_usage must be a boolean");
        return false;
    }

    /* max_completion_tokens wins over the older max_tokens; both are checked */
    int mct = -1;
    if (!take_int_min(root, "max_tokens", 1, &rq->max_tokens, e) ||
        !take_int_min(root, "max_completion_tokens", 1, &mct, e))
        return false;
    if (mct > 0)
        rq->max_tokens = mct;

    if (!take_number(root, "temperature", 0, false, 2, &rq->temperature, e) ||
        !take_number(root, "top_p", 0, true, 1, &rq->top_p, e) ||
        !take_int_min(root, "top_k", 0, &rq->top_k, e) || !take_number(root, "min_p", 0, false, 1, &rq->min_p, e) ||
        !take_number(root, "frequency_penalty", -2, false, 2, &rq->frequency_penalty, e) ||
        !take_number(root, "presence_penalty", -2, false, 2, &rq->presence_penalty, e) ||
        !take_number(root, "repeat_penalty", 0, true, INFINITY, &rq->repeat_penalty, e) ||
        !take_integer(root, "seed", &rq->has_seed, &rq->seed, e) || !read_stops(root, rq, e))
        return false;

    bool has_n;
    int64_t n;
    if (!take_integer(root, "n", &has_n, &n, e))
        return false;
    if (has_n && n != 1)
        return bad(e, "n", "only n = 1 is supported");
    bool has_top;
    int64_t top;
    if (!take_bool(root, "logprobs", &rq->logprobs, e) || !take_integer(root, "top_logprobs", &has_top, &top, e))
        return false;
    if (has_top && (top < 0 || top > 20))
        return bad(e, "top_logprobs", "top_logprobs must be between 0 and 20");
    rq->top_logprobs = has_top ? (int)top : 0;
    return take_string(root, "user", &rq->user, e) && take_bool(root, "ignore_eos", &rq->ignore_eos, e);
}

static void request_init(oai_chat_request *rq)
{
    *rq = (oai_chat_request){.max_tokens = -1, .temperature = -1, .top_p = -1, .top_k = -1, .min_p = -1,
                             .repeat_penalty = -1};
}

bool oai_chat_request_parse(const char *body, size_t len, oai_chat_request *rq, oai_error *e)
{
    request_init(rq);
    memset(e, 0, sizeof *e);
    json_t *root = load_object(body, len, e);
    if (!root)
        return false;
    bool ok = read_request(root, rq, e);
    json_decref(root);
    if (!ok)
        oai_chat_request_free(rq);
    return ok;
}

void oai_chat_request_free(oai_chat_request *rq)
{
    if (!rq)
        return;
    free(rq->model);
    for (size_t i = 0; i < rq->n_messages; i++)
        free(rq->messages[i].content);
    free(rq->messages);
    for (size_t i = 0; i < rq->n_stops; i++)
        free(rq->stops[i]);
    free(rq->stops);
    free(rq->user);
    *rq = (oai_chat_request){0};
}

/* ---- Answers ------------------------------------------------------------------------ */

bool oai_new_id(char *out, size_t outlen)
{
    return util_random_token("chatcmpl-", out, outlen);
}

/* {"id","object","created","model","system_fingerprint"} of every answer. */
static json_t *answer_head(const oai_reply_meta *m, const char *object)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", name_json(m->id));
    json_object_set_new(o, "object", json_string(object));
    json_object_set_new(o, "created", json_integer(m->created));
    json_object_set_new(o, "model", name_json(m->model));
    json_object_set_new(o, "system_fingerprint", name_json(m->fingerprint));
    return o;
}

static json_t *usage_json(int prompt_tokens, int completion_tokens)
{
    json_t *u = json_object();
    json_object_set_new(u, "prompt_tokens", json_integer(prompt_tokens));
    json_object_set_new(u, "completion_tokens", json_integer(completion_tokens));
    json_object_set_new(u, "total_tokens", json_integer((json_int_t)prompt_tokens + completion_tokens));
    return u;
}

/* The one choice: {"index":0, part: body, "logprobs":null, "finish_reason"}. */
static json_t *choices_json(const char *part, json_t *body, const char *finish_reason)
{
    json_t *ch = json_object();
    json_object_set_new(ch, "index", json_integer(0));
    json_object_set_new(ch, part, body);
    json_object_set_new(ch, "logprobs", json_null());
    json_object_set_new(ch, "finish_reason", name_json(finish_reason));
    json_t *arr = json_array();
    json_array_append_new(arr, ch);
    return arr;
}

char *oai_completion_json(const oai_reply_meta *m, const char *content, size_t len, const char *finish_reason,
                          int prompt_tokens, int completion_tokens)
{
    json_t *root = answer_head(m, "chat.completion");
    json_t *msg = json_object();
    json_object_set_new(msg, "role", json_string("assistant"));
    json_object_set_new(msg, "content", text_json(content ? content : "", content ? len : 0));
    json_object_set_new(msg, "refusal", json_null());
    json_object_set_new(root, "choices", choices_json("message", msg, finish_reason));
    json_object_set_new(root, "usage", usage_json(prompt_tokens, completion_tokens));
    return dump(root);
}

/* "data: " + compact JSON + "\n\n" (root consumed). */
static char *event(json_t *root)
{
    char *js = dump(root);
    size_t n = strlen(js);
    char *out = xmalloc(n + 9);
    memcpy(out, "data: ", 6);
    memcpy(out + 6, js, n);
    memcpy(out + 6 + n, "\n\n", 3);
    free(js);
    return out;
}

static char *chunk(const oai_reply_meta *m, json_t *delta, const char *finish_reason)
{
    json_t *root = answer_head(m, "chat.completion.chunk");
    json_object_set_new(root, "choices", choices_json("delta", delta, finish_reason));
    return event(root);
}

char *oai_chunk_role(const oai_reply_meta *m)
{
    json_t *d = json_object();
    json_object_set_new(d, "role", json_string("assistant"));
    json_object_set_new(d, "content", json_string(""));
    return chunk(m, d, NULL);
}

char *oai_chunk_text(const oai_reply_meta *m, const char *text, size_t len)
{
    json_t *d = json_object();
    json_object_set_new(d, "content", text_json(text ? text : "", text ? len : 0));
    return chunk(m, d, NULL);
}

char *oai_chunk_finish(const oai_reply_meta *m, const char *finish_reason)
{
    return chunk(m, json_object(), finish_reason);
}

char *oai_chunk_usage(const oai_reply_meta *m, int prompt_tokens, int completion_tokens)
{
    json_t *root = answer_head(m, "chat.completion.chunk");
    json_object_set_new(root, "choices", json_array());
    json_object_set_new(root, "usage", usage_json(prompt_tokens, completion_tokens));
    return event(root);
}

char *oai_models_json(const char *id, int64_t created, const char *sha256)
{
    json_t *mo = json_object();
    json_object_set_new(mo, "id", name_json(id));
    json_object_set_new(mo, "object", json_string("model"));
    json_object_set_new(mo, "created", json_integer(created));
    json_object_set_new(mo, "owned_by", json_string("frontdesk"));
    json_object_set_new(mo, "sha256", name_json(sha256));
    json_t *data = json_array();
    json_array_append_new(data, mo);
    json_t *root = json_object();
    json_object_set_new(root, "object", json_string("list"));
    json_object_set_new(root, "data", data);
    return dump(root);
}

/* ---- Feedback ------------------------------------------------------------------------ */

static bool read_feedback(json_t *root, oai_feedback *f, oai_error *e)
{
    json_t *id = member(root, "id");
    if (!id)
        return bad(e, "id", "id is required (the completion's \"chatcmpl-...\" id)");
    if (!json_is_string(id))
        return bad(e, "id", "id must be a string");
    if (json_string_length(id) == 0)
        return bad(e, "id", "id must not be empty");
    f->id = xstrdup(json_string_value(id));

    json_t *th = member(root, "thumbs");
    if (th) {
        const char *s = json_is_string(th) ? json_string_value(th) : "";
        if (!strcmp(s, "up"))
            f->thumbs = 1;
        else if (!strcmp(s, "down"))
            f->thumbs = -1;
        else
            return bad(e, "thumbs", "thumbs must be \"up\" or \"down\"");
    }
    bool has_score;
    int64_t score;
    if (!take_integer(root, "score", &has_score, &score, e))
        return false;
    if (has_score && (score < 1 || score > 5))
        return bad(e, "score", "score must be between 1 and 5");
    if (has_score)
        f->score = (int)score;
    if (!take_string(root, "comment", &f->comment, e) || !take_string(root, "rater", &f->rater, e))
        return false;
    if (f->rater && !*f->rater)
        return bad(e, "rater", "rater must not be empty");
    if (!f->thumbs && !f->score && !f->comment)
        return bad(e, "", "feedback needs thumbs, score or comment");
    return true;
}

bool oai_feedback_parse(const char *body, size_t len, oai_feedback *f, oai_error *e)
{
    *f = (oai_feedback){0};
    memset(e, 0, sizeof *e);
    json_t *root = load_object(body, len, e);
    if (!root)
        return false;
    bool ok = read_feedback(root, f, e);
    json_decref(root);
    if (!ok)
        oai_feedback_free(f);
    return ok;
}

void oai_feedback_free(oai_feedback *f)
{
    if (!f)
        return;
    free(f->id);
    free(f->comment);
    free(f->rater);
    *f = (oai_feedback){0};
}
