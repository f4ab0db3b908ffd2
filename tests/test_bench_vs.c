/*
 * test_bench_vs.c — tools/bench_vs and tools/bench_vs.sh (the side-by-side
 * step of `make bench`) on a model written by tools/mkmodel, at a tiny
 * size.  No figure of ours is checked (they are timings): bench_vs prints
 * its two machine lines with the sizes asked for and the median of the
 * runs it lists; the script, against stand-ins for llama.cpp's and
 * ik_llama.cpp's llama-bench that check the flags they are given and
 * answer CSV with known figures, reports the medians of theirs and the
 * median and range of the per-round ratios computed here from the
 * progress lines; without LLAMA_BENCH it says how to enable it, exit 0.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ROUNDS 3

static const char *build_dir(void)
{
    const char *b = getenv("FRONTDESK_BUILD");
    return b && *b ? b : "build";
}

static const char *models_dir(void)
{
    return test_path(test_tmpdir(), "models");
}

/* The file bench_vs.sh expects for smollm2-135m:q8_0 (its name says GPT-2's
 * vocabulary; no vocabulary is needed by our side or by the stand-ins). */
static const char *model_path(void)
{
    return test_path(models_dir(), "random-smollm2-135m-q8_0-ggml-vocab-gpt-2.gguf");
}

