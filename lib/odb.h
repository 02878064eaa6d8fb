#ifndef SNAP_ODB_H
#define SNAP_ODB_H

/*
 * The object database: the one way commands read and write objects.
 *
 * Objects are addressed by struct snap_oid (BLAKE3 of "<type> <size>\0" +
 * payload).  An object is loose (objects/<2 hex>/<62 hex>, a zstd frame of
 * header + payload; docs/FORMAT.md) or in a pack.  A large blob may be
 * stored chunked: a loose chunk list under the blob's id naming blobs
 * that hold its bytes in order.  Its id is the same as if it were stored
 * whole, and every read call below serves it as the blob it is.
 *
 * Reading (odb_has, odb_read_header, odb_read, streams) may be done from
 * several threads at once; writing and batches belong to one thread.
 *
 * Reads verify.  odb_read() and the stream API recompute the id of what
 * they decompress and fail with SNAP_ECORRUPT on a mismatch, a truncated or
 * over-long payload, or bytes after the frame.  Decompression never
 * produces more than the size the header declares, so a crafted object
 * cannot exhaust memory or disk.  odb_read_header() reads only the header
 * (for -t, -s, -e and --batch-check) and does not verify the payload.
 *
 * Copies.  An object may be in several packs and loose.  Readers try its
 * copies in turn (the one the lookup finds, the other packs that hold
 * it, the loose file) and report a failure only when none is good,
 * naming the first copy that failed.  A stream verifies an object of up
 * to 1 MiB (every chunk, every block member) whole at its first read,
 * before a byte is handed out; a larger one that fails midway goes on
 * from another copy whose bytes up to there are the same (by their
 * hash); odb_read() starts again from the next copy.
 *
 * Known bad.  A writer that finds an object present keeps it unless it
 * is known bad: every copy of it failed a read in this process, or fsck
 * listed it in the store's bad-object list (badlist.h), or, for
 * a write outside a batch (one object a user asked for: hash-object -w,
 * mktree, mksnapshot), the copy there fails when it is read through
 * now.  A known-bad object is written again: into the batch's pack, or
 * as a loose file that replaces a bad loose one.  So writing an object
 * again with hash-object -w repairs it, and a batch writer does not
 * deduplicate against a copy this process saw fail; copies no read has
 * touched are trusted, as reading them all would double a snapshot's
 * cost (fsck finds them).
 *
 * Damage stays local.  A pack index that is missing its checksum, fails
 * its checks, or cannot be read is not used: its pack is read through an
 * index rebuilt in memory from the pack's frames (pack_scan), at the cost
 * of a read of that pack at each open.  A pack that cannot be opened is
 * left out: its objects are absent, every other object reads.  A bad
 * multi-pack index is not used (midx.h).  odb_open() succeeds in all
 * these cases and notes each damaged file for odb_damaged(); commands
 * print each as one warning line, and snap-fsck reports them.
 *
 * Writes are atomic and durable: a temporary file under objects/tmp,
 * fsync, link into place, fsync of the directory.  An object that exists
 * is never rewritten (but one known bad, above); writing it again
 * refreshes its mtime.
 */

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include "object.h"
#include "oid.h"
#include "store.h"
#include "strbuf.h"

struct odb;
struct odb_stream;

/* Opens the object database of an open store (not owned by the odb). */
int odb_open(struct odb **out, struct snap_store *store, struct strbuf *err);
/*
 * The damaged files odb_open() (or odb_reload_packs) met and worked
 * around, one message each naming the file and what it costs.
 */
size_t odb_nr_damaged(struct odb *odb);
const char *odb_damaged(struct odb *odb, size_t i);
void odb_close(struct odb *odb);
struct snap_store *odb_store(struct odb *odb);

/* 1 if the object is present, else 0. */
int odb_has(struct odb *odb, const struct snap_oid *oid);
/*
 * odb_has(), and on a miss a look at packs written since the store was
 * opened (a gc beside us may have packed a loose object and removed its
 * file), as reads do.  For a caller about to call an object missing; not
 * for a writer's "is it stored?" (a miss costs a directory read).
 */
int odb_has_now(struct odb *odb, const struct snap_oid *oid);

/*
 * For a writer in a batch that reuses an id without hashing its payload
 * again (write-tree's stat cache): 1 if the object is present, and then
 * its file is freshened for gc as writing it again would (within a write
 * session; a pack is touched once per batch); 0 if it is absent, or gc
 * took it away meanwhile: then the caller must write it.
 */
int odb_freshen(struct odb *odb, const struct snap_oid *oid);

/* Reads type and size from the header only.  SNAP_ENOTFOUND if absent. */
int odb_read_header(struct odb *odb, const struct snap_oid *oid,
		    enum object_type *type, uint64_t *size, struct strbuf *err);
