/*
 * test_gguf_good.c — the bounded GGUF reader (engine/gguf.h) on good
 * files: every value type, nested arrays, v2 and v3, alignments,
 * vocabulary-only, typed getters, look-ups.  With ../shared: the
 * reference models cut at every offset of their header (the larger ones
 * at every key/value and tensor-info boundary ±8 and at a seeded sample
 * of offsets), and stories260K with random byte flips.  Every image is an
 * exact-size malloc'ed copy, so ASan sees any read past its end.
 *
 * Broken files are test_gguf.c's.
 */
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "tests/gguf_check.h"
#include "tests/testutil.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- Good files ---------------------------------------------------------------- */

static void test_value_types(void **state)
{
    (void)state;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_u8(w, "u8", 255);
    gguf_writer_set_i8(w, "i8", -128);
    gguf_writer_set_u16(w, "u16", 65535);
    gguf_writer_set_i16(w, "i16", -32768);
    gguf_writer_set_u32(w, "u32", 4294967295u);
    gguf_writer_set_i32(w, "i32", INT32_MIN);
    gguf_writer_set_f32(w, "f32", 0.1f);
    gguf_writer_set_bool(w, "bool", true);
    gguf_writer_set_strn(w, "str", "a\0b\n", 4);
    gguf_writer_set_u64(w, "u64", UINT64_MAX);
    gguf_writer_set_i64(w, "i64", INT64_MIN);
    gguf_writer_set_f64(w, "f64", -1e300);
    gguf_writer_set_str(w, "empty", "");
    const int16_t i16s[3] = {-1, 0, 32767};
    gguf_writer_set_arr_data(w, "arr.i16", GGUF_TYPE_INT16, i16s, 3);
    const double f64s[2] = {0.5, -2.25};
    gguf_writer_set_arr_data(w, "arr.f64", GGUF_TYPE_FLOAT64, f64s, 2);
    const bool bools[3] = {true, false, true};
    gguf_writer_set_arr_data(w, "arr.bool", GGUF_TYPE_BOOL, bools, 3);
    const char *strs[3] = {"<s>", "", "\xe2\x96\x81the"};
    gguf_writer_set_arr_str(w, "arr.str", strs, 3);
    gguf_writer_set_arr_data(w, "arr.empty", GGUF_TYPE_UINT32, NULL, 0);
    size_t len;
    uint8_t *img = gg_image(w, &len);
    gguf_file *f = gg_open_ok(img, len);

    static const char *const order[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str",
                                        "u64", "i64", "f64", "empty", "arr.i16", "arr.f64",
                                        "arr.bool", "arr.str", "arr.empty"};
    static const gguf_type types[] = {
        GGUF_TYPE_UINT8, GGUF_TYPE_INT8, GGUF_TYPE_UINT16, GGUF_TYPE_INT16, GGUF_TYPE_UINT32,
        GGUF_TYPE_INT32, GGUF_TYPE_FLOAT32, GGUF_TYPE_BOOL, GGUF_TYPE_STRING, GGUF_TYPE_UINT64,
        GGUF_TYPE_INT64, GGUF_TYPE_FLOAT64, GGUF_TYPE_STRING, GGUF_TYPE_ARRAY, GGUF_TYPE_ARRAY,
        GGUF_TYPE_ARRAY, GGUF_TYPE_ARRAY, GGUF_TYPE_ARRAY};
    assert_int_equal(gguf_kv_count(f), 18);
    for (size_t i = 0; i < 18; i++) {
        assert_true(gguf_str_eq(gguf_kv_at(f, i)->key, order[i]));
        assert_int_equal(gguf_kv_at(f, i)->value.type, types[i]);
    }
    assert_null(gguf_kv_at(f, 18));
    assert_int_equal(gguf_find(f, "u8")->u.u64, 255);
    assert_int_equal(gguf_find(f, "i8")->u.i64, -128);
    assert_int_equal(gguf_find(f, "u16")->u.u64, 65535);
    assert_int_equal(gguf_find(f, "i16")->u.i64, -32768);
    assert_int_equal(gguf_find(f, "u32")->u.u64, 4294967295u);
    assert_true(gguf_find(f, "i32")->u.i64 == INT32_MIN);
    assert_true(gguf_find(f, "f32")->u.f64 == (double)0.1f);
    assert_true(gguf_find(f, "bool")->u.b);
    gguf_str s = gguf_find(f, "str")->u.str;
    assert_int_equal(s.len, 4);
    assert_memory_equal(s.ptr, "a\0b\n", 4);
    assert_true(gguf_find(f, "u64")->u.u64 == UINT64_MAX);
    assert_true(gguf_find(f, "i64")->u.i64 == INT64_MIN);
    assert_true(gguf_find(f, "f64")->u.f64 == -1e300);
    assert_int_equal(gguf_find(f, "empty")->u.str.len, 0);

    const gguf_array *a = gguf_get_arr(f, "arr.i16");
    assert_int_equal(a->type, GGUF_TYPE_INT16);
    assert_int_equal(a->n, 3);
    assert_int_equal(gguf_arr_i64(a, 0), -1);
    assert_int_equal(gguf_arr_i64(a, 2), 32767);
    a = gguf_get_arr(f, "arr.f64");
    assert_true(gguf_arr_f32(a, 1) == -2.25f);
    a = gguf_get_arr(f, "arr.bool");
    assert_int_equal(a->type, GGUF_TYPE_BOOL);
    assert_memory_equal(a->data, "\1\0\1", 3);
    a = gguf_get_arr(f, "arr.str");
    assert_int_equal(a->n, 3);
    assert_true(gguf_str_eq(gguf_arr_str(a, 0), "<s>"));
    assert_true(gguf_str_eq(gguf_arr_str(a, 1), ""));
    assert_true(gguf_str_eq(gguf_arr_str(a, 2), "\xe2\x96\x81the"));
    a = gguf_get_arr(f, "arr.empty");
    assert_int_equal(a->type, GGUF_TYPE_UINT32);
    assert_int_equal(a->n, 0);
    gguf_close(f);
    free(img);
}

