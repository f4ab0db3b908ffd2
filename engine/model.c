/*
 * model.c — hyper-parameters and weights of Llama-family models.
 *
 * Tables sized by the file's hyper-parameters (layers, norms and biases,
 * the packing lists) are allocated fallibly (util/alloc.h): out of memory
 * is a load error naming what did not fit, with everything freed.
 */
#include "engine/model.h"

#include "engine/kernels.h"

#include "util/alloc.h"
#include "util/util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uint32_t arch_u32(const gguf_file *f, const char *arch, const char *name, uint32_t dflt)
{
    char key[128];
    uint32_t v;
    snprintf(key, sizeof key, "%s.%s", arch, name);
    return gguf_get_u32(f, key, &v) ? v : dflt;
}

static float arch_f32(const gguf_file *f, const char *arch, const char *name, float dflt)
{
    char key[128];
    float v;
    snprintf(key, sizeof key, "%s.%s", arch, name);
    return gguf_get_f32(f, key, &v) ? v : dflt;
}

int model_hparams_read(const gguf_file *f, model_hparams *hp, char *err, size_t errlen)
{
    memset(hp, 0, sizeof *hp);
    gguf_str arch;
    if (!gguf_get_str(f, "general.architecture", &arch)) {
        util_errf(err, errlen, "general.architecture is missing or not a string");
        return -1;
    }
    if (arch.len == 0 || arch.len >= sizeof hp->arch || memchr(arch.ptr, '\0', arch.len)) {
        util_errf(err, errlen, "general.architecture is empty or longer than %zu bytes", sizeof hp->arch - 1);
        return -1;
    }
    memcpy(hp->arch, arch.ptr, arch.len);
    hp->arch[arch.len] = '\0';

    const char *a = hp->arch;
    hp->n_layer = arch_u32(f, a, "block_count", 0);
    hp->n_embd = arch_u32(f, a, "embedding_length", 0);
    hp->n_ff = arch_u32(f, a, "feed_forward_length", 0);
    hp->n_head = arch_u32(f, a, "attention.head_count", 0);
    hp->n_head_kv = arch_u32(f, a, "attention.head_count_kv", hp->n_head);
    hp->n_ctx_train = arch_u32(f, a, "context_length", 0);
    hp->n_rot = arch_u32(f, a, "rope.dimension_count",
                         hp->n_head ? hp->n_embd / hp->n_head : 0);
    hp->rope_freq_base = arch_f32(f, a, "rope.freq_base", 10000.0f);
    hp->rms_eps = arch_f32(f, a, "attention.layer_norm_rms_epsilon", 1e-5f);

    size_t nt = gguf_tensor_count(f);
    hp->has_tensors = nt > 0;
    for (size_t i = 0; i < nt; i++)
        hp->n_params += gguf_tensor_at(f, i)->n_elems;
    return 0;
}

void model_tensor_types(const gguf_file *f, char *buf, size_t cap)
{
    size_t count[GGML_TYPE_COUNT] = {0};
    for (size_t i = 0; i < gguf_tensor_count(f); i++)
        count[gguf_tensor_at(f, i)->type]++;
    size_t used = 0;
    if (cap)
        buf[0] = '\0';
    for (;;) {
        int best = -1;
        for (int t = 0; t < GGML_TYPE_COUNT; t++)
            if (count[t] && (best < 0 || count[t] > count[best]))
                best = t;
        if (best < 0)
            break;
        if (used < cap) {
            int n = snprintf(buf + used, cap - used, "%s%s:%zu", used ? " " : "",
                             ggml_type_name((uint32_t)best), count[best]);
            if (n > 0)
                used += (size_t)n;
        }
        count[best] = 0;
    }
}

/* ---- Loading ---------------------------------------------------------------- */

#include "engine/quant.h"

#include <stdlib.h>

