/*
 * scipy_fixtures.h — what the suites checking our statistics against
 * SciPy's figures share (tests/test_stats.c, tests/test_rank.c): reading a
 * fixture file's cases, its numbers, the agreement rules, and a seeded
 * stream of random inputs of the tests' own.
 */
#ifndef FRONTDESK_TESTS_SCIPY_FIXTURES_H
#define FRONTDESK_TESTS_SCIPY_FIXTURES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The "cases" (a non-empty array or object) of the JSON file at path;
 * *root owns them (json_decref it).  Fails the test otherwise. */
json_t *fixture_cases(const char *path, json_t **root);
/* A case's number / array of numbers (malloc'ed, *n values). */
double num(const json_t *o, const char *key);
double *nums(const json_t *o, const char *key, size_t *n);

/* p-values: relative 1e-6, or absolute 1e-12 where the reference is below 1e-6. */
bool p_close(double got, double want);
bool rel_close(double got, double want, double tol);

/* splitmix64 from rnd_state: set it to seed a test. */
extern uint64_t rnd_state;
uint64_t rnd_next(void);
int rnd_int(int lo, int hi);
double rnd_unit(void);
double rnd_normal(void);

#endif
