/*
 * generate.c — the generation loop (see generate.h).
 *
 * Stop strings: decoded text is held in `pending` until it cannot be the
 * beginning of a stop string; text that completes one is cut there.
 */
#include "engine/generate.h"

#include "util/util.h"

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

typedef struct {
    const gen_opts *o;
    strbuf pending;
    bool stopped; /* a stop string matched, or on_text said stop */
    bool matched;
} text_out;

static bool emit(text_out *t, const char *s, size_t n)
{
    if (n == 0 || !t->o->on_text)
        return true;
    if (!t->o->on_text(t->o->ud, s, n)) {
        t->stopped = true;
        return false;
    }
    return true;
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop. */
static size_t stop_prefix_tail(const gen_opts *o, const char *s, size_t n)
{
    size_t best = 0;
    for (size_t k = 0; k < o->n_stops; k++) {
        size_t sl = strlen(o->stops[k]);
        if (sl == 0)
            continue;
        for (size_t l = sl > n ? n : sl - 1; l > best; l--)
            if (memcmp(s + n - l, o->stops[k], l) == 0) {
                best = l;
                break;
            }
    }
    return best;
}

static void push_text(text_out *t, const char *s, size_t n, bool final)
{
    if (t->stopped)
        return;
    sb_append(&t->pending, s, n);
    const char *p = t->pending.data;
    size_t len = t->pending.len;
    /* the earliest complete stop string wins */
    size_t cut = len;
    for (size_t k = 0; k < t->o->n_stops; k++) {
        size_t sl = strlen(t->o->stops[k]);
        if (!sl)
            continue;
        const char *hit = memmem(p, len, t->o->stops[k], sl);
        if (hit && (size_t)(hit - p) < cut)
            cut = (size_t)(hit - p);
    }
    if (cut < len) {
        emit(t, p, cut);
        t->stopped = t->matched = true;
        return;
    }
    size_t keep = final ? 0 : stop_prefix_tail(t->o, p, len);
    if (!emit(t, p, len - keep))
        return;
    memmove(t->pending.data, p + len - keep, keep);
    t->pending.len = keep;
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
    text_out t = {.o = o};
    sb_append(&t.pending, "", 0);
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
        int32_t id = sampler_sample(s, logits);
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
        push_text(&t, piece.data ? piece.data : "", piece.len, false);
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
        push_text(&t, piece.data ? piece.data : "", piece.len, true);
    }
    st->total_ms = (util_now() - t0) * 1e3;
    sb_free(&t.pending);
    sb_free(&piece);
    free(logits);
    return rc;
}
