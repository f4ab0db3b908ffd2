/*
 * test_packed.c — weights repacked with rows interleaved (kernels_packed.c,
 * kernels_packed4.c, kernels_packedk.c) and the tiled activations of
 * several tokens: each packed product within the exact product's
 * tolerance, bit for bit across token counts, row splits and SIMD paths,
 * and the VNNI kernels bit for bit the AVX2 ones.
 */
#include "tests/kern_check.h"
#include "tests/testutil.h"

#include "engine/kernels.h"
#include "engine/kernels_avx2.h"
#include "engine/quant.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kern_path env_path; /* the path kern_init chose from the environment */

/*
 * Weights packed with rows interleaved (kernels_packed.c: Q8_0 eight rows
 * a group, F16 sixteen; kernels_packed4.c: Q4_0, Q5_0, Q4_1, Q5_1 and Q4_K eight;
 * kernels_packedk.c: Q6_K and Q5_K eight), on each
 * SIMD path: every result within
 * kc_check_matvec's tolerance of the exact product (the unpacked kernels'
 * bar); a token's results bit for bit the same whether 1, 3, 5 or 11
 * tokens are multiplied together and however the rows are split at
 * multiples of KERN_PACK_ROWS; all SIMD paths bit for bit each other; rows
 * read back from the packed form exactly the dequantized rows; row counts
 * not a multiple of the group, odd column counts (F16) and random bytes.
 */
