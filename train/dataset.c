/*
 * dataset.c — the training conversations (see dataset.h): Bitext's CSV
 * through libcsv, STAR's and the export format's JSONL through jansson, the
 * stratified split, ChatML rendering and masked tokenization.
 *
 * Input is read whole (at most DS_MAX_FILE bytes) and fed to the parsers a
 * line at a time, so every error can name its line.  What it does not do:
 * decide how often each source is repeated, cut long conversations to a
 * context, or shuffle (the trainer's business).
 */
#include "train/dataset.h"

#include "engine/chat_template.h"
#include "util/private.h"

#include <csv.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DS_MAX_FILE ((size_t)1 << 30)

const char ds_default_system[] =
    "You are a helpful, polite customer-service agent. Answer the customer's question clearly and "
    "briefly.";

void ds_options_default(ds_options *o)
{
    o->data_dir = "../shared/data";
    o->system = ds_default_system;
    o->valid_fraction = 0.05;
    o->seed = 1;
}

const char *ds_role_name(ds_role r)
{
    return r == DS_ROLE_SYSTEM ? "system" : r == DS_ROLE_USER ? "user" : "assistant";
}

const char *ds_source_name(ds_source s)
{
    return s == DS_SRC_BITEXT ? "bitext" : s == DS_SRC_STAR ? "star" : "jsonl";
}

/* ---- Conversations ------------------------------------------------------------ */

static bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

char *ds_normalise_text(const char *text, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t m = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\r') {
            out[m++] = '\n';
            if (i + 1 < len && text[i + 1] == '\n')
                i++;
        } else {
            out[m++] = text[i];
        }
    }
    size_t a = 0;
    while (a < m && is_space(out[a]))
        a++;
    while (m > a && is_space(out[m - 1]))
        m--;
    memmove(out, out + a, m - a);
    out[m - a] = '\0';
    return out;
}

static ds_conv *conv_new(dataset *d, ds_source src)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 1024;
        d->conv = xreallocarray(d->conv, d->cap, sizeof *d->conv);
    }
    ds_conv *c = &d->conv[d->n++];
    memset(c, 0, sizeof *c);
    c->source = src;
    c->split = DS_TRAIN;
    return c;
}

/* Append a message taking ownership of `content` (already normalised). */
static void conv_add(ds_conv *c, ds_role role, char *content)
{
    c->msgs = xreallocarray(c->msgs, c->n_msgs + 1, sizeof *c->msgs);
    c->msgs[c->n_msgs++] = (ds_msg){role, content};
}

static void conv_free(ds_conv *c)
{
    for (size_t i = 0; i < c->n_msgs; i++)
        free(c->msgs[i].content);
    free(c->msgs);
    free(c->id);
    free(c->stratum);
    free(c->intent);
    free(c->category);
    free(c->meta);
}

/* Drop the last conversation (one being built when an error struck). */
static void conv_drop_last(dataset *d)
{
    conv_free(&d->conv[--d->n]);
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = xmalloc(n > 0 ? (size_t)n + 1 : 1);
    va_start(ap, fmt);
    vsnprintf(s, n > 0 ? (size_t)n + 1 : 1, fmt, ap);
    va_end(ap);
    return s;
}

static void reindex(dataset *d)
{
    for (int s = 0; s < 2; s++) {
        free(d->in[s]);
        d->in[s] = xmallocarray(d->n ? d->n : 1, sizeof *d->in[s]);
        d->n_in[s] = 0;
    }
    for (size_t i = 0; i < d->n; i++) {
        int s = d->conv[i].split == DS_VALID;
        d->in[s][d->n_in[s]++] = i;
    }
}

void ds_free(dataset *d)
{
    for (size_t i = 0; i < d->n; i++)
        conv_free(&d->conv[i]);
    free(d->conv);
    free(d->in[0]);
    free(d->in[1]);
    memset(d, 0, sizeof *d);
}

size_t ds_count(const dataset *d, ds_split s)
{
    return s == DS_ALL ? d->n : d->n_in[s == DS_VALID];
}

const ds_conv *ds_get(const dataset *d, ds_split s, size_t i)
{
    if (i >= ds_count(d, s))
        return NULL;
    return s == DS_ALL ? &d->conv[i] : &d->conv[d->in[s == DS_VALID][i]];
}

