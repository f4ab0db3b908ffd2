/*
 * dataset.h — the conversations the built-in model is trained on: reading
 * the support corpora and the export format, a validation split, ChatML
 * rendering, and token ids with a loss mask.
 *
 * Sources (each becomes one conversation per record; every conversation
 * opens with a system message, then user = customer, assistant = agent):
 *   Bitext  bitext-customer-support/bitext_support_train.csv: RFC 4180 CSV
 *           (CRLF inside quoted fields) read with libcsv; a header row naming
 *           at least `instruction`, `response`, `intent`, `category`; one
 *           row -> system, user (instruction), assistant (response).
 *   STAR    star/star_dialogues_train.jsonl, read with jansson: one dialogue
 *           per line, {dialogue_id, domains, turns:[{speaker, text}]};
 *           consecutive turns of one speaker are merged (joined with "\n"),
 *           trailing customer turns (no reply to learn) are dropped, and a
 *           dialogue with no agent turn left is skipped (counted).
 *   JSONL   the format `frontdesk export --format jsonl` writes:
 *           {"messages":[{"role":"system"|"user"|"assistant","content":..}],
 *            "metadata":{...}}, one object per line (ds_read_jsonl /
 *           ds_write_jsonl).
 * Text is normalised once, when read: CRLF and lone CR become LF, and each
 * message is trimmed of leading and trailing whitespace.  (So a message's
 * first token never straddles the "\n" that ends its ChatML header.)
 *
 * Split: conversations are grouped into strata (Bitext: its intent; STAR:
 * its domain list; export data: metadata "stratum", else "intent", else
 * one stratum), and from each stratum of n the round(fraction * n) with the
 * smallest hash of (seed, conversation id) are held out for validation.
 * Deterministic, independent of file order, never mixing: a conversation is
 * in exactly one split.
 *
 * Loss mask (ds_tokenize): 1 exactly on the tokens of the learnt assistant
 * messages' content and on the <|im_end|> that closes each of them, 0 on
 * everything else (system and user turns, every <|im_start|>role\n header,
 * the "\n" after each <|im_end|>).
 *
 * Errors: fallible calls return DS_OK or a negative DS_E* code and write a
 * one-line message into err naming the file and line ("path:12: ...").
 * Out-of-memory aborts.  No UI: this module prints nothing.
 */
#ifndef FRONTDESK_DATASET_H
#define FRONTDESK_DATASET_H

#include "engine/tokenizer.h"
#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    DS_OK = 0,
    DS_EIO = -1,     /* a file cannot be read or written                  */
    DS_EFORMAT = -2, /* malformed input (file and line in the message)    */
    DS_ETOK = -3,    /* the vocabulary lacks ChatML tokens, or text failed */
    DS_EARG = -4,    /* bad arguments                                      */
};

typedef enum { DS_ROLE_SYSTEM, DS_ROLE_USER, DS_ROLE_ASSISTANT } ds_role;
typedef enum { DS_SRC_BITEXT, DS_SRC_STAR, DS_SRC_JSONL } ds_source;
/* Which conversations: the training split, the validation split, or all. */
typedef enum { DS_TRAIN, DS_VALID, DS_ALL } ds_split;

typedef struct {
    ds_role role;
    char *content; /* normalised (see above), NUL-terminated UTF-8 */
} ds_msg;

typedef struct {
    ds_msg *msgs;
    size_t n_msgs;
    ds_source source;
    char *id;         /* "bitext:17" (data row), "star:2" (dialogue_id), or
                         from JSONL metadata "id", else "<file>:<line>"     */
    char *stratum;    /* "bitext:cancel_order", "star:bank+hotel", ...     */
    char *intent;     /* Bitext's intent, else NULL                        */
    char *category;   /* Bitext's category, else NULL                      */
    char *meta;       /* JSONL: the metadata object as read (compact JSON) */
    size_t learn_from; /* assistant messages at index >= learn_from are learnt */
    ds_split split;   /* DS_TRAIN or DS_VALID                              */
} ds_conv;

typedef struct {
    ds_conv *conv; /* every conversation, in load order */
    size_t n, cap;
    size_t *in[2]; /* indices of the DS_TRAIN / DS_VALID conversations */
    size_t n_in[2];
    size_t star_skipped; /* STAR dialogues with no agent turn */
} dataset;

