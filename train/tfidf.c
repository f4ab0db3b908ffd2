/*
 * tfidf.c — TF-IDF vectors and 1-nearest-neighbour by cosine (tfidf.h).
 *
 * Storage: the vocabulary is an array of strings behind an open-addressing
 * hash table (term ids in insertion order); every document is a run of
 * (term id, weight) entries sorted by term id in one pool.  tfidf_build
 * turns counts into normalised weights and inverts the pool into postings
 * (term -> the documents holding it, in document order), so a query only
 * touches the documents it shares a term with.  Both nearest-neighbour
 * versions add the products of shared terms in increasing term order, so
 * their cosines agree to the bit.
 */
#include "train/tfidf.h"

#include "util/util.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tfidf {
    /* vocabulary */
    char **terms; /* (n_terms) */
    size_t n_terms, cap_terms;
    uint32_t *slots; /* (n_slots): term id + 1, 0 = empty; n_slots a power of 2 */
    size_t n_slots;
    /* documents: entries doc_start[d] .. doc_start[d + 1] - 1 */
    size_t *doc_start; /* (n_docs + 1) */
    int *labels;       /* (n_docs) */
    size_t n_docs, cap_docs;
    uint32_t *ent_term; /* (n_ent) */
    double *ent_w;      /* (n_ent): counts until the build, then weights */
    size_t n_ent, cap_ent;
    /* after the build */
    double *idf;         /* (n_terms) */
    size_t *post_start;  /* (n_terms + 1) */
    uint32_t *post_doc;  /* (n_ent) */
    double *post_w;      /* (n_ent) */
    bool built;
};

/* ---- Tokens ------------------------------------------------------------------------- */

