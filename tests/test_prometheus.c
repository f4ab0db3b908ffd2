/*
 * test_prometheus.c — frontdesk's Prometheus output read by Prometheus's
 * own tools: `promtool check metrics` on `stats --prometheus` (a store
 * with two versions, one named with a quote, a backslash and a newline,
 * and every outcome) and on serve's /metrics; then a real Prometheus
 * (the Debian package, started here on a free 127.0.0.1 port with a
 * temporary store) scraping a running `frontdesk serve` every second
 * while 20 chat completions arrive from four threads: once a scrape after
 * the load has landed and the counter holds still, its counters must equal
 * the store's counts (SQL on the file, sqlite3 directly) and PromQL's
 * histogram_quantile(0.95, ...) must lie inside the bucket holding the
 * exact nearest-rank p95 of the stored latencies.
 *
 * Without promtool or prometheus the tests that need them skip, saying so.
 * Prometheus is stopped at the end of its test and on any failure (the
 * test's teardown, and an atexit handler besides).
 */
#include "testutil.h"
#include "util/util.h"

#include "serve_client.h"
#include "store_util.h"
#include "storage/chats.h"
#include "storage/metrics.h"
#include "storage/rollup.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MODEL "models/frontdesk-cs.gguf"
#define N_LOAD 20
#define N_THREADS 4

static const char *tmp(const char *name) { return test_path(test_tmpdir(), name); }

/* The first of a few directories holding an executable `name`, or NULL. */
static const char *tool(const char *name)
{
    static char found[2][256];
    const char *dirs[] = {"/usr/bin", "/usr/local/bin", "/bin"};
    int slot = !strcmp(name, "promtool");
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(found[slot], sizeof found[slot], "%s/%s", dirs[i], name);
        if (access(found[slot], X_OK) == 0)
            return found[slot];
    }
    return NULL;
}

/* promtool check metrics on text: its exit status, and what it said. */
static int promtool_check(const char *text, char **said)
{
    const char *argv[] = {tool("promtool"), "check", "metrics", NULL};
    char *out = NULL, *err = NULL;
    int rc = test_run(argv, text, strlen(text), &out, &err);
    strbuf sb = {0};
    sb_puts(&sb, out ? out : "");
    sb_puts(&sb, err ? err : "");
    free(out);
    free(err);
    *said = sb.data ? sb.data : xstrdup("");
    return rc;
}

static void expect_promtool_clean(const char *what, const char *text)
{
    char *said;
    int rc = promtool_check(text, &said);
    if (rc != 0 || *said)
        fail_msg("promtool check metrics on %s: exit %d, said:\n%s\n--- the text:\n%s", what, rc, said, text);
    free(said);
}

/* A bound as the exposition writes it: a whole number without a fraction,
 * else the shortest form that reads back. */
static void le_text(double b, char *out, size_t n)
{
    if (b == floor(b)) {
        snprintf(out, n, "%.0f", b);
        return;
    }
    for (int d = 1; d <= 17; d++) {
        snprintf(out, n, "%.*g", d, b);
        if (strtod(out, NULL) == b)
            return;
    }
}

/* ---- stats --prometheus on a hand-made store ------------------------------------------------ */

static void hand_request(db *d, int64_t model, db_outcome o, double latency_ms, int tokens)
{
    int64_t id;
    OK(d, db_request_begin(d, model, "local", 0, 0, 0, &id));
    db_request_result r = {.outcome = o, .error = o == DB_OUTCOME_OK ? NULL : "it broke", .prompt_tokens = 3,
                           .gen_tokens = tokens, .ttft_ms = tokens > 0 ? 1 : -1, .prefill_ms = -1, .decode_ms = -1,
                           .latency_ms = latency_ms, .prefill_tps = 0, .decode_tps = 0, .attempts = 1};
    OK(d, db_request_finish(d, id, &r));
}

/* Milliseconds halfway between bound k-1 (0 for k = 0) and bound k: a value
 * whose bucket is k, whatever the rounding. */
static double inside(int k)
{
    double lo = k ? rollup_le_seconds[k - 1] : 0;
    return (lo + rollup_le_seconds[k]) / 2 * 1e3;
}

