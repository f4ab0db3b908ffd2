/*
 * serve.c — answering one HTTP request of `frontdesk serve`.
 *
 * A chat completion goes: read the body (net/openai_server.h) → mask
 * private data when [privacy] redact is on → find or start its
 * conversation in the store and record the new messages and a running
 * reply → fit the prompt → queue it on the batch scheduler → stream its
 * text to the client as it comes (or wait for all of it) while saving it
 * → complete the reply and its request row with the outcome and figures.
 * The scheduler's callbacks only copy text into the request's buffer; the
 * connection's thread does the rest, so the store never slows a decode
 * step.  A client that goes away cancels its job, recorded "cancelled".
 */
#include "app/serve.h"

#include "app/compare.h"
#include "app/deploy.h"
#include "app/heartbeat.h"
#include "app/store.h"
#include "engine/prompt.h"
#include "net/openai_server.h"
#include "storage/chats.h"
#include "storage/handles.h"
#include "storage/ratings.h"
#include "storage/redact.h"
#include "util/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- Answers ----------------------------------------------------------------------- */

static const char *const JSON_TYPE = "application/json";

static void log_request(const httpd_req *r, int status, int prompt_tokens, int gen_tokens, double t0)
{
    fprintf(stderr, "serve: %s %s %d prompt=%d gen=%d %.0f ms\n", httpd_method(r), httpd_path(r), status,
            prompt_tokens, gen_tokens, (util_now() - t0) * 1e3);
}

static void respond_error(serve_ctx *s, httpd_req *r, int status, const char *type, const char *message,
                          const char *param, const char *code, const char *const *headers, double t0)
{
    char *body = oai_error_json(message, type, param ? param : "", code ? code : "");
    httpd_respond(r, status, JSON_TYPE, body, strlen(body), headers);
    free(body);
    if (status >= 400 && status < 500)
        serve_metrics_count(&s->metrics, &s->metrics.bad_requests);
    log_request(r, status, -1, -1, t0);
}

static void respond_json(httpd_req *r, int status, json_t *v, double t0)
{
    char *body = json_dumps(v, JSON_COMPACT);
    httpd_respond(r, status, JSON_TYPE, body, strlen(body), NULL);
    free(body);
    json_decref(v);
    log_request(r, status, -1, -1, t0);
}

/* Constant-time comparison of the Authorization header with "Bearer KEY". */
static bool authorized(const serve_ctx *s, const httpd_req *r)
{
    if (!s->api_key)
        return true;
    const char *h = httpd_header(r, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    size_t a = strlen(h), b = strlen(s->api_key);
    unsigned char diff = (unsigned char)(a != b);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned char)(s->api_key[i] ^ (i < a ? h[i] : 0));
    return diff == 0;
}

/* ---- One completion's state ------------------------------------------------------------ */

typedef struct {
    serve_ctx *s;
    serve_engine *e;     /* the version answering                            */
    httpd_req *http;
    double t0;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    strbuf pending;      /* text from the scheduler not yet taken             */
    bool done;           /* the scheduler's on_done came                       */
    batch_result res;
    batch_job *job;
    /* the answer */
    bool stream, include_usage;
    char id[48], conv_token[48];
    oai_reply_meta meta;
    strbuf all;          /* the whole reply text                             */
    strbuf out;          /* stream bytes formatted, not yet sent             */
    size_t out_pos;
    int phase;           /* stream: 0 nothing sent, 1 text, 2 finished        */
    int n_prompt;
    /* the store */
    store_reply rec;
    bool recording, recorded;
    bool rejected;       /* every slot busy and the queue full               */
} completion;

static bool job_text(void *ud, const char *text, size_t len)
{
    completion *c = ud;
    pthread_mutex_lock(&c->mu);
    sb_append(&c->pending, text, len);
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return true;
}

