#ifndef SNAP_DIFF_H
#define SNAP_DIFF_H

/*
 * Comparing two trees, entry by entry in name order: A (added), D
 * (deleted), M (modified: same type, another content id or other
 * permission bits), T (type changed).  Recursive, a directory present on
 * both sides is descended into and not reported itself; added or deleted
 * directories are reported file by file.  Not recursive, a directory is
 * one entry.  Times and owners are not compared.  The walk is iterative:
 * a deep tree costs heap, not C stack.
 */

#include "odb.h"
#include "oid.h"
#include "strbuf.h"

struct diff_opts {
	int recursive;
	/* Called once per change with its status letter and path. */
	void (*change)(char status, const char *path, size_t len, void *data);
	void *data;
};

/* Returns the number of changes, or a negative SNAP_E*. */
long diff_trees(struct odb *odb, const struct snap_oid *a, const struct snap_oid *b,
		const struct diff_opts *opts, struct strbuf *err);

#endif
