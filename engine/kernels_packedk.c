/*
 * kernels_packedk.c — Q6_K and Q5_K weights repacked eight rows at a time, and the
 * products that read them (kernels.h "Repacked weights"; reached through
 * kernels_packed4.c's functions, which hand these types over).
 *
 * As in kernels_packed4.c, lane r of every vector is row r of a group of
 * eight and the weights stay as the file has them, here six bits: the low
 * four in nibbles, the top two in a plane of their own, put together in
 * registers (two ands, two shifts and an or per 32 bytes) once per load
 * for all the tokens, and multiplied as unsigned bytes 0..63 with the
 * activation's signed bytes (vpdpbusd; AVX2 vpmaddubsw, two of them
 * summed exactly in 16 bits, then vpmaddwd).  The −32 comes in through
 * Q8_K's sums over 16.
 *
 * Q6_K, per group and 256-block (1680 bytes, as the eight rows took):
 *   uint16 d[8]          the rows' fp16 scales
 *   int8   sc[16][8]     sub-block s's scale of row r at [s][r]
 *   then for each pair p of sub-blocks (32 weights, 192 bytes):
 *   uint8  q[4][8][4]    vector j: byte 4r+k = row r's weight 32p+4j+k
 *                        (low nibble) and 32p+16+4j+k (high), low 4 bits
 *   uint8  h[2][8][4]    bits 2j, 2j+1 of byte 4r+k: the top 2 bits of
 *                        weight 32p+4j+k (h[0]) or 32p+16+4j+k (h[1])
 *   row · x = d·dx·Σ_s sc_s·((q·x)_s − 32·(Σ x)_s), (Σ x)_s Q8_K's bsums.
 *
 * Q5_K, per group and 256-block (1440 bytes where the rows took 1408):
 *   uint16 d[8], dmin[8]
 *   uint8  sc[8][8]      sub-block s's 6-bit scale of row r at [s][r]
 *   uint8  m[4][8][2]    the mins of sub-blocks 2p, 2p+1 of row r
 *   then for each sub-block s (32 weights, 160 bytes):
 *   uint8  h[8][4]       bit j of byte 4r+k: the 5th bit of weight
 *                        32s+4j+k (j < 4) or 32s+16+4(j−4)+k
 *   uint8  q[4][8][4]    vector j: byte 4r+k = weight 32s+4j+k (low
 *                        nibble) and 32s+16+4j+k (high), low 4 bits
 *   row · x = dx·(d·Σ_s sc_s·(q·x)_s − dmin·Σ_s m_s·(Σ x)_s), as Q4_K
 *   (kernels_packed4.c) with the 5th bits or'ed in as 16.
 *
 * The arithmetic of a row and token is fixed — the exact integer of a
 * block (|Σ| ≤ 16·128·16·32·128 < 2^31), converted and scaled by d·dx into
 * one float accumulator, blocks in order — so a token's result does not
 * depend on how many tokens share the call, on the row split, or on AVX2
 * against VNNI (tests/test_quant.c checks all three bit for bit).
 */
#include "engine/kernels_packed4.h"

#include "engine/quant.h"

#include <string.h>

#define ROWS 8           /* rows per group: one 256-bit vector of lanes */
#define Q6K_D 0          /* Q6_K offsets in a group-block */
#define Q6K_SC 16
#define Q6K_Q 144        /* the pairs of sub-blocks */
#define Q6K_P 192        /* bytes of a pair: nibbles, then the top bits */
#define Q6K_GB (Q6K_Q + 8 * Q6K_P) /* 1680 */
#define Q5K_D 0          /* Q5_K offsets in a group-block */
#define Q5K_DMIN 16
#define Q5K_SC 32
#define Q5K_M 96
#define Q5K_S 160        /* the sub-blocks */
#define Q5K_SB 160       /* bytes of a sub-block: the 5th bits, then the nibbles */
#define Q5K_GB (Q5K_S + 8 * Q5K_SB) /* 1440 */

