/*
 * tok_encode.c — text to token ids and back with a loaded vocabulary
 * (tokenizer.h): cutting the text at special tokens, the SentencePiece and
 * byte-level BPE merge loops, tok_encode, token pieces and the streaming
 * UTF-8 decoder.  Loading the vocabulary lives in tokenizer.c.
 *
 * Every rule here reproduces llama.cpp's src/llama-vocab.cpp (how the merge
 * queues order ties, which tokens are cut out).  Where llama.cpp would throw
 * (an SPM byte with no byte token) we fall back to the unknown token or
 * report an error.
 *
 * Every buffer of an encoding grows with the text, so all are allocated
 * fallibly (util/alloc.h): a push that finds no memory sets a sticky `oom`
 * flag and drops its element (nothing reads past what was stored), and
 * tok_encode turns the flag into TOK_ENOMEM once the pass ends.
 *
 * Not supported: the whole-sequence detokenizer's clean-up of spaces.
 */
#include "engine/tokenizer_internal.h"

#include "engine/pretok.h"
#include "engine/unicode.h"
#include "util/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Encoding: scratch and output ------------------------------------------- */

/* A symbol of the merge loops: bytes [start, start+n) of the scratch text,
 * linked to its neighbours; n == 0 once merged into its left neighbour. */
typedef struct {
    size_t start;
    uint32_t n;
    int32_t prev, next;
} symbol;

/* A candidate merge of two adjacent symbols.  SPM takes the highest score
 * first, BPE the lowest rank; ties go to the leftmost pair. */
typedef struct {
    float score;
    int32_t rank;
    int32_t left, right;
    uint32_t size; /* bytes of the pair when pushed: stale entries differ */
} bigram;

/* A piece of the input: raw text, or a special token cut out of it. */
typedef struct {
    size_t off, len;
    int32_t tok; /* -1 for raw text */
} frag;

typedef struct {
    unsigned char *buf; /* SPM: the escaped text; BPE: one word in GPT-2's alphabet */
    size_t buf_cap;
    uint32_t *cps;
    size_t cps_cap;
    symbol *sym;
    size_t sym_cap;
    bigram *heap;
    size_t heap_n, heap_cap;
    frag *frag, *frag2;
    size_t n_frag, n_frag2, frag_cap, frag2_cap;
    pretok_words words;
    bool oom; /* a push found no memory: the encoding is void */
} scratch;

typedef struct {
    int32_t **ids;
    size_t *n, *cap;
    bool oom; /* an id was dropped for want of memory */
} tok_out;

static void out_push(tok_out *o, int32_t id)
{
    if (o->oom)
        return;
    if (*o->n == *o->cap) {
        size_t c = *o->cap ? 2 * *o->cap : 64;
        int32_t *p = try_reallocarray(*o->ids, c, sizeof **o->ids);
        if (!p) {
            o->oom = true;
            return;
        }
        *o->ids = p;
        *o->cap = c;
    }
    (*o->ids)[(*o->n)++] = id;
}

/* Make room for `count` elements of `size` bytes in *p; false (and *p as
 * it was) when memory runs out. */
static bool reserve(void **p, size_t *cap, size_t count, size_t size)
{
    if (count <= *cap)
        return true;
    size_t c = *cap ? *cap : 64;
    while (c < count)
        c *= 2;
    void *q = try_reallocarray(*p, c, size);
    if (!q)
        return false;
    *p = q;
    *cap = c;
    return true;
}

static void frag_push(scratch *s, frag **a, size_t *n, size_t *cap, frag f)
{
    if (s->oom || !reserve((void **)a, cap, *n + 1, sizeof **a)) {
        s->oom = true;
        return;
    }
    (*a)[(*n)++] = f;
}

static void scratch_free(scratch *s)
{
    free(s->buf);
    free(s->cps);
    free(s->sym);
    free(s->heap);
    free(s->frag);
    free(s->frag2);
    pretok_words_free(&s->words);
}

static bool bigram_before(const bigram *a, const bigram *b, bool spm)
{
    if (spm ? a->score != b->score : a->rank != b->rank)
        return spm ? a->score > b->score : a->rank < b->rank;
    return a->left < b->left;
}

