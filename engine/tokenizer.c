/*
 * tokenizer.c — the vocabulary, special tokens, SentencePiece and BPE merge
 * loops, pieces and the streaming decoder (tokenizer.h).  Pre-tokenizers
 * live in pretok.c, code-point classes in unicode.c.
 *
 * Every rule here reproduces llama.cpp's src/llama-vocab.cpp (how the
 * metadata is read, which defaults apply, which tokens are special, how the
 * merge queues order ties).  Where llama.cpp's result depends on hash-map
 * iteration order (several tokens that could be the EOT token), we take the
 * lowest id; where it would throw (an SPM byte with no byte token) we fall
 * back to the unknown token or report an error.
 *
 * Not supported: the WPM, UGM, RWKV and PLaMo-2 vocabulary types, SEP/CLS
 * handling for encoder models, and the whole-sequence detokenizer's
 * clean-up of spaces.
 */
#include "engine/tokenizer.h"

#include "engine/pretok.h"
#include "engine/unicode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Vocabulary ---------------------------------------------------------- */

/* Token attributes: llama.cpp's llama_token_attr bits. */
enum {
    ATTR_UNKNOWN = 1 << 0,
    ATTR_UNUSED = 1 << 1,
    ATTR_NORMAL = 1 << 2,
    ATTR_CONTROL = 1 << 3,
    ATTR_USER_DEFINED = 1 << 4,
    ATTR_BYTE = 1 << 5,
    ATTR_LSTRIP = 1 << 7,
    ATTR_RSTRIP = 1 << 8,
};
#define ATTR_SPECIAL (ATTR_CONTROL | ATTR_UNKNOWN) /* hidden unless asked for */

typedef enum { VOCAB_SPM, VOCAB_BPE } vocab_type;

typedef struct {
    size_t off;   /* text at arena + off */
    uint32_t len;
    uint16_t attr;
    float score;
} tok_entry;

/* A merge rule "left right": left at arena + off, right after one space. */
typedef struct {
    size_t off;
    uint32_t llen, rlen;
} merge_entry;

struct tok_vocab {
    vocab_type type;
    pretok_kind pre;
    char pre_name[64];
    int32_t n;
    tok_entry *tok;                 /* (n) */
    char *arena;                    /* token texts, then merge texts */
    size_t arena_len;
    int32_t *tok_hash;              /* open addressing over ids, -1 = empty */
    size_t tok_mask;
    merge_entry *merge;             /* (n_merges), index = rank */
    int32_t n_merges;
    int32_t *merge_hash;            /* ranks, -1 = empty */
    size_t merge_mask;
    int32_t bos, eos, eot, eom, unk, pad, fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    uint8_t *eog;                   /* (n) end-of-generation flags */
    int32_t *special;               /* CONTROL/USER_DEFINED/UNKNOWN ids, longest first */
    size_t n_special;
    int32_t byte_token[256];        /* SPM byte fallback, -1 = none */
    unsigned char byte_utf8[256][2]; /* BPE: each byte in GPT-2's alphabet */
    unsigned char byte_utf8_len[256];
    size_t max_piece;
};

static const char *text_of(const tok_vocab *v, int32_t id) { return v->arena + v->tok[id].off; }

/* FNV-1a, continued from h. */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}
#define HASH_SEED 0xcbf29ce484222325ULL

static size_t table_size(size_t n)
{
    size_t size = 16;
    while (size < 2 * n)
        size *= 2;
    return size;
}

int32_t tok_find(const tok_vocab *v, const char *text, size_t len)
{
    size_t i = hash_bytes(HASH_SEED, text, len) & v->tok_mask;
    for (int32_t id; (id = v->tok_hash[i]) >= 0; i = (i + 1) & v->tok_mask)
        if (v->tok[id].len == len && memcmp(text_of(v, id), text, len) == 0)
            return id;
    return -1;
}

/* The rank of merging `left` with `right`, or -1. */
static int32_t merge_rank(const tok_vocab *v, const char *l, size_t llen, const char *r, size_t rlen)
{
    if (!v->merge_hash)
        return -1;
    uint64_t h = hash_bytes(hash_bytes(hash_bytes(HASH_SEED, l, llen), " ", 1), r, rlen);
    for (size_t i = h & v->merge_mask; v->merge_hash[i] >= 0; i = (i + 1) & v->merge_mask) {
        const merge_entry *m = &v->merge[v->merge_hash[i]];
        const char *t = v->arena + m->off;
        if (m->llen == llen && m->rlen == rlen && memcmp(t, l, llen) == 0 &&
            memcmp(t + llen + 1, r, rlen) == 0)
            return v->merge_hash[i];
    }
    return -1;
}

/* ---- Loading: token list -------------------------------------------------- */

#define KEY(k) "tokenizer.ggml." k

static int fail(char *err, size_t errlen, int rc, const char *fmt, const char *a, const char *b)
{
    util_errf(err, errlen, fmt, a, b);
    return rc;
}

