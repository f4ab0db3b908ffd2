/*
 * quantize.c — ggml's reference quantizers: float rows into every block
 * format of quant.h (quant_quantize_row), with the scale searches they use.
 *
 * Each quantizer follows ggml's quantize_row_*_ref step by step (same
 * search, same float operations in the same order) so that the bytes it
 * produces match llama-quantize without an importance matrix.  What this
 * file does not do: importance-matrix quantization, or dequantizing
 * (quant.c holds the block layouts' readers and the half conversions).
 */
#include "engine/quant.h"

#include <float.h>
#include <math.h>
#include <string.h>

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

#define F16(h) quant_f16_to_f32(h)

/* ---- Quantizer helpers (ggml's searches) --------------------------------- */

/* Round to nearest, ties to even, independent of the FPU mode: adding
 * 1.5 * 2^23 leaves the rounded integer in the low mantissa bits.  Valid
 * for |v| < 2^22. */
static inline int nearest_int(float v)
{
    float t = v + 12582912.0f;
    return (int)(f32_bits(t) & 0x7fffffu) - 0x400000;
}

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Symmetric scale search (ggml make_qx_quants, rmse_type 1, no importance
 * weights): L[i] = l + nmax with l in [-nmax, nmax-1]; returns the scale
 * that minimises sum x^2 (x - scale*l)^2 over 19 trial inverse scales. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax + clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3_K's group search (ggml make_q3_quants with do_rmse): start from the
 * max-based scale, then move single elements while the weighted fit
 * improves.  L[i] in [0, 2*nmax). */
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                int nl = clampi(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (nl != L[i]) {
                    slx += w * x[i] * nl;
                    sl2 += w * nl * nl;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)nl;
                        sumlx = slx;
                        suml2 = sl2;
                        changed++;
                    }
                }
            }
        }
        if (!changed)
            break;
    }
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Asymmetric scale+min search (ggml make_qkx2_quants): x ~ scale*L - min
 * with L in [0, nmax] and min >= 0 (returned in *the_min); tries nstep+1
 * inverse scales around nmax/(max-min), solving weighted least squares for
 * scale and min at each. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *w,
                              uint8_t *L, float *the_min, uint8_t *Laux,
                              float rmin, float rdelta, int nstep, bool use_mad)
{
    float min = x[0], max = x[0];
    float sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0)
        min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.0f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += w[i] * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float err = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                err += w[i] * diff;
            }
            if (err < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = err;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* Pack 256 2-bit values: byte 32*h + l holds elements 128*h + l + 32*k at
 * bits 2*k (the Q2_K/Q3_K order). */
static void pack_2bit(const uint8_t *L, uint8_t *qs)
{
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *s = L + 128 * h + l;
            qs[32 * h + l] = (uint8_t)(s[0] | s[32] << 2 | s[64] << 4 | s[96] << 6);
        }
}

/* Pack 8 6-bit scales and mins into Q4_K/Q5_K's 12 bytes. */
static void pack_k4_scales(const uint8_t ls[8], const uint8_t lm[8], uint8_t p[12])
{
    for (int j = 0; j < 4; j++) {
        p[j] = ls[j];
        p[j + 4] = lm[j];
    }
    for (int j = 4; j < 8; j++) {
        p[j + 4] = (uint8_t)((ls[j] & 0xf) | (lm[j] & 0xf) << 4);
        p[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
        p[j] |= (uint8_t)((lm[j] >> 4) << 6);
    }
}

/* ---- Quantizers: one block each ----------------------------------------- */

static float absmax_signed(const float *x, int n)
{
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

static void minmax(const float *x, int n, float *min, float *max)
{
    *min = FLT_MAX;
    *max = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < *min)
            *min = x[j];
        if (x[j] > *max)
            *max = x[j];
    }
}

static void q_q4_0(const float *x, block_q4_0 *b)
{
    float d = absmax_signed(x, 32) / -8;
    float id = d ? 1.0f / d : 0.0f;
    b->d = quant_f32_to_f16(d);
    for (int j = 0; j < 16; j++) {
        int q0 = (int)(x[j] * id + 8.5f), q1 = (int)(x[j + 16] * id + 8.5f);
        b->qs[j] = (uint8_t)((q0 > 15 ? 15 : q0) | (q1 > 15 ? 15 : q1) << 4);
    }
}

static void q_q4_1(const float *x, block_q4_1 *b)
{
    float min, max;
    minmax(x, 32, &min, &max);
    float d = (max - min) / 15;
    float id = d ? 1.0f / d : 0.0f;
    b->d = quant_f32_to_f16(d);
    b->m = quant_f32_to_f16(min);
    for (int j = 0; j < 16; j++) {
        int q0 = (int)((x[j] - min) * id + 0.5f), q1 = (int)((x[j + 16] - min) * id + 0.5f);
        b->qs[j] = (uint8_t)((q0 > 15 ? 15 : q0) | (q1 > 15 ? 15 : q1) << 4);
    }
}

