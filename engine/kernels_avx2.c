/*
 * kernels_avx2.c — the AVX2/FMA/F16C dot products and fp16 conversions
 * behind kernels.c's KERN_PATH_AVX2 (declared in kernels_avx2.h).
 *
 * Each one computes what its portable twin in kernels.c does, block by
 * block: integer products of a block summed exactly, then scaled by the
 * block's scales into a float accumulator.  What this file does not do:
 * choose a path (kernels.c checks the CPU first), or provide the types
 * without an AVX2 version (Q8_1, Q2_K, Q3_K, Q8_K use the portable code).
 * On non-x86 builds it compiles to nothing.
 */
#include "engine/kernels_avx2.h"

#include "engine/kernels.h"

#include "engine/quant.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#if KERN_X86
#include <immintrin.h>

#define AVX2 KERN_AVX2_TARGET

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

AVX2 static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 static inline float f16c(uint16_t h)
{
    return _cvtsh_ss(h);
}

AVX2 static inline int hsum_epi32x4(__m128i v)
{
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(v);
}

/* Q4_K/Q5_K's twelve bytes of 6-bit scales and mins, unpacked as
 * quant_unpack_k4_scales does but a 32-bit word at a time: returns the
 * eight scales as 16-bit lanes (twice: once per 128-bit half) and sets
 * *msum to the block's sum of min × (its two activation group sums) —
 * exactly kernels.c's integers. */
AVX2 static inline __m256i k4_scales(const uint8_t *p, const int16_t *bsums, int *msum)
{
    uint32_t w0 = le32(p), w1 = le32(p + 4), w2 = le32(p + 8);
    uint64_t sc = (w0 & 0x3f3f3f3fu) | (uint64_t)((w2 & 0x0f0f0f0fu) | (w0 >> 6 & 0x03030303u) << 4) << 32;
    uint64_t mn = (w1 & 0x3f3f3f3fu) | (uint64_t)((w2 >> 4 & 0x0f0f0f0fu) | (w1 >> 6 & 0x03030303u) << 4) << 32;
    __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums),
                                   _mm_loadu_si128((const __m128i *)(bsums + 8))); /* group g's two sums */
    *msum = hsum_epi32x4(_mm_madd_epi16(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mn)), pairs));
    return _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)sc)));
}

/* 16-bit lane k of each 128-bit half of v, in every lane of that half. */
AVX2 static inline __m256i bcast16(__m256i v, int k)
{
    return _mm256_shuffle_epi8(v, _mm256_set1_epi16((short)(2 * k | (2 * k + 1) << 8)));
}

/* Sums of a*b over each group of 4 bytes (8 int32s), a and b signed; b
 * must not hold -128 (activations never do: they are clamped to ±127). */
AVX2 static inline __m256i dot_i8(__m256i a, __m256i b)
{
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* The same with a unsigned and at most 128 (no 16-bit saturation). */
AVX2 static inline __m256i dot_u8(__m256i a, __m256i b)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
}

/* 16 bytes of packed nibbles -> 32 bytes: low nibbles (elements 0..15)
 * then high nibbles (elements 16..31), the Q4_0/Q4_1/Q5 order. */
