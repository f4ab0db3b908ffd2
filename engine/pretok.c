/*
 * pretok.c — the pre-tokenizers of pretok.h.
 *
 * llama.cpp runs a list of regexes per pre-tokenizer.  Two of them (GPT-2's
 * and Llama 3's) it matches with hand-written loops; those loops, not the
 * regexes, are the reference, so split_gpt2 and split_llama3 follow them step
 * by step.  All the others it hands to std::regex, with non-ASCII code points
 * replaced by one stand-in byte per class (\p{L} -> 0xD2, whitespace -> 0x0B,
 * ...) or, for regexes without \p{..}, with only non-ASCII whitespace
 * replaced.  Both substitutions preserve membership in every class used
 * below, so those regexes are matched here directly on code points with
 * ordinary leftmost, first-alternative-wins, greedy-with-backtracking
 * semantics.  The one visible effect of the substitution is kept: a literal
 * range such as DeepSeek's 　-。 (U+3000-U+3002) cannot match U+3000 itself,
 * because the text's U+3000 became 0x0B before matching.
 *
 * Splitting is hierarchical: each regex cuts every piece the previous one
 * produced; within a piece, every match becomes a word and so does every
 * run of text between matches.
 */
#include "engine/pretok.h"

#include "engine/unicode.h"
#include "util/alloc.h"
#include "util/util.h"

#include <stdbool.h>
#include <stdlib.h>

/* ---- Steps ------------------------------------------------------------ */

typedef enum {
    STEP_END,
    STEP_GPT2,       /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
    STEP_LLAMA3,     /* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
                        ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
    STEP_QWEN2,      /* as LLAMA3 but \p{N} (one digit), contractions spelt '[sS]... */
    STEP_PUNCT,      /* [\p{P}\$\+<=>\^~\|]+ */
    STEP_PUNCT_TICK, /* [\p{P}\$\+<=>\^~\|`]+ */
    STEP_NUMBERS,    /* \p{N}+ */
    STEP_NUMBER,     /* \p{N} */
    STEP_DIGITS3,    /* [0-9][0-9][0-9] */
    STEP_NEWLINE,    /* [\r\n] */
    STEP_DS_LETTERS, /* \s?[A-Za-zµÀ-ÖØ-öø-ƺ...𞤀-𞥃]+ (cased letters, see ds_letter) */
    STEP_DS_PUNCT,   /* \s?[!-/:-~！-／：-～‘-‟　-。]+ */
    STEP_TRAIL_WS,   /* \s+$ */
    STEP_CJK,        /* [一-龥ࠀ-一가-퟿]+ */
    STEP_WS_LETTERS, /* \s?\p{L}+ */
    STEP_WS_PUNCT,   /* \s?\p{P}+ */
} step;

/* llama-vocab.cpp, llm_tokenizer_bpe: the regex list of each pre-tokenizer. */
static const step pipelines[][7] = {
    [PRETOK_DEFAULT] = {STEP_PUNCT, STEP_GPT2, STEP_NUMBERS, STEP_DIGITS3},
    [PRETOK_GPT2] = {STEP_GPT2},
    [PRETOK_LLAMA3] = {STEP_LLAMA3},
    [PRETOK_QWEN2] = {STEP_QWEN2},
    [PRETOK_STARCODER] = {STEP_NUMBER, STEP_GPT2},
    [PRETOK_FALCON] = {STEP_PUNCT_TICK, STEP_GPT2, STEP_DIGITS3},
    [PRETOK_DEEPSEEK_LLM] = {STEP_NEWLINE, STEP_DS_LETTERS, STEP_DS_PUNCT, STEP_TRAIL_WS,
                             STEP_CJK, STEP_NUMBERS},
    [PRETOK_DEEPSEEK_CODER] = {STEP_NEWLINE, STEP_WS_LETTERS, STEP_WS_PUNCT, STEP_CJK,
                               STEP_NUMBER},
};

static void push(pretok_words *w, size_t len)
{
    if (w->oom)
        return;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        size_t *p = try_reallocarray(w->len, cap, sizeof *w->len);
        if (!p) {
            w->oom = true;
            return;
        }
        w->len = p;
        w->cap = cap;
    }
    w->len[w->n++] = len;
}

void pretok_words_free(pretok_words *w)
{
    if (!w)
        return;
    free(w->len);
    w->len = NULL;
    w->n = w->cap = 0;
    w->oom = false;
}

/* ---- Classes -------------------------------------------------------------- */

