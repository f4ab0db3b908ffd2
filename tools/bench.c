/*
 * bench.c — engine throughput against this machine's limits, in one run.
 *
 *   bench [--runs N] MODEL.gguf...
 *   bench --limits      the machine's limits alone (peaks, bandwidth, sgemm)
 *
 * For every model, with 1 and 2 threads, N runs of: the machine's limits
 * (read bandwidth: a streaming AVX2 read of 1 GiB in 2 MiB pages; sgemm
 * GFLOP/s on a prompt-sized product, 256 × 2048 × 2048), then prefill
 * tokens/s for a 256-token prompt (logits for every position, as
 * perplexity needs them) and decode tokens/s for 64 tokens after it, the
 * model file first evicted from the page cache (see evict_from_page_cache;
 * the weights then come in 2 MiB pages, like the probe's buffer).  The
 * machine is shared and noisy, so each share is taken against the limits
 * measured seconds before and after it in the same run (the best of three
 * short probes on either side); the table prints medians over the N runs:
 *
 *   decode % = t/s ÷ (bandwidth ÷ bytes read per token), where the bytes
 *              are every weight matrix (the output one included, the
 *              embedding row excluded) plus the KV cache read at the
 *              middle of the decode;
 *   prefill % = t/s ÷ (sgemm FLOP/s ÷ FLOPs per token), FLOPs per token =
 *              2 × the elements of every matrix multiplied (output
 *              included, embedding lookup excluded);
 *   products % = one decoded token's matrix-vector products alone (every
 *              weight matrix in the forward pass's order, each with its
 *              activation conversion, each product's rows split evenly
 *              across the threads), weight bytes ÷ time ÷ bandwidth:
 *              what the dot products stream, without attention, norms
 *              and the rest of a token (the best of three, like the
 *              probes).
 *
 * Token ids are drawn at random (seeded) from the model's vocabulary; no
 * tokenizer is needed, so random-weight files without one work too.  RSS
 * is what the model and its context add to the process's resident memory
 * (weights mapped from the file, KV cache, scratch), the bench's own
 * logits buffer left out.
 */
#include "engine/forward.h"
#include "engine/kernels.h"
#include "engine/model.h"
#include "engine/pool.h"
#include "engine/quant.h"
#include "util/util.h"

#include <cblas.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define PREFILL 256
#define DECODE 64
#define MAX_RUNS 64
#define BW_BYTES ((size_t)1 << 30)

static int runs = 3;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- Read bandwidth ------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t n;
    uint64_t sink;
} read_job;

#if defined(__x86_64__)
__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *p, size_t n)
{
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i + 128 <= n; i += 128) {
        a = _mm256_xor_si256(a, _mm256_load_si256((const __m256i *)(p + i)));
        b = _mm256_xor_si256(b, _mm256_load_si256((const __m256i *)(p + i + 32)));
        c = _mm256_xor_si256(c, _mm256_load_si256((const __m256i *)(p + i + 64)));
        d = _mm256_xor_si256(d, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    a = _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d));
    return (uint64_t)_mm256_extract_epi64(a, 0) ^ (uint64_t)_mm256_extract_epi64(a, 3);
}
#endif

static void *read_part(void *arg)
{
    read_job *j = arg;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) {
        j->sink = read_avx2(j->p, j->n);
        return NULL;
    }
#endif
    const uint64_t *w = (const uint64_t *)j->p;
    uint64_t s = 0;
    for (size_t i = 0; i < j->n / 8; i++)
        s ^= w[i];
    j->sink = s;
    return NULL;
}

/* GB/s reading BW_BYTES with `threads` threads, each its own half. */
static double bandwidth_once(const uint8_t *buf, int threads)
{
    {
        read_job jobs[2];
        pthread_t tid[2];
        double t0 = util_now();
        for (int t = 0; t < threads; t++) {
            jobs[t] = (read_job){buf + BW_BYTES / threads * t, BW_BYTES / threads, 0};
            if (t > 0)
                pthread_create(&tid[t], NULL, read_part, &jobs[t]);
        }
        read_part(&jobs[0]);
        for (int t = 1; t < threads; t++)
            pthread_join(tid[t], NULL);
        return BW_BYTES / (util_now() - t0) / 1e9;
    }
}

