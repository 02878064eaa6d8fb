/*
 * The object database over loose objects.  Formats: docs/FORMAT.md.
 */
#include "badlist.h"
#include "odb.h"
#include "chunk.h"
#include "error.h"
#include "fsio.h"
#include "hash.h"
#include "midx.h"
#include "oidset.h"
#include "pack.h"
#include "session.h"
#include "util.h"

#include <dirent.h>
#include <malloc.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define IO_BUF (256 * 1024)
/* Largest zstd window accepted on read: the zstd tool's own default. */
#define WINDOW_LOG_MAX 27
/* Objects from this size on are compressed on a zstd worker thread. */
#define ZSTD_WORKER_MIN (4u << 20)

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

/*
 * The compression stage of a batch: the caller's thread hashes each object
 * and drops those already stored; worker threads compress the rest and
 * append them to the batch's pack.  A bounded queue keeps memory flat.
 */
#define BULK_QUEUE_MAX (16u << 20)
#define BULK_THREADS_MAX 16

struct job {
	struct job *next;
	struct snap_oid oid;
	enum object_type type;
	char *buf;
	size_t len;
	/* A block (nr_members > 0): buf holds each member's header and
	 * payload, one after another; it becomes one shared frame. */
	struct pack_member *members;
	size_t nr_members, alloc_members;
};

/* Room for a block: sealed at PACK_BLOCK_TARGET, one member may pass it. */
#define BLOCK_BUF (PACK_BLOCK_TARGET + PACK_BLOCK_MEMBER_MAX + SNAP_HDR_MAX)

struct bulk {
	struct odb *odb;
	pthread_t threads[BULK_THREADS_MAX];
	int nr_threads;
	pthread_mutex_t lock;		/* the queue and the fields below */
	pthread_cond_t work, room;
	struct job *head, *tail;
	struct job *block;		/* the block being filled, not queued */
	size_t queued;
	size_t inflight;		/* jobs queued and not yet packed */
	int stop;
	int failed;
	struct strbuf err;
	pthread_mutex_t pack_lock;	/* odb->pw and done_packs */
	char **done_packs;		/* indexes of packs finished meanwhile */
	size_t nr_done, alloc_done;
	/* ids queued in this batch; the caller's thread alone uses them */
	struct snap_oid *ids;
	size_t nr_ids, alloc_ids;
	uint32_t *set;
	size_t set_size;
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
	size_t freshen_hint;	/* the pack odb_freshen found the last id in */
	/*
	 * During a batch: each shard's loose object names, listed once, so
	 * that deduplication against loose objects costs no system call.
	 */
	char **loose[256];
	size_t nr_loose[256];
	unsigned char loose_listed[256];
	int batch;
	struct pending *pending;
	size_t nr_pending, alloc_pending;
	/* open-addressing set of indexes into pending, 0 = empty, else i+1 */
	uint32_t *pset;
	size_t pset_size;
	struct strbuf path;	/* scratch for object paths */
	ZSTD_CCtx *cctx;
	ZSTD_CCtx *list_cctx;	/* for chunk lists, written beside other objects */
	/* Decompression contexts not in use; streams may run on any thread. */
	pthread_mutex_t dctx_lock;
	ZSTD_DCtx **dctx_free;
	size_t nr_dctx_free, alloc_dctx_free;
	/* Blocks decompressed lately, shared by the streams reading them. */
	pthread_mutex_t block_lock;
	struct block *blocks[BLOCK_CACHE_SIZE];
	uint64_t block_clock;
};

/* Notes a damaged file for odb_damaged(). */
__attribute__((format(printf, 2, 3)))
static void note_damage(struct odb *odb, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	ALLOC_GROW(odb->damage, odb->nr_damage + 1, odb->alloc_damage);
	odb->damage[odb->nr_damage++] = strbuf_detach(&sb, NULL);
}

static void drop_damage(struct odb *odb, size_t keep)
{
	while (odb->nr_damage > keep)
		free(odb->damage[--odb->nr_damage]);
}

static int file_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/*
 * Maps a pack's index and opens the pack.  SNAP_ENOTFOUND when a file
 * has gone because gc replaced the pack after its name was read.  gc
 * takes an index away before its pack and puts a pack back before its
 * index, so an index still there whose pack is not is damage, not a race.
 * Damage costs the objects it takes and no more (odb.h): an index that
 * cannot be read or fails its checks is replaced by a scan of its pack;
 * a pack that cannot be opened is left out, its objects absent.  Either
 * is noted for odb_damaged().
 */
static int add_pack(struct odb *odb, const char *idx_path, struct strbuf *err)
{
	struct strbuf why = STRBUF_INIT, why2 = STRBUF_INIT;
	struct pack *p;
	struct stat st;
	int ret = 0, r;

	(void)err;
	ALLOC_GROW(odb->packs, odb->nr_packs + 1, odb->alloc_packs);
	p = &odb->packs[odb->nr_packs];
	r = pack_open(p, idx_path, &why);
	if (r < 0) {
		if (r == SNAP_ENOTFOUND && !file_exists(idx_path)) {
			ret = SNAP_ENOTFOUND;
			goto out;
		}
		r = pack_scan(p, idx_path, &why2);
		if (r < 0) {
			if (r == SNAP_ENOTFOUND && !file_exists(idx_path))
				ret = SNAP_ENOTFOUND;
			else
				note_damage(odb, "%s; its pack cannot be read either: %s",
					    why.buf, why2.buf);
			goto out;
		}
		note_damage(odb, "%s; its pack is read by a scan", why.buf);
	} else if ((r = pack_fd(p, &why2)) < 0) {
		/* Opened now, so that readers on several threads share it. */
		int gone = r == SNAP_ENOTFOUND;

		/* Put back by gc in between (pack first, then index)? */
		if (gone && file_exists(idx_path)) {
			strbuf_reset(&why2);
			r = pack_fd(p, &why2);
			gone = r < 0 ? r == SNAP_ENOTFOUND : -1;
		}
		if (gone >= 0) {
			if (gone && !file_exists(idx_path))
				ret = SNAP_ENOTFOUND;
			else
				note_damage(odb, "%s; its objects are unavailable", why2.buf);
			pack_close(p);
			goto out;
		}
	}
	if (fstat(p->fd, &st) == 0) {
		p->file_size = (uint64_t)st.st_size;
		if (!p->scanned && p->file_size < p->pack_size)
			note_damage(odb, "pack '%s' is truncated (%llu bytes, its index says %llu)",
				    p->pack_path, (unsigned long long)p->file_size,
				    (unsigned long long)p->pack_size);
	} else {
		p->file_size = p->pack_size;
	}
	odb->nr_packs++;
out:
	strbuf_release(&why);
	strbuf_release(&why2);
	return ret;
}

size_t odb_nr_damaged(struct odb *odb)
{
	return odb->nr_damage;
}

const char *odb_damaged(struct odb *odb, size_t i)
{
	return odb->damage[i];
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Maps the index of every pack in objects/pack, in name order. */
static int load_packs_once(struct odb *odb, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT, path = STRBUF_INIT;
	char **names = NULL;
	size_t nr = 0, alloc = 0, i;
	struct dirent *de;
	int ret = 0;
	DIR *d;

	store_path(odb->store, &dir, "objects/pack");
	d = opendir(dir.buf);
	if (!d) {
		if (errno != ENOENT)
			ret = snap_error_errno(err, "cannot read '%s'", dir.buf);
		strbuf_release(&dir);
		return ret;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len > 9 && !strncmp(de->d_name, "pack-", 5) &&
		    !strcmp(de->d_name + len - 4, ".idx")) {
			ALLOC_GROW(names, nr + 1, alloc);
			names[nr++] = xstrdup(de->d_name);
		}
	}
	closedir(d);
	QSORT(names, nr, cmp_str);
	for (i = 0; i < nr; i++) {
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir.buf, names[i]);
		if (ret == 0)
			ret = add_pack(odb, path.buf, err);
		free(names[i]);
	}
	free(names);
	strbuf_release(&dir);
	strbuf_release(&path);
	return ret;
}

/*
 * gc makes a merged pack durable before it deletes the packs it replaces,
 * so a pack that vanished between readdir() and open() means a newer pack
 * holds its objects: drop what was loaded and read the directory again.
 */
#define LOAD_PACKS_TRIES 20
static int load_packs(struct odb *odb, struct strbuf *err)
{
	size_t base = odb->nr_packs, keep = err ? err->len : 0, damaged = odb->nr_damage;
	int tries, ret = 0;

	for (tries = 0; tries < LOAD_PACKS_TRIES; tries++) {
		ret = load_packs_once(odb, err);
		if (ret != SNAP_ENOTFOUND)
			return ret;
		while (odb->nr_packs > base)
			pack_close(&odb->packs[--odb->nr_packs]);
		drop_damage(odb, damaged);
		if (err)
			strbuf_setlen(err, keep);
	}
	return load_packs_once(odb, err);
}

static void drop_midx(struct odb *odb)
{
	size_t i;

	midx_close(&odb->midx);
	free(odb->midx_pack);
	odb->midx_pack = NULL;
	odb->have_midx = 0;
	for (i = 0; i < odb->nr_packs; i++)
		odb->packs[i].in_midx = 0;
}

/*
 * Maps objects/pack/multi-pack-index when every pack it names is loaded
 * (else gc has replaced some since, and it is left unused: the packs are
 * searched one by one until it is written again).  Both lists are sorted
 * by name.  A missing or damaged index is not an error: it only saves time.
 */
static void load_midx(struct odb *odb)
{
	struct strbuf path = STRBUF_INIT;
	size_t k = 0;
	uint32_t i;

	drop_midx(odb);
	store_path(odb->store, &path, "objects/pack/" MIDX_NAME);
	if (midx_open(&odb->midx, path.buf, NULL) < 0) {
		strbuf_release(&path);
		return;
	}
	strbuf_release(&path);
	odb->midx_pack = xcalloc(odb->midx.nr_packs ? odb->midx.nr_packs : 1,
				 sizeof(*odb->midx_pack));
	for (i = 0; i < odb->midx.nr_packs; i++) {
		struct snap_oid want, have;

		midx_pack_id(&odb->midx, i, &want);
		while (k < odb->nr_packs &&
		       (midx_pack_name(&odb->packs[k], &have) < 0 || oid_cmp(&have, &want) < 0))
			k++;
		if (k == odb->nr_packs || oid_cmp(&have, &want)) {
			drop_midx(odb);
			return;
		}
		odb->midx_pack[i] = (uint32_t)k;
		/* A scanned index has other positions: search it on its own. */
		odb->packs[k].in_midx = !odb->packs[k].scanned;
	}
	odb->have_midx = 1;
}

int odb_open(struct odb **out, struct snap_store *store, struct strbuf *err)
{
	struct odb *odb = xcalloc(1, sizeof(*odb));
	int ret;

	odb->store = store;
	strbuf_init(&odb->path, 0);
	pthread_mutex_init(&odb->dctx_lock, NULL);
	pthread_mutex_init(&odb->block_lock, NULL);
	pthread_mutex_init(&odb->bad_lock, NULL);
	pthread_mutex_init(&odb->late_lock, NULL);
	ret = load_packs(odb, err);
	if (ret < 0) {
		odb_close(odb);
		return ret;
	}
	load_midx(odb);
	/* What fsck found bad is known bad to this process's writers. */
	badlist_read(store, &odb->bad);
	*out = odb;
	return 0;
}

/*
 * The pack holding oid and its position there, or NULL: through the
 * multi-pack index, then the packs it does not cover.  A hit that the
 * pack's own index does not confirm sends the lookup through every pack.
 */
static struct pack *find_packed(struct odb *odb, const struct snap_oid *oid,
				uint32_t *pos)
{
	int all = !odb->have_midx;
	size_t i;

	if (odb->have_midx) {
		long at = midx_find(&odb->midx, oid);
		if (at >= 0) {
			uint32_t mp, mpos;
			struct pack *p;

			midx_entry(&odb->midx, (uint32_t)at, &mp, &mpos);
			p = &odb->packs[odb->midx_pack[mp]];
			if (mpos < p->nr && !memcmp(p->ids + (size_t)mpos * 32, oid->hash, 32)) {
				*pos = mpos;
				return p;
			}
			all = 1;
		}
	}
	for (i = 0; i < odb->nr_packs; i++) {
		if (odb->packs[i].in_midx && !all)
			continue;
		long at = pack_find(&odb->packs[i], oid);
		if (at >= 0) {
			*pos = (uint32_t)at;
			return &odb->packs[i];
		}
	}
	return NULL;
}

static void drop_loose_cache(struct odb *odb);
static int bulk_stop(struct odb *odb, struct strbuf *err);
static int ensure_session(struct odb *odb, struct strbuf *err);

static void drop_pending(struct odb *odb)
{
	size_t i;

	for (i = 0; i < odb->nr_pending; i++) {
		unlink(odb->pending[i].tmp);
		free(odb->pending[i].tmp);
	}
	odb->nr_pending = 0;
	if (odb->pset)
		memset(odb->pset, 0, odb->pset_size * sizeof(*odb->pset));
}

static void block_release(struct odb *odb, struct block *b);

