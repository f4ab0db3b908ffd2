/*
 * kernels.c — dot products and matrix × vector products over ggml weight
 * blocks: a portable C path and an AVX2/FMA/F16C path chosen at run time.
 *
 * Every dot product has the shape  float dot(weight row, activation, cols)
 * and works block by block: the integer products of a block are summed
 * exactly, then scaled by the block's fp16 scales and added to a float
 * accumulator — the same arithmetic as ggml's vec_dot_*.  Groups with a
 * minimum (Q4_1, Q5_1, K types) get the min term from the activation's
 * precomputed sums (Q8_1's s, Q8_K's bsums) instead of per element.
 *
 * The AVX2 bodies live in kernels_avx2.c; this file picks them only after
 * kernels_cpu.c found (cpuid, xgetbv) that the CPU has the instructions
 * and the OS saves the registers they use.  What this file
 * does not do: threads (callers split rows with kern_matvec_rows), or
 * matrix × matrix (prefill converts tiles with kern_dequantize_rows_f32
 * and calls BLAS).
 */
#include "engine/kernels.h"
#include "engine/kernels_avx2.h"
#include "engine/kernels_cpu.h"
#include "engine/kernels_packed4.h"
#include "engine/kernels_packed_bf16.h"

#include "engine/quant.h"
#include "util/util.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* A dot product of one weight row (cols elements) with an activation. */
typedef float (*dot_fn)(const void *w, const void *xq, size_t cols);

/* ---- Dispatch state ---------------------------------------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static kern_cpu cpu; /* what this CPU runs (kernels_cpu.c) */
static kern_path path = KERN_PATH_PORTABLE;
static char env_error[160]; /* why the environment's choice was refused */
static float f16_table[1 << 16]; /* fp16 bits -> f32, for the portable path */
static uint64_t q5_spread[256];   /* byte v -> 8 bytes, byte j = 16 * bit j of v */

static bool runs(kern_path p);

static void init_impl(void)
{
    for (uint32_t h = 0; h < (1u << 16); h++)
        f16_table[h] = quant_f16_to_f32((uint16_t)h);
    for (int v = 0; v < 256; v++) {
        uint8_t bytes[8];
        for (int j = 0; j < 8; j++)
            bytes[j] = (uint8_t)(((v >> j) & 1) << 4);
        memcpy(&q5_spread[v], bytes, 8);
    }
    cpu = kern_cpu_detect();
    unsigned runnable = 0;
    for (int i = 0; i < KERN_PATH_COUNT; i++)
        runnable |= runs((kern_path)i) ? 1u << i : 0;
    kern_choose_path(getenv("FRONTDESK_SIMD"), getenv("FRONTDESK_NO_SIMD"), runnable, &path, env_error,
                     sizeof env_error);
}

void kern_init(void)
{
    pthread_once(&init_once, init_impl);
}

const char *kern_env_error(void)
{
    kern_init();
    return *env_error ? env_error : NULL;
}

kern_path kern_get_path(void)
{
    kern_init();
    return path;
}

/* Whether the CPU runs path p (features already detected). */
static bool runs(kern_path p)
{
    switch (p) {
    case KERN_PATH_PORTABLE: return true;
    case KERN_PATH_AVX2: return cpu.avx2;
    case KERN_PATH_AVXVNNI: return cpu.avxvnni;
    case KERN_PATH_AVX512: return cpu.avx512;
    default: return false;
    }
}

bool kern_path_available(kern_path p)
{
    kern_init();
    return runs(p);
}

bool kern_set_path(kern_path p)
{
    if (!kern_path_available(p))
        return false;
    path = p;
    return true;
}

/* Whether the current path runs the AVX2 kernels (both SIMD paths do),
 * and whether it may use AVX-512 ones besides. */
static inline bool simd(void) { return path >= KERN_PATH_AVX2; }
static inline bool avx512(void) { return path == KERN_PATH_AVX512; }
static inline bool avxvnni(void) { return path == KERN_PATH_AVXVNNI; }

#define F16(h) f16_table[(h)]

/* ---- Portable dot products ---------------------------------------------- */

