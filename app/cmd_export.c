/*
 * cmd_export.c — `frontdesk export`: rated replies as fine-tuning data.
 *
 * JSONL: one line per reply, {"messages":[{"role":"system"|"user"|
 * "assistant","content":...},...],"metadata":{...}} with the thread up to
 * and including the reply.  CSV: one row per reply (RFC 4180 quoting) with
 * the same fields flattened and the messages as a JSON column.  With --out
 * the file is written beside its destination and renamed into place, so a
 * failure (a full disk) never leaves half a file.
 */
#include "app/cli.h"
#include "app/store.h"

#include "storage/export.h"
#include "util/private.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char cmd_export_usage[] =
    "usage: frontdesk export [--format jsonl|csv] [--min-score N] [--thumbs up|down]\n"
    "                        [--since YYYY-MM-DD] [--out FILE] [--db PATH|URL]\n"
    "\n"
    "Write every rated agent reply that passes the filters, with the\n"
    "conversation up to and including it, in the chat fine-tuning format:\n"
    "{\"messages\":[{\"role\":\"system\"|\"user\"|\"assistant\",\"content\":...}],\n"
    " \"metadata\":{conversation_id, message_id, model, model_sha256, sampling,\n"
    " score, thumbs, tags, ratings}}\n"
    "\n"
    "  --format F      jsonl (default) or csv\n"
    "  --min-score N   only replies every scorer gave at least N (1..5)\n"
    "  --thumbs T      only replies someone gave thumbs T and nobody the other\n"
    "  --since DATE    only replies written on or after DATE (UTC)\n"
    "  --out FILE      write FILE (atomically) instead of standard output\n"
    "  --db PATH|URL   the database\n";

typedef struct {
    FILE *f;
    bool csv;
    long count;
} export_ctx;

static const char *chat_role(db_role r)
{
    return r == DB_ROLE_SYSTEM ? "system" : r == DB_ROLE_CUSTOMER ? "user" : "assistant";
}

static json_t *metadata(const db_export_item *it)
{
    const db_msg *reply = &it->thread[it->n_thread - 1];
    json_t *md = json_object();
    json_object_set_new(md, "conversation_id", json_integer(reply->conversation_id));
    json_object_set_new(md, "message_id", json_integer(reply->id));
    json_object_set_new(md, "model", it->model ? json_string(it->model->display_name) : json_null());
    json_object_set_new(md, "model_sha256",
                        it->model && it->model->sha256 ? json_string(it->model->sha256) : json_null());
    json_object_set_new(md, "model_file",
                        it->model && it->model->file_name ? json_string(it->model->file_name) : json_null());
    json_object_set_new(md, "quantization",
                        it->model && it->model->quant ? json_string(it->model->quant) : json_null());
    json_t *sampling = reply->sampling ? json_loads(reply->sampling, 0, NULL) : NULL;
    json_object_set_new(md, "sampling", sampling ? sampling : json_null());
    int min_score = 0, up = 0, down = 0;
    for (size_t i = 0; i < it->n_ratings; i++) {
        const db_rating *r = &it->ratings[i];
        if (r->score && (!min_score || r->score < min_score))
            min_score = r->score;
        up += r->thumbs > 0;
        down += r->thumbs < 0;
    }
    json_object_set_new(md, "score", min_score ? json_integer(min_score) : json_null());
    json_object_set_new(md, "thumbs", up && !down   ? json_string("up")
                                      : down && !up ? json_string("down")
                                      : up && down  ? json_string("mixed")
                                                    : json_null());
    json_t *tags = json_array();
    for (size_t i = 0; i < it->n_ratings; i++)
        for (size_t t = 0; t < it->ratings[i].n_tags; t++) {
            const char *tag = it->ratings[i].tags[t];
            bool seen = false;
            for (size_t k = 0; k < json_array_size(tags); k++)
                seen |= !strcmp(json_string_value(json_array_get(tags, k)), tag);
            if (!seen)
                json_array_append_new(tags, json_string(tag));
        }
    json_object_set_new(md, "tags", tags);
    json_object_set_new(md, "ratings", cli_ratings_json(it->ratings, it->n_ratings));
    return md;
}

static json_t *messages(const db_export_item *it)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < it->n_thread; i++) {
        json_t *m = json_object();
        json_object_set_new(m, "role", json_string(chat_role(it->thread[i].role)));
        json_object_set_new(m, "content", json_string(it->thread[i].text));
        json_array_append_new(arr, m);
    }
    return arr;
}

static void csv_field(FILE *f, const char *s, bool last)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputs(last ? "\"\r\n" : "\",", f);
}

static void csv_json_field(FILE *f, const json_t *v, bool last)
{
    char *s = json_is_null(v) || !v ? NULL : json_is_string(v) ? strdup(json_string_value(v))
                                                                : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    csv_field(f, s ? s : "", last);
    free(s);
}

