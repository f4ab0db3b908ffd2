/*
 * model.h — a Llama-family model: hyper-parameters and weights by name.
 *
 * model_hparams_read() interprets a GGUF file's `{arch}.*` metadata without
 * looking at tensors, so it also describes vocabulary-only files.
 * model_load() (the engine issue) additionally binds every weight tensor,
 * checking its shape and type; weights stay in their stored type inside
 * the GGUF mapping.
 */
#ifndef FRONTDESK_MODEL_H
#define FRONTDESK_MODEL_H

#include "engine/gguf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char arch[32];          /* general.architecture, e.g. "llama", "qwen2"   */
    uint32_t n_layer;       /* {arch}.block_count                            */
    uint32_t n_embd;        /* {arch}.embedding_length                       */
    uint32_t n_ff;          /* {arch}.feed_forward_length                    */
    uint32_t n_head;        /* {arch}.attention.head_count                   */
    uint32_t n_head_kv;     /* {arch}.attention.head_count_kv (= n_head)     */
    uint32_t n_ctx_train;   /* {arch}.context_length                         */
    uint32_t n_rot;         /* {arch}.rope.dimension_count (= head dim)      */
    float rope_freq_base;   /* {arch}.rope.freq_base (10000)                 */
    float rms_eps;          /* {arch}.attention.layer_norm_rms_epsilon       */
    uint64_t n_params;      /* elements of every tensor in the file          */
    bool has_tensors;
} model_hparams;

/* Fill *hp from the metadata (missing numbers are 0, except the defaults
 * noted above).  Returns 0, or -1 with a message when the architecture
 * key is missing or malformed. */
int model_hparams_read(const gguf_file *f, model_hparams *hp, char *err, size_t errlen);

/* The tensor types present, as "Q4_K:72 Q6_K:13 F32:29" ordered by count
 * (descending), written into buf. */
void model_tensor_types(const gguf_file *f, char *buf, size_t cap);


/* ---- Loaded models (the engine) ------------------------------------------ */

/* A weight matrix as stored: y (rows) = W (rows × cols) · x (cols).  In
 * GGUF terms cols = ne[0] (contiguous), rows = ne[1]. */
typedef struct {
    ggml_type type;
    const void *data;   /* inside the mapping */
    const void *packed; /* the same rows repacked for the kernels (kern_pack), or NULL */
    uint32_t rows, cols;
    size_t row_bytes;
} model_weight;

typedef struct {
    const float *attn_norm, *ffn_norm; /* (n_embd)                        */
    const float *bq, *bk, *bv;         /* (rows of wq/wk/wv) or NULL      */
    model_weight wq, wk, wv, wo;       /* wq: (n_head·hd, n_embd) ...     */
    model_weight gate, up, down;       /* gate/up: (n_ff, n_embd)         */
} model_layer;

typedef struct model {
    gguf_file *file;
    model_hparams hp;
    uint32_t head_dim;   /* n_embd / n_head                                 */
    uint32_t n_vocab;    /* rows of token_embd                              */
    bool rope_neox;      /* NeoX (half-split) rotary layout: qwen2          */
    bool tied_output;    /* no output.weight: token_embd is reused          */
    model_weight tok_embd, output;
    const float *output_norm;
    model_layer *layers; /* (n_layer) */
    char name[128];      /* general.name, else the file name                */
    char quant[32];      /* the dominant weight type, e.g. "Q4_K"           */
    float *owned;        /* vectors converted to F32 at load                */
    struct model_pack *packs; /* (n_packs) the packed weights' memory, owned    */
    size_t n_packs;
    double pack_seconds; /* what packing took at load                       */
} model;

/* Map `path` and bind every weight, checking shapes and types.  Refuses,
 * with a message naming it, an unsupported architecture or weight type.
 * Returns 0 or -1. */
int model_load(model **out, const char *path, char *err, size_t errlen);
void model_free(model *m); /* accepts NULL */

/* Whether the engine computes with weights of this type. */
bool model_weight_type_supported(ggml_type t);

#endif
