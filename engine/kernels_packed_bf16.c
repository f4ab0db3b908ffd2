/*
 * kernels_packed_bf16.c — BF16 weights repacked sixteen rows at a time,
 * multiplied with activations rounded to BF16 (declared in
 * kernels_packed_bf16.h, reached through kernels.h's kern_pack*).
 *
 * Layout: per group of sixteen rows, column pair by column pair, each
 * row's two weights of that pair side by side — 64 bytes, one 512-bit
 * vector whose 32-bit lane r holds row r's (even, odd) weights, the
 * operand AVX-512 BF16's vdpbf16ps takes.  Rows past the end are zeros;
 * the size is the rows' own (to a whole group), so the packed copy
 * replaces the mapped rows.  Columns must be even.
 *
 * The activation is rounded to BF16 (round to nearest even, subnormals
 * kept: what llama.cpp's CPU backend does for BF16 weights), and a
 * column pair's pair of activations is broadcast to every lane.
 *
 * The arithmetic per row and token is vdpbf16ps's, one accumulator per
 * row, pairs in column order: acc += w_odd·x_odd, rounded, then
 * acc += w_even·x_even, rounded — round to nearest even, BF16 inputs
 * that are subnormal taken as zero, results that would be subnormal
 * flushed to zero (Intel's definition; checked against the instruction
 * on an AMD Zen 4 over 3·10^7 random operands, subnormal ones included,
 * with no difference).  A BF16 × BF16 product is exact in single
 * precision, so a fused multiply-add rounds exactly where vdpbf16ps
 * does: the fallbacks (AVX-512F on 512-bit vectors, AVX2 on two 256-bit
 * halves) widen BF16 to float by a 16-bit shift and run the two FMAs in
 * that order with MXCSR's DAZ and FTZ bits set for the call, and give the
 * instruction's results bit for bit.  A token's result does not depend on
 * the number of tokens beside it, on the row split or on the path.  It is
 * not the unpacked dot product's (eight lanes summed at the end): both
 * are within test_quant's tolerance of the exact product.
 */
#include "engine/kernels_packed_bf16.h"

#include <string.h>

#define BF16_ROWS 16

size_t kern_packed_bf16_bytes(size_t rows, size_t cols)
{
    if (cols == 0 || cols % 2)
        return 0;
    return (rows + BF16_ROWS - 1) / BF16_ROWS * cols * BF16_ROWS * sizeof(uint16_t);
}

void kern_pack_bf16(const uint16_t *W, size_t rows, size_t cols, uint16_t *out)
{
    size_t groups = (rows + BF16_ROWS - 1) / BF16_ROWS, np = cols / 2;
    for (size_t g = 0; g < groups; g++) {
        uint16_t *dst = out + g * cols * BF16_ROWS;
        for (size_t r = 0; r < BF16_ROWS; r++) { /* a row's pairs, 4 bytes at a time */
            size_t row = g * BF16_ROWS + r;
            for (size_t p = 0; p < np; p++) {
                uint32_t pair = 0;
                if (row < rows)
                    memcpy(&pair, W + row * cols + 2 * p, sizeof pair);
                memcpy(dst + (p * BF16_ROWS + r) * 2, &pair, sizeof pair);
            }
        }
    }
}

void kern_packed_bf16_row_f32(const uint16_t *P, size_t cols, size_t row, float *out)
{
    const uint16_t *g = P + row / BF16_ROWS * cols * BF16_ROWS;
    size_t r = row % BF16_ROWS;
    for (size_t c = 0; c < cols; c++) {
        uint32_t u = (uint32_t)g[c / 2 * 2 * BF16_ROWS + 2 * r + c % 2] << 16;
        memcpy(out + c, &u, sizeof u);
    }
}

#if KERN_X86
#include <immintrin.h>

/* The pair of activations of column pair p, as one 32-bit lane. */
static inline int32_t x_pair(const uint8_t *xq, size_t xs, int t, size_t p)
{
    int32_t v;
    memcpy(&v, xq + (size_t)t * xs + 4 * p, sizeof v);
    return v;
}

static inline void store_rows(float *y, size_t ldy, int t, size_t g, size_t rows, const float *out)
{
    size_t r0 = g * BF16_ROWS, n_r = rows - r0 < BF16_ROWS ? rows - r0 : BF16_ROWS;
    memcpy(y + (size_t)t * ldy + r0, out, n_r * sizeof(float));
}

#define DPBF16_TARGET __attribute__((target("avx512f,avx512vl,avx512bf16"), noinline))
#define AVX512F_TARGET __attribute__((target("avx2,fma,avx512f"), noinline))
#define AVX2_TARGET __attribute__((target("avx2,fma"), noinline))

#define PF_AHEAD 16 /* column pairs (1 KiB of a group) fetched ahead when decoding */
#define BF16_HEAD                                                                                     \
    const uint16_t *base = P;                                                                         \
    const uint8_t *xb = xq;                                                                           \
    size_t np = cols / 2;

