/*
 * gguf.c — the bounded GGUF reader (see gguf.h for the format).
 *
 * All parsing goes through one cursor (`rd`) that knows how many bytes
 * remain; no other code in this file touches the raw bytes.  Every
 * allocation made while parsing comes from one arena owned by the
 * gguf_file, so an error at any point frees everything with one call.
 * Allocations sized by the file's counts are fallible (util/alloc.h):
 * out of memory is GGUF_ENOMEM with a message naming what was being read.
 */
#include "engine/gguf.h"

#include "util/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Tensor type table ------------------------------------------------ */

static const struct {
    const char *name;
    uint32_t block_elems;
    uint32_t block_bytes;
} type_table[GGML_TYPE_COUNT] = {
    [GGML_TYPE_F32] = {"F32", 1, 4},
    [GGML_TYPE_F16] = {"F16", 1, 2},
    [GGML_TYPE_Q4_0] = {"Q4_0", 32, 2 + 16},
    [GGML_TYPE_Q4_1] = {"Q4_1", 32, 2 + 2 + 16},
    [GGML_TYPE_Q5_0] = {"Q5_0", 32, 2 + 4 + 16},
    [GGML_TYPE_Q5_1] = {"Q5_1", 32, 2 + 2 + 4 + 16},
    [GGML_TYPE_Q8_0] = {"Q8_0", 32, 2 + 32},
    [GGML_TYPE_Q8_1] = {"Q8_1", 32, 2 + 2 + 32},
    [GGML_TYPE_Q2_K] = {"Q2_K", 256, 16 + 64 + 2 + 2},
    [GGML_TYPE_Q3_K] = {"Q3_K", 256, 32 + 64 + 12 + 2},
    [GGML_TYPE_Q4_K] = {"Q4_K", 256, 2 + 2 + 12 + 128},
    [GGML_TYPE_Q5_K] = {"Q5_K", 256, 2 + 2 + 12 + 32 + 128},
    [GGML_TYPE_Q6_K] = {"Q6_K", 256, 128 + 64 + 16 + 2},
    [GGML_TYPE_Q8_K] = {"Q8_K", 256, 4 + 256 + 32},
    [GGML_TYPE_BF16] = {"BF16", 1, 2},
};

bool ggml_type_known(uint32_t type)
{
    return type < GGML_TYPE_COUNT && type_table[type].name != NULL;
}

const char *ggml_type_name(uint32_t type)
{
    return ggml_type_known(type) ? type_table[type].name : "?";
}

size_t ggml_type_block_elems(uint32_t type)
{
    return ggml_type_known(type) ? type_table[type].block_elems : 0;
}

size_t ggml_type_block_bytes(uint32_t type)
{
    return ggml_type_known(type) ? type_table[type].block_bytes : 0;
}

/* ---- Arena ------------------------------------------------------------ */

typedef struct arena_block {
    struct arena_block *next;
    max_align_t data[];
} arena_block;

/* Returns NULL on overflow or allocation failure. */
static void *arena_alloc(arena_block **arena, size_t count, size_t size)
{
    if (size && count > (SIZE_MAX - sizeof(arena_block)) / size)
        return NULL;
    arena_block *b = try_calloc(1, sizeof *b + count * size);
    if (!b)
        return NULL;
    b->next = *arena;
    *arena = b;
    return b->data;
}

static void arena_free(arena_block *a)
{
    while (a) {
        arena_block *next = a->next;
        free(a);
        a = next;
    }
}

/* ---- The file --------------------------------------------------------- */

struct gguf_file {
    const uint8_t *base;
    uint64_t size;
    bool mapped;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    gguf_kv *kvs;
    uint64_t n_kv;
    gguf_tensor *tensors;
    uint64_t n_tensors;
    uint32_t *kv_sorted;     /* kv indices ordered by key     */
    uint32_t *tensor_sorted; /* tensor indices ordered by name */
    arena_block *arena;
};

/* ---- Bounded cursor ----------------------------------------------------- */

/* What the cursor is reading, so that every message can say where. */
typedef enum { CTX_NONE, CTX_KV, CTX_TENSOR } rd_ctx;