static void heap_push(scratch *s, bigram b, bool spm)
{
    if (s->oom || !reserve((void **)&s->heap, &s->heap_cap, s->heap_n + 1, sizeof *s->heap)) {
        s->oom = true;
        return;
    }
    size_t i = s->heap_n++;
    for (; i > 0 && bigram_before(&b, &s->heap[(i - 1) / 2], spm); i = (i - 1) / 2)
        s->heap[i] = s->heap[(i - 1) / 2];
    s->heap[i] = b;
}

static bigram heap_pop(scratch *s, bool spm)
{
    bigram top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_n)
            break;
        if (c + 1 < s->heap_n && bigram_before(&s->heap[c + 1], &s->heap[c], spm))
            c++;
        if (!bigram_before(&s->heap[c], &last, spm))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_n)
        s->heap[i] = last;
    return top;
}

/* Cut buf[0..m) into one symbol per UTF-8 sequence (by its first byte,
 * clipped at the end: malformed text still gets symbols).  Returns the count. */
static int32_t make_symbols(scratch *s, size_t m)
{
    if (!reserve((void **)&s->sym, &s->sym_cap, m, sizeof *s->sym)) {
        s->oom = true;
        return 0;
    }
    int32_t k = 0;
    for (size_t off = 0; off < m; k++) {
        size_t n = uni_seq_len(s->buf[off]);
        if (n > m - off)
            n = m - off;
        s->sym[k] = (symbol){off, (uint32_t)n, k - 1, off + n == m ? -1 : k + 1};
        off += n;
    }
    return k;
}

/* The merge loop both models share: pop the best pair, skip it if either
 * side changed since it was pushed, merge, and offer the new neighbours. */
static void merge_loop(const tok_vocab *v, scratch *s, bool spm,
                       void (*offer)(const tok_vocab *, scratch *, int32_t, int32_t))
{
    while (s->heap_n && !s->oom) {
        bigram b = heap_pop(s, spm);
        symbol *l = &s->sym[b.left], *r = &s->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            s->sym[r->next].prev = b.left;
        offer(v, s, l->prev, b.left);
        offer(v, s, b.left, l->next);
    }
}

/* ---- Encoding: special tokens ------------------------------------------------ */

static bool is_c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Cut the text at special tokens, llama.cpp's tokenizer_st_partition: each
 * token in turn (longest first) splits every raw piece at each of its
 * occurrences, left to right; LSTRIP/RSTRIP tokens swallow the blanks
 * before/after them. */
static void partition(const tok_vocab *v, const char *text, size_t len, bool parse_special, scratch *s)
{
    s->n_frag = 0;
    if (len)
        frag_push(s, &s->frag, &s->n_frag, &s->frag_cap, (frag){0, len, -1});
    for (size_t k = 0; k < v->n_special && !s->oom; k++) {
        int32_t id = v->special[k];
        const tok_entry *t = &v->tok[id];
        if (!parse_special && (t->attr & ATTR_SPECIAL))
            continue; /* user-defined tokens are cut out regardless */
        const char *tt = text_of(v, id);
        bool found = false;
        for (size_t i = 0; i < s->n_frag && !found; i++)
            found = s->frag[i].tok < 0 &&
                    memmem(text + s->frag[i].off, s->frag[i].len, tt, t->len) != NULL;
        if (!found)
            continue;
        s->n_frag2 = 0;
        for (size_t i = 0; i < s->n_frag; i++) {
            frag f = s->frag[i];
            if (f.tok >= 0) {
                frag_push(s, &s->frag2, &s->n_frag2, &s->frag2_cap, f);
                continue;
            }
            size_t pos = f.off, end = f.off + f.len;
            for (const char *hit; (hit = memmem(text + pos, end - pos, tt, t->len)) != NULL;) {
                size_t m = (size_t)(hit - text), llen = m - pos;
                if (t->attr & ATTR_LSTRIP)
                    while (llen > 0 && is_c_space(text[pos + llen - 1]))
                        llen--;
                if (llen)
                    frag_push(s, &s->frag2, &s->n_frag2, &s->frag2_cap, (frag){pos, llen, -1});
                frag_push(s, &s->frag2, &s->n_frag2, &s->frag2_cap, (frag){0, 0, id});
                pos = m + t->len;
                if (t->attr & ATTR_RSTRIP)
                    while (pos < end && is_c_space(text[pos]))
                        pos++;
            }
            if (pos < end)
                frag_push(s, &s->frag2, &s->n_frag2, &s->frag2_cap, (frag){pos, end - pos, -1});
        }
        frag *tf = s->frag;
        size_t tc = s->frag_cap;
        s->frag = s->frag2, s->frag_cap = s->frag2_cap, s->n_frag = s->n_frag2;
        s->frag2 = tf, s->frag2_cap = tc;
    }
}

