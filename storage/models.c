/*
 * models.c — model versions in the store: recording one as used (a
 * local file by SHA-256, a remote one by URL + model name), listing and
 * matching them, and the path/size/mtime -> SHA-256 cache of model files.
 * Declared in chats.h.
 */
#include "storage/chats.h"

#include "storage/db_internal.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Models ---------------------------------------------------------------- */

db_status db_model_use(db *d, const db_model_info *m, int64_t *id)
{
    const char *what = "recording the model";
    char *key;
    if (m->sha256)
        key = xstrdup(m->sha256);
    else {
        strbuf sb = {0};
        sb_printf(&sb, "remote:%s#%s", m->url ? m->url : "", m->name ? m->name : "");
        key = sb.data;
    }
    sql_stmt *st = db_prepare(
        d,
        "INSERT INTO models (key, sha256, backend, name, file_name, url, arch, n_params, quant,"
        " first_used, last_used, path) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)"
        " ON CONFLICT (key) DO UPDATE SET last_used = ?10,"
        "  name = coalesce(?4, models.name), file_name = coalesce(?5, models.file_name),"
        "  path = coalesce(?11, models.path)"
        " RETURNING id",
        what);
    if (!st) {
        free(key);
        return DB_ERR;
    }
    sql_bind_text(st, 1, key);
    db_bind_text(st, 2, m->sha256);
    sql_bind_text(st, 3, m->sha256 ? "local" : "remote");
    db_bind_text(st, 4, m->name && *m->name ? m->name : NULL);
    db_bind_text(st, 5, m->file_name);
    db_bind_text(st, 6, m->url);
    db_bind_text(st, 7, m->arch);
    if (m->n_params > 0)
        sql_bind_int64(st, 8, m->n_params);
    db_bind_text(st, 9, m->quant);
    sql_bind_double(st, 10, db_now());
    db_bind_text(st, 11, m->path);
    free(key);
    int rc = sql_step(st);
    if (rc == SQL_ROW)
        *id = sql_column_int64(st, 0);
    rc = rc == SQL_ROW ? sql_step(st) : rc;
    sql_finalize(st);
    return rc == SQL_DONE ? DB_OK : db_fail(d, rc, what);
}

/* The display name: general.name, unless it is missing or another model
 * version has the same one — then the file name (or URL + name). */
#define MODEL_COLUMNS                                                                               \
    "m.id, m.key, m.sha256, m.backend,"                                                             \
    " CASE WHEN m.name IS NULL OR EXISTS (SELECT 1 FROM models o WHERE o.name = m.name"            \
    "   AND o.id != m.id AND m.backend = 'local')"                                                 \
    "  THEN coalesce(m.file_name, m.url || ' ' || m.name, m.key) ELSE m.name END,"                 \
    " m.file_name, m.url, m.arch, m.quant, coalesce(m.n_params, 0), m.first_used, m.last_used, m.path"

static void read_model(sql_stmt *st, db_model *m)
{
    m->id = sql_column_int64(st, 0);
    m->key = db_col_text(st, 1, false);
    m->sha256 = db_col_text(st, 2, true);
    m->backend = db_col_text(st, 3, false);
    m->display_name = db_col_text(st, 4, false);
    m->file_name = db_col_text(st, 5, true);
    m->url = db_col_text(st, 6, true);
    m->arch = db_col_text(st, 7, true);
    m->quant = db_col_text(st, 8, true);
    m->n_params = sql_column_int64(st, 9);
    m->first_used = sql_column_double(st, 10);
    m->last_used = sql_column_double(st, 11);
    m->path = db_col_text(st, 12, true);
}

static db_status models_query(db *d, sql_stmt *st, db_model **out, size_t *n, const char *what)
{
    *out = NULL;
    *n = 0;
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        *out = xreallocarray(*out, *n + 1, sizeof **out);
        read_model(st, &(*out)[(*n)++]);
    }
    sql_finalize(st);
    if (rc != SQL_DONE) {
        db_models_free(*out, *n);
        *out = NULL;
        *n = 0;
        return db_fail(d, rc, what);
    }
    return DB_OK;
}