static int load_tokens(tok_vocab *v, const gguf_file *f, char *err, size_t errlen)
{
    const gguf_array *toks = gguf_get_arr(f, KEY("tokens"));
    if (!toks || toks->type != GGUF_TYPE_STRING || toks->n == 0 || toks->n > INT32_MAX)
        return fail(err, errlen, TOK_EBAD, "%s: missing, empty or not an array of strings%s",
                    KEY("tokens"), "");
    v->n = (int32_t)toks->n;

    const gguf_array *scores = gguf_get_arr(f, KEY("scores"));
    if (scores && ((scores->type != GGUF_TYPE_FLOAT32 && scores->type != GGUF_TYPE_INT32) ||
                   scores->n < toks->n))
        return fail(err, errlen, TOK_EBAD, "%s: not an f32/i32 array with one entry per token%s",
                    KEY("scores"), "");
    const gguf_array *types = gguf_get_arr(f, KEY("token_type"));
    if (types && (types->type != GGUF_TYPE_INT32 || types->n < toks->n))
        return fail(err, errlen, TOK_EBAD, "%s: not an i32 array with one entry per token%s",
                    KEY("token_type"), "");

    /* One arena for all texts; an empty token is named "[EMPTY_<id>]". */
    size_t total = 0;
    for (int32_t i = 0; i < v->n; i++) {
        gguf_str s = gguf_arr_str(toks, (uint64_t)i);
        total += s.len ? s.len + 1 : 32;
    }
    const gguf_array *merges = v->type == VOCAB_BPE ? gguf_get_arr(f, KEY("merges")) : NULL;
    if (merges && merges->type == GGUF_TYPE_STRING)
        for (uint64_t i = 0; i < merges->n; i++)
            total += gguf_arr_str(merges, i).len + 1;
    v->arena = xmalloc(total ? total : 1);
    v->tok = xcalloc((size_t)v->n, sizeof *v->tok);
    v->tok_mask = table_size((size_t)v->n) - 1;
    v->tok_hash = xmallocarray(v->tok_mask + 1, sizeof *v->tok_hash);
    memset(v->tok_hash, 0xff, (v->tok_mask + 1) * sizeof *v->tok_hash);

    for (int32_t id = 0; id < v->n; id++) {
        gguf_str s = gguf_arr_str(toks, (uint64_t)id);
        tok_entry *t = &v->tok[id];
        t->off = v->arena_len;
        if (s.len) {
            memcpy(v->arena + v->arena_len, s.ptr, s.len);
            t->len = (uint32_t)s.len;
        } else {
            t->len = (uint32_t)snprintf(v->arena + v->arena_len, 32, "[EMPTY_%d]", (int)id);
        }
        v->arena[t->off + t->len] = '\0';
        v->arena_len += t->len + 1;

        if (scores)
            t->score = scores->type == GGUF_TYPE_FLOAT32 ? gguf_arr_f32(scores, (uint64_t)id)
                                                         : (float)gguf_arr_i64(scores, (uint64_t)id);
        t->attr = ATTR_NORMAL;
        if (types) {
            static const uint16_t by_type[] = {0, ATTR_NORMAL, ATTR_UNKNOWN, ATTR_CONTROL,
                                               ATTR_USER_DEFINED, ATTR_UNUSED, ATTR_BYTE};
            int64_t ty = gguf_arr_i64(types, (uint64_t)id);
            t->attr = ty >= 0 && ty < 7 ? by_type[ty] : 0;
        }

        const char *text = text_of(v, id);
        if (tok_find(v, text, t->len) >= 0) {
            util_errf(err, errlen, "%s: duplicate token '%s' (ids %d and %d)", KEY("tokens"), text,
                      (int)tok_find(v, text, t->len), (int)id);
            return TOK_EBAD;
        }
        size_t i = hash_bytes(HASH_SEED, text, t->len) & v->tok_mask;
        while (v->tok_hash[i] >= 0)
            i = (i + 1) & v->tok_mask;
        v->tok_hash[i] = id;
    }
    return TOK_OK;
}

/* ---- Loading: merges -------------------------------------------------------- */

static int load_merges(tok_vocab *v, const gguf_file *f, char *err, size_t errlen)
{
    const gguf_array *m = gguf_get_arr(f, KEY("merges"));
    if (!m || m->type != GGUF_TYPE_STRING || m->n > INT32_MAX)
        return fail(err, errlen, TOK_EBAD, "%s: missing or not an array of strings (gpt2 "
                    "vocabularies need it)%s", KEY("merges"), "");
    v->n_merges = (int32_t)m->n;
    v->merge = xcalloc(m->n ? m->n : 1, sizeof *v->merge);
    v->merge_mask = table_size(m->n) - 1;
    v->merge_hash = xmallocarray(v->merge_mask + 1, sizeof *v->merge_hash);
    memset(v->merge_hash, 0xff, (v->merge_mask + 1) * sizeof *v->merge_hash);

    for (int32_t rank = 0; rank < v->n_merges; rank++) {
        gguf_str s = gguf_arr_str(m, (uint64_t)rank);
        /* split at the first space after the first byte; a rule without one
         * could never match (llama.cpp files it under an empty pair) */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        if (!sp)
            continue;
        size_t llen = (size_t)(sp - s.ptr), rlen = s.len - llen - 1;
        if (merge_rank(v, s.ptr, llen, sp + 1, rlen) >= 0)
            continue; /* the first rank of a repeated rule wins */
        merge_entry *e = &v->merge[rank];
        e->off = v->arena_len;
        e->llen = (uint32_t)llen;
        e->rlen = (uint32_t)rlen;
        memcpy(v->arena + v->arena_len, s.ptr, s.len);
        v->arena[v->arena_len + s.len] = '\0';
        v->arena_len += s.len + 1;
        uint64_t h = hash_bytes(hash_bytes(hash_bytes(HASH_SEED, s.ptr, llen), " ", 1), sp + 1, rlen);
        size_t i = h & v->merge_mask;
        while (v->merge_hash[i] >= 0)
            i = (i + 1) & v->merge_mask;
        v->merge_hash[i] = rank;
    }
    return TOK_OK;
}

/* ---- Loading: model type, pre-tokenizer, flags ------------------------------ */

enum { PRE_IGNORE_MERGES = 1, PRE_ADD_BOS = 2, PRE_NO_BOS = 4 };

