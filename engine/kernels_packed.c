/*
 * kernels_packed.c — Q8_0 weights repacked eight rows at a time, and the
 * products that read them (declared in kernels.h).
 *
 * A dot product of one row keeps eight lanes of partial sums for one
 * output and must scale each 32-block's integer sum before adding it:
 * for every 32 weights, a load of the weights, their conversion, the
 * integer product, a conversion to float and a multiply-add — for one
 * output.  Interleaving eight rows changes what a lane is: lane r is row
 * r's output, so each instruction works for eight outputs.  Per group of
 * eight rows and 32-block b, the packed layout holds
 *
 *   fp16  d[8]          the eight rows' scales, as stored
 *   int8  q[8][8][4]    chunk j (weights 4j..4j+3) of row 0, row 1, ... row 7
 *
 * 272 bytes, as the rows took: decoding one token streams every weight
 * once, so a byte more per block is time (float scales, 288 bytes, made
 * decode 6% slower than these; the scales' conversion is one vcvtph2ps
 * per block and group, exact).  With an activation chunk of four
 * bytes broadcast to every lane, one vpdpbusd (AVX-512 VNNI, on 256-bit
 * vectors) or vpmaddubsw + vpmaddwd (AVX2) adds four products to each
 * row's exact integer sum; eight chunks make the block's sums, converted
 * once and scaled by d_row · d_x into one float accumulator per row.
 * Several tokens share each load of the weights (up to 4 on AVX2, 8 with
 * VNNI's 32 registers).
 *
 * The arithmetic per row and token is fixed — the exact integer sum of a
 * block, then acc += float(sum) × (d_w × d_x), blocks in order — so a
 * token's result does not depend on how many tokens are multiplied with
 * it, on the thread that computes its rows, or on AVX2 against VNNI.  It
 * is not the unpacked dot product's (which sums eight lanes per block and
 * adds them at the end): both are within the tolerance of test_quant's
 * exact reference, not bit for bit equal to each other.
 */
#include "engine/kernels.h"
#include "engine/kernels_avx2.h"
#include "engine/kernels_packed4.h"
#include "engine/kernels_packed_bf16.h"

#include "engine/quant.h"

#include <string.h>

#define PACK_ROWS 8 /* Q8_0 rows per group: one 256-bit vector of lanes */
#define F16_ROWS 16 /* F16 rows per group: one 512-bit vector, or two 256-bit ones */
/* Floats of F16 activations converted at a time (kern_packed_f16_x86's
 * stack): 256 KiB, eight tokens of rows as wide as 8192; wider rows than
 * this holds are not packed. */
#define F16_SPAN_FLOATS 65536
/* Weights per pass of a span's blocks of tokens, so that they stay in L2. */
#define F16_PANEL_BYTES (192 * 1024)
#define SCALE_BYTES (PACK_ROWS * sizeof(uint16_t)) /* a block's eight fp16 scales, before its weights */
#define GROUP_BLOCK_BYTES (SCALE_BYTES + PACK_ROWS * 32) /* one block of a group */

size_t kern_packed_bytes(ggml_type type, size_t rows, size_t cols)
{
    if (kern_packed4_type(type))
        return kern_packed4_bytes(type, rows, cols);
    if (type == GGML_TYPE_BF16)
        return kern_packed_bf16_bytes(rows, cols);
    if (type == GGML_TYPE_F16)
        return cols <= F16_SPAN_FLOATS ? (rows + F16_ROWS - 1) / F16_ROWS * cols * F16_ROWS * sizeof(uint16_t) : 0;
    if (type != GGML_TYPE_Q8_0 || cols % 32)
        return 0;
    size_t groups = (rows + PACK_ROWS - 1) / PACK_ROWS;
    return groups * (cols / 32) * GROUP_BLOCK_BYTES;
}

/* F16: per group of sixteen rows, column by column, the sixteen rows'
 * halves of that column (32 bytes); rows past the end are zeros. */
static void pack_f16(const uint16_t *W, size_t rows, size_t cols, uint16_t *out)
{
    size_t groups = (rows + F16_ROWS - 1) / F16_ROWS;
    for (size_t g = 0; g < groups; g++) {
        uint16_t *dst = out + g * cols * F16_ROWS;
        for (size_t r = 0; r < F16_ROWS; r++) {
            size_t row = g * F16_ROWS + r;
            for (size_t c = 0; c < cols; c++)
                dst[c * F16_ROWS + r] = row < rows ? W[row * cols + c] : 0;
        }
    }
}

void kern_pack(ggml_type type, const void *W, size_t rows, size_t cols, void *out)
{
    if (!kern_packed_bytes(type, rows, cols))
        return;
    if (kern_packed4_type(type)) {
        kern_pack4(type, W, rows, cols, out);
        return;
    }
    if (type == GGML_TYPE_BF16) {
        kern_pack_bf16(W, rows, cols, out);
        return;
    }
    if (type == GGML_TYPE_F16) {
        pack_f16(W, rows, cols, out);
        return;
    }
    size_t nb = cols / 32, groups = (rows + PACK_ROWS - 1) / PACK_ROWS;
    const block_q8_0 *src = W;
    uint8_t *dst = out;
    if (rows % PACK_ROWS) /* the last group's rows past the end: zeros */
        memset(dst + (groups - 1) * nb * GROUP_BLOCK_BYTES, 0, nb * GROUP_BLOCK_BYTES);
    for (size_t g = 0; g < groups; g++)
        for (size_t r = 0; r < PACK_ROWS && g * PACK_ROWS + r < rows; r++) {
            const block_q8_0 *row = src + (g * PACK_ROWS + r) * nb;
            uint8_t *blk = dst + g * nb * GROUP_BLOCK_BYTES;
            for (size_t b = 0; b < nb; b++, blk += GROUP_BLOCK_BYTES) {
                memcpy(blk + r * sizeof row[b].d, &row[b].d, sizeof row[b].d);
                uint8_t *q = blk + SCALE_BYTES + r * 4;
                for (int j = 0; j < 8; j++)
                    memcpy(q + j * PACK_ROWS * 4, row[b].qs + 4 * j, 4);
            }
        }
}

