/*
 * quant.h — ggml's weight formats: block layouts, half-precision
 * conversion, reference dequantizers and quantizers.
 *
 * A tensor row of n elements is stored as n / QK consecutive blocks; each
 * block holds QK elements as small integers plus fp16 (or f32) scales.
 * The layouts below are byte-for-byte those of ggml (ggml-common.h), so a
 * row read from a GGUF file can be cast to an array of blocks.  All
 * multi-byte fields are little-endian; the structs assume a little-endian
 * host with 2-byte alignment of uint16_t (4-byte for block_q8_K), which
 * GGUF's 32-byte tensor alignment guarantees.
 *
 *   type   QK   bytes  value of element i
 *   F32     1     4    IEEE binary32
 *   F16     1     2    IEEE binary16
 *   BF16    1     2    upper 16 bits of a binary32
 *   Q4_0   32    18    d * (q - 8)           q: 4 bits
 *   Q4_1   32    20    d * q + m             q: 4 bits
 *   Q5_0   32    22    d * (q - 16)          q: 5 bits (4 in qs, 1 in qh)
 *   Q5_1   32    24    d * q + m             q: 5 bits
 *   Q8_0   32    34    d * q                 q: int8
 *   Q8_1   32    36    d * q                 (s = d * sum(q), for dots)
 *   Q2_K  256    84    d*sc*q - dmin*m       16 groups of 16, 4-bit sc/m
 *   Q3_K  256   110    d * (sc - 32) * q     16 groups of 16, 6-bit sc, q in [-4,3]
 *   Q4_K  256   144    d*sc*q - dmin*m       8 groups of 32, 6-bit sc/m
 *   Q5_K  256   176    d*sc*q - dmin*m       8 groups of 32, 6-bit sc/m
 *   Q6_K  256   210    d * sc * (q - 32)     16 groups of 16, int8 sc
 *   Q8_K  256   292    d * q                 f32 d; bsums for dots
 *
 * Quantizers reproduce ggml's reference quantizers (quantize_row_*_ref,
 * i.e. what llama-quantize does without an importance matrix) bit for bit
 * on ordinary inputs; where they deliberately differ the function comment
 * says so.
 *
 * What this module does not do: dot products and matrix-vector products
 * (kernels.h), or reading files (gguf.h).  Nothing here allocates.
 */
#ifndef FRONTDESK_QUANT_H
#define FRONTDESK_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/gguf.h"

/* ---- Status codes ---------------------------------------------------- */

enum {
    QUANT_OK = 0,
    QUANT_ETYPE = -1, /* the type has no such operation (or is unknown)  */
    QUANT_ESIZE = -2, /* n is not a multiple of the type's block size    */
};

/* "ok", "unsupported type", ... for a QUANT_* status. */
const char *quant_strerror(int status);

/* ---- Block layouts (ggml's) ------------------------------------------ */

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256
#define K_SCALE_SIZE 12

/* Element j (0..15) is qs[j] & 15, element j+16 is qs[j] >> 4. */
typedef struct {
    uint16_t d; /* fp16 */
    uint8_t qs[QK4_0 / 2];
} block_q4_0;

typedef struct {
    uint16_t d, m; /* fp16 scale and minimum */
    uint8_t qs[QK4_1 / 2];
} block_q4_1;

/* Nibbles as Q4_0; bit e of the little-endian u32 qh is element e's 5th bit. */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
} block_q5_0;

typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
} block_q5_1;

typedef struct {
    uint16_t d;
    int8_t qs[QK8_0];
} block_q8_0;

typedef struct {
    uint16_t d; /* fp16 */
    uint16_t s; /* fp16 of d * sum(qs), with the unrounded d */
    int8_t qs[QK8_1];
} block_q8_1;

/* Element e: byte qs[32*(e/128) + e%32], bits 2*((e%128)/32); its group is
 * e/16, with scale scales[g] & 15 and min scales[g] >> 4. */
typedef struct {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d, dmin;
} block_q2_K;

/* Low two bits as Q2_K; hmask[e%32] bit (e/32) set means q, clear means
 * q - 4.  16 6-bit scales: low nibbles in scales[0..7] (groups 0..7 low
 * nibble, 8..15 high nibble), top 2 bits of group g in scales[8 + g%4]
 * at bit 2*(g/4); the stored value is biased by 32. */
