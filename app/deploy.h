/*
 * deploy.h — model operations as every command sees them: naming a
 * version, loading one (refusing a file whose bytes changed), and routing
 * a conversation to the stable or candidate version of the deployment.
 *
 * Routing.  A conversation's arm is decided once, at its first reply, and
 * stored with the version it was given: "candidate" when
 * deploy_to_candidate(conversation id, share), else "stable".  It keeps
 * that version for every later turn and every regeneration while the
 * version is still deployed (stable or a running candidate); once it is
 * not (the canary stopped, a rollback), the conversation is routed anew —
 * a version taken away from customers is never kept alive by old
 * conversations.  A version given on the command line (--model,
 * --backend) pins the conversation: arm "pinned", outside every
 * comparison.  With nothing deployed and nothing pinned, today's choice
 * stands (the configuration, else the built-in model).
 */
#ifndef FRONTDESK_APP_DEPLOY_H
#define FRONTDESK_APP_DEPLOY_H

#include "app/config.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "net/remote.h"
#include "storage/chats.h"
#include "storage/deploy.h"

/* Whether conversation conv goes to the candidate at share percent: a
 * 64-bit mix of the id, uniform over 0..9999, below share·100. */
bool deploy_to_candidate(int64_t conv, int share);

typedef struct {
    bool routed;        /* false: nothing deployed, nothing pinned       */
    int64_t model_id;   /* the version answering                        */
    char arm[16];       /* "stable", "candidate", "pinned"              */
} deploy_route;

/* Route conv (see above); pin_id > 0 pins it to that version.  On failure
 * err says why. */
db_status deploy_route_conv(db *d, int64_t conv, int64_t pin_id, deploy_route *out, char *err, size_t errlen);

/* A version ready to answer: a local model with its vocabulary, or a
 * remote server. */
typedef struct {
    int64_t id;
    char name[160];     /* the display name                              */
    char quant[32];     /* "Q8_0", ..., "remote"                          */
    model *m;           /* local (NULL for remote)                        */
    tok_vocab *v;
    bool remote;
    char *url, *remote_model; /* remote                                  */
    remote_opts ro;     /* remote: the server, with [remote]'s timeouts  */
} deploy_version;

/* A server's options: url and model (may be NULL), the key from the
 * variable [remote] api_key_env names, [remote]'s timeouts and retries. */
remote_opts deploy_remote_opts(const config *cfg, const char *url, const char *model);

/* Load version id: a local one from the file it was last loaded from,
 * refused when that file is gone or its SHA-256 is no longer the
 * version's (the error names both hashes); a remote one gets cfg's
 * timeouts and key.  0, or -1 with err. */
int deploy_version_load(db *d, int64_t id, const config *cfg, deploy_version *out, char *err, size_t errlen);
void deploy_version_free(deploy_version *v);

/* Find the version VERSION names: an existing file (loaded to read its
 * metadata and recorded), an http(s) URL (remote_model: its model name, may
 * be NULL), a SHA-256 prefix or a name.  Returns EXIT_OK, EXIT_FAIL (none:
 * err says so) or EXIT_USAGE (ambiguous: err lists the matches). */
int deploy_find_version(db *d, const char *version, const char *remote_model, int64_t *id, char *err,
                        size_t errlen);

#endif