/* llama-vocab.cpp's tokenizer_pre names, for the regex sets pretok.c has. */
static const struct {
    const char *name;
    pretok_kind kind;
    int flags;
} pre_names[] = {
    {"default", PRETOK_DEFAULT, 0},
    {"llama3", PRETOK_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"llama-v3", PRETOK_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"llama-bpe", PRETOK_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"falcon3", PRETOK_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"falcon-h1", PRETOK_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"pixtral", PRETOK_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"midm-2.0", PRETOK_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"lfm2", PRETOK_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"jina-v5-nano", PRETOK_LLAMA3, PRE_IGNORE_MERGES | PRE_ADD_BOS},
    {"dbrx", PRETOK_LLAMA3, 0},
    {"smaug-bpe", PRETOK_LLAMA3, 0},
    {"glm4", PRETOK_LLAMA3, PRE_NO_BOS},
    {"chatglm-bpe", PRETOK_LLAMA3, PRE_NO_BOS},
    {"deepseek-llm", PRETOK_DEEPSEEK_LLM, 0},
    {"deepseek-coder", PRETOK_DEEPSEEK_CODER, 0},
    {"falcon", PRETOK_FALCON, 0},
    {"gpt-2", PRETOK_GPT2, 0},     {"phi-2", PRETOK_GPT2, 0},       {"jina-es", PRETOK_GPT2, 0},
    {"jina-de", PRETOK_GPT2, 0},   {"gigachat", PRETOK_GPT2, 0},    {"jina-v2-es", PRETOK_GPT2, 0},
    {"jina-v2-de", PRETOK_GPT2, 0}, {"a.x-4.0", PRETOK_GPT2, 0},    {"mellum", PRETOK_GPT2, 0},
    {"modern-bert", PRETOK_GPT2, 0}, {"exaone4", PRETOK_GPT2, 0},   {"mpt", PRETOK_GPT2, 0},
    {"olmo", PRETOK_GPT2, 0},      {"jais", PRETOK_GPT2, 0},        {"trillion", PRETOK_GPT2, 0},
    {"granite-docling", PRETOK_GPT2, 0},
    {"qwen2", PRETOK_QWEN2, 0},    {"deepseek-r1-qwen", PRETOK_QWEN2, 0},
    {"kormo", PRETOK_QWEN2, 0},    {"f2llmv2", PRETOK_QWEN2, 0},    {"megrez", PRETOK_QWEN2, 0},
    {"stablelm2", PRETOK_QWEN2, 0}, {"hunyuan", PRETOK_QWEN2, 0},   {"solar-open", PRETOK_QWEN2, 0},
    {"starcoder", PRETOK_STARCODER, 0}, {"refact", PRETOK_STARCODER, 0},
    {"command-r", PRETOK_STARCODER, 0}, {"smollm", PRETOK_STARCODER, 0},
    {"codeshell", PRETOK_STARCODER, 0}, {"exaone", PRETOK_STARCODER, 0},
    {"minerva-7b", PRETOK_STARCODER, 0}, {"mellum2", PRETOK_STARCODER, 0},
};

static int load_type(tok_vocab *v, const gguf_file *f, int *pre_flags, char *err, size_t errlen)
{
    gguf_str model;
    if (!gguf_get_str(f, KEY("model"), &model))
        return fail(err, errlen, TOK_EBAD, "%s: missing or not a string%s", KEY("model"), "");
    gguf_str pre = {"", 0};
    bool has_pre = gguf_get_str(f, KEY("pre"), &pre) && pre.len > 0;
    if (has_pre)
        snprintf(v->pre_name, sizeof v->pre_name, "%.*s", (int)(pre.len > 63 ? 63 : pre.len), pre.ptr);
    else
        strcpy(v->pre_name, "default");

    if (gguf_str_eq(model, "llama")) {
        v->type = VOCAB_SPM;
        v->add_space_prefix = true;
        v->add_bos = true;
        return TOK_OK;
    }
    if (!gguf_str_eq(model, "gpt2")) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(model.len > 63 ? 63 : model.len), model.ptr);
        return fail(err, errlen, TOK_EUNSUP, "%s: unsupported tokenizer model '%s'", KEY("model"), name);
    }
    v->type = VOCAB_BPE;
    if (!has_pre) { /* llama.cpp warns and uses "default" */
        v->pre = PRETOK_DEFAULT;
        return TOK_OK;
    }
    for (size_t i = 0; i < sizeof pre_names / sizeof pre_names[0]; i++) {
        if (gguf_str_eq(pre, pre_names[i].name)) {
            v->pre = pre_names[i].kind;
            *pre_flags = pre_names[i].flags;
            v->ignore_merges = pre_names[i].flags & PRE_IGNORE_MERGES;
            v->add_bos = pre_names[i].flags & PRE_ADD_BOS;
            return TOK_OK;
        }
    }
    return fail(err, errlen, TOK_EUNSUP, "%s: unknown or unsupported pre-tokenizer '%s'", KEY("pre"),
                v->pre_name);
}

/* ---- Loading: special tokens -------------------------------------------------- */

/* The lowest id among tokens with one of these texts, or -1. */
static int32_t find_any(const tok_vocab *v, const char *const *texts)
{
    int32_t best = -1;
    for (; *texts; texts++) {
        int32_t id = tok_find(v, *texts, strlen(*texts));
        if (id >= 0 && (best < 0 || id < best))
            best = id;
    }
    return best;
}

/* If *id is unset, find it by text and make it a control token. */
static void detect(tok_vocab *v, int32_t *id, const char *const *texts)
{
    if (*id >= 0)
        return;
    *id = find_any(v, texts);
    if (*id >= 0)
        v->tok[*id].attr |= ATTR_CONTROL;
}

static void set_attr(tok_vocab *v, const char *text, uint16_t bit, bool on)
{
    int32_t id = tok_find(v, text, strlen(text));
    if (id >= 0)
        v->tok[id].attr = on ? (v->tok[id].attr | bit) : (v->tok[id].attr & ~bit);
}

static bool str_contains(gguf_str s, const char *needle)
{
    return memmem(s.ptr, s.len, needle, strlen(needle)) != NULL;
}

static int by_length_then_id(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b; /* (~len << 32 | id): longest first */
    return *x < *y ? -1 : *x > *y;
}

/* Special ids from the metadata, over llama.cpp's defaults per model type,
 * and whether BOS/EOS are added. */
