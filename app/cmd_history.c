/*
 * cmd_history.c — `frontdesk history` (conversations, newest first) and
 * `frontdesk show ID` (one conversation with every message, its ratings
 * and request figures), as text or JSON.
 */
#include "app/cli.h"
#include "app/store.h"

#include "storage/ratings.h"

#include <getopt.h>
#include <limits.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cmd_history_usage[] =
    "usage: frontdesk history [--search TEXT] [--limit N] [--json] [--db PATH|URL]\n"
    "\n"
    "List conversations, most recently updated first.  Those the arena made\n"
    "(blind side-by-side copies, profile \"arena\") are marked [arena].\n"
    "\n"
    "  --search TEXT   only conversations with a message containing TEXT (taken\n"
    "                  literally; any script)\n"
    "  --limit N       at most N conversations (default 50; 0 = all)\n"
    "  --json          an array of objects: id, title, profile, status,\n"
    "                  created_at, updated_at, messages, rated\n"
    "  --db PATH|URL   the database: a file or a postgresql:// URL without a\n"
    "                  password (default $FRONTDESK_DB, else [store] url, else\n"
    "                  $XDG_DATA_HOME/frontdesk/frontdesk.db)\n";

const char cmd_show_usage[] =
    "usage: frontdesk show ID [--json] [--db PATH|URL]\n"
    "\n"
    "Print conversation ID with every message (replaced ones marked), the\n"
    "model, sampling settings, request figures, confidence and ratings of each\n"
    "reply.\n"
    "\n"
    "  --json          one object: id, title, status, created_at, messages (each\n"
    "                  with id, role, text, created_at, active, and for agent\n"
    "                  replies model, sampling, request, ratings, logprob_mean\n"
    "                  and logprob_min: the reply's confidence, null when\n"
    "                  unknown)\n"
    "  --db PATH|URL   the database\n";

static json_t *json_time(double t)
{
    char buf[40];
    return json_string(db_format_time(t, buf, sizeof buf));
}

