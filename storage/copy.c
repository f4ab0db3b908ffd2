/*
 * copy.c — a whole store copied into another and verified (copy.h).
 *
 * The tables and their foreign-key order are listed here once; their
 * columns, types and primary keys are read from the source's own schema
 * (pragma_table_info), so a column a later migration adds is copied
 * without touching this file — a new table is not, and is refused until
 * it is listed.  Rows travel through the statement interface (sql.h) in
 * batches of one multi-row INSERT each, read in primary-key order from a
 * single read transaction on the source.  Verification reads both sides
 * through sql.h again, a page at a time by primary key (PostgreSQL hands
 * a statement's whole result over at once).
 *
 * Appending into a store that holds rows uses the same path with a remap
 * (copy_remap.c: where ids go, what cannot be merged).  What it does not
 * do: read a PostgreSQL source (the columns come from SQLite's pragmas).
 */
#include "storage/copy_internal.h"

#include "storage/rollup.h"
#include "util/hash.h"
#include "util/util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(DB_SCHEMA_VERSION == 8, "a new schema version: check copy.c's list of tables");

/* Parents before children: every foreign key points to a table earlier
 * in the list (messages also to itself: to earlier ids, copied first). */
const char *const copy_table_names[DB_COPY_TABLES] = {
    "models",     "model_files",        "conversations", "messages",       "requests",
    "ratings",    "rating_tags",        "handles",       "deployment",     "deployment_history",
    "rollups",    "alert_episodes",     "eval_runs",     "eval_items",     "arena_judgements",
};

/* Rows per INSERT, at most (and at most BATCH_PARAMS values). */
#define BATCH_ROWS 200
#define BATCH_PARAMS 900
/* Rows per page when verifying. */
#define PAGE_ROWS 2000

static void table_free(table *t)
{
    for (int i = 0; i < t->n; i++)
        free(t->cols[i].name);
    free(t->cols);
    memset(t, 0, sizeof *t);
}

/* ---- Failures ------------------------------------------------------------ */

db_status copy_failf(db_copy_report *out, db_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->err, sizeof out->err, fmt, ap);
    va_end(ap);
    return st;
}

/* A failure the database recorded on d, while doing `doing`. */
db_status copy_failed(db_copy_report *out, db_status st, db *d, const char *doing)
{
    return copy_failf(out, st, "%s: %s", doing, db_errmsg(d));
}

#define failf copy_failf
#define failed copy_failed

db_status copy_query_int(db *d, const char *sql, int64_t *v, db_copy_report *out, const char *doing)
{
    *v = 0;
    sql_stmt *st = db_prepare(d, sql, doing);
    if (!st)
        return failed(out, DB_ERR, d, doing);
    int rc = sql_step(st);
    if (rc == SQL_ROW)
        *v = sql_column_int64(st, 0);
    sql_finalize(st);
    return rc == SQL_ROW ? DB_OK : failed(out, db_fail(d, rc, doing), d, doing);
}

/* ---- The tables, as the source's schema has them ----------------------------- */

static bool kind_of(const char *type, col_kind *k)
{
    /* SQLite's rules of type affinity, for the types the schema uses */
    char up[64];
    size_t i = 0;
    for (; type[i] && i + 1 < sizeof up; i++)
        up[i] = (char)(type[i] >= 'a' && type[i] <= 'z' ? type[i] - 32 : type[i]);
    up[i] = 0;
    if (strstr(up, "INT"))
        *k = COL_INT;
    else if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT"))
        *k = COL_TEXT;
    else if (strstr(up, "BLOB"))
        *k = COL_BLOB;
    else if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB"))
        *k = COL_REAL;
    else
        return false;
    return true;
}

/* Which table's id each column holds: a serial table's own id, and
 * through the source's foreign keys what the column they point at holds
 * (rating_tags.message_id points at ratings.message_id, which holds a
 * message's id).  tabs: the tables before t, already read. */
