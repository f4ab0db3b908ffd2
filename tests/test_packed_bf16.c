/*
 * test_packed_bf16.c — BF16 weights repacked sixteen rows at a time
 * (engine/kernels_packed_bf16.c) against activations rounded to BF16:
 *
 *  - the packed form reads back exactly the stored rows, is the rows' own
 *    size (to a whole group) and is refused for odd column counts;
 *  - every instruction set the CPU runs (AVX2 FMAs, AVX-512F FMAs,
 *    AVX-512 BF16's vdpbf16ps) gives, bit for bit, a scalar model of
 *    vdpbf16ps written here from Intel's definition (per lane and column
 *    pair: acc += w_odd·x_odd, then acc += w_even·x_even, each rounded to
 *    nearest even, subnormal inputs read as zero, subnormal results
 *    flushed), on Gaussian rows and on random bit patterns with
 *    subnormals; for 1, 3, 5 or 11 tokens together and any row split at
 *    multiples of 16; and leaves MXCSR as it found it;
 *  - through kernels.h on each SIMD path: BF16 weights are packed, the
 *    activation is x rounded to nearest even BF16 (as llama.cpp's CPU
 *    backend rounds it), results within 4e-5 of Σ|w·x| of the exact
 *    product, all paths bit for bit the same; the portable path packs
 *    nothing and its unpacked dot meets the same bound.
 */
#include "tests/testutil.h"

#include "engine/kernels.h"
#include "engine/kernels_packed_bf16.h"
#include "engine/quant.h"
#include "util/util.h"

#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kern_path env_path;
static uint64_t rng_state;

static void rng_seed(uint64_t s) { rng_state = s * 0x9e3779b97f4a7c15ull + 1; }