static int load_special_ids(tok_vocab *v, const gguf_file *f, int pre_flags, char *err, size_t errlen)
{
    const int32_t n = v->n;
    bool spm = v->type == VOCAB_SPM;
    v->bos = spm ? 1 : (pre_flags & PRE_NO_BOS) ? -1 : 11; /* llama.cpp's defaults */
    v->eos = spm ? 2 : 11;
    v->unk = spm ? 0 : -1;
    v->eot = v->eom = v->pad = -1;
    v->fim_pre = v->fim_suf = v->fim_mid = v->fim_pad = v->fim_rep = v->fim_sep = -1;

    static const char *const keys[] = {
        KEY("bos_token_id"), KEY("eos_token_id"), KEY("eot_token_id"), KEY("eom_token_id"),
        KEY("unknown_token_id"), KEY("padding_token_id"), KEY("fim_pre_token_id"),
        KEY("fim_suf_token_id"), KEY("fim_mid_token_id"), KEY("fim_pad_token_id"),
        KEY("fim_rep_token_id"), KEY("fim_sep_token_id"), KEY("prefix_token_id"),
        KEY("suffix_token_id"), KEY("middle_token_id")};
    int32_t *ids[] = {&v->bos, &v->eos, &v->eot, &v->eom, &v->unk, &v->pad, &v->fim_pre,
                      &v->fim_suf, &v->fim_mid, &v->fim_pad, &v->fim_rep, &v->fim_sep,
                      &v->fim_pre, &v->fim_suf, &v->fim_mid};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (*ids[i] >= n) /* a default beyond the vocabulary is no token */
            *ids[i] = -1;
        uint32_t id;
        /* an id beyond the vocabulary (4294967295 = "none") keeps the default */
        if (gguf_get_u32(f, keys[i], &id) && id < (uint32_t)n)
            *ids[i] = (int32_t)id;
    }

    bool b;
    if (gguf_get_bool(f, KEY("add_bos_token"), &b))
        v->add_bos = b;
    if (gguf_get_bool(f, KEY("add_eos_token"), &b))
        v->add_eos = b;
    if (gguf_get_bool(f, KEY("add_space_prefix"), &b))
        v->add_space_prefix = b;
    if (v->add_bos && v->bos < 0)
        return fail(err, errlen, TOK_EBAD, "%s is true, but %s is not set", KEY("add_bos_token"),
                    KEY("bos_token_id"));
    if (v->add_eos && v->eos < 0)
        return fail(err, errlen, TOK_EBAD, "%s is true, but %s is not set", KEY("add_eos_token"),
                    KEY("eos_token_id"));
    return TOK_OK;
}

/* Special tokens found by their text (llama.cpp's workaround for converters
 * that do not record them), and the end-of-generation set. */
static void load_special_texts(tok_vocab *v)
{
    const int32_t n = v->n;
    static const char *const eot_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
        "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
        "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>",
        "<end_of_utterance>", NULL};
    static const char *const eom_texts[] = {"<|eom_id|>", NULL};
    static const char *const pre_texts[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
        "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>", "\xE2\x96\x81<PRE>",
        "<|code_prefix|>", "<|prefix|>", NULL};
    static const char *const suf_texts[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
        "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "hole\xEF\xBD\x9C>", "<SUF>", "\xE2\x96\x81<SUF>",
        "<|code_suffix|>", "<|suffix|>", NULL};
    static const char *const mid_texts[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
        "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>", "\xE2\x96\x81<MID>",
        "<|code_middle|>", "<|middle|>", NULL};
    static const char *const pad_texts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL};
    static const char *const rep_texts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
        "<reponame>", NULL};
    static const char *const sep_texts[] = {"<|file_sep|>", NULL};
    detect(v, &v->eot, eot_texts);
    detect(v, &v->eom, eom_texts);
    detect(v, &v->fim_pre, pre_texts);
    detect(v, &v->fim_suf, suf_texts);
    detect(v, &v->fim_mid, mid_texts);
    detect(v, &v->fim_pad, pad_texts);
    detect(v, &v->fim_rep, rep_texts);
    detect(v, &v->fim_sep, sep_texts);

    /* End of generation. */
    static const char *const eog_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>",
        "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>",
        "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>",
        "<eos>", "<turn|>", "<|tool_response>",
        "<\xEF\xBD\x9C" "end\xE2\x96\x81" "of\xE2\x96\x81" "sentence\xEF\xBD\x9C>", "[e~[", NULL};
    v->eog = xcalloc((size_t)n, 1);
    for (const char *const *t = eog_texts; *t; t++) {
        int32_t id = tok_find(v, *t, strlen(*t));
        if (id >= 0) {
            v->eog[id] = 1;
            v->tok[id].attr |= ATTR_CONTROL;
        }
    }
    const int32_t always[] = {v->fim_pad, v->fim_rep, v->fim_sep, v->eos, v->eot, v->eom};
    for (size_t k = 0; k < sizeof always / sizeof always[0]; k++)
        if (always[k] >= 0)
            v->eog[always[k]] = 1;
    /* gpt-oss renders these even when special tokens are hidden */
    static const char *const shown[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL};
    for (const char *const *t = shown; *t; t++) {
        int32_t id = tok_find(v, *t, strlen(*t));
        if (id >= 0)
            v->tok[id].attr = ATTR_USER_DEFINED;
    }
    /* o200k_harmony / solar-open: <|end|> is not the end when <|return|> and
     * <|call|> (or <|calls|> and <|flush|>) exist; gemma4: </s> is not
     * either when <|tool_response> exists */
#define EOG_ID(text) find_any(v, (const char *const[]){text, NULL})
#define IS_EOG(id) ((id) >= 0 && v->eog[id])
    int32_t end = EOG_ID("<|end|>"), call = EOG_ID("<|call|>"), calls = EOG_ID("<|calls|>");
    if (IS_EOG(end) && ((IS_EOG(EOG_ID("<|return|>")) && IS_EOG(call)) ||
                        ((IS_EOG(call) || IS_EOG(calls)) && IS_EOG(EOG_ID("<|flush|>"))))) {
        v->eog[end] = 0;
        v->tok[end].attr = ATTR_USER_DEFINED;
    }
    int32_t s_end = EOG_ID("</s>");
    if (IS_EOG(s_end) && IS_EOG(EOG_ID("<|tool_response>"))) {
        v->eog[s_end] = 0;
        v->tok[s_end].attr = ATTR_NORMAL;
    }
}

/* The tokens cut out of the text before tokenizing, longest first, and the
 * strip attributes llama.cpp gives some of them by model name. */
