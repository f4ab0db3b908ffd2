/*
 * test_gguf_write.c — the GGUF writer (engine/gguf_write.h), read back with
 * the reader (engine/gguf.h).
 *
 *   - round trip: every key in order and every tensor byte, through a file
 *     and through memory, for all tensor types;
 *   - argument checks, and that a failed set makes every write fail;
 *   - streaming tensors through a fill callback, and its failure;
 *   - I/O faults on purpose: a missing directory, and a file-size limit that
 *     makes write() fail half-way (the old file must survive, no .tmp left);
 *   - with ../shared: re-writing every reference file from what the reader
 *     returns reproduces it byte for byte.
 */
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "tests/testutil.h"
#include "util/util.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static gguf_file *open_file(const char *path)
{
    char err[512];
    gguf_file *f;
    int rc = gguf_open(&f, path, err, sizeof err);
    if (rc != GGUF_OK)
        fail_msg("gguf_open: %d %s", rc, err);
    return f;
}

/* ---- Round trip ------------------------------------------------------------ */

typedef struct {
    const char *name;
    ggml_type type;
    uint32_t n_dims;
    uint64_t ne[4];
} shape;

static const shape shapes[] = {
    {"token_embd.weight", GGML_TYPE_F32, 2, {64, 3}},
    {"blk.0.attn_q.weight", GGML_TYPE_F16, 2, {32, 2}},
    {"blk.0.attn_norm.weight", GGML_TYPE_BF16, 1, {17}},
    {"blk.0.ffn_up.weight", GGML_TYPE_Q4_0, 3, {64, 2, 2}},
    {"blk.0.ffn_gate.weight", GGML_TYPE_Q4_1, 2, {32, 1}},
    {"blk.0.ffn_down.weight", GGML_TYPE_Q5_0, 2, {32, 3}},
    {"blk.0.attn_k.weight", GGML_TYPE_Q5_1, 1, {96}},
    {"blk.0.attn_v.weight", GGML_TYPE_Q8_0, 4, {32, 1, 2, 3}},
    {"blk.1.attn_q.weight", GGML_TYPE_Q2_K, 1, {256}},
    {"blk.1.attn_k.weight", GGML_TYPE_Q3_K, 1, {256}},
    {"blk.1.attn_v.weight", GGML_TYPE_Q4_K, 2, {256, 2}},
    {"blk.1.ffn_up.weight", GGML_TYPE_Q5_K, 1, {512}},
    {"output.weight", GGML_TYPE_Q6_K, 2, {256, 3}},
    {"blk.1.ffn_down.weight", GGML_TYPE_Q8_K, 1, {256}},
    {"blk.1.empty", GGML_TYPE_F32, 2, {4, 0}},
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static size_t shape_bytes(const shape *s)
{
    uint64_t n = 1;
    for (uint32_t d = 0; d < s->n_dims; d++)
        n *= s->ne[d];
    return (size_t)(n / ggml_type_block_elems(s->type) * ggml_type_block_bytes(s->type));
}

static void test_round_trip(void **state)
{
    (void)state;
    uint64_t seed = 7;
    uint8_t *data[N_SHAPES];
    gguf_writer *w = gguf_writer_new();
    assert_int_equal(gguf_writer_set_str(w, "general.architecture", "llama"), GGUF_OK);
    assert_int_equal(gguf_writer_set_u32(w, "llama.block_count", 2), GGUF_OK);
    assert_int_equal(gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f), GGUF_OK);
    assert_int_equal(gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true), GGUF_OK);
    assert_int_equal(gguf_writer_set_i32(w, "x.i32", -7), GGUF_OK);
    assert_int_equal(gguf_writer_set_u64(w, "x.u64", 1ull << 40), GGUF_OK);
    const char *toks[3] = {"<unk>", "<s>", "</s>"};
    assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3), GGUF_OK);
    const float scores[3] = {0.0f, -1.5f, 2.25f};
    assert_int_equal(gguf_writer_set_arr_data(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, 3), GGUF_OK);
    const int32_t types[3] = {2, 3, 3};
    assert_int_equal(gguf_writer_set_arr_data(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 3), GGUF_OK);
    for (size_t i = 0; i < N_SHAPES; i++) {
        size_t n = shape_bytes(&shapes[i]);
        data[i] = xmalloc(n);
        for (size_t k = 0; k < n; k++)
            data[i][k] = (uint8_t)rng_next(&seed);
        /* Odd ones copied (then the source is clobbered), even ones referenced. */
        int rc = i % 2 ? gguf_writer_add_tensor_copy(w, shapes[i].name, shapes[i].type, shapes[i].n_dims,
                                                     shapes[i].ne, data[i], n)
                       : gguf_writer_add_tensor(w, shapes[i].name, shapes[i].type, shapes[i].n_dims,
                                                shapes[i].ne, data[i], n);
        assert_int_equal(rc, GGUF_OK);
    }
    uint8_t *copied[N_SHAPES];
    for (size_t i = 0; i < N_SHAPES; i++) {
        size_t n = shape_bytes(&shapes[i]);
        copied[i] = xmalloc(n);
        if (n)
            memcpy(copied[i], data[i], n);
        if (i % 2)
            memset(data[i], 0xee, n);
    }

    const char *path = test_path(test_tmpdir(), "round.gguf");
    char err[512];
    assert_int_equal(gguf_writer_write_file(w, path, err, sizeof err), GGUF_OK);
    assert_false(file_exists(test_path(test_tmpdir(), "round.gguf.tmp")));
    void *mem;
    size_t len;
    assert_int_equal(gguf_writer_write_mem(w, &mem, &len), GGUF_OK);
    assert_int_equal(gguf_writer_size(w), len);
    size_t flen;
    char *fbytes = test_read_file(path, &flen);
    assert_int_equal(flen, len);
    assert_memory_equal(fbytes, mem, len);
    free(fbytes);
    free(mem);
    gguf_writer_free(w);

    gguf_file *f = open_file(path);
    assert_int_equal(gguf_version(f), 3);
    assert_int_equal(gguf_alignment(f), 32);
    static const char *const keys[] = {
        "general.architecture", "llama.block_count", "llama.rope.freq_base",
        "tokenizer.ggml.add_bos_token", "x.i32", "x.u64", "tokenizer.ggml.tokens",
        "tokenizer.ggml.scores", "tokenizer.ggml.token_type"};
    assert_int_equal(gguf_kv_count(f), 9);
    for (size_t i = 0; i < 9; i++)
        assert_true(gguf_str_eq(gguf_kv_at(f, i)->key, keys[i]));
    gguf_str s;
    uint32_t u32;
    uint64_t u64;
    float f32;
    bool b;
    assert_true(gguf_get_str(f, "general.architecture", &s) && gguf_str_eq(s, "llama"));
    assert_true(gguf_get_u32(f, "llama.block_count", &u32) && u32 == 2);
    assert_int_equal(gguf_find(f, "llama.block_count")->type, GGUF_TYPE_UINT32);
    assert_true(gguf_get_f32(f, "llama.rope.freq_base", &f32) && f32 == 10000.0f);
    assert_true(gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &b) && b);
    assert_int_equal(gguf_find(f, "x.i32")->type, GGUF_TYPE_INT32);
    assert_int_equal(gguf_find(f, "x.i32")->u.i64, -7);
    assert_true(gguf_get_u64(f, "x.u64", &u64) && u64 == 1ull << 40);
    const gguf_array *a = gguf_get_arr(f, "tokenizer.ggml.tokens");
    assert_int_equal(a->type, GGUF_TYPE_STRING);
    for (size_t i = 0; i < 3; i++)
        assert_true(gguf_str_eq(gguf_arr_str(a, i), toks[i]));
    a = gguf_get_arr(f, "tokenizer.ggml.scores");
    assert_int_equal(a->type, GGUF_TYPE_FLOAT32);
    for (size_t i = 0; i < 3; i++)
        assert_true(gguf_arr_f32(a, i) == scores[i]);
    a = gguf_get_arr(f, "tokenizer.ggml.token_type");
    assert_int_equal(a->type, GGUF_TYPE_INT32);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(gguf_arr_i64(a, i), types[i]);

    assert_int_equal(gguf_tensor_count(f), N_SHAPES);
    for (size_t i = 0; i < N_SHAPES; i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        assert_true(gguf_str_eq(t->name, shapes[i].name));
        assert_int_equal(t->type, shapes[i].type);
        assert_int_equal(t->n_dims, shapes[i].n_dims);
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
            assert_int_equal(t->ne[d], d < shapes[i].n_dims ? shapes[i].ne[d] : 1);
        assert_int_equal(t->n_bytes, shape_bytes(&shapes[i]));
        assert_int_equal(t->offset % 32, 0);
        if (t->n_bytes)
            assert_memory_equal(t->data, copied[i], t->n_bytes);
        free(copied[i]);
        free(data[i]);
    }
    gguf_close(f);
}

