#ifndef SNAP_CHECKOUT_H
#define SNAP_CHECKOUT_H

/*
 * Restoring a tree into a directory, safely.
 *
 * First every tree below the root (or below the selected paths) is read,
 * verified and parsed, and every object they name is checked present: a
 * malformed tree or a missing object fails the restore before anything is
 * written, naming every missing id.  Then the entries are written, depth
 * first over an explicit stack (no depth costs C stack or more than a few
 * descriptors), with *at() calls relative to descriptors of directories
 * this restore created itself, each name resolved alone and never through
 * a symlink: files with O_CREAT|O_EXCL|O_NOFOLLOW, modes, owners and times
 * set on the open descriptor; symlinks, fifos and devices created, never
 * followed, their owner and times set through an O_PATH handle checked to
 * be the inode made.  Files are created and filled by worker threads
 * (opts->jobs, lib/workqueue.h); the first that fails stops the rest.
 * Directories stay 0700 until the end; then the hard links are made
 * (only to files this restore wrote, checked by inode), and last each
 * directory gets its mode, owner, times and inode flags after everything
 * in it.
 * So nothing is ever written outside dir, whatever the tree holds or
 * whoever else writes in dir meanwhile.  Each blob is verified as it is
 * streamed out; a verification failure fails the restore.
 */

#include "odb.h"
#include "oid.h"
#include "strbuf.h"

struct owner_map;

struct checkout_opts {
	const char *const *paths;	/* restore only these (relative) paths */
	size_t nr_paths;
	/*
	 * Leave out entries matching these patterns (lib/exclude.h: a name;
	 * with a '/' inside or leading, the path from the tree's root; a
	 * trailing '/': directories only; "**" any number of names).  A
	 * directory left out is not descended into.
	 */
	const char *const *excludes;
	size_t nr_excludes;
	/*
	 * When nr_includes is not 0, restore only entries matching one of
	 * these patterns (the same language as excludes), all of a matching
	 * directory, and the directories on the way to a match (with their
	 * own metadata, holding only what leads to it).  The excludes apply
	 * after: an excluded entry is left out even below an included one.
	 */
	const char *const *includes;
	size_t nr_includes;
	/*
	 * checkout_in_place() only: merge into dir instead of replacing its
	 * content.  Every file (any entry but a directory) of the tree
	 * replaces the one at its path in dir by one rename, or is added; a
	 * directory of the tree is merged into dir's one there (whose mode,
	 * owner and attributes stay), or added whole; nothing else in dir
	 * changes.
	 * Where dir has a directory and the tree something else, or the
	 * reverse, that path is refused and left as it is: one warning each
	 * (meta_warn), and CHECKOUT_INCOMPLETE.
	 */
	int overwrite;
	int keep_setuid;	/* keep setuid/setgid bits (else cleared) */
	int devices;		/* create device nodes (else skipped) */
	int same_owner;		/* set owners (only takes effect as root) */
	/*
	 * When setting owners: each stored uid and gid through this map
	 * (lib/owners.h) to the local number of its recorded name; NULL
	 * sets the stored numbers.
	 */
	const struct owner_map *owners;
	int jobs;		/* file-writing threads (workqueue_threads():
				 * 0 is one per processor; at most 16) */
	/*
	 * XATTR_NO_ACLS, XATTR_NO_OTHERS (lib/xattr.h): which of the stored
	 * extended attributes not to set; 0 sets all.
	 */
	unsigned xattr_flags;
	/*
	 * Set no inode flags.  Else each file's and directory's stored
	 * flags (chattr's S D i a d A) are set last of its metadata: a
	 * file's after its content and times (hard-linked files' once
	 * the links are made), a directory's when all in it is written.
	 */
	int no_flags;
	void (*warn)(const char *msg, void *data);
	void *warn_data;
	/*
	 * Called (from any thread, one call at a time) for each piece of
	 * metadata the kernel refused to set, e.g. a trusted.* attribute
	 * without privilege; warn is used when NULL.
	 */
	void (*meta_warn)(const char *msg, void *data);
	void *meta_warn_data;
	/*
	 * For tests: called on the restoring thread between two steps that
	 * an attacker writing in the target could race ("node": a fifo or
	 * device was just made at path; "link": the hard link to the file at
	 * path is about to be made), so that a test can change the target
	 * there, deterministically.  NULL in programs.
	 */
	void (*step)(const char *step, const char *path, void *data);
	void *step_data;
};

/*
 * What checkout_tree() and checkout_in_place() return when everything
 * was written but some metadata the kernel refused to set (each piece
 * named to opts->meta_warn): extended attributes of a namespace the user
 * or the filesystem does not allow, inode flags i or a without
 * CAP_LINUX_IMMUTABLE or flags the filesystem has not; or, under opts->overwrite, when a
 * path was refused.
 */
#define CHECKOUT_INCOMPLETE 1

/*
 * Restores tree into dir, which must be absent (it is created) or an
 * empty directory, not a symlink (SNAP_EUNSAFE).  SNAP_EEXISTS if dir is
 * not empty, SNAP_ENOTFOUND for missing objects or paths, SNAP_EINVAL for
 * a malformed tree, SNAP_ECORRUPT for stored data that fails verification
 * (a blob streamed out by a worker thread included: the code a worker
 * meets is the one returned), SNAP_EIO for a failed system call.
 * On failure dir may hold a partial restore: callers wanting all or
 * nothing restore into a temporary directory and rename it.  The umask
 * is 0 while it runs (files are created with their final modes) and put
 * back before it returns: other threads of the caller must not create
 * files meanwhile.
 */
int checkout_tree(struct odb *odb, const struct snap_oid *tree,
		  const char *dir, const struct checkout_opts *opts,
		  struct strbuf *err);

/*
 * Restores tree (or opts->paths of it) into dir, which exists and may
 * hold anything, touching nothing in it but those paths (without paths:
 * dir then holds exactly the tree).  tmp is an empty directory on dir's
 * filesystem, made by the caller (inside dir is fine: it is skipped):
 * the tree is first restored whole into tmp/new by checkout_tree, so a
 * bad tree or object fails before dir changes; then each entry is
 * swapped into place (lib/place.h, never following a symlink in dir).
 * What was replaced is left in tmp, which the caller removes (rm -rf
 * does it without following symlinks).  Inode flags are set last, once
 * every entry is in place (an immutable or append-only entry cannot be
 * moved, an immutable directory takes no entry): on each inode the
 * restore wrote, where it now is (files, then directories deepest
 * first); an entry not placed (refused under overwrite, a directory of
 * dir merged into) gets none; one the kernel refuses is a meta_warn line
 * and CHECKOUT_INCOMPLETE, as in checkout_tree().
 */
int checkout_in_place(struct odb *odb, const struct snap_oid *tree,
		      const char *dir, const char *tmp,
		      const struct checkout_opts *opts, struct strbuf *err);

#endif
