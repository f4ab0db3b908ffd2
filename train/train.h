/*
 * train.h — training a llama-architecture model on the CPU: forward and
 * backward passes, AdamW, checkpoints, export to GGUF.
 *
 * The model is the one the inference engine runs (engine/forward.c) for
 * general.architecture = "llama": token embedding, n_layer blocks of
 *
 *   h = rmsnorm(x)·attn_norm;  q,k,v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ;  rope(q, k)
 *   x += softmax(q·kᵀ/√hd + causal mask)·v · Woᵀ       (grouped-query)
 *   h = rmsnorm(x)·ffn_norm;   x += (silu(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ
 *
 * then logits = rmsnorm(x)·output_norm · Woutᵀ, where Wout is the token
 * embedding itself when the model is tied.  No biases.  RoPE is the
 * engine's "normal" layout (neighbours 2i, 2i+1 rotated by
 * pos·base^(-2i/hd), the angles computed exactly as the engine does), so
 * exported q/k weights need no permutation.
 *
 * Everything is F32: parameters, gradients, the optimiser's moments.
 * Weights are row-major (out, in); activations (tokens, features).  Matrix
 * products go through OpenBLAS sgemm; attention is computed per
 * (sequence, KV head) in blocks of query rows, each block multiplying only
 * the keys it may see, and the backward pass recomputes the attention
 * probabilities from the saved log-sum-exp instead of storing them
 * (memory O(T·heads), time O(T²·hd)).
 *
 * Threading: a model owns a pool of n_threads threads (engine/pool.h);
 * every product, the attention and the element-wise passes are split
 * across it in a fixed way, each thread calling single-threaded sgemm
 * (measured on the yardstick's products with 2 cores: 191–201 GFLOP/s
 * against 172–193 for OpenBLAS's own threads, and the pool also runs the
 * many small attention products side by side, which OpenBLAS cannot).
 * While a step runs, the trainer sets OpenBLAS to one thread
 * (openblas_set_num_threads is process-wide: do not run an inference
 * context in the same process at the same time).  Reductions (norm-weight
 * gradients, the loss, the gradient norm) are summed in a fixed order, so
 * with the same thread count a seed reproduces a run bit for bit.  A
 * different thread count gives results that differ in the last bits.
 *
 * Optimiser: AdamW with decoupled weight decay on the 2-D matrices (the
 * attention and FFN projections, the output head, and the token embedding
 * when it is tied — it is then also the output head); no decay on the
 * norm gains, nor on an untied token embedding (a look-up table whose rare
 * rows would shrink at every step whether or not they were used).
 *
 * Memory: train_new allocates everything: parameters, gradients, moments
 * (4 × n_params floats) and activations for n_batch × n_ctx tokens
 * (6·n_embd + 2·kv + 3·n_ff + n_head + 2 floats per token per layer, plus
 * one layer's worth of gradient scratch; 16 KiB per token per layer, about
 * 0.5 GB in all, for the yardstick with 8 × 512 tokens).  Steps allocate
 * nothing.
 *
 * What this module does not do: tokenization, data loading or batching,
 * the training loop and its progress line (the caller owns those), mixed
 * precision, dropout, biases, NeoX RoPE, or multiple processes.
 * Failures are reported as TRAIN_E* statuses with a message in a buffer
 * the caller passes; nothing here exits.  Out-of-memory aborts (util.h).
 */
#ifndef FRONTDESK_TRAIN_H
#define FRONTDESK_TRAIN_H

#include "engine/gguf.h"
#include "engine/gguf_write.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Status codes ------------------------------------------------------- */

enum {
    TRAIN_OK = 0,
    TRAIN_EINVAL = -1, /* a bad configuration, shape, token id or argument  */
    TRAIN_EIO = -2,    /* a file could not be read or written               */
    TRAIN_EBAD = -3,   /* a checkpoint is not one, is damaged or truncated  */
};

/* ---- Configuration -------------------------------------------------------- */

typedef struct {
    /* shape (what a GGUF export records) */
    uint32_t vocab;      /* token ids are 0 .. vocab-1                      */
    uint32_t n_embd;     /* width; a multiple of n_head                     */
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;  /* divides n_head (grouped-query attention)        */
    uint32_t n_ff;       /* SwiGLU hidden width                             */
    uint32_t n_ctx;      /* longest sequence a step may take                */
    float rope_base;     /* RoPE frequency base (10000)                     */
    float rms_eps;       /* RMSNorm epsilon (1e-5)                          */
    bool tied;           /* output head = token embedding                   */
    /* resources */
    uint32_t n_batch;    /* most sequences per step (scratch: n_batch·n_ctx) */
    uint32_t n_threads;  /* threads of the model's pool (>= 1)              */
    /* AdamW and clipping */
    float beta1, beta2;  /* 0.9, 0.95                                       */
    float adam_eps;      /* 1e-8                                            */
    float weight_decay;  /* 0.1, on the matrices listed above               */
    float grad_clip;     /* global L2 norm bound; 0 disables clipping (1.0) */
} train_config;