/* Local time for people: "2026-11-24 16:18". */
static const char *human_time(double t, char *buf, size_t size)
{
    time_t s = (time_t)t;
    struct tm tm;
    localtime_r(&s, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

int cmd_history(int argc, char **argv)
{
    static const struct option opts[] = {
        {"search", required_argument, NULL, 's'}, {"limit", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},         {"db", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *search = NULL, *db_flag = NULL;
    long limit = 50;
    bool json = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 's': search = optarg; break;
        case 'l':
            if (!cli_parse_int(optarg, 0, 1 << 30, &limit))
                return cli_usage_error("history", "--limit needs a whole number, got '%s'", optarg);
            break;
        case 'j': json = true; break;
        case 'd': db_flag = optarg; break;
        case ':': return cli_usage_error("history", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("history", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("history", "unexpected argument '%s'", argv[optind]);
    db *d;
    int opened = store_open(db_flag, &d);
    if (opened != EXIT_OK)
        return opened;
    db_conv *cs;
    size_t n;
    if (db_conv_list(d, search, (int)limit, &cs, &n) != DB_OK) {
        cli_fail("%s", db_errmsg(d));
        db_close(d);
        return EXIT_FAIL;
    }
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "id", json_integer(cs[i].id));
            json_object_set_new(o, "title", json_string(cs[i].title));
            json_object_set_new(o, "profile", json_string(cs[i].profile));
            json_object_set_new(o, "status", json_string(cs[i].status));
            json_object_set_new(o, "created_at", json_time(cs[i].created_at));
            json_object_set_new(o, "updated_at", json_time(cs[i].updated_at));
            json_object_set_new(o, "messages", json_integer(cs[i].n_messages));
            json_object_set_new(o, "rated", json_integer(cs[i].n_rated));
            json_array_append_new(arr, o);
        }
        cli_print_json(arr);
        json_decref(arr);
    } else if (n == 0) {
        printf(search ? "no conversation contains that text\n" : "no conversations yet\n");
    } else {
        printf("%6s  %-16s  %-6s  %4s  %5s  %s\n", "ID", "UPDATED", "STATUS", "MSGS", "RATED", "TITLE");
        for (size_t i = 0; i < n; i++) {
            char t[32];
            printf("%6lld  %-16s  %-6s  %4d  %5d  ", (long long)cs[i].id,
                   human_time(cs[i].updated_at, t, sizeof t), cs[i].status, cs[i].n_messages, cs[i].n_rated);
            if (!strcmp(cs[i].profile, DB_PROFILE_ARENA))
                printf("[arena] "); /* a blind side-by-side copy, judged in the arena */
            cli_print_text(stdout, cs[i].title);
            putchar('\n');
        }
    }
    db_convs_free(cs, n);
    db_close(d);
    return EXIT_OK;
}

/* ---- show ------------------------------------------------------------------------ */

static json_t *json_measure(double v)
{
    return v >= 0 ? json_real(v) : json_null();
}

static json_t *request_json(const db_request *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "backend", json_string(r->backend));
    json_object_set_new(o, "outcome", json_string(r->outcome));
    json_object_set_new(o, "error", r->error ? json_string(r->error) : json_null());
    json_object_set_new(o, "started_at", json_time(r->started_at));
    json_object_set_new(o, "queue_ms", json_real(r->queue_ms));
    json_object_set_new(o, "prompt_tokens", r->prompt_tokens >= 0 ? json_integer(r->prompt_tokens) : json_null());
    json_object_set_new(o, "gen_tokens", r->gen_tokens >= 0 ? json_integer(r->gen_tokens) : json_null());
    json_object_set_new(o, "ttft_ms", json_measure(r->ttft_ms));
    json_object_set_new(o, "prefill_ms", json_measure(r->prefill_ms));
    json_object_set_new(o, "decode_ms", json_measure(r->decode_ms));
    json_object_set_new(o, "prefill_tps", json_measure(r->prefill_tps));
    json_object_set_new(o, "decode_tps", json_measure(r->decode_tps));
    json_object_set_new(o, "latency_ms", json_measure(r->latency_ms));
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    return o;
}

json_t *cli_model_json(const db_model *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "name", json_string(m->display_name));
    json_object_set_new(o, "backend", json_string(m->backend));
    json_object_set_new(o, "sha256", m->sha256 ? json_string(m->sha256) : json_null());
    json_object_set_new(o, "file", m->file_name ? json_string(m->file_name) : json_null());
    json_object_set_new(o, "url", m->url ? json_string(m->url) : json_null());
    json_object_set_new(o, "architecture", m->arch ? json_string(m->arch) : json_null());
    json_object_set_new(o, "parameters", m->n_params ? json_integer(m->n_params) : json_null());
    json_object_set_new(o, "quantization", m->quant ? json_string(m->quant) : json_null());
    return o;
}

json_t *cli_ratings_json(const db_rating *r, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "rater", json_string(r[i].rater));
        json_object_set_new(o, "thumbs", r[i].thumbs > 0   ? json_string("up")
                                         : r[i].thumbs < 0 ? json_string("down")
                                                           : json_null());
        json_object_set_new(o, "score", r[i].score ? json_integer(r[i].score) : json_null());
        json_t *tags = json_array();
        for (size_t t = 0; t < r[i].n_tags; t++)
            json_array_append_new(tags, json_string(r[i].tags[t]));
        json_object_set_new(o, "tags", tags);
        json_object_set_new(o, "comment", r[i].comment ? json_string(r[i].comment) : json_null());
        json_object_set_new(o, "updated_at", json_time(r[i].updated_at));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* What show prints of one agent reply besides its text. */
typedef struct {
    db_model model;
    bool have_model;
    db_request *reqs;
    size_t n_reqs;
    db_rating *ratings;
    size_t n_ratings;
    bool purged; /* its request rows went (purge --requests-older-than) */
} reply_info;

static db_status load_reply(db *d, const db_msg *m, reply_info *ri)
{
    memset(ri, 0, sizeof *ri);
    db_status s = DB_OK;
    if (m->model_id && (s = db_model_get(d, m->model_id, &ri->model)) == DB_OK)
        ri->have_model = true;
    if (s == DB_OK)
        s = db_requests_for_message(d, m->id, &ri->reqs, &ri->n_reqs);
    if (s == DB_OK && !ri->n_reqs)
        s = db_request_figures_purged(d, m->id, &ri->purged);
    if (s == DB_OK)
        s = db_ratings_get(d, m->id, &ri->ratings, &ri->n_ratings);
    return s;
}

static void reply_info_free(reply_info *ri)
{
    db_model_clear(&ri->model);
    db_requests_free(ri->reqs, ri->n_reqs);
    db_ratings_free(ri->ratings, ri->n_ratings);
}

static json_t *message_json(const db_msg *m, const reply_info *ri)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "role", json_string(db_role_name(m->role)));
    json_object_set_new(o, "text", json_string(m->text));
    json_object_set_new(o, "created_at", json_time(m->created_at));
    json_object_set_new(o, "active", json_boolean(m->active));
    json_object_set_new(o, "replaces", m->parent_id ? json_integer(m->parent_id) : json_null());
    if (m->role != DB_ROLE_AGENT)
        return o;
    json_object_set_new(o, "model", ri->have_model ? cli_model_json(&ri->model) : json_null());
    json_t *sampling = m->sampling ? json_loads(m->sampling, 0, NULL) : NULL;
    json_object_set_new(o, "sampling", sampling ? sampling : json_null());
    json_object_set_new(o, "request", ri->n_reqs ? request_json(&ri->reqs[ri->n_reqs - 1]) : json_null());
    if (ri->n_reqs > 1) { /* a fallback: every backend asked */
        json_t *all = json_array();
        for (size_t i = 0; i < ri->n_reqs; i++)
            json_array_append_new(all, request_json(&ri->reqs[i]));
        json_object_set_new(o, "requests", all);
    }
    json_object_set_new(o, "ratings", cli_ratings_json(ri->ratings, ri->n_ratings));
    json_object_set_new(o, "logprob_mean", m->has_logprob ? json_real(m->logprob_mean) : json_null());
    json_object_set_new(o, "logprob_min", m->has_logprob ? json_real(m->logprob_min) : json_null());
    return o;
}

