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
#include "engine/forward_internal.h"

#include "engine/kernels.h"
#include "engine/pool.h"
#include "engine/quant.h"
#include "util/util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* FWD_BATCH (forward.h): tokens per batch of the prompt */
#define FWD_UBATCH 512        /* the reference's micro-batch             */

/* ---- Matrix products ---------------------------------------------------- */

typedef struct {
    fwd_ctx *c;
    const model_weight *w;
    const float *x;  /* (B, cols) for sgemm */
    float *y;
    int B;
} mm_job;

/* Whether w's products with several tokens read tiled activations
 * (kern_packed_tile) on this path. */
static bool tiles(const model_weight *w)
{
    return w->packed && kern_packs(w->type) && kern_packed_tile_bytes(w->type, w->cols, 1) > 0;
}

/* y[t·ldy + r] = W[r]·x_t for rows [lo, hi) of w and n tokens whose
 * activations (kern_quantize_activation's) are `stride` bytes apart, or
 * tiled in xt where w takes them so (NULL: not tiled): the packed kernels
 * where w is packed for this path, else the decode dots.  lo must be a
 * multiple of KERN_PACK_ROWS, and hi too unless it is the last row. */
static void rows_product(const model_weight *w, const void *xq, size_t stride, const void *xt, int n, long lo,
                         long hi, float *y, size_t ldy)
{
    if (lo >= hi)
        return;
    if (xt && n > 1 && tiles(w))
        kern_packed_matmul_tiled(w->type, w->packed, w->rows, w->cols, xt, (size_t)n, (size_t)lo, (size_t)hi, y,
                                 ldy);
    else if (w->packed && kern_packs(w->type))
        kern_packed_matmul(w->type, w->packed, w->rows, w->cols, xq, stride, (size_t)n, (size_t)lo, (size_t)hi, y,
                           ldy);
    else if (n == 1)
        kern_matvec_rows(w->type, w->data, w->cols, xq, (size_t)lo, (size_t)hi, y);
    else
        kern_matmul_rows(w->type, w->data, w->cols, xq, stride, (size_t)n, (size_t)lo, (size_t)hi, y, ldy);
}

/*
 * y (B, rows) = x (B, cols) · Wᵀ for this thread's rows of W: a tile of
 * rows at a time converted to F32 in the thread's own buffer, then one
 * single-threaded sgemm per tile.  A tile is 1 MiB, the size of a Zen 4
 * core's L2: each sgemm call repacks all of x, and small tiles make many
 * small calls (256 KiB, 32 rows of a 2048-wide matrix, ran prefill at
 * 60-66% of the sgemm limit; 1 MiB at 76-85%).  Threads never wait for each
 * other, and OpenBLAS runs no threads of its own (they would spin on the
 * cores the decode path needs next).
 */
static void matmul_part(void *arg, int i, int n)
{
    mm_job *j = arg;
    const model_weight *w = j->w;
    long cols = (long)w->cols, rows = (long)w->rows;
    long lo, hi;
    pool_split((rows + 15) / 16, i, n, &lo, &hi); /* whole groups of 16 rows */
    lo *= 16;
    hi = hi * 16 < rows ? hi * 16 : rows;
    if (w->type == GGML_TYPE_F32) {
        if (lo < hi)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->B, (int)(hi - lo), (int)cols, 1.0f, j->x,
                        (int)cols, (const float *)w->data + (size_t)lo * cols, (int)cols, 0.0f, j->y + lo,
                        (int)rows);
        return;
    }
    float *tile = j->c->tile + (size_t)i * j->c->tile_floats;
    long tile_rows = (long)j->c->tile_floats / cols;
    if (tile_rows < 1)
        tile_rows = 1;
    for (long r0 = lo; r0 < hi; r0 += tile_rows) {
        long r1 = r0 + tile_rows < hi ? r0 + tile_rows : hi;
        kern_dequantize_rows_f32(w->type, w->data, (size_t)cols, (size_t)r0, (size_t)r1, tile);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->B, (int)(r1 - r0), (int)cols, 1.0f, j->x,
                    (int)cols, tile, (int)cols, 0.0f, j->y + r0, (int)rows);
    }
}