static void load_special_list(tok_vocab *v, const gguf_file *f)
{
    const int32_t n = v->n;
    gguf_str name = {"", 0}, arch = {"", 0};
    gguf_get_str(f, "general.name", &name);
    gguf_get_str(f, "general.architecture", &arch);
    char lname[256];
    size_t ln = name.len < sizeof lname ? name.len : sizeof lname - 1;
    for (size_t i = 0; i < ln; i++)
        lname[i] = (char)(name.ptr[i] >= 'A' && name.ptr[i] <= 'Z' ? name.ptr[i] + 32 : name.ptr[i]);
    gguf_str lower = {lname, ln};

    uint64_t *order = xmallocarray((size_t)n, sizeof *order);
    for (int32_t id = 0; id < n; id++)
        if (v->tok[id].attr & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN))
            order[v->n_special++] = ((uint64_t)(UINT32_MAX - v->tok[id].len) << 32) | (uint32_t)id;
    qsort(order, v->n_special, sizeof *order, by_length_then_id);
    v->special = xmallocarray(v->n_special ? v->n_special : 1, sizeof *v->special);
    for (size_t i = 0; i < v->n_special; i++)
        v->special[i] = (int32_t)(order[i] & 0xFFFFFFFFu);
    free(order);

    gguf_str pre = {v->pre_name, strlen(v->pre_name)};
    if (str_contains(pre, "jina-v2-de") || str_contains(pre, "jina-v2-es") ||
        str_contains(pre, "jina-v2-code") || str_contains(arch, "nomic-bert-moe") ||
        str_contains(arch, "jina-bert-v3")) {
        set_attr(v, "<mask>", ATTR_LSTRIP, true);
    } else if (str_contains(lower, "phi-3") || str_contains(lower, "phi3")) {
        for (size_t i = 0; i < v->n_special; i++)
            v->tok[v->special[i]].attr |= ATTR_RSTRIP;
        set_attr(v, "</s>", ATTR_RSTRIP, true);
        set_attr(v, "<unk>", ATTR_RSTRIP, false);
        set_attr(v, "<s>", ATTR_RSTRIP, false);
        set_attr(v, "<|endoftext|>", ATTR_RSTRIP, false);
    } else if (str_contains(lower, "modern-bert")) {
        set_attr(v, "[MASK]", ATTR_LSTRIP, true);
    }
}

/* Byte tables and the longest piece, once everything else is known. */
static void load_bytes(tok_vocab *v)
{
    for (int b = 0; b < 256; b++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        v->byte_token[b] = tok_find(v, hex, 6);
        if (v->byte_token[b] < 0)
            v->byte_token[b] = tok_find(v, (const char[]){(char)b}, 1);
        unsigned char u[4];
        v->byte_utf8_len[b] = (unsigned char)uni_encode(uni_byte_to_cp((unsigned char)b), u);
        memcpy(v->byte_utf8[b], u, 2);
    }
    for (int32_t id = 0; id < v->n; id++) {
        size_t len = tok_piece_ex(v, id, true, NULL, 0);
        if (len > v->max_piece)
            v->max_piece = len;
    }
}

int tok_load(tok_vocab **out, const gguf_file *f, char *err, size_t errlen)
{
    *out = NULL;
    tok_vocab *v = xcalloc(1, sizeof *v);
    int pre_flags = 0;
    int rc = load_type(v, f, &pre_flags, err, errlen);
    if (rc == TOK_OK)
        rc = load_tokens(v, f, err, errlen);
    if (rc == TOK_OK && v->type == VOCAB_BPE)
        rc = load_merges(v, f, err, errlen);
    if (rc == TOK_OK)
        rc = load_special_ids(v, f, pre_flags, err, errlen);
    if (rc != TOK_OK) {
        tok_free(v);
        return rc;
    }
    load_special_texts(v);
    load_special_list(v, f);
    load_bytes(v);
    *out = v;
    return TOK_OK;
}

void tok_free(tok_vocab *v)
{
    if (!v)
        return;
    free(v->tok);
    free(v->arena);
    free(v->tok_hash);
    free(v->merge);
    free(v->merge_hash);
    free(v->eog);
    free(v->special);
    free(v);
}

/* ---- Encoding: scratch and output ------------------------------------------- */

/* A symbol of the merge loops: bytes [start, start+n) of the scratch text,
 * linked to its neighbours; n == 0 once merged into its left neighbour. */
typedef struct {
    size_t start;
    uint32_t n;
    int32_t prev, next;
} symbol;

/* A candidate merge of two adjacent symbols.  SPM takes the highest score
 * first, BPE the lowest rank; ties go to the leftmost pair. */
typedef struct {
    float score;
    int32_t rank;
    int32_t left, right;
    uint32_t size; /* bytes of the pair when pushed: stale entries differ */
} bigram;

/* A piece of the input: raw text, or a special token cut out of it. */
typedef struct {
    size_t off, len;
    int32_t tok; /* -1 for raw text */
} frag;

typedef struct {
    unsigned char *buf; /* SPM: the escaped text; BPE: one word in GPT-2's alphabet */
    size_t buf_cap;
    uint32_t *cps;
    size_t cps_cap;
    symbol *sym;
    size_t sym_cap;
    bigram *heap;
    size_t heap_n, heap_cap;
    frag *frag, *frag2;
    size_t n_frag, n_frag2, frag_cap, frag2_cap;
    pretok_words words;
} scratch;

typedef struct {
    int32_t **ids;
    size_t *n, *cap;
} tok_out;

static void out_push(tok_out *o, int32_t id)
{
    if (*o->n == *o->cap) {
        *o->cap = *o->cap ? 2 * *o->cap : 64;
        *o->ids = xreallocarray(*o->ids, *o->cap, sizeof **o->ids);
    }
    (*o->ids)[(*o->n)++] = id;
}

/* Make room for `count` elements of `size` bytes in *p. */
static void reserve(void **p, size_t *cap, size_t count, size_t size)
{
    if (count <= *cap)
        return;
    size_t c = *cap ? *cap : 64;
    while (c < count)
        c *= 2;
    *p = xreallocarray(*p, c, size);
    *cap = c;
}

static void frag_push(frag **a, size_t *n, size_t *cap, frag f)
{
    reserve((void **)a, cap, *n + 1, sizeof **a);
    (*a)[(*n)++] = f;
}