static float dot_f32(const void *w, const void *xq, size_t n)
{
    const float *a = w, *b = xq;
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += a[i + k] * b[i + k];
    for (; i < n; i++)
        acc[0] += a[i] * b[i];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static float dot_f16(const void *w, const void *xq, size_t n)
{
    const uint16_t *a = w, *b = xq;
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += F16(a[i + k]) * F16(b[i + k]);
    for (; i < n; i++)
        acc[0] += F16(a[i]) * F16(b[i]);
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static inline float bf16_value(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Both BF16: each product is exact in single precision. */
static float dot_bf16(const void *w, const void *xq, size_t n)
{
    const uint16_t *a = w, *b = xq;
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += bf16_value(a[i + k]) * bf16_value(b[i + k]);
    for (; i < n; i++)
        acc[0] += bf16_value(a[i]) * bf16_value(b[i]);
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static float dot_q4_0(const void *w, const void *xq, size_t n)
{
    const block_q4_0 *a = w;
    const block_q8_0 *b = xq;
    float sum = 0;
    for (size_t i = 0; i < n / QK4_0; i++) {
        int s = 0;
        for (int j = 0; j < 16; j++)
            s += ((a[i].qs[j] & 0xf) - 8) * b[i].qs[j] + ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + 16];
        sum += s * (F16(a[i].d) * F16(b[i].d));
    }
    return sum;
}

static float dot_q4_1(const void *w, const void *xq, size_t n)
{
    const block_q4_1 *a = w;
    const block_q8_1 *b = xq;
    float sum = 0;
    for (size_t i = 0; i < n / QK4_1; i++) {
        int s = 0;
        for (int j = 0; j < 16; j++)
            s += (a[i].qs[j] & 0xf) * b[i].qs[j] + (a[i].qs[j] >> 4) * b[i].qs[j + 16];
        sum += s * (F16(a[i].d) * F16(b[i].d)) + F16(a[i].m) * F16(b[i].s);
    }
    return sum;
}

/* A Q5 block's 32 values (0..31) as bytes, element order. */
static inline void q5_unpack(const uint8_t qs[16], const uint8_t qh[4], uint8_t q[32])
{
    for (int j = 0; j < 16; j++) {
        q[j] = qs[j] & 0xf;
        q[j + 16] = qs[j] >> 4;
    }
    uint8_t hi[32];
    for (int k = 0; k < 4; k++)
        memcpy(hi + 8 * k, &q5_spread[qh[k]], 8);
    for (int j = 0; j < 32; j++)
        q[j] |= hi[j];
}

static float dot_q5_0(const void *w, const void *xq, size_t n)
{
    const block_q5_0 *a = w;
    const block_q8_0 *b = xq;
    float sum = 0;
    for (size_t i = 0; i < n / QK5_0; i++) {
        uint8_t q[32];
        q5_unpack(a[i].qs, a[i].qh, q);
        int s = 0;
        for (int j = 0; j < 32; j++)
            s += (q[j] - 16) * b[i].qs[j];
        sum += s * (F16(a[i].d) * F16(b[i].d));
    }
    return sum;
}

static float dot_q5_1(const void *w, const void *xq, size_t n)
{
    const block_q5_1 *a = w;
    const block_q8_1 *b = xq;
    float sum = 0;
    for (size_t i = 0; i < n / QK5_1; i++) {
        uint8_t q[32];
        q5_unpack(a[i].qs, a[i].qh, q);
        int s = 0;
        for (int j = 0; j < 32; j++)
            s += q[j] * b[i].qs[j];
        sum += s * (F16(a[i].d) * F16(b[i].d)) + F16(a[i].m) * F16(b[i].s);
    }
    return sum;
}

static float dot_q8_0(const void *w, const void *xq, size_t n)
{
    const block_q8_0 *a = w;
    const block_q8_0 *b = xq;
    float sum = 0;
    for (size_t i = 0; i < n / QK8_0; i++) {
        int s = 0;
        for (int j = 0; j < 32; j++)
            s += a[i].qs[j] * b[i].qs[j];
        sum += s * (F16(a[i].d) * F16(b[i].d));
    }
    return sum;
}

/* Q8_1 weights (rare in files) dot a Q8_0 activation; s is not needed. */
static float dot_q8_1(const void *w, const void *xq, size_t n)
{
    const block_q8_1 *a = w;
    const block_q8_0 *b = xq;
    float sum = 0;
    for (size_t i = 0; i < n / QK8_1; i++) {
        int s = 0;
        for (int j = 0; j < 32; j++)
            s += a[i].qs[j] * b[i].qs[j];
        sum += s * (F16(a[i].d) * F16(b[i].d));
    }
    return sum;
}

/* The K types: per 256-block, isum = sum over groups of scale * (integer
 * dot of the group), msum = sum over groups of min * bsum (sums of the
 * activation over 16 elements). */

static float dot_q2_K(const void *w, const void *xq, size_t n)
{
    const block_q2_K *a = w;
    const block_q8_K *b = xq;
    float sum = 0;
    for (size_t i = 0; i < n / QK_K; i++) {
        const int8_t *x = b[i].qs;
        int isum = 0, msum = 0;
        for (int g = 0; g < 16; g++)
            msum += (a[i].scales[g] >> 4) * b[i].bsums[g];
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
                for (int half = 0; half < 2; half++) {
                    int g = 8 * h + 2 * k + half, s = 0;
                    const uint8_t *q = a[i].qs + 32 * h + 16 * half;
                    for (int l = 0; l < 16; l++)
                        s += ((q[l] >> (2 * k)) & 3) * x[16 * g + l];
                    isum += (a[i].scales[g] & 0xf) * s;
                }
        sum += b[i].d * (F16(a[i].d) * isum - F16(a[i].dmin) * msum);
    }
    return sum;
}

static float dot_q3_K(const void *w, const void *xq, size_t n)
{
    const block_q3_K *a = w;
    const block_q8_K *b = xq;
    float sum = 0;
    for (size_t i = 0; i < n / QK_K; i++) {
        const int8_t *x = b[i].qs;
        int8_t sc[16];
        quant_unpack_q3k_scales(a[i].scales, sc);
        int isum = 0;
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
                for (int half = 0; half < 2; half++) {
                    int g = 8 * h + 2 * k + half, s = 0;
                    const uint8_t *q = a[i].qs + 32 * h + 16 * half;
                    const uint8_t *hm = a[i].hmask + 16 * half;
                    int bit = 4 * h + k;
                    for (int l = 0; l < 16; l++) {
                        int v = ((q[l] >> (2 * k)) & 3) - (((hm[l] >> bit) & 1) ? 0 : 4);
                        s += v * x[16 * g + l];
                    }
                    isum += sc[g] * s;
                }
        sum += b[i].d * F16(a[i].d) * isum;
    }
    return sum;
}

static int k4_min_sum(const uint8_t mn[8], const int16_t *bsums)
{
    int msum = 0;
    for (int g = 0; g < 8; g++)
        msum += mn[g] * (bsums[2 * g] + bsums[2 * g + 1]);
    return msum;
}

static float dot_q4_K(const void *w, const void *xq, size_t n)
{
    const block_q4_K *a = w;
    const block_q8_K *b = xq;
    float sum = 0;
    for (size_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], mn[8];
        quant_unpack_k4_scales(a[i].scales, sc, mn);
        int isum = 0;
        for (int c = 0; c < 4; c++) {
            const uint8_t *q = a[i].qs + 32 * c;
            const int8_t *x = b[i].qs + 64 * c;
            int slo = 0, shi = 0;
            for (int l = 0; l < 32; l++) {
                slo += (q[l] & 0xf) * x[l];
                shi += (q[l] >> 4) * x[l + 32];
            }
            isum += sc[2 * c] * slo + sc[2 * c + 1] * shi;
        }
        int msum = k4_min_sum(mn, b[i].bsums);
        sum += b[i].d * (F16(a[i].d) * isum - F16(a[i].dmin) * msum);
    }
    return sum;
}

static float dot_q5_K(const void *w, const void *xq, size_t n)
{
    const block_q5_K *a = w;
    const block_q8_K *b = xq;
    float sum = 0;
    for (size_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], mn[8];
        quant_unpack_k4_scales(a[i].scales, sc, mn);
        int isum = 0;
        for (int c = 0; c < 4; c++) {
            const uint8_t *q = a[i].qs + 32 * c, *qh = a[i].qh;
            const int8_t *x = b[i].qs + 64 * c;
            int slo = 0, shi = 0;
            for (int l = 0; l < 32; l++) {
                int lo = (q[l] & 0xf) | ((qh[l] >> (2 * c)) & 1) << 4;
                int hi = (q[l] >> 4) | ((qh[l] >> (2 * c + 1)) & 1) << 4;
                slo += lo * x[l];
                shi += hi * x[l + 32];
            }
            isum += sc[2 * c] * slo + sc[2 * c + 1] * shi;
        }
        int msum = k4_min_sum(mn, b[i].bsums);
        sum += b[i].d * (F16(a[i].d) * isum - F16(a[i].dmin) * msum);
    }
    return sum;
}

/* Q6_K: sum sc*(q-32)*x = sum sc*q*x - 32 * sum sc*bsum (groups of 16). */
static float dot_q6_K(const void *w, const void *xq, size_t n)
{
    const block_q6_K *a = w;
    const block_q8_K *b = xq;
    float sum = 0;
    for (size_t i = 0; i < n / QK_K; i++) {
        const int8_t *sc = a[i].scales;
        int isum = 0, msum = 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = a[i].ql + 64 * h, *qh = a[i].qh + 32 * h;
            for (int k = 0; k < 4; k++) {
                const int8_t *x = b[i].qs + 128 * h + 32 * k;
                const uint8_t *lo = ql + 32 * (k & 1);
                int shift = k < 2 ? 0 : 4, s0 = 0, s1 = 0;
                for (int l = 0; l < 16; l++) {
                    s0 += (((lo[l] >> shift) & 0xf) | ((qh[l] >> (2 * k)) & 3) << 4) * x[l];
                    s1 += (((lo[l + 16] >> shift) & 0xf) | ((qh[l + 16] >> (2 * k)) & 3) << 4) * x[l + 16];
                }
                int g = 8 * h + 2 * k;
                isum += sc[g] * s0 + sc[g + 1] * s1;
            }
        }
        for (int g = 0; g < 16; g++)
            msum += sc[g] * b[i].bsums[g];
        sum += b[i].d * F16(a[i].d) * (isum - 32 * msum);
    }
    return sum;
}

