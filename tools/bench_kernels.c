/*
 * bench_kernels.c — single-thread matrix × vector timings: the naive
 * reference (dequantize + double dot), the portable C kernels and the
 * AVX2 kernels, for a few weight types.
 *
 *   build/tools/bench_kernels [rows [cols [types...]]]
 *
 * Defaults: 2048 × 2048, types Q4_0 Q8_0 Q4_K Q6_K F16.  Each timing is the
 * best of several runs of enough products to last ~0.2 s; the activation
 * conversion is included (once per product, as in decoding).  The last
 * column is the time to quantize the whole matrix (reference quantizer).
 */
#include "engine/kernels.h"
#include "engine/quant.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;

static float rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)(rng >> 40) * 0x1p-24f - 0.5f;
}

typedef bool (*matvec_fn)(ggml_type, const void *, size_t, size_t, const float *, float *);

/* Seconds per product, best of 3 batches. */
static double time_matvec(matvec_fn fn, ggml_type t, const void *W, size_t rows, size_t cols,
                          const float *x, float *y)
{
    int reps = 1;
    double t0 = util_now();
    fn(t, W, rows, cols, x, y);
    double one = util_now() - t0;
    if (one > 0)
        reps = (int)(0.2 / one) + 1;
    double best = 1e30;
    for (int b = 0; b < 3; b++) {
        t0 = util_now();
        for (int r = 0; r < reps; r++)
            fn(t, W, rows, cols, x, y);
        double per = (util_now() - t0) / reps;
        if (per < best)
            best = per;
    }
    return best;
}

static ggml_type parse_type(const char *s)
{
    for (uint32_t t = 0; t < GGML_TYPE_COUNT; t++)
        if (ggml_type_known(t) && strcmp(ggml_type_name(t), s) == 0)
            return (ggml_type)t;
    fprintf(stderr, "unknown type %s\n", s);
    exit(2);
}

int main(int argc, char **argv)
{
    size_t rows = argc > 1 ? strtoul(argv[1], NULL, 10) : 2048;
    size_t cols = argc > 2 ? strtoul(argv[2], NULL, 10) : 2048;
    ggml_type types[16] = {GGML_TYPE_Q4_0, GGML_TYPE_Q8_0, GGML_TYPE_Q4_K, GGML_TYPE_Q6_K,
                           GGML_TYPE_F16};
    int ntypes = 5;
    if (argc > 3) {
        ntypes = 0;
        for (int i = 3; i < argc && ntypes < 16; i++)
            types[ntypes++] = parse_type(argv[i]);
    }
    kern_init();
    bool avx2 = kern_path_available(KERN_PATH_AVX2);
    printf("matvec %zu x %zu, one thread (ms per product; GB/s of weights)\n", rows, cols);
    printf("%-6s %16s %16s %16s %9s %11s\n", "type", "naive", "portable", "avx2", "max|diff|",
           "quantize ms");

    float *src = xmallocarray(rows * cols, sizeof(float));
    float *x = xmallocarray(cols, sizeof(float));
    float *y0 = xmallocarray(rows, sizeof(float)), *y1 = xmallocarray(rows, sizeof(float));
    float *y2 = xmallocarray(rows, sizeof(float));
    for (size_t i = 0; i < rows * cols; i++)
        src[i] = 0.05f * rnd();
    for (size_t i = 0; i < cols; i++)
        x[i] = rnd();

    for (int k = 0; k < ntypes; k++) {
        ggml_type t = types[k];
        size_t rb = quant_row_bytes(t, cols);
        if (!rb) {
            printf("%-6s cols %zu not a multiple of the block size\n", ggml_type_name(t), cols);
            continue;
        }
        uint8_t *W = xmallocarray(rows, rb);
        double tq = util_now();
        for (size_t r = 0; r < rows; r++)
            quant_quantize_row(t, src + r * cols, W + r * rb, cols);
        tq = util_now() - tq;
        double gb = (double)rows * rb / 1e9;

        double tn = time_matvec(kern_matvec_naive, t, W, rows, cols, x, y0);
        kern_set_path(KERN_PATH_PORTABLE);
        double tp = time_matvec(kern_matvec, t, W, rows, cols, x, y1);
        double ta = NAN;
        if (avx2) {
            kern_set_path(KERN_PATH_AVX2);
            ta = time_matvec(kern_matvec, t, W, rows, cols, x, y2);
        }
        double diff = 0;
        for (size_t r = 0; r < rows; r++) {
            diff = fmax(diff, fabs((double)y1[r] - y0[r]));
            if (avx2)
                diff = fmax(diff, fabs((double)y2[r] - y0[r]));
        }
        printf("%-6s %7.3f (%5.1f) %7.3f (%5.1f) %7.3f (%5.1f) %9.2g %11.1f\n",
               ggml_type_name(t), tn * 1e3, gb / tn, tp * 1e3, gb / tp, ta * 1e3, gb / ta, diff,
               tq * 1e3);
        free(W);
    }
    free(src);
    free(x);
    free(y0);
    free(y1);
    free(y2);
    return 0;
}
