/*
 * kernels_packed4.c — Q4_0, Q5_0, Q4_1, Q5_1 and Q4_K weights repacked eight rows at a time,
 * and the products that read them (kernels.h "Repacked weights"; the
 * dispatch is in kernels_packed.c and kernels.c).
 *
 * As for Q8_0 (kernels_packed.c), lane r of every vector is row r of a
 * group of eight, so each instruction works for eight outputs and one
 * pass over the weights feeds several tokens.  The weights stay four bits:
 * a 32-byte vector holds two chunks of four weights of each of the eight
 * rows, one in the low nibbles and one in the high, unpacked in registers
 * (an and, a shift and an and) once per load for all the tokens, and
 * multiplied as unsigned bytes 0..15 with the activation's signed bytes
 * (vpdpbusd; AVX2 vpmaddubsw, eight of them summed exactly in 16 bits,
 * then vpmaddwd).  The weights' offsets come in through the activation's
 * sums, and the packed form takes about the file's bytes:
 *
 * Q4_0, per group and 32-block (144 bytes, as the eight rows took):
 *   uint16 d[8]          the rows' fp16 scales
 *   uint8  q[4][8][4]    vector j: byte 4r+k = row r's qs[4j+k], i.e.
 *                        weight 4j+k (low nibble) and 16+4j+k (high)
 *   row · x = d·dx·(Σ q·x − 8·Σ x), Σ x summed once per call.
 *
 * Q5_0, per group and 32-block (176 bytes, as the eight rows took):
 *   uint16 d[8]
 *   uint8  h[32]         bit j of byte 4r+k: the 5th bit of row r's
 *                        weight 4j+k (or'ed in as 16 after the nibbles)
 *   uint8  q[4][8][4]    as Q4_0
 *   row · x = d·dx·(Σ q·x − 16·Σ x); AVX2 sums four vpmaddubsw in 16
 *   bits rather than eight (q up to 31).
 *
 * Q4_1 and Q5_1 (160 and 192 bytes, as the rows took): d[8], m[8] (fp16),
 * then as Q4_0 / Q5_0; against Q8_1 activations, row · x =
 * d·dx·Σ q·x + m·s, s the activation block's fp16 d·Σ x.
 *
 * Q4_K, per group and 256-block (1184 bytes where the rows took 1152):
 *   uint16 d[8], dmin[8]
 *   uint8  sc[8][8]      sub-block s's 6-bit scale of row r at [s][r]
 *   uint8  m[4][8][2]    the mins of sub-blocks 2p, 2p+1 of row r
 *   uint8  q[8][4][32]   sub-block s, vector j: byte 4r+k holds weight
 *                        32s+4j+k (low nibble) and 32s+16+4j+k (high)
 *   row · x = dx·(d·Σ_s sc_s·(q·x)_s − dmin·Σ_s m_s·(Σ x)_s), (Σ x)_s
 *   from Q8_K's bsums.
 *
 * The arithmetic of a row and token is fixed — the exact integers of a
 * block (Q4_K: Σ sc·(q·x) and Σ m·(Σ x)), converted and scaled into one
 * float accumulator, blocks in order — so a token's result does not
 * depend on how many tokens share the call, on the row split, or on AVX2
 * against VNNI (tests/test_quant.c checks all three bit for bit).
 */
#include "engine/kernels_packed4.h"

#include "engine/quant.h"

#include <string.h>

#define ROWS 8                   /* rows per group: one 256-bit vector of lanes */
#define Q40_GB (ROWS * 2 + 128)  /* Q4_0 bytes per group and block */
#define Q50_H (ROWS * 2)          /* Q5_0: the 5th bits, then the nibbles */
#define Q50_GB (Q50_H + 32 + 128) /* 176 */
#define Q41_GB (ROWS * 4 + 128)   /* Q4_1: d[8], m[8], the nibbles */
#define Q51_H (ROWS * 4)          /* Q5_1: d[8], m[8], the 5th bits, the nibbles */
#define Q51_GB (Q51_H + 32 + 128) /* 192 */
#define Q4K_D 0                  /* Q4_K offsets in a group-block */
#define Q4K_DMIN 16
#define Q4K_SC 32
#define Q4K_M 96
#define Q4K_Q 160
#define Q4K_GB (Q4K_Q + ROWS * 128) /* 1184 */
#define XSUM_MAX 4096               /* tokens × blocks of Σ x kept on the stack (Q4_0) */

