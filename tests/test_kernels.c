/*
 * test_kernels.c — the matrix × vector kernels (kernels.c) on every SIMD
 * path, and how the path is chosen:
 *
 *  - every type, every path: fast matvec against the exact dot of the
 *    dequantized weights with the dequantized activation (tight: only
 *    float rounding differs) and against the naive double reference with
 *    the unquantized x (loose: plus the activation's rounding); row
 *    ranges over a shared activation give the same numbers; wide rows;
 *    the check itself fails a broken kernel.
 *  - half-precision attention against an exact model of it.
 *  - FRONTDESK_SIMD / --no-simd choices and the CPU's features.
 */
#include "tests/kern_check.h"
#include "tests/testutil.h"

#include "engine/kernels.h"
#include "engine/kernels_avx2.h"
#include "engine/quant.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kern_path env_path; /* the path kern_init chose from the environment */

/* ---- Kernels ------------------------------------------------------------------- */

static void matvec_case(ggml_type t, size_t rows, size_t cols, bool random_bytes, kc_stats *st,
                        int *failures)
{
    size_t rb = quant_row_bytes(t, cols);
    void *W = xmalloc(rows * rb);
    float *x = xmallocarray(cols, 4), *y = xmallocarray(rows, 4), *y2 = xmallocarray(rows, 4);
    kc_make_weights(t, W, rows, cols, random_bytes);
    kc_fill_normal(x, cols, 1.0f);
    assert_true(kern_matvec(t, W, rows, cols, x, y));
    *failures += kc_check_matvec(t, W, rows, cols, x, y, st);

    /* Row ranges over a shared activation give exactly the same numbers. */
    void *xq = xmalloc(kern_activation_bytes(t, cols));
    assert_true(kern_quantize_activation(t, x, cols, xq));
    size_t mid = rows / 3;
    for (size_t r = 0; r < rows; r++)
        y2[r] = NAN;
    kern_matvec_rows(t, W, cols, xq, mid, rows, y2);
    kern_matvec_rows(t, W, cols, xq, 0, mid, y2);
    for (size_t r = 0; r < rows; r++)
        if (bits_of(y2[r]) != bits_of(y[r]))
            fail_msg("%s rows [%zu]: kern_matvec_rows %g != kern_matvec %g", ggml_type_name(t), r,
                     (double)y2[r], (double)y[r]);

    /* Several activations at once: each token's results are its own
     * kern_matvec_rows results, bit for bit, whatever the others are. */
    enum { T = 3 };
    size_t ab = kern_activation_bytes(t, cols), stride = ab + 64;
    uint8_t *xs = xmalloc(T * stride);
    float *xt = xmallocarray(cols, 4), *yt = xmallocarray(T * (rows + 1), 4), *one = xmallocarray(rows, 4);
    for (int k = 0; k < T; k++) {
        kc_fill_normal(xt, cols, k == 1 ? 100.0f : 1.0f);
        assert_true(kern_quantize_activation(t, xt, cols, xs + k * stride));
    }
    kern_matmul_rows(t, W, cols, xs, stride, T, 0, rows, yt, rows + 1);
    for (int k = 0; k < T; k++) {
        kern_matvec_rows(t, W, cols, xs + k * stride, 0, rows, one);
        for (size_t r = 0; r < rows; r++)
            if (bits_of(yt[k * (rows + 1) + r]) != bits_of(one[r]))
                fail_msg("%s token %d row %zu: kern_matmul_rows %g != kern_matvec_rows %g", ggml_type_name(t), k, r,
                         (double)yt[k * (rows + 1) + r], (double)one[r]);
    }
    free(xs);
    free(xt);
    free(yt);
    free(one);

    /* The activation's values, as the kernels see them: the weights'
     * product with them, summed in double, is the kernel's result to
     * float rounding (x itself is ~1e-3 away for 8-bit activations). */
    float *xv = xmallocarray(cols, 4), *wrow = xmallocarray(cols, 4);
    assert_true(kern_activation_values(t, x, cols, xq, xv));
    for (size_t r = 0; r < rows; r++) {
        quant_dequantize_row(t, (const uint8_t *)W + r * rb, wrow, cols);
        double dot = 0, mag = 0;
        for (size_t i = 0; i < cols; i++) {
            dot += (double)wrow[i] * xv[i];
            mag += fabs((double)wrow[i] * xv[i]);
        }
        /* Q4_1/Q5_1 take their min term from Q8_1's s, rounded to fp16 */
        double slack = t == GGML_TYPE_Q4_1 || t == GGML_TYPE_Q5_1 ? 2e-3 : 2e-6;
        if (isfinite(mag) && fabs(dot - y[r]) > slack * mag + 1e-30)
            fail_msg("%s row %zu: W·values %.9g, kernel %.9g (sum |w x| %g)", ggml_type_name(t), r, dot,
                     (double)y[r], mag);
    }
    free(xv);
    free(wrow);

    /* The prefill conversion equals the reference dequantizer. */
    size_t r0 = rows / 2, r1 = rows;
    float *tile = xmallocarray((r1 - r0) * cols, 4), *ref = xmallocarray(cols, 4);
    assert_true(kern_dequantize_rows_f32(t, W, cols, r0, r1, tile));
    for (size_t r = r0; r < r1; r++) {
        quant_dequantize_row(t, (const uint8_t *)W + r * rb, ref, cols);
        assert_memory_equal(tile + (r - r0) * cols, ref, cols * 4);
    }
    free(tile);
    free(ref);
    free(xq);
    free(W);
    free(x);
    free(y);
    free(y2);
}

