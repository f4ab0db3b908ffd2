/*
 * test_gguf.c — the bounded GGUF reader (engine/gguf.h).
 *
 *   - One broken file per failure kind, built byte by byte or written by
 *     gguf_write.h and then patched: each must give GGUF_EBAD (GGUF_EIO for
 *     files that cannot be opened) and a message naming the field (key or
 *     tensor) and the byte offset.
 *   - Good files: every value type, nested arrays, v2 and v3, alignments,
 *     vocabulary-only, typed getters, look-ups.
 *   - With ../shared: the reference models cut at every offset of their
 *     header (the larger ones at every key/value and tensor-info boundary ±8
 *     and at a seeded sample of offsets), and stories260K with random byte
 *     flips.  Every image is an exact-size malloc'ed copy, so ASan sees any
 *     read past its end.
 *
 * The writer itself is tested in test_gguf_write.c.
 */
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "tests/testutil.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- Helpers ------------------------------------------------------------ */

/* A formatted string that lives until 16 more calls (for expected messages). */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
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

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Little-endian byte builders for handcrafted files. */
static void b_le(strbuf *b, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        sb_putc(b, (char)(uint8_t)(v >> (8 * i)));
}
static void b_u32(strbuf *b, uint32_t v) { b_le(b, v, 4); }
static void b_u64(strbuf *b, uint64_t v) { b_le(b, v, 8); }
static void b_str(strbuf *b, const char *s)
{
    b_u64(b, strlen(s));
    sb_puts(b, s);
}
static strbuf b_header(uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    strbuf b = {0};
    sb_append(&b, "GGUF", 4);
    b_u32(&b, version);
    b_u64(&b, n_tensors);
    b_u64(&b, n_kv);
    return b;
}
/* A tensor info: name, n_dims, ne[n_dims], type, offset. */
static void b_tensor(strbuf *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                     uint32_t type, uint64_t offset)
{
    b_str(b, name);
    b_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        b_u64(b, ne[d]);
    b_u32(b, type);
    b_u64(b, offset);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Offset of the one occurrence of `needle` in buf. */
static size_t find_unique(const uint8_t *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle), at = SIZE_MAX;
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, needle, n) == 0) {
            if (at != SIZE_MAX)
                fail_msg("'%s' occurs twice in the image", needle);
            at = i;
        }
    if (at == SIZE_MAX)
        fail_msg("'%s' not found in the image", needle);
    return at;
}

/* Writer → malloc'ed image; frees the writer. */
static uint8_t *image(gguf_writer *w, size_t *len)
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
static int parse_copy(const void *buf, size_t len, char *err, size_t errlen)
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

/* Expects GGUF_EBAD with a message containing every given substring. */
#define expect_bad(buf, len, ...) \
    expect_bad_msg((buf), (len), (const char *const[]){__VA_ARGS__, NULL})
static void expect_bad_msg(const void *buf, size_t len, const char *const *subs)
{
    char err[512];
    int rc = parse_copy(buf, len, err, sizeof err);
    if (rc != GGUF_EBAD)
        fail_msg("expected GGUF_EBAD, got %d (%s)", rc, rc ? err : "parsed");
    for (; *subs; subs++)
        if (!strstr(err, *subs))
            fail_msg("message \"%s\" lacks \"%s\"", err, *subs);
}

static gguf_file *open_ok(const void *buf, size_t len)
{
    char err[512];
    gguf_file *f;
    int rc = gguf_open_memory(&f, buf, len, err, sizeof err);
    if (rc != GGUF_OK)
        fail_msg("gguf_open_memory: %d %s", rc, err);
    return f;
}

/* ---- Header ------------------------------------------------------------- */

static void test_bad_magic(void **state)
{
    (void)state;
    strbuf b = b_header(3, 0, 0);
    b.data[3] = 'X';
    expect_bad(b.data, b.len, "not a GGUF file", "bad magic at offset 0");
    expect_bad("GGU", 3, "truncated", "too short for the GGUF magic");
    expect_bad("", 0, "truncated", "0 bytes");
    sb_free(&b);
}