/* ---- Reading files ------------------------------------------------------------ */

/* Strict UTF-8: no overlong forms, surrogates or values above U+10FFFF. */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i - 1 < k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

static int read_whole(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    if (util_read_file(path, buf, len) != 0) {
        *buf = NULL;
        util_errf(err, errlen, "%s: %s", path, strerror(errno));
        return DS_EIO;
    }
    if (*len > DS_MAX_FILE) {
        util_errf(err, errlen, "%s: %zu bytes is more than the %zu-byte limit", path, *len, DS_MAX_FILE);
        free(*buf);
        *buf = NULL;
        return DS_EFORMAT;
    }
    return DS_OK;
}

/* ---- Bitext: CSV -------------------------------------------------------------------- */

enum { COL_INSTRUCTION, COL_RESPONSE, COL_INTENT, COL_CATEGORY, N_COLS };
static const char *const col_names[N_COLS] = {"instruction", "response", "intent", "category"};

typedef struct {
    dataset *d;
    const char *path, *system;
    char **field; /* the current record's fields (NUL-terminated) */
    size_t *flen;
    size_t n_field, cap_field;
    size_t line;     /* the line being fed to the parser */
    size_t rec_line; /* the line the current record starts on */
    size_t n_rec;    /* records finished, header included */
    size_t n_cols;   /* fields per record, from the header */
    size_t col[N_COLS];
    int rc;
    char *err;
    size_t errlen;
} csv_ctx;

static void csv_clear(csv_ctx *x)
{
    for (size_t i = 0; i < x->n_field; i++)
        free(x->field[i]);
    x->n_field = 0;
}

static void csv_on_field(void *data, size_t len, void *ud)
{
    csv_ctx *x = ud;
    if (x->rc != DS_OK)
        return;
    if (x->n_field == x->cap_field) {
        x->cap_field = x->cap_field ? 2 * x->cap_field : 16;
        x->field = xreallocarray(x->field, x->cap_field, sizeof *x->field);
        x->flen = xreallocarray(x->flen, x->cap_field, sizeof *x->flen);
    }
    char *f = xmalloc(len + 1);
    if (len)
        memcpy(f, data, len);
    f[len] = '\0';
    x->flen[x->n_field] = len;
    x->field[x->n_field++] = f;
}

static int csv_header(csv_ctx *x)
{
    x->n_cols = x->n_field;
    for (int k = 0; k < N_COLS; k++) {
        size_t i = 0;
        for (; i < x->n_field; i++) {
            const char *name = x->field[i];
            if (i == 0 && memcmp(name, "\xEF\xBB\xBF", 3) == 0)
                name += 3; /* a UTF-8 byte-order mark */
            if (strcmp(name, col_names[k]) == 0)
                break;
        }
        if (i == x->n_field) {
            util_errf(x->err, x->errlen, "%s:%zu: the header has no column '%s'", x->path,
                      x->rec_line, col_names[k]);
            return DS_EFORMAT;
        }
        x->col[k] = i;
    }
    return DS_OK;
}

static int csv_record(csv_ctx *x)
{
    if (x->n_field != x->n_cols) {
        util_errf(x->err, x->errlen, "%s:%zu: a record of %zu fields; the header has %zu", x->path,
                  x->rec_line, x->n_field, x->n_cols);
        return DS_EFORMAT;
    }
    char *val[N_COLS];
    for (int k = 0; k < N_COLS; k++) {
        size_t i = x->col[k];
        const char *why = memchr(x->field[i], 0, x->flen[i]) ? "contains a NUL byte"
                        : !valid_utf8((const unsigned char *)x->field[i], x->flen[i]) ? "is not valid UTF-8"
                        : NULL;
        val[k] = why ? NULL : ds_normalise_text(x->field[i], x->flen[i]);
        if (!why && !val[k][0])
            why = "is empty";
        if (why) {
            util_errf(x->err, x->errlen, "%s:%zu: field '%s' %s", x->path, x->rec_line, col_names[k], why);
            for (int j = 0; j <= k; j++)
                free(val[j]);
            return DS_EFORMAT;
        }
    }
    ds_conv *c = conv_new(x->d, DS_SRC_BITEXT);
    c->id = xasprintf("bitext:%zu", x->n_rec);
    c->stratum = xasprintf("bitext:%s", val[COL_INTENT]);
    c->intent = val[COL_INTENT];
    c->category = val[COL_CATEGORY];
    conv_add(c, DS_ROLE_SYSTEM, ds_normalise_text(x->system, strlen(x->system)));
    conv_add(c, DS_ROLE_USER, val[COL_INSTRUCTION]);
    conv_add(c, DS_ROLE_ASSISTANT, val[COL_RESPONSE]);
    return DS_OK;
}

