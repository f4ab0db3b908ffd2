/*
 * bpe_vocab.c — a trained byte-level BPE vocabulary: token texts, merge
 * ranks, the trainer's own (naive, rank-by-rank) encoder, and writing the
 * tokenizer's GGUF keys.
 */
#include "train/bpe_internal.h"

#include "engine/unicode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const bpe_special_text[BPE_N_SPECIAL] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

/* The ChatML template as Hugging Face and llama.cpp spell it; the engine's
 * chat_tmpl_detect recognises it by "<|im_start|>". */
const char bpe_chatml_template[] =
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/* ---- The vocabulary -------------------------------------------------------------- */

struct bpe_vocab {
    bpe_strtab tok;      /* token bytes, entry index = id */
    int32_t (*merge)[2]; /* (n_merges) left, right */
    int32_t n_merges;
    int32_t *mslot;      /* ranks by pair, -1 = empty */
    size_t mmask;
};

void bpe_vocab_free(bpe_vocab *v)
{
    if (!v)
        return;
    bpe_strtab_free(&v->tok);
    free(v->merge);
    free(v->mslot);
    free(v);
}

int32_t bpe_vocab_size(const bpe_vocab *v) { return (int32_t)v->tok.n; }
int32_t bpe_vocab_n_merges(const bpe_vocab *v) { return v->n_merges; }

const unsigned char *bpe_vocab_bytes(const bpe_vocab *v, int32_t id, size_t *len)
{
    if (id < 0 || (size_t)id >= v->tok.n)
        return NULL;
    if (len)
        *len = v->tok.len[id];
    return bpe_strtab_str(&v->tok, id);
}

bool bpe_vocab_merge(const bpe_vocab *v, int32_t rank, int32_t *left, int32_t *right)
{
    if (rank < 0 || rank >= v->n_merges)
        return false;
    *left = v->merge[rank][0];
    *right = v->merge[rank][1];
    return true;
}

static int32_t vocab_rank(const bpe_vocab *v, int32_t a, int32_t b)
{
    for (size_t i = bpe_hash_pair(a, b) & v->mmask; v->mslot[i] >= 0; i = (i + 1) & v->mmask) {
        int32_t r = v->mslot[i];
        if (v->merge[r][0] == a && v->merge[r][1] == b)
            return r;
    }
    return -1;
}

void bpe_base_tokens(bpe_strtab *tok)
{
    for (int32_t k = 0; k < BPE_N_SPECIAL; k++)
        bpe_strtab_add(tok, bpe_special_text[k], strlen(bpe_special_text[k]));
    for (int b = 0; b < 256; b++)
        bpe_strtab_add(tok, (unsigned char[]){(unsigned char)b}, 1);
}

bpe_vocab *bpe_vocab_make(bpe_strtab *tok, int32_t (*merge)[2], int32_t n_merges)
{
    bpe_vocab *v = xcalloc(1, sizeof *v);
    v->tok = *tok;
    memset(tok, 0, sizeof *tok);
    v->merge = merge;
    v->n_merges = n_merges;
    size_t size = 16;
    while (size < 2 * (size_t)n_merges)
        size *= 2;
    v->mslot = xmallocarray(size, sizeof *v->mslot);
    memset(v->mslot, 0xff, size * sizeof *v->mslot);
    v->mmask = size - 1;
    for (int32_t r = 0; r < n_merges; r++) {
        size_t i = bpe_hash_pair(merge[r][0], merge[r][1]) & v->mmask;
        while (v->mslot[i] >= 0)
            i = (i + 1) & v->mmask;
        v->mslot[i] = r;
    }
    return v;
}

size_t bpe_encode_word_naive(const bpe_vocab *v, int32_t *s, size_t n)
{
    for (;;) {
        int32_t best = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            int32_t r = vocab_rank(v, s[i], s[i + 1]);
            if (r >= 0 && (best < 0 || r < best)) {
                best = r;
                at = i;
            }
        }
        if (best < 0)
            return n;
        s[at] = BPE_ID_FIRST_MERGE + best;
        memmove(s + at + 1, s + at + 2, (n - at - 2) * sizeof *s);
        n--;
    }
}

typedef struct {
    const bpe_vocab *v;
    int32_t **ids;
    size_t *n, *cap;
    int32_t *sym;
    size_t sym_cap;
} encode_ctx;

static void push_id(encode_ctx *e, int32_t id)
{
    bpe_reserve((void **)e->ids, e->cap, *e->n + 1, sizeof **e->ids);
    (*e->ids)[(*e->n)++] = id;
}

static void encode_word(void *ctx, const unsigned char *w, size_t len, int32_t special)
{
    encode_ctx *e = ctx;
    if (special >= 0) {
        push_id(e, special);
        return;
    }
    bpe_reserve((void **)&e->sym, &e->sym_cap, len, sizeof *e->sym);
    for (size_t i = 0; i < len; i++)
        e->sym[i] = BPE_ID_BYTE0 + w[i];
    size_t n = bpe_encode_word_naive(e->v, e->sym, len);
    for (size_t i = 0; i < n; i++)
        push_id(e, e->sym[i]);
}

