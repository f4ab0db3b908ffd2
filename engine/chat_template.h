/*
 * chat_template.h — turn a conversation into the prompt text a model was
 * trained on.
 *
 * Models carry a Jinja template in `tokenizer.chat_template`.  Like the
 * reference implementation, we do not run Jinja: we recognise the known
 * template families by tell-tale substrings and render each with a
 * hand-written formatter.  An unrecognised or absent template falls back
 * to ChatML, and callers say so (see chat_tmpl_detect's `known`).
 *
 * The rendered text contains special-token text (`<|im_start|>` ...) and
 * must be tokenized with special-token parsing on; BOS is left to the
 * tokenizer (add_special), never written as text.
 */
#ifndef FRONTDESK_CHAT_TEMPLATE_H
#define FRONTDESK_CHAT_TEMPLATE_H

#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    CHAT_TMPL_CHATML,
    CHAT_TMPL_LLAMA3,
    CHAT_TMPL_LLAMA2,           /* [INST] ... [/INST], system folded in   */
    CHAT_TMPL_LLAMA2_SYS,       /* with <<SYS>> blocks                     */
    CHAT_TMPL_LLAMA2_SYS_BOS,   /* ... and <s> before later turns          */
    CHAT_TMPL_LLAMA2_SYS_STRIP, /* ... and contents stripped               */
    CHAT_TMPL_MISTRAL_V1,
    CHAT_TMPL_MISTRAL_V3,
    CHAT_TMPL_MISTRAL_V7,
    CHAT_TMPL_ZEPHYR,
    CHAT_TMPL_GEMMA,
    CHAT_TMPL_PHI3,
    CHAT_TMPL_COUNT
} chat_tmpl;

typedef struct {
    const char *role; /* "system", "user" or "assistant" */
    const char *content;
} chat_msg;

/* Recognise a template from its Jinja text.  *known is false (and ChatML
 * returned) when text is empty or matches no family we render. */
chat_tmpl chat_tmpl_detect(const char *text, size_t len, bool *known);

/* "chatml", "llama3", "llama2", "zephyr", "gemma", "phi3", ... */
const char *chat_tmpl_name(chat_tmpl t);
/* Parse a name accepted by --chat-template; false when unknown. */
bool chat_tmpl_from_name(const char *name, chat_tmpl *out);
/* The names accepted by chat_tmpl_from_name, comma-separated. */
const char *chat_tmpl_names(void);

/* Render msgs into out (appended); add_assistant opens the assistant turn
 * the model is to complete. */
void chat_tmpl_apply(chat_tmpl t, const chat_msg *msgs, size_t n, bool add_assistant, strbuf *out);

#endif