#define DEFINE_DPBF16(T)                                                                              \
    DPBF16_TARGET static void dpbf16_##T(const void *P, size_t rows, size_t cols, const void *xq, size_t xs, \
                                         size_t g0, size_t g1, float *y, size_t ldy)                  \
    {                                                                                                 \
        BF16_HEAD                                                                                     \
        for (size_t g = g0; g < g1; g++) {                                                            \
            const uint16_t *p = base + g * cols * BF16_ROWS;                                          \
            __m512 acc[T];                                                                            \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();         \
            for (size_t c = 0; c < np; c++) {                                                         \
                __m512bh w = (__m512bh)_mm512_loadu_si512(p + c * 2 * BF16_ROWS);                    \
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)                                   \
                    acc[t] = _mm512_dpbf16_ps(acc[t], w, (__m512bh)_mm512_set1_epi32(x_pair(xb, xs, t, c))); \
            }                                                                                         \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                     \
                float out[BF16_ROWS];                                                                 \
                _mm512_storeu_ps(out, acc[t]);                                                        \
                store_rows(y, ldy, t, g, rows, out);                                                  \
            }                                                                                         \
        }                                                                                             \
    }

/* vdpbf16ps by two FMAs per lane: odd element, then even (MXCSR DAZ and
 * FTZ set by the caller). */
#define DEFINE_AVX512F(T)                                                                             \
    AVX512F_TARGET static void avx512f_##T(const void *P, size_t rows, size_t cols, const void *xq, size_t xs, \
                                           size_t g0, size_t g1, float *y, size_t ldy)                \
    {                                                                                                 \
        BF16_HEAD                                                                                     \
        const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);                                       \
        for (size_t g = g0; g < g1; g++) {                                                            \
            const uint16_t *p = base + g * cols * BF16_ROWS;                                          \
            __m512 acc[T];                                                                            \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();         \
            for (size_t c = 0; c < np; c++) {                                                         \
                __m512i w = _mm512_loadu_si512(p + c * 2 * BF16_ROWS);                                \
                __m512 wo = _mm512_castsi512_ps(_mm512_and_si512(w, hi));                             \
                __m512 we = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));                            \
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                 \
                    __m512i xp = _mm512_set1_epi32(x_pair(xb, xs, t, c));                             \
                    acc[t] = _mm512_fmadd_ps(wo, _mm512_castsi512_ps(_mm512_and_si512(xp, hi)), acc[t]); \
                    acc[t] = _mm512_fmadd_ps(we, _mm512_castsi512_ps(_mm512_slli_epi32(xp, 16)), acc[t]); \
                }                                                                                     \
            }                                                                                         \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                     \
                float out[BF16_ROWS];                                                                 \
                _mm512_storeu_ps(out, acc[t]);                                                        \
                store_rows(y, ldy, t, g, rows, out);                                                  \
            }                                                                                         \
        }                                                                                             \
    }

/* The same on two 256-bit halves (rows 0-7, rows 8-15). */
#define DEFINE_AVX2(T)                                                                                \
    AVX2_TARGET static void avx2_##T(const void *P, size_t rows, size_t cols, const void *xq, size_t xs, \
                                     size_t g0, size_t g1, float *y, size_t ldy)                      \
    {                                                                                                 \
        BF16_HEAD                                                                                     \
        const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);                                       \
        for (size_t g = g0; g < g1; g++) {                                                            \
            const uint16_t *p = base + g * cols * BF16_ROWS;                                          \
            __m256 acc[T][2];                                                                         \
            _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) acc[t][0] = acc[t][1] = _mm256_setzero_ps(); \
            for (size_t c = 0; c < np; c++) {                                                         \
                const __m256i *wp = (const __m256i *)(p + c * 2 * BF16_ROWS);                         \
                __m256i w0 = _mm256_loadu_si256(wp), w1 = _mm256_loadu_si256(wp + 1);                 \
                __m256 wo0 = _mm256_castsi256_ps(_mm256_and_si256(w0, hi));                           \
                __m256 we0 = _mm256_castsi256_ps(_mm256_slli_epi32(w0, 16));                          \
                __m256 wo1 = _mm256_castsi256_ps(_mm256_and_si256(w1, hi));                           \
                __m256 we1 = _mm256_castsi256_ps(_mm256_slli_epi32(w1, 16));                          \
                _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) {                                 \
                    __m256i xp = _mm256_set1_epi32(x_pair(xb, xs, t, c));                             \
                    __m256 xo = _mm256_castsi256_ps(_mm256_and_si256(xp, hi));                        \
                    __m256 xe = _mm256_castsi256_ps(_mm256_slli_epi32(xp, 16));                       \
                    acc[t][0] = _mm256_fmadd_ps(we0, xe, _mm256_fmadd_ps(wo0, xo, acc[t][0]));        \
                    acc[t][1] = _mm256_fmadd_ps(we1, xe, _mm256_fmadd_ps(wo1, xo, acc[t][1]));        \
                }                                                                                     \
            }                                                                                         \
            _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) {                                     \
                float out[BF16_ROWS];                                                                 \
                _mm256_storeu_ps(out, acc[t][0]);                                                     \
                _mm256_storeu_ps(out + 8, acc[t][1]);                                                 \
                store_rows(y, ldy, t, g, rows, out);                                                  \
            }                                                                                         \
        }                                                                                             \
    }

