/*
 * store.h — how app/ uses the store: where the database lives, opening it
 * with a clear message, identifying a model version, recording a reply as
 * it streams.
 *
 * The store is, in order: --db PATH|URL, $FRONTDESK_DB, [store] url in
 * the configuration file, then the SQLite file
 * $XDG_DATA_HOME/frontdesk/frontdesk.db (~/.local/share/... when unset).
 * A postgresql:// or postgres:// URL is a PostgreSQL database, passed to
 * db_open as it is; anything else without a scheme is an SQLite file.  A
 * URL with a password, a malformed one or another scheme is refused
 * (store_url.h), and so is every store while the configuration file's
 * [store] settings are wrong: never a quiet fall-back to a local file
 * that would split a team's data.
 */
#ifndef FRONTDESK_STORE_H
#define FRONTDESK_STORE_H

#include "app/config.h"
#include "app/store_url.h"
#include "engine/model.h"
#include "engine/sampler.h"
#include "storage/chats.h"
#include "storage/metrics.h"
#include "util/util.h"

/* What the configuration file says of the store: [store] url (and its
 * line, to name it), heartbeat_s and heartbeat_lapse_s, or the problem
 * with them.  main calls it once, before any command runs; without it
 * there is no [store] url and the heartbeat is 5 s, the lapse 30 s. */
void store_configure(const config *cfg);

/* The store to use (caller frees): --db (flag, may be NULL), else
 * $FRONTDESK_DB, else [store] url, else store_default_path(). */
char *store_path(const char *flag);
/* The default SQLite file (caller frees). */
char *store_default_path(void);

/* Open the store (creating an SQLite file's directory).  On failure
 * prints one line "frontdesk: ..." and returns EXIT_USAGE when the
 * configuration's [store] settings are wrong or the store chosen is a
 * URL store_url_check refuses (nothing is opened or created, no password
 * printed), EXIT_FAIL when it cannot be opened (db_open's reason: a
 * server that cannot be reached, a corrupt file, ...); EXIT_OK
 * otherwise, the heartbeat set from the configuration. */
int store_open(const char *flag, db **out);

/* db_open of a store already chosen (another connection to db_path() of
 * a store_open'ed handle, for a thread), with the configuration's
 * heartbeat. */
db_status store_db_open(db **out, const char *path, char *err, size_t errlen);

/* The SHA-256 of the file at path (hex), from the store's cache (by path,
 * size and modification time) or computed and cached. */
db_status store_file_sha256(db *d, const char *path, char hex[65], char *err, size_t errlen);

/* Record the local model m, loaded from path, as used now: its SHA-256
 * (cached by path, size and mtime), general.name, file name, architecture,
 * parameter count and quantization. */
db_status store_model_local(db *d, const char *path, const model *m, int64_t *id, char *err, size_t errlen);

/* The sampling settings of a reply as a JSON object (caller frees). */
char *store_sampling_json(const sampler_params *sp, int n_predict, int n_ctx);

/* A reply being recorded: its message and request rows, the text so far
 * (saved at the first piece, then at most every 250 ms). */
typedef struct {
    db *d;
    int64_t conv, message, request, model_id;
    strbuf text;
    double t0, last_save;
    bool failed;    /* a write failed: err says which; generation goes on */
    char err[512];
} store_reply;

/* Start recording a reply in conv (replaces: a reply to regenerate, or 0). */
db_status store_reply_begin(store_reply *r, db *d, int64_t conv, int64_t model_id, const char *backend,
                            const char *sampling, int64_t replaces, double queue_ms);
/* A fallback: complete the current request row with `failed` and start a
 * second one for the same reply on another backend (model_id). */
db_status store_reply_switch(store_reply *r, const db_request_result *failed, int64_t model_id,
                             const char *backend);
/* Add streamed text. */
void store_reply_text(store_reply *r, const char *text, size_t len);
/* Complete both rows, and put res's confidence (when has_logprob) on a
 * reply that has text.  Returns DB_OK, or the first failure (message in
 * r->err); the strbuf is freed either way. */
db_status store_reply_end(store_reply *r, const db_request_result *res);

#endif