static void run_kernels_on_path(kern_path p)
{
    if (!kern_set_path(p)) {
        printf("SKIP: %s path not available on this CPU\n", kern_path_name(p));
        skip();
    }
    static const size_t rows_list[] = {1, 2, 7, 16, 67};
    kc_seed(2 + (uint64_t)p);
    int failures = 0;
    for (size_t ti = 0; ti < kc_n_types; ti++) {
        ggml_type t = kc_all_types[ti];
        size_t qk = ggml_type_block_elems(t);
        size_t cols_list[4] = {256, qk == QK_K ? 768 : 576, 2048, qk == 1 ? 35 : 256};
        kc_stats st = {0};
        for (size_t c = 0; c < 4; c++)
            for (size_t r = 0; r < sizeof rows_list / sizeof rows_list[0]; r++)
                for (int rb = 0; rb < 2; rb++)
                    matvec_case(t, rows_list[r], cols_list[c], rb, &st, &failures);
        printf("  %-8s %-5s worst |fast - exact| = %.3f of the tolerance\n", kern_path_name(p),
               ggml_type_name(t), st.worst_tight);
    }
    kern_set_path(env_path);
    assert_int_equal(failures, 0);
}

/*
 * kern_attend_f16 on both paths against softmax(q·K)·V computed in double
 * from the same half-precision cache: the half-precision accumulator
 * costs about 2^-11 of the largest |v| per step at worst, so 1e-2 of
 * max |v| bounds both; the two paths agree to a few half-precision ulps.
 */
static void attend_exact(const float *q, const uint16_t *k, const uint16_t *v, size_t n, size_t stride,
                         size_t hd, float scale, double *out)
{
    double *s = xmallocarray(n, sizeof *s), mx = -INFINITY, sum = 0.0;
    for (size_t p = 0; p < n; p++) {
        double d = 0.0;
        for (size_t i = 0; i < hd; i++)
            d += (double)quant_f16_to_f32(quant_f32_to_f16(q[i])) * quant_f16_to_f32(k[p * stride + i]);
        s[p] = d * scale;
        mx = s[p] > mx ? s[p] : mx;
    }
    for (size_t p = 0; p < n; p++)
        sum += s[p] = exp(s[p] - mx);
    for (size_t i = 0; i < hd; i++) {
        out[i] = 0.0;
        for (size_t p = 0; p < n; p++)
            out[i] += s[p] / sum * quant_f16_to_f32(v[p * stride + i]);
    }
    free(s);
}

