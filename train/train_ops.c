/*
 * train_ops.c — the trainer's building blocks (see train_ops.h): what
 * train.c's forward and backward passes are made of.
 */
#include "train/train_ops.h"

#include "engine/kernels.h"
#include "engine/pool.h"
#include "util/util.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define GEMM_UNIT 16 /* rows per unit when splitting a product */

/* ---- Exponentials --------------------------------------------------------------
 * Softmax, attention and SiLU take ~10^8 exponentials a step; libm's expf
 * one at a time would cost as much as the matrix products.  tr_exp_inplace
 * uses kern_exp (Cephes' polynomial, eight lanes at a time on AVX2); the
 * naive path uses libm. */

void tr_exp_inplace(const train_model *m, float *x, size_t n)
{
    if (m->naive) {
        for (size_t i = 0; i < n; i++)
            x[i] = expf(x[i]);
        return;
    }
    kern_exp(x, n);
}

/* ---- Matrix products -------------------------------------------------------------
 * C (M, N) = alpha · op(A) (M, K) · op(B) (K, N) + beta · C, row-major as
 * BLAS has it (beta 0: C is not read). */

typedef struct {
    bool ta, tb;
    int M, N, K;
    float alpha;
    const float *A;
    int lda;
    const float *B;
    int ldb;
    float beta;
    float *C;
    int ldc;
} gemm_args;

/* The reference: plain loops, double accumulation. */
static void gemm_naive(const gemm_args *g)
{
    for (int i = 0; i < g->M; i++)
        for (int j = 0; j < g->N; j++) {
            double s = 0.0;
            for (int k = 0; k < g->K; k++) {
                float a = g->ta ? g->A[(size_t)k * g->lda + i] : g->A[(size_t)i * g->lda + k];
                float b = g->tb ? g->B[(size_t)j * g->ldb + k] : g->B[(size_t)k * g->ldb + j];
                s += (double)a * b;
            }
            float *c = &g->C[(size_t)i * g->ldc + j];
            *c = (float)(g->alpha * s + (g->beta != 0.0f ? (double)g->beta * *c : 0.0));
        }
}

static void gemm_1(const train_model *m, const gemm_args *g)
{
    if (g->M <= 0 || g->N <= 0)
        return;
    if (g->K <= 0) { /* BLAS would scale C by beta */
        for (int i = 0; i < g->M; i++)
            for (int j = 0; j < g->N; j++) {
                float *c = &g->C[(size_t)i * g->ldc + j];
                *c = g->beta != 0.0f ? *c * g->beta : 0.0f;
            }
        return;
    }
    if (m->naive) {
        gemm_naive(g);
        return;
    }
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, g->M,
                g->N, g->K, g->alpha, g->A, g->lda, g->B, g->ldb, g->beta, g->C, g->ldc);
}

typedef struct {
    const train_model *m;
    const gemm_args *g;
} gemm_job;

static void gemm_part(void *arg, int i, int n)
{
    gemm_job *j = arg;
    gemm_args g = *j->g;
    long units = (g.M + GEMM_UNIT - 1) / GEMM_UNIT, lo, hi;
    pool_split(units, i, n, &lo, &hi);
    lo *= GEMM_UNIT;
    hi = hi * GEMM_UNIT < g.M ? hi * GEMM_UNIT : g.M;
    if (lo >= hi)
        return;
    g.A += g.ta ? (size_t)lo : (size_t)lo * g.lda;
    g.C += (size_t)lo * g.ldc;
    g.M = (int)(hi - lo);
    gemm_1(j->m, &g);
}