void odb_close(struct odb *odb)
{
	size_t i;

	if (!odb)
		return;
	if (odb->bulk)
		bulk_stop(odb, NULL);
	session_end(odb->session);
	drop_pending(odb);
	drop_loose_cache(odb);
	pack_writer_abort(odb->pw);
	drop_midx(odb);
	while (odb->nr_packs)
		pack_close(&odb->packs[--odb->nr_packs]);
	free(odb->packs);
	drop_damage(odb, 0);
	free(odb->damage);
	free(odb->pending);
	free(odb->pset);
	ZSTD_freeCCtx(odb->cctx);
	ZSTD_freeCCtx(odb->list_cctx);
	while (odb->nr_dctx_free)
		ZSTD_freeDCtx(odb->dctx_free[--odb->nr_dctx_free]);
	free(odb->dctx_free);
	pthread_mutex_destroy(&odb->dctx_lock);
	for (i = 0; i < BLOCK_CACHE_SIZE; i++)
		block_release(odb, odb->blocks[i]);
	pthread_mutex_destroy(&odb->block_lock);
	oidset_clear(&odb->bad);
	oidset_clear(&odb->rewritten);
	pthread_mutex_destroy(&odb->bad_lock);
	while (odb->late) {
		struct late_pack *l = odb->late;

		odb->late = l->next;
		pack_close(&l->p);
		free(l);
	}
	pthread_mutex_destroy(&odb->late_lock);
	strbuf_release(&odb->path);
	free(odb);
}

struct snap_store *odb_store(struct odb *odb)
{
	return odb->store;
}

void odb_loose_path(struct odb *odb, const struct snap_oid *oid,
		    struct strbuf *out)
{
	char hex[SNAP_OID_HEXSZ + 1];

	oid_to_hex_r(hex, oid);
	strbuf_reset(out);
	strbuf_addf(out, "%s/objects/%.2s/%s", odb->store->path, hex, hex + 2);
}

static size_t pset_slot(const struct odb *odb, const struct snap_oid *oid)
{
	uint64_t h;

	memcpy(&h, oid->hash, sizeof(h));
	return (size_t)(h & (odb->pset_size - 1));
}

static int pending_has(const struct odb *odb, const struct snap_oid *oid)
{
	size_t i;

	if (!odb->nr_pending)
		return 0;
	for (i = pset_slot(odb, oid); odb->pset[i]; i = (i + 1) & (odb->pset_size - 1))
		if (!oid_cmp(&odb->pending[odb->pset[i] - 1].oid, oid))
			return 1;
	return 0;
}

static void pending_add(struct odb *odb, const struct snap_oid *oid, const char *tmp,
			int replace)
{
	size_t i;

	if (!odb->pset) {
		odb->pset_size = 2 * SNAP_BATCH_MAX;
		odb->pset = xcalloc(odb->pset_size, sizeof(*odb->pset));
	}
	ALLOC_GROW(odb->pending, odb->nr_pending + 1, odb->alloc_pending);
	odb->pending[odb->nr_pending].oid = *oid;
	odb->pending[odb->nr_pending].tmp = xstrdup(tmp);
	odb->pending[odb->nr_pending].replace = replace;
	odb->nr_pending++;
	for (i = pset_slot(odb, oid); odb->pset[i]; i = (i + 1) & (odb->pset_size - 1))
		;
	odb->pset[i] = (uint32_t)odb->nr_pending;
}

static int bulk_has(const struct bulk *b, const struct snap_oid *oid)
{
	size_t i;
	uint64_t h;

	if (!b || !b->nr_ids)
		return 0;
	memcpy(&h, oid->hash, sizeof(h));
	for (i = (size_t)h & (b->set_size - 1); b->set[i]; i = (i + 1) & (b->set_size - 1))
		if (!oid_cmp(&b->ids[b->set[i] - 1], oid))
			return 1;
	return 0;
}

static void bulk_remember(struct bulk *b, const struct snap_oid *oid)
{
	size_t i, j;
	uint64_t h;

	ALLOC_GROW(b->ids, b->nr_ids + 1, b->alloc_ids);
	b->ids[b->nr_ids++] = *oid;
	if (b->nr_ids * 2 > b->set_size) {
		free(b->set);
		b->set_size = b->set_size ? b->set_size * 2 : 4096;
		b->set = xcalloc(b->set_size, sizeof(*b->set));
		for (j = 0; j < b->nr_ids; j++) {
			memcpy(&h, b->ids[j].hash, sizeof(h));
			for (i = (size_t)h & (b->set_size - 1); b->set[i];
			     i = (i + 1) & (b->set_size - 1))
				;
			b->set[i] = (uint32_t)j + 1;
		}
		return;
	}
	memcpy(&h, oid->hash, sizeof(h));
	for (i = (size_t)h & (b->set_size - 1); b->set[i]; i = (i + 1) & (b->set_size - 1))
		;
	b->set[i] = (uint32_t)b->nr_ids;
}

int odb_has(struct odb *odb, const struct snap_oid *oid)
{
	struct strbuf path = STRBUF_INIT;
	struct stat st;
	uint32_t pos;
	int ret;

	if (pending_has(odb, oid) || bulk_has(odb->bulk, oid) ||
	    find_packed(odb, oid, &pos))
		return 1;

	odb_loose_path(odb, oid, &path);
	ret = lstat(path.buf, &st) == 0 && S_ISREG(st.st_mode);
	strbuf_release(&path);
	return ret;
}

/* ---- reading ---- */

struct odb_stream {
	struct odb *odb;
	ZSTD_DCtx *dctx;
	int fd;
	int own_fd;		/* a loose object's file, closed with the stream */
	uint64_t pos, left;	/* where the frame's unread bytes are */
	int eof;		/* the frame's bytes are all read */
	int frame_done;		/* zstd reported the end of the frame */
	ZSTD_inBuffer in;
	char *inbuf;
	char pend[SNAP_HDR_MAX];	/* payload bytes decoded with the header */
	size_t pend_pos, pend_len;
	uint64_t remaining;	/* payload bytes not yet handed out */
	struct snap_hash_ctx hash;
	struct snap_oid oid;
	struct strbuf path;
	int failed;
	/*
	 * A chunked blob: the frame is its chunk list, read a line at a time
	 * while the chunks it names are streamed in order through sub.
	 */
	int chunked;
	struct odb_stream *sub;	/* the chunk being read, or NULL */
	char lbuf[4096];	/* list bytes decoded, not yet parsed */
	size_t lpos, llen;
	uint64_t listed;	/* sum of the chunk sizes read so far */
	int chunk_failed;	/* the failure was in chunk bad_chunk */
	int chunk_missing;
	struct snap_oid bad_chunk;
	struct snap_oid cur;	/* the chunk sub reads */
	uint64_t total;		/* the blob's size */
	/* A member of a block: its payload is block->buf[mpos..] */
	struct block *block;
	size_t mpos;
	uint64_t size;		/* the payload's */
	uint64_t handed;	/* payload bytes odb_stream_read handed out */
	enum object_type type;
	/*
	 * Verify the object whole at the first read, before a byte is
	 * handed out (read_copy): a block member at block->buf[vstart..]
	 * (vlen bytes), or a small object decompressed into memory.
	 */
	int verify_first;
	size_t vstart, vlen;
	unsigned copy;		/* which copy of the object is read (nth_copy) */
	unsigned flags;		/* stream_open()'s */
};

static int corrupt(struct odb_stream *st, struct strbuf *err, const char *why)
{
	st->failed = 1;
	return snap_error(err, SNAP_ECORRUPT, "object '%s' is corrupt (%s): %s",
			  oid_to_hex(&st->oid), st->path.buf, why);
}

/*
 * Decompresses into out[0..cap) until at least one byte comes out or the
 * frame ends.  Sets *got.
 */
static int decode(struct odb_stream *st, void *out, size_t cap, size_t *got,
		  struct strbuf *err)
{
	ZSTD_outBuffer ob = { out, cap, 0 };

	*got = 0;
	while (!st->frame_done) {
		size_t r;

		if (st->in.pos == st->in.size && !st->eof) {
			size_t want = ZSTD_DStreamInSize();
			ssize_t n = 0;

			if (want > st->left)
				want = (size_t)st->left;
			if (want)
				do
					n = pread(st->fd, st->inbuf, want, (off_t)st->pos);
				while (n < 0 && errno == EINTR);
			if (n < 0) {
				st->failed = 1;
				return snap_error_errno(err, "cannot read '%s'", st->path.buf);
			}
			st->in.src = st->inbuf;
			st->in.size = (size_t)n;
			st->in.pos = 0;
			st->pos += (uint64_t)n;
			st->left -= (uint64_t)n;
			if (n == 0)
				st->eof = 1;
		}
		r = ZSTD_decompressStream(st->dctx, &ob, &st->in);
		if (ZSTD_isError(r))
			return corrupt(st, err, ZSTD_getErrorName(r));
		if (r == 0)
			st->frame_done = 1;
		if (ob.pos > 0 || ob.pos == cap)
			break;
		if (st->in.pos == st->in.size && st->eof)
			return corrupt(st, err, "truncated");
	}
	*got = ob.pos;
	return 0;
}

/* Checks that the frame ends here and nothing follows it. */
static int finish_frame(struct odb_stream *st, struct strbuf *err)
{
	char extra;
	size_t got;
	int ret;

	if (!st->frame_done) {
		ret = decode(st, &extra, 1, &got, err);
		if (ret < 0)
			return ret;
		if (got)
			return corrupt(st, err, "longer than its header says");
		if (!st->frame_done)
			return corrupt(st, err, "truncated");
	}
	if (st->in.pos < st->in.size || st->left > 0)
		return corrupt(st, err, "trailing bytes after the compressed frame");
	return 0;
}

/* Called once the declared payload has been handed out. */
static int finish(struct odb_stream *st, struct strbuf *err)
{
	struct snap_oid actual;
	int ret = finish_frame(st, err);

	if (ret < 0)
		return ret;
	hash_final(&st->hash, &actual);
	if (oid_cmp(&actual, &st->oid))
		return corrupt(st, err, "hash mismatch");
	return 0;
}

/*
 * Parses the header a stored frame starts with: an object's, or a chunk
 * list's (then *list is set and the type is blob).  Returns as
 * object_header_parse does.
 */
static int stored_header_parse(const char *buf, size_t len, enum object_type *type,
			       uint64_t *size, int *list)
{
	int n = object_header_parse(buf, len, type, size);

	*list = 0;
	if (n != -1)
		return n;
	n = chunk_list_header_parse(buf, len, size);
	if (n > 0) {
		*list = 1;
		*type = OBJ_BLOB;
	}
	return n;
}

static ZSTD_DCtx *dctx_get(struct odb *odb)
{
	ZSTD_DCtx *d = NULL;

	pthread_mutex_lock(&odb->dctx_lock);
	if (odb->nr_dctx_free)
		d = odb->dctx_free[--odb->nr_dctx_free];
	pthread_mutex_unlock(&odb->dctx_lock);
	if (d) {
		ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
		return d;
	}
	d = ZSTD_createDCtx();
	if (!d)
		BUG("ZSTD_createDCtx failed");
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, WINDOW_LOG_MAX);
	return d;
}

static void dctx_put(struct odb *odb, ZSTD_DCtx *d)
{
	pthread_mutex_lock(&odb->dctx_lock);
	ALLOC_GROW(odb->dctx_free, odb->nr_dctx_free + 1, odb->alloc_dctx_free);
	odb->dctx_free[odb->nr_dctx_free++] = d;
	pthread_mutex_unlock(&odb->dctx_lock);
}

static void block_release(struct odb *odb, struct block *b)
{
	int last;

	if (!b)
		return;
	pthread_mutex_lock(&odb->block_lock);
	last = !--b->refs;
	pthread_mutex_unlock(&odb->block_lock);
	if (last) {
		free(b->buf);
		free(b);
	}
}

/* The cached block of pack p at offset, with a reference taken, or NULL. */
static struct block *block_cached(struct odb *odb, const unsigned char *pack,
				  uint64_t offset)
{
	struct block *b = NULL;
	size_t i;

	for (i = 0; i < BLOCK_CACHE_SIZE; i++) {
		struct block *c = odb->blocks[i];
		if (c && c->offset == offset && !memcmp(c->pack, pack, SNAP_OID_RAWSZ)) {
			b = c;
			b->refs++;
			b->used = ++odb->block_clock;
			break;
		}
	}
	return b;
}

/*
 * The decompressed block the shared frame r of pack p holds, with a
 * reference for the caller.  NULL with *why set when the frame is damaged.
 */
static struct block *block_get(struct odb *odb, struct pack *p,
			       const struct pack_record *r, const char **why,
			       struct strbuf *err)
{
	const unsigned char *pack = p->map + p->map_len - 2 * SNAP_OID_RAWSZ;
	struct block *b, *old;
	unsigned long long content;
	ZSTD_DCtx *d;
	char *frame;
	size_t got, slot = 0, i;
	ssize_t n;
	int fd;

	*why = NULL;
	pthread_mutex_lock(&odb->block_lock);
	b = block_cached(odb, pack, r->offset);
	pthread_mutex_unlock(&odb->block_lock);
	if (b)
		return b;

