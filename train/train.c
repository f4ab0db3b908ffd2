/*
 * train.c — layout, forward, backward and AdamW for the llama architecture
 * (see train.h for the model and the contracts; train_io.c reads and writes
 * models: checkpoints, GGUF export and import).
 *
 * Shapes, for a step of B sequences of T tokens (N = B·T rows):
 *
 *   E = n_embd, H = n_head, G = n_head_kv, hd = E/H, KV = G·hd,
 *   QKV = E + 2·KV, F = n_ff, V = vocab
 *   x_l   (N, E)    residual stream entering layer l (x_L leaves the last)
 *   h1,h2 (N, E)    normalised inputs of attention and FFN; rstd (N)
 *   qkv   (N, QKV)  q | k | v after RoPE — Wq, Wk, Wv are stored one after
 *                   another, so they form a single (QKV, E) matrix
 *   att   (N, E)    attention output before Wo; lse (N, H) its log-sum-exp
 *   gu    (N, 2F)   gate | up before SwiGLU — Wgate, Wup likewise adjacent
 *   act   (N, F)    silu(gate)·up
 *
 * The backward pass walks the same list in reverse with one running
 * residual gradient dx (N, E).  Attention is recomputed per block from lse
 * (flash-attention style) rather than storing (H, T, T) probabilities.
 * The loss only multiplies the rows whose target counts (mask), LOSS_CHUNK
 * rows at a time, so the (rows, V) logits never exist for a whole batch.
 *
 * The building blocks (products, RMSNorm, RoPE, SwiGLU, attention) are in
 * train_ops.c.  What this file does not do: decide anything about data or schedules
 * (train_lr is a pure function), or share its pool with the inference
 * engine.
 */
#include "train/train_internal.h"
#include "train/train_ops.h"

#include "engine/kernels.h"
#include "engine/pool.h"
#include "util/util.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define LOSS_CHUNK 1024  /* rows of logits computed at a time            */
#define MAX_TENSORS_PER_LAYER 9

/* ---- Random numbers --------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void train_rng_seed(train_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t train_rng_next(train_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double train_rng_uniform(train_rng *r) { return (double)(train_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t train_rng_below(train_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the ragged top */
    uint64_t x;
    do
        x = train_rng_next(r);
    while (x >= limit);
    return x % n;
}

