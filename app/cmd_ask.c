/*
 * cmd_ask.c — `frontdesk ask`: one reply from a local model, streamed to
 * standard output.
 */
#include "app/cli.h"
#include "app/compare.h"
#include "app/config.h"
#include "app/deploy.h"
#include "app/reply.h"
#include "app/store.h"

#include "engine/chat_template.h"
#include "engine/forward.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/prompt.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"
#include "storage/redact.h"
#include "util/util.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_ask_usage[] =
    "usage: frontdesk ask (--model FILE | --backend URL) [options] TEXT\n"
    "\n"
    "Ask the model one question and stream its reply to standard output,\n"
    "followed by one newline.  TEXT is the customer's message, put through the\n"
    "model's chat template (or, with --raw, used as a plain prompt).\n"
    "\n"
    "  -m, --model FILE          the GGUF model (default: [model] path in the\n"
    "                            config file, else the built-in model; with\n"
    "                            --backend: the local\n"
    "                            fallback when [remote] fallback = local)\n"
    "      --backend URL         an OpenAI-compatible server, e.g.\n"
    "                            http://127.0.0.1:8080/v1 (default: [remote]\n"
    "                            backend in the config file); the API key is\n"
    "                            read from $FRONTDESK_API_KEY ([remote] api_key_env)\n"
    "      --remote-model NAME   the server's model name\n"
    "      --system TEXT         system prompt (default: a customer-service one)\n"
    "      --temp T              temperature; 0 is greedy (default 0.8)\n"
    "      --top-k K             keep the K most likely tokens; 0 = off (40)\n"
    "      --top-p P             nucleus sampling; 1 = off (0.95)\n"
    "      --min-p P             drop tokens below P × the top probability (0.05)\n"
    "      --repeat-penalty R    penalise repeats of the last 64 tokens; 1 = off (1)\n"
    "      --seed S              random seed (default: from the clock)\n"
    "  -n N                      generate at most N tokens (default 256)\n"
    "  -c, --ctx N               context length in tokens (default 2048, at most\n"
    "                            the model's)\n"
    "  -t, --threads N           threads (default: the number of cores)\n"
    "      --stop TEXT           stop before TEXT (may be repeated)\n"
    "      --chat-template NAME  chatml, llama3, llama2, zephyr, gemma, phi3, ...\n"
    "      --raw                 no chat template: TEXT is the whole prompt, BOS\n"
    "                            added as the model's metadata asks\n"
    "      --ids                 print the generated token ids instead of text\n"
    "      --stats               print timings to standard error at the end:\n"
    "                            prompt_tokens= gen_tokens= ttft_ms= prefill_tps=\n"
    "                            decode_tps= (and conversation= message= when\n"
    "                            recorded)\n"
    "      --db PATH|URL         the database: a file or a postgresql:// URL\n"
    "                            without a password (default $FRONTDESK_DB,\n"
    "                            else [store] url, else\n"
    "                            $XDG_DATA_HOME/frontdesk/frontdesk.db)\n"
    "      --conversation ID     continue conversation ID with its history\n"
    "      --no-db               record nothing\n"
    "      --redact              mask e-mail addresses, phone numbers and card\n"
    "                            numbers in TEXT before it is stored or sent\n"
    "\n"
    "The conversation, the reply and the request's figures are recorded in the\n"
    "database unless --no-db is given.\n"
    "\n"
    "To a terminal, control characters in the reply (other than newline and\n"
    "tab) are shown escaped; to a pipe or file the bytes are written unchanged.\n"
    "Ctrl-C stops generation cleanly (exit status 130).\n";

#define DEFAULT_SYSTEM                                                                              \
    "You are a helpful, polite customer-service agent. Answer the customer's question "            \
    "clearly and briefly."

static atomic_bool interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&interrupted, true);
}

typedef struct {
    bool tty;
    bool ids;
    bool write_failed;
    int n_ids;
    bool wrote;       /* some text was streamed */
    store_reply *rec; /* NULL with --no-db */
} ask_out;

static bool write_all(const char *s, size_t n)
{
    return fwrite(s, 1, n, stdout) == n && fflush(stdout) == 0;
}

