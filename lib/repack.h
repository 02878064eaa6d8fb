#ifndef SNAP_REPACK_H
#define SNAP_REPACK_H

/*
 * Repacking, gc's step 5 (gc.h, docs/snap-gc.md): packs holding garbage
 * (unless written recently), small packs (two or more) and reachable
 * loose objects are copied into new packs, then the old copies go.
 *
 *  - Only what is live is copied: what gc marked reachable, and what lies
 *    in a pack whose mtime is at or after keep_since_ns.  A block whose
 *    members all live is copied whole; the live members of any other are
 *    blocked anew.  Chunk lists, and objects too large for a pack, stay
 *    loose.
 *  - Everything copied is verified first (decompressed, hashed against
 *    its id).  A copy that fails is replaced by a sound one from anywhere
 *    in the store; with none, every file holding the object stays and it
 *    is reported through gc_opts.damaged (and counted in
 *    gc_stats.objects_damaged).
 *  - The new packs are durable before an old file goes; an old pack
 *    objects were dropped from that a writer touched since start_ns
 *    (less SESSION_SLACK_NS) stays whole, and a new pack byte for byte
 *    the same as an old one is that one and is kept.
 *  - With gc_opts.dry_run nothing is written or removed; what would go
 *    is still counted and reported through gc_opts.removed.
 *
 * It runs under gc's lock, after the sweep (the caller's to make durable).
 */

#include <stddef.h>
#include <stdint.h>
#include "gc.h"
#include "odb.h"
#include "oidset.h"
#include "strbuf.h"

struct repack_opts {
	const struct oidset *reachable;		/* live objects: gc's mark */
	/* An object in a pack this recent is kept (INT64_MIN: every one). */
	int64_t keep_since_ns;
	int64_t start_ns;			/* gc's start, on the store's clock */
	const struct snap_oid *loose;		/* reachable loose objects, to pack */
	size_t nr_loose;
	const struct gc_opts *gc;		/* dry_run, removed, damaged, data */
};

/*
 * Repacks (above) and reloads the odb's packs; adds to stats (objects and
 * bytes removed, files freed, packs removed and written, loose objects
 * packed, objects damaged).  Returns 0 also when damaged objects were
 * kept, or a negative SNAP_E* code: a write or an I/O error, after which
 * no old file has gone.
 */
int repack_run(struct odb *odb, const struct repack_opts *opts, struct gc_stats *stats,
	       struct strbuf *err);

#endif
