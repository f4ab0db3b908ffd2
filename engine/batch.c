/*
 * batch.c — the continuous-batching scheduler (see batch.h).
 *
 * The mutex guards the queue, the slot table's membership and the
 * counters; evaluation and sampling run without it, on the scheduler
 * thread only, which alone touches a job's generation state.  A job's
 * life: queued → in a slot reading its prompt (PREFILL) → generating
 * (DECODE) → finished: its slot freed, on_done called outside the lock.
 */
#include "engine/batch.h"

#include "engine/forward.h"
#include "engine/textout.h"
#include "util/util.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef enum { J_QUEUED, J_PREFILL, J_DECODE, J_DONE } job_state;

struct batch_job {
    batch_req rq;        /* prompt and stops point into the copies below  */
    int32_t *prompt;
    char **stops;
    atomic_bool cancel;
    job_state state;
    int slot;
    int n_fed;           /* prompt tokens evaluated so far                 */
    int32_t next;        /* DECODE: the token to evaluate next             */
    sampler *smp;
    tok_stream ts;
    textout out;
    strbuf piece;
    double t_submit, t_admit, t_prefilled, t_first;
    batch_result res;
    batch_job *qnext;
};

struct batch {
    const model *m;
    const tok_vocab *v;
    batch_opts o;
    fwd_ctx *ctx;
    int32_t *eog;        /* end-of-generation ids (ignore_eos masks them) */
    size_t n_eog;
    float *logits;       /* n_parallel rows of n_vocab                    */
    float *scratch;      /* n_vocab: the row the sampler changes          */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch_job *qhead, *qtail;
    int n_queued;
    batch_job **slots;   /* n_parallel; NULL = free                        */
    int n_active;
    int rr;              /* the slot whose prompt goes next                */
    long kv_used;
    bool stopping;
    double deadline;
};

/* ---- Jobs -------------------------------------------------------------------- */

static bool on_text(void *ud, const char *text, size_t len)
{
    batch_job *j = ud;
    return j->rq.on_text ? j->rq.on_text(j->rq.ud, text, len) : true;
}

static batch_job *job_new(const batch_req *rq)
{
    batch_job *j = xcalloc(1, sizeof *j);
    j->rq = *rq;
    j->prompt = xmallocarray((size_t)rq->n_prompt, sizeof *j->prompt);
    memcpy(j->prompt, rq->prompt, (size_t)rq->n_prompt * sizeof *j->prompt);
    j->rq.prompt = j->prompt;
    if (rq->n_stops) {
        j->stops = xcalloc(rq->n_stops, sizeof *j->stops);
        for (size_t i = 0; i < rq->n_stops; i++)
            j->stops[i] = xstrdup(rq->stops[i] ? rq->stops[i] : "");
    }
    j->rq.stops = (const char *const *)j->stops;
    atomic_init(&j->cancel, false);
    j->state = J_QUEUED;
    j->slot = -1;
    j->res.st.prompt_tokens = rq->n_prompt;
    j->res.st.stop = GEN_STOP_LENGTH;
    textout_init(&j->out, j->rq.stops, j->rq.n_stops, on_text, j);
    return j;
}

void batch_release(batch_job *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->rq.n_stops; i++)
        free(j->stops[i]);
    free(j->stops);
    free(j->prompt);
    sampler_free(j->smp);
    textout_free(&j->out);
    sb_free(&j->piece);
    free(j);
}

void batch_cancel(batch_job *j)
{
    if (j)
        atomic_store(&j->cancel, true);
}

/* The figures of a finished job, as gen_run defines them. */
static void job_figures(batch_job *j, double now)
{
    gen_stats *st = &j->res.st;
    if (j->t_admit > 0)
        j->res.queue_ms = (j->t_admit - j->t_submit) * 1e3;
    else
        j->res.queue_ms = (now - j->t_submit) * 1e3;
    if (j->t_prefilled > 0) {
        st->prefill_ms = (j->t_prefilled - j->t_admit) * 1e3;
        if (st->prefill_ms > 0)
            st->prefill_tps = j->rq.n_prompt / (st->prefill_ms / 1e3);
    }
    if (st->gen_tokens >= 1)
        st->ttft_ms = (j->t_first - j->t_submit) * 1e3;
    if (st->gen_tokens > 1) {
        st->decode_ms = (now - j->t_first) * 1e3;
        if (st->decode_ms > 0)
            st->decode_tps = (st->gen_tokens - 1) / (st->decode_ms / 1e3);
    }
    st->total_ms = (now - j->t_submit) * 1e3;
}