bool kern_packed4_type(ggml_type type)
{
    return type == GGML_TYPE_Q4_0 || type == GGML_TYPE_Q5_0 || type == GGML_TYPE_Q4_1 || type == GGML_TYPE_Q5_1 ||
           type == GGML_TYPE_Q4_K || kern_packedk_type(type);
}

size_t kern_packed4_bytes(ggml_type type, size_t rows, size_t cols)
{
    if (kern_packedk_type(type))
        return kern_packedk_bytes(type, rows, cols);
    size_t groups = (rows + ROWS - 1) / ROWS;
    if ((type == GGML_TYPE_Q4_0 || type == GGML_TYPE_Q5_0) && cols % 32 == 0 && cols / 32 <= XSUM_MAX)
        return groups * (cols / 32) * (type == GGML_TYPE_Q4_0 ? Q40_GB : Q50_GB);
    if ((type == GGML_TYPE_Q4_1 || type == GGML_TYPE_Q5_1) && cols % 32 == 0)
        return groups * (cols / 32) * (type == GGML_TYPE_Q4_1 ? Q41_GB : Q51_GB);
    if (type == GGML_TYPE_Q4_K && cols % QK_K == 0)
        return groups * (cols / QK_K) * Q4K_GB;
    return 0;
}


/* Q5_0/Q5_1's 5th bits of row r into the plane h: bit j of byte 4r+k
 * is element 4j+k's. */
static void pack_hplane(const uint8_t qh[4], size_t r, uint8_t *h)
{
    uint32_t v = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
    for (int k = 0; k < 4; k++) {
        uint8_t b = 0;
        for (int j = 0; j < 8; j++)
            b |= (uint8_t)(((v >> (4 * j + k)) & 1) << j);
        h[4 * r + k] = b;
    }
}

static void pack_q4_K_block(const block_q4_K *src, size_t r, uint8_t *blk)
{
    uint8_t sc[8], mn[8], q[QK_K]; /* q[e]: element e's 4 bits */
    quant_unpack_k4_scales(src->scales, sc, mn);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = src->qs[32 * c + l] & 15;
            q[64 * c + 32 + l] = src->qs[32 * c + l] >> 4;
        }
    memcpy(blk + Q4K_D + 2 * r, &src->d, 2);
    memcpy(blk + Q4K_DMIN + 2 * r, &src->dmin, 2);
    for (int s = 0; s < 8; s++)
        blk[Q4K_SC + 8 * s + r] = sc[s];
    for (int p = 0; p < 4; p++)
        for (int k = 0; k < 2; k++)
            blk[Q4K_M + 16 * p + 2 * r + k] = mn[2 * p + k];
    for (int s = 0; s < 8; s++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 4; k++) {
                int e = 32 * s + 4 * j + k;
                blk[Q4K_Q + (4 * s + j) * 32 + 4 * r + k] = (uint8_t)(q[e] | q[e + 16] << 4);
            }
}

void kern_pack4(ggml_type type, const void *W, size_t rows, size_t cols, void *out)
{
    size_t bytes = kern_packed4_bytes(type, rows, cols);
    if (!bytes)
        return;
    if (kern_packedk_type(type)) {
        kern_packk(type, W, rows, cols, out);
        return;
    }
    bool q40 = type == GGML_TYPE_Q4_0, q50 = type == GGML_TYPE_Q5_0, q41 = type == GGML_TYPE_Q4_1,
         q51 = type == GGML_TYPE_Q5_1;
    size_t gb = q40 ? Q40_GB : q50 ? Q50_GB : q41 ? Q41_GB : q51 ? Q51_GB : Q4K_GB;
    size_t nb = cols / (type == GGML_TYPE_Q4_K ? QK_K : 32);
    size_t groups = (rows + ROWS - 1) / ROWS;
    uint8_t *dst = out;
    if (rows % ROWS) /* the last group's rows past the end: zeros */
        memset(dst + (groups - 1) * nb * gb, 0, nb * gb);
    for (size_t row = 0; row < rows; row++) {
        size_t g = row / ROWS, r = row % ROWS;
        uint8_t *blk = dst + g * nb * gb;
        for (size_t b = 0; b < nb; b++, blk += gb)
            if (q40) {
                const block_q4_0 *src = (const block_q4_0 *)W + row * nb + b;
                memcpy(blk + 2 * r, &src->d, 2);
                for (int j = 0; j < 4; j++)
                    memcpy(blk + ROWS * 2 + 32 * j + 4 * r, src->qs + 4 * j, 4);
            } else if (q50) {
                const block_q5_0 *src = (const block_q5_0 *)W + row * nb + b;
                memcpy(blk + 2 * r, &src->d, 2);
                pack_hplane(src->qh, r, blk + Q50_H);
                for (int j = 0; j < 4; j++)
                    memcpy(blk + Q50_H + 32 + 32 * j + 4 * r, src->qs + 4 * j, 4);
            } else if (q41) {
                const block_q4_1 *src = (const block_q4_1 *)W + row * nb + b;
                memcpy(blk + 2 * r, &src->d, 2);
                memcpy(blk + ROWS * 2 + 2 * r, &src->m, 2);
                for (int j = 0; j < 4; j++)
                    memcpy(blk + ROWS * 4 + 32 * j + 4 * r, src->qs + 4 * j, 4);
            } else if (q51) {
                const block_q5_1 *src = (const block_q5_1 *)W + row * nb + b;
                memcpy(blk + 2 * r, &src->d, 2);
                memcpy(blk + ROWS * 2 + 2 * r, &src->m, 2);
                pack_hplane(src->qh, r, blk + Q51_H);
                for (int j = 0; j < 4; j++)
                    memcpy(blk + Q51_H + 32 + 32 * j + 4 * r, src->qs + 4 * j, 4);
            } else {
                pack_q4_K_block((const block_q4_K *)W + row * nb + b, r, blk);
            }
    }
}

