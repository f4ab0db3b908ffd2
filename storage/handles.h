/*
 * handles.h — the names serve gives its clients for what it stored: a
 * conversation's token (returned in X-Frontdesk-Conversation, sent back to
 * continue it) and a reply's completion id ("chatcmpl-...", which
 * POST /v1/feedback names).  Both are random strings made by the caller;
 * a handle is erased with its conversation (forget, purge).
 */
#ifndef FRONTDESK_HANDLES_H
#define FRONTDESK_HANDLES_H

#include "storage/db.h"

#include <stdint.h>

/* Remember handle for conversation conv and (0: none) message, with the
 * client's own name for its end user (NULL: none), kept as metadata only. */
db_status db_handle_put(db *d, const char *handle, int64_t conv, int64_t message, const char *user);
/* What handle names: DB_NOTFOUND when nothing (never was, or erased). */
db_status db_handle_get(db *d, const char *handle, int64_t *conv, int64_t *message);

#endif