static float dot_q8_K(const void *w, const void *xq, size_t n)
{
    const block_q8_K *a = w;
    const block_q8_K *b = xq;
    float sum = 0;
    for (size_t i = 0; i < n / QK_K; i++) {
        int s = 0;
        for (int j = 0; j < QK_K; j++)
            s += a[i].qs[j] * b[i].qs[j];
        sum += a[i].d * b[i].d * s;
    }
    return sum;
}

static const dot_fn dot_portable[GGML_TYPE_COUNT] = {
    [GGML_TYPE_F32] = dot_f32,   [GGML_TYPE_F16] = dot_f16,   [GGML_TYPE_BF16] = dot_bf16,
    [GGML_TYPE_Q4_0] = dot_q4_0, [GGML_TYPE_Q4_1] = dot_q4_1, [GGML_TYPE_Q5_0] = dot_q5_0,
    [GGML_TYPE_Q5_1] = dot_q5_1, [GGML_TYPE_Q8_0] = dot_q8_0, [GGML_TYPE_Q8_1] = dot_q8_1,
    [GGML_TYPE_Q2_K] = dot_q2_K, [GGML_TYPE_Q3_K] = dot_q3_K, [GGML_TYPE_Q4_K] = dot_q4_K,
    [GGML_TYPE_Q5_K] = dot_q5_K, [GGML_TYPE_Q6_K] = dot_q6_K, [GGML_TYPE_Q8_K] = dot_q8_K,
};