/* The same floats as quant_dequantize_row of the stored row. */
void kern_packed4_row_f32(ggml_type type, const void *P, size_t cols, size_t row, float *out)
{
    if (!kern_packed4_bytes(type, row + 1, cols))
        return;
    if (kern_packedk_type(type)) {
        kern_packedk_row_f32(type, P, cols, row, out);
        return;
    }
    size_t g = row / ROWS, r = row % ROWS;
    if (type == GGML_TYPE_Q4_0) {
        size_t nb = cols / 32;
        const uint8_t *p = (const uint8_t *)P + g * nb * Q40_GB;
        for (size_t b = 0; b < nb; b++, p += Q40_GB, out += 32) {
            uint16_t h;
            memcpy(&h, p + 2 * r, 2);
            float d = quant_f16_to_f32(h);
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 4; k++) {
                    uint8_t byte = p[ROWS * 2 + 32 * j + 4 * r + k];
                    out[4 * j + k] = d * ((byte & 15) - 8);
                    out[16 + 4 * j + k] = d * ((byte >> 4) - 8);
                }
        }
        return;
    }
    if (type == GGML_TYPE_Q5_0) {
        size_t nb = cols / 32;
        const uint8_t *p = (const uint8_t *)P + g * nb * Q50_GB;
        for (size_t b = 0; b < nb; b++, p += Q50_GB, out += 32) {
            uint16_t h;
            memcpy(&h, p + 2 * r, 2);
            float d = quant_f16_to_f32(h);
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 4; k++) {
                    uint8_t byte = p[Q50_H + 32 + 32 * j + 4 * r + k], hb = p[Q50_H + 4 * r + k];
                    int q0 = (byte & 15) | ((hb >> j) & 1) << 4, q1 = (byte >> 4) | ((hb >> (j + 4)) & 1) << 4;
                    out[4 * j + k] = d * (q0 - 16);
                    out[16 + 4 * j + k] = d * (q1 - 16);
                }
        }
        return;
    }
    if (type == GGML_TYPE_Q4_1 || type == GGML_TYPE_Q5_1) {
        bool five = type == GGML_TYPE_Q5_1;
        size_t nb = cols / 32, gb = five ? Q51_GB : Q41_GB, qo = five ? Q51_H + 32 : ROWS * 4;
        const uint8_t *p = (const uint8_t *)P + g * nb * gb;
        for (size_t b = 0; b < nb; b++, p += gb, out += 32) {
            uint16_t h, hm;
            memcpy(&h, p + 2 * r, 2);
            memcpy(&hm, p + ROWS * 2 + 2 * r, 2);
            float d = quant_f16_to_f32(h), m = quant_f16_to_f32(hm);
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 4; k++) {
                    uint8_t byte = p[qo + 32 * j + 4 * r + k], hb = five ? p[Q51_H + 4 * r + k] : 0;
                    int q0 = (byte & 15) | ((hb >> j) & 1) << 4, q1 = (byte >> 4) | ((hb >> (j + 4)) & 1) << 4;
                    out[4 * j + k] = d * q0 + m;
                    out[16 + 4 * j + k] = d * q1 + m;
                }
        }
        return;
    }
    size_t nb = cols / QK_K;
    const uint8_t *p = (const uint8_t *)P + g * nb * Q4K_GB;
    for (size_t b = 0; b < nb; b++, p += Q4K_GB, out += QK_K) {
        uint16_t h, hm;
        memcpy(&h, p + Q4K_D + 2 * r, 2);
        memcpy(&hm, p + Q4K_DMIN + 2 * r, 2);
        float d = quant_f16_to_f32(h), dmin = quant_f16_to_f32(hm);
        for (int s = 0; s < 8; s++) {
            float dl = d * p[Q4K_SC + 8 * s + r], ml = dmin * p[Q4K_M + 16 * (s / 2) + 2 * r + s % 2];
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 4; k++) {
                    uint8_t byte = p[Q4K_Q + (4 * s + j) * 32 + 4 * r + k];
                    out[32 * s + 4 * j + k] = dl * (byte & 15) - ml;
                    out[32 * s + 16 + 4 * j + k] = dl * (byte >> 4) - ml;
                }
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

/* The eight chunk vectors of 32 weights (four loads): v[j] = weights
 * 4j..4j+3 of each row, as bytes 0..15. */
KERN_AVX2_TARGET static inline void unpack8(const uint8_t *q, __m256i v[8])
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
#pragma GCC unroll 8
    for (int j = 0; j < 4; j++) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(q + 32 * j));
        v[j] = _mm256_and_si256(w, m4);
        v[j + 4] = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4);
    }
}

