/*
 * fuzz_tokenizer.c — tok_encode on arbitrary text for every vocabulary
 * type, and the streaming decode of arbitrary id sequences.
 *
 * Vocabularies: the repository's models/frontdesk-vocab.gguf (byte-level
 * BPE) and, when ../shared is there ($FRONTDESK_SHARED), llama.cpp's test
 * vocabularies in ref/tokenizer/ (SentencePiece and the BPE pre-tokenizers:
 * gpt-2, llama-bpe-like deepseek, falcon, mpt, starcoder, phi-3).
 *
 * Input: byte 0 picks the vocabulary (modulo their number), byte 1 the
 * flags (bit 0 add_special, bit 1 parse_special), the rest is both the text
 * to encode and, read as 3-byte little-endian numbers, a sequence of ids
 * (from -1 to n_vocab: one past each end) to decode the way a reply
 * streams: tok_stream_push, then textout past stop strings.  Checked
 * besides not crashing: the stream releases exactly the bytes of the
 * pieces, only later (abort otherwise), and every id encoding produced is
 * in range.
 */
#include "tests/fuzz/fuzz.h"

#include "engine/gguf.h"
#include "engine/textout.h"
#include "engine/tokenizer.h"
#include "util/util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const shared_vocabs[] = {
    "ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf",   "ggml-vocab-gpt-2.gguf",
    "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-falcon.gguf", "ggml-vocab-mpt.gguf",
    "ggml-vocab-starcoder.gguf",
};

static tok_vocab *vocabs[1 + sizeof shared_vocabs / sizeof *shared_vocabs];
static size_t n_vocabs;

static tok_vocab *load(const char *path)
{
    gguf_file *f = NULL;
    tok_vocab *v = NULL;
    char err[512];
    if (gguf_open(&f, path, err, sizeof err) != GGUF_OK || tok_load(&v, f, err, sizeof err) != TOK_OK) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err);
        abort();
    }
    gguf_close(f);
    return v;
}

static void free_vocabs(void)
{
    for (size_t i = 0; i < n_vocabs; i++)
        tok_free(vocabs[i]);
    n_vocabs = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    vocabs[n_vocabs++] = load("models/frontdesk-vocab.gguf");
    const char *env = getenv("FRONTDESK_SHARED");
    const char *shared = env && *env ? env : "../shared";
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/ref/tokenizer", shared);
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        for (size_t i = 0; i < sizeof shared_vocabs / sizeof *shared_vocabs; i++) {
            char path[1200];
            snprintf(path, sizeof path, "%s/%s", dir, shared_vocabs[i]);
            vocabs[n_vocabs++] = load(path);
        }
    } else {
        fuzz_note("%s not found (reference data): fuzz_tokenizer runs on models/frontdesk-vocab.gguf "
                  "(byte-level BPE) alone, without SentencePiece and the other pre-tokenizers",
                  dir);
    }
    atexit(free_vocabs);
    return 0;
}

static bool collect(void *ud, const char *text, size_t len)
{
    sb_append(ud, text, len);
    return true;
}

/* Encode the text; every id must be a token of the vocabulary. */
static void encode(const tok_vocab *v, const char *text, size_t len, bool add_special, bool parse_special)
{
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    char err[256];
    if (tok_encode(v, text, len, add_special, parse_special, &ids, &n, &cap, err, sizeof err) == TOK_OK) {
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= tok_n_vocab(v))
                abort();
    } else if (n != 0) {
        abort(); /* a failure restores *n */
    }
    free(ids);
}

/* Stream ids out as a reply does; the stream must give back exactly the
 * concatenated pieces (it only holds bytes back), and textout passes on a
 * prefix of them. */
static void decode(const tok_vocab *v, const uint8_t *p, size_t len)
{
    static const char *const stops[] = {"\n\nUser:", "<|im_end|>", "</s>"};
    size_t max_piece = tok_max_piece(v);
    char *buf = xmalloc(max_piece + 1);
    strbuf pieces = {0}, streamed = {0}, chunk = {0}, passed = {0};
    tok_stream ts;
    tok_stream_init(&ts, v);
    textout out;
    textout_init(&out, stops, sizeof stops / sizeof *stops, collect, &passed);
    int64_t span = (int64_t)tok_n_vocab(v) + 2;
    for (size_t i = 0; i + 3 <= len; i += 3) {
        int32_t id = (int32_t)((p[i] | p[i + 1] << 8 | (int64_t)p[i + 2] << 16) % span) - 1;
        size_t n = tok_piece(v, id, buf, max_piece + 1);
        if (n > max_piece)
            abort();
        sb_append(&pieces, buf, n);
        sb_clear(&chunk);
        size_t got = tok_stream_push(&ts, id, &chunk);
        if (got != chunk.len)
            abort();
        sb_append(&streamed, chunk.data ? chunk.data : "", chunk.len);
        textout_push(&out, chunk.data ? chunk.data : "", chunk.len, false);
        tok_piece_ex(v, id, true, buf, max_piece + 1);
    }
    sb_clear(&chunk);
    tok_stream_flush(&ts, &chunk);
    sb_append(&streamed, chunk.data ? chunk.data : "", chunk.len);
    textout_push(&out, chunk.data ? chunk.data : "", chunk.len, true);
    if (streamed.len != pieces.len || (pieces.len && memcmp(streamed.data, pieces.data, pieces.len)))
        abort();
    if (passed.len > streamed.len || (passed.len && memcmp(passed.data, streamed.data, passed.len)))
        abort();
    if (!out.matched && passed.len != streamed.len)
        abort();
    textout_free(&out);
    sb_free(&pieces);
    sb_free(&streamed);
    sb_free(&chunk);
    sb_free(&passed);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || n_vocabs == 0)
        return 0;
    const tok_vocab *v = vocabs[data[0] % n_vocabs];
    bool add_special = data[1] & 1, parse_special = data[1] & 2;
    encode(v, (const char *)data + 2, size - 2, add_special, parse_special);
    decode(v, data + 2, size - 2);
    return 0;
}