static void test_bad_version(void **state)
{
    (void)state;
    static const struct {
        uint32_t v;
        const char *msg;
    } cases[] = {
        {1, "GGUF version 1 is not supported"},
        {0, "unsupported GGUF version 0 at offset 4"},
        {4, "unsupported GGUF version 4 at offset 4"},
        {0xffffffffu, "unsupported GGUF version 4294967295 at offset 4"},
        {0x03000000u, "big-endian"}, /* version 3 written big-endian */
        {0x02000000u, "big-endian"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        strbuf b = b_header(cases[i].v, 0, 0);
        expect_bad(b.data, b.len, cases[i].msg, "offset 4");
        sb_free(&b);
    }
}

static void test_bad_counts(void **state)
{
    (void)state;
    strbuf b = b_header(3, GGUF_MAX_TENSORS + 1, 0);
    expect_bad(b.data, b.len, "tensor count 1048577 at offset 8 exceeds the limit");
    sb_free(&b);
    b = b_header(3, UINT64_MAX, 0);
    expect_bad(b.data, b.len, "tensor count 18446744073709551615 at offset 8");
    sb_free(&b);
    b = b_header(3, 0, GGUF_MAX_KV + 1);
    expect_bad(b.data, b.len, "metadata count 65537 at offset 16 exceeds the limit");
    sb_free(&b);

    /* Counts within the limits but far more than the bytes could hold. */
    b = b_header(3, 0, GGUF_MAX_KV);
    sb_append(&b, "0123456789", 10);
    expect_bad(b.data, b.len, "truncated: metadata needs 851968 bytes at offset 24, 10 remain");
    sb_free(&b);
    b = b_header(3, GGUF_MAX_TENSORS, 0);
    sb_append(&b, "0123456789", 10);
    expect_bad(b.data, b.len, "truncated: tensor infos needs 33554432 bytes at offset 24, 10 remain");
    sb_free(&b);
}

static void test_truncated_header(void **state)
{
    (void)state;
    strbuf b = b_header(3, 0, 0);
    char err[256];
    assert_int_equal(parse_copy(b.data, b.len, err, sizeof err), GGUF_OK);
    for (size_t len = 0; len < b.len; len++) {
        if (len < 4)
            expect_bad(b.data, len, "truncated", "too short for the GGUF magic");
        else if (len < 8)
            expect_bad(b.data, len, "truncated: version needs 4 bytes at offset 4");
        else if (len < 16)
            expect_bad(b.data, len, "truncated: tensor count needs 8 bytes at offset 8");
        else
            expect_bad(b.data, len, "truncated: metadata count needs 8 bytes at offset 16",
                       fmt("%zu remain", len - 16));
    }
    sb_free(&b);
}

/* ---- Metadata ----------------------------------------------------------- */

static void test_bad_strings(void **state)
{
    (void)state;
    /* Key length over the limit, and past the end. */
    strbuf b = b_header(3, 0, 1);
    b_u64(&b, GGUF_MAX_STRING + 1ull);
    sb_puts(&b, "abcde");
    expect_bad(b.data, b.len, "metadata entry 0", "metadata key",
               "string length 16777217 at offset 24 exceeds the limit");
    sb_free(&b);
    b = b_header(3, 0, 1);
    b_u64(&b, UINT64_MAX);
    sb_puts(&b, "abcde");
    expect_bad(b.data, b.len, "metadata entry 0", "string length 18446744073709551615 at offset 24");
    sb_free(&b);
    b = b_header(3, 0, 2);
    b_str(&b, "a.b");
    b_u32(&b, GGUF_TYPE_UINT8);
    sb_putc(&b, 7);
    b_u64(&b, 100); /* second key at 24 + 8 + 3 + 4 + 1 = 40 */
    sb_puts(&b, "abcde");
    expect_bad(b.data, b.len, "metadata entry 1: truncated: metadata key needs 100 bytes at offset 48, 5 remain");
    sb_free(&b);

    /* A string value over the limit and past the end: value at 24+8+12+4. */
    b = b_header(3, 0, 1);
    b_str(&b, "general.name");
    b_u32(&b, GGUF_TYPE_STRING);
    b_u64(&b, GGUF_MAX_STRING + 1ull);
    sb_puts(&b, "abc");
    expect_bad(b.data, b.len, "key 'general.name'", "string value",
               "string length 16777217 at offset 48 exceeds the limit");
    sb_free(&b);
    b = b_header(3, 0, 1);
    b_str(&b, "general.name");
    b_u32(&b, GGUF_TYPE_STRING);
    b_u64(&b, 50);
    sb_puts(&b, "abc");
    expect_bad(b.data, b.len, "key 'general.name': truncated: string value needs 50 bytes at offset 56, 3 remain");
    sb_free(&b);

    /* A string inside an array: array at 24+8+3+4 = 39, strings from 51. */
    b = b_header(3, 0, 1);
    b_str(&b, "tok");
    b_u32(&b, GGUF_TYPE_ARRAY);
    b_u32(&b, GGUF_TYPE_STRING);
    b_u64(&b, 2);
    b_str(&b, "ab");
    b_u64(&b, 9);
    sb_puts(&b, "xy");
    expect_bad(b.data, b.len, "key 'tok': truncated: array string needs 9 bytes at offset 69, 2 remain");
    sb_free(&b);

    /* Tensor names. */
    b = b_header(3, 1, 0);
    b_u64(&b, GGUF_MAX_STRING + 1ull);
    sb_append(&b, "0123456789012345678901234567890123456789", 40);
    expect_bad(b.data, b.len, "tensor info 0", "tensor name", "string length 16777217 at offset 24");
    sb_free(&b);
    b = b_header(3, 1, 0);
    b_u64(&b, 1000);
    sb_append(&b, "0123456789012345678901234567890123456789", 40);
    expect_bad(b.data, b.len, "tensor info 0: truncated: tensor name needs 1000 bytes at offset 32, 40 remain");
    sb_free(&b);
}

static void test_bad_value_types(void **state)
{
    (void)state;
    const uint32_t bad[] = {GGUF_TYPE_COUNT, 99, 0xffffffffu};
    for (size_t i = 0; i < 3; i++) {
        strbuf b = b_header(3, 0, 1);
        b_str(&b, "k"); /* type at 24 + 8 + 1 = 33 */
        b_u32(&b, bad[i]);
        b_u64(&b, 0);
        expect_bad(b.data, b.len, fmt("key 'k': unknown value type %u at offset 33", bad[i]));
        sb_free(&b);

        b = b_header(3, 0, 1);
        b_str(&b, "k");
        b_u32(&b, GGUF_TYPE_ARRAY); /* array at 37 */
        b_u32(&b, bad[i]);
        b_u64(&b, 0);
        expect_bad(b.data, b.len, fmt("key 'k': unknown array element type %u at offset 37", bad[i]));
        sb_free(&b);
    }
}

/* `levels` arrays nested inside each other, the innermost holding one UINT8;
 * under key "deep", so the outermost array starts at offset 40. */
static strbuf nested(int levels)
{
    strbuf b = b_header(3, 0, 1);
    b_str(&b, "deep");
    b_u32(&b, GGUF_TYPE_ARRAY);
    for (int l = 0; l < levels; l++) {
        b_u32(&b, l + 1 < levels ? GGUF_TYPE_ARRAY : GGUF_TYPE_UINT8);
        b_u64(&b, 1);
    }
    sb_putc(&b, 42);
    return b;
}

static void test_nesting(void **state)
{
    (void)state;
    strbuf b = nested(GGUF_MAX_NESTING);
    gguf_file *f = open_ok(b.data, b.len);
    const gguf_array *a = gguf_get_arr(f, "deep");
    assert_non_null(a);
    for (int l = 1; l < GGUF_MAX_NESTING; l++) {
        assert_int_equal(a->type, GGUF_TYPE_ARRAY);
        assert_int_equal(a->n, 1);
        a = &a->elems[0].u.arr;
    }
    assert_int_equal(a->type, GGUF_TYPE_UINT8);
    assert_int_equal(gguf_arr_u64(a, 0), 42);
    gguf_close(f);
    sb_free(&b);

    b = nested(GGUF_MAX_NESTING + 1);
    expect_bad(b.data, b.len, "key 'deep': arrays nested deeper than 8",
               fmt("at offset %d", 40 + 12 * GGUF_MAX_NESTING));
    sb_free(&b);
    b = nested(1000); /* deep recursion must not be reachable */
    expect_bad(b.data, b.len, "nested deeper than 8");
    sb_free(&b);
}

/* An array under key "a" (array header at 37) claiming n elements of type
 * et, followed by only three bytes. */
static strbuf lying_array(uint32_t et, uint64_t n)
{
    strbuf b = b_header(3, 0, 1);
    b_str(&b, "a");
    b_u32(&b, GGUF_TYPE_ARRAY);
    b_u32(&b, et);
    b_u64(&b, n);
    sb_append(&b, "\1\0\1", 3);
    return b;
}

#if !defined(__SANITIZE_ADDRESS__)
/* Size of this process's address space in bytes (from /proc/self/statm). */
static uint64_t vm_size(void)
{
    unsigned long pages = 0;
    FILE *fp = fopen("/proc/self/statm", "r");
    if (fp) {
        if (fscanf(fp, "%lu", &pages) != 1)
            pages = 0;
        fclose(fp);
    }
    return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}
#endif

static void test_array_count_lies(void **state)
{
    (void)state;
    static const struct {
        uint32_t et;
        uint64_t need;
    } cases[] = {
        {GGUF_TYPE_UINT8, GGUF_MAX_ARRAY},       {GGUF_TYPE_INT64, 8ull * GGUF_MAX_ARRAY},
        {GGUF_TYPE_STRING, 8ull * GGUF_MAX_ARRAY}, {GGUF_TYPE_ARRAY, 12ull * GGUF_MAX_ARRAY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        strbuf b = lying_array(cases[i].et, GGUF_MAX_ARRAY);
        expect_bad(b.data, b.len,
                   fmt("key 'a': truncated: array elements needs %llu bytes at offset 49, 3 remain",
                       (unsigned long long)cases[i].need));
        sb_free(&b);
        b = lying_array(cases[i].et, GGUF_MAX_ARRAY + 1ull);
        expect_bad(b.data, b.len, "key 'a': array length 16777217 at offset 37 exceeds the limit");
        sb_free(&b);
        b = lying_array(cases[i].et, UINT64_MAX);
        expect_bad(b.data, b.len, "array length 18446744073709551615 at offset 37");
        sb_free(&b);
    }

    /* No gigabytes: with the address space capped at 256 MiB above what the
     * process uses (so that a 512 MiB malloc fails), each lie above must
     * still be reported as GGUF_EBAD, not GGUF_ENOMEM.  (An array of 2^24
     * arrays would take 800 MB of parsed values.)  ASan reserves terabytes of
     * shadow memory, so this part runs only in the plain build. */
#if defined(__SANITIZE_ADDRESS__)
    printf("SKIP: address-space cap (not meaningful under ASan)\n");
#else
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_AS, &rl) != 0)
            _exit(10);
        rl.rlim_cur = vm_size() + (256u << 20);
        if (setrlimit(RLIMIT_AS, &rl) != 0)
            _exit(11);
        /* volatile: clang drops a malloc whose result is only tested */
        void *volatile big = malloc(512u << 20);
        if (big)
            _exit(12); /* the cap does not work: the test would prove nothing */
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            strbuf b = lying_array(cases[i].et, GGUF_MAX_ARRAY);
            char err[256];
            gguf_file *f;
            int rc = gguf_open_memory(&f, b.data, b.len, err, sizeof err);
            sb_free(&b);
            if (rc != GGUF_EBAD)
                _exit(20 + (int)i);
        }
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
#endif
}