/* End a job: flush its text, free its slot, tell its owner.  Scheduler
 * thread, without the lock. */
static void finish(batch *b, batch_job *j, gen_stop why)
{
    j->res.st.stop = why;
    if (!j->out.stopped && j->state != J_QUEUED) {
        sb_clear(&j->piece);
        tok_stream_flush(&j->ts, &j->piece);
        textout_push(&j->out, j->piece.data ? j->piece.data : "", j->piece.len, true);
    }
    job_figures(j, util_now());
    pthread_mutex_lock(&b->mu);
    if (j->slot >= 0) {
        b->slots[j->slot] = NULL;
        b->n_active--;
    }
    pthread_mutex_unlock(&b->mu);
    j->state = J_DONE;
    j->rq.on_done(j->rq.ud, &j->res); /* j may be released from here on */
}

/* ---- Sampling one token --------------------------------------------------------- */

/* Sample from a row of logits and take the token.  The sampler works on a
 * copy (ignore_eos masks it too): the row stays the model's, for the
 * token's log-probability (generate.h).  Returns false when the job has
 * ended (finish was called). */
static bool take_token(batch *b, batch_job *j, const float *logits)
{
    int n_vocab = (int)b->m->n_vocab;
    memcpy(b->scratch, logits, (size_t)n_vocab * sizeof *logits);
    if (j->rq.ignore_eos)
        for (size_t i = 0; i < b->n_eog; i++)
            b->scratch[b->eog[i]] = -INFINITY;
    int32_t id = sampler_sample(j->smp, b->scratch);
    gen_stats *st = &j->res.st;
    gen_stats_add_logprob(st, gen_logprob(logits, n_vocab, id));
    st->gen_tokens++;
    if (st->gen_tokens == 1)
        j->t_first = util_now();
    if (j->rq.on_token)
        j->rq.on_token(j->rq.ud, id);
    if (!j->rq.ignore_eos && tok_is_eog(b->v, id)) {
        finish(b, j, GEN_STOP_EOG);
        return false;
    }
    sampler_accept(j->smp, id);
    sb_clear(&j->piece);
    tok_stream_push(&j->ts, id, &j->piece);
    textout_push(&j->out, j->piece.data ? j->piece.data : "", j->piece.len, false);
    if (j->out.stopped) {
        finish(b, j, j->out.matched ? GEN_STOP_STRING : GEN_STOP_CALLBACK);
        return false;
    }
    if (st->gen_tokens >= j->rq.n_predict) {
        finish(b, j, GEN_STOP_LENGTH);
        return false;
    }
    if (fwd_seq_past(b->ctx, j->slot) >= b->o.n_ctx) {
        finish(b, j, GEN_STOP_CONTEXT);
        return false;
    }
    j->next = id;
    j->state = J_DECODE;
    return true;
}

/* ---- One step ------------------------------------------------------------------- */

/* The next chunk of one slot's prompt (the slots take turns); false when
 * no slot is reading its prompt. */
