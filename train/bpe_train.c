/*
 * bpe_train.c — byte-level BPE training, the trainer's own encoder, and the
 * GGUF tokenizer keys (see bpe_train.h for the algorithm, tie-break and ids).
 *
 * Shapes of the training state:
 *   words   distinct pre-tokenized words with counts (a byte-string table);
 *   syms    every word's current tokens, one int32 pool, word w at
 *           syms[off[w] .. off[w] + len[w]) (merging only shrinks a word);
 *   pairs   one entry per adjacent token pair ever seen: its count (over all
 *           words, times their counts) and `where`, the words it was ever
 *           added to (may hold words that lost the pair: they are skipped);
 *   heap    (count, left, right) entries, best first.  Entries go stale when
 *           a count changes: a pair whose count grew is pushed again with
 *           the new count, and a popped entry whose count no longer matches
 *           is pushed back with the current one.  So every pair has an entry
 *           at or above its count, and a popped entry that matches its pair's
 *           count is the true best (ties included, as entries order ties).
 *
 * Not here: the pre-tokenizer (pretok.c), GPT-2's byte alphabet (unicode.c),
 * reading the vocabulary back (tokenizer.c).
 */
#include "train/bpe_train.h"

#include "engine/pretok.h"
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

void bpe_options_default(bpe_options *o)
{
    o->vocab_size = 4096;
    o->min_frequency = 2;
}

