/*
 * forward.c — the Llama-family forward pass (see forward.h).
 *
 * Per layer, for a batch of B tokens (activations row-major, one row per
 * token):
 *
 *   h   = rmsnorm(x) * attn_norm                      (B, E)
 *   q,k,v = h·Wqᵀ (+bq), h·Wkᵀ (+bk), h·Wvᵀ (+bv)     (B, E), (B, KV) ×2
 *   rope(q, k) at each token's position; k, v appended to the cache
 *   a   = softmax(q·kᵀ/√hd, causal) · v  per head     (B, E)
 *   x  += a·Woᵀ
 *   h   = rmsnorm(x) * ffn_norm
 *   x  += (silu(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ
 *
 * then logits = rmsnorm(x) * output_norm · Woutᵀ.  Grouped-query attention:
 * query head h reads KV head h / (n_head / n_head_kv).
 */
#include "engine/forward.h"

#include "engine/kernels.h"
#include "engine/pool.h"
#include "engine/quant.h"
#include "util/util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FWD_BATCH 64          /* tokens per batch of the prompt          */
#define FWD_UBATCH 512        /* the reference's micro-batch             */
#define TILE_FLOATS (1 << 18) /* 1 MiB of F32 weights per sgemm tile      */

struct fwd_ctx {
    const model *m;
    int n_ctx, n_threads, n_past;
    pool *pool;
    uint16_t *k_cache, *v_cache; /* (n_layer, n_ctx, KV) half precision */
    float *x, *h, *q, *k, *v, *att; /* (B, E) / (B, KV) / (B, E)        */
    float *att_row;           /* (n_threads, FWD_MAX_HEAD_DIM)          */
    float *ff_gate, *ff_up;   /* (B, n_ff)                              */
    float *tile;              /* (TILE_FLOATS) weights as F32           */
    float *scores;            /* (n_threads, n_ctx)                     */
    void *xq;                 /* (n_threads?) quantized activation      */
    size_t xq_bytes;
    float *rope_cos, *rope_sin; /* (n_ctx, n_rot/2)                      */
};

/* ---- Matrix products ---------------------------------------------------- */

typedef struct {
    fwd_ctx *c;
    const model_weight *w;
    const float *x;
    float *y;
    int B;
    long r0, r1; /* tile rows, for the dequantizing job */
} mm_job;

/* y (1, rows) = W · x: rows split across threads, weights read in place. */
static void matvec_part(void *arg, int i, int n)
{
    mm_job *j = arg;
    long lo, hi;
    pool_split(j->w->rows, i, n, &lo, &hi);
    if (lo < hi)
        kern_matvec_rows(j->w->type, j->w->data, j->w->cols, j->c->xq, (size_t)lo, (size_t)hi, j->y);
}

/* Convert rows [r0, r1) of W to F32 into the tile, split across threads. */
static void dequant_part(void *arg, int i, int n)
{
    mm_job *j = arg;
    long lo, hi;
    pool_split(j->r1 - j->r0, i, n, &lo, &hi);
    if (lo < hi)
        kern_dequantize_rows_f32(j->w->type, j->w->data, j->w->cols, (size_t)(j->r0 + lo),
                                 (size_t)(j->r0 + hi), j->c->tile + (size_t)lo * j->w->cols);
}

/* y (B, rows) = x (B, cols) · Wᵀ */
static void matmul(fwd_ctx *c, const model_weight *w, const float *x, int B, float *y)
{
    mm_job j = {.c = c, .w = w, .x = x, .y = y, .B = B};
    if (B == 1) {
        kern_quantize_activation(w->type, x, w->cols, c->xq);
        pool_run(c->pool, matvec_part, &j);
        return;
    }
    long tile_rows = TILE_FLOATS / w->cols;
    if (tile_rows < 1)
        tile_rows = 1;
    for (long r0 = 0; r0 < w->rows; r0 += tile_rows) {
        j.r0 = r0;
        j.r1 = r0 + tile_rows < w->rows ? r0 + tile_rows : w->rows;
        pool_run(c->pool, dequant_part, &j);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, (int)(j.r1 - r0), (int)w->cols,
                    1.0f, x, (int)w->cols, c->tile, (int)w->cols, 0.0f, y + r0, (int)w->rows);
    }
}