static void test_nested_arrays(void **state)
{
    (void)state;
    /* [["a", "bc"], []] and [[1, -2, 3], [4]] built as gguf_values. */
    const gguf_str s0[2] = {{"a", 1}, {"bc", 2}};
    gguf_value inner_s[2] = {
        {.type = GGUF_TYPE_ARRAY, .u.arr = {.type = GGUF_TYPE_STRING, .n = 2, .strs = s0}},
        {.type = GGUF_TYPE_ARRAY, .u.arr = {.type = GGUF_TYPE_STRING, .n = 0}},
    };
    gguf_value outer_s = {.type = GGUF_TYPE_ARRAY,
                          .u.arr = {.type = GGUF_TYPE_ARRAY, .n = 2, .elems = inner_s}};
    static const uint8_t i32a[12] = {1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 3, 0, 0, 0};
    static const uint8_t i32b[4] = {4, 0, 0, 0};
    gguf_value inner_i[2] = {
        {.type = GGUF_TYPE_ARRAY, .u.arr = {.type = GGUF_TYPE_INT32, .n = 3, .data = i32a}},
        {.type = GGUF_TYPE_ARRAY, .u.arr = {.type = GGUF_TYPE_INT32, .n = 1, .data = i32b}},
    };
    gguf_value outer_i = {.type = GGUF_TYPE_ARRAY,
                          .u.arr = {.type = GGUF_TYPE_ARRAY, .n = 2, .elems = inner_i}};
    gguf_writer *w = gguf_writer_new();
    assert_int_equal(gguf_writer_set_value(w, "nested.str", &outer_s), GGUF_OK);
    assert_int_equal(gguf_writer_set_value(w, "nested.int", &outer_i), GGUF_OK);
    size_t len;
    uint8_t *img = gg_image(w, &len);
    gguf_file *f = gg_open_ok(img, len);

    const gguf_array *a = gguf_get_arr(f, "nested.str");
    assert_int_equal(a->type, GGUF_TYPE_ARRAY);
    assert_int_equal(a->n, 2);
    const gguf_array *e0 = &a->elems[0].u.arr, *e1 = &a->elems[1].u.arr;
    assert_int_equal(e0->type, GGUF_TYPE_STRING);
    assert_int_equal(e0->n, 2);
    assert_true(gguf_str_eq(gguf_arr_str(e0, 1), "bc"));
    assert_int_equal(e1->n, 0);

    a = gguf_get_arr(f, "nested.int");
    assert_int_equal(a->n, 2);
    e0 = &a->elems[0].u.arr;
    e1 = &a->elems[1].u.arr;
    assert_int_equal(e0->type, GGUF_TYPE_INT32);
    assert_int_equal(e0->n, 3);
    assert_int_equal(gguf_arr_i64(e0, 1), -2);
    assert_int_equal(gguf_arr_i64(e0, 2), 3);
    assert_int_equal(gguf_arr_u64(e1, 0), 4);
    gguf_close(f);
    free(img);
}

