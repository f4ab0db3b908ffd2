/*
 * kernels_packed_bf16.h — BF16 weights repacked sixteen rows at a time
 * (kernels_packed_bf16.c), behind kernels.h's kern_pack* functions.
 */
#ifndef FRONTDESK_KERNELS_PACKED_BF16_H
#define FRONTDESK_KERNELS_PACKED_BF16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/kernels.h"
#include "engine/kernels_avx2.h"

size_t kern_packed_bf16_bytes(size_t rows, size_t cols); /* 0 for odd cols */
void kern_pack_bf16(const uint16_t *W, size_t rows, size_t cols, uint16_t *out);
void kern_packed_bf16_row_f32(const uint16_t *P, size_t cols, size_t row, float *out);

/* Whether the CPU (and OS) run AVX-512 BF16's vdpbf16ps (kernels.c). */
bool kern_cpu_has_bf16(void);

#if KERN_X86
/* The instructions of the packed BF16 product; all three give the same
 * results bit for bit (see kernels_packed_bf16.c). */
typedef enum { KERN_BF16_AVX2, KERN_BF16_AVX512F, KERN_BF16_DPBF16 } kern_bf16_isa;
/* y[t·ldy + row] for rows of groups [g0, g1) of sixteen, n tokens whose
 * BF16 activations are xq + t·xq_stride bytes. */
void kern_packed_bf16_x86(kern_bf16_isa isa, const void *P, size_t rows, size_t cols, const void *xq,
                          size_t xq_stride, size_t n, size_t g0, size_t g1, float *y, size_t ldy);
#endif

#endif
