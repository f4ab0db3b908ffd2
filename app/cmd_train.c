/*
 * cmd_train.c — `frontdesk train`: the training loop around train/train.c.
 *
 * Data: the Bitext and STAR conversations of ../shared/data (train/dataset.c,
 * its validation split never trained on), or with --init and --data
 * FILE.jsonl conversations in `frontdesk export`'s format, to fine-tune an
 * existing model on rated replies.  Each conversation is tokenized with
 * the loss on the agent turns only; one longer than the context is cut
 * into windows.  Sequences are grouped into batches of similar length, so
 * short Bitext exchanges are not padded to the longest STAR dialogue, and
 * Bitext can be weighted up (repeated per epoch).  The batch order of an
 * epoch is a permutation drawn from (seed, epoch), so a run resumed from a
 * checkpoint at step s continues exactly as if it had never stopped.
 *
 * A progress line on standard error (step, loss, validation loss, tokens/s,
 * ETA), a checkpoint every --ckpt-every steps and on Ctrl-C / SIGTERM,
 * and the model written as GGUF at the end.
 */
#include "app/cli.h"
#include "train/dataset.h"

#include "train/bpe_train.h"
#include "engine/gguf.h"
#include "engine/tokenizer.h"
#include "train/train.h"
#include "util/util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_train_usage[] =
    "usage: frontdesk train --out MODEL.gguf (--vocab VOCAB.gguf | --init MODEL.gguf) [options]\n"
    "\n"
    "Train a llama-architecture model on customer-service conversations, the\n"
    "loss on the agent's turns only.  From scratch: --vocab gives the\n"
    "tokenizer (tools/train_tokenizer writes one); --init continues from an\n"
    "existing model (its tokenizer and shape) — with --data FILE.jsonl from\n"
    "`frontdesk export` that fine-tunes it on rated replies.\n"
    "\n"
    "  --data PATH        ../shared/data (a directory) or an export .jsonl\n"
    "  --steps N          optimiser steps (default 2000)\n"
    "  --tokens N         tokens per step, about (default 8192)\n"
    "  --ctx T            longest window (default 512)\n"
    "  --lr X             peak learning rate (default 1e-3; min is lr/10)\n"
    "  --warmup N         warm-up steps (default 100)\n"
    "  --bitext-weight K  repeat Bitext conversations K times an epoch (3)\n"
    "  --width N --layers N --heads N --kv-heads N --ff N   shape (256 6 8 8 688)\n"
    "  --seed S           the run's seed (default 1)\n"
    "  --threads N        threads (default: the number of cores)\n"
    "  --eval-every K     validation loss every K steps (default 100)\n"
    "  --ckpt FILE        checkpoint (default OUT.ckpt): resumed when present\n"
    "  --ckpt-every N     checkpoint every N steps (default 50)\n"
    "  --type T           f32, f16 or q8_0 for the matrices (default q8_0)\n"
    "  --name TEXT        general.name (default frontdesk-cs)\n";

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

typedef struct {
    int32_t *ids; /* (len + 1): inputs and the last target */
    uint8_t *mask;
    int len;      /* positions (targets) */
} seq;

typedef struct {
    size_t first, count; /* into the sorted sequence array */
    int T;
} batch;

typedef struct {
    const char *out, *vocab, *init, *data, *ckpt, *name;
    long steps, tokens, ctx, warmup, bitext_weight, width, layers, heads, kv_heads, ff, threads, eval_every,
        ckpt_every;
    double lr;
    unsigned long long seed;
    ggml_type type;
} train_args;

/* Windows of at most T targets from one conversation. */
static void add_windows(seq **s, size_t *n, size_t *cap, const ds_tokens *t, int T, int copies)
{
    if (t->n < 2)
        return;
    for (int c = 0; c < copies; c++) {
        for (size_t start = 0; start + 1 < t->n; start += (size_t)T) {
            size_t len = t->n - 1 - start;
            if (len > (size_t)T)
                len = (size_t)T;
            bool any = false;
            for (size_t i = 0; i < len; i++)
                any |= t->mask[start + 1 + i] != 0;
            if (!any)
                continue;
            if (*n == *cap) {
                *cap = *cap ? 2 * *cap : 1024;
                *s = xreallocarray(*s, *cap, sizeof **s);
            }
            seq *q = &(*s)[(*n)++];
            q->len = (int)len;
            q->ids = xmallocarray(len + 1, sizeof *q->ids);
            q->mask = xmallocarray(len, 1);
            memcpy(q->ids, t->ids + start, (len + 1) * sizeof *q->ids);
            memcpy(q->mask, t->mask + start + 1, len); /* mask of the targets */
        }
    }
}