static void test_versions(void **state)
{
    (void)state;
    for (uint32_t v = 2; v <= 3; v++) {
        gguf_writer *w = gguf_writer_new();
        assert_int_equal(gguf_writer_set_version(w, v), GGUF_OK);
        gguf_writer_set_str(w, "general.architecture", "llama");
        const uint16_t h[32] = {0x3c00};
        const uint64_t ne[2] = {16, 2};
        gguf_writer_add_tensor(w, "w", GGML_TYPE_F16, 2, ne, h, sizeof h);
        size_t len;
        uint8_t *img = gg_image(w, &len);
        gguf_file *f = gg_open_ok(img, len);
        assert_int_equal(gguf_version(f), v);
        assert_int_equal(gguf_find_tensor(f, "w")->type, GGML_TYPE_F16);
        assert_int_equal(((const uint16_t *)gguf_find_tensor(f, "w")->data)[0], 0x3c00);
        gguf_close(f);
        free(img);
    }
}

static void test_alignments(void **state)
{
    (void)state;
    const uint32_t aligns[] = {1, 8, 32, 64, 4096, GGUF_MAX_ALIGNMENT};
    uint8_t q4[3 * 18];
    for (size_t i = 0; i < sizeof q4; i++)
        q4[i] = (uint8_t)(i * 7 + 1);
    const uint64_t ne_q[1] = {96}, ne_b[1] = {3};
    const uint16_t bf[3] = {0x3f80, 0x4000, 0xbf80};
    for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
        gguf_writer *w = gguf_writer_new();
        if (aligns[k] != 32)
            assert_int_equal(gguf_writer_set_alignment(w, aligns[k]), GGUF_OK);
        gguf_writer_add_tensor(w, "q", GGML_TYPE_Q4_0, 1, ne_q, q4, sizeof q4);
        gguf_writer_add_tensor(w, "b", GGML_TYPE_BF16, 1, ne_b, bf, sizeof bf);
        gguf_writer_add_tensor(w, "q2", GGML_TYPE_Q4_0, 1, ne_q, q4, sizeof q4);
        size_t len;
        uint8_t *img = gg_image(w, &len);
        gguf_file *f = gg_open_ok(img, len);
        assert_int_equal(gguf_alignment(f), aligns[k]);
        assert_int_equal(gguf_data_offset(f) % aligns[k], 0);
        for (size_t i = 0; i < 3; i++) {
            const gguf_tensor *t = gguf_tensor_at(f, i);
            assert_int_equal(t->offset % aligns[k], 0);
            assert_true(t->offset >= gguf_data_offset(f));
            assert_memory_equal(t->data, i == 1 ? (const void *)bf : q4, i == 1 ? sizeof bf : sizeof q4);
        }
        assert_int_equal(gguf_tensor_at(f, 1)->n_bytes, 6);
        assert_int_equal(gguf_tensor_at(f, 2)->n_bytes, 54);
        gguf_close(f);
        free(img);
    }
}

