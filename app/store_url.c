/*
 * store_url.c — telling a PostgreSQL URL from a file path, and refusing
 * one that holds a password or is malformed (store_url.h).  It checks
 * syntax only, in the order that keeps a password out of every message:
 * passwords first, and a malformed URL is never echoed.
 */
#include "app/store_url.h"

#include "util/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* How a password may be given instead, said after "holds a password". */
#define PASSWORD_ADVICE                                                                                    \
    "frontdesk takes no password from a command line or a config file: leave it out of the URL and put "   \
    "it in ~/.pgpass (a line host:port:database:user:password, mode 0600) or $PGPASSWORD, where libpq "    \
    "finds it"

#define PG_FORM "postgresql://[user@][host][:port][/dbname][?key=value&...]"

bool store_is_url(const char *s)
{
    if (!isalpha((unsigned char)s[0]))
        return false;
    size_t i = 1;
    while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    return !strncmp(s + i, "://", 3);
}

/* The length of the postgresql:// or postgres:// prefix, or 0. */
static size_t pg_prefix(const char *s)
{
    if (!strncmp(s, "postgresql://", 13))
        return 13;
    if (!strncmp(s, "postgres://", 11))
        return 11;
    return 0;
}

bool store_is_pg_url(const char *s)
{
    return pg_prefix(s) > 0;
}

/* The parts of a PostgreSQL URL after its scheme: [auth, path) the
 * authority, [path, query) the "/dbname" (may be empty), then the query
 * (after '?', to the end; NULL when there is no '?'); at the last '@' of
 * the authority, or NULL. */
typedef struct {
    const char *auth, *at, *path, *query, *end;
} pg_parts;

static void split(const char *s, pg_parts *p)
{
    p->auth = s + pg_prefix(s);
    p->end = s + strlen(s);
    p->path = p->auth + strcspn(p->auth, "/?");
    const char *q = strchr(p->path, '?');
    p->query = q ? q + 1 : NULL;
    p->at = NULL;
    for (const char *c = p->auth; c < p->path; c++)
        if (*c == '@')
            p->at = c;
}

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

/* A query key [k, e), percent-decoded into buf; false when it does not
 * fit (no key frontdesk looks for is that long). */
static bool decode_key(const char *k, const char *e, char *buf, size_t size)
{
    size_t n = 0;
    for (; k < e; k++) {
        int c = (unsigned char)*k;
        if (c == '%' && e - k >= 3 && hexval((unsigned char)k[1]) >= 0 && hexval((unsigned char)k[2]) >= 0) {
            c = hexval((unsigned char)k[1]) * 16 + hexval((unsigned char)k[2]);
            k += 2;
        }
        if (n + 1 >= size)
            return false;
        buf[n++] = (char)c;
    }
    buf[n] = 0;
    return true;
}

static bool is_password_key(const char *k, const char *e)
{
    char key[32];
    return decode_key(k, e, key, sizeof key) && (!strcasecmp(key, "password") || !strcasecmp(key, "sslpassword"));
}

/* Calls fn for every key=value of the query: [k, eq) the key, [eq+1, e)
 * the value (eq == e when there is no '='). */
typedef bool (*param_fn)(const char *k, const char *eq, const char *e, void *arg);

static bool each_param(const pg_parts *p, param_fn fn, void *arg)
{
    if (!p->query)
        return true;
    for (const char *k = p->query; k <= p->end;) {
        const char *e = k + strcspn(k, "&");
        const char *eq = memchr(k, '=', (size_t)(e - k));
        if (!fn(k, eq ? eq : e, e, arg))
            return false;
        if (!*e)
            break;
        k = e + 1;
    }
    return true;
}

static bool no_password_param(const char *k, const char *eq, const char *e, void *arg)
{
    (void)e;
    (void)arg;
    return !is_password_key(k, eq);
}

static bool has_password(const pg_parts *p)
{
    return (p->at && memchr(p->auth, ':', (size_t)(p->at - p->auth))) || !each_param(p, no_password_param, NULL);
}

char *store_url_redact(const char *s)
{
    if (!pg_prefix(s))
        return xstrdup(s);
    pg_parts p;
    split(s, &p);
    strbuf sb = {0};
    sb_puts(&sb, "");
    const char *colon = p.at ? memchr(p.auth, ':', (size_t)(p.at - p.auth)) : NULL;
    if (colon) {
        sb_append(&sb, s, (size_t)(colon + 1 - s));
        sb_puts(&sb, "***");
        sb_append(&sb, p.at, (size_t)((p.query ? p.query : p.end) - p.at));
    } else
        sb_append(&sb, s, (size_t)((p.query ? p.query : p.end) - s));
    for (const char *k = p.query; k && k <= p.end;) {
        const char *e = k + strcspn(k, "&");
        const char *eq = memchr(k, '=', (size_t)(e - k));
        if (eq && is_password_key(k, eq)) {
            sb_append(&sb, k, (size_t)(eq + 1 - k));
            sb_puts(&sb, "***");
        } else
            sb_append(&sb, k, (size_t)(e - k));
        if (!*e)
            break;
        sb_putc(&sb, '&');
        k = e + 1;
    }
    return sb.data;
}

