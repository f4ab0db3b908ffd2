/*
 * private.c — files and directories created with frontdesk's mode, not
 * the umask's (see private.h).
 */
#include "util/private.h"

#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static mode_t file_mode = PRIV_DEFAULT_MODE;

/* ---- The mode ------------------------------------------------------------- */

static bool mode_ok(mode_t m)
{
    return (m & ~(mode_t)0666) == 0 && (m & 0600) == 0600;
}

bool priv_parse_mode(const char *text, mode_t *mode, char *err, size_t errlen)
{
    size_t n = strlen(text);
    bool digits = n > 0 && n <= 4 && strspn(text, "01234567") == n;
    mode_t m = digits ? (mode_t)strtoul(text, NULL, 8) : 0;
    if (!digits || m > 0777) {
        util_errf(err, errlen, "an octal mode such as 0600 or 0660, not '%s'", text);
        return false;
    }
    if ((m & 0600) != 0600) {
        util_errf(err, errlen, "%04o does not let the owner read and write", (unsigned)m);
        return false;
    }
    if (m & 0111) {
        util_errf(err, errlen, "%04o has execute bits: give the file mode (directories get x where it has r)",
                  (unsigned)m);
        return false;
    }
    *mode = m;
    return true;
}

void priv_set_mode(mode_t m)
{
    if (mode_ok(m))
        file_mode = m;
}

mode_t priv_file_mode(void)
{
    return file_mode;
}

mode_t priv_dir_mode(void)
{
    return file_mode | ((file_mode & 0444) >> 2);
}

/* ---- Creating --------------------------------------------------------------- */

/* Give a descriptor we just created exactly mode m (the umask took bits
 * away, or under 000 left none); closes it on failure. */
static int set_mode(int fd, mode_t m)
{
    if (fd >= 0 && fchmod(fd, m) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int priv_touch(const char *path)
{
    int fd = set_mode(open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, file_mode), file_mode);
    if (fd < 0)
        return errno == EEXIST ? 0 : -1;
    return close(fd);
}

int priv_open_write(const char *path)
{
    for (int tries = 0; tries < 3; tries++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, file_mode);
        if (fd >= 0)
            return set_mode(fd, file_mode);
        if (errno != EEXIST)
            return -1;
        /* there already: truncate it, keeping its mode (unless it went
         * away in between: then create it again) */
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd >= 0 || errno != ENOENT)
            return fd;
    }
    return -1;
}

int priv_open_replacing(const char *tmp, const char *final)
{
    struct stat sb;
    mode_t m = stat(final, &sb) == 0 && S_ISREG(sb.st_mode) ? sb.st_mode & 07777 : file_mode;
    /* tmp is ours whatever it held before (a run that died): its mode is
     * set whether it was created now or not */
    return set_mode(open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, m), m);
}

static FILE *stream(int fd)
{
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

FILE *priv_fopen_write(const char *path)
{
    return stream(priv_open_write(path));
}

FILE *priv_fopen_replacing(const char *tmp, const char *final)
{
    return stream(priv_open_replacing(tmp, final));
}

int priv_mkdirs(const char *dir)
{
    if (!*dir)
        return 0;
    char *p = xstrdup(dir);
    mode_t m = priv_dir_mode();
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != 0)
            continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, m) == 0) {
            if (chmod(p, m) != 0)
                rc = -1;
        } else if (errno != EEXIST) {
            rc = -1;
        }
        *s = c;
        if (rc != 0 || !c)
            break;
    }
    int e = errno;
    free(p);
    errno = e;
    return rc;
}

int priv_mkdirs_for(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = xstrndup(path, (size_t)(slash - path));
    int rc = priv_mkdirs(dir);
    int e = errno;
    free(dir);
    errno = e;
    return rc;
}