static void test_vocab_only(void **state)
{
    (void)state;
    gguf_writer *w = gguf_writer_new();
    const char *toks[4] = {"<unk>", "<s>", "</s>", "a"};
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 4);
    size_t len;
    uint8_t *img = gg_image(w, &len);
    gguf_file *f = gg_open_ok(img, len);
    assert_int_equal(gguf_tensor_count(f), 0);
    assert_null(gguf_tensor_at(f, 0));
    assert_null(gguf_find_tensor(f, "a"));
    assert_int_equal(gguf_file_size(f), len);
    assert_int_equal(len, 24 + 45 + 90); /* no padding without tensors */
    assert_int_equal(gguf_data_offset(f), (len + 31) / 32 * 32);
    assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.tokens")->n, 4);
    gguf_close(f);
    free(img);
}

static void test_getters(void **state)
{
    (void)state;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_i32(w, "i32.pos", 5);
    gguf_writer_set_i32(w, "i32.neg", -5);
    gguf_writer_set_u64(w, "u64.big", 1ull << 32);
    gguf_writer_set_u64(w, "u64.max32", UINT32_MAX);
    gguf_writer_set_i64(w, "i64.neg", -1);
    gguf_writer_set_u8(w, "u8", 200);
    gguf_writer_set_f64(w, "f64", 0.25);
    gguf_writer_set_f32(w, "f32", 1.5f);
    gguf_writer_set_bool(w, "bool", false);
    gguf_writer_set_str(w, "str", "hello");
    const uint32_t arr[2] = {1, 2};
    gguf_writer_set_arr_data(w, "arr", GGUF_TYPE_UINT32, arr, 2);
    size_t len;
    uint8_t *img = gg_image(w, &len);
    gguf_file *f = gg_open_ok(img, len);

    uint32_t u32 = 77;
    uint64_t u64 = 77;
    float f32 = 0;
    bool b = true;
    gguf_str s;
    assert_true(gguf_get_u32(f, "i32.pos", &u32));
    assert_int_equal(u32, 5);
    u32 = 77;
    assert_false(gguf_get_u32(f, "i32.neg", &u32)); /* negative: out of range */
    assert_false(gguf_get_u32(f, "u64.big", &u32)); /* too big for 32 bits */
    assert_int_equal(u32, 77);                      /* untouched on failure */
    assert_true(gguf_get_u32(f, "u64.max32", &u32));
    assert_int_equal(u32, UINT32_MAX);
    assert_true(gguf_get_u32(f, "u8", &u32));
    assert_int_equal(u32, 200);
    assert_false(gguf_get_u64(f, "i64.neg", &u64));
    assert_true(gguf_get_u64(f, "u64.big", &u64));
    assert_int_equal(u64, 1ull << 32);
    assert_false(gguf_get_u32(f, "f32", &u32)); /* a float is not an integer */
    assert_false(gguf_get_u32(f, "str", &u32));
    assert_false(gguf_get_u32(f, "missing", &u32));

    assert_true(gguf_get_f32(f, "f64", &f32));
    assert_true(f32 == 0.25f);
    assert_true(gguf_get_f32(f, "f32", &f32));
    assert_true(f32 == 1.5f);
    assert_false(gguf_get_f32(f, "u8", &f32));
    assert_true(gguf_get_bool(f, "bool", &b));
    assert_false(b);
    assert_false(gguf_get_bool(f, "u8", &b));
    assert_true(gguf_get_str(f, "str", &s));
    assert_true(gguf_str_eq(s, "hello"));
    assert_false(gguf_str_eq(s, "hell"));
    assert_false(gguf_str_eq(s, "hello!"));
    assert_false(gguf_get_str(f, "u8", &s));
    assert_non_null(gguf_get_arr(f, "arr"));
    assert_null(gguf_get_arr(f, "str"));
    assert_null(gguf_get_arr(f, "nope"));
    gguf_close(f);
    free(img);
}