/* sgemm GFLOP/s on a prompt-sized product (256 × 2048 × 2048), split
 * across `threads` threads the way the engine splits its products: each
 * runs single-threaded OpenBLAS on its share of the weight rows.  (So no
 * OpenBLAS thread is left spinning into the next measurement.) */
typedef struct {
    const float *a, *b;
    float *c;
} gemm_job;

enum { GM = 256, GN = 2048, GK = 2048 };

static void gemm_part(void *arg, int i, int n)
{
    gemm_job *j = arg;
    long lo, hi;
    pool_split(GN, i, n, &lo, &hi);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, GM, (int)(hi - lo), GK, 1.0f, j->a, GK,
                j->b + (size_t)lo * GK, GK, 0.0f, j->c + lo, GN);
}

static double sgemm_once(pool *p, gemm_job *j)
{
    double t0 = util_now();
    for (int k = 0; k < 4; k++)
        pool_run(p, gemm_part, j);
    return 4 * 2.0 * GM * GN * GK / (util_now() - t0) / 1e9;
}

/* ---- Arithmetic peaks ---------------------------------------------------- */

/* Register-only loops, as the read probe is for memory: independent
 * accumulators (more than the multiply-add latency × throughput needs) so
 * that the loop runs at the core's issue rate.  FP32: fused multiply-adds
 * on the widest vectors the CPU has (2 FLOPs a lane).  Int8: multiply-adds
 * of unsigned by signed bytes into 32-bit lanes — AVX-512 VNNI vpdpbusd
 * where the CPU has it, else AVX2 vpmaddubsw + vpmaddwd + vpaddd (2 ops a
 * byte pair).  Prefill's share of the peak of the arithmetic it uses is
 * the honest ceiling: sgemm itself sits below it. */
#define PEAK_ITERS 2000000L

typedef struct {
    bool int8;
    double ops; /* per thread, written by the thread */
} peak_job;

#if defined(__x86_64__)
/* Twelve independent accumulators in named registers (an array would live
 * in memory): more than latency × throughput needs where a core issues two
 * 512-bit multiply-adds a cycle at a latency of four; OP(acc) is one
 * multiply-add into acc. */
#define CHAINS 12
#define MANY_CHAINS(T, init, OP, ADD, result)                                                         \
    T a0 = init(0), a1 = init(1), a2 = init(2), a3 = init(3), a4 = init(4), a5 = init(5), a6 = init(6), \
      a7 = init(7), a8 = init(8), a9 = init(9), a10 = init(10), a11 = init(11);                       \
    for (long k = 0; k < PEAK_ITERS; k++) {                                                          \
        a0 = OP(a0); a1 = OP(a1); a2 = OP(a2); a3 = OP(a3); a4 = OP(a4); a5 = OP(a5);                \
        a6 = OP(a6); a7 = OP(a7); a8 = OP(a8); a9 = OP(a9); a10 = OP(a10); a11 = OP(a11);            \
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7), \
                         "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));                                  \
    }                                                                                                \
    T result = ADD(ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7))),                 \
                   ADD(ADD(a8, a9), ADD(a10, a11)))

#define F8(i) _mm256_set1_ps((float)(i))
#define FMA8(x) _mm256_fmadd_ps(x, m, b)
__attribute__((target("avx2,fma"))) static double fma_avx2(void)
{
    __m256 m = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
    MANY_CHAINS(__m256, F8, FMA8, _mm256_add_ps, t);
    float sink[8];
    _mm256_storeu_ps(sink, t);
    return sink[0] != 12345.0f ? 2.0 * 8 * CHAINS * PEAK_ITERS : 0;
}

#define F16V(i) _mm512_set1_ps((float)(i))
#define FMA16(x) _mm512_fmadd_ps(x, m, b)
__attribute__((target("avx512f"))) static double fma_avx512(void)
{
    __m512 m = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
    MANY_CHAINS(__m512, F16V, FMA16, _mm512_add_ps, t);
    return _mm512_reduce_add_ps(t) != 12345.0f ? 2.0 * 16 * CHAINS * PEAK_ITERS : 0;
}

