/*
 * cmd_tokenize.c — `frontdesk tokenize --model FILE [--add-special]
 * [--parse-special]`: token ids of standard input, space-separated.
 */
#include "app/cli.h"

#include "engine/gguf.h"
#include "engine/tokenizer.h"
#include "util/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_tokenize_usage[] =
    "usage: frontdesk tokenize --model FILE [--add-special] [--parse-special] < TEXT\n"
    "\n"
    "Read UTF-8 text from standard input, unmodified (no newline stripped), and\n"
    "print its token ids joined by single spaces, then one newline.\n"
    "Works on vocabulary-only GGUF files.\n"
    "\n"
    "  -m, --model FILE    the GGUF file\n"
    "      --add-special   add BOS/EOS as the model's metadata asks\n"
    "      --parse-special recognise special-token text such as <|im_end|>\n";

int cmd_tokenize(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"add-special", no_argument, NULL, 'a'},
        {"parse-special", no_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    bool add_special = false, parse_special = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:", opts, NULL)) != -1) {
        switch (c) {
        case 'm': path = optarg; break;
        case 'a': add_special = true; break;
        case 'p': parse_special = true; break;
        case ':': return cli_usage_error("tokenize", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("tokenize", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("tokenize", "unexpected argument '%s' (the text is read from standard input)", argv[optind]);
    if (!path)
        return cli_usage_error("tokenize", "--model FILE is required");

    char err[512];
    gguf_file *f;
    if (gguf_open(&f, path, err, sizeof err) != GGUF_OK)
        return cli_fail("%s", err);
    tok_vocab *vocab;
    if (tok_load(&vocab, f, err, sizeof err) != 0) {
        gguf_close(f);
        return cli_fail("%s: %s", path, err);
    }

    char *text;
    size_t len;
    int rc = EXIT_OK;
    if (util_read_fd(0, &text, &len) != 0) {
        rc = cli_fail("reading standard input: %s", strerror(errno));
        goto out;
    }
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    if (tok_encode(vocab, text, len, add_special, parse_special, &ids, &n, &cap, err, sizeof err) != 0) {
        rc = cli_fail("%s", err);
    } else {
        strbuf sb = {0};
        for (size_t i = 0; i < n; i++)
            sb_printf(&sb, i ? " %d" : "%d", ids[i]);
        sb_putc(&sb, '\n');
        if (fwrite(sb.data, 1, sb.len, stdout) != sb.len || fflush(stdout) != 0)
            rc = cli_fail("writing standard output: %s", strerror(errno));
        sb_free(&sb);
    }
    free(ids);
    free(text);
out:
    tok_free(vocab);
    gguf_close(f);
    return rc;
}
