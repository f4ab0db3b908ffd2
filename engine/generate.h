/*
 * generate.h — one reply: evaluate a prompt, then sample and stream tokens
 * until an end-of-generation token, a stop string, the length limit, a
 * full context or cancellation.
 *
 * Text reaches the caller through on_text in complete UTF-8 characters
 * (never half of one), with any stop string and what follows it withheld.
 * Timings follow the reference's definitions: prefill is the prompt's
 * evaluation, time to first token runs from the call to the first sampled
 * token, decode covers the evaluations of the tokens after it.
 */
#ifndef FRONTDESK_GENERATE_H
#define FRONTDESK_GENERATE_H

#include "engine/forward.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    GEN_STOP_EOG,       /* the model ended its turn                       */
    GEN_STOP_STRING,    /* a stop string appeared                         */
    GEN_STOP_LENGTH,    /* n_predict tokens were generated                */
    GEN_STOP_CONTEXT,   /* the context is full                            */
    GEN_STOP_CANCELLED, /* *cancel was set                                */
    GEN_STOP_CALLBACK,  /* on_text asked to stop                          */
} gen_stop;

typedef struct {
    int n_predict;            /* maximum tokens to generate (EOG included)  */
    const char *const *stops; /* stop strings (may be NULL)                 */
    size_t n_stops;
    const atomic_bool *cancel; /* polled between tokens and layers          */
    /* Streamed text; return false to stop generating. */
    bool (*on_text)(void *ud, const char *text, size_t len);
    /* Every generated id, EOG included (may be NULL). */
    void (*on_token)(void *ud, int32_t id);
    void *ud;
} gen_opts;

typedef struct {
    int prompt_tokens, gen_tokens;
    double prefill_ms;  /* prompt evaluation                               */
    double ttft_ms;     /* call → first token sampled                      */
    double decode_ms;   /* evaluations of the tokens after the first       */
    double total_ms;
    double prefill_tps, decode_tps; /* 0 when there was nothing to time   */
    gen_stop stop;
    /* The sampled tokens' log-probabilities (see above): their sum, the
     * lowest, and how many; 0, 0 and 0 when no token was sampled.  The
     * mean is logprob_sum / n_logprob. */
    double logprob_sum, logprob_min;
    int n_logprob;
} gen_stats;

const char *gen_stop_name(gen_stop s);

/* log softmax(logits)[id] over logits[0..n): logits[id] minus the
 * log-sum-exp of the row, the largest logit subtracted first and the sum
 * taken in double (one pass over the row).  -INFINITY when the row's
 * largest logit is -INFINITY or id is one of -INFINITY. */
double gen_logprob(const float *logits, int n, int32_t id);
/* Count one sampled token of log-probability lp into st. */
void gen_stats_add_logprob(gen_stats *st, double lp);

/* Generate a reply to prompt[0..n_prompt) in context c, which is emptied
 * first.  Returns 0, or -1 with a message (prompt longer than the context,
 * a token outside the vocabulary); the stats are filled either way. */
int gen_run(fwd_ctx *c, const model *m, const tok_vocab *v, sampler *s, const int32_t *prompt,
            int n_prompt, const gen_opts *o, gen_stats *st, char *err, size_t errlen);

#endif
