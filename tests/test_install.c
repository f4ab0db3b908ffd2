/*
 * test_install.c — what a user installing frontdesk gets: `make install`
 * into a DESTDIR staging tree puts the binary, the built-in model, the man
 * page and the licence in place with the right modes; the installed binary,
 * started from another directory, answers from the built-in model it finds
 * beside itself; `make uninstall` removes every installed file.  And the
 * man page, doc/frontdesk.1, covers every command and option of the
 * binary's --help, every key `frontdesk config` prints and every exit code
 * the help names, and groff formats it without a warning.
 *
 * The recursive make runs in the suite's own build directory
 * ($FRONTDESK_BUILD, else the binary's directory) with `-o` on the binary,
 * so it installs what was built and never rebuilds.
 */
#include "testutil.h"

#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAN_PAGE "doc/frontdesk.1"

/* Run a shell script with positional arguments $1.. (args, NULL-ended). */
static int sh(char **out, char **err, const char *script, const char *const *args)
{
    const char *argv[16] = {"/bin/sh", "-c", script, "sh"};
    size_t n = 4;
    for (; *args; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    char *o, *e;
    int rc = test_run(argv, NULL, 0, &o, &e);
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

#define SH(out, err, script, ...) sh(out, err, script, (const char *const[]){__VA_ARGS__, NULL})

/* The binary under test as an absolute path (static storage). */
static const char *abs_bin(void)
{
    static char path[4096];
    if (!realpath(test_bin(), path))
        fail_msg("%s: %s", test_bin(), strerror(errno));
    return path;
}

/* ---- make install / uninstall ------------------------------------------------- */

/* The suite's build directory: $FRONTDESK_BUILD, else the binary's
 * directory; its frontdesk must be the binary under test. */
static const char *build_dir(void)
{
    static char dir[4096];
    const char *env = getenv("FRONTDESK_BUILD");
    if (env && *env)
        snprintf(dir, sizeof dir, "%s", env);
    else {
        snprintf(dir, sizeof dir, "%s", test_bin());
        snprintf(dir, sizeof dir, "%s", dirname(dir));
    }
    struct stat a, b;
    if (stat(test_path(dir, "frontdesk"), &a) != 0 || stat(test_bin(), &b) != 0 || a.st_ino != b.st_ino ||
        a.st_dev != b.st_dev)
        fail_msg("%s/frontdesk is not the binary under test (%s)", dir, test_bin());
    return dir;
}

/* make TARGET in the suite's build directory, the binary taken as built.
 * The caller's make (this suite runs inside `make test`) passes nothing
 * down: its MAKEFLAGS would carry its own variables and jobserver. */
static int run_make(const char *target, const char *destdir, char **err)
{
    return SH(NULL, err,
              "unset MAKEFLAGS MFLAGS MAKELEVEL\n"
              "exec make --no-print-directory -s -o \"$1/frontdesk\" BUILD=\"$1\" DESTDIR=\"$2\" PREFIX=/usr \"$3\"",
              build_dir(), destdir, target);
}

static const struct {
    const char *path; /* under DESTDIR/usr */
    const char *source;
    mode_t mode;
} installed[] = {
    {"bin/frontdesk", NULL /* the binary under test */, 0755},
    {"share/frontdesk/frontdesk-cs.gguf", "models/frontdesk-cs.gguf", 0644},
    {"share/frontdesk/frontdesk-vocab.gguf", "models/frontdesk-vocab.gguf", 0644},
    {"share/man/man1/frontdesk.1", MAN_PAGE, 0644},
    {"share/doc/frontdesk/LICENSE", "LICENSE", 0644},
    {"share/doc/frontdesk/frontdesk-cs.md", "models/README.md", 0644},
};
#define N_INSTALLED (sizeof installed / sizeof *installed)

/* Every non-directory under a tree, for the walk below. */
static strbuf walk_found;
static int walk_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type != FTW_D && type != FTW_DP)
        sb_printf(&walk_found, "%s\n", path);
    return 0;
}

/* The files under root, one per line (caller frees). */
static char *files_under(const char *root)
{
    walk_found = (strbuf){0};
    sb_puts(&walk_found, "");
    if (nftw(root, walk_one, 16, FTW_PHYS) != 0)
        fail_msg("walking %s: %s", root, strerror(errno));
    return walk_found.data;
}

