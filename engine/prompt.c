/*
 * prompt.c — see prompt.h.  Drops the oldest non-system message one at a
 * time and re-renders; conversations are short enough that the repeated
 * tokenization costs less than a single forward pass.
 */
#include "engine/prompt.h"

#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static int render(chat_tmpl t, const tok_vocab *v, const chat_msg *msgs, size_t n, int32_t **ids,
                  size_t *n_ids, char *err, size_t errlen)
{
    strbuf sb = {0};
    chat_tmpl_apply(t, msgs, n, true, &sb);
    size_t cap = 0;
    free(*ids);
    *ids = NULL;
    *n_ids = 0;
    int rc = tok_encode(v, sb.data ? sb.data : "", sb.len, true, true, ids, n_ids, &cap, err, errlen);
    sb_free(&sb);
    return rc;
}

int prompt_fit(chat_tmpl t, const tok_vocab *v, const chat_msg *msgs, size_t n, int n_ctx, int n_reserve,
               int32_t **ids, size_t *n_ids, size_t *dropped, char *err, size_t errlen)
{
    *ids = NULL;
    *n_ids = 0;
    *dropped = 0;
    if (n == 0) {
        util_errf(err, errlen, "no messages");
        return -1;
    }
    size_t budget = n_ctx > n_reserve ? (size_t)(n_ctx - n_reserve) : 0;
    chat_msg *kept = xmallocarray(n, sizeof *kept);
    memcpy(kept, msgs, n * sizeof *kept);
    size_t n_kept = n;
    size_t first = n_kept > 0 && strcmp(kept[0].role, "system") == 0 ? 1 : 0;
    int rc;
    for (;;) {
        rc = render(t, v, kept, n_kept, ids, n_ids, err, errlen);
        if (rc != 0 || *n_ids <= budget)
            break;
        if (n_kept - first <= 1) {
            util_errf(err, errlen,
                      "the message is too long: %zu prompt tokens with room for %d reply tokens exceed the "
                      "context of %d",
                      *n_ids, n_reserve, n_ctx);
            rc = -1;
            break;
        }
        memmove(&kept[first], &kept[first + 1], (n_kept - first - 1) * sizeof *kept);
        n_kept--;
        (*dropped)++;
    }
    free(kept);
    if (rc != 0) {
        free(*ids);
        *ids = NULL;
        *n_ids = 0;
    }
    return rc;
}