	fd = pack_fd(p, err);
	if (fd < 0)
		return NULL;
	if (r->length > ZSTD_compressBound(PACK_BLOCK_MAX)) {
		*why = "shared frame too large";
		return NULL;
	}
	frame = xmalloc_io((size_t)r->length);
	do
		n = pread(fd, frame, (size_t)r->length, (off_t)r->offset);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)r->length) {
		free(frame);
		if (n < 0)
			snap_error_errno(err, "cannot read '%s'", p->pack_path);
		else
			*why = "truncated";
		return NULL;
	}
	content = ZSTD_getFrameContentSize(frame, (size_t)r->length);
	if (content == ZSTD_CONTENTSIZE_UNKNOWN || content == ZSTD_CONTENTSIZE_ERROR ||
	    content > PACK_BLOCK_MAX) {
		free(frame);
		*why = "bad shared frame header";
		return NULL;
	}
	if (ZSTD_findFrameCompressedSize(frame, (size_t)r->length) != r->length) {
		free(frame);
		*why = "trailing bytes after the compressed frame";
		return NULL;
	}
	b = xcalloc(1, sizeof(*b));
	memcpy(b->pack, pack, SNAP_OID_RAWSZ);
	b->offset = r->offset;
	b->buf = xmalloc(content ? (size_t)content : 1);
	d = dctx_get(odb);
	got = ZSTD_decompressDCtx(d, b->buf, (size_t)content, frame, (size_t)r->length);
	dctx_put(odb, d);
	free(frame);
	if (ZSTD_isError(got) || got != content) {
		*why = ZSTD_isError(got) ? ZSTD_getErrorName(got) : "shorter than its frame says";
		free(b->buf);
		free(b);
		return NULL;
	}
	b->len = got;
	b->refs = 2;	/* the caller's, and the cache's */

	pthread_mutex_lock(&odb->block_lock);
	old = block_cached(odb, pack, r->offset);
	if (old) {
		/* Another thread decompressed it meanwhile: keep one. */
		pthread_mutex_unlock(&odb->block_lock);
		free(b->buf);
		free(b);
		return old;
	}
	for (i = 0; i < BLOCK_CACHE_SIZE; i++) {
		if (!odb->blocks[i]) {
			slot = i;
			break;
		}
		if (odb->blocks[i]->used < odb->blocks[slot]->used)
			slot = i;
	}
	old = odb->blocks[slot];
	b->used = ++odb->block_clock;
	odb->blocks[slot] = b;
	pthread_mutex_unlock(&odb->block_lock);
	block_release(odb, old);
	return b;
}

/*
 * Finishes opening st on a member of a block: its header must be the one
 * the index records, and header and payload must lie inside the block.
 */
static int open_member(struct odb_stream *st, struct pack *p,
		       const struct pack_record *r, enum object_type *t,
		       uint64_t *sz, struct strbuf *err)
{
	const char *why;
	int hlen;

	st->block = block_get(st->odb, p, r, &why, err);
	if (!st->block)
		return why ? corrupt(st, err, why) : SNAP_EIO;
	if (r->inner >= st->block->len)
		return corrupt(st, err, "outside its shared frame");
	hlen = object_header_parse(st->block->buf + r->inner, st->block->len - r->inner,
				   t, sz);
	if (hlen <= 0 || *t != r->type || *sz != r->size)
		return corrupt(st, err, "bad object header");
	if (*sz > st->block->len - r->inner - (size_t)hlen)
		return corrupt(st, err, "truncated");
	/* In memory whole: verified before its first byte is handed out. */
	st->verify_first = 1;
	st->vstart = r->inner;
	st->vlen = (size_t)hlen + (size_t)*sz;
	hash_init(&st->hash);
	hash_update(&st->hash, st->block->buf + r->inner, (size_t)hlen);
	st->mpos = r->inner + (size_t)hlen;
	st->remaining = *sz;
	st->frame_done = st->eof = 1;
	st->left = 0;
	return 0;
}

/* stream_open() flags */
#define STREAM_PLAIN 1	/* refuse a chunk list (for a chunk) */
#define STREAM_LOOSE 2	/* the loose copy only */
#define STREAM_ONE 4	/* the one copy asked for: no other on failure */

/*
 * The copies of an object, in the order readers try them: n = 0 the one
 * the lookup finds, then those of the other packs that hold it, in their
 * order, then the loose file (which may be absent).  Returns 1 with *p
 * (NULL for the loose file) and *pos set, or 0 past the last.  Only a
 * copy that failed costs the search of every pack.
 */
static int nth_copy(struct odb *odb, const struct snap_oid *oid, unsigned n,
		    struct pack **p, uint32_t *pos)
{
	uint32_t fpos = 0;
	struct pack *first = find_packed(odb, oid, &fpos);
	unsigned k = 0;
	size_t i;

	if (first) {
		if (n == 0) {
			*p = first;
			*pos = fpos;
			return 1;
		}
		k = 1;
	}
	for (i = 0; i < odb->nr_packs; i++) {
		struct pack *q = &odb->packs[i];
		long at;

		if (q == first || (at = pack_find(q, oid)) < 0)
			continue;
		if (k++ == n) {
			*p = q;
			*pos = (uint32_t)at;
			return 1;
		}
	}
	if (k != n)
		return 0;
	*p = NULL;
	return 1;
}

/* A read failure that another copy may not share. */
static int copy_failure(int ret)
{
	return ret == SNAP_ECORRUPT || ret == SNAP_EIO;
}

static void note_bad(struct odb *odb, const struct snap_oid *oid)
{
	pthread_mutex_lock(&odb->bad_lock);
	oidset_insert(&odb->bad, oid);
	pthread_mutex_unlock(&odb->bad_lock);
}

/* 1 if every copy of oid failed a read in this process, and it has not
 * been written again since. */
static int known_bad(struct odb *odb, const struct snap_oid *oid)
{
	int ret;

	pthread_mutex_lock(&odb->bad_lock);
	ret = oidset_contains(&odb->bad, oid) && !oidset_contains(&odb->rewritten, oid);
	pthread_mutex_unlock(&odb->bad_lock);
	return ret;
}

static int read_copy(struct odb_stream *st, void *buf, size_t len,
		     size_t *got, struct strbuf *err);

/*
 * Objects up to this size are read and verified whole at a stream's
 * first read, and then served from memory (as block members are): a
 * copy that fails is met before a byte of it is handed out, so that the
 * reader can go on from another copy.  Chunks are all this small.
 */
#define VERIFY_AT_OPEN_MAX PACK_BLOCK_MAX

static int read_whole(struct odb_stream *st, struct strbuf *err)
{
	struct block *b = xcalloc(1, sizeof(*b));
	char hdr[SNAP_HDR_MAX];
	size_t hlen, got;
	int ret = 0;

	b->buf = xmalloc(st->size ? (size_t)st->size : 1);
	b->refs = 1;
	while (ret == 0 && b->len < st->size) {
		ret = read_copy(st, b->buf + b->len, (size_t)st->size - b->len, &got, err);
		b->len += got;
		if (ret == 0 && !got)
			ret = corrupt(st, err, "truncated");
	}
	if (ret == 0)
		ret = read_copy(st, hdr, sizeof(hdr), &got, err);	/* the end: verifies */
	if (ret < 0) {
		free(b->buf);
		free(b);
		return ret;
	}
	/* Served from memory from now on, hashed again as it is handed out. */
	dctx_put(st->odb, st->dctx);
	st->dctx = NULL;
	st->block = b;
	st->mpos = 0;
	st->remaining = st->size;
	st->pend_pos = st->pend_len = 0;
	st->in.pos = st->in.size = 0;
	st->left = 0;
	st->frame_done = st->eof = 1;
	hlen = object_header_format(hdr, st->type, st->size);
	hash_init(&st->hash);
	hash_update(&st->hash, hdr, hlen);
	return 0;
}

/* Opens a stream on copy p/pos (p NULL: the loose file) of an object. */
static int stream_open_copy(struct odb *odb, const struct snap_oid *oid,
			    struct pack *p, uint32_t pos, struct odb_stream **out,
			    enum object_type *type, uint64_t *size, unsigned flags,
			    struct strbuf *err)
{
	struct odb_stream *st = xcalloc(1, sizeof(*st));
	enum object_type t = OBJ_NONE;
	uint64_t sz = 0;
	size_t have = 0;
	int hlen = 0, list = 0, ret;

	st->odb = odb;
	st->oid = *oid;
	st->fd = -1;
	st->flags = flags;
	strbuf_init(&st->path, 0);
	if (!p) {
		odb_loose_path(odb, oid, &st->path);
		st->fd = open(st->path.buf, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (st->fd >= 0) {
		struct stat sb;

		st->own_fd = 1;
		if (fstat(st->fd, &sb) < 0) {
			ret = snap_error_errno(err, "cannot stat '%s'", st->path.buf);
			goto fail;
		}
		st->left = (uint64_t)sb.st_size;
	} else if (!p && errno == ENOENT) {
		ret = snap_error(err, SNAP_ENOTFOUND, "object '%s' not found", oid_to_hex(oid));
		goto fail;
	} else if (p) {
		struct pack_record r;

		pack_record(p, pos, &r);
		st->fd = pack_fd(p, err);
		if (st->fd < 0) {
			ret = SNAP_EIO;
			goto fail;
		}
		strbuf_addf(&st->path, "%s at offset %llu", p->pack_path,
			    (unsigned long long)r.offset);
		st->pos = r.offset;
		st->left = r.length;
		if (r.shared) {
			ret = open_member(st, p, &r, &t, &sz, err);
			if (ret < 0)
				goto fail;
			goto opened;
		}
	} else {
		ret = snap_error_errno(err, "cannot open '%s'", st->path.buf);
		goto fail;
	}
	st->dctx = dctx_get(odb);
	st->inbuf = xmalloc_io(ZSTD_DStreamInSize());

	while (hlen == 0) {
		size_t got;

		if (have == sizeof(st->pend))
			break;
		ret = decode(st, st->pend + have, sizeof(st->pend) - have, &got, err);
		if (ret < 0)
			goto fail;
		have += got;
		hlen = stored_header_parse(st->pend, have, &t, &sz, &list);
		if (hlen < 0 || (hlen == 0 && st->frame_done))
			break;
	}
	if (hlen <= 0) {
		ret = corrupt(st, err, "bad object header");
		goto fail;
	}
	st->remaining = sz;
	if (list) {
		/* A chunked blob: verified against the hash of all its chunks. */
		if (!st->own_fd || (flags & STREAM_PLAIN)) {
			ret = corrupt(st, err, st->own_fd ? "a chunk that is itself a chunk list"
					       : "a chunk list in a pack");
			goto fail;
		}
		st->chunked = 1;
		st->total = sz;
		hash_object_start(&st->hash, OBJ_BLOB, sz, NULL);
		st->llen = have - (size_t)hlen;
		memcpy(st->lbuf, st->pend + hlen, st->llen);
	} else {
		hash_init(&st->hash);
		hash_update(&st->hash, st->pend, (size_t)hlen);
		st->pend_pos = (size_t)hlen;
		st->pend_len = have;
		st->verify_first = sz <= VERIFY_AT_OPEN_MAX;
	}
opened:
	st->size = sz;
	st->type = t;
	if (type)
		*type = t;
	if (size)
		*size = sz;
	*out = st;
	return 0;
fail:
	odb_stream_close(st);
	return ret;
}

static int pack_known(struct odb *odb, const char *idx_path)
{
	struct late_pack *l;
	size_t i;

	for (i = 0; i < odb->nr_packs; i++)
		if (!strcmp(odb->packs[i].idx_path, idx_path))
			return 1;
	for (l = odb->late; l; l = l->next)
		if (!strcmp(l->p.idx_path, idx_path))
			return 1;
	return 0;
}

/*
 * The pack holding oid among those that appeared since the pack set was
 * loaded, opening any new one; NULL if none holds it.
 */
static struct pack *late_find(struct odb *odb, const struct snap_oid *oid, uint32_t *pos)
{
	struct strbuf dir = STRBUF_INIT, idx = STRBUF_INIT, err = STRBUF_INIT;
	struct pack *found = NULL;
	struct late_pack *l;
	struct dirent *de;
	DIR *d;
	long at;

	pthread_mutex_lock(&odb->late_lock);
	store_path(odb->store, &dir, "objects/pack");
	d = opendir(dir.buf);
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n < 5 || strcmp(de->d_name + n - 4, ".idx"))
			continue;
		strbuf_reset(&idx);
		strbuf_addf(&idx, "%s/%s", dir.buf, de->d_name);
		if (pack_known(odb, idx.buf))
			continue;
		l = xcalloc(1, sizeof(*l));
		strbuf_reset(&err);
		if (pack_open(&l->p, idx.buf, &err) < 0) {
			free(l);
			continue;
		}
		/* Damage the pack set left out (its pack gone, unreadable) stays out. */
		if (pack_fd(&l->p, &err) < 0) {
			pack_close(&l->p);
			free(l);
			continue;
		}
		l->next = odb->late;
		odb->late = l;
	}
	if (d)
		closedir(d);
	for (l = odb->late; l && !found; l = l->next)
		if ((at = pack_find(&l->p, oid)) >= 0) {
			found = &l->p;
			*pos = (uint32_t)at;
		}
	pthread_mutex_unlock(&odb->late_lock);
	strbuf_release(&dir);
	strbuf_release(&idx);
	strbuf_release(&err);
	return found;
}

/*
 * Opens a stream on the first copy of an object that opens (packs
 * first: a lookup there costs no system call, and most objects of a
 * store are packed).  A copy that fails is reported only when no other
 * opens: err then holds the first failure.  With STREAM_ONE, copy
 * number `first` only.
 */
static int stream_open_from(struct odb *odb, const struct snap_oid *oid,
			    unsigned first, struct odb_stream **out,
			    enum object_type *type, uint64_t *size, unsigned flags,
			    struct strbuf *err)
{
	struct strbuf later = STRBUF_INIT;
	size_t keep = err ? err->len : 0;
	int ret = SNAP_ENOTFOUND, failed = 0;
	unsigned n;

