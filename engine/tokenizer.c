/*
 * tokenizer.c — loading the vocabulary (tokenizer.h): the tokenizer.ggml.*
 * metadata, the token and merge hash tables, special-token ids and
 * attributes, the end-of-generation set, and the vocabulary-fact getters.
 * Encoding and decoding live in tok_encode.c, pre-tokenizers in pretok.c,
 * code-point classes in unicode.c.
 *
 * Every rule here reproduces llama.cpp's src/llama-vocab.cpp (how the
 * metadata is read, which defaults apply, which tokens are special).  Where
 * llama.cpp's result depends on hash-map iteration order (several tokens
 * that could be the EOT token), we take the lowest id.
 *
 * Not supported: the WPM, UGM, RWKV and PLaMo-2 vocabulary types, and
 * SEP/CLS handling for encoder models.
 */
#include "engine/tokenizer_internal.h"

#include "engine/pretok.h"
#include "engine/unicode.h"
#include "util/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Hash tables ----------------------------------------------------------- */

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
int32_t tok_merge_rank(const tok_vocab *v, const char *l, size_t llen, const char *r, size_t rlen)
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
    v->arena = try_malloc(total);
    v->tok = try_calloc((size_t)v->n, sizeof *v->tok);
    v->tok_mask = table_size((size_t)v->n) - 1;
    v->tok_hash = try_mallocarray(v->tok_mask + 1, sizeof *v->tok_hash);
    if (!v->arena || !v->tok || !v->tok_hash) {
        util_errf(err, errlen, "%s: out of memory for %d vocabulary entries (%zu bytes of text)",
                  KEY("tokens"), (int)v->n, total);
        return TOK_ENOMEM;
    }
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
    v->merge = try_calloc(m->n, sizeof *v->merge);
    v->merge_mask = table_size(m->n) - 1;
    v->merge_hash = try_mallocarray(v->merge_mask + 1, sizeof *v->merge_hash);
    if (!v->merge || !v->merge_hash) {
        util_errf(err, errlen, "%s: out of memory for %d merge rules", KEY("merges"), (int)v->n_merges);
        return TOK_ENOMEM;
    }
    memset(v->merge_hash, 0xff, (v->merge_mask + 1) * sizeof *v->merge_hash);

    for (int32_t rank = 0; rank < v->n_merges; rank++) {
        gguf_str s = gguf_arr_str(m, (uint64_t)rank);
        /* split at the first space after the first byte; a rule without one
         * could never match (llama.cpp files it under an empty pair) */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
        if (!sp)
            continue;
        size_t llen = (size_t)(sp - s.ptr), rlen = s.len - llen - 1;
        if (tok_merge_rank(v, s.ptr, llen, sp + 1, rlen) >= 0)
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
static int load_special_texts(tok_vocab *v, char *err, size_t errlen)
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
    v->eog = try_calloc((size_t)n, 1);
    if (!v->eog) {
        util_errf(err, errlen, "out of memory for the end-of-generation flags of %d tokens", (int)n);
        return TOK_ENOMEM;
    }
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
    return TOK_OK;
}

/* The tokens cut out of the text before tokenizing, longest first, and the
 * strip attributes llama.cpp gives some of them by model name. */
static int load_special_list(tok_vocab *v, const gguf_file *f, char *err, size_t errlen)
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

    uint64_t *order = try_mallocarray((size_t)n, sizeof *order);
    if (!order) {
        util_errf(err, errlen, "out of memory sorting the special tokens of %d tokens", (int)n);
        return TOK_ENOMEM;
    }
    for (int32_t id = 0; id < n; id++)
        if (v->tok[id].attr & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN))
            order[v->n_special++] = ((uint64_t)(UINT32_MAX - v->tok[id].len) << 32) | (uint32_t)id;
    qsort(order, v->n_special, sizeof *order, by_length_then_id);
    v->special = try_mallocarray(v->n_special, sizeof *v->special);
    if (!v->special) {
        free(order);
        util_errf(err, errlen, "out of memory for %zu special tokens", v->n_special);
        v->n_special = 0;
        return TOK_ENOMEM;
    }
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
    return TOK_OK;
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
        v->byte_utf8_len[b] = (unsigned char)util_utf8_encode(uni_byte_to_cp((unsigned char)b), u);
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
    if (rc == TOK_OK)
        rc = load_special_texts(v, err, errlen);
    if (rc == TOK_OK)
        rc = load_special_list(v, f, err, errlen);
    if (rc != TOK_OK) {
        tok_free(v);
        return rc;
    }
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