void kern_packed_row_f32(ggml_type type, const void *P, size_t cols, size_t row, float *out)
{
    if (kern_packed4_type(type)) {
        kern_packed4_row_f32(type, P, cols, row, out);
        return;
    }
    if (type == GGML_TYPE_BF16) {
        kern_packed_bf16_row_f32(P, cols, row, out);
        return;
    }
    if (type == GGML_TYPE_F16) {
        const uint16_t *g = (const uint16_t *)P + row / F16_ROWS * cols * F16_ROWS;
        for (size_t c = 0; c < cols; c++)
            out[c] = quant_f16_to_f32(g[c * F16_ROWS + row % F16_ROWS]);
        return;
    }
    if (type != GGML_TYPE_Q8_0 || cols % 32)
        return;
    size_t nb = cols / 32, g = row / PACK_ROWS, r = row % PACK_ROWS;
    const uint8_t *p = (const uint8_t *)P + g * nb * GROUP_BLOCK_BYTES;
    for (size_t b = 0; b < nb; b++, p += GROUP_BLOCK_BYTES) {
        uint16_t h;
        memcpy(&h, p + r * sizeof h, sizeof h);
        float d = quant_f16_to_f32(h);
        const int8_t *q = (const int8_t *)(p + SCALE_BYTES);
        for (int j = 0; j < 8; j++)
            for (int k = 0; k < 4; k++)
                out[b * 32 + 4 * j + k] = d * (float)q[(j * PACK_ROWS + r) * 4 + k];
    }
}

#if KERN_X86
#include <immintrin.h>

/* A group's eight row scales of the block at p, as floats (exact). */
KERN_AVX2_TARGET static inline __m256 group_scales(const uint8_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

/*
 * y[t·ldy + row] for the rows of groups [g0, g1) and T tokens: the body
 * shared by the AVX2 and the VNNI kernels, which differ only in
 * ADD4(sum, |w|, x signed as w) — four products per lane, exactly.
 */
#define PACKED_BODY(T, ADD4)                                                                          \
    const uint8_t *base = P;                                                                          \
    const uint8_t *xb = xq;                                                                           \
    for (size_t g = g0; g < g1; g++) {                                                                \
        const uint8_t *p = base + g * nb * GROUP_BLOCK_BYTES;                                         \
        __m256 acc[T];                                                                                \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();             \
        for (size_t b = 0; b < nb; b++, p += GROUP_BLOCK_BYTES) {                                     \
            __m256i sum[T];                                                                           \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) sum[t] = _mm256_setzero_si256();      \
            const __m256i *q = (const __m256i *)(p + SCALE_BYTES);                                    \
            _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {                                     \
                __m256i w = _mm256_loadu_si256(q + j), aw = _mm256_abs_epi8(w);                       \
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                 \
                    const block_q8_0 *x = (const block_q8_0 *)(xb + (size_t)t * xs) + b;             \
                    int32_t chunk;                                                                    \
                    memcpy(&chunk, x->qs + 4 * j, 4);                                                 \
                    sum[t] = ADD4(sum[t], aw, _mm256_sign_epi8(_mm256_set1_epi32(chunk), w));         \
                }                                                                                     \
            }                                                                                         \
            __m256 dw = group_scales(p);                                                              \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                     \
                const block_q8_0 *x = (const block_q8_0 *)(xb + (size_t)t * xs) + b;                 \
                __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(x->d)));                        \
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[t]), d, acc[t]);                      \
            }                                                                                         \
        }                                                                                             \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                         \
            float out[PACK_ROWS];                                                                     \
            _mm256_storeu_ps(out, acc[t]);                                                            \
            size_t r0 = g * PACK_ROWS, n_r = rows - r0 < PACK_ROWS ? rows - r0 : PACK_ROWS;           \
            memcpy(y + (size_t)t * ldy + r0, out, n_r * sizeof(float));                               \
        }                                                                                             \
    }

/*
 * The VNNI body takes the weights as unsigned bytes, w + 128 (one xor per
 * weight load, shared by every token), against the activation's signed
 * bytes as they are: vpdpbusd then adds Σ (w + 128)·x, and 128 × the
 * block's Σ x (xsum, per token and block, summed once per call) comes off
 * at the end — exactly the same integer, one instruction fewer per token
 * and chunk than |w| × (x signed as w).
 */
