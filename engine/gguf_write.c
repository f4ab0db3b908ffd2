/*
 * gguf_write.c — the GGUF writer (see gguf_write.h; the format is in gguf.h).
 *
 * Values are encoded to their file bytes when set, so a write is a matter of
 * framing: header, keys, tensor infos, padding, data.  One `sink` takes all
 * output, either into a caller's memory buffer or through a 1 MiB buffer into
 * a file descriptor; it remembers the first errno so that emit() can run to
 * the end without checking every call.
 */
#include "engine/gguf_write.h"

#include "util/private.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TENSOR_NAME_MAX 63            /* llama.cpp rejects longer names */
#define CHUNK_BYTES ((size_t)1 << 20) /* write buffer and fill chunk    */

typedef struct {
    char *key;
    uint32_t type;
    char *val; /* the encoded value, after its type field */
    size_t len;
} wkv;

typedef struct {
    char *name;
    ggml_type type;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    uint64_t nbytes;
    const void *data; /* referenced, or `owned` */
    void *owned;
    gguf_tensor_fill_fn fill; /* instead of data */
    void *fill_ctx;
} wtensor;

struct gguf_writer {
    uint32_t version;
    wkv *kvs;
    size_t n_kv, cap_kv;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
    int status;    /* first failed set/add: sticky */
    char msg[320]; /* the latest failure */
};

static int vfail(gguf_writer *w, int status, const char *fmt, va_list ap)
{
    vsnprintf(w->msg, sizeof w->msg, fmt, ap);
    return status;
}

/* A failed write: the message is kept, the writer stays usable. */
static int wfail(gguf_writer *w, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int wfail(gguf_writer *w, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(w, status, fmt, ap);
    va_end(ap);
    return status;
}

/* A rejected set or add: GGUF_EBAD, remembered for every later write. */
static int set_fail(gguf_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_fail(gguf_writer *w, const char *fmt, ...)
{
    if (w->status == GGUF_OK)
        w->status = GGUF_EBAD;
    va_list ap;
    va_start(ap, fmt);
    vfail(w, GGUF_EBAD, fmt, ap);
    va_end(ap);
    return GGUF_EBAD;
}

/* ---- Lifecycle ------------------------------------------------------------ */

gguf_writer *gguf_writer_new(void)
{
    gguf_writer *w = xcalloc(1, sizeof *w);
    w->version = 3;
    return w;
}

void gguf_writer_free(gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kvs[i].key);
        free(w->kvs[i].val);
    }
    for (size_t i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].owned);
    }
    free(w->kvs);
    free(w->tensors);
    free(w);
}

int gguf_writer_set_version(gguf_writer *w, uint32_t version)
{
    if (version != 2 && version != 3)
        return set_fail(w, "GGUF version %u cannot be written (2 or 3)", version);
    w->version = version;
    return GGUF_OK;
}

const char *gguf_writer_error(const gguf_writer *w) { return w->msg; }

/* ---- Encoding ---------------------------------------------------------------- */

static const uint8_t elem_size[GGUF_TYPE_COUNT] = {
    [GGUF_TYPE_UINT8] = 1, [GGUF_TYPE_INT8] = 1, [GGUF_TYPE_UINT16] = 2,
    [GGUF_TYPE_INT16] = 2, [GGUF_TYPE_UINT32] = 4, [GGUF_TYPE_INT32] = 4,
    [GGUF_TYPE_FLOAT32] = 4, [GGUF_TYPE_BOOL] = 1, [GGUF_TYPE_UINT64] = 8,
    [GGUF_TYPE_INT64] = 8, [GGUF_TYPE_FLOAT64] = 8,
};

static void put_le(strbuf *sb, uint64_t v, unsigned n)
{
    uint8_t b[8];
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    sb_append(sb, b, n);
}

static void put_str(strbuf *sb, const char *s, uint64_t len)
{
    put_le(sb, len, 8);
    sb_append(sb, s, (size_t)len);
}

