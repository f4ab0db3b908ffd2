/*
 * quant.c — ggml block formats: half-precision conversion and reference
 * dequantizers for every type.
 *
 * The dequantizers are written for clarity, one loop per group of
 * elements sharing a scale; the fast paths live in kernels.c, the
 * quantizers (ggml's quantize_row_*_ref) in quantize.c.
 */
#include "engine/quant.h"

#include <string.h>

_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0 layout");
_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1 layout");
_Static_assert(sizeof(block_q5_0) == 22, "block_q5_0 layout");
_Static_assert(sizeof(block_q5_1) == 24, "block_q5_1 layout");
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0 layout");
_Static_assert(sizeof(block_q8_1) == 36, "block_q8_1 layout");
_Static_assert(sizeof(block_q2_K) == 84, "block_q2_K layout");
_Static_assert(sizeof(block_q3_K) == 110, "block_q3_K layout");
_Static_assert(sizeof(block_q4_K) == 144, "block_q4_K layout");
_Static_assert(sizeof(block_q5_K) == 176, "block_q5_K layout");
_Static_assert(sizeof(block_q6_K) == 210, "block_q6_K layout");
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K layout");

const char *quant_strerror(int status)
{
    switch (status) {
    case QUANT_OK: return "ok";
    case QUANT_ETYPE: return "unsupported tensor type";
    case QUANT_ESIZE: return "row length is not a multiple of the block size";
    default: return "unknown quant status";
    }
}

/* ---- Half precision --------------------------------------------------- */

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float f32_from(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float quant_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) /* inf, or NaN made quiet with its payload (as F16C) */
        return f32_from(sign | 0x7f800000u | (man ? 0x400000u : 0) | (man << 13));
    if (exp != 0) /* normal: rebias 15 -> 127 */
        return f32_from(sign | ((exp + 112) << 23) | (man << 13));
    /* zero or subnormal: man * 2^-24, exact in binary32 */
    float v = (float)man * 0x1p-24f;
    return sign ? -v : v;
}

uint16_t quant_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN: quiet, top payload bits kept */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) /* >= 65520 (halfway past 65504): inf */
        return (uint16_t)(sign | 0x7c00u);
    if (ax >= 0x38800000u) { /* >= 2^-14: a normal half */
        uint32_t r = ax - 0x38000000u; /* exponent bias 127 -> 15 */
        r += 0xfffu + ((r >> 13) & 1u); /* round the low 13 bits, ties to even */
        return (uint16_t)(sign | (r >> 13));
    }
    uint32_t e = ax >> 23;
    if (e < 102) /* below half the smallest subnormal (or a binary32 subnormal) */
        return sign;
    /* subnormal half: round(f * 2^24) = m * 2^(e - 126), shift 14..24 */
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e;
    uint32_t q = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u)))
        q++; /* may carry into the smallest normal: still the right encoding */
    return (uint16_t)(sign | q);
}

float quant_bf16_to_f32(uint16_t h)
{
    return f32_from((uint32_t)h << 16);
}

uint16_t quant_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

#define F16(h) quant_f16_to_f32(h)

/* ---- Scale unpacking --------------------------------------------------- */

void quant_unpack_k4_scales(const uint8_t p[K_SCALE_SIZE], uint8_t sc[8],
                            uint8_t mn[8])
{
    for (int j = 0; j < 4; j++) {
        sc[j] = p[j] & 63;
        mn[j] = p[j + 4] & 63;
    }
    for (int j = 4; j < 8; j++) {
        sc[j] = (uint8_t)((p[j + 4] & 0xf) | ((p[j - 4] >> 6) << 4));
        mn[j] = (uint8_t)((p[j + 4] >> 4) | ((p[j] >> 6) << 4));
    }
}