AVX2 static inline __m256i unpack_nibbles16(const uint8_t *p)
{
    __m128i raw = _mm_loadu_si128((const __m128i *)p);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

/* Bit e of `bits` -> byte e = 0x10 if set, 0 if not (Q5's 5th bits). */
AVX2 static inline __m256i bits_to_0x10(uint32_t bits)
{
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i select = _mm256_set1_epi64x(0x8040201008040201LL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, select), select);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

AVX2 float kern_dot_f32_avx2(const void *w, const void *xq, size_t n)
{
    const float *a = w, *b = xq;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

AVX2 static inline __m256 load_f16x8(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

AVX2 float kern_dot_f16_avx2(const void *w, const void *xq, size_t n)
{
    const uint16_t *a = w, *b = xq;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(load_f16x8(a + i), load_f16x8(b + i), acc0);
        acc1 = _mm256_fmadd_ps(load_f16x8(a + i + 8), load_f16x8(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(load_f16x8(a + i + 16), load_f16x8(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(load_f16x8(a + i + 24), load_f16x8(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8)
        acc0 = _mm256_fmadd_ps(load_f16x8(a + i), load_f16x8(b + i), acc0);
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++)
        sum += f16c(a[i]) * f16c(b[i]);
    return sum;
}

AVX2 static inline __m256 load_bf16x8(const uint16_t *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

AVX2 float kern_dot_bf16_avx2(const void *w, const void *xq, size_t n)
{
    const uint16_t *a = w, *b = xq; /* the activation rounded to BF16 too */
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(load_bf16x8(a + i), load_bf16x8(b + i), acc0);
        acc1 = _mm256_fmadd_ps(load_bf16x8(a + i + 8), load_bf16x8(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8)
        acc0 = _mm256_fmadd_ps(load_bf16x8(a + i), load_bf16x8(b + i), acc0);
    float sum = hsum_ps(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++)
        sum += quant_bf16_to_f32(a[i]) * quant_bf16_to_f32(b[i]);
    return sum;
}

AVX2 float kern_dot_q4_1_avx2(const void *w, const void *xq, size_t n)
{
    const block_q4_1 *a = w;
    const block_q8_1 *b = xq;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    for (size_t i = 0; i < n / QK4_1; i++) {
        __m256i q = unpack_nibbles16(a[i].qs);
        __m256i x = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256 d = _mm256_set1_ps(f16c(a[i].d) * f16c(b[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8(q, x)), acc);
        mins += f16c(a[i].m) * f16c(b[i].s);
    }
    return hsum_ps(acc) + mins;
}

AVX2 float kern_dot_q5_0_avx2(const void *w, const void *xq, size_t n)
{
    const block_q5_0 *a = w;
    const block_q8_0 *b = xq;
    __m256 acc = _mm256_setzero_ps();
    for (size_t i = 0; i < n / QK5_0; i++) {
        __m256i q = _mm256_or_si256(unpack_nibbles16(a[i].qs), bits_to_0x10(le32(a[i].qh)));
        q = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
        __m256i x = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256 d = _mm256_set1_ps(f16c(a[i].d) * f16c(b[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8(q, x)), acc);
    }
    return hsum_ps(acc);
}

AVX2 float kern_dot_q5_1_avx2(const void *w, const void *xq, size_t n)
{
    const block_q5_1 *a = w;
    const block_q8_1 *b = xq;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    for (size_t i = 0; i < n / QK5_1; i++) {
        __m256i q = _mm256_or_si256(unpack_nibbles16(a[i].qs), bits_to_0x10(le32(a[i].qh)));
        __m256i x = _mm256_loadu_si256((const __m256i *)b[i].qs);
        __m256 d = _mm256_set1_ps(f16c(a[i].d) * f16c(b[i].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_u8(q, x)), acc);
        mins += f16c(a[i].m) * f16c(b[i].s);
    }
    return hsum_ps(acc) + mins;
}

/* The body of the Q8_0 and Q4_0 dot products (weights in 32-blocks of type
 * BLOCK, each with a half-precision scale d, against a Q8_0 activation):
 * blocks two at a time into two float accumulators (two independent FMA
 * chains), each block's 32 signed weights unpacked by QUANTS(block), their
 * integer products with the activation summed by DOT(q, x) into eight
 * 32-bit lanes and scaled by the two blocks' scales.  The AVX2 and the
 * VNNI kernels differ only in DOT (and in their targets). */
#define BLOCK32_DOT_BODY(BLOCK, QUANTS, DOT)                                                         \
    const BLOCK *a = w;                                                                              \
    const block_q8_0 *b = xq;                                                                        \
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;                                                  \
    size_t nb = n / 32, i = 0;                                                                       \
    for (; i + 2 <= nb; i += 2) {                                                                    \
        __m256i q0 = QUANTS(&a[i]), x0 = _mm256_loadu_si256((const __m256i *)b[i].qs);               \
        __m256i q1 = QUANTS(&a[i + 1]), x1 = _mm256_loadu_si256((const __m256i *)b[i + 1].qs);       \
        __m256 d0 = _mm256_set1_ps(f16c(a[i].d) * f16c(b[i].d));                                     \
        __m256 d1 = _mm256_set1_ps(f16c(a[i + 1].d) * f16c(b[i + 1].d));                             \
        acc0 = _mm256_fmadd_ps(d0, _mm256_cvtepi32_ps(DOT(q0, x0)), acc0);                           \
        acc1 = _mm256_fmadd_ps(d1, _mm256_cvtepi32_ps(DOT(q1, x1)), acc1);                           \
    }                                                                                                \
    if (i < nb) {                                                                                    \
        __m256i q = QUANTS(&a[i]), x = _mm256_loadu_si256((const __m256i *)b[i].qs);                 \
        __m256 d = _mm256_set1_ps(f16c(a[i].d) * f16c(b[i].d));                                      \
        acc0 = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(DOT(q, x)), acc0);                              \
    }                                                                                                \
    return hsum_ps(_mm256_add_ps(acc0, acc1))

#define Q8_0_QUANTS(blk) _mm256_loadu_si256((const __m256i *)(blk)->qs)
#define Q4_0_QUANTS(blk) _mm256_sub_epi8(unpack_nibbles16((blk)->qs), _mm256_set1_epi8(8))

AVX2 float kern_dot_q8_0_avx2(const void *w, const void *xq, size_t n)
{
    BLOCK32_DOT_BODY(block_q8_0, Q8_0_QUANTS, dot_i8);
}

AVX2 float kern_dot_q4_0_avx2(const void *w, const void *xq, size_t n)
{
    BLOCK32_DOT_BODY(block_q4_0, Q4_0_QUANTS, dot_i8);
}

/* The same products with AVX-512 VNNI on 256-bit vectors: |q| × (x signed
 * as q) summed four bytes at a time straight into 32-bit lanes (one
 * instruction where AVX2 needs two, and no 16-bit saturation).  Integer
 * sums are exact, so the results are bit for bit the AVX2 kernels'. */
#define VNNI_DOT(q, x) _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(q), _mm256_sign_epi8(x, q))
#define VNNI __attribute__((target("avx2,fma,f16c,avx512vl,avx512vnni,avx512bw")))

VNNI float kern_dot_q8_0_vnni(const void *w, const void *xq, size_t n)
{
    BLOCK32_DOT_BODY(block_q8_0, Q8_0_QUANTS, VNNI_DOT);
}

VNNI float kern_dot_q4_0_vnni(const void *w, const void *xq, size_t n)
{
    BLOCK32_DOT_BODY(block_q4_0, Q4_0_QUANTS, VNNI_DOT);
}

#undef VNNI
#undef VNNI_DOT

/* And with AVX-VNNI, the VEX encoding of the same instruction. */
#define AVXVNNI_DOT(q, x) _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(q), _mm256_sign_epi8(x, q))
#define AVXVNNI __attribute__((target("avx2,fma,f16c,avxvnni")))

AVXVNNI float kern_dot_q8_0_avxvnni(const void *w, const void *xq, size_t n)
{
    BLOCK32_DOT_BODY(block_q8_0, Q8_0_QUANTS, AVXVNNI_DOT);
}

AVXVNNI float kern_dot_q4_0_avxvnni(const void *w, const void *xq, size_t n)
{
    BLOCK32_DOT_BODY(block_q4_0, Q4_0_QUANTS, AVXVNNI_DOT);
}

#undef AVXVNNI
#undef AVXVNNI_DOT
#undef Q4_0_QUANTS
#undef Q8_0_QUANTS
#undef BLOCK32_DOT_BODY

AVX2 float kern_dot_q4_K_avx2(const void *w, const void *xq, size_t n)
{
    const block_q4_K *a = w;
    const block_q8_K *b = xq;
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    for (size_t i = 0; i < n / QK_K; i++) {
        int msum;
        __m256i sc = k4_scales(a[i].scales, b[i].bsums, &msum);
        __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * c));
            __m256i xlo = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c));
            __m256i xhi = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c + 32));
            __m256i plo = _mm256_maddubs_epi16(_mm256_and_si256(q, m4), xlo);
            __m256i phi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), xhi);
            plo = _mm256_madd_epi16(plo, bcast16(sc, 2 * c));
            phi = _mm256_madd_epi16(phi, bcast16(sc, 2 * c + 1));
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(plo, phi));
        }
        float yd = b[i].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(yd * f16c(a[i].d)), _mm256_cvtepi32_ps(isum), acc);
        mins += yd * f16c(a[i].dmin) * msum;
    }
    return hsum_ps(acc) - mins;
}