/* unpack8 with Q5_0's 5th bits (h: bit j of byte 4r+k for v[j]) or'ed
 * in as 16: a 16-bit shift moves bit j of each byte to bit 4 of the same
 * byte, and the mask keeps only that bit. */
KERN_AVX2_TARGET static inline void unpack8_5(const uint8_t *h, __m256i v[8])
{
    const __m256i m16 = _mm256_set1_epi8(0x10);
    unpack8(h + 32, v);
    __m256i hv = _mm256_loadu_si256((const __m256i *)h);
    v[0] = _mm256_or_si256(v[0], _mm256_and_si256(_mm256_slli_epi16(hv, 4), m16));
    v[1] = _mm256_or_si256(v[1], _mm256_and_si256(_mm256_slli_epi16(hv, 3), m16));
    v[2] = _mm256_or_si256(v[2], _mm256_and_si256(_mm256_slli_epi16(hv, 2), m16));
    v[3] = _mm256_or_si256(v[3], _mm256_and_si256(_mm256_slli_epi16(hv, 1), m16));
    v[4] = _mm256_or_si256(v[4], _mm256_and_si256(hv, m16));
    v[5] = _mm256_or_si256(v[5], _mm256_and_si256(_mm256_srli_epi16(hv, 1), m16));
    v[6] = _mm256_or_si256(v[6], _mm256_and_si256(_mm256_srli_epi16(hv, 2), m16));
    v[7] = _mm256_or_si256(v[7], _mm256_and_si256(_mm256_srli_epi16(hv, 3), m16));
}

/* Σ over 32 weights of q·x per row, as eight int16 pairs per lane (each
 * |pair| ≤ 8·2·15·128 < 2^15: exact). */
KERN_AVX2_TARGET static inline __m256i pairs_avx2(const __m256i v[8], const int8_t *x)
{
    __m256i p = _mm256_maddubs_epi16(v[0], bcast4(x));
#pragma GCC unroll 8
    for (int j = 1; j < 8; j++)
        p = _mm256_add_epi16(p, _mm256_maddubs_epi16(v[j], bcast4(x + 4 * j)));
    return p;
}

/* Σ over 32 weights of q·x per row, exactly: AVX2, AVX-512 VNNI, AVX-VNNI. */
KERN_AVX2_TARGET static inline __m256i dot32_avx2(const __m256i v[8], const int8_t *x)
{
    return _mm256_madd_epi16(pairs_avx2(v, x), _mm256_set1_epi16(1));
}
/* The same for weights up to 31: two halves of four products in 16 bits
 * (each |pair| ≤ 4·2·31·128 < 2^15). */