static bool is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char lower(unsigned char c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* The length of the placeholder name starting at s (just after "{{"), or 0
 * when no "}}" closes it within TFIDF_MAX_PLACEHOLDER bytes. */
static size_t placeholder_len(const char *s)
{
    for (size_t i = 0; i <= TFIDF_MAX_PLACEHOLDER && s[i]; i++) {
        if (s[i] == '}')
            return s[i + 1] == '}' && i > 0 ? i : 0;
        if (s[i] == '{' || s[i] == '\n' || s[i] == '\r')
            return 0;
    }
    return 0;
}

size_t tfidf_tokenize(const char *text, void (*fn)(void *ud, const char *tok, size_t len), void *ud)
{
    strbuf tok = {0};
    size_t n = 0;
    const char *p = text;
    while (*p) {
        size_t pl;
        if (p[0] == '{' && p[1] == '{' && (pl = placeholder_len(p + 2)) > 0) {
            sb_clear(&tok);
            sb_puts(&tok, "{{");
            for (size_t i = 0; i < pl; i++)
                sb_putc(&tok, lower((unsigned char)p[2 + i]));
            sb_puts(&tok, "}}");
            fn(ud, tok.data, tok.len);
            n++;
            p += 2 + pl + 2;
        } else if (is_word((unsigned char)*p)) {
            sb_clear(&tok);
            while (is_word((unsigned char)*p))
                sb_putc(&tok, lower((unsigned char)*p++));
            fn(ud, tok.data, tok.len);
            n++;
        } else {
            p++;
        }
    }
    sb_free(&tok);
    return n;
}

/* ---- The vocabulary ------------------------------------------------------------------ */

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The slot holding term s, or the empty slot where it would go. */
static size_t find_slot(const tfidf *t, const char *s, size_t len)
{
    size_t mask = t->n_slots - 1, i = (size_t)hash_bytes(s, len) & mask;
    while (t->slots[i]) {
        const char *term = t->terms[t->slots[i] - 1];
        if (strlen(term) == len && memcmp(term, s, len) == 0)
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

static void grow_slots(tfidf *t)
{
    free(t->slots);
    t->n_slots = t->n_slots ? 2 * t->n_slots : 1024;
    t->slots = xcalloc(t->n_slots, sizeof *t->slots);
    for (size_t id = 0; id < t->n_terms; id++) {
        size_t i = find_slot(t, t->terms[id], strlen(t->terms[id]));
        t->slots[i] = (uint32_t)id + 1;
    }
}

/* The id of term s, or -1. */
static long term_lookup(const tfidf *t, const char *s, size_t len)
{
    if (!t->n_slots)
        return -1;
    size_t i = find_slot(t, s, len);
    return t->slots[i] ? (long)t->slots[i] - 1 : -1;
}

/* The id of term s, added if new. */
static long term_add(tfidf *t, const char *s, size_t len)
{
    long id = term_lookup(t, s, len);
    if (id >= 0)
        return id;
    assert(t->n_terms < UINT32_MAX - 1);
    if (2 * (t->n_terms + 1) > t->n_slots)
        grow_slots(t);
    if (t->n_terms == t->cap_terms) {
        t->cap_terms = t->cap_terms ? 2 * t->cap_terms : 1024;
        t->terms = xreallocarray(t->terms, t->cap_terms, sizeof *t->terms);
    }
    t->terms[t->n_terms] = xstrndup(s, len);
    t->slots[find_slot(t, s, len)] = (uint32_t)t->n_terms + 1;
    return (long)t->n_terms++;
}

/* ---- Sparse vectors --------------------------------------------------------------------- */

typedef struct {
    uint32_t *term;
    double *w;
    size_t n, cap;
} sparse;

typedef struct {
    const tfidf *t;
    tfidf *add; /* t itself when new terms are added, else NULL */
    sparse *v;
} collect_ctx;

static void collect(void *ud, const char *tok, size_t len)
{
    collect_ctx *c = ud;
    long id = c->add ? term_add(c->add, tok, len) : term_lookup(c->t, tok, len);
    if (id < 0)
        return;
    sparse *v = c->v;
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->term = xreallocarray(v->term, v->cap, sizeof *v->term);
        v->w = xreallocarray(v->w, v->cap, sizeof *v->w);
    }
    v->term[v->n] = (uint32_t)id;
    v->w[v->n++] = 1.0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The term counts of text, sorted by term id; new terms are added to `add`
 * (t itself, or NULL to ignore them). */
static void count_terms(const tfidf *t, tfidf *add, const char *text, sparse *v)
{
    v->n = 0;
    collect_ctx c = {t, add, v};
    tfidf_tokenize(text, collect, &c);
    if (v->n > 1)
        qsort(v->term, v->n, sizeof *v->term, cmp_u32);
    size_t k = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (k > 0 && v->term[k - 1] == v->term[i]) {
            v->w[k - 1] += 1.0;
        } else {
            v->term[k] = v->term[i];
            v->w[k++] = 1.0;
        }
    }
    v->n = k;
}

/* Multiply counts by idf and L2-normalise; false when the vector is 0. */
static bool weigh(const double *idf, uint32_t *term, double *w, size_t n)
{
    double norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        w[i] *= idf[term[i]];
        norm += w[i] * w[i];
    }
    if (norm <= 0.0)
        return false;
    norm = sqrt(norm);
    for (size_t i = 0; i < n; i++)
        w[i] /= norm;
    return true;
}

/* The normalised query vector of text; false when it shares no term. */
static bool query_vector(const tfidf *t, const char *text, sparse *q)
{
    assert(t->built);
    count_terms(t, NULL, text, q);
    return weigh(t->idf, q->term, q->w, q->n);
}

static void sparse_free(sparse *v)
{
    free(v->term);
    free(v->w);
}

/* ---- Building ----------------------------------------------------------------------- */

tfidf *tfidf_new(void)
{
    tfidf *t = xcalloc(1, sizeof *t);
    t->doc_start = xcalloc(1, sizeof *t->doc_start);
    return t;
}

void tfidf_free(tfidf *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_terms; i++)
        free(t->terms[i]);
    free(t->terms);
    free(t->slots);
    free(t->doc_start);
    free(t->labels);
    free(t->ent_term);
    free(t->ent_w);
    free(t->idf);
    free(t->post_start);
    free(t->post_doc);
    free(t->post_w);
    free(t);
}

void tfidf_add(tfidf *t, const char *text, int label)
{
    assert(!t->built && label >= 0);
    sparse v = {0};
    count_terms(t, t, text, &v);
    if (t->n_docs == t->cap_docs) {
        t->cap_docs = t->cap_docs ? 2 * t->cap_docs : 256;
        t->labels = xreallocarray(t->labels, t->cap_docs, sizeof *t->labels);
        t->doc_start = xreallocarray(t->doc_start, t->cap_docs + 1, sizeof *t->doc_start);
    }
    if (t->n_ent + v.n > t->cap_ent) {
        while (t->n_ent + v.n > t->cap_ent)
            t->cap_ent = t->cap_ent ? 2 * t->cap_ent : 4096;
        t->ent_term = xreallocarray(t->ent_term, t->cap_ent, sizeof *t->ent_term);
        t->ent_w = xreallocarray(t->ent_w, t->cap_ent, sizeof *t->ent_w);
    }
    if (v.n) {
        memcpy(t->ent_term + t->n_ent, v.term, v.n * sizeof *v.term);
        memcpy(t->ent_w + t->n_ent, v.w, v.n * sizeof *v.w);
    }
    t->n_ent += v.n;
    t->labels[t->n_docs++] = label;
    t->doc_start[t->n_docs] = t->n_ent;
    sparse_free(&v);
}

