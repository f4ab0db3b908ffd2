/*
 * train_tokenizer.c — train the built-in model's byte-level BPE vocabulary
 * on the training split of the support corpora and write it as a
 * vocabulary-only GGUF.
 *
 *   train_tokenizer [--data DIR] [--out FILE] [--vocab N] [--min-frequency N]
 *                   [--valid-fraction F] [--seed N]
 *
 * Defaults: --data ../shared/data, --out models/frontdesk-vocab.gguf,
 * --vocab 4096, --min-frequency 2, --valid-fraction 0.05, --seed 1 (the
 * split the trainer uses must be made with the same fraction and seed).
 *
 * The corpus is every training conversation rendered as ChatML
 * (train/dataset.h); validation conversations are never seen.  After writing,
 * the file is read back with the engine's tokenizer, and every conversation
 * of both splits must tokenize exactly as the trainer's own encoder says
 * (and as train/dataset.c's masked tokenization says); the figures printed
 * are measured on that pass.
 */
#include "train/dataset.h"
#include "train/bpe_train.h"
#include "engine/chat_template.h"
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/tokenizer.h"
#include "util/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "train_tokenizer: %s\n", msg);
    fprintf(stderr, "usage: train_tokenizer [--data DIR] [--out FILE] [--vocab N] "
                    "[--min-frequency N] [--valid-fraction F] [--seed N]\n");
    return 2;
}

/* Tokenize every conversation of split s three ways and insist they agree;
 * count conversations, bytes of ChatML text and tokens. */
