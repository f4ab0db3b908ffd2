/*
 * remote.h — a reply from an OpenAI-compatible server (llama.cpp's
 * llama-server, vLLM, Ollama, TGI, ...) over libcurl, streamed and measured
 * like the local engine.
 *
 * remote_chat POSTs {base_url}/chat/completions with "stream": true and
 * "stream_options": {"include_usage": true}, reads the Server-Sent Events
 * incrementally and hands choices[0].delta.content to on_text as it
 * arrives.  A server that ignores "stream" and answers one
 * application/json chat.completion is accepted too (its text arrives in
 * one piece).  remote_models lists {base_url}/models.
 *
 * The event stream is read by net/sse.h (one event, and one line, at most
 * 1 MiB); the event "[DONE]" ends the reply.  Each other event is a JSON
 * chunk read by net/openai.h: "choices"[0]."delta"."content" (string or
 * null), "choices"[0]."finish_reason", "choices"[0]."logprobs"."content"
 * (each token's "logprob"), "usage"."prompt_tokens"/
 * "completion_tokens", "model", and "error" (a server failing
 * mid-stream).  A field of the wrong type is an error naming it; unknown
 * fields are ignored.  The request body is openai.h's too.
 *
 * Text reaches on_text in complete UTF-8 characters: events are decoded
 * only once whole (however the bytes were split across reads), and jansson
 * rejects a string that is not valid UTF-8.
 *
 * Outcomes and retries.  A reply is REMOTE_OK only when the stream ended
 * properly: "[DONE]", or a finish_reason before the body ended.  Attempts
 * are retried — at most opts.retries more times — only for a connection
 * failure (refused, unresolved, reset, connect timeout, empty reply), HTTP
 * 429 and HTTP 5xx, and only while no content has reached on_text; never
 * after it (a half-streamed reply is an error, and the text already
 * delivered stays the caller's).  Other 4xx, TLS certificate failures,
 * invalid JSON and the first-token/idle/total timeouts are not retried.
 * The wait before retry n (n = 1, 2, ...) is backoff_base_ms · 2^(n-1),
 * jittered uniformly into [½, 1] of that; after a 429 (or 5xx) with
 * "Retry-After: <seconds>" it is at least that long, capped at
 * retry_after_max_ms (an HTTP-date Retry-After is ignored).  No retry
 * starts when its wait would run past the total timeout.  A 200 that is
 * a web page (text/html) is an error naming it, not a stream.
 *
 * Timeouts and cancellation.  The transfer runs on a private curl multi
 * handle driven by curl_multi_poll with a 20 ms timeout; between polls the
 * loop checks *cancel and the deadlines, so Esc and the timeouts act
 * within ~20 ms even while the server is silent (libcurl's progress
 * callback would only be called about once a second on an idle
 * connection).  Retry waits sleep in 20 ms steps for the same reason.
 *   connect      CURLOPT_CONNECTTIMEOUT_MS, per attempt (retried);
 *   first token  from an attempt's start to the first content byte; keep-
 *                alive comments do not extend it;
 *   idle         after the first content byte, the longest silence (no
 *                bytes at all; keep-alives count as life) before the end;
 *   total        from the call to the end, retry waits included.
 * For a body that is not an event stream (an error body, a JSON answer,
 * the model list) "first token" means its first byte.  0 disables one.
 *
 * Figures (remote_result).  ttft_ms runs from the call — so it includes
 * failed attempts and retry waits, as the user experienced it — to the
 * first content byte.  decode_tps = (completion_tokens - 1) / seconds from
 * the first to the last content byte: the tokens after the first over the
 * time after the first, as the local engine reports decode.  Token counts
 * come only from the server's "usage"; without it they stay -1 and
 * decode_tps unknown (-1): nothing is estimated.
 *
 * Secrets.  api_key goes out only as "Authorization: Bearer <key>".  It is
 * never logged, and every message this module writes has any occurrence
 * of it (e.g. echoed in a server's 401 body) replaced by "[redacted]", as
 * has a "user:password@" in the URL.  TLS peer and host verification stay
 * on; only http and https URLs are followed, redirects are not.
 *
 * Threads.  curl_global_init runs once (pthread_once) on first use; calls
 * share nothing, so any thread (the TUI worker) may call them, several at
 * once.
 */
#ifndef FRONTDESK_REMOTE_H
#define FRONTDESK_REMOTE_H

#include "net/openai.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- Where and how to talk -------------------------------------------------- */