/* ---- Hashing ------------------------------------------------------------------ */

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t hash_pair(int32_t a, int32_t b)
{
    uint64_t x = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* Make room for `count` elements of `size` bytes in *p. */
static void reserve(void **p, size_t *cap, size_t count, size_t size)
{
    if (count <= *cap)
        return;
    size_t c = *cap ? *cap : 16;
    while (c < count)
        c *= 2;
    *p = xreallocarray(*p, c, size);
    *cap = c;
}

/* ---- A table of byte strings (words with counts; token texts) ------------------- */

typedef struct {
    unsigned char *arena;
    size_t arena_len, arena_cap;
    size_t *off;
    uint32_t *len;
    int64_t *count;
    size_t n, cap;
    int32_t *slot; /* open addressing over entry indices, -1 = empty */
    size_t mask;
} strtab;

static void strtab_free(strtab *t)
{
    free(t->arena);
    free(t->off);
    free(t->len);
    free(t->count);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

static int32_t strtab_find(const strtab *t, const void *s, size_t len)
{
    if (!t->slot)
        return -1;
    for (size_t i = hash_bytes(s, len) & t->mask; t->slot[i] >= 0; i = (i + 1) & t->mask) {
        int32_t e = t->slot[i];
        if (t->len[e] == len && memcmp(t->arena + t->off[e], s, len) == 0)
            return e;
    }
    return -1;
}

static void strtab_rehash(strtab *t, size_t size)
{
    free(t->slot);
    t->slot = xmallocarray(size, sizeof *t->slot);
    memset(t->slot, 0xff, size * sizeof *t->slot);
    t->mask = size - 1;
    for (size_t e = 0; e < t->n; e++) {
        size_t i = hash_bytes(t->arena + t->off[e], t->len[e]) & t->mask;
        while (t->slot[i] >= 0)
            i = (i + 1) & t->mask;
        t->slot[i] = (int32_t)e;
    }
}

/* The entry for s, added with count 0 if new. */
static int32_t strtab_add(strtab *t, const void *s, size_t len)
{
    int32_t e = strtab_find(t, s, len);
    if (e >= 0)
        return e;
    if (2 * (t->n + 1) > (t->slot ? t->mask + 1 : 0))
        strtab_rehash(t, t->slot ? 2 * (t->mask + 1) : 1024);
    reserve((void **)&t->arena, &t->arena_cap, t->arena_len + len + 1, 1);
    if (t->n == t->cap) {
        size_t c = t->cap;
        reserve((void **)&t->off, &c, t->n + 1, sizeof *t->off);
        c = t->cap;
        reserve((void **)&t->len, &c, t->n + 1, sizeof *t->len);
        c = t->cap;
        reserve((void **)&t->count, &c, t->n + 1, sizeof *t->count);
        t->cap = c;
    }
    e = (int32_t)t->n++;
    t->off[e] = t->arena_len;
    t->len[e] = (uint32_t)len;
    t->count[e] = 0;
    memcpy(t->arena + t->arena_len, s, len);
    t->arena_len += len;
    size_t i = hash_bytes(s, len) & t->mask;
    while (t->slot[i] >= 0)
        i = (i + 1) & t->mask;
    t->slot[i] = e;
    return e;
}

static const unsigned char *strtab_str(const strtab *t, int32_t e) { return t->arena + t->off[e]; }

/* ---- Cutting text into words ------------------------------------------------------ */

typedef struct {
    uint32_t *cps;
    size_t cps_cap;
    unsigned char *buf; /* one word's bytes */
    size_t buf_cap;
    pretok_words words;
} splitter;

static void splitter_free(splitter *s)
{
    free(s->cps);
    free(s->buf);
    pretok_words_free(&s->words);
}

/* Called once per word (bytes, special = -1) or special token (NULL, 0, id). */
typedef void (*word_fn)(void *ctx, const unsigned char *w, size_t len, int32_t special);

/* The earliest special-token text in text[pos..len) (the longest at a tie),
 * or len.  Our special texts cannot overlap one another, so this cuts exactly
 * where tokenizer.c's token-by-token partition cuts. */
static size_t next_special(const char *text, size_t pos, size_t len, int32_t *id)
{
    size_t best = len;
    size_t best_len = 0;
    for (int32_t k = 0; k < BPE_N_SPECIAL; k++) {
        size_t sl = strlen(bpe_special_text[k]);
        const char *hit = memmem(text + pos, len - pos, bpe_special_text[k], sl);
        size_t at = hit ? (size_t)(hit - text) : len;
        if (at < best || (at == best && hit && sl > best_len)) {
            best = at;
            best_len = sl;
            *id = k;
        }
    }
    return best;
}

/* Pre-tokenize one piece of raw text into words. */
static int split_raw(splitter *s, const char *text, size_t len, size_t base, word_fn fn, void *ctx,
                     char *err, size_t errlen)
{
    reserve((void **)&s->cps, &s->cps_cap, len, sizeof *s->cps);
    size_t ncp = 0;
    for (size_t off = 0, adv; off < len; off += adv) {
        uint32_t cp = uni_decode((const unsigned char *)text + off, len - off, &adv);
        if (cp > 0x10FFFF) {
            util_errf(err, errlen, "invalid UTF-8 at input offset %zu: a sequence above U+10FFFF",
                      base + off);
            return BPE_EINPUT;
        }
        s->cps[ncp++] = cp;
    }
    s->words.n = 0;
    pretok_split(PRETOK_GPT2, s->cps, ncp, &s->words);
    const uint32_t *cp = s->cps;
    for (size_t w = 0; w < s->words.n; w++) {
        size_t wl = s->words.len[w], m = 0;
        reserve((void **)&s->buf, &s->buf_cap, 4 * wl, 1);
        for (size_t i = 0; i < wl; i++)
            m += util_utf8_encode(cp[i], s->buf + m);
        cp += wl;
        fn(ctx, s->buf, m, -1);
    }
    return BPE_OK;
}

/* Cut at special tokens (when `special`), then pre-tokenize the rest.  The
 * whole text is checked before any callback, so a failure reports nothing. */
static int split_text(splitter *s, const char *text, size_t len, bool special, word_fn fn,
                      void *ctx, char *err, size_t errlen)
{
    for (size_t off = 0, adv; off < len; off += adv)
        if (uni_decode((const unsigned char *)text + off, len - off, &adv) > 0x10FFFF) {
            util_errf(err, errlen, "invalid UTF-8 at input offset %zu: a sequence above U+10FFFF", off);
            return BPE_EINPUT;
        }
    for (size_t pos = 0; pos < len;) {
        int32_t id = -1;
        size_t at = special ? next_special(text, pos, len, &id) : len;
        if (at > pos) {
            int rc = split_raw(s, text + pos, at - pos, pos, fn, ctx, err, errlen);
            if (rc != BPE_OK)
                return rc;
        }
        if (at == len)
            break;
        fn(ctx, NULL, 0, id);
        pos = at + strlen(bpe_special_text[id]);
    }
    return BPE_OK;
}

/* ---- The vocabulary -------------------------------------------------------------- */

struct bpe_vocab {
    strtab tok;            /* token bytes, entry index = id */
    int32_t (*merge)[2];   /* (n_merges) left, right */
    int32_t n_merges;
    int32_t *mslot;        /* ranks by pair, -1 = empty */
    size_t mmask;
};

void bpe_vocab_free(bpe_vocab *v)
{
    if (!v)
        return;
    strtab_free(&v->tok);
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
    return strtab_str(&v->tok, id);
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
    for (size_t i = hash_pair(a, b) & v->mmask; v->mslot[i] >= 0; i = (i + 1) & v->mmask) {
        int32_t r = v->mslot[i];
        if (v->merge[r][0] == a && v->merge[r][1] == b)
            return r;
    }
    return -1;
}

/* The specials and the 256 bytes: the start of every vocabulary. */
static void base_tokens(strtab *tok)
{
    for (int32_t k = 0; k < BPE_N_SPECIAL; k++)
        strtab_add(tok, bpe_special_text[k], strlen(bpe_special_text[k]));
    for (int b = 0; b < 256; b++)
        strtab_add(tok, (unsigned char[]){(unsigned char)b}, 1);
}

/* Take the token table and merge list a run built. */
static bpe_vocab *vocab_make(strtab *tok, int32_t (*merge)[2], int32_t n_merges)
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
        size_t i = hash_pair(merge[r][0], merge[r][1]) & v->mmask;
        while (v->mslot[i] >= 0)
            i = (i + 1) & v->mmask;
        v->mslot[i] = r;
    }
    return v;
}

