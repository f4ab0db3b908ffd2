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
 * average before and after is printed.  With one thread the same is also
 * given per second of this process's CPU time ("cpu" lines): what the
 * steps cost, whatever share of a core the scheduler gave them.
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

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
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

/* Tokens/s of n sequences decoded together, one run: by the clock, and
 * per second of the process's CPU time (*cpu_tps). */
static double once(const model *m, int n, int threads, double *cpu_tps)
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
    double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int k = 0; k < STEPS; k++)
        fwd_decode_seqs(c, n, seqs, toks, logits);
    double tps = (double)n * STEPS / (clock_s(CLOCK_MONOTONIC) - t0);
    *cpu_tps = (double)n * STEPS / (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0);
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
    printf("%-34s %3s     %s\n", "model", "thr", "tokens/s with 1, 2, 4, 8, 16 sequences (multiple of 1)");
    for (int i = first; i < argc; i++) {
        char err[512];
        model *m;
        if (model_load(&m, argv[i], err, sizeof err) != 0) {
            fprintf(stderr, "bench_seqs: %s\n", err);
            return 1;
        }
        const char *name = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        for (int threads = 1; threads <= 2; threads++) {
            double v[2][N_COUNTS][MAX_RUNS];
            for (int r = 0; r < runs; r++)
                for (int k = 0; k < N_COUNTS; k++)
                    v[0][k][r] = once(m, counts[k], threads, &v[1][k][r]);
            for (int cpu = 0; cpu <= (threads == 1); cpu++) {
                printf("%-34s %3d%s", name, threads, cpu ? " cpu" : "    ");
                double base = 0;
                for (int k = 0; k < N_COUNTS; k++) {
                    double *x = v[cpu][k];
                    qsort(x, (size_t)runs, sizeof *x, cmp_double);
                    double med = runs % 2 ? x[runs / 2] : 0.5 * (x[runs / 2 - 1] + x[runs / 2]);
                    if (k == 0)
                        base = med;
                    printf("  %7.1f (%.2fx)", med, med / base);
                }
                printf("\n");
            }
            fflush(stdout);
        }
        model_free(m);
    }
    print_load("after");
    return 0;
}
