/*
 * heartbeat.h — a process recording a reply tells the store it is alive.
 *
 * While at least one reply is being recorded (store_reply_begin ..
 * store_reply_end), a thread of its own, with a database connection of
 * its own, stamps heartbeat_at on every running request this process owns
 * (db_heartbeat: the database's clock) every heartbeat_s seconds, and once
 * at once whenever a reply begins.  Other hosts judge a request lapsed by
 * that stamp (db_recover), so it must go on while a long prompt is read
 * and no token has come yet: a thread, not a write per token.  When no
 * reply is being recorded the thread sleeps on a condition variable and
 * writes nothing.
 *
 * One heartbeat per process (the rows it stamps are the process's), made
 * on the first heartbeat_hold from that handle's store (db_path, with its
 * db_heartbeat_s).  PostgreSQL only: an SQLite file is one machine's
 * store, whose writers' lives recovery reads from the process table (pid
 * and start time), surer than any stamp; a second connection would only
 * contend for the file's write lock (and outlive a file replaced under
 * the same name).  A failed stamp (the server away) is tried again at the
 * next beat on the same connection, which sql_pg re-opens; nothing here
 * prints.  A process that exits without heartbeat_stop just leaves the
 * thread asleep.
 */
#ifndef FRONTDESK_HEARTBEAT_H
#define FRONTDESK_HEARTBEAT_H

#include "storage/db.h"

#include <stdbool.h>
#include <stdint.h>

/* A reply begins being recorded on d's store: start the thread if this
 * process has none (its connection opens d's path, its period is
 * db_heartbeat_s(d)), count the reply, and stamp at once.  Returns whether
 * it counted it (false for an SQLite store). */
bool heartbeat_hold(db *d);
/* A reply stopped being recorded (one call per heartbeat_hold that
 * returned true). */
void heartbeat_release(void);
/* Stop the thread and close its connection; nothing when none started. */
void heartbeat_stop(void);

/* For tests: stamps written (successful db_heartbeat calls) and replies
 * counted right now. */
int64_t heartbeat_stamps(void);
int heartbeat_holds(void);

#endif