static void test_bad_bool(void **state)
{
    (void)state;
    strbuf b = b_header(3, 0, 1);
    b_str(&b, "b");
    b_u32(&b, GGUF_TYPE_BOOL); /* value at 37 */
    sb_putc(&b, 2);
    expect_bad(b.data, b.len, "key 'b': invalid bool 2 at offset 37");
    sb_free(&b);

    b = b_header(3, 0, 1);
    b_str(&b, "b");
    b_u32(&b, GGUF_TYPE_ARRAY);
    b_u32(&b, GGUF_TYPE_BOOL);
    b_u64(&b, 3); /* elements at 49 */
    sb_append(&b, "\0\1\7", 3);
    expect_bad(b.data, b.len, "key 'b': invalid bool 7 at offset 51");
    sb_free(&b);

    b = b_header(3, 0, 1); /* inside an array of arrays */
    b_str(&b, "b");
    b_u32(&b, GGUF_TYPE_ARRAY);
    b_u32(&b, GGUF_TYPE_ARRAY);
    b_u64(&b, 1);
    b_u32(&b, GGUF_TYPE_BOOL);
    b_u64(&b, 2); /* elements at 61 */
    sb_append(&b, "\1\377", 2);
    expect_bad(b.data, b.len, "key 'b': invalid bool 255 at offset 62");
    sb_free(&b);
}