bool kern_packedk_type(ggml_type type)
{
    return type == GGML_TYPE_Q6_K || type == GGML_TYPE_Q5_K;
}

static size_t group_block(ggml_type type)
{
    return type == GGML_TYPE_Q6_K ? Q6K_GB : Q5K_GB;
}

size_t kern_packedk_bytes(ggml_type type, size_t rows, size_t cols)
{
    if (kern_packedk_type(type) && cols % QK_K == 0)
        return (rows + ROWS - 1) / ROWS * (cols / QK_K) * group_block(type);
    return 0;
}

/* Element e's six bits of a Q6_K block (quant.h's layout). */
static int q6_at(const block_q6_K *b, int e)
{
    int h = e / 128, k = (e % 128) / 32, l = e % 32;
    uint8_t lo = b->ql[64 * h + l + 32 * (k & 1)];
    return (k < 2 ? lo & 15 : lo >> 4) | ((b->qh[32 * h + l] >> (2 * k)) & 3) << 4;
}

static void pack_q6_K_block(const block_q6_K *src, size_t r, uint8_t *blk)
{
    memcpy(blk + Q6K_D + 2 * r, &src->d, 2);
    for (int s = 0; s < 16; s++)
        blk[Q6K_SC + 8 * s + r] = (uint8_t)src->scales[s];
    for (int p = 0; p < 8; p++) {
        uint8_t *q = blk + Q6K_Q + Q6K_P * p;
        for (int k = 0; k < 4; k++) {
            uint8_t h0 = 0, h1 = 0;
            for (int j = 0; j < 4; j++) {
                int a = q6_at(src, 32 * p + 4 * j + k), b = q6_at(src, 32 * p + 16 + 4 * j + k);
                q[32 * j + 4 * r + k] = (uint8_t)((a & 15) | (b & 15) << 4);
                h0 |= (uint8_t)((a >> 4) << (2 * j));
                h1 |= (uint8_t)((b >> 4) << (2 * j));
            }
            q[128 + 4 * r + k] = h0;
            q[160 + 4 * r + k] = h1;
        }
    }
}

static void pack_q5_K_block(const block_q5_K *src, size_t r, uint8_t *blk)
{
    uint8_t sc[8], mn[8], q[QK_K]; /* q[e]: element e's 5 bits */
    quant_unpack_k4_scales(src->scales, sc, mn);
    for (int e = 0; e < QK_K; e++) {
        uint8_t byte = src->qs[32 * (e / 64) + e % 32];
        q[e] = (uint8_t)(((e % 64) < 32 ? byte & 15 : byte >> 4) | ((src->qh[e % 32] >> (e / 32)) & 1) << 4);
    }
    memcpy(blk + Q5K_D + 2 * r, &src->d, 2);
    memcpy(blk + Q5K_DMIN + 2 * r, &src->dmin, 2);
    for (int s = 0; s < 8; s++) {
        blk[Q5K_SC + 8 * s + r] = sc[s];
        blk[Q5K_M + 16 * (s / 2) + 2 * r + s % 2] = mn[s];
        uint8_t *sb = blk + Q5K_S + Q5K_SB * s;
        for (int k = 0; k < 4; k++) {
            uint8_t h = 0;
            for (int j = 0; j < 4; j++) {
                int a = q[32 * s + 4 * j + k], b = q[32 * s + 16 + 4 * j + k];
                sb[32 + 32 * j + 4 * r + k] = (uint8_t)((a & 15) | (b & 15) << 4);
                h |= (uint8_t)((a >> 4) << j | (b >> 4) << (j + 4));
            }
            sb[4 * r + k] = h;
        }
    }
}

