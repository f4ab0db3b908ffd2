/*
 * sampler.h — choosing the next token from logits.
 *
 * The chain, in order: repetition penalty over the last N accepted tokens,
 * top-k, top-p (nucleus), min-p, temperature, then a draw from a seeded
 * generator.  A temperature <= 0 is greedy: the highest logit after the
 * penalty, the lowest id on a tie.  The same seed and the same logits give
 * the same choices.  All buffers are sized in sampler_new; sampling
 * allocates nothing.
 */
#ifndef FRONTDESK_SAMPLER_H
#define FRONTDESK_SAMPLER_H

#include <stdint.h>

typedef struct {
    float temp;           /* 0 = greedy; default 0.8                       */
    int top_k;            /* 0 = off; default 40                           */
    float top_p;          /* 1 = off; default 0.95                         */
    float min_p;          /* 0 = off; default 0.05                         */
    float repeat_penalty; /* 1 = off (the default)                          */
    int repeat_last_n;    /* tokens the penalty looks back over; 64        */
    uint64_t seed;
} sampler_params;

/* The defaults above (seed 0). */
sampler_params sampler_defaults(void);

typedef struct sampler sampler;

sampler *sampler_new(const sampler_params *p, int n_vocab);
void sampler_free(sampler *s); /* accepts NULL */
/* Forget the penalty history and re-seed. */
void sampler_reset(sampler *s);
/* Record a token of the context (prompt or generated) for the penalty. */
void sampler_accept(sampler *s, int32_t id);
/* Choose a token; `logits` (n_vocab) is used as scratch and modified. */
int32_t sampler_sample(sampler *s, float *logits);

#endif