double train_rng_normal(train_rng *r)
{
    double u1 = train_rng_uniform(r), u2 = train_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

/* ---- Configuration ------------------------------------------------------------ */

void train_config_default(train_config *c)
{
    *c = (train_config){
        .vocab = 4096, .n_embd = 256, .n_layer = 6, .n_head = 8, .n_head_kv = 8, .n_ff = 688,
        .n_ctx = 512, .rope_base = 10000.0f, .rms_eps = 1e-5f, .tied = true,
        .n_batch = 8, .n_threads = 1,
        .beta1 = 0.9f, .beta2 = 0.95f, .adam_eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f,
    };
}

const char *train_config_check(const train_config *c)
{
    if (c->vocab < 2 || c->vocab > (1u << 24))
        return "vocab must be 2 .. 2^24";
    if (c->n_layer < 1 || c->n_layer > 256)
        return "n_layer must be 1 .. 256";
    if (c->n_head < 1 || c->n_head_kv < 1 || c->n_head % c->n_head_kv)
        return "n_head_kv must divide n_head";
    if (c->n_embd < 2 || c->n_embd > 16384 || c->n_embd % c->n_head || (c->n_embd / c->n_head) % 2)
        return "n_embd must be a multiple of n_head with an even head size";
    if (c->n_embd / c->n_head > 512)
        return "head size above the engine's 512";
    if (c->n_ff < 1 || c->n_ff > 65536)
        return "n_ff must be 1 .. 65536";
    if (c->n_ctx < 1 || c->n_ctx > 65536)
        return "n_ctx must be 1 .. 65536";
    if (c->n_batch < 1 || (uint64_t)c->n_batch * c->n_ctx > (1u << 22))
        return "n_batch·n_ctx must be 1 .. 2^22 tokens";
    if (c->n_threads < 1 || c->n_threads > 256)
        return "n_threads must be 1 .. 256";
    if (!(c->rope_base > 0.0f) || !isfinite(c->rope_base))
        return "rope_base must be positive";
    if (!(c->rms_eps > 0.0f) || !(c->rms_eps < 1.0f))
        return "rms_eps must be in (0, 1)";
    if (!(c->beta1 >= 0.0f && c->beta1 < 1.0f) || !(c->beta2 >= 0.0f && c->beta2 < 1.0f))
        return "beta1 and beta2 must be in [0, 1)";
    if (!(c->adam_eps > 0.0f) || !(c->weight_decay >= 0.0f) || !(c->grad_clip >= 0.0f) ||
        !isfinite(c->adam_eps) || !isfinite(c->weight_decay) || !isfinite(c->grad_clip))
        return "adam_eps must be positive, weight_decay and grad_clip non-negative";
    return NULL;
}

/* ---- Layout and lifecycle ------------------------------------------------------------ */

static size_t add_tensor(train_model *m, size_t *off, const char *name, uint32_t rows, uint32_t cols,
                         bool decay)
{
    tensor_rec *t = &m->tens[m->n_tens++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->off = *off;
    t->rows = rows;
    t->cols = cols;
    t->decay = decay;
    *off += (size_t)rows * cols;
    return t->off;
}

static void layout(train_model *m)
{
    const train_config *c = &m->cfg;
    m->tens = xcalloc(3 + (size_t)m->L * MAX_TENSORS_PER_LAYER, sizeof *m->tens);
    m->lo = xcalloc(m->L, sizeof *m->lo);
    size_t off = 0;
    char nm[48];
    m->off_embd = add_tensor(m, &off, "token_embd.weight", m->V, m->E, c->tied);
    for (uint32_t l = 0; l < m->L; l++) {
        layer_off *lo = &m->lo[l];
#define N(s) (snprintf(nm, sizeof nm, "blk.%u.%s.weight", l, s), nm)
        lo->attn_norm = add_tensor(m, &off, N("attn_norm"), 1, m->E, false);
        lo->wqkv = add_tensor(m, &off, N("attn_q"), m->E, m->E, true);
        add_tensor(m, &off, N("attn_k"), m->KV, m->E, true);
        add_tensor(m, &off, N("attn_v"), m->KV, m->E, true);
        lo->wo = add_tensor(m, &off, N("attn_output"), m->E, m->E, true);
        lo->ffn_norm = add_tensor(m, &off, N("ffn_norm"), 1, m->E, false);
        lo->wgu = add_tensor(m, &off, N("ffn_gate"), m->F, m->E, true);
        add_tensor(m, &off, N("ffn_up"), m->F, m->E, true);
        lo->wdown = add_tensor(m, &off, N("ffn_down"), m->E, m->F, true);
#undef N
    }
    m->off_out_norm = add_tensor(m, &off, "output_norm.weight", 1, m->E, false);
    m->off_out = c->tied ? m->off_embd : add_tensor(m, &off, "output.weight", m->V, m->E, true);
    m->n_params = off;
}

/* Buffers are carved out of one arena, each 64-byte aligned; a first pass
 * with base NULL only counts. */
typedef struct {
    float *base;
    size_t used;
} arena;

static float *carve(arena *a, size_t n)
{
    float *p = a->base ? a->base + a->used : NULL;
    a->used += (n + 15) & ~(size_t)15;
    return p;
}

static size_t arena_layout(train_model *m, float *base)
{
    size_t N = m->n_max, E = m->E, T = m->cfg.n_ctx, nt = (size_t)m->n_threads;
    size_t chunk = N < LOSS_CHUNK ? N : LOSS_CHUNK;
    size_t wide = m->F > m->E ? m->F : m->E;
    arena ar = {base, 0}, *c = &ar;
    for (uint32_t l = 0; l <= m->L; l++)
        m->xs[l] = carve(c, N * E);
    for (uint32_t l = 0; l < m->L; l++) {
        layer_act *a = &m->acts[l];
        a->h1 = carve(c, N * E);
        a->rstd1 = carve(c, N);
        a->qkv = carve(c, N * m->QKV);
        a->att = carve(c, N * E);
        a->lse = carve(c, N * m->H);
        a->x_mid = carve(c, N * E);
        a->h2 = carve(c, N * E);
        a->rstd2 = carve(c, N);
        a->gu = carve(c, N * 2 * m->F);
        a->act = carve(c, N * m->F);
    }
    m->hf = carve(c, N * E), m->rstdf = carve(c, N);
    m->dx = carve(c, N * E), m->dh = carve(c, N * E), m->dqkv = carve(c, N * m->QKV);
    m->datt = carve(c, N * E), m->dgu = carve(c, N * 2 * m->F), m->dact = carve(c, N * m->F);
    m->hc = carve(c, chunk * E), m->logits = carve(c, chunk * m->V), m->dhc = carve(c, chunk * E);
    m->row_loss = carve(c, N);
    m->att_s = carve(c, nt * ATT_BQ * T), m->att_dp = carve(c, nt * ATT_BQ * T);
    m->tscratch = carve(c, nt * wide), m->norm_part = carve(c, nt * E);
    m->rope_cos = carve(c, T * (m->hd / 2)), m->rope_sin = carve(c, T * (m->hd / 2));
    return ar.used;
}

static float *alloc_floats(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0 || !p) {
        fprintf(stderr, "frontdesk: out of memory (%zu MiB for the trainer)\n", n * sizeof(float) >> 20);
        abort();
    }
    return p;
}

/* The angles exactly as engine/forward.c computes them. */
static void rope_tables(train_model *m)
{
    int half = (int)m->hd / 2;
    float theta_scale = powf(m->cfg.rope_base, -2.0f / (float)m->hd);
    for (uint32_t p = 0; p < m->cfg.n_ctx; p++) {
        float theta = (float)p;
        for (int i = 0; i < half; i++) {
            m->rope_cos[(size_t)p * half + i] = cosf(theta);
            m->rope_sin[(size_t)p * half + i] = sinf(theta);
            theta *= theta_scale;
        }
    }
}

/* Everything but the parameter values (train_internal.h). */
train_model *train_model_alloc(const train_config *cfg, char *err, size_t errlen)
{
    const char *why = train_config_check(cfg);
    if (why) {
        util_errf(err, errlen, "bad training configuration: %s", why);
        return NULL;
    }
    train_model *m = xcalloc(1, sizeof *m);
    m->cfg = *cfg;
    m->E = cfg->n_embd, m->H = cfg->n_head, m->G = cfg->n_head_kv, m->hd = cfg->n_embd / cfg->n_head;
    m->KV = m->G * m->hd, m->QKV = m->E + 2 * m->KV, m->F = cfg->n_ff, m->V = cfg->vocab;
    m->L = cfg->n_layer;
    m->n_threads = (int)cfg->n_threads;
    m->pool = pool_new(m->n_threads);
    if (!m->pool) {
        util_errf(err, errlen, "cannot start %d threads", m->n_threads);
        free(m);
        return NULL;
    }
    kern_init();
    layout(m);
    m->params = alloc_floats(m->n_params);
    m->grads = alloc_floats(m->n_params);
    m->m1 = alloc_floats(m->n_params);
    m->m2 = alloc_floats(m->n_params);
    memset(m->grads, 0, m->n_params * sizeof(float));
    memset(m->m1, 0, m->n_params * sizeof(float));
    memset(m->m2, 0, m->n_params * sizeof(float));
    m->n_max = (size_t)cfg->n_batch * cfg->n_ctx;
    m->xs = xcalloc(m->L + 1, sizeof *m->xs);
    m->acts = xcalloc(m->L, sizeof *m->acts);
    m->arena = alloc_floats(arena_layout(m, NULL));
    arena_layout(m, m->arena);
    m->loss_rows = xmallocarray(m->n_max, sizeof *m->loss_rows);
    m->loss_tgt = xmallocarray(m->n_max, sizeof *m->loss_tgt);
    rope_tables(m);
    return m;
}

train_model *train_new(const train_config *cfg, uint64_t seed, char *err, size_t errlen)
{
    train_model *m = train_model_alloc(cfg, err, errlen);
    if (!m)
        return NULL;
    train_rng r;
    train_rng_seed(&r, seed);
    float resid = 0.02f / sqrtf(2.0f * (float)m->L);
    for (size_t i = 0; i < m->n_tens; i++) {
        tensor_rec *t = &m->tens[i];
        float *w = m->params + t->off;
        size_t n = (size_t)t->rows * t->cols;
        bool norm = t->rows == 1;
        bool out_proj = strstr(t->name, "attn_output") || strstr(t->name, "ffn_down");
        float sd = out_proj ? resid : 0.02f;
        for (size_t k = 0; k < n; k++)
            w[k] = norm ? 1.0f : (float)(sd * train_rng_normal(&r));
    }
    return m;
}

void train_free(train_model *m)
{
    if (!m)
        return;
    pool_free(m->pool);
    free(m->params);
    free(m->grads);
    free(m->m1);
    free(m->m2);
    free(m->tens);
    free(m->lo);
    free(m->xs);
    free(m->acts);
    free(m->arena);
    free(m->loss_rows);
    free(m->loss_tgt);
    free(m);
}

const train_config *train_get_config(const train_model *m) { return &m->cfg; }
size_t train_n_params(const train_model *m) { return m->n_params; }
uint64_t train_opt_step(const train_model *m) { return m->opt_step; }
size_t train_tensor_count(const train_model *m) { return m->n_tens; }
void train_set_naive(train_model *m, bool naive) { m->naive = naive; }

train_tensor train_tensor_at(const train_model *m, size_t i)
{
    const tensor_rec *t = &m->tens[i];
    return (train_tensor){t->name, m->params + t->off, m->grads + t->off, t->rows, t->cols, t->decay};
}

/* ---- Forward and backward ------------------------------------------------------------------- */

typedef struct {
    train_model *m;
    const float *a, *b;
    float *out;
    size_t n;
} add_job;

static void add_part(void *arg, int i, int n)
{
    add_job *j = arg;
    long lo, hi;
    pool_split((long)j->n, i, n, &lo, &hi);
    for (long k = lo; k < hi; k++)
        j->out[k] = j->a[k] + (j->b ? j->b[k] : 0.0f);
}

static void copy_par(train_model *m, float *dst, const float *src, size_t n)
{
    add_job j = {m, src, NULL, dst, n};
    pool_run(m->pool, add_part, &j);
}

static void layer_fwd(train_model *m, int l, int B, int T)
{
    int N = B * T, E = (int)m->E, F = (int)m->F, QKV = (int)m->QKV;
    const layer_off *o = &m->lo[l];
    layer_act *a = &m->acts[l];
    const float *P = m->params;

    tr_rmsnorm_fwd(m, N, m->xs[l], P + o->attn_norm, a->h1, a->rstd1);
    tr_gemm_par(m, false, true, N, QKV, E, 1.0f, a->h1, E, P + o->wqkv, E, 0.0f, a->qkv, QKV);
    tr_rope_apply(m, N, T, a->qkv, false);
    att_job aj = {m, B, T, l};
    pool_run(m->pool, tr_att_fwd_part, &aj);
    copy_par(m, a->x_mid, m->xs[l], (size_t)N * E);
    tr_gemm_par(m, false, true, N, E, E, 1.0f, a->att, E, P + o->wo, E, 1.0f, a->x_mid, E);

    tr_rmsnorm_fwd(m, N, a->x_mid, P + o->ffn_norm, a->h2, a->rstd2);
    tr_gemm_par(m, false, true, N, 2 * F, E, 1.0f, a->h2, E, P + o->wgu, E, 0.0f, a->gu, 2 * F);
    swiglu_job sj = {m, N, a->gu, NULL, a->act, NULL};
    pool_run(m->pool, tr_swiglu_fwd_part, &sj);
    copy_par(m, m->xs[l + 1], a->x_mid, (size_t)N * E);
    tr_gemm_par(m, false, true, N, E, F, 1.0f, a->act, F, P + o->wdown, F, 1.0f, m->xs[l + 1], E);
}

/* m->dx holds d loss / d x_{l+1}; leaves d loss / d x_l there. */
static void layer_bwd(train_model *m, int l, int B, int T)
{
    int N = B * T, E = (int)m->E, F = (int)m->F, QKV = (int)m->QKV;
    const layer_off *o = &m->lo[l];
    layer_act *a = &m->acts[l];
    const float *P = m->params;
    float *Gr = m->grads;

    tr_gemm_par(m, false, false, N, F, E, 1.0f, m->dx, E, P + o->wdown, F, 0.0f, m->dact, F);
    tr_gemm_par(m, true, false, E, F, N, 1.0f, m->dx, E, a->act, F, 1.0f, Gr + o->wdown, F);
    swiglu_job sj = {m, N, a->gu, m->dact, NULL, m->dgu};
    pool_run(m->pool, tr_swiglu_bwd_part, &sj);
    tr_gemm_par(m, false, false, N, E, 2 * F, 1.0f, m->dgu, 2 * F, P + o->wgu, E, 0.0f, m->dh, E);
    tr_gemm_par(m, true, false, 2 * F, E, N, 1.0f, m->dgu, 2 * F, a->h2, E, 1.0f, Gr + o->wgu, E);
    tr_rmsnorm_bwd(m, N, a->x_mid, a->rstd2, P + o->ffn_norm, m->dh, m->dx, Gr + o->ffn_norm);

    tr_gemm_par(m, false, false, N, E, E, 1.0f, m->dx, E, P + o->wo, E, 0.0f, m->datt, E);
    tr_gemm_par(m, true, false, E, E, N, 1.0f, m->dx, E, a->att, E, 1.0f, Gr + o->wo, E);
    att_job aj = {m, B, T, l};
    pool_run(m->pool, tr_att_bwd_part, &aj);
    tr_rope_apply(m, N, T, m->dqkv, true);
    tr_gemm_par(m, false, false, N, E, QKV, 1.0f, m->dqkv, QKV, P + o->wqkv, E, 0.0f, m->dh, E);
    tr_gemm_par(m, true, false, QKV, E, N, 1.0f, m->dqkv, QKV, a->h1, E, 1.0f, Gr + o->wqkv, E);
    tr_rmsnorm_bwd(m, N, m->xs[l], a->rstd1, P + o->attn_norm, m->dh, m->dx, Gr + o->attn_norm);
}

/* Softmax cross-entropy of `rows` logit rows against tgt; with grad, the
 * logits are replaced by d loss / d logits scaled by inv_count. */
typedef struct {
    train_model *m;
    int rows;
    const int32_t *tgt;
    float inv_count;
    bool grad;
} ce_job;

static void ce_part(void *arg, int i, int n)
{
    ce_job *j = arg;
    train_model *m = j->m;
    int V = (int)m->V;
    long lo, hi;
    pool_split(j->rows, i, n, &lo, &hi);
    for (long r = lo; r < hi; r++) {
        float *z = m->logits + (size_t)r * V;
        float mx = z[0];
        for (int k = 1; k < V; k++)
            mx = z[k] > mx ? z[k] : mx;
        float zt = z[j->tgt[r]];
        for (int k = 0; k < V; k++)
            z[k] -= mx;
        tr_exp_inplace(m, z, (size_t)V);
        double sum = 0.0;
        for (int k = 0; k < V; k++)
            sum += z[k];
        m->row_loss[r] = (float)(log(sum) + mx - zt);
        if (j->grad) {
            float s = (float)(1.0 / sum) * j->inv_count;
            for (int k = 0; k < V; k++)
                z[k] *= s;
            z[j->tgt[r]] -= j->inv_count;
        }
    }
}

static int check_batch(const train_model *m, const int32_t *tokens, int B, int T, int stride, char *err,
                       size_t errlen)
{
    if (B < 1 || (uint32_t)B > m->cfg.n_batch || T < 1 || (uint32_t)T > m->cfg.n_ctx) {
        util_errf(err, errlen, "batch %d × %d is outside 1..%u × 1..%u", B, T, m->cfg.n_batch, m->cfg.n_ctx);
        return TRAIN_EINVAL;
    }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < stride; t++) {
            int32_t id = tokens[(size_t)b * stride + t];
            if (id < 0 || (uint32_t)id >= m->V) {
                util_errf(err, errlen, "token %d at [%d][%d] is outside the vocabulary (%u)", id, b, t, m->V);
                return TRAIN_EINVAL;
            }
        }
    return TRAIN_OK;
}