static db_status read_refs(db *from, const table *tabs, table *t, db_copy_report *out)
{
    if (t->serial)
        t->cols[t->pk[0]].ref = t->idx;
    const char *what = "reading the source's foreign keys";
    sql_stmt *st = db_prepare(from, "SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?)", what);
    if (!st)
        return failed(out, DB_ERR, from, what);
    sql_bind_text(st, 1, t->name);
    int rc;
    db_status s = DB_OK;
    while (s == DB_OK && (rc = sql_step(st)) == SQL_ROW) {
        const char *parent = sql_column_text(st, 0), *col = sql_column_text(st, 1), *to = sql_column_text(st, 2);
        int p = 0;
        while (p < DB_COPY_TABLES && strcmp(copy_table_names[p], parent ? parent : ""))
            p++;
        if (p > t->idx)
            s = failf(out, DB_INVALID, "%s.%s refers to %s, which is copied after it", t->name, col ? col : "?",
                      parent ? parent : "?");
        if (s != DB_OK || p == DB_COPY_TABLES)
            continue;
        const table *pt = p == t->idx ? t : &tabs[p];
        int ref = -1;
        for (int c = 0; c < pt->n; c++)
            if (to ? !strcmp(pt->cols[c].name, to) : c == pt->pk[0])
                ref = pt->cols[c].ref;
        for (int c = 0; c < t->n; c++)
            if (!strcmp(t->cols[c].name, col ? col : ""))
                t->cols[c].ref = ref;
    }
    sql_finalize(st);
    if (s == DB_OK && rc != SQL_DONE)
        s = failed(out, db_fail(from, rc, what), from, what);
    return s;
}

static db_status read_table(db *from, const table *tabs, int idx, table *t, db_copy_report *out)
{
    memset(t, 0, sizeof *t);
    const char *name = copy_table_names[idx];
    t->idx = idx;
    t->name = name;
    const char *what = "reading the source's schema";
    sql_stmt *st = db_prepare(from, "SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid", what);
    if (!st)
        return failed(out, DB_ERR, from, what);
    sql_bind_text(st, 1, name);
    int pk_at[8] = {0};
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        const char *cname = sql_column_text(st, 0), *type = sql_column_text(st, 1);
        col_kind k;
        if (!kind_of(type ? type : "", &k)) {
            sql_finalize(st);
            return failf(out, DB_INVALID, "%s.%s has the type \"%s\", which migrate does not know", name,
                         cname ? cname : "?", type ? type : "");
        }
        t->cols = xrealloc(t->cols, (size_t)(t->n + 1) * sizeof *t->cols);
        t->cols[t->n] = (column){xstrdup(cname ? cname : ""), k, -1};
        int pk = sql_column_int(st, 2);
        if (pk > 0 && pk <= 8) {
            pk_at[pk - 1] = t->n + 1;
            if (pk > t->n_pk)
                t->n_pk = pk;
        }
        t->n++;
    }
    sql_finalize(st);
    if (rc != SQL_DONE)
        return failed(out, db_fail(from, rc, what), from, what);
    if (!t->n)
        return failf(out, DB_INVALID, "the source has no table %s: not a frontdesk store of schema version %d",
                     name, DB_SCHEMA_VERSION);
    for (int i = 0; i < t->n_pk; i++) {
        if (!pk_at[i])
            return failf(out, DB_INVALID, "%s: cannot read its primary key", name);
        t->pk[i] = pk_at[i] - 1;
    }
    if (!t->n_pk)
        return failf(out, DB_INVALID, "%s has no primary key: migrate cannot verify it", name);
    t->serial = t->n_pk == 1 && t->cols[t->pk[0]].kind == COL_INT && !strcmp(t->cols[t->pk[0]].name, "id");
    return read_refs(from, tabs, t, out);
}

/* ---- Statements built from a table ------------------------------------------ */

static void put_columns(strbuf *sb, const table *t)
{
    for (int i = 0; i < t->n; i++)
        sb_printf(sb, "%s\"%s\"", i ? ", " : "", t->cols[i].name);
}

static void put_key(strbuf *sb, const table *t)
{
    for (int i = 0; i < t->n_pk; i++)
        sb_printf(sb, "%s\"%s\"", i ? ", " : "", t->cols[t->pk[i]].name);
}

/* SELECT every column in key order; where: a condition of our own (or
 * NULL); after_key: only rows past a key given as parameters 1..n_pk;
 * limit: at most that many (0: all). */