bool model_weight_type_supported(ggml_type t)
{
    switch (t) {
    case GGML_TYPE_F32: case GGML_TYPE_F16: case GGML_TYPE_BF16:
    case GGML_TYPE_Q8_0: case GGML_TYPE_Q4_0: case GGML_TYPE_Q4_1:
    case GGML_TYPE_Q5_0: case GGML_TYPE_Q5_1:
    case GGML_TYPE_Q2_K: case GGML_TYPE_Q3_K:
    case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K: case GGML_TYPE_Q6_K:
        return true;
    default:
        return false;
    }
}

/* ---- Packing ---------------------------------------------------------------- */

struct model_pack {
    void *p;
    size_t bytes;
};

#define HUGE_PAGE ((size_t)2 << 20)

/* w repacked for the kernels into dst (kern_packed_bytes of it); the
 * mapped rows are then given back (madvise), so resident memory stays
 * about the file's size: the rows are read once, here. */
static void pack_weight(model_weight *w, void *dst)
{
    kern_pack(w->type, w->data, w->rows, w->cols, dst);
    w->packed = dst;
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)w->data + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    uintptr_t hi = ((uintptr_t)w->data + (uintptr_t)w->rows * w->row_bytes) / (uintptr_t)page * (uintptr_t)page;
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

typedef struct {
    model_weight **ws;
    uint8_t **dst; /* (n) where each goes in the arena */
    size_t n, next;
    pthread_mutex_t lock;
} pack_job;

/* Threads take the next weight until none is left (the largest first,
 * so that the last one taken is small). */
static void *pack_worker(void *arg)
{
    pack_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next++;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->n)
            return NULL;
        pack_weight(j->ws[i], j->dst[i]);
    }
}

static int larger_first(const void *a, const void *b)
{
    const model_weight *x = *(model_weight *const *)a, *y = *(model_weight *const *)b;
    size_t sx = (size_t)x->rows * x->row_bytes, sy = (size_t)y->rows * y->row_bytes;
    return (sx < sy) - (sx > sy);
}

/* Every matrix of the forward pass packed, on as many threads as the
 * machine has cores (packing reads the file once and writes the copy).
 * false when the lists of matrices do not fit in memory. */
