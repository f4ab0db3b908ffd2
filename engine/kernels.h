/*
 * kernels.h — matrix × vector products reading weights in their stored
 * type, for decoding one token at a time.
 *
 * y = W·x for W stored row-major (rows × cols, each row quant_row_bytes
 * long).  As in ggml, the activation x is converted once per product into
 * the type the weights' dot product wants:
 *
 *   weights                     activation (kern_activation_type)
 *   Q4_0, Q5_0, Q8_0, Q8_1      Q8_0   integer dot per 32-block
 *   Q4_1, Q5_1                  Q8_1   (its s = d*sum(q) carries the min)
 *   Q2_K .. Q6_K, Q8_K          Q8_K   integer dot per 256-block
 *   F16                         F16    float dot of two half rows
 *   BF16                        BF16   float dot (rounded to nearest even,
 *                                      as llama.cpp rounds it)
 *   F32                         F32    float dot
 *
 * so quantized products differ from the exact one by the activation's
 * rounding (at most about 1/254 of each block's largest |x| per element;
 * for F16, half an ulp of half precision) — this is what llama.cpp
 * computes too.  F16 takes a half-precision x for speed as much as for
 * fidelity: a float x of a 4864-wide row (19 KiB) is pushed out of L1 by
 * the weights streaming past it, and reading it back from L2 halves the
 * rate at which the weights stream from memory; a half x (9.5 KiB) stays.
 * Like llama.cpp's, it turns an |x| above 65504 into infinity.  Against
 * the exact dot of the dequantized weights with the dequantized
 * activation, both paths agree to 4e-5 of sum |w_i x_i| (plus, for
 * Q4_1/Q5_1, the fp16 rounding of Q8_1's s); tests/test_quant.c checks
 * this for every type.
 *
 * Two implementations of every dot product sit side by side: a portable C
 * one (block by block, integer sums) and AVX2/FMA/F16C ones for F32, F16,
 * BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K (the others use the
 * portable code on either path).  Three kernel paths:
 *
 *   portable  the C code alone
 *   avx2      the AVX2/FMA/F16C kernels, no AVX-512 or VNNI instruction
 *   avxvnni   those, with AVX-VNNI's vpdpbusd for Q8_0 and Q4_0 (the VEX
 *             encoding: CPUs with it and without AVX-512, and newer ones)
 *   avx512    those, with AVX-512 kernels where we have them (VNNI Q8_0
 *             and Q4_0 dots, attention of 64-wide heads in 32 registers)
 *
 * The integer sums are exact, so every SIMD path gives the avx2 results bit
 * for bit.  kern_init() picks the best path the CPU runs (avx512, then
 * avxvnni, then avx2), or the one the environment names:
 * FRONTDESK_SIMD=portable|avx2|avxvnni|avx512 (FRONTDESK_NO_SIMD=1 is
 * portable).  A name it does not know or a path the CPU cannot run is not
 * taken; kern_env_error() says so, for the program to refuse it.  A naive
 * reference (dequantize, then dot in double against the unquantized x) is
 * kept for tests and benchmarks.
 *
 * Nothing here allocates; the caller sizes the activation buffer with
 * kern_activation_bytes().  Weight pointers must be 2-byte aligned (GGUF
 * data is 32-byte aligned); activation buffers 4-byte aligned.
 */
#ifndef FRONTDESK_KERNELS_H
#define FRONTDESK_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/gguf.h"

/* ---- Dispatch ----------------------------------------------------------- */

typedef enum {
    KERN_PATH_PORTABLE = 0,
    KERN_PATH_AVX2 = 1,    /* AVX2 + FMA + F16C */
    KERN_PATH_AVXVNNI = 2, /* ... + AVX-VNNI (VEX-encoded vpdpbusd, 16 registers) */
    KERN_PATH_AVX512 = 3,  /* ... + AVX-512 F, VL, BW (VNNI used where present) */
    KERN_PATH_COUNT
} kern_path;

/* Detect CPU features and choose the path, once (thread-safe; the other
 * functions call it themselves if needed). */
void kern_init(void);
/* NULL, or one line saying why the path FRONTDESK_SIMD names was not
 * taken (unknown, or not runnable here) and which paths this CPU runs. */
const char *kern_env_error(void);
kern_path kern_get_path(void);
bool kern_path_available(kern_path p);
/* For tests and benchmarks: switch paths.  Returns false (and changes
 * nothing) if the CPU lacks it.  Not safe while products are running. */
bool kern_set_path(kern_path p);
const char *kern_path_name(kern_path p); /* "portable", "avx2", "avxvnni", "avx512" */
/* What kern_init decides, for a CPU that runs the paths whose bits
 * (1 << path) are set in `runnable`: the path FRONTDESK_SIMD (`simd`)
 * names, else portable where FRONTDESK_NO_SIMD (`no_simd`) is set and not
 * "0", else the best runnable one.  A name unknown or not runnable gives
 * the best path, false and one line in err naming the runnable paths. */