static void test_duplicate_key(void **state)
{
    (void)state;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_u32(w, "x.first", 1);
    gguf_writer_set_str(w, "dup.aa", "one");
    gguf_writer_set_u8(w, "m.mid", 2);
    gguf_writer_set_str(w, "dup.bb", "two");
    gguf_writer_set_u8(w, "z.last", 3);
    size_t len;
    uint8_t *img = image(w, &len);
    size_t at = find_unique(img, len, "dup.bb");
    memcpy(img + at, "dup.aa", 6);
    expect_bad(img, len, fmt("duplicate metadata key 'dup.aa' at offset %zu", at - 8));
    free(img);
}

static void test_empty_names(void **state)
{
    (void)state;
    strbuf b = b_header(3, 0, 1);
    b_str(&b, "");
    b_u32(&b, GGUF_TYPE_UINT8);
    sb_putc(&b, 1);
    expect_bad(b.data, b.len, "metadata entry 0: empty metadata key at offset 24");
    sb_free(&b);

    b = b_header(3, 0, 2);
    b_str(&b, "ok");
    b_u32(&b, GGUF_TYPE_UINT8);
    sb_putc(&b, 1);
    b_str(&b, ""); /* at 24 + 8 + 2 + 4 + 1 */
    b_u32(&b, GGUF_TYPE_UINT8);
    sb_putc(&b, 1);
    expect_bad(b.data, b.len, "metadata entry 1: empty metadata key at offset 39");
    sb_free(&b);

    const uint64_t ne[1] = {8};
    b = b_header(3, 1, 0);
    b_tensor(&b, "", 1, ne, GGML_TYPE_F32, 0);
    expect_bad(b.data, b.len, "tensor info 0: empty tensor name at offset 24");
    sb_free(&b);
}