#define PACKED_BODY_VNNI(T, DPBUSD)                                                                   \
    const uint8_t *base = P;                                                                          \
    const uint8_t *xb = xq;                                                                           \
    for (size_t g = g0; g < g1; g++) {                                                                \
        const uint8_t *p = base + g * nb * GROUP_BLOCK_BYTES;                                         \
        __m256 acc[T];                                                                                \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = _mm256_setzero_ps();             \
        for (size_t b = 0; b < nb; b++, p += GROUP_BLOCK_BYTES) {                                     \
            /* few tokens: two chains of vpdpbusd per token (even and odd   \
             * chunks), half the latency; integers, so the same sum */       \
            __m256i sum[T], sum2[T];                                                                  \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) sum[t] = sum2[t] = _mm256_setzero_si256(); \
            const __m256i *q = (const __m256i *)(p + SCALE_BYTES);                                    \
            _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {                                     \
                __m256i wu = _mm256_xor_si256(_mm256_loadu_si256(q + j), _mm256_set1_epi8((char)0x80)); \
                _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                 \
                    const block_q8_0 *x = (const block_q8_0 *)(xb + (size_t)t * xs) + b;             \
                    int32_t chunk;                                                                    \
                    memcpy(&chunk, x->qs + 4 * j, 4);                                                 \
                    if (T <= 2 && j % 2)                                                              \
                        sum2[t] = DPBUSD(sum2[t], wu, _mm256_set1_epi32(chunk));                      \
                    else                                                                              \
                        sum[t] = DPBUSD(sum[t], wu, _mm256_set1_epi32(chunk));                        \
                }                                                                                     \
            }                                                                                         \
            __m256 dw = group_scales(p);                                                              \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                     \
                const block_q8_0 *x = (const block_q8_0 *)(xb + (size_t)t * xs) + b;                 \
                if (T <= 2)                                                                           \
                    sum[t] = _mm256_add_epi32(sum[t], sum2[t]);                                       \
                __m256i exact = _mm256_sub_epi32(sum[t], _mm256_set1_epi32(128 * xsum[t * nb + b]));  \
                __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(x->d)));                        \
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(exact), d, acc[t]);                       \
            }                                                                                         \
        }                                                                                             \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                         \
            float out[PACK_ROWS];                                                                     \
            _mm256_storeu_ps(out, acc[t]);                                                            \
            size_t r0 = g * PACK_ROWS, n_r = rows - r0 < PACK_ROWS ? rows - r0 : PACK_ROWS;           \
            memcpy(y + (size_t)t * ldy + r0, out, n_r * sizeof(float));                               \
        }                                                                                             \
    }

#define ADD4_AVX2(s, aw, sx) _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), _mm256_set1_epi16(1)))
#define VNNI_TARGET __attribute__((target("avx2,fma,f16c,avx512vl,avx512vnni,avx512bw")))

#define DEFINE_PACKED(NAME, TARGET, T, ADD4)                                                          \
    TARGET static void NAME(const void *P, size_t rows, size_t nb, const void *xq, size_t xs, size_t g0, \
                            size_t g1, float *y, size_t ldy)                                          \
    {                                                                                                 \
        PACKED_BODY(T, ADD4)                                                                          \
    }

DEFINE_PACKED(packed_avx2_1, KERN_AVX2_TARGET, 1, ADD4_AVX2)
DEFINE_PACKED(packed_avx2_2, KERN_AVX2_TARGET, 2, ADD4_AVX2)
DEFINE_PACKED(packed_avx2_4, KERN_AVX2_TARGET, 4, ADD4_AVX2)
typedef void (*packed_fn)(const void *, size_t, size_t, const void *, size_t, size_t, size_t, float *, size_t);

#define XSUM_MAX 4096 /* tokens × blocks the VNNI body keeps Σ x for, on the stack */

/* Σ of a block's 32 signed bytes: (x ^ 0x80) as unsigned, summed in
 * eight-byte groups by vpsadbw, less 32 × 128. */
KERN_AVX2_TARGET static inline int32_t block_sum(const int8_t *qs)
{
    __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)qs), _mm256_set1_epi8((char)0x80));
    __m256i s = _mm256_sad_epu8(u, _mm256_setzero_si256());
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return (int32_t)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1)) - 32 * 128;
}

#define DEFINE_PACKED_VNNI(NAME, TARGET, T, DPBUSD)                                                   \
    TARGET static void NAME(const void *P, size_t rows, size_t nb, const void *xq, size_t xs, size_t g0, \
                                 size_t g1, float *y, size_t ldy)                                    \
    {                                                                                                 \
        int32_t xsum[XSUM_MAX];                                                                       \
        for (int t = 0; t < T; t++)                                                                   \
            for (size_t b = 0; b < nb; b++)                                                           \
                xsum[t * nb + b] = block_sum(((const block_q8_0 *)((const uint8_t *)xq + (size_t)t * xs) + b)->qs); \
        PACKED_BODY_VNNI(T, DPBUSD)                                                                   \
    }

#define AVXVNNI_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))
DEFINE_PACKED_VNNI(packed_vnni_1, VNNI_TARGET, 1, _mm256_dpbusd_epi32)
DEFINE_PACKED_VNNI(packed_vnni_2, VNNI_TARGET, 2, _mm256_dpbusd_epi32)
DEFINE_PACKED_VNNI(packed_vnni_4, VNNI_TARGET, 4, _mm256_dpbusd_epi32)
DEFINE_PACKED_VNNI(packed_vnni_8, VNNI_TARGET, 8, _mm256_dpbusd_epi32)
/* AVX-VNNI has 16 registers: four tokens at most */
DEFINE_PACKED_VNNI(packed_avxvnni_1, AVXVNNI_TARGET, 1, _mm256_dpbusd_avx_epi32)
DEFINE_PACKED_VNNI(packed_avxvnni_2, AVXVNNI_TARGET, 2, _mm256_dpbusd_avx_epi32)
DEFINE_PACKED_VNNI(packed_avxvnni_4, AVXVNNI_TARGET, 4, _mm256_dpbusd_avx_epi32)