static int by_len(const void *a, const void *b)
{
    const seq *x = a, *y = b;
    return (x->len > y->len) - (x->len < y->len);
}

/* Sort by length and cut into batches of about `tokens` tokens each.  No
 * sequences (no validation split): no batches, s may be NULL. */
static batch *make_batches(seq *s, size_t n, long tokens, int max_batch, size_t *nb)
{
    batch *b = NULL;
    *nb = 0;
    if (n == 0)
        return NULL;
    qsort(s, n, sizeof *s, by_len);
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        int T = 0;
        while (j < n && (int)(j - i) < max_batch) {
            int t = s[j].len > T ? s[j].len : T;
            if (j > i && (long)t * (long)(j - i + 1) > tokens)
                break;
            T = t;
            j++;
        }
        b = xreallocarray(b, *nb + 1, sizeof *b);
        b[(*nb)++] = (batch){i, j - i, T};
        i = j;
    }
    return b;
}

/* Pack batch b into tokens (B, T+1) and mask (B, T), padding with 0s. */
static void pack(const seq *s, const batch *b, int32_t *tok, uint8_t *mask)
{
    int T = b->T;
    memset(tok, 0, (size_t)b->count * (size_t)(T + 1) * sizeof *tok);
    memset(mask, 0, (size_t)b->count * (size_t)T);
    for (size_t k = 0; k < b->count; k++) {
        const seq *q = &s[b->first + k];
        memcpy(tok + k * (size_t)(T + 1), q->ids, (size_t)(q->len + 1) * sizeof *tok);
        memcpy(mask + k * (size_t)T, q->mask, (size_t)q->len);
    }
}

/* The batch for step: epoch = step / nb, a permutation of that epoch. */
static size_t batch_for_step(uint64_t seed, long step, size_t nb, size_t *perm)
{
    long epoch = step / (long)nb;
    static long cached = -1;
    if (cached != epoch) {
        train_rng r;
        train_rng_seed(&r, seed * 0x9e3779b97f4a7c15ull + (uint64_t)epoch + 1);
        for (size_t i = 0; i < nb; i++)
            perm[i] = i;
        for (size_t i = nb; i > 1; i--) {
            size_t j = (size_t)train_rng_below(&r, i);
            size_t t = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = t;
        }
        cached = epoch;
    }
    return perm[step % (long)nb];
}

static int parse(int argc, char **argv, train_args *a)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},       {"vocab", required_argument, NULL, 'v'},
        {"init", required_argument, NULL, 'i'},      {"data", required_argument, NULL, 'd'},
        {"steps", required_argument, NULL, 's'},     {"tokens", required_argument, NULL, 'k'},
        {"ctx", required_argument, NULL, 'c'},       {"lr", required_argument, NULL, 'l'},
        {"warmup", required_argument, NULL, 'w'},    {"bitext-weight", required_argument, NULL, 'b'},
        {"width", required_argument, NULL, 'W'},     {"layers", required_argument, NULL, 'L'},
        {"heads", required_argument, NULL, 'H'},     {"kv-heads", required_argument, NULL, 'K'},
        {"ff", required_argument, NULL, 'F'},        {"seed", required_argument, NULL, 'S'},
        {"threads", required_argument, NULL, 't'},   {"eval-every", required_argument, NULL, 'e'},
        {"ckpt", required_argument, NULL, 'C'},      {"ckpt-every", required_argument, NULL, 'E'},
        {"type", required_argument, NULL, 'T'},      {"name", required_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    *a = (train_args){.data = "../shared/data", .steps = 2000, .tokens = 8192, .ctx = 512, .lr = 1e-3,
                      .warmup = 100, .bitext_weight = 3, .width = 256, .layers = 6, .heads = 8,
                      .kv_heads = 8, .ff = 688, .seed = 1, .eval_every = 100, .ckpt_every = 50,
                      .type = GGML_TYPE_Q8_0, .name = "frontdesk-cs"};
    a->threads = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
    int c;
    long *num = NULL;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'o': a->out = optarg; continue;
        case 'v': a->vocab = optarg; continue;
        case 'i': a->init = optarg; continue;
        case 'd': a->data = optarg; continue;
        case 'C': a->ckpt = optarg; continue;
        case 'N': a->name = optarg; continue;
        case 'l':
            if (!cli_parse_float(optarg, 1e-7, 1.0, &a->lr))
                return cli_usage_error("train", "--lr needs a number from 1e-7 to 1, got '%s'", optarg);
            continue;
        case 'S': {
            char *end;
            a->seed = strtoull(optarg, &end, 10);
            if (*end || end == optarg)
                return cli_usage_error("train", "--seed needs a whole number, got '%s'", optarg);
            continue;
        }
        case 'T':
            if (!strcmp(optarg, "f32"))
                a->type = GGML_TYPE_F32;
            else if (!strcmp(optarg, "f16"))
                a->type = GGML_TYPE_F16;
            else if (!strcmp(optarg, "q8_0"))
                a->type = GGML_TYPE_Q8_0;
            else
                return cli_usage_error("train", "--type is f32, f16 or q8_0, not '%s'", optarg);
            continue;
        case 's': num = &a->steps; break;
        case 'k': num = &a->tokens; break;
        case 'c': num = &a->ctx; break;
        case 'w': num = &a->warmup; break;
        case 'b': num = &a->bitext_weight; break;
        case 'W': num = &a->width; break;
        case 'L': num = &a->layers; break;
        case 'H': num = &a->heads; break;
        case 'K': num = &a->kv_heads; break;
        case 'F': num = &a->ff; break;
        case 't': num = &a->threads; break;
        case 'e': num = &a->eval_every; break;
        case 'E': num = &a->ckpt_every; break;
        case ':': return cli_usage_error("train", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("train", "unknown option '%s'", argv[optind - 1]);
        }
        if (!cli_parse_int(optarg, c == 'w' || c == 'b' ? 0 : 1, 1L << 30, num))
            return cli_usage_error("train", "%s needs a whole number, got '%s'", argv[optind - 1], optarg);
    }
    if (optind < argc)
        return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (!a->out)
        return cli_usage_error("train", "--out MODEL.gguf is required");
    if (!a->vocab == !a->init)
        return cli_usage_error("train", "give exactly one of --vocab (from scratch) and --init (continue)");
    return EXIT_OK;
}

