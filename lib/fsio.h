#ifndef SNAP_FSIO_H
#define SNAP_FSIO_H

/*
 * fsio: every call that changes the store's files goes through here, so
 * that tests can make any of them fail (and the reads of what a snapshot
 * stores, the fsio_*_fault() calls below).  Each function behaves as the
 * system call it is named after (returns -1 with errno set on failure),
 * except fsio_write, which writes everything or fails.
 *
 * Fault injection (docs/ARCHITECTURE.md, "Fault injection"), for tests:
 *
 *   SNAP_FAULT="SEL[@PATH]:N:ACTION[,...]"
 *
 * SEL is an operation (open, write, fsync, rename, link, unlink, mkdir,
 * close, utime, symlink, truncate; syncfs counts as fsync, rmdir as unlink), "any"
 * for every kind, or "seq" (below); or "getxattr", "listxattr" or
 * "getflags", which only their own names select (below).  With @PATH only calls whose path
 * holds the substring PATH count: for write, fsync and close the path the
 * descriptor was opened with, for rename and link either name.  N picks
 * the Nth such call in this process (from 1), or "*" every one.  ACTION
 * is an errno name (EIO ENOSPC EROFS EACCES EPERM EDQUOT EEXIST ENOENT
 * EINTR EMFILE ENODATA E2BIG): the call fails with it, doing nothing; "kill": the
 * process gets SIGKILL at that call, before it is made; "short": a write
 * writes the first half of its buffer and then fails with ENOSPC, as a
 * disk that fills mid-write does (any other call fails with ENOSPC).
 * An item that does not parse is ignored with a warning on stderr.
 *
 *   SNAP_FAULT_LOG=FILE
 *
 * appends one line "N op path" to FILE for every call (newlines and
 * backslashes in the path escaped), before the call is made.  N numbers
 * the calls of every process that shares FILE, in order, so a test can
 * count the store-mutating calls of a whole pipeline and then aim at the
 * kth of them with "seq:k:ACTION" (which needs SNAP_FAULT_LOG).
 *
 * Without either variable nothing is counted or recorded.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct strbuf;

/*
 * The fault point of reading the value of the extended attribute name of
 * the entry what (its path as write-tree shows it, relative to DIR):
 * 0, or -1 with errno set when a "getxattr" item picks this call (@PATH
 * matching what or name).  Not a change of the store, so never picked by
 * "any" or "seq" and not logged: a test of an attribute that is listed
 * but cannot be read changes no other count.
 */
int fsio_getxattr_fault(const char *what, const char *name);

/*
 * The same for the listing of the attributes of the entry what: a
 * "listxattr" item, @PATH matching what.
 */
int fsio_listxattr_fault(const char *what);

/*
 * The same for the reading of the inode flags of the entry what
 * (FS_IOC_GETFLAGS, lib/fsflags.h): a "getflags" item, @PATH matching
 * what.
 */
int fsio_getflags_fault(const char *what);

int fsio_open(const char *path, int flags, mode_t mode);
int fsio_openat(int dirfd, const char *path, int flags, mode_t mode);
int fsio_write(int fd, const void *buf, size_t len);
int fsio_ftruncate(int fd, off_t len);
int fsio_fsync(int fd);
/* syncfs(2); counted and failed as "fsync" by SNAP_FAULT. */
int fsio_syncfs(int fd);
int fsio_close(int fd);
int fsio_rename(const char *from, const char *to);
int fsio_link(const char *from, const char *to);
int fsio_unlink(const char *path);
int fsio_rmdir(const char *path);
int fsio_mkdir(const char *path, mode_t mode);
int fsio_symlink(const char *target, const char *path);
/* Sets a path's times to now (refreshes an object's mtime). */
int fsio_touch(const char *path);
/* Opens a directory and fsyncs it, so a rename or link in it is durable. */
int fsio_fsync_dir(const char *path);
/* fsio_fsync_dir of the directory that holds path. */
int fsio_fsync_parent(const char *path);

/*
 * Creates a new file "<dir>/<prefix>XXXXXX" with O_EXCL and mode 0444,
 * writes its path into path (which must not hold dir) and returns the
 * descriptor (-1 with errno).
 */
int fsio_mktemp(const char *dir, const char *prefix, struct strbuf *path);

/*
 * Replaces the file path with len bytes of buf, whole or not at all: a
 * temporary file in tmpdir (on path's filesystem) given mode, written,
 * fsynced, renamed over path, then path's directory fsynced.  On failure
 * the temporary file is removed and path is as it was (but for the
 * last step, a failed sync of the directory).  Returns 0 or -1 with errno.
 */
int fsio_replace_file(const char *tmpdir, const char *path, const void *buf,
		      size_t len, mode_t mode);

/* mkdir -p for the directories above path, fsyncing each new one's parent. */
int fsio_mkdirs_for(const char *path);

/*
 * Helpers about files that change nothing, kept here beside the calls
 * that do.  mtime_ns, ctime_ns: a file's modification and status change
 * times in nanoseconds (the store's clock, which gc and sessions
 * compare; ctime cannot be set back as mtime can).  raise_fd_limit:
 * the open-file limit raised to its hard maximum (a store or restore of
 * a deep tree holds one descriptor per level).
 */
int64_t mtime_ns(const struct stat *st);
int64_t ctime_ns(const struct stat *st);
void raise_fd_limit(void);

/*
 * Reads exactly size bytes of fd, in pieces of at most 256 KiB handed to
 * fn (whose error it returns), in constant memory; what names the input
 * in messages.  SNAP_EINVAL if fd ends early or, with whole, holds more.
 */
int read_fd_exactly(int fd, uint64_t size, int whole, const char *what,
		    int (*fn)(void *data, const void *buf, size_t len, struct strbuf *err),
		    void *data, struct strbuf *err);

#endif
