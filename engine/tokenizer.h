/*
 * tokenizer.h — text <-> token ids, exactly as llama.cpp tokenizes.
 *
 * The vocabulary comes from a GGUF file's `tokenizer.ggml.*` metadata (a
 * vocabulary-only file with no tensors is fine):
 *
 *   model = "llama"  SentencePiece: tokens with scores, spaces spelt '▁'
 *                    (U+2581), a '▁' prepended to the text, the best-scoring
 *                    adjacent pair merged repeatedly, bytes without a token
 *                    spelt with the byte tokens <0x00>..<0xFF>.
 *   model = "gpt2"   byte-level BPE: the text is cut into words by the
 *                    pre-tokenizer `tokenizer.ggml.pre` names (pretok.h; no
 *                    name means "default", an unknown name is an error), each
 *                    word's bytes are spelt in GPT-2's printable alphabet and
 *                    merged by `tokenizer.ggml.merges` rank.
 *
 * Before either, the text is cut at special tokens: always at USER_DEFINED
 * tokens, and at CONTROL/UNKNOWN ones (<|im_end|>, <s>, ...) only when the
 * caller asks for parse_special.  Invalid UTF-8 is handled as llama.cpp does:
 * SentencePiece spells the bad bytes with byte tokens, BPE reads each bad
 * byte as U+FFFD; the one thing llama.cpp cannot encode (a 4-byte form above
 * U+10FFFF) is an error here.
 *
 * Ownership: a tok_vocab copies what it needs, so the gguf_file may be
 * closed after tok_load.  A tok_vocab is immutable after loading and may be
 * shared between threads; tok_encode allocates its scratch per call.
 *
 * Errors: functions that can fail return 0 or a negative TOK_E* code and
 * write a one-line message into err (when errlen > 0) naming the metadata
 * key or the input offset at fault.  Tables sized by the file's counts and
 * buffers sized by the text are allocated fallibly (util/alloc.h): running
 * out of memory is TOK_ENOMEM, with everything allocated so far freed.
 */
#ifndef FRONTDESK_TOKENIZER_H
#define FRONTDESK_TOKENIZER_H

#include "engine/gguf.h"
#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    TOK_OK = 0,
    TOK_EBAD = -1,   /* missing, ill-typed or inconsistent metadata          */
    TOK_EUNSUP = -2, /* a tokenizer model or pre-tokenizer we do not support */
    TOK_EINPUT = -3, /* text that cannot be tokenized                        */
    TOK_ENOMEM = -4, /* out of memory for buffers sized by the file or text  */
};

typedef struct tok_vocab tok_vocab;

/* ---- Loading -------------------------------------------------------------- */

/* Build the vocabulary from f's metadata.  On failure *out is NULL. */
int tok_load(tok_vocab **out, const gguf_file *f, char *err, size_t errlen);
void tok_free(tok_vocab *v); /* accepts NULL */

/* ---- Encoding -------------------------------------------------------------- */

/* Tokenize len bytes of text (NUL bytes are ordinary bytes).  add_special
 * adds BOS/EOS where the vocabulary asks for them (tokenizer.ggml.add_bos_token
 * / add_eos_token; by default BOS for SentencePiece, nothing for BPE);
 * parse_special turns CONTROL-token text in the input into those tokens.
 * The ids are appended to the growable array *ids (*n used, *cap allocated;
 * start from NULL/0/0, the caller frees *ids).  On failure *n is restored. */
int tok_encode(const tok_vocab *v, const char *text, size_t len, bool add_special,
               bool parse_special, int32_t **ids, size_t *n, size_t *cap, char *err,
               size_t errlen);

/* ---- Decoding -------------------------------------------------------------- */

/* The bytes token `id` stands for in output text: '▁' becomes ' ', byte
 * tokens become their byte, GPT-2's alphabet is read back into bytes, and
 * CONTROL/UNKNOWN tokens (BOS, <|im_end|>, ...) render as nothing.  Writes at
 * most cap bytes (no terminating NUL) and returns the piece's full length, so
 * a result > cap means buf was too small.  Out-of-range ids give 0. */
size_t tok_piece(const tok_vocab *v, int32_t id, char *buf, size_t cap);
/* The same, but CONTROL/UNKNOWN tokens render as their text when `special`. */
size_t tok_piece_ex(const tok_vocab *v, int32_t id, bool special, char *buf, size_t cap);
/* An upper bound on any piece's length (for sizing buffers). */
size_t tok_max_piece(const tok_vocab *v);

/* Streaming detokenizer: pieces of successive tokens are concatenated, but a
 * UTF-8 character split across tokens (e.g. the byte tokens <0xE4><0xBD><0xA0>)
 * is only released once complete, so a UI never shows half a character.
 * Bytes that can never complete a character are released as they are.  The
 * struct is plain data: no allocation, no free. */
typedef struct {
    const tok_vocab *vocab;
    unsigned char pending[4]; /* an incomplete character held back */
    unsigned n_pending;
} tok_stream;

void tok_stream_init(tok_stream *s, const tok_vocab *v);
/* Append to out the bytes of `id` that are ready; returns how many. */
size_t tok_stream_push(tok_stream *s, int32_t id, strbuf *out);
/* Append whatever is still held back (an unfinished character, as is). */
size_t tok_stream_flush(tok_stream *s, strbuf *out);

/* ---- Vocabulary facts ------------------------------------------------------- */

int32_t tok_n_vocab(const tok_vocab *v);
/* Special ids, -1 when the vocabulary has none. */
int32_t tok_bos(const tok_vocab *v);
int32_t tok_eos(const tok_vocab *v);
int32_t tok_eot(const tok_vocab *v);
int32_t tok_pad(const tok_vocab *v);
int32_t tok_unk(const tok_vocab *v);
/* Whether encoding with add_special adds BOS / EOS. */
bool tok_adds_bos(const tok_vocab *v);
bool tok_adds_eos(const tok_vocab *v);
/* End of generation: EOS, EOT, and every token llama.cpp stops on by its
 * text (<|im_end|>, <|eot_id|>, <|endoftext|>, <end_of_turn>, ...). */
bool tok_is_eog(const tok_vocab *v, int32_t id);
/* CONTROL/UNKNOWN tokens: the ones tok_piece renders as nothing. */
bool tok_is_control(const tok_vocab *v, int32_t id);

const char *tok_type_name(const tok_vocab *v); /* "llama" (SPM) or "gpt2" (BPE) */
const char *tok_pre_name(const tok_vocab *v);  /* e.g. "gpt-2"; "default" if unnamed */

/* Exact token text -> id, or -1. */
int32_t tok_find(const tok_vocab *v, const char *text, size_t len);
/* The token's text as stored in the vocabulary (not NUL-terminated); NULL
 * for an out-of-range id. */
const char *tok_text(const tok_vocab *v, int32_t id, size_t *len);

#endif
