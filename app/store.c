/*
 * store.c — app/'s glue to storage/: the database path, model identity
 * and recording a reply while it streams.
 */
#include "app/store.h"

#include "app/cli.h"
#include "app/heartbeat.h"
#include "util/hash.h"
#include "util/private.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* The configuration's [store] settings (store_configure). */
static struct {
    char *url, *url_where; /* [store] url and "FILE line N: [store] url" */
    char *problem;         /* what is wrong with them, naming the line    */
    double heartbeat_s, lapse_s;
} conf = {.heartbeat_s = CONFIG_HEARTBEAT_S, .lapse_s = CONFIG_HEARTBEAT_LAPSE_S};

void store_configure(const config *cfg)
{
    free(conf.url);
    free(conf.url_where);
    free(conf.problem);
    conf.url = cfg->store_url ? xstrdup(cfg->store_url) : NULL;
    strbuf where = {0};
    if (conf.url)
        sb_printf(&where, "%s line %d: [store] url", cfg->path ? cfg->path : "config", cfg->store_url_line);
    conf.url_where = where.data;
    conf.problem = cfg->n_store_problems ? xstrdup(cfg->store_problems[0]) : NULL;
    conf.heartbeat_s = cfg->store_heartbeat_s;
    conf.lapse_s = cfg->store_lapse_s;
    /* the recovery db_open runs judges by them too */
    db_set_heartbeat_defaults(conf.heartbeat_s, conf.lapse_s);
    store_set_retry(cfg->store_retry_s);
}

char *store_default_path(void)
{
    strbuf sb = {0};
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && *xdg == '/')
        sb_printf(&sb, "%s/frontdesk/frontdesk.db", xdg);
    else {
        const char *home = getenv("HOME");
        sb_printf(&sb, "%s/.local/share/frontdesk/frontdesk.db", home && *home ? home : ".");
    }
    return sb.data;
}

/* The store chosen and where it was given ("--db", ...); NULL: the
 * default file. */
static const char *chosen(const char *flag, const char **source)
{
    const char *env = getenv("FRONTDESK_DB");
    if (flag && *flag)
        return *source = "--db", flag;
    if (env && *env)
        return *source = "$FRONTDESK_DB", env;
    if (conf.url)
        return *source = conf.url_where, conf.url;
    return *source = NULL, NULL;
}

char *store_path(const char *flag)
{
    const char *source, *given = chosen(flag, &source);
    return given ? xstrdup(given) : store_default_path();
}

db_status store_db_open(db **out, const char *path, char *err, size_t errlen)
{
    db_status s = db_open(out, path, err, errlen);
    if (s == DB_OK)
        db_set_heartbeat(*out, conf.heartbeat_s, conf.lapse_s);
    return s;
}

/* Line breaks and tabs as single spaces, none at the end. */
static void one_line(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        bool space = *r == '\n' || *r == '\r' || *r == '\t';
        if (!space)
            *w++ = *r;
        else if (w > s && w[-1] != ' ')
            *w++ = ' ';
    }
    while (w > s && w[-1] == ' ')
        w--;
    *w = 0;
}

int store_open(const char *flag, db **out)
{
    *out = NULL;
    if (conf.problem) { /* whatever --db says: the file is wrong for every store */
        fprintf(stderr, "frontdesk: %s\n", conf.problem);
        return EXIT_USAGE;
    }
    const char *source, *given = chosen(flag, &source);
    char why[1024];
    store_url_kind kind = given ? store_url_check(given, why, sizeof why) : STORE_URL_NONE;
    if (kind != STORE_URL_NONE && kind != STORE_URL_PG) { /* before anything is created */
        fprintf(stderr, "frontdesk: %s: %s\n", source, why);
        return EXIT_USAGE;
    }
    char *path = given ? xstrdup(given) : store_default_path();
    char err[600];
    if (kind == STORE_URL_NONE && priv_mkdirs_for(path) != 0) { /* 0700 (util/private.h) */
        int e = errno;
        cli_fail("cannot create the directory for the database %s: %s", path, strerror(e));
        free(path);
        return EXIT_FAIL;
    }
    if (store_db_open(out, path, err, sizeof err) != DB_OK) {
        one_line(err); /* libpq's reasons come in several lines */
        cli_fail("%s", err);
        free(path);
        return EXIT_FAIL;
    }
    if (db_recovered(*out))
        fprintf(stderr, "frontdesk: marked %d request(s) left by a process that ended as interrupted\n",
                db_recovered(*out));
    free(path);
    return EXIT_OK;
}