static void test_replace_keeps_position(void **state)
{
    (void)state;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_u32(w, "a", 1);
    gguf_writer_set_u32(w, "b", 2);
    gguf_writer_set_u32(w, "c", 3);
    gguf_writer_set_str(w, "b", "two"); /* another type, same place */
    gguf_writer_set_alignment(w, 64);
    gguf_writer_set_alignment(w, 16);
    void *mem;
    size_t len;
    assert_int_equal(gguf_writer_write_mem(w, &mem, &len), GGUF_OK);
    gguf_writer_free(w);
    gguf_file *f;
    char err[256];
    assert_int_equal(gguf_open_memory(&f, mem, len, err, sizeof err), GGUF_OK);
    assert_int_equal(gguf_kv_count(f), 4);
    const char *order[4] = {"a", "b", "c", "general.alignment"};
    for (size_t i = 0; i < 4; i++)
        assert_true(gguf_str_eq(gguf_kv_at(f, i)->key, order[i]));
    gguf_str s;
    assert_true(gguf_get_str(f, "b", &s) && gguf_str_eq(s, "two"));
    assert_int_equal(gguf_alignment(f), 16);
    gguf_close(f);
    free(mem);
}

/* ---- Argument checks ----------------------------------------------------------- */

/* After a rejected call: the message names the problem, and writes fail. */
static void expect_sticky(gguf_writer *w, int rc, const char *msg)
{
    assert_int_equal(rc, GGUF_EBAD);
    if (!strstr(gguf_writer_error(w), msg))
        fail_msg("writer message \"%s\" lacks \"%s\"", gguf_writer_error(w), msg);
    /* A later valid call does not clear it. */
    assert_int_equal(gguf_writer_set_u32(w, "fine", 1), GGUF_OK);
    void *mem = (void *)&mem;
    size_t len = 99;
    assert_int_equal(gguf_writer_write_mem(w, &mem, &len), GGUF_EBAD);
    assert_null(mem);
    assert_int_equal(len, 0);
    assert_int_equal(gguf_writer_size(w), 0);
    const char *path = test_path(test_tmpdir(), "sticky.gguf");
    char err[512];
    assert_int_equal(gguf_writer_write_file(w, path, err, sizeof err), GGUF_EBAD);
    assert_non_null(strstr(err, "sticky.gguf: not written"));
    assert_non_null(strstr(err, msg));
    assert_false(file_exists(path));
    gguf_writer_free(w);
}

