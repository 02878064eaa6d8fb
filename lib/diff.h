#ifndef SNAP_DIFF_H
#define SNAP_DIFF_H

/*
 * Comparing two trees, entry by entry in name order: A (added), D
 * (deleted), M (modified: same type, another content id or other
 * permission bits), T (type changed).  Recursive, a directory present on
 * both sides is descended into and not reported itself; added or deleted
 * directories are reported file by file.  Not recursive, a directory is
 * one entry.  Times and owners are compared only when asked (metadata
 * below).  The walk is iterative:
 * a deep tree costs heap, not C stack.
 */

#include "odb.h"
#include "oid.h"
#include "strbuf.h"

struct tree_entry;

struct diff_opts {
	int recursive;
	/*
	 * Also compare owners and, for all but directories, modification
	 * times: an entry whose content and mode are the same but whose
	 * owner or mtime differ is M.  (A directory's mtime moves with every
	 * change inside it; its mode and owner are compared.)  Recursive, a
	 * directory on both sides whose mode or owner differ is reported M
	 * itself, before what changed below it.
	 */
	int metadata;
	/*
	 * Called once per change with its status letter, its path and the
	 * entry on each side (a NULL for A, b NULL for D; valid only during
	 * the call).
	 */
	void (*change)(char status, const char *path, size_t len,
		       const struct tree_entry *a, const struct tree_entry *b, void *data);
	void *data;
};

/* Returns the number of changes, or a negative SNAP_E*. */
long diff_trees(struct odb *odb, const struct snap_oid *a, const struct snap_oid *b,
		const struct diff_opts *opts, struct strbuf *err);

#endif