/* ---- Elementwise pieces ---------------------------------------------------- */

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int i = 0; i < n; i++)
        out[i] = x[i] * scale * w[i];
}

static void add_bias(float *y, const float *b, int B, int n)
{
    for (int t = 0; t < B; t++)
        for (int i = 0; i < n; i++)
            y[(size_t)t * n + i] += b[i];
}

/* Rotate the first n_rot dims of each head of vec (n_heads × hd) at pos. */
static void rope(const fwd_ctx *c, float *vec, int n_heads, int pos)
{
    const model *m = c->m;
    int hd = (int)m->head_dim, half = (int)m->hp.n_rot / 2;
    const float *cs = c->rope_cos + (size_t)pos * half, *sn = c->rope_sin + (size_t)pos * half;
    for (int h = 0; h < n_heads; h++) {
        float *v = vec + (size_t)h * hd;
        for (int i = 0; i < half; i++) {
            /* normal layout rotates neighbours (2i, 2i+1); NeoX rotates
             * (i, i + n_rot/2) */
            int a = m->rope_neox ? i : 2 * i, b = m->rope_neox ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * cs[i] - x1 * sn[i];
            v[b] = x0 * sn[i] + x1 * cs[i];
        }
    }
}

static void rope_tables(fwd_ctx *c)
{
    const model *m = c->m;
    int half = (int)m->hp.n_rot / 2;
    /* theta_i = pos · base^(-2i/n_rot), computed as the reference does: by
     * repeated multiplication in single precision. */
    float theta_scale = powf(m->hp.rope_freq_base, -2.0f / (float)m->hp.n_rot);
    for (int p = 0; p < c->n_ctx; p++) {
        float theta = (float)p;
        for (int i = 0; i < half; i++) {
            c->rope_cos[(size_t)p * half + i] = cosf(theta);
            c->rope_sin[(size_t)p * half + i] = sinf(theta);
            theta *= theta_scale;
        }
    }
}

/* ---- Attention ----------------------------------------------------------------- */

/*
 * The cache holds K and V in half precision, as the reference does, and
 * attention follows the reference's two CPU paths so that our logits agree
 * with its to the last few bits:
 *
 *   - a batch of at least EXACT_ATTN_MIN queries (a long prompt): queries
 *     in single precision, one softmax per row, V accumulated in single
 *     precision;
 *   - a smaller batch (a short prompt, every decoded token): the query
 *     rounded to half precision, an online softmax whose V accumulator is
 *     itself kept in half precision.
 */
#define EXACT_ATTN_MIN 64

typedef struct {
    fwd_ctx *c;
    int layer, B;
    bool exact;
} att_job;

static void attend_exact(const float *q, const uint16_t *kc, const uint16_t *vc, int n_keys, int kv_stride,
                         int hd, float scale, float *s, float *row, float *out)
{
    float mx = -INFINITY;
    for (int p = 0; p < n_keys; p++) {
        kern_f16_to_f32(kc + (size_t)p * kv_stride, row, (size_t)hd);
        float d = 0.0f;
        for (int i = 0; i < hd; i++)
            d += q[i] * row[i];
        s[p] = d * scale;
        if (s[p] > mx)
            mx = s[p];
    }
    double sum = 0.0;
    for (int p = 0; p < n_keys; p++) {
        s[p] = expf(s[p] - mx);
        sum += s[p];
    }
    float inv = (float)(1.0 / sum);
    memset(out, 0, (size_t)hd * sizeof *out);
    for (int p = 0; p < n_keys; p++) {
        kern_f16_to_f32(vc + (size_t)p * kv_stride, row, (size_t)hd);
        float w = s[p] * inv;
        for (int i = 0; i < hd; i++)
            out[i] += w * row[i];
    }
}

/* Round a row to half precision and back: what storing it as F16 does. */
static void round_half(float *x, uint16_t *tmp, int n)
{
    kern_f32_to_f16(x, tmp, (size_t)n);
    kern_f16_to_f32(tmp, x, (size_t)n);
}

