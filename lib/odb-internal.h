#ifndef SNAP_ODB_INTERNAL_H
#define SNAP_ODB_INTERNAL_H

/*
 * Private to the object database: its state and the calls its files make
 * of one another.  Nothing outside odb.c, odb-packs.c, odb-blocks.c,
 * odb-stream.c, loose.c, bulk.c and odb-write.c includes this; everyone
 * else uses odb.h.
 *
 *   odb.c         opening and closing, has, where an object is (odb_locate),
 *                 iteration, prefix lookup, damage notes, known-bad ids
 *   odb-packs.c   the pack set and the multi-pack index: loading, lookups,
 *                 packs that appeared since, reload, midx writes and checks
 *   odb-blocks.c  the decompression-context pool and the block cache
 *   odb-stream.c  streams over every copy of an object, chunked blobs, reads
 *   loose.c       loose objects: the writer of a frame into a temporary
 *                 file, shards, the listing of loose names
 *   bulk.c        write sessions, batches, the compression queue and its
 *                 worker threads, the batch's pack
 *   odb-write.c   the write entry points: whole objects, descriptors and
 *                 large files stored chunked
 *
 * Threads: reads (odb-packs.c lookups, odb-blocks.c, odb-stream.c) may run
 * on any thread and lock what they share; everything else belongs to the
 * thread that writes.
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "hash.h"
#include "midx.h"
#include "odb.h"
#include "oidset.h"
#include "pack.h"
#include "zio.h"

/* A loose object of a batch written to its temporary file, not yet linked. */
struct pending {
	struct snap_oid oid;
	char *tmp;
	int replace;	/* over a loose copy that failed verification */
};

/*
 * A shared frame of a pack (a block), decompressed whole.  Reading its
 * members one after another, as restore and fsck do, then costs one
 * decompression; a stream holds a reference while it reads a member.
 */
#define BLOCK_CACHE_SIZE 16
struct block {
	unsigned char pack[SNAP_OID_RAWSZ];	/* the pack's checksum */
	uint64_t offset;			/* of the frame in the pack */
	char *buf;
	size_t len;
	unsigned refs;		/* the streams reading it, +1 while cached */
	uint64_t used;
};

/* A pack found after the pack set was loaded (see odb->late). */
struct late_pack {
	struct pack p;
	struct late_pack *next;
};

struct odb {
	struct snap_store *store;
	struct session *session;	/* ours, ended with the odb; NULL if none */
	int in_session;			/* ours or $SNAP_SESSION's */
	struct bulk *bulk;
	int jobs;
	struct pack *packs;
	size_t nr_packs, alloc_packs;
	/* Ids every copy of which failed a read here, and those written
	 * again since (known_bad). */
	pthread_mutex_t bad_lock;
	/*
	 * Packs that appeared after the pack set was loaded (a concurrent gc
	 * moved loose objects into them), found when a read finds no copy:
	 * a list that only grows, so a reader holding one never sees it move.
	 */
	struct late_pack *late;
	pthread_mutex_t late_lock;
	struct oidset bad, rewritten;
	int verify_writes;	/* a write outside a batch: check what is there */
	/* The damaged files met loading the packs (odb_damaged). */
	char **damage;
	size_t nr_damage, alloc_damage;
	/* The multi-pack index, when valid for the packs loaded: its pack i
	 * is packs[midx_pack[i]]. */
	struct midx midx;
	uint32_t *midx_pack;
	int have_midx;
	struct pack_writer *pw;	/* the pack a batch is filling */
	size_t freshen_hint;	/* the pack LOCATE_PACKS_HINTED found the last id in */
	/*
	 * During a batch: each shard's loose object names, listed once, so
	 * that deduplication against loose objects costs no system call.
	 */
	char **loose[256];
	size_t nr_loose[256];
	unsigned char loose_listed[256];
	int batch;
	struct oidmap pending;	/* of struct pending, in the order written */
	struct strbuf path;	/* scratch for object paths */
	struct zio_cctx *cctx;
	struct zio_cctx *list_cctx;	/* for chunk lists, written beside other objects */
	/* Decompression contexts not in use; streams may run on any thread. */
	pthread_mutex_t dctx_lock;
	struct zio_dctx **dctx_free;
	size_t nr_dctx_free, alloc_dctx_free;
	/* Blocks decompressed lately, shared by the streams reading them. */
	pthread_mutex_t block_lock;
	struct block *blocks[BLOCK_CACHE_SIZE];
	uint64_t block_clock;
};

/*
 * A frame being written into a temporary file under objects/tmp: loose.c
 * starts, feeds and ends it, odb-write.c installs it.
 */
#define SIZE_UNKNOWN UINT64_MAX
struct writer {
	struct odb *odb;
	struct zio_cctx *cctx;	/* odb->cctx or odb->list_cctx */
	int fd;
	struct strbuf tmp;
	struct snap_hash_ctx hash;
};