static char *select_sql(const table *t, const char *where, bool after_key, int limit)
{
    strbuf sb = {0};
    sb_puts(&sb, "SELECT ");
    put_columns(&sb, t);
    sb_printf(&sb, " FROM \"%s\"", t->name);
    if (where)
        sb_printf(&sb, " WHERE %s", where);
    if (after_key) {
        sb_puts(&sb, where ? " AND (" : " WHERE (");
        put_key(&sb, t);
        sb_puts(&sb, ") > (");
        for (int i = 0; i < t->n_pk; i++)
            sb_puts(&sb, i ? ", ?" : "?");
        sb_puts(&sb, ")");
    }
    sb_puts(&sb, " ORDER BY ");
    put_key(&sb, t);
    if (limit)
        sb_printf(&sb, " LIMIT %d", limit);
    return sb.data;
}

/* or_skip: rows whose key the target has already are left out. */
static char *insert_sql(const table *t, int rows, bool or_skip)
{
    strbuf sb = {0};
    sb_printf(&sb, "INSERT INTO \"%s\" (", t->name);
    put_columns(&sb, t);
    sb_puts(&sb, ") VALUES ");
    for (int r = 0; r < rows; r++) {
        sb_puts(&sb, r ? ", (" : "(");
        for (int i = 0; i < t->n; i++)
            sb_puts(&sb, i ? ", ?" : "?");
        sb_puts(&sb, ")");
    }
    if (or_skip)
        sb_puts(&sb, " ON CONFLICT DO NOTHING");
    return sb.data;
}

/* ---- Copying ------------------------------------------------------------- */

/* The integer column c of src's row as it goes into the target: an id
 * moved by m; requests.folded 0 when appending (the target folds them). */
static int64_t int_value(const remap *m, const table *t, sql_stmt *src, int c)
{
    int64_t v = sql_column_int64(src, c);
    if (!m->on)
        return v;
    if (t->idx == T_REQUESTS && !strcmp(t->cols[c].name, "folded"))
        return 0;
    return remap_id(m, t->cols[c].ref, v);
}

/* Bind column c of src's row, as its column's type, to parameter p. */
static void bind_from(sql_stmt *dst, int p, sql_stmt *src, int c, const table *t, const remap *m)
{
    if (sql_column_null(src, c)) {
        sql_bind_null(dst, p);
        return;
    }
    switch (t->cols[c].kind) {
    case COL_INT:
        sql_bind_int64(dst, p, int_value(m, t, src, c));
        break;
    case COL_REAL:
        sql_bind_double(dst, p, sql_column_double(src, c));
        break;
    case COL_TEXT:
        sql_bind_text(dst, p, sql_column_text(src, c));
        break;
    case COL_BLOB: {
        const void *b = sql_column_blob(src, c);
        int n = sql_column_bytes(src, c);
        sql_bind_blob(dst, p, n > 0 && b ? b : "", n > 0 ? (size_t)n : 0); /* empty, not NULL */
        break;
    }
    }
}

db_status copy_count_rows(db *d, const char *name, int64_t *n, db_copy_report *out, const char *doing)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", name);
    sql_stmt *st = db_prepare(d, sql, doing);
    if (!st)
        return failed(out, DB_ERR, d, doing);
    int rc = sql_step(st);
    *n = rc == SQL_ROW ? sql_column_int64(st, 0) : 0;
    sql_finalize(st);
    return rc == SQL_ROW ? DB_OK : failed(out, db_fail(d, rc, doing), d, doing);
}

/* Whether the source row st holds goes into the target: when appending,
 * not a model the target has under the same key. */
static bool row_copied(const remap *m, const table *t, sql_stmt *st)
{
    return !m->on || t->idx != T_MODELS || remap_model_copied(m, sql_column_int64(st, t->pk[0]));
}

/* Rows go in batches of one multi-row INSERT, the last one shorter: the
 * rows to copy are counted first (the source cannot change: one read
 * transaction).  *copied: the rows the target took (appending may skip
 * some of model_files), *read those read for it. */