static bool on_item(void *ud, const db_export_item *it)
{
    export_ctx *x = ud;
    json_t *msgs = messages(it), *md = metadata(it);
    if (x->csv) {
        const char *keys[] = {"conversation_id", "message_id", "model", "model_sha256", "score", "thumbs",
                              "tags", "sampling"};
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
            csv_json_field(x->f, json_object_get(md, keys[i]), false);
        /* the last customer message and the reply, then the whole thread */
        const char *prompt = "";
        for (size_t i = 0; i + 1 < it->n_thread; i++)
            if (it->thread[i].role == DB_ROLE_CUSTOMER)
                prompt = it->thread[i].text;
        csv_field(x->f, prompt, false);
        csv_field(x->f, it->thread[it->n_thread - 1].text, false);
        csv_json_field(x->f, msgs, true);
        json_decref(msgs);
        json_decref(md);
    } else {
        json_t *o = json_object();
        json_object_set_new(o, "messages", msgs);
        json_object_set_new(o, "metadata", md);
        json_dumpf(o, x->f, JSON_COMPACT | JSON_REAL_PRECISION(15));
        fputc('\n', x->f);
        json_decref(o);
    }
    x->count++;
    return !ferror(x->f);
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"format", required_argument, NULL, 'f'}, {"min-score", required_argument, NULL, 'm'},
        {"thumbs", required_argument, NULL, 't'}, {"since", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},    {"db", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *db_flag = NULL, *out_path = NULL;
    db_export_filter flt = {0};
    bool csv = false;
    long l;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "jsonl") && strcmp(optarg, "csv"))
                return cli_usage_error("export", "--format is jsonl or csv, not '%s'", optarg);
            csv = !strcmp(optarg, "csv");
            break;
        case 'm':
            if (!cli_parse_int(optarg, 1, 5, &l))
                return cli_usage_error("export", "--min-score is 1 to 5, not '%s'", optarg);
            flt.min_score = (int)l;
            break;
        case 't':
            if (strcmp(optarg, "up") && strcmp(optarg, "down"))
                return cli_usage_error("export", "--thumbs is up or down, not '%s'", optarg);
            flt.thumbs = optarg[0] == 'u' ? 1 : -1;
            break;
        case 's': {
            struct tm tm = {0};
            const char *end = strptime(optarg, "%Y-%m-%d", &tm);
            if (!end || *end)
                return cli_usage_error("export", "--since needs a date YYYY-MM-DD, not '%s'", optarg);
            flt.since = (double)timegm(&tm);
            break;
        }
        case 'o': out_path = optarg; break;
        case 'd': db_flag = optarg; break;
        case ':': return cli_usage_error("export", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("export", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("export", "unexpected argument '%s'", argv[optind]);
    db *d;
    int opened = store_open(db_flag, &d);
    if (opened != EXIT_OK)
        return opened;
    export_ctx x = {.f = stdout, .csv = csv};
    char *tmp = NULL;
    if (out_path) {
        strbuf sb = {0};
        sb_printf(&sb, "%s.tmp.%ld", out_path, (long)getpid());
        tmp = sb.data;
        if (!(x.f = priv_fopen_replacing(tmp, out_path))) { /* 0600 unless it exists */
            int e = errno;
            cli_fail("cannot write %s: %s", tmp, strerror(e));
            free(tmp);
            db_close(d);
            return EXIT_FAIL;
        }
    }
    if (csv)
        fputs("conversation_id,message_id,model,model_sha256,score,thumbs,tags,sampling,prompt,response,"
              "messages\r\n",
              x.f);
    int rc = EXIT_OK;
    if (db_export(d, &flt, on_item, &x) != DB_OK)
        rc = cli_fail("%s", db_errmsg(d));
    int werr = 0;
    if (fflush(x.f) != 0 || ferror(x.f) || (tmp && fsync(fileno(x.f)) != 0))
        werr = errno ? errno : EIO;
    if (tmp) {
        if (fclose(x.f) != 0 && !werr)
            werr = errno;
        if (rc == EXIT_OK && !werr && rename(tmp, out_path) != 0)
            werr = errno;
        if (rc != EXIT_OK || werr)
            unlink(tmp);
        free(tmp);
    }
    if (rc == EXIT_OK && werr)
        rc = cli_fail("writing the export%s%s failed: %s", out_path ? " to " : "", out_path ? out_path : "",
                      strerror(werr));
    if (rc == EXIT_OK && out_path)
        fprintf(stderr, "frontdesk: exported %ld repl%s to %s\n", x.count, x.count == 1 ? "y" : "ies", out_path);
    db_close(d);
    return rc;
}