static void test_attend_f16(void **state)
{
    (void)state;
    static const size_t hds[] = {8, 12, 64, 128}, ns[] = {1, 2, 7, 300};
    kc_seed(7);
    for (size_t a = 0; a < sizeof hds / sizeof hds[0]; a++) {
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
            size_t hd = hds[a], n = ns[b], stride = 3 * hd;
            float *q = xmallocarray(hd, 4), *kv32 = xmallocarray(n * stride, 4);
            uint16_t *k = xmallocarray(n * stride, 2), *v = xmallocarray(n * stride, 2);
            kc_fill_normal(q, hd, 1.0f);
            kc_fill_normal(kv32, n * stride, 1.0f);
            kern_f32_to_f16(kv32, k, n * stride);
            kc_fill_normal(kv32, n * stride, 1.0f);
            kern_f32_to_f16(kv32, v, n * stride);
            float out[KERN_PATH_COUNT][128];
            double exact[128], vmax = 0.0;
            for (size_t i = 0; i < n * stride; i++)
                vmax = fmax(vmax, fabs(quant_f16_to_f32(v[i])));
            float scale = 1.0f / sqrtf((float)hd);
            attend_exact(q, k, v, n, stride, hd, scale, exact);
            for (int p = 0; p < KERN_PATH_COUNT; p++) {
                if (!kern_set_path((kern_path)p)) {
                    memcpy(out[p], out[0], sizeof out[p]);
                    continue;
                }
                kern_attend_f16(q, 1, hd, k, v, n, stride, hd, scale, out[p], hd);
                for (size_t i = 0; i < hd; i++)
                    if (fabs(out[p][i] - exact[i]) > 1e-2 * vmax)
                        fail_msg("%s attention hd %zu over %zu keys [%zu]: %g, exact %g", kern_path_name(p), hd,
                                 n, i, (double)out[p][i], exact[i]);
            }
            /* a group of 19 queries (more than one AVX2 pass) sharing K and V:
             * each result is what the query gets alone, bit for bit */
            enum { G = 19 };
            float *qg = xmallocarray(G * hd, 4), *og = xmallocarray(G * 2 * hd, 4), one[128];
            kc_fill_normal(qg, G * hd, 1.0f);
            for (int p = 0; p < KERN_PATH_COUNT; p++) {
                if (!kern_set_path((kern_path)p))
                    continue;
                kern_attend_f16(qg, G, hd, k, v, n, stride, hd, scale, og, 2 * hd);
                for (int g = 0; g < G; g++) {
                    kern_attend_f16(qg + g * hd, 1, hd, k, v, n, stride, hd, scale, one, hd);
                    assert_memory_equal(og + (size_t)g * 2 * hd, one, hd * sizeof *one);
                }
#if KERN_X86
                /* the path kern_attend_f16 took (for 64-wide heads on AVX-512
                 * machines, three queries at a time in 32 registers) gives
                 * what the general AVX2 kernel gives, bit for bit */
                if (p >= KERN_PATH_AVX2 && hd % 8 == 0) {
                    float *og2 = xmallocarray(G * 2 * hd, 4);
                    memcpy(og2, og, G * 2 * hd * sizeof *og2);
                    kern_attend_f16_avx2(qg, G, hd, k, v, n, stride, hd, scale, og2, 2 * hd);
                    for (int g = 0; g < G; g++)
                        assert_memory_equal(og + (size_t)g * 2 * hd, og2 + (size_t)g * 2 * hd, hd * sizeof *og2);
                    free(og2);
                }
#endif
            }
            free(qg);
            free(og);
            for (int p = 1; p < KERN_PATH_COUNT; p++)
                for (size_t i = 0; i < hd; i++)
                    if (fabsf(out[0][i] - out[p][i]) > 4e-3f * (float)vmax)
                        fail_msg("attention hd %zu over %zu keys [%zu]: %s %g, portable %g", hd, n, i,
                                 kern_path_name((kern_path)p), (double)out[p][i], (double)out[0][i]);
            free(q);
            free(kv32);
            free(k);
            free(v);
        }
    }
    kern_set_path(env_path);
}

static void test_kernels_portable(void **state)
{
    (void)state;
    run_kernels_on_path(KERN_PATH_PORTABLE);
}

static void test_kernels_avx2(void **state)
{
    (void)state;
    run_kernels_on_path(KERN_PATH_AVX2);
}

static void test_kernels_avxvnni(void **state)
{
    (void)state;
    run_kernels_on_path(KERN_PATH_AVXVNNI);
}

static void test_kernels_avx512(void **state)
{
    (void)state;
    run_kernels_on_path(KERN_PATH_AVX512);
}