static void scratch_free(scratch *s)
{
    free(s->buf);
    free(s->cps);
    free(s->sym);
    free(s->heap);
    free(s->frag);
    free(s->frag2);
    pretok_words_free(&s->words);
}

static bool bigram_before(const bigram *a, const bigram *b, bool spm)
{
    if (spm ? a->score != b->score : a->rank != b->rank)
        return spm ? a->score > b->score : a->rank < b->rank;
    return a->left < b->left;
}

static void heap_push(scratch *s, bigram b, bool spm)
{
    reserve((void **)&s->heap, &s->heap_cap, s->heap_n + 1, sizeof *s->heap);
    size_t i = s->heap_n++;
    for (; i > 0 && bigram_before(&b, &s->heap[(i - 1) / 2], spm); i = (i - 1) / 2)
        s->heap[i] = s->heap[(i - 1) / 2];
    s->heap[i] = b;
}

static bigram heap_pop(scratch *s, bool spm)
{
    bigram top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_n)
            break;
        if (c + 1 < s->heap_n && bigram_before(&s->heap[c + 1], &s->heap[c], spm))
            c++;
        if (!bigram_before(&s->heap[c], &last, spm))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_n)
        s->heap[i] = last;
    return top;
}

/* Cut buf[0..m) into one symbol per UTF-8 sequence (by its first byte,
 * clipped at the end: malformed text still gets symbols).  Returns the count. */
static int32_t make_symbols(scratch *s, size_t m)
{
    reserve((void **)&s->sym, &s->sym_cap, m, sizeof *s->sym);
    int32_t k = 0;
    for (size_t off = 0; off < m; k++) {
        size_t n = uni_seq_len(s->buf[off]);
        if (n > m - off)
            n = m - off;
        s->sym[k] = (symbol){off, (uint32_t)n, k - 1, off + n == m ? -1 : k + 1};
        off += n;
    }
    return k;
}

/* The merge loop both models share: pop the best pair, skip it if either
 * side changed since it was pushed, merge, and offer the new neighbours. */
static void merge_loop(const tok_vocab *v, scratch *s, bool spm,
                       void (*offer)(const tok_vocab *, scratch *, int32_t, int32_t))
{
    while (s->heap_n) {
        bigram b = heap_pop(s, spm);
        symbol *l = &s->sym[b.left], *r = &s->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            s->sym[r->next].prev = b.left;
        offer(v, s, l->prev, b.left);
        offer(v, s, b.left, l->next);
    }
}

/* ---- Encoding: special tokens ------------------------------------------------ */

static bool is_c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Cut the text at special tokens, llama.cpp's tokenizer_st_partition: each
 * token in turn (longest first) splits every raw piece at each of its
 * occurrences, left to right; LSTRIP/RSTRIP tokens swallow the blanks
 * before/after them. */
static void partition(const tok_vocab *v, const char *text, size_t len, bool parse_special, scratch *s)
{
    s->n_frag = 0;
    if (len)
        frag_push(&s->frag, &s->n_frag, &s->frag_cap, (frag){0, len, -1});
    for (size_t k = 0; k < v->n_special; k++) {
        int32_t id = v->special[k];
        const tok_entry *t = &v->tok[id];
        if (!parse_special && (t->attr & ATTR_SPECIAL))
            continue; /* user-defined tokens are cut out regardless */
        const char *tt = text_of(v, id);
        bool found = false;
        for (size_t i = 0; i < s->n_frag && !found; i++)
            found = s->frag[i].tok < 0 &&
                    memmem(text + s->frag[i].off, s->frag[i].len, tt, t->len) != NULL;
        if (!found)
            continue;
        s->n_frag2 = 0;
        for (size_t i = 0; i < s->n_frag; i++) {
            frag f = s->frag[i];
            if (f.tok >= 0) {
                frag_push(&s->frag2, &s->n_frag2, &s->frag2_cap, f);
                continue;
            }
            size_t pos = f.off, end = f.off + f.len;
            for (const char *hit; (hit = memmem(text + pos, end - pos, tt, t->len)) != NULL;) {
                size_t m = (size_t)(hit - text), llen = m - pos;
                if (t->attr & ATTR_LSTRIP)
                    while (llen > 0 && is_c_space(text[pos + llen - 1]))
                        llen--;
                if (llen)
                    frag_push(&s->frag2, &s->n_frag2, &s->frag2_cap, (frag){pos, llen, -1});
                frag_push(&s->frag2, &s->n_frag2, &s->frag2_cap, (frag){0, 0, id});
                pos = m + t->len;
                if (t->attr & ATTR_RSTRIP)
                    while (pos < end && is_c_space(text[pos]))
                        pos++;
            }
            if (pos < end)
                frag_push(&s->frag2, &s->n_frag2, &s->frag2_cap, (frag){pos, end - pos, -1});
        }
        frag *tf = s->frag;
        size_t tc = s->frag_cap;
        s->frag = s->frag2, s->frag_cap = s->frag2_cap, s->n_frag = s->n_frag2;
        s->frag2 = tf, s->frag2_cap = tc;
    }
}

/* ---- Encoding: SentencePiece ----------------------------------------------- */

static void spm_offer(const tok_vocab *v, scratch *s, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return;
    uint32_t size = s->sym[left].n + s->sym[right].n;
    int32_t id = tok_find(v, (const char *)s->buf + s->sym[left].start, size);
    if (id >= 0)
        heap_push(s, (bigram){v->tok[id].score, 0, left, right, size}, true);
}

/* One raw piece: spaces become '▁' (with one prepended when asked), then
 * adjacent symbols merge while their concatenation is a token, best score
 * first; what is left and is not a token is spelt byte by byte. */
