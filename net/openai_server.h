/*
 * openai_server.h — the server's side of OpenAI's chat-completions JSON:
 * reading a request body (POST /v1/chat/completions, POST /v1/feedback)
 * and writing the answers (a chat.completion, the chat.completion.chunk
 * events of a stream, an error body, the model list).
 *
 * Like openai.h: bytes in memory and jansson, no I/O, nothing of the
 * engine.  A request is read strictly enough to answer a wrong one with a
 * 400 that names the field (OpenAI's error shape: {"error": {"message",
 * "type": "invalid_request_error", "param", "code"}}) and loosely enough
 * that the official Python and Node clients' bodies pass: unknown members
 * are ignored, null is the same as absent.
 */
#ifndef FRONTDESK_OPENAI_SERVER_H
#define FRONTDESK_OPENAI_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Errors --------------------------------------------------------------------- */

/* What was wrong with a body: message a sentence, param the member it is
 * about ("messages[1].content", "temperature") or "" when none, code ""
 * or a code such as "context_length_exceeded". */
typedef struct {
    char message[512];
    char param[128];
    char code[64];
} oai_error;

/* {"error":{"message":...,"type":type,"param":param or null,"code":code or
 * null}} (param and code null when ""); free with free(). */
char *oai_error_json(const char *message, const char *type, const char *param, const char *code);

/* ---- A chat-completions request --------------------------------------------------- */

typedef enum { OAI_ROLE_SYSTEM, OAI_ROLE_USER, OAI_ROLE_ASSISTANT } oai_role;

typedef struct {
    oai_role role;  /* "developer" reads as system; "tool"/"function" are refused */
    char *content;  /* a string, or the "text" of every {"type":"text"} part of an
                       array joined with no separator ("image_url" parts refused);
                       null content on an assistant message reads as "" */
} oai_msg;

typedef struct {
    char *model;          /* NULL when absent                                   */
    oai_msg *messages;    /* at least one                                       */
    size_t n_messages;
    bool stream;
    bool include_usage;   /* stream_options.include_usage                        */
    int max_tokens;       /* max_completion_tokens, else max_tokens; -1 absent;
                             must be >= 1; past INT_MAX reads as INT_MAX       */
    double temperature;   /* -1 absent; 0..2                                    */
    double top_p;         /* -1 absent; 0..1 (0 exclusive)                      */
    int top_k;            /* -1 absent (llama.cpp's extension); >= 0            */
    double min_p;         /* -1 absent (extension); 0..1                        */
    double frequency_penalty, presence_penalty; /* 0 absent; -2..2              */
    double repeat_penalty; /* -1 absent (llama.cpp's extension); > 0            */
    bool has_seed;
    int64_t seed;
    char **stops;         /* "stop": a string or an array of at most 4 strings;
                             empty strings dropped ([] or "" = none)           */
    size_t n_stops;
    char *user;           /* "user", NULL when absent                           */
    bool ignore_eos;      /* frontdesk's extension                               */
    bool logprobs;        /* "logprobs": return each token's log-probability     */
    int top_logprobs;     /* "top_logprobs": 0..20 likeliest alternatives per
                             token; 0 when absent                              */
} oai_chat_request;

/* Read a request body.  false with e filled (nothing to free) when it is
 * not JSON, not an object, lacks messages, has a member of the wrong type
 * or out of range, or "n" is not 1; every string must be valid UTF-8
 * (jansson checks) and hold no \u0000, so every char * here is a whole C
 * string.  Integer members also accept a JSON real of integral value
 * (16.0).  Free a read request with oai_chat_request_free. */
bool oai_chat_request_parse(const char *body, size_t len, oai_chat_request *rq, oai_error *e);
void oai_chat_request_free(oai_chat_request *rq); /* accepts a zeroed one */

/* ---- Answers ------------------------------------------------------------------------ */

/* What every answer to one request shares. */
typedef struct {
    const char *id;          /* "chatcmpl-" + 32 hex digits (oai_new_id)  */
    int64_t created;         /* Unix seconds                              */
    const char *model;       /* the version that answers                 */
    const char *fingerprint; /* system_fingerprint                        */
} oai_reply_meta;

/* "chatcmpl-" followed by 32 lowercase hex digits from getrandom(2) into
 * out (at least 42 bytes).  false when the system has no randomness. */
bool oai_new_id(char *out, size_t outlen);

/* A whole answer, object "chat.completion": one choice {index 0, message
 * {role "assistant", content, refusal null}, logprobs null, finish_reason
 * (null when NULL)}, usage {prompt_tokens, completion_tokens,
 * total_tokens}.  content is len bytes of UTF-8; should a byte not be (a
 * character cut in two), it goes out as U+FFFD, so these writers never
 * return NULL (the same holds for the text of a chunk and for the meta's
 * strings; a NULL meta string goes out as null).  Free with free(). */
char *oai_completion_json(const oai_reply_meta *m, const char *content, size_t len, const char *finish_reason,
                          int prompt_tokens, int completion_tokens);

/* One event of a stream, with its "data: " prefix and blank line, ready to
 * send (free with free()), object "chat.completion.chunk":
 *   oai_chunk_role     the first: delta {role "assistant", content ""};
 *   oai_chunk_text     delta {content: len bytes};
 *   oai_chunk_finish   delta {}, finish_reason;
 *   oai_chunk_usage    choices [], usage {...} (include_usage);
 *   OAI_DONE           "data: [DONE]\n\n". */
char *oai_chunk_role(const oai_reply_meta *m);
char *oai_chunk_text(const oai_reply_meta *m, const char *text, size_t len);
char *oai_chunk_finish(const oai_reply_meta *m, const char *finish_reason);
char *oai_chunk_usage(const oai_reply_meta *m, int prompt_tokens, int completion_tokens);
#define OAI_DONE "data: [DONE]\n\n"

/* GET /v1/models: {"object":"list","data":[{"id","object":"model",
 * "created","owned_by":"frontdesk","sha256"}]} for one model. */
char *oai_models_json(const char *id, int64_t created, const char *sha256);

/* ---- Feedback (frontdesk's extension) -------------------------------------------- */

typedef struct {
    char *id;        /* the completion's "chatcmpl-..." id (required)      */
    int thumbs;      /* "up" 1, "down" -1, absent 0                        */
    int score;       /* 1..5, absent 0                                     */
    char *comment;   /* NULL when absent                                   */
    char *rater;     /* NULL when absent                                   */
} oai_feedback;

/* POST /v1/feedback's body; at least one of thumbs, score, comment.  false
 * with e filled when it is not so. */
bool oai_feedback_parse(const char *body, size_t len, oai_feedback *f, oai_error *e);
void oai_feedback_free(oai_feedback *f);

#endif