typedef struct {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
    char *err;
    size_t errlen;
    int status;
    arena_block **arena;
    rd_ctx ctx;        /* messages start "key 'k': " or "tensor 't': " ... */
    uint64_t ctx_index; /* ... or "metadata entry 3: " before the name is read */
    gguf_str ctx_name;  /* ptr NULL until the name is read */
} rd;

/* Quote an untrusted name for a one-line message: at most 64 bytes, control
 * bytes shown as '?' (names reach the terminal). */
static const char *quote_name(char *buf, size_t cap, gguf_str s)
{
    size_t n = 0;
    for (uint64_t i = 0; i < s.len && i < 64 && n + 1 < cap; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (s.len > 64 && n + 4 < cap) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static int rd_fail(rd *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rd_fail(rd *r, int status, const char *fmt, ...)
{
    if (r->status == GGUF_OK && r->err && r->errlen) {
        char name[80];
        int n = 0;
        if (r->ctx != CTX_NONE && r->ctx_name.ptr)
            n = snprintf(r->err, r->errlen, "%s '%s': ", r->ctx == CTX_KV ? "key" : "tensor",
                         quote_name(name, sizeof name, r->ctx_name));
        else if (r->ctx != CTX_NONE)
            n = snprintf(r->err, r->errlen, "%s %llu: ", r->ctx == CTX_KV ? "metadata entry" : "tensor info",
                         (unsigned long long)r->ctx_index);
        if (n < 0 || (size_t)n >= r->errlen)
            n = 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    if (r->status == GGUF_OK)
        r->status = status;
    return status;
}

/* Checks that n bytes remain for `what`. */
static bool rd_need(rd *r, uint64_t n, const char *what)
{
    if (r->size - r->pos >= n)
        return true;
    rd_fail(r, GGUF_EBAD,
            "truncated: %s needs %llu bytes at offset %llu, %llu remain",
            what, (unsigned long long)n, (unsigned long long)r->pos,
            (unsigned long long)(r->size - r->pos));
    return false;
}

static uint64_t load_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static bool rd_uint(rd *r, unsigned n, uint64_t *out, const char *what)
{
    if (!rd_need(r, n, what))
        return false;
    *out = load_le(r->base + r->pos, n);
    r->pos += n;
    return true;
}

static bool rd_u32(rd *r, uint32_t *out, const char *what)
{
    uint64_t v;
    if (!rd_uint(r, 4, &v, what))
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool rd_u64(rd *r, uint64_t *out, const char *what)
{
    return rd_uint(r, 8, out, what);
}

static bool rd_str(rd *r, gguf_str *out, const char *what)
{
    uint64_t at = r->pos, len;
    if (!rd_u64(r, &len, what))
        return false;
    if (len > GGUF_MAX_STRING) {
        rd_fail(r, GGUF_EBAD, "%s: string length %llu at offset %llu exceeds the limit of %u",
                what, (unsigned long long)len, (unsigned long long)at, GGUF_MAX_STRING);
        return false;
    }
    if (!rd_need(r, len, what))
        return false;
    out->ptr = (const char *)r->base + r->pos;
    out->len = len;
    r->pos += len;
    return true;
}

/* ---- Values -------------------------------------------------------------- */

static const uint8_t scalar_size[GGUF_TYPE_COUNT] = {
    [GGUF_TYPE_UINT8] = 1, [GGUF_TYPE_INT8] = 1, [GGUF_TYPE_UINT16] = 2,
    [GGUF_TYPE_INT16] = 2, [GGUF_TYPE_UINT32] = 4, [GGUF_TYPE_INT32] = 4,
    [GGUF_TYPE_FLOAT32] = 4, [GGUF_TYPE_BOOL] = 1, [GGUF_TYPE_UINT64] = 8,
    [GGUF_TYPE_INT64] = 8, [GGUF_TYPE_FLOAT64] = 8,
};

static double f32_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static double f64_from_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static bool scalar_from_bytes(gguf_type t, const uint8_t *p, gguf_value *v)
{
    uint64_t raw = load_le(p, scalar_size[t]);
    v->type = t;
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_UINT16: case GGUF_TYPE_UINT32:
    case GGUF_TYPE_UINT64:
        v->u.u64 = raw;
        return true;
    case GGUF_TYPE_INT8: v->u.i64 = (int8_t)raw; return true;
    case GGUF_TYPE_INT16: v->u.i64 = (int16_t)raw; return true;
    case GGUF_TYPE_INT32: v->u.i64 = (int32_t)raw; return true;
    case GGUF_TYPE_INT64: v->u.i64 = (int64_t)raw; return true;
    case GGUF_TYPE_FLOAT32: v->u.f64 = f32_from_bits((uint32_t)raw); return true;
    case GGUF_TYPE_FLOAT64: v->u.f64 = f64_from_bits(raw); return true;
    case GGUF_TYPE_BOOL:
        v->u.b = raw != 0;
        return raw <= 1;
    default:
        return false;
    }
}

static bool rd_value(rd *r, gguf_type t, gguf_value *v, int depth);

static bool rd_array(rd *r, gguf_value *v, int depth)
{
    uint64_t at = r->pos;
    uint32_t et;
    uint64_t n;
    if (!rd_u32(r, &et, "array element type") || !rd_u64(r, &n, "array length"))
        return false;
    if (et >= GGUF_TYPE_COUNT)
        return rd_fail(r, GGUF_EBAD, "unknown array element type %u at offset %llu",
                       et, (unsigned long long)at), false;
    if (depth >= GGUF_MAX_NESTING)
        return rd_fail(r, GGUF_EBAD, "arrays nested deeper than %d at offset %llu",
                       GGUF_MAX_NESTING, (unsigned long long)at), false;
    if (n > GGUF_MAX_ARRAY)
        return rd_fail(r, GGUF_EBAD, "array length %llu at offset %llu exceeds the limit of %u",
                       (unsigned long long)n, (unsigned long long)at, GGUF_MAX_ARRAY), false;

    gguf_array *a = &v->u.arr;
    v->type = GGUF_TYPE_ARRAY;
    a->type = (gguf_type)et;
    a->n = n;
    /* Every element takes at least this many bytes: checking it before
     * allocating keeps a lying count from asking for gigabytes. */
    uint64_t min_elem = et == GGUF_TYPE_STRING ? 8 : et == GGUF_TYPE_ARRAY ? 12 : scalar_size[et];
    if (!rd_need(r, n * min_elem, "array elements"))
        return false;

    if (et == GGUF_TYPE_STRING) {
        gguf_str *s = arena_alloc(r->arena, n, sizeof *s);
        if (!s)
            return rd_fail(r, GGUF_ENOMEM, "out of memory for an array of %llu strings at offset %llu",
                           (unsigned long long)n, (unsigned long long)at), false;
        for (uint64_t i = 0; i < n; i++)
            if (!rd_str(r, &s[i], "array string"))
                return false;
        a->strs = s;
    } else if (et == GGUF_TYPE_ARRAY) {
        gguf_value *e = arena_alloc(r->arena, n, sizeof *e);
        if (!e)
            return rd_fail(r, GGUF_ENOMEM, "out of memory for an array of %llu arrays at offset %llu",
                           (unsigned long long)n, (unsigned long long)at), false;
        for (uint64_t i = 0; i < n; i++)
            if (!rd_value(r, GGUF_TYPE_ARRAY, &e[i], depth + 1))
                return false;
        a->elems = e;
    } else {
        a->data = r->base + r->pos;
        if (et == GGUF_TYPE_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (a->data[i] > 1)
                    return rd_fail(r, GGUF_EBAD, "invalid bool %u at offset %llu",
                                   a->data[i], (unsigned long long)(r->pos + i)), false;
        r->pos += n * min_elem;
    }
    return true;
}

static bool rd_value(rd *r, gguf_type t, gguf_value *v, int depth)
{
    if (t == GGUF_TYPE_STRING) {
        v->type = t;
        return rd_str(r, &v->u.str, "string value");
    }
    if (t == GGUF_TYPE_ARRAY)
        return rd_array(r, v, depth);
    uint64_t at = r->pos;
    if (!rd_need(r, scalar_size[t], "value"))
        return false;
    if (!scalar_from_bytes(t, r->base + r->pos, v))
        return rd_fail(r, GGUF_EBAD, "invalid bool %u at offset %llu",
                       r->base[at], (unsigned long long)at), false;
    r->pos += scalar_size[t];
    return true;
}

/* ---- Sorted indices (duplicate detection and look-up) -------------------- */

static int str_cmp(gguf_str a, gguf_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c)
        return c;
    return (a.len > b.len) - (a.len < b.len);
}

/* qsort has no context argument in C11: sort (key, index) pairs instead. */
typedef struct {
    gguf_str s;
    uint32_t i;
} named;

static int named_cmp(const void *a, const void *b)
{
    return str_cmp(((const named *)a)->s, ((const named *)b)->s);
}

/* Sort n names into idx; returns the position of a duplicate (the later of
 * the first duplicated pair found, whatever order qsort left them in) or -1. */
static int64_t sort_names(named *tmp, uint64_t n, uint32_t *idx)
{
    qsort(tmp, n, sizeof *tmp, named_cmp);
    for (uint64_t i = 0; i < n; i++)
        idx[i] = tmp[i].i;
    for (uint64_t i = 1; i < n; i++)
        if (str_cmp(tmp[i - 1].s, tmp[i].s) == 0)
            return (int64_t)(tmp[i - 1].i > tmp[i].i ? tmp[i - 1].i : tmp[i].i);
    return -1;
}

static int64_t find_sorted(const uint32_t *idx, uint64_t n, gguf_str key,
                           gguf_str (*name_of)(const gguf_file *, uint32_t),
                           const gguf_file *f)
{
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int c = str_cmp(name_of(f, idx[mid]), key);
        if (c == 0)
            return idx[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static gguf_str kv_name(const gguf_file *f, uint32_t i) { return f->kvs[i].key; }
static gguf_str tensor_name(const gguf_file *f, uint32_t i) { return f->tensors[i].name; }

/* ---- Parsing ------------------------------------------------------------- */

static bool parse_header(rd *r, gguf_file *f)
{
    if (r->size < 4 || memcmp(r->base, "GGUF", 4) != 0)
        return rd_fail(r, GGUF_EBAD, r->size < 4 ? "truncated: file is %llu bytes, too short for the GGUF magic"
                                                 : "not a GGUF file (bad magic at offset 0; file is %llu bytes)",
                       (unsigned long long)r->size), false;
    r->pos = 4;
    if (!rd_u32(r, &f->version, "version"))
        return false;
    if (f->version == 1)
        return rd_fail(r, GGUF_EBAD, "GGUF version 1 is not supported (version at offset 4)"), false;
    if (f->version != 2 && f->version != 3) {
        /* A big-endian file's small version number reads as 0xVV000000. */
        if (f->version != 0 && (f->version & 0xffff) == 0)
            return rd_fail(r, GGUF_EBAD, "big-endian GGUF files are not supported (version at offset 4)"), false;
        return rd_fail(r, GGUF_EBAD, "unsupported GGUF version %u at offset 4", f->version), false;
    }
    if (!rd_u64(r, &f->n_tensors, "tensor count") || !rd_u64(r, &f->n_kv, "metadata count"))
        return false;
    if (f->n_tensors > GGUF_MAX_TENSORS)
        return rd_fail(r, GGUF_EBAD, "tensor count %llu at offset 8 exceeds the limit of %u",
                       (unsigned long long)f->n_tensors, GGUF_MAX_TENSORS), false;
    if (f->n_kv > GGUF_MAX_KV)
        return rd_fail(r, GGUF_EBAD, "metadata count %llu at offset 16 exceeds the limit of %u",
                       (unsigned long long)f->n_kv, GGUF_MAX_KV), false;
    return true;
}

static bool parse_kvs(rd *r, gguf_file *f)
{
    /* Each key/value pair takes at least 8 + 4 + 1 bytes. */
    if (!rd_need(r, f->n_kv * 13, "metadata"))
        return false;
    f->kvs = arena_alloc(&f->arena, f->n_kv, sizeof *f->kvs);
    f->kv_sorted = arena_alloc(&f->arena, f->n_kv, sizeof *f->kv_sorted);
    if (!f->kvs || !f->kv_sorted)
        return rd_fail(r, GGUF_ENOMEM, "out of memory for %llu metadata entries",
                       (unsigned long long)f->n_kv), false;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        gguf_kv *kv = &f->kvs[i];
        kv->offset = r->pos;
        r->ctx = CTX_KV;
        r->ctx_index = i;
        r->ctx_name = (gguf_str){NULL, 0};
        uint32_t t;
        if (!rd_str(r, &kv->key, "metadata key"))
            return false;
        if (kv->key.len == 0)
            return rd_fail(r, GGUF_EBAD, "empty metadata key at offset %llu",
                           (unsigned long long)kv->offset), false;
        r->ctx_name = kv->key;
        uint64_t type_at = r->pos;
        if (!rd_u32(r, &t, "metadata value type"))
            return false;
        if (t >= GGUF_TYPE_COUNT)
            return rd_fail(r, GGUF_EBAD, "unknown value type %u at offset %llu",
                           t, (unsigned long long)type_at), false;
        if (!rd_value(r, (gguf_type)t, &kv->value, 0))
            return false;
    }
    r->ctx = CTX_NONE;
    named *tmp = try_mallocarray(f->n_kv, sizeof *tmp);
    if (!tmp)
        return rd_fail(r, GGUF_ENOMEM, "out of memory sorting %llu metadata keys",
                       (unsigned long long)f->n_kv), false;
    for (uint64_t i = 0; i < f->n_kv; i++)
        tmp[i] = (named){f->kvs[i].key, (uint32_t)i};
    int64_t dup = sort_names(tmp, f->n_kv, f->kv_sorted);
    free(tmp);
    if (dup >= 0) {
        char name[80];
        const gguf_kv *kv = &f->kvs[dup];
        return rd_fail(r, GGUF_EBAD, "duplicate metadata key '%s' at offset %llu",
                       quote_name(name, sizeof name, kv->key), (unsigned long long)kv->offset), false;
    }
    return true;
}

static const gguf_kv *find_kv(const gguf_file *f, const char *key);

static bool parse_alignment(rd *r, gguf_file *f)
{
    f->alignment = 32;
    const gguf_kv *kv = find_kv(f, "general.alignment");
    if (!kv)
        return true;
    if (kv->value.type != GGUF_TYPE_UINT32)
        return rd_fail(r, GGUF_EBAD, "general.alignment (key at offset %llu) must be a UINT32, not type %d",
                       (unsigned long long)kv->offset, (int)kv->value.type), false;
    uint64_t a = kv->value.u.u64;
    if (a == 0 || (a & (a - 1)) != 0 || a > GGUF_MAX_ALIGNMENT)
        return rd_fail(r, GGUF_EBAD, "general.alignment %llu (key at offset %llu) is not a power of two up to %u",
                       (unsigned long long)a, (unsigned long long)kv->offset, GGUF_MAX_ALIGNMENT), false;
    f->alignment = a;
    return true;
}

/* Parses the tensor info at r->pos (offset `at`); names it in r's context. */
static bool parse_tensor_info(rd *r, gguf_tensor *t, uint64_t at)
{
    if (!rd_str(r, &t->name, "tensor name"))
        return false;
    if (t->name.len == 0)
        return rd_fail(r, GGUF_EBAD, "empty tensor name at offset %llu", (unsigned long long)at), false;
    r->ctx_name = t->name;
    uint64_t dims_at = r->pos;
    if (!rd_u32(r, &t->n_dims, "tensor dimension count"))
        return false;
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return rd_fail(r, GGUF_EBAD, "%u dimensions at offset %llu (1 to %d allowed)",
                       t->n_dims, (unsigned long long)dims_at, GGUF_MAX_DIMS), false;
    uint64_t n = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims)
            continue;
        uint64_t ne_at = r->pos;
        if (!rd_u64(r, &t->ne[d], "tensor dimension"))
            return false;
        if (t->ne[d] > (uint64_t)INT64_MAX || (t->ne[d] && n > (uint64_t)INT64_MAX / t->ne[d]))
            return rd_fail(r, GGUF_EBAD, "element count overflows at dimension %u (offset %llu)",
                           d, (unsigned long long)ne_at), false;
        n *= t->ne[d];
    }
    t->n_elems = n;
    uint64_t type_at = r->pos;
    uint32_t type;
    if (!rd_u32(r, &type, "tensor type"))
        return false;
    if (!ggml_type_known(type))
        return rd_fail(r, GGUF_EBAD, "unknown tensor type %u at offset %llu",
                       type, (unsigned long long)type_at), false;
    t->type = (ggml_type)type;
    uint64_t be = ggml_type_block_elems(type), bb = ggml_type_block_bytes(type);
    if (t->ne[0] % be != 0)
        return rd_fail(r, GGUF_EBAD, "row length %llu is not a multiple of the %s block size %llu (info at offset %llu)",
                       (unsigned long long)t->ne[0], ggml_type_name(type),
                       (unsigned long long)be, (unsigned long long)at), false;
    uint64_t blocks = n / be;
    if (bb && blocks > UINT64_MAX / bb)
        return rd_fail(r, GGUF_EBAD, "byte size of %llu %s elements overflows (info at offset %llu)",
                       (unsigned long long)n, ggml_type_name(type), (unsigned long long)at), false;
    t->n_bytes = blocks * bb;
    if (!rd_u64(r, &t->offset, "tensor data offset"))
        return false;
    return true;
}

static bool parse_tensors(rd *r, gguf_file *f)
{
    /* Each tensor info takes at least 8 + 4 + 8 + 4 + 8 bytes. */
    if (!rd_need(r, f->n_tensors * 32, "tensor infos"))
        return false;
    f->tensors = arena_alloc(&f->arena, f->n_tensors, sizeof *f->tensors);
    f->tensor_sorted = arena_alloc(&f->arena, f->n_tensors, sizeof *f->tensor_sorted);
    if (!f->tensors || !f->tensor_sorted)
        return rd_fail(r, GGUF_ENOMEM, "out of memory for %llu tensors",
                       (unsigned long long)f->n_tensors), false;
    uint64_t *info_at = try_mallocarray(f->n_tensors, sizeof *info_at);
    if (!info_at)
        return rd_fail(r, GGUF_ENOMEM, "out of memory for %llu tensor infos",
                       (unsigned long long)f->n_tensors), false;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        info_at[i] = r->pos;
        r->ctx = CTX_TENSOR;
        r->ctx_index = i;
        r->ctx_name = (gguf_str){NULL, 0};
        if (!parse_tensor_info(r, &f->tensors[i], info_at[i])) {
            free(info_at);
            return false;
        }
    }
    r->ctx = CTX_NONE;

    /* The data section starts at the next multiple of the alignment. */
    uint64_t pad = (f->alignment - r->pos % f->alignment) % f->alignment;
    f->data_offset = r->pos + pad;
    if (f->n_tensors > 0 && f->data_offset > r->size) {
        free(info_at);
        return rd_fail(r, GGUF_EBAD, "truncated: tensor data section would start at offset %llu, past the end of the %llu-byte file",
                       (unsigned long long)f->data_offset, (unsigned long long)r->size), false;
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        uint64_t rel = t->offset;
        bool ok = true;
        char name[80];
        quote_name(name, sizeof name, t->name);
        if (rel % f->alignment != 0) {
            rd_fail(r, GGUF_EBAD, "tensor '%s': data offset %llu (info at offset %llu) is not a multiple of the alignment %llu",
                    name, (unsigned long long)rel, (unsigned long long)info_at[i],
                    (unsigned long long)f->alignment);
            ok = false;
        } else if (rel > r->size - f->data_offset || t->n_bytes > r->size - f->data_offset - rel) {
            rd_fail(r, GGUF_EBAD, "tensor '%s': data offset %llu + %llu bytes (after the data section start %llu) runs past the end of the %llu-byte file (info at offset %llu)",
                    name, (unsigned long long)rel, (unsigned long long)t->n_bytes,
                    (unsigned long long)f->data_offset, (unsigned long long)r->size,
                    (unsigned long long)info_at[i]);
            ok = false;
        }
        if (!ok) {
            free(info_at);
            return false;
        }
        t->offset = f->data_offset + rel;
        t->data = r->base + t->offset;
    }

    named *tmp = try_mallocarray(f->n_tensors, sizeof *tmp);
    if (!tmp) {
        free(info_at);
        return rd_fail(r, GGUF_ENOMEM, "out of memory sorting %llu tensor names",
                       (unsigned long long)f->n_tensors), false;
    }
    for (uint64_t i = 0; i < f->n_tensors; i++)
        tmp[i] = (named){f->tensors[i].name, (uint32_t)i};
    int64_t dup = sort_names(tmp, f->n_tensors, f->tensor_sorted);
    free(tmp);
    if (dup >= 0) {
        char name[80];
        rd_fail(r, GGUF_EBAD, "duplicate tensor name '%s' (info at offset %llu)",
                quote_name(name, sizeof name, f->tensors[dup].name), (unsigned long long)info_at[dup]);
        free(info_at);
        return false;
    }
    free(info_at);
    return true;
}

static int parse(gguf_file *f, char *err, size_t errlen)
{
    rd r = {.base = f->base, .size = f->size, .err = err, .errlen = errlen,
            .status = GGUF_OK, .arena = &f->arena};
    if (parse_header(&r, f) && parse_kvs(&r, f) && parse_alignment(&r, f))
        parse_tensors(&r, f);
    return r.status;
}

int gguf_open_memory(gguf_file **out, const void *data, size_t size, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    gguf_file *f = try_calloc(1, sizeof *f);
    if (!f) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return GGUF_ENOMEM;
    }
    f->base = data;
    f->size = size;
    int rc = parse(f, err, errlen);
    if (rc != GGUF_OK) {
        gguf_close(f);
        return rc;
    }
    *out = f;
    return GGUF_OK;
}

int gguf_open(gguf_file **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
    if (fd < 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return GGUF_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return GGUF_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        close(fd);
        return GGUF_EIO;
    }
    if (st.st_size == 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s: empty file, not a GGUF model", path);
        close(fd);
        return GGUF_EBAD;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    /* Pages of the file read in through this mapping come in 2 MiB at a
     * time where the kernel can (transparent huge pages for files): one
     * physically contiguous run per 2 MiB of weights streams ~10% faster
     * in decode than scattered 4 KiB pages.  Only a hint: pages already in
     * the page cache stay as they are, and failure changes nothing. */
    if (map != MAP_FAILED)
        (void)madvise(map, (size_t)st.st_size, MADV_HUGEPAGE);
    close(fd);
    if (map == MAP_FAILED) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot map: %s", path, strerror(map_errno));
        return GGUF_EIO;
    }
    char msg[512] = "";
    gguf_file *f = NULL;
    int rc = gguf_open_memory(&f, map, (size_t)st.st_size, msg, sizeof msg);
    if (rc != GGUF_OK) {
        munmap(map, (size_t)st.st_size);
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path, msg);
        return rc;
    }
    f->mapped = true;
    *out = f;
    return GGUF_OK;
}