/* The yardstick of issue 6 (vocab 4096, width 256, 6 layers, 8/8 heads,
 * FFN 688, context 512, tied; batch 8, 1 thread) with the optimiser
 * defaults noted above.  Callers change what they need. */
void train_config_default(train_config *cfg);

/* NULL when the configuration is acceptable, else what is wrong. */
const char *train_config_check(const train_config *cfg);

/* ---- Lifecycle -------------------------------------------------------------- */

typedef struct train_model train_model;

/* A new model with its pool and every buffer.  Initialisation from `seed`:
 * matrices and the embedding ~ normal(0, 0.02), the residual outputs (Wo,
 * Wdown) ~ normal(0, 0.02/√(2·n_layer)), norm gains 1; moments 0, step 0.
 * Returns NULL with a message for a bad configuration or when threads
 * cannot be started. */
train_model *train_new(const train_config *cfg, uint64_t seed, char *err, size_t errlen);
void train_free(train_model *m); /* accepts NULL */

const train_config *train_get_config(const train_model *m);
/* Number of parameters (the tied head counted once). */
size_t train_n_params(const train_model *m);
/* Optimiser steps taken so far (train_apply calls). */
uint64_t train_opt_step(const train_model *m);

/* ---- Parameters by name --------------------------------------------------------
 * In a fixed order: token_embd.weight, then per layer blk.N.attn_norm,
 * attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up,
 * ffn_down (each ".weight"), then output_norm.weight and, when untied,
 * output.weight — GGUF's llama names.  Pointers stay valid until
 * train_free; tests and tools may read and write the values. */
typedef struct {
    const char *name;
    float *data;        /* (rows, cols) row-major; norms are (1, n)       */
    float *grad;        /* same shape: the accumulated gradient           */
    uint32_t rows, cols;
    bool decay;         /* AdamW applies weight decay                     */
} train_tensor;

size_t train_tensor_count(const train_model *m);
train_tensor train_tensor_at(const train_model *m, size_t i);

/* ---- Steps ----------------------------------------------------------------------
 * tokens: (B, T+1) row-major; sequence b's inputs are tokens[b][0..T) and
 * its targets tokens[b][1..T].  mask: (B, T), non-zero where the target
 * tokens[b][t+1] counts in the loss (NULL: every position counts).  The
 * loss is the mean cross-entropy over the counted positions (0 when none
 * counts).  1 <= B <= n_batch, 1 <= T <= n_ctx, ids < vocab, else
 * TRAIN_EINVAL with a message and nothing changed. */

/* Forward and backward: *loss = the loss, and its gradient with respect
 * to every parameter is ADDED to the accumulated gradients (so several
 * calls accumulate; train_apply consumes and zeroes them). */
int train_step_grad(train_model *m, const int32_t *tokens, const uint8_t *mask, int B, int T,
                    float *loss, char *err, size_t errlen);

/* The same loss, forward only (validation); gradients untouched. */
int train_eval_loss(train_model *m, const int32_t *tokens, const uint8_t *mask, int B, int T,
                    float *loss, char *err, size_t errlen);

/* logits (T, vocab) of one sequence tokens[0..T), T <= n_ctx: what the
 * engine's fwd_eval computes for the same tokens from position 0. */
int train_logits(train_model *m, const int32_t *tokens, int T, float *logits, char *err,
                 size_t errlen);

/* ---- Optimiser ------------------------------------------------------------------- */

/* The L2 norm of all accumulated gradients (summed in double, fixed order). */
float train_grad_norm(train_model *m);

/* One AdamW step with learning rate lr: clip the gradients to the global
 * norm grad_clip, update the moments and the weights (bias-corrected,
 * decoupled decay w -= lr·wd·w on the decayed tensors), zero the
 * gradients.  Returns the gradient norm before clipping. */
float train_apply(train_model *m, float lr);

/* Zero the accumulated gradients without a step. */
void train_zero_grad(train_model *m);

/* Learning rate at step (0-based) of a run of `total` steps: linear
 * warm-up from lr_max/warmup at step 0 to lr_max at step warmup-1, then
 * cosine decay from lr_max (step warmup) towards lr_min (reached at step
 * total, held after).  warmup 0 starts the cosine at once. */
float train_lr(long step, long total, long warmup, float lr_max, float lr_min);

/* Set every tensor's matrix products to plain loops (true) or OpenBLAS
 * (false, the default): the naive reference the tests compare with. */
void train_set_naive(train_model *m, bool naive);

/* ---- Random numbers ----------------------------------------------------------------
 * xoshiro256** seeded through splitmix64: the trainer's initialisation
 * uses it, and callers use one for data order so that a checkpoint can
 * carry its state. */
typedef struct {
    uint64_t s[4];
} train_rng;

void train_rng_seed(train_rng *r, uint64_t seed);
uint64_t train_rng_next(train_rng *r);
/* Uniform in [0, 1), 53 random bits. */
double train_rng_uniform(train_rng *r);
/* Uniform in [0, n) without modulo bias (n >= 1). */
uint64_t train_rng_below(train_rng *r, uint64_t n);
/* Standard normal (Box–Muller, two draws per call). */
double train_rng_normal(train_rng *r);