	for (n = first;; n++) {
		struct pack *p;
		uint32_t pos = 0;
		int r;

		if (flags & STREAM_LOOSE)
			p = NULL;
		else if (!nth_copy(odb, oid, n, &p, &pos))
			break;
		strbuf_reset(&later);
		r = stream_open_copy(odb, oid, p, pos, out, type, size, flags,
				     failed ? &later : err);
		if (r == 0) {
			(*out)->copy = n;
			if (failed && err)
				strbuf_setlen(err, keep);
			strbuf_release(&later);
			return 0;
		}
		if (!failed) {
			ret = r;
			failed = copy_failure(r);
			if (!failed && r != SNAP_ENOTFOUND)
				break;
			if (!failed && err)
				strbuf_setlen(err, keep);
		}
		if ((flags & (STREAM_LOOSE | STREAM_ONE)) || !p)
			break;
	}
	if (ret == SNAP_ENOTFOUND && !(flags & (STREAM_LOOSE | STREAM_ONE))) {
		/* No copy: gc may have moved it into a pack loaded after ours. */
		struct pack *p;
		uint32_t pos;

		if ((p = late_find(odb, oid, &pos))) {
			ret = stream_open_copy(odb, oid, p, pos, out, type, size, flags, err);
			if (ret == 0) {
				(*out)->copy = n;
				strbuf_release(&later);
				return 0;
			}
		}
	}
	if (ret == SNAP_ENOTFOUND && err && err->len == keep)
		snap_error(err, SNAP_ENOTFOUND, "object '%s' not found", oid_to_hex(oid));
	if (failed && !(flags & STREAM_ONE))
		note_bad(odb, oid);
	strbuf_release(&later);
	return ret;
}

static int stream_open(struct odb *odb, const struct snap_oid *oid,
		       struct odb_stream **out, enum object_type *type,
		       uint64_t *size, unsigned flags, struct strbuf *err)
{
	return stream_open_from(odb, oid, 0, out, type, size, flags, err);
}

int odb_stream_open(struct odb *odb, const struct snap_oid *oid,
		    struct odb_stream **out, enum object_type *type,
		    uint64_t *size, struct strbuf *err)
{
	return stream_open(odb, oid, out, type, size, 0, err);
}

int odb_stream_open_loose(struct odb *odb, const struct snap_oid *oid,
			  struct odb_stream **out, enum object_type *type,
			  uint64_t *size, struct strbuf *err)
{
	return stream_open(odb, oid, out, type, size, STREAM_LOOSE, err);
}

int odb_stream_open_copy(struct odb *odb, const struct snap_oid *oid, unsigned n,
			 struct odb_stream **out, enum object_type *type,
			 uint64_t *size, struct strbuf *err)
{
	struct pack *p;
	uint32_t pos;

	if (!nth_copy(odb, oid, n, &p, &pos))
		return SNAP_ENOTFOUND;
	return stream_open_copy(odb, oid, p, pos, out, type, size, STREAM_ONE, err);
}

const char *odb_stream_path(const struct odb_stream *st)
{
	return st->path.buf;
}

/*
 * The next line of a chunk list into line (*len bytes, LF included).
 * Returns 1 for a line, 0 at the end of the list.
 */
static int list_line(struct odb_stream *st, char *line, size_t *len,
		     struct strbuf *err)
{
	size_t n = 0;

	for (;;) {
		char c;

		if (st->lpos == st->llen) {
			size_t got;
			int ret = decode(st, st->lbuf, sizeof(st->lbuf), &got, err);

			if (ret < 0)
				return ret;
			st->lpos = 0;
			st->llen = got;
			if (!got)
				return n ? corrupt(st, err, "chunk list ends inside a line") : 0;
		}
		c = st->lbuf[st->lpos++];
		if (n == CHUNK_LIST_LINE_MAX)
			return corrupt(st, err, "chunk list line too long");
		line[n++] = c;
		if (c == '\n') {
			*len = n;
			return 1;
		}
	}
}

/* The next chunk of the list: its id and size. */
static int list_next(struct odb_stream *st, struct snap_oid *oid, uint64_t *size,
		     struct strbuf *err)
{
	char line[CHUNK_LIST_LINE_MAX];
	size_t len = 0;
	int ret = list_line(st, line, &len, err);

	if (ret < 0)
		return ret;
	if (ret == 0)
		return corrupt(st, err, "chunk list ends before the blob's size");
	if (chunk_list_line_parse(line, len, oid, size) < 0)
		return corrupt(st, err, "bad chunk list line");
	if (*size > st->total - st->listed)
		return corrupt(st, err, "chunk sizes add up to more than the blob's size");
	st->listed += *size;
	return 0;
}

/* Once the chunks add up to the blob: the list must end, the frame too. */
static int list_end(struct odb_stream *st, struct strbuf *err)
{
	char line[CHUNK_LIST_LINE_MAX];
	size_t len;
	int ret = list_line(st, line, &len, err);

	if (ret < 0)
		return ret;
	if (ret > 0)
		return corrupt(st, err, "chunk sizes add up to more than the blob's size");
	return finish_frame(st, err);
}

static int chunk_failure(struct odb_stream *st, const struct snap_oid *chunk,
			 int missing, int ret, const struct strbuf *msg,
			 struct strbuf *err)
{
	st->failed = 1;
	st->chunk_failed = 1;
	st->chunk_missing = missing;
	st->bad_chunk = *chunk;
	if (missing)
		return snap_error(err, SNAP_ECORRUPT,
				  "object '%s' is corrupt (%s): its chunk '%s' is missing",
				  oid_to_hex(&st->oid), st->path.buf, oid_to_hex(chunk));
	return snap_error(err, ret, "%s (a chunk of blob '%s')", msg->buf,
			  oid_to_hex(&st->oid));
}

/* Reads a chunked blob: its chunks in list order, each one verified. */
static int chunked_read(struct odb_stream *st, void *buf, size_t len,
			size_t *got, struct strbuf *err)
{
	struct strbuf msg = STRBUF_INIT;
	int ret = 0;

	while (!*got) {
		struct snap_oid chunk;
		enum object_type t;
		uint64_t want, sz;
		size_t n;

		if (!st->sub) {
			if (st->listed == st->total) {
				ret = list_end(st, err);
				if (ret == 0)
					ret = finish(st, err);
				break;
			}
			ret = list_next(st, &chunk, &want, err);
			if (ret < 0)
				break;
			ret = stream_open(st->odb, &chunk, &st->sub, &t, &sz, STREAM_PLAIN, &msg);
			if (ret < 0) {
				ret = chunk_failure(st, &chunk, ret == SNAP_ENOTFOUND, ret, &msg, err);
				break;
			}
			if (t != OBJ_BLOB || sz != want) {
				strbuf_addf(&msg, "object '%s' is a %s of %llu bytes, its list says "
					    "a blob of %llu", oid_to_hex(&chunk), type_name(t),
					    (unsigned long long)sz, (unsigned long long)want);
				ret = chunk_failure(st, &chunk, 0, SNAP_ECORRUPT, &msg, err);
				break;
			}
			st->cur = chunk;
		}
		ret = odb_stream_read(st->sub, buf, len, &n, &msg);
		if (ret < 0) {
			chunk = st->cur;
			ret = chunk_failure(st, &chunk, 0, ret, &msg, err);
			break;
		}
		if (!n) {
			odb_stream_close(st->sub);
			st->sub = NULL;
			continue;
		}
		hash_update(&st->hash, buf, n);
		st->remaining -= n;
		*got = n;
	}
	strbuf_release(&msg);
	return ret;
}

static int read_copy(struct odb_stream *st, void *buf, size_t len,
		     size_t *got, struct strbuf *err)
{
	size_t n;
	int ret;

	*got = 0;
	if (st->failed)
		BUG("odb_stream_read after a failure");
	if (st->verify_first) {
		st->verify_first = 0;
		if (st->block) {
			struct snap_hash_ctx h;
			struct snap_oid actual;

			hash_init(&h);
			hash_update(&h, st->block->buf + st->vstart, st->vlen);
			hash_final(&h, &actual);
			if (oid_cmp(&actual, &st->oid))
				return corrupt(st, err, "hash mismatch");
		} else {
			ret = read_whole(st, err);
			if (ret < 0)
				return ret;
		}
	}
	if (st->chunked)
		return chunked_read(st, buf, len, got, err);
	if (st->pend_pos < st->pend_len) {
		n = st->pend_len - st->pend_pos;
		if (n > st->remaining)
			return corrupt(st, err, "longer than its header says");
		if (n > len)
			n = len;
		memcpy(buf, st->pend + st->pend_pos, n);
		st->pend_pos += n;
	} else if (st->remaining == 0) {
		return finish(st, err);
	} else if (st->block) {
		n = len < st->remaining ? len : (size_t)st->remaining;
		memcpy(buf, st->block->buf + st->mpos, n);
		st->mpos += n;
	} else {
		if (len > st->remaining)
			len = (size_t)st->remaining;
		ret = decode(st, buf, len, &n, err);
		if (ret < 0)
			return ret;
		if (n == 0)
			return corrupt(st, err, "truncated");
	}
	hash_update(&st->hash, buf, n);
	st->remaining -= n;
	*got = n;
	return 0;
}

/* The id-so-far of what a stream has handed out: header and payload. */
static void prefix_hash(const struct odb_stream *st, struct snap_oid *out)
{
	struct snap_hash_ctx c = st->hash;

	hash_final(&c, out);
}

/*
 * After copy st->copy failed with handed bytes of the payload handed
 * out: goes on from another copy, if one opens, yields the same bytes up
 * to there (the same header and payload prefix, by their hash) and is
 * readable that far.  Then its state replaces st's.  0 if it did.
 */
static int switch_copy(struct odb_stream *st)
{
	uint64_t handed = st->handed;
	char *scratch = NULL;
	struct pack *p;
	uint32_t pos;
	unsigned n;
	int ret = -1;

	for (n = st->copy + 1; ret < 0 && nth_copy(st->odb, &st->oid, n, &p, &pos); n++) {
		struct odb_stream *next, tmp;
		struct snap_oid a, b;
		uint64_t left = handed;

		if (stream_open_copy(st->odb, &st->oid, p, pos, &next, NULL, NULL,
				     st->flags | STREAM_ONE, NULL) < 0)
			continue;
		next->copy = n;
		next->flags = st->flags;
		ret = next->size == st->size && next->type == st->type ? 0 : -1;
		if (!scratch)
			scratch = xmalloc(64 * 1024);
		while (ret == 0 && left) {
			size_t got;
			ret = read_copy(next, scratch, left < 65536 ? (size_t)left : 65536,
					&got, NULL);
			if (ret == 0 && !got)
				ret = -1;
			if (ret == 0)
				left -= got;
		}
		if (ret == 0 && handed) {
			prefix_hash(st, &a);
			prefix_hash(next, &b);
			ret = oid_cmp(&a, &b) ? -1 : 0;
		}
		if (ret == 0) {
			next->handed = handed;
			tmp = *st;
			*st = *next;
			*next = tmp;
		}
		odb_stream_close(next);
	}
	free(scratch);
	return ret;
}

int odb_stream_read(struct odb_stream *st, void *buf, size_t len,
		    size_t *got, struct strbuf *err)
{
	size_t keep = err ? err->len : 0;
	int ret = read_copy(st, buf, len, got, err);

	/*
	 * A copy that fails: go on from another whose bytes so far are the
	 * same, or, when every other fails too, report the first failure.
	 */
	while (ret < 0 && copy_failure(ret) && !(st->flags & (STREAM_ONE | STREAM_LOOSE))) {
		if (switch_copy(st) < 0) {
			note_bad(st->odb, &st->oid);
			break;
		}
		if (err)
			strbuf_setlen(err, keep);
		ret = read_copy(st, buf, len, got, err);
	}
	if (ret == 0)
		st->handed += *got;
	return ret;
}

int odb_stream_chunked(const struct odb_stream *st)
{
	return st->chunked;
}

int odb_stream_bad_chunk(const struct odb_stream *st, struct snap_oid *chunk,
			 int *missing)
{
	if (!st->chunk_failed)
		return 0;
	*chunk = st->bad_chunk;
	*missing = st->chunk_missing;
	return 1;
}

int odb_chunks_each(struct odb *odb, const struct snap_oid *oid,
		    odb_chunk_fn fn, void *data, struct strbuf *err)
{
	struct odb_stream *st;
	int ret = odb_stream_open(odb, oid, &st, NULL, NULL, err);

	if (ret < 0)
		return ret;
	while (ret == 0 && st->chunked && st->listed < st->total) {
		struct snap_oid chunk;
		uint64_t size;

		ret = list_next(st, &chunk, &size, err);
		if (ret == 0)
			fn(&chunk, size, data);
	}
	if (ret == 0 && st->chunked)
		ret = list_end(st, err);
	if (ret == 0)
		ret = st->chunked;
	odb_stream_close(st);
	return ret;
}

void odb_stream_close(struct odb_stream *st)
{
	if (!st)
		return;
	odb_stream_close(st->sub);
	if (st->fd >= 0 && st->own_fd)
		close(st->fd);
	if (st->dctx)
		dctx_put(st->odb, st->dctx);
	block_release(st->odb, st->block);
	free(st->inbuf);
	strbuf_release(&st->path);
	free(st);
}

int odb_read_header(struct odb *odb, const struct snap_oid *oid,
		    enum object_type *type, uint64_t *size, struct strbuf *err)
{
	return odb_read_info(odb, oid, type, size, NULL, err);
}