db_status store_file_sha256(db *d, const char *path, char hex[65], char *err, size_t errlen)
{
    struct stat sb;
    char *real = realpath(path, NULL);
    const char *key = real ? real : path;
    if (stat(path, &sb) != 0) {
        util_errf(err, errlen, "%s: %s", path, strerror(errno));
        free(real);
        return DB_ERR;
    }
    int64_t mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    db_status s = db_file_hash_get(d, key, (int64_t)sb.st_size, mtime_ns, hex);
    if (s == DB_NOTFOUND) {
        if (util_sha256_file(path, hex, err, errlen) != 0) {
            free(real);
            return DB_ERR;
        }
        s = db_file_hash_put(d, key, (int64_t)sb.st_size, mtime_ns, hex);
    }
    free(real);
    if (s != DB_OK)
        util_errf(err, errlen, "%s", db_errmsg(d));
    return s;
}

db_status store_model_local(db *d, const char *path, const model *m, int64_t *id, char *err, size_t errlen)
{
    char hex[65];
    db_status s = store_file_sha256(d, path, hex, err, errlen);
    if (s != DB_OK)
        return s;
    char *real = realpath(path, NULL);
    gguf_str name = {"", 0};
    gguf_get_str(m->file, "general.name", &name);
    char *gname = name.len ? xstrndup(name.ptr, (size_t)name.len) : NULL;
    const char *base = strrchr(path, '/');
    db_model_info info = {.sha256 = hex,
                          .name = gname,
                          .file_name = base ? base + 1 : path,
                          .arch = m->hp.arch,
                          .n_params = (int64_t)m->hp.n_params,
                          .quant = m->quant,
                          .path = real};
    s = db_model_use(d, &info, id);
    free(gname);
    free(real);
    if (s != DB_OK)
        util_errf(err, errlen, "%s", db_errmsg(d));
    return s;
}

char *store_sampling_json(const sampler_params *sp, int n_predict, int n_ctx)
{
    json_t *o = json_object();
    json_object_set_new(o, "temperature", json_real(sp->temp));
    json_object_set_new(o, "top_k", json_integer(sp->top_k));
    json_object_set_new(o, "top_p", json_real(sp->top_p));
    json_object_set_new(o, "min_p", json_real(sp->min_p));
    json_object_set_new(o, "repeat_penalty", json_real(sp->repeat_penalty));
    json_object_set_new(o, "repeat_last_n", json_integer(sp->repeat_last_n));
    json_object_set_new(o, "seed", json_integer((json_int_t)sp->seed));
    json_object_set_new(o, "max_tokens", json_integer(n_predict));
    json_object_set_new(o, "n_ctx", json_integer(n_ctx));
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    char *copy = xstrdup(s ? s : "{}");
    free(s);
    return copy;
}

/* ---- Recording a reply ----------------------------------------------------- */

static double reply_retry_s = STORE_RETRY_S;

/* libpq's reasons come in several lines: one line, for a status line or
 * a log. */
static void reply_err_flatten(char *s)
{
    char *w = s;
    for (const char *p = s; *p; p++) {
        bool space = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';
        if (!space)
            *w++ = *p;
        else if (w > s && w[-1] != ' ')
            *w++ = ' ';
    }
    while (w > s && w[-1] == ' ')
        w--;
    *w = 0;
}

void store_set_retry(double seconds)
{
    reply_retry_s = seconds >= 0 ? seconds : STORE_RETRY_S;
}

double store_retry_s(void)
{
    return reply_retry_s;
}

db_status store_reply_begin(store_reply *r, db *d, int64_t conv, int64_t model_id, const char *backend,
                            const char *sampling, int64_t replaces, double queue_ms)
{
    memset(r, 0, sizeof *r);
    r->d = d;
    r->conv = conv;
    r->model_id = model_id;
    r->t0 = util_now();
    db_status s = db_reply_begin(d, conv, model_id, sampling, replaces, &r->message);
    if (s == DB_OK)
        s = db_request_begin(d, model_id, backend, conv, r->message, queue_ms, &r->request);
    if (s != DB_OK) {
        util_errf(r->err, sizeof r->err, "%s", db_errmsg(d));
        reply_err_flatten(r->err);
        r->lost = s == DB_GONE;
        return s;
    }
    /* the request row exists: stamped at once, then every heartbeat_s */
    r->held = heartbeat_hold(d);
    return DB_OK;
}