/* Takes ownership of val->data.  Validates the key (and general.alignment),
 * then replaces the key's value in place or appends it. */
static int kv_put(gguf_writer *w, const char *key, uint32_t type, strbuf *val)
{
    size_t klen = strlen(key);
    const char *why = NULL;
    if (klen == 0)
        why = "empty metadata key";
    else if (klen > GGUF_MAX_STRING)
        why = "metadata key longer than GGUF_MAX_STRING";
    else if (strcmp(key, "general.alignment") == 0) {
        uint64_t a = 0;
        for (size_t i = 0; type == GGUF_TYPE_UINT32 && i < 4; i++)
            a |= (uint64_t)(uint8_t)val->data[i] << (8 * i);
        if (type != GGUF_TYPE_UINT32 || a == 0 || (a & (a - 1)) || a > GGUF_MAX_ALIGNMENT)
            why = "general.alignment must be a UINT32 power of two up to 65536";
    }
    if (why) {
        sb_free(val);
        return set_fail(w, "key '%.80s': %s", key, why);
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kvs[i].key, key) == 0) {
            free(w->kvs[i].val);
            w->kvs[i] = (wkv){w->kvs[i].key, type, val->data, val->len};
            return GGUF_OK;
        }
    }
    if (w->n_kv == GGUF_MAX_KV) {
        sb_free(val);
        return set_fail(w, "key '%.80s': more than %u metadata entries", key, GGUF_MAX_KV);
    }
    if (w->n_kv == w->cap_kv) {
        w->cap_kv = w->cap_kv ? 2 * w->cap_kv : 16;
        w->kvs = xreallocarray(w->kvs, w->cap_kv, sizeof *w->kvs);
    }
    w->kvs[w->n_kv++] = (wkv){xstrdup(key), type, val->data, val->len};
    return GGUF_OK;
}

static int set_scalar(gguf_writer *w, const char *key, gguf_type t, uint64_t bits)
{
    strbuf sb = {0};
    put_le(&sb, bits, elem_size[t]);
    return kv_put(w, key, t, &sb);
}

int gguf_writer_set_u8(gguf_writer *w, const char *key, uint8_t v)
{
    return set_scalar(w, key, GGUF_TYPE_UINT8, v);
}

int gguf_writer_set_i8(gguf_writer *w, const char *key, int8_t v)
{
    return set_scalar(w, key, GGUF_TYPE_INT8, (uint8_t)v);
}

int gguf_writer_set_u16(gguf_writer *w, const char *key, uint16_t v)
{
    return set_scalar(w, key, GGUF_TYPE_UINT16, v);
}

int gguf_writer_set_i16(gguf_writer *w, const char *key, int16_t v)
{
    return set_scalar(w, key, GGUF_TYPE_INT16, (uint16_t)v);
}

int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v)
{
    return set_scalar(w, key, GGUF_TYPE_UINT32, v);
}

int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v)
{
    return set_scalar(w, key, GGUF_TYPE_INT32, (uint32_t)v);
}

int gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v)
{
    return set_scalar(w, key, GGUF_TYPE_UINT64, v);
}

int gguf_writer_set_i64(gguf_writer *w, const char *key, int64_t v)
{
    return set_scalar(w, key, GGUF_TYPE_INT64, (uint64_t)v);
}

int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v)
{
    return set_scalar(w, key, GGUF_TYPE_BOOL, v);
}

int gguf_writer_set_f32(gguf_writer *w, const char *key, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return set_scalar(w, key, GGUF_TYPE_FLOAT32, bits);
}

int gguf_writer_set_f64(gguf_writer *w, const char *key, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return set_scalar(w, key, GGUF_TYPE_FLOAT64, bits);
}

int gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment)
{
    return gguf_writer_set_u32(w, "general.alignment", alignment);
}

