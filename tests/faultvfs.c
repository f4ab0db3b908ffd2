/*
 * faultvfs.c — see faultvfs.h.  A shim VFS: each file is our small header
 * followed by the unix VFS's own file object, every method passed through
 * after counting; the allocator wraps SQLite's default one the same way.
 */
#include "faultvfs.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static struct {
    sqlite3_vfs *real;
    unsigned mask;   /* kinds the armed fault counts */
    long target;     /* fail the target-th of them; 0: disarmed */
    fv_error err;
    bool fired;
    long count[4];   /* read, write, sync, truncate */
} fv;

static struct {
    sqlite3_mem_methods real;
    long count, target;
    bool fired;
} fm;

/* ---- The fault decision ------------------------------------------------ */

static int kind_index(unsigned kind)
{
    return kind == FV_READ ? 0 : kind == FV_WRITE ? 1 : kind == FV_SYNC ? 2 : 3;
}

/* Count an I/O of this kind; SQLITE_OK, or the injected error. */
static int fv_io(unsigned kind)
{
    fv.count[kind_index(kind)]++;
    if (!fv.target || fv.fired || !(kind & fv.mask) || faultvfs_count(fv.mask) != fv.target)
        return SQLITE_OK;
    fv.fired = true;
    if (fv.err == FV_FULL) {
        errno = ENOSPC;
        return SQLITE_FULL;
    }
    errno = EIO;
    return kind == FV_READ    ? SQLITE_IOERR_READ
           : kind == FV_WRITE ? SQLITE_IOERR_WRITE
           : kind == FV_SYNC  ? SQLITE_IOERR_FSYNC
                              : SQLITE_IOERR_TRUNCATE;
}

void faultvfs_reset(void)
{
    faultvfs_arm(0, 0, FV_IOERR);
}

void faultvfs_arm(unsigned mask, long n, fv_error e)
{
    memset(fv.count, 0, sizeof fv.count);
    fv.mask = mask;
    fv.target = n;
    fv.err = e;
    fv.fired = false;
}

long faultvfs_count(unsigned mask)
{
    long n = 0;
    for (unsigned k = FV_READ; k <= FV_TRUNCATE; k <<= 1)
        if (mask & k)
            n += fv.count[kind_index(k)];
    return n;
}

bool faultvfs_fired(void)
{
    return fv.fired;
}

/* ---- Files ---------------------------------------------------------------- */

typedef struct {
    sqlite3_file base;
    sqlite3_file *real; /* the unix VFS's file, right after this header */
} fv_file;

#define REAL(f) (((fv_file *)(f))->real)
#define RM(f) (REAL(f)->pMethods)

static int f_close(sqlite3_file *f)
{
    return RM(f)->xClose(REAL(f));
}

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    int rc = fv_io(FV_READ);
    return rc != SQLITE_OK ? rc : RM(f)->xRead(REAL(f), buf, n, off);
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    int rc = fv_io(FV_WRITE);
    return rc != SQLITE_OK ? rc : RM(f)->xWrite(REAL(f), buf, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = fv_io(FV_TRUNCATE);
    return rc != SQLITE_OK ? rc : RM(f)->xTruncate(REAL(f), size);
}

/* Counted, and failed when chosen, but not forced to the disk: nothing
 * here cuts the power, and thousands of real fsyncs would only cost time. */
static int f_sync(sqlite3_file *f, int flags)
{
    (void)f, (void)flags;
    return fv_io(FV_SYNC);
}

static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return RM(f)->xFileSize(REAL(f), size);
}

static int f_lock(sqlite3_file *f, int level)
{
    return RM(f)->xLock(REAL(f), level);
}

static int f_unlock(sqlite3_file *f, int level)
{
    return RM(f)->xUnlock(REAL(f), level);
}

static int f_reserved(sqlite3_file *f, int *out)
{
    return RM(f)->xCheckReservedLock(REAL(f), out);
}

static int f_control(sqlite3_file *f, int op, void *arg)
{
    return RM(f)->xFileControl(REAL(f), op, arg);
}

static int f_sector(sqlite3_file *f)
{
    return RM(f)->xSectorSize(REAL(f));
}

static int f_device(sqlite3_file *f)
{
    return RM(f)->xDeviceCharacteristics(REAL(f));
}

static int f_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **pp)
{
    return RM(f)->xShmMap(REAL(f), region, size, extend, pp);
}

static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return RM(f)->xShmLock(REAL(f), offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
    RM(f)->xShmBarrier(REAL(f));
}

static int f_shm_unmap(sqlite3_file *f, int del)
{
    return RM(f)->xShmUnmap(REAL(f), del);
}

/* No memory-mapped pages: SQLite then reads through xRead, which counts. */
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    (void)f, (void)off, (void)n;
    *pp = NULL;
    return SQLITE_OK;
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    (void)f, (void)off, (void)p;
    return SQLITE_OK;
}