KERN_AVX2_TARGET static inline __m256i dot32_avx2_5(const __m256i v[8], const int8_t *x)
{
    __m256i p = _mm256_maddubs_epi16(v[0], bcast4(x)), q = _mm256_maddubs_epi16(v[4], bcast4(x + 16));
#pragma GCC unroll 8
    for (int j = 1; j < 4; j++) {
        p = _mm256_add_epi16(p, _mm256_maddubs_epi16(v[j], bcast4(x + 4 * j)));
        q = _mm256_add_epi16(q, _mm256_maddubs_epi16(v[j + 4], bcast4(x + 16 + 4 * j)));
    }
    const __m256i one = _mm256_set1_epi16(1);
    return _mm256_add_epi32(_mm256_madd_epi16(p, one), _mm256_madd_epi16(q, one));
}
VNNI_TARGET static inline __m256i dot32_vnni(const __m256i v[8], const int8_t *x)
{
    __m256i s = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        s = _mm256_dpbusd_epi32(s, v[j], bcast4(x + 4 * j));
    return s;
}
AVXVNNI_TARGET static inline __m256i dot32_avxvnni(const __m256i v[8], const int8_t *x)
{
    __m256i s = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        s = _mm256_dpbusd_avx_epi32(s, v[j], bcast4(x + 4 * j));
    return s;
}

/* isum + sc·(q·x) of a sub-block (sc: the rows' scales as int32 lanes). */
KERN_AVX2_TARGET static inline __m256i scaled_avx2(__m256i isum, const __m256i v[8], const int8_t *x, __m256i sc)
{
    __m256i sc16 = _mm256_or_si256(sc, _mm256_slli_epi32(sc, 16));
    return _mm256_add_epi32(isum, _mm256_madd_epi16(pairs_avx2(v, x), sc16));
}
VNNI_TARGET static inline __m256i scaled_vnni(__m256i isum, const __m256i v[8], const int8_t *x, __m256i sc)
{
    return _mm256_add_epi32(isum, _mm256_mullo_epi32(dot32_vnni(v, x), sc));
}
AVXVNNI_TARGET static inline __m256i scaled_avxvnni(__m256i isum, const __m256i v[8], const int8_t *x, __m256i sc)
{
    return _mm256_add_epi32(isum, _mm256_mullo_epi32(dot32_avxvnni(v, x), sc));
}

/* Eight rows' results of token t into y. */
#define STORE_ROWS(T)                                                                                 \
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                             \
        float out[ROWS];                                                                              \
        _mm256_storeu_ps(out, acc[t]);                                                                \
        size_t r0 = g * ROWS, n_r = rows - r0 < ROWS ? rows - r0 : ROWS;                              \
        memcpy(y + (size_t)t * ldy + r0, out, n_r * sizeof(float));                                   \
    }

/* Q4_0 and Q5_0 (GB bytes a group-block, UNPACK from its byte BYTE,
 * offset OFF): groups [g0, g1), T tokens of Q8_0 activations xs bytes
 * apart. */
#define Q40_BODY(T, DOT32) Q32_BODY(T, DOT32, Q40_GB, unpack8, ROWS * 2, 8)
#define Q50_BODY(T, DOT32) Q32_BODY(T, DOT32, Q50_GB, unpack8_5, Q50_H, 16)
#define Q32_BODY(T, DOT32, GB, UNPACK, BYTE, OFF)                                                     \
    int32_t xsum[XSUM_MAX];                                                                           \
    for (int t = 0; t < T; t++)                                                                       \
        for (size_t b = 0; b < nb; b++) {                                                             \
            const block_q8_0 *x = (const block_q8_0 *)((const uint8_t *)xq + (size_t)t * xs) + b;     \
            int32_t v = 0;                                                                            \
            for (int k = 0; k < 32; k++)                                                              \
                v += x->qs[k];                                                                        \
            xsum[t * nb + b] = OFF * v;                                                               \
        }                                                                                             \
    for (size_t g = g0; g < g1; g++) {                                                                \
        const uint8_t *p = (const uint8_t *)P + g * nb * GB;                                          \
        __m256 acc[T];                                                                                \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();             \
        for (size_t b = 0; b < nb; b++, p += GB) {                                                    \
            __m256i v[8];                                                                             \
            UNPACK(p + BYTE, v);                                                                      \
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));                         \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                     \
                const block_q8_0 *x = (const block_q8_0 *)((const uint8_t *)xq + (size_t)t * xs) + b; \
                __m256i s = _mm256_sub_epi32(DOT32(v, x->qs), _mm256_set1_epi32(xsum[t * nb + b]));   \
                __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(x->d)));                        \
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), d, acc[t]);                           \
            }                                                                                         \
        }                                                                                             \
        STORE_ROWS(T)                                                                                 \
    }

/* Q4_1 and Q5_1 (d[8], m[8], then UNPACK from byte BYTE): groups
 * [g0, g1), T tokens of Q8_1 activations; the min comes in as m × s (s =
 * the activation block's d·Σ q, fp16), after the block's scaled sum. */
