/*
 * copy_internal.h — what copy.c (copying and verifying), copy_checks.c
 * (refusals before a row is copied) and copy_remap.c (appending: ids
 * moved past the target's) share.  Private to the three.
 */
#ifndef FRONTDESK_COPY_INTERNAL_H
#define FRONTDESK_COPY_INTERNAL_H

#include "storage/copy.h"
#include "storage/db_internal.h"

/* The tables, parents before children (copy.c's table_names). */
enum {
    T_MODELS,
    T_MODEL_FILES,
    T_CONVERSATIONS,
    T_MESSAGES,
    T_REQUESTS,
    T_RATINGS,
    T_RATING_TAGS,
    T_HANDLES,
    T_DEPLOYMENT,
    T_DEPLOYMENT_HISTORY,
    T_ROLLUPS,
    T_ALERT_EPISODES,
    T_EVAL_RUNS,
    T_EVAL_ITEMS,
    T_ARENA_JUDGEMENTS,
};
extern const char *const copy_table_names[DB_COPY_TABLES];

typedef enum { COL_INT, COL_REAL, COL_TEXT, COL_BLOB } col_kind;

typedef struct {
    char *name;
    col_kind kind;
    int ref; /* the table whose id it holds (its own id, or a foreign key), -1 none */
} column;

typedef struct {
    int idx; /* T_* */
    const char *name;
    column *cols;
    int n;
    int pk[8]; /* column indexes, in primary-key order */
    int n_pk;
    bool serial; /* its key is one INTEGER id: BIGSERIAL on PostgreSQL */
} table;

/* Appending into a target that holds rows: each table's ids move past the
 * target's largest (off), models are matched by key, the target's
 * deployment stays; `on` false: ids kept as they are. */
typedef struct {
    bool on;
    int64_t off[DB_COPY_TABLES];
    int64_t *msrc, *mdst; /* models: source id -> target id, sorted by msrc */
    bool *mnew;           /* ... and whether it is copied (its key is new) */
    size_t nm;
    bool keep_deployment; /* the target has one: the source's is not copied */
} remap;

/* copy.c's failure helpers, for copy_remap.c. */
db_status copy_failf(db_copy_report *out, db_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
db_status copy_failed(db_copy_report *out, db_status st, db *d, const char *doing);
/* The first column of the first row of sql (no parameters) as an integer
 * (0 for NULL). */
db_status copy_query_int(db *d, const char *sql, int64_t *v, db_copy_report *out, const char *doing);

/* SELECT count(*) of a table into *n. */
db_status copy_count_rows(db *d, const char *name, int64_t *n, db_copy_report *out, const char *doing);

/* copy_checks.c (each DB_OK, or a failure in out->err; see copy.h). */
db_status copy_check_versions(db *from, db *to, db_copy_report *out);
db_status copy_check_source_tables(db *from, db_copy_report *out);
db_status copy_check_types(db *from, const table *t, db_copy_report *out);
db_status copy_check_source_idle(db *from, db_copy_report *out);
/* What the target holds: "" when no table copied has a row, else
 * "conversations 12, messages 40, ..." (caller frees). */
db_status copy_target_rows(db *to, char **held, db_copy_report *out);

/* copy_remap.c.  Build m for appending from into to (both inside their
 * transactions); refused (DB_INVALID) when the two cannot be merged. */
db_status remap_build(db *from, db *to, const table *tabs, remap *m, db_copy_report *out);
void remap_free(remap *m);
/* The target's value for v, an id of table ref. */
int64_t remap_id(const remap *m, int ref, int64_t v);
/* Whether the source's model `id` is copied (not matched by key). */
bool remap_model_copied(const remap *m, int64_t id);

#endif