static void test_stats_prometheus(void **state)
{
    (void)state;
    if (!tool("promtool"))
        test_skip("promtool not installed (Debian's prometheus package: make deps)");
    const char *dbp = tmp("stats.db");
    char msg[300];
    db *d;
    if (db_open(&d, dbp, msg, sizeof msg) != DB_OK)
        fail_msg("%s", msg);
    const char *odd = "Al\"pha\\ one\ntwo";
    int64_t a = store_model(d, 'a', odd, "alpha.gguf"), b = store_model(d, 'b', "Beta", "beta.gguf");
    /* alpha: ok in buckets 2, 2, 5 and one above every bound; an error in
     * bucket 0; a timeout in bucket 7.  beta: one cancelled (bucket 1), one
     * interrupted with no latency, one ok in bucket 3. */
    hand_request(d, a, DB_OUTCOME_OK, inside(2), 4);
    hand_request(d, a, DB_OUTCOME_OK, inside(2), 6);
    hand_request(d, a, DB_OUTCOME_OK, inside(5), 8);
    hand_request(d, a, DB_OUTCOME_OK, rollup_le_seconds[ROLLUP_N_LE_SECONDS - 1] * 1e3 * 3, 10);
    hand_request(d, a, DB_OUTCOME_ERROR, inside(0), 0);
    hand_request(d, a, DB_OUTCOME_TIMEOUT, inside(7), 0);
    hand_request(d, b, DB_OUTCOME_CANCELLED, inside(1), 2);
    hand_request(d, b, DB_OUTCOME_INTERRUPTED, -1, 0);
    hand_request(d, b, DB_OUTCOME_OK, inside(3), 5);
    int64_t running;
    OK(d, db_request_begin(d, b, "local", 0, 0, 0, &running)); /* not finished: not counted */
    db_close(d);

    char *out, *err;
    const char *argv[] = {test_bin(), "stats", "--prometheus", "--db", dbp, NULL};
    int rc = test_run(argv, NULL, 0, &out, &err);
    if (rc != 0)
        fail_msg("stats --prometheus exit %d: %s", rc, err);
    free(err);
    expect_promtool_clean("stats --prometheus", out);

    const char *A = "model=\"Al\\\"pha\\\\ one\\ntwo\",sha256=\"aaaaaaaaaaaa\"";
    const char *B = "model=\"Beta\",sha256=\"bbbbbbbbbbbb\"";
    const struct {
        const char *who, *outcome;
        int requests, tokens;
    } want[] = {
        {A, "ok", 4, 28},     {A, "error", 1, 0},      {A, "cancelled", 0, 0}, {A, "timeout", 1, 0},
        {A, "interrupted", 0, 0}, {B, "ok", 1, 5},     {B, "error", 0, 0},     {B, "cancelled", 1, 2},
        {B, "timeout", 0, 0}, {B, "interrupted", 1, 0},
    };
    char s[400];
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        snprintf(s, sizeof s, "frontdesk_requests_total{%s,outcome=\"%s\"}", want[i].who, want[i].outcome);
        if (test_prom_sample(out, s) != want[i].requests)
            fail_msg("%s = %g, want %d", s, test_prom_sample(out, s), want[i].requests);
        snprintf(s, sizeof s, "frontdesk_generated_tokens_total{%s,outcome=\"%s\"}", want[i].who, want[i].outcome);
        if (test_prom_sample(out, s) != want[i].tokens)
            fail_msg("%s = %g, want %d", s, test_prom_sample(out, s), want[i].tokens);
        snprintf(s, sizeof s, "frontdesk_prompt_tokens_total{%s,outcome=\"%s\"}", want[i].who, want[i].outcome);
        if (test_prom_sample(out, s) != 3 * want[i].requests)
            fail_msg("%s = %g, want %d", s, test_prom_sample(out, s), 3 * want[i].requests);
    }
    /* alpha's ok latencies, cumulative per bound: 0 0 2 2 2 3 ... 3, +Inf 4 */
    for (int k = 0; k <= ROLLUP_N_LE_SECONDS; k++) {
        char le[32] = "+Inf";
        if (k < ROLLUP_N_LE_SECONDS)
            le_text(rollup_le_seconds[k], le, sizeof le);
        snprintf(s, sizeof s, "frontdesk_request_duration_seconds_bucket{%s,outcome=\"ok\",le=\"%s\"}", A, le);
        double w = k < 2 ? 0 : k < 5 ? 2 : k < ROLLUP_N_LE_SECONDS ? 3 : 4;
        if (test_prom_sample(out, s) != w)
            fail_msg("%s = %g, want %g", s, test_prom_sample(out, s), w);
    }
    snprintf(s, sizeof s, "frontdesk_request_duration_seconds_count{%s,outcome=\"ok\"}", A);
    assert_true(test_prom_sample(out, s) == 4);
    snprintf(s, sizeof s, "frontdesk_request_duration_seconds_sum{%s,outcome=\"ok\"}", A);
    double sum = (2 * inside(2) + inside(5) + rollup_le_seconds[ROLLUP_N_LE_SECONDS - 1] * 1e3 * 3) / 1e3;
    if (fabs(test_prom_sample(out, s) - sum) > 1e-9 * sum)
        fail_msg("%s = %.17g, want %.17g", s, test_prom_sample(out, s), sum);
    /* the interrupted reply has no latency: no observation */
    snprintf(s, sizeof s, "frontdesk_request_duration_seconds_count{%s,outcome=\"interrupted\"}", B);
    assert_true(test_prom_sample(out, s) == 0);
    free(out);

    /* --window other than all is a usage error; all is the same output */
    const char *win[] = {test_bin(), "stats", "--prometheus", "--window", "5m", "--db", dbp, NULL};
    assert_int_equal(test_run(win, NULL, 0, &out, &err), 2);
    assert_non_null(strstr(err, "--window"));
    free(out);
    free(err);
    const char *all[] = {test_bin(), "stats", "--prometheus", "--window", "all", "--db", dbp, NULL};
    assert_int_equal(test_run(all, NULL, 0, &out, &err), 0);
    free(err);
    free(out);
}

