/*
 * kern_check.h — what the kernel suites (test_quant, test_packed) share:
 * a seeded generator, Gaussian data, weights of every type, and the check
 * of a product against the exact dot of the dequantized operands and the
 * naive one of the unquantized activation (tests/kern_check.c).
 */
#ifndef FRONTDESK_TESTS_KERN_CHECK_H
#define FRONTDESK_TESTS_KERN_CHECK_H

#include "engine/gguf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A float's bits and back (bit-for-bit comparisons). */
static inline uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Every weight type the engine reads, and how many. */
extern const ggml_type kc_all_types[];
extern const size_t kc_n_types;

/* Each test that draws numbers seeds first, so its data does not depend
 * on which tests ran before it. */
void kc_seed(uint64_t seed);
uint64_t kc_u64(void);
float kc_uniform(void); /* [0, 1) */
float kc_normal(void);
/* Gaussian values with an occasional outlier, like real weights. */
void kc_fill_normal(float *x, size_t n, float scale);
/* rows × cols weights of type t: quantized Gaussians, or (random_bytes)
 * random bytes with sane scales — every bit pattern of the quants. */
void kc_make_weights(ggml_type t, void *W, size_t rows, size_t cols, bool random_bytes);

/* Tolerance of a fast product, relative to sum |w_i * xq_i| (kern_check.c). */
#define KERN_REL_TOL 4e-5

typedef struct {
    double worst_tight; /* largest |fast - exact| / tol seen */
} kc_stats;

/* y (rows) = W · x by the current path's kernels, checked row by row;
 * returns the number of rows that failed (printing the first few). */
int kc_check_matvec(ggml_type t, const void *W, size_t rows, size_t cols, const float *x, const float *y,
                    kc_stats *st);

#endif