void kern_packk(ggml_type type, const void *W, size_t rows, size_t cols, void *out)
{
    size_t bytes = kern_packedk_bytes(type, rows, cols);
    if (!bytes)
        return;
    size_t nb = cols / QK_K, groups = (rows + ROWS - 1) / ROWS, gb = group_block(type);
    uint8_t *dst = out;
    if (rows % ROWS) /* the last group's rows past the end: zeros */
        memset(dst + (groups - 1) * nb * gb, 0, nb * gb);
    for (size_t row = 0; row < rows; row++) {
        uint8_t *blk = dst + row / ROWS * nb * gb;
        for (size_t b = 0; b < nb; b++, blk += gb)
            if (type == GGML_TYPE_Q6_K)
                pack_q6_K_block((const block_q6_K *)W + row * nb + b, row % ROWS, blk);
            else
                pack_q5_K_block((const block_q5_K *)W + row * nb + b, row % ROWS, blk);
    }
}

/* The same floats as quant_dequantize_row of the stored row. */
void kern_packedk_row_f32(ggml_type type, const void *P, size_t cols, size_t row, float *out)
{
    if (!kern_packedk_bytes(type, row + 1, cols))
        return;
    size_t nb = cols / QK_K, r = row % ROWS;
    if (type == GGML_TYPE_Q5_K) {
        const uint8_t *p = (const uint8_t *)P + row / ROWS * nb * Q5K_GB;
        for (size_t b = 0; b < nb; b++, p += Q5K_GB, out += QK_K) {
            uint16_t h, hm;
            memcpy(&h, p + Q5K_D + 2 * r, 2);
            memcpy(&hm, p + Q5K_DMIN + 2 * r, 2);
            float d = quant_f16_to_f32(h), dmin = quant_f16_to_f32(hm);
            for (int e = 0; e < QK_K; e++) {
                int s = e / 32, hi = e % 32 >= 16, j = e % 16 / 4, k = e % 4;
                const uint8_t *sb = p + Q5K_S + Q5K_SB * s;
                int q = (sb[32 + 32 * j + 4 * r + k] >> (4 * hi) & 15) | (sb[4 * r + k] >> (j + 4 * hi) & 1) << 4;
                float dl = d * p[Q5K_SC + 8 * s + r], ml = dmin * p[Q5K_M + 16 * (s / 2) + 2 * r + s % 2];
                out[e] = dl * q - ml;
            }
        }
        return;
    }
    const uint8_t *p = (const uint8_t *)P + row / ROWS * nb * Q6K_GB;
    for (size_t b = 0; b < nb; b++, p += Q6K_GB, out += QK_K) {
        uint16_t h;
        memcpy(&h, p + Q6K_D + 2 * r, 2);
        float d = quant_f16_to_f32(h);
        for (int e = 0; e < QK_K; e++) {
            int pr = e / 32, hi = e % 32 >= 16, j = e % 16 / 4, k = e % 4;
            const uint8_t *q = p + Q6K_Q + Q6K_P * pr;
            int lo = q[32 * j + 4 * r + k] >> (4 * hi) & 15, top = q[128 + 32 * hi + 4 * r + k] >> (2 * j) & 3;
            out[e] = d * (int8_t)p[Q6K_SC + 8 * (e / 16) + r] * ((lo | top << 4) - 32);
        }
    }
}

#if KERN_X86
#include <immintrin.h>

#define VNNI_TARGET __attribute__((target("avx2,fma,f16c,avx512vl,avx512vnni,avx512bw")))
#define AVXVNNI_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))

/* Four activation bytes broadcast to every lane. */
KERN_AVX2_TARGET static inline __m256i bcast4(const int8_t *x)
{
    int32_t v;
    memcpy(&v, x, 4);
    return _mm256_set1_epi32(v);
}

/* A pair of sub-blocks' weights as bytes 0..63: v[0..3] sub-block 2p
 * (weights 4j..4j+3 of each row in v[j]), v[4..7] sub-block 2p+1.  The
 * top bits 2j, 2j+1 of each byte move to bits 4, 5 by a 16-bit shift and
 * the mask keeps only those of the same byte. */
