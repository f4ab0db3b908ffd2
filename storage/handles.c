/*
 * handles.c — serve's handles (see handles.h).
 */
#include "storage/handles.h"

#include "storage/db_internal.h"

db_status db_handle_put(db *d, const char *handle, int64_t conv, int64_t message, const char *user)
{
    const char *what = "saving a handle";
    sqlite3_stmt *st = db_prepare(
        d, "INSERT INTO handles(handle, conversation_id, message_id, created_at, user) VALUES (?, ?, ?, ?, ?)", what);
    if (!st)
        return DB_ERR;
    sqlite3_bind_text(st, 1, handle, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, conv);
    if (message > 0)
        sqlite3_bind_int64(st, 3, message);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_double(st, 4, db_now());
    db_bind_text(st, 5, user);
    return db_step_done(d, st, what);
}

db_status db_handle_get(db *d, const char *handle, int64_t *conv, int64_t *message)
{
    const char *what = "looking up a handle";
    *conv = *message = 0;
    sqlite3_stmt *st = db_prepare(
        d, "SELECT conversation_id, coalesce(message_id, 0) FROM handles WHERE handle = ?", what);
    if (!st)
        return DB_ERR;
    sqlite3_bind_text(st, 1, handle, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    db_status s = DB_NOTFOUND;
    if (rc == SQLITE_ROW) {
        *conv = sqlite3_column_int64(st, 0);
        *message = sqlite3_column_int64(st, 1);
        s = DB_OK;
    } else if (rc != SQLITE_DONE) {
        s = db_fail(d, rc, what);
    }
    sqlite3_finalize(st);
    return s;
}
