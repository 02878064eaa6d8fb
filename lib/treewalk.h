#ifndef SNAP_TREEWALK_H
#define SNAP_TREEWALK_H

/*
 * treewalk: the entries below a tree, each with its path, in the order a
 * sorted listing shows them (a directory, then what is inside it, then
 * its next sibling).  The walk keeps an explicit stack of open trees, so
 * a tree 100,000 levels deep costs heap, not C stack; the path of the
 * entry being shown is built in one buffer.
 */

#include "odb.h"
#include "oid.h"
#include "strbuf.h"
#include "tree.h"

/* What a callback returns: go on, or do not go into this directory. */
#define TREEWALK_CONTINUE 0
#define TREEWALK_SKIP 1

/*
 * Called for each entry: e, its path from the walk's root ("a/b/c", with
 * prefix and a '/' in front when a prefix was given) of len bytes, and
 * its depth (1 for the root tree's own entries).  A negative return stops
 * the walk, which returns that value.
 */
typedef int (*treewalk_fn)(const struct tree_entry *e, const char *path,
			   size_t len, size_t depth, void *data);

/*
 * Called when the walk leaves a directory it went into, after everything
 * below it: dir is its entry, path, len and depth as treewalk_fn had them.
 */
typedef void (*treewalk_leave_fn)(const struct tree_entry *dir, const char *path,
				  size_t len, size_t depth, void *data);

/*
 * Walks the tree oid.  With recurse 0 only its own entries are shown.
 * leave may be NULL.  Returns 0, the callback's negative value, or a
 * negative SNAP_E* code from reading a tree (err says which, and the path
 * it was met at).
 */
int treewalk(struct odb *odb, const struct snap_oid *oid, const char *prefix,
	     int recurse, treewalk_fn fn, treewalk_leave_fn leave, void *data,
	     struct strbuf *err);

/*
 * Looks up path ("a/b/c"; empty slashes are skipped, but a slash after a
 * file or symlink is "not a directory", as for open(2)) below the tree root,
 * reading only the trees on the way.  Copies the entry found into *out
 * (its name and link owned by holder, which the caller releases with
 * tree_release()).  An empty path finds nothing and returns 1 (the root
 * itself); 0 when found; SNAP_ENOTFOUND with "path 'X' not found" or
 * "'X' is not a directory" in err; other codes as tree_read().
 */
int tree_lookup(struct odb *odb, const struct snap_oid *root, const char *path,
		struct tree *holder, struct tree_entry *out, struct strbuf *err);

/*
 * Checks the hard links of the tree root: an entry recorded as a link to
 * PATH must be a file holding the blob of the file at PATH (the group's
 * first member).  Calls bad() for each that is not, with a one-line
 * description, and returns how many; a negative code when a tree cannot
 * be read.  clean, when not NULL, holds trees known to have no link
 * entry below them and is added to, so that a store's many snapshots of
 * one tree cost about one walk.
 */
struct oidset;
long tree_check_links(struct odb *odb, const struct snap_oid *root, struct oidset *clean,
		      void (*bad)(const char *problem, void *data), void *data,
		      struct strbuf *err);

#endif