static void forward(train_model *m, const int32_t *tokens, int B, int T, int stride)
{
    openblas_set_num_threads(1);
    int E = (int)m->E;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            memcpy(m->xs[0] + ((size_t)b * T + t) * E, m->params + m->off_embd + (size_t)tokens[(size_t)b * stride + t] * E,
                   (size_t)E * sizeof(float));
    for (uint32_t l = 0; l < m->L; l++)
        layer_fwd(m, (int)l, B, T);
    tr_rmsnorm_fwd(m, B * T, m->xs[m->L], m->params + m->off_out_norm, m->hf, m->rstdf);
}

typedef struct {
    train_model *m;
    int N;
    const int32_t *tokens;
    int B, T;
} embd_job;

/* d token_embd[id] += dx rows, split by columns so each element has one
 * writer and the rows are added in order. */
static void embd_bwd_part(void *arg, int i, int n)
{
    embd_job *j = arg;
    train_model *m = j->m;
    long lo, hi;
    pool_split(m->E, i, n, &lo, &hi);
    for (int b = 0; b < j->B; b++)
        for (int t = 0; t < j->T; t++) {
            size_t r = (size_t)b * j->T + t;
            float *g = m->grads + m->off_embd + (size_t)j->tokens[(size_t)b * (j->T + 1) + t] * m->E;
            const float *d = m->dx + r * m->E;
            for (long k = lo; k < hi; k++)
                g[k] += d[k];
        }
}