AVX2 float kern_dot_q5_K_avx2(const void *w, const void *xq, size_t n)
{
    const block_q5_K *a = w;
    const block_q8_K *b = xq;
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    for (size_t i = 0; i < n / QK_K; i++) {
        int msum;
        __m256i sc = k4_scales(a[i].scales, b[i].bsums, &msum);
        __m256i hbits = _mm256_loadu_si256((const __m256i *)a[i].qh);
        __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * c));
            __m256i hlo = _mm256_slli_epi16(_mm256_and_si256(hbits, one), 4);
            __m256i hhi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 1), one), 4);
            hbits = _mm256_srli_epi16(hbits, 2);
            __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), hlo);
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), hhi);
            __m256i xlo = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c));
            __m256i xhi = _mm256_loadu_si256((const __m256i *)(b[i].qs + 64 * c + 32));
            __m256i plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, xlo), bcast16(sc, 2 * c));
            __m256i phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, xhi), bcast16(sc, 2 * c + 1));
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(plo, phi));
        }
        float yd = b[i].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(yd * f16c(a[i].d)), _mm256_cvtepi32_ps(isum), acc);
        mins += yd * f16c(a[i].dmin) * msum;
    }
    return hsum_ps(acc) - mins;
}

AVX2 float kern_dot_q6_K_avx2(const void *w, const void *xq, size_t n)
{
    const block_q6_K *a = w;
    const block_q8_K *b = xq;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    for (size_t i = 0; i < n / QK_K; i++) {
        /* the sixteen scales as 16-bit lanes: 0..7 in both halves of
         * sc16[0], 8..15 in both halves of sc16[1] */
        __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
        __m256i sc16[2] = {_mm256_permute2x128_si256(sc, sc, 0x00), _mm256_permute2x128_si256(sc, sc, 0x11)};
        __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m256i ql0 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * h));
            __m256i ql1 = _mm256_loadu_si256((const __m256i *)(a[i].ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * h));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                __m256i x = _mm256_loadu_si256((const __m256i *)(b[i].qs + 128 * h + 32 * k));
                /* scale 8h + 2k for the low 16 elements, 8h + 2k + 1 for the high */
                __m256i s = _mm256_blend_epi32(bcast16(sc16[h], 2 * k), bcast16(sc16[h], 2 * k + 1), 0xf0);
                __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], x), s);
                isum = _mm256_add_epi32(isum, p);
            }
        }
        __m256i ms = _mm256_madd_epi16(sc, _mm256_loadu_si256((const __m256i *)b[i].bsums));
        int msum = hsum_epi32x4(_mm_add_epi32(_mm256_castsi256_si128(ms), _mm256_extracti128_si256(ms, 1)));
        float dd = b[i].d * f16c(a[i].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(isum), acc);
        mins += dd * (32 * msum);
    }
    return hsum_ps(acc) - mins;
}

