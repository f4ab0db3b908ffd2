/*
 * config.c — reading the configuration file (format in config.h).
 */
#include "app/config.h"

#include "app/store_url.h"
#include "net/remote_text.h"
#include "train/dataset.h"
#include "util/private.h"
#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void warn(config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(config *c, const char *fmt, ...)
{
    strbuf sb = {0};
    va_list ap;
    va_start(ap, fmt);
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sb_puts(&sb, buf);
    c->warnings = xreallocarray(c->warnings, c->n_warnings + 1, sizeof *c->warnings);
    c->warnings[c->n_warnings++] = sb.data;
}

/* A problem with [store]: the first one is the store's refusal
 * (config.h). */
static void store_problem(config *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void store_problem(config *c, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->store_problems = xreallocarray(c->store_problems, c->n_store_problems + 1, sizeof *c->store_problems);
    c->store_problems[c->n_store_problems++] = xstrdup(buf);
}

static void add_profile(config *c, const char *name, const char *system)
{
    for (size_t i = 0; i < c->n_profiles; i++)
        if (!strcmp(c->profiles[i].name, name)) {
            free(c->profiles[i].system);
            c->profiles[i].system = xstrdup(system);
            return;
        }
    c->profiles = xreallocarray(c->profiles, c->n_profiles + 1, sizeof *c->profiles);
    c->profiles[c->n_profiles].name = xstrdup(name);
    c->profiles[c->n_profiles++].system = xstrdup(system);
}

static void defaults(config *c)
{
    memset(c, 0, sizeof *c);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = cores > 0 ? (int)cores : 1;
    c->n_ctx = 2048;
    c->max_tokens = 256;
    c->sampling = sampler_defaults();
    c->color = true;
    c->store_mode = PRIV_DEFAULT_MODE;
    c->store_heartbeat_s = CONFIG_HEARTBEAT_S;
    c->store_lapse_s = CONFIG_HEARTBEAT_LAPSE_S;
    const char *user = getenv("USER");
    struct passwd *pw = (user && *user) ? NULL : getpwuid(geteuid());
    c->rater = xstrdup(user && *user ? user : pw && pw->pw_name ? pw->pw_name : "unknown");
    c->latency_p95_ms = 5000;
    c->ttft_p95_ms = 2000;
    c->error_rate = 0.05;
    c->thumbs_down_rate = 0.3;
    c->thumbs_min_sample = 10;
    c->decode_tps_min = 0;
    c->error_min_sample = 20;
    c->alerts_window = DB_WIN_5M;
    c->alerts_command_timeout_s = 10;
    c->api_key_env = xstrdup("FRONTDESK_API_KEY");
    c->connect_timeout_ms = 5000;
    c->first_token_timeout_ms = 60000;
    c->idle_timeout_ms = 30000;
    c->total_timeout_ms = 300000;
    c->retries = 2;
    c->serve_host = xstrdup("127.0.0.1");
    c->serve_port = 8080;
    c->serve_parallel = 4;
    c->serve_max_queue = 64;
    c->serve_max_body = 1 << 20;
    c->serve_grace_s = 10;
    c->deploy_min_sample = 30;
    c->deploy_min_eval_items = 30;
    c->deploy_low_confidence = -2.0;
    add_profile(c, "default", ds_default_system);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

/* `\n` in a value is a newline, `\\` a backslash. */
static char *unescape(const char *v)
{
    strbuf sb = {0};
    sb_puts(&sb, "");
    for (; *v; v++) {
        if (v[0] == '\\' && v[1] == 'n') {
            sb_putc(&sb, '\n');
            v++;
        } else if (v[0] == '\\' && v[1] == '\\') {
            sb_putc(&sb, '\\');
            v++;
        } else
            sb_putc(&sb, *v);
    }
    return sb.data;
}

static bool parse_num(const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d) || d < lo || d > hi)
        return false;
    *out = d;
    return true;
}

static bool parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
        *out = false;
    else
        return false;
    return true;
}

typedef enum { NUM_INT, NUM_FLOAT } num_kind;

/* The numeric keys: section, key, range, where it goes. */
typedef struct {
    const char *section, *key;
    double lo, hi;
    num_kind kind;
    size_t offset;
} num_key;