static int setup(void **state)
{
    (void)state;
    mkdir(models_dir(), 0755);
    const char *argv[] = {test_path(build_dir(), "tools/mkmodel"), "--shape", "smollm2-135m", "--type", "q8_0",
                          "--out", model_path(), NULL};
    char *o, *e;
    int rc = test_run(argv, NULL, 0, &o, &e);
    if (rc != 0)
        fprintf(stderr, "mkmodel exited %d: %s\n", rc, e);
    free(o);
    free(e);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median3(const double *v)
{
    double s[ROUNDS];
    memcpy(s, v, sizeof s);
    qsort(s, ROUNDS, sizeof *s, cmp_double);
    return s[ROUNDS / 2];
}

static void test_machine_lines(void **state)
{
    (void)state;
    const char *argv[] = {test_path(build_dir(), "tools/bench_vs"), "--runs", "3", "--threads", "2", "--prompt", "8",
                          "--gen", "3", "--seed", "5", model_path(), NULL};
    char *o, *e;
    int rc = test_run(argv, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("bench_vs exited %d: %s", rc, e);
    int n_pp = 0, n_tg = 0;
    double pp = 0, tg = 0, runs_pp[ROUNDS] = {0}, runs_tg[ROUNDS] = {0};
    int n_runs = 0;
    for (char *line = strtok(o, "\n"); line; line = strtok(NULL, "\n")) {
        int n, t, used = 0;
        double v;
        if (!strncmp(line, "# runs, tok/s:", 14)) {
            const char *p = line + 14;
            while (n_runs < ROUNDS && sscanf(p, " pp %lf tg %lf%n", &runs_pp[n_runs], &runs_tg[n_runs], &used) == 2) {
                n_runs++;
                p += used;
                if (*p == ';')
                    p++;
            }
            continue;
        }
        if (line[0] == '#')
            continue;
        if (sscanf(line, "pp %d %d %lf%n", &n, &t, &v, &used) == 3 && !line[used]) {
            assert_int_equal(n, 8);
            assert_int_equal(t, 2);
            pp = v, n_pp++;
        } else if (sscanf(line, "tg %d %d %lf%n", &n, &t, &v, &used) == 3 && !line[used]) {
            assert_int_equal(n, 3);
            assert_int_equal(t, 2);
            tg = v, n_tg++;
        } else {
            fail_msg("a line neither '#' nor pp/tg: [%s]", line);
        }
    }
    assert_int_equal(n_pp, 1);
    assert_int_equal(n_tg, 1);
    assert_int_equal(n_runs, ROUNDS);
    assert_true(isfinite(pp) && pp > 0 && isfinite(tg) && tg > 0);
    /* the machine lines are the medians of the runs listed (both at 2 decimals) */
    assert_true(fabs(pp - median3(runs_pp)) < 0.005);
    assert_true(fabs(tg - median3(runs_tg)) < 0.005);
    free(o);
    free(e);
}

static void test_usage_and_errors(void **state)
{
    (void)state;
    const char *bin = test_path(build_dir(), "tools/bench_vs");
    const char *bad[][5] = {{bin, NULL},
                            {bin, "--runs", "0", "x.gguf", NULL},
                            {bin, "--prompt", "8x", "x.gguf", NULL},
                            {bin, "--gen", NULL},
                            {bin, "a.gguf", "b.gguf", NULL}};
    char *o, *e;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = test_run(bad[i], NULL, 0, &o, &e);
        if (rc != 2 || !strstr(e, "usage"))
            fail_msg("case %zu: exit %d, stderr [%s]", i, rc, e);
        free(o);
        free(e);
    }
    const char *missing[] = {bin, test_path(test_tmpdir(), "no-such.gguf"), NULL};
    assert_int_equal(test_run(missing, NULL, 0, &o, &e), 1);
    assert_non_null(strstr(e, "bench_vs: "));
    assert_null(strstr(o, "pp "));
    free(o);
    free(e);
}

static void test_script_without_llama_bench(void **state)
{
    (void)state;
    const char *argv[] = {"/usr/bin/env", "-u", "LLAMA_BENCH", "sh", "tools/bench_vs.sh", build_dir(), NULL};
    char *o, *e;
    assert_int_equal(test_run(argv, NULL, 0, &o, &e), 0);
    char *nl = strchr(o, '\n');
    if (!nl || nl[1] || !strstr(o, "LLAMA_BENCH="))
        fail_msg("want one line naming LLAMA_BENCH, got [%s]", o);
    free(o);
    free(e);
}

/* A stand-in for llama-bench: refuses flags other than those bench_vs.sh
 * passes (with -rtr when ik), then answers CSV in an order of its own,
 * with a comma inside a quoted field.  `figures` is a case statement
 * setting pp and tg from $k (the call number) or $rtr. */
static const char *write_fake(const char *name, const char *figures)
{
    const char *path = test_path(test_tmpdir(), name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "#!/bin/sh\n"
            "m= p= n= t= r= o= rtr=\n"
            "while [ $# -gt 0 ]; do\n"
            "  case $1 in -m) m=$2 ;; -p) p=$2 ;; -n) n=$2 ;; -t) t=$2 ;; -r) r=$2 ;; -o) o=$2 ;;\n"
            "  -rtr) rtr=$2 ;; *) echo \"unknown flag $1\" >&2; exit 1 ;; esac\n"
            "  shift 2\n"
            "done\n"
            "if [ ! -f \"$m\" ] || [ \"$p.$n.$t.$r.$o\" != 8.3.1.1.csv ]; then echo \"bad flags\" >&2; exit 1; fi\n"
            "k=$(( $(cat \"$0.calls\" 2>/dev/null || echo 0) + 1 )); echo $k > \"$0.calls\"\n"
            "%s\n"
            "echo 'loading the model' >&2\n"
            "echo 'build_commit,cpu_info,model_filename,n_prompt,n_gen,avg_ts,stddev_ts'\n"
            "echo \"\\\"c0ffee\\\",\\\"AMD, Inc \\\"\\\"EPYC\\\"\\\"\\\",\\\"$m\\\",\\\"$p\\\",\\\"0\\\",\\\"$pp\\\",\\\"1.5\\\"\"\n"
            "echo \"\\\"c0ffee\\\",\\\"AMD, Inc\\\",\\\"$m\\\",\\\"0\\\",\\\"$n\\\",\\\"$tg\\\",\\\"0.5\\\"\"\n",
            figures);
    fclose(f);
    chmod(path, 0755);
    return path;
}

/* The whitespace-separated words of the first table row (a line starting
 * with the model) that contains `needle`, into w; their count. */
static int row_words(const char *out, const char *needle, char w[][32], int max)
{
    char *copy = strdup(out);
    int n = 0;
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "smollm2-135m:q8_0 ", 18) || !strstr(line, needle))
            continue;
        for (char *tok = strtok(line, " "); tok && n < max; tok = strtok(NULL, " "))
            snprintf(w[n++], 32, "%s", tok);
        break;
    }
    free(copy);
    return n;
}

static void expect_cells(char w[][32], int at, double ours_med, double theirs_med, const double *q,
                         const char *what)
{
    char want[4][32];
    double s[ROUNDS];
    memcpy(s, q, sizeof s);
    qsort(s, ROUNDS, sizeof *s, cmp_double);
    snprintf(want[0], 32, "%.1f", ours_med);
    snprintf(want[1], 32, "%.1f", theirs_med);
    snprintf(want[2], 32, "%.2f", s[1]);
    snprintf(want[3], 32, "(%.2f-%.2f)", s[0], s[2]);
    for (int i = 0; i < 4; i++)
        if (strcmp(w[at + i], want[i]))
            fail_msg("%s cell %d: [%s], want [%s]", what, i, w[at + i], want[i]);
}

