/*
 * chats.c — conversations and messages (see chats.h for the tree of
 * messages), search over message text, and erasure; model versions are
 * in models.c.
 *
 * Search takes the user's text literally: three characters or more go to
 * the FTS5 trigram index as one quoted phrase (a substring match in any
 * script); shorter text (two CJK characters, say) cannot use trigrams and
 * is found by scanning with instr().  The trigram index folds the case of
 * every script, so what it finds is checked again by instr() on the text
 * with ASCII letters lowered, the case-insensitivity chats.h promises.  On
 * PostgreSQL every search is a case-insensitive LIKE of the escaped text
 * (ASCII only on text COLLATE "C"), which the pg_trgm index serves from
 * three characters on.
 */
#include "storage/chats.h"

#include "storage/db_internal.h"
#include "util/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Conversations ------------------------------------------------------------ */

db_status db_conv_create(db *d, const char *profile, const char *system_prompt, int64_t *id)
{
    const char *what = "creating a conversation";
    db_status s = db_begin(d, what);
    if (s != DB_OK)
        return s;
    sql_stmt *st = db_prepare(d,
                                  "INSERT INTO conversations (profile, system_prompt, created_at, updated_at)"
                                  " VALUES (?, ?, ?3, ?3) RETURNING id",
                                  what);
    if (!st) {
        db_rollback(d);
        return DB_ERR;
    }
    db_bind_text(st, 1, profile ? profile : "");
    db_bind_text(st, 2, system_prompt);
    sql_bind_double(st, 3, db_now());
    if ((s = db_step_id(d, st, id, what)) != DB_OK) {
        db_rollback(d);
        return s;
    }
    if (system_prompt && *system_prompt) {
        st = db_prepare(d,
                        "INSERT INTO messages (conversation_id, role, text, created_at)"
                        " VALUES (?, 'system', ?, ?)",
                        what);
        if (!st) {
            db_rollback(d);
            return DB_ERR;
        }
        sql_bind_int64(st, 1, *id);
        sql_bind_text(st, 2, system_prompt);
        sql_bind_double(st, 3, db_now());
        if ((s = db_step_done(d, st, what)) != DB_OK) {
            db_rollback(d);
            return s;
        }
    }
    return db_commit(d, what);
}

#define CONV_COLUMNS                                                                                \
    "c.id, c.title, c.profile, c.system_prompt, c.status, c.created_at, c.updated_at,"             \
    " (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.active = 1"                \
    "   AND m.role != 'system'),"                                                                  \
    " (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.role = 'agent'"        \
    "   AND EXISTS (SELECT 1 FROM ratings r WHERE r.message_id = m.id)),"                          \
    " CASE WHEN c.profile = '" DB_PROFILE_ARENA "' THEN 0 ELSE"                                  \
    " (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.role = 'agent'"        \
    "   AND m.text != '' AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.message_id = m.id"        \
    "   AND r.score IS NOT NULL)) END"

static void read_conv(sql_stmt *st, db_conv *c)
{
    c->id = sql_column_int64(st, 0);
    c->title = db_col_text(st, 1, false);
    c->profile = db_col_text(st, 2, false);
    c->system_prompt = db_col_text(st, 3, true);
    c->status = db_col_text(st, 4, false);
    c->created_at = sql_column_double(st, 5);
    c->updated_at = sql_column_double(st, 6);
    c->n_messages = sql_column_int(st, 7);
    c->n_rated = sql_column_int(st, 8);
    c->n_unrated = sql_column_int(st, 9);
}

db_status db_conv_get(db *d, int64_t id, db_conv *out)
{
    const char *what = "reading a conversation";
    memset(out, 0, sizeof *out);
    sql_stmt *st = db_prepare(d, "SELECT " CONV_COLUMNS " FROM conversations c WHERE c.id = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, id);
    int rc = sql_step(st);
    db_status s = DB_OK;
    if (rc == SQL_ROW)
        read_conv(st, out);
    else if (rc == SQL_DONE)
        s = db_failf(d, DB_NOTFOUND, "there is no conversation %lld", (long long)id);
    else
        s = db_fail(d, rc, what);
    sql_finalize(st);
    return s;
}

/* Number of UTF-8 characters in s (bytes 10xxxxxx are not counted). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* The FTS5 query for a literal text: one phrase, quotes doubled. */
static char *fts_phrase(const char *text)
{
    strbuf sb = {0};
    sb_putc(&sb, '"');
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            sb_putc(&sb, '"');
        sb_putc(&sb, *p);
    }
    sb_putc(&sb, '"');
    return sb.data;
}