static void put_q5(const int *q, uint8_t *qs, uint8_t qh[4])
{
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0xf) | (q[j + 16] & 0xf) << 4);
        h |= (uint32_t)((q[j] >> 4) & 1) << j;
        h |= (uint32_t)((q[j + 16] >> 4) & 1) << (j + 16);
    }
    for (int k = 0; k < 4; k++)
        qh[k] = (uint8_t)(h >> (8 * k));
}

static void q_q5_0(const float *x, block_q5_0 *b)
{
    float d = absmax_signed(x, 32) / -16;
    float id = d ? 1.0f / d : 0.0f;
    int q[32];
    b->d = quant_f32_to_f16(d);
    for (int j = 0; j < 32; j++) {
        q[j] = (int)(x[j] * id + 16.5f);
        if (q[j] > 31)
            q[j] = 31;
    }
    put_q5(q, b->qs, b->qh);
}

/* ggml does not clamp at 31 here; (max-min)*id + 0.5 cannot reach 32
 * unless rounding goes badly wrong, so the clamp only guards the 5th bit. */
static void q_q5_1(const float *x, block_q5_1 *b)
{
    float min, max;
    minmax(x, 32, &min, &max);
    float d = (max - min) / 31;
    float id = d ? 1.0f / d : 0.0f;
    int q[32];
    b->d = quant_f32_to_f16(d);
    b->m = quant_f32_to_f16(min);
    for (int j = 0; j < 32; j++) {
        q[j] = (int)((x[j] - min) * id + 0.5f);
        if (q[j] > 31)
            q[j] = 31;
    }
    put_q5(q, b->qs, b->qh);
}

