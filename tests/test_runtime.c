/*
 * test_runtime.c — sampler, chat templates and the thread pool.
 */
#include "tests/testutil.h"

#include "engine/chat_template.h"
#include "engine/pool.h"
#include "engine/sampler.h"
#include "util/util.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define V 1000

static void random_logits(float *l, uint64_t seed)
{
    for (int i = 0; i < V; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        l[i] = (float)((seed >> 40) % 10000) / 1000.0f;
    }
}

static void test_greedy_and_ties(void **state)
{
    (void)state;
    sampler_params p = sampler_defaults();
    p.temp = 0;
    p.repeat_penalty = 1.0f;
    sampler *s = sampler_new(&p, V);
    float l[V];
    random_logits(l, 1);
    int best = 0;
    for (int i = 1; i < V; i++)
        if (l[i] > l[best])
            best = i;
    assert_int_equal(sampler_sample(s, l), best);
    for (int i = 0; i < V; i++)
        l[i] = 0.0f;
    l[7] = l[3] = 1.0f; /* tie: the lower id wins */
    assert_int_equal(sampler_sample(s, l), 3);
    sampler_free(s);
}

static void test_seed_reproduces(void **state)
{
    (void)state;
    sampler_params p = sampler_defaults();
    p.temp = 1.5f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 1234;
    sampler *a = sampler_new(&p, V), *b = sampler_new(&p, V);
    float l1[V], l2[V];
    int differ_from_greedy = 0, seq_a[50];
    for (int t = 0; t < 50; t++) {
        random_logits(l1, (uint64_t)t + 99);
        memcpy(l2, l1, sizeof l1);
        int x = sampler_sample(a, l1), y = sampler_sample(b, l2);
        assert_int_equal(x, y);
        seq_a[t] = x;
        sampler_accept(a, x);
        sampler_accept(b, y);
        random_logits(l1, (uint64_t)t + 99);
        int best = 0;
        for (int i = 1; i < V; i++)
            if (l1[i] > l1[best])
                best = i;
        differ_from_greedy += x != best;
    }
    assert_true(differ_from_greedy > 10); /* it really samples */
    sampler_reset(a);
    for (int t = 0; t < 50; t++) {
        random_logits(l1, (uint64_t)t + 99);
        int x = sampler_sample(a, l1);
        assert_int_equal(x, seq_a[t]); /* reset re-seeds */
        sampler_accept(a, x);
    }
    sampler_free(a);
    sampler_free(b);
}

static void test_top_k_one_is_greedy(void **state)
{
    (void)state;
    sampler_params p = sampler_defaults();
    p.temp = 5.0f;
    p.top_k = 1;
    sampler *s = sampler_new(&p, V);
    for (int t = 0; t < 20; t++) {
        float l[V];
        random_logits(l, (uint64_t)t);
        int best = 0;
        for (int i = 1; i < V; i++)
            if (l[i] > l[best])
                best = i;
        assert_int_equal(sampler_sample(s, l), best);
    }
    sampler_free(s);
}

static void test_min_p_and_top_p_cut(void **state)
{
    (void)state;
    /* two plausible tokens, the rest far below: min-p and top-p must never
     * pick the rest */
    sampler_params p = sampler_defaults();
    p.temp = 1.0f;
    p.top_k = 0;
    p.repeat_penalty = 1.0f;
    for (int mode = 0; mode < 2; mode++) {
        p.min_p = mode == 0 ? 0.1f : 0.0f;
        p.top_p = mode == 1 ? 0.9f : 1.0f;
        sampler *s = sampler_new(&p, V);
        int seen[2] = {0, 0};
        for (int t = 0; t < 400; t++) {
            float l[V];
            for (int i = 0; i < V; i++)
                l[i] = -10.0f;
            l[10] = 5.0f;
            l[20] = 4.8f;
            int x = sampler_sample(s, l);
            assert_true(x == 10 || x == 20);
            seen[x == 20]++;
        }
        assert_true(seen[0] > 50 && seen[1] > 50);
        sampler_free(s);
    }
}

static void test_repeat_penalty(void **state)
{
    (void)state;
    sampler_params p = sampler_defaults();
    p.temp = 0;
    p.repeat_penalty = 2.0f;
    sampler *s = sampler_new(&p, V);
    float l[V] = {0};
    l[5] = 1.0f;
    l[6] = 0.8f;
    assert_int_equal(sampler_sample(s, l), 5);
    sampler_accept(s, 5);
    memset(l, 0, sizeof l);
    l[5] = 1.0f;
    l[6] = 0.8f;
    assert_int_equal(sampler_sample(s, l), 6); /* 1.0 / 2 < 0.8 */
    sampler_free(s);
}

static const chat_msg conv[] = {
    {"system", "Be brief."},
    {"user", "Hi"},
    {"assistant", "Hello!"},
    {"user", "Where is my order?"},
};

static void expect_render(const char *name, const char *want)
{
    chat_tmpl t;
    assert_true(chat_tmpl_from_name(name, &t));
    strbuf sb = {0};
    chat_tmpl_apply(t, conv, 4, true, &sb);
    if (strcmp(sb.data, want) != 0)
        fail_msg("%s rendered\n%s\nexpected\n%s", name, sb.data, want);
    sb_free(&sb);
}

