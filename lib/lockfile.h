#ifndef SNAP_LOCKFILE_H
#define SNAP_LOCKFILE_H

/*
 * Lock files: "<path>.lock" created with O_CREAT|O_EXCL holds the new
 * content of path; committing fsyncs it, renames it over path and fsyncs
 * the directory.  Whoever holds the lock is the only writer of path.
 */

#include "strbuf.h"

struct lockfile {
	char *path;		/* the file being replaced */
	char *lock_path;	/* path + ".lock" */
	int fd;
};

/*
 * Takes the lock.  SNAP_ELOCKED if another holds it: err then reads
 * "'<path>.lock' exists (age N s); if no snap process ..., remove it",
 * for the caller to prefix with what is locked.
 */
int lock_take(struct lockfile *lk, const char *path, struct strbuf *err);
/* Writes the whole new content. */
int lock_write(struct lockfile *lk, const void *buf, size_t len, struct strbuf *err);
/* fsync, rename over path, fsync the directory; releases the lock. */
int lock_commit(struct lockfile *lk, struct strbuf *err);
/* Removes the lock file, leaving path as it was. */
void lock_rollback(struct lockfile *lk);

#endif