/*
 * Many tokens at once on AVX-512 VNNI (a step of several decoded
 * sequences, a short prompt).  The eight-row kernels above keep a token's
 * activation in its own blocks: per 32 weights and token they load and
 * broadcast a chunk, and once per block they convert the token's fp16
 * scale and look up its Σ x — scattered loads of eight separate rows that
 * leave the multiply-adds idle most of the time (8 tokens ran at 2.7-3.6×
 * the time of one, where the weights are read once).  Here the
 * activations are laid out once per product (kern_packed_tile), tokens
 * side by side in tiles of TILE_T:
 *
 *   per block b of a tile of T tokens, 40·T bytes:
 *     int32 chunk[8][T]   bytes 4j..4j+3 of each token's block
 *     int32 off[T]        -128 × Σ of the block's bytes (VNNI's unsigned weights)
 *     float d[T]          the block's scale, converted
 *
 * and the kernel takes two groups (sixteen rows) per 512-bit vector, so
 * one vpdpbusd adds four products for sixteen rows, every broadcast comes
 * from one pointer at fixed offsets, and a group pair's weights, read
 * once from memory, serve every tile while they are in L1/L2.  A row's
 * arithmetic is the VNNI kernels' — the block's exact integer sum (here
 * started at -128·Σx rather than corrected at the end: the same integer),
 * converted, times d_w × d_x, added into one accumulator, blocks in order
 * — so the results are theirs bit for bit, for any number of tokens.
 */
#define TILE_T 8                        /* tokens per tile: 2 × 8 accumulators of 32 registers */
#define TILE_BLOCK_INTS (8 + 1 + 1)     /* per block and token: chunks, offset, scale */

size_t kern_packed_tile_bytes_x86(size_t cols, size_t n)
{
    return n * (cols / 32) * TILE_BLOCK_INTS * sizeof(int32_t);
}

void kern_packed_tile_x86(const void *xq, size_t xq_stride, size_t n, size_t cols, void *out)
{
    size_t nb = cols / 32;
    int32_t *o = out;
    for (size_t t0 = 0; t0 < n; t0 += TILE_T) {
        size_t T = n - t0 < TILE_T ? n - t0 : TILE_T;
        for (size_t t = 0; t < T; t++) {
            const block_q8_0 *x = (const block_q8_0 *)((const uint8_t *)xq + (t0 + t) * xq_stride);
            for (size_t b = 0; b < nb; b++) {
                int32_t *blk = o + b * TILE_BLOCK_INTS * T;
                int32_t sum = 0;
                for (int k = 0; k < 32; k++)
                    sum += x[b].qs[k];
                for (int j = 0; j < 8; j++)
                    memcpy(blk + j * T + t, x[b].qs + 4 * j, 4);
                blk[8 * T + t] = -128 * sum;
                float d = quant_f16_to_f32(x[b].d);
                memcpy(blk + 9 * T + t, &d, sizeof d);
            }
        }
        o += nb * TILE_BLOCK_INTS * T;
    }
}

#define ZMM_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))

/* One tile of T tokens against the group pair at p0 and p1 (p1 = p0 for
 * a lone last group): y[t·ldy + lane] for the lanes in `keep`. */
#define TILE_BODY(T)                                                                                  \
    __m512 acc[T];                                                                                    \
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();                 \
    const __m512i bias = _mm512_set1_epi8((char)0x80);                                                \
    for (size_t b = 0; b < nb; b++, p0 += GROUP_BLOCK_BYTES, p1 += GROUP_BLOCK_BYTES, x += TILE_BLOCK_INTS * T) { \
        __m512i sum[T];                                                                               \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) sum[t] = _mm512_set1_epi32(x[8 * T + t]); \
        if (ahead) {                                                                                  \
            _Pragma("GCC unroll 5") for (int l = 0; l < 5; l++) {                                     \
                _mm_prefetch((const char *)p0 + ahead + 64 * l, _MM_HINT_T0);                         \
                _mm_prefetch((const char *)p1 + ahead + 64 * l, _MM_HINT_T0);                         \
            }                                                                                         \
        }                                                                                             \
        const __m256i *q0 = (const __m256i *)(p0 + SCALE_BYTES);                                      \
        const __m256i *q1 = (const __m256i *)(p1 + SCALE_BYTES);                                      \
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {                                         \
            __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(q0 + j)),        \
                                           _mm256_loadu_si256(q1 + j), 1);                            \
            w = _mm512_xor_si512(w, bias);                                                            \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)                                       \
                sum[t] = _mm512_dpbusd_epi32(sum[t], w, _mm512_set1_epi32(x[j * T + t]));             \
        }                                                                                             \
        __m512 dw = _mm512_cvtph_ps(_mm256_inserti128_si256(                                         \
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p0)),                             \
            _mm_loadu_si128((const __m128i *)p1), 1)); /* the pair's sixteen scales */                \
        const float *d = (const float *)(x + 9 * T);                                                  \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)                                           \
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[t]), _mm512_mul_ps(dw, _mm512_set1_ps(d[t])), acc[t]); \
    }                                                                                                 \
    _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) _mm512_mask_storeu_ps(y + (size_t)t * ldy, keep, acc[t]);

#define DEFINE_TILE(T)                                                                                \
    ZMM_TARGET static void tile_##T(const uint8_t *p0, const uint8_t *p1, size_t nb, const int32_t *x, float *y, \
                                    size_t ldy, __mmask16 keep, size_t ahead)                                       \
    {                                                                                                 \
        TILE_BODY(T)                                                                                  \
    }
DEFINE_TILE(1)
DEFINE_TILE(2)
DEFINE_TILE(3)
DEFINE_TILE(4)
DEFINE_TILE(5)
DEFINE_TILE(6)
DEFINE_TILE(7)
DEFINE_TILE(8)

typedef void (*tile_fn)(const uint8_t *, const uint8_t *, size_t, const int32_t *, float *, size_t, __mmask16,
                        size_t);