static void test_rejects(void **state)
{
    (void)state;
    const uint64_t ne[4] = {32, 2, 1, 1}, ne33[1] = {33};
    float buf[64] = {0};
    gguf_writer *w;

    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_set_u32(w, "", 1), "empty metadata key");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_set_alignment(w, 3), "general.alignment must be a UINT32 power of two");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_set_alignment(w, 0), "general.alignment must be");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_set_alignment(w, 1u << 17), "general.alignment must be");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_set_i32(w, "general.alignment", 32), "general.alignment must be a UINT32");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_set_version(w, 1), "GGUF version 1 cannot be written");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_set_arr_data(w, "k", GGUF_TYPE_STRING, buf, 1), "not a number or bool");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_set_arr_data(w, "k", GGUF_TYPE_UINT8, buf, GGUF_MAX_ARRAY + 1ull),
                  "exceeds the limit");
    w = gguf_writer_new();
    const uint8_t two = 2;
    gguf_value bad_bool = {.type = GGUF_TYPE_ARRAY, .u.arr = {.type = GGUF_TYPE_BOOL, .n = 1, .data = &two}};
    expect_sticky(w, gguf_writer_set_value(w, "k", &bad_bool), "bool element not 0 or 1");
    w = gguf_writer_new();
    gguf_value bad_type = {.type = (gguf_type)13};
    expect_sticky(w, gguf_writer_set_value(w, "k", &bad_type), "unknown value type");

    w = gguf_writer_new();
    gguf_writer_add_tensor(w, "t", GGML_TYPE_F32, 2, ne, buf, 256);
    expect_sticky(w, gguf_writer_add_tensor(w, "t", GGML_TYPE_F32, 2, ne, buf, 256), "tensor 't': added twice");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_add_tensor(w, "t", GGML_TYPE_F32, 0, ne, buf, 256), "0 dimensions");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_add_tensor(w, "t", GGML_TYPE_F32, 5, ne, buf, 256), "5 dimensions");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_add_tensor(w, "t", (ggml_type)4, 2, ne, buf, 256), "unknown tensor type 4");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_add_tensor(w, "t", GGML_TYPE_Q4_0, 1, ne33, buf, 18),
                  "row length 33 is not a multiple of the Q4_0 block size 32");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_add_tensor(w, "t", GGML_TYPE_F32, 2, ne, buf, 255),
                  "tensor 't': 255 bytes given, the shape needs 256");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_add_tensor(w, "t", GGML_TYPE_F32, 2, ne, NULL, 256), "tensor 't': no data");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_add_tensor_fill(w, "t", GGML_TYPE_F32, 2, ne, NULL, NULL), "no fill callback");
    w = gguf_writer_new();
    expect_sticky(w, gguf_writer_add_tensor(w, "", GGML_TYPE_F32, 2, ne, buf, 256), "name must be 1 to 63 bytes");
    w = gguf_writer_new();
    char long_name[65];
    memset(long_name, 'n', 64);
    long_name[64] = '\0';
    expect_sticky(w, gguf_writer_add_tensor(w, long_name, GGML_TYPE_F32, 2, ne, buf, 256), "name must be 1 to 63");
    w = gguf_writer_new();
    const uint64_t huge[2] = {1ull << 32, 1ull << 32};
    expect_sticky(w, gguf_writer_add_tensor(w, "t", GGML_TYPE_F32, 2, huge, buf, 256), "element count overflows");
    w = gguf_writer_new();
    const uint64_t big[2] = {1ull << 31, 1ull << 31};
    expect_sticky(w, gguf_writer_add_tensor(w, "t", GGML_TYPE_F32, 2, big, buf, 256), "byte size overflows");

    /* A rejected tensor is not half-added: the writer's failure state aside,
     * the same name can be added afterwards. */
    w = gguf_writer_new();
    assert_int_equal(gguf_writer_add_tensor(w, "t", GGML_TYPE_F32, 2, ne, buf, 4), GGUF_EBAD);
    assert_int_equal(gguf_writer_add_tensor(w, "t", GGML_TYPE_F32, 2, ne, buf, 256), GGUF_OK);
    gguf_writer_free(w);
    gguf_writer_free(NULL);
}