/* The same product with C's rows split across the pool. */
void tr_gemm_par(train_model *m, bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc)
{
    gemm_args g = {ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
    gemm_job j = {m, &g};
    pool_run(m->pool, gemm_part, &j);
}

static void gemm_one(const train_model *m, bool ta, bool tb, int M, int N, int K, float alpha, const float *A,
                     int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    gemm_args g = {ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
    gemm_1(m, &g);
}

/* ---- Element-wise passes (each split by rows across the pool) ----------------------------- */

typedef struct {
    train_model *m;
    int N, T, B;
    const float *x, *w;    /* rmsnorm input (N, E) and gain                    */
    float *y, *rstd;       /* rmsnorm output                                   */
    const float *dy;       /* tr_rmsnorm_bwd: gradient of y                       */
    float *dx;             /* tr_rmsnorm_bwd: gradient added into                 */
    float *qkv;            /* rope                                             */
    bool inverse;
    int layer;
} row_job;

static void rmsnorm_part(void *arg, int i, int n)
{
    row_job *j = arg;
    int E = (int)j->m->E;
    long lo, hi;
    pool_split(j->N, i, n, &lo, &hi);
    for (long r = lo; r < hi; r++) {
        const float *x = j->x + (size_t)r * E;
        float *y = j->y + (size_t)r * E;
        double ss = 0.0;
        for (int k = 0; k < E; k++)
            ss += (double)x[k] * x[k];
        float s = 1.0f / sqrtf((float)(ss / E) + j->m->cfg.rms_eps);
        j->rstd[r] = s;
        for (int k = 0; k < E; k++)
            y[k] = x[k] * s * j->w[k];
    }
}

void tr_rmsnorm_fwd(train_model *m, int N, const float *x, const float *w, float *y, float *rstd)
{
    row_job j = {.m = m, .N = N, .x = x, .w = w, .y = y, .rstd = rstd};
    pool_run(m->pool, rmsnorm_part, &j);
}

/* y = x·r·w, r = (mean x² + eps)^-1/2:
 *   dx_k += r·g_k − r³·x_k·Σ_i g_i x_i / E   with g = dy·w
 *   dw_k += Σ_rows dy_k·x_k·r                 (per-thread partial sums) */
static void rmsnorm_bwd_part(void *arg, int i, int n)
{
    row_job *j = arg;
    int E = (int)j->m->E;
    float *part = j->m->norm_part + (size_t)i * E;
    memset(part, 0, (size_t)E * sizeof *part);
    long lo, hi;
    pool_split(j->N, i, n, &lo, &hi);
    for (long r = lo; r < hi; r++) {
        const float *x = j->x + (size_t)r * E, *dy = j->dy + (size_t)r * E;
        float *dx = j->dx + (size_t)r * E;
        float s = j->rstd[r];
        double dot = 0.0;
        for (int k = 0; k < E; k++)
            dot += (double)dy[k] * j->w[k] * x[k];
        float c = (float)(dot * s * s * s / E);
        for (int k = 0; k < E; k++) {
            dx[k] += s * dy[k] * j->w[k] - c * x[k];
            part[k] += dy[k] * x[k] * s;
        }
    }
}

void tr_rmsnorm_bwd(train_model *m, int N, const float *x, const float *rstd, const float *w, const float *dy,
                    float *dx, float *dw)
{
    row_job j = {.m = m, .N = N, .x = x, .w = w, .rstd = (float *)rstd, .dy = dy, .dx = dx};
    pool_run(m->pool, rmsnorm_bwd_part, &j);
    for (int t = 0; t < m->n_threads; t++) /* fixed order: deterministic */
        for (uint32_t k = 0; k < m->E; k++)
            dw[k] += m->norm_part[(size_t)t * m->E + k];
}

/* Rotate q (H heads) and k (G heads) of each row at position r % T; the
 * inverse rotation is the backward pass. */
static void rope_part(void *arg, int i, int n)
{
    row_job *j = arg;
    train_model *m = j->m;
    int half = (int)m->hd / 2, QKV = (int)m->QKV;
    long lo, hi;
    pool_split(j->N, i, n, &lo, &hi);
    float sgn = j->inverse ? -1.0f : 1.0f;
    for (long r = lo; r < hi; r++) {
        int pos = (int)(r % j->T);
        const float *cs = m->rope_cos + (size_t)pos * half, *sn = m->rope_sin + (size_t)pos * half;
        float *row = j->qkv + (size_t)r * QKV;
        for (uint32_t h = 0; h < m->H + m->G; h++) {
            float *v = row + (size_t)h * m->hd;
            for (int k = 0; k < half; k++) {
                float x0 = v[2 * k], x1 = v[2 * k + 1], s = sgn * sn[k];
                v[2 * k] = x0 * cs[k] - x1 * s;
                v[2 * k + 1] = x0 * s + x1 * cs[k];
            }
        }
    }
}

void tr_rope_apply(train_model *m, int N, int T, float *qkv, bool inverse)
{
    row_job j = {.m = m, .N = N, .T = T, .qkv = qkv, .inverse = inverse};
    pool_run(m->pool, rope_part, &j);
}

/* act = silu(g)·u = g·σ(g)·u */

static void sigmoid_row(const train_model *m, const float *g, float *s, int F)
{
    for (int k = 0; k < F; k++)
        s[k] = -g[k];
    tr_exp_inplace(m, s, (size_t)F);
    for (int k = 0; k < F; k++)
        s[k] = 1.0f / (1.0f + s[k]);
}

void tr_swiglu_fwd_part(void *arg, int i, int n)
{
    swiglu_job *j = arg;
    int F = (int)j->m->F;
    float *s = j->m->tscratch + (size_t)i * (j->m->F > j->m->E ? j->m->F : j->m->E);
    long lo, hi;
    pool_split(j->N, i, n, &lo, &hi);
    for (long r = lo; r < hi; r++) {
        const float *g = j->gu + (size_t)r * 2 * F, *u = g + F;
        float *a = j->act + (size_t)r * F;
        sigmoid_row(j->m, g, s, F);
        for (int k = 0; k < F; k++)
            a[k] = g[k] * s[k] * u[k];
    }
}

/* d_u = d·g·σ;  d_g = d·u·σ·(1 + g·(1 − σ)) */
void tr_swiglu_bwd_part(void *arg, int i, int n)
{
    swiglu_job *j = arg;
    int F = (int)j->m->F;
    float *s = j->m->tscratch + (size_t)i * (j->m->F > j->m->E ? j->m->F : j->m->E);
    long lo, hi;
    pool_split(j->N, i, n, &lo, &hi);
    for (long r = lo; r < hi; r++) {
        const float *g = j->gu + (size_t)r * 2 * F, *u = g + F, *d = j->dact + (size_t)r * F;
        float *dg = j->dgu + (size_t)r * 2 * F, *du = dg + F;
        sigmoid_row(j->m, g, s, F);
        for (int k = 0; k < F; k++) {
            du[k] = d[k] * g[k] * s[k];
            dg[k] = d[k] * u[k] * s[k] * (1.0f + g[k] * (1.0f - s[k]));
        }
    }
}

/* ---- Attention ------------------------------------------------------------------------------
 * One job per (sequence b, KV head g); its query heads g·group .. are done
 * one after another, so the K/V gradient of a KV head has one writer.
 * Query rows go in blocks of ATT_BQ; block [r0, r1) sees keys [0, r1). */


void tr_att_fwd_part(void *arg, int ti, int tn)
{
    att_job *j = arg;
    train_model *m = j->m;
    layer_act *a = &m->acts[j->layer];
    int T = j->T, hd = (int)m->hd, QKV = (int)m->QKV, E = (int)m->E, H = (int)m->H;
    int group = (int)(m->H / m->G);
    float scale = 1.0f / sqrtf((float)hd);
    float *S = m->att_s + (size_t)ti * ATT_BQ * m->cfg.n_ctx;
    long lo, hi;
    pool_split((long)j->B * m->G, ti, tn, &lo, &hi);
    for (long job = lo; job < hi; job++) {
        int b = (int)(job / m->G), g = (int)(job % m->G);
        const float *base = a->qkv + (size_t)b * T * QKV;
        const float *K = base + E + (size_t)g * hd, *Vv = base + E + m->KV + (size_t)g * hd;
        for (int h = g * group; h < (g + 1) * group; h++) {
            const float *Q = base + (size_t)h * hd;
            for (int r0 = 0; r0 < T; r0 += ATT_BQ) {
                int r1 = r0 + ATT_BQ < T ? r0 + ATT_BQ : T, rows = r1 - r0, nk = r1;
                gemm_one(m, false, true, rows, nk, hd, scale, Q + (size_t)r0 * QKV, QKV, K, QKV, 0.0f, S, nk);
                for (int i = 0; i < rows; i++) {
                    float *s = S + (size_t)i * nk;
                    int nv = r0 + i + 1; /* causal: keys 0 .. r0+i */
                    float mx = s[0];
                    for (int k = 1; k < nv; k++)
                        mx = s[k] > mx ? s[k] : mx;
                    for (int k = 0; k < nv; k++)
                        s[k] -= mx;
                    tr_exp_inplace(m, s, (size_t)nv);
                    float sum = 0.0f;
                    for (int k = 0; k < nv; k++)
                        sum += s[k];
                    float inv = 1.0f / sum;
                    for (int k = 0; k < nv; k++)
                        s[k] *= inv;
                    for (int k = nv; k < nk; k++)
                        s[k] = 0.0f;
                    a->lse[((size_t)b * T + r0 + i) * H + h] = mx + logf(sum);
                }
                gemm_one(m, false, false, rows, hd, nk, 1.0f, S, nk, Vv, QKV, 0.0f,
                         a->att + ((size_t)b * T + r0) * E + (size_t)h * hd, E);
            }
        }
    }
}

/* With P recomputed from lse, dO the gradient of att and D_i = dO_i·O_i:
 *   dP = dO·Vᵀ,  dS = P ⊙ (dP − D),  dQ = scale·dS·K,
 *   dK += scale·dSᵀ·Q,  dV += Pᵀ·dO */
void tr_att_bwd_part(void *arg, int ti, int tn)
{
    att_job *j = arg;
    train_model *m = j->m;
    layer_act *a = &m->acts[j->layer];
    int T = j->T, hd = (int)m->hd, QKV = (int)m->QKV, E = (int)m->E, H = (int)m->H;
    int group = (int)(m->H / m->G);
    float scale = 1.0f / sqrtf((float)hd);
    float *P = m->att_s + (size_t)ti * ATT_BQ * m->cfg.n_ctx;
    float *dP = m->att_dp + (size_t)ti * ATT_BQ * m->cfg.n_ctx;
    long lo, hi;
    pool_split((long)j->B * m->G, ti, tn, &lo, &hi);
    for (long job = lo; job < hi; job++) {
        int b = (int)(job / m->G), g = (int)(job % m->G);
        const float *base = a->qkv + (size_t)b * T * QKV;
        const float *K = base + E + (size_t)g * hd, *Vv = base + E + m->KV + (size_t)g * hd;
        float *dbase = m->dqkv + (size_t)b * T * QKV;
        float *dK = dbase + E + (size_t)g * hd, *dV = dbase + E + m->KV + (size_t)g * hd;
        for (int t = 0; t < T; t++) {
            memset(dK + (size_t)t * QKV, 0, (size_t)hd * sizeof(float));
            memset(dV + (size_t)t * QKV, 0, (size_t)hd * sizeof(float));
        }
        for (int h = g * group; h < (g + 1) * group; h++) {
            const float *Q = base + (size_t)h * hd;
            float *dQ = dbase + (size_t)h * hd;
            for (int r0 = 0; r0 < T; r0 += ATT_BQ) {
                int r1 = r0 + ATT_BQ < T ? r0 + ATT_BQ : T, rows = r1 - r0, nk = r1;
                const float *dO = m->datt + ((size_t)b * T + r0) * E + (size_t)h * hd;
                const float *O = a->att + ((size_t)b * T + r0) * E + (size_t)h * hd;
                gemm_one(m, false, true, rows, nk, hd, scale, Q + (size_t)r0 * QKV, QKV, K, QKV, 0.0f, P, nk);
                gemm_one(m, false, true, rows, nk, hd, 1.0f, dO, E, Vv, QKV, 0.0f, dP, nk);
                for (int i = 0; i < rows; i++) {
                    float *p = P + (size_t)i * nk, *dp = dP + (size_t)i * nk;
                    int nv = r0 + i + 1;
                    float l = a->lse[((size_t)b * T + r0 + i) * H + h];
                    for (int k = 0; k < nv; k++)
                        p[k] -= l;
                    tr_exp_inplace(m, p, (size_t)nv);
                    const float *o = O + (size_t)i * E, *d = dO + (size_t)i * E;
                    float D = 0.0f;
                    for (int k = 0; k < hd; k++)
                        D += o[k] * d[k];
                    for (int k = 0; k < nv; k++)
                        dp[k] = p[k] * (dp[k] - D);
                    for (int k = nv; k < nk; k++)
                        p[k] = dp[k] = 0.0f;
                }
                gemm_one(m, false, false, rows, hd, nk, scale, dP, nk, K, QKV, 0.0f, dQ + (size_t)r0 * QKV, QKV);
                gemm_one(m, true, false, nk, hd, rows, scale, dP, nk, Q + (size_t)r0 * QKV, QKV, 1.0f, dK, QKV);
                gemm_one(m, true, false, nk, hd, rows, 1.0f, P, nk, dO, E, 1.0f, dV, QKV);
            }
        }
    }
}

