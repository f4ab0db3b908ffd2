/*
 * train_io.c — a training model to and from files: checkpoints (save and
 * load, for resuming bit for bit), export to GGUF for the inference engine,
 * and import from a llama GGUF file for fine-tuning.  The formats and the
 * contracts are in train.h; the model's fields in train_internal.h.
 *
 * What this file does not do: compute anything (train/train.c does), or
 * lay out GGUF bytes itself (engine/gguf_write.c does, atomically).
 */
#include "train/train_internal.h"

#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/model.h"
#include "engine/quant.h"
#include "util/private.h"
#include "util/util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Checkpoints ----------------------------------------------------------------------------- */

#define CKPT_MAGIC "FDTRAIN1"
#define CKPT_VERSION 1u
#define CKPT_HEADER 148u /* magic 8, version 4, size 4, config 17·4, 8·8 */

static bool host_little_endian(void)
{
    uint16_t x = 1;
    uint8_t b;
    memcpy(&b, &x, 1);
    return b == 1;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}
#define FNV_INIT 0xcbf29ce484222325ull

typedef struct {
    uint8_t *p;
    size_t at;
} wbuf;

static void put32(wbuf *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b->p[b->at++] = (uint8_t)(v >> (8 * i));
}
static void put64(wbuf *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b->p[b->at++] = (uint8_t)(v >> (8 * i));
}
static void putf(wbuf *b, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    put32(b, v);
}
static uint32_t get32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }
static float getf(const uint8_t *p)
{
    uint32_t v = get32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

static void header_bytes(const train_model *m, const train_ckpt *st, uint8_t out[CKPT_HEADER])
{
    const train_config *c = &m->cfg;
    wbuf b = {out, 0};
    memcpy(out, CKPT_MAGIC, 8);
    b.at = 8;
    put32(&b, CKPT_VERSION);
    put32(&b, CKPT_HEADER);
    put32(&b, c->vocab), put32(&b, c->n_embd), put32(&b, c->n_layer), put32(&b, c->n_head);
    put32(&b, c->n_head_kv), put32(&b, c->n_ff), put32(&b, c->n_ctx);
    putf(&b, c->rope_base), putf(&b, c->rms_eps);
    put32(&b, c->tied ? 1u : 0u), put32(&b, c->n_batch), put32(&b, c->n_threads);
    putf(&b, c->beta1), putf(&b, c->beta2), putf(&b, c->adam_eps), putf(&b, c->weight_decay);
    putf(&b, c->grad_clip);
    put64(&b, m->opt_step), put64(&b, st->step);
    for (int i = 0; i < 4; i++)
        put64(&b, st->rng.s[i]);
    put64(&b, m->n_params), put64(&b, st->user ? st->user_len : 0);
    assert(b.at == CKPT_HEADER);
}

static int write_all(int fd, const void *data, size_t n, uint64_t *h)
{
    const uint8_t *p = data;
    if (h)
        *h = fnv1a(*h, data, n);
    while (n > 0) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int train_save(const train_model *m, const train_ckpt *st, const char *path, char *err, size_t errlen)
{
    if (!host_little_endian()) {
        util_errf(err, errlen, "checkpoints are little-endian; this host is not");
        return TRAIN_EINVAL;
    }
    size_t plen = strlen(path);
    char *tmp = xmalloc(plen + 5);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    int fd = priv_open_replacing(tmp, path); /* 0600 unless it exists */
    if (fd < 0) {
        util_errf(err, errlen, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return TRAIN_EIO;
    }
    train_ckpt none = {0};
    if (!st)
        st = &none;
    uint8_t hdr[CKPT_HEADER];
    header_bytes(m, st, hdr);
    uint64_t h = FNV_INIT;
    size_t bytes = m->n_params * sizeof(float);
    int bad = write_all(fd, hdr, sizeof hdr, &h) || write_all(fd, m->params, bytes, &h) ||
              write_all(fd, m->m1, bytes, &h) || write_all(fd, m->m2, bytes, &h) ||
              (st->user && st->user_len && write_all(fd, st->user, st->user_len, &h));
    uint8_t tail[8];
    wbuf tb = {tail, 0};
    put64(&tb, h);
    bad = bad || write_all(fd, tail, 8, NULL) || fsync(fd) != 0;
    int saved = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (!bad && rename(tmp, path) != 0) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        util_errf(err, errlen, "%s: %s", tmp, strerror(saved ? saved : EIO));
        unlink(tmp);
        free(tmp);
        return TRAIN_EIO;
    }
    free(tmp);
    /* make the rename itself durable */
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
    int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
    return TRAIN_OK;
}

static int read_all(int fd, void *data, size_t n, uint64_t *h)
{
    uint8_t *p = data;
    size_t left = n;
    while (left > 0) {
        ssize_t r = read(fd, p, left > (1u << 30) ? (1u << 30) : left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        left -= (size_t)r;
    }
    if (h)
        *h = fnv1a(*h, data, n);
    return 0;
}

int train_load(train_model **out, train_ckpt *st, const char *path, int n_threads, char *err, size_t errlen)
{
    *out = NULL;
    train_ckpt discard;
    bool keep = st != NULL;
    if (!keep)
        st = &discard;
    memset(st, 0, sizeof *st);
    if (!host_little_endian()) {
        util_errf(err, errlen, "checkpoints are little-endian; this host is not");
        return TRAIN_EINVAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        util_errf(err, errlen, "%s: %s", path, strerror(errno));
        return TRAIN_EIO;
    }
    struct stat sb;
    uint8_t hdr[CKPT_HEADER];
    uint64_t h = FNV_INIT;
    if (fstat(fd, &sb) != 0) {
        util_errf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return TRAIN_EIO;
    }
    uint64_t size = (uint64_t)sb.st_size;
    const char *why = NULL;
    size_t why_at = 0;
    if (size < CKPT_HEADER + 8 || read_all(fd, hdr, CKPT_HEADER, &h) != 0)
        why = "file shorter than a header";
    else if (memcmp(hdr, CKPT_MAGIC, 8) != 0)
        why = "bad magic (not a frontdesk checkpoint)";
    else if (get32(hdr + 8) != CKPT_VERSION)
        why = "unsupported version", why_at = 8;
    else if (get32(hdr + 12) != CKPT_HEADER)
        why = "bad header size", why_at = 12;
    if (why) {
        util_errf(err, errlen, "%s: %s at byte %zu", path, why, why_at);
        close(fd);
        return TRAIN_EBAD;
    }
    const uint8_t *p = hdr + 16;
    train_config c = {0};
    c.vocab = get32(p), c.n_embd = get32(p + 4), c.n_layer = get32(p + 8), c.n_head = get32(p + 12);
    c.n_head_kv = get32(p + 16), c.n_ff = get32(p + 20), c.n_ctx = get32(p + 24);
    c.rope_base = getf(p + 28), c.rms_eps = getf(p + 32);
    uint32_t tied = get32(p + 36);
    c.tied = tied == 1;
    c.n_batch = get32(p + 40), c.n_threads = get32(p + 44);
    c.beta1 = getf(p + 48), c.beta2 = getf(p + 52), c.adam_eps = getf(p + 56), c.weight_decay = getf(p + 60);
    c.grad_clip = getf(p + 64);
    p += 68;
    uint64_t opt_step = get64(p), step = get64(p + 8);
    for (int i = 0; i < 4; i++)
        st->rng.s[i] = get64(p + 16 + 8 * i);
    uint64_t n_params = get64(p + 48), user_len = get64(p + 56);
    if (n_threads > 0)
        c.n_threads = (uint32_t)n_threads;
    const char *cwhy = tied > 1 ? "tied is neither 0 nor 1" : train_config_check(&c);
    if (cwhy) {
        util_errf(err, errlen, "%s: bad configuration in the header: %s", path, cwhy);
        close(fd);
        return TRAIN_EBAD;
    }
    train_model *m = train_model_alloc(&c, err, errlen);
    if (!m) {
        close(fd);
        return TRAIN_EBAD;
    }
    uint64_t body = 3 * (uint64_t)m->n_params * sizeof(float);
    if (n_params != m->n_params || user_len > size || size != CKPT_HEADER + body + user_len + 8) {
        util_errf(err, errlen, "%s: size %llu does not match the header (%llu parameters, expected %zu; %llu user bytes)",
                  path, (unsigned long long)size, (unsigned long long)n_params, m->n_params,
                  (unsigned long long)user_len);
        train_free(m);
        close(fd);
        return TRAIN_EBAD;
    }
    size_t bytes = m->n_params * sizeof(float);
    void *user = user_len ? xmalloc((size_t)user_len) : NULL;
    uint8_t tail[8];
    int bad = read_all(fd, m->params, bytes, &h) || read_all(fd, m->m1, bytes, &h) ||
              read_all(fd, m->m2, bytes, &h) || (user && read_all(fd, user, (size_t)user_len, &h)) ||
              read_all(fd, tail, 8, NULL);
    close(fd);
    if (bad || get64(tail) != h) {
        util_errf(err, errlen, bad ? "%s: read failed (file changed while reading?)"
                                   : "%s: checksum mismatch (the file is damaged)", path);
        free(user);
        train_free(m);
        return bad ? TRAIN_EIO : TRAIN_EBAD;
    }
    m->opt_step = opt_step;
    st->step = step;
    st->user = keep ? user : NULL;
    st->user_len = keep ? (size_t)user_len : 0;
    if (!keep)
        free(user);
    *out = m;
    return TRAIN_OK;
}

/* ---- Export to GGUF --------------------------------------------------------------------------- */

/* llama.cpp's llama_ftype numbers */
static uint32_t file_type_of(ggml_type t)
{
    return t == GGML_TYPE_F32 ? 0u : t == GGML_TYPE_F16 ? 1u : 7u;
}

int train_export_gguf(train_model *m, const char *path, ggml_type type, const train_gguf_meta *meta, char *err,
                      size_t errlen)
{
    if (type != GGML_TYPE_F32 && type != GGML_TYPE_F16 && type != GGML_TYPE_Q8_0) {
        util_errf(err, errlen, "export type %s: only F32, F16 and Q8_0 are written", ggml_type_name(type));
        return TRAIN_EINVAL;
    }
    train_gguf_meta none = {0};
    if (!meta)
        meta = &none;
    const train_config *c = &m->cfg;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_u32(w, "general.file_type", file_type_of(type));
    gguf_writer_set_u32(w, "general.quantization_version", 2);
    if (meta->name) gguf_writer_set_str(w, "general.name", meta->name);
    if (meta->version) gguf_writer_set_str(w, "general.version", meta->version);
    if (meta->description) gguf_writer_set_str(w, "general.description", meta->description);
    if (meta->license) gguf_writer_set_str(w, "general.license", meta->license);
    if (meta->author) gguf_writer_set_str(w, "general.author", meta->author);
    if (meta->datasets && meta->n_datasets)
        gguf_writer_set_arr_str(w, "general.datasets", meta->datasets, meta->n_datasets);
    if (meta->train_steps) gguf_writer_set_u64(w, "general.training.steps", meta->train_steps);
    if (meta->train_tokens) gguf_writer_set_u64(w, "general.training.tokens", meta->train_tokens);
    if (meta->val_loss > 0.0f && isfinite(meta->val_loss))
        gguf_writer_set_f32(w, "general.training.validation_loss", meta->val_loss);
    gguf_writer_set_u32(w, "llama.context_length", c->n_ctx);
    gguf_writer_set_u32(w, "llama.embedding_length", c->n_embd);
    gguf_writer_set_u32(w, "llama.block_count", c->n_layer);
    gguf_writer_set_u32(w, "llama.feed_forward_length", c->n_ff);
    gguf_writer_set_u32(w, "llama.attention.head_count", c->n_head);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", c->n_head_kv);
    gguf_writer_set_u32(w, "llama.rope.dimension_count", m->hd);
    gguf_writer_set_f32(w, "llama.rope.freq_base", c->rope_base);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", c->rms_eps);
    gguf_writer_set_u32(w, "llama.vocab_size", c->vocab);

    int rc = TRAIN_OK;
    char key[256];
    for (size_t i = 0; i < meta->n_kvs && rc == TRAIN_OK; i++) {
        const gguf_kv *kv = &meta->kvs[i];
        if (kv->key.len == 0 || kv->key.len >= sizeof key || memchr(kv->key.ptr, '\0', kv->key.len)) {
            util_errf(err, errlen, "key/value pair %zu has an empty, overlong or NUL-holding key", i);
            rc = TRAIN_EINVAL;
            break;
        }
        memcpy(key, kv->key.ptr, kv->key.len);
        key[kv->key.len] = '\0';
        if (!strncmp(key, "llama.", 6) || !strcmp(key, "general.architecture") ||
            !strcmp(key, "general.file_type") || !strcmp(key, "general.alignment")) {
            util_errf(err, errlen, "key '%s' describes the model itself and cannot be passed in", key);
            rc = TRAIN_EINVAL;
        } else if (gguf_writer_set_value(w, key, &kv->value) != GGUF_OK) {
            util_errf(err, errlen, "key '%s': %s", key, gguf_writer_error(w));
            rc = TRAIN_EINVAL;
        }
    }
    if (rc == TRAIN_OK && meta->add_kv && meta->add_kv(meta->add_kv_ctx, w) != 0) {
        util_errf(err, errlen, "the caller's metadata callback failed%s%s", *gguf_writer_error(w) ? ": " : "",
                  gguf_writer_error(w));
        rc = TRAIN_EINVAL;
    }

    void **owned = xcalloc(m->n_tens, sizeof *owned);
    for (size_t i = 0; i < m->n_tens && rc == TRAIN_OK; i++) {
        const tensor_rec *t = &m->tens[i];
        const float *src = m->params + t->off;
        bool vec = t->rows == 1;
        ggml_type tt = vec ? GGML_TYPE_F32 : type;
        if (tt == GGML_TYPE_Q8_0 && t->cols % QK8_0)
            tt = GGML_TYPE_F16; /* rows are not whole blocks */
        uint64_t ne[2] = {t->cols, t->rows};
        size_t row_bytes = quant_row_bytes(tt, t->cols), nbytes = row_bytes * t->rows;
        const void *data = src;
        if (tt != GGML_TYPE_F32) {
            owned[i] = xmalloc(nbytes);
            for (uint32_t r = 0; r < t->rows; r++)
                quant_quantize_row(tt, src + (size_t)r * t->cols, (uint8_t *)owned[i] + (size_t)r * row_bytes,
                                   t->cols);
            data = owned[i];
        }
        if (gguf_writer_add_tensor(w, t->name, tt, vec ? 1 : 2, ne, data, nbytes) != GGUF_OK) {
            util_errf(err, errlen, "tensor '%s': %s", t->name, gguf_writer_error(w));
            rc = TRAIN_EINVAL;
        }
    }
    if (rc == TRAIN_OK) {
        int wrc = gguf_writer_write_file(w, path, err, errlen);
        rc = wrc == GGUF_OK ? TRAIN_OK : wrc == GGUF_EIO ? TRAIN_EIO : TRAIN_EINVAL;
    }
    for (size_t i = 0; i < m->n_tens; i++)
        free(owned[i]);
    free(owned);
    gguf_writer_free(w);
    return rc;
}

/* ---- Import from GGUF ----------------------------------------------------------------------------- */

int train_import_gguf(train_model **out, const char *path, const train_config *opts, char *err, size_t errlen)
{
    *out = NULL;
    gguf_file *f = NULL;
    int grc = gguf_open(&f, path, err, errlen);
    if (grc != GGUF_OK)
        return grc == GGUF_EIO ? TRAIN_EIO : TRAIN_EBAD;
    char msg[300] = "";
    model_hparams hp;
    train_model *m = NULL;
    const gguf_tensor *emb = gguf_find_tensor(f, "token_embd.weight");
    if (model_hparams_read(f, &hp, msg, sizeof msg) != 0)
        goto bad;
    if (strcmp(hp.arch, "llama") != 0) {
        snprintf(msg, sizeof msg, "architecture '%s': the trainer takes llama models only", hp.arch);
        goto bad;
    }
    if (!emb || emb->n_dims != 2) {
        snprintf(msg, sizeof msg, "tensor 'token_embd.weight' is missing or not a matrix");
        goto bad;
    }
    if (gguf_find_tensor(f, "blk.0.attn_q.bias")) {
        snprintf(msg, sizeof msg, "the model has attention biases, which the trainer does not have");
        goto bad;
    }
    train_config c = *opts;
    c.vocab = emb->ne[1] > UINT32_MAX ? 0 : (uint32_t)emb->ne[1];
    c.n_embd = hp.n_embd, c.n_layer = hp.n_layer, c.n_head = hp.n_head, c.n_head_kv = hp.n_head_kv;
    c.n_ff = hp.n_ff, c.rope_base = hp.rope_freq_base, c.rms_eps = hp.rms_eps;
    c.n_ctx = opts->n_ctx ? opts->n_ctx : hp.n_ctx_train;
    c.tied = gguf_find_tensor(f, "output.weight") == NULL;
    const char *why = train_config_check(&c);
    if (why) {
        snprintf(msg, sizeof msg, "its hyper-parameters do not make a trainable model: %s", why);
        goto bad;
    }
    if (hp.n_rot != c.n_embd / c.n_head) {
        snprintf(msg, sizeof msg, "partial RoPE (%u of %u dimensions) is not supported", hp.n_rot,
                 c.n_embd / c.n_head);
        goto bad;
    }
    m = train_model_alloc(&c, msg, sizeof msg);
    if (!m)
        goto bad;
    for (size_t i = 0; i < m->n_tens; i++) {
        const tensor_rec *t = &m->tens[i];
        const gguf_tensor *g = gguf_find_tensor(f, t->name);
        if (!g) {
            snprintf(msg, sizeof msg, "tensor '%s' is missing", t->name);
            goto bad;
        }
        if (g->n_elems != (uint64_t)t->rows * t->cols || g->ne[0] != t->cols ||
            !quant_can_dequantize(g->type)) {
            snprintf(msg, sizeof msg, "tensor '%s' is %s [%llu, %llu], expected a float or quantized [%u, %u]",
                     t->name, ggml_type_name(g->type), (unsigned long long)g->ne[0],
                     (unsigned long long)g->ne[1], t->cols, t->rows);
            goto bad;
        }
        size_t row_bytes = (size_t)(g->n_bytes / t->rows);
        for (uint32_t r = 0; r < t->rows; r++)
            if (quant_dequantize_row(g->type, (const uint8_t *)g->data + (size_t)r * row_bytes,
                                     m->params + t->off + (size_t)r * t->cols, t->cols) != QUANT_OK) {
                snprintf(msg, sizeof msg, "tensor '%s' cannot be converted from %s", t->name,
                         ggml_type_name(g->type));
                goto bad;
            }
    }
    gguf_close(f);
    *out = m;
    return TRAIN_OK;

bad:
    util_errf(err, errlen, "%s: %s", path, msg);
    train_free(m);
    gguf_close(f);
    return TRAIN_EBAD;
}
