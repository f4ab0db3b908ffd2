/*
 * handles.c — serve's handles (see handles.h).
 */
#include "storage/handles.h"

#include "storage/db_internal.h"

db_status db_handle_put(db *d, const char *handle, int64_t conv, int64_t message, const char *user)
{
    const char *what = "saving a handle";
    sql_stmt *st = db_prepare(
        d, "INSERT INTO handles(handle, conversation_id, message_id, created_at, \"user\") VALUES (?, ?, ?, ?, ?)", what);
    if (!st)
        return DB_ERR;
    sql_bind_text(st, 1, handle);
    sql_bind_int64(st, 2, conv);
    if (message > 0)
        sql_bind_int64(st, 3, message);
    else
        sql_bind_null(st, 3);
    sql_bind_double(st, 4, db_now());
    db_bind_text(st, 5, user);
    return db_step_done(d, st, what);
}

db_status db_handle_get(db *d, const char *handle, int64_t *conv, int64_t *message)
{
    const char *what = "looking up a handle";
    *conv = *message = 0;
    sql_stmt *st = db_prepare(
        d, "SELECT conversation_id, coalesce(message_id, 0) FROM handles WHERE handle = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_text(st, 1, handle);
    int rc = sql_step(st);
    db_status s = DB_NOTFOUND;
    if (rc == SQL_ROW) {
        *conv = sql_column_int64(st, 0);
        *message = sql_column_int64(st, 1);
        s = DB_OK;
    } else if (rc != SQL_DONE) {
        s = db_fail(d, rc, what);
    }
    sql_finalize(st);
    return s;
}