/* One host[:port] of the authority's list, [h, e): NULL when sound, else
 * what is wrong (never quoting it). */
static const char *check_host(const char *h, const char *e)
{
    const char *port = NULL;
    if (h < e && *h == '[') {
        const char *close = memchr(h, ']', (size_t)(e - h));
        if (!close)
            return "an IPv6 address in [ ] has no ']'";
        for (const char *c = h + 1; c < close; c++)
            if (!isalnum((unsigned char)*c) && *c != ':' && *c != '.' && *c != '%')
                return "an IPv6 address in [ ] holds something else than hex digits, ':', '.' and a %zone";
        if (close + 1 < e && close[1] != ':')
            return "something follows an IPv6 address's ']' other than :port";
        port = close + 1 < e ? close + 2 : NULL;
    } else {
        const char *colon = memchr(h, ':', (size_t)(e - h));
        if (memchr(h, '[', (size_t)(e - h)) || memchr(h, ']', (size_t)(e - h)))
            return "a host holds '[' or ']' (an IPv6 address goes in [ ] as a whole)";
        port = colon ? colon + 1 : NULL;
    }
    if (port) {
        long v = 0;
        const char *c = port;
        for (; c < e && isdigit((unsigned char)*c) && v <= 65535; c++)
            v = v * 10 + (*c - '0');
        if (c == port || c < e || v < 1 || v > 65535)
            return "a port is not a number from 1 to 65535";
    }
    return NULL;
}

static bool param_has_key(const char *k, const char *eq, const char *e, void *arg)
{
    (void)e;
    if (eq == e || eq == k) {
        *(const char **)arg = eq == e ? "a query parameter has no '=' (they are key=value, joined by '&')"
                                      : "a query parameter has no key before its '='";
        return false;
    }
    return true;
}

/* What is wrong with the PostgreSQL URL s (no password in it), or NULL. */
static const char *malformed(const char *s, const pg_parts *p)
{
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return "it holds a space or a control character (percent-encode them: %20)";
    for (const char *c = s; *c; c++)
        if (*c == '%' && (hexval((unsigned char)c[1]) < 0 || hexval((unsigned char)c[2]) < 0))
            return "a '%' is not followed by two hex digits (percent-encoding, e.g. %40 for '@')";
    if (p->at && memchr(p->auth, '@', (size_t)(p->at - p->auth)))
        return "the user name holds an '@' (percent-encode it: %40)";
    if (memchr(p->path, '@', (size_t)((p->query ? p->query - 1 : p->end) - p->path)))
        return "an '@' follows the host (in a database name it is %40; a password never goes in the URL)";
    const char *hosts = p->at ? p->at + 1 : p->auth;
    for (const char *h = hosts; h <= p->path;) {
        const char *e = memchr(h, ',', (size_t)(p->path - h));
        if (!e)
            e = p->path;
        const char *why = check_host(h, e);
        if (why)
            return why;
        if (e == p->path)
            break;
        h = e + 1;
    }
    const char *why = NULL;
    if (p->query && *p->query && !each_param(p, param_has_key, &why))
        return why;
    return NULL;
}

store_url_kind store_url_check(const char *s, char *why, size_t whylen)
{
    if (whylen)
        why[0] = 0;
    if (!store_is_url(s))
        return STORE_URL_NONE;
    int scheme = (int)(strstr(s, "://") - s);
    if (!pg_prefix(s)) {
        util_errf(why, whylen,
                  "\"%.*s://…\" looks like a database URL; frontdesk opens PostgreSQL URLs "
                  "(postgresql://… or postgres://…) and SQLite file paths",
                  scheme, s);
        return STORE_URL_OTHER;
    }
    pg_parts p;
    split(s, &p);
    if (has_password(&p)) {
        char *shown = store_url_redact(s);
        util_errf(why, whylen, "%s holds a password; " PASSWORD_ADVICE, shown);
        free(shown);
        return STORE_URL_PASSWORD;
    }
    const char *what = malformed(s, &p);
    if (what) {
        util_errf(why, whylen, "\"%.*s://…\" is not a valid PostgreSQL URL: %s (the form is " PG_FORM ")", scheme,
                  s, what);
        return STORE_URL_BAD;
    }
    return STORE_URL_PG;
}