typedef struct {
    const char *data_dir;  /* holding bitext-customer-support/ and star/   */
    const char *system;    /* the system message of every conversation     */
    double valid_fraction; /* per stratum, 0 .. 1                          */
    uint64_t seed;
} ds_options;

/* The customer-service system message every read conversation opens with
 * by default; app/config.c's default profile uses it too, so the built-in
 * model answers under the prompt it was trained with. */
extern const char ds_default_system[];

/* data_dir "../shared/data", system = ds_default_system, valid_fraction
 * 0.05, seed 1. */
void ds_options_default(ds_options *o);

/* ---- Loading -------------------------------------------------------------------- */

/* Both corpora from o->data_dir, then the split.  d starts zeroed; on
 * failure it holds what was read before the error (free it either way). */
int ds_load(dataset *d, const ds_options *o, char *err, size_t errlen);

/* One source each, appended to d (which starts zeroed); new conversations
 * are in the training split until ds_assign_split. */
int ds_load_bitext(dataset *d, const char *path, const char *system, char *err, size_t errlen);
int ds_load_star(dataset *d, const char *path, const char *system, char *err, size_t errlen);
/* Export-format JSONL.  metadata "split" ("train"/"valid") is kept if
 * present.  learn_last_only: only the final message is learnt, when it is
 * an assistant's (a rated reply; the earlier agent turns are context);
 * otherwise metadata "learn_from" if present, else every assistant turn. */
int ds_read_jsonl(dataset *d, const char *path, bool learn_last_only, char *err, size_t errlen);

/* (Re)assign every conversation to a split (see the top of this file). */
void ds_assign_split(dataset *d, double valid_fraction, uint64_t seed);

void ds_free(dataset *d); /* accepts a zeroed dataset; leaves it zeroed */

/* ---- Iterating ---------------------------------------------------------------------- */

size_t ds_count(const dataset *d, ds_split s);
/* The i-th conversation of split s (load order), NULL past the end. */
const ds_conv *ds_get(const dataset *d, ds_split s, size_t i);

const char *ds_role_name(ds_role r);     /* "system", "user", "assistant" */
const char *ds_source_name(ds_source s); /* "bitext", "star", "jsonl"     */
/* A message's text as the trainer reads it: text[0..len) with CRLF and CR
 * made LF and whitespace trimmed at both ends (malloc'ed). */
char *ds_normalise_text(const char *text, size_t len);

/* ---- Text and tokens -------------------------------------------------------------------- */

/* Append the conversation as ChatML: "<|im_start|>ROLE\nCONTENT<|im_end|>\n"
 * per message (engine/chat_template.h's renderer). */
void ds_render(const ds_conv *c, strbuf *out);

/* Renders the conversations of one split in turn: a bpe_corpus_fn
 * (train/bpe_train.h) over a ds_cursor. */
typedef struct {
    const dataset *d;
    ds_split split;
    size_t next;
} ds_cursor;
bool ds_corpus_next(void *cursor, strbuf *text);

/* Token ids and loss mask of one conversation, same length. */
typedef struct {
    int32_t *ids;
    uint8_t *mask;
    size_t n, cap;
} ds_tokens;

/* Tokenize c into t (replacing its contents): <|im_start|> and <|im_end|>
 * as their tokens, role headers and contents as plain text (special-token
 * text typed inside a message is NOT turned into control tokens), no BOS.
 * For the normalised text this gives exactly the ids of tokenizing
 * ds_render's output with special-token parsing on.  DS_ETOK when the
 * vocabulary lacks <|im_start|>/<|im_end|> or tok_encode fails. */
int ds_tokenize(const tok_vocab *v, const ds_conv *c, ds_tokens *t, char *err, size_t errlen);
void ds_tokens_free(ds_tokens *t); /* accepts a zeroed struct */

/* ---- Writing ------------------------------------------------------------------------------ */

/* Write the conversations of split s to path as export-format JSONL
 * (atomically: path.tmp, then rename).  Metadata: the conversation's own
 * (JSONL) or a new object, with "source" (Bitext/STAR), "id", "stratum",
 * "intent" and "category" (when known), "split" and "learn_from" (when not
 * 0) set, all of which ds_read_jsonl reads back. */
int ds_write_jsonl(const dataset *d, ds_split s, const char *path, char *err, size_t errlen);

#endif
