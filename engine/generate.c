/*
 * generate.c — the generation loop (see generate.h).
 *
 * Stop strings: engine/textout.h holds text back until it cannot be the
 * beginning of one, and cuts the text that completes one there.
 *
 * The sampler changes the logits it is given (penalty, temperature, ...),
 * so it samples from a copy: the row itself stays the model's, for the
 * sampled token's log-probability.
 */
#include "engine/generate.h"

#include "engine/textout.h"

#include "util/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *gen_stop_name(gen_stop s)
{
    switch (s) {
    case GEN_STOP_EOG: return "eog";
    case GEN_STOP_STRING: return "stop-string";
    case GEN_STOP_LENGTH: return "length";
    case GEN_STOP_CONTEXT: return "context-full";
    case GEN_STOP_CANCELLED: return "cancelled";
    case GEN_STOP_CALLBACK: return "callback";
    }
    return "?";
}

double gen_logprob(const float *logits, int n, int32_t id)
{
    /* Online log-sum-exp: sum holds sum(exp(x - max)) over the logits so
     * far; a new largest rescales it. */
    double max = -INFINITY, sum = 0.0;
    for (int i = 0; i < n; i++) {
        double x = logits[i];
        if (x > max) {
            sum = sum * exp(max - x) + 1.0;
            max = x;
        } else if (x > -INFINITY) {
            sum += exp(x - max);
        }
    }
    if (max == -INFINITY || id < 0 || id >= n)
        return -INFINITY;
    return ((double)logits[id] - max) - log(sum);
}

void gen_stats_add_logprob(gen_stats *st, double lp)
{
    if (st->n_logprob == 0 || lp < st->logprob_min)
        st->logprob_min = lp;
    st->logprob_sum += lp;
    st->n_logprob++;
}

int gen_run(fwd_ctx *c, const model *m, const tok_vocab *v, sampler *s, const int32_t *prompt,
            int n_prompt, const gen_opts *o, gen_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    st->prompt_tokens = n_prompt;
    st->stop = GEN_STOP_LENGTH;
    if (n_prompt <= 0) {
        util_errf(err, errlen, "empty prompt");
        return -1;
    }
    if (n_prompt >= fwd_n_ctx(c)) {
        util_errf(err, errlen, "the prompt (%d tokens) does not fit the context of %d tokens", n_prompt,
                  fwd_n_ctx(c));
        return -1;
    }
    float *logits = xmallocarray(m->n_vocab, sizeof *logits);
    float *scratch = xmallocarray(m->n_vocab, sizeof *scratch); /* the sampler's copy */
    textout t;
    textout_init(&t, o->stops, o->n_stops, o->on_text, o->ud);
    tok_stream ts;
    tok_stream_init(&ts, v);
    strbuf piece = {0}; /* grows to the longest piece once, then reused */
    int rc = 0;

    double t0 = util_now();
    fwd_truncate(c, 0);
    sampler_reset(s);
    for (int i = 0; i < n_prompt; i++)
        sampler_accept(s, prompt[i]);
    int frc = fwd_eval(c, prompt, n_prompt, false, logits, o->cancel);
    double t_prefill = util_now();
    st->prefill_ms = (t_prefill - t0) * 1e3;
    if (st->prefill_ms > 0)
        st->prefill_tps = n_prompt / (st->prefill_ms / 1e3);
    if (frc == FWD_ECANCELLED) {
        st->stop = GEN_STOP_CANCELLED;
        goto done;
    }
    if (frc != FWD_OK) {
        util_errf(err, errlen, "evaluating the prompt failed (%s)",
                  frc == FWD_ETOKEN ? "token outside the vocabulary" : "context full");
        rc = -1;
        goto done;
    }

    double t_first = 0.0;
    for (int n = 0; n < o->n_predict; n++) {
        if (o->cancel && atomic_load(o->cancel)) {
            st->stop = GEN_STOP_CANCELLED;
            break;
        }
        memcpy(scratch, logits, m->n_vocab * sizeof *logits);
        int32_t id = sampler_sample(s, scratch);
        gen_stats_add_logprob(st, gen_logprob(logits, (int)m->n_vocab, id));
        st->gen_tokens++;
        if (n == 0) {
            t_first = util_now();
            st->ttft_ms = (t_first - t0) * 1e3;
        }
        if (o->on_token)
            o->on_token(o->ud, id);
        if (tok_is_eog(v, id)) {
            st->stop = GEN_STOP_EOG;
            break;
        }
        sampler_accept(s, id);
        sb_clear(&piece);
        tok_stream_push(&ts, id, &piece);
        textout_push(&t, piece.data ? piece.data : "", piece.len, false);
        if (t.stopped) {
            st->stop = t.matched ? GEN_STOP_STRING : GEN_STOP_CALLBACK;
            break;
        }
        if (n + 1 == o->n_predict)
            break;
        if (fwd_n_past(c) >= fwd_n_ctx(c)) {
            st->stop = GEN_STOP_CONTEXT;
            break;
        }
        frc = fwd_eval(c, &id, 1, false, logits, o->cancel);
        if (frc == FWD_ECANCELLED) {
            st->stop = GEN_STOP_CANCELLED;
            break;
        }
        if (frc != FWD_OK) {
            st->stop = GEN_STOP_CONTEXT;
            break;
        }
    }
    if (st->gen_tokens > 1) {
        st->decode_ms = (util_now() - t_first) * 1e3;
        if (st->decode_ms > 0)
            st->decode_tps = (st->gen_tokens - 1) / (st->decode_ms / 1e3);
    }
done:
    if (!t.stopped) {
        sb_clear(&piece);
        tok_stream_flush(&ts, &piece);
        textout_push(&t, piece.data ? piece.data : "", piece.len, true);
    }
    st->total_ms = (util_now() - t0) * 1e3;
    textout_free(&t);
    sb_free(&piece);
    free(logits);
    free(scratch);
    return rc;
}