/* Same, and sets *chunked to 1 for a blob stored as a chunk list. */
int odb_read_info(struct odb *odb, const struct snap_oid *oid,
		  enum object_type *type, uint64_t *size, int *chunked,
		  struct strbuf *err);

/*
 * Reads a whole object into out (replacing its content), verified.
 * SNAP_ETOOBIG if its size is above max.  *type may be NULL.
 */
int odb_read(struct odb *odb, const struct snap_oid *oid,
	     enum object_type *type, struct strbuf *out, size_t max,
	     struct strbuf *err);

/*
 * Streams an object's payload.  odb_stream_read() fills up to len bytes
 * and sets *got; *got == 0 means the end, reached only after the whole
 * object was verified.  A verification failure is reported by the read
 * that meets it: bytes handed out before it must be treated as unverified.
 * An object both packed and loose is read from its pack (a lookup there
 * costs no system call), and from its other copies when that fails;
 * odb_stream_open_loose() reads the loose copy only.
 */
int odb_stream_open(struct odb *odb, const struct snap_oid *oid,
		    struct odb_stream **out, enum object_type *type,
		    uint64_t *size, struct strbuf *err);
int odb_stream_open_loose(struct odb *odb, const struct snap_oid *oid,
			  struct odb_stream **out, enum object_type *type,
			  uint64_t *size, struct strbuf *err);
/*
 * Copy n of an object only (0, 1, ...: its packed copies, the one a
 * lookup finds first, then the loose file), and no other when it fails:
 * for fsck, which checks every copy.  SNAP_ENOTFOUND past the last.
 */
int odb_stream_open_copy(struct odb *odb, const struct snap_oid *oid, unsigned n,
			 struct odb_stream **out, enum object_type *type,
			 uint64_t *size, struct strbuf *err);
/* The file (and offset in a pack) the stream reads, for messages. */
const char *odb_stream_path(const struct odb_stream *st);
int odb_stream_read(struct odb_stream *st, void *buf, size_t len,
		    size_t *got, struct strbuf *err);
void odb_stream_close(struct odb_stream *st);

/*
 * A chunked blob streams its chunks in list order, each verified against
 * its own id as it ends, and at the end the whole against the blob's id;
 * a missing chunk, one of another size than listed, or a malformed list
 * is SNAP_ECORRUPT.  Memory stays constant whatever the size.
 */
/* 1 if the stream reads a chunked blob. */
int odb_stream_chunked(const struct odb_stream *st);
/*
 * After a failed read: 1 if the failure was in one of the chunks (which
 * is set in *chunk; *missing to 1 if it is absent), 0 if it was in the
 * list or the whole blob's hash.
 */
int odb_stream_bad_chunk(const struct odb_stream *st, struct snap_oid *chunk,
			 int *missing);

/*
 * Lists a chunked blob's chunks: calls fn for each, in order, with its id
 * and size.  Returns 1 when oid is a chunked blob, 0 when it is stored
 * whole (fn is not called), or a negative SNAP_E* (SNAP_ECORRUPT for a
 * list that breaks the format or whose sizes do not add up; fn may have
 * been called for lines before it).  Checks the list only: the chunks
 * are not read.
 */
typedef void (*odb_chunk_fn)(const struct snap_oid *chunk, uint64_t size, void *data);
int odb_chunks_each(struct odb *odb, const struct snap_oid *oid,
		    odb_chunk_fn fn, void *data, struct strbuf *err);

/* Like odb_write_buf, but takes ownership of buf (malloc'd, freed here in
 * every case): a batch can then queue it for compression without a copy. */
int odb_write_owned(struct odb *odb, enum object_type type, char *buf,
		    size_t len, struct snap_oid *oid, struct strbuf *err);
/* Stores a payload held in memory and sets *oid. */
int odb_write_buf(struct odb *odb, enum object_type type, const void *buf,
		  size_t len, struct snap_oid *oid, struct strbuf *err);

/*
 * Stores exactly size bytes read from fd, in constant memory, and sets
 * *oid.  what names the input in messages.  SNAP_EINVAL if fd ends early
 * or holds more (a file that changed while it was read).  A blob of more
 * than CHUNK_THRESHOLD bytes (lib/chunk.h) is stored chunked: its chunks
 * go through a batch (one of its own when none is open), and its chunk
 * list becomes visible only after the chunks are durable.
 */
int odb_write_fd(struct odb *odb, enum object_type type, int fd,
		 uint64_t size, const char *what, struct snap_oid *oid,
		 struct strbuf *err);
/*
 * Stores a blob of unknown length: everything fd holds up to its end (a
 * pipe), with no temporary copy of it.  Up to CHUNK_THRESHOLD bytes are
 * held in memory and stored whole; past that the input is cut into
 * chunks as it comes, each stored in a batch that ends durable, then the
 * chunks are read back (verified) to hash the whole blob, whose header
 * needs its length first, and its chunk list is written.  Memory stays
 * under CHUNK_THRESHOLD + CHUNK_MAX bytes plus a few dozen bytes a chunk;
 * the only space used on disk is the store's own packs.  Sets *oid and
 * *size.  When it fails after the chunks were stored they stay, as
 * unreferenced objects for gc.  Not inside a batch (BUG()).
 */
