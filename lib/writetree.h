#ifndef SNAP_WRITETREE_H
#define SNAP_WRITETREE_H

/*
 * Storing a directory: walks it depth-first with entries in name order,
 * stores every file's content as a blob (streamed, constant memory),
 * every symlink's target as a blob (never following it), and every
 * directory as a tree, and returns the root tree's id.  Hard links among
 * regular files are recorded as link=PATH to the first member met in
 * that walk order (docs/FORMAT.md, "Trees").  All objects are written in
 * one odb batch, so the returned id is durable with all it references.
 * The walk is iterative: depth costs heap, not C stack, and at most 65
 * directory descriptors are open at once (one further up is opened again
 * through "..", and checked by device and inode, when the walk is back).
 */

#include <stdint.h>
#include "odb.h"
#include "oid.h"
#include "strbuf.h"

struct write_tree_stats {
	uint64_t files_read;	/* regular files read and hashed */
	uint64_t files_reused;	/* regular files whose blob the cache gave */
	uint64_t problems;	/* problems reported (see "Problems" below) */
};

struct write_tree_opts {
	const char *const *excludes;	/* patterns; see "Excludes" below */
	size_t nr_excludes;
	/*
	 * When not NULL, nr_excludes counters: exclude_hits[i] is set to
	 * the number of entries excludes[i] left out.
	 */
	uint64_t *exclude_hits;
	int exclude_caches;		/* keep only CACHEDIR.TAG of a cache */
	const char *const *if_present;	/* leave out a directory holding one */
	size_t nr_if_present;
	int exclude_larger;		/* leave out files larger than: */
	uint64_t larger_than;
	/*
	 * Store nothing: walk, open each regular file that would be read
	 * (and close it unread), and call list(what, path, list_data) with
	 * what "read" for such a file, "skip" for an entry an exclude left
	 * out (a directory once, not what is below it), path escaped as in
	 * trees.  No object, no stat cache is written; *out is zero.
	 * Problems are met and reported as in a real walk, but for files
	 * changing while read, which are not read.
	 */
	int dry_run;
	void (*list)(const char *what, const char *path, void *data);
	void *list_data;
	int one_fs;			/* -x: do not descend into other filesystems */
	/*
	 * The stat cache cache/NAME to use and update (lib/statcache.h), or
	 * NULL for none.  NAME must be a valid ref name.
	 */
	const char *cache;
	int force_read;			/* use no cache entry; rebuild the cache */
	/*
	 * XATTR_NO_ACLS, XATTR_NO_OTHERS (lib/xattr.h): which extended
	 * attributes to leave out; 0 stores every one the process can read,
	 * in each entry's xattrs blob.  A regular file's come from the stat
	 * cache with its blob when its stat data is unchanged (setting them
	 * sets the ctime); a cache made with other flags is not used.
	 */
	unsigned xattr_flags;
	/*
	 * Store no inode flags (chattr's; lib/fsflags.h); they are still
	 * read under exclude_nodump, which leaves out every entry (a
	 * directory whole) that has the nodump flag d.  A regular file's
	 * flags come from the stat cache when its stat data is unchanged
	 * (chattr sets the ctime).
	 */
	int no_flags;
	int exclude_nodump;
	struct write_tree_stats *stats;	/* filled in when not NULL */
	/* Called for each thing skipped (a socket, ...); may be NULL. */
	void (*warn)(const char *msg, void *data);
	void *warn_data;
	/* Every problem (below) is an error: the tree is complete or none. */
	int strict;
	/*
	 * Called for each problem (not under strict); may be NULL.  reason
	 * is as in lib/snapshot.h ("unreadable", "vanished", "changed",
	 * "unstable"), path the entry's path below dir escaped as names in
	 * trees, msg one line for a warning: "PATH: Permission denied, left
	 * out".
	 */
	void (*problem)(const char *reason, const char *path, const char *msg,
			void *data);
	void *problem_data;
};