#define NUM(sec, k, lo, hi, kind, field) {sec, k, lo, hi, kind, offsetof(config, field)}

static const num_key num_keys[] = {
    NUM("model", "threads", 1, 512, NUM_INT, threads),
    NUM("model", "context", 16, 1 << 20, NUM_INT, n_ctx),
    NUM("sampling", "max_tokens", 1, 1 << 20, NUM_INT, max_tokens),
    NUM("thresholds", "latency_p95_ms", 0, 1e9, NUM_FLOAT, latency_p95_ms),
    NUM("thresholds", "ttft_p95_ms", 0, 1e9, NUM_FLOAT, ttft_p95_ms),
    NUM("thresholds", "error_rate", 0, 1, NUM_FLOAT, error_rate),
    NUM("thresholds", "thumbs_down_rate", 0, 1, NUM_FLOAT, thumbs_down_rate),
    NUM("thresholds", "thumbs_min_sample", 0, 1e9, NUM_INT, thumbs_min_sample),
    NUM("thresholds", "decode_tps_min", 0, 1e9, NUM_FLOAT, decode_tps_min),
    NUM("thresholds", "error_min_sample", 0, 1e9, NUM_INT, error_min_sample),
    NUM("alerts", "command_timeout_s", 0.1, 86400, NUM_FLOAT, alerts_command_timeout_s),
    NUM("remote", "retries", 0, 10, NUM_INT, retries),
    NUM("serve", "port", 0, 65535, NUM_INT, serve_port),
    NUM("serve", "parallel", 1, 256, NUM_INT, serve_parallel),
    NUM("serve", "max_queue", 0, 1 << 20, NUM_INT, serve_max_queue),
    NUM("serve", "max_body", 1024, 1 << 30, NUM_INT, serve_max_body),
    NUM("serve", "stop_grace_s", 0, 3600, NUM_FLOAT, serve_grace_s),
    NUM("deploy", "min_sample", 1, 1e9, NUM_INT, deploy_min_sample),
    NUM("deploy", "low_confidence", -1e3, 0, NUM_FLOAT, deploy_low_confidence),
    NUM("deploy", "min_eval_items", 1, 1e9, NUM_INT, deploy_min_eval_items),
};

/* [remote] timeouts (long milliseconds). */
static const struct {
    const char *key;
    size_t offset;
} ms_keys[] = {
    {"connect_timeout_ms", offsetof(config, connect_timeout_ms)},
    {"first_token_timeout_ms", offsetof(config, first_token_timeout_ms)},
    {"idle_timeout_ms", offsetof(config, idle_timeout_ms)},
    {"total_timeout_ms", offsetof(config, total_timeout_ms)},
};

static void set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = *v ? xstrdup(v) : NULL;
}

static bool set_sampling(config *c, const char *key, const char *v, bool *known)
{
    double d;
    *known = true;
    sampler_params *s = &c->sampling;
    if (!strcmp(key, "temperature"))
        return parse_num(v, 0, 100, &d) && ((s->temp = (float)d), true);
    if (!strcmp(key, "top_k"))
        return parse_num(v, 0, 1 << 24, &d) && d == floor(d) && ((s->top_k = (int)d), true);
    if (!strcmp(key, "top_p"))
        return parse_num(v, 0, 1, &d) && ((s->top_p = (float)d), true);
    if (!strcmp(key, "min_p"))
        return parse_num(v, 0, 1, &d) && ((s->min_p = (float)d), true);
    if (!strcmp(key, "repeat_penalty"))
        return parse_num(v, 0.01, 100, &d) && ((s->repeat_penalty = (float)d), true);
    *known = false;
    return false;
}

/* [store] url: a PostgreSQL URL without a password, or nothing; anything
 * else is the store's refusal, not a skipped line (config.h). */