/* ---- AVX2 dispatch table (kernels_avx2.c) ---------------------------------- */

#if KERN_X86
static const dot_fn dot_avx2[GGML_TYPE_COUNT] = {
    [GGML_TYPE_F32] = kern_dot_f32_avx2,   [GGML_TYPE_F16] = kern_dot_f16_avx2,
    [GGML_TYPE_BF16] = kern_dot_bf16_avx2, [GGML_TYPE_Q4_0] = kern_dot_q4_0_avx2,
    [GGML_TYPE_Q4_1] = kern_dot_q4_1_avx2, [GGML_TYPE_Q5_0] = kern_dot_q5_0_avx2,
    [GGML_TYPE_Q5_1] = kern_dot_q5_1_avx2, [GGML_TYPE_Q8_0] = kern_dot_q8_0_avx2,
    [GGML_TYPE_Q4_K] = kern_dot_q4_K_avx2, [GGML_TYPE_Q5_K] = kern_dot_q5_K_avx2,
    [GGML_TYPE_Q6_K] = kern_dot_q6_K_avx2,
};
/* Where the CPU has AVX-512 VNNI, or AVX-VNNI: the same results, faster. */
static const dot_fn dot_vnni[GGML_TYPE_COUNT] = {
    [GGML_TYPE_Q4_0] = kern_dot_q4_0_vnni, [GGML_TYPE_Q8_0] = kern_dot_q8_0_vnni,
};
static const dot_fn dot_avxvnni[GGML_TYPE_COUNT] = {
    [GGML_TYPE_Q4_0] = kern_dot_q4_0_avxvnni, [GGML_TYPE_Q8_0] = kern_dot_q8_0_avxvnni,
};
#endif /* KERN_X86 */