int odb_read_info(struct odb *odb, const struct snap_oid *oid,
		  enum object_type *type, uint64_t *size, int *chunked,
		  struct strbuf *err)
{
	struct odb_stream *st;
	struct pack_record r;
	struct pack *p;
	struct strbuf path = STRBUF_INIT;
	uint32_t pos;
	int ret, loose;

	odb_loose_path(odb, oid, &path);
	loose = access(path.buf, F_OK) == 0;
	strbuf_release(&path);
	if (!loose && (p = find_packed(odb, oid, &pos))) {
		pack_record(p, pos, &r);
		if (type)
			*type = r.type;
		if (size)
			*size = r.size;
		if (chunked)
			*chunked = 0;
		return 0;
	}
	ret = odb_stream_open(odb, oid, &st, type, size, err);
	if (ret == 0) {
		if (chunked)
			*chunked = st->chunked;
		odb_stream_close(st);
	}
	return ret;
}

int odb_read(struct odb *odb, const struct snap_oid *oid,
	     enum object_type *type, struct strbuf *out, size_t max,
	     struct strbuf *err)
{
	struct odb_stream *st;
	uint64_t size;
	size_t got;
	int ret;

	ret = odb_stream_open(odb, oid, &st, type, &size, err);
	if (ret < 0)
		return ret;
	if (size > max) {
		odb_stream_close(st);
		return snap_error(err, SNAP_ETOOBIG,
				  "object '%s' is too large (%llu bytes, at most %zu here)",
				  oid_to_hex(oid), (unsigned long long)size, max);
	}
	for (;;) {
		size_t keep = err ? err->len : 0;
		unsigned copy;

		strbuf_reset(out);
		strbuf_grow(out, (size_t)size);
		do {
			ret = odb_stream_read(st, out->buf + out->len,
					      out->alloc - out->len - 1, &got, err);
			if (ret < 0)
				break;
			strbuf_setlen(out, out->len + got);
		} while (got);
		/*
		 * Nothing was handed out yet: a copy that failed late (where
		 * the stream could not go on from another) is read again
		 * from the next copy, from the start.
		 */
		copy = st->copy;
		odb_stream_close(st);
		if (ret == 0 || !copy_failure(ret) ||
		    stream_open_from(odb, oid, copy + 1, &st, type, &size, 0, NULL) < 0)
			break;
		if (size > max) {
			odb_stream_close(st);
			break;
		}
		if (err)
			strbuf_setlen(err, keep);
	}
	return ret;
}

/* ---- writing ---- */

struct writer {
	struct odb *odb;
	ZSTD_CCtx *cctx;	/* odb->cctx or odb->list_cctx */
	int fd;
	struct strbuf tmp;
	struct snap_hash_ctx hash;
	char *outbuf;
	size_t outcap;
};

static int writer_flush(struct writer *w, ZSTD_inBuffer *in,
			ZSTD_EndDirective mode, struct strbuf *err)
{
	for (;;) {
		ZSTD_outBuffer ob = { w->outbuf, w->outcap, 0 };
		size_t r = ZSTD_compressStream2(w->cctx, &ob, in, mode);

		if (ZSTD_isError(r))
			return snap_error(err, SNAP_EIO, "compression failed: %s",
					  ZSTD_getErrorName(r));
		if (ob.pos && fsio_write(w->fd, w->outbuf, ob.pos) < 0)
			return snap_error_errno(err, "cannot write '%s'", w->tmp.buf);
		if (mode == ZSTD_e_end ? r == 0 : in->pos == in->size)
			return 0;
	}
}

#define SIZE_UNKNOWN UINT64_MAX

/*
 * Starts a frame in a new temporary file with hdr (not hashed here).
 * size is the payload's length, or SIZE_UNKNOWN: then the frame does not
 * record its content size.  cctx is the odb's compression context to
 * use (created on first use): a chunk list has one apart, as it is
 * written while other objects are.
 */
static int writer_start(struct writer *w, struct odb *odb, ZSTD_CCtx **cctx,
			const char *hdr, size_t hlen, uint64_t size,
			struct strbuf *err)
{
	ZSTD_inBuffer in;
	struct strbuf dir = STRBUF_INIT;
	int ret;

	memset(w, 0, sizeof(*w));
	w->odb = odb;
	w->fd = -1;
	strbuf_init(&w->tmp, 0);
	ret = ensure_session(odb, err);
	if (ret < 0)
		return ret;

	if (!*cctx)
		*cctx = ZSTD_createCCtx();
	if (!*cctx)
		BUG("ZSTD_createCCtx failed");
	w->cctx = *cctx;
	ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, odb->store->level);
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 0);
	if (size != SIZE_UNKNOWN)
		ZSTD_CCtx_setPledgedSrcSize(w->cctx, hlen + size);
	/*
	 * A large object: let zstd compress on a thread of its own while this
	 * one reads and hashes.  The frame may differ; its content, and so the
	 * id, does not.
	 */
	if (size != SIZE_UNKNOWN && size >= ZSTD_WORKER_MIN) {
		ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, 1);
		/* Small jobs keep the worker's buffers, and so memory, small. */
		ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_jobSize, 2 << 20);
	}

	store_path(odb->store, &dir, "objects/tmp");
	w->fd = fsio_mktemp(dir.buf, "obj-", &w->tmp);
	if (w->fd < 0) {
		ret = snap_error_errno(err, "cannot create a temporary file in '%s'", dir.buf);
		strbuf_release(&dir);
		return ret;
	}
	strbuf_release(&dir);
	w->outcap = ZSTD_CStreamOutSize();
	w->outbuf = xmalloc_io(w->outcap);
	in.src = hdr;
	in.size = hlen;
	in.pos = 0;
	return writer_flush(w, &in, ZSTD_e_continue, err);
}

/* Starts an object of a known type and size; the id is hashed as it goes. */
static int writer_begin(struct writer *w, struct odb *odb,
			enum object_type type, uint64_t size, struct strbuf *err)
{
	char hdr[SNAP_HDR_MAX];
	size_t hlen = object_header_format(hdr, type, size);
	int ret = writer_start(w, odb, &odb->cctx, hdr, hlen, size, err);

	hash_object_start(&w->hash, type, size, NULL);
	return ret;
}

static int writer_feed(struct writer *w, const void *buf, size_t len,
		       struct strbuf *err)
{
	ZSTD_inBuffer in = { buf, len, 0 };

	hash_update(&w->hash, buf, len);
	return writer_flush(w, &in, ZSTD_e_continue, err);
}

/* Compresses bytes that are not part of the id (a chunk list's). */
static int writer_feed_raw(struct writer *w, const void *buf, size_t len,
			   struct strbuf *err)
{
	ZSTD_inBuffer in = { buf, len, 0 };

	return writer_flush(w, &in, ZSTD_e_continue, err);
}

static void writer_abort(struct writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp.len)
		unlink(w->tmp.buf);
	w->fd = -1;
	strbuf_release(&w->tmp);
	free(w->outbuf);
	w->outbuf = NULL;
}

/*
 * Makes objects/ab/ exist (durably unless sync is 0).  Returns 1 if it
 * made it, 0 if it was there.
 */
static int make_shard_sync(struct odb *odb, const char *hex, int sync,
			   struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	int ret = 0;

	store_path(odb->store, &dir, "objects/%.2s", hex);
	if (fsio_mkdir(dir.buf, 0777) == 0) {
		ret = 1;
		if (sync && fsio_fsync_parent(dir.buf) < 0)
			ret = snap_error_errno(err, "cannot sync '%s/objects'", odb->store->path);
	} else if (errno != EEXIST) {
		ret = snap_error_errno(err, "cannot create '%s'", dir.buf);
	}
	strbuf_release(&dir);
	return ret;
}

static int make_shard(struct odb *odb, const char *hex, struct strbuf *err)
{
	return make_shard_sync(odb, hex, 1, err);
}

static int make_shard_nosync(struct odb *odb, const char *hex, struct strbuf *err)
{
	return make_shard_sync(odb, hex, 0, err);
}

static int list_shard(struct odb *odb, unsigned shard, const char *prefix,
		      char ***names, size_t *nr, struct strbuf *err);
static void free_names(char **names, size_t nr);

static int cmp_name(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

/* 1 if a loose file for oid was there when its shard was first listed. */
static int loose_cached(struct odb *odb, const struct snap_oid *oid,
			struct strbuf *err)
{
	unsigned shard = oid->hash[0];
	char hex[SNAP_OID_HEXSZ + 1];

	if (!odb->loose_listed[shard]) {
		if (list_shard(odb, shard, "", &odb->loose[shard],
			       &odb->nr_loose[shard], err) < 0)
			return 1;	/* unknown: let the caller look */
		odb->loose_listed[shard] = 1;
	}
	oid_to_hex_r(hex, oid);
	return odb->nr_loose[shard] &&
	       bsearch(hex + 2, odb->loose[shard], odb->nr_loose[shard],
		       sizeof(char *), cmp_name) != NULL;
}

static void drop_loose_cache(struct odb *odb)
{
	unsigned i;

	for (i = 0; i < 256; i++) {
		if (odb->loose_listed[i])
			free_names(odb->loose[i], odb->nr_loose[i]);
		odb->loose[i] = NULL;
		odb->nr_loose[i] = 0;
		odb->loose_listed[i] = 0;
	}
}

/* Closes the batch's pack: durable, then visible, then readable here. */
/*
 * Makes the pack w durable and visible, and frees it.  During a batch the
 * caller's thread loads it later (workers may be running); called without
 * pack_lock, so that other workers go on packing meanwhile.
 */
static int finish_writer(struct odb *odb, struct pack_writer *w, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT, idx = STRBUF_INIT;
	int ret;

	store_path(odb->store, &dir, "objects/pack");
	ret = pack_writer_finish(w, dir.buf, &idx, err);
	if (ret == 0 && odb->bulk) {
		struct bulk *b = odb->bulk;
		pthread_mutex_lock(&b->pack_lock);
		ALLOC_GROW(b->done_packs, b->nr_done + 1, b->alloc_done);
		b->done_packs[b->nr_done++] = strbuf_detach(&idx, NULL);
		pthread_mutex_unlock(&b->pack_lock);
	} else if (ret == 0) {
		ret = add_pack(odb, idx.buf, err);
	}
	strbuf_release(&dir);
	strbuf_release(&idx);
	return ret;
}

/* Takes the pack being filled, if any, for finish_writer(). */
static struct pack_writer *take_pack(struct odb *odb)
{
	struct pack_writer *w;

	if (odb->bulk)
		pthread_mutex_lock(&odb->bulk->pack_lock);
	w = odb->pw;
	odb->pw = NULL;
	if (odb->bulk)
		pthread_mutex_unlock(&odb->bulk->pack_lock);
	return w;
}

static int finish_pack(struct odb *odb, struct strbuf *err)
{
	struct pack_writer *w = take_pack(odb);

	return w ? finish_writer(odb, w, err) : 0;
}

static int bulk_drain(struct odb *odb, struct strbuf *err);

/*
 * Makes the pending objects durable, then visible (see odb.h).  A chunk
 * list is pending while its chunks may still be queued for a pack: those
 * are packed and their pack made durable and visible first.
 */
static int flush_batch(struct odb *odb, struct strbuf *err)
{
	struct strbuf final = STRBUF_INIT, dir = STRBUF_INIT;
	int fd, ret = 0;
	size_t i;

	if (!odb->nr_pending)
		return 0;
	if (odb->bulk) {
		ret = bulk_drain(odb, err);
		if (ret < 0)
			return ret;
	}
	store_path(odb->store, &dir, "objects/tmp");
	fd = open(dir.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsio_syncfs(fd) < 0) {
		ret = snap_error_errno(err, "cannot sync the store '%s'", odb->store->path);
		goto out;
	}
	for (i = 0; i < odb->nr_pending; i++) {
		struct pending *p = &odb->pending[i];
		char hex[SNAP_OID_HEXSZ + 1];

		oid_to_hex_r(hex, &p->oid);
		ret = make_shard_nosync(odb, hex, err);
		if (ret < 0)
			goto out;
		ret = 0;	/* 1 said the shard was new */
		odb_loose_path(odb, &p->oid, &final);
		if ((p->replace || (fsio_link(p->tmp, final.buf) < 0 && errno != EEXIST)) &&
		    fsio_rename(p->tmp, final.buf) < 0) {
			ret = snap_error_errno(err, "cannot create '%s'", final.buf);
			goto out;
		}
	}
	if (fsio_syncfs(fd) < 0)
		ret = snap_error_errno(err, "cannot sync the store '%s'", odb->store->path);
out:
	if (fd >= 0)
		close(fd);
	drop_pending(odb);
	strbuf_release(&final);
	strbuf_release(&dir);
	return ret;
}

/*
 * Every write happens inside a write session, so that a concurrent gc
 * keeps what it writes and reuses (lib/session.h).  A porcelain script
 * holding a session of its own names it in $SNAP_SESSION.
 */
static int ensure_session(struct odb *odb, struct strbuf *err)
{
	const char *name = getenv("SNAP_SESSION");
	struct session *s;
	int ret;

	if (odb->in_session)
		return 0;
	if (name && *name) {
		ret = session_find(odb->store, name, &s, err);
		if (ret < 0)
			return ret;
		session_free(s);
		odb->in_session = 1;
		return 0;
	}
	ret = session_begin(odb->store, 0, NULL, 0, &odb->session, err);
	if (ret < 0)
		return ret;
	odb->in_session = 1;
	return 0;
}

static void bulk_fail(struct bulk *b, const struct strbuf *err)
{
	pthread_mutex_lock(&b->lock);
	if (!b->failed) {
		b->failed = 1;
		strbuf_addbuf(&b->err, err);
	}
	pthread_cond_broadcast(&b->room);
	pthread_mutex_unlock(&b->lock);
}

/* Compresses one object into a frame: header and payload, one zstd frame. */
static int compress_job(ZSTD_CCtx *cctx, int level, const struct job *j,
			struct strbuf *frame, struct strbuf *err)
{
	char hdr[SNAP_HDR_MAX];
	size_t hlen = object_header_format(hdr, j->type, j->len);
	ZSTD_inBuffer in = { hdr, hlen, 0 };
	ZSTD_outBuffer out;
	size_t r;

	strbuf_reset(frame);
	strbuf_grow(frame, ZSTD_compressBound(hlen + j->len));
	out.dst = frame->buf;
	out.size = frame->alloc - 1;
	out.pos = 0;
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setPledgedSrcSize(cctx, hlen + j->len);
	r = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_continue);
	if (!ZSTD_isError(r)) {
		ZSTD_inBuffer pin = { j->buf, j->len, 0 };
		r = ZSTD_compressStream2(cctx, &out, &pin, ZSTD_e_end);
		if (r != 0 && !ZSTD_isError(r))
			return snap_error(err, SNAP_EIO, "compression output overflow");
	}
	if (ZSTD_isError(r))
		return snap_error(err, SNAP_EIO, "compression failed: %s", ZSTD_getErrorName(r));
	strbuf_setlen(frame, out.pos);
	return 0;
}

