/*
 * cmd_migrate.c — `frontdesk migrate --from PATH --to URL`: a SQLite store
 * copied into an empty PostgreSQL database (or an empty SQLite file),
 * verified by counts and checksums (storage/copy.h does the work).
 *
 * What is checked here, before anything is opened: the arguments' kinds
 * (a file to copy from; a postgresql:// URL without a password, or a
 * path, to copy into; not the same file), and the source's schema version,
 * read without writing: a newer one is refused as every command refuses
 * it, an older one too — migrate does not upgrade its source behind the
 * user's back; any frontdesk command opened on it once does.
 * --append (into a store that holds rows) is copy.h's too.
 */
#include "app/cli.h"
#include "app/store.h"
#include "storage/copy.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char cmd_migrate_usage[] =
    "usage: frontdesk migrate --from PATH --to URL [--append]\n"
    "\n"
    "Copy the SQLite store at PATH into the PostgreSQL database URL names\n"
    "(postgresql://user@host:port/dbname; the password from ~/.pgpass or\n"
    "PGPASSWORD, never the URL), or into another SQLite file when URL is a\n"
    "path.  Every table, every id, in one transaction; then each table is\n"
    "verified on both sides by its row count and a SHA-256 over its rows, and\n"
    "anything that differs undoes the whole copy.  Progress goes to standard\n"
    "error, a summary (rows per table) to standard output.\n"
    "\n"
    "Refused, with nothing written: a target that already holds rows (unless\n"
    "--append); a source whose schema is newer than this frontdesk's, or older\n"
    "(open it once with this frontdesk to bring it up to date); a source in\n"
    "use (a reply or an evaluation still running).  Stop every frontdesk\n"
    "process using the source first: what they write later is not copied.\n"
    "\n"
    "  --from PATH   the SQLite store to copy (it is not changed)\n"
    "  --to URL      the store to copy into, empty unless --append (created\n"
    "                when a new path)\n"
    "  --append      into a store that holds rows: every id moves past the\n"
    "                target's largest, a model the target has (same SHA-256,\n"
    "                or URL and name) is the target's, the target's deployment\n"
    "                stays (the history is appended), and the copied requests\n"
    "                are folded into the target's own rollups.  Refused when\n"
    "                both have an open alert of the same name, or the source's\n"
    "                request rows were purged (their figures would be lost)\n";

/* The same file, by device and inode (both exist). */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void progress(void *arg, const db_copy_table *t, bool verified)
{
    (void)arg;
    if (verified && *t->sha256)
        fprintf(stderr, "migrate: %-20s verified: %lld rows, SHA-256 %.16s\n", t->table, (long long)t->rows,
                t->sha256);
    else if (verified)
        fprintf(stderr, "migrate: %-20s verified: %lld rows (by count)\n", t->table, (long long)t->rows);
    else if (t->kept)
        fprintf(stderr, "migrate: %-20s %lld rows copied, %lld kept as the target has them\n", t->table,
                (long long)t->rows, (long long)t->kept);
    else
        fprintf(stderr, "migrate: %-20s %lld rows copied\n", t->table, (long long)t->rows);
}

/* A target file made by this run goes again when the copy fails. */
static void remove_made(const char *path)
{
    static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s", path, ext[i]);
        unlink(p);
    }
}

static int check_source(const char *from)
{
    int v;
    char err[600];
    if (db_peek_version(from, &v, err, sizeof err) != DB_OK)
        return cli_fail("%s", err);
    if (v > DB_SCHEMA_VERSION)
        return cli_fail("%s has schema version %d, newer than this frontdesk knows (%d); use a newer frontdesk "
                        "(the file was left untouched)",
                        from, v, DB_SCHEMA_VERSION);
    if (v == 0)
        return cli_fail("%s is not a frontdesk store (no schema version)", from);
    if (v < DB_SCHEMA_VERSION)
        return cli_fail("%s has schema version %d, older than this frontdesk's %d; open it once with this "
                        "frontdesk to bring it up to date (e.g. frontdesk history --db %s), then migrate "
                        "(migrate does not upgrade its source)",
                        from, v, DB_SCHEMA_VERSION, from);
    return EXIT_OK;
}

static void print_summary(const char *from, const char *to, const db_copy_report *r)
{
    printf("%s %s into %s (schema version %d) in %.2f s, verified by row counts and SHA-256:\n",
           r->appended ? "appended" : "copied", from, to, DB_SCHEMA_VERSION, r->seconds);
    for (size_t i = 0; i < r->n; i++) {
        printf("  %-20s %10lld", r->tables[i].table, (long long)r->tables[i].rows);
        if (r->appended && r->tables[i].kept)
            printf("   (%lld %s)", (long long)r->tables[i].kept,
                   !strcmp(r->tables[i].table, "rollups") ? "rebuilt from the requests" : "kept as the target has them");
        printf("\n");
    }
    printf("  %-20s %10lld\n", "total", (long long)r->rows);
    if (r->appended)
        printf("%lld requests folded into the target's rollups\n", (long long)r->refolded);
}

int cmd_migrate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"append", no_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    const char *from = NULL, *to = NULL;
    bool append = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'a': append = true; break;
        case ':': return cli_usage_error("migrate", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("migrate", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("migrate", "unexpected argument '%s'", argv[optind]);
    if (!from || !*from || !to || !*to)
        return cli_usage_error("migrate", "--from PATH and --to URL are both required");
    if (store_is_url(from))
        return cli_usage_error("migrate", "--from must be a SQLite file (a path), not a URL");
    /* a URL with a password, a malformed one or another scheme: refused
     * before anything is opened, the password never echoed (store_url.h) */
    char why[600];
    store_url_kind kind = store_url_check(to, why, sizeof why);
    if (kind != STORE_URL_NONE && kind != STORE_URL_PG)
        return cli_usage_error("migrate", "--to: %s", why);
    if (kind == STORE_URL_NONE && same_file(from, to))
        return cli_usage_error("migrate", "--from and --to are the same file");
    int rc = check_source(from);
    if (rc != EXIT_OK)
        return rc;

    struct stat sb;
    bool made = kind == STORE_URL_NONE && stat(to, &sb) != 0 && errno == ENOENT;
    char err[600];
    db *src = NULL, *dst = NULL;
    if (db_open(&src, from, err, sizeof err) != DB_OK)
        return cli_fail("%s", err);
    if (db_recovered(src))
        fprintf(stderr, "frontdesk: marked %d request(s) left by a process that ended as interrupted\n",
                db_recovered(src));
    if (db_open(&dst, to, err, sizeof err) != DB_OK) {
        db_close(src);
        if (made)
            remove_made(to);
        return cli_fail("%s", err);
    }
    db_copy_report r = {.progress = progress};
    if (db_copy(src, dst, append, &r) != DB_OK)
        rc = cli_fail("%s", r.err);
    else
        print_summary(from, db_path(dst), &r);
    db_close(dst);
    db_close(src);
    if (rc != EXIT_OK && made)
        remove_made(to);
    return rc;
}