/*
 * A batch below EXACT_ATTN_MIN tokens takes the one-token path's
 * arithmetic all through: its attention is decoding's (half-precision
 * query and accumulator), and so are its products: each row's dot
 * product with each token is the one decoding that token alone computes
 * (kern_matmul_rows reads a row once and dots it with every token from
 * L1).  Its logits are then one-by-one decoding's, bit for bit.  Any other
 * order of summation is magnified where the arithmetic rounds: attention
 * rounds q, the cache and its accumulator to half precision, quantized
 * weights take 8-bit activations (a step of 1/127 of the block's largest
 * value).  Through sgemm, a batch of 40 ended 1.0e-3 from one-by-one
 * decoding on stories260K (F32; 6.9e-5 with both attending in single
 * precision), 5-6e-2 on Q4_1 and Q5_1 (of their 0.1).
 *
 * What it costs: below ~16 tokens the dots are faster than converting
 * tiles for sgemm (Qwen2.5-0.5B shape, Q8_0, one thread: 4 tokens 30 ->
 * 68 tok/s, 12 tokens 62 -> 76), above it slower (40 tokens 86 -> 59).
 * Batches of EXACT_ATTN_MIN tokens or more follow the reference's
 * large-batch arithmetic: single-precision attention, products through
 * sgemm on activations rounded as decoding rounds them (batch_activation).
 */
static bool dots(const fwd_ctx *c, const model_weight *w, int B)
{
    return B == 1 || !c->exact || (w->packed && kern_packs(w->type));
}

/*
 * The decode kernels' products (one token, or a batch taking dots()): the
 * rows of the weights are cut into chunks
 * of about 64 KiB, and each thread gets a contiguous share of the chunks,
 * which it works through from the front.  A thread that finishes its
 * share takes chunks from the back of the others' shares.  Normally each
 * thread streams its own share and nothing moves; but the two cores are
 * shared with the UI, the database and other processes, and when one
 * thread is held up the other finishes its work instead of waiting for it.
 * Which thread computes a row does not change its value.
 */
#define CHUNK_BYTES (64 << 10)

/* The next chunk from the front (the owner) or the back (a thief), -1
 * when the share is used up. */
