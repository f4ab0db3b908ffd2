/*
 * export.c — the selection of rated replies behind `frontdesk export`: one
 * query for the ids (ratings aggregated per reply), then each reply's
 * thread, model and ratings through the public readers.
 */
#include "storage/export.h"

#include "storage/db_internal.h"
#include "util/util.h"

#include <stdlib.h>

db_status db_export(db *d, const db_export_filter *f, db_export_fn fn, void *ud)
{
    const char *what = "selecting rated replies";
    sql_stmt *st = db_prepare(
        d,
        "SELECT m.id, coalesce(m.model_id, 0) FROM messages m"
        " WHERE m.role = 'agent' AND m.text != ''"
        "  AND EXISTS (SELECT 1 FROM ratings r WHERE r.message_id = m.id)"
        "  AND (?1 = 0 OR (SELECT min(score) FROM ratings r WHERE r.message_id = m.id) >= ?1)"
        "  AND (?2 = 0 OR (EXISTS (SELECT 1 FROM ratings r WHERE r.message_id = m.id AND r.thumbs = ?2)"
        "   AND NOT EXISTS (SELECT 1 FROM ratings r WHERE r.message_id = m.id AND r.thumbs = -?2)))"
        "  AND m.created_at >= ?3"
        " ORDER BY m.id",
        what);
    if (!st)
        return DB_ERR;
    sql_bind_int(st, 1, f->min_score);
    sql_bind_int(st, 2, f->thumbs);
    sql_bind_double(st, 3, f->since);
    int64_t *ids = NULL, *models = NULL;
    size_t n = 0;
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        ids = xreallocarray(ids, n + 1, sizeof *ids);
        models = xreallocarray(models, n + 1, sizeof *models);
        ids[n] = sql_column_int64(st, 0);
        models[n++] = sql_column_int64(st, 1);
    }
    sql_finalize(st);
    db_status s = rc == SQL_DONE ? DB_OK : db_fail(d, rc, what);
    for (size_t i = 0; s == DB_OK && i < n; i++) {
        db_export_item it = {0};
        db_msg *thread = NULL;
        db_rating *ratings = NULL;
        db_model model = {0};
        bool have_model = false;
        s = db_msg_thread(d, ids[i], &thread, &it.n_thread);
        if (s == DB_OK)
            s = db_ratings_get(d, ids[i], &ratings, &it.n_ratings);
        if (s == DB_OK && models[i] > 0) {
            s = db_model_get(d, models[i], &model);
            have_model = s == DB_OK;
        }
        if (s == DB_OK) {
            it.thread = thread;
            it.ratings = ratings;
            it.model = have_model ? &model : NULL;
            if (!fn(ud, &it))
                i = n; /* stop */
        }
        db_msgs_free(thread, it.n_thread);
        db_ratings_free(ratings, it.n_ratings);
        db_model_clear(&model);
    }
    free(ids);
    free(models);
    return s;
}
