/*
 * forward_ctx.c — making a forward-pass context (caches, activations,
 * scratch, rotary tables, the thread pool; everything sized by the model
 * file allocated fallibly) and freeing it, and its small accessors.
 */
#include "engine/forward_internal.h"

#include "util/alloc.h"
#include "util/util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- Lifecycle ----------------------------------------------------------------- */

fwd_ctx *fwd_new(const model *m, int n_ctx, int n_threads, char *err, size_t errlen)
{
    return fwd_new_multi(m, 1, n_ctx, n_threads, err, errlen);
}

fwd_ctx *fwd_new_multi(const model *m, int n_seq, int n_ctx, int n_threads, char *err, size_t errlen)
{
    if (n_ctx < 1 || n_ctx > 1 << 20) {
        util_errf(err, errlen, "context length %d is out of range", n_ctx);
        return NULL;
    }
    if (n_seq < 1 || n_seq > FWD_BATCH || (long long)n_seq * n_ctx > 1 << 22) {
        util_errf(err, errlen, "%d sequences of %d positions are out of range", n_seq, n_ctx);
        return NULL;
    }
    if (n_threads < 1)
        n_threads = 1;
    kern_init();
    fwd_ctx *c = xcalloc(1, sizeof *c);
    c->m = m;
    c->n_ctx = n_ctx;
    c->n_seq = n_seq;
    c->seq_past = xcalloc((size_t)n_seq, sizeof *c->seq_past);
    c->row_seq = xmallocarray(FWD_BATCH, sizeof *c->row_seq);
    c->row_pos = xmallocarray(FWD_BATCH, sizeof *c->row_pos);
    c->n_threads = n_threads;
    c->pool = pool_new(n_threads);
    if (!c->pool) {
        util_errf(err, errlen, "cannot start %d threads", n_threads);
        fwd_free(c);
        return NULL;
    }
    size_t E = m->hp.n_embd, F = m->hp.n_ff, L = m->hp.n_layer;
    size_t KV = (size_t)m->hp.n_head_kv * m->head_dim, B = FWD_BATCH;
    size_t cache = (size_t)n_seq * L * (size_t)n_ctx * KV;
    c->k_cache = try_calloc(cache, sizeof(uint16_t));
    c->v_cache = try_calloc(cache, sizeof(uint16_t));
    if (!c->k_cache || !c->v_cache) {
        util_errf(err, errlen, "out of memory for a KV cache of %d x %d positions (%.0f MiB)", n_seq, n_ctx,
                  2.0 * cache * sizeof(uint16_t) / (1 << 20));
        fwd_free(c);
        return NULL;
    }
    /* sized by the model file's widths (bounded at load): fallible */
    c->x = try_mallocarray(B * E, sizeof(float));
    c->h = try_mallocarray(B * E, sizeof(float));
    c->q = try_mallocarray(B * E, sizeof(float));
    c->att = try_mallocarray(B * E, sizeof(float));
    c->k = try_mallocarray(B * KV, sizeof(float));
    c->v = try_mallocarray(B * KV, sizeof(float));
    c->ff_gate = try_mallocarray(B * F, sizeof(float));
    c->ff_up = try_mallocarray(B * F, sizeof(float));
    size_t widest = E > F ? E : F;
    c->tile_floats = TILE_FLOATS > widest ? TILE_FLOATS : widest;
    c->tile = try_mallocarray((size_t)n_threads * c->tile_floats, sizeof(float));
    if (!c->x || !c->h || !c->q || !c->att || !c->k || !c->v || !c->ff_gate || !c->ff_up || !c->tile) {
        util_errf(err, errlen, "out of memory for the activations of a model %zu wide with %zu-wide "
                  "feed-forward layers", E, F);
        fwd_free(c);
        return NULL;
    }
    c->shares = xmallocarray((size_t)n_threads, sizeof *c->shares);
    c->att_scratch = xcalloc((size_t)n_threads, sizeof *c->att_scratch);
    for (int t = 0; t < n_threads; t++) {
        att_scratch *a = &c->att_scratch[t];
        a->k = try_mallocarray((size_t)n_ctx * m->head_dim, sizeof(float));
        a->v = try_mallocarray((size_t)n_ctx * m->head_dim, sizeof(float));
        a->s = try_mallocarray((size_t)ATT_ROWS * n_ctx, sizeof(float));
        if (!a->k || !a->v || !a->s) {
            util_errf(err, errlen, "out of memory for attention over %d positions", n_ctx);
            fwd_free(c);
            return NULL;
        }
    }
    c->xq_bytes = 0;
    /* the activation buffer must fit any weight type's quantized input */
    for (int t = 0; t < GGML_TYPE_COUNT; t++) {
        if (!model_weight_type_supported((ggml_type)t))
            continue;
        size_t b = kern_activation_bytes((ggml_type)t, widest);
        if (b > c->xq_bytes)
            c->xq_bytes = b;
    }
    c->xq = try_malloc(c->xq_bytes);
    c->xq_type = c->xr_type = GGML_TYPE_COUNT;
    c->xr = try_mallocarray(B * widest, sizeof(float));
    /* where this path tiles a batch's activations for packed weights */
    c->xt_bytes = kern_packed_tile_bytes(GGML_TYPE_Q8_0, (widest + 31) / 32 * 32, B);
    if (kern_packed_tile_bytes(GGML_TYPE_F16, widest, B) > c->xt_bytes)
        c->xt_bytes = kern_packed_tile_bytes(GGML_TYPE_F16, widest, B);
    c->xt = c->xt_bytes ? try_malloc(c->xt_bytes) : NULL;
    size_t half = m->hp.n_rot / 2;
    c->rope_cos = try_mallocarray((size_t)n_ctx * half, sizeof(float));
    c->rope_sin = try_mallocarray((size_t)n_ctx * half, sizeof(float));
    if (!c->xq || !c->xr || !c->rope_cos || !c->rope_sin || (c->xt_bytes && !c->xt)) {
        util_errf(err, errlen, "out of memory for the activations and rotary tables of %d positions", n_ctx);
        fwd_free(c);
        return NULL;
    }
    rope_tables(c);
    openblas_set_num_threads(1); /* our pool splits the products itself */
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
    free(c->ff_gate);
    free(c->ff_up);
    free(c->tile);
    free(c->shares);
    for (int t = 0; c->att_scratch && t < c->n_threads; t++) {
        free(c->att_scratch[t].k);
        free(c->att_scratch[t].v);
        free(c->att_scratch[t].s);
    }
    free(c->att_scratch);
    free(c->xq);
    free(c->xr);
    free(c->xt);
    free(c->rope_cos);
    free(c->rope_sin);
    free(c->seq_past);
    free(c->row_seq);
    free(c->row_pos);
    free(c);
}

int fwd_n_ctx(const fwd_ctx *c) { return c->n_ctx; }
int fwd_n_seq(const fwd_ctx *c) { return c->n_seq; }
int fwd_n_past(const fwd_ctx *c) { return c->seq_past[0]; }
int fwd_seq_past(const fwd_ctx *c, int seq) { return seq >= 0 && seq < c->n_seq ? c->seq_past[seq] : 0; }

void fwd_seq_truncate(fwd_ctx *c, int seq, int n_past)
{
    if (seq >= 0 && seq < c->n_seq && n_past >= 0 && n_past < c->seq_past[seq])
        c->seq_past[seq] = n_past;
}

void fwd_truncate(fwd_ctx *c, int n_past)
{
    fwd_seq_truncate(c, 0, n_past);
}