static long share_take(struct share *sh, bool front)
{
    unsigned long long v = atomic_load_explicit(&sh->range, memory_order_relaxed);
    for (;;) {
        unsigned long long lo = v & 0xffffffffu, hi = v >> 32;
        if (lo >= hi)
            return -1;
        unsigned long long next = front ? (lo + 1) | hi << 32 : lo | (hi - 1) << 32;
        if (atomic_compare_exchange_weak_explicit(&sh->range, &v, next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return (long)(front ? lo : hi - 1);
    }
}

/* ys[k] (B, rows) = x · ws[k]ᵀ for k < n; with `swiglu` (gate and up,
 * same rows) ys[0] = silu(ys[0]) ⊙ ys[1] too, and a chunk is the same rows
 * of both. */
typedef struct {
    fwd_ctx *c;
    int n;
    const model_weight *const *ws;
    float *const *ys;
    bool swiglu;
    int B;            /* tokens                                                 */
    const void *x;    /* their activations (kern_quantize_activation's) ...     */
    size_t x_stride;  /* ... this many bytes apart                              */
    const void *xt;   /* ... and tiled for the weights that take them, or NULL  */
} multi_job;

/* A long batch takes chunks up to four times the size, while each thread
 * still gets four of each weight: every chunk's rows are multiplied with
 * all the tokens, whose activations pass through the cache once per
 * chunk (at 2048 columns, 64 KiB was one group of rows per 2 MiB of a
 * prompt's activations). */
static long chunk_rows(const model_weight *w, int B, int threads)
{
    long bytes = CHUNK_BYTES;
    if (B >= 32) {
        long quarter = (long)(w->rows * w->row_bytes) / (4L * threads);
        bytes = quarter > 4 * CHUNK_BYTES ? 4 * CHUNK_BYTES : quarter > CHUNK_BYTES ? quarter : CHUNK_BYTES;
    }
    long r = bytes / (long)w->row_bytes;
    return r < 16 ? 16 : r / KERN_PACK_ROWS * KERN_PACK_ROWS; /* whole groups of packed rows */
}

static long chunk_count(const model_weight *w, int B, int threads)
{
    long per = chunk_rows(w, B, threads);
    return ((long)w->rows + per - 1) / per;
}

/* How many of the weights the chunks are cut from: with swiglu, gate's
 * chunks stand for the same rows of up too. */
static int chunked_weights(const multi_job *j)
{
    return j->swiglu ? 1 : j->n;
}

static void multi_chunk(const multi_job *j, long chunk)
{
    int k = 0;
    int threads = j->c->n_threads;
    while (k < chunked_weights(j) - 1 && chunk >= chunk_count(j->ws[k], j->B, threads))
        chunk -= chunk_count(j->ws[k++], j->B, threads);
    long per = chunk_rows(j->ws[k], j->B, threads), lo = chunk * per, hi = lo + per;
    if (hi > (long)j->ws[k]->rows)
        hi = (long)j->ws[k]->rows;
    for (int w = k; w <= (j->swiglu ? 1 : k); w++)
        rows_product(j->ws[w], j->x, j->x_stride, j->xt, j->B, lo, hi, j->ys[w], j->ws[w]->rows);
    if (j->swiglu)
        for (int t = 0; t < j->B; t++) {
            size_t at = (size_t)t * j->ws[0]->rows + (size_t)lo;
            kern_swiglu(j->ys[0] + at, j->ys[1] + at, (size_t)(hi - lo));
        }
}

static void matvec_multi_part(void *arg, int i, int n)
{
    multi_job *j = arg;
    struct share *shares = j->c->shares;
    for (long chunk; (chunk = share_take(&shares[i], true)) >= 0;)
        multi_chunk(j, chunk);
    for (int k = 1; k < n; k++)
        for (long chunk; (chunk = share_take(&shares[(i + k) % n], false)) >= 0;)
            multi_chunk(j, chunk);
}

static void run_products(fwd_ctx *c, multi_job *j)
{
    long chunks = 0;
    for (int k = 0; k < chunked_weights(j); k++)
        chunks += chunk_count(j->ws[k], j->B, c->n_threads);
    for (int t = 0; t < c->n_threads; t++) {
        long lo, hi;
        pool_split(chunks, t, c->n_threads, &lo, &hi);
        atomic_store_explicit(&c->shares[t].range, (unsigned long long)lo | (unsigned long long)hi << 32,
                              memory_order_relaxed);
    }
    pool_run(c->pool, matvec_multi_part, j); /* posting the job publishes the shares */
}

/* A single token's x converted into c->xq for the weights w; `again` says
 * x is the previous product's input, so that conversion can be reused
 * when the type and width match (q/k/v and gate/up share their input). */
static void token_activation(fwd_ctx *c, const model_weight *w, const float *x, bool again)
{
    ggml_type at = kern_activation_type(w->type);
    if (again && c->xq_type == at && c->xq_cols == w->cols)
        return;
    kern_quantize_activation(w->type, x, w->cols, c->xq);
    c->xq_type = at;
    c->xq_cols = w->cols;
}

/*
 * A batch's x (B tokens) rounded as each token's activation is for the
 * one-token kernels (to Q8_0, Q8_1, Q8_K or half precision), into c->xr:
 * so the batch's sgemm multiplies the very values decoding multiplies,
 * as the reference does, and differs from it only in the order of
 * summation.  Multiplying the unrounded x instead left quantized logits
 * 3-6e-2 from one-by-one decoding (Q4_K_M: 5.9e-2 of its 0.1).
 */
static const float *batch_activation(fwd_ctx *c, const model_weight *w, const float *x, int B, bool again)
{
    ggml_type at = kern_activation_type(w->type);
    if (at == GGML_TYPE_F32)
        return x;
    if (!(again && c->xr_type == at && c->xr_cols == w->cols && !c->xr_quantized)) {
        for (int t = 0; t < B; t++)
            kern_activation_values(w->type, x + (size_t)t * w->cols, w->cols, c->xq,
                                   c->xr + (size_t)t * w->cols);
        c->xr_type = at;
        c->xr_cols = w->cols;
        c->xr_quantized = false;
        c->xt_ready = false;
        c->xq_type = GGML_TYPE_COUNT; /* c->xq was the scratch */
    }
    return c->xr;
}

/* Thread i of n's share [*t0, *t1) of a batch of B tokens, in whole
 * blocks of eight (a tile of tokens; rmsnorm_rows' unit). */
static void token_share(int B, int i, int n, int *t0, int *t1)
{
    long lo, hi;
    pool_split((B + 7) / 8, i, n, &lo, &hi);
    *t0 = (int)lo * 8;
    *t1 = (int)hi * 8 < B ? (int)hi * 8 : B;
}

/* Converting a batch's activations (and tiling them), tokens split among
 * the threads in whole tiles of eight: kern_packed_tile lays out each
 * tile of eight by itself, so a thread's tiles start at the bytes that
 * t0 tokens take. */
typedef struct {
    const model_weight *w;  /* whose activation type x is converted to, or NULL: converted already */
    const model_weight *tw; /* whose tiles are laid out, or NULL                                     */
    const float *x;
    void *xr, *xt;
    size_t stride;
    int B;
} prep_job;

static void prep_part(void *arg, int i, int n)
{
    const prep_job *p = arg;
    int b0, b1;
    token_share(p->B, i, n, &b0, &b1);
    size_t t0 = (size_t)b0, t1 = (size_t)b1;
    if (t0 >= t1)
        return;
    if (p->w)
        for (size_t t = t0; t < t1; t++)
            kern_quantize_activation(p->w->type, p->x + t * p->w->cols, p->w->cols, (char *)p->xr + t * p->stride);
    if (p->tw)
        kern_packed_tile(p->tw->type, (const char *)p->xr + t0 * p->stride, p->stride, t1 - t0, p->tw->cols,
                         (char *)p->xt + kern_packed_tile_bytes(p->tw->type, p->tw->cols, t0));
}

/* A small batch's x as the kernels take it (into j): each token's
 * activation converted by kern_quantize_activation, one after another in
 * c->xr (x_stride bytes apart), and tiled into c->xt for the weights
 * among ws that take tiles (xt NULL when none does or the buffer is too
 * small: the plain packed kernels then give the same results).  Float
 * weights read x itself.  A long batch is converted by all the threads. */
static void batch_prepare(fwd_ctx *c, const model_weight *const *ws, int n, const float *x, int B, bool again,
                          multi_job *j)
{
    const model_weight *w = ws[0];
    ggml_type at = kern_activation_type(w->type);
    if (at == GGML_TYPE_F32) {
        j->x = x;
        j->x_stride = w->cols * sizeof(float);
        return;
    }
    prep_job p = {.x = x, .xr = c->xr, .xt = c->xt, .B = B};
    p.stride = (kern_activation_bytes(w->type, w->cols) + 63) & ~(size_t)63; /* each aligned as c->xq */
    if (!(again && c->xr_type == at && c->xr_cols == w->cols && c->xr_quantized)) {
        p.w = w;
        c->xr_type = at;
        c->xr_cols = w->cols;
        c->xr_quantized = true;
        c->xt_ready = false;
    }
    for (int k = 0; k < n && !p.tw; k++)
        p.tw = tiles(ws[k]) ? ws[k] : NULL;
    if (p.tw && kern_packed_tile_bytes(p.tw->type, p.tw->cols, (size_t)B) > c->xt_bytes)
        p.tw = NULL;
    j->x = c->xr;
    j->x_stride = p.stride;
    j->xt = p.tw ? c->xt : NULL;
    if (c->xt_ready)
        p.tw = NULL;
    if (p.tw)
        c->xt_ready = true;
    if (!p.w && !p.tw)
        return;
    if (B >= 32 && c->n_threads > 1)
        pool_run(c->pool, prep_part, &p);
    else
        prep_part(&p, 0, 1);
}

/* ys[k] = x · ws[k]ᵀ for k < n through the decode kernels, all of the
 * same input converted once (`again`: see token_activation), in one pool
 * run (each run is a rendezvous of the threads; a decoded token is
 * hundreds of products).  With `glu` (n = 2, gate and up), ys[0] becomes
 * silu(ys[0]) ⊙ ys[1], chunk by chunk where both are chunked alike. */
static void products(fwd_ctx *c, int n, const model_weight *const *ws, float *const *ys, const float *x, int B,
                     bool glu, bool again)
{
    multi_job j = {.c = c, .n = n, .ws = ws, .ys = ys, .B = B};
    j.swiglu = glu && ws[0]->rows == ws[1]->rows && ws[0]->row_bytes == ws[1]->row_bytes;
    if (B == 1) {
        token_activation(c, ws[0], x, again);
        j.x = c->xq;
    } else {
        batch_prepare(c, ws, n, x, B, again, &j);
    }
    run_products(c, &j);
    if (glu && !j.swiglu)
        kern_swiglu(ys[0], ys[1], (size_t)B * ws[0]->rows);
}

/* y (B, rows) = x (B, cols) · Wᵀ (`again`: see token_activation). */
static void matmul(fwd_ctx *c, const model_weight *w, const float *x, int B, float *y, bool again)
{
    if (dots(c, w, B)) {
        products(c, 1, &w, &y, x, B, false, again);
        return;
    }
    mm_job j = {.c = c, .w = w, .y = y, .B = B};
    j.x = batch_activation(c, w, x, B, again);
    pool_run(c->pool, matmul_part, &j);
}

/* ys[k] = x · ws[k]ᵀ for k < n, all of the same input: one conversion and
 * one pool run where the weights take the decode kernels and one
 * activation, else product by product.  With `glu` (n = 2, gate and up),
 * ys[0] becomes silu(ys[0]) ⊙ ys[1]. */
static void matmul_shared(fwd_ctx *c, int n, const model_weight *const *ws, float *const *ys, const float *x,
                          int B, bool glu)
{
    bool one_run = true;
    for (int k = 0; k < n; k++)
        one_run = one_run && dots(c, ws[k], B) && ws[k]->cols == ws[0]->cols &&
                  kern_activation_type(ws[k]->type) == kern_activation_type(ws[0]->type);
    if (one_run) {
        products(c, n, ws, ys, x, B, glu, false);
        return;
    }
    for (int k = 0; k < n; k++)
        matmul(c, ws[k], x, B, ys[k], k > 0);
    if (glu)
        kern_swiglu(ys[0], ys[1], (size_t)B * ws[0]->rows);
}

/* ---- Elementwise pieces ---------------------------------------------------- */

static void rmsnorm_scaled(float *out, const float *x, const float *w, int n, float eps, double ss)
{
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int i = 0; i < n; i++)
        out[i] = x[i] * scale * w[i];
}

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    rmsnorm_scaled(out, x, w, n, eps, ss);
}