/* Compresses a block's members into one frame. */
static int compress_block(ZSTD_CCtx *cctx, int level, const struct job *j,
			  struct strbuf *frame, struct strbuf *err)
{
	size_t r;

	strbuf_reset(frame);
	strbuf_grow(frame, ZSTD_compressBound(j->len));
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
	r = ZSTD_compress2(cctx, frame->buf, frame->alloc - 1, j->buf, j->len);
	if (ZSTD_isError(r))
		return snap_error(err, SNAP_EIO, "compression failed: %s", ZSTD_getErrorName(r));
	strbuf_setlen(frame, r);
	return 0;
}

static void free_job(struct job *j)
{
	if (!j)
		return;
	free(j->buf);
	free(j->members);
	free(j);
}

static void *bulk_worker(void *arg)
{
	struct bulk *b = arg;
	struct odb *odb = b->odb;
	struct strbuf frame = STRBUF_INIT, err = STRBUF_INIT;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();

	if (!cctx)
		BUG("ZSTD_createCCtx failed");
	for (;;) {
		struct job *j;
		int ret;

		pthread_mutex_lock(&b->lock);
		while (!b->head && !b->stop)
			pthread_cond_wait(&b->work, &b->lock);
		j = b->head;
		if (j) {
			b->head = j->next;
			if (!b->head)
				b->tail = NULL;
		}
		pthread_mutex_unlock(&b->lock);
		if (!j)
			break;

		strbuf_reset(&err);
		if (j->nr_members)
			ret = compress_block(cctx, odb->store->level, j, &frame, &err);
		else
			ret = compress_job(cctx, odb->store->level, j, &frame, &err);
		if (ret == 0) {
			struct pack_writer *full = NULL;

			pthread_mutex_lock(&b->pack_lock);
			if (!odb->pw) {
				struct strbuf dir = STRBUF_INIT;
				store_path(odb->store, &dir, "objects/tmp");
				ret = pack_writer_start(&odb->pw, dir.buf, &err);
				strbuf_release(&dir);
			}
			if (ret == 0 && j->nr_members)
				ret = pack_writer_add_block(odb->pw, j->members, j->nr_members,
							    frame.buf, frame.len, &err);
			else if (ret == 0)
				ret = pack_writer_add(odb->pw, &j->oid, j->type, j->len,
						      frame.buf, frame.len, &err);
			if (ret == 0 && pack_writer_size(odb->pw) >= PACK_TARGET_SIZE) {
				full = odb->pw;
				odb->pw = NULL;
			}
			pthread_mutex_unlock(&b->pack_lock);
			if (full)
				ret = finish_writer(odb, full, &err);
		}
		if (ret < 0)
			bulk_fail(b, &err);
		pthread_mutex_lock(&b->lock);
		b->queued -= j->len;
		b->inflight--;
		pthread_cond_broadcast(&b->room);
		pthread_mutex_unlock(&b->lock);
		free_job(j);
	}
	ZSTD_freeCCtx(cctx);
	strbuf_release(&frame);
	strbuf_release(&err);
	return NULL;
}

static void bulk_start(struct odb *odb)
{
	struct bulk *b = xcalloc(1, sizeof(*b));
	int i, n = odb->jobs;

	if (n <= 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 0 ? (int)cpus : 1;
	}
	if (n > BULK_THREADS_MAX)
		n = BULK_THREADS_MAX;
#ifdef M_MMAP_THRESHOLD
	/*
	 * Payloads up to PACK_OBJECT_MAX pass through malloc by the
	 * thousand: without this glibc maps and unmaps each large one, and
	 * the page faults and zeroing cost more than the compression.
	 */
	mallopt(M_MMAP_THRESHOLD, 2 * PACK_OBJECT_MAX + (1 << 20));
	mallopt(M_TRIM_THRESHOLD, 2 * BULK_QUEUE_MAX);
#endif
	b->odb = odb;
	strbuf_init(&b->err, 0);
	pthread_mutex_init(&b->lock, NULL);
	pthread_mutex_init(&b->pack_lock, NULL);
	pthread_cond_init(&b->work, NULL);
	pthread_cond_init(&b->room, NULL);
	odb->bulk = b;
	for (i = 0; i < n; i++) {
		if (pthread_create(&b->threads[i], NULL, bulk_worker, b))
			break;
		b->nr_threads++;
	}
	if (!b->nr_threads)
		BUG("cannot start a compression thread");
}

/* Drains the queue and stops the workers; loads the packs they finished. */
static int bulk_stop(struct odb *odb, struct strbuf *err)
{
	struct bulk *b = odb->bulk;
	size_t i;
	int ret = 0;

	if (!b)
		return 0;
	pthread_mutex_lock(&b->lock);
	b->stop = 1;
	pthread_cond_broadcast(&b->work);
	pthread_mutex_unlock(&b->lock);
	for (i = 0; i < (size_t)b->nr_threads; i++)
		pthread_join(b->threads[i], NULL);
	odb->bulk = NULL;
	free_job(b->block);	/* not sealed: the batch was abandoned */
	if (b->failed)
		ret = snap_error(err, SNAP_EIO, "%s", b->err.buf);
	for (i = 0; i < b->nr_done; i++) {
		if (ret == 0)
			ret = add_pack(odb, b->done_packs[i], err);
		free(b->done_packs[i]);
	}
	free(b->done_packs);
	free(b->ids);
	free(b->set);
	strbuf_release(&b->err);
	pthread_mutex_destroy(&b->lock);
	pthread_mutex_destroy(&b->pack_lock);
	pthread_cond_destroy(&b->work);
	pthread_cond_destroy(&b->room);
	free(b);
	return ret;
}

static int bulk_seal(struct odb *odb, struct strbuf *err);

/* Waits until everything queued is packed, then closes the pack. */
static int bulk_drain(struct odb *odb, struct strbuf *err)
{
	struct bulk *b = odb->bulk;
	int ret = bulk_seal(odb, err);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&b->lock);
	while (b->inflight && !b->failed)
		pthread_cond_wait(&b->room, &b->lock);
	if (b->failed)
		ret = snap_error(err, SNAP_EIO, "%s", b->err.buf);
	pthread_mutex_unlock(&b->lock);
	if (ret < 0)
		return ret;
	return finish_pack(odb, err);
}

