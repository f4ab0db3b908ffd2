/*
 * store_url.h — what a database location given to frontdesk (--db,
 * $FRONTDESK_DB, [store] url) names, checked before anything is opened
 * or created.
 *
 * A PostgreSQL URL is libpq's
 *
 *   postgresql://[user@][host][:port][,host[:port]...][/dbname][?key=value[&key=value...]]
 *
 * (or postgres://), hosts being names, addresses or [IPv6] addresses,
 * every part percent-encodable.  frontdesk passes it to libpq as it is;
 * it never holds a password: libpq takes that from ~/.pgpass (or the file
 * $PGPASSFILE names) or $PGPASSWORD, so no password is ever on a command
 * line, in a config file, in `ps` or in a shell's history.  The user
 * part is what comes before the LAST '@' of the authority (a password may
 * hold an unencoded '@'); a ':' in it starts a password, as does a
 * password= or sslpassword= query parameter (keys decoded, any case).
 *
 * Only syntax is checked here; libpq says whether the server, the
 * database and the user exist.  This module prints nothing and never
 * puts a password in a message: a malformed URL's message names the
 * problem and the scheme only, since the part it could not parse may be a
 * password.
 */
#ifndef FRONTDESK_STORE_URL_H
#define FRONTDESK_STORE_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    STORE_URL_NONE,     /* not a URL: an SQLite file path                      */
    STORE_URL_PG,       /* a PostgreSQL URL without a password: use it as it is */
    STORE_URL_PASSWORD, /* a PostgreSQL URL holding a password: refused         */
    STORE_URL_BAD,      /* postgresql:// or postgres://, but malformed          */
    STORE_URL_OTHER,    /* another scheme (sqlite://, file://, mysql://): refused */
} store_url_kind;

/* Whether s looks like a URL, scheme://... (the scheme a letter, then
 * letters, digits, '+', '-', '.'). */
bool store_is_url(const char *s);

/* Whether s starts with postgresql:// or postgres://, well-formed or not
 * (lower case, as libpq reads them: POSTGRESQL:// is another scheme). */
bool store_is_pg_url(const char *s);

/* What s is.  For PASSWORD, BAD and OTHER, why (at least 1 byte) gets one
 * line saying so and what to do instead, meant to follow "SOURCE: ", e.g.
 * "postgresql://ana:***@db.example/fd holds a password; ..." (the URL
 * with every password as ***) or "\"postgresql://…\" is not a valid
 * PostgreSQL URL: the port is not a number from 1 to 65535 (...)".
 * NONE and PG leave why empty. */
store_url_kind store_url_check(const char *s, char *why, size_t whylen);

/* s with the password of its user part and the values of its password=
 * and sslpassword= parameters replaced by *** (caller frees); a string
 * that is no PostgreSQL URL comes back unchanged. */
char *store_url_redact(const char *s);

#endif