/* rmsnorm of B rows n apart, eight at a time with their sums interleaved:
 * each row's sum is still its own, element by element in order (as
 * rmsnorm's, bit for bit), but eight chains of dependent additions overlap
 * where one row's would wait for each addition. */
static void rmsnorm_rows(float *out, const float *x, const float *w, int B, int n, float eps)
{
    int t0 = 0;
    for (; t0 + 8 <= B; t0 += 8) {
        const float *xr = x + (size_t)t0 * n;
        const float *r0 = xr, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n, *r4 = r3 + n, *r5 = r4 + n, *r6 = r5 + n,
                    *r7 = r6 + n;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        for (int i = 0; i < n; i++) {
            s0 += (double)r0[i] * r0[i];
            s1 += (double)r1[i] * r1[i];
            s2 += (double)r2[i] * r2[i];
            s3 += (double)r3[i] * r3[i];
            s4 += (double)r4[i] * r4[i];
            s5 += (double)r5[i] * r5[i];
            s6 += (double)r6[i] * r6[i];
            s7 += (double)r7[i] * r7[i];
        }
        const double ss[8] = {s0, s1, s2, s3, s4, s5, s6, s7};
        for (int t = 0; t < 8; t++)
            rmsnorm_scaled(out + (size_t)(t0 + t) * n, xr + (size_t)t * n, w, n, eps, ss[t]);
    }
    for (; t0 < B; t0++)
        rmsnorm(out + (size_t)t0 * n, x + (size_t)t0 * n, w, n, eps);
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

/* ---- Attention ----------------------------------------------------------------- */

/*
 * The cache holds K and V in half precision, as the reference does, and
 * attention follows the reference's two CPU paths so that our logits agree
 * with its to the last few bits:
 *
 *   - a micro-batch of at least EXACT_ATTN_MIN queries (a long prompt):
 *     queries in single precision, one softmax per row, V accumulated in
 *     single precision.  We compute it as matrix products: for a block of
 *     ATT_ROWS queries of one head, S = Q·Kᵀ and O = exp(S - max)·V
 *     through sgemm, divided by the row sums at the end as the reference
 *     does (normalizing first moves stories260K's logits by 3e-4); K and
 *     V are converted to F32 once per thread and KV head;
 *   - a smaller batch (a short prompt, every decoded token): the query
 *     rounded to half precision, an online softmax whose V accumulator is
 *     itself kept in half precision (kern_attend_f16).
 */
#define EXACT_ATTN_MIN 64

/* Where KV head g's row for position p starts within one sequence's
 * layer of the K or V cache: each head's positions are kept together, so
 * attention reads one contiguous run per head. */
static size_t kv_row(const fwd_ctx *c, int g, int p)
{
    return ((size_t)g * c->n_ctx + (size_t)p) * c->m->head_dim;
}

/* Where sequence s's layer l starts in the K or V cache. */
static size_t kv_layer(const fwd_ctx *c, int s, int l)
{
    const model *m = c->m;
    return kv_row(c, (s * (int)m->hp.n_layer + l) * (int)m->hp.n_head_kv, 0);
}

/* One layer's attention: the batch and where its cache rows are. */
typedef struct {
    fwd_ctx *c;
    int B, layer;
    int hd, E, group;           /* head size, width, heads per KV head          */
    float scale;
} att_job;

static att_job att_job_for(fwd_ctx *c, int layer, int B)
{
    const model *m = c->m;
    return (att_job){.c = c,
                     .B = B,
                     .layer = layer,
                     .hd = (int)m->head_dim,
                     .E = (int)m->hp.n_embd,
                     .group = (int)(m->hp.n_head / m->hp.n_head_kv),
                     .scale = 1.0f / sqrtf((float)m->head_dim)};
}

static void att_convert(const fwd_ctx *c, att_scratch *a, const uint16_t *kc, const uint16_t *vc, int g,
                        int n_keys)
{
    int hd = (int)c->m->head_dim;
    if (a->kv_head != g) {
        a->kv_head = g;
        a->n_rows = 0;
    }
    for (int p = a->n_rows; p < n_keys; p++) {
        kern_f16_to_f32(kc + kv_row(c, g, p), a->k + (size_t)p * hd, (size_t)hd);
        kern_f16_to_f32(vc + kv_row(c, g, p), a->v + (size_t)p * hd, (size_t)hd);
    }
    if (n_keys > a->n_rows)
        a->n_rows = n_keys;
}

static void attention_exact_part(void *arg, int ti, int tn)
{
    att_job *j = arg;
    fwd_ctx *c = j->c;
    const model *m = c->m;
    int hd = j->hd, E = j->E, group = j->group;
    int chunks = (j->B + ATT_ROWS - 1) / ATT_ROWS;
    att_scratch *a = &c->att_scratch[ti];
    float scale = j->scale;
    a->kv_head = -1;
    /* a large batch is one sequence's, at consecutive positions */
    int past = c->row_pos[0];
    size_t base = kv_layer(c, c->row_seq[0], j->layer);
    const uint16_t *kc = c->k_cache + base, *vc = c->v_cache + base;

    /* jobs ordered KV head, then block, then query head: a thread's run of
     * jobs extends one conversion instead of repeating it.  A job costs
     * about its keys (later blocks see more), so the threads split the
     * jobs by that: an even split of their number left one thread a
     * third more work than the other. */
    long jobs = (long)m->hp.n_head_kv * chunks * group, total = 0;
    for (long job = 0; job < jobs; job++)
        total += past + (int)(job / group % chunks + 1) * ATT_ROWS;
    long lo = jobs, hi = jobs;
    for (long job = 0, cost = 0; job < jobs; job++) {
        if (lo == jobs && cost * tn >= total * ti)
            lo = job;
        if (cost * tn >= total * (ti + 1)) {
            hi = job;
            break;
        }
        cost += past + (int)(job / group % chunks + 1) * ATT_ROWS;
    }
    for (long job = lo; job < hi; job++) {
        int g = (int)(job / ((long)chunks * group));
        int chunk = (int)(job / group % chunks);
        int h = g * group + (int)(job % group);
        int t0 = chunk * ATT_ROWS, t1 = t0 + ATT_ROWS < j->B ? t0 + ATT_ROWS : j->B, rows = t1 - t0;
        int n_keys = past + t1; /* what the block's last query sees */
        att_convert(c, a, kc, vc, g, n_keys);

        const float *q = c->q + (size_t)t0 * E + (size_t)h * hd;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n_keys, hd, scale, q, E, a->k, hd, 0.0f,
                    a->s, n_keys);
        float sums[ATT_ROWS];
        for (int r = 0; r < rows; r++) {
            float *s = a->s + (size_t)r * n_keys;
            int seen = past + t0 + r + 1; /* causal */
            float mx = -INFINITY;
            for (int p = 0; p < seen; p++)
                mx = s[p] > mx ? s[p] : mx;
            for (int p = 0; p < seen; p++)
                s[p] -= mx;
            kern_exp(s, (size_t)seen); /* eight at a time; within 2e-7 of expf */
            double sum = 0.0;
            for (int p = 0; p < seen; p++)
                sum += s[p];
            sums[r] = (float)sum;
            for (int p = seen; p < n_keys; p++)
                s[p] = 0.0f;
        }
        float *o = c->att + (size_t)t0 * E + (size_t)h * hd;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, n_keys, 1.0f, a->s, n_keys, a->v, hd,
                    0.0f, o, E);
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < hd; i++)
                o[(size_t)r * E + i] /= sums[r];
    }
}