static bool same_bytes(const char *a, const char *b)
{
    size_t la, lb;
    char *da = test_read_file(a, &la), *db = test_read_file(b, &lb);
    bool same = la == lb && memcmp(da, db, la) == 0;
    free(da);
    free(db);
    return same;
}

/* Ask the installed binary, started in /, with no configuration file. */
static int ask_from_root(const char *bin, const char *model, char **out, char **err)
{
    const char *cfg = test_path(test_tmpdir(), "no-config");
    return SH(out, err,
              "cd / && XDG_CONFIG_HOME=\"$2\" exec \"$1\" ask --no-db --temp 0 -n 24 -t 1 $3 "
              "'I want to cancel my order'",
              bin, cfg, model);
}

static void test_install_and_uninstall(void **state)
{
    (void)state;
    const char *stage = test_path(test_tmpdir(), "stage");
    const char *usr = test_path(stage, "usr");
    struct stat before, after;
    assert_int_equal(stat(test_bin(), &before), 0);
    char *err;
    int rc = run_make("install", stage, &err);
    if (rc != 0)
        fail_msg("make install exited %d: %s", rc, err);
    free(err);
    assert_int_equal(stat(test_bin(), &after), 0);
    assert_true(before.st_mtim.tv_sec == after.st_mtim.tv_sec && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);

    /* exactly these files, these modes, these bytes */
    char *files = files_under(stage);
    size_t n_files = 0;
    for (const char *p = files; (p = strchr(p, '\n')); p++)
        n_files++;
    if (n_files != N_INSTALLED)
        fail_msg("make install put %zu files, expected %zu:\n%s", n_files, N_INSTALLED, files);
    free(files);
    for (size_t i = 0; i < N_INSTALLED; i++) {
        const char *p = test_path(usr, installed[i].path);
        struct stat sb;
        if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode))
            fail_msg("%s is not installed", p);
        if ((sb.st_mode & 07777) != installed[i].mode)
            fail_msg("%s has mode %04o, expected %04o", p, (unsigned)(sb.st_mode & 07777),
                     (unsigned)installed[i].mode);
        if (!same_bytes(p, installed[i].source ? installed[i].source : test_bin()))
            fail_msg("%s differs from %s", p, installed[i].source ? installed[i].source : test_bin());
    }

    /* Started in /, the installed binary answers from the built-in model
     * beside it: the greedy reply is the one the source tree's model gives. */
    const char *bin = test_path(usr, "bin/frontdesk");
    char *out, *want;
    rc = ask_from_root(bin, "", &out, &err);
    if (rc != 0)
        fail_msg("the installed frontdesk, started in /, exited %d: %s", rc, err);
    free(err);
    char model_opt[4200];
    char *cwd = getcwd(NULL, 0);
    assert_non_null(cwd);
    snprintf(model_opt, sizeof model_opt, "--model=%s/models/frontdesk-cs.gguf", cwd);
    free(cwd);
    assert_int_equal(ask_from_root(abs_bin(), model_opt, &want, &err), 0);
    free(err);
    assert_true(strlen(want) > 20);
    assert_string_equal(out, want);
    free(out);
    free(want);
    /* ... and only from there: without it there is no model */
    const char *model = test_path(usr, "share/frontdesk/frontdesk-cs.gguf");
    const char *moved = test_path(stage, "moved.gguf");
    assert_int_equal(rename(model, moved), 0);
    rc = ask_from_root(bin, "", &out, &err);
    assert_int_equal(rename(moved, model), 0);
    if (rc != 2 || !strstr(err, "no model"))
        fail_msg("without share/frontdesk/frontdesk-cs.gguf: exit %d, %s", rc, err);
    free(out);
    free(err);

    rc = run_make("uninstall", stage, &err);
    if (rc != 0)
        fail_msg("make uninstall exited %d: %s", rc, err);
    free(err);
    files = files_under(stage);
    if (*files)
        fail_msg("make uninstall left:\n%s", files);
    free(files);
    assert_int_not_equal(access(test_path(usr, "share/frontdesk"), F_OK), 0);
    assert_int_not_equal(access(test_path(usr, "share/doc/frontdesk"), F_OK), 0);
}