static void job_done(void *ud, const batch_result *r)
{
    completion *c = ud;
    pthread_mutex_lock(&c->mu);
    c->done = true;
    c->res = *r;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Wait at most 100 ms for text or the end; take what came.  Returns
 * whether the job is done (and all its text taken). */
static bool take(completion *c, strbuf *got)
{
    pthread_mutex_lock(&c->mu);
    if (!c->done && c->pending.len == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    if (c->pending.len)
        sb_append(got, c->pending.data, c->pending.len);
    sb_clear(&c->pending);
    bool done = c->done;
    pthread_mutex_unlock(&c->mu);
    return done;
}

static const char *finish_reason(gen_stop st)
{
    return st == GEN_STOP_LENGTH || st == GEN_STOP_CONTEXT ? "length" : "stop";
}

/* Save text as it streams (under the store's lock). */
static void save_text(completion *c, const char *text, size_t len)
{
    sb_append(&c->all, text, len);
    if (!c->recording)
        return;
    pthread_mutex_lock(&c->s->db_mu);
    store_reply_text(&c->rec, text, len);
    pthread_mutex_unlock(&c->s->db_mu);
}

/* Complete the reply and its request row once, from the job's result;
 * cancelled_by_client overrides a finished outcome. */
static void record_end(completion *c, bool client_gone)
{
    if (c->recorded)
        return;
    c->recorded = true;
    const batch_result *br = &c->res;
    db_request_result rr = {0};
    bool cancelled = client_gone || br->st.stop == GEN_STOP_CANCELLED;
    rr.outcome = br->rc != 0 ? DB_OUTCOME_ERROR : cancelled ? DB_OUTCOME_CANCELLED : DB_OUTCOME_OK;
    rr.error = br->rc != 0 ? br->error : NULL;
    rr.prompt_tokens = br->st.prompt_tokens;
    rr.gen_tokens = br->st.gen_tokens;
    rr.ttft_ms = br->st.gen_tokens > 0 ? br->st.ttft_ms : -1;
    rr.prefill_ms = br->st.prefill_ms > 0 ? br->st.prefill_ms : -1;
    rr.decode_ms = br->st.gen_tokens > 1 ? br->st.decode_ms : -1;
    rr.latency_ms = (util_now() - c->t0) * 1e3;
    rr.prefill_tps = br->st.prefill_tps;
    rr.decode_tps = br->st.decode_tps;
    rr.attempts = 1;
    if (br->st.n_logprob > 0) {
        rr.has_logprob = true;
        rr.logprob_mean = br->st.logprob_sum / br->st.n_logprob;
        rr.logprob_min = br->st.logprob_min;
    }
    serve_metrics_add(&c->s->metrics, c->e->model_id, db_outcome_name(rr.outcome), c->rejected, rr.prompt_tokens,
                      rr.gen_tokens, rr.latency_ms, rr.ttft_ms);
    if (!c->recording)
        return;
    pthread_mutex_lock(&c->s->db_mu);
    db_request_set_queue(c->s->d, c->rec.request, br->queue_ms);
    if (store_reply_end(&c->rec, &rr) != DB_OK)
        fprintf(stderr, "serve: %s %s %s: %s\n", c->rec.lost ? "reply" : "recording reply", c->id,
                c->rec.lost ? "delivered but NOT recorded" : "failed", c->rec.err);
    char why[300];
    if (compare_guard_check(c->s->d, c->s->cfg, why, sizeof why) == 1)
        fprintf(stderr, "serve: guard: stopped the canary (%s)\n", why);
    pthread_mutex_unlock(&c->s->db_mu);
}

static void completion_free(completion *c)
{
    atomic_fetch_sub(&c->s->in_flight, 1);
    batch_release(c->job);
    sb_free(&c->pending);
    sb_free(&c->all);
    sb_free(&c->out);
    if (c->recording && !c->recorded) {
        sb_free(&c->rec.text);
        if (c->rec.held)
            heartbeat_release();
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

/* ---- Streaming -------------------------------------------------------------------------- */

static void out_take(completion *c, char *chunk)
{
    if (chunk) {
        sb_append(&c->out, chunk, strlen(chunk));
        free(chunk);
    }
}

static ssize_t stream_pull(void *ud, char *buf, size_t max)
{
    completion *c = ud;
    if (c->out_pos == c->out.len) {
        sb_clear(&c->out);
        c->out_pos = 0;
        if (c->phase == 2)
            return HTTPD_PULL_END;
        if (c->phase == 0) {
            out_take(c, oai_chunk_role(&c->meta));
            c->phase = 1;
        } else {
            strbuf got = {0};
            bool done = take(c, &got);
            if (got.len) {
                save_text(c, got.data, got.len);
                out_take(c, oai_chunk_text(&c->meta, got.data, got.len));
            }
            sb_free(&got);
            if (done) {
                record_end(c, false);
                out_take(c, oai_chunk_finish(&c->meta, finish_reason(c->res.st.stop)));
                if (c->include_usage)
                    out_take(c, oai_chunk_usage(&c->meta, c->res.st.prompt_tokens, c->res.st.gen_tokens));
                sb_append(&c->out, OAI_DONE, strlen(OAI_DONE));
                c->phase = 2;
                log_request(c->http, 200, c->res.st.prompt_tokens, c->res.st.gen_tokens, c->t0);
            }
        }
        if (c->out.len == 0)
            return 0;
    }
    size_t n = c->out.len - c->out_pos;
    if (n > max)
        n = max;
    memcpy(buf, c->out.data + c->out_pos, n);
    c->out_pos += n;
    return (ssize_t)n;
}

static void stream_done(void *ud, bool completed)
{
    completion *c = ud;
    if (!c->recorded) { /* the client went away (or the server stops) first */
        batch_cancel(c->job);
        strbuf got = {0};
        while (!take(c, &got))
            ;
        if (got.len)
            save_text(c, got.data, got.len);
        sb_free(&got);
        record_end(c, !completed);
        log_request(c->http, 499, c->res.st.prompt_tokens, c->res.st.gen_tokens, c->t0);
    }
    completion_free(c);
}

/* ---- The conversation in the store ------------------------------------------------------- */

static db_role role_of(oai_role r)
{
    return r == OAI_ROLE_SYSTEM ? DB_ROLE_SYSTEM : r == OAI_ROLE_USER ? DB_ROLE_CUSTOMER : DB_ROLE_AGENT;
}

/* How many of the request's messages the stored thread of conv already
 * holds, in order; -1 when the thread is not a prefix of them. */
static long stored_prefix(db *d, int64_t conv, const oai_chat_request *rq)
{
    db_msg *rows = NULL;
    size_t n = 0;
    if (db_msgs_list(d, conv, false, &rows, &n) != DB_OK)
        return -1;
    size_t k = 0;
    long result = 0;
    for (size_t i = 0; i < n && result >= 0; i++) {
        if (rows[i].role == DB_ROLE_AGENT && !*rows[i].text)
            continue; /* a reply that produced nothing */
        if (k >= rq->n_messages || role_of(rq->messages[k].role) != rows[i].role ||
            strcmp(rows[i].text, rq->messages[k].content) != 0)
            result = -1;
        k++;
    }
    db_msgs_free(rows, n);
    return result < 0 ? -1 : (long)k;
}

/* Find the conversation the token names and whose stored thread the
 * request continues, or start one; store the messages it does not hold
 * yet.  false with a message in err. */
static bool record_conv(serve_ctx *s, completion *c, const oai_chat_request *rq, const char *token, int64_t *conv_out,
                        char *err, size_t errlen)
{
    db *d = s->d;
    int64_t conv = 0, unused;
    long have = -1;
    if (token && !strncmp(token, "fdc-", 4) && db_handle_get(d, token, &conv, &unused) == DB_OK) {
        have = stored_prefix(d, conv, rq);
        if (have >= 0 && (size_t)have < rq->n_messages)
            snprintf(c->conv_token, sizeof c->conv_token, "%s", token);
        else
            have = -1; /* diverged, or nothing new: a conversation of its own */
    }
    size_t from = 0;
    if (have < 0) {
        const char *system = rq->messages[0].role == OAI_ROLE_SYSTEM ? rq->messages[0].content : NULL;
        if (db_conv_create(d, "serve", system, &conv) != DB_OK)
            goto fail;
        from = system ? 1 : 0;
        if (!util_random_token("fdc-", c->conv_token, sizeof c->conv_token)) {
            util_errf(err, errlen, "the system has no randomness for a conversation token");
            return false;
        }
        if (db_handle_put(d, c->conv_token, conv, 0, rq->user) != DB_OK)
            goto fail;
    } else {
        from = (size_t)have;
    }
    for (size_t i = from; i < rq->n_messages; i++) {
        const oai_msg *m = &rq->messages[i];
        int64_t id;
        if (m->role == OAI_ROLE_ASSISTANT) { /* a reply the client had: no model of ours */
            if (db_reply_begin(d, conv, 0, NULL, 0, &id) != DB_OK || db_reply_end(d, id, m->content, 0) != DB_OK)
                goto fail;
        } else if (db_msg_add(d, conv, role_of(m->role), m->content, &id) != DB_OK) {
            goto fail;
        }
    }
    *conv_out = conv;
    return true;
fail:
    util_errf(err, errlen, "%s", db_errmsg(d));
    return false;
}

/* Start the running reply of the version answering. */
static bool record_reply(serve_ctx *s, completion *c, int64_t conv, const oai_chat_request *rq, const char *sampling,
                         char *err, size_t errlen)
{
    db_status st = store_reply_begin(&c->rec, s->d, conv, c->e->model_id, "serve", sampling, 0, 0);
    if (st == DB_GONE) { /* answered all the same: the log says it is not recorded */
        fprintf(stderr, "serve: reply %s will NOT be recorded: %s\n", c->id, c->rec.err);
        return true;
    }
    if (st != DB_OK) {
        util_errf(err, errlen, "%s", c->rec.err);
        return false;
    }
    c->rec.say = "serve";
    c->recording = true;
    if (db_handle_put(s->d, c->id, conv, c->rec.message, rq->user) != DB_OK) {
        util_errf(err, errlen, "%s", db_errmsg(s->d));
        return false;
    }
    return true;
}

/* The version a request's "model" names (a name or a SHA-256 prefix of a
 * version the store knows, exactly one), else 0. */
static int64_t named_version(db *d, const char *name)
{
    if (!name || !*name)
        return 0;
    db_model *ms;
    size_t n;
    int64_t id = 0;
    if (db_models_match(d, name, &ms, &n) == DB_OK) {
        if (n == 1 && !strcmp(ms[0].backend, "local"))
            id = ms[0].id;
        db_models_free(ms, n);
    }
    return id;
}

/* Which version answers conv: a version the request names, or the one
 * --model gave (both pinned), else the deployment's routing, else (nothing
 * deployed) the configured model.  0 with err. */
static int64_t route(serve_ctx *s, int64_t conv, const oai_chat_request *rq, char *err, size_t errlen)
{
    int64_t pin = named_version(s->d, rq->model);
    if (!pin && s->pinned)
        pin = s->default_id;
    deploy_route r;
    if (deploy_route_conv(s->d, conv, pin, &r, err, errlen) != DB_OK)
        return 0;
    if (r.routed)
        return r.model_id;
    if (s->default_id)
        return s->default_id;
    util_errf(err, errlen, "nothing is deployed (frontdesk deploy VERSION) and no model is configured");
    return 0;
}

/* ---- POST /v1/chat/completions ------------------------------------------------------------ */

static void redact_messages(oai_chat_request *rq)
{
    for (size_t i = 0; i < rq->n_messages; i++) {
        char *masked = redact_text(rq->messages[i].content, strlen(rq->messages[i].content), NULL);
        free(rq->messages[i].content);
        rq->messages[i].content = masked;
    }
}

static sampler_params sampling_of(const serve_ctx *s, const oai_chat_request *rq)
{
    sampler_params sp = s->cfg->sampling;
    if (rq->temperature >= 0)
        sp.temp = (float)rq->temperature;
    if (rq->top_p >= 0)
        sp.top_p = (float)rq->top_p;
    if (rq->top_k >= 0)
        sp.top_k = rq->top_k;
    if (rq->min_p >= 0)
        sp.min_p = (float)rq->min_p;
    if (rq->repeat_penalty > 0)
        sp.repeat_penalty = (float)rq->repeat_penalty;
    if (rq->has_seed)
        sp.seed = (uint64_t)rq->seed;
    else if (getrandom(&sp.seed, sizeof sp.seed, 0) != (ssize_t)sizeof sp.seed)
        sp.seed = (uint64_t)(util_now() * 1e9);
    return sp;
}

static void chat_completion(serve_ctx *s, httpd_req *r, double t0)
{
    size_t len;
    const char *body = httpd_body(r, &len);
    oai_chat_request rq;
    oai_error pe;
    if (!oai_chat_request_parse(body, len, &rq, &pe)) {
        respond_error(s, r, 400, "invalid_request_error", pe.message, pe.param, pe.code, NULL, t0);
        return;
    }
    if (rq.messages[0].role != OAI_ROLE_SYSTEM && s->cfg->n_profiles > 0) {
        /* no system prompt: the default profile's, as ask and the TUI use
         * (the built-in model is trained with it) */
        rq.messages = xreallocarray(rq.messages, rq.n_messages + 1, sizeof *rq.messages);
        memmove(rq.messages + 1, rq.messages, rq.n_messages * sizeof *rq.messages);
        rq.messages[0] = (oai_msg){.role = OAI_ROLE_SYSTEM, .content = xstrdup(s->cfg->profiles[0].system)};
        rq.n_messages++;
    }
    if (s->cfg->redact)
        redact_messages(&rq);

    /* the conversation first: the deployment routes it to a version */
    char err[600];
    completion *c = xcalloc(1, sizeof *c);
    atomic_fetch_add(&s->in_flight, 1);
    c->s = s;
    int64_t conv = 0, version = 0;
    pthread_mutex_lock(&s->db_mu);
    bool ok = record_conv(s, c, &rq, httpd_header(r, "X-Frontdesk-Conversation"), &conv, err, sizeof err);
    if (ok)
        version = route(s, conv, &rq, err, sizeof err);
    pthread_mutex_unlock(&s->db_mu);
    if (ok && version)
        c->e = serve_engine_get(s, version, err, sizeof err);
    if (!ok || !c->e) {
        const char *conv_header[] = {"X-Frontdesk-Conversation", c->conv_token, NULL};
        respond_error(s, r, ok ? 503 : 500, "server_error", err, NULL, ok ? "version_unavailable" : NULL,
                      *c->conv_token ? conv_header : NULL, t0);
        oai_chat_request_free(&rq);
        completion_free(c);
        return;
    }
    serve_engine *eng = c->e;

    /* the prompt: every message must fit, with room for one token */
    chat_msg *msgs = xcalloc(rq.n_messages, sizeof *msgs);
    for (size_t i = 0; i < rq.n_messages; i++) {
        msgs[i].role = rq.messages[i].role == OAI_ROLE_SYSTEM ? "system"
                       : rq.messages[i].role == OAI_ROLE_USER ? "user"
                                                              : "assistant";
        msgs[i].content = rq.messages[i].content;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0, dropped = 0;
    int frc = prompt_fit(eng->tmpl, eng->v, msgs, rq.n_messages, s->n_ctx, 1, &ids, &n_ids, &dropped, err, sizeof err);
    free(msgs);
    if (frc != 0 || dropped > 0) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "the messages do not fit this model's context of %d tokens (with room for a reply)", s->n_ctx);
        respond_error(s, r, 400, "invalid_request_error", msg, "messages", "context_length_exceeded", NULL, t0);
        free(ids);
        oai_chat_request_free(&rq);
        completion_free(c);
        return;
    }
    c->http = r;
    c->t0 = t0;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->stream = rq.stream;
    c->include_usage = rq.include_usage;
    c->n_prompt = (int)n_ids;
    if (!oai_new_id(c->id, sizeof c->id)) {
        respond_error(s, r, 500, "server_error", "the system has no randomness for an id", NULL, NULL, NULL, t0);
        free(ids);
        oai_chat_request_free(&rq);
        completion_free(c);
        return;
    }
    c->meta = (oai_reply_meta){.id = c->id, .created = (int64_t)time(NULL), .model = eng->model_name,
                               .fingerprint = eng->fingerprint};

    sampler_params sp = sampling_of(s, &rq);
    int room = s->n_ctx - (int)n_ids;
    int n_predict = rq.max_tokens > 0 ? rq.max_tokens : s->cfg->max_tokens;
    if (n_predict > room)
        n_predict = room;
    char *sampling = store_sampling_json(&sp, n_predict, s->n_ctx);
    pthread_mutex_lock(&s->db_mu);
    ok = record_reply(s, c, conv, &rq, sampling, err, sizeof err);
    pthread_mutex_unlock(&s->db_mu);
    free(sampling);
    if (!ok) {
        respond_error(s, r, 500, "server_error", err, NULL, NULL, NULL, t0);
        if (c->recording) {
            c->res.rc = -1;
            util_errf(c->res.error, sizeof c->res.error, "%s", err);
            record_end(c, false);
        }
        free(ids);
        oai_chat_request_free(&rq);
        completion_free(c);
        return;
    }

    batch_req br = {.prompt = ids, .n_prompt = (int)n_ids, .sampling = sp, .n_predict = n_predict,
                    .stops = (const char *const *)rq.stops, .n_stops = rq.n_stops, .ignore_eos = rq.ignore_eos,
                    .on_text = job_text, .on_done = job_done, .ud = c};
    int brc = batch_submit(eng->b, &br, &c->job);
    free(ids);
    oai_chat_request_free(&rq);
    const char *conv_header[] = {"X-Frontdesk-Conversation", c->conv_token, NULL};
    if (brc != BATCH_OK) {
        bool busy = brc == BATCH_EQUEUE;
        c->res.rc = -1;
        c->res.st.prompt_tokens = c->n_prompt;
        snprintf(c->res.error, sizeof c->res.error, "%s",
                 busy ? "every slot busy and the queue full" : "the server is stopping");
        c->rejected = busy;
        record_end(c, false);
        const char *retry[] = {"Retry-After", "1", NULL};
        respond_error(s, r, 503, "server_error",
                      busy ? "the server is busy: every slot is taken and the queue is full; retry shortly"
                           : "the server is stopping",
                      NULL, busy ? "server_busy" : "server_stopping", retry, t0);
        completion_free(c);
        return;
    }

    if (c->stream) {
        const char *headers[] = {"Cache-Control", "no-cache", "X-Frontdesk-Conversation", c->conv_token, NULL};
        httpd_respond_stream(r, 200, "text/event-stream", headers, stream_pull, stream_done, c);
        return;
    }
    /* whole: wait, watching the client */
    strbuf got = {0};
    bool gone = false;
    while (!take(c, &got)) {
        if (!gone && httpd_client_gone(r)) {
            gone = true;
            batch_cancel(c->job);
        }
    }
    if (got.len)
        save_text(c, got.data, got.len);
    sb_free(&got);
    record_end(c, gone);
    if (c->res.rc != 0) {
        respond_error(s, r, 500, "server_error", c->res.error, NULL, NULL, conv_header, t0);
    } else {
        char *answer = oai_completion_json(&c->meta, c->all.data ? c->all.data : "", c->all.len,
                                           finish_reason(c->res.st.stop), c->res.st.prompt_tokens,
                                           c->res.st.gen_tokens);
        httpd_respond(r, 200, JSON_TYPE, answer, strlen(answer), conv_header);
        free(answer);
        log_request(r, gone ? 499 : 200, c->res.st.prompt_tokens, c->res.st.gen_tokens, t0);
    }
    completion_free(c);
}

/* ---- POST /v1/feedback ------------------------------------------------------------------------ */

static void feedback(serve_ctx *s, httpd_req *r, double t0)
{
    size_t len;
    const char *body = httpd_body(r, &len);
    oai_feedback f;
    oai_error e;
    if (!oai_feedback_parse(body, len, &f, &e)) {
        respond_error(s, r, 400, "invalid_request_error", e.message, e.param, e.code, NULL, t0);
        return;
    }
    int64_t conv = 0, message = 0;
    pthread_mutex_lock(&s->db_mu);
    db_status st = strncmp(f.id, "chatcmpl-", 9) ? DB_NOTFOUND : db_handle_get(s->d, f.id, &conv, &message);
    if (st == DB_OK && message <= 0)
        st = DB_NOTFOUND;
    if (st == DB_OK) {
        db_rating_in in = {0};
        if (f.thumbs) {
            in.fields |= DB_RATE_THUMBS;
            in.thumbs = f.thumbs;
        }
        if (f.score) {
            in.fields |= DB_RATE_SCORE;
            in.score = f.score;
        }
        if (f.comment) {
            in.fields |= DB_RATE_COMMENT;
            in.comment = f.comment;
        }
        st = db_rate(s->d, message, f.rater ? f.rater : "customer", &in);
    }
    char msg[600];
    snprintf(msg, sizeof msg, "%s", st == DB_OK || st == DB_NOTFOUND ? "" : db_errmsg(s->d));
    char why[300];
    if (st == DB_OK && compare_guard_check(s->d, s->cfg, why, sizeof why) == 1)
        fprintf(stderr, "serve: guard: stopped the canary (%s)\n", why);
    pthread_mutex_unlock(&s->db_mu);
    if (st == DB_NOTFOUND) {
        respond_error(s, r, 404, "invalid_request_error", "no completion has this id", "id", "not_found", NULL, t0);
    } else if (st != DB_OK) {
        respond_error(s, r, st == DB_INVALID ? 400 : 500, st == DB_INVALID ? "invalid_request_error" : "server_error",
                      msg, NULL, NULL, NULL, t0);
    } else {
        serve_metrics_count(&s->metrics, &s->metrics.feedback);
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(f.id));
        json_object_set_new(o, "object", json_string("feedback"));
        json_object_set_new(o, "recorded", json_true());
        respond_json(r, 200, o, t0);
    }
    oai_feedback_free(&f);
}

/* ---- Routing ------------------------------------------------------------------------------------ */

/* GET /v1/models: the versions loaded, then the deployment's not yet
 * loaded, each with its SHA-256 and role. */
static char *models_json(serve_ctx *s)
{
    json_t *data = json_array();
    pthread_mutex_lock(&s->eng_mu);
    pthread_mutex_lock(&s->db_mu);
    db_deployment dep;
    bool deployed = !s->pinned && db_deployment_get(s->d, &dep) == DB_OK;
    int64_t ids[SERVE_ENGINES + 2];
    int n = 0;
    for (int i = 0; i < s->n_eng; i++)
        ids[n++] = s->eng[i]->model_id;
    if (deployed) {
        bool have_s = false, have_c = !dep.candidate_id;
        for (int i = 0; i < n; i++) {
            have_s |= ids[i] == dep.stable_id;
            have_c |= ids[i] == dep.candidate_id;
        }
        if (!have_s)
            ids[n++] = dep.stable_id;
        if (!have_c)
            ids[n++] = dep.candidate_id;
    }
    for (int i = 0; i < n; i++) {
        db_model m;
        if (db_model_get(s->d, ids[i], &m) != DB_OK)
            continue;
        json_t *mo = json_object();
        json_object_set_new(mo, "id", json_string(i < s->n_eng ? s->eng[i]->model_name : m.display_name));
        json_object_set_new(mo, "object", json_string("model"));
        json_object_set_new(mo, "created", json_integer(s->started));
        json_object_set_new(mo, "owned_by", json_string("frontdesk"));
        json_object_set_new(mo, "sha256", m.sha256 ? json_string(m.sha256) : json_null());
        const char *role = !deployed ? "pinned"
                           : ids[i] == dep.stable_id ? "stable"
                           : ids[i] == dep.candidate_id ? "candidate"
                                                        : "pinned";
        json_object_set_new(mo, "role", json_string(role));
        if (deployed && ids[i] == dep.candidate_id)
            json_object_set_new(mo, "share", json_integer(dep.share));
        json_array_append_new(data, mo);
        db_model_clear(&m);
    }
    pthread_mutex_unlock(&s->db_mu);
    pthread_mutex_unlock(&s->eng_mu);
    json_t *root = json_object();
    json_object_set_new(root, "object", json_string("list"));
    json_object_set_new(root, "data", data);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}

serve_route serve_route_of(const char *method, const char *path)
{
    static const struct {
        const char *path, *method;
        serve_route route;
    } table[] = {
        {"/v1/chat/completions", "POST", SERVE_ROUTE_CHAT},
        {"/v1/feedback", "POST", SERVE_ROUTE_FEEDBACK},
        {"/v1/models", "GET", SERVE_ROUTE_MODELS},
        {"/metrics", "GET", SERVE_ROUTE_METRICS},
    };
    if (!strcmp(path, "/health"))
        return SERVE_ROUTE_HEALTH;
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        if (strcmp(path, table[i].path))
            continue;
        if (!strcmp(method, table[i].method))
            return table[i].route;
        return !strcmp(table[i].method, "POST") ? SERVE_ROUTE_NEEDS_POST : SERVE_ROUTE_NEEDS_GET;
    }
    return SERVE_ROUTE_NOT_FOUND;
}

void serve_handle(void *ud, httpd_req *r)
{
    serve_ctx *s = ud;
    double t0 = util_now();
    serve_route rt = serve_route_of(httpd_method(r), httpd_path(r));
    if (rt == SERVE_ROUTE_HEALTH) {
        bool up = !atomic_load(&s->stopping);
        json_t *o = json_object();
        json_object_set_new(o, "status", json_string(up ? "ok" : "stopping"));
        respond_json(r, up ? 200 : 503, o, t0);
        return;
    }
    if (!authorized(s, r)) {
        respond_error(s, r, 401, "invalid_request_error", "a valid API key is needed (Authorization: Bearer KEY)",
                      NULL, "invalid_api_key", NULL, t0);
        return;
    }
    switch (rt) {
    case SERVE_ROUTE_CHAT:
        chat_completion(s, r, t0);
        break;
    case SERVE_ROUTE_FEEDBACK:
        feedback(s, r, t0);
        break;
    case SERVE_ROUTE_MODELS: {
        char *body = models_json(s);
        httpd_respond(r, 200, JSON_TYPE, body, strlen(body), NULL);
        free(body);
        log_request(r, 200, -1, -1, t0);
        break;
    }
    case SERVE_ROUTE_METRICS: {
        batch_load loads[SERVE_ENGINES];
        int64_t ids[SERVE_ENGINES];
        pthread_mutex_lock(&s->eng_mu);
        int n = s->n_eng;
        for (int i = 0; i < n; i++) { /* each version's scheduler */
            batch_get_load(s->eng[i]->b, &loads[i]);
            ids[i] = s->eng[i]->model_id;
        }
        pthread_mutex_unlock(&s->eng_mu);
        char *text = serve_metrics_text(&s->metrics, loads, ids, n);
        httpd_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text), NULL);
        free(text);
        log_request(r, 200, -1, -1, t0);
        break;
    }
    case SERVE_ROUTE_NEEDS_POST:
    case SERVE_ROUTE_NEEDS_GET: {
        const char *allow[] = {"Allow", rt == SERVE_ROUTE_NEEDS_POST ? "POST" : "GET", NULL};
        respond_error(s, r, 405, "invalid_request_error", "method not allowed here", NULL, NULL, allow, t0);
        break;
    }
    case SERVE_ROUTE_HEALTH: /* answered above */
    case SERVE_ROUTE_NOT_FOUND:
        respond_error(s, r, 404, "invalid_request_error", "no such endpoint", NULL, "not_found", NULL, t0);
        break;
    }
}