/* Names from the file reach the terminal: control bytes are replaced and
 * long names cut. */
static void test_names_in_messages(void **state)
{
    (void)state;
    strbuf b = b_header(3, 0, 1);
    b_str(&b, "bad\n\x1b[2Jkey");
    b_u32(&b, 99);
    expect_bad(b.data, b.len, "key 'bad??[2Jkey': unknown value type 99");
    sb_free(&b);

    char long_key[201];
    memset(long_key, 'k', 200);
    long_key[200] = '\0';
    b = b_header(3, 0, 1);
    b_str(&b, long_key);
    b_u32(&b, 99);
    char want[160];
    snprintf(want, sizeof want, "key '%.64s...': unknown value type 99 at offset 232", long_key);
    expect_bad(b.data, b.len, want);
    sb_free(&b);
}

/* ---- Tensor infos ---------------------------------------------------------- */

/* One tensor info for "t" at offset 24: n_dims at 33, ne[] from 37. */
static strbuf one_tensor(uint32_t n_dims, const uint64_t *ne, uint32_t type)
{
    strbuf b = b_header(3, 1, 0);
    b_tensor(&b, "t", n_dims, ne, type, 0);
    return b;
}

static void test_duplicate_tensor(void **state)
{
    (void)state;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "llama");
    const float data[8] = {0};
    const uint64_t ne[1] = {8};
    gguf_writer_add_tensor(w, "t.aa", GGML_TYPE_F32, 1, ne, data, sizeof data);
    gguf_writer_add_tensor(w, "t.mid", GGML_TYPE_F32, 1, ne, data, sizeof data);
    gguf_writer_add_tensor(w, "t.bb", GGML_TYPE_F32, 1, ne, data, sizeof data);
    size_t len;
    uint8_t *img = image(w, &len);
    size_t at = find_unique(img, len, "t.bb");
    memcpy(img + at, "t.aa", 4);
    expect_bad(img, len, fmt("duplicate tensor name 't.aa' (info at offset %zu)", at - 8));
    free(img);
}

static void test_bad_dims(void **state)
{
    (void)state;
    const uint64_t ne[5] = {32, 1, 1, 1, 1};
    const uint32_t dims[] = {0, 5, 0xffffffffu};
    for (size_t i = 0; i < 3; i++) {
        strbuf b = one_tensor(dims[i] > 5 ? 0 : dims[i], ne, GGML_TYPE_F32);
        put32((uint8_t *)b.data + 33, dims[i]);
        sb_append(&b, "0123456789012345678901234567890123456789", 40); /* the infos' minimum size */
        expect_bad(b.data, b.len, fmt("tensor 't': %u dimensions at offset 33 (1 to 4 allowed)", dims[i]));
        sb_free(&b);
    }
}