typedef struct {
    const char *base_url;       /* e.g. "http://127.0.0.1:8080/v1" (a trailing '/' is fine) */
    const char *model;          /* "model" field; NULL: not sent (llama-server ignores it) */
    const char *api_key;        /* Bearer token; NULL or "": no Authorization header */
    long connect_timeout_ms;    /* 5000                                           */
    long first_token_timeout_ms; /* 60000                                         */
    long idle_timeout_ms;       /* 30000                                          */
    long total_timeout_ms;      /* 300000                                         */
    int retries;                /* 2, so 3 attempts                               */
    long backoff_base_ms;       /* 250                                            */
    long retry_after_max_ms;    /* 30000: cap on a server's Retry-After           */
} remote_opts;

/* The defaults above (base_url, model and api_key NULL). */
remote_opts remote_defaults(void);

/* ---- What to ask -------------------------------------------------------------- */

/* The messages, sampling settings, limit and stops: openai_request
 * (net/openai.h says how each field goes out); the model name is
 * remote_opts.model.  app/ copies its chat messages and sampler_params in. */
typedef openai_request remote_request;

typedef struct {
    /* Streamed text (complete UTF-8 characters, never empty); return false
     * to stop: the transfer is aborted and the outcome is REMOTE_CANCELLED.
     * May be NULL. */
    bool (*on_text)(void *ud, const char *text, size_t len);
    void *ud;
    /* Set (from any thread) to abort promptly; may be NULL. */
    const atomic_bool *cancel;
} remote_callbacks;

/* ---- What happened ------------------------------------------------------------ */

typedef enum {
    REMOTE_OK,
    REMOTE_ERROR,     /* connection, HTTP, protocol: see the message     */
    REMOTE_TIMEOUT,   /* connect (after retries), first token, idle, total */
    REMOTE_CANCELLED, /* *cancel was set, or on_text returned false      */
} remote_outcome;

/* "ok", "error", "timeout", "cancelled" (the request-row names). */
const char *remote_outcome_name(remote_outcome o);

typedef struct {
    remote_outcome outcome;
    int attempts;           /* HTTP attempts made (>= 1 once started)        */
    long http_status;       /* of the last attempt; 0: no response            */
    int prompt_tokens;      /* from "usage"; -1: the server did not say      */
    int completion_tokens;  /* from "usage"; -1: the server did not say      */
    double ttft_ms;         /* call → first content byte; -1: none arrived   */
    double decode_ms;       /* first → last content byte; -1: none arrived   */
    double latency_ms;      /* call → return                                  */
    double decode_tps;      /* (completion_tokens-1) / decode s; -1: unknown */
    size_t text_bytes;      /* bytes handed to on_text                        */
    char finish_reason[32]; /* "stop", "length", ...; "" when not sent        */
    char model[128];        /* the model the server says answered; "" if none */
    /* The tokens' log-probabilities the server sent ("logprobs", asked
     * for in every request): sum, lowest, count; 0, 0, 0 when it sent
     * none.  Of the last attempt, like the token counts. */
    double logprob_sum, logprob_min;
    int n_logprob;
} remote_result;

/* ---- Calls -------------------------------------------------------------------- */

/* Ask for one reply, streaming it through cb (which may be NULL).  Returns
 * 0 when res->outcome is REMOTE_OK, else -1 with the reason in err (and
 * the outcome in res), e.g.
 *   "cannot connect to http://127.0.0.1:8080/v1: Connection refused (3 attempts)"
 *   "http://127.0.0.1:8080/v1 answered HTTP 401: Invalid API key"
 *   "the server sent invalid JSON: ... in event: {\"choices\":..."
 *   "the server closed the connection mid-reply (after 42 bytes of text)"
 *   "no reply within 300 ms (first-token timeout)"
 * res is always filled (all counts -1/0 on bad arguments). */
int remote_chat(const remote_opts *o, const remote_request *rq, const remote_callbacks *cb,
                remote_result *res, char *err, size_t errlen);

/* GET {base_url}/models: the "id" of every entry of "data", in the server's
 * order, in *names (*n of them; free with remote_models_free).  Same
 * timeouts and retry policy as remote_chat.  Returns 0, or -1 with a
 * message (and *names NULL, *n 0). */
int remote_models(const remote_opts *o, char ***names, size_t *n, char *err, size_t errlen);
void remote_models_free(char **names, size_t n); /* accepts NULL */

#endif