static int run_step(train_model *m, const int32_t *tokens, const uint8_t *mask, int B, int T, bool grad,
                    float *loss, char *err, size_t errlen)
{
    int rc = check_batch(m, tokens, B, T, T + 1, err, errlen);
    if (rc != TRAIN_OK)
        return rc;
    forward(m, tokens, B, T, T + 1);
    int N = B * T, E = (int)m->E, V = (int)m->V;
    int count = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            if (!mask || mask[(size_t)b * T + t]) {
                m->loss_rows[count] = b * T + t;
                m->loss_tgt[count] = tokens[(size_t)b * (T + 1) + t + 1];
                count++;
            }
    *loss = 0.0f;
    if (count == 0)
        return TRAIN_OK;
    const float *Wout = m->params + m->off_out;
    if (grad)
        memset(m->dx, 0, (size_t)N * E * sizeof(float));
    double total = 0.0;
    for (int c0 = 0; c0 < count; c0 += LOSS_CHUNK) {
        int rows = count - c0 < LOSS_CHUNK ? count - c0 : LOSS_CHUNK;
        for (int r = 0; r < rows; r++)
            memcpy(m->hc + (size_t)r * E, m->hf + (size_t)m->loss_rows[c0 + r] * E, (size_t)E * sizeof(float));
        tr_gemm_par(m, false, true, rows, V, E, 1.0f, m->hc, E, Wout, E, 0.0f, m->logits, V);
        ce_job cj = {m, rows, m->loss_tgt + c0, 1.0f / (float)count, grad};
        pool_run(m->pool, ce_part, &cj);
        for (int r = 0; r < rows; r++)
            total += m->row_loss[r];
        if (!grad)
            continue;
        tr_gemm_par(m, false, false, rows, E, V, 1.0f, m->logits, V, Wout, E, 0.0f, m->dhc, E);
        tr_gemm_par(m, true, false, V, E, rows, 1.0f, m->logits, V, m->hc, E, 1.0f, m->grads + m->off_out, E);
        for (int r = 0; r < rows; r++)
            memcpy(m->dh + (size_t)m->loss_rows[c0 + r] * E, m->dhc + (size_t)r * E, (size_t)E * sizeof(float));
    }
    *loss = (float)(total / count);
    if (!grad)
        return TRAIN_OK;
    /* dh holds d loss / d hf on the counted rows; zero the others */
    for (int r = 0, c = 0; r < N; r++) {
        if (c < count && m->loss_rows[c] == r)
            c++;
        else
            memset(m->dh + (size_t)r * E, 0, (size_t)E * sizeof(float));
    }
    tr_rmsnorm_bwd(m, N, m->xs[m->L], m->rstdf, m->params + m->off_out_norm, m->dh, m->dx,
                   m->grads + m->off_out_norm);
    for (int l = (int)m->L - 1; l >= 0; l--)
        layer_bwd(m, l, B, T);
    embd_job ej = {m, N, tokens, B, T};
    pool_run(m->pool, embd_bwd_part, &ej);
    return TRAIN_OK;
}