bool kern_choose_path(const char *simd, const char *no_simd, unsigned runnable, kern_path *out, char *err,
                      size_t errlen);
/* The path of that name; false for an unknown name. */
bool kern_path_parse(const char *name, kern_path *out);

/* ---- Matrix × vector ------------------------------------------------------ */

/* Whether kern_* can multiply weights of `type` (every type in gguf.h). */
bool kern_type_supported(ggml_type type);
/* The activation type for weights of `type` (table above); F32 for float
 * types and for unsupported ones. */
ggml_type kern_activation_type(ggml_type wtype);
/* Bytes kern_quantize_activation writes for `cols` columns; 0 if cols is
 * not a multiple of wtype's block size or wtype is unsupported. */
size_t kern_activation_bytes(ggml_type wtype, size_t cols);

/* Convert x[0..cols) into the activation for weights of `wtype`, into xq
 * (kern_activation_bytes(wtype, cols) bytes).  Returns false on a bad
 * type/size (nothing written). */
bool kern_quantize_activation(ggml_type wtype, const float *x, size_t cols,
                              void *xq);

/* out[0..cols) = the values of x that the dot product for weights of
 * `wtype` multiplies: x converted as kern_quantize_activation converts it
 * (into xq, kern_activation_bytes(wtype, cols) bytes) and back to float;
 * x itself for float weights.  A product of the weights with these values
 * in single precision differs from the kernels' only in the order of
 * summation.  Returns false on a bad type/size (nothing written). */
bool kern_activation_values(ggml_type wtype, const float *x, size_t cols, void *xq, float *out);

/* y[r] = W[r]·x for r in [r0, r1), with xq from kern_quantize_activation.
 * W points at row 0; y is indexed by absolute row, so threads can split
 * one product by row ranges sharing W, xq and y.  cols must be a multiple
 * of the block size (checked by kern_activation_bytes beforehand). */
void kern_matvec_rows(ggml_type wtype, const void *W, size_t cols,
                      const void *xq, size_t r0, size_t r1, float *y);

/* The same products for n activations at once: y[t*ldy + r] = W[r]·x_t
 * for t < n and r in [r0, r1), x_t at xq + t*xq_stride bytes.  Each is
 * the very dot product kern_matvec_rows computes for x_t alone, so a
 * token's results do not depend on the others beside it; a weight row is
 * read once for all n. */
void kern_matmul_rows(ggml_type wtype, const void *W, size_t cols, const void *xq, size_t xq_stride, size_t n,
                      size_t r0, size_t r1, float *y, size_t ldy);

/* y[0..rows) = W·x in one call.  The activation is converted into 32 KiB
 * of stack in column chunks (no allocation; rows wider than ~28k columns
 * are summed chunk by chunk).  y must not overlap x.  Returns false on an
 * unsupported type or bad cols. */
bool kern_matvec(ggml_type wtype, const void *W, size_t rows, size_t cols,
                 const float *x, float *y);

/* Reference: each row dequantized (quant_dequantize_row, a block at a
 * time) and dotted with the unquantized x in double. */
bool kern_matvec_naive(ggml_type wtype, const void *W, size_t rows,
                       size_t cols, const float *x, float *y);

/* ---- Repacked weights (kernels_packed.c) ------------------------------------ */

/* Weights repacked with rows interleaved, on the SIMD paths: Q8_0, and
 * Q4_0, Q5_0, Q4_1, Q5_1 and Q4_K (kernels_packed4.c, still 4 or 5 bits a weight,
 * about the file's bytes), Q6_K and Q5_K (kernels_packedk.c, 6 or 5 bits,
 * about the file's bytes), eight rows at a time (integer products, lane
 * r = row r), F16 sixteen rows at a time (F16C into fused multiply-adds),
 * BF16 sixteen rows at a time (kernels_packed_bf16.c: AVX-512 BF16's
 * vdpbf16ps where the CPU has it, else FMAs that give its results bit for
 * bit).
 * One pass over the weights feeds a vector of outputs per instruction and
 * several tokens per load.  A row's arithmetic is fixed — quantized: the
 * exact integer sum of every block (Q4_K: Σ sc·(q·x) and Σ m·(Σ x);
 * Q5_K the same; Q6_K: Σ sc·(q·x − 32·Σ x)) scaled
 * into one float accumulator, blocks in order; F16: the even and
 * the odd columns' products in two accumulators, added at the end — so a
 * token's result is the same for any number of tokens, any row split (at
 * multiples of KERN_PACK_ROWS) and every SIMD path; within the tolerance
 * of the unpacked kernels, not bit for bit theirs.  The portable path
 * packs nothing. */
#define KERN_PACK_ROWS 16