/* ---- Streaming ---------------------------------------------------------------- */

typedef struct {
    uint64_t next;     /* the offset the next chunk must start at */
    uint64_t unit;     /* every chunk is a multiple of this */
    int calls;
    int fail_at_call;  /* 0: never */
} fill_state;

static uint8_t pattern(uint64_t i) { return (uint8_t)((i * 2654435761u) >> 13); }

static int fill(void *ctx, uint64_t offset, void *buf, size_t len)
{
    fill_state *s = ctx;
    s->calls++;
    if (s->fail_at_call && s->calls == s->fail_at_call)
        return -1;
    if (offset != s->next || len == 0 || len % s->unit != 0 || len > (1u << 20))
        return -2; /* shows up as a failed write */
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = pattern(offset + i);
    s->next += len;
    return 0;
}

static void test_fill(void **state)
{
    (void)state;
    /* F32 4 MiB in 4 KiB rows: whole rows per chunk.  Q4_0 with one row of
     * 1.26 MB (over 1 MiB): whole 18-byte blocks per chunk. */
    const uint64_t ne_f[2] = {1024, 1024}, ne_q[1] = {32 * 70000};
    fill_state sf = {.unit = 4096}, sq = {.unit = 18};
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.name", "streamed");
    assert_int_equal(gguf_writer_add_tensor_fill(w, "big.f32", GGML_TYPE_F32, 2, ne_f, fill, &sf), GGUF_OK);
    assert_int_equal(gguf_writer_add_tensor_fill(w, "long.q4_0", GGML_TYPE_Q4_0, 1, ne_q, fill, &sq), GGUF_OK);
    const char *path = test_path(test_tmpdir(), "fill.gguf");
    char err[512];
    assert_int_equal(gguf_writer_write_file(w, path, err, sizeof err), GGUF_OK);
    assert_int_equal(sf.next, 4u << 20);
    assert_int_equal(sf.calls, 4);
    assert_int_equal(sq.next, 70000 * 18);
    assert_int_equal(sq.calls, 2);

    gguf_file *f = open_file(path);
    for (size_t k = 0; k < 2; k++) {
        const gguf_tensor *t = gguf_tensor_at(f, k);
        const uint8_t *d = t->data;
        for (uint64_t i = 0; i < t->n_bytes; i++)
            if (d[i] != pattern(i))
                fail_msg("tensor %zu byte %llu differs", k, (unsigned long long)i);
    }
    gguf_close(f);

    /* A second write calls the callbacks again and gives the same bytes. */
    sf.next = sq.next = 0;
    void *mem;
    size_t len, flen;
    assert_int_equal(gguf_writer_write_mem(w, &mem, &len), GGUF_OK);
    char *fbytes = test_read_file(path, &flen);
    assert_int_equal(len, flen);
    assert_memory_equal(mem, fbytes, len);
    free(fbytes);
    free(mem);
    gguf_writer_free(w);
}

