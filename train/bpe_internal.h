/*
 * bpe_internal.h — what the BPE trainer's three files share, private to
 * train/: hashing, a growable array, the byte-string table (words with
 * counts; token texts), cutting text into words, and how a vocabulary is
 * made from a run's token table and merges.
 *
 *   bpe_text.c   the byte-string table and the splitter
 *   bpe_vocab.c  the vocabulary: ranks, the trainer's own encoder, GGUF keys
 *   bpe_train.c  counting words and the two training runs
 */
#ifndef FRONTDESK_BPE_INTERNAL_H
#define FRONTDESK_BPE_INTERNAL_H

#include "train/bpe_train.h"

#include "engine/pretok.h"
#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Hashing ------------------------------------------------------------------ */

static inline uint64_t bpe_hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

static inline uint64_t bpe_hash_pair(int32_t a, int32_t b)
{
    uint64_t x = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* Make room for `count` elements of `size` bytes in *p. */
static inline void bpe_reserve(void **p, size_t *cap, size_t count, size_t size)
{
    if (count <= *cap)
        return;
    size_t c = *cap ? *cap : 16;
    while (c < count)
        c *= 2;
    *p = xreallocarray(*p, c, size);
    *cap = c;
}

/* ---- A table of byte strings (bpe_text.c) ------------------------------------------ */

typedef struct {
    unsigned char *arena;
    size_t arena_len, arena_cap;
    size_t *off;
    uint32_t *len;
    int64_t *count;
    size_t n, cap;
    int32_t *slot; /* open addressing over entry indices, -1 = empty */
    size_t mask;
} bpe_strtab;

void bpe_strtab_free(bpe_strtab *t);
int32_t bpe_strtab_find(const bpe_strtab *t, const void *s, size_t len);
/* The entry for s, added with count 0 if new. */
int32_t bpe_strtab_add(bpe_strtab *t, const void *s, size_t len);
const unsigned char *bpe_strtab_str(const bpe_strtab *t, int32_t e);

/* ---- Cutting text into words (bpe_text.c) ------------------------------------------- */

typedef struct {
    uint32_t *cps;
    size_t cps_cap;
    unsigned char *buf; /* one word's bytes */
    size_t buf_cap;
    pretok_words words;
} bpe_splitter;

/* Called once per word (bytes, special = -1) or special token (NULL, 0, id). */
typedef void (*bpe_word_fn)(void *ctx, const unsigned char *w, size_t len, int32_t special);

void bpe_splitter_free(bpe_splitter *s);
/* Cut at special tokens (when `special`), then pre-tokenize the rest.  The
 * whole text is checked before any callback, so a failure reports nothing. */
int bpe_split_text(bpe_splitter *s, const char *text, size_t len, bool special, bpe_word_fn fn,
                   void *ctx, char *err, size_t errlen);

/* ---- Vocabularies (bpe_vocab.c) -------------------------------------------------------- */

/* The specials and the 256 bytes: the start of every vocabulary. */
void bpe_base_tokens(bpe_strtab *tok);
/* Take the token table (left empty) and merge list (owned) a run built. */
bpe_vocab *bpe_vocab_make(bpe_strtab *tok, int32_t (*merge)[2], int32_t n_merges);
/* Merge the adjacent pair of lowest rank, leftmost first, until no pair has
 * a rank.  Returns the new length. */
size_t bpe_encode_word_naive(const bpe_vocab *v, int32_t *s, size_t n);

#endif