db_status db_models_list(db *d, db_model **out, size_t *n)
{
    const char *what = "listing models";
    sql_stmt *st = db_prepare(d, "SELECT " MODEL_COLUMNS " FROM models m ORDER BY m.last_used DESC", what);
    if (!st)
        return DB_ERR;
    return models_query(d, st, out, n, what);
}

db_status db_models_match(db *d, const char *q, db_model **out, size_t *n)
{
    const char *what = "finding the model";
    size_t qlen = strlen(q);
    bool hex = qlen >= 4 && strspn(q, "0123456789abcdefABCDEF") == qlen;
    sql_stmt *st = db_prepare(d,
                    "SELECT " MODEL_COLUMNS " FROM models m"
                    " WHERE m.file_name = ?1 OR m.name = ?1 OR m.url || ' ' || m.name = ?1"
                    "  OR (?2 <> 0 AND substr(m.sha256, 1, length(?1)) = lower(?1))"
                    " ORDER BY m.last_used DESC",
                    what);
    if (!st)
        return DB_ERR;
    sql_bind_text(st, 1, q);
    sql_bind_int(st, 2, hex);
    db_status s = models_query(d, st, out, n, what);
    if (s == DB_OK && *n == 0)
        return db_failf(d, DB_NOTFOUND,
                        "no model matches '%s' (give a file name, a display name or a SHA-256 prefix "
                        "of at least 4 hex digits)",
                        q);
    return s;
}

db_status db_model_get(db *d, int64_t id, db_model *out)
{
    const char *what = "reading a model";
    memset(out, 0, sizeof *out);
    sql_stmt *st = db_prepare(d, "SELECT " MODEL_COLUMNS " FROM models m WHERE m.id = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, id);
    db_model *list;
    size_t n;
    db_status s = models_query(d, st, &list, &n, what);
    if (s != DB_OK)
        return s;
    if (!n)
        return db_failf(d, DB_NOTFOUND, "no model %lld", (long long)id);
    *out = list[0];
    free(list);
    return DB_OK;
}

void db_model_clear(db_model *m)
{
    if (!m)
        return;
    free(m->key);
    free(m->sha256);
    free(m->backend);
    free(m->display_name);
    free(m->file_name);
    free(m->url);
    free(m->arch);
    free(m->quant);
    free(m->path);
    memset(m, 0, sizeof *m);
}

void db_models_free(db_model *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        db_model_clear(&m[i]);
    free(m);
}

db_status db_file_hash_get(db *d, const char *path, int64_t size, int64_t mtime_ns, char hex[65])
{
    const char *what = "reading the model hash cache";
    sql_stmt *st =
        db_prepare(d, "SELECT sha256 FROM model_files WHERE path = ? AND size = ? AND mtime_ns = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_text(st, 1, path);
    sql_bind_int64(st, 2, size);
    sql_bind_int64(st, 3, mtime_ns);
    int rc = sql_step(st);
    db_status s = DB_NOTFOUND;
    if (rc == SQL_ROW && sql_column_bytes(st, 0) == 64) {
        memcpy(hex, sql_column_text(st, 0), 65);
        s = DB_OK;
    } else if (rc != SQL_ROW && rc != SQL_DONE)
        s = db_fail(d, rc, what);
    sql_finalize(st);
    return s;
}

db_status db_file_hash_put(db *d, const char *path, int64_t size, int64_t mtime_ns, const char *hex)
{
    const char *what = "saving the model hash cache";
    sql_stmt *st = db_prepare(d, "INSERT INTO model_files VALUES (?, ?, ?, ?) ON CONFLICT (path) DO UPDATE"
                                  " SET size = excluded.size, mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256", what);
    if (!st)
        return DB_ERR;
    sql_bind_text(st, 1, path);
    sql_bind_int64(st, 2, size);
    sql_bind_int64(st, 3, mtime_ns);
    sql_bind_text(st, 4, hex);
    return db_step_done(d, st, what);
}
