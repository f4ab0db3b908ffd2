/*
 * pretok.h — pre-tokenizers: cut a text (as code points) into the words
 * that byte-level BPE then merges one at a time.
 *
 * Each kind reproduces the list of regexes llama.cpp applies for a
 * `tokenizer.ggml.pre` value (src/llama-vocab.cpp, llm_tokenizer_bpe), in
 * order: the first regex splits the text, each later one splits every piece
 * the previous left, and text a regex does not match stays as pieces of its
 * own.  There is no regex engine here: each regex is a small matcher over
 * code-point classes (unicode.h), written to give exactly what llama.cpp's
 * matcher gives, including its quirks (documented at each matcher).
 *
 * What it does not do: byte-level encoding, merges, special tokens (see
 * tok_encode.c).
 */
#ifndef FRONTDESK_PRETOK_H
#define FRONTDESK_PRETOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    PRETOK_DEFAULT,        /* "default", or no pre-tokenizer named          */
    PRETOK_GPT2,           /* "gpt-2", "mpt", ...                            */
    PRETOK_LLAMA3,         /* "llama-bpe" (Llama 3), ...                     */
    PRETOK_QWEN2,          /* "qwen2", ...                                   */
    PRETOK_STARCODER,      /* "starcoder", "refact", "smollm", ...           */
    PRETOK_FALCON,         /* "falcon"                                       */
    PRETOK_DEEPSEEK_LLM,   /* "deepseek-llm"                                 */
    PRETOK_DEEPSEEK_CODER, /* "deepseek-coder"                               */
} pretok_kind;

/* Word lengths, in code points, in text order (a growable array, grown
 * fallibly: its size follows the text's). */
typedef struct {
    size_t *len;
    size_t n, cap;
    bool oom; /* a length was dropped for want of memory: the split is void */
} pretok_words;

/* Split cps[0..n) and append the word lengths to *out (which the caller
 * zero-initialises and frees with pretok_words_free).  The lengths always
 * sum to n unless out->oom is set afterwards (out of memory: the lengths
 * are then incomplete, but still within cps[0..n)); an empty input appends
 * nothing. */
void pretok_split(pretok_kind kind, const uint32_t *cps, size_t n, pretok_words *out);

void pretok_words_free(pretok_words *w); /* accepts a zeroed struct */

#endif
