/*
 * alerts.h — alert episodes in the store: when each alert started firing
 * and when it stopped, shared by every process on the file.
 *
 * Several processes may watch the same figures (a dashboard, a server, a
 * cron job running `stats --check`); each decides for itself whether an
 * alert fires, and the store decides who acts on the change.  At most one
 * episode per name is open (the unique index alert_open), so:
 *
 *   - opening is one INSERT that succeeds for exactly one process; the
 *     others find the episode open (or find that a newer decision already
 *     closed one: see db_alert_open) and do nothing;
 *   - closing is one UPDATE of the open row; the process whose update
 *     changed it closes the episode, the others change nothing.
 *
 * So whoever opened an episode announces its start, whoever closed it
 * announces its end, each exactly once across processes.
 *
 * Times are epoch seconds (db_now).  detail / end_detail are JSON objects
 * written by the caller (the figures when the episode opened / closed).
 */
#ifndef FRONTDESK_STORAGE_ALERTS_H
#define FRONTDESK_STORAGE_ALERTS_H

#include "storage/db.h"

typedef struct {
    int64_t id;
    char *name;                 /* "error_rate", "latency_p95", "guard", ... */
    double started_at, ended_at; /* ended_at 0: still open (firing)          */
    char *detail, *end_detail;  /* JSON, NULL when none                      */
} db_alert_episode;

/* Open an episode of `name` starting at started_at, as decided from
 * figures observed at observed_at.  *opened is true only when this call
 * inserted it (*id its row).  Nothing is inserted, and *opened is false,
 * when an episode of that name is open already, or when one started at or
 * after started_at or ended at or after observed_at: a decision newer than
 * this one has been acted on, and a stale "firing" must not start a second
 * episode after another process saw it resolve. */
db_status db_alert_open(db *d, const char *name, double started_at, double observed_at, const char *detail,
                        bool *opened, int64_t *id);

/* Close the open episode of `name` at ended_at (the time of the figures
 * that say it resolved), unless it started after ended_at (opened from
 * newer figures).  *closed is true only when this call closed it; then
 * *ep holds the episode as closed (free with db_alert_episode_clear). */
db_status db_alert_close(db *d, const char *name, double ended_at, const char *end_detail, bool *closed,
                         db_alert_episode *ep);

/* The open episodes (at most one per name), newest start first: a cheap
 * read, so that a watcher writes only when something changes. */
db_status db_alert_open_list(db *d, db_alert_episode **out, size_t *n);

/* The latest episodes, newest start first (limit <= 0: all). */
db_status db_alert_recent(db *d, int limit, db_alert_episode **out, size_t *n);

void db_alert_episode_clear(db_alert_episode *e); /* accepts NULL */
void db_alert_episodes_free(db_alert_episode *e, size_t n);

#endif
