/*
 * tokenizer_internal.h — what tokenizer.c (loading the vocabulary) and
 * tok_encode.c (encoding and decoding with it) share: the layout of a
 * tok_vocab and the merge-rank lookup.  Not part of the public API; nothing
 * outside those two files includes it.
 */
#ifndef FRONTDESK_TOKENIZER_INTERNAL_H
#define FRONTDESK_TOKENIZER_INTERNAL_H

#include "engine/tokenizer.h"

#include "engine/pretok.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

static inline const char *text_of(const tok_vocab *v, int32_t id) { return v->arena + v->tok[id].off; }

/* The rank of merging `left` with `right` (BPE merges), or -1. */
int32_t tok_merge_rank(const tok_vocab *v, const char *l, size_t llen, const char *r, size_t rlen);

#endif