/* Merge the adjacent pair of lowest rank, leftmost first, until no pair has
 * a rank.  Returns the new length. */
static size_t encode_word_naive(const bpe_vocab *v, int32_t *s, size_t n)
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
    reserve((void **)e->ids, e->cap, *e->n + 1, sizeof **e->ids);
    (*e->ids)[(*e->n)++] = id;
}

static void encode_word(void *ctx, const unsigned char *w, size_t len, int32_t special)
{
    encode_ctx *e = ctx;
    if (special >= 0) {
        push_id(e, special);
        return;
    }
    reserve((void **)&e->sym, &e->sym_cap, len, sizeof *e->sym);
    for (size_t i = 0; i < len; i++)
        e->sym[i] = BPE_ID_BYTE0 + w[i];
    size_t n = encode_word_naive(e->v, e->sym, len);
    for (size_t i = 0; i < n; i++)
        push_id(e, e->sym[i]);
}

int bpe_vocab_encode(const bpe_vocab *v, const char *text, size_t len, bool parse_special,
                     int32_t **ids, size_t *n, size_t *cap, char *err, size_t errlen)
{
    encode_ctx e = {v, ids, n, cap, NULL, 0};
    splitter s = {0};
    size_t n0 = *n;
    int rc = split_text(&s, text, len, parse_special, encode_word, &e, err, errlen);
    splitter_free(&s);
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

/* ---- Training: counting ------------------------------------------------------------- */

struct bpe_trainer {
    strtab words; /* count = occurrences */
    uint64_t n_bytes;
    splitter split;
    /* the segmentation the last run left every word in */
    int32_t *seg;
    size_t *seg_off;
    uint32_t *seg_len;
    size_t seg_words;
};

bpe_trainer *bpe_trainer_new(void) { return xcalloc(1, sizeof(bpe_trainer)); }

void bpe_trainer_free(bpe_trainer *t)
{
    if (!t)
        return;
    strtab_free(&t->words);
    splitter_free(&t->split);
    free(t->seg);
    free(t->seg_off);
    free(t->seg_len);
    free(t);
}

static void count_word(void *ctx, const unsigned char *w, size_t len, int32_t special)
{
    bpe_trainer *t = ctx;
    if (special >= 0 || len == 0)
        return;
    int32_t e = strtab_add(&t->words, w, len); /* may move words.count */
    t->words.count[e]++;
    t->n_bytes += len;
}

int bpe_trainer_add(bpe_trainer *t, const char *text, size_t len, char *err, size_t errlen)
{
    return split_text(&t->split, text, len, true, count_word, t, err, errlen);
}

size_t bpe_trainer_n_words(const bpe_trainer *t) { return t->words.n; }
uint64_t bpe_trainer_n_bytes(const bpe_trainer *t) { return t->n_bytes; }

/* ---- Training: state shared by both runs ---------------------------------------------- */

typedef struct {
    const bpe_trainer *t;
    int32_t *syms;      /* all words' tokens */
    size_t *off;        /* (words) */
    uint32_t *len;      /* (words) */
    strtab tok;         /* texts of the tokens made so far, index = id */
    int32_t (*merge)[2];
    int32_t n_merges;
    size_t merge_cap;
    strbuf cat;         /* scratch: a candidate's text */
} run_state;

static void run_init(run_state *r, const bpe_trainer *t)
{
    memset(r, 0, sizeof *r);
    r->t = t;
    size_t nw = t->words.n;
    r->off = xmallocarray(nw ? nw : 1, sizeof *r->off);
    r->len = xmallocarray(nw ? nw : 1, sizeof *r->len);
    r->syms = xmallocarray(t->words.arena_len ? t->words.arena_len : 1, sizeof *r->syms);
    size_t at = 0;
    for (size_t w = 0; w < nw; w++) {
        const unsigned char *s = strtab_str(&t->words, (int32_t)w);
        r->off[w] = at;
        r->len[w] = t->words.len[w];
        for (uint32_t i = 0; i < r->len[w]; i++)
            r->syms[at++] = BPE_ID_BYTE0 + s[i];
    }
    base_tokens(&r->tok);
}

/* Whether merging a and b would make a text that is already a token. */
static bool makes_existing(run_state *r, int32_t a, int32_t b)
{
    sb_clear(&r->cat);
    sb_append(&r->cat, strtab_str(&r->tok, a), r->tok.len[a]);
    sb_append(&r->cat, strtab_str(&r->tok, b), r->tok.len[b]);
    return strtab_find(&r->tok, r->cat.data, r->cat.len) >= 0;
}

/* Record the merge of a and b (makes_existing just filled r->cat). */
static int32_t add_merge(run_state *r, int32_t a, int32_t b)
{
    int32_t id = strtab_add(&r->tok, r->cat.data, r->cat.len);
    reserve((void **)&r->merge, &r->merge_cap, (size_t)r->n_merges + 1, sizeof *r->merge);
    r->merge[r->n_merges][0] = a;
    r->merge[r->n_merges][1] = b;
    r->n_merges++;
    return id;
}

/* Replace every non-overlapping a b in word w by c, left to right. */
static void merge_in_word(run_state *r, size_t w, int32_t a, int32_t b, int32_t c)
{
    int32_t *s = r->syms + r->off[w];
    uint32_t n = r->len[w], j = 0;
    for (uint32_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            s[j++] = c;
            i += 2;
        } else {
            s[j++] = s[i++];
        }
    }
    r->len[w] = j;
}