static void test_size_overflow(void **state)
{
    (void)state;
    const uint64_t two32[2] = {1ull << 32, 1ull << 32};
    strbuf b = one_tensor(2, two32, GGML_TYPE_F32);
    expect_bad(b.data, b.len, "tensor 't': element count overflows at dimension 1 (offset 45)");
    sb_free(&b);
    const uint64_t huge[1] = {1ull << 63};
    b = one_tensor(1, huge, GGML_TYPE_F32);
    expect_bad(b.data, b.len, "tensor 't': element count overflows at dimension 0 (offset 37)");
    sb_free(&b);
    const uint64_t four[4] = {1u << 16, 1u << 16, 1u << 16, 1u << 16};
    b = one_tensor(4, four, GGML_TYPE_F32);
    expect_bad(b.data, b.len, "element count overflows at dimension 3 (offset 61)");
    sb_free(&b);

    /* 2^62 elements fit in int64, but not 2^62 * 4 bytes in uint64. */
    const uint64_t two31[2] = {1ull << 31, 1ull << 31};
    b = one_tensor(2, two31, GGML_TYPE_F32);
    expect_bad(b.data, b.len, "tensor 't': byte size of 4611686018427387904 F32 elements overflows (info at offset 24)");
    sb_free(&b);
    const uint64_t four62[4] = {1u << 16, 1u << 16, 1u << 16, 1u << 14};
    b = one_tensor(4, four62, GGML_TYPE_F32);
    expect_bad(b.data, b.len, "tensor 't': byte size of 4611686018427387904 F32 elements overflows");
    sb_free(&b);
    /* Q8_0's 34 bytes per 32 elements cannot overflow: the same shape is a
     * huge size in range, rejected as lying past the end of the file. */
    b = one_tensor(2, two31, GGML_TYPE_Q8_0);
    while (b.len < 96) /* the data section starts at 96 */
        sb_putc(&b, 0);
    expect_bad(b.data, b.len, "tensor 't': data offset 0 + 4899916394579099648 bytes", "runs past the end");
    sb_free(&b);
}

static void test_row_not_whole_blocks(void **state)
{
    (void)state;
    const uint64_t ne33[2] = {33, 2};
    strbuf b = one_tensor(2, ne33, GGML_TYPE_Q4_0);
    expect_bad(b.data, b.len, "tensor 't': row length 33 is not a multiple of the Q4_0 block size 32 (info at offset 24)");
    sb_free(&b);
    const uint64_t ne128[1] = {128};
    b = one_tensor(1, ne128, GGML_TYPE_Q6_K);
    expect_bad(b.data, b.len, "tensor 't': row length 128 is not a multiple of the Q6_K block size 256");
    sb_free(&b);
}

static void test_unknown_tensor_type(void **state)
{
    (void)state;
    /* 4 and 5 (Q4_2, Q4_3) were removed from ggml; 16..29 are types we do
     * not implement; 31 is one past BF16. */
    const uint32_t bad[] = {99, 4, 5, 16, 29, 31, 0xffffffffu};
    const uint64_t ne[1] = {256};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strbuf b = one_tensor(1, ne, bad[i]);
        expect_bad(b.data, b.len, fmt("tensor 't': unknown tensor type %u at offset 45", bad[i]));
        sb_free(&b);
    }
}

/* A file with the given alignment (0: default) and tensors "t.a", "t.b" of
 * 8 floats each; *info_b is the offset of t.b's info. */
static uint8_t *two_tensors(uint32_t alignment, size_t *len, size_t *info_b)
{
    static const float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const uint64_t ne[1] = {8};
    gguf_writer *w = gguf_writer_new();
    if (alignment)
        gguf_writer_set_alignment(w, alignment);
    gguf_writer_set_str(w, "general.name", "two");
    gguf_writer_add_tensor(w, "t.a", GGML_TYPE_F32, 1, ne, data, sizeof data);
    gguf_writer_add_tensor(w, "t.b", GGML_TYPE_F32, 1, ne, data, sizeof data);
    uint8_t *img = image(w, len);
    *info_b = find_unique(img, *len, "t.b") - 8;
    return img;
}