/* Whether s is valid UTF-8 (PostgreSQL holds nothing else, so text that
 * is not cannot be found there). */
static bool utf8_ok(const char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = util_utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (cp == 0xFFFD && (k != 3 || memcmp(s + i, "\xef\xbf\xbd", 3)))
            return false;
        i += k;
    }
    return true;
}

/* The LIKE pattern matching text anywhere, its % _ and \\ escaped. */
static char *like_pattern(const char *text)
{
    strbuf sb = {0};
    sb_putc(&sb, '%');
    for (const char *p = text; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            sb_putc(&sb, '\\');
        sb_putc(&sb, *p);
    }
    sb_putc(&sb, '%');
    return sb.data;
}

db_status db_conv_list(db *d, const char *search, int limit, db_conv **out, size_t *n)
{
    const char *what = "listing conversations";
    *out = NULL;
    *n = 0;
    bool searching = search && *search;
    bool fts = searching && utf8_chars(search) >= 3;
    const char *sql =
        !searching ? "SELECT " CONV_COLUMNS " FROM conversations c"
                     " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?1"
        : fts ? "SELECT " CONV_COLUMNS " FROM conversations c WHERE c.id IN"
                " (SELECT m.conversation_id FROM messages m WHERE m.id IN"
                "  (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?2)"
                "  AND instr(lower(m.text), ?3) > 0)"
                " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?1"
              : "SELECT " CONV_COLUMNS " FROM conversations c WHERE c.id IN"
                " (SELECT m.conversation_id FROM messages m WHERE instr(lower(m.text), ?2) > 0)"
                " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?1";
    if (searching && db_is_pg(d) && !utf8_ok(search))
        return DB_OK;
    if (searching && db_is_pg(d))
        sql = "SELECT " CONV_COLUMNS " FROM conversations c WHERE c.id IN"
              " (SELECT m.conversation_id FROM messages m WHERE m.text ILIKE ?2 ESCAPE '\\')"
              " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?1";
    sql_stmt *st = db_prepare(d, sql, what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, limit > 0 ? limit : INT64_MAX); /* no limit */
    if (searching) {
        if (db_is_pg(d) || fts) {
            char *q = db_is_pg(d) ? like_pattern(search) : fts_phrase(search);
            sql_bind_text(st, 2, q);
            free(q);
        }
        if (!db_is_pg(d)) /* the trigram index folds every script: ASCII only, as promised */
            db_bind_text_ascii_lower(st, fts ? 3 : 2, search);
    }
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        *out = xreallocarray(*out, *n + 1, sizeof **out);
        read_conv(st, &(*out)[(*n)++]);
    }
    sql_finalize(st);
    if (rc != SQL_DONE) {
        db_convs_free(*out, *n);
        *out = NULL;
        *n = 0;
        return db_fail(d, rc, what);
    }
    return DB_OK;
}

/* Run an UPDATE of one conversation row; DB_NOTFOUND when it is missing. */
static db_status conv_update(db *d, int64_t id, const char *sql, const char *text, int flag,
                             const char *what)
{
    sql_stmt *st = db_prepare(d, sql, what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, id);
    db_bind_text(st, 2, text);
    sql_bind_int(st, 3, flag);
    sql_bind_double(st, 4, db_now());
    db_status s = db_step_done(d, st, what);
    if (s == DB_OK && db_changes(d) == 0)
        return db_failf(d, DB_NOTFOUND, "there is no conversation %lld", (long long)id);
    return s;
}

db_status db_conv_rename(db *d, int64_t id, const char *title)
{
    return conv_update(d, id,
                       "UPDATE conversations SET title = ?2, title_set = ?3, updated_at = ?4 WHERE id = ?1",
                       title, 1, "renaming the conversation");
}

db_status db_conv_set_closed(db *d, int64_t id, bool closed)
{
    return conv_update(d, id,
                       "UPDATE conversations SET status = CASE WHEN ?3 <> 0 THEN 'closed' ELSE 'open' END,"
                       " updated_at = ?4 WHERE id = ?1 AND ?2 IS NULL",
                       NULL, closed, "changing the conversation's status");
}

