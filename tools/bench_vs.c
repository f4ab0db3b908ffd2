/*
 * bench_vs.c — prompt and decode tokens/s measured the way llama.cpp's
 * llama-bench measures them (its pp256 and tg64), so that the two can be
 * run side by side on the same file (tools/bench_vs.sh alternates them).
 *
 *   bench_vs [--runs N] [--threads T] [--prompt P] [--gen G] [--seed S] MODEL.gguf
 *
 * Prints, besides lines starting with '#' (file, kernel path, load time,
 * every run's figure), two machine-readable lines:
 *
 *   pp P T TOK_S      P prompt tokens from an empty context, one fwd_eval
 *                     with the logits of the last token only: P ÷ its time
 *   tg G T TOK_S      G tokens decoded one fwd_eval each, from an empty
 *                     context (as llama-bench's tg: its tg64 is a test of
 *                     its own, the KV cache cleared before every repetition,
 *                     not a continuation of the prompt): G ÷ the loop's time
 *
 * TOK_S is the median of N runs (default 3).  As llama-bench does, a
 * warm-up precedes each kind (the whole prompt once, one decoded token)
 * and all the prompt runs come before all the decode runs.  Token ids are
 * random (seeded, S default 1) over the model's vocabulary: no tokenizer
 * is needed.  The context holds max(P, G) positions, as llama-bench sizes
 * its own per test.  Exit status 1 when the model cannot be loaded or an
 * evaluation fails, 2 on a usage error.
 */
#include "engine/forward.h"
#include "engine/kernels.h"
#include "engine/model.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RUNS 64
#define MAX_TOKENS 8192

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[MAX_RUNS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

/* A positive int option value within [lo, hi], or -1. */
static int parse_count(const char *s, int lo, int hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= lo && v <= hi ? (int)v : -1;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_vs [--runs N] [--threads T] [--prompt P] [--gen G] [--seed S] MODEL.gguf\n"
                    "  N 1..%d (3), T 1..256 (1), P and G 1..%d (256, 64)\n",
            MAX_RUNS, MAX_TOKENS);
    return 2;
}

/* The prompt from an empty context, last logits only: tokens/s. */
static int time_prompt(fwd_ctx *c, const int32_t *toks, int n, float *logits, double *tps)
{
    fwd_truncate(c, 0);
    double t0 = now_s();
    int rc = fwd_eval(c, toks, n, false, logits, NULL);
    *tps = (double)n / (now_s() - t0);
    return rc;
}

/* n tokens decoded one at a time from an empty context: tokens/s. */
static int time_decode(fwd_ctx *c, const int32_t *toks, int n, float *logits, double *tps)
{
    fwd_truncate(c, 0);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        int rc = fwd_eval(c, &toks[i], 1, false, logits, NULL);
        if (rc != FWD_OK)
            return rc;
    }
    *tps = (double)n / (now_s() - t0);
    return FWD_OK;
}

int main(int argc, char **argv)
{
    int runs = 3, threads = 1, n_prompt = 256, n_gen = 64;
    unsigned long long seed = 1;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int *dst = !strcmp(a, "--runs")      ? &runs
                   : !strcmp(a, "--threads") ? &threads
                   : !strcmp(a, "--prompt")  ? &n_prompt
                   : !strcmp(a, "--gen")     ? &n_gen
                                             : NULL;
        if (dst || !strcmp(a, "--seed")) {
            if (i + 1 >= argc)
                return usage();
            const char *v = argv[++i];
            if (!dst) {
                char *end;
                seed = strtoull(v, &end, 10);
                if (!*v || *end)
                    return usage();
                continue;
            }
            int hi = dst == &runs ? MAX_RUNS : dst == &threads ? 256 : MAX_TOKENS;
            if ((*dst = parse_count(v, 1, hi)) < 0)
                return usage();
        } else if (a[0] == '-' || path) {
            return usage();
        } else {
            path = a;
        }
    }
    if (!path)
        return usage();
    if (kern_env_error()) {
        fprintf(stderr, "bench_vs: %s\n", kern_env_error());
        return 2;
    }

    char err[512];
    model *m;
    double t0 = now_s();
    if (model_load(&m, path, err, sizeof err) != 0) {
        fprintf(stderr, "bench_vs: %s\n", err);
        return 1;
    }
    double load_s = now_s() - t0;
    int n_ctx = n_prompt > n_gen ? n_prompt : n_gen;
    fwd_ctx *c = fwd_new(m, n_ctx, threads, err, sizeof err);
    if (!c) {
        fprintf(stderr, "bench_vs: %s\n", err);
        model_free(m);
        return 1;
    }
    int32_t *toks = xmallocarray((size_t)n_ctx, sizeof *toks);
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < n_ctx; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17; /* xorshift64 */
        toks[i] = (int32_t)(s % m->n_vocab);
    }
    float *logits = xmallocarray(m->n_vocab, sizeof(float));

    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    printf("# %s: %s, %u layers, %u wide, vocabulary %u; kernel path %s; %d thread%s\n", name, m->quant,
           m->hp.n_layer, m->hp.n_embd, m->n_vocab, kern_path_name(kern_get_path()), threads,
           threads == 1 ? "" : "s");
    printf("# load %.2f s (repacking %.2f s of it)\n", load_s, m->pack_seconds);

    double pp[MAX_RUNS], tg[MAX_RUNS], warm;
    int rc = time_prompt(c, toks, n_prompt, logits, &warm);
    for (int r = 0; rc == FWD_OK && r < runs; r++)
        rc = time_prompt(c, toks, n_prompt, logits, &pp[r]);
    if (rc == FWD_OK)
        rc = time_decode(c, toks, 1, logits, &warm);
    for (int r = 0; rc == FWD_OK && r < runs; r++)
        rc = time_decode(c, toks, n_gen, logits, &tg[r]);
    if (rc != FWD_OK) {
        fprintf(stderr, "bench_vs: evaluation failed (status %d)\n", rc);
    } else {
        printf("# runs, tok/s:");
        for (int r = 0; r < runs; r++)
            printf(" pp %.2f tg %.2f%s", pp[r], tg[r], r + 1 < runs ? ";" : "\n");
        printf("pp %d %d %.2f\n", n_prompt, threads, median(pp, runs));
        printf("tg %d %d %.2f\n", n_gen, threads, median(tg, runs));
    }
    free(logits);
    free(toks);
    fwd_free(c);
    model_free(m);
    return rc == FWD_OK ? 0 : 1;
}
