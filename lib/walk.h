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
 * Walks from roots (each expected to be of type root_types[i], or OBJ_NONE
 * for any), adding every object reached to seen.  Returns the number of
 * problems reported (0 when all is sound), or a negative SNAP_E* code when
 * the walk itself could not go on (err says why).
 */
long walk_reachable(struct odb *odb, const struct snap_oid *roots,
		    const enum object_type *root_types, size_t nr,
		    struct oidset *seen, const struct walk_opts *opts,
		    struct strbuf *err);

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
