/*
 * bench.c — engine throughput: prefill tokens/s for a 256-token prompt and
 * decode tokens/s for 64 tokens, with 1 and 2 threads, each the median of
 * several runs.
 *
 *   bench [--runs N] MODEL.gguf...
 *
 * Token ids are drawn at random (seeded) from the model's vocabulary; no
 * tokenizer is needed, so random-weight files without one work too.
 */
#include "engine/forward.h"
#include "engine/model.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFILL 256
#define DECODE 64

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    int runs = 3, first = 1;
    if (argc > 2 && !strcmp(argv[1], "--runs")) {
        runs = atoi(argv[2]);
        first = 3;
    }
    if (first >= argc || runs < 1) {
        fprintf(stderr, "usage: bench [--runs N] MODEL.gguf...\n");
        return 2;
    }
    printf("%-34s %-6s %8s %3s %12s %12s\n", "model", "type", "params", "thr", "prefill t/s", "decode t/s");
    printf("(prefill: %d-token prompt; decode: %d tokens after it; median of %d runs)\n", PREFILL, DECODE, runs);
    for (int a = first; a < argc; a++) {
        char err[512];
        model *m;
        if (model_load(&m, argv[a], err, sizeof err) != 0) {
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        const char *base = strrchr(argv[a], '/');
        base = base ? base + 1 : argv[a];
        int32_t toks[PREFILL + DECODE];
        uint64_t s = 42;
        for (int i = 0; i < PREFILL + DECODE; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            toks[i] = (int32_t)((s >> 33) % m->n_vocab);
        }
        float *logits = xmallocarray(m->n_vocab, sizeof *logits);
        for (int threads = 1; threads <= 2; threads++) {
            fwd_ctx *c = fwd_new(m, PREFILL + DECODE, threads, err, sizeof err);
            if (!c) {
                fprintf(stderr, "bench: %s\n", err);
                return 1;
            }
            double pf[64], dc[64];
            for (int r = 0; r < runs && r < 64; r++) {
                fwd_truncate(c, 0);
                double t0 = util_now();
                fwd_eval(c, toks, PREFILL, false, logits, NULL);
                double t1 = util_now();
                for (int i = 0; i < DECODE; i++)
                    fwd_eval(c, &toks[PREFILL + i], 1, false, logits, NULL);
                double t2 = util_now();
                pf[r] = PREFILL / (t1 - t0);
                dc[r] = DECODE / (t2 - t1);
            }
            printf("%-34s %-6s %7.1fM %3d %12.1f %12.1f\n", base, m->quant, m->hp.n_params / 1e6, threads,
                   median(pf, runs), median(dc, runs));
            fflush(stdout);
            fwd_free(c);
        }
        free(logits);
        model_free(m);
    }
    return 0;
}