void db_conv_clear(db_conv *c)
{
    if (!c)
        return;
    free(c->title);
    free(c->profile);
    free(c->system_prompt);
    free(c->status);
    memset(c, 0, sizeof *c);
}

void db_convs_free(db_conv *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        db_conv_clear(&c[i]);
    free(c);
}

/* ---- Messages -------------------------------------------------------------------- */

const char *db_role_name(db_role r)
{
    return r == DB_ROLE_SYSTEM ? "system" : r == DB_ROLE_CUSTOMER ? "customer" : "agent";
}

static db_role role_from(const char *s)
{
    return !strcmp(s, "system") ? DB_ROLE_SYSTEM : !strcmp(s, "customer") ? DB_ROLE_CUSTOMER : DB_ROLE_AGENT;
}

/* A title from a customer message: its first line, at most 60 characters,
 * cut at a character boundary. */
static char *derive_title(const char *text)
{
    while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
        text++;
    size_t end = strcspn(text, "\r\n");
    size_t chars = 0, i = 0;
    while (i < end) {
        if (((unsigned char)text[i] & 0xc0) != 0x80 && ++chars > 60)
            break;
        i++;
    }
    char *t = xstrndup(text, i);
    if (i < end) { /* cut short: say so */
        t = xrealloc(t, i + 4);
        memcpy(t + i, "...", 4);
    }
    return t;
}

/* The last active message of a conversation (0 if none). */
static db_status last_active(db *d, int64_t conv, int64_t *id, const char *what)
{
    sql_stmt *st =
        db_prepare(d, "SELECT max(id) FROM messages WHERE conversation_id = ? AND active = 1", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, conv);
    int rc = sql_step(st);
    *id = rc == SQL_ROW ? sql_column_int64(st, 0) : 0;
    sql_finalize(st);
    return rc == SQL_ROW ? DB_OK : db_fail(d, rc, what);
}