/* The dot product for `type` on the current path (NULL if unsupported). */
static dot_fn dot_for(ggml_type type)
{
    kern_init();
    if ((unsigned)type >= GGML_TYPE_COUNT)
        return NULL;
#if KERN_X86
    if (avx512() && cpu.vnni && dot_vnni[type])
        return dot_vnni[type];
    if (avxvnni() && dot_avxvnni[type])
        return dot_avxvnni[type];
    if (simd() && dot_avx2[type])
        return dot_avx2[type];
#endif
    return dot_portable[type];
}

/* ---- Activations ---------------------------------------------------------- */

bool kern_type_supported(ggml_type type)
{
    return (unsigned)type < GGML_TYPE_COUNT && dot_portable[type] != NULL;
}

ggml_type kern_activation_type(ggml_type wtype)
{
    switch (wtype) {
    case GGML_TYPE_Q4_0: case GGML_TYPE_Q5_0: case GGML_TYPE_Q8_0: case GGML_TYPE_Q8_1:
        return GGML_TYPE_Q8_0;
    case GGML_TYPE_Q4_1: case GGML_TYPE_Q5_1:
        return GGML_TYPE_Q8_1;
    case GGML_TYPE_Q2_K: case GGML_TYPE_Q3_K: case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K:
    case GGML_TYPE_Q6_K: case GGML_TYPE_Q8_K:
        return GGML_TYPE_Q8_K;
    case GGML_TYPE_F16:
        return GGML_TYPE_F16;
    case GGML_TYPE_BF16:
        return GGML_TYPE_BF16;
    default:
        return GGML_TYPE_F32;
    }
}

size_t kern_activation_bytes(ggml_type wtype, size_t cols)
{
    if (!kern_type_supported(wtype) || !quant_row_bytes(wtype, cols))
        return 0;
    return quant_row_bytes(kern_activation_type(wtype), cols);
}

bool kern_quantize_activation(ggml_type wtype, const float *x, size_t cols, void *xq)
{
    if (!kern_activation_bytes(wtype, cols))
        return false;
    ggml_type at = kern_activation_type(wtype);
#if KERN_X86
    if (simd() && at == GGML_TYPE_Q8_0) {
        kern_quantize_q8_0_avx2(x, xq, cols);
        return true;
    }
#endif
    if (at == GGML_TYPE_F16) {
        kern_f32_to_f16(x, xq, cols);
        return true;
    }
    return quant_quantize_row(at, x, xq, cols) == QUANT_OK;
}

bool kern_activation_values(ggml_type wtype, const float *x, size_t cols, void *xq, float *out)
{
    if (!kern_quantize_activation(wtype, x, cols, xq))
        return false;
    ggml_type at = kern_activation_type(wtype);
    if (at == GGML_TYPE_F32)
        memcpy(out, x, cols * sizeof *out);
    else if (at == GGML_TYPE_F16)
        kern_f16_to_f32(xq, out, cols);
    else
        quant_dequantize_row(at, xq, out, cols);
    return true;
}