int train_step_grad(train_model *m, const int32_t *tokens, const uint8_t *mask, int B, int T, float *loss,
                    char *err, size_t errlen)
{
    return run_step(m, tokens, mask, B, T, true, loss, err, errlen);
}

int train_eval_loss(train_model *m, const int32_t *tokens, const uint8_t *mask, int B, int T, float *loss,
                    char *err, size_t errlen)
{
    return run_step(m, tokens, mask, B, T, false, loss, err, errlen);
}

int train_logits(train_model *m, const int32_t *tokens, int T, float *logits, char *err, size_t errlen)
{
    int rc = check_batch(m, tokens, 1, T, T, err, errlen);
    if (rc != TRAIN_OK)
        return rc;
    forward(m, tokens, 1, T, T);
    tr_gemm_par(m, false, true, T, (int)m->V, (int)m->E, 1.0f, m->hf, (int)m->E, m->params + m->off_out, (int)m->E,
                0.0f, logits, (int)m->V);
    return TRAIN_OK;
}

/* ---- Optimiser --------------------------------------------------------------------------------- */

float train_grad_norm(train_model *m)
{
    double ss = 0.0;
    for (size_t i = 0; i < m->n_params; i++)
        ss += (double)m->grads[i] * m->grads[i];
    return (float)sqrt(ss);
}