static db_status copy_table(db *from, db *to, const table *t, const remap *m, int64_t *copied, int64_t *read,
                            db_copy_report *out)
{
    char doing[96];
    snprintf(doing, sizeof doing, "copying %s", t->name);
    *copied = *read = 0;
    int64_t total;
    db_status s = copy_count_rows(from, t->name, &total, out, doing);
    if (s == DB_OK && m->on && t->idx == T_MODELS)
        for (size_t i = 0; i < m->nm; i++)
            total -= !m->mnew[i];
    if (s != DB_OK || total == 0)
        return s;
    int batch = BATCH_PARAMS / t->n;
    if (batch > BATCH_ROWS)
        batch = BATCH_ROWS;
    if (batch < 1)
        batch = 1;
    int64_t tail_at = total - total % batch; /* the rows from here go in one shorter INSERT */
    bool or_skip = m->on && t->idx == T_MODEL_FILES;
    char *sel = select_sql(t, NULL, false, 0);
    sql_stmt *src = db_prepare(from, sel, doing);
    free(sel);
    if (!src)
        return failed(out, DB_ERR, from, doing);
    sql_stmt *ins = NULL;
    int in_batch = 0, rows_per = 0;
    int rc = SQL_DONE;
    while (s == DB_OK && (rc = sql_step(src)) == SQL_ROW) {
        if (!row_copied(m, t, src))
            continue;
        if (!ins) {
            rows_per = *read >= tail_at ? (int)(total - tail_at) : batch;
            char *sql = insert_sql(t, rows_per, or_skip);
            ins = db_prepare(to, sql, doing);
            free(sql);
            if (!ins) {
                s = failed(out, DB_ERR, to, doing);
                break;
            }
        }
        for (int c = 0; c < t->n; c++)
            bind_from(ins, in_batch * t->n + c + 1, src, c, t, m);
        (*read)++;
        if (++in_batch < rows_per)
            continue;
        int irc = sql_step(ins);
        if (irc != SQL_DONE) {
            s = failed(out, db_fail(to, irc, doing), to, doing);
            break;
        }
        *copied += db_changes(to);
        in_batch = 0;
        if (*read == tail_at) { /* the next rows need the shorter statement */
            sql_finalize(ins);
            ins = NULL;
        } else
            sql_reset(ins);
    }
    if (s == DB_OK && rc != SQL_DONE)
        s = failed(out, db_fail(from, rc, doing), from, doing);
    if (s == DB_OK && (*read != total || in_batch))
        s = failf(out, DB_ERR, "%s: the source changed while it was read (%" PRId64 " rows, then %" PRId64 ")",
                  doing, total, *read);
    sql_finalize(ins);
    sql_finalize(src);
    return s;
}

/* PostgreSQL: the next id of a BIGSERIAL column follows the largest copied. */
static db_status set_sequence(db *to, const table *t, db_copy_report *out)
{
    char sql[256], doing[96];
    snprintf(sql, sizeof sql,
             "SELECT setval(pg_get_serial_sequence('%s', 'id'), coalesce(max(\"id\"), 0) + 1, false) FROM \"%s\"",
             t->name, t->name);
    snprintf(doing, sizeof doing, "setting the next id of %s", t->name);
    return db_exec(to, sql, doing) == DB_OK ? DB_OK : failed(out, DB_ERR, to, doing);
}

/* ---- Verifying ------------------------------------------------------------ */

/* A primary key's values, kept from one page to the next. */
typedef struct {
    bool null;
    int64_t i;
    double r;
    char *s; /* text or blob bytes */
    size_t n;
} key_value;

/* Column c of st's row, rendered canonically, into h; integers as
 * int_value gives them (m: the source's ids as the target holds them). */
static void hash_value(util_sha256 *h, sql_stmt *st, int c, const table *t, const remap *m)
{
    char buf[48];
    int n;
    col_kind k = t->cols[c].kind;
    if (sql_column_null(st, c)) {
        util_sha256_add(h, "N", 1);
        return;
    }
    switch (k) {
    case COL_INT:
        n = snprintf(buf, sizeof buf, "I%" PRId64 ";", int_value(m, t, st, c));
        util_sha256_add(h, buf, (size_t)n);
        break;
    case COL_REAL:
        n = snprintf(buf, sizeof buf, "R%.17g;", sql_column_double(st, c));
        util_sha256_add(h, buf, (size_t)n);
        break;
    case COL_TEXT:
    case COL_BLOB: {
        const void *p = k == COL_TEXT ? (const void *)sql_column_text(st, c) : sql_column_blob(st, c);
        int len = sql_column_bytes(st, c);
        n = snprintf(buf, sizeof buf, "%c%d:", k == COL_TEXT ? 'T' : 'B', len);
        util_sha256_add(h, buf, (size_t)n);
        if (p && len > 0)
            util_sha256_add(h, p, (size_t)len);
        break;
    }
    }
}