static int verify_split(const dataset *d, ds_split s, const tok_vocab *tv, const bpe_vocab *bv,
                        uint64_t *bytes, uint64_t *tokens)
{
    strbuf text = {0};
    int32_t *a = NULL, *b = NULL;
    size_t na, nb, ca = 0, cb = 0;
    ds_tokens t = {0};
    char err[512];
    int rc = 0;
    *bytes = *tokens = 0;
    for (size_t i = 0; i < ds_count(d, s) && rc == 0; i++) {
        const ds_conv *c = ds_get(d, s, i);
        sb_clear(&text);
        ds_render(c, &text);
        na = nb = 0;
        if (tok_encode(tv, text.data, text.len, false, true, &a, &na, &ca, err, sizeof err) != TOK_OK ||
            bpe_vocab_encode(bv, text.data, text.len, true, &b, &nb, &cb, err, sizeof err) != BPE_OK ||
            ds_tokenize(tv, c, &t, err, sizeof err) != DS_OK) {
            fprintf(stderr, "train_tokenizer: %s: %s\n", c->id, err);
            rc = 1;
        } else if (na != nb || memcmp(a, b, na * sizeof *a) != 0 || t.n != na ||
                   memcmp(t.ids, a, na * sizeof *a) != 0) {
            fprintf(stderr, "train_tokenizer: %s: the engine's tokenizer (%zu ids), the trainer's "
                            "encoder (%zu) and the masked tokenization (%zu) disagree\n",
                    c->id, na, nb, t.n);
            rc = 1;
        }
        *bytes += text.len;
        *tokens += na;
    }
    sb_free(&text);
    free(a);
    free(b);
    ds_tokens_free(&t);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},       {"out", required_argument, NULL, 'o'},
        {"vocab", required_argument, NULL, 'v'},      {"min-frequency", required_argument, NULL, 'm'},
        {"valid-fraction", required_argument, NULL, 'f'}, {"seed", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0},
    };
    ds_options dopt;
    ds_options_default(&dopt);
    bpe_options bopt;
    bpe_options_default(&bopt);
    const char *out = "models/frontdesk-vocab.gguf";
    char *end;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'd': dopt.data_dir = optarg; break;
        case 'o': out = optarg; break;
        case 'v':
            bopt.vocab_size = (int32_t)strtol(optarg, &end, 10);
            if (*end || bopt.vocab_size < BPE_ID_FIRST_MERGE)
                return usage("--vocab needs a number of at least 259");
            break;
        case 'm':
            bopt.min_frequency = strtoll(optarg, &end, 10);
            if (*end || bopt.min_frequency < 1)
                return usage("--min-frequency needs a positive number");
            break;
        case 'f':
            dopt.valid_fraction = strtod(optarg, &end);
            if (*end || !(dopt.valid_fraction >= 0 && dopt.valid_fraction < 1))
                return usage("--valid-fraction needs a number in [0, 1)");
            break;
        case 's':
            dopt.seed = strtoull(optarg, &end, 10);
            if (*end)
                return usage("--seed needs a number");
            break;
        case 'h': usage(NULL); return 0;
        default: return usage(NULL);
        }
    }
    if (optind != argc)
        return usage("unexpected argument");

    char err[512];
    dataset d = {0};
    double t0 = util_now();
    if (ds_load(&d, &dopt, err, sizeof err) != DS_OK) {
        fprintf(stderr, "train_tokenizer: %s\n", err);
        ds_free(&d);
        return 1;
    }
    printf("data: %zu conversations (%zu train, %zu valid; %zu STAR dialogues without an agent turn "
           "skipped), loaded in %.2f s\n", ds_count(&d, DS_ALL), ds_count(&d, DS_TRAIN),
           ds_count(&d, DS_VALID), d.star_skipped, util_now() - t0);

    ds_cursor cur = {&d, DS_TRAIN, 0};
    bpe_vocab *bv = NULL;
    size_t n_words;
    uint64_t n_bytes;
    t0 = util_now();
    if (bpe_train_corpus(&bopt, ds_corpus_next, &cur, &bv, &n_words, &n_bytes, err, sizeof err) != BPE_OK) {
        fprintf(stderr, "train_tokenizer: %s\n", err);
        ds_free(&d);
        return 1;
    }
    double secs = util_now() - t0;
    printf("tokenizer: %d tokens (%d merges) from %zu distinct words, %llu bytes of words, "
           "trained and checked in %.2f s\n", (int)bpe_vocab_size(bv), (int)bpe_vocab_n_merges(bv),
           n_words, (unsigned long long)n_bytes, secs);

    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "general.name", "frontdesk-vocab");
    int rc = bpe_vocab_to_gguf(bv, w, err, sizeof err) == BPE_OK &&
                     gguf_writer_write_file(w, out, err, sizeof err) == GGUF_OK
                 ? 0
                 : 1;
    gguf_writer_free(w);
    if (rc) {
        fprintf(stderr, "train_tokenizer: %s\n", err);
        bpe_vocab_free(bv);
        ds_free(&d);
        return 1;
    }

    gguf_file *f = NULL;
    tok_vocab *tv = NULL;
    if (gguf_open(&f, out, err, sizeof err) != GGUF_OK || tok_load(&tv, f, err, sizeof err) != TOK_OK) {
        fprintf(stderr, "train_tokenizer: reading back %s: %s\n", out, err);
        rc = 1;
    }
    if (rc == 0) {
        gguf_str tmpl = {"", 0};
        bool known = false;
        gguf_get_str(f, "tokenizer.chat_template", &tmpl);
        if (chat_tmpl_detect(tmpl.ptr, tmpl.len, &known) != CHAT_TMPL_CHATML || !known ||
            !tok_is_eog(tv, BPE_ID_IM_END) || tok_eos(tv) != BPE_ID_IM_END) {
            fprintf(stderr, "train_tokenizer: %s: the template is not ChatML or <|im_end|> does not "
                            "end generation\n", out);
            rc = 1;
        }
        for (int32_t id = BPE_N_SPECIAL; id < tok_n_vocab(tv) && rc == 0; id++)
            if (tok_is_control(tv, id) || tok_is_eog(tv, id)) {
                fprintf(stderr, "train_tokenizer: learnt token %d is taken for a special token\n", (int)id);
                rc = 1;
            }
    }
    uint64_t bytes[2] = {0}, tokens[2] = {0};
    for (int s = 0; s < 2 && rc == 0; s++)
        rc = verify_split(&d, s == 0 ? DS_TRAIN : DS_VALID, tv, bv, &bytes[s], &tokens[s]);
    if (rc == 0) {
        printf("wrote %s (%s tokenizer, pre-tokenizer %s, ChatML template)\n", out, tok_type_name(tv),
               tok_pre_name(tv));
        for (int s = 0; s < 2; s++)
            printf("%s: %zu conversations, %llu bytes of ChatML, %llu tokens (%.2f bytes/token); "
                   "the engine's tokenizer agrees with the trainer's on every one\n",
                   s == 0 ? "train" : "valid", ds_count(&d, s == 0 ? DS_TRAIN : DS_VALID),
                   (unsigned long long)bytes[s], (unsigned long long)tokens[s],
                   tokens[s] ? (double)bytes[s] / (double)tokens[s] : 0.0);
    }
    tok_free(tv);
    gguf_close(f);
    bpe_vocab_free(bv);
    ds_free(&d);
    return rc;
}