/*
 * Excludes (docs/snap-write-tree.md, "EXCLUDES", is the user's manual):
 * a pattern is fnmatch(3) syntax matched name by name, where a name "**"
 * stands for any number of names (none included).  A trailing '/' makes
 * it match directories only (and is not part of what is matched).  A
 * pattern with no other '/' matches an entry's name; one with a leading
 * '/' matches the entry's absolute path (the source path it was found
 * below, made absolute without resolving symlinks, then the path below
 * it); one with a '/' elsewhere matches the path below the source path.
 * An excluded directory is not read.  With exclude_caches, a directory
 * holding a regular file CACHEDIR.TAG whose first 43 bytes are the Cache
 * Directory Tagging signature is stored with that file alone.  A
 * directory holding an entry named by one of if_present (of any type) is
 * left out, as is, under exclude_larger, a regular file of more than
 * larger_than bytes.  A source path itself is never left out by these.
 *
 * The store's own
 * directory, known by device and inode, is always left out (with a
 * warning "leaving out the store 'PATH'"); dir that is the store is
 * SNAP_EINVAL.  A directory on
 * another filesystem under -x is stored as an empty directory.
 *
 * With a stat cache, a regular file whose stat data matches its cache
 * entry, and whose blob is still in the store, is not read: the entry's
 * blob id is used, so the tree is the one a full read gives.  A cache
 * that is missing or invalid is ignored.  The cache is rewritten (when
 * anything in it changed) only after every object is durable; a failure
 * to write it is a warning, not an error.
 *
 * Problems: an entry that cannot be opened or stat'ed for lack of
 * permission (EACCES, EPERM) is left out ("unreadable"), as is one
 * removed or replaced since its directory was read ("vanished"); a file
 * whose size, mtime or ctime differ after it was read, or that holds
 * more than its size, is read once more, and if it changes again, what
 * was read is stored ("changed"), or, if it shrank, it is left out
 * ("unstable"); an extended attribute listed but whose value cannot be
 * read (EACCES, EIO, E2BIG, ...) is left out of its entry's set
 * ("unreadable", the entry's path; one gone meanwhile, ENODATA, is left
 * out and nothing said); so are the inode flags of a file or directory
 * whose FS_IOC_GETFLAGS fails other than for a filesystem without them
 * ("metadata", "inode flags: REASON, left out").  Each is reported through opts->problem and
 * counted in stats->problems, and the tree is written without it: 0 is
 * returned.  A changed file, or one missing an attribute or its flags, gets
 * no stat cache entry.  Under opts->strict each is an error instead (SNAP_EIO,
 * or SNAP_EINVAL for a changed file) and no tree is written.  DIR itself that cannot be opened is always an error.
 */
int write_tree(struct odb *odb, const char *dir,
	       const struct write_tree_opts *opts, struct snap_oid *out,
	       struct strbuf *err);

/*
 * Stores several paths as one tree rooted at "/": each path (a directory,
 * a file or any other entry, a symlink stored as one) under its absolute
 * path, the directories above it (followed through symlinks) as trees
 * holding only what leads to a source path, with their own metadata.  A
 * relative path is taken from the working directory; ".", ".." and
 * repeated '/' are resolved by name (symlinks are not resolved).  A path
 * given twice is stored once; a path inside another (/etc and /etc/ssl)
 * is SNAP_EINVAL, as is none at all; a path that cannot be stat'ed is an
 * error before anything is written.  Paths in problems, stat cache
 * entries and excludes' "path below the source" are as in write_tree(),
 * with the tree's paths ("etc/passwd") for problems and the cache, whose
 * root is "/".  The paths made absolute are appended to *abs when abs
 * is not NULL, one a line, escaped as names in trees (tree_escape()).  Otherwise as write_tree().
 */
int write_tree_paths(struct odb *odb, const char *const *paths, size_t nr,
		     const struct write_tree_opts *opts, struct snap_oid *out,
		     struct strbuf *abs, struct strbuf *err);

/*
 * Makes path absolute (taken from the working directory when relative)
 * and resolves ".", ".." and repeated '/' by name into out: "/etc" for
 * "/etc/", "/" for "/..".  SNAP_EIO when the working directory cannot be
 * found.
 */
int abs_path_clean(const char *path, struct strbuf *out, struct strbuf *err);

#endif