/* ---- the man page --------------------------------------------------------------- */

/* One line of the man page as text: the section (.SH) and subsection (.SS)
 * it is in, whether it is a .TP/.TQ tag, its words with the font and
 * escape sequences removed. */
typedef struct {
    char *sh, *ss, *text;
    bool tag;
} man_line;

typedef struct {
    man_line *lines;
    size_t n;
} man_page;

/* Roff to plain text: \fB \f(XX \f[..] dropped, \- is '-', \e '\', \(xx
 * and \[..] a space, \& \% dropped; quotes dropped. */
static char *deroff(const char *s)
{
    strbuf sb = {0};
    sb_puts(&sb, "");
    for (; *s; s++) {
        if (*s == '"')
            continue;
        if (*s != '\\' || !s[1]) {
            sb_putc(&sb, *s);
            continue;
        }
        char c = *++s;
        if (c == 'f') {
            if (s[1] == '(' && s[2] && s[3])
                s += 3;
            else if (s[1] == '[') {
                const char *e = strchr(s, ']');
                s = e ? e : s + strlen(s) - 1;
            } else if (s[1])
                s++;
        } else if (c == '-')
            sb_putc(&sb, '-');
        else if (c == 'e')
            sb_putc(&sb, '\\');
        else if (c == '(' && s[1] && s[2]) {
            sb_putc(&sb, ' ');
            s += 2;
        } else if (c == '[') {
            const char *e = strchr(s, ']');
            sb_putc(&sb, ' ');
            s = e ? e : s + strlen(s) - 1;
        } else if (c != '&' && c != '%')
            sb_putc(&sb, c);
    }
    return sb.data;
}

static void man_load(man_page *m, const char *path)
{
    char *src = test_read_file(path, NULL);
    char *sh = xstrdup(""), *ss = xstrdup("");
    bool tag = false;
    *m = (man_page){0};
    for (char *line = src, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        if (!strncmp(line, ".\\\"", 3))
            continue;
        if (!strncmp(line, ".SH ", 4) || !strncmp(line, ".SS ", 4)) {
            char **slot = line[2] == 'H' ? &sh : &ss;
            free(*slot);
            *slot = deroff(line + 4);
            if (line[2] == 'H') {
                free(ss);
                ss = xstrdup("");
            }
            continue;
        }
        if (!strcmp(line, ".TP") || !strcmp(line, ".TQ")) {
            tag = true;
            continue;
        }
        const char *text = line;
        if (line[0] == '.') { /* font macros carry text; the others are layout */
            static const char *const fonts[] = {".B ", ".I ", ".BR ", ".BI ", ".IB ", ".IR ", ".RB ", ".RI "};
            text = NULL;
            for (size_t i = 0; i < sizeof fonts / sizeof *fonts; i++)
                if (!strncmp(line, fonts[i], strlen(fonts[i])))
                    text = line + strlen(fonts[i]);
            if (!text)
                continue;
        }
        m->lines = xreallocarray(m->lines, m->n + 1, sizeof *m->lines);
        m->lines[m->n++] = (man_line){xstrdup(sh), xstrdup(ss), deroff(text), tag};
        tag = false;
    }
    free(sh);
    free(ss);
    free(src);
}

static void man_free(man_page *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->lines[i].sh);
        free(m->lines[i].ss);
        free(m->lines[i].text);
    }
    free(m->lines);
}

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* word occurs in text with no word character either side. */
static bool has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = text; (p = strstr(p, word)); p++)
        if ((p == text || !word_char(p[-1])) && !word_char(p[n]))
            return true;
    return false;
}

/* The first word of s (static storage). */
static const char *first_word(const char *s, const char *skip)
{
    static char w[128];
    while (*s == ' ' || *s == '[')
        s++;
    if (skip && !strncmp(s, skip, strlen(skip)) && s[strlen(skip)] == ' ')
        return first_word(s + strlen(skip), NULL);
    size_t n = strcspn(s, " ]");
    snprintf(w, sizeof w, "%.*s", (int)(n < sizeof w ? n : sizeof w - 1), s);
    return w;
}