static int spm_encode(const tok_vocab *v, scratch *s, const char *text, size_t len, bool prefix,
                      tok_out *o, size_t base, char *err, size_t errlen)
{
    reserve((void **)&s->buf, &s->buf_cap, 3 * (len + 1), 1);
    size_t m = 0;
    for (size_t i = (prefix ? 0 : 1); i <= len; i++) {
        char c = i == 0 ? ' ' : text[i - 1];
        if (c == ' ') {
            memcpy(s->buf + m, "\xE2\x96\x81", 3);
            m += 3;
        } else {
            s->buf[m++] = (unsigned char)c;
        }
    }
    int32_t nsym = make_symbols(s, m);
    s->heap_n = 0;
    for (int32_t i = 1; i < nsym; i++)
        spm_offer(v, s, i - 1, i);
    merge_loop(v, s, true, spm_offer);

    for (int32_t i = nsym ? 0 : -1; i != -1; i = s->sym[i].next) {
        const symbol *sy = &s->sym[i];
        int32_t id = tok_find(v, (const char *)s->buf + sy->start, sy->n);
        if (id >= 0) {
            out_push(o, id);
            continue;
        }
        for (uint32_t j = 0; j < sy->n; j++) {
            unsigned char b = s->buf[sy->start + j];
            id = v->byte_token[b] >= 0 ? v->byte_token[b] : v->unk;
            if (id < 0) {
                util_errf(err, errlen, "byte 0x%02X near input offset %zu has no token and the "
                          "vocabulary has no byte or unknown tokens", b, base);
                return TOK_EINPUT;
            }
            out_push(o, id);
        }
    }
    return TOK_OK;
}

/* ---- Encoding: byte-level BPE ------------------------------------------------- */

static void bpe_offer(const tok_vocab *v, scratch *s, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return;
    const symbol *l = &s->sym[left], *r = &s->sym[right];
    int32_t rank = merge_rank(v, (const char *)s->buf + l->start, l->n,
                              (const char *)s->buf + r->start, r->n);
    if (rank >= 0)
        heap_push(s, (bigram){0, rank, left, right, l->n + r->n}, false);
}

/* One word, already in GPT-2's alphabet in s->buf[0..m). */
static void bpe_word(const tok_vocab *v, scratch *s, size_t m, tok_out *o)
{
    if (v->ignore_merges) { /* Llama 3: a word that is a token is not merged */
        int32_t id = tok_find(v, (const char *)s->buf, m);
        if (id >= 0) {
            out_push(o, id);
            return;
        }
    }
    int32_t nsym = make_symbols(s, m);
    s->heap_n = 0;
    for (int32_t i = 1; i < nsym; i++)
        bpe_offer(v, s, i - 1, i);
    merge_loop(v, s, false, bpe_offer);

    for (int32_t i = nsym ? 0 : -1; i != -1; i = s->sym[i].next) {
        const symbol *sy = &s->sym[i];
        int32_t id = tok_find(v, (const char *)s->buf + sy->start, sy->n);
        if (id >= 0) {
            out_push(o, id);
            continue;
        }
        /* llama.cpp then tries each byte as a one-byte token, and drops
         * the bytes that are not */
        for (uint32_t j = 0; j < sy->n; j++)
            if ((id = tok_find(v, (const char *)s->buf + sy->start + j, 1)) >= 0)
                out_push(o, id);
    }
}

static int bpe_encode(const tok_vocab *v, scratch *s, const char *text, size_t len, tok_out *o,
                      size_t base, char *err, size_t errlen)
{
    reserve((void **)&s->cps, &s->cps_cap, len, sizeof *s->cps);
    size_t ncp = 0;
    for (size_t off = 0, adv; off < len; off += adv) {
        uint32_t cp = uni_decode((const unsigned char *)text + off, len - off, &adv);
        if (cp > 0x10FFFF) { /* llama.cpp throws here */
            util_errf(err, errlen, "invalid UTF-8 at input offset %zu: a sequence above U+10FFFF",
                      base + off);
            return TOK_EINPUT;
        }
        s->cps[ncp++] = cp;
    }
    s->words.n = 0;
    pretok_split(v->pre, s->cps, ncp, &s->words);

    const uint32_t *cp = s->cps;
    for (size_t w = 0; w < s->words.n; w++) {
        size_t wl = s->words.len[w], m = 0;
        reserve((void **)&s->buf, &s->buf_cap, 8 * wl, 1);
        for (size_t i = 0; i < wl; i++) {
            unsigned char u[4];
            size_t k = uni_encode(cp[i], u);
            for (size_t j = 0; j < k; j++) {
                memcpy(s->buf + m, v->byte_utf8[u[j]], v->byte_utf8_len[u[j]]);
                m += v->byte_utf8_len[u[j]];
            }
        }
        cp += wl;
        bpe_word(v, s, m, o);
    }
    return TOK_OK;
}

/* ---- Encoding: entry point ------------------------------------------------------ */

/* SPM escapes a byte into up to 3 and symbols are int32-indexed. */
#define TOK_MAX_TEXT ((size_t)(INT32_MAX / 4))

int tok_encode(const tok_vocab *v, const char *text, size_t len, bool add_special,
               bool parse_special, int32_t **ids, size_t *n, size_t *cap, char *err, size_t errlen)
{
    if (len > TOK_MAX_TEXT) {
        util_errf(err, errlen, "text of %zu bytes is longer than the %zu-byte limit", len, TOK_MAX_TEXT);
        return TOK_EINPUT;
    }
    size_t n0 = *n;
    tok_out o = {ids, n, cap};
    scratch s = {0};
    int rc = TOK_OK;

    if (add_special && v->add_bos)
        out_push(&o, v->bos);
    partition(v, text, len, parse_special, &s);
    bool prev_special = true; /* SPM: a '▁' starts the text and follows special tokens */
    for (size_t i = 0; i < s.n_frag && rc == TOK_OK; i++) {
        const frag *f = &s.frag[i];
        if (f->tok >= 0) {
            out_push(&o, f->tok);
            prev_special = true;
            continue;
        }
        if (v->type == VOCAB_SPM)
            rc = spm_encode(v, &s, text + f->off, f->len, v->add_space_prefix && prev_special, &o,
                            f->off, err, errlen);
        else
            rc = bpe_encode(v, &s, text + f->off, f->len, &o, f->off, err, errlen);
        prev_special = false;
    }
    if (rc == TOK_OK && add_special && v->add_eos)
        out_push(&o, v->eos);
    scratch_free(&s);
    if (rc != TOK_OK)
        *n = n0;
    return rc;
}