static void keep_key(key_value *kv, sql_stmt *st, int c, col_kind k)
{
    free(kv->s);
    memset(kv, 0, sizeof *kv);
    kv->null = sql_column_null(st, c);
    if (kv->null)
        return;
    if (k == COL_INT)
        kv->i = sql_column_int64(st, c);
    else if (k == COL_REAL)
        kv->r = sql_column_double(st, c);
    else {
        const void *p = k == COL_TEXT ? (const void *)sql_column_text(st, c) : sql_column_blob(st, c);
        kv->n = (size_t)sql_column_bytes(st, c);
        kv->s = xmalloc(kv->n + 1);
        if (kv->n)
            memcpy(kv->s, p, kv->n);
        kv->s[kv->n] = 0;
    }
}

static void bind_key(sql_stmt *st, int p, const key_value *kv, col_kind k)
{
    if (kv->null)
        sql_bind_null(st, p);
    else if (k == COL_INT)
        sql_bind_int64(st, p, kv->i);
    else if (k == COL_REAL)
        sql_bind_double(st, p, kv->r);
    else if (k == COL_TEXT)
        sql_bind_text(st, p, kv->s);
    else
        sql_bind_blob(st, p, kv->s, kv->n);
}

/* acc += the digest in hex, as 256-bit numbers (big-endian, mod 2^256). */
static void add_digest(unsigned char acc[32], const char hex[65])
{
    unsigned carry = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned byte;
        sscanf(hex + 2 * i, "%2x", &byte);
        unsigned sum = acc[i] + byte + carry;
        acc[i] = (unsigned char)sum;
        carry = sum >> 8;
    }
}

/* The row count and checksum of t on d, a page at a time by key.  Plain
 * copy (m off): one SHA-256 over the rows in key order.  Appending: ids
 * change and so may the order, so the checksum is the sum of each row's
 * SHA-256 (order-free; a row twice counts twice); on the source (m given)
 * rows as the target holds them, on the target (m NULL) only the rows
 * `where` picks, those copied. */
static db_status checksum(db *d, const table *t, const remap *m, bool multiset, const char *where, int64_t *rows,
                          char hex[65], db_copy_report *out)
{
    static const remap as_is = {0};
    if (!m)
        m = &as_is;
    char doing[96];
    snprintf(doing, sizeof doing, "verifying %s on %s", t->name, db_path(d));
    *rows = 0;
    hex[0] = 0;
    util_sha256 *h = util_sha256_begin();
    if (!h)
        return failf(out, DB_ERR, "%s: SHA-256 is not available from libcrypto", doing);
    /* what the checksum covers: the table and its columns, in order */
    util_sha256_add(h, t->name, strlen(t->name));
    for (int i = 0; i < t->n; i++) {
        util_sha256_add(h, "|", 1);
        util_sha256_add(h, t->cols[i].name, strlen(t->cols[i].name));
    }
    util_sha256_add(h, "\n", 1);
    unsigned char acc[32] = {0};
    char *first_sql = select_sql(t, where, false, PAGE_ROWS), *next_sql = select_sql(t, where, true, PAGE_ROWS);
    key_value key[8] = {{0}};
    db_status s = DB_OK;
    for (bool first = true;; first = false) {
        sql_stmt *st = db_prepare(d, first ? first_sql : next_sql, doing);
        if (!st) {
            s = failed(out, DB_ERR, d, doing);
            break;
        }
        for (int i = 0; !first && i < t->n_pk; i++)
            bind_key(st, i + 1, &key[i], t->cols[t->pk[i]].kind);
        int rc, got = 0;
        while ((rc = sql_step(st)) == SQL_ROW) {
            got++;
            for (int i = 0; i < t->n_pk; i++)
                keep_key(&key[i], st, t->pk[i], t->cols[t->pk[i]].kind);
            if (!row_copied(m, t, st))
                continue;
            util_sha256 *rh = multiset ? util_sha256_begin() : h;
            for (int c = 0; c < t->n; c++)
                hash_value(rh, st, c, t, m);
            if (multiset) {
                char row_hex[65];
                util_sha256_end(rh, row_hex);
                add_digest(acc, row_hex);
            }
            (*rows)++;
        }
        if (rc != SQL_DONE)
            s = failed(out, db_fail(d, rc, doing), d, doing);
        sql_finalize(st);
        if (s != DB_OK || got < PAGE_ROWS)
            break;
    }
    for (int i = 0; i < 8; i++)
        free(key[i].s);
    free(first_sql);
    free(next_sql);
    if (multiset)
        util_sha256_add(h, acc, sizeof acc);
    util_sha256_end(h, hex);
    return s;
}