static void set_store_url(config *c, const char *file, int line, const char *v)
{
    char why[1024];
    free(c->store_url);
    c->store_url = NULL;
    c->store_url_line = 0;
    if (!*v)
        return;
    store_url_kind k = store_url_check(v, why, sizeof why);
    if (k == STORE_URL_PG) {
        c->store_url = xstrdup(v);
        c->store_url_line = line;
    } else if (k == STORE_URL_NONE) /* not echoed: it could be libpq's "host=... password=..." */
        store_problem(c, "%s line %d: [store] url is a PostgreSQL URL (postgresql://…), not a file path or "
                      "connection string; an SQLite file is chosen with --db or $FRONTDESK_DB", file, line);
    else if (k == STORE_URL_OTHER)
        store_problem(c, "%s line %d: [store] url: \"%.*s://…\" is not a PostgreSQL URL (postgresql://… or "
                      "postgres://…); an SQLite file is chosen with --db or $FRONTDESK_DB", file, line,
                      (int)(strstr(v, "://") - v), v);
    else
        store_problem(c, "%s line %d: [store] url: %s", file, line, why);
}

/* After the whole file: a lapse must leave a live writer two heartbeats. */
static void check_heartbeat(config *c, const char *file)
{
    if ((!c->store_heartbeat_line && !c->store_lapse_line) || c->store_lapse_s > 2 * c->store_heartbeat_s)
        return;
    store_problem(c,
                  "%s line %d: [store] heartbeat_lapse_s = %g%s is not above twice heartbeat_s = %g%s: a reply "
                  "still being written could be marked interrupted; make the lapse above %g",
                  file, c->store_lapse_line ? c->store_lapse_line : c->store_heartbeat_line, c->store_lapse_s,
                  c->store_lapse_line ? "" : " (the default)", c->store_heartbeat_s,
                  c->store_heartbeat_line ? "" : " (the default)", 2 * c->store_heartbeat_s);
}