static void test_misaligned_offset(void **state)
{
    (void)state;
    size_t len, info;
    uint8_t *img = two_tensors(0, &len, &info);
    uint8_t *off = img + info + 8 + 3 + 4 + 8 + 4; /* t.b's data offset */
    put64(off, 36);
    expect_bad(img, len, fmt("tensor 't.b': data offset 36 (info at offset %zu) is not a multiple of the alignment 32", info));
    free(img);

    img = two_tensors(64, &len, &info);
    off = img + info + 8 + 3 + 4 + 8 + 4;
    put64(off, 32);
    expect_bad(img, len, "tensor 't.b': data offset 32", "not a multiple of the alignment 64");
    free(img);
}

static void test_data_past_end(void **state)
{
    (void)state;
    size_t len, info;
    uint8_t *img = two_tensors(0, &len, &info);
    char err[256];
    assert_int_equal(parse_copy(img, len, err, sizeof err), GGUF_OK);
    size_t data_start = len - 64;

    expect_bad(img, len - 1, "tensor 't.b': data offset 32 + 32 bytes",
               fmt("(after the data section start %zu) runs past the end of the %zu-byte file (info at offset %zu)",
                   data_start, len - 1, info));
    uint8_t *off = img + info + 8 + 3 + 4 + 8 + 4;
    put64(off, 64);
    expect_bad(img, len, "tensor 't.b': data offset 64 + 32 bytes", "runs past the end");
    put64(off, UINT64_MAX - 31); /* aligned, and offset + size wraps around */
    expect_bad(img, len, "tensor 't.b': data offset 18446744073709551584 + 32 bytes", "runs past the end");
    free(img);
}

static void test_data_start_past_eof(void **state)
{
    (void)state;
    size_t len, info;
    uint8_t *img = two_tensors(0, &len, &info);
    size_t meta_end = info + 8 + 3 + 4 + 8 + 4 + 8;
    size_t data_start = len - 64;
    assert_true(meta_end < data_start); /* the layout has padding */
    for (size_t cut = meta_end; cut < data_start; cut++)
        expect_bad(img, cut, fmt("truncated: tensor data section would start at offset %zu, past the end of the %zu-byte file",
                                 data_start, cut));
    free(img);
}

static void test_bad_alignment(void **state)
{
    (void)state;
    size_t len, info;
    uint8_t *img = two_tensors(64, &len, &info);
    size_t key = find_unique(img, len, "general.alignment") - 8;
    uint8_t *type = img + key + 8 + 17, *val = type + 4;
    assert_int_equal(val[0], 64);

    const uint32_t bad[] = {0, 3, 48, 1u << 17};
    for (size_t i = 0; i < 4; i++) {
        put32(val, bad[i]);
        expect_bad(img, len, fmt("general.alignment %u (key at offset %zu) is not a power of two", bad[i], key));
    }
    put32(val, 64);
    put32(type, GGUF_TYPE_INT32);
    expect_bad(img, len, fmt("general.alignment (key at offset %zu) must be a UINT32, not type 5", key));
    put32(type, GGUF_TYPE_FLOAT32);
    expect_bad(img, len, "general.alignment", "must be a UINT32, not type 6");
    free(img);
}

/* ---- Files -------------------------------------------------------------------- */

