/*
 * bench_store_cluster.h — bench_store's throwaway PostgreSQL cluster (bench_store_cluster.c):
 * started through tools/pg_cluster.sh by a guard process that stops it and
 * removes its directory when the bench's end of a pipe closes, however the
 * bench ends.
 */
#ifndef FRONTDESK_TOOLS_PARTS_BENCH_STORE_CLUSTER_H
#define FRONTDESK_TOOLS_PARTS_BENCH_STORE_CLUSTER_H

#include <stddef.h>

/* tools/pg_cluster.sh: given, else $FRONTDESK_PG_CLUSTER (as the suites
 * have it), else from the repository root (where make bench runs). */
const char *cluster_script(const char *given);
/* Start the cluster (through the guard); its maintenance URL into url.
 * -1 with err. */
int cluster_start(const char *script, char *url, size_t urllen, char *err, size_t errlen);
/* Stop it now and wait until it is gone. */
void cluster_stop(void);
/* A fresh database "frontdesk_bench" on the cluster; its URL into out. */
int cluster_create_database(const char *cluster_url, char *out, size_t outlen, char *err, size_t errlen);
/* In a forked child: let go of the guard's pipe without stopping the cluster. */
void cluster_forget(void);

#endif