/* ---- Encoding: SentencePiece ----------------------------------------------- */

static void spm_offer(const tok_vocab *v, scratch *s, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return;
    uint32_t size = s->sym[left].n + s->sym[right].n;
    int32_t id = tok_find(v, (const char *)s->buf + s->sym[left].start, size);
    if (id >= 0)
        heap_push(s, (bigram){v->tok[id].score, 0, left, right, size}, true);
}

/* One raw piece: spaces become '▁' (with one prepended when asked), then
 * adjacent symbols merge while their concatenation is a token, best score
 * first; what is left and is not a token is spelt byte by byte. */
static int spm_encode(const tok_vocab *v, scratch *s, const char *text, size_t len, bool prefix,
                      tok_out *o, size_t base, char *err, size_t errlen)
{
    if (!reserve((void **)&s->buf, &s->buf_cap, 3 * (len + 1), 1)) {
        s->oom = true;
        return TOK_ENOMEM;
    }
    size_t m = 0;
    for (size_t i = (prefix ? 0 : 1); i <= len; i++) {
        char c = i == 0 ? ' ' : text[i - 1];
        if (c == ' ') {
            memcpy(s->buf + m, "\xE2\x96\x81", 3);
            m += 3;
        } else {
            s->buf[m++] = (unsigned char)c;
        }
    }
    int32_t nsym = make_symbols(s, m);
    s->heap_n = 0;
    for (int32_t i = 1; i < nsym; i++)
        spm_offer(v, s, i - 1, i);
    merge_loop(v, s, true, spm_offer);

    for (int32_t i = nsym ? 0 : -1; i != -1; i = s->sym[i].next) {
        const symbol *sy = &s->sym[i];
        int32_t id = tok_find(v, (const char *)s->buf + sy->start, sy->n);
        if (id >= 0) {
            out_push(o, id);
            continue;
        }
        for (uint32_t j = 0; j < sy->n; j++) {
            unsigned char b = s->buf[sy->start + j];
            id = v->byte_token[b] >= 0 ? v->byte_token[b] : v->unk;
            if (id < 0) {
                util_errf(err, errlen, "byte 0x%02X near input offset %zu has no token and the "
                          "vocabulary has no byte or unknown tokens", b, base);
                return TOK_EINPUT;
            }
            out_push(o, id);
        }
    }
    return TOK_OK;
}

/* ---- Encoding: byte-level BPE ------------------------------------------------- */

static void bpe_offer(const tok_vocab *v, scratch *s, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return;
    const symbol *l = &s->sym[left], *r = &s->sym[right];
    int32_t rank = tok_merge_rank(v, (const char *)s->buf + l->start, l->n,
                                  (const char *)s->buf + r->start, r->n);
    if (rank >= 0)
        heap_push(s, (bigram){0, rank, left, right, l->n + r->n}, false);
}

/* One word, already in GPT-2's alphabet in s->buf[0..m). */
static void bpe_word(const tok_vocab *v, scratch *s, size_t m, tok_out *o)
{
    if (v->ignore_merges) { /* Llama 3: a word that is a token is not merged */
        int32_t id = tok_find(v, (const char *)s->buf, m);
        if (id >= 0) {
            out_push(o, id);
            return;
        }
    }
    int32_t nsym = make_symbols(s, m);
    s->heap_n = 0;
    for (int32_t i = 1; i < nsym; i++)
        bpe_offer(v, s, i - 1, i);
    merge_loop(v, s, false, bpe_offer);

    for (int32_t i = nsym ? 0 : -1; i != -1; i = s->sym[i].next) {
        const symbol *sy = &s->sym[i];
        int32_t id = tok_find(v, (const char *)s->buf + sy->start, sy->n);
        if (id >= 0) {
            out_push(o, id);
            continue;
        }
        /* llama.cpp then tries each byte as a one-byte token, and drops
         * the bytes that are not */
        for (uint32_t j = 0; j < sy->n; j++)
            if ((id = tok_find(v, (const char *)s->buf + sy->start + j, 1)) >= 0)
                out_push(o, id);
    }
}