static void attention_half_part(void *arg, int ti, int tn)
{
    att_job *j = arg;
    fwd_ctx *c = j->c;
    const model *m = c->m;
    int hd = j->hd, E = j->E, group = j->group;

    /* this thread's share of the (token, head) pairs, taken in runs of
     * heads that read the same KV head (whose rows then stay in cache) */
    long lo, hi;
    pool_split((long)m->hp.n_head * j->B, ti, tn, &lo, &hi);
    for (long job = lo; job < hi;) {
        int h = (int)(job % m->hp.n_head), t = (int)(job / m->hp.n_head);
        int g = h / group, run = (g + 1) * group - h;
        if (run > hi - job)
            run = (int)(hi - job);
        int n_keys = c->row_pos[t] + 1; /* causal: keys up to this position */
        size_t at = (size_t)t * E + (size_t)h * hd, kv = kv_layer(c, c->row_seq[t], j->layer) + kv_row(c, g, 0);
        kern_attend_f16(c->q + at, (size_t)run, (size_t)hd, c->k_cache + kv, c->v_cache + kv,
                        (size_t)n_keys, (size_t)hd, (size_t)hd, j->scale, c->att + at, (size_t)hd);
        job += run;
    }
}

/* ---- Layers ---------------------------------------------------------------------- */

