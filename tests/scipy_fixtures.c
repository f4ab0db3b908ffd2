/*
 * scipy_fixtures.c — see scipy_fixtures.h.
 */
#include "tests/scipy_fixtures.h"

#include "tests/testutil.h"

#include <math.h>
#include <stdlib.h>

json_t *fixture_cases(const char *path, json_t **root)
{
    char *text = test_read_file(path, NULL);
    json_error_t je;
    *root = json_loads(text, 0, &je);
    free(text);
    if (!*root)
        fail_msg("%s: line %d: %s", path, je.line, je.text);
    json_t *cases = json_object_get(*root, "cases");
    if (!(json_is_array(cases) && json_array_size(cases) > 0) && !(json_is_object(cases) && json_object_size(cases) > 0))
        fail_msg("%s: no cases", path);
    return cases;
}

double num(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("fixture field \"%s\" is not a number", key);
    return json_number_value(v);
}

double *nums(const json_t *o, const char *key, size_t *n)
{
    json_t *a = json_object_get(o, key);
    if (!json_is_array(a))
        fail_msg("fixture field \"%s\" is not an array", key);
    *n = json_array_size(a);
    double *v = malloc((*n ? *n : 1) * sizeof *v);
    for (size_t i = 0; i < *n; i++)
        v[i] = json_number_value(json_array_get(a, i));
    return v;
}

bool p_close(double got, double want)
{
    if (want < 1e-6)
        return fabs(got - want) <= 1e-12;
    return fabs(got - want) <= 1e-6 * want;
}

bool rel_close(double got, double want, double tol)
{
    return fabs(got - want) <= tol * fmax(fabs(want), 1e-300) || got == want;
}

uint64_t rnd_state;

uint64_t rnd_next(void)
{
    uint64_t z = (rnd_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

int rnd_int(int lo, int hi)
{
    return lo + (int)(rnd_next() % (uint64_t)(hi - lo + 1));
}

double rnd_unit(void)
{
    return (double)(rnd_next() >> 11) * 0x1.0p-53;
}

double rnd_normal(void)
{
    double u = rnd_unit(), v = rnd_unit();
    return sqrt(-2.0 * log(u > 0.0 ? u : 1e-300)) * cos(6.283185307179586 * v);
}