void train_zero_grad(train_model *m) { memset(m->grads, 0, m->n_params * sizeof(float)); }

typedef struct {
    train_model *m;
    float lr, clip_scale, bc1, bc2;
} adam_job;

static void adam_part(void *arg, int ti, int tn)
{
    adam_job *j = arg;
    train_model *m = j->m;
    const train_config *c = &m->cfg;
    long lo, hi;
    pool_split((long)m->n_tens, ti, tn, &lo, &hi);
    for (long t = lo; t < hi; t++) {
        const tensor_rec *tr = &m->tens[t];
        size_t n = (size_t)tr->rows * tr->cols;
        float *w = m->params + tr->off, *g = m->grads + tr->off;
        float *m1 = m->m1 + tr->off, *m2 = m->m2 + tr->off;
        float decay = tr->decay ? 1.0f - j->lr * c->weight_decay : 1.0f;
        for (size_t k = 0; k < n; k++) {
            float gk = g[k] * j->clip_scale;
            m1[k] = c->beta1 * m1[k] + (1.0f - c->beta1) * gk;
            m2[k] = c->beta2 * m2[k] + (1.0f - c->beta2) * gk * gk;
            float mh = m1[k] / j->bc1, vh = m2[k] / j->bc2;
            w[k] = w[k] * decay - j->lr * mh / (sqrtf(vh) + c->adam_eps);
            g[k] = 0.0f;
        }
    }
}

float train_apply(train_model *m, float lr)
{
    float norm = train_grad_norm(m);
    float clip = m->cfg.grad_clip;
    float scale = clip > 0.0f && norm > clip ? clip / norm : 1.0f;
    m->opt_step++;
    adam_job j = {m, lr, scale, 1.0f - powf(m->cfg.beta1, (float)m->opt_step),
                  1.0f - powf(m->cfg.beta2, (float)m->opt_step)};
    /* tensors are split whole across threads: each element has one writer */
    pool_run(m->pool, adam_part, &j);
    return norm;
}

float train_lr(long step, long total, long warmup, float lr_max, float lr_min)
{
    if (step < 0)
        step = 0;
    if (warmup > 0 && step < warmup)
        return lr_max * (float)(step + 1) / (float)warmup;
    long span = total - warmup;
    if (span <= 0 || step >= total)
        return lr_min;
    double progress = (double)(step - warmup) / (double)span;
    return (float)(lr_min + 0.5 * (lr_max - lr_min) * (1.0 + cos(M_PI * progress)));
}