int gguf_writer_set_strn(gguf_writer *w, const char *key, const char *s, size_t len)
{
    if (len > GGUF_MAX_STRING)
        return set_fail(w, "key '%.80s': string of %zu bytes exceeds the limit of %u",
                        key, len, GGUF_MAX_STRING);
    strbuf sb = {0};
    put_str(&sb, s, len);
    return kv_put(w, key, GGUF_TYPE_STRING, &sb);
}

int gguf_writer_set_str(gguf_writer *w, const char *key, const char *s)
{
    return gguf_writer_set_strn(w, key, s, strlen(s));
}

int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, size_t n)
{
    if (n > GGUF_MAX_ARRAY)
        return set_fail(w, "key '%.80s': array of %zu strings exceeds the limit of %u",
                        key, n, GGUF_MAX_ARRAY);
    strbuf sb = {0};
    put_le(&sb, GGUF_TYPE_STRING, 4);
    put_le(&sb, n, 8);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(strs[i]);
        if (len > GGUF_MAX_STRING) {
            sb_free(&sb);
            return set_fail(w, "key '%.80s': string %zu exceeds the limit of %u bytes",
                            key, i, GGUF_MAX_STRING);
        }
        put_str(&sb, strs[i], len);
    }
    return kv_put(w, key, GGUF_TYPE_ARRAY, &sb);
}

int gguf_writer_set_arr_data(gguf_writer *w, const char *key, gguf_type elem,
                             const void *data, size_t n)
{
    if ((unsigned)elem >= GGUF_TYPE_COUNT || elem_size[elem] == 0)
        return set_fail(w, "key '%.80s': element type %d is not a number or bool", key, (int)elem);
    if (n > GGUF_MAX_ARRAY)
        return set_fail(w, "key '%.80s': array of %zu elements exceeds the limit of %u",
                        key, n, GGUF_MAX_ARRAY);
    strbuf sb = {0};
    put_le(&sb, elem, 4);
    put_le(&sb, n, 8);
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        uint64_t bits = 0;
        switch (elem_size[elem]) {
        case 1: {
            uint8_t v;
            if (elem == GGUF_TYPE_BOOL) {
                bool b;
                memcpy(&b, p + i * sizeof b, sizeof b);
                v = b;
            } else {
                v = p[i];
            }
            bits = v;
            break;
        }
        case 2: { uint16_t v; memcpy(&v, p + 2 * i, 2); bits = v; break; }
        case 4: { uint32_t v; memcpy(&v, p + 4 * i, 4); bits = v; break; }
        default: { uint64_t v; memcpy(&v, p + 8 * i, 8); bits = v; break; }
        }
        put_le(&sb, bits, elem_size[elem]);
    }
    return kv_put(w, key, GGUF_TYPE_ARRAY, &sb);
}