#define I8(i) _mm256_set1_epi32(i)
#define MADD8(x) _mm256_add_epi32(x, _mm256_madd_epi16(_mm256_maddubs_epi16(u, v), one))
__attribute__((target("avx2"))) static double int8_avx2(void)
{
    __m256i u = _mm256_set1_epi8(3), v = _mm256_set1_epi8(-2), one = _mm256_set1_epi16(1);
    MANY_CHAINS(__m256i, I8, MADD8, _mm256_add_epi32, t);
    return _mm256_extract_epi32(t, 0) != 12345 ? 2.0 * 32 * CHAINS * PEAK_ITERS : 0;
}

#define I16(i) _mm512_set1_epi32(i)
#define DP16(x) _mm512_dpbusd_epi32(x, u, v)
__attribute__((target("avx512f,avx512vnni,avx512bw"))) static double int8_vnni(void)
{
    __m512i u = _mm512_set1_epi8(3), v = _mm512_set1_epi8(-2);
    MANY_CHAINS(__m512i, I16, DP16, _mm512_add_epi32, t);
    return _mm512_reduce_add_epi32(t) != 12345 ? 2.0 * 64 * CHAINS * PEAK_ITERS : 0;
}
#undef MANY_CHAINS
#endif

static bool cpu_has(const char *feature)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!strcmp(feature, "avx512f"))
        return __builtin_cpu_supports("avx512f");
    if (!strcmp(feature, "avx512vnni"))
        return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
    if (!strcmp(feature, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    (void)feature;
    return false;
}

static void *peak_thread(void *arg)
{
    peak_job *j = arg;
    j->ops = 0;
#if defined(__x86_64__)
    if (j->int8)
        j->ops = cpu_has("avx512vnni") ? int8_vnni() : cpu_has("avx2") ? int8_avx2() : 0;
    else
        j->ops = cpu_has("avx512f") ? fma_avx512() : cpu_has("avx2") ? fma_avx2() : 0;
#endif
    return NULL;
}

/* Giga-operations per second of `threads` threads running the loop
 * together (the best of three). */
static double peak(bool int8, int threads)
{
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        pthread_t t[2];
        peak_job j[2] = {{int8, 0}, {int8, 0}};
        double t0 = util_now();
        for (int i = 0; i < threads; i++)
            pthread_create(&t[i], NULL, peak_thread, &j[i]);
        double ops = 0;
        for (int i = 0; i < threads; i++) {
            pthread_join(t[i], NULL);
            ops += j[i].ops;
        }
        double g = ops / (util_now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    return best;
}

static double fma_peak[3], int8_peak[3]; /* GFLOP/s and GOP/s by threads, measured once */

/* ---- Models ----------------------------------------------------------------- */

static double weight_bytes(const model_weight *w) { return (double)w->rows * w->row_bytes; }
static double weight_elems(const model_weight *w) { return (double)w->rows * w->cols; }

/* Bytes one decoded token reads (weights + KV cache at position `pos`) and
 * FLOPs one prompt token costs in matrix products. */
static void per_token_costs(const model *m, int pos, double *bytes, double *flops)
{
    double b = weight_bytes(&m->output), e = weight_elems(&m->output);
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        const model_layer *L = &m->layers[l];
        const model_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            b += weight_bytes(ws[i]);
            e += weight_elems(ws[i]);
        }
    }
    b += 2.0 * m->hp.n_layer * pos * m->hp.n_head_kv * m->head_dim * sizeof(uint16_t);
    *bytes = b;
    *flops = 2.0 * e;
}

/* One decoded token's matrix-vector products alone (see the top). */
typedef struct {
    const model_weight *w;
    const void *xq;
    float *y;
} mv_job;

