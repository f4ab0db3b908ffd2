/* train_check.c — see train_check.h. */
#include "tests/train_check.h"

#include "tests/testutil.h"

#include <string.h>

train_config trc_tiny_config(void)
{
    train_config c;
    train_config_default(&c);
    c.vocab = 32, c.n_embd = 16, c.n_layer = 2, c.n_head = 4, c.n_head_kv = 2, c.n_ff = 24;
    c.n_ctx = 8, c.n_batch = 2, c.n_threads = 2, c.tied = false;
    return c;
}

train_model *trc_new_model(const train_config *c, uint64_t seed)
{
    char err[256];
    train_model *m = train_new(c, seed, err, sizeof err);
    if (!m)
        fail_msg("train_new: %s", err);
    return m;
}

const train_tensor *trc_find_tensor(const train_model *m, const char *name, train_tensor *out)
{
    for (size_t i = 0; i < train_tensor_count(m); i++) {
        *out = train_tensor_at(m, i);
        if (!strcmp(out->name, name))
            return out;
    }
    fail_msg("no tensor %s", name);
    return NULL;
}

void trc_random_tokens(train_rng *r, int32_t *tok, size_t n, uint32_t vocab)
{
    for (size_t i = 0; i < n; i++)
        tok[i] = (int32_t)train_rng_below(r, vocab);
}

void trc_spread_weights(train_model *m, uint64_t seed, float scale)
{
    train_rng r;
    train_rng_seed(&r, seed);
    for (size_t i = 0; i < train_tensor_count(m); i++) {
        train_tensor t = train_tensor_at(m, i);
        size_t n = (size_t)t.rows * t.cols;
        for (size_t k = 0; k < n; k++)
            t.data[k] = t.rows == 1 ? (float)(1.0 + 0.3 * train_rng_normal(&r))
                                    : (float)(scale * train_rng_normal(&r));
    }
}