/*
 * The same tiles on 256-bit vectors (the avx2 and avxvnni paths, sixteen
 * registers): one group (eight rows, one vector) against a pass of U <= 4
 * of a tile's TS tokens — U accumulators and U integer sums — two passes
 * per tile of more than four, the group's weights still in L1 for the
 * second.  TS and U are constants (one function per pair), so every
 * broadcast is at a fixed offset from x: the pass's first token in the
 * tile's first block, chunk j of token t at x[j·TS + t], its offset at
 * x[8·TS + t], its scale at x[9·TS + t], the next block 10·TS ints on.
 * The first pass of a group prefetches the next group's weights (`ahead`
 * bytes on; 0: none).
 *
 * A row's arithmetic is the eight-row kernels' of the same path: per
 * chunk ADD4 on AVX2 (|w| · (x signed as w), vpmaddubsw + vpmaddwd), the
 * unsigned w + 128 by vpdpbusd with the sum started at -128·Σx on
 * AVX-VNNI (the integer PACKED_BODY_VNNI corrects to at the end), then
 * acc += float(sum) × (d_w × d_x), blocks in order: bit for bit theirs.
 * The empty asm keeps each token's sum one chain of adds in registers
 * (reassociated into a tree of 32 products, it spilled).  vpdpbusd adds
 * into its sum, a chain of latency 4-5: on AVX-VNNI every pass keeps two
 * chains per token (2·U sums, U accumulators, 15 registers at U = 4);
 * AVX2's chains are one vpaddd each, two for one or two tokens only.
 */
#define TILE256_BODY(TS, U, CHUNK, START, CHAINS)                                                             \
    __m256 acc[U];                                                                                    \
    _Pragma("GCC unroll 4") for (int t = 0; t < U; t++) acc[t] = _mm256_setzero_ps();                 \
    for (size_t b = 0; b < nb; b++, p += GROUP_BLOCK_BYTES, x += TILE_BLOCK_INTS * TS) {              \
        /* two chains of sums per token where CHAINS says (even and odd \
         * chunks), half the latency; integers, so the same sum */        \
        __m256i sum[U], sum2[U];                                                                      \
        _Pragma("GCC unroll 4") for (int t = 0; t < U; t++) {                                         \
            sum[t] = START(x[8 * TS + t]);                                                            \
            sum2[t] = _mm256_setzero_si256();                                                         \
        }                                                                                             \
        if (ahead) {                                                                                  \
            _Pragma("GCC unroll 5") for (int l = 0; l < 5; l++)                                       \
                _mm_prefetch((const char *)p + ahead + 64 * l, _MM_HINT_T0);                          \
        }                                                                                             \
        const __m256i *q = (const __m256i *)(p + SCALE_BYTES);                                        \
        _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) {                                         \
            __m256i w = _mm256_loadu_si256(q + j);                                                    \
            _Pragma("GCC unroll 4") for (int t = 0; t < U; t++) {                                     \
                __m256i xc = _mm256_set1_epi32(x[j * TS + t]);                                        \
                if (U <= CHAINS && j % 2) {                                                                \
                    sum2[t] = CHUNK(sum2[t], w, xc);                                                  \
                    __asm__("" : "+x"(sum2[t]));                                                      \
                } else {                                                                              \
                    sum[t] = CHUNK(sum[t], w, xc);                                                    \
                    __asm__("" : "+x"(sum[t]));                                                       \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
        __m256 dw = group_scales(p);                                                                  \
        const float *d = (const float *)(x + 9 * TS);                                                 \
        _Pragma("GCC unroll 4") for (int t = 0; t < U; t++) {                                         \
            __m256i s = U <= CHAINS ? _mm256_add_epi32(sum[t], sum2[t]) : sum[t];                          \
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(d[t])), acc[t]); \
        }                                                                                             \
    }                                                                                                 \
    _Pragma("GCC unroll 4") for (int t = 0; t < U; t++) {                                             \
        if (n_r == PACK_ROWS) {                                                                       \
            _mm256_storeu_ps(y + (size_t)t * ldy, acc[t]);                                            \
        } else {                                                                                      \
            float out[PACK_ROWS];                                                                     \
            _mm256_storeu_ps(out, acc[t]);                                                            \
            memcpy(y + (size_t)t * ldy, out, n_r * sizeof(float));                                    \
        }                                                                                             \
    }

/* AVX2: the sign trick of ADD4_AVX2 per chunk, the sum started at 0 (the
 * layout's offset is VNNI's); AVX-VNNI: w + 128 against x as it is. */
#define CHUNK_AVX2(s, w, xc) ADD4_AVX2(s, _mm256_abs_epi8(w), _mm256_sign_epi8(xc, w))
#define START_AVX2(off) ((void)(off), _mm256_setzero_si256())
#define CHUNK_AVXVNNI(s, w, xc) _mm256_dpbusd_avx_epi32(s, _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80)), xc)
#define START_AVXVNNI(off) _mm256_set1_epi32(off)

typedef void (*tile256_fn)(const uint8_t *, size_t, const int32_t *, float *, size_t, size_t, size_t);
#define TILE256_U 4                      /* tokens per pass */
#define TILE256_PANEL_BYTES (256 * 1024) /* weights per panel of groups (L2 holds 1 MiB) */

#define DEFINE_TILE256(NAME, TARGET, TS, U, CHUNK, START, CHAINS)                                     \
    TARGET static void NAME(const uint8_t *p, size_t nb, const int32_t *x, float *y, size_t ldy, size_t n_r, \
                            size_t ahead)                                                             \
    {                                                                                                 \
        TILE256_BODY(TS, U, CHUNK, START, CHAINS)                                                     \
    }