/* Hand the final segmentation to the trainer and the result to the caller. */
static bpe_vocab *run_finish(run_state *r, bpe_trainer *t)
{
    free(t->seg);
    free(t->seg_off);
    free(t->seg_len);
    t->seg = r->syms;
    t->seg_off = r->off;
    t->seg_len = r->len;
    t->seg_words = t->words.n;
    sb_free(&r->cat);
    return vocab_make(&r->tok, r->merge, r->n_merges);
}

static int check_options(const bpe_options *o, char *err, size_t errlen)
{
    if (o->vocab_size < BPE_ID_FIRST_MERGE || o->vocab_size > (int32_t)GGUF_MAX_ARRAY) {
        util_errf(err, errlen, "vocab_size %d is outside %d..%u (specials and bytes come first)",
                  (int)o->vocab_size, BPE_ID_FIRST_MERGE, GGUF_MAX_ARRAY);
        return BPE_EARG;
    }
    if (o->min_frequency < 1) {
        util_errf(err, errlen, "min_frequency %lld is below 1", (long long)o->min_frequency);
        return BPE_EARG;
    }
    return BPE_OK;
}

/* ---- Training: the fast run ---------------------------------------------------------- */

typedef struct {
    int32_t a, b;
    int64_t count;
    int32_t *where; /* words, each added once per gain (see the top) */
    uint32_t n_where, cap_where;
    uint32_t stamp; /* last merge that touched it */
    bool forbidden; /* its text is already a token */
} pair;