/* Encodes v into sb; returns NULL or what is wrong with it. */
static const char *encode_value(strbuf *sb, const gguf_value *v, int depth)
{
    if ((unsigned)v->type >= GGUF_TYPE_COUNT)
        return "unknown value type";
    if (v->type == GGUF_TYPE_STRING) {
        if (v->u.str.len > GGUF_MAX_STRING)
            return "string over GGUF_MAX_STRING";
        put_str(sb, v->u.str.ptr, v->u.str.len);
        return NULL;
    }
    if (v->type != GGUF_TYPE_ARRAY) {
        uint64_t bits;
        if (v->type == GGUF_TYPE_FLOAT32) {
            float f = (float)v->u.f64;
            uint32_t b32;
            memcpy(&b32, &f, sizeof b32);
            bits = b32;
        } else if (v->type == GGUF_TYPE_FLOAT64) {
            memcpy(&bits, &v->u.f64, sizeof bits);
        } else if (v->type == GGUF_TYPE_BOOL) {
            bits = v->u.b;
        } else {
            bits = v->u.u64; /* the low bytes of i64 are the same */
        }
        put_le(sb, bits, elem_size[v->type]);
        return NULL;
    }
    const gguf_array *a = &v->u.arr;
    if (depth >= GGUF_MAX_NESTING)
        return "arrays nested deeper than GGUF_MAX_NESTING";
    if ((unsigned)a->type >= GGUF_TYPE_COUNT)
        return "unknown array element type";
    if (a->n > GGUF_MAX_ARRAY)
        return "array longer than GGUF_MAX_ARRAY";
    if (a->n && !(a->type == GGUF_TYPE_STRING ? (const void *)a->strs
                  : a->type == GGUF_TYPE_ARRAY ? (const void *)a->elems : (const void *)a->data))
        return "array without elements";
    put_le(sb, a->type, 4);
    put_le(sb, a->n, 8);
    if (a->type == GGUF_TYPE_STRING) {
        for (uint64_t i = 0; i < a->n; i++) {
            if (a->strs[i].len > GGUF_MAX_STRING)
                return "string over GGUF_MAX_STRING";
            put_str(sb, a->strs[i].ptr, a->strs[i].len);
        }
    } else if (a->type == GGUF_TYPE_ARRAY) {
        for (uint64_t i = 0; i < a->n; i++) {
            if (a->elems[i].type != GGUF_TYPE_ARRAY)
                return "element of an array of arrays is not an array";
            const char *why = encode_value(sb, &a->elems[i], depth + 1);
            if (why)
                return why;
        }
    } else {
        if (a->type == GGUF_TYPE_BOOL)
            for (uint64_t i = 0; i < a->n; i++)
                if (a->data[i] > 1)
                    return "bool element not 0 or 1";
        sb_append(sb, a->data, (size_t)(a->n * elem_size[a->type]));
    }
    return NULL;
}

int gguf_writer_set_value(gguf_writer *w, const char *key, const gguf_value *v)
{
    strbuf sb = {0};
    const char *why = encode_value(&sb, v, 0);
    if (why) {
        sb_free(&sb);
        return set_fail(w, "key '%.80s': %s", key, why);
    }
    return kv_put(w, key, v->type, &sb);
}

/* ---- Tensors --------------------------------------------------------------- */

/* Validates a new tensor's name and shape; computes its size in bytes. */
static int check_tensor(gguf_writer *w, const char *name, ggml_type type, uint32_t n_dims,
                        const uint64_t ne[], uint64_t *nbytes)
{
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > TENSOR_NAME_MAX)
        return set_fail(w, "tensor '%.80s': name must be 1 to %d bytes", name, TENSOR_NAME_MAX);
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return set_fail(w, "tensor '%s': added twice", name);
    if (w->n_tensors == GGUF_MAX_TENSORS)
        return set_fail(w, "tensor '%s': more than %u tensors", name, GGUF_MAX_TENSORS);
    if (n_dims == 0 || n_dims > GGUF_MAX_DIMS)
        return set_fail(w, "tensor '%s': %u dimensions (1 to %d allowed)", name, n_dims, GGUF_MAX_DIMS);
    if (!ggml_type_known(type))
        return set_fail(w, "tensor '%s': unknown tensor type %u", name, (unsigned)type);
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] > (uint64_t)INT64_MAX || (ne[d] && n > (uint64_t)INT64_MAX / ne[d]))
            return set_fail(w, "tensor '%s': element count overflows", name);
        n *= ne[d];
    }
    uint64_t be = ggml_type_block_elems(type), bb = ggml_type_block_bytes(type);
    if (ne[0] % be != 0)
        return set_fail(w, "tensor '%s': row length %llu is not a multiple of the %s block size %llu",
                        name, (unsigned long long)ne[0], ggml_type_name(type), (unsigned long long)be);
    if (n / be > (uint64_t)INT64_MAX / bb) /* sizes stay below 2^63: sums cannot wrap */
        return set_fail(w, "tensor '%s': byte size overflows", name);
    *nbytes = n / be * bb;
    return GGUF_OK;
}

/* Checks a tensor given as bytes: the shape, and that there are exactly
 * as many bytes as it needs. */
