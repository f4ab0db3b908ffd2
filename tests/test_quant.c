/*
 * test_quant.c — weight formats (quant.c) and matrix × vector kernels
 * (kernels.c).
 *
 *  - fp16/bf16: exhaustive round trips, known values, rounding to nearest
 *    even checked against neighbours, F16C against the portable code.
 *  - every type: hand-built blocks dequantize to hand-computed values;
 *    quantize -> dequantize stays within a per-type bound.
 *  - every type, both paths: fast matvec against the exact dot of the
 *    dequantized weights with the dequantized activation (tight: only
 *    float rounding differs) and against the naive double reference with
 *    the unquantized x (loose: plus the activation's rounding).
 *  - the packed weights' kernels: test_packed.c.
 *  - ../shared reference GGUFs: our quantizers reproduce llama-quantize's
 *    bytes from the f32 file; the q4_0 file agrees with f32 within Q4_0's
 *    error.
 */
#include "tests/kern_check.h"
#include "tests/testutil.h"

#include "engine/gguf.h"
#include "engine/kernels.h"
#include "engine/kernels_avx2.h"
#include "engine/quant.h"
#include "util/util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Helpers ------------------------------------------------------------- */


static kern_path env_path; /* the path kern_init chose from the environment */

/* ---- Half precision --------------------------------------------------------- */

/* Value of an fp16 bit pattern by the textbook formula (independent of
 * quant.c's bit manipulation). */
static double f16_value(uint16_t h)
{
    int exp = (h >> 10) & 31, man = h & 1023;
    double v = exp ? ldexp(1024 + man, exp - 25) : ldexp(man, -24);
    return (h & 0x8000) ? -v : v;
}

static void test_fp16_exhaustive(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = quant_f16_to_f32((uint16_t)h);
        int exp = (h >> 10) & 31, man = h & 1023;
        if (exp == 31 && man) {
            assert_true(isnan(f));
            uint16_t back = quant_f32_to_f16(f);
            assert_true(((back >> 10) & 31) == 31 && (back & 1023) != 0);
            assert_int_equal(back & 0x8000, h & 0x8000);
            continue;
        }
        if (exp == 31)
            assert_true(isinf(f) && (f < 0) == ((h & 0x8000) != 0));
        else
            assert_true((double)f == f16_value((uint16_t)h));
        if (quant_f32_to_f16(f) != h)
            fail_msg("fp16 round trip 0x%04x -> %a -> 0x%04x", h, (double)f,
                     quant_f32_to_f16(f));
    }
    /* Positive halves are ordered like their bit patterns. */
    for (uint32_t h = 0; h < 0x7c00; h++)
        assert_true(quant_f16_to_f32((uint16_t)h) < quant_f16_to_f32((uint16_t)(h + 1)));
}

