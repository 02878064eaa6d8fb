#ifndef SNAP_WALK_H
#define SNAP_WALK_H

/*
 * Walking what is reachable: from root snapshots (or any objects) through
 * snapshot parents and trees to every tree and blob they name, and
 * through bundle snapshots to their bundles, whose sequences must rise
 * along the chain.  The walk
 * is iterative (an explicit stack), so a chain of a million snapshots or a
 * directory ten thousand levels deep costs heap, not C stack; each object
 * is visited once (an oidset).  Snapshots and trees are read, verified and
 * parsed with the strict parsers every reader uses.
 *
 * Problems are reported through a callback with a stable check id
 * (docs/snap-fsck.md) and the walk goes on, so one run can list them all.
 */

#include "object.h"
#include "pruned.h"
#include "odb.h"
#include "oidset.h"
#include "store.h"
#include "strbuf.h"

/*
 * A chunked blob's chunks are walked as its children (so gc keeps them and
 * fsck finds them missing); a chunk that is absent is "missing-chunk",
 * a list that cannot be read "bad-chunk-list", and with verify_blobs a
 * chunked blob whose chunk fails "corrupt-chunk" (the chunk itself is
 * reported when it is visited).
 */
struct walk_problem {
	const char *check;		/* "missing", "wrong-type", "malformed", "corrupt",
					 * "bundle-order" (of a snapshot), "missing-chunk",
					 * "bad-chunk-list", "corrupt-chunk" */
	const struct snap_oid *oid;	/* the object with the problem */
	const struct snap_oid *from;	/* who refers to it, or NULL for a root */
	const char *detail;
	/*
	 * The SNAP_E* code behind it: SNAP_ENOTFOUND for what is missing,
	 * the read's own code where reading failed (SNAP_EIO for a disk that
	 * failed, SNAP_ECORRUPT for bytes that do not verify), else
	 * SNAP_ECORRUPT.
	 */
	int code;
};

struct walk_opts {
	/* Read every blob whole and verify it (else only check presence). */
	int verify_blobs;
	/* Called once for each object reached, after it checked out. */
	void (*reached)(const struct snap_oid *oid, enum object_type type,
			uint64_t size, void *data);
	void (*problem)(const struct walk_problem *p, void *data);
	void *data;
	/*
	 * The store's pruned record (pruned.h), or NULL: a snapshot's parent
	 * listed there is not read; the parents the record gives it are
	 * walked in its place.  A root is walked whatever it is.
	 */
	const struct pruned *pruned;
};

/*
 * Appends one line saying what p is, for a caller that stops at the first
 * problem: "object '<id>' is missing", or the read's own message (which
 * names the object), or "object '<id>' is <check>: <detail>"; then
 * " (referenced by <id>)" when something refers to it.
 */
void walk_problem_describe(const struct walk_problem *p, struct strbuf *out);

/*
 * Walks from roots (each expected to be of type root_types[i], or OBJ_NONE
 * for any), adding every object reached to seen.  Returns the number of
 * problems reported through opts->problem (0 when all is sound).  The walk
 * never stops early: an object that cannot be read, for whatever reason,
 * is a problem (with its code) and the walk goes on past it, so a caller
 * that must not act on a partial walk (gc) checks the count or the
 * problems it was given.
 */
size_t walk_reachable(struct odb *odb, const struct snap_oid *roots,
		      const enum object_type *root_types, size_t nr,
		      struct oidset *seen, const struct walk_opts *opts);

/*
 * Collects the roots of reachability: the object of every ref and every
 * object a reflog entry names (old and new), but for reflog entries that
 * pruned (may be NULL) lists: a snapshot pruned on purpose is kept by a
 * ref that names it, not by a reflog line.  Appends to *oids (of *nr,
 * *alloc).  SNAP_ECORRUPT, naming it, for an unreadable ref or reflog.
 */
int walk_collect_roots(struct snap_store *store, const struct pruned *pruned,
		       struct snap_oid **oids, size_t *nr, size_t *alloc,
		       struct strbuf *err);

#endif