#define Q41_BODY(T, DOT32) Q32M_BODY(T, DOT32, Q41_GB, unpack8, ROWS * 4)
#define Q51_BODY(T, DOT32) Q32M_BODY(T, DOT32, Q51_GB, unpack8_5, Q51_H)
#define Q32M_BODY(T, DOT32, GB, UNPACK, BYTE)                                                         \
    for (size_t g = g0; g < g1; g++) {                                                                \
        const uint8_t *p = (const uint8_t *)P + g * nb * GB;                                          \
        __m256 acc[T];                                                                                \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();             \
        for (size_t b = 0; b < nb; b++, p += GB) {                                                    \
            __m256i v[8];                                                                             \
            UNPACK(p + BYTE, v);                                                                      \
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));                         \
            __m256 mw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + ROWS * 2)));            \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                     \
                const block_q8_1 *x = (const block_q8_1 *)((const uint8_t *)xq + (size_t)t * xs) + b; \
                __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(x->d)));                        \
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT32(v, x->qs)), d, acc[t]);             \
                acc[t] = _mm256_fmadd_ps(mw, _mm256_set1_ps(_cvtsh_ss(x->s)), acc[t]);                \
            }                                                                                         \
        }                                                                                             \
        STORE_ROWS(T)                                                                                 \
    }

/* Q4_K: groups [g0, g1), T tokens of Q8_K activations xs bytes apart. */
#define Q4K_BODY(T, SCALED)                                                                           \
    for (size_t g = g0; g < g1; g++) {                                                                \
        const uint8_t *p = (const uint8_t *)P + g * nb * Q4K_GB;                                      \
        __m256 acc[T];                                                                                \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();             \
        for (size_t b = 0; b < nb; b++, p += Q4K_GB) {                                                \
            __m256i isum[T];                                                                          \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) isum[t] = _mm256_setzero_si256();     \
            for (int s = 0; s < 8; s++) {                                                             \
                __m256i v[8];                                                                         \
                unpack8(p + Q4K_Q + 128 * s, v);                                                      \
                __m256i sc = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + Q4K_SC + 8 * s))); \
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                 \
                    const block_q8_K *x = (const block_q8_K *)((const uint8_t *)xq + (size_t)t * xs) + b; \
                    isum[t] = SCALED(isum[t], v, x->qs + 32 * s, sc);                                 \
                }                                                                                     \
            }                                                                                         \
            __m256 dd = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + Q4K_D)));               \
            __m256 dm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + Q4K_DMIN)));            \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                     \
                const block_q8_K *x = (const block_q8_K *)((const uint8_t *)xq + (size_t)t * xs) + b; \
                __m256i ms = _mm256_setzero_si256();                                                  \
                _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++) {                                 \
                    __m256i m = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p + Q4K_M + 16 * q))); \
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

#define DEFINE_P4(NAME, TARGET, BODY, T, OP)                                                          \
    TARGET static void NAME(const void *P, size_t rows, size_t nb, const void *xq, size_t xs, size_t g0, \
                            size_t g1, float *y, size_t ldy)                                          \
    {                                                                                                 \
        BODY(T, OP)                                                                                   \
    }

