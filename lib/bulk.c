/*
 * Batches (odb.h): write sessions, the objects pending as loose files, the
 * queue of objects to compress, its worker threads and the batch's pack.
 */
#include "odb-internal.h"
#include "error.h"
#include "fsio.h"
#include "session.h"
#include "util.h"
#include "workqueue.h"
#include "storefs.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * The compression stage of a batch: the caller's thread hashes each object
 * and drops those already stored; the workqueue's threads compress the
 * rest and append them to the batch's pack.  A queue bounded by bytes
 * keeps memory flat.
 */
#define BULK_QUEUE_MAX (16u << 20)

struct job {
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
	struct workqueue *wq;		/* compressors; it keeps the first failure */
	struct job *block;		/* the block being filled, not queued */
	pthread_mutex_t pack_lock;	/* odb->pw and done_packs */
	char **done_packs;		/* indexes of packs finished meanwhile */
	size_t nr_done, alloc_done;
	/* ids queued in this batch; the caller's thread alone uses them */
	struct oidset ids;
};

void drop_pending(struct odb *odb)
{
	size_t i;

	for (i = 0; i < odb->pending.nr; i++) {
		struct pending *p = oidmap_at(&odb->pending, i);

		storefs_unlink(p->tmp);
		free(p->tmp);
	}
	oidmap_clear(&odb->pending);
}

int pending_has(const struct odb *odb, const struct snap_oid *oid)
{
	return oidmap_get(&odb->pending, oid) != NULL;
}

void pending_add(struct odb *odb, const struct snap_oid *oid, const char *tmp,
		 int replace)
{
	int added;
	struct pending *p = oidmap_put(&odb->pending, oid, &added);

	if (!added) {
		/* the same object written twice: the later copy stands */
		storefs_unlink(p->tmp);
		free(p->tmp);
	}
	p->tmp = xstrdup(tmp);
	p->replace = replace;
}

int bulk_has(const struct bulk *b, const struct snap_oid *oid)
{
	return b && oidset_contains(&b->ids, oid);
}

static void bulk_remember(struct bulk *b, const struct snap_oid *oid)
{
	oidset_insert(&b->ids, oid);
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

/*
 * Every write happens inside a write session, so that a concurrent gc
 * keeps what it writes and reuses (lib/session.h).  A porcelain script
 * holding a session of its own names it in $SNAP_SESSION.
 */
int ensure_session(struct odb *odb, struct strbuf *err)
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

/* Compresses one object into a frame: header and payload, one zstd frame. */
static int compress_job(struct zio_cctx *cctx, int level, const struct job *j,
			struct strbuf *frame, struct strbuf *err)
{
	char hdr[SNAP_HDR_MAX];
	size_t hlen = object_header_format(hdr, j->type, j->len);

	return zio_compress_object(cctx, level, hdr, hlen, j->buf, j->len, frame, err);
}

static void free_job(struct job *j)
{
	if (!j)
		return;
	free(j->buf);
	free(j->members);
	free(j);
}

/* A compressor's own: its zstd context and frame buffer. */
struct compressor {
	struct zio_cctx *cctx;
	struct strbuf frame;
};

static void *compressor_new(void *data)
{
	struct compressor *c = xcalloc(1, sizeof(*c));

	(void)data;
	c->cctx = zio_cctx_new();
	strbuf_init(&c->frame, 0);
	return c;
}

static void compressor_free(void *local, void *data)
{
	struct compressor *c = local;

	(void)data;
	zio_cctx_free(c->cctx);
	strbuf_release(&c->frame);
	free(c);
}

/* A job on a worker: compressed, then appended to the batch's pack. */
static int pack_job(void *job, void *local, void *data, struct strbuf *err)
{
	struct job *j = job;
	struct compressor *c = local;
	struct bulk *b = data;
	struct odb *odb = b->odb;
	struct pack_writer *full = NULL;
	int ret;

	if (j->nr_members)
		ret = zio_compress(c->cctx, odb->store->level, j->buf, j->len, &c->frame, err);
	else
		ret = compress_job(c->cctx, odb->store->level, j, &c->frame, err);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&b->pack_lock);
	if (!odb->pw) {
		struct strbuf dir = STRBUF_INIT;

		store_path(odb->store, &dir, "objects/tmp");
		ret = pack_writer_start(&odb->pw, dir.buf, err);
		strbuf_release(&dir);
	}
	if (ret == 0 && j->nr_members)
		ret = pack_writer_add_block(odb->pw, j->members, j->nr_members,
					    c->frame.buf, c->frame.len, err);
	else if (ret == 0)
		ret = pack_writer_add(odb->pw, &j->oid, j->type, j->len,
				      c->frame.buf, c->frame.len, err);
	if (ret == 0 && pack_writer_size(odb->pw) >= PACK_TARGET_SIZE) {
		full = odb->pw;
		odb->pw = NULL;
	}
	pthread_mutex_unlock(&b->pack_lock);
	if (full)
		ret = finish_writer(odb, full, err);
	return ret;
}

static void release_job(void *job, int ran, void *data)
{
	(void)ran;
	(void)data;
	free_job(job);
}