static void test_fp16_known_values(void **state)
{
    (void)state;
    assert_true(quant_f16_to_f32(0x0000) == 0.0f && !signbit(quant_f16_to_f32(0x0000)));
    assert_true(quant_f16_to_f32(0x8000) == 0.0f && signbit(quant_f16_to_f32(0x8000)));
    assert_true(quant_f16_to_f32(0x3c00) == 1.0f);
    assert_true(quant_f16_to_f32(0xc000) == -2.0f);
    assert_true(quant_f16_to_f32(0x3555) == 0.333251953125f);
    assert_true(quant_f16_to_f32(0x7bff) == 65504.0f);
    assert_true(quant_f16_to_f32(0x0400) == 0x1p-14f);  /* smallest normal */
    assert_true(quant_f16_to_f32(0x0001) == 0x1p-24f);  /* smallest subnormal */
    assert_true(quant_f16_to_f32(0x03ff) == 1023 * 0x1p-24f);
    assert_true(isinf(quant_f16_to_f32(0x7c00)) && quant_f16_to_f32(0x7c00) > 0);
    assert_true(isinf(quant_f16_to_f32(0xfc00)) && quant_f16_to_f32(0xfc00) < 0);
    assert_true(isnan(quant_f16_to_f32(0x7e00)));

    assert_int_equal(quant_f32_to_f16(0.0f), 0x0000);
    assert_int_equal(quant_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(quant_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(quant_f32_to_f16(-2.0f), 0xc000);
    assert_int_equal(quant_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(quant_f32_to_f16(65519.996f), 0x7bff); /* just below the tie */
    assert_int_equal(quant_f32_to_f16(65520.0f), 0x7c00);   /* tie: odd 0x7bff -> inf */
    assert_int_equal(quant_f32_to_f16(1e6f), 0x7c00);
    assert_int_equal(quant_f32_to_f16(-INFINITY), 0xfc00);
    assert_int_equal(quant_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);        /* tie -> even */
    assert_int_equal(quant_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);    /* tie -> even */
    assert_int_equal(quant_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    assert_int_equal(quant_f32_to_f16(0x1p-24f), 0x0001);
    assert_int_equal(quant_f32_to_f16(0x1p-25f), 0x0000);               /* tie -> even 0 */
    assert_int_equal(quant_f32_to_f16(0x1p-25f * 1.001f), 0x0001);
    assert_int_equal(quant_f32_to_f16(3 * 0x1p-25f), 0x0002);           /* tie -> even 2 */
    assert_int_equal(quant_f32_to_f16(-1023 * 0x1p-24f), 0x83ff);
    assert_int_equal(quant_f32_to_f16(0x1p-14f - 0x1p-26f), 0x0400);    /* rounds up to normal */
    assert_int_equal(quant_f32_to_f16(1e-30f), 0x0000);
    uint16_t n = quant_f32_to_f16(NAN);
    assert_true((n & 0x7c00) == 0x7c00 && (n & 0x3ff) != 0);
}

/* Random floats: the chosen half is at least as near as both neighbours,
 * and an exact tie picks the even one. */
static void test_fp16_rounding_nearest_even(void **state)
{
    (void)state;
    kc_seed(6);
    for (int i = 0; i < 200000; i++) {
        float f = ldexpf(kc_uniform() * 2 - 1, (int)(kc_u64() % 44) - 27);
        if (i % 7 == 0) /* exact midpoints between halves */
            f = (float)((f16_value((uint16_t)(kc_u64() % 0x7bff)) +
                         f16_value((uint16_t)(kc_u64() % 0x7bff))) * 0.5);
        if (fabsf(f) > 65504.0f)
            continue;
        uint16_t h = quant_f32_to_f16(f);
        double err = fabs((double)f - f16_value(h));
        uint16_t mag = h & 0x7fff;
        for (int dlt = -1; dlt <= 1; dlt += 2) {
            int m2 = mag + dlt;
            if (m2 < 0 || m2 > 0x7bff)
                continue;
            uint16_t h2 = (uint16_t)((h & 0x8000) | m2);
            double err2 = fabs((double)f - f16_value(h2));
            assert_true(err <= err2);
            if (err == err2 && f != 0.0f)
                assert_true((mag & 1) == 0);
        }
    }
}

static void test_bf16(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = quant_bf16_to_f32((uint16_t)h);
        assert_int_equal(bits_of(f), h << 16);
        if (isnan(f))
            assert_true(isnan(quant_bf16_to_f32(quant_f32_to_bf16(f))));
        else
            assert_int_equal(quant_f32_to_bf16(f), h);
    }
    assert_int_equal(quant_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(quant_f32_to_bf16(-3.0f), 0xc040);
    assert_int_equal(quant_f32_to_bf16(from_bits(0x3f808000)), 0x3f80); /* tie -> even */
    assert_int_equal(quant_f32_to_bf16(from_bits(0x3f818000)), 0x3f82); /* tie -> even */
    assert_int_equal(quant_f32_to_bf16(from_bits(0x3f808001)), 0x3f81);
    assert_int_equal(quant_f32_to_bf16(from_bits(0x3f807fff)), 0x3f80);
    assert_int_equal(quant_f32_to_bf16(FLT_MAX), 0x7f80);               /* rounds to inf */
    assert_int_equal(quant_f32_to_bf16(-INFINITY), 0xff80);
    assert_int_equal(quant_f32_to_bf16(from_bits(0x00018000)), 0x0002); /* subnormal kept */
    assert_int_equal(quant_f32_to_bf16(from_bits(0x00008000)), 0x0000);
    assert_int_equal(quant_f32_to_bf16(from_bits(0x7f800001)), 0x7fc0); /* sNaN -> qNaN */
    assert_int_equal(quant_f32_to_bf16(from_bits(0xffc12345)), 0xffc1);
    kc_seed(8);
    for (int i = 0; i < 100000; i++) {
        float f = ldexpf(kc_uniform() * 2 - 1, (int)(kc_u64() % 200) - 100);
        double got = quant_bf16_to_f32(quant_f32_to_bf16(f));
        assert_true(fabs(got - f) <= ldexp(fabs(f), -8));
    }
}

/* F16C (kernels' AVX2 path) against the portable conversion, bit for bit. */
static void test_f16c_matches_portable(void **state)
{
    (void)state;
    if (!kern_path_available(KERN_PATH_AVX2)) {
        printf("SKIP: no AVX2/F16C on this CPU\n");
        skip();
    }
    uint16_t *h = xmallocarray(65536, 2), *h2 = xmallocarray(65536, 2);
    float *f = xmallocarray(65536, 4);
    for (uint32_t i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    assert_true(kern_set_path(KERN_PATH_AVX2));
    kern_f16_to_f32(h, f, 65536);
    for (uint32_t i = 0; i < 65536; i++)
        if (bits_of(f[i]) != bits_of(quant_f16_to_f32((uint16_t)i)))
            fail_msg("F16C 0x%04x -> %08x, portable %08x", i, bits_of(f[i]),
                     bits_of(quant_f16_to_f32((uint16_t)i)));
    /* Round trip through F16C, plus random floats of every magnitude. */
    for (int rep = 0; rep < 8; rep++) {
        if (rep)
            for (uint32_t i = 0; i < 65536; i++)
                f[i] = from_bits((uint32_t)kc_u64());
        kern_f32_to_f16(f, h2, 65536);
        for (uint32_t i = 0; i < 65536; i++)
            if (h2[i] != quant_f32_to_f16(f[i]))
                fail_msg("F16C %08x -> 0x%04x, portable 0x%04x", bits_of(f[i]), h2[i],
                         quant_f32_to_f16(f[i]));
    }
    kern_set_path(env_path);
    free(h);
    free(h2);
    free(f);
}

/* The AVX2 Q8_0 activation conversion against the reference quantizer,
 * byte for byte: normal values, exact ties (k + 0.5 after scaling, where
 * roundf goes away from zero), zero blocks, tiny and huge magnitudes,
 * and blocks holding inf or NaN. */
static void test_q8_0_activation_matches_reference(void **state)
{
    (void)state;
    if (!kern_path_available(KERN_PATH_AVX2)) {
        printf("SKIP: no AVX2 on this CPU\n");
        skip();
    }
    enum { N = 32 * 64 };
    float *x = xmallocarray(N, sizeof(float));
    block_q8_0 *want = xmallocarray(N / 32, sizeof(block_q8_0)), *got = xmallocarray(N / 32, sizeof(block_q8_0));
    for (int rep = 0; rep < 200; rep++) {
        kc_fill_normal(x, N, rep % 2 ? 1.0f : 1e-3f);
        for (int b = 0; b < N / 32; b++) {
            float *blk = x + 32 * b;
            switch ((rep + b) % 8) {
            case 0: /* ties: amax 127 makes the scale exactly 1 */
                for (int j = 0; j < 32; j++)
                    blk[j] = (float)(j - 16) + (j % 2 ? 0.5f : -0.5f);
                blk[0] = 127.0f;
                break;
            case 1:
                memset(blk, 0, 32 * sizeof(float));
                break;
            case 2:
                blk[rep % 32] = from_bits((uint32_t)kc_u64()); /* any bits: inf, NaN, huge, subnormal */
                break;
            case 3:
                for (int j = 0; j < 32; j++)
                    blk[j] *= 1e-40f;
                break;
            case 4:
                blk[3] = rep % 3 ? INFINITY : NAN;
                break;
            default:
                break;
            }
        }
        quant_quantize_row(GGML_TYPE_Q8_0, x, want, N);
        assert_true(kern_set_path(KERN_PATH_AVX2));
        assert_true(kern_quantize_activation(GGML_TYPE_Q8_0, x, N, got));
        kern_set_path(env_path);
        for (int b = 0; b < N / 32; b++)
            if (memcmp(&want[b], &got[b], sizeof(block_q8_0)) != 0)
                fail_msg("block %d of rep %d: AVX2 conversion differs from the reference", b, rep);
    }
    free(x);
    free(want);
    free(got);
}

/* ---- Hand-built blocks ---------------------------------------------------- */

static void expect_row(ggml_type t, const void *blk, const float *want, size_t n)
{
    float got[QK_K];
    assert_int_equal(quant_dequantize_row(t, blk, got, n), QUANT_OK);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("%s element %zu: got %g, want %g", ggml_type_name(t), i,
                     (double)got[i], (double)want[i]);
}

static void test_dequant_handmade_32(void **state)
{
    (void)state;
    float want[32];

    block_q4_0 q40 = {.d = 0x3800}; /* d = 0.5 */
    memset(q40.qs, 0x88, sizeof q40.qs);
    q40.qs[0] = 0x1f; /* e0 = (15-8)*.5, e16 = (1-8)*.5 */
    q40.qs[1] = 0x80; /* e1 = (0-8)*.5,  e17 = 0 */
    for (int i = 0; i < 32; i++)
        want[i] = 0;
    want[0] = 3.5f, want[16] = -3.5f, want[1] = -4.0f;
    expect_row(GGML_TYPE_Q4_0, &q40, want, 32);

    block_q4_1 q41 = {.d = 0x3c00, .m = 0xc000}; /* d = 1, m = -2 */
    q41.qs[0] = 0xf0;
    for (int i = 0; i < 32; i++)
        want[i] = -2;
    want[16] = 13;
    expect_row(GGML_TYPE_Q4_1, &q41, want, 32);

    block_q5_0 q50 = {.d = 0x3c00, .qh = {0x01, 0x00, 0x02, 0x00}}; /* bits 0, 17 */
    q50.qs[0] = 0x0f;
    for (int i = 0; i < 32; i++)
        want[i] = -16;
    want[0] = 15;  /* 0xf | 0x10 - 16 */
    want[17] = 0;  /* 0 | 0x10 - 16 */
    expect_row(GGML_TYPE_Q5_0, &q50, want, 32);

    block_q5_1 q51 = {.d = 0x3800, .m = 0x3c00, .qh = {0, 0, 0, 0x80}}; /* bit 31 */
    q51.qs[15] = 0xf0;
    for (int i = 0; i < 32; i++)
        want[i] = 1;
    want[31] = 16.5f; /* 31 * .5 + 1 */
    expect_row(GGML_TYPE_Q5_1, &q51, want, 32);

    block_q8_0 q80 = {.d = 0x3400}; /* 0.25 */
    q80.qs[0] = -128, q80.qs[1] = 127, q80.qs[3] = 1;
    for (int i = 0; i < 32; i++)
        want[i] = 0;
    want[0] = -32, want[1] = 31.75f, want[3] = 0.25f;
    expect_row(GGML_TYPE_Q8_0, &q80, want, 32);

    block_q8_1 q81 = {.d = 0x4000, .s = 0x1234}; /* s is not part of the values */
    q81.qs[5] = -3;
    want[0] = want[1] = want[3] = 0;
    want[5] = -6;
    expect_row(GGML_TYPE_Q8_1, &q81, want, 32);

    uint16_t f16[2] = {0x3c00, 0xc000}, bf16[2] = {0x3f80, 0xc040};
    float f32[2] = {1.5f, -0.0f};
    float w2[2] = {1, -2};
    expect_row(GGML_TYPE_F16, f16, w2, 2);
    w2[1] = -3;
    expect_row(GGML_TYPE_BF16, bf16, w2, 2);
    expect_row(GGML_TYPE_F32, f32, f32, 2);
}

static void test_dequant_handmade_k(void **state)
{
    (void)state;
    float want[QK_K];

    /* Q2_K: d = 1, dmin = .5, group g has scale g and min 15 - g. */
    block_q2_K q2 = {.d = 0x3c00, .dmin = 0x3800};
    for (int g = 0; g < 16; g++)
        q2.scales[g] = (uint8_t)(g | (15 - g) << 4);
    q2.qs[0] = 0xe4;  /* elements 0, 32, 64, 96 get q = 0, 1, 2, 3 */
    q2.qs[53] = 0x03; /* element 128 + 21 = 149 (group 9) gets q = 3 */
    for (int e = 0; e < QK_K; e++)
        want[e] = -0.5f * (15 - e / 16);
    want[32] = 2 * 1 - 6.5f;   /* group 2 */
    want[64] = 4 * 2 - 5.5f;   /* group 4 */
    want[96] = 6 * 3 - 4.5f;   /* group 6 */
    want[149] = 9 * 3 - 3.0f;  /* group 9 */
    expect_row(GGML_TYPE_Q2_K, &q2, want, QK_K);

    /* Q3_K: d = .5; every group's stored 6-bit scale is 32 (scale 0) except
     * group 0 = 33 (1), group 6 = 0 (-32), group 13 = 63 (31). */
    block_q3_K q3 = {.d = 0x3800};
    memset(q3.scales + 8, 0xaa, 4); /* high bits 2 -> 32 */
    q3.scales[0] = 0x01;            /* group 0 low nibble 1 */
    q3.scales[10] = 0xa2;           /* group 6 high bits 0 (bits 2-3 of byte 10) */
    q3.scales[5] = 0xf0;            /* group 13 low nibble 15 */
    q3.scales[9] = 0xea;            /* group 13 high bits 3 (bits 6-7 of byte 9) */
    q3.qs[0] = 0x43;     /* element 0: low bits 3; element 96: low bits 1 */
    q3.hmask[0] = 0x01;  /* element 0 has the high bit: q = 3; element 96 not: 1-4 */
    q3.qs[48] = 0x20;    /* element 208: low bits 2 (bits 4-5) */
    q3.hmask[16] = 0x40; /* element 208 high bit (bit 6): q = 2 */
    for (int e = 0; e < QK_K; e++)
        want[e] = 0;
    for (int e = 0; e < 16; e++)
        want[e] = 0.5f * 1 * -4, want[96 + e] = 0.5f * -32 * -4, want[208 + e] = 0.5f * 31 * -4;
    want[0] = 0.5f * 1 * 3, want[96] = 0.5f * -32 * -3, want[208] = 0.5f * 31 * 2;
    expect_row(GGML_TYPE_Q3_K, &q3, want, QK_K);

    /* Q4_K: d = 1, dmin = .25; group 0 scale 1 min 2; group 5 scale 42
     * (0b101010) min 53 (0b110101): nibbles in byte 9, top bits in 1, 5. */
    block_q4_K q4 = {.d = 0x3c00, .dmin = 0x3400};
    q4.scales[0] = 1, q4.scales[4] = 2;
    q4.scales[9] = 0x5a, q4.scales[1] = 0x80, q4.scales[5] = 0xc0;
    q4.qs[0] = 0x07;  /* element 0 */
    q4.qs[64] = 0xf0; /* element 160 = group 5, high nibble of chunk 2 */
    for (int e = 0; e < QK_K; e++)
        want[e] = 0;
    for (int e = 0; e < 32; e++)
        want[e] = -0.5f, want[160 + e] = -13.25f;
    want[0] = 7 - 0.5f;
    want[160] = 42 * 15 - 13.25f;
    expect_row(GGML_TYPE_Q4_K, &q4, want, QK_K);
    uint8_t sc[8], mn[8];
    quant_unpack_k4_scales(q4.scales, sc, mn);
    assert_int_equal(sc[5], 42);
    assert_int_equal(mn[5], 53);
    assert_int_equal(sc[1], 0);

    /* Q5_K: d = .5, dmin = 1; group 0 scale 2 min 1; group 7 scale 17
     * (nibble 1 in byte 11, top bits 01 in byte 3) min 2. */
    block_q5_K q5 = {.d = 0x3800, .dmin = 0x3c00};
    q5.scales[0] = 2, q5.scales[4] = 1;
    q5.scales[11] = 0x21, q5.scales[3] = 0x40;
    q5.qs[0] = 0x03, q5.qh[0] = 0x01;   /* element 0: 3 + 16 */
    q5.qs[127] = 0xa0, q5.qh[31] = 0x80; /* element 255: 10 + 16 */
    for (int e = 0; e < QK_K; e++)
        want[e] = 0;
    for (int e = 0; e < 32; e++)
        want[e] = -1, want[224 + e] = -2;
    want[0] = 0.5f * 2 * 19 - 1;
    want[255] = 0.5f * 17 * 26 - 2;
    expect_row(GGML_TYPE_Q5_K, &q5, want, QK_K);

    /* Q6_K: d = .25; scales 1 except group 0 = 2 and group 15 = -3. */
    block_q6_K q6 = {.d = 0x3400};
    for (int g = 0; g < 16; g++)
        q6.scales[g] = 1;
    q6.scales[0] = 2, q6.scales[15] = -3;
    q6.ql[0] = 0x05, q6.qh[0] = 0x02;   /* element 0: 5 | 2<<4 = 37 */
    q6.ql[127] = 0x90, q6.qh[63] = 0xc0; /* element 255: 9 | 3<<4 = 57 */
    for (int e = 0; e < QK_K; e++)
        want[e] = 0.25f * q6.scales[e / 16] * -32;
    want[0] = 0.25f * 2 * 5;
    want[255] = 0.25f * -3 * 25;
    expect_row(GGML_TYPE_Q6_K, &q6, want, QK_K);

    block_q8_K q8 = {.d = 0.5f};
    q8.qs[0] = -128, q8.qs[255] = 7;
    for (int e = 0; e < QK_K; e++)
        want[e] = 0;
    want[0] = -64, want[255] = 3.5f;
    expect_row(GGML_TYPE_Q8_K, &q8, want, QK_K);
}

/* Hand-computed quantizer outputs (ggml's rounding rules). */
static void test_quantize_handmade(void **state)
{
    (void)state;
    float x[QK_K];
    /* Q4_0 of j - 16: max |x| is x0 = -16, d = -16/-8 = 2, q = trunc((j-16)/2 + 8.5)
     * = (j + 1) / 2, clamped at 15. */
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j - 16);
    block_q4_0 b40;
    assert_int_equal(quant_quantize_row(GGML_TYPE_Q4_0, x, &b40, 32), QUANT_OK);
    assert_int_equal(b40.d, 0x4000);
    for (int j = 0; j < 16; j++) {
        int lo = (j + 1) / 2, hi = (j + 17) / 2 > 15 ? 15 : (j + 17) / 2;
        assert_int_equal(b40.qs[j], lo | hi << 4);
    }
    /* Q8_0 of j*0.5 - 8: amax 8, d = 8/127, q = roundf(x * 127/8) (ties away). */
    for (int j = 0; j < 32; j++)
        x[j] = j * 0.5f - 8;
    block_q8_0 b80;
    quant_quantize_row(GGML_TYPE_Q8_0, x, &b80, 32);
    assert_int_equal(b80.d, quant_f32_to_f16(8.0f / 127));
    assert_int_equal(b80.qs[0], -127);
    assert_int_equal(b80.qs[16], 0);
    assert_int_equal(b80.qs[31], 119);       /* 7.5 * 15.875 = 119.06 */
    assert_int_equal(b80.qs[17], 8);         /* .5 * 15.875 = 7.94 */
    /* Q4_1 of 0..31 / 31: min 0, d = 1/15, q = trunc(x*15 + .5). */
    for (int j = 0; j < 32; j++)
        x[j] = j / 31.0f;
    block_q4_1 b41;
    quant_quantize_row(GGML_TYPE_Q4_1, x, &b41, 32);
    assert_int_equal(b41.m, 0);
    assert_int_equal(b41.qs[0] & 0xf, 0);
    assert_int_equal(b41.qs[15] >> 4, 15);
    assert_int_equal(b41.qs[2] & 0xf, 1);    /* 2/31*15 = 0.97 */
    assert_int_equal(b41.qs[1] & 0xf, 0);    /* 0.48 */
    /* Q8_K: d = max/-127 in f32, bsums. */
    for (int j = 0; j < QK_K; j++)
        x[j] = (j % 16) - 5.0f;
    x[7] = -20;
    block_q8_K b8k;
    quant_quantize_row(GGML_TYPE_Q8_K, x, &b8k, QK_K);
    assert_true(fabsf(b8k.d - 20.0f / 127) < 1e-7f);
    assert_int_equal(b8k.qs[7], -127);
    assert_int_equal(b8k.qs[5], 0);
    int sum0 = 0;
    for (int j = 0; j < 16; j++)
        sum0 += b8k.qs[j];
    assert_int_equal(b8k.bsums[0], sum0);
    /* An all-zero block quantizes to zeros everywhere, scales included. */
    memset(x, 0, sizeof x);
    for (size_t t = 0; t < kc_n_types; t++) {
        uint8_t buf[sizeof(block_q8_K)];
        memset(buf, 0x5a, sizeof buf);
        size_t n = ggml_type_block_elems(kc_all_types[t]) == 1 ? 8 : ggml_type_block_elems(kc_all_types[t]);
        assert_int_equal(quant_quantize_row(kc_all_types[t], x, buf, n), QUANT_OK);
        float y[QK_K];
        quant_dequantize_row(kc_all_types[t], buf, y, n);
        for (size_t i = 0; i < n; i++)
            if (y[i] != 0)
                fail_msg("%s: zero block dequantizes to %g", ggml_type_name(kc_all_types[t]), (double)y[i]);
    }
}

/* ---- Quantize round trips ---------------------------------------------------- */

/* Per-element bounds where the format allows one: ggml's rounding plus the
 * fp16 rounding of the scale (relative 2^-11 over at most 127 steps, hence
 * the small factors above one half; absolute 2^-25 per step when the scale
 * is an fp16 subnormal). */
static double elem_bound(ggml_type t, const float *blk, size_t i)
{
    float amax = 0, min = FLT_MAX, max = -FLT_MAX;
    size_t qk = ggml_type_block_elems(t);
    for (size_t j = 0; j < qk; j++) {
        amax = fmaxf(amax, fabsf(blk[j]));
        min = fminf(min, blk[j]);
        max = fmaxf(max, blk[j]);
    }
    switch (t) {
    case GGML_TYPE_F16: return ldexp(fabs(blk[i]), -11) + 0x1p-25; /* half ulp + subnormal step */
    case GGML_TYPE_BF16: return ldexp(fabs(blk[i]), -8);
    case GGML_TYPE_F32: return 0;
    /* symmetric: step amax/8 (amax/16); the end opposite the largest value
     * loses one step to the clamp */
    case GGML_TYPE_Q4_0: return 1.01 * amax / 8 + 8 * 0x1p-25;
    case GGML_TYPE_Q5_0: return 1.01 * amax / 16 + 16 * 0x1p-25;
    case GGML_TYPE_Q8_0:
    case GGML_TYPE_Q8_1: return 0.57 * amax / 127 + 128 * 0x1p-25;
    case GGML_TYPE_Q8_K: return 0.501 * amax / 127;
    /* min/max: half a step plus the fp16 rounding of d and m */
    case GGML_TYPE_Q4_1: return 0.51 * (max - min) / 15 + ldexp(fabs(min), -10) + 16 * 0x1p-25;
    case GGML_TYPE_Q5_1: return 0.52 * (max - min) / 31 + ldexp(fabs(min), -10) + 32 * 0x1p-25;
    default: return -1; /* K types: RMS bound only */
    }
}

/* RMS error / RMS value over Gaussian rows (with outliers), the K types'
 * bound; the others are bounded per element too. */
static double rms_bound(ggml_type t)
{
    switch (t) {
    case GGML_TYPE_Q2_K: return 0.42;
    case GGML_TYPE_Q3_K: return 0.22;
    case GGML_TYPE_Q4_K: return 0.10;
    case GGML_TYPE_Q5_K: return 0.055;
    case GGML_TYPE_Q6_K: return 0.03;
    case GGML_TYPE_Q4_0: return 0.15;
    case GGML_TYPE_Q4_1: return 0.12;
    case GGML_TYPE_Q5_0: return 0.075;
    case GGML_TYPE_Q5_1: return 0.055;
    case GGML_TYPE_Q8_0: case GGML_TYPE_Q8_1: return 0.01;
    case GGML_TYPE_Q8_K: return 0.02;
    case GGML_TYPE_F16: return 0.0005;
    case GGML_TYPE_BF16: return 0.004;
    default: return 0;
    }
}

static void test_quantize_roundtrip(void **state)
{
    (void)state;
    const size_t n = 4096;
    kc_seed(1);
    float *x = xmallocarray(n, 4), *y = xmallocarray(n, 4);
    void *q = xmalloc(quant_row_bytes(GGML_TYPE_F32, n));
    for (size_t t = 0; t < kc_n_types; t++) {
        ggml_type ty = kc_all_types[t];
        size_t qk = ggml_type_block_elems(ty);
        double worst_rel = 0;
        for (int rep = 0; rep < 4; rep++) {
            kc_fill_normal(x, n, rep == 3 ? 1e-3f : 0.05f);
            if (rep == 2) /* a constant block and a single-spike block */
                for (size_t i = 0; i < 256; i++)
                    x[i] = 0.25f, x[256 + i] = i == 77 ? -3.0f : 0.0f;
            assert_int_equal(quant_quantize_row(ty, x, q, n), QUANT_OK);
            assert_int_equal(quant_dequantize_row(ty, q, y, n), QUANT_OK);
            double se = 0, sx = 0;
            for (size_t i = 0; i < n; i++) {
                double e = fabs((double)y[i] - x[i]);
                se += e * e;
                sx += (double)x[i] * x[i];
                double b = elem_bound(ty, x + i / qk * qk, i % qk);
                if (b >= 0 && e > b)
                    fail_msg("%s element %zu: %g -> %g, error %g > bound %g", ggml_type_name(ty),
                             i, (double)x[i], (double)y[i], e, b);
            }
            double rel = sqrt(se / sx);
            if (rel > worst_rel)
                worst_rel = rel;
            if (rep != 2 && rel > rms_bound(ty))
                fail_msg("%s: relative RMS error %g > %g", ggml_type_name(ty), rel, rms_bound(ty));
        }
        printf("  %-5s relative RMS error %.5f (bound %.4f)\n", ggml_type_name(ty), worst_rel,
               rms_bound(ty));
    }
    free(x);
    free(y);
    free(q);
}

static void test_row_sizes_and_errors(void **state)
{
    (void)state;
    static const struct { ggml_type t; size_t bytes_256; } sizes[] = {
        {GGML_TYPE_F32, 1024}, {GGML_TYPE_F16, 512},  {GGML_TYPE_BF16, 512},
        {GGML_TYPE_Q4_0, 144}, {GGML_TYPE_Q4_1, 160}, {GGML_TYPE_Q5_0, 176},
        {GGML_TYPE_Q5_1, 192}, {GGML_TYPE_Q8_0, 272}, {GGML_TYPE_Q8_1, 288},
        {GGML_TYPE_Q2_K, 84},  {GGML_TYPE_Q3_K, 110}, {GGML_TYPE_Q4_K, 144},
        {GGML_TYPE_Q5_K, 176}, {GGML_TYPE_Q6_K, 210}, {GGML_TYPE_Q8_K, 292},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        assert_int_equal(quant_row_bytes(sizes[i].t, 256), sizes[i].bytes_256);
        assert_int_equal(quant_row_bytes(sizes[i].t, 0), 0);
        assert_true(kern_type_supported(sizes[i].t));
    }
    float f[64] = {0};
    uint8_t buf[512];
    assert_int_equal(quant_row_bytes(GGML_TYPE_Q4_0, 33), 0);
    assert_int_equal(quant_row_bytes(GGML_TYPE_Q4_K, 32), 0);
    assert_int_equal(quant_row_bytes(GGML_TYPE_Q8_0, SIZE_MAX - 31), 0); /* overflow */
    assert_int_equal(quant_row_bytes((ggml_type)4, 32), 0);               /* Q4_2: gone */
    assert_int_equal(quant_dequantize_row(GGML_TYPE_Q4_0, buf, f, 33), QUANT_ESIZE);
    assert_int_equal(quant_quantize_row(GGML_TYPE_Q6_K, f, buf, 64), QUANT_ESIZE);
    assert_int_equal(quant_dequantize_row((ggml_type)5, buf, f, 32), QUANT_ETYPE);
    assert_int_equal(quant_quantize_row((ggml_type)40, f, buf, 32), QUANT_ETYPE);
    assert_string_equal(quant_strerror(QUANT_ESIZE), "row length is not a multiple of the block size");
    assert_false(kern_type_supported((ggml_type)4));
    assert_int_equal(kern_activation_bytes(GGML_TYPE_Q4_K, 100), 0);
    assert_int_equal(kern_activation_bytes(GGML_TYPE_Q4_0, 64), 68);
    assert_int_equal(kern_activation_bytes(GGML_TYPE_Q4_1, 64), 72);
    assert_int_equal(kern_activation_bytes(GGML_TYPE_Q6_K, 512), 584);
    assert_int_equal(kern_activation_bytes(GGML_TYPE_F16, 10), 20);
    assert_int_equal(kern_activation_bytes(GGML_TYPE_BF16, 10), 20);
    assert_false(kern_matvec(GGML_TYPE_Q4_0, buf, 1, 48, f, f));
    assert_false(kern_quantize_activation(GGML_TYPE_Q8_0, f, 31, buf));
    assert_false(kern_dequantize_rows_f32(GGML_TYPE_Q2_K, buf, 128, 0, 1, f));
}

/* ---- Reference files ------------------------------------------------------------ */

static gguf_file *open_ref(const char *name)
{
    const char *dir = test_shared_dir();
    if (!dir)
        return NULL;
    char err[256];
    gguf_file *f = NULL;
    const char *path = test_path(test_path(dir, "ref/models"), name);
    if (gguf_open(&f, path, err, sizeof err) != GGUF_OK)
        fail_msg("%s: %s", path, err);
    return f;
}

/* Quantize every tensor of the f32 file to the type the other file stores
 * it in and compare bytes: our quantizers are llama-quantize's. */
static void compare_requantized(gguf_file *f32, const char *name)
{
    gguf_file *q = open_ref(name);
    size_t tensors = 0, blocks = 0, diff_blocks = 0;
    for (size_t i = 0; i < gguf_tensor_count(q); i++) {
        const gguf_tensor *tq = gguf_tensor_at(q, i);
        char tname[128];
        snprintf(tname, sizeof tname, "%.*s", (int)tq->name.len, tq->name.ptr);
        const gguf_tensor *tf = gguf_find_tensor(f32, tname);
        assert_non_null(tf);
        assert_int_equal(tf->type, GGML_TYPE_F32);
        assert_int_equal(tf->n_elems, tq->n_elems);
        size_t cols = tq->ne[0], rows = tq->n_elems / cols;
        size_t rb = quant_row_bytes(tq->type, cols), bb = ggml_type_block_bytes(tq->type);
        assert_true(rb > 0);
        uint8_t *buf = xmalloc(rb);
        for (size_t r = 0; r < rows; r++) {
            const float *src = (const float *)tf->data + r * cols;
            const uint8_t *want = (const uint8_t *)tq->data + r * rb;
            assert_int_equal(quant_quantize_row(tq->type, src, buf, cols), QUANT_OK);
            for (size_t b = 0; b < rb / bb; b++) {
                blocks++;
                if (memcmp(buf + b * bb, want + b * bb, bb) != 0 && diff_blocks++ < 3)
                    printf("  %s: %s (%s) row %zu block %zu differs\n", name, tname,
                           ggml_type_name(tq->type), r, b);
            }
        }
        free(buf);
        tensors++;
    }
    printf("  %s: %zu tensors, %zu of %zu blocks differ\n", name, tensors, diff_blocks, blocks);
    assert_int_equal(diff_blocks, 0);
    gguf_close(q);
}

static void test_ref_requantize_bit_exact(void **state)
{
    (void)state;
    gguf_file *f32 = open_ref("ref-llama-spm512-256-f32.gguf");
    if (!f32)
        skip();
    static const char *files[] = {
        "ref-llama-spm512-256-f16.gguf",  "ref-llama-spm512-256-bf16.gguf",
        "ref-llama-spm512-256-q8_0.gguf", "ref-llama-spm512-256-q4_0.gguf",
        "ref-llama-spm512-256-q4_1.gguf", "ref-llama-spm512-256-q5_0.gguf",
        "ref-llama-spm512-256-q5_1.gguf", "ref-llama-spm512-256-q4_k_m.gguf",
        "ref-llama-spm512-256-q5_k_m.gguf", "ref-llama-spm512-256-q6_k.gguf",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        compare_requantized(f32, files[i]);
    gguf_close(f32);
}

/* The Q4_0 file dequantizes to the f32 weights within Q4_0's error, and
 * its matvec matches the f32 one within that error too. */
static void test_ref_q4_0_vs_f32(void **state)
{
    (void)state;
    gguf_file *f32 = open_ref("ref-llama-spm512-256-f32.gguf");
    if (!f32)
        skip();
    gguf_file *q4 = open_ref("ref-llama-spm512-256-q4_0.gguf");
    const gguf_tensor *tf = gguf_find_tensor(f32, "blk.0.attn_q.weight");
    const gguf_tensor *tq = gguf_find_tensor(q4, "blk.0.attn_q.weight");
    assert_non_null(tf);
    assert_non_null(tq);
    assert_int_equal(tq->type, GGML_TYPE_Q4_0);
    assert_int_equal(tf->n_elems, tq->n_elems);
    size_t cols = tq->ne[0], rows = tq->ne[1];
    float *deq = xmallocarray(rows * cols, 4);
    assert_true(kern_dequantize_rows_f32(GGML_TYPE_Q4_0, tq->data, cols, 0, rows, deq));
    const float *w = tf->data;
    double se = 0, sw = 0;
    for (size_t i = 0; i < rows * cols; i++) {
        double e = fabs((double)deq[i] - w[i]);
        double b = elem_bound(GGML_TYPE_Q4_0, w + i / 32 * 32, i % 32);
        if (e > b)
            fail_msg("element %zu: f32 %g, q4_0 %g (bound %g)", i, (double)w[i], (double)deq[i], b);
        se += e * e;
        sw += (double)w[i] * w[i];
    }
    printf("  q4_0 vs f32 blk.0.attn_q.weight: relative RMS error %.4f\n", sqrt(se / sw));
    assert_true(sqrt(se / sw) < 0.15);

    float *x = xmallocarray(cols, 4), *y4 = xmallocarray(rows, 4), *yf = xmallocarray(rows, 4);
    kc_seed(7);
    kc_fill_normal(x, cols, 1.0f);
    assert_true(kern_matvec(GGML_TYPE_Q4_0, tq->data, rows, cols, x, y4));
    assert_true(kern_matvec(GGML_TYPE_F32, tf->data, rows, cols, x, yf));
    for (size_t r = 0; r < rows; r++) {
        double bound = 0, mag = 0;
        for (size_t c = 0; c < cols; c++) {
            bound += elem_bound(GGML_TYPE_Q4_0, w + r * cols + c / 32 * 32, c % 32) * fabs(x[c]);
            mag += fabs((double)w[r * cols + c] * x[c]);
        }
        bound += 0.01 * mag; /* the activation's Q8_0 rounding */
        assert_true(fabs((double)y4[r] - yf[r]) <= bound);
    }
    free(deq);
    free(x);
    free(y4);
    free(yf);
    gguf_close(q4);
    gguf_close(f32);
}

int main(void)
{
    /* Must come first: the environment is read once, by the first kern_init. */
    kern_init();
    env_path = kern_get_path();

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16_exhaustive),
        cmocka_unit_test(test_fp16_known_values),
        cmocka_unit_test(test_fp16_rounding_nearest_even),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_f16c_matches_portable),
        cmocka_unit_test(test_q8_0_activation_matches_reference),
        cmocka_unit_test(test_dequant_handmade_32),
        cmocka_unit_test(test_dequant_handmade_k),
        cmocka_unit_test(test_quantize_handmade),
        cmocka_unit_test(test_quantize_roundtrip),
        cmocka_unit_test(test_row_sizes_and_errors),
        cmocka_unit_test(test_ref_requantize_bit_exact),
        cmocka_unit_test(test_ref_q4_0_vs_f32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
