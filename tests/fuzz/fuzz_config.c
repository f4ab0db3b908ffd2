/*
 * fuzz_config.c — libFuzzer harness: the configuration file parser
 * (app/config.h), on arbitrary text.
 *
 * The input is the file's text (up to its first NUL, as a file read into a
 * C string would be); the configuration starts from the defaults (a
 * config_load of a file that does not exist) and is freed after.
 *
 * Checked beyond crashes, leaks and UB, from config.h's promises: a bad
 * line never stops the rest, so whatever the text every value stays in
 * the range its key allows (the defaults are in range too), [store] mode
 * keeps the owner's read and write and gains no execute or special bit
 * (util/private.h); profile
 * "default" stays first; every warning names the file and a line.
 */
#include "tests/fuzz/fuzz.h"

#include "app/config.h"
#include "util/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_config: %s\n", what);
        abort();
    }
}

static int in(double v, double lo, double hi)
{
    return v >= lo && v <= hi;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = xmalloc(size + 1); /* up to the first NUL, as a file read as a C string */
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';
    config c;
    config_load(&c, "/nonexistent/frontdesk-fuzz/config");
    size_t warned_before = c.n_warnings; /* the missing file */
    config_parse(&c, "fuzz.conf", text);

    check(in(c.threads, 1, 512) && in(c.n_ctx, 16, 1 << 20) && in(c.max_tokens, 1, 1 << 20), "[model] out of range");
    check(in(c.sampling.temp, 0, 100) && in(c.sampling.top_k, 0, 1 << 24) && in(c.sampling.top_p, 0, 1) &&
              in(c.sampling.min_p, 0, 1) && in(c.sampling.repeat_penalty, 0.01f, 100),
          "[sampling] out of range");
    check(in(c.error_rate, 0, 1) && in(c.thumbs_down_rate, 0, 1) && c.latency_p95_ms >= 0 && c.ttft_p95_ms >= 0 &&
              c.decode_tps_min >= 0 && c.thumbs_min_sample >= 0 && c.error_min_sample >= 0,
          "[thresholds] out of range");
    check(in(c.alerts_command_timeout_s, 0.1, 86400), "[alerts] command_timeout_s out of range");
    check(in(c.retries, 0, 10) && in((double)c.connect_timeout_ms, 0, 86400000) &&
              in((double)c.first_token_timeout_ms, 0, 86400000) && in((double)c.idle_timeout_ms, 0, 86400000) &&
              in((double)c.total_timeout_ms, 0, 86400000),
          "[remote] out of range");
    check(!c.backend || !strncmp(c.backend, "http://", 7) || !strncmp(c.backend, "https://", 8),
          "remote.backend is not an http(s) URL");
    check(c.api_key_env && *c.api_key_env && c.serve_host && *c.serve_host && c.rater && *c.rater,
          "a key that must not be empty is empty");
    check(in(c.serve_port, 0, 65535) && in(c.serve_parallel, 1, 256) && in(c.serve_max_queue, 0, 1 << 20) &&
              in(c.serve_max_body, 1024, 1 << 30) && in(c.serve_grace_s, 0, 3600),
          "[serve] out of range");
    check((c.store_mode & 0600) == 0600 && (c.store_mode & ~(mode_t)0666) == 0,
          "[store] mode without owner rw, or with x or special bits");
    check(c.deploy_min_sample >= 1 && c.deploy_min_eval_items >= 1 && in(c.deploy_low_confidence, -1e3, 0),
          "[deploy] out of range");
    check(c.n_profiles >= 1 && !strcmp(c.profiles[0].name, "default"), "profile \"default\" is not first");
    for (size_t i = 0; i < c.n_profiles; i++)
        check(c.profiles[i].name && *c.profiles[i].name && c.profiles[i].system, "a profile without a name");
    for (size_t i = warned_before; i < c.n_warnings; i++)
        check(!strncmp(c.warnings[i], "fuzz.conf:", 10), "a warning that does not name the file");

    config_free(&c);
    free(text);
    return 0;
}
