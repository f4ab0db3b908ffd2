/*
 * bpe_train.c — byte-level BPE training: counting words, the fast run and
 * the naive one, checking a run (see bpe_train.h for the algorithm,
 * tie-break and ids; bpe_internal.h for the files beside this one).
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
#include "train/bpe_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bpe_options_default(bpe_options *o)
{
    o->vocab_size = 4096;
    o->min_frequency = 2;
}

/* ---- Training: counting ------------------------------------------------------------- */

struct bpe_trainer {
    bpe_strtab words; /* count = occurrences */
    uint64_t n_bytes;
    bpe_splitter split;
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
    bpe_strtab_free(&t->words);
    bpe_splitter_free(&t->split);
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
    int32_t e = bpe_strtab_add(&t->words, w, len); /* may move words.count */
    t->words.count[e]++;
    t->n_bytes += len;
}

int bpe_trainer_add(bpe_trainer *t, const char *text, size_t len, char *err, size_t errlen)
{
    return bpe_split_text(&t->split, text, len, true, count_word, t, err, errlen);
}

size_t bpe_trainer_n_words(const bpe_trainer *t) { return t->words.n; }
uint64_t bpe_trainer_n_bytes(const bpe_trainer *t) { return t->n_bytes; }

/* ---- Training: state shared by both runs ---------------------------------------------- */

typedef struct {
    const bpe_trainer *t;
    int32_t *syms;      /* all words' tokens */
    size_t *off;        /* (words) */
    uint32_t *len;      /* (words) */
    bpe_strtab tok;     /* texts of the tokens made so far, index = id */
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
        const unsigned char *s = bpe_strtab_str(&t->words, (int32_t)w);
        r->off[w] = at;
        r->len[w] = t->words.len[w];
        for (uint32_t i = 0; i < r->len[w]; i++)
            r->syms[at++] = BPE_ID_BYTE0 + s[i];
    }
    bpe_base_tokens(&r->tok);
}

/* Whether merging a and b would make a text that is already a token. */
static bool makes_existing(run_state *r, int32_t a, int32_t b)
{
    sb_clear(&r->cat);
    sb_append(&r->cat, bpe_strtab_str(&r->tok, a), r->tok.len[a]);
    sb_append(&r->cat, bpe_strtab_str(&r->tok, b), r->tok.len[b]);
    return bpe_strtab_find(&r->tok, r->cat.data, r->cat.len) >= 0;
}

/* Record the merge of a and b (makes_existing just filled r->cat). */
static int32_t add_merge(run_state *r, int32_t a, int32_t b)
{
    int32_t id = bpe_strtab_add(&r->tok, r->cat.data, r->cat.len);
    bpe_reserve((void **)&r->merge, &r->merge_cap, (size_t)r->n_merges + 1, sizeof *r->merge);
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
    return bpe_vocab_make(&r->tok, r->merge, r->n_merges);
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
    for (size_t i = bpe_hash_pair(a, b) & P->mask; P->slot[i] >= 0; i = (i + 1) & P->mask) {
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
        size_t i = bpe_hash_pair(P->p[k].a, P->p[k].b) & P->mask;
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
    bpe_reserve((void **)&P->p, &P->cap, P->n + 1, sizeof *P->p);
    k = (int32_t)P->n++;
    P->p[k] = (pair){.a = a, .b = b};
    size_t i = bpe_hash_pair(a, b) & P->mask;
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
    bpe_reserve((void **)&P->heap, &P->heap_cap, P->heap_n + 1, sizeof *P->heap);
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
            bpe_reserve((void **)&P->touched, &P->touched_cap, P->n_touched + 1, sizeof *P->touched);
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
        const unsigned char *s = bpe_strtab_str(&t->words, (int32_t)w);
        size_t len = t->words.len[w];
        bpe_reserve((void **)&sym, &cap, len, sizeof *sym);
        for (size_t i = 0; i < len; i++)
            sym[i] = BPE_ID_BYTE0 + s[i];
        size_t n = bpe_encode_word_naive(v, sym, len);
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