KERN_AVX2_TARGET static inline void unpack6(const uint8_t *q, __m256i v[8])
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    __m256i h[2] = {_mm256_loadu_si256((const __m256i *)(q + 128)), _mm256_loadu_si256((const __m256i *)(q + 160))};
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(q + 32 * j)), t[2];
        for (int i = 0; i < 2; i++)
            t[i] = j == 0 ? _mm256_slli_epi16(h[i], 4)
                 : j == 1 ? _mm256_slli_epi16(h[i], 2)
                 : j == 2 ? h[i]
                          : _mm256_srli_epi16(h[i], 2);
        v[j] = _mm256_or_si256(_mm256_and_si256(w, m4), _mm256_and_si256(t[0], m30));
        v[j + 4] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(w, 4), m4), _mm256_and_si256(t[1], m30));
    }
}

/* isum + sc·(Σ q·x − 32·bs) over a sub-block of 16 (v[0..3]), exactly:
 * AVX2 (each 16-bit pair of two products |·| ≤ 2·2·63·128 < 2^15), AVX-512
 * VNNI, AVX-VNNI. */
KERN_AVX2_TARGET static inline __m256i sub16_avx2(__m256i isum, const __m256i *v, const int8_t *x, int bs,
                                                  __m256i sc)
{
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(v[0], bcast4(x)), _mm256_maddubs_epi16(v[1], bcast4(x + 4)));
    __m256i q =
        _mm256_add_epi16(_mm256_maddubs_epi16(v[2], bcast4(x + 8)), _mm256_maddubs_epi16(v[3], bcast4(x + 12)));
    const __m256i one = _mm256_set1_epi16(1);
    __m256i s = _mm256_add_epi32(_mm256_madd_epi16(p, one), _mm256_madd_epi16(q, one));
    return _mm256_add_epi32(isum, _mm256_mullo_epi32(_mm256_sub_epi32(s, _mm256_set1_epi32(32 * bs)), sc));
}
VNNI_TARGET static inline __m256i sub16_vnni(__m256i isum, const __m256i *v, const int8_t *x, int bs, __m256i sc)
{
    __m256i s = _mm256_set1_epi32(-32 * bs);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
        s = _mm256_dpbusd_epi32(s, v[j], bcast4(x + 4 * j));
    return _mm256_add_epi32(isum, _mm256_mullo_epi32(s, sc));
}
AVXVNNI_TARGET static inline __m256i sub16_avxvnni(__m256i isum, const __m256i *v, const int8_t *x, int bs,
                                                   __m256i sc)
{
    __m256i s = _mm256_set1_epi32(-32 * bs);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
        s = _mm256_dpbusd_avx_epi32(s, v[j], bcast4(x + 4 * j));
    return _mm256_add_epi32(isum, _mm256_mullo_epi32(s, sc));
}

/* A sub-block's weights as bytes 0..31: v[j] = weights 4j..4j+3 of each
 * row (v[4..7] from the high nibbles), the 5th bit j of each byte of h
 * moved to bit 4 by a 16-bit shift and kept by the mask. */
KERN_AVX2_TARGET static inline void unpack5(const uint8_t *sb, __m256i v[8])
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), m16 = _mm256_set1_epi8(0x10);
    __m256i h = _mm256_loadu_si256((const __m256i *)sb);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(sb + 32 + 32 * j));
        __m256i lo = j == 0 ? _mm256_slli_epi16(h, 4)
                   : j == 1 ? _mm256_slli_epi16(h, 3)
                   : j == 2 ? _mm256_slli_epi16(h, 2)
                            : _mm256_slli_epi16(h, 1);
        __m256i hi = j == 0 ? h : j == 1 ? _mm256_srli_epi16(h, 1) : j == 2 ? _mm256_srli_epi16(h, 2) : _mm256_srli_epi16(h, 3);
        v[j] = _mm256_or_si256(_mm256_and_si256(w, m4), _mm256_and_si256(lo, m16));
        v[j + 4] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(w, 4), m4), _mm256_and_si256(hi, m16));
    }
}

