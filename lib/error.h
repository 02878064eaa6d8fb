#ifndef SNAP_ERROR_H
#define SNAP_ERROR_H

/*
 * Library error codes.  lib/ functions return 0 on success or one of these
 * (negative) on failure, and describe the failure in a caller's
 * struct strbuf *err as one line without a trailing newline and without the
 * program name (cmd/ adds "snap-<cmd>: fatal: ").  Only the first three are
 * "expected" answers a caller commonly branches on; the rest are failures.
 */
enum snap_error {
	SNAP_OK = 0,
	SNAP_ENOTFOUND = -1,	/* no such object, ref, store or file */
	SNAP_EAMBIGUOUS = -2,	/* a short name matches more than one object */
	SNAP_EEXISTS = -3,	/* exists already (compare-and-swap lost) */
	SNAP_EINVAL = -4,	/* malformed input: a name, an object, a file */
	SNAP_ECORRUPT = -5,	/* stored data fails verification */
	SNAP_EIO = -6,		/* a system call failed; err says which */
	SNAP_ETOOBIG = -7,	/* input past a documented limit */
	SNAP_ELOCKED = -8,	/* a lock is held by someone else */
	SNAP_EUNSAFE = -9,	/* a restore would write outside its target */
};

struct strbuf;
/* Appends a formatted message to err (err may be NULL); returns code. */
int snap_error(struct strbuf *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like snap_error, appending ": strerror(errno)"; returns SNAP_EIO. */
int snap_error_errno(struct strbuf *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