typedef struct {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[K_SCALE_SIZE];
    uint16_t d;
} block_q3_K;

/* 8 groups of 32.  Element e: qs[32*(e/64) + e%32], low nibble if
 * (e%64) < 32 else high.  Scales/mins are 6-bit, packed in 12 bytes
 * (see quant_unpack_k4_scales). */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
} block_q4_K;

/* As Q4_K plus a 5th bit: qh[e%32] bit (e/32). */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;

/* 16 groups of 16 with int8 scales.  Element e = 128*h + 32*k + l
 * (k 0..3, l 0..31): low 4 bits from ql[64*h + l + 32*(k&1)] (low nibble
 * for k < 2, high for k >= 2), high 2 bits from qh[32*h + l] >> 2*k. */
typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
} block_q6_K;

/* Used for activations in K-type dot products. */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16]; /* sum of qs over each group of 16 */
} block_q8_K;

/* Unpack Q4_K/Q5_K's 12 bytes into 8 scales and 8 mins (each 0..63):
 * groups 0..3 take bytes 0..3 (scale) and 4..7 (min), low 6 bits; groups
 * 4..7 take a nibble of bytes 8..11 and the top 2 bits of bytes 0..7. */
void quant_unpack_k4_scales(const uint8_t packed[K_SCALE_SIZE],
                            uint8_t scales[8], uint8_t mins[8]);
/* Q3_K's 16 signed scales (stored value - 32, so -32..31). */
void quant_unpack_q3k_scales(const uint8_t packed[K_SCALE_SIZE],
                             int8_t scales[16]);

/* ---- Half precision -------------------------------------------------- */

/* IEEE binary16 <-> binary32, bit for bit as the F16C instructions
 * (vcvtph2ps, vcvtps2ph with round-to-nearest-even): to-half rounds to
 * nearest even, overflows to infinity, keeps subnormals; NaNs stay NaN
 * both ways, made quiet, sign and top payload bits kept. */
float quant_f16_to_f32(uint16_t h);
uint16_t quant_f32_to_f16(float f);

/* bfloat16 <-> binary32.  To-bf16 rounds to nearest even and keeps
 * subnormals; NaNs become quiet (ggml's ggml_compute_fp32_to_bf16). */
float quant_bf16_to_f32(uint16_t h);
uint16_t quant_f32_to_bf16(float f);

/* ---- Rows ------------------------------------------------------------- */

/* Bytes of a row of n elements of `type`; 0 when the type is unknown, n
 * is not a multiple of its block size, or the size would overflow. */
size_t quant_row_bytes(ggml_type type, size_t n);

/* Whether quant_dequantize_row / quant_quantize_row handle `type`. */
bool quant_can_dequantize(ggml_type type);
bool quant_can_quantize(ggml_type type);

/* dst[0..n) = the values of the row src (n a multiple of the block size).
 * Every type in gguf.h's list.  Returns QUANT_OK, QUANT_ETYPE or
 * QUANT_ESIZE (nothing written then). */
int quant_dequantize_row(ggml_type type, const void *src, float *dst, size_t n);

/* Quantize src[0..n) into quant_row_bytes(type, n) bytes at dst: every
 * type, by ggml's quantize_row_*_ref (no importance matrix).  Inputs are
 * expected finite.  Same statuses as above.
 *
 * Bit-exact with llama-quantize's output for F16, BF16, Q8_0, Q4_0, Q4_1,
 * Q5_0, Q5_1, Q4_K, Q5_K, Q6_K (checked against ../shared/ref files);
 * Q2_K and Q3_K follow the same ggml code but have no reference file.
 * Deliberate differences: Q5_1 clamps quants at 31 (ggml does not, which
 * only matters if rounding pushed one past 31); Q8_K zeroes the bsums of
 * an all-zero block (ggml leaves them unwritten).  Slow for K types (a
 * scale search per group: ~0.1 s per 4M elements). */
int quant_quantize_row(ggml_type type, const float *src, void *dst, size_t n);

#endif