void gguf_close(gguf_file *f)
{
    if (!f)
        return;
    if (f->mapped)
        munmap((void *)f->base, f->size);
    arena_free(f->arena);
    free(f);
}

/* ---- Accessors ------------------------------------------------------------- */

uint32_t gguf_version(const gguf_file *f) { return f->version; }
uint64_t gguf_alignment(const gguf_file *f) { return f->alignment; }
uint64_t gguf_file_size(const gguf_file *f) { return f->size; }
uint64_t gguf_data_offset(const gguf_file *f) { return f->data_offset; }
size_t gguf_kv_count(const gguf_file *f) { return (size_t)f->n_kv; }
const gguf_kv *gguf_kv_at(const gguf_file *f, size_t i) { return i < f->n_kv ? &f->kvs[i] : NULL; }
size_t gguf_tensor_count(const gguf_file *f) { return (size_t)f->n_tensors; }

const gguf_tensor *gguf_tensor_at(const gguf_file *f, size_t i)
{
    return i < f->n_tensors ? &f->tensors[i] : NULL;
}

static const gguf_kv *find_kv(const gguf_file *f, const char *key)
{
    gguf_str k = {key, strlen(key)};
    int64_t i = find_sorted(f->kv_sorted, f->n_kv, k, kv_name, f);
    return i < 0 ? NULL : &f->kvs[i];
}

