#ifndef SNAP_BLOBREAD_H
#define SNAP_BLOBREAD_H

/*
 * blobread: reads of any range of a blob, verified, at a cost that does
 * not grow with the offset (snap-mount's read(2) at any offset).
 *
 * A chunked blob (odb.h, docs/FORMAT.md "Chunked blobs") is read through
 * its chunk list: a read finds the chunks holding its range by a binary
 * search of their offsets and reads each of those chunks whole with
 * odb_read(), which verifies it against its own id before a byte of it is
 * handed out.  The last chunk read is kept, so sequential reads read each
 * chunk once.  A blob stored whole is read whole, verified, at its first
 * read and kept while the reader is open.
 *
 * What is and is not verified: every byte returned is part of an object
 * whose id was checked, and the chunks' sizes add up to the blob's size.
 * That the chunk list itself belongs to the blob's id can only be known
 * by hashing the whole blob.  A reader does that as reads go through the
 * blob in order from its start (cat, cp, diff): the read that reaches the
 * end fails with SNAP_ECORRUPT when the whole does not hash to the blob's
 * id, so a list edited to name other intact chunks of the same sizes
 * fails a full read, as odb_stream_open() would.  A random read that
 * never reads from the start cannot see it (snap-fsck does).
 */

#include <stddef.h>
#include <stdint.h>
#include "odb.h"
#include "oid.h"
#include "strbuf.h"

struct blob_reader;

/*
 * Opens a reader of the blob oid, reading its header and (when chunked)
 * its chunk list.  SNAP_ECORRUPT naming oid when it is not a blob or its
 * size is not want_size (the size its tree entry records); SNAP_ENOTFOUND
 * when absent; other codes as odb_read_info() and odb_chunks_each().
 */
int blob_reader_open(struct odb *odb, const struct snap_oid *oid, uint64_t want_size,
		     struct blob_reader **out, struct strbuf *err);

/*
 * Reads up to len bytes from offset off into buf and sets *got (less than
 * len only at the end of the blob; 0 at or past it).  SNAP_ECORRUPT (or
 * the read's code) when an object on the way fails; nothing of a failed
 * object is in buf.  A blob stored whole and larger than max_whole bytes
 * is SNAP_ETOOBIG.
 */
int blob_reader_pread(struct blob_reader *r, void *buf, size_t len, uint64_t off,
		      size_t *got, struct strbuf *err);

/* The most a blob stored whole may hold to be read by a blob_reader. */
#define BLOB_READER_WHOLE_MAX ((size_t)1 << 30)

void blob_reader_close(struct blob_reader *r);

#endif
