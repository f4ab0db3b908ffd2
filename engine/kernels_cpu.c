/*
 * kernels_cpu.c — which kernel paths this CPU runs, and which one to use:
 * CPU features from cpuid (each counted only when xgetbv says the OS saves
 * the registers it needs), the path names, and the choice a user's
 * FRONTDESK_SIMD / FRONTDESK_NO_SIMD makes among the runnable paths.
 */
#include "engine/kernels_cpu.h"
#include "engine/kernels_avx2.h" /* KERN_X86 */

#include "util/util.h"

#if KERN_X86
#include <cpuid.h>
#endif
#include <stdio.h>
#include <string.h>

static const char *const path_names[KERN_PATH_COUNT] = {
    [KERN_PATH_PORTABLE] = "portable", [KERN_PATH_AVX2] = "avx2", [KERN_PATH_AVXVNNI] = "avxvnni",
    [KERN_PATH_AVX512] = "avx512"};

const char *kern_path_name(kern_path p)
{
    return (unsigned)p < KERN_PATH_COUNT ? path_names[p] : "?";
}

bool kern_path_parse(const char *name, kern_path *out)
{
    for (int i = 0; i < KERN_PATH_COUNT; i++)
        if (!strcmp(name, path_names[i])) {
            *out = (kern_path)i;
            return true;
        }
    return false;
}

bool kern_choose_path(const char *simd, const char *no_simd, unsigned runnable, kern_path *out, char *err,
                      size_t errlen)
{
    kern_path best = KERN_PATH_PORTABLE;
    for (int i = 0; i < KERN_PATH_COUNT; i++)
        if (runnable & 1u << i)
            best = (kern_path)i;
    if (!simd || !*simd) {
        *out = no_simd && *no_simd && strcmp(no_simd, "0") != 0 ? KERN_PATH_PORTABLE : best;
        return true;
    }
    kern_path p;
    bool known = kern_path_parse(simd, &p);
    if (known && (runnable & 1u << p)) {
        *out = p;
        return true;
    }
    char avail[64] = "";
    for (int i = 0; i < KERN_PATH_COUNT; i++)
        if (runnable & 1u << i)
            snprintf(avail + strlen(avail), sizeof avail - strlen(avail), "%s%s", *avail ? ", " : "",
                     path_names[i]);
    util_errf(err, errlen, "FRONTDESK_SIMD=%.32s: %s; this CPU runs %s", simd,
              known ? "this CPU cannot run that kernel path" : "no such kernel path", avail);
    *out = best;
    return false;
}

#if KERN_X86
/* The CPU features of the SIMD paths, from cpuid, each counted only when
 * the OS also saves the registers it uses (XCR0, read by xgetbv): the YMM
 * halves for AVX2, and besides the opmask and ZMM state for AVX-512.
 * (gcc's __builtin_cpu_supports does both, but clang 14 knows no "f16c"
 * or "avxvnni" there.) */
static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

kern_cpu kern_cpu_detect(void)
{
    kern_cpu k = {0};
    unsigned a, b, c, d;
    if (!__get_cpuid_count(1, 0, &a, &b, &c, &d))
        return k;
    bool fma = c & 1u << 12, osxsave = c & 1u << 27, avx = c & 1u << 28, f16c = c & 1u << 29;
    if (!osxsave || !avx)
        return k;
    uint64_t xcr0 = xgetbv0();
    bool ymm = (xcr0 & 0x6) == 0x6;   /* SSE and AVX state */
    bool zmm = (xcr0 & 0xe6) == 0xe6; /* ... and opmask, ZMM0-15 high, ZMM16-31 */
    if (!ymm || !__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return k;
    bool avx2 = b & 1u << 5, avx512f = b & 1u << 16, avx512bw = b & 1u << 30, avx512vl = b & 1u << 31;
    bool avx512vnni = c & 1u << 11;
    unsigned subleaves = a; /* leaf 7's highest subleaf */
    bool leaf71 = subleaves >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d);
    bool avxvnni = leaf71 && (a & 1u << 4), avx512bf16 = leaf71 && (a & 1u << 5);
    k.avx2 = avx2 && fma && f16c;
    k.avx512 = k.avx2 && zmm && avx512f && avx512vl && avx512bw;
    k.vnni = k.avx512 && avx512vnni;
    k.avxvnni = k.avx2 && avxvnni;
    k.bf16 = k.avx512 && avx512bf16;
    return k;
}
#else
kern_cpu kern_cpu_detect(void)
{
    return (kern_cpu){0};
}
#endif
