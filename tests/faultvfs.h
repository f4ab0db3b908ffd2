/*
 * faultvfs.h — injected faults for the suites: a SQLite VFS that wraps the
 * default unix VFS and fails the N-th read, write, sync or truncate, and an
 * allocator (SQLITE_CONFIG_MALLOC) that fails SQLite's N-th allocation.
 *
 * Compiled only into the test suites.  faultvfs_install() registers the VFS
 * as the default one ("faultvfs"), so the product code opening the store
 * through storage/db.c uses it unchanged; disarmed, it only counts.  Every
 * file SQLite opens goes through it (database, WAL, journals, temporary
 * files); memory-mapped reads are refused so that every read is an xRead.
 *
 * A fault is one-shot: the N-th I/O of the chosen kind fails, the ones after
 * it succeed again (a transient error; SQLite must cope with both).  The
 * code returned is SQLITE_FULL, or SQLITE_IOERR with the extended code of
 * the operation that failed (IOERR_READ, _WRITE, _FSYNC, _TRUNCATE) and
 * errno set to EIO (ENOSPC for FULL), as the unix VFS would leave it.
 * A sync that does not fail returns at once without fsync (no power is cut
 * here; durability is not what is tested).
 *
 * Nothing here calls exit; install failures return a message.
 */
#ifndef FRONTDESK_TESTS_FAULTVFS_H
#define FRONTDESK_TESTS_FAULTVFS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    FV_READ = 1,
    FV_WRITE = 2,
    FV_SYNC = 4,
    FV_TRUNCATE = 8,
    FV_ANY = FV_READ | FV_WRITE | FV_SYNC | FV_TRUNCATE,
} fv_kind;

typedef enum { FV_IOERR, FV_FULL } fv_error;

/* Set up the allocator (before sqlite3_initialize: call it first thing in
 * main) and register the VFS as the default.  0, or -1 with the SQLite
 * message in err. */
int faultvfs_install(char *err, size_t errlen);

/* Count I/Os from zero, with no fault armed. */
void faultvfs_reset(void);
/* Fail the n-th (1-based, counted from the last reset or arm) I/O of the
 * kinds in mask with e.  n = 0 disarms. */
void faultvfs_arm(unsigned mask, long n, fv_error e);
/* I/Os of the kinds in mask since the last reset or arm. */
long faultvfs_count(unsigned mask);
/* Whether the armed fault has fired (since the last arm). */
bool faultvfs_fired(void);

/* SQLite's allocations: count from zero / fail the n-th (0 disarms). */
void faultmem_arm(long n);
long faultmem_count(void);
bool faultmem_fired(void);

#endif
