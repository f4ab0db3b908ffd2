/*
 * test_store_url.c — which store the frontdesk binary opens, through the
 * real binary: --db, $FRONTDESK_DB, [store] url in the configuration file,
 * the default file, in that order; a PostgreSQL URL holding a password
 * refused from each of them without the password ever printed; a [store]
 * url or heartbeat the file gets wrong refusing every command that opens
 * the store (naming the line) while the others go on; a PostgreSQL server
 * that is not there a one-line runtime failure with no local file made
 * instead.
 *
 * Every run gets its own home: an empty working directory, an empty
 * $XDG_DATA_HOME (where the default file would go) and a configuration
 * file under $XDG_CONFIG_HOME, none of the caller's FRONTDESK_DB or PG*
 * variables.  No test needs a PostgreSQL server: the one URL that is
 * opened names a socket directory that does not exist (those that need
 * a live server use FRONTDESK_TEST_PG, elsewhere).
 */
#include "testutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A URL no server answers: a Unix socket in a directory that is not. */
#define NOWHERE "postgresql:///x?host=/nonexistent-frontdesk-dir"

typedef struct {
    const char *cwd, *data, *config; /* the working dir, $XDG_DATA_HOME, the config file */
    const char *config_home;
} home;

static void make_dir(const char *p)
{
    if (mkdir(p, 0700) != 0)
        fail_msg("mkdir %s", p);
}

/* A fresh home called name with config_text (NULL: no file) as its
 * configuration file. */
static home new_home(const char *name, const char *config_text)
{
    home h;
    const char *root = test_path(test_tmpdir(), name);
    make_dir(root);
    h.cwd = test_path(root, "cwd");
    h.data = test_path(root, "data");
    h.config_home = test_path(root, "config");
    make_dir(h.cwd);
    make_dir(h.data);
    make_dir(h.config_home);
    make_dir(test_path(h.config_home, "frontdesk"));
    h.config = test_path(test_path(h.config_home, "frontdesk"), "config");
    if (config_text) {
        FILE *f = fopen(h.config, "w");
        assert_non_null(f);
        fputs(config_text, f);
        fclose(f);
    }
    return h;
}

/* Run the binary in h's working directory with args (NULL-terminated);
 * env (may be NULL) is one more VAR=value, e.g. FRONTDESK_DB.  Returns
 * the exit status; *out and *err (may be NULL) are freed by the caller. */