static void test_find(void **state)
{
    (void)state;
    /* 300 keys and tensors inserted in a shuffled order, plus near misses. */
    enum { N = 300 };
    uint32_t perm[N];
    for (uint32_t i = 0; i < N; i++)
        perm[i] = i;
    uint64_t seed = 12345;
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(test_splitmix64(&seed) % (i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    gguf_writer *w = gguf_writer_new();
    float one[1] = {0};
    const uint64_t ne[1] = {1};
    for (uint32_t i = 0; i < N; i++) {
        gguf_writer_set_u32(w, gg_fmt("key.%u", perm[i]), perm[i]);
        gguf_writer_add_tensor(w, gg_fmt("blk.%u.w", perm[i]), GGML_TYPE_F32, 1, ne, one, sizeof one);
    }
    size_t len;
    uint8_t *img = gg_image(w, &len);
    gguf_file *f = gg_open_ok(img, len);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t v;
        assert_true(gguf_get_u32(f, gg_fmt("key.%u", i), &v));
        assert_int_equal(v, i);
        const gguf_tensor *t = gguf_find_tensor(f, gg_fmt("blk.%u.w", i));
        assert_non_null(t);
        assert_true(gguf_str_eq(t->name, gg_fmt("blk.%u.w", i)));
    }
    assert_ptr_equal(gguf_tensor_at(f, 0), gguf_find_tensor(f, gg_fmt("blk.%u.w", perm[0])));
    assert_null(gguf_find(f, "key."));
    assert_null(gguf_find(f, "key.3000"));
    assert_null(gguf_find(f, "key.1 "));
    assert_null(gguf_find(f, ""));
    assert_null(gguf_find_tensor(f, "blk.1"));
    assert_null(gguf_find_tensor(f, "blk.1.w.x"));
    assert_true(gguf_str_eq(gguf_kv_at(f, 0)->key, gg_fmt("key.%u", perm[0])));
    gguf_close(f);
    free(img);
}

/* ---- Reference files: truncation and corruption ----------------------------------- */

static const uint8_t scalar_bytes[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

/* The encoded size of a value (after its type field), re-derived from what
 * the reader returned. */
static uint64_t value_size(const gguf_value *v)
{
    if (v->type == GGUF_TYPE_STRING)
        return 8 + v->u.str.len;
    if (v->type != GGUF_TYPE_ARRAY)
        return scalar_bytes[v->type];
    const gguf_array *a = &v->u.arr;
    uint64_t n = 4 + 8;
    for (uint64_t i = 0; a->type == GGUF_TYPE_STRING && i < a->n; i++)
        n += 8 + a->strs[i].len;
    for (uint64_t i = 0; a->type == GGUF_TYPE_ARRAY && i < a->n; i++)
        n += value_size(&a->elems[i]);
    if (a->type != GGUF_TYPE_STRING && a->type != GGUF_TYPE_ARRAY)
        n += a->n * scalar_bytes[a->type];
    return n;
}

/* Where a file's parts lie: boundaries between header, key/value pairs and
 * tensor infos, the end of the infos, and the end of the last tensor. */
typedef struct {
    uint64_t *bounds;
    size_t n_bounds;
    uint64_t meta_end; /* end of the last tensor info */
    uint64_t data_end; /* end of the last tensor's data (meta_end without tensors) */
    uint64_t data_offset;
    bool has_tensors;
} layout;

static layout file_layout(const uint8_t *img, size_t len)
{
    gguf_file *f = gg_open_ok(img, len);
    layout l = {.bounds = xmallocarray(gguf_kv_count(f) * 2 + gguf_tensor_count(f) + 4, sizeof(uint64_t))};
    uint64_t pos = 24;
    l.bounds[l.n_bounds++] = 24;
    for (size_t i = 0; i < gguf_kv_count(f); i++) {
        const gguf_kv *kv = gguf_kv_at(f, i);
        assert_int_equal(kv->offset, pos);
        uint64_t value_at = pos + 8 + kv->key.len + 4;
        if (kv->value.type == GGUF_TYPE_ARRAY)
            l.bounds[l.n_bounds++] = value_at + 12; /* first element */
        pos = value_at + value_size(&kv->value);
        l.bounds[l.n_bounds++] = pos;
    }
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        pos += 8 + t->name.len + 4 + 8 * t->n_dims + 4 + 8;
        l.bounds[l.n_bounds++] = pos;
    }
    l.meta_end = pos;
    l.data_offset = gguf_data_offset(f);
    uint64_t a = gguf_alignment(f);
    assert_int_equal(l.data_offset, (pos + a - 1) / a * a); /* the re-derivation is right */
    l.has_tensors = gguf_tensor_count(f) > 0;
    l.data_end = pos;
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        if (t->offset + t->n_bytes > l.data_end)
            l.data_end = t->offset + t->n_bytes;
    }
    assert_true(l.data_end <= len);
    gguf_close(f);
    return l;
}