static void test_packed(void **state)
{
    (void)state;
    if (!kern_path_available(KERN_PATH_AVX2)) {
        printf("SKIP: no AVX2 on this CPU\n");
        skip();
    }
    static const struct {
        ggml_type t;
        size_t rows, cols;
    } shapes[] = {{GGML_TYPE_Q8_0, 16, 256}, {GGML_TYPE_Q8_0, 67, 576}, {GGML_TYPE_Q8_0, 8, 2048},
                  {GGML_TYPE_Q8_0, 13, 32},  {GGML_TYPE_F16, 16, 256},  {GGML_TYPE_F16, 67, 576},
                  {GGML_TYPE_F16, 35, 2048}, {GGML_TYPE_F16, 5, 37},    {GGML_TYPE_F16, 40, 600},
                  {GGML_TYPE_F16, 150, 2100}, {GGML_TYPE_F16, 35, 4865}, /* spans of fewer tokens */
                  {GGML_TYPE_Q4_0, 16, 256}, {GGML_TYPE_Q4_0, 67, 576}, {GGML_TYPE_Q4_0, 13, 32},
                  {GGML_TYPE_Q4_0, 8, 16416}, /* 513 blocks: Σ x of fewer tokens at a time */
                  {GGML_TYPE_Q5_0, 16, 256}, {GGML_TYPE_Q5_0, 67, 576}, {GGML_TYPE_Q5_0, 13, 32},
                  {GGML_TYPE_Q5_0, 8, 16416},
                  {GGML_TYPE_Q4_1, 16, 256}, {GGML_TYPE_Q4_1, 67, 576}, {GGML_TYPE_Q5_1, 16, 256},
                  {GGML_TYPE_Q5_1, 67, 576}, {GGML_TYPE_Q5_1, 13, 32},
                  {GGML_TYPE_Q4_K, 16, 256}, {GGML_TYPE_Q4_K, 67, 512}, {GGML_TYPE_Q4_K, 9, 1536},
                  {GGML_TYPE_Q6_K, 16, 256}, {GGML_TYPE_Q6_K, 67, 512}, {GGML_TYPE_Q6_K, 9, 1536},
                  {GGML_TYPE_Q5_K, 16, 256}, {GGML_TYPE_Q5_K, 67, 512}, {GGML_TYPE_Q5_K, 9, 1536}};
    /* F16 rows wider than the kernels' stack span of activations stay unpacked */
    assert_int_equal(kern_packed_bytes(GGML_TYPE_F16, 16, 65537), 0);
    assert_true(kern_packed_bytes(GGML_TYPE_F16, 16, 65536) > 0);
    kc_seed(11);
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        ggml_type ty = shapes[sh].t;
        size_t rows = shapes[sh].rows, cols = shapes[sh].cols;
        for (int rb = 0; rb < 2; rb++) {
            size_t wb = rows * quant_row_bytes(ty, cols), pb = kern_packed_bytes(ty, rows, cols);
            assert_true(pb > 0);
            void *W = xmalloc(wb), *P = xmalloc(pb);
            kc_make_weights(ty, W, rows, cols, rb && ty != GGML_TYPE_F16); /* random F16 bytes: inf, NaN */
            kern_pack(ty, W, rows, cols, P);
            float *wr = xmallocarray(cols, 4), *pr = xmallocarray(cols, 4);
            for (size_t r = 0; r < rows; r++) {
                quant_dequantize_row(ty, (const uint8_t *)W + r * quant_row_bytes(ty, cols), wr, cols);
                kern_packed_row_f32(ty, P, cols, r, pr);
                assert_memory_equal(wr, pr, cols * 4);
            }
            enum { T = 11 };
            size_t ab = kern_activation_bytes(ty, cols);
            uint8_t *xs = xmalloc(T * ab);
            float *x = xmallocarray((size_t)T * cols, 4);
            for (int t = 0; t < T; t++) {
                kc_fill_normal(x + (size_t)t * cols, cols, t % 3 ? 1.0f : 30.0f);
                assert_true(kern_quantize_activation(ty, x + (size_t)t * cols, cols, xs + t * ab));
            }
            float *ref = NULL;
            for (int p = KERN_PATH_AVX2; p < KERN_PATH_COUNT; p++) {
                if (!kern_set_path((kern_path)p))
                    continue;
                assert_true(kern_packs(ty));
                float *all = xmallocarray((size_t)T * rows, 4), *part = xmallocarray((size_t)T * rows, 4);
                kern_packed_matmul(ty, P, rows, cols, xs, ab, T, 0, rows, all, rows);
                kc_stats st = {0};
                for (int t = 0; t < T; t++)
                    if (!rb)
                        assert_int_equal(kc_check_matvec(ty, W, rows, cols, x + (size_t)t * cols, all + (size_t)t * rows,
                                                      &st),
                                         0);
                static const size_t counts[] = {1, 3, 5};
                for (size_t c = 0; c < 3; c++)
                    for (size_t t0 = 0; t0 + counts[c] <= T; t0 += counts[c]) {
                        size_t split = rows > KERN_PACK_ROWS ? KERN_PACK_ROWS : rows;
                        kern_packed_matmul(ty, P, rows, cols, xs + t0 * ab, ab, counts[c], split, rows, part, rows);
                        kern_packed_matmul(ty, P, rows, cols, xs + t0 * ab, ab, counts[c], 0, split, part, rows);
                        for (size_t t = 0; t < counts[c]; t++)
                            if (memcmp(part + t * rows, all + (t0 + t) * rows, rows * 4) != 0)
                                fail_msg("%s %s %zux%zu: token %zu of %zu together differs from the 11-token run",
                                         ggml_type_name(ty), kern_path_name((kern_path)p), rows, cols, t0 + t,
                                         counts[c]);
                    }
                if (ref && memcmp(ref, all, (size_t)T * rows * 4) != 0)
                    fail_msg("%s %zux%zu: %s packed results differ from the avx2 path's", ggml_type_name(ty), rows,
                             cols, kern_path_name((kern_path)p));
                if (!ref)
                    ref = all;
                else
                    free(all);
                free(part);
            }
            kern_set_path(env_path);
            free(ref);
            free(x);
            free(xs);
            free(wr);
            free(pr);
            free(W);
            free(P);
        }
    }
    assert_true(kern_set_path(KERN_PATH_PORTABLE)); /* portable packs nothing */
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        assert_false(kern_packs(shapes[sh].t));
    kern_set_path(env_path);
}

/* Bytes kern_packed_tile lays out for n tokens of cols: Q8_0, per token
 * and block, eight chunks, the offset Σ and the scale; F16 the floats. */
static size_t tile_bytes_expected(ggml_type ty, size_t cols, size_t n)
{
    return ty == GGML_TYPE_F16 ? n * cols * sizeof(float) : n * (cols / 32) * 40;
}

/* One shape of packed ty weights on the current path: for the last n of
 * T tokens, n in 1..17, the tiled products bit for bit each token's
 * kern_packed_matmul alone, rows split at `split`; tiling the first eight
 * and the rest apart writes the whole tiling's bytes. */
