/*
 * bpe_check.h — what the trainer's suites (test_bpe_train: the BPE trainer;
 * test_dataset: the training conversations) share: texts counted and a
 * vocabulary trained and checked, a vocabulary written to GGUF in memory
 * and loaded back by the engine, encoding with it, and expected errors.
 */
#ifndef FRONTDESK_TESTS_BPE_CHECK_H
#define FRONTDESK_TESTS_BPE_CHECK_H

#include "engine/gguf.h"
#include "engine/tokenizer.h"
#include "tests/tok_check.h" /* idvec */
#include "train/bpe_train.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* s counted `times` times; fails the test on an error. */
void bc_add_text(bpe_trainer *t, const char *s, int times);
/* A vocabulary of `size` (the fast trainer, or the naive one), checked
 * against the counts by bpe_trainer_check; fails the test on an error. */
bpe_vocab *bc_train(bpe_trainer *t, int32_t size, int64_t min_freq, bool naive);
/* The engine's encoding of s (no BOS; special tokens parsed or not). */
idvec bc_encode_tok(const tok_vocab *v, const char *s, size_t len, bool special);
bool bc_same_ids(idvec a, idvec b);

/* A vocabulary written to GGUF in memory and loaded back. */
typedef struct {
    void *image;
    size_t size;
    gguf_file *f;
    tok_vocab *v;
} loaded;
loaded bc_load_back(const bpe_vocab *bv);
void bc_loaded_free(loaded *l);

/* rc is `want` and err mentions needle. */
void bc_expect_error(int rc, int want, const char *err, const char *needle);

#endif
