/*
 * batch.h — continuous batching: several replies generated together.
 *
 * A scheduler thread owns one multi-sequence context (fwd_new_multi: a
 * region of the KV cache per slot).  Each step it
 *   1. admits queued jobs into free slots (first come, first served);
 *   2. evaluates the next chunk (at most prefill_chunk tokens) of one slot
 *      still reading its prompt, the slots taking turns — so a long prompt
 *      holds the others' streams up for one chunk at a time, never longer;
 *   3. evaluates the next token of every slot that is generating, all in
 *      one pass (fwd_decode_seqs: each weight row read once per step).
 * A slot's logits are bit for bit those of evaluating its prompt in the
 * same chunks and then its tokens one at a time alone: what runs beside
 * it changes nothing but the time it takes.
 *
 * Sampling, stop strings and UTF-8 boundaries are as gen_run's (the same
 * sampler, engine/textout.h).  The callbacks run on the scheduler thread:
 * they must be quick (copy the text somewhere and signal).
 */
#ifndef FRONTDESK_BATCH_H
#define FRONTDESK_BATCH_H

#include "engine/generate.h"
#include "engine/model.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct batch batch;
typedef struct batch_job batch_job;

typedef struct {
    int n_parallel;    /* slots (sequences generated together), 1..FWD_BATCH */
    int n_ctx;         /* positions of each slot                              */
    int n_threads;
    int max_queue;     /* jobs waiting for a slot; beyond it batch_submit refuses */
    int prefill_chunk; /* prompt tokens per step; 0: 64                        */
} batch_opts;

/* How a job ended. */
typedef struct {
    gen_stats st;     /* as gen_run's; ttft_ms from the submission, queue included */
    double queue_ms;  /* submission → a slot                                      */
    int rc;           /* 0, or -1 with error (the prompt could not be evaluated) */
    char error[256];
} batch_result;

typedef struct {
    const int32_t *prompt; /* copied */
    int n_prompt;
    sampler_params sampling;
    int n_predict;          /* tokens at most (EOG included)                      */
    const char *const *stops; /* copied */
    size_t n_stops;
    bool ignore_eos;        /* never end at an end-of-generation token (benchmarks) */
    /* Streamed text, whole UTF-8 characters; false stops the job
     * (GEN_STOP_CALLBACK). */
    bool (*on_text)(void *ud, const char *text, size_t len);
    /* Every sampled id, end-of-generation included (may be NULL). */
    void (*on_token)(void *ud, int32_t id);
    /* Exactly once, last; the job may be released from here on. */
    void (*on_done)(void *ud, const batch_result *r);
    void *ud;
} batch_req;

enum {
    BATCH_OK = 0,
    BATCH_EQUEUE = -1,   /* every slot busy and the queue full            */
    BATCH_ETOOLONG = -2, /* the prompt does not fit a slot's context      */
    BATCH_ESTOPPED = -3, /* the scheduler is stopping                     */
    BATCH_EEMPTY = -4,   /* an empty prompt                               */
};

/* Start the scheduler thread.  NULL with a message when the context or
 * the thread cannot be had. */
batch *batch_new(const model *m, const tok_vocab *v, const batch_opts *o, char *err, size_t errlen);

/* Queue a job.  BATCH_OK: *job is the caller's handle (release it with
 * batch_release after on_done); otherwise nothing was queued and no
 * callback will come. */
int batch_submit(batch *b, const batch_req *rq, batch_job **job);

/* Ask a job to stop (any thread, any time before release); on_done
 * follows with GEN_STOP_CANCELLED within a step. */
void batch_cancel(batch_job *j);
/* Free a job; only after its on_done. */
void batch_release(batch_job *j);

typedef struct {
    int running;     /* jobs in slots                               */
    int queued;      /* jobs waiting                                */
    int n_parallel;
    long kv_used;    /* positions filled over every slot            */
    long kv_size;    /* n_parallel × n_ctx                          */
} batch_load;
void batch_get_load(batch *b, batch_load *l);

/* Stop accepting jobs, cancel the queued ones, let the running ones go on
 * for at most grace_s seconds, cancel what is left, and join the thread.
 * Every job gets its on_done before this returns. */
void batch_stop(batch *b, double grace_s);
void batch_free(batch *b); /* stops first (grace 0) if needed; NULL ok */

#endif
