/*
 * worker.h — the generation thread behind the TUI.
 *
 * One reply at a time: the UI thread submits (conversation, reply to
 * replace) and keeps drawing; the worker, on its own database connection,
 * starts the reply and request rows, builds the prompt from the
 * conversation's active thread (dropping the oldest turns when it does
 * not fit), streams tokens into a buffer the UI copies with worker_poll,
 * saves the text as it grows, and completes both rows — ok, cancelled
 * (worker_cancel, Esc) or error.
 */
#ifndef FRONTDESK_WORKER_H
#define FRONTDESK_WORKER_H

#include "app/config.h"
#include "engine/model.h"
#include "net/remote.h"
#include "engine/tokenizer.h"
#include "storage/metrics.h"

typedef struct worker worker;

/* Start the thread.  Each reply goes to the version the deployment routes
 * its conversation to (app/deploy.h; loaded on first use), unless pinned
 * (the backend below was given on the command line: arm "pinned") or
 * nothing is deployed; then to this backend.  Local: a loaded model (not
 * owned; may be NULL when remote is set or a deployment decides) recorded
 * as local_id.  Remote (may be NULL): a server,
 * recorded as remote_id; with fallback a failed remote reply is answered
 * by the local model (two request rows).  NULL with a message on failure. */
worker *worker_start(const char *db_path, const model *m, const tok_vocab *v, int64_t local_id,
                     const remote_opts *remote, int64_t remote_id, bool fallback, bool pinned, const config *cfg,
                     char *err, size_t errlen);
/* Stop (cancelling any reply) and join; accepts NULL. */
void worker_stop(worker *w);

/* Generate a reply at the end of conv's active thread (replaces > 0:
 * regenerate that reply).  False when a reply is already running. */
bool worker_submit(worker *w, int64_t conv, int64_t replaces);
void worker_cancel(worker *w);

typedef struct {
    bool busy;           /* a reply is queued or streaming             */
    int64_t conv;        /* its conversation                           */
    int64_t message;     /* its message id, once created (else 0)      */
    char *text;          /* the text so far (caller frees; may be NULL) */
    double live_tps;     /* decode tokens/s so far                     */
    int dropped;         /* turns left out to fit the context          */
    bool finished;       /* a reply ended since the last poll          */
    db_outcome outcome;  /* ... how                                     */
    char error[512];     /* ... and why, when it failed                 */
    char version[200];   /* "NAME (arm)" answering, when routed         */
    char guard[300];     /* the guard stopped the canary: why (once)    */
} worker_state;

/* Copy the current state; clears `finished`. */
void worker_poll(worker *w, worker_state *s);

#endif