static void set_key(config *c, const char *file, int line, const char *section, const char *key,
                    const char *v)
{
    for (size_t i = 0; i < sizeof num_keys / sizeof *num_keys; i++) {
        const num_key *k = &num_keys[i];
        if (strcmp(section, k->section) || strcmp(key, k->key))
            continue;
        double d;
        if (!parse_num(v, k->lo, k->hi, &d) || (k->kind == NUM_INT && d != floor(d))) {
            warn(c, "%s:%d: %s.%s needs a %s from %g to %g, got '%s'", file, line, section, key,
                 k->kind == NUM_INT ? "whole number" : "number", k->lo, k->hi, v);
            return;
        }
        if (k->kind == NUM_INT)
            *(int *)((char *)c + k->offset) = (int)d;
        else
            *(double *)((char *)c + k->offset) = d;
        return;
    }
    bool b, known;
    if (!strcmp(section, "model") && !strcmp(key, "path")) {
        free(c->model_path);
        c->model_path = *v ? xstrdup(v) : NULL;
    } else if (!strcmp(section, "sampling")) {
        if (!set_sampling(c, key, v, &known))
            warn(c, known ? "%s:%d: sampling.%s: bad value '%s'" : "%s:%d: unknown key 'sampling.%s' ('%s')",
                 file, line, key, v);
    } else if (!strcmp(section, "privacy") && !strcmp(key, "redact")) {
        if (parse_bool(v, &b))
            c->redact = b;
        else
            warn(c, "%s:%d: privacy.redact is true or false, not '%s'", file, line, v);
    } else if (!strcmp(section, "store") && !strcmp(key, "mode")) {
        char why[160];
        mode_t m;
        if (priv_parse_mode(v, &m, why, sizeof why))
            c->store_mode = m;
        else
            warn(c, "%s:%d: store.mode: %s", file, line, why);
    } else if (!strcmp(section, "store") && !strcmp(key, "url")) {
        set_store_url(c, file, line, v);
    } else if (!strcmp(section, "store") && (!strcmp(key, "heartbeat_s") || !strcmp(key, "heartbeat_lapse_s"))) {
        bool beat = !strcmp(key, "heartbeat_s");
        double d, hi = beat ? 3600 : 86400;
        if (!parse_num(v, 0, hi, &d) || d <= 0)
            store_problem(c, "%s line %d: [store] %s needs a number of seconds above 0 and at most %g, got '%s'",
                          file, line, key, hi, v);
        else if (beat) {
            c->store_heartbeat_s = d;
            c->store_heartbeat_line = line;
        } else {
            c->store_lapse_s = d;
            c->store_lapse_line = line;
        }
    } else if (!strcmp(section, "deploy") && !strcmp(key, "guard")) {
        if (parse_bool(v, &b))
            c->deploy_guard = b;
        else
            warn(c, "%s:%d: deploy.guard is true or false, not '%s'", file, line, v);
    } else if (!strcmp(section, "ui") && !strcmp(key, "color")) {
        if (parse_bool(v, &b))
            c->color = b;
        else
            warn(c, "%s:%d: ui.color is true or false, not '%s'", file, line, v);
    } else if (!strcmp(section, "ui") && !strcmp(key, "rater") && *v) {
        free(c->rater);
        c->rater = xstrdup(v);
    } else if (!strcmp(section, "remote") && !strcmp(key, "backend")) {
        if (*v && strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
            warn(c, "%s:%d: remote.backend is an http:// or https:// URL, not '%s'", file, line, v);
        else if (remote_url_has_password(v))
            warn(c, "%s:%d: remote.backend holds a password: frontdesk stores a server's URL with every "
                 "request, so give the key in the environment instead (remote.api_key_env names the "
                 "variable); the line is skipped", file, line);
        else
            set_str(&c->backend, v);
    } else if (!strcmp(section, "remote") && !strcmp(key, "model")) {
        set_str(&c->remote_model, v);
    } else if (!strcmp(section, "remote") && !strcmp(key, "api_key_env") && *v) {
        set_str(&c->api_key_env, v);
    } else if (!strcmp(section, "remote") && !strcmp(key, "fallback")) {
        if (!strcmp(v, "local") || !strcmp(v, "none"))
            c->fallback_local = !strcmp(v, "local");
        else
            warn(c, "%s:%d: remote.fallback is local or none, not '%s'", file, line, v);
    } else if (!strcmp(section, "remote") && strstr(key, "_timeout_ms")) {
        bool found = false;
        for (size_t i = 0; i < sizeof ms_keys / sizeof *ms_keys; i++) {
            double d;
            if (strcmp(key, ms_keys[i].key))
                continue;
            found = true;
            if (parse_num(v, 0, 86400000, &d) && d == floor(d))
                *(long *)((char *)c + ms_keys[i].offset) = (long)d;
            else
                warn(c, "%s:%d: remote.%s needs whole milliseconds (0 = off), got '%s'", file, line, key, v);
        }
        if (!found)
            warn(c, "%s:%d: unknown key '%s' in [remote]", file, line, key);
    } else if (!strcmp(section, "alerts") && !strcmp(key, "window")) {
        db_window w;
        if (db_window_parse(v, &w) && w <= DB_WIN_24H)
            c->alerts_window = w;
        else
            warn(c, "%s:%d: alerts.window is 1m, 5m, 1h or 24h, not '%s'", file, line, v);
    } else if (!strcmp(section, "deploy") && !strcmp(key, "require_eval")) {
        set_str(&c->deploy_require_eval, v);
    } else if (!strcmp(section, "deploy") && !strcmp(key, "arena_versions")) {
        set_str(&c->deploy_arena_versions, v);
    } else if (!strcmp(section, "alerts") && !strcmp(key, "command")) {
        set_str(&c->alerts_command, v);
    } else if (!strcmp(section, "serve") && !strcmp(key, "host") && *v) {
        set_str(&c->serve_host, v);
    } else if (!strcmp(section, "serve") && !strcmp(key, "api_key_env")) {
        set_str(&c->serve_api_key_env, v);
    } else if (!strncmp(section, "profile ", 8) && !strcmp(key, "system")) {
        char *text = unescape(v);
        add_profile(c, trim((char *)section + 8), text);
        free(text);
    } else
        warn(c, "%s:%d: unknown key '%s' in [%s]", file, line, key, section);
}

void config_parse(config *c, const char *name, const char *text)
{
    char *copy = xstrdup(text), *save = NULL;
    char section[128] = "";
    int line = 0;
    for (char *l = copy; l; l = save) {
        save = strchr(l, '\n');
        if (save)
            *save++ = 0;
        line++;
        char *s = trim(l);
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (!e || e[1] || e - s - 1 >= (long)sizeof section) {
                warn(c, "%s:%d: a section header is [name], got '%s'", name, line, s);
                section[0] = 0;
                continue;
            }
            *e = 0;
            snprintf(section, sizeof section, "%s", trim(s + 1));
            static const char *const known[] = {"model", "sampling", "privacy", "store", "ui", "thresholds", "remote",
                                                "serve", "deploy", "alerts"};
            bool ok = !strncmp(section, "profile ", 8) && *trim(section + 8);
            for (size_t i = 0; i < sizeof known / sizeof *known; i++)
                ok |= !strcmp(section, known[i]);
            if (!ok) {
                warn(c, "%s:%d: unknown section [%s]", name, line, section);
                section[0] = 0;
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            warn(c, "%s:%d: expected 'key = value', got '%s'", name, line, s);
            continue;
        }
        *eq = 0;
        char *key = trim(s), *value = trim(eq + 1);
        if (!section[0]) {
            warn(c, "%s:%d: '%s' is outside any known [section]", name, line, key);
            continue;
        }
        set_key(c, name, line, section, key, value);
    }
    check_heartbeat(c, name);
    free(copy);
}

const char *config_builtin_model(void)
{
    /* Beside the running binary, whose directory is build/ in the source
     * tree (make run) or PREFIX/bin once installed (make install, also
     * under a DESTDIR or a moved PREFIX): its parent's models/, then its
     * parent's share/frontdesk/; then ./models/. */
    static const char *const beside_exe[] = {"models", "share/frontdesk"};
    static char path[4096];
    char exe[3072];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0; /* .../build or PREFIX/bin */
            slash = strrchr(exe, '/');
            if (slash)
                *slash = 0; /* its parent ("" for the root) */
            for (size_t i = 0; slash && i < sizeof beside_exe / sizeof *beside_exe; i++) {
                snprintf(path, sizeof path, "%s/%s/%s", exe, beside_exe[i], CONFIG_BUILTIN_MODEL);
                if (access(path, R_OK) == 0)
                    return path;
            }
        }
    }
    snprintf(path, sizeof path, "models/%s", CONFIG_BUILTIN_MODEL);
    return access(path, R_OK) == 0 ? path : NULL;
}