static void csv_on_row(int term, void *ud)
{
    (void)term;
    csv_ctx *x = ud;
    if (x->rc == DS_OK)
        x->rc = x->n_rec == 0 ? csv_header(x) : csv_record(x);
    csv_clear(x);
    x->n_rec++;
    x->rec_line = x->line + 1; /* records end at the end of a line */
}

int ds_load_bitext(dataset *d, const char *path, const char *system, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    int rc = read_whole(path, &buf, &len, err, errlen);
    if (rc != DS_OK)
        return rc;
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        free(buf);
        util_errf(err, errlen, "%s: cannot start the CSV parser", path);
        return DS_EIO;
    }
    size_t n0 = d->n;
    csv_ctx x = {.d = d, .path = path, .system = system, .line = 1, .rec_line = 1, .err = err,
                 .errlen = errlen};
    for (size_t pos = 0; pos < len && x.rc == DS_OK; x.line++) {
        const char *eol = memchr(buf + pos, '\n', len - pos);
        size_t end = eol ? (size_t)(eol - buf) + 1 : len;
        if (csv_parse(&p, buf + pos, end - pos, csv_on_field, csv_on_row, &x) != end - pos &&
            x.rc == DS_OK) {
            util_errf(err, errlen, "%s:%zu: %s (in the record starting on line %zu)", path, x.line,
                      csv_strerror(csv_error(&p)), x.rec_line);
            x.rc = DS_EFORMAT;
        }
        pos = end;
    }
    if (x.rc == DS_OK && csv_fini(&p, csv_on_field, csv_on_row, &x) != 0 && x.rc == DS_OK) {
        util_errf(err, errlen, "%s:%zu: a quoted field is never closed (the record starts on line %zu)",
                  path, x.line - 1, x.rec_line);
        x.rc = DS_EFORMAT;
    }
    if (x.rc == DS_OK && x.n_rec == 0) {
        util_errf(err, errlen, "%s: empty file, no header", path);
        x.rc = DS_EFORMAT;
    }
    csv_free(&p);
    csv_clear(&x);
    free(x.field);
    free(x.flen);
    free(buf);
    if (x.rc != DS_OK)
        while (d->n > n0)
            conv_drop_last(d);
    reindex(d);
    return x.rc;
}

/* ---- JSONL: shared ---------------------------------------------------------------------- */

/* Call fn on each non-blank line; fn returns DS_OK or an error it wrote. */
typedef int (*line_fn)(void *ctx, const char *path, size_t line, json_t *obj, char *err, size_t errlen);

static int each_json_line(const char *path, line_fn fn, void *ctx, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = read_whole(path, &buf, &len, err, errlen);
    size_t line = 1;
    for (size_t pos = 0; rc == DS_OK && pos < len; line++) {
        const char *eol = memchr(buf + pos, '\n', len - pos);
        size_t end = eol ? (size_t)(eol - buf) : len;
        size_t a = pos;
        while (a < end && is_space(buf[a]))
            a++;
        if (a < end) {
            json_error_t jerr;
            json_t *obj = json_loadb(buf + pos, end - pos, JSON_REJECT_DUPLICATES, &jerr);
            if (!obj) {
                util_errf(err, errlen, "%s:%zu:%d: %s", path, line, jerr.column, jerr.text);
                rc = DS_EFORMAT;
            } else if (!json_is_object(obj)) {
                util_errf(err, errlen, "%s:%zu: not a JSON object", path, line);
                rc = DS_EFORMAT;
            } else {
                rc = fn(ctx, path, line, obj, err, errlen);
            }
            json_decref(obj);
        }
        pos = end + 1;
    }
    free(buf);
    return rc;
}