static bool prefill_step(batch *b)
{
    batch_job *j = NULL;
    for (int k = 0; k < b->o.n_parallel && !j; k++) {
        int s = (b->rr + k) % b->o.n_parallel;
        if (b->slots[s] && b->slots[s]->state == J_PREFILL) {
            j = b->slots[s];
            b->rr = (s + 1) % b->o.n_parallel;
        }
    }
    if (!j)
        return false;
    int n = j->rq.n_prompt - j->n_fed;
    if (n > b->o.prefill_chunk)
        n = b->o.prefill_chunk;
    int rc = fwd_eval_seq(b->ctx, j->slot, j->prompt + j->n_fed, n, false, b->logits, &j->cancel);
    if (rc == FWD_ECANCELLED) {
        finish(b, j, GEN_STOP_CANCELLED);
        return true;
    }
    if (rc != FWD_OK) {
        j->res.rc = -1;
        util_errf(j->res.error, sizeof j->res.error, "evaluating the prompt failed (%s)",
                  rc == FWD_ETOKEN ? "token outside the vocabulary" : "context full");
        finish(b, j, GEN_STOP_CONTEXT);
        return true;
    }
    j->n_fed += n;
    if (j->n_fed == j->rq.n_prompt) {
        j->t_prefilled = util_now();
        take_token(b, j, b->logits);
    }
    return true;
}

/* The next token of every generating slot, in one pass. */
static void decode_step(batch *b)
{
    int seqs[FWD_BATCH];
    int32_t toks[FWD_BATCH];
    batch_job *jobs[FWD_BATCH];
    int n = 0;
    for (int s = 0; s < b->o.n_parallel; s++) {
        batch_job *j = b->slots[s];
        if (j && j->state == J_DECODE) {
            jobs[n] = j;
            seqs[n] = s;
            toks[n++] = j->next;
        }
    }
    if (n == 0)
        return;
    int rc = fwd_decode_seqs(b->ctx, n, seqs, toks, b->logits);
    for (int i = 0; i < n; i++) {
        if (rc != FWD_OK) {
            finish(b, jobs[i], GEN_STOP_CONTEXT);
            continue;
        }
        take_token(b, jobs[i], b->logits + (size_t)i * b->m->n_vocab);
    }
}

/* Move queued jobs into free slots.  Called with the lock held. */
static void admit(batch *b)
{
    for (int s = 0; s < b->o.n_parallel && b->qhead; s++) {
        if (b->slots[s])
            continue;
        batch_job *j = b->qhead;
        b->qhead = j->qnext;
        if (!b->qhead)
            b->qtail = NULL;
        b->n_queued--;
        j->slot = s;
        j->state = J_PREFILL;
        j->t_admit = util_now();
        b->slots[s] = j;
        b->n_active++;
        fwd_seq_truncate(b->ctx, s, 0);
        j->smp = sampler_new(&j->rq.sampling, (int)b->m->n_vocab);
        for (int i = 0; i < j->rq.n_prompt; i++)
            sampler_accept(j->smp, j->prompt[i]);
        tok_stream_init(&j->ts, b->v);
    }
}

static void *run(void *arg)
{
    batch *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        admit(b);
        if (b->n_active == 0) {
            if (b->stopping && !b->qhead)
                break;
            pthread_cond_wait(&b->cv, &b->mu);
            continue;
        }
        bool expired = b->stopping && util_now() >= b->deadline;
        pthread_mutex_unlock(&b->mu);

        for (int s = 0; s < b->o.n_parallel; s++) {
            batch_job *j = b->slots[s]; /* only this thread changes a slot's job */
            if (j && (expired || atomic_load(&j->cancel)))
                finish(b, j, GEN_STOP_CANCELLED);
        }
        /* Nobody generating, nobody to hold up: every prompt in a slot
         * is read to its end (in chunks, taking turns) before the first
         * decode step, so they all start generating together.  Otherwise
         * one chunk of one prompt per step. */
        bool decoding = false;
        for (int s = 0; s < b->o.n_parallel && !decoding; s++)
            decoding = b->slots[s] && b->slots[s]->state == J_DECODE;
        if (decoding)
            prefill_step(b);
        else
            while (prefill_step(b))
                ;
        decode_step(b);

        long used = 0;
        for (int s = 0; s < b->o.n_parallel; s++)
            if (b->slots[s])
                used += fwd_seq_past(b->ctx, s);
        pthread_mutex_lock(&b->mu);
        b->kv_used = used;
    }
    b->kv_used = 0;
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- The scheduler's life ---------------------------------------------------------- */

