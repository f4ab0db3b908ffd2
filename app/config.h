/*
 * config.h — the configuration file and its defaults.
 *
 * $XDG_CONFIG_HOME/frontdesk/config (~/.config/frontdesk/config), or the
 * file given with --config: `[section]` headers and `key = value` lines;
 * `#` starts a comment line; in values `\n` is a newline.  Sections and
 * keys (defaults in brackets):
 *
 *   [model]       path [the built-in model]  threads [cores]  context [2048]
 *   [sampling]    temperature [0.8]  top_k [40]  top_p [0.95]  min_p [0.05]
 *                 repeat_penalty [1.0]  max_tokens [256]
 *   [privacy]     redact [false]
 *   [store]       mode [0600] = the mode of the files frontdesk creates
 *                 holding customers' words (database, exports, checkpoints;
 *                 directories get x where it has r: 0700), whatever the
 *                 umask (util/private.h); e.g. 0660 to share through a group
 *                 url [none: an SQLite file] = the PostgreSQL database,
 *                 postgresql://[user@][host][:port][/dbname][?...], without
 *                 a password (app/store_url.h); --db and $FRONTDESK_DB win
 *                 heartbeat_s [5] = how often a reply being written says
 *                 it is alive (above 0; fractions allowed)
 *                 heartbeat_lapse_s [30] = after how long without a sign a
 *                 running request is marked interrupted: above twice
 *                 heartbeat_s
 *   [ui]          color [true]  rater [the login name]
 *   [thresholds]  latency_p95_ms [5000]  ttft_p95_ms [2000]  error_rate [0.05]
 *                 thumbs_down_rate [0.3]  thumbs_min_sample [10]
 *                 decode_tps_min [0 = off]  error_min_sample [20 requests
 *                 in the window before the error rate can alert]
 *   [alerts]      window [5m] = 1m 5m 1h 24h: the figures alerts are
 *                 decided on, whatever the dashboard shows (app/alerts.h)
 *                 command [none] = run by /bin/sh -c with the alert as JSON
 *                 on standard input when one starts or ends
 *                 command_timeout_s [10: then it is killed]
 *   [remote]      backend [none: the local model] = an OpenAI-compatible
 *                 base URL, e.g. http://127.0.0.1:8080/v1   model [none]
 *                 api_key_env [FRONTDESK_API_KEY]  connect_timeout_ms [5000]
 *                 first_token_timeout_ms [60000]  idle_timeout_ms [30000]
 *                 total_timeout_ms [300000]  retries [2]
 *                 fallback [none] = local: when the server fails, answer
 *                 with the local model instead
 *   [serve]       host [127.0.0.1]  port [8080]  parallel [4]  max_queue [64]
 *                 max_body [1048576 bytes]  api_key_env [none: no key asked;
 *                 a non-loopback host needs one]  stop_grace_s [10: how long
 *                 replies in progress may go on after SIGINT/SIGTERM]
 *   [deploy]      guard [false] = stop a canary automatically when it is
 *                 worse than stable on errors or thumbs-down (app/compare.h)
 *                 min_sample [30 replies per arm before any verdict]
 *                 low_confidence [-2.0: a reply whose mean token
 *                 log-probability is below this counts as low-confidence]
 *                 arena_versions [none: stable vs candidate] = "A, B": the two
 *                 versions (names or SHA-256 prefixes) the arena compares
 *                 require_eval [none] = a set file (app/eval.h): canary start
 *                 then needs a complete eval run on it comparing the candidate
 *                 with stable, not worse on chrF or perplexity
 *                 min_eval_items [30 paired items before an eval verdict]
 *   [profile NAME]  system = the system prompt of profile NAME (profile
 *                 "default": ds_default_system of train/dataset.h, the one
 *                 the built-in model is trained with)
 *
 * A bad line (unknown section or key, malformed value) is reported with
 * its line number in `warnings` and skipped; everything else still
 * applies.  A missing file is not an error.  Except in [store]: a url
 * that is malformed, not PostgreSQL or holds a password, a heartbeat_s or
 * heartbeat_lapse_s out of range, or a lapse not above twice the
 * heartbeat is in `store_problems` instead ("FILE line N: [store] ..."),
 * and then every command that opens the store refuses with the first
 * (app/store.h) rather than quietly use a local file or a wrong lapse.
 */
#ifndef FRONTDESK_CONFIG_H
#define FRONTDESK_CONFIG_H

#include "engine/sampler.h"
#include "storage/metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    char *name, *system;
} config_profile;

typedef struct {
    char *path;           /* the file read (or that would be)          */
    char *model_path;     /* NULL: the built-in model                   */
    int threads, n_ctx, max_tokens;
    sampler_params sampling;
    bool redact, color;
    mode_t store_mode;    /* [store] mode                               */
    char *store_url;      /* [store] url: a PostgreSQL URL; NULL: none  */
    double store_heartbeat_s, store_lapse_s; /* [store] heartbeat_s, heartbeat_lapse_s */
    int store_url_line, store_heartbeat_line, store_lapse_line; /* their lines (0: unset) */
    char **store_problems; /* what is wrong with [store] (not in warnings) */
    size_t n_store_problems;
    char *rater;
    double latency_p95_ms, ttft_p95_ms, error_rate, thumbs_down_rate, decode_tps_min;
    int thumbs_min_sample, error_min_sample;
    db_window alerts_window;                              /* [alerts]     */
    char *alerts_command;                                 /* NULL: none   */
    double alerts_command_timeout_s;
    char *backend, *remote_model, *api_key_env; /* [remote]                 */
    long connect_timeout_ms, first_token_timeout_ms, idle_timeout_ms, total_timeout_ms;
    int retries;
    bool fallback_local;
    char *serve_host, *serve_api_key_env;                 /* [serve]      */
    int serve_port, serve_parallel, serve_max_queue, serve_max_body;
    double serve_grace_s;
    bool deploy_guard;                                    /* [deploy]     */
    int deploy_min_sample;
    char *deploy_require_eval;                            /* NULL: no gate */
    char *deploy_arena_versions; /* "A, B": the arena's two versions; NULL: stable vs candidate */
    int deploy_min_eval_items;
    double deploy_low_confidence;
    config_profile *profiles; /* "default" always first                 */
    size_t n_profiles;
    char **warnings;          /* "config:12: unknown key 'colour'"      */
    size_t n_warnings;
} config;

/* [store] heartbeat_s and heartbeat_lapse_s by default. */
#define CONFIG_HEARTBEAT_S 5.0
#define CONFIG_HEARTBEAT_LAPSE_S 30.0

/* Defaults, then the file at path (NULL: the default location). */
void config_load(config *c, const char *path);
/* The file frontdesk --config FILE / --config=FILE names in argv (up to
 * a "--"), or NULL: the default location. */
const char *config_flag(int argc, char **argv);
/* Parse text as if it were the file (for tests). */
void config_parse(config *c, const char *name, const char *text);
void config_free(config *c);

/* The built-in model, CONFIG_BUILTIN_MODEL, found beside the running
 * binary: <bin>/../models/ (the source tree, bin = build/), then
 * <bin>/../share/frontdesk/ (installed: bin = PREFIX/bin), then ./models/;
 * NULL when in none of them.  Static storage. */
#define CONFIG_BUILTIN_MODEL "frontdesk-cs.gguf"
const char *config_builtin_model(void);

#endif