static void attend_half(const float *q32, const uint16_t *kc, const uint16_t *vc, int n_keys, int kv_stride,
                        int hd, float scale, float *row, uint16_t *tmp, float *out)
{
    float q[FWD_MAX_HEAD_DIM];
    memcpy(q, q32, (size_t)hd * sizeof *q);
    round_half(q, tmp, hd);
    /* out is the accumulator; it always holds half-precision values */
    float M = -INFINITY, S = 0.0f;
    memset(out, 0, (size_t)hd * sizeof *out);
    for (int p = 0; p < n_keys; p++) {
        kern_f16_to_f32(kc + (size_t)p * kv_stride, row, (size_t)hd);
        float d = 0.0f;
        for (int i = 0; i < hd; i++)
            d += q[i] * row[i];
        d *= scale;
        float ms = 1.0f, vs = 1.0f;
        if (d > M) {
            ms = expf(M - d); /* rescale what was accumulated so far */
            M = d;
            for (int i = 0; i < hd; i++)
                out[i] *= ms;
            round_half(out, tmp, hd);
        } else {
            vs = expf(d - M);
        }
        kern_f16_to_f32(vc + (size_t)p * kv_stride, row, (size_t)hd);
        for (int i = 0; i < hd; i++)
            out[i] += row[i] * vs;
        round_half(out, tmp, hd);
        S = S * ms + vs;
    }
    for (int i = 0; i < hd; i++)
        out[i] /= S;
}

static void attention_part(void *arg, int ti, int tn)
{
    att_job *j = arg;
    fwd_ctx *c = j->c;
    const model *m = c->m;
    int hd = (int)m->head_dim, E = (int)m->hp.n_embd;
    int KV = (int)(m->hp.n_head_kv * m->head_dim);
    int group = (int)(m->hp.n_head / m->hp.n_head_kv);
    const uint16_t *kc = c->k_cache + (size_t)j->layer * c->n_ctx * KV;
    const uint16_t *vc = c->v_cache + (size_t)j->layer * c->n_ctx * KV;
    float *s = c->scores + (size_t)ti * c->n_ctx;
    float *row = c->att_row + (size_t)ti * FWD_MAX_HEAD_DIM;
    uint16_t tmp[FWD_MAX_HEAD_DIM]; /* half-precision scratch */
    float scale = 1.0f / sqrtf((float)hd);

    long lo, hi;
    pool_split((long)m->hp.n_head * j->B, ti, tn, &lo, &hi);
    for (long job = lo; job < hi; job++) {
        int h = (int)(job % m->hp.n_head), t = (int)(job / m->hp.n_head);
        size_t kv_off = (size_t)(h / group) * hd;
        int n_keys = c->n_past + t + 1; /* causal: keys up to this position */
        const float *q = c->q + (size_t)t * E + (size_t)h * hd;
        float *out = c->att + (size_t)t * E + (size_t)h * hd;
        if (j->exact)
            attend_exact(q, kc + kv_off, vc + kv_off, n_keys, KV, hd, scale, s, row, out);
        else
            attend_half(q, kc + kv_off, vc + kv_off, n_keys, KV, hd, scale, row, tmp, out);
    }
}

/* ---- Layers ---------------------------------------------------------------------- */