static void mv_part(void *arg, int i, int n)
{
    mv_job *j = arg;
    const model_weight *w = j->w;
    long lo, hi;
    /* whole groups of packed rows, read packed where the engine reads them so */
    pool_split((w->rows + KERN_PACK_ROWS - 1) / KERN_PACK_ROWS, i, n, &lo, &hi);
    lo *= KERN_PACK_ROWS;
    hi = hi * KERN_PACK_ROWS < (long)w->rows ? hi * KERN_PACK_ROWS : (long)w->rows;
    if (lo >= hi)
        return;
    if (w->packed && kern_packs(w->type))
        kern_packed_matmul(w->type, w->packed, w->rows, w->cols, j->xq, 0, 1, (size_t)lo, (size_t)hi, j->y, 0);
    else
        kern_matvec_rows(w->type, w->data, w->cols, j->xq, (size_t)lo, (size_t)hi, j->y);
}

static void product(pool *p, const model_weight *w, const float *x, void *xq, float *y)
{
    kern_quantize_activation(w->type, x, w->cols, xq);
    mv_job j = {w, xq, y};
    pool_run(p, mv_part, &j);
}

static double products_once(const model *m, pool *p, const float *x, void *xq, float *y)
{
    double t0 = util_now();
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
        const model_layer *L = &m->layers[l];
        const model_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        for (size_t k = 0; k < sizeof ws / sizeof ws[0]; k++)
            product(p, ws[k], x, xq, y);
    }
    product(p, &m->output, x, xq, y);
    return util_now() - t0;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static void cpu_name(char *buf, size_t cap)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    snprintf(buf, cap, "unknown CPU");
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            const char *v = strchr(line, ':');
            snprintf(buf, cap, "%.200s", v ? v + 2 : line);
            buf[strcspn(buf, "\n")] = 0;
            break;
        }
    }
    if (f)
        fclose(f);
}

/* Everything a run measures side by side. */
typedef struct {
    const uint8_t *buf; /* BW_BYTES to read */
    gemm_job gemm;
    double bw[3][MAX_RUNS * 64], gf[3][MAX_RUNS * 64]; /* every limit measured, by threads */
    int n_limits[3];
} limits;

/* Raise *bw and *gf to the best of three probes of each limit. */
static void probe(limits *L, pool *p, int threads, double *bw, double *gf)
{
    for (int k = 0; k < 3; k++) {
        double b = bandwidth_once(L->buf, threads), g = sgemm_once(p, &L->gemm);
        *bw = b > *bw ? b : *bw;
        *gf = g > *gf ? g : *gf;
    }
}

/* Drop the file's pages from the page cache, so that the model is read
 * as a first load after boot reads it: in the 2 MiB pages the loader asks
 * for.  A file written or read long ago sits in whatever pages it got
 * then (a copy written by the bench's own mkmodel, or aged 4 KiB pages),
 * and decode speed moves ~10% with that alone.  Pages another process
 * has mapped stay. */
