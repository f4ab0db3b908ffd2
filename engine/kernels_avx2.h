/*
 * kernels_avx2.h — internal to kernels.c: the AVX2/FMA/F16C dot products
 * and fp16 conversions that its dispatch calls on KERN_PATH_AVX2.
 *
 * Each dot product has kernels.c's shape  float dot(weight row, activation,
 * cols)  and the same per-block arithmetic as its portable twin there; the
 * activation types are those of kern_activation_type.  The build uses no
 * -march flag: these carry a target attribute, so calling one is only
 * valid after kern_init() found AVX2, FMA and F16C.  On non-x86 builds
 * nothing is declared (KERN_X86 is 0).
 */
#ifndef FRONTDESK_KERNELS_AVX2_H
#define FRONTDESK_KERNELS_AVX2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#define KERN_X86 1
#define KERN_AVX2_TARGET __attribute__((target("avx2,fma,f16c")))

/* Float weights · F32 activation. */
KERN_AVX2_TARGET float kern_dot_f32_avx2(const void *w, const void *xq, size_t n);
KERN_AVX2_TARGET float kern_dot_f16_avx2(const void *w, const void *xq, size_t n);
KERN_AVX2_TARGET float kern_dot_bf16_avx2(const void *w, const void *xq, size_t n);
/* 32-blocks · Q8_0 activation (Q4_1, Q5_1: · Q8_1). */
KERN_AVX2_TARGET float kern_dot_q4_0_avx2(const void *w, const void *xq, size_t n);
KERN_AVX2_TARGET float kern_dot_q4_1_avx2(const void *w, const void *xq, size_t n);
KERN_AVX2_TARGET float kern_dot_q5_0_avx2(const void *w, const void *xq, size_t n);
KERN_AVX2_TARGET float kern_dot_q5_1_avx2(const void *w, const void *xq, size_t n);
KERN_AVX2_TARGET float kern_dot_q8_0_avx2(const void *w, const void *xq, size_t n);
/* Q8_0 and Q4_0 with AVX-512 VNNI (256-bit vectors), bit for bit the
 * AVX2 kernels' results: only when the CPU has avx512vnni, avx512vl and
 * avx512bw besides AVX2 (kernels.c checks). */
__attribute__((target("avx2,fma,f16c,avx512vl,avx512vnni,avx512bw"))) float
kern_dot_q8_0_vnni(const void *w, const void *xq, size_t n);
__attribute__((target("avx2,fma,f16c,avx512vl,avx512vnni,avx512bw"))) float
kern_dot_q4_0_vnni(const void *w, const void *xq, size_t n);
/* The same with AVX-VNNI (VEX encoding, no AVX-512): kernels.c checks. */
__attribute__((target("avx2,fma,f16c,avxvnni"))) float kern_dot_q8_0_avxvnni(const void *w, const void *xq,
                                                                             size_t n);
__attribute__((target("avx2,fma,f16c,avxvnni"))) float kern_dot_q4_0_avxvnni(const void *w, const void *xq,
                                                                             size_t n);
/* Packed Q8_0 (kernels_packed.c): groups [g0, g1) of eight rows, n tokens,
 * with the instructions of one of these (bit for bit the same results). */
typedef enum { KERN_PACKED_AVX2, KERN_PACKED_AVXVNNI, KERN_PACKED_VNNI512 } kern_packed_isa;
/* Packed F16: groups [g0, g1) of sixteen rows, half-precision activations. */
void kern_packed_f16_x86(bool avx512, const void *P, size_t rows, size_t cols, const void *xq, size_t xq_stride,
                         size_t n, size_t g0, size_t g1, float *y, size_t ldy);
/* The same with the activations as floats laid out once per product
 * (n rows of cols, kern_packed_tile_f16_x86's), for every thread's rows. */
void kern_packed_tile_f16_x86(const void *xq, size_t xq_stride, size_t n, size_t cols, float *xt);
void kern_packed_matmul_tiled_f16_x86(bool avx512, const void *P, size_t rows, size_t cols, const float *xt,
                                      size_t n, size_t g0, size_t g1, float *y, size_t ldy);
void kern_packed_matmul_x86(kern_packed_isa isa, const void *P, size_t rows, size_t cols, const void *xq,
                            size_t xq_stride, size_t n, size_t g0, size_t g1, float *y, size_t ldy);
/* Packed Q8_0 against tiled activations (kernels_packed.c; one layout for
 * every isa): the layout's size, laying it out, and groups [g0, g1) with
 * the instructions of isa (the results of kern_packed_matmul_x86's). */
size_t kern_packed_tile_bytes_x86(size_t cols, size_t n);
void kern_packed_tile_x86(const void *xq, size_t xq_stride, size_t n, size_t cols, void *out);
void kern_packed_matmul_tiled_x86(kern_packed_isa isa, const void *P, size_t rows, size_t cols, const void *xt,
                                  size_t n, size_t g0, size_t g1, float *y, size_t ldy);
/* 256-blocks · Q8_K activation. */
KERN_AVX2_TARGET float kern_dot_q4_K_avx2(const void *w, const void *xq, size_t n);
KERN_AVX2_TARGET float kern_dot_q5_K_avx2(const void *w, const void *xq, size_t n);
KERN_AVX2_TARGET float kern_dot_q6_K_avx2(const void *w, const void *xq, size_t n);

/* n halves <-> floats with F16C (round to nearest even). */
KERN_AVX2_TARGET void kern_f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n);
KERN_AVX2_TARGET void kern_f32_to_f16_avx2(const float *src, uint16_t *dst, size_t n);

/* n weights of a Q8_0 / Q4_0 row -> floats (the prefill's conversion). */
KERN_AVX2_TARGET void kern_dequant_q8_0_avx2(const void *w, float *dst, size_t n);
KERN_AVX2_TARGET void kern_dequant_q4_0_avx2(const void *w, float *dst, size_t n);

/* x[0..n) -> Q8_0 blocks (n a multiple of 32), byte for byte what
 * quant_quantize_row writes: amax/127 as the scale, each value rounded
 * half away from zero.  A block holding inf or NaN goes through the
 * reference code. */
KERN_AVX2_TARGET void kern_quantize_q8_0_avx2(const float *x, void *dst, size_t n);

/* e^x for x[0..n) eight at a time; returns how many it did (the rest,
 * fewer than eight, are the caller's). */
KERN_AVX2_TARGET size_t kern_exp_avx2(float *x, size_t n);
/* kern_swiglu, all n (exp as kern_exp_avx2's, a short tail padded). */
KERN_AVX2_TARGET void kern_swiglu_avx2(float *gate, const float *up, size_t n);

/* kern_attend_f16 for hd a multiple of 8 up to KERN_MAX_HEAD_DIM. */
KERN_AVX2_TARGET void kern_attend_f16_avx2(const float *q, size_t n_q, size_t q_stride, const uint16_t *k,
                                           const uint16_t *v, size_t n_keys, size_t stride, size_t hd,
                                           float scale, float *out, size_t out_stride);
/* kern_attend_f16 for hd = 64 with AVX-512VL (32 vector registers): the
 * same results as kern_attend_f16_avx2, queries three at a time. */
__attribute__((target("avx2,fma,f16c,avx512f,avx512vl"))) void
kern_attend_f16_hd64_avx512(const float *q, size_t n_q, size_t q_stride, const uint16_t *k, const uint16_t *v,
                            size_t n_keys, size_t stride, float scale, float *out, size_t out_stride);
#else
#define KERN_X86 0
#endif

#endif
