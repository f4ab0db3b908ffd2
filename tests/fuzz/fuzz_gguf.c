/*
 * fuzz_gguf.c — the GGUF reader and model loading on arbitrary bytes.
 *
 * The input is parsed by gguf_open_memory; whatever parses is walked
 * whole (every key, every array element through the accessors, every
 * tensor), read as hyper-parameters and as a vocabulary, and then loaded
 * as a model through model_load — which takes a path, so the bytes go to
 * an anonymous memory file (memfd) named by /proc/self/fd: nothing is
 * written to disk.  Seeds (tests/fuzz/corpus/gguf/): tiny llama and qwen2
 * models of several weight types, vocabulary-only files, and cut ones.
 */
#include "tests/fuzz/fuzz.h"

#include "engine/chat_template.h"
#include "engine/gguf.h"
#include "engine/model.h"
#include "engine/tokenizer.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A sum of everything read, so no read is optimised away. */
static volatile uint64_t sink;

static void walk_value(const gguf_value *v, int depth)
{
    if (v->type == GGUF_TYPE_STRING) {
        sink += v->u.str.len ? (uint8_t)v->u.str.ptr[v->u.str.len - 1] : 0;
        return;
    }
    if (v->type != GGUF_TYPE_ARRAY) {
        sink += v->u.u64;
        return;
    }
    const gguf_array *a = &v->u.arr;
    /* Arrays may hold 16M elements: look at the ends, not every one. */
    for (uint64_t i = 0; i < a->n; i = i < 64 || i + 64 >= a->n ? i + 1 : a->n - 64) {
        switch (a->type) {
        case GGUF_TYPE_STRING: sink += gguf_arr_str(a, i).len; break;
        case GGUF_TYPE_ARRAY:
            if (depth < GGUF_MAX_NESTING)
                walk_value(&a->elems[i], depth + 1);
            break;
        case GGUF_TYPE_FLOAT32:
        case GGUF_TYPE_FLOAT64: sink += (uint64_t)(gguf_arr_f32(a, i) != 0.0f); break;
        case GGUF_TYPE_BOOL: sink += a->data[i]; break;
        default: sink += gguf_arr_u64(a, i) + (uint64_t)gguf_arr_i64(a, i); break;
        }
    }
}

/* The tokenizer and chat template a model file carries. */
static void read_vocab(const gguf_file *f)
{
    char err[256];
    tok_vocab *v = NULL;
    if (tok_load(&v, f, err, sizeof err) == TOK_OK) {
        static const char text[] = "Hello, world! <|im_start|>user\n 12345 caf\xc3\xa9";
        int32_t *ids = NULL;
        size_t n = 0, cap = 0;
        if (tok_encode(v, text, sizeof text - 1, true, true, &ids, &n, &cap, err, sizeof err) == TOK_OK) {
            char piece[64];
            for (size_t i = 0; i < n; i++)
                sink += tok_piece(v, ids[i], piece, sizeof piece);
        }
        free(ids);
        tok_free(v);
    }
    gguf_str tmpl;
    if (gguf_get_str(f, "tokenizer.chat_template", &tmpl)) {
        bool known;
        sink += chat_tmpl_detect(tmpl.ptr, (size_t)tmpl.len, &known);
    }
}

static void load_model(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_gguf", MFD_CLOEXEC);
    if (fd < 0)
        return;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    if (done == size) {
        char path[64], err[512];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        model *m = NULL;
        if (model_load(&m, path, err, sizeof err) == 0)
            sink += m->n_vocab + m->hp.n_layer;
        model_free(m);
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gguf_file *f = NULL;
    char err[512];
    if (gguf_open_memory(&f, data, size, err, sizeof err) != GGUF_OK)
        return 0;
    sink += gguf_version(f) + gguf_alignment(f) + gguf_data_offset(f) + gguf_file_size(f);
    for (size_t i = 0; i < gguf_kv_count(f); i++) {
        const gguf_kv *kv = gguf_kv_at(f, i);
        walk_value(&kv->value, 0);
        char key[80];
        snprintf(key, sizeof key, "%.*s", (int)(kv->key.len < 79 ? kv->key.len : 79), kv->key.ptr);
        sink += gguf_find(f, key) != NULL;
    }
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        if (t->n_bytes)
            sink += ((const uint8_t *)t->data)[t->n_bytes - 1];
    }
    model_hparams hp;
    if (model_hparams_read(f, &hp, err, sizeof err) == 0) {
        char types[256];
        model_tensor_types(f, types, sizeof types);
        sink += strlen(types);
    }
    read_vocab(f);
    gguf_close(f);
    load_model(data, size);
    return 0;
}