typedef struct {
    int64_t count;
    int32_t a, b;
} entry;

typedef struct {
    pair *p;
    size_t n, cap;
    int32_t *slot;
    size_t mask;
    entry *heap;
    size_t heap_n, heap_cap;
    int32_t *touched;
    size_t n_touched, touched_cap;
} pairs;

static int32_t pair_find(const pairs *P, int32_t a, int32_t b)
{
    for (size_t i = hash_pair(a, b) & P->mask; P->slot[i] >= 0; i = (i + 1) & P->mask) {
        const pair *q = &P->p[P->slot[i]];
        if (q->a == a && q->b == b)
            return P->slot[i];
    }
    return -1;
}

static void pairs_rehash(pairs *P, size_t size)
{
    free(P->slot);
    P->slot = xmallocarray(size, sizeof *P->slot);
    memset(P->slot, 0xff, size * sizeof *P->slot);
    P->mask = size - 1;
    for (size_t k = 0; k < P->n; k++) {
        size_t i = hash_pair(P->p[k].a, P->p[k].b) & P->mask;
        while (P->slot[i] >= 0)
            i = (i + 1) & P->mask;
        P->slot[i] = (int32_t)k;
    }
}

static int32_t pair_get(pairs *P, int32_t a, int32_t b)
{
    int32_t k = pair_find(P, a, b);
    if (k >= 0)
        return k;
    if (2 * (P->n + 1) > P->mask + 1)
        pairs_rehash(P, 2 * (P->mask + 1));
    reserve((void **)&P->p, &P->cap, P->n + 1, sizeof *P->p);
    k = (int32_t)P->n++;
    P->p[k] = (pair){.a = a, .b = b};
    size_t i = hash_pair(a, b) & P->mask;
    while (P->slot[i] >= 0)
        i = (i + 1) & P->mask;
    P->slot[i] = k;
    return k;
}

static void pair_note_word(pairs *P, int32_t k, int32_t w)
{
    pair *q = &P->p[k];
    if (q->n_where && q->where[q->n_where - 1] == w)
        return;
    if (q->n_where == q->cap_where) {
        q->cap_where = q->cap_where ? 2 * q->cap_where : 4;
        q->where = xreallocarray(q->where, q->cap_where, sizeof *q->where);
    }
    q->where[q->n_where++] = w;
}

/* Heap order: higher count first, then lower left id, then lower right id. */
static bool entry_before(const entry *x, const entry *y)
{
    if (x->count != y->count)
        return x->count > y->count;
    return x->a != y->a ? x->a < y->a : x->b < y->b;
}

static void heap_push(pairs *P, entry e)
{
    reserve((void **)&P->heap, &P->heap_cap, P->heap_n + 1, sizeof *P->heap);
    size_t i = P->heap_n++;
    for (; i > 0 && entry_before(&e, &P->heap[(i - 1) / 2]); i = (i - 1) / 2)
        P->heap[i] = P->heap[(i - 1) / 2];
    P->heap[i] = e;
}

static entry heap_pop(pairs *P)
{
    entry top = P->heap[0], last = P->heap[--P->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= P->heap_n)
            break;
        if (c + 1 < P->heap_n && entry_before(&P->heap[c + 1], &P->heap[c]))
            c++;
        if (!entry_before(&P->heap[c], &last))
            break;
        P->heap[i] = P->heap[c];
        i = c;
    }
    if (P->heap_n)
        P->heap[i] = last;
    return top;
}

static void pairs_free(pairs *P)
{
    for (size_t k = 0; k < P->n; k++)
        free(P->p[k].where);
    free(P->p);
    free(P->slot);
    free(P->heap);
    free(P->touched);
}