/* The text indented by four spaces, line by line, each line escaped as a
 * whole (a C1 control is two bytes: escaping byte by byte would let it
 * through). */
static void print_indented(const char *text)
{
    for (const char *p = text;;) {
        const char *nl = strchr(p, '\n');
        fputs("    ", stdout);
        cli_print_textn(stdout, p, nl ? (size_t)(nl - p) : strlen(p));
        putchar('\n');
        if (!nl)
            break;
        p = nl + 1;
    }
}

static void message_text(const db_msg *m, const reply_info *ri)
{
    char t[32];
    printf("[%lld] %s  %s%s\n", (long long)m->id, db_role_name(m->role), human_time(m->created_at, t, sizeof t),
           m->active ? "" : "  (replaced)");
    print_indented(m->text);
    if (m->role != DB_ROLE_AGENT)
        return;
    if (ri->have_model)
        printf("    model: %s (%s, sha256 %.12s)\n", ri->model.display_name,
               ri->model.quant ? ri->model.quant : "?", ri->model.sha256 ? ri->model.sha256 : "-");
    if (m->sampling)
        printf("    sampling: %s\n", m->sampling);
    if (m->has_logprob)
        printf("    confidence: mean log-prob %.3f, lowest %.3f\n", m->logprob_mean, m->logprob_min);
    for (size_t i = 0; i < ri->n_reqs; i++) {
        const db_request *r = &ri->reqs[i];
        printf("    request %lld: %s, %d+%d tokens", (long long)r->id, r->outcome, r->prompt_tokens,
               r->gen_tokens);
        if (r->ttft_ms >= 0)
            printf(", first token %.0f ms", r->ttft_ms);
        if (r->decode_tps >= 0)
            printf(", %.1f tok/s", r->decode_tps);
        if (r->latency_ms >= 0)
            printf(", %.0f ms in all", r->latency_ms);
        if (r->error)
            printf(" — %s", r->error);
        putchar('\n');
    }
    if (ri->purged)
        printf("    request: figures purged\n");
    for (size_t i = 0; i < ri->n_ratings; i++) {
        const db_rating *r = &ri->ratings[i];
        printf("    rated by %s:", r->rater);
        if (r->thumbs)
            printf(" thumbs %s", r->thumbs > 0 ? "up" : "down");
        if (r->score)
            printf(" score %d", r->score);
        for (size_t t = 0; t < r->n_tags; t++)
            printf(" #%s", r->tags[t]);
        if (r->comment) {
            fputs(" \"", stdout);
            cli_print_text(stdout, r->comment);
            putchar('"');
        }
        putchar('\n');
    }
}