static bool on_text(void *ud, const char *text, size_t len)
{
    ask_out *o = ud;
    o->wrote = true;
    if (o->rec)
        store_reply_text(o->rec, text, len);
    if (o->ids)
        return true;
    if (!o->tty) {
        if (!write_all(text, len))
            o->write_failed = true;
        return !o->write_failed;
    }
    /* Model output must never drive the user's terminal. */
    strbuf sb = {0};
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
            sb_printf(&sb, "\\x%02x", ch);
        else
            sb_putc(&sb, (char)ch);
    }
    if (sb.len && !write_all(sb.data, sb.len))
        o->write_failed = true;
    sb_free(&sb);
    return !o->write_failed;
}

static void on_token(void *ud, int32_t id)
{
    ask_out *o = ud;
    if (!o->ids)
        return;
    printf(o->n_ids++ ? " %d" : "%d", id);
    fflush(stdout);
}

typedef struct {
    const char *model_path, *system, *text, *tmpl_name, *db_path, *backend, *remote_model;
    sampler_params sp;
    bool seed_given, raw, ids, stats, no_db, redact;
    long n_predict, n_ctx, n_threads, conversation;
    const char **stops;
    size_t n_stops;
} ask_args;

static int parse_args(int argc, char **argv, ask_args *a)
{
    enum { O_SYSTEM = 256, O_TEMP, O_TOPK, O_TOPP, O_MINP, O_REPEAT, O_SEED, O_STOP, O_TMPL,
           O_RAW, O_IDS, O_STATS, O_NODB, O_DB, O_CONV, O_REDACT, O_BACKEND, O_RMODEL };
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"system", required_argument, NULL, O_SYSTEM},
        {"temp", required_argument, NULL, O_TEMP},
        {"top-k", required_argument, NULL, O_TOPK},
        {"top-p", required_argument, NULL, O_TOPP},
        {"min-p", required_argument, NULL, O_MINP},
        {"repeat-penalty", required_argument, NULL, O_REPEAT},
        {"seed", required_argument, NULL, O_SEED},
        {"ctx", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {"stop", required_argument, NULL, O_STOP},
        {"chat-template", required_argument, NULL, O_TMPL},
        {"raw", no_argument, NULL, O_RAW},
        {"ids", no_argument, NULL, O_IDS},
        {"stats", no_argument, NULL, O_STATS},
        {"no-db", no_argument, NULL, O_NODB},
        {"db", required_argument, NULL, O_DB},
        {"conversation", required_argument, NULL, O_CONV},
        {"redact", no_argument, NULL, O_REDACT},
        {"backend", required_argument, NULL, O_BACKEND},
        {"remote-model", required_argument, NULL, O_RMODEL},
        {NULL, 0, NULL, 0},
    };
    a->sp = sampler_defaults();
    a->n_predict = 256;
    a->n_ctx = 2048;
    a->n_threads = sysconf(_SC_NPROCESSORS_ONLN);
    if (a->n_threads < 1)
        a->n_threads = 1;
    a->stops = xcalloc((size_t)argc, sizeof *a->stops);
    double d;
    long l;
    int c;
    opterr = 0;
#define NUM_F(name, lo, hi, dst)                                                                    \
    do {                                                                                            \
        if (!cli_parse_float(optarg, lo, hi, &d))                                                   \
            return cli_usage_error("ask", "%s needs a number from %g to %g, got '%s'", name, lo, hi, \
                                   optarg);                                                         \
        dst = (float)d;                                                                             \
    } while (0)
