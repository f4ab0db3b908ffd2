/*
 * private.h — creating the files and directories that hold customers'
 * words (the database, exports, last-reply.txt, eval sets, training
 * checkpoints and models) with a mode of frontdesk's choosing, whatever
 * the umask.
 *
 * The mode is process-wide, like the umask it overrides: 0600 for files
 * and 0700 for directories unless app/ sets another from `[store] mode`
 * (e.g. 0660 for a team sharing one store through a group).  A directory
 * gets the file mode plus x wherever it has r (0660 -> 0770, 0640 -> 0750).
 *
 * Every creator here sets the mode with fchmod/chmod after creating, so
 * the umask cannot take bits away (nor, under umask 000, add any).  A
 * file or directory that already exists keeps its mode: nothing here
 * chmods what it did not create.  Files replaced by rename (write to a
 * temporary, then rename over the target) give the temporary the
 * target's current mode when the target exists.
 *
 * All calls return -1 with errno set on failure.
 */
#ifndef FRONTDESK_UTIL_PRIVATE_H
#define FRONTDESK_UTIL_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define PRIV_DEFAULT_MODE 0600

/* ---- The mode ----------------------------------------------------------- */

/* Parse an octal file mode such as "0660" (the leading 0 optional).  It
 * must give the owner read and write, and hold nothing but permission
 * bits without execute (x is for directories, derived from r).  false
 * with a one-line reason in err otherwise. */
bool priv_parse_mode(const char *text, mode_t *mode, char *err, size_t errlen);
/* Set the mode new files get from now on (one that priv_parse_mode
 * accepts; anything else is ignored). */
void priv_set_mode(mode_t file_mode);
mode_t priv_file_mode(void);
mode_t priv_dir_mode(void);

/* ---- Creating ------------------------------------------------------------ */

/* Create path as an empty file with the mode if it does not exist;
 * 0 when it was created or already there. */
int priv_touch(const char *path);
/* Open path for writing, truncated: an existing file keeps its mode, a new
 * one gets the mode.  Returns the descriptor (O_CLOEXEC). */
int priv_open_write(const char *path);
/* Open tmp (created or truncated) for writing, to be renamed over final
 * later: its mode is final's when final exists, else the mode.  Returns
 * the descriptor (O_CLOEXEC). */
int priv_open_replacing(const char *tmp, const char *final);
/* priv_open_write / priv_open_replacing as a stdio stream ("w"). */
FILE *priv_fopen_write(const char *path);
FILE *priv_fopen_replacing(const char *tmp, const char *final);

/* mkdir -p: each directory made gets the directory mode. */
int priv_mkdirs(const char *dir);
/* priv_mkdirs of the directory part of path (nothing when it has none). */
int priv_mkdirs_for(const char *path);

#endif