/* ---- Packed weights (kernels_packed.c) --------------------------------------- */

bool kern_packs(ggml_type type)
{
    kern_init();
    return (type == GGML_TYPE_Q8_0 || type == GGML_TYPE_F16 || type == GGML_TYPE_BF16 || kern_packed4_type(type)) &&
           simd();
}

#if KERN_X86
/* The instructions of the packed Q8_0 (and 4-bit) kernels on this path. */
static kern_packed_isa packed_isa(void)
{
    return avx512() && cpu.vnni ? KERN_PACKED_VNNI512 : avxvnni() ? KERN_PACKED_AVXVNNI : KERN_PACKED_AVX2;
}
#endif

void kern_packed_matmul(ggml_type type, const void *P, size_t rows, size_t cols, const void *xq,
                        size_t xq_stride, size_t n, size_t r0, size_t r1, float *y, size_t ldy)
{
#if KERN_X86
    if (type == GGML_TYPE_F16 && kern_packs(type) && r0 % 16 == 0 && r0 < r1) {
        kern_packed_f16_x86(avx512(), P, rows, cols, xq, xq_stride, n, r0 / 16, (r1 + 15) / 16, y, ldy);
        return;
    }
    if (type == GGML_TYPE_BF16 && kern_packs(type) && r0 % 16 == 0 && r0 < r1) {
        kern_bf16_isa isa = !avx512() ? KERN_BF16_AVX2 : cpu.bf16 ? KERN_BF16_DPBF16 : KERN_BF16_AVX512F;
        kern_packed_bf16_x86(isa, P, rows, cols, xq, xq_stride, n, r0 / 16, (r1 + 15) / 16, y, ldy);
        return;
    }
    kern_packed_isa isa = packed_isa();
    if (kern_packed4_type(type) && kern_packs(type) && r0 % KERN_PACK_ROWS == 0 && r0 < r1)
        kern_packed4_matmul_x86(isa, type, P, rows, cols, xq, xq_stride, n, r0 / 8, (r1 + 7) / 8, y, ldy);
    else if (kern_packs(type) && r0 % KERN_PACK_ROWS == 0 && r0 < r1)
        kern_packed_matmul_x86(isa, P, rows, cols, xq, xq_stride, n, r0 / 8, (r1 + 7) / 8, y, ldy);
#else
    (void)type, (void)P, (void)rows, (void)cols, (void)xq, (void)xq_stride, (void)n, (void)r0, (void)r1, (void)y,
        (void)ldy;
#endif
}

size_t kern_packed_tile_bytes(ggml_type type, size_t cols, size_t n)
{
#if KERN_X86
    if (type == GGML_TYPE_F16 && kern_packs(type) && kern_packed_bytes(type, KERN_PACK_ROWS, cols))
        return n * cols * sizeof(float);
    if (type == GGML_TYPE_Q8_0 && kern_packs(type) && cols % 32 == 0)
        return kern_packed_tile_bytes_x86(cols, n);
#else
    (void)type, (void)cols, (void)n;
#endif
    return 0;
}

void kern_packed_tile(ggml_type type, const void *xq, size_t xq_stride, size_t n, size_t cols, void *xt)
{
#if KERN_X86
    if (type == GGML_TYPE_F16 && kern_packed_tile_bytes(type, cols, n))
        kern_packed_tile_f16_x86(xq, xq_stride, n, cols, xt);
    else if (kern_packed_tile_bytes(type, cols, n))
        kern_packed_tile_x86(xq, xq_stride, n, cols, xt);
#else
    (void)xq, (void)xq_stride, (void)xt;
#endif
}

void kern_packed_matmul_tiled(ggml_type type, const void *P, size_t rows, size_t cols, const void *xt, size_t n,
                              size_t r0, size_t r1, float *y, size_t ldy)
{
#if KERN_X86
    if (type == GGML_TYPE_F16 && kern_packed_tile_bytes(type, cols, n) && r0 % 16 == 0 && r0 < r1)
        kern_packed_matmul_tiled_f16_x86(avx512(), P, rows, cols, xt, n, r0 / 16, (r1 + 15) / 16, y, ldy);
    else if (kern_packed_tile_bytes(type, cols, n) && r0 % KERN_PACK_ROWS == 0 && r0 < r1)
        kern_packed_matmul_tiled_x86(packed_isa(), P, rows, cols, xt, n, r0 / 8, (r1 + 7) / 8, y, ldy);
#else
    (void)P, (void)rows, (void)xt, (void)r0, (void)r1, (void)y, (void)ldy;
#endif
}