/* The validation loss over at most 64 batches. */
static float eval_loss(train_model *m, const seq *s, const batch *b, size_t nb, int32_t *tok, uint8_t *mask)
{
    double sum = 0;
    double weight = 0;
    size_t step = nb > 64 ? nb / 64 : 1;
    for (size_t i = 0; i < nb; i += step) {
        pack(s, &b[i], tok, mask);
        float loss;
        char err[256];
        if (train_eval_loss(m, tok, mask, (int)b[i].count, b[i].T, &loss, err, sizeof err) != TRAIN_OK)
            continue;
        double w = 0;
        for (size_t k = 0; k < b[i].count * (size_t)b[i].T; k++)
            w += mask[k] != 0;
        sum += loss * w;
        weight += w;
    }
    return weight ? (float)(sum / weight) : NAN;
}

/* The progress line's validation figure: "no validation split" when the
 * data was too small to hold a conversation out (a handful of exported
 * replies) rather than a loss that can never come; "val nan" only until
 * the first evaluation (--eval-every) of a split that exists. */
static void format_val(char *buf, size_t len, bool have_split, float val)
{
    if (!have_split)
        snprintf(buf, len, "no validation split");
    else
        snprintf(buf, len, "val %.3f", val);
}

static char copy_err[256];

static int copy_tokenizer(void *ctx, gguf_writer *w)
{
    /* the number of keys copied, or a negative BPE_E* */
    return bpe_copy_tokenizer_kv((const gguf_file *)ctx, w, copy_err, sizeof copy_err) < 0 ? -1 : 0;
}