/* isum + sc·(Σ q·x) over a sub-block of 32 (q ≤ 31), exactly: AVX2
 * (four products a 16-bit pair, |·| ≤ 4·2·31·128 < 2^15), AVX-512 VNNI,
 * AVX-VNNI. */
KERN_AVX2_TARGET static inline __m256i sub32_avx2(__m256i isum, const __m256i *v, const int8_t *x, __m256i sc)
{
    __m256i p = _mm256_maddubs_epi16(v[0], bcast4(x)), q = _mm256_maddubs_epi16(v[4], bcast4(x + 16));
#pragma GCC unroll 4
    for (int j = 1; j < 4; j++) {
        p = _mm256_add_epi16(p, _mm256_maddubs_epi16(v[j], bcast4(x + 4 * j)));
        q = _mm256_add_epi16(q, _mm256_maddubs_epi16(v[j + 4], bcast4(x + 16 + 4 * j)));
    }
    const __m256i one = _mm256_set1_epi16(1);
    __m256i s = _mm256_add_epi32(_mm256_madd_epi16(p, one), _mm256_madd_epi16(q, one));
    return _mm256_add_epi32(isum, _mm256_mullo_epi32(s, sc));
}
VNNI_TARGET static inline __m256i sub32_vnni(__m256i isum, const __m256i *v, const int8_t *x, __m256i sc)
{
    __m256i s = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        s = _mm256_dpbusd_epi32(s, v[j], bcast4(x + 4 * j));
    return _mm256_add_epi32(isum, _mm256_mullo_epi32(s, sc));
}
AVXVNNI_TARGET static inline __m256i sub32_avxvnni(__m256i isum, const __m256i *v, const int8_t *x, __m256i sc)
{
    __m256i s = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        s = _mm256_dpbusd_avx_epi32(s, v[j], bcast4(x + 4 * j));
    return _mm256_add_epi32(isum, _mm256_mullo_epi32(s, sc));
}

/* Eight rows' results of token t into y. */
#define STORE_ROWS(T)                                                                                 \
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                             \
        float out[ROWS];                                                                              \
        _mm256_storeu_ps(out, acc[t]);                                                                \
        size_t r0 = g * ROWS, n_r = rows - r0 < ROWS ? rows - r0 : ROWS;                              \
        memcpy(y + (size_t)t * ldy + r0, out, n_r * sizeof(float));                                   \
    }

/* Q5_K: groups [g0, g1), T tokens of Q8_K activations xs bytes apart. */
#define Q5K_BODY(T, SUB32)                                                                            \
    for (size_t g = g0; g < g1; g++) {                                                                \
        const uint8_t *p = (const uint8_t *)P + g * nb * Q5K_GB;                                      \
        __m256 acc[T];                                                                                \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();             \
        for (size_t b = 0; b < nb; b++, p += Q5K_GB) {                                                \
            __m256i isum[T];                                                                          \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) isum[t] = _mm256_setzero_si256();     \
            for (int s = 0; s < 8; s++) {                                                             \
                __m256i v[8];                                                                         \
                unpack5(p + Q5K_S + Q5K_SB * s, v);                                                   \
                __m256i sc = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + Q5K_SC + 8 * s))); \
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                 \
                    const block_q8_K *x = (const block_q8_K *)((const uint8_t *)xq + (size_t)t * xs) + b; \
                    isum[t] = SUB32(isum[t], v, x->qs + 32 * s, sc);                                  \
                }                                                                                     \
            }                                                                                         \
            __m256 dd = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + Q5K_D)));               \
            __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + Q5K_DMIN)));            \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                     \
                const block_q8_K *x = (const block_q8_K *)((const uint8_t *)xq + (size_t)t * xs) + b; \
                __m256i ms = _mm256_setzero_si256();                                                  \
                _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++) {                                 \
                    __m256i m = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p + Q5K_M + 16 * q))); \
                    uint32_t lo = (uint16_t)(x->bsums[4 * q] + x->bsums[4 * q + 1]);                  \
                    uint32_t hi = (uint16_t)(x->bsums[4 * q + 2] + x->bsums[4 * q + 3]);              \
                    ms = _mm256_add_epi32(ms, _mm256_madd_epi16(m, _mm256_set1_epi32((int32_t)(lo | hi << 16)))); \
                }                                                                                     \
                __m256 dx = _mm256_set1_ps(x->d);                                                     \
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dd, dx), acc[t]); \
                acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_mul_ps(dm, dx), acc[t]);     \
            }                                                                                         \
        }                                                                                             \
        STORE_ROWS(T)                                                                                 \
    }

