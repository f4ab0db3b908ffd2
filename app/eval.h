/*
 * eval.h — offline evaluation of model versions on a set of conversations
 * with known good replies (`frontdesk eval`), and the deployment gate that
 * asks for one before a canary starts.
 *
 * A set is a JSONL file in the export format (storage/export.c, train's
 * ds_write_jsonl): {"messages":[{"role","content"}...], "metadata":{...}}
 * per line.  The last assistant message of each conversation is the
 * reference; the messages before it are the context (anything after it is
 * ignored).  Blank lines are skipped; every other line is one item,
 * numbered from 0 in file order.
 *
 * Per item and version:
 *   perplexity  exp(mean over the reference's tokens of -log p(token)),
 *               teacher-forced after the context rendered through the
 *               model's chat template with the assistant turn opened; the
 *               reference's content is tokenized on its own (no BOS, no
 *               special tokens), and only its tokens are scored (not the
 *               end-of-turn token)
 *   reply       greedy (temperature 0, no repeat penalty), at most
 *               max_tokens, from the same prompt
 *   chrF, ROUGE-L of the reply against the reference (util/textsim.h),
 *   length      the reply's tokens (the end-of-turn token not counted),
 *   latency     the generation's wall time.
 *
 * Aggregates per version (over the items it finished): mean chrF, mean
 * ROUGE-L, perplexity = exp(mean log-perplexity), mean length, each with
 * a percentile-bootstrap 95% interval (EVAL_BOOT resamples of the items,
 * seed EVAL_SEED: the same set, the same intervals).  Two versions, paired
 * over the items both finished (B against A): wins / ties / losses on
 * chrF (a tie within 1e-9), and the Wilcoxon signed-rank test
 * (util/rank.h) on the chrF differences and on the log-perplexity
 * differences, worded like app/compare.h: "better" / "worse" (B than A,
 * p < 0.05; for perplexity lower is better), "no evidence", or "not
 * enough data" below [deploy] min_eval_items paired items.
 */
#ifndef FRONTDESK_APP_EVAL_H
#define FRONTDESK_APP_EVAL_H

#include "app/config.h"
#include "engine/chat_template.h"
#include "engine/forward.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "storage/db.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVAL_BOOT 2000
#define EVAL_SEED 20240522u
#define EVAL_ALPHA 0.05
#define EVAL_TIE 1e-9

/* ---- Sets ------------------------------------------------------------------------ */

typedef struct {
    chat_msg *context;   /* the messages before the reference (owned strings) */
    size_t n_context;
    char *reference;     /* the last assistant message's content            */
    int line;            /* 1-based line of the file                        */
} eval_item;

typedef struct {
    eval_item *items;
    size_t n;
    char sha256[65];     /* of the file's bytes                             */
} eval_set;

/* Read the set at path.  0, or -1 with err naming the file and line
 * ("set.jsonl:3: invalid JSON: ...", "...: no assistant message"). */
int eval_set_load(const char *path, eval_set *s, char *err, size_t errlen);
void eval_set_free(eval_set *s); /* accepts a zeroed set */

/* ---- Scoring one item ------------------------------------------------------------ */

typedef struct {
    const model *m;      /* borrowed                                        */
    const tok_vocab *v;  /* borrowed                                        */
    chat_tmpl tmpl;      /* from the model's metadata                       */
    fwd_ctx *ctx;        /* owned                                           */
    int n_ctx;
} eval_engine;

/* A context of n_ctx positions on m.  0, or -1 with err. */
int eval_engine_init(eval_engine *e, const model *m, const tok_vocab *v, int n_ctx, int n_threads, char *err,
                     size_t errlen);
void eval_engine_free(eval_engine *e); /* accepts a zeroed engine */

/* The prompt (context + opened assistant turn) and reference token ids
 * (caller frees both).  0, or -1 with err: when they do not fit the
 * context together, or the reference has no token. */
int eval_item_tokens(const eval_engine *e, const eval_item *it, int32_t **prompt, size_t *n_prompt,
                     int32_t **ref, size_t *n_ref, char *err, size_t errlen);

typedef struct {
    double log_ppl;      /* mean negative log-likelihood of the reference tokens */
    int ref_tokens;
    char *reply;         /* owned                                           */
    double chrf, rouge_l;
    int length;
    double latency_ms;
    int prompt_tokens, gen_tokens; /* as the generation counted them (EOG included) */
    double ttft_ms, prefill_ms, decode_ms, prefill_tps, decode_tps;
} eval_result;

/* Score item it: perplexity, then the greedy reply of at most max_tokens.
 * Returns 0, 1 when *cancel was set (nothing usable in out), or -1 with
 * err.  out->reply is the caller's to free (eval_result_clear). */
int eval_score_item(eval_engine *e, const eval_item *it, int max_tokens, const atomic_bool *cancel,
                    eval_result *out, char *err, size_t errlen);
void eval_result_clear(eval_result *r);

/* ---- Figures ----------------------------------------------------------------------- */

/* Percentile-bootstrap 95% interval of the mean of x[0..n) (EVAL_BOOT
 * resamples, seeded with seed; nearest-rank 2.5% and 97.5% points);
 * *mean the sample's own.  n == 0: all NAN. */
void eval_bootstrap_mean(const double *x, size_t n, uint64_t seed, double *mean, double *lo, double *hi);

/* One version's aggregates as JSON (see the top of this file):
 * {"items", "chrf", "rouge_l", "perplexity", "length", "latency_ms"},
 * each figure {"mean" (perplexity: "value"), "lo", "hi"}. */
json_t *eval_aggregates_json(const double *chrf, const double *rouge_l, const double *log_ppl,
                             const double *length, const double *latency_ms, size_t n);

/* The paired comparison of B against A over n items as JSON:
 * {"items", "min_items", "alpha", "chrf": {"wins", "ties", "losses", "p",
 * "verdict"}, "perplexity": {"p", "verdict"}}; p null when not tested. */
json_t *eval_verdicts_json(const double *chrf_a, const double *chrf_b, const double *log_ppl_a,
                           const double *log_ppl_b, size_t n, int min_items);

/* ---- The deployment gate ------------------------------------------------------------ */

/* With [deploy] require_eval set: whether the store holds a complete run
 * on that set (by SHA-256) with at least min_eval_items items comparing
 * candidate_id with stable_id (either as A or B) in which the candidate
 * is not worse on chrF or on perplexity (the newest such run decides).
 * Returns 0 when it does (or no gate is configured), 1 when not (why says
 * which run is missing or what was worse), -1 on an error (why). */
int eval_gate_check(db *d, const config *cfg, int64_t stable_id, int64_t candidate_id, char *why, size_t len);

#endif