/* The per-token steps between a layer's products, on tokens [t0, t1):
 * each token's values depend on its own row alone, so a long batch splits
 * them among the threads (whole blocks of eight: rmsnorm_rows' unit) and
 * the results are the same. */
typedef enum { STEP_ATTN_IN, STEP_QKV_OUT, STEP_FFN_IN, STEP_FFN_OUT } token_step;

typedef struct {
    fwd_ctx *c;
    int l, B;
    token_step step;
} step_job;

static void token_step_range(fwd_ctx *c, int l, token_step step, int t0, int t1)
{
    const model *m = c->m;
    const model_layer *L = &m->layers[l];
    size_t E = m->hp.n_embd, KV = (size_t)m->hp.n_head_kv * m->head_dim, hd = m->head_dim;
    float eps = m->hp.rms_eps;
    int n = t1 - t0;
    switch (step) {
    case STEP_ATTN_IN:
        rmsnorm_rows(c->h + t0 * E, c->x + t0 * E, L->attn_norm, n, (int)E, eps);
        break;
    case STEP_QKV_OUT:
        if (L->bq) add_bias(c->q + t0 * E, L->bq, n, (int)E);
        if (L->bk) add_bias(c->k + t0 * KV, L->bk, n, (int)KV);
        if (L->bv) add_bias(c->v + t0 * KV, L->bv, n, (int)KV);
        for (int t = t0; t < t1; t++) {
            rope(c, c->q + (size_t)t * E, (int)m->hp.n_head, c->row_pos[t]);
            rope(c, c->k + (size_t)t * KV, (int)m->hp.n_head_kv, c->row_pos[t]);
        }
        /* k and v join the cache at their positions */
        for (int g = 0; g < (int)m->hp.n_head_kv; g++)
            for (int t = t0; t < t1; t++) {
                size_t at = kv_layer(c, c->row_seq[t], l) + kv_row(c, g, c->row_pos[t]);
                kern_f32_to_f16(c->k + (size_t)t * KV + g * hd, c->k_cache + at, hd);
                kern_f32_to_f16(c->v + (size_t)t * KV + g * hd, c->v_cache + at, hd);
            }
        break;
    case STEP_FFN_IN:
        for (size_t i = t0 * E; i < t1 * E; i++)
            c->x[i] += c->h[i];
        rmsnorm_rows(c->h + t0 * E, c->x + t0 * E, L->ffn_norm, n, (int)E, eps);
        break;
    case STEP_FFN_OUT:
        for (size_t i = t0 * E; i < t1 * E; i++)
            c->x[i] += c->h[i];
        break;
    }
}