/* Merge a b into c in word w, moving the word's pair counts from its old
 * pairs to its new ones; pairs with c learn that w holds them. */
static void merge_word_counted(run_state *r, pairs *P, int32_t w, int32_t a, int32_t b, int32_t c,
                               uint32_t stamp)
{
    const int32_t *s = r->syms + r->off[w];
    uint32_t n = r->len[w];
    bool found = false;
    for (uint32_t i = 0; i + 1 < n && !found; i++)
        found = s[i] == a && s[i + 1] == b;
    if (!found)
        return; /* the word lost the pair to an earlier merge */
    int64_t cnt = r->t->words.count[w];
    for (uint32_t i = 0; i + 1 < n; i++)
        P->p[pair_find(P, s[i], s[i + 1])].count -= cnt;
    merge_in_word(r, (size_t)w, a, b, c);
    n = r->len[w];
    for (uint32_t i = 0; i + 1 < n; i++) {
        int32_t k = pair_get(P, s[i], s[i + 1]);
        P->p[k].count += cnt;
        if (s[i] != c && s[i + 1] != c)
            continue;
        pair_note_word(P, k, w);
        if (P->p[k].stamp != stamp) {
            P->p[k].stamp = stamp;
            reserve((void **)&P->touched, &P->touched_cap, P->n_touched + 1, sizeof *P->touched);
            P->touched[P->n_touched++] = k;
        }
    }
}

int bpe_trainer_run(bpe_trainer *t, const bpe_options *o, bpe_vocab **out, char *err, size_t errlen)
{
    *out = NULL;
    int rc = check_options(o, err, errlen);
    if (rc != BPE_OK)
        return rc;
    run_state r;
    run_init(&r, t);
    pairs P = {0};
    pairs_rehash(&P, 1024);

    /* Count every pair once, and index where each occurs. */
    for (size_t w = 0; w < t->words.n; w++) {
        const int32_t *s = r.syms + r.off[w];
        for (uint32_t i = 0; i + 1 < r.len[w]; i++) {
            int32_t k = pair_get(&P, s[i], s[i + 1]);
            P.p[k].count += t->words.count[w];
            pair_note_word(&P, k, (int32_t)w);
        }
    }
    for (size_t k = 0; k < P.n; k++)
        heap_push(&P, (entry){P.p[k].count, P.p[k].a, P.p[k].b});

    uint32_t stamp = 0;
    while ((int32_t)r.tok.n < o->vocab_size && P.heap_n) {
        entry e = heap_pop(&P);
        int32_t k = pair_find(&P, e.a, e.b);
        pair *q = &P.p[k];
        if (q->forbidden)
            continue;
        if (q->count != e.count) { /* stale: queue it again at its count */
            if (q->count >= o->min_frequency)
                heap_push(&P, (entry){q->count, q->a, q->b});
            continue;
        }
        if (e.count < o->min_frequency)
            break; /* the best pair left is too rare */
        if (makes_existing(&r, e.a, e.b)) {
            q->forbidden = true;
            continue;
        }
        int32_t c = add_merge(&r, e.a, e.b);
        stamp++;
        int32_t *list = q->where;
        uint32_t n_list = q->n_where;
        q->where = NULL;
        q->n_where = q->cap_where = 0;
        P.n_touched = 0;
        int32_t prev = -1;
        for (uint32_t i = 0; i < n_list; i++) {
            if (list[i] == prev)
                continue;
            prev = list[i];
            merge_word_counted(&r, &P, list[i], e.a, e.b, c, stamp);
        }
        free(list);
        for (size_t i = 0; i < P.n_touched; i++) {
            const pair *g = &P.p[P.touched[i]];
            if (g->count >= o->min_frequency)
                heap_push(&P, (entry){g->count, g->a, g->b});
        }
    }
    pairs_free(&P);
    *out = run_finish(&r, t);
    return BPE_OK;
}

/* ---- Training: the naive run ------------------------------------------------------------ */