static int check_tensor_data(gguf_writer *w, const char *name, ggml_type type, uint32_t n_dims,
                             const uint64_t ne[], const void *data, size_t nbytes)
{
    uint64_t want;
    int rc = check_tensor(w, name, type, n_dims, ne, &want);
    if (rc != GGUF_OK)
        return rc;
    if (!data && nbytes)
        return set_fail(w, "tensor '%s': no data", name);
    if (want != nbytes)
        return set_fail(w, "tensor '%s': %zu bytes given, the shape needs %llu",
                        name, nbytes, (unsigned long long)want);
    return GGUF_OK;
}

static wtensor *append_tensor(gguf_writer *w, const char *name, ggml_type type, uint32_t n_dims,
                              const uint64_t ne[], uint64_t nbytes)
{
    if (w->n_tensors == w->cap_tensors) {
        w->cap_tensors = w->cap_tensors ? 2 * w->cap_tensors : 16;
        w->tensors = xreallocarray(w->tensors, w->cap_tensors, sizeof *w->tensors);
    }
    wtensor *t = &w->tensors[w->n_tensors++];
    *t = (wtensor){.name = xstrdup(name), .type = type, .n_dims = n_dims, .nbytes = nbytes};
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
        t->ne[d] = d < n_dims ? ne[d] : 1;
    return t;
}

int gguf_writer_add_tensor(gguf_writer *w, const char *name, ggml_type type, uint32_t n_dims,
                           const uint64_t ne[], const void *data, size_t nbytes)
{
    int rc = check_tensor_data(w, name, type, n_dims, ne, data, nbytes);
    if (rc == GGUF_OK)
        append_tensor(w, name, type, n_dims, ne, nbytes)->data = data;
    return rc;
}

int gguf_writer_add_tensor_copy(gguf_writer *w, const char *name, ggml_type type, uint32_t n_dims,
                                const uint64_t ne[], const void *data, size_t nbytes)
{
    int rc = check_tensor_data(w, name, type, n_dims, ne, data, nbytes);
    if (rc != GGUF_OK)
        return rc;
    wtensor *t = append_tensor(w, name, type, n_dims, ne, nbytes);
    t->owned = xmalloc(nbytes);
    if (nbytes)
        memcpy(t->owned, data, nbytes);
    t->data = t->owned;
    return GGUF_OK;
}

int gguf_writer_add_tensor_fill(gguf_writer *w, const char *name, ggml_type type, uint32_t n_dims,
                                const uint64_t ne[], gguf_tensor_fill_fn fill, void *ctx)
{
    if (!fill)
        return set_fail(w, "tensor '%.80s': no fill callback", name);
    uint64_t nbytes;
    int rc = check_tensor(w, name, type, n_dims, ne, &nbytes);
    if (rc != GGUF_OK)
        return rc;
    wtensor *t = append_tensor(w, name, type, n_dims, ne, nbytes);
    t->fill = fill;
    t->fill_ctx = ctx;
    return GGUF_OK;
}

/* ---- Layout ----------------------------------------------------------------- */

static uint64_t alignment_of(const gguf_writer *w)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kvs[i].key, "general.alignment") == 0) {
            uint64_t a = 0; /* kv_put checked it is a valid UINT32 */
            for (int b = 0; b < 4; b++)
                a |= (uint64_t)(uint8_t)w->kvs[i].val[b] << (8 * b);
            return a;
        }
    return 32;
}

static uint64_t pad_to(uint64_t x, uint64_t a) { return (a - x % a) % a; }

/* The file size, or 0 if it would overflow. */
static uint64_t file_size(const gguf_writer *w)
{
    uint64_t a = alignment_of(w), n = 4 + 4 + 8 + 8;
    for (size_t i = 0; i < w->n_kv; i++)
        n += 8 + strlen(w->kvs[i].key) + 4 + w->kvs[i].len;
    for (size_t i = 0; i < w->n_tensors; i++)
        n += 8 + strlen(w->tensors[i].name) + 4 + 8 * (uint64_t)w->tensors[i].n_dims + 4 + 8;
    if (w->n_tensors == 0)
        return n;
    n += pad_to(n, a);
    for (size_t i = 0; i < w->n_tensors; i++) {
        uint64_t nb = w->tensors[i].nbytes; /* < 2^63, checked when added */
        if (nb + pad_to(nb, a) > UINT64_MAX - n)
            return 0;
        n += nb + pad_to(nb, a);
    }
    return n;
}