static void token_step_part(void *arg, int i, int n)
{
    const step_job *j = arg;
    int t0, t1;
    token_share(j->B, i, n, &t0, &t1);
    if (t0 < t1)
        token_step_range(j->c, j->l, j->step, t0, t1);
}

static void token_step_all(fwd_ctx *c, int l, int B, token_step step)
{
    if (B >= 32 && c->n_threads > 1) {
        step_job j = {.c = c, .l = l, .B = B, .step = step};
        pool_run(c->pool, token_step_part, &j);
    } else {
        token_step_range(c, l, step, 0, B);
    }
}

static void layer_forward(fwd_ctx *c, int l, int B)
{
    const model_layer *L = &c->m->layers[l];

    token_step_all(c, l, B, STEP_ATTN_IN);
    const model_weight *qkv[] = {&L->wq, &L->wk, &L->wv};
    float *const qkv_out[] = {c->q, c->k, c->v};
    matmul_shared(c, 3, qkv, qkv_out, c->h, B, false);
    token_step_all(c, l, B, STEP_QKV_OUT);
    att_job aj = att_job_for(c, l, B);
    pool_run(c->pool, c->exact ? attention_exact_part : attention_half_part, &aj);
    matmul(c, &L->wo, c->att, B, c->h, false);

    token_step_all(c, l, B, STEP_FFN_IN);
    const model_weight *gate_up[] = {&L->gate, &L->up};
    float *const gate_up_out[] = {c->ff_gate, c->ff_up};
    matmul_shared(c, 2, gate_up, gate_up_out, c->h, B, true);
    matmul(c, &L->down, c->ff_gate, B, c->h, false);
    token_step_all(c, l, B, STEP_FFN_OUT);
}