void tfidf_build(tfidf *t)
{
    assert(!t->built);
    size_t nt = t->n_terms;
    /* document frequencies (each document lists a term once) */
    t->post_start = xcalloc(nt + 1, sizeof *t->post_start);
    for (size_t i = 0; i < t->n_ent; i++)
        t->post_start[t->ent_term[i] + 1]++;
    t->idf = xmallocarray(nt ? nt : 1, sizeof *t->idf);
    for (size_t id = 0; id < nt; id++)
        t->idf[id] = log((1.0 + (double)t->n_docs) / (1.0 + (double)t->post_start[id + 1])) + 1.0;
    for (size_t d = 0; d < t->n_docs; d++) {
        size_t a = t->doc_start[d], b = t->doc_start[d + 1];
        weigh(t->idf, t->ent_term + a, t->ent_w + a, b - a);
    }
    /* postings, in document order */
    for (size_t id = 0; id < nt; id++)
        t->post_start[id + 1] += t->post_start[id];
    size_t *fill = xmallocarray(nt ? nt : 1, sizeof *fill);
    if (nt)
        memcpy(fill, t->post_start, nt * sizeof *fill);
    t->post_doc = xmallocarray(t->n_ent ? t->n_ent : 1, sizeof *t->post_doc);
    t->post_w = xmallocarray(t->n_ent ? t->n_ent : 1, sizeof *t->post_w);
    for (size_t d = 0; d < t->n_docs; d++) {
        for (size_t i = t->doc_start[d]; i < t->doc_start[d + 1]; i++) {
            size_t at = fill[t->ent_term[i]]++;
            t->post_doc[at] = (uint32_t)d;
            t->post_w[at] = t->ent_w[i];
        }
    }
    free(fill);
    t->built = true;
}

size_t tfidf_n_docs(const tfidf *t) { return t->n_docs; }
size_t tfidf_n_terms(const tfidf *t) { return t->n_terms; }

int tfidf_doc_label(const tfidf *t, size_t doc)
{
    assert(doc < t->n_docs);
    return t->labels[doc];
}

/* ---- Queries ------------------------------------------------------------------------ */

static tfidf_match best_of(const tfidf *t, const double *score)
{
    tfidf_match m = {-1, 0, 0.0};
    for (size_t d = 0; d < t->n_docs; d++) {
        if (score[d] > m.sim) {
            m.sim = score[d];
            m.doc = d;
        }
    }
    if (m.sim > 0.0)
        m.label = t->labels[m.doc];
    else
        m.sim = 0.0;
    return m;
}

tfidf_match tfidf_nearest(const tfidf *t, const char *text)
{
    sparse q = {0};
    tfidf_match m = {-1, 0, 0.0};
    if (query_vector(t, text, &q)) {
        double *score = xcalloc(t->n_docs ? t->n_docs : 1, sizeof *score);
        for (size_t i = 0; i < q.n; i++) {
            uint32_t id = q.term[i];
            for (size_t k = t->post_start[id]; k < t->post_start[id + 1]; k++)
                score[t->post_doc[k]] += q.w[i] * t->post_w[k];
        }
        m = best_of(t, score);
        free(score);
    }
    sparse_free(&q);
    return m;
}

/* The dot product of q with document d: a merge of two sorted runs. */
static double dot_doc(const tfidf *t, const sparse *q, size_t d)
{
    double s = 0.0;
    size_t i = 0, k = t->doc_start[d], end = t->doc_start[d + 1];
    while (i < q->n && k < end) {
        if (q->term[i] < t->ent_term[k]) {
            i++;
        } else if (q->term[i] > t->ent_term[k]) {
            k++;
        } else {
            s += q->w[i] * t->ent_w[k];
            i++;
            k++;
        }
    }
    return s;
}

tfidf_match tfidf_nearest_naive(const tfidf *t, const char *text)
{
    sparse q = {0};
    tfidf_match m = {-1, 0, 0.0};
    if (query_vector(t, text, &q)) {
        double *score = xcalloc(t->n_docs ? t->n_docs : 1, sizeof *score);
        for (size_t d = 0; d < t->n_docs; d++)
            score[d] = dot_doc(t, &q, d);
        m = best_of(t, score);
        free(score);
    }
    sparse_free(&q);
    return m;
}

double tfidf_cosine(const tfidf *t, const char *a, const char *b)
{
    sparse x = {0}, y = {0};
    double s = 0.0;
    if (query_vector(t, a, &x) && query_vector(t, b, &y)) {
        size_t i = 0, k = 0;
        while (i < x.n && k < y.n) {
            if (x.term[i] < y.term[k]) {
                i++;
            } else if (x.term[i] > y.term[k]) {
                k++;
            } else {
                s += x.w[i] * y.w[k];
                i++;
                k++;
            }
        }
    }
    sparse_free(&x);
    sparse_free(&y);
    return s;
}