batch *batch_new(const model *m, const tok_vocab *v, const batch_opts *o, char *err, size_t errlen)
{
    if (o->n_parallel < 1 || o->n_parallel > FWD_BATCH || o->n_ctx < 2 || o->max_queue < 0) {
        util_errf(err, errlen, "parallel must be 1-%d and the context at least 2", FWD_BATCH);
        return NULL;
    }
    batch *b = xcalloc(1, sizeof *b);
    b->m = m;
    b->v = v;
    b->o = *o;
    if (b->o.prefill_chunk <= 0)
        b->o.prefill_chunk = 64;
    b->ctx = fwd_new_multi(m, o->n_parallel, o->n_ctx, o->n_threads > 0 ? o->n_threads : 1, err, errlen);
    if (!b->ctx) {
        free(b);
        return NULL;
    }
    int32_t nv = tok_n_vocab(v) < (int32_t)m->n_vocab ? tok_n_vocab(v) : (int32_t)m->n_vocab;
    for (int32_t id = 0; id < nv; id++)
        if (tok_is_eog(v, id)) {
            b->eog = xreallocarray(b->eog, b->n_eog + 1, sizeof *b->eog);
            b->eog[b->n_eog++] = id;
        }
    b->logits = xmallocarray((size_t)o->n_parallel * m->n_vocab, sizeof *b->logits);
    b->scratch = xmallocarray(m->n_vocab, sizeof *b->scratch);
    b->slots = xcalloc((size_t)o->n_parallel, sizeof *b->slots);
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (pthread_create(&b->thread, NULL, run, b) != 0) {
        util_errf(err, errlen, "cannot start the scheduler thread");
        batch_free(b);
        return NULL;
    }
    b->started = true;
    return b;
}

int batch_submit(batch *b, const batch_req *rq, batch_job **job)
{
    *job = NULL;
    if (rq->n_prompt <= 0)
        return BATCH_EEMPTY;
    if (rq->n_prompt >= b->o.n_ctx)
        return BATCH_ETOOLONG;
    pthread_mutex_lock(&b->mu);
    int free_slots = b->o.n_parallel - b->n_active;
    int waiting = b->n_queued - free_slots; /* those that will not get a slot now */
    int rc = b->stopping ? BATCH_ESTOPPED : waiting >= b->o.max_queue ? BATCH_EQUEUE : BATCH_OK;
    if (rc == BATCH_OK) {
        batch_job *j = job_new(rq);
        j->t_submit = util_now();
        if (b->qtail)
            b->qtail->qnext = j;
        else
            b->qhead = j;
        b->qtail = j;
        b->n_queued++;
        *job = j;
        pthread_cond_signal(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

void batch_get_load(batch *b, batch_load *l)
{
    pthread_mutex_lock(&b->mu);
    l->running = b->n_active;
    l->queued = b->n_queued;
    l->n_parallel = b->o.n_parallel;
    l->kv_used = b->kv_used;
    l->kv_size = (long)b->o.n_parallel * b->o.n_ctx;
    pthread_mutex_unlock(&b->mu);
}

void batch_stop(batch *b, double grace_s)
{
    pthread_mutex_lock(&b->mu);
    bool was = b->stopping;
    b->stopping = true;
    b->deadline = util_now() + (grace_s > 0 ? grace_s : 0);
    batch_job *q = b->qhead;
    b->qhead = b->qtail = NULL;
    b->n_queued = 0;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    while (q) { /* never started: cancelled */
        batch_job *next = q->qnext;
        q->res.st.stop = GEN_STOP_CANCELLED;
        job_figures(q, util_now());
        q->state = J_DONE;
        q->rq.on_done(q->rq.ud, &q->res);
        q = next;
    }
    if (b->started && !was) {
        pthread_join(b->thread, NULL);
        b->started = false;
    }
}

void batch_free(batch *b)
{
    if (!b)
        return;
    if (b->started)
        batch_stop(b, 0);
    fwd_free(b->ctx);
    free(b->eog);
    free(b->logits);
    free(b->scratch);
    free(b->slots);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
}
