/*
 * schema.c — the schema by numbered migrations, on either database.
 *
 * One list of migrations, written in SQLite's terms; PostgreSQL gets the
 * same tables through a fixed translation of their types (an INTEGER
 * PRIMARY KEY becomes BIGSERIAL, INTEGER BIGINT, REAL DOUBLE PRECISION,
 * BLOB BYTEA, TEXT compares bytewise with COLLATE "C" as SQLite's does),
 * except full-text search, which is FTS5 on SQLite and a pg_trgm index on
 * PostgreSQL.  SQLite keeps the version in PRAGMA user_version,
 * PostgreSQL in the one-row table frontdesk_schema.  A store whose
 * version is newer than this program's is refused before anything is
 * written.
 */
#include "storage/db_internal.h"

#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tables at each version (SQLite's words; see the file comment):
 *   models          one row per model version: a local file by SHA-256, a
 *                   remote one by URL + model name
 *   model_files     path/size/mtime -> SHA-256, so a file is hashed once
 *   conversations   title, profile, system prompt, status
 *   messages        a tree per conversation: prev_id is the message a turn
 *                   follows, parent_id the earlier version it replaces
 *                   (regenerate, edit); `active` marks the current thread
 *   requests        one row per generation asked of a backend, with its
 *                   owner (pid, process start time, host) while running
 *                   and its last heartbeat
 *   ratings         one row per (reply, rater); rating_tags beside it
 *   messages_fts    FTS5 trigram index over message text (SQLite)
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
 * migrations[i] takes the schema from version i to i + 1.  Never edit one
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

    /* 8: liveness across machines — a running request's last sign of
     * life by the database's clock (storage/liveness.c) */
    "ALTER TABLE requests ADD COLUMN heartbeat_at REAL;",
};


/* PostgreSQL's full-text search (version 3): a trigram index that serves
 * case-insensitive substring matches, as FTS5's trigram tokenizer does.
 * pg_trgm ships with Debian's PostgreSQL; creating it needs a role that
 * may (README: "A team store"). */
static const char pg_search[] = "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
                                "CREATE INDEX messages_trgm ON messages USING gin (text gin_trgm_ops);";

/* Migration v (from 0) in PostgreSQL's words (caller frees). */
static char *pg_migration(int v)
{
    if (v == 2)
        return xstrdup(pg_search);
    static const struct {
        const char *from, *to;
    } words[] = {
        {" INTEGER PRIMARY KEY", " BIGSERIAL PRIMARY KEY"},
        {" user TEXT", " \"user\" TEXT COLLATE \"C\""}, /* a reserved word in PostgreSQL */
        {" INTEGER", " BIGINT"},
        {" REAL", " DOUBLE PRECISION"},
        {" BLOB", " BYTEA"},
        {" TEXT", " TEXT COLLATE \"C\""},
    };
    strbuf out = {0};
    for (const char *p = migrations[v]; *p;) {
        size_t i = 0;
        while (i < sizeof words / sizeof *words && strncmp(p, words[i].from, strlen(words[i].from)))
            i++;
        if (i < sizeof words / sizeof *words) {
            sb_printf(&out, "%s", words[i].to);
            p += strlen(words[i].from);
        } else
            sb_append(&out, p++, 1);
    }
    return out.data;
}

static db_status read_version(db *d, int *v)
{
    const char *what = "reading the schema version";
    *v = 0;
    if (db_is_pg(d)) {
        sql_stmt *t = db_prepare(d, "SELECT to_regclass('frontdesk_schema') IS NOT NULL", what);
        if (!t)
            return DB_ERR;
        int rc = sql_step(t);
        bool exists = rc == SQL_ROW && sql_column_int(t, 0);
        sql_finalize(t);
        if (rc != SQL_ROW)
            return db_fail(d, rc, what);
        if (!exists)
            return DB_OK;
    }
    sql_stmt *st = db_prepare(d, db_is_pg(d) ? "SELECT max(version) FROM frontdesk_schema" : "PRAGMA user_version",
                              what);
    if (!st)
        return DB_ERR;
    int rc = sql_step(st);
    if (rc == SQL_ROW)
        *v = sql_column_int(st, 0);
    sql_finalize(st);
    return rc == SQL_ROW ? DB_OK : db_fail(d, rc, what);
}

int db_version(db *d)
{
    int v = -1;
    if (read_version(d, &v) != DB_OK)
        return -1;
    return v;
}

db_status db_refuse_newer(db *d, int v)
{
    return db_failf(d, DB_NEWER,
                    "%s has schema version %d, newer than this frontdesk knows (%d); "
                    "use a newer frontdesk (the %s was left untouched)",
                    d->path, v, DB_SCHEMA_VERSION, db_is_pg(d) ? "database" : "file");
}

db_status db_check_version(db *d)
{
    int v;
    db_status st = read_version(d, &v);
    if (st == DB_OK && v > DB_SCHEMA_VERSION)
        return db_refuse_newer(d, v);
    return st;
}

static db_status set_version(db *d, int v, const char *what)
{
    char sql[96];
    if (db_is_pg(d))
        snprintf(sql, sizeof sql, "DELETE FROM frontdesk_schema; INSERT INTO frontdesk_schema VALUES (%d)", v);
    else
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
    return db_exec(d, sql, what);
}

/* PostgreSQL: how many times a step is tried again after it lost to a
 * lock.  A reader that holds one of the step's tables and then waits for
 * another the step has altered deadlocks with it, and the server's
 * detector may abort the step; rolled back, it simply runs again once
 * the reader is through (each try waits at most the 5 s lock_timeout). */
#define MIGRATE_BUSY_TRIES 3

db_status db_migrate(db *d, int target)
{
    int v;
    db_status st = read_version(d, &v);
    if (st != DB_OK)
        return st;
    if (v > DB_SCHEMA_VERSION)
        return db_refuse_newer(d, v);
    int busy_left = db_is_pg(d) ? MIGRATE_BUSY_TRIES : 0;
    while (v < target) {
        char what[64];
        snprintf(what, sizeof what, "migrating the schema to version %d", v + 1);
        if ((st = db_begin(d, what)) != DB_OK)
            return st;
        /* another process may have migrated while we waited for the lock */
        if (db_is_pg(d))
            st = db_exec(d, "CREATE TABLE IF NOT EXISTS frontdesk_schema (version integer NOT NULL)", what);
        if (st == DB_OK)
            st = read_version(d, &v);
        if (st != DB_OK || v >= target) {
            db_rollback(d);
            if (st != DB_OK)
                return st;
            break;
        }
        char *sql = db_is_pg(d) ? pg_migration(v) : xstrdup(migrations[v]);
        if ((st = db_exec(d, sql, what)) != DB_OK || (st = set_version(d, v + 1, what)) != DB_OK ||
            (st = db_commit(d, what)) != DB_OK)
            db_rollback(d);
        free(sql);
        if (st == DB_BUSY && busy_left-- > 0) {
            util_sleep(0.2);
            continue; /* the step again, from reading the version */
        }
        if (st != DB_OK)
            return st;
        v++;
    }
    return DB_OK;
}
