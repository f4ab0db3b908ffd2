/* bpe_check.c — see bpe_check.h. */
#include "tests/bpe_check.h"

#include "engine/gguf_write.h"
#include "tests/testutil.h"

#include <stdlib.h>
#include <string.h>

void bc_add_text(bpe_trainer *t, const char *s, int times)
{
    char err[256];
    for (int i = 0; i < times; i++)
        if (bpe_trainer_add(t, s, strlen(s), err, sizeof err) != BPE_OK)
            fail_msg("bpe_trainer_add: %s", err);
}

bpe_vocab *bc_train(bpe_trainer *t, int32_t size, int64_t min_freq, bool naive)
{
    bpe_options o = {size, min_freq};
    bpe_vocab *v = NULL;
    char err[256];
    int rc = naive ? bpe_trainer_run_naive(t, &o, &v, err, sizeof err)
                   : bpe_trainer_run(t, &o, &v, err, sizeof err);
    if (rc != BPE_OK)
        fail_msg("training: %s", err);
    if (bpe_trainer_check(t, v, err, sizeof err) != BPE_OK)
        fail_msg("check: %s", err);
    return v;
}

idvec bc_encode_tok(const tok_vocab *v, const char *s, size_t len, bool special)
{
    idvec r = {0};
    char err[256];
    if (tok_encode(v, s, len, false, special, &r.ids, &r.n, &r.cap, err, sizeof err) != TOK_OK)
        fail_msg("tok_encode: %s", err);
    return r;
}

bool bc_same_ids(idvec a, idvec b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.ids, b.ids, a.n * sizeof *a.ids) == 0);
}

loaded bc_load_back(const bpe_vocab *bv)
{
    loaded l = {0};
    char err[512];
    gguf_writer *w = gguf_writer_new();
    assert_int_equal(gguf_writer_set_str(w, "general.architecture", "llama"), GGUF_OK);
    if (bpe_vocab_to_gguf(bv, w, err, sizeof err) != BPE_OK)
        fail_msg("bpe_vocab_to_gguf: %s", err);
    assert_int_equal(gguf_writer_write_mem(w, &l.image, &l.size), GGUF_OK);
    gguf_writer_free(w);
    if (gguf_open_memory(&l.f, l.image, l.size, err, sizeof err) != GGUF_OK)
        fail_msg("gguf_open_memory: %s", err);
    if (tok_load(&l.v, l.f, err, sizeof err) != TOK_OK)
        fail_msg("tok_load: %s", err);
    return l;
}

void bc_loaded_free(loaded *l)
{
    tok_free(l->v);
    gguf_close(l->f);
    free(l->image);
}

void bc_expect_error(int rc, int want, const char *err, const char *needle)
{
    assert_int_equal(rc, want);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
}