DEFINE_P4(q40_avx2_1, KERN_AVX2_TARGET, Q40_BODY, 1, dot32_avx2)
DEFINE_P4(q40_avx2_2, KERN_AVX2_TARGET, Q40_BODY, 2, dot32_avx2)
DEFINE_P4(q40_avx2_4, KERN_AVX2_TARGET, Q40_BODY, 4, dot32_avx2)
DEFINE_P4(q40_avxvnni_1, AVXVNNI_TARGET, Q40_BODY, 1, dot32_avxvnni)
DEFINE_P4(q40_avxvnni_2, AVXVNNI_TARGET, Q40_BODY, 2, dot32_avxvnni)
DEFINE_P4(q40_avxvnni_4, AVXVNNI_TARGET, Q40_BODY, 4, dot32_avxvnni)
DEFINE_P4(q40_vnni_1, VNNI_TARGET, Q40_BODY, 1, dot32_vnni)
DEFINE_P4(q40_vnni_2, VNNI_TARGET, Q40_BODY, 2, dot32_vnni)
DEFINE_P4(q40_vnni_4, VNNI_TARGET, Q40_BODY, 4, dot32_vnni)
DEFINE_P4(q40_vnni_8, VNNI_TARGET, Q40_BODY, 8, dot32_vnni)
DEFINE_P4(q50_avx2_1, KERN_AVX2_TARGET, Q50_BODY, 1, dot32_avx2_5)
DEFINE_P4(q50_avx2_2, KERN_AVX2_TARGET, Q50_BODY, 2, dot32_avx2_5)
DEFINE_P4(q50_avx2_4, KERN_AVX2_TARGET, Q50_BODY, 4, dot32_avx2_5)
DEFINE_P4(q50_avxvnni_1, AVXVNNI_TARGET, Q50_BODY, 1, dot32_avxvnni)
DEFINE_P4(q50_avxvnni_2, AVXVNNI_TARGET, Q50_BODY, 2, dot32_avxvnni)
DEFINE_P4(q50_avxvnni_4, AVXVNNI_TARGET, Q50_BODY, 4, dot32_avxvnni)
DEFINE_P4(q50_vnni_1, VNNI_TARGET, Q50_BODY, 1, dot32_vnni)
DEFINE_P4(q50_vnni_2, VNNI_TARGET, Q50_BODY, 2, dot32_vnni)
DEFINE_P4(q50_vnni_4, VNNI_TARGET, Q50_BODY, 4, dot32_vnni)
DEFINE_P4(q50_vnni_8, VNNI_TARGET, Q50_BODY, 8, dot32_vnni)
DEFINE_P4(q41_avx2_1, KERN_AVX2_TARGET, Q41_BODY, 1, dot32_avx2)
DEFINE_P4(q41_avx2_2, KERN_AVX2_TARGET, Q41_BODY, 2, dot32_avx2)
DEFINE_P4(q41_avx2_4, KERN_AVX2_TARGET, Q41_BODY, 4, dot32_avx2)
DEFINE_P4(q41_avxvnni_1, AVXVNNI_TARGET, Q41_BODY, 1, dot32_avxvnni)
DEFINE_P4(q41_avxvnni_2, AVXVNNI_TARGET, Q41_BODY, 2, dot32_avxvnni)
DEFINE_P4(q41_avxvnni_4, AVXVNNI_TARGET, Q41_BODY, 4, dot32_avxvnni)
DEFINE_P4(q41_vnni_1, VNNI_TARGET, Q41_BODY, 1, dot32_vnni)
DEFINE_P4(q41_vnni_2, VNNI_TARGET, Q41_BODY, 2, dot32_vnni)
DEFINE_P4(q41_vnni_4, VNNI_TARGET, Q41_BODY, 4, dot32_vnni)
DEFINE_P4(q41_vnni_8, VNNI_TARGET, Q41_BODY, 8, dot32_vnni)
DEFINE_P4(q51_avx2_1, KERN_AVX2_TARGET, Q51_BODY, 1, dot32_avx2_5)
DEFINE_P4(q51_avx2_2, KERN_AVX2_TARGET, Q51_BODY, 2, dot32_avx2_5)
DEFINE_P4(q51_avx2_4, KERN_AVX2_TARGET, Q51_BODY, 4, dot32_avx2_5)
DEFINE_P4(q51_avxvnni_1, AVXVNNI_TARGET, Q51_BODY, 1, dot32_avxvnni)
DEFINE_P4(q51_avxvnni_2, AVXVNNI_TARGET, Q51_BODY, 2, dot32_avxvnni)
DEFINE_P4(q51_avxvnni_4, AVXVNNI_TARGET, Q51_BODY, 4, dot32_avxvnni)
DEFINE_P4(q51_vnni_1, VNNI_TARGET, Q51_BODY, 1, dot32_vnni)
DEFINE_P4(q51_vnni_2, VNNI_TARGET, Q51_BODY, 2, dot32_vnni)
DEFINE_P4(q51_vnni_4, VNNI_TARGET, Q51_BODY, 4, dot32_vnni)
DEFINE_P4(q51_vnni_8, VNNI_TARGET, Q51_BODY, 8, dot32_vnni)
DEFINE_P4(q4k_avx2_1, KERN_AVX2_TARGET, Q4K_BODY, 1, scaled_avx2)
DEFINE_P4(q4k_avx2_2, KERN_AVX2_TARGET, Q4K_BODY, 2, scaled_avx2)
DEFINE_P4(q4k_avx2_4, KERN_AVX2_TARGET, Q4K_BODY, 4, scaled_avx2)
DEFINE_P4(q4k_avxvnni_1, AVXVNNI_TARGET, Q4K_BODY, 1, scaled_avxvnni)
DEFINE_P4(q4k_avxvnni_2, AVXVNNI_TARGET, Q4K_BODY, 2, scaled_avxvnni)
DEFINE_P4(q4k_avxvnni_4, AVXVNNI_TARGET, Q4K_BODY, 4, scaled_avxvnni)
DEFINE_P4(q4k_vnni_1, VNNI_TARGET, Q4K_BODY, 1, scaled_vnni)
DEFINE_P4(q4k_vnni_2, VNNI_TARGET, Q4K_BODY, 2, scaled_vnni)
DEFINE_P4(q4k_vnni_4, VNNI_TARGET, Q4K_BODY, 4, scaled_vnni)
DEFINE_P4(q4k_vnni_8, VNNI_TARGET, Q4K_BODY, 8, scaled_vnni)