static bool is_ws(uint32_t c) { return uni_flags(c) & UNI_WHITESPACE; }
static bool is_letter(uint32_t c) { return uni_flags(c) & UNI_LETTER; }
static bool is_number(uint32_t c) { return uni_flags(c) & UNI_NUMBER; }
static bool is_punct(uint32_t c) { return uni_flags(c) & UNI_PUNCT; }
static bool is_rn(uint32_t c) { return c == '\r' || c == '\n'; }
static bool is_ascii_digit(uint32_t c) { return c >= '0' && c <= '9'; }
/* [^\s\p{L}\p{N}] */
static bool is_other(uint32_t c) { return !(uni_flags(c) & (UNI_WHITESPACE | UNI_LETTER | UNI_NUMBER)); }
static uint32_t ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* The literal ranges of a regex without \p{..} see the text with non-ASCII
 * whitespace replaced by 0x0B (see the top of this file). */
static bool wide_literal(uint32_t c) { return c < 0x80 || !is_ws(c); }

/* [\p{P}\$\+<=>\^~\|] and the same with '`' (falcon). */
static bool is_punct_sym(uint32_t c)
{
    return is_punct(c) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' ||
           c == '^' || c == '~' || c == '|';
}
static bool is_punct_sym_tick(uint32_t c) { return is_punct_sym(c) || c == '`'; }

/* DeepSeek's letter class, from its tokenizer.json: (first, last) pairs. */
static const uint32_t ds_letter_ranges[][2] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6},
    {0xF8, 0x1BA}, {0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373},
    {0x376, 0x377}, {0x37B, 0x37D}, {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A},
    {0x38C, 0x38C}, {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F},
    {0x531, 0x556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA},
    {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15},
    {0x1F18, 0x1F1D}, {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59},
    {0x1F5B, 0x1F5B}, {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB},
    {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107},
    {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126},
    {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F},
    {0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4},
    {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F},
    {0xA771, 0xA787}, {0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17},
    {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3},
    {0x104D8, 0x104FB}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF},
    {0x1E900, 0x1E943},
};

static bool in_ranges(uint32_t c, const uint32_t (*r)[2], size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < r[mid][0])
            hi = mid;
        else if (c > r[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

static bool ds_letter(uint32_t c)
{
    return in_ranges(c, ds_letter_ranges, sizeof ds_letter_ranges / sizeof ds_letter_ranges[0]);
}

/* [!-/:-~！-／：-～‘-‟　-。] */
static bool ds_punct(uint32_t c)
{
    return ((c >= '!' && c <= '/') || (c >= ':' && c <= '~') || (c >= 0xFF01 && c <= 0xFF0F) ||
            (c >= 0xFF1A && c <= 0xFF5E) || (c >= 0x2018 && c <= 0x201F) ||
            (c >= 0x3000 && c <= 0x3002)) &&
           wide_literal(c);
}

/* [一-龥ࠀ-一가-퟿] = U+4E00-U+9FA5, U+0800-U+4E00, U+AC00-U+D7FF */
static bool cjk(uint32_t c)
{
    return ((c >= 0x0800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF)) && wide_literal(c);
}

/* ---- llama.cpp's hand-written splitters --------------------------------- */

/* The class flags at i, or 0 past the end of the piece (llama.cpp's
 * _get_flags, which also returns "no flags" out of range). */
static unsigned flags_at(const uint32_t *c, size_t i, size_t end)
{
    return i < end ? uni_flags(c[i]) : 0;
}

/* Emit the word [*prev, to) if it is not empty. */
static void emit(pretok_words *out, size_t *prev, size_t to)
{
    if (to > *prev)
        push(out, to - *prev);
    *prev = to;
}

#define WLN (UNI_WHITESPACE | UNI_LETTER | UNI_NUMBER)

/* Whitespace at the end of a match: `\s+(?!\S)` keeps the last blank of a
 * run for the word that follows, unless the run ends the piece; a lone blank
 * is `\s+`.  Returns the new position; pos is on a blank run of nws. */
static size_t gpt2_blanks(size_t pos, size_t nws, size_t end)
{
    if (nws > 1 && pos + nws < end)
        return pos + nws - 1;
    return pos + nws;
}

static void split_gpt2(const uint32_t *c, size_t start, size_t end, pretok_words *out)
{
    size_t prev = start;
    for (size_t pos = start; pos < end;) {
        uint32_t cp = c[pos];
        unsigned f = uni_flags(cp);

        /* 's|'t|'re|'ve|'m|'ll|'d (lower case only) */
        if (cp == '\'' && pos + 1 < end) {
            uint32_t n1 = c[pos + 1];
            if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
                emit(out, &prev, pos += 2);
                continue;
            }
            if (pos + 2 < end) {
                uint32_t n2 = c[pos + 2];
                if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
                    emit(out, &prev, pos += 3);
                    continue;
                }
            }
        }
        /* ' ?' then letters, numbers or "other"; f2 is the class after the space */
        unsigned f2 = cp == ' ' ? flags_at(c, pos + 1, end) : f;
        unsigned want = (f2 & UNI_LETTER) ? UNI_LETTER : (f2 & UNI_NUMBER) ? UNI_NUMBER : 0;
        if (want) {
            pos += cp == ' ';
            while (flags_at(c, pos, end) & want)
                pos++;
            emit(out, &prev, pos);
            continue;
        }
        if (!(f2 & WLN) && f2) {
            pos += cp == ' ';
            for (unsigned g; (g = flags_at(c, pos, end)) && !(g & WLN);)
                pos++;
            emit(out, &prev, pos);
            continue;
        }
        size_t nws = 0;
        while (flags_at(c, pos + nws, end) & UNI_WHITESPACE)
            nws++;
        /* nws == 0 is "no alternative matched": the code point stands alone */
        pos = nws ? gpt2_blanks(pos, nws, end) : pos + 1;
        emit(out, &prev, pos);
    }
}

