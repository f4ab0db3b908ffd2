/*
 * store_util.h — what the suites that drive the frontdesk binary against
 * a store of their own share: running the binary, a fresh database path,
 * opening a store through the API, and SQL straight on the file (sqlite3
 * itself, so what a suite checks does not come from the code under test).
 */
#ifndef FRONTDESK_TESTS_STORE_UTIL_H
#define FRONTDESK_TESTS_STORE_UTIL_H

#include "storage/db.h"

/* Run the binary under test (test_bin) with args (NULL-terminated, at most
 * 38); its exit status, output in *out / *err (the caller frees; either
 * may be NULL to discard). */
int fd_run(char **out, char **err, const char *const *args);
#define RUN(out, err, ...) fd_run(out, err, (const char *const[]){__VA_ARGS__, NULL})

/* A path in the suite's temporary directory, with no file there. */
const char *fresh_db(const char *name);
/* db_open, failing the test with the message when it cannot. */
db *open_store(const char *path);
/* Run SQL on the file with sqlite3 itself; fails the test on an error. */
void sql_exec(const char *path, const char *sql);

/* A storage call that must succeed. */
#define OK(d, call)                                                                                     \
    do {                                                                                                \
        if ((call) != DB_OK)                                                                            \
            fail_msg("%s: %s", #call, db_errmsg(d));                                                    \
    } while (0)

#endif
