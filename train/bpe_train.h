/*
 * bpe_train.h — learn a byte-level BPE vocabulary from text, the GPT-2 way,
 * and store it as a standard GGUF `gpt2` tokenizer.
 *
 * Training.  Each text is cut at the special tokens' texts (they are never
 * part of a word), every piece is split into words by the engine's `gpt-2`
 * pre-tokenizer (pretok.h: the very splitter tok_encode uses), and identical
 * words are counted.  Starting from one token per byte, the adjacent pair of
 * tokens occurring most often (each word's pairs times the word's count) is
 * merged into a new token, in every word, left to right; then again, until
 * the vocabulary reaches the requested size or no pair occurs at least
 * `min_frequency` times.  Pair counts are updated incrementally: each pair
 * keeps the list of words it occurs in, so a merge touches only those words
 * (bpe_trainer_run_naive recounts everything per merge, for tests).
 *
 * Tie-break, fixed and platform-independent: among pairs with the highest
 * count, the one whose left token has the lowest id wins, then the one whose
 * right token has the lowest id.  Ids follow creation (bytes by value, then
 * merges by rank), so "lowest id" means "byte value" or "learnt earlier".
 *
 * A safety rule on top of GPT-2's: a pair whose concatenation is already a
 * token (say "ab"+"c" once "a"+"bc" exists) is never merged.  A GGUF
 * vocabulary holds each text once, and a second route to one token would
 * make rank-order merging (llama.cpp, tokenizer.h) disagree with the
 * trainer's own segmentation.  (Plain BPE seems never to produce such a
 * pair: a randomized search over small corpora found none; the rule costs
 * one look-up per merge.)  So every merge creates exactly one token, and
 * encoding a training word by merge rank reproduces, token for token, the
 * segmentation training left it in (bpe_trainer_check verifies it).
 *
 * Ids:  0 <|endoftext|>, 1 <|im_start|>, 2 <|im_end|>   (CONTROL)
 *       3 .. 258       the bytes 0x00 .. 0xFF            (id = 3 + byte)
 *       259 + r        the token made by merge rank r
 *
 * GGUF (bpe_vocab_to_gguf): tokenizer.ggml.model "gpt2", .pre "gpt-2",
 * .tokens spelt in GPT-2's printable byte alphabet (' ' is 'Ġ', '\n' is 'Ċ';
 * see unicode.h), .token_type (1 normal, 3 control), .merges "left right" in
 * rank order, bos = padding = <|endoftext|>, eos = eot = <|im_end|>,
 * add_bos_token = add_eos_token = false, and tokenizer.chat_template = the
 * standard ChatML Jinja template (bpe_chatml_template).  This is what
 * llama.cpp's converter writes for a ChatML model such as Qwen2-Instruct,
 * except that eot_token_id is written too: without it a loader picks the
 * end-of-turn token by text and may take <|endoftext|>.  Generation stops at
 * <|im_end|> (the EOS, hence end-of-generation for every loader) and also at
 * <|endoftext|> (end-of-generation by its text in llama.cpp and tokenizer.c).
 *
 * Errors: fallible calls return BPE_OK or a negative BPE_E* code and write
 * a one-line message into err (when errlen > 0).  Out-of-memory aborts.
 */
#ifndef FRONTDESK_BPE_TRAIN_H
#define FRONTDESK_BPE_TRAIN_H

#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    BPE_OK = 0,
    BPE_EINPUT = -1, /* text that cannot be tokenized (UTF-8 above U+10FFFF)  */
    BPE_EARG = -2,   /* bad options, or a call out of order                     */
    BPE_EGGUF = -3,  /* the GGUF writer refused a value                         */
    BPE_ECHECK = -4, /* bpe_trainer_check found a disagreement                  */
};

/* The fixed ids (see above). */
enum {
    BPE_ID_ENDOFTEXT = 0,
    BPE_ID_IM_START = 1,
    BPE_ID_IM_END = 2,
    BPE_N_SPECIAL = 3,
    BPE_ID_BYTE0 = 3,      /* the token of byte b is BPE_ID_BYTE0 + b */
    BPE_ID_FIRST_MERGE = 259,
};

/* The special tokens' texts, indexed by id. */
extern const char *const bpe_special_text[BPE_N_SPECIAL];

/* The ChatML template written to tokenizer.chat_template. */
extern const char bpe_chatml_template[];

/* ---- Options ---------------------------------------------------------------- */

typedef struct {
    int32_t vocab_size;    /* target size incl. specials and bytes (>= 259) */
    int64_t min_frequency; /* merge only pairs seen at least this often (>= 1) */
} bpe_options;

