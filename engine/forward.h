/*
 * forward.h — evaluating tokens through a loaded model.
 *
 * A fwd_ctx owns the KV cache and every scratch buffer, sized once in
 * fwd_new for a context of n_ctx positions; fwd_eval allocates nothing.
 * Tokens are evaluated in batches: the prompt goes through matrix ×
 * matrix products (each thread converts its rows of a weight to F32 a
 * cache-sized tile at a time and multiplies them with a single-threaded
 * OpenBLAS sgemm) and attention as matrix products; a single generated
 * token goes through matrix × vector kernels that read the weights in
 * their stored type, rows split across the threads.  fwd_new sets
 * OpenBLAS to one thread for the whole process: the engine's own pool does
 * the splitting, and OpenBLAS's threads would spin on the same cores.
 */
#ifndef FRONTDESK_FORWARD_H
#define FRONTDESK_FORWARD_H

#include "engine/model.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct fwd_ctx fwd_ctx;

/* The largest head size the engine runs (model_load refuses larger). */
#define FWD_MAX_HEAD_DIM 512

enum {
    FWD_OK = 0,
    FWD_EFULL = -1,      /* the context has no room for the tokens        */
    FWD_ETOKEN = -2,     /* a token id outside the vocabulary             */
    FWD_ECANCELLED = -3, /* *cancel was set during evaluation             */
    FWD_ESEQ = -4,       /* no such sequence, or one named twice          */
};

/* A context for n_ctx positions using n_threads threads (>= 1).  Returns
 * NULL with a message when memory or threads cannot be had. */
fwd_ctx *fwd_new(const model *m, int n_ctx, int n_threads, char *err, size_t errlen);
/* A context of n_seq sequences (at most FWD_BATCH), each with n_ctx
 * positions of its own in one KV cache.  fwd_new is one sequence. */
fwd_ctx *fwd_new_multi(const model *m, int n_seq, int n_ctx, int n_threads, char *err, size_t errlen);
void fwd_free(fwd_ctx *c); /* accepts NULL */

int fwd_n_ctx(const fwd_ctx *c);
/* Positions filled so far (the next token goes at this position). */
int fwd_n_past(const fwd_ctx *c);
/* Forget positions >= n_past (0 empties the cache). */
void fwd_truncate(fwd_ctx *c, int n_past);

/* Evaluate tokens[0..n) at positions n_past..n_past+n-1.  Writes the
 * logits (n_vocab floats per token) into `logits`: for every token when
 * all_logits, else only for the last.  `cancel`, when not NULL, is polled
 * between layers.  Returns FWD_OK or a FWD_E* status (the cache is then
 * left as it was before the call). */
int fwd_eval(fwd_ctx *c, const int32_t *tokens, int n, bool all_logits, float *logits,
             const atomic_bool *cancel);

/* The largest batch of one call: fwd_eval splits longer prompts itself. */
#define FWD_BATCH 256

/* Several sequences: fwd_eval and fwd_n_past / fwd_truncate are sequence
 * 0's; these name the sequence (FWD_ESEQ for one out of range). */
int fwd_n_seq(const fwd_ctx *c);
int fwd_seq_past(const fwd_ctx *c, int seq);
void fwd_seq_truncate(fwd_ctx *c, int seq, int n_past);
int fwd_eval_seq(fwd_ctx *c, int seq, const int32_t *tokens, int n, bool all_logits, float *logits,
                 const atomic_bool *cancel);

/* One token for each of n different sequences (n <= FWD_BATCH), each at
 * its own next position, in one pass: each weight row is read once and
 * dotted with every token (the decode kernels' dot products), then each
 * sequence attends over its own cache.  logits gets n rows of n_vocab.  A
 * sequence's logits are bit for bit those of evaluating its tokens one at
 * a time alone, whatever the others are.  Nothing changes on an error. */
int fwd_decode_seqs(fwd_ctx *c, int n, const int *seqs, const int32_t *tokens, float *logits);

#endif