static void split_llama3(const uint32_t *c, size_t start, size_t end, pretok_words *out)
{
    size_t prev = start;
    for (size_t pos = start; pos < end;) {
        uint32_t cp = c[pos];
        unsigned f = uni_flags(cp);

        /* (?i:'s|'t|'re|'ve|'m|'ll|'d); no non-ASCII code point lower-cases
         * to one of these letters, so ASCII folding is the whole story */
        if (cp == '\'' && pos + 1 < end) {
            uint32_t n1 = ascii_lower(c[pos + 1]);
            if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
                emit(out, &prev, pos += 2);
                continue;
            }
            if (pos + 2 < end) {
                uint32_t n2 = ascii_lower(c[pos + 2]);
                if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
                    emit(out, &prev, pos += 3);
                    continue;
                }
            }
        }
        /* [^\r\n\p{L}\p{N}]?\p{L}+ */
        if (!(is_rn(cp) || (f & UNI_NUMBER)) &&
            ((f & UNI_LETTER) || (flags_at(c, pos + 1, end) & UNI_LETTER))) {
            pos++;
            while (flags_at(c, pos, end) & UNI_LETTER)
                pos++;
            emit(out, &prev, pos);
            continue;
        }
        /* \p{N}{1,3}: a run of numbers in threes from the left */
        if (f & UNI_NUMBER) {
            size_t ini = pos;
            while (flags_at(c, pos, end) & UNI_NUMBER) {
                if (++pos - ini >= 3) {
                    emit(out, &prev, pos);
                    ini = pos;
                }
            }
            emit(out, &prev, pos);
            continue;
        }
        /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' -- llama.cpp tests the current code
         * point's flags here, not f2: a space ending the piece lands here */
        unsigned f2 = cp == ' ' ? flags_at(c, pos + 1, end) : f;
        if (!(f2 & WLN) && f) {
            pos += cp == ' ';
            while (!(f2 & WLN) && f2)
                f2 = flags_at(c, ++pos, end);
            while (pos < end && is_rn(c[pos]))
                pos++;
            emit(out, &prev, pos);
            continue;
        }
        /* \s*[\r\n]+ | \s+(?!\S) | \s+ */
        size_t nws = 0, after_rn = 0;
        while (flags_at(c, pos + nws, end) & UNI_WHITESPACE) {
            if (is_rn(c[pos + nws]))
                after_rn = pos + nws + 1;
            nws++;
        }
        if (after_rn)
            pos = after_rn;
        else
            pos = nws ? gpt2_blanks(pos, nws, end) : pos + 1;
        emit(out, &prev, pos);
    }
}

/* ---- Regexes llama.cpp runs through std::regex -------------------------- */

/* A run of code points satisfying `pred` from p; its length. */
static size_t run(const uint32_t *c, size_t p, size_t end, bool (*pred)(uint32_t))
{
    size_t q = p;
    while (q < end && pred(c[q]))
        q++;
    return q - p;
}

/* \s?X+ for a class X that holds no whitespace. */
static size_t blank_then_run(const uint32_t *c, size_t p, size_t end, bool (*pred)(uint32_t))
{
    size_t q = p;
    if (is_ws(c[q]) && q + 1 < end && pred(c[q + 1]))
        q++;
    size_t n = run(c, q, end, pred);
    return n ? q - p + n : 0;
}