static void bulk_start(struct odb *odb)
{
	struct bulk *b = xcalloc(1, sizeof(*b));
	struct workqueue_opts opts;

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
	pthread_mutex_init(&b->pack_lock, NULL);
	memset(&opts, 0, sizeof(opts));
	opts.jobs = odb->jobs;
	opts.stop_on_failure = 1;
	opts.max_cost = BULK_QUEUE_MAX;
	opts.run = pack_job;
	opts.release = release_job;
	opts.thread_init = compressor_new;
	opts.thread_release = compressor_free;
	opts.data = b;
	odb->bulk = b;
	b->wq = workqueue_start(&opts);
}

/* Drains the queue and stops the workers; loads the packs they finished. */
int bulk_stop(struct odb *odb, struct strbuf *err)
{
	struct bulk *b = odb->bulk;
	struct strbuf why = STRBUF_INIT;
	size_t i;
	int ret = 0;

	if (!b)
		return 0;
	ret = workqueue_finish(b->wq, &why);
	if (ret < 0 && err)
		snap_error(err, ret, "%s", why.buf);
	strbuf_release(&why);
	odb->bulk = NULL;
	free_job(b->block);	/* not sealed: the batch was abandoned */
	for (i = 0; i < b->nr_done; i++) {
		if (ret == 0)
			ret = add_pack(odb, b->done_packs[i], err);
		free(b->done_packs[i]);
	}
	free(b->done_packs);
	oidset_clear(&b->ids);
	pthread_mutex_destroy(&b->pack_lock);
	free(b);
	return ret;
}

/* Hands a job to the workers, waiting while the queue is full. */
static int bulk_push(struct odb *odb, struct job *j, struct strbuf *err)
{
	return workqueue_submit(odb->bulk->wq, j, j->len, err);
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

/* Waits until everything queued is packed, then closes the pack. */
static int bulk_drain(struct odb *odb, struct strbuf *err)
{
	struct bulk *b = odb->bulk;
	int ret = bulk_seal(odb, err);

	if (ret == 0)
		ret = workqueue_wait(b->wq, err);
	if (ret < 0)
		return ret;
	return finish_pack(odb, err);
}

/*
 * Makes the pending objects durable, then visible (see odb.h).  A chunk
 * list is pending while its chunks may still be queued for a pack: those
 * are packed and their pack made durable and visible first.
 */
int flush_batch(struct odb *odb, struct strbuf *err)
{
	struct strbuf final = STRBUF_INIT, dir = STRBUF_INIT;
	int fd, ret = 0;
	size_t i;

	if (!odb->pending.nr)
		return 0;
	if (odb->bulk) {
		ret = bulk_drain(odb, err);
		if (ret < 0)
			return ret;
	}
	store_path(odb->store, &dir, "objects/tmp");
	fd = storefs_open_dir(dir.buf);
	if (fd < 0 || fsio_syncfs(fd) < 0) {
		ret = snap_error_errno(err, "cannot sync the store '%s'", odb->store->path);
		goto out;
	}
	for (i = 0; i < odb->pending.nr; i++) {
		struct pending *p = oidmap_at(&odb->pending, i);
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

int odb_freshen(struct odb *odb, const struct snap_oid *oid)
{
	struct strbuf err = STRBUF_INIT;
	struct pack *p = NULL;
	enum odb_where where;
	int ret = 0;

	if (!odb->batch)
		BUG("odb_freshen outside a batch");
	where = odb_locate(odb, oid, LOCATE_PACKS_HINTED | LOCATE_LOOSE_LISTED, &p, &err);
	if (where == ODB_PENDING || where == ODB_QUEUED)
		ret = 1;
	else if (known_bad(odb, oid))
		ret = 0;
	else if (where == ODB_PACKED)
		ret = freshen_pack(odb, p);
	else if (where == ODB_LOOSE && ensure_session(odb, &err) == 0) {
		odb_loose_path(odb, oid, &odb->path);
		ret = fsio_touch(odb->path.buf) == 0;
	}
	strbuf_release(&err);
	return ret;
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
int bulk_write(struct odb *odb, enum object_type type, const void *buf,
	       size_t len, int owned, struct snap_oid *oid, int *ret,
	       struct strbuf *err)
{
	enum odb_where where;
	struct pack *p = NULL;
	char *copy;
	int keep;

	if (!odb->bulk || len > PACK_OBJECT_MAX)
		return 0;
	hash_object_buf(type, buf, len, oid);
	*ret = 0;
	where = odb_locate(odb, oid, LOCATE_PACKS | LOCATE_LOOSE_LISTED, &p, err);
	if (where == ODB_PENDING || where == ODB_QUEUED)
		goto done;
	/*
	 * Present: freshen it for gc.  A pack or file gc has just taken away
	 * fails the touch, and the object is written anew; a pack that fails
	 * it leaves the loose file to try.
	 */
	keep = where == ODB_ABSENT ? -1 : reusable(odb, oid);
	if (where == ODB_PACKED && keep > 0) {
		if (freshen_pack(odb, p))
			goto done;
		where = odb_locate(odb, oid, LOCATE_LOOSE_LISTED, NULL, err);
	}
	if (where == ODB_LOOSE && keep) {
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

int odb_compress_block(struct odb *odb, const void *buf, size_t len,
		       struct strbuf *frame, struct strbuf *err)
{
	if (!odb->cctx)
		odb->cctx = zio_cctx_new();
	return zio_compress(odb->cctx, odb->store->level, buf, len, frame, err);
}