/* Whether weights of `type` are packed on the current path. */
bool kern_packs(ggml_type type);
/* Bytes of the packed form (0: not a packable type or shape). */
size_t kern_packed_bytes(ggml_type type, size_t rows, size_t cols);
/* W (rows × cols, stored rows) into out (kern_packed_bytes, any alignment). */
void kern_pack(ggml_type type, const void *W, size_t rows, size_t cols, void *out);
/* Row `row` of packed weights as floats (the embedding lookup of a tied
 * output matrix). */
void kern_packed_row_f32(ggml_type type, const void *P, size_t cols, size_t row, float *out);
/* y[t·ldy + r] = W[r]·x_t for t < n and r in [r0, r1), x_t at xq + t·xq_stride
 * bytes as kern_quantize_activation converts it; r0 a multiple of
 * KERN_PACK_ROWS, r1 one too or rows.  Only where kern_packs(type). */
void kern_packed_matmul(ggml_type type, const void *P, size_t rows, size_t cols, const void *xq,
                        size_t xq_stride, size_t n, size_t r0, size_t r1, float *y, size_t ldy);

/* Several tokens through packed weights with their activations laid out
 * once per product, for every thread's rows: Q8_0 wherever it is packed
 * (kernels_packed.c: sixteen rows per vector on the avx512 path with
 * VNNI, eight on avx2 and avxvnni); F16 wherever it
 * is packed (the activations converted to float once).  The results are
 * kern_packed_matmul's bit for bit.  kern_packed_tile_bytes is 0 where
 * this does not apply (then use kern_packed_matmul); else the bytes that
 * kern_packed_tile writes for n tokens (any alignment).  xq as for
 * kern_packed_matmul; r0 and r1 likewise. */
size_t kern_packed_tile_bytes(ggml_type type, size_t cols, size_t n);
void kern_packed_tile(ggml_type type, const void *xq, size_t xq_stride, size_t n, size_t cols, void *xt);
void kern_packed_matmul_tiled(ggml_type type, const void *P, size_t rows, size_t cols, const void *xt, size_t n,
                              size_t r0, size_t r1, float *y, size_t ldy);

/* ---- Conversion for the prefill path --------------------------------------- */

/* dst[(r - r0) * cols + c] = W[r][c] as f32, r in [r0, r1): weights
 * converted in tiles for a BLAS sgemm.  F16 uses F16C on the AVX2 path.
 * Returns false on an unsupported type or bad cols. */
bool kern_dequantize_rows_f32(ggml_type wtype, const void *W, size_t cols,
                              size_t r0, size_t r1, float *dst);

/* ---- Attention ------------------------------------------------------------- */

#define KERN_MAX_HEAD_DIM 512

/* Attention of n_q queries that share one KV head (grouped-query
 * attention) over n_keys half-precision cache rows, the way llama.cpp's
 * CPU flash attention computes it for small batches: each query rounded
 * to half precision, scores q·k·scale, an online softmax whose V
 * accumulator is rounded to half precision after every step.  Query j is
 * q + j*q_stride, its result out + j*out_stride (hd floats each); row p of
 * K is k + p*stride, likewise V.  hd <= KERN_MAX_HEAD_DIM.  The AVX2 path
 * (hd a multiple of 8) sums the dot products in another order, fuses the
 * multiply-add and computes exp eight keys at a time by a polynomial, so
 * the two paths agree to rounding, not bit for bit; each query's result
 * does not depend on n_q. */
void kern_attend_f16(const float *q, size_t n_q, size_t q_stride, const uint16_t *k, const uint16_t *v,
                     size_t n_keys, size_t stride, size_t hd, float scale, float *out, size_t out_stride);

/* x[i] = e^x[i] for n floats: Cephes' expf (range reduction by ln 2, a
 * degree-6 polynomial; relative error < 2e-7), inputs clamped to
 * [-87, 88].  The AVX2 path does eight at a time with fused multiply-adds
 * and may differ from the portable one in the last bit.  For softmax and
 * SiLU in the trainer and for decode attention. */
void kern_exp(float *x, size_t n);

/* gate[i] = silu(gate[i]) · up[i] = gate[i] / (1 + e^-gate[i]) · up[i] for
 * n floats: the feed-forward layers' SwiGLU.  Portable: expf; the SIMD
 * paths: kern_exp's vector polynomial, eight at a time (20 times faster;
 * within 2e-7 of expf, relative).  Each element's result depends on its
 * two values alone, never on n or its index, so a row's activations are
 * the same whether it is computed alone, in chunks or in a batch. */
void kern_swiglu(float *gate, const float *up, size_t n);

/* Half <-> float over arrays, F16C on the AVX2 path (results identical to
 * quant_f16_to_f32 / quant_f32_to_f16). */
void kern_f16_to_f32(const uint16_t *src, float *dst, size_t n);
void kern_f32_to_f16(const float *src, uint16_t *dst, size_t n);

#endif
