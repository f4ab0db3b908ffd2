/*
 * train_internal.h — what train/train.c and train/train_io.c share: the
 * model's struct and its allocator.  Not part of the public API (that is
 * train/train.h); nothing outside these two files includes it.
 *
 * train.c owns the layout, the lifecycle and the maths (forward, backward,
 * AdamW); train_io.c reads and writes models (checkpoints, GGUF export and
 * import) through the fields below.
 */
#ifndef FRONTDESK_TRAIN_INTERNAL_H
#define FRONTDESK_TRAIN_INTERNAL_H

#include "engine/pool.h"
#include "train/train.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char name[48];
    size_t off;          /* into params / grads / moments */
    uint32_t rows, cols;
    bool decay;
} tensor_rec;

/* Offsets of one layer's weights (Wq|Wk|Wv and Wgate|Wup adjacent). */
typedef struct {
    size_t attn_norm, wqkv, wo, ffn_norm, wgu, wdown;
} layer_off;

/* Saved activations of one layer (first N rows used). */
typedef struct {
    float *h1, *rstd1, *qkv, *att, *lse, *x_mid, *h2, *rstd2, *gu, *act;
} layer_act;

struct train_model {
    train_config cfg;
    uint32_t E, H, G, hd, KV, QKV, F, V, L;
    size_t n_params;
    float *params, *grads, *m1, *m2;
    tensor_rec *tens;
    size_t n_tens;
    layer_off *lo;
    size_t off_embd, off_out_norm, off_out; /* off_out = off_embd when tied */
    uint64_t opt_step;
    pool *pool;
    int n_threads;
    bool naive;

    /* activations for n_max = n_batch·n_ctx rows */
    size_t n_max;
    float *arena;            /* every buffer below lives in it */
    float **xs;              /* (L+1) × (n_max, E) */
    layer_act *acts;         /* (L) */
    float *hf, *rstdf;       /* final norm */
    float *dx, *dh, *dqkv, *datt, *dgu, *dact;
    float *hc, *logits, *dhc, *row_loss; /* loss chunk */
    int32_t *loss_rows, *loss_tgt;       /* (n_max) */
    float *att_s, *att_dp;   /* (n_threads, ATT_BQ, n_ctx) */
    float *tscratch;         /* (n_threads, max(F, E)) */
    float *norm_part;        /* (n_threads, E) */
    float *rope_cos, *rope_sin; /* (n_ctx, hd/2) */
};

/* A model with its pool and every buffer but no parameter values (params
 * uninitialised; gradients and moments zero, step 0): what train_new,
 * train_load and train_import_gguf then fill.  NULL with a message for a
 * bad configuration or when threads cannot be started. */
train_model *train_model_alloc(const train_config *cfg, char *err, size_t errlen);

#endif