static void layer_forward(fwd_ctx *c, int l, int B, bool exact)
{
    const model *m = c->m;
    const model_layer *L = &m->layers[l];
    int E = (int)m->hp.n_embd, F = (int)m->hp.n_ff;
    int KV = (int)(m->hp.n_head_kv * m->head_dim);
    float eps = m->hp.rms_eps;

    for (int t = 0; t < B; t++)
        rmsnorm(c->h + (size_t)t * E, c->x + (size_t)t * E, L->attn_norm, E, eps);
    matmul(c, &L->wq, c->h, B, c->q);
    /* k and v go straight into the cache at their positions */
    matmul(c, &L->wk, c->h, B, c->k);
    matmul(c, &L->wv, c->h, B, c->v);
    if (L->bq) add_bias(c->q, L->bq, B, E);
    if (L->bk) add_bias(c->k, L->bk, B, KV);
    if (L->bv) add_bias(c->v, L->bv, B, KV);
    for (int t = 0; t < B; t++) {
        rope(c, c->q + (size_t)t * E, (int)m->hp.n_head, c->n_past + t);
        rope(c, c->k + (size_t)t * KV, (int)m->hp.n_head_kv, c->n_past + t);
    }
    /* k and v join the cache at their positions */
    size_t at = ((size_t)l * c->n_ctx + c->n_past) * KV;
    kern_f32_to_f16(c->k, c->k_cache + at, (size_t)B * KV);
    kern_f32_to_f16(c->v, c->v_cache + at, (size_t)B * KV);
    att_job aj = {c, l, B, exact};
    pool_run(c->pool, attention_part, &aj);
    matmul(c, &L->wo, c->att, B, c->h);
    for (size_t i = 0; i < (size_t)B * E; i++)
        c->x[i] += c->h[i];

    for (int t = 0; t < B; t++)
        rmsnorm(c->h + (size_t)t * E, c->x + (size_t)t * E, L->ffn_norm, E, eps);
    matmul(c, &L->gate, c->h, B, c->ff_gate);
    matmul(c, &L->up, c->h, B, c->ff_up);
    for (size_t i = 0; i < (size_t)B * F; i++) {
        float g = c->ff_gate[i];
        c->ff_gate[i] = g / (1.0f + expf(-g)) * c->ff_up[i];
    }
    matmul(c, &L->down, c->ff_gate, B, c->h);
    for (size_t i = 0; i < (size_t)B * E; i++)
        c->x[i] += c->h[i];
}

static int eval_batch(fwd_ctx *c, const int32_t *tokens, int B, bool exact, bool all_logits,
                      float *logits, const atomic_bool *cancel)
{
    const model *m = c->m;
    int E = (int)m->hp.n_embd;
    for (int t = 0; t < B; t++)
        kern_dequantize_rows_f32(m->tok_embd.type, m->tok_embd.data, E, (size_t)tokens[t],
                                 (size_t)tokens[t] + 1, c->x + (size_t)t * E);
    for (int l = 0; l < (int)m->hp.n_layer; l++) {
        if (cancel && atomic_load(cancel))
            return FWD_ECANCELLED;
        layer_forward(c, l, B, exact);
    }
    if (!logits)
        return FWD_OK;
    int first = all_logits ? 0 : B - 1;
    for (int t = first; t < B; t++)
        rmsnorm(c->h + (size_t)(t - first) * E, c->x + (size_t)t * E, m->output_norm, E, m->hp.rms_eps);
    matmul(c, &m->output, c->h, B - first, logits);
    return FWD_OK;
}

int fwd_eval(fwd_ctx *c, const int32_t *tokens, int n, bool all_logits, float *logits,
             const atomic_bool *cancel)
{
    if (n <= 0)
        return FWD_OK;
    if (n > c->n_ctx - c->n_past)
        return FWD_EFULL;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= c->m->n_vocab)
            return FWD_ETOKEN;
    int start = c->n_past;
    size_t V = c->m->n_vocab;
    for (int done = 0; done < n;) {
        int B = n - done < FWD_BATCH ? n - done : FWD_BATCH;
        /* the reference's micro-batches are FWD_UBATCH tokens; which
         * attention path it takes depends on the micro-batch's size */
        int ub_start = done / FWD_UBATCH * FWD_UBATCH;
        int ub_len = n - ub_start < FWD_UBATCH ? n - ub_start : FWD_UBATCH;
        bool exact = ub_len >= EXACT_ATTN_MIN;
        if (B > ub_start + ub_len - done)
            B = ub_start + ub_len - done;
        bool last = done + B == n;
        float *out = all_logits ? logits + (size_t)done * V : logits;
        if (!all_logits && !last)
            out = NULL;
        int rc = eval_batch(c, tokens + done, B, exact, all_logits, out, cancel);
        if (rc != FWD_OK) {
            c->n_past = start;
            return rc;
        }
        c->n_past += B;
        done += B;
    }
    return FWD_OK;
}