/*
 * Where a copy of an object is: the first place that holds it, asked in
 * this order: the current batch (ODB_PENDING, a loose file not yet
 * linked; ODB_QUEUED, queued for the batch's pack, not yet readable),
 * then with LOCATE_PACKS or LOCATE_PACKS_HINTED the packs loaded
 * (ODB_PACKED, *p set when p is not NULL), then with LOCATE_LOOSE or
 * LOCATE_LOOSE_LISTED the loose file (ODB_LOOSE).  Without flags only
 * the batch is asked.  err may get the message of a shard listing that
 * failed (then the loose file counts as there, for the caller to try).
 */
enum odb_where {
	ODB_ABSENT = 0,
	ODB_PENDING,
	ODB_QUEUED,
	ODB_PACKED,
	ODB_LOOSE,
};
#define LOCATE_PACKS 1		/* through the multi-pack index (find_packed) */
/* The packs in turn from the one the last hinted lookup found an id in:
 * a stat cache's hits come in directory order, and neighbours share a
 * pack.  For the writing thread only (the hint is not locked). */
#define LOCATE_PACKS_HINTED 2
#define LOCATE_LOOSE 4		/* its file, by lstat */
/* The shard's names as the batch first listed them (loose_cached): no
 * system call per object.  For the writing thread, in a batch. */
#define LOCATE_LOOSE_LISTED 8
enum odb_where odb_locate(struct odb *odb, const struct snap_oid *oid, unsigned flags,
			  struct pack **p, struct strbuf *err);

/* odb.c: damage notes for odb_damaged(), and ids known bad (odb.h). */
__attribute__((format(printf, 2, 3)))
void note_damage(struct odb *odb, const char *fmt, ...);
/* Forgets the notes past the first keep. */
void drop_damage(struct odb *odb, size_t keep);
void note_bad(struct odb *odb, const struct snap_oid *oid);
int known_bad(struct odb *odb, const struct snap_oid *oid);
int reusable(struct odb *odb, const struct snap_oid *oid);

/* odb-packs.c */
int add_pack(struct odb *odb, const char *idx_path, struct strbuf *err);
int load_packs(struct odb *odb, struct strbuf *err);
void drop_midx(struct odb *odb);
void load_midx(struct odb *odb);
struct pack *find_packed(struct odb *odb, const struct snap_oid *oid, uint32_t *pos);
struct pack *late_find(struct odb *odb, const struct snap_oid *oid, uint32_t *pos);
void refresh_midx(struct odb *odb);

/* odb-blocks.c */
struct zio_dctx *dctx_get(struct odb *odb);
void dctx_put(struct odb *odb, struct zio_dctx *d);
struct block *block_get(struct odb *odb, struct pack *p, const struct pack_record *r,
			const char **why, struct strbuf *err);
void block_release(struct odb *odb, struct block *b);
/* Frees the pool and the cache, for odb_close(). */
void blocks_release(struct odb *odb);

/* loose.c */
int writer_start(struct writer *w, struct odb *odb, struct zio_cctx **cctx,
		 const char *hdr, size_t hlen, uint64_t size, struct strbuf *err);
int writer_begin(struct writer *w, struct odb *odb, enum object_type type,
		 uint64_t size, struct strbuf *err);
int writer_feed(struct writer *w, const void *buf, size_t len, struct strbuf *err);
int writer_feed_raw(struct writer *w, const void *buf, size_t len, struct strbuf *err);
/* Ends the frame; the file stays for writer_install() or writer_abort(). */
int writer_end(struct writer *w, struct strbuf *err);
void writer_abort(struct writer *w);
int loose_freshen(const char *path);
int loose_install(struct writer *w, const struct snap_oid *oid, const char *final,
		  int replace, struct strbuf *err);
int make_shard(struct odb *odb, const char *hex, struct strbuf *err);
int make_shard_nosync(struct odb *odb, const char *hex, struct strbuf *err);
int loose_cached(struct odb *odb, const struct snap_oid *oid, struct strbuf *err);
void drop_loose_cache(struct odb *odb);
int list_shard(struct odb *odb, unsigned shard, const char *prefix,
	       char ***names, size_t *nr, struct strbuf *err);
void free_names(char **names, size_t nr);
/* The id of the loose name rest (62 hex digits) in shard 0..255. */
void shard_oid(struct snap_oid *oid, unsigned shard, const char *rest);

/* bulk.c */
int ensure_session(struct odb *odb, struct strbuf *err);
int pending_has(const struct odb *odb, const struct snap_oid *oid);
void pending_add(struct odb *odb, const struct snap_oid *oid, const char *tmp,
		 int replace);
void drop_pending(struct odb *odb);
int flush_batch(struct odb *odb, struct strbuf *err);
/* 1 if oid was queued for a pack in the batch b (which may be NULL). */
int bulk_has(const struct bulk *b, const struct snap_oid *oid);
int bulk_stop(struct odb *odb, struct strbuf *err);
int bulk_write(struct odb *odb, enum object_type type, const void *buf,
	       size_t len, int owned, struct snap_oid *oid, int *ret,
	       struct strbuf *err);

#endif
