/*
 * tok_check.h — what the tokenizer's suites (test_tokenizer: against
 * llama.cpp's vectors, pre-tokenizers by hand, metadata; test_tokenizer_loops:
 * merge loops against naive ones, specials, streaming, hostile input)
 * share: vocabularies opened from files or built in memory as GGUF images,
 * encoding that fails the test on an error, and id comparisons.
 */
#ifndef FRONTDESK_TESTS_TOK_CHECK_H
#define FRONTDESK_TESTS_TOK_CHECK_H

#include "engine/gguf.h"
#include "engine/tokenizer.h"
#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int32_t *ids;
    size_t n, cap;
} idvec;

/* A vocabulary and the GGUF file it was read from. */
typedef struct {
    gguf_file *f;
    tok_vocab *v;
    void *image; /* in-memory files: the bytes */
} vocab_file;

/* The vocabulary of the GGUF file at path; fails the test when it cannot. */
vocab_file tc_open_vocab(const char *path);
void tc_close_vocab(vocab_file *vf);
/* tok_encode, failing the test on an error. */
idvec tc_encode(const tok_vocab *v, const char *text, size_t len, bool add, bool parse);
bool tc_same_ids(const idvec *a, const int32_t *b, size_t n);
/* The first 40 ids, labelled, on stderr. */
void tc_print_ids(const char *label, const int32_t *ids, size_t n);
/* Whether p[0..n) is well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF). */
bool tc_utf8_valid(const unsigned char *p, size_t n);

/* ---- In-memory GGUF vocabularies: key/value pairs, then tc_load_built ---- */

typedef struct {
    strbuf kv;
    uint64_t n_kv;
} gguf_builder;

void tc_kv_str(gguf_builder *g, const char *key, const char *val);
void tc_kv_u32(gguf_builder *g, const char *key, uint32_t val);
void tc_kv_bool(gguf_builder *g, const char *key, bool val);
void tc_kv_strs(gguf_builder *g, const char *key, const char *const *items, size_t n);
/* An array of n 4-byte numbers of GGUF type `type` (i32/f32). */
void tc_kv_nums(gguf_builder *g, const char *key, uint32_t type, const void *items, size_t n);
/* Finish the image and load it; returns the tok_load status (vf->v set on
 * success, err filled otherwise). */
int tc_load_built(gguf_builder *g, vocab_file *vf, char *err, size_t errlen);
/* The GGUF text of byte b in GPT-2's alphabet (static storage per byte). */
const char *tc_byte_text(unsigned b);
/* A byte-level BPE vocabulary: the 256 byte tokens (id = byte), then one
 * token per merge result ("a b" gives "ab"); `pre` NULL leaves
 * tokenizer.ggml.pre out. */
int tc_build_bpe(vocab_file *vf, const char *pre, const char *const *merges, size_t n_merges, char *err,
                 size_t errlen);
/* A SentencePiece vocabulary with byte tokens: <unk> <s> </s>, <0x00>..<0xFF>
 * (ids 3..258), then "▁" (259) and "▁a" (260). */
enum { SPM_BYTE0 = 3, SPM_SPACE = 259, SPM_SPACE_A = 260 };
int tc_build_spm(vocab_file *vf, char *err, size_t errlen);

#endif
