/*
 * storage_suite.h — what the suites of the store's API (test_storage,
 * test_store_messages, test_store_review, test_store_stats) share besides
 * tests/store_util.h (open_store, sql_exec, store_model): an integer read
 * straight from the store where the API deliberately cannot reach
 * (sqlite3 on a file, libpq on a postgresql:// URL; sql_exec in
 * store_util.h writes), a model and a finished reply to hang
 * rows on, and a seeded xorshift for reproducible random data.
 */
#ifndef FRONTDESK_TESTS_STORAGE_SUITE_H
#define FRONTDESK_TESTS_STORAGE_SUITE_H

#include "storage/db.h"

#include <stddef.h>
#include <stdint.h>

/* The bytes of path, or an empty buffer when there is no such file. */
char *st_read_or_empty(const char *path, size_t *len);
/* The first column of the first row as an integer (0 for NULL on
 * PostgreSQL); fails the test on an error or when there is no row. */
int64_t st_raw_int(const char *path, const char *sql);
/* store_model with the file named as the model; its id, checked > 0. */
int64_t st_add_model(db *d, char digit, const char *name);
/* A finished reply in conv: begin, one progress step, end; its id. */
int64_t st_add_reply(db *d, int64_t conv, int64_t model, const char *text);
/* xorshift64: st_seed, then numbers; st_rnd_below(n) in [0, n). */
void st_seed(uint64_t seed);
uint64_t st_rnd(void);
unsigned st_rnd_below(unsigned n);

#endif