/* Rows wider than kern_matvec's stack chunk are summed chunk by chunk. */
static void test_kernels_wide_rows(void **state)
{
    (void)state;
    const ggml_type types[] = {GGML_TYPE_Q8_0, GGML_TYPE_Q4_1, GGML_TYPE_Q6_K, GGML_TYPE_F16};
    const size_t cols = 65536, rows = 3;
    kc_seed(4);
    for (int p = 0; p < KERN_PATH_COUNT; p++) {
        if (!kern_set_path((kern_path)p))
            continue;
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            kc_stats st = {0};
            void *W = xmalloc(rows * quant_row_bytes(types[i], cols));
            float *x = xmallocarray(cols, 4), y[3];
            kc_make_weights(types[i], W, rows, cols, false);
            kc_fill_normal(x, cols, 1.0f);
            assert_true(kern_matvec(types[i], W, rows, cols, x, y));
            assert_int_equal(kc_check_matvec(types[i], W, rows, cols, x, y, &st), 0);
            free(W);
            free(x);
        }
    }
    kern_set_path(env_path);
}

/* The comparison catches a realistic bug: one nibble changed in one block
 * of a 2048-wide Q4_0 row (as a mis-indexed unpack would do) fails it. */
static void test_kernel_check_has_teeth(void **state)
{
    (void)state;
    const size_t cols = 2048, rows = 4;
    kc_seed(5);
    size_t rb = quant_row_bytes(GGML_TYPE_Q4_0, cols);
    uint8_t *W = xmalloc(rows * rb), *W2 = xmalloc(rows * rb);
    float *x = xmallocarray(cols, 4), y[4];
    kc_make_weights(GGML_TYPE_Q4_0, W, rows, cols, false);
    kc_fill_normal(x, cols, 1.0f);
    memcpy(W2, W, rows * rb);
    block_q4_0 *b = (block_q4_0 *)(W2 + 2 * rb) + 17;
    b->qs[3] ^= 0x04; /* element 17*32 + 3 of row 2 off by 4 steps */
    x[17 * 32 + 3] = 1.5f;
    kc_stats st = {0};
    assert_true(kern_matvec(GGML_TYPE_Q4_0, W2, rows, cols, x, y));
    assert_int_equal(kc_check_matvec(GGML_TYPE_Q4_0, W, rows, cols, x, y, &st), 1);
    free(W);
    free(W2);
    free(x);
}

/* The path the environment names, FRONTDESK_NO_SIMD as the older
 * synonym of portable, the best runnable path otherwise; a name unknown or
 * not runnable refused with the runnable paths named (kern_choose_path is
 * what kern_init decides, for any CPU). */
