/*
 * copy_checks.c — what `frontdesk migrate` checks before it copies a row
 * (copy.h): both stores at this program's schema, the source's tables
 * all known and its values all of their columns' types, the source idle,
 * what the target already holds; and the source's schema version read
 * without writing to it.
 */
#include "storage/copy_internal.h"

#include "util/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Every table of the source is one copy.c copies (or the search
 * index), so nothing is left behind unnoticed. */
db_status copy_check_source_tables(db *from, db_copy_report *out)
{
    const char *what = "listing the source's tables";
    sql_stmt *st = db_prepare(from,
                              "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' "
                              "ESCAPE '!' AND name NOT LIKE 'messages!_fts%' ESCAPE '!' ORDER BY name",
                              what);
    if (!st)
        return copy_failed(out, DB_ERR, from, what);
    int rc = SQL_DONE;
    db_status s = DB_OK;
    while (s == DB_OK && (rc = sql_step(st)) == SQL_ROW) {
        const char *name = sql_column_text(st, 0);
        size_t i = 0;
        while (i < DB_COPY_TABLES && strcmp(copy_table_names[i], name))
            i++;
        if (i == DB_COPY_TABLES)
            s = copy_failf(out, DB_INVALID, "the source has a table migrate does not know (%s); nothing was copied", name);
    }
    if (s == DB_OK && rc != SQL_DONE)
        s = copy_failed(out, db_fail(from, rc, what), from, what);
    sql_finalize(st);
    return s;
}

/* Every value has its column's type (SQLite would let a column hold
 * another, and it would not arrive unchanged). */
db_status copy_check_types(db *from, const table *t, db_copy_report *out)
{
    static const char *const allowed[] = {
        [COL_INT] = "'integer'", [COL_REAL] = "'real'", [COL_TEXT] = "'text'", [COL_BLOB] = "'blob'"};
    strbuf sql = {0};
    sb_puts(&sql, "SELECT ");
    for (int i = 0; i < t->n; i++)
        sb_printf(&sql, "%scoalesce(sum(typeof(\"%s\") NOT IN (%s, 'null')), 0)", i ? ", " : "", t->cols[i].name,
                  allowed[t->cols[i].kind]);
    sb_printf(&sql, " FROM \"%s\"", t->name);
    const char *what = "checking the source's values";
    sql_stmt *st = db_prepare(from, sql.data, what);
    sb_free(&sql);
    if (!st)
        return copy_failed(out, DB_ERR, from, what);
    int rc = sql_step(st);
    db_status s = DB_OK;
    if (rc != SQL_ROW)
        s = copy_failed(out, db_fail(from, rc, what), from, what);
    for (int i = 0; s == DB_OK && i < t->n; i++) {
        int64_t bad = sql_column_int64(st, i);
        if (bad)
            s = copy_failf(out, DB_INVALID,
                      "%s.%s holds %" PRId64 " value(s) that are not %s; they would not be copied unchanged, "
                      "so nothing was",
                      t->name, t->cols[i].name, bad, allowed[t->cols[i].kind]);
    }
    sql_finalize(st);
    return s;
}

/* What the target holds: "" when no table copied has a row, else
 * "conversations 12, messages 40, ..." (caller frees). */
db_status copy_target_rows(db *to, char **held, db_copy_report *out)
{
    strbuf sb = {0};
    db_status s = DB_OK;
    for (size_t i = 0; s == DB_OK && i < DB_COPY_TABLES; i++) {
        int64_t n;
        s = copy_count_rows(to, copy_table_names[i], &n, out, "looking into the target");
        if (s == DB_OK && n)
            sb_printf(&sb, "%s%s %" PRId64, sb.len ? ", " : "", copy_table_names[i], n);
    }
    *held = sb.data ? sb.data : xstrdup("");
    return s;
}

db_status copy_check_source_idle(db *from, db_copy_report *out)
{
    const char *what = "looking for work in progress in the source";
    sql_stmt *st = db_prepare(from,
                              "SELECT (SELECT count(*) FROM requests WHERE outcome = 'running'),"
                              " (SELECT count(*) FROM eval_runs WHERE status = 'running')",
                              what);
    if (!st)
        return copy_failed(out, DB_ERR, from, what);
    int rc = sql_step(st);
    int64_t req = rc == SQL_ROW ? sql_column_int64(st, 0) : 0, ev = rc == SQL_ROW ? sql_column_int64(st, 1) : 0;
    sql_finalize(st);
    if (rc != SQL_ROW)
        return copy_failed(out, db_fail(from, rc, what), from, what);
    if (req || ev)
        return copy_failf(out, DB_BUSY,
                     "%s is in use: %" PRId64 " request(s) and %" PRId64 " evaluation run(s) still running; "
                     "stop every frontdesk process using it, then migrate (nothing was copied)",
                     db_path(from), req, ev);
    return DB_OK;
}

db_status copy_check_versions(db *from, db *to, db_copy_report *out)
{
    if (db_is_pg(from))
        return copy_failf(out, DB_INVALID, "the source must be a SQLite store (a file), not %s", db_path(from));
    int vf = db_version(from), vt = db_version(to);
    if (vf != DB_SCHEMA_VERSION)
        return copy_failf(out, DB_INVALID, "%s has schema version %d; migrate copies only version %d", db_path(from), vf,
                     DB_SCHEMA_VERSION);
    if (vt != DB_SCHEMA_VERSION)
        return copy_failf(out, DB_INVALID, "%s has schema version %d; migrate copies only into version %d", db_path(to),
                     vt, DB_SCHEMA_VERSION);
    return DB_OK;
}

/* ---- The source's version, without writing -------------------------------- */

db_status db_peek_version(const char *path, int *version, char *err, size_t errlen)
{
    *version = 0;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        util_errf(err, errlen, "%s: no such file", path);
        return DB_NOTFOUND;
    }
    if (!S_ISREG(sb.st_mode)) {
        util_errf(err, errlen, "%s is not a file", path);
        return DB_INVALID;
    }
    /* as db.c does: a path is a path, never a "file:" URI */
    char *file = NULL;
    if (!strncmp(path, "file:", 5)) {
        size_t n = strlen(path) + 3;
        file = xmalloc(n);
        snprintf(file, n, "./%s", path);
    }
    sqlite3 *c = NULL;
    int rc = sqlite3_open_v2(file ? file : path, &c, SQLITE_OPEN_READONLY, NULL);
    free(file);
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(c, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *version = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    db_status s = DB_OK;
    if (rc != SQLITE_OK) {
        int code = rc & 0xff;
        s = code == SQLITE_NOTADB || code == SQLITE_CORRUPT ? DB_CORRUPT : DB_ERR;
        util_errf(err, errlen, "%s: %s", path,
                  s == DB_CORRUPT ? "not a frontdesk database, or a damaged one"
                                  : (c ? sqlite3_errmsg(c) : sqlite3_errstr(rc)));
    }
    sqlite3_finalize(st);
    sqlite3_close_v2(c);
    return s;
}