/* ---- Lifecycle ----------------------------------------------------------------- */

fwd_ctx *fwd_new(const model *m, int n_ctx, int n_threads, char *err, size_t errlen)
{
    if (n_ctx < 1 || n_ctx > 1 << 20) {
        util_errf(err, errlen, "context length %d is out of range", n_ctx);
        return NULL;
    }
    if (n_threads < 1)
        n_threads = 1;
    kern_init();
    fwd_ctx *c = xcalloc(1, sizeof *c);
    c->m = m;
    c->n_ctx = n_ctx;
    c->n_threads = n_threads;
    c->pool = pool_new(n_threads);
    if (!c->pool) {
        util_errf(err, errlen, "cannot start %d threads", n_threads);
        free(c);
        return NULL;
    }
    size_t E = m->hp.n_embd, F = m->hp.n_ff, L = m->hp.n_layer;
    size_t KV = (size_t)m->hp.n_head_kv * m->head_dim, B = FWD_BATCH;
    size_t cache = L * (size_t)n_ctx * KV;
    c->k_cache = calloc(cache, sizeof(uint16_t));
    c->v_cache = calloc(cache, sizeof(uint16_t));
    if (!c->k_cache || !c->v_cache) {
        util_errf(err, errlen, "not enough memory for a KV cache of %d positions (%.0f MiB)", n_ctx,
                  2.0 * cache * sizeof(uint16_t) / (1 << 20));
        fwd_free(c);
        return NULL;
    }
    c->x = xmallocarray(B * E, sizeof(float));
    c->h = xmallocarray(B * E, sizeof(float));
    c->q = xmallocarray(B * E, sizeof(float));
    c->att = xmallocarray(B * E, sizeof(float));
    c->k = xmallocarray(B * KV, sizeof(float));
    c->v = xmallocarray(B * KV, sizeof(float));
    c->att_row = xmallocarray((size_t)n_threads * FWD_MAX_HEAD_DIM, sizeof(float));
    c->ff_gate = xmallocarray(B * F, sizeof(float));
    c->ff_up = xmallocarray(B * F, sizeof(float));
    c->tile = xmallocarray(TILE_FLOATS > E && TILE_FLOATS > F ? TILE_FLOATS : (E > F ? E : F), sizeof(float));
    c->scores = xmallocarray((size_t)n_threads * n_ctx, sizeof(float));
    size_t widest = E > F ? E : F;
    c->xq_bytes = 0;
    /* the activation buffer must fit any weight type's quantized input */
    for (int t = 0; t < GGML_TYPE_COUNT; t++) {
        if (!model_weight_type_supported((ggml_type)t))
            continue;
        size_t b = kern_activation_bytes((ggml_type)t, widest);
        if (b > c->xq_bytes)
            c->xq_bytes = b;
    }
    c->xq = xmalloc(c->xq_bytes);
    size_t half = m->hp.n_rot / 2;
    c->rope_cos = xmallocarray((size_t)n_ctx * half, sizeof(float));
    c->rope_sin = xmallocarray((size_t)n_ctx * half, sizeof(float));
    rope_tables(c);
    openblas_set_num_threads(n_threads);
    return c;
}

void fwd_free(fwd_ctx *c)
{
    if (!c)
        return;
    pool_free(c->pool);
    free(c->k_cache);
    free(c->v_cache);
    free(c->x);
    free(c->h);
    free(c->q);
    free(c->att);
    free(c->k);
    free(c->v);
    free(c->att_row);
    free(c->ff_gate);
    free(c->ff_up);
    free(c->tile);
    free(c->scores);
    free(c->xq);
    free(c->rope_cos);
    free(c->rope_sin);
    free(c);
}

int fwd_n_ctx(const fwd_ctx *c) { return c->n_ctx; }
int fwd_n_past(const fwd_ctx *c) { return c->n_past; }

void fwd_truncate(fwd_ctx *c, int n_past)
{
    if (n_past >= 0 && n_past < c->n_past)
        c->n_past = n_past;
}