static void evict_from_page_cache(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

static int bench_model(const char *path, limits *L)
{
    char err[512];
    model *m;
    long rss_before = rss_kib();
    evict_from_page_cache(path);
    if (model_load(&m, path, err, sizeof err) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        return 1;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    struct stat st;
    double file_mib = stat(path, &st) == 0 ? st.st_size / 1048576.0 : 0.0;
    int32_t toks[PREFILL + DECODE];
    uint64_t s = 42;
    for (int i = 0; i < PREFILL + DECODE; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((s >> 33) % m->n_vocab);
    }
    double bytes, flops, weights_only;
    per_token_costs(m, PREFILL + DECODE / 2, &bytes, &flops);
    per_token_costs(m, 0, &weights_only, &flops);
    float *logits = xmallocarray((size_t)PREFILL * m->n_vocab, sizeof *logits);
    double logits_mib = (double)PREFILL * m->n_vocab * sizeof *logits / 1048576.0; /* the bench's own buffers */
    /* the products column's input, its activation (any type fits in 4
     * floats an element) and output */
    size_t widest = m->hp.n_ff > m->hp.n_embd ? m->hp.n_ff : m->hp.n_embd;
    size_t y_len = m->n_vocab > widest ? m->n_vocab : widest;
    float *x = xmallocarray(widest, sizeof *x), *y = xmallocarray(y_len, sizeof *y);
    void *xq = xmallocarray(widest, 4 * sizeof(float));
    for (size_t i = 0; i < widest; i++)
        x[i] = (float)((i * 7919) % 2001) / 1000.0f - 1.0f;
    logits_mib += (widest * 5 + y_len) * sizeof(float) / 1048576.0;
    for (int threads = 1; threads <= 2; threads++) {
        fwd_ctx *c = fwd_new(m, PREFILL + DECODE, threads, err, sizeof err);
        pool *p = pool_new(threads);
        if (!c || !p) {
            fprintf(stderr, "bench: %s\n", c ? "cannot start threads" : err);
            return 1;
        }
        /* each run measures the limits around the model, so a share
         * compares figures taken seconds apart */
        double pf[MAX_RUNS], dc[MAX_RUNS], pf_pct[MAX_RUNS], dc_pct[MAX_RUNS], mv_pct[MAX_RUNS], pk_pct[MAX_RUNS];
        for (int r = 0; r < runs; r++) {
            /* the best of three probes before the run and three after: a
             * probe is short, and one that lands on a moment when the
             * shared machine is busy would understate the limit */
            double bw = 0.0, gf = 0.0;
            probe(L, p, threads, &bw, &gf);
            fwd_truncate(c, 0);
            double t0 = util_now();
            fwd_eval(c, toks, PREFILL, true, logits, NULL);
            double t1 = util_now();
            for (int i = 0; i < DECODE; i++)
                fwd_eval(c, &toks[PREFILL + i], 1, false, logits, NULL);
            double t2 = util_now();
            pf[r] = PREFILL / (t1 - t0);
            dc[r] = DECODE / (t2 - t1);
            probe(L, p, threads, &bw, &gf);
            if (L->n_limits[threads] < MAX_RUNS * 64) {
                L->bw[threads][L->n_limits[threads]] = bw;
                L->gf[threads][L->n_limits[threads]++] = gf;
            }
            pf_pct[r] = 100.0 * pf[r] * flops / (gf * 1e9);
            /* packed quantized weights are multiplied in 8-bit integers, the rest in FP32 */
            double pk = m->layers[0].wq.packed && m->layers[0].wq.type != GGML_TYPE_F16 ? int8_peak[threads]
                                                                                         : fma_peak[threads];
            pk_pct[r] = pk > 0 ? 100.0 * pf[r] * flops / (pk * 1e9) : 0;
            dc_pct[r] = 100.0 * dc[r] * bytes / (bw * 1e9);
            double mv = 1e30; /* like the probes, the best of three */
            for (int k = 0; k < 3; k++) {
                double t = products_once(m, p, x, xq, y);
                mv = t < mv ? t : mv;
            }
            mv_pct[r] = 100.0 * weights_only / mv / (bw * 1e9);
        }
        printf("%-34s %-6s %3d %9.1f %5.0f%% %5.0f%% %9.1f %5.0f%% %8.0f%% %8.0f %8.0f\n", base, m->quant, threads,
               median(pf, runs), median(pf_pct, runs), median(pk_pct, runs), median(dc, runs), median(dc_pct, runs),
               median(mv_pct, runs), (rss_kib() - rss_before) / 1024.0 - logits_mib, file_mib);
        fflush(stdout);
        pool_free(p);
        fwd_free(c);
    }
    free(logits);
    free(x);
    free(y);
    free(xq);
    model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    int first = 1;
    bool limits_only = argc == 2 && !strcmp(argv[1], "--limits");
    if (argc > 2 && !strcmp(argv[1], "--runs")) {
        runs = atoi(argv[2]);
        first = 3;
    }
    if ((first >= argc && !limits_only) || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: bench [--runs N] MODEL.gguf...   (N from 1 to %d)\n       bench --limits\n", MAX_RUNS);
        return 2;
    }
    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    static limits L;
    /* the read probe's buffer in 2 MiB pages too, like the weights */
    uint8_t *buf = mmap(NULL, BW_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        buf = NULL;
    else
        (void)madvise(buf, BW_BYTES, MADV_HUGEPAGE);
    if (!buf) {
        fprintf(stderr, "bench: cannot allocate %zu MiB for the bandwidth test\n", BW_BYTES >> 20);
        return 1;
    }
    memset(buf, 1, BW_BYTES);
    L.buf = buf;
    float *a = xmallocarray((size_t)GM * GK, 4), *b = xmallocarray((size_t)GN * GK, 4);
    float *cm = xmallocarray((size_t)GM * GN, 4);
    for (size_t i = 0; i < (size_t)GM * GK; i++)
        a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)GN * GK; i++)
        b[i] = (float)(i % 5) * 0.1f;
    L.gemm = (gemm_job){a, b, cm};
    openblas_set_num_threads(1);
    printf("machine: %s, %ld cores online\n", cpu, sysconf(_SC_NPROCESSORS_ONLN));
    for (int t = 1; t <= 2; t++) {
        fma_peak[t] = peak(false, t);
        int8_peak[t] = peak(true, t);
    }
    printf("peaks (register-only loops, best of 3): FP32 multiply-add %.0f GFLOP/s with 1 thread, %.0f with 2 (%s);\n"
           "  int8 multiply-add %.0f GOP/s with 1 thread, %.0f with 2 (%s)\n",
           fma_peak[1], fma_peak[2], cpu_has("avx512f") ? "AVX-512" : "AVX2", int8_peak[1], int8_peak[2],
           cpu_has("avx512vnni") ? "AVX-512 VNNI vpdpbusd" : "AVX2 vpmaddubsw+vpmaddwd");
    if (limits_only) { /* the yardsticks a side-by-side run (tools/bench_vs.sh) reports beside its table */
        for (int t = 1; t <= 2; t++) {
            pool *p = pool_new(t);
            double bw = 0, gf = 0;
            probe(&L, p, t, &bw, &gf);
            pool_free(p);
            printf("limits with %d thread%s (best of 3): read bandwidth %.1f GB/s, sgemm %dx%dx%d %.1f GFLOP/s\n", t,
                   t > 1 ? "s" : "", bw, GM, GN, GK, gf);
        }
        munmap(buf, BW_BYTES);
        free(a);
        free(b);
        free(cm);
        return 0;
    }
    printf("%-34s %-6s %3s %9s %6s %6s %9s %6s %9s %8s %8s\n", "model", "type", "thr", "prefill", "sgemm", "peak",
           "decode", "bw", "products", "RSS MiB", "file MiB");
    printf("(t/s: prefill of a %d-token prompt with all logits, decode of %d tokens after it;\n"
           " %% = share of the limit measured around it (best of 3 probes before and 3 after), with the same threads;\n"
           " peak = prefill's operations/s as a share of the peak of the arithmetic it uses (packed quantized types: int8, else FP32);\n"
           " products = a token's matrix-vector products alone (best of 3), as a share of the bandwidth limit;\n"
           " each figure the median of %d runs)\n",
           PREFILL, DECODE, runs);
    for (int i = first; i < argc; i++)
        if (bench_model(argv[i], &L) != 0)
            return 1;
    /* median() sorts, so the extremes are at the ends afterwards */
    double bw1 = median(L.bw[1], L.n_limits[1]), bw2 = median(L.bw[2], L.n_limits[2]);
    printf("\nlimits, median of every run's limit above (lowest-highest): read bandwidth %.1f GB/s "
           "(%.1f-%.1f) with 1 thread, %.1f GB/s (%.1f-%.1f) with 2;\n",
           bw1, L.bw[1][0], L.bw[1][L.n_limits[1] - 1], bw2, L.bw[2][0], L.bw[2][L.n_limits[2] - 1]);
    double gf1 = median(L.gf[1], L.n_limits[1]), gf2 = median(L.gf[2], L.n_limits[2]);
    printf("  sgemm %dx%dx%d: %.1f GFLOP/s (%.1f-%.1f) with 1 thread, %.1f GFLOP/s (%.1f-%.1f) with 2\n", GM, GN,
           GK, gf1, L.gf[1][0], L.gf[1][L.n_limits[1] - 1], gf2, L.gf[2][0], L.gf[2][L.n_limits[2] - 1]);
    munmap(buf, BW_BYTES);
    free(a);
    free(b);
    free(cm);
    return 0;
}
