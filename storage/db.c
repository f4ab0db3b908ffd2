/*
 * db.c — opening the database: pragmas, numbered migrations, recovery of
 * requests whose process died, and the statement helpers the other
 * storage/ files share.
 *
 * The schema (see `migrations` below for the exact SQL):
 *   models          one row per model version: a local file by SHA-256, a
 *                   remote one by URL + model name
 *   model_files     path/size/mtime -> SHA-256, so a file is hashed once
 *   conversations   title, profile, system prompt, status
 *   messages        a tree per conversation: prev_id is the message a turn
 *                   follows, parent_id the earlier version it replaces
 *                   (regenerate, edit); `active` marks the current thread
 *   requests        one row per generation asked of a backend, with its
 *                   owner (pid, process start time, host) while running
 *   ratings         one row per (reply, rater); rating_tags beside it
 *   messages_fts    FTS5 trigram index over message text
 *   handles         serve's conversation tokens and completion ids
 *   rollups         per-minute / per-hour aggregates of finished requests
 *                   (storage/rollup.h); requests.folded marks those counted
 *   alert_episodes  each alert's episodes, at most one open per name
 *   eval_runs       offline evaluation runs; eval_items their per-item results
 *   arena_judgements  blind side-by-side judgements of two versions' replies
 *   deployment      the stable version, the candidate and its share (one
 *                   row; none until the first deploy); deployment_history
 *                   every change with who, why and the figures then
 *
 * What this file does not do: any query of those tables (chats.c,
 * ratings.c, metrics.c, export.c).
 */
#include "storage/db_internal.h"
#include "storage/rollup.h"

#include "util/private.h"
#include "util/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- Helpers shared by storage/ ---------------------------------------- */

db_status db_failf(db *d, db_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
    return st;
}

db_status db_fail(db *d, int rc, const char *what)
{
    const char *msg = d->conn ? sqlite3_errmsg(d->conn) : sqlite3_errstr(rc);
    int sys = d->conn ? sqlite3_system_errno(d->conn) : 0;
    if ((rc & 0xff) == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT))
        rc = SQLITE_FULL;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return db_failf(d, DB_BUSY,
                        "%s: the database %s is locked by another process (gave up after waiting); "
                        "nothing was lost, try again",
                        what, d->path);
    case SQLITE_FULL:
        return db_failf(d, DB_FULL, "%s: the disk holding %s is full; nothing already saved was lost",
                        what, d->path);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return db_failf(d, DB_CORRUPT, "%s: %s is not a frontdesk database or is damaged (%s)", what,
                        d->path, msg);
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        return db_failf(d, DB_ERR, "%s: cannot write %s (%s)", what, d->path, msg);
    case SQLITE_IOERR:
        if (rc == SQLITE_IOERR_WRITE || rc == SQLITE_IOERR_FSYNC)
            return db_failf(d, DB_FULL, "%s: writing %s failed (%s; is the disk full?)", what, d->path,
                            msg);
        return db_failf(d, DB_ERR, "%s: I/O error on %s (%s)", what, d->path, msg);
    default:
        return db_failf(d, DB_ERR, "%s: %s (%s)", what, msg, d->path);
    }
}

