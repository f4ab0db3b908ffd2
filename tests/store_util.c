/*
 * store_util.c — see store_util.h.
 */
#include "store_util.h"

#include "testutil.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

int fd_run(char **out, char **err, const char *const *args)
{
    const char *argv[40] = {test_bin()};
    size_t n = 1;
    for (; args[n - 1]; n++) {
        assert_true(n < 39);
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    char *o = NULL, *e = NULL;
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

const char *fresh_db(const char *name)
{
    const char *p = test_path(test_tmpdir(), name);
    unlink(p);
    return p;
}

db *open_store(const char *path)
{
    db *d;
    char msg[512];
    if (db_open(&d, path, msg, sizeof msg) != DB_OK)
        fail_msg("db_open %s: %s", path, msg);
    return d;
}

void sql_exec(const char *path, const char *sql)
{
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    sqlite3_busy_timeout(raw, 5000);
    char *msg = NULL;
    if (sqlite3_exec(raw, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(raw);
}