static char *json_strdup_or_null(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? xstrdup(s) : NULL;
}

/* ---- STAR -------------------------------------------------------------------------------- */

typedef struct {
    dataset *d;
    const char *system;
} star_ctx;

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "star:" + the domains sorted and joined with '+' ("none" for none). */
static char *star_stratum(json_t *domains)
{
    size_t n = json_is_array(domains) ? json_array_size(domains) : 0;
    const char **names = xcalloc(n ? n : 1, sizeof *names);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (json_is_string(json_array_get(domains, i)))
            names[k++] = json_string_value(json_array_get(domains, i));
    qsort(names, k, sizeof *names, by_str);
    strbuf sb = {0};
    sb_puts(&sb, "star:");
    for (size_t i = 0; i < k; i++) {
        if (i)
            sb_putc(&sb, '+');
        sb_puts(&sb, names[i]);
    }
    if (!k)
        sb_puts(&sb, "none");
    free(names);
    return sb.data;
}

static int star_line(void *ctx, const char *path, size_t line, json_t *o, char *err, size_t errlen)
{
    star_ctx *x = ctx;
    json_t *id = json_object_get(o, "dialogue_id"), *turns = json_object_get(o, "turns");
    json_t *domains = json_object_get(o, "domains");
    if (!json_is_integer(id) || !json_is_array(turns)) {
        util_errf(err, errlen, "%s:%zu: needs an integer 'dialogue_id' and an array 'turns'", path, line);
        return DS_EFORMAT;
    }
    if (domains && !json_is_array(domains) && !json_is_null(domains)) {
        util_errf(err, errlen, "%s:%zu: 'domains' is neither an array nor null", path, line);
        return DS_EFORMAT;
    }
    ds_conv *c = conv_new(x->d, DS_SRC_STAR);
    conv_add(c, DS_ROLE_SYSTEM, ds_normalise_text(x->system, strlen(x->system)));
    bool any_agent = false;
    for (size_t i = 0; i < json_array_size(turns); i++) {
        json_t *t = json_array_get(turns, i);
        const char *speaker = json_string_value(json_object_get(t, "speaker"));
        json_t *text = json_object_get(t, "text");
        ds_role role = speaker && !strcmp(speaker, "agent") ? DS_ROLE_ASSISTANT : DS_ROLE_USER;
        if (!json_is_object(t) || !speaker || (strcmp(speaker, "agent") && strcmp(speaker, "customer")) ||
            !json_is_string(text)) {
            util_errf(err, errlen, "%s:%zu: turn %zu needs 'speaker' (customer or agent) and a string "
                      "'text'", path, line, i + 1);
            conv_drop_last(x->d);
            return DS_EFORMAT;
        }
        char *s = ds_normalise_text(json_string_value(text), json_string_length(text));
        if (!s[0]) {
            free(s);
            continue;
        }
        ds_msg *last = &c->msgs[c->n_msgs - 1];
        if (c->n_msgs > 1 && last->role == role) { /* the same speaker again: one turn */
            size_t a = strlen(last->content), b = strlen(s);
            last->content = xrealloc(last->content, a + b + 2);
            last->content[a] = '\n';
            memcpy(last->content + a + 1, s, b + 1);
            free(s);
        } else {
            conv_add(c, role, s);
        }
        any_agent |= role == DS_ROLE_ASSISTANT;
    }
    while (c->n_msgs > 1 && c->msgs[c->n_msgs - 1].role == DS_ROLE_USER) {
        free(c->msgs[c->n_msgs - 1].content);
        c->n_msgs--;
    }
    if (!any_agent) {
        conv_drop_last(x->d);
        x->d->star_skipped++;
        return DS_OK;
    }
    c->id = xasprintf("star:%lld", (long long)json_integer_value(id));
    c->stratum = star_stratum(domains);
    return DS_OK;
}

int ds_load_star(dataset *d, const char *path, const char *system, char *err, size_t errlen)
{
    size_t n0 = d->n, skipped0 = d->star_skipped;
    star_ctx x = {d, system};
    int rc = each_json_line(path, star_line, &x, err, errlen);
    if (rc != DS_OK) {
        while (d->n > n0)
            conv_drop_last(d);
        d->star_skipped = skipped0;
    }
    reindex(d);
    return rc;
}