/* per isa, the passes of a tile of TS tokens: (TS, TS) up to four, then
 * (TS, 4) and (TS, TS - 4) */
#define DEFINE_TILES256(ISA, TARGET, CHUNK, START, CHAINS)                                            \
    DEFINE_TILE256(ISA##_1_1, TARGET, 1, 1, CHUNK, START, CHAINS)                                     \
    DEFINE_TILE256(ISA##_2_2, TARGET, 2, 2, CHUNK, START, CHAINS)                                     \
    DEFINE_TILE256(ISA##_3_3, TARGET, 3, 3, CHUNK, START, CHAINS)                                     \
    DEFINE_TILE256(ISA##_4_4, TARGET, 4, 4, CHUNK, START, CHAINS)                                     \
    DEFINE_TILE256(ISA##_5_4, TARGET, 5, 4, CHUNK, START, CHAINS)                                     \
    DEFINE_TILE256(ISA##_5_1, TARGET, 5, 1, CHUNK, START, CHAINS)                                     \
    DEFINE_TILE256(ISA##_6_4, TARGET, 6, 4, CHUNK, START, CHAINS)                                     \
    DEFINE_TILE256(ISA##_6_2, TARGET, 6, 2, CHUNK, START, CHAINS)                                     \
    DEFINE_TILE256(ISA##_7_4, TARGET, 7, 4, CHUNK, START, CHAINS)                                     \
    DEFINE_TILE256(ISA##_7_3, TARGET, 7, 3, CHUNK, START, CHAINS)                                     \
    DEFINE_TILE256(ISA##_8_4, TARGET, 8, 4, CHUNK, START, CHAINS)                                     \
    static const tile256_fn ISA##_passes[TILE_T + 1][2] = {                                           \
        {NULL, NULL},         {ISA##_1_1, NULL},      {ISA##_2_2, NULL},      {ISA##_3_3, NULL},      \
        {ISA##_4_4, NULL},    {ISA##_5_4, ISA##_5_1}, {ISA##_6_4, ISA##_6_2}, {ISA##_7_4, ISA##_7_3}, \
        {ISA##_8_4, ISA##_8_4},                                                                       \
    };
DEFINE_TILES256(tile_avx2, KERN_AVX2_TARGET, CHUNK_AVX2, START_AVX2, 2)
DEFINE_TILES256(tile_avxvnni, AVXVNNI_TARGET, CHUNK_AVXVNNI, START_AVXVNNI, 4)

static void tiled_256(bool vnni, const void *P, size_t rows, size_t cols, const void *xt, size_t n, size_t g0,
                      size_t g1, float *y, size_t ldy)
{
    const tile256_fn(*passes)[2] = vnni ? tile_avxvnni_passes : tile_avx2_passes;
    size_t nb = cols / 32, groups = (rows + PACK_ROWS - 1) / PACK_ROWS, group_bytes = nb * GROUP_BLOCK_BYTES;
    /* more than one tile: a panel of groups at a time, every tile over
     * it, so that a tile stays in L1 and the panel's weights in L2 */
    size_t panel = n <= TILE_T ? g1 - g0 : TILE256_PANEL_BYTES / group_bytes;
    if (panel < 1)
        panel = 1;
    for (size_t gp = g0; gp < g1; gp += panel) {
        size_t ge = g1 - gp < panel ? g1 : gp + panel;
        const int32_t *x = xt;
        for (size_t t0 = 0; t0 < n; t0 += TILE_T) {
            size_t ts = n - t0 < TILE_T ? n - t0 : TILE_T;
            for (size_t g = gp; g < ge; g++) {
                const uint8_t *p = (const uint8_t *)P + g * group_bytes;
                size_t r0 = g * PACK_ROWS, n_r = rows - r0 < PACK_ROWS ? rows - r0 : PACK_ROWS;
                for (size_t s = 0, k = 0; s < ts; s += TILE256_U, k++) {
                    size_t ahead = t0 == 0 && s == 0 && g + 1 < groups ? group_bytes : 0;
                    passes[ts][k](p, nb, x + s, y + (t0 + s) * ldy + r0, ldy, n_r, ahead);
                }
            }
            x += nb * TILE_BLOCK_INTS * ts;
        }
    }
}

void kern_packed_matmul_tiled_x86(kern_packed_isa isa, const void *P, size_t rows, size_t cols, const void *xt,
                                  size_t n, size_t g0, size_t g1, float *y, size_t ldy)
{
    if (isa != KERN_PACKED_VNNI512) {
        tiled_256(isa == KERN_PACKED_AVXVNNI, P, rows, cols, xt, n, g0, g1, y, ldy);
        return;
    }
    static const tile_fn fns[TILE_T + 1] = {NULL, tile_1, tile_2, tile_3, tile_4, tile_5, tile_6, tile_7, tile_8};
    size_t nb = cols / 32, groups = (rows + PACK_ROWS - 1) / PACK_ROWS;
    for (size_t g = g0; g < g1; g += 2) {
        const uint8_t *p0 = (const uint8_t *)P + g * nb * GROUP_BLOCK_BYTES;
        const uint8_t *p1 = g + 1 < g1 ? p0 + nb * GROUP_BLOCK_BYTES : p0;
        size_t r0 = g * PACK_ROWS, n_r = rows - r0 < 2 * PACK_ROWS ? rows - r0 : 2 * PACK_ROWS;
        if (p1 == p0 && n_r > PACK_ROWS)
            n_r = PACK_ROWS;
        __mmask16 keep = (__mmask16)((1u << n_r) - 1);
        const int32_t *x = xt;
        for (size_t t0 = 0; t0 < n; t0 += TILE_T) {
            size_t T = n - t0 < TILE_T ? n - t0 : TILE_T;
            /* the first tile prefetches the next pair's rows, past g1
             * too (the next chunk of rows is usually this thread's) */
            size_t ahead = t0 == 0 && g + 3 < groups ? 2 * nb * GROUP_BLOCK_BYTES : 0;
            fns[T](p0, p1, nb, x, y + t0 * ldy + r0, ldy, keep, ahead);
            x += nb * TILE_BLOCK_INTS * T;
        }
    }
}

/*
 * F16: y[t·ldy + row] for groups [g0, g1) of sixteen rows and T tokens
 * whose activations are xf + t·cols, floats (half precision values,
 * kern_quantize_activation's, converted once by kern_packed_f16_x86).
 * Per row and token two float accumulators — the even columns' products
 * and the odd columns' — fused multiply-adds in column order, added at
 * the end: the same arithmetic on 512-bit vectors (sixteen rows) and on
 * two 256-bit ones, so every path agrees bit for bit.
 */
#define F16_BODY_512(T)                                                                               \
    const uint16_t *base = P;                                                                         \
    for (size_t g = g0; g < g1; g++) {                                                                \
        const uint16_t *p = base + g * cols * F16_ROWS;                                               \
        __m512 ev[T], od[T];                                                                          \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) ev[t] = od[t] = _mm512_setzero_ps();      \
        size_t c = 0;                                                                                 \
        for (; c + 2 <= cols; c += 2) {                                                               \
            __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + c * F16_ROWS)));     \
            __m512 w1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + (c + 1) * F16_ROWS))); \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++) {                                     \
                ev[t] = _mm512_fmadd_ps(w0, _mm512_set1_ps(xf[t * cols + c]), ev[t]);                 \
                od[t] = _mm512_fmadd_ps(w1, _mm512_set1_ps(xf[t * cols + c + 1]), od[t]);             \
            }                                                                                         \
        }                                                                                             \
        if (c < cols) { /* an odd width: the last column is even */                                   \
            __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + c * F16_ROWS)));     \
            _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)                                       \
                ev[t] = _mm512_fmadd_ps(w0, _mm512_set1_ps(xf[t * cols + c]), ev[t]);                 \
        }                                                                                             \
        size_t r0 = g * F16_ROWS, n_r = rows - r0 < F16_ROWS ? rows - r0 : F16_ROWS;                  \
        __mmask16 keep = (__mmask16)((1u << n_r) - 1);                                                \
        _Pragma("GCC unroll 8") for (int t = 0; t < T; t++)                                           \
            _mm512_mask_storeu_ps(y + (size_t)t * ldy + r0, keep, _mm512_add_ps(ev[t], od[t]));       \
    }

/* The same on two 256-bit halves of each group (rows 0-7, rows 8-15). */
#define F16_BODY_256(T)                                                                               \
    const uint16_t *base = P;                                                                         \
    for (size_t g = g0; g < g1; g++) {                                                                \
        const uint16_t *p = base + g * cols * F16_ROWS;                                               \
        __m256 ev[T][2], od[T][2];                                                                    \
        _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) ev[t][0] = ev[t][1] = od[t][0] = od[t][1] = _mm256_setzero_ps(); \
        for (size_t c = 0; c < cols; c++) {                                                           \
            const __m128i *wp = (const __m128i *)(p + c * F16_ROWS);                                  \
            __m256 wl = _mm256_cvtph_ps(_mm_loadu_si128(wp)), wh = _mm256_cvtph_ps(_mm_loadu_si128(wp + 1)); \
            bool even = c % 2 == 0;                                                                   \
            _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) {                                     \
                __m256 xv = _mm256_set1_ps(xf[t * cols + c]);                                         \
                if (even) {                                                                           \
                    ev[t][0] = _mm256_fmadd_ps(wl, xv, ev[t][0]);                                     \
                    ev[t][1] = _mm256_fmadd_ps(wh, xv, ev[t][1]);                                     \
                } else {                                                                              \
                    od[t][0] = _mm256_fmadd_ps(wl, xv, od[t][0]);                                     \
                    od[t][1] = _mm256_fmadd_ps(wh, xv, od[t][1]);                                     \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
        size_t r0 = g * F16_ROWS, n_r = rows - r0 < F16_ROWS ? rows - r0 : F16_ROWS;                  \
        _Pragma("GCC unroll 4") for (int t = 0; t < T; t++) {                                         \
            float out[F16_ROWS], *dst = y + (size_t)t * ldy + r0;                                     \
            _mm256_storeu_ps(out, _mm256_add_ps(ev[t][0], od[t][0]));                                 \
            _mm256_storeu_ps(out + 8, _mm256_add_ps(ev[t][1], od[t][1]));                             \
            if (n_r == F16_ROWS)                                                                      \
                memcpy(dst, out, sizeof out); /* a fixed size: two stores */                          \
            else                                                                                      \
                memcpy(dst, out, n_r * sizeof(float));                                                \
        }                                                                                             \
    }

#define AVX512_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw")))
#define DEFINE_F16(NAME, TARGET, BODY, T)                                                             \
    TARGET static void NAME(const void *P, size_t rows, size_t cols, const float *xf, size_t g0, size_t g1, \
                            float *y, size_t ldy)                                                     \
    {                                                                                                 \
        BODY(T)                                                                                       \
    }
DEFINE_F16(f16_512_1, AVX512_TARGET, F16_BODY_512, 1)
DEFINE_F16(f16_512_2, AVX512_TARGET, F16_BODY_512, 2)
DEFINE_F16(f16_512_4, AVX512_TARGET, F16_BODY_512, 4)
DEFINE_F16(f16_512_8, AVX512_TARGET, F16_BODY_512, 8)
DEFINE_F16(f16_256_1, KERN_AVX2_TARGET, F16_BODY_256, 1)
DEFINE_F16(f16_256_2, KERN_AVX2_TARGET, F16_BODY_256, 2)

typedef void (*f16_fn)(const void *, size_t, size_t, const float *, size_t, size_t, float *, size_t);

/* n halves into floats, eight at a time (F16C). */
KERN_AVX2_TARGET static void halves_to_float(const uint16_t *h, size_t n, float *out)
{
    size_t c = 0;
    for (; c + 8 <= n; c += 8)
        _mm256_storeu_ps(out + c, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + c))));
    for (; c < n; c++)
        out[c] = _cvtsh_ss(h[c]);
}