int bpe_vocab_encode(const bpe_vocab *v, const char *text, size_t len, bool parse_special,
                     int32_t **ids, size_t *n, size_t *cap, char *err, size_t errlen)
{
    encode_ctx e = {v, ids, n, cap, NULL, 0};
    bpe_splitter s = {0};
    size_t n0 = *n;
    int rc = bpe_split_text(&s, text, len, parse_special, encode_word, &e, err, errlen);
    bpe_splitter_free(&s);
    free(e.sym);
    if (rc != BPE_OK)
        *n = n0;
    return rc;
}

/* ---- GGUF ---------------------------------------------------------------------------- */

/* A token's text in GPT-2's byte alphabet (specials as they are), appended. */
static void spell(const bpe_vocab *v, int32_t id, strbuf *out)
{
    size_t len = 0;
    const unsigned char *b = bpe_vocab_bytes(v, id, &len);
    if (id < BPE_N_SPECIAL) {
        sb_append(out, b, len);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char u[4];
        sb_append(out, u, util_utf8_encode(uni_byte_to_cp(b[i]), u));
    }
}

#define KEY(k) "tokenizer.ggml." k

int bpe_vocab_to_gguf(const bpe_vocab *v, gguf_writer *w, char *err, size_t errlen)
{
    const size_t n = v->tok.n, nm = (size_t)v->n_merges;
    char **tokens = xcalloc(n, sizeof *tokens);
    char **merges = xcalloc(nm ? nm : 1, sizeof *merges);
    int32_t *types = xmallocarray(n, sizeof *types);
    strbuf sb = {0};
    for (size_t id = 0; id < n; id++) {
        sb_clear(&sb);
        spell(v, (int32_t)id, &sb);
        tokens[id] = xstrndup(sb.data, sb.len);
        types[id] = id < BPE_N_SPECIAL ? 3 : 1; /* CONTROL : NORMAL */
    }
    for (size_t r = 0; r < nm; r++) {
        sb_clear(&sb);
        spell(v, v->merge[r][0], &sb);
        sb_putc(&sb, ' ');
        spell(v, v->merge[r][1], &sb);
        merges[r] = xstrndup(sb.data, sb.len);
    }
    sb_free(&sb);

    int rc = GGUF_OK;
#define SET(call)            \
    do {                     \
        if (rc == GGUF_OK)   \
            rc = (call);     \
    } while (0)
    SET(gguf_writer_set_str(w, KEY("model"), "gpt2"));
    SET(gguf_writer_set_str(w, KEY("pre"), "gpt-2"));
    SET(gguf_writer_set_arr_str(w, KEY("tokens"), (const char *const *)tokens, n));
    SET(gguf_writer_set_arr_data(w, KEY("token_type"), GGUF_TYPE_INT32, types, n));
    SET(gguf_writer_set_arr_str(w, KEY("merges"), (const char *const *)merges, nm));
    SET(gguf_writer_set_u32(w, KEY("bos_token_id"), BPE_ID_ENDOFTEXT));
    SET(gguf_writer_set_u32(w, KEY("eos_token_id"), BPE_ID_IM_END));
    SET(gguf_writer_set_u32(w, KEY("eot_token_id"), BPE_ID_IM_END));
    SET(gguf_writer_set_u32(w, KEY("padding_token_id"), BPE_ID_ENDOFTEXT));
    SET(gguf_writer_set_bool(w, KEY("add_bos_token"), false));
    SET(gguf_writer_set_bool(w, KEY("add_eos_token"), false));
    SET(gguf_writer_set_str(w, "tokenizer.chat_template", bpe_chatml_template));
#undef SET
    for (size_t i = 0; i < n; i++)
        free(tokens[i]);
    for (size_t i = 0; i < nm; i++)
        free(merges[i]);
    free(tokens);
    free(merges);
    free(types);
    if (rc != GGUF_OK) {
        util_errf(err, errlen, "writing the tokenizer keys: %s", gguf_writer_error(w));
        return BPE_EGGUF;
    }
    return BPE_OK;
}

int bpe_copy_tokenizer_kv(const gguf_file *src, gguf_writer *w, char *err, size_t errlen)
{
    int copied = 0;
    for (size_t i = 0; i < gguf_kv_count(src); i++) {
        const gguf_kv *kv = gguf_kv_at(src, i);
        if (kv->key.len < 10 || memcmp(kv->key.ptr, "tokenizer.", 10) != 0)
            continue;
        char *key = xstrndup(kv->key.ptr, kv->key.len);
        int rc = gguf_writer_set_value(w, key, &kv->value);
        if (rc != GGUF_OK) {
            util_errf(err, errlen, "copying %s: %s", key, gguf_writer_error(w));
            free(key);
            return BPE_EGGUF;
        }
        free(key);
        copied++;
    }
    return copied;
}