/* ---- Export-format JSONL ------------------------------------------------------------------ */

typedef struct {
    dataset *d;
    bool learn_last_only;
    const char *base; /* the file's name without directories */
} jsonl_ctx;

static int jsonl_line(void *ctx, const char *path, size_t line, json_t *o, char *err, size_t errlen)
{
    jsonl_ctx *x = ctx;
    json_t *msgs = json_object_get(o, "messages"), *meta = json_object_get(o, "metadata");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        util_errf(err, errlen, "%s:%zu: needs a non-empty array 'messages'", path, line);
        return DS_EFORMAT;
    }
    if (meta && !json_is_object(meta) && !json_is_null(meta)) {
        util_errf(err, errlen, "%s:%zu: 'metadata' is not an object", path, line);
        return DS_EFORMAT;
    }
    if (!json_is_object(meta))
        meta = NULL;
    const char *src = meta ? json_string_value(json_object_get(meta, "source")) : NULL;
    ds_conv *c = conv_new(x->d, src && !strcmp(src, "bitext") ? DS_SRC_BITEXT
                                : src && !strcmp(src, "star") ? DS_SRC_STAR
                                                              : DS_SRC_JSONL);
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i), *content = json_object_get(m, "content");
        const char *role = json_string_value(json_object_get(m, "role"));
        ds_role r = !role ? DS_ROLE_SYSTEM : !strcmp(role, "system") ? DS_ROLE_SYSTEM
                  : !strcmp(role, "user") ? DS_ROLE_USER : DS_ROLE_ASSISTANT;
        if (!json_is_object(m) || !role ||
            (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant")) ||
            !json_is_string(content)) {
            util_errf(err, errlen, "%s:%zu: message %zu needs 'role' (system, user or assistant) and "
                      "a string 'content'", path, line, i + 1);
            conv_drop_last(x->d);
            return DS_EFORMAT;
        }
        conv_add(c, r, ds_normalise_text(json_string_value(content), json_string_length(content)));
    }
    c->id = meta ? json_strdup_or_null(meta, "id") : NULL;
    if (!c->id)
        c->id = xasprintf("%s:%zu", x->base, line);
    c->stratum = meta ? json_strdup_or_null(meta, "stratum") : NULL;
    c->intent = meta ? json_strdup_or_null(meta, "intent") : NULL;
    c->category = meta ? json_strdup_or_null(meta, "category") : NULL;
    if (!c->stratum)
        c->stratum = c->intent ? xasprintf("intent:%s", c->intent) : xstrdup("jsonl");
    const char *split = meta ? json_string_value(json_object_get(meta, "split")) : NULL;
    c->split = split && !strcmp(split, "valid") ? DS_VALID : DS_TRAIN;
    json_t *lf = meta ? json_object_get(meta, "learn_from") : NULL;
    if (x->learn_last_only)
        c->learn_from = c->msgs[c->n_msgs - 1].role == DS_ROLE_ASSISTANT ? c->n_msgs - 1 : c->n_msgs;
    else if (json_is_integer(lf) && json_integer_value(lf) >= 0)
        c->learn_from = (size_t)json_integer_value(lf);
    if (meta)
        c->meta = json_dumps(meta, JSON_COMPACT);
    return DS_OK;
}

int ds_read_jsonl(dataset *d, const char *path, bool learn_last_only, char *err, size_t errlen)
{
    size_t n0 = d->n;
    const char *slash = strrchr(path, '/');
    jsonl_ctx x = {d, learn_last_only, slash ? slash + 1 : path};
    int rc = each_json_line(path, jsonl_line, &x, err, errlen);
    if (rc != DS_OK)
        while (d->n > n0)
            conv_drop_last(d);
    reindex(d);
    return rc;
}