sqlite3_stmt *db_prepare(db *d, const char *sql, const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->conn, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        db_fail(d, rc, what);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

db_status db_exec(db *d, const char *sql, const char *what)
{
    int rc = sqlite3_exec(d->conn, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? DB_OK : db_fail(d, rc, what);
}

db_status db_begin(db *d, const char *what)
{
    return db_exec(d, "BEGIN IMMEDIATE", what);
}

db_status db_commit(db *d, const char *what)
{
    db_status st = db_exec(d, "COMMIT", what);
    if (st != DB_OK)
        db_rollback(d);
    return st;
}

void db_rollback(db *d)
{
    if (!sqlite3_get_autocommit(d->conn))
        sqlite3_exec(d->conn, "ROLLBACK", NULL, NULL, NULL);
}

int db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

int db_bind_id(sqlite3_stmt *st, int i, int64_t id)
{
    return id > 0 ? sqlite3_bind_int64(st, i, id) : sqlite3_bind_null(st, i);
}

char *db_col_text(sqlite3_stmt *st, int i, bool keep_null)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    if (!s)
        return keep_null ? NULL : xstrdup("");
    return xstrndup((const char *)s, (size_t)sqlite3_column_bytes(st, i));
}

db_status db_step_done(db *d, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    db_status s = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? DB_OK : db_fail(d, rc, what);
    sqlite3_finalize(st);
    return s;
}

double db_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *db_format_time(double t, char *buf, size_t size)
{
    time_t sec = (time_t)t;
    int ms = (int)((t - (double)sec) * 1000.0);
    if (ms < 0)
        ms = 0;
    if (ms > 999)
        ms = 999;
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
}

/* ---- Migrations ---------------------------------------------------------- */

/* migrations[i] takes the schema from version i to i + 1.  Never edit one
 * that has shipped: add a new one. */
static const char *const migrations[DB_SCHEMA_VERSION] = {
    /* 1: models, conversations, messages */
    "CREATE TABLE models ("
    "  id INTEGER PRIMARY KEY,"
    "  key TEXT NOT NULL UNIQUE,"          /* sha256, or 'remote:' URL '#' model */
    "  sha256 TEXT,"
    "  backend TEXT NOT NULL,"             /* 'local' | 'remote' */
    "  name TEXT,"                         /* general.name / the server's model name */
    "  file_name TEXT,"
    "  url TEXT,"
    "  arch TEXT,"
    "  n_params INTEGER,"
    "  quant TEXT,"
    "  first_used REAL NOT NULL,"
    "  last_used REAL NOT NULL);"
    "CREATE TABLE model_files ("
    "  path TEXT PRIMARY KEY,"
    "  size INTEGER NOT NULL,"
    "  mtime_ns INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL);"
    "CREATE TABLE conversations ("
    "  id INTEGER PRIMARY KEY,"
    "  title TEXT NOT NULL DEFAULT '',"
    "  title_set INTEGER NOT NULL DEFAULT 0," /* renamed by hand */
    "  profile TEXT NOT NULL DEFAULT '',"
    "  system_prompt TEXT,"
    "  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),"
    "  created_at REAL NOT NULL,"
    "  updated_at REAL NOT NULL);"
    "CREATE INDEX conversations_updated ON conversations(updated_at);"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    "  role TEXT NOT NULL CHECK (role IN ('system', 'customer', 'agent')),"
    "  text TEXT NOT NULL,"
    "  created_at REAL NOT NULL,"
    "  prev_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,"
    "  parent_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,"
    "  active INTEGER NOT NULL DEFAULT 1,"
    "  model_id INTEGER REFERENCES models(id),"
    "  sampling TEXT);" /* JSON object of the settings */
    "CREATE INDEX messages_conversation ON messages(conversation_id, id);",

    /* 2: requests and ratings */
    "CREATE TABLE requests ("
    "  id INTEGER PRIMARY KEY,"
    "  model_id INTEGER REFERENCES models(id),"
    "  backend TEXT NOT NULL,"
    "  conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,"
    "  message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,"
    "  started_at REAL NOT NULL,"
    "  finished_at REAL,"
    "  queue_ms REAL,"
    "  prompt_tokens INTEGER,"
    "  gen_tokens INTEGER,"
    "  ttft_ms REAL,"
    "  prefill_ms REAL,"
    "  decode_ms REAL,"
    "  prefill_tps REAL,"
    "  decode_tps REAL,"
    "  latency_ms REAL,"
    "  attempts INTEGER NOT NULL DEFAULT 1,"
    "  outcome TEXT NOT NULL DEFAULT 'running' CHECK (outcome IN"
    "    ('running', 'ok', 'error', 'cancelled', 'timeout', 'interrupted')),"
    "  error TEXT,"
    "  owner_pid INTEGER,"
    "  owner_start INTEGER,"
    "  owner_host TEXT);"
    /* covering index: the dashboard's window scans read only this */
    "CREATE INDEX requests_window ON requests(started_at, model_id, outcome, latency_ms, ttft_ms,"
    "  prefill_tps, decode_tps, gen_tokens);"
    "CREATE INDEX requests_running ON requests(outcome) WHERE outcome = 'running';"
    "CREATE INDEX requests_message ON requests(message_id);"
    "CREATE TABLE ratings ("
    "  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    "  rater TEXT NOT NULL,"
    "  thumbs INTEGER NOT NULL DEFAULT 0 CHECK (thumbs IN (-1, 0, 1)),"
    "  score INTEGER CHECK (score BETWEEN 1 AND 5),"
    "  comment TEXT,"
    "  created_at REAL NOT NULL,"
    "  updated_at REAL NOT NULL,"
    "  PRIMARY KEY (message_id, rater));"
    "CREATE TABLE rating_tags ("
    "  message_id INTEGER NOT NULL,"
    "  rater TEXT NOT NULL,"
    "  tag TEXT NOT NULL,"
    "  PRIMARY KEY (message_id, rater, tag),"
    "  FOREIGN KEY (message_id, rater) REFERENCES ratings(message_id, rater) ON DELETE CASCADE);",

    /* 3: full-text search (trigram: substrings in any script) */
    "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id',"
    "  tokenize='trigram');"
    "INSERT INTO messages_fts(rowid, text) SELECT id, text FROM messages;"
    "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN"
    "  INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);"
    "END;"
    "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);"
    "END;"
    "CREATE TRIGGER messages_fts_au AFTER UPDATE OF text ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);"
    "  INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);"
    "END;",

    /* 4: what serve hands its clients: a conversation's token, a reply's
     * completion id (random; erased with the conversation) */
    "CREATE TABLE handles ("
    "  handle TEXT PRIMARY KEY,"
    "  conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
    "  message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,"
    "  user TEXT,"                           /* the request's \"user\" field, as sent */
    "  created_at REAL NOT NULL);"
    "CREATE INDEX handles_conversation ON handles(conversation_id);",

    /* 5: model operations — where a local version's file lives, which
     * version answers new conversations (the deployment, one row) and
     * every change to it, each conversation's arm, each reply's
     * confidence, and where a request came from */
    "ALTER TABLE models ADD COLUMN path TEXT;"   /* a local version's file, as last loaded */
    "CREATE TABLE deployment ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  stable_id INTEGER NOT NULL REFERENCES models(id),"
    "  candidate_id INTEGER REFERENCES models(id),"
    "  share INTEGER NOT NULL DEFAULT 0 CHECK (share BETWEEN 0 AND 50)," /* percent to the candidate */
    "  changed_at REAL NOT NULL);"
    "CREATE TABLE deployment_history ("
    "  id INTEGER PRIMARY KEY,"
    "  at REAL NOT NULL,"
    "  action TEXT NOT NULL CHECK (action IN ('deploy', 'canary-start', 'canary-share', 'canary-stop',"
    "    'promote', 'rollback', 'guard-stop')),"
    "  stable_id INTEGER REFERENCES models(id),"      /* the deployment after the change */
    "  candidate_id INTEGER REFERENCES models(id),"
    "  share INTEGER NOT NULL DEFAULT 0,"
    "  previous_id INTEGER REFERENCES models(id),"    /* the stable a rollback would return to */
    "  who TEXT,"
    "  note TEXT,"
    "  figures TEXT);"                                /* JSON: the comparison at the time */
    "ALTER TABLE conversations ADD COLUMN arm TEXT"
    "  CHECK (arm IN ('stable', 'candidate', 'pinned'));"
    "ALTER TABLE conversations ADD COLUMN arm_model_id INTEGER REFERENCES models(id);"
    "ALTER TABLE messages ADD COLUMN logprob_mean REAL;" /* mean log-probability of the reply's tokens */
    "ALTER TABLE messages ADD COLUMN logprob_min REAL;"
    "ALTER TABLE requests ADD COLUMN source TEXT NOT NULL DEFAULT 'traffic'"
    "  CHECK (source IN ('traffic', 'eval', 'arena'));"
    /* the dashboard counts traffic only: the covering index gains source */
    "DROP INDEX requests_window;"
    "CREATE INDEX requests_window ON requests(started_at, model_id, outcome, latency_ms, ttft_ms,"
    "  prefill_tps, decode_tps, gen_tokens, source);",

    /* 6: monitoring at scale — finished requests folded into per-minute
     * (and, after 48 h, per-hour) rollups the dashboard, stats and
     * Prometheus read; alert episodes, at most one open per alert */
    "ALTER TABLE requests ADD COLUMN folded INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX requests_unfolded ON requests(id) WHERE folded = 0 AND outcome != 'running';"
    "CREATE TABLE rollups ("
    "  period INTEGER NOT NULL,"                  /* 60 or 3600 seconds */
    "  start REAL NOT NULL,"                      /* the bucket's first second */
    "  model_id INTEGER NOT NULL DEFAULT 0,"
    "  arm TEXT NOT NULL DEFAULT '',"             /* the conversation's arm when folded */
    "  source TEXT NOT NULL DEFAULT 'traffic',"
    "  backend TEXT NOT NULL DEFAULT '',"
    "  outcome TEXT NOT NULL,"
    "  requests INTEGER NOT NULL DEFAULT 0,"
    "  gen_tokens INTEGER NOT NULL DEFAULT 0,"
    "  prompt_tokens INTEGER NOT NULL DEFAULT 0,"
    "  latency_n INTEGER NOT NULL DEFAULT 0, latency_sum REAL NOT NULL DEFAULT 0,"
    "  ttft_n INTEGER NOT NULL DEFAULT 0, ttft_sum REAL NOT NULL DEFAULT 0,"
    "  prefill_n INTEGER NOT NULL DEFAULT 0, prefill_sum REAL NOT NULL DEFAULT 0,"
    "  decode_n INTEGER NOT NULL DEFAULT 0, decode_sum REAL NOT NULL DEFAULT 0,"
    "  hist BLOB,"                                /* the log-bucketed sketches (storage/rollup.c) */
    "  le BLOB,"                                  /* exact counts per fixed Prometheus bound */
    "  PRIMARY KEY (period, start, model_id, arm, source, backend, outcome));"
    "CREATE TABLE alert_episodes ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"                       /* 'error_rate', 'latency_p95', 'guard', ... */
    "  started_at REAL NOT NULL,"
    "  ended_at REAL,"
    "  detail TEXT,"                              /* JSON: the figures when it opened */
    "  end_detail TEXT);"
    "CREATE UNIQUE INDEX alert_open ON alert_episodes(name) WHERE ended_at IS NULL;"
    "CREATE INDEX alert_recent ON alert_episodes(started_at);"
    /* the dashboard's low-confidence share per version: replies by time */
    "CREATE INDEX messages_replies_time ON messages(created_at, model_id, logprob_mean) WHERE role = 'agent';",

    /* 7: evaluation before deployment — offline eval runs with their
     * per-item results, and blind side-by-side (arena) judgements */
    "CREATE TABLE eval_runs ("
    "  id INTEGER PRIMARY KEY,"
    "  started_at REAL NOT NULL,"
    "  finished_at REAL,"
    "  status TEXT NOT NULL DEFAULT 'running'"
    "    CHECK (status IN ('running', 'complete', 'incomplete', 'failed')),"
    "  model_a INTEGER NOT NULL REFERENCES models(id),"
    "  model_b INTEGER REFERENCES models(id),"      /* NULL: one model evaluated */
    "  set_sha256 TEXT NOT NULL,"                   /* the set file's bytes */
    "  set_name TEXT,"                              /* its file name, for people */
    "  set_items INTEGER NOT NULL,"
    "  settings TEXT,"                              /* JSON: limit, context, threads, ... */
    "  aggregates TEXT,"                            /* JSON: per model, with 95% intervals */
    "  verdicts TEXT,"                              /* JSON: the paired comparison */
    "  owner_pid INTEGER,"                          /* while running: as requests' owner */
    "  owner_start INTEGER,"
    "  owner_host TEXT);"
    "CREATE TABLE eval_items ("
    "  run_id INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,"
    "  item INTEGER NOT NULL,"                      /* 0-based line of the set */
    "  model_id INTEGER NOT NULL REFERENCES models(id),"
    "  ppl REAL,"                                   /* the reference reply's perplexity */
    "  reply TEXT,"                                 /* the greedy reply */
    "  chrf REAL,"
    "  rouge_l REAL,"
    "  length INTEGER,"                             /* the reply's tokens */
    "  latency_ms REAL,"
    "  PRIMARY KEY (run_id, item, model_id));"
    "CREATE TABLE arena_judgements ("
    "  id INTEGER PRIMARY KEY,"
    "  at REAL NOT NULL,"
    "  rater TEXT NOT NULL,"
    "  prompt_message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,"
    "  model_a INTEGER NOT NULL REFERENCES models(id),"
    "  model_b INTEGER NOT NULL REFERENCES models(id),"
    "  reply_a INTEGER REFERENCES messages(id) ON DELETE SET NULL,"
    "  reply_b INTEGER REFERENCES messages(id) ON DELETE SET NULL,"
    "  shown_first TEXT NOT NULL CHECK (shown_first IN ('a', 'b')),"   /* which was \"Reply A\" */
    "  verdict TEXT NOT NULL CHECK (verdict IN ('a', 'b', 'tie', 'both_bad')),"
    "  comment TEXT);"
    "CREATE INDEX arena_pairs ON arena_judgements(model_a, model_b);",
};

static int read_version(db *d, int *v)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(d->conn, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *v = sqlite3_column_int(st, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int db_version(db *d)
{
    int v = -1;
    read_version(d, &v);
    return v;
}

static db_status refuse_newer(db *d, int v)
{
    return db_failf(d, DB_NEWER,
                    "%s has schema version %d, newer than this frontdesk knows (%d); "
                    "use a newer frontdesk (the file was left untouched)",
                    d->path, v, DB_SCHEMA_VERSION);
}

static db_status migrate(db *d, int target)
{
    int v;
    int rc = read_version(d, &v);
    if (rc != SQLITE_OK)
        return db_fail(d, rc, "reading the schema version");
    if (v > DB_SCHEMA_VERSION)
        return refuse_newer(d, v);
    while (v < target) {
        char what[64];
        snprintf(what, sizeof what, "migrating the schema to version %d", v + 1);
        db_status st = db_begin(d, what);
        if (st != DB_OK)
            return st;
        /* another process may have migrated while we waited for the lock */
        if ((rc = read_version(d, &v)) != SQLITE_OK) {
            db_rollback(d);
            return db_fail(d, rc, what);
        }
        if (v >= target) {
            db_rollback(d);
            break;
        }
        char pragma[48];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if ((st = db_exec(d, migrations[v], what)) != DB_OK || (st = db_exec(d, pragma, what)) != DB_OK ||
            (st = db_commit(d, what)) != DB_OK) {
            db_rollback(d);
            return st;
        }
        v++;
    }
    return DB_OK;
}

/* ---- Requests left running by dead processes -------------------------- */

/* Field 22 of /proc/PID/stat: the process's start time in clock ticks
 * since boot; 0 when there is no such process. */
static long long proc_start_time(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return 0;
    p++;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p + 1, ' ');
    }
    return p ? strtoll(p + 1, NULL, 10) : 0;
}

static void host_name(char *buf, size_t size)
{
    if (gethostname(buf, size) != 0)
        snprintf(buf, size, "?");
    buf[size - 1] = 0;
}

void db_owner(long *pid, long long *start, char *host, size_t hostlen)
{
    *pid = (long)getpid();
    *start = proc_start_time(*pid);
    host_name(host, hostlen);
}

static db_status recover_interrupted(db *d)
{
    char host[256];
    host_name(host, sizeof host);
    sqlite3_stmt *sel = db_prepare(d,
                                   "SELECT id, owner_pid, owner_start FROM requests "
                                   "WHERE outcome = 'running' AND owner_host = ?",
                                   "looking for interrupted requests");
    if (!sel)
        return DB_ERR;
    sqlite3_bind_text(sel, 1, host, -1, SQLITE_TRANSIENT);
    int64_t *dead = NULL;
    long *pids = NULL;
    size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        long pid = (long)sqlite3_column_int64(sel, 1);
        long long start = sqlite3_column_int64(sel, 2);
        if (pid > 0 && proc_start_time(pid) == start && start != 0)
            continue; /* its owner is still running */
        dead = xreallocarray(dead, n + 1, sizeof *dead);
        pids = xreallocarray(pids, n + 1, sizeof *pids);
        dead[n] = sqlite3_column_int64(sel, 0);
        pids[n++] = pid;
    }
    sqlite3_finalize(sel);
    db_status st = rc == SQLITE_DONE ? DB_OK : db_fail(d, rc, "looking for interrupted requests");
    if (st == DB_OK && n) {
        double now = db_now();
        st = db_begin(d, "marking interrupted requests");
        for (size_t i = 0; st == DB_OK && i < n; i++) {
            sqlite3_stmt *up = db_prepare(
                d,
                "UPDATE requests SET outcome = 'interrupted', finished_at = ?, "
                "latency_ms = NULL, error = ? WHERE id = ? AND outcome = 'running'",
                "marking interrupted requests");
            if (!up) {
                st = DB_ERR;
                break;
            }
            char msg[128];
            snprintf(msg, sizeof msg, "the frontdesk process generating it (pid %ld) ended", pids[i]);
            sqlite3_bind_double(up, 1, now);
            sqlite3_bind_text(up, 2, msg, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(up, 3, dead[i]);
            st = db_step_done(d, up, "marking interrupted requests");
            if (st == DB_OK && sqlite3_changes(d->conn))
                d->recovered++;
        }
        st = st == DB_OK ? db_commit(d, "marking interrupted requests") : (db_rollback(d), st);
    }
    free(dead);
    free(pids);
    return st;
}

/* Evaluation runs left "running" by a process of this host that ended:
 * "incomplete" (their finished items stay). */
static db_status recover_eval_runs(db *d)
{
    const char *what = "looking for interrupted evaluation runs";
    char host[256];
    host_name(host, sizeof host);
    sqlite3_stmt *sel = db_prepare(
        d, "SELECT id, owner_pid, owner_start FROM eval_runs WHERE status = 'running' AND owner_host = ?", what);
    if (!sel)
        return DB_ERR;
    sqlite3_bind_text(sel, 1, host, -1, SQLITE_TRANSIENT);
    int64_t *dead = NULL;
    size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        long pid = (long)sqlite3_column_int64(sel, 1);
        long long start = sqlite3_column_int64(sel, 2);
        if (pid > 0 && start != 0 && proc_start_time(pid) == start)
            continue; /* its owner is still running */
        dead = xreallocarray(dead, n + 1, sizeof *dead);
        dead[n++] = sqlite3_column_int64(sel, 0);
    }
    sqlite3_finalize(sel);
    db_status st = rc == SQLITE_DONE ? DB_OK : db_fail(d, rc, what);
    for (size_t i = 0; st == DB_OK && i < n; i++) {
        sqlite3_stmt *up = db_prepare(d,
                                      "UPDATE eval_runs SET status = 'incomplete', finished_at = ?"
                                      " WHERE id = ? AND status = 'running'",
                                      what);
        if (!up) {
            st = DB_ERR;
            break;
        }
        sqlite3_bind_double(up, 1, db_now());
        sqlite3_bind_int64(up, 2, dead[i]);
        st = db_step_done(d, up, what);
    }
    free(dead);
    return st;
}