static void test_fill_failure(void **state)
{
    (void)state;
    const uint64_t ne[2] = {1024, 1024};
    fill_state s = {.unit = 4096, .fail_at_call = 2};
    gguf_writer *w = gguf_writer_new();
    gguf_writer_add_tensor_fill(w, "blk.0.ffn_up.weight", GGML_TYPE_F32, 2, ne, fill, &s);
    const char *path = test_path(test_tmpdir(), "fillfail.gguf");
    char err[512];
    assert_int_equal(gguf_writer_write_file(w, path, err, sizeof err), GGUF_EIO);
    assert_non_null(strstr(err, "fillfail.gguf: not written: tensor 'blk.0.ffn_up.weight': the fill callback failed"));
    assert_false(file_exists(path));
    assert_false(file_exists(test_path(test_tmpdir(), "fillfail.gguf.tmp")));

    s = (fill_state){.unit = 4096, .fail_at_call = 1};
    void *mem = (void *)&mem;
    size_t len;
    assert_int_equal(gguf_writer_write_mem(w, &mem, &len), GGUF_EIO);
    assert_null(mem);
    assert_non_null(strstr(gguf_writer_error(w), "fill callback failed"));
    /* Not sticky: a write after the source recovers succeeds. */
    s = (fill_state){.unit = 4096};
    assert_int_equal(gguf_writer_write_mem(w, &mem, &len), GGUF_OK);
    free(mem);
    gguf_writer_free(w);
}

/* ---- I/O faults --------------------------------------------------------------- */