static void test_templates_render(void **state)
{
    (void)state;
    expect_render("chatml", "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                            "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWhere is my order?"
                            "<|im_end|>\n<|im_start|>assistant\n");
    expect_render("llama3", "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                            "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
                            "<|start_header_id|>user<|end_header_id|>\n\nWhere is my order?<|eot_id|>"
                            "<|start_header_id|>assistant<|end_header_id|>\n\n");
    expect_render("llama2-sys", "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]Hello!</s>"
                                "[INST] Where is my order? [/INST]");
    expect_render("llama2", "[INST] Be brief.\nHi [/INST]Hello!</s>[INST] Where is my order? [/INST]");
    expect_render("zephyr", "<|system|>\nBe brief.<|endoftext|>\n<|user|>\nHi<|endoftext|>\n"
                            "<|assistant|>\nHello!<|endoftext|>\n<|user|>\nWhere is my order?<|endoftext|>\n"
                            "<|assistant|>\n");
    expect_render("gemma", "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!"
                           "<end_of_turn>\n<start_of_turn>user\nWhere is my order?<end_of_turn>\n"
                           "<start_of_turn>model\n");
    expect_render("phi3", "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n"
                          "<|user|>\nWhere is my order?<|end|>\n<|assistant|>\n");
    chat_tmpl t;
    assert_false(chat_tmpl_from_name("jinja", &t));
}

static void expect_detect(const char *tmpl, const char *name, bool known)
{
    bool k;
    chat_tmpl t = chat_tmpl_detect(tmpl, strlen(tmpl), &k);
    if (strcmp(chat_tmpl_name(t), name) != 0 || k != known)
        fail_msg("detected %s (known %d) for %.60s..., expected %s", chat_tmpl_name(t), k, tmpl, name);
}

static void test_templates_detect(void **state)
{
    (void)state;
    expect_detect("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] "
                  "+ '<|im_end|>' + '\\n'}}{% endfor %}", "chatml", true);
    expect_detect("{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
                  "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}",
                  "llama3", true);
    expect_detect("{% if message['role'] == 'system' %}{{ '<<SYS>>\\n' + content }}{% endif %}"
                  "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}", "llama2-sys-strip", true);
    expect_detect("{{ bos_token }}{% for message in messages %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
                  "{% endfor %}", "llama2", true);
    expect_detect("{% for message in messages %}{{ '<|user|>\\n' + message['content'] + eos_token }}"
                  "{{ '<|assistant|>\\n' }}{% endfor %}", "zephyr", true);
    expect_detect("{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + role + '\\n' }}{% endfor %}",
                  "gemma", true);
    expect_detect("{% for message in messages %}{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + "
                  "'<|assistant|>' + '\\n'}}{% endfor %}", "phi3", true);
    expect_detect("", "chatml", false);
    expect_detect("{{ messages }} something unknown", "chatml", false);
}

typedef struct {
    atomic_long sum;
    atomic_int calls;
} pool_state;

static void pool_work(void *arg, int i, int n)
{
    pool_state *s = arg;
    long lo, hi, part = 0;
    pool_split(1000003, i, n, &lo, &hi);
    for (long k = lo; k < hi; k++)
        part += k;
    atomic_fetch_add(&s->sum, part);
    atomic_fetch_add(&s->calls, 1);
}

static void test_pool(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 4; threads++) {
        pool *p = pool_new(threads);
        assert_non_null(p);
        assert_int_equal(pool_size(p), threads);
        for (int round = 0; round < 200; round++) {
            pool_state s = {0};
            pool_run(p, pool_work, &s);
            assert_int_equal(atomic_load(&s.calls), threads);
            assert_true(atomic_load(&s.sum) == 1000003L * 1000002L / 2);
        }
        pool_free(p);
    }
    pool_free(NULL);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An idle pool sleeps: after its short watch (0.1 ms) the workers cost no
 * CPU.  Measured as the process's CPU time over 200 ms of idleness, which
 * a spinning worker would fill (the bound leaves room for a slow start). */
static void test_pool_sleeps_when_idle(void **state)
{
    (void)state;
    pool *p = pool_new(2);
    assert_non_null(p);
    pool_state s = {0};
    pool_run(p, pool_work, &s);
    struct timespec settle = {0, 20 * 1000000L}, idle = {0, 200 * 1000000L};
    nanosleep(&settle, NULL);
    double before = cpu_seconds();
    nanosleep(&idle, NULL);
    double used = cpu_seconds() - before;
    printf("  idle pool of 2 threads: %.2f ms of CPU in 200 ms\n", used * 1e3);
    assert_true(used < 0.02);
    /* and it still works after sleeping */
    pool_run(p, pool_work, &s);
    assert_int_equal(atomic_load(&s.calls), 4);
    pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_and_ties),
        cmocka_unit_test(test_seed_reproduces),
        cmocka_unit_test(test_top_k_one_is_greedy),
        cmocka_unit_test(test_min_p_and_top_p_cut),
        cmocka_unit_test(test_repeat_penalty),
        cmocka_unit_test(test_templates_render),
        cmocka_unit_test(test_templates_detect),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_pool_sleeps_when_idle),
    };
    return cmocka_run_group_tests_name("runtime", tests, NULL, NULL);
}