static void test_files(void **state)
{
    (void)state;
    char err[512];
    gguf_file *f = (gguf_file *)&f;
    const char *dir = test_tmpdir();

    const char *empty = test_path(dir, "empty.gguf");
    FILE *fp = fopen(empty, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(gguf_open(&f, empty, err, sizeof err), GGUF_EBAD);
    assert_null(f);
    assert_non_null(strstr(err, "empty.gguf: empty file"));

    assert_int_equal(gguf_open(&f, dir, err, sizeof err), GGUF_EIO);
    assert_non_null(strstr(err, "is a directory"));

    const char *missing = test_path(dir, "missing.gguf");
    assert_int_equal(gguf_open(&f, missing, err, sizeof err), GGUF_EIO);
    assert_non_null(strstr(err, "missing.gguf: No such file or directory"));

    /* A broken file's message starts with its path. */
    strbuf b = b_header(1, 0, 0);
    const char *v1 = test_path(dir, "v1.gguf");
    fp = fopen(v1, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b.data, 1, b.len, fp), b.len);
    fclose(fp);
    assert_int_equal(gguf_open(&f, v1, err, sizeof err), GGUF_EBAD);
    assert_non_null(strstr(err, "v1.gguf: GGUF version 1 is not supported"));
    sb_free(&b);

    /* A FIFO is refused without waiting for a writer. */
    const char *fifo = test_path(dir, "fifo.gguf");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(gguf_open(&f, fifo, err, sizeof err), GGUF_EIO);
    assert_non_null(strstr(err, "fifo.gguf: not a regular file"));

    /* No message buffer at all is fine. */
    assert_int_equal(gguf_open(&f, missing, NULL, 0), GGUF_EIO);
    assert_int_equal(gguf_open_memory(&f, "GGUX", 4, NULL, 0), GGUF_EBAD);
    gguf_close(NULL);
}

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
    uint8_t *img = image(w, &len);
    gguf_file *f = open_ok(img, len);

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
    uint8_t *img = image(w, &len);
    gguf_file *f = open_ok(img, len);

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
        uint8_t *img = image(w, &len);
        gguf_file *f = open_ok(img, len);
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
        uint8_t *img = image(w, &len);
        gguf_file *f = open_ok(img, len);
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
    uint8_t *img = image(w, &len);
    gguf_file *f = open_ok(img, len);
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
    uint8_t *img = image(w, &len);
    gguf_file *f = open_ok(img, len);

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
        uint32_t j = (uint32_t)(rng_next(&seed) % (i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    gguf_writer *w = gguf_writer_new();
    float one[1] = {0};
    const uint64_t ne[1] = {1};
    for (uint32_t i = 0; i < N; i++) {
        gguf_writer_set_u32(w, fmt("key.%u", perm[i]), perm[i]);
        gguf_writer_add_tensor(w, fmt("blk.%u.w", perm[i]), GGML_TYPE_F32, 1, ne, one, sizeof one);
    }
    size_t len;
    uint8_t *img = image(w, &len);
    gguf_file *f = open_ok(img, len);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t v;
        assert_true(gguf_get_u32(f, fmt("key.%u", i), &v));
        assert_int_equal(v, i);
        const gguf_tensor *t = gguf_find_tensor(f, fmt("blk.%u.w", i));
        assert_non_null(t);
        assert_true(gguf_str_eq(t->name, fmt("blk.%u.w", i)));
    }
    assert_ptr_equal(gguf_tensor_at(f, 0), gguf_find_tensor(f, fmt("blk.%u.w", perm[0])));
    assert_null(gguf_find(f, "key."));
    assert_null(gguf_find(f, "key.3000"));
    assert_null(gguf_find(f, "key.1 "));
    assert_null(gguf_find(f, ""));
    assert_null(gguf_find_tensor(f, "blk.1"));
    assert_null(gguf_find_tensor(f, "blk.1.w.x"));
    assert_true(gguf_str_eq(gguf_kv_at(f, 0)->key, fmt("key.%u", perm[0])));
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
    gguf_file *f = open_ok(img, len);
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
    int rc = parse_copy(img, (size_t)cut, err, sizeof err);
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
        check_cut(name, img, &l, l.data_offset + rng_next(&seed) % (len - l.data_offset));
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
        check_cut(name, img, &l, i % 4 ? rng_next(&seed) % (l.meta_end + 1) : rng_next(&seed) % (len + 1));
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
        int flips = 1 + (int)(rng_next(&seed) % 4);
        for (int k = 0; k < flips; k++) {
            /* Half the flips hit the first 1 KiB, where counts and types are. */
            uint64_t span = trial % 2 ? l.meta_end : 1024;
            copy[rng_next(&seed) % span] ^= (uint8_t)(1 + rng_next(&seed) % 255);
        }
        char err[512];
        int rc = parse_copy(copy, len, err, sizeof err);
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
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_bad_counts),
        cmocka_unit_test(test_truncated_header),
        cmocka_unit_test(test_bad_strings),
        cmocka_unit_test(test_bad_value_types),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_array_count_lies),
        cmocka_unit_test(test_bad_bool),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_empty_names),
        cmocka_unit_test(test_names_in_messages),
        cmocka_unit_test(test_duplicate_tensor),
        cmocka_unit_test(test_bad_dims),
        cmocka_unit_test(test_size_overflow),
        cmocka_unit_test(test_row_not_whole_blocks),
        cmocka_unit_test(test_unknown_tensor_type),
        cmocka_unit_test(test_misaligned_offset),
        cmocka_unit_test(test_data_past_end),
        cmocka_unit_test(test_data_start_past_eof),
        cmocka_unit_test(test_bad_alignment),
        cmocka_unit_test(test_files),
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
