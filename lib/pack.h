#ifndef SNAP_PACK_H
#define SNAP_PACK_H

/*
 * Pack files: many objects in one append-only file, found through a sorted
 * index (docs/FORMAT.md, "Packs").
 *
 *   objects/pack/pack-<checksum>.pack   header, zstd frames, checksum
 *   objects/pack/pack-<checksum>.idx    fan-out, sorted ids, records, checksums
 *
 * An object in a pack is either the same zstd frame of header + payload a
 * loose object file holds, so one decoder reads both, or a member of a
 * shared frame (a block): small blobs are compressed together, header +
 * payload after header + payload, which compresses far better than each
 * alone.  An index is used through mmap, never copied to the heap.  A pack
 * becomes visible when its index is renamed into place, after the pack
 * itself is durable.
 */

#include <stdint.h>
#include <stddef.h>
#include "object.h"
#include "oid.h"
#include "strbuf.h"

#define PACK_MAGIC "SNAPPACK"
#define PACK_IDX_MAGIC "SNAPIDX1"
/* The pack file's version; its index is version 2 (version 1, without
 * shared frames, is still read). */
#define PACK_VERSION 1
#define PACK_IDX_VERSION 2
#define PACK_HEADER_SIZE 16
#define PACK_RECORD_SIZE 32
/* A pack is closed and a new one started past this size. */
#define PACK_TARGET_SIZE (64u << 20)
/* Objects larger than this are never packed (they stay loose). */
#define PACK_OBJECT_MAX (16u << 20)
/*
 * Blocks: blobs and bundles smaller than PACK_BLOCK_MEMBER_MAX are written
 * into shared frames, one sealed once it holds PACK_BLOCK_TARGET bytes; a
 * reader refuses a shared frame whose content is over PACK_BLOCK_MAX.
 */
#define PACK_BLOCK_MEMBER_MAX (128u << 10)
#define PACK_BLOCK_TARGET (256u << 10)
#define PACK_BLOCK_MAX (1u << 20)

struct pack_record {
	uint64_t offset;	/* of the frame in the pack file */
	uint64_t length;	/* of the frame */
	uint64_t size;		/* of the payload */
	enum object_type type;
	int shared;		/* the frame is a block of several objects */
	uint32_t inner;		/* where header + payload start in its content */
};

struct pack {
	char *pack_path;
	char *idx_path;
	const unsigned char *map;	/* the mmapped index */
	size_t map_len;
	uint32_t nr;
	const unsigned char *fanout;	/* 256 big-endian u32 */
	const unsigned char *ids;	/* nr x 32 bytes */
	const unsigned char *records;	/* nr x PACK_RECORD_SIZE */
	int fd;				/* the pack file, opened on first read */
	uint64_t pack_size;		/* expected from the index */
	uint64_t file_size;		/* the pack file's, when the odb opened it */
	int freshened;			/* the odb touched it in this batch */
	int in_midx;			/* the odb's multi-pack index covers it */
	int scanned;			/* the index was rebuilt by pack_scan */
};

/*
 * Maps an index and checks it whole: magic, version, sizes, fan-out
 * monotonic, ids strictly increasing, its checksum, and every field of
 * every record in range (frame inside the pack, known type, flags, member
 * offset), so that nothing read from it later can be out of range.
 * SNAP_ECORRUPT with a message naming the file; SNAP_ENOTFOUND when the
 * index is not there, SNAP_EIO when it cannot be read otherwise (errno
 * kept).  The pack's own bytes are pack_verify's job.
 */
int pack_open(struct pack *p, const char *idx_path, struct strbuf *err);

/*
 * For an index that is missing, unreadable or damaged: builds one in
 * memory from the pack's frames (docs/FORMAT.md: the frames lie end to
 * end between header and checksum, each an object's own or a block's).
 * Every frame is decompressed and the ids computed from what it holds,
 * so a damaged frame costs its own objects only and nothing is ever
 * served under a wrong id.  Costs a read of the whole pack; the index on
 * disk is left as it is (gc writes a new one when it repacks).  The pack
 * is opened (p->fd) as pack_fd would.  SNAP_ENOTFOUND when the pack is
 * not there, SNAP_EIO when it cannot be read otherwise.
 */