uint64_t gguf_writer_size(const gguf_writer *w)
{
    return w->status ? 0 : file_size(w);
}

/* ---- Output ------------------------------------------------------------------- */

/* All output goes through a sink: straight into `mem` (fd < 0), or through
 * the CHUNK_BYTES buffer `mem` into fd. */
typedef struct {
    int fd;
    uint8_t *mem;
    size_t used;      /* bytes waiting in the fd buffer */
    uint64_t done;    /* bytes accepted so far */
    uint64_t written; /* bytes the kernel accepted (fd) */
    int err;          /* errno of the first failure; later output is dropped */
} sink;

static void sink_flush(sink *s)
{
    size_t off = 0;
    while (!s->err && off < s->used) {
        ssize_t n = write(s->fd, s->mem + off, s->used - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s->err = n < 0 ? errno : EIO;
        } else {
            off += (size_t)n;
            s->written += (uint64_t)n;
        }
    }
    s->used = 0;
}

static void sink_put(sink *s, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (s->fd < 0) {
        if (n)
            memcpy(s->mem + s->done, b, n);
        s->done += n;
        return;
    }
    while (n > 0 && !s->err) {
        size_t k = CHUNK_BYTES - s->used < n ? CHUNK_BYTES - s->used : n;
        memcpy(s->mem + s->used, b, k);
        s->used += k;
        s->done += k;
        b += k;
        n -= k;
        if (s->used == CHUNK_BYTES)
            sink_flush(s);
    }
}

static void sink_le(sink *s, uint64_t v, unsigned n)
{
    uint8_t b[8];
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    sink_put(s, b, n);
}

static void sink_zeros(sink *s, uint64_t n)
{
    static const uint8_t zero[256];
    while (n > 0) {
        size_t k = n < sizeof zero ? (size_t)n : sizeof zero;
        sink_put(s, zero, k);
        n -= k;
    }
}

/* Streams a fill-callback tensor in chunks; false if the callback failed. */
static bool emit_fill(sink *s, const wtensor *t, uint8_t *chunk)
{
    uint64_t bb = ggml_type_block_bytes(t->type);
    uint64_t row = t->ne[0] / ggml_type_block_elems(t->type) * bb;
    uint64_t unit = row && row <= CHUNK_BYTES ? row : bb;
    uint64_t step = CHUNK_BYTES / unit * unit;
    for (uint64_t off = 0; off < t->nbytes && !s->err; off += step) {
        size_t len = (size_t)(t->nbytes - off < step ? t->nbytes - off : step);
        if (t->fill(t->fill_ctx, off, chunk, len) != 0)
            return false;
        sink_put(s, chunk, len);
    }
    return true;
}

/* Writes the whole file into s.  Returns GGUF_OK (check s->err) or GGUF_EIO
 * when a fill callback failed (message in w). */
