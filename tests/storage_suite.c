/* storage_suite.c — see storage_suite.h. */
#include "tests/storage_suite.h"

#include "tests/pg_util.h"
#include "tests/store_util.h"
#include "tests/testutil.h"

#include "storage/chats.h"
#include "util/util.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The bytes of path, or an empty buffer when there is no such file. */
char *st_read_or_empty(const char *path, size_t *len)
{
    if (!file_exists(path)) {
        *len = 0;
        return xstrdup("");
    }
    return test_read_file(path, len);
}

int64_t st_raw_int(const char *path, const char *sql)
{
    if (db_is_pg_url(path)) {
        PGconn *pc = pg_test_connect(path);
        char *v = pg_test_value(pc, sql);
        PQfinish(pc);
        int64_t x = v ? strtoll(v, NULL, 10) : 0;
        free(v);
        return x;
    }
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(c));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

int64_t st_add_model(db *d, char digit, const char *name)
{
    int64_t id = store_model(d, digit, name, name);
    assert_true(id > 0);
    return id;
}

/* A finished reply in conv: begin, one progress step, end. */
int64_t st_add_reply(db *d, int64_t conv, int64_t model, const char *text)
{
    int64_t id = 0;
    OK(d, db_reply_begin(d, conv, model, NULL, 0, &id));
    OK(d, db_reply_progress(d, id, ""));
    OK(d, db_reply_end(d, id, text, model));
    return id;
}

static uint64_t rng_state;

void st_seed(uint64_t seed)
{
    rng_state = seed;
}

uint64_t st_rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

unsigned st_rnd_below(unsigned n)
{
    return (unsigned)(st_rnd() % n);
}
