/*
 * bench_seqs.c — tokens/s of several sequences decoded together
 * (fwd_decode_seqs), as a multiple of one sequence decoded the same way,
 * for 1 and 2 threads: what continuous batching can gain per step.
 *
 *   bench_seqs [--runs N] MODEL.gguf...
 *
 * Each sequence first takes an 8-token prompt of its own; then 32 steps
 * decode one token of every sequence; the figure is the median of N runs.
 * The runs alternate (1, 2, 4, 8, 16 sequences, then again), so that a
 * busy machine's slow minutes fall on every count alike: the multiples
 * are what to read when other processes share the cores.  The load
 * average before and after is printed.
 */
#include "engine/forward.h"
#include "engine/model.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEPS 32
#define MAX_SEQS 16
#define MAX_RUNS 32

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void print_load(const char *when)
{
    FILE *f = fopen("/proc/loadavg", "r");
    char line[128];
    if (f && fgets(line, sizeof line, f))
        printf("load average %s: %s", when, line);
    if (f)
        fclose(f);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Tokens/s of n sequences decoded together, one run. */
static double once(const model *m, int n, int threads)
{
    char err[256];
    fwd_ctx *c = fwd_new_multi(m, n, 64, threads, err, sizeof err);
    if (!c) {
        fprintf(stderr, "bench_seqs: %s\n", err);
        exit(1);
    }
    float *logits = xmallocarray((size_t)n * m->n_vocab, sizeof(float));
    int seqs[MAX_SEQS];
    int32_t toks[MAX_SEQS];
    for (int s = 0; s < n; s++) {
        int32_t prompt[8];
        for (int i = 0; i < 8; i++)
            prompt[i] = (int32_t)((i * 7919 + s * 104729 + 13) % m->n_vocab);
        fwd_eval_seq(c, s, prompt, 8, false, logits, NULL);
        seqs[s] = s;
        toks[s] = (int32_t)((s * 31 + 5) % m->n_vocab);
    }
    double t0 = now();
    for (int k = 0; k < STEPS; k++)
        fwd_decode_seqs(c, n, seqs, toks, logits);
    double tps = (double)n * STEPS / (now() - t0);
    free(logits);
    fwd_free(c);
    return tps;
}

int main(int argc, char **argv)
{
    int runs = 3, first = 1;
    if (argc > 2 && !strcmp(argv[1], "--runs")) {
        runs = atoi(argv[2]);
        runs = runs < 1 ? 1 : runs > MAX_RUNS ? MAX_RUNS : runs;
        first = 3;
    }
    if (first >= argc) {
        fprintf(stderr, "usage: bench_seqs [--runs N] MODEL.gguf...\n");
        return 2;
    }
    static const int counts[] = {1, 2, 4, 8, 16};
    enum { N_COUNTS = sizeof counts / sizeof counts[0] };
    print_load("before");
    printf("%-34s %3s %s\n", "model", "thr", "tokens/s with 1, 2, 4, 8, 16 sequences (multiple of 1)");
    for (int i = first; i < argc; i++) {
        char err[512];
        model *m;
        if (model_load(&m, argv[i], err, sizeof err) != 0) {
            fprintf(stderr, "bench_seqs: %s\n", err);
            return 1;
        }
        const char *name = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        for (int threads = 1; threads <= 2; threads++) {
            printf("%-34s %3d", name, threads);
            double v[N_COUNTS][MAX_RUNS], base = 0;
            for (int r = 0; r < runs; r++)
                for (int k = 0; k < N_COUNTS; k++)
                    v[k][r] = once(m, counts[k], threads);
            for (int k = 0; k < N_COUNTS; k++) {
                qsort(v[k], (size_t)runs, sizeof *v[k], cmp_double);
                double med = runs % 2 ? v[k][runs / 2] : 0.5 * (v[k][runs / 2 - 1] + v[k][runs / 2]);
                if (k == 0)
                    base = med;
                printf("  %7.1f (%.2fx)", med, med / base);
            }
            printf("\n");
            fflush(stdout);
        }
        model_free(m);
    }
    print_load("after");
    return 0;
}
