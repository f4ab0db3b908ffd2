/*
 * serve_client.h — what the serve suites share: a `frontdesk serve`
 * started on 127.0.0.1 (a port of its own choosing, read from its first
 * line), HTTP through libcurl, server-sent events split into their data
 * lines, and SQL straight on the store's file (sqlite3, not our storage
 * code, so what the suites check does not come from the code under test).
 */
#ifndef FRONTDESK_SERVE_CLIENT_H
#define FRONTDESK_SERVE_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;
    int port;
    int err_fd;          /* the server's standard error (after its first line) */
    char url[64];        /* http://127.0.0.1:PORT                          */
    char db[512];
} served;

/* Start `frontdesk serve --port 0 --db DB` with extra arguments (NULL-
 * terminated) and environment additions ("NAME=VALUE", NULL-terminated,
 * may be NULL); fails the test when it does not come up. */
void served_start(served *s, const char *db, const char *const *extra, const char *const *env);
/* SIGTERM and wait; returns the exit status (128+signal when killed);
 * *log (may be NULL) gets what it wrote after its first line. */
int served_stop(served *s, char **log);

typedef struct {
    long status;
    char *body;          /* NUL-terminated                                  */
    size_t len;
    char *headers;       /* the raw header block, lowercase names           */
    char **events;       /* stream: each "data: " payload, in order         */
    size_t n_events;
} http_reply;

/* One request.  method "GET" or "POST"; body NULL for none; headers NULL-
 * terminated "Name: value" lines (may be NULL).  abort_after_events > 0:
 * hang up after that many events have arrived. */
void http_do(const char *method, const char *url, const char *body, size_t len, const char *const *headers,
             int abort_after_events, http_reply *r);
void http_reply_free(http_reply *r);
/* A response header's value (case-insensitive name), malloc'ed, or NULL. */
char *http_header(const http_reply *r, const char *name);

/* POST JSON to s->url + path; parses the reply's body when it is JSON. */
json_t *post_json(const served *s, const char *path, const char *body, http_reply *r);

/* ---- The store, by SQL -------------------------------------------------------------- */

/* The first column of the first row of sql (printf-style) as an integer
 * (-1 when no row) or as text (malloc'ed; NULL when none or null).  db is
 * a SQLite file or a postgresql:// URL (read through libpq). */
long long sql_int(const char *db, const char *fmt, ...); /* sqlite3_mprintf formats: %q, %lld */
char *sql_text(const char *db, const char *fmt, ...);

#endif