static bool pack_weights(model *m)
{
    double t0 = util_now();
    size_t cap = (size_t)m->hp.n_layer * 7 + 1, n = 0;
    model_weight **ws = try_mallocarray(cap, sizeof *ws);
    if (!ws)
        return false;
    for (uint32_t i = 0; i < m->hp.n_layer; i++) {
        model_layer *l = &m->layers[i];
        model_weight *lw[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->gate, &l->up, &l->down};
        for (size_t k = 0; k < sizeof lw / sizeof lw[0]; k++)
            if (kern_packs(lw[k]->type) && kern_packed_bytes(lw[k]->type, lw[k]->rows, lw[k]->cols))
                ws[n++] = lw[k];
    }
    if (kern_packs(m->output.type) && kern_packed_bytes(m->output.type, m->output.rows, m->output.cols))
        ws[n++] = &m->output;
    /* one arena for them all, in 2 MiB pages where the kernel gives them:
     * a decoded token streams every weight, and weights mapped apart
     * (most smaller than 2 MiB) took 4 KiB pages, a TLB miss every 4 KiB */
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += (kern_packed_bytes(ws[i]->type, ws[i]->rows, ws[i]->cols) + 63) & ~(size_t)63;
    total = (total + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    uint8_t *arena = NULL, **dst = NULL;
    if (n) {
        /* map a huge page more and start at a boundary; the slack goes back */
        uint8_t *p = mmap(NULL, total + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        dst = try_mallocarray(n, sizeof *dst);
        m->packs = try_mallocarray(1, sizeof *m->packs);
        if (p == MAP_FAILED || !dst || !m->packs) {
            bool oom = !dst || !m->packs;
            if (p != MAP_FAILED)
                munmap(p, total + HUGE_PAGE);
            free(dst);
            free(ws);
            return !oom; /* without an arena the unpacked rows still work */
        }
        arena = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
        if (arena > p)
            munmap(p, (size_t)(arena - p));
        munmap(arena + total, (size_t)(p + HUGE_PAGE - arena));
        (void)madvise(arena, total, MADV_HUGEPAGE);
        m->packs[m->n_packs++] = (struct model_pack){arena, total};
    }
    if (n) {
        qsort(ws, n, sizeof *ws, larger_first);
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            dst[i] = arena + at;
            at += (kern_packed_bytes(ws[i]->type, ws[i]->rows, ws[i]->cols) + 63) & ~(size_t)63;
        }
        pack_job j = {.ws = ws, .dst = dst, .n = n};
        pthread_mutex_init(&j.lock, NULL);
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        int threads = cores < 1 ? 1 : cores > 8 ? 8 : (int)cores;
        pthread_t tid[8];
        int started = 0;
        for (int t = 1; t < threads; t++)
            started += pthread_create(&tid[started], NULL, pack_worker, &j) == 0;
        pack_worker(&j);
        for (int t = 0; t < started; t++)
            pthread_join(tid[t], NULL);
        pthread_mutex_destroy(&j.lock);
    }
    free(dst);
    free(ws);
    if (m->tied_output)
        m->tok_embd.packed = m->output.packed; /* the lookup reads the packed rows */
    m->pack_seconds = util_now() - t0;
    return true;
}

typedef struct {
    model *m;
    char *err;
    size_t errlen;
    size_t owned_used, owned_cap;
    bool failed;
} loader;

static const gguf_tensor *find(loader *L, const char *name, bool required)
{
    if (L->failed)
        return NULL;
    const gguf_tensor *t = gguf_find_tensor(L->m->file, name);
    if (!t && required) {
        util_errf(L->err, L->errlen, "tensor '%s' is missing", name);
        L->failed = true;
    }
    return t;
}

static bool bind_matrix(loader *L, model_weight *w, const char *name, uint32_t cols, uint32_t rows, bool required)
{
    const gguf_tensor *t = find(L, name, required);
    if (!t)
        return false;
    if (!model_weight_type_supported(t->type)) {
        util_errf(L->err, L->errlen, "tensor '%s' has weight type %s, which frontdesk does not support",
                  name, ggml_type_name(t->type));
        L->failed = true;
        return false;
    }
    if (t->n_dims > 2 || t->ne[0] != cols || t->ne[1] != rows) {
        util_errf(L->err, L->errlen, "tensor '%s' has shape [%llu, %llu], expected [%u, %u]", name,
                  (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], cols, rows);
        L->failed = true;
        return false;
    }
    w->type = t->type;
    w->data = t->data;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = (size_t)(t->n_bytes / rows);
    return true;
}

/* A vector of n floats: used in place when stored as F32, else converted. */
static const float *bind_vector(loader *L, const char *name, uint32_t n, bool required)
{
    const gguf_tensor *t = find(L, name, required);
    if (!t)
        return NULL;
    if (t->n_elems != n || t->ne[0] != n) {
        util_errf(L->err, L->errlen, "tensor '%s' has %llu elements, expected %u", name,
                  (unsigned long long)t->n_elems, n);
        L->failed = true;
        return NULL;
    }
    /* copied, even when F32: a vector read in place keeps a page of the
     * mapping resident — a 2 MiB one where the page cache holds the file in
     * huge folios (88 MiB of Qwen2.5-0.5B's norms and biases) — while
     * packed weights give theirs back */
    if (t->type != GGML_TYPE_F32 && t->type != GGML_TYPE_F16 && t->type != GGML_TYPE_BF16) {
        util_errf(L->err, L->errlen, "tensor '%s' has type %s; norms and biases must be F32, F16 or BF16",
                  name, ggml_type_name(t->type));
        L->failed = true;
        return NULL;
    }
    if (L->owned_used + n > L->owned_cap) {
        util_errf(L->err, L->errlen, "internal: vector space exhausted at '%s'", name);
        L->failed = true;
        return NULL;
    }
    float *dst = L->m->owned + L->owned_used;
    L->owned_used += n;
    if (t->type == GGML_TYPE_F32)
        memcpy(dst, t->data, (size_t)n * sizeof(float));
    else
        quant_dequantize_row(t->type, t->data, dst, n);
    return dst;
}

static void dominant_type(model *m)
{
    /* The type holding most of the weight bytes names the quantization. */
    uint64_t bytes[GGML_TYPE_COUNT] = {0};
    for (size_t i = 0; i < gguf_tensor_count(m->file); i++) {
        const gguf_tensor *t = gguf_tensor_at(m->file, i);
        if (t->n_dims >= 2)
            bytes[t->type] += t->n_bytes;
    }
    int best = GGML_TYPE_F32;
    for (int t = 0; t < GGML_TYPE_COUNT; t++)
        if (bytes[t] > bytes[best])
            best = t;
    snprintf(m->quant, sizeof m->quant, "%s", ggml_type_name((uint32_t)best));
}

static void model_name(model *m, const char *path)
{
    gguf_str s;
    if (gguf_get_str(m->file, "general.name", &s) && s.len > 0) {
        size_t n = s.len < sizeof m->name - 1 ? (size_t)s.len : sizeof m->name - 1;
        memcpy(m->name, s.ptr, n);
        m->name[n] = '\0';
    } else {
        const char *base = strrchr(path, '/');
        snprintf(m->name, sizeof m->name, "%s", base ? base + 1 : path);
    }
    for (char *p = m->name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

int model_load(model **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    model *m = xcalloc(1, sizeof *m);
    char msg[400];
    if (gguf_open(&m->file, path, err, errlen) != GGUF_OK) {
        free(m);
        return -1;
    }
    if (model_hparams_read(m->file, &m->hp, msg, sizeof msg) != 0)
        goto fail_msg;
    const model_hparams *hp = &m->hp;
    if (strcmp(hp->arch, "llama") != 0 && strcmp(hp->arch, "qwen2") != 0 && strcmp(hp->arch, "mistral") != 0) {
        snprintf(msg, sizeof msg, "architecture '%s' is not supported (frontdesk runs llama, qwen2 and mistral)", hp->arch);
        goto fail_msg;
    }
    if (!hp->has_tensors) {
        snprintf(msg, sizeof msg, "the file has no tensors (a vocabulary-only file cannot generate)");
        goto fail_msg;
    }
    if (!hp->n_layer || !hp->n_embd || !hp->n_head || !hp->n_head_kv || !hp->n_ff ||
        hp->n_embd % hp->n_head || hp->n_head % hp->n_head_kv || hp->n_layer > 4096 ||
        hp->n_embd > 65536 || hp->n_ff > 1 << 20) {
        snprintf(msg, sizeof msg, "implausible hyper-parameters (layers %u, width %u, heads %u/%u, ffn %u)",
                 hp->n_layer, hp->n_embd, hp->n_head, hp->n_head_kv, hp->n_ff);
        goto fail_msg;
    }
    m->head_dim = hp->n_embd / hp->n_head;
    if (m->head_dim > 512) {
        snprintf(msg, sizeof msg, "head size %u is larger than the engine's limit of 512", m->head_dim);
        goto fail_msg;
    }
    if (hp->n_rot == 0 || hp->n_rot > m->head_dim || hp->n_rot % 2) {
        snprintf(msg, sizeof msg, "rope.dimension_count %u does not fit head size %u", hp->n_rot, m->head_dim);
        goto fail_msg;
    }
    m->rope_neox = strcmp(hp->arch, "qwen2") == 0;

    const gguf_tensor *emb = gguf_find_tensor(m->file, "token_embd.weight");
    if (!emb || emb->n_dims != 2 || emb->ne[1] == 0 || emb->ne[1] > (1u << 24)) {
        snprintf(msg, sizeof msg, "tensor 'token_embd.weight' is missing or not a matrix");
        goto fail_msg;
    }
    m->n_vocab = (uint32_t)emb->ne[1];

    uint32_t E = hp->n_embd, hd = m->head_dim, kv = hp->n_head_kv * hd;
    /* Norms and biases: at most 2 norms + 3 biases per layer, plus one,
     * and never more than the file's vectors hold (F32/F16/BF16 tensors of
     * at most E elements: bind_vector takes no other), so hyper-parameters
     * alone cannot ask for gigabytes (fuzz_gguf: a 12 KB file claiming 4096
     * layers of width 65536 had 5.4 GB allocated before a tensor was read). */
    loader L = {.m = m, .err = msg, .errlen = sizeof msg};
    size_t in_file = 0;
    for (size_t i = 0; i < gguf_tensor_count(m->file); i++) {
        const gguf_tensor *t = gguf_tensor_at(m->file, i);
        if ((t->type == GGML_TYPE_F32 || t->type == GGML_TYPE_F16 || t->type == GGML_TYPE_BF16) &&
            t->n_elems <= E && t->ne[0] == t->n_elems)
            in_file += (size_t)t->n_elems;
    }
    L.owned_cap = (size_t)hp->n_layer * (2 * E + E + 2 * kv) + E;
    if (in_file < L.owned_cap)
        L.owned_cap = in_file ? in_file : 1;
    m->owned = try_mallocarray(L.owned_cap, sizeof(float));
    m->layers = try_calloc(hp->n_layer, sizeof *m->layers);
    if (!m->owned || !m->layers) {
        snprintf(msg, sizeof msg, "out of memory for %u layers (%zu KiB of norms and biases)",
                 hp->n_layer, L.owned_cap * sizeof(float) >> 10);
        goto fail_msg;
    }

    bind_matrix(&L, &m->tok_embd, "token_embd.weight", E, m->n_vocab, true);
    m->output_norm = bind_vector(&L, "output_norm.weight", E, true);
    if (!L.failed && !gguf_find_tensor(m->file, "output.weight")) {
        m->tied_output = true;
        m->output = m->tok_embd;
    } else {
        bind_matrix(&L, &m->output, "output.weight", E, m->n_vocab, true);
    }
    for (uint32_t i = 0; i < hp->n_layer && !L.failed; i++) {
        model_layer *l = &m->layers[i];
        char name[96];
#define T(suffix) (snprintf(name, sizeof name, "blk.%u.%s", i, suffix), name)
        l->attn_norm = bind_vector(&L, T("attn_norm.weight"), E, true);
        l->ffn_norm = bind_vector(&L, T("ffn_norm.weight"), E, true);
        bind_matrix(&L, &l->wq, T("attn_q.weight"), E, E, true);
        bind_matrix(&L, &l->wk, T("attn_k.weight"), E, kv, true);
        bind_matrix(&L, &l->wv, T("attn_v.weight"), E, kv, true);
        bind_matrix(&L, &l->wo, T("attn_output.weight"), E, E, true);
        bind_matrix(&L, &l->gate, T("ffn_gate.weight"), E, hp->n_ff, true);
        bind_matrix(&L, &l->up, T("ffn_up.weight"), E, hp->n_ff, true);
        bind_matrix(&L, &l->down, T("ffn_down.weight"), hp->n_ff, E, true);
        l->bq = bind_vector(&L, T("attn_q.bias"), E, false);
        l->bk = bind_vector(&L, T("attn_k.bias"), kv, false);
        l->bv = bind_vector(&L, T("attn_v.bias"), kv, false);
#undef T
    }
    if (L.failed)
        goto fail_msg;
    if (!pack_weights(m)) {
        snprintf(msg, sizeof msg, "out of memory listing the weight matrices of %u layers", hp->n_layer);
        goto fail_msg;
    }
    dominant_type(m);
    model_name(m, path);
    *out = m;
    return 0;

fail_msg:
    util_errf(err, errlen, "%s: %s", path, msg);
    model_free(m);
    return -1;
}

void model_free(model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_packs; i++)
        munmap(m->packs[i].p, m->packs[i].bytes);
    free(m->packs);
    gguf_close(m->file);
    free(m->layers);
    free(m->owned);
    free(m);
}
