/*
 * liveness.c — telling a request that is still being written from one
 * whose writer is gone, on one machine or many.
 *
 * A running request names its owner: process id, the process's start
 * time (so a reused pid is told apart) and host.  A process writing a
 * reply stamps heartbeat_at every heartbeat_s seconds by the database's
 * own clock (db_heartbeat, driven by app/).  Recovery marks a running
 * request interrupted when
 *   - its owner is on this host and is provably gone (no such process,
 *     or another one under its pid), at once; or
 *   - its last sign of life (heartbeat_at, else started_at) is more than
 *     lapse_s old by the database's clock — the only thing a process on
 *     another host can know — and its owner is not a live process here.
 * Clocks of the hosts never enter: every time compared is the database's.
 */
#include "storage/db_internal.h"

#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

const char *db_host_identity(void)
{
    static char host[256];
    if (!*host) {
        const char *env = getenv("FRONTDESK_HOST");
        if (env && *env)
            snprintf(host, sizeof host, "%s", env);
        else if (gethostname(host, sizeof host) != 0 || !*host)
            snprintf(host, sizeof host, "?");
        host[sizeof host - 1] = 0;
    }
    return host;
}

void db_owner(long *pid, long long *start, char *host, size_t hostlen)
{
    *pid = (long)getpid();
    *start = proc_start_time(*pid);
    snprintf(host, hostlen, "%s", db_host_identity());
}

void db_set_heartbeat(db *d, double heartbeat_s, double lapse_s)
{
    d->heartbeat_s = heartbeat_s;
    d->lapse_s = lapse_s;
}

double db_heartbeat_s(const db *d)
{
    return d->heartbeat_s;
}

db_status db_heartbeat(db *d)
{
    long pid;
    long long start;
    char host[256];
    db_owner(&pid, &start, host, sizeof host);
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE requests SET heartbeat_at = %s WHERE outcome = 'running'"
             " AND owner_pid = ? AND owner_start = ? AND owner_host = ?",
             db_sql_now(d));
    sql_stmt *st = db_prepare(d, sql, "recording a heartbeat");
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, pid);
    sql_bind_int64(st, 2, start);
    sql_bind_text(st, 3, host);
    return db_step_done(d, st, "recording a heartbeat");
}

/* Whether the owner (pid, start) on this host is a live process. */
static bool alive_here(long pid, long long start)
{
    return pid > 0 && start != 0 && proc_start_time(pid) == start;
}

typedef struct {
    int64_t id;
    char why[160];
} doomed;

static db_status recover_requests(db *d, bool heartbeats, int *marked)
{
    const char *what = "looking for interrupted requests";
    const char *host = db_host_identity();
    char sql[384];
    /* a schema before version 8 (tests build them) has no heartbeats:
     * only this host's requests can be judged */
    snprintf(sql, sizeof sql,
             "SELECT id, owner_pid, owner_start, owner_host,"
             " CASE WHEN %s < %s - ? THEN 1 ELSE 0 END"
             " FROM requests WHERE outcome = 'running'",
             heartbeats ? "coalesce(heartbeat_at, started_at)" : "started_at", db_sql_now(d));
    sql_stmt *sel = db_prepare(d, sql, what);
    if (!sel)
        return DB_ERR;
    sql_bind_double(sel, 1, d->lapse_s);
    doomed *dead = NULL;
    size_t n = 0;
    int rc;
    while ((rc = sql_step(sel)) == SQL_ROW) {
        long pid = (long)sql_column_int64(sel, 1);
        long long start = sql_column_int64(sel, 2);
        const char *owner = sql_column_text(sel, 3);
        bool lapsed = sql_column_int(sel, 4);
        bool here = owner && !strcmp(owner, host);
        if (here && alive_here(pid, start))
            continue; /* its owner is still running */
        if (!here && (!lapsed || !heartbeats))
            continue; /* another host's, with a recent sign of life */
        dead = xreallocarray(dead, n + 1, sizeof *dead);
        dead[n].id = sql_column_int64(sel, 0);
        if (here)
            snprintf(dead[n].why, sizeof dead[n].why, "the frontdesk process generating it (pid %ld) ended", pid);
        else
            snprintf(dead[n].why, sizeof dead[n].why,
                     "no heartbeat from its frontdesk process (pid %ld on %.64s) for over %g s", pid,
                     owner ? owner : "an unknown host", d->lapse_s);
        n++;
    }
    sql_finalize(sel);
    db_status st = rc == SQL_DONE ? DB_OK : db_fail(d, rc, what);
    if (st == DB_OK && n) {
        what = "marking interrupted requests";
        double now = db_now();
        st = db_begin(d, what);
        for (size_t i = 0; st == DB_OK && i < n; i++) {
            sql_stmt *up = db_prepare(d,
                                      "UPDATE requests SET outcome = 'interrupted', finished_at = ?, "
                                      "latency_ms = NULL, error = ? WHERE id = ? AND outcome = 'running'",
                                      what);
            if (!up) {
                st = DB_ERR;
                break;
            }
            sql_bind_double(up, 1, now);
            sql_bind_text(up, 2, dead[i].why);
            sql_bind_int64(up, 3, dead[i].id);
            st = db_step_done(d, up, what);
            if (st == DB_OK && db_changes(d))
                (*marked)++;
        }
        st = st == DB_OK ? db_commit(d, what) : (db_rollback(d), st);
    }
    free(dead);
    return st;
}

/* Evaluation runs left "running" by a process of this host that ended:
 * "incomplete" (their finished items stay). */
static db_status recover_eval_runs(db *d)
{
    const char *what = "looking for interrupted evaluation runs";
    sql_stmt *sel = db_prepare(
        d, "SELECT id, owner_pid, owner_start FROM eval_runs WHERE status = 'running' AND owner_host = ?", what);
    if (!sel)
        return DB_ERR;
    sql_bind_text(sel, 1, db_host_identity());
    int64_t *dead = NULL;
    size_t n = 0;
    int rc;
    while ((rc = sql_step(sel)) == SQL_ROW) {
        if (alive_here((long)sql_column_int64(sel, 1), sql_column_int64(sel, 2)))
            continue;
        dead = xreallocarray(dead, n + 1, sizeof *dead);
        dead[n++] = sql_column_int64(sel, 0);
    }
    sql_finalize(sel);
    db_status st = rc == SQL_DONE ? DB_OK : db_fail(d, rc, what);
    for (size_t i = 0; st == DB_OK && i < n; i++) {
        sql_stmt *up = db_prepare(d,
                                  "UPDATE eval_runs SET status = 'incomplete', finished_at = ?"
                                  " WHERE id = ? AND status = 'running'",
                                  what);
        if (!up) {
            st = DB_ERR;
            break;
        }
        sql_bind_double(up, 1, db_now());
        sql_bind_int64(up, 2, dead[i]);
        st = db_step_done(d, up, what);
    }
    free(dead);
    return st;
}

db_status db_recover(db *d, int *marked)
{
    int n = 0;
    int v = db_schema_of(d);
    db_status st = DB_OK;
    if (v >= 2)
        st = recover_requests(d, v >= 8, &n);
    if (st == DB_OK && v >= 7)
        st = recover_eval_runs(d);
    if (marked)
        *marked = n;
    d->recovered += n;
    return st;
}