/* Parses img cut to `cut` bytes and checks the outcome the layout predicts:
 * a truncation error before the end of the last tensor (or of the metadata
 * for a vocabulary-only file), success from there on. */
static void check_cut(const char *name, const uint8_t *img, const layout *l, uint64_t cut)
{
    char err[512];
    int rc = gg_parse_copy(img, (size_t)cut, err, sizeof err);
    const char *want = cut < l->meta_end ? "truncated"
                     : !l->has_tensors || cut >= l->data_end ? NULL
                     : cut < l->data_offset ? "tensor data section would start"
                                            : "runs past the end of the";
    if (!want && rc != GGUF_OK)
        fail_msg("%s cut at %llu: expected success, got %d (%s)", name, (unsigned long long)cut, rc, err);
    if (want && (rc != GGUF_EBAD || !strstr(err, want)))
        fail_msg("%s cut at %llu: expected GGUF_EBAD with \"%s\", got %d (%s)", name,
                 (unsigned long long)cut, want, rc, rc ? err : "parsed");
}

/* Cuts at every offset of the header, at each boundary in the data, and at
 * 400 seeded random offsets into the data. */
static void truncate_every_offset(const char *name)
{
    size_t len;
    uint8_t *img = (uint8_t *)test_read_file(name, &len);
    layout l = file_layout(img, len);
    for (uint64_t cut = 0; cut <= l.data_offset && cut <= len; cut++)
        check_cut(name, img, &l, cut);
    uint64_t seed = 0x5eed0001;
    for (int i = 0; i < 400 && len > l.data_offset; i++)
        check_cut(name, img, &l, l.data_offset + test_splitmix64(&seed) % (len - l.data_offset));
    check_cut(name, img, &l, l.data_end - 1);
    check_cut(name, img, &l, len);
    printf("  %s: cut at all %llu header offsets and 402 more\n", strrchr(name, '/') + 1,
           (unsigned long long)l.data_offset + 1);
    free(l.bounds);
    free(img);
}

/* Cuts at every boundary ±8 and at 300 seeded random offsets (three in four
 * inside the metadata, where the parse has work to do). */
