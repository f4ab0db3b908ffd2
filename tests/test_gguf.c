/*
 * test_gguf.c — the bounded GGUF reader (engine/gguf.h) against broken
 * files: one per failure kind, built byte by byte or written by
 * gguf_write.h and then patched; each must give GGUF_EBAD (GGUF_EIO for
 * files that cannot be opened) and a message naming the field (key or
 * tensor) and the byte offset.  Every image is an exact-size malloc'ed
 * copy, so ASan sees any read past its end.
 *
 * Good files and the reference models cut and corrupted are
 * test_gguf_good.c's; the writer itself is tested in test_gguf_write.c.
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

/* ---- Helpers ------------------------------------------------------------ */

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

/* Expects GGUF_EBAD with a message containing every given substring. */
#define expect_bad(buf, len, ...) \
    expect_bad_msg((buf), (len), (const char *const[]){__VA_ARGS__, NULL})
static void expect_bad_msg(const void *buf, size_t len, const char *const *subs)
{
    char err[512];
    int rc = gg_parse_copy(buf, len, err, sizeof err);
    if (rc != GGUF_EBAD)
        fail_msg("expected GGUF_EBAD, got %d (%s)", rc, rc ? err : "parsed");
    for (; *subs; subs++)
        if (!strstr(err, *subs))
            fail_msg("message \"%s\" lacks \"%s\"", err, *subs);
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
    assert_int_equal(gg_parse_copy(b.data, b.len, err, sizeof err), GGUF_OK);
    for (size_t len = 0; len < b.len; len++) {
        if (len < 4)
            expect_bad(b.data, len, "truncated", "too short for the GGUF magic");
        else if (len < 8)
            expect_bad(b.data, len, "truncated: version needs 4 bytes at offset 4");
        else if (len < 16)
            expect_bad(b.data, len, "truncated: tensor count needs 8 bytes at offset 8");
        else
            expect_bad(b.data, len, "truncated: metadata count needs 8 bytes at offset 16",
                       gg_fmt("%zu remain", len - 16));
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
        expect_bad(b.data, b.len, gg_fmt("key 'k': unknown value type %u at offset 33", bad[i]));
        sb_free(&b);

        b = b_header(3, 0, 1);
        b_str(&b, "k");
        b_u32(&b, GGUF_TYPE_ARRAY); /* array at 37 */
        b_u32(&b, bad[i]);
        b_u64(&b, 0);
        expect_bad(b.data, b.len, gg_fmt("key 'k': unknown array element type %u at offset 37", bad[i]));
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
    gguf_file *f = gg_open_ok(b.data, b.len);
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
               gg_fmt("at offset %d", 40 + 12 * GGUF_MAX_NESTING));
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
                   gg_fmt("key 'a': truncated: array elements needs %llu bytes at offset 49, 3 remain",
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
    uint8_t *img = gg_image(w, &len);
    size_t at = find_unique(img, len, "dup.bb");
    memcpy(img + at, "dup.aa", 6);
    expect_bad(img, len, gg_fmt("duplicate metadata key 'dup.aa' at offset %zu", at - 8));
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
    uint8_t *img = gg_image(w, &len);
    size_t at = find_unique(img, len, "t.bb");
    memcpy(img + at, "t.aa", 4);
    expect_bad(img, len, gg_fmt("duplicate tensor name 't.aa' (info at offset %zu)", at - 8));
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
        expect_bad(b.data, b.len, gg_fmt("tensor 't': %u dimensions at offset 33 (1 to 4 allowed)", dims[i]));
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
        expect_bad(b.data, b.len, gg_fmt("tensor 't': unknown tensor type %u at offset 45", bad[i]));
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
    uint8_t *img = gg_image(w, len);
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
    expect_bad(img, len, gg_fmt("tensor 't.b': data offset 36 (info at offset %zu) is not a multiple of the alignment 32", info));
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
    assert_int_equal(gg_parse_copy(img, len, err, sizeof err), GGUF_OK);
    size_t data_start = len - 64;

    expect_bad(img, len - 1, "tensor 't.b': data offset 32 + 32 bytes",
               gg_fmt("(after the data section start %zu) runs past the end of the %zu-byte file (info at offset %zu)",
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
        expect_bad(img, cut, gg_fmt("truncated: tensor data section would start at offset %zu, past the end of the %zu-byte file",
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
        expect_bad(img, len, gg_fmt("general.alignment %u (key at offset %zu) is not a power of two", bad[i], key));
    }
    put32(val, 64);
    put32(type, GGUF_TYPE_INT32);
    expect_bad(img, len, gg_fmt("general.alignment (key at offset %zu) must be a UINT32, not type 5", key));
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