static db_status touch_conv(db *d, int64_t conv, const char *what)
{
    sql_stmt *st = db_prepare(d, "UPDATE conversations SET updated_at = ? WHERE id = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_double(st, 1, db_now());
    sql_bind_int64(st, 2, conv);
    return db_step_done(d, st, what);
}

/* Insert a message after prev in conv (inside a transaction). */
static db_status insert_msg(db *d, int64_t conv, db_role role, const char *text, int64_t prev,
                            int64_t parent, int64_t model_id, const char *sampling, int64_t *id,
                            const char *what)
{
    sql_stmt *st = db_prepare(d,
                                  "INSERT INTO messages (conversation_id, role, text, created_at, prev_id,"
                                  " parent_id, model_id, sampling) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, conv);
    sql_bind_text(st, 2, db_role_name(role));
    sql_bind_text(st, 3, text);
    sql_bind_double(st, 4, db_now());
    db_bind_id(st, 5, prev);
    db_bind_id(st, 6, parent);
    db_bind_id(st, 7, model_id);
    db_bind_text(st, 8, sampling);
    return db_step_id(d, st, id, what);
}

static db_status conv_exists(db *d, int64_t conv, const char *what)
{
    sql_stmt *st = db_prepare(d, "SELECT title_set, title FROM conversations WHERE id = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, conv);
    int rc = sql_step(st);
    sql_finalize(st);
    if (rc == SQL_DONE)
        return db_failf(d, DB_NOTFOUND, "there is no conversation %lld", (long long)conv);
    return rc == SQL_ROW ? DB_OK : db_fail(d, rc, what);
}

db_status db_msg_add(db *d, int64_t conv, db_role role, const char *text, int64_t *id)
{
    const char *what = "saving the message";
    db_status s = db_begin(d, what);
    int64_t prev = 0;
    if (s == DB_OK)
        s = conv_exists(d, conv, what);
    if (s == DB_OK)
        s = last_active(d, conv, &prev, what);
    if (s == DB_OK)
        s = insert_msg(d, conv, role, text, prev, 0, 0, NULL, id, what);
    if (s == DB_OK && role == DB_ROLE_CUSTOMER) {
        char *title = derive_title(text);
        sql_stmt *st = db_prepare(d,
                                      "UPDATE conversations SET title = ? WHERE id = ? AND title_set = 0"
                                      " AND title = ''",
                                      what);
        if (st) {
            sql_bind_text(st, 1, title);
            sql_bind_int64(st, 2, conv);
            s = db_step_done(d, st, what);
        } else
            s = DB_ERR;
        free(title);
    }
    if (s == DB_OK)
        s = touch_conv(d, conv, what);
    if (s != DB_OK) {
        db_rollback(d);
        return s;
    }
    return db_commit(d, what);
}

#define MSG_COLUMNS                                                                                 \
    "id, conversation_id, coalesce(prev_id, 0), coalesce(parent_id, 0), coalesce(model_id, 0),"    \
    " role, text, created_at, active, sampling, logprob_mean, logprob_min"

static void read_msg(sql_stmt *st, db_msg *m)
{
    m->id = sql_column_int64(st, 0);
    m->conversation_id = sql_column_int64(st, 1);
    m->prev_id = sql_column_int64(st, 2);
    m->parent_id = sql_column_int64(st, 3);
    m->model_id = sql_column_int64(st, 4);
    m->role = role_from((const char *)sql_column_text(st, 5));
    m->text = db_col_text(st, 6, false);
    m->created_at = sql_column_double(st, 7);
    m->active = sql_column_int(st, 8) != 0;
    m->sampling = db_col_text(st, 9, true);
    m->has_logprob = !sql_column_null(st, 10) && !sql_column_null(st, 11);
    m->logprob_mean = m->has_logprob ? sql_column_double(st, 10) : 0;
    m->logprob_min = m->has_logprob ? sql_column_double(st, 11) : 0;
}

db_status db_msg_get(db *d, int64_t id, db_msg *out)
{
    const char *what = "reading a message";
    memset(out, 0, sizeof *out);
    sql_stmt *st = db_prepare(d, "SELECT " MSG_COLUMNS " FROM messages WHERE id = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, id);
    int rc = sql_step(st);
    db_status s = DB_OK;
    if (rc == SQL_ROW)
        read_msg(st, out);
    else if (rc == SQL_DONE)
        s = db_failf(d, DB_NOTFOUND, "there is no message %lld", (long long)id);
    else
        s = db_fail(d, rc, what);
    sql_finalize(st);
    return s;
}

db_status db_msgs_list(db *d, int64_t conv, bool all, db_msg **out, size_t *n)
{
    const char *what = "reading the conversation's messages";
    *out = NULL;
    *n = 0;
    sql_stmt *st = db_prepare(d,
                                  "SELECT " MSG_COLUMNS " FROM messages WHERE conversation_id = ?"
                                  " AND (? <> 0 OR active = 1) ORDER BY id",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, conv);
    sql_bind_int(st, 2, all);
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        *out = xreallocarray(*out, *n + 1, sizeof **out);
        read_msg(st, &(*out)[(*n)++]);
    }
    sql_finalize(st);
    if (rc != SQL_DONE) {
        db_msgs_free(*out, *n);
        *out = NULL;
        *n = 0;
        return db_fail(d, rc, what);
    }
    return DB_OK;
}

db_status db_msg_thread(db *d, int64_t id, db_msg **out, size_t *n)
{
    const char *what = "reading the conversation thread";
    *out = NULL;
    *n = 0;
    sql_stmt *st = db_prepare(d,
                                  "WITH RECURSIVE chain(id) AS (SELECT ?1 UNION ALL"
                                  " SELECT m.prev_id FROM messages m JOIN chain c ON m.id = c.id"
                                  " WHERE m.prev_id IS NOT NULL)"
                                  " SELECT " MSG_COLUMNS " FROM messages WHERE id IN (SELECT id FROM chain) ORDER BY id",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, id);
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        *out = xreallocarray(*out, *n + 1, sizeof **out);
        read_msg(st, &(*out)[(*n)++]);
    }
    sql_finalize(st);
    if (rc != SQL_DONE) {
        db_msgs_free(*out, *n);
        *out = NULL;
        *n = 0;
        return db_fail(d, rc, what);
    }
    if (!*n)
        return db_failf(d, DB_NOTFOUND, "there is no message %lld", (long long)id);
    return DB_OK;
}

void db_msg_clear(db_msg *m)
{
    if (!m)
        return;
    free(m->text);
    free(m->sampling);
    memset(m, 0, sizeof *m);
}

void db_msgs_free(db_msg *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        db_msg_clear(&m[i]);
    free(m);
}

/* Make message id and every later active message of its conversation
 * inactive; *prev gets the message id followed. */
static db_status retire_from(db *d, int64_t id, db_role want, int64_t *conv, int64_t *prev,
                             const char *what)
{
    sql_stmt *st =
        db_prepare(d, "SELECT conversation_id, coalesce(prev_id, 0), role FROM messages WHERE id = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, id);
    int rc = sql_step(st);
    db_status s = DB_OK;
    if (rc == SQL_ROW) {
        *conv = sql_column_int64(st, 0);
        *prev = sql_column_int64(st, 1);
        if (role_from((const char *)sql_column_text(st, 2)) != want)
            s = db_failf(d, DB_INVALID, "message %lld is not a%s message", (long long)id,
                         want == DB_ROLE_AGENT ? "n agent" : " customer");
    } else
        s = rc == SQL_DONE ? db_failf(d, DB_NOTFOUND, "there is no message %lld", (long long)id)
                              : db_fail(d, rc, what);
    sql_finalize(st);
    if (s != DB_OK)
        return s;
    st = db_prepare(d, "UPDATE messages SET active = 0 WHERE conversation_id = ? AND id >= ? AND active = 1",
                    what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, *conv);
    sql_bind_int64(st, 2, id);
    return db_step_done(d, st, what);
}

db_status db_msg_edit(db *d, int64_t id, const char *text, int64_t *new_id)
{
    const char *what = "editing the message";
    int64_t conv = 0, prev = 0;
    db_status s = db_begin(d, what);
    if (s == DB_OK)
        s = retire_from(d, id, DB_ROLE_CUSTOMER, &conv, &prev, what);
    if (s == DB_OK)
        s = insert_msg(d, conv, DB_ROLE_CUSTOMER, text, prev, id, 0, NULL, new_id, what);
    if (s == DB_OK)
        s = touch_conv(d, conv, what);
    if (s != DB_OK) {
        db_rollback(d);
        return s;
    }
    return db_commit(d, what);
}

db_status db_reply_begin(db *d, int64_t conv, int64_t model_id, const char *sampling, int64_t replaces,
                         int64_t *id)
{
    const char *what = "starting the reply";
    int64_t prev = 0, rconv = conv;
    db_status s = db_begin(d, what);
    if (s == DB_OK)
        s = conv_exists(d, conv, what);
    if (s == DB_OK && replaces > 0) {
        s = retire_from(d, replaces, DB_ROLE_AGENT, &rconv, &prev, what);
        if (s == DB_OK && rconv != conv)
            s = db_failf(d, DB_INVALID, "message %lld belongs to another conversation", (long long)replaces);
    } else if (s == DB_OK)
        s = last_active(d, conv, &prev, what);
    if (s == DB_OK)
        s = insert_msg(d, conv, DB_ROLE_AGENT, "", prev, replaces, model_id, sampling, id, what);
    if (s != DB_OK) {
        db_rollback(d);
        return s;
    }
    return db_commit(d, what);
}

db_status db_reply_progress(db *d, int64_t id, const char *text)
{
    const char *what = "saving the reply so far";
    sql_stmt *st = db_prepare(d, "UPDATE messages SET text = ? WHERE id = ? AND role = 'agent'", what);
    if (!st)
        return DB_ERR;
    sql_bind_text(st, 1, text);
    sql_bind_int64(st, 2, id);
    return db_step_done(d, st, what);
}

db_status db_reply_end(db *d, int64_t id, const char *text, int64_t model_id)
{
    const char *what = "saving the reply";
    db_status s = db_begin(d, what);
    if (s != DB_OK)
        return s;
    sql_stmt *st;
    /* touch the conversation first: an empty reply is deleted below */
    if ((st = db_prepare(d,
                         "UPDATE conversations SET updated_at = ?1 WHERE id ="
                         " (SELECT conversation_id FROM messages WHERE id = ?2)",
                         what))) {
        sql_bind_double(st, 1, db_now());
        sql_bind_int64(st, 2, id);
        s = db_step_done(d, st, what);
    } else
        s = DB_ERR;
    if (s == DB_OK && text && *text) {
        st = db_prepare(d, "UPDATE messages SET text = ?, model_id = coalesce(?, model_id) WHERE id = ?",
                        what);
        if (st) {
            sql_bind_text(st, 1, text);
            db_bind_id(st, 2, model_id);
            sql_bind_int64(st, 3, id);
            s = db_step_done(d, st, what);
        } else
            s = DB_ERR;
    } else if (s == DB_OK) {
        /* nothing was generated: bring back what it replaced, drop it */
        st = db_prepare(d,
                        "UPDATE messages SET active = 1 WHERE id ="
                        " (SELECT parent_id FROM messages WHERE id = ?1)",
                        what);
        if (st) {
            sql_bind_int64(st, 1, id);
            s = db_step_done(d, st, what);
        } else
            s = DB_ERR;
        if (s == DB_OK && (st = db_prepare(d, "DELETE FROM messages WHERE id = ?", what))) {
            sql_bind_int64(st, 1, id);
            s = db_step_done(d, st, what);
        } else if (s == DB_OK)
            s = DB_ERR;
    }
    if (s != DB_OK) {
        db_rollback(d);
        return s;
    }
    return db_commit(d, what);
}

db_status db_reply_confidence(db *d, int64_t id, double mean, double min)
{
    const char *what = "saving the reply's confidence";
    sql_stmt *st = db_prepare(d, "UPDATE messages SET logprob_mean = ?, logprob_min = ? WHERE id = ?"
                                     " AND role = 'agent'",
                                  what);
    if (!st)
        return DB_ERR;
    if (isnan(mean))
        sql_bind_null(st, 1);
    else
        sql_bind_double(st, 1, mean);
    if (isnan(min))
        sql_bind_null(st, 2);
    else
        sql_bind_double(st, 2, min);
    sql_bind_int64(st, 3, id);
    db_status s = db_step_done(d, st, what);
    if (s == DB_OK && db_changes(d) == 0)
        return db_failf(d, DB_NOTFOUND, "there is no reply %lld", (long long)id);
    return s;
}

/* ---- Erasure -------------------------------------------------------------------------- */

/* After deleting text: SQLite rewrites the search index without it and
 * moves the WAL into the main file (whose freed pages secure_delete
 * zeroed); PostgreSQL vacuums the tables that held it, so their dead rows'
 * space is reclaimed (its WAL and backups keep the text until recycled). */
static void scrub(db *d)
{
    if (db_is_pg(d)) {
        db_exec(d, "VACUUM messages, ratings, rating_tags, handles, conversations, eval_items", "vacuuming");
        return;
    }
    db_exec(d, "INSERT INTO messages_fts(messages_fts) VALUES ('optimize')", "optimizing the search index");
    db_exec(d, "PRAGMA wal_checkpoint(TRUNCATE)", "checkpointing");
}

static db_status delete_convs(db *d, const char *where, double arg, int *n, const char *what)
{
    db_status s = db_begin(d, what);
    if (s != DB_OK)
        return s;
    strbuf sql = {0};
    /* request rows stay as anonymous figures */
    sb_printf(&sql,
              "UPDATE requests SET conversation_id = NULL, message_id = NULL WHERE conversation_id IN"
              " (SELECT id FROM conversations WHERE %s)",
              where);
    sql_stmt *st = db_prepare(d, sql.data, what);
    if (st) {
        sql_bind_double(st, 1, arg);
        s = db_step_done(d, st, what);
    } else
        s = DB_ERR;
    sb_clear(&sql);
    sb_printf(&sql, "DELETE FROM conversations WHERE %s", where);
    if (s == DB_OK && (st = db_prepare(d, sql.data, what))) {
        sql_bind_double(st, 1, arg);
        s = db_step_done(d, st, what);
        *n = db_changes(d);
    } else if (s == DB_OK)
        s = DB_ERR;
    sb_free(&sql);
    if (s != DB_OK) {
        db_rollback(d);
        return s;
    }
    if ((s = db_commit(d, what)) == DB_OK && *n)
        scrub(d);
    return s;
}

db_status db_forget(db *d, int64_t conv)
{
    int n = 0;
    db_status s = delete_convs(d, "id = ?1", (double)conv, &n, "forgetting the conversation");
    if (s == DB_OK && n == 0)
        return db_failf(d, DB_NOTFOUND, "there is no conversation %lld", (long long)conv);
    return s;
}

db_status db_purge(db *d, double before, int *n)
{
    *n = 0;
    return delete_convs(d, "updated_at < ?1", before, n, "purging old conversations");
}
