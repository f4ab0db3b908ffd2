/*
 * cmd_info.c — `frontdesk info --model FILE [--json]`: describe a model.
 */
#include "app/cli.h"

#include "engine/chat_template.h"
#include "engine/gguf.h"
#include "engine/model.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

const char cmd_info_usage[] =
    "usage: frontdesk info --model FILE [--json]\n"
    "\n"
    "Describe a GGUF model file: architecture, parameter count, layers, heads,\n"
    "context length, vocabulary, pre-tokenizer, tensor types and chat template.\n"
    "Works on vocabulary-only files too.\n"
    "\n"
    "  -m, --model FILE   the GGUF file\n"
    "      --json         one JSON object with keys architecture, parameters,\n"
    "                     layers, heads, kv_heads, context_length, vocab_type,\n"
    "                     vocab_size, pre_tokenizer, tensor_types, chat_template\n";

typedef struct {
    model_hparams hp;
    char vocab_type[32];
    uint64_t vocab_size;
    char pre[64];
    char tensor_types[512];
    const char *chat_template; /* name we render it as */
    bool chat_template_known;  /* false: absent or unrecognised, ChatML used */
    bool chat_template_present;
} model_info;

static void copy_str(char *dst, size_t cap, const gguf_file *f, const char *key, const char *dflt)
{
    gguf_str s;
    if (gguf_get_str(f, key, &s)) {
        size_t n = s.len < cap - 1 ? (size_t)s.len : cap - 1;
        memcpy(dst, s.ptr, n);
        dst[n] = '\0';
        /* Keep the terminal safe from control bytes in untrusted metadata. */
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
                dst[i] = '?';
    } else {
        snprintf(dst, cap, "%s", dflt);
    }
}

static int collect(const gguf_file *f, model_info *mi, char *err, size_t errlen)
{
    memset(mi, 0, sizeof *mi);
    if (model_hparams_read(f, &mi->hp, err, errlen) != 0)
        return -1;
    copy_str(mi->vocab_type, sizeof mi->vocab_type, f, "tokenizer.ggml.model", "none");
    const gguf_array *toks = gguf_get_arr(f, "tokenizer.ggml.tokens");
    mi->vocab_size = toks ? toks->n : 0;
    const char *pre_default = strcmp(mi->vocab_type, "gpt2") == 0 || strcmp(mi->vocab_type, "llama") == 0
                                  ? "default" : "none";
    copy_str(mi->pre, sizeof mi->pre, f, "tokenizer.ggml.pre", pre_default);
    model_tensor_types(f, mi->tensor_types, sizeof mi->tensor_types);
    gguf_str tmpl = {"", 0};
    mi->chat_template_present = gguf_get_str(f, "tokenizer.chat_template", &tmpl) && tmpl.len > 0;
    chat_tmpl t = chat_tmpl_detect(tmpl.ptr, (size_t)tmpl.len, &mi->chat_template_known);
    mi->chat_template = chat_tmpl_name(t);
    return 0;
}

static void print_json(const model_info *mi)
{
    json_t *o = json_object();
    const model_hparams *hp = &mi->hp;
    json_object_set_new(o, "architecture", json_string(hp->arch));
    json_object_set_new(o, "parameters", json_integer((json_int_t)hp->n_params));
    json_object_set_new(o, "layers", json_integer(hp->n_layer));
    json_object_set_new(o, "heads", json_integer(hp->n_head));
    json_object_set_new(o, "kv_heads", json_integer(hp->n_head_kv));
    json_object_set_new(o, "context_length", json_integer(hp->n_ctx_train));
    json_object_set_new(o, "vocab_type", json_string(mi->vocab_type));
    json_object_set_new(o, "vocab_size", json_integer((json_int_t)mi->vocab_size));
    json_object_set_new(o, "pre_tokenizer", json_string(mi->pre));
    json_t *types = json_object();
    char buf[sizeof mi->tensor_types];
    memcpy(buf, mi->tensor_types, sizeof buf);
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *colon = strchr(tok, ':');
        if (!colon)
            continue;
        *colon = '\0';
        json_object_set_new(types, tok, json_integer(atoll(colon + 1)));
    }
    json_object_set_new(o, "tensor_types", types);
    /* The template we apply; "chatml (default)" marks the fallback. */
    char tmpl[64];
    snprintf(tmpl, sizeof tmpl, "%s%s", mi->chat_template, mi->chat_template_known ? "" : " (default)");
    json_object_set_new(o, "chat_template", json_string(tmpl));
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (s)
        puts(s);
    free(s);
    json_decref(o);
}

static void print_params(uint64_t n)
{
    if (n >= 1000000000ull)
        printf("%.2fB (%llu)\n", (double)n / 1e9, (unsigned long long)n);
    else if (n >= 1000000ull)
        printf("%.2fM (%llu)\n", (double)n / 1e6, (unsigned long long)n);
    else
        printf("%llu\n", (unsigned long long)n);
}

static void print_text(const char *path, const gguf_file *f, const model_info *mi)
{
    const model_hparams *hp = &mi->hp;
    printf("file:            %s (GGUF v%u, %llu bytes)\n", path, gguf_version(f),
           (unsigned long long)gguf_file_size(f));
    printf("architecture:    %s\n", hp->arch);
    printf("parameters:      ");
    print_params(hp->n_params);
    printf("layers:          %u\n", hp->n_layer);
    printf("embedding:       %u\n", hp->n_embd);
    printf("heads:           %u (kv heads %u)\n", hp->n_head, hp->n_head_kv);
    printf("context length:  %u\n", hp->n_ctx_train);
    printf("vocabulary:      %s, %llu tokens\n", mi->vocab_type, (unsigned long long)mi->vocab_size);
    printf("pre-tokenizer:   %s\n", mi->pre);
    printf("tensor types:    %s\n", mi->tensor_types[0] ? mi->tensor_types : "(no tensors)");
    if (mi->chat_template_known)
        printf("chat template:   %s\n", mi->chat_template);
    else if (mi->chat_template_present)
        printf("chat template:   unrecognised; ChatML will be used\n");
    else
        printf("chat template:   none in the file; ChatML will be used\n");
}

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    bool json = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:", opts, NULL)) != -1) {
        switch (c) {
        case 'm': path = optarg; break;
        case 'j': json = true; break;
        case ':': return cli_usage_error("info", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("info", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("info", "unexpected argument '%s'", argv[optind]);
    if (!path)
        return cli_usage_error("info", "--model FILE is required");

    char err[512];
    gguf_file *f;
    if (gguf_open(&f, path, err, sizeof err) != GGUF_OK)
        return cli_fail("%s", err);
    model_info mi;
    if (collect(f, &mi, err, sizeof err) != 0) {
        gguf_close(f);
        return cli_fail("%s: %s", path, err);
    }
    if (json)
        print_json(&mi);
    else
        print_text(path, f, &mi);
    gguf_close(f);
    return EXIT_OK;
}