int cmd_show(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"db", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *db_flag = NULL;
    bool json = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'd': db_flag = optarg; break;
        case ':': return cli_usage_error("show", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("show", "unknown option '%s'", argv[optind - 1]);
        }
    }
    long id;
    if (optind + 1 != argc)
        return cli_usage_error("show", "give one conversation ID");
    if (!cli_parse_int(argv[optind], 1, LONG_MAX, &id))
        return cli_usage_error("show", "a conversation ID is a positive whole number, not '%s'", argv[optind]);
    db *d;
    int opened = store_open(db_flag, &d);
    if (opened != EXIT_OK)
        return opened;
    db_conv conv;
    db_msg *msgs = NULL;
    size_t n = 0;
    int rc = EXIT_FAIL;
    if (db_conv_get(d, id, &conv) != DB_OK) {
        cli_fail("%s", db_errmsg(d));
        db_close(d);
        return EXIT_FAIL;
    }
    if (db_msgs_list(d, id, true, &msgs, &n) != DB_OK) {
        cli_fail("%s", db_errmsg(d));
        goto out;
    }
    json_t *root = NULL, *arr = NULL;
    if (json) {
        root = json_object();
        json_object_set_new(root, "id", json_integer(conv.id));
        json_object_set_new(root, "title", json_string(conv.title));
        json_object_set_new(root, "status", json_string(conv.status));
        json_object_set_new(root, "profile", json_string(conv.profile));
        json_object_set_new(root, "created_at", json_time(conv.created_at));
        json_object_set_new(root, "updated_at", json_time(conv.updated_at));
        arr = json_array();
        json_object_set_new(root, "messages", arr);
    } else {
        printf("conversation %lld: ", (long long)conv.id);
        cli_print_text(stdout, conv.title);
        char t[32];
        printf("\nstatus %s, started %s, %d message(s)\n\n", conv.status,
               human_time(conv.created_at, t, sizeof t), conv.n_messages);
    }
    rc = EXIT_OK;
    for (size_t i = 0; i < n && rc == EXIT_OK; i++) {
        reply_info ri = {0};
        if (msgs[i].role == DB_ROLE_AGENT && load_reply(d, &msgs[i], &ri) != DB_OK)
            rc = cli_fail("%s", db_errmsg(d));
        else if (json)
            json_array_append_new(arr, message_json(&msgs[i], &ri));
        else
            message_text(&msgs[i], &ri);
        reply_info_free(&ri);
    }
    if (json && rc == EXIT_OK)
        cli_print_json(root);
    json_decref(root);
out:
    db_msgs_free(msgs, n);
    db_conv_clear(&conv);
    db_close(d);
    return rc;
}