int pack_scan(struct pack *p, const char *idx_path, struct strbuf *err);
void pack_close(struct pack *p);

/*
 * Writes the index idx_path of a pack that has none (a writer or gc
 * killed between renaming its pack and its index), as pack_scan() builds
 * it: its objects become readable again, and gc then keeps or drops them
 * as any others.  The index is made in tmpdir, fsynced and linked into
 * place (one that appeared meanwhile wins).
 */
int pack_index_orphan(const char *idx_path, const char *tmpdir, struct strbuf *err);

/*
 * A fan-out table (256 big-endian counts: entry i, the ids whose first
 * byte is at most i) over nr sorted 32-byte ids, as pack indexes and the
 * multi-pack index hold.  id_table_check() returns NULL if it is sound,
 * else what is wrong; id_table_find() the position of oid, or -1.
 */
const char *id_table_check(const unsigned char *fanout, const unsigned char *ids,
			   uint32_t nr);
long id_table_find(const unsigned char *fanout, const unsigned char *ids,
		   const struct snap_oid *oid);

/* Position of oid in the index, or -1. */
long pack_find(const struct pack *p, const struct snap_oid *oid);
void pack_record(const struct pack *p, uint32_t pos, struct pack_record *r);
void pack_oid(const struct pack *p, uint32_t pos, struct snap_oid *oid);
/* First position whose id starts with the hex prefix (len hex digits),
 * and how many follow with it. */
void pack_prefix_range(const struct pack *p, const char *hex, size_t len,
		       uint32_t *first, uint32_t *count);

/*
 * Opens the pack file itself (lazily, once) and returns its descriptor:
 * else SNAP_ENOTFOUND when the pack is not there, SNAP_EIO when it cannot
 * be opened otherwise, with err set.
 */
int pack_fd(struct pack *p, struct strbuf *err);

/* Reads the compressed frame of the object at pos (for repacking). */
int pack_read_frame(struct pack *p, uint32_t pos, struct strbuf *out,
		    struct strbuf *err);

/*
 * Checks the pack against its index: its size, header and checksum.  For
 * fsck; reads the whole pack.
 */
int pack_verify(struct pack *p, struct strbuf *err);

/* ---- writing ---- */

struct pack_writer;

/* Starts a new pack in tmpdir. */
int pack_writer_start(struct pack_writer **out, const char *tmpdir,
		      struct strbuf *err);
/*
 * Appends one frame (already compressed) for oid.  An id the writer has
 * already keeps its first frame in the index (a second costs space only).
 */
int pack_writer_add(struct pack_writer *w, const struct snap_oid *oid,
		    enum object_type type, uint64_t size, const void *frame,
		    size_t len, struct strbuf *err);

/* One object of a block: its header + payload start at inner. */
struct pack_member {
	struct snap_oid oid;
	enum object_type type;
	uint64_t size;
	uint32_t inner;
};
/*
 * Appends one shared frame holding the nr members (no id twice); a member
 * the writer has already keeps its first frame, as in pack_writer_add().
 */
int pack_writer_add_block(struct pack_writer *w, const struct pack_member *m,
			  size_t nr, const void *frame, size_t len,
			  struct strbuf *err);
uint64_t pack_writer_size(const struct pack_writer *w);
uint32_t pack_writer_count(const struct pack_writer *w);
/* 1 if oid was added to this pack. */
int pack_writer_has(const struct pack_writer *w, const struct snap_oid *oid);
/*
 * Makes the pack durable and visible in packdir: fsync the pack, write
 * and fsync its index, rename the pack, then the index, fsync packdir.
 * The index path is written to idx_path.  Frees the writer.
 */
int pack_writer_finish(struct pack_writer *w, const char *packdir,
		       struct strbuf *idx_path, struct strbuf *err);
/* Removes the temporary files and frees the writer. */
void pack_writer_abort(struct pack_writer *w);

#endif