/* ---- Matrix × vector ------------------------------------------------------ */

void kern_matvec_rows(ggml_type wtype, const void *W, size_t cols, const void *xq,
                      size_t r0, size_t r1, float *y)
{
    dot_fn dot = dot_for(wtype);
    size_t rb = quant_row_bytes(wtype, cols);
    if (!dot || !rb)
        return;
    const uint8_t *w = W;
    for (size_t r = r0; r < r1; r++)
        y[r] = dot(w + r * rb, xq, cols);
}

void kern_matmul_rows(ggml_type wtype, const void *W, size_t cols, const void *xq, size_t xq_stride, size_t n,
                      size_t r0, size_t r1, float *y, size_t ldy)
{
    dot_fn dot = dot_for(wtype);
    size_t rb = quant_row_bytes(wtype, cols);
    if (!dot || !rb)
        return;
    const uint8_t *w = W, *x = xq;
    for (size_t r = r0; r < r1; r++)
        for (size_t t = 0; t < n; t++)
            y[t * ldy + r] = dot(w + r * rb, x + t * xq_stride, cols);
}

/* Stack space for one chunk of a quantized activation in kern_matvec. */
#define KERN_STACK_ACT 32768

bool kern_matvec(ggml_type wtype, const void *W, size_t rows, size_t cols,
                 const float *x, float *y)
{
    if (!kern_activation_bytes(wtype, cols))
        return false;
    ggml_type at = kern_activation_type(wtype);
    if (at == GGML_TYPE_F32) { /* float weights read x itself */
        kern_matvec_rows(wtype, W, cols, x, 0, rows, y);
        return true;
    }
    _Alignas(32) uint8_t buf[KERN_STACK_ACT];
    size_t qk = ggml_type_block_elems(at);
    size_t chunk = KERN_STACK_ACT / ggml_type_block_bytes(at) * qk;
    dot_fn dot = dot_for(wtype);
    size_t rb = quant_row_bytes(wtype, cols);
    const uint8_t *w = W;
    for (size_t c0 = 0; c0 < cols; c0 += chunk) {
        size_t nc = cols - c0 < chunk ? cols - c0 : chunk;
        quant_quantize_row(at, x + c0, buf, nc);
        size_t off = quant_row_bytes(wtype, c0);
        for (size_t r = 0; r < rows; r++) {
            float v = dot(w + r * rb + off, buf, nc);
            y[r] = c0 ? y[r] + v : v;
        }
    }
    return true;
}

bool kern_matvec_naive(ggml_type wtype, const void *W, size_t rows, size_t cols,
                       const float *x, float *y)
{
    size_t rb = quant_row_bytes(wtype, cols);
    if (!kern_type_supported(wtype) || !rb)
        return false;
    float tmp[QK_K];
    const uint8_t *w = W;
    for (size_t r = 0; r < rows; r++) {
        double s = 0;
        for (size_t c0 = 0; c0 < cols; c0 += QK_K) {
            size_t nc = cols - c0 < QK_K ? cols - c0 : QK_K;
            quant_dequantize_row(wtype, w + r * rb + quant_row_bytes(wtype, c0), tmp, nc);
            for (size_t j = 0; j < nc; j++)
                s += (double)tmp[j] * x[c0 + j];
        }
        y[r] = (float)s;
    }
    return true;
}

/* ---- Conversion --------------------------------------------------------------- */