/* Hands a job to the workers, waiting while the queue is full. */
static int bulk_push(struct odb *odb, struct job *j, struct strbuf *err)
{
	struct bulk *b = odb->bulk;

	pthread_mutex_lock(&b->lock);
	while (b->queued && b->queued + j->len > BULK_QUEUE_MAX && !b->failed)
		pthread_cond_wait(&b->room, &b->lock);
	if (b->failed) {
		int ret = snap_error(err, SNAP_EIO, "%s", b->err.buf);
		pthread_mutex_unlock(&b->lock);
		free_job(j);
		return ret;
	}
	b->queued += j->len;
	b->inflight++;
	if (b->tail)
		b->tail->next = j;
	else
		b->head = j;
	b->tail = j;
	/* A worker for every job: waking one only when the queue was empty
	 * left the others asleep while a busy one let it grow full. */
	pthread_cond_signal(&b->work);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/* Queues the block being filled, if any. */
static int bulk_seal(struct odb *odb, struct strbuf *err)
{
	struct job *j = odb->bulk->block;

	if (!j)
		return 0;
	odb->bulk->block = NULL;
	return bulk_push(odb, j, err);
}

/*
 * Queues a payload (ownership passes to the queue) under its known id.
 * A small blob or bundle joins the block being filled, which is queued once full.
 * Fails with the first error a worker met, if any.
 */
static int bulk_queue(struct odb *odb, const struct snap_oid *oid,
		      enum object_type type, char *buf, size_t len,
		      struct strbuf *err)
{
	struct bulk *b = odb->bulk;
	struct pack_member *m;
	struct job *j;

	bulk_remember(b, oid);
	if ((type == OBJ_BLOB || type == OBJ_BUNDLE) && len < PACK_BLOCK_MEMBER_MAX) {
		j = b->block;
		if (!j) {
			j = b->block = xcalloc(1, sizeof(*j));
			j->buf = xmalloc(BLOCK_BUF);
		}
		ALLOC_GROW(j->members, j->nr_members + 1, j->alloc_members);
		m = &j->members[j->nr_members++];
		m->oid = *oid;
		m->type = type;
		m->size = len;
		m->inner = (uint32_t)j->len;
		j->len += object_header_format(j->buf + j->len, type, len);
		memcpy(j->buf + j->len, buf, len);
		j->len += len;
		free(buf);
		return j->len >= PACK_BLOCK_TARGET ? bulk_seal(odb, err) : 0;
	}
	j = xcalloc(1, sizeof(*j));
	j->oid = *oid;
	j->type = type;
	j->buf = buf;
	j->len = len;
	return bulk_push(odb, j, err);
}

void odb_set_jobs(struct odb *odb, int jobs)
{
	odb->jobs = jobs;
}

void odb_batch_begin(struct odb *odb)
{
	size_t i;

	if (odb->batch++)
		return;
	for (i = 0; i < odb->nr_packs; i++)
		odb->packs[i].freshened = 0;
	bulk_start(odb);
}

/*
 * Touches a pack for gc, once per batch: one touch within the session
 * keeps the whole pack (lib/gc.h), so more would change nothing.  0 if
 * the touch failed (gc took the pack away).
 */
static int freshen_pack(struct odb *odb, struct pack *p)
{
	struct strbuf err = STRBUF_INIT;

	if (!p->freshened && ensure_session(odb, &err) == 0 &&
	    fsio_touch(p->pack_path) == 0)
		p->freshened = 1;
	strbuf_release(&err);
	return p->freshened;
}

/*
 * Whether a writer may keep the copy of oid the store has instead of
 * writing it again (odb.h, "Known bad"): not when every copy failed a
 * read in this process, nor, for a write outside a batch, when reading
 * it through now fails.  A copy that is not kept is written again; that
 * is noted, so that the id is written once, not by every later writer.
 */
static int reusable(struct odb *odb, const struct snap_oid *oid)
{
	struct odb_stream *st;
	char *buf;
	size_t got;
	int ret;

	if (!known_bad(odb, oid) && !odb->verify_writes)
		return 1;
	if (!known_bad(odb, oid)) {
		ret = stream_open(odb, oid, &st, NULL, NULL, 0, NULL);
		if (ret == 0) {
			buf = xmalloc(IO_BUF);
			do
				ret = odb_stream_read(st, buf, IO_BUF, &got, NULL);
			while (ret == 0 && got);
			free(buf);
			odb_stream_close(st);
		}
		if (ret == 0 || ret == SNAP_ENOTFOUND)
			return ret == 0;
	}
	pthread_mutex_lock(&odb->bad_lock);
	oidset_insert(&odb->bad, oid);
	oidset_insert(&odb->rewritten, oid);
	pthread_mutex_unlock(&odb->bad_lock);
	return 0;
}

int odb_freshen(struct odb *odb, const struct snap_oid *oid)
{
	struct strbuf err = STRBUF_INIT;
	size_t i, n = odb->nr_packs;
	int ret = 0;

	if (!odb->batch)
		BUG("odb_freshen outside a batch");
	if (bulk_has(odb->bulk, oid) || pending_has(odb, oid))
		return 1;
	if (known_bad(odb, oid))
		return 0;
	/* Neighbouring files are mostly in one pack: try the last one first. */
	for (i = 0; i < n; i++) {
		size_t k = (odb->freshen_hint + i) % n;
		if (pack_find(&odb->packs[k], oid) >= 0) {
			odb->freshen_hint = k;
			ret = freshen_pack(odb, &odb->packs[k]);
			goto out;
		}
	}
	if (loose_cached(odb, oid, &err) && ensure_session(odb, &err) == 0) {
		odb_loose_path(odb, oid, &odb->path);
		ret = fsio_touch(odb->path.buf) == 0;
	}
out:
	strbuf_release(&err);
	return ret;
}

/*
 * Writes the multi-pack index again once more than MIDX_UNCOVERED_MAX
 * packs are outside it, so that lookups stay one binary search between
 * gc runs.  Its failure only leaves lookups slower: a batch that stored
 * its objects has succeeded.
 */
#define MIDX_UNCOVERED_MAX 8
static void refresh_midx(struct odb *odb)
{
	size_t i, uncovered = 0;

	for (i = 0; i < odb->nr_packs; i++)
		uncovered += !odb->packs[i].in_midx;
	if (uncovered > MIDX_UNCOVERED_MAX)
		odb_write_midx(odb, NULL);
}

int odb_batch_end(struct odb *odb, struct strbuf *err)
{
	int ret;

	if (!odb->batch)
		BUG("odb_batch_end without odb_batch_begin");
	if (--odb->batch)
		return 0;
	drop_loose_cache(odb);
	ret = bulk_seal(odb, err);
	if (ret < 0)
		bulk_stop(odb, NULL);
	else
		ret = bulk_stop(odb, err);
	if (ret < 0) {
		drop_pending(odb);
		pack_writer_abort(odb->pw);
		odb->pw = NULL;
		return ret;
	}
	ret = finish_pack(odb, err);
	if (ret < 0) {
		drop_pending(odb);
		return ret;
	}
	ret = flush_batch(odb, err);
	if (ret == 0)
		refresh_midx(odb);
	return ret;
}

void odb_batch_abort(struct odb *odb)
{
	if (!odb->batch)
		BUG("odb_batch_abort without odb_batch_begin");
	if (!--odb->batch) {
		bulk_stop(odb, NULL);
		drop_loose_cache(odb);
		drop_pending(odb);
		pack_writer_abort(odb->pw);
		odb->pw = NULL;
	}
}

/*
 * In a batch, a payload that fits in a pack is hashed here and, when new,
 * queued for the compression threads.  Returns 1 when it handled the
 * payload (taking ownership of buf if owned), 0 to use the plain path.
 */
static int bulk_write(struct odb *odb, enum object_type type, const void *buf,
		      size_t len, int owned, struct snap_oid *oid, int *ret,
		      struct strbuf *err)
{
	struct pack *p;
	uint32_t pos;
	char *copy;
	int keep;

	if (!odb->bulk || len > PACK_OBJECT_MAX)
		return 0;
	hash_object_buf(type, buf, len, oid);
	*ret = 0;
	if (bulk_has(odb->bulk, oid) || pending_has(odb, oid))
		goto done;
	/*
	 * Present: freshen it for gc.  A pack or file gc has just taken away
	 * fails the touch, and the object is written anew.
	 */
	p = find_packed(odb, oid, &pos);
	keep = p ? reusable(odb, oid) : -1;
	if (keep > 0 && freshen_pack(odb, p))
		goto done;
	if (keep && loose_cached(odb, oid, err) && (keep > 0 || reusable(odb, oid))) {
		odb_loose_path(odb, oid, &odb->path);
		if (fsio_touch(odb->path.buf) == 0)
			goto done;
	}
	*ret = ensure_session(odb, err);
	if (*ret < 0)
		goto done;
	copy = owned ? (char *)buf : xmemdup(buf, len);
	*ret = bulk_queue(odb, oid, type, copy, len, err);
	return 1;
done:
	if (owned)
		free((void *)buf);
	return 1;
}

/*
 * Puts a finished frame in place under oid (or keeps the copy there is),
 * and frees the writer.
 */
static int writer_install(struct writer *w, const struct snap_oid *oid,
			  struct strbuf *err)
{
	struct odb *odb = w->odb;
	char hex[SNAP_OID_HEXSZ + 1];
	struct strbuf final = STRBUF_INIT;
	int ret = 0, made = 0, replace = 0;

	oid_to_hex_r(hex, oid);
	odb_loose_path(odb, oid, &final);
	if (pending_has(odb, oid) || bulk_has(odb->bulk, oid))
		goto out;
	/*
	 * Present already: keep it, and tell gc it is wanted now.  If the
	 * touch finds it gone (gc removed it since), write it after all.
	 */
	if (fsio_touch(final.buf) == 0 || (errno != ENOENT && access(final.buf, F_OK) == 0)) {
		if (reusable(odb, oid))
			goto out;
		replace = 1;	/* a loose copy that fails: this one replaces it */
	}
	if (odb->batch) {
		ret = fsio_close(w->fd);
		w->fd = -1;
		if (ret < 0) {
			ret = snap_error_errno(err, "cannot write '%s'", w->tmp.buf);
			goto out;
		}
		pending_add(odb, oid, w->tmp.buf, replace);
		strbuf_reset(&w->tmp);	/* now owned by the batch */
		if (odb->nr_pending >= SNAP_BATCH_MAX)
			ret = flush_batch(odb, err);
		goto out;
	}
	if (fsio_fsync(w->fd) < 0) {
		ret = snap_error_errno(err, "cannot sync '%s'", w->tmp.buf);
		goto out;
	}
	ret = fsio_close(w->fd);
	w->fd = -1;
	if (ret < 0) {
		ret = snap_error_errno(err, "cannot write '%s'", w->tmp.buf);
		goto out;
	}
	made = make_shard(odb, hex, err);
	if (made < 0) {
		ret = made;
		goto out;
	}
	ret = 0;
	if (replace) {
		if (fsio_rename(w->tmp.buf, final.buf) < 0) {
			ret = snap_error_errno(err, "cannot replace '%s'", final.buf);
			goto out;
		}
	} else if (fsio_link(w->tmp.buf, final.buf) < 0 && errno != EEXIST) {
		if (errno != EPERM && errno != ENOTSUP && errno != EXDEV) {
			ret = snap_error_errno(err, "cannot create '%s'", final.buf);
			goto undo;
		}
		/* No hard links here: rename (the same bytes if it raced). */
		if (fsio_rename(w->tmp.buf, final.buf) < 0) {
			ret = snap_error_errno(err, "cannot create '%s'", final.buf);
			goto undo;
		}
	}
	if (fsio_fsync_parent(final.buf) < 0)
		ret = snap_error_errno(err, "cannot sync the directory of '%s'", final.buf);
	goto out;
undo:
	if (made) {
		/* Leave the store as it was: the shard directory goes too. */
		char *slash = strrchr(final.buf, '/');
		*slash = '\0';
		rmdir(final.buf);
	}
out:
	strbuf_release(&final);
	writer_abort(w);
	return ret;
}

static int writer_end(struct writer *w, struct strbuf *err)
{
	ZSTD_inBuffer in = { NULL, 0, 0 };

	return writer_flush(w, &in, ZSTD_e_end, err);
}

static int writer_finish(struct writer *w, struct snap_oid *oid,
			 struct strbuf *err)
{
	int ret = writer_end(w, err);

	if (ret < 0) {
		writer_abort(w);
		return ret;
	}
	hash_final(&w->hash, oid);
	return writer_install(w, oid, err);
}

/*
 * A write outside a batch is one object a user asked for (hash-object -w,
 * mktree, mksnapshot): what the store has of it is read through before
 * it is kept (reusable()), so that writing it again repairs a bad copy.
 */
static int verify_begin(struct odb *odb)
{
	if (odb->batch || odb->verify_writes)
		return 0;
	odb->verify_writes = 1;
	return 1;
}

static int verify_end(struct odb *odb, int began, int ret)
{
	if (began)
		odb->verify_writes = 0;
	return ret;
}

static int write_buf(struct odb *odb, enum object_type type, const void *buf,
		     size_t len, struct snap_oid *oid, struct strbuf *err);
static int write_fd(struct odb *odb, enum object_type type, int fd,
		    uint64_t size, int whole, const char *what, struct snap_oid *oid,
		    struct strbuf *err);

int odb_write_buf(struct odb *odb, enum object_type type, const void *buf,
		  size_t len, struct snap_oid *oid, struct strbuf *err)
{
	int began = verify_begin(odb);

	return verify_end(odb, began, write_buf(odb, type, buf, len, oid, err));
}

int odb_write_fd(struct odb *odb, enum object_type type, int fd,
		 uint64_t size, const char *what, struct snap_oid *oid,
		 struct strbuf *err)
{
	int began = verify_begin(odb);

	return verify_end(odb, began, write_fd(odb, type, fd, size, 1, what, oid, err));
}

int odb_write_fd_prefix(struct odb *odb, enum object_type type, int fd,
			uint64_t size, const char *what, struct snap_oid *oid,
			struct strbuf *err)
{
	int began = verify_begin(odb);

	return verify_end(odb, began, write_fd(odb, type, fd, size, 0, what, oid, err));
}

int odb_write_owned(struct odb *odb, enum object_type type, char *buf,
		    size_t len, struct snap_oid *oid, struct strbuf *err)
{
	int ret;

	if (bulk_write(odb, type, buf, len, 1, oid, &ret, err))
		return ret;
	ret = odb_write_buf(odb, type, buf, len, oid, err);
	free(buf);
	return ret;
}

static int write_buf(struct odb *odb, enum object_type type, const void *buf,
		     size_t len, struct snap_oid *oid, struct strbuf *err)
{
	struct writer w;
	int ret;

	if (bulk_write(odb, type, buf, len, 0, oid, &ret, err))
		return ret;

	ret = writer_begin(&w, odb, type, len, err);
	if (ret == 0)
		ret = writer_feed(&w, buf, len, err);
	if (ret == 0)
		return writer_finish(&w, oid, err);
	writer_abort(&w);
	return ret;
}

static int feed_writer(void *data, const void *buf, size_t len, struct strbuf *err)
{
	return writer_feed(data, buf, len, err);
}

/*
 * The input of a chunked write, read around holes: where the filesystem
 * reports a hole (lseek SEEK_DATA, SEEK_HOLE), its zeros are given
 * without a read, so a 10 GiB file with 1 MiB of data costs the hashing
 * of its zeros but not 10 GiB of reads.  Input that cannot seek so (a
 * pipe, a filesystem without it) is read plainly.  The bytes given are
 * the same either way.
 */
struct hole_reader {
	int fd;
	int plain;		/* read everything */
	uint64_t pos;		/* offset of the next byte to give */
	uint64_t data_end;	/* [pos, data_end) is data, to read */
	uint64_t hole_end;	/* [pos, hole_end) is a hole, zeros */
};

/* Finds what lies at r->pos: a hole, or data up to the next one. */
static void hole_probe(struct hole_reader *r)
{
	off_t d = lseek(r->fd, (off_t)r->pos, SEEK_DATA), h;
	struct stat st;

	if (d < 0 && errno == ENXIO && fstat(r->fd, &st) == 0) {
		/* No data from pos on: a hole up to the end of the file. */
		if ((uint64_t)st.st_size > r->pos)
			r->hole_end = (uint64_t)st.st_size;
		else
			r->data_end = UINT64_MAX;	/* the end: a read says so */
	} else if (d < 0) {
		r->plain = 1;
	} else if ((uint64_t)d > r->pos) {
		r->hole_end = (uint64_t)d;
	} else if ((h = lseek(r->fd, (off_t)r->pos, SEEK_HOLE)) < 0 || (uint64_t)h <= r->pos) {
		r->plain = 1;
	} else {
		r->data_end = (uint64_t)h;
	}
	if (lseek(r->fd, (off_t)r->pos, SEEK_SET) < 0)
		r->plain = 1;
}

/* Reads exactly want bytes (want <= what is left of the input). */
static int read_input(struct hole_reader *r, unsigned char *buf, size_t want, uint64_t size,
		      const char *what, struct strbuf *err)
{
	while (want) {
		size_t n = want;
		long long got;

		if (!r->plain && r->pos >= r->data_end && r->pos >= r->hole_end)
			hole_probe(r);
		if (!r->plain && r->pos < r->hole_end) {
			if (r->hole_end - r->pos < n)
				n = (size_t)(r->hole_end - r->pos);
			memset(buf, 0, n);
			r->pos += n;
			buf += n;
			want -= n;
			if (r->pos == r->hole_end && lseek(r->fd, (off_t)r->pos, SEEK_SET) < 0)
				return snap_error_errno(err, "cannot read '%s'", what);
			continue;
		}
		if (!r->plain && r->data_end - r->pos < n)
			n = (size_t)(r->data_end - r->pos);
		got = read_full(r->fd, buf, n);
		if (got < 0)
			return snap_error_errno(err, "cannot read '%s'", what);
		r->pos += (uint64_t)got;
		if ((size_t)got < n)
			return snap_error(err, SNAP_EINVAL,
					  "'%s' shrank while it was read (%llu of %llu bytes)",
					  what, (unsigned long long)r->pos, (unsigned long long)size);
		buf += n;
		want -= n;
	}
	return 0;
}

/*
 * Stores a large blob chunked (docs/FORMAT.md, "Chunked blobs").  Each
 * chunk is a blob of its own, queued in a batch like any small object;
 * the chunk list is compressed into a temporary file as the input is read
 * and cut, while the whole blob's id is hashed, and joins the batch's
 * pending objects under that id.  The batch makes it visible only after
 * the packs holding its chunks are durable.
 */
static int write_chunked(struct odb *odb, int fd, uint64_t size, int check_end,
			 const char *what, struct snap_oid *oid, struct strbuf *err)
{
	struct chunker ch;
	struct snap_hash_ctx whole;
	struct writer list;
	char hdr[SNAP_HDR_MAX], line[CHUNK_LIST_LINE_MAX + 1];
	size_t cap = 2 * CHUNK_MAX, have = 0, start = 0;
	unsigned char *buf = xmalloc_io(cap);
	uint64_t left = size;
	struct hole_reader in = { fd, 0, 0, 0, 0 };
	struct pack *p;
	uint32_t pos;
	int ret;

	chunker_init(&ch, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX);
	odb_batch_begin(odb);
	ret = writer_start(&list, odb, &odb->list_cctx, hdr, chunk_list_header_format(hdr, size),
			   SIZE_UNKNOWN, err);
	hash_object_start(&whole, OBJ_BLOB, size, NULL);
	while (ret == 0) {
		struct snap_oid chunk;
		size_t n;

		if (have - start < CHUNK_MAX && left) {
			memmove(buf, buf + start, have - start);
			have -= start;
			start = 0;
			n = cap - have < left ? cap - have : (size_t)left;
			ret = read_input(&in, buf + have, n, size, what, err);
			if (ret < 0)
				break;
			have += n;
			left -= n;
		}
		if (start == have)
			break;
		n = chunker_cut(&ch, buf + start, have - start);
		hash_update(&whole, buf + start, n);
		/* Copied only when new: a chunk stored already costs a lookup. */
		ret = odb_write_buf(odb, OBJ_BLOB, buf + start, n, &chunk, err);
		if (ret == 0)
			ret = writer_feed_raw(&list, line, chunk_list_line_format(line, &chunk, n), err);
		start += n;
	}
	/* Past the last hole read around, the offset may lag: set it. */
	if (ret == 0 && !in.plain && lseek(fd, (off_t)in.pos, SEEK_SET) < 0)
		ret = snap_error_errno(err, "cannot read '%s'", what);
	if (ret == 0 && check_end && read_full(fd, buf, 1) > 0)
		ret = snap_error(err, SNAP_EINVAL, "'%s' grew while it was read (past %llu bytes)",
				 what, (unsigned long long)size);
	free(buf);
	if (ret == 0)
		ret = writer_end(&list, err);
	if (ret < 0) {
		writer_abort(&list);
		odb_batch_abort(odb);
		return ret;
	}
	hash_final(&whole, oid);
	/* The blob stored whole in a pack already: that copy serves. */
	if ((p = find_packed(odb, oid, &pos)) && reusable(odb, oid) &&
	    fsio_touch(p->pack_path) == 0)
		writer_abort(&list);
	else
		ret = writer_install(&list, oid, err);
	if (ret < 0) {
		odb_batch_abort(odb);
		return ret;
	}
	return odb_batch_end(odb, err);
}

static int write_fd(struct odb *odb, enum object_type type, int fd,
		    uint64_t size, int whole, const char *what, struct snap_oid *oid,
		    struct strbuf *err)
{
	struct writer w;
	int ret;

	if (type == OBJ_BLOB && size > CHUNK_THRESHOLD)
		return write_chunked(odb, fd, size, whole, what, oid, err);
	if (odb->bulk && size <= PACK_OBJECT_MAX) {
		/* Small enough for a pack: read it whole, in place, and queue it. */
		char *mem = xmalloc_io((size_t)size + 1);
		long long n = read_full(fd, mem, (size_t)size + (whole ? 1 : 0));

		if (n != (long long)size) {
			free(mem);
			if (n < 0)
				return snap_error_errno(err, "cannot read '%s'", what);
			if (n < (long long)size)
				return snap_error(err, SNAP_EINVAL,
						  "'%s' shrank while it was read (%lld of %llu bytes)",
						  what, n, (unsigned long long)size);
			return snap_error(err, SNAP_EINVAL,
					  "'%s' grew while it was read (past %llu bytes)",
					  what, (unsigned long long)size);
		}
		return odb_write_owned(odb, type, mem, (size_t)size, oid, err);
	}
	ret = writer_begin(&w, odb, type, size, err);
	if (ret == 0)
		ret = read_fd_exactly(fd, size, whole, what, feed_writer, &w, err);
	if (ret == 0)
		return writer_finish(&w, oid, err);
	writer_abort(&w);
	return ret;
}

/* ---- listing ---- */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Lists the loose object names (62 hex digits) of shard 0..255 that start
 * with prefix (may be empty), sorted.  Missing shards list nothing.
 */
static int list_shard(struct odb *odb, unsigned shard, const char *prefix,
		      char ***names, size_t *nr, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	size_t alloc = 0, plen = strlen(prefix);
	struct dirent *de;
	DIR *d;

	*names = NULL;
	*nr = 0;
	store_path(odb->store, &dir, "objects/%02x", shard);
	d = opendir(dir.buf);
	if (!d) {
		int ret = errno == ENOENT ? 0
			: snap_error_errno(err, "cannot read '%s'", dir.buf);
		strbuf_release(&dir);
		return ret;
	}
	while ((de = readdir(d))) {
		if (strlen(de->d_name) != SNAP_OID_HEXSZ - 2 ||
		    !is_hex(de->d_name, SNAP_OID_HEXSZ - 2) ||
		    strncmp(de->d_name, prefix, plen))
			continue;
		ALLOC_GROW(*names, *nr + 1, alloc);
		(*names)[(*nr)++] = xstrdup(de->d_name);
	}
	closedir(d);
	strbuf_release(&dir);
	QSORT(*names, *nr, cmp_names);
	return 0;
}

static void free_names(char **names, size_t nr)
{
	while (nr)
		free(names[--nr]);
	free(names);
}

static void shard_oid(struct snap_oid *oid, unsigned shard, const char *rest)
{
	char hex[SNAP_OID_HEXSZ + 1];

	hex[0] = "0123456789abcdef"[shard >> 4];
	hex[1] = "0123456789abcdef"[shard & 15];
	memcpy(hex + 2, rest, SNAP_OID_HEXSZ - 2);
	hex[SNAP_OID_HEXSZ] = '\0';
	if (oid_from_hex(oid, hex) < 0)
		BUG("bad loose object name");
}

static int cmp_oid(const void *a, const void *b)
{
	return oid_cmp(a, b);
}

int odb_for_each(struct odb *odb, odb_each_fn fn, void *data,
		 struct strbuf *err)
{
	struct snap_oid *all = NULL;
	size_t nr = 0, alloc = 0, i, j;
	unsigned shard;
	int ret = 0;

	for (i = 0; i < odb->nr_packs; i++) {
		const struct pack *p = &odb->packs[i];
		ALLOC_GROW(all, nr + p->nr, alloc);
		for (j = 0; j < p->nr; j++)
			pack_oid(p, (uint32_t)j, &all[nr++]);
	}
	for (shard = 0; shard < 256 && ret == 0; shard++) {
		char **names;
		size_t nn;

		ret = list_shard(odb, shard, "", &names, &nn, err);
		if (ret < 0)
			break;
		ALLOC_GROW(all, nr + nn, alloc);
		for (i = 0; i < nn; i++)
			shard_oid(&all[nr++], shard, names[i]);
		free_names(names, nn);
	}
	if (ret == 0)
		QSORT(all, nr, cmp_oid);
	for (i = 0; ret == 0 && i < nr; i++)
		if (!i || oid_cmp(&all[i - 1], &all[i]))
			ret = fn(&all[i], data);
	free(all);
	return ret;
}

int odb_for_each_loose(struct odb *odb, odb_each_fn fn, void *data,
		       struct strbuf *err)
{
	unsigned shard;

	for (shard = 0; shard < 256; shard++) {
		char **names;
		size_t nr, i;
		int ret = list_shard(odb, shard, "", &names, &nr, err);

		if (ret < 0)
			return ret;
		for (i = 0; i < nr && ret == 0; i++) {
			struct snap_oid oid;
			shard_oid(&oid, shard, names[i]);
			ret = fn(&oid, data);
		}
		free_names(names, nr);
		if (ret)
			return ret;
	}
	return 0;
}

int odb_compress_block(struct odb *odb, const void *buf, size_t len,
		       struct strbuf *frame, struct strbuf *err)
{
	struct job j;

	if (!odb->cctx && !(odb->cctx = ZSTD_createCCtx()))
		BUG("ZSTD_createCCtx failed");
	memset(&j, 0, sizeof(j));
	j.buf = (char *)buf;
	j.len = len;
	return compress_block(odb->cctx, odb->store->level, &j, frame, err);
}

uint64_t odb_locality(struct odb *odb, const struct snap_oid *oid)
{
	struct pack_record r;
	struct pack *p;
	uint32_t pos;

	p = find_packed(odb, oid, &pos);
	if (!p)
		return 0;
	pack_record(p, pos, &r);
	return ((uint64_t)(p - odb->packs) + 1) << 40 | (r.offset & ((1ull << 40) - 1));
}

uint64_t odb_stored_size(struct odb *odb, const struct snap_oid *oid, uint64_t *frame)
{
	struct strbuf path = STRBUF_INIT;
	struct pack_record r;
	struct stat st;
	struct pack *p;
	uint32_t pos;
	uint64_t n = 0;

	*frame = 0;
	if ((p = find_packed(odb, oid, &pos))) {
		pack_record(p, pos, &r);
		if (r.shared)
			*frame = odb_locality(odb, oid);
		return r.length;
	}
	odb_loose_path(odb, oid, &path);
	if (lstat(path.buf, &st) == 0 && S_ISREG(st.st_mode))
		n = (uint64_t)st.st_size;
	strbuf_release(&path);
	return n;
}

size_t odb_nr_packs(struct odb *odb)
{
	return odb->nr_packs;
}

struct pack *odb_pack(struct odb *odb, size_t i)
{
	return &odb->packs[i];
}

int odb_reload_packs(struct odb *odb, struct strbuf *err)
{
	int ret;

	drop_midx(odb);
	while (odb->nr_packs)
		pack_close(&odb->packs[--odb->nr_packs]);
	drop_damage(odb, 0);
	ret = load_packs(odb, err);
	if (ret == 0)
		load_midx(odb);
	return ret;
}

int odb_write_midx(struct odb *odb, struct strbuf *err)
{
	struct strbuf packdir = STRBUF_INIT, tmpdir = STRBUF_INIT;
	int ret;

	store_path(odb->store, &packdir, "objects/pack");
	store_path(odb->store, &tmpdir, "objects/tmp");
	drop_midx(odb);
	ret = midx_write(packdir.buf, tmpdir.buf, odb->packs, odb->nr_packs, err);
	load_midx(odb);
	strbuf_release(&packdir);
	strbuf_release(&tmpdir);
	return ret;
}

int odb_verify_midx(struct odb *odb, struct strbuf *err)
{
	uint32_t i;

	if (!odb->have_midx)
		return 0;
	for (i = 0; i < odb->midx.nr; i++) {
		uint32_t mp, pos;
		const struct pack *p;

		midx_entry(&odb->midx, i, &mp, &pos);
		p = &odb->packs[odb->midx_pack[mp]];
		if (pos >= p->nr || memcmp(p->ids + (size_t)pos * 32, odb->midx.ids + (size_t)i * 32, 32))
			return snap_error(err, SNAP_ECORRUPT,
					  "multi-pack index entry %u does not match pack '%s'",
					  i, p->idx_path);
	}
	return 0;
}

int odb_resolve_prefix(struct odb *odb, const char *hex, size_t len,
		       struct snap_oid *oid, struct strbuf *err)
{
	char lower[SNAP_OID_HEXSZ + 1];
	char **names;
	size_t nr, i, matches;
	unsigned shard;
	int ret;

	if (len < SNAP_OID_MINPREFIX || len > SNAP_OID_HEXSZ || !is_hex(hex, len))
		return snap_error(err, SNAP_EINVAL,
				  "'%.*s' is not an object name (4 to 64 hex digits)",
				  (int)(len > 80 ? 80 : len), hex);
	for (i = 0; i < len; i++)
		lower[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
	lower[len] = '\0';
	if (len == SNAP_OID_HEXSZ) {
		oid_from_hex(oid, lower);
		/* A name the user gave: worth a look at packs gc made since. */
		if (odb_has_now(odb, oid))
			return 0;
		return snap_error(err, SNAP_ENOTFOUND, "object '%s' not found", lower);
	}
	shard = (unsigned)strtoul((char[]){ lower[0], lower[1], 0 }, NULL, 16);
	ret = list_shard(odb, shard, lower + 2, &names, &nr, err);
	if (ret < 0)
		return ret;
	/* The same object may be loose and in several packs: count ids. */
	{
		struct snap_oid *found = NULL;
		size_t nf = 0, af = 0;

		ALLOC_GROW(found, nr, af);
		for (i = 0; i < nr; i++)
			shard_oid(&found[nf++], shard, names[i]);
		for (i = 0; i < odb->nr_packs; i++) {
			uint32_t first, count, k;

			pack_prefix_range(&odb->packs[i], lower, len, &first, &count);
			ALLOC_GROW(found, nf + count, af);
			for (k = 0; k < count; k++)
				pack_oid(&odb->packs[i], first + k, &found[nf++]);
		}
		QSORT(found, nf, cmp_oid);
		for (i = 0, matches = 0; i < nf; i++)
			if (!i || oid_cmp(&found[i - 1], &found[i]))
				matches++;
		if (nf)
			*oid = found[0];
		free(found);
	}
	if (matches == 0)
		ret = snap_error(err, SNAP_ENOTFOUND, "no object matches '%s'", lower);
	else if (matches > 1)
		ret = snap_error(err, SNAP_EAMBIGUOUS,
				 "short object name '%s' is ambiguous (%zu objects match)",
				 lower, matches);
	free_names(names, nr);
	return ret;
}

int odb_has_now(struct odb *odb, const struct snap_oid *oid)
{
	uint32_t pos;

	return odb_has(odb, oid) || late_find(odb, oid, &pos) != NULL;
}