/* Q6_K: groups [g0, g1), T tokens of Q8_K activations xs bytes apart. */
#define Q6K_BODY(T, SUB16)                                                                            \
    for (size_t g = g0; g < g1; g++) {                                                                \
        const uint8_t *p = (const uint8_t *)P + g * nb * Q6K_GB;                                      \
        __m256 acc[T];                                                                                \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();             \
        for (size_t b = 0; b < nb; b++, p += Q6K_GB) {                                                \
            __m256i isum[T];                                                                          \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) isum[t] = _mm256_setzero_si256();     \
            for (int pr = 0; pr < 8; pr++) {                                                          \
                __m256i v[8];                                                                         \
                unpack6(p + Q6K_Q + Q6K_P * pr, v);                                                   \
                const uint8_t *sp = p + Q6K_SC + 16 * pr;                                             \
                __m256i sa = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)sp));              \
                __m256i sb = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(sp + 8)));        \
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                 \
                    const block_q8_K *x = (const block_q8_K *)((const uint8_t *)xq + (size_t)t * xs) + b; \
                    isum[t] = SUB16(isum[t], v, x->qs + 32 * pr, x->bsums[2 * pr], sa);               \
                    isum[t] = SUB16(isum[t], v + 4, x->qs + 32 * pr + 16, x->bsums[2 * pr + 1], sb);  \
                }                                                                                     \
            }                                                                                         \
            __m256 dd = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + Q6K_D)));               \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                     \
                const block_q8_K *x = (const block_q8_K *)((const uint8_t *)xq + (size_t)t * xs) + b; \
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dd, _mm256_set1_ps(x->d)), \
                                         acc[t]);                                                     \
            }                                                                                         \
        }                                                                                             \
        STORE_ROWS(T)                                                                                 \
    }

#define DEFINE_PK(NAME, TARGET, BODY, T, OP)                                                          \
    TARGET static void NAME(const void *P, size_t rows, size_t nb, const void *xq, size_t xs, size_t g0, \
                            size_t g1, float *y, size_t ldy)                                          \
    {                                                                                                 \
        BODY(T, OP)                                                                                   \
    }

