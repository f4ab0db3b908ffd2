/*
 * mkmodel.c — write a random-weight Llama-family model of a realistic
 * shape as GGUF, quantizing on the fly (for benchmarks).
 *
 *   mkmodel --shape smollm2-135m|qwen2.5-0.5b|tinyllama-1.1b
 *           --type f16|bf16|q8_0|q4_0|q4_k_m --out FILE [--seed N] [--vocab VOCAB.gguf]
 *
 * Weights are uniform in ±1/sqrt(width), norms are 1.  Without --vocab the
 * file has no vocabulary (benchmarks feed token ids directly); with it,
 * every tokenizer.* key of VOCAB.gguf (a vocabulary-only GGUF such as
 * ../shared/ref/tokenizer/ggml-vocab-gpt-2.gguf) is copied in and the
 * embedding has one row per token of it, so `frontdesk ask`, `serve` and
 * llama.cpp load the same file.  Rows are generated and quantized while
 * the file is written, so memory stays small.
 */
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/quant.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name, *arch;
    uint32_t layers, embd, heads, kv_heads, ff, vocab;
    bool tied, qkv_bias;
    float rope_base;
} shape;

static const shape shapes[] = {
    {"smollm2-135m", "llama", 30, 576, 9, 3, 1536, 49152, true, false, 100000.0f},
    {"qwen2.5-0.5b", "qwen2", 24, 896, 14, 2, 4864, 151936, true, true, 1000000.0f},
    {"tinyllama-1.1b", "llama", 22, 2048, 32, 4, 5632, 32000, false, false, 10000.0f},
};

typedef struct {
    ggml_type type;
    uint64_t cols, rows;
    uint64_t seed;
    float scale;
    float *row; /* (cols) scratch */
} tensor_src;

/* A K-quant for rows whose length is not a multiple of its 256-block
 * takes the type llama-quantize falls back to: Q4_K -> Q5_0, Q6_K -> Q8_0
 * (so a q4_k_m file of the SmolLM2 and Qwen shapes is mostly Q5_0, as
 * theirs is). */