static const sqlite3_io_methods fv_methods = {
    3,           f_close,   f_read,     f_write,       f_truncate,  f_sync,   f_size,
    f_lock,      f_unlock,  f_reserved, f_control,     f_sector,    f_device, f_shm_map,
    f_shm_lock,  f_shm_barrier, f_shm_unmap, f_fetch,  f_unfetch,
};

/* ---- The VFS: xOpen wraps, everything else is the unix VFS's --------------- */

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    (void)vfs;
    fv_file *f = (fv_file *)file;
    f->real = (sqlite3_file *)(f + 1);
    int rc = fv.real->xOpen(fv.real, name, f->real, flags, out_flags);
    file->pMethods = f->real->pMethods ? &fv_methods : NULL;
    return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
    (void)vfs;
    return fv.real->xDelete(fv.real, name, sync);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return fv.real->xAccess(fv.real, name, flags, out);
}

static int v_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return fv.real->xFullPathname(fv.real, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return fv.real->xDlOpen(fv.real, name);
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    fv.real->xDlError(fv.real, n, msg);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    return fv.real->xDlSym(fv.real, h, sym);
}

static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    fv.real->xDlClose(fv.real, h);
}

static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return fv.real->xRandomness(fv.real, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return fv.real->xSleep(fv.real, us);
}

static int v_time(sqlite3_vfs *vfs, double *t)
{
    (void)vfs;
    return fv.real->xCurrentTime(fv.real, t);
}

static int v_lasterror(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    return fv.real->xGetLastError(fv.real, n, msg);
}

static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
    (void)vfs;
    return fv.real->xCurrentTimeInt64(fv.real, t);
}

static sqlite3_vfs fv_vfs = {
    .iVersion = 2,
    .mxPathname = 0, /* set from the unix VFS */
    .zName = "faultvfs",
    .xOpen = v_open,
    .xDelete = v_delete,
    .xAccess = v_access,
    .xFullPathname = v_fullpath,
    .xDlOpen = v_dlopen,
    .xDlError = v_dlerror,
    .xDlSym = v_dlsym,
    .xDlClose = v_dlclose,
    .xRandomness = v_random,
    .xSleep = v_sleep,
    .xCurrentTime = v_time,
    .xGetLastError = v_lasterror,
    .xCurrentTimeInt64 = v_time64,
};

/* ---- The allocator ------------------------------------------------------------ */

static bool m_fail(void)
{
    fm.count++;
    if (fm.target && !fm.fired && fm.count == fm.target) {
        fm.fired = true;
        return true;
    }
    return false;
}

static void *m_malloc(int n)
{
    return m_fail() ? NULL : fm.real.xMalloc(n);
}

static void m_free(void *p)
{
    fm.real.xFree(p);
}

static void *m_realloc(void *p, int n)
{
    return m_fail() ? NULL : fm.real.xRealloc(p, n);
}

static int m_size(void *p)
{
    return fm.real.xSize(p);
}

static int m_roundup(int n)
{
    return fm.real.xRoundup(n);
}

static int m_init(void *app)
{
    (void)app;
    return fm.real.xInit(fm.real.pAppData);
}

static void m_shutdown(void *app)
{
    (void)app;
    fm.real.xShutdown(fm.real.pAppData);
}

void faultmem_arm(long n)
{
    fm.count = 0;
    fm.target = n;
    fm.fired = false;
}

long faultmem_count(void)
{
    return fm.count;
}

bool faultmem_fired(void)
{
    return fm.fired;
}

int faultvfs_install(char *err, size_t errlen)
{
    int rc = sqlite3_config(SQLITE_CONFIG_GETMALLOC, &fm.real);
    if (rc == SQLITE_OK) {
        static sqlite3_mem_methods wrap = {m_malloc, m_free, m_realloc, m_size, m_roundup, m_init, m_shutdown, NULL};
        rc = sqlite3_config(SQLITE_CONFIG_MALLOC, &wrap);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "SQLITE_CONFIG_MALLOC: %s (called after sqlite3_initialize?)", sqlite3_errstr(rc));
        return -1;
    }
    if ((rc = sqlite3_initialize()) != SQLITE_OK || !(fv.real = sqlite3_vfs_find("unix"))) {
        snprintf(err, errlen, "sqlite3_initialize / the unix VFS: %s", sqlite3_errstr(rc));
        return -1;
    }
    fv_vfs.szOsFile = (int)sizeof(fv_file) + fv.real->szOsFile;
    fv_vfs.mxPathname = fv.real->mxPathname;
    if ((rc = sqlite3_vfs_register(&fv_vfs, 1)) != SQLITE_OK) {
        snprintf(err, errlen, "registering the fault VFS: %s", sqlite3_errstr(rc));
        return -1;
    }
    return 0;
}