/* ---- a real Prometheus scraping serve --------------------------------------------------------- */

static pid_t prom_pid; /* the Prometheus started here, 0 when none */

static void prom_kill(void)
{
    if (prom_pid <= 0)
        return;
    kill(prom_pid, SIGTERM);
    for (int i = 0; i < 500; i++) { /* up to 5 s to shut down, then SIGKILL */
        if (waitpid(prom_pid, NULL, WNOHANG) == prom_pid) {
            prom_pid = 0;
            return;
        }
        usleep(10000);
    }
    kill(prom_pid, SIGKILL);
    waitpid(prom_pid, NULL, 0);
    prom_pid = 0;
}

static served S;
static bool serving;

static int teardown(void **state)
{
    (void)state;
    prom_kill();
    if (serving) {
        serving = false;
        char *log = NULL;
        served_stop(&S, &log);
        free(log);
    }
    return 0;
}

/* A port free on 127.0.0.1 now (the kernel's choice, released again). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len))
        fail_msg("no free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

static char prom_url[64];

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* GET url's status, 0 when nothing answers (yet). */
static long status_of(const char *url)
{
    CURL *c = curl_easy_init();
    long st = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_cleanup(c);
    return st;
}

static void prom_start(int target_port)
{
    int port = free_port();
    snprintf(prom_url, sizeof prom_url, "http://127.0.0.1:%d", port);
    const char *cfg = tmp("prometheus.yml");
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f,
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: frontdesk\n    static_configs:\n"
            "      - targets: ['127.0.0.1:%d']\n",
            target_port);
    fclose(f);
    char listen[64], tsdb[600], cfg_arg[600];
    snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", port);
    snprintf(tsdb, sizeof tsdb, "--storage.tsdb.path=%s", tmp("tsdb"));
    snprintf(cfg_arg, sizeof cfg_arg, "--config.file=%s", cfg);
    const char *log = tmp("prometheus.log");
    prom_pid = fork();
    if (prom_pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (prom_pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(tool("prometheus"), "prometheus", cfg_arg, tsdb, listen, "--log.level=warn", (char *)NULL);
        _exit(127);
    }
    /* ready when /-/ready answers 200 (its own start-up takes a few seconds) */
    char url[128];
    snprintf(url, sizeof url, "%s/-/ready", prom_url);
    for (int i = 0; i < 3000; i++) {
        if (status_of(url) == 200)
            return;
        if (waitpid(prom_pid, NULL, WNOHANG) == prom_pid) {
            prom_pid = 0;
            char *said = test_read_file(log, NULL);
            fail_msg("prometheus exited at start-up:\n%s", said);
        }
        usleep(10000);
    }
    fail_msg("prometheus not ready after 30 s");
}