void kern_f16_to_f32(const uint16_t *src, float *dst, size_t n)
{
    kern_init();
#if KERN_X86
    if (simd()) {
        kern_f16_to_f32_avx2(src, dst, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        dst[i] = F16(src[i]);
}

void kern_f32_to_f16(const float *src, uint16_t *dst, size_t n)
{
    kern_init();
#if KERN_X86
    if (simd()) {
        kern_f32_to_f16_avx2(src, dst, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        dst[i] = quant_f32_to_f16(src[i]);
}

bool kern_dequantize_rows_f32(ggml_type wtype, const void *W, size_t cols,
                              size_t r0, size_t r1, float *dst)
{
    size_t rb = quant_row_bytes(wtype, cols);
    if (!kern_type_supported(wtype) || !rb)
        return false;
    const uint8_t *w = W;
    for (size_t r = r0; r < r1; r++) {
        float *out = dst + (r - r0) * cols;
        if (wtype == GGML_TYPE_F16)
            kern_f16_to_f32((const uint16_t *)(w + r * rb), out, cols);
#if KERN_X86
        else if (simd() && wtype == GGML_TYPE_Q8_0)
            kern_dequant_q8_0_avx2(w + r * rb, out, cols);
        else if (simd() && wtype == GGML_TYPE_Q4_0)
            kern_dequant_q4_0_avx2(w + r * rb, out, cols);
#endif
        else
            quant_dequantize_row(wtype, w + r * rb, out, cols);
    }
    return true;
}

/* ---- Attention ------------------------------------------------------------------ */

/* Round a row to half precision and back: what storing it as F16 does. */
static void round_half(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = F16(quant_f32_to_f16(x[i]));
}

static void attend_one(const float *q32, const uint16_t *k, const uint16_t *v, size_t n_keys, size_t stride,
                       size_t hd, float scale, float *out)
{
    float q[KERN_MAX_HEAD_DIM];
    memcpy(q, q32, hd * sizeof *q);
    round_half(q, hd);
    /* out is the accumulator; it always holds half-precision values */
    float M = -INFINITY, S = 0.0f;
    memset(out, 0, hd * sizeof *out);
    for (size_t p = 0; p < n_keys; p++) {
        const uint16_t *kr = k + p * stride, *vr = v + p * stride;
        float d = 0.0f;
        for (size_t i = 0; i < hd; i++)
            d += q[i] * F16(kr[i]);
        d *= scale;
        float ms = 1.0f, vs = 1.0f;
        if (d > M) {
            ms = expf(M - d); /* rescale what was accumulated so far */
            M = d;
            for (size_t i = 0; i < hd; i++)
                out[i] *= ms;
            round_half(out, hd);
        } else {
            vs = expf(d - M);
        }
        for (size_t i = 0; i < hd; i++)
            out[i] += F16(vr[i]) * vs;
        round_half(out, hd);
        S = S * ms + vs;
    }
    for (size_t i = 0; i < hd; i++)
        out[i] /= S;
}

void kern_attend_f16(const float *q, size_t n_q, size_t q_stride, const uint16_t *k, const uint16_t *v,
                     size_t n_keys, size_t stride, size_t hd, float scale, float *out, size_t out_stride)
{
    kern_init();
    if (hd > KERN_MAX_HEAD_DIM)
        return; /* model_load refuses such heads */
#if KERN_X86
    if (avx512() && hd == 64) {
        kern_attend_f16_hd64_avx512(q, n_q, q_stride, k, v, n_keys, stride, scale, out, out_stride);
        return;
    }
    if (simd() && hd % 8 == 0) {
        kern_attend_f16_avx2(q, n_q, q_stride, k, v, n_keys, stride, hd, scale, out, out_stride);
        return;
    }
#endif
    for (size_t j = 0; j < n_q; j++)
        attend_one(q + j * q_stride, k, v, n_keys, stride, hd, scale, out + j * out_stride);
}

/* ---- Exponentials ------------------------------------------------------------------ */

static inline float exp_poly(float x)
{
    if (x > 88.0f)
        x = 88.0f;
    if (x < -87.0f)
        x = -87.0f;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

void kern_swiglu(float *gate, const float *up, size_t n)
{
    kern_init();
#if KERN_X86
    if (simd()) {
        kern_swiglu_avx2(gate, up, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void kern_exp(float *x, size_t n)
{
    kern_init();
    size_t i = 0;
#if KERN_X86
    if (simd())
        i = kern_exp_avx2(x, n);
#endif
    for (; i < n; i++)
        x[i] = exp_poly(x[i]);
}

bool kern_cpu_has_bf16(void)
{
    kern_init();
    return cpu.bf16;
}