static json_t *conv_json(const ds_conv *c)
{
    json_t *msgs = json_array();
    for (size_t i = 0; i < c->n_msgs; i++) {
        json_t *m = json_object();
        json_object_set_new(m, "role", json_string(ds_role_name(c->msgs[i].role)));
        json_object_set_new(m, "content", json_string(c->msgs[i].content));
        json_array_append_new(msgs, m);
    }
    json_t *meta = c->meta ? json_loads(c->meta, 0, NULL) : NULL;
    if (!json_is_object(meta)) {
        json_decref(meta);
        meta = json_object();
    }
    if (c->source != DS_SRC_JSONL)
        json_object_set_new(meta, "source", json_string(ds_source_name(c->source)));
    json_object_set_new(meta, "id", json_string(c->id));
    json_object_set_new(meta, "stratum", json_string(c->stratum));
    if (c->intent)
        json_object_set_new(meta, "intent", json_string(c->intent));
    if (c->category)
        json_object_set_new(meta, "category", json_string(c->category));
    json_object_set_new(meta, "split", json_string(c->split == DS_VALID ? "valid" : "train"));
    if (c->learn_from)
        json_object_set_new(meta, "learn_from", json_integer((json_int_t)c->learn_from));
    json_t *o = json_object();
    json_object_set_new(o, "messages", msgs);
    json_object_set_new(o, "metadata", meta);
    return o;
}

int ds_write_jsonl(const dataset *d, ds_split s, const char *path, char *err, size_t errlen)
{
    strbuf tmp = {0};
    sb_printf(&tmp, "%s.tmp", path);
    FILE *f = priv_fopen_replacing(tmp.data, path); /* 0600 unless it exists */
    if (!f) {
        util_errf(err, errlen, "%s: %s", tmp.data, strerror(errno));
        sb_free(&tmp);
        return DS_EIO;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < ds_count(d, s); i++) {
        json_t *o = conv_json(ds_get(d, s, i));
        ok = json_dumpf(o, f, JSON_COMPACT) == 0 && fputc('\n', f) != EOF;
        json_decref(o);
    }
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp.data, path) != 0) {
        e = errno;
        ok = false;
    }
    if (!ok) {
        util_errf(err, errlen, "%s: %s", path, strerror(e ? e : EIO));
        unlink(tmp.data);
    }
    sb_free(&tmp);
    return ok ? DS_OK : DS_EIO;
}

/* ---- Loading everything, splitting ---------------------------------------------------------- */

int ds_load(dataset *d, const ds_options *o, char *err, size_t errlen)
{
    strbuf p = {0};
    sb_printf(&p, "%s/bitext-customer-support/bitext_support_train.csv", o->data_dir);
    int rc = ds_load_bitext(d, p.data, o->system, err, errlen);
    if (rc == DS_OK) {
        sb_clear(&p);
        sb_printf(&p, "%s/star/star_dialogues_train.jsonl", o->data_dir);
        rc = ds_load_star(d, p.data, o->system, err, errlen);
    }
    sb_free(&p);
    if (rc == DS_OK)
        ds_assign_split(d, o->valid_fraction, o->seed);
    return rc;
}

static uint64_t split_key(uint64_t seed, const char *id)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *s = (const unsigned char *)id; *s; s++)
        h = (h ^ *s) * 0x100000001b3ULL;
    uint64_t x = h ^ (seed * 0x9e3779b97f4a7c15ULL); /* splitmix64's finaliser */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

typedef struct {
    const ds_conv *c;
    uint64_t key;
    size_t index;
} split_item;

static int by_stratum_key(const void *a, const void *b)
{
    const split_item *x = a, *y = b;
    int s = strcmp(x->c->stratum, y->c->stratum);
    if (s)
        return s;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    s = strcmp(x->c->id, y->c->id);
    return s ? s : (x->index > y->index) - (x->index < y->index);
}

void ds_assign_split(dataset *d, double valid_fraction, uint64_t seed)
{
    double f = valid_fraction < 0 ? 0 : valid_fraction > 1 ? 1 : valid_fraction;
    split_item *it = xmallocarray(d->n ? d->n : 1, sizeof *it);
    for (size_t i = 0; i < d->n; i++)
        it[i] = (split_item){&d->conv[i], split_key(seed, d->conv[i].id), i};
    qsort(it, d->n, sizeof *it, by_stratum_key);
    for (size_t a = 0, b; a < d->n; a = b) {
        for (b = a + 1; b < d->n && !strcmp(it[b].c->stratum, it[a].c->stratum); b++)
            ;
        size_t k = (size_t)(f * (double)(b - a) + 0.5);
        for (size_t i = a; i < b; i++)
            d->conv[it[i].index].split = i - a < k ? DS_VALID : DS_TRAIN;
    }
    free(it);
    reindex(d);
}