static void test_write_errors(void **state)
{
    (void)state;
    const char *dir = test_tmpdir();
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.name", "x");
    char err[512];
    const char *nodir = test_path(dir, "no/such/dir/m.gguf");
    assert_int_equal(gguf_writer_write_file(w, nodir, err, sizeof err), GGUF_EIO);
    assert_non_null(strstr(err, "cannot create "));
    assert_non_null(strstr(err, "no/such/dir/m.gguf.tmp: No such file or directory"));
    gguf_writer_free(w);

    /* A destination that exists must survive a failed write whole. */
    const char *path = test_path(dir, "keep.gguf");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("old contents", fp);
    fclose(fp);

    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Files may not grow past 4096 bytes: write() fails with EFBIG, the
         * way a full disk fails with ENOSPC. */
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl;
        getrlimit(RLIMIT_FSIZE, &rl);
        rl.rlim_cur = 4096;
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(10);
        static uint8_t big[3 << 20];
        const uint64_t ne[1] = {sizeof big / 4};
        gguf_writer *cw = gguf_writer_new();
        gguf_writer_add_tensor(cw, "big", GGML_TYPE_F32, 1, ne, big, sizeof big);
        char cerr[512] = "";
        int rc = gguf_writer_write_file(cw, path, cerr, sizeof cerr);
        if (write(pipefd[1], cerr, strlen(cerr) + 1) < 0)
            _exit(11);
        _exit(rc == GGUF_EIO ? 0 : 12);
    }
    close(pipefd[1]);
    char msg[512] = "";
    ssize_t n = read(pipefd[0], msg, sizeof msg - 1);
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(n > 0);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("child status %d: %s", WEXITSTATUS(status), msg);
    if (!strstr(msg, "keep.gguf.tmp: write failed after 4096 bytes: File too large"))
        fail_msg("unexpected message: %s", msg);
    assert_false(file_exists(test_path(dir, "keep.gguf.tmp")));
    size_t len;
    char *kept = test_read_file(path, &len);
    assert_string_equal(kept, "old contents");
    free(kept);

    /* And a successful write replaces it. */
    w = gguf_writer_new();
    gguf_writer_set_str(w, "general.name", "new");
    assert_int_equal(gguf_writer_write_file(w, path, err, sizeof err), GGUF_OK);
    gguf_writer_free(w);
    gguf_file *f = open_file(path);
    gguf_str s;
    assert_true(gguf_get_str(f, "general.name", &s) && gguf_str_eq(s, "new"));
    gguf_close(f);
}

/* ---- Reference files ------------------------------------------------------------ */

/* Copies every key and tensor of `path` into a writer and checks that the
 * output is the same file, byte for byte. */
static void rewrite(const char *path)
{
    gguf_file *f = open_file(path);
    gguf_writer *w = gguf_writer_new();
    assert_int_equal(gguf_writer_set_version(w, gguf_version(f)), GGUF_OK);
    for (size_t i = 0; i < gguf_kv_count(f); i++) {
        const gguf_kv *kv = gguf_kv_at(f, i);
        char *key = xstrndup(kv->key.ptr, (size_t)kv->key.len);
        assert_int_equal(gguf_writer_set_value(w, key, &kv->value), GGUF_OK);
        free(key);
    }
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        char *name = xstrndup(t->name.ptr, (size_t)t->name.len);
        assert_int_equal(gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data,
                                                (size_t)t->n_bytes), GGUF_OK);
        free(name);
    }
    void *mem;
    size_t len, flen;
    assert_int_equal(gguf_writer_write_mem(w, &mem, &len), GGUF_OK);
    char *orig = test_read_file(path, &flen);
    if (len != flen)
        fail_msg("%s: re-written as %zu bytes, not %zu", path, len, flen);
    for (size_t i = 0; i < len; i++)
        if (((uint8_t *)mem)[i] != (uint8_t)orig[i])
            fail_msg("%s: re-written file differs at byte %zu", path, i);
    free(orig);
    free(mem);
    gguf_writer_free(w);
    gguf_close(f);
}

static void test_rewrite_reference(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared) {
        printf("SKIP: re-writing the reference files (no ../shared)\n");
        return;
    }
    static const char *const dirs[] = {"ref/models", "ref/tokenizer"};
    int n = 0;
    for (size_t d = 0; d < 2; d++) {
        const char *dir = test_path(shared, dirs[d]);
        DIR *dp = opendir(dir);
        assert_non_null(dp);
        for (struct dirent *e; (e = readdir(dp));) {
            size_t len = strlen(e->d_name);
            if (len > 5 && strcmp(e->d_name + len - 5, ".gguf") == 0) {
                rewrite(test_path(dir, e->d_name));
                n++;
            }
        }
        closedir(dp);
    }
    printf("  %d reference files re-written byte for byte\n", n);
    assert_true(n >= 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_replace_keeps_position),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_fill),
        cmocka_unit_test(test_fill_failure),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_rewrite_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