/* An instant PromQL query: the first result's value and its timestamp;
 * false when the result is empty. */
static bool promql(const char *query, double *value, double *at)
{
    CURL *c = curl_easy_init();
    char *q = curl_easy_escape(c, query, 0);
    char url[2048];
    snprintf(url, sizeof url, "%s/api/v1/query?query=%s", prom_url, q);
    curl_free(q);
    curl_easy_cleanup(c);
    http_reply r;
    http_do("GET", url, NULL, 0, NULL, 0, &r);
    if (r.status != 200)
        fail_msg("%s: HTTP %ld: %s", query, r.status, r.body);
    json_t *j = json_loads(r.body, 0, NULL);
    http_reply_free(&r);
    json_t *res = json_object_get(json_object_get(j, "data"), "result");
    json_t *v = json_object_get(json_array_get(res, 0), "value");
    bool ok = json_array_size(v) == 2;
    if (ok) {
        *at = json_number_value(json_array_get(v, 0));
        *value = strtod(json_string_value(json_array_get(v, 1)), NULL);
    }
    json_decref(j);
    return ok;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *load(void *arg)
{
    int who = (int)(intptr_t)arg;
    for (int i = who; i < N_LOAD; i += N_THREADS) {
        char body[300];
        snprintf(body, sizeof body,
                 "{\"messages\":[{\"role\":\"user\",\"content\":\"Where is my order number %d?\"}],"
                 "\"max_tokens\":%d,\"temperature\":0.8,\"seed\":%d}",
                 i, 4 + i % 12, i);
        http_reply r;
        json_t *j = post_json(&S, "/v1/chat/completions", body, &r);
        json_decref(j);
        http_reply_free(&r);
    }
    return NULL;
}

static void test_real_prometheus(void **state)
{
    (void)state;
    if (!tool("promtool") || !tool("prometheus"))
        test_skip("prometheus or promtool not installed (Debian's prometheus package: make deps)");
    if (access(MODEL, R_OK) != 0)
        test_skip("%s not found", MODEL);
    served_start(&S, tmp("serve.db"), (const char *const[]){"--model", MODEL, "--parallel", "4", NULL}, NULL);
    serving = true;

    /* before any request: promtool finds it clean, every outcome at 0 */
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", S.url);
    http_reply r;
    http_do("GET", url, NULL, 0, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    expect_promtool_clean("serve /metrics at start", r.body);
    const char *outcomes[] = {"ok", "error", "cancelled"};
    for (int o = 0; o < 3; o++) {
        char want[64];
        snprintf(want, sizeof want, ",outcome=\"%s\"} 0\n", outcomes[o]);
        assert_non_null(strstr(r.body, want));
    }
    http_reply_free(&r);

    prom_start(S.port);
    double up = 0, at = 0;
    for (int i = 0; i < 1500 && !(promql("up{job=\"frontdesk\"}", &up, &at) && up == 1); i++)
        usleep(10000); /* the first scrape */
    assert_true(up == 1);

    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        pthread_create(&th[i], NULL, load, (void *)(intptr_t)i);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    double load_end = wall_now();

    /* a scrape begun after the load ended, and the next one agreeing */
    const char *total = "sum(frontdesk_requests_total)";
    double v = -1, v_at = 0, last = -2, last_at = 0;
    double deadline = wall_now() + 20;
    while (wall_now() < deadline) {
        if (promql(total, &v, &v_at) && promql("timestamp(up{job=\"frontdesk\"})", &up, &at) && up > load_end) {
            if (up > last_at && last_at > load_end && v == last)
                break;
            if (up > last_at) {
                last = v;
                last_at = up;
            }
        }
        usleep(50000);
    }
    if (!(last_at > load_end && v == last))
        fail_msg("no two scrapes after the load agreed within 20 s (last %g, now %g)", last, v);

    /* the counters against the store */
    long long n = sql_int(S.db, "SELECT count(*) FROM requests WHERE outcome <> 'running'");
    assert_int_equal(n, N_LOAD);
    assert_true(v == (double)n);
    for (int o = 0; o < 3; o++) {
        char q[128];
        snprintf(q, sizeof q, "sum(frontdesk_requests_total{outcome=\"%s\"})", outcomes[o]);
        double got;
        assert_true(promql(q, &got, &at));
        long long want = sql_int(S.db, "SELECT count(*) FROM requests WHERE outcome = '%q'", outcomes[o]);
        if (got != (double)want)
            fail_msg("%s = %g, the store %lld", q, got, want);
    }
    double gen, prompt;
    assert_true(promql("sum(frontdesk_generated_tokens_total)", &gen, &at));
    assert_true(promql("sum(frontdesk_prompt_tokens_total)", &prompt, &at));
    assert_true(gen == (double)sql_int(S.db, "SELECT sum(gen_tokens) FROM requests"));
    assert_true(prompt == (double)sql_int(S.db, "SELECT sum(prompt_tokens) FROM requests"));
    double count;
    assert_true(promql("sum(frontdesk_request_duration_seconds_count)", &count, &at));
    assert_true(count == (double)n);

    /* p95: PromQL over the cumulative buckets, against the bucket holding
     * the exact nearest-rank p95 of the stored latencies */
    double q95;
    assert_true(promql("histogram_quantile(0.95, sum by (le) (frontdesk_request_duration_seconds_bucket))", &q95, &at));
    long long rank = (long long)ceil(0.95 * (double)n);
    char *p95s = sql_text(S.db, "SELECT latency_ms FROM requests WHERE outcome <> 'running' ORDER BY latency_ms "
                                "LIMIT 1 OFFSET %lld",
                          rank - 1);
    assert_non_null(p95s);
    double p95 = strtod(p95s, NULL) / 1e3;
    free(p95s);
    int k = 0;
    while (k < ROLLUP_N_LE_SECONDS && p95 > rollup_le_seconds[k])
        k++;
    double lo = k ? rollup_le_seconds[k - 1] : 0;
    double hi = k < ROLLUP_N_LE_SECONDS ? rollup_le_seconds[k] : rollup_le_seconds[ROLLUP_N_LE_SECONDS - 1];
    if (!(q95 >= lo && q95 <= hi))
        fail_msg("histogram_quantile(0.95) = %g s, outside (%g, %g], the bucket of the exact p95 %g s", q95, lo, hi,
                 p95);

    /* README's three queries answer: p95 per model, error ratio, tokens/s */
    const char *readme[] = {
        "histogram_quantile(0.95, sum by (model, le) (rate(frontdesk_request_duration_seconds_bucket[5m])))",
        ("sum by (model) (rate(frontdesk_requests_total{outcome=~\"error|timeout|interrupted\"}[5m]))"
         " / sum by (model) (rate(frontdesk_requests_total[5m]))"),
        "sum by (model) (rate(frontdesk_generated_tokens_total[1m]))",
    };
    double rv[3];
    for (int i = 0; i < 3; i++)
        if (!promql(readme[i], &rv[i], &at))
            fail_msg("README's query has no result: %s", readme[i]);
    assert_true(rv[0] > 0 && rv[1] == 0 && rv[2] > 0);

    /* and promtool on what serve says now */
    http_do("GET", url, NULL, 0, NULL, 0, &r);
    expect_promtool_clean("serve /metrics after the load", r.body);
    http_reply_free(&r);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    atexit(prom_kill);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_prometheus),
        cmocka_unit_test_teardown(test_real_prometheus, teardown),
    };
    int failed = cmocka_run_group_tests_name("prometheus", tests, NULL, NULL);
    curl_global_cleanup();
    return test_exit(failed);
}
