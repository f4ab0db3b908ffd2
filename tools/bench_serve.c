/*
 * bench_serve.c — `frontdesk serve` under concurrent streaming clients.
 *
 *   bench_serve --bin BIN --model FILE [--parallel N] [--threads N]
 *               [--clients 1,2,4,8] [--runs N] [--prompt 64] [--gen 128]
 *   bench_serve --url http://127.0.0.1:PORT [--clients ...]  (a server already
 *               running, e.g. llama-server, measured the same way)
 *
 * Starts serve on 127.0.0.1 with a scratch database, finds how many words
 * of user text make a prompt of --prompt tokens (the server's own count,
 * from usage), then for each number of clients runs that many streaming
 * requests at once (ignore_eos, --gen tokens each), --runs rounds.  Prints
 * per client count the aggregate generated tokens/s (tokens / wall time
 * of the round, median over rounds) and the time to first token (from
 * sending to the first piece of text; p50 and p95 over every request),
 * each as a multiple of the one-client figure.  Nothing is asserted: the
 * numbers are the point, and this machine is shared.
 */
#include "util/util.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char base_url[64];

typedef struct {
    const char *body;
    double t_start, t_first, t_end;
    int gen_tokens;
    strbuf line;
    bool failed;
} stream_req;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    stream_req *r = ud;
    for (size_t i = 0; i < size * n; i++) {
        if (p[i] != '\n') {
            sb_append(&r->line, p + i, 1);
            continue;
        }
        if (r->line.len > 6 && !memcmp(r->line.data, "data: {", 7)) {
            json_t *j = json_loads(r->line.data + 6, 0, NULL);
            json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
            const char *piece = json_string_value(json_object_get(json_object_get(ch, "delta"), "content"));
            if (piece && *piece && r->t_first == 0)
                r->t_first = util_now();
            json_t *u = json_object_get(j, "usage");
            if (json_is_object(u))
                r->gen_tokens = (int)json_integer_value(json_object_get(u, "completion_tokens"));
            json_decref(j);
        }
        sb_clear(&r->line);
    }
    return size * n;
}

static void *run_one(void *arg)
{
    stream_req *r = arg;
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "%s/v1/chat/completions", base_url);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    r->t_start = util_now();
    long status = 0;
    if (curl_easy_perform(c) != CURLE_OK || (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status), status != 200))
        r->failed = true;
    r->t_end = util_now();
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    sb_free(&r->line);
    return NULL;
}

static char *body_of(int words, int gen, bool stream)
{
    strbuf text = {0};
    static const char *const w[] = {"order", "parcel", "refund", "address", "delivery", "account", "invoice", "help"};
    for (int i = 0; i < words; i++)
        sb_printf(&text, "%s%s", i ? " " : "", w[i % 8]);
    json_t *o = json_pack("{s:[{s:s,s:s}], s:b, s:i, s:b, s:f, s:{s:b}}", "messages", "role", "user", "content",
                          text.data ? text.data : "", "stream", stream, "max_tokens", gen, "ignore_eos", 1,
                          "temperature", 0.0, "stream_options", "include_usage", 1);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    sb_free(&text);
    return s;
}

