/*
 * bpe_text.c — the BPE trainer's byte-string table (open addressing over an
 * arena: words with counts, token texts) and the splitter that cuts text at
 * special tokens and pre-tokenizes the rest into words (GPT-2's rules).
 */
#include "train/bpe_internal.h"

#include "engine/pretok.h"
#include "engine/unicode.h"

#include <stdlib.h>
#include <string.h>

/* ---- A table of byte strings (words with counts; token texts) ------------------- */

void bpe_strtab_free(bpe_strtab *t)
{
    free(t->arena);
    free(t->off);
    free(t->len);
    free(t->count);
    free(t->slot);
    memset(t, 0, sizeof *t);
}

int32_t bpe_strtab_find(const bpe_strtab *t, const void *s, size_t len)
{
    if (!t->slot)
        return -1;
    for (size_t i = bpe_hash_bytes(s, len) & t->mask; t->slot[i] >= 0; i = (i + 1) & t->mask) {
        int32_t e = t->slot[i];
        if (t->len[e] == len && memcmp(t->arena + t->off[e], s, len) == 0)
            return e;
    }
    return -1;
}

static void strtab_rehash(bpe_strtab *t, size_t size)
{
    free(t->slot);
    t->slot = xmallocarray(size, sizeof *t->slot);
    memset(t->slot, 0xff, size * sizeof *t->slot);
    t->mask = size - 1;
    for (size_t e = 0; e < t->n; e++) {
        size_t i = bpe_hash_bytes(t->arena + t->off[e], t->len[e]) & t->mask;
        while (t->slot[i] >= 0)
            i = (i + 1) & t->mask;
        t->slot[i] = (int32_t)e;
    }
}

int32_t bpe_strtab_add(bpe_strtab *t, const void *s, size_t len)
{
    int32_t e = bpe_strtab_find(t, s, len);
    if (e >= 0)
        return e;
    if (2 * (t->n + 1) > (t->slot ? t->mask + 1 : 0))
        strtab_rehash(t, t->slot ? 2 * (t->mask + 1) : 1024);
    bpe_reserve((void **)&t->arena, &t->arena_cap, t->arena_len + len + 1, 1);
    if (t->n == t->cap) {
        size_t c = t->cap;
        bpe_reserve((void **)&t->off, &c, t->n + 1, sizeof *t->off);
        c = t->cap;
        bpe_reserve((void **)&t->len, &c, t->n + 1, sizeof *t->len);
        c = t->cap;
        bpe_reserve((void **)&t->count, &c, t->n + 1, sizeof *t->count);
        t->cap = c;
    }
    e = (int32_t)t->n++;
    t->off[e] = t->arena_len;
    t->len[e] = (uint32_t)len;
    t->count[e] = 0;
    memcpy(t->arena + t->arena_len, s, len);
    t->arena_len += len;
    size_t i = bpe_hash_bytes(s, len) & t->mask;
    while (t->slot[i] >= 0)
        i = (i + 1) & t->mask;
    t->slot[i] = e;
    return e;
}

const unsigned char *bpe_strtab_str(const bpe_strtab *t, int32_t e) { return t->arena + t->off[e]; }

/* ---- Cutting text into words ------------------------------------------------------ */

void bpe_splitter_free(bpe_splitter *s)
{
    free(s->cps);
    free(s->buf);
    pretok_words_free(&s->words);
}

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
static int split_raw(bpe_splitter *s, const char *text, size_t len, size_t base, bpe_word_fn fn,
                     void *ctx, char *err, size_t errlen)
{
    bpe_reserve((void **)&s->cps, &s->cps_cap, len, sizeof *s->cps);
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
        bpe_reserve((void **)&s->buf, &s->buf_cap, 4 * wl, 1);
        for (size_t i = 0; i < wl; i++)
            m += util_utf8_encode(cp[i], s->buf + m);
        cp += wl;
        fn(ctx, s->buf, m, -1);
    }
    return BPE_OK;
}

int bpe_split_text(bpe_splitter *s, const char *text, size_t len, bool special, bpe_word_fn fn,
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
