/*
 * test_config_cli.c — the configuration file through `frontdesk config`:
 * good keys apply, each bad line is reported with its line number and
 * skipped, a missing default file is not an error; [model] path choosing
 * the model ask runs.  (Every other key is checked taking effect where it
 * acts: [sampling] and [model] threads/context in test_tui_worker and
 * test_tui_e2e, [remote] and [privacy] in test_remote_cli and
 * test_tui_e2e, [ui] in test_tui_e2e and test_tui_review, [thresholds] in
 * test_tui_dash.)
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *write_file(const char *name, const char *text)
{
    const char *p = test_path(test_tmpdir(), name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static void test_good_and_bad_lines(void **state)
{
    (void)state;
    const char *p = write_file("cfg",
                               "# a comment\n"
                               "[sampling]\n"
                               "temperature = 0.2\n"
                               "colour = red\n"                 /* 4: unknown key */
                               "top_k = lots\n"                 /* 5: bad value */
                               "[thresholds]\n"
                               "latency_p95_ms = 1500\n"
                               "error_rate = 2\n"               /* 8: out of range */
                               "[nonsense]\n"                   /* 9: unknown section */
                               "x = 1\n"                        /* 10: outside a known section */
                               "[profile billing]\n"
                               "system = You handle invoices.\\nBe exact.\n"
                               "[privacy]\n"
                               "redact = yes\n"
                               "just words\n");                 /* 15: not key = value */
    const char *argv[] = {test_bin(), "config", "--config", p, NULL};
    char *out, *err;
    assert_int_equal(test_run(argv, NULL, 0, &out, &err), 1);
    assert_non_null(strstr(out, "temperature = 0.2\n"));
    assert_non_null(strstr(out, "latency_p95_ms = 1500\n"));
    assert_non_null(strstr(out, "error_rate = 0.05\n")); /* the bad line left the default */
    assert_non_null(strstr(out, "top_k = 40\n"));
    assert_non_null(strstr(out, "redact = true\n"));
    assert_non_null(strstr(out, "[profile default]\n"));
    assert_non_null(strstr(out, "[profile billing]\nsystem = You handle invoices.\\nBe exact.\n"));
    const char *lines[] = {":4: unknown key", ":5: sampling.top_k", ":8: thresholds.error_rate",
                           ":9: unknown section [nonsense]", ":10: 'x' is outside", ":15: expected 'key = value'"};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        if (!strstr(err, lines[i]))
            fail_msg("no '%s' in:\n%s", lines[i], err);
    free(out);
    free(err);
}

static void test_missing_default_is_fine(void **state)
{
    (void)state;
    setenv("XDG_CONFIG_HOME", test_path(test_tmpdir(), "no-such-dir"), 1);
    const char *argv[] = {test_bin(), "config", NULL};
    char *out, *err;
    assert_int_equal(test_run(argv, NULL, 0, &out, &err), 0);
    assert_string_equal(err, "");
    assert_non_null(strstr(out, "temperature = 0.8\n"));
    free(out);
    free(err);
    /* an explicitly named file that is missing is an error */
    const char *argv2[] = {test_bin(), "config", "--config", "/nonexistent/frontdesk.conf", NULL};
    assert_int_equal(test_run(argv2, NULL, 0, &out, &err), 1);
    assert_non_null(strstr(err, "/nonexistent/frontdesk.conf"));
    free(out);
    free(err);
}

/* [model] path: ask (and the TUI) use the file the config names when no
 * --model is given; a missing one is an error naming it.  The built-in
 * model is copied under another name so that the record shows which file
 * answered. */
static void test_model_path(void **state)
{
    (void)state;
    const char *copy = test_path(test_tmpdir(), "copy-of-cs.gguf");
    size_t len;
    char *bytes = test_read_file("models/frontdesk-cs.gguf", &len);
    FILE *f = fopen(copy, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    fclose(f);
    free(bytes);
    const char *xdg = test_path(test_tmpdir(), "xdg");
    const char *dir = test_path(xdg, "frontdesk");
    mkdir(xdg, 0700);
    mkdir(dir, 0700);
    setenv("XDG_CONFIG_HOME", xdg, 1);
    const char *dbp = test_path(test_tmpdir(), "path.db");
    for (int k = 0; k < 2; k++) {
        f = fopen(test_path(dir, "config"), "w");
        assert_non_null(f);
        fprintf(f, "[model]\npath = %s\n", k ? copy : "/nonexistent/no-model.gguf");
        fclose(f);
        const char *argv[] = {test_bin(), "ask", "--db", dbp, "-n", "2", "--temp", "0", "Where is my parcel?", NULL};
        char *out, *err;
        int rc = test_run(argv, NULL, 0, &out, &err);
        if (!k) {
            if (rc != 1 || !strstr(err, "/nonexistent/no-model.gguf"))
                fail_msg("a missing [model] path: exit %d, %s", rc, err);
        } else {
            if (rc != 0)
                fail_msg("ask with [model] path = %s: exit %d, %s", copy, rc, err);
            const char *show[] = {test_bin(), "show", "1", "--json", "--db", dbp, NULL};
            char *o2, *e2;
            assert_int_equal(test_run(show, NULL, 0, &o2, &e2), 0);
            if (!strstr(o2, "\"file\": \"copy-of-cs.gguf\""))
                fail_msg("the reply was not recorded as the configured file's:\n%s", o2);
            free(o2);
            free(e2);
        }
        free(out);
        free(err);
    }
    unsetenv("XDG_CONFIG_HOME");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_and_bad_lines),
        cmocka_unit_test(test_missing_default_is_fine),
        cmocka_unit_test(test_model_path),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