int bpe_trainer_run_naive(bpe_trainer *t, const bpe_options *o, bpe_vocab **out, char *err,
                          size_t errlen)
{
    *out = NULL;
    int rc = check_options(o, err, errlen);
    if (rc != BPE_OK)
        return rc;
    run_state r;
    run_init(&r, t);
    while ((int32_t)r.tok.n < o->vocab_size) {
        pairs P = {0};
        pairs_rehash(&P, 1024);
        for (size_t w = 0; w < t->words.n; w++) {
            const int32_t *s = r.syms + r.off[w];
            for (uint32_t i = 0; i + 1 < r.len[w]; i++) {
                int32_t k = pair_get(&P, s[i], s[i + 1]); /* may move P.p */
                P.p[k].count += t->words.count[w];
            }
        }
        entry best = {0, -1, -1};
        for (size_t k = 0; k < P.n; k++) {
            entry e = {P.p[k].count, P.p[k].a, P.p[k].b};
            if (e.count >= o->min_frequency && (best.a < 0 || entry_before(&e, &best)) &&
                !makes_existing(&r, e.a, e.b))
                best = e;
        }
        pairs_free(&P);
        if (best.a < 0)
            break;
        makes_existing(&r, best.a, best.b); /* refill r.cat */
        int32_t c = add_merge(&r, best.a, best.b);
        for (size_t w = 0; w < t->words.n; w++)
            merge_in_word(&r, w, best.a, best.b, c);
    }
    *out = run_finish(&r, t);
    return BPE_OK;
}

/* ---- Checking and whole corpora ----------------------------------------------------------- */

int bpe_trainer_check(const bpe_trainer *t, const bpe_vocab *v, char *err, size_t errlen)
{
    if (!t->seg || t->seg_words != t->words.n) {
        util_errf(err, errlen, "no run has segmented the %zu words counted", t->words.n);
        return BPE_EARG;
    }
    int32_t *sym = NULL;
    size_t cap = 0;
    int rc = BPE_OK;
    for (size_t w = 0; w < t->words.n && rc == BPE_OK; w++) {
        const unsigned char *s = strtab_str(&t->words, (int32_t)w);
        size_t len = t->words.len[w];
        reserve((void **)&sym, &cap, len, sizeof *sym);
        for (size_t i = 0; i < len; i++)
            sym[i] = BPE_ID_BYTE0 + s[i];
        size_t n = encode_word_naive(v, sym, len);
        if (n != t->seg_len[w] || memcmp(sym, t->seg + t->seg_off[w], n * sizeof *sym) != 0) {
            util_errf(err, errlen, "word %zu '%.*s': training left %u tokens, encoding by merge "
                      "rank gives %zu (or different ones)", w, (int)(len > 60 ? 60 : len),
                      (const char *)s, t->seg_len[w], n);
            rc = BPE_ECHECK;
        }
    }
    free(sym);
    return rc;
}

int bpe_train_corpus(const bpe_options *o, bpe_corpus_fn next, void *ctx, bpe_vocab **out,
                     size_t *n_words, uint64_t *n_bytes, char *err, size_t errlen)
{
    *out = NULL;
    bpe_trainer *t = bpe_trainer_new();
    strbuf text = {0};
    int rc = BPE_OK;
    size_t i = 0;
    for (; rc == BPE_OK; i++) {
        sb_clear(&text);
        if (!next(ctx, &text))
            break;
        char sub[256];
        rc = bpe_trainer_add(t, text.data ? text.data : "", text.len, sub, sizeof sub);
        if (rc != BPE_OK)
            util_errf(err, errlen, "corpus text %zu: %s", i, sub);
    }
    sb_free(&text);
    if (rc == BPE_OK)
        rc = bpe_trainer_run(t, o, out, err, errlen);
    if (rc == BPE_OK)
        rc = bpe_trainer_check(t, *out, err, errlen);
    if (rc == BPE_OK) {
        if (n_words)
            *n_words = bpe_trainer_n_words(t);
        if (n_bytes)
            *n_bytes = bpe_trainer_n_bytes(t);
    } else {
        bpe_vocab_free(*out);
        *out = NULL;
    }
    bpe_trainer_free(t);
    return rc;
}
