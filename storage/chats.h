/*
 * chats.h — models, conversations and messages in the store; full-text
 * search; erasure.
 *
 * A conversation is a tree of messages.  Each message follows prev_id
 * (the turn before it); a regenerated reply or an edited customer
 * message is a new message whose parent_id is the version it replaces,
 * and the replaced one (with, for an edit, everything after it) stops
 * being `active`.  The active messages, in id order, are the thread a
 * model sees next; inactive ones stay for review and export.
 *
 * An agent reply is created empty when generation starts
 * (db_reply_begin), its text saved as it grows (db_reply_progress) and
 * completed at the end (db_reply_end), so a crash leaves the text so far.
 *
 * Lists returned here are owned by the caller: free them with the
 * matching *_free, which accepts NULL.
 */
#ifndef FRONTDESK_CHATS_H
#define FRONTDESK_CHATS_H

#include "storage/db.h"

/* ---- Models ---------------------------------------------------------------- */

typedef struct {
    const char *sha256;    /* local file: hex SHA-256 (NULL for remote)     */
    const char *url;       /* remote: the server's base URL (NULL for local) */
    const char *name;      /* general.name, or the server's model name      */
    const char *file_name; /* local: the file's base name                   */
    const char *arch;      /* "llama", "qwen2", ... (may be NULL)           */
    int64_t n_params;      /* 0 if unknown                                  */
    const char *quant;     /* "Q8_0", ... (may be NULL)                     */
    const char *path;      /* local: the file's absolute path (may be NULL) */
} db_model_info;

/* Record that a model is used now (insert, or update last_used); its id
 * in *id.  A local model is keyed by SHA-256, a remote one by URL + name. */
db_status db_model_use(db *d, const db_model_info *m, int64_t *id);

typedef struct {
    int64_t id;
    char *key, *sha256, *backend, *display_name, *file_name, *url, *arch, *quant;
    char *path; /* local: where the file was last loaded from (may be NULL) */
    int64_t n_params;
    double first_used, last_used;
} db_model;

/* Models whose file name, display name or server model name equals q, or
 * whose SHA-256 starts with q (at least 4 hex digits).  DB_NOTFOUND when
 * none does. */
db_status db_models_match(db *d, const char *q, db_model **out, size_t *n);
db_status db_models_list(db *d, db_model **out, size_t *n);
db_status db_model_get(db *d, int64_t id, db_model *out);
void db_models_free(db_model *m, size_t n);
void db_model_clear(db_model *m);

/* Cached SHA-256 of a file by path, size and modification time: DB_OK with
 * hex[65] filled, or DB_NOTFOUND. */
db_status db_file_hash_get(db *d, const char *path, int64_t size, int64_t mtime_ns, char hex[65]);
db_status db_file_hash_put(db *d, const char *path, int64_t size, int64_t mtime_ns, const char *hex);

/* ---- Conversations ----------------------------------------------------------- */

/* The profile of the conversations the arena makes (app/arena_worker.c):
 * copies of a thread answered again for blind side-by-side review.  Their
 * replies are judged in arena_judgements, so they are never in the review
 * queue nor counted as unrated (db_review_queue, db_review_counts,
 * db_conv.n_unrated); they are listed like any other conversation. */
#define DB_PROFILE_ARENA "arena"

typedef struct {
    int64_t id;
    char *title, *profile, *system_prompt, *status; /* status "open"/"closed" */
    double created_at, updated_at;
    int n_messages; /* active customer and agent messages               */
    int n_rated;    /* replies with at least one rating                  */
    int n_unrated;  /* replies without a 1-5 score from anyone (0 in an
                       arena conversation: not waiting for review)      */
} db_conv;

/* A new open conversation; system_prompt (may be NULL) becomes its first
 * message. */
db_status db_conv_create(db *d, const char *profile, const char *system_prompt, int64_t *id);
db_status db_conv_get(db *d, int64_t id, db_conv *out);
/* Newest first (by last update).  search (may be NULL or "") keeps those
 * with a message containing it, taken literally, case-insensitively for
 * ASCII; limit <= 0 means no limit. */
db_status db_conv_list(db *d, const char *search, int limit, db_conv **out, size_t *n);
db_status db_conv_rename(db *d, int64_t id, const char *title);
db_status db_conv_set_closed(db *d, int64_t id, bool closed);
void db_conv_clear(db_conv *c);
void db_convs_free(db_conv *c, size_t n);

/* ---- Messages ---------------------------------------------------------------- */

typedef enum { DB_ROLE_SYSTEM, DB_ROLE_CUSTOMER, DB_ROLE_AGENT } db_role;

const char *db_role_name(db_role r); /* "system" / "customer" / "agent" */

typedef struct {
    int64_t id, conversation_id, prev_id, parent_id, model_id;
    db_role role;
    char *text;
    double created_at;
    bool active;
    char *sampling; /* agent replies: JSON object of the settings, else NULL */
    /* agent replies: the mean and lowest log-probability of the reply's
     * tokens (db_reply_confidence), when has_logprob */
    double logprob_mean, logprob_min;
    bool has_logprob;
} db_msg;

/* Append a customer (or system) message to the active thread.  The first
 * customer message titles a conversation not renamed by hand. */
db_status db_msg_add(db *d, int64_t conv, db_role role, const char *text, int64_t *id);
/* Replace customer message `id` by new text: a new message (parent_id =
 * id) ends the active thread, id and everything after it become
 * inactive. */
db_status db_msg_edit(db *d, int64_t id, const char *text, int64_t *new_id);
db_status db_msg_get(db *d, int64_t id, db_msg *out);
/* The conversation's messages in id order (only the active thread unless
 * all is set). */
db_status db_msgs_list(db *d, int64_t conv, bool all, db_msg **out, size_t *n);
/* The thread that led to message id: the messages it follows (by prev_id),
 * oldest first, ending with it — what the model saw, plus its reply. */
db_status db_msg_thread(db *d, int64_t id, db_msg **out, size_t *n);
void db_msg_clear(db_msg *m);
void db_msgs_free(db_msg *m, size_t n);

/* Start an agent reply in conv: an empty active message after the thread's
 * last one.  replaces > 0 regenerates: that reply becomes inactive and is
 * the new one's parent.  sampling: JSON text (may be NULL). */
db_status db_reply_begin(db *d, int64_t conv, int64_t model_id, const char *sampling, int64_t replaces,
                         int64_t *id);
/* Save the text generated so far (a short transaction). */
db_status db_reply_progress(db *d, int64_t id, const char *text);
/* Final text and the model that produced it (a fallback may change it).  An
 * empty reply (nothing generated, e.g. the backend failed) is removed and
 * any reply it replaced made active again. */
db_status db_reply_end(db *d, int64_t id, const char *text, int64_t model_id);
/* The reply's confidence: the mean and the lowest log-probability of its
 * tokens under the model that produced it (natural log, <= 0).  NaN for
 * either stores it as unknown (NULL); replies start unknown.  DB_NOTFOUND
 * when id is not an agent reply. */
db_status db_reply_confidence(db *d, int64_t id, double mean, double min);

/* ---- Erasure ------------------------------------------------------------------- */

/* Delete a conversation's text for good: messages, ratings, the search
 * index; the file's free pages are zeroed and the WAL checkpointed.  Its
 * request rows stay as anonymous figures.  DB_NOTFOUND if there is no
 * such conversation. */
db_status db_forget(db *d, int64_t conv);
/* The same for every conversation last updated before `before` (epoch
 * seconds); the count in *n. */
db_status db_purge(db *d, double before, int *n);

#endif