/* Whether section sh has a subsection whose first word (after "frontdesk")
 * is name. */
static bool man_has_ss(const man_page *m, const char *sh, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->lines[i].sh, sh) && !strcmp(first_word(m->lines[i].ss, "frontdesk"), name))
            return true;
    return false;
}

/* Whether word occurs in section sh (in subsection ss when not NULL,
 * matched by its first word after "frontdesk"), only in tags if tag_only. */
static bool man_has(const man_page *m, const char *sh, const char *ss, const char *word, bool tag_only)
{
    for (size_t i = 0; i < m->n; i++) {
        const man_line *l = &m->lines[i];
        if (strcmp(l->sh, sh) || (ss && strcmp(first_word(l->ss, "frontdesk"), ss)) || (tag_only && !l->tag))
            continue;
        if (tag_only ? !strcmp(first_word(l->text, NULL), word) : has_word(l->text, word))
            return true;
    }
    return false;
}

/* The options a --help text names: -x and --long-name where an option
 * starts (after a space, comma or bracket). One per line (caller frees). */
static char *help_options(const char *help)
{
    strbuf sb = {0};
    sb_puts(&sb, "");
    for (const char *p = help; *p; p++) {
        if (*p != '-' || (p > help && !strchr(" \t\n,([|/", p[-1])))
            continue;
        const char *s = p + (p[1] == '-' ? 2 : 1);
        if (!islower((unsigned char)*s))
            continue;
        const char *e = s;
        while (islower((unsigned char)*e) || isdigit((unsigned char)*e) || *e == '-')
            e++;
        while (e[-1] == '-')
            e--;
        char opt[64];
        snprintf(opt, sizeof opt, "%.*s\n", (int)(e - p), p);
        if (!strstr(sb.data, opt))
            sb_puts(&sb, opt);
        p = e - 1;
    }
    return sb.data;
}

