/*
 * remote_text.c — text a server sent, made safe to show (see
 * remote_text.h).
 */
#include "net/remote_text.h"

#include "net/openai.h"
#include "util/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SERVER_TEXT_MAX 300 /* server text quoted in a message */

/* Length of the valid UTF-8 character at s[0..n), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len;
    unsigned min;
    unsigned cp;
    if ((s[0] & 0xe0) == 0xc0) len = 2, min = 0x80, cp = s[0] & 0x1f;
    else if ((s[0] & 0xf0) == 0xe0) len = 3, min = 0x800, cp = s[0] & 0x0f;
    else if ((s[0] & 0xf8) == 0xf0) len = 4, min = 0x10000, cp = s[0] & 0x07;
    else return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Replace every occurrence of secret in sb (from offset `from`). */
void remote_redact(strbuf *sb, size_t from, const char *secret)
{
    if (!secret || !*secret || !sb->data)
        return;
    size_t sl = strlen(secret);
    strbuf out = {0};
    sb_append(&out, sb->data, from);
    const char *p = sb->data + from, *end = sb->data + sb->len;
    while (p < end) {
        const char *hit = (size_t)(end - p) >= sl ? memmem(p, (size_t)(end - p), secret, sl) : NULL;
        if (!hit) {
            sb_append(&out, p, (size_t)(end - p));
            break;
        }
        sb_append(&out, p, (size_t)(hit - p));
        sb_puts(&out, "[redacted]");
        p = hit + sl;
    }
    sb_free(sb);
    if (!out.data)
        sb_append(&out, "", 0);
    *sb = out;
}

/* Append server-supplied bytes for a human: the secret redacted first (so
 * truncation cannot leave half of it), control characters and runs of
 * white space as one space, invalid UTF-8 as '?', at most
 * SERVER_TEXT_MAX bytes (cut between characters, "..." marking the cut). */
void remote_put_server_text(strbuf *sb, const char *s, size_t n, const char *secret)
{
    strbuf raw = {0};
    sb_append(&raw, s, n);
    remote_redact(&raw, 0, secret);
    const unsigned char *p = (const unsigned char *)raw.data;
    size_t len = raw.len, i = 0, out = 0;
    bool space = true; /* drops leading white space */
    while (i < len) {
        if (p[i] < 0x20 || p[i] == 0x7f || p[i] == ' ') {
            if (!space && out < SERVER_TEXT_MAX) {
                sb_putc(sb, ' ');
                out++;
            }
            space = true;
            i++;
            continue;
        }
        size_t cl = utf8_len(p + i, len - i);
        size_t w = cl ? cl : 1;
        if (out + w > SERVER_TEXT_MAX) {
            sb_puts(sb, "...");
            break;
        }
        if (cl)
            sb_append(sb, p + i, cl);
        else
            sb_putc(sb, '?');
        out += w;
        i += w;
        space = false;
    }
    while (sb->len > 0 && sb->data[sb->len - 1] == ' ')
        sb->data[--sb->len] = '\0';
    sb_free(&raw);
}

/* The message a server put in an error body: {"error":{"message":...}},
 * {"error":"..."}, {"message":"..."} or {"detail":"..."}; else the body as
 * text; "(no message)" when empty. */
void remote_put_error_body(strbuf *sb, const char *body, size_t n, const char *secret)
{
    char *msg = openai_error_message(body, n);
    size_t before = sb->len;
    if (msg)
        remote_put_server_text(sb, msg, strlen(msg), secret);
    else
        remote_put_server_text(sb, body, n, secret);
    if (sb->len == before)
        sb_puts(sb, "(no message)");
    free(msg);
}

/* The authority of url ("user:password@host:port") and its length. */
static const char *url_authority(const char *url, size_t *len)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    *len = strcspn(auth, "/?#");
    return auth;
}

bool remote_url_has_password(const char *url)
{
    size_t alen;
    const char *auth = url_authority(url, &alen);
    const char *at = memchr(auth, '@', alen);
    return at && memchr(auth, ':', (size_t)(at - auth));
}

/* The URL as shown in messages: without a "user:password@". */
char *remote_url_for_display(const char *url)
{
    size_t alen;
    const char *auth = url_authority(url, &alen);
    const char *at = memchr(auth, '@', alen);
    if (!at)
        return xstrdup(url);
    strbuf sb = {0};
    sb_append(&sb, url, (size_t)(auth - url));
    sb_puts(&sb, at + 1);
    return sb.data;
}