static uint64_t rng_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_normal(void)
{
    float u = (float)(rng_u64() >> 40) * 0x1p-24f + 0x1p-25f, v = (float)(rng_u64() >> 40) * 0x1p-24f;
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

static float bf(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* A subnormal as zero of its sign (vdpbf16ps's inputs and results). */
static float flush(float f) { return fpclassify(f) == FP_SUBNORMAL ? copysignf(0.0f, f) : f; }

/* Row r of W (cols BF16) · x (cols BF16) as Intel defines vdpbf16ps. */
static float model_dot(const uint16_t *w, const uint16_t *x, size_t cols)
{
    float acc = 0;
    for (size_t c = 0; c < cols; c += 2) {
        acc = flush(fmaf(flush(bf(w[c + 1])), flush(bf(x[c + 1])), acc));
        acc = flush(fmaf(flush(bf(w[c])), flush(bf(x[c])), acc));
    }
    return acc;
}

/* Gaussian rows (scale varying by row), or random bit patterns: every
 * exponent but inf/NaN's, subnormals one pattern in eight. */
static void make_rows(uint16_t *W, size_t n, bool random_bits)
{
    float scale = 0.05f;
    for (size_t i = 0; i < n; i++) {
        if (!random_bits) {
            W[i] = quant_f32_to_bf16(scale * rng_normal());
            continue;
        }
        uint16_t h = (uint16_t)rng_u64();
        if ((h & 0x7f80) == 0x7f80)
            h ^= 0x4000;
        if (rng_u64() % 8 == 0)
            h &= 0x807f; /* subnormal (or zero) */
        W[i] = h;
    }
}

/* Token t's activation: Gaussians of scale 1, 30, or tiny ones whose
 * products fall below the normal range. */
static void make_tokens(float *x, uint16_t *xb, size_t T, size_t cols)
{
    for (size_t t = 0; t < T; t++) {
        float scale = t % 4 == 3 ? 1e-37f : t % 3 ? 1.0f : 30.0f;
        for (size_t c = 0; c < cols; c++) {
            x[t * cols + c] = scale * rng_normal();
            xb[t * cols + c] = quant_f32_to_bf16(x[t * cols + c]);
        }
    }
}

static const struct {
    size_t rows, cols;
} shapes[] = {{16, 256}, {67, 576}, {35, 2048}, {5, 38}, {40, 600}, {3, 2}, {32, 1536}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static void test_layout(void **state)
{
    (void)state;
    rng_seed(1);
    assert_int_equal(kern_packed_bytes(GGML_TYPE_BF16, 16, 37), 0);
    assert_int_equal(kern_packed_bytes(GGML_TYPE_BF16, 16, 0), 0);
    for (size_t s = 0; s < N_SHAPES; s++) {
        size_t rows = shapes[s].rows, cols = shapes[s].cols;
        size_t pb = kern_packed_bytes(GGML_TYPE_BF16, rows, cols);
        assert_int_equal(pb, (rows + 15) / 16 * 16 * cols * 2); /* the rows' bytes, to a whole group */
        uint16_t *W = xmallocarray(rows * cols, 2), *P = xmalloc(pb);
        float *a = xmallocarray(cols, 4), *b = xmallocarray(cols, 4);
        make_rows(W, rows * cols, true);
        kern_pack(GGML_TYPE_BF16, W, rows, cols, P);
        for (size_t r = 0; r < rows; r++) {
            assert_int_equal(quant_dequantize_row(GGML_TYPE_BF16, W + r * cols, a, cols), QUANT_OK);
            kern_packed_row_f32(GGML_TYPE_BF16, P, cols, r, b);
            assert_memory_equal(a, b, cols * 4);
        }
        free(W), free(P), free(a), free(b);
    }
}

#if KERN_X86
static const char *isa_name[] = {"avx2", "avx512f", "vdpbf16ps"};

static bool isa_runs(kern_bf16_isa isa)
{
    return isa == KERN_BF16_AVX2      ? kern_path_available(KERN_PATH_AVX2)
           : isa == KERN_BF16_AVX512F ? kern_path_available(KERN_PATH_AVX512)
                                      : kern_cpu_has_bf16();
}
#endif

static void test_isas_match_definition(void **state)
{
    (void)state;
#if KERN_X86
    if (!kern_path_available(KERN_PATH_AVX2)) {
        printf("SKIP: no AVX2 on this CPU\n");
        skip();
    }
    printf("  vdpbf16ps on this CPU: %s\n", kern_cpu_has_bf16() ? "yes" : "no (its path not run)");
    rng_seed(2);
    enum { T = 11 };
    for (size_t s = 0; s < N_SHAPES; s++)
        for (int rb = 0; rb < 2; rb++) {
            size_t rows = shapes[s].rows, cols = shapes[s].cols, groups = (rows + 15) / 16;
            uint16_t *W = xmallocarray(rows * cols, 2), *P = xmalloc(kern_packed_bytes(GGML_TYPE_BF16, rows, cols));
            uint16_t *xb = xmallocarray(T * cols, 2);
            float *x = xmallocarray(T * cols, 4), *want = xmallocarray(T * rows, 4);
            float *all = xmallocarray(T * rows, 4), *part = xmallocarray(T * rows, 4);
            make_rows(W, rows * cols, rb);
            make_tokens(x, xb, T, cols);
            kern_pack(GGML_TYPE_BF16, W, rows, cols, P);
            for (size_t t = 0; t < T; t++)
                for (size_t r = 0; r < rows; r++)
                    want[t * rows + r] = model_dot(W + r * cols, xb + t * cols, cols);
            for (int isa = KERN_BF16_AVX2; isa <= KERN_BF16_DPBF16; isa++) {
                if (!isa_runs((kern_bf16_isa)isa))
                    continue;
                unsigned csr = _mm_getcsr();
                kern_packed_bf16_x86((kern_bf16_isa)isa, P, rows, cols, xb, cols * 2, T, 0, groups, all, rows);
                assert_int_equal(_mm_getcsr(), csr);
                for (size_t i = 0; i < (size_t)T * rows; i++)
                    if (bits(all[i]) != bits(want[i]))
                        fail_msg("%s %zux%zu %s: token %zu row %zu: %a, the definition gives %a", isa_name[isa], rows,
                                 cols, rb ? "random bits" : "gaussian", i / rows, i % rows, (double)all[i],
                                 (double)want[i]);
                static const size_t counts[] = {1, 3, 5};
                for (size_t c = 0; c < 3; c++)
                    for (size_t t0 = 0; t0 + counts[c] <= T; t0 += counts[c]) {
                        size_t split = groups > 1 ? 1 : 0; /* in groups */
                        memset(part, 0xff, (size_t)T * rows * 4);
                        kern_packed_bf16_x86((kern_bf16_isa)isa, P, rows, cols, xb + t0 * cols, cols * 2, counts[c],
                                             split, groups, part, rows);
                        kern_packed_bf16_x86((kern_bf16_isa)isa, P, rows, cols, xb + t0 * cols, cols * 2, counts[c], 0,
                                             split, part, rows);
                        if (memcmp(part, all + t0 * rows, counts[c] * rows * 4) != 0)
                            fail_msg("%s %zux%zu: tokens %zu.. %zu together differ from the 11-token run",
                                     isa_name[isa], rows, cols, t0, counts[c]);
                    }
            }
            free(W), free(P), free(xb), free(x), free(want), free(all), free(part);
        }
#else
    skip();
#endif
}

/* Through kernels.h: the activation the kernels take, the tolerance of
 * the exact product, and every SIMD path's results the same. */
static void test_paths(void **state)
{
    (void)state;
    rng_seed(3);
    enum { T = 7 };
    for (size_t s = 0; s < N_SHAPES; s++) {
        size_t rows = shapes[s].rows, cols = shapes[s].cols;
        size_t ab = kern_activation_bytes(GGML_TYPE_BF16, cols);
        assert_int_equal(ab, cols * 2);
        assert_int_equal(kern_activation_type(GGML_TYPE_BF16), GGML_TYPE_BF16);
        uint16_t *W = xmallocarray(rows * cols, 2), *xb = xmallocarray(T * cols, 2);
        uint8_t *xq = xmalloc(T * ab);
        float *x = xmallocarray(T * cols, 4), *y = xmallocarray(T * rows, 4), *ref = xmallocarray(T * rows, 4);
        void *P = xmalloc(kern_packed_bytes(GGML_TYPE_BF16, rows, cols));
        make_rows(W, rows * cols, false);
        make_tokens(x, xb, T, cols);
        bool have_ref = false;
        for (int p = KERN_PATH_PORTABLE; p < KERN_PATH_COUNT; p++) {
            if (!kern_set_path((kern_path)p))
                continue;
            for (size_t t = 0; t < T; t++) {
                assert_true(kern_quantize_activation(GGML_TYPE_BF16, x + t * cols, cols, xq + t * ab));
                assert_memory_equal(xq + t * ab, xb + t * cols, ab); /* nearest even, independently rounded */
            }
            if (p == KERN_PATH_PORTABLE) {
                assert_false(kern_packs(GGML_TYPE_BF16));
                for (size_t t = 0; t < T; t++)
                    kern_matvec_rows(GGML_TYPE_BF16, W, cols, xq + t * ab, 0, rows, y + t * rows);
            } else {
                assert_true(kern_packs(GGML_TYPE_BF16));
                kern_pack(GGML_TYPE_BF16, W, rows, cols, P);
                kern_packed_matmul(GGML_TYPE_BF16, P, rows, cols, xq, ab, T, 0, rows, y, rows);
            }
            for (size_t t = 0; t < T; t++)
                for (size_t r = 0; r < rows; r++) {
                    double exact = 0, mag = 0;
                    for (size_t c = 0; c < cols; c++) {
                        double v = (double)bf(W[r * cols + c]) * bf(xb[t * cols + c]);
                        exact += v;
                        mag += fabs(v);
                    }
                    double got = y[t * rows + r];
                    if (fabs(got - exact) > 4e-5 * mag + 1e-30)
                        fail_msg("%s %zux%zu token %zu row %zu: %.9g, exact %.9g (tolerance %.3g)",
                                 kern_path_name((kern_path)p), rows, cols, t, r, got, exact, 4e-5 * mag);
                }
            if (p == KERN_PATH_PORTABLE)
                continue;
            if (have_ref && memcmp(ref, y, (size_t)T * rows * 4) != 0)
                fail_msg("%zux%zu: the %s path's packed results differ from the other SIMD paths'", rows, cols,
                         kern_path_name((kern_path)p));
            memcpy(ref, y, (size_t)T * rows * 4);
            have_ref = true;
        }
        kern_set_path(env_path);
        free(W), free(xb), free(xq), free(x), free(y), free(ref), free(P);
    }
}

int main(void)
{
    kern_init();
    env_path = kern_get_path();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_isas_match_definition),
        cmocka_unit_test(test_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
