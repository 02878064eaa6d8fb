#ifndef SNAP_COUNT_H
#define SNAP_COUNT_H

/*
 * Store statistics (snap-count-objects): objects by type with their
 * logical (payload) bytes, loose and packed, bytes on disk, what is
 * unreachable, and how much data the snapshots reference in all — the
 * file bytes of every reachable snapshot's tree, counted once per
 * snapshot — against what is stored, which is the deduplication ratio.
 */

#include <stdint.h>
#include "odb.h"
#include "strbuf.h"

struct count_type {
	uint64_t count, bytes;
};

struct count_stats {
	/*
	 * By enum object_type, the objects that hold bytes: a chunked blob's
	 * chunks count as blobs, its chunk list not (its bytes are theirs).
	 */
	struct count_type types[5];
	struct count_type chunked;	/* chunked blobs, and their full sizes */
	uint64_t loose_count, loose_disk;
	uint64_t packs, packed_count, pack_disk;
	uint64_t unreachable_count, unreachable_bytes;
	uint64_t snapshots_reachable;
	uint64_t referenced_bytes;	/* file bytes of all reachable snapshots */
};

int count_objects(struct odb *odb, struct count_stats *st, struct strbuf *err);

#endif
