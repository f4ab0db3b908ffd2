/*
 * forward_internal.h — the forward pass's context, shared by forward.c (the
 * pass) and forward_ctx.c (making and freeing a context); private to them.
 */
#ifndef FRONTDESK_FORWARD_INTERNAL_H
#define FRONTDESK_FORWARD_INTERNAL_H

#include "engine/forward.h"
#include "engine/kernels.h"
#include "engine/pool.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define TILE_FLOATS (1 << 18) /* 1 MiB of F32 weights per thread's tile   */
#define ATT_ROWS 32           /* queries per block of the batched attention (forward.c) */

/* A thread's share of a token's product chunks (forward.c). */
struct share {
    atomic_ullong range; /* next chunk (low 32 bits), end (high 32 bits) */
};

/* This thread's F32 copy of one KV head's keys and values. */
struct att_scratch {
    float *k, *v; /* (n_ctx, head_dim) */
    float *s;     /* (ATT_ROWS, n_ctx) scores, then probabilities */
    int kv_head;  /* whose rows are converted, -1 for none */
    int n_rows;   /* how many */
};

typedef struct att_scratch att_scratch;

struct fwd_ctx {
    const model *m;
    int n_ctx, n_threads;
    int n_seq;                /* sequences, each with its own cache region */
    int *seq_past;            /* (n_seq) positions filled in each          */
    int *row_seq, *row_pos;   /* (B) the batch's rows: sequence, position  */
    bool exact;               /* this batch takes the reference's large-batch attention */
    pool *pool;
    uint16_t *k_cache, *v_cache; /* (n_seq, n_layer, n_head_kv, n_ctx, head_dim) half precision */
    float *x, *h, *q, *k, *v, *att; /* (B, E) / (B, KV) / (B, E)        */
    float *ff_gate, *ff_up;   /* (B, n_ff)                              */
    float *tile;              /* (n_threads, tile_floats) weights as F32 */
    size_t tile_floats;
    att_scratch *att_scratch; /* (n_threads) for the batched attention  */
    struct share *shares;     /* (n_threads) a token's products (forward.c) */
    float *xr;                /* (B, widest) a batch's activations as the weights' kernels see them */
    ggml_type xr_type;        /* ... rounded to this type, of this width  */
    bool xr_quantized;        /* ... or, for a small batch, in that type's blocks */
    uint32_t xr_cols;
    void *xt;                 /* (B) activations of xr tiled (kern_packed_tile), or NULL */
    size_t xt_bytes;
    bool xt_ready;            /* ... from the activations now in xr       */
    void *xq;                 /* a token's activation, as the weights want */
    size_t xq_bytes;
    ggml_type xq_type;        /* ... of this type and width              */
    uint32_t xq_cols;
    float *rope_cos, *rope_sin; /* (n_ctx, n_rot/2)                      */
};

#endif