db_status store_reply_switch(store_reply *r, const db_request_result *failed, int64_t model_id,
                             const char *backend)
{
    if (r->lost)
        return DB_GONE;
    db_status s = db_request_finish(r->d, r->request, failed);
    r->request = 0;
    r->model_id = model_id;
    if (s == DB_OK)
        s = db_request_begin(r->d, model_id, backend, r->conv, r->message, 0, &r->request);
    if (s != DB_OK)
        util_errf(r->err, sizeof r->err, "%s", db_errmsg(r->d));
    return s;
}

static void save_progress(store_reply *r)
{
    double now = util_now();
    r->next_save = now + 0.25;
    db_status s = db_reply_progress(r->d, r->message, r->text.data ? r->text.data : "");
    if (s == DB_GONE) { /* again at a later piece, less often while the server stays away */
        double wait = 0.25 * (double)(1 << (r->gone_saves < 4 ? r->gone_saves : 4));
        r->next_save = now + wait;
        r->gone_saves++;
        return;
    }
    r->gone_saves = 0;
    if (s != DB_OK && !r->failed) {
        r->failed = true;
        util_errf(r->err, sizeof r->err, "%s", db_errmsg(r->d));
    }
}

void store_reply_text(store_reply *r, const char *text, size_t len)
{
    bool first = r->text.len == 0;
    sb_append(&r->text, text, len);
    if (r->message && !r->lost && (first || util_now() >= r->next_save))
        save_progress(r);
}

/* The writes that complete a reply, each an update by id that may be
 * repeated. */
enum { END_REQUEST, END_TEXT, END_CONFIDENCE };

static db_status end_write(store_reply *r, int which, const db_request_result *res)
{
    const char *text = r->text.data ? r->text.data : "";
    switch (which) {
    case END_REQUEST:
        return db_request_finish(r->d, r->request, res);
    case END_TEXT:
        return db_reply_end(r->d, r->message, text, r->model_id);
    default:
        return db_reply_confidence(r->d, r->message, res->logprob_mean, res->logprob_min);
    }
}

/* One write, tried again while the server is away (DB_GONE) until
 * *deadline (set at the first such failure: retry_s from then, for all
 * the writes together), waiting 0.1 s, 0.2 s, ... up to 1 s between. */
static db_status end_write_retrying(store_reply *r, int which, const db_request_result *res, double *deadline)
{
    double wait = 0.1;
    for (;;) {
        db_status s = end_write(r, which, res);
        if (s != DB_GONE)
            return s;
        double now = util_now();
        if (*deadline == 0) {
            *deadline = now + reply_retry_s;
            if (r->say)
                fprintf(stderr,
                        "%s: the database server cannot be reached; the reply is kept and recorded if it "
                        "returns within %g s\n",
                        r->say, reply_retry_s);
        }
        if (now >= *deadline)
            return s;
        util_sleep(wait < *deadline - now ? wait : *deadline - now);
        wait = wait * 2 < 1 ? wait * 2 : 1;
    }
}

db_status store_reply_end(store_reply *r, const db_request_result *res)
{
    db_status s = DB_OK;
    double deadline = 0;
    if (r->lost) { /* the server was away at the start: nothing of it is stored */
        if (r->message) /* an empty reply row, if the server took that much: gone with it */
            db_reply_end(r->d, r->message, "", r->model_id);
        s = DB_GONE;
    } else {
        if (r->request && (s = end_write_retrying(r, END_REQUEST, res, &deadline)) != DB_OK)
            util_errf(r->err, sizeof r->err, "%s", db_errmsg(r->d));
        if (r->message) {
            db_status s2 = end_write_retrying(r, END_TEXT, res, &deadline);
            /* an empty reply is gone: nothing to be confident about */
            if (s2 == DB_OK && res->has_logprob && r->text.len)
                s2 = end_write_retrying(r, END_CONFIDENCE, res, &deadline);
            if (s2 != DB_OK && s == DB_OK) {
                s = s2;
                util_errf(r->err, sizeof r->err, "%s", db_errmsg(r->d));
            }
        }
        if (s == DB_GONE) {
            r->lost = true;
            char why[sizeof r->err];
            snprintf(why, sizeof why, "%s", r->err);
            util_errf(r->err, sizeof r->err, "the database server stayed away for %g s (%s)", reply_retry_s, why);
        }
    }
    if (s != DB_OK)
        reply_err_flatten(r->err);
    if (r->held) {
        heartbeat_release();
        r->held = false;
    }
    sb_free(&r->text);
    return s;
}