/* The rows of groups [g0, g1) against n tokens whose activations are
 * floats at xf + t·cols: a panel of rows (F16_PANEL_BYTES of weights,
 * which stay in L2) at a time, every block of tokens over it (otherwise
 * each block of eight tokens streamed the whole matrix from L3).  Neither
 * changes any result: each row's sums are the bodies'. */
static void f16_float_tokens(bool avx512, const void *P, size_t rows, size_t cols, const float *xf, size_t n,
                             size_t g0, size_t g1, float *y, size_t ldy)
{
    size_t panel = F16_PANEL_BYTES / (cols * F16_ROWS * sizeof(uint16_t));
    if (panel < 1)
        panel = 1;
    for (size_t gp = g0; gp < g1; gp += panel) {
        size_t ge = g1 - gp < panel ? g1 : gp + panel;
        for (size_t t0 = 0; t0 < n;) {
            size_t left = n - t0;
            size_t t = avx512 ? (left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1) : (left >= 2 ? 2 : 1);
            f16_fn f = avx512 ? (t == 8 ? f16_512_8 : t == 4 ? f16_512_4 : t == 2 ? f16_512_2 : f16_512_1)
                              : (t == 2 ? f16_256_2 : f16_256_1);
            f(P, rows, cols, xf + t0 * cols, gp, ge, y + t0 * ldy, ldy);
            t0 += t;
        }
    }
}