/* ---- Decoding ------------------------------------------------------------------ */

/* Copy what fits of src to buf[at..cap); returns at + n either way. */
static size_t put(char *buf, size_t cap, size_t at, const void *src, size_t n)
{
    if (at < cap)
        memcpy(buf + at, src, n < cap - at ? n : cap - at);
    return at + n;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

size_t tok_piece_ex(const tok_vocab *v, int32_t id, bool special, char *buf, size_t cap)
{
    if (!v || id < 0 || id >= v->n)
        return 0;
    const tok_entry *t = &v->tok[id];
    const char *s = text_of(v, id);
    if (!special && (t->attr & ATTR_SPECIAL))
        return 0;
    if (t->attr & (ATTR_SPECIAL | ATTR_USER_DEFINED))
        return put(buf, cap, 0, s, t->len);
    if (t->attr & ATTR_BYTE) { /* "<0xXX>" */
        int b = 0;
        for (size_t i = 3; i < 5 && i < t->len && hex_digit(s[i]) >= 0; i++)
            b = b * 16 + hex_digit(s[i]);
        unsigned char byte = (unsigned char)b;
        return put(buf, cap, 0, &byte, 1);
    }
    if (!(t->attr & ATTR_NORMAL))
        return 0; /* UNUSED and undefined tokens render as nothing */
    size_t at = 0;
    if (v->type == VOCAB_SPM) { /* '▁' -> ' ' */
        for (size_t i = 0; i < t->len;) {
            if (t->len - i >= 3 && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
                at = put(buf, cap, at, " ", 1);
                i += 3;
            } else {
                at = put(buf, cap, at, s + i++, 1);
            }
        }
        return at;
    }
    /* GPT-2's alphabet back to bytes; llama.cpp spells a code point outside
     * it as "[UNK_BYTE_0x<its UTF-8 in hex><the token text>]" */
    for (size_t i = 0, adv; i < t->len; i += adv) {
        uint32_t cp = uni_decode((const unsigned char *)s + i, t->len - i, &adv);
        int b = uni_cp_to_byte(cp);
        if (b >= 0) {
            unsigned char byte = (unsigned char)b;
            at = put(buf, cap, at, &byte, 1);
            continue;
        }
        unsigned char u[4];
        size_t k = uni_encode(cp, u);
        char hex[12];
        at = put(buf, cap, at, "[UNK_BYTE_0x", 12);
        for (size_t j = 0; j < k; j++)
            at = put(buf, cap, at, hex, (size_t)snprintf(hex, sizeof hex, "%02x", u[j]));
        at = put(buf, cap, at, s, t->len);
        at = put(buf, cap, at, "]", 1);
    }
    return at;
}

size_t tok_piece(const tok_vocab *v, int32_t id, char *buf, size_t cap)
{
    return tok_piece_ex(v, id, false, buf, cap);
}

size_t tok_max_piece(const tok_vocab *v) { return v->max_piece; }

/* ---- Streaming decoder ------------------------------------------------------- */

/* How many bytes at the end of p[0..n) are an unfinished UTF-8 character:
 * a lead byte followed by fewer continuation bytes than it announces. */
static size_t unfinished_tail(const unsigned char *p, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned char b = p[n - k];
        if ((b & 0xC0) == 0x80)
            continue;
        return b >= 0xC0 && b <= 0xF7 && uni_seq_len(b) > k ? k : 0;
    }
    return 0;
}

void tok_stream_init(tok_stream *s, const tok_vocab *v)
{
    memset(s, 0, sizeof *s);
    s->vocab = v;
}

size_t tok_stream_push(tok_stream *s, int32_t id, strbuf *out)
{
    size_t before = out->len;
    sb_append(out, s->pending, s->n_pending);
    s->n_pending = 0;

    char small[256];
    size_t len = tok_piece(s->vocab, id, small, sizeof small);
    if (len <= sizeof small) {
        sb_append(out, small, len);
    } else {
        char *big = xmalloc(len);
        tok_piece(s->vocab, id, big, len);
        sb_append(out, big, len);
        free(big);
    }
    if (out->len == before)
        return 0;
    size_t hold = unfinished_tail((unsigned char *)out->data + before, out->len - before);
    memcpy(s->pending, out->data + out->len - hold, hold);
    s->n_pending = (unsigned)hold;
    out->len -= hold;
    out->data[out->len] = '\0';
    return out->len - before;
}

size_t tok_stream_flush(tok_stream *s, strbuf *out)
{
    size_t n = s->n_pending;
    sb_append(out, s->pending, n);
    s->n_pending = 0;
    return n;
}

/* ---- Vocabulary facts ------------------------------------------------------------ */

int32_t tok_n_vocab(const tok_vocab *v) { return v->n; }
int32_t tok_bos(const tok_vocab *v) { return v->bos; }
int32_t tok_eos(const tok_vocab *v) { return v->eos; }
int32_t tok_eot(const tok_vocab *v) { return v->eot; }
int32_t tok_pad(const tok_vocab *v) { return v->pad; }
int32_t tok_unk(const tok_vocab *v) { return v->unk; }
bool tok_adds_bos(const tok_vocab *v) { return v->add_bos; }
bool tok_adds_eos(const tok_vocab *v) { return v->add_eos; }

bool tok_is_eog(const tok_vocab *v, int32_t id) { return id >= 0 && id < v->n && v->eog[id]; }

bool tok_is_control(const tok_vocab *v, int32_t id)
{
    return id >= 0 && id < v->n && (v->tok[id].attr & ATTR_SPECIAL);
}

const char *tok_type_name(const tok_vocab *v) { return v->type == VOCAB_SPM ? "llama" : "gpt2"; }
const char *tok_pre_name(const tok_vocab *v) { return v->pre_name; }

const char *tok_text(const tok_vocab *v, int32_t id, size_t *len)
{
    if (id < 0 || id >= v->n)
        return NULL;
    if (len)
        *len = v->tok[id].len;
    return text_of(v, id);
}
