#ifndef SNAP_MOUNTVIEW_H
#define SNAP_MOUNTVIEW_H

/*
 * mountview: the directory layout snap-mount shows (docs/snap-mount.md),
 * without the file system glue: paths in, entries and directory listings
 * out.
 *
 *   /                        a directory per snapshot ref, and ids
 *   /<ref>/                  (a ref name with '/' is nested directories)
 *   /<ref>/<time>/...        each snapshot on the ref's first-parent chain,
 *                            named by its time in UTC, YYYY-MM-DDTHH:MM:SS;
 *                            a later one of the same second gets -1, -2, ...
 *   /<ref>/latest            a symlink to the newest of them
 *   /ids/<id>/...            every snapshot shown, by its full id
 *
 * Below a snapshot's directory, its tree: entries as recorded (type, mode,
 * owner, size, mtime, device numbers).  Every entry has a 64-bit inode
 * number derived from the snapshot and its path; a hard link recorded in
 * the tree (link=PATH) gets the number of its group's first member.
 *
 * Freshness.  The refs are read again when the root is listed, a ref's
 * directory is listed, its latest link is read, or a name below it is not
 * known yet; a ref whose value changed is walked only back to the value
 * seen before.  Snapshots and trees never change, so what was read once
 * is kept (trees in a bounded cache).
 *
 * Bundle snapshots (no tree) are left out.  A snapshot ref named ids (or
 * ids/...) would be hidden by the ids directory and is left out too.
 * One thread at a time.
 */

#include <stdint.h>
#include "odb.h"
#include "oid.h"
#include "store.h"
#include "strbuf.h"
#include "tree.h"

struct mountview;

struct mv_node {
	enum tree_type type;	/* TREE_DIR for the view's own directories */
	unsigned perm;
	uint32_t uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint64_t size;
	struct snap_oid oid;	/* blob (file, symlink) or tree; null for the view's own */
	uint32_t rdev_major, rdev_minor;
	uint64_t ino;
	const char *target;	/* the view's own symlink (latest): its target */
	size_t target_len;
};

/*
 * Opens a view of the store's refs: the nr refs named (any name ref_dwim
 * takes; each must exist now), or with nr 0 every ref under
 * refs/snapshots/, as it is at each refresh.  The view's own entries
 * belong to uid and gid and have mtime now (ref and snapshot directories:
 * their newest snapshot's time).  warn is called with a one-line message
 * for what is left out (an unreadable ref or snapshot); may be NULL.
 */
int mountview_open(struct mountview **out, struct odb *odb, struct snap_store *store,
		   const char *const *refs, size_t nr, uint32_t uid, uint32_t gid,
		   int64_t now, void (*warn)(const char *msg, void *data), void *warn_data,
		   struct strbuf *err);
void mountview_close(struct mountview *v);

/*
 * The entry at path ("/a/b", from the view's root; "/" is the root).
 * SNAP_ENOTFOUND when there is none; otherwise a read's code (a tree or
 * snapshot that does not verify).  *out's target lives until the next call.
 */
int mountview_lookup(struct mountview *v, const char *path, struct mv_node *out,
		     struct strbuf *err);

/*
 * Calls fn for each entry of the directory at path, in order.  A non-zero
 * return of fn stops the listing (and is returned).  SNAP_EINVAL when path
 * is not a directory; else as mountview_lookup().
 */
typedef int (*mountview_fn)(const char *name, size_t len, const struct mv_node *n,
			    void *data);
int mountview_list(struct mountview *v, const char *path, mountview_fn fn, void *data,
		   struct strbuf *err);

#endif