static int run(const home *h, const char *env, char **out, char **err, const char *const *args)
{
    char *bin = realpath(test_bin(), NULL);
    assert_non_null(bin);
    char xdg_data[1024], xdg_config[1024], home_var[1024];
    snprintf(xdg_data, sizeof xdg_data, "XDG_DATA_HOME=%s", h->data);
    snprintf(xdg_config, sizeof xdg_config, "XDG_CONFIG_HOME=%s", h->config_home);
    snprintf(home_var, sizeof home_var, "HOME=%s", h->cwd);
    const char *argv[48] = {"/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", h->cwd, "/usr/bin/env",
                            "-u", "FRONTDESK_DB", "-u", "PGPASSWORD", "-u", "PGHOST", "-u", "PGPORT", "-u",
                            "PGSERVICE", "-u", "PGDATABASE", xdg_data, xdg_config, home_var};
    size_t n = 21;
    if (env)
        argv[n++] = env;
    argv[n++] = bin;
    for (; *args && n < 47; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    char *o, *e;
    int rc = test_run(argv, NULL, 0, &o, &e);
    free(bin);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = e;
    else
        free(e);
    return rc;
}

#define RUN(h, env, out, err, ...) run(h, env, out, err, (const char *const[]){__VA_ARGS__, NULL})

/* How many entries dir holds (besides . and ..). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Nothing made: no file in the working directory, no default store. */
static void expect_nothing_created(const home *h, const char *what)
{
    if (count_entries(h->cwd) || count_entries(h->data))
        fail_msg("%s: something was created (%d in the working directory, %d in $XDG_DATA_HOME)", what,
                 count_entries(h->cwd), count_entries(h->data));
}

/* err is exactly one line, starting with prefix, holding every one of
 * words (NULL-terminated) and none of secret. */
static void expect_line(const char *what, const char *err, const char *prefix, const char *const *words,
                        const char *secret)
{
    size_t len = strlen(err);
    if (!len || err[len - 1] != '\n' || strchr(err, '\n') != err + len - 1)
        fail_msg("%s: not one line: [%s]", what, err);
    if (strncmp(err, prefix, strlen(prefix)))
        fail_msg("%s: does not start with [%s]: [%s]", what, prefix, err);
    for (; words && *words; words++)
        if (!strstr(err, *words))
            fail_msg("%s: no [%s] in [%s]", what, *words, err);
    if (secret && strstr(err, secret))
        fail_msg("%s: the password [%s] is printed: [%s]", what, secret, err);
}

#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- passwords ------------------------------------------------------------------ */

/* A password in the URL's user part: refused from --db, $FRONTDESK_DB and
 * [store] url, the URL shown with *** for it, the password nowhere in
 * the output, nothing created. */
static void test_password_in_user_part(void **state)
{
    (void)state;
    static const struct {
        const char *url, *shown, *secret;
    } cases[] = {
        {"postgresql://ana:s3cret@db.example:5432/frontdesk", "postgresql://ana:***@db.example:5432/frontdesk",
         "s3cret"},
        {"postgres://ana:s3cret@db.example/frontdesk", "postgres://ana:***@db.example/frontdesk", "s3cret"},
        /* the user part ends at the LAST '@' of the host part */
        {"postgresql://ana:p@ss@w0rd@db.example/fd", "postgresql://ana:***@db.example/fd", "ss@w0rd"},
        {"postgresql://ana:p%40ss%3Aw0rd@db.example/fd", "postgresql://ana:***@db.example/fd", "%40ss"},
        {"postgresql://ana:s3cret@h1:5432,h2:5433/fd?sslmode=require",
         "postgresql://ana:***@h1:5432,h2:5433/fd?sslmode=require", "s3cret"},
        {"postgresql://:s3cret@/fd?host=/run/postgresql", "postgresql://:***@/fd?host=/run/postgresql", "s3cret"},
        {"postgresql://ana:@db.example/fd", "postgresql://ana:***@db.example/fd", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[32], what[700], env[600], prefix[600], config[800];
        const char *url = cases[i].url;

        snprintf(name, sizeof name, "user-flag-%zu", i);
        home h = new_home(name, NULL);
        char *out, *err;
        snprintf(what, sizeof what, "history --db %s", url);
        assert_int_equal(RUN(&h, NULL, &out, &err, "history", "--db", url), 2);
        snprintf(prefix, sizeof prefix, "frontdesk: --db: %s holds a password; ", cases[i].shown);
        expect_line(what, err, prefix, WORDS("~/.pgpass", "$PGPASSWORD"), cases[i].secret);
        if (cases[i].secret && strstr(out, cases[i].secret))
            fail_msg("%s: the password is on standard output: %s", what, out);
        free(out);
        free(err);
        expect_nothing_created(&h, what);

        snprintf(env, sizeof env, "FRONTDESK_DB=%s", url);
        snprintf(what, sizeof what, "%s stats", env);
        assert_int_equal(RUN(&h, env, NULL, &err, "stats"), 2);
        snprintf(prefix, sizeof prefix, "frontdesk: $FRONTDESK_DB: %s holds a password; ", cases[i].shown);
        expect_line(what, err, prefix, WORDS("~/.pgpass"), cases[i].secret);
        free(err);
        expect_nothing_created(&h, what);

        snprintf(name, sizeof name, "user-config-%zu", i);
        snprintf(config, sizeof config, "# the team's store\n[store]\nmode = 0600\nurl = %s\n", url);
        home hc = new_home(name, config);
        snprintf(what, sizeof what, "[store] url = %s: rate", url);
        assert_int_equal(RUN(&hc, NULL, NULL, &err, "rate", "1", "up"), 2);
        snprintf(prefix, sizeof prefix, "frontdesk: %s line 4: [store] url: %s holds a password; ", hc.config,
                 cases[i].shown);
        expect_line(what, err, prefix, WORDS("~/.pgpass"), cases[i].secret);
        free(err);
        expect_nothing_created(&hc, what);
        /* frontdesk config lists it as a problem, and shows no url */
        assert_int_equal(RUN(&hc, NULL, &out, &err, "config"), 1);
        if (!strstr(err, "line 4: [store] url: ") || (cases[i].secret && strstr(err, cases[i].secret)) ||
            (cases[i].secret && strstr(out, cases[i].secret)) || strstr(out, "\nurl = "))
            fail_msg("config with [store] url = %s: out [%s] err [%s]", url, out, err);
        free(out);
        free(err);
    }
}

/* password= and sslpassword= query parameters, whatever the case of the
 * key or its percent-encoding; a parameter merely holding the word
 * "password" as its value is no password (that URL goes on to connect,
 * and fails: exit 1). */
static void test_password_parameter(void **state)
{
    (void)state;
    static const struct {
        const char *url, *shown;
    } cases[] = {
        {"postgresql://ana@db.example/fd?password=s3cret", "postgresql://ana@db.example/fd?password=***"},
        {"postgresql://ana@db.example/fd?sslmode=require&PassWord=s3cret&connect_timeout=2",
         "postgresql://ana@db.example/fd?sslmode=require&PassWord=***&connect_timeout=2"},
        {"postgresql:///fd?host=/tmp&pass%77ord=s3cret", "postgresql:///fd?host=/tmp&pass%77ord=***"},
        {"postgresql://db.example/fd?sslpassword=s3cret", "postgresql://db.example/fd?sslpassword=***"},
        {"postgres://ana:s3cret@db.example/fd?password=s3cret", "postgres://ana:***@db.example/fd?password=***"},
    };
    home h = new_home("param", NULL);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char what[600], prefix[600];
        char *out, *err;
        snprintf(what, sizeof what, "export --db %s", cases[i].url);
        assert_int_equal(RUN(&h, NULL, &out, &err, "export", "--db", cases[i].url), 2);
        snprintf(prefix, sizeof prefix, "frontdesk: --db: %s holds a password; ", cases[i].shown);
        expect_line(what, err, prefix, WORDS("~/.pgpass"), "s3cret");
        assert_null(strstr(out, "s3cret"));
        free(out);
        free(err);
    }
    expect_nothing_created(&h, "password parameters");

    char *err;
    assert_int_equal(RUN(&h, NULL, NULL, &err, "history", "--db", NOWHERE "&application_name=password"), 1);
    expect_line("application_name=password", err, "frontdesk: ", NULL, NULL);
    free(err);
    expect_nothing_created(&h, "application_name=password");
}

/* ---- [store] url and heartbeat problems ------------------------------------------ */

/* The commands that open the store, each refusing while the config file
 * is wrong (model files that do not exist: the store is opened first). */
static const char *const store_commands[][8] = {
    {"history"},
    {"show", "1"},
    {"stats"},
    {"rate", "1", "up"},
    {"export"},
    {"forget", "--conversation", "1"},
    {"purge", "--older-than", "30"},
    {"versions"},
    {"deployment"},
    {"arena"},
    {"eval", "--list"},
    {"ask", "--model", "/nonexistent.gguf", "hello"},
    {"serve", "--model", "/nonexistent.gguf", "--port", "0"},
    {"--model", "/nonexistent.gguf"}, /* the application */
};

static int run_cmd(const home *h, const char *const *cmd, const char *extra, char **err)
{
    const char *args[12];
    size_t n = 0;
    for (; n < 8 && cmd[n]; n++)
        args[n] = cmd[n];
    if (extra) {
        args[n++] = "--db";
        args[n++] = extra;
    }
    args[n] = NULL;
    return run(h, NULL, NULL, err, args);
}

/* Every command that opens the store refuses, exit 2, with the one line
 * want_prefix (the file and line); --db changes nothing; those that do
 * not open it go on. */
static void expect_store_refused(const home *h, const char *want_prefix, const char *const *words)
{
    for (size_t i = 0; i < sizeof store_commands / sizeof *store_commands; i++) {
        for (int with_db = 0; with_db < 2; with_db++) {
            char *err;
            int rc = run_cmd(h, store_commands[i], with_db ? "local.db" : NULL, &err);
            char what[200];
            snprintf(what, sizeof what, "%s%s (exit %d)", store_commands[i][0], with_db ? " --db local.db" : "",
                     rc);
            if (rc != 2)
                fail_msg("%s: want exit 2: %s", what, err);
            expect_line(what, err, want_prefix, words, NULL);
            free(err);
        }
    }
    expect_nothing_created(h, want_prefix);
    char *out, *err;
    assert_int_equal(RUN(h, NULL, &out, NULL, "--version"), 0);
    assert_non_null(strstr(out, "frontdesk "));
    free(out);
    static const char *const helps[] = {"config", "history", "stats", "ask", "tokenize", "info"};
    for (size_t i = 0; i < sizeof helps / sizeof *helps; i++) {
        assert_int_equal(RUN(h, NULL, &out, &err, helps[i], "--help"), 0);
        assert_non_null(strstr(out, "usage: frontdesk"));
        assert_string_equal(err, "");
        free(out);
        free(err);
    }
    assert_int_equal(RUN(h, NULL, &out, NULL, "--help"), 0);
    free(out);
    /* a command that does not open the store: tokenize without a model fails for that reason only */
    assert_int_equal(RUN(h, NULL, NULL, &err, "tokenize", "--model", "/nonexistent.gguf"), 1);
    assert_null(strstr(err, "[store]"));
    free(err);
    /* frontdesk config names the line too (a problem in the file: exit 1) */
    assert_int_equal(RUN(h, NULL, &out, &err, "config"), 1);
    if (!strstr(err, want_prefix + strlen("frontdesk: ")))
        fail_msg("config: no [%s] in [%s]", want_prefix, err);
    free(out);
    free(err);
    expect_nothing_created(h, want_prefix);
}

static void test_bad_config_url(void **state)
{
    (void)state;
    static const struct {
        const char *url, *words[3];
    } cases[] = {
        {"mysql://db.example/fd", {"\"mysql://…\" is not a PostgreSQL URL", "--db or $FRONTDESK_DB"}},
        {"sqlite:///var/lib/frontdesk.db", {"\"sqlite://…\" is not a PostgreSQL URL"}},
        {"/var/lib/frontdesk/frontdesk.db", {"not a file path"}},
        {"host=db.example dbname=fd", {"not a file path or connection string"}},
        {"postgresql://db.example:99999/fd", {"not a valid PostgreSQL URL", "port"}},
        {"postgresql://db.example:54x2/fd", {"not a valid PostgreSQL URL", "port"}},
        {"postgresql://ana@db.example/f%zzd", {"not a valid PostgreSQL URL", "'%'"}},
        {"postgresql://ana@db.example/fd?sslmode", {"not a valid PostgreSQL URL", "'='"}},
        {"postgresql://[::1/fd", {"not a valid PostgreSQL URL", "IPv6"}},
        {"postgresql://ana:s3cret@db.example/fd", {"holds a password"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[32], config[600], prefix[1200];
        snprintf(name, sizeof name, "bad-url-%zu", i);
        /* line 7, after lines the reader skips and a good [store] line */
        snprintf(config, sizeof config,
                 "[model]\nthreads = 1\n\n[store]\n# the team's store\nmode = 0600\nurl = %s\n[ui]\ncolor = false\n",
                 cases[i].url);
        home h = new_home(name, config);
        snprintf(prefix, sizeof prefix, "frontdesk: %s line 7: [store] url", h.config);
        expect_store_refused(&h, prefix, cases[i].words);
    }
}

/* [store] heartbeat_s and heartbeat_lapse_s: a lapse not above twice the
 * heartbeat (or a value out of range) refuses the store, naming the
 * line; the boundary itself is refused, just above it is not. */
static void test_heartbeat_config(void **state)
{
    (void)state;
    static const struct {
        const char *lines; /* from line 2 on, after "[store]" */
        int line;          /* the line named, 0: no problem */
        const char *word;
    } cases[] = {
        {"heartbeat_s = 0.5\nheartbeat_lapse_s = 1\n", 3, "heartbeat_lapse_s = 1 is not above twice heartbeat_s = 0.5"},
        {"heartbeat_lapse_s = 1\nheartbeat_s = 0.5\n", 2, "heartbeat_lapse_s = 1 is not above twice heartbeat_s = 0.5"},
        {"heartbeat_s = 15\n", 2, "heartbeat_lapse_s = 30 (the default) is not above twice heartbeat_s = 15"},
        {"heartbeat_lapse_s = 10\n", 2, "heartbeat_lapse_s = 10 is not above twice heartbeat_s = 5 (the default)"},
        {"heartbeat_s = 0\n", 2, "heartbeat_s needs a number of seconds above 0"},
        {"heartbeat_s = -1\nheartbeat_lapse_s = 30\n", 2, "heartbeat_s needs a number"},
        {"heartbeat_s = often\n", 2, "heartbeat_s needs a number"},
        {"heartbeat_lapse_s = 0\n", 2, "heartbeat_lapse_s needs a number"},
        {"heartbeat_s = 0.5\nheartbeat_lapse_s = 1.01\n", 0, "heartbeat_s = 0.5\nheartbeat_lapse_s = 1.01\n"},
        {"heartbeat_lapse_s = 10.5\n", 0, "heartbeat_s = 5\nheartbeat_lapse_s = 10.5\n"},
        {"heartbeat_s = 14.9\n", 0, "heartbeat_s = 14.9\nheartbeat_lapse_s = 30\n"},
        {"", 0, "heartbeat_s = 5\nheartbeat_lapse_s = 30\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[32], config[400], prefix[600];
        snprintf(name, sizeof name, "heartbeat-%zu", i);
        snprintf(config, sizeof config, "[store]\n%s", cases[i].lines);
        home h = new_home(name, config);
        if (cases[i].line) {
            snprintf(prefix, sizeof prefix, "frontdesk: %s line %d: [store] ", h.config, cases[i].line);
            expect_store_refused(&h, prefix, WORDS(cases[i].word));
            continue;
        }
        char *out, *err;
        assert_int_equal(RUN(&h, NULL, &out, &err, "config"), 0);
        if (!strstr(out, cases[i].word))
            fail_msg("[store] %s: config shows no [%s]: %s", cases[i].lines, cases[i].word, out);
        free(out);
        free(err);
        /* and the store opens: the default file */
        assert_int_equal(RUN(&h, NULL, NULL, &err, "history"), 0);
        free(err);
        assert_int_equal(access(test_path(test_path(h.data, "frontdesk"), "frontdesk.db"), F_OK), 0);
    }
}

/* ---- which store -------------------------------------------------------------------- */

/* --db over $FRONTDESK_DB over [store] url over the default file; a
 * [store] url to a server that is not there fails the command (exit 1)
 * rather than fall back to the default file. */
static void test_precedence(void **state)
{
    (void)state;
    home h = new_home("precedence", "[store]\nurl = " NOWHERE "\n");
    const char *def = test_path(test_path(h.data, "frontdesk"), "frontdesk.db");
    char *out, *err;

    /* [store] url: PostgreSQL, not the default file */
    assert_int_equal(RUN(&h, NULL, NULL, &err, "history"), 1);
    expect_line("[store] url, no server", err, "frontdesk: ", WORDS("nonexistent-frontdesk-dir"), NULL);
    free(err);
    expect_nothing_created(&h, "[store] url to no server");

    /* --db PATH wins over [store] url */
    assert_int_equal(RUN(&h, NULL, NULL, &err, "history", "--db", "flag.db"), 0);
    free(err);
    assert_int_equal(access(test_path(h.cwd, "flag.db"), F_OK), 0);
    /* $FRONTDESK_DB wins over [store] url */
    assert_int_equal(RUN(&h, "FRONTDESK_DB=env.db", NULL, &err, "stats"), 0);
    free(err);
    assert_int_equal(access(test_path(h.cwd, "env.db"), F_OK), 0);
    /* --db wins over $FRONTDESK_DB, even one holding a password (never looked at) */
    assert_int_equal(RUN(&h, "FRONTDESK_DB=postgresql://ana:s3cret@db.example/fd", NULL, &err, "history", "--db",
                         "flag.db"),
                     0);
    assert_null(strstr(err, "s3cret"));
    free(err);
    /* $FRONTDESK_DB as a URL wins over a [store] url, and is what fails */
    assert_int_equal(RUN(&h, "FRONTDESK_DB=postgresql:///y?host=/nonexistent-env-dir", NULL, &err, "history"), 1);
    expect_line("$FRONTDESK_DB URL", err, "frontdesk: ", WORDS("nonexistent-env-dir"), NULL);
    free(err);
    assert_int_equal(access(def, F_OK), -1);
    assert_int_equal(count_entries(h.cwd), 2); /* flag.db and env.db only */

    /* frontdesk config shows the url as given */
    assert_int_equal(RUN(&h, NULL, &out, &err, "config"), 0);
    if (!strstr(out, "\n[store]\nmode = 0600\nurl = " NOWHERE "\nheartbeat_s = 5\nheartbeat_lapse_s = 30\n"))
        fail_msg("config: %s", out);
    free(out);
    free(err);

    /* without any: the default file */
    home plain = new_home("precedence-default", NULL);
    assert_int_equal(RUN(&plain, NULL, &out, &err, "config"), 0);
    assert_non_null(strstr(out, "\n[store]\nmode = 0600\n# url = (none"));
    free(out);
    free(err);
    assert_int_equal(RUN(&plain, NULL, NULL, &err, "history"), 0);
    free(err);
    assert_int_equal(access(test_path(test_path(plain.data, "frontdesk"), "frontdesk.db"), F_OK), 0);
}

/* A valid URL to a server that is not there: exit 1, one line naming
 * the server (its socket directory), from every command that opens the
 * store, and no file anywhere: not at the default path, not a directory
 * "postgresql:" in the working directory. */
static void test_server_not_there(void **state)
{
    (void)state;
    home h = new_home("nowhere", NULL);
    static const char *const urls[] = {NOWHERE, "postgres://ana@/fd?host=/nonexistent-frontdesk-dir&port=5499"};
    for (size_t u = 0; u < sizeof urls / sizeof *urls; u++)
        for (size_t i = 0; i < sizeof store_commands / sizeof *store_commands; i++) {
            char *err;
            int rc = run_cmd(&h, store_commands[i], urls[u], &err);
            char what[300];
            snprintf(what, sizeof what, "%s --db %s (exit %d)", store_commands[i][0], urls[u], rc);
            if (rc != 1)
                fail_msg("%s: want exit 1: %s", what, err);
            expect_line(what, err, "frontdesk: ", WORDS("nonexistent-frontdesk-dir"), NULL);
            free(err);
        }
    expect_nothing_created(&h, "a server that is not there");
    /* the same from the environment */
    char *err;
    assert_int_equal(RUN(&h, "FRONTDESK_DB=" NOWHERE, NULL, &err, "stats"), 1);
    expect_line("$FRONTDESK_DB", err, "frontdesk: ", WORDS("nonexistent-frontdesk-dir"), NULL);
    free(err);
    expect_nothing_created(&h, "$FRONTDESK_DB to a server that is not there");
}

/* Other schemes stay usage errors, from --db and $FRONTDESK_DB, naming
 * the source and only the scheme. */
static void test_other_schemes(void **state)
{
    (void)state;
    home h = new_home("schemes", NULL);
    static const char *const urls[] = {"sqlite:///var/lib/frontdesk.db", "file:///tmp/x.db", "mysql://u:pw@h/db",
                                       "POSTGRESQL://h/db"};
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        char *err, prefix[200], env[200];
        size_t scheme = (size_t)(strstr(urls[i], "://") - urls[i]);
        snprintf(prefix, sizeof prefix, "frontdesk: --db: \"%.*s://…\" looks like a database URL; ", (int)scheme,
                 urls[i]);
        assert_int_equal(RUN(&h, NULL, NULL, &err, "history", "--db", urls[i]), 2);
        expect_line(urls[i], err, prefix, WORDS("postgresql://"), "pw@");
        free(err);
        snprintf(env, sizeof env, "FRONTDESK_DB=%s", urls[i]);
        snprintf(prefix, sizeof prefix, "frontdesk: $FRONTDESK_DB: \"%.*s://…\" looks like a database URL; ",
                 (int)scheme, urls[i]);
        assert_int_equal(RUN(&h, env, NULL, &err, "stats"), 2);
        expect_line(urls[i], err, prefix, NULL, "pw@");
        free(err);
    }
    expect_nothing_created(&h, "other schemes");
}

/* A malformed PostgreSQL URL on the command line: exit 2, never echoed
 * (its unparsed part may be a password with an unencoded '/' or '?'). */
static void test_malformed_not_echoed(void **state)
{
    (void)state;
    home h = new_home("malformed", NULL);
    static const char *const urls[] = {"postgresql://ana:zq9/x7@db.example/fd", "postgresql://ana:zq9?x7@db.example/fd",
                                       "postgresql://ana:zq9/fd", "postgresql://zq9 example/fd"};
    for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
        char *err;
        assert_int_equal(RUN(&h, NULL, NULL, &err, "history", "--db", urls[i]), 2);
        expect_line(urls[i], err, "frontdesk: --db: \"postgresql://…\" is not a valid PostgreSQL URL: ", NULL, "zq9");
        free(err);
    }
    expect_nothing_created(&h, "malformed URLs");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_in_user_part), cmocka_unit_test(test_password_parameter),
        cmocka_unit_test(test_bad_config_url),        cmocka_unit_test(test_heartbeat_config),
        cmocka_unit_test(test_precedence),            cmocka_unit_test(test_server_not_there),
        cmocka_unit_test(test_other_schemes),         cmocka_unit_test(test_malformed_not_echoed),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
