/*
 * sampler.c — see sampler.h.
 */
#include "engine/sampler.h"

#include "util/util.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t id;
    float logit;
    float p;
} cand;

struct sampler {
    sampler_params p;
    int n_vocab;
    cand *cands;      /* (n_vocab) */
    int32_t *recent;  /* ring of the last repeat_last_n tokens */
    int n_recent, recent_head;
    uint64_t rng[4];
};

sampler_params sampler_defaults(void)
{
    return (sampler_params){.temp = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f,
                            .repeat_penalty = 1.0f, .repeat_last_n = 64, .seed = 0};
}

/* xoshiro256** seeded through splitmix64 */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t s[4])
{
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* uniform in [0, 1) */
static double rng_uniform(uint64_t s[4]) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

sampler *sampler_new(const sampler_params *p, int n_vocab)
{
    sampler *s = xcalloc(1, sizeof *s);
    s->p = *p;
    if (s->p.repeat_last_n < 0)
        s->p.repeat_last_n = 0;
    s->n_vocab = n_vocab;
    s->cands = xmallocarray((size_t)n_vocab, sizeof *s->cands);
    s->recent = xmallocarray((size_t)(s->p.repeat_last_n ? s->p.repeat_last_n : 1), sizeof *s->recent);
    sampler_reset(s);
    return s;
}

void sampler_free(sampler *s)
{
    if (!s)
        return;
    free(s->cands);
    free(s->recent);
    free(s);
}

void sampler_reset(sampler *s)
{
    s->n_recent = s->recent_head = 0;
    uint64_t x = s->p.seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x);
}

void sampler_accept(sampler *s, int32_t id)
{
    int n = s->p.repeat_last_n;
    if (n == 0)
        return;
    s->recent[s->recent_head] = id;
    s->recent_head = (s->recent_head + 1) % n;
    if (s->n_recent < n)
        s->n_recent++;
}

static void apply_penalty(sampler *s, float *logits)
{
    float r = s->p.repeat_penalty;
    if (r == 1.0f || s->n_recent == 0)
        return;
    /* Each distinct recent token is penalised once: mark by negating a
     * copy is not possible without allocation, so check earlier entries. */
    for (int i = 0; i < s->n_recent; i++) {
        int32_t id = s->recent[i];
        if (id < 0 || id >= s->n_vocab)
            continue;
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = s->recent[j] == id;
        if (seen)
            continue;
        logits[id] = logits[id] > 0 ? logits[id] / r : logits[id] * r;
    }
}

static int cand_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit < y->logit ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Move the k largest candidates to the front, sorted (k <= n). */
static void top_k_sorted(cand *c, int n, int k)
{
    if (k < n) {
        /* quickselect partition around the k-th largest */
        int lo = 0, hi = n - 1;
        while (lo < hi) {
            cand pivot = c[(lo + hi) / 2];
            int i = lo, j = hi;
            while (i <= j) {
                while (cand_desc(&c[i], &pivot) < 0) i++;
                while (cand_desc(&c[j], &pivot) > 0) j--;
                if (i <= j) {
                    cand t = c[i]; c[i] = c[j]; c[j] = t;
                    i++; j--;
                }
            }
            if (k - 1 <= j) hi = j;
            else if (k - 1 >= i) lo = i;
            else break;
        }
    }
    qsort(c, (size_t)k, sizeof *c, cand_desc);
}

int32_t sampler_sample(sampler *s, float *logits)
{
    apply_penalty(s, logits);
    int n = s->n_vocab;
    if (s->p.temp <= 0.0f) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (logits[i] > logits[best])
                best = i;
        return best;
    }
    cand *c = s->cands;
    for (int i = 0; i < n; i++)
        c[i] = (cand){i, logits[i], 0.0f};
    int k = s->p.top_k > 0 && s->p.top_k < n ? s->p.top_k : n;
    top_k_sorted(c, n, k);
    n = k;

    /* probabilities at temperature 1 for the nucleus and min-p cuts */
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        c[i].p = expf(c[i].logit - c[0].logit);
        sum += c[i].p;
    }
    if (s->p.top_p < 1.0f) {
        double acc = 0.0;
        for (int i = 0; i < n; i++) {
            acc += c[i].p / sum;
            if (acc >= s->p.top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (s->p.min_p > 0.0f) {
        /* keep tokens with p >= min_p · p_max (c[0].p is 1 by construction) */
        int keep = 1;
        while (keep < n && c[keep].p >= s->p.min_p)
            keep++;
        n = keep;
    }
    sum = 0.0;
    for (int i = 0; i < n; i++) {
        c[i].p = expf((c[i].logit - c[0].logit) / s->p.temp);
        sum += c[i].p;
    }
    double r = rng_uniform(s->rng) * sum, acc = 0.0;
    for (int i = 0; i < n; i++) {
        acc += c[i].p;
        if (r < acc)
            return c[i].id;
    }
    return c[n - 1].id;
}