static void q_q8_0(const float *x, block_q8_0 *b)
{
    float amax = 0;
    for (int j = 0; j < 32; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127;
    float id = d ? 1.0f / d : 0.0f;
    b->d = quant_f32_to_f16(d);
    for (int j = 0; j < 32; j++)
        b->qs[j] = (int8_t)roundf(x[j] * id);
}

static void q_q8_1(const float *x, block_q8_1 *b)
{
    float amax = 0;
    for (int j = 0; j < 32; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127;
    float id = d ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
        b->qs[j] = (int8_t)roundf(x[j] * id);
        sum += b->qs[j];
    }
    b->d = quant_f32_to_f16(d);
    b->s = quant_f32_to_f16(sum * d);
}

/* ggml leaves bsums unwritten for an all-zero block; we zero them. */
static void q_q8_K(const float *x, block_q8_K *b)
{
    float max = absmax_signed(x, QK_K);
    if (!max) {
        memset(b, 0, sizeof *b);
        return;
    }
    float iscale = -127.f / max;
    for (int j = 0; j < QK_K; j++) {
        int v = nearest_int(iscale * x[j]);
        b->qs[j] = (int8_t)(v > 127 ? 127 : v);
    }
    for (int g = 0; g < QK_K / 16; g++) {
        int sum = 0;
        for (int i = 0; i < 16; i++)
            sum += b->qs[16 * g + i];
        b->bsums[g] = (int16_t)sum;
    }
    b->d = 1 / iscale;
}

static void q_q2_K(const float *x, block_q2_K *b)
{
    uint8_t L[QK_K], Laux[16];
    float w[16], mins[16], scales[16];
    float max_scale = 0, max_min = 0;
    for (int g = 0; g < 16; g++) {
        for (int l = 0; l < 16; l++)
            w[l] = fabsf(x[16 * g + l]);
        scales[g] = make_qkx2_quants(16, 3, x + 16 * g, w, L + 16 * g, &mins[g],
                                     Laux, -0.5f, 0.1f, 15, true);
        if (scales[g] > max_scale)
            max_scale = scales[g];
        if (mins[g] > max_min)
            max_min = mins[g];
    }
    if (max_scale > 0) {
        float iscale = 15.f / max_scale;
        for (int g = 0; g < 16; g++)
            b->scales[g] = (uint8_t)nearest_int(iscale * scales[g]);
        b->d = quant_f32_to_f16(max_scale / 15.f);
    } else {
        memset(b->scales, 0, sizeof b->scales);
        b->d = quant_f32_to_f16(0.f);
    }
    if (max_min > 0) {
        float iscale = 15.f / max_min;
        for (int g = 0; g < 16; g++)
            b->scales[g] |= (uint8_t)(nearest_int(iscale * mins[g]) << 4);
        b->dmin = quant_f32_to_f16(max_min / 15.f);
    } else {
        b->dmin = quant_f32_to_f16(0.f);
    }
    for (int g = 0; g < 16; g++) {
        float d = F16(b->d) * (b->scales[g] & 0xf);
        if (!d)
            continue;
        float dm = F16(b->dmin) * (b->scales[g] >> 4);
        for (int i = 0; i < 16; i++)
            L[16 * g + i] = (uint8_t)clampi(nearest_int((x[16 * g + i] + dm) / d), 0, 3);
    }
    pack_2bit(L, b->qs);
}

static void q_q3_K(const float *x, block_q3_K *b)
{
    int8_t L[QK_K];
    float scales[16];
    float max_scale = 0, amax = 0;
    for (int g = 0; g < 16; g++) {
        scales[g] = make_q3_quants(16, 4, x + 16 * g, L + 16 * g);
        if (fabsf(scales[g]) > amax) {
            amax = fabsf(scales[g]);
            max_scale = scales[g];
        }
    }
    memset(b->scales, 0, sizeof b->scales);
    if (max_scale) {
        float iscale = -32.f / max_scale;
        for (int g = 0; g < 16; g++) {
            int l = clampi(nearest_int(iscale * scales[g]), -32, 31) + 32;
            if (g < 8)
                b->scales[g] = (uint8_t)(l & 0xf);
            else
                b->scales[g - 8] |= (uint8_t)((l & 0xf) << 4);
            b->scales[8 + g % 4] |= (uint8_t)((l >> 4) << (2 * (g / 4)));
        }
        b->d = quant_f32_to_f16(1 / iscale);
    } else {
        b->d = quant_f32_to_f16(0.f);
    }
    int8_t sc[16];
    quant_unpack_q3k_scales(b->scales, sc);
    for (int g = 0; g < 16; g++) {
        float d = F16(b->d) * sc[g];
        if (!d)
            continue;
        for (int i = 0; i < 16; i++)
            L[16 * g + i] = (int8_t)(clampi(nearest_int(x[16 * g + i] / d), -4, 3) + 4);
    }
    uint8_t low[QK_K];
    memset(b->hmask, 0, sizeof b->hmask);
    for (int e = 0; e < QK_K; e++) {
        int l = L[e];
        if (l > 3) {
            b->hmask[e % 32] |= (uint8_t)(1u << (e / 32));
            l -= 4;
        }
        low[e] = (uint8_t)l;
    }
    pack_2bit(low, b->qs);
}

/* Q4_K and Q5_K share everything but the number of levels. */
static void q_k4_common(const float *x, int nmax, float rmin, int nstep,
                        uint8_t L[QK_K], uint8_t packed[12], uint16_t *pd,
                        uint16_t *pdmin)
{
    uint8_t Laux[32], ls[8], lm[8];
    float w[32], mins[8], scales[8];
    float max_scale = 0, max_min = 0;
    for (int g = 0; g < 8; g++) {
        const float *xg = x + 32 * g;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++)
            sum_x2 += xg[l] * xg[l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++)
            w[l] = av_x + fabsf(xg[l]);
        scales[g] = make_qkx2_quants(32, nmax, xg, w, L + 32 * g, &mins[g], Laux,
                                     rmin, 0.1f, nstep, false);
        if (scales[g] > max_scale)
            max_scale = scales[g];
        if (mins[g] > max_min)
            max_min = mins[g];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int g = 0; g < 8; g++) {
        uint8_t s = (uint8_t)nearest_int(inv_scale * scales[g]);
        uint8_t m = (uint8_t)nearest_int(inv_min * mins[g]);
        ls[g] = s > 63 ? 63 : s;
        lm[g] = m > 63 ? 63 : m;
    }
    pack_k4_scales(ls, lm, packed);
    *pd = quant_f32_to_f16(max_scale / 63.f);
    *pdmin = quant_f32_to_f16(max_min / 63.f);

    uint8_t sc[8], mn[8];
    quant_unpack_k4_scales(packed, sc, mn);
    for (int g = 0; g < 8; g++) {
        float d = F16(*pd) * sc[g];
        if (!d)
            continue;
        float dm = F16(*pdmin) * mn[g];
        for (int i = 0; i < 32; i++)
            L[32 * g + i] = (uint8_t)clampi(nearest_int((x[32 * g + i] + dm) / d), 0, nmax);
    }
}

static void q_q4_K(const float *x, block_q4_K *b)
{
    uint8_t L[QK_K];
    q_k4_common(x, 15, -1.f, 20, L, b->scales, &b->d, &b->dmin);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            b->qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
}

static void q_q5_K(const float *x, block_q5_K *b)
{
    uint8_t L[QK_K];
    q_k4_common(x, 31, -0.5f, 15, L, b->scales, &b->d, &b->dmin);
    memset(b->qh, 0, sizeof b->qh);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
            b->qh[l] |= (uint8_t)((lo >> 4) << (2 * c) | (hi >> 4) << (2 * c + 1));
            b->qs[32 * c + l] = (uint8_t)((lo & 0xf) | (hi & 0xf) << 4);
        }
}