AVX2 void kern_f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, load_f16x8(src + i));
    for (; i < n; i++)
        dst[i] = f16c(src[i]);
}

AVX2 void kern_f32_to_f16_avx2(const float *src, uint16_t *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        dst[i] = (uint16_t)_cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}

/* ---- Activation conversion ---------------------------------------------------- */

/* roundf() of eight floats: truncate, then step away from zero when the
 * dropped fraction is at least one half (exact: |v| < 2^23 here). */
AVX2 static inline __m256 round_half_away(__m256 v)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    __m256 step = _mm256_or_ps(_mm256_and_ps(sign, v), _mm256_set1_ps(1.0f));
    __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm256_add_ps(t, _mm256_and_ps(up, step));
}

AVX2 void kern_quantize_q8_0_avx2(const float *x, void *dst, size_t n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), inf = _mm256_set1_ps(INFINITY);
    block_q8_0 *b = dst;
    for (size_t i = 0; i < n / QK8_0; i++, x += QK8_0) {
        __m256 v[4], amax = _mm256_setzero_ps(), finite = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            __m256 a = _mm256_andnot_ps(sign, v[k]);
            finite = _mm256_and_ps(finite, _mm256_cmp_ps(a, inf, _CMP_LT_OQ)); /* false for NaN too */
            amax = _mm256_max_ps(amax, a);
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float d = _mm_cvtss_f32(m4) / 127;
        float id = d ? 1.0f / d : 0.0f;
        if (_mm256_movemask_ps(finite) != 0xff || !(id < INFINITY)) { /* inf, NaN, or a tiny scale */
            quant_quantize_row(GGML_TYPE_Q8_0, x, &b[i], QK8_0);
            continue;
        }
        b[i].d = quant_f32_to_f16(d);
        __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v[k], vid)));
        /* packs interleave 128-bit lanes: 0 1 2 3 | 4 5 6 7 comes out as
         * q0lo q1lo q2lo q3lo q0hi ..., put back in order by the permute */
        __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
        __m256i p8 = _mm256_packs_epi16(p16a, p16b);
        p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)b[i].qs, p8);
    }
}

