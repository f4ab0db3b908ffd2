/*
 * kernels_packed4.h — internal to the kernels: Q4_0, Q5_0, Q4_1, Q5_1, Q4_K (kernels_packed4.c)
 * and Q6_K, Q5_K (kernels_packedk.c) weights repacked eight rows at a time, called by the
 * kern_pack* / kern_packed_* dispatch of kernels_packed.c and kernels.c.
 */
#ifndef FRONTDESK_KERNELS_PACKED4_H
#define FRONTDESK_KERNELS_PACKED4_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/gguf.h"
#include "engine/kernels_avx2.h"

/* Whether kernels_packed4.c packs weights of `type` (Q4_0, Q5_0, Q4_1, Q5_1, Q4_K;
 * Q6_K, Q5_K through kernels_packedk.c). */
bool kern_packed4_type(ggml_type type);
/* The kernels.h functions for those types. */
size_t kern_packed4_bytes(ggml_type type, size_t rows, size_t cols);
void kern_pack4(ggml_type type, const void *W, size_t rows, size_t cols, void *out);
void kern_packed4_row_f32(ggml_type type, const void *P, size_t cols, size_t row, float *out);

/* Q6_K and Q5_K (kernels_packedk.c), which the kern_packed4_* functions hand over. */
bool kern_packedk_type(ggml_type type);
size_t kern_packedk_bytes(ggml_type type, size_t rows, size_t cols);
void kern_packk(ggml_type type, const void *W, size_t rows, size_t cols, void *out);
void kern_packedk_row_f32(ggml_type type, const void *P, size_t cols, size_t row, float *out);

#if KERN_X86
/* Groups [g0, g1) of eight rows, n tokens, with the instructions of `isa`
 * (bit for bit the same results on each). */
void kern_packed4_matmul_x86(kern_packed_isa isa, ggml_type type, const void *P, size_t rows, size_t cols,
                             const void *xq, size_t xq_stride, size_t n, size_t g0, size_t g1, float *y,
                             size_t ldy);
void kern_packedk_matmul_x86(kern_packed_isa isa, ggml_type type, const void *P, size_t rows, size_t cols,
                             const void *xq, size_t xq_stride, size_t n, size_t g0, size_t g1, float *y,
                             size_t ldy);
#endif

#endif
