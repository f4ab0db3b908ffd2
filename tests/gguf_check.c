/* gguf_check.c — see gguf_check.h. */
#include "tests/gguf_check.h"

#include "tests/testutil.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A formatted string that lives until 16 more calls (for expected messages). */
const char *gg_fmt(const char *f, ...)
{
    static char ring[16][256];
    static unsigned next;
    char *s = ring[next++ % 16];
    va_list ap;
    va_start(ap, f);
    vsnprintf(s, sizeof ring[0], f, ap);
    va_end(ap);
    return s;
}

/* Writer → malloc'ed image; frees the writer. */
uint8_t *gg_image(gguf_writer *w, size_t *len)
{
    void *buf;
    int rc = gguf_writer_write_mem(w, &buf, len);
    if (rc != GGUF_OK)
        fail_msg("gguf_writer_write_mem: %d %s", rc, gguf_writer_error(w));
    gguf_writer_free(w);
    return buf;
}

/* Reads every byte the parse claims to have found, so that ASan and UBSan
 * check them: strings, array elements, first and last byte of each tensor. */
static uint64_t touch_value(const gguf_value *v)
{
    uint64_t h = (uint64_t)v->type;
    if (v->type == GGUF_TYPE_STRING) {
        if (v->u.str.len)
            h += (uint8_t)v->u.str.ptr[0] + (uint8_t)v->u.str.ptr[v->u.str.len - 1];
    } else if (v->type == GGUF_TYPE_ARRAY) {
        const gguf_array *a = &v->u.arr;
        for (uint64_t i = 0; i < a->n; i++) {
            if (a->type == GGUF_TYPE_STRING) {
                gguf_str s = gguf_arr_str(a, i);
                h += s.len ? (uint8_t)s.ptr[0] + (uint8_t)s.ptr[s.len - 1] : 1;
            } else if (a->type == GGUF_TYPE_ARRAY) {
                h += touch_value(&a->elems[i]);
            } else {
                h += gguf_arr_u64(a, i) + (uint64_t)gguf_arr_f32(a, i);
            }
        }
    } else {
        h += v->u.u64;
    }
    return h;
}

static uint64_t touch_file(const gguf_file *f)
{
    uint64_t h = 0;
    for (size_t i = 0; i < gguf_kv_count(f); i++) {
        const gguf_kv *kv = gguf_kv_at(f, i);
        h += (uint8_t)kv->key.ptr[0] + (uint8_t)kv->key.ptr[kv->key.len - 1];
        h += touch_value(&kv->value);
    }
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        const uint8_t *d = t->data;
        if (t->n_bytes)
            h += d[0] + d[t->n_bytes - 1];
        assert_true(t->offset + t->n_bytes <= gguf_file_size(f));
    }
    return h;
}

/* Parses an exact-size malloc'ed copy of buf[0, len). */
int gg_parse_copy(const void *buf, size_t len, char *err, size_t errlen)
{
    uint8_t *copy = xmalloc(len);
    if (len)
        memcpy(copy, buf, len);
    gguf_file *f = (gguf_file *)&f; /* must be reset to NULL on failure */
    int rc = gguf_open_memory(&f, copy, len, err, errlen);
    if (rc == GGUF_OK) {
        touch_file(f);
        gguf_close(f);
    } else {
        assert_null(f);
        assert_true(err[0] != '\0');
    }
    free(copy);
    return rc;
}

gguf_file *gg_open_ok(const void *buf, size_t len)
{
    char err[512];
    gguf_file *f;
    int rc = gguf_open_memory(&f, buf, len, err, sizeof err);
    if (rc != GGUF_OK)
        fail_msg("gguf_open_memory: %d %s", rc, err);
    return f;
}
