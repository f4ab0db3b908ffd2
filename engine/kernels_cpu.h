/*
 * kernels_cpu.h — private to the kernels: what the CPU runs (kernels_cpu.c).
 */
#ifndef FRONTDESK_KERNELS_CPU_H
#define FRONTDESK_KERNELS_CPU_H

#include "engine/kernels.h"

#include <stdbool.h>

typedef struct {
    bool avx2;    /* AVX2 + FMA + F16C, YMM state saved: the avx2 path */
    bool avx512;  /* ... and AVX-512 F, VL, BW, opmask/ZMM state saved: the avx512 path */
    bool vnni;    /* ... and AVX-512 VNNI: faster Q8_0/Q4_0 dots on that path */
    bool avxvnni; /* AVX2 + AVX-VNNI: the avxvnni path */
    bool bf16;    /* AVX-512 BF16 (vdpbf16ps): packed BF16 products on the avx512 path */
} kern_cpu;

/* The features, read once per call (all false off x86-64). */
kern_cpu kern_cpu_detect(void);

#endif