/* Half-precision activations: a span of tokens at a time (as many as
 * F16_SPAN_FLOATS holds, whole blocks of eight where it can) converted to
 * float once, into the stack.  A product of many tokens split among
 * threads converts them once for all instead (kern_packed_tile_f16). */
void kern_packed_f16_x86(bool avx512, const void *P, size_t rows, size_t cols, const void *xq, size_t xq_stride,
                         size_t n, size_t g0, size_t g1, float *y, size_t ldy)
{
    float xf[F16_SPAN_FLOATS];
    size_t span = F16_SPAN_FLOATS / cols; /* >= 1: kern_packed_bytes packs no wider rows */
    if (span > 8)
        span -= span % 8;
    for (size_t s0 = 0; s0 < n; s0 += span) {
        size_t ns = n - s0 < span ? n - s0 : span;
        for (size_t t = 0; t < ns; t++)
            halves_to_float((const uint16_t *)((const uint8_t *)xq + (s0 + t) * xq_stride), cols, xf + t * cols);
        f16_float_tokens(avx512, P, rows, cols, xf, ns, g0, g1, y + s0 * ldy, ldy);
    }
}

void kern_packed_tile_f16_x86(const void *xq, size_t xq_stride, size_t n, size_t cols, float *xt)
{
    for (size_t t = 0; t < n; t++)
        halves_to_float((const uint16_t *)((const uint8_t *)xq + t * xq_stride), cols, xt + t * cols);
}

void kern_packed_matmul_tiled_f16_x86(bool avx512, const void *P, size_t rows, size_t cols, const float *xt,
                                      size_t n, size_t g0, size_t g1, float *y, size_t ldy)
{
    f16_float_tokens(avx512, P, rows, cols, xt, n, g0, g1, y, ldy);
}

void kern_packed_matmul_x86(kern_packed_isa isa, const void *P, size_t rows, size_t cols, const void *xq,
                            size_t xq_stride, size_t n, size_t g0, size_t g1, float *y, size_t ldy)
{
    size_t nb = cols / 32;
    const uint8_t *x = xq;
    if (isa != KERN_PACKED_AVX2 && 8 * nb > XSUM_MAX)
        isa = KERN_PACKED_AVX2; /* rows wider than 16384: the AVX2 body, the same results */
    /* the widest token block first, then the rest: a token's arithmetic
     * is the same in any block */
    static const packed_fn fns[3][4] = {
        [KERN_PACKED_AVX2] = {packed_avx2_1, packed_avx2_2, packed_avx2_4, NULL},
        [KERN_PACKED_AVXVNNI] = {packed_avxvnni_1, packed_avxvnni_2, packed_avxvnni_4, NULL},
        [KERN_PACKED_VNNI512] = {packed_vnni_1, packed_vnni_2, packed_vnni_4, packed_vnni_8},
    };
    while (n > 0) {
        int k = n >= 8 && fns[isa][3] ? 3 : n >= 4 ? 2 : n >= 2 ? 1 : 0;
        size_t t = (size_t)1 << k;
        fns[isa][k](P, rows, nb, x, xq_stride, g0, g1, y, ldy);
        x += t * xq_stride;
        y += t * ldy;
        n -= t;
    }
}
#endif /* KERN_X86 */