/* ---- Checkpoints ---------------------------------------------------------------------
 * A checkpoint holds what resuming needs for a bit-identical run: the
 * configuration, the optimiser step, the weights and both AdamW moments,
 * plus the caller's step counter, RNG state and an opaque blob (e.g. its
 * position in the data).  Accumulated gradients are not saved: save
 * between train_apply and the next train_step_grad.
 *
 * Format (little-endian; version 1):
 *   "FDTRAIN1" | u32 version | u32 header bytes (H, from offset 0)
 *   config: u32 vocab n_embd n_layer n_head n_head_kv n_ff n_ctx
 *           f32 rope_base rms_eps | u32 tied | u32 n_batch n_threads
 *           f32 beta1 beta2 adam_eps weight_decay grad_clip
 *   u64 opt_step | u64 step | u64 rng[4] | u64 n_params | u64 user_len
 *   (H = 148 bytes so far) then f32 params[n_params] (the tensors in
 *   train_tensor_at order, end to end) | f32 m[n_params] |
 *   f32 v[n_params] | user bytes | u64 FNV-1a-64 of every byte before it
 * Written to path + ".tmp", fsync'ed, renamed over path and the directory
 * fsync'ed: a crash leaves the old checkpoint or the new one, never half.
 */
typedef struct {
    uint64_t step;     /* the caller's step counter                        */
    train_rng rng;     /* the caller's RNG                                 */
    void *user;        /* caller's bytes (save: read; load: malloc'ed)     */
    size_t user_len;
} train_ckpt;

/* st may be NULL (step 0, zero RNG, no blob). */
int train_save(const train_model *m, const train_ckpt *st, const char *path, char *err,
               size_t errlen);

/* A model as saved.  n_threads > 0 replaces the saved thread count (bit
 * identity holds only with the same count).  st->user is malloc'ed (or
 * NULL when empty); the caller frees it.  st may be NULL (the caller's
 * state is then dropped).  TRAIN_EIO, or TRAIN_EBAD naming
 * what is wrong (magic, version, config, size, checksum). */
int train_load(train_model **out, train_ckpt *st, const char *path, int n_threads, char *err,
               size_t errlen);

/* ---- Export to GGUF --------------------------------------------------------------------
 * Writes general.architecture = "llama", every llama.* hyper-parameter the
 * engine reads (context_length, embedding_length, block_count,
 * feed_forward_length, attention.head_count(_kv), rope.dimension_count,
 * rope.freq_base, attention.layer_norm_rms_epsilon, vocab_size),
 * general.file_type and quantization_version, the general.* fields of
 * `meta` that are set, then the caller's key/value pairs (the tokenizer:
 * tokenizer.ggml.model, tokens, token_type, merges, bos/eos ids, pre,
 * chat_template ...) — copied from `kvs`, then added by `add_kv` — and the
 * tensors under their llama names (output.weight only when untied).
 *
 * `type` applies to the 2-D matrices: F32, F16 or Q8_0.  A matrix whose
 * rows are not whole Q8_0 blocks (n_ff = 688 is not a multiple of 32) is
 * stored as F16 instead, as llama-quantize falls back.  Norm gains stay
 * F32.  The file is written atomically (gguf_writer_write_file). */
typedef struct {
    const char *name;          /* general.name                             */
    const char *version;       /* general.version                          */
    const char *description;   /* general.description                      */
    const char *license;       /* general.license                          */
    const char *author;        /* general.author                           */
    const char *const *datasets; /* general.datasets (n_datasets strings)  */
    size_t n_datasets;
    /* training figures, written as general.training.* when non-zero/finite */
    uint64_t train_steps;      /* general.training.steps                   */
    uint64_t train_tokens;     /* general.training.tokens                  */
    float val_loss;            /* general.training.validation_loss (if > 0) */
    /* the caller's pairs: copied first, in order ... */
    const gguf_kv *kvs;
    size_t n_kvs;
    /* ... then this callback, which may set anything on the writer;
     * non-zero aborts the export with TRAIN_EINVAL. */
    int (*add_kv)(void *ctx, gguf_writer *w);
    void *add_kv_ctx;
} train_gguf_meta;

int train_export_gguf(train_model *m, const char *path, ggml_type type, const train_gguf_meta *meta,
                      char *err, size_t errlen);

/* ---- Import from GGUF (fine-tuning) ----------------------------------------------------
 * A model whose weights are those of a llama GGUF file (any type quant.h
 * dequantizes; F32 files round-trip exactly).  The shape, rope_base,
 * rms_eps and tying come from the file; n_ctx from opts if non-zero, else
 * the file's context length; n_batch, n_threads and the optimiser from
 * opts.  Moments zero, step 0.  TRAIN_EIO when the file cannot be read,
 * TRAIN_EBAD (naming the reason) for another architecture, biases,
 * partial RoPE, a missing or misshapen tensor. */
int train_import_gguf(train_model **out, const char *path, const train_config *opts, char *err,
                      size_t errlen);

#endif
