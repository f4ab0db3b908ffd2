/*
 * reply.c — one reply from the local engine or a remote server (see
 * reply.h).
 */
#include "app/reply.h"

#include "engine/prompt.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *reply_backend_name(const reply_backend *b)
{
    return b->remote ? b->remote->base_url : "local";
}

static int run_local(const reply_backend *b, const chat_msg *msgs, size_t n, const reply_opts *o,
                     reply_result *res)
{
    double t0 = util_now();
    int32_t *prompt = NULL;
    size_t n_prompt = 0, cap = 0;
    int rc;
    if (b->raw) {
        const char *text = msgs[n - 1].content;
        rc = tok_encode(b->v, text, strlen(text), true, false, &prompt, &n_prompt, &cap, res->error,
                        sizeof res->error);
    } else {
        int reserve = o->max_tokens < b->n_ctx / 4 ? o->max_tokens : b->n_ctx / 4;
        rc = prompt_fit(b->tmpl, b->v, msgs, n, b->n_ctx, reserve, &prompt, &n_prompt, &res->dropped, res->error,
                        sizeof res->error);
    }
    if (rc == 0 && (long)n_prompt >= b->n_ctx) {
        snprintf(res->error, sizeof res->error,
                 "the prompt is %zu tokens, more than the context of %d allows; shorten it or raise --ctx",
                 n_prompt, b->n_ctx);
        rc = -1;
    }
    if (rc != 0) {
        res->prompt_too_long = true;
        res->r.outcome = DB_OUTCOME_ERROR;
        res->r.latency_ms = (util_now() - t0) * 1000.0;
        free(prompt);
        return -1;
    }
    sampler *s = sampler_new(&o->sampling, (int)b->m->n_vocab);
    gen_opts go = {.n_predict = o->max_tokens, .stops = o->stops, .n_stops = o->n_stops, .cancel = o->cancel,
                   .on_text = o->on_text, .on_token = o->on_token, .ud = o->ud};
    gen_stats st = {0};
    rc = gen_run(b->ctx, b->m, b->v, s, prompt, (int)n_prompt, &go, &st, res->error, sizeof res->error);
    sampler_free(s);
    free(prompt);
    res->stop = st.stop;
    res->r.outcome = rc != 0 ? DB_OUTCOME_ERROR
                     : st.stop == GEN_STOP_CANCELLED ? DB_OUTCOME_CANCELLED
                                                     : DB_OUTCOME_OK;
    res->r.prompt_tokens = st.prompt_tokens;
    res->r.gen_tokens = st.gen_tokens;
    res->r.ttft_ms = rc == 0 ? st.ttft_ms : -1;
    res->r.prefill_ms = rc == 0 ? st.prefill_ms : -1;
    res->r.decode_ms = rc == 0 ? st.decode_ms : -1;
    res->r.prefill_tps = st.prefill_tps;
    res->r.decode_tps = st.decode_tps;
    res->r.latency_ms = (util_now() - t0) * 1000.0;
    if (st.n_logprob > 0) {
        res->r.has_logprob = true;
        res->r.logprob_mean = st.logprob_sum / st.n_logprob;
        res->r.logprob_min = st.logprob_min;
    }
    return rc != 0 ? -1 : 0;
}

/* The engine's sampling settings as the protocol's (net/ knows nothing of
 * the engine). */
static openai_sampling remote_sampling(const sampler_params *p)
{
    return (openai_sampling){.temp = p->temp,
                             .top_k = p->top_k,
                             .top_p = p->top_p,
                             .min_p = p->min_p,
                             .repeat_penalty = p->repeat_penalty,
                             .repeat_last_n = p->repeat_last_n,
                             .seed = p->seed};
}

static int run_remote(const reply_backend *b, const chat_msg *msgs, size_t n, const reply_opts *o,
                      reply_result *res)
{
    openai_msg *m = xcalloc(n ? n : 1, sizeof *m);
    for (size_t i = 0; i < n; i++)
        m[i] = (openai_msg){.role = msgs[i].role, .content = msgs[i].content};
    remote_request rq = {.messages = m, .n_messages = n, .sampling = remote_sampling(&o->sampling),
                         .send_seed = o->send_seed, .max_tokens = o->max_tokens, .stops = o->stops,
                         .n_stops = o->n_stops};
    remote_callbacks cb = {.on_text = o->on_text, .ud = o->ud, .cancel = o->cancel};
    remote_result rr;
    int rc = remote_chat(b->remote, &rq, &cb, &rr, res->error, sizeof res->error);
    free(m);
    res->r.outcome = rr.outcome == REMOTE_OK          ? DB_OUTCOME_OK
                     : rr.outcome == REMOTE_CANCELLED ? DB_OUTCOME_CANCELLED
                     : rr.outcome == REMOTE_TIMEOUT   ? DB_OUTCOME_TIMEOUT
                                                      : DB_OUTCOME_ERROR;
    res->stop = rr.outcome == REMOTE_CANCELLED ? GEN_STOP_CANCELLED
                : !strcmp(rr.finish_reason, "length") ? GEN_STOP_LENGTH
                                                       : GEN_STOP_EOG;
    res->r.attempts = rr.attempts > 0 ? rr.attempts : 1;
    res->r.prompt_tokens = rr.prompt_tokens;
    res->r.gen_tokens = rr.completion_tokens;
    res->r.ttft_ms = rr.ttft_ms;
    res->r.prefill_ms = -1; /* a server does not tell */
    res->r.decode_ms = rr.decode_ms;
    res->r.prefill_tps = -1;
    res->r.decode_tps = rr.decode_tps;
    res->r.latency_ms = rr.latency_ms;
    if (rr.n_logprob > 0) {
        res->r.has_logprob = true;
        res->r.logprob_mean = rr.logprob_sum / rr.n_logprob;
        res->r.logprob_min = rr.logprob_min;
    }
    return rc == 0 || rr.outcome == REMOTE_CANCELLED ? 0 : -1;
}

int reply_run(const reply_backend *b, const chat_msg *msgs, size_t n, const reply_opts *o, reply_result *res)
{
    memset(res, 0, sizeof *res);
    res->r.attempts = 1;
    res->r.prompt_tokens = res->r.gen_tokens = -1;
    res->r.ttft_ms = res->r.prefill_ms = res->r.decode_ms = res->r.latency_ms = -1;
    int rc = b->remote ? run_remote(b, msgs, n, o, res) : run_local(b, msgs, n, o, res);
    res->r.error = res->r.outcome == DB_OUTCOME_OK || res->r.outcome == DB_OUTCOME_CANCELLED ? NULL : res->error;
    return rc;
}
