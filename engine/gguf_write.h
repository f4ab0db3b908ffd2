/*
 * gguf_write.h — build a GGUF file (version 3 by default, see gguf.h for the
 * format) from metadata and tensors, and write it to a file or to memory.
 *
 * Used for test fixtures, for random-weight models of realistic shapes
 * (benchmarks) and for the trainer's output.  The layout is the one
 * llama.cpp writes: header, key/value pairs in insertion order, tensor infos
 * in insertion order, zero padding to `general.alignment` (default 32), then
 * each tensor's data, each padded to the alignment (no padding at all when
 * there are no tensors).  Re-writing what gguf.h read from a llama.cpp file
 * reproduces it byte for byte.
 *
 * Ownership:
 *   - keys, strings and array values are copied when set;
 *   - gguf_writer_add_tensor REFERENCES the caller's data: it must stay valid
 *     and unchanged until the last write (so a multi-hundred-MB model is not
 *     held twice);  gguf_writer_add_tensor_copy copies it;
 *     gguf_writer_add_tensor_fill asks a callback for the bytes chunk by chunk
 *     while writing, so a model need never be in memory at all.
 *
 * Failures: setters and add_* check their arguments against what gguf.h
 * accepts (non-empty keys, the reader's limits, known tensor types, whole
 * blocks per row, a power-of-two alignment, no duplicate tensor names) and
 * return GGUF_EBAD.  The first such failure is also remembered: every later
 * write fails with it, so a caller may check only the write.  Writes return
 * GGUF_EIO when the file cannot be written, with the path and errno text.
 *
 * What it does not do: quantize (see quant.h), check tensor contents, or
 * let two threads use one writer.  Setting a key again replaces its value in
 * place (the key keeps its position); each look-up is a linear scan, which
 * is fine for the few dozen keys and few thousand tensors of a model.
 */
#ifndef FRONTDESK_GGUF_WRITE_H
#define FRONTDESK_GGUF_WRITE_H

#include "engine/gguf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gguf_writer gguf_writer;

/* ---- Lifecycle -------------------------------------------------------- */

gguf_writer *gguf_writer_new(void); /* aborts on out-of-memory */
void gguf_writer_free(gguf_writer *w); /* accepts NULL */

/* 3 (the default) or 2; the two differ only in the version field. */
int gguf_writer_set_version(gguf_writer *w, uint32_t version);

/* The message of the most recent failure ("" if none). */
const char *gguf_writer_error(const gguf_writer *w);

/* ---- Metadata ----------------------------------------------------------
 * Each returns GGUF_OK or GGUF_EBAD (empty key, value over a limit). */

int gguf_writer_set_u8(gguf_writer *w, const char *key, uint8_t v);
int gguf_writer_set_i8(gguf_writer *w, const char *key, int8_t v);
int gguf_writer_set_u16(gguf_writer *w, const char *key, uint16_t v);
int gguf_writer_set_i16(gguf_writer *w, const char *key, int16_t v);
int gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
int gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
int gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
int gguf_writer_set_i64(gguf_writer *w, const char *key, int64_t v);
int gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
int gguf_writer_set_f64(gguf_writer *w, const char *key, double v);
int gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
int gguf_writer_set_str(gguf_writer *w, const char *key, const char *s);
/* A string of `len` bytes that may contain NULs. */
int gguf_writer_set_strn(gguf_writer *w, const char *key, const char *s, size_t len);

/* An array of n NUL-terminated strings (a vocabulary, merges). */
int gguf_writer_set_arr_str(gguf_writer *w, const char *key,
                            const char *const *strs, size_t n);
/* An array of n numbers or bools: `data` is a C array in host order of the
 * type matching `elem` (uint8_t ... double; bool for GGUF_TYPE_BOOL). */
int gguf_writer_set_arr_data(gguf_writer *w, const char *key, gguf_type elem,
                             const void *data, size_t n);
/* Any value, in the form gguf.h reads it: a value from another file (to copy
 * metadata across), or a hand-built one such as arrays of arrays.  Numeric
 * array payloads (`arr.data`) are packed little-endian, as the reader gives
 * them; bools are bytes 0 or 1. */
int gguf_writer_set_value(gguf_writer *w, const char *key, const gguf_value *v);

/* Sets general.alignment (a UINT32): a power of two up to
 * GGUF_MAX_ALIGNMENT.  general.alignment set any other way must obey the
 * same rule. */
int gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment);

/* ---- Tensors -------------------------------------------------------------
 * ne[0..n_dims) as in gguf.h (ne[0] is the row length, a whole number of
 * `type` blocks); n_dims is 1 to GGUF_MAX_DIMS; names are unique, 1 to 63
 * bytes (llama.cpp's limit).  nbytes must equal the size the shape implies. */

/* References `data` until the last write (see above). */
int gguf_writer_add_tensor(gguf_writer *w, const char *name, ggml_type type,
                           uint32_t n_dims, const uint64_t ne[],
                           const void *data, size_t nbytes);
/* Copies `data` now. */
int gguf_writer_add_tensor_copy(gguf_writer *w, const char *name, ggml_type type,
                                uint32_t n_dims, const uint64_t ne[],
                                const void *data, size_t nbytes);

/* Produces bytes [offset, offset + len) of a tensor into buf; returns 0, or
 * non-zero to abandon the write.  Chunks arrive in order, cover the tensor,
 * are whole blocks of the type and, when a row is at most 1 MiB, whole rows. */
typedef int (*gguf_tensor_fill_fn)(void *ctx, uint64_t offset, void *buf, size_t len);

/* Calls fill(ctx, ...) during each write. */
int gguf_writer_add_tensor_fill(gguf_writer *w, const char *name, ggml_type type,
                                uint32_t n_dims, const uint64_t ne[],
                                gguf_tensor_fill_fn fill, void *ctx);

/* ---- Output ------------------------------------------------------------- */

/* Size in bytes of the file a write would produce (0 after a failed set). */
uint64_t gguf_writer_size(const gguf_writer *w);

/* Write to `path` + ".tmp", fsync, and rename over `path`: `path` is either
 * untouched or complete.  On failure the temporary file is removed and err
 * names the file, the byte count reached and the errno text (e.g. "No space
 * left on device").  GGUF_EIO for I/O and fill-callback failures; the
 * remembered status after a failed set. */
int gguf_writer_write_file(gguf_writer *w, const char *path, char *err, size_t errlen);

/* Write into a new malloc'ed buffer (*buf, *len; the caller frees it).
 * On failure *buf is NULL and gguf_writer_error() says why: the remembered
 * status after a failed set, GGUF_EIO when a fill callback failed,
 * GGUF_ENOMEM when the buffer cannot be allocated. */
int gguf_writer_write_mem(gguf_writer *w, void **buf, size_t *len);

#endif