#define NUM_I(name, lo, hi, dst)                                                                    \
    do {                                                                                            \
        if (!cli_parse_int(optarg, lo, hi, &l))                                                     \
            return cli_usage_error("ask", "%s needs a whole number from %ld to %ld, got '%s'", name, \
                                   (long)(lo), (long)(hi), optarg);                                 \
        dst = l;                                                                                    \
    } while (0)
    while ((c = getopt_long(argc, argv, ":m:n:c:t:", opts, NULL)) != -1) {
        switch (c) {
        case 'm': a->model_path = optarg; break;
        case O_SYSTEM: a->system = optarg; break;
        case O_TEMP: NUM_F("--temp", 0.0, 100.0, a->sp.temp); break;
        case O_TOPK: NUM_I("--top-k", 0, 1 << 24, a->sp.top_k); break;
        case O_TOPP: NUM_F("--top-p", 0.0, 1.0, a->sp.top_p); break;
        case O_MINP: NUM_F("--min-p", 0.0, 1.0, a->sp.min_p); break;
        case O_REPEAT: NUM_F("--repeat-penalty", 0.01, 100.0, a->sp.repeat_penalty); break;
        case O_SEED: {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-')
                return cli_usage_error("ask", "--seed needs a non-negative whole number, got '%s'", optarg);
            a->sp.seed = s;
            a->seed_given = true;
            break;
        }
        case 'n': NUM_I("-n", 1, 1 << 20, a->n_predict); break;
        case 'c': NUM_I("--ctx", 8, 1 << 20, a->n_ctx); break;
        case 't': NUM_I("--threads", 1, 512, a->n_threads); break;
        case O_STOP:
            if (!*optarg)
                return cli_usage_error("ask", "--stop needs a non-empty text");
            a->stops[a->n_stops++] = optarg;
            break;
        case O_TMPL: a->tmpl_name = optarg; break;
        case O_RAW: a->raw = true; break;
        case O_IDS: a->ids = true; break;
        case O_STATS: a->stats = true; break;
        case O_NODB: a->no_db = true; break;
        case O_DB: a->db_path = optarg; break;
        case O_CONV: NUM_I("--conversation", 1, LONG_MAX, a->conversation); break;
        case O_REDACT: a->redact = true; break;
        case O_BACKEND: a->backend = optarg; break;
        case O_RMODEL: a->remote_model = optarg; break;
        case ':': return cli_usage_error("ask", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("ask", "unknown option '%s'", argv[optind - 1]);
        }
    }
#undef NUM_F
#undef NUM_I
    const char *bad_url = a->backend ? cli_backend_problem(a->backend) : NULL;
    if (bad_url)
        return cli_usage_error("ask", "--backend '%s' %s", a->backend, bad_url);
    if (optind + 1 != argc)
        return cli_usage_error("ask", optind == argc ? "the question TEXT is missing"
                                                     : "give the question as one argument (quote it)");
    a->text = argv[optind];
    if (a->raw && (a->system || a->tmpl_name || a->conversation))
        return cli_usage_error("ask", "--raw cannot be combined with --system, --chat-template or "
                                      "--conversation");
    if (a->conversation && a->system)
        return cli_usage_error("ask", "a continued conversation keeps its own system prompt; drop --system");
    if (a->no_db && (a->conversation || a->db_path))
        return cli_usage_error("ask", "--no-db cannot be combined with --db or --conversation");
    if (!a->seed_given)
        a->sp.seed = (uint64_t)(util_now() * 1e9) ^ (uint64_t)getpid();
    return EXIT_OK;
}

/* The chat template to render with: --chat-template, else the model's. */
static int pick_template(const ask_args *a, const model *m, chat_tmpl *t, char *err, size_t errlen)
{
    if (a->tmpl_name) {
        if (!chat_tmpl_from_name(a->tmpl_name, t)) {
            util_errf(err, errlen, "unknown chat template '%s' (known: %s)", a->tmpl_name, chat_tmpl_names());
            return -2;
        }
        return 0;
    }
    gguf_str s = {"", 0};
    bool known;
    gguf_get_str(m->file, "tokenizer.chat_template", &s);
    *t = chat_tmpl_detect(s.ptr, (size_t)s.len, &known);
    return 0;
}

/* The conversation so far, as the model sees it: its system prompt, then
 * the active customer and agent turns (from the database when continuing
 * one), then the question. */
typedef struct {
    chat_msg *msgs;
    size_t n;
    db_msg *rows; /* owned copies of the stored turns */
    size_t n_rows;
} history;

static void history_free(history *h)
{
    free(h->msgs);
    db_msgs_free(h->rows, h->n_rows);
}