DEFINE_DPBF16(1)
DEFINE_DPBF16(2)

/* One token (decoding): a row's sums are one chain of dependent
 * vdpbf16ps, whose latency would bound the rate at which the weights
 * stream; four groups (or two) side by side make independent chains.  Each
 * row's arithmetic is the same as in dpbf16_1. */
DPBF16_TARGET static void dpbf16_1x4(const void *P, size_t rows, size_t cols, const void *xq, size_t xs, size_t g0,
                                     size_t g1, float *y, size_t ldy)
{
    BF16_HEAD
    size_t g = g0, gs = cols * BF16_ROWS;
    for (; g + 4 <= g1; g += 4) {
        const uint16_t *p = base + g * gs;
        __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
        for (size_t c = 0; c < np; c++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32(x_pair(xb, xs, 0, c));
            _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)
                _mm_prefetch((const char *)(p + k * gs + (c + PF_AHEAD) * 2 * BF16_ROWS), _MM_HINT_T0);
            _Pragma("GCC unroll 4") for (int k = 0; k < 4; k++)
                acc[k] = _mm512_dpbf16_ps(acc[k], (__m512bh)_mm512_loadu_si512(p + k * gs + c * 2 * BF16_ROWS), x);
        }
        for (int k = 0; k < 4; k++) {
            float out[BF16_ROWS];
            _mm512_storeu_ps(out, acc[k]);
            store_rows(y, ldy, 0, g + (size_t)k, rows, out);
        }
    }
    if (g + 2 <= g1) { /* a chunk of decoding's work is often two groups */
        const uint16_t *p = base + g * gs;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
        for (size_t c = 0; c < np; c++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32(x_pair(xb, xs, 0, c));
            _mm_prefetch((const char *)(p + (c + PF_AHEAD) * 2 * BF16_ROWS), _MM_HINT_T0);
            _mm_prefetch((const char *)(p + gs + (c + PF_AHEAD) * 2 * BF16_ROWS), _MM_HINT_T0);
            a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(p + c * 2 * BF16_ROWS), x);
            a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(p + gs + c * 2 * BF16_ROWS), x);
        }
        float out[BF16_ROWS];
        _mm512_storeu_ps(out, a0);
        store_rows(y, ldy, 0, g, rows, out);
        _mm512_storeu_ps(out, a1);
        store_rows(y, ldy, 0, g + 1, rows, out);
        g += 2;
    }
    if (g < g1)
        dpbf16_1(P, rows, cols, xq, xs, g, g1, y, ldy);
}
DEFINE_DPBF16(4)
DEFINE_DPBF16(8)
DEFINE_AVX512F(1)
DEFINE_AVX512F(2)
DEFINE_AVX512F(4)
DEFINE_AVX512F(8)
DEFINE_AVX2(1)
DEFINE_AVX2(2)
DEFINE_AVX2(4)

typedef void (*bf16_fn)(const void *, size_t, size_t, const void *, size_t, size_t, size_t, float *, size_t);

void kern_packed_bf16_x86(kern_bf16_isa isa, const void *P, size_t rows, size_t cols, const void *xq,
                          size_t xq_stride, size_t n, size_t g0, size_t g1, float *y, size_t ldy)
{
    static const bf16_fn fns[3][4] = {
        [KERN_BF16_AVX2] = {avx2_1, avx2_2, avx2_4, NULL},
        [KERN_BF16_AVX512F] = {avx512f_1, avx512f_2, avx512f_4, avx512f_8},
        [KERN_BF16_DPBF16] = {dpbf16_1x4, dpbf16_2, dpbf16_4, dpbf16_8},
    };
    /* vdpbf16ps's subnormal handling for the FMAs; the kernels are not
     * inlined, so no float operation of theirs moves across the ldmxcsr */
    unsigned csr = _mm_getcsr();
    if (isa != KERN_BF16_DPBF16)
        _mm_setcsr(csr | 0x8040); /* FTZ | DAZ */
    /* a slice of groups (about 128 KiB of weights, kept in L2) at a time
     * for every token block, so the weights come from memory once per
     * call rather than once per block of tokens */
    size_t slice = (128u << 10) / (cols * BF16_ROWS * sizeof(uint16_t));
    slice = slice ? slice : 1;
    for (size_t gs = g0; gs < g1; gs += slice) {
        size_t ge = g1 - gs < slice ? g1 : gs + slice, left = n;
        const uint8_t *x = xq;
        float *yt = y;
        while (left > 0) {
            int k = left >= 8 && fns[isa][3] ? 3 : left >= 4 ? 2 : left >= 2 ? 1 : 0;
            size_t t = (size_t)1 << k;
            fns[isa][k](P, rows, cols, x, xq_stride, gs, ge, yt, ldy);
            x += t * xq_stride;
            yt += t * ldy;
            left -= t;
        }
    }
    if (isa != KERN_BF16_DPBF16)
        _mm_setcsr(csr);
}
#endif /* KERN_X86 */