/* vocab_size 4096, min_frequency 2. */
void bpe_options_default(bpe_options *o);

/* ---- The vocabulary ---------------------------------------------------------- */

typedef struct bpe_vocab bpe_vocab;

void bpe_vocab_free(bpe_vocab *v); /* accepts NULL */

int32_t bpe_vocab_size(const bpe_vocab *v);     /* tokens, specials included */
int32_t bpe_vocab_n_merges(const bpe_vocab *v); /* = size - BPE_ID_FIRST_MERGE */
/* The bytes a token stands for (a special token: its text); NULL for an
 * out-of-range id.  Not NUL-terminated. */
const unsigned char *bpe_vocab_bytes(const bpe_vocab *v, int32_t id, size_t *len);
/* The pair merge `rank` joins (its result is BPE_ID_FIRST_MERGE + rank);
 * false for an out-of-range rank. */
bool bpe_vocab_merge(const bpe_vocab *v, int32_t rank, int32_t *left, int32_t *right);

/* The trainer's own encoder, written independently of tokenizer.h as the
 * reference it must match: cut at special-token texts when parse_special
 * (otherwise they are plain text), split with the gpt-2 pre-tokenizer, and in
 * each word merge the adjacent pair of lowest rank, leftmost first, until none
 * has a rank (naive O(n^2) per word).  Invalid UTF-8 is read as tok_encode
 * reads it (each bad byte is U+FFFD); a 4-byte form above U+10FFFF is
 * BPE_EINPUT.  Ids are appended to *ids (*n used, *cap allocated; start from
 * NULL/0/0, the caller frees); on failure *n is restored. */
int bpe_vocab_encode(const bpe_vocab *v, const char *text, size_t len, bool parse_special,
                     int32_t **ids, size_t *n, size_t *cap, char *err, size_t errlen);

/* Add the complete tokenizer.* key set (see the top of this file) to w.
 * general.* keys are the caller's. */
int bpe_vocab_to_gguf(const bpe_vocab *v, gguf_writer *w, char *err, size_t errlen);

/* Copy every tokenizer.* key of src into w (e.g. a vocabulary-only file's
 * into a trained model's).  Returns how many keys were copied, or BPE_EGGUF. */
int bpe_copy_tokenizer_kv(const gguf_file *src, gguf_writer *w, char *err, size_t errlen);

/* ---- Training ------------------------------------------------------------------ */

typedef struct bpe_trainer bpe_trainer;

bpe_trainer *bpe_trainer_new(void);
void bpe_trainer_free(bpe_trainer *t); /* accepts NULL */

/* Count the words of one text (cut at special-token texts, then
 * pre-tokenized).  BPE_EINPUT for UTF-8 above U+10FFFF (nothing counted). */
int bpe_trainer_add(bpe_trainer *t, const char *text, size_t len, char *err, size_t errlen);

/* What has been counted so far. */
size_t bpe_trainer_n_words(const bpe_trainer *t);   /* distinct words      */
uint64_t bpe_trainer_n_bytes(const bpe_trainer *t); /* bytes in all words  */

/* Learn merges over the words counted so far (the trainer may go on
 * counting and run again).  *out is NULL on failure. */
int bpe_trainer_run(bpe_trainer *t, const bpe_options *o, bpe_vocab **out, char *err, size_t errlen);
/* The same result by recounting every pair before each merge: slow
 * (merges x corpus), kept as the reference the fast version is tested
 * against. */
int bpe_trainer_run_naive(bpe_trainer *t, const bpe_options *o, bpe_vocab **out, char *err,
                          size_t errlen);

/* After a run that produced v: encode every distinct word with
 * bpe_vocab_encode's merge loop and compare with the segmentation training
 * left it in.  BPE_ECHECK (naming the word) on the first difference. */
int bpe_trainer_check(const bpe_trainer *t, const bpe_vocab *v, char *err, size_t errlen);

/* ---- A whole corpus -------------------------------------------------------------- */

/* Produces the next text of a corpus into `text` (cleared by the caller);
 * returns false when there are no more. */
typedef bool (*bpe_corpus_fn)(void *ctx, strbuf *text);

/* Count every text `next` produces, train, and check the result
 * (bpe_trainer_check).  Optional figures: *n_words distinct words, *n_bytes
 * bytes counted (NULL to skip). */
int bpe_train_corpus(const bpe_options *o, bpe_corpus_fn next, void *ctx, bpe_vocab **out,
                     size_t *n_words, uint64_t *n_bytes, char *err, size_t errlen);

#endif