DEFINE_PK(q6k_avx2_1, KERN_AVX2_TARGET, Q6K_BODY, 1, sub16_avx2)
DEFINE_PK(q6k_avx2_2, KERN_AVX2_TARGET, Q6K_BODY, 2, sub16_avx2)
DEFINE_PK(q6k_avx2_4, KERN_AVX2_TARGET, Q6K_BODY, 4, sub16_avx2)
DEFINE_PK(q6k_avxvnni_1, AVXVNNI_TARGET, Q6K_BODY, 1, sub16_avxvnni)
DEFINE_PK(q6k_avxvnni_2, AVXVNNI_TARGET, Q6K_BODY, 2, sub16_avxvnni)
DEFINE_PK(q6k_avxvnni_4, AVXVNNI_TARGET, Q6K_BODY, 4, sub16_avxvnni)
DEFINE_PK(q6k_vnni_1, VNNI_TARGET, Q6K_BODY, 1, sub16_vnni)
DEFINE_PK(q6k_vnni_2, VNNI_TARGET, Q6K_BODY, 2, sub16_vnni)
DEFINE_PK(q6k_vnni_4, VNNI_TARGET, Q6K_BODY, 4, sub16_vnni)
DEFINE_PK(q6k_vnni_8, VNNI_TARGET, Q6K_BODY, 8, sub16_vnni)
DEFINE_PK(q5k_avx2_1, KERN_AVX2_TARGET, Q5K_BODY, 1, sub32_avx2)
DEFINE_PK(q5k_avx2_2, KERN_AVX2_TARGET, Q5K_BODY, 2, sub32_avx2)
DEFINE_PK(q5k_avx2_4, KERN_AVX2_TARGET, Q5K_BODY, 4, sub32_avx2)
DEFINE_PK(q5k_avxvnni_1, AVXVNNI_TARGET, Q5K_BODY, 1, sub32_avxvnni)
DEFINE_PK(q5k_avxvnni_2, AVXVNNI_TARGET, Q5K_BODY, 2, sub32_avxvnni)
DEFINE_PK(q5k_avxvnni_4, AVXVNNI_TARGET, Q5K_BODY, 4, sub32_avxvnni)
DEFINE_PK(q5k_vnni_1, VNNI_TARGET, Q5K_BODY, 1, sub32_vnni)
DEFINE_PK(q5k_vnni_2, VNNI_TARGET, Q5K_BODY, 2, sub32_vnni)
DEFINE_PK(q5k_vnni_4, VNNI_TARGET, Q5K_BODY, 4, sub32_vnni)
DEFINE_PK(q5k_vnni_8, VNNI_TARGET, Q5K_BODY, 8, sub32_vnni)

typedef void (*pk_fn)(const void *, size_t, size_t, const void *, size_t, size_t, size_t, float *, size_t);

void kern_packedk_matmul_x86(kern_packed_isa isa, ggml_type type, const void *P, size_t rows, size_t cols,
                             const void *xq, size_t xq_stride, size_t n, size_t g0, size_t g1, float *y,
                             size_t ldy)
{
    static const pk_fn fns[2][3][4] = {
        {[KERN_PACKED_AVX2] = {q6k_avx2_1, q6k_avx2_2, q6k_avx2_4, NULL},
         [KERN_PACKED_AVXVNNI] = {q6k_avxvnni_1, q6k_avxvnni_2, q6k_avxvnni_4, NULL},
         [KERN_PACKED_VNNI512] = {q6k_vnni_1, q6k_vnni_2, q6k_vnni_4, q6k_vnni_8}},
        {[KERN_PACKED_AVX2] = {q5k_avx2_1, q5k_avx2_2, q5k_avx2_4, NULL},
         [KERN_PACKED_AVXVNNI] = {q5k_avxvnni_1, q5k_avxvnni_2, q5k_avxvnni_4, NULL},
         [KERN_PACKED_VNNI512] = {q5k_vnni_1, q5k_vnni_2, q5k_vnni_4, q5k_vnni_8}},
    };
    if (!kern_packedk_bytes(type, rows, cols))
        return;
    size_t nb = cols / QK_K;
    const pk_fn *f = fns[type == GGML_TYPE_Q5_K][isa];
    const uint8_t *x = xq;
    /* the widest token block first, then the rest; a token's arithmetic
     * is the same in any block */
    while (n > 0) {
        int k = n >= 8 && f[3] ? 3 : n >= 4 ? 2 : n >= 2 ? 1 : 0;
        size_t t = (size_t)1 << k;
        f[k](P, rows, nb, x, xq_stride, g0, g1, y, ldy);
        x += t * xq_stride;
        y += t * ldy;
        n -= t;
    }
}
#endif /* KERN_X86 */
