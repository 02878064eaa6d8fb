#ifndef SNAP_CHUNK_H
#define SNAP_CHUNK_H

/*
 * Content-defined chunking, and the text of a chunk list
 * (docs/FORMAT.md, "Chunked blobs").
 *
 * A large file is cut where a rolling Gear hash of the last 64 bytes
 * matches a mask, so that a cut depends on the bytes around it and not on
 * their offset: an edit or an insertion moves only the cuts near it, and
 * the chunks elsewhere come out the same as before, so they deduplicate.
 * Normalized chunking (as in FastCDC) makes a cut harder to find before
 * the average size and easier after it, which narrows the spread of chunk
 * sizes; no cut comes before the minimum, one always comes at the maximum.
 *
 * The Gear table is derived, not written down: 256 64-bit little-endian
 * words read from BLAKE3's extendable output of CHUNK_GEAR_SEED.  The cuts
 * are part of the format in the sense that every snap must make the same
 * ones for deduplication to work across stores; the ids never depend on
 * them.
 */

#include <stddef.h>
#include <stdint.h>
#include "oid.h"

/* The parameters snap writes with (chosen by measurement; docs/FORMAT.md). */
#define CHUNK_MIN (16u << 10)
#define CHUNK_AVG (64u << 10)
#define CHUNK_MAX (256u << 10)
/* Blobs of more than this many bytes are stored chunked by odb_write_fd. */
#define CHUNK_THRESHOLD (1u << 20)

#define CHUNK_GEAR_SEED "snap chunker gear table 1"

struct chunker {
	size_t min, avg, max;
	uint64_t mask_hard;	/* used before avg: avg_bits + 2 bits */
	uint64_t mask_easy;	/* used from avg on: avg_bits - 2 bits */
};

/*
 * Sets up a chunker.  avg must be a power of two from 256 on, and
 * min <= avg <= max; BUG() otherwise (the parameters are constants).
 */
void chunker_init(struct chunker *c, size_t min, size_t avg, size_t max);

/*
 * The length of the chunk that starts at data[0].  len must be at least
 * c->max unless data holds all that is left of the input.  Returns a
 * value from 1 to min(len, c->max); 0 only when len is 0.  Pure: the same
 * bytes always give the same cut.
 */
size_t chunker_cut(const struct chunker *c, const unsigned char *data, size_t len);

/* ---- the chunk list (the payload of a chunked blob's record) ---- */

/* Largest chunk size a reader accepts in a list. */
#define CHUNK_LIST_SIZE_MAX (16u << 20)
/* Longest list line: 64 hex digits, a space, 8 digits, LF. */
#define CHUNK_LIST_LINE_MAX 74

/*
 * The record header "chunks <size>\0", size being the whole blob's.
 * Writes at most SNAP_HDR_MAX bytes; returns the length, NUL included.
 */
size_t chunk_list_header_format(char *hdr, uint64_t size);

/*
 * Parses a record header at the start of buf[0..len).  Returns its length
 * (NUL included), 0 if more bytes are needed, or -1 if buf cannot start
 * one.  Same rules as object_header_parse (no leading zeros).
 */
int chunk_list_header_parse(const char *buf, size_t len, uint64_t *size);

/* Formats one list line "<id> <size>\n" into line (CHUNK_LIST_LINE_MAX + 1
 * bytes); returns its length. */
size_t chunk_list_line_format(char *line, const struct snap_oid *oid, size_t size);

/*
 * Parses one list line of len bytes, its LF included: 64 lower-case hex
 * digits, one space, a size from 1 to CHUNK_LIST_SIZE_MAX without
 * leading zeros, LF.  Returns 0 or -1.
 */
int chunk_list_line_parse(const char *line, size_t len, struct snap_oid *oid,
			  uint64_t *size);

#endif
