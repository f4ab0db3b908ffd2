/*
 * train_ops.h — the trainer's building blocks (train_ops.c), for train.c's
 * forward and backward passes: exponentials, matrix products (BLAS or the
 * naive reference), RMSNorm, RoPE, SwiGLU and blocked attention, each split
 * across the model's pool.  Internal to train/.
 */
#ifndef FRONTDESK_TRAIN_OPS_H
#define FRONTDESK_TRAIN_OPS_H

#include "train/train_internal.h"

#include <stdbool.h>
#include <stddef.h>

#define ATT_BQ 64 /* query rows per attention block */

typedef struct {
    train_model *m;
    int N;
    const float *gu, *dact;
    float *act, *dgu;
} swiglu_job;

typedef struct {
    train_model *m;
    int B, T, layer;
} att_job;

void tr_exp_inplace(const train_model *m, float *x, size_t n);
/* C (M, N) = alpha · op(A) · op(B) + beta · C, row-major, C's rows split
 * across the pool (beta 0: C is not read). */
void tr_gemm_par(train_model *m, bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);
void tr_rmsnorm_fwd(train_model *m, int N, const float *x, const float *w, float *y, float *rstd);
void tr_rmsnorm_bwd(train_model *m, int N, const float *x, const float *rstd, const float *w, const float *dy,
                    float *dx, float *dw);
void tr_rope_apply(train_model *m, int N, int T, float *qkv, bool inverse);
void tr_swiglu_fwd_part(void *arg, int i, int n);
void tr_swiglu_bwd_part(void *arg, int i, int n);
void tr_att_fwd_part(void *arg, int ti, int tn);
void tr_att_bwd_part(void *arg, int ti, int tn);

#endif