static void q_q6_K(const float *x, block_q6_K *b)
{
    int8_t L[QK_K];
    float scales[16];
    float max_scale = 0, max_abs = 0;
    for (int g = 0; g < 16; g++) {
        scales[g] = make_qx_quants(16, 32, x + 16 * g, L + 16 * g);
        if (fabsf(scales[g]) > max_abs) {
            max_abs = fabsf(scales[g]);
            max_scale = scales[g];
        }
    }
    if (max_abs < 1e-15f) {
        memset(b, 0, sizeof *b);
        return;
    }
    float iscale = -128.f / max_scale;
    b->d = quant_f32_to_f16(1 / iscale);
    for (int g = 0; g < 16; g++) {
        int s = nearest_int(iscale * scales[g]);
        b->scales[g] = (int8_t)(s > 127 ? 127 : s);
    }
    for (int g = 0; g < 16; g++) {
        float d = F16(b->d) * b->scales[g];
        if (!d)
            continue;
        for (int i = 0; i < 16; i++)
            L[16 * g + i] = (int8_t)(clampi(nearest_int(x[16 * g + i] / d), -32, 31) + 32);
    }
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const int8_t *s = L + 128 * h + l;
            b->ql[64 * h + l] = (uint8_t)((s[0] & 0xf) | (s[64] & 0xf) << 4);
            b->ql[64 * h + l + 32] = (uint8_t)((s[32] & 0xf) | (s[96] & 0xf) << 4);
            b->qh[32 * h + l] = (uint8_t)((s[0] >> 4) | (s[32] >> 4) << 2 |
                                          (s[64] >> 4) << 4 | (s[96] >> 4) << 6);
        }
}

/* ---- Rows --------------------------------------------------------------- */

bool quant_can_quantize(ggml_type type)
{
    return ggml_type_known((uint32_t)type);
}

/* Apply a per-block quantizer over a row. */
#define EACH_QBLOCK(blk, qk, fn, src, dst, n)                                  \
    do {                                                                       \
        for (size_t i_ = 0; i_ < (n) / (qk); i_++)                             \
            fn((src) + i_ * (qk), (blk *)(dst) + i_);                          \
    } while (0)

int quant_quantize_row(ggml_type type, const float *src, void *dst, size_t n)
{
    if (!quant_can_quantize(type))
        return QUANT_ETYPE;
    if (n % ggml_type_block_elems(type))
        return QUANT_ESIZE;
    switch (type) {
    case GGML_TYPE_F32:
        memcpy(dst, src, n * sizeof(float));
        break;
    case GGML_TYPE_F16: {
        uint16_t *h = dst;
        for (size_t i = 0; i < n; i++)
            h[i] = quant_f32_to_f16(src[i]);
        break;
    }
    case GGML_TYPE_BF16: {
        uint16_t *h = dst;
        for (size_t i = 0; i < n; i++)
            h[i] = quant_f32_to_bf16(src[i]);
        break;
    }
    case GGML_TYPE_Q4_0: EACH_QBLOCK(block_q4_0, QK4_0, q_q4_0, src, dst, n); break;
    case GGML_TYPE_Q4_1: EACH_QBLOCK(block_q4_1, QK4_1, q_q4_1, src, dst, n); break;
    case GGML_TYPE_Q5_0: EACH_QBLOCK(block_q5_0, QK5_0, q_q5_0, src, dst, n); break;
    case GGML_TYPE_Q5_1: EACH_QBLOCK(block_q5_1, QK5_1, q_q5_1, src, dst, n); break;
    case GGML_TYPE_Q8_0: EACH_QBLOCK(block_q8_0, QK8_0, q_q8_0, src, dst, n); break;
    case GGML_TYPE_Q8_1: EACH_QBLOCK(block_q8_1, QK8_1, q_q8_1, src, dst, n); break;
    case GGML_TYPE_Q2_K: EACH_QBLOCK(block_q2_K, QK_K, q_q2_K, src, dst, n); break;
    case GGML_TYPE_Q3_K: EACH_QBLOCK(block_q3_K, QK_K, q_q3_K, src, dst, n); break;
    case GGML_TYPE_Q4_K: EACH_QBLOCK(block_q4_K, QK_K, q_q4_K, src, dst, n); break;
    case GGML_TYPE_Q5_K: EACH_QBLOCK(block_q5_K, QK_K, q_q5_K, src, dst, n); break;
    case GGML_TYPE_Q6_K: EACH_QBLOCK(block_q6_K, QK_K, q_q6_K, src, dst, n); break;
    case GGML_TYPE_Q8_K: EACH_QBLOCK(block_q8_K, QK_K, q_q8_K, src, dst, n); break;
    default: return QUANT_ETYPE;
    }
    return QUANT_OK;
}
