/*
 * serve_client.c — see serve_client.h.
 */
#include "serve_client.h"

#include "pg_util.h"
#include "storage/db.h"
#include "testutil.h"
#include "util/util.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- The server ---------------------------------------------------------------------- */

void served_start(served *s, const char *db, const char *const *extra, const char *const *env)
{
    memset(s, 0, sizeof *s);
    snprintf(s->db, sizeof s->db, "%s", db);
    int e[2];
    if (pipe(e))
        fail_msg("pipe: %s", strerror(errno));
    const char *argv[40] = {test_bin(), "serve", "--port", "0", "--db", db, "--threads", "2"};
    int n = 8;
    for (; extra && *extra && n < 38; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    s->pid = fork();
    if (s->pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (s->pid == 0) {
        dup2(e[1], 2);
        close(e[0]);
        close(e[1]);
        int null = open("/dev/null", 0);
        dup2(null, 0);
        dup2(null, 1);
        for (; env && *env; env++)
            putenv((char *)*env);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(e[1]);
    s->err_fd = e[0];
    /* the first line: "frontdesk serve: http://127.0.0.1:PORT/v1 — ..." */
    char line[1024];
    size_t len = 0;
    while (len + 1 < sizeof line) {
        ssize_t k = read(s->err_fd, line + len, 1);
        if (k <= 0)
            break;
        if (line[len++] == '\n')
            break;
    }
    line[len] = 0;
    const char *p = strstr(line, "http://127.0.0.1:");
    if (!p) { /* it may still be running (it wrote something else first) */
        int status;
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
        fail_msg("serve did not start: '%s'", line);
    }
    s->port = atoi(p + strlen("http://127.0.0.1:"));
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
}

int served_stop(served *s, char **log)
{
    kill(s->pid, SIGTERM);
    strbuf sb = {0};
    char buf[4096];
    ssize_t k;
    while ((k = read(s->err_fd, buf, sizeof buf)) > 0)
        sb_append(&sb, buf, (size_t)k);
    close(s->err_fd);
    int status;
    waitpid(s->pid, &status, 0);
    if (log) {
        sb_append(&sb, "", 0);
        *log = sb.data;
    } else {
        sb_free(&sb);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- HTTP ------------------------------------------------------------------------------- */

typedef struct {
    http_reply *r;
    strbuf body, headers, line;
    int abort_after;
} xfer;

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    for (size_t i = 0; i < size * n; i++) {
        char c = p[i];
        sb_append(&x->headers, &c, 1);
    }
    return size * n;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    sb_append(&x->body, p, len);
    /* events: "data: ...\n\n" */
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n') {
            if (x->line.len >= 6 && !memcmp(x->line.data, "data: ", 6)) {
                x->r->events = xreallocarray(x->r->events, x->r->n_events + 1, sizeof *x->r->events);
                x->r->events[x->r->n_events++] = xstrndup(x->line.data + 6, x->line.len - 6);
            }
            sb_clear(&x->line);
        } else {
            sb_append(&x->line, p + i, 1);
        }
    }
    if (x->abort_after > 0 && (int)x->r->n_events >= x->abort_after)
        return 0; /* hang up */
    return len;
}

void http_do(const char *method, const char *url, const char *body, size_t len, const char *const *headers,
             int abort_after_events, http_reply *r)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    xfer x = {.r = r, .abort_after = abort_after_events};
    struct curl_slist *hl = NULL;
    for (; headers && *headers; headers++)
        hl = curl_slist_append(hl, *headers);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
    } else if (strcmp(method, "GET")) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK && !(abort_after_events > 0 && rc == CURLE_WRITE_ERROR))
        fail_msg("%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    sb_append(&x.body, "", 0);
    sb_append(&x.headers, "", 0);
    r->body = x.body.data;
    r->len = x.body.len;
    r->headers = x.headers.data;
    sb_free(&x.line);
}

void http_reply_free(http_reply *r)
{
    free(r->body);
    free(r->headers);
    for (size_t i = 0; i < r->n_events; i++)
        free(r->events[i]);
    free(r->events);
    memset(r, 0, sizeof *r);
}

char *http_header(const http_reply *r, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > n && !strncasecmp(p, name, n) && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(p + len - v);
            while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            return xstrndup(v, vl);
        }
        p = e ? e + 1 : p + len;
    }
    return NULL;
}

json_t *post_json(const served *s, const char *path, const char *body, http_reply *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", s->url, path);
    const char *h[] = {"Content-Type: application/json", NULL};
    http_do("POST", url, body, strlen(body), h, 0, r);
    return json_loads(r->body, 0, NULL);
}

/* ---- SQL ------------------------------------------------------------------------------------- */

static sqlite3_stmt *query(const char *db, sqlite3 **conn, const char *sql)
{
    if (sqlite3_open_v2(db, conn, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail_msg("open %s: %s", db, sqlite3_errmsg(*conn));
    sqlite3_busy_timeout(*conn, 10000);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(*conn, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(*conn));
    return st;
}

/* The first column of the first row of sql, malloc'ed; *row says whether
 * there was a row.  A postgresql:// URL is read through libpq. */
static char *first_value(const char *db, const char *fmt, va_list ap, bool *row)
{
    char *sql = sqlite3_vmprintf(fmt, ap); /* %q doubles quotes, as both dialects read them */
    assert_non_null(sql);
    char *v = NULL;
    if (db_is_pg_url(db)) {
        PGconn *c = pg_test_connect(db);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            fail_msg("%s: %s", sql, PQerrorMessage(c));
        *row = PQntuples(r) > 0;
        if (*row && !PQgetisnull(r, 0, 0))
            v = xstrdup(PQgetvalue(r, 0, 0));
        PQclear(r);
        PQfinish(c);
    } else {
        sqlite3 *conn;
        sqlite3_stmt *st = query(db, &conn, sql);
        *row = sqlite3_step(st) == SQLITE_ROW;
        if (*row && sqlite3_column_type(st, 0) != SQLITE_NULL)
            v = xstrdup((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        sqlite3_close(conn);
    }
    sqlite3_free(sql);
    return v;
}

long long sql_int(const char *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool row;
    char *v = first_value(db, fmt, ap, &row);
    va_end(ap);
    long long x = !row ? -1 : v ? strtoll(v, NULL, 10) : 0;
    free(v);
    return x;
}

char *sql_text(const char *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool row;
    char *v = first_value(db, fmt, ap, &row);
    va_end(ap);
    return v;
}