/* The qwen2 regex at p (every code point starts a match, so never 0):
 * (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|
 * \p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t match_qwen2(const uint32_t *c, size_t p, size_t end)
{
    uint32_t cp = c[p];
    if (cp == '\'' && p + 1 < end) {
        uint32_t a = ascii_lower(c[p + 1]);
        if (a == 's' || a == 't' || a == 'm' || a == 'd')
            return 2;
        if (p + 2 < end) {
            uint32_t b = ascii_lower(c[p + 2]);
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                return 3;
        }
    }
    if (is_letter(cp))
        return run(c, p, end, is_letter);
    if (!is_rn(cp) && !is_number(cp) && p + 1 < end && is_letter(c[p + 1]))
        return 1 + run(c, p + 1, end, is_letter);
    if (is_number(cp))
        return 1;
    size_t q = p + (cp == ' ' && p + 1 < end && is_other(c[p + 1]));
    if (is_other(c[q])) {
        q += run(c, q, end, is_other);
        return q - p + run(c, q, end, is_rn);
    }
    /* cp is whitespace: the blank run [p, p+k) */
    size_t k = 0, after_rn = 0;
    for (; p + k < end && is_ws(c[p + k]); k++)
        if (is_rn(c[p + k]))
            after_rn = k + 1;
    if (after_rn) /* \s*[\r\n]+ backtracks to the last \r or \n */
        return after_rn;
    return gpt2_blanks(p, k, end) - p;
}

/* Length of the match of `s` starting exactly at p, or 0. */
static size_t match_at(step s, const uint32_t *c, size_t p, size_t end)
{
    switch (s) {
    case STEP_QWEN2: return match_qwen2(c, p, end);
    case STEP_PUNCT: return run(c, p, end, is_punct_sym);
    case STEP_PUNCT_TICK: return run(c, p, end, is_punct_sym_tick);
    case STEP_NUMBERS: return run(c, p, end, is_number);
    case STEP_NUMBER: return is_number(c[p]);
    case STEP_DIGITS3:
        return p + 3 <= end && is_ascii_digit(c[p]) && is_ascii_digit(c[p + 1]) &&
                       is_ascii_digit(c[p + 2])
                   ? 3
                   : 0;
    case STEP_NEWLINE: return is_rn(c[p]);
    case STEP_DS_LETTERS: return blank_then_run(c, p, end, ds_letter);
    case STEP_DS_PUNCT: return blank_then_run(c, p, end, ds_punct);
    case STEP_CJK: return run(c, p, end, cjk);
    case STEP_WS_LETTERS: return blank_then_run(c, p, end, is_letter);
    case STEP_WS_PUNCT: return blank_then_run(c, p, end, is_punct);
    default: return 0;
    }
}

/* std::regex_iterator over one piece: the leftmost match from each
 * position, and the text between matches as words of its own. */
static void split_search(step s, const uint32_t *c, size_t start, size_t end, pretok_words *out)
{
    size_t last = start;
    for (size_t p = start; p < end;) {
        size_t m = match_at(s, c, p, end);
        if (!m) {
            p++;
            continue;
        }
        if (p > last)
            push(out, p - last);
        push(out, m);
        p += m;
        last = p;
    }
    if (last < end)
        push(out, end - last);
}

/* \s+$ can only match the blank run that ends the piece. */
static void split_trailing_blanks(const uint32_t *c, size_t start, size_t end, pretok_words *out)
{
    size_t t = end;
    while (t > start && is_ws(c[t - 1]))
        t--;
    if (t > start)
        push(out, t - start);
    if (t < end)
        push(out, end - t);
}

static void apply(step s, const uint32_t *c, size_t start, size_t end, pretok_words *out)
{
    switch (s) {
    case STEP_GPT2: split_gpt2(c, start, end, out); break;
    case STEP_LLAMA3: split_llama3(c, start, end, out); break;
    case STEP_TRAIL_WS: split_trailing_blanks(c, start, end, out); break;
    default: split_search(s, c, start, end, out); break;
    }
}

void pretok_split(pretok_kind kind, const uint32_t *cps, size_t n, pretok_words *out)
{
    if (n == 0)
        return;
    pretok_words cur = {0}, next = {0};
    push(&cur, n);
    for (const step *s = pipelines[kind]; *s != STEP_END; s++) {
        next.n = 0;
        size_t start = 0;
        for (size_t i = 0; i < cur.n; i++) {
            apply(*s, cps, start, start + cur.len[i], &next);
            start += cur.len[i];
        }
        pretok_words t = cur;
        cur = next;
        next = t;
    }
    for (size_t i = 0; i < cur.n; i++)
        push(out, cur.len[i]);
    if (cur.oom || next.oom)
        out->oom = true;
    pretok_words_free(&cur);
    pretok_words_free(&next);
}
