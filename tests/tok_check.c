/* tok_check.c — see tok_check.h. */
#include "tests/tok_check.h"

#include "engine/unicode.h"
#include "tests/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

vocab_file tc_open_vocab(const char *path)
{
    vocab_file vf = {0};
    char err[512];
    if (gguf_open(&vf.f, path, err, sizeof err) != GGUF_OK)
        fail_msg("%s: %s", path, err);
    if (tok_load(&vf.v, vf.f, err, sizeof err) != TOK_OK)
        fail_msg("%s: %s", path, err);
    return vf;
}

void tc_close_vocab(vocab_file *vf)
{
    tok_free(vf->v);
    gguf_close(vf->f);
    free(vf->image);
    memset(vf, 0, sizeof *vf);
}

idvec tc_encode(const tok_vocab *v, const char *text, size_t len, bool add, bool parse)
{
    idvec r = {0};
    char err[256];
    int rc = tok_encode(v, text, len, add, parse, &r.ids, &r.n, &r.cap, err, sizeof err);
    if (rc != TOK_OK)
        fail_msg("tok_encode: %s", err);
    return r;
}

bool tc_same_ids(const idvec *a, const int32_t *b, size_t n)
{
    return a->n == n && (n == 0 || memcmp(a->ids, b, n * sizeof *b) == 0);
}

void tc_print_ids(const char *label, const int32_t *ids, size_t n)
{
    fprintf(stderr, "  %s:", label);
    for (size_t i = 0; i < n && i < 40; i++)
        fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

/* Whether p[0..n) is well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF). */
bool tc_utf8_valid(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t adv;
        uint32_t cp = uni_decode(p + i, n - i, &adv);
        unsigned char u[4];
        if ((cp == 0xFFFD && (adv != 3 || memcmp(p + i, "\xEF\xBF\xBD", 3) != 0)) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || util_utf8_encode(cp, u) != adv)
            return false;
        i += adv;
    }
    return true;
}

/* ---- In-memory GGUF vocabularies ----------------------------------------- */

static void put_le(strbuf *b, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        sb_putc(b, (char)(uint8_t)(v >> (8 * i)));
}

static void put_str(strbuf *b, const char *s, size_t n)
{
    put_le(b, n, 8);
    sb_append(b, s, n);
}

static void kv_head(gguf_builder *g, const char *key, uint32_t type)
{
    put_str(&g->kv, key, strlen(key));
    put_le(&g->kv, type, 4);
    g->n_kv++;
}

void tc_kv_str(gguf_builder *g, const char *key, const char *val)
{
    kv_head(g, key, GGUF_TYPE_STRING);
    put_str(&g->kv, val, strlen(val));
}

void tc_kv_u32(gguf_builder *g, const char *key, uint32_t val)
{
    kv_head(g, key, GGUF_TYPE_UINT32);
    put_le(&g->kv, val, 4);
}

void tc_kv_bool(gguf_builder *g, const char *key, bool val)
{
    kv_head(g, key, GGUF_TYPE_BOOL);
    put_le(&g->kv, val, 1);
}

void tc_kv_strs(gguf_builder *g, const char *key, const char *const *items, size_t n)
{
    kv_head(g, key, GGUF_TYPE_ARRAY);
    put_le(&g->kv, GGUF_TYPE_STRING, 4);
    put_le(&g->kv, n, 8);
    for (size_t i = 0; i < n; i++)
        put_str(&g->kv, items[i], strlen(items[i]));
}

void tc_kv_nums(gguf_builder *g, const char *key, uint32_t type, const void *items, size_t n)
{
    kv_head(g, key, GGUF_TYPE_ARRAY);
    put_le(&g->kv, type, 4);
    put_le(&g->kv, n, 8);
    sb_append(&g->kv, items, 4 * n); /* i32/f32, little-endian host */
}

/* Finish the image and load it; returns the tok_load status (vf->v set on
 * success, err filled otherwise). */
int tc_load_built(gguf_builder *g, vocab_file *vf, char *err, size_t errlen)
{
    strbuf img = {0};
    sb_append(&img, "GGUF", 4);
    put_le(&img, 3, 4);
    put_le(&img, 0, 8);
    put_le(&img, g->n_kv, 8);
    sb_append(&img, g->kv.data, g->kv.len);
    sb_free(&g->kv);
    g->n_kv = 0;
    memset(vf, 0, sizeof *vf);
    vf->image = img.data;
    if (gguf_open_memory(&vf->f, img.data, img.len, err, errlen) != GGUF_OK)
        fail_msg("gguf_open_memory: %s", err);
    return tok_load(&vf->v, vf->f, err, errlen);
}

/* The GGUF text of byte b in GPT-2's alphabet (static storage per byte). */
const char *tc_byte_text(unsigned b)
{
    static char texts[256][4];
    unsigned char u[4];
    size_t n = util_utf8_encode(uni_byte_to_cp((unsigned char)b), u);
    memcpy(texts[b], u, n);
    texts[b][n] = '\0';
    return texts[b];
}

/* A byte-level BPE vocabulary: the 256 byte tokens (id = byte), then one
 * token per merge result; `pre` NULL leaves tokenizer.ggml.pre out. */
int tc_build_bpe(vocab_file *vf, const char *pre, const char *const *merges, size_t n_merges,
                     char *err, size_t errlen)
{
    const char *toks[256 + 64];
    char merged[64][32];
    size_t n = 0;
    for (unsigned b = 0; b < 256; b++)
        toks[n++] = tc_byte_text(b);
    for (size_t i = 0; i < n_merges; i++) {
        const char *sp = strchr(merges[i], ' ');
        snprintf(merged[i], sizeof merged[i], "%.*s%s", (int)(sp - merges[i]), merges[i], sp + 1);
        toks[n++] = merged[i];
    }
    gguf_builder g = {0};
    tc_kv_str(&g, "tokenizer.ggml.model", "gpt2");
    if (pre)
        tc_kv_str(&g, "tokenizer.ggml.pre", pre);
    tc_kv_strs(&g, "tokenizer.ggml.tokens", toks, n);
    tc_kv_strs(&g, "tokenizer.ggml.merges", merges, n_merges);
    return tc_load_built(&g, vf, err, errlen);
}

/* A SentencePiece vocabulary with byte tokens: <unk> <s> </s>, <0x00>..<0xFF>
 * (ids 3..258), then "▁" (259) and "▁a" (260). */
int tc_build_spm(vocab_file *vf, char *err, size_t errlen)
{
    static char hex[256][8];
    const char *toks[261];
    int32_t types[261];
    float scores[261] = {0};
    toks[0] = "<unk>", toks[1] = "<s>", toks[2] = "</s>";
    types[0] = 2, types[1] = 3, types[2] = 3; /* UNKNOWN, CONTROL */
    for (int b = 0; b < 256; b++) {
        snprintf(hex[b], sizeof hex[b], "<0x%02X>", b);
        toks[SPM_BYTE0 + b] = hex[b];
        types[SPM_BYTE0 + b] = 6; /* BYTE */
    }
    toks[SPM_SPACE] = "\xE2\x96\x81", types[SPM_SPACE] = 1;
    toks[SPM_SPACE_A] = "\xE2\x96\x81" "a", types[SPM_SPACE_A] = 1;
    gguf_builder g = {0};
    tc_kv_str(&g, "tokenizer.ggml.model", "llama");
    tc_kv_strs(&g, "tokenizer.ggml.tokens", toks, 261);
    tc_kv_nums(&g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, 261);
    tc_kv_nums(&g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 261);
    return tc_load_built(&g, vf, err, errlen);
}
