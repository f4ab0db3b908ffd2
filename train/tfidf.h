/*
 * tfidf.h — nearest-neighbour text classification by TF-IDF cosine, the
 * judge of the built-in model's intent-match rate (tools/eval_model.c): a
 * reply is given the label of the most similar training answer.
 *
 * Tokens: maximal runs of ASCII letters and digits, lowercased ("It's" ->
 * "it", "s"); a Bitext placeholder "{{Order Number}}" (at most 64 bytes
 * between the braces, no brace or line break inside) is one token, spelt
 * "{{order number}}".  Every other byte separates tokens.
 *
 * Weights (as scikit-learn's TfidfVectorizer with its defaults): term
 * frequency is the raw count in the text; idf(t) = ln((1 + n) / (1 + df(t)))
 * + 1 over the n documents added; every vector is L2-normalised, so the
 * dot product of two vectors is their cosine.  A query's terms that no
 * document contains are ignored.
 *
 * Use: tfidf_new, tfidf_add each document with its label, tfidf_build
 * once, then tfidf_nearest any number of times (read-only: queries may run
 * from several threads).  Documents are never added after the build.
 *
 * Not here: stemming, stop words, n-grams, k > 1 neighbours.  Out-of-memory
 * aborts; nothing else can fail.
 */
#ifndef FRONTDESK_TFIDF_H
#define FRONTDESK_TFIDF_H

#include <stddef.h>

typedef struct tfidf tfidf;

/* The placeholder's longest name between "{{" and "}}", in bytes. */
#define TFIDF_MAX_PLACEHOLDER 64

/* ---- Tokens ------------------------------------------------------------------------- */

/* Call fn for each token of text in order (tok is lowercased, NUL-
 * terminated, valid only during the call); returns the number of tokens. */
size_t tfidf_tokenize(const char *text, void (*fn)(void *ud, const char *tok, size_t len), void *ud);

/* ---- Building ----------------------------------------------------------------------- */

tfidf *tfidf_new(void);
void tfidf_free(tfidf *t); /* accepts NULL */

/* Add a training document with its label (>= 0); before tfidf_build only. */
void tfidf_add(tfidf *t, const char *text, int label);
/* Compute the idf, the normalised document vectors and the inverted index. */
void tfidf_build(tfidf *t);

size_t tfidf_n_docs(const tfidf *t);
size_t tfidf_n_terms(const tfidf *t);
int tfidf_doc_label(const tfidf *t, size_t doc);

/* ---- Queries (after tfidf_build) ---------------------------------------------------- */

typedef struct {
    int label;  /* the nearest document's label; -1 when none is similar   */
    size_t doc; /* its index in the order added (meaningless when -1)      */
    double sim; /* their cosine, 0 .. 1 (0 when label is -1)                */
} tfidf_match;

/* The nearest document to text: the highest cosine, the earliest added on
 * a tie.  Label -1 when text shares no term with any document.  Scores
 * through the inverted index: only documents sharing a term are touched. */
tfidf_match tfidf_nearest(const tfidf *t, const char *text);
/* The same by a dot product with every document in turn (the reference
 * the fast version is tested against; gives bit-identical cosines). */
tfidf_match tfidf_nearest_naive(const tfidf *t, const char *text);

/* The cosine between two texts under the built idf. */
double tfidf_cosine(const tfidf *t, const char *a, const char *b);

#endif