/* ---- Prefill conversion ------------------------------------------------------ */

AVX2 void kern_dequant_q8_0_avx2(const void *w, float *dst, size_t n)
{
    const block_q8_0 *b = w;
    for (size_t i = 0; i < n / QK8_0; i++, dst += QK8_0) {
        __m256 d = _mm256_set1_ps(f16c(b[i].d));
        for (int k = 0; k < QK8_0; k += 8) {
            __m128i q = _mm_loadl_epi64((const __m128i *)(b[i].qs + k));
            _mm256_storeu_ps(dst + k, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))));
        }
    }
}

AVX2 void kern_dequant_q4_0_avx2(const void *w, float *dst, size_t n)
{
    const block_q4_0 *b = w;
    for (size_t i = 0; i < n / QK4_0; i++, dst += QK4_0) {
        __m256 d = _mm256_set1_ps(f16c(b[i].d));
        __m256i q = _mm256_sub_epi8(unpack_nibbles16(b[i].qs), _mm256_set1_epi8(8));
        __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
        __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
        for (int k = 0; k < 4; k++)
            _mm256_storeu_ps(dst + 8 * k, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[k]))));
    }
}

/* ---- Attention over the half-precision cache ----------------------------------- */

AVX2 static inline __m256 round_f16x8(__m256 v)
{
    return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

/* Cephes' expf for 8 lanes (kernels.c's exp_poly with fused multiply-adds). */
AVX2 static inline __m256 exp_ps(__m256 x)
{
    const __m256 hi = _mm256_set1_ps(88.0f), lo = _mm256_set1_ps(-87.0f);
    __m256 v = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 k = _mm256_floor_ps(_mm256_fmadd_ps(v, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), v);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

AVX2 size_t kern_exp_avx2(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, exp_ps(_mm256_loadu_ps(x + i)));
    return i;
}

/* Eight elements of kern_swiglu. */
AVX2 static inline __m256 swiglu_ps(__m256 g, __m256 u)
{
    __m256 e = exp_ps(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

AVX2 void kern_swiglu_avx2(float *gate, const float *up, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(gate + i, swiglu_ps(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) { /* the tail through the same vector code: a value's result never depends on its place */
        float g[8] = {0}, u[8] = {0};
        memcpy(g, gate + i, (n - i) * sizeof *g);
        memcpy(u, up + i, (n - i) * sizeof *u);
        _mm256_storeu_ps(g, swiglu_ps(_mm256_loadu_ps(g), _mm256_loadu_ps(u)));
        memcpy(gate + i, g, (n - i) * sizeof *g);
    }
}

#define ATT_BLOCK 8

/* One query: scores for a block of keys first (the query in registers),
 * then the block's softmax factors with one vector exp, then the
 * accumulator's steps (the accumulator in registers).  Step for step the
 * same arithmetic as the portable code, only exp differs (by an ulp). */
AVX2 static void attend_one_avx2(const float *q32, const uint16_t *k, const uint16_t *v, size_t n_keys,
                                 size_t stride, size_t hd, float scale, float *out)
{
    __m256 q[KERN_MAX_HEAD_DIM / 8], acc[KERN_MAX_HEAD_DIM / 8];
    size_t nv = hd / 8;
    for (size_t i = 0; i < nv; i++) {
        q[i] = round_f16x8(_mm256_loadu_ps(q32 + 8 * i));
        acc[i] = _mm256_setzero_ps();
    }
    float M = -INFINITY, S = 0.0f;
    for (size_t p0 = 0; p0 < n_keys; p0 += ATT_BLOCK) {
        size_t nb = n_keys - p0 < ATT_BLOCK ? n_keys - p0 : ATT_BLOCK;
        float d[ATT_BLOCK], arg[ATT_BLOCK], e[ATT_BLOCK];
        bool up[ATT_BLOCK];
        for (size_t b = 0; b < nb; b++) {
            const uint16_t *kr = k + (p0 + b) * stride;
            __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();
            size_t i = 0;
            for (; i + 2 <= nv; i += 2) {
                d0 = _mm256_fmadd_ps(q[i], load_f16x8(kr + 8 * i), d0);
                d1 = _mm256_fmadd_ps(q[i + 1], load_f16x8(kr + 8 * i + 8), d1);
            }
            if (i < nv)
                d0 = _mm256_fmadd_ps(q[i], load_f16x8(kr + 8 * i), d0);
            d[b] = hsum_ps(_mm256_add_ps(d0, d1)) * scale;
        }
        for (size_t b = 0; b < nb; b++) { /* the running maximum, key by key */
            up[b] = d[b] > M;
            arg[b] = up[b] ? M - d[b] : d[b] - M;
            M = up[b] ? d[b] : M;
        }
        for (size_t b = nb; b < ATT_BLOCK; b++)
            arg[b] = 0.0f;
        _mm256_storeu_ps(e, exp_ps(_mm256_loadu_ps(arg)));
        for (size_t b = 0; b < nb; b++) {
            const uint16_t *vr = v + (p0 + b) * stride;
            float ms = up[b] ? e[b] : 1.0f, vs = up[b] ? 1.0f : e[b];
            if (up[b]) { /* rescale what was accumulated so far */
                __m256 m8 = _mm256_set1_ps(ms);
                for (size_t i = 0; i < nv; i++)
                    acc[i] = round_f16x8(_mm256_mul_ps(acc[i], m8));
            }
            __m256 v8 = _mm256_set1_ps(vs);
            for (size_t i = 0; i < nv; i++)
                acc[i] = round_f16x8(_mm256_fmadd_ps(load_f16x8(vr + 8 * i), v8, acc[i]));
            S = S * ms + vs;
        }
    }
    __m256 inv = _mm256_set1_ps(1.0f / S);
    for (size_t i = 0; i < nv; i++)
        _mm256_storeu_ps(out + 8 * i, _mm256_mul_ps(acc[i], inv));
}

/*
 * Head size 64 with AVX-512VL's 32 vector registers: NQ (1 to 3) queries
 * of one KV head at once, their accumulators in registers.  Each key's K
 * and V rows are converted from half precision once for all NQ queries
 * (conversions are most of the cost), and the queries' accumulator steps
 * are independent, so their latencies overlap.  Per query, the same
 * arithmetic in the same order as attend_one_avx2: results bit for bit
 * equal.
 */
#define AVX512VL __attribute__((target("avx2,fma,f16c,avx512f,avx512vl")))
#define HD64 64

/* A 64-wide half-precision row as eight vectors of floats. */
AVX512VL static inline __attribute__((always_inline)) void load_row64(const uint16_t *row, __m256 out[8])
{
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        out[i] = load_f16x8(row + 8 * i);
}

AVX512VL static inline __attribute__((always_inline)) void
attend64(const float *q32, size_t q_stride, const uint16_t *k, const uint16_t *v, size_t n_keys, size_t stride,
         float scale, float *out, size_t out_stride, const int NQ)
{
    __m256 q[3][8], acc[3][8];
    float M[3], S[3];
#pragma GCC unroll 3
    for (int j = 0; j < NQ; j++) {
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            q[j][i] = round_f16x8(_mm256_loadu_ps(q32 + j * q_stride + 8 * i));
            acc[j][i] = _mm256_setzero_ps();
        }
        M[j] = -INFINITY;
        S[j] = 0.0f;
    }
    for (size_t p0 = 0; p0 < n_keys; p0 += ATT_BLOCK) {
        size_t nb = n_keys - p0 < ATT_BLOCK ? n_keys - p0 : ATT_BLOCK;
        _Alignas(32) float arg[3][ATT_BLOCK], e[3][ATT_BLOCK];
        bool up[3][ATT_BLOCK];
        for (size_t b = 0; b < nb; b++) {
            __m256 kk[8];
            load_row64(k + (p0 + b) * stride, kk);
#pragma GCC unroll 3
            for (int j = 0; j < NQ; j++) {
                __m256 d0 = _mm256_setzero_ps(), d1 = _mm256_setzero_ps();
#pragma GCC unroll 4
                for (int i = 0; i < 8; i += 2) {
                    d0 = _mm256_fmadd_ps(q[j][i], kk[i], d0);
                    d1 = _mm256_fmadd_ps(q[j][i + 1], kk[i + 1], d1);
                }
                float d = hsum_ps(_mm256_add_ps(d0, d1)) * scale;
                up[j][b] = d > M[j]; /* the running maximum, key by key */
                arg[j][b] = up[j][b] ? M[j] - d : d - M[j];
                M[j] = up[j][b] ? d : M[j];
            }
        }
#pragma GCC unroll 3
        for (int j = 0; j < NQ; j++) {
            for (size_t b = nb; b < ATT_BLOCK; b++)
                arg[j][b] = 0.0f;
            _mm256_store_ps(e[j], exp_ps(_mm256_load_ps(arg[j])));
        }
        for (size_t b = 0; b < nb; b++) {
            __m256 vv[8];
            load_row64(v + (p0 + b) * stride, vv);
#pragma GCC unroll 3
            for (int j = 0; j < NQ; j++) {
                float ms = up[j][b] ? e[j][b] : 1.0f, vs = up[j][b] ? 1.0f : e[j][b];
                if (up[j][b]) { /* rescale what was accumulated so far */
                    __m256 m8 = _mm256_set1_ps(ms);
#pragma GCC unroll 8
                    for (int i = 0; i < 8; i++)
                        acc[j][i] = round_f16x8(_mm256_mul_ps(acc[j][i], m8));
                }
                __m256 v8 = _mm256_set1_ps(vs);
#pragma GCC unroll 8
                for (int i = 0; i < 8; i++)
                    acc[j][i] = round_f16x8(_mm256_fmadd_ps(vv[i], v8, acc[j][i]));
                S[j] = S[j] * ms + vs;
            }
        }
    }
#pragma GCC unroll 3
    for (int j = 0; j < NQ; j++) {
        __m256 inv = _mm256_set1_ps(1.0f / S[j]);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            _mm256_storeu_ps(out + j * out_stride + 8 * i, _mm256_mul_ps(acc[j][i], inv));
    }
}

AVX512VL void kern_attend_f16_hd64_avx512(const float *q32, size_t n_q, size_t q_stride, const uint16_t *k,
                                          const uint16_t *v, size_t n_keys, size_t stride, float scale,
                                          float *out, size_t out_stride)
{
    size_t h = 0;
    for (; h + 3 <= n_q; h += 3)
        attend64(q32 + h * q_stride, q_stride, k, v, n_keys, stride, scale, out + h * out_stride, out_stride, 3);
    if (n_q - h == 2)
        attend64(q32 + h * q_stride, q_stride, k, v, n_keys, stride, scale, out + h * out_stride, out_stride, 2);
    else if (n_q - h == 1)
        attend64(q32 + h * q_stride, q_stride, k, v, n_keys, stride, scale, out + h * out_stride, out_stride, 1);
}

AVX2 void kern_attend_f16_avx2(const float *q32, size_t n_q, size_t q_stride, const uint16_t *k,
                               const uint16_t *v, size_t n_keys, size_t stride, size_t hd, float scale,
                               float *out, size_t out_stride)
{
    for (size_t h = 0; h < n_q; h++)
        attend_one_avx2(q32 + h * q_stride, k, v, n_keys, stride, hd, scale, out + h * out_stride);
}

#else
/* ISO C wants a declaration in every translation unit. */
typedef int kernels_avx2_unused;
#endif /* KERN_X86 */