static int emit(gguf_writer *w, sink *s)
{
    uint64_t a = alignment_of(w);
    sink_put(s, "GGUF", 4);
    sink_le(s, w->version, 4);
    sink_le(s, w->n_tensors, 8);
    sink_le(s, w->n_kv, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kvs[i];
        size_t klen = strlen(kv->key);
        sink_le(s, klen, 8);
        sink_put(s, kv->key, klen);
        sink_le(s, kv->type, 4);
        sink_put(s, kv->val, kv->len);
    }
    uint64_t rel = 0; /* each tensor's offset in the data section */
    for (size_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        size_t nlen = strlen(t->name);
        sink_le(s, nlen, 8);
        sink_put(s, t->name, nlen);
        sink_le(s, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++)
            sink_le(s, t->ne[d], 8);
        sink_le(s, t->type, 4);
        sink_le(s, rel, 8);
        rel += t->nbytes + pad_to(t->nbytes, a);
    }
    if (w->n_tensors == 0)
        return GGUF_OK;
    sink_zeros(s, pad_to(s->done, a));
    uint8_t *chunk = NULL;
    for (size_t i = 0; i < w->n_tensors && !s->err; i++) {
        const wtensor *t = &w->tensors[i];
        if (t->fill) {
            if (!chunk)
                chunk = xmalloc(CHUNK_BYTES);
            uint64_t at = s->done;
            if (!emit_fill(s, t, chunk)) {
                free(chunk);
                return wfail(w, GGUF_EIO, "tensor '%s': the fill callback failed (at byte %llu)",
                             t->name, (unsigned long long)at);
            }
        } else {
            sink_put(s, t->data, (size_t)t->nbytes);
        }
        sink_zeros(s, pad_to(t->nbytes, a));
    }
    free(chunk);
    return GGUF_OK;
}

int gguf_writer_write_mem(gguf_writer *w, void **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (w->status)
        return w->status;
    uint64_t total = file_size(w);
    if (total == 0 || total > SIZE_MAX)
        return wfail(w, GGUF_ENOMEM, "a %llu-byte GGUF image does not fit in memory",
                     (unsigned long long)total);
    sink s = {.fd = -1, .mem = malloc((size_t)total)};
    if (!s.mem)
        return wfail(w, GGUF_ENOMEM, "out of memory for a %llu-byte GGUF image",
                     (unsigned long long)total);
    int rc = emit(w, &s);
    if (rc != GGUF_OK) {
        free(s.mem);
        return rc;
    }
    *buf = s.mem;
    *len = (size_t)total;
    return GGUF_OK;
}

/* fsync the directory holding `path`, so that the rename is durable. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some filesystems refuse */
        close(fd);
    }
    free(dir);
}

int gguf_writer_write_file(gguf_writer *w, const char *path, char *err, size_t errlen)
{
    int rc = w->status;
    if (rc == GGUF_OK && file_size(w) == 0)
        rc = wfail(w, GGUF_EBAD, "the file size overflows 64 bits");
    if (rc != GGUF_OK) {
        util_errf(err, errlen, "%s: not written: %s", path, w->msg);
        return rc;
    }
    strbuf tmp = {0};
    sb_printf(&tmp, "%s.tmp", path);
    int fd = priv_open_replacing(tmp.data, path); /* 0600 unless it exists */
    if (fd < 0) {
        rc = wfail(w, GGUF_EIO, "cannot create %s: %s", tmp.data, strerror(errno));
        util_errf(err, errlen, "%s", w->msg);
        sb_free(&tmp);
        return rc;
    }
    sink s = {.fd = fd, .mem = xmalloc(CHUNK_BYTES)};
    rc = emit(w, &s);
    if (rc == GGUF_OK)
        sink_flush(&s);
    free(s.mem);
    if (rc == GGUF_OK && !s.err && fsync(fd) != 0)
        s.err = errno;
    if (close(fd) != 0 && rc == GGUF_OK && !s.err)
        s.err = errno;
    if (rc != GGUF_OK) { /* a fill callback failed: its message is in w */
        util_errf(err, errlen, "%s: not written: %s", path, w->msg);
    } else if (s.err) {
        rc = wfail(w, GGUF_EIO, "%s: write failed after %llu bytes: %s", tmp.data,
                   (unsigned long long)s.written, strerror(s.err));
        util_errf(err, errlen, "%s", w->msg);
    } else if (rename(tmp.data, path) != 0) {
        rc = wfail(w, GGUF_EIO, "cannot rename %s to %s: %s", tmp.data, path, strerror(errno));
        util_errf(err, errlen, "%s", w->msg);
    }
    if (rc != GGUF_OK)
        unlink(tmp.data);
    else
        sync_dir(path);
    sb_free(&tmp);
    return rc;
}
