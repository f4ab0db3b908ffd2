/*
 * fuzz_chat_template.c — chat-template rendering of arbitrary messages, and
 * template detection on arbitrary Jinja text.
 *
 * Input: byte 0 is the flags (bit 0: open the assistant turn); the rest is
 * split at NUL bytes into fields taken in pairs, role then content.  A role
 * field spelt "system", "user" or "assistant" is that role; any other is
 * mapped by its first byte to one of them or kept as it is (a role no
 * template knows, as an API client may send).  Every template renders the
 * messages; chat_tmpl_detect reads the whole input as a template's text.
 * Checked besides not crashing: detect names a template that exists, and
 * each template's name parses back to it.
 */
#include "tests/fuzz/fuzz.h"

#include "engine/chat_template.h"
#include "util/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *role_of(const char *field)
{
    static const char *const roles[] = {"system", "user", "assistant"};
    for (size_t i = 0; i < 3; i++)
        if (!strcmp(field, roles[i]))
            return roles[i];
    unsigned pick = (unsigned char)field[0] % 4;
    return pick < 3 ? roles[pick] : field;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool known;
    chat_tmpl detected = chat_tmpl_detect((const char *)data, size, &known);
    if ((unsigned)detected >= CHAT_TMPL_COUNT || (!known && detected != CHAT_TMPL_CHATML))
        abort();
    if (size < 1)
        return 0;
    bool add_assistant = data[0] & 1;
    /* A NUL-terminated copy of the rest, cut into fields at each NUL. */
    size_t len = size - 1;
    char *text = xmalloc(len + 1);
    memcpy(text, data + 1, len);
    text[len] = '\0';
    size_t n_fields = 1;
    for (size_t i = 0; i < len; i++)
        n_fields += text[i] == '\0';
    chat_msg *msgs = xcalloc(n_fields / 2 + 1, sizeof *msgs);
    size_t n = 0;
    const char *field = text, *end = text + len;
    while (field <= end) {
        const char *content = field + strlen(field) + 1;
        if (content > end)
            break; /* a role without content */
        msgs[n].role = role_of(field);
        msgs[n].content = content;
        n++;
        field = content + strlen(content) + 1;
    }
    strbuf out = {0};
    for (int t = 0; t < CHAT_TMPL_COUNT; t++) {
        chat_tmpl back;
        if (!chat_tmpl_from_name(chat_tmpl_name((chat_tmpl)t), &back) || back != (chat_tmpl)t)
            abort();
        sb_clear(&out);
        chat_tmpl_apply((chat_tmpl)t, msgs, n, add_assistant, &out);
    }
    sb_free(&out);
    free(msgs);
    free(text);
    return 0;
}