const char *config_flag(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            return argv[i + 1];
        if (!strncmp(argv[i], "--config=", 9))
            return argv[i] + 9;
    }
    return NULL;
}

void config_load(config *c, const char *path)
{
    defaults(c);
    strbuf p = {0};
    if (path)
        sb_puts(&p, path);
    else {
        const char *xdg = getenv("XDG_CONFIG_HOME");
        if (xdg && *xdg == '/')
            sb_printf(&p, "%s/frontdesk/config", xdg);
        else
            sb_printf(&p, "%s/.config/frontdesk/config", getenv("HOME") ? getenv("HOME") : ".");
    }
    c->path = p.data;
    char *text;
    size_t len;
    if (util_read_file(c->path, &text, &len) != 0) {
        if (errno != ENOENT) /* it may name the team's store: no quiet local file instead */
            store_problem(c, "%s: %s (its [store] settings cannot be known)", c->path, strerror(errno));
        else if (path)
            warn(c, "%s: %s", c->path, strerror(errno));
        return;
    }
    config_parse(c, c->path, text);
    free(text);
}

void config_free(config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->model_path);
    free(c->store_url);
    for (size_t i = 0; i < c->n_store_problems; i++)
        free(c->store_problems[i]);
    free(c->store_problems);
    free(c->rater);
    free(c->backend);
    free(c->remote_model);
    free(c->api_key_env);
    free(c->serve_host);
    free(c->serve_api_key_env);
    free(c->alerts_command);
    free(c->deploy_require_eval);
    free(c->deploy_arena_versions);
    for (size_t i = 0; i < c->n_profiles; i++) {
        free(c->profiles[i].name);
        free(c->profiles[i].system);
    }
    free(c->profiles);
    for (size_t i = 0; i < c->n_warnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    memset(c, 0, sizeof *c);
}