const gguf_value *gguf_find(const gguf_file *f, const char *key)
{
    const gguf_kv *kv = find_kv(f, key);
    return kv ? &kv->value : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name)
{
    gguf_str k = {name, strlen(name)};
    int64_t i = find_sorted(f->tensor_sorted, f->n_tensors, k, tensor_name, f);
    return i < 0 ? NULL : &f->tensors[i];
}

bool gguf_str_eq(gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

static bool is_unsigned(gguf_type t)
{
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_UINT64;
}

static bool is_signed(gguf_type t)
{
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_INT64;
}

bool gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out)
{
    const gguf_value *v = gguf_find(f, key);
    if (!v)
        return false;
    if (is_unsigned(v->type)) {
        *out = v->u.u64;
        return true;
    }
    if (is_signed(v->type) && v->u.i64 >= 0) {
        *out = (uint64_t)v->u.i64;
        return true;
    }
    return false;
}

bool gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out)
{
    uint64_t v;
    if (!gguf_get_u64(f, key, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

bool gguf_get_f32(const gguf_file *f, const char *key, float *out)
{
    const gguf_value *v = gguf_find(f, key);
    if (!v || (v->type != GGUF_TYPE_FLOAT32 && v->type != GGUF_TYPE_FLOAT64))
        return false;
    *out = (float)v->u.f64;
    return true;
}

bool gguf_get_bool(const gguf_file *f, const char *key, bool *out)
{
    const gguf_value *v = gguf_find(f, key);
    if (!v || v->type != GGUF_TYPE_BOOL)
        return false;
    *out = v->u.b;
    return true;
}

bool gguf_get_str(const gguf_file *f, const char *key, gguf_str *out)
{
    const gguf_value *v = gguf_find(f, key);
    if (!v || v->type != GGUF_TYPE_STRING)
        return false;
    *out = v->u.str;
    return true;
}

const gguf_array *gguf_get_arr(const gguf_file *f, const char *key)
{
    const gguf_value *v = gguf_find(f, key);
    return v && v->type == GGUF_TYPE_ARRAY ? &v->u.arr : NULL;
}

static gguf_value arr_scalar(const gguf_array *a, uint64_t i)
{
    gguf_value v = {0};
    if (a->data && i < a->n && a->type < GGUF_TYPE_COUNT && scalar_size[a->type])
        scalar_from_bytes(a->type, a->data + i * scalar_size[a->type], &v);
    return v;
}

uint64_t gguf_arr_u64(const gguf_array *a, uint64_t i)
{
    gguf_value v = arr_scalar(a, i);
    return is_signed(v.type) ? (uint64_t)v.u.i64 : v.u.u64;
}

int64_t gguf_arr_i64(const gguf_array *a, uint64_t i)
{
    gguf_value v = arr_scalar(a, i);
    return is_signed(v.type) ? v.u.i64 : (int64_t)v.u.u64;
}

float gguf_arr_f32(const gguf_array *a, uint64_t i)
{
    gguf_value v = arr_scalar(a, i);
    return v.type == GGUF_TYPE_FLOAT32 || v.type == GGUF_TYPE_FLOAT64 ? (float)v.u.f64 : 0.0f;
}

gguf_str gguf_arr_str(const gguf_array *a, uint64_t i)
{
    if (a->strs && i < a->n)
        return a->strs[i];
    return (gguf_str){"", 0};
}