static int load_history(const ask_args *a, db *d, const char *question, history *h)
{
    memset(h, 0, sizeof *h);
    if (a->conversation) { /* implies a database (parse_args) */
        db_conv c;
        db_status st = db_conv_get(d, a->conversation, &c);
        db_conv_clear(&c);
        if (st == DB_OK)
            st = db_msgs_list(d, a->conversation, false, &h->rows, &h->n_rows);
        if (st != DB_OK)
            return cli_fail("%s", db_errmsg(d));
    }
    h->msgs = xcalloc(h->n_rows + 2, sizeof *h->msgs);
    bool have_system = false;
    for (size_t i = 0; i < h->n_rows; i++) {
        const db_msg *m = &h->rows[i];
        if (m->role == DB_ROLE_AGENT && !*m->text)
            continue;
        have_system |= m->role == DB_ROLE_SYSTEM;
        h->msgs[h->n].role = m->role == DB_ROLE_SYSTEM     ? "system"
                             : m->role == DB_ROLE_CUSTOMER ? "user"
                                                           : "assistant";
        h->msgs[h->n++].content = m->text;
    }
    if (!a->conversation && !have_system) {
        h->msgs[h->n].role = "system";
        h->msgs[h->n++].content = a->system ? a->system : DEFAULT_SYSTEM;
    }
    h->msgs[h->n].role = "user";
    h->msgs[h->n++].content = question;
    return EXIT_OK;
}

/* Record what asking needs before generating: the conversation (new
 * unless continued) and the customer's message. */
static int record_question(const ask_args *a, db *d, const char *question, int64_t *conv)
{
    *conv = a->conversation;
    int64_t msg;
    if (!*conv && db_conv_create(d, a->raw ? "raw" : "default",
                                 a->raw ? NULL : a->system ? a->system : DEFAULT_SYSTEM, conv) != DB_OK)
        return cli_fail("%s", db_errmsg(d));
    if (db_msg_add(d, *conv, DB_ROLE_CUSTOMER, question, &msg) != DB_OK)
        return cli_fail("%s", db_errmsg(d));
    return EXIT_OK;
}

/* The remote model's identity in the store: URL + model name. */
static db_status record_remote_model(db *d, const remote_opts *ro, int64_t *id)
{
    db_model_info info = {.url = ro->base_url, .name = ro->model ? ro->model : "default"};
    return db_model_use(d, &info, id);
}

