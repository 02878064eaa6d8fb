#ifndef SNAP_FSCK_H
#define SNAP_FSCK_H

/*
 * Checking a store (docs/snap-fsck.md lists every check id):
 *
 *   1. every pack and its index verified (checksums, bounds);
 *   2. every copy of every object (each pack, loose) read in full and
 *      its id recomputed; trees and
 *      snapshots parsed with the strict parsers the readers use
 *      (unless connectivity_only: headers only);
 *   3. every ref and reflog entry resolved, and everything reachable from
 *      them walked: missing objects, wrong types;
 *   4. objects nothing refers to reported as dangling, and every
 *      unreachable object on request;
 *   5. stray files, old temporary files and lock files reported.
 *
 * Memory grows with the number of objects (an oidset and a sorted id
 * array), never with their sizes; the walk is iterative.
 */

#include "odb.h"
#include "strbuf.h"

enum fsck_severity { FSCK_ERROR, FSCK_WARNING, FSCK_INFO };

/* Exit status bits: what kind of damage was found. */
#define FSCK_BIT_CORRUPT 1	/* an object is corrupt or malformed */
#define FSCK_BIT_MISSING 2	/* a reachable object is missing or of the wrong type */
#define FSCK_BIT_REF 4		/* a ref or reflog is broken */
#define FSCK_BIT_PACK 8		/* a pack or its index is broken */

struct fsck_finding {
	enum fsck_severity severity;
	const char *check;	/* stable check id */
	const char *subject;	/* an object id, ref name or path */
	const char *detail;
	int bit;		/* FSCK_BIT_*, or 0 for information */
};

struct fsck_opts {
	int connectivity_only;
	/*
	 * Read the content of only a subset of the blobs (restic's
	 * --read-data-subset; trees, snapshots and bundles are always read):
	 * with subset_n, the blobs whose id, as a number, is subset_k - 1
	 * modulo subset_n (1 <= subset_k <= subset_n: n runs with k = 1..n
	 * read every blob once, whatever gc did between them); else with
	 * subset_ppm, a random subset_ppm millionths of them (subset_salt
	 * picks which).  Neither: every blob.
	 */
	uint32_t subset_k, subset_n, subset_ppm;
	uint64_t subset_salt;
	int unreachable;	/* report every unreachable object */
	int no_dangling;
	int jobs;		/* verifying threads (workqueue_threads(): 0 is
				 * one per processor; at most 16) */
	const char *const *objects;	/* check only these (and what they reach) */
	size_t nr_objects;
	void (*report)(const struct fsck_finding *f, void *data);
	void (*progress)(const char *phase, uint64_t done, uint64_t total, void *data);
	void *data;
};

/* Returns the OR of the bits of every finding, or a negative SNAP_E*. */
int fsck_store(struct odb *odb, const struct fsck_opts *opts, struct strbuf *err);

const char *fsck_severity_name(enum fsck_severity s);

#endif