static char *run_bin(const char *const *args, int want_rc)
{
    const char *argv[8] = {test_bin()};
    size_t n = 1;
    for (; *args; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    char *out, *err;
    int rc = test_run(argv, NULL, 0, &out, &err);
    if (rc != want_rc)
        fail_msg("%s %s: exit %d: %s", test_bin(), argv[1], rc, err);
    free(err);
    return out;
}

#define RUN_BIN(rc, ...) run_bin((const char *const[]){__VA_ARGS__, NULL}, rc)

/* Check every option line of help against section sh / subsection ss. */
static int missing_options(const man_page *m, const char *help, const char *sh, const char *ss, strbuf *why)
{
    char *opts = help_options(help);
    int missing = 0;
    for (char *o = opts, *nl; (nl = strchr(o, '\n')); o = nl + 1) {
        *nl = 0;
        if (!man_has(m, sh, ss, o, false)) {
            sb_printf(why, "  option %s of '%s' is not under %s%s%s\n", o, ss ? ss : "frontdesk", sh,
                      ss ? " / " : "", ss ? ss : "");
            missing++;
        }
    }
    free(opts);
    return missing;
}

static void test_man_page_covers_help(void **state)
{
    (void)state;
    man_page m;
    man_load(&m, MAN_PAGE);
    strbuf why = {0};
    sb_puts(&why, "");
    int missing = 0, n_commands = 0, n_keys = 0, n_codes = 0;

    /* the commands of --help, each with the options of its own --help */
    char *help = RUN_BIN(0, "--help");
    const char *cmds = strstr(help, "\ncommands:\n");
    assert_non_null(cmds);
    for (const char *l = strchr(cmds + 1, '\n') + 1; l[0] == ' '; l = strchr(l, '\n') + 1) {
        char name[64];
        assert_int_equal(sscanf(l, " %63s", name), 1);
        n_commands++;
        if (!man_has_ss(&m, "COMMANDS", name)) {
            sb_printf(&why, "  command '%s' has no .SS under COMMANDS\n", name);
            missing++;
            continue;
        }
        char *usage = RUN_BIN(0, name, "--help");
        missing += missing_options(&m, usage, "COMMANDS", name, &why);
        free(usage);
    }
    /* the application's options, and those of --help itself */
    char *app = RUN_BIN(0, "--config", "/dev/null", "--help");
    missing += missing_options(&m, app, "OPTIONS", NULL, &why);
    missing += missing_options(&m, help, "OPTIONS", NULL, &why);
    free(app);

    /* every key frontdesk config prints, under its [section] */
    const char *cfg = test_path(test_tmpdir(), "all-keys.conf");
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("[model]\npath = /nonexistent.gguf\n[remote]\nbackend = http://127.0.0.1:9/v1\nmodel = m\n"
          "[profile billing]\nsystem = Be exact.\n",
          f);
    fclose(f);
    const char *cfgs[] = {"/dev/null", cfg};
    strbuf seen = {0};
    sb_puts(&seen, "\n");
    for (size_t c = 0; c < 2; c++) {
        char *out = RUN_BIN(0, "config", "--config", cfgs[c]), section[128] = "";
        for (char *l = out, *nl; (nl = strchr(l, '\n')); l = nl + 1) {
            *nl = 0;
            char key[64];
            if (l[0] == '[') { /* "[profile default]" is section "profile" */
                snprintf(section, sizeof section, "%s", first_word(l, NULL));
                continue;
            }
            /* "key = value", or "# key = (none set)" for an unset one */
            if (sscanf(l[0] == '#' ? l + 1 : l, " %63[a-z0-9_] =", key) != 1 || !strstr(l, " = "))
                continue;
            char id[200];
            snprintf(id, sizeof id, "\n%s %s\n", section, key);
            if (strstr(seen.data, id))
                continue;
            sb_puts(&seen, id + 1);
            n_keys++;
            if (!man_has(&m, "CONFIGURATION FILE", section, key, true)) {
                sb_printf(&why, "  config key [%s] %s has no .TP under CONFIGURATION FILE / [%s]\n", section,
                          key, section);
                missing++;
            }
        }
        free(out);
    }
    sb_free(&seen);

    /* every exit code of --help */
    const char *codes = strstr(help, "exit codes:");
    assert_non_null(codes);
    for (const char *p = codes; *p && *p != '\n'; p++) {
        if (!isdigit((unsigned char)*p) || isdigit((unsigned char)p[-1]))
            continue;
        char code[16];
        snprintf(code, sizeof code, "%d", atoi(p));
        n_codes++;
        if (!man_has(&m, "EXIT STATUS", NULL, code, true)) {
            sb_printf(&why, "  exit code %s has no .TP under EXIT STATUS\n", code);
            missing++;
        }
    }
    free(help);
    man_free(&m);
    printf("  %s: %d commands, %d config keys, %d exit codes checked\n", MAN_PAGE, n_commands, n_keys, n_codes);
    assert_true(n_commands >= 14 && n_keys >= 28 && n_codes >= 3);
    if (missing)
        fail_msg("%s is missing %d item(s):\n%s", MAN_PAGE, missing, why.data);
    sb_free(&why);
}

/* groff formats the page without a warning (every warning enabled). */
/* A usage error of the application itself (no command) names it as
 * "frontdesk" and points at `frontdesk --help`, as a command's names it. */
static void test_app_usage_error(void **state)
{
    (void)state;
    const char *argv[] = {test_bin(), "--bogus", NULL};
    char *out, *err;
    assert_int_equal(test_run(argv, NULL, 0, &out, &err), 2);
    assert_string_equal(out, "");
    assert_string_equal(err, "frontdesk: unknown option '--bogus'\n(see 'frontdesk --help')\n");
    free(out);
    free(err);
}

static void test_man_page_formats(void **state)
{
    (void)state;
    char *out, *err;
    int rc = SH(&out, &err, "exec groff -man -Tutf8 -ww -z \"$1\"", MAN_PAGE);
    if (rc != 0 || *err)
        fail_msg("groff -man -ww on %s: exit %d:\n%s", MAN_PAGE, rc, err);
    free(out);
    free(err);
    /* and man(1) would show it: the name line is there */
    rc = SH(&out, &err, "exec groff -man -Tutf8 -P-c \"$1\"", MAN_PAGE);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "frontdesk - customer-support chat"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_app_usage_error),
        cmocka_unit_test(test_man_page_formats),
        cmocka_unit_test(test_man_page_covers_help),
        cmocka_unit_test(test_install_and_uninstall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