int cmd_ask(int argc, char **argv)
{
    ask_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != EXIT_OK) {
        free(a.stops);
        return rc;
    }
    double t_start = util_now();
    config cfg; /* [privacy] redact and [remote] apply to ask too */
    config_load(&cfg, NULL);
    if (cfg.redact)
        a.redact = true;
    const char *backend_url = a.backend ? a.backend : cfg.backend;
    bool pinned = a.model_path || a.backend; /* given here: the deployment does not decide */
    if (!a.model_path && !backend_url) /* the config's model, else the built-in one */
        a.model_path = cfg.model_path ? cfg.model_path : config_builtin_model();
    rc = EXIT_FAIL;
    char err[512];
    model *m = NULL;
    tok_vocab *v = NULL;
    fwd_ctx *ctx = NULL;
    db *d = NULL;
    history h = {0};
    store_reply rec = {0};
    bool recording = false;
    char *question = NULL;
    int64_t local_id = 0, remote_id = 0, conv = 0;
    remote_opts ro = remote_defaults();
    reply_backend local = {0}, remote = {0};
    deploy_version dv = {0};
    int64_t routed_id = 0;
    bool asked = false;
    if (!backend_url && !a.model_path) {
        rc = cli_usage_error("ask", "no model: give --model FILE (or --backend URL); the built-in model "
                                    "%s is in neither share/frontdesk/ nor models/",
                             CONFIG_BUILTIN_MODEL);
        goto out;
    }
    if (backend_url && (a.ids || a.raw)) {
        rc = cli_usage_error("ask", "--ids and --raw need the local model (not --backend)");
        goto out;
    }
    if (backend_url) {
        ro = deploy_remote_opts(&cfg, backend_url, a.remote_model ? a.remote_model : cfg.remote_model);
        remote.remote = &ro;
    }

    if (a.redact) {
        redact_counts rcnt;
        question = redact_text(a.text, strlen(a.text), &rcnt);
        if (redact_total(&rcnt))
            fprintf(stderr, "frontdesk: redacted %d e-mail address(es), %d phone number(s), %d card number(s)\n",
                    rcnt.emails, rcnt.phones, rcnt.cards);
    } else
        question = xstrdup(a.text);

    if (!a.no_db && (rc = store_open(a.db_path, &d)) != EXIT_OK)
        goto out;
    rc = EXIT_FAIL;
    /* With a deployment (and no version given here), it picks the version
     * for the conversation: created first, so that it can be routed. */
    db_deployment dep;
    if (d && !pinned && db_deployment_get(d, &dep) == DB_OK) {
        deploy_route route;
        if (load_history(&a, d, question, &h) != EXIT_OK || record_question(&a, d, question, &conv) != EXIT_OK)
            goto out;
        asked = true;
        if (deploy_route_conv(d, conv, 0, &route, err, sizeof err) != DB_OK ||
            deploy_version_load(d, route.model_id, &cfg, &dv, err, sizeof err) != 0) {
            cli_fail("%s", err);
            goto out;
        }
        routed_id = route.model_id;
        if (dv.remote) {
            if (a.ids || a.raw) {
                rc = cli_usage_error("ask", "--ids and --raw need a local model; the deployment's version is remote");
                goto out;
            }
            backend_url = dv.url;
            ro = dv.ro;
            remote.remote = &ro;
        } else {
            backend_url = NULL;
            m = dv.m;
            v = dv.v;
            dv.m = NULL;
            dv.v = NULL;
        }
    }
    long n_ctx = a.n_ctx;
    if (m || (a.model_path && !routed_id)) {
        if (!m && (model_load(&m, a.model_path, err, sizeof err) != 0 || tok_load(&v, m->file, err, sizeof err) != 0)) {
            cli_fail("%s", err);
            goto out;
        }
        if (m->hp.n_ctx_train && n_ctx > (long)m->hp.n_ctx_train)
            n_ctx = m->hp.n_ctx_train;
        local.m = m;
        local.v = v;
        local.n_ctx = (int)n_ctx;
        local.raw = a.raw;
        int prc = a.raw ? 0 : pick_template(&a, m, &local.tmpl, err, sizeof err);
        if (prc != 0) {
            rc = cli_usage_error("ask", "%s", err);
            goto out;
        }
        if (!(ctx = fwd_new(m, (int)n_ctx, (int)a.n_threads, err, sizeof err))) {
            cli_fail("%s", err);
            goto out;
        }
        local.ctx = ctx;
    }
    const reply_backend *primary = backend_url ? &remote : &local;
    bool can_fall_back = backend_url && cfg.fallback_local && m && !routed_id;
    if (!asked && load_history(&a, d, question, &h) != EXIT_OK)
        goto out;
    if (d) {
        if (!asked && record_question(&a, d, question, &conv) != EXIT_OK)
            goto out;
        if (routed_id)
            local_id = remote_id = routed_id;
        else if (m && store_model_local(d, a.model_path, m, &local_id, err, sizeof err) != DB_OK) {
            cli_fail("%s", err);
            goto out;
        }
        if (!routed_id && backend_url && record_remote_model(d, &ro, &remote_id) != DB_OK) {
            cli_fail("%s", db_errmsg(d));
            goto out;
        }
        deploy_route pin;
        if (pinned && deploy_route_conv(d, conv, backend_url ? remote_id : local_id, &pin, err, sizeof err) != DB_OK) {
            cli_fail("%s", err);
            goto out;
        }
        char *sampling = store_sampling_json(&a.sp, (int)a.n_predict, (int)n_ctx);
        db_status st = store_reply_begin(&rec, d, conv, backend_url ? remote_id : local_id,
                                         reply_backend_name(primary), sampling, 0,
                                         (util_now() - t_start) * 1000.0);
        free(sampling);
        if (st != DB_OK) {
            cli_fail("%s", rec.err);
            goto out;
        }
        recording = true;
    }

    ask_out out = {.tty = isatty(STDOUT_FILENO), .ids = a.ids, .rec = recording ? &rec : NULL};
    reply_opts ro_opts = {.sampling = a.sp, .send_seed = a.seed_given, .max_tokens = (int)a.n_predict,
                          .stops = a.stops, .n_stops = a.n_stops, .cancel = &interrupted, .on_text = on_text,
                          .on_token = on_token, .ud = &out};
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    reply_result res;
    int grc = reply_run(primary, h.msgs, h.n, &ro_opts, &res);
    bool nothing_written = !out.n_ids && !(recording ? rec.text.len : 0) && !out.wrote;
    if (grc != 0 && can_fall_back && nothing_written && res.r.outcome != DB_OUTCOME_CANCELLED) {
        fprintf(stderr, "frontdesk: %s; answering with the local model instead\n", res.error);
        if (recording && store_reply_switch(&rec, &res.r, local_id, "local") != DB_OK)
            fprintf(stderr, "frontdesk: %s\n", rec.err);
        primary = &local;
        grc = reply_run(primary, h.msgs, h.n, &ro_opts, &res);
    }
    if (res.dropped)
        fprintf(stderr, "frontdesk: the %zu oldest message(s) did not fit the context of %ld tokens and were left out\n",
                res.dropped, n_ctx);
    if (!res.prompt_too_long && !write_all("\n", 1))
        out.write_failed = true;
    int64_t message_id = rec.message;
    if (recording) {
        if (grc == 0 && out.write_failed) {
            res.r.outcome = DB_OUTCOME_ERROR;
            res.r.error = "writing standard output failed";
        }
        res.r.latency_ms = (util_now() - t_start) * 1000.0;
        recording = false;
        if (store_reply_end(&rec, &res.r) != DB_OK) {
            signal(SIGINT, SIG_DFL);
            cli_fail("the reply was printed but could not be saved: %s", rec.err);
            goto out;
        }
        if (rec.failed)
            fprintf(stderr, "frontdesk: saving the reply while it streamed failed (%s); the final save worked\n",
                    rec.err);
        char why[300];
        if (compare_guard_check(d, &cfg, why, sizeof why) == 1)
            fprintf(stderr, "frontdesk: guard: stopped the canary (%s)\n", why);
    }
    signal(SIGINT, SIG_DFL);
    if (grc != 0) {
        cli_fail("%s", res.error);
        goto out;
    }
    if (a.stats) {
        fprintf(stderr, "prompt_tokens=%d gen_tokens=%d ttft_ms=%.1f prefill_tps=%.1f decode_tps=%.1f",
                res.r.prompt_tokens, res.r.gen_tokens, res.r.ttft_ms, res.r.prefill_tps, res.r.decode_tps);
        if (d)
            fprintf(stderr, " conversation=%lld message=%lld", (long long)conv, (long long)message_id);
        fputc('\n', stderr);
    }
    if (out.write_failed) {
        cli_fail("writing standard output: %s", strerror(errno));
        goto out;
    }
    if (res.stop == GEN_STOP_CANCELLED) {
        fprintf(stderr, "frontdesk: interrupted\n");
        rc = 130;
        goto out;
    }
    if (res.stop == GEN_STOP_CONTEXT)
        fprintf(stderr, "frontdesk: the reply stopped because the context of %ld tokens is full\n", n_ctx);
    rc = EXIT_OK;
out:
    if (recording) {
        db_request_result r2 = {.outcome = DB_OUTCOME_ERROR, .error = "frontdesk ask failed", .prompt_tokens = -1,
                                .gen_tokens = -1, .ttft_ms = -1, .prefill_ms = -1, .decode_ms = -1,
                                .latency_ms = -1};
        store_reply_end(&rec, &r2);
    }
    history_free(&h);
    deploy_version_free(&dv);
    db_close(d);
    free(question);
    fwd_free(ctx);
    tok_free(v);
    model_free(m);
    free(a.stops);
    config_free(&cfg);
    return rc;
}