/* ---- Text and tokens ---------------------------------------------------------------------------- */

void ds_render(const ds_conv *c, strbuf *out)
{
    chat_msg *m = xmallocarray(c->n_msgs ? c->n_msgs : 1, sizeof *m);
    for (size_t i = 0; i < c->n_msgs; i++)
        m[i] = (chat_msg){ds_role_name(c->msgs[i].role), c->msgs[i].content};
    chat_tmpl_apply(CHAT_TMPL_CHATML, m, c->n_msgs, false, out);
    free(m);
}

bool ds_corpus_next(void *cursor, strbuf *text)
{
    ds_cursor *cur = cursor;
    const ds_conv *c = ds_get(cur->d, cur->split, cur->next);
    if (!c)
        return false;
    cur->next++;
    ds_render(c, text);
    return true;
}

/* Grow the mask to the ids' capacity, and give the ids from `from` on `bit`. */
static void mask_fill(ds_tokens *t, size_t *mask_cap, size_t from, uint8_t bit)
{
    if (*mask_cap < t->cap) {
        t->mask = xrealloc(t->mask, t->cap);
        *mask_cap = t->cap;
    }
    memset(t->mask + from, bit, t->n - from);
}

static int encode_part(const tok_vocab *v, const char *s, size_t len, uint8_t bit, ds_tokens *t,
                       size_t *mask_cap, char *err, size_t errlen)
{
    size_t from = t->n;
    char sub[256];
    if (tok_encode(v, s, len, false, false, &t->ids, &t->n, &t->cap, sub, sizeof sub) != TOK_OK) {
        util_errf(err, errlen, "tokenizing: %s", sub);
        return DS_ETOK;
    }
    mask_fill(t, mask_cap, from, bit);
    return DS_OK;
}

static void push_token(ds_tokens *t, size_t *mask_cap, int32_t id, uint8_t bit)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 256;
        t->ids = xreallocarray(t->ids, t->cap, sizeof *t->ids);
    }
    t->ids[t->n++] = id;
    mask_fill(t, mask_cap, t->n - 1, bit);
}

int ds_tokenize(const tok_vocab *v, const ds_conv *c, ds_tokens *t, char *err, size_t errlen)
{
    int32_t start = tok_find(v, "<|im_start|>", 12), end = tok_find(v, "<|im_end|>", 10);
    if (start < 0 || end < 0) {
        util_errf(err, errlen, "the vocabulary has no %s token", start < 0 ? "<|im_start|>" : "<|im_end|>");
        return DS_ETOK;
    }
    size_t mask_cap = t->mask ? t->cap : 0;
    t->n = 0;
    int rc = DS_OK;
    for (size_t i = 0; i < c->n_msgs && rc == DS_OK; i++) {
        const ds_msg *m = &c->msgs[i];
        uint8_t learn = m->role == DS_ROLE_ASSISTANT && i >= c->learn_from;
        char head[16];
        int hl = snprintf(head, sizeof head, "%s\n", ds_role_name(m->role));
        push_token(t, &mask_cap, start, 0);
        rc = encode_part(v, head, (size_t)hl, 0, t, &mask_cap, err, errlen);
        if (rc == DS_OK)
            rc = encode_part(v, m->content, strlen(m->content), learn, t, &mask_cap, err, errlen);
        if (rc == DS_OK) {
            push_token(t, &mask_cap, end, learn);
            rc = encode_part(v, "\n", 1, 0, t, &mask_cap, err, errlen);
        }
    }
    if (mask_cap < t->cap) /* a failed tok_encode may have grown the ids */
        t->mask = xrealloc(t->mask, t->cap);
    if (rc != DS_OK)
        t->n = 0;
    return rc;
}

void ds_tokens_free(ds_tokens *t)
{
    free(t->ids);
    free(t->mask);
    memset(t, 0, sizeof *t);
}