/* ---- The whole copy ------------------------------------------------------- */

/* Whether t's rows are copied: when appending, not the rollups (the
 * target folds the copied requests into its own) nor a deployment when
 * the target has one. */
static bool table_copied(const table *t, const remap *m)
{
    return !m->on || (t->idx != T_ROLLUPS && !(t->idx == T_DEPLOYMENT && m->keep_deployment));
}

/* When appending, the rows of t on the target that were copied (ids past
 * the target's largest before); NULL: all of them. */
static const char *copied_rows(const table *t, const remap *m, char *buf, size_t size)
{
    static const struct {
        int idx;
        const char *col;
        int parent;
    } by[] = {{T_RATINGS, "message_id", T_MESSAGES},
              {T_RATING_TAGS, "message_id", T_MESSAGES},
              {T_EVAL_ITEMS, "run_id", T_EVAL_RUNS},
              {T_HANDLES, "conversation_id", T_CONVERSATIONS}};
    if (!m->on)
        return NULL;
    if (t->serial && t->idx != T_DEPLOYMENT) {
        snprintf(buf, size, "\"id\" > %" PRId64, m->off[t->idx]);
        return buf;
    }
    for (size_t i = 0; i < sizeof by / sizeof *by; i++)
        if (by[i].idx == t->idx) {
            snprintf(buf, size, "\"%s\" > %" PRId64, by[i].col, m->off[by[i].parent]);
            return buf;
        }
    return NULL;
}

/* Both sides of table i agree: row counts and checksums (when appending,
 * the cached file hashes by count only: those the target had stay). */
static db_status verify_table(db *from, db *to, const table *t, const remap *m, int64_t files_before,
                              db_copy_table *r, db_copy_report *out)
{
    int64_t n_from, n_to;
    char h_from[65], h_to[65], where[96];
    db_status s;
    if (m->on && t->idx == T_MODEL_FILES) {
        if ((s = copy_count_rows(to, t->name, &n_to, out, "verifying model_files")) != DB_OK)
            return s;
        if (n_to != files_before + r->rows)
            return failf(out, DB_ERR,
                         "verifying model_files: the target has %" PRId64 " rows, not %" PRId64
                         " + %" PRId64 "; nothing was copied",
                         n_to, files_before, r->rows);
        return DB_OK;
    }
    if ((s = checksum(from, t, m, m->on, NULL, &n_from, h_from, out)) != DB_OK ||
        (s = checksum(to, t, NULL, m->on, copied_rows(t, m, where, sizeof where), &n_to, h_to, out)) != DB_OK)
        return s;
    if (n_from != n_to || n_from != r->rows)
        return failf(out, DB_ERR,
                     "verifying %s: the source has %" PRId64 " rows to copy, the target %" PRId64
                     " after copying %" PRId64 "; nothing was copied",
                     r->table, n_from, n_to, r->rows);
    if (strcmp(h_from, h_to))
        return failf(out, DB_ERR,
                     "verifying %s: its rows differ between the source and the target (SHA-256 %.16s… "
                     "against %.16s…); nothing was copied",
                     r->table, h_from, h_to);
    memcpy(r->sha256, h_to, sizeof r->sha256);
    return DB_OK;
}