static void truncate_at_boundaries(const char *name)
{
    size_t len;
    uint8_t *img = (uint8_t *)test_read_file(name, &len);
    layout l = file_layout(img, len);
    size_t n = 0;
    for (size_t b = 0; b < l.n_bounds; b++)
        for (int d = -8; d <= 8; d++) {
            int64_t cut = (int64_t)l.bounds[b] + d;
            if (cut >= 0 && (uint64_t)cut <= len) {
                check_cut(name, img, &l, (uint64_t)cut);
                n++;
            }
        }
    uint64_t seed = 0x5eed0002;
    for (int i = 0; i < 300; i++, n++)
        check_cut(name, img, &l, i % 4 ? test_splitmix64(&seed) % (l.meta_end + 1) : test_splitmix64(&seed) % (len + 1));
    printf("  %s: %zu boundaries, %zu cuts\n", strrchr(name, '/') + 1, l.n_bounds, n);
    free(l.bounds);
    free(img);
}

static void test_truncate_small_models(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared) {
        printf("SKIP: truncation of the reference models (no ../shared)\n");
        return;
    }
    truncate_every_offset(test_path(shared, "ref/models/stories260K.gguf"));
    truncate_every_offset(test_path(shared, "ref/models/ref-llama-spm512-256-q4_k_m.gguf"));
}

static void test_truncate_large_models(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared) {
        printf("SKIP: truncation of the large-vocabulary models (no ../shared)\n");
        return;
    }
    static const char *const files[] = {
        "ref/models/ref-llama-gpt2bpe-tied.gguf",   "ref/models/ref-qwen2-starcoder-bias.gguf",
        "ref/models/llama-2-tiny-random.gguf",      "ref/tokenizer/ggml-vocab-deepseek-llm.gguf",
        "ref/tokenizer/ggml-vocab-falcon.gguf",     "ref/tokenizer/ggml-vocab-gpt-2.gguf",
        "ref/tokenizer/ggml-vocab-llama-spm.gguf",  "ref/tokenizer/ggml-vocab-mpt.gguf",
        "ref/tokenizer/ggml-vocab-phi-3.gguf",      "ref/tokenizer/ggml-vocab-starcoder.gguf",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        truncate_at_boundaries(test_path(shared, files[i]));
}

/* Random byte flips in stories260K's header: each image must parse or fail
 * with GGUF_EBAD, never crash, over-read or run out of memory. */
static void test_corrupt_header(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared) {
        printf("SKIP: corruption of stories260K (no ../shared)\n");
        return;
    }
    size_t len;
    uint8_t *img = (uint8_t *)test_read_file(test_path(shared, "ref/models/stories260K.gguf"), &len);
    layout l = file_layout(img, len);
    uint8_t *copy = xmalloc(len);
    uint64_t seed = 0x5eed0003;
    int parsed = 0, rejected = 0;
    for (int trial = 0; trial < 400; trial++) {
        memcpy(copy, img, len);
        int flips = 1 + (int)(test_splitmix64(&seed) % 4);
        for (int k = 0; k < flips; k++) {
            /* Half the flips hit the first 1 KiB, where counts and types are. */
            uint64_t span = trial % 2 ? l.meta_end : 1024;
            copy[test_splitmix64(&seed) % span] ^= (uint8_t)(1 + test_splitmix64(&seed) % 255);
        }
        char err[512];
        int rc = gg_parse_copy(copy, len, err, sizeof err);
        if (rc != GGUF_OK && rc != GGUF_EBAD)
            fail_msg("trial %d: status %d (%s)", trial, rc, err);
        if (rc == GGUF_OK)
            parsed++;
        else
            rejected++;
    }
    printf("  400 corrupted headers: %d parsed, %d rejected\n", parsed, rejected);
    assert_true(rejected > 0);
    free(copy);
    free(l.bounds);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_types),
        cmocka_unit_test(test_nested_arrays),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_alignments),
        cmocka_unit_test(test_vocab_only),
        cmocka_unit_test(test_getters),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_truncate_small_models),
        cmocka_unit_test(test_truncate_large_models),
        cmocka_unit_test(test_corrupt_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
