#ifndef SNAP_GC_H
#define SNAP_GC_H

/*
 * Garbage collection (docs/snap-gc.md).
 *
 *  1. One gc at a time: gc.lock holds pid, host and start time; a lock of
 *     a dead process on this host is taken over, and so is one empty or
 *     garbled (a gc died before writing it) once GC_LOCK_GRACE old.
 *  2. Mark from every ref, every reflog entry and the bases of every live
 *     write session.  A missing or corrupt reachable object stops gc
 *     before anything is deleted.
 *  3. Keep, beside what is marked, every object whose mtime is at or after
 *     the oldest of: gc's own start, each live session's start, now less
 *     the prune age (all on the store filesystem's clock, less a slack).
 *  4. Sweep loose objects: each is renamed into objects/tmp, checked again
 *     (a writer that reused it meanwhile touched it: it goes back), then
 *     removed.  A writer whose touch finds it gone writes it anew.
 *  5. Repack (lib/repack.h): packs holding garbage, small packs and reachable loose
 *     objects are written into new packs; the new pack is durable before
 *     an old one goes, and an old one touched meanwhile stays.  What is
 *     copied is verified first (decompressed, hashed); a file goes only
 *     when each live object in it has a copy just verified.  A damaged
 *     copy is replaced by a sound one from anywhere in the store; with
 *     none, every file holding the object stays and it is reported.
 *  6. Remove temporary files older than the same threshold, and the
 *     session files of dead processes.
 */

#include <stdint.h>
#include "odb.h"
#include "strbuf.h"

#define GC_DEFAULT_PRUNE_AGE (24 * 3600)
/* Seconds an empty or garbled gc.lock is respected (by its mtime). */
#define GC_LOCK_GRACE 10

struct gc_opts {
	int dry_run;
	/* Seconds; 0 = now; negative = never.  An age older than the
	 * epoch prunes nothing, as never does. */
	int64_t prune_age;
	int verbose;
	/* Called for each object that goes (or would go, dry run). */
	void (*removed)(const struct snap_oid *oid, enum object_type type,
			uint64_t size, void *data);
	/*
	 * Called for each file gc keeps because it holds a live object
	 * that has no sound copy anywhere (path: the pack or loose file).
	 */
	void (*damaged)(const struct snap_oid *oid, const char *path, void *data);
	void *data;
};

struct gc_stats {
	uint64_t objects_removed, bytes_removed;	/* payload bytes */
	uint64_t files_freed;				/* on-disk bytes */
	uint64_t objects_kept;
	uint64_t packs_removed, packs_written;
	uint64_t loose_packed;
	uint64_t temp_removed;
	uint64_t sessions_cleaned;
	uint64_t objects_damaged;	/* files kept, see gc_opts.damaged */
};

/*
 * Runs gc.  0 also when live objects were found damaged with no sound
 * copy (stats->objects_damaged): gc then did all else, kept every file
 * holding a copy of them, and reported each through opts->damaged.
 */
int gc_run(struct odb *odb, const struct gc_opts *opts, struct gc_stats *stats,
	   struct strbuf *err);

/*
 * A name in objects/tmp for a file gc (or its repack, repack.h) takes out
 * of sight before it deletes it: "gc-WHAT-" and 8 random hex digits.
 */
void gc_tmp_name(const struct snap_store *store, const char *what, struct strbuf *out);

#endif
