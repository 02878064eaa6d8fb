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

/*
 * Held locks: "<path>.lock" as a mutual exclusion only (refs are written
 * another way, lib/reftx.c).  The file holds one line naming its holder,
 *
 *     <pid> SP <host> SP <seconds> SP <boot-id> LF
 *
 * (boot-id: the kernel's random boot id, or "-"), so that a lock left by
 * a process that died can be told from one in use.  gc.lock has the
 * first three fields too.
 */

/* A lock with no holder line this many seconds old is stale. */
#define LOCK_GRACE 10

/* Sets out to this process's holder line (with its LF). */
void lock_holder_line(struct strbuf *out);

/*
 * Creates "<path>.lock" holding holder (a holder line): written first
 * into ".<name>.lock-XXXXXX" beside it and linked into place, so the
 * lock is never seen empty, even after a crash.  SNAP_ELOCKED if it
 * exists (err as for lock_take); whether that lock is stale is the
 * caller's to judge (lock_is_stale).  A crash may leave the hidden
 * temporary file, which refs_recover() removes once an hour old.
 */
int lock_hold(struct lockfile *lk, const char *path, const char *holder,
	      struct strbuf *err);

/*
 * Judges a holder line (text of len bytes, with its LF): 1 if that holder
 * is surely gone (a process of this host that does not exist, or that ran
 * before the last boot), 0 if it may live (or is another host's), -1 if
 * text is no holder line.  h is set to what the line names.
 */
struct lock_holder {
	long pid;
	char host[256];
};
int lock_holder_gone(const char *text, size_t len, struct lock_holder *h);

/*
 * Judges an existing lock file.  Returns 1 if its holder is surely gone:
 * a process on this host that no longer exists or that ran before this
 * host's last boot, or, for a lock with no holder line (empty, cut short,
 * or the content lock of an older snap), a file older than LOCK_GRACE
 * seconds.  Returns 0 when it may be in use: then why reads
 * "'<lock>' is held by pid N on host 'H' (age N s); if that process is
 * gone, remove it" or "'<lock>' exists (age N s, no holder recorded); if
 * no snap process is using the store, remove it".  SNAP_ENOTFOUND if the
 * file is gone.  A lock of another host is never judged stale.  holder,
 * if not NULL, is set to the file's content.
 */
int lock_is_stale(const char *lock_path, struct strbuf *holder, struct strbuf *why);

#endif