/* The server's prompt token count for a body of `words` words. */
static int prompt_tokens(int words)
{
    char url[128];
    snprintf(url, sizeof url, "%s/v1/chat/completions", base_url);
    char *body = body_of(words, 1, false);
    FILE *mem;
    char *buf = NULL;
    size_t len = 0;
    mem = open_memstream(&buf, &len);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    curl_easy_perform(c);
    fclose(mem);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    json_t *j = json_loads(buf ? buf : "", 0, NULL);
    int n = (int)json_integer_value(json_object_get(json_object_get(j, "usage"), "prompt_tokens"));
    json_decref(j);
    free(buf);
    free(body);
    return n;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    int k = (int)(p / 100.0 * n + 0.999999) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

int main(int argc, char **argv)
{
    const char *bin = "build-bench/frontdesk", *model = NULL, *clients_s = "1,2,4,8", *threads = "2";
    const char *parallel = "8", *url = NULL;
    int runs = 3, want_prompt = 64, gen = 128;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--bin")) bin = argv[i + 1];
        else if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--clients")) clients_s = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = argv[i + 1];
        else if (!strcmp(argv[i], "--parallel")) parallel = argv[i + 1];
        else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--prompt")) want_prompt = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--gen")) gen = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--url")) url = argv[i + 1];
    }
    if ((!model && !url) || runs < 1) {
        fprintf(stderr, "usage: bench_serve --bin BIN --model FILE [--parallel N] [--threads N] [--clients 1,2,4,8] "
                        "[--runs N] [--prompt 64] [--gen 128]\n");
        return 2;
    }
    char db[] = "/tmp/frontdesk-bench-serve-XXXXXX";
    pid_t pid = -1;
    if (url) {
        snprintf(base_url, sizeof base_url, "%s", url);
    } else {
        if (!mkdtemp(db))
            return 1;
        char dbfile[128];
        snprintf(dbfile, sizeof dbfile, "%s/serve.db", db);
        int e[2];
        if (pipe(e))
            return 1;
        pid = fork();
        if (pid == 0) {
            dup2(e[1], 2);
            close(e[0]);
            execl(bin, bin, "serve", "--port", "0", "--model", model, "--db", dbfile, "--parallel", parallel,
                  "--threads", threads, "--ctx", "512", "--max-queue", "64", (char *)NULL);
            _exit(127);
        }
        close(e[1]);
        FILE *err = fdopen(e[0], "r");
        char line[1024] = "";
        if (!fgets(line, sizeof line, err) || !strstr(line, "http://127.0.0.1:")) {
            fprintf(stderr, "bench_serve: serve did not start: %s\n", line);
            return 1;
        }
        snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", atoi(strstr(line, "127.0.0.1:") + 10));
        /* drain the server's log so it never blocks on a full pipe */
        if (fork() == 0) {
            char buf[4096];
            while (fread(buf, 1, sizeof buf, err) > 0)
                ;
            _exit(0);
        }
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);

    int words = want_prompt, got = prompt_tokens(words);
    for (int k = 0; k < 8 && got != want_prompt && got > 0; k++) {
        words += want_prompt - got;
        if (words < 1)
            words = 1;
        got = prompt_tokens(words);
    }
    char *body = body_of(words, gen, true);
    const char *name = model ? strrchr(model, '/') : NULL;
    printf("%s: prompt %d tokens, %d generated each, --parallel %s, %s threads, median of %d rounds\n",
           url ? url : name ? name + 1 : model, got, gen, parallel, threads, runs);
    printf("clients  aggregate tok/s  x 1 client  TTFT p50 ms  p95 ms   x 1 client (p50)\n");

    double base_tps = 0, base_ttft = 0;
    for (const char *p = clients_s; *p;) {
        int nc = atoi(p);
        double *tps = xcalloc((size_t)runs, sizeof *tps), *ttft = xcalloc((size_t)(runs * nc), sizeof *ttft);
        int n_ttft = 0, failed = 0;
        for (int r = 0; r < runs; r++) {
            stream_req *rq = xcalloc((size_t)nc, sizeof *rq);
            pthread_t *t = xcalloc((size_t)nc, sizeof *t);
            double t0 = util_now();
            for (int i = 0; i < nc; i++) {
                rq[i].body = body;
                pthread_create(&t[i], NULL, run_one, &rq[i]);
            }
            long toks = 0;
            double t1 = t0;
            for (int i = 0; i < nc; i++) {
                pthread_join(t[i], NULL);
                failed += rq[i].failed;
                toks += rq[i].gen_tokens;
                if (rq[i].t_end > t1)
                    t1 = rq[i].t_end;
                if (rq[i].t_first > 0)
                    ttft[n_ttft++] = (rq[i].t_first - rq[i].t_start) * 1e3;
            }
            tps[r] = toks / (t1 - t0);
            free(rq);
            free(t);
        }
        double m = pct(tps, runs, 50), p50 = n_ttft ? pct(ttft, n_ttft, 50) : 0,
               p95 = n_ttft ? pct(ttft, n_ttft, 95) : 0;
        if (base_tps == 0) {
            base_tps = m;
            base_ttft = p50;
        }
        printf("%7d  %15.1f  %10.2f  %11.1f  %6.1f  %8.2f%s\n", nc, m, m / base_tps, p50, p95,
               base_ttft > 0 ? p50 / base_ttft : 0, failed ? "  (some requests failed)" : "");
        fflush(stdout);
        free(tps);
        free(ttft);
        p = strchr(p, ',');
        if (!p)
            break;
        p++;
    }
    free(body);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", db);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_serve: could not remove %s\n", db);
    }
    curl_global_cleanup();
    return 0;
}