static ggml_type k_fallback(ggml_type ty, uint64_t cols)
{
    if (cols % 256 == 0)
        return ty;
    return ty == GGML_TYPE_Q4_K ? GGML_TYPE_Q5_0 : ty == GGML_TYPE_Q6_K ? GGML_TYPE_Q8_0 : ty;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static int fill(void *ctx, uint64_t offset, void *buf, size_t len)
{
    tensor_src *t = ctx;
    size_t row_bytes = quant_row_bytes(t->type, t->cols);
    if (offset % row_bytes || len % row_bytes)
        return 1;
    for (uint64_t r = offset / row_bytes; r < (offset + len) / row_bytes; r++) {
        uint64_t s = mix(t->seed ^ (r * 0x9e3779b97f4a7c15ull));
        for (uint64_t c = 0; c < t->cols; c++) {
            s = mix(s + c);
            t->row[c] = t->scale * (float)((double)(s >> 11) * 0x1.0p-53 * 2.0 - 1.0);
        }
        if (t->scale == 0.0f)
            for (uint64_t c = 0; c < t->cols; c++)
                t->row[c] = 1.0f;
        uint8_t *dst = (uint8_t *)buf + (r * row_bytes - offset);
        if (quant_quantize_row(t->type, t->row, dst, t->cols) != QUANT_OK)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *shape_name = NULL, *type_name = NULL, *out = NULL, *vocab_path = NULL;
    uint64_t seed = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--shape")) shape_name = argv[i + 1];
        else if (!strcmp(argv[i], "--type")) type_name = argv[i + 1];
        else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--vocab")) vocab_path = argv[i + 1];
        else { fprintf(stderr, "mkmodel: unknown option %s\n", argv[i]); return 2; }
    }
    const shape *sh = NULL;
    for (size_t i = 0; shape_name && i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(shapes[i].name, shape_name))
            sh = &shapes[i];
    if (!sh || !type_name || !out) {
        fprintf(stderr, "usage: mkmodel --shape smollm2-135m|qwen2.5-0.5b|tinyllama-1.1b "
                        "--type f16|bf16|q8_0|q4_0|q4_k_m --out FILE [--seed N] [--vocab VOCAB.gguf]\n");
        return 2;
    }
    ggml_type main_type, sensitive_type;
    if (!strcmp(type_name, "f16")) main_type = sensitive_type = GGML_TYPE_F16;
    else if (!strcmp(type_name, "bf16")) main_type = sensitive_type = GGML_TYPE_BF16;
    else if (!strcmp(type_name, "q8_0")) main_type = sensitive_type = GGML_TYPE_Q8_0;
    else if (!strcmp(type_name, "q4_0")) main_type = sensitive_type = GGML_TYPE_Q4_0;
    else if (!strcmp(type_name, "q4_k_m")) { main_type = GGML_TYPE_Q4_K; sensitive_type = GGML_TYPE_Q6_K; }
    else { fprintf(stderr, "mkmodel: unknown type %s\n", type_name); return 2; }

    gguf_writer *w = gguf_writer_new();
    const char *a = sh->arch;
    uint32_t n_vocab = sh->vocab;
    gguf_file *vocab = NULL;
    if (vocab_path) {
        char verr[512];
        if (gguf_open(&vocab, vocab_path, verr, sizeof verr) != GGUF_OK) {
            fprintf(stderr, "mkmodel: %s\n", verr);
            gguf_writer_free(w);
            return 1;
        }
        const gguf_array *toks = gguf_get_arr(vocab, "tokenizer.ggml.tokens");
        if (!toks || toks->n == 0 || toks->n > UINT32_MAX) {
            fprintf(stderr, "mkmodel: %s has no tokenizer.ggml.tokens\n", vocab_path);
            gguf_close(vocab);
            gguf_writer_free(w);
            return 1;
        }
        n_vocab = (uint32_t)toks->n;
        for (size_t i = 0; i < gguf_kv_count(vocab); i++) {
            const gguf_kv *kv = gguf_kv_at(vocab, i);
            char kname[256];
            snprintf(kname, sizeof kname, "%.*s", (int)kv->key.len, kv->key.ptr);
            if (!strncmp(kname, "tokenizer.", 10) && gguf_writer_set_value(w, kname, &kv->value) != GGUF_OK) {
                fprintf(stderr, "mkmodel: cannot copy %s: %s\n", kname, gguf_writer_error(w));
                gguf_close(vocab);
                gguf_writer_free(w);
                return 1;
            }
        }
    }
    char key[128];
#define K(suffix) (snprintf(key, sizeof key, "%s.%s", a, suffix), key)
    gguf_writer_set_str(w, "general.architecture", a);
    snprintf(key, sizeof key, "random %s %s", sh->name, type_name);
    gguf_writer_set_str(w, "general.name", key);
    gguf_writer_set_u32(w, K("block_count"), sh->layers);
    gguf_writer_set_u32(w, K("context_length"), 2048);
    gguf_writer_set_u32(w, K("embedding_length"), sh->embd);
    gguf_writer_set_u32(w, K("feed_forward_length"), sh->ff);
    gguf_writer_set_u32(w, K("attention.head_count"), sh->heads);
    gguf_writer_set_u32(w, K("attention.head_count_kv"), sh->kv_heads);
    gguf_writer_set_u32(w, K("rope.dimension_count"), sh->embd / sh->heads);
    gguf_writer_set_f32(w, K("rope.freq_base"), sh->rope_base);
    gguf_writer_set_f32(w, K("attention.layer_norm_rms_epsilon"), 1e-5f);
#undef K

    size_t n_src = 0, cap = 16 + (size_t)sh->layers * 16;
    tensor_src *src = xcalloc(cap, sizeof *src);
    uint32_t kv = sh->kv_heads * (sh->embd / sh->heads);
#define ADD(nm, ty, cols_, rows_, scale_)                                                          \
    do {                                                                                          \
        tensor_src *t = &src[n_src++];                                                            \
        *t = (tensor_src){k_fallback(ty, cols_), cols_, rows_, seed * 1000003u + n_src, scale_, NULL}; \
        t->row = xmallocarray(cols_, sizeof(float));                                              \
        uint64_t ne[2] = {cols_, rows_};                                                          \
        gguf_writer_add_tensor_fill(w, nm, t->type, rows_ > 1 ? 2 : 1, ne, fill, t);                  \
    } while (0)
    float ws = 1.0f / sqrtf((float)sh->embd);
    ADD("token_embd.weight", main_type, sh->embd, n_vocab, ws);
    ADD("output_norm.weight", GGML_TYPE_F32, sh->embd, 1, 0.0f);
    if (!sh->tied)
        ADD("output.weight", sensitive_type, sh->embd, n_vocab, ws);
    char nm[64];
    for (uint32_t l = 0; l < sh->layers; l++) {
#define N(s) (snprintf(nm, sizeof nm, "blk.%u.%s", l, s), nm)
        ADD(N("attn_norm.weight"), GGML_TYPE_F32, sh->embd, 1, 0.0f);
        ADD(N("attn_q.weight"), main_type, sh->embd, sh->embd, ws);
        ADD(N("attn_k.weight"), main_type, sh->embd, kv, ws);
        ADD(N("attn_v.weight"), sensitive_type, sh->embd, kv, ws);
        ADD(N("attn_output.weight"), main_type, sh->embd, sh->embd, ws);
        if (sh->qkv_bias) {
            ADD(N("attn_q.bias"), GGML_TYPE_F32, sh->embd, 1, ws);
            ADD(N("attn_k.bias"), GGML_TYPE_F32, kv, 1, ws);
            ADD(N("attn_v.bias"), GGML_TYPE_F32, kv, 1, ws);
        }
        ADD(N("ffn_norm.weight"), GGML_TYPE_F32, sh->embd, 1, 0.0f);
        ADD(N("ffn_gate.weight"), main_type, sh->embd, sh->ff, ws);
        ADD(N("ffn_up.weight"), main_type, sh->embd, sh->ff, ws);
        ADD(N("ffn_down.weight"), l % 2 ? main_type : sensitive_type, sh->ff, sh->embd,
            1.0f / sqrtf((float)sh->ff));
#undef N
    }
#undef ADD
    char err[512];
    int rc = gguf_writer_write_file(w, out, err, sizeof err);
    if (rc != GGUF_OK)
        fprintf(stderr, "mkmodel: %s\n", err[0] ? err : gguf_writer_error(w));
    for (size_t i = 0; i < n_src; i++)
        free(src[i].row);
    free(src);
    gguf_writer_free(w);
    gguf_close(vocab); /* after writing: the copied values point into it */
    return rc == GGUF_OK ? 0 : 1;
}