/* ---- Open / close ---------------------------------------------------------- */

static db_status open_conn(db *d)
{
    /* SQLite takes a one-byte file for an empty database and writes over
     * it; no database file is shorter than the smallest page (512). */
    struct stat sb;
    if (stat(d->path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 && sb.st_size < 512)
        return db_failf(d, DB_CORRUPT,
                        "opening the database: %s is not a frontdesk database or is damaged "
                        "(%lld bytes)",
                        d->path, (long long)sb.st_size);
    /* A new database file is made here, with the private mode (util/
     * private.h), not by SQLite, which would make it 0644 less the umask;
     * SQLite gives its -wal and -shm files the database file's mode. */
    if (*d->path && strcmp(d->path, ":memory:") && priv_touch(d->path) != 0) {
        int e = errno;
        return db_failf(d, e == ENOSPC || e == EDQUOT ? DB_FULL : DB_ERR, "creating the database %s: %s", d->path,
                        strerror(e));
    }
    /* A path is a path: SQLite built with SQLITE_USE_URI (Debian's is)
     * would read "file:x.db?mode=ro" as a URI, so a relative one gets "./". */
    char *file = NULL;
    if (!strncmp(d->path, "file:", 5)) {
        size_t n = strlen(d->path) + 3;
        file = xmalloc(n);
        snprintf(file, n, "./%s", d->path);
    }
    int rc = sqlite3_open_v2(file ? file : d->path, &d->conn,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    free(file);
    if (rc != SQLITE_OK)
        return db_fail(d, rc, "opening the database");
    sqlite3_extended_result_codes(d->conn, 1);
    sqlite3_busy_timeout(d->conn, 5000);
    /* Reading the schema first tells a non-database file apart early. */
    db_status st = db_exec(d, "SELECT count(*) FROM sqlite_schema", "opening the database");
    if (st != DB_OK)
        return st;
    /* A newer schema is refused before anything is written: turning on WAL
     * below would already rewrite the file's header. */
    int v;
    if ((rc = read_version(d, &v)) != SQLITE_OK)
        return db_fail(d, rc, "reading the schema version");
    if (v > DB_SCHEMA_VERSION)
        return refuse_newer(d, v);
    /* Switching a new file to WAL needs an exclusive lock and SQLite does
     * not wait for it (no busy handler): when several processes open a
     * brand-new file at once, retry for up to the busy timeout. */
    for (int tries = 0;; tries++) {
        sqlite3_stmt *wal = db_prepare(d, "PRAGMA journal_mode = WAL", "turning on WAL");
        if (!wal)
            return DB_ERR;
        rc = sqlite3_step(wal);
        sqlite3_finalize(wal);
        if ((rc & 0xff) != SQLITE_BUSY || tries >= 500)
            break;
        sqlite3_sleep(10);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(d, rc, "turning on WAL");
    return db_exec(d,
                   "PRAGMA foreign_keys = ON;"
                   "PRAGMA synchronous = NORMAL;"
                   "PRAGMA secure_delete = ON;",
                   "setting up the connection");
}

db_status db_open_at(db **out, const char *path, int version, char *err, size_t errlen)
{
    *out = NULL;
    db *d = xcalloc(1, sizeof *d);
    d->path = xstrdup(path);
    db_status st = open_conn(d);
    if (st == DB_OK)
        st = migrate(d, version);
    if (st == DB_OK && version >= 2)
        st = recover_interrupted(d);
    if (st == DB_OK && version >= 7)
        st = recover_eval_runs(d);
    /* rows marked interrupted just now, or left unfolded by a process
     * that died between finishing a request and folding it */
    if (st == DB_OK && version >= 6)
        st = db_rollup_catch_up(d, NULL);
    if (st != DB_OK) {
        util_errf(err, errlen, "%s", d->err);
        db_close(d);
        return st;
    }
    *out = d;
    return DB_OK;
}

db_status db_open(db **out, const char *path, char *err, size_t errlen)
{
    return db_open_at(out, path, DB_SCHEMA_VERSION, err, errlen);
}

void db_close(db *d)
{
    if (!d)
        return;
    sqlite3_close_v2(d->conn);
    free(d->path);
    free(d);
}

const char *db_errmsg(const db *d)
{
    return d->err;
}

const char *db_path(const db *d)
{
    return d->path;
}

int db_recovered(const db *d)
{
    return d->recovered;
}

void db_set_busy_timeout(db *d, int ms)
{
    sqlite3_busy_timeout(d->conn, ms);
}

db_status db_check(db *d)
{
    sqlite3_stmt *st = db_prepare(d, "PRAGMA integrity_check", "checking the database");
    if (!st)
        return DB_ERR;
    int rc = sqlite3_step(st);
    db_status s = DB_OK;
    if (rc != SQLITE_ROW)
        s = db_fail(d, rc, "checking the database");
    else if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0)
        s = db_failf(d, DB_CORRUPT, "%s failed its integrity check: %s", d->path,
                     (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return s;
}