static void check_tiled_shape(ggml_type ty, size_t rows, size_t cols, bool random_bytes, size_t split)
{
    static const size_t counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 17};
    enum { T = 17 };
    void *W = xmalloc(rows * quant_row_bytes(ty, cols)), *P = xmalloc(kern_packed_bytes(ty, rows, cols));
    kc_make_weights(ty, W, rows, cols, random_bytes);
    kern_pack(ty, W, rows, cols, P);
    size_t ab = kern_activation_bytes(ty, cols);
    uint8_t *xs = xmalloc(T * ab);
    float *x = xmallocarray(cols, 4);
    for (int t = 0; t < T; t++) {
        kc_fill_normal(x, cols, t % 3 ? 1.0f : 30.0f);
        assert_true(kern_quantize_activation(ty, x, cols, xs + t * ab));
    }
    float *alone = xmallocarray((size_t)T * rows, 4), *tiled = xmallocarray((size_t)T * rows, 4);
    for (int t = 0; t < T; t++)
        kern_packed_matmul(ty, P, rows, cols, xs + t * ab, ab, 1, 0, rows, alone + (size_t)t * rows, rows);
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        size_t n = counts[c], t0 = T - n; /* the last n tokens */
        size_t bytes = kern_packed_tile_bytes(ty, cols, n);
        assert_int_equal(bytes, tile_bytes_expected(ty, cols, n));
        void *xt = xmalloc(bytes);
        kern_packed_tile(ty, xs + t0 * ab, ab, n, cols, xt);
        if (n > 8) { /* the first eight tokens, then the rest, as forward.c's threads tile them */
            uint8_t *parts = xmalloc(bytes);
            size_t at = kern_packed_tile_bytes(ty, cols, 8);
            kern_packed_tile(ty, xs + t0 * ab, ab, 8, cols, parts);
            kern_packed_tile(ty, xs + (t0 + 8) * ab, ab, n - 8, cols, parts + at);
            assert_memory_equal(parts, xt, bytes);
            free(parts);
        }
        memset(tiled, 0xff, (size_t)T * rows * 4);
        kern_packed_matmul_tiled(ty, P, rows, cols, xt, n, split, rows, tiled, rows);
        kern_packed_matmul_tiled(ty, P, rows, cols, xt, n, 0, split, tiled, rows);
        for (size_t t = 0; t < n; t++)
            if (memcmp(tiled + t * rows, alone + (t0 + t) * rows, rows * 4) != 0)
                fail_msg("%s %s %zux%zu%s: token %zu of %zu tiled differs from it alone", ggml_type_name(ty),
                         kern_path_name(kern_get_path()), rows, cols, random_bytes ? " (random bytes)" : "", t0 + t,
                         n);
        free(xt);
    }
    free(alone);
    free(tiled);
    free(x);
    free(xs);
    free(W);
    free(P);
}

typedef struct {
    size_t rows, cols;
} shape;

/* check_tiled_shape for every shape on every path that packs ty (random
 * bytes too where the type has any); the others must lay out nothing. */
static void check_tiled(ggml_type ty, const shape *shapes, size_t n_shapes, bool random_bytes, size_t split_at)
{
    int ran = 0;
    for (int path = KERN_PATH_PORTABLE; path < KERN_PATH_COUNT; path++) {
        if (!kern_set_path((kern_path)path))
            continue;
        if (!kern_packs(ty)) {
            assert_int_equal(kern_packed_tile_bytes(ty, 256, 4), 0);
            continue;
        }
        ran++;
        for (size_t sh = 0; sh < n_shapes; sh++)
            for (int rb = 0; rb <= (int)random_bytes; rb++)
                check_tiled_shape(ty, shapes[sh].rows, shapes[sh].cols, rb,
                                  shapes[sh].rows > split_at ? split_at : shapes[sh].rows);
    }
    kern_set_path(env_path);
    if (!ran) {
        printf("SKIP: no path packs %s on this CPU\n", ggml_type_name(ty));
        skip();
    }
}

/*
 * Packed Q8_0 against tiled activations (kern_packed_tile), on every path
 * that packs Q8_0 (avx2, avxvnni, avx512 with or without VNNI): each
 * token's results are kern_packed_matmul's for that token alone on that
 * path, bit for bit, for 1 to 17 tokens (tiles of eight and what is
 * left, passes of four on 256-bit vectors), rows split at multiples of
 * KERN_PACK_ROWS and row counts that end in a lone group of eight (13,
 * 67, 8, 131), random bytes included, and a matrix larger than the
 * panels of rows the 256-bit tiles take at a time.  Tiling a batch in
 * parts at a multiple of eight tokens, each part at kern_packed_tile_bytes
 * of the tokens before it (as forward.c's threads do), writes the same
 * bytes as tiling it whole.  The portable path packs nothing (size 0).
 */