static int bpe_encode(const tok_vocab *v, scratch *s, const char *text, size_t len, tok_out *o,
                      size_t base, char *err, size_t errlen)
{
    if (!reserve((void **)&s->cps, &s->cps_cap, len, sizeof *s->cps)) {
        s->oom = true;
        return TOK_ENOMEM;
    }
    size_t ncp = 0;
    for (size_t off = 0, adv; off < len; off += adv) {
        uint32_t cp = uni_decode((const unsigned char *)text + off, len - off, &adv);
        if (cp > 0x10FFFF) { /* llama.cpp throws here */
            util_errf(err, errlen, "invalid UTF-8 at input offset %zu: a sequence above U+10FFFF",
                      base + off);
            return TOK_EINPUT;
        }
        s->cps[ncp++] = cp;
    }
    s->words.n = 0;
    pretok_split(v->pre, s->cps, ncp, &s->words);
    if (s->words.oom) {
        s->oom = true;
        return TOK_ENOMEM;
    }

    const uint32_t *cp = s->cps;
    for (size_t w = 0; w < s->words.n && !s->oom && !o->oom; w++) {
        size_t wl = s->words.len[w], m = 0;
        if (!reserve((void **)&s->buf, &s->buf_cap, 8 * wl, 1)) {
            s->oom = true;
            return TOK_ENOMEM;
        }
        for (size_t i = 0; i < wl; i++) {
            unsigned char u[4];
            size_t k = util_utf8_encode(cp[i], u);
            for (size_t j = 0; j < k; j++) {
                memcpy(s->buf + m, v->byte_utf8[u[j]], v->byte_utf8_len[u[j]]);
                m += v->byte_utf8_len[u[j]];
            }
        }
        cp += wl;
        bpe_word(v, s, m, o);
    }
    return TOK_OK;
}

/* ---- Encoding: entry point ------------------------------------------------------ */

/* SPM escapes a byte into up to 3 and symbols are int32-indexed. */
#define TOK_MAX_TEXT ((size_t)(INT32_MAX / 4))

int tok_encode(const tok_vocab *v, const char *text, size_t len, bool add_special,
               bool parse_special, int32_t **ids, size_t *n, size_t *cap, char *err, size_t errlen)
{
    if (len > TOK_MAX_TEXT) {
        util_errf(err, errlen, "text of %zu bytes is longer than the %zu-byte limit", len, TOK_MAX_TEXT);
        return TOK_EINPUT;
    }
    size_t n0 = *n;
    tok_out o = {ids, n, cap, false};
    scratch s = {0};
    int rc = TOK_OK;

    if (add_special && v->add_bos)
        out_push(&o, v->bos);
    partition(v, text, len, parse_special, &s);
    bool prev_special = true; /* SPM: a '▁' starts the text and follows special tokens */
    for (size_t i = 0; i < s.n_frag && rc == TOK_OK && !s.oom && !o.oom; i++) {
        const frag *f = &s.frag[i];
        if (f->tok >= 0) {
            out_push(&o, f->tok);
            prev_special = true;
            continue;
        }
        if (v->type == VOCAB_SPM)
            rc = spm_encode(v, &s, text + f->off, f->len, v->add_space_prefix && prev_special, &o,
                            f->off, err, errlen);
        else
            rc = bpe_encode(v, &s, text + f->off, f->len, &o, f->off, err, errlen);
        prev_special = false;
    }
    if (rc == TOK_OK && add_special && v->add_eos)
        out_push(&o, v->eos);
    if (rc == TOK_ENOMEM || (rc == TOK_OK && (s.oom || o.oom))) {
        util_errf(err, errlen, "out of memory tokenizing a text of %zu bytes", len);
        rc = TOK_ENOMEM;
    }
    scratch_free(&s);
    if (rc != TOK_OK)
        *n = n0;
    return rc;
}

/* ---- Decoding ------------------------------------------------------------------ */