int cmd_train(int argc, char **argv)
{
    train_args a;
    int rc = parse(argc, argv, &a);
    if (rc != EXIT_OK)
        return rc;
    char err[600];
    dataset d = {0};
    gguf_file *vf = NULL;
    tok_vocab *v = NULL;
    train_model *m = NULL;
    seq *tr = NULL, *va = NULL;
    size_t n_tr = 0, n_va = 0, cap_tr = 0, cap_va = 0, nb_tr = 0, nb_va = 0;
    batch *b_tr = NULL, *b_va = NULL;
    size_t *perm = NULL;
    int32_t *tok = NULL;
    uint8_t *mask = NULL;
    strbuf ckpt_path = {0};
    rc = EXIT_FAIL;

    /* the data */
    ds_options o;
    ds_options_default(&o);
    size_t dl = strlen(a.data);
    bool jsonl = dl > 6 && !strcmp(a.data + dl - 6, ".jsonl");
    if (jsonl) {
        if (ds_read_jsonl(&d, a.data, a.init != NULL, err, sizeof err) != 0) {
            cli_fail("%s", err);
            goto out;
        }
        ds_assign_split(&d, o.valid_fraction, a.seed);
    } else {
        o.data_dir = a.data;
        if (ds_load(&d, &o, err, sizeof err) != 0) {
            cli_fail("%s", err);
            goto out;
        }
    }
    /* the tokenizer (and, with --init, the model) */
    if (gguf_open(&vf, a.vocab ? a.vocab : a.init, err, sizeof err) != GGUF_OK ||
        tok_load(&v, vf, err, sizeof err) != 0) {
        cli_fail("%s", err);
        goto out;
    }
    ds_tokens t = {0};
    for (int split = 0; split < 2; split++) {
        ds_split sp = split ? DS_VALID : DS_TRAIN;
        for (size_t i = 0; i < ds_count(&d, sp); i++) {
            const ds_conv *c = ds_get(&d, sp, i);
            if (ds_tokenize(v, c, &t, err, sizeof err) != 0) {
                cli_fail("%s", err);
                ds_tokens_free(&t);
                goto out;
            }
            int copies = split == 0 && c->source == DS_SRC_BITEXT ? (int)a.bitext_weight : 1;
            if (split)
                add_windows(&va, &n_va, &cap_va, &t, (int)a.ctx, 1);
            else
                add_windows(&tr, &n_tr, &cap_tr, &t, (int)a.ctx, copies);
        }
    }
    ds_tokens_free(&t);
    if (!n_tr) {
        cli_fail("no training sequences with agent turns in %s", a.data);
        goto out;
    }
    /* the trainer sizes its activations for max_batch × ctx tokens */
    int max_batch = (int)(a.tokens / a.ctx > 0 ? a.tokens / a.ctx : 1);
    b_tr = make_batches(tr, n_tr, a.tokens, max_batch, &nb_tr);
    b_va = make_batches(va, n_va, a.tokens, max_batch, &nb_va);
    uint64_t train_tokens = 0;
    for (size_t i = 0; i < n_tr; i++)
        train_tokens += (uint64_t)tr[i].len;
    fprintf(stderr, "train: %zu sequences (%llu tokens) in %zu batches, %zu validation sequences\n", n_tr,
            (unsigned long long)train_tokens, nb_tr, n_va);

    /* the model: resumed, imported or new */
    if (a.ckpt)
        sb_puts(&ckpt_path, a.ckpt);
    else
        sb_printf(&ckpt_path, "%s.ckpt", a.out);
    train_ckpt st = {0};
    uint64_t tokens_before = 0; /* trained on before this run: the checkpoint's blob */
    if (access(ckpt_path.data, F_OK) == 0) {
        if (train_load(&m, &st, ckpt_path.data, (int)a.threads, err, sizeof err) != TRAIN_OK) {
            cli_fail("%s", err);
            goto out;
        }
        if (st.user_len == sizeof tokens_before) /* older checkpoints carry none */
            memcpy(&tokens_before, st.user, sizeof tokens_before);
        free(st.user);
        fprintf(stderr, "train: resuming %s at step %llu\n", ckpt_path.data, (unsigned long long)st.step);
    } else {
        train_config cfg;
        train_config_default(&cfg);
        cfg.n_ctx = (uint32_t)a.ctx;
        cfg.n_batch = (uint32_t)max_batch;
        cfg.n_threads = (uint32_t)a.threads;
        if (a.init) {
            if (train_import_gguf(&m, a.init, &cfg, err, sizeof err) != TRAIN_OK) {
                cli_fail("%s", err);
                goto out;
            }
        } else {
            cfg.vocab = (uint32_t)tok_n_vocab(v);
            cfg.n_embd = (uint32_t)a.width;
            cfg.n_layer = (uint32_t)a.layers;
            cfg.n_head = (uint32_t)a.heads;
            cfg.n_head_kv = (uint32_t)a.kv_heads;
            cfg.n_ff = (uint32_t)a.ff;
            if (!(m = train_new(&cfg, a.seed, err, sizeof err))) {
                cli_fail("%s", err);
                goto out;
            }
        }
    }
    fprintf(stderr, "train: %zu parameters, %ld steps, %d threads\n", train_n_params(m), a.steps,
            (int)a.threads);

    tok = xmallocarray((size_t)max_batch * (size_t)(a.ctx + 1), sizeof *tok);
    mask = xmallocarray((size_t)max_batch * (size_t)a.ctx, 1);
    perm = xmallocarray(nb_tr, sizeof *perm);
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    float val = NAN, ema = NAN;
    double t0 = util_now(), tokens_done = 0;
    long step = (long)st.step;
    long first = step;
    while (step < a.steps && !stop_signal) {
        const batch *b = &b_tr[batch_for_step(a.seed, step, nb_tr, perm)];
        pack(tr, b, tok, mask);
        float loss;
        if (train_step_grad(m, tok, mask, (int)b->count, b->T, &loss, err, sizeof err) != TRAIN_OK) {
            cli_fail("step %ld: %s", step, err);
            goto out;
        }
        float lr = train_lr(step, a.steps, a.warmup, (float)a.lr, (float)a.lr / 10);
        train_apply(m, lr);
        step++;
        tokens_done += (double)b->count * b->T;
        ema = isnan(ema) ? loss : 0.95f * ema + 0.05f * loss;
        if (nb_va && (step % a.eval_every == 0 || step == a.steps))
            val = eval_loss(m, va, b_va, nb_va, tok, mask);
        double el = util_now() - t0;
        double tps = el > 0 ? tokens_done / el : 0;
        double eta = step > first ? el / (double)(step - first) * (double)(a.steps - step) : 0;
        char val_text[32];
        format_val(val_text, sizeof val_text, nb_va > 0, val);
        fprintf(stderr, "\rstep %ld/%ld  loss %.3f  %s  lr %.2e  %.0f tok/s  ETA %dm%02ds   ", step, a.steps, ema,
                val_text, lr, tps, (int)eta / 60, (int)eta % 60);
        if (step % a.ckpt_every == 0 || step == a.steps || stop_signal) {
            /* the tokens so far, so that a resumed run's general.training.tokens
             * counts every sitting */
            uint64_t tokens_total = tokens_before + (uint64_t)tokens_done;
            train_ckpt cs = {.step = (uint64_t)step, .user = &tokens_total, .user_len = sizeof tokens_total};
            if (train_save(m, &cs, ckpt_path.data, err, sizeof err) != TRAIN_OK) {
                cli_fail("saving the checkpoint: %s", err);
                goto out;
            }
        }
    }
    fputc('\n', stderr);
    if (stop_signal) {
        fprintf(stderr, "train: stopped at step %ld; checkpoint %s (run the same command to resume)\n", step,
                ckpt_path.data);
        rc = 130;
        goto out;
    }
    if (nb_va && isnan(val))
        val = eval_loss(m, va, b_va, nb_va, tok, mask);
    static const char *const datasets[] = {"Bitext Customer Service (CDLA-Sharing-1.0)", "STAR (MIT)"};
    train_gguf_meta meta = {
        .name = a.name,
        .version = "1",
        .description = "A small customer-service model trained by frontdesk train on Bitext and STAR "
                       "dialogues; {{Placeholder}} slots are for the agent to fill.",
        .license = "The weights are unrestricted (CDLA-Sharing-1.0 permits results of computation); "
                   "training data: Bitext (CDLA-Sharing-1.0), STAR (MIT)",
        .datasets = jsonl ? NULL : datasets,
        .n_datasets = jsonl ? 0 : 2,
        .train_steps = (uint64_t)step,
        .train_tokens = tokens_before + (uint64_t)tokens_done,
        .val_loss = isnan(val) ? 0 : val,
        .add_kv = copy_tokenizer,
        .add_kv_ctx = vf,
    };
    if (train_export_gguf(m, a.out, a.type, &meta, err, sizeof err) != TRAIN_OK) {
        cli_fail("%s%s%s", err, copy_err[0] ? ": " : "", copy_err);
        goto out;
    }
    if (nb_va)
        fprintf(stderr, "train: wrote %s (validation loss %.4f, perplexity %.2f on agent turns)\n", a.out, val,
                exp(val));
    else
        fprintf(stderr, "train: wrote %s (no validation split: too few conversations to hold one out)\n", a.out);
    rc = EXIT_OK;
out:
    for (size_t i = 0; i < n_tr; i++) {
        free(tr[i].ids);
        free(tr[i].mask);
    }
    for (size_t i = 0; i < n_va; i++) {
        free(va[i].ids);
        free(va[i].mask);
    }
    free(tr);
    free(va);
    free(b_tr);
    free(b_va);
    free(perm);
    free(tok);
    free(mask);
    sb_free(&ckpt_path);
    train_free(m);
    tok_free(v);
    gguf_close(vf);
    ds_free(&d);
    return rc;
}
