/*
 * prompt.h — fit a conversation into a context window.
 *
 * The conversation is rendered through a chat template and tokenized
 * (special-token text parsed, BOS as the metadata asks).  When it and the
 * reply's budget do not fit the context, the oldest turns are dropped
 * whole — never the system prompt, never the last message — until they do;
 * the caller is told how many were dropped so it can say so.  Nothing is
 * ever cut in the middle of a turn or a token.
 */
#ifndef FRONTDESK_PROMPT_H
#define FRONTDESK_PROMPT_H

#include "engine/chat_template.h"
#include "engine/tokenizer.h"

#include <stddef.h>
#include <stdint.h>

/* Tokens for msgs[0..n) followed by an open assistant turn, leaving room
 * for n_reserve generated tokens within n_ctx.  On success returns 0 with
 * the ids in *ids (caller frees), their count in *n_ids and the number of
 * dropped messages in *dropped.  Returns -1 with a message when even the
 * system prompt and the last message alone do not fit. */
int prompt_fit(chat_tmpl t, const tok_vocab *v, const chat_msg *msgs, size_t n, int n_ctx, int n_reserve,
               int32_t **ids, size_t *n_ids, size_t *dropped, char *err, size_t errlen);

#endif
