/*
 * cmd_perplexity.c — `frontdesk perplexity --model FILE --file TEXT [--ctx N]`.
 *
 * The whole file is tokenized with BOS as the metadata asks and cut into
 * consecutive windows of N tokens (the last may be shorter).  Each window
 * is evaluated from an empty cache, and every token after the first is
 * scored against the logits of the token before it:
 *
 *   ppl = exp(mean over scored tokens of -log softmax(logits)[token])
 */
#include "app/cli.h"

#include "engine/forward.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "util/util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_perplexity_usage[] =
    "usage: frontdesk perplexity --model FILE --file TEXT [--ctx N] [--threads N]\n"
    "\n"
    "Score a text file with the model and print 'ppl <value> tokens <scored>'.\n"
    "The text is tokenized with BOS as the model's metadata asks, cut into\n"
    "consecutive windows of N tokens (the last may be shorter), each window\n"
    "evaluated from an empty cache; every token after the first of its window\n"
    "is scored against the logits of the token before it.\n"
    "\n"
    "  -m, --model FILE    the GGUF model\n"
    "  -f, --file TEXT     the text file to score\n"
    "  -c, --ctx N         window length in tokens (default 64)\n"
    "  -t, --threads N     threads (default: the number of cores)\n";

int cmd_perplexity(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"file", required_argument, NULL, 'f'},
        {"ctx", required_argument, NULL, 'c'},
        {"threads", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    const char *model_path = NULL, *text_path = NULL;
    long n_ctx = 64, n_threads = sysconf(_SC_NPROCESSORS_ONLN);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:f:c:t:", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'f': text_path = optarg; break;
        case 'c':
            if (!cli_parse_int(optarg, 2, 1 << 20, &n_ctx))
                return cli_usage_error("perplexity", "--ctx needs a whole number from 2, got '%s'", optarg);
            break;
        case 't':
            if (!cli_parse_int(optarg, 1, 512, &n_threads))
                return cli_usage_error("perplexity", "--threads needs a number from 1 to 512, got '%s'", optarg);
            break;
        case ':': return cli_usage_error("perplexity", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("perplexity", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("perplexity", "unexpected argument '%s'", argv[optind]);
    if (!model_path || !text_path)
        return cli_usage_error("perplexity", "--model FILE and --file TEXT are required");
    if (n_threads < 1)
        n_threads = 1;

    char err[512];
    model *m = NULL;
    tok_vocab *vocab = NULL;
    fwd_ctx *ctx = NULL;
    char *text = NULL;
    int32_t *ids = NULL;
    float *logits = NULL;
    int rc = EXIT_FAIL;
    size_t len, n = 0, cap = 0;

    if (util_read_file(text_path, &text, &len) != 0) {
        cli_fail("%s: %s", text_path, strerror(errno));
        goto out;
    }
    if (model_load(&m, model_path, err, sizeof err) != 0 ||
        tok_load(&vocab, m->file, err, sizeof err) != 0 ||
        tok_encode(vocab, text, len, true, false, &ids, &n, &cap, err, sizeof err) != 0) {
        cli_fail("%s", err);
        goto out;
    }
    if (!(ctx = fwd_new(m, (int)n_ctx, (int)n_threads, err, sizeof err))) {
        cli_fail("%s", err);
        goto out;
    }
    size_t V = m->n_vocab;
    logits = xmallocarray((size_t)n_ctx * V, sizeof *logits);
    double nll = 0.0;
    size_t scored = 0;
    for (size_t start = 0; start < n; start += (size_t)n_ctx) {
        int w = (int)(n - start < (size_t)n_ctx ? n - start : (size_t)n_ctx);
        fwd_truncate(ctx, 0);
        int frc = fwd_eval(ctx, ids + start, w, true, logits, NULL);
        if (frc != FWD_OK) {
            cli_fail("evaluation failed at token %zu (status %d)", start, frc);
            goto out;
        }
        for (int i = 0; i + 1 < w; i++) {
            const float *l = logits + (size_t)i * V;
            float mx = l[0];
            for (size_t j = 1; j < V; j++)
                if (l[j] > mx)
                    mx = l[j];
            double sum = 0.0;
            for (size_t j = 0; j < V; j++)
                sum += exp((double)l[j] - mx);
            double lse = mx + log(sum);
            nll += lse - l[ids[start + (size_t)i + 1]];
            scored++;
        }
    }
    if (scored == 0) {
        cli_fail("%s: too short to score (%zu tokens)", text_path, n);
        goto out;
    }
    printf("ppl %.6f tokens %zu\n", exp(nll / (double)scored), scored);
    rc = EXIT_OK;
out:
    free(logits);
    free(ids);
    free(text);
    fwd_free(ctx);
    tok_free(vocab);
    model_free(m);
    return rc;
}