typedef void (*p4_fn)(const void *, size_t, size_t, const void *, size_t, size_t, size_t, float *, size_t);

void kern_packed4_matmul_x86(kern_packed_isa isa, ggml_type type, const void *P, size_t rows, size_t cols,
                             const void *xq, size_t xq_stride, size_t n, size_t g0, size_t g1, float *y,
                             size_t ldy)
{
    static const p4_fn fns[5][3][4] = {
        {[KERN_PACKED_AVX2] = {q40_avx2_1, q40_avx2_2, q40_avx2_4, NULL},
         [KERN_PACKED_AVXVNNI] = {q40_avxvnni_1, q40_avxvnni_2, q40_avxvnni_4, NULL},
         [KERN_PACKED_VNNI512] = {q40_vnni_1, q40_vnni_2, q40_vnni_4, q40_vnni_8}},
        {[KERN_PACKED_AVX2] = {q50_avx2_1, q50_avx2_2, q50_avx2_4, NULL},
         [KERN_PACKED_AVXVNNI] = {q50_avxvnni_1, q50_avxvnni_2, q50_avxvnni_4, NULL},
         [KERN_PACKED_VNNI512] = {q50_vnni_1, q50_vnni_2, q50_vnni_4, q50_vnni_8}},
        {[KERN_PACKED_AVX2] = {q41_avx2_1, q41_avx2_2, q41_avx2_4, NULL},
         [KERN_PACKED_AVXVNNI] = {q41_avxvnni_1, q41_avxvnni_2, q41_avxvnni_4, NULL},
         [KERN_PACKED_VNNI512] = {q41_vnni_1, q41_vnni_2, q41_vnni_4, q41_vnni_8}},
        {[KERN_PACKED_AVX2] = {q51_avx2_1, q51_avx2_2, q51_avx2_4, NULL},
         [KERN_PACKED_AVXVNNI] = {q51_avxvnni_1, q51_avxvnni_2, q51_avxvnni_4, NULL},
         [KERN_PACKED_VNNI512] = {q51_vnni_1, q51_vnni_2, q51_vnni_4, q51_vnni_8}},
        {[KERN_PACKED_AVX2] = {q4k_avx2_1, q4k_avx2_2, q4k_avx2_4, NULL},
         [KERN_PACKED_AVXVNNI] = {q4k_avxvnni_1, q4k_avxvnni_2, q4k_avxvnni_4, NULL},
         [KERN_PACKED_VNNI512] = {q4k_vnni_1, q4k_vnni_2, q4k_vnni_4, q4k_vnni_8}},
    };
    if (!kern_packed4_bytes(type, rows, cols))
        return;
    if (kern_packedk_type(type)) {
        kern_packedk_matmul_x86(isa, type, P, rows, cols, xq, xq_stride, n, g0, g1, y, ldy);
        return;
    }
    bool xsums = type == GGML_TYPE_Q4_0 || type == GGML_TYPE_Q5_0; /* Σ x on the stack */
    size_t nb = cols / (type == GGML_TYPE_Q4_K ? QK_K : 32);
    int ti = type == GGML_TYPE_Q4_0 ? 0 : type == GGML_TYPE_Q5_0 ? 1 : type == GGML_TYPE_Q4_1 ? 2 : type == GGML_TYPE_Q5_1 ? 3 : 4;
    const p4_fn *f = fns[ti][isa];
    const uint8_t *x = xq;
    /* the widest token block first, then the rest (Q4_0: as many as its
     * Σ x fits the stack); a token's arithmetic is the same in any block */
    while (n > 0) {
        int k = n >= 8 && f[3] ? 3 : n >= 4 ? 2 : n >= 2 ? 1 : 0;
        while (xsums && k > 0 && ((size_t)1 << k) * nb > XSUM_MAX)
            k--;
        size_t t = (size_t)1 << k;
        f[k](P, rows, nb, x, xq_stride, g0, g1, y, ldy);
        x += t * xq_stride;
        y += t * ldy;
        n -= t;
    }
}
#endif /* KERN_X86 */
