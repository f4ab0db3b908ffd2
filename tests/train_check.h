/*
 * train_check.h — what the trainer's suites (test_train: against a
 * double-precision reference and the engine; test_train_runs: reruns,
 * resumes, checkpoints, the schedule, export and import, arguments, the
 * optimiser) share: a tiny model and its weights.
 */
#ifndef FRONTDESK_TESTS_TRAIN_CHECK_H
#define FRONTDESK_TESTS_TRAIN_CHECK_H

#include "train/train.h"

#include <stddef.h>
#include <stdint.h>

/* The gradient-check shape of the brief: GQA (4 heads on 2 KV heads),
 * untied head so that output.weight is checked too. */
train_config trc_tiny_config(void);
/* train_new, failing the test when it fails. */
train_model *trc_new_model(const train_config *c, uint64_t seed);
/* The tensor called name (into *out); fails the test when there is none. */
const train_tensor *trc_find_tensor(const train_model *m, const char *name, train_tensor *out);
/* n token ids below vocab from r. */
void trc_random_tokens(train_rng *r, int32_t *tok, size_t n, uint32_t vocab);
/* Spread the weights so that every non-linearity is exercised (the 0.02
 * initialisation leaves softmaxes nearly uniform and gradients tiny). */
void trc_spread_weights(train_model *m, uint64_t seed, float scale);

#endif
