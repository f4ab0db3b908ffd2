/*
 * openai.h — the JSON of OpenAI's chat-completions protocol, the part a
 * client and a server share: the request body (POST /chat/completions),
 * the chunks of a streamed reply (chat.completion.chunk) and a whole
 * answer (chat.completion), a server's error body, and the model list
 * (GET /models).  The libcurl client (net/remote.h) uses it; so will the
 * server.
 *
 * Everything here works on bytes in memory and JSON via jansson: no I/O,
 * no globals, nothing of the engine (messages and sampling have their own
 * plain types here; app/ copies its own into them).  A field of the wrong
 * type is an error naming it; unknown fields are ignored; strings must be
 * valid UTF-8 both ways (jansson rejects any that are not).
 *
 * Statuses: OPENAI_OK, or what was wrong with the JSON, with a message in
 * err (each function says which).  Out-of-memory aborts (util/).
 */
#ifndef FRONTDESK_OPENAI_H
#define FRONTDESK_OPENAI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    OPENAI_OK,
    OPENAI_BAD_JSON,     /* not JSON at all                                  */
    OPENAI_BAD_FIELD,    /* JSON of the wrong shape: the message names the field */
    OPENAI_SERVER_ERROR, /* a chunk that is the server's report of an error */
} openai_status;

/* ---- The request ------------------------------------------------------------- */

typedef struct {
    const char *role; /* "system", "user" or "assistant" (NULL: "")   */
    const char *content; /* NULL: ""                                    */
} openai_msg;

/* The sampling settings a request can carry (the fields of the engine's
 * sampler_params, which app/ copies in). */
typedef struct {
    float temp;           /* 0 = greedy                                    */
    int top_k;            /* 0 = off                                       */
    float top_p;          /* 1 = off                                       */
    float min_p;          /* 0 = off                                       */
    float repeat_penalty; /* 1 = off                                       */
    int repeat_last_n;
    uint64_t seed;
} openai_sampling;

/* The messages are sent in order.  The sampling fields map as:
 *   temp → "temperature", top_p → "top_p"          always (standard API);
 *   top_k → "top_k"                                 when > 0;
 *   min_p → "min_p"                                 when > 0;
 *   repeat_penalty → "repeat_penalty" (llama.cpp) and "repetition_penalty"
 *     (vLLM), with repeat_last_n → "repeat_last_n"   when != 1 (and > 0);
 *   seed → "seed"                                   when send_seed.
 * top_k, min_p and the penalty are not in OpenAI's API; llama-server and
 * vLLM read them, most others ignore unknown fields, but OpenAI itself
 * rejects them — so they go out only when they change something.
 * max_tokens → "max_tokens" when > 0; stops → "stop" when n_stops > 0
 * (OpenAI accepts at most 4). */
typedef struct {
    const openai_msg *messages;
    size_t n_messages;
    openai_sampling sampling;
    bool send_seed;
    int max_tokens;
    const char *const *stops;
    size_t n_stops;
} openai_request;

/* The body of a streamed chat request: {"model" (when model is not NULL),
 * "messages", "stream": true, "stream_options": {"include_usage": true},
 * "logprobs": true (each token's log-probability, the reply's confidence;
 * OpenAI, llama-server and vLLM accept it, others ignore it), the sampling
 * fields above}, compact, reals at float precision (0.8f
 * goes out as 0.8).  Returns it (free with free()), or NULL with a message
 * naming what is not UTF-8, e.g. "message 2 is not valid UTF-8". */
char *openai_request_json(const char *model, const openai_request *rq, char *err, size_t errlen);

/* ---- A reply ------------------------------------------------------------------ */

/* What one chunk (stream) or answer (!stream) says.  Every member is
 * optional in the protocol: absent or null leaves NULL / -1. */
typedef struct {
    char *model;           /* "model"                                     */
    int prompt_tokens;     /* "usage"."prompt_tokens"                     */
    int completion_tokens; /* "usage"."completion_tokens"                 */
    char *finish_reason;   /* "choices"[0]."finish_reason"                */
    char *content;         /* "choices"[0]."delta" (stream) or ."message"
                              (!stream) ."content": content_len bytes, which
                              may hold a NUL (\u0000), then a NUL        */
    size_t content_len;
    char *error;           /* OPENAI_SERVER_ERROR: the whole chunk, compact */
    /* "choices"[0]."logprobs"."content"[]."logprob" (both forms): the sum
     * and lowest of the tokens' log-probabilities, and how many (0 when
     * absent or null: logprob_sum and logprob_min are then 0). */
    double logprob_sum, logprob_min;
    int n_logprob;
} openai_chunk;

/* Read the n bytes at json.  OPENAI_OK: c holds what the chunk says
 * ("choices": [] is the usage chunk, no choice at all).  Otherwise err says
 * why, without saying where the bytes came from (the caller does):
 *   OPENAI_BAD_JSON      jansson's reason and offset, "... (at byte 12)";
 *   OPENAI_BAD_FIELD     the field, e.g. "usage.prompt_tokens is not a
 *                        count", "choices[0].delta is not an object",
 *                        "choices[0].logprobs.content[2].logprob is not a
 *                        number";
 *                        the members read before it (in the order model,
 *                        usage, finish_reason) are filled in c;
 *   OPENAI_SERVER_ERROR  a non-null "error": c->error holds the chunk
 *                        (its message: openai_error_message).
 * Free c with openai_chunk_free whatever the status. */
openai_status openai_chunk_parse(const char *json, size_t n, bool stream, openai_chunk *c, char *err,
                                 size_t errlen);
void openai_chunk_free(openai_chunk *c); /* accepts a zeroed chunk */

/* The message in a server's error body: {"error":{"message":...}},
 * {"error":"..."}, {"message":"..."} or {"detail":"..."} — or NULL when
 * the body is not JSON of one of these shapes.  Free with free(). */
char *openai_error_message(const char *body, size_t n);

/* ---- The model list ----------------------------------------------------------- */

/* {"data": [{"id": ...}, ...]}: every id, in order, into *names (*count
 * of them; free with openai_models_free).  Otherwise *names NULL, *count 0
 * and a whole sentence in err: "the model list is not JSON: ... (at byte
 * 3)", "the model list has no \"data\" array", "the model list's
 * data[0].id is not a string". */
openai_status openai_models_parse(const char *json, size_t n, char ***names, size_t *count, char *err,
                                  size_t errlen);
void openai_models_free(char **names, size_t count); /* accepts NULL */

#endif