static void test_packed_tiled(void **state)
{
    (void)state;
    static const shape shapes[] = {{16, 256}, {67, 576}, {8, 2048}, {13, 32}, {45, 96}, {131, 2048} /* 301 KiB */};
    kc_seed(12);
    check_tiled(GGML_TYPE_Q8_0, shapes, sizeof shapes / sizeof shapes[0], true, KERN_PACK_ROWS);
}

/*
 * Packed F16 against activations laid out once per product as floats
 * (kern_packed_tile: a batch's products split among threads convert them
 * once): the same checks on every path that packs F16, rows split at a
 * multiple of sixteen, odd widths included.
 */
static void test_packed_tiled_f16(void **state)
{
    (void)state;
    static const shape shapes[] = {{16, 256}, {67, 576}, {35, 2048}, {5, 37}, {40, 601}};
    kc_seed(13);
    check_tiled(GGML_TYPE_F16, shapes, sizeof shapes / sizeof shapes[0], false, 16);
}

/* The VNNI Q8_0 and Q4_0 kernels — AVX-512 VNNI's and AVX-VNNI's — give
 * the AVX2 kernels' results bit for bit (all sum exact integers per lane,
 * then scale in the same order), for every bit pattern of the quants and
 * odd and even block counts. */
static void test_vnni_matches_avx2(void **state)
{
    (void)state;
#if KERN_X86
    bool vnni512 = kern_path_available(KERN_PATH_AVX512) && __builtin_cpu_supports("avx512vnni");
    bool avxvnni = kern_path_available(KERN_PATH_AVXVNNI);
    if (!vnni512 && !avxvnni) {
        printf("SKIP: no AVX-512 VNNI or AVX-VNNI on this CPU\n");
        skip();
    }
    typedef float (*dot)(const void *, const void *, size_t);
    const struct {
        ggml_type t;
        dot avx2, vnni, avxvnni;
    } kernels[] = {{GGML_TYPE_Q8_0, kern_dot_q8_0_avx2, kern_dot_q8_0_vnni, kern_dot_q8_0_avxvnni},
                   {GGML_TYPE_Q4_0, kern_dot_q4_0_avx2, kern_dot_q4_0_vnni, kern_dot_q4_0_avxvnni}};
    kc_seed(7);
    assert_true(kern_set_path(KERN_PATH_AVX2));
    for (size_t k = 0; k < sizeof kernels / sizeof kernels[0]; k++)
        for (size_t cols = 32; cols <= 32 * 41; cols += 32 * 5) {
            const size_t rows = 16;
            void *W = xmalloc(rows * quant_row_bytes(kernels[k].t, cols));
            void *xq = xmalloc(kern_activation_bytes(kernels[k].t, cols));
            float *x = xmallocarray(cols, 4);
            kc_make_weights(kernels[k].t, W, rows, cols, true);
            kc_fill_normal(x, cols, 1.0f);
            assert_true(kern_quantize_activation(kernels[k].t, x, cols, xq));
            for (size_t r = 0; r < rows; r++) {
                const uint8_t *row = (const uint8_t *)W + r * quant_row_bytes(kernels[k].t, cols);
                float a = kernels[k].avx2(row, xq, cols);
                float v = vnni512 ? kernels[k].vnni(row, xq, cols) : a;
                float w = avxvnni ? kernels[k].avxvnni(row, xq, cols) : a;
                if (bits_of(a) != bits_of(v) || bits_of(a) != bits_of(w))
                    fail_msg("%s cols=%zu row %zu: AVX2 %.9g, AVX-512 VNNI %.9g, AVX-VNNI %.9g",
                             ggml_type_name(kernels[k].t), cols, r, (double)a, (double)v, (double)w);
            }
            free(W);
            free(xq);
            free(x);
        }
    kern_set_path(env_path);
#else
    printf("SKIP: not an x86 build\n");
    skip();
#endif
}

int main(void)
{
    /* Must come first: the environment is read once, by the first kern_init. */
    kern_init();
    env_path = kern_get_path();

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vnni_matches_avx2),
        cmocka_unit_test(test_packed),
        cmocka_unit_test(test_packed_tiled),
        cmocka_unit_test(test_packed_tiled_f16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
