/*
 * gguf.h — a bounded, mmap-based reader for GGUF model files (versions 2 and 3).
 *
 * The format (little-endian throughout):
 *
 *   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv ×      { string key | u32 value_type | value }
 *   n_tensors × { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
 *   padding to `general.alignment` (default 32)
 *   tensor data; each tensor's offset is relative to the start of this section
 *
 *   string = u64 length | bytes (not NUL-terminated, not necessarily UTF-8)
 *   array  = u32 element_type | u64 count | count × element (arrays may nest)
 *
 * A GGUF file is untrusted input.  Every read is bounded by the bytes that
 * remain, every count and length is capped, every size product is checked
 * for overflow, each tensor must lie wholly inside the file, duplicate keys
 * and tensor names are rejected, and unknown tensor types are rejected by
 * number.  Failures return GGUF_EBAD with a message naming the field (key or
 * tensor name) and the byte offset at which the problem was found.  Names
 * from the file appear cut to 64 bytes, control bytes shown as '?'.
 *
 * What it does not do: compute with tensors (see quant.h) or interpret
 * model hyper-parameters (see model.h).  Strings and numeric array payloads
 * point into the mapping: they live exactly as long as the gguf_file.
 */
#ifndef FRONTDESK_GGUF_H
#define FRONTDESK_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Status codes ---------------------------------------------------- */

enum {
    GGUF_OK = 0,
    GGUF_EIO = -1,    /* the file could not be opened, stat'ed or mapped   */
    GGUF_EBAD = -2,   /* the bytes are not a valid GGUF file               */
    GGUF_ENOMEM = -3, /* allocation failed                                 */
};

/* ---- Metadata value types (the numbers are the file format's) -------- */

typedef enum {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
} gguf_type;

/* ---- Tensor element types (ggml numbering) --------------------------- */

typedef enum {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_Q8_K = 15,
    GGML_TYPE_BF16 = 30,
    GGML_TYPE_COUNT = 31 /* one past the largest number we know */
} ggml_type;

/* Whether `type` is one of the tensor types above (by number). */
bool ggml_type_known(uint32_t type);
/* "F32", "Q4_K", ...; "?" for an unknown number. */
const char *ggml_type_name(uint32_t type);
/* Elements per block (1 for F32/F16/BF16, 32 for Q*_0/_1, 256 for K types)
 * and bytes per block; 0 for an unknown type. */
size_t ggml_type_block_elems(uint32_t type);
size_t ggml_type_block_bytes(uint32_t type);

/* ---- Values ----------------------------------------------------------- */

/* A length-delimited string inside the mapping. */
typedef struct {
    const char *ptr;
    uint64_t len;
} gguf_str;

typedef struct gguf_value gguf_value;

/* An array.  Numeric payloads point at the packed little-endian elements in
 * the mapping (possibly unaligned: read them with the gguf_arr_* accessors).
 * Arrays of strings are indexed once at load (`strs`); arrays of arrays hold
 * their parsed elements (`elems`). */
typedef struct {
    gguf_type type; /* element type */
    uint64_t n;     /* element count */
    const uint8_t *data;      /* numeric/bool element types */
    const gguf_str *strs;     /* GGUF_TYPE_STRING */
    const gguf_value *elems;  /* GGUF_TYPE_ARRAY  */
} gguf_array;

struct gguf_value {
    gguf_type type;
    union {
        uint64_t u64; /* UINT8, UINT16, UINT32, UINT64 (zero-extended)     */
        int64_t i64;  /* INT8, INT16, INT32, INT64 (sign-extended)          */
        double f64;   /* FLOAT32, FLOAT64                                   */
        bool b;       /* BOOL                                               */
        gguf_str str; /* STRING                                             */
        gguf_array arr;
    } u;
};

typedef struct {
    gguf_str key;
    gguf_value value;
    uint64_t offset; /* byte offset of the key in the file */
} gguf_kv;

/* ---- Tensors --------------------------------------------------------- */

#define GGUF_MAX_DIMS 4

typedef struct {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension;
                                   unused dims are 1 */
    ggml_type type;
    uint64_t n_elems;  /* product of ne                                  */
    uint64_t n_bytes;  /* size of the data in the file                   */
    uint64_t offset;   /* absolute byte offset of the data in the file   */
    const void *data;  /* pointer into the mapping                       */
} gguf_tensor;

/* ---- Files ------------------------------------------------------------ */

typedef struct gguf_file gguf_file;

/* Map and parse `path`.  On failure returns a GGUF_E* status, leaves *out
 * NULL and writes a one-line message into err (if errlen > 0). */
int gguf_open(gguf_file **out, const char *path, char *err, size_t errlen);

/* Parse a buffer in memory (not copied: it must outlive the gguf_file).
 * Used by tests to feed truncated and corrupted images. */
int gguf_open_memory(gguf_file **out, const void *data, size_t size,
                     char *err, size_t errlen);

/* Unmap and free; accepts NULL. */
void gguf_close(gguf_file *f);

uint32_t gguf_version(const gguf_file *f);
uint64_t gguf_alignment(const gguf_file *f);
uint64_t gguf_file_size(const gguf_file *f);
uint64_t gguf_data_offset(const gguf_file *f); /* start of the data section */

size_t gguf_kv_count(const gguf_file *f);
const gguf_kv *gguf_kv_at(const gguf_file *f, size_t i);
/* The value stored under `key`, or NULL. */
const gguf_value *gguf_find(const gguf_file *f, const char *key);

size_t gguf_tensor_count(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, size_t i);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* ---- Typed look-ups ----------------------------------------------------
 * Each returns true and fills *out when `key` exists with a compatible type
 * (any integer type whose value fits, for the integer getters; FLOAT32 or
 * FLOAT64 for gguf_get_f32), false otherwise. */
bool gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
bool gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out);
bool gguf_get_f32(const gguf_file *f, const char *key, float *out);
bool gguf_get_bool(const gguf_file *f, const char *key, bool *out);
bool gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
/* An array under `key`, whatever its element type (check ->type). */
const gguf_array *gguf_get_arr(const gguf_file *f, const char *key);

/* Compare a gguf_str with a C string. */
bool gguf_str_eq(gguf_str s, const char *c);

/* ---- Array element accessors (index must be < arr->n; the caller checks
 * arr->type).  Integer accessors accept any integer element type. */
uint64_t gguf_arr_u64(const gguf_array *a, uint64_t i);
int64_t gguf_arr_i64(const gguf_array *a, uint64_t i);
float gguf_arr_f32(const gguf_array *a, uint64_t i); /* FLOAT32/FLOAT64 */
gguf_str gguf_arr_str(const gguf_array *a, uint64_t i);

/* Limits applied while parsing (exceeding one is GGUF_EBAD). */
#define GGUF_MAX_KV 65536u
#define GGUF_MAX_TENSORS 1048576u
#define GGUF_MAX_STRING (1u << 24)      /* 16 MiB: chat templates are long */
#define GGUF_MAX_ARRAY (1u << 24)       /* elements: vocabularies ~ 256k    */
#define GGUF_MAX_NESTING 8
#define GGUF_MAX_ALIGNMENT 65536u

#endif