static int eval_batch(fwd_ctx *c, const int32_t *tokens, int B, bool exact, bool all_logits,
                      float *logits, const atomic_bool *cancel)
{
    const model *m = c->m;
    int E = (int)m->hp.n_embd;
    for (int t = 0; t < B; t++)
        if (m->tok_embd.packed && kern_packs(m->tok_embd.type)) /* a tied output, packed */
            kern_packed_row_f32(m->tok_embd.type, m->tok_embd.packed, E, (size_t)tokens[t], c->x + (size_t)t * E);
        else
            kern_dequantize_rows_f32(m->tok_embd.type, m->tok_embd.data, E, (size_t)tokens[t],
                                     (size_t)tokens[t] + 1, c->x + (size_t)t * E);
    c->exact = exact;
    for (int l = 0; l < (int)m->hp.n_layer; l++) {
        if (cancel && atomic_load(cancel))
            return FWD_ECANCELLED;
        layer_forward(c, l, B);
    }
    if (!logits)
        return FWD_OK;
    int first = all_logits ? 0 : B - 1;
    rmsnorm_rows(c->h, c->x + (size_t)first * E, m->output_norm, B - first, E, m->hp.rms_eps);
    matmul(c, &m->output, c->h, B - first, logits, false);
    return FWD_OK;
}

static bool tokens_valid(const fwd_ctx *c, const int32_t *tokens, int n)
{
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= c->m->n_vocab)
            return false;
    return true;
}

int fwd_eval_seq(fwd_ctx *c, int seq, const int32_t *tokens, int n, bool all_logits, float *logits,
                 const atomic_bool *cancel)
{
    if (n <= 0)
        return FWD_OK;
    if (seq < 0 || seq >= c->n_seq)
        return FWD_ESEQ;
    if (n > c->n_ctx - c->seq_past[seq])
        return FWD_EFULL;
    if (!tokens_valid(c, tokens, n))
        return FWD_ETOKEN;
    int start = c->seq_past[seq];
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
        for (int t = 0; t < B; t++) {
            c->row_seq[t] = seq;
            c->row_pos[t] = c->seq_past[seq] + t;
        }
        int rc = eval_batch(c, tokens + done, B, exact, all_logits, out, cancel);
        if (rc != FWD_OK) {
            c->seq_past[seq] = start;
            return rc;
        }
        c->seq_past[seq] += B;
        done += B;
    }
    return FWD_OK;
}

int fwd_eval(fwd_ctx *c, const int32_t *tokens, int n, bool all_logits, float *logits,
             const atomic_bool *cancel)
{
    return fwd_eval_seq(c, 0, tokens, n, all_logits, logits, cancel);
}

int fwd_decode_seqs(fwd_ctx *c, int n, const int *seqs, const int32_t *tokens, float *logits)
{
    if (n <= 0)
        return FWD_OK;
    if (n > FWD_BATCH)
        return FWD_EFULL;
    for (int i = 0; i < n; i++) {
        if (seqs[i] < 0 || seqs[i] >= c->n_seq)
            return FWD_ESEQ;
        for (int j = 0; j < i; j++)
            if (seqs[j] == seqs[i])
                return FWD_ESEQ;
        if (c->seq_past[seqs[i]] >= c->n_ctx)
            return FWD_EFULL;
    }
    if (!tokens_valid(c, tokens, n))
        return FWD_ETOKEN;
    for (int t = 0; t < n; t++) {
        c->row_seq[t] = seqs[t];
        c->row_pos[t] = c->seq_past[seqs[t]];
    }
    /* not exact: decoding's attention and dot products for every row */
    int rc = eval_batch(c, tokens, n, false, true, logits, NULL);
    if (rc != FWD_OK)
        return rc;
    for (int t = 0; t < n; t++)
        c->seq_past[seqs[t]]++;
    return FWD_OK;
}