static void test_script_table(void **state)
{
    (void)state;
    const char *llama = write_fake("llama-bench", "case $k in 1) pp=1000 tg=100 ;; 2) pp=300 tg=30 ;; "
                                                  "*) pp=200.5 tg=20.25 ;; esac");
    const char *ik = write_fake("ik-llama-bench", "case $rtr in 0) pp=400 tg=40 ;; 1) pp=800 tg=80 ;; "
                                                  "*) echo 'no -rtr' >&2; exit 1 ;; esac");
    char lb[512], ikb[512], dir[512];
    snprintf(lb, sizeof lb, "LLAMA_BENCH=%s", llama);
    snprintf(ikb, sizeof ikb, "IK_LLAMA_BENCH=%s", ik);
    snprintf(dir, sizeof dir, "VS_DIR=%s", models_dir());
    /* the user's own settings for the script left out */
    const char *argv[] = {"/usr/bin/env", "-u", "IK_RTR", "-u", "LLAMA_BENCH_ARGS", "-u", "IK_LLAMA_BENCH_ARGS",
                          lb, ikb, dir, "VS_MODELS=smollm2-135m:q8_0", "VS_THREADS=1", "VS_PROMPT=8", "VS_GEN=3",
                          "ROUNDS=3", "sh", "tools/bench_vs.sh", build_dir(), NULL};
    char *o, *e;
    int rc = test_run(argv, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("bench_vs.sh exited %d: %s\n%s", rc, o, e);
    if (strstr(e, "failed"))
        fail_msg("a contender failed: %s", e);

    /* ours, per round, from the progress lines; their order rotates */
    double ours_pp[ROUNDS], ours_tg[ROUNDS];
    const char *first_of_round[ROUNDS] = {0};
    for (int r = 1; r <= ROUNDS; r++) {
        char key[64];
        snprintf(key, sizeof key, "round %d smollm2-135m:q8_0 t=1 frontdesk: pp ", r);
        const char *p = strstr(o, key);
        if (!p || sscanf(p + strlen(key), "%lf tg %lf", &ours_pp[r - 1], &ours_tg[r - 1]) != 2)
            fail_msg("no progress line for round %d: %s", r, o);
        snprintf(key, sizeof key, "round %d smollm2-135m:q8_0 t=1 ", r);
        first_of_round[r - 1] = strstr(o, key) + strlen(key);
    }
    assert_int_equal(strncmp(first_of_round[0], "frontdesk:", 10), 0);
    assert_int_equal(strncmp(first_of_round[1], "llama.cpp:", 10), 0);
    assert_int_equal(strncmp(first_of_round[2], "ik_llama.cpp -rtr 0:", 20), 0);

    static const double their_pp[ROUNDS] = {1000, 300, 200.5}, their_tg[ROUNDS] = {100, 30, 20.25};
    double q_pp[ROUNDS], q_tg[ROUNDS];
    for (int r = 0; r < ROUNDS; r++)
        q_pp[r] = ours_pp[r] / their_pp[r], q_tg[r] = ours_tg[r] / their_tg[r];
    char w[16][32];
    /* model:type thr against: pp ours, theirs, ratio, (range), tg the same */
    assert_int_equal(row_words(o, " llama.cpp ", w, 16), 11);
    assert_string_equal(w[1], "1");
    assert_string_equal(w[2], "llama.cpp");
    expect_cells(w, 3, median3(ours_pp), 300, q_pp, "llama.cpp pp");
    expect_cells(w, 7, median3(ours_tg), 30, q_tg, "llama.cpp tg");

    static const double ik_pp[2] = {400, 800}, ik_tg[2] = {40, 80};
    for (int rtr = 0; rtr < 2; rtr++) {
        char needle[64];
        snprintf(needle, sizeof needle, " ik_llama.cpp -rtr %d ", rtr);
        if (row_words(o, needle, w, 16) != 13)
            fail_msg("no row [%s] in %s", needle, o);
        assert_string_equal(w[1], "1");
        for (int r = 0; r < ROUNDS; r++)
            q_pp[r] = ours_pp[r] / ik_pp[rtr], q_tg[r] = ours_tg[r] / ik_tg[rtr];
        expect_cells(w, 5, median3(ours_pp), ik_pp[rtr], q_pp, "ik pp");
        expect_cells(w, 9, median3(ours_tg), ik_tg[rtr], q_tg, "ik tg");
    }
    assert_non_null(strstr(o, "llama.cpp: c0ffee"));
    free(o);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_machine_lines),
        cmocka_unit_test(test_usage_and_errors),
        cmocka_unit_test(test_script_without_llama_bench),
        cmocka_unit_test(test_script_table),
    };
    return cmocka_run_group_tests_name("bench_vs", tests, setup, NULL);
}
