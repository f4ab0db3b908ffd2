/*
 * kern_check.c — the kernel suites' shared data and checks (kern_check.h).
 */
#include "tests/kern_check.h"
#include "tests/testutil.h"

#include "engine/kernels.h"
#include "engine/quant.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ggml_type kc_all_types[] = {
    GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_BF16, GGML_TYPE_Q4_0, GGML_TYPE_Q4_1,
    GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q8_0, GGML_TYPE_Q8_1, GGML_TYPE_Q2_K,
    GGML_TYPE_Q3_K, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K, GGML_TYPE_Q8_K,
};
const size_t kc_n_types = sizeof kc_all_types / sizeof kc_all_types[0];

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* Each test that draws numbers seeds first, so its data does not depend
 * on which tests ran before it. */
void kc_seed(uint64_t seed)
{
    rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
}

uint64_t kc_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float kc_uniform(void) /* [0, 1) */
{
    return (float)(kc_u64() >> 40) * 0x1p-24f;
}

float kc_normal(void)
{
    float u = kc_uniform() + 0x1p-25f, v = kc_uniform();
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

/* Gaussian values with an occasional outlier, like real weights. */
void kc_fill_normal(float *x, size_t n, float scale)
{
    for (size_t i = 0; i < n; i++) {
        x[i] = scale * kc_normal();
        if (kc_u64() % 97 == 0)
            x[i] *= 6.0f;
    }
}


static float kc_rand_scale(float lo, float hi)
{
    float v = lo + (hi - lo) * kc_uniform();
    return kc_u64() & 1 ? -v : v;
}

/* rows × cols weights of type t: quantized Gaussians, or (random_bytes)
 * random bytes with sane scales — every bit pattern of the quants. */
void kc_make_weights(ggml_type t, void *W, size_t rows, size_t cols, bool random_bytes)
{
    size_t rb = quant_row_bytes(t, cols);
    uint8_t *w = W;
    if (!random_bytes || t == GGML_TYPE_F32 || t == GGML_TYPE_F16 || t == GGML_TYPE_BF16) {
        float *row = xmallocarray(cols, 4);
        for (size_t r = 0; r < rows; r++) {
            kc_fill_normal(row, cols, 0.02f + 0.1f * kc_uniform());
            assert_int_equal(quant_quantize_row(t, row, w + r * rb, cols), QUANT_OK);
        }
        free(row);
        return;
    }
    for (size_t i = 0; i < rows * rb; i++)
        w[i] = (uint8_t)kc_u64();
    size_t bb = ggml_type_block_bytes(t), nb = rows * rb / bb;
    for (size_t i = 0; i < nb; i++) {
        void *b = w + i * bb;
        uint16_t d = quant_f32_to_f16(kc_rand_scale(1e-3f, 5e-2f));
        uint16_t m = quant_f32_to_f16(kc_rand_scale(1e-3f, 5e-2f));
        switch (t) {
        case GGML_TYPE_Q4_0: ((block_q4_0 *)b)->d = d; break;
        case GGML_TYPE_Q4_1: ((block_q4_1 *)b)->d = d, ((block_q4_1 *)b)->m = m; break;
        case GGML_TYPE_Q5_0: ((block_q5_0 *)b)->d = d; break;
        case GGML_TYPE_Q5_1: ((block_q5_1 *)b)->d = d, ((block_q5_1 *)b)->m = m; break;
        case GGML_TYPE_Q8_0: ((block_q8_0 *)b)->d = d; break;
        case GGML_TYPE_Q8_1: ((block_q8_1 *)b)->d = d, ((block_q8_1 *)b)->s = m; break;
        case GGML_TYPE_Q2_K: ((block_q2_K *)b)->d = d, ((block_q2_K *)b)->dmin = m; break;
        case GGML_TYPE_Q3_K: ((block_q3_K *)b)->d = d; break;
        case GGML_TYPE_Q4_K: ((block_q4_K *)b)->d = d, ((block_q4_K *)b)->dmin = m; break;
        case GGML_TYPE_Q5_K: ((block_q5_K *)b)->d = d, ((block_q5_K *)b)->dmin = m; break;
        case GGML_TYPE_Q6_K: ((block_q6_K *)b)->d = d; break;
        case GGML_TYPE_Q8_K: ((block_q8_K *)b)->d = kc_rand_scale(1e-3f, 5e-2f); break;
        default: break;
        }
    }
}

/* Tolerances, relative to mag = sum |w_i * xq_i| over the row:
 *   tight: |fast - exact(w, dequantized activation)| <= 4e-5 * mag  (+ the
 *          fp16 rounding of Q8_1's s for Q4_1/Q5_1: |m| * |s| * 2^-10 per block)
 *   loose: |fast - naive(w, x)| <= tight + sum |w_i| * |x_i - xq_i|
 * A broken kernel misses these by orders of magnitude (see
 * test_kernel_check_has_teeth). */

/* Returns the number of rows that failed (printing the first few). */
int kc_check_matvec(ggml_type t, const void *W, size_t rows, size_t cols, const float *x,
                        const float *y, kc_stats *st)
{
    ggml_type at = kern_activation_type(t);
    size_t ab = kern_activation_bytes(t, cols), rb = quant_row_bytes(t, cols);
    void *xq = xmalloc(ab);
    float *xh = xmallocarray(cols, 4), *wr = xmallocarray(cols, 4), *yn = xmallocarray(rows, 4);
    assert_true(kern_quantize_activation(t, x, cols, xq));
    assert_int_equal(quant_dequantize_row(at, xq, xh, cols), QUANT_OK);
    assert_true(kern_matvec_naive(t, W, rows, cols, x, yn));
    int bad = 0;
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *row = (const uint8_t *)W + r * rb;
        quant_dequantize_row(t, row, wr, cols);
        double exact = 0, mag = 0, act_err = 0, s_err = 0;
        for (size_t i = 0; i < cols; i++) {
            exact += (double)wr[i] * xh[i];
            mag += fabs((double)wr[i] * xh[i]);
            act_err += fabs((double)wr[i]) * fabs((double)x[i] - xh[i]);
        }
        if (at == GGML_TYPE_Q8_1)
            for (size_t b = 0; b < cols / 32; b++) {
                uint16_t m = t == GGML_TYPE_Q4_1 ? ((const block_q4_1 *)row)[b].m
                                                  : ((const block_q5_1 *)row)[b].m;
                double s = quant_f16_to_f32(((const block_q8_1 *)xq)[b].s);
                s_err += fabs(quant_f16_to_f32(m)) * (fabs(s) * 0x1p-10 + 0x1p-23);
            }
        double tight = KERN_REL_TOL * mag + s_err + 1e-30;
        double err = fabs((double)y[r] - exact);
        double loose = tight + act_err * 1.0001 + 1e-6 * fabs((double)yn[r]);
        double err_naive = fabs((double)y[r] - yn[r]);
        if (err / tight > st->worst_tight)
            st->worst_tight = err / tight;
        if ((err > tight || err_naive > loose) && bad++ < 3)
            printf("  %s %s rows=%zu cols=%zu row %zu: fast %.9g exact %.9g (tol %.3g) "
                   "naive %.9g (tol %.3g)\n",
                   ggml_type_name(t), kern_path_name(kern_get_path()), rows, cols, r,
                   (double)y[r], exact, tight, (double)yn[r], loose);
    }
    free(xq);
    free(xh);
    free(wr);
    free(yn);
    return bad;
}