/* Copy what fits of src to buf[at..cap); returns at + n either way. */
static size_t put(char *buf, size_t cap, size_t at, const void *src, size_t n)
{
    if (at < cap)
        memcpy(buf + at, src, n < cap - at ? n : cap - at);
    return at + n;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

size_t tok_piece_ex(const tok_vocab *v, int32_t id, bool special, char *buf, size_t cap)
{
    if (!v || id < 0 || id >= v->n)
        return 0;
    const tok_entry *t = &v->tok[id];
    const char *s = text_of(v, id);
    if (!special && (t->attr & ATTR_SPECIAL))
        return 0;
    if (t->attr & (ATTR_SPECIAL | ATTR_USER_DEFINED))
        return put(buf, cap, 0, s, t->len);
    if (t->attr & ATTR_BYTE) { /* "<0xXX>" */
        int b = 0;
        for (size_t i = 3; i < 5 && i < t->len && hex_digit(s[i]) >= 0; i++)
            b = b * 16 + hex_digit(s[i]);
        unsigned char byte = (unsigned char)b;
        return put(buf, cap, 0, &byte, 1);
    }
    if (!(t->attr & ATTR_NORMAL))
        return 0; /* UNUSED and undefined tokens render as nothing */
    size_t at = 0;
    if (v->type == VOCAB_SPM) { /* '▁' -> ' ' */
        for (size_t i = 0; i < t->len;) {
            if (t->len - i >= 3 && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
                at = put(buf, cap, at, " ", 1);
                i += 3;
            } else {
                at = put(buf, cap, at, s + i++, 1);
            }
        }
        return at;
    }
    /* GPT-2's alphabet back to bytes; llama.cpp spells a code point outside
     * it as "[UNK_BYTE_0x<its UTF-8 in hex><the token text>]" */
    for (size_t i = 0, adv; i < t->len; i += adv) {
        uint32_t cp = uni_decode((const unsigned char *)s + i, t->len - i, &adv);
        int b = uni_cp_to_byte(cp);
        if (b >= 0) {
            unsigned char byte = (unsigned char)b;
            at = put(buf, cap, at, &byte, 1);
            continue;
        }
        unsigned char u[4];
        size_t k = util_utf8_encode(cp, u);
        char hex[12];
        at = put(buf, cap, at, "[UNK_BYTE_0x", 12);
        for (size_t j = 0; j < k; j++)
            at = put(buf, cap, at, hex, (size_t)snprintf(hex, sizeof hex, "%02x", u[j]));
        at = put(buf, cap, at, s, t->len);
        at = put(buf, cap, at, "]", 1);
    }
    return at;
}

size_t tok_piece(const tok_vocab *v, int32_t id, char *buf, size_t cap)
{
    return tok_piece_ex(v, id, false, buf, cap);
}

size_t tok_max_piece(const tok_vocab *v) { return v->max_piece; }

/* ---- Streaming decoder ------------------------------------------------------- */

/* How many bytes at the end of p[0..n) are an unfinished UTF-8 character:
 * a lead byte followed by fewer continuation bytes than it announces. */
static size_t unfinished_tail(const unsigned char *p, size_t n)
{
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned char b = p[n - k];
        if ((b & 0xC0) == 0x80)
            continue;
        return b >= 0xC0 && b <= 0xF7 && uni_seq_len(b) > k ? k : 0;
    }
    return 0;
}

void tok_stream_init(tok_stream *s, const tok_vocab *v)
{
    memset(s, 0, sizeof *s);
    s->vocab = v;
}

size_t tok_stream_push(tok_stream *s, int32_t id, strbuf *out)
{
    size_t before = out->len;
    sb_append(out, s->pending, s->n_pending);
    s->n_pending = 0;

    char small[256];
    size_t len = tok_piece(s->vocab, id, small, sizeof small);
    if (len <= sizeof small) {
        sb_append(out, small, len);
    } else {
        char *big = xmalloc(len);
        tok_piece(s->vocab, id, big, len);
        sb_append(out, big, len);
        free(big);
    }
    if (out->len == before)
        return 0;
    size_t hold = unfinished_tail((unsigned char *)out->data + before, out->len - before);
    memcpy(s->pending, out->data + out->len - hold, hold);
    s->n_pending = (unsigned)hold;
    out->len -= hold;
    out->data[out->len] = '\0';
    return out->len - before;
}

size_t tok_stream_flush(tok_stream *s, strbuf *out)
{
    size_t n = s->n_pending;
    sb_append(out, s->pending, n);
    s->n_pending = 0;
    return n;
}
