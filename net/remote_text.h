/*
 * remote_text.h — what a server sent, made safe to put in a message for a
 * person: its secret redacted, control characters and runs of white space
 * as one space, invalid UTF-8 as '?', at most 300 bytes; the URL without
 * its user:password@.  Used by remote.c.
 */
#ifndef FRONTDESK_REMOTE_TEXT_H
#define FRONTDESK_REMOTE_TEXT_H

#include "util/util.h"

#include <stddef.h>

/* Replace every occurrence of secret in sb, from offset `from`, by
 * "[redacted]" (secret NULL or "": nothing). */
void remote_redact(strbuf *sb, size_t from, const char *secret);
/* Append server-supplied bytes s[0..n) to sb (secret may be NULL). */
void remote_put_server_text(strbuf *sb, const char *s, size_t n, const char *secret);
/* The message of an error body ({"error":{"message"}}, {"error":"..."},
 * {"message"}, {"detail"}, else the body as text; "(no message)" when
 * empty). */
void remote_put_error_body(strbuf *sb, const char *body, size_t n, const char *secret);
/* The URL as shown in messages: without a "user:password@" (malloc'ed). */
char *remote_url_for_display(const char *url);
/* Whether the URL's authority holds a password ("user:password@host").
 * frontdesk refuses such a URL: it would be stored with every request,
 * and keys come from the environment only. */
bool remote_url_has_password(const char *url);

#endif