void quant_unpack_q3k_scales(const uint8_t p[K_SCALE_SIZE], int8_t sc[16])
{
    for (int g = 0; g < 16; g++) {
        int lo = g < 8 ? p[g] & 0xf : p[g - 8] >> 4;
        int hi = (p[8 + g % 4] >> (2 * (g / 4))) & 3;
        sc[g] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

/* ---- Dequantizers: one block of QK elements each ------------------------ */

static void deq_q4_0(const block_q4_0 *b, float *y)
{
    float d = F16(b->d);
    for (int j = 0; j < 16; j++) {
        y[j] = d * ((b->qs[j] & 0xf) - 8);
        y[j + 16] = d * ((b->qs[j] >> 4) - 8);
    }
}

static void deq_q4_1(const block_q4_1 *b, float *y)
{
    float d = F16(b->d), m = F16(b->m);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (b->qs[j] & 0xf) + m;
        y[j + 16] = d * (b->qs[j] >> 4) + m;
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void deq_q5_0(const block_q5_0 *b, float *y)
{
    float d = F16(b->d);
    uint32_t qh = le32(b->qh);
    for (int j = 0; j < 16; j++) {
        int q0 = (b->qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
        int q1 = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * (q0 - 16);
        y[j + 16] = d * (q1 - 16);
    }
}

static void deq_q5_1(const block_q5_1 *b, float *y)
{
    float d = F16(b->d), m = F16(b->m);
    uint32_t qh = le32(b->qh);
    for (int j = 0; j < 16; j++) {
        int q0 = (b->qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
        int q1 = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * q0 + m;
        y[j + 16] = d * q1 + m;
    }
}

static void deq_q8_0(const block_q8_0 *b, float *y)
{
    float d = F16(b->d);
    for (int j = 0; j < 32; j++)
        y[j] = d * b->qs[j];
}

static void deq_q8_1(const block_q8_1 *b, float *y)
{
    float d = F16(b->d);
    for (int j = 0; j < 32; j++)
        y[j] = d * b->qs[j];
}

static void deq_q2_K(const block_q2_K *b, float *y)
{
    float d = F16(b->d), dmin = F16(b->dmin);
    for (int g = 0; g < 16; g++) {
        float dl = d * (b->scales[g] & 0xf), ml = dmin * (b->scales[g] >> 4);
        for (int e = 16 * g; e < 16 * g + 16; e++) {
            int q = (b->qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            y[e] = dl * q - ml;
        }
    }
}

static void deq_q3_K(const block_q3_K *b, float *y)
{
    float d = F16(b->d);
    int8_t sc[16];
    quant_unpack_q3k_scales(b->scales, sc);
    for (int g = 0; g < 16; g++) {
        float dl = d * sc[g];
        for (int e = 16 * g; e < 16 * g + 16; e++) {
            int q = (b->qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            if (!(b->hmask[e % 32] & (1u << (e / 32))))
                q -= 4;
            y[e] = dl * q;
        }
    }
}

static void deq_q4_K(const block_q4_K *b, float *y)
{
    float d = F16(b->d), dmin = F16(b->dmin);
    uint8_t sc[8], mn[8];
    quant_unpack_k4_scales(b->scales, sc, mn);
    for (int g = 0; g < 8; g++) {
        float dl = d * sc[g], ml = dmin * mn[g];
        for (int e = 32 * g; e < 32 * g + 32; e++) {
            uint8_t byte = b->qs[32 * (e / 64) + e % 32];
            int q = (e % 64) < 32 ? byte & 0xf : byte >> 4;
            y[e] = dl * q - ml;
        }
    }
}

static void deq_q5_K(const block_q5_K *b, float *y)
{
    float d = F16(b->d), dmin = F16(b->dmin);
    uint8_t sc[8], mn[8];
    quant_unpack_k4_scales(b->scales, sc, mn);
    for (int g = 0; g < 8; g++) {
        float dl = d * sc[g], ml = dmin * mn[g];
        for (int e = 32 * g; e < 32 * g + 32; e++) {
            uint8_t byte = b->qs[32 * (e / 64) + e % 32];
            int q = (e % 64) < 32 ? byte & 0xf : byte >> 4;
            q |= ((b->qh[e % 32] >> (e / 32)) & 1) << 4;
            y[e] = dl * q - ml;
        }
    }
}

static void deq_q6_K(const block_q6_K *b, float *y)
{
    float d = F16(b->d);
    for (int e = 0; e < QK_K; e++) {
        int h = e / 128, k = (e % 128) / 32, l = e % 32;
        uint8_t lo = b->ql[64 * h + l + 32 * (k & 1)];
        int q = (k < 2 ? lo & 0xf : lo >> 4) |
                ((b->qh[32 * h + l] >> (2 * k)) & 3) << 4;
        y[e] = d * b->scales[e / 16] * (q - 32);
    }
}

static void deq_q8_K(const block_q8_K *b, float *y)
{
    for (int j = 0; j < QK_K; j++)
        y[j] = b->d * b->qs[j];
}

/* ---- Rows --------------------------------------------------------------- */

size_t quant_row_bytes(ggml_type type, size_t n)
{
    size_t be = ggml_type_block_elems(type), bb = ggml_type_block_bytes(type);
    if (!be || n % be)
        return 0;
    size_t nb = n / be;
    if (nb > SIZE_MAX / bb)
        return 0;
    return nb * bb;
}

bool quant_can_dequantize(ggml_type type)
{
    return ggml_type_known((uint32_t)type);
}

/* Apply a per-block function over a row. */
#define EACH_BLOCK(blk, qk, fn, src, dst, n)                                   \
    do {                                                                       \
        for (size_t i_ = 0; i_ < (n) / (qk); i_++)                             \
            fn((const blk *)(src) + i_, (dst) + i_ * (qk));                   \
    } while (0)

int quant_dequantize_row(ggml_type type, const void *src, float *dst, size_t n)
{
    if (!quant_can_dequantize(type))
        return QUANT_ETYPE;
    if (n % ggml_type_block_elems(type))
        return QUANT_ESIZE;
    switch (type) {
    case GGML_TYPE_F32:
        memcpy(dst, src, n * sizeof(float));
        break;
    case GGML_TYPE_F16: {
        const uint16_t *h = src;
        for (size_t i = 0; i < n; i++)
            dst[i] = quant_f16_to_f32(h[i]);
        break;
    }
    case GGML_TYPE_BF16: {
        const uint16_t *h = src;
        for (size_t i = 0; i < n; i++)
            dst[i] = quant_bf16_to_f32(h[i]);
        break;
    }
    case GGML_TYPE_Q4_0: EACH_BLOCK(block_q4_0, QK4_0, deq_q4_0, src, dst, n); break;
    case GGML_TYPE_Q4_1: EACH_BLOCK(block_q4_1, QK4_1, deq_q4_1, src, dst, n); break;
    case GGML_TYPE_Q5_0: EACH_BLOCK(block_q5_0, QK5_0, deq_q5_0, src, dst, n); break;
    case GGML_TYPE_Q5_1: EACH_BLOCK(block_q5_1, QK5_1, deq_q5_1, src, dst, n); break;
    case GGML_TYPE_Q8_0: EACH_BLOCK(block_q8_0, QK8_0, deq_q8_0, src, dst, n); break;
    case GGML_TYPE_Q8_1: EACH_BLOCK(block_q8_1, QK8_1, deq_q8_1, src, dst, n); break;
    case GGML_TYPE_Q2_K: EACH_BLOCK(block_q2_K, QK_K, deq_q2_K, src, dst, n); break;
    case GGML_TYPE_Q3_K: EACH_BLOCK(block_q3_K, QK_K, deq_q3_K, src, dst, n); break;
    case GGML_TYPE_Q4_K: EACH_BLOCK(block_q4_K, QK_K, deq_q4_K, src, dst, n); break;
    case GGML_TYPE_Q5_K: EACH_BLOCK(block_q5_K, QK_K, deq_q5_K, src, dst, n); break;
    case GGML_TYPE_Q6_K: EACH_BLOCK(block_q6_K, QK_K, deq_q6_K, src, dst, n); break;
    case GGML_TYPE_Q8_K: EACH_BLOCK(block_q8_K, QK_K, deq_q8_K, src, dst, n); break;
    default: return QUANT_ETYPE;
    }
    return QUANT_OK;
}