static void test_choose_path(void **state)
{
    (void)state;
    const unsigned all = 15, avx2_only = 3, portable_only = 1, avxvnni_no_512 = 7, avx512_no_vnni = 11;
    const struct {
        const char *simd, *no_simd;
        unsigned runnable;
        bool ok;
        kern_path want;
        const char *message; /* part of err when refused */
    } cases[] = {
        {NULL, NULL, all, true, KERN_PATH_AVX512, NULL},
        {NULL, NULL, avx2_only, true, KERN_PATH_AVX2, NULL},
        {NULL, NULL, portable_only, true, KERN_PATH_PORTABLE, NULL},
        {"", NULL, all, true, KERN_PATH_AVX512, NULL},
        {"avx2", NULL, all, true, KERN_PATH_AVX2, NULL},
        {"avx512", NULL, all, true, KERN_PATH_AVX512, NULL},
        {"avxvnni", NULL, all, true, KERN_PATH_AVXVNNI, NULL},
        {NULL, NULL, avxvnni_no_512, true, KERN_PATH_AVXVNNI, NULL},
        {NULL, NULL, avx512_no_vnni, true, KERN_PATH_AVX512, NULL},
        {"avxvnni", NULL, avx512_no_vnni, false, KERN_PATH_AVX512, "cannot run that kernel path; this CPU runs portable, avx2, avx512"},
        {"portable", NULL, all, true, KERN_PATH_PORTABLE, NULL},
        {NULL, "1", all, true, KERN_PATH_PORTABLE, NULL},
        {NULL, "0", all, true, KERN_PATH_AVX512, NULL},
        {"avx2", "1", all, true, KERN_PATH_AVX2, NULL}, /* the new name wins */
        {"avx512", NULL, avx2_only, false, KERN_PATH_AVX2, "cannot run that kernel path; this CPU runs portable, avx2"},
        {"avx2", NULL, portable_only, false, KERN_PATH_PORTABLE, "this CPU runs portable"},
        {"AVX2", NULL, all, false, KERN_PATH_AVX512, "no such kernel path; this CPU runs portable, avx2, avxvnni, avx512"},
        {"sse", NULL, avx2_only, false, KERN_PATH_AVX2, "FRONTDESK_SIMD=sse: no such kernel path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kern_path got = (kern_path)-1;
        char err[200] = "";
        bool ok = kern_choose_path(cases[i].simd, cases[i].no_simd, cases[i].runnable, &got, err, sizeof err);
        if (ok != cases[i].ok || got != cases[i].want)
            fail_msg("case %zu (%s, %s, %u): %s %s, want %s %s", i, cases[i].simd ? cases[i].simd : "unset",
                     cases[i].no_simd ? cases[i].no_simd : "unset", cases[i].runnable, ok ? "taken" : "refused",
                     kern_path_name(got), cases[i].ok ? "taken" : "refused", kern_path_name(cases[i].want));
        if (cases[i].message && !strstr(err, cases[i].message))
            fail_msg("case %zu: message '%s' lacks '%s'", i, err, cases[i].message);
        if (!cases[i].message && *err)
            fail_msg("case %zu: unexpected message '%s'", i, err);
    }
}

#if defined(__x86_64__) || defined(__i386__)
/* Whether /proc/cpuinfo's first "flags" line lists flag. */
static bool cpu_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    assert_non_null(f);
    char line[8192];
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5)) {
            for (char *w = strtok(strchr(line, ':') + 1, " \n"); w && !found; w = strtok(NULL, " \n"))
                found = !strcmp(w, flag);
            break;
        }
    fclose(f);
    return found;
}
#endif

/* kern_init took what the environment this suite runs under asks for, on
 * this CPU's paths (make test runs it under each FRONTDESK_SIMD). */
static void test_env_path(void **state)
{
    (void)state;
#if defined(__x86_64__) || defined(__i386__)
    /* What the kernel says this CPU has and the OS saves (its flags drop
     * AVX when XSAVE does not hold the YMM state): not our cpuid code. */
    bool avx2 = cpu_flag("avx2") && cpu_flag("fma") && cpu_flag("f16c");
    bool avx512 = avx2 && cpu_flag("avx512f") && cpu_flag("avx512vl") && cpu_flag("avx512bw");
    assert_int_equal(kern_path_available(KERN_PATH_AVX2), avx2);
    assert_int_equal(kern_path_available(KERN_PATH_AVX512), avx512);
    assert_int_equal(kern_path_available(KERN_PATH_AVXVNNI), avx2 && cpu_flag("avx_vnni"));
#endif
    assert_true(kern_path_available(KERN_PATH_PORTABLE));
    unsigned runnable = 0;
    for (int p = 0; p < KERN_PATH_COUNT; p++)
        runnable |= kern_path_available((kern_path)p) ? 1u << p : 0;
    kern_path want;
    char err[200];
    bool ok = kern_choose_path(getenv("FRONTDESK_SIMD"), getenv("FRONTDESK_NO_SIMD"), runnable, &want, err,
                               sizeof err);
    assert_int_equal(env_path, want);
    assert_int_equal(kern_env_error() == NULL, ok);
    printf("  kernel path %s (FRONTDESK_SIMD=%s)\n", kern_path_name(env_path),
           getenv("FRONTDESK_SIMD") ? getenv("FRONTDESK_SIMD") : "unset");
}


int main(void)
{
    /* Must come first: the environment is read once, by the first kern_init. */
    kern_init();
    env_path = kern_get_path();

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choose_path),
        cmocka_unit_test(test_env_path),
        cmocka_unit_test(test_kernels_portable),
        cmocka_unit_test(test_kernels_avx2),
        cmocka_unit_test(test_kernels_avxvnni),
        cmocka_unit_test(test_kernels_avx512),
        cmocka_unit_test(test_kernels_wide_rows),
        cmocka_unit_test(test_kernel_check_has_teeth),
        cmocka_unit_test(test_attend_f16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