/* Everything inside the two transactions: the source's read, the
 * target's write. */
static db_status copy_all(db *from, db *to, bool append, table *tabs, remap *m, db_copy_report *out)
{
    db_status s = copy_check_source_tables(from, out);
    for (int i = 0; s == DB_OK && i < DB_COPY_TABLES; i++)
        if ((s = read_table(from, tabs, i, &tabs[i], out)) == DB_OK)
            s = copy_check_types(from, &tabs[i], out);
    if (s == DB_OK)
        s = copy_check_source_idle(from, out);
    char *held = NULL;
    if (s == DB_OK && (s = copy_target_rows(to, &held, out)) == DB_OK && *held) {
        if (!append)
            s = failf(out, DB_INVALID,
                      "%s already holds rows (%s); migrate copies only into an empty store unless --append: "
                      "nothing was copied",
                      db_path(to), held);
        else if ((s = remap_build(from, to, tabs, m, out)) == DB_OK)
            out->appended = true;
    }
    free(held);
    int64_t files_before = 0;
    if (s == DB_OK && m->on)
        s = copy_count_rows(to, "model_files", &files_before, out, "looking into the target");
    for (size_t i = 0; s == DB_OK && i < DB_COPY_TABLES; i++) {
        db_copy_table *r = &out->tables[out->n++];
        r->table = copy_table_names[i];
        int64_t in_source, read = 0;
        s = copy_count_rows(from, r->table, &in_source, out, "reading the source");
        if (s == DB_OK && table_copied(&tabs[i], m))
            s = copy_table(from, to, &tabs[i], m, &r->rows, &read, out);
        if (s == DB_OK && db_is_pg(to) && tabs[i].serial)
            s = set_sequence(to, &tabs[i], out);
        if (s == DB_OK) {
            r->kept = in_source - r->rows;
            out->rows += r->rows;
            if (out->progress)
                out->progress(out->arg, r, false);
        }
    }
    for (size_t i = 0; s == DB_OK && i < DB_COPY_TABLES; i++) {
        if (!table_copied(&tabs[i], m))
            continue;
        if ((s = verify_table(from, to, &tabs[i], m, files_before, &out->tables[i], out)) == DB_OK &&
            out->progress)
            out->progress(out->arg, &out->tables[i], true);
    }
    return s;
}

db_status db_copy(db *from, db *to, bool append, db_copy_report *out)
{
    void (*progress)(void *, const db_copy_table *, bool) = out->progress;
    void *arg = out->arg;
    memset(out, 0, sizeof *out);
    out->progress = progress;
    out->arg = arg;
    double t0 = db_now();
    db_status s = copy_check_versions(from, to, out);
    if (s != DB_OK)
        return s;
    /* one moment of the source: a read transaction for everything */
    if (db_exec(from, "BEGIN", "reading the source") != DB_OK)
        return failed(out, DB_ERR, from, "reading the source");
    if ((s = db_begin(to, "writing the target")) != DB_OK) {
        db_rollback(from);
        return failed(out, s, to, "writing the target");
    }
    table tabs[DB_COPY_TABLES] = {{0}};
    remap m = {0};
    s = copy_all(from, to, append, tabs, &m, out);
    if (s == DB_OK && (s = db_commit(to, "committing the copy")) != DB_OK)
        failed(out, s, to, "committing the copy");
    if (s != DB_OK)
        db_rollback(to);
    db_rollback(from);
    /* appended requests go into the target's own rollups, merged there
     * (short transactions of their own; anything left is folded the next
     * time a frontdesk opens the store) */
    if (s == DB_OK && m.on && db_rollup_catch_up(to, &out->refolded) != DB_OK) {
        s = failed(out, DB_ERR, to, "the copy is committed, but folding its requests into the rollups failed");
        snprintf(out->err + strlen(out->err), sizeof out->err - strlen(out->err),
                 "; they are folded the next time frontdesk opens the store");
    }
    for (size_t i = 0; i < DB_COPY_TABLES; i++)
        table_free(&tabs[i]);
    remap_free(&m);
    out->seconds = db_now() - t0;
    return s;
}