int odb_write_stream(struct odb *odb, int fd, const char *what, struct snap_oid *oid,
		     uint64_t *size, struct strbuf *err);
/*
 * Like odb_write_fd, but stores the first size bytes of fd without
 * looking at what follows: for a caller that checks a file that grows
 * while read itself (lib/wtentry.c), and keeps what it read.  Still
 * SNAP_EINVAL if fd ends early.
 */
int odb_write_fd_prefix(struct odb *odb, enum object_type type, int fd,
			uint64_t size, const char *what, struct snap_oid *oid,
			struct strbuf *err);

/*
 * Calls fn once for every object id present, in ascending id order within
 * each shard (so in ascending order overall).  A non-zero return from fn
 * stops the walk and is returned.
 */
typedef int (*odb_each_fn)(const struct snap_oid *oid, void *data);
int odb_for_each(struct odb *odb, odb_each_fn fn, void *data,
		 struct strbuf *err);

/* Like odb_for_each, for loose objects only (for gc). */
int odb_for_each_loose(struct odb *odb, odb_each_fn fn, void *data,
		       struct strbuf *err);

/* The packs this odb has mapped (for gc and fsck), and a reload of them. */
struct pack;
/*
 * Compresses len bytes of members (header + payload after header +
 * payload) into one shared frame, at the store's level.  For repacking;
 * not thread-safe.
 */
int odb_compress_block(struct odb *odb, const void *buf, size_t len,
		       struct strbuf *frame, struct strbuf *err);

/*
 * A sort key placing objects in the order they are stored: packed ones by
 * pack and offset (so that the members of a block come together and one
 * decompression serves them all), after the loose ones.
 */
uint64_t odb_locality(struct odb *odb, const struct snap_oid *oid);

/*
 * The bytes oid takes on disk, compressed: its pack frame or its loose
 * file (for a chunked blob, its chunk list's file; its chunks are objects
 * of their own); 0 when not stored.  A member of a block shared with other objects gets the whole
 * block's length and *frame set to a key naming that block (odb_locality),
 * so that a caller counting distinct content counts each block once;
 * *frame is 0 otherwise.
 */
uint64_t odb_stored_size(struct odb *odb, const struct snap_oid *oid, uint64_t *frame);

size_t odb_nr_packs(struct odb *odb);
struct pack *odb_pack(struct odb *odb, size_t i);
int odb_reload_packs(struct odb *odb, struct strbuf *err);

/*
 * Writes the multi-pack index of the packs loaded (midx.h) and uses it.
 * gc calls it after repacking; a batch that leaves more than 8 packs
 * outside the index calls it too.
 */
int odb_write_midx(struct odb *odb, struct strbuf *err);
/* SNAP_ECORRUPT when an entry of the index in use disagrees with its pack. */
int odb_verify_midx(struct odb *odb, struct strbuf *err);

/*
 * Resolves len (4 to 64) hex digits to the one object they begin.
 * SNAP_ENOTFOUND, SNAP_EAMBIGUOUS or SNAP_EINVAL (not hex, too short).
 */
int odb_resolve_prefix(struct odb *odb, const char *hex, size_t len,
		       struct snap_oid *oid, struct strbuf *err);

/*
 * Batch mode, for writers of many objects (write-tree, snapshot, import).
 * Between odb_batch_begin() and odb_batch_end(), each new object is
 * written to its temporary file without an fsync of its own; at the end
 * (and every SNAP_BATCH_MAX objects) one syncfs() makes them all durable,
 * then they are linked into place and a second syncfs() makes the names
 * durable.  So an object is never visible under its final name before
 * its bytes are on disk, at the cost of two flushes per batch instead of
 * two per object.  Within this process odb_has() sees pending objects;
 * other processes see them after the batch ends.  odb_close() without
 * odb_batch_end() discards what is pending.
 */
#define SNAP_BATCH_MAX 16384
/*
 * In a batch, objects small enough for a pack are hashed by the caller's
 * thread and, when new, compressed by worker threads (odb_set_jobs; 0 or
 * less means one per processor) and appended to pack files.  They can be
 * read back only after the batch ends; odb_has() sees them at once.
 */
void odb_set_jobs(struct odb *odb, int jobs);
void odb_batch_begin(struct odb *odb);
int odb_batch_end(struct odb *odb, struct strbuf *err);
/* Ends a batch after a failure: what is pending is discarded. */
void odb_batch_abort(struct odb *odb);

/* The path of a loose object, for messages. */
void odb_loose_path(struct odb *odb, const struct snap_oid *oid,
		    struct strbuf *out);

#endif
